/* vhost/vhost.h - vhost-user backend for one virtio device: protocol dispatch
 * on a connected socket, guest memory map, and split-virtqueue helpers.
 *
 * Internal to virtdsp (used by src/virtio_snd and src/daemon), so it is not
 * installed. The layer knows nothing about the device it serves: the owner
 * supplies feature bits, config space and queue handlers through
 * struct vd_vhost_ops, and owns the event loop. See docs/vhost-user.md.
 *
 * Threads and ownership (no lock on the data path):
 * - Everything except the queue helpers runs on the "dispatch thread", the
 *   one that calls vd_vhost_dispatch(); all callbacks except ->broken run there.
 * - A queue is handed to the owner by ->queue_start() and taken back by
 *   ->queue_stop(). In between, exactly one owner thread may call
 *   vd_vhost_queue_pop/push/flush/set_notification/kick_clear on it; any
 *   thread may use different queues at the same time. The owner's start/stop
 *   handshake with its thread provides the memory ordering; the layer never
 *   touches a running queue's walking state and never changes the memory
 *   table or the ring addresses while any queue runs (it stops the queues,
 *   changes, and restarts them).
 * - ->queue_stop() must return only once the owner's thread no longer
 *   touches the queue. Unless the reason is VD_VHOST_STOP_RESET it must also
 *   complete (push) every element it still holds, from the callback itself
 *   or from its thread before letting go; elements still in flight after the
 *   callback are completed with used length 0 by the layer.
 */
#ifndef VD_VHOST_VHOST_H
#define VD_VHOST_VHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vd_vhost_dev;
struct vd_vhost_queue;

#define VD_VHOST_OPS_VERSION		1
#define VD_VHOST_MAX_QUEUES		64u
#define VD_VHOST_MAX_QUEUE_SIZE		32768u
#define VD_VHOST_DEFAULT_MAX_INDIRECT	1024u
#define VD_VHOST_DEFAULT_MEM_SLOTS	32u
#define VD_VHOST_MAX_MEM_SLOTS		64u

/** Why a queue is taken back from its owner. */
enum vd_vhost_stop {
	VD_VHOST_STOP_DISABLE,	/**< SET_VRING_ENABLE 0: complete what you hold */
	VD_VHOST_STOP_BASE,	/**< GET_VRING_BASE: complete what you hold */
	VD_VHOST_STOP_REMAP,	/**< memory table, ring or feature change: complete; restarted afterwards */
	VD_VHOST_STOP_RESET,	/**< reset, disconnect or broken device: forget elements, push nothing */
};

/** Sizes of the device this backend serves. */
struct vd_vhost_params {
	unsigned num_queues;		/**< 1..VD_VHOST_MAX_QUEUES */
	unsigned max_queue_size;	/**< power of two <= 32768; larger SET_VRING_NUM is refused */
	uint32_t config_size;		/**< bytes of device config space, <= 256 */
	unsigned max_indirect;		/**< longest indirect table; 0 = VD_VHOST_DEFAULT_MAX_INDIRECT */
	unsigned mem_slots;		/**< GET_MAX_MEM_SLOTS answer; 0 = VD_VHOST_DEFAULT_MEM_SLOTS */
};

/**
 * struct vd_vhost_ops - what the owner (the device model) supplies.
 * Only ->get_features, ->queue_start and ->queue_stop are required.
 */
struct vd_vhost_ops {
	uint32_t version;	/**< VD_VHOST_OPS_VERSION */
	/** Virtio feature bits offered. Ring features the layer does not implement
	 * (packed, in-order, access-platform, ...) are removed; bit 30 is added. */
	uint64_t (*get_features)(struct vd_vhost_dev *dev);
	/** The features the driver acked (already checked against the offer). */
	void (*set_features)(struct vd_vhost_dev *dev, uint64_t features);
	/** Protocol features the owner allows (intersected with what the layer
	 * implements); NULL = all of them. CONFIG needs ->get_config. */
	uint64_t (*get_protocol_features)(struct vd_vhost_dev *dev);
	/** Fill @len bytes of config space from @offset (the range is checked
	 * against params.config_size and @buf is zeroed first). 0 or -errno. */
	int (*get_config)(struct vd_vhost_dev *dev, uint32_t offset, void *buf, uint32_t len);
	/** Queue @q is yours: pop/push it from one thread of your choice. */
	void (*queue_start)(struct vd_vhost_dev *dev, unsigned q);
	/** Give queue @q back, synchronously (see the file comment). */
	void (*queue_stop)(struct vd_vhost_dev *dev, unsigned q, enum vd_vhost_stop why);
	/** SET_STATUS from the front-end (informational). */
	void (*set_status)(struct vd_vhost_dev *dev, uint8_t status);
	/** Device reset (RESET_DEVICE or disconnect): return to the initial state.
	 * Every queue has already been stopped. */
	void (*reset)(struct vd_vhost_dev *dev);
	/** The device is broken (protocol or guest fault); detach it. May run on
	 * any thread that uses a queue helper, so it must not block. */
	void (*broken)(struct vd_vhost_dev *dev, const char *why);
	/** Diagnostics (unknown requests, refusals); dispatch thread only. */
	void (*log)(struct vd_vhost_dev *dev, const char *msg);
};

/**
 * struct vd_vhost_elem - one request popped from a queue.
 * The iovecs point into guest memory (already translated and validated);
 * the guest may change the bytes at any time, so copy before checking.
 */
struct vd_vhost_elem {
	uint16_t head;		/**< first descriptor, identifies the element for push */
	unsigned out_num;	/**< device-readable buffers: out[0..out_num) */
	unsigned in_num;	/**< device-writable buffers: in[0..in_num) */
	uint32_t out_len;	/**< total readable bytes */
	uint32_t in_len;	/**< total writable bytes */
	struct iovec *out;
	struct iovec *in;
	struct iovec *iov;	/**< caller storage, iov_max entries */
	unsigned iov_max;
};

/* ---- device and connection (dispatch thread) ---- */

/**
 * vd_vhost_dev_new() - create a backend for one device.
 * Returns 0 or -EINVAL (bad params or ops) / -ENOMEM.
 */
int vd_vhost_dev_new(const struct vd_vhost_params *params, const struct vd_vhost_ops *ops,
		     void *userdata, struct vd_vhost_dev **out);
/** Detach (if attached) and free. NULL is ignored. */
void vd_vhost_dev_free(struct vd_vhost_dev *dev);
void *vd_vhost_dev_userdata(const struct vd_vhost_dev *dev);

/**
 * vd_vhost_dev_attach() - serve the connected unix socket @fd (taken over,
 * closed by detach; set non-blocking). Returns 0, or -EBUSY if a connection
 * is attached (@fd is then left alone).
 */
int vd_vhost_dev_attach(struct vd_vhost_dev *dev, int fd);
/**
 * vd_vhost_dev_detach() - drop the connection: stop every queue
 * (VD_VHOST_STOP_RESET), call ->reset, unmap guest memory, close every fd and
 * forget negotiated state, so the next attach starts afresh.
 */
void vd_vhost_dev_detach(struct vd_vhost_dev *dev);
/** The socket to watch for input (level-triggered), or -1 when detached. */
int vd_vhost_dev_fd(const struct vd_vhost_dev *dev);

/**
 * vd_vhost_dispatch() - call when the socket is readable. Reads without
 * blocking, handles every complete message (at most 64 per call) and keeps
 * partial ones for the next call.
 * Returns 0 (keep watching), -ECONNRESET (peer closed), -EIO (device broken)
 * or -ENOTCONN (not attached). After a negative return, detach.
 */
int vd_vhost_dispatch(struct vd_vhost_dev *dev);

bool vd_vhost_dev_broken(const struct vd_vhost_dev *dev);
/** Why the device is broken ("" if it is not). */
const char *vd_vhost_dev_error(const struct vd_vhost_dev *dev);
/** Mark the device broken on the owner's behalf (e.g. a device protocol fault). */
void vd_vhost_dev_panic(struct vd_vhost_dev *dev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** Feature bits acked by SET_FEATURES (0 before). */
uint64_t vd_vhost_dev_features(const struct vd_vhost_dev *dev);
/** Protocol features negotiated by SET_PROTOCOL_FEATURES. */
uint64_t vd_vhost_dev_protocol_features(const struct vd_vhost_dev *dev);
/** Last SET_STATUS value. */
uint8_t vd_vhost_dev_status(const struct vd_vhost_dev *dev);
unsigned vd_vhost_dev_num_queues(const struct vd_vhost_dev *dev);
/** Queue @index, or NULL if out of range. */
struct vd_vhost_queue *vd_vhost_dev_queue(struct vd_vhost_dev *dev, unsigned index);

/* ---- queues (the queue's current owner thread) ---- */

unsigned vd_vhost_queue_index(const struct vd_vhost_queue *q);
/** Ring size (SET_VRING_NUM), 0 if unset. */
unsigned vd_vhost_queue_size(const struct vd_vhost_queue *q);
/** True between ->queue_start and the end of ->queue_stop. */
bool vd_vhost_queue_running(const struct vd_vhost_queue *q);
/** Kick eventfd to watch while the queue runs, or -1 (front-end asked for polling).
 * Stop watching it in ->queue_stop: it may be closed or replaced afterwards. */
int vd_vhost_queue_kick_fd(const struct vd_vhost_queue *q);
/** Consume a pending kick without blocking: 1 if there was one, 0 if not. */
int vd_vhost_queue_kick_clear(struct vd_vhost_queue *q);

/** Prepare @e to receive up to @iov_max buffers into @iov. */
void vd_vhost_elem_init(struct vd_vhost_elem *e, struct iovec *iov, unsigned iov_max);

/**
 * vd_vhost_queue_pop() - take the next available request.
 * Returns 1 with @e filled; 0 if none is available (or the queue is not
 * running or is disabled); -EBADMSG if the guest's chain was invalid or
 * -E2BIG if it needed more than @e->iov_max buffers: that request was then
 * completed with used length 0, @e->head tells which, and the reason is in
 * vd_vhost_queue_error(); popping may continue. -EIO: the device is broken
 * (ring-level fault, see vd_vhost_dev_error()); stop using the queue.
 * Never allocates, locks or logs.
 */
int vd_vhost_queue_pop(struct vd_vhost_queue *q, struct vd_vhost_elem *e);
/**
 * vd_vhost_queue_push() - complete @e, having written @len bytes into its
 * writable part (visible to the guest at the next flush).
 * Returns 0, or -EINVAL if @e is not in flight or @len exceeds @e->in_len.
 */
int vd_vhost_queue_push(struct vd_vhost_queue *q, const struct vd_vhost_elem *e, uint32_t len);
/**
 * vd_vhost_queue_flush() - publish pushed elements and signal the call fd if
 * the driver wants it (VIRTIO_RING_F_EVENT_IDX used_event, or
 * VRING_AVAIL_F_NO_INTERRUPT, or VIRTIO_F_NOTIFY_ON_EMPTY).
 * Returns 1 if signalled, 0 if not, -EINVAL if the queue is not running.
 */
int vd_vhost_queue_flush(struct vd_vhost_queue *q);
/**
 * vd_vhost_queue_set_notification() - ask the driver for kicks (default) or
 * not. After enabling, check vd_vhost_queue_pending() again before sleeping.
 */
void vd_vhost_queue_set_notification(struct vd_vhost_queue *q, bool enable);
/** Requests the driver has made available and that are not yet popped. */
unsigned vd_vhost_queue_pending(struct vd_vhost_queue *q);
/** Elements popped and not yet pushed. */
unsigned vd_vhost_queue_inflight(const struct vd_vhost_queue *q);
/** Why the last pop failed a request ("" if none did). */
const char *vd_vhost_queue_error(const struct vd_vhost_queue *q);

/* ---- byte-stream access to an element's buffers ---- */

/** Copy up to @len bytes starting @offset bytes into @iov; returns bytes copied. */
size_t vd_vhost_iov_to_buf(const struct iovec *iov, unsigned n, size_t offset, void *buf, size_t len);
/** Copy up to @len bytes into @iov starting @offset bytes in; returns bytes copied. */
size_t vd_vhost_iov_from_buf(const struct iovec *iov, unsigned n, size_t offset,
			     const void *buf, size_t len);
/** Total bytes of @iov. */
size_t vd_vhost_iov_size(const struct iovec *iov, unsigned n);

#ifdef __cplusplus
}
#endif
#endif
