/* graph/registry.c - the table of node types built into the library (immutable). */
#include <stddef.h>
#include <string.h>

#include <virtdsp/graph.h>

#include "dsp/dsp.h"
#include "dsp/src/src.h"
#include "endpoint/endpoint.h"

static const struct vd_node_ops *const builtin[] = {
	&vd_node_convert, &vd_node_remap, &vd_node_volume, &vd_node_mixer, &vd_node_eq,
	&vd_node_tone, &vd_node_meter, &vd_node_src,
	&vd_node_file_source, &vd_node_file_sink,
	&vd_node_alsa_source, &vd_node_alsa_sink,
	&vd_node_null_sink, &vd_node_silence_source,
	&vd_node_attach_playback, &vd_node_attach_capture,
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
