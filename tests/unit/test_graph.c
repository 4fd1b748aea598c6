/* tests/unit/test_graph.c - graph construction, validation errors, negotiation with
 * inserted converters, and the offline scheduler, using small test-only node types. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <math.h>

#include <virtdsp/graph.h>

#include "testnodes.h"

/* ---- helpers ---- */

static struct vd_graph *new_graph(void)
{
	struct vd_graph *g;
	assert_int_equal(vd_graph_new(&g), 0);
	assert_int_equal(vd_graph_register_type(g, &test_ramp_ops), 0);
	assert_int_equal(vd_graph_register_type(g, &test_double_ops), 0);
	assert_int_equal(vd_graph_register_type(g, &test_convert_ops), 0);
	assert_int_equal(vd_graph_register_type(g, &test_capture_ops), 0);
	assert_int_equal(vd_graph_register_type(g, &test_tee_ops), 0);
	return g;
}

static int add(struct vd_graph *g, const char *name, const char *type, struct vd_props *props,
	       unsigned line, struct vd_error *err)
{
	struct vd_graph_node_desc d = {
		.name = name, .type = type, .props = props, .period = 100,
		.loc = { .file = "t.topo", .line = line, .column = 5 },
	};
	return vd_graph_add_node(g, &d, err);
}

static int link2(struct vd_graph *g, const char *a, const char *b, unsigned line, struct vd_error *err)
{
	struct vd_location loc = { "t.topo", line, 1 };
	return vd_graph_link(g, a, NULL, b, NULL, &loc, err);
}

static void expect_msg(const struct vd_error *e, const char *want)
{
	char buf[600];
	vd_error_format(e, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fail_msg("error was \"%s\", expected \"%s\"", buf, want);
}

/* ---- tests ---- */

static void test_chain_with_inserted_converters(void **state)
{
	struct vd_graph *g = new_graph();
	struct vd_error err = { 0 };
	struct vd_run_stats st;
	char desc[2048];

	assert_int_equal(add(g, "src", "ramp", NULL, 1, &err), 0);
	assert_int_equal(add(g, "x2", "double", NULL, 2, &err), 0);
	assert_int_equal(add(g, "out", "capture", NULL, 3, &err), 0);
	assert_int_equal(link2(g, "src", "x2", 4, &err), 0);
	assert_int_equal(link2(g, "x2", "out", 4, &err), 0);
	assert_int_equal(vd_graph_prepare(g, &err), 0);
	assert_int_equal(vd_graph_describe(g, desc, sizeof(desc)), 0);
	/* S16 source -> convert -> double (F32) -> convert -> S16 sink */
	assert_non_null(strstr(desc, "x2.convert0 (convert) [inserted]"));
	assert_non_null(strstr(desc, "out.convert1 (convert) [inserted]"));
	assert_int_equal(vd_graph_run(g, NULL, &st, &err), 0);
	assert_non_null(test_last_capture);
	assert_int_equal(test_last_capture->n, 1000);
	assert_true(test_last_capture->ended);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(test_last_capture->data[i], 2 * i);
	assert_int_equal(st.source_frames, 1000);
	/* a period of 100 frames: at least 10 cycles */
	assert_true(st.cycles >= 10);

	struct vd_sink_stats ss;
	assert_int_equal(vd_graph_sink_count(g), 1);
	assert_int_equal(vd_graph_sink_stats(g, 0, &ss), 0);
	assert_int_equal(ss.frames, 1000);
	assert_float_equal(ss.peak[0], 1998.0 / 32768.0, 1e-6);
	vd_graph_free(g);
}

static void test_deterministic_rerun(void **state)
{
	struct vd_graph *g = new_graph();
	struct vd_error err = { 0 };
	int16_t first[3000];
	struct vd_prop p = { .key = "frames", .type = VD_PROP_NUMBER, .str = "3000", .num = 3000, .unit = "" };
	struct vd_props props = { .items = &p, .n = 1 };

	assert_int_equal(add(g, "src", "ramp", &props, 1, &err), 0);
	assert_int_equal(add(g, "x2", "double", NULL, 2, &err), 0);
	assert_int_equal(add(g, "out", "capture", NULL, 3, &err), 0);
	assert_int_equal(link2(g, "src", "x2", 4, &err), 0);
	assert_int_equal(link2(g, "x2", "out", 4, &err), 0);
	assert_int_equal(vd_graph_prepare(g, &err), 0);
	assert_int_equal(vd_graph_run(g, NULL, NULL, &err), 0);
	struct test_capture *c = test_last_capture;
	assert_int_equal(c->n, 3000);
	memcpy(first, c->data, sizeof(first));
	vd_graph_reset(g);
	c->n = 0;
	assert_int_equal(vd_graph_run(g, NULL, NULL, &err), 0);
	assert_int_equal(c->n, 3000);
	assert_memory_equal(first, c->data, sizeof(first));
	vd_graph_free(g);
}

/* Progress as the runner reports it: every call, and the largest done and total seen. */
struct progress_log { int calls; int64_t last_done, last_total; bool beyond; };

static void log_progress(void *data, int64_t done, int64_t total)
{
	struct progress_log *p = data;
	p->calls++;
	if (total < 0 || done > total)
		p->beyond = true;
	p->last_done = done;
	p->last_total = total;
}

/* max_seconds ends the sources on the exact frame (not at the end of a period), progress
 * counts toward that limit, and the limit belongs to its run only. */
static void test_max_seconds_is_frame_exact(void **state)
{
	struct vd_graph *g = new_graph();
	struct vd_error err = { 0 };
	struct vd_run_stats st;
	struct progress_log pl = { 0 };
	struct vd_prop p = { .key = "frames", .type = VD_PROP_NUMBER, .str = "30000", .num = 30000, .unit = "" };
	struct vd_props props = { .items = &p, .n = 1 };
	/* 1234 frames at 48 kHz: not a multiple of the 100-frame period */
	struct vd_run_options ro = { .progress = log_progress, .data = &pl, .max_seconds = 1234.0 / 48000 };

	assert_int_equal(add(g, "src", "ramp", &props, 1, &err), 0);
	assert_int_equal(add(g, "out", "capture", NULL, 2, &err), 0);
	assert_int_equal(link2(g, "src", "out", 3, &err), 0);
	assert_int_equal(vd_graph_prepare(g, &err), 0);
	assert_int_equal(vd_graph_run(g, &ro, &st, &err), 0);
	struct test_capture *c = test_last_capture;
	assert_int_equal(c->n, 1234);
	assert_true(c->ended);
	for (int i = 0; i < 1234; i++)
		assert_int_equal(c->data[i], i);
	assert_int_equal(st.source_frames, 1234);
	assert_float_equal(st.audio_seconds, 1234.0 / 48000, 1e-12);
	/* the total is the limit, not the source's 30000 frames and not "what is done so far" */
	assert_true(pl.calls >= 1);
	assert_false(pl.beyond);
	assert_int_equal(pl.last_done, 1234);
	assert_int_equal(pl.last_total, 1234);

	/* the next run without a limit plays the whole source */
	vd_graph_reset(g);
	c->n = 0;
	c->ended = false;
	assert_int_equal(vd_graph_run(g, NULL, &st, &err), 0);
	assert_int_equal(c->n, 30000);
	assert_true(c->ended);

	/* a limit longer than the source changes nothing; progress totals the source */
	vd_graph_reset(g);
	c->n = 0;
	memset(&pl, 0, sizeof(pl));
	ro.max_seconds = 10;
	assert_int_equal(vd_graph_run(g, &ro, &st, &err), 0);
	assert_int_equal(c->n, 30000);
	assert_false(pl.beyond);
	assert_int_equal(pl.last_total, 30000);
	vd_graph_free(g);
}

/* S16 at 24 kHz into a 48 kHz pipeline whose sink wants S16: the rate converter needs F32,
 * so the graph must splice convert -> src -> convert, in that order, on the right links. */
static void test_rate_and_format_chain(void **state)
{
	struct vd_graph *g = new_graph();
	struct vd_error err = { 0 };
	char desc[2048];
	struct vd_prop p = { .key = "rate", .type = VD_PROP_NUMBER, .str = "24000", .num = 24000, .unit = "" };
	struct vd_props props = { .items = &p, .n = 1 };
	struct vd_graph_node_desc d = { .name = "in", .type = "ramp", .props = &props, .rate = 48000,
					.pipeline = "main", .period = 100 };

	assert_int_equal(vd_graph_register_type(g, &test_src_ops), 0);
	assert_int_equal(vd_graph_add_node(g, &d, &err), 0);
	d = (struct vd_graph_node_desc){ .name = "out", .type = "capture", .rate = 48000, .pipeline = "main" };
	assert_int_equal(vd_graph_add_node(g, &d, &err), 0);
	struct test_capture *cap = test_last_capture;
	assert_int_equal(vd_graph_link(g, "in", NULL, "out", NULL, NULL, &err), 0);
	assert_int_equal(vd_graph_prepare(g, &err), 0);
	assert_int_equal(vd_graph_describe(g, desc, sizeof(desc)), 0);
	const char *a = strstr(desc, "in (ramp)\n  out -> out.src0.convert1:in  s16 24000Hz 1ch");
	const char *b = strstr(desc, "out.src0.convert1 (convert) [inserted]\n  out -> out.src0:in  f32 24000Hz 1ch");
	const char *c = strstr(desc, "out.src0 (src) [inserted]\n  out -> out.convert2:in  f32 48000Hz 1ch");
	const char *e = strstr(desc, "out.convert2 (convert) [inserted]\n  out -> out:in  s16 48000Hz 1ch");
	if (!a || !b || !c || !e || !(a < b && b < c && c < e))
		fail_msg("unexpected graph:\n%s", desc);
	assert_int_equal(vd_graph_run(g, NULL, NULL, &err), 0);
	assert_int_equal(cap->n, 2000);
	for (uint32_t i = 0; i < 2000; i++)
		assert_int_equal(cap->data[i], (int16_t)(i / 2));
	vd_graph_free(g);
}

/* S16 at 24 kHz into a node that wants F32 at 48 kHz: convert to float first, then
 * resample in float; no integer rounding between the two and no third node. */
static void test_float_before_rate_change(void **state)
{
	struct vd_graph *g = new_graph();
	struct vd_error err = { 0 };
	char desc[2048];
	struct vd_prop p = { .key = "rate", .type = VD_PROP_NUMBER, .str = "24000", .num = 24000, .unit = "" };
	struct vd_props props = { .items = &p, .n = 1 };
	struct vd_graph_node_desc d = { .name = "in", .type = "ramp", .props = &props, .rate = 48000,
					.pipeline = "main", .period = 100 };

	assert_int_equal(vd_graph_register_type(g, &test_src_ops), 0);
	assert_int_equal(vd_graph_add_node(g, &d, &err), 0);
	d = (struct vd_graph_node_desc){ .name = "x2", .type = "double", .rate = 48000, .pipeline = "main" };
	assert_int_equal(vd_graph_add_node(g, &d, &err), 0);
	d = (struct vd_graph_node_desc){ .name = "out", .type = "capture", .rate = 48000, .pipeline = "main" };
	assert_int_equal(vd_graph_add_node(g, &d, &err), 0);
	assert_int_equal(vd_graph_link(g, "in", NULL, "x2", NULL, NULL, &err), 0);
	assert_int_equal(vd_graph_link(g, "x2", NULL, "out", NULL, NULL, &err), 0);
	assert_int_equal(vd_graph_prepare(g, &err), 0);
	assert_int_equal(vd_graph_describe(g, desc, sizeof(desc)), 0);
	const char *a = strstr(desc, "in (ramp)\n  out -> x2.convert0:in  s16 24000Hz 1ch");
	const char *b = strstr(desc, "x2.convert0 (convert) [inserted]\n  out -> x2.src1:in  f32 24000Hz 1ch");
	const char *c = strstr(desc, "x2.src1 (src) [inserted]\n  out -> x2:in  f32 48000Hz 1ch");
	if (!a || !b || !c || !(a < b && b < c))
		fail_msg("unexpected graph:\n%s", desc);
	vd_graph_free(g);
}

static void test_fan_out(void **state)
{
	struct vd_graph *g = new_graph();
	struct vd_error err = { 0 };
	struct vd_location loc = { "t.topo", 9, 1 };
	struct test_capture *a, *b;

	assert_int_equal(add(g, "src", "ramp", NULL, 1, &err), 0);
	assert_int_equal(add(g, "tee", "tee2", NULL, 2, &err), 0);
	assert_int_equal(add(g, "a", "capture", NULL, 3, &err), 0);
	a = test_last_capture;
	assert_int_equal(add(g, "b", "capture", NULL, 4, &err), 0);
	b = test_last_capture;
	assert_int_equal(link2(g, "src", "tee", 5, &err), 0);
	assert_int_equal(vd_graph_link(g, "tee", "out1", "b", "in", &loc, &err), 0);
	assert_int_equal(vd_graph_link(g, "tee", "0", "a", NULL, &loc, &err), 0);
	assert_int_equal(vd_graph_prepare(g, &err), 0);
	assert_int_equal(vd_graph_run(g, NULL, NULL, &err), 0);
	assert_int_equal(a->n, 1000);
	assert_int_equal(b->n, 1000);
	assert_memory_equal(a->data, b->data, 2000);
	vd_graph_free(g);
}

static void test_errors(void **state)
{
	struct vd_graph *g = new_graph();
	struct vd_error err = { 0 };
	struct vd_location loc = { "t.topo", 7, 3 };

	assert_int_equal(add(g, "src", "ramp", NULL, 1, &err), 0);
	assert_int_equal(add(g, "src", "ramp", NULL, 2, &err), -EEXIST);
	expect_msg(&err, "t.topo:2:5: a node called 'src' already exists");
	vd_error_clear(&err);
	assert_int_equal(add(g, "w", "wobble", NULL, 3, &err), -ENOENT);
	expect_msg(&err, "t.topo:3:5: unknown node type 'wobble'");
	vd_error_clear(&err);

	struct vd_prop p = { .key = "frams", .type = VD_PROP_NUMBER, .str = "5", .num = 5, .unit = "",
			     .loc = { "t.topo", 4, 20 } };
	struct vd_props props = { .items = &p, .n = 1 };
	assert_int_equal(add(g, "r2", "ramp", &props, 4, &err), -EINVAL);
	expect_msg(&err, "t.topo:4:20: unknown property 'frams' for ramp");
	vd_error_clear(&err);

	struct vd_prop q = { .key = "frames", .type = VD_PROP_IDENT, .str = "many", .loc = { "t.topo", 5, 21 } };
	struct vd_props qprops = { .items = &q, .n = 1 };
	assert_int_equal(add(g, "r3", "ramp", &qprops, 5, &err), -EINVAL);
	expect_msg(&err, "t.topo:5:21: 'frames' must be a whole number, not a word 'many'");
	vd_error_clear(&err);

	assert_int_equal(add(g, "x2", "double", NULL, 6, &err), 0);
	assert_int_equal(vd_graph_link(g, "src", NULL, "nowhere", NULL, &loc, &err), -ENOENT);
	expect_msg(&err, "t.topo:7:3: link to unknown node 'nowhere'");
	vd_error_clear(&err);
	assert_int_equal(vd_graph_link(g, "src", "out3", "x2", NULL, &loc, &err), -ENOENT);
	expect_msg(&err, "t.topo:7:3: 'src' has no output port 'out3' (it has 'out')");
	vd_error_clear(&err);
	assert_int_equal(vd_graph_link(g, "x2", NULL, "src", NULL, &loc, &err), -EINVAL);
	expect_msg(&err, "t.topo:7:3: 'src' (ramp) has no input ports");
	vd_error_clear(&err);
	assert_int_equal(vd_graph_link(g, "src", NULL, "x2", NULL, &loc, &err), 0);
	assert_int_equal(vd_graph_link(g, "src", NULL, "x2", NULL, &loc, &err), -EBUSY);
	expect_msg(&err, "t.topo:7:3: every output port of 'src' is already linked");
	vd_error_clear(&err);
	/* x2's output is left unconnected */
	assert_int_equal(vd_graph_prepare(g, &err), -EINVAL);
	expect_msg(&err, "t.topo:6:5: output x2:out is not connected");
	vd_graph_free(g);
}

static void test_cycle(void **state)
{
	struct vd_graph *g = new_graph();
	struct vd_error err = { 0 };

	assert_int_equal(add(g, "src", "ramp", NULL, 1, &err), 0);
	assert_int_equal(add(g, "tee", "tee2", NULL, 2, &err), 0);
	assert_int_equal(add(g, "a", "double", NULL, 3, &err), 0);
	assert_int_equal(add(g, "out", "capture", NULL, 4, &err), 0);
	/* a needs one input but we feed it from tee and close tee's input through a: a cycle */
	assert_int_equal(link2(g, "tee", "a", 5, &err), 0);
	assert_int_equal(link2(g, "a", "tee", 6, &err), 0);
	assert_int_equal(link2(g, "tee", "out", 7, &err), 0);
	assert_int_equal(add(g, "sink2", "capture", NULL, 8, &err), 0);
	assert_int_equal(link2(g, "src", "sink2", 9, &err), 0);
	assert_int_equal(vd_graph_prepare(g, &err), -ELOOP);
	char buf[600];
	vd_error_format(&err, buf, sizeof(buf));
	assert_non_null(strstr(buf, "links form a cycle: "));
	assert_true(strstr(buf, "tee -> a -> tee") || strstr(buf, "a -> tee -> a"));
	vd_graph_free(g);
}

static void test_rate_mismatch_without_src(void **state)
{
	struct vd_graph *g = new_graph();
	struct vd_error err = { 0 };
	struct vd_prop p = { .key = "rate", .type = VD_PROP_NUMBER, .str = "44100", .num = 44100, .unit = "" };
	struct vd_props props = { .items = &p, .n = 1 };
	struct vd_graph_node_desc d = { .name = "src", .type = "ramp", .props = &props, .rate = 48000,
					.pipeline = "main", .loc = { "t.topo", 1, 1 } };
	struct vd_location loc = { "t.topo", 3, 1 };

	assert_int_equal(vd_graph_add_node(g, &d, &err), 0);
	d = (struct vd_graph_node_desc){ .name = "out", .type = "capture", .rate = 48000, .pipeline = "main",
					 .loc = { "t.topo", 2, 1 } };
	assert_int_equal(vd_graph_add_node(g, &d, &err), 0);
	assert_int_equal(vd_graph_link(g, "src", NULL, "out", NULL, &loc, &err), 0);
	int r = vd_graph_prepare(g, &err);
	if (vd_node_find_type("src") == NULL) {
		assert_int_equal(r, -ENOTSUP);
		expect_msg(&err, "t.topo:3:1: cannot convert 44100 Hz from src:out to the 48000 Hz out:in needs: no sample-rate converter (src) is available");
	} else {
		assert_int_equal(r, 0);
	}
	vd_graph_free(g);
}

static void test_params(void **state)
{
	struct vd_graph *g = new_graph();
	struct vd_error err = { 0 };
	double v;

	assert_int_equal(add(g, "src", "ramp", NULL, 1, &err), 0);
	assert_int_equal(add(g, "x2", "double", NULL, 2, &err), 0);
	assert_int_equal(add(g, "out", "capture", NULL, 3, &err), 0);
	assert_int_equal(link2(g, "src", "x2", 4, &err), 0);
	assert_int_equal(link2(g, "x2", "out", 4, &err), 0);
	assert_int_equal(vd_graph_set_param(g, "nobody", "factor", 1.0), -ENOENT);
	assert_int_equal(vd_graph_get_param(g, "nobody", "factor", &v), -ENOENT);
	assert_int_equal(vd_graph_get_param(g, "x2", "nothing", &v), -ENOENT);
	assert_int_equal(vd_graph_get_param(g, "x2", "factor", &v), 0);
	assert_float_equal(v, 2.0, 0);
	assert_int_equal(vd_graph_set_param(g, "x2", "factor", 9.0), -EINVAL);
	assert_int_equal(vd_graph_set_param(g, "x2", "factor", -3.0), 0);
	assert_int_equal(vd_graph_get_param(g, "x2", "factor", &v), 0);
	assert_float_equal(v, -3.0, 0);
	assert_int_equal(vd_graph_prepare(g, &err), 0);
	assert_int_equal(vd_graph_run(g, NULL, NULL, &err), 0);
	assert_int_equal(test_last_capture->data[100], -300);
	vd_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_with_inserted_converters),
		cmocka_unit_test(test_deterministic_rerun),
		cmocka_unit_test(test_max_seconds_is_frame_exact),
		cmocka_unit_test(test_rate_and_format_chain),
		cmocka_unit_test(test_float_before_rate_change),
		cmocka_unit_test(test_fan_out),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_cycle),
		cmocka_unit_test(test_rate_mismatch_without_src),
		cmocka_unit_test(test_params),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
