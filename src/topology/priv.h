/* topology/priv.h - the in-memory form of a loaded topology, shared by parser, queries and builder. */
#ifndef VD_TOPOLOGY_PRIV_H
#define VD_TOPOLOGY_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <virtdsp/node.h>
#include <virtdsp/topology.h>

#include "arena.h"

/* String-keyed map to indices; keys are borrowed (arena strings). */
struct vd_name_map {
	struct vd_name_slot *slots;
	size_t cap, n;
};

/** Insert @key -> @value. Returns 0, 1 if @key was there (*old set), or -ENOMEM. */
int vd_name_map_put(struct vd_name_map *m, const char *key, size_t value, size_t *old);
bool vd_name_map_get(const struct vd_name_map *m, const char *key, size_t *value);
void vd_name_map_free(struct vd_name_map *m);

/* A growable property list. */
struct vd_prop_list {
	struct vd_props props;
	uint32_t cap;
};

/** Append a copy of @p (strings stay borrowed). -ENOMEM. */
int vd_prop_list_add(struct vd_prop_list *l, const struct vd_prop *p);

struct vd_topo_pipeline {
	const char *name;
	struct vd_location loc;
	uint32_t rate, period;		/* 0 = unset */
};

struct vd_topo_object {
	enum vd_topology_object_kind kind;
	const char *name;
	const char *type;		/* as written: "file", "playback", "volume" */
	const char *node_type;		/* for the graph: "file-source", "attach-playback", "volume" */
	size_t pipeline;
	struct vd_location loc;		/* of the declaration's first word */
	struct vd_prop_list props;
	uint32_t n_inputs, n_outputs;	/* links planned into and out of it */
};

struct vd_topo_end {
	const char *name;
	const char *port;		/* NULL: let the graph choose */
	struct vd_location loc;
	size_t object;			/* resolved after parsing */
};

struct vd_topo_link {
	struct vd_topo_end from, to;
};

struct vd_topology {
	struct vd_arena arena;
	const char *file;		/* for locations */
	const char *base_dir;		/* NULL: relative to the working directory */

	struct vd_topo_pipeline *pipelines;
	size_t n_pipelines, cap_pipelines;
	struct vd_name_map pipeline_names;

	struct vd_topo_object *objects;
	size_t n_objects, cap_objects;
	struct vd_name_map object_names;

	struct vd_topo_link *links;
	size_t n_links, cap_links;
};

/** Grow *@array of @elem-sized items so that it holds at least @n + 1. -ENOMEM. */
int vd_topo_reserve(void **array, size_t *cap, size_t n, size_t elem);

/**
 * Parse @len bytes of @text into the empty topology @t, then resolve links.
 * Returns 0, -EINVAL if any error was reported to @diag, or -ENOMEM.
 */
int vd_topology_parse(struct vd_topology *t, const char *text, size_t len, struct vd_diag *diag);

/** Count @e in @diag and pass it to its report callback. */
void vd_topology_report(struct vd_diag *diag, const struct vd_error *e);
/* @e is the last error a list will show (VD_TOPOLOGY_MAX_ERRORS): say why. */
void vd_topology_mark_last(struct vd_error *e);

#endif
