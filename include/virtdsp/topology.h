/* virtdsp/topology.h - topology files: parse, validate, build a graph.
 *
 * The format is specified in docs/topology.md. Every problem found is
 * reported through a struct vd_diag as "file:line:column: message"; the
 * parser recovers and continues so one run lists every error it can.
 */
#ifndef VIRTDSP_TOPOLOGY_H
#define VIRTDSP_TOPOLOGY_H

#include <stddef.h>
#include <virtdsp/error.h>
#include <virtdsp/graph.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Receives every error; @report may be NULL (errors are then only counted). */
struct vd_diag {
	void (*report)(void *data, const struct vd_error *e);
	void *data;
	unsigned count;
};

struct vd_topology;

/** Parse @path. Returns 0 or -errno (-EINVAL: syntax errors, all reported to @diag). */
int vd_topology_load_file(const char *path, struct vd_topology **t, struct vd_diag *diag);
/** Parse @len bytes of @text; @name is used in messages. */
int vd_topology_load_string(const char *text, size_t len, const char *name,
			    struct vd_topology **t, struct vd_diag *diag);
void vd_topology_free(struct vd_topology *t);

/** Endpoints (sources, sinks) and attach points, for CLIs and daemons. */
enum vd_topology_object_kind { VD_TOPO_SOURCE, VD_TOPO_SINK, VD_TOPO_ATTACH, VD_TOPO_NODE };
struct vd_topology_object {
	enum vd_topology_object_kind kind;
	const char *name;
	const char *type;		/**< "file", "alsa", "null", "playback"... */
	const char *pipeline;
	struct vd_location loc;
};
size_t vd_topology_object_count(const struct vd_topology *t);
int vd_topology_object(const struct vd_topology *t, size_t index, struct vd_topology_object *obj);

/**
 * Override an endpoint's `path` (what `virtdsp run --input/--output NAME=FILE`
 * does). A relative @path is taken relative to the current directory (it is
 * made absolute here when the topology was loaded from a file, whose own
 * paths are relative to its directory). -ENOENT if no source/sink/attach
 * point is called @name.
 */
int vd_topology_set_path(struct vd_topology *t, const char *name, const char *path);

/**
 * Semantic validation and graph construction in one pass: unknown types,
 * bad properties, unknown nodes/ports in links, unconnected ports, cycles,
 * formats that cannot be converted. Every error goes to @diag; returns
 * -EINVAL if there was any. The graph borrows @t's locations (and nodes
 * may keep property strings): free @t only after @g.
 */
int vd_topology_build(struct vd_topology *t, struct vd_graph *g, struct vd_diag *diag);
/** The same validation, ending with vd_graph_check(): no file is created, no device configured. */
int vd_topology_check(struct vd_topology *t, struct vd_graph *g, struct vd_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
