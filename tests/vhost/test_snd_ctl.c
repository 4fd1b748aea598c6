/* tests/vhost/test_snd_ctl.c - virtio-snd control elements driven by the fake
 * front-end over a host graph the test cycles: CTL_INFO (layout, stride),
 * CTL_ENUM_ITEMS, CTL_READ/WRITE and their refusals, the dB TLV, a volume
 * control changing the measured level at the host attach point (and not a
 * second guest's), persistence across RELEASE/PREPARE, host-side changes
 * arriving as CTL_NOTIFY, the control_changed hook, and declaration errors
 * in guest topologies. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <virtdsp/attach.h>
#include <virtdsp/topology.h>

#include "analysis.h"
#include "fake_frontend.h"
#include "testnodes.h"
#include "virtio_snd/proto.h"
#include "virtio_snd/virtio_snd.h"

#define QSIZE 64
#define RING_FEATURES ((1ull << VD_VHOST_F_VERSION_1) | (1ull << VD_VHOST_F_INDIRECT_DESC) | \
		       (1ull << VD_VHOST_F_EVENT_IDX))
#define MEM_SIZE (16u << 20)
#define PERIOD 480			/* frames, = the host's */
#define PERIOD_BYTES (PERIOD * 2 * 4)	/* f32 stereo */

/* wire values, written out here independently of the device's headers */
#define CTL_TYPE_BOOLEAN 0
#define CTL_TYPE_INTEGER 1
#define CTL_TYPE_ENUMERATED 3
#define ACC_READ (1u << 0)
#define ACC_WRITE (1u << 1)
#define ACC_TLV_READ (1u << 4)

/* The guest topology: %s is the host attach point. */
static const char *guest_fmt =
	"pipeline out {\n"
	"  source pcm stream {\n"
	"    direction = playback; formats = [f32]\n"
	"    rate_min = 48000; rate_max = 48000; channels_min = 2; channels_max = 2\n"
	"  }\n"
	"  node vol volume {\n"
	"    gain = -6dB\n"
	"    control.gain = \"PCM Playback Volume\"\n"
	"    control.mute = { name = \"PCM Playback Switch\", invert = true }\n"
	"  }\n"
	"  node eq1 eq {\n"
	"    band1 = { type = peaking, freq = 1kHz, gain = 0dB }\n"
	"    control.band1.type = \"EQ Band Type\"\n"
	"    control.band1.gain = { name = \"EQ Band Gain\", read_only = true }\n"
	"  }\n"
	"  sink host attach { point = \"%s\" }\n"
	"  link pcm -> vol -> eq1 -> host\n"
	"}\n";

enum { C_VOLUME, C_SWITCH, C_EQ_TYPE, C_EQ_GAIN, N_CTLS };

/* ---- the rig ---- */

/* What the control_changed hook was told, in order. */
struct change {
	unsigned id;
	double value;
	bool by_guest;
};

struct guest {
	struct vd_snd_dev *dev;
	struct change changes[16];
	unsigned n_changes;
	struct vd_ff ff;
	uint64_t req, resp, ev[4], msg[QSIZE];
	unsigned inflight;		/* tx messages not completed yet */
	char topo[2048];
	char log[2048];
};

struct rig {
	struct test_probes probes;
	struct vd_topology *host_t;
	struct vd_graph *host;
	struct guest g[2];
	char diag[2048];
};

static void log_cb(void *data, const char *msg)
{
	char *log = data;
	size_t n = strlen(log);

	snprintf(log + n, 2048 - n, "%s\n", msg);
}

static void diag_cb(void *data, const struct vd_error *e)
{
	char *buf = data, line[700];
	size_t n = strlen(buf);

	snprintf(buf + n, 2048 - n, "%s\n", vd_error_format(e, line, sizeof(line)));
}

static void changed_cb(void *data, unsigned id, double value, bool by_guest)
{
	struct guest *g = data;

	if (g->n_changes < 16)
		g->changes[g->n_changes++] = (struct change){ id, value, by_guest };
}

static int pump(void *arg)
{
	return vd_snd_dev_handle(arg, VD_SND_FD_SOCKET);
}

static void guest_new(struct rig *r, struct guest *g, const char *point, bool controls)
{
	struct vd_diag diag = { .report = diag_cb, .data = r->diag };
	struct vd_snd_options o = { .controls = controls, .log = log_cb, .log_data = g->log,
				    .control_changed = changed_cb, .control_data = g };
	int sv[2];

	snprintf(g->topo, sizeof(g->topo), guest_fmt, point);
	o.topology_text = g->topo;
	o.topology_len = strlen(g->topo);
	if (vd_snd_dev_new("vm", NULL, r->host, &o, &g->dev, &diag) < 0)
		fail_msg("device: %s", r->diag);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vd_snd_dev_attach(g->dev, sv[1]), 0);
	vd_ff_init(&g->ff, sv[0], 4, pump, g->dev);
	assert_int_equal(vd_ff_add_region(&g->ff, 0, MEM_SIZE, 0), 0);
	assert_int_equal(vd_ff_handshake(&g->ff, 16), 0);
	if (vd_ff_start(&g->ff, RING_FEATURES | (controls ? 1ull << VIRTIO_SND_F_CTLS : 0), QSIZE, NULL) < 0)
		fail_msg("start: %s", g->ff.err);
	g->req = vd_ff_alloc(&g->ff, 4096, 16);
	g->resp = vd_ff_alloc(&g->ff, 8192, 16);
	for (unsigned i = 0; i < 4; i++)
		g->ev[i] = vd_ff_alloc(&g->ff, 8, 8);
	for (unsigned i = 0; i < QSIZE; i++)
		g->msg[i] = vd_ff_alloc(&g->ff, 4 + 8 + PERIOD_BYTES, 64);
}

static struct rig *rig_new(unsigned guests, bool controls)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct vd_diag diag = { .report = diag_cb, .data = r->diag };

	assert_non_null(r);
	if (test_probe_host_new(&r->probes, 48000 * 4, &diag, &r->host_t, &r->host) < 0)
		fail_msg("host topology: %s", r->diag);
	assert_int_equal(r->probes.n, 2);
	for (unsigned i = 0; i < guests; i++)
		guest_new(r, &r->g[i], i ? "b" : "a", controls);
	return r;
}

static void rig_free(struct rig *r)
{
	for (unsigned i = 0; i < 2; i++)
		if (r->g[i].dev) {
			vd_ff_close(&r->g[i].ff);
			vd_snd_dev_free(r->g[i].dev);
		}
	vd_graph_free(r->host);
	vd_topology_free(r->host_t);
	free(r);
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

/* Send @req with a writable reply of @resp_len bytes (in @nresp pieces); returns the used length. */
static uint32_t ctl_split(struct guest *g, const void *req, uint32_t len, void *resp, uint32_t resp_len,
			  unsigned nresp)
{
	struct vd_ff_buf b[8];
	uint32_t id, used, off = 0;
	unsigned n = 0;

	b[n++] = (struct vd_ff_buf){ g->req, len, false };
	for (unsigned i = 0; i < nresp; i++) {
		uint32_t piece = i + 1 == nresp ? resp_len - off : resp_len / nresp;

		b[n++] = (struct vd_ff_buf){ g->resp + off, piece, true };
		off += piece;
	}
	memcpy(vd_ff_host(&g->ff, g->req), req, len);
	memset(vd_ff_host(&g->ff, g->resp), 0xAA, resp_len);
	assert_true(vd_ff_vq_add(&g->ff, 0, b, n, false) >= 0);
	assert_int_equal(vd_snd_dev_handle(g->dev, VD_SND_FD_CONTROL), 0);
	assert_int_equal(vd_ff_vq_used(&g->ff, 0, &id, &used), 1);
	if (resp)
		memcpy(resp, vd_ff_host(&g->ff, g->resp), resp_len);
	return used;
}

static uint32_t ctl_raw(struct guest *g, const void *req, uint32_t len, void *resp, uint32_t resp_len)
{
	return ctl_split(g, req, len, resp, resp_len, 1);
}

static uint32_t ctl_status(struct guest *g, const void *req, uint32_t len)
{
	uint8_t resp[4];

	assert_int_equal(ctl_raw(g, req, len, resp, 4), 4);
	return le32(resp);
}

/* CTL_READ of control @id: the status, and the value in *@v. */
static uint32_t ctl_read(struct guest *g, uint32_t id, int32_t *v)
{
	uint8_t req[8], resp[4 + 512];

	put32(req, VIRTIO_SND_R_CTL_READ);
	put32(req + 4, id);
	uint32_t used = ctl_raw(g, req, 8, resp, sizeof(resp));

	assert_int_equal(used, le32(resp) == VIRTIO_SND_S_OK ? 4 + 512 : 4);
	*v = (int32_t)le32(resp + 4);
	return le32(resp);
}

static uint32_t ctl_write(struct guest *g, uint32_t id, int32_t v)
{
	uint8_t req[8 + 512] = { 0 };

	put32(req, VIRTIO_SND_R_CTL_WRITE);
	put32(req + 4, id);
	put32(req + 8, (uint32_t)v);
	return ctl_status(g, req, sizeof(req));
}

static uint32_t pcm_cmd(struct guest *g, uint32_t code, uint32_t stream)
{
	uint8_t req[8];

	put32(req, code);
	put32(req + 4, stream);
	return ctl_status(g, req, 8);
}

static void start_playback(struct guest *g)
{
	uint8_t req[24] = { 0 };

	put32(req, VIRTIO_SND_R_PCM_SET_PARAMS);
	put32(req + 8, 4 * PERIOD_BYTES);
	put32(req + 12, PERIOD_BYTES);
	req[20] = 2;
	req[21] = VIRTIO_SND_PCM_FMT_FLOAT;
	req[22] = VIRTIO_SND_PCM_RATE_48000;
	assert_int_equal(ctl_status(g, req, 24), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(g, VIRTIO_SND_R_PCM_PREPARE, 0), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(g, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
}

static void stop_playback(struct guest *g)
{
	uint32_t id, len;

	assert_int_equal(pcm_cmd(g, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(g, VIRTIO_SND_R_PCM_RELEASE, 0), VIRTIO_SND_S_OK);
	while (vd_ff_vq_used(&g->ff, 2, &id, &len) == 1)
		g->inflight--;
	assert_int_equal(g->inflight, 0);	/* RELEASE completed everything held */
}

/* Queue one period of a 1 kHz sine at amplitude 0.5 (phase continuous over @k periods). */
static void tx_period(struct guest *g, uint64_t k)
{
	unsigned slot = g->ff.vq[2].next_desc;
	uint64_t base = g->msg[slot];
	float *d = vd_ff_host(&g->ff, base + 12);
	struct vd_ff_buf b[3] = {
		{ base, 4, false }, { base + 12, PERIOD_BYTES, false }, { base + 4, 8, true },
	};

	put32(vd_ff_host(&g->ff, base), 0);
	for (uint32_t i = 0; i < PERIOD; i++)
		d[2 * i] = d[2 * i + 1] = (float)(0.5 * sin(2 * M_PI * 1000.0 * (double)(k * PERIOD + i) / 48000.0));
	assert_true(vd_ff_vq_add(&g->ff, 2, b, 3, true) >= 0);
}

/* Play @cycles host cycles with every guest in @mask keeping its queue full;
 * returns nothing, the probes record. */
static void play(struct rig *r, unsigned mask, unsigned cycles, uint64_t *k)
{
	for (unsigned c = 0; c < cycles; c++) {
		for (unsigned i = 0; i < 2; i++) {
			struct guest *g = &r->g[i];
			uint32_t id, len;

			if (!(mask >> i & 1))
				continue;
			while (vd_ff_vq_used(&g->ff, 2, &id, &len) == 1)
				g->inflight--;
			for (; g->inflight < 3; g->inflight++)
				tx_period(g, k[i]++);
		}
		assert_int_equal(vd_graph_cycle(r->host), 0);
	}
}

/* Level (dBFS of the 1 kHz tone) of the last @frames the probe recorded, left channel. */
static double level_db(const struct test_probe *p, uint64_t frames)
{
	assert_true(p->n >= frames);
	return vd_db(vd_tone_amplitude(p->data + (p->n - frames) * 2, frames, 2, 48000.0, 1000.0));
}

/* ---- tests ---- */

static void test_info_and_items(void **state)
{
	struct rig *r = rig_new(1, true);
	struct guest *g = &r->g[0];
	uint8_t req[16], resp[1024];
	uint32_t used;

	/* the config counts the declared elements */
	assert_int_equal(le32(g->ff.config + 12), N_CTLS);
	assert_int_equal(vd_snd_dev_control_count(g->dev), N_CTLS);
	assert_int_equal(vd_snd_dev_control_find(g->dev, "EQ Band Type"), C_EQ_TYPE);
	assert_int_equal(vd_snd_dev_control_find(g->dev, "Master"), -ENOENT);

	/* Linux's CTL_INFO: all of them at sizeof(struct virtio_snd_ctl_info) = 96 */
	put32(req, VIRTIO_SND_R_CTL_INFO);
	put32(req + 4, 0);
	put32(req + 8, N_CTLS);
	put32(req + 12, 96);
	used = ctl_split(g, req, 16, resp, 4 + 4 * 96, 3);
	assert_int_equal(le32(resp), VIRTIO_SND_S_OK);
	assert_int_equal(used, 4 + 4 * 96);
	const uint8_t *vol = resp + 4, *sw = resp + 4 + 96, *et = resp + 4 + 192, *eg = resp + 4 + 288;
	assert_string_equal((const char *)vol + 24, "PCM Playback Volume");
	assert_int_equal(le32(vol + 8), CTL_TYPE_INTEGER);
	assert_int_equal(le32(vol + 12), ACC_READ | ACC_WRITE | ACC_TLV_READ);
	assert_int_equal(le32(vol + 16), 1);			/* count */
	assert_int_equal(le32(vol + 72), 0);			/* min */
	assert_int_equal(le32(vol + 76), 1440);			/* max: -120..+24 dB in 0.1 dB */
	assert_int_equal(le32(vol + 80), 1);			/* step */
	for (int i = 68; i < 72; i++)
		assert_int_equal(vol[i], 0);			/* LP64 padding */
	for (int i = 84; i < 96; i++)
		assert_int_equal(vol[i], 0);
	assert_string_equal((const char *)sw + 24, "PCM Playback Switch");
	assert_int_equal(le32(sw + 8), CTL_TYPE_BOOLEAN);
	assert_int_equal(le32(sw + 12), ACC_READ | ACC_WRITE);
	assert_string_equal((const char *)et + 24, "EQ Band Type");
	assert_int_equal(le32(et + 8), CTL_TYPE_ENUMERATED);
	assert_int_equal(le32(et + 72), 8);			/* items */
	assert_string_equal((const char *)eg + 24, "EQ Band Gain");
	assert_int_equal(le32(eg + 12), ACC_READ | ACC_TLV_READ);	/* read-only */

	/* a packed guest (92-byte stride): the union right after the name */
	put32(req + 4, 0);
	put32(req + 8, 2);
	put32(req + 12, 92);
	used = ctl_raw(g, req, 16, resp, 4 + 2 * 92);
	assert_int_equal(used, 4 + 184);
	assert_int_equal(le32(resp + 4 + 68 + 4), 1440);
	assert_string_equal((const char *)resp + 4 + 92 + 24, "PCM Playback Switch");
	/* a larger stride is padded with zeros */
	put32(req + 8, 1);
	put32(req + 12, 128);
	assert_int_equal(ctl_raw(g, req, 16, resp, 4 + 128), 4 + 128);
	for (int i = 96; i < 128; i++)
		assert_int_equal(resp[4 + i], 0);
	/* refused: too small a stride, past the end, reply too short */
	put32(req + 12, 91);
	assert_int_equal(ctl_status(g, req, 16), VIRTIO_SND_S_BAD_MSG);
	put32(req + 4, 3);
	put32(req + 8, 2);
	put32(req + 12, 96);
	assert_int_equal(ctl_raw(g, req, 16, resp, 4 + 192), 4);
	assert_int_equal(le32(resp), VIRTIO_SND_S_BAD_MSG);
	put32(req + 4, 0);
	put32(req + 8, 4);
	assert_int_equal(ctl_raw(g, req, 16, resp, 4 + 3 * 96), 4);
	assert_int_equal(le32(resp), VIRTIO_SND_S_BAD_MSG);

	/* CTL_ENUM_ITEMS: the eq's filter types, 64 bytes each */
	put32(req, VIRTIO_SND_R_CTL_ENUM_ITEMS);
	put32(req + 4, C_EQ_TYPE);
	used = ctl_raw(g, req, 8, resp, 4 + 8 * 64);
	assert_int_equal(le32(resp), VIRTIO_SND_S_OK);
	assert_int_equal(used, 4 + 8 * 64);
	assert_string_equal((const char *)resp + 4, "peaking");
	assert_string_equal((const char *)resp + 4 + 64, "lowshelf");
	assert_string_equal((const char *)resp + 4 + 7 * 64, "allpass");
	for (int i = 8; i < 64; i++)
		assert_int_equal(resp[4 + 64 + i], 0);
	/* not an enumeration, or no room for the items */
	put32(req + 4, C_VOLUME);
	assert_int_equal(ctl_raw(g, req, 8, resp, 4 + 8 * 64), 4);
	assert_int_equal(le32(resp), VIRTIO_SND_S_BAD_MSG);
	put32(req + 4, C_EQ_TYPE);
	assert_int_equal(ctl_raw(g, req, 8, resp, 4 + 7 * 64), 4);
	assert_int_equal(le32(resp), VIRTIO_SND_S_BAD_MSG);
	rig_free(r);
}

static void test_read_write_and_refusals(void **state)
{
	struct rig *r = rig_new(1, true);
	struct guest *g = &r->g[0];
	uint8_t req[16], resp[64];
	int32_t v;
	double d;

	/* initial values from the topology: -6 dB = step 1140, unmuted = switch on */
	assert_int_equal(ctl_read(g, C_VOLUME, &v), VIRTIO_SND_S_OK);
	assert_int_equal(v, 1140);
	assert_int_equal(ctl_read(g, C_SWITCH, &v), VIRTIO_SND_S_OK);
	assert_int_equal(v, 1);
	assert_int_equal(ctl_read(g, C_EQ_TYPE, &v), VIRTIO_SND_S_OK);
	assert_int_equal(v, 0);		/* peaking */
	assert_int_equal(ctl_read(g, C_EQ_GAIN, &v), VIRTIO_SND_S_OK);
	assert_int_equal(v, 400);	/* 0 dB in 0.1 dB steps from -40 dB */

	/* round trips */
	assert_int_equal(ctl_write(g, C_VOLUME, 1000), VIRTIO_SND_S_OK);
	assert_int_equal(ctl_read(g, C_VOLUME, &v), VIRTIO_SND_S_OK);
	assert_int_equal(v, 1000);
	assert_int_equal(vd_snd_dev_get_control(g->dev, C_VOLUME, &d), 0);
	assert_true(fabs(d - -20.0) < 1e-9);
	assert_int_equal(ctl_write(g, C_EQ_TYPE, 2), VIRTIO_SND_S_OK);
	assert_int_equal(ctl_read(g, C_EQ_TYPE, &v), VIRTIO_SND_S_OK);
	assert_int_equal(v, 2);
	assert_int_equal(ctl_write(g, C_SWITCH, 0), VIRTIO_SND_S_OK);
	assert_int_equal(ctl_read(g, C_SWITCH, &v), VIRTIO_SND_S_OK);
	assert_int_equal(v, 0);

	/* out of range: BAD_MSG, value unchanged, logged */
	assert_int_equal(ctl_write(g, C_VOLUME, 1441), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(ctl_write(g, C_VOLUME, -1), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(ctl_write(g, C_SWITCH, 2), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(ctl_write(g, C_EQ_TYPE, 8), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(ctl_read(g, C_VOLUME, &v), VIRTIO_SND_S_OK);
	assert_int_equal(v, 1000);
	assert_non_null(strstr(g->log, "CTL_WRITE 'PCM Playback Volume': 1441 outside 0..1440"));
	/* read-only: NOT_SUPP (the element does not offer writing) */
	assert_int_equal(ctl_write(g, C_EQ_GAIN, 100), VIRTIO_SND_S_NOT_SUPP);
	assert_non_null(strstr(g->log, "CTL_WRITE 'EQ Band Gain': the control is read-only"));
	/* no such element; messages too short for their shape */
	assert_int_equal(ctl_write(g, N_CTLS, 0), VIRTIO_SND_S_BAD_MSG);
	assert_non_null(strstr(g->log, "control request 0x303: no control element 4"));
	put32(req, VIRTIO_SND_R_CTL_WRITE);
	put32(req + 4, C_VOLUME);
	assert_int_equal(ctl_status(g, req, 8), VIRTIO_SND_S_BAD_MSG);		/* no value */
	assert_int_equal(ctl_status(g, req, 6), VIRTIO_SND_S_BAD_MSG);		/* no id */
	put32(req, VIRTIO_SND_R_CTL_READ);
	assert_int_equal(ctl_raw(g, req, 8, resp, 6), 4);			/* no room for a value */
	assert_int_equal(le32(resp), VIRTIO_SND_S_BAD_MSG);
	/* TLV writes and commands: no element offers them */
	put32(req, VIRTIO_SND_R_CTL_TLV_WRITE);
	put32(req + 8, 0);
	put32(req + 12, 0);
	assert_int_equal(ctl_status(g, req, 16), VIRTIO_SND_S_NOT_SUPP);
	put32(req, VIRTIO_SND_R_CTL_TLV_COMMAND);
	assert_int_equal(ctl_status(g, req, 16), VIRTIO_SND_S_NOT_SUPP);
	rig_free(r);

	/* Without F_CTLS offered there are no elements and every CTL request is NOT_SUPP. */
	r = rig_new(1, false);
	g = &r->g[0];
	assert_int_equal(le32(g->ff.config + 12), 0);
	assert_int_equal(ctl_write(g, C_VOLUME, 1000), VIRTIO_SND_S_NOT_SUPP);
	assert_int_equal(ctl_read(g, C_VOLUME, &v), VIRTIO_SND_S_NOT_SUPP);
	rig_free(r);
}

static void test_tlv_db_scale(void **state)
{
	struct rig *r = rig_new(1, true);
	struct guest *g = &r->g[0];
	uint8_t req[8], resp[4 + 64];

	put32(req, VIRTIO_SND_R_CTL_TLV_READ);
	put32(req + 4, C_VOLUME);
	/* Linux passes the caller's buffer size; the TLV is 16 bytes */
	assert_int_equal(ctl_raw(g, req, 8, resp, sizeof(resp)), 4 + 16);
	assert_int_equal(le32(resp), VIRTIO_SND_S_OK);
	assert_int_equal(le32(resp + 4), 1);			/* SNDRV_CTL_TLVT_DB_SCALE */
	assert_int_equal(le32(resp + 8), 8);
	assert_int_equal((int32_t)le32(resp + 12), -12000);	/* -120.00 dB at 0 */
	assert_int_equal(le32(resp + 16), 10);			/* 0.10 dB a step, no mute */
	assert_int_equal(resp[20], 0xAA);			/* nothing past it */
	/* a short buffer gets what fits */
	assert_int_equal(ctl_raw(g, req, 8, resp, 4 + 8), 4 + 8);
	assert_int_equal(le32(resp + 4), 1);
	/* the read-only eq gain is in dB too: -40 dB at 0 */
	put32(req + 4, C_EQ_GAIN);
	assert_int_equal(ctl_raw(g, req, 8, resp, sizeof(resp)), 4 + 16);
	assert_int_equal((int32_t)le32(resp + 12), -4000);
	/* a switch has no TLV */
	put32(req + 4, C_SWITCH);
	assert_int_equal(ctl_raw(g, req, 8, resp, sizeof(resp)), 4);
	assert_int_equal(le32(resp), VIRTIO_SND_S_NOT_SUPP);
	rig_free(r);
}

/* The volume control moves the level at the host attach point by what it says,
 * through the real volume node, for this guest only; the value survives
 * RELEASE and PREPARE. */
static void test_volume_changes_level(void **state)
{
	struct rig *r = rig_new(2, true);
	uint64_t k[2] = { 0, 0 };
	double a0, b0, a1, b1, a2, a3;
	const uint64_t win = 4800;	/* 100 ms */

	start_playback(&r->g[0]);
	start_playback(&r->g[1]);
	play(r, 3, 30, k);
	a0 = level_db(r->probes.p[0], win);
	b0 = level_db(r->probes.p[1], win);
	/* 0.5 amplitude (-6.02 dBFS) through -6 dB */
	assert_true(fabs(a0 - (20 * log10(0.5) - 6.0)) < 0.05);
	assert_true(fabs(b0 - a0) < 0.01);

	/* guest 0 sets 0 dB (step 1200): +6 dB there, nothing changes for guest 1 */
	assert_int_equal(ctl_write(&r->g[0], C_VOLUME, 1200), VIRTIO_SND_S_OK);
	play(r, 3, 30, k);
	a1 = level_db(r->probes.p[0], win);
	b1 = level_db(r->probes.p[1], win);
	print_message("level: guest 0 %.3f -> %.3f dBFS after +6 dB, guest 1 %.3f -> %.3f dBFS\n",
		      a0, a1, b0, b1);
	assert_true(fabs((a1 - a0) - 6.0) < 0.02);
	assert_true(fabs(b1 - b0) < 0.01);

	/* the switch off mutes guest 0 */
	assert_int_equal(ctl_write(&r->g[0], C_SWITCH, 0), VIRTIO_SND_S_OK);
	play(r, 3, 30, k);
	assert_true(vd_rms(r->probes.p[0]->data + (r->probes.p[0]->n - win) * 2, win, 2) < 1e-6);
	assert_int_equal(ctl_write(&r->g[0], C_SWITCH, 1), VIRTIO_SND_S_OK);

	/* release and prepare again: the new pipeline gets the stored 0 dB, not the topology's -6 dB */
	stop_playback(&r->g[0]);
	start_playback(&r->g[0]);
	play(r, 3, 30, k);
	a2 = level_db(r->probes.p[0], win);
	assert_true(fabs(a2 - a1) < 0.02);

	/* a value set while no pipeline exists is applied when one is built */
	stop_playback(&r->g[0]);
	assert_int_equal(ctl_write(&r->g[0], C_VOLUME, 1100), VIRTIO_SND_S_OK);	/* -10 dB */
	start_playback(&r->g[0]);
	play(r, 3, 30, k);
	a3 = level_db(r->probes.p[0], win);
	assert_true(fabs((a3 - a1) - -10.0) < 0.02);
	rig_free(r);
}

/* A host-side change reaches the pipelines and the guest hears of it. */
static void test_host_change_notifies(void **state)
{
	struct rig *r = rig_new(1, true);
	struct guest *g = &r->g[0];
	struct vd_ff_buf eb[4];
	uint64_t k[2] = { 0, 0 };
	uint32_t id, len;
	int32_t v;
	double a0, a1;
	const uint8_t *ev;

	for (int i = 0; i < 4; i++) {
		eb[i] = (struct vd_ff_buf){ g->ev[i], 8, true };
		assert_true(vd_ff_vq_add(&g->ff, 1, &eb[i], 1, false) >= 0);
	}
	start_playback(g);
	play(r, 1, 30, k);
	a0 = level_db(r->probes.p[0], 4800);

	assert_int_equal(vd_snd_dev_set_control(g->dev, C_VOLUME, -18.0), 0);
	assert_int_equal(vd_ff_vq_used(&g->ff, 1, &id, &len), 1);
	assert_int_equal(len, 8);
	ev = vd_ff_host(&g->ff, g->ev[0]);
	assert_int_equal(le32(ev), VIRTIO_SND_EVT_CTL_NOTIFY);
	assert_int_equal(ev[4] | ev[5] << 8, C_VOLUME);		/* le16 control_id */
	assert_int_equal(ev[6] | ev[7] << 8, 1);			/* le16 mask: VALUE */
	assert_int_equal(ctl_read(g, C_VOLUME, &v), VIRTIO_SND_S_OK);
	assert_int_equal(v, 1020);
	play(r, 1, 30, k);
	a1 = level_db(r->probes.p[0], 4800);
	assert_true(fabs((a1 - a0) - -12.0) < 0.02);

	/* the same value again, or a change smaller than a step: no event */
	assert_int_equal(vd_snd_dev_set_control(g->dev, C_VOLUME, -18.0), 0);
	assert_int_equal(vd_snd_dev_set_control(g->dev, C_VOLUME, -18.01), 0);
	assert_int_equal(vd_ff_vq_used(&g->ff, 1, &id, &len), 0);
	/* an enumeration by index */
	assert_int_equal(vd_snd_dev_set_control(g->dev, C_EQ_TYPE, 3.0), 0);
	assert_int_equal(vd_ff_vq_used(&g->ff, 1, &id, &len), 1);
	ev = vd_ff_host(&g->ff, g->ev[1]);
	assert_int_equal(ev[4] | ev[5] << 8, C_EQ_TYPE);
	/* the host may change read-only elements */
	assert_int_equal(vd_snd_dev_set_control(g->dev, C_EQ_GAIN, 3.0), 0);
	assert_int_equal(ctl_read(g, C_EQ_GAIN, &v), VIRTIO_SND_S_OK);
	assert_int_equal(v, 430);
	/* refusals */
	assert_int_equal(vd_snd_dev_set_control(g->dev, C_VOLUME, 30.0), -ERANGE);
	assert_int_equal(vd_snd_dev_set_control(g->dev, C_EQ_TYPE, 1.5), -ERANGE);
	assert_int_equal(vd_snd_dev_set_control(g->dev, C_SWITCH, NAN), -ERANGE);
	assert_int_equal(vd_snd_dev_set_control(g->dev, N_CTLS, 0), -ENOENT);
	rig_free(r);
}

/* The control_changed hook: after a guest CTL_WRITE (by_guest) or a host set
 * that changed the value, with the value in the parameter's units; never for
 * refusals or for writes that change nothing. */
static void test_control_changed_hook(void **state)
{
	struct rig *r = rig_new(1, true);
	struct guest *g = &r->g[0];
	double d;

	assert_int_equal(g->n_changes, 0);	/* the topology's initial values are not changes */
	assert_int_equal(ctl_write(g, C_VOLUME, 1000), VIRTIO_SND_S_OK);	/* -20 dB */
	assert_int_equal(g->n_changes, 1);
	assert_int_equal(g->changes[0].id, C_VOLUME);
	assert_true(fabs(g->changes[0].value - -20.0) < 1e-9);
	assert_true(g->changes[0].by_guest);
	/* the hook runs after the value is stored */
	assert_int_equal(vd_snd_dev_get_control(g->dev, C_VOLUME, &d), 0);
	assert_true(fabs(d - -20.0) < 1e-9);

	/* the same value again, a refused write, a read-only one: no call */
	assert_int_equal(ctl_write(g, C_VOLUME, 1000), VIRTIO_SND_S_OK);
	assert_int_equal(ctl_write(g, C_VOLUME, 5000), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(ctl_write(g, C_EQ_GAIN, 100), VIRTIO_SND_S_NOT_SUPP);
	assert_int_equal(g->n_changes, 1);

	/* the guest's switch: 0 = off, reported as 0 (not the inverted mute) */
	assert_int_equal(ctl_write(g, C_SWITCH, 0), VIRTIO_SND_S_OK);
	assert_int_equal(g->n_changes, 2);
	assert_int_equal(g->changes[1].id, C_SWITCH);
	assert_true(g->changes[1].value == 0.0);
	assert_true(g->changes[1].by_guest);

	/* host sets: by_guest false; a refused or unchanged one: no call */
	assert_int_equal(vd_snd_dev_set_control(g->dev, C_EQ_TYPE, 2.0), 0);
	assert_int_equal(g->n_changes, 3);
	assert_int_equal(g->changes[2].id, C_EQ_TYPE);
	assert_true(g->changes[2].value == 2.0);
	assert_false(g->changes[2].by_guest);
	assert_int_equal(vd_snd_dev_set_control(g->dev, C_EQ_TYPE, 2.0), 0);
	assert_int_equal(vd_snd_dev_set_control(g->dev, C_VOLUME, 99.0), -ERANGE);
	assert_int_equal(g->n_changes, 3);
	/* the host may change what the guest may not */
	assert_int_equal(vd_snd_dev_set_control(g->dev, C_EQ_GAIN, -3.0), 0);
	assert_int_equal(g->n_changes, 4);
	assert_true(fabs(g->changes[3].value - -3.0) < 1e-9);
	assert_false(g->changes[3].by_guest);
	rig_free(r);
}

static int new_dev_err(struct rig *r, const char *text, char *out)
{
	struct vd_diag diag = { .report = diag_cb, .data = out };
	struct vd_snd_options o = { .controls = true, .topology_text = text, .topology_len = strlen(text) };
	struct vd_snd_dev *dev = NULL;
	int ret;

	out[0] = '\0';
	ret = vd_snd_dev_new("vm", NULL, r->host, &o, &dev, &diag);
	vd_snd_dev_free(dev);
	return ret;
}

#define GUEST(node) "pipeline p {\n  source s stream { }\n" node "  sink a attach { point = \"a\" }\n" \
		    "  link s -> v -> a\n}\n"

static void test_declaration_errors(void **state)
{
	struct rig *r = rig_new(0, true);
	char msg[2048];

	assert_int_equal(new_dev_err(r, GUEST("  node v volume { control.gian = \"Vol\" }\n"), msg), -EINVAL);
	assert_non_null(strstr(msg, "guest topology:3:34: control 'Vol': volume 'v' has no parameter 'gian'"));
	assert_int_equal(new_dev_err(r, GUEST("  node v meter { control.peak.0 = \"Peak\" }\n"), msg), -EINVAL);
	assert_non_null(strstr(msg, "guest topology:3:35: control 'Peak': parameter 'peak.0' of meter 'v' is read-only"));
	assert_int_equal(new_dev_err(r, GUEST("  node v volume { control.gain = { name = \"V\", invert = true } }\n"),
				     msg), -EINVAL);
	assert_non_null(strstr(msg, "guest topology:3:43: control 'V': 'invert' needs a boolean parameter; 'gain' of 'v' is not one"));
	assert_int_equal(new_dev_err(r, GUEST("  node v volume { control.gain = { invert = false } }\n"), msg),
			 -EINVAL);
	assert_non_null(strstr(msg, "guest topology:3:45: the control for parameter 'gain' has no name"));
	assert_int_equal(new_dev_err(r, GUEST("  node v volume { control.gain = 3dB }\n"), msg), -EINVAL);
	assert_non_null(strstr(msg, "guest topology:3:34: 'control.gain': a control is declared as control.PARAM = \"Name\""));
	assert_int_equal(new_dev_err(r, GUEST("  node v volume { control.gain = "
					      "\"A name far longer than forty-three bytes, really\" }\n"), msg), -EINVAL);
	assert_non_null(strstr(msg, "guest topology:3:34: 'control.gain': the control's name must be a string of 1 to 43 bytes"));
	assert_int_equal(new_dev_err(r, GUEST("  node v volume { control.gain = \"X\"; control.mute = \"X\" }\n"),
				     msg), -EINVAL);
	assert_non_null(strstr(msg, "guest topology:3:54: control 'X' is already declared at guest topology:3:34 "
				    "for a parameter of another type or range"));
	assert_int_equal(new_dev_err(r, GUEST("  node v volume { control.mute.invert = maybe; control.mute.name = \"M\" }\n"),
				     msg), -EINVAL);
	assert_non_null(strstr(msg, "guest topology:3:41: 'control.mute.invert' must be true or false"));
	/* a good one, for contrast: the node still takes its own properties */
	assert_int_equal(new_dev_err(r, GUEST("  node v volume { gain = -3dB; control.gain = \"V\" }\n"), msg), 0);
	rig_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_info_and_items),
		cmocka_unit_test(test_read_write_and_refusals),
		cmocka_unit_test(test_tlv_db_scale),
		cmocka_unit_test(test_volume_changes_level),
		cmocka_unit_test(test_host_change_notifies),
		cmocka_unit_test(test_control_changed_hook),
		cmocka_unit_test(test_declaration_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
