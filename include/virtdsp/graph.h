/* virtdsp/graph.h - processing graphs: nodes, links, negotiation, scheduling.
 *
 * Build a graph by adding nodes (each is init'ed at once, so property errors
 * surface per node) and links, then vd_graph_prepare() checks every port is
 * connected, orders the nodes (rejecting cycles), negotiates formats link by
 * link (inserting convert/src nodes where needed), and allocates buffers.
 * After that the graph is run by the offline scheduler (vd_graph_run) or
 * cycle by cycle by a real-time driver (vd_graph_cycle).
 */
#ifndef VIRTDSP_GRAPH_H
#define VIRTDSP_GRAPH_H

#include <stdint.h>
#include <virtdsp/error.h>
#include <virtdsp/node.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vd_graph;

/** The node types built into the library, NULL-terminated. */
const struct vd_node_ops *const *vd_node_builtin_types(void);
/** A built-in type by name, or NULL. */
const struct vd_node_ops *vd_node_find_type(const char *type);

int vd_graph_new(struct vd_graph **g);
void vd_graph_free(struct vd_graph *g);
/** Make @ops available to this graph's vd_graph_add_node() (overrides a built-in of the same name). */
int vd_graph_register_type(struct vd_graph *g, const struct vd_node_ops *ops);

struct vd_graph_node_desc {
	const char *name;		/**< unique in the graph */
	const char *type;
	struct vd_props *props;		/**< may be NULL; unused keys are errors */
	const char *pipeline;		/**< may be NULL */
	uint32_t rate;			/**< the pipeline's rate, 0 = take the sources' */
	uint32_t period;		/**< frames per cycle for sources; 0 = 1024 */
	uint32_t n_inputs, n_outputs;	/**< links planned, for variable-port nodes */
	const char *base_dir;
	struct vd_location loc;
};

/** Create and init a node. -EEXIST, -ENOENT (unknown type), -EINVAL (properties). */
int vd_graph_add_node(struct vd_graph *g, const struct vd_graph_node_desc *desc,
		      struct vd_error *err);

/**
 * Link @from:@from_port to @to:@to_port. A NULL port means the node's only
 * (or first unlinked) port. Ports are "out"/"in" on single-port nodes and
 * "out0".."outN"/"in0".."inN" (and "0".."N") otherwise.
 */
int vd_graph_link(struct vd_graph *g, const char *from, const char *from_port,
		  const char *to, const char *to_port, const struct vd_location *loc,
		  struct vd_error *err);

/**
 * Everything prepare checks, without side effects: connectivity, order,
 * format negotiation with converter insertion (so vd_graph_describe() shows
 * the final graph). Nothing is allocated for audio, no file is created, no
 * device configured. Nodes can no longer be added afterwards.
 */
int vd_graph_check(struct vd_graph *g, struct vd_error *err);
/**
 * Report every unconnected port ("input v:in is not connected", at the node's
 * location) through @report (may be NULL) and return how many there are.
 * Prepare stops at the first; a validator calls this first to list them all.
 */
unsigned vd_graph_unconnected(const struct vd_graph *g,
			      void (*report)(void *data, const struct vd_error *e), void *data);
/**
 * Is there a cycle among the links made so far (ports may still be
 * unconnected)? -ELOOP with "links form a cycle: a -> b -> a" at the
 * cycle's first link, or 0. Prepare finds the same cycle; a validator
 * calls this to report it in the same run as unconnected ports.
 */
int vd_graph_find_cycle(struct vd_graph *g, struct vd_error *err);
/** vd_graph_check(), then allocate link buffers and prepare every node (files, devices). */
int vd_graph_prepare(struct vd_graph *g, struct vd_error *err);

/** Parameters: by node name and parameter name. Queued to the processing thread while running. */
int vd_graph_set_param(struct vd_graph *g, const char *node, const char *param, double value);
int vd_graph_get_param(struct vd_graph *g, const char *node, const char *param, double *value);

/** Per-sink report of a run. */
struct vd_sink_stats {
	const char *name;
	struct vd_audio_format format;	/**< what the sink received */
	uint64_t frames;
	float peak[VD_MAX_CHANNELS];	/**< linear, full scale = 1 */
};

struct vd_run_stats {
	uint64_t cycles;
	uint64_t source_frames;		/**< frames produced by all sources */
	double seconds;			/**< wall time */
	double audio_seconds;		/**< longest sink output in seconds */
	int stopped;			/**< vd_run_options.stop ended the sources early */
};

/** Progress callback: frames produced by the sources so far, and in all (-1 if unknown). */
typedef void (*vd_progress_fn)(void *data, int64_t done, int64_t total);

struct vd_run_options {
	vd_progress_fn progress;	/**< may be NULL */
	void *data;
	double max_seconds;		/**< end the sources after this much audio (0: when they end) */
	/** Polled between cycles (every 64, like progress); non-zero ends every source
	 * where it stands, the rest of the graph drains and the run returns 0 with
	 * stats->stopped set. May be NULL. */
	int (*stop)(void *data);
};

/**
 * Offline scheduler: run until every source has ended and every node has
 * drained, as fast as possible. Deterministic: the same inputs give
 * bit-identical outputs. With max_seconds, every source produces exactly
 * round(max_seconds * its rate) frames (fewer if it ends first), then EOS; the
 * rest of the graph drains normally, and progress counts toward that limit.
 * @opts may be NULL. Returns 0 or -errno (with @err).
 */
int vd_graph_run(struct vd_graph *g, const struct vd_run_options *opts,
		 struct vd_run_stats *stats, struct vd_error *err);

/** Name of the first source that never ends by itself (total_frames() < 0), or NULL. */
const char *vd_graph_endless_source(const struct vd_graph *g);

/** One period of work (real-time drivers). Returns 1 when everything has ended, 0, or -errno. */
int vd_graph_cycle(struct vd_graph *g);

uint32_t vd_graph_sink_count(const struct vd_graph *g);
int vd_graph_sink_stats(const struct vd_graph *g, uint32_t index, struct vd_sink_stats *stats);

/** Rewind: reset every node (history, EOS), as at the start. */
void vd_graph_reset(struct vd_graph *g);

/** Textual description of the prepared graph (nodes in order, formats per link, inserted nodes). */
int vd_graph_describe(const struct vd_graph *g, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
