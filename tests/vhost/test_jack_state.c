/* tests/vhost/test_jack_state.c - the daemon's guests (src/daemon/guest.c, host.c)
 * driven by the fake front-end over real unix sockets, with the event loop run in
 * the test's thread:
 * - jacks: a host endpoint's connection state, set by the daemon or published by
 *   another thread through the endpoint's eventfd, reaches the guest whose attach
 *   point reaches that endpoint as JACK_(DIS)CONNECTED with the right jack id and
 *   in JACK_INFO; a guest mapped to another endpoint gets nothing;
 * - persistent controls: a guest's CTL_WRITE is in the state file before the reply
 *   is read, survives a reconnect and a daemon restart (CTL_READ and the measured
 *   level), and each guest keeps its own values; stale entries are logged and
 *   ignored. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <virtdsp/topology.h>

#include "analysis.h"
#include "daemon/guest.h"
#include "daemon/host.h"
#include "daemon/loop.h"
#include "daemon/state.h"
#include "endpoint/endpoint.h"
#include "fake_frontend.h"
#include "testnodes.h"
#include "graph/graph-impl.h"
#include "testutil.h"
#include "virtio_snd/proto.h"

#define QSIZE 64
#define RING_FEATURES ((1ull << VD_VHOST_F_VERSION_1) | (1ull << VD_VHOST_F_INDIRECT_DESC) | \
		       (1ull << VD_VHOST_F_EVENT_IDX))
#define MEM_SIZE (16u << 20)
#define PERIOD 480
#define PERIOD_BYTES (PERIOD * 2 * 4)	/* f32 stereo */
#define N_EV 4

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* ---- the daemon side: loop, log ---- */

struct daemon {
	struct vd_loop *loop;
	char log[16384];
};

static void log_cb(void *data, const char *line)
{
	struct daemon *d = data;
	size_t n = strlen(d->log);

	snprintf(d->log + n, sizeof(d->log) - n, "%s\n", line);
}

static void diag_cb(void *data, const struct vd_error *e)
{
	char line[700];

	fprintf(stderr, "%s\n", vd_error_format(e, line, sizeof(line)));
	(void)data;
}

static void collect(void *data, const struct vd_error *e)
{
	char *buf = data, line[700];
	size_t n = strlen(buf);

	snprintf(buf + n, 2048 - n, "%s\n", vd_error_format(e, line, sizeof(line)));
}

static int pump_loop(void *arg)
{
	struct daemon *d = arg;

	for (int i = 0; i < 64; i++)
		if (vd_loop_iterate(d->loop, 0) <= 0)
			break;
	return 0;
}

/* ---- the fake guest ---- */

struct fguest {
	struct vd_ff ff;
	struct daemon *d;
	uint64_t req, resp;
	uint64_t ev_at[QSIZE];		/* event buffer by descriptor head */
	uint64_t msg[QSIZE];
	unsigned inflight;
	uint64_t k;			/* periods of the tone played */
};

static void guest_connect(struct daemon *d, struct fguest *g, const char *sock, bool controls)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	memset(g, 0, sizeof(*g));
	g->d = d;
	pump_loop(d);
	vd_ff_init(&g->ff, fd, 4, pump_loop, d);
	assert_int_equal(vd_ff_add_region(&g->ff, 0, MEM_SIZE, 0), 0);
	if (vd_ff_handshake(&g->ff, 16) < 0 ||
	    vd_ff_start(&g->ff, RING_FEATURES | (controls ? 1ull << VIRTIO_SND_F_CTLS : 0), QSIZE, NULL) < 0)
		fail_msg("front-end: %s; daemon: %s", g->ff.err, d->log);
	g->req = vd_ff_alloc(&g->ff, 4096, 16);
	g->resp = vd_ff_alloc(&g->ff, 8192, 16);
	for (unsigned i = 0; i < N_EV; i++) {
		uint64_t at = vd_ff_alloc(&g->ff, 8, 8);
		struct vd_ff_buf b = { at, 8, true };
		int head = vd_ff_vq_add(&g->ff, 1, &b, 1, false);

		assert_true(head >= 0);
		g->ev_at[head] = at;
	}
	vd_ff_kick(&g->ff, 1);
	for (unsigned i = 0; i < QSIZE; i++)
		g->msg[i] = vd_ff_alloc(&g->ff, 12 + PERIOD_BYTES, 64);
	pump_loop(d);
}

static void guest_disconnect(struct fguest *g)
{
	vd_ff_close(&g->ff);
	pump_loop(g->d);
}

/* The next event the guest got: 1 and its code and data, or 0 if none; the buffer goes back. */
static int next_event(struct fguest *g, uint32_t *code, uint32_t *data)
{
	uint32_t id, len;
	struct vd_ff_buf b;
	int head;

	pump_loop(g->d);
	if (vd_ff_vq_used(&g->ff, 1, &id, &len) != 1)
		return 0;
	assert_int_equal(len, 8);
	*code = le32(vd_ff_host(&g->ff, g->ev_at[id]));
	*data = le32((uint8_t *)vd_ff_host(&g->ff, g->ev_at[id]) + 4);
	b = (struct vd_ff_buf){ g->ev_at[id], 8, true };
	head = vd_ff_vq_add(&g->ff, 1, &b, 1, false);
	assert_true(head >= 0);
	g->ev_at[head] = b.gpa;
	vd_ff_kick(&g->ff, 1);
	pump_loop(g->d);
	return 1;
}

static uint32_t ctl(struct fguest *g, const void *req, uint32_t len, void *resp, uint32_t resp_len)
{
	struct vd_ff_buf b[2] = { { g->req, len, false }, { g->resp, resp_len, true } };
	uint32_t id, used;

	memcpy(vd_ff_host(&g->ff, g->req), req, len);
	memset(vd_ff_host(&g->ff, g->resp), 0xAA, resp_len);
	assert_true(vd_ff_vq_add(&g->ff, 0, b, 2, false) >= 0);
	vd_ff_kick(&g->ff, 0);
	for (int t = 0; t < 5000; t++) {
		if (vd_ff_vq_used(&g->ff, 0, &id, &used) == 1) {
			memcpy(resp, vd_ff_host(&g->ff, g->resp), resp_len);
			return le32(resp);
		}
		vd_loop_iterate(g->d->loop, 1);
	}
	fail_msg("no reply to control request %u", le32(req));
	return 0;
}

/* JACK_INFO's `connected` of jack @j. */
static int jack_connected(struct fguest *g, uint32_t j)
{
	uint8_t req[16], resp[4 + 24];

	put32(req, VIRTIO_SND_R_JACK_INFO);
	put32(req + 4, j);
	put32(req + 8, 1);
	put32(req + 12, 24);
	assert_int_equal(ctl(g, req, 16, resp, sizeof(resp)), VIRTIO_SND_S_OK);
	return resp[4 + 16];
}

static int32_t ctl_read(struct fguest *g, uint32_t id)
{
	uint8_t req[8], resp[4 + 512];

	put32(req, VIRTIO_SND_R_CTL_READ);
	put32(req + 4, id);
	assert_int_equal(ctl(g, req, 8, resp, sizeof(resp)), VIRTIO_SND_S_OK);
	return (int32_t)le32(resp + 4);
}

static uint32_t ctl_write(struct fguest *g, uint32_t id, int32_t v)
{
	uint8_t req[8 + 512] = { 0 }, resp[4];

	put32(req, VIRTIO_SND_R_CTL_WRITE);
	put32(req + 4, id);
	put32(req + 8, (uint32_t)v);
	return ctl(g, req, sizeof(req), resp, 4);
}

static uint32_t pcm_cmd(struct fguest *g, uint32_t code)
{
	uint8_t req[8], resp[4];

	put32(req, code);
	put32(req + 4, 0);
	return ctl(g, req, 8, resp, 4);
}

static void start_playback(struct fguest *g)
{
	uint8_t req[24] = { 0 }, resp[4];

	put32(req, VIRTIO_SND_R_PCM_SET_PARAMS);
	put32(req + 8, 4 * PERIOD_BYTES);
	put32(req + 12, PERIOD_BYTES);
	req[20] = 2;
	req[21] = VIRTIO_SND_PCM_FMT_FLOAT;
	req[22] = VIRTIO_SND_PCM_RATE_48000;
	assert_int_equal(ctl(g, req, 24, resp, 4), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(g, VIRTIO_SND_R_PCM_PREPARE), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(g, VIRTIO_SND_R_PCM_START), VIRTIO_SND_S_OK);
}

/* One period of a 1 kHz sine at amplitude 0.5, phase continuous. */
static void tx_period(struct fguest *g)
{
	unsigned slot = g->ff.vq[2].next_desc;
	uint64_t base = g->msg[slot];
	float *d = vd_ff_host(&g->ff, base + 12);
	struct vd_ff_buf b[3] = {
		{ base, 4, false }, { base + 12, PERIOD_BYTES, false }, { base + 4, 8, true },
	};

	put32(vd_ff_host(&g->ff, base), 0);
	for (uint32_t i = 0; i < PERIOD; i++)
		d[2 * i] = d[2 * i + 1] = (float)(0.5 * sin(2 * M_PI * 1000.0 *
							     (double)(g->k * PERIOD + i) / 48000.0));
	g->k++;
	assert_true(vd_ff_vq_add(&g->ff, 2, b, 3, true) >= 0);
	vd_ff_kick(&g->ff, 2);
}

/* ---- host graphs ---- */

/* Jacks: playback point a reaches out_a through a volume node, b reaches out_b, capture point c
 * comes from a silence source that starts disconnected. */
static const char host_jacks[] =
	"pipeline host {\n"
	"  rate = 48000; period = 480\n"
	"  attach a playback { channels = 2 }\n"
	"  node trim volume { gain = -1dB }\n"
	"  sink out_a null\n"
	"  link a -> trim -> out_a\n"
	"  attach b playback { channels = 2 }\n"
	"  sink out_b null\n"
	"  link b -> out_b\n"
	"  source mic silence { channels = 2; connected = false }\n"
	"  attach c capture { channels = 2 }\n"
	"  link mic -> c\n"
	"}\n";

#define STREAM_OUT(point, jack) \
	"pipeline out {\n" \
	"  source pcm stream { direction = playback; formats = [f32]; rate_min = 48000; " \
	"rate_max = 48000; channels_min = 2; channels_max = 2 }\n" \
	"  sink host attach { point = \"" point "\"; jack = " jack " }\n" \
	"  link pcm -> host\n}\n"
#define STREAM_IN(point, jack) \
	"pipeline in {\n" \
	"  source host_in attach { point = \"" point "\"; jack = " jack " }\n" \
	"  sink pcm_in stream { direction = capture; formats = [f32]; rate_min = 48000; " \
	"rate_max = 48000; channels_min = 2; channels_max = 2 }\n" \
	"  link host_in -> pcm_in\n}\n"

struct publish {
	struct vd_endpoint_conn *conn;
	bool value;
};

static void *publisher(void *arg)
{
	struct publish *p = arg;

	vd_endpoint_conn_set(p->conn, p->value);
	return NULL;
}

static void expect_event(struct fguest *g, uint32_t code, uint32_t data)
{
	uint32_t c = 0, v = 0;

	assert_int_equal(next_event(g, &c, &v), 1);
	assert_int_equal(c, code);
	assert_int_equal(v, data);
}

static void expect_no_event(struct fguest *g)
{
	uint32_t c, v;

	assert_int_equal(next_event(g, &c, &v), 0);
}

/* What the guest reports to its event hook (the control socket's events). */
struct jack_events {
	unsigned n;
	unsigned jack[8];
	bool connected[8];
};

static void on_guest_event(void *data, struct vd_guest *g, const struct vd_guest_event *ev)
{
	struct jack_events *je = data;

	(void)g;
	if (ev->kind == VD_GUEST_EVENT_JACK && je->n < 8) {
		je->jack[je->n] = ev->index;
		je->connected[je->n++] = ev->connected;
	}
}

static void test_endpoint_state_drives_jacks(void **state)
{
	struct jack_events je1 = { 0 }, je2 = { 0 };
	char *dir = vd_test_tmpdir();
	char host_path[512], t1[512], t2[512], s1[512], s2[512], err[512];
	struct vd_diag diag = { .report = diag_cb };
	struct vd_host_options ho = { 0 };
	struct daemon *d = calloc(1, sizeof(*d));
	struct vd_host *h;
	struct vd_guest *vm1 = NULL, *vm2 = NULL;
	struct fguest *g1 = calloc(1, sizeof(*g1)), *g2 = calloc(1, sizeof(*g2));
	bool c;

	(void)state;
	assert_non_null(d);
	snprintf(host_path, sizeof(host_path), "%s/host.topo", dir);
	snprintf(t1, sizeof(t1), "%s/vm1.topo", dir);
	snprintf(t2, sizeof(t2), "%s/vm2.topo", dir);
	snprintf(s1, sizeof(s1), "%s/vm1.sock", dir);
	snprintf(s2, sizeof(s2), "%s/vm2.sock", dir);
	write_file(host_path, host_jacks);
	write_file(t1, STREAM_OUT("a", "headphone") STREAM_IN("c", "mic"));
	write_file(t2, STREAM_OUT("b", "line-out"));
	ho.topology = host_path;
	if (vd_host_new(&ho, &h, &diag, err, sizeof(err)) < 0)
		fail_msg("host: %s", err);
	assert_int_equal(vd_loop_new(&d->loop), 0);
	assert_int_equal(vd_host_watch(h, d->loop, log_cb, d), 0);
	assert_int_equal(vd_host_watch(h, d->loop, log_cb, d), -EBUSY);

	/* the host's view: three endpoints, the capture point disconnected by its property */
	assert_int_equal(vd_host_endpoint_count(h), 3);
	assert_int_equal(vd_host_point_connected(h, "a", &c), 0);
	assert_true(c);
	assert_int_equal(vd_host_point_connected(h, "c", &c), 0);
	assert_false(c);
	assert_int_equal(vd_host_point_connected(h, "nope", &c), -ENOENT);
	assert_int_equal(vd_host_set_endpoint_connected(h, "trim", false), -ENOENT);
	assert_int_equal(vd_host_set_endpoint_connected(h, "nope", false), -ENOENT);

	struct vd_guest_config gc1 = { .name = "vm1", .socket = s1, .topology = t1, .jacks = h };
	struct vd_guest_config gc2 = { .name = "vm2", .socket = s2, .topology = t2, .jacks = h };

	if (vd_guest_new(d->loop, vd_host_graph(h), &gc1, log_cb, d, &vm1, &diag, err, sizeof(err)) < 0 ||
	    vd_guest_new(d->loop, vd_host_graph(h), &gc2, log_cb, d, &vm2, &diag, err, sizeof(err)) < 0)
		fail_msg("guest: %s", err);
	vd_guest_set_event_hook(vm1, on_guest_event, &je1);
	vd_guest_set_event_hook(vm2, on_guest_event, &je2);
	guest_connect(d, g1, s1, false);
	guest_connect(d, g2, s2, false);

	/* at connection, JACK_INFO already says what the host endpoints are */
	assert_int_equal(jack_connected(g1, 0), 1);
	assert_int_equal(jack_connected(g1, 1), 0);
	assert_int_equal(jack_connected(g2, 0), 1);
	expect_no_event(g2);

	/* the daemon unplugs out_a: vm1's headphone jack (id 0), not vm2's */
	while (next_event(g1, &(uint32_t){ 0 }, &(uint32_t){ 0 }))
		;	/* whatever the connection started with */
	assert_int_equal(vd_host_set_endpoint_connected(h, "out_a", false), 0);
	expect_event(g1, VIRTIO_SND_EVT_JACK_DISCONNECTED, 0);
	expect_no_event(g1);
	expect_no_event(g2);
	assert_int_equal(jack_connected(g1, 0), 0);
	assert_int_equal(jack_connected(g2, 0), 1);
	/* ... and the daemon's event hook (control-socket events) heard it, for vm1 only */
	assert_int_equal(je1.n, 1);
	assert_int_equal(je1.jack[0], 0);
	assert_false(je1.connected[0]);
	assert_int_equal(je2.n, 0);
	/* setting the same state again says nothing */
	assert_int_equal(vd_host_set_endpoint_connected(h, "out_a", false), 0);
	expect_no_event(g1);

	/* another thread (as the processing thread would) plugs it back: the eventfd wakes the loop */
	struct vd_endpoint_conn *conn = vd_endpoint_conn_of(vd_graph_find(vd_host_graph(h), "out_a")->ops,
							    vd_graph_find(vd_host_graph(h), "out_a")->self);
	struct publish pub = { conn, true };
	pthread_t th;
	uint32_t code = 0, data = 0;

	assert_non_null(conn);
	assert_int_equal(pthread_create(&th, NULL, publisher, &pub), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	for (int t = 0; t < 5000 && !next_event(g1, &code, &data); t++)
		vd_loop_iterate(d->loop, 1);
	assert_int_equal(code, VIRTIO_SND_EVT_JACK_CONNECTED);
	assert_int_equal(data, 0);
	assert_int_equal(jack_connected(g1, 0), 1);
	expect_no_event(g2);

	/* out_b is vm2's only */
	assert_int_equal(vd_host_set_endpoint_connected(h, "out_b", false), 0);
	expect_event(g2, VIRTIO_SND_EVT_JACK_DISCONNECTED, 0);
	expect_no_event(g1);
	assert_int_equal(jack_connected(g2, 0), 0);

	/* the capture side: the mic source comes up, vm1's jack 1 connects */
	assert_int_equal(vd_host_set_endpoint_connected(h, "mic", true), 0);
	expect_event(g1, VIRTIO_SND_EVT_JACK_CONNECTED, 1);
	assert_int_equal(jack_connected(g1, 1), 1);
	expect_no_event(g2);
	assert_int_equal(je1.n, 3);
	assert_int_equal(je1.jack[2], 1);
	assert_true(je1.connected[2]);
	assert_int_equal(je2.n, 1);

	/* a change while vm2 is away shows in JACK_INFO when it comes back */
	guest_disconnect(g2);
	assert_int_equal(vd_host_set_endpoint_connected(h, "out_b", true), 0);
	guest_connect(d, g2, s2, false);
	assert_int_equal(jack_connected(g2, 0), 1);

	assert_non_null(strstr(d->log, "host endpoint 'out_a' disconnected"));
	assert_non_null(strstr(d->log, "vm1: jack 0 (host attach point 'a') disconnected"));
	assert_non_null(strstr(d->log, "vm2: jack 0 (host attach point 'b') connected"));

	guest_disconnect(g1);
	guest_disconnect(g2);
	vd_guest_free(vm1);
	vd_guest_free(vm2);
	vd_host_free(h);
	vd_loop_free(d->loop);
	vd_test_rmdir(dir);
	free(g1);
	free(g2);
	free(d);
}

/* An attach point reaching no endpoint (a volume node into nowhere is impossible, so:
 * the property alone) and the host-topology property on a file sink. */
static void test_connected_property(void **state)
{
	char *dir = vd_test_tmpdir();
	char host_path[512], text[1024], err[512];
	struct vd_diag diag = { .report = diag_cb };
	struct vd_host_options ho = { 0 };
	struct vd_host *h;
	bool c;
	const char *name;

	(void)state;
	snprintf(host_path, sizeof(host_path), "%s/host.topo", dir);
	snprintf(text, sizeof(text),
		 "pipeline host {\n  rate = 48000; period = 480\n"
		 "  attach a playback { channels = 2 }\n"
		 "  sink f file { path = \"%s/out.wav\"; connected = false }\n"
		 "  link a -> f\n}\n", dir);
	write_file(host_path, text);
	ho.topology = host_path;
	if (vd_host_new(&ho, &h, &diag, err, sizeof(err)) < 0)
		fail_msg("host: %s", err);
	assert_int_equal(vd_host_endpoint_count(h), 1);
	name = vd_host_endpoint_name(h, 0, &c);
	assert_string_equal(name, "f");
	assert_false(c);
	assert_int_equal(vd_host_point_connected(h, "a", &c), 0);
	assert_false(c);
	/* without a loop, the change is seen at once */
	assert_int_equal(vd_host_set_endpoint_connected(h, "f", true), 0);
	assert_int_equal(vd_host_point_connected(h, "a", &c), 0);
	assert_true(c);
	vd_host_free(h);

	/* a bad value is a topology error at its location */
	snprintf(text, sizeof(text),
		 "pipeline host {\n  rate = 48000; period = 480\n"
		 "  attach a playback { channels = 2 }\n"
		 "  sink n null { connected = maybe }\n"
		 "  link a -> n\n}\n");
	write_file(host_path, text);
	char msgs[2048] = "";
	struct vd_diag d2 = { .report = collect, .data = msgs };

	assert_int_equal(vd_host_new(&ho, &h, &d2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(msgs, "host.topo:4:"));
	assert_non_null(strstr(msgs, "'connected' must be true or false, not 'maybe'"));
	vd_test_rmdir(dir);
}

/* ---- persistent control values ---- */

#define GUEST_VOL(point) \
	"pipeline out {\n" \
	"  source pcm stream { direction = playback; formats = [f32]; rate_min = 48000; " \
	"rate_max = 48000; channels_min = 2; channels_max = 2 }\n" \
	"  node vol volume { gain = -6dB; control.gain = \"PCM Playback Volume\"\n" \
	"                    control.mute = { name = \"PCM Playback Switch\", invert = true } }\n" \
	"  sink host attach { point = \"" point "\" }\n" \
	"  link pcm -> vol -> host\n}\n"

enum { C_VOLUME, C_SWITCH };
/* guest integers of the volume: 0.1 dB steps, 1200 = 0 dB */
#define VOL_6DB 1140
#define VOL_20DB 1000
#define VOL_10DB 1100

struct prig {
	char *dir;
	char state_path[512], t[2][512], s[2][512];
	struct vd_topology *ht;
	struct vd_graph *host;
	struct daemon d;
	struct vd_state *st;
	struct vd_guest *vm[2];
	struct test_probes probes;
};

static void prig_guests(struct prig *r)
{
	char err[512];
	struct vd_diag diag = { .report = diag_cb };

	assert_int_equal(vd_state_new(r->state_path, &r->st), 0);
	if (vd_state_load(r->st, err, sizeof(err)) < 0)
		fail_msg("state: %s", err);
	for (unsigned i = 0; i < 2; i++) {
		struct vd_guest_config gc = { .name = i ? "vm2" : "vm1", .socket = r->s[i], .topology = r->t[i],
					      .controls = true, .state = r->st };

		if (vd_guest_new(r->d.loop, r->host, &gc, log_cb, &r->d, &r->vm[i], &diag, err, sizeof(err)) < 0)
			fail_msg("guest: %s", err);
	}
}

static void prig_stop_guests(struct prig *r)
{
	for (unsigned i = 0; i < 2; i++) {
		vd_guest_free(r->vm[i]);
		r->vm[i] = NULL;
	}
	vd_state_free(r->st);
	r->st = NULL;
}

static struct prig *prig_new(void)
{
	struct prig *r = calloc(1, sizeof(*r));
	struct vd_diag diag = { .report = diag_cb };

	assert_non_null(r);
	r->dir = vd_test_tmpdir();
	/* two levels that do not exist yet: the first save creates them */
	snprintf(r->state_path, sizeof(r->state_path), "%s/st/virtdsp/state", r->dir);
	for (unsigned i = 0; i < 2; i++) {
		snprintf(r->t[i], sizeof(r->t[i]), "%s/vm%u.topo", r->dir, i + 1);
		snprintf(r->s[i], sizeof(r->s[i]), "%s/vm%u.sock", r->dir, i + 1);
	}
	write_file(r->t[0], GUEST_VOL("a"));
	write_file(r->t[1], GUEST_VOL("b"));
	assert_int_equal(test_probe_host_new(&r->probes, 48000 * 8, &diag, &r->ht, &r->host), 0);
	assert_int_equal(r->probes.n, 2);
	assert_int_equal(vd_loop_new(&r->d.loop), 0);
	return r;
}

static void prig_free(struct prig *r)
{
	prig_stop_guests(r);
	vd_graph_free(r->host);
	vd_topology_free(r->ht);
	vd_loop_free(r->d.loop);
	vd_test_rmdir(r->dir);
	free(r);
}

/* Play 30 host cycles with @g's queue kept full; the level (dBFS) of the last 100 ms at probe @p. */
static double play_level(struct prig *r, struct fguest *g, struct test_probe *p)
{
	const uint64_t win = 4800;
	uint32_t id, len;

	for (unsigned c = 0; c < 30; c++) {
		pump_loop(&r->d);
		while (vd_ff_vq_used(&g->ff, 2, &id, &len) == 1)
			g->inflight--;
		for (; g->inflight < 3; g->inflight++)
			tx_period(g);
		pump_loop(&r->d);
		assert_int_equal(vd_graph_cycle(r->host), 0);
	}
	assert_true(p->n >= win);
	return vd_db(vd_tone_amplitude(p->data + (p->n - win) * 2, win, 2, 48000.0, 1000.0));
}

static double stored(const char *path, const char *guest, const char *control)
{
	struct vd_state *st;
	char err[512];
	double v = NAN;

	assert_int_equal(vd_state_new(path, &st), 0);
	if (vd_state_load(st, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	if (vd_state_get(st, guest, control, &v) < 0)
		v = NAN;
	vd_state_free(st);
	return v;
}

static void test_controls_persist(void **state)
{
	struct prig *r = prig_new();
	struct fguest *g1 = calloc(1, sizeof(*g1)), *g2 = calloc(1, sizeof(*g2));
	const double tone = 20 * log10(0.5);
	double l0, l1, l2, l3;

	(void)state;
	prig_guests(r);
	guest_connect(&r->d, g1, r->s[0], true);
	guest_connect(&r->d, g2, r->s[1], true);
	assert_int_equal(ctl_read(g1, C_VOLUME), VOL_6DB);
	start_playback(g1);
	l0 = play_level(r, g1, r->probes.p[0]);
	assert_true(fabs(l0 - (tone - 6.0)) < 0.05);

	/* the write is on disk by the time the guest has its reply */
	assert_int_equal(ctl_write(g1, C_VOLUME, VOL_20DB), VIRTIO_SND_S_OK);
	assert_true(stored(r->state_path, "vm1", "PCM Playback Volume") == -20.0);
	assert_true(isnan(stored(r->state_path, "vm2", "PCM Playback Volume")));
	assert_int_equal(ctl_write(g1, C_SWITCH, 0), VIRTIO_SND_S_OK);
	assert_true(stored(r->state_path, "vm1", "PCM Playback Switch") == 0.0);
	assert_int_equal(ctl_write(g1, C_SWITCH, 1), VIRTIO_SND_S_OK);
	assert_true(stored(r->state_path, "vm1", "PCM Playback Switch") == 1.0);
	/* refused writes store nothing */
	assert_int_equal(ctl_write(g1, C_VOLUME, 5000), VIRTIO_SND_S_BAD_MSG);
	assert_true(stored(r->state_path, "vm1", "PCM Playback Volume") == -20.0);
	/* the other guest is untouched */
	assert_int_equal(ctl_read(g2, C_VOLUME), VOL_6DB);

	/* reconnect: the same value, heard */
	guest_disconnect(g1);
	guest_connect(&r->d, g1, r->s[0], true);
	assert_int_equal(ctl_read(g1, C_VOLUME), VOL_20DB);
	start_playback(g1);
	l1 = play_level(r, g1, r->probes.p[0]);
	print_message("level: %.3f dBFS at -6 dB, %.3f dBFS at the stored -20 dB after a reconnect\n", l0, l1);
	assert_true(fabs(l1 - (tone - 20.0)) < 0.05);

	/* daemon restart: new guests, a new state read from the file */
	guest_disconnect(g1);
	guest_disconnect(g2);
	prig_stop_guests(r);
	prig_guests(r);
	guest_connect(&r->d, g1, r->s[0], true);
	guest_connect(&r->d, g2, r->s[1], true);
	assert_int_equal(ctl_read(g1, C_VOLUME), VOL_20DB);
	assert_int_equal(ctl_read(g1, C_SWITCH), 1);
	assert_int_equal(ctl_read(g2, C_VOLUME), VOL_6DB);
	start_playback(g1);
	l2 = play_level(r, g1, r->probes.p[0]);
	assert_true(fabs(l2 - l1) < 0.02);

	/* the second guest's own value, kept beside the first's */
	assert_int_equal(ctl_write(g2, C_VOLUME, VOL_10DB), VIRTIO_SND_S_OK);
	assert_true(stored(r->state_path, "vm2", "PCM Playback Volume") == -10.0);
	assert_true(stored(r->state_path, "vm1", "PCM Playback Volume") == -20.0);
	start_playback(g2);
	l3 = play_level(r, g2, r->probes.p[1]);
	assert_true(fabs(l3 - (tone - 10.0)) < 0.05);
	assert_int_equal(ctl_read(g1, C_VOLUME), VOL_20DB);

	guest_disconnect(g1);
	guest_disconnect(g2);
	free(g1);
	free(g2);
	prig_free(r);
}

/* Entries the topology no longer matches are logged and left alone; a corrupt file is set aside. */
static void test_stale_and_corrupt_state(void **state)
{
	struct prig *r = prig_new();
	struct fguest *g1 = calloc(1, sizeof(*g1));
	char dir[600], text[1024];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/st", r->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/st/virtdsp", r->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(text, sizeof(text),
		 "virtdsp-state 1\n"
		 "guest \"vm1\"\n"
		 "    \"PCM Playback Volume\" = 500\n"
		 "    \"Bass Boost\" = 3\n"
		 "    \"PCM Playback Switch\" = 0\n");
	write_file(r->state_path, text);
	prig_guests(r);
	assert_non_null(strstr(r->d.log, "vm1: state file: 500 is out of range for control "
				      "\"PCM Playback Volume\"; ignored"));
	assert_non_null(strstr(r->d.log, "vm1: state file: no control \"Bass Boost\" in this guest's "
				      "topology; its value 3 is kept in the file but not used"));
	guest_connect(&r->d, g1, r->s[0], true);
	assert_int_equal(ctl_read(g1, C_VOLUME), VOL_6DB);
	assert_int_equal(ctl_read(g1, C_SWITCH), 0);	/* the valid entry applied */
	/* a later change keeps the unmatched entry in the file */
	assert_int_equal(ctl_write(g1, C_SWITCH, 1), VIRTIO_SND_S_OK);
	assert_true(stored(r->state_path, "vm1", "Bass Boost") == 3.0);
	guest_disconnect(g1);
	prig_stop_guests(r);

	/* corrupt: the daemon goes on with defaults and the file is moved aside */
	write_file(r->state_path, "virtdsp-state 1\nguest \"vm1\"\n    \"PCM Playback Volume\" = loud\n");
	struct vd_state *st;
	char err[1024];

	assert_int_equal(vd_state_new(r->state_path, &st), 0);
	assert_int_equal(vd_state_load(st, err, sizeof(err)), -EINVAL);
	char want[1200];

	snprintf(want, sizeof(want), "%s:3:29: expected a number; moved it to %s.corrupt-", r->state_path,
		 r->state_path);
	assert_non_null(strstr(err, want));
	assert_int_equal(access(r->state_path, F_OK), -1);
	assert_int_equal(vd_state_count(st, "vm1"), 0);
	vd_state_free(st);
	free(g1);
	prig_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint_state_drives_jacks),
		cmocka_unit_test(test_connected_property),
		cmocka_unit_test(test_controls_persist),
		cmocka_unit_test(test_stale_and_corrupt_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
