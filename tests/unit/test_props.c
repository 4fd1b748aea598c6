/* tests/unit/test_props.c - the property lookups every node's init uses: units, ranges, types,
 * defaults, unused keys, and the exact messages a topology author sees for each mistake. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <virtdsp/node.h>

#define MAX_PROPS 16

/* A property list as the topology loader hands it over: "key", type, text, number, unit;
 * each at line i + 1, column 10 of t.topo. */
struct plist {
	struct vd_prop items[MAX_PROPS];
	struct vd_props props;
};

static void add(struct plist *l, const char *key, enum vd_prop_type type, const char *str, double num,
		const char *unit)
{
	uint32_t i = l->props.n++;

	assert_true(i < MAX_PROPS);
	l->items[i] = (struct vd_prop){ .key = key, .type = type, .str = str, .num = num, .unit = unit,
					.loc = { "t.topo", i + 1, 10 } };
	l->props.items = l->items;
}

static struct plist *num(struct plist *l, const char *key, const char *text, double n, const char *unit)
{
	add(l, key, VD_PROP_NUMBER, text, n, unit);
	return l;
}

static struct plist *word(struct plist *l, const char *key, const char *w)
{
	add(l, key, VD_PROP_IDENT, w, 0, "");
	return l;
}

static struct plist *string(struct plist *l, const char *key, const char *s)
{
	add(l, key, VD_PROP_STRING, s, 0, "");
	return l;
}

static void expect_error(int r, const struct vd_error *e, const char *want)
{
	char buf[VD_ERROR_MSG_MAX + 64];

	assert_int_equal(r, -EINVAL);
	assert_int_equal(e->code, -EINVAL);
	vd_error_format(e, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fail_msg("error \"%s\", expected \"%s\"", buf, want);
}

/* Each unit scales into its base unit; a plain number is already in it. */
static void test_units_scale(void **state)
{
	static const struct { const char *text; double n; const char *unit; enum vd_unit u; double want; } c[] = {
		{ "-6dB", -6, "dB", VD_UNIT_DB, -6 }, { "-6db", -6, "db", VD_UNIT_DB, -6 },
		{ "-6", -6, "", VD_UNIT_DB, -6 },
		{ "440Hz", 440, "Hz", VD_UNIT_HZ, 440 }, { "44.1kHz", 44.1, "kHz", VD_UNIT_HZ, 44100 },
		{ "2KHZ", 2, "KHZ", VD_UNIT_HZ, 2000 }, { "1000", 1000, "", VD_UNIT_HZ, 1000 },
		{ "2s", 2, "s", VD_UNIT_SECONDS, 2 }, { "10ms", 10, "ms", VD_UNIT_SECONDS, 0.01 },
		{ "500us", 500, "us", VD_UNIT_SECONDS, 500e-6 }, { "0.25", 0.25, "", VD_UNIT_SECONDS, 0.25 },
		{ "7", 7, "", VD_UNIT_NONE, 7 },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct plist l = { 0 };
		struct vd_error e = { 0 };
		double out = -1;

		num(&l, "x", c[i].text, c[i].n, c[i].unit);
		assert_int_equal(vd_props_number(&l.props, "x", c[i].u, -1e9, 1e9, &out, &e), 0);
		if (out != c[i].want)
			fail_msg("'%s' read as %.17g, expected %.17g", c[i].text, out, c[i].want);
		assert_true(l.items[0].used);
		assert_int_equal(vd_props_check_unused(&l.props, "test", &e), 0);
	}
}

static void test_number_errors(void **state)
{
	struct plist l = { 0 };
	struct vd_error e = { 0 };
	double out = 42;

	(void)state;
	num(&l, "gain", "30dB", 30, "dB");
	num(&l, "freq", "10ms", 10, "ms");
	num(&l, "ramp", "3dB", 3, "dB");
	num(&l, "q", "2Hz", 2, "Hz");
	word(&l, "level", "loud");
	string(&l, "rate", "48000");
	num(&l, "f", "1kHz", 1, "kHz");
	expect_error(vd_props_number(&l.props, "gain", VD_UNIT_DB, -120, 24, &out, &e), &e,
		     "t.topo:1:10: 'gain' = 30dB is out of range [-120, 24] (dB)");
	vd_error_clear(&e);
	expect_error(vd_props_number(&l.props, "freq", VD_UNIT_HZ, 0, 1e5, &out, &e), &e,
		     "t.topo:2:10: 'freq': unit 'ms' does not fit here (Hz or kHz)");
	vd_error_clear(&e);
	expect_error(vd_props_number(&l.props, "ramp", VD_UNIT_SECONDS, 0, 10, &out, &e), &e,
		     "t.topo:3:10: 'ramp': unit 'dB' does not fit here (s, ms or us)");
	vd_error_clear(&e);
	expect_error(vd_props_number(&l.props, "q", VD_UNIT_NONE, 0.01, 100, &out, &e), &e,
		     "t.topo:4:10: 'q': unit 'Hz' does not fit here (a plain number)");
	vd_error_clear(&e);
	expect_error(vd_props_number(&l.props, "level", VD_UNIT_DB, -150, 0, &out, &e), &e,
		     "t.topo:5:10: 'level' must be a number (dB), not a word 'loud'");
	vd_error_clear(&e);
	expect_error(vd_props_number(&l.props, "rate", VD_UNIT_HZ, 1, 1e6, &out, &e), &e,
		     "t.topo:6:10: 'rate' must be a number (Hz or kHz), not a string '48000'");
	/* the range applies after scaling: 1 kHz is 1000, above 999 */
	vd_error_clear(&e);
	expect_error(vd_props_number(&l.props, "f", VD_UNIT_HZ, 1, 999, &out, &e), &e,
		     "t.topo:7:10: 'f' = 1kHz is out of range [1, 999] (Hz or kHz)");
	/* nothing was written on error */
	assert_true(out == 42);
}

static void test_uint(void **state)
{
	struct plist l = { 0 };
	struct vd_error e = { 0 };
	uint32_t out = 7;

	(void)state;
	num(&l, "channels", "2", 2, "");
	num(&l, "big", "4294967295", 4294967295.0, "");
	num(&l, "half", "1.5", 1.5, "");
	num(&l, "unit", "2Hz", 2, "Hz");
	num(&l, "neg", "-1", -1, "");
	word(&l, "w", "two");
	assert_int_equal(vd_props_uint(&l.props, "channels", 1, 32, &out, &e), 0);
	assert_int_equal(out, 2);
	assert_int_equal(vd_props_uint(&l.props, "big", 0, UINT32_MAX, &out, &e), 0);
	assert_int_equal(out, UINT32_MAX);
	expect_error(vd_props_uint(&l.props, "half", 0, 10, &out, &e), &e,
		     "t.topo:3:10: 'half' must be a whole number, not the number '1.5'");
	vd_error_clear(&e);
	expect_error(vd_props_uint(&l.props, "unit", 0, 10, &out, &e), &e,
		     "t.topo:4:10: 'unit' must be a whole number, not the number '2Hz'");
	vd_error_clear(&e);
	expect_error(vd_props_uint(&l.props, "neg", 0, 10, &out, &e), &e,
		     "t.topo:5:10: 'neg' = -1 is out of range [0, 10]");
	vd_error_clear(&e);
	expect_error(vd_props_uint(&l.props, "w", 0, 10, &out, &e), &e,
		     "t.topo:6:10: 'w' must be a whole number, not a word 'two'");
	assert_int_equal(out, UINT32_MAX);
}

/* true/on and false/off, as words or (as docs/topology.md allows for words) strings */
static void test_bool(void **state)
{
	static const struct { const char *w; bool want; } c[] = {
		{ "true", true }, { "on", true }, { "false", false }, { "off", false },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		for (int as_string = 0; as_string < 2; as_string++) {
			struct plist l = { 0 };
			struct vd_error e = { 0 };
			bool out = !c[i].want;

			if (as_string)
				string(&l, "mute", c[i].w);
			else
				word(&l, "mute", c[i].w);
			assert_int_equal(vd_props_bool(&l.props, "mute", &out, &e), 0);
			assert_int_equal(out, c[i].want);
		}
	}
	struct plist l = { 0 };
	struct vd_error e = { 0 };
	bool out = true;
	word(&l, "a", "yes");
	num(&l, "b", "1", 1, "");
	expect_error(vd_props_bool(&l.props, "a", &out, &e), &e, "t.topo:1:10: 'a' must be true or false, not 'yes'");
	vd_error_clear(&e);
	expect_error(vd_props_bool(&l.props, "b", &out, &e), &e, "t.topo:2:10: 'b' must be true or false, not '1'");
	assert_true(out);
}

static void test_string_enum_format(void **state)
{
	static const char *const types[] = { "peaking", "lowshelf", "highshelf", NULL };
	struct plist l = { 0 };
	struct vd_error e = { 0 };
	const char *s = NULL;
	int idx = -1;
	enum vd_sample_format f = VD_FORMAT_U8;

	(void)state;
	string(&l, "path", "a b.wav");
	word(&l, "device", "hw");
	num(&l, "name", "3", 3, "");
	word(&l, "type", "LowShelf");
	string(&l, "type2", "highshelf");
	word(&l, "type3", "shelf");
	num(&l, "type4", "1", 1, "");
	word(&l, "format", "S24_3LE");
	string(&l, "format2", "float64");
	word(&l, "format3", "s20");
	assert_int_equal(vd_props_string(&l.props, "path", &s, &e), 0);
	assert_string_equal(s, "a b.wav");
	assert_int_equal(vd_props_string(&l.props, "device", &s, &e), 0);
	assert_string_equal(s, "hw");
	expect_error(vd_props_string(&l.props, "name", &s, &e), &e, "t.topo:3:10: 'name' must be a string, not the number 3");
	vd_error_clear(&e);
	assert_int_equal(vd_props_enum(&l.props, "type", types, &idx, &e), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(vd_props_enum(&l.props, "type2", types, &idx, &e), 0);
	assert_int_equal(idx, 2);
	expect_error(vd_props_enum(&l.props, "type3", types, &idx, &e), &e,
		     "t.topo:6:10: 'type3' = 'shelf' is not one of: peaking, lowshelf, highshelf");
	vd_error_clear(&e);
	/* an index is not a name */
	expect_error(vd_props_enum(&l.props, "type4", types, &idx, &e), &e,
		     "t.topo:7:10: 'type4' = '1' is not one of: peaking, lowshelf, highshelf");
	vd_error_clear(&e);
	assert_int_equal(vd_props_format(&l.props, "format", &f, &e), 0);
	assert_int_equal(f, VD_FORMAT_S24_3);
	assert_int_equal(vd_props_format(&l.props, "format2", &f, &e), 0);
	assert_int_equal(f, VD_FORMAT_F64);
	expect_error(vd_props_format(&l.props, "format3", &f, &e), &e,
		     "t.topo:10:10: 'format3' = 's20' is not a sample format (u8, s16, s24, s24_3, s32, f32, f64, mulaw, alaw)");
	assert_int_equal(f, VD_FORMAT_F64);
}

/* Absent keys leave the default and succeed; what no lookup asked for is an unknown
 * property, reported at its own location; the first error stays the one reported. */
static void test_defaults_and_unused(void **state)
{
	struct plist l = { 0 };
	struct vd_error e = { 0 };
	double d = 0.5;
	uint32_t u = 3;
	bool b = true;
	const char *s = "default";

	(void)state;
	assert_int_equal(vd_props_number(NULL, "x", VD_UNIT_DB, 0, 1, &d, &e), 0);
	assert_int_equal(vd_props_check_unused(NULL, "volume", &e), 0);
	num(&l, "gain", "-3dB", -3, "dB");
	word(&l, "colour", "red");
	num(&l, "gian", "1", 1, "");
	assert_int_equal(vd_props_number(&l.props, "ramp", VD_UNIT_SECONDS, 0, 10, &d, &e), 0);
	assert_int_equal(vd_props_uint(&l.props, "channels", 1, 32, &u, &e), 0);
	assert_int_equal(vd_props_bool(&l.props, "mute", &b, &e), 0);
	assert_int_equal(vd_props_string(&l.props, "path", &s, &e), 0);
	assert_true(d == 0.5 && u == 3 && b && strcmp(s, "default") == 0);
	assert_int_equal(e.code, 0);
	assert_int_equal(vd_props_number(&l.props, "gain", VD_UNIT_DB, -120, 24, &d, &e), 0);
	assert_true(d == -3);
	expect_error(vd_props_check_unused(&l.props, "volume", &e), &e, "t.topo:2:10: unknown property 'colour' for volume");
	/* a second report does not overwrite the first */
	expect_error(vd_props_uint(&l.props, "gian", 5, 9, &u, &e), &e, "t.topo:2:10: unknown property 'colour' for volume");
	/* a looked-up key, even an invalid one, is not "unknown" */
	vd_error_clear(&e);
	assert_true(l.items[2].used);
	assert_non_null(vd_props_find(&l.props, "colour"));
	assert_int_equal(vd_props_check_unused(&l.props, "volume", &e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_units_scale),
		cmocka_unit_test(test_number_errors),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_string_enum_format),
		cmocka_unit_test(test_defaults_and_unused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
