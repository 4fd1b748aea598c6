/* tests/vhost/test_virtio_snd.c - the virtio-snd device model driven by the
 * fake front-end (memfd guest memory, hand-built rings) over a live host
 * graph that the test cycles itself (deterministic) or the real-time
 * scheduler runs: Linux's probe sequence, SET_PARAMS validation, the
 * lenient state machine, playback sample-exact and through a rate
 * converter, completion pacing, held buffers and RELEASE, capture, two
 * guests mixed, events, malformed messages, resets and reconnects. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <virtdsp/attach.h>
#include <virtdsp/sched.h>
#include <virtdsp/topology.h>

#include "analysis.h"
#include "fake_frontend.h"
#include "testnodes.h"
#include "testutil.h"
#include "virtio_snd/proto.h"
#include "virtio_snd/virtio_snd.h"

#define QSIZE 64
#define RING_FEATURES ((1ull << VD_VHOST_F_VERSION_1) | (1ull << VD_VHOST_F_INDIRECT_DESC) | \
		       (1ull << VD_VHOST_F_EVENT_IDX))
#define MEM_SIZE (64u << 20)

/* ---- host-side test nodes: a pattern source (the float recorder is testnodes' probe-sink) ---- */

/* Sample j of frame k of the pattern: an exact 16-bit value, different per channel. */
static int16_t pattern(uint64_t k, uint32_t c)
{
	return (int16_t)((int64_t)((k * 7 + c * 1000) % 4000) - 2000);
}

struct pattern_src {
	uint64_t k;
	uint32_t channels;
};

static int pattern_init(const struct vd_node_init *init, void **self, uint32_t *ni, uint32_t *no,
			struct vd_error *err)
{
	struct pattern_src *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->channels = 2;
	*ni = 0;
	*no = 1;
	*self = p;
	return 0;
}

static int pattern_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			     struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	vd_audio_format_init(&out[0], VD_FORMAT_F32, 48000, 2);
	return 0;
}

static int pattern_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
			   const struct vd_audio_format *out, uint32_t n_out, uint32_t max, struct vd_error *err)
{
	return 0;
}

static int pattern_process(void *self, struct vd_buffer *in, uint32_t n_in, struct vd_buffer *out, uint32_t n_out)
{
	struct pattern_src *p = self;
	float *d = out[0].data;

	for (uint32_t i = 0; i < out[0].frames; i++, p->k++)
		for (uint32_t c = 0; c < 2; c++)
			d[i * 2 + c] = pattern(p->k, c) / 32768.0f;
	return 0;
}

static int64_t pattern_total(void *self)
{
	return -1;
}

static const struct vd_node_ops pattern_ops = {
	.version = VD_NODE_OPS_VERSION, .type = "pattern-source", .flags = VD_NODE_SOURCE,
	.init = pattern_init, .free = free, .negotiate = pattern_negotiate,
	.prepare = pattern_prepare, .process = pattern_process, .total_frames = pattern_total,
};

/* 48 kHz, 10 ms periods: guests play into "playback", capture the pattern from "capture". */
static const char *host_topo =
	"pipeline host {\n"
	"  rate = 48000\n  period = 480\n"
	"  attach playback playback { channels = 2 }\n"
	"  sink out probe\n"
	"  link playback -> out\n"
	"  source sig pattern\n"
	"  attach capture capture { channels = 2 }\n"
	"  link sig -> capture\n"
	"}\n";

/* ---- the rig: host graph, device, fake front-end ---- */

struct msg {
	uint64_t hdr, data, status;	/* guest addresses */
	uint32_t len;
};

struct rig {
	struct vd_graph *host;
	struct vd_topology *host_t;
	struct test_probe *out;
	struct vd_snd_dev *dev;
	struct vd_ff ff;
	uint64_t req, resp;		/* control request/response areas */
	struct msg pool[QSIZE];		/* per descriptor head: where its message lives */
	uint64_t msg_area[QSIZE];
	char log[2048];
	char diag[2048];
};

static void log_cb(void *data, const char *msg)
{
	struct rig *r = data;
	size_t n = strlen(r->log);

	snprintf(r->log + n, sizeof(r->log) - n, "%s\n", msg);
}

static void diag_cb(void *data, const struct vd_error *e)
{
	char *buf = data, line[700];
	size_t n = strlen(buf);

	snprintf(buf + n, 2048 - n, "%s\n", vd_error_format(e, line, sizeof(line)));
}

static int pump(void *arg)
{
	return vd_snd_dev_handle(arg, VD_SND_FD_SOCKET);
}

static struct vd_graph *host_new(struct rig *r, const char *text)
{
	struct vd_diag diag = { .report = diag_cb, .data = r->diag };
	struct test_probes probes = { .cap = 48000 * 20 };
	struct vd_graph *g;

	test_probes = &probes;
	assert_int_equal(vd_topology_load_string(text, strlen(text), "host.topo", &r->host_t, &diag), 0);
	assert_int_equal(vd_graph_new(&g), 0);
	vd_graph_set_live(g, true);
	assert_int_equal(vd_graph_register_type(g, &test_probe_ops), 0);
	assert_int_equal(vd_graph_register_type(g, &pattern_ops), 0);
	if (vd_topology_build(r->host_t, g, &diag) < 0)
		fail_msg("host topology: %s", r->diag);
	test_probes = NULL;
	r->out = probes.last;
	return g;
}

static void connect_guest(struct rig *r, struct vd_snd_dev *dev, struct vd_ff *ff)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vd_snd_dev_attach(dev, sv[1]), 0);
	vd_ff_init(ff, sv[0], 4, pump, dev);
	assert_int_equal(vd_ff_add_region(ff, 0, MEM_SIZE, 0), 0);
	assert_int_equal(vd_ff_handshake(ff, 16), 0);
	if (vd_ff_start(ff, RING_FEATURES, QSIZE, NULL) < 0)
		fail_msg("start: %s", ff->err);
}

static void alloc_areas(struct rig *r)
{
	r->req = vd_ff_alloc(&r->ff, 4096, 16);
	r->resp = vd_ff_alloc(&r->ff, 65536, 16);
	for (unsigned i = 0; i < QSIZE; i++)
		r->msg_area[i] = vd_ff_alloc(&r->ff, 4 + 8 + 65536, 64);
}

/* A rig on @host (NULL: a new host graph from host_topo) with @guest (NULL: the default). */
static struct rig *rig_new_on(struct vd_graph *host, const char *guest, const struct vd_snd_options *o)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct vd_snd_options opts = { 0 };
	struct vd_diag diag = { .report = diag_cb, .data = r->diag };

	assert_non_null(r);
	if (o)
		opts = *o;
	opts.log = log_cb;
	opts.log_data = r;
	opts.topology_text = guest;
	opts.topology_len = guest ? strlen(guest) : 0;
	r->host = host ? host : host_new(r, host_topo);
	if (vd_snd_dev_new("vm", NULL, r->host, &opts, &r->dev, &diag) < 0)
		fail_msg("device: %s", r->diag);
	connect_guest(r, r->dev, &r->ff);
	alloc_areas(r);
	return r;
}

static struct rig *rig_new(void)
{
	return rig_new_on(NULL, NULL, NULL);
}

static void rig_free(struct rig *r, bool free_host)
{
	vd_ff_close(&r->ff);
	vd_snd_dev_free(r->dev);
	if (free_host) {
		vd_graph_free(r->host);
		vd_topology_free(r->host_t);
	}
	free(r);
}

/* ---- control requests ---- */

/* Send @req, with a writable reply of @resp_len bytes; returns the used length. */
static uint32_t ctl_raw(struct rig *r, const void *req, uint32_t len, void *resp, uint32_t resp_len)
{
	struct vd_ff_buf b[2] = {
		{ r->req, len, false },
		{ r->resp, resp_len, true },
	};
	uint32_t id, used;

	memcpy(vd_ff_host(&r->ff, r->req), req, len);
	memset(vd_ff_host(&r->ff, r->resp), 0xAA, resp_len);	/* so unwritten padding shows */
	assert_true(vd_ff_vq_add(&r->ff, 0, b, 2, false) >= 0);
	assert_int_equal(vd_snd_dev_handle(r->dev, VD_SND_FD_CONTROL), 0);
	assert_int_equal(vd_ff_vq_used(&r->ff, 0, &id, &used), 1);
	assert_int_equal(vd_ff_vq_used(&r->ff, 0, &id, &used), 0);	/* exactly one reply */
	if (resp)
		memcpy(resp, vd_ff_host(&r->ff, r->resp), resp_len);
	return used;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t ctl(struct rig *r, const void *req, uint32_t len)
{
	uint8_t resp[4];

	assert_int_equal(ctl_raw(r, req, len, resp, 4), 4);
	return le32(resp);
}

static uint32_t pcm_cmd(struct rig *r, uint32_t code, uint32_t stream)
{
	uint8_t req[8];

	put32(req, code);
	put32(req + 4, stream);
	return ctl(r, req, 8);
}

static uint32_t set_params(struct rig *r, uint32_t stream, uint32_t buffer, uint32_t period,
			   uint32_t features, uint8_t channels, uint8_t format, uint8_t rate)
{
	uint8_t req[24] = { 0 };

	put32(req, VIRTIO_SND_R_PCM_SET_PARAMS);
	put32(req + 4, stream);
	put32(req + 8, buffer);
	put32(req + 12, period);
	put32(req + 16, features);
	req[20] = channels;
	req[21] = format;
	req[22] = rate;
	return ctl(r, req, 24);
}

static uint32_t query(struct rig *r, uint32_t code, uint32_t start, uint32_t count, uint32_t size,
		      uint8_t *resp, uint32_t resp_len, uint32_t *used)
{
	uint8_t req[16];

	put32(req, code);
	put32(req + 4, start);
	put32(req + 8, count);
	put32(req + 12, size);
	*used = ctl_raw(r, req, 16, resp, resp_len);
	return le32(resp);
}

/* ---- I/O messages ---- */

/* Queue a tx message (Linux's layout: header, payload split per 4 KiB page, status). */
static int tx_add(struct rig *r, struct vd_ff *ff, uint32_t stream, const void *data, uint32_t len)
{
	struct vd_ff_buf b[20];
	unsigned n = 0, slot = ff->vq[2].next_desc;
	struct msg *m = &r->pool[slot];
	uint64_t base = r->msg_area[slot];
	int head;

	assert_true(len <= 65536);
	m->hdr = base;
	m->status = base + 4;
	m->data = base + 12;
	m->len = len;
	put32(vd_ff_host(ff, m->hdr), stream);
	memset(vd_ff_host(ff, m->status), 0xEE, 8);
	if (len)
		memcpy(vd_ff_host(ff, m->data), data, len);
	b[n++] = (struct vd_ff_buf){ m->hdr, 4, false };
	for (uint32_t off = 0; off < len; off += 4096)
		b[n++] = (struct vd_ff_buf){ m->data + off, len - off < 4096 ? len - off : 4096, false };
	b[n++] = (struct vd_ff_buf){ m->status, 8, true };
	head = vd_ff_vq_add(ff, 2, b, n, true);
	assert_int_equal(head, (int)slot);
	return head;
}

/* Queue an rx message: header, @len writable payload bytes, status. */
static int rx_add(struct rig *r, struct vd_ff *ff, uint32_t stream, uint32_t len)
{
	unsigned slot = ff->vq[3].next_desc;
	struct msg *m = &r->pool[slot];
	uint64_t base = r->msg_area[slot];
	struct vd_ff_buf b[3];
	int head;

	m->hdr = base;
	m->status = base + 4;
	m->data = base + 12;
	m->len = len;
	put32(vd_ff_host(ff, m->hdr), stream);
	memset(vd_ff_host(ff, m->status), 0xEE, 8);
	memset(vd_ff_host(ff, m->data), 0x55, len);
	b[0] = (struct vd_ff_buf){ m->hdr, 4, false };
	b[1] = (struct vd_ff_buf){ m->data, len, true };
	b[2] = (struct vd_ff_buf){ m->status, 8, true };
	head = vd_ff_vq_add(ff, 3, b, 3, true);
	assert_int_equal(head, (int)slot);
	return head;
}

struct done {
	uint32_t id, len, status, latency;
};

/* Completions on queue @q since the last look (at most @max). */
static unsigned completions(struct rig *r, struct vd_ff *ff, unsigned q, struct done *d, unsigned max)
{
	unsigned n = 0;
	uint32_t id, len;

	while (n < max && vd_ff_vq_used(ff, q, &id, &len) == 1) {
		const uint8_t *st = vd_ff_host(ff, r->pool[id].status);

		d[n].id = id;
		d[n].len = len;
		d[n].status = le32(st);
		d[n].latency = le32(st + 4);
		n++;
	}
	return n;
}

static void cycle(struct rig *r, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(vd_graph_cycle(r->host), 0);
}

/* Stream 0 (default topology: playback) set up for S16 stereo 48 kHz, 480-frame periods. */
static void playback_prepared(struct rig *r)
{
	assert_int_equal(set_params(r, 0, 4 * 1920, 1920, 0, 2, VIRTIO_SND_PCM_FMT_S16,
				    VIRTIO_SND_PCM_RATE_48000), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_PREPARE, 0), VIRTIO_SND_S_OK);
}

/* The S16 stereo frames of period @p of a test signal: frame k of it is pattern(p * 480 + k). */
static void period_data(int16_t *buf, uint64_t p)
{
	for (uint32_t k = 0; k < 480; k++)
		for (uint32_t c = 0; c < 2; c++)
			buf[k * 2 + c] = pattern(p * 480 + k, c);
}

/* ---- probe ---- */

static void test_config_and_features(void **state)
{
	struct rig *r = rig_new();
	uint8_t cfg[16];
	uint32_t got;
	uint64_t f;

	/* the handshake fetched 16 bytes: jacks, streams, chmaps, controls */
	assert_int_equal(r->ff.config_size, 16);
	assert_int_equal(le32(r->ff.config + 0), 2);
	assert_int_equal(le32(r->ff.config + 4), 2);
	assert_int_equal(le32(r->ff.config + 8), 2);
	assert_int_equal(le32(r->ff.config + 12), 0);
	/* QEMU 9.0/10 without controls=on read 12 bytes; any window inside 16 works */
	assert_int_equal(vd_ff_get_config(&r->ff, 4, 8, cfg, &got), 0);
	assert_int_equal(got, 12 + 8);	/* the config header, then the bytes */
	assert_int_equal(le32(cfg), 2);
	f = r->ff.backend_features;
	assert_true(f & (1ull << VD_VHOST_F_VERSION_1));
	assert_true(f & (1ull << VD_VHOST_F_INDIRECT_DESC));
	assert_true(f & (1ull << VD_VHOST_F_EVENT_IDX));
	assert_false(f & (1ull << VIRTIO_SND_F_CTLS));
	rig_free(r, true);

	struct vd_snd_options o = { .controls = true };
	r = rig_new_on(NULL, NULL, &o);
	assert_true(r->ff.backend_features & (1ull << VIRTIO_SND_F_CTLS));
	rig_free(r, true);
}

static void test_probe_sequence(void **state)
{
	struct rig *r = rig_new();
	uint8_t resp[1024];
	uint32_t used;

	/* JACK_INFO, PCM_INFO, CHMAP_INFO as Linux sends them: everything, at sizeof */
	assert_int_equal(query(r, VIRTIO_SND_R_JACK_INFO, 0, 2, 24, resp, 4 + 48, &used), VIRTIO_SND_S_OK);
	assert_int_equal(used, 4 + 48);
	assert_int_equal(le32(resp + 4 + 8) >> 20 & 0xf, 0x0);		/* line out */
	assert_int_equal(le32(resp + 4 + 24 + 8) >> 20 & 0xf, 0x8);	/* line in */
	assert_int_equal(resp[4 + 16], 1);				/* connected */
	for (int i = 17; i < 24; i++)
		assert_int_equal(resp[4 + i], 0);			/* padding zeroed */

	assert_int_equal(query(r, VIRTIO_SND_R_PCM_INFO, 0, 2, 32, resp, 4 + 64, &used), VIRTIO_SND_S_OK);
	assert_int_equal(used, 4 + 64);
	const uint8_t *p0 = resp + 4, *p1 = resp + 4 + 32;
	assert_int_equal(le32(p0), 0);					/* nid */
	assert_int_equal(le32(p0 + 4), 1u << VIRTIO_SND_PCM_F_EVT_XRUNS);
	uint64_t fmts = le32(p0 + 8) | (uint64_t)le32(p0 + 12) << 32;
	assert_int_equal(fmts, (1u << VIRTIO_SND_PCM_FMT_S16) | (1u << VIRTIO_SND_PCM_FMT_S24) |
			       (1u << VIRTIO_SND_PCM_FMT_S32) | (1u << VIRTIO_SND_PCM_FMT_FLOAT));
	uint64_t rates = le32(p0 + 16) | (uint64_t)le32(p0 + 20) << 32;
	/* 8 kHz..192 kHz, without 5512, 384k, 12k, 24k */
	assert_int_equal(rates, ((1u << (VIRTIO_SND_PCM_RATE_192000 + 1)) - 1) & ~1u);
	assert_int_equal(p0[24], VIRTIO_SND_D_OUTPUT);
	assert_int_equal(p0[25], 1);
	assert_int_equal(p0[26], 8);
	for (int i = 27; i < 32; i++)
		assert_int_equal(p0[i], 0);
	assert_int_equal(p1[24], VIRTIO_SND_D_INPUT);

	assert_int_equal(query(r, VIRTIO_SND_R_CHMAP_INFO, 0, 2, 24, resp, 4 + 48, &used), VIRTIO_SND_S_OK);
	assert_int_equal(resp[4 + 4], VIRTIO_SND_D_OUTPUT);
	assert_int_equal(resp[4 + 5], 8);
	static const uint8_t map8[] = { VIRTIO_SND_CHMAP_FL, VIRTIO_SND_CHMAP_FR, VIRTIO_SND_CHMAP_FC,
					VIRTIO_SND_CHMAP_LFE, VIRTIO_SND_CHMAP_RL, VIRTIO_SND_CHMAP_RR,
					VIRTIO_SND_CHMAP_SL, VIRTIO_SND_CHMAP_SR };
	assert_memory_equal(resp + 4 + 6, map8, 8);
	for (int i = 14; i < 24; i++)
		assert_int_equal(resp[4 + i], 0);

	/* a larger stride: items at 40-byte steps, the extra bytes zeroed */
	assert_int_equal(query(r, VIRTIO_SND_R_PCM_INFO, 0, 2, 40, resp, 4 + 80, &used), VIRTIO_SND_S_OK);
	assert_int_equal(used, 4 + 80);
	assert_int_equal(resp[4 + 40 + 24], VIRTIO_SND_D_INPUT);
	for (int i = 32; i < 40; i++)
		assert_int_equal(resp[4 + i], 0);
	/* start_id / count: only the second stream */
	assert_int_equal(query(r, VIRTIO_SND_R_PCM_INFO, 1, 1, 32, resp, 4 + 32, &used), VIRTIO_SND_S_OK);
	assert_int_equal(used, 4 + 32);
	assert_int_equal(resp[4 + 24], VIRTIO_SND_D_INPUT);
	/* count 0 is an empty answer */
	assert_int_equal(query(r, VIRTIO_SND_R_PCM_INFO, 2, 0, 32, resp, 4, &used), VIRTIO_SND_S_OK);
	assert_int_equal(used, 4);

	/* refusals: past the end, stride too small or absurd, no room */
	assert_int_equal(query(r, VIRTIO_SND_R_PCM_INFO, 1, 2, 32, resp, 4 + 64, &used), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(used, 4);
	assert_int_equal(query(r, VIRTIO_SND_R_PCM_INFO, 0xffffffffu, 2, 32, resp, 4 + 64, &used),
			 VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(query(r, VIRTIO_SND_R_JACK_INFO, 0, 2, 23, resp, 4 + 48, &used), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(query(r, VIRTIO_SND_R_CHMAP_INFO, 0, 1, 1u << 20, resp, 4 + 48, &used),
			 VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(query(r, VIRTIO_SND_R_PCM_INFO, 0, 2, 32, resp, 4 + 63, &used), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(used, 4);
	rig_free(r, true);
}

/* The request split over many descriptors, one byte each; the reply over several too. */
static void test_byte_stream_parsing(void **state)
{
	struct rig *r = rig_new();
	uint8_t req[16];
	struct vd_ff_buf b[16 + 3];
	uint32_t id, used;
	uint8_t *resp;

	put32(req, VIRTIO_SND_R_PCM_INFO);
	put32(req + 4, 0);
	put32(req + 8, 2);
	put32(req + 12, 32);
	memcpy(vd_ff_host(&r->ff, r->req), req, 16);
	for (unsigned i = 0; i < 16; i++)
		b[i] = (struct vd_ff_buf){ r->req + i, 1, false };
	b[16] = (struct vd_ff_buf){ r->resp, 3, true };		/* status split 3 + 1 */
	b[17] = (struct vd_ff_buf){ r->resp + 3, 30, true };
	b[18] = (struct vd_ff_buf){ r->resp + 33, 35, true };
	assert_true(vd_ff_vq_add(&r->ff, 0, b, 19, true) >= 0);
	assert_int_equal(vd_snd_dev_handle(r->dev, VD_SND_FD_CONTROL), 0);
	assert_int_equal(vd_ff_vq_used(&r->ff, 0, &id, &used), 1);
	assert_int_equal(used, 68);
	resp = vd_ff_host(&r->ff, r->resp);
	assert_int_equal(le32(resp), VIRTIO_SND_S_OK);
	assert_int_equal(resp[4 + 32 + 24], VIRTIO_SND_D_INPUT);
	rig_free(r, true);
}

static void test_other_requests(void **state)
{
	struct rig *r = rig_new();
	uint8_t req[24] = { 0 };

	put32(req, VIRTIO_SND_R_JACK_REMAP);
	assert_int_equal(ctl(r, req, 16), VIRTIO_SND_S_NOT_SUPP);
	put32(req, VIRTIO_SND_R_CTL_INFO);
	assert_int_equal(ctl(r, req, 16), VIRTIO_SND_S_NOT_SUPP);
	put32(req, 0x4242);
	assert_int_equal(ctl(r, req, 16), VIRTIO_SND_S_NOT_SUPP);
	assert_non_null(strstr(r->log, "unknown control request 0x4242"));
	/* too short for any header */
	assert_int_equal(ctl(r, req, 2), VIRTIO_SND_S_BAD_MSG);
	/* too short for its code */
	put32(req, VIRTIO_SND_R_PCM_INFO);
	assert_int_equal(ctl(r, req, 12), VIRTIO_SND_S_BAD_MSG);
	put32(req, VIRTIO_SND_R_PCM_START);
	assert_int_equal(ctl(r, req, 4), VIRTIO_SND_S_BAD_MSG);
	put32(req, VIRTIO_SND_R_PCM_SET_PARAMS);
	assert_int_equal(ctl(r, req, 23), VIRTIO_SND_S_BAD_MSG);
	/* no room for a status: used length 0, nothing written */
	put32(req, VIRTIO_SND_R_PCM_INFO);
	assert_int_equal(ctl_raw(r, req, 16, NULL, 3), 0);
	assert_int_equal(*(uint8_t *)vd_ff_host(&r->ff, r->resp), 0xAA);
	rig_free(r, true);
}

/* ---- SET_PARAMS and the state machine ---- */

static void test_set_params_validation(void **state)
{
	struct rig *r = rig_new();
	const uint8_t S16 = VIRTIO_SND_PCM_FMT_S16, R48 = VIRTIO_SND_PCM_RATE_48000;

	assert_int_equal(set_params(r, 2, 7680, 1920, 0, 2, S16, R48), VIRTIO_SND_S_BAD_MSG);	/* stream */
	assert_int_equal(set_params(r, 0, 7680, 1920, 0, 2, VIRTIO_SND_PCM_FMT_U8, R48), VIRTIO_SND_S_BAD_MSG);
	assert_non_null(strstr(r->log, "SET_PARAMS stream 0: format 4 not offered"));
	assert_int_equal(set_params(r, 0, 7680, 1920, 0, 2, 200, R48), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(r, 0, 7680, 1920, 0, 2, S16, VIRTIO_SND_PCM_RATE_384000), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(r, 0, 7680, 1920, 0, 2, S16, VIRTIO_SND_PCM_RATE_12000), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(r, 0, 7680, 1920, 0, 2, S16, VIRTIO_SND_PCM_RATE_5512), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(r, 0, 7680, 1920, 0, 2, S16, 99), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(r, 0, 7680, 1920, 0, 0, S16, R48), VIRTIO_SND_S_BAD_MSG);	/* channels */
	assert_int_equal(set_params(r, 0, 7680, 1920, 0, 9, S16, R48), VIRTIO_SND_S_BAD_MSG);
	assert_non_null(strstr(r->log, "9 channels outside 1..8"));
	assert_int_equal(set_params(r, 0, 7680, 1920, 1u << VIRTIO_SND_PCM_F_SHMEM_HOST, 2, S16, R48),
			 VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(r, 0, 7680, 1920, 1u << VIRTIO_SND_PCM_F_MSG_POLLING, 2, S16, R48),
			 VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(r, 0, 7680, 0, 0, 2, S16, R48), VIRTIO_SND_S_BAD_MSG);	/* period 0 */
	assert_int_equal(set_params(r, 0, 0, 1920, 0, 2, S16, R48), VIRTIO_SND_S_BAD_MSG);	/* buffer 0 */
	assert_int_equal(set_params(r, 0, 7000, 1920, 0, 2, S16, R48), VIRTIO_SND_S_BAD_MSG);	/* not n periods */
	assert_int_equal(set_params(r, 0, 7682, 1922, 0, 2, S16, R48), VIRTIO_SND_S_BAD_MSG);	/* half frames */
	assert_int_equal(set_params(r, 0, 8u << 20, 1u << 20, 0, 2, S16, R48), VIRTIO_SND_S_BAD_MSG);
	assert_non_null(strstr(r->log, "buffer 8388608 / period 1048576 bytes refused"));
	assert_int_equal(set_params(r, 1, 7680, 1920, 0, 2, S16, R48), VIRTIO_SND_S_OK);	/* capture too */
	/* every refusal changed nothing: stream 0 still has no parameters */
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_PREPARE, 0), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(r, 0, 4u << 20, 16384, 1u << VIRTIO_SND_PCM_F_EVT_XRUNS, 2, S16, R48),
			 VIRTIO_SND_S_OK);
	assert_int_equal(set_params(r, 0, 4 * 1928, 1928, 0, 8, VIRTIO_SND_PCM_FMT_FLOAT,
				    VIRTIO_SND_PCM_RATE_192000), VIRTIO_SND_S_BAD_MSG);	/* 32-byte frames */
	assert_int_equal(set_params(r, 0, 7680 * 2, 3840, 0, 8, VIRTIO_SND_PCM_FMT_FLOAT,
				    VIRTIO_SND_PCM_RATE_192000), VIRTIO_SND_S_OK);
	rig_free(r, true);
}

static void test_state_machine(void **state)
{
	struct rig *r = rig_new();
	struct vd_snd_stream_stats st;

	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_PREPARE, 0), VIRTIO_SND_S_BAD_MSG);
	assert_non_null(strstr(r->log, "PREPARE stream 0: refused in state 'none' (no parameters)"));
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 7), VIRTIO_SND_S_BAD_MSG);
	/* sox: SET_PARAMS + PREPARE three times, then START */
	for (int i = 0; i < 3; i++)
		playback_prepared(r);
	assert_int_equal(vd_snd_dev_stream_stats(r->dev, 0, &st), 0);
	assert_int_equal(st.state, VD_SND_STATE_PREPARED);
	assert_non_null(strstr(st.description, "pcm_out"));
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);	/* again: no-op */
	assert_int_equal(set_params(r, 0, 7680, 1920, 0, 2, VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_48000),
			 VIRTIO_SND_S_BAD_MSG);
	assert_non_null(strstr(r->log, "SET_PARAMS stream 0: refused while running"));
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_PREPARE, 0), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_RELEASE, 0), VIRTIO_SND_S_BAD_MSG);
	assert_non_null(strstr(r->log, "RELEASE stream 0: refused in state 'running'"));
	cycle(r, 3);
	/* pause and resume */
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_RELEASE, 0), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_RELEASE, 0), VIRTIO_SND_S_OK);	/* idempotent */
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_BAD_MSG);
	vd_snd_dev_stream_stats(r->dev, 0, &st);
	assert_int_equal(st.state, VD_SND_STATE_RELEASED);
	assert_string_equal(st.description, "");
	/* parameters survive RELEASE: PREPARE alone is enough */
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_PREPARE, 0), VIRTIO_SND_S_OK);
	/* SET_PARAMS when stopped implies RELEASE */
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_OK);
	playback_prepared(r);
	cycle(r, 2);
	rig_free(r, true);
}

/* Linux's suspend: STOP, then the device is reset (GET_VRING_BASE, rings recreated) without
 * RELEASE; on resume SET_PARAMS + PREPARE + START again, and held buffers were returned. */
static void test_resume_after_reset(void **state)
{
	struct rig *r = rig_new();
	int16_t buf[960];
	struct done d[8];
	struct vd_snd_stream_stats st;
	uint16_t bases[4];

	playback_prepared(r);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	period_data(buf, 0);
	tx_add(r, &r->ff, 0, buf, 1920);
	tx_add(r, &r->ff, 0, buf, 1920);
	tx_add(r, &r->ff, 0, buf, 1920);
	cycle(r, 1);
	assert_int_equal(completions(r, &r->ff, 2, d, 8), 1);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_OK);
	/* QEMU stops the device: the two held messages come back before GET_VRING_BASE answers */
	assert_int_equal(vd_ff_stop(&r->ff, bases), 0);
	assert_int_equal(completions(r, &r->ff, 2, d, 8), 2);
	assert_int_equal(d[0].status, VIRTIO_SND_S_OK);
	assert_int_equal(d[0].latency, 0);
	assert_int_equal(d[1].len, 8);
	vd_snd_dev_stream_stats(r->dev, 0, &st);
	assert_int_equal(st.state, VD_SND_STATE_RELEASED);
	assert_int_equal(st.held, 0);
	/* the guest recreates its rings */
	for (unsigned q = 0; q < 4; q++)
		assert_int_equal(vd_ff_vq_alloc(&r->ff, q, QSIZE), 0);
	if (vd_ff_start(&r->ff, RING_FEATURES, QSIZE, NULL) < 0)
		fail_msg("restart: %s", r->ff.err);
	playback_prepared(r);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	tx_add(r, &r->ff, 0, buf, 1920);
	cycle(r, 1);
	assert_int_equal(completions(r, &r->ff, 2, d, 8), 1);
	assert_int_equal(d[0].status, VIRTIO_SND_S_OK);
	rig_free(r, true);
}

/* A memory-table change while playing (REMAP): the held messages come back early, the stream
 * keeps running and plays what the guest sends next. */
static void test_memory_remap_while_playing(void **state)
{
	struct rig *r = rig_new();
	int16_t buf[960];
	struct done d[QSIZE];
	struct vd_snd_stream_stats st;

	playback_prepared(r);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	period_data(buf, 0);
	for (int i = 0; i < 3; i++)
		tx_add(r, &r->ff, 0, buf, 1920);
	cycle(r, 1);
	assert_int_equal(completions(r, &r->ff, 2, d, QSIZE), 1);
	assert_int_equal(vd_ff_send_memory(&r->ff), 0);
	assert_int_equal(completions(r, &r->ff, 2, d, QSIZE), 2);
	assert_int_equal(d[0].latency, 0);
	vd_snd_dev_stream_stats(r->dev, 0, &st);
	assert_int_equal(st.state, VD_SND_STATE_RUNNING);
	assert_int_equal(st.held, 0);
	tx_add(r, &r->ff, 0, buf, 1920);
	cycle(r, 1);
	assert_int_equal(completions(r, &r->ff, 2, d, QSIZE), 1);
	assert_int_equal(d[0].status, VIRTIO_SND_S_OK);
	assert_false(vd_vhost_dev_broken(vd_snd_dev_vhost(r->dev)));
	rig_free(r, true);
}

/* ---- playback ---- */

static void test_playback_exact_and_paced(void **state)
{
	struct rig *r = rig_new();
	int16_t buf[960];
	struct done d[QSIZE];
	uint64_t start_out;

	playback_prepared(r);
	cycle(r, 2);
	/* pre-buffered in PREPARED: held, not played, not completed */
	for (uint64_t p = 0; p < 4; p++) {
		period_data(buf, p);
		tx_add(r, &r->ff, 0, buf, 1920);
	}
	cycle(r, 5);
	assert_int_equal(completions(r, &r->ff, 2, d, QSIZE), 0);
	for (uint64_t i = 0; i < r->out->n * 2; i++)
		assert_true(r->out->data[i] == 0.0f);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	assert_int_equal(completions(r, &r->ff, 2, d, QSIZE), 0);	/* START plays nothing by itself */
	start_out = r->out->n;

	/* Then exactly one completion per host cycle, in order, with the status in the last
	 * 8 writable bytes and latency_bytes = what the pipeline holds behind the message. */
	uint64_t next = 4;
	for (int c = 0; c < 40; c++) {
		cycle(r, 1);
		assert_int_equal(completions(r, &r->ff, 2, d, QSIZE), 1);
		assert_int_equal(d[0].status, VIRTIO_SND_S_OK);
		assert_int_equal(d[0].len, 8);
		assert_int_equal(d[0].id, (uint32_t)c % QSIZE);
		/* one host period (the host's cycle) plus the half period the attach FIFO keeps */
		assert_int_equal(d[0].latency, (480 + 240) * 4);
		/* the guest refills as Linux (6.7+) does: one period per completion */
		period_data(buf, next++);
		tx_add(r, &r->ff, 0, buf, 1920);
		/* arrival completes nothing */
		assert_int_equal(vd_snd_dev_handle(r->dev, VD_SND_FD_CONTROL), 0);
		assert_int_equal(completions(r, &r->ff, 2, d, QSIZE), 0);
	}
	/* sample-exact: the host output is the guest's frames, in order, after the reserve */
	uint64_t played = r->out->n - start_out;
	assert_int_equal(played, 40 * 480);
	const float *o = r->out->data + start_out * 2;
	uint64_t lead = 0;
	while (lead < played && o[lead * 2] == 0.0f && o[lead * 2 + 1] == 0.0f)
		lead++;
	assert_int_equal(lead, 240);	/* the reserve: half a period of silence from before START */
	for (uint64_t k = 0; k < played - lead; k++)
		for (uint32_t c = 0; c < 2; c++)
			if (o[(lead + k) * 2 + c] != pattern(k, c) / 32768.0f)
				fail_msg("frame %lu ch %u: %g, want %d/32768", (unsigned long)k, c,
					 o[(lead + k) * 2 + c], pattern(k, c));
	struct vd_snd_stream_stats st;
	vd_snd_dev_stream_stats(r->dev, 0, &st);
	assert_int_equal(st.completed, 40);
	assert_int_equal(st.underruns, 0);
	assert_int_equal(st.held, 3);	/* the fourth is still in the ring: popped at the next cycle */
	print_message("playback: 40 host cycles, 40 completions (one per cycle), %lu frames sample-exact, "
		      "latency_bytes %u\n", (unsigned long)(played - lead), (480 + 240) * 4);
	rig_free(r, true);
}

static void test_release_completes_held(void **state)
{
	struct rig *r = rig_new();
	int16_t buf[960] = { 0 };
	struct done d[QSIZE];

	playback_prepared(r);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	for (int i = 0; i < 5; i++)
		tx_add(r, &r->ff, 0, buf, 1920);
	cycle(r, 2);
	assert_int_equal(completions(r, &r->ff, 2, d, QSIZE), 2);
	/* STOP holds the rest (pause) */
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_OK);
	cycle(r, 5);
	assert_int_equal(completions(r, &r->ff, 2, d, QSIZE), 0);
	/* RELEASE: the three held ones are in the used ring before the reply is */
	uint8_t req[8];
	struct vd_ff_buf b[2] = { { r->req, 8, false }, { r->resp, 4, true } };
	uint16_t ctl_used_before = vd_ff_vq_used_idx(&r->ff, 0);
	put32(req, VIRTIO_SND_R_PCM_RELEASE);
	put32(req + 4, 0);
	memcpy(vd_ff_host(&r->ff, r->req), req, 8);
	assert_true(vd_ff_vq_add(&r->ff, 0, b, 2, false) >= 0);
	assert_int_equal(vd_snd_dev_handle(r->dev, VD_SND_FD_CONTROL), 0);
	assert_int_equal(vd_ff_vq_used_idx(&r->ff, 0), (uint16_t)(ctl_used_before + 1));
	assert_int_equal(le32(vd_ff_host(&r->ff, r->resp)), VIRTIO_SND_S_OK);
	assert_int_equal(completions(r, &r->ff, 2, d, QSIZE), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(d[i].status, VIRTIO_SND_S_OK);
		assert_int_equal(d[i].latency, 0);
		assert_int_equal(d[i].id, 2 + i);
	}
	uint32_t id, len;
	assert_int_equal(vd_ff_vq_used(&r->ff, 0, &id, &len), 1);
	rig_free(r, true);
}

/* Underrun: silence, counted, and a PCM_XRUN event when the guest selected EVT_XRUNS. */
static void test_underrun_and_xrun_event(void **state)
{
	struct rig *r = rig_new();
	int16_t buf[960];
	uint64_t ev[4];
	struct vd_ff_buf eb[4];
	struct vd_snd_stream_stats st;
	uint32_t id, len;

	/* the driver posts event buffers without a kick */
	for (int i = 0; i < 4; i++) {
		ev[i] = vd_ff_alloc(&r->ff, 8, 8);
		eb[i] = (struct vd_ff_buf){ ev[i], 8, true };
		assert_true(vd_ff_vq_add(&r->ff, 1, &eb[i], 1, false) >= 0);
	}
	assert_int_equal(set_params(r, 0, 7680, 1920, 1u << VIRTIO_SND_PCM_F_EVT_XRUNS, 2,
				    VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_48000), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_PREPARE, 0), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	period_data(buf, 0);
	tx_add(r, &r->ff, 0, buf, 1920);
	cycle(r, 4);
	vd_snd_dev_stream_stats(r->dev, 0, &st);
	assert_int_equal(st.completed, 1);
	assert_true(st.underruns >= 2);
	/* the processing thread woke the event loop */
	struct pollfd pfd = { .fd = vd_snd_dev_fd(r->dev, VD_SND_FD_NOTIFY), .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_int_equal(vd_snd_dev_handle(r->dev, VD_SND_FD_NOTIFY), 0);
	assert_int_equal(vd_ff_vq_used(&r->ff, 1, &id, &len), 1);
	assert_int_equal(len, 8);
	assert_int_equal(le32(vd_ff_host(&r->ff, ev[0])), VIRTIO_SND_EVT_PCM_XRUN);
	assert_int_equal(le32((uint8_t *)vd_ff_host(&r->ff, ev[0]) + 4), 0);
	/* one event per underrun episode, not per cycle */
	assert_int_equal(vd_ff_vq_used(&r->ff, 1, &id, &len), 0);
	/* jacks: a host endpoint going away and coming back */
	assert_int_equal(vd_snd_dev_set_jack(r->dev, 1, false), 0);
	assert_int_equal(vd_ff_vq_used(&r->ff, 1, &id, &len), 1);
	assert_int_equal(le32(vd_ff_host(&r->ff, ev[1])), VIRTIO_SND_EVT_JACK_DISCONNECTED);
	assert_int_equal(le32((uint8_t *)vd_ff_host(&r->ff, ev[1]) + 4), 1);
	assert_int_equal(vd_snd_dev_set_jack(r->dev, 5, false), -EINVAL);
	uint8_t resp[64];
	uint32_t used;
	assert_int_equal(query(r, VIRTIO_SND_R_JACK_INFO, 1, 1, 24, resp, 28, &used), VIRTIO_SND_S_OK);
	assert_int_equal(resp[4 + 16], 0);
	/* events without buffers wait (bounded), and go out when buffers come */
	assert_int_equal(vd_snd_dev_set_jack(r->dev, 1, true), 0);
	assert_int_equal(vd_snd_dev_set_jack(r->dev, 0, false), 0);
	assert_int_equal(vd_snd_dev_set_jack(r->dev, 0, true), 0);
	assert_int_equal(vd_ff_vq_used(&r->ff, 1, &id, &len), 1);
	assert_int_equal(vd_ff_vq_used(&r->ff, 1, &id, &len), 1);
	assert_int_equal(vd_ff_vq_used(&r->ff, 1, &id, &len), 0);
	uint64_t e5 = vd_ff_alloc(&r->ff, 8, 8);
	struct vd_ff_buf b5 = { e5, 8, true };
	assert_true(vd_ff_vq_add(&r->ff, 1, &b5, 1, false) >= 0);
	vd_ff_kick(&r->ff, 1);
	assert_int_equal(vd_snd_dev_handle(r->dev, VD_SND_FD_EVENT), 0);
	assert_int_equal(vd_ff_vq_used(&r->ff, 1, &id, &len), 1);
	assert_int_equal(le32(vd_ff_host(&r->ff, e5)), VIRTIO_SND_EVT_JACK_CONNECTED);
	assert_int_equal(le32((uint8_t *)vd_ff_host(&r->ff, e5) + 4), 0);
	rig_free(r, true);
}

/*
 * 44.1 kHz guest periods (441 frames) on a 48 kHz host with 1 ms cycles (48 frames), as
 * bench_serve runs them, cycled by the test so that time is counted in host cycles, not read
 * from a loaded machine's clock. A guest cycle takes 45 frames (a little more than a host
 * period's worth), so a period's last frame is taken 9, 10 or 11 cycles after the previous
 * one's: never two completions in one cycle, never an interval under 9 cycles, and a period
 * never completes earlier than its frames leave the host by more than the latency the
 * device reports. Then the guest re-queues late (up to 35 cycles, so the stream underruns
 * now and then) and the same holds.
 */
static void test_playback_44k1_on_1ms_host(void **state)
{
	static const char *topo =
		"pipeline host {\n"
		"  rate = 48000\n  period = 48\n"
		"  attach playback playback { channels = 2 }\n"
		"  sink out probe\n"
		"  link playback -> out\n"
		"  source sig pattern\n"
		"  attach capture capture { channels = 2 }\n"
		"  link sig -> capture\n"
		"}\n";
	struct rig *tmp = calloc(1, sizeof(*tmp));
	struct vd_graph *host = host_new(tmp, topo);
	struct vd_topology *host_t = tmp->host_t;
	struct rig *r = rig_new_on(host, NULL, NULL);
	const uint32_t period = 441, bytes = period * 4, cycles = 3000;
	int16_t *buf = calloc(bytes, 1);
	struct done d[QSIZE];
	struct vd_snd_stream_stats st;
	uint32_t due[4], rng = 1;

	r->host_t = host_t;
	r->out = tmp->out;
	free(tmp);
	assert_int_equal(set_params(r, 0, 4 * bytes, bytes, 0, 2, VIRTIO_SND_PCM_FMT_S16,
				    VIRTIO_SND_PCM_RATE_44100), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_PREPARE, 0), VIRTIO_SND_S_OK);
	for (int i = 0; i < 4; i++)
		tx_add(r, &r->ff, 0, buf, bytes);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	for (int late = 0; late < 2; late++) {
		unsigned total = 0, ndue = 0, hist[12] = { 0 };
		long last = -1, lead_min = LONG_MAX, lead_max = LONG_MIN, lat_max = 0;
		uint64_t out0 = r->out->n;

		for (uint32_t c = 0; c < cycles; c++) {
			cycle(r, 1);
			unsigned n = completions(r, &r->ff, 2, d, QSIZE);

			if (n > 1)
				fail_msg("cycle %u: %u completions at once", c, n);
			if (n == 1) {
				/* the 441 frames are 480 at the host rate: how far ahead of the host output */
				long lead = (long)(total + 1) * 480 - (long)(r->out->n - out0);
				long latency = (long)d[0].latency / 4 * 48000 / 44100;

				assert_int_equal(d[0].status, VIRTIO_SND_S_OK);
				if (last >= 0) {
					long iv = (long)c - last;

					if (iv < 9 || iv > (late ? 60 : 11))
						fail_msg("cycle %u: %ld cycles since the last completion", c, iv);
					hist[iv < 11 ? iv : 11]++;
				}
				if (lead > latency)
					fail_msg("cycle %u: period %u completed %ld host frames before it was played, "
						 "more than the reported latency (%ld)", c, total, lead, latency);
				lead_min = lead < lead_min ? lead : lead_min;
				lead_max = lead > lead_max ? lead : lead_max;
				lat_max = latency > lat_max ? latency : lat_max;
				last = c;
				total++;
				/* the application refills it: at once, or up to 35 cycles later */
				rng = rng * 1664525u + 1013904223u;
				due[ndue++] = c + (late ? (rng >> 16) % 36 : 0);
			}
			for (unsigned i = 0; i < ndue;) {
				if (due[i] > c) {
					i++;
					continue;
				}
				tx_add(r, &r->ff, 0, buf, bytes);
				due[i] = due[--ndue];
			}
		}
		vd_snd_dev_stream_stats(r->dev, 0, &st);
		print_message("44.1k on 1 ms cycles%s: %u completions in %u cycles, intervals 9/10/11+ "
			      "cycles: %u/%u/%u, lead over the host output %ld..%ld frames (latency %ld), "
			      "%lu underruns\n", late ? ", late refills" : "", total, cycles, hist[9], hist[10],
			      hist[11], lead_min, lead_max, lat_max, (unsigned long)st.underruns);
		if (!late) {
			/* 10 ms each, with a full buffer: every cycle's worth is played */
			assert_true(total >= 299 && total <= 300);
			assert_int_equal(st.underruns, 0);
			assert_true(lead_min >= 0);
		} else {
			assert_true(st.underruns > 0);
		}
		/* give back what is still due before the next phase */
		for (unsigned i = 0; i < ndue; i++)
			tx_add(r, &r->ff, 0, buf, bytes);
	}
	free(buf);
	rig_free(r, true);
}

/* A 44.1 kHz S16 sine into the 48 kHz host: src inserted, level and length right, still one
 * completion per host cycle. */
static void test_playback_resampled(void **state)
{
	struct rig *r = rig_new();
	const uint32_t period = 441, bytes = period * 4;
	int16_t *buf = malloc(bytes);
	float *sine = malloc(sizeof(float) * 44100 * 2 * 2);
	struct done d[QSIZE];
	struct vd_snd_stream_stats st;
	unsigned max_per_cycle = 0, total = 0;
	uint64_t sent = 0;

	vd_gen_sine(sine, 44100 * 2, 2, 44100, 1000, 0.5, 0);
	assert_int_equal(set_params(r, 0, 4 * bytes, bytes, 0, 2, VIRTIO_SND_PCM_FMT_S16,
				    VIRTIO_SND_PCM_RATE_44100), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_PREPARE, 0), VIRTIO_SND_S_OK);
	vd_snd_dev_stream_stats(r->dev, 0, &st);
	assert_non_null(strstr(st.description, "src"));
	for (int i = 0; i < 4; i++, sent++) {
		for (uint32_t k = 0; k < period * 2; k++)
			buf[k] = (int16_t)lrintf(sine[sent * period * 2 + k] * 32767.0f);
		tx_add(r, &r->ff, 0, buf, bytes);
	}
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	uint64_t start_out = r->out->n;
	for (int c = 0; c < 150; c++) {	/* 1.5 s */
		cycle(r, 1);
		unsigned n = completions(r, &r->ff, 2, d, QSIZE);
		if (n > max_per_cycle)
			max_per_cycle = n;
		total += n;
		for (unsigned i = 0; i < n && sent < 196; i++, sent++) {
			for (uint32_t k = 0; k < period * 2; k++)
				buf[k] = (int16_t)lrintf(sine[sent * period * 2 + k] * 32767.0f);
			tx_add(r, &r->ff, 0, buf, bytes);
		}
	}
	assert_int_equal(max_per_cycle, 1);
	assert_int_equal(total, 150);
	/* 1 s of the host output, from 0.2 s on: a 1 kHz sine at -6 dBFS */
	const float *o = r->out->data + (start_out + 9600) * 2;
	struct vd_sine_fit fit;
	assert_int_equal(vd_sine_fit(o, 48000, 2, 48000, 1000, &fit), 0);
	print_message("44.1k->48k playback: %.3f Hz, amplitude %.5f, SNR %.1f dB, %u completions in 150 "
		      "cycles, at most %u per cycle\n", fit.freq, fit.amplitude, fit.snr_db, total, max_per_cycle);
	assert_true(fabs(fit.freq - 1000) < 0.05);
	assert_true(fabs(fit.amplitude - 0.5) < 0.001);
	assert_true(fit.snr_db > 80);
	free(buf);
	free(sine);
	rig_free(r, true);
}

/* ---- capture ---- */

static void test_capture_exact(void **state)
{
	struct rig *r = rig_new();
	struct done d[QSIZE];
	int64_t k0 = -1;

	assert_int_equal(set_params(r, 1, 4 * 1920, 1920, 0, 2, VIRTIO_SND_PCM_FMT_S16,
				    VIRTIO_SND_PCM_RATE_48000), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_PREPARE, 1), VIRTIO_SND_S_OK);
	/* Linux queues every period before START */
	for (int i = 0; i < 4; i++)
		rx_add(r, &r->ff, 1, 1920);
	cycle(r, 3);
	assert_int_equal(completions(r, &r->ff, 3, d, QSIZE), 0);	/* held until START */
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 1), VIRTIO_SND_S_OK);
	for (int c = 0; c < 20; c++) {
		cycle(r, 1);
		assert_int_equal(completions(r, &r->ff, 3, d, QSIZE), 1);
		assert_int_equal(d[0].status, VIRTIO_SND_S_OK);
		assert_int_equal(d[0].len, 1920 + 8);	/* frames + status */
		const int16_t *x = vd_ff_host(&r->ff, r->pool[d[0].id].data);
		if (k0 < 0) {
			/* find where in the host pattern the capture started */
			for (int64_t k = 0; k < 100000 && k0 < 0; k++)
				if (pattern(k, 0) == x[0] && pattern(k, 1) == x[1] &&
				    pattern(k + 1, 0) == x[2] && pattern(k + 100, 1) == x[201])
					k0 = k;
			assert_true(k0 >= 0);
		}
		for (uint32_t i = 0; i < 480; i++)
			for (uint32_t ch = 0; ch < 2; ch++)
				if (x[i * 2 + ch] != pattern((uint64_t)k0 + (uint64_t)c * 480 + i, ch))
					fail_msg("rx %d frame %u ch %u: %d", c, i, ch, x[i * 2 + ch]);
		rx_add(r, &r->ff, 1, 1920);
	}
	/* a payload that is not whole frames is an error at once; so is one beyond the buffer */
	rx_add(r, &r->ff, 1, 1921);
	rx_add(r, &r->ff, 1, 4 * 1920 + 4);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_STOP, 1), VIRTIO_SND_S_OK);
	cycle(r, 1);
	assert_int_equal(completions(r, &r->ff, 3, d, QSIZE), 2);
	assert_int_equal(d[0].status, VIRTIO_SND_S_IO_ERR);
	assert_int_equal(d[0].len, 8);
	assert_int_equal(d[1].status, VIRTIO_SND_S_IO_ERR);
	/* RELEASE returns the 4 held ones with nothing written */
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_RELEASE, 1), VIRTIO_SND_S_OK);
	assert_int_equal(completions(r, &r->ff, 3, d, QSIZE), 4);
	assert_int_equal(d[0].len, 8);
	print_message("capture: 20 periods, one per host cycle, 9600 frames exact from host frame %ld\n",
		      (long)k0);
	rig_free(r, true);
}

/* ---- two guests on one attach point ---- */

static void test_two_guests_mixed(void **state)
{
	struct rig *a = rig_new();
	struct rig *b = rig_new_on(a->host, NULL, NULL);
	int16_t qa[960], qb[960];
	struct done d[QSIZE];

	for (int i = 0; i < 960; i++) {
		qa[i] = 8192;	/* 0.25 */
		qb[i] = -2048;	/* -0.0625 */
	}
	playback_prepared(a);
	playback_prepared(b);
	assert_int_equal(pcm_cmd(a, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(b, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	for (int i = 0; i < 8; i++) {
		tx_add(a, &a->ff, 0, qa, 1920);
		tx_add(b, &b->ff, 0, qb, 1920);
	}
	uint64_t start = a->out->n;
	cycle(a, 6);
	assert_int_equal(completions(a, &a->ff, 2, d, QSIZE), 6);
	assert_int_equal(completions(b, &b->ff, 2, d, QSIZE), 6);
	/* after the reserve both play: 0.25 - 0.0625, exactly */
	const float *o = a->out->data + (start + 240) * 2;
	for (int i = 0; i < 5 * 480 * 2; i++)
		assert_true(o[i] == 0.1875f);
	/* one guest leaves (disconnect, no RELEASE): the other keeps playing alone */
	vd_ff_disconnect(&b->ff);
	assert_int_equal(vd_snd_dev_handle(b->dev, VD_SND_FD_SOCKET), -ECONNRESET);
	vd_snd_dev_detach(b->dev);
	start = a->out->n;
	cycle(a, 1);
	assert_true(a->out->data[start * 2] == 0.25f);
	assert_int_equal(completions(a, &a->ff, 2, d, QSIZE), 1);
	rig_free(b, false);
	rig_free(a, true);
}

/* ---- malformed I/O ---- */

static void test_malformed_messages(void **state)
{
	struct rig *r = rig_new();
	int16_t buf[4 * 960 + 8] = { 0 };
	struct done d[QSIZE];
	struct vd_snd_stream_stats st;
	uint64_t g = vd_ff_alloc(&r->ff, 4096, 16);
	uint32_t id, len;

	playback_prepared(r);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	tx_add(r, &r->ff, 7, buf, 1920);		/* no such stream */
	tx_add(r, &r->ff, 1, buf, 1920);		/* a capture stream on tx */
	tx_add(r, &r->ff, 0, buf, 1921);		/* not whole frames */
	tx_add(r, &r->ff, 0, buf, 7680 + 4);	/* bigger than the buffer */
	/* a header of 2 bytes */
	struct vd_ff_buf b1[2] = { { g, 2, false }, { g + 64, 8, true } };
	unsigned slot = r->ff.vq[2].next_desc;
	r->pool[slot].status = g + 64;
	assert_true(vd_ff_vq_add(&r->ff, 2, b1, 2, true) >= 0);
	/* no room for a status: completed with used length 0 */
	struct vd_ff_buf b2[2] = { { g + 128, 4, false }, { g + 192, 4, true } };
	unsigned slot2 = r->ff.vq[2].next_desc;
	r->pool[slot2].status = g + 192;
	assert_true(vd_ff_vq_add(&r->ff, 2, b2, 2, true) >= 0);
	/* a descriptor far outside guest memory: refused by the vhost layer, used length 0 */
	struct vd_ff_buf b3[3] = { { g, 4, false }, { 1ull << 40, 0xfffff000u, false }, { g + 64, 8, true } };
	unsigned slot3 = r->ff.vq[2].next_desc;
	r->pool[slot3].status = g + 256;
	assert_true(vd_ff_vq_add(&r->ff, 2, b3, 3, true) >= 0);
	tx_add(r, &r->ff, 0, buf, 1920);		/* and a good one */
	cycle(r, 1);
	assert_int_equal(completions(r, &r->ff, 2, d, QSIZE), 8);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(d[i].status, VIRTIO_SND_S_IO_ERR);
		assert_int_equal(d[i].len, 8);
	}
	assert_int_equal(d[5].len, 0);
	assert_int_equal(d[6].len, 0);
	assert_int_equal(d[7].status, VIRTIO_SND_S_OK);	/* the good one, played this cycle */
	vd_snd_dev_stream_stats(r->dev, 0, &st);
	assert_int_equal(st.completed, 1);
	assert_int_equal(st.errors, 2);
	/* an rx message on the capture stream that is not prepared */
	rx_add(r, &r->ff, 1, 1920);
	cycle(r, 1);
	assert_int_equal(completions(r, &r->ff, 3, d, QSIZE), 1);
	assert_int_equal(d[0].status, VIRTIO_SND_S_IO_ERR);
	assert_int_equal(d[0].len, 8);
	/* none of that broke the device */
	assert_false(vd_vhost_dev_broken(vd_snd_dev_vhost(r->dev)));
	assert_int_equal(vd_ff_vq_used(&r->ff, 0, &id, &len), 0);
	rig_free(r, true);
}

/* ---- guest topologies ---- */

static int new_dev_err(struct rig *r, const char *guest, char *out)
{
	struct vd_snd_options o = { .topology_text = guest, .topology_len = strlen(guest) };
	struct vd_diag diag = { .report = diag_cb, .data = out };
	struct vd_snd_dev *dev = NULL;
	int ret;

	out[0] = '\0';
	ret = vd_snd_dev_new("vm", NULL, r->host, &o, &dev, &diag);
	vd_snd_dev_free(dev);
	return ret;
}

static void test_guest_topology_errors(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));
	char msg[2048];

	r->host = host_new(r, host_topo);
	assert_int_equal(new_dev_err(r, "pipeline p {\n  source s stream { direction = playback }\n"
				     "  sink a attach { point = \"nowhere\" }\n  link s -> a\n}\n", msg), -ENOENT);
	assert_non_null(strstr(msg, "guest topology:3:3: the host topology has no attach point 'nowhere'"));
	assert_int_equal(new_dev_err(r, "pipeline p {\n  source s stream { }\n"
				     "  sink a attach { point = \"capture\" }\n  link s -> a\n}\n", msg), -EINVAL);
	assert_non_null(strstr(msg, "attach point 'capture' is a capture point; 'a' needs a playback one"));
	assert_int_equal(new_dev_err(r, "pipeline p {\n  source s stream { direction = capture }\n"
				     "  sink a attach { point = \"playback\" }\n  link s -> a\n}\n", msg), -EINVAL);
	assert_non_null(strstr(msg, "stream 's' is declared as a source, so its direction is playback"));
	assert_int_equal(new_dev_err(r, "pipeline p {\n  source s stream { rate_min = 200kHz }\n"
				     "  sink a attach { point = \"playback\" }\n  link s -> a\n}\n", msg), -EINVAL);
	assert_non_null(strstr(msg, "no rate virtio-snd can express lies in [200000, 192000] Hz"));
	assert_int_equal(new_dev_err(r, "pipeline p {\n  source s stream { formats = [s16, wobble] }\n"
				     "  sink a attach { point = \"playback\" }\n  link s -> a\n}\n", msg), -EINVAL);
	assert_non_null(strstr(msg, "guest topology:2:37: 'formats.1' = 'wobble' is not a sample format"));
	assert_int_equal(new_dev_err(r, "pipeline p {\n  source s stream { }\n  source t stream { }\n"
				     "  node m mixer\n  sink a attach { point = \"playback\" }\n"
				     "  link s -> m:in0\n  link t -> m:in1\n  link m -> a\n}\n", msg), -EINVAL);
	assert_non_null(strstr(msg, "guest topology:3:3: stream 't' shares a pipeline with stream 's'"));
	assert_int_equal(new_dev_err(r, "pipeline p {\n  source s stream { }\n  node v volume\n"
				     "  link s -> v\n}\n", msg), -EINVAL);
	assert_non_null(strstr(msg, "stream 's' is not linked to an attach node"));
	assert_int_equal(new_dev_err(r, "pipeline p {\n  sink a attach { point = \"playback\" }\n"
				     "  node z tone\n  link z -> a\n}\n", msg), -EINVAL);
	assert_non_null(strstr(msg, "the guest topology declares no stream"));
	assert_int_equal(new_dev_err(r, "pipeline p {\n  source s stream { channels_min = 4; channels_max = 6; positions = [FL, FR] }\n"
				     "  sink a attach { point = \"playback\" }\n  link s -> a\n}\n", msg), -EINVAL);
	assert_non_null(strstr(msg, "2 positions, outside channels_min..channels_max"));
	/* a valid custom topology: a mono capture stream through a volume node, 16 kHz only */
	struct vd_snd_options o = { 0 };
	const char *ok = "pipeline p {\n  source mic attach { point = \"capture\"; jack = mic }\n"
			 "  node v volume { gain = -6dB }\n"
			 "  sink rec stream { direction = capture; formats = s16; rate_min = 16kHz; rate_max = 16kHz;"
			 " channels_min = 1; channels_max = 1; positions = [MONO] }\n"
			 "  link mic -> v -> rec\n}\n";
	struct vd_diag diag = { .report = diag_cb, .data = msg };
	struct vd_snd_dev *dev;
	o.topology_text = ok;
	o.topology_len = strlen(ok);
	msg[0] = 0;
	if (vd_snd_dev_new("vm", NULL, r->host, &o, &dev, &diag) < 0)
		fail_msg("%s", msg);
	assert_int_equal(vd_snd_dev_stream_count(dev), 1);
	assert_int_equal(vd_snd_dev_jack_count(dev), 1);
	vd_snd_dev_free(dev);
	vd_graph_free(r->host);
	vd_topology_free(r->host_t);
	free(r);
}

/* A custom capture pipeline with a volume node and a rate converter, end to end. */
static void test_capture_custom_pipeline(void **state)
{
	const char *guest = "pipeline p {\n  source mic attach { point = \"capture\"; jack = mic }\n"
			    "  node v volume { gain = -6.0206dB }\n"
			    "  sink rec stream { direction = capture; formats = f32; rate_min = 16kHz; rate_max = 16kHz;"
			    " channels_min = 2; channels_max = 2 }\n"
			    "  link mic -> v -> rec\n}\n";
	struct rig *r = rig_new_on(NULL, guest, NULL);
	struct done d[QSIZE];
	struct vd_snd_stream_stats st;
	uint32_t got = 0;

	assert_int_equal(set_params(r, 0, 4 * 1280, 1280, 0, 2, VIRTIO_SND_PCM_FMT_FLOAT,
				    VIRTIO_SND_PCM_RATE_16000), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_PREPARE, 0), VIRTIO_SND_S_OK);
	vd_snd_dev_stream_stats(r->dev, 0, &st);
	assert_non_null(strstr(st.description, "src"));
	for (int i = 0; i < 8; i++)
		rx_add(r, &r->ff, 0, 1280);	/* 160 frames = 10 ms at 16 kHz */
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	double peak = 0;
	for (int c = 0; c < 50; c++) {
		cycle(r, 1);
		unsigned n = completions(r, &r->ff, 3, d, QSIZE);
		assert_true(n <= 1);
		for (unsigned i = 0; i < n; i++) {
			assert_int_equal(d[i].len, 1280 + 8);
			if (c > 10)
				peak = fmax(peak, vd_peak(vd_ff_host(&r->ff, r->pool[d[i].id].data), 320, 1));
			rx_add(r, &r->ff, 0, 1280);
		}
		got += n;
	}
	/* 50 host periods of 10 ms give 50 guest periods of 10 ms (the first after the src fills) */
	assert_true(got >= 48 && got <= 50);
	assert_true(peak > 0.02 && peak < 0.04);	/* the pattern's 0.061 peak, halved */
	print_message("capture 48k->16k f32 through volume -6 dB: %u periods in 50 cycles, peak %.4f\n",
		      got, peak);
	rig_free(r, true);
}

static void test_default_topology_file(void **state)
{
	char *path = vd_test_source_path("examples/guest-default.topo");
	FILE *f = fopen(path, "r");
	char buf[8192];
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_string_equal(buf, vd_snd_default_topology());
	free(path);
}

/* ---- the real-time scheduler: pacing, RELEASE from another thread ---- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_realtime_pacing_and_release(void **state)
{
	struct rig *r = rig_new();
	struct vd_rt_config cfg = { .period_ns = 10000000 };
	struct vd_rt_sched *sched;
	int16_t buf[960] = { 0 };
	struct done d[QSIZE];
	double t_prev = 0, sum = 0, min = 1e9, max = 0;
	unsigned n_int = 0, done = 0, doubles = 0;

	playback_prepared(r);
	for (int i = 0; i < 4; i++)
		tx_add(r, &r->ff, 0, buf, 1920);
	assert_int_equal(vd_rt_sched_start(r->host, &cfg, &sched), 0);
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	double t_end = now_ms() + 1000;
	while (now_ms() < t_end) {
		unsigned n = completions(r, &r->ff, 2, d, QSIZE);
		double t = now_ms();

		if (n > 1)
			doubles++;
		for (unsigned i = 0; i < n; i++) {
			if (done > 0) {
				double dt = t - t_prev;
				sum += dt;
				n_int++;
				min = fmin(min, dt);
				max = fmax(max, dt);
			}
			t_prev = t;
			done++;
			tx_add(r, &r->ff, 0, buf, 1920);
		}
		struct timespec ts = { 0, 200000 };
		nanosleep(&ts, NULL);
	}
	/* RELEASE while the processing thread owns the queue: STOP holds 4, RELEASE returns them */
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_OK);
	completions(r, &r->ff, 2, d, QSIZE);
	double t0 = now_ms();
	assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_RELEASE, 0), VIRTIO_SND_S_OK);
	double t_release = now_ms() - t0;
	unsigned back = completions(r, &r->ff, 2, d, QSIZE);
	struct vd_rt_stats rs;
	vd_rt_sched_stop(sched, &rs);
	print_message("real time (10 ms host period, under load): %u completions in 1 s, interval mean %.3f ms "
		      "min %.3f max %.3f, polls seeing 2+ at once %u; scheduler late cycles %lu; RELEASE "
		      "answered in %.2f ms with %u held messages returned\n", done, n_int ? sum / n_int : 0,
		      min, max, doubles, (unsigned long)rs.late, t_release, back);
	assert_true(done >= 80 && done <= 102);
	assert_true(fabs(sum / n_int - 10.0) < 1.5);
	assert_true(back >= 3);
	assert_true(t_release < 300);
	rig_free(r, true);
}

/* Disconnect mid-stream, reconnect, play again: nothing leaks (ASan) and the host keeps running. */
static void test_reconnect(void **state)
{
	struct rig *r = rig_new();
	int16_t buf[960] = { 0 };
	struct done d[QSIZE];

	for (int round = 0; round < 3; round++) {
		playback_prepared(r);
		assert_int_equal(pcm_cmd(r, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
		tx_add(r, &r->ff, 0, buf, 1920);
		tx_add(r, &r->ff, 0, buf, 1920);
		cycle(r, 1);
		assert_int_equal(completions(r, &r->ff, 2, d, QSIZE), 1);
		vd_ff_close(&r->ff);
		assert_int_equal(vd_snd_dev_handle(r->dev, VD_SND_FD_SOCKET), -ECONNRESET);
		vd_snd_dev_detach(r->dev);
		cycle(r, 2);	/* the host graph runs on without the guest */
		memset(&r->ff, 0, sizeof(r->ff));
		connect_guest(r, r->dev, &r->ff);
		alloc_areas(r);
	}
	rig_free(r, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_and_features),
		cmocka_unit_test(test_probe_sequence),
		cmocka_unit_test(test_byte_stream_parsing),
		cmocka_unit_test(test_other_requests),
		cmocka_unit_test(test_set_params_validation),
		cmocka_unit_test(test_state_machine),
		cmocka_unit_test(test_resume_after_reset),
		cmocka_unit_test(test_memory_remap_while_playing),
		cmocka_unit_test(test_playback_exact_and_paced),
		cmocka_unit_test(test_release_completes_held),
		cmocka_unit_test(test_underrun_and_xrun_event),
		cmocka_unit_test(test_playback_resampled),
		cmocka_unit_test(test_playback_44k1_on_1ms_host),
		cmocka_unit_test(test_capture_exact),
		cmocka_unit_test(test_capture_custom_pipeline),
		cmocka_unit_test(test_two_guests_mixed),
		cmocka_unit_test(test_malformed_messages),
		cmocka_unit_test(test_guest_topology_errors),
		cmocka_unit_test(test_default_topology_file),
		cmocka_unit_test(test_realtime_pacing_and_release),
		cmocka_unit_test(test_reconnect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
