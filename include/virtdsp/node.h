/* virtdsp/node.h - the processing-node contract, node properties and parameters.
 *
 * A node type is a const struct vd_node_ops (SPA-style versioned method
 * table). Its life: init (parse properties, decide port counts) ->
 * negotiate (formats, forward through the graph) -> prepare (allocate) ->
 * process ... -> reset -> free.
 *
 * Threading: process(), reset() and set_param() run on the processing
 * thread only and never allocate, lock or log. get_param() on a parameter
 * flagged VD_PARAM_VOLATILE may be called from any thread and must read
 * atomically; other parameters are read on the processing thread (the
 * graph queues control changes to it).
 */
#ifndef VIRTDSP_NODE_H
#define VIRTDSP_NODE_H

#include <stdbool.h>
#include <stdint.h>
#include <virtdsp/error.h>
#include <virtdsp/format.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- properties: the `key = value` pairs a topology gives a node ---- */

enum vd_prop_type {
	VD_PROP_NUMBER,		/**< num + unit */
	VD_PROP_STRING,		/**< "quoted" */
	VD_PROP_IDENT,		/**< bare word: true, false, s16, peaking, ... */
};

struct vd_prop {
	const char *key;	/**< nested objects and lists flatten to "band1.gain", "map.0" */
	enum vd_prop_type type;
	const char *str;	/**< STRING/IDENT text; NUMBER: text as written */
	double num;		/**< NUMBER as written, before unit scaling */
	const char *unit;	/**< NUMBER suffix as written ("", "dB", "kHz", "ms", ...) */
	struct vd_location loc;
	bool used;		/**< set by the lookups below; unused keys are errors */
};

struct vd_props {
	struct vd_prop *items;
	uint32_t n;
	struct vd_location loc;	/**< of the declaration that owns them */
};

enum vd_unit {
	VD_UNIT_NONE,		/**< a plain number */
	VD_UNIT_DB,		/**< "dB" or plain */
	VD_UNIT_HZ,		/**< "Hz", "kHz" or plain (Hz) */
	VD_UNIT_SECONDS,	/**< "s", "ms", "us" or plain (s) */
};

/*
 * Lookups. Each marks the property used and returns 0 when the key is
 * absent (leaving *out untouched, so preset the default) or present and
 * valid; -EINVAL, with @err naming the key, its location and what was
 * expected, when present and invalid.
 */
const struct vd_prop *vd_props_find(struct vd_props *p, const char *key);
int vd_props_number(struct vd_props *p, const char *key, enum vd_unit unit,
		    double min, double max, double *out, struct vd_error *err);
int vd_props_uint(struct vd_props *p, const char *key, uint32_t min, uint32_t max,
		  uint32_t *out, struct vd_error *err);
int vd_props_bool(struct vd_props *p, const char *key, bool *out, struct vd_error *err);
int vd_props_string(struct vd_props *p, const char *key, const char **out, struct vd_error *err);
/** @names is NULL-terminated; *out is the index. */
int vd_props_enum(struct vd_props *p, const char *key, const char *const *names,
		  int *out, struct vd_error *err);
int vd_props_format(struct vd_props *p, const char *key, enum vd_sample_format *out,
		    struct vd_error *err);
/** -EINVAL naming the first property no lookup used ("unknown property 'x' for volume"). */
int vd_props_check_unused(const struct vd_props *p, const char *node_type, struct vd_error *err);

/* ---- run-time parameters ---- */

enum vd_param_type { VD_PARAM_BOOL, VD_PARAM_INT, VD_PARAM_FLOAT, VD_PARAM_ENUM };

#define VD_PARAM_READ		(1u << 0)
#define VD_PARAM_WRITE		(1u << 1)	/**< may change while running */
#define VD_PARAM_VOLATILE	(1u << 2)	/**< changes by itself (meters); atomic reads */

struct vd_param_info {
	uint32_t id;
	const char *name;	/**< same spelling as the topology property */
	enum vd_param_type type;
	uint32_t flags;
	enum vd_unit unit;
	double min, max, step, def;
	const char *const *items;	/**< ENUM item names */
	uint32_t n_items;
};

/* ---- buffers and the node contract ---- */

/** A run of interleaved frames. */
struct vd_buffer {
	void *data;
	uint32_t frames;	/**< in: available (inputs) / room (outputs); out: consumed / produced */
	uint32_t flags;
};
/** Input: nothing follows these frames. Output: the node has finished (drained). */
#define VD_BUFFER_EOS (1u << 0)

struct vd_node_init {
	const char *name;		/**< instance name, for messages */
	struct vd_props *props;
	uint32_t n_inputs;		/**< links into the node; hint for variable-port nodes */
	uint32_t n_outputs;		/**< links out of the node */
	uint32_t rate;			/**< the pipeline's rate, 0 if unset */
	uint32_t period;		/**< the pipeline's period in frames */
	const char *base_dir;		/**< for relative paths (the topology's directory), may be NULL */
	uint32_t flags;			/**< VD_NODE_INIT_* */
};

/** The graph is driven in real time (a daemon): attach points are buses, inputs never "end at once". */
#define VD_NODE_INIT_LIVE (1u << 0)

/** Node type flags. */
#define VD_NODE_SOURCE		(1u << 0)	/**< no inputs; produces on its own */
#define VD_NODE_SINK		(1u << 1)	/**< no outputs; consumes */
#define VD_NODE_ENDPOINT	(1u << 2)	/**< touches the outside world (file, device) */

#define VD_NODE_OPS_VERSION 1

struct vd_node_ops {
	uint32_t version;
	const char *type;	/**< name in topologies: "volume", "eq", "file", ... */
	const char *summary;
	uint32_t flags;

	/**
	 * Parse @init->props (through the vd_props_* lookups), allocate, and
	 * say how many ports the node has. Unknown properties are reported by
	 * the caller afterwards (vd_props_check_unused). Returns 0 or -errno.
	 */
	int (*init)(const struct vd_node_init *init, void **self,
		    uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err);
	void (*free)(void *self);

	/**
	 * On entry @in holds what upstream offers (after the graph's rate
	 * rule). The node may rewrite any in[i] to what it needs (the graph
	 * then inserts format/channel/rate conversion) and must fill out[].
	 * Returns 0, or -EINVAL with @err saying why no format will do.
	 */
	int (*negotiate)(void *self, struct vd_audio_format *in, uint32_t n_in,
			 struct vd_audio_format *out, uint32_t n_out, struct vd_error *err);

	/** Allocate for these final formats; at most @max_frames per buffer per call. */
	int (*prepare)(void *self, const struct vd_audio_format *in, uint32_t n_in,
		       const struct vd_audio_format *out, uint32_t n_out,
		       uint32_t max_frames, struct vd_error *err);

	/**
	 * Move audio. Consume what it can of in[] and produce what fits in
	 * out[]; report through .frames. Must make progress whenever it can.
	 * Sources get n_in = 0, sinks n_out = 0. Returns 0 or -errno (a fatal
	 * stream error, e.g. a device failure).
	 */
	int (*process)(void *self, struct vd_buffer *in, uint32_t n_in,
		       struct vd_buffer *out, uint32_t n_out);

	/** Forget stream state (history, ramps, EOS), keep parameters. Optional. */
	void (*reset)(void *self);

	/** Describe parameter @index; -ENOENT past the last. Optional. */
	int (*enum_params)(void *self, uint32_t index, struct vd_param_info *info);
	int (*set_param)(void *self, uint32_t id, double value);
	int (*get_param)(void *self, uint32_t id, double *value);

	/** Delay from input to output in output frames. Optional (0). */
	uint32_t (*latency)(void *self);
	/** Frames a source will produce in all, or -1 if unknown. Optional. */
	int64_t (*total_frames)(void *self);
};

#ifdef __cplusplus
}
#endif
#endif
