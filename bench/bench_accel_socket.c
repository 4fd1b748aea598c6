/* bench/bench_accel_socket.c - task round trips through `virtdsp serve`'s
 * socket, beside the same loop in-process.
 *
 * A daemon (the real loop and server) runs in a forked child on a temporary
 * socket. For each case the client STARTs a 10 ms task (480 frames of s16
 * stereo), poll()s the session fd for its completion and reads its STATUS,
 * reusing the task, ITERS times. Printed: START -> completion seen by
 * poll() (median, p99), START's own round trip, and whole cycles per second
 * (START + poll + STATUS). Cases: small tasks run inline in START (the
 * engine's default) and on the session's worker thread (VD_ACCEL_INLINE_MAX=0),
 * each in-process and over the socket. Target: socket median <= 20 us.
 * A last case waits with vd_accel_wait() and never takes the session fd:
 * over the socket that is the submission ring's path (START into the ring,
 * completion through its notify eventfd; docs/protocol.md), which the
 * daemon's worker runs whatever VD_ACCEL_INLINE_MAX says.
 *
 * usage: bench_accel_socket [ITERS]   (default 20000)
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <virtdsp/accel.h>

#include "daemon/accel_server.h"
#include "daemon/loop.h"

#define FRAMES 480u

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void on_signal(void *data, int signo)
{
	vd_loop_quit(data);
}

/* The daemon: its own process, as in production. */
static pid_t spawn_daemon(const char *path, int inline_tasks)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	struct vd_loop *loop;
	struct vd_accel_server *srv;
	sigset_t set;
	char err[256];

	if (!inline_tasks)
		setenv("VD_ACCEL_INLINE_MAX", "0", 1);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	if (vd_loop_new(&loop) < 0 || vd_loop_add_signals(loop, &set, on_signal, loop) < 0 ||
	    vd_accel_server_new(loop, path, NULL, NULL, NULL, &srv, err, sizeof(err)) < 0) {
		fprintf(stderr, "daemon: %s\n", err);
		_exit(1);
	}
	vd_loop_run(loop);
	vd_accel_server_free(srv);
	vd_loop_free(loop);
	_exit(0);
}

struct result {
	double done_med, done_p99, start_med, per_s;
};

/* @use_wait: wait with vd_accel_wait(), never taking the fd. */
static int run_case(const char *target, unsigned iters, bool use_wait, struct result *res)
{
	struct vd_accel *s = NULL;
	struct vd_accel_params p = {
		.codec = VD_ACCEL_CODEC_PCM,
		.in = { VD_FORMAT_S16, 48000, 2 },
		.out = { VD_FORMAT_S16, 48000, 2 },
		.quality = VD_RESAMPLE_HIGH,
		.fragment_size = FRAMES * 4,
		.fragments = 1,
	};
	struct vd_accel_task t = { 0 };
	double *done = malloc(sizeof(double) * iters), *start = malloc(sizeof(double) * iters);
	int r;

	if (!done || !start)
		return -ENOMEM;
	/* the daemon may still be binding its socket */
	for (int i = 0; i < 500; i++) {
		r = vd_accel_open(target, "src", &s);
		if (r != -ENOENT && r != -ECONNREFUSED)
			break;
		usleep(10000);
	}
	if (r < 0 || (r = vd_accel_set_params(s, &p)) < 0 || (r = vd_accel_task_create(s, &t)) < 0)
		goto out;
	int16_t *in = mmap(NULL, p.fragment_size, PROT_READ | PROT_WRITE, MAP_SHARED, t.input_fd, 0);
	if (in == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	for (unsigned i = 0; i < FRAMES * 2; i++)
		in[i] = (int16_t)(i * 31);
	struct pollfd pfd = { .fd = use_wait ? -1 : vd_accel_fd(s), .events = POLLIN };
	double t_begin = 0;
	for (unsigned i = 0; i < iters + iters / 10; i++) {
		struct vd_accel_task_status st;
		unsigned k = i - iters / 10;	/* the first tenth warms up */

		if (i == iters / 10)
			t_begin = now_us();
		t.input_size = p.fragment_size;
		t.origin_seqno = i ? t.seqno : 0;
		double t0 = now_us();
		r = vd_accel_task_start(s, &t);
		double t1 = now_us();
		if (r < 0)
			break;
		if (use_wait)
			r = vd_accel_wait(s, POLLIN, 5000) > 0 ? 1 : -ETIMEDOUT;
		else
			while ((r = poll(&pfd, 1, 5000)) < 0 && errno == EINTR)
				;
		double t2 = now_us();
		if (r != 1) {
			r = -ETIMEDOUT;
			break;
		}
		st = (struct vd_accel_task_status){ .seqno = t.seqno };
		r = vd_accel_task_status(s, &st);
		if (r < 0 || st.state != VD_ACCEL_TASK_FINISHED || st.output_size != p.fragment_size) {
			r = r < 0 ? r : -EIO;
			break;
		}
		if (i >= iters / 10) {
			start[k] = t1 - t0;
			done[k] = t2 - t0;
		}
	}
	double elapsed = now_us() - t_begin;
	munmap(in, p.fragment_size);
	if (r >= 0) {
		qsort(done, iters, sizeof(double), cmp_double);
		qsort(start, iters, sizeof(double), cmp_double);
		res->done_med = done[iters / 2];
		res->done_p99 = done[iters * 99 / 100];
		res->start_med = start[iters / 2];
		res->per_s = iters / (elapsed * 1e-6);
		r = 0;
	}
out:
	if (t.input_fd > 0)
		close(t.input_fd);
	if (t.output_fd > 0)
		close(t.output_fd);
	vd_accel_close(s);
	free(done);
	free(start);
	return r;
}

int main(int argc, char **argv)
{
	unsigned iters = argc > 1 ? (unsigned)atoi(argv[1]) : 20000;
	char dir[] = "/tmp/vd-bench-XXXXXX", path[128];
	int failed = 0;

	if (iters < 100 || !mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/bench.sock", dir);
	printf("accel task round trips: %u tasks of %u frames s16 stereo 48 kHz (passthrough), 1 fragment\n",
	       iters, FRAMES);
	printf("%-34s %12s %12s %12s %12s\n", "case", "done med us", "done p99 us", "START med us",
	       "tasks/s");
	for (int inl = 1; inl >= 0; inl--) {
		struct result local, sock;
		const char *mode = inl ? "inline" : "worker";

		if (inl)
			unsetenv("VD_ACCEL_INLINE_MAX");
		else
			setenv("VD_ACCEL_INLINE_MAX", "0", 1);
		if (run_case(NULL, iters, false, &local) < 0) {
			printf("in-process (%s): failed\n", mode);
			failed = 1;
			continue;
		}
		pid_t pid = spawn_daemon(path, inl);
		int r = run_case(path, iters, false, &sock);
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		if (r < 0) {
			printf("socket (%s): failed: %s\n", mode, strerror(-r));
			failed = 1;
			continue;
		}
		printf("in-process, %-22s %12.1f %12.1f %12.1f %12.0f\n", mode, local.done_med,
		       local.done_p99, local.start_med, local.per_s);
		printf("socket, %-26s %12.1f %12.1f %12.1f %12.0f\n", mode, sock.done_med, sock.done_p99,
		       sock.start_med, sock.per_s);
		printf("socket / in-process (%s): median x%.1f, tasks/s x%.2f; target median <= 20 us: %s\n",
		       mode, sock.done_med / local.done_med, sock.per_s / local.per_s,
		       sock.done_med <= 20.0 ? "met" : "MISSED");
	}
	{
		struct result local, sock;

		unsetenv("VD_ACCEL_INLINE_MAX");
		pid_t pid = spawn_daemon(path, 1);
		int r = run_case(NULL, iters, true, &local);
		if (r >= 0)
			r = run_case(path, iters, true, &sock);
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		if (r < 0) {
			printf("vd_accel_wait, no fd: failed: %s\n", strerror(-r));
			failed = 1;
		} else {
			printf("in-process, %-22s %12.1f %12.1f %12.1f %12.0f\n", "wait (no fd)", local.done_med,
			       local.done_p99, local.start_med, local.per_s);
			printf("socket, %-26s %12.1f %12.1f %12.1f %12.0f\n", "ring, wait (no fd)", sock.done_med,
			       sock.done_p99, sock.start_med, sock.per_s);
			printf("socket ring / in-process: median x%.1f, tasks/s x%.2f; target median <= 20 us: %s\n",
			       sock.done_med / local.done_med, sock.per_s / local.per_s,
			       sock.done_med <= 20.0 ? "met" : "MISSED");
		}
	}
	rmdir(dir);
	return failed;
}
