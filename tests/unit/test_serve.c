/* tests/unit/test_serve.c - the guest side of `virtdsp serve` (src/daemon/host.c,
 * guest.c) without QEMU: the fake front-end (tests/vhost/fake_frontend) connects to a
 * guest's real unix socket and the daemon's event loop runs in the test's thread (the
 * front-end's "pump" iterates it), over the host graph of the built-in topology.
 * Playback lands sample-exact in the host WAV, capture brings the host tone, a
 * vanished connection frees every fd and memory map, a second connection is refused,
 * a restarted front-end reconnects, a protocol fault drops only that connection, and
 * start-up errors say what is wrong.
 *
 * `test_serve --fake-guest SOCKET [--periods N] [--vanish]` is the same front-end
 * against a separate `virtdsp serve` (tools/valgrind-check.sh runs the daemon under
 * valgrind with it): it relays the front-end's messages to the daemon's socket and
 * waits for each reply, plays N periods in real time, then stops cleanly or, with
 * --vanish, exits in the middle of the stream as a killed QEMU would. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sndfile.h>

#include "analysis.h"
#include "daemon/guest.h"
#include "daemon/host.h"
#include "daemon/loop.h"
#include "fake_frontend.h"
#include "rig.h"
#include "testutil.h"
#include "virtio_snd/proto.h"


/* ---- the fake guest: a front-end, its control and I/O areas ---- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int fg_rx(struct vd_rig_guest *g)
{
	unsigned slot = g->ff.vq[3].next_desc;
	uint64_t base = g->area[slot];
	struct vd_ff_buf b[3] = {
		{ base, 4, false }, { base + 12, VD_RIG_PERIOD_BYTES, true }, { base + 4, 8, true },
	};

	vd_rig_put32(vd_ff_host(&g->ff, base), 1);
	if (vd_ff_vq_add(&g->ff, 3, b, 3, true) < 0)
		return -1;
	vd_ff_kick(&g->ff, 3);
	return 0;
}

/*
 * Play @periods periods of the pattern with 4 in flight, waiting for each
 * completion (up to 5 s for each); returns the completions seen.
 */
static unsigned fg_play_timed(struct vd_rig_guest *g, unsigned periods, double *t);

static unsigned fg_play(struct vd_rig_guest *g, unsigned periods)
{
	return fg_play_timed(g, periods, NULL);
}

/* ... and the time each completion was seen (ms), if @t */
static unsigned fg_play_timed(struct vd_rig_guest *g, unsigned periods, double *t)
{
	unsigned queued = 0, done = 0;
	uint32_t id, len;

	for (; queued < 4 && queued < periods; queued++)
		if (vd_rig_tx(g) < 0)
			return done;
	if (vd_rig_pcm(g, VIRTIO_SND_R_PCM_START, 0) != VIRTIO_SND_S_OK)
		return 0;
	for (int idle = 0; done < periods && idle < 5000;) {
		if (vd_ff_vq_used(&g->ff, 2, &id, &len) == 1) {
			if (vd_rig_le32(vd_ff_host(&g->ff, g->area[id] + 4)) != VIRTIO_SND_S_OK)
				return done;
			if (t)
				t[done] = now_ms();
			done++;
			idle = 0;
			if (queued < periods && vd_rig_tx(g) >= 0)
				queued++;
			continue;
		}
		g->wait(g->wait_arg, 1);
		idle++;
	}
	return done;
}

/* ---- in-process daemon: host graph, loop, one guest ---- */

struct rig {
	char *dir;
	char out[512], sock[512];
	struct vd_host *host;
	struct vd_loop *loop;
	struct vd_guest *guest;
	char log[8192];
	char diag[2048];
};

static void log_cb(void *data, const char *line)
{
	struct rig *r = data;
	size_t n = strlen(r->log);

	snprintf(r->log + n, sizeof(r->log) - n, "%s\n", line);
}

static void diag_cb(void *data, const struct vd_error *e)
{
	char *buf = data, line[700];
	size_t n = strlen(buf);

	snprintf(buf + n, 2048 - n, "%s\n", vd_error_format(e, line, sizeof(line)));
}

/* Run the daemon's loop until it has nothing more to do right now. */
static struct rig *rig_new(const char *guest_topology)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct vd_diag diag = { .report = diag_cb };
	struct vd_host_path out = { "out", NULL };
	struct vd_host_options ho = { .paths = &out, .n_paths = 1 };
	struct vd_guest_config gc = { .name = "vm", .topology = guest_topology };
	char err[512];

	assert_non_null(r);
	diag.data = r->diag;
	r->dir = vd_test_tmpdir();
	snprintf(r->out, sizeof(r->out), "%s/host.wav", r->dir);
	snprintf(r->sock, sizeof(r->sock), "%s/vm.sock", r->dir);
	out.path = r->out;
	gc.socket = r->sock;
	if (vd_host_new(&ho, &r->host, &diag, err, sizeof(err)) < 0)
		fail_msg("host: %s %s", err, r->diag);
	assert_int_equal(vd_loop_new(&r->loop), 0);
	if (vd_guest_new(r->loop, vd_host_graph(r->host), &gc, log_cb, r, &r->guest, &diag, err,
			 sizeof(err)) < 0)
		fail_msg("guest: %s %s", err, r->diag);
	return r;
}

static void rig_free(struct rig *r)
{
	vd_guest_free(r->guest);
	vd_host_free(r->host);
	vd_loop_free(r->loop);
	vd_test_rmdir(r->dir);
	free(r);
}

/* Connect, let the daemon accept, and bring the device up as QEMU + Linux would. */
static void guest_connect(struct rig *r, struct vd_rig_guest *g)
{
	vd_rig_guest_open(g, r->sock, r->loop, r->log);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;
}

static int count_memfd_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "/memfd:") != NULL;
	fclose(f);
	return n;
}

/* ---- the built-in host topology ---- */

static void test_default_host_topology_is_shipped(void **state)
{
	char *path = vd_test_source_path("examples/host-default.topo");
	FILE *f = fopen(path, "r");
	char buf[8192];
	size_t n;

	(void)state;
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	free(path);
	assert_string_equal(buf, vd_host_default_topology());
}

static void test_host_graph(void **state)
{
	struct vd_diag diag = { 0 };
	struct vd_host_options ho = { 0 };
	struct vd_host *h;
	char err[512], *dir = vd_test_tmpdir(), out[600];
	struct vd_host_path p = { "out", out };
	bool capture;

	(void)state;
	snprintf(out, sizeof(out), "%s/o.wav", dir);
	ho.paths = &p;
	ho.n_paths = 1;
	assert_int_equal(vd_host_new(&ho, &h, &diag, err, sizeof(err)), 0);
	/* 2 ms at 48 kHz: what the docs promise for the default */
	assert_int_equal(vd_host_rate(h), 48000);
	assert_int_equal(vd_host_period_frames(h), 96);
	assert_true(vd_host_period_ns(h) == 2000000);
	assert_int_equal(vd_host_attach_count(h), 2);
	assert_string_equal(vd_host_attach_name(h, 0, &capture), "playback");
	assert_false(capture);
	assert_string_equal(vd_host_attach_name(h, 1, &capture), "capture");
	assert_true(capture);
	assert_null(vd_host_attach_name(h, 2, &capture));
	vd_host_free(h);
	vd_test_rmdir(dir);
}

static void host_error(const char *text, const struct vd_host_options *o, const char *want)
{
	char *dir = vd_test_tmpdir(), path[600], err[512], diagbuf[2048] = "";
	struct vd_diag diag = { .report = diag_cb, .data = diagbuf };
	struct vd_host_options ho = *o;
	struct vd_host *h = NULL;
	FILE *f;

	if (text) {
		snprintf(path, sizeof(path), "%s/host.topo", dir);
		f = fopen(path, "w");
		assert_non_null(f);
		fputs(text, f);
		fclose(f);
		ho.topology = path;
	}
	assert_true(vd_host_new(&ho, &h, &diag, err, sizeof(err)) < 0);
	assert_null(h);
	if (!strstr(err, want) && !strstr(diagbuf, want))
		fail_msg("expected '%s', got '%s' / '%s'", want, err, diagbuf);
	vd_test_rmdir(dir);
}

static void test_host_errors(void **state)
{
	struct vd_host_options none = { 0 };
	struct vd_host_path nope = { "nope", "x.wav" };
	struct vd_host_options bad_path = { .paths = &nope, .n_paths = 1 };
	struct vd_host_options capture = { .capture_file = "c.wav" };

	(void)state;
	host_error("pipeline p {\n  rate = 48000\n  node t tone { duration = 1s }\n  sink o null\n"
		   "  link t -> o\n}\n", &none,
		   "the host topology has no attach point: guests could not connect to anything");
	host_error("pipeline a {\n  rate = 48000\n  period = 96\n  attach x playback { channels = 2 }\n"
		   "  sink o null\n  link x -> o\n}\n"
		   "pipeline b {\n  rate = 48000\n  period = 480\n  node t tone\n"
		   "  attach y capture { channels = 2 }\n  link t -> y\n}\n", &none,
		   "attach points 'x' (96 frames at 48000 Hz) and 'y' (480 frames at 48000 Hz) have periods "
		   "of different lengths");
	host_error("pipeline a {\n  rate = 48000\n  attach x playback\n  sink o null\n  link x -> o -> z\n}\n",
		   &none, "host.topo:5:");
	host_error(NULL, &bad_path, "built-in host topology has no source, sink or attach point called 'nope'");
	host_error("pipeline a {\n  attach x playback\n  sink o null\n  link x -> o\n}\n", &capture,
		   "--capture-file is for the built-in host topology");
}

/* ---- guests ---- */

static void test_play_lands_sample_exact(void **state)
{
	struct rig *r = rig_new(NULL);
	struct vd_rig_guest g;
	struct vd_guest_stats st;

	(void)state;
	/* real time: the scheduler paces the completions, the loop runs in this thread */
	assert_int_equal(vd_host_start(r->host), 0);
	guest_connect(r, &g);
	vd_guest_get_stats(r->guest, &st);
	assert_true(st.connected);
	assert_int_equal(st.connections, 1);
	assert_int_equal(st.streams, 2);
	assert_non_null(strstr(r->log, "vm: connected (peer pid "));
	assert_int_equal(vd_rig_prepare(&g, 0), VIRTIO_SND_S_OK);
	assert_int_equal(fg_play(&g, 50), 50);
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_OK);
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_RELEASE, 0), VIRTIO_SND_S_OK);
	vd_ff_close(&g.ff);
	for (int i = 0; i < 100 && strstr(r->log, "disconnected") == NULL; i++)
		vd_loop_iterate(r->loop, 10);
	assert_non_null(strstr(r->log, "vm: disconnected (the connection was closed)"));
	assert_non_null(strstr(r->log, "; stream 0 released, 24000 frames"));
	vd_guest_get_stats(r->guest, &st);
	assert_false(st.connected);

	/* the host WAV (finalised by freeing the graph): the 24000 frames, in order, exact */
	vd_guest_free(r->guest);
	r->guest = NULL;
	vd_host_free(r->host);
	r->host = NULL;
	SF_INFO info = { 0 };
	SNDFILE *sf = sf_open(r->out, SFM_READ, &info);
	assert_non_null(sf);
	assert_int_equal(info.channels, 2);
	assert_int_equal(info.samplerate, 48000);
	int16_t *w = malloc((size_t)info.frames * 4);
	assert_non_null(w);
	assert_int_equal(sf_readf_short(sf, w, info.frames), info.frames);
	sf_close(sf);
	sf_count_t first = 0;
	while (first < info.frames && w[first * 2] == 0 && w[first * 2 + 1] == 0)
		first++;
	/* vd_rig_pattern(0) is -16384 on both channels: the first frame played is non-silent */
	assert_true(first + 24000 <= info.frames);
	for (sf_count_t k = 0; k < 24000; k++)
		for (unsigned c = 0; c < 2; c++)
			if (w[(first + k) * 2 + c] != vd_rig_pattern((uint64_t)k, c))
				fail_msg("frame %ld channel %u: %d, expected %d", (long)k, c,
					 w[(first + k) * 2 + c], vd_rig_pattern((uint64_t)k, c));
	for (sf_count_t k = first + 24000; k < info.frames; k++)
		assert_true(w[k * 2] == 0 && w[k * 2 + 1] == 0);
	free(w);
	rig_free(r);
}

static int wait_spin(void *loop, int ms)
{
	struct timespec ts = { 0, 100000 };

	(void)ms;
	vd_loop_iterate(loop, 0);
	nanosleep(&ts, NULL);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * docs/virtio-snd.md, timing rule 1, through the daemon on the built-in host
 * topology (2 ms host period): 10 ms periods complete one at a time, a period
 * apart. Polled every 0.1 ms; the machine may be loaded, so the bounds are on
 * the median, the mean and the share of pairs, and the figures are printed.
 */
static void test_tx_completions_paced(void **state)
{
	struct rig *r = rig_new(NULL);
	struct vd_rig_guest g;
	double t[200], iv[199], sum = 0;
	unsigned doubles = 0;

	(void)state;
	assert_int_equal(vd_host_start(r->host), 0);
	guest_connect(r, &g);
	g.wait = wait_spin;
	assert_int_equal(vd_rig_prepare(&g, 0), VIRTIO_SND_S_OK);
	assert_int_equal(fg_play_timed(&g, 200, t), 200);
	for (unsigned i = 0; i < 199; i++) {
		iv[i] = t[i + 1] - t[i];
		sum += iv[i];
		doubles += iv[i] < 1.0;
	}
	qsort(iv, 199, sizeof(iv[0]), cmp_double);
	print_message("tx completions through the daemon (10 ms periods, 2 ms host period, polled every "
		      "0.1 ms): first intervals %.2f %.2f %.2f %.2f ms; mean %.3f, min %.3f, p50 %.3f, p99 %.3f, "
		      "max %.3f ms; %u under 1 ms\n", t[1] - t[0], t[2] - t[1], t[3] - t[2], t[4] - t[3],
		      sum / 199, iv[0], iv[99], iv[196], iv[198], doubles);
	/* Never faster than real time; a stalled host loses time (the scheduler re-bases rather
	 * than bursting: the mean only grows) and a stalled test thread sees two completions at
	 * once: bounds for a loaded machine, the figures above for the record. */
	assert_true(fabs(iv[99] - 10.0) < 1.0);
	assert_true(sum / 199 > 9.5 && sum / 199 < 13.0);
	assert_true(doubles <= 10);
	vd_ff_close(&g.ff);
	rig_free(r);
}

static void test_capture_brings_the_host_tone(void **state)
{
	struct rig *r = rig_new(NULL);
	struct vd_rig_guest g;
	float *x = malloc(sizeof(float) * 2 * 240 * 20);
	unsigned done = 0;
	uint32_t id, len;
	struct vd_sine_fit fit;

	(void)state;
	assert_non_null(x);
	assert_int_equal(vd_host_start(r->host), 0);
	guest_connect(r, &g);
	assert_int_equal(vd_rig_prepare(&g, 1), VIRTIO_SND_S_OK);
	for (int i = 0; i < 4; i++)
		assert_int_equal(fg_rx(&g), 0);
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_START, 1), VIRTIO_SND_S_OK);
	for (int idle = 0; done < 20 && idle < 5000;) {
		if (vd_ff_vq_used(&g.ff, 3, &id, &len) != 1) {
			vd_loop_iterate(r->loop, 1);
			idle++;
			continue;
		}
		idle = 0;
		/* the audio, then the status in the last 8 bytes */
		assert_int_equal(len, VD_RIG_PERIOD_BYTES + 8);
		assert_int_equal(vd_rig_le32(vd_ff_host(&g.ff, g.area[id] + 4)), VIRTIO_SND_S_OK);
		const int16_t *d = vd_ff_host(&g.ff, g.area[id] + 12);
		for (unsigned k = 0; k < 2 * 480 && done < 10; k++)
			x[done * 960 + k] = d[k] / 32768.0f;
		done++;
		assert_int_equal(fg_rx(&g), 0);
	}
	assert_int_equal(done, 20);
	/* the first 10 periods: 440 Hz at -20 dBFS on both channels */
	for (unsigned c = 0; c < 2; c++) {
		assert_int_equal(vd_sine_fit(x + c, 4800, 2, 48000, 440, &fit), 0);
		if (fabs(vd_db(fit.amplitude) + 20.0) > 0.05 || fabs(fit.freq - 440.0) > 0.1)
			fail_msg("channel %u: %.3f dBFS at %.3f Hz, expected -20 dBFS at 440 Hz", c,
				 vd_db(fit.amplitude), fit.freq);
		assert_true(fit.snr_db > 70);
	}
	vd_ff_close(&g.ff);
	free(x);
	rig_free(r);
}

static void test_vanished_guest_frees_everything_and_reconnects(void **state)
{
	struct rig *r = rig_new(NULL);
	struct vd_rig_guest g;
	struct vd_guest_stats st;
	int fds0, maps0;

	(void)state;
	assert_int_equal(vd_host_start(r->host), 0);
	fds0 = count_fds();
	maps0 = count_memfd_maps();
	for (int round = 1; round <= 3; round++) {
		guest_connect(r, &g);
		assert_int_equal(vd_rig_prepare(&g, 0), VIRTIO_SND_S_OK);
		assert_int_equal(fg_play(&g, 5), 5);
		/* the guest's memory is mapped by the daemon: one more memfd map than before */
		assert_true(count_memfd_maps() > maps0);
		/* vanish mid-stream: no STOP, no RELEASE, no GET_VRING_BASE (a killed QEMU) */
		r->log[0] = '\0';
		vd_ff_close(&g.ff);
		for (int i = 0; i < 100 && strstr(r->log, "disconnected") == NULL; i++)
			vd_loop_iterate(r->loop, 10);
		assert_non_null(strstr(r->log, "vm: disconnected (the connection was closed)"));
		assert_non_null(strstr(r->log, "freed 1 active streams"));
		/* the fake's own fds and memfds are closed; what remains must be the daemon's start */
		assert_int_equal(count_fds(), fds0);
		assert_int_equal(count_memfd_maps(), maps0);
		vd_guest_get_stats(r->guest, &st);
		assert_false(st.connected);
		assert_int_equal(st.connections, (uint64_t)round);
	}
	rig_free(r);
}

/* A guest reboot or suspend: QEMU stops the device mid-stream and starts it again on the
 * same connection with new kick fds (their numbers are reused). Streams are released,
 * the connection stays, and nothing accumulates. */
static void test_device_stop_and_restart_keeps_connection(void **state)
{
	struct rig *r = rig_new(NULL);
	struct vd_rig_guest g;
	struct vd_guest_stats st;
	uint16_t bases[4];
	int fds1 = -1;

	(void)state;
	assert_int_equal(vd_host_start(r->host), 0);
	guest_connect(r, &g);
	for (int round = 0; round < 4; round++) {
		assert_int_equal(vd_rig_prepare(&g, 0), VIRTIO_SND_S_OK);
		assert_int_equal(fg_play(&g, 3), 3);
		assert_true(vd_rig_tx(&g) >= 0);	/* one more in flight when the device stops */
		if (vd_ff_stop(&g.ff, bases) < 0)
			fail_msg("stop: %s; daemon: %s", g.ff.err, r->log);
		vd_guest_get_stats(r->guest, &st);
		assert_true(st.connected);
		assert_int_equal(st.connections, 1);
		for (unsigned q = 0; q < 4; q++)
			assert_int_equal(vd_ff_vq_alloc(&g.ff, q, VD_RIG_QSIZE), 0);
		if (vd_ff_start(&g.ff, VD_RIG_FEATURES, VD_RIG_QSIZE, NULL) < 0)
			fail_msg("restart: %s; daemon: %s", g.ff.err, r->log);
		/* old kick fds closed by the daemon, new ones watched: the count settles */
		if (round == 1)
			fds1 = count_fds();
		else if (round > 1)
			assert_int_equal(count_fds(), fds1);
	}
	assert_int_equal(vd_rig_prepare(&g, 0), VIRTIO_SND_S_OK);
	assert_int_equal(fg_play(&g, 5), 5);
	assert_null(strstr(r->log, "disconnected"));
	vd_ff_close(&g.ff);
	rig_free(r);
}

static void test_second_connection_refused_restart_accepted(void **state)
{
	struct rig *r = rig_new(NULL);
	struct vd_rig_guest g, h;
	struct vd_guest_stats st;
	int extra;

	(void)state;
	assert_int_equal(vd_host_start(r->host), 0);
	guest_connect(r, &g);
	/* a second front-end while the first is served: refused, the first unaffected */
	extra = vd_rig_connect(r->sock);
	vd_rig_pump(r->loop);
	vd_guest_get_stats(r->guest, &st);
	assert_int_equal(st.refused, 1);
	assert_non_null(strstr(r->log, "vm: refused a second connection while pid "));
	char b;
	assert_int_equal(recv(extra, &b, 1, 0), 0);	/* closed by the daemon */
	close(extra);
	assert_int_equal(vd_rig_prepare(&g, 0), VIRTIO_SND_S_OK);
	assert_int_equal(fg_play(&g, 3), 3);

	/* QEMU restarted: its new connection arrives before the old hang-up was handled */
	vd_ff_close(&g.ff);
	int fd = vd_rig_connect(r->sock);
	memset(&h, 0, sizeof(h));
	h.wait = vd_rig_wait;
	h.wait_arg = r->loop;
	vd_rig_pump(r->loop);
	vd_guest_get_stats(r->guest, &st);
	assert_true(st.connected);
	assert_int_equal(st.connections, 2);
	assert_int_equal(st.refused, 1);
	if (vd_rig_guest_setup(&h, fd, vd_rig_pump, r->loop) < 0)
		fail_msg("front-end: %s; daemon: %s", h.ff.err, r->log);
	assert_int_equal(vd_rig_prepare(&h, 0), VIRTIO_SND_S_OK);
	assert_int_equal(fg_play(&h, 3), 3);
	vd_ff_close(&h.ff);
	rig_free(r);
}

static void test_protocol_fault_drops_only_that_connection(void **state)
{
	struct rig *r = rig_new(NULL);
	struct vd_rig_guest g;
	struct vd_guest_stats st;
	/* a header announcing a payload beyond the protocol's maximum */
	uint32_t bad[3] = { VD_VHOST_REQ_GET_FEATURES, 0x1, 0x100000 };

	(void)state;
	int fd = vd_rig_connect(r->sock);
	vd_rig_pump(r->loop);
	assert_int_equal(send(fd, bad, sizeof(bad), 0), (ssize_t)sizeof(bad));
	for (int i = 0; i < 100 && strstr(r->log, "disconnected") == NULL; i++)
		vd_loop_iterate(r->loop, 10);
	assert_non_null(strstr(r->log, "vm: disconnected (device fault: "));
	vd_guest_get_stats(r->guest, &st);
	assert_false(st.connected);
	assert_int_equal(st.faults, 1);
	close(fd);
	/* the socket still listens: a good front-end is served */
	assert_int_equal(vd_host_start(r->host), 0);
	guest_connect(r, &g);
	assert_int_equal(vd_rig_prepare(&g, 0), VIRTIO_SND_S_OK);
	assert_int_equal(fg_play(&g, 3), 3);
	vd_ff_close(&g.ff);
	rig_free(r);
}

static void test_guest_errors(void **state)
{
	char *dir = vd_test_tmpdir(), out[600], path[600], topo[600], err[512], diagbuf[2048] = "";
	struct vd_host_path p = { "out", out };
	struct vd_host_options ho = { .paths = &p, .n_paths = 1 };
	struct vd_diag diag = { .report = diag_cb, .data = diagbuf };
	struct vd_guest_config gc = { .name = "vm", .socket = path };
	struct vd_host *h;
	struct vd_loop *loop;
	struct vd_guest *g = NULL, *g2 = NULL;
	FILE *f;

	(void)state;
	snprintf(out, sizeof(out), "%s/o.wav", dir);
	assert_int_equal(vd_host_new(&ho, &h, &diag, err, sizeof(err)), 0);
	assert_int_equal(vd_loop_new(&loop), 0);

	/* a guest topology that names an attach point the host does not have */
	snprintf(topo, sizeof(topo), "%s/g.topo", dir);
	f = fopen(topo, "w");
	assert_non_null(f);
	fputs("pipeline p {\n  source s stream { direction = playback }\n"
	      "  sink a attach { point = \"nowhere\" }\n  link s -> a\n}\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/a.sock", dir);
	gc.topology = topo;
	assert_true(vd_guest_new(loop, vd_host_graph(h), &gc, NULL, NULL, &g, &diag, err, sizeof(err)) < 0);
	assert_non_null(strstr(diagbuf, "g.topo:3:3: the host topology has no attach point 'nowhere'"));
	gc.topology = NULL;

	/* the socket path is taken by a regular file */
	snprintf(path, sizeof(path), "%s/file", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(vd_guest_new(loop, vd_host_graph(h), &gc, NULL, NULL, &g, &diag, err, sizeof(err)),
			 -EEXIST);
	assert_non_null(strstr(err, "/file exists and is not a socket"));

	/* a live backend on the socket keeps it; a stale socket file is replaced */
	snprintf(path, sizeof(path), "%s/live.sock", dir);
	assert_int_equal(vd_guest_new(loop, vd_host_graph(h), &gc, NULL, NULL, &g, &diag, err, sizeof(err)), 0);
	assert_int_equal(vd_guest_new(loop, vd_host_graph(h), &gc, NULL, NULL, &g2, &diag, err, sizeof(err)),
			 -EADDRINUSE);
	assert_non_null(strstr(err, "another backend is listening on "));
	vd_guest_free(g);
	int stale = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(stale, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(stale);	/* bound, never listened, closed: a dead daemon's file */
	assert_int_equal(vd_guest_new(loop, vd_host_graph(h), &gc, NULL, NULL, &g, &diag, err, sizeof(err)), 0);
	vd_guest_free(g);
	assert_int_equal(access(path, F_OK), -1);	/* removed at free */

	/* too long for sun_path */
	char longp[200];
	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	gc.socket = longp;
	assert_int_equal(vd_guest_new(loop, vd_host_graph(h), &gc, NULL, NULL, &g, &diag, err, sizeof(err)),
			 -ENAMETOOLONG);
	assert_non_null(strstr(err, "too long (199 bytes, at most 107)"));

	vd_loop_free(loop);
	vd_host_free(h);
	vd_test_rmdir(dir);
}

/* ---- --fake-guest: the same front-end against a separate daemon ---- */

struct relay {
	int inner;	/* the front-end's peer (a socketpair) */
	int outer;	/* the daemon */
};

static bool wants_reply(uint32_t req, uint32_t flags)
{
	switch (req) {
	case VD_VHOST_REQ_GET_FEATURES: case VD_VHOST_REQ_GET_PROTOCOL_FEATURES:
	case VD_VHOST_REQ_GET_QUEUE_NUM: case VD_VHOST_REQ_GET_VRING_BASE:
	case VD_VHOST_REQ_GET_CONFIG: case VD_VHOST_REQ_GET_MAX_MEM_SLOTS:
	case VD_VHOST_REQ_GET_INFLIGHT_FD: case VD_VHOST_REQ_GET_STATUS:
		return true;
	default:
		return flags & VD_VHOST_FLAG_NEED_REPLY;
	}
}

static int read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		ssize_t n = recv(fd, (char *)buf + got, len - got, 0);
		if (n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		got += (size_t)n;
	}
	return 0;
}

/* Forward each message the front-end wrote (with its fds) and bring back its reply, if any. */
static int pump_relay(void *arg)
{
	struct relay *rl = arg;

	for (;;) {
		struct vd_vhost_msg_hdr h;
		uint8_t payload[VD_VHOST_MAX_PAYLOAD];
		union { char buf[CMSG_SPACE(sizeof(int) * 16)]; struct cmsghdr align; } ctl;
		struct iovec iov = { &h, sizeof(h) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
				    .msg_controllen = sizeof(ctl.buf) };
		int fds[16], nfds = 0;
		ssize_t n = recvmsg(rl->inner, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n != (ssize_t)sizeof(h) || h.size > sizeof(payload))
			return -EPROTO;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
				memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)nfds);
			}
		if (h.size && read_full(rl->inner, payload, h.size, 1000) < 0)
			return -EPROTO;
		struct iovec out[2] = { { &h, sizeof(h) }, { payload, h.size } };
		struct msghdr om = { .msg_iov = out, .msg_iovlen = h.size ? 2 : 1 };
		if (nfds) {
			om.msg_control = ctl.buf;
			om.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
			struct cmsghdr *c = CMSG_FIRSTHDR(&om);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
		}
		n = sendmsg(rl->outer, &om, MSG_NOSIGNAL);
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		if (n != (ssize_t)(sizeof(h) + h.size))
			return -EPIPE;
		if (!wants_reply(h.request, h.flags))
			continue;
		/* the daemon may run under valgrind on a loaded machine: be patient */
		struct vd_vhost_msg_hdr rh;
		if (read_full(rl->outer, &rh, sizeof(rh), 30000) < 0 || rh.size > sizeof(payload) ||
		    (rh.size && read_full(rl->outer, payload, rh.size, 30000) < 0))
			return -EPROTO;
		struct iovec back[2] = { { &rh, sizeof(rh) }, { payload, rh.size } };
		struct msghdr bm = { .msg_iov = back, .msg_iovlen = rh.size ? 2 : 1 };
		if (sendmsg(rl->inner, &bm, MSG_NOSIGNAL) != (ssize_t)(sizeof(rh) + rh.size))
			return -EPIPE;
	}
}

static int wait_sleep(void *arg, int ms)
{
	struct timespec ts = { 0, (long)ms * 1000000 };

	(void)arg;
	nanosleep(&ts, NULL);
	return 0;
}

static int fake_guest(const char *path, unsigned periods, bool vanish)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct relay rl;
	struct vd_rig_guest g = { .wait = wait_sleep };
	int sv[2];
	unsigned done;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	rl.outer = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (rl.outer < 0 || connect(rl.outer, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		fprintf(stderr, "fake-guest: cannot connect to %s: %s\n", path, strerror(errno));
		return 1;
	}
	rl.inner = sv[1];
	if (vd_rig_guest_setup(&g, sv[0], pump_relay, &rl) < 0) {
		fprintf(stderr, "fake-guest: set-up failed: %s\n", g.ff.err);
		return 1;
	}
	if (vd_rig_prepare(&g, 0) != VIRTIO_SND_S_OK) {
		fprintf(stderr, "fake-guest: SET_PARAMS/PREPARE refused\n");
		return 1;
	}
	done = fg_play(&g, periods);
	printf("fake-guest: %u of %u periods completed\n", done, periods);
	fflush(stdout);
	if (vanish)
		_exit(done == periods ? 0 : 1);	/* like a killed QEMU: nothing stopped, nothing closed */
	if (vd_rig_pcm(&g, VIRTIO_SND_R_PCM_STOP, 0) != VIRTIO_SND_S_OK ||
	    vd_rig_pcm(&g, VIRTIO_SND_R_PCM_RELEASE, 0) != VIRTIO_SND_S_OK) {
		fprintf(stderr, "fake-guest: STOP/RELEASE refused\n");
		return 1;
	}
	vd_ff_close(&g.ff);
	close(rl.inner);
	close(rl.outer);
	return done == periods ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "--fake-guest") == 0) {
		unsigned periods = 50;
		bool vanish = false;

		for (int i = 3; i < argc; i++) {
			if (strcmp(argv[i], "--periods") == 0 && i + 1 < argc)
				periods = (unsigned)atoi(argv[++i]);
			else if (strcmp(argv[i], "--vanish") == 0)
				vanish = true;
			else {
				fprintf(stderr, "usage: test_serve --fake-guest SOCKET [--periods N] [--vanish]\n");
				return 2;
			}
		}
		return fake_guest(argv[2], periods, vanish);
	}

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_host_topology_is_shipped),
		cmocka_unit_test(test_host_graph),
		cmocka_unit_test(test_host_errors),
		cmocka_unit_test(test_guest_errors),
		cmocka_unit_test(test_play_lands_sample_exact),
		cmocka_unit_test(test_tx_completions_paced),
		cmocka_unit_test(test_capture_brings_the_host_tone),
		cmocka_unit_test(test_vanished_guest_frees_everything_and_reconnects),
		cmocka_unit_test(test_device_stop_and_restart_keeps_connection),
		cmocka_unit_test(test_second_connection_refused_restart_accepted),
		cmocka_unit_test(test_protocol_fault_drops_only_that_connection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
