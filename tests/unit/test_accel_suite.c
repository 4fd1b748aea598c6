/* tests/unit/test_accel_suite.c - the accel conformance suite, runnable against any target.
 *
 * accel_conformance_run(target, name) runs every rule of docs/accel.md
 * against the in-process engine (target NULL) or a daemon's socket (a
 * path): include this file and call it (test_accel.c does the former).
 * Only the public API is used. Tasks that must still be running when the
 * next call arrives are made slow on purpose (a 32 -> 31 channel matrix
 * over 4 MiB, tens of milliseconds) and every such assertion holds whatever
 * the timing, except where noted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <virtdsp/accel.h>
#include <virtdsp/convert.h>


struct suite {
	const char *target;
};

#define TARGET(state) (((struct suite *)*(state))->target)

/* ---- helpers ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void params_init(struct vd_accel_params *p, enum vd_sample_format fi, uint32_t ri, uint32_t ci,
			enum vd_sample_format fo, uint32_t ro, uint32_t co, uint32_t frag_size, uint32_t frags)
{
	memset(p, 0, sizeof(*p));
	p->codec = VD_ACCEL_CODEC_PCM;
	p->in.format = fi;
	p->in.rate = ri;
	p->in.channels = ci;
	p->out.format = fo;
	p->out.rate = ro;
	p->out.channels = co;
	p->quality = VD_RESAMPLE_HIGH;
	p->fragment_size = frag_size;
	p->fragments = frags;
}

static struct vd_accel *open_with(const char *target, const struct vd_accel_params *p)
{
	struct vd_accel *s = NULL;

	assert_int_equal(vd_accel_open(target, "src", &s), 0);
	assert_non_null(s);
	if (p)
		assert_int_equal(vd_accel_set_params(s, p), 0);
	return s;
}

static void assert_error(struct vd_accel *s, int res, int want, const char *text)
{
	char msg[256];

	assert_int_equal(res, want);
	vd_accel_last_error(s, msg, sizeof(msg));
	if (!strstr(msg, text))
		fail_msg("error text \"%s\" does not contain \"%s\"", msg, text);
}

/* A task with both buffers mapped (whole memfd sizes). */
struct mtask {
	struct vd_accel_task t;
	uint8_t *in, *out;
	size_t in_len, out_len;
};

static size_t fd_size(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return (size_t)st.st_size;
}

static void map_task(struct mtask *m)
{
	m->in_len = fd_size(m->t.input_fd);
	m->out_len = fd_size(m->t.output_fd);
	m->in = mmap(NULL, m->in_len, PROT_READ | PROT_WRITE, MAP_SHARED, m->t.input_fd, 0);
	m->out = mmap(NULL, m->out_len, PROT_READ, MAP_SHARED, m->t.output_fd, 0);
	assert_true(m->in != MAP_FAILED && m->out != MAP_FAILED);
}

static void create(struct vd_accel *s, struct mtask *m)
{
	memset(m, 0, sizeof(*m));
	assert_int_equal(vd_accel_task_create(s, &m->t), 0);
	assert_true(m->t.seqno != 0);
	assert_true(m->t.input_fd >= 0 && m->t.output_fd >= 0);
	map_task(m);
}

static void unmap_task(struct mtask *m)
{
	munmap(m->in, m->in_len);
	munmap(m->out, m->out_len);
	close(m->t.input_fd);
	close(m->t.output_fd);
}

/* (Re)start @m with @n bytes already in its input buffer; reuse when it has run before. */
static int start(struct vd_accel *s, struct mtask *m, uint64_t n, uint32_t flags, bool reuse)
{
	struct vd_accel_task t = m->t;
	int res;

	t.input_size = n;
	t.flags = flags;
	t.origin_seqno = reuse ? m->t.seqno : 0;
	res = vd_accel_task_start(s, &t);
	if (res == 0) {
		assert_int_equal(t.origin_seqno, 0);
		if (!reuse)
			assert_int_equal(t.seqno, m->t.seqno);
		else
			assert_true(t.seqno > m->t.seqno);
		m->t.seqno = t.seqno;
	}
	return res;
}

static struct vd_accel_task_status status(struct vd_accel *s, uint64_t seqno)
{
	struct vd_accel_task_status st;

	memset(&st, 0xa5, sizeof(st));
	st.seqno = seqno;
	assert_int_equal(vd_accel_task_status(s, &st), 0);
	return st;
}

/* Wait (10 s at most) for @seqno to finish; returns its status. */
static struct vd_accel_task_status wait_done(struct vd_accel *s, uint64_t seqno)
{
	double end = now_s() + 10.0;

	for (;;) {
		struct vd_accel_task_status st = status(s, seqno);
		if (st.state == VD_ACCEL_TASK_FINISHED)
			return st;
		assert_int_equal(st.state, VD_ACCEL_TASK_ACTIVE);
		if (now_s() > end)
			fail_msg("task %llu did not finish in 10 s", (unsigned long long)seqno);
		assert_true(vd_accel_wait(s, POLLIN, 5) >= 0);
	}
}

static int poll_now(struct vd_accel *s)
{
	struct pollfd p = { .fd = vd_accel_fd(s), .events = POLLIN | POLLOUT };

	assert_true(p.fd >= 0);
	assert_true(poll(&p, 1, 0) >= 0);
	return p.revents & (POLLIN | POLLOUT);
}

static uint32_t rng_next(uint64_t *x)
{
	*x = *x * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*x >> 33);
}

static void fill_s16(void *buf, size_t samples, uint64_t seed)
{
	int16_t *p = buf;

	for (size_t i = 0; i < samples; i++)
		p[i] = (int16_t)(rng_next(&seed) & 0xffff);
}

static void fill_sine_s16(int16_t *p, size_t frames, uint32_t ch, double rate, double freq, size_t offset)
{
	for (size_t f = 0; f < frames; f++)
		for (uint32_t c = 0; c < ch; c++)
			p[f * ch + c] = (int16_t)lrint(16000.0 * sin(2 * M_PI * freq * (double)(f + offset) / rate +
								   c * 0.5));
}

/* The deliberately slow configuration: S16 32 ch -> F32 31 ch over 4 MiB. */
#define SLOW_FRAG (4u << 20)
static void slow_params(struct vd_accel_params *p, uint32_t frags)
{
	params_init(p, VD_FORMAT_S16, 48000, 32, VD_FORMAT_F32, 48000, 31, SLOW_FRAG, frags);
}

/* ---- enumeration and capabilities ---- */

static void test_caps(void **state)
{
	const char *target = TARGET(state);
	struct vd_accel_caps caps[4], c;
	struct vd_accel_codec_caps cc;
	struct vd_accel *s = NULL;
	int n = vd_accel_list(target, caps, 4);
	bool pcm = false;

	assert_true(n >= 1);
	assert_string_equal(caps[0].name, "src");
	assert_int_equal(vd_accel_open(target, "no-such-accel", &s), -ENOENT);
	assert_null(s);
	s = open_with(target, NULL);
	assert_int_equal(vd_accel_state(s), VD_ACCEL_STATE_OPEN);
	assert_int_equal(vd_accel_get_caps(s, &c), 0);
	assert_string_equal(c.name, "src");
	for (uint32_t i = 0; i < c.num_codecs; i++)
		pcm |= c.codecs[i] == VD_ACCEL_CODEC_PCM;
	assert_true(pcm);
	assert_int_equal(c.min_fragments, 1);
	assert_int_equal(c.max_fragments, VD_ACCEL_MAX_TASKS);
	assert_true(c.min_fragment_size >= 1 && c.max_fragment_size >= SLOW_FRAG);

	assert_int_equal(vd_accel_get_codec_caps(s, VD_ACCEL_CODEC_PCM, &cc), 0);
	assert_int_equal(cc.codec, VD_ACCEL_CODEC_PCM);
	assert_true(cc.formats & VD_FORMAT_BIT(VD_FORMAT_S16));
	assert_true(cc.formats & VD_FORMAT_BIT(VD_FORMAT_F32));
	assert_true(cc.pcm_formats & VD_FORMAT_BIT(VD_FORMAT_S24_3));
	assert_true(cc.min_rate <= 8000 && cc.max_rate >= 192000);
	assert_int_equal(cc.max_channels, VD_MAX_CHANNELS);
	assert_true(cc.out_rate_min <= 8000 && cc.out_rate_max >= 192000);
	assert_int_equal(cc.num_qualities, VD_RESAMPLE_QUALITY_COUNT);
	assert_error(s, vd_accel_get_codec_caps(s, VD_ACCEL_CODEC_MP3, &cc), -EINVAL, "codec 2 is not offered");
	vd_accel_close(s);
}

/* ---- states and parameters ---- */

static void test_open_state(void **state)
{
	struct vd_accel *s = open_with(TARGET(state), NULL);
	struct vd_accel_task t = { 0 };
	struct vd_accel_task_status st = { .seqno = 1 };
	struct vd_accel_params p, got;

	/* Nothing but parameters is allowed in OPEN. */
	assert_error(s, vd_accel_task_create(s, &t), -EPERM, "OPEN");
	t.seqno = 1;
	assert_error(s, vd_accel_task_start(s, &t), -EPERM, "OPEN");
	assert_error(s, vd_accel_task_stop(s, 0), -EPERM, "OPEN");
	assert_error(s, vd_accel_task_free(s, 0), -EPERM, "OPEN");
	assert_error(s, vd_accel_task_status(s, &st), -EPERM, "OPEN");
	assert_error(s, vd_accel_get_params(s, &got), -EPERM, "OPEN");
	assert_error(s, vd_accel_wait(s, POLLIN, 0), -EPERM, "OPEN");
	assert_error(s, vd_accel_set_adjust(s, 1.0), -EPERM, "OPEN");
	params_init(&p, VD_FORMAT_S16, 48000, 2, VD_FORMAT_S16, 48000, 2, 1920, 4);
	assert_error(s, vd_accel_reconfigure(s, &p), -EPERM, "OPEN");
	/* The fd is neither readable nor writable until SETUP. */
	assert_int_equal(poll_now(s), 0);

	/* Defaults: output rate/channels/format 0 mean "as the input". */
	p.out.format = VD_FORMAT_UNKNOWN;
	p.out.rate = 0;
	p.out.channels = 0;
	assert_int_equal(vd_accel_set_params(s, &p), 0);
	assert_int_equal(vd_accel_state(s), VD_ACCEL_STATE_SETUP);
	assert_int_equal(vd_accel_get_params(s, &got), 0);
	assert_int_equal(got.out.format, VD_FORMAT_S16);
	assert_int_equal(got.out.rate, 48000);
	assert_int_equal(got.out.channels, 2);
	assert_int_equal(got.fragment_size, 1920);
	assert_int_equal(got.fragments, 4);
	assert_int_equal(poll_now(s), POLLOUT);
	/* SET_PARAMS is an OPEN-only call, as in the kernel. */
	assert_error(s, vd_accel_set_params(s, &p), -EPERM, "already set");
	vd_accel_close(s);
}

static void test_params_invalid(void **state)
{
	struct vd_accel *s = open_with(TARGET(state), NULL);
	struct vd_accel_params p;

	params_init(&p, VD_FORMAT_S16, 48000, 2, VD_FORMAT_S16, 48000, 2, 1920, 0);
	assert_error(s, vd_accel_set_params(s, &p), -EINVAL, "fragments must be 1..64 (got 0)");
	p.fragments = 65;
	assert_error(s, vd_accel_set_params(s, &p), -EINVAL, "fragments must be 1..64 (got 65)");
	p.fragments = 4;
	p.fragment_size = 0;
	assert_error(s, vd_accel_set_params(s, &p), -EINVAL, "fragment_size must be 1..");
	p.fragment_size = 3;
	assert_error(s, vd_accel_set_params(s, &p), -EINVAL, "smaller than one input frame (4 bytes)");
	p.fragment_size = 1920;
	p.codec = 99;
	assert_error(s, vd_accel_set_params(s, &p), -EINVAL, "codec 99 is not offered");
	p.codec = VD_ACCEL_CODEC_PCM;
	p.in.channels = 0;
	assert_error(s, vd_accel_set_params(s, &p), -EINVAL, "input channels must be 1..32 (got 0)");
	p.in.channels = 2;
	p.out.channels = 33;
	assert_error(s, vd_accel_set_params(s, &p), -EINVAL, "output channels must be 1..32 (got 33)");
	p.out.channels = 2;
	p.in.format = VD_FORMAT_COUNT;
	assert_error(s, vd_accel_set_params(s, &p), -EINVAL, "input format");
	p.in.format = VD_FORMAT_S16;
	p.in.rate = 10;
	assert_error(s, vd_accel_set_params(s, &p), -EINVAL, "input rate must be");
	p.in.rate = 48000;
	p.quality = VD_RESAMPLE_QUALITY_COUNT;
	assert_error(s, vd_accel_set_params(s, &p), -EINVAL, "unknown resampler quality");
	p.quality = VD_RESAMPLE_HIGH;
	/* Refusals leave the session in OPEN; a good set then works. */
	assert_int_equal(vd_accel_state(s), VD_ACCEL_STATE_OPEN);
	assert_int_equal(vd_accel_set_params(s, &p), 0);
	assert_int_equal(vd_accel_state(s), VD_ACCEL_STATE_SETUP);
	vd_accel_close(s);
}

/* ---- CREATE ---- */

static void test_create(void **state)
{
	struct vd_accel_params p;
	struct vd_accel *s;
	struct mtask m[3];
	struct vd_accel_task t = { 0 };
	int seals;

	/* Output buffer: sized for a full input, S16 stereo -> F32 6 ch = 6x. */
	params_init(&p, VD_FORMAT_S16, 48000, 2, VD_FORMAT_F32, 48000, 6, 4000, 3);
	s = open_with(TARGET(state), &p);
	t.origin_seqno = 1;
	assert_error(s, vd_accel_task_create(s, &t), -EINVAL, "origin_seqno 0 and input_size 0");
	t.origin_seqno = 0;
	t.input_size = 4;
	assert_error(s, vd_accel_task_create(s, &t), -EINVAL, "origin_seqno 0 and input_size 0");
	for (int i = 0; i < 3; i++) {
		create(s, &m[i]);
		assert_int_equal(m[i].in_len, 4000);
		assert_true(m[i].out_len >= 4000 / 4 * 6 * 4);
		assert_int_equal(status(s, m[i].t.seqno).state, VD_ACCEL_TASK_IDLE);
		for (int j = 0; j < i; j++)
			assert_true(m[i].t.seqno != m[j].t.seqno);
	}
	t.input_size = 0;
	assert_error(s, vd_accel_task_create(s, &t), -EBUSY, "task limit");

	/* Buffers are sealed memfds: no shrinking, no further seals. */
	seals = fcntl(m[0].t.input_fd, F_GET_SEALS);
	assert_true(seals >= 0);
	assert_true(seals & F_SEAL_SHRINK);
	assert_true(seals & F_SEAL_SEAL);
	assert_true(fcntl(m[0].t.output_fd, F_GET_SEALS) & F_SEAL_SHRINK);
	assert_int_equal(ftruncate(m[0].t.input_fd, 100), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(m[0].t.output_fd, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_true(fcntl(m[0].t.input_fd, F_GETFD) & FD_CLOEXEC);

	/* The caller owns its fds: closing them early does not hurt the task. */
	fill_s16(m[1].in, 1000 * 2, 7);
	munmap(m[1].in, m[1].in_len);
	close(m[1].t.input_fd);
	m[1].in = mmap(NULL, m[1].out_len, PROT_READ, MAP_SHARED, m[1].t.output_fd, 0);
	close(m[1].t.output_fd);
	munmap(m[1].out, m[1].out_len);
	m[1].out = m[1].in;
	assert_int_equal(start(s, &m[1], 4000, 0, false), 0);
	assert_int_equal(wait_done(s, m[1].t.seqno).output_size, 1000 * 6 * 4);
	munmap(m[1].out, m[1].out_len);
	unmap_task(&m[0]);
	unmap_task(&m[2]);
	vd_accel_close(s);
}

/* ---- START, STATUS, reuse ---- */

static void test_start_and_status(void **state)
{
	struct vd_accel_params p;
	struct vd_accel *s;
	struct mtask a, b;
	struct vd_accel_task_status st;
	struct vd_accel_task t;
	int16_t ref_in[960];
	float ref_out[960];
	uint64_t old;

	params_init(&p, VD_FORMAT_S16, 48000, 2, VD_FORMAT_F32, 48000, 2, 1920, 2);
	s = open_with(TARGET(state), &p);
	create(s, &a);
	create(s, &b);

	t = a.t;
	t.seqno = 999;
	t.input_size = 4;
	assert_error(s, vd_accel_task_start(s, &t), -EINVAL, "no task 999");
	assert_error(s, start(s, &a, 1924, 0, false), -EINVAL, "exceeds the input buffer");
	assert_error(s, start(s, &a, 6, 0, false), -EINVAL, "whole number of 4-byte frames");
	assert_error(s, start(s, &a, 4, 1u << 5, false), -EINVAL, "unknown task flags");
	t.seqno = 0;
	t.origin_seqno = 999;
	assert_error(s, vd_accel_task_start(s, &t), -EINVAL, "no task 999 to reuse");
	assert_int_equal(status(s, a.t.seqno).state, VD_ACCEL_TASK_IDLE);
	st.seqno = 12345;
	assert_error(s, vd_accel_task_status(s, &st), -EINVAL, "no task 12345");

	fill_s16(a.in, 960, 1);
	memcpy(ref_in, a.in, sizeof(ref_in));
	assert_int_equal(start(s, &a, 1920, 0, false), 0);
	st = wait_done(s, a.t.seqno);
	/* STATUS reports input_size as started and zeroes output_flags and the rest. */
	assert_int_equal(st.seqno, a.t.seqno);
	assert_int_equal(st.input_size, 1920);
	assert_int_equal(st.output_size, 960 * 4);
	assert_int_equal(st.output_flags, 0);
	assert_int_equal(st.state, VD_ACCEL_TASK_FINISHED);
	vd_convert_samples(VD_FORMAT_F32, ref_out, VD_FORMAT_S16, ref_in, 960, NULL);
	assert_memory_equal(a.out, ref_out, sizeof(ref_out));

	/* A FINISHED task is started again only through origin_seqno. */
	assert_error(s, start(s, &a, 1920, 0, false), -EBUSY, "reuse it with origin_seqno");
	old = a.t.seqno;
	fill_s16(a.in, 480, 2);
	assert_int_equal(start(s, &a, 960, 0, true), 0);
	assert_true(a.t.seqno != old);
	st.seqno = old;
	assert_error(s, vd_accel_task_status(s, &st), -EINVAL, "no task");
	st = wait_done(s, a.t.seqno);
	assert_int_equal(st.input_size, 960);
	assert_int_equal(st.output_size, 480 * 4);
	/* Seqnos stay unique: the next CREATE/START never hands out an old one. */
	assert_true(a.t.seqno > b.t.seqno);

	/* input_size 0 is a legal (empty) task. */
	assert_int_equal(start(s, &b, 0, 0, false), 0);
	assert_int_equal(wait_done(s, b.t.seqno).output_size, 0);
	unmap_task(&a);
	unmap_task(&b);
	vd_accel_close(s);
}

static void test_busy_active(void **state)
{
	struct vd_accel_params p;
	struct vd_accel *s;
	struct mtask a;

	slow_params(&p, 1);
	s = open_with(TARGET(state), &p);
	create(s, &a);
	fill_s16(a.in, SLOW_FRAG / 2, 3);
	assert_int_equal(start(s, &a, SLOW_FRAG, 0, false), 0);
	/* Timing: the task takes tens of milliseconds, these calls microseconds. */
	assert_int_equal(status(s, a.t.seqno).state, VD_ACCEL_TASK_ACTIVE);
	assert_error(s, start(s, &a, 64, 0, false), -EBUSY, "is active");
	assert_error(s, start(s, &a, 64, 0, true), -EBUSY, "still active");
	assert_int_equal(wait_done(s, a.t.seqno).output_size, SLOW_FRAG / 64 * 31 * 4);
	unmap_task(&a);
	vd_accel_close(s);
}

/* ---- FIFO order and poll readiness ---- */

static void test_fifo_order(void **state)
{
	struct vd_accel_params p;
	struct vd_accel *s;
	struct mtask m[4];
	uint64_t seq[4];
	int n_finished = 0;

	slow_params(&p, 4);
	p.fragment_size = 1u << 20;
	s = open_with(TARGET(state), &p);
	for (int i = 0; i < 4; i++) {
		create(s, &m[i]);
		fill_s16(m[i].in, p.fragment_size / 2, 10 + i);
	}
	/* START order differs from creation order. */
	int order[4] = { 2, 0, 3, 1 };
	for (int i = 0; i < 4; i++) {
		assert_int_equal(start(s, &m[order[i]], p.fragment_size, 0, false), 0);
		seq[i] = m[order[i]].t.seqno;
	}
	/* Whenever sampled, the finished tasks are a prefix of the START order. */
	while (n_finished < 4) {
		int done = 0;
		bool gap = false;
		bool in_before = poll_now(s) & POLLIN;
		for (int i = 0; i < 4; i++) {
			bool fin = status(s, seq[i]).state == VD_ACCEL_TASK_FINISHED;
			if (fin && gap)
				fail_msg("task %d finished before an earlier-started one", i);
			gap |= !fin;
			done += fin;
		}
		/* POLLIN is exactly "the oldest started task has finished" (sampled
		 * around the statuses, since tasks finish meanwhile). */
		if (in_before)
			assert_true(done > 0);
		if (done > 0)
			assert_true(poll_now(s) & POLLIN);
		n_finished = done;
		if (n_finished < 4)
			assert_true(vd_accel_wait(s, POLLIN, 2) >= 0);
	}
	for (int i = 0; i < 4; i++)
		unmap_task(&m[i]);
	vd_accel_close(s);
}

static void test_poll(void **state)
{
	struct vd_accel_params p;
	struct vd_accel *s;
	struct mtask a, b;

	slow_params(&p, 2);
	s = open_with(TARGET(state), &p);
	create(s, &a);
	create(s, &b);
	assert_int_equal(poll_now(s), POLLOUT);
	assert_int_equal(vd_accel_wait(s, POLLIN, 0), 0);
	assert_int_equal(vd_accel_wait(s, POLLOUT, 0), POLLOUT);

	/* A small task finishes: POLLIN, and POLLOUT (no task active). */
	fill_s16(a.in, 32, 1);
	assert_int_equal(start(s, &a, 64, 0, false), 0);
	wait_done(s, a.t.seqno);
	assert_int_equal(vd_accel_wait(s, POLLIN, 1000), POLLIN);
	assert_int_equal(poll_now(s), POLLIN | POLLOUT);

	/* b is slow: a (oldest, finished) keeps POLLIN; one of two active keeps POLLOUT. */
	fill_s16(b.in, SLOW_FRAG / 2, 2);
	assert_int_equal(start(s, &b, SLOW_FRAG, 0, false), 0);
	assert_int_equal(poll_now(s), POLLIN | POLLOUT);
	/* Reusing a moves it behind b: now the oldest is active, and 2 of 2 are active. */
	fill_s16(a.in, SLOW_FRAG / 2, 3);
	assert_int_equal(start(s, &a, SLOW_FRAG, 0, true), 0);
	assert_int_equal(status(s, b.t.seqno).state, VD_ACCEL_TASK_ACTIVE);	/* timing: tens of ms */
	assert_int_equal(poll_now(s), 0);
	assert_int_equal(vd_accel_wait(s, POLLOUT | POLLIN, 0), 0);
	/* Each direction comes back by itself. */
	assert_int_equal(vd_accel_wait(s, POLLOUT, 10000), POLLOUT);
	wait_done(s, b.t.seqno);
	assert_true(poll_now(s) & POLLIN);
	wait_done(s, a.t.seqno);
	assert_int_equal(poll_now(s), POLLIN | POLLOUT);
	/* Freeing every task leaves nothing to read. */
	assert_int_equal(vd_accel_task_free(s, 0), 0);
	assert_int_equal(poll_now(s), POLLOUT);
	unmap_task(&a);
	unmap_task(&b);
	vd_accel_close(s);
}

/*
 * The same rules through vd_accel_wait() alone, never taking the fd: the
 * engine then leaves the fd lazy (not maintained), and over the socket the
 * client waits on the submission ring. Each readiness change must still
 * reach a waiter, and a bounded wait must last its timeout.
 */
static void test_wait_lazy(void **state)
{
	struct vd_accel_params p;
	struct vd_accel *s;
	struct mtask a, b;
	double t0, el;

	slow_params(&p, 2);
	p.fragment_size = 4 * SLOW_FRAG;
	s = open_with(TARGET(state), &p);
	create(s, &a);
	create(s, &b);
	assert_int_equal(vd_accel_wait(s, POLLIN, 0), 0);
	assert_int_equal(vd_accel_wait(s, POLLOUT, 0), POLLOUT);
	assert_int_equal(vd_accel_wait(s, POLLIN | POLLOUT, 0), POLLOUT);
	/* Nothing is started: a bounded wait for POLLIN lasts its timeout. */
	t0 = now_s();
	assert_int_equal(vd_accel_wait(s, POLLIN, 100), 0);
	el = now_s() - t0;
	if (el < 0.099)
		fail_msg("a 100 ms wait returned after %.1f ms", el * 1e3);

	/* A small task finishes: POLLIN, and POLLOUT (no task active). */
	fill_s16(a.in, 32, 1);
	assert_int_equal(start(s, &a, 64, 0, false), 0);
	assert_int_equal(vd_accel_wait(s, POLLIN, 10000), POLLIN);
	assert_int_equal(status(s, a.t.seqno).state, VD_ACCEL_TASK_FINISHED);
	assert_int_equal(vd_accel_wait(s, POLLIN | POLLOUT, 0), POLLIN | POLLOUT);

	/* b is slow (four slow fragments, about 100 ms unloaded, so a VM pause between
	 * the next steps cannot let it finish first): a (oldest, finished) keeps POLLIN;
	 * one of two active keeps POLLOUT. Both inputs are written before b starts. */
	fill_s16(b.in, 4 * SLOW_FRAG / 2, 2);
	fill_s16(a.in, SLOW_FRAG / 2, 3);
	assert_int_equal(start(s, &b, 4 * SLOW_FRAG, 0, false), 0);
	assert_int_equal(vd_accel_wait(s, POLLIN | POLLOUT, 0), POLLIN | POLLOUT);
	/* Reusing a moves it behind b: the oldest is active, 2 of 2 are active. */
	assert_int_equal(start(s, &a, SLOW_FRAG, 0, true), 0);
	assert_int_equal(status(s, b.t.seqno).state, VD_ACCEL_TASK_ACTIVE);	/* timing: tens of ms */
	assert_int_equal(vd_accel_wait(s, POLLIN | POLLOUT, 0), 0);
	/* Each direction comes back by itself, to a waiter that slept for it. */
	assert_int_equal(vd_accel_wait(s, POLLOUT, 10000), POLLOUT);
	assert_int_equal(vd_accel_wait(s, POLLIN, -1), POLLIN);
	assert_int_equal(status(s, b.t.seqno).state, VD_ACCEL_TASK_FINISHED);
	/* Done with b: the oldest is a again, and an unbounded wait ends with it. */
	assert_int_equal(vd_accel_task_stop(s, b.t.seqno), 0);
	assert_int_equal(vd_accel_wait(s, POLLIN, -1), POLLIN);
	assert_int_equal(status(s, a.t.seqno).state, VD_ACCEL_TASK_FINISHED);
	assert_int_equal(vd_accel_wait(s, POLLIN | POLLOUT, 0), POLLIN | POLLOUT);
	assert_int_equal(vd_accel_task_free(s, 0), 0);
	assert_int_equal(vd_accel_wait(s, POLLIN | POLLOUT, 0), POLLOUT);
	unmap_task(&a);
	unmap_task(&b);
	vd_accel_close(s);
}

struct waiter_arg {
	struct vd_accel *s;
	short events;
	int timeout_ms, got;
};

static void *waiter_main(void *arg)
{
	struct waiter_arg *w = arg;

	w->got = vd_accel_wait(w->s, w->events, w->timeout_ms);
	return NULL;
}

/* Many threads asleep in vd_accel_wait() on one lazy session: every one
 * is woken by the change it waits for, none by a lost wake-up. */
static void test_wait_lazy_threads(void **state)
{
	struct vd_accel_params p;
	struct vd_accel *s;
	struct mtask m[4];
	struct waiter_arg w[8];
	pthread_t th[8];

	slow_params(&p, 4);
	p.fragment_size = 1u << 20;
	s = open_with(TARGET(state), &p);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 4; i++) {
			if (round == 0)
				create(s, &m[i]);
			fill_s16(m[i].in, p.fragment_size / 2, 20 + i);
			assert_int_equal(start(s, &m[i], p.fragment_size, 0, round > 0), 0);
		}
		/* Four of four active: neither direction until the first finishes.
		 * Half wait without limit (those for POLLIN may run the oldest task
		 * themselves), half with one. */
		for (int i = 0; i < 8; i++) {
			w[i] = (struct waiter_arg){ .s = s, .events = i % 2 ? POLLOUT : POLLIN,
						    .timeout_ms = i < 4 ? -1 : 20000 };
			assert_int_equal(pthread_create(&th[i], NULL, waiter_main, &w[i]), 0);
		}
		for (int i = 0; i < 8; i++) {
			pthread_join(th[i], NULL);
			if (w[i].got != w[i].events)
				fail_msg("round %d, waiter %d (%s, %d ms): got %d", round, i,
					 w[i].events == POLLIN ? "POLLIN" : "POLLOUT", w[i].timeout_ms, w[i].got);
		}
		/* POLLIN meant the oldest had finished. */
		assert_int_equal(status(s, m[0].t.seqno).state, VD_ACCEL_TASK_FINISHED);
		for (int i = 0; i < 4; i++)
			wait_done(s, m[i].t.seqno);
	}
	for (int i = 0; i < 4; i++)
		unmap_task(&m[i]);
	vd_accel_close(s);
}

/* Readiness can only grow between two samples when nothing is started,
 * stopped or freed: the fd, asked for in between, must show a state
 * between them. */
static void assert_fd_between(struct vd_accel *s)
{
	int before = vd_accel_wait(s, POLLIN | POLLOUT, 0);
	int fd = poll_now(s);
	int after = vd_accel_wait(s, POLLIN | POLLOUT, 0);

	if ((before & ~fd) || (fd & ~after))
		fail_msg("fd shows 0x%x, between waits that saw 0x%x and 0x%x", fd, before, after);
}

/* The fd asked for in the middle of a stream is exact at once, and stays so. */
static void test_fd_midstream(void **state)
{
	struct vd_accel_params p;
	struct vd_accel *s;
	struct mtask a, b;

	slow_params(&p, 2);
	p.fragment_size = 1u << 20;
	s = open_with(TARGET(state), &p);
	create(s, &a);
	create(s, &b);
	fill_s16(a.in, p.fragment_size / 2, 4);
	fill_s16(b.in, p.fragment_size / 2, 5);
	assert_int_equal(start(s, &a, p.fragment_size, 0, false), 0);
	assert_int_equal(start(s, &b, p.fragment_size, 0, false), 0);
	/* Both active (a fresh fd would say POLLOUT), or some finished by now:
	 * either way the fd agrees with the waits around it. */
	assert_fd_between(s);
	assert_int_equal(vd_accel_wait(s, POLLIN, 10000), POLLIN);
	assert_true(poll_now(s) & POLLIN);
	wait_done(s, b.t.seqno);
	assert_int_equal(poll_now(s), POLLIN | POLLOUT);
	/* From now on the fd follows every change. */
	assert_int_equal(start(s, &a, p.fragment_size, 0, true), 0);
	assert_fd_between(s);
	assert_int_equal(vd_accel_task_stop(s, b.t.seqno), 0);
	assert_fd_between(s);
	wait_done(s, a.t.seqno);
	assert_int_equal(poll_now(s), POLLIN | POLLOUT);
	assert_int_equal(vd_accel_wait(s, POLLIN | POLLOUT, 0), POLLIN | POLLOUT);
	assert_int_equal(vd_accel_task_free(s, 0), 0);
	assert_int_equal(poll_now(s), POLLOUT);
	unmap_task(&a);
	unmap_task(&b);
	vd_accel_close(s);
}

/* ---- STOP, FREE, close ---- */

static void test_stop(void **state)
{
	struct vd_accel_params p;
	struct vd_accel *s;
	struct mtask a, b, c;
	struct vd_accel_task_status st;
	double t0, full, stop_time;

	slow_params(&p, 3);
	s = open_with(TARGET(state), &p);
	create(s, &a);
	create(s, &b);
	create(s, &c);
	fill_s16(a.in, SLOW_FRAG / 2, 1);
	fill_s16(b.in, SLOW_FRAG / 2, 2);
	fill_s16(c.in, SLOW_FRAG / 2, 3);

	/* How long one slow task takes here. */
	t0 = now_s();
	assert_int_equal(start(s, &a, SLOW_FRAG, 0, false), 0);
	wait_done(s, a.t.seqno);
	full = now_s() - t0;

	/* a running, b and c queued: STOP b dequeues it without touching a or c. */
	assert_int_equal(start(s, &a, SLOW_FRAG, VD_ACCEL_TASK_NEW_STREAM, true), 0);
	assert_int_equal(start(s, &b, SLOW_FRAG, 0, false), 0);
	assert_int_equal(start(s, &c, SLOW_FRAG, 0, false), 0);
	assert_int_equal(vd_accel_task_stop(s, b.t.seqno), 0);
	st = status(s, b.t.seqno);
	assert_int_equal(st.state, VD_ACCEL_TASK_IDLE);
	assert_int_equal(st.output_size, 0);
	assert_int_equal(wait_done(s, a.t.seqno).output_size, SLOW_FRAG / 64 * 31 * 4);
	assert_int_equal(wait_done(s, c.t.seqno).output_size, SLOW_FRAG / 64 * 31 * 4);
	assert_int_equal(status(s, b.t.seqno).state, VD_ACCEL_TASK_IDLE);

	/* STOP of a running task returns at once (it never waits for the conversion). The best
	 * of three: a STOP that waited would be slow every time, a VM pause only once. */
	stop_time = 1e9;
	for (int k = 0; k < 3; k++) {
		assert_int_equal(start(s, &b, SLOW_FRAG, 0, false), 0);
		t0 = now_s();
		assert_int_equal(vd_accel_task_stop(s, b.t.seqno), 0);
		if (now_s() - t0 < stop_time)
			stop_time = now_s() - t0;
		assert_int_equal(status(s, b.t.seqno).state, VD_ACCEL_TASK_IDLE);
	}
	if (stop_time > full / 4)
		fail_msg("STOP took %.3f ms (best of 3), the conversion %.3f ms", stop_time * 1e3, full * 1e3);
	/* The stopped task can be started again and converts correctly. */
	{
		float ref[31 * 4];
		struct mtask *x = &b;
		assert_int_equal(start(s, x, SLOW_FRAG, VD_ACCEL_TASK_NEW_STREAM, false), 0);
		assert_int_equal(wait_done(s, x->t.seqno).output_size, SLOW_FRAG / 64 * 31 * 4);
		memcpy(ref, x->out, sizeof(ref));
		/* Same input through a task that was never stopped: identical output. */
		memcpy(c.in, b.in, 64 * 4);
		assert_int_equal(start(s, &c, 64 * 4, VD_ACCEL_TASK_NEW_STREAM, true), 0);
		assert_int_equal(wait_done(s, c.t.seqno).output_size, 4 * 31 * 4);
		assert_memory_equal(c.out, ref, sizeof(ref));
	}

	/* STOP of IDLE is a no-op, of FINISHED makes it IDLE (output_size kept), unknown is -EINVAL. */
	assert_int_equal(vd_accel_task_stop(s, b.t.seqno), 0);
	assert_int_equal(status(s, b.t.seqno).state, VD_ACCEL_TASK_IDLE);
	assert_int_equal(status(s, b.t.seqno).output_size, SLOW_FRAG / 64 * 31 * 4);
	assert_error(s, vd_accel_task_stop(s, 4242), -EINVAL, "no task 4242");

	/* STOP all with 0. */
	assert_int_equal(start(s, &b, SLOW_FRAG, 0, false), 0);
	assert_int_equal(start(s, &a, SLOW_FRAG, 0, true), 0);
	assert_int_equal(vd_accel_task_stop(s, 0), 0);
	assert_int_equal(status(s, a.t.seqno).state, VD_ACCEL_TASK_IDLE);
	assert_int_equal(status(s, b.t.seqno).state, VD_ACCEL_TASK_IDLE);
	assert_int_equal(status(s, c.t.seqno).state, VD_ACCEL_TASK_IDLE);
	assert_int_equal(poll_now(s), POLLOUT);
	unmap_task(&a);
	unmap_task(&b);
	unmap_task(&c);
	vd_accel_close(s);
}

static void test_task_free(void **state)
{
	struct vd_accel_params p;
	struct vd_accel *s;
	struct mtask m[4];
	struct vd_accel_task_status st;

	slow_params(&p, 4);
	s = open_with(TARGET(state), &p);
	for (int i = 0; i < 4; i++) {
		create(s, &m[i]);
		fill_s16(m[i].in, SLOW_FRAG / 2, i);
	}
	/* FREE one (idle), then unknown. */
	assert_int_equal(vd_accel_task_free(s, m[3].t.seqno), 0);
	st.seqno = m[3].t.seqno;
	assert_error(s, vd_accel_task_status(s, &st), -EINVAL, "no task");
	assert_error(s, vd_accel_task_free(s, m[3].t.seqno), -EINVAL, "no task");
	/* The caller's fds outlive the task. */
	assert_int_equal(fd_size(m[3].t.input_fd), SLOW_FRAG);
	unmap_task(&m[3]);
	create(s, &m[3]);

	/* FREE one running task, then all while the others are running and queued. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(start(s, &m[i], SLOW_FRAG, 0, false), 0);
	assert_int_equal(vd_accel_task_free(s, m[0].t.seqno), 0);
	assert_int_equal(vd_accel_task_free(s, 0), 0);
	for (int i = 0; i < 4; i++) {
		st.seqno = m[i].t.seqno;
		assert_int_equal(vd_accel_task_status(s, &st), -EINVAL);
	}
	assert_int_equal(poll_now(s), POLLOUT);
	/* The task limit counts allocated tasks: all four can be created again. */
	for (int i = 0; i < 4; i++) {
		unmap_task(&m[i]);
		create(s, &m[i]);
	}
	/* FREE of a finished task. */
	assert_int_equal(start(s, &m[0], 64, 0, false), 0);
	wait_done(s, m[0].t.seqno);
	assert_int_equal(vd_accel_task_free(s, m[0].t.seqno), 0);
	for (int i = 0; i < 4; i++)
		unmap_task(&m[i]);
	vd_accel_close(s);
}

/*
 * 64 tasks (the most a session has), reused, stopped, freed and created
 * again for thousands of seqnos: every seqno must keep finding its own
 * task (the output is its own input: a same-format copy), every retired
 * seqno must be unknown, and tasks must still finish in START order.
 */
static void test_many_seqnos(void **state)
{
	enum { N = 64, FRAG = 256, ROUNDS = 40 };
	struct vd_accel_params p;
	struct vd_accel *s;
	struct mtask m[N];
	uint64_t retired[N], rng = 12345;
	int order[N], n_order;
	unsigned tag = 0;

	params_init(&p, VD_FORMAT_S16, 48000, 2, VD_FORMAT_S16, 48000, 2, FRAG, N);
	s = open_with(TARGET(state), &p);
	for (int i = 0; i < N; i++)
		create(s, &m[i]);
	for (int round = 0; round < ROUNDS; round++) {
		/* START a shuffled subset (all of them every fourth round) */
		n_order = 0;
		for (int i = 0; i < N; i++) {
			rng = rng * 6364136223846793005u + 1442695040888963407u;
			if (round % 4 && (rng >> 33) % 3 == 0)
				continue;
			order[n_order++] = i;
		}
		for (int k = n_order - 1; k > 0; k--) {
			rng = rng * 6364136223846793005u + 1442695040888963407u;
			int j = (int)((rng >> 33) % (uint64_t)(k + 1)), t = order[k];
			order[k] = order[j];
			order[j] = t;
		}
		for (int k = 0; k < n_order; k++) {
			struct mtask *t = &m[order[k]];
			uint32_t n = 4u * (1 + (++tag % (FRAG / 4)));

			for (uint32_t b = 0; b < n; b++)
				t->in[b] = (uint8_t)(tag * 7 + b);
			retired[k] = t->t.seqno;
			/* a task not started since it was created or stopped is IDLE: START by seqno */
			assert_int_equal(start(s, t, n, 0, status(s, t->t.seqno).state == VD_ACCEL_TASK_FINISHED), 0);
			t->t.input_size = n;
			t->t.flags = tag;
		}
		for (int k = 0; k < n_order; k++) {
			struct mtask *t = &m[order[k]];
			struct vd_accel_task_status st = wait_done(s, t->t.seqno);

			assert_int_equal(st.seqno, t->t.seqno);
			assert_int_equal(st.input_size, t->t.input_size);
			assert_int_equal(st.output_size, t->t.input_size);
			for (uint32_t b = 0; b < t->t.input_size; b++)
				if (t->out[b] != (uint8_t)(t->t.flags * 7 + b))
					fail_msg("round %d: task %llu has another task's output", round,
						 (unsigned long long)t->t.seqno);
			/* tasks finish in START order: the later ones cannot be done before this one */
			if (retired[k] != t->t.seqno) {
				struct vd_accel_task_status old = { .seqno = retired[k] };
				assert_error(s, vd_accel_task_status(s, &old), -EINVAL, "no task");
			}
		}
		/* retire some: STOP one, FREE two and create them again */
		rng = rng * 6364136223846793005u + 1442695040888963407u;
		int a = (int)((rng >> 33) % N), b = (a + 1 + (int)((rng >> 40) % (N - 1))) % N, c = (b + 1) % N;
		if (c == a)
			c = (c + 1) % N;
		assert_int_equal(vd_accel_task_stop(s, m[a].t.seqno), 0);
		assert_int_equal(status(s, m[a].t.seqno).state, VD_ACCEL_TASK_IDLE);
		for (int f = 0; f < 2; f++) {
			struct mtask *t = &m[f ? c : b];
			uint64_t gone = t->t.seqno;
			struct vd_accel_task_status st = { .seqno = gone };

			assert_int_equal(vd_accel_task_free(s, gone), 0);
			assert_error(s, vd_accel_task_status(s, &st), -EINVAL, "no task");
			assert_error(s, vd_accel_task_free(s, gone), -EINVAL, "no task");
			unmap_task(t);
			create(s, t);
			assert_true(t->t.seqno > gone);
		}
	}
	for (int i = 0; i < N; i++)
		unmap_task(&m[i]);
	vd_accel_close(s);
}

/* FREE from several threads at once: every walk must survive the others' frees. */
struct freer {
	struct vd_accel *s;
	pthread_barrier_t *go;
	const uint64_t *seqnos;	/* NULL: FREE all (0); else FREE these one by one */
	int n, bad;
};

static void *freer_thread(void *arg)
{
	struct freer *f = arg;

	pthread_barrier_wait(f->go);
	if (!f->seqnos) {
		if (vd_accel_task_free(f->s, 0) != 0)
			f->bad++;
		return NULL;
	}
	for (int i = 0; i < f->n; i++) {
		/* another thread may have freed it first: then it is unknown */
		int r = vd_accel_task_free(f->s, f->seqnos[i]);
		if (r != 0 && r != -EINVAL)
			f->bad++;
		struct vd_accel_task_status st = { .seqno = f->seqnos[i] };
		if (vd_accel_task_status(f->s, &st) != -EINVAL)
			f->bad++;	/* after FREE returned, the task is gone */
	}
	return NULL;
}

static void test_free_concurrent(void **state)
{
	enum { N = 6 };
	struct vd_accel_params p;
	struct vd_accel *s;
	struct mtask m[N];
	uint64_t seq[N], rev[N];
	pthread_barrier_t go;

	slow_params(&p, N);
	p.fragment_size = 1u << 20;
	s = open_with(TARGET(state), &p);
	for (int round = 0; round < 4; round++) {
		pthread_t th[3];
		struct freer f[3];

		/* one task running, the others queued behind it; the last stays IDLE */
		for (int i = 0; i < N; i++) {
			create(s, &m[i]);
			fill_s16(m[i].in, p.fragment_size / 2, (uint64_t)round * N + i);
			if (i < N - 1)
				assert_int_equal(start(s, &m[i], p.fragment_size, 0, false), 0);
			seq[i] = m[i].t.seqno;
			rev[N - 1 - i] = seq[i];
		}
		/* two FREE-alls and one thread freeing each task (in reverse START order) */
		assert_int_equal(pthread_barrier_init(&go, NULL, 3), 0);
		for (int k = 0; k < 3; k++) {
			f[k] = (struct freer){ .s = s, .go = &go, .seqnos = k == 2 ? rev : NULL, .n = N };
			assert_int_equal(pthread_create(&th[k], NULL, freer_thread, &f[k]), 0);
		}
		for (int k = 0; k < 3; k++) {
			pthread_join(th[k], NULL);
			if (f[k].bad)
				fail_msg("round %d, thread %d: %d unexpected results", round, k, f[k].bad);
		}
		pthread_barrier_destroy(&go);
		for (int i = 0; i < N; i++) {
			struct vd_accel_task_status st = { .seqno = seq[i] };
			assert_error(s, vd_accel_task_status(s, &st), -EINVAL, "no task");
			unmap_task(&m[i]);
		}
		/* nothing left: nothing to read, room for all the tasks again */
		assert_int_equal(poll_now(s), POLLOUT);
	}
	/* the session still converts correctly */
	{
		struct mtask a;
		float ref[31 * 4];
		int16_t src[32 * 4];

		create(s, &a);
		fill_s16(src, 32 * 4, 77);
		memcpy(a.in, src, sizeof(src));
		assert_int_equal(start(s, &a, sizeof(src), VD_ACCEL_TASK_NEW_STREAM, false), 0);
		assert_int_equal(wait_done(s, a.t.seqno).output_size, sizeof(ref));
		/* 32 -> 31 channels is the standard matrix; compare with a fresh session's result */
		memcpy(ref, a.out, sizeof(ref));
		struct vd_accel *s2 = open_with(TARGET(state), &p);
		struct mtask b;
		create(s2, &b);
		memcpy(b.in, src, sizeof(src));
		assert_int_equal(start(s2, &b, sizeof(src), VD_ACCEL_TASK_NEW_STREAM, false), 0);
		assert_int_equal(wait_done(s2, b.t.seqno).output_size, sizeof(ref));
		assert_memory_equal(b.out, ref, sizeof(ref));
		unmap_task(&b);
		vd_accel_close(s2);
		unmap_task(&a);
	}
	vd_accel_close(s);
}

static void test_close_active(void **state)
{
	struct vd_accel_params p;
	struct vd_accel *s;
	struct mtask m[3];

	/* Close with one running and two queued tasks: no wait for them, no leak. */
	slow_params(&p, 3);
	s = open_with(TARGET(state), &p);
	for (int i = 0; i < 3; i++) {
		create(s, &m[i]);
		fill_s16(m[i].in, SLOW_FRAG / 2, i);
		assert_int_equal(start(s, &m[i], SLOW_FRAG, 0, false), 0);
	}
	double t0 = now_s();
	vd_accel_close(s);
	/* Timing: three conversions would take well over 20 ms. */
	assert_true(now_s() - t0 < 5.0);
	/* The caller's mappings are still valid after close. */
	m[0].in[0] ^= 1;
	for (int i = 0; i < 3; i++)
		unmap_task(&m[i]);
}

/* ---- streams ---- */

/* Convert @in whole (one task, NEW_STREAM|END_OF_STREAM) and return the output. */
static uint8_t *convert_whole(struct vd_accel *s, const uint8_t *in, size_t n, size_t *out_n)
{
	struct mtask m;
	uint8_t *res;

	create(s, &m);
	assert_true(n <= m.in_len);
	memcpy(m.in, in, n);
	assert_int_equal(start(s, &m, n, VD_ACCEL_TASK_NEW_STREAM | VD_ACCEL_TASK_END_OF_STREAM, false), 0);
	struct vd_accel_task_status st = wait_done(s, m.t.seqno);
	assert_true(st.output_flags & VD_ACCEL_OUT_END_OF_STREAM);
	*out_n = st.output_size;
	res = malloc(st.output_size + 1);
	memcpy(res, m.out, st.output_size);
	assert_int_equal(vd_accel_task_free(s, m.t.seqno), 0);
	unmap_task(&m);
	return res;
}

/* Convert @in in random splits over @ntasks tasks in flight; returns the concatenation. */
static uint8_t *convert_split(struct vd_accel *s, const uint8_t *in, size_t n, size_t frame, uint32_t frag,
			      uint32_t ntasks, uint64_t seed, size_t *out_n)
{
	struct mtask m[8];
	size_t cap = 1 << 20, got = 0, pos = 0;
	uint8_t *res = malloc(cap);
	int head = 0, inflight = 0, next = 0;
	bool first = true;

	assert_true(ntasks <= 8);
	for (uint32_t i = 0; i < ntasks; i++)
		create(s, &m[i]);
	while (pos < n || inflight) {
		if (pos < n && inflight < (int)ntasks) {
			struct mtask *t = &m[next];
			size_t len = (rng_next(&seed) % (frag / frame + 1)) * frame;	/* may be 0 */
			uint32_t flags = first ? VD_ACCEL_TASK_NEW_STREAM : 0;
			if (len > n - pos)
				len = n - pos;
			if (pos + len == n)
				flags |= VD_ACCEL_TASK_END_OF_STREAM;
			memcpy(t->in, in + pos, len);
			bool reused = status(s, t->t.seqno).state == VD_ACCEL_TASK_FINISHED;
			assert_int_equal(start(s, t, len, flags, reused), 0);
			pos += len;
			first = false;
			inflight++;
			next = (next + 1) % ntasks;
			continue;
		}
		struct mtask *t = &m[head];
		struct vd_accel_task_status st = wait_done(s, t->t.seqno);
		if (got + st.output_size > cap) {
			cap = 2 * (got + st.output_size);
			res = realloc(res, cap);
		}
		memcpy(res + got, t->out, st.output_size);
		got += st.output_size;
		head = (head + 1) % ntasks;
		inflight--;
	}
	for (uint32_t i = 0; i < ntasks; i++) {
		assert_int_equal(vd_accel_task_free(s, m[i].t.seqno), 0);
		unmap_task(&m[i]);
	}
	*out_n = got;
	return res;
}

static void split_case(const char *target, enum vd_sample_format fi, uint32_t ri, uint32_t ci,
		       enum vd_sample_format fo, uint32_t ro, uint32_t co, size_t frames)
{
	struct vd_accel_params p;
	struct vd_audio_format af;
	size_t frame, n, whole_n, split_n;
	uint8_t *in, *whole, *split;
	struct vd_accel *s;

	vd_audio_format_init(&af, fi, ri, ci);
	frame = vd_format_frame_size(&af);
	n = frames * frame;
	in = malloc(n);
	/* A sine in S16, converted to the input format: real audio, not noise at full scale. */
	{
		int16_t *tmp = malloc(frames * ci * 2);
		fill_sine_s16(tmp, frames, ci, ri, 997.0, 0);
		vd_convert_samples(fi, in, VD_FORMAT_S16, tmp, frames * ci, NULL);
		free(tmp);
	}
	params_init(&p, fi, ri, ci, fo, ro, co, (uint32_t)(n < 65536 ? n : 65536), 8);
	if (p.fragment_size < frame)
		p.fragment_size = (uint32_t)frame;
	s = open_with(target, &p);
	/* The whole conversion needs a buffer for the whole input. */
	p.fragment_size = (uint32_t)n;
	struct vd_accel *w = open_with(target, &p);
	whole = convert_whole(w, in, n, &whole_n);
	vd_accel_close(w);
	if (ri != ro) {
		/* END_OF_STREAM makes the total exact: round(n * out / in). */
		uint64_t want = ((uint64_t)frames * ro + ri / 2) / ri;
		vd_audio_format_init(&af, fo, ro, co);
		assert_int_equal(whole_n, want * vd_format_frame_size(&af));
	}
	for (uint64_t seed = 1; seed <= 6; seed++) {
		p.fragment_size = 1 + (uint32_t)(seed * 7919 % 8192);
		if (p.fragment_size < frame)
			p.fragment_size = (uint32_t)frame;
		/* Another task size per split (the reconfigure extension). */
		assert_int_equal(vd_accel_reconfigure(s, &p), 0);
		split = convert_split(s, in, n, frame, (uint32_t)(p.fragment_size / frame * frame),
				      1 + (uint32_t)(seed % 4), seed, &split_n);
		assert_int_equal(split_n, whole_n);
		if (memcmp(split, whole, whole_n) != 0) {
			size_t i = 0;
			while (split[i] == whole[i])
				i++;
			fail_msg("split %llu differs from the whole conversion at byte %zu of %zu",
				 (unsigned long long)seed, i, whole_n);
		}
		free(split);
	}
	vd_accel_close(s);
	free(whole);
	free(in);
}

static void test_split_invariance(void **state)
{
	const char *target = TARGET(state);

	split_case(target, VD_FORMAT_S16, 48000, 2, VD_FORMAT_F32, 48000, 1, 20000);
	split_case(target, VD_FORMAT_S24_3, 48000, 2, VD_FORMAT_S16, 48000, 6, 5000);
	split_case(target, VD_FORMAT_S16, 44100, 2, VD_FORMAT_S16, 48000, 2, 30000);
	split_case(target, VD_FORMAT_F32, 48000, 1, VD_FORMAT_S24_3, 16000, 2, 30000);
	split_case(target, VD_FORMAT_S16, 8000, 6, VD_FORMAT_F32, 44100, 2, 8000);
}

static void test_new_stream(void **state)
{
	struct vd_accel_params p;
	struct vd_accel *s;
	struct mtask a;
	const uint32_t frames = 4410;
	const uint32_t ro = 48000;
	uint8_t *first;
	struct vd_accel_task_status st;

	params_init(&p, VD_FORMAT_S16, 44100, 2, VD_FORMAT_S16, ro, 2, frames * 4, 1);
	s = open_with(TARGET(state), &p);
	create(s, &a);
	fill_sine_s16((int16_t *)a.in, frames, 2, 44100, 440.0, 0);
	assert_int_equal(start(s, &a, frames * 4, VD_ACCEL_TASK_NEW_STREAM, false), 0);
	st = wait_done(s, a.t.seqno);
	assert_int_equal(st.output_flags, 0);
	first = malloc(st.output_size);
	memcpy(first, a.out, st.output_size);
	uint64_t first_n = st.output_size;

	/* The same input again with NEW_STREAM: identical output (history forgotten). */
	assert_int_equal(start(s, &a, frames * 4, VD_ACCEL_TASK_NEW_STREAM, true), 0);
	st = wait_done(s, a.t.seqno);
	assert_int_equal(st.output_size, first_n);
	assert_memory_equal(a.out, first, first_n);
	/* Without it, the converter continues from the previous task's history. */
	assert_int_equal(start(s, &a, frames * 4, 0, true), 0);
	st = wait_done(s, a.t.seqno);
	assert_true(st.output_size != first_n || memcmp(a.out, first, first_n) != 0);
	/* END_OF_STREAM: drained (flagged), and the next task starts a new stream by itself. */
	assert_int_equal(start(s, &a, frames * 4, VD_ACCEL_TASK_NEW_STREAM | VD_ACCEL_TASK_END_OF_STREAM, true), 0);
	st = wait_done(s, a.t.seqno);
	assert_int_equal(st.output_flags, VD_ACCEL_OUT_END_OF_STREAM);
	assert_int_equal(st.output_size, (uint64_t)frames * ro / 44100 * 4);
	assert_int_equal(start(s, &a, frames * 4, 0, true), 0);
	st = wait_done(s, a.t.seqno);
	assert_int_equal(st.output_size, first_n);
	assert_memory_equal(a.out, first, first_n);
	free(first);
	unmap_task(&a);
	vd_accel_close(s);
}

/* ---- extensions ---- */

static void test_reconfigure(void **state)
{
	struct vd_accel_params p;
	struct vd_accel *s;
	struct mtask a, b;
	int16_t ref_in[2000];
	int32_t ref_out[2000];

	slow_params(&p, 2);
	s = open_with(TARGET(state), &p);
	create(s, &a);
	create(s, &b);
	fill_s16(a.in, SLOW_FRAG / 2, 5);
	assert_int_equal(start(s, &a, SLOW_FRAG, 0, false), 0);
	params_init(&p, VD_FORMAT_S16, 48000, 2, VD_FORMAT_S32, 48000, 2, SLOW_FRAG, 2);
	assert_error(s, vd_accel_reconfigure(s, &p), -EBUSY, "still active");	/* timing: a is slow */
	wait_done(s, a.t.seqno);
	p.fragments = 1;
	assert_error(s, vd_accel_reconfigure(s, &p), -EBUSY, "below the 2 tasks allocated");
	p.fragments = 2;
	p.fragment_size = 0;
	assert_error(s, vd_accel_reconfigure(s, &p), -EINVAL, "fragment_size must be");
	/* A refused reconfigure changes nothing. */
	struct vd_accel_params got;
	assert_int_equal(vd_accel_get_params(s, &got), 0);
	assert_int_equal(got.in.channels, 32);

	/* S16 2 ch -> S32 2 ch, bigger input buffer: existing tasks grow in place. */
	p.fragment_size = SLOW_FRAG + 4000;
	assert_int_equal(vd_accel_reconfigure(s, &p), 0);
	assert_int_equal(fd_size(a.t.input_fd), SLOW_FRAG + 4000);
	assert_true(fd_size(a.t.output_fd) >= (size_t)(SLOW_FRAG + 4000) * 2);
	unmap_task(&a);
	a.t.input_fd = fcntl(b.t.input_fd, F_DUPFD_CLOEXEC, 0);	/* remap b through a's slot */
	a.t.output_fd = fcntl(b.t.output_fd, F_DUPFD_CLOEXEC, 0);
	a.t.seqno = b.t.seqno;
	map_task(&a);
	fill_s16(ref_in, 2000, 9);
	memcpy(a.in + SLOW_FRAG, ref_in, 4000);
	assert_int_equal(start(s, &a, SLOW_FRAG + 4000, 0, false), 0);
	assert_int_equal(wait_done(s, a.t.seqno).output_size, (SLOW_FRAG + 4000) * 2);
	vd_convert_samples(VD_FORMAT_S32, ref_out, VD_FORMAT_S16, ref_in, 2000, NULL);
	assert_memory_equal(a.out + SLOW_FRAG * 2, ref_out, sizeof(ref_out));
	unmap_task(&a);
	unmap_task(&b);
	vd_accel_close(s);
}

static void test_set_adjust(void **state)
{
	struct vd_accel_params p;
	struct vd_accel *s;

	params_init(&p, VD_FORMAT_S16, 48000, 2, VD_FORMAT_S16, 48000, 2, 1920, 2);
	s = open_with(TARGET(state), &p);
	assert_error(s, vd_accel_set_adjust(s, 1.5), -EINVAL, "within [0.98, 1.02]");
	assert_error(s, vd_accel_set_adjust(s, 1.001), -EOPNOTSUPP, "needs a rate-converting session");
	vd_accel_close(s);
	{
		const uint32_t frames = 44100;
		struct mtask a;
		uint64_t nominal = 0, steered = 0;

		params_init(&p, VD_FORMAT_S16, 44100, 1, VD_FORMAT_S16, 48000, 1, frames * 2 / 10, 1);
		s = open_with(TARGET(state), &p);
		create(s, &a);
		/* One second in ten tasks, nominal then steered 1% faster output. */
		for (int pass = 0; pass < 2; pass++) {
			uint64_t *sum = pass ? &steered : &nominal;
			if (pass)
				assert_int_equal(vd_accel_set_adjust(s, 1.01), 0);
			for (int i = 0; i < 10; i++) {
				fill_sine_s16((int16_t *)a.in, frames / 10, 1, 44100, 440.0, i * frames / 10);
				bool reuse = status(s, a.t.seqno).state == VD_ACCEL_TASK_FINISHED;
				assert_int_equal(start(s, &a, frames / 10 * 2, i == 0 ? VD_ACCEL_TASK_NEW_STREAM : 0,
						       reuse), 0);
				*sum += wait_done(s, a.t.seqno).output_size / 2;
			}
		}
		/* adjust > 1 yields more output frames per input (docs/src.md); 1% of 48000 = 480. */
		double ratio = (double)steered / (double)nominal;
		if (fabs(ratio - 1.01) > 0.003 && fabs(ratio - 1.0 / 1.01) > 0.003)
			fail_msg("adjust 1.01 changed the output by a ratio of %.5f", ratio);
		unmap_task(&a);
		vd_accel_close(s);
	}
}

/* GET_METADATA on a PCM session: its parameters, by the same rules of state as STATUS. */
static void check_pcm_metadata(const struct vd_accel_metadata *md)
{
	assert_int_equal(md->codec, VD_ACCEL_CODEC_PCM);
	assert_int_equal(md->flags, VD_ACCEL_META_VALID);
	assert_int_equal(md->rate, 48000);
	assert_int_equal(md->channels, 32);
	assert_int_equal(md->decoded_format, VD_FORMAT_S16);
	assert_int_equal(md->out_format, VD_FORMAT_F32);
	assert_int_equal(md->out_rate, 48000);
	assert_int_equal(md->out_channels, 31);
	assert_int_equal(md->error, 0);
	assert_int_equal(md->bits, 0);
	assert_int_equal(md->error_text[0], 0);
}

static void test_metadata(void **state)
{
	struct vd_accel_params p;
	struct vd_accel_metadata md;
	struct vd_accel *s = open_with(TARGET(state), NULL);
	struct mtask a;

	assert_error(s, vd_accel_get_metadata(s, 0, &md), -EPERM, "GET_METADATA needs parameters first");
	vd_accel_close(s);

	slow_params(&p, 1);
	s = open_with(TARGET(state), &p);
	memset(&md, 0xa5, sizeof(md));
	assert_int_equal(vd_accel_get_metadata(s, 0, &md), 0);
	check_pcm_metadata(&md);
	create(s, &a);
	/* a task has metadata once FINISHED: not while IDLE, not while ACTIVE */
	assert_error(s, vd_accel_get_metadata(s, a.t.seqno, &md), -EBUSY, "is not finished");
	fill_s16(a.in, SLOW_FRAG / 2, 4);
	assert_int_equal(start(s, &a, SLOW_FRAG, 0, false), 0);
	assert_error(s, vd_accel_get_metadata(s, a.t.seqno, &md), -EBUSY, "is not finished");	/* timing: tens of ms */
	wait_done(s, a.t.seqno);
	memset(&md, 0xa5, sizeof(md));
	assert_int_equal(vd_accel_get_metadata(s, a.t.seqno, &md), 0);
	check_pcm_metadata(&md);
	assert_error(s, vd_accel_get_metadata(s, 4242, &md), -EINVAL, "no task 4242");
	unmap_task(&a);
	vd_accel_close(s);
}

/* ---- concurrency ---- */

struct worker_arg {
	const char *target;
	struct vd_accel *shared;	/* NULL: own session */
	int id, rounds, failures;
};

static void *session_worker(void *arg)
{
	struct worker_arg *w = arg;
	struct vd_accel_params p;
	struct vd_accel *s = w->shared;
	struct vd_accel_task t = { 0 };
	int16_t src[480 * 2];
	int32_t ref[480 * 2];
	uint8_t *in, *out;

	params_init(&p, VD_FORMAT_S16, 48000, 2, VD_FORMAT_S32, 48000, 2, sizeof(src), 64);
	if (!s && (vd_accel_open(w->target, "src", &s) < 0 || vd_accel_set_params(s, &p) < 0)) {
		w->failures++;
		return NULL;
	}
	if (vd_accel_task_create(s, &t) < 0) {
		w->failures++;
		goto out;
	}
	in = mmap(NULL, sizeof(src), PROT_READ | PROT_WRITE, MAP_SHARED, t.input_fd, 0);
	out = mmap(NULL, sizeof(ref), PROT_READ, MAP_SHARED, t.output_fd, 0);
	for (int r = 0; r < w->rounds; r++) {
		struct vd_accel_task_status st = { 0 };
		fill_s16(src, 960, (uint64_t)w->id * 1000 + r);
		memcpy(in, src, sizeof(src));
		t.input_size = sizeof(src);
		t.origin_seqno = r ? t.seqno : 0;
		if (vd_accel_task_start(s, &t) < 0) {
			w->failures++;
			break;
		}
		st.seqno = t.seqno;
		/* A time limit, not a count: on a shared session another
		 * thread's finished task keeps POLLIN up, so the wait returns
		 * at once, as fast as the engine answers. */
		for (double end = now_s() + 10.0;;) {
			if (vd_accel_task_status(s, &st) < 0 || now_s() > end) {
				w->failures++;
				break;
			}
			if (st.state == VD_ACCEL_TASK_FINISHED)
				break;
			vd_accel_wait(s, POLLIN, 1);
		}
		vd_convert_samples(VD_FORMAT_S32, ref, VD_FORMAT_S16, src, 960, NULL);
		if (st.output_size != sizeof(ref) || memcmp(out, ref, sizeof(ref)) != 0)
			w->failures++;
	}
	munmap(in, sizeof(src));
	munmap(out, sizeof(ref));
	close(t.input_fd);
	close(t.output_fd);
	if (vd_accel_task_free(s, t.seqno) < 0)
		w->failures++;
out:
	if (!w->shared)
		vd_accel_close(s);
	return NULL;
}

static void run_workers(const char *target, struct vd_accel *shared, int n, int rounds)
{
	pthread_t th[16];
	struct worker_arg w[16];

	for (int i = 0; i < n; i++) {
		w[i] = (struct worker_arg){ .target = target, .shared = shared, .id = i, .rounds = rounds };
		assert_int_equal(pthread_create(&th[i], NULL, session_worker, &w[i]), 0);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (w[i].failures)
			fail_msg("thread %d: %d failures", i, w[i].failures);
	}
}

static void test_many_sessions(void **state)
{
	/* Sixteen sessions, one thread each. */
	run_workers(TARGET(state), NULL, 16, 100);
}

static void test_shared_session(void **state)
{
	struct vd_accel_params p;
	struct vd_accel *s;

	/* Eight threads on one session, each with its own task. */
	params_init(&p, VD_FORMAT_S16, 48000, 2, VD_FORMAT_S32, 48000, 2, 480 * 4, 64);
	s = open_with(TARGET(state), &p);
	run_workers(TARGET(state), s, 8, 100);
	vd_accel_close(s);
}

/* ---- entry point ---- */

int accel_conformance_run(const char *target, const char *group);
int accel_conformance_run(const char *target, const char *group)
{
	struct suite ctx = { .target = target };
#define T(f) cmocka_unit_test_prestate(f, &ctx)
	const struct CMUnitTest tests[] = {
		T(test_caps),
		T(test_open_state),
		T(test_params_invalid),
		T(test_create),
		T(test_start_and_status),
		T(test_busy_active),
		T(test_fifo_order),
		T(test_poll),
		T(test_wait_lazy),
		T(test_wait_lazy_threads),
		T(test_fd_midstream),
		T(test_stop),
		T(test_task_free),
		T(test_many_seqnos),
		T(test_free_concurrent),
		T(test_close_active),
		T(test_new_stream),
		T(test_split_invariance),
		T(test_reconfigure),
		T(test_set_adjust),
		T(test_metadata),
		T(test_many_sessions),
		T(test_shared_session),
	};
#undef T
	return _cmocka_run_group_tests(group, tests, sizeof(tests) / sizeof(tests[0]), NULL, NULL);
}
