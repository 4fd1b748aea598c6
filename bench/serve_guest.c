/* bench/serve_guest.c - the fake guests of bench_serve: devices, their
 * vhost-user connections through the fake front-end, the Linux driver's way
 * of keeping a playback stream's buffer queued, and the guest thread that
 * timestamps completions as interrupts deliver them. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fake_frontend.h"
#include "serve_guest.h"
#include "virtio_snd/proto.h"
#include "virtio_snd/virtio_snd.h"

#define QSIZE 64	/* QEMU's fixed queue size */
#define TXQ 2
#define RING_FEATURES ((1ull << VD_VHOST_F_VERSION_1) | (1ull << VD_VHOST_F_INDIRECT_DESC) | \
		       (1ull << VD_VHOST_F_EVENT_IDX))
#define PAGE 4096u
#define TABLE_BYTES 256	/* room for 16 descriptors: a period of up to 56 KiB */

struct guest {
	struct vd_snd_dev *dev;
	struct vd_ff ff;
	bool connected;
	uint64_t req, resp;		/* control request and reply areas */
	uint64_t dma;			/* the ALSA buffer: periods x period bytes, page aligned */
	uint64_t msg;			/* per period: xfer header (4) and status (8), 16 apart */
	uint64_t tables;		/* per period: its indirect descriptor table */
	uint32_t next_period;
	uint64_t *ts;			/* completion times in the window, ns (first look) */
	uint64_t *late;			/* the same completions stamped when drained (the old way) */
	size_t nts, cap;
	uint16_t seen_idx;		/* used index at the first look of this wake-up */
	uint64_t seen_t;		/* and when it was read */
	uint64_t bad;			/* bad status or failed refill */
	struct serve_fleet *fleet;
};

struct serve_fleet {
	struct serve_fleet_config cfg;
	struct vd_graph *host;
	struct guest *g;
	unsigned n;			/* guests created */
	uint32_t period_bytes;
	uint64_t mem_size;
	int epfd;
	pthread_t thread;
	bool thread_started;
	bool stopped;
	_Atomic bool stop;
	_Atomic bool window;
	/* per wake-up of the guest thread, in the window: how long the first look
	 * over the ready streams took, and the whole wake-up's work (ns) */
	uint64_t *pass, *busy;
	size_t nwake, wcap;
	char desc[256];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int pump(void *arg)
{
	return vd_snd_dev_handle(arg, VD_SND_FD_SOCKET);
}

static int rate_code(uint32_t rate)
{
	static const uint32_t rates[] = {
		[VIRTIO_SND_PCM_RATE_5512] = 5512, [VIRTIO_SND_PCM_RATE_8000] = 8000,
		[VIRTIO_SND_PCM_RATE_11025] = 11025, [VIRTIO_SND_PCM_RATE_16000] = 16000,
		[VIRTIO_SND_PCM_RATE_22050] = 22050, [VIRTIO_SND_PCM_RATE_32000] = 32000,
		[VIRTIO_SND_PCM_RATE_44100] = 44100, [VIRTIO_SND_PCM_RATE_48000] = 48000,
		[VIRTIO_SND_PCM_RATE_64000] = 64000, [VIRTIO_SND_PCM_RATE_88200] = 88200,
		[VIRTIO_SND_PCM_RATE_96000] = 96000, [VIRTIO_SND_PCM_RATE_176400] = 176400,
		[VIRTIO_SND_PCM_RATE_192000] = 192000,
	};

	for (unsigned i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
		if (rates[i] == rate)
			return (int)i;
	return -1;
}

/* One control request (dispatch side served at once); the reply's status, or 0 if none. */
static uint32_t ctl(struct guest *g, const uint8_t *req, uint32_t len)
{
	struct vd_ff_buf b[2] = { { g->req, len, false }, { g->resp, 4, true } };
	uint32_t id, used;

	memcpy(vd_ff_host(&g->ff, g->req), req, len);
	if (vd_ff_vq_add(&g->ff, 0, b, 2, false) < 0)
		return 0;
	if (vd_snd_dev_handle(g->dev, VD_SND_FD_CONTROL) < 0)
		return 0;
	if (vd_ff_vq_used(&g->ff, 0, &id, &used) != 1 || used != 4)
		return 0;
	return vsnd_le32(vd_ff_host(&g->ff, g->resp));
}

static uint32_t pcm_cmd(struct guest *g, uint32_t code)
{
	uint8_t req[8];

	vsnd_put32(req, code);
	vsnd_put32(req + 4, 0);		/* stream 0: the default topology's playback */
	return ctl(g, req, 8);
}

/* Queue period @p as Linux does: header, the payload split at page boundaries,
 * status, in an indirect table. Period p always uses descriptor head p and
 * its own table (it is re-queued only after it completed), so memory is
 * reused as a guest's slab memory is, instead of the fake front-end's
 * allocator handing out fresh pages (page faults a real guest does not cause). */
static int queue_period(struct guest *g, uint32_t p)
{
	uint32_t pb = g->fleet->period_bytes;
	uint64_t data = g->dma + (uint64_t)p * pb, hdr = g->msg + 16ull * p;
	uint64_t tgpa = g->tables + (uint64_t)p * TABLE_BYTES;
	struct vd_vring_desc *t = vd_ff_host(&g->ff, tgpa), *d;
	unsigned n = 0;

	t[n++] = (struct vd_vring_desc){ hdr, VIRTIO_SND_PCM_XFER_SIZE, VD_VRING_DESC_F_NEXT, 1 };
	for (uint32_t off = 0; off < pb;) {
		uint32_t in_page = PAGE - (uint32_t)((data + off) % PAGE);
		uint32_t len = pb - off < in_page ? pb - off : in_page;

		t[n] = (struct vd_vring_desc){ data + off, len, VD_VRING_DESC_F_NEXT, (uint16_t)(n + 1) };
		n++;
		off += len;
	}
	t[n++] = (struct vd_vring_desc){ hdr + 4, VIRTIO_SND_PCM_STATUS_SIZE, VD_VRING_DESC_F_WRITE, 0 };
	memset(vd_ff_host(&g->ff, hdr + 4), 0xee, VIRTIO_SND_PCM_STATUS_SIZE);
	d = vd_ff_vq_desc(&g->ff, TXQ, (uint16_t)p);
	*d = (struct vd_vring_desc){ tgpa, 16u * n, VD_VRING_DESC_F_INDIRECT, 0 };
	vd_ff_vq_publish(&g->ff, TXQ, (uint16_t)p);
	return 0;
}

/* A -6 dBFS 1 kHz tone (997 Hz at 44.1 kHz would do as well: the cost does not depend on it). */
static void fill_dma(struct guest *g, const struct serve_fleet_config *cfg)
{
	int16_t *s = vd_ff_host(&g->ff, g->dma);
	uint64_t frames = (uint64_t)cfg->periods * cfg->period_frames;

	for (uint64_t k = 0; k < frames; k++) {
		/* a triangle approximation: no libm needed, same cost to the host */
		int64_t ph = (int64_t)((k * 1000 * 4 * 16384) / cfg->rate % (4 * 16384));
		int64_t v = ph < 2 * 16384 ? ph - 16384 : 3 * 16384 - ph;

		s[2 * k] = (int16_t)v;
		s[2 * k + 1] = (int16_t)(-v);
	}
}

static int guest_setup(struct serve_fleet *f, struct guest *g, unsigned i, char *err, size_t errlen)
{
	const struct serve_fleet_config *cfg = &f->cfg;
	struct vd_snd_options opts = { 0 };
	char name[32];
	int sv[2], r;
	uint8_t req[VIRTIO_SND_SET_PARAMS_SIZE] = { 0 };
	uint32_t st;

	g->fleet = f;
	snprintf(name, sizeof(name), "vm%u", i);
	r = vd_snd_dev_new(name, NULL, f->host, &opts, &g->dev, NULL);
	if (r < 0) {
		snprintf(err, errlen, "%s: device: %s", name, strerror(-r));
		return r;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: socketpair: %s", name, strerror(errno));
		return r;
	}
	r = vd_snd_dev_attach(g->dev, sv[1]);
	if (r < 0) {
		close(sv[0]);
		close(sv[1]);
		snprintf(err, errlen, "%s: attach: %s", name, strerror(-r));
		return r;
	}
	vd_ff_init(&g->ff, sv[0], 4, pump, g->dev);
	g->connected = true;
	if ((r = vd_ff_add_region(&g->ff, 0, f->mem_size, 0)) < 0 ||
	    (r = vd_ff_handshake(&g->ff, VIRTIO_SND_CONFIG_SIZE)) < 0 ||
	    (r = vd_ff_start(&g->ff, RING_FEATURES, QSIZE, NULL)) < 0) {
		snprintf(err, errlen, "%s: vhost-user: %s", name, g->ff.err);
		return r;
	}
	g->req = vd_ff_alloc(&g->ff, 64, 16);
	g->resp = vd_ff_alloc(&g->ff, 64, 16);
	g->dma = vd_ff_alloc(&g->ff, (uint64_t)cfg->periods * f->period_bytes, PAGE);
	g->msg = vd_ff_alloc(&g->ff, 16ull * cfg->periods, 64);
	g->tables = vd_ff_alloc(&g->ff, (uint64_t)TABLE_BYTES * cfg->periods, 64);
	if (!g->req || !g->resp || !g->dma || !g->msg || !g->tables) {
		snprintf(err, errlen, "%s: guest memory exhausted", name);
		return -ENOMEM;
	}
	fill_dma(g, cfg);
	for (unsigned p = 0; p < cfg->periods; p++)
		vsnd_put32(vd_ff_host(&g->ff, g->msg + 16ull * p), 0);
	vsnd_put32(req, VIRTIO_SND_R_PCM_SET_PARAMS);
	vsnd_put32(req + 4, 0);
	vsnd_put32(req + 8, cfg->periods * f->period_bytes);
	vsnd_put32(req + 12, f->period_bytes);
	req[20] = 2;
	req[21] = VIRTIO_SND_PCM_FMT_S16;
	req[22] = (uint8_t)rate_code(cfg->rate);
	if ((st = ctl(g, req, sizeof(req))) != VIRTIO_SND_S_OK ||
	    (st = pcm_cmd(g, VIRTIO_SND_R_PCM_PREPARE)) != VIRTIO_SND_S_OK) {
		snprintf(err, errlen, "%s: SET_PARAMS/PREPARE answered 0x%x", name, st);
		return -EIO;
	}
	/* Linux queues the whole buffer before START (held by the device until then). */
	for (unsigned p = 0; p < cfg->periods; p++)
		if ((r = queue_period(g, p)) < 0) {
			snprintf(err, errlen, "%s: queueing: %s", name, g->ff.err);
			return r;
		}
	g->next_period = 0;
	/* EVENT_IDX: interrupt on the first completion */
	vd_ff_vq_set_used_event(&g->ff, TXQ, 0);
	g->cap = (size_t)(cfg->max_seconds * cfg->rate / cfg->period_frames) + 64;
	g->ts = malloc(g->cap * sizeof(*g->ts));
	g->late = malloc(g->cap * sizeof(*g->late));
	if (!g->ts || !g->late) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* no page faults in the guest thread later */
	memset(g->ts, 0, g->cap * sizeof(*g->ts));
	memset(g->late, 0, g->cap * sizeof(*g->late));
	return 0;
}

int serve_fleet_new(struct vd_graph *host, const struct serve_fleet_config *cfg,
		    struct serve_fleet **out, char *err, size_t errlen)
{
	struct serve_fleet *f;
	int r;

	if (rate_code(cfg->rate) < 0 || !cfg->period_frames || cfg->periods < 2 || cfg->periods > 16 ||
	    (uint64_t)cfg->period_frames * 4 > 13u * PAGE) {
		snprintf(err, errlen, "unsupported stream set-up");
		return -EINVAL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->cfg = *cfg;
	f->host = host;
	f->epfd = -1;
	f->period_bytes = cfg->period_frames * 4;	/* S16 stereo */
	/* rings, control areas, the buffer, headers and tables */
	f->mem_size = ((uint64_t)cfg->periods * (f->period_bytes + TABLE_BYTES + 16) + (1u << 20) + 0xfffff) &
		      ~0xfffffull;
	f->g = calloc(cfg->guests ? cfg->guests : 1, sizeof(*f->g));
	/* at most one wake-up per completion */
	f->wcap = (size_t)(cfg->max_seconds * cfg->rate / cfg->period_frames + 64) * (cfg->guests ? cfg->guests : 1);
	f->pass = malloc(f->wcap * sizeof(*f->pass));
	f->busy = malloc(f->wcap * sizeof(*f->busy));
	if (!f->g || !f->pass || !f->busy) {
		free(f->g);
		free(f->pass);
		free(f->busy);
		free(f);
		return -ENOMEM;
	}
	/* touched now: no page faults in the guest thread later */
	memset(f->pass, 0, f->wcap * sizeof(*f->pass));
	memset(f->busy, 0, f->wcap * sizeof(*f->busy));
	for (f->n = 0; f->n < cfg->guests; f->n++) {
		r = guest_setup(f, &f->g[f->n], f->n, err, errlen);
		if (r < 0) {
			f->n++;
			serve_fleet_free(f);
			return r;
		}
	}
	if (f->n) {
		struct vd_snd_stream_stats st;

		if (vd_snd_dev_stream_stats(f->g[0].dev, 0, &st) == 0)
			snprintf(f->desc, sizeof(f->desc), "%s", st.description);
	}
	*out = f;
	return 0;
}

/* The first look at guest @g in a wake-up: which completions are there, and when
 * they were seen. Done for every ready stream before any of them is drained, so a
 * stream's stamp does not wait for the other streams' refills: one thread serves
 * all the fake guests, where each real guest has its own vCPU. */
static void guest_look(struct guest *g)
{
	vd_ff_calls(&g->ff, TXQ);
	g->seen_idx = vd_ff_vq_used_idx(&g->ff, TXQ);
	g->seen_t = now_ns();
}

/* Completions of guest @g: timestamp, check, re-queue; then re-arm the interrupt. */
static void guest_drain(struct serve_fleet *f, struct guest *g, bool rec)
{
	uint32_t id, len;

	for (;;) {
		uint16_t at = g->ff.vq[TXQ].last_used;

		while (vd_ff_vq_used(&g->ff, TXQ, &id, &len) == 1) {
			uint64_t t = now_ns();
			uint32_t p = id < f->cfg.periods ? id : 0;
			const uint8_t *st = vd_ff_host(&g->ff, g->msg + 16ull * p + 4);
			/* seen at the first look, or (arrived since) now */
			bool seen = (uint16_t)(g->seen_idx - at) > 0 &&
				    (uint16_t)(g->seen_idx - at) <= QSIZE;

			if (id >= f->cfg.periods || len != VIRTIO_SND_PCM_STATUS_SIZE ||
			    vsnd_le32(st) != VIRTIO_SND_S_OK)
				g->bad++;
			if (rec && g->nts < g->cap) {
				g->ts[g->nts] = seen ? g->seen_t : t;
				g->late[g->nts++] = t;
			}
			at++;
			/* the application has written the period again: queue it */
			if (queue_period(g, p) < 0)
				g->bad++;
		}
		/* as virtqueue_enable_cb: ask for the next one, then look again (a race) */
		vd_ff_vq_set_used_event(&g->ff, TXQ, g->ff.vq[TXQ].last_used);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (vd_ff_vq_used_idx(&g->ff, TXQ) == g->ff.vq[TXQ].last_used)
			break;
	}
}

static void *guest_thread(void *arg)
{
	struct serve_fleet *f = arg;
	struct epoll_event ev[64];

	if (f->cfg.guest_cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(f->cfg.guest_cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	if (f->cfg.guest_priority > 0) {
		struct sched_param sp = { .sched_priority = f->cfg.guest_priority };

		pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	}
	while (!atomic_load(&f->stop)) {
		int n = epoll_wait(f->epfd, ev, 64, 50);
		bool rec = atomic_load(&f->window);
		uint64_t woke = now_ns(), looked;

		if (n <= 0)
			continue;
		for (int k = 0; k < n; k++)
			guest_look(&f->g[ev[k].data.u32]);
		looked = now_ns();
		for (int k = 0; k < n; k++)
			guest_drain(f, &f->g[ev[k].data.u32], rec);
		if (rec && f->nwake < f->wcap) {
			f->pass[f->nwake] = looked - woke;
			f->busy[f->nwake++] = now_ns() - woke;
		}
	}
	return NULL;
}

int serve_fleet_start(struct serve_fleet *f, char *err, size_t errlen)
{
	int r;

	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (f->epfd < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		return -errno;
	}
	for (unsigned i = 0; i < f->n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->g[i].ff.vq[TXQ].call, &ev) < 0) {
			snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
			return -errno;
		}
	}
	r = pthread_create(&f->thread, NULL, guest_thread, f);
	if (r) {
		snprintf(err, errlen, "guest thread: %s", strerror(r));
		return -r;
	}
	f->thread_started = true;
	/* The control queue is the dispatch side's; the guest thread only touches the tx queue. */
	for (unsigned i = 0; i < f->n; i++) {
		uint32_t st = pcm_cmd(&f->g[i], VIRTIO_SND_R_PCM_START);

		if (st != VIRTIO_SND_S_OK) {
			snprintf(err, errlen, "vm%u: START answered 0x%x", i, st);
			return -EIO;
		}
	}
	return 0;
}

void serve_fleet_window(struct serve_fleet *f, bool open)
{
	atomic_store(&f->window, open);
}

void serve_fleet_stop(struct serve_fleet *f)
{
	if (f->thread_started) {
		atomic_store(&f->stop, true);
		pthread_join(f->thread, NULL);
		f->thread_started = false;
	}
	if (f->stopped)
		return;
	f->stopped = true;
	for (unsigned i = 0; i < f->n; i++) {
		struct guest *g = &f->g[i];

		if (!g->connected)
			continue;
		pcm_cmd(g, VIRTIO_SND_R_PCM_STOP);
		pcm_cmd(g, VIRTIO_SND_R_PCM_RELEASE);
	}
}

void serve_fleet_free(struct serve_fleet *f)
{
	if (!f)
		return;
	serve_fleet_stop(f);
	for (unsigned i = 0; i < f->n; i++) {
		struct guest *g = &f->g[i];

		if (g->connected)
			vd_ff_close(&g->ff);
		vd_snd_dev_free(g->dev);
		free(g->ts);
		free(g->late);
	}
	free(f->pass);
	free(f->busy);
	if (f->epfd >= 0)
		close(f->epfd);
	free(f->g);
	free(f);
}

void serve_fleet_counters(struct serve_fleet *f, struct serve_fleet_counters *c)
{
	memset(c, 0, sizeof(*c));
	for (unsigned i = 0; i < f->n; i++) {
		struct vd_snd_stream_stats st;

		if (vd_snd_dev_stream_stats(f->g[i].dev, 0, &st) < 0)
			continue;
		c->completed += st.completed;
		c->errors += st.errors;
		c->frames += st.frames;
		c->underruns += st.underruns;
	}
}

const char *serve_fleet_description(struct serve_fleet *f)
{
	return f->desc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)n + 0.5);

	if (i < 1)
		i = 1;
	if (i > n)
		i = n;
	return v[i - 1];
}

static bool overlaps(uint64_t a, uint64_t b, const uint64_t *from, const uint64_t *to, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (from[i] < b && to[i] > a)
			return true;
	return false;
}

int serve_fleet_timing(struct serve_fleet *f, const uint64_t *from, const uint64_t *to, unsigned n,
		       struct serve_timing *t)
{
	size_t total = 0, k = 0, c = 0;
	double *iv, *dev, *clear, *late, period;

	memset(t, 0, sizeof(*t));
	period = 1e3 * f->cfg.period_frames / f->cfg.rate;
	t->period_ms = period;
	for (unsigned i = 0; i < f->n; i++) {
		total += f->g[i].nts > 1 ? f->g[i].nts - 1 : 0;
		t->guest_errors += f->g[i].bad;
	}
	if (!total)
		return 0;
	iv = malloc(total * sizeof(*iv));
	dev = malloc(total * sizeof(*dev));
	clear = malloc(total * sizeof(*clear));
	late = malloc((total > f->nwake ? total : f->nwake) * sizeof(*late));
	if (!iv || !dev || !clear || !late) {
		free(iv);
		free(dev);
		free(clear);
		free(late);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < f->n; i++)
		for (size_t j = 1; j < f->g[i].nts; j++) {
			double d = (double)(f->g[i].ts[j] - f->g[i].ts[j - 1]) / 1e6;
			double l = (double)(f->g[i].late[j] - f->g[i].late[j - 1]) / 1e6;

			late[k] = l > period ? l - period : period - l;

			iv[k] = d;
			dev[k] = d > period ? d - period : period - d;
			if (d < period / 2)
				t->doubles++;
			if (!overlaps(f->g[i].ts[j - 1], f->g[i].ts[j], from, to, n))
				clear[c++] = dev[k];
			k++;
		}
	qsort(iv, total, sizeof(*iv), cmp_double);
	qsort(dev, total, sizeof(*dev), cmp_double);
	t->intervals = total;
	t->iv_min = iv[0];
	t->iv_p50 = pct(iv, total, 0.50);
	t->iv_p99 = pct(iv, total, 0.99);
	t->iv_max = iv[total - 1];
	t->dev_p50 = pct(dev, total, 0.50);
	t->dev_p99 = pct(dev, total, 0.99);
	t->dev_max = dev[total - 1];
	t->clear_intervals = c;
	if (c) {
		qsort(clear, c, sizeof(*clear), cmp_double);
		t->clear_dev_p50 = pct(clear, c, 0.50);
		t->clear_dev_p99 = pct(clear, c, 0.99);
		t->clear_dev_max = clear[c - 1];
	}
	qsort(late, total, sizeof(*late), cmp_double);
	t->late_dev_p99 = pct(late, total, 0.99);
	t->late_dev_max = late[total - 1];
	t->wakeups = f->nwake;
	if (f->nwake) {
		for (size_t w = 0; w < f->nwake; w++)
			late[w] = (double)f->pass[w] / 1e6;
		qsort(late, f->nwake, sizeof(*late), cmp_double);
		t->pass_p99 = pct(late, f->nwake, 0.99);
		t->pass_max = late[f->nwake - 1];
		for (size_t w = 0; w < f->nwake; w++)
			late[w] = (double)f->busy[w] / 1e6;
		qsort(late, f->nwake, sizeof(*late), cmp_double);
		t->busy_p99 = pct(late, f->nwake, 0.99);
		t->busy_max = late[f->nwake - 1];
	}
	free(late);
	free(iv);
	free(dev);
	free(clear);
	return 0;
}
