/* tests/unit/test_power.c - the daemon's power state machine (src/daemon/power.c)
 * on a real vd_loop with short idle timeouts: user counting per kind, the idle
 * timer, the suspend/resume hooks and their failures, and the status it
 * reports. Timing is only bounded from below (the timer never fires early) and
 * waited for with generous limits, so a loaded machine cannot fail it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "daemon/loop.h"
#include "daemon/power.h"

#define TIMEOUT_MS 40
/* how long a test waits for something that must happen (load-proof) */
#define PATIENCE_NS (10ull * 1000000000ull)

struct rec {
	int suspends, resumes, changes;
	int suspend_err, resume_err;
	enum vd_power_state last;
	struct vd_power_status last_st;
	uint64_t resume_sleep_ns;
};

struct fx {
	struct vd_loop *loop;
	struct vd_power *p;
	struct rec rec;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int h_suspend(void *data)
{
	struct rec *r = data;

	if (r->suspend_err)
		return r->suspend_err;
	r->suspends++;
	return 0;
}

static int h_resume(void *data)
{
	struct rec *r = data;

	if (r->resume_err)
		return r->resume_err;
	if (r->resume_sleep_ns) {
		struct timespec ts = { 0, (long)r->resume_sleep_ns };

		nanosleep(&ts, NULL);
	}
	r->resumes++;
	return 0;
}

static void h_changed(void *data, const struct vd_power_status *st)
{
	struct rec *r = data;

	r->changes++;
	r->last = st->state;
	r->last_st = *st;
}

static void make(struct fx *f, uint64_t timeout_ms)
{
	struct vd_power_hooks hooks = {
		.suspend = h_suspend, .resume = h_resume, .changed = h_changed, .data = &f->rec,
	};

	memset(f, 0, sizeof(*f));
	assert_int_equal(vd_loop_new(&f->loop), 0);
	assert_int_equal(vd_power_new(f->loop, timeout_ms, &hooks, &f->p), 0);
}

static void destroy(struct fx *f)
{
	vd_power_free(f->p);
	vd_loop_free(f->loop);
}

static enum vd_power_state state(struct fx *f)
{
	struct vd_power_status st;

	vd_power_status(f->p, &st);
	return st.state;
}

/* Runs the loop until the engine is suspended; returns how long that took. */
static uint64_t run_until_suspended(struct fx *f)
{
	uint64_t t0 = now_ns();

	while (state(f) != VD_POWER_SUSPENDED) {
		assert_true(now_ns() - t0 < PATIENCE_NS);
		assert_true(vd_loop_iterate(f->loop, 100) >= 0);
	}
	return now_ns() - t0;
}

/* Runs the loop for at least @ms (every timer due in that time has fired). */
static void run_for(struct fx *f, uint64_t ms)
{
	uint64_t t0 = now_ns();

	while (now_ns() - t0 < ms * 1000000ull)
		assert_true(vd_loop_iterate(f->loop, 10) >= 0);
}

static void test_starts_idle_then_suspends_after_timeout(void **state_)
{
	struct fx f;
	struct vd_power_status st;
	uint64_t took;

	(void)state_;
	make(&f, TIMEOUT_MS);
	vd_power_status(f.p, &st);
	assert_int_equal(st.state, VD_POWER_IDLE);
	assert_int_equal(st.idle_timeout_ms, TIMEOUT_MS);
	for (int k = 0; k < VD_POWER_USER_KINDS; k++)
		assert_int_equal(st.users[k], 0);

	took = run_until_suspended(&f);
	/* never before the timeout; no upper bound beyond patience (loaded CI) */
	assert_true(took >= (TIMEOUT_MS - 1) * 1000000ull);
	assert_int_equal(f.rec.suspends, 1);
	assert_int_equal(f.rec.changes, 1);
	assert_int_equal(f.rec.last, VD_POWER_SUSPENDED);
	vd_power_status(f.p, &st);
	assert_int_equal(st.suspends, 1);
	assert_int_equal(st.resumes, 0);

	/* suspended stays suspended: the timer is not re-armed */
	run_for(&f, 3 * TIMEOUT_MS);
	assert_int_equal(f.rec.suspends, 1);
	assert_int_equal(state(&f), VD_POWER_SUSPENDED);
	destroy(&f);
}

static void test_get_resumes_synchronously(void **state_)
{
	struct fx f;
	struct vd_power_status st;

	(void)state_;
	make(&f, TIMEOUT_MS);
	run_until_suspended(&f);
	f.rec.resume_sleep_ns = 2000000;	/* the hook takes >= 2 ms: that is what gets reported */

	assert_int_equal(vd_power_get(f.p, VD_POWER_USER_STREAM), 0);
	/* no loop iteration in between: the resume happened inside the get */
	assert_int_equal(f.rec.resumes, 1);
	vd_power_status(f.p, &st);
	assert_int_equal(st.state, VD_POWER_ACTIVE);
	assert_int_equal(st.users[VD_POWER_USER_STREAM], 1);
	assert_int_equal(st.resumes, 1);
	assert_true(st.last_resume_ns >= 2000000);
	assert_int_equal(f.rec.last, VD_POWER_ACTIVE);
	assert_int_equal(f.rec.last_st.users[VD_POWER_USER_STREAM], 1);

	/* a second user while active resumes nothing */
	assert_int_equal(vd_power_get(f.p, VD_POWER_USER_TASK), 0);
	assert_int_equal(f.rec.resumes, 1);

	/* and the engine suspends again once both have gone */
	vd_power_put(f.p, VD_POWER_USER_STREAM);
	assert_int_equal(state(&f), VD_POWER_ACTIVE);
	vd_power_put(f.p, VD_POWER_USER_TASK);
	assert_int_equal(state(&f), VD_POWER_IDLE);
	run_until_suspended(&f);
	assert_int_equal(f.rec.suspends, 2);
	vd_power_status(f.p, &st);
	assert_int_equal(st.suspends, 2);
	destroy(&f);
}

static void test_user_while_idle_cancels_timer(void **state_)
{
	struct fx f;

	(void)state_;
	make(&f, TIMEOUT_MS);
	assert_int_equal(vd_power_get(f.p, VD_POWER_USER_CLIENT), 0);
	assert_int_equal(state(&f), VD_POWER_ACTIVE);
	/* idle -> active resumes nothing: the engine was running */
	assert_int_equal(f.rec.resumes, 0);
	run_for(&f, 4 * TIMEOUT_MS);
	assert_int_equal(f.rec.suspends, 0);
	assert_int_equal(state(&f), VD_POWER_ACTIVE);

	vd_power_put(f.p, VD_POWER_USER_CLIENT);
	run_until_suspended(&f);
	assert_int_equal(f.rec.suspends, 1);
	destroy(&f);
}

static void test_counts_per_kind(void **state_)
{
	struct fx f;
	struct vd_power_status st;

	(void)state_;
	make(&f, TIMEOUT_MS);
	assert_int_equal(vd_power_get(f.p, VD_POWER_USER_STREAM), 0);
	assert_int_equal(vd_power_get(f.p, VD_POWER_USER_STREAM), 0);
	assert_int_equal(vd_power_get(f.p, VD_POWER_USER_TASK), 0);
	vd_power_status(f.p, &st);
	assert_int_equal(st.users[VD_POWER_USER_STREAM], 2);
	assert_int_equal(st.users[VD_POWER_USER_TASK], 1);
	assert_int_equal(st.users[VD_POWER_USER_CLIENT], 0);
	/* one transition for three users */
	assert_int_equal(f.rec.changes, 1);

	/* a put of a kind nobody holds changes nothing (no wrap to 2^32-1) */
	vd_power_put(f.p, VD_POWER_USER_CLIENT);
	vd_power_status(f.p, &st);
	assert_int_equal(st.users[VD_POWER_USER_CLIENT], 0);
	assert_int_equal(st.state, VD_POWER_ACTIVE);

	vd_power_put(f.p, VD_POWER_USER_STREAM);
	vd_power_put(f.p, VD_POWER_USER_STREAM);
	assert_int_equal(state(&f), VD_POWER_ACTIVE);
	vd_power_put(f.p, VD_POWER_USER_STREAM);	/* unmatched: still the task holds it */
	assert_int_equal(state(&f), VD_POWER_ACTIVE);
	vd_power_put(f.p, VD_POWER_USER_TASK);
	vd_power_status(f.p, &st);
	assert_int_equal(st.state, VD_POWER_IDLE);
	for (int k = 0; k < VD_POWER_USER_KINDS; k++)
		assert_int_equal(st.users[k], 0);
	assert_int_equal(f.rec.changes, 2);

	assert_int_equal(vd_power_get(f.p, VD_POWER_USER_KINDS), -EINVAL);
	assert_int_equal(vd_power_get(f.p, (enum vd_power_user)-1), -EINVAL);
	assert_int_equal(state(&f), VD_POWER_IDLE);
	destroy(&f);
}

static void test_zero_timeout_never_suspends(void **state_)
{
	struct fx f;

	(void)state_;
	make(&f, 0);
	run_for(&f, 5 * TIMEOUT_MS);
	assert_int_equal(f.rec.suspends, 0);
	assert_int_equal(state(&f), VD_POWER_IDLE);
	assert_int_equal(vd_power_get(f.p, VD_POWER_USER_STREAM), 0);
	vd_power_put(f.p, VD_POWER_USER_STREAM);
	run_for(&f, 5 * TIMEOUT_MS);
	assert_int_equal(f.rec.suspends, 0);
	assert_int_equal(state(&f), VD_POWER_IDLE);
	destroy(&f);
}

static void test_failed_suspend_stays_idle_and_retries(void **state_)
{
	struct fx f;
	uint64_t t0;

	(void)state_;
	make(&f, TIMEOUT_MS);
	f.rec.suspend_err = -EIO;
	run_for(&f, 3 * TIMEOUT_MS);
	assert_int_equal(state(&f), VD_POWER_IDLE);
	assert_int_equal(f.rec.suspends, 0);
	assert_int_equal(f.rec.changes, 0);

	/* the timer was re-armed: once the hook succeeds, it suspends on its own */
	f.rec.suspend_err = 0;
	t0 = now_ns();
	run_until_suspended(&f);
	assert_true(now_ns() - t0 < PATIENCE_NS);
	assert_int_equal(f.rec.suspends, 1);
	destroy(&f);
}

static void test_failed_resume_returns_error_and_counts_nobody(void **state_)
{
	struct fx f;
	struct vd_power_status st;

	(void)state_;
	make(&f, TIMEOUT_MS);
	run_until_suspended(&f);
	f.rec.resume_err = -ENODEV;
	assert_int_equal(vd_power_get(f.p, VD_POWER_USER_STREAM), -ENODEV);
	vd_power_status(f.p, &st);
	assert_int_equal(st.state, VD_POWER_SUSPENDED);
	assert_int_equal(st.users[VD_POWER_USER_STREAM], 0);
	assert_int_equal(st.resumes, 0);

	f.rec.resume_err = 0;
	assert_int_equal(vd_power_get(f.p, VD_POWER_USER_STREAM), 0);
	assert_int_equal(state(&f), VD_POWER_ACTIVE);
	assert_int_equal(f.rec.resumes, 1);
	vd_power_put(f.p, VD_POWER_USER_STREAM);
	destroy(&f);
}

static void test_since_and_names(void **state_)
{
	struct fx f;
	struct vd_power_status a, b;

	(void)state_;
	make(&f, TIMEOUT_MS);
	vd_power_status(f.p, &a);
	assert_true(a.since_ns > 0 && a.since_ns <= now_ns());
	assert_int_equal(vd_power_get(f.p, VD_POWER_USER_TASK), 0);
	vd_power_status(f.p, &b);
	assert_true(b.since_ns >= a.since_ns);
	vd_power_put(f.p, VD_POWER_USER_TASK);
	destroy(&f);

	assert_string_equal(vd_power_state_name(VD_POWER_ACTIVE), "active");
	assert_string_equal(vd_power_state_name(VD_POWER_IDLE), "idle");
	assert_string_equal(vd_power_state_name(VD_POWER_SUSPENDED), "suspended");
	assert_string_equal(vd_power_state_name((enum vd_power_state)42), "unknown");
}

static void test_no_hooks(void **state_)
{
	struct vd_loop *loop;
	struct vd_power *p;
	struct vd_power_status st;
	uint64_t t0 = now_ns();

	(void)state_;
	assert_int_equal(vd_loop_new(&loop), 0);
	assert_int_equal(vd_power_new(loop, TIMEOUT_MS, NULL, &p), 0);
	do {
		assert_true(now_ns() - t0 < PATIENCE_NS);
		assert_true(vd_loop_iterate(loop, 100) >= 0);
		vd_power_status(p, &st);
	} while (st.state != VD_POWER_SUSPENDED);
	assert_int_equal(vd_power_get(p, VD_POWER_USER_STREAM), 0);
	vd_power_status(p, &st);
	assert_int_equal(st.state, VD_POWER_ACTIVE);
	assert_int_equal(st.resumes, 1);
	vd_power_free(p);
	vd_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_idle_then_suspends_after_timeout),
		cmocka_unit_test(test_get_resumes_synchronously),
		cmocka_unit_test(test_user_while_idle_cancels_timer),
		cmocka_unit_test(test_counts_per_kind),
		cmocka_unit_test(test_zero_timeout_never_suspends),
		cmocka_unit_test(test_failed_suspend_stays_idle_and_retries),
		cmocka_unit_test(test_failed_resume_returns_error_and_counts_nobody),
		cmocka_unit_test(test_since_and_names),
		cmocka_unit_test(test_no_hooks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
