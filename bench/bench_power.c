/* bench/bench_power.c - what suspending buys and what resuming costs in
 * `virtdsp serve`: the daemon's CPU while idle with its processing thread
 * running (the peer: --idle-timeout 0) and while suspended; and a guest
 * stream's first period, START to its first completion, on a running engine
 * (the peer) and on a suspended one, with the resume itself (the hooks:
 * reopen devices, restart the thread) timed apart. The daemon's loop, the
 * built-in host topology (2 ms period, a WAV sink) and one fake guest
 * (tests/vhost/fake_frontend) in this process; docs/bench.md, "bench_power".
 *
 * usage: bench_power [ROUNDS]   (default 15; pin it: taskset -c 1) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/guest.h"
#include "daemon/host.h"
#include "daemon/loop.h"
#include "daemon/power.h"
#include "fake_frontend.h"
#include "virtio_snd/proto.h"

#define QSIZE 64
#define FEATURES ((1ull << VD_VHOST_F_VERSION_1) | (1ull << VD_VHOST_F_INDIRECT_DESC) | \
		  (1ull << VD_VHOST_F_EVENT_IDX))
#define PERIOD_BYTES 1920	/* 10 ms of S16 stereo at 48 kHz */
#define IDLE_MS 100
#define MAX_ROUNDS 200

struct rig {
	char dir[64], sock[128], out[128];
	struct vd_host *host;
	struct vd_loop *loop;
	struct vd_power *power;
	struct vd_guest *guest;
	struct vd_ff ff;
	uint64_t req, resp, area[QSIZE];
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

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void quiet(void *data, const char *line)
{
	(void)data;
	if (getenv("VD_BENCH_VERBOSE"))
		fprintf(stderr, "  [daemon] %s\n", line);
}

static int pump(void *arg)
{
	struct rig *r = arg;

	for (int i = 0; i < 64; i++)
		if (vd_loop_iterate(r->loop, 0) <= 0)
			break;
	return 0;
}

static uint32_t ctl(struct rig *r, const void *req, uint32_t len)
{
	struct vd_ff_buf b[2] = { { r->req, len, false }, { r->resp, 64, true } };
	uint32_t id, used;

	memcpy(vd_ff_host(&r->ff, r->req), req, len);
	if (vd_ff_vq_add(&r->ff, 0, b, 2, false) < 0)
		return 0;
	vd_ff_kick(&r->ff, 0);
	for (int t = 0; t < 5000; t++) {
		if (vd_ff_vq_used(&r->ff, 0, &id, &used) == 1)
			return le32(vd_ff_host(&r->ff, r->resp));
		vd_loop_iterate(r->loop, 1);
	}
	return 0;
}

static uint32_t pcm(struct rig *r, uint32_t code)
{
	uint8_t req[8] = { 0 };

	put32(req, code);
	return ctl(r, req, 8);
}

static int prepare(struct rig *r)
{
	uint8_t req[24] = { 0 };

	put32(req, VIRTIO_SND_R_PCM_SET_PARAMS);
	put32(req + 8, 4 * PERIOD_BYTES);
	put32(req + 12, PERIOD_BYTES);
	req[20] = 2;
	req[21] = VIRTIO_SND_PCM_FMT_S16;
	req[22] = VIRTIO_SND_PCM_RATE_48000;
	if (ctl(r, req, 24) != VIRTIO_SND_S_OK || pcm(r, VIRTIO_SND_R_PCM_PREPARE) != VIRTIO_SND_S_OK)
		return -1;
	return 0;
}

static void tx(struct rig *r)
{
	uint64_t base = r->area[r->ff.vq[2].next_desc];
	struct vd_ff_buf b[3] = {
		{ base, 4, false }, { base + 12, PERIOD_BYTES, false }, { base + 4, 8, true },
	};

	put32(vd_ff_host(&r->ff, base), 0);
	if (vd_ff_vq_add(&r->ff, 2, b, 3, true) >= 0)
		vd_ff_kick(&r->ff, 2);
}

/* Queue 4 periods, START, time the first completion, play 5 in all, STOP, RELEASE.
 * Returns START -> first completion in ns, 0 on failure. */
static uint64_t play_round(struct rig *r)
{
	uint64_t t0, first = 0;
	unsigned done = 0, queued = 4;
	uint32_t id, len;

	if (prepare(r) < 0) {
		fprintf(stderr, "bench_power: SET_PARAMS/PREPARE failed\n");
		return 0;
	}
	for (int i = 0; i < 4; i++)
		tx(r);
	t0 = now_ns();
	if (pcm(r, VIRTIO_SND_R_PCM_START) != VIRTIO_SND_S_OK) {
		fprintf(stderr, "bench_power: START failed\n");
		return 0;
	}
	for (int idle = 0; done < 5 && idle < 5000;) {
		if (vd_ff_vq_used(&r->ff, 2, &id, &len) == 1) {
			if (!done)
				first = now_ns() - t0;
			done++;
			idle = 0;
			if (queued < 5) {
				tx(r);
				queued++;
			}
			continue;
		}
		/* poll finely: the figure is the first completion's time */
		vd_loop_iterate(r->loop, 0);
		struct timespec ts = { 0, 50000 };
		nanosleep(&ts, NULL);
		idle++;
	}
	pcm(r, VIRTIO_SND_R_PCM_STOP);
	pcm(r, VIRTIO_SND_R_PCM_RELEASE);
	return done == 5 ? first : 0;
}

static enum vd_power_state state(struct rig *r)
{
	struct vd_power_status st;

	vd_power_status(r->power, &st);
	return st.state;
}

static int rig_new(struct rig *r, uint64_t idle_ms)
{
	struct vd_diag diag = { 0 };
	struct vd_host_path out = { "out", NULL };
	struct vd_host_options ho = { .paths = &out, .n_paths = 1 };
	struct vd_guest_config gc = { .name = "vm" };
	struct vd_power_hooks ph;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char err[512];
	int fd;

	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "/tmp/vd-bench-power-XXXXXX");
	if (!mkdtemp(r->dir))
		return -errno;
	snprintf(r->sock, sizeof(r->sock), "%s/vm.sock", r->dir);
	snprintf(r->out, sizeof(r->out), "%s/out.wav", r->dir);
	out.path = r->out;
	gc.socket = r->sock;
	if (vd_host_new(&ho, &r->host, &diag, err, sizeof(err)) < 0 || vd_loop_new(&r->loop) < 0) {
		fprintf(stderr, "bench_power: host: %s\n", err);
		return -1;
	}
	vd_host_power_hooks(r->host, quiet, NULL, r, &ph);
	if (vd_power_new(r->loop, idle_ms, &ph, &r->power) < 0)
		return -1;
	gc.power = r->power;
	if (vd_guest_new(r->loop, vd_host_graph(r->host), &gc, quiet, r, &r->guest, &diag, err, sizeof(err)) < 0 ||
	    vd_host_start(r->host) < 0) {
		fprintf(stderr, "bench_power: guest: %s\n", err);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memcpy(sa.sun_path, r->sock, strlen(r->sock) + 1);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	pump(r);
	vd_ff_init(&r->ff, fd, 4, pump, r);
	if (vd_ff_add_region(&r->ff, 0, 16u << 20, 0) < 0 || vd_ff_handshake(&r->ff, 16) < 0 ||
	    vd_ff_start(&r->ff, FEATURES, QSIZE, NULL) < 0) {
		fprintf(stderr, "bench_power: front-end: %s\n", r->ff.err);
		return -1;
	}
	r->req = vd_ff_alloc(&r->ff, 4096, 16);
	r->resp = vd_ff_alloc(&r->ff, 4096, 16);
	for (unsigned i = 0; i < QSIZE; i++)
		r->area[i] = vd_ff_alloc(&r->ff, 12 + PERIOD_BYTES, 64);
	return 0;
}

static void rig_free(struct rig *r)
{
	vd_ff_close(&r->ff);
	vd_guest_free(r->guest);
	vd_power_free(r->power);
	vd_host_free(r->host);
	vd_loop_free(r->loop);
	unlink(r->out);
	unlink(r->sock);
	rmdir(r->dir);
}

/* The process's CPU share over @ms of running the loop (nothing to do but the timers). */
static double cpu_share(struct rig *r, unsigned ms)
{
	uint64_t c0 = cpu_ns(), w0 = now_ns();

	while (now_ns() - w0 < ms * 1000000ull)
		vd_loop_iterate(r->loop, 50);
	return (double)(cpu_ns() - c0) / (double)(now_ns() - w0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void summary(const char *what, uint64_t *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("  %-38s min %7.3f  p50 %7.3f  p90 %7.3f  max %7.3f ms\n", what, v[0] / 1e6,
	       v[n / 2] / 1e6, v[(n * 9) / 10] / 1e6, v[n - 1] / 1e6);
}

int main(int argc, char **argv)
{
	unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 15;
	static uint64_t warm[MAX_ROUNDS], cold[MAX_ROUNDS], resume[MAX_ROUNDS];
	struct rig r;
	double idle_running, idle_suspended;
	uint64_t p50w, p50c;

	if (rounds < 3 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: bench_power [ROUNDS 3..%d]\n", MAX_ROUNDS);
		return 2;
	}
	printf("bench_power: built-in host topology (2 ms period, WAV sink), one fake guest, "
	       "10 ms periods; %u rounds\n", rounds);

	/* the peer: a daemon that never suspends */
	if (rig_new(&r, 0) < 0)
		return 1;
	idle_running = cpu_share(&r, 2000);
	for (unsigned i = 0; i < rounds; i++) {
		warm[i] = play_round(&r);
		if (!warm[i]) {
			fprintf(stderr, "bench_power: a warm round failed\n");
			return 1;
		}
	}
	rig_free(&r);

	if (rig_new(&r, IDLE_MS) < 0)
		return 1;
	for (unsigned i = 0; i < rounds; i++) {
		struct vd_power_status st;
		uint64_t t0 = now_ns();

		while (state(&r) != VD_POWER_SUSPENDED && now_ns() - t0 < 10000000000ull)
			vd_loop_iterate(r.loop, 20);
		if (state(&r) != VD_POWER_SUSPENDED) {
			fprintf(stderr, "bench_power: never suspended\n");
			return 1;
		}
		if (i == 0)
			idle_suspended = cpu_share(&r, 2000);
		cold[i] = play_round(&r);
		vd_power_status(r.power, &st);
		resume[i] = st.last_resume_ns;
		if (!cold[i] || st.resumes != i + 1) {
			fprintf(stderr, "bench_power: round %u from suspended failed (first completion %llu ns, %llu resumes)\n", i, (unsigned long long)cold[i], (unsigned long long)st.resumes);
			return 1;
		}
	}
	rig_free(&r);

	printf("idle daemon CPU (share of one core, 2 s each):\n");
	printf("  running (--idle-timeout 0, the peer)   %7.3f %%\n", 100 * idle_running);
	printf("  suspended                              %7.3f %%   (%.0fx less)\n", 100 * idle_suspended,
	       idle_suspended > 0 ? idle_running / idle_suspended : 0.0);
	printf("START -> first completion (10 ms period, 4 queued):\n");
	summary("engine running (the peer)", warm, rounds);
	p50w = warm[rounds / 2];
	summary("engine suspended (resumed by START)", cold, rounds);
	p50c = cold[rounds / 2];
	summary("  of which the resume itself", resume, rounds);
	printf("  ratio of medians, suspended / running: %.2f\n", (double)p50c / (double)p50w);
	return 0;
}
