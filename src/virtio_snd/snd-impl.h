/* virtio_snd/snd-impl.h - the device model's private structures, shared by
 * its files: stream descriptions from the guest topology, per-stream runtime
 * state, held I/O messages, the guest-graph node types. */
#ifndef VD_VIRTIO_SND_IMPL_H
#define VD_VIRTIO_SND_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <virtdsp/attach.h>
#include <virtdsp/graph.h>
#include <virtdsp/topology.h>

#include "virtio_snd/proto.h"
#include "virtio_snd/virtio_snd.h"
#include "vhost/vhost.h"

#define SND_MAX_STREAMS		64	/* streams per guest topology */
#define SND_MAX_JACKS		64
#define SND_MAX_BUFFER_BYTES	(4u << 20)	/* largest buffer_bytes accepted */
#define SND_CTL_IOV		64	/* buffers of one control request */
#define SND_XFER_IOV		258	/* buffers of one I/O message: 1 MiB in pages + header + status */
#define SND_MAX_EVENTS		16	/* events kept while the guest has no buffer */
#define SND_RELEASE_WAIT_MS	250	/* longest wait for the processing thread */

/* ---- what the guest topology declares ---- */

struct snd_stream_info {
	char *name;			/* owned */
	uint8_t direction;		/* VIRTIO_SND_D_* */
	uint64_t formats;		/* VIRTIO_SND_PCM_FMT_* bits */
	uint64_t rates;			/* VIRTIO_SND_PCM_RATE_* bits */
	uint8_t ch_min, ch_max;
	uint8_t n_positions;		/* declared channel map (0: default for ch_max) */
	uint8_t positions[VD_MAX_CHANNELS];	/* enum vd_channel_position */
	uint8_t chmap_n;		/* what CHMAP_INFO reports */
	uint8_t chmap[VIRTIO_SND_CHMAP_MAX_SIZE];
	size_t object;			/* topology object index of the stream node */
	size_t attach;			/* ... and of its attach node */
	char *point;			/* host attach point, owned */
	bool *member;			/* objects of this stream's pipeline, by index */
};

struct snd_jack {
	unsigned stream;		/* whose attach node shows it */
	uint32_t defconf, caps;
	bool connected;
};

/* ---- control elements (ctl.c) ---- */

#define SND_MAX_CTLS		64	/* control elements per guest topology */
#define SND_CTL_TARGETS		8	/* node parameters one control element drives */
#define SND_CTL_NAME_MAX	44	/* virtio_snd_ctl_info.name, NUL included */
#define SND_CTL_ITEM_MAX	64	/* virtio_snd_ctl_enum_item */

/* wire values (virtio 1.3 §5.14.6.10) */
enum { SND_CTL_TYPE_BOOLEAN = 0, SND_CTL_TYPE_INTEGER, SND_CTL_TYPE_INTEGER64,
       SND_CTL_TYPE_ENUMERATED, SND_CTL_TYPE_BYTES, SND_CTL_TYPE_IEC958 };
enum { SND_CTL_ACCESS_READ = 0, SND_CTL_ACCESS_WRITE, SND_CTL_ACCESS_VOLATILE,
       SND_CTL_ACCESS_INACTIVE, SND_CTL_ACCESS_TLV_READ, SND_CTL_ACCESS_TLV_WRITE,
       SND_CTL_ACCESS_TLV_COMMAND };
enum { SND_CTL_EVT_MASK_VALUE = 0, SND_CTL_EVT_MASK_INFO, SND_CTL_EVT_MASK_TLV };
#define SND_CTL_HDR_SIZE	8	/* hdr, control_id */
#define SND_CTL_INFO_MIN	92	/* ctl_info where le64 is 4-byte aligned; 96 on LP64 */
#define SND_CTL_VALUE_SIZE	512

/* One node parameter a control element drives: in stream @stream's pipeline. */
struct snd_ctl_target {
	unsigned stream;
	const char *node;		/* the topology's (borrowed) */
	char *param;			/* owned */
};

/* A control element a guest topology declares. Its value lives here, in the
 * parameter's units, and is applied to every pipeline built afterwards. */
struct snd_ctl {
	char name[SND_CTL_NAME_MAX];
	struct vd_location loc;		/* of its declaration */
	enum vd_param_type ptype;
	enum vd_unit unit;
	double min, max, step;		/* the parameter's range; step: one guest integer */
	uint32_t type;			/* SND_CTL_TYPE_* */
	int32_t gmin, gmax;		/* the guest's integer range */
	char (*items)[SND_CTL_ITEM_MAX];	/* ENUMERATED, owned */
	uint32_t n_items;
	bool invert, read_only, db;
	double value;
	unsigned n_targets;
	struct snd_ctl_target targets[SND_CTL_TARGETS];
};

struct snd_topo;
struct vd_graph;
/** Read the control declarations of stream @stream's nodes from its probe graph @g. */
int vd_snd_ctl_scan(struct snd_topo *st, unsigned stream, struct vd_graph *g, struct vd_diag *diag);
/** Whether property @key of a node is a control declaration (not the node's own). */
bool vd_snd_ctl_is_decl(const char *key);
/** Set every control's value on the nodes of stream @stream's new graph @g. */
int vd_snd_ctl_apply(struct snd_topo *st, unsigned stream, struct vd_graph *g, struct vd_error *err);
void vd_snd_ctl_free(struct snd_topo *st);
/** CTL_* requests (dispatch thread): a VIRTIO_SND_S_* status, *@reply bytes after it. */
uint32_t vd_snd_ctl_handle(struct vd_snd_dev *dev, const struct vd_vhost_elem *e, uint32_t code,
			   const uint8_t *req, size_t len, uint32_t *reply);

/* ---- node types (nodes.c) ---- */

extern const struct vd_node_ops vd_snd_node_stream_source, vd_snd_node_stream_sink,
	vd_snd_node_attach_sink, vd_snd_node_attach_source;

struct snd_stream;

/* The self of a stream-source/stream-sink node. */
struct snd_stream_node {
	bool sink;
	struct snd_stream_info info;	/* parsed by init; strings owned */
	struct snd_stream *s;		/* bound stream (NULL: a probe build) */
	struct vd_audio_format fmt;	/* the stream's format in this build */
	uint32_t frame_bytes;
};

/* The self of an attach-sink/attach-source node: a FIFO of host-format frames. */
struct snd_attach_node {
	bool sink;
	char *point;			/* owned */
	int jack;			/* HDA device type, -1 if the node shows no jack */
	struct snd_stream *s;
	struct vd_audio_format fmt;	/* the host attach point's format (f32) */
	float *fifo;
	uint32_t cap, count;		/* frames; data starts at fifo[0] */
};

/* ---- guest topology (topo.c) ---- */

struct snd_topo {
	struct vd_topology *t;
	unsigned n_streams;
	struct snd_stream_info streams[SND_MAX_STREAMS];
	unsigned n_jacks;
	struct snd_jack jacks[SND_MAX_JACKS];
	unsigned n_ctls;
	struct snd_ctl *ctls;		/* SND_MAX_CTLS, allocated with the first */
};

/** Load, validate against the host graph, describe the streams. Errors go to @diag. */
int vd_snd_topo_load(struct snd_topo *st, const char *path, const char *text, size_t len,
		     struct vd_graph *host, struct vd_diag *diag);
void vd_snd_topo_free(struct snd_topo *st);
/**
 * Build stream @s's pipeline into @g (already created): the nodes of its
 * component, bound to @s (NULL: probe) with @fmt as the stream's format and
 * @host_fmt as the attach point's, and @period for the stream-side source.
 * Then vd_graph_prepare() (or vd_graph_check() for a probe).
 */
int vd_snd_topo_build(struct snd_topo *st, unsigned stream, struct vd_graph *g,
		      struct snd_stream *s, const struct vd_audio_format *fmt,
		      const struct vd_audio_format *host_fmt, uint32_t period, uint32_t host_period,
		      bool probe, struct vd_error *err);

/* ---- streams and I/O messages (stream.c) ---- */

/* One held I/O message. */
struct snd_xfer {
	struct vd_vhost_elem e;
	uint32_t payload;		/* audio bytes */
	uint32_t done;			/* bytes consumed (tx) or written (rx) */
};

/* A data queue (tx or rx) and its message slots. Processing thread only,
 * except while no feed of the device is connected. */
struct snd_xq {
	unsigned index;			/* VIRTIO_SND_VQ_TX / _RX */
	struct vd_vhost_queue *vq;
	_Atomic bool live;		/* handed over by queue_start; cleared by the stop handshake */
	bool pushed;			/* completions to flush */
	unsigned nslots;
	struct snd_xfer *slots;
	struct iovec *iov;		/* nslots * SND_XFER_IOV */
	uint16_t *free;
	unsigned nfree;
};

struct snd_params {
	uint32_t buffer_bytes, period_bytes, features;
	uint8_t channels, format, rate;
};

struct snd_stream {
	struct vd_snd_dev *dev;
	unsigned index;
	const struct snd_stream_info *info;
	struct snd_xq *xq;		/* tx for playback, rx for capture */

	/* dispatch thread */
	enum vd_snd_state state;
	bool active;			/* reported running through opts.stream_active */
	bool have_params;
	struct snd_params p;
	struct vd_graph *graph;
	struct vd_feed *feed;
	struct vd_audio_format fmt;	/* the stream's format (from p) */
	uint32_t frame_bytes;

	/* shared: written by one side, read by the other */
	_Atomic bool accepting;		/* messages for this stream are held (else IO_ERR) */
	_Atomic bool running;		/* RUNNING: consume/fill; else hold */
	_Atomic bool xrun_events;	/* EVT_XRUNS selected */
	_Atomic uint32_t xrun_pending;	/* XRUN events for the dispatch thread */
	_Atomic uint64_t st_completed, st_errors, st_frames, st_underruns, st_xruns;
	_Atomic uint32_t st_held;

	/* processing thread (set up by the dispatch thread before the feed connects) */
	struct snd_stream_node *node;	/* the stream-side node of the built graph */
	struct snd_attach_node *anode;	/* the attach-side node */
	uint16_t *fifo;			/* slot indices of held messages, xq->nslots */
	unsigned head, count;
	uint64_t held_bytes;		/* payload bytes not yet consumed/filled */
	uint32_t latency_frames;	/* the pipeline's delay, in stream frames */
	bool starved;			/* last cycle underran (XRUN once per episode) */
	bool primed;			/* the attach FIFO holds its reserve */
};

/* the request the dispatch thread hands to the processing thread */
#define SND_REQ_STOP_TX		(1u << 0)
#define SND_REQ_STOP_RX		(1u << 1)
#define SND_REQ_FORGET		(1u << 2)	/* drop held messages without completing them */

struct vd_snd_dev {
	char *name;
	struct vd_snd_options opts;
	struct snd_topo topo;
	struct vd_graph *host;
	struct vd_vhost_dev *vhost;
	int notify_fd;			/* eventfd: processing thread -> dispatch thread */
	_Atomic bool broken;

	struct snd_stream streams[SND_MAX_STREAMS];
	struct snd_xq xq[2];		/* [0] tx, [1] rx */
	unsigned connected;		/* feeds connected (dispatch thread) */

	/* dispatch -> processing handshake */
	_Atomic uint64_t req_seq, ack_seq;
	_Atomic uint32_t req_flags;
	_Atomic uint64_t req_release;	/* streams to release (bit per stream) */

	/* event queue (dispatch thread) */
	uint8_t events[SND_MAX_EVENTS][VIRTIO_SND_EVENT_SIZE];
	unsigned ev_head, ev_count;
	uint64_t ev_dropped;

	struct iovec ctl_iov[SND_CTL_IOV];
	struct iovec ev_iov[SND_CTL_IOV];
};

void vd_snd_log(struct vd_snd_dev *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int vd_snd_stream_setup(struct vd_snd_dev *dev);
void vd_snd_stream_teardown(struct vd_snd_dev *dev);
/** Report @s running or not (opts.stream_active) if that changed; -errno refuses an activation. */
int vd_snd_stream_activity(struct snd_stream *s, bool active);
/** No stream of @dev runs any more (reset, disconnect, free): report each that did. */
void vd_snd_streams_inactive(struct vd_snd_dev *dev);
/** PREPARE (dispatch thread): build, prepare, connect. Returns a VIRTIO_SND_S_* status. */
uint32_t vd_snd_stream_prepare(struct snd_stream *s);
/** RELEASE of the streams in @mask, and the queue requests in @flags. */
void vd_snd_release(struct vd_snd_dev *dev, uint64_t mask, uint32_t flags);
/** Processing-thread work at each feed callback (also called directly when safe). */
void vd_snd_service(struct vd_snd_dev *dev);
/** Flush completions of both data queues (processing thread). */
void vd_snd_flush(struct vd_snd_dev *dev);
/** Complete the head message of @s: tx status OK/IO_ERR, rx frames written. */
void vd_snd_complete_head(struct snd_stream *s, uint32_t status);
/** Queue an event (dispatch thread) and try to deliver what is queued. */
void vd_snd_event(struct vd_snd_dev *dev, uint32_t code, uint32_t data);
void vd_snd_events_flush(struct vd_snd_dev *dev);

/* format mapping */
int vd_snd_format_to_vd(uint8_t vfmt, enum vd_sample_format *fmt);
int vd_snd_format_from_vd(enum vd_sample_format fmt);
uint32_t vd_snd_rate_hz(uint8_t vrate);
uint8_t vd_snd_chmap_from_vd(uint8_t pos);

#endif
