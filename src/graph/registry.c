/* graph/registry.c - the table of node types built into the library (immutable). */
#include <stddef.h>
#include <string.h>

#include <virtdsp/graph.h>

static const struct vd_node_ops *const builtin[] = {
	NULL
};

const struct vd_node_ops *const *vd_node_builtin_types(void)
{
	return builtin;
}

const struct vd_node_ops *vd_node_find_type(const char *type)
{
	for (size_t i = 0; builtin[i]; i++)
		if (strcmp(builtin[i]->type, type) == 0)
			return builtin[i];
	return NULL;
}
