/* bench/bench_serve.c - guests served per core: host CPU per 48 kHz stereo
 * guest stream, the number of concurrent streams one core runs without a
 * late period, and period-completion jitter, with fake front-ends driving
 * virtio-snd devices on a live host graph under the real-time scheduler;
 * beside it, the same playback through QEMU's built-in virtio-sound-pci in a
 * real guest (the peer). docs/bench.md explains the method and the output.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <virtdsp/attach.h>
#include <virtdsp/sched.h>
#include <virtdsp/topology.h>

#include "serve_guest.h"
#include "serve_peer.h"

#define MAX_STEPS 32
#define MAX_PAUSES 1024
#define MAX_VARIANTS 2

/* Targets of issue 4. */
#define TARGET_STREAMS 64
#define TARGET_JITTER_P99_MS 1.0

struct variant {
	const char *name, *label;
	uint32_t rate, period_frames;	/* 10 ms periods */
};

static const struct variant variants[MAX_VARIANTS] = {
	{ "48k", "S16 48 kHz", 48000, 480 },
	{ "44.1k", "S16 44.1 kHz (src)", 44100, 441 },
};

struct options {
	int full;
	unsigned ramp[MAX_STEPS], n_ramp, max_streams;
	double seconds, warmup, host_period_ms, peer_seconds;
	int cpu, guest_cpu, priority, guest_priority;
	unsigned periods;
	bool variant[MAX_VARIANTS];
	int peer;		/* -1 auto, 0 no, 1 yes */
	double stall_seconds;	/* 0: no stall attribution */
	const char *peer_out;
};

struct step {
	unsigned n;
	double wall_s, cpu_s;		/* window: wall time, RT thread CPU time */
	uint64_t cycles, late, max_cycle_ns, max_wake_ns;
	uint64_t cpu_cycles, cpu_over;	/* cycles seen by the clock feed; those over the period in CPU time */
	double cpu_p99_ms, cpu_max_ms;	/* one cycle's CPU time */
	double steal_ms;		/* the scheduler CPU's steal time over the window */
	uint64_t stalls;		/* gaps of over 2 periods between cycles (wall clock) */
	double stall_max_ms;
	bool realtime;
	struct serve_fleet_counters c;
	struct serve_timing t;
	struct serve_timing tq;		/* without VM pauses nor slow cycles */
	unsigned slow;			/* cycles over half a period of CPU */
	double setup_s;
	/* stalls of the witness threads in the window: the CPU was gone, not the scheduler */
	uint64_t pauses;		/* on the scheduler's CPU */
	double pause_max_ms;
	unsigned covered;		/* scheduler stalls inside one of them */
	uint64_t pause_from[MAX_PAUSES], pause_to[MAX_PAUSES];
	unsigned n_pause;		/* both CPUs' */
	char desc[256];
	int error;
	char err[256];
};

/* ---- the host graph: an attach point mixed into a null sink ---- */

static const char *host_topology_fmt =
	"pipeline host {\n"
	"  rate = 48000\n"
	"  period = %u\n"
	"  attach playback playback { channels = 2 }\n"
	"  sink out null\n"
	"  link playback -> out\n"
	"  source quiet silence { duration = 1000000s }\n"
	"  attach capture capture { channels = 2 }\n"
	"  link quiet -> capture\n"
	"}\n";

/* A feed on the capture point: it runs on the processing thread once per
 * cycle, which is where that thread's CPU clock can be taken, and where the
 * CPU time of each whole cycle (processing, the sleep's system calls) shows.
 * A cycle whose CPU time exceeds the period is late on any machine of this
 * speed; one that is late by the wall clock with less CPU than that was
 * kept off the CPU (another process, the hypervisor). */
#define HIST_BIN_NS 10000
#define HIST_BINS 1000
#define STALL_LOG 512
#define SLOW_LOG 512	/* cycles of the window whose CPU time passed half a period */

struct clock_feed {
	_Atomic int have;
	clockid_t clk;
	uint64_t period_ns;
	uint64_t last, last_wall;	/* processing thread only */
	_Atomic bool window;
	_Atomic uint64_t n, over, max_ns;
	_Atomic uint64_t stalls, stall_max_ns;	/* wall-clock gaps between cycles over 2 periods */
	_Atomic uint32_t hist[HIST_BINS];
	/* stall attribution (--stalls): the thread's rusage per cycle, each stall's span */
	bool rusage;
	long last_nivcsw, last_majflt, last_minflt;
	_Atomic uint64_t stall_invol, stall_majflt, stall_minflt;	/* stalls with that in their gap */
	_Atomic uint64_t win_invol, win_majflt, win_minflt;	/* in the whole window */
	uint64_t stall_from[STALL_LOG], stall_to[STALL_LOG];
	_Atomic unsigned n_stall_log;
	/* the slow cycles' wall spans (end minus its CPU time, end), to tell which
	 * completion intervals they touched */
	uint64_t slow_from[SLOW_LOG], slow_to[SLOW_LOG];
	_Atomic unsigned n_slow;
};

static void clock_push(void *data, const void *src, uint32_t frames)
{
	struct clock_feed *c = data;
	struct timespec ts;
	uint64_t now, d, gap;

	if (!atomic_load_explicit(&c->have, memory_order_relaxed) &&
	    pthread_getcpuclockid(pthread_self(), &c->clk) == 0)
		atomic_store_explicit(&c->have, 1, memory_order_release);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	gap = now - c->last_wall;
	c->last_wall = now;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	d = now - c->last;
	c->last = now;
	if (d > c->period_ns / 2 && atomic_load_explicit(&c->window, memory_order_relaxed)) {
		unsigned k = atomic_load_explicit(&c->n_slow, memory_order_relaxed);

		if (k < SLOW_LOG) {
			c->slow_to[k] = c->last_wall;
			c->slow_from[k] = c->last_wall - d;
			atomic_store_explicit(&c->n_slow, k + 1, memory_order_release);
		}
	}
	long invol = 0, majflt = 0, minflt = 0;
	if (c->rusage) {
		struct rusage ru;

		if (getrusage(RUSAGE_THREAD, &ru) == 0) {
			invol = ru.ru_nivcsw - c->last_nivcsw;
			majflt = ru.ru_majflt - c->last_majflt;
			minflt = ru.ru_minflt - c->last_minflt;
			c->last_nivcsw = ru.ru_nivcsw;
			c->last_majflt = ru.ru_majflt;
			c->last_minflt = ru.ru_minflt;
		}
	}
	if (!atomic_load_explicit(&c->window, memory_order_relaxed))
		return;
	atomic_fetch_add_explicit(&c->win_invol, (uint64_t)invol, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->win_majflt, (uint64_t)majflt, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->win_minflt, (uint64_t)minflt, memory_order_relaxed);
	if (gap > 2 * c->period_ns) {
		unsigned k = atomic_load_explicit(&c->n_stall_log, memory_order_relaxed);

		if (k < STALL_LOG) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			c->stall_to[k] = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
			c->stall_from[k] = c->stall_to[k] - gap;
			atomic_store_explicit(&c->n_stall_log, k + 1, memory_order_release);
		}
		if (invol > 0)
			atomic_fetch_add_explicit(&c->stall_invol, 1, memory_order_relaxed);
		if (majflt > 0)
			atomic_fetch_add_explicit(&c->stall_majflt, 1, memory_order_relaxed);
		if (minflt > 0)
			atomic_fetch_add_explicit(&c->stall_minflt, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&c->stalls, 1, memory_order_relaxed);
		if (gap > atomic_load_explicit(&c->stall_max_ns, memory_order_relaxed))
			atomic_store_explicit(&c->stall_max_ns, gap, memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&c->n, 1, memory_order_relaxed);
	if (d > c->period_ns)
		atomic_fetch_add_explicit(&c->over, 1, memory_order_relaxed);
	if (d > atomic_load_explicit(&c->max_ns, memory_order_relaxed))
		atomic_store_explicit(&c->max_ns, d, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->hist[d / HIST_BIN_NS < HIST_BINS ? d / HIST_BIN_NS : HIST_BINS - 1], 1,
				  memory_order_relaxed);
}

/* Upper edge of the bin holding percentile @p of the cycles' CPU times, ms. */
static double clock_pct(struct clock_feed *c, double p)
{
	uint64_t n = atomic_load(&c->n), want = (uint64_t)ceil(p * (double)n), acc = 0;

	for (unsigned i = 0; i < HIST_BINS && n; i++) {
		acc += atomic_load(&c->hist[i]);
		if (acc >= want)
			return (i + 1) * HIST_BIN_NS / 1e6;
	}
	return NAN;
}

static const struct vd_feed_ops clock_ops = { .push = clock_push };

static void diag_cb(void *data, const struct vd_error *e)
{
	char line[512];

	fprintf(stderr, "bench_serve: host topology: %s\n", vd_error_format(e, line, sizeof(line)));
}

static int host_new(uint32_t period, struct vd_graph **g, struct vd_topology **t)
{
	char text[1024];
	struct vd_diag diag = { .report = diag_cb };
	int r;

	snprintf(text, sizeof(text), host_topology_fmt, period);
	r = vd_topology_load_string(text, strlen(text), "bench-host.topo", t, &diag);
	if (r < 0)
		return r;
	r = vd_graph_new(g);
	if (r < 0) {
		vd_topology_free(*t);
		return r;
	}
	vd_graph_set_live(*g, true);
	r = vd_topology_build(*t, *g, &diag);
	if (r < 0) {
		vd_graph_free(*g);
		vd_topology_free(*t);
	}
	return r;
}

/* ---- helpers ---- */

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double clock_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - floor(s)) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int pin_self(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void loadavg(double l[3])
{
	if (getloadavg(l, 3) != 3)
		l[0] = l[1] = l[2] = NAN;
}

static void cpu_model(char *out, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(out, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10)) {
			char *p = strchr(line, ':'), *nl = strchr(line, '\n');

			if (nl)
				*nl = '\0';
			if (p)
				snprintf(out, len, "%s", p + 2);
			break;
		}
	fclose(f);
}

/* Steal time of @cpu so far (ms): time the hypervisor ran something else on it. */
static double steal_ms(int cpu)
{
	FILE *f = fopen("/proc/stat", "r");
	char line[512], want[16];
	unsigned long long v[8] = { 0 };
	double r = NAN;

	if (!f)
		return r;
	snprintf(want, sizeof(want), "cpu%d ", cpu);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, want, strlen(want)) &&
		    sscanf(line + strlen(want), "%llu %llu %llu %llu %llu %llu %llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
			r = v[7] * 1000.0 / (double)sysconf(_SC_CLK_TCK);
			break;
		}
	fclose(f);
	return r;
}

/* A witness is a SCHED_FIFO 99 thread that only wakes every period on an
 * absolute deadline and logs its own gaps of over 1.5 periods. Nothing in
 * this process outranks it; when it misses its wake-up on a CPU at the same
 * time as the scheduler's thread, the CPU itself was gone (the hypervisor
 * ran another vCPU, or the kernel did not let go), not our thread. */
struct witness {
	int cpu;
	uint64_t period_ns;
	pthread_t thread;
	_Atomic bool stop;
	bool realtime;
	uint64_t from[STALL_LOG], to[STALL_LOG];
	unsigned n;
	uint64_t total, max_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *witness_thread(void *arg)
{
	struct witness *w = arg;
	struct sched_param sp = { .sched_priority = 99 };
	uint64_t next, prev;

	pin_self(w->cpu);
	w->realtime = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
	next = prev = now_ns();
	while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
		uint64_t t = now_ns();

		if (2 * (t - prev) > 3 * w->period_ns) {
			if (w->n < STALL_LOG) {
				w->from[w->n] = prev;
				w->to[w->n++] = t;
			}
			w->total++;
			if (t - prev > w->max_ns)
				w->max_ns = t - prev;
		}
		prev = t;
		next += w->period_ns;
		if (next < t)
			next = t + w->period_ns;
		struct timespec ts = { (time_t)(next / 1000000000ull), (long)(next % 1000000000ull) };
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
	return NULL;
}

/* Stalls of @c at least half covered by one of @w's. */
static unsigned covered(const struct clock_feed *c, unsigned n, const struct witness *w)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < w->n; j++) {
			uint64_t a = c->stall_from[i] > w->from[j] ? c->stall_from[i] : w->from[j];
			uint64_t b = c->stall_to[i] < w->to[j] ? c->stall_to[i] : w->to[j];

			if (b > a && 2 * (b - a) >= c->stall_to[i] - c->stall_from[i]) {
				k++;
				break;
			}
		}
	return k;
}

/* Witnesses on the scheduler's CPU and the guests' (a pause of the whole VM stops both). */
static int witnesses_start(const struct options *o, uint64_t period_ns, struct witness w[2])
{
	int nw = 0;

	memset(w, 0, 2 * sizeof(*w));
	w[nw++].cpu = o->cpu;
	if (o->guest_cpu >= 0 && o->guest_cpu != o->cpu)
		w[nw++].cpu = o->guest_cpu;
	for (int i = 0; i < nw; i++) {
		w[i].period_ns = period_ns;
		if (pthread_create(&w[i].thread, NULL, witness_thread, &w[i]) != 0)
			return i;
	}
	return nw;
}

static void witnesses_stop(struct witness *w, int nw)
{
	for (int i = 0; i < nw; i++) {
		atomic_store(&w[i].stop, true);
		pthread_join(w[i].thread, NULL);
	}
}

/* ---- one step: N guests for a window of the scheduler's run ---- */

static void run_step(const struct options *o, const struct variant *v, unsigned n, struct step *s)
{
	uint32_t host_period = (uint32_t)lround(o->host_period_ms * 48.0);
	struct serve_fleet_config fc = {
		.guests = n, .rate = v->rate, .period_frames = v->period_frames, .periods = o->periods,
		.guest_cpu = o->guest_cpu, .guest_priority = o->guest_priority,
		.max_seconds = o->seconds + 1,
	};
	struct vd_rt_config rc = { .period_ns = (uint64_t)llround(host_period * 1e9 / 48000.0),
				   .priority = o->priority };
	struct clock_feed clk;
	struct vd_graph *host = NULL;
	struct vd_topology *topo = NULL;
	struct serve_fleet *fleet = NULL;
	struct vd_rt_sched *sched = NULL;
	struct vd_rt_stats s0, s1;
	struct vd_attach *cap;
	struct vd_feed *feed = NULL;
	struct serve_fleet_counters c0;
	static struct witness w[2];
	static uint64_t qfrom[MAX_PAUSES + SLOW_LOG], qto[MAX_PAUSES + SLOW_LOG];
	double t0, cpu0, w0, steal0;
	int r, nw = 0;

	memset(s, 0, sizeof(*s));
	memset(&clk, 0, sizeof(clk));
	clk.period_ns = rc.period_ns;
	s->n = n;
	r = host_new(host_period, &host, &topo);
	if (r < 0) {
		snprintf(s->err, sizeof(s->err), "host graph: %s", strerror(-r));
		goto fail;
	}
	if ((r = vd_graph_attach(host, "capture", &cap)) < 0 ||
	    (r = vd_attach_connect(cap, &clock_ops, &clk, &feed)) < 0) {
		snprintf(s->err, sizeof(s->err), "clock feed: %s", strerror(-r));
		goto fail;
	}
	t0 = mono_s();
	r = serve_fleet_new(host, &fc, &fleet, s->err, sizeof(s->err));
	if (r < 0)
		goto fail;
	s->setup_s = mono_s() - t0;
	snprintf(s->desc, sizeof(s->desc), "%s", serve_fleet_description(fleet));
	/* the scheduler's thread inherits this thread's CPU set */
	pin_self(o->cpu);
	r = vd_rt_sched_start(host, &rc, &sched);
	pin_self(o->guest_cpu);
	if (r < 0) {
		snprintf(s->err, sizeof(s->err), "scheduler: %s", strerror(-r));
		goto fail;
	}
	r = serve_fleet_start(fleet, s->err, sizeof(s->err));
	if (r < 0)
		goto fail;
	sleep_s(o->warmup);
	if (!atomic_load_explicit(&clk.have, memory_order_acquire)) {
		r = -EIO;
		snprintf(s->err, sizeof(s->err), "the host graph did not cycle");
		goto fail;
	}
	nw = witnesses_start(o, rc.period_ns, w);
	vd_rt_sched_stats(sched, &s0);
	serve_fleet_counters(fleet, &c0);
	serve_fleet_window(fleet, true);
	steal0 = steal_ms(o->cpu);
	atomic_store(&clk.window, true);
	w0 = mono_s();
	cpu0 = clock_s(clk.clk);
	sleep_s(o->seconds);
	s->cpu_s = clock_s(clk.clk) - cpu0;
	s->wall_s = mono_s() - w0;
	atomic_store(&clk.window, false);
	witnesses_stop(w, nw);
	s->pauses = 0;
	s->pause_max_ms = 0;
	for (int i = 0; i < nw; i++)
		for (unsigned j = 0; j < w[i].n && s->n_pause < MAX_PAUSES; j++) {
			s->pause_from[s->n_pause] = w[i].from[j];
			s->pause_to[s->n_pause++] = w[i].to[j];
		}
	if (nw) {
		s->pauses = w[0].total;
		s->pause_max_ms = w[0].max_ns / 1e6;
		s->covered = covered(&clk, atomic_load(&clk.n_stall_log), &w[0]);
	}
	s->steal_ms = steal_ms(o->cpu) - steal0;
	serve_fleet_window(fleet, false);
	s->cpu_cycles = atomic_load(&clk.n);
	s->cpu_over = atomic_load(&clk.over);
	s->cpu_max_ms = atomic_load(&clk.max_ns) / 1e6;
	s->cpu_p99_ms = clock_pct(&clk, 0.99);
	s->stalls = atomic_load(&clk.stalls);
	s->stall_max_ms = atomic_load(&clk.stall_max_ns) / 1e6;
	vd_rt_sched_stats(sched, &s1);
	serve_fleet_counters(fleet, &s->c);
	s->c.completed -= c0.completed;
	s->c.errors -= c0.errors;
	s->c.frames -= c0.frames;
	s->c.underruns -= c0.underruns;
	s->cycles = s1.cycles - s0.cycles;
	s->late = s1.late - s0.late;
	s->max_cycle_ns = s1.max_cycle_ns;
	s->max_wake_ns = s1.max_wake_late_ns;
	s->realtime = s1.realtime;
	if (s1.error) {
		r = s1.error;
		snprintf(s->err, sizeof(s->err), "processing: %s", strerror(-r));
	}
	serve_fleet_stop(fleet);
	s->slow = atomic_load(&clk.n_slow);
	for (unsigned i = 0; i < s->n_pause; i++) {
		qfrom[i] = s->pause_from[i];
		qto[i] = s->pause_to[i];
	}
	for (unsigned i = 0; i < s->slow; i++) {
		qfrom[s->n_pause + i] = clk.slow_from[i];
		qto[s->n_pause + i] = clk.slow_to[i];
	}
	if (serve_fleet_timing(fleet, qfrom, qto, s->n_pause + s->slow, &s->tq) < 0 && !r)
		r = -ENOMEM;
	if (serve_fleet_timing(fleet, s->pause_from, s->pause_to, s->n_pause, &s->t) < 0 && !r)
		r = -ENOMEM;
fail:
	s->error = r < 0 ? r : 0;
	if (fleet)
		serve_fleet_stop(fleet);
	vd_rt_sched_stop(sched, NULL);
	serve_fleet_free(fleet);
	if (feed)
		vd_attach_disconnect(feed);
	vd_graph_free(host);
	vd_topology_free(topo);
}

/* ---- stall attribution: who lost the time when the scheduler's thread stalls ---- */

static void run_stalls(const struct options *o, double seconds)
{
	uint32_t host_period = (uint32_t)lround(o->host_period_ms * 48.0);
	struct vd_rt_config rc = { .period_ns = (uint64_t)llround(host_period * 1e9 / 48000.0),
				   .priority = o->priority };
	static struct clock_feed clk;
	static struct witness w[2];
	struct vd_graph *host = NULL;
	struct vd_topology *topo = NULL;
	struct vd_rt_sched *sched = NULL;
	struct vd_rt_stats st;
	struct vd_attach *cap;
	struct vd_feed *feed = NULL;
	int nw = 0, r;

	memset(&clk, 0, sizeof(clk));
	clk.period_ns = rc.period_ns;
	clk.rusage = true;
	if ((r = host_new(host_period, &host, &topo)) < 0 ||
	    (r = vd_graph_attach(host, "capture", &cap)) < 0 ||
	    (r = vd_attach_connect(cap, &clock_ops, &clk, &feed)) < 0)
		goto out;
	pin_self(o->cpu);
	r = vd_rt_sched_start(host, &rc, &sched);
	pin_self(o->guest_cpu);
	if (r < 0)
		goto out;
	nw = witnesses_start(o, rc.period_ns, w);
	sleep_s(0.5);
	atomic_store(&clk.window, true);
	sleep_s(seconds);
	atomic_store(&clk.window, false);
	witnesses_stop(w, nw);
	vd_rt_sched_stats(sched, &st);
	unsigned n = atomic_load(&clk.n_stall_log);
	printf("stall attribution, host graph alone for %.0f s (scheduler SCHED_FIFO %d%s; witness threads "
	       "SCHED_FIFO 99%s, waking every period): the scheduler stalled %lu times (longest %.1f ms) "
	       "in %lu cycles; in those gaps its thread had an involuntary context switch %lu times, "
	       "a major fault %lu times, a minor fault %lu times (in the whole window: %lu, %lu, %lu)\n",
	       seconds, o->priority, st.realtime ? " granted" : " REFUSED",
	       nw && w[0].realtime ? " granted" : " REFUSED",
	       (unsigned long)atomic_load(&clk.stalls), atomic_load(&clk.stall_max_ns) / 1e6,
	       (unsigned long)atomic_load(&clk.n),
	       (unsigned long)clk.stall_invol, (unsigned long)clk.stall_majflt,
	       (unsigned long)clk.stall_minflt, (unsigned long)clk.win_invol,
	       (unsigned long)clk.win_majflt, (unsigned long)clk.win_minflt);
	for (int i = 0; i < nw; i++)
		printf("- witness on CPU %d (%s CPU): %lu stalls of its own (longest %.1f ms); "
		       "%u of the scheduler's %u logged stalls at least half inside one of them\n",
		       w[i].cpu, w[i].cpu == o->cpu ? "the scheduler's" : "the other", (unsigned long)w[i].total,
		       w[i].max_ns / 1e6, covered(&clk, n, &w[i]), n);
	printf("\n");
out:
	if (r < 0)
		printf("stall attribution: not run: %s\n\n", strerror(-r));
	vd_rt_sched_stop(sched, NULL);
	if (feed)
		vd_attach_disconnect(feed);
	vd_graph_free(host);
	vd_topology_free(topo);
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_serve [--quick | --full] [options]\n"
		"\n"
		"Guest streams per core: N virtio-snd devices, each driven over vhost-user by a\n"
		"fake front-end playing one S16 stereo stream with 10 ms periods, mixed into a\n"
		"null sink by a live host graph under the real-time scheduler on one core.\n"
		"N ramps until a host cycle is late. Beside it, QEMU's virtio-sound-pci (wav\n"
		"audiodev) playing the same stream in a real guest (tools/bench-serve-peer.sh).\n"
		"\n"
		"  --quick              default: 2 s per step, N = 1 8 16 32 64 96 128, 5 s peer\n"
		"  --full               10 s per step, N up to 256, 20 s peer\n"
		"  --ramp LIST          comma list of N (ascending)\n"
		"  --max N              stop the ramp after N streams\n"
		"  --seconds S          measuring window per step; --warmup S before it (0.5 / 1)\n"
		"  --variant LIST       48k, 44.1k (a rate converter in each guest pipeline); default both\n"
		"  --host-period MS     host graph period (default 1 ms = 48 frames)\n"
		"  --periods N          guest buffer in periods, all queued (default 4)\n"
		"  --cpu N              the scheduler's core (default: the last CPU)\n"
		"  --guest-cpu N        the fake guests' and this thread's core (default: CPU 0; -1 none)\n"
		"  --priority P         SCHED_FIFO priority of the scheduler (default 80; 0 normal)\n"
		"  --guest-priority P   SCHED_FIFO priority of the guest thread (default 70; 0 normal)\n"
		"  --stalls S           stall attribution: S s of the host graph alone with witness threads\n"
		"                       (default 5, --full 20; 0 skips it)\n"
		"  --peer, --no-peer    run the QEMU peer or not (default: if QEMU 10 and the guest\n"
		"                       image are there); --peer-seconds S; --peer-out DIR keeps its files\n");
}

static int parse_list(const char *s, struct options *o)
{
	char *copy = strdup(s), *tok, *save = NULL;
	unsigned prev = 0;

	o->n_ramp = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long v = strtoul(tok, &end, 10);

		if (*end || v < 1 || v > VD_ATTACH_MAX_FEEDS || v <= prev || o->n_ramp == MAX_STEPS) {
			free(copy);
			return -EINVAL;
		}
		o->ramp[o->n_ramp++] = (unsigned)v;
		prev = (unsigned)v;
	}
	free(copy);
	return o->n_ramp ? 0 : -EINVAL;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "quick", no_argument, NULL, 'q' }, { "full", no_argument, NULL, 'f' },
		{ "ramp", required_argument, NULL, 'r' }, { "max", required_argument, NULL, 'm' },
		{ "seconds", required_argument, NULL, 's' }, { "warmup", required_argument, NULL, 'w' },
		{ "variant", required_argument, NULL, 'v' }, { "host-period", required_argument, NULL, 'H' },
		{ "periods", required_argument, NULL, 'P' }, { "cpu", required_argument, NULL, 'c' },
		{ "guest-cpu", required_argument, NULL, 'g' }, { "priority", required_argument, NULL, 'p' },
		{ "guest-priority", required_argument, NULL, 'G' }, { "peer", no_argument, NULL, 'E' },
		{ "no-peer", no_argument, NULL, 'N' }, { "peer-seconds", required_argument, NULL, 'S' },
		{ "peer-out", required_argument, NULL, 'O' }, { "help", no_argument, NULL, 'h' },
		{ "stalls", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ramp = NULL, *variant = NULL;
	double seconds = 0, warmup = -1, peer_seconds = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int c;

	memset(o, 0, sizeof(*o));
	o->host_period_ms = 1.0;
	o->periods = 4;
	o->cpu = ncpu > 1 ? (int)ncpu - 1 : 0;
	o->guest_cpu = ncpu > 1 ? 0 : -1;
	o->priority = 80;
	o->guest_priority = 70;
	o->peer = -1;
	o->stall_seconds = -1;
	o->max_streams = VD_ATTACH_MAX_FEEDS;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'q': o->full = 0; break;
		case 'f': o->full = 1; break;
		case 'r': ramp = optarg; break;
		case 'm': o->max_streams = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': seconds = strtod(optarg, NULL); if (seconds <= 0) return -EINVAL; break;
		case 'w': warmup = strtod(optarg, NULL); if (warmup < 0) return -EINVAL; break;
		case 'v': variant = optarg; break;
		case 'H': o->host_period_ms = strtod(optarg, NULL); break;
		case 'P': o->periods = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'c': o->cpu = atoi(optarg); break;
		case 'g': o->guest_cpu = atoi(optarg); break;
		case 'p': o->priority = atoi(optarg); break;
		case 'G': o->guest_priority = atoi(optarg); break;
		case 'E': o->peer = 1; break;
		case 'N': o->peer = 0; break;
		case 'S': peer_seconds = strtod(optarg, NULL); if (peer_seconds < 1) return -EINVAL; break;
		case 'O': o->peer_out = optarg; break;
		case 'T': o->stall_seconds = strtod(optarg, NULL); if (o->stall_seconds < 0) return -EINVAL; break;
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	if (optind < argc || o->host_period_ms < 0.1 || o->host_period_ms > 100 || o->periods < 2 ||
	    o->periods > 16 || o->cpu < 0 || o->cpu >= ncpu || o->guest_cpu >= ncpu || o->max_streams < 1)
		return -EINVAL;
	if (ramp) {
		if (parse_list(ramp, o) < 0)
			return -EINVAL;
	} else if (o->full) {
		static const unsigned r[] = { 1, 8, 16, 32, 64, 96, 128, 160, 192, 224, 256 };
		memcpy(o->ramp, r, sizeof(r));
		o->n_ramp = sizeof(r) / sizeof(r[0]);
	} else {
		static const unsigned r[] = { 1, 8, 16, 32, 64, 96, 128 };
		memcpy(o->ramp, r, sizeof(r));
		o->n_ramp = sizeof(r) / sizeof(r[0]);
	}
	o->seconds = seconds > 0 ? seconds : o->full ? 10 : 2;
	o->warmup = warmup >= 0 ? warmup : o->full ? 1 : 0.5;
	o->peer_seconds = peer_seconds > 0 ? peer_seconds : o->full ? 20 : 5;
	if (o->stall_seconds < 0)
		o->stall_seconds = o->full ? 20 : 5;
	if (variant) {
		char *copy = strdup(variant), *tok, *save = NULL;

		for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			int k;

			for (k = 0; k < MAX_VARIANTS && strcmp(tok, variants[k].name); k++)
				;
			if (k == MAX_VARIANTS) {
				free(copy);
				return -EINVAL;
			}
			o->variant[k] = true;
		}
		free(copy);
	} else {
		for (int k = 0; k < MAX_VARIANTS; k++)
			o->variant[k] = true;
	}
	return 0;
}

/* ---- output ---- */

static double per_stream_us(const struct step *s)
{
	return s->n && s->wall_s > 0 ? s->cpu_s / s->wall_s / s->n * 1e6 : NAN;
}

/* Sustained: fewer than 1% of the cycles took more CPU time than the period.
 * Load that does not fit makes a recurring cycle overrun (the cycle where
 * every stream completes a period comes once per guest period, 10% of the
 * cycles at 1 ms); what the machine adds (interrupts charged to the thread,
 * the hypervisor) is rare and random, and shows in the host graph alone. */
static bool step_clean(const struct step *s)
{
	return !s->error && s->cpu_over * 100 < s->cpu_cycles;
}

static void print_row(const struct variant *v, const struct step *s, const struct step *idle)
{
	double core = s->wall_s > 0 ? 100.0 * s->cpu_s / s->wall_s : NAN;
	double idle_us = idle && idle->wall_s > 0 ? idle->cpu_s / idle->wall_s * 1e6 : NAN;
	double marginal = s->n ? (s->cpu_s / s->wall_s * 1e6 - idle_us) / s->n : NAN;

	if (s->error) {
		printf("| %s | %u | error: %s |\n", v->name, s->n, s->err);
		return;
	}
	printf("| %s | %u | %.1f | %.1f | %.1f | %.3f / %.3f | %lu | %lu | %lu / %.1f | %.0f | %lu | "
	       "%.3f / %.3f / %.3f | %.3f / %.3f / %.3f | %lu | %lu / %.1f / %u | %.3f / %.3f / %.3f (%lu of %lu) | "
	       "%.3f / %.3f | %.3f / %.3f | %.3f / %.3f (%lu) | %u | %.3f / %.3f / %.3f (%lu of %lu) |\n",
	       v->name, s->n, core, per_stream_us(s), marginal, s->cpu_p99_ms, s->cpu_max_ms,
	       (unsigned long)s->cpu_over, (unsigned long)s->late, (unsigned long)s->stalls,
	       s->stall_max_ms, s->steal_ms,
	       (unsigned long)s->c.underruns,
	       s->t.iv_p50, s->t.iv_p99, s->t.iv_max, s->t.dev_p50, s->t.dev_p99, s->t.dev_max,
	       (unsigned long)s->t.doubles, (unsigned long)s->pauses, s->pause_max_ms, s->covered,
	       s->t.clear_dev_p50, s->t.clear_dev_p99, s->t.clear_dev_max,
	       (unsigned long)s->t.clear_intervals, (unsigned long)s->t.intervals,
	       s->t.late_dev_p99, s->t.late_dev_max, s->t.pass_p99, s->t.pass_max,
	       s->t.busy_p99, s->t.busy_max, (unsigned long)s->t.wakeups, s->slow,
	       s->tq.clear_dev_p50, s->tq.clear_dev_p99, s->tq.clear_dev_max,
	       (unsigned long)s->tq.clear_intervals, (unsigned long)s->tq.intervals);
}

static void print_header(void)
{
	printf("| variant | N | host core %% | µs/s per stream | marginal µs/s | cycle CPU p99 / max ms | "
	       "cycles over period (CPU) | late cycles (wall) | stalls / longest ms | steal ms | underruns | "
	       "interval p50 / p99 / max ms | \\|interval − 10 ms\\| p50 / p99 / max | doubles | "
	       "VM pauses / longest ms / stalls inside | \\|interval − 10 ms\\| without VM pauses p50 / p99 / max | "
	       "the same stamped when drained p99 / max | first look over the ready streams p99 / max ms | "
	       "guest wake-up work p99 / max ms (wake-ups) | "
	       "cycles over half a period of CPU | \\|interval − 10 ms\\| without VM pauses nor those cycles p50 / p99 / max |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
}

static double marginal_us(const struct step *s, const struct step *idle)
{
	if (!s || !s->n || s->wall_s <= 0 || idle->wall_s <= 0)
		return NAN;
	return (s->cpu_s / s->wall_s - idle->cpu_s / idle->wall_s) * 1e6 / s->n;
}

#define T3(s, a, b, c) (s) ? (s)->t.a : NAN, (s) ? (s)->t.b : NAN, (s) ? (s)->t.c : NAN

static void print_peer(const struct serve_peer *p, const struct step *one, const struct step *at64,
		       const struct step *idle)
{
	double m1 = marginal_us(one, idle), m64 = marginal_us(at64, idle);

	printf("\n## Peer: QEMU's virtio-sound-pci (wav audiodev), a real guest, the same stream\n\n");
	if (!p->ok) {
		printf("not measured: %s\n", p->why);
		return;
	}
	printf("%s, %s, guest kernel %s; aplay S16 48 kHz stereo, 480-frame periods, 1920-frame buffer; "
	       "%.1f s streamed (play phase %.1f s with aplay's start), %.1f s idle phase; "
	       "load average %.2f at its start, %.2f at its end\n\n",
	       p->qemu, p->accel, p->kernel, p->stream_s, p->play_s, p->idle_s, p->load_start, p->load_end);
	if (p->attempts > 1)
		printf("(boot %u of %u: the earlier ones failed: %s)\n\n", p->attempts, p->attempts, p->why);
	printf("| per stream | virtdsp N=1 | virtdsp N=64 | QEMU virtio-sound-pci |\n");
	printf("|---|---|---|---|\n");
	printf("| host CPU above the idle baseline, µs/s | %.1f | %.1f | %.1f (QEMU's main thread: "
	       "device callbacks, audio timer, wav file) |\n", m1, m64, p->main_us_per_s);
	printf("| host CPU in all, µs/s | %.1f | %.1f | — |\n",
	       one ? per_stream_us(one) : NAN, at64 ? per_stream_us(at64) : NAN);
	printf("| completion interval p50 / p99 / max, ms | %.3f / %.3f / %.3f | %.3f / %.3f / %.3f | "
	       "%.3f / %.3f / %.3f |\n", T3(one, iv_p50, iv_p99, iv_max), T3(at64, iv_p50, iv_p99, iv_max),
	       p->iv_p50, p->iv_p99, p->iv_max);
	printf("| \\|interval − 10 ms\\| p50 / p99 / max, ms | %.3f / %.3f / %.3f | %.3f / %.3f / %.3f | "
	       "%.3f / %.3f / %.3f |\n", T3(one, dev_p50, dev_p99, dev_max), T3(at64, dev_p50, dev_p99, dev_max),
	       p->dev_p50, p->dev_p99, p->dev_max);
	printf("| two completions at once (interval < 5 ms) | %lu of %lu | %lu of %lu | %lu of %lu |\n",
	       one ? (unsigned long)one->t.doubles : 0, one ? (unsigned long)one->t.intervals : 0,
	       at64 ? (unsigned long)at64->t.doubles : 0, at64 ? (unsigned long)at64->t.intervals : 0,
	       p->doubles, p->completions ? p->completions - 1 : 0);
	printf("\nQEMU CPU time, play phase / idle phase: main thread %.3f / %.3f s, vCPU %.3f / %.3f s, "
	       "all threads %.3f / %.3f s; per stream = (play − idle rate × play time) / seconds streamed. "
	       "All threads give %.1f µs/s, which is not the device's cost: the emulated guest (aplay, "
	       "the driver, the idle phase's 10 ms sleep loop) dominates the vCPU thread under TCG.\n",
	       p->main_play_cpu_s, p->main_idle_cpu_s, p->vcpu_play_cpu_s, p->vcpu_idle_cpu_s,
	       p->all_play_cpu_s, p->all_idle_cpu_s, p->all_us_per_s);
	if (m64 > 0 && p->main_us_per_s > 0)
		printf("ratio, host CPU per stream above idle: QEMU main thread / virtdsp N=64 = %.2fx; "
		       "/ virtdsp N=1 = %.2fx\n", p->main_us_per_s / m64, p->main_us_per_s / m1);
	if (one && one->t.dev_p99 > 0 && p->dev_p99 > 0)
		printf("ratio, completion jitter p99: QEMU / virtdsp N=1 = %.1fx (QEMU's guest is emulated "
		       "(TCG) at normal priority, the fake guests run at SCHED_FIFO: see docs/bench.md)\n",
		       p->dev_p99 / one->t.dev_p99);
}

int main(int argc, char **argv)
{
	static struct step steps[MAX_VARIANTS][MAX_STEPS];
	unsigned nsteps[MAX_VARIANTS] = { 0 };
	struct step idle;
	struct options o;
	struct serve_peer peer = { 0 };
	struct rlimit rl;
	char model[256], why[256], cmd[1200];
	double l0[3], l1[3], t_start = mono_s();
	int pass = 0, fail = 0;

	if (parse_options(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	/* about 30 descriptors per guest on both sides of its connection */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	pin_self(o.guest_cpu);
	cpu_model(model, sizeof(model));
	loadavg(l0);
	printf("# bench_serve (%s): guest streams per core\n\n", o.full ? "full" : "quick");
	printf("CPU %s, %ld online; scheduler on CPU %d (SCHED_FIFO %d), fake guests on CPU %d (SCHED_FIFO %d)\n",
	       model, sysconf(_SC_NPROCESSORS_ONLN), o.cpu, o.priority, o.guest_cpu, o.guest_priority);
	printf("host graph: 48 kHz stereo, period %.2f ms (%ld frames), attach point -> null sink; "
	       "guests: default guest topology, S16 stereo, 10 ms periods, %u-period buffer all queued\n",
	       o.host_period_ms, lround(o.host_period_ms * 48), o.periods);
	printf("window %.1f s per step after %.1f s warm-up; load average at start: %.2f %.2f %.2f\n\n",
	       o.seconds, o.warmup, l0[0], l0[1], l0[2]);
	fflush(stdout);

	/* the host graph alone: what every stream's figure sits on */
	run_step(&o, &variants[0], 0, &idle);
	if (idle.error) {
		fprintf(stderr, "bench_serve: %s\n", idle.err);
		return 1;
	}
	if (!idle.realtime && o.priority > 0)
		printf("note: SCHED_FIFO was refused: the scheduler ran at normal priority, late cycles "
		       "measure the machine's load\n");
	printf("host graph with no guest: %.1f µs/s of CPU (%.2f%% of a core); cycle CPU p99 %.3f ms, max %.3f ms; "
	       "%lu of %lu cycles late by the wall clock; %lu stalls (longest %.1f ms); %.0f ms steal\n\n",
	       idle.cpu_s / idle.wall_s * 1e6, 100 * idle.cpu_s / idle.wall_s, idle.cpu_p99_ms, idle.cpu_max_ms,
	       (unsigned long)idle.late, (unsigned long)idle.cycles, (unsigned long)idle.stalls,
	       idle.stall_max_ms, idle.steal_ms);

	if (o.stall_seconds > 0) {
		fprintf(stderr, "bench_serve: stall attribution, %g s...\n", o.stall_seconds);
		run_stalls(&o, o.stall_seconds);
	}
	print_header();
	fflush(stdout);
	for (int k = 0; k < MAX_VARIANTS; k++) {
		if (!o.variant[k])
			continue;
		for (unsigned i = 0; i < o.n_ramp && o.ramp[i] <= o.max_streams; i++) {
			struct step *s = &steps[k][nsteps[k]++];

			fprintf(stderr, "bench_serve: %s, %u streams...\n", variants[k].name, o.ramp[i]);
			run_step(&o, &variants[k], o.ramp[i], s);
			print_row(&variants[k], s, &idle);
			fflush(stdout);
			if (!step_clean(s))
				break;
		}
	}
	printf("\nGuest pipelines as built (first guest):\n");
	for (int k = 0; k < MAX_VARIANTS; k++) {
		if (!nsteps[k])
			continue;
		for (char *p = steps[k][0].desc; *p; p++)
			if (*p == '\n')
				*p = p[1] ? ';' : '\0';
		printf("- %s: %s\n", variants[k].name, steps[k][0].desc);
	}

	/* the peer */
	if (o.peer != 0) {
		snprintf(cmd, sizeof(cmd), "%s", VD_BENCH_SOURCE_ROOT);
		if (o.peer < 0 && !serve_peer_available(cmd, why, sizeof(why))) {
			printf("\n## Peer: not run (%s).\nRun it with --peer after tools/guest/setup-host.sh "
			       "and tools/guest/build-image.sh, or alone: tools/bench-serve-peer.sh --seconds %g\n",
			       why, o.peer_seconds);
		} else {
			fprintf(stderr, "bench_serve: peer: QEMU virtio-sound-pci, %g s playback (boots a guest)...\n",
				o.peer_seconds);
			serve_peer_run(cmd, o.peer_seconds, o.peer_out, &peer);
			const struct step *one = NULL, *at64 = NULL;
			for (unsigned i = 0; i < nsteps[0]; i++) {
				if (steps[0][i].n == 1 && !steps[0][i].error)
					one = &steps[0][i];
				if (steps[0][i].n == 64 && !steps[0][i].error)
					at64 = &steps[0][i];
			}
			print_peer(&peer, one, at64, &idle);
		}
	}
	printf("\nvirtdsp from the guest side (a real guest on `virtdsp serve` over vhost-user): not measured "
	       "here; tests/guest/test_serve.sh measures it (kprobe times of the guest's completions, "
	       "docs/serve.md \"Timing\"), too slowly under TCG to repeat in a benchmark run.\n");

	/* targets */
	printf("\n");
	for (int k = 0; k < MAX_VARIANTS; k++) {
		unsigned best = 0, strict_best = 0, wall_best = 0;
		bool over = false, strict_done = false, wall_done = false;
		double worst_p99 = -1, worst_clear = -1;
		unsigned worst_n = 0, worst_clear_n = 0;

		if (!nsteps[k])
			continue;
		for (unsigned i = 0; i < nsteps[k]; i++) {
			const struct step *s = &steps[k][i];

			if (!wall_done && !s->error && s->late == 0)
				wall_best = s->n;
			wall_done |= s->error || s->late;
			if (!strict_done && !s->error && s->cpu_over == 0)
				strict_best = s->n;
			strict_done |= s->error || s->cpu_over;
			if (!step_clean(s)) {
				over = true;
				break;
			}
			best = s->n;
			if (s->t.dev_p99 > worst_p99) {
				worst_p99 = s->t.dev_p99;
				worst_n = s->n;
			}
			if (s->t.clear_dev_p99 > worst_clear) {
				worst_clear = s->t.clear_dev_p99;
				worst_clear_n = s->n;
			}
		}
		bool ok = best >= TARGET_STREAMS;
		printf("%s  %-18s streams on one core, cycles within the period  %u%s  (target >= %d)\n",
		       ok ? "PASS" : "FAIL", variants[k].label, best,
		       over ? "" : " (end of the ramp)", TARGET_STREAMS);
		ok ? pass++ : fail++;
		ok = worst_p99 >= 0 && worst_p99 <= TARGET_JITTER_P99_MS;
		printf("%s  %-18s completion jitter p99, worst for N <= %u  %.3f ms at N=%u  (target <= %.1f ms)\n",
		       ok ? "PASS" : "FAIL", variants[k].label, best, worst_p99, worst_n, TARGET_JITTER_P99_MS);
		ok ? pass++ : fail++;
		printf("%s  %-18s the same without intervals that a VM pause touched  %.3f ms at N=%u\n",
		       worst_clear >= 0 && worst_clear <= TARGET_JITTER_P99_MS ? "info(pass)" : "info(fail)",
		       variants[k].label, worst_clear, worst_clear_n);
		printf("info  %-18s largest N with not one cycle over the period in CPU time: %u; "
		       "with not one late by the wall clock: %u\n", variants[k].label, strict_best, wall_best);
	}
	printf("info  the host graph alone: %lu of %lu cycles over the period in CPU time, %lu late by the wall clock\n",
	       (unsigned long)idle.cpu_over, (unsigned long)idle.cpu_cycles, (unsigned long)idle.late);
	loadavg(l1);
	printf("targets: %d PASS, %d FAIL\n", pass, fail);
	printf("load average at end: %.2f %.2f %.2f; %.0f s\n", l1[0], l1[1], l1[2], mono_s() - t_start);
	return 0;
}
