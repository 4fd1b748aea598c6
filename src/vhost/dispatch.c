/* vhost/dispatch.c - the vhost-user device: connection, message framing and
 * validation, feature negotiation, config space, memory table and vring
 * setup, and the queue start/stop hand-over to the owner. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vhost/vhost-impl.h"

#define MAX_MESSAGES_PER_DISPATCH 64

/* Transport features the walker does not implement; never offered. */
#define UNSUPPORTED_TRANSPORT ((1ull << VD_VHOST_F_ACCESS_PLATFORM) | (1ull << VD_VHOST_F_RING_PACKED) | \
	(1ull << VD_VHOST_F_IN_ORDER) | (1ull << VD_VHOST_F_SR_IOV) | \
	(1ull << VD_VHOST_F_NOTIFICATION_DATA) | (1ull << VD_VHOST_F_NOTIF_CONFIG_DATA) | \
	(1ull << VD_VHOST_F_RING_RESET) | (1ull << VD_VHOST_F_ADMIN_VQ) | \
	(1ull << 26) /* VHOST_F_LOG_ALL: no migration logging */)

#define SUPPORTED_PROTOCOL ((1ull << VD_VHOST_PF_MQ) | (1ull << VD_VHOST_PF_REPLY_ACK) | \
	(1ull << VD_VHOST_PF_CONFIG) | (1ull << VD_VHOST_PF_RESET_DEVICE) | \
	(1ull << VD_VHOST_PF_CONFIGURE_MEM_SLOTS) | (1ull << VD_VHOST_PF_STATUS))

enum { BROKEN_NO, BROKEN_CLAIMED, BROKEN_YES };

struct vd_vhost_dev {
	struct vd_vhost_params p;
	const struct vd_vhost_ops *ops;
	void *userdata;
	int fd;

	_Atomic int broken;
	char error[256];

	uint64_t features;
	bool features_set;
	uint64_t protocol;
	bool protocol_set;
	uint8_t status;

	struct vd_vhost_mem mem;
	struct vd_vhost_queue *queues;

	/* the message being received */
	union {
		struct vd_vhost_msg_hdr hdr;
		uint8_t buf[VD_VHOST_HDR_SIZE + VD_VHOST_MAX_PAYLOAD];
	} rx;
	size_t have;
	int fds[VD_VHOST_MAX_FDS];
	unsigned nfds;
	bool fd_overflow;
};

/* ---- errors and logging ---- */

static bool claim_broken(struct vd_vhost_dev *dev)
{
	int expected = BROKEN_NO;

	return atomic_compare_exchange_strong(&dev->broken, &expected, BROKEN_CLAIMED);
}

static void publish_broken(struct vd_vhost_dev *dev)
{
	atomic_store_explicit(&dev->broken, BROKEN_YES, memory_order_release);
	if (dev->ops->broken)
		dev->ops->broken(dev, dev->error);
}

void vd_vhost_dev_fail_static(struct vd_vhost_dev *dev, const char *why)
{
	size_t n;

	if (!claim_broken(dev))
		return;
	n = strnlen(why, sizeof(dev->error) - 1);
	memcpy(dev->error, why, n);
	dev->error[n] = '\0';
	publish_broken(dev);
}

static int __attribute__((format(printf, 2, 0))) vfail(struct vd_vhost_dev *dev, const char *fmt, va_list ap)
{
	if (claim_broken(dev)) {
		vsnprintf(dev->error, sizeof(dev->error), fmt, ap);
		publish_broken(dev);
	}
	return -EIO;
}

static int __attribute__((format(printf, 2, 3))) fail(struct vd_vhost_dev *dev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(dev, fmt, ap);
	va_end(ap);
	return -EIO;
}

void vd_vhost_dev_panic(struct vd_vhost_dev *dev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(dev, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 2, 3))) logmsg(struct vd_vhost_dev *dev, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (!dev->ops->log)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	dev->ops->log(dev, buf);
}

static bool is_broken(const struct vd_vhost_dev *dev)
{
	return atomic_load_explicit(&dev->broken, memory_order_acquire) != BROKEN_NO;
}

static const char *request_name(uint32_t req)
{
	static const char *const names[VD_VHOST_REQ_MAX] = {
		[VD_VHOST_REQ_GET_FEATURES] = "GET_FEATURES",
		[VD_VHOST_REQ_SET_FEATURES] = "SET_FEATURES",
		[VD_VHOST_REQ_SET_OWNER] = "SET_OWNER",
		[VD_VHOST_REQ_RESET_OWNER] = "RESET_OWNER",
		[VD_VHOST_REQ_SET_MEM_TABLE] = "SET_MEM_TABLE",
		[VD_VHOST_REQ_SET_LOG_BASE] = "SET_LOG_BASE",
		[VD_VHOST_REQ_SET_LOG_FD] = "SET_LOG_FD",
		[VD_VHOST_REQ_SET_VRING_NUM] = "SET_VRING_NUM",
		[VD_VHOST_REQ_SET_VRING_ADDR] = "SET_VRING_ADDR",
		[VD_VHOST_REQ_SET_VRING_BASE] = "SET_VRING_BASE",
		[VD_VHOST_REQ_GET_VRING_BASE] = "GET_VRING_BASE",
		[VD_VHOST_REQ_SET_VRING_KICK] = "SET_VRING_KICK",
		[VD_VHOST_REQ_SET_VRING_CALL] = "SET_VRING_CALL",
		[VD_VHOST_REQ_SET_VRING_ERR] = "SET_VRING_ERR",
		[VD_VHOST_REQ_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
		[VD_VHOST_REQ_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
		[VD_VHOST_REQ_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
		[VD_VHOST_REQ_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
		[VD_VHOST_REQ_SEND_RARP] = "SEND_RARP",
		[VD_VHOST_REQ_NET_SET_MTU] = "NET_SET_MTU",
		[VD_VHOST_REQ_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
		[VD_VHOST_REQ_IOTLB_MSG] = "IOTLB_MSG",
		[VD_VHOST_REQ_SET_VRING_ENDIAN] = "SET_VRING_ENDIAN",
		[VD_VHOST_REQ_GET_CONFIG] = "GET_CONFIG",
		[VD_VHOST_REQ_SET_CONFIG] = "SET_CONFIG",
		[VD_VHOST_REQ_CREATE_CRYPTO_SESSION] = "CREATE_CRYPTO_SESSION",
		[VD_VHOST_REQ_CLOSE_CRYPTO_SESSION] = "CLOSE_CRYPTO_SESSION",
		[VD_VHOST_REQ_POSTCOPY_ADVISE] = "POSTCOPY_ADVISE",
		[VD_VHOST_REQ_POSTCOPY_LISTEN] = "POSTCOPY_LISTEN",
		[VD_VHOST_REQ_POSTCOPY_END] = "POSTCOPY_END",
		[VD_VHOST_REQ_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
		[VD_VHOST_REQ_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
		[VD_VHOST_REQ_GPU_SET_SOCKET] = "GPU_SET_SOCKET",
		[VD_VHOST_REQ_RESET_DEVICE] = "RESET_DEVICE",
		[VD_VHOST_REQ_VRING_KICK] = "VRING_KICK",
		[VD_VHOST_REQ_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
		[VD_VHOST_REQ_ADD_MEM_REG] = "ADD_MEM_REG",
		[VD_VHOST_REQ_REM_MEM_REG] = "REM_MEM_REG",
		[VD_VHOST_REQ_SET_STATUS] = "SET_STATUS",
		[VD_VHOST_REQ_GET_STATUS] = "GET_STATUS",
	};

	return req < VD_VHOST_REQ_MAX && names[req] ? names[req] : "unknown request";
}

/* ---- creation ---- */

int vd_vhost_dev_new(const struct vd_vhost_params *params, const struct vd_vhost_ops *ops,
		     void *userdata, struct vd_vhost_dev **out)
{
	struct vd_vhost_dev *dev;
	unsigned words;

	*out = NULL;
	if (!params || !ops || ops->version != VD_VHOST_OPS_VERSION || !ops->get_features ||
	    !ops->queue_start || !ops->queue_stop)
		return -EINVAL;
	if (params->num_queues == 0 || params->num_queues > VD_VHOST_MAX_QUEUES ||
	    params->max_queue_size == 0 || params->max_queue_size > VD_VHOST_MAX_QUEUE_SIZE ||
	    (params->max_queue_size & (params->max_queue_size - 1)) ||
	    params->config_size > VD_VHOST_MAX_CONFIG_SIZE ||
	    params->mem_slots > VD_VHOST_MAX_MEM_SLOTS ||
	    (params->mem_slots && params->mem_slots < VD_VHOST_MEM_TABLE_REGIONS))
		return -EINVAL;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->p = *params;
	if (!dev->p.max_indirect)
		dev->p.max_indirect = VD_VHOST_DEFAULT_MAX_INDIRECT;
	if (!dev->p.mem_slots)
		dev->p.mem_slots = VD_VHOST_DEFAULT_MEM_SLOTS;
	dev->ops = ops;
	dev->userdata = userdata;
	dev->fd = -1;
	atomic_init(&dev->broken, BROKEN_NO);
	dev->queues = calloc(params->num_queues, sizeof(*dev->queues));
	if (!dev->queues)
		goto err_dev;
	words = (params->max_queue_size + 63) / 64;
	for (unsigned i = 0; i < params->num_queues; i++) {
		struct vd_vhost_queue *q = &dev->queues[i];

		q->dev = dev;
		q->dev_broken = &dev->broken;
		q->index = i;
		q->kick_fd = -1;
		atomic_init(&q->call_fd, -1);
		atomic_init(&q->err_fd, -1);
		q->mem = &dev->mem;
		q->max_indirect = dev->p.max_indirect;
		q->error = "";
		q->inflight_map = calloc(words, sizeof(uint64_t));
		if (!q->inflight_map)
			goto err_queues;
	}
	*out = dev;
	return 0;

err_queues:
	for (unsigned i = 0; i < params->num_queues; i++)
		free(dev->queues[i].inflight_map);
	free(dev->queues);
err_dev:
	free(dev);
	return -ENOMEM;
}

void vd_vhost_dev_free(struct vd_vhost_dev *dev)
{
	if (!dev)
		return;
	vd_vhost_dev_detach(dev);
	for (unsigned i = 0; i < dev->p.num_queues; i++)
		free(dev->queues[i].inflight_map);
	free(dev->queues);
	free(dev);
}

/* ---- accessors ---- */

void *vd_vhost_dev_userdata(const struct vd_vhost_dev *dev) { return dev->userdata; }
int vd_vhost_dev_fd(const struct vd_vhost_dev *dev) { return dev->fd; }
bool vd_vhost_dev_broken(const struct vd_vhost_dev *dev) { return is_broken(dev); }
uint64_t vd_vhost_dev_features(const struct vd_vhost_dev *dev) { return dev->features; }
uint64_t vd_vhost_dev_protocol_features(const struct vd_vhost_dev *dev) { return dev->protocol; }
uint8_t vd_vhost_dev_status(const struct vd_vhost_dev *dev) { return dev->status; }
unsigned vd_vhost_dev_num_queues(const struct vd_vhost_dev *dev) { return dev->p.num_queues; }

const char *vd_vhost_dev_error(const struct vd_vhost_dev *dev)
{
	if (atomic_load_explicit(&dev->broken, memory_order_acquire) != BROKEN_YES)
		return "";
	return dev->error;
}

struct vd_vhost_queue *vd_vhost_dev_queue(struct vd_vhost_dev *dev, unsigned index)
{
	return index < dev->p.num_queues ? &dev->queues[index] : NULL;
}

unsigned vd_vhost_queue_index(const struct vd_vhost_queue *q) { return q->index; }
unsigned vd_vhost_queue_size(const struct vd_vhost_queue *q) { return q->num; }
bool vd_vhost_queue_running(const struct vd_vhost_queue *q) { return q->running; }
int vd_vhost_queue_kick_fd(const struct vd_vhost_queue *q) { return q->kick_fd; }

int vd_vhost_queue_kick_clear(struct vd_vhost_queue *q)
{
	uint64_t v;

	if (q->kick_fd < 0)
		return 0;
	return read(q->kick_fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

/* ---- fds ---- */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void close_atomic_fd(_Atomic int *slot)
{
	int fd = atomic_exchange(slot, -1);

	if (fd >= 0)
		close(fd);
}

/* Take the i-th received fd out of the message (the rest get closed). */
static int take_fd(struct vd_vhost_dev *dev, unsigned i)
{
	int fd = dev->fds[i];

	dev->fds[i] = -1;
	return fd;
}

/*
 * Install @fd (or -1) as an event fd the walker may be writing to right now.
 * A running queue keeps the same fd number and dup3() swaps the file under
 * it, so a concurrent write() never hits a closed or reused number.
 */
static int replace_event_fd(_Atomic int *slot, int fd, bool running)
{
	int old = atomic_load(slot);

	if (!running || old < 0) {
		atomic_store(slot, fd);
		if (old >= 0)
			close(old);
		return 0;
	}
	if (fd < 0) {
		/* Polling requested: point the number at an eventfd nobody reads. */
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd < 0)
			return -errno;
	}
	if (dup3(fd, old, O_CLOEXEC) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	close(fd);
	return 0;
}

/* ---- queue state machine (dispatch thread) ---- */

static bool protocol_mode(const struct vd_vhost_dev *dev)
{
	return dev->protocol_set || (dev->features >> VD_VHOST_F_PROTOCOL_FEATURES) & 1;
}

/* Take a running queue back from the owner. */
static void queue_stop(struct vd_vhost_dev *dev, struct vd_vhost_queue *q, enum vd_vhost_stop why)
{
	if (!q->running)
		return;
	q->stopping = true;
	dev->ops->queue_stop(dev, q->index, why);
	q->stopping = false;
	q->running = false;
	if (why == VD_VHOST_STOP_RESET)
		vd_vhost_queue_forget(q);
	else
		vd_vhost_queue_complete_all(q);
}

/* Stop the queue and forget its ring mapping; returns whether it was started. */
static bool queue_halt(struct vd_vhost_dev *dev, struct vd_vhost_queue *q, enum vd_vhost_stop why)
{
	bool was = q->started;

	queue_stop(dev, q, why);
	if (q->started) {
		q->base = q->last_avail;
		if (why == VD_VHOST_STOP_RESET)
			vd_vhost_queue_forget(q);
		else
			vd_vhost_queue_complete_all(q);
	}
	q->started = false;
	q->desc = NULL;
	q->avail = NULL;
	q->used = NULL;
	return was;
}

/* Start the ring if it is complete, and hand it to the owner if enabled. */
static int queue_try_start(struct vd_vhost_dev *dev, struct vd_vhost_queue *q)
{
	const char *why;

	if (!q->kick_set || is_broken(dev))
		return 0;
	if (!q->started) {
		q->mem = &dev->mem;
		q->features = dev->features;
		if (vd_vhost_queue_map(q, &why) < 0)
			return fail(dev, "queue %u: %s", q->index, why);
		q->started = true;
	}
	if (!protocol_mode(dev))
		q->enabled = true;
	if (q->enabled && !q->running) {
		q->running = true;
		dev->ops->queue_start(dev, q->index);
	}
	return 0;
}

/* Around changes to what running queues depend on (memory, features). */
static void halt_all(struct vd_vhost_dev *dev, bool *was)
{
	for (unsigned i = 0; i < dev->p.num_queues; i++)
		was[i] = queue_halt(dev, &dev->queues[i], VD_VHOST_STOP_REMAP);
}

static int restart_all(struct vd_vhost_dev *dev, const bool *was)
{
	for (unsigned i = 0; i < dev->p.num_queues; i++) {
		if (was[i] && queue_try_start(dev, &dev->queues[i]) < 0)
			return -EIO;
	}
	return 0;
}

/* Stop every ring and forget its setup; RESET semantics (guest memory untouched). */
static void reset_rings(struct vd_vhost_dev *dev)
{
	for (unsigned i = 0; i < dev->p.num_queues; i++) {
		struct vd_vhost_queue *q = &dev->queues[i];

		queue_halt(dev, q, VD_VHOST_STOP_RESET);
		close_fd(&q->kick_fd);
		close_atomic_fd(&q->call_fd);
		close_atomic_fd(&q->err_fd);
		q->kick_set = false;
		q->enabled = false;
		q->num = 0;
		q->addr_set = false;
		q->desc_ua = q->avail_ua = q->used_ua = 0;
		q->base = 0;
		q->last_avail = q->shadow_avail = q->used_idx = 0;
		q->error = "";
	}
}

/* ---- connection ---- */

static void rx_reset(struct vd_vhost_dev *dev)
{
	for (unsigned i = 0; i < dev->nfds; i++)
		close_fd(&dev->fds[i]);
	dev->nfds = 0;
	dev->fd_overflow = false;
	dev->have = 0;
}

int vd_vhost_dev_attach(struct vd_vhost_dev *dev, int fd)
{
	int fl;

	if (dev->fd >= 0)
		return -EBUSY;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	dev->fd = fd;
	return 0;
}

void vd_vhost_dev_detach(struct vd_vhost_dev *dev)
{
	if (dev->fd < 0)
		return;
	reset_rings(dev);
	if (dev->ops->reset)
		dev->ops->reset(dev);
	vd_vhost_mem_clear(&dev->mem);
	rx_reset(dev);
	close_fd(&dev->fd);
	dev->features = 0;
	dev->features_set = false;
	dev->protocol = 0;
	dev->protocol_set = false;
	dev->status = 0;
	dev->error[0] = '\0';
	atomic_store(&dev->broken, BROKEN_NO);
}

/* ---- replies ---- */

static int send_reply(struct vd_vhost_dev *dev, uint32_t request, const void *payload, uint32_t size)
{
	struct vd_vhost_msg_hdr h = {
		.request = request,
		.flags = VD_VHOST_VERSION | VD_VHOST_FLAG_REPLY,
		.size = size,
	};
	struct iovec iov[2] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)payload, .iov_len = size },
	};
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };
	ssize_t n;

	do
		n = sendmsg(dev->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	/* Replies are tiny; a socket that cannot take one is a peer not reading. */
	if (n != (ssize_t)(sizeof(h) + size))
		return fail(dev, "cannot send %s reply: %s", request_name(request),
			    n < 0 ? strerror(errno) : "short write");
	return 0;
}

static int reply_u64(struct vd_vhost_dev *dev, uint32_t request, uint64_t v)
{
	return send_reply(dev, request, &v, sizeof(v));
}

/* ---- message handlers ----
 * Each returns 0 (done), 1 (refused: a REPLY_ACK gets a failure, the device
 * carries on) or -EIO (device marked broken). Handlers that send their own
 * reply set *replied. */

struct msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	const uint8_t *payload;
	bool replied;
};

static uint64_t offered_features(struct vd_vhost_dev *dev)
{
	return (dev->ops->get_features(dev) & ~UNSUPPORTED_TRANSPORT) | (1ull << VD_VHOST_F_PROTOCOL_FEATURES);
}

static uint64_t offered_protocol(struct vd_vhost_dev *dev)
{
	uint64_t pf = SUPPORTED_PROTOCOL;

	if (dev->ops->get_protocol_features)
		pf &= dev->ops->get_protocol_features(dev);
	if (!dev->ops->get_config)
		pf &= ~(1ull << VD_VHOST_PF_CONFIG);
	return pf;
}

static uint64_t payload_u64(const struct msg *m)
{
	uint64_t v;

	memcpy(&v, m->payload, sizeof(v));
	return v;
}

static int need_size(struct vd_vhost_dev *dev, const struct msg *m, uint32_t size)
{
	if (m->size != size)
		return fail(dev, "%s: payload of %u bytes, expected %u", request_name(m->request), m->size, size);
	return 0;
}

static int need_fds(struct vd_vhost_dev *dev, const struct msg *m, unsigned lo, unsigned hi)
{
	if (dev->nfds < lo || dev->nfds > hi)
		return fail(dev, "%s: %u file descriptors, expected %u%s", request_name(m->request),
			    dev->nfds, lo, hi > lo ? " or 1" : "");
	return 0;
}

/* Parse a vring state payload and check its index. */
static int vring_state(struct vd_vhost_dev *dev, const struct msg *m, struct vd_vhost_vring_state *s,
		       struct vd_vhost_queue **q)
{
	if (need_size(dev, m, sizeof(*s)) < 0 || need_fds(dev, m, 0, 0) < 0)
		return -EIO;
	memcpy(s, m->payload, sizeof(*s));
	if (s->index >= dev->p.num_queues)
		return fail(dev, "%s: queue %u does not exist (%u queues)", request_name(m->request),
			    s->index, dev->p.num_queues);
	*q = &dev->queues[s->index];
	return 0;
}

static int h_set_features(struct vd_vhost_dev *dev, struct msg *m)
{
	bool was[VD_VHOST_MAX_QUEUES];
	uint64_t f, extra;

	if (need_size(dev, m, 8) < 0 || need_fds(dev, m, 0, 0) < 0)
		return -EIO;
	f = payload_u64(m);
	extra = f & ~offered_features(dev);
	if (extra)
		return fail(dev, "SET_FEATURES acks features never offered (0x%" PRIx64 ")", extra);
	if (f != dev->features) {
		halt_all(dev, was);
		dev->features = f;
		dev->features_set = true;
		if (dev->ops->set_features)
			dev->ops->set_features(dev, f);
		return restart_all(dev, was);
	}
	dev->features_set = true;
	if (dev->ops->set_features)
		dev->ops->set_features(dev, f);
	return 0;
}

static int h_set_protocol_features(struct vd_vhost_dev *dev, struct msg *m)
{
	uint64_t f, extra;

	if (need_size(dev, m, 8) < 0 || need_fds(dev, m, 0, 0) < 0)
		return -EIO;
	f = payload_u64(m);
	extra = f & ~offered_protocol(dev);
	if (extra)
		return fail(dev, "SET_PROTOCOL_FEATURES acks features never offered (0x%" PRIx64 ")", extra);
	dev->protocol = f;
	dev->protocol_set = true;
	return 0;
}

static int h_set_mem_table(struct vd_vhost_dev *dev, struct msg *m)
{
	struct vd_vhost_mem_table t;
	struct vd_vhost_mem fresh;
	struct vd_error err;
	bool was[VD_VHOST_MAX_QUEUES];

	if (m->size < 8)
		return fail(dev, "SET_MEM_TABLE: payload of %u bytes is too short", m->size);
	memset(&t, 0, sizeof(t));
	memcpy(&t, m->payload, m->size < sizeof(t) ? m->size : sizeof(t));
	if (t.nregions > VD_VHOST_MEM_TABLE_REGIONS)
		return fail(dev, "SET_MEM_TABLE: %u regions (at most %u)", t.nregions, VD_VHOST_MEM_TABLE_REGIONS);
	if (need_size(dev, m, 8 + t.nregions * (uint32_t)sizeof(struct vd_vhost_mem_region)) < 0 ||
	    need_fds(dev, m, t.nregions, t.nregions) < 0)
		return -EIO;

	memset(&fresh, 0, sizeof(fresh));
	vd_error_clear(&err);
	for (unsigned i = 0; i < t.nregions; i++) {
		if (vd_vhost_mem_add(&fresh, dev->p.mem_slots, &t.regions[i], dev->fds[i], &err) < 0) {
			vd_vhost_mem_clear(&fresh);
			return fail(dev, "SET_MEM_TABLE: region %u: %s", i, err.msg);
		}
	}
	halt_all(dev, was);
	vd_vhost_mem_clear(&dev->mem);
	dev->mem = fresh;
	return restart_all(dev, was);
}

static int h_add_mem_reg(struct vd_vhost_dev *dev, struct msg *m)
{
	struct vd_vhost_mem_single s;
	struct vd_error err;
	bool was[VD_VHOST_MAX_QUEUES];
	int rc;

	if (need_size(dev, m, sizeof(s)) < 0 || need_fds(dev, m, 1, 1) < 0)
		return -EIO;
	memcpy(&s, m->payload, sizeof(s));
	vd_error_clear(&err);
	halt_all(dev, was);
	rc = vd_vhost_mem_add(&dev->mem, dev->p.mem_slots, &s.region, dev->fds[0], &err);
	if (rc < 0)
		return fail(dev, "ADD_MEM_REG: %s", err.msg);
	return restart_all(dev, was);
}

static int h_rem_mem_reg(struct vd_vhost_dev *dev, struct msg *m)
{
	struct vd_vhost_mem_single s;
	bool was[VD_VHOST_MAX_QUEUES];

	/* The spec tolerates one (ignored) fd for old front-ends. */
	if (need_size(dev, m, sizeof(s)) < 0 || need_fds(dev, m, 0, 1) < 0)
		return -EIO;
	memcpy(&s, m->payload, sizeof(s));
	if (!vd_vhost_mem_find(&dev->mem, &s.region)) {
		logmsg(dev, "REM_MEM_REG: no region at guest address 0x%" PRIx64 " size 0x%" PRIx64,
		       s.region.gpa, s.region.size);
		return 1;
	}
	halt_all(dev, was);
	vd_vhost_mem_remove(&dev->mem, &s.region);
	return restart_all(dev, was);
}

static int h_set_vring_num(struct vd_vhost_dev *dev, struct msg *m)
{
	struct vd_vhost_vring_state s;
	struct vd_vhost_queue *q;
	bool was;

	if (vring_state(dev, m, &s, &q) < 0)
		return -EIO;
	if (s.num == 0 || s.num > dev->p.max_queue_size || (s.num & (s.num - 1)))
		return fail(dev, "SET_VRING_NUM: queue %u size %u is not a power of two up to %u",
			    s.index, s.num, dev->p.max_queue_size);
	was = queue_halt(dev, q, VD_VHOST_STOP_REMAP);
	q->num = s.num;
	return was ? queue_try_start(dev, q) : 0;
}

static int h_set_vring_base(struct vd_vhost_dev *dev, struct msg *m)
{
	struct vd_vhost_vring_state s;
	struct vd_vhost_queue *q;
	bool was;

	if (vring_state(dev, m, &s, &q) < 0)
		return -EIO;
	if (s.num > 0xffff)
		return fail(dev, "SET_VRING_BASE: queue %u base %u out of range", s.index, s.num);
	was = queue_halt(dev, q, VD_VHOST_STOP_REMAP);
	q->base = (uint16_t)s.num;
	return was ? queue_try_start(dev, q) : 0;
}

static int h_set_vring_addr(struct vd_vhost_dev *dev, struct msg *m)
{
	struct vd_vhost_vring_addr a;
	struct vd_vhost_queue *q;
	bool was;

	if (need_size(dev, m, sizeof(a)) < 0 || need_fds(dev, m, 0, 0) < 0)
		return -EIO;
	memcpy(&a, m->payload, sizeof(a));
	if (a.index >= dev->p.num_queues)
		return fail(dev, "SET_VRING_ADDR: queue %u does not exist (%u queues)", a.index,
			    dev->p.num_queues);
	q = &dev->queues[a.index];
	if (q->addr_set && q->desc_ua == a.desc && q->avail_ua == a.avail && q->used_ua == a.used)
		return 0;	/* only the log flag changed; we do not log */
	was = queue_halt(dev, q, VD_VHOST_STOP_REMAP);
	q->desc_ua = a.desc;
	q->avail_ua = a.avail;
	q->used_ua = a.used;
	q->addr_set = true;
	return was ? queue_try_start(dev, q) : 0;
}

static int h_get_vring_base(struct vd_vhost_dev *dev, struct msg *m)
{
	struct vd_vhost_vring_state s;
	struct vd_vhost_queue *q;

	if (vring_state(dev, m, &s, &q) < 0)
		return -EIO;
	queue_halt(dev, q, VD_VHOST_STOP_BASE);
	close_fd(&q->kick_fd);
	q->kick_set = false;
	s.num = q->base;
	m->replied = true;
	return send_reply(dev, m->request, &s, sizeof(s));
}

/* SET_VRING_KICK/CALL/ERR: u64 = index | NOFD flag, fd unless NOFD. */
static int vring_file(struct vd_vhost_dev *dev, struct msg *m, struct vd_vhost_queue **q, int *fd)
{
	uint64_t v;
	bool nofd;

	if (need_size(dev, m, 8) < 0)
		return -EIO;
	v = payload_u64(m);
	if (v & ~(uint64_t)(VD_VHOST_VRING_IDX_MASK | VD_VHOST_VRING_NOFD))
		return fail(dev, "%s: reserved bits set (0x%" PRIx64 ")", request_name(m->request), v);
	nofd = v & VD_VHOST_VRING_NOFD;
	if (need_fds(dev, m, nofd ? 0 : 1, nofd ? 0 : 1) < 0)
		return -EIO;
	if ((v & VD_VHOST_VRING_IDX_MASK) >= dev->p.num_queues)
		return fail(dev, "%s: queue %u does not exist (%u queues)", request_name(m->request),
			    (unsigned)(v & VD_VHOST_VRING_IDX_MASK), dev->p.num_queues);
	*q = &dev->queues[v & VD_VHOST_VRING_IDX_MASK];
	*fd = nofd ? -1 : take_fd(dev, 0);
	return 0;
}

static int h_set_vring_kick(struct vd_vhost_dev *dev, struct msg *m)
{
	struct vd_vhost_queue *q;
	int fd, fl;

	if (vring_file(dev, m, &q, &fd) < 0)
		return -EIO;
	/* Shared with the front-end, whose event notifiers are non-blocking too. */
	if (fd >= 0 && ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)) {
		close(fd);
		return fail(dev, "SET_VRING_KICK: bad fd: %s", strerror(errno));
	}
	queue_halt(dev, q, VD_VHOST_STOP_REMAP);
	close_fd(&q->kick_fd);
	q->kick_fd = fd;
	q->kick_set = true;
	return queue_try_start(dev, q);
}

static int h_set_vring_event(struct vd_vhost_dev *dev, struct msg *m, bool call)
{
	struct vd_vhost_queue *q;
	int fd, rc;

	if (vring_file(dev, m, &q, &fd) < 0)
		return -EIO;
	rc = replace_event_fd(call ? &q->call_fd : &q->err_fd, fd, q->running);
	if (rc < 0)
		return fail(dev, "%s: cannot replace fd: %s", request_name(m->request), strerror(-rc));
	return 0;
}

static int h_set_vring_enable(struct vd_vhost_dev *dev, struct msg *m)
{
	struct vd_vhost_vring_state s;
	struct vd_vhost_queue *q;

	if (vring_state(dev, m, &s, &q) < 0)
		return -EIO;
	if (s.num > 1)
		return fail(dev, "SET_VRING_ENABLE: queue %u: value %u is not 0 or 1", s.index, s.num);
	if (s.num) {
		q->enabled = true;
		return queue_try_start(dev, q);
	}
	queue_stop(dev, q, VD_VHOST_STOP_DISABLE);
	q->enabled = false;
	return 0;
}

static int h_get_config(struct vd_vhost_dev *dev, struct msg *m)
{
	struct vd_vhost_config_hdr c;
	uint8_t out[sizeof(c) + VD_VHOST_MAX_CONFIG_SIZE];
	int rc;

	if (m->size < sizeof(c))
		return fail(dev, "GET_CONFIG: payload of %u bytes is too short", m->size);
	if (need_fds(dev, m, 0, 0) < 0)
		return -EIO;
	memcpy(&c, m->payload, sizeof(c));
	if (m->size != sizeof(c) + (uint64_t)c.size)
		return fail(dev, "GET_CONFIG: payload of %u bytes for a %u-byte read", m->size, c.size);
	m->replied = true;
	/* A zero-length reply is the protocol's way of saying "error". */
	if (!dev->ops->get_config || c.size > VD_VHOST_MAX_CONFIG_SIZE ||
	    (uint64_t)c.offset + c.size > dev->p.config_size) {
		logmsg(dev, "GET_CONFIG: refused %u bytes at offset %u (config space is %u bytes)",
		       c.size, c.offset, dev->p.config_size);
		return send_reply(dev, m->request, NULL, 0);
	}
	memset(out, 0, sizeof(out));
	rc = dev->ops->get_config(dev, c.offset, out + sizeof(c), c.size);
	if (rc < 0) {
		logmsg(dev, "GET_CONFIG: device refused: %s", strerror(-rc));
		return send_reply(dev, m->request, NULL, 0);
	}
	memcpy(out, &c, sizeof(c));
	return send_reply(dev, m->request, out, (uint32_t)sizeof(c) + c.size);
}

static int h_reset_device(struct vd_vhost_dev *dev)
{
	reset_rings(dev);
	dev->features = 0;
	dev->features_set = false;
	dev->status = 0;
	if (dev->ops->reset)
		dev->ops->reset(dev);
	return 0;
}

static int h_reset_owner(struct vd_vhost_dev *dev)
{
	/* Deprecated; the spec suggests disabling the rings and nothing more. */
	for (unsigned i = 0; i < dev->p.num_queues; i++) {
		struct vd_vhost_queue *q = &dev->queues[i];

		queue_halt(dev, q, VD_VHOST_STOP_RESET);
		close_fd(&q->kick_fd);
		q->kick_set = false;
		q->enabled = false;
	}
	return 0;
}

static int handle(struct vd_vhost_dev *dev, struct msg *m)
{
	switch (m->request) {
	case VD_VHOST_REQ_GET_FEATURES:
		m->replied = true;
		return reply_u64(dev, m->request, offered_features(dev));
	case VD_VHOST_REQ_SET_FEATURES:
		return h_set_features(dev, m);
	case VD_VHOST_REQ_GET_PROTOCOL_FEATURES:
		m->replied = true;
		return reply_u64(dev, m->request, offered_protocol(dev));
	case VD_VHOST_REQ_SET_PROTOCOL_FEATURES:
		return h_set_protocol_features(dev, m);
	case VD_VHOST_REQ_SET_OWNER:
		return need_fds(dev, m, 0, 0);
	case VD_VHOST_REQ_RESET_OWNER:
		return need_fds(dev, m, 0, 0) < 0 ? -EIO : h_reset_owner(dev);
	case VD_VHOST_REQ_RESET_DEVICE:
		return need_fds(dev, m, 0, 0) < 0 ? -EIO : h_reset_device(dev);
	case VD_VHOST_REQ_GET_QUEUE_NUM:
		m->replied = true;
		return reply_u64(dev, m->request, dev->p.num_queues);
	case VD_VHOST_REQ_GET_MAX_MEM_SLOTS:
		m->replied = true;
		return reply_u64(dev, m->request, dev->p.mem_slots);
	case VD_VHOST_REQ_SET_MEM_TABLE:
		return h_set_mem_table(dev, m);
	case VD_VHOST_REQ_ADD_MEM_REG:
		return h_add_mem_reg(dev, m);
	case VD_VHOST_REQ_REM_MEM_REG:
		return h_rem_mem_reg(dev, m);
	case VD_VHOST_REQ_SET_VRING_NUM:
		return h_set_vring_num(dev, m);
	case VD_VHOST_REQ_SET_VRING_BASE:
		return h_set_vring_base(dev, m);
	case VD_VHOST_REQ_SET_VRING_ADDR:
		return h_set_vring_addr(dev, m);
	case VD_VHOST_REQ_GET_VRING_BASE:
		return h_get_vring_base(dev, m);
	case VD_VHOST_REQ_SET_VRING_KICK:
		return h_set_vring_kick(dev, m);
	case VD_VHOST_REQ_SET_VRING_CALL:
		return h_set_vring_event(dev, m, true);
	case VD_VHOST_REQ_SET_VRING_ERR:
		return h_set_vring_event(dev, m, false);
	case VD_VHOST_REQ_SET_VRING_ENABLE:
		return h_set_vring_enable(dev, m);
	case VD_VHOST_REQ_GET_CONFIG:
		return h_get_config(dev, m);
	case VD_VHOST_REQ_SET_CONFIG:
		logmsg(dev, "SET_CONFIG refused: the config space is read-only");
		return 1;
	case VD_VHOST_REQ_SET_STATUS:
		if (need_size(dev, m, 8) < 0 || need_fds(dev, m, 0, 0) < 0)
			return -EIO;
		dev->status = (uint8_t)payload_u64(m);
		if (dev->ops->set_status)
			dev->ops->set_status(dev, dev->status);
		return 0;
	case VD_VHOST_REQ_GET_STATUS:
		m->replied = true;
		return reply_u64(dev, m->request, dev->status);
	default:
		logmsg(dev, "unsupported request %u (%s) ignored", m->request, request_name(m->request));
		return 1;
	}
}

/* ---- receiving ---- */

static ssize_t rx_some(struct vd_vhost_dev *dev, size_t want)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VD_VHOST_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = dev->rx.buf + dev->have, .iov_len = want };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n = recvmsg(dev->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t count;
		int fd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (dev->nfds < VD_VHOST_MAX_FDS) {
				dev->fds[dev->nfds++] = fd;
			} else {
				close(fd);
				dev->fd_overflow = true;
			}
		}
	}
	/* The kernel closed what did not fit; the message is unusable either way. */
	if (mh.msg_flags & MSG_CTRUNC)
		dev->fd_overflow = true;
	return n;
}

static void process(struct vd_vhost_dev *dev)
{
	struct msg m = {
		.request = dev->rx.hdr.request,
		.flags = dev->rx.hdr.flags,
		.size = dev->rx.hdr.size,
		.payload = dev->rx.buf + VD_VHOST_HDR_SIZE,
	};
	int rc = handle(dev, &m);

	if (rc >= 0 && !m.replied && (m.flags & VD_VHOST_FLAG_NEED_REPLY) && !is_broken(dev))
		reply_u64(dev, m.request, rc == 0 ? 0 : 1);
}

int vd_vhost_dispatch(struct vd_vhost_dev *dev)
{
	unsigned handled = 0;

	if (dev->fd < 0)
		return -ENOTCONN;
	if (is_broken(dev))
		return -EIO;
	while (handled < MAX_MESSAGES_PER_DISPATCH) {
		size_t need;
		ssize_t n;

		if (dev->have < VD_VHOST_HDR_SIZE) {
			need = VD_VHOST_HDR_SIZE - dev->have;
		} else {
			const struct vd_vhost_msg_hdr *h = &dev->rx.hdr;

			if ((h->flags & VD_VHOST_FLAG_VERSION_MASK) != VD_VHOST_VERSION) {
				rx_reset(dev);
				return fail(dev, "message with protocol version %u (flags 0x%x)",
					    h->flags & VD_VHOST_FLAG_VERSION_MASK, h->flags);
			}
			if (h->size > VD_VHOST_MAX_PAYLOAD) {
				rx_reset(dev);
				return fail(dev, "%s: payload of %u bytes exceeds %u", request_name(h->request),
					    h->size, VD_VHOST_MAX_PAYLOAD);
			}
			need = VD_VHOST_HDR_SIZE + h->size - dev->have;
		}
		if (need == 0) {
			process(dev);
			rx_reset(dev);
			handled++;
			if (is_broken(dev))
				return -EIO;
			continue;
		}
		/* Read no further than this message, so its fds are never mixed up
		 * with the next one's. */
		n = rx_some(dev, need);
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			return 0;
		if (n == 0 || n == -ECONNRESET) {
			if (dev->have)
				logmsg(dev, "connection closed %zu bytes into a message", dev->have);
			rx_reset(dev);
			return -ECONNRESET;
		}
		if (n < 0) {
			rx_reset(dev);
			return fail(dev, "socket error: %s", strerror((int)-n));
		}
		dev->have += (size_t)n;
		if (dev->fd_overflow) {
			rx_reset(dev);
			return fail(dev, "message carries more than %u file descriptors", VD_VHOST_MAX_FDS);
		}
	}
	return 0;
}
