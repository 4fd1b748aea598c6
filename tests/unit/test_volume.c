/* tests/unit/test_volume.c - the volume node: exact unity, gains, click-free ramps, EOS, params. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "dsp/dsp.h"
#include "analysis.h"
#include "nodetest.h"

#define RATE 48000

static void setup_f32(struct nt_node *n, const char *const *kv, uint32_t channels)
{
	struct vd_audio_format f;

	assert_int_equal(nt_init(n, &vd_node_volume, kv, 1, RATE), 0);
	vd_audio_format_init(&f, VD_FORMAT_F32, RATE, channels);
	assert_int_equal(nt_prepare(n, &f, 4096), 0);
}

/* Deterministic awkward floats: denormals, signed zeros, huge values, ordinary audio. */
static void fill_awkward(float *x, size_t n)
{
	uint32_t s = 12345;

	for (size_t i = 0; i < n; i++) {
		s = s * 1664525u + 1013904223u;
		switch (i % 8) {
		case 0: x[i] = -0.0f; break;
		case 1: x[i] = 1e-40f; break;
		case 2: x[i] = 3.0e38f; break;
		default: x[i] = (float)((int32_t)s) / 2147483648.0f; break;
		}
	}
}

static void test_unity_is_bit_exact(void **state)
{
	const char *const kv[] = { NULL };
	struct nt_node n;
	size_t frames = 10000;
	float *in = malloc(frames * 2 * sizeof(float)), *out = calloc(frames * 2, sizeof(float));
	bool eos;

	setup_f32(&n, kv, 2);
	fill_awkward(in, frames * 2);
	assert_int_equal(nt_run(&n, in, frames, out, frames, 480, true, &eos), (long)frames);
	assert_true(eos);
	assert_memory_equal(in, out, frames * 2 * sizeof(float));
	nt_free(&n);
	free(in);
	free(out);
}

static void test_static_gain(void **state)
{
	const char *const kv[] = { "gain=-6dB", NULL };
	struct nt_node n;
	size_t frames = 4800;
	float *in = malloc(frames * sizeof(float)), *out = malloc(frames * sizeof(float));
	double g = pow(10.0, -6.0 / 20.0);

	setup_f32(&n, kv, 1);
	nt_assert_near(nt_get(&n, "gain"), -6.0, 0.0);
	vd_gen_sine(in, frames, 1, RATE, 997, 0.9, 0.0);
	assert_int_equal(nt_run(&n, in, frames, out, frames, 256, false, NULL), (long)frames);
	for (size_t i = 0; i < frames; i++)
		nt_assert_near(out[i], in[i] * g, 1e-7);
	nt_assert_near(vd_db(vd_rms(out, frames, 1) / vd_rms(in, frames, 1)), -6.0, 1e-5);
	nt_free(&n);
	free(in);
	free(out);
}

static double max_jump(const float *x, size_t n, size_t stride)
{
	double m = 0;

	for (size_t i = 1; i < n; i++)
		m = fmax(m, fabs((double)x[i * stride] - x[(i - 1) * stride]));
	return m;
}

/* A gain change on full-scale DC: the output glides in ramp-length steps, never jumps. */
static void test_ramp_on_dc_is_smooth(void **state)
{
	const char *const kv[] = { "ramp=10ms", NULL };
	struct nt_node n;
	size_t frames = 2000;
	float *in = malloc(frames * sizeof(float)), *out = malloc(frames * sizeof(float));
	double target = pow(10.0, -40.0 / 20.0);

	setup_f32(&n, kv, 1);
	for (size_t i = 0; i < frames; i++)
		in[i] = 1.0f;
	/* 100 frames at unity, then the change, then the rest in odd-sized blocks. */
	assert_int_equal(nt_run(&n, in, 100, out, 100, 100, false, NULL), 100);
	assert_int_equal(nt_set(&n, "gain", -40.0), 0);
	assert_int_equal(nt_run(&n, in, frames - 100, out + 100, frames - 100, 37, false, NULL),
			 (long)(frames - 100));
	for (size_t i = 0; i < 100; i++)
		assert_true(out[i] == 1.0f);
	/* 480 frames (10 ms) of ramp, each step (1 - target) / 480, then exactly the target. */
	nt_assert_le(max_jump(out, frames, 1), (1.0 - target) / 480 * 1.0001);
	nt_assert_near(out[100], 1.0 - (1.0 - target) / 480, 1e-6);
	nt_assert_near(out[100 + 240 - 1], (1.0 + target) / 2, 1e-6);
	for (size_t i = 100 + 480 - 1; i < frames; i++)
		assert_true(out[i] == (float)target);
	assert_true(out[100 + 480 - 2] > (float)target);
	nt_free(&n);
	free(in);
	free(out);
}

/* Mute and unmute on a loud sine: no sample step exceeds the sine's own slope by more than the ramp's share. */
static void test_mute_on_sine_is_click_free(void **state)
{
	const char *const kv[] = { "gain=6dB", NULL };
	struct nt_node n;
	size_t frames = 9600;
	float *in = malloc(frames * sizeof(float)), *out = malloc(frames * sizeof(float));
	double g = pow(10.0, 6.0 / 20.0);
	double sine_slope = 2 * M_PI * 1000.0 / RATE * 0.5 * g;

	setup_f32(&n, kv, 1);
	vd_gen_sine(in, frames, 1, RATE, 1000.0, 0.5, 0.3);
	assert_int_equal(nt_run(&n, in, 1000, out, 1000, 480, false, NULL), 1000);
	assert_int_equal(nt_set(&n, "mute", 1), 0);
	assert_int_equal(nt_run(&n, in + 1000, 3000, out + 1000, 3000, 480, false, NULL), 3000);
	for (size_t i = 1000 + 480; i < 4000; i++)
		assert_true(out[i] == 0.0f);
	assert_int_equal(nt_set(&n, "mute", 0), 0);
	nt_assert_near(nt_get(&n, "mute"), 0.0, 0.0);
	assert_int_equal(nt_run(&n, in + 4000, frames - 4000, out + 4000, frames - 4000, 100, false, NULL),
			 (long)(frames - 4000));
	/* Slope bound: |d(g x)| <= g |dx| + |dg| |x| with |dg| = g / 480 per frame. */
	nt_assert_le(max_jump(out, frames, 1), sine_slope + g / 480 * 0.5 + 1e-6);
	/* Without a ramp the same mute steps by up to the full amplitude. */
	for (size_t i = 4000 + 480; i < frames; i++)
		nt_assert_near(out[i], in[i] * g, 1e-6);
	nt_free(&n);
	free(in);
	free(out);
}

/* A step without ramp (ramp=0) is visible to the same measure: the test above can fail. */
static void test_zero_ramp_steps(void **state)
{
	const char *const kv[] = { "ramp=0", NULL };
	struct nt_node n;
	float in[200], out[200];

	setup_f32(&n, kv, 1);
	for (int i = 0; i < 200; i++)
		in[i] = 0.5f;
	assert_int_equal(nt_run(&n, in, 100, out, 100, 100, false, NULL), 100);
	assert_int_equal(nt_set(&n, "mute", 1), 0);
	assert_int_equal(nt_run(&n, in, 100, out + 100, 100, 100, false, NULL), 100);
	assert_true(out[99] == 0.5f && out[100] == 0.0f);
	nt_assert_near(max_jump(out, 200, 1), 0.5, 0.0);
	nt_free(&n);
}

/* Ramps carry across calls: block size does not change a single sample. */
static void test_block_size_invariance(void **state)
{
	const char *const kv[] = { "gain=-3dB", "ramp=5ms", NULL };
	size_t frames = 6000;
	float *in = malloc(frames * 2 * sizeof(float));
	float *a = malloc(frames * 2 * sizeof(float)), *b = malloc(frames * 2 * sizeof(float));
	uint32_t blocks[2] = { 480, 13 };
	float *outs[2] = { a, b };

	vd_gen_sine(in, frames, 2, RATE, 440.0, 0.7, 0.0);
	for (int k = 0; k < 2; k++) {
		struct nt_node n;

		setup_f32(&n, kv, 2);
		assert_int_equal(nt_run(&n, in, 1000, outs[k], 1000, blocks[k], false, NULL), 1000);
		assert_int_equal(nt_set(&n, "gain", 12.0), 0);
		assert_int_equal(nt_run(&n, in + 2000, 1100, outs[k] + 2000, 1100, blocks[k], false, NULL), 1100);
		assert_int_equal(nt_set(&n, "gain", -50.0), 0);
		assert_int_equal(nt_run(&n, in + 4200, frames - 2100, outs[k] + 4200, frames - 2100,
					blocks[k], true, NULL), (long)(frames - 2100));
		nt_free(&n);
	}
	assert_memory_equal(a, b, frames * 2 * sizeof(float));
	free(in);
	free(a);
	free(b);
}

/* Ramp back to 0 dB ends bit-transparent. */
static void test_ramp_back_to_unity_is_exact(void **state)
{
	const char *const kv[] = { "gain=-20dB", NULL };
	struct nt_node n;
	size_t frames = 3000;
	float *in = malloc(frames * sizeof(float)), *out = malloc(frames * sizeof(float));

	setup_f32(&n, kv, 1);
	fill_awkward(in, frames);
	for (size_t i = 0; i < frames; i++)
		if (fabsf(in[i]) > 1.0f)
			in[i] = 0.25f;
	assert_int_equal(nt_set(&n, "gain", 0.0), 0);
	assert_int_equal(nt_run(&n, in, frames, out, frames, 480, false, NULL), (long)frames);
	assert_memory_equal(in + 479, out + 479, (frames - 479) * sizeof(float));
	assert_memory_not_equal(in, out, 478 * sizeof(float));
	nt_free(&n);
	free(in);
	free(out);
}

static void test_f64(void **state)
{
	const char *const kv[] = { "gain=-6.0206dB", NULL };
	struct nt_node n;
	struct vd_audio_format f;
	double in[256], out[256];

	assert_int_equal(nt_init(&n, &vd_node_volume, kv, 1, RATE), 0);
	vd_audio_format_init(&f, VD_FORMAT_F64, RATE, 2);
	assert_int_equal(nt_prepare(&n, &f, 128), 0);
	assert_int_equal(n.in[0].format, VD_FORMAT_F64);
	assert_int_equal(n.out[0].format, VD_FORMAT_F64);
	for (int i = 0; i < 256; i++)
		in[i] = (i - 128) / 128.0;
	assert_int_equal(nt_run(&n, in, 128, out, 128, 64, false, NULL), 128);
	for (int i = 0; i < 256; i++)
		nt_assert_near(out[i], in[i] * pow(10.0, -6.0206 / 20), 1e-15);
	nt_free(&n);
}

static void test_negotiate_asks_for_float(void **state)
{
	const char *const kv[] = { NULL };
	struct nt_node n;
	struct vd_audio_format f;

	assert_int_equal(nt_init(&n, &vd_node_volume, kv, 1, RATE), 0);
	assert_int_equal(n.n_in, 1);
	assert_int_equal(n.n_out, 1);
	vd_audio_format_init(&f, VD_FORMAT_S16, 44100, 6);
	n.in[0] = f;
	assert_int_equal(vd_node_volume.negotiate(n.self, n.in, 1, n.out, 1, &n.err), 0);
	assert_int_equal(n.in[0].format, VD_FORMAT_F32);
	assert_int_equal(n.in[0].channels, 6);
	assert_int_equal(n.out[0].format, VD_FORMAT_F32);
	assert_int_equal(n.out[0].rate, 44100);
	assert_int_equal(n.out[0].channels, 6);
	/* prepare refuses what it did not ask for */
	assert_int_equal(vd_node_volume.prepare(n.self, &f, 1, &f, 1, 480, &n.err), -EINVAL);
	assert_string_equal(n.err.msg, "volume needs f32 or f64 input and the same output format");
	nt_free(&n);
}

static void test_eos_waits_for_drain(void **state)
{
	const char *const kv[] = { NULL };
	struct nt_node n;
	float in[100] = { 0 }, out[100];
	struct vd_buffer ib = { .data = in, .frames = 50, .flags = VD_BUFFER_EOS };
	struct vd_buffer ob = { .data = out, .frames = 30 };

	setup_f32(&n, kv, 2);
	assert_int_equal(vd_node_volume.process(n.self, &ib, 1, &ob, 1), 0);
	assert_int_equal(ib.frames, 30);
	assert_int_equal(ob.frames, 30);
	assert_int_equal(ob.flags & VD_BUFFER_EOS, 0);
	ib = (struct vd_buffer){ .data = in + 60, .frames = 20, .flags = VD_BUFFER_EOS };
	ob = (struct vd_buffer){ .data = out, .frames = 30 };
	assert_int_equal(vd_node_volume.process(n.self, &ib, 1, &ob, 1), 0);
	assert_int_equal(ob.frames, 20);
	assert_int_equal(ob.flags & VD_BUFFER_EOS, VD_BUFFER_EOS);
	nt_free(&n);
}

static void test_params(void **state)
{
	const char *const kv[] = { "gain=3dB", "mute=true", "ramp=20ms", NULL };
	struct nt_node n;
	struct vd_param_info info;

	setup_f32(&n, kv, 2);
	nt_assert_near(nt_get(&n, "gain"), 3.0, 0.0);
	nt_assert_near(nt_get(&n, "mute"), 1.0, 0.0);
	nt_assert_near(nt_get(&n, "ramp"), 0.02, 1e-12);
	assert_int_equal(vd_node_volume.enum_params(n.self, 0, &info), 0);
	assert_string_equal(info.name, "gain");
	assert_int_equal(info.unit, VD_UNIT_DB);
	assert_true(info.flags & VD_PARAM_WRITE);
	assert_int_equal(vd_node_volume.enum_params(n.self, 3, &info), -ENOENT);
	assert_int_equal(nt_set(&n, "gain", 30.0), -EINVAL);
	assert_int_equal(nt_set(&n, "gain", NAN), -EINVAL);
	assert_int_equal(nt_set(&n, "ramp", -1.0), -EINVAL);
	nt_assert_near(nt_get(&n, "gain"), 3.0, 0.0);
	assert_int_equal(vd_node_volume.set_param(n.self, 7, 0.0), -ENOENT);
	nt_free(&n);
}

static void expect_init_error(const char *const *kv, const char *msg)
{
	struct nt_node n;

	assert_int_equal(nt_init(&n, &vd_node_volume, kv, 1, RATE), -EINVAL);
	assert_string_equal(n.err.msg, msg);
	nt_free(&n);
}

static void test_bad_properties(void **state)
{
	const char *const a[] = { "gain=30dB", NULL };
	const char *const b[] = { "ramp=5Hz", NULL };
	const char *const c[] = { "mute=maybe", NULL };
	const char *const d[] = { "gain=-3dB", "level=2", NULL };
	const char *const e[] = { "gain=loud", NULL };

	expect_init_error(a, "'gain' = 30dB is out of range [-120, 24] (dB)");
	expect_init_error(b, "'ramp': unit 'Hz' does not fit here (s, ms or us)");
	expect_init_error(c, "'mute' must be true or false, not 'maybe'");
	expect_init_error(d, "unknown property 'level' for volume");
	expect_init_error(e, "'gain' must be a number (dB), not a word 'loud'");
}

/* reset (a new stream) jumps to the current target: no ramp left over from the old stream */
static void test_reset_jumps_to_target(void **state)
{
	const char *const kv[] = { "ramp=1s", NULL };
	struct nt_node n;
	size_t frames = 4800;
	float *in = malloc(frames * sizeof(float)), *out = malloc(frames * sizeof(float));
	double g = pow(10.0, -20.0 / 20.0);

	setup_f32(&n, kv, 1);
	vd_gen_sine(in, frames, 1, RATE, 997, 0.9, 0.0);
	assert_int_equal(nt_set(&n, "gain", -20), 0);
	/* 0.1 s into a 1 s ramp: the gain is still near unity */
	assert_int_equal(nt_run(&n, in, frames, out, frames, 480, false, NULL), (long)frames);
	nt_assert_ge(vd_rms(out + frames - 480, 480, 1) / vd_rms(in + frames - 480, 480, 1), 0.8);
	vd_node_volume.reset(n.self);
	assert_int_equal(nt_run(&n, in, frames, out, frames, 480, false, NULL), (long)frames);
	for (size_t i = 0; i < frames; i++)
		nt_assert_near(out[i], in[i] * g, 1e-7);

	/* a mute in flight: after reset, +0.0 from the first frame */
	assert_int_equal(nt_set(&n, "mute", 1), 0);
	assert_int_equal(nt_run(&n, in, 480, out, 480, 480, false, NULL), 480);
	vd_node_volume.reset(n.self);
	assert_int_equal(nt_run(&n, in, frames, out, frames, 480, false, NULL), (long)frames);
	for (size_t i = 0; i < frames; i++)
		if (out[i] != 0.0f || signbit(out[i]))
			fail_msg("frame %zu is %g after reset while muted", i, out[i]);
	nt_free(&n);
	free(in);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unity_is_bit_exact),
		cmocka_unit_test(test_static_gain),
		cmocka_unit_test(test_ramp_on_dc_is_smooth),
		cmocka_unit_test(test_mute_on_sine_is_click_free),
		cmocka_unit_test(test_zero_ramp_steps),
		cmocka_unit_test(test_block_size_invariance),
		cmocka_unit_test(test_ramp_back_to_unity_is_exact),
		cmocka_unit_test(test_reset_jumps_to_target),
		cmocka_unit_test(test_f64),
		cmocka_unit_test(test_negotiate_asks_for_float),
		cmocka_unit_test(test_eos_waits_for_drain),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_bad_properties),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
