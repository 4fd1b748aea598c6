/* graph/graph-impl.h - the graph's private data structures, shared by its files. */
#ifndef VD_GRAPH_IMPL_H
#define VD_GRAPH_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <virtdsp/graph.h>
#include <virtdsp/ring.h>

struct gnode;

/* A link owns the frames in flight between two ports: a linear buffer,
 * read at rd and written at wr (in frames), compacted before writing. */
struct glink {
	struct gnode *from, *to;
	uint32_t from_port, to_port;
	struct vd_location loc;
	struct vd_audio_format fmt;
	bool negotiated;
	uint8_t *buf;
	size_t frame_size;
	uint32_t capacity, rd, wr;
	bool eos;
};

struct gparam {
	char *name;		/* owned copy (node names may be transient) */
	uint32_t id;
	uint32_t flags;
	double shadow;		/* last value set through the graph */
};

struct gnode {
	char *name;
	char *pipeline;
	const struct vd_node_ops *ops;
	void *self;
	uint32_t n_in, n_out;
	struct glink **in, **out;	/* by port */
	struct vd_buffer *inb, *outb;	/* scratch descriptors for process() */
	uint32_t rate, period;
	struct vd_location loc;
	bool inserted;		/* added by negotiation, not by the user */
	bool finished;
	bool visited;
	uint32_t unsorted_in;	/* ordering: linked inputs whose node is not yet in the order */
	uint32_t n_params;
	struct gparam *params;
	/* sink statistics */
	uint64_t frames_in;
	uint64_t frames_out;	/* sources: frames produced */
	uint64_t frame_limit;	/* sources under vd_graph_run(max_seconds): frames to produce; 0 = no limit */
	float peak[VD_MAX_CHANNELS];
};

struct param_msg {
	uint32_t node;
	uint32_t id;
	double value;
};

struct vd_graph {
	struct gnode **nodes;	/* in insertion order until prepared, then in processing order */
	uint32_t n_nodes, cap_nodes;
	struct glink **links;
	uint32_t n_links, cap_links;
	const struct vd_node_ops **types;	/* per-graph registrations */
	uint32_t n_types;
	bool checked;		/* negotiated: formats known, converters inserted */
	bool prepared;		/* buffers allocated, nodes prepared */
	bool collect_stats;
	bool live;		/* VD_NODE_INIT_LIVE for every node */
	uint32_t inserted_count;
	float *scratch;		/* for sink statistics */
	uint32_t scratch_frames;
	/* control changes queued to the processing thread */
	_Atomic bool running;
	struct vd_ring param_ring;
	uint8_t *param_mem;
};

const struct vd_node_ops *vd_graph_lookup_type(const struct vd_graph *g, const char *type);
struct gnode *vd_graph_find(const struct vd_graph *g, const char *name);
int vd_graph_negotiate(struct vd_graph *g, struct vd_error *err);
int vd_graph_create_node(struct vd_graph *g, const struct vd_graph_node_desc *desc,
			 struct gnode **out, struct vd_error *err);
int vd_graph_add_link(struct vd_graph *g, struct gnode *from, uint32_t from_port,
		      struct gnode *to, uint32_t to_port, const struct vd_location *loc,
		      struct glink **out);
void vd_graph_apply_params(struct vd_graph *g);

#endif
