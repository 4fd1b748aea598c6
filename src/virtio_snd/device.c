/* virtio_snd/device.c - one guest's virtio-snd device: creation from a guest
 * topology, the vhost-user callbacks (features, config space, queue
 * hand-over, reset), the fds the daemon watches, and the event queue. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vhost/protocol.h"
#include "virtio_snd/snd-impl.h"

void vd_snd_log(struct vd_snd_dev *dev, const char *fmt, ...)
{
	char msg[768];
	int n;
	va_list ap;

	if (!dev->opts.log)
		return;
	n = snprintf(msg, sizeof(msg), "%s: ", dev->name);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	dev->opts.log(dev->opts.log_data, msg);
}

static struct vd_snd_dev *D(struct vd_vhost_dev *v)
{
	return vd_vhost_dev_userdata(v);
}

static void wake(struct vd_snd_dev *dev)
{
	uint64_t one = 1;
	ssize_t w = write(dev->notify_fd, &one, sizeof(one));

	(void)w;	/* a saturated counter still wakes the loop */
}

/* ---- vhost-user callbacks (dispatch thread unless noted) ---- */

static uint64_t op_get_features(struct vd_vhost_dev *v)
{
	struct vd_snd_dev *dev = D(v);
	uint64_t f = 1ull << VD_VHOST_F_VERSION_1 | 1ull << VD_VHOST_F_INDIRECT_DESC |
		     1ull << VD_VHOST_F_EVENT_IDX;

	if (dev->opts.controls)
		f |= 1ull << VIRTIO_SND_F_CTLS;
	return f;
}

static int op_get_config(struct vd_vhost_dev *v, uint32_t offset, void *buf, uint32_t len)
{
	struct vd_snd_dev *dev = D(v);
	uint8_t cfg[VIRTIO_SND_CONFIG_SIZE];

	vsnd_put32(cfg + 0, dev->topo.n_jacks);
	vsnd_put32(cfg + 4, dev->topo.n_streams);
	vsnd_put32(cfg + 8, dev->topo.n_streams);	/* one channel map per stream */
	vsnd_put32(cfg + 12, dev->opts.controls ? dev->topo.n_ctls : 0);
	memcpy(buf, cfg + offset, len);
	return 0;
}

static void op_queue_start(struct vd_vhost_dev *v, unsigned q)
{
	struct vd_snd_dev *dev = D(v);

	if (q == VIRTIO_SND_VQ_TX || q == VIRTIO_SND_VQ_RX) {
		struct snd_xq *xq = &dev->xq[q == VIRTIO_SND_VQ_TX ? 0 : 1];

		xq->vq = vd_vhost_dev_queue(v, q);
		atomic_store_explicit(&xq->live, true, memory_order_release);
	}
}

static void op_queue_stop(struct vd_vhost_dev *v, unsigned q, enum vd_vhost_stop why)
{
	struct vd_snd_dev *dev = D(v);
	uint64_t mask = 0;
	uint32_t flags;

	if (q != VIRTIO_SND_VQ_TX && q != VIRTIO_SND_VQ_RX)
		return;	/* control and event requests are answered at once: nothing is held */
	flags = q == VIRTIO_SND_VQ_TX ? SND_REQ_STOP_TX : SND_REQ_STOP_RX;
	if (why == VD_VHOST_STOP_RESET)
		flags |= SND_REQ_FORGET;
	/* QEMU stopping the device (SET_VRING_ENABLE 0, then GET_VRING_BASE) or
	 * the guest resetting it ends the streams of this direction: Linux
	 * suspends without RELEASE. A memory-table change only pauses the queue. */
	if (why != VD_VHOST_STOP_REMAP)
		for (unsigned k = 0; k < dev->topo.n_streams; k++)
			if (dev->streams[k].xq == &dev->xq[q == VIRTIO_SND_VQ_TX ? 0 : 1] &&
			    (dev->streams[k].graph || dev->streams[k].state == VD_SND_STATE_RUNNING))
				mask |= UINT64_C(1) << k;
	vd_snd_release(dev, mask, flags);
	for (unsigned k = 0; k < dev->topo.n_streams; k++)
		if (mask >> k & 1) {
			dev->streams[k].state = VD_SND_STATE_RELEASED;
			vd_snd_stream_activity(&dev->streams[k], false);
		}
}

static void op_reset(struct vd_vhost_dev *v)
{
	struct vd_snd_dev *dev = D(v);
	uint64_t mask = 0;

	for (unsigned k = 0; k < dev->topo.n_streams; k++)
		if (dev->streams[k].graph)
			mask |= UINT64_C(1) << k;
	vd_snd_release(dev, mask, SND_REQ_FORGET);
	for (unsigned k = 0; k < dev->topo.n_streams; k++) {
		dev->streams[k].state = VD_SND_STATE_NONE;
		dev->streams[k].have_params = false;
	}
	vd_snd_streams_inactive(dev);
	dev->ev_head = dev->ev_count = 0;
}

/* May run on the processing thread: only flag it and wake the event loop. */
static void op_broken(struct vd_vhost_dev *v, const char *why)
{
	struct vd_snd_dev *dev = D(v);

	atomic_store(&dev->broken, true);
	wake(dev);
}

static void op_log(struct vd_vhost_dev *v, const char *msg)
{
	vd_snd_log(D(v), "vhost-user: %s", msg);
}

static const struct vd_vhost_ops snd_vhost_ops = {
	.version = VD_VHOST_OPS_VERSION,
	.get_features = op_get_features,
	.get_config = op_get_config,
	.queue_start = op_queue_start,
	.queue_stop = op_queue_stop,
	.reset = op_reset,
	.broken = op_broken,
	.log = op_log,
};

/* ---- events ---- */

void vd_snd_events_flush(struct vd_snd_dev *dev)
{
	struct vd_vhost_queue *q = vd_vhost_dev_queue(dev->vhost, VIRTIO_SND_VQ_EVENT);
	bool pushed = false;

	if (!q || !vd_vhost_queue_running(q))
		return;
	/* The driver posts its event buffers before DRIVER_OK without a kick, so look every time. */
	while (dev->ev_count) {
		struct vd_vhost_elem e;
		int r;

		vd_vhost_elem_init(&e, dev->ev_iov, SND_CTL_IOV);
		r = vd_vhost_queue_pop(q, &e);
		if (r == 0)
			break;
		if (r == -EIO)
			return;
		if (r < 0)
			continue;
		if (e.in_len < VIRTIO_SND_EVENT_SIZE) {
			vd_vhost_queue_push(q, &e, 0);
		} else {
			vd_vhost_iov_from_buf(e.in, e.in_num, 0, dev->events[dev->ev_head], VIRTIO_SND_EVENT_SIZE);
			vd_vhost_queue_push(q, &e, VIRTIO_SND_EVENT_SIZE);
			dev->ev_head = (dev->ev_head + 1) % SND_MAX_EVENTS;
			dev->ev_count--;
		}
		pushed = true;
	}
	if (pushed)
		vd_vhost_queue_flush(q);
}

void vd_snd_event(struct vd_snd_dev *dev, uint32_t code, uint32_t data)
{
	unsigned slot;

	if (dev->ev_count == SND_MAX_EVENTS) {	/* keep the newest: drop the oldest */
		dev->ev_head = (dev->ev_head + 1) % SND_MAX_EVENTS;
		dev->ev_count--;
		dev->ev_dropped++;
	}
	slot = (dev->ev_head + dev->ev_count) % SND_MAX_EVENTS;
	vsnd_put32(dev->events[slot], code);
	vsnd_put32(dev->events[slot] + 4, data);
	dev->ev_count++;
	vd_snd_events_flush(dev);
}

int vd_snd_dev_set_jack(struct vd_snd_dev *dev, uint32_t jack, bool connected)
{
	if (jack >= dev->topo.n_jacks)
		return -EINVAL;
	if (dev->topo.jacks[jack].connected == connected)
		return 0;
	dev->topo.jacks[jack].connected = connected;
	vd_snd_event(dev, connected ? VIRTIO_SND_EVT_JACK_CONNECTED : VIRTIO_SND_EVT_JACK_DISCONNECTED, jack);
	return 0;
}

const char *vd_snd_dev_jack_point(const struct vd_snd_dev *dev, uint32_t jack)
{
	if (jack >= dev->topo.n_jacks)
		return NULL;
	return dev->topo.streams[dev->topo.jacks[jack].stream].point;
}

/* ---- the daemon's interface ---- */

int vd_snd_dev_new(const char *name, const char *guest_topology, struct vd_graph *host,
		   const struct vd_snd_options *opts, struct vd_snd_dev **out, struct vd_diag *diag)
{
	struct vd_snd_dev *dev;
	struct vd_vhost_params vp = { .num_queues = VIRTIO_SND_VQ_MAX, .config_size = VIRTIO_SND_CONFIG_SIZE };
	int r;

	if (!host || !out)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->notify_fd = -1;
	if (opts)
		dev->opts = *opts;
	if (!dev->opts.queue_size)
		dev->opts.queue_size = 64;
	if (dev->opts.queue_size > 1024 || (dev->opts.queue_size & (dev->opts.queue_size - 1))) {
		r = -EINVAL;
		goto fail;
	}
	dev->name = strdup(name ? name : "guest");
	dev->host = host;
	if (!dev->name) {
		r = -ENOMEM;
		goto fail;
	}
	r = vd_snd_topo_load(&dev->topo, guest_topology, dev->opts.topology_text, dev->opts.topology_len,
			     host, diag);
	if (r < 0)
		goto fail_topo;
	r = vd_snd_stream_setup(dev);
	if (r < 0)
		goto fail;
	dev->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (dev->notify_fd < 0) {
		r = -errno;
		goto fail;
	}
	vp.max_queue_size = dev->opts.queue_size;
	vp.max_indirect = SND_XFER_IOV;
	r = vd_vhost_dev_new(&vp, &snd_vhost_ops, dev, &dev->vhost);
	if (r < 0)
		goto fail;
	*out = dev;
	return 0;
fail:
	vd_snd_topo_free(&dev->topo);
fail_topo:
	vd_snd_stream_teardown(dev);
	if (dev->notify_fd >= 0)
		close(dev->notify_fd);
	free(dev->name);
	free(dev);
	return r;
}

void vd_snd_dev_free(struct vd_snd_dev *dev)
{
	uint64_t mask = 0;

	if (!dev)
		return;
	vd_vhost_dev_free(dev->vhost);	/* detaches: the streams of started queues are released */
	/* Streams prepared without a connection (or whose queues never started). */
	for (unsigned k = 0; k < dev->topo.n_streams; k++)
		if (dev->streams[k].graph)
			mask |= UINT64_C(1) << k;
	if (mask)
		vd_snd_release(dev, mask, SND_REQ_FORGET);
	vd_snd_streams_inactive(dev);
	vd_snd_stream_teardown(dev);
	vd_snd_topo_free(&dev->topo);
	close(dev->notify_fd);
	free(dev->name);
	free(dev);
}

int vd_snd_dev_attach(struct vd_snd_dev *dev, int fd)
{
	int r = vd_vhost_dev_attach(dev->vhost, fd);

	if (r == 0)
		atomic_store(&dev->broken, false);
	return r;
}

void vd_snd_dev_detach(struct vd_snd_dev *dev)
{
	vd_vhost_dev_detach(dev->vhost);
}

int vd_snd_dev_fd(const struct vd_snd_dev *dev, enum vd_snd_fd_kind kind)
{
	struct vd_vhost_queue *q;

	switch (kind) {
	case VD_SND_FD_SOCKET:
		return vd_vhost_dev_fd(dev->vhost);
	case VD_SND_FD_CONTROL:
	case VD_SND_FD_EVENT:
		q = vd_vhost_dev_queue(dev->vhost, kind == VD_SND_FD_CONTROL ? VIRTIO_SND_VQ_CONTROL
									    : VIRTIO_SND_VQ_EVENT);
		return q && vd_vhost_queue_running(q) ? vd_vhost_queue_kick_fd(q) : -1;
	case VD_SND_FD_NOTIFY:
		return dev->notify_fd;
	default:
		return -1;
	}
}

static void serve_control(struct vd_snd_dev *dev)
{
	struct vd_vhost_queue *q = vd_vhost_dev_queue(dev->vhost, VIRTIO_SND_VQ_CONTROL);
	bool pushed = false;

	if (!q || !vd_vhost_queue_running(q))
		return;
	vd_vhost_queue_kick_clear(q);
	for (;;) {
		struct vd_vhost_elem e;
		int r;

		vd_vhost_elem_init(&e, dev->ctl_iov, SND_CTL_IOV);
		r = vd_vhost_queue_pop(q, &e);
		if (r == 0 || r == -EIO)
			break;
		if (r < 0) {
			vd_snd_log(dev, "control request refused: %s", vd_vhost_queue_error(q));
			continue;
		}
		vd_vhost_queue_push(q, &e, vd_snd_ctl_request(dev, &e));
		pushed = true;
	}
	if (pushed)
		vd_vhost_queue_flush(q);
}

static void serve_notify(struct vd_snd_dev *dev)
{
	uint64_t v;
	ssize_t r = read(dev->notify_fd, &v, sizeof(v));

	(void)r;
	for (unsigned k = 0; k < dev->topo.n_streams; k++) {
		uint32_t n = atomic_exchange(&dev->streams[k].xrun_pending, 0);

		/* One event per wake-up and stream is enough: the guest only learns "an xrun happened". */
		if (n)
			vd_snd_event(dev, VIRTIO_SND_EVT_PCM_XRUN, k);
	}
}

int vd_snd_dev_handle(struct vd_snd_dev *dev, enum vd_snd_fd_kind kind)
{
	struct vd_vhost_queue *q;
	int r = 0;

	switch (kind) {
	case VD_SND_FD_SOCKET:
		r = vd_vhost_dispatch(dev->vhost);
		/* A queue (re)started here may already hold requests nobody kicked for. */
		serve_control(dev);
		vd_snd_events_flush(dev);
		break;
	case VD_SND_FD_CONTROL:
		serve_control(dev);
		break;
	case VD_SND_FD_EVENT:
		q = vd_vhost_dev_queue(dev->vhost, VIRTIO_SND_VQ_EVENT);
		if (q && vd_vhost_queue_running(q))
			vd_vhost_queue_kick_clear(q);
		vd_snd_events_flush(dev);
		break;
	case VD_SND_FD_NOTIFY:
		serve_notify(dev);
		break;
	default:
		return -EINVAL;
	}
	if (r < 0)
		return r;
	if (vd_vhost_dev_fd(dev->vhost) >= 0 &&
	    (atomic_load(&dev->broken) || vd_vhost_dev_broken(dev->vhost)))
		return -EIO;
	return 0;
}

unsigned vd_snd_dev_stream_count(const struct vd_snd_dev *dev)
{
	return dev->topo.n_streams;
}

unsigned vd_snd_dev_jack_count(const struct vd_snd_dev *dev)
{
	return dev->topo.n_jacks;
}

int vd_snd_dev_jack_state(const struct vd_snd_dev *dev, uint32_t jack, bool *connected)
{
	if (jack >= dev->topo.n_jacks)
		return -EINVAL;
	*connected = dev->topo.jacks[jack].connected;
	return 0;
}

const struct vd_topology *vd_snd_dev_topology(const struct vd_snd_dev *dev)
{
	return dev->topo.t;
}

enum vd_snd_state vd_snd_dev_stream_state(const struct vd_snd_dev *dev, unsigned index)
{
	return index < dev->topo.n_streams ? dev->streams[index].state : VD_SND_STATE_NONE;
}

int vd_snd_dev_stream_stats(struct vd_snd_dev *dev, unsigned index, struct vd_snd_stream_stats *st)
{
	struct snd_stream *s;

	if (index >= dev->topo.n_streams)
		return -EINVAL;
	s = &dev->streams[index];
	memset(st, 0, sizeof(*st));
	st->state = s->state;
	st->completed = atomic_load_explicit(&s->st_completed, memory_order_relaxed);
	st->errors = atomic_load_explicit(&s->st_errors, memory_order_relaxed);
	st->frames = atomic_load_explicit(&s->st_frames, memory_order_relaxed);
	st->underruns = atomic_load_explicit(&s->st_underruns, memory_order_relaxed);
	st->held = atomic_load_explicit(&s->st_held, memory_order_relaxed);
	st->xruns = atomic_load_explicit(&s->st_xruns, memory_order_relaxed);
	st->name = s->info->name;
	st->capture = s->info->direction == VIRTIO_SND_D_INPUT;
	if (s->have_params && vd_snd_format_to_vd(s->p.format, &st->format) == 0) {
		uint32_t fb = (uint32_t)vd_format_sample_size(st->format) * s->p.channels;

		st->have_params = true;
		st->rate = vd_snd_rate_hz(s->p.rate);
		st->channels = s->p.channels;
		st->period_frames = fb ? s->p.period_bytes / fb : 0;
		st->buffer_frames = fb ? s->p.buffer_bytes / fb : 0;
		if (s->graph)
			st->latency_frames = s->latency_frames;
	}
	if (s->graph)
		vd_graph_describe(s->graph, st->description, sizeof(st->description));
	return 0;
}

struct vd_vhost_dev *vd_snd_dev_vhost(struct vd_snd_dev *dev)
{
	return dev->vhost;
}
