/* tests/unit/test_topology.c - topology files: parsing, flattening, every error message, queries, set_path, building. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <virtdsp/graph.h>
#include <virtdsp/topology.h>

#include "testnodes.h"
#include "testutil.h"
#include "topology/lexer.h"
#include "topology/priv.h"

#define MAX_ERRORS 128

struct errors {
	char msg[MAX_ERRORS][VD_ERROR_MSG_MAX + 64];
	size_t n;
};

static void collect(void *data, const struct vd_error *e)
{
	struct errors *E = data;

	assert_int_not_equal(e->code, 0);
	if (E->n < MAX_ERRORS)
		vd_error_format(e, E->msg[E->n++], sizeof(E->msg[0]));
}

static int load(const char *text, struct errors *E, struct vd_topology **t)
{
	struct vd_diag diag = { .report = collect, .data = E };
	int r;

	memset(E, 0, sizeof(*E));
	r = vd_topology_load_string(text, strlen(text), "t.topo", t, &diag);
	assert_int_equal(diag.count, E->n);
	return r;
}

static struct vd_topology *load_ok(const char *text)
{
	static struct errors E;
	struct vd_topology *t = NULL;
	int r = load(text, &E, &t);

	for (size_t i = 0; i < E.n; i++)
		print_error("unexpected: %s\n", E.msg[i]);
	assert_int_equal(r, 0);
	assert_int_equal(E.n, 0);
	assert_non_null(t);
	return t;
}

/* @r is -EINVAL and the messages in @E are exactly @want (NULL-terminated), in order. */
static void assert_messages(int r, const struct errors *E, const char *const *want)
{
	size_t n = 0;

	while (want[n])
		n++;
	for (size_t i = 0; i < E->n; i++)
		if (i >= n || strcmp(E->msg[i], want[i]) != 0)
			print_error("got %zu: %s\n", i, E->msg[i]);
	assert_int_equal(r, -EINVAL);
	assert_int_equal(E->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(E->msg[i], want[i]);
}

/* Loading @text fails with exactly the messages @want, and yields no topology. */
static void check_errors(const char *text, const char *const *want)
{
	static struct errors E;
	struct vd_topology *t = (struct vd_topology *)&E;	/* must be reset to NULL */
	int r = load(text, &E, &t);

	assert_messages(r, &E, want);
	assert_null(t);
}

#define ERRORS(text, ...) check_errors(text, (const char *const[]){ __VA_ARGS__, NULL })

static const struct vd_topo_object *object(const struct vd_topology *t, const char *name)
{
	size_t i;

	assert_true(vd_name_map_get(&t->object_names, name, &i));
	return &t->objects[i];
}

static const struct vd_prop *prop(const struct vd_topo_object *o, uint32_t i)
{
	assert_true(i < o->props.props.n);
	return &o->props.props.items[i];
}

static void assert_prop(const struct vd_prop *p, const char *key, enum vd_prop_type type,
			const char *str, unsigned line, unsigned column)
{
	assert_string_equal(p->key, key);
	assert_int_equal(p->type, type);
	assert_string_equal(p->str, str);
	assert_string_equal(p->loc.file, "t.topo");
	assert_int_equal(p->loc.line, line);
	assert_int_equal(p->loc.column, column);
	assert_false(p->used);
}

static const char example[] =
	"# Two files mixed, equalised and attenuated into a WAV file.\n"
	"pipeline main {\n"
	"    rate = 48000          # Hz\n"
	"    period = 10ms\n"
	"\n"
	"    source music file  { path = \"music.wav\" }\n"
	"    source voice file  { path = \"voice.flac\" }\n"
	"    attach guests playback { channels = 2 }\n"
	"    node   mix   mixer  { gain.1 = -6dB }\n"
	"    node   eq    eq     { band1 = { type = lowshelf, freq = 120Hz, gain = 3dB, q = 0.7 } }\n"
	"    node   vol   volume { gain = -3dB }\n"
	"    sink   out   file   { path = \"out.wav\"; format = s16 }\n"
	"\n"
	"    link music -> mix:in0\n"
	"    link voice -> mix:in1\n"
	"    link guests -> mix:in2\n"
	"    link mix -> eq -> vol -> out       # a chain: three links\n"
	"}\n";

static void test_example(void **state)
{
	struct vd_topology *t = load_ok(example);
	const struct vd_topo_object *o;

	(void)state;
	assert_int_equal(t->n_pipelines, 1);
	assert_string_equal(t->pipelines[0].name, "main");
	assert_int_equal(t->pipelines[0].rate, 48000);
	assert_int_equal(t->pipelines[0].period, 480);
	assert_null(t->base_dir);

	assert_int_equal(t->n_objects, 7);
	o = object(t, "music");
	assert_int_equal(o->kind, VD_TOPO_SOURCE);
	assert_string_equal(o->node_type, "file-source");
	assert_int_equal(o->props.props.n, 1);
	assert_prop(prop(o, 0), "path", VD_PROP_STRING, "music.wav", 6, 33);
	assert_int_equal(o->n_inputs, 0);
	assert_int_equal(o->n_outputs, 1);

	o = object(t, "guests");
	assert_string_equal(o->node_type, "attach-playback");
	assert_prop(prop(o, 0), "channels", VD_PROP_NUMBER, "2", 8, 41);
	assert_true(prop(o, 0)->num == 2);

	o = object(t, "mix");
	assert_string_equal(o->node_type, "mixer");
	assert_prop(prop(o, 0), "gain.1", VD_PROP_NUMBER, "-6dB", 9, 36);
	assert_true(prop(o, 0)->num == -6);
	assert_string_equal(prop(o, 0)->unit, "dB");
	assert_int_equal(o->n_inputs, 3);
	assert_int_equal(o->n_outputs, 1);
	assert_int_equal(o->loc.line, 9);
	assert_int_equal(o->loc.column, 5);
	assert_int_equal(o->props.props.loc.line, 9);

	o = object(t, "eq");
	assert_int_equal(o->props.props.n, 4);
	assert_prop(prop(o, 0), "band1.type", VD_PROP_IDENT, "lowshelf", 10, 44);
	assert_prop(prop(o, 1), "band1.freq", VD_PROP_NUMBER, "120Hz", 10, 61);
	assert_true(prop(o, 1)->num == 120);
	assert_string_equal(prop(o, 1)->unit, "Hz");
	assert_prop(prop(o, 2), "band1.gain", VD_PROP_NUMBER, "3dB", 10, 75);
	assert_prop(prop(o, 3), "band1.q", VD_PROP_NUMBER, "0.7", 10, 84);
	assert_true(prop(o, 3)->num == 0.7);
	assert_string_equal(prop(o, 3)->unit, "");

	o = object(t, "out");
	assert_string_equal(o->node_type, "file-sink");
	assert_prop(prop(o, 1), "format", VD_PROP_IDENT, "s16", 12, 54);
	assert_int_equal(o->n_inputs, 1);
	assert_int_equal(o->n_outputs, 0);

	assert_int_equal(t->n_links, 6);
	assert_string_equal(t->links[2].from.name, "guests");
	assert_null(t->links[2].from.port);
	assert_string_equal(t->links[2].to.name, "mix");
	assert_string_equal(t->links[2].to.port, "in2");
	/* Each link of a chain is located at its left-hand end. */
	assert_string_equal(t->links[4].from.name, "eq");
	assert_string_equal(t->links[4].to.name, "vol");
	assert_int_equal(t->links[4].from.loc.line, 17);
	assert_int_equal(t->links[4].from.loc.column, 17);
	assert_int_equal(t->links[5].to.object, 6);
	vd_topology_free(t);
}

static void test_flattening(void **state)
{
	struct vd_topology *t = load_ok(
		"pipeline p {\n"
		"  node a eq { band1 = { type = peaking, gains = [1dB, -2dB] }, map = [FL, \"FR\", { x = 1 }, [7, 8]], e = [], o = {} }\n"
		"  node b eq { band1.type = peaking; band1.gains.0 = 1dB; band1.gains.1 = -2dB }\n"
		"}\n");
	const char *keys[] = { "band1.type", "band1.gains.0", "band1.gains.1", "map.0", "map.1",
			       "map.2.x", "map.3.0", "map.3.1" };
	const struct vd_topo_object *a, *b;

	(void)state;
	a = object(t, "a");
	assert_int_equal(a->props.props.n, 8);
	for (uint32_t i = 0; i < 8; i++)
		assert_string_equal(prop(a, i)->key, keys[i]);
	assert_prop(prop(a, 2), "band1.gains.1", VD_PROP_NUMBER, "-2dB", 2, 55);
	assert_prop(prop(a, 4), "map.1", VD_PROP_STRING, "FR", 2, 75);
	assert_prop(prop(a, 6), "map.3.0", VD_PROP_NUMBER, "7", 2, 93);
	/* The dotted spelling gives the same properties. */
	b = object(t, "b");
	assert_int_equal(b->props.props.n, 3);
	for (uint32_t i = 0; i < 3; i++) {
		assert_string_equal(prop(b, i)->key, prop(a, i)->key);
		assert_int_equal(prop(b, i)->type, prop(a, i)->type);
		assert_string_equal(prop(b, i)->str, prop(a, i)->str);
	}
	vd_topology_free(t);
}

static void test_separators_and_layout(void **state)
{
	struct vd_topology *t = load_ok(
		"\n;\n"
		"pipeline p { rate = 44.1kHz; period = 512; node a volume; node b volume {}\n"
		"  node c volume {\n"
		"    gain = 1dB;\n"
		"    mute = false,\n"
		"    ramp = 5ms;;\n"
		"    list = [\n"
		"      1,\n"
		"      2\n"
		"    ]\n"
		"  }\n"
		"  link a -> b ->\n"
		"     c\n"
		"};\n"
		"pipeline q {}\n"
		"link c -> d:0; pipeline r { sink d null }\n");
	const struct vd_topo_object *c;

	(void)state;
	assert_int_equal(t->n_pipelines, 3);
	assert_int_equal(t->pipelines[0].rate, 44100);
	assert_int_equal(t->pipelines[0].period, 512);
	assert_int_equal(t->pipelines[1].rate, 0);
	assert_int_equal(t->pipelines[1].period, 0);
	assert_int_equal(object(t, "a")->props.props.n, 0);
	assert_int_equal(object(t, "b")->props.props.n, 0);
	c = object(t, "c");
	assert_int_equal(c->props.props.n, 5);
	assert_prop(prop(c, 1), "mute", VD_PROP_IDENT, "false", 6, 12);
	assert_prop(prop(c, 4), "list.1", VD_PROP_NUMBER, "2", 10, 7);
	assert_int_equal(c->n_inputs, 1);
	assert_int_equal(c->n_outputs, 1);
	/* A top-level link may name a sink of a later pipeline; ports may be numbers. */
	assert_int_equal(t->n_links, 3);
	assert_string_equal(t->links[2].to.port, "0");
	assert_string_equal(t->pipelines[object(t, "d")->pipeline].name, "r");
	assert_int_equal(object(t, "d")->n_inputs, 1);
	vd_topology_free(t);
}

static void test_settings(void **state)
{
	struct vd_topology *t = load_ok(
		"pipeline a { period = 10ms; rate = 44100 }\n"	/* time before rate: resolved at '}' */
		"pipeline b { rate = 48kHz; period = 0.0213s }\n"
		"pipeline c { rate = 8000; period = 125us }\n"
		"pipeline d { period = 65536 }\n"
		"pipeline e { rate = 768000 }\n");

	(void)state;
	assert_int_equal(t->pipelines[0].period, 441);
	assert_int_equal(t->pipelines[1].rate, 48000);
	assert_int_equal(t->pipelines[1].period, 1022);	/* 1022.4 rounded */
	assert_int_equal(t->pipelines[2].period, 1);
	assert_int_equal(t->pipelines[3].period, 65536);
	assert_int_equal(t->pipelines[4].rate, 768000);
	vd_topology_free(t);
}

static void test_setting_errors(void **state)
{
	(void)state;
	ERRORS("pipeline p { rate = 4Hz }",
	       "t.topo:1:21: 'rate' = 4Hz is out of range [1000, 768000] (Hz or kHz)");
	ERRORS("pipeline p { rate = 1MHz }",
	       "t.topo:1:22: unknown unit 'MHz' (dB, Hz, kHz, s, ms, us)");
	ERRORS("pipeline p { rate = 44.1001kHz }",
	       "t.topo:1:21: 'rate' = 44.1001kHz is not a whole number of Hz");
	ERRORS("pipeline p { rate = 10ms }",
	       "t.topo:1:21: 'rate': unit 'ms' does not fit here (Hz or kHz)");
	ERRORS("pipeline p { rate = fast }",
	       "t.topo:1:21: 'rate' must be a number (Hz or kHz), not a word 'fast'");
	ERRORS("pipeline p { rate = [48000] }",
	       "t.topo:1:21: expected a single value for 'rate', found '['");
	ERRORS("pipeline p { rate = 48000\n rate = 44100 }",
	       "t.topo:2:2: duplicate setting 'rate' (first set at 1:21)");
	ERRORS("pipeline p { period = 0 }",
	       "t.topo:1:23: 'period' = 0 is out of range [1, 65536]");
	ERRORS("pipeline p { period = 100000 }",
	       "t.topo:1:23: 'period' = 100000 is out of range [1, 65536]");
	ERRORS("pipeline p { period = 10.5 }",
	       "t.topo:1:23: 'period' must be a whole number, not the number '10.5'");
	ERRORS("pipeline p { period = \"10\" }",
	       "t.topo:1:23: 'period' must be a whole number, not a string '10'");
	ERRORS("pipeline p { period = 10ms }",
	       "t.topo:1:23: 'period' = 10ms needs the pipeline's rate (or give it in frames)");
	ERRORS("pipeline p { rate = 48000; period = 2s }",
	       "t.topo:1:37: 'period' = 2s is 96000 frames at 48000 Hz; it must be 1 to 65536");
	ERRORS("pipeline p { rate = 48000; period = 1us }",
	       "t.topo:1:37: 'period' = 1us is 0 frames at 48000 Hz; it must be 1 to 65536");
	ERRORS("pipeline p { rate = 48000; period = 10Hz }",
	       "t.topo:1:37: 'period': unit 'Hz' does not fit here (s, ms or us)");
	/* A bad rate is reported once; the period that needs it says nothing more. */
	ERRORS("pipeline p { period = 10ms; rate = 1 }",
	       "t.topo:1:36: 'rate' = 1 is out of range [1000, 768000] (Hz or kHz)");
	ERRORS("pipeline p { speed = 3 }",
	       "t.topo:1:14: unknown pipeline setting 'speed' (rate, period)");
	/* The lexer has reported the bad number: the setting adds nothing. */
	ERRORS("pipeline p { period = 10sec }",
	       "t.topo:1:25: unknown unit 'sec' (dB, Hz, kHz, s, ms, us)");
}

static void test_syntax_errors(void **state)
{
	(void)state;
	ERRORS("pipeline p { node a volume { gain = -6 dB } }",
	       "t.topo:1:40: expected a new line, ';' or ',' after the value of 'gain' "
	       "(a unit goes right after its number: -6dB), found 'dB'");
	/* the hint only where a unit follows a bare number */
	ERRORS("pipeline p { node a eq { band1.freq = 1.5 kHz, band1.q = 2 loud } }",
	       "t.topo:1:43: expected a new line, ';' or ',' after the value of 'band1.freq' "
	       "(a unit goes right after its number: 1.5kHz), found 'kHz'",
	       "t.topo:1:60: expected a new line, ';' or ',' after the value of 'band1.q', found 'loud'");
	ERRORS("pipeline p { node a volume { gain = -6dB dB } }",
	       "t.topo:1:42: expected a new line, ';' or ',' after the value of 'gain', found 'dB'");
	ERRORS("pipeline p { node a volume { gain -6dB } }",
	       "t.topo:1:35: expected '=' after 'gain', found the number -6dB");
	ERRORS("pipeline p { node a volume { gain = } }",
	       "t.topo:1:37: expected a value for 'gain', found '}'");
	ERRORS("pipeline p { node a volume { = 3 } }",
	       "t.topo:1:30: expected a property name, found '='");
	ERRORS("pipeline p { node a volume { x = [1 2] } }",
	       "t.topo:1:37: expected a new line, ';' or ',' after a list element, found the number 2");
	ERRORS("pipeline p { node a volume { x = [1, } ] } }",
	       "t.topo:1:38: expected a value for 'x.1', found '}'");
	ERRORS("pipeline p { node a volume { x = 1 } y }",
	       "t.topo:1:38: expected a new line, ';' or ',' after a declaration, found 'y'");
	ERRORS("pipeline p {\n node a volume { gain = 1\n node b volume\n}",
	       "t.topo:3:2: expected '}' to close the '{' (opened at 2:16), found 'node'");
	ERRORS("pipeline p {\n node a volume { x = [1\n link a -> b\n}",
	       "t.topo:3:2: expected ']' to close the '[' (opened at 2:22), found 'link'",
	       "t.topo:3:12: 'b' is not declared");
	ERRORS("pipeline p { node a volume { x = [1,",
	       "t.topo:1:37: expected ']' to close the '[' (opened at 1:34), found the end of the file",
	       "t.topo:1:37: expected '}' to close the '{' (opened at 1:28), found the end of the file",
	       "t.topo:1:37: expected '}' to close pipeline 'p' (opened at 1:12), found the end of the file");
	ERRORS("pipeline p {\n node a volume\n",
	       "t.topo:3:1: expected '}' to close pipeline 'p' (opened at 1:12), found the end of the file");
	ERRORS("pipeline p {\n node a volume\npipeline q { }\n",
	       "t.topo:3:1: expected '}' to close pipeline 'p' (opened at 1:12), found 'pipeline'");
	ERRORS("pipeline p { node }",
	       "t.topo:1:19: expected a name for the node, found '}'");
	ERRORS("pipeline p { sink out }",
	       "t.topo:1:23: expected a type for sink 'out', found '}'");
	ERRORS("pipeline p { attach g }",
	       "t.topo:1:23: expected a direction (playback or capture) for attach 'g', found '}'");
	ERRORS("pipeline p { attach g both }",
	       "t.topo:1:23: attach point 'g' must be playback or capture, not 'both'");
	ERRORS("pipeline p { nod a volume }",
	       "t.topo:1:14: unknown kind 'nod' (node, source, sink, attach, link, or a setting: name = value)");
	ERRORS("pipeline p { 42 }",
	       "t.topo:1:14: expected a setting, a declaration or a link, found the number 42");
	ERRORS("pipeline { }",
	       "t.topo:1:10: expected a pipeline name, found '{'");
	ERRORS("pipeline p",
	       "t.topo:1:11: expected '{' after 'pipeline p', found the end of the file");
	ERRORS("pipeline p {} pipeline q {}",
	       "t.topo:1:15: expected a new line, ';' or ',' after a pipeline, found 'pipeline'");
	ERRORS("node a volume",
	       "t.topo:1:1: a node must be declared inside a pipeline");
	ERRORS("rate = 48000",
	       "t.topo:1:1: expected 'pipeline' or 'link', found 'rate'");
	ERRORS("}",
	       "t.topo:1:1: expected 'pipeline' or 'link', found '}'");
	ERRORS("pipeline p { node a volume { x = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]] } }",
	       "t.topo:1:65: objects and lists nest too deeply (at most 32 levels)");
}

static void test_link_errors(void **state)
{
	(void)state;
	ERRORS("pipeline p { node a volume\n link a }",
	       "t.topo:2:9: expected '->' after 'a', found '}'");
	ERRORS("pipeline p { node a volume\n link a -> }",
	       "t.topo:2:12: expected the name of a node, source, sink or attach point, found '}'");
	ERRORS("pipeline p { node a volume\n link a: -> a }",
	       "t.topo:2:10: expected a port name or number after 'a:', found '->'");
	ERRORS("pipeline p { node a volume\n link a:1.5 -> a }",
	       "t.topo:2:9: expected a port name or number after 'a:', found the number 1.5");
	ERRORS("pipeline p { node a volume\n link a -> a x }",
	       "t.topo:2:14: expected a new line, ';' or ',' after a link, found 'x'");
	/* In a chain the middle name is reported once. */
	ERRORS("pipeline p { node a volume\n link a -> ghost -> a\n link nope -> a }",
	       "t.topo:2:12: 'ghost' is not declared",
	       "t.topo:3:7: 'nope' is not declared");
	ERRORS("pipeline p { source s file; sink k file; attach pb playback; attach cap capture; node n volume\n"
	       " link k -> n -> s\n link cap -> n -> pb }",
	       "t.topo:2:7: 'k' is a sink: nothing can be linked out of it",
	       "t.topo:2:17: 's' is a source: nothing can be linked into it",
	       "t.topo:3:7: 'cap' is a capture attach point: nothing can be linked out of it",
	       "t.topo:3:19: 'pb' is a playback attach point: nothing can be linked into it");
}

static void test_duplicates(void **state)
{
	(void)state;
	ERRORS("pipeline p {\n  node a volume\n  sink a file\n}\npipeline q { node a mixer }",
	       "t.topo:3:8: duplicate name 'a' (first declared at 2:3)",
	       "t.topo:5:19: duplicate name 'a' (first declared at 2:3)");
	ERRORS("pipeline p { }\npipeline p { }",
	       "t.topo:2:10: duplicate pipeline 'p' (first declared at 1:1)");
	ERRORS("pipeline p { node a eq { band1 = { freq = 1kHz }, band1.freq = 2kHz, x = 1, x = 2 } }",
	       "t.topo:1:64: duplicate property 'band1.freq' (first set at 1:43)",
	       "t.topo:1:81: duplicate property 'x' (first set at 1:74)");
}

static void test_many_errors_in_one_run(void **state)
{
	(void)state;
	ERRORS("pipeline main {\n"
	       "    rate = 4Hz\n"
	       "    speed = 3\n"
	       "    source music file { path = \"a\\q\" }\n"
	       "    nod x volume\n"
	       "    node vol volume { gain = -6 dB, gain = 1 }\n"
	       "    sink out file { path = \"unterminated }\n"
	       "    node out volume\n"
	       "    link music -> ghost -> out\n"
	       "    link out -> vol\n"
	       "}\n"
	       "node stray volume\n",
	       "t.topo:2:12: 'rate' = 4Hz is out of range [1000, 768000] (Hz or kHz)",
	       "t.topo:3:5: unknown pipeline setting 'speed' (rate, period)",
	       "t.topo:4:34: unknown escape '\\' followed by 'q' in a string",
	       "t.topo:5:5: unknown kind 'nod' (node, source, sink, attach, link, or a setting: name = value)",
	       "t.topo:6:33: expected a new line, ';' or ',' after the value of 'gain' "
		"(a unit goes right after its number: -6dB), found 'dB'",
	       "t.topo:6:44: duplicate property 'gain' (first set at 6:30)",
	       "t.topo:7:28: unterminated string (strings end on the same line)",
	       "t.topo:8:5: expected '}' to close the '{' (opened at 7:19), found 'node'",
	       "t.topo:8:10: duplicate name 'out' (first declared at 7:5)",
	       "t.topo:12:1: a node must be declared inside a pipeline",
	       "t.topo:9:19: 'ghost' is not declared",
	       "t.topo:10:10: 'out' is a sink: nothing can be linked out of it");
}

static void test_error_limit(void **state)
{
	struct errors *E = calloc(1, sizeof(*E));
	struct vd_topology *t = NULL;
	char text[4096] = "pipeline p {\n";

	(void)state;
	assert_non_null(E);
	for (int i = 0; i < 200; i++)
		strcat(text, " x y\n");
	assert_int_equal(load(text, E, &t), -EINVAL);
	assert_null(t);
	assert_int_equal(E->n, VD_TOPOLOGY_MAX_ERRORS);
	assert_string_equal(E->msg[VD_TOPOLOGY_MAX_ERRORS - 1],
			    "t.topo:101:2: unknown kind 'x' (node, source, sink, attach, link, or a setting: name = value)"
			    " (too many errors, stopping)");
	free(E);
}

static void test_diag_optional(void **state)
{
	struct vd_diag counting = { 0 };
	struct vd_topology *t = NULL;

	(void)state;
	/* Without a report callback errors are only counted; without a diag not even that. */
	assert_int_equal(vd_topology_load_string("x\ny\n", 4, NULL, &t, &counting), -EINVAL);
	assert_int_equal(counting.count, 2);
	assert_int_equal(vd_topology_load_string("x", 1, "n", &t, NULL), -EINVAL);
	assert_null(t);
	assert_int_equal(vd_topology_load_string(NULL, 0, NULL, &t, NULL), 0);
	assert_int_equal(vd_topology_object_count(t), 0);
	vd_topology_free(t);
	assert_int_equal(vd_topology_load_string(NULL, 3, NULL, &t, NULL), -EINVAL);
}

static void test_objects(void **state)
{
	struct vd_topology *t = load_ok(example);
	const struct { enum vd_topology_object_kind kind; const char *name, *type; unsigned line; } want[] = {
		{ VD_TOPO_SOURCE, "music", "file", 6 },
		{ VD_TOPO_SOURCE, "voice", "file", 7 },
		{ VD_TOPO_ATTACH, "guests", "playback", 8 },
		{ VD_TOPO_NODE, "mix", "mixer", 9 },
		{ VD_TOPO_NODE, "eq", "eq", 10 },
		{ VD_TOPO_NODE, "vol", "volume", 11 },
		{ VD_TOPO_SINK, "out", "file", 12 },
	};
	struct vd_topology_object obj;

	(void)state;
	assert_int_equal(vd_topology_object_count(t), 7);
	for (size_t i = 0; i < 7; i++) {
		assert_int_equal(vd_topology_object(t, i, &obj), 0);
		assert_int_equal(obj.kind, want[i].kind);
		assert_string_equal(obj.name, want[i].name);
		assert_string_equal(obj.type, want[i].type);
		assert_string_equal(obj.pipeline, "main");
		assert_string_equal(obj.loc.file, "t.topo");
		assert_int_equal(obj.loc.line, want[i].line);
		assert_int_equal(obj.loc.column, 5);
	}
	assert_int_equal(vd_topology_object(t, 7, &obj), -ENOENT);
	assert_int_equal(vd_topology_object(t, 0, NULL), -EINVAL);
	assert_int_equal(vd_topology_object_count(NULL), 0);
	vd_topology_free(t);
}

static void test_set_path(void **state)
{
	struct vd_topology *t = load_ok(
		"pipeline p {\n"
		"  source in file { path = \"a.wav\" }\n"
		"  sink out null\n"
		"  attach g capture\n"
		"  node v volume\n"
		"}\n");
	const struct vd_topo_object *o;

	(void)state;
	/* Replacing keeps the written location (messages about the file point there). */
	assert_int_equal(vd_topology_set_path(t, "in", "other.flac"), 0);
	o = object(t, "in");
	assert_int_equal(o->props.props.n, 1);
	assert_prop(prop(o, 0), "path", VD_PROP_STRING, "other.flac", 2, 27);
	/* Adding one places it at the declaration. */
	assert_int_equal(vd_topology_set_path(t, "out", "/tmp/x.wav"), 0);
	assert_int_equal(vd_topology_set_path(t, "out", "/tmp/y.wav"), 0);
	o = object(t, "out");
	assert_int_equal(o->props.props.n, 1);
	assert_prop(prop(o, 0), "path", VD_PROP_STRING, "/tmp/y.wav", 3, 3);
	assert_int_equal(vd_topology_set_path(t, "g", "g.wav"), 0);
	assert_string_equal(prop(object(t, "g"), 0)->str, "g.wav");
	/* Only endpoints and attach points have paths. */
	assert_int_equal(vd_topology_set_path(t, "v", "x"), -ENOENT);
	assert_int_equal(object(t, "v")->props.props.n, 0);
	assert_int_equal(vd_topology_set_path(t, "nobody", "x"), -ENOENT);
	assert_int_equal(vd_topology_set_path(t, NULL, "x"), -EINVAL);
	vd_topology_free(t);
}

static void test_load_file(void **state)
{
	char *dir = vd_test_tmpdir();
	char path[512], missing[512], want[1200];
	struct vd_diag diag = { .report = collect };
	struct errors *E = calloc(1, sizeof(*E));
	struct vd_topology *t = NULL;
	struct vd_topology_object obj;
	FILE *f;

	(void)state;
	assert_non_null(E);
	diag.data = E;
	snprintf(path, sizeof(path), "%s/mix.topo", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(example, f);
	fclose(f);
	assert_int_equal(vd_topology_load_file(path, &t, &diag), 0);
	assert_int_equal(diag.count, 0);
	assert_string_equal(t->base_dir, dir);
	assert_int_equal(vd_topology_object(t, 6, &obj), 0);
	assert_string_equal(obj.loc.file, path);
	vd_topology_free(t);

	snprintf(missing, sizeof(missing), "%s/none.topo", dir);
	assert_int_equal(vd_topology_load_file(missing, &t, &diag), -ENOENT);
	assert_null(t);
	assert_int_equal(E->n, 1);
	snprintf(want, sizeof(want), "%s: No such file or directory", missing);
	assert_string_equal(E->msg[0], want);

	/* Syntax errors name the file as given. */
	snprintf(path, sizeof(path), "%s/bad.topo", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("pipeline p {\n  node a\n}\n", f);
	fclose(f);
	E->n = 0;
	assert_int_equal(vd_topology_load_file(path, &t, &diag), -EINVAL);
	assert_int_equal(E->n, 1);
	snprintf(want, sizeof(want), "%s:2:9: expected a type for node 'a', found a new line", path);
	assert_string_equal(E->msg[0], want);

	/* A directory opens but cannot be read. */
	E->n = 0;
	assert_int_equal(vd_topology_load_file(dir, &t, &diag), -EISDIR);
	assert_int_equal(E->n, 1);
	snprintf(want, sizeof(want), "%s: Is a directory", dir);
	assert_string_equal(E->msg[0], want);

	/* One byte over the limit is refused before parsing. */
	snprintf(path, sizeof(path), "%s/huge.topo", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fseek(f, 16 << 20, SEEK_SET), 0);
	fputc('#', f);
	fclose(f);
	E->n = 0;
	assert_int_equal(vd_topology_load_file(path, &t, &diag), -EFBIG);
	assert_null(t);
	assert_int_equal(E->n, 1);
	snprintf(want, sizeof(want), "%s: file is too large for a topology (over 16 MiB)", path);
	assert_string_equal(E->msg[0], want);
	vd_test_rmdir(dir);
	free(E);
}

static void test_examples_parse(void **state)
{
	/* Each shipped example loads, and declares the endpoints its comment tells users to override. */
	static const struct { const char *file; const char *names[4]; } ex[] = {
		{ "examples/demo.topo", { "out" } },
		{ "examples/tone-to-wav.topo", { "out" } },
		{ "examples/eq-volume.topo", { "in", "out" } },
		{ "examples/mix-two.topo", { "a", "b", "out" } },
		{ "examples/convert-s16.topo", { "in", "out" } },
		{ "examples/alsa-null.topo", { "in" } },
		{ "examples/guest-mix.topo", { "vm1", "out" } },
		{ "examples/guest-default.topo", { 0 } },
		{ "examples/guest-controls.topo", { 0 } },
		{ "examples/host-default.topo", { "out" } },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		static struct errors E;
		struct vd_diag diag = { .report = collect, .data = &E };
		char *path = vd_test_source_path(ex[i].file);
		struct vd_topology *t = NULL;

		memset(&E, 0, sizeof(E));
		if (vd_topology_load_file(path, &t, &diag) < 0)
			fail_msg("%s: %s", path, E.n ? E.msg[0] : "?");
		for (size_t k = 0; k < 4 && ex[i].names[k]; k++)
			assert_int_equal(vd_topology_set_path(t, ex[i].names[k], "x.wav"), 0);
		vd_topology_free(t);
		free(path);
	}
}

/* ---- building graphs (with the graph's test node types standing in for real ones) ---- */

/* What the builder passed to each node's init, by node name. */
struct seen_init {
	char name[32];
	uint32_t rate, period, n_inputs, n_outputs;
	char base_dir[512];
};
static struct seen_init seen[16];
static size_t n_seen;

static void record(const struct vd_node_init *init)
{
	struct seen_init *s = &seen[n_seen++ % 16];

	snprintf(s->name, sizeof(s->name), "%s", init->name);
	s->rate = init->rate;
	s->period = init->period;
	s->n_inputs = init->n_inputs;
	s->n_outputs = init->n_outputs;
	snprintf(s->base_dir, sizeof(s->base_dir), "%s", init->base_dir ? init->base_dir : "(null)");
}

static const struct seen_init *seen_by(const char *name)
{
	for (size_t i = 0; i < n_seen && i < 16; i++)
		if (strcmp(seen[i].name, name) == 0)
			return &seen[i];
	fail_msg("no init for '%s'", name);
	return NULL;
}

#define RECORDING_INIT(fn, ops)									\
	static int fn(const struct vd_node_init *init, void **self, uint32_t *ni, uint32_t *no,	\
		      struct vd_error *err)							\
	{											\
		record(init);									\
		return ops.init(init, self, ni, no, err);					\
	}
RECORDING_INIT(rec_ramp_init, test_ramp_ops)
RECORDING_INIT(rec_capture_init, test_capture_ops)
RECORDING_INIT(rec_double_init, test_double_ops)
RECORDING_INIT(rec_tee_init, test_tee_ops)

static int picky_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			   struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	return vd_error_set(err, -EINVAL, NULL, "picky-sink 'out' takes no format at all");
}

struct fake_types {
	struct vd_node_ops source, sink, playback, capture, dbl, tee, picky;
};

static struct vd_graph *graph_with_fakes(struct fake_types *f)
{
	struct vd_graph *g;

	/* Endpoint and attach types replaced by I/O-free test nodes under the names the builder uses. */
	f->source = test_ramp_ops;
	f->source.type = "fake-source";
	f->source.init = rec_ramp_init;
	f->playback = f->source;
	f->playback.type = "attach-playback";
	f->sink = test_capture_ops;
	f->sink.type = "fake-sink";
	f->sink.init = rec_capture_init;
	f->capture = f->sink;
	f->capture.type = "attach-capture";
	f->picky = f->sink;
	f->picky.type = "picky-sink";
	f->picky.negotiate = picky_negotiate;
	f->dbl = test_double_ops;
	f->dbl.init = rec_double_init;
	f->tee = test_tee_ops;
	f->tee.init = rec_tee_init;
	n_seen = 0;
	assert_int_equal(vd_graph_new(&g), 0);
	assert_int_equal(vd_graph_register_type(g, &f->source), 0);
	assert_int_equal(vd_graph_register_type(g, &f->sink), 0);
	assert_int_equal(vd_graph_register_type(g, &f->playback), 0);
	assert_int_equal(vd_graph_register_type(g, &f->capture), 0);
	assert_int_equal(vd_graph_register_type(g, &f->dbl), 0);
	assert_int_equal(vd_graph_register_type(g, &f->tee), 0);
	assert_int_equal(vd_graph_register_type(g, &f->picky), 0);
	assert_int_equal(vd_graph_register_type(g, &test_convert_ops), 0);
	return g;
}

/* Build @text into a graph with fake types; returns vd_topology_build()'s result. */
static int build(const char *text, struct errors *E, struct vd_graph **g, struct vd_topology **t,
		 struct fake_types *f)
{
	struct vd_diag diag = { .report = collect, .data = E };
	int r;

	*t = load_ok(text);
	*g = graph_with_fakes(f);
	memset(E, 0, sizeof(*E));
	r = vd_topology_build(*t, *g, &diag);
	assert_int_equal(diag.count, E->n);
	return r;
}

/* Building @text fails with exactly the messages @want (NULL-terminated), in order. */
static void check_build_errors(const char *text, const char *const *want)
{
	static struct errors E;
	struct fake_types f;
	struct vd_topology *t;
	struct vd_graph *g;
	int r = build(text, &E, &g, &t, &f);

	assert_messages(r, &E, want);
	vd_graph_free(g);
	vd_topology_free(t);
}

#define BUILD_ERRORS(text, ...) check_build_errors(text, (const char *const[]){ __VA_ARGS__, NULL })

static const char fake_chain[] =
	"pipeline main {\n"
	"  rate = 8000; period = 100\n"
	"  source in fake { frames = 1000, rate = 8000 }\n"
	"  node split tee2\n"
	"  node x2 double\n"
	"  attach b capture\n"
	"  sink a fake\n"
	"  link in -> split -> x2 -> a\n"
	"  link split:out1 -> b\n"
	"}\n";

static void test_build_and_run(void **state)
{
	static struct errors E;
	struct fake_types f;
	struct vd_topology *t;
	struct vd_graph *g;
	struct vd_run_stats st;
	struct vd_error err;
	char desc[4096];

	(void)state;
	int r = build(fake_chain, &E, &g, &t, &f);

	for (size_t i = 0; i < E.n; i++)
		print_error("unexpected: %s\n", E.msg[i]);
	assert_int_equal(r, 0);
	assert_int_equal(E.n, 0);
	/* Each declaration got the pipeline's settings and its planned link counts. */
	assert_int_equal(n_seen, 5);
	assert_int_equal(seen_by("in")->rate, 8000);
	assert_int_equal(seen_by("in")->period, 100);
	assert_int_equal(seen_by("in")->n_inputs, 0);
	assert_int_equal(seen_by("in")->n_outputs, 1);
	assert_string_equal(seen_by("in")->base_dir, "(null)");
	assert_int_equal(seen_by("split")->n_inputs, 1);
	assert_int_equal(seen_by("split")->n_outputs, 2);
	assert_int_equal(seen_by("b")->n_inputs, 1);
	assert_int_equal(seen_by("b")->n_outputs, 0);
	assert_int_equal(vd_graph_describe(g, desc, sizeof(desc)), 0);
	assert_non_null(strstr(desc, "x2"));

	/* The audio really flows: the ramp doubled into a (the capture node created last). */
	vd_error_clear(&err);
	assert_int_equal(vd_graph_run(g, NULL, &st, &err), 0);
	assert_int_equal(st.source_frames, 1000);
	assert_int_equal(vd_graph_sink_count(g), 2);
	assert_non_null(test_last_capture);
	assert_int_equal(test_last_capture->n, 1000);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(test_last_capture->data[i], 2 * i);
	vd_graph_free(g);

	/* The same topology builds again: properties count as unused afresh. */
	g = graph_with_fakes(&f);
	assert_int_equal(vd_topology_build(t, g, NULL), 0);
	vd_graph_free(g);
	vd_topology_free(t);
}

static void test_build_base_dir(void **state)
{
	char *dir = vd_test_tmpdir();
	char path[512];
	struct fake_types f;
	struct vd_topology *t;
	struct vd_graph *g;
	FILE *fp;

	(void)state;
	snprintf(path, sizeof(path), "%s/chain.topo", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(fake_chain, fp);
	fclose(fp);
	assert_int_equal(vd_topology_load_file(path, &t, NULL), 0);
	g = graph_with_fakes(&f);
	assert_int_equal(vd_topology_build(t, g, NULL), 0);
	assert_string_equal(seen_by("in")->base_dir, dir);
	assert_string_equal(seen_by("a")->base_dir, dir);
	vd_graph_free(g);

	/* A path set from outside (the command line) is the caller's: made absolute from the
	 * current directory, not left for the endpoint to find next to the file. */
	char *cwd = getcwd(NULL, 0), want[1024];
	assert_non_null(cwd);
	snprintf(want, sizeof(want), "%s/x/rel.wav", cwd);
	assert_int_equal(vd_topology_set_path(t, "b", "x/rel.wav"), 0);
	assert_int_equal(vd_topology_set_path(t, "a", "/abs/a.wav"), 0);
	assert_string_equal(prop(object(t, "b"), 0)->str, want);
	assert_string_equal(prop(object(t, "a"), 0)->str, "/abs/a.wav");
	free(cwd);
	vd_topology_free(t);
	vd_test_rmdir(dir);
}

static void test_build_errors(void **state)
{
	(void)state;
	BUILD_ERRORS("pipeline p {\n  node w wobbler\n  sink out nosuch\n}",
		     "t.topo:2:3: unknown node type 'wobbler'",
		     "t.topo:3:3: unknown node type 'nosuch-sink'");
	BUILD_ERRORS("pipeline p {\n  source in fake { frames = lots }\n  sink out fake\n  link in -> out\n}",
		     "t.topo:2:29: 'frames' must be a whole number, not a word 'lots'");
	BUILD_ERRORS("pipeline p {\n  source in fake\n  node x double { colour = red }\n  sink out fake\n"
		     "  link in -> x -> out\n}",
		     "t.topo:3:28: unknown property 'colour' for double");
	BUILD_ERRORS("pipeline p {\n  source in fake\n  sink out fake\n  link in -> out:in5\n}",
		     "t.topo:4:8: 'out' has no input port 'in5' (it has 'in')");
	BUILD_ERRORS("pipeline p {\n  source in fake\n  node s tee2\n  sink a fake\n  sink b fake\n"
		     "  link in -> s\n  link s:out0 -> a\n  link s:out0 -> b\n}",
		     "t.topo:8:8: output port 'out0' of 's' is already linked");
}

static void test_build_prepare_errors(void **state)
{
	(void)state;
	/* Found by vd_graph_prepare(): located where the graph says. */
	BUILD_ERRORS("pipeline p {\n  source in fake\n  node s tee2\n  sink a fake\n  link in -> s -> a\n}",
		     "t.topo:3:3: output s:out1 is not connected");
	BUILD_ERRORS("pipeline p {\n  source in fake\n  sink out fake\n}",
		     "t.topo:2:3: output in:out is not connected",
		     "t.topo:3:3: input out:in is not connected");
	/* Every unconnected port is listed, in declaration order, and a cycle among the
	 * links there are in the same run; prepare (negotiation) only runs once every
	 * port is connected. */
	BUILD_ERRORS("pipeline p {\n  source in fake\n  node s tee2\n  node x double\n  sink a fake\n"
		     "  node c double\n  node d double\n  link c -> d -> c\n  link in -> s -> a\n}",
		     "t.topo:3:3: output s:out1 is not connected",
		     "t.topo:4:3: input x:in is not connected",
		     "t.topo:4:3: output x:out is not connected",
		     "t.topo:8:8: links form a cycle: c -> d -> c");
	/* a cycle that leaves a port of its own unconnected: both */
	BUILD_ERRORS("pipeline p {\n  node s tee2\n  node d double\n  link s:out0 -> d -> s\n}",
		     "t.topo:2:3: output s:out1 is not connected",
		     "t.topo:4:8: links form a cycle: s -> d -> s");
	BUILD_ERRORS("pipeline p {\n  node a double\n  node b double\n  link a -> b -> a\n}",
		     "t.topo:4:8: links form a cycle: a -> b -> a");
	/* a cycle with a way out of it: the message names the cycle, not the way out */
	BUILD_ERRORS("pipeline p {\n  source in fake\n  node m mixer\n  node b tee2\n  sink c fake\n"
		     "  link in -> m -> b\n  link b:out0 -> c\n  link b:out1 -> m\n}",
		     "t.topo:6:14: links form a cycle: m -> b -> m");
	/* A sink no format will do: the node's own reason, at its declaration. */
	BUILD_ERRORS("pipeline p {\n  source in fake\n  sink out picky\n  link in -> out\n}",
		     "t.topo:3:3: picky-sink 'out' takes no format at all");
}

static void test_build_reports_everything(void **state)
{
	(void)state;
	/* Every node error, then every link error between nodes that exist; no prepare. */
	BUILD_ERRORS("pipeline p {\n"
		     "  source in fake { frames = -1 }\n"
		     "  node w wobbler\n"
		     "  node y double { factor = 3 }\n"
		     "  node x double\n"
		     "  sink out fake\n"
		     "  sink out2 fake\n"
		     "  link in -> w -> out\n"
		     "  link x:out7 -> out2\n"
		     "}\n",
		     "t.topo:2:29: 'frames' = -1 is out of range [0, 1073741824]",
		     "t.topo:3:3: unknown node type 'wobbler'",
		     "t.topo:4:28: unknown property 'factor' for double",
		     "t.topo:9:8: 'x' has no output port 'out7' (it has 'out')");
}

/* A pipeline of @n nodes "name<i> @type", nothing linked, into @text. */
static void node_pile(char *text, size_t size, int n, const char *name, const char *type)
{
	size_t at = (size_t)snprintf(text, size, "pipeline p {\n");

	for (int i = 0; i < n; i++)
		at += (size_t)snprintf(text + at, size - at, "  node %s%d %s\n", name, i, type);
	snprintf(text + at, size - at, "}\n");
}

/* Building lists at most as many errors as loading does, the last saying so. */
static void test_build_error_limit(void **state)
{
	static struct errors E;
	static char text[8192];
	struct fake_types f;
	struct vd_topology *t;
	struct vd_graph *g;

	(void)state;
	/* 150 nodes, each with an unconnected input and output: 300 errors */
	node_pile(text, sizeof(text), 150, "n", "double");
	assert_int_equal(build(text, &E, &g, &t, &f), -EINVAL);
	assert_int_equal(E.n, VD_TOPOLOGY_MAX_ERRORS);
	assert_string_equal(E.msg[0], "t.topo:2:3: input n0:in is not connected");
	assert_string_equal(E.msg[98], "t.topo:51:3: input n49:in is not connected");
	assert_string_equal(E.msg[99], "t.topo:51:3: output n49:out is not connected (too many errors, stopping)");
	vd_graph_free(g);
	vd_topology_free(t);

	/* 120 unknown node types, errors of adding nodes: the same limit */
	node_pile(text, sizeof(text), 120, "w", "wobbler");
	assert_int_equal(build(text, &E, &g, &t, &f), -EINVAL);
	assert_int_equal(E.n, VD_TOPOLOGY_MAX_ERRORS);
	assert_string_equal(E.msg[99], "t.topo:101:3: unknown node type 'wobbler' (too many errors, stopping)");
	vd_graph_free(g);
	vd_topology_free(t);
}

static void test_build_pipeline_rate(void **state)
{
	static struct errors E;
	struct fake_types f;
	struct vd_topology *t;
	struct vd_graph *g;
	char desc[4096];

	(void)state;
	/* The fake source delivers 48 kHz; the pipeline's 8 kHz makes the graph insert a rate converter. */
	assert_int_equal(build("pipeline p {\n  rate = 8000\n  source in fake { frames = 480 }\n"
			       "  sink out fake\n  link in -> out\n}\n", &E, &g, &t, &f), 0);
	assert_int_equal(seen_by("out")->rate, 8000);
	assert_int_equal(vd_graph_describe(g, desc, sizeof(desc)), 0);
	assert_non_null(strstr(desc, "(src) [inserted]"));
	vd_graph_free(g);
	vd_topology_free(t);
}

static void test_build_set_path(void **state)
{
	static struct errors E;
	struct vd_diag diag = { .report = collect, .data = &E };
	struct fake_types f;
	struct vd_topology *t = load_ok("pipeline p {\n  source in fake { frames = 10 }\n  sink out fake\n"
					"  link in -> out\n}\n");
	struct vd_graph *g = graph_with_fakes(&f);

	(void)state;
	/* The fake sink takes no path: the added property reaches it, located at the declaration. */
	assert_int_equal(vd_topology_set_path(t, "out", "x.wav"), 0);
	memset(&E, 0, sizeof(E));
	assert_int_equal(vd_topology_build(t, g, &diag), -EINVAL);
	assert_int_equal(E.n, 1);
	assert_string_equal(E.msg[0], "t.topo:3:3: unknown property 'path' for fake-sink");
	vd_graph_free(g);
	vd_topology_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_flattening),
		cmocka_unit_test(test_separators_and_layout),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_setting_errors),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_link_errors),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_many_errors_in_one_run),
		cmocka_unit_test(test_error_limit),
		cmocka_unit_test(test_diag_optional),
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_set_path),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_examples_parse),
		cmocka_unit_test(test_build_and_run),
		cmocka_unit_test(test_build_base_dir),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_build_prepare_errors),
		cmocka_unit_test(test_build_reports_everything),
		cmocka_unit_test(test_build_error_limit),
		cmocka_unit_test(test_build_pipeline_rate),
		cmocka_unit_test(test_build_set_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
