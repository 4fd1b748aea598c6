/* tests/vhost/test_serve_restart.c - `virtdsp serve` restarted under a connected guest, and
 * the built-in host topology's capture file, with the fake front-end (no QEMU).
 *
 * The daemon's objects (host graph, event loop, guest device) live in the test's process,
 * its loop driven from the test's thread, as in tests/unit/test_serve.c. A restart tears
 * all of them down while a front-end is connected and streaming, creates new ones on the
 * same socket path, and connects again the way QEMU's reconnect-ms does: a new connection,
 * the whole vhost-user set-up, then SET_PARAMS / PREPARE / START. */
#include <errno.h>
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
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <sndfile.h>

#include "daemon/guest.h"
#include "daemon/host.h"
#include "daemon/loop.h"
#include "fake_frontend.h"
#include "rig.h"
#include "testutil.h"
#include "virtio_snd/proto.h"

#define MAX_MSGS 256

/* ---- the in-process daemon ---- */

struct daemon {
	struct vd_host *host;
	struct vd_loop *loop;
	struct vd_guest *guest;
	char log[8192];
};

static void log_cb(void *data, const char *line)
{
	struct daemon *d = data;
	size_t n = strlen(d->log);

	snprintf(d->log + n, sizeof(d->log) - n, "%s\n", line);
}

static void diag_cb(void *data, const struct vd_error *e)
{
	/* the caller's buffer is 512 bytes */
	vd_error_format(e, data, 512);
}

/* Start the built-in host topology (writing @out, capturing @capture if set) and one guest. */
static struct daemon *daemon_start(const char *sock, const char *out, const char *capture, bool once)
{
	struct daemon *d = calloc(1, sizeof(*d));
	char err[512] = "", diagbuf[512] = "";
	struct vd_diag diag = { .report = diag_cb, .data = diagbuf };
	struct vd_host_path p = { "out", out };
	struct vd_host_options ho = { .paths = &p, .n_paths = 1, .capture_file = capture,
				      .capture_once = once };
	struct vd_guest_config gc = { .name = "vm", .socket = sock };

	assert_non_null(d);
	if (vd_host_new(&ho, &d->host, &diag, err, sizeof(err)) < 0)
		fail_msg("host: %s %s", err, diagbuf);
	assert_int_equal(vd_loop_new(&d->loop), 0);
	if (vd_guest_new(d->loop, vd_host_graph(d->host), &gc, log_cb, d, &d->guest, &diag, err,
			 sizeof(err)) < 0)
		fail_msg("guest: %s %s", err, diagbuf);
	assert_int_equal(vd_host_start(d->host), 0);
	return d;
}

/* What the daemon does on SIGTERM: guest freed (socket closed and removed), host stopped and
 * its files finalised, loop freed. */
static void daemon_stop(struct daemon *d)
{
	vd_guest_free(d->guest);
	vd_host_free(d->host);
	vd_loop_free(d->loop);
	free(d);
}

/* ---- the fake guest ---- */

struct fguest {
	struct vd_rig_guest rg;
	struct daemon *d;
	/* tx messages in the order queued, and how many were completed (in that order) */
	int head[MAX_MSGS];
	unsigned queued, completed;
};

/* A new connection and QEMU's whole set-up: handshake, memory, rings, DRIVER_OK. */
static void fg_connect(struct fguest *g, struct daemon *d, const char *sock, uint64_t first_frame)
{
	memset(g, 0, sizeof(*g));
	vd_rig_guest_open(&g->rg, sock, d->loop, d->log);
	g->d = d;
	g->rg.next_frame = first_frame;
}

/* Queue one tx period of the pattern and note its descriptor head. */
static void fg_tx(struct fguest *g)
{
	int head = vd_rig_tx(&g->rg);

	assert_true(head >= 0);
	assert_true(g->queued < MAX_MSGS);
	g->head[g->queued++] = head;
}

/* Collect completions for up to @ms: each must be the oldest message not yet completed. */
static void fg_collect(struct fguest *g, int ms)
{
	uint32_t id, len;

	for (int t = 0; t < ms;) {
		if (vd_ff_vq_used(&g->rg.ff, 2, &id, &len) != 1) {
			vd_loop_iterate(g->d->loop, 1);
			t++;
			continue;
		}
		if (g->completed >= g->queued)
			fail_msg("a completion (id %u) with no message outstanding: %u queued", id, g->queued);
		if ((int)id != g->head[g->completed])
			fail_msg("completion %u is id %u, expected %d (out of order or twice)", g->completed,
				 id, g->head[g->completed]);
		assert_int_equal(vd_rig_le32(vd_ff_host(&g->rg.ff, g->rg.area[id] + 4)), VIRTIO_SND_S_OK);
		g->completed++;
		return;
	}
}

/* Play @periods periods, four in flight; returns when they have all completed (5 s each). */
static void fg_play(struct fguest *g, unsigned periods, bool start)
{
	unsigned target = g->queued + periods, first = g->completed;

	while (g->queued < target && g->queued - g->completed < 4)
		fg_tx(g);
	if (start)
		assert_int_equal(vd_rig_pcm(&g->rg, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	while (g->completed < target) {
		unsigned before = g->completed;

		fg_collect(g, 5000);
		if (g->completed == before)
			fail_msg("no completion in 5 s after %u of %u; daemon: %s", g->completed - first,
				 periods, g->d->log);
		if (g->queued < target)
			fg_tx(g);
	}
}

/* ---- host output ---- */

/* The host WAV's frames (S16 stereo). */
static sf_count_t read_wav(const char *path, int16_t **out)
{
	SF_INFO info = { 0 };
	SNDFILE *sf = sf_open(path, SFM_READ, &info);

	if (!sf)
		fail_msg("%s: %s", path, sf_strerror(NULL));
	assert_int_equal(info.channels, 2);
	assert_int_equal(info.samplerate, 48000);
	*out = calloc((size_t)info.frames * 2 + 2, sizeof(int16_t));
	assert_int_equal(sf_readf_short(sf, *out, info.frames), info.frames);
	sf_close(sf);
	return info.frames;
}

/* The played frames [@from, @from + @n) of the pattern, contiguous and exact, with silence
 * before them and nothing but silence or the pattern's continuation after them. */
static void expect_played(const char *path, uint64_t from, uint64_t n)
{
	int16_t *w;
	sf_count_t frames = read_wav(path, &w), at = 0;

	while (at < frames && w[2 * at] == 0 && w[2 * at + 1] == 0)
		at++;
	if (at + (sf_count_t)n > frames)
		fail_msg("%s: %ld frames, the signal starts at %ld: %lu frames expected in it", path,
			 (long)frames, (long)at, (unsigned long)n);
	for (uint64_t k = 0; k < n; k++)
		for (unsigned c = 0; c < 2; c++)
			if (w[2 * (at + (sf_count_t)k) + c] != vd_rig_pattern(from + k, c))
				fail_msg("%s: frame %lu of the signal, channel %u: %d, expected %d", path,
					 (unsigned long)k, c, w[2 * (at + k) + c], vd_rig_pattern(from + k, c));
	for (sf_count_t k = at + (sf_count_t)n; k < frames; k++)
		for (unsigned c = 0; c < 2; c++) {
			int16_t v = w[2 * k + c];

			if (v != 0 && v != vd_rig_pattern(from + (uint64_t)(k - at), c))
				fail_msg("%s: frame %ld after the signal: %d", path, (long)k, v);
		}
	free(w);
}

/*
 * Guest playing; the daemon is stopped under it (connection closed, socket removed) and
 * started again on the same path; the guest connects again, sets everything up from
 * scratch and plays on. Every period it queued on either connection completes once, in
 * order; both host WAVs hold what was completed, sample-exact.
 */
static void test_daemon_restart_guest_reconnects(void **state)
{
	char *dir = vd_test_tmpdir(), sock[512], out1[512], out2[512];
	struct fguest g;
	struct daemon *d;
	char byte;

	(void)state;
	snprintf(sock, sizeof(sock), "%s/vm.sock", dir);
	snprintf(out1, sizeof(out1), "%s/host1.wav", dir);
	snprintf(out2, sizeof(out2), "%s/host2.wav", dir);

	d = daemon_start(sock, out1, NULL, false);
	fg_connect(&g, d, sock, 0);
	assert_int_equal(vd_rig_prepare(&g.rg, 0), VIRTIO_SND_S_OK);
	fg_play(&g, 30, true);
	/* two more in flight, not yet played, when the daemon goes */
	fg_tx(&g);
	fg_tx(&g);
	unsigned played1 = g.completed;
	assert_int_equal(played1, 30);
	daemon_stop(d);
	/* the front-end sees the connection closed; the daemon removed its socket */
	assert_int_equal(recv(g.rg.ff.sock, &byte, 1, MSG_DONTWAIT), 0);
	assert_int_equal(access(sock, F_OK), -1);
	/* nothing completed after the fact: the in-flight messages went with the connection */
	uint32_t id, len;
	assert_int_equal(vd_ff_vq_used(&g.rg.ff, 2, &id, &len), 0);
	vd_ff_close(&g.rg.ff);
	/* what was completed was played, exactly, before the file was finalised */
	expect_played(out1, 0, played1 * VD_RIG_PERIOD_FRAMES);

	/* a new daemon on the same path; QEMU's reconnect: a new connection, everything again */
	d = daemon_start(sock, out2, NULL, false);
	uint64_t resume = 100000;	/* the guest's stream goes on elsewhere in the pattern */
	fg_connect(&g, d, sock, resume);
	struct vd_guest_stats st;
	vd_guest_get_stats(d->guest, &st);
	assert_true(st.connected);
	assert_int_equal(st.connections, 1);
	assert_non_null(strstr(d->log, "vm: connected (peer pid "));
	assert_int_equal(vd_rig_prepare(&g.rg, 0), VIRTIO_SND_S_OK);
	fg_play(&g, 40, true);
	assert_int_equal(vd_rig_pcm(&g.rg, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_OK);
	assert_int_equal(vd_rig_pcm(&g.rg, VIRTIO_SND_R_PCM_RELEASE, 0), VIRTIO_SND_S_OK);
	/* RELEASE completed nothing extra and nothing twice: all 40, once each, in order */
	fg_collect(&g, 50);
	assert_int_equal(g.completed, 40);
	assert_int_equal(g.queued, 40);
	assert_int_equal(vd_ff_vq_used_idx(&g.rg.ff, 2), 40);
	vd_ff_close(&g.rg.ff);
	daemon_stop(d);
	expect_played(out2, resume, 40 * VD_RIG_PERIOD_FRAMES);
	vd_test_rmdir(dir);
}

/* ---- --capture-file on the built-in host topology ---- */

/* Queue one rx period: the descriptor slot the ring gives it is also its area's index. */
static void fg_rx(struct fguest *g)
{
	unsigned slot = g->rg.ff.vq[3].next_desc;
	uint64_t base = g->rg.area[slot];
	struct vd_ff_buf b[3] = {
		{ base, 4, false }, { base + 12, VD_RIG_PERIOD_BYTES, true }, { base + 4, 8, true },
	};

	vd_rig_put32(vd_ff_host(&g->rg.ff, base), 1);
	assert_int_equal(vd_ff_vq_add(&g->rg.ff, 3, b, 3, true), (int)slot);
	vd_ff_kick(&g->rg.ff, 3);
}

/* Record @periods periods from stream 1 into @x (S16 stereo). */
static void fg_record(struct fguest *g, unsigned periods, int16_t *x)
{
	unsigned done = 0;
	uint32_t id, len;

	assert_int_equal(vd_rig_prepare(&g->rg, 1), VIRTIO_SND_S_OK);
	for (unsigned i = 0; i < 4; i++)
		fg_rx(g);
	assert_int_equal(vd_rig_pcm(&g->rg, VIRTIO_SND_R_PCM_START, 1), VIRTIO_SND_S_OK);
	for (int idle = 0; done < periods && idle < 5000;) {
		if (vd_ff_vq_used(&g->rg.ff, 3, &id, &len) != 1) {
			vd_loop_iterate(g->d->loop, 1);
			idle++;
			continue;
		}
		idle = 0;
		assert_int_equal(len, VD_RIG_PERIOD_BYTES + 8);
		assert_int_equal(vd_rig_le32(vd_ff_host(&g->rg.ff, g->rg.area[id] + 4)), VIRTIO_SND_S_OK);
		memcpy(x + (size_t)done * VD_RIG_PERIOD_FRAMES * 2, vd_ff_host(&g->rg.ff, g->rg.area[id] + 12),
		       VD_RIG_PERIOD_BYTES);
		done++;
		fg_rx(g);
	}
	if (done != periods) {
		struct vd_rt_stats st;
		double u = -1, b = -1;

		vd_guest_report(g->d->guest);
		vd_host_sched_stats(g->d->host, &st);
		vd_graph_get_param(vd_host_graph(g->d->host), "in", "underruns", &u);
		vd_graph_get_param(vd_host_graph(g->d->host), "in", "buffered", &b);
		fail_msg("%u of %u rx periods completed (host: %lu cycles, error %d, finished %d; "
			 "in: %g underruns, %g buffered); daemon: %s", done, periods,
			 (unsigned long)st.cycles, st.error, st.finished, u, b, g->d->log);
	}
}

/*
 * The capture file loops by default: a 1009-frame file (21 ms) recorded for 0.5 s, long
 * after its first end, is the file over and over, bit-exact and without a gap. With
 * --capture-once it has ended by then: silence, and the guest's rx periods still complete
 * (an ended source used to end the capture point too, and the guest got no more periods).
 */
static void test_capture_file_loops(void **state)
{
	char *dir = vd_test_tmpdir(), sock[512], out[512], cap[512];
	const unsigned len = 1009, periods = 50;
	int16_t *file = malloc(len * 2 * sizeof(int16_t));
	int16_t *x = malloc((size_t)periods * VD_RIG_PERIOD_FRAMES * 2 * sizeof(int16_t));

	(void)state;
	snprintf(sock, sizeof(sock), "%s/vm.sock", dir);
	snprintf(out, sizeof(out), "%s/host.wav", dir);
	snprintf(cap, sizeof(cap), "%s/cap.wav", dir);
	/* every frame different and none silent */
	for (unsigned k = 0; k < len; k++) {
		file[2 * k] = (int16_t)(k + 1);
		file[2 * k + 1] = (int16_t)(-7 * (int)(k + 1));
	}
	SF_INFO info = { .samplerate = 48000, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16 };
	SNDFILE *sf = sf_open(cap, SFM_WRITE, &info);
	assert_non_null(sf);
	assert_int_equal(sf_writef_short(sf, file, len), len);
	sf_close(sf);

	for (int once = 0; once < 2; once++) {
		struct daemon *d = daemon_start(sock, out, cap, once);
		struct fguest g;

		/* the host graph has been running for five times the file's length */
		usleep(100000);

		fg_connect(&g, d, sock, 0);
		fg_record(&g, periods, x);
		vd_ff_close(&g.rg.ff);
		daemon_stop(d);
		if (once) {
			for (size_t i = 0; i < (size_t)periods * VD_RIG_PERIOD_FRAMES * 2; i++)
				if (x[i] != 0)
					fail_msg("--capture-once: frame %zu is %d, expected the silence after "
						 "the file's end", i / 2, x[i]);
			continue;
		}
		/* where in the file the recording starts */
		unsigned off = len;
		for (unsigned k = 0; k < len && off == len; k++)
			if (file[2 * k] == x[0])
				off = k;
		if (off == len)
			fail_msg("the recording's first frame (%d, %d) is not in the capture file", x[0], x[1]);
		for (size_t k = 0; k < (size_t)periods * VD_RIG_PERIOD_FRAMES; k++)
			for (unsigned c = 0; c < 2; c++)
				if (x[2 * k + c] != file[2 * ((off + k) % len) + c])
					fail_msg("recorded frame %zu channel %u: %d, expected file frame %zu (%d)",
						 k, c, x[2 * k + c], (off + k) % len,
						 file[2 * ((off + k) % len) + c]);
	}
	free(file);
	free(x);
	vd_test_rmdir(dir);
}

/* `virtdsp serve --capture-once` alone is a usage error that says what it goes with. */
static void test_capture_once_needs_a_file(void **state)
{
	const char *root = getenv("VD_BUILD_ROOT");
	char *dir = vd_test_tmpdir(), cmd[1536], out[1024] = "";
	size_t n;
	FILE *p;

	(void)state;
	snprintf(cmd, sizeof(cmd), "'%s/src/cli/virtdsp' serve --no-tasks --capture-once --guest vm=%s/vm.sock "
		 "2>&1", root ? root : ".", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 2);
	if (!strstr(out, "virtdsp serve: --capture-once goes with --capture-file"))
		fail_msg("unexpected output: %s", out);
	assert_int_equal(access(dir, F_OK), 0);
	vd_test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemon_restart_guest_reconnects),
		cmocka_unit_test(test_capture_file_loops),
		cmocka_unit_test(test_capture_once_needs_a_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
