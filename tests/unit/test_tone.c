/* tests/unit/test_tone.c - the tone source: sine purity and level, square, noise spectra, duration and EOS. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "dsp/dsp.h"
#include "analysis.h"
#include "nodetest.h"

static void setup(struct nt_node *n, const char *const *kv, uint32_t pipeline_rate)
{
	assert_int_equal(nt_init(n, &vd_node_tone, kv, 0, pipeline_rate), 0);
	assert_int_equal(n->n_in, 0);
	assert_int_equal(n->n_out, 1);
	assert_true(vd_node_tone.flags & VD_NODE_SOURCE);
	assert_int_equal(nt_prepare(n, NULL, 4096), 0);
	assert_int_equal(n->out[0].format, VD_FORMAT_F32);
}

/* Pull @frames frames in calls of @block; returns frames produced; *eos whether EOS came. */
static long pull(struct nt_node *n, float *x, size_t frames, uint32_t block, bool *eos)
{
	size_t pos = 0, ch = n->out[0].channels;

	*eos = false;
	while (pos < frames) {
		struct vd_buffer ob = { x + pos * ch, (uint32_t)(frames - pos < block ? frames - pos : block), 0 };

		if (vd_node_tone.process(n->self, NULL, 0, &ob, 1) < 0)
			return -1;
		pos += ob.frames;
		if (ob.flags & VD_BUFFER_EOS) {
			*eos = true;
			break;
		}
		if (ob.frames == 0)
			return -1;
	}
	return (long)pos;
}

static void test_sine_level_purity_phase(void **state)
{
	const char *const kv[] = { "freq=997Hz", "level=-6dB", NULL };
	struct nt_node n;
	size_t len = 48000 * 10;
	float *x = malloc(len * sizeof(float));
	struct vd_sine_fit fit;
	bool eos;
	double want_phase, dphi;

	setup(&n, kv, 48000);
	assert_int_equal(n.out[0].rate, 48000);
	assert_int_equal(n.out[0].channels, 1);
	assert_int_equal(vd_node_tone.total_frames(n.self), -1);
	assert_int_equal(pull(&n, x, len, 480, &eos), (long)len);
	assert_false(eos);
	assert_true(x[0] == 0.0f);
	/* the last half second, ten seconds in: level, frequency, purity and no phase drift */
	assert_int_equal(vd_sine_fit(x + len - 24000, 24000, 1, 48000, 997, &fit), 0);
	print_message("sine: SNR %.1f dB, THD+N %.1f dB, amplitude error %.2e\n", fit.snr_db, fit.thdn_db,
		      fit.amplitude / pow(10, -6 / 20.0) - 1);
	nt_assert_near(fit.amplitude, pow(10, -6 / 20.0), 1e-6);
	nt_assert_near(fit.freq, 997, 1e-6);
	nt_assert_ge(fit.snr_db, 140);
	nt_assert_le(fit.thdn_db, -140);
	/* fit phase is that of cos; sin(w n) = cos(w n - pi/2) */
	want_phase = fmod(2 * M_PI * 997.0 * (double)(len - 24000) / 48000 - M_PI / 2, 2 * M_PI);
	dphi = remainder(fit.phase + want_phase, 2 * M_PI);
	if (fabs(dphi) > 1e-6)
		dphi = remainder(fit.phase - want_phase, 2 * M_PI);
	nt_assert_le(fabs(dphi), 1e-6);
	nt_free(&n);
	free(x);
}

static void test_duration_and_eos(void **state)
{
	const char *const kv[] = { "duration=500ms", "rate=44100", "channels=3", NULL };
	struct nt_node n;
	float *x = malloc(30000 * 3 * sizeof(float));
	bool eos;
	struct vd_buffer ob = { x, 100, 0 };

	setup(&n, kv, 48000);
	assert_int_equal(n.out[0].rate, 44100);
	assert_int_equal(n.out[0].channels, 3);
	assert_int_equal(vd_node_tone.total_frames(n.self), 22050);
	assert_int_equal(pull(&n, x, 30000, 1000, &eos), 22050);
	assert_true(eos);
	for (size_t i = 0; i < 22050; i++) {
		assert_true(x[3 * i] == x[3 * i + 1]);
		assert_true(x[3 * i] == x[3 * i + 2]);
	}
	/* ended: nothing more, still EOS */
	assert_int_equal(vd_node_tone.process(n.self, NULL, 0, &ob, 1), 0);
	assert_int_equal(ob.frames, 0);
	assert_int_equal(ob.flags, VD_BUFFER_EOS);
	/* reset starts over, identically */
	vd_node_tone.reset(n.self);
	float *y = malloc(30000 * 3 * sizeof(float));
	assert_int_equal(pull(&n, y, 30000, 777, &eos), 22050);
	assert_true(eos);
	assert_memory_equal(x, y, 22050 * 3 * sizeof(float));
	nt_free(&n);
	free(x);
	free(y);
}

static void test_zero_duration(void **state)
{
	const char *const kv[] = { "duration=0", NULL };
	struct nt_node n;
	float x[10];
	struct vd_buffer ob = { x, 10, 0 };

	setup(&n, kv, 0);
	assert_int_equal(n.out[0].rate, 48000);
	assert_int_equal(vd_node_tone.process(n.self, NULL, 0, &ob, 1), 0);
	assert_int_equal(ob.frames, 0);
	assert_int_equal(ob.flags, VD_BUFFER_EOS);
	nt_free(&n);
}

static void test_square(void **state)
{
	const char *const kv[] = { "wave=square", "freq=1kHz", "level=-20dB", NULL };
	struct nt_node n;
	float x[4800];
	bool eos;
	float a = (float)pow(10, -20 / 20.0);

	setup(&n, kv, 48000);
	assert_int_equal(pull(&n, x, 4800, 100, &eos), 4800);
	for (int i = 0; i < 4800; i++)
		assert_true(x[i] == ((i % 48) < 24 ? a : -a));
	nt_free(&n);
}

/* Mean power at @f over @segs Hann-windowed segments of @seg frames (relative units). */
static double band_power(const float *x, size_t segs, size_t seg, double f)
{
	double p = 0;

	for (size_t s = 0; s < segs; s++) {
		double a = vd_tone_amplitude(x + s * seg, seg, 1, 48000, f);

		p += a * a;
	}
	return p / (double)segs;
}

#define SEGS 400
#define SEG 2048

static void noise_spectrum(const char *wave, double expect_slope_db_per_octave)
{
	char w[32];
	const char *const kv[] = { w, "level=-10dB", "seed=7", NULL };
	struct nt_node n;
	size_t len = SEGS * SEG;
	float *x = malloc(len * sizeof(float));
	double f[7], db[7], mean = 0, sx = 0, sy = 0, sxx = 0, sxy = 0, slope;
	bool eos;

	snprintf(w, sizeof(w), "wave=%s", wave);
	setup(&n, kv, 48000);
	assert_int_equal(pull(&n, x, len, 4096, &eos), (long)len);
	nt_assert_near(vd_rms(x, len, 1) / (pow(10, -10 / 20.0) * M_SQRT1_2), 1.0, 0.03);
	for (int k = 0; k < 7; k++) {
		f[k] = 125.0 * pow(2, k);
		db[k] = 10 * log10(band_power(x, SEGS, SEG, f[k]));
		sx += k;
		sy += db[k];
		sxx += k * k;
		sxy += k * db[k];
	}
	slope = (7 * sxy - sx * sy) / (7 * sxx - sx * sx);
	print_message("%s noise: %.2f dB/octave (125 Hz .. 8 kHz), rms %.4f\n", wave, slope, vd_rms(x, len, 1));
	nt_assert_near(slope, expect_slope_db_per_octave, 0.25);
	for (int k = 0; k < 7; k++)
		mean += db[k] - expect_slope_db_per_octave * k;
	mean /= 7;
	for (int k = 0; k < 7; k++)
		nt_assert_near(db[k] - expect_slope_db_per_octave * k, mean, 0.8);
	nt_free(&n);
	free(x);
}

static void test_white_noise(void **state)
{
	noise_spectrum("white", 0.0);
}

static void test_pink_noise(void **state)
{
	noise_spectrum("pink", -10 * log10(2.0));
}

static void test_noise_reproducible(void **state)
{
	const char *const a[] = { "wave=pink", "seed=42", "channels=2", NULL };
	const char *const b[] = { "wave=pink", "seed=43", "channels=2", NULL };
	struct nt_node n1, n2, n3;
	float x[5000 * 2], y[5000 * 2], z[5000 * 2];
	bool eos;

	setup(&n1, a, 48000);
	setup(&n2, a, 48000);
	setup(&n3, b, 48000);
	assert_int_equal(pull(&n1, x, 5000, 480, &eos), 5000);
	assert_int_equal(pull(&n2, y, 5000, 33, &eos), 5000);
	assert_int_equal(pull(&n3, z, 5000, 480, &eos), 5000);
	assert_memory_equal(x, y, sizeof(x));
	assert_memory_not_equal(x, z, sizeof(x));
	for (int i = 0; i < 5000; i++)
		assert_true(x[2 * i] == x[2 * i + 1]);
	nt_free(&n1);
	nt_free(&n2);
	nt_free(&n3);
}

/* Frequency changes keep the phase; level changes glide. */
static void test_runtime_params(void **state)
{
	const char *const kv[] = { "level=-6dB", NULL };
	struct nt_node n;
	float x[9600];
	bool eos;
	double jump = 0, a = pow(10, -6 / 20.0);
	struct vd_sine_fit fit;

	setup(&n, kv, 48000);
	assert_int_equal(pull(&n, x, 1000, 480, &eos), 1000);
	assert_int_equal(nt_set(&n, "freq", 2000), 0);
	nt_assert_near(nt_get(&n, "freq"), 2000, 0);
	assert_int_equal(pull(&n, x + 1000, 3000, 480, &eos), 3000);
	assert_int_equal(nt_set(&n, "level", -26), 0);
	assert_int_equal(pull(&n, x + 4000, 5600, 480, &eos), 5600);
	for (int i = 1; i < 9600; i++)
		jump = fmax(jump, fabs(x[i] - x[i - 1]));
	nt_assert_le(jump, 2 * M_PI * 2000 / 48000 * a * 1.001);
	assert_int_equal(vd_sine_fit(x + 1000, 3000, 1, 48000, 2000, &fit), 0);
	nt_assert_near(fit.amplitude, a, 1e-6);
	assert_int_equal(vd_sine_fit(x + 4480, 5120, 1, 48000, 2000, &fit), 0);
	nt_assert_near(fit.amplitude, a / 10, 1e-7);
	assert_int_equal(nt_set(&n, "freq", 24000), -EINVAL);
	assert_int_equal(nt_set(&n, "level", 1), -EINVAL);
	nt_free(&n);
}

static void expect_error(const char *const *kv, const char *msg)
{
	struct nt_node n;

	assert_int_equal(nt_init(&n, &vd_node_tone, kv, 0, 48000), -EINVAL);
	assert_string_equal(n.err.msg, msg);
	nt_free(&n);
}

static void test_bad_properties(void **state)
{
	const char *const a[] = { "wave=triangle", NULL };
	const char *const b[] = { "freq=30kHz", NULL };
	const char *const c[] = { "level=3dB", NULL };
	const char *const d[] = { "duration=-1s", NULL };
	const char *const e[] = { "rate=44.1kHz", NULL };
	const char *const f[] = { "channels=0", NULL };

	expect_error(a, "'wave' = 'triangle' is not one of: sine, square, white, pink");
	expect_error(b, "'freq' = 30000 Hz is not below half the rate (24000 Hz)");
	expect_error(c, "'level' = 3dB is out of range [-150, 0] (dB)");
	expect_error(d, "'duration' = -1s is out of range [0, 604800] (s, ms or us)");
	expect_error(e, "'rate' must be a whole number, not the number '44.1kHz'");
	expect_error(f, "'channels' = 0 is out of range [1, 32]");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sine_level_purity_phase),
		cmocka_unit_test(test_duration_and_eos),
		cmocka_unit_test(test_zero_duration),
		cmocka_unit_test(test_square),
		cmocka_unit_test(test_white_noise),
		cmocka_unit_test(test_pink_noise),
		cmocka_unit_test(test_noise_reproducible),
		cmocka_unit_test(test_runtime_params),
		cmocka_unit_test(test_bad_properties),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
