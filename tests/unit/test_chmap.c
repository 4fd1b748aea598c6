/* tests/unit/test_chmap.c - vd_channel_matrix(): identity, up/down-mix coefficients, normalisation, errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include <virtdsp/convert.h>

#define M3DB 0.70710678118654752
#define EPS 1e-6

static const uint8_t mono[] = { VD_CH_MONO };
static const uint8_t stereo[] = { VD_CH_FL, VD_CH_FR };
static const uint8_t quad[] = { VD_CH_FL, VD_CH_FR, VD_CH_RL, VD_CH_RR };
static const uint8_t s51[] = { VD_CH_FL, VD_CH_FR, VD_CH_FC, VD_CH_LFE, VD_CH_RL, VD_CH_RR };
static const uint8_t s51side[] = { VD_CH_FL, VD_CH_FR, VD_CH_FC, VD_CH_LFE, VD_CH_SL, VD_CH_SR };
static const uint8_t s71[] = { VD_CH_FL, VD_CH_FR, VD_CH_FC, VD_CH_LFE, VD_CH_RL, VD_CH_RR,
			       VD_CH_SL, VD_CH_SR };

static void expect(const float *m, const double *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fabs(m[i] - want[i]) > EPS)
			fail_msg("coefficient %zu is %.7f, want %.7f", i, m[i], want[i]);
}

static void test_stereo_mono(void **state)
{
	float m[2];
	const double down[] = { 0.5, 0.5 }, up[] = { 1.0, 1.0 };

	(void)state;
	assert_int_equal(vd_channel_matrix(mono, 1, stereo, 2, true, m), 0);
	expect(m, down, 2);
	assert_int_equal(vd_channel_matrix(mono, 1, stereo, 2, false, m), 0);
	expect(m, down, 2);
	assert_int_equal(vd_channel_matrix(stereo, 2, mono, 1, true, m), 0);
	expect(m, up, 2);
}

static void test_51_to_stereo(void **state)
{
	float m[2 * 6];
	const double s = 1.0 + 2 * M3DB;
	/* FL row: FL + FC/sqrt2 + RL/sqrt2, normalised by its sum 1 + sqrt2; LFE dropped. */
	const double norm[] = { 1 / s, 0, M3DB / s, 0, M3DB / s, 0,
				0, 1 / s, M3DB / s, 0, 0, M3DB / s };
	const double raw[] = { 1, 0, M3DB, 0, M3DB, 0,
			       0, 1, M3DB, 0, 0, M3DB };

	(void)state;
	assert_int_equal(vd_channel_matrix(stereo, 2, s51, 6, true, m), 0);
	expect(m, norm, 12);
	assert_true(fabs(m[0] - 0.4142136) < EPS && fabs(m[2] - 0.2928932) < EPS);
	assert_int_equal(vd_channel_matrix(stereo, 2, s51, 6, false, m), 0);
	expect(m, raw, 12);
	/* 5.1 with side surrounds folds the same way. */
	assert_int_equal(vd_channel_matrix(stereo, 2, s51side, 6, true, m), 0);
	expect(m, norm, 12);
}

static void test_51_to_mono(void **state)
{
	float m[6];
	const double want[] = { 0.2, 0.2, 0.2, 0, 0.2, 0.2 };

	(void)state;
	assert_int_equal(vd_channel_matrix(mono, 1, s51, 6, true, m), 0);
	expect(m, want, 6);
}

static void test_upmix(void **state)
{
	float m[6 * 2], mm[6];
	const double st[] = { 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0 };
	const double mo[] = { 1, 1, 0, 0, 0, 0 };
	const uint8_t fc[] = { VD_CH_FC };
	float one;

	(void)state;
	/* Stereo into 5.1 lands on FL/FR only: nothing is invented for the others. */
	assert_int_equal(vd_channel_matrix(s51, 6, stereo, 2, true, m), 0);
	expect(m, st, 12);
	/* Mono goes to FL and FR when they exist... */
	assert_int_equal(vd_channel_matrix(s51, 6, mono, 1, true, mm), 0);
	expect(mm, mo, 6);
	/* ...and to every (non-LFE) output otherwise. */
	assert_int_equal(vd_channel_matrix(fc, 1, mono, 1, true, &one), 0);
	assert_true(fabs(one - 1.0f) < EPS);
}

static void test_quad_and_71(void **state)
{
	float m[6 * 8], q[2 * 4];
	const double s = 1.0 + M3DB;
	const double quad_st[] = { 1 / s, 0, M3DB / s, 0, 0, 1 / s, 0, M3DB / s };

	(void)state;
	assert_int_equal(vd_channel_matrix(stereo, 2, quad, 4, true, q), 0);
	expect(q, quad_st, 8);
	/* 7.1 to 5.1: sides join the rears (each half after normalisation). */
	assert_int_equal(vd_channel_matrix(s51, 6, s71, 8, true, m), 0);
	for (int o = 0; o < 6; o++) {
		for (int i = 0; i < 8; i++) {
			double w = 0;

			if (o < 4 && i == o)
				w = 1;
			else if ((o == 4 && (i == 4 || i == 6)) || (o == 5 && (i == 5 || i == 7)))
				w = 0.5;
			if (fabs(m[o * 8 + i] - w) > EPS)
				fail_msg("7.1->5.1 m[%d][%d] = %f, want %f", o, i, m[o * 8 + i], w);
		}
	}
	/* 5.1 (rear) to 5.1 (side): rears map straight onto the sides. */
	assert_int_equal(vd_channel_matrix(s51side, 6, s51, 6, true, m), 0);
	for (int o = 0; o < 6; o++)
		for (int i = 0; i < 6; i++)
			assert_true(fabs(m[o * 6 + i] - (o == i ? 1.0 : 0.0)) < EPS);
}

static void test_identity(void **state)
{
	uint8_t pos[VD_MAX_CHANNELS];
	float m[VD_MAX_CHANNELS * VD_MAX_CHANNELS];

	(void)state;
	for (uint32_t ch = 1; ch <= VD_MAX_CHANNELS; ch++) {
		vd_channel_default_map(ch, pos);
		for (int norm = 0; norm < 2; norm++) {
			assert_int_equal(vd_channel_matrix(pos, ch, pos, ch, norm, m), 0);
			for (uint32_t o = 0; o < ch; o++)
				for (uint32_t i = 0; i < ch; i++)
					if (m[o * ch + i] != (o == i ? 1.0f : 0.0f))
						fail_msg("%u ch: m[%u][%u] = %f", ch, o, i, m[o * ch + i]);
		}
	}
}

/* For every pair of default layouts: normalised rows never exceed unity gain. */
static void test_normalisation(void **state)
{
	uint8_t a[VD_MAX_CHANNELS], b[VD_MAX_CHANNELS];
	float m[VD_MAX_CHANNELS * VD_MAX_CHANNELS];

	(void)state;
	for (uint32_t oc = 1; oc <= 8; oc++) {
		for (uint32_t ic = 1; ic <= 8; ic++) {
			vd_channel_default_map(oc, a);
			vd_channel_default_map(ic, b);
			assert_int_equal(vd_channel_matrix(a, oc, b, ic, true, m), 0);
			for (uint32_t o = 0; o < oc; o++) {
				double sum = 0;

				for (uint32_t i = 0; i < ic; i++) {
					assert_true(m[o * ic + i] >= 0.0f);
					sum += fabs(m[o * ic + i]);
				}
				if (sum > 1.0 + EPS)
					fail_msg("%u->%u row %u sums to %f", ic, oc, o, sum);
			}
			/* Down to stereo or mono, every non-LFE input is heard somewhere. */
			if (oc <= 2) {
				for (uint32_t i = 0; i < ic; i++) {
					double col = 0;

					for (uint32_t o = 0; o < oc; o++)
						col += m[o * ic + i];
					if (b[i] != VD_CH_LFE && col <= 0)
						fail_msg("%u->%u drops input %u (%s)", ic, oc, i, vd_channel_name(b[i]));
					if (b[i] == VD_CH_LFE && col != 0)
						fail_msg("%u->%u keeps LFE", ic, oc);
				}
			}
		}
	}
}

/* Full-scale, in-phase input on every channel of 7.1 cannot clip any output. */
static void test_no_clip_applied(void **state)
{
	float m[2 * 8], in[8], out[2];

	(void)state;
	assert_int_equal(vd_channel_matrix(stereo, 2, s71, 8, true, m), 0);
	for (int i = 0; i < 8; i++)
		in[i] = 1.0f;
	for (int o = 0; o < 2; o++) {
		out[o] = 0;
		for (int i = 0; i < 8; i++)
			out[o] += m[o * 8 + i] * in[i];
		assert_true(out[o] <= 1.0f + 1e-6f);
		assert_true(out[o] > 0.99f);
	}
}

static void test_top_and_centre_channels(void **state)
{
	const uint8_t in[] = { VD_CH_TFL, VD_CH_TFR, VD_CH_RC, VD_CH_FLC, VD_CH_AUX0 };
	float m[2 * 5];
	/* TFL->FL, RC->FL/FR at -3 dB, FLC->FL; AUX has no place in stereo. */
	const double raw[] = { 1, 0, M3DB, 1, 0, 0, 1, M3DB, 0, 0 };

	(void)state;
	assert_int_equal(vd_channel_matrix(stereo, 2, in, 5, false, m), 0);
	expect(m, raw, 10);
}

static void test_invalid(void **state)
{
	float m[4];
	const uint8_t bad[] = { VD_CH_POSITION_COUNT };

	(void)state;
	assert_int_equal(vd_channel_matrix(stereo, 0, stereo, 2, true, m), -EINVAL);
	assert_int_equal(vd_channel_matrix(stereo, 2, stereo, 0, true, m), -EINVAL);
	assert_int_equal(vd_channel_matrix(stereo, VD_MAX_CHANNELS + 1, stereo, 2, true, m), -EINVAL);
	assert_int_equal(vd_channel_matrix(NULL, 2, stereo, 2, true, m), -EINVAL);
	assert_int_equal(vd_channel_matrix(stereo, 2, stereo, 2, true, NULL), -EINVAL);
	assert_int_equal(vd_channel_matrix(bad, 1, stereo, 2, true, m), -EINVAL);
	assert_int_equal(vd_channel_matrix(stereo, 2, bad, 1, true, m), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stereo_mono),
		cmocka_unit_test(test_51_to_stereo),
		cmocka_unit_test(test_51_to_mono),
		cmocka_unit_test(test_upmix),
		cmocka_unit_test(test_quad_and_71),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_normalisation),
		cmocka_unit_test(test_no_clip_applied),
		cmocka_unit_test(test_top_and_centre_channels),
		cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
