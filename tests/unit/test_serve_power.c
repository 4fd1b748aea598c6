/* tests/unit/test_serve_power.c - power management and guest suspend/resume
 * through the daemon's guest side (src/daemon/power.c, host.c, guest.c and
 * virtio_snd's stream_active hook), with the vhost fake front-end: an idle
 * daemon suspends after its timeout (processing thread gone, no cycles, CPU
 * near zero), the next START resumes it before the first period with no lost
 * or repeated period (completion counts and the host WAV, sample-exact), a
 * guest killed mid-stream gives its users back, and a guest that resets the
 * device without RELEASE (Linux's freeze/restore) plays on seamlessly. The
 * daemon's loop runs in the test's thread; its processing thread in real
 * time. Timing is only bounded generously (loaded 2-core CI). */
#include <dirent.h>
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
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sndfile.h>

#include "daemon/guest.h"
#include "daemon/host.h"
#include "daemon/loop.h"
#include "daemon/power.h"
#include "fake_frontend.h"
#include "rig.h"
#include "testutil.h"
#include "virtio_snd/proto.h"

#define IDLE_MS 150
#define PATIENCE_MS 10000

struct rig {
	char *dir;
	char out[512], sock[512];
	struct vd_host *host;
	struct vd_loop *loop;
	struct vd_power *power;
	struct vd_guest *guest;
	char log[16384];
	char diag[2048];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void log_cb(void *data, const char *line)
{
	struct rig *r = data;
	size_t n = strlen(r->log);

	/* keep the newest lines: a long test must not lose what it looks for */
	if (n > sizeof(r->log) - 1024) {
		memmove(r->log, r->log + n / 2, n - n / 2 + 1);
		n = strlen(r->log);
	}
	snprintf(r->log + n, sizeof(r->log) - n, "%s\n", line);
}

static void diag_cb(void *data, const struct vd_error *e)
{
	char *buf = data, line[700];
	size_t n = strlen(buf);

	snprintf(buf + n, 2048 - n, "%s\n", vd_error_format(e, line, sizeof(line)));
}

static void power_changed(void *data, const struct vd_power_status *st)
{
	char line[128];

	snprintf(line, sizeof(line), "power: %s", vd_power_state_name(st->state));
	log_cb(data, line);
}

/*
 * The daemon's guest side on the built-in host topology, or on @topo (text:
 * "%s" in it becomes the rig's directory) whose sink "out" is then left as
 * the topology says.
 */
static struct rig *rig_new_topo(uint64_t idle_ms, const char *topo)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct vd_diag diag = { .report = diag_cb };
	struct vd_host_path out = { "out", NULL };
	struct vd_host_options ho = { .paths = &out, .n_paths = 1 };
	struct vd_guest_config gc = { .name = "vm" };
	struct vd_power_hooks ph;
	char err[512], tpath[600];

	assert_non_null(r);
	diag.data = r->diag;
	r->dir = vd_test_tmpdir();
	snprintf(r->out, sizeof(r->out), "%s/host.wav", r->dir);
	snprintf(r->sock, sizeof(r->sock), "%s/vm.sock", r->dir);
	out.path = r->out;
	gc.socket = r->sock;
	if (topo) {
		FILE *f;

		snprintf(tpath, sizeof(tpath), "%s/host.topo", r->dir);
		f = fopen(tpath, "w");
		assert_non_null(f);
		fprintf(f, topo, r->dir);
		fclose(f);
		ho.topology = tpath;
		ho.n_paths = 0;
	}
	if (vd_host_new(&ho, &r->host, &diag, err, sizeof(err)) < 0)
		fail_msg("host: %s %s", err, r->diag);
	assert_int_equal(vd_loop_new(&r->loop), 0);
	vd_host_power_hooks(r->host, log_cb, power_changed, r, &ph);
	assert_int_equal(vd_power_new(r->loop, idle_ms, &ph, &r->power), 0);
	gc.power = r->power;
	if (vd_guest_new(r->loop, vd_host_graph(r->host), &gc, log_cb, r, &r->guest, &diag, err,
			 sizeof(err)) < 0)
		fail_msg("guest: %s %s", err, r->diag);
	assert_int_equal(vd_host_start(r->host), 0);
	return r;
}

static struct rig *rig_new(uint64_t idle_ms)
{
	return rig_new_topo(idle_ms, NULL);
}

static void rig_free(struct rig *r)
{
	vd_guest_free(r->guest);
	vd_power_free(r->power);
	vd_host_free(r->host);
	vd_loop_free(r->loop);
	vd_test_rmdir(r->dir);
	free(r);
}

static struct vd_power_status pstatus(struct rig *r)
{
	struct vd_power_status st;

	vd_power_status(r->power, &st);
	return st;
}

static uint64_t host_cycles(struct rig *r)
{
	struct vd_rt_stats rs;

	vd_host_sched_stats(r->host, &rs);
	return rs.cycles;
}

static void wait_for_state(struct rig *r, enum vd_power_state want)
{
	uint64_t t0 = now_ns();

	while (pstatus(r).state != want) {
		if (now_ns() - t0 > PATIENCE_MS * 1000000ull)
			fail_msg("power never became %s; log:\n%s", vd_power_state_name(want), r->log);
		vd_loop_iterate(r->loop, 20);
	}
}

static void guest_connect(struct rig *r, struct vd_rig_guest *g)
{
	vd_rig_guest_open(g, r->sock, r->loop, r->log);
}

/*
 * START and play @periods periods with up to 4 in flight; every completion
 * must say OK and arrive once. *@first_ns (if set): START sent -> first
 * completion. Returns the completions (== @periods unless something hung).
 */
static unsigned fg_play(struct vd_rig_guest *g, unsigned periods, uint64_t *first_ns)
{
	unsigned queued = 0, done = 0;
	uint32_t id, len;
	uint64_t t0;

	for (; queued < 4 && queued < periods; queued++)
		assert_true(vd_rig_tx(g) >= 0);
	t0 = now_ns();
	if (vd_rig_pcm(g, VIRTIO_SND_R_PCM_START, 0) != VIRTIO_SND_S_OK)
		return 0;
	for (int idle = 0; done < periods && idle < 5000;) {
		if (vd_ff_vq_used(&g->ff, 2, &id, &len) == 1) {
			assert_int_equal(vd_rig_le32(vd_ff_host(&g->ff, g->area[id] + 4)), VIRTIO_SND_S_OK);
			if (done == 0 && first_ns)
				*first_ns = now_ns() - t0;
			done++;
			idle = 0;
			if (queued < periods) {
				assert_true(vd_rig_tx(g) >= 0);
				queued++;
			}
			continue;
		}
		g->wait(g->wait_arg, 1);
		idle++;
	}
	/* nothing more arrives: no period completes twice */
	for (int i = 0; i < 5; i++)
		g->wait(g->wait_arg, 2);
	assert_int_equal(vd_ff_vq_used(&g->ff, 2, &id, &len), 0);
	return done;
}

/* ---- the host WAV ---- */

/* Frees the guest and host (finalising the WAV) and reads it: frames, 2 channels. */
static int16_t *read_output(struct rig *r, sf_count_t *frames)
{
	SF_INFO info = { 0 };
	SNDFILE *sf;
	int16_t *w;

	vd_guest_free(r->guest);
	r->guest = NULL;
	vd_host_free(r->host);
	r->host = NULL;
	sf = sf_open(r->out, SFM_READ, &info);
	assert_non_null(sf);
	assert_int_equal(info.channels, 2);
	assert_int_equal(info.samplerate, 48000);
	w = malloc((size_t)info.frames * 4 + 4);
	assert_non_null(w);
	assert_int_equal(sf_readf_short(sf, w, info.frames), info.frames);
	sf_close(sf);
	*frames = info.frames;
	return w;
}

static bool silent(const int16_t *w, sf_count_t k)
{
	return w[k * 2] == 0 && w[k * 2 + 1] == 0;
}

/*
 * The output must be: silence, then for each segment i its frames of the
 * pattern (from seg_from[i], seg_len[i] frames) exactly, separated and
 * followed by silence only. The pattern is never silent on both channels,
 * so each segment starts at the first non-silent frame after the previous.
 */
static void check_segments(const int16_t *w, sf_count_t n, const uint64_t *seg_from, const uint64_t *seg_len,
			   unsigned nseg)
{
	sf_count_t pos = 0;

	for (unsigned s = 0; s < nseg; s++) {
		while (pos < n && silent(w, pos))
			pos++;
		if (pos + (sf_count_t)seg_len[s] > n)
			fail_msg("segment %u: starts at frame %ld, %llu frames, but the file has %ld", s,
				 (long)pos, (unsigned long long)seg_len[s], (long)n);
		for (uint64_t k = 0; k < seg_len[s]; k++)
			for (unsigned c = 0; c < 2; c++)
				if (w[(pos + (sf_count_t)k) * 2 + c] != vd_rig_pattern(seg_from[s] + k, c))
					fail_msg("segment %u frame %llu (file frame %ld) channel %u: %d, "
						 "expected %d", s, (unsigned long long)k, (long)(pos + (sf_count_t)k),
						 c, w[(pos + (sf_count_t)k) * 2 + c],
						 vd_rig_pattern(seg_from[s] + k, c));
		pos += (sf_count_t)seg_len[s];
	}
	for (; pos < n; pos++)
		if (!silent(w, pos))
			fail_msg("frame %ld after the last segment is not silent", (long)pos);
}

/* ---- tests ---- */

/* Connected but not playing is no user: suspended after the timeout, with
 * the processing thread gone, no cycles run, and the process's CPU near zero. */
static void test_idle_suspends_cpu_near_zero(void **state)
{
	struct rig *r = rig_new(IDLE_MS);
	struct vd_rig_guest g;
	struct vd_power_status st;
	uint64_t c0, c1, w0, w1, cyc0;
	int threads_active;

	(void)state;
	threads_active = count_threads();
	guest_connect(r, &g);
	st = pstatus(r);
	assert_int_equal(st.state, VD_POWER_IDLE);
	assert_int_equal(st.users[VD_POWER_USER_STREAM], 0);
	wait_for_state(r, VD_POWER_SUSPENDED);
	assert_true(vd_host_suspended(r->host));
	assert_non_null(strstr(r->log, "power: suspended"));
	/* the processing thread is gone, not sleeping */
	assert_int_equal(count_threads(), threads_active - 1);

	cyc0 = host_cycles(r);
	assert_true(cyc0 > 0);
	c0 = cpu_ns();
	w0 = now_ns();
	while (now_ns() - w0 < 1000000000ull)
		vd_loop_iterate(r->loop, 100);
	c1 = cpu_ns();
	w1 = now_ns();
	print_message("suspended: %.3f ms CPU over %.3f s wall (%.3f%%), %llu host cycles\n",
		      (c1 - c0) / 1e6, (w1 - w0) / 1e9, 100.0 * (double)(c1 - c0) / (double)(w1 - w0),
		      (unsigned long long)(host_cycles(r) - cyc0));
	assert_true((c1 - c0) * 50 < (w1 - w0));	/* < 2 % */
	assert_int_equal(host_cycles(r), cyc0);
	assert_int_equal(pstatus(r).state, VD_POWER_SUSPENDED);
	vd_ff_close(&g.ff);
	rig_free(r);
}

/* Play, go idle until suspended, play on: the START resumes the host before
 * the first period; both segments land in the WAV exactly, back to back in
 * the pattern, each period completed once. */
static void test_resume_on_start_no_lost_period(void **state)
{
	struct rig *r = rig_new(IDLE_MS);
	struct vd_rig_guest g;
	struct vd_power_status st;
	uint64_t first_warm = 0, first_resumed = 0;
	sf_count_t n;
	int16_t *w;

	(void)state;
	guest_connect(r, &g);
	assert_int_equal(vd_rig_prepare(&g, 0), VIRTIO_SND_S_OK);
	assert_int_equal(fg_play(&g, 30, &first_warm), 30);
	st = pstatus(r);
	assert_int_equal(st.state, VD_POWER_ACTIVE);
	assert_int_equal(st.users[VD_POWER_USER_STREAM], 1);
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_OK);
	assert_int_equal(pstatus(r).users[VD_POWER_USER_STREAM], 0);
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_RELEASE, 0), VIRTIO_SND_S_OK);
	wait_for_state(r, VD_POWER_SUSPENDED);

	/* PREPARE while suspended does not wake it: only START does */
	assert_int_equal(vd_rig_prepare(&g, 0), VIRTIO_SND_S_OK);
	assert_int_equal(pstatus(r).state, VD_POWER_SUSPENDED);
	assert_int_equal(fg_play(&g, 30, &first_resumed), 30);
	st = pstatus(r);
	assert_int_equal(st.state, VD_POWER_ACTIVE);
	assert_int_equal(st.resumes, 1);
	assert_false(vd_host_suspended(r->host));
	print_message("first period after START: %.3f ms running, %.3f ms from suspended (resume itself "
		      "%.3f ms)\n", first_warm / 1e6, first_resumed / 1e6, st.last_resume_ns / 1e6);
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_OK);
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_RELEASE, 0), VIRTIO_SND_S_OK);
	vd_ff_close(&g.ff);

	w = read_output(r, &n);
	check_segments(w, n, (const uint64_t[]){ 0, 30 * VD_RIG_PERIOD_FRAMES },
		       (const uint64_t[]){ 30 * VD_RIG_PERIOD_FRAMES, 30 * VD_RIG_PERIOD_FRAMES }, 2);
	free(w);
	rig_free(r);
}

/* A guest killed mid-stream (no STOP, no RELEASE): its stream stops counting
 * as the connection drops, and the daemon goes on to suspend. */
static void test_killed_guest_releases_its_users(void **state)
{
	struct rig *r = rig_new(IDLE_MS);
	struct vd_rig_guest g;

	(void)state;
	for (int round = 0; round < 2; round++) {
		guest_connect(r, &g);
		assert_int_equal(vd_rig_prepare(&g, 0), VIRTIO_SND_S_OK);
		assert_int_equal(fg_play(&g, 5, NULL), 5);
		assert_true(vd_rig_tx(&g) >= 0);
		assert_int_equal(pstatus(r).users[VD_POWER_USER_STREAM], 1);
		r->log[0] = '\0';
		vd_ff_close(&g.ff);
		for (int i = 0; i < 200 && !strstr(r->log, "disconnected"); i++)
			vd_loop_iterate(r->loop, 10);
		assert_non_null(strstr(r->log, "vm: disconnected (the connection was closed)"));
		assert_int_equal(pstatus(r).users[VD_POWER_USER_STREAM], 0);
		assert_int_equal(pstatus(r).state, VD_POWER_IDLE);
		wait_for_state(r, VD_POWER_SUSPENDED);
		assert_int_equal(pstatus(r).suspends, (uint64_t)round + 1);
	}
	rig_free(r);
}

enum reset_kind {
	RESET_STOP_DEVICE,	/* SET_STATUS 0, SET_VRING_ENABLE 0, GET_VRING_BASE (QEMU's vhost_dev_stop) */
	RESET_DEVICE,		/* VHOST_USER_RESET_DEVICE, then the rings set up anew */
};

/*
 * Linux's freeze/restore (sound/virtio: virtsnd_freeze resets the device,
 * virtsnd_restore sets the queues up again, the PCM's next prepare sends
 * SET_PARAMS and PREPARE again): play, STOP, a period queued but never
 * started, reset WITHOUT RELEASE, stay away past the idle timeout, then
 * SET_PARAMS, PREPARE, START and play on. The queued period completes at
 * most once (GET_VRING_BASE: once; RESET_DEVICE: the guest forgot it) and is
 * never played; the output is the two played segments, exact; the stream's
 * user went away with the reset and came back with the START.
 */
static void guest_suspend_resume(enum reset_kind kind)
{
	struct rig *r = rig_new(IDLE_MS);
	struct vd_rig_guest g;
	uint16_t bases[4];
	uint32_t id, len;
	unsigned used_after = 0;
	uint64_t skipped_from;
	sf_count_t n;
	int16_t *w;

	guest_connect(r, &g);
	assert_int_equal(vd_rig_prepare(&g, 0), VIRTIO_SND_S_OK);
	assert_int_equal(fg_play(&g, 25, NULL), 25);
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_OK);
	skipped_from = g.next_frame;
	assert_true(vd_rig_tx(&g) >= 0);	/* held: the stream is stopped */
	for (int i = 0; i < 5; i++)
		vd_loop_iterate(r->loop, 5);
	assert_int_equal(vd_ff_vq_used(&g.ff, 2, &id, &len), 0);

	if (kind == RESET_STOP_DEVICE) {
		if (vd_ff_stop(&g.ff, bases) < 0)
			fail_msg("stop: %s; daemon: %s", g.ff.err, r->log);
		/* GET_VRING_BASE completes what the queue held, once */
		while (vd_ff_vq_used(&g.ff, 2, &id, &len) == 1)
			used_after++;
		assert_int_equal(used_after, 1);
	} else {
		assert_true(g.ff.protocol >> VD_VHOST_PF_RESET_DEVICE & 1);
		if (vd_ff_request(&g.ff, VD_VHOST_REQ_RESET_DEVICE, 0, NULL, 0, NULL, 0, NULL, 0, NULL) < 0)
			fail_msg("reset: %s; daemon: %s", g.ff.err, r->log);
		assert_int_equal(vd_ff_vq_used(&g.ff, 2, &id, &len), 0);
	}
	assert_int_equal(pstatus(r).users[VD_POWER_USER_STREAM], 0);
	/* the frozen guest stays away past the timeout */
	wait_for_state(r, VD_POWER_SUSPENDED);

	/* restore: new rings, the same connection */
	for (unsigned q = 0; q < 4; q++)
		assert_int_equal(vd_ff_vq_alloc(&g.ff, q, VD_RIG_QSIZE), 0);
	if (vd_ff_start(&g.ff, VD_RIG_FEATURES, VD_RIG_QSIZE, NULL) < 0)
		fail_msg("restart: %s; daemon: %s", g.ff.err, r->log);
	assert_int_equal(pstatus(r).state, VD_POWER_SUSPENDED);
	/* START without parameters is refused: the reset forgot them */
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(pstatus(r).state, VD_POWER_SUSPENDED);
	assert_int_equal(vd_rig_prepare(&g, 0), VIRTIO_SND_S_OK);
	assert_int_equal(fg_play(&g, 25, NULL), 25);
	assert_int_equal(pstatus(r).users[VD_POWER_USER_STREAM], 1);
	assert_int_equal(pstatus(r).resumes, 1);
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_OK);
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_RELEASE, 0), VIRTIO_SND_S_OK);
	assert_int_equal(pstatus(r).users[VD_POWER_USER_STREAM], 0);
	assert_null(strstr(r->log, "disconnected"));
	vd_ff_close(&g.ff);

	w = read_output(r, &n);
	check_segments(w, n, (const uint64_t[]){ 0, skipped_from + VD_RIG_PERIOD_FRAMES },
		       (const uint64_t[]){ 25 * VD_RIG_PERIOD_FRAMES, 25 * VD_RIG_PERIOD_FRAMES }, 2);
	free(w);
	rig_free(r);
}

static void test_guest_suspend_resume_stop_device(void **state)
{
	(void)state;
	guest_suspend_resume(RESET_STOP_DEVICE);
}

static void test_guest_suspend_resume_reset_device(void **state)
{
	(void)state;
	guest_suspend_resume(RESET_DEVICE);
}

/* A reset while the stream RUNS (a guest that froze without its SUSPEND
 * trigger, or a crashed driver): the user goes away with the reset. */
static void test_reset_while_running_gives_the_user_back(void **state)
{
	struct rig *r = rig_new(0);	/* never suspends: only the counts matter here */
	struct vd_rig_guest g;
	uint16_t bases[4];

	(void)state;
	guest_connect(r, &g);
	assert_int_equal(vd_rig_prepare(&g, 0), VIRTIO_SND_S_OK);
	assert_int_equal(fg_play(&g, 3, NULL), 3);
	assert_int_equal(pstatus(r).users[VD_POWER_USER_STREAM], 1);
	if (vd_ff_stop(&g.ff, bases) < 0)
		fail_msg("stop: %s", g.ff.err);
	assert_int_equal(pstatus(r).users[VD_POWER_USER_STREAM], 0);
	assert_int_equal(pstatus(r).state, VD_POWER_IDLE);
	for (unsigned q = 0; q < 4; q++)
		assert_int_equal(vd_ff_vq_alloc(&g.ff, q, VD_RIG_QSIZE), 0);
	assert_int_equal(vd_ff_start(&g.ff, VD_RIG_FEATURES, VD_RIG_QSIZE, NULL), 0);
	assert_int_equal(vd_rig_prepare(&g, 0), VIRTIO_SND_S_OK);
	assert_int_equal(fg_play(&g, 3, NULL), 3);
	assert_int_equal(pstatus(r).users[VD_POWER_USER_STREAM], 1);
	if (vd_ff_request(&g.ff, VD_VHOST_REQ_RESET_DEVICE, 0, NULL, 0, NULL, 0, NULL, 0, NULL) < 0)
		fail_msg("reset: %s; daemon: %s", g.ff.err, r->log);
	assert_int_equal(pstatus(r).users[VD_POWER_USER_STREAM], 0);
	/* a START twice counts once; STOP gives it back once */
	for (unsigned q = 0; q < 4; q++)
		assert_int_equal(vd_ff_vq_alloc(&g.ff, q, VD_RIG_QSIZE), 0);
	if (vd_ff_start(&g.ff, VD_RIG_FEATURES, VD_RIG_QSIZE, NULL) < 0)
		fail_msg("restart: %s; daemon: %s", g.ff.err, r->log);
	assert_int_equal(vd_rig_prepare(&g, 0), VIRTIO_SND_S_OK);
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	assert_int_equal(pstatus(r).users[VD_POWER_USER_STREAM], 1);
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_OK);
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(pstatus(r).users[VD_POWER_USER_STREAM], 0);
	/* and freeing the daemon's guest with a running stream gives it back too */
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	assert_int_equal(pstatus(r).users[VD_POWER_USER_STREAM], 1);
	vd_guest_free(r->guest);
	r->guest = NULL;
	assert_int_equal(pstatus(r).users[VD_POWER_USER_STREAM], 0);
	vd_ff_close(&g.ff);
	rig_free(r);
}


/* A host topology playing to an ALSA device (alsa-lib's file plugin over
 * the null PCM, which writes its file anew when opened): the suspend closes
 * the device and the resume opens it again with the negotiated setup, so the
 * file holds exactly what was played after the resume. */
static void test_alsa_sink_closes_and_reopens(void **state)
{
	static const char topo[] =
		"pipeline host {\n"
		"    rate = 48000\n"
		"    period = 2ms\n"
		"    attach playback playback { channels = 2 }\n"
		"    sink   out      alsa     { device = \"file:FILE=%s/alsa.raw,FORMAT=raw\"; format = s16 }\n"
		"    link playback -> out\n"
		"    node   in       tone     { wave = sine; freq = 440Hz; level = -20dB; channels = 2 }\n"
		"    attach capture  capture  { channels = 2 }\n"
		"    link in -> capture\n"
		"}\n";
	struct rig *r = rig_new_topo(IDLE_MS, topo);
	struct vd_rig_guest g;
	char path[600];
	FILE *f;
	long bytes;
	int16_t *w;

	(void)state;
	snprintf(path, sizeof(path), "%s/alsa.raw", r->dir);
	guest_connect(r, &g);
	assert_int_equal(vd_rig_prepare(&g, 0), VIRTIO_SND_S_OK);
	assert_int_equal(fg_play(&g, 20, NULL), 20);
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_OK);
	wait_for_state(r, VD_POWER_SUSPENDED);
	/* closed: what the first segment left is in the file */
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	assert_true(ftell(f) >= 20 * VD_RIG_PERIOD_BYTES);
	fclose(f);

	assert_int_equal(fg_play(&g, 20, NULL), 20);
	assert_int_equal(pstatus(r).resumes, 1);
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_OK);
	assert_int_equal(vd_rig_pcm(&g, VIRTIO_SND_R_PCM_RELEASE, 0), VIRTIO_SND_S_OK);
	vd_ff_close(&g.ff);
	vd_guest_free(r->guest);
	r->guest = NULL;
	vd_host_free(r->host);
	r->host = NULL;

	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	bytes = ftell(f);
	fseek(f, 0, SEEK_SET);
	w = malloc((size_t)bytes + 4);
	assert_non_null(w);
	assert_int_equal(fread(w, 1, (size_t)bytes, f), (size_t)bytes);
	fclose(f);
	/* only the second segment: the pattern from frame 20 periods on, exact */
	check_segments(w, bytes / 4, (const uint64_t[]){ 20 * VD_RIG_PERIOD_FRAMES },
		       (const uint64_t[]){ 20 * VD_RIG_PERIOD_FRAMES }, 1);
	free(w);
	rig_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_suspends_cpu_near_zero),
		cmocka_unit_test(test_resume_on_start_no_lost_period),
		cmocka_unit_test(test_killed_guest_releases_its_users),
		cmocka_unit_test(test_guest_suspend_resume_stop_device),
		cmocka_unit_test(test_guest_suspend_resume_reset_device),
		cmocka_unit_test(test_reset_while_running_gives_the_user_back),
		cmocka_unit_test(test_alsa_sink_closes_and_reopens),
	};

	if (getenv("VD_TEST_FILTER"))
		cmocka_set_test_filter(getenv("VD_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
