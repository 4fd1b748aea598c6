/* bench/bench_accel.c - the accel engine: task round trip, tasks per second, and task overhead over the converter.
 *
 *   bench_accel [target]   (no argument: the in-process engine)
 *
 * 1. Round trip: START -> POLLIN on the session fd -> STATUS of one task,
 *    median and p99, for a 480-frame S16 stereo 48 kHz task with no
 *    conversion (the engine alone) and a 441-frame 44.1 -> 48 kHz one; for
 *    each dispatch path of the in-process engine (inline, worker, spinning
 *    worker; chosen by VD_ACCEL_INLINE_MAX / VD_ACCEL_SPIN_US).
 * 2. Tasks per second, one in flight and eight in flight.
 * 3. A 10 s file converted through tasks of 1..64 KiB (copy in, START,
 *    wait, copy out; one and four tasks in flight) versus the converter
 *    called directly with the same chunks, best of five runs each, in wall
 *    time and in process CPU time (robust when the machine is shared).
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <virtdsp/accel.h>
#include <virtdsp/convert.h>
#include <virtdsp/resample.h>

#include "accel/accel-config.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Wall and CPU seconds of one run. */
struct cost {
	double wall, cpu;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct btask {
	struct vd_accel_task t;
	uint8_t *in, *out;
	size_t in_len, out_len;
	bool ran;
};

static int setup(const char *target, struct vd_accel **s, uint32_t ri, uint32_t ro, uint32_t frag,
		 uint32_t frags)
{
	struct vd_accel_params p = {
		.codec = VD_ACCEL_CODEC_PCM,
		.in = { VD_FORMAT_S16, ri, 2 },
		.out = { VD_FORMAT_S16, ro, 2 },
		.quality = VD_RESAMPLE_HIGH,
		.fragment_size = frag,
		.fragments = frags,
	};
	int res = vd_accel_open(target, "src", s);

	if (res < 0)
		return res;
	res = vd_accel_set_params(*s, &p);
	if (res < 0)
		vd_accel_close(*s);
	return res;
}

static int create(struct vd_accel *s, struct btask *b, size_t in_len, size_t out_len)
{
	int res;

	memset(b, 0, sizeof(*b));
	res = vd_accel_task_create(s, &b->t);
	if (res < 0)
		return res;
	b->in_len = in_len;
	b->out_len = out_len;
	b->in = mmap(NULL, in_len, PROT_READ | PROT_WRITE, MAP_SHARED, b->t.input_fd, 0);
	b->out = mmap(NULL, out_len, PROT_READ, MAP_SHARED, b->t.output_fd, 0);
	return b->in == MAP_FAILED || b->out == MAP_FAILED ? -errno : 0;
}

static void destroy(struct btask *b)
{
	munmap(b->in, b->in_len);
	munmap(b->out, b->out_len);
	close(b->t.input_fd);
	close(b->t.output_fd);
}

static int start(struct vd_accel *s, struct btask *b, uint64_t n, uint32_t flags)
{
	struct vd_accel_task t = b->t;
	int res;

	t.input_size = n;
	t.flags = flags;
	t.origin_seqno = b->ran ? b->t.seqno : 0;
	res = vd_accel_task_start(s, &t);
	if (res == 0) {
		b->t.seqno = t.seqno;
		b->ran = true;
	}
	return res;
}

/* Wait through the session fd for @b (the oldest task) to finish; returns output bytes. */
static int64_t finish(struct vd_accel *s, struct btask *b)
{
	struct pollfd p = { .fd = vd_accel_fd(s), .events = POLLIN };
	struct vd_accel_task_status st = { .seqno = b->t.seqno };

	for (;;) {
		if (poll(&p, 1, 10000) != 1)
			return -ETIMEDOUT;
		if (vd_accel_task_status(s, &st) < 0)
			return -EINVAL;
		if (st.state == VD_ACCEL_TASK_FINISHED)
			return (int64_t)st.output_size;
	}
}

/* Round trip of one task, @iters times: median and p99 in microseconds, tasks per second. */
static void round_trip(const char *target, const char *label, uint32_t ri, uint32_t ro, uint32_t frames,
		       int iters)
{
	struct vd_accel *s;
	struct btask b;
	double *t = malloc(sizeof(double) * iters), t0;
	uint32_t bytes = frames * 4;

	if (setup(target, &s, ri, ro, bytes, 2) < 0 || create(s, &b, bytes, 4096) < 0) {
		printf("  %-34s  (unavailable)\n", label);
		free(t);
		return;
	}
	for (uint32_t i = 0; i < frames * 2; i++)
		((int16_t *)b.in)[i] = (int16_t)(8000 * sin(i * 0.01));
	for (int i = 0; i < iters / 10; i++) {	/* warm-up */
		start(s, &b, bytes, 0);
		finish(s, &b);
	}
	t0 = now();
	for (int i = 0; i < iters; i++) {
		double a = now();
		if (start(s, &b, bytes, 0) < 0 || finish(s, &b) < 0) {
			printf("  %-34s  failed\n", label);
			break;
		}
		t[i] = now() - a;
	}
	double total = now() - t0;
	qsort(t, iters, sizeof(double), cmp_double);
	printf("  %-34s  median %7.2f us   p99 %7.2f us   %9.0f tasks/s\n", label, t[iters / 2] * 1e6,
	       t[iters * 99 / 100] * 1e6, iters / total);
	destroy(&b);
	vd_accel_close(s);
	free(t);
}

/* Eight tasks in flight: tasks per second. */
static void pipelined(const char *target, const char *label, int iters)
{
	struct vd_accel *s;
	struct btask b[8];
	const uint32_t bytes = 1920;
	int head = 0, inflight = 0, started = 0, done = 0;
	double t0;

	if (setup(target, &s, 48000, 48000, bytes, 8) < 0)
		return;
	for (int i = 0; i < 8; i++)
		if (create(s, &b[i], bytes, 4096) < 0)
			return;
	t0 = now();
	while (done < iters) {
		if (started < iters && inflight < 8) {
			start(s, &b[(head + inflight) % 8], bytes, 0);
			inflight++;
			started++;
			continue;
		}
		if (finish(s, &b[head]) < 0)
			break;
		head = (head + 1) % 8;
		inflight--;
		done++;
	}
	printf("  %-34s  %9.0f tasks/s\n", label, iters / (now() - t0));
	for (int i = 0; i < 8; i++)
		destroy(&b[i]);
	vd_accel_close(s);
}

#define FILE_SECONDS 10

/* The converter called directly over @in in @chunk-byte pieces; returns seconds. */
static struct cost direct_run(const int16_t *in, size_t frames, uint32_t ri, uint32_t ro, size_t chunk,
			      int16_t *out, size_t *out_frames)
{
	double t0 = now(), c0 = cpu();
	size_t step = chunk / 4;

#if VD_ACCEL_HAVE_RESAMPLER
	if (ri != ro) {
		size_t made = 0;
		struct vd_resample_config cfg = { ri, ro, 2, VD_RESAMPLE_HIGH, VD_FORMAT_S16, VD_FORMAT_S16 };
		struct vd_resampler *r;

		if (vd_resampler_new(&cfg, &r) < 0)
			return (struct cost){ -1, -1 };
		t0 = now();
		c0 = cpu();
		for (size_t pos = 0; pos < frames; pos += step) {
			uint32_t n = frames - pos < step ? (uint32_t)(frames - pos) : (uint32_t)step, used = 0;
			while (used < n) {
				uint32_t in_n = n - used, out_n = 1u << 20;
				vd_resampler_process(r, in + (pos + used) * 2, &in_n, out + made * 2, &out_n);
				used += in_n;
				made += out_n;
			}
		}
		for (;;) {
			uint32_t out_n = 1u << 20;
			vd_resampler_drain(r, out + made * 2, &out_n);
			if (!out_n)
				break;
			made += out_n;
		}
		struct cost c = { now() - t0, cpu() - c0 };
		vd_resampler_free(r);
		*out_frames = made;
		return c;
	}
#endif
	for (size_t pos = 0; pos < frames; pos += step) {
		size_t n = frames - pos < step ? frames - pos : step;
		vd_convert_samples(VD_FORMAT_S16, out + pos * 2, VD_FORMAT_S16, in + pos * 2, n * 2, NULL);
	}
	*out_frames = frames;
	return (struct cost){ now() - t0, cpu() - c0 };
}

/* The same through tasks (@depth in flight), copying in and out. */
static struct cost task_run(const char *target, const int16_t *in, size_t frames, uint32_t ri, uint32_t ro,
			    size_t chunk, int depth, int16_t *out, size_t *out_frames)
{
	struct vd_accel *s;
	struct btask b[4];
	size_t pos = 0, made = 0, out_cap = chunk * 4 + (1u << 16);
	int head = 0, inflight = 0, next = 0;
	const struct cost fail = { -1, -1 };
	double t0, c0;
	struct cost c;

	if (setup(target, &s, ri, ro, (uint32_t)chunk, (uint32_t)depth) < 0)
		return fail;
	for (int i = 0; i < depth; i++)
		if (create(s, &b[i], chunk, out_cap) < 0)
			return fail;
	t0 = now();
	c0 = cpu();
	while (pos < frames || inflight) {
		if (pos < frames && inflight < depth) {
			size_t n = frames - pos < chunk / 4 ? frames - pos : chunk / 4;
			memcpy(b[next].in, in + pos * 2, n * 4);
			pos += n;
			start(s, &b[next], n * 4, pos == frames ? VD_ACCEL_TASK_END_OF_STREAM : 0);
			next = (next + 1) % depth;
			inflight++;
			continue;
		}
		int64_t got = finish(s, &b[head]);
		if (got < 0)
			return fail;
		memcpy(out + made * 2, b[head].out, (size_t)got);
		made += (size_t)got / 4;
		head = (head + 1) % depth;
		inflight--;
	}
	c = (struct cost){ now() - t0, cpu() - c0 };
	for (int i = 0; i < depth; i++)
		destroy(&b[i]);
	vd_accel_close(s);
	*out_frames = made;
	return c;
}

/* What the client's copies alone cost: the input into and the output out of one task-sized buffer. */
static struct cost copy_run(const int16_t *in, size_t frames, const int16_t *ref, size_t out_frames, size_t chunk)
{
	uint8_t *bi = malloc(chunk), *bo = malloc(chunk * 2 + 4096);
	size_t in_step = chunk / 4, out_step = (chunk / 4) * out_frames / frames + 1;
	double t0 = now(), c0 = cpu();

	for (size_t pos = 0, opos = 0; pos < frames; pos += in_step, opos += out_step) {
		size_t n = frames - pos < in_step ? frames - pos : in_step;
		size_t m = opos >= out_frames ? 0 : (out_frames - opos < out_step ? out_frames - opos : out_step);
		memcpy(bi, in + pos * 2, n * 4);
		memcpy(bo, ref + opos * 2, m * 4);
		__asm__ volatile("" : : "r"(bi), "r"(bo) : "memory");
	}
	struct cost c = { now() - t0, cpu() - c0 };
	free(bi);
	free(bo);
	return c;
}

static void keep_best(struct cost *best, struct cost c)
{
	if (c.wall >= 0 && c.wall < best->wall)
		best->wall = c.wall;
	if (c.cpu >= 0 && c.cpu < best->cpu)
		best->cpu = c.cpu;
}

static void overhead(const char *target, const char *label, uint32_t ri, uint32_t ro)
{
	size_t frames = (size_t)ri * FILE_SECONDS;
	size_t out_max = (size_t)ro * (FILE_SECONDS + 1);
	int16_t *in = malloc(frames * 4), *ref = malloc(out_max * 4), *out = malloc(out_max * 4);

	for (size_t i = 0; i < frames * 2; i++)
		in[i] = (int16_t)(12000 * sin(i * 0.013));
	printf("\n%s, %d s of S16 stereo\n", label, FILE_SECONDS);
	printf("  best of 5; CPU = process CPU time (all threads), wall = elapsed; tasks include copying in and out\n");
	printf("  %8s  %17s  %27s  %27s  %7s\n", "task", "direct wall/CPU", "tasks 1 in flight: overhead",
	       "tasks 4 in flight: overhead", "copies");
	for (size_t chunk = 1024; chunk <= 65536; chunk *= 2) {
		struct cost d = { 1e9, 1e9 }, t1 = { 1e9, 1e9 }, t4 = { 1e9, 1e9 }, cp = { 1e9, 1e9 };
		size_t dn = 0, n1 = 0, n4 = 0;
		bool same = true;

		for (int rep = 0; rep < 5; rep++) {
			keep_best(&d, direct_run(in, frames, ri, ro, chunk, ref, &dn));
			keep_best(&t1, task_run(target, in, frames, ri, ro, chunk, 1, out, &n1));
			same &= n1 == dn && memcmp(ref, out, dn * 4) == 0;
			keep_best(&t4, task_run(target, in, frames, ri, ro, chunk, 4, out, &n4));
			same &= n4 == dn && memcmp(ref, out, dn * 4) == 0;
			keep_best(&cp, copy_run(in, frames, ref, dn, chunk));
		}
		printf("  %6zu B  %7.2f/%7.2f ms  wall %+7.1f%%  CPU %+7.1f%%  wall %+7.1f%%  CPU %+7.1f%%  %+6.1f%%  %s\n",
		       chunk, d.wall * 1e3, d.cpu * 1e3, (t1.wall / d.wall - 1) * 100, (t1.cpu / d.cpu - 1) * 100,
		       (t4.wall / d.wall - 1) * 100, (t4.cpu / d.cpu - 1) * 100, cp.cpu / d.cpu * 100,
		       same ? "bit-identical" : "DIFFERENT");
	}
	free(in);
	free(ref);
	free(out);
}

int main(int argc, char **argv)
{
	const char *target = argc > 1 ? argv[1] : NULL;
	static const struct {
		const char *name, *inline_max, *spin;
	} modes[] = {
		{ "inline when idle (default)", NULL, NULL },
		{ "worker thread", "0", NULL },
		{ "worker thread, spin 50 us", "0", "50" },
	};
	const int iters = 20000;

	printf("accel round trip, %s (START -> POLLIN -> STATUS, %d tasks)\n",
	       target ? target : "in-process", iters);
	for (size_t m = 0; m < (target ? 1 : sizeof(modes) / sizeof(modes[0])); m++) {
		char label[64];
		if (!target) {
			modes[m].inline_max ? setenv("VD_ACCEL_INLINE_MAX", modes[m].inline_max, 1)
					    : unsetenv("VD_ACCEL_INLINE_MAX");
			modes[m].spin ? setenv("VD_ACCEL_SPIN_US", modes[m].spin, 1) : unsetenv("VD_ACCEL_SPIN_US");
			printf(" %s\n", modes[m].name);
		}
		snprintf(label, sizeof(label), "480 fr s16 2ch 48k -> same");
		round_trip(target, label, 48000, 48000, 480, iters);
#if VD_ACCEL_HAVE_RESAMPLER
		snprintf(label, sizeof(label), "441 fr s16 2ch 44.1k -> 48k");
		round_trip(target, label, 44100, 48000, 441, iters);
#endif
		pipelined(target, "480 fr, 8 tasks in flight", iters);
	}
	unsetenv("VD_ACCEL_INLINE_MAX");
	unsetenv("VD_ACCEL_SPIN_US");
#if VD_ACCEL_HAVE_RESAMPLER
	overhead(target, "File through tasks vs vd_resampler_process, 44.1 -> 48 kHz high", 44100, 48000);
#else
	printf("\n(rate conversion not built: the converter is not on main yet)\n");
#endif
	overhead(target, "Per-task cost against a memcpy-class conversion (48 kHz s16 -> s16)", 48000, 48000);
	return 0;
}
