/* tests/unit/test_attach.c - attach-point buses: feeds mixed into a live host graph,
 * fanned out from it, connected and disconnected at cycle boundaries (also under the
 * real-time scheduler, where a disconnected feed must never be called again). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <virtdsp/attach.h>
#include <virtdsp/sched.h>
#include <virtdsp/topology.h>

#include "testnodes.h"

static struct vd_node_ops capture_sink;

static struct vd_graph *build(const char *text, bool live)
{
	struct vd_topology *t;
	struct vd_graph *g;
	struct vd_diag diag = { 0 };

	assert_int_equal(vd_topology_load_string(text, strlen(text), "host.topo", &t, &diag), 0);
	assert_int_equal(vd_graph_new(&g), 0);
	vd_graph_set_live(g, live);
	capture_sink = test_capture_ops;
	capture_sink.type = "capture-sink";
	assert_int_equal(vd_graph_register_type(g, &capture_sink), 0);
	assert_int_equal(vd_graph_register_type(g, &test_ramp_ops), 0);
	assert_int_equal(vd_topology_build(t, g, &diag), 0);
	vd_topology_free(t);
	return g;
}

/* playback feeds: A gives (k % 100) / 1024 for its k-th frame, B a constant 0.25 */
struct feed_state {
	uint64_t k;
	float value;
	_Atomic uint64_t calls;
	_Atomic bool gone;
	_Atomic uint64_t calls_after_gone;
};

static void pull_ramp(void *data, void *dst, uint32_t frames)
{
	struct feed_state *s = data;
	float *d = dst;
	for (uint32_t i = 0; i < frames; i++)
		d[i] = (float)((s->k++ % 100) / 1024.0);
	atomic_fetch_add(&s->calls, 1);
	if (atomic_load(&s->gone))
		atomic_fetch_add(&s->calls_after_gone, 1);
}

static void pull_const(void *data, void *dst, uint32_t frames)
{
	struct feed_state *s = data;
	float *d = dst;
	for (uint32_t i = 0; i < frames; i++)
		d[i] = s->value;
	atomic_fetch_add(&s->calls, 1);
	if (atomic_load(&s->gone))
		atomic_fetch_add(&s->calls_after_gone, 1);
}

static const char *host_playback =
	"pipeline host {\n  rate = 48000\n  period = 480\n"
	"  attach guests playback { channels = 1 }\n"
	"  sink out capture\n  link guests -> out\n}\n";

static void test_playback_mix_and_disconnect(void **state)
{
	struct vd_graph *g = build(host_playback, true);
	struct test_capture *cap = test_last_capture;
	struct vd_attach *a;
	struct vd_feed *fa, *fb;
	struct feed_state sa = { 0 }, sb = { .value = 0.25f };
	struct vd_feed_ops ra = { .pull = pull_ramp }, rb = { .pull = pull_const };

	assert_int_equal(vd_graph_attach(g, "guests", &a), 0);
	assert_int_equal(vd_attach_direction(a), VD_ATTACH_PLAYBACK);
	assert_int_equal(vd_attach_format(a)->format, VD_FORMAT_F32);
	assert_int_equal(vd_attach_format(a)->rate, 48000);
	assert_int_equal(vd_attach_format(a)->channels, 1);
	assert_int_equal(vd_attach_period(a), 480);
	assert_int_equal(vd_graph_attach(g, "out", &a) == -ENOENT, 1);
	assert_int_equal(vd_graph_attach(g, "guests", &a), 0);

	/* no feed: silence, and the bus never ends */
	assert_int_equal(vd_graph_cycle(g), 0);
	assert_int_equal(cap->n, 480);
	for (uint32_t i = 0; i < 480; i++)
		assert_int_equal(cap->data[i], 0);

	assert_int_equal(vd_attach_connect(a, &ra, &sa, &fa), 0);
	assert_int_equal(vd_attach_connect(a, &rb, &sb, &fb), 0);
	for (int c = 0; c < 3; c++)
		assert_int_equal(vd_graph_cycle(g), 0);
	assert_int_equal(cap->n, 4 * 480);
	/* sum in float, converted to S16: exact (k % 100) * 32 + 8192 */
	for (uint32_t i = 0; i < 3 * 480; i++)
		assert_int_equal(cap->data[480 + i], (int16_t)((i % 100) * 32 + 8192));

	vd_attach_disconnect(fb);
	assert_int_equal(vd_graph_cycle(g), 0);
	for (uint32_t i = 0; i < 480; i++)
		assert_int_equal(cap->data[4 * 480 + i], (int16_t)(((3 * 480 + i) % 100) * 32));
	assert_int_equal(atomic_load(&sb.calls), 3);
	vd_attach_disconnect(fa);
	vd_graph_free(g);
}

struct sink_state {
	float got[48000];
	uint32_t n;
};

static void push_store(void *data, const void *src, uint32_t frames)
{
	struct sink_state *s = data;
	const float *x = src;
	for (uint32_t i = 0; i < frames && s->n < 48000; i++)
		s->got[s->n++] = x[i];
}

static void test_capture_fan_out(void **state)
{
	struct vd_graph *g = build("pipeline host {\n  rate = 48000\n  period = 240\n"
				   "  node r ramp { frames = 4800 }\n"
				   "  attach mics capture { channels = 1 }\n  link r -> mics\n}\n", true);
	struct vd_attach *a;
	struct vd_feed *f1, *f2;
	struct sink_state *s1 = calloc(1, sizeof(*s1)), *s2 = calloc(1, sizeof(*s2));
	struct vd_feed_ops ops = { .push = push_store }, bad = { .pull = pull_const };

	assert_int_equal(vd_graph_attach(g, "mics", &a), 0);
	assert_int_equal(vd_attach_direction(a), VD_ATTACH_CAPTURE);
	assert_int_equal(vd_attach_connect(a, &bad, NULL, &f1), -EINVAL);
	assert_int_equal(vd_attach_connect(a, &ops, s1, &f1), 0);
	for (int c = 0; c < 10; c++)
		vd_graph_cycle(g);
	assert_int_equal(vd_attach_connect(a, &ops, s2, &f2), 0);
	for (int c = 0; c < 10; c++)
		vd_graph_cycle(g);
	assert_int_equal(s1->n, 4800);
	assert_int_equal(s2->n, 2400);
	for (uint32_t i = 0; i < 4800; i++)
		assert_float_equal(s1->got[i], (float)i / 32768.0f, 0);
	for (uint32_t i = 0; i < 2400; i++)
		assert_float_equal(s2->got[i], (float)(i + 2400) / 32768.0f, 0);
	vd_attach_disconnect(f1);
	vd_attach_disconnect(f2);
	vd_graph_free(g);
	free(s1);
	free(s2);
}

/* With the real-time scheduler running, connect and disconnect many feeds; once
 * vd_attach_disconnect() has returned, the feed is never called again. */
static void test_live_connect_disconnect(void **state)
{
	struct vd_graph *g = build("pipeline host {\n  rate = 48000\n  period = 48\n"
				   "  attach guests playback { channels = 1 }\n"
				   "  sink out null\n  link guests -> out\n}\n", true);
	struct vd_attach *a;
	struct vd_rt_config cfg = { .period_ns = 1000000 };
	struct vd_rt_sched *s;
	struct vd_rt_stats st;
	struct feed_state fs[16];
	struct vd_feed *f[16];
	struct vd_feed_ops ops = { .pull = pull_const };

	memset(fs, 0, sizeof(fs));
	assert_int_equal(vd_graph_attach(g, "guests", &a), 0);
	assert_int_equal(vd_rt_sched_start(g, &cfg, &s), 0);
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 16; i++)
			assert_int_equal(vd_attach_connect(a, &ops, &fs[i], &f[i]), 0);
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL);
		for (int i = 0; i < 16; i++) {
			vd_attach_disconnect(f[i]);
			atomic_store(&fs[i].gone, true);
		}
		nanosleep(&ts, NULL);
		for (int i = 0; i < 16; i++) {
			assert_int_equal(atomic_load(&fs[i].calls_after_gone), 0);
			atomic_store(&fs[i].gone, false);
		}
	}
	vd_rt_sched_stop(s, &st);
	assert_int_equal(st.error, 0);
	/* every feed was connected for ~5 ms of 1 ms cycles in each round */
	for (int i = 0; i < 16; i++)
		assert_true(atomic_load(&fs[i].calls) >= 4);
	vd_graph_free(g);
}

/* Not live: an attach point is a file stand-in or silence; it has no bus. */
static void test_not_live_has_no_bus(void **state)
{
	struct vd_graph *g = build(host_playback, false);
	struct vd_attach *a;

	assert_int_equal(vd_graph_attach(g, "guests", &a), -ENOENT);
	vd_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_playback_mix_and_disconnect),
		cmocka_unit_test(test_capture_fan_out),
		cmocka_unit_test(test_live_connect_disconnect),
		cmocka_unit_test(test_not_live_has_no_bus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
