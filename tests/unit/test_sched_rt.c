/* tests/unit/test_sched_rt.c - the real-time scheduler: paced in real time, same samples as
 * the offline scheduler, parameter changes applied between periods, clean stop. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <virtdsp/graph.h>
#include <virtdsp/sched.h>

#include "testnodes.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ramp (14400 frames at 48 kHz = 0.3 s, 480-frame periods) -> double -> capture */
static struct vd_graph *build(struct test_capture **cap)
{
	struct vd_graph *g;
	struct vd_error err = { 0 };
	struct vd_prop p = { .key = "frames", .type = VD_PROP_NUMBER, .str = "14400", .num = 14400, .unit = "" };
	struct vd_props props = { .items = &p, .n = 1 };
	struct vd_graph_node_desc d[3] = {
		{ .name = "src", .type = "ramp", .props = &props, .period = 480, .rate = 48000 },
		{ .name = "x2", .type = "double", .period = 480, .rate = 48000 },
		{ .name = "out", .type = "capture", .period = 480, .rate = 48000 },
	};

	assert_int_equal(vd_graph_new(&g), 0);
	vd_graph_register_type(g, &test_ramp_ops);
	vd_graph_register_type(g, &test_double_ops);
	vd_graph_register_type(g, &test_convert_ops);
	vd_graph_register_type(g, &test_capture_ops);
	for (int i = 0; i < 3; i++)
		assert_int_equal(vd_graph_add_node(g, &d[i], &err), 0);
	*cap = test_last_capture;
	assert_int_equal(vd_graph_link(g, "src", NULL, "x2", NULL, NULL, &err), 0);
	assert_int_equal(vd_graph_link(g, "x2", NULL, "out", NULL, NULL, &err), 0);
	assert_int_equal(vd_graph_prepare(g, &err), 0);
	return g;
}

static void test_paced_and_identical_to_offline(void **state)
{
	struct test_capture *rt_cap, *off_cap;
	struct vd_graph *rt = build(&rt_cap), *off = build(&off_cap);
	struct vd_rt_config cfg = { .period_ns = 10000000, .stop_at_end = true };
	struct vd_rt_sched *s;
	struct vd_rt_stats st;
	struct vd_error err = { 0 };

	double t0 = now();
	assert_int_equal(vd_rt_sched_start(rt, &cfg, &s), 0);
	struct vd_rt_sched *s2;
	assert_int_equal(vd_rt_sched_start(rt, &cfg, &s2), -EBUSY);
	assert_int_equal(vd_rt_sched_wait(s, 5000), 0);
	double elapsed = now() - t0;
	vd_rt_sched_stop(s, &st);

	assert_true(st.finished);
	assert_int_equal(st.error, 0);
	/* 30 periods of audio need at least 29 period waits: never faster than real time */
	assert_true(st.cycles >= 30);
	if (elapsed < 0.29)
		fail_msg("0.3 s of audio finished in %.3f s: not paced", elapsed);
	assert_int_equal(rt_cap->n, 14400);
	assert_true(rt_cap->ended);

	assert_int_equal(vd_graph_run(off, NULL, NULL, &err), 0);
	assert_int_equal(off_cap->n, 14400);
	assert_memory_equal(rt_cap->data, off_cap->data, 14400 * sizeof(int16_t));
	vd_graph_free(rt);
	vd_graph_free(off);
}

static void test_param_queued_between_periods(void **state)
{
	struct test_capture *cap;
	struct vd_graph *g = build(&cap);
	struct vd_rt_config cfg = { .period_ns = 5000000, .stop_at_end = true };
	struct vd_rt_sched *s;
	struct vd_rt_stats st;
	double v;

	assert_int_equal(vd_rt_sched_start(g, &cfg, &s), 0);
	struct timespec ts = { 0, 40000000 };
	nanosleep(&ts, NULL);
	assert_int_equal(vd_graph_set_param(g, "x2", "factor", 1.0), 0);
	/* while running, the value read back is the one queued */
	assert_int_equal(vd_graph_get_param(g, "x2", "factor", &v), 0);
	assert_float_equal(v, 1.0, 0);
	assert_int_equal(vd_rt_sched_wait(s, 5000), 0);
	vd_rt_sched_stop(s, &st);
	assert_true(st.finished);
	assert_int_equal(cap->n, 14400);
	/* the change lands on a period boundary: each 480-frame period is entirely x2 or x1 */
	uint32_t switch_at = 0;
	for (uint32_t i = 1; i < 14400; i++) {
		if (cap->data[i] == (int16_t)i && cap->data[i - 1] == (int16_t)(2 * (i - 1))) {
			switch_at = i;
			break;
		}
	}
	assert_true(switch_at > 0);
	assert_int_equal(switch_at % 480, 0);
	for (uint32_t i = 0; i < 14400; i++)
		assert_int_equal(cap->data[i], (int16_t)(i < switch_at ? 2 * i : i));
	vd_graph_free(g);
}

static void test_stop_while_running(void **state)
{
	struct test_capture *cap;
	struct vd_graph *g = build(&cap);
	struct vd_rt_config cfg = { .period_ns = 10000000, .stop_at_end = true };
	struct vd_rt_sched *s;
	struct vd_rt_stats st;

	assert_int_equal(vd_rt_sched_start(g, &cfg, &s), 0);
	assert_int_equal(vd_rt_sched_wait(s, 50), -ETIMEDOUT);
	vd_rt_sched_stop(s, &st);
	assert_false(st.finished);
	assert_true(cap->n < 14400);
	/* the graph can be driven again afterwards */
	struct vd_error err = { 0 };
	assert_int_equal(vd_graph_run(g, NULL, NULL, &err), 0);
	assert_int_equal(cap->n, 14400);
	vd_graph_free(g);
}

static void test_bad_config(void **state)
{
	struct test_capture *cap;
	struct vd_graph *g = build(&cap);
	struct vd_rt_config cfg = { .period_ns = 10 };
	struct vd_rt_sched *s;

	assert_int_equal(vd_rt_sched_start(g, &cfg, &s), -EINVAL);
	vd_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paced_and_identical_to_offline),
		cmocka_unit_test(test_param_queued_between_periods),
		cmocka_unit_test(test_stop_while_running),
		cmocka_unit_test(test_bad_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
