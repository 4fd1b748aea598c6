/* tests/unit/test_analysis.c - the analyser's converter measurements: fixed-frequency fit and spectrum. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "analysis.h"

#define RATE 48000.0

static void fill(float *x, size_t n, double f1, double a1, double ph1, double f2, double a2, double dc)
{
	for (size_t i = 0; i < n; i++) {
		double t = (double)i / RATE;
		x[i] = (float)(a1 * cos(2 * M_PI * f1 * t + ph1) + a2 * cos(2 * M_PI * f2 * t) + dc);
	}
}

static void fit_fixed_recovers_tone_dc_and_phase(void **state)
{
	size_t n = 24000;
	float *x = malloc(n * sizeof(float));
	struct vd_sine_fit fit;

	assert_non_null(x);
	fill(x, n, 1234.5, 0.5, 0.7, 0, 0, 0.125);
	assert_int_equal(vd_sine_fit_fixed(x, n, 1, RATE, 1234.5, &fit), 0);
	assert_float_equal(fit.freq, 1234.5, 0);
	assert_float_equal(fit.amplitude, 0.5, 1e-6);
	assert_float_equal(fit.phase, 0.7, 1e-6);
	assert_float_equal(fit.dc, 0.125, 1e-6);
	/* Only float32 rounding is left: far below any converter under test. */
	assert_true(fit.thdn_db < -130);
	assert_true(fit.snr_db > 130);
	free(x);
}

static void fit_fixed_separates_harmonics_from_noise(void **state)
{
	size_t n = 24000;
	float *x = malloc(n * sizeof(float));
	struct vd_sine_fit fit;

	assert_non_null(x);
	/* A second harmonic 60 dB down: THD+N sees it, SNR removes it. */
	fill(x, n, 1000, 0.5, 0, 2000, 0.0005, 0);
	assert_int_equal(vd_sine_fit_fixed(x, n, 1, RATE, 1000, &fit), 0);
	assert_float_equal(fit.thdn_db, -60.0, 0.01);
	assert_true(fit.snr_db > 120);
	free(x);
}

static void fit_fixed_uses_stride_and_rejects_short_input(void **state)
{
	size_t n = 4800;
	float *x = malloc(2 * n * sizeof(float));
	float *mono = malloc(n * sizeof(float));
	struct vd_sine_fit fit;

	assert_non_null(x);
	assert_non_null(mono);
	fill(mono, n, 440, 0.25, 0, 0, 0, 0);
	for (size_t i = 0; i < n; i++) {
		x[2 * i] = 0.9f;	/* the other channel must not leak in */
		x[2 * i + 1] = mono[i];
	}
	assert_int_equal(vd_sine_fit_fixed(x + 1, n, 2, RATE, 440, &fit), 0);
	assert_float_equal(fit.amplitude, 0.25, 1e-6);
	assert_float_equal(fit.dc, 0.0, 1e-6);
	assert_int_equal(vd_sine_fit_fixed(x, 15, 2, RATE, 440, &fit), -1);
	free(mono);
	free(x);
}

static void spectrum_reads_tone_level_and_deep_floor(void **state)
{
	size_t n = 8192;
	float *x = malloc(n * sizeof(float));
	double *db = malloc((n / 2 + 1) * sizeof(double));
	double bin = RATE / (double)n;

	assert_non_null(x);
	assert_non_null(db);
	/* -12 dBFS at bin 300 and a second tone 120 dB below it at bin 1500. */
	fill(x, n, 300 * bin, 0.25, 0.3, 1500 * bin, 0.25e-6, 0);
	assert_int_equal(vd_spectrum_db(x, n, 1, 20.0, db), 0);
	assert_float_equal(db[300], vd_db(0.25), 0.01);
	assert_float_equal(db[1500], vd_db(0.25e-6), 0.5);
	/* Away from both tones only the window's side lobes and float rounding remain. */
	for (size_t k = 700; k < 1400; k++)
		assert_true(db[k] < -170);
	for (size_t k = 2000; k <= n / 2; k++)
		assert_true(db[k] < -170);
	free(db);
	free(x);
}

static void spectrum_rejects_bad_length(void **state)
{
	float x[24] = { 0 };
	double db[13];

	assert_int_equal(vd_spectrum_db(x, 24, 1, 20.0, db), -1);
	assert_int_equal(vd_spectrum_db(x, 8, 1, 20.0, db), -1);
	assert_int_equal(vd_spectrum_db(x, 16, 1, 20.0, db), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fit_fixed_recovers_tone_dc_and_phase),
		cmocka_unit_test(fit_fixed_separates_harmonics_from_noise),
		cmocka_unit_test(fit_fixed_uses_stride_and_rejects_short_input),
		cmocka_unit_test(spectrum_reads_tone_level_and_deep_floor),
		cmocka_unit_test(spectrum_rejects_bad_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
