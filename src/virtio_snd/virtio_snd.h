/* virtio_snd/virtio_snd.h - the virtio-snd device model for one guest: its
 * streams come from a guest topology, its audio runs through attach points
 * of a host graph, and it speaks vhost-user through src/vhost.
 *
 * Internal to virtdsp (used by the daemon), not installed. The contract with
 * guests is docs/virtio-snd.md.
 *
 * Threads:
 * - The "dispatch thread" (the daemon's event loop) calls everything in this
 *   header. It serves the vhost-user socket, the control queue and the event
 *   queue, and builds/frees the guests' stream pipelines.
 * - The host graph's processing thread (whoever calls vd_graph_cycle() on
 *   it: the real-time scheduler, or a test) runs the streams' pipelines and
 *   owns the tx and rx queues: each of the device's attach-point feeds
 *   services those queues when the host graph calls it, once per cycle.
 *   There is no per-cycle hook to call.
 *
 * Daemon integration:
 *   vd_snd_dev_new(...)                  with a prepared, live host graph
 *   vd_snd_dev_attach(dev, accepted_fd)
 *   watch every fd of vd_snd_dev_fd(dev, kind) >= 0 (level-triggered); when
 *   one is readable call vd_snd_dev_handle(dev, kind). Kick fds change only
 *   inside vd_snd_dev_handle(dev, VD_SND_FD_SOCKET): re-read them after it.
 *   A negative return from handle means: vd_snd_dev_detach(dev) (then the
 *   device can be attached to the next connection).
 */
#ifndef VD_VIRTIO_SND_H
#define VD_VIRTIO_SND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <virtdsp/graph.h>
#include <virtdsp/topology.h>

#include "vhost/vhost.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vd_snd_dev;

struct vd_snd_options {
	bool controls;			/**< offer VIRTIO_SND_F_CTLS (QEMU's controls=on) */
	unsigned queue_size;		/**< largest ring accepted, power of two; 0 = 64 (QEMU's) */
	/** Guest topology text used when the path given to vd_snd_dev_new() is NULL
	 * (NULL here too: the built-in default, vd_snd_default_topology()). */
	const char *topology_text;
	size_t topology_len;
	/** Diagnostics (dispatch thread only): refused requests, faults. May be NULL. */
	void (*log)(void *data, const char *msg);
	void *log_data;
	/** A control's value changed (dispatch thread): by the guest's CTL_WRITE
	 * (@by_guest) or by vd_snd_dev_set_control(). Called after the value is
	 * stored, only when it differs from the previous one. May be NULL. */
	void (*control_changed)(void *data, unsigned id, double value, bool by_guest);
	void *control_data;
	/** Stream @stream starts running (@active: its START) or stops (STOP, its
	 * queue stopped, device reset, disconnect, or the device freed):
	 * dispatch thread, called once per change, so activations and
	 * deactivations always pair up. A -errno from an activation refuses the
	 * START (IO_ERR, the stream stays as it was); a deactivation's return is
	 * ignored. May be NULL. */
	int (*stream_active)(void *data, unsigned stream, bool active);
	void *stream_data;
};

/** The built-in guest topology (also shipped as examples/guest-default.topo). */
const char *vd_snd_default_topology(void);

/**
 * vd_snd_dev_new() - a device for one guest.
 * @name: for messages
 * @guest_topology: path of the guest topology file, or NULL (see options)
 * @host: the host graph, prepared and live (vd_graph_set_live); must outlive the device
 * @opts: may be NULL
 * @diag: receives every error in the guest topology (with its location),
 *        and a missing or mismatched host attach point
 * Returns 0, -EINVAL (topology errors, all reported), -ENOENT, -ENOMEM.
 */
int vd_snd_dev_new(const char *name, const char *guest_topology, struct vd_graph *host,
		   const struct vd_snd_options *opts, struct vd_snd_dev **dev,
		   struct vd_diag *diag);
/** Detach (if attached) and free. NULL is ignored. */
void vd_snd_dev_free(struct vd_snd_dev *dev);

/** Serve the connected socket @fd (taken over). -EBUSY if one is attached. */
int vd_snd_dev_attach(struct vd_snd_dev *dev, int fd);
/** Drop the connection: every stream is released, the guest's resources freed. */
void vd_snd_dev_detach(struct vd_snd_dev *dev);

enum vd_snd_fd_kind {
	VD_SND_FD_SOCKET,	/**< vhost-user messages */
	VD_SND_FD_CONTROL,	/**< control-queue kick */
	VD_SND_FD_EVENT,	/**< event-queue kick (buffers posted) */
	VD_SND_FD_NOTIFY,	/**< the device's own eventfd: work from the processing thread */
	VD_SND_FD_COUNT
};
/** The fd to watch for @kind, or -1 (none now). */
int vd_snd_dev_fd(const struct vd_snd_dev *dev, enum vd_snd_fd_kind kind);
/**
 * vd_snd_dev_handle() - @kind's fd is readable (or call it any time: it never
 * blocks). Returns 0, or -ECONNRESET (peer closed), -EIO (device broken),
 * -ENOTCONN (SOCKET while detached): detach.
 */
int vd_snd_dev_handle(struct vd_snd_dev *dev, enum vd_snd_fd_kind kind);

/** Jack @jack's connection changed (sends JACK_(DIS)CONNECTED). -EINVAL if no such jack. */
int vd_snd_dev_set_jack(struct vd_snd_dev *dev, uint32_t jack, bool connected);
/** The host attach point jack @jack's stream uses (the daemon maps it to host endpoints), or NULL. */
const char *vd_snd_dev_jack_point(const struct vd_snd_dev *dev, uint32_t jack);

/*
 * Control elements the guest topology declares (docs/virtio-snd.md,
 * "Controls"), by id = declaration order. Values are in the parameter's units
 * (dB, Hz, 0/1, an enumeration's index); a switch declared with `invert`
 * is 1 = on (parameter false). Host-side changes apply to the guest's
 * pipelines and, when the guest was offered controls and sees the value
 * change, send it CTL_NOTIFY. The guest may not write `read_only` ones; the
 * host may.
 */
unsigned vd_snd_dev_control_count(const struct vd_snd_dev *dev);
/** The id of control @name, or -ENOENT. */
int vd_snd_dev_control_find(const struct vd_snd_dev *dev, const char *name);
/** -ENOENT (no such id), -ERANGE (outside the parameter's range, or not a whole
 * number for a switch, integer or enumeration), -EAGAIN (a pipeline's queue to
 * the processing thread is full: the value is kept and applied at the next PREPARE). */
int vd_snd_dev_set_control(struct vd_snd_dev *dev, unsigned id, double value);
int vd_snd_dev_get_control(const struct vd_snd_dev *dev, unsigned id, double *value);

/** What a control is, for host-side clients (`virtdsp ctl`). */
struct vd_snd_control_info {
	const char *name;		/**< the guest's ALSA name */
	enum vd_param_type type;	/**< of the node parameter behind it */
	enum vd_unit unit;
	double min, max, step;		/**< in the parameter's units; step: one guest integer */
	bool read_only;			/**< for the guest (the host may write it) */
	bool db;			/**< offered with a dB-scale TLV */
	unsigned n_items;		/**< enumerations: items (vd_snd_dev_control_item) */
	unsigned n_targets;		/**< node parameters it drives */
};
/** -ENOENT if no such id. Strings live as long as the device. */
int vd_snd_dev_control_info(const struct vd_snd_dev *dev, unsigned id, struct vd_snd_control_info *info);
/** Item @item of enumeration control @id, or NULL. */
const char *vd_snd_dev_control_item(const struct vd_snd_dev *dev, unsigned id, unsigned item);

unsigned vd_snd_dev_stream_count(const struct vd_snd_dev *dev);
unsigned vd_snd_dev_jack_count(const struct vd_snd_dev *dev);
/** Whether jack @jack is connected now: 0 or -EINVAL (no such jack). */
int vd_snd_dev_jack_state(const struct vd_snd_dev *dev, uint32_t jack, bool *connected);
/** The parsed guest topology (its objects: pipelines, nodes, endpoints), for `virtdsp ctl`. */
const struct vd_topology *vd_snd_dev_topology(const struct vd_snd_dev *dev);

enum vd_snd_state {
	VD_SND_STATE_NONE,		/**< no parameters yet */
	VD_SND_STATE_PARAMS,		/**< SET_PARAMS done */
	VD_SND_STATE_PREPARED,
	VD_SND_STATE_RUNNING,
	VD_SND_STATE_STOPPED,
	VD_SND_STATE_RELEASED,
};

struct vd_snd_stream_stats {
	enum vd_snd_state state;
	const char *name;		/**< the stream node's name in the guest topology */
	bool capture;			/**< rx (capture) rather than tx (playback) */
	bool have_params;		/**< SET_PARAMS done: the fields below are valid */
	enum vd_sample_format format;
	uint32_t rate, channels;
	uint32_t period_frames, buffer_frames;
	uint32_t latency_frames;	/**< the pipeline's delay once prepared, stream frames */
	uint64_t xruns;			/**< underrun episodes (what XRUN events report) */
	uint64_t completed;		/**< I/O messages completed OK */
	uint64_t errors;		/**< I/O messages completed with IO_ERR */
	uint64_t frames;		/**< frames played (tx) or captured into buffers (rx) */
	uint64_t underruns;		/**< cycles a running stream had no data (tx) / no buffer (rx) */
	uint32_t held;			/**< messages held now (processing thread's view) */
	char description[256];		/**< the stream's pipeline once prepared (vd_graph_describe) */
};
/** Stream @index's state (cheap: for change detection after each handle), or NONE if no such stream. */
enum vd_snd_state vd_snd_dev_stream_state(const struct vd_snd_dev *dev, unsigned index);
/** State and counters of stream @index (dispatch thread; the counters are read
 * atomically while the processing thread runs). -EINVAL if no such stream. */
int vd_snd_dev_stream_stats(struct vd_snd_dev *dev, unsigned index, struct vd_snd_stream_stats *st);

/** The vhost-user backend underneath (tests, diagnostics). */
struct vd_vhost_dev *vd_snd_dev_vhost(struct vd_snd_dev *dev);

/* ---- parsers, exposed for the fuzzer ---- */

/**
 * vd_snd_ctl_request() - handle one control-queue request @e (dispatch
 * thread): parse its readable part, act, write the reply into its writable
 * part. Returns the used length (0 if the writable part cannot even hold a
 * status).
 */
uint32_t vd_snd_ctl_request(struct vd_snd_dev *dev, const struct vd_vhost_elem *e);

/**
 * vd_snd_xfer_check() - validate an I/O message of queue @q (VIRTIO_SND_VQ_TX
 * or _RX) against the streams' parameters. Returns the stream id, or -1 if
 * the message is malformed (it would be completed with IO_ERR at once), or
 * -2 if it cannot even carry a status; *@payload = audio bytes.
 */
int vd_snd_xfer_check(const struct vd_snd_dev *dev, unsigned q, const struct vd_vhost_elem *e,
		      uint32_t *payload);

#ifdef __cplusplus
}
#endif
#endif
