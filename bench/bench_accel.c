/* bench/bench_accel.c - the accel engine: task round trip, tasks per second, and what converting a file through tasks costs over calling the converter directly.
 *
 *   bench_accel                 everything, in-process and over a daemon this
 *                               bench forks (the real server and loop)
 *   bench_accel --file [REPS] [--chunk BYTES] [--seconds S]
 *                               only the file overhead (3), REPS rounds
 *                               (default 7); only tasks of BYTES (1024,
 *                               4096, 16384 or 65536), an S s file (10)
 *   bench_accel --instructions  the file overhead counted in instructions and
 *                               system calls under `valgrind --tool=callgrind`
 *                               (load-independent); runs this program again
 *                               once per case under valgrind
 *   bench_accel PATH            round trips and file overhead against a daemon
 *                               already listening on PATH (its CPU time is not
 *                               seen: client CPU only)
 *
 * 1. Round trip: START -> POLLIN on the session fd -> STATUS of one task,
 *    median and p99, for a 480-frame S16 stereo 48 kHz task with no
 *    conversion (the engine alone) and a 441-frame 44.1 -> 48 kHz one; for
 *    each dispatch path of the in-process engine (inline, worker, spinning
 *    worker; chosen by VD_ACCEL_INLINE_MAX / VD_ACCEL_SPIN_US).
 * 2. Tasks per second, eight in flight.
 * 3. A 10 s S16 stereo file, 44.1 -> 48 kHz at "high", converted
 *      direct/file   by one vd_resampler_process() call over the whole file
 *                    (then vd_resampler_drain() until empty);
 *      direct/chunk  by the same converter (same configuration as the
 *                    engine's: S16 in and out, 2 channels) called once per
 *                    task-sized chunk, reading the file buffer and writing
 *                    the output buffer in place: THE baseline of the
 *                    overhead figures;
 *      staged        as direct/chunk, but each chunk copied into a
 *                    task-sized buffer, converted from there into another
 *                    and copied out: the same data movement as a task
 *                    client, without the engine;
 *      tasks         through the accel API with 1, 4, 16, 32 and 64 tasks in
 *                    flight (in-process, and over the socket):
 *                    copy a chunk into the task's input map, START
 *                    (END_OF_STREAM on the last), vd_accel_wait(POLLIN),
 *                    STATUS, copy the output out.
 *    Cost = CPU time of every thread involved (the process's; over the
 *    socket the client process plus the daemon process), never wall time.
 *    The modes run interleaved, REPS rounds, after one warm-up round; each
 *    round gives a ratio to the direct/chunk run of the same round, and the
 *    median ratio with its range [min..max] is printed. Every task run's
 *    output is compared with direct/file's (must be bit-identical).
 *    A second table does the same at 48 -> 48 kHz (a memcpy-class
 *    conversion), where a ratio is meaningless: it prints the fixed cost
 *    per task in microseconds instead.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <virtdsp/accel.h>
#include <virtdsp/convert.h>
#include <virtdsp/resample.h>

#include "daemon/accel_server.h"
#include "daemon/loop.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS
#endif

#define FILE_SECONDS 10
#define INSTR_SECONDS 3	/* under callgrind: the counts per task do not need more */
#define MAX_DEPTH 64

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) < 0)
		return 0;
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}


static void ignore_sigpipe(void)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };

	sigaction(SIGPIPE, &sa, NULL);
}

/* ---- a daemon of our own: the real server and loop in a forked child ---- */

struct daemon {
	pid_t pid;
	char dir[32], path[96];
	int ctl, ack;			/* commands to the child, its acknowledgements */
	clockid_t cpu;			/* the child's process CPU clock */
	bool have_cpu;
};

struct daemon_child {
	struct vd_loop *loop;
	int ack;
};

/* A command from the bench: handled between two requests, in order with them. */
static void daemon_ctl(void *data, int fd, uint32_t events)
{
	struct daemon_child *dc = data;
	char c = 'q';

	if (!(events & EPOLLIN) || read(fd, &c, 1) != 1)
		c = 'q';
	if (c == 'z') {
		CALLGRIND_ZERO_STATS;
	} else if (c == 'd') {
		CALLGRIND_DUMP_STATS;
	} else {
		vd_loop_quit(dc->loop);
	}
	if (write(dc->ack, &c, 1) != 1)
		vd_loop_quit(dc->loop);
}

static void daemon_child_main(const char *path, int ctl, int ack)
{
	struct daemon_child dc = { .ack = ack };
	struct vd_accel_server *srv;
	char err[256] = "";

	if (vd_loop_new(&dc.loop) < 0 ||
	    vd_accel_server_new(dc.loop, path, NULL, NULL, NULL, &srv, err, sizeof(err)) < 0) {
		fprintf(stderr, "daemon: %s\n", err);
		_exit(1);
	}
	if (vd_loop_add_fd(dc.loop, ctl, EPOLLIN, daemon_ctl, &dc, NULL) < 0 || write(ack, "r", 1) != 1)
		_exit(1);
	vd_loop_run(dc.loop);
	vd_accel_server_free(srv);
	vd_loop_free(dc.loop);
	_exit(0);
}

static int daemon_cmd(struct daemon *d, char c)
{
	char a;

	if (write(d->ctl, &c, 1) != 1 || read(d->ack, &a, 1) != 1 || a != c)
		return -EIO;
	return 0;
}

static int daemon_start(struct daemon *d)
{
	int ctl[2], ack[2];
	char r;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/vd-bench-XXXXXX");
	if (!mkdtemp(d->dir))
		return -errno;
	snprintf(d->path, sizeof(d->path), "%s/accel.sock", d->dir);
	if (pipe2(ctl, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(ack, O_CLOEXEC) < 0)
		return -errno;
	fflush(stdout);
	d->pid = fork();
	if (d->pid < 0)
		return -errno;
	if (d->pid == 0) {
		close(ctl[1]);
		close(ack[0]);
		daemon_child_main(d->path, ctl[0], ack[1]);
	}
	close(ctl[0]);
	close(ack[1]);
	d->ctl = ctl[1];
	d->ack = ack[0];
	if (read(d->ack, &r, 1) != 1 || r != 'r') {
		waitpid(d->pid, NULL, 0);
		return -EIO;
	}
	d->have_cpu = clock_getcpuclockid(d->pid, &d->cpu) == 0;
	return 0;
}

static void daemon_stop(struct daemon *d)
{
	if (d->pid <= 0)
		return;
	daemon_cmd(d, 'q');
	close(d->ctl);
	close(d->ack);
	waitpid(d->pid, NULL, 0);
	rmdir(d->dir);
	d->pid = 0;
}

/* ---- tasks ---- */

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

static int create(struct vd_accel *s, struct btask *b)
{
	struct stat si, so;
	int res;

	memset(b, 0, sizeof(*b));
	b->in = b->out = MAP_FAILED;
	res = vd_accel_task_create(s, &b->t);
	if (res < 0)
		return res;
	if (fstat(b->t.input_fd, &si) < 0 || fstat(b->t.output_fd, &so) < 0)
		return -errno;
	b->in_len = (size_t)si.st_size;
	b->out_len = (size_t)so.st_size;
	/* Populated now, as a streaming client should: no page faults in the first tasks. */
	b->in = mmap(NULL, b->in_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, b->t.input_fd, 0);
	b->out = mmap(NULL, b->out_len, PROT_READ, MAP_SHARED | MAP_POPULATE, b->t.output_fd, 0);
	return b->in == MAP_FAILED || b->out == MAP_FAILED ? -errno : 0;
}

static void destroy(struct btask *b)
{
	if (b->in != MAP_FAILED)
		munmap(b->in, b->in_len);
	if (b->out != MAP_FAILED)
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

/*
 * Wait for @b (the oldest task) to finish; returns its output bytes.
 * @status_first: ask STATUS before waiting. In-process that is a lock and
 * no system call, and a small task run inline by START is finished already;
 * over a socket it is read from the status page, no message either, and
 * with n tasks in flight all but the first of each batch are finished by
 * the time the client looks. Without it (the round trips, which measure
 * the wait) the wait comes first.
 */
static int64_t finish(struct vd_accel *s, struct btask *b, bool status_first)
{
	struct vd_accel_task_status st = { .seqno = b->t.seqno };

	for (bool wait = !status_first;; wait = true) {
		if (wait && vd_accel_wait(s, POLLIN, -1) <= 0)
			return -ETIMEDOUT;
		if (vd_accel_task_status(s, &st) < 0)
			return -EINVAL;
		if (st.state == VD_ACCEL_TASK_FINISHED)
			return (int64_t)st.output_size;
	}
}

/* ---- 1, 2: round trips and tasks per second ---- */

/* Round trip of one task, @iters times: median and p99 in microseconds, tasks per second. */
static void round_trip(const char *target, const char *label, uint32_t ri, uint32_t ro, uint32_t frames,
		       int iters)
{
	struct vd_accel *s;
	struct btask b;
	double *t = malloc(sizeof(double) * iters), t0 = now();
	uint32_t bytes = frames * 4;
	struct pollfd p;

	if (setup(target, &s, ri, ro, bytes, 2) < 0) {
		printf("  %-34s  (unavailable)\n", label);
		free(t);
		return;
	}
	if (create(s, &b) < 0) {
		printf("  %-34s  (unavailable)\n", label);
		vd_accel_close(s);
		free(t);
		return;
	}
	p = (struct pollfd){ .fd = vd_accel_fd(s), .events = POLLIN };
	for (uint32_t i = 0; i < frames * 2; i++)
		((int16_t *)b.in)[i] = (int16_t)(8000 * sin(i * 0.01));
	for (int i = -iters / 10; i < iters; i++) {	/* the first tenth warms up */
		struct vd_accel_task_status st = { 0 };
		double a = now();

		/* poll() the fd itself: what an event loop does */
		if (start(s, &b, bytes, 0) < 0 || poll(&p, 1, 10000) != 1 ||
		    (st.seqno = b.t.seqno, vd_accel_task_status(s, &st)) < 0 || st.state != VD_ACCEL_TASK_FINISHED) {
			printf("  %-34s  failed\n", label);
			break;
		}
		if (i == 0)
			t0 = now();
		if (i >= 0)
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
	int head = 0, inflight = 0, started = 0, done = 0, made = 0;
	double t0;

	if (setup(target, &s, 48000, 48000, bytes, 8) < 0)
		return;
	for (; made < 8; made++)
		if (create(s, &b[made]) < 0)
			goto out;
	t0 = now();
	while (done < iters) {
		if (started < iters && inflight < 8) {
			start(s, &b[(head + inflight) % 8], bytes, 0);
			inflight++;
			started++;
			continue;
		}
		if (finish(s, &b[head], !target) < 0)
			break;
		if (started == iters)	/* not reused: out of the START order (see task_run) */
			vd_accel_task_stop(s, b[head].t.seqno);
		head = (head + 1) % 8;
		inflight--;
		done++;
	}
	printf("  %-34s  %9.0f tasks/s\n", label, iters / (now() - t0));
out:
	for (int i = 0; i < made; i++)
		destroy(&b[i]);
	vd_accel_close(s);
}

/* ---- 3: a file through tasks versus the converter called directly ---- */

enum mode {
	M_DIRECT_FILE,
	M_DIRECT_CHUNK,
	M_STAGED,
	M_TASKS1,
	M_TASKS4,
	M_TASKS16,
	M_TASKS32,
	M_TASKS64,
	M_SOCK1,
	M_SOCK4,
	M_SOCK16,
	M_SOCK32,
	M_SOCK64,
	M_COUNT
};

static const char *const mode_name[M_COUNT] = {
	"direct/file", "direct/chunk", "staged",
	"tasks, 1 in flight", "tasks, 4 in flight", "tasks, 16 in flight", "tasks, 32 in flight",
	"tasks, 64 in flight",
	"socket, 1 in flight", "socket, 4 in flight", "socket, 16 in flight", "socket, 32 in flight",
	"socket, 64 in flight",
};
static const char *const mode_key[M_COUNT] = {
	"direct-file", "direct-chunk", "staged", "tasks1", "tasks4", "tasks16", "tasks32", "tasks64",
	"socket1", "socket4", "socket16", "socket32", "socket64",
};

static bool is_socket(enum mode m)
{
	return m >= M_SOCK1 && m <= M_SOCK64;
}

/* Tasks in flight (and the session's fragments): 1, 4, 16, 32, 64. */
static int depth_of(enum mode m)
{
	static const int depth[] = { 1, 4, 16, 32, 64 };

	if (m >= M_SOCK1)
		return depth[m - M_SOCK1];
	return m >= M_TASKS1 ? depth[m - M_TASKS1] : 1;
}

struct file_case {
	uint32_t ri, ro;
	int16_t *in;
	size_t frames;
	int16_t *ref, *out;		/* direct/file's output; every run's output */
	size_t ref_frames, out_max;
	int16_t *stage_in, *stage_out;	/* staged: task-sized buffers */
	size_t stage_out_frames;
	const char *target;		/* the socket of the socket modes */
	struct daemon *daemon;		/* NULL when the daemon is not ours */
	unsigned seconds;
	size_t only_chunk;		/* 0: every task size */
};

/* One run: CPU of every thread involved, the client's own thread, faults and context switches. */
struct cost {
	double cpu, client_cpu;
	long minflt, csw;
	size_t frames;
	bool ok;
};

struct meter {
	double proc, thread, dmn;
	struct rusage ru;
};

static void meter_start(struct meter *m, const struct file_case *fc, bool sock)
{
	m->dmn = sock && fc->daemon && fc->daemon->have_cpu ? clock_s(fc->daemon->cpu) : 0;
	getrusage(RUSAGE_SELF, &m->ru);
	m->thread = clock_s(CLOCK_THREAD_CPUTIME_ID);
	m->proc = clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static struct cost meter_stop(const struct meter *m, const struct file_case *fc, bool sock)
{
	struct cost c = { .ok = true };
	struct rusage ru;

	c.cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - m->proc;
	c.client_cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - m->thread;
	getrusage(RUSAGE_SELF, &ru);
	if (sock && fc->daemon && fc->daemon->have_cpu)
		c.cpu += clock_s(fc->daemon->cpu) - m->dmn;
	c.minflt = ru.ru_minflt - m->ru.ru_minflt;
	c.csw = ru.ru_nvcsw + ru.ru_nivcsw - m->ru.ru_nvcsw - m->ru.ru_nivcsw;
	return c;
}

/* Convert @n frames at @src into at most @room at @dst; returns frames made. */
static size_t convert(struct vd_resampler *r, const int16_t *src, size_t n, int16_t *dst, size_t room)
{
	size_t used = 0, made = 0;

	if (!r) {
		vd_convert_samples(VD_FORMAT_S16, dst, VD_FORMAT_S16, src, n * 2, NULL);
		return n;
	}
	while (used < n) {
		uint32_t in_n = (uint32_t)(n - used), out_n = (uint32_t)(room - made);

		vd_resampler_process(r, src + used * 2, &in_n, dst + made * 2, &out_n);
		used += in_n;
		made += out_n;
		if (!in_n && !out_n)
			break;
	}
	return made;
}

static size_t drain(struct vd_resampler *r, int16_t *dst, size_t room)
{
	size_t made = 0;

	for (;;) {
		uint32_t out_n = (uint32_t)(room - made);

		vd_resampler_drain(r, dst + made * 2, &out_n);
		if (!out_n)
			return made;
		made += out_n;
	}
}

/* direct/file, direct/chunk and staged. */
static struct cost direct_run(struct file_case *fc, enum mode m, size_t chunk, bool instr)
{
	struct vd_resample_config cfg = { fc->ri, fc->ro, 2, VD_RESAMPLE_HIGH, VD_FORMAT_S16, VD_FORMAT_S16 };
	struct vd_resampler *r = NULL;
	size_t step = m == M_DIRECT_FILE ? fc->frames : chunk / 4, made = 0;
	struct meter mt;
	struct cost c;

	if (fc->ri != fc->ro && vd_resampler_new(&cfg, &r) < 0)
		return (struct cost){ .ok = false };
	if (instr)
		CALLGRIND_ZERO_STATS;
	meter_start(&mt, fc, false);
	for (size_t pos = 0; pos < fc->frames; pos += step) {
		size_t n = fc->frames - pos < step ? fc->frames - pos : step;

		if (m == M_STAGED) {
			memcpy(fc->stage_in, fc->in + pos * 2, n * 4);
			size_t got = convert(r, fc->stage_in, n, fc->stage_out, fc->stage_out_frames);
			memcpy(fc->out + made * 2, fc->stage_out, got * 4);
			made += got;
		} else {
			made += convert(r, fc->in + pos * 2, n, fc->out + made * 2, fc->out_max - made);
		}
	}
	if (r && m == M_STAGED) {
		size_t got = drain(r, fc->stage_out, fc->stage_out_frames);
		memcpy(fc->out + made * 2, fc->stage_out, got * 4);
		made += got;
	} else if (r) {
		made += drain(r, fc->out + made * 2, fc->out_max - made);
	}
	c = meter_stop(&mt, fc, false);
	if (instr)
		CALLGRIND_DUMP_STATS;
	if (r)
		vd_resampler_free(r);
	c.frames = made;
	return c;
}

/* Through the accel API: copy in, START, wait, STATUS, copy out; @depth tasks in flight. */
static struct cost task_run(struct file_case *fc, enum mode m, size_t chunk, bool instr)
{
	bool sock = is_socket(m);
	const char *target = sock ? fc->target : NULL;
	int depth = depth_of(m), made_tasks = 0, head = 0, inflight = 0, next = 0;
	struct btask b[MAX_DEPTH];
	struct vd_accel *s;
	struct cost c = { .ok = false };
	size_t pos = 0, made = 0, step = chunk / 4;
	struct meter mt;

	if (setup(target, &s, fc->ri, fc->ro, (uint32_t)chunk, (uint32_t)depth) < 0)
		return c;
	for (; made_tasks < depth; made_tasks++)
		if (create(s, &b[made_tasks]) < 0)
			goto out;
	if (instr) {
		CALLGRIND_ZERO_STATS;
		if (sock && fc->daemon)
			daemon_cmd(fc->daemon, 'z');
	}
	meter_start(&mt, fc, sock);
	while (pos < fc->frames || inflight) {
		if (pos < fc->frames && inflight < depth) {
			size_t n = fc->frames - pos < step ? fc->frames - pos : step;

			memcpy(b[next].in, fc->in + pos * 2, n * 4);
			pos += n;
			if (start(s, &b[next], n * 4, pos == fc->frames ? VD_ACCEL_TASK_END_OF_STREAM : 0) < 0)
				goto out;
			next = (next + 1) % depth;
			inflight++;
			continue;
		}
		int64_t got = finish(s, &b[head], true);
		if (got < 0 || made + (size_t)got / 4 > fc->out_max)
			goto out;
		memcpy(fc->out + made * 2, b[head].out, (size_t)got);
		made += (size_t)got / 4;
		/* A FINISHED task stays the oldest started one until it is reused
		 * or stopped: with no more input to START it in, STOP it, or the
		 * session fd stays readable and the next wait returns at once. */
		if (pos == fc->frames && inflight > 1 && vd_accel_task_stop(s, b[head].t.seqno) < 0)
			goto out;
		head = (head + 1) % depth;
		inflight--;
	}
	c = meter_stop(&mt, fc, sock);
	if (instr) {
		CALLGRIND_DUMP_STATS;
		if (sock && fc->daemon)
			daemon_cmd(fc->daemon, 'd');
	}
	c.frames = made;
out:
	for (int i = 0; i < made_tasks; i++)
		destroy(&b[i]);
	vd_accel_close(s);
	return c;
}

static struct cost run_mode(struct file_case *fc, enum mode m, size_t chunk, bool instr)
{
	struct cost c = m <= M_STAGED ? direct_run(fc, m, chunk, instr) : task_run(fc, m, chunk, instr);

	if (fc->ref_frames != SIZE_MAX)
		c.ok = c.ok && c.frames == fc->ref_frames && memcmp(fc->out, fc->ref, c.frames * 4) == 0;
	return c;
}

/* @with_ref: convert the reference (direct/file) that every run is compared with. */
static int file_case_init(struct file_case *fc, uint32_t ri, uint32_t ro, size_t max_chunk, unsigned seconds,
			  bool with_ref)
{
	memset(fc, 0, sizeof(*fc));
	fc->seconds = seconds;
	fc->ri = ri;
	fc->ro = ro;
	fc->frames = (size_t)ri * seconds;
	fc->out_max = (size_t)ro * (seconds + 1);
	/* a task's output buffer: the chunk at the output rate, plus the filter's tail and drift */
	fc->stage_out_frames = (max_chunk / 4) * ro / ri * 11 / 10 + 65536;
	fc->in = malloc(fc->frames * 4);
	fc->ref = malloc(fc->out_max * 4);
	fc->out = malloc(fc->out_max * 4);
	fc->stage_in = malloc(max_chunk);
	fc->stage_out = malloc(fc->stage_out_frames * 4);
	if (!fc->in || !fc->ref || !fc->out || !fc->stage_in || !fc->stage_out)
		return -ENOMEM;
	for (size_t i = 0; i < fc->frames * 2; i++)
		fc->in[i] = (int16_t)(12000 * sin(i * 0.013));
	/* the reference, and every buffer touched once */
	memset(fc->out, 0, fc->out_max * 4);
	if (!with_ref) {
		fc->ref_frames = SIZE_MAX;
		return 0;
	}
	struct cost c = direct_run(fc, M_DIRECT_FILE, max_chunk, false);
	if (!c.ok)
		return -EINVAL;
	memcpy(fc->ref, fc->out, c.frames * 4);
	fc->ref_frames = c.frames;
	return 0;
}

static void file_case_free(struct file_case *fc)
{
	free(fc->in);
	free(fc->ref);
	free(fc->out);
	free(fc->stage_in);
	free(fc->stage_out);
}

static const size_t chunks[] = { 1024, 4096, 16384, 65536 };

static double median(double *v, int n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The modes that can run here: the socket ones need a target. */
static bool mode_available(const struct file_case *fc, enum mode m)
{
	return !is_socket(m) || fc->target;
}

static void overhead(struct file_case *fc, int reps, bool per_task_us)
{
	printf("\n%u -> %u Hz%s, %d s of S16 stereo; CPU time of every thread involved%s; %d rounds after a warm-up\n",
	       fc->ri, fc->ro, fc->ri != fc->ro ? " (high)" : "", fc->seconds,
	       fc->target ? (fc->daemon ? " (socket: client + daemon)" : " (socket: CLIENT ONLY, the daemon is not ours)") : "",
	       reps);
	if (per_task_us)
		printf("  %6s  %-20s %10s  %26s  %8s %8s  %s\n", "task", "path", "CPU ms", "cost per task, us: median [min..max]",
		       "faults", "csw", "output");
	else
		printf("  %6s  %-20s %10s  %30s  %26s  %7s %6s %6s  %s\n", "task", "path", "CPU ms",
		       "vs direct/chunk: med [min..max]", "vs staged: med [min..max]", "client", "faults", "csw",
		       "output");
	for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		size_t chunk = chunks[k], ntasks = (fc->frames * 4 + chunk - 1) / chunk;
		if (fc->only_chunk && chunk != fc->only_chunk)
			continue;
		double cpu[M_COUNT][64], ccpu[M_COUNT][64];
		long flt[M_COUNT] = { 0 }, csw[M_COUNT] = { 0 };
		bool ok[M_COUNT];

		for (int m = 0; m < M_COUNT; m++)
			ok[m] = true;
		for (int rep = -1; rep < reps; rep++) {
			for (int m = 0; m < M_COUNT; m++) {
				if (!mode_available(fc, m))
					continue;
				struct cost c = run_mode(fc, m, chunk, false);
				ok[m] &= c.ok;
				if (rep < 0)
					continue;
				cpu[m][rep] = c.cpu;
				ccpu[m][rep] = c.client_cpu;
				flt[m] += c.minflt;
				csw[m] += c.csw;
			}
		}
		for (int m = 0; m < M_COUNT; m++) {
			double ratio[64], rel_staged[64], client_share[64], per_task[64], mcpu;

			if (!mode_available(fc, m))
				continue;
			for (int r = 0; r < reps; r++) {
				ratio[r] = cpu[m][r] / cpu[M_DIRECT_CHUNK][r];
				rel_staged[r] = cpu[m][r] / cpu[M_STAGED][r];
				client_share[r] = ccpu[m][r] / cpu[m][r];
				per_task[r] = (cpu[m][r] - cpu[M_DIRECT_CHUNK][r]) / ntasks * 1e6;
			}
			double lo = 1e9, hi = -1e9, slo = 1e9, shi = -1e9;
			for (int r = 0; r < reps; r++) {
				double v = per_task_us ? per_task[r] : ratio[r];
				lo = v < lo ? v : lo;
				hi = v > hi ? v : hi;
				slo = rel_staged[r] < slo ? rel_staged[r] : slo;
				shi = rel_staged[r] > shi ? rel_staged[r] : shi;
			}
			double tmp[64];
			memcpy(tmp, cpu[m], sizeof(double) * reps);
			mcpu = median(tmp, reps);
			if (per_task_us) {
				printf("  %4zu K  %-20s %10.3f  %11.2f [%6.2f..%6.2f]     %8.1f %8.1f  %s\n", chunk / 1024,
				       mode_name[m], mcpu * 1e3, median(per_task, reps), lo, hi,
				       (double)flt[m] / reps, (double)csw[m] / reps, ok[m] ? "bit-identical" : "DIFFERENT");
			} else {
				printf("  %4zu K  %-20s %10.3f  %+9.1f%% [%+6.1f..%+6.1f]  %+6.1f%% [%+6.1f..%+6.1f]  %6.0f%% %6.1f %6.1f  %s\n",
				       chunk / 1024, mode_name[m], mcpu * 1e3, (median(ratio, reps) - 1) * 100,
				       (lo - 1) * 100, (hi - 1) * 100, (median(rel_staged, reps) - 1) * 100,
				       (slo - 1) * 100, (shi - 1) * 100,
				       median(client_share, reps) * 100, (double)flt[m] / reps, (double)csw[m] / reps,
				       ok[m] ? "bit-identical" : "DIFFERENT");
			}
		}
	}
}

/* ---- instruction counts under callgrind ---- */

/* Sum the "events:" columns of the summary lines of every explicit dump (cg.PID.1) in @dir. */
static int read_dumps(const char *dir, double *ir, double *sys)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int files = 0;

	*ir = *sys = 0;
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char path[512], line[1024], events[1024] = "";
		size_t l = strlen(e->d_name);
		FILE *f;

		if (strncmp(e->d_name, "cg.", 3) != 0 || l < 3 || strcmp(e->d_name + l - 2, ".1") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "events:", 7))
				memcpy(events, line + 7, strlen(line + 7) + 1);
			if (strncmp(line, "summary:", 8) && strncmp(line, "totals:", 7))
				continue;
			char *v = strchr(line, ':') + 1, *ev = events, *tok, *save = NULL;
			for (tok = strtok_r(ev, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
				double x = strtod(v, &v);
				if (!strcmp(tok, "Ir"))
					*ir += x;
				else if (!strcmp(tok, "sysCount"))
					*sys += x;
			}
			break;
		}
		fclose(f);
		files++;
	}
	closedir(d);
	return files;
}

static int clean_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char path[512];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	return 0;
}

/* Run `self --one MODE CHUNK RATE_OUT` under callgrind; sum its dumps (client and daemon). */
static int count_one(const char *self, const char *dir, enum mode m, size_t chunk, uint32_t ro, double *ir,
		     double *sys)
{
	char out[300], chunk_s[32], ro_s[32];
	pid_t pid;
	int st;

	clean_dir(dir);
	snprintf(out, sizeof(out), "--callgrind-out-file=%s/cg.%%p", dir);
	snprintf(chunk_s, sizeof(chunk_s), "%zu", chunk);
	snprintf(ro_s, sizeof(ro_s), "%u", ro);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execlp("valgrind", "valgrind", "--tool=callgrind", "--collect-systime=usec", out, self, "--one",
		       mode_key[m], chunk_s, ro_s, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -EIO;
	int n = read_dumps(dir, ir, sys);
	return n == (is_socket(m) ? 2 : 1) ? 0 : -EIO;
}

static int instructions(const char *self)
{
	char dir[] = "/tmp/vd-bench-cg-XXXXXX";
	static const uint32_t rates[] = { 48000, 44100 };

	if (!mkdtemp(dir))
		return 1;
	printf("File through tasks, counted under callgrind (user-space instructions of every thread and\n"
	       "process involved, and their system calls; the same on a loaded machine as on an idle one)\n");
	for (size_t ri = 0; ri < 2; ri++) {
		uint32_t ro = rates[ri];
		double base_ir = 0, base_sys = 0;

		printf("\n44100 -> %u Hz%s, %d s S16 stereo\n", ro, ro != 44100 ? " (high)" : "", INSTR_SECONDS);
		printf("  %6s  %-20s %14s %12s %12s %16s %14s\n", "task", "path", "instructions", "vs chunk",
		       "syscalls", "instr. per task", "syscalls/task");
		for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
			size_t chunk = chunks[k], ntasks = (44100u * INSTR_SECONDS * 4 + chunk - 1) / chunk;

			for (int m = 0; m < M_COUNT; m++) {
				double ir, sys;

				if (count_one(self, dir, m, chunk, ro, &ir, &sys) < 0) {
					printf("  %4zu K  %-20s  failed\n", chunk / 1024, mode_name[m]);
					continue;
				}
				if (m == M_DIRECT_CHUNK) {
					base_ir = ir;
					base_sys = sys;
				}
				printf("  %4zu K  %-20s %14.0f %+11.2f%% %12.0f %16.0f %14.1f\n", chunk / 1024, mode_name[m],
				       ir, m >= M_DIRECT_CHUNK ? (ir / base_ir - 1) * 100 : 0.0, sys,
				       m >= M_DIRECT_CHUNK ? (ir - base_ir) / ntasks : 0.0,
				       m >= M_DIRECT_CHUNK ? (sys - base_sys) / ntasks : 0.0);
			}
		}
	}
	clean_dir(dir);
	rmdir(dir);
	return 0;
}

/* One mode once, measured between CALLGRIND_ZERO_STATS and CALLGRIND_DUMP_STATS. */
static int one(const char *key, size_t chunk, uint32_t ro)
{
	struct file_case fc;
	struct daemon d = { 0 };
	enum mode m = M_COUNT;
	int res = 1;

	for (int i = 0; i < M_COUNT; i++)
		if (!strcmp(key, mode_key[i]))
			m = i;
	if (m == M_COUNT || chunk < 4 || chunk > 65536 || chunk % 4)
		return 2;
	if (is_socket(m)) {
		if (daemon_start(&d) < 0)
			return 1;
	}
	if (file_case_init(&fc, 44100, ro, 65536, INSTR_SECONDS, false) < 0)
		goto out;
	fc.target = is_socket(m) ? d.path : NULL;
	fc.daemon = is_socket(m) ? &d : NULL;
	/* No warm-up run: callgrind's summary would still count the cost of
	 * its (exited) worker thread after CALLGRIND_ZERO_STATS. */
	if (run_mode(&fc, m, chunk, true).ok)
		res = 0;
	file_case_free(&fc);
out:
	daemon_stop(&d);
	return res;
}

int main(int argc, char **argv)
{
	const char *target = NULL;
	bool all = true;
	int reps = 7;
	unsigned seconds = FILE_SECONDS;
	size_t only_chunk = 0;
	struct daemon d = { 0 };
	static const struct {
		const char *name, *inline_max, *spin;
	} modes[] = {
		{ "inline when idle (default)", NULL, NULL },
		{ "worker thread", "0", NULL },
		{ "worker thread, spin 50 us", "0", "50" },
	};
	const int iters = 20000;

	ignore_sigpipe();
	if (argc >= 2 && !strcmp(argv[1], "--one"))
		return argc == 5 ? one(argv[2], strtoul(argv[3], NULL, 10), strtoul(argv[4], NULL, 10)) : 2;
	if (argc >= 2 && !strcmp(argv[1], "--instructions")) {
		char self[4096];
		ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (l < 0)
			return 1;
		self[l] = 0;
		return instructions(self);
	}
	if (argc >= 2 && !strcmp(argv[1], "--file")) {
		int a = 2;
		all = false;
		if (argc > a && argv[a][0] != '-')
			reps = atoi(argv[a++]);
		for (; a + 1 < argc; a += 2) {
			if (!strcmp(argv[a], "--chunk"))
				only_chunk = strtoul(argv[a + 1], NULL, 10);
			else if (!strcmp(argv[a], "--seconds"))
				seconds = (unsigned)atoi(argv[a + 1]);
			else
				return 2;
		}
		bool known = !only_chunk;
		for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++)
			known |= chunks[k] == only_chunk;
		if (reps < 1 || reps > 64 || a != argc || !known || seconds < 1 || seconds > 600)
			return 2;
	} else if (argc >= 2) {
		target = argv[1];
	}
	if (!target) {
		/* before any thread exists: the daemon is a fork of this process */
		if (daemon_start(&d) < 0) {
			fprintf(stderr, "cannot start a daemon: the socket rows are left out\n");
		}
	}

	if (all) {
		printf("accel round trip, %s (START -> POLLIN -> STATUS, %d tasks)\n",
		       target ? target : "in-process", iters);
		for (size_t m = 0; m < (target ? 1 : sizeof(modes) / sizeof(modes[0])); m++) {
			char label[64];
			if (!target) {
				modes[m].inline_max ? setenv("VD_ACCEL_INLINE_MAX", modes[m].inline_max, 1)
						    : unsetenv("VD_ACCEL_INLINE_MAX");
				modes[m].spin ? setenv("VD_ACCEL_SPIN_US", modes[m].spin, 1)
					      : unsetenv("VD_ACCEL_SPIN_US");
				printf(" %s\n", modes[m].name);
			}
			snprintf(label, sizeof(label), "480 fr s16 2ch 48k -> same");
			round_trip(target, label, 48000, 48000, 480, iters);
			snprintf(label, sizeof(label), "441 fr s16 2ch 44.1k -> 48k");
			round_trip(target, label, 44100, 48000, 441, iters);
			pipelined(target, "480 fr, 8 tasks in flight", iters);
		}
		unsetenv("VD_ACCEL_INLINE_MAX");
		unsetenv("VD_ACCEL_SPIN_US");
	}
	for (int pass = 0; pass < 2; pass++) {
		struct file_case fc;
		uint32_t ro = pass == 0 ? 48000 : 44100;

		if (file_case_init(&fc, 44100, ro, 65536, seconds, true) < 0)
			return 1;
		fc.only_chunk = only_chunk;
		fc.target = target ? target : (d.pid > 0 ? d.path : NULL);
		fc.daemon = target ? NULL : (d.pid > 0 ? &d : NULL);
		overhead(&fc, reps, pass == 1);
		file_case_free(&fc);
	}
	daemon_stop(&d);
	return 0;
}
