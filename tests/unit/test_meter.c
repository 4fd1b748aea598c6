/* tests/unit/test_meter.c - the meter node: bit-exact passthrough of every format, peak/RMS figures, windows. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>

#include <virtdsp/convert.h>

#include "dsp/dsp.h"
#include "analysis.h"
#include "nodetest.h"

#define RATE 48000

static void setup(struct nt_node *n, const char *const *kv, enum vd_sample_format fmt, uint32_t ch)
{
	struct vd_audio_format f;

	assert_int_equal(nt_init(n, &vd_node_meter, kv, 1, RATE), 0);
	vd_audio_format_init(&f, fmt, RATE, ch);
	assert_int_equal(nt_prepare(n, &f, 1024), 0);
	assert_true(vd_audio_format_equal(&n->in[0], &f));
	assert_true(vd_audio_format_equal(&n->out[0], &f));
}

static void test_passthrough_every_format(void **state)
{
	const char *const kv[] = { NULL };
	size_t frames = 3000;

	for (int fmt = VD_FORMAT_U8; fmt < VD_FORMAT_COUNT; fmt++) {
		struct nt_node n;
		size_t bytes = frames * 2 * vd_format_sample_size(fmt);
		uint8_t *in = malloc(bytes), *out = malloc(bytes);
		uint32_t s = 777;
		bool eos;

		for (size_t i = 0; i < bytes; i++) {
			s = s * 1664525u + 1013904223u;
			in[i] = (uint8_t)(s >> 24);
		}
		if (fmt == VD_FORMAT_F32 || fmt == VD_FORMAT_F64) {
			/* keep floats finite so the meter's own figures stay meaningful */
			vd_gen_sine((float *)out, frames, 2, RATE, 100, 0.9, 0);
			vd_convert_samples(fmt, in, VD_FORMAT_F32, out, frames * 2, NULL);
		}
		setup(&n, kv, fmt, 2);
		assert_int_equal(nt_run(&n, in, frames, out, frames, 480, true, &eos), (long)frames);
		assert_true(eos);
		assert_memory_equal(in, out, bytes);
		nt_assert_ge(nt_get(&n, "peak.0"), -20);
		nt_free(&n);
		free(in);
		free(out);
	}
}

static void test_sine_levels(void **state)
{
	const char *const kv[] = { "window=250ms", NULL };
	struct nt_node n;
	size_t frames = RATE;	/* four windows */
	float *in = malloc(frames * 3 * sizeof(float)), *out = malloc(frames * 3 * sizeof(float));

	/* channel 0: -6 dBFS sine, 1: -20 dBFS sine, 2: silence */
	for (size_t i = 0; i < frames; i++) {
		double ph = 2 * M_PI * 1000 * (double)i / RATE;

		in[3 * i] = (float)(0.5 * sin(ph));
		in[3 * i + 1] = (float)(0.1 * sin(ph + 0.3));
		in[3 * i + 2] = 0.0f;
	}
	setup(&n, kv, VD_FORMAT_F32, 3);
	nt_assert_near(nt_get(&n, "peak.0"), -200, 0);
	assert_int_equal(nt_run(&n, in, frames, out, frames, 480, false, NULL), (long)frames);
	assert_memory_equal(in, out, frames * 3 * sizeof(float));
	nt_assert_near(nt_get(&n, "peak.0"), vd_db(0.5), 0.001);
	nt_assert_near(nt_get(&n, "rms.0"), vd_db(0.5 / M_SQRT2), 0.001);
	/* sample peak (not true peak): 48 samples a period may miss the crest by up to 0.02 dB */
	nt_assert_near(nt_get(&n, "peak.1"), vd_db(vd_peak(in + 1 + 3 * 36000, 12000, 3)), 1e-6);
	nt_assert_near(nt_get(&n, "peak.1"), vd_db(0.1), 0.02);
	nt_assert_near(nt_get(&n, "rms.1"), vd_db(0.1 / M_SQRT2), 0.001);
	nt_assert_near(nt_get(&n, "peak.2"), -200, 0);
	nt_assert_near(nt_get(&n, "rms.2"), -200, 0);
	assert_int_equal(nt_param(&n, "rms.3"), -ENOENT);
	assert_int_equal(nt_set(&n, "peak.0", 0), -EPERM);
	nt_free(&n);
	free(in);
	free(out);
}

/* Figures change only when a window completes, and describe that window alone. */
static void test_windows(void **state)
{
	const char *const kv[] = { "window=10ms", NULL };
	struct nt_node n;
	float loud[480], quiet[480], out[480];
	struct vd_param_info info;

	for (int i = 0; i < 480; i++) {
		loud[i] = (i % 2) ? 0.8f : -0.8f;
		quiet[i] = (i % 2) ? 0.01f : -0.01f;
	}
	setup(&n, kv, VD_FORMAT_F32, 1);
	assert_int_equal(vd_node_meter.enum_params(n.self, 0, &info), 0);
	assert_string_equal(info.name, "peak.0");
	assert_true(info.flags & VD_PARAM_VOLATILE);
	assert_true(info.flags & VD_PARAM_READ);
	assert_false(info.flags & VD_PARAM_WRITE);
	assert_int_equal(vd_node_meter.enum_params(n.self, 2, &info), -ENOENT);
	assert_int_equal(nt_run(&n, loud, 479, out, 479, 479, false, NULL), 479);
	nt_assert_near(nt_get(&n, "peak.0"), -200, 0);
	assert_int_equal(nt_run(&n, loud, 1, out, 1, 1, false, NULL), 1);
	nt_assert_near(nt_get(&n, "peak.0"), vd_db(0.8), 1e-6);
	nt_assert_near(nt_get(&n, "rms.0"), vd_db(0.8), 1e-6);
	/* half a window loud, then half quiet: the next window has both */
	assert_int_equal(nt_run(&n, loud, 240, out, 240, 240, false, NULL), 240);
	assert_int_equal(nt_run(&n, quiet, 480, out, 480, 480, false, NULL), 480);
	nt_assert_near(nt_get(&n, "peak.0"), vd_db(0.8), 1e-6);
	nt_assert_near(nt_get(&n, "rms.0"), vd_db(sqrt((0.64 + 0.0001) / 2)), 1e-5);
	/* an EOS flushes the 240-frame partial window of quiet */
	assert_int_equal(nt_run(&n, quiet, 240, out, 240, 480, true, NULL), 240);
	nt_assert_near(nt_get(&n, "peak.0"), vd_db(0.01), 1e-5);
	nt_assert_near(nt_get(&n, "rms.0"), vd_db(0.01), 1e-5);
	vd_node_meter.reset(n.self);
	nt_assert_near(nt_get(&n, "rms.0"), -200, 0);
	nt_free(&n);
}

/* Integer input is measured on its full-scale value: S16 -32768 is 0 dBFS, 16384 is -6.02. */
static void test_integer_scale(void **state)
{
	const char *const kv[] = { "window=1ms", NULL };
	struct nt_node n;
	int16_t in[96], out[96];
	bool eos;

	for (int i = 0; i < 48; i++) {
		in[2 * i] = (i % 2) ? 16384 : -16384;
		in[2 * i + 1] = i == 7 ? -32768 : 0;
	}
	setup(&n, kv, VD_FORMAT_S16, 2);
	assert_int_equal(nt_run(&n, in, 48, out, 48, 48, true, &eos), 48);
	assert_true(eos);
	nt_assert_near(nt_get(&n, "peak.0"), vd_db(0.5), 1e-9);
	nt_assert_near(nt_get(&n, "rms.0"), vd_db(0.5), 1e-9);
	nt_assert_near(nt_get(&n, "peak.1"), 0.0, 1e-9);
	nt_assert_near(nt_get(&n, "rms.1"), vd_db(sqrt(1.0 / 48)), 1e-9);
	nt_free(&n);
}

struct reader {
	struct nt_node *n;
	atomic_bool stop;
	atomic_long reads;
	long bad;
};

static void *read_loop(void *arg)
{
	struct reader *r = arg;

	while (!atomic_load(&r->stop)) {
		double v;

		vd_node_meter.get_param(r->n->self, 0, &v);
		if (!(v == -200 || fabs(v - vd_db(0.25)) < 1e-6 || fabs(v - vd_db(0.75)) < 1e-6))
			r->bad++;
		r->reads++;
	}
	return NULL;
}

/* Another thread reading while the meter runs only ever sees whole published values. */
static void test_concurrent_reads(void **state)
{
	const char *const kv[] = { "window=1ms", NULL };
	struct nt_node n;
	struct reader r = { .n = &n };
	pthread_t th;
	float a[48], b[48], out[48];

	for (int i = 0; i < 48; i++) {
		a[i] = 0.25f;
		b[i] = -0.75f;
	}
	setup(&n, kv, VD_FORMAT_F32, 1);
	assert_int_equal(pthread_create(&th, NULL, read_loop, &r), 0);
	/* run until the reader has overlapped a good while (it may start late on a busy machine) */
	for (long it = 0; it < 20000 || (atomic_load(&r.reads) < 10000 && it < 100000000); it++)
		assert_int_equal(nt_run(&n, it % 2 ? a : b, 48, out, 48, 48, false, NULL), 48);
	atomic_store(&r.stop, true);
	pthread_join(th, NULL);
	assert_int_equal(r.bad, 0);
	nt_assert_ge(atomic_load(&r.reads), 10000);
	nt_free(&n);
}

static void test_bad_properties(void **state)
{
	const char *const a[] = { "window=0", NULL };
	const char *const b[] = { "window=10ms", "channels=2", NULL };
	struct nt_node n;

	assert_int_equal(nt_init(&n, &vd_node_meter, a, 1, RATE), -EINVAL);
	assert_string_equal(n.err.msg, "'window' = 0 is out of range [0.001, 60] (s, ms or us)");
	nt_free(&n);
	assert_int_equal(nt_init(&n, &vd_node_meter, b, 1, RATE), -EINVAL);
	assert_string_equal(n.err.msg, "unknown property 'channels' for meter");
	nt_free(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passthrough_every_format),
		cmocka_unit_test(test_sine_levels),
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_integer_scale),
		cmocka_unit_test(test_concurrent_reads),
		cmocka_unit_test(test_bad_properties),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
