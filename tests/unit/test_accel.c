/* tests/unit/test_accel.c - the accel conformance suite against the in-process engine.
 *
 * Run three times: tasks inline in START when the session is idle (the
 * default), every task on the worker thread (VD_ACCEL_INLINE_MAX=0), and
 * with a spinning worker (VD_ACCEL_SPIN_US), so each dispatch path meets
 * every rule. Then what only the in-process engine can meet: a START that
 * needs a worker thread when none can be created.
 */
#include <sys/syscall.h>

#include "test_accel_suite.c"
#include "testutil.h"

struct no_thread {
	int filter, start, wait, status;
	enum vd_accel_task_state state;
	uint64_t output_size;
	char msg[256];
};

/* In a thread of its own, which cannot create threads (clone and clone3 fail with EAGAIN). */
static void *no_thread_main(void *arg)
{
	static const long nrs[] = { SYS_clone, SYS_clone3 };
	struct no_thread *r = arg;
	struct vd_accel_params p;
	struct vd_accel *s = NULL;
	struct vd_accel_task t = { .input_fd = -1, .output_fd = -1 };

	r->filter = vd_test_deny_syscalls(nrs, 2, EAGAIN);
	if (r->filter < 0)
		return NULL;
	params_init(&p, VD_FORMAT_S16, 48000, 2, VD_FORMAT_S16, 44100, 2, 4096, 2);
	if (vd_accel_open(NULL, "src", &s) < 0 || vd_accel_set_params(s, &p) < 0 ||
	    vd_accel_task_create(s, &t) < 0) {
		r->start = 1;
		goto out;
	}
	t.input_size = 4096;
	r->start = vd_accel_task_start(s, &t);
	vd_accel_last_error(s, r->msg, sizeof(r->msg));
	r->wait = vd_accel_wait(s, POLLIN, 0);
	struct vd_accel_task_status st = { .seqno = t.seqno };
	r->status = vd_accel_task_status(s, &st);
	r->state = st.state;
	r->output_size = st.output_size;
out:
	if (t.input_fd >= 0)
		close(t.input_fd);
	if (t.output_fd >= 0)
		close(t.output_fd);
	if (s)
		vd_accel_close(s);
	return NULL;
}

/*
 * The worker thread is created at the first START that needs it; when the
 * system refuses a thread, START fails with -EAGAIN and its reason, and
 * the task is IDLE again as if never started: not readable, no output.
 */
static void test_no_worker_thread(void **state)
{
	struct no_thread r = { 0 };
	pthread_t th;

	setenv("VD_ACCEL_INLINE_MAX", "0", 1);	/* every task needs the worker */
	assert_int_equal(pthread_create(&th, NULL, no_thread_main, &r), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	unsetenv("VD_ACCEL_INLINE_MAX");
	assert_int_equal(r.filter, 0);
	assert_int_equal(r.start, -EAGAIN);
	assert_string_equal(r.msg, "cannot start the session's worker thread");
	assert_int_equal(r.wait, 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.state, VD_ACCEL_TASK_IDLE);
	assert_int_equal(r.output_size, 0);
}

int main(void)
{
	const struct CMUnitTest own[] = {
		cmocka_unit_test(test_no_worker_thread),
	};
	int failed = 0;

	failed += accel_conformance_run(NULL, "accel in-process (inline)");
	setenv("VD_ACCEL_INLINE_MAX", "0", 1);
	failed += accel_conformance_run(NULL, "accel in-process (worker)");
	setenv("VD_ACCEL_SPIN_US", "50", 1);
	failed += accel_conformance_run(NULL, "accel in-process (spinning worker)");
	unsetenv("VD_ACCEL_SPIN_US");
	unsetenv("VD_ACCEL_INLINE_MAX");
	failed += cmocka_run_group_tests_name("accel in-process, no thread", own, NULL, NULL);
	return failed;
}
