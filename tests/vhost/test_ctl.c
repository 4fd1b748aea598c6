/* tests/vhost/test_ctl.c - the control socket (src/daemon/ctl_server.c) over
 * real daemon pieces: an event loop, a host graph the test cycles, guests
 * (vd_guest) driven by the fake vhost-user front-end, and clients on the
 * socket. Every request and its errors, pipelining and framing, events,
 * a `set` reaching the guest as CTL_NOTIFY and moving the measured level by
 * the dB asked, topology replacement, the access model (a client running
 * as nobody), misbehaving clients, and the `virtdsp ctl` binary's human and
 * JSON output. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include <virtdsp/attach.h>
#include <virtdsp/topology.h>

#include "analysis.h"
#include "fake_frontend.h"
#include "testnodes.h"
#include "daemon/ctl_server.h"
#include "daemon/guest.h"
#include "daemon/loop.h"
#include "virtio_snd/proto.h"

#define QSIZE 64
#define RING_FEATURES ((1ull << VD_VHOST_F_VERSION_1) | (1ull << VD_VHOST_F_INDIRECT_DESC) | \
		       (1ull << VD_VHOST_F_EVENT_IDX))
#define MEM_SIZE (16u << 20)
#define PERIOD 480
#define PERIOD_BYTES (PERIOD * 2 * 4)	/* f32 stereo */
#define NOBODY 65534

/* ---- the guest topology (the host is testnodes' two-probe graph) ---- */

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
	"  }\n"
	"  sink host attach { point = \"%s\" }\n"
	"  link pcm -> vol -> eq1 -> host\n"
	"}\n";

enum { C_VOLUME, C_SWITCH, C_EQ_TYPE, N_CTLS };

/* ---- the rig ---- */

struct fguest {
	struct vd_ff ff;
	bool up;
	uint64_t req, resp, ev[8], msg[QSIZE];
	unsigned inflight, evs;
	uint64_t k;			/* periods sent */
};

struct rig {
	char dir[64], sock[2][128], ctl_path[128], topo_path[2][128];
	struct test_probes probes;
	struct vd_topology *host_t;
	struct vd_graph *host;
	struct vd_loop *loop;
	struct vd_guest *guests[2];
	struct vd_ctl_server *ctl;
	struct fguest fg[2];
	struct vd_power_status power;
	bool managed;
	char log[16384];
	char diag[2048];
};

static void log_cb(void *data, const char *line)
{
	struct rig *r = data;
	size_t n = strlen(r->log);

	if (n + 2 < sizeof(r->log))
		snprintf(r->log + n, sizeof(r->log) - n, "%s\n", line);
}

static void diag_cb(void *data, const struct vd_error *e)
{
	char *buf = data, line[700];
	size_t n = strlen(buf);

	snprintf(buf + n, 2048 - n, "%s\n", vd_error_format(e, line, sizeof(line)));
}

static void power_cb(void *data, struct vd_power_status *st)
{
	*st = ((struct rig *)data)->power;
}

static int pump_loop(void *arg)
{
	struct rig *r = arg;

	for (int i = 0; i < 64; i++)
		if (vd_loop_iterate(r->loop, 0) <= 0)
			break;
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static struct rig *rig_new(unsigned ctl_mode)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct vd_diag diag;
	char text[2048], err[512];

	assert_non_null(r);
	diag = (struct vd_diag){ .report = diag_cb, .data = r->diag };
	snprintf(r->dir, sizeof(r->dir), "/tmp/vdctl-XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	assert_int_equal(chmod(r->dir, 0755), 0);	/* the nobody client must reach the socket */
	if (test_probe_host_new(&r->probes, 48000 * 8, &diag, &r->host_t, &r->host) < 0)
		fail_msg("host topology: %s", r->diag);
	assert_int_equal(vd_loop_new(&r->loop), 0);
	for (unsigned i = 0; i < 2; i++) {
		char name[8];
		struct vd_guest_config gc = { .name = name, .socket = r->sock[i], .topology = r->topo_path[i],
					      .controls = true, .has_owner = i == 1, .owner = NOBODY };

		snprintf(name, sizeof(name), "vm%u", i + 1);
		snprintf(r->sock[i], sizeof(r->sock[i]), "%s/vm%u.sock", r->dir, i + 1);
		snprintf(r->topo_path[i], sizeof(r->topo_path[i]), "%s/vm%u.topo", r->dir, i + 1);
		snprintf(text, sizeof(text), guest_fmt, i ? "b" : "a");
		write_file(r->topo_path[i], text);
		if (vd_guest_new(r->loop, r->host, &gc, log_cb, r, &r->guests[i], &diag, err, sizeof(err)) < 0)
			fail_msg("guest: %s %s", err, r->diag);
	}
	snprintf(r->ctl_path, sizeof(r->ctl_path), "%s/ctl.sock", r->dir);
	struct vd_ctl_server_config cc = {
		.path = r->ctl_path, .mode = ctl_mode, .guests = r->guests, .n_guests = 2,
		.power_status = power_cb, .power_data = r, .server = "virtdsp test",
		.log = log_cb, .log_data = r,
	};
	if (vd_ctl_server_new(r->loop, &cc, &r->ctl, err, sizeof(err)) < 0)
		fail_msg("ctl server: %s", err);
	r->power = (struct vd_power_status){ .state = VD_POWER_ACTIVE, .users = { 1, 0, 2 },
					     .idle_timeout_ms = 5000, .suspends = 3, .resumes = 3 };
	return r;
}

static void rig_free(struct rig *r)
{
	char path[256];

	for (unsigned i = 0; i < 2; i++)
		if (r->fg[i].up)
			vd_ff_close(&r->fg[i].ff);
	pump_loop(r);
	vd_ctl_server_free(r->ctl);
	for (unsigned i = 0; i < 2; i++)
		vd_guest_free(r->guests[i]);
	vd_loop_free(r->loop);
	vd_graph_free(r->host);
	vd_topology_free(r->host_t);
	for (unsigned i = 0; i < 2; i++)
		unlink(r->topo_path[i]);
	snprintf(path, sizeof(path), "%s/new.topo", r->dir);
	unlink(path);
	rmdir(r->dir);
	free(r);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* ---- the fake guests ---- */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void guest_connect(struct rig *r, unsigned i)
{
	struct fguest *g = &r->fg[i];
	int fd = connect_to(r->sock[i]);

	assert_true(fd >= 0);
	memset(g, 0, sizeof(*g));
	pump_loop(r);
	vd_ff_init(&g->ff, fd, 4, pump_loop, r);
	assert_int_equal(vd_ff_add_region(&g->ff, 0, MEM_SIZE, 0), 0);
	assert_int_equal(vd_ff_handshake(&g->ff, 16), 0);
	if (vd_ff_start(&g->ff, RING_FEATURES | (1ull << VIRTIO_SND_F_CTLS), QSIZE, NULL) < 0)
		fail_msg("start: %s", g->ff.err);
	g->req = vd_ff_alloc(&g->ff, 4096, 16);
	g->resp = vd_ff_alloc(&g->ff, 4096, 16);
	for (unsigned k = 0; k < 8; k++)
		g->ev[k] = vd_ff_alloc(&g->ff, 8, 8);
	for (unsigned k = 0; k < QSIZE; k++)
		g->msg[k] = vd_ff_alloc(&g->ff, 4 + 8 + PERIOD_BYTES, 64);
	/* event buffers for CTL_NOTIFY */
	for (unsigned k = 0; k < 8; k++) {
		struct vd_ff_buf b = { g->ev[k], 8, true };

		assert_true(vd_ff_vq_add(&g->ff, 1, &b, 1, false) >= 0);
	}
	vd_ff_kick(&g->ff, 1);
	g->up = true;
	pump_loop(r);
}

static void guest_disconnect(struct rig *r, unsigned i)
{
	vd_ff_close(&r->fg[i].ff);
	r->fg[i].up = false;
	for (int t = 0; t < 100; t++) {
		struct vd_guest_stats st;

		vd_loop_iterate(r->loop, 10);
		vd_guest_get_stats(r->guests[i], &st);
		if (!st.connected)
			return;
	}
	fail_msg("the guest did not disconnect");
}

static uint32_t guest_ctl(struct rig *r, unsigned i, const void *req, uint32_t len, void *resp, uint32_t resp_len)
{
	struct fguest *g = &r->fg[i];
	struct vd_ff_buf b[2] = { { g->req, len, false }, { g->resp, resp_len, true } };
	uint32_t id, used;

	memcpy(vd_ff_host(&g->ff, g->req), req, len);
	assert_true(vd_ff_vq_add(&g->ff, 0, b, 2, false) >= 0);
	vd_ff_kick(&g->ff, 0);
	for (int t = 0; t < 100; t++) {
		pump_loop(r);
		if (vd_ff_vq_used(&g->ff, 0, &id, &used) == 1) {
			memcpy(resp, vd_ff_host(&g->ff, g->resp), resp_len);
			return le32(resp);
		}
		vd_loop_iterate(r->loop, 10);
	}
	fail_msg("no control reply");
	return 0;
}

static uint32_t pcm_cmd(struct rig *r, unsigned i, uint32_t code)
{
	uint8_t req[8], resp[4];

	put32(req, code);
	put32(req + 4, 0);
	return guest_ctl(r, i, req, 8, resp, 4);
}

static void start_playback(struct rig *r, unsigned i)
{
	uint8_t req[24] = { 0 }, resp[4];

	put32(req, VIRTIO_SND_R_PCM_SET_PARAMS);
	put32(req + 8, 4 * PERIOD_BYTES);
	put32(req + 12, PERIOD_BYTES);
	req[20] = 2;
	req[21] = VIRTIO_SND_PCM_FMT_FLOAT;
	req[22] = VIRTIO_SND_PCM_RATE_48000;
	assert_int_equal(guest_ctl(r, i, req, 24, resp, 4), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(r, i, VIRTIO_SND_R_PCM_PREPARE), VIRTIO_SND_S_OK);
	assert_int_equal(pcm_cmd(r, i, VIRTIO_SND_R_PCM_START), VIRTIO_SND_S_OK);
}

/* One period of a 1 kHz sine at amplitude 0.5. */
static void tx_period(struct fguest *g)
{
	unsigned slot = g->ff.vq[2].next_desc;
	uint64_t base = g->msg[slot % QSIZE];
	float *d = vd_ff_host(&g->ff, base + 12);
	struct vd_ff_buf b[3] = {
		{ base, 4, false }, { base + 12, PERIOD_BYTES, false }, { base + 4, 8, true },
	};

	put32(vd_ff_host(&g->ff, base), 0);
	for (uint32_t i = 0; i < PERIOD; i++)
		d[2 * i] = d[2 * i + 1] = (float)(0.5 * sin(2 * M_PI * 1000.0 * (double)(g->k * PERIOD + i) / 48000.0));
	g->k++;
	assert_true(vd_ff_vq_add(&g->ff, 2, b, 3, true) >= 0);
}

static void play(struct rig *r, unsigned mask, unsigned cycles)
{
	for (unsigned c = 0; c < cycles; c++) {
		for (unsigned i = 0; i < 2; i++) {
			struct fguest *g = &r->fg[i];
			uint32_t id, len;

			if (!(mask >> i & 1))
				continue;
			while (vd_ff_vq_used(&g->ff, 2, &id, &len) == 1)
				g->inflight--;
			for (; g->inflight < 3; g->inflight++)
				tx_period(g);
		}
		assert_int_equal(vd_graph_cycle(r->host), 0);
		pump_loop(r);
	}
}

static double level_db(const struct test_probe *p)
{
	const uint64_t frames = 4800;

	assert_true(p->n >= frames);
	return vd_db(vd_tone_amplitude(p->data + (p->n - frames) * 2, frames, 2, 48000.0, 1000.0));
}

/* ---- control clients ---- */

struct client {
	int fd;
	char buf[1 << 20];
	size_t len;
};

static struct client *client_new(struct rig *r)
{
	struct client *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->fd = connect_to(r->ctl_path);
	assert_true(c->fd >= 0);
	pump_loop(r);
	return c;
}

static void client_free(struct client *c)
{
	close(c->fd);
	free(c);
}

static void client_write(struct client *c, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);

		assert_true(w > 0);
		s += w;
		n -= (size_t)w;
	}
}

/* The next line from the server, running the loop while waiting; NULL if none came in 5 s
 * or the server closed. The line stays valid until the next call. */
static char *client_line(struct rig *r, struct client *c)
{
	static char line[1 << 20];

	for (int t = 0; t < 500; t++) {
		char *nl = memchr(c->buf, '\n', c->len);

		if (nl) {
			size_t n = (size_t)(nl - c->buf);

			memcpy(line, c->buf, n);
			line[n] = '\0';
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return line;
		}
		pump_loop(r);
		ssize_t got = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
		if (got == 0)
			return NULL;
		if (got > 0) {
			c->len += (size_t)got;
			continue;
		}
		vd_loop_iterate(r->loop, 10);
	}
	return NULL;
}

static struct json_object *client_json(struct rig *r, struct client *c)
{
	char *line = client_line(r, c);
	struct json_object *o;

	if (!line)
		fail_msg("no line from the server");
	o = json_tokener_parse(line);
	if (!o)
		fail_msg("not JSON: %s", line);
	return o;
}

/* Send @req and return the reply (skipping events); the caller puts it. */
static struct json_object *call(struct rig *r, struct client *c, const char *req)
{
	client_write(c, req, strlen(req));
	client_write(c, "\n", 1);
	for (;;) {
		struct json_object *o = client_json(r, c), *ok;

		if (json_object_object_get_ex(o, "ok", &ok))
			return o;
		json_object_put(o);
	}
}

static struct json_object *get(struct json_object *o, const char *path)
{
	char key[64];
	const char *dot;

	while (o && path) {
		dot = strchr(path, '.');
		snprintf(key, sizeof(key), "%.*s", dot ? (int)(dot - path) : (int)strlen(path), path);
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(key));
		else if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		path = dot ? dot + 1 : NULL;
	}
	return o;
}

static const char *gs(struct json_object *o, const char *path)
{
	struct json_object *v = get(o, path);

	if (!v || !json_object_is_type(v, json_type_string))
		fail_msg("no string at %s in %s", path, json_object_to_json_string(o));
	return json_object_get_string(v);
}

static double gd(struct json_object *o, const char *path)
{
	struct json_object *v = get(o, path);

	if (!v || !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		fail_msg("no number at %s in %s", path, json_object_to_json_string(o));
	return json_object_get_double(v);
}

static bool gb(struct json_object *o, const char *path)
{
	struct json_object *v = get(o, path);

	if (!v || !json_object_is_type(v, json_type_boolean))
		fail_msg("no boolean at %s in %s", path, json_object_to_json_string(o));
	return json_object_get_boolean(v);
}

static void expect_ok(struct json_object *o)
{
	if (!gb(o, "ok"))
		fail_msg("refused: %s", json_object_to_json_string(o));
}

/* An error reply with @code whose message contains @msg. */
static void expect_error(struct rig *r, struct client *c, const char *req, const char *code, const char *msg)
{
	struct json_object *o = call(r, c, req);

	if (gb(o, "ok"))
		fail_msg("'%s' was accepted: %s", req, json_object_to_json_string(o));
	assert_string_equal(gs(o, "error.code"), code);
	if (!strstr(gs(o, "error.message"), msg))
		fail_msg("'%s': message '%s' lacks '%s'", req, gs(o, "error.message"), msg);
	json_object_put(o);
}

/* ---- tests ---- */

static void test_read_requests(void **state)
{
	struct rig *r = rig_new(0);
	struct client *c = client_new(r);
	struct json_object *o;

	guest_connect(r, 0);
	start_playback(r, 0);
	play(r, 1, 5);

	o = call(r, c, "{\"request\":\"hello\",\"id\":1}");
	expect_ok(o);
	assert_int_equal(gd(o, "id"), 1);
	assert_int_equal(gd(o, "result.protocol"), 1);
	assert_string_equal(gs(o, "result.server"), "virtdsp test");
	assert_string_equal(gs(o, "result.write"), "all");	/* we are root */
	assert_string_equal(gs(o, "result.requests.12"), "topology");
	assert_int_equal(json_object_array_length(get(o, "result.guests_writable")), 2);
	json_object_put(o);

	o = call(r, c, "{\"request\":\"status\",\"id\":\"s\"}");
	expect_ok(o);
	assert_string_equal(gs(o, "id"), "s");
	assert_int_equal(gd(o, "result.guests"), 2);
	assert_int_equal(gd(o, "result.guests_connected"), 1);
	assert_int_equal(gd(o, "result.streams_running"), 1);
	assert_int_equal(gd(o, "result.clients"), 1);
	assert_int_equal(gd(o, "result.pid"), getpid());
	assert_string_equal(gs(o, "result.power.state"), "active");
	json_object_put(o);

	o = call(r, c, "{\"request\":\"guests\"}");
	expect_ok(o);
	assert_true(get(o, "id") == NULL && json_object_object_get_ex(o, "id", NULL));	/* null */
	assert_string_equal(gs(o, "result.guests.0.name"), "vm1");
	assert_true(gb(o, "result.guests.0.connected"));
	assert_false(gb(o, "result.guests.1.connected"));
	assert_int_equal(gd(o, "result.guests.0.streams"), 1);
	assert_int_equal(gd(o, "result.guests.0.controls"), N_CTLS);
	assert_int_equal(gd(o, "result.guests.1.owner"), NOBODY);
	assert_null(get(o, "result.guests.0.owner"));
	assert_string_equal(gs(o, "result.guests.0.topology"), r->topo_path[0]);
	assert_string_equal(gs(o, "result.guests.0.socket"), r->sock[0]);
	json_object_put(o);

	/* the running stream: its parameters, latency and counters */
	o = call(r, c, "{\"request\":\"streams\",\"guest\":\"vm1\"}");
	expect_ok(o);
	assert_int_equal(json_object_array_length(get(o, "result.streams")), 1);
	assert_string_equal(gs(o, "result.streams.0.name"), "pcm");
	assert_string_equal(gs(o, "result.streams.0.direction"), "playback");
	assert_string_equal(gs(o, "result.streams.0.state"), "running");
	assert_string_equal(gs(o, "result.streams.0.format"), vd_format_name(VD_FORMAT_F32));
	assert_int_equal(gd(o, "result.streams.0.rate"), 48000);
	assert_int_equal(gd(o, "result.streams.0.channels"), 2);
	assert_int_equal(gd(o, "result.streams.0.period_frames"), PERIOD);
	assert_int_equal(gd(o, "result.streams.0.buffer_frames"), 4 * PERIOD);
	assert_true(gd(o, "result.streams.0.latency_ms") > 0);
	assert_true(gd(o, "result.streams.0.completed") >= 1);
	assert_true(gd(o, "result.streams.0.frames") >= 4 * PERIOD);
	json_object_put(o);
	/* all guests' streams: vm2's is idle, with no format yet */
	o = call(r, c, "{\"request\":\"streams\"}");
	expect_ok(o);
	assert_int_equal(json_object_array_length(get(o, "result.streams")), 2);
	assert_string_equal(gs(o, "result.streams.1.guest"), "vm2");
	assert_string_equal(gs(o, "result.streams.1.state"), "idle");
	assert_null(get(o, "result.streams.1.format"));
	assert_null(get(o, "result.streams.1.latency_ms"));
	json_object_put(o);

	o = call(r, c, "{\"request\":\"nodes\",\"guest\":\"vm1\"}");
	expect_ok(o);
	assert_string_equal(gs(o, "result.pipelines.0.name"), "out");
	assert_int_equal(json_object_array_length(get(o, "result.pipelines.0.nodes")), 4);
	assert_string_equal(gs(o, "result.pipelines.0.nodes.1.name"), "vol");
	assert_string_equal(gs(o, "result.pipelines.0.nodes.1.type"), "volume");
	assert_string_equal(gs(o, "result.pipelines.0.nodes.1.kind"), "node");
	assert_string_equal(gs(o, "result.pipelines.0.nodes.0.kind"), "source");
	assert_non_null(strstr(gs(o, "result.streams.0.pipeline"), "volume"));
	json_object_put(o);

	o = call(r, c, "{\"request\":\"controls\",\"guest\":\"vm1\"}");
	expect_ok(o);
	assert_int_equal(json_object_array_length(get(o, "result.controls")), N_CTLS);
	assert_string_equal(gs(o, "result.controls.0.name"), "PCM Playback Volume");
	assert_string_equal(gs(o, "result.controls.0.type"), "number");
	assert_string_equal(gs(o, "result.controls.0.unit"), "dB");
	assert_true(fabs(gd(o, "result.controls.0.min") - -120) < 1e-9);
	assert_true(fabs(gd(o, "result.controls.0.max") - 24) < 1e-9);
	assert_true(fabs(gd(o, "result.controls.0.value") - -6) < 1e-9);
	assert_string_equal(gs(o, "result.controls.0.text"), "-6.0 dB");
	assert_true(gb(o, "result.controls.0.db"));
	assert_string_equal(gs(o, "result.controls.1.type"), "switch");
	assert_string_equal(gs(o, "result.controls.1.text"), "on");
	assert_string_equal(gs(o, "result.controls.2.type"), "enum");
	assert_string_equal(gs(o, "result.controls.2.items.1"), "lowshelf");
	assert_string_equal(gs(o, "result.controls.2.text"), "peaking");
	json_object_put(o);

	/* get by name and by id */
	o = call(r, c, "{\"request\":\"get\",\"guest\":\"vm1\",\"control\":\"PCM Playback Switch\"}");
	expect_ok(o);
	assert_int_equal(gd(o, "result.id"), C_SWITCH);
	assert_int_equal(gd(o, "result.value"), 1);
	json_object_put(o);
	o = call(r, c, "{\"request\":\"get\",\"guest\":\"vm1\",\"control\":2}");
	expect_ok(o);
	assert_string_equal(gs(o, "result.name"), "EQ Band Type");
	json_object_put(o);

	o = call(r, c, "{\"request\":\"jacks\",\"guest\":\"vm2\"}");
	expect_ok(o);
	assert_int_equal(json_object_array_length(get(o, "result.jacks")), 0);
	json_object_put(o);

	o = call(r, c, "{\"request\":\"power\"}");
	expect_ok(o);
	assert_true(gb(o, "result.managed"));
	assert_string_equal(gs(o, "result.state"), "active");
	assert_int_equal(gd(o, "result.users.streams"), 1);
	assert_int_equal(gd(o, "result.users.clients"), 2);
	assert_int_equal(gd(o, "result.idle_timeout_ms"), 5000);
	json_object_put(o);
	/* no power management: said so, not an error */
	r->managed = false;
	vd_ctl_server_free(r->ctl);
	{
		struct vd_ctl_server_config cc = { .path = r->ctl_path, .guests = r->guests, .n_guests = 2 };
		char err[256];

		client_free(c);
		assert_int_equal(vd_ctl_server_new(r->loop, &cc, &r->ctl, err, sizeof(err)), 0);
		c = client_new(r);
	}
	o = call(r, c, "{\"request\":\"power\"}");
	expect_ok(o);
	assert_false(gb(o, "result.managed"));
	json_object_put(o);
	o = call(r, c, "{\"request\":\"status\"}");
	assert_null(get(o, "result.power"));
	json_object_put(o);
	client_free(c);
	rig_free(r);
}

/* Every refusal: its code and a message naming what was wrong; the connection stays. */
static void test_request_errors(void **state)
{
	struct rig *r = rig_new(0);
	struct client *c = client_new(r);
	char big[600];
	struct json_object *o;

	expect_error(r, c, "garbage", "EPROTO", "not JSON");
	expect_error(r, c, "{\"request\":\"status\"", "EPROTO", "not JSON");
	expect_error(r, c, "{\"request\":\"status\"} x", "EPROTO", "not JSON");
	expect_error(r, c, "{\"request\":\"status\"} {}", "EPROTO", "not JSON");
	expect_error(r, c, "{'request':'status'}", "EPROTO", "not JSON");	/* strict: no single quotes */
	o = call(r, c, "{\"request\":\"status\"}  \t ");
	expect_ok(o);
	json_object_put(o);
	expect_error(r, c, "[1,2]", "EPROTO", "must be a JSON object");
	expect_error(r, c, "{\"request\":\"status\",\"a\":{\"b\":{\"c\":{\"d\":{}}}}}", "EPROTO", "nested deeper than 4");
	expect_error(r, c, "{\"id\":1}", "EINVAL", "no 'request' member");
	expect_error(r, c, "{\"request\":7}", "EPROTO", "'request' must be a string");
	expect_error(r, c, "{\"request\":\"reboot\"}", "EINVAL", "unknown request 'reboot'");
	expect_error(r, c, "{\"request\":\"status\",\"version\":2}", "EPROTONOSUPPORT", "protocol version 2");
	expect_error(r, c, "{\"request\":\"status\",\"guest\":\"vm1\"}", "EINVAL", "unknown member 'guest' in a 'status'");
	expect_error(r, c, "{\"request\":\"nodes\"}", "EINVAL", "'nodes' needs a 'guest'");
	expect_error(r, c, "{\"request\":\"nodes\",\"guest\":\"vm9\"}", "ENOENT", "no guest 'vm9' (guests: vm1, vm2)");
	expect_error(r, c, "{\"request\":\"controls\",\"guest\":3}", "EPROTO", "'guest' must be a string");
	expect_error(r, c, "{\"request\":\"controls\",\"guest\":\"\"}", "EINVAL", "'guest' is empty");
	expect_error(r, c, "{\"request\":\"controls\",\"guest\":\"a\\u0000b\"}", "EINVAL", "NUL character");
	expect_error(r, c, "{\"request\":\"get\",\"guest\":\"vm1\"}", "EINVAL", "'get' needs a 'control'");
	expect_error(r, c, "{\"request\":\"get\",\"guest\":\"vm1\",\"control\":\"Master\"}", "ENOENT",
		     "guest 'vm1' has no control 'Master' (controls: 'PCM Playback Volume', 'PCM Playback Switch', 'EQ Band Type')");
	expect_error(r, c, "{\"request\":\"get\",\"guest\":\"vm1\",\"control\":9}", "ENOENT", "guest 'vm1' has no control 9 (it has 3)");
	expect_error(r, c, "{\"request\":\"get\",\"guest\":\"vm1\",\"control\":-1}", "ENOENT", "no control -1");
	expect_error(r, c, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":0}", "EINVAL", "'set' needs a 'value'");
	expect_error(r, c, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":0,\"value\":[1]}", "EPROTO",
		     "'value' must be a number");
	expect_error(r, c, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":0,\"value\":30}", "ERANGE",
		     "control 'PCM Playback Volume' of guest 'vm1': 30.0 dB is outside -120.0 dB to 24.0 dB");
	expect_error(r, c, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":0,\"value\":\"loud\"}", "EINVAL",
		     "'loud' is not a number in dB");
	expect_error(r, c, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":0,\"value\":\"-3 Hz\"}", "EINVAL",
		     "is not a number in dB");
	expect_error(r, c, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":0,\"value\":true}", "EINVAL",
		     "is a number, not a switch");
	expect_error(r, c, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":1,\"value\":2}", "ERANGE", "outside");
	expect_error(r, c, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":1,\"value\":\"maybe\"}", "EINVAL",
		     "is a switch: 'maybe' is not on/off");
	expect_error(r, c, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":2,\"value\":\"loud\"}", "EINVAL",
		     "has no item 'loud' (items: peaking, lowshelf, highshelf, lowpass, highpass, notch, bandpass, allpass)");
	expect_error(r, c, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":2,\"value\":1.5}", "ERANGE",
		     "1.5 is not a whole number");
	expect_error(r, c, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":2,\"value\":8}", "ERANGE",
		     "item 8 does not exist (0 to 7)");
	expect_error(r, c, "{\"request\":\"topology\",\"guest\":\"vm1\"}", "EINVAL", "needs the topology's 'text'");
	expect_error(r, c, "{\"request\":\"topology\",\"guest\":\"vm1\",\"text\":\"x\",\"defer\":1}", "EPROTO",
		     "'defer' must be true or false");
	expect_error(r, c, "{\"request\":\"subscribe\",\"events\":[\"weather\"]}", "EINVAL", "unknown event kind 'weather'");
	expect_error(r, c, "{\"request\":\"subscribe\",\"events\":\"guest\"}", "EPROTO", "must be an array");
	expect_error(r, c, "{\"request\":\"status\",\"id\":{\"a\":1}}", "EPROTO", "'id' must be a number");
	expect_error(r, c, "{\"request\":\"status\",\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,"
		     "\"i\":9,\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,\"p\":16}", "E2BIG", "at most 16 members");
	memset(big, 'x', sizeof(big));
	memcpy(big, "{\"request\":\"nodes\",\"guest\":\"", 28);
	memcpy(big + sizeof(big) - 3, "\"}", 3);
	expect_error(r, c, big, "ENAMETOOLONG", "'guest' is 569 bytes long, at most 255");
	/* a topology too large */
	static char huge_topo[VD_CTL_MAX_TOPOLOGY + 100];
	const char *head = "{\"request\":\"topology\",\"guest\":\"vm1\",\"text\":\"";
	size_t hn = strlen(head);

	memcpy(huge_topo, head, hn);
	memset(huge_topo + hn, ' ', VD_CTL_MAX_TOPOLOGY + 1);
	memcpy(huge_topo + hn + VD_CTL_MAX_TOPOLOGY + 1, "\"}", 3);
	expect_error(r, c, huge_topo, "EFBIG", "the topology is 131073 bytes, at most 131072");

	/* an error reply echoes the id; blank lines are ignored; pipelined requests
	 * are answered in order */
	o = call(r, c, "{\"request\":\"nope\",\"id\":42}");
	assert_int_equal(gd(o, "id"), 42);
	assert_int_equal(gd(o, "error.errno"), EINVAL);
	json_object_put(o);
	const char *two = "\n  \n{\"request\":\"status\",\"id\":1}\n{\"request\":\"power\",\"id\":2}\n";
	client_write(c, two, strlen(two));
	o = client_json(r, c);
	assert_int_equal(gd(o, "id"), 1);
	json_object_put(o);
	o = client_json(r, c);
	assert_int_equal(gd(o, "id"), 2);
	json_object_put(o);

	/* nothing was changed by all that */
	o = call(r, c, "{\"request\":\"get\",\"guest\":\"vm1\",\"control\":0}");
	assert_true(fabs(gd(o, "result.value") - -6) < 1e-9);
	json_object_put(o);
	client_free(c);
	rig_free(r);
}

/* A host-side set: the guest hears CTL_NOTIFY, the level at the host moves by
 * the dB asked, the other guest is untouched. */
static void test_set_changes_level(void **state)
{
	struct rig *r = rig_new(0);
	struct client *c = client_new(r);
	struct json_object *o;
	uint32_t id, len;
	uint8_t req[8], resp[4 + 512];
	double a0, b0, a1, b1;

	guest_connect(r, 0);
	guest_connect(r, 1);
	start_playback(r, 0);
	start_playback(r, 1);
	play(r, 3, 30);
	a0 = level_db(r->probes.p[0]);
	b0 = level_db(r->probes.p[1]);
	assert_true(fabs(a0 - (20 * log10(0.5) - 6.0)) < 0.05);

	o = call(r, c, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":\"PCM Playback Volume\",\"value\":\"-18 dB\"}");
	expect_ok(o);
	assert_true(gb(o, "result.changed"));
	assert_string_equal(gs(o, "result.text"), "-18.0 dB");
	json_object_put(o);
	/* CTL_NOTIFY for control 0, value */
	assert_int_equal(vd_ff_vq_used(&r->fg[0].ff, 1, &id, &len), 1);
	assert_int_equal(len, 8);
	const uint8_t *ev = vd_ff_host(&r->fg[0].ff, r->fg[0].ev[0]);
	assert_int_equal(le32(ev), VIRTIO_SND_EVT_CTL_NOTIFY);
	assert_int_equal(ev[4] | ev[5] << 8, C_VOLUME);
	assert_int_equal(vd_ff_vq_used(&r->fg[1].ff, 1, &id, &len), 0);	/* vm2 hears nothing */
	/* the guest reads the new value: -18 dB = step 1020 */
	put32(req, VIRTIO_SND_R_CTL_READ);
	put32(req + 4, C_VOLUME);
	assert_int_equal(guest_ctl(r, 0, req, 8, resp, sizeof(resp)), VIRTIO_SND_S_OK);
	assert_int_equal(le32(resp + 4), 1020);

	play(r, 3, 30);
	a1 = level_db(r->probes.p[0]);
	b1 = level_db(r->probes.p[1]);
	print_message("level: vm1 %.3f -> %.3f dBFS after -12 dB, vm2 %.3f -> %.3f dBFS\n", a0, a1, b0, b1);
	assert_true(fabs((a1 - a0) - -12.0) < 0.02);
	assert_true(fabs(b1 - b0) < 0.01);

	/* the same value again: unchanged, no event */
	o = call(r, c, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":0,\"value\":-18}");
	expect_ok(o);
	assert_false(gb(o, "result.changed"));
	json_object_put(o);
	assert_int_equal(vd_ff_vq_used(&r->fg[0].ff, 1, &id, &len), 0);

	/* switch off by word mutes vm1 only; on again; an enumeration by item name */
	o = call(r, c, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":\"PCM Playback Switch\",\"value\":\"off\"}");
	expect_ok(o);
	assert_string_equal(gs(o, "result.text"), "off");
	json_object_put(o);
	play(r, 3, 30);
	assert_true(vd_rms(r->probes.p[0]->data + (r->probes.p[0]->n - 4800) * 2, 4800, 2) < 1e-6);
	assert_true(fabs(level_db(r->probes.p[1]) - b0) < 0.01);
	o = call(r, c, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":1,\"value\":true}");
	expect_ok(o);
	json_object_put(o);
	o = call(r, c, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":\"EQ Band Type\",\"value\":\"LowShelf\"}");
	expect_ok(o);
	assert_int_equal(gd(o, "result.value"), 1);
	json_object_put(o);
	assert_non_null(strstr(r->log, "control client uid 0 set vm1 'EQ Band Type' to lowshelf"));
	client_free(c);
	rig_free(r);
}

/* Events: guest connection, stream states, control changes by guest and host,
 * topology; filtering and unsubscribing. */
static void test_events(void **state)
{
	struct rig *r = rig_new(0);
	struct client *sub = client_new(r), *narrow = client_new(r), *c = client_new(r);
	struct json_object *o;
	uint8_t req[8 + 512] = { 0 }, resp[4];

	o = call(r, sub, "{\"request\":\"subscribe\"}");
	expect_ok(o);
	assert_int_equal(json_object_array_length(get(o, "result.events")), VD_CTL_EVENT_COUNT);
	json_object_put(o);
	o = call(r, narrow, "{\"request\":\"subscribe\",\"events\":[\"control\"]}");
	expect_ok(o);
	json_object_put(o);
	o = call(r, c, "{\"request\":\"status\"}");
	assert_int_equal(gd(o, "result.subscribers"), 2);
	json_object_put(o);

	guest_connect(r, 0);
	o = client_json(r, sub);
	assert_string_equal(gs(o, "event"), "guest");
	assert_string_equal(gs(o, "guest"), "vm1");
	assert_true(gb(o, "connected"));
	assert_true(gd(o, "time") >= 0);
	json_object_put(o);
	start_playback(r, 0);
	static const char *const states[][2] = { { "idle", "params-set" }, { "params-set", "prepared" },
						 { "prepared", "running" } };
	for (int i = 0; i < 3; i++) {
		o = client_json(r, sub);
		assert_string_equal(gs(o, "event"), "stream");
		assert_int_equal(gd(o, "stream"), 0);
		assert_string_equal(gs(o, "name"), "pcm");
		assert_string_equal(gs(o, "previous"), states[i][0]);
		assert_string_equal(gs(o, "state"), states[i][1]);
		json_object_put(o);
	}
	/* the guest's CTL_WRITE: by "guest", in the control's units */
	put32(req, VIRTIO_SND_R_CTL_WRITE);
	put32(req + 4, C_VOLUME);
	put32(req + 8, 1000);
	assert_int_equal(guest_ctl(r, 0, req, sizeof(req), resp, 4), VIRTIO_SND_S_OK);
	for (int i = 0; i < 2; i++) {
		o = client_json(r, i ? narrow : sub);
		assert_string_equal(gs(o, "event"), "control");
		assert_string_equal(gs(o, "control"), "PCM Playback Volume");
		assert_int_equal(gd(o, "id"), C_VOLUME);
		assert_true(fabs(gd(o, "value") - -20.0) < 1e-9);
		assert_string_equal(gs(o, "by"), "guest");
		json_object_put(o);
	}
	/* a host change: by "host" */
	o = call(r, c, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":0,\"value\":-3}");
	expect_ok(o);
	json_object_put(o);
	o = client_json(r, sub);
	assert_string_equal(gs(o, "by"), "host");
	assert_true(fabs(gd(o, "value") - -3.0) < 1e-9);
	json_object_put(o);
	/* vm2 topology: a topology event; "narrow" does not get it */
	char text[2048];
	snprintf(text, sizeof(text), "{\"request\":\"topology\",\"guest\":\"vm2\",\"text\":\"pipeline p {\\n source s stream { }\\n"
		 " sink a attach { point = \\\"b\\\" }\\n link s -> a\\n}\\n\"}");
	o = call(r, c, text);
	expect_ok(o);
	json_object_put(o);
	o = client_json(r, sub);
	assert_string_equal(gs(o, "event"), "topology");
	assert_string_equal(gs(o, "guest"), "vm2");
	assert_true(gb(o, "applied"));
	json_object_put(o);
	/* the disconnection: stream released... then the guest event with its reason */
	guest_disconnect(r, 0);
	for (;;) {
		o = client_json(r, sub);
		if (strcmp(gs(o, "event"), "guest") == 0)
			break;
		assert_string_equal(gs(o, "event"), "stream");
		json_object_put(o);
	}
	assert_false(gb(o, "connected"));
	assert_string_equal(gs(o, "reason"), "the connection was closed");
	json_object_put(o);
	/* the narrow subscriber saw only its control events, then an emit by
	 * another part of the daemon (power) reaches "sub" only */
	o = call(r, narrow, "{\"request\":\"status\",\"id\":9}");
	assert_int_equal(gd(o, "id"), 9);
	json_object_put(o);
	r->power.state = VD_POWER_SUSPENDED;
	struct vd_ctl_event pev = { .kind = VD_CTL_EVENT_POWER, .power = &r->power };
	vd_ctl_server_emit(r->ctl, &pev);
	struct vd_ctl_event jev = { .kind = VD_CTL_EVENT_JACK, .guest = "vm2", .index = 1, .connected = false };
	vd_ctl_server_emit(r->ctl, &jev);
	o = client_json(r, sub);
	assert_string_equal(gs(o, "event"), "power");
	assert_string_equal(gs(o, "state"), "suspended");
	assert_int_equal(gd(o, "users.clients"), 2);
	json_object_put(o);
	o = client_json(r, sub);
	assert_string_equal(gs(o, "event"), "jack");
	assert_int_equal(gd(o, "jack"), 1);
	assert_false(gb(o, "connected"));
	json_object_put(o);
	/* unsubscribed: the next event is not sent, the reply is */
	o = call(r, sub, "{\"request\":\"unsubscribe\",\"id\":5}");
	expect_ok(o);
	json_object_put(o);
	vd_ctl_server_emit(r->ctl, &pev);
	o = call(r, sub, "{\"request\":\"status\",\"id\":6}");
	assert_int_equal(gd(o, "id"), 6);
	assert_int_equal(gd(o, "result.subscribers"), 1);
	json_object_put(o);
	assert_int_equal(sub->len, 0);
	client_free(sub);
	client_free(narrow);
	client_free(c);
	rig_free(r);
}

static void test_topology(void **state)
{
	struct rig *r = rig_new(0);
	struct client *c = client_new(r);
	struct json_object *o;
	char text[4096];
	/* a one-stream topology without controls */
	const char *plain = "pipeline p {\\n source s stream { }\\n sink a attach { point = \\\"a\\\" }\\n link s -> a\\n}\\n";

	/* not connected: replaced at once */
	snprintf(text, sizeof(text), "{\"request\":\"topology\",\"guest\":\"vm1\",\"text\":\"%s\"}", plain);
	o = call(r, c, text);
	expect_ok(o);
	assert_true(gb(o, "result.applied"));
	assert_false(gb(o, "result.pending"));
	json_object_put(o);
	o = call(r, c, "{\"request\":\"guests\"}");
	assert_string_equal(gs(o, "result.guests.0.topology"), "replaced");
	assert_int_equal(gd(o, "result.guests.0.controls"), 0);
	json_object_put(o);
	/* the next connection sees it: no controls in the config */
	guest_connect(r, 0);
	assert_int_equal(le32(r->fg[0].ff.config + 12), 0);

	/* connected: refused without defer, nothing changes */
	snprintf(text, sizeof(text), "{\"request\":\"topology\",\"guest\":\"vm1\",\"text\":\"");
	size_t n = strlen(text);
	for (const char *s = guest_fmt; *s && n < sizeof(text) - 64; s++) {
		if (*s == '\n') {
			text[n++] = '\\';
			text[n++] = 'n';
		} else if (*s == '"') {
			text[n++] = '\\';
			text[n++] = '"';
		} else if (*s == '%') {
			text[n++] = 'a';
			s++;
		} else {
			text[n++] = *s;
		}
	}
	text[n] = '\0';
	char req[4200];
	snprintf(req, sizeof(req), "%s\"}", text);
	expect_error(r, c, req, "EBUSY", "guest 'vm1' is connected: its driver has read the device's streams, "
		     "controls and jacks");
	/* with defer: pending, applied at the next connection */
	snprintf(req, sizeof(req), "%s\",\"defer\":true}", text);
	o = call(r, c, req);
	expect_ok(o);
	assert_false(gb(o, "result.applied"));
	assert_true(gb(o, "result.pending"));
	json_object_put(o);
	o = call(r, c, "{\"request\":\"guests\"}");
	assert_true(gb(o, "result.guests.0.pending_topology"));
	assert_int_equal(gd(o, "result.guests.0.controls"), 0);
	json_object_put(o);
	guest_disconnect(r, 0);
	guest_connect(r, 0);
	assert_int_equal(le32(r->fg[0].ff.config + 12), N_CTLS);
	o = call(r, c, "{\"request\":\"guests\"}");
	assert_false(gb(o, "result.guests.0.pending_topology"));
	assert_int_equal(gd(o, "result.guests.0.controls"), N_CTLS);
	json_object_put(o);
	assert_non_null(strstr(r->log, "vm1: the replaced topology takes effect with this connection"));
	/* the new device works: a stream starts and a control is set */
	start_playback(r, 0);
	o = call(r, c, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":0,\"value\":-10}");
	expect_ok(o);
	json_object_put(o);

	/* errors in the text come back, with their location; nothing changes */
	const char *bad = "{\"request\":\"topology\",\"guest\":\"vm2\",\"text\":\"pipeline p {\\n source s stream { }\\n"
			  " node v volume { gian = 3dB }\\n sink a attach { point = \\\"b\\\" }\\n link s -> v -> a\\n}\\n\"}";
	expect_error(r, c, bad, "EINVAL", "guest 'vm2': the topology has 1 error:\n");
	o = call(r, c, bad);
	print_message("topology error: %s\n", gs(o, "error.message"));
	assert_non_null(strstr(gs(o, "error.message"), ":3:"));
	assert_non_null(strstr(gs(o, "error.message"), "gian"));
	json_object_put(o);
	expect_error(r, c, "{\"request\":\"topology\",\"guest\":\"vm2\",\"text\":\"pipeline p {\\n source s stream { }\\n"
		     " sink a attach { point = \\\"nowhere\\\" }\\n link s -> a\\n}\\n\"}", "ENOENT", "nowhere");
	o = call(r, c, "{\"request\":\"guests\"}");
	assert_string_equal(gs(o, "result.guests.1.topology"), r->topo_path[1]);
	assert_int_equal(gd(o, "result.guests.1.controls"), N_CTLS);
	json_object_put(o);
	client_free(c);
	rig_free(r);
}

/* Run @fn as uid nobody in a child while the loop serves; returns its exit status. */
static int as_nobody(struct rig *r, int (*fn)(struct rig *r))
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
			_exit(100);
		_exit(fn(r));
	}
	for (int t = 0; t < 1000; t++) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
		vd_loop_iterate(r->loop, 10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return 201;
}

/* In the child: blocking reads are fine, the parent runs the loop. */
static int child_call(int fd, const char *req, char *reply, size_t size)
{
	size_t n = 0;

	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0 || send(fd, "\n", 1, MSG_NOSIGNAL) < 0)
		return -1;
	while (n < size - 1) {
		ssize_t got = recv(fd, reply + n, 1, 0);

		if (got <= 0)
			return -1;
		if (reply[n] == '\n')
			break;
		n += (size_t)got;
	}
	reply[n] = '\0';
	return 0;
}

static int nobody_checks(struct rig *r)
{
	char reply[4096];
	int fd = connect_to(r->ctl_path);

	if (fd < 0)
		return 1;
	if (child_call(fd, "{\"request\":\"hello\"}", reply, sizeof(reply)) < 0 ||
	    !strstr(reply, "\"uid\":65534") || !strstr(reply, "\"write\":\"owned\"") ||
	    !strstr(reply, "\"guests_writable\":[\"vm2\"]"))
		return 2;
	/* reading is for anyone */
	if (child_call(fd, "{\"request\":\"get\",\"guest\":\"vm1\",\"control\":0}", reply, sizeof(reply)) < 0 ||
	    !strstr(reply, "\"ok\":true"))
		return 3;
	/* writing vm1: refused, naming who may */
	if (child_call(fd, "{\"request\":\"set\",\"guest\":\"vm1\",\"control\":0,\"value\":-1}", reply, sizeof(reply)) < 0 ||
	    !strstr(reply, "\"code\":\"EACCES\"") ||
	    !strstr(reply, "uid 65534 may not change guest 'vm1': only root and the daemon's uid 0 may (the guest has no owner=)"))
		return 4;
	if (child_call(fd, "{\"request\":\"topology\",\"guest\":\"vm1\",\"text\":\"x\"}", reply, sizeof(reply)) < 0 ||
	    !strstr(reply, "\"code\":\"EACCES\""))
		return 5;
	/* vm2 is nobody's */
	if (child_call(fd, "{\"request\":\"set\",\"guest\":\"vm2\",\"control\":0,\"value\":-1}", reply, sizeof(reply)) < 0 ||
	    !strstr(reply, "\"ok\":true"))
		return 6;
	close(fd);
	return 0;
}

static int nobody_connects(struct rig *r)
{
	int fd = connect_to(r->ctl_path);

	if (fd >= 0) {
		close(fd);
		return 1;
	}
	return fd == -EACCES ? 0 : 2;
}

static void test_access(void **state)
{
	struct rig *r = rig_new(0666);
	struct client *c;
	struct json_object *o;
	struct stat st;

	assert_int_equal(stat(r->ctl_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0666);
	assert_int_equal(as_nobody(r, nobody_checks), 0);
	c = client_new(r);
	o = call(r, c, "{\"request\":\"get\",\"guest\":\"vm1\",\"control\":0}");
	assert_true(fabs(gd(o, "result.value") - -6) < 1e-9);	/* the refused set changed nothing */
	json_object_put(o);
	o = call(r, c, "{\"request\":\"get\",\"guest\":\"vm2\",\"control\":0}");
	assert_true(fabs(gd(o, "result.value") - -1) < 1e-9);
	json_object_put(o);
	assert_non_null(strstr(r->log, "control client uid 65534 set vm2 'PCM Playback Volume' to -1.0 dB"));
	client_free(c);
	rig_free(r);

	/* the default mode keeps everyone but the daemon's user out */
	r = rig_new(0);
	assert_int_equal(stat(r->ctl_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(as_nobody(r, nobody_connects), 0);
	rig_free(r);
}

/* Misbehaving clients go; the others and the streams carry on. */
static void test_misbehaving_clients(void **state)
{
	struct rig *r = rig_new(0);
	struct client *good = client_new(r), *huge = client_new(r), *deaf = client_new(r);
	struct client *many[VD_CTL_MAX_CLIENTS];
	struct vd_ctl_server_stats st;
	struct json_object *o;
	char *buf;
	double a0;

	guest_connect(r, 0);
	start_playback(r, 0);
	play(r, 1, 20);
	a0 = level_db(r->probes.p[0]);

	/* a line longer than the limit: EMSGSIZE, then the connection closes */
	buf = malloc(VD_CTL_MAX_LINE + 10);
	assert_non_null(buf);
	memset(buf, 'x', VD_CTL_MAX_LINE + 10);
	for (size_t off = 0; off < VD_CTL_MAX_LINE + 10;) {
		ssize_t w = send(huge->fd, buf + off, VD_CTL_MAX_LINE + 10 - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w > 0)
			off += (size_t)w;
		else if (w < 0 && errno != EAGAIN)
			break;
		pump_loop(r);
		vd_loop_iterate(r->loop, 1);
	}
	free(buf);
	o = client_json(r, huge);
	assert_string_equal(gs(o, "error.code"), "EMSGSIZE");
	json_object_put(o);
	assert_null(client_line(r, huge));	/* closed */
	assert_non_null(strstr(r->log, "a request longer than 262144 bytes"));

	/* a subscriber that never reads: dropped once 1 MiB is queued */
	o = call(r, deaf, "{\"request\":\"subscribe\",\"events\":[\"power\"]}");
	expect_ok(o);
	json_object_put(o);
	struct vd_ctl_event pev = { .kind = VD_CTL_EVENT_POWER, .power = &r->power };
	for (int i = 0; i < 20000; i++)
		vd_ctl_server_emit(r->ctl, &pev);
	vd_ctl_server_get_stats(r->ctl, &st);
	assert_int_equal(st.subscribers, 0);
	assert_int_equal(st.dropped, 2);
	assert_non_null(strstr(r->log, "not reading its replies and events (1 MiB queued)"));

	/* too many clients: the one over the limit gets EMFILE and is closed */
	for (unsigned i = 0; i < VD_CTL_MAX_CLIENTS - 1; i++)
		many[i] = client_new(r);
	vd_ctl_server_get_stats(r->ctl, &st);
	assert_int_equal(st.clients, VD_CTL_MAX_CLIENTS);
	struct client *extra = client_new(r);
	o = client_json(r, extra);
	assert_string_equal(gs(o, "error.code"), "EMFILE");
	json_object_put(o);
	assert_null(client_line(r, extra));
	client_free(extra);
	for (unsigned i = 0; i < VD_CTL_MAX_CLIENTS - 1; i++)
		client_free(many[i]);

	/* through all of it: the good client is served and the stream still plays */
	o = call(r, good, "{\"request\":\"streams\",\"guest\":\"vm1\"}");
	expect_ok(o);
	assert_string_equal(gs(o, "result.streams.0.state"), "running");
	json_object_put(o);
	play(r, 1, 20);
	assert_true(fabs(level_db(r->probes.p[0]) - a0) < 0.01);
	client_free(good);
	client_free(huge);
	client_free(deaf);
	rig_free(r);
}

/* ---- the CLI binary ---- */

struct run {
	int status;
	char out[16384], err[4096];
};

/* Run `virtdsp ctl --socket SOCK ARGS...` while the loop serves. */
static void run_ctl(struct rig *r, struct run *res, const char *const *args)
{
	char exe[512];
	const char *root = getenv("VD_BUILD_ROOT");
	int po[2], pe[2];
	pid_t pid;
	size_t no = 0, ne = 0;
	bool eo = false, ee = false;

	snprintf(exe, sizeof(exe), "%s/src/cli/virtdsp", root ? root : ".");
	assert_int_equal(pipe2(po, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *argv[16] = { exe, "ctl", "--socket", r->ctl_path };
		int n = 4;

		for (; *args && n < 15; args++)
			argv[n++] = *args;
		argv[n] = NULL;
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	fcntl(po[0], F_SETFL, O_NONBLOCK);
	fcntl(pe[0], F_SETFL, O_NONBLOCK);
	for (int t = 0; t < 1000 && !(eo && ee); t++) {
		ssize_t k;

		while ((k = read(po[0], res->out + no, sizeof(res->out) - 1 - no)) > 0)
			no += (size_t)k;
		if (k == 0)
			eo = true;
		while ((k = read(pe[0], res->err + ne, sizeof(res->err) - 1 - ne)) > 0)
			ne += (size_t)k;
		if (k == 0)
			ee = true;
		vd_loop_iterate(r->loop, 5);
	}
	res->out[no] = '\0';
	res->err[ne] = '\0';
	close(po[0]);
	close(pe[0]);
	waitpid(pid, &res->status, 0);
	res->status = WIFEXITED(res->status) ? WEXITSTATUS(res->status) : -1;
}

static void test_cli(void **state)
{
	struct rig *r = rig_new(0);
	struct run *res = calloc(1, sizeof(*res));
	struct json_object *o;
	char path[256];

	assert_non_null(res);
	guest_connect(r, 0);
	start_playback(r, 0);

	run_ctl(r, res, (const char *[]){ "status", NULL });
	assert_int_equal(res->status, 0);
	assert_non_null(strstr(res->out, "daemon: virtdsp test (protocol 1)"));
	assert_non_null(strstr(res->out, "guests: 2 (1 connected), streams running: 1"));
	assert_non_null(strstr(res->out, "power: active"));

	run_ctl(r, res, (const char *[]){ "guests", NULL });
	assert_int_equal(res->status, 0);
	assert_non_null(strstr(res->out, "GUEST "));
	assert_non_null(strstr(res->out, "vm1              connected"));
	assert_non_null(strstr(res->out, "vm2              waiting"));

	run_ctl(r, res, (const char *[]){ "streams", "vm1", NULL });
	assert_int_equal(res->status, 0);
	assert_non_null(strstr(res->out, "pcm        playback running"));

	run_ctl(r, res, (const char *[]){ "controls", "vm1", NULL });
	assert_int_equal(res->status, 0);
	assert_non_null(strstr(res->out, "PCM Playback Volume              number  -120..24 dB              -6.0 dB"));

	run_ctl(r, res, (const char *[]){ "set", "vm1", "PCM Playback Volume", "-12dB", NULL });
	assert_int_equal(res->status, 0);
	assert_string_equal(res->out, "vm1: PCM Playback Volume = -12.0 dB\n");
	run_ctl(r, res, (const char *[]){ "get", "vm1", "0", NULL });
	assert_string_equal(res->out, "vm1: PCM Playback Volume = -12.0 dB\n");
	run_ctl(r, res, (const char *[]){ "set", "vm1", "PCM Playback Switch", "off", NULL });
	assert_string_equal(res->out, "vm1: PCM Playback Switch = off\n");

	/* --json: the daemon's reply line */
	run_ctl(r, res, (const char *[]){ "--json", "get", "vm1", "EQ Band Type", NULL });
	assert_int_equal(res->status, 0);
	o = json_tokener_parse(res->out);
	assert_non_null(o);
	assert_true(gb(o, "ok"));
	assert_string_equal(gs(o, "result.text"), "peaking");
	json_object_put(o);

	/* a refusal: exit 1 and the reason */
	run_ctl(r, res, (const char *[]){ "set", "vm1", "PCM Playback Volume", "40", NULL });
	assert_int_equal(res->status, 1);
	assert_string_equal(res->out, "");
	assert_non_null(strstr(res->err, "virtdsp ctl: ERANGE: control 'PCM Playback Volume' of guest 'vm1': 40.0 dB is outside"));
	run_ctl(r, res, (const char *[]){ "nodes", "vm3", NULL });
	assert_int_equal(res->status, 1);
	assert_non_null(strstr(res->err, "ENOENT: no guest 'vm3'"));
	/* usage errors: 2 */
	run_ctl(r, res, (const char *[]){ "get", "vm1", NULL });
	assert_int_equal(res->status, 2);
	assert_non_null(strstr(res->err, "virtdsp ctl get: wrong number of arguments"));
	run_ctl(r, res, (const char *[]){ "frobnicate", NULL });
	assert_int_equal(res->status, 2);
	assert_non_null(strstr(res->err, "unknown command 'frobnicate'"));

	/* topology from a file */
	snprintf(path, sizeof(path), "%s/new.topo", r->dir);
	write_file(path, "pipeline p {\n source s stream { }\n sink a attach { point = \"b\" }\n link s -> a\n}\n");
	run_ctl(r, res, (const char *[]){ "topology", "vm2", path, NULL });
	assert_int_equal(res->status, 0);
	assert_string_equal(res->out, "vm2: topology replaced\n");
	run_ctl(r, res, (const char *[]){ "topology", "vm1", path, NULL });
	assert_int_equal(res->status, 1);
	assert_non_null(strstr(res->err, "EBUSY"));
	run_ctl(r, res, (const char *[]){ "topology", "--defer", "vm1", path, NULL });
	assert_int_equal(res->status, 0);
	assert_string_equal(res->out, "vm1: the new topology takes effect when the guest next connects\n");

	run_ctl(r, res, (const char *[]){ "power", NULL });
	assert_non_null(strstr(res->out, "power: active"));
	/* events: none come within the timeout: --count not reached, exit 1 */
	run_ctl(r, res, (const char *[]){ "events", "--count", "1", "--timeout", "0.2", NULL });
	assert_int_equal(res->status, 1);
	assert_non_null(strstr(res->err, "0 of 1 events before the timeout"));

	/* no daemon: 3 */
	vd_ctl_server_free(r->ctl);
	r->ctl = NULL;
	run_ctl(r, res, (const char *[]){ "status", NULL });
	assert_int_equal(res->status, 3);
	assert_non_null(strstr(res->err, "no daemon answers on"));
	free(res);
	rig_free(r);
}

/* `virtdsp ctl events` prints what happens while it runs, human and JSON. */
static void test_cli_events(void **state)
{
	struct rig *r = rig_new(0);
	char exe[512];
	const char *root = getenv("VD_BUILD_ROOT");
	struct vd_ctl_server_stats st;
	int po[2];
	pid_t pid;
	char out[4096];
	size_t n = 0;
	int status;

	snprintf(exe, sizeof(exe), "%s/src/cli/virtdsp", root ? root : ".");
	for (int json = 0; json < 2; json++) {
		/* the previous run's connection is gone first */
		for (int t = 0; t < 1000; t++) {
			vd_ctl_server_get_stats(r->ctl, &st);
			if (st.subscribers == 0)
				break;
			vd_loop_iterate(r->loop, 5);
		}
		assert_int_equal(st.subscribers, 0);
		assert_int_equal(pipe2(po, O_CLOEXEC), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			dup2(po[1], 1);
			if (json)
				execl(exe, exe, "ctl", "--socket", r->ctl_path, "--json", "events", "--count", "2",
				      "--timeout", "20", "guest", NULL);
			else
				execl(exe, exe, "ctl", "--socket", r->ctl_path, "events", "--count", "2", "--timeout",
				      "20", "guest", NULL);
			_exit(127);
		}
		close(po[1]);
		/* wait until it has subscribed */
		for (int t = 0; t < 1000; t++) {
			vd_ctl_server_get_stats(r->ctl, &st);
			if (st.subscribers == 1)
				break;
			vd_loop_iterate(r->loop, 5);
		}
		assert_int_equal(st.subscribers, 1);
		guest_connect(r, 0);
		guest_disconnect(r, 0);
		for (int t = 0; t < 1000 && waitpid(pid, &status, WNOHANG) == 0; t++)
			vd_loop_iterate(r->loop, 5);
		n = 0;
		ssize_t k;
		while ((k = read(po[0], out + n, sizeof(out) - 1 - n)) > 0)
			n += (size_t)k;
		out[n] = '\0';
		close(po[0]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		if (json) {
			char *nl = strchr(out, '\n');
			struct json_object *o;

			assert_non_null(nl);
			*nl = '\0';
			o = json_tokener_parse(out);
			assert_non_null(o);
			assert_string_equal(gs(o, "event"), "guest");
			assert_true(gb(o, "connected"));
			json_object_put(o);
			o = json_tokener_parse(nl + 1);
			assert_non_null(o);
			assert_false(gb(o, "connected"));
			json_object_put(o);
		} else {
			assert_non_null(strstr(out, "] vm1: connected\n"));
			assert_non_null(strstr(out, "] vm1: disconnected: the connection was closed\n"));
		}
	}
	rig_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_requests),
		cmocka_unit_test(test_request_errors),
		cmocka_unit_test(test_set_changes_level),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_topology),
		cmocka_unit_test(test_access),
		cmocka_unit_test(test_misbehaving_clients),
		cmocka_unit_test(test_cli),
		cmocka_unit_test(test_cli_events),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
