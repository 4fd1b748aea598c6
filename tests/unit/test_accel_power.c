/* tests/unit/test_accel_power.c - task sessions as power users
 * (src/daemon/accel_server.c with src/daemon/power.c): the daemon's loop and
 * task server run in a thread on a temporary socket, with a power object on
 * the same loop whose hooks record every transition. A session with a task
 * ACTIVE keeps the engine active and resumes a suspended one; once its tasks
 * are done the user goes back within the server's periodic check (the client
 * reads its tasks' status from the status page, asking the daemon nothing);
 * closing the session or killing the client mid-task gives it back too. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
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
#include "daemon/power.h"
#include "testutil.h"

#define NTASKS 4

struct daemon {
	char *dir;
	char path[256];
	struct vd_loop *loop;
	struct vd_accel_server *srv;
	struct vd_power *power;
	pthread_t thread;
	/* what the hooks saw (loop thread), read by the test under the lock */
	pthread_mutex_t lock;
	struct vd_power_status last;
	unsigned transitions, suspends, resumes;
	char states[64];		/* one letter per transition: a(ctive) i(dle) s(uspended) */
};

static int h_suspend(void *data)
{
	struct daemon *d = data;

	pthread_mutex_lock(&d->lock);
	d->suspends++;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static int h_resume(void *data)
{
	struct daemon *d = data;

	pthread_mutex_lock(&d->lock);
	d->resumes++;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static void h_changed(void *data, const struct vd_power_status *st)
{
	struct daemon *d = data;

	pthread_mutex_lock(&d->lock);
	d->last = *st;
	if (d->transitions < sizeof(d->states) - 1)
		d->states[d->transitions] = vd_power_state_name(st->state)[0];
	d->transitions++;
	pthread_mutex_unlock(&d->lock);
}

static void *daemon_thread(void *arg)
{
	struct daemon *d = arg;

	vd_loop_run(d->loop);
	return NULL;
}

static struct daemon *daemon_start(uint64_t idle_ms)
{
	struct daemon *d = calloc(1, sizeof(*d));
	struct vd_power_hooks hooks = { .suspend = h_suspend, .resume = h_resume, .changed = h_changed };
	char err[256];

	assert_non_null(d);
	hooks.data = d;
	pthread_mutex_init(&d->lock, NULL);
	d->dir = vd_test_tmpdir();
	assert_non_null(d->dir);
	snprintf(d->path, sizeof(d->path), "%s/virtdsp.sock", d->dir);
	assert_int_equal(vd_loop_new(&d->loop), 0);
	assert_int_equal(vd_power_new(d->loop, idle_ms, &hooks, &d->power), 0);
	if (vd_accel_server_new(d->loop, d->path, NULL, NULL, NULL, &d->srv, err, sizeof(err)) < 0)
		fail_msg("server: %s", err);
	assert_int_equal(vd_accel_server_set_power(d->srv, d->power), 0);
	assert_int_equal(vd_accel_server_set_power(d->srv, d->power), -EBUSY);
	assert_int_equal(pthread_create(&d->thread, NULL, daemon_thread, d), 0);
	return d;
}

static void daemon_stop(struct daemon *d)
{
	vd_loop_quit(d->loop);
	pthread_join(d->thread, NULL);
	vd_accel_server_free(d->srv);
	vd_power_free(d->power);
	vd_loop_free(d->loop);
	vd_test_rmdir(d->dir);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static struct vd_power_status seen(struct daemon *d, char *states)
{
	struct vd_power_status st;

	pthread_mutex_lock(&d->lock);
	st = d->last;
	if (states)
		memcpy(states, d->states, sizeof(d->states));
	pthread_mutex_unlock(&d->lock);
	return st;
}

/* Until the hooks have seen @want (the daemon frees a hang-up on its own thread). */
static void wait_state(struct daemon *d, enum vd_power_state want)
{
	for (int i = 0; i < 2000 && seen(d, NULL).state != want; i++)
		usleep(5000);
	if (seen(d, NULL).state != want) {
		char states[64];

		seen(d, states);
		fail_msg("power never became %s (transitions: %s)", vd_power_state_name(want), states);
	}
}

/* Slow tasks (a 32 -> 31 channel matrix over 4 MiB), so that some are still ACTIVE
 * when the daemon looks right after their START. */
static void slow_params(struct vd_accel_params *p)
{
	memset(p, 0, sizeof(*p));
	p->codec = VD_ACCEL_CODEC_PCM;
	p->in.format = VD_FORMAT_F32;
	p->in.rate = 48000;
	p->in.channels = 32;
	p->out.format = VD_FORMAT_F32;
	p->out.channels = 31;
	p->fragment_size = 4u << 20;
	p->fragments = NTASKS;
}

/* Open a session and START NTASKS slow tasks; returns the session. */
static struct vd_accel *start_tasks(const char *path, struct vd_accel_task *t)
{
	struct vd_accel_params p;
	struct vd_accel *s;

	slow_params(&p);
	if (vd_accel_open(path, "src", &s) < 0 || vd_accel_set_params(s, &p) < 0)
		return NULL;
	for (int i = 0; i < NTASKS; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		if (vd_accel_task_create(s, &t[i]) < 0)
			return NULL;
		void *in = mmap(NULL, p.fragment_size, PROT_READ | PROT_WRITE, MAP_SHARED, t[i].input_fd, 0);
		if (in == MAP_FAILED)
			return NULL;
		memset(in, 0, p.fragment_size);
		munmap(in, p.fragment_size);
		t[i].input_size = p.fragment_size;
		if (vd_accel_task_start(s, &t[i]) < 0)
			return NULL;
	}
	return s;
}

/* Wait for every task to finish (the client's own poll, not through the daemon). */
static void finish_tasks(struct vd_accel *s, struct vd_accel_task *t)
{
	for (int i = 0; i < NTASKS; i++) {
		struct vd_accel_task_status st = { .seqno = t[i].seqno };

		/* POLLIN only says the oldest is done: poll the status, 30 s at most */
		for (int k = 0; k < 6000; k++) {
			assert_int_equal(vd_accel_task_status(s, &st), 0);
			if (st.state == VD_ACCEL_TASK_FINISHED)
				break;
			usleep(5000);
		}
		assert_int_equal(st.state, VD_ACCEL_TASK_FINISHED);
	}
}

static void test_busy_session_is_a_user(void **state)
{
	struct daemon *d = daemon_start(0);	/* never suspends: the counts alone */
	struct vd_accel_task t[NTASKS];
	struct vd_accel *s;
	struct vd_power_status st;
	char states[64];

	(void)state;
	/* an open session with no task started is no user */
	struct vd_accel_params p;
	assert_int_equal(vd_accel_open(d->path, "src", &s), 0);
	slow_params(&p);
	assert_int_equal(vd_accel_set_params(s, &p), 0);
	usleep(20000);
	assert_int_equal(seen(d, NULL).users[VD_POWER_USER_TASK], 0);
	vd_accel_close(s);

	s = start_tasks(d->path, t);
	assert_non_null(s);
	wait_state(d, VD_POWER_ACTIVE);
	st = seen(d, NULL);
	/* one session, however many of its tasks are active */
	assert_int_equal(st.users[VD_POWER_USER_TASK], 1);
	finish_tasks(s, t);
	/* nobody asked the daemon (the status page): its periodic check gave the user back */
	wait_state(d, VD_POWER_IDLE);
	assert_int_equal(seen(d, NULL).users[VD_POWER_USER_TASK], 0);

	/* a reused task (origin_seqno) counts again, and a close mid-task gives it back */
	for (int i = 0; i < NTASKS; i++) {
		struct vd_accel_task r = { .origin_seqno = t[i].seqno, .input_size = p.fragment_size };

		assert_int_equal(vd_accel_task_start(s, &r), 0);
	}
	wait_state(d, VD_POWER_ACTIVE);
	assert_int_equal(seen(d, NULL).users[VD_POWER_USER_TASK], 1);
	vd_accel_close(s);
	wait_state(d, VD_POWER_IDLE);
	st = seen(d, states);
	assert_int_equal(st.users[VD_POWER_USER_TASK], 0);
	assert_string_equal(states, "aiai");
	daemon_stop(d);
}

static void test_task_resumes_a_suspended_engine(void **state)
{
	struct daemon *d = daemon_start(50);
	struct vd_accel_task t[NTASKS];
	struct vd_accel *s;

	(void)state;
	wait_state(d, VD_POWER_SUSPENDED);
	s = start_tasks(d->path, t);
	assert_non_null(s);
	wait_state(d, VD_POWER_ACTIVE);
	pthread_mutex_lock(&d->lock);
	assert_int_equal(d->resumes, 1);
	assert_int_equal(d->suspends, 1);
	pthread_mutex_unlock(&d->lock);
	finish_tasks(s, t);
	wait_state(d, VD_POWER_SUSPENDED);
	pthread_mutex_lock(&d->lock);
	assert_int_equal(d->suspends, 2);
	pthread_mutex_unlock(&d->lock);
	vd_accel_close(s);
	daemon_stop(d);
}

/* A client killed with tasks active: its connection's hang-up frees the session and its user. */
static void test_killed_client_gives_its_user_back(void **state)
{
	struct daemon *d = daemon_start(0);
	int pfd[2];
	char c;

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct vd_accel_task t[NTASKS];

		close(pfd[0]);
		if (!start_tasks(d->path, t) || write(pfd[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	close(pfd[0]);
	wait_state(d, VD_POWER_ACTIVE);
	assert_int_equal(seen(d, NULL).users[VD_POWER_USER_TASK], 1);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	wait_state(d, VD_POWER_IDLE);
	assert_int_equal(seen(d, NULL).users[VD_POWER_USER_TASK], 0);
	daemon_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_busy_session_is_a_user),
		cmocka_unit_test(test_task_resumes_a_suspended_engine),
		cmocka_unit_test(test_killed_client_gives_its_user_back),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
