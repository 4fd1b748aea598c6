/* virtio_snd/stream.c - PCM streams at run time: each prepared stream's
 * pipeline as a feed of a host attach point, the tx/rx messages it holds,
 * and the hand-over between the dispatch thread (PREPARE, RELEASE, queue
 * stops) and the host's processing thread (everything that touches the tx
 * and rx queues while a feed is connected).
 *
 * The processing thread services the data queues at the start of each of
 * the device's feed callbacks (vd_snd_service): it pops every available
 * message, checks its header and queues it on its stream, and carries out
 * what the dispatch thread asked for (release streams, let go of a queue).
 * Completions happen inside the pipelines' cycles, when a message's last
 * byte has been consumed or written, and are flushed at the end of the
 * callback. While no feed is connected (or nobody drives the host graph)
 * the dispatch thread does that work itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "graph/graph-impl.h"
#include "virtio_snd/snd-impl.h"

int vd_snd_stream_setup(struct vd_snd_dev *dev)
{
	unsigned nslots = dev->opts.queue_size;

	for (unsigned i = 0; i < 2; i++) {
		struct snd_xq *xq = &dev->xq[i];

		xq->index = i ? VIRTIO_SND_VQ_RX : VIRTIO_SND_VQ_TX;
		xq->nslots = nslots;
		xq->slots = calloc(nslots, sizeof(*xq->slots));
		xq->iov = calloc((size_t)nslots * SND_XFER_IOV, sizeof(*xq->iov));
		xq->free = calloc(nslots, sizeof(*xq->free));
		if (!xq->slots || !xq->iov || !xq->free)
			return -ENOMEM;
		for (unsigned k = 0; k < nslots; k++)
			xq->free[k] = (uint16_t)(nslots - 1 - k);
		xq->nfree = nslots;
		atomic_init(&xq->live, false);
	}
	for (unsigned k = 0; k < dev->topo.n_streams; k++) {
		struct snd_stream *s = &dev->streams[k];

		s->dev = dev;
		s->index = k;
		s->info = &dev->topo.streams[k];
		s->xq = &dev->xq[s->info->direction == VIRTIO_SND_D_OUTPUT ? 0 : 1];
		s->fifo = calloc(nslots, sizeof(*s->fifo));
		if (!s->fifo)
			return -ENOMEM;
		s->state = VD_SND_STATE_NONE;
	}
	return 0;
}

void vd_snd_stream_teardown(struct vd_snd_dev *dev)
{
	for (unsigned i = 0; i < 2; i++) {
		free(dev->xq[i].slots);
		free(dev->xq[i].iov);
		free(dev->xq[i].free);
	}
	for (unsigned k = 0; k < SND_MAX_STREAMS; k++)
		free(dev->streams[k].fifo);
}

/* ---- message checks (also the fuzzer's entry point) ---- */

int vd_snd_xfer_check(const struct vd_snd_dev *dev, unsigned q, const struct vd_vhost_elem *e,
		      uint32_t *payload)
{
	uint8_t hdr[VIRTIO_SND_PCM_XFER_SIZE];
	const struct snd_stream *s;
	uint32_t id, bytes;

	*payload = 0;
	if (e->in_len < VIRTIO_SND_PCM_STATUS_SIZE)
		return -2;
	if (e->out_len < VIRTIO_SND_PCM_XFER_SIZE ||
	    vd_vhost_iov_to_buf(e->out, e->out_num, 0, hdr, sizeof(hdr)) != sizeof(hdr))
		return -1;
	id = vsnd_le32(hdr);
	if (id >= dev->topo.n_streams)
		return -1;
	s = &dev->streams[id];
	if (s->info->direction != (q == VIRTIO_SND_VQ_TX ? VIRTIO_SND_D_OUTPUT : VIRTIO_SND_D_INPUT))
		return -1;
	if (q == VIRTIO_SND_VQ_TX) {
		bytes = e->out_len - VIRTIO_SND_PCM_XFER_SIZE;
		if (e->in_len != VIRTIO_SND_PCM_STATUS_SIZE)	/* tx writes only the status */
			return -1;
	} else {
		bytes = e->in_len - VIRTIO_SND_PCM_STATUS_SIZE;
		if (e->out_len != VIRTIO_SND_PCM_XFER_SIZE)	/* rx reads only the header */
			return -1;
	}
	*payload = bytes;
	/* Parameters are fixed while the stream accepts messages (acquire pairs with prepare). */
	if (!atomic_load_explicit(&s->accepting, memory_order_acquire))
		return -1;
	if (bytes % s->frame_bytes || bytes > s->p.buffer_bytes)
		return -1;
	return (int)id;
}

/* ---- completing messages (the queue's owner thread) ---- */

static void write_status(struct snd_xq *xq, const struct snd_xfer *x, uint32_t status, uint32_t latency,
			 uint32_t used)
{
	uint8_t st[VIRTIO_SND_PCM_STATUS_SIZE];

	vsnd_put32(st, status);
	vsnd_put32(st + 4, latency);
	/* The status is the last 8 writable bytes, however the guest split them. */
	vd_vhost_iov_from_buf(x->e.in, x->e.in_num, x->e.in_len - VIRTIO_SND_PCM_STATUS_SIZE, st, sizeof(st));
	vd_vhost_queue_push(xq->vq, &x->e, used);
	xq->pushed = true;
}

static void complete_xfer(struct snd_xq *xq, struct snd_xfer *x, uint32_t status, uint32_t latency)
{
	uint32_t used = xq->index == VIRTIO_SND_VQ_TX ? VIRTIO_SND_PCM_STATUS_SIZE
						      : x->done + VIRTIO_SND_PCM_STATUS_SIZE;

	write_status(xq, x, status, latency, used);
}

static uint32_t latency_bytes(const struct snd_stream *s)
{
	uint64_t frames = s->latency_frames;

	/* What the attach node holds has left the stream already but is not played yet. */
	if (s->anode && s->anode->fmt.rate)
		frames += (uint64_t)s->anode->count * s->fmt.rate / s->anode->fmt.rate;
	frames *= s->frame_bytes;
	return frames > UINT32_MAX ? UINT32_MAX : (uint32_t)frames;
}

static void pop_head(struct snd_stream *s, uint32_t status, uint32_t latency)
{
	struct snd_xq *xq = s->xq;
	uint16_t slot = s->fifo[s->head];
	struct snd_xfer *x = &xq->slots[slot];

	complete_xfer(xq, x, status, latency);
	s->held_bytes -= x->payload - x->done;
	s->head = (s->head + 1) % xq->nslots;
	s->count--;
	xq->free[xq->nfree++] = slot;
	atomic_fetch_add_explicit(status == VIRTIO_SND_S_OK ? &s->st_completed : &s->st_errors, 1,
				  memory_order_relaxed);
	atomic_store_explicit(&s->st_held, s->count, memory_order_relaxed);
}

void vd_snd_complete_head(struct snd_stream *s, uint32_t status)
{
	pop_head(s, status, status == VIRTIO_SND_S_OK ? latency_bytes(s) : 0);
}

/* Complete (or, for a reset, forget) everything @s holds: RELEASE reports
 * unplayed tx messages with no latency, rx ones with what they hold. */
static void drop_held(struct snd_stream *s, bool forget)
{
	while (s->count) {
		if (forget) {
			struct snd_xq *xq = s->xq;

			xq->free[xq->nfree++] = s->fifo[s->head];
			s->head = (s->head + 1) % xq->nslots;
			s->count--;
		} else {
			pop_head(s, VIRTIO_SND_S_OK, 0);
		}
	}
	s->head = 0;
	s->held_bytes = 0;
	atomic_store_explicit(&s->st_held, 0, memory_order_relaxed);
}

static void pop_all(struct vd_snd_dev *dev, struct snd_xq *xq)
{
	if (!atomic_load_explicit(&xq->live, memory_order_acquire) || atomic_load(&dev->broken))
		return;
	while (xq->nfree) {
		uint16_t slot = xq->free[xq->nfree - 1];
		struct snd_xfer *x = &xq->slots[slot];
		struct snd_stream *s;
		uint32_t payload;
		int id, r;

		vd_vhost_elem_init(&x->e, xq->iov + (size_t)slot * SND_XFER_IOV, SND_XFER_IOV);
		r = vd_vhost_queue_pop(xq->vq, &x->e);
		if (r == 0)
			break;
		if (r == -EIO) {
			atomic_store(&dev->broken, true);
			break;
		}
		if (r < 0)
			continue;	/* a bad chain: the layer completed it */
		id = vd_snd_xfer_check(dev, xq->index, &x->e, &payload);
		if (id == -2) {
			vd_vhost_queue_push(xq->vq, &x->e, 0);
			xq->pushed = true;
			continue;
		}
		if (id < 0) {
			uint8_t h[VIRTIO_SND_PCM_XFER_SIZE] = { 0 };
			uint32_t sid;

			x->done = 0;
			complete_xfer(xq, x, VIRTIO_SND_S_IO_ERR, 0);
			/* Count it on the stream it named, if there is one. */
			if (vd_vhost_iov_to_buf(x->e.out, x->e.out_num, 0, h, sizeof(h)) == sizeof(h) &&
			    (sid = vsnd_le32(h)) < dev->topo.n_streams)
				atomic_fetch_add_explicit(&dev->streams[sid].st_errors, 1, memory_order_relaxed);
			continue;
		}
		s = &dev->streams[id];
		x->payload = payload;
		x->done = 0;
		xq->nfree--;
		s->fifo[(s->head + s->count) % xq->nslots] = slot;
		s->count++;
		s->held_bytes += payload;
		atomic_store_explicit(&s->st_held, s->count, memory_order_relaxed);
	}
}

/* What the dispatch thread asked for; runs on whichever thread owns the data queues. */
static void do_requests(struct vd_snd_dev *dev, uint64_t mask, uint32_t flags)
{
	bool forget = flags & SND_REQ_FORGET;

	for (unsigned k = 0; k < dev->topo.n_streams; k++) {
		struct snd_stream *s = &dev->streams[k];
		bool stop_q = (s->xq == &dev->xq[0] && (flags & SND_REQ_STOP_TX)) ||
			      (s->xq == &dev->xq[1] && (flags & SND_REQ_STOP_RX));

		if (mask >> k & 1) {
			atomic_store(&s->running, false);
			atomic_store(&s->accepting, false);
		}
		if ((mask >> k & 1) || stop_q)
			drop_held(s, forget || !atomic_load(&s->xq->live));
	}
	if (flags & SND_REQ_STOP_TX)
		atomic_store(&dev->xq[0].live, false);
	if (flags & SND_REQ_STOP_RX)
		atomic_store(&dev->xq[1].live, false);
}

void vd_snd_flush(struct vd_snd_dev *dev)
{
	for (unsigned i = 0; i < 2; i++) {
		struct snd_xq *xq = &dev->xq[i];

		if (xq->pushed) {
			xq->pushed = false;
			if (xq->vq && vd_vhost_queue_running(xq->vq))
				vd_vhost_queue_flush(xq->vq);
		}
	}
}

void vd_snd_service(struct vd_snd_dev *dev)
{
	uint64_t seq = atomic_load_explicit(&dev->req_seq, memory_order_acquire);

	if (seq != atomic_load_explicit(&dev->ack_seq, memory_order_relaxed)) {
		uint64_t mask = atomic_exchange(&dev->req_release, 0);
		uint32_t flags = atomic_exchange(&dev->req_flags, 0);

		do_requests(dev, mask, flags);
		vd_snd_flush(dev);
		atomic_store_explicit(&dev->ack_seq, seq, memory_order_release);
	}
	pop_all(dev, &dev->xq[0]);
	pop_all(dev, &dev->xq[1]);
}

/* ---- feeds: the host graph's processing thread ---- */

#define MAX_GUEST_CYCLES 4

static void feed_pull(void *data, void *dst, uint32_t frames)
{
	struct snd_stream *s = data;
	struct snd_attach_node *a = s->anode;
	uint32_t ch = a->fmt.channels, n;

	vd_snd_service(s->dev);
	/* The FIFO keeps half a host period in reserve, put there as silence
	 * before the first pull. Where rates differ a guest cycle yields a
	 * frame more or less than a host period (fewer while a converter
	 * fills); the reserve absorbs that, so every host cycle runs exactly one
	 * guest cycle and never completes two messages at once. */
	if (!s->primed) {
		uint32_t r = frames / 2 < a->cap ? frames / 2 : a->cap;

		memset(a->fifo, 0, (size_t)r * ch * sizeof(float));
		a->count = r;
		s->primed = true;
	}
	for (int i = 0; i < MAX_GUEST_CYCLES && a->count < frames; i++)
		if (vd_graph_cycle(s->graph) < 0)
			break;
	n = a->count < frames ? a->count : frames;
	memcpy(dst, a->fifo, (size_t)n * ch * sizeof(float));
	memmove(a->fifo, a->fifo + (size_t)n * ch, (size_t)(a->count - n) * ch * sizeof(float));
	a->count -= n;
	if (n < frames)
		memset((float *)dst + (size_t)n * ch, 0, (size_t)(frames - n) * ch * sizeof(float));
	vd_snd_flush(s->dev);
}

static void feed_push(void *data, const void *src, uint32_t frames)
{
	struct snd_stream *s = data;
	struct snd_attach_node *a = s->anode;
	uint32_t ch = a->fmt.channels, n = frames;

	vd_snd_service(s->dev);
	if (n > a->cap - a->count)
		n = a->cap - a->count;
	memcpy(a->fifo + (size_t)a->count * ch, src, (size_t)n * ch * sizeof(float));
	a->count += n;
	for (int i = 0; i < MAX_GUEST_CYCLES && a->count; i++)
		if (vd_graph_cycle(s->graph) < 0)
			break;
	vd_snd_flush(s->dev);
}

/* ---- dispatch thread ---- */

static bool host_running(const struct vd_snd_dev *dev)
{
	return atomic_load(&dev->host->running);
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

void vd_snd_release(struct vd_snd_dev *dev, uint64_t mask, uint32_t flags)
{
	if (dev->connected == 0 || !host_running(dev)) {
		/* Nobody else can be touching the queues: do it here. */
		do_requests(dev, mask, flags);
		vd_snd_flush(dev);
	} else {
		uint64_t seq;
		int waited = 0;

		atomic_fetch_or(&dev->req_release, mask);
		atomic_fetch_or(&dev->req_flags, flags);
		seq = atomic_fetch_add_explicit(&dev->req_seq, 1, memory_order_release) + 1;
		while (atomic_load_explicit(&dev->ack_seq, memory_order_acquire) < seq) {
			if (waited >= SND_RELEASE_WAIT_MS * 10 || !host_running(dev)) {
				if (waited >= SND_RELEASE_WAIT_MS * 10)
					vd_snd_log(dev, "the host graph did not run a cycle within %d ms; "
						   "releasing from the control thread", SND_RELEASE_WAIT_MS);
				/* Re-check: the processing thread may have taken it meanwhile. */
				if (atomic_load_explicit(&dev->ack_seq, memory_order_acquire) < seq) {
					mask = atomic_exchange(&dev->req_release, 0);
					flags |= atomic_exchange(&dev->req_flags, 0);
					do_requests(dev, mask, flags);
					vd_snd_flush(dev);
					atomic_store(&dev->ack_seq, seq);
				}
				break;
			}
			sleep_us(100);
			waited++;
		}
	}
	for (unsigned k = 0; k < dev->topo.n_streams; k++) {
		struct snd_stream *s = &dev->streams[k];

		if (!(mask >> k & 1))
			continue;
		if (s->feed) {
			vd_attach_disconnect(s->feed);
			s->feed = NULL;
			dev->connected--;
		}
		vd_graph_free(s->graph);
		s->graph = NULL;
		s->node = NULL;
		s->anode = NULL;
	}
}

int vd_snd_stream_activity(struct snd_stream *s, bool active)
{
	struct vd_snd_dev *dev = s->dev;

	if (s->active == active)
		return 0;
	if (dev->opts.stream_active) {
		int r = dev->opts.stream_active(dev->opts.stream_data, s->index, active);

		if (r < 0 && active)
			return r;
	}
	s->active = active;
	return 0;
}

void vd_snd_streams_inactive(struct vd_snd_dev *dev)
{
	for (unsigned k = 0; k < dev->topo.n_streams; k++)
		vd_snd_stream_activity(&dev->streams[k], false);
}

/* The pipeline's delay in stream frames: its nodes' own latency plus the host period. */
static uint32_t pipeline_latency(const struct snd_stream *s, uint32_t host_rate, uint32_t host_period)
{
	uint64_t frames = (uint64_t)host_period * s->fmt.rate / host_rate;

	for (uint32_t i = 0; i < s->graph->n_nodes; i++) {
		const struct gnode *n = s->graph->nodes[i];
		uint32_t rate = n->n_out ? n->out[0]->fmt.rate : n->n_in ? n->in[0]->fmt.rate : 0;

		if (n->ops->latency && rate)
			frames += (uint64_t)n->ops->latency(n->self) * s->fmt.rate / rate;
	}
	return frames > UINT32_MAX ? UINT32_MAX : (uint32_t)frames;
}

uint32_t vd_snd_stream_prepare(struct snd_stream *s)
{
	static const struct vd_feed_ops ops = { .pull = feed_pull, .push = feed_push };
	struct vd_snd_dev *dev = s->dev;
	const struct vd_audio_format *hf;
	struct vd_attach *a;
	struct vd_error err;
	enum vd_sample_format fmt;
	uint32_t rate, period, hp;
	int r;

	if (vd_snd_format_to_vd(s->p.format, &fmt) < 0)
		return VIRTIO_SND_S_BAD_MSG;
	rate = vd_snd_rate_hz(s->p.rate);
	vd_audio_format_init(&s->fmt, fmt, rate, s->p.channels);
	if (s->info->n_positions == s->p.channels)
		memcpy(s->fmt.position, s->info->positions, s->p.channels);
	s->frame_bytes = (uint32_t)vd_format_frame_size(&s->fmt);

	r = vd_graph_attach(dev->host, s->info->point, &a);
	if (r < 0) {
		vd_snd_log(dev, "stream %u: the host attach point '%s' is gone", s->index, s->info->point);
		return VIRTIO_SND_S_IO_ERR;
	}
	hf = vd_attach_format(a);
	hp = vd_attach_period(a);
	/* About one host period per guest cycle, so a host cycle usually runs one guest cycle. */
	period = (uint32_t)(((uint64_t)hp * rate + hf->rate - 1) / hf->rate);
	if (period == 0)
		period = 1;

	r = vd_graph_new(&s->graph);
	if (r < 0)
		return VIRTIO_SND_S_IO_ERR;
	vd_error_clear(&err);
	r = vd_snd_topo_build(&dev->topo, s->index, s->graph, s, &s->fmt, hf, period, hp, false, &err);
	if (r < 0) {
		char buf[VD_ERROR_MSG_MAX + 64];

		vd_snd_log(dev, "stream %u: cannot build its pipeline: %s", s->index,
			   vd_error_format(&err, buf, sizeof(buf)));
		goto fail;
	}
	s->latency_frames = pipeline_latency(s, hf->rate, hp);
	s->head = 0;
	s->count = 0;
	s->held_bytes = 0;
	s->starved = false;
	s->primed = false;
	atomic_store(&s->running, false);
	atomic_store(&s->xrun_events, (s->p.features >> VIRTIO_SND_PCM_F_EVT_XRUNS) & 1);
	atomic_store_explicit(&s->accepting, true, memory_order_release);
	r = vd_attach_connect(a, &ops, s, &s->feed);
	if (r < 0) {
		vd_snd_log(dev, "stream %u: cannot connect to attach point '%s': %s", s->index,
			   s->info->point, strerror(-r));
		atomic_store(&s->accepting, false);
		goto fail;
	}
	dev->connected++;
	return VIRTIO_SND_S_OK;
fail:
	vd_graph_free(s->graph);
	s->graph = NULL;
	s->node = NULL;
	s->anode = NULL;
	return VIRTIO_SND_S_IO_ERR;
}
