/* tests/unit/test_remap.c - the remap node: exact routes, layouts through the standard matrix, explicit matrices, errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <virtdsp/convert.h>

#include "dsp/dsp.h"
#include "analysis.h"
#include "nodetest.h"

#define RATE 48000

static int setup(struct nt_node *n, const char *const *kv, uint32_t in_ch)
{
	struct vd_audio_format f;
	int res = nt_init(n, &vd_node_remap, kv, 1, RATE);

	if (res < 0)
		return res;
	vd_audio_format_init(&f, VD_FORMAT_S16, RATE, in_ch);
	res = nt_prepare(n, &f, 1024);
	if (res == 0)
		assert_int_equal(n->in[0].format, VD_FORMAT_F32);
	return res;
}

static float *awkward(size_t n, uint32_t seed)
{
	float *x = malloc(n * sizeof(float));

	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		switch (i % 7) {
		case 0: x[i] = -0.0f; break;
		case 1: x[i] = 1e-42f; break;
		case 2: x[i] = -3.4e38f; break;
		default: x[i] = (float)((int32_t)seed) / 1e9f; break;
		}
	}
	return x;
}

static void test_route_is_bit_exact(void **state)
{
	const char *const kv[] = { "route.0=1", "route.1=-1", "route.2=0", "route.3=1", NULL };
	struct nt_node n;
	size_t frames = 2000;
	float *in = awkward(frames * 2, 5), *out = malloc(frames * 4 * sizeof(float));
	bool eos;

	assert_int_equal(setup(&n, kv, 2), 0);
	assert_int_equal(n.out[0].channels, 4);
	assert_int_equal(n.out[0].position[0], VD_CH_FL);
	assert_int_equal(nt_run(&n, in, frames, out, frames, 333, true, &eos), (long)frames);
	assert_true(eos);
	for (size_t f = 0; f < frames; f++) {
		assert_memory_equal(&out[4 * f], &in[2 * f + 1], sizeof(float));
		assert_true(out[4 * f + 1] == 0.0f && !signbit(out[4 * f + 1]));
		assert_memory_equal(&out[4 * f + 2], &in[2 * f], sizeof(float));
		assert_memory_equal(&out[4 * f + 3], &in[2 * f + 1], sizeof(float));
	}
	nt_free(&n);
	free(in);
	free(out);
}

static void test_positions_swap_and_extend(void **state)
{
	const char *const swap[] = { "positions.0=FR", "positions.1=FL", NULL };
	const char *const ext[] = { "positions.0=FL", "positions.1=FR", "positions.2=FC", NULL };
	struct nt_node n;
	size_t frames = 1000;
	float *in = awkward(frames * 2, 9), *out = malloc(frames * 3 * sizeof(float));

	assert_int_equal(setup(&n, swap, 2), 0);
	assert_int_equal(n.out[0].position[0], VD_CH_FR);
	assert_int_equal(n.out[0].position[1], VD_CH_FL);
	assert_int_equal(nt_run(&n, in, frames, out, frames, 480, false, NULL), (long)frames);
	for (size_t f = 0; f < frames; f++) {
		assert_memory_equal(&out[2 * f], &in[2 * f + 1], sizeof(float));
		assert_memory_equal(&out[2 * f + 1], &in[2 * f], sizeof(float));
	}
	nt_free(&n);
	/* stereo into FL FR FC: the front pair passes exactly, nothing invents a centre */
	assert_int_equal(setup(&n, ext, 2), 0);
	assert_int_equal(n.out[0].position[2], VD_CH_FC);
	assert_int_equal(nt_run(&n, in, frames, out, frames, 480, false, NULL), (long)frames);
	for (size_t f = 0; f < frames; f++) {
		assert_memory_equal(&out[3 * f], &in[2 * f], 2 * sizeof(float));
		assert_true(out[3 * f + 2] == 0.0f);
	}
	nt_free(&n);
	free(in);
	free(out);
}

static void check_downmix(bool normalize)
{
	const char *const kv[] = { "positions.0=FL", "positions.1=FR",
				   normalize ? "normalize=true" : "normalize=false", NULL };
	struct nt_node n;
	size_t frames = 1500;
	float *in = malloc(frames * 6 * sizeof(float)), *out = malloc(frames * 2 * sizeof(float));
	float m[12];
	uint8_t p6[VD_MAX_CHANNELS], p2[VD_MAX_CHANNELS];

	for (size_t i = 0; i < frames * 6; i++)
		in[i] = (float)sin(0.001 * (double)i * (double)(i % 6 + 1));
	assert_int_equal(setup(&n, kv, 6), 0);
	vd_channel_default_map(6, p6);
	vd_channel_default_map(2, p2);
	assert_int_equal(vd_channel_matrix(p2, 2, p6, 6, normalize, m), 0);
	assert_int_equal(nt_run(&n, in, frames, out, frames, 480, false, NULL), (long)frames);
	for (size_t f = 0; f < frames; f++)
		for (int o = 0; o < 2; o++) {
			double want = 0;

			for (int i = 0; i < 6; i++)
				want += (double)m[o * 6 + i] * in[6 * f + i];
			nt_assert_near(out[2 * f + o], want, 1e-6);
		}
	nt_free(&n);
	free(in);
	free(out);
}

static void test_positions_downmix(void **state)
{
	check_downmix(true);
	check_downmix(false);
}

static void test_matrix_nested_and_flat(void **state)
{
	const char *const nested[] = { "matrix.0.0=0.5", "matrix.0.1=0.5", "matrix.1.0=1", "matrix.1.1=-1",
				       "matrix.2.0=0", "matrix.2.1=2", NULL };
	const char *const flat[] = { "channels=3", "matrix.0=0.5", "matrix.1=0.5", "matrix.2=1", "matrix.3=-1",
				     "matrix.4=0", "matrix.5=2", NULL };
	const char *const *cfg[2] = { nested, flat };
	size_t frames = 800;
	float *in = malloc(frames * 2 * sizeof(float)), *out = malloc(frames * 3 * sizeof(float));

	vd_gen_sine(in, frames, 2, RATE, 300, 0.5, 0);
	for (size_t f = 0; f < frames; f++)
		in[2 * f + 1] *= -0.25f;
	for (int k = 0; k < 2; k++) {
		struct nt_node n;

		assert_int_equal(setup(&n, cfg[k], 2), 0);
		assert_int_equal(n.out[0].channels, 3);
		assert_int_equal(nt_run(&n, in, frames, out, frames, 480, false, NULL), (long)frames);
		for (size_t f = 0; f < frames; f++) {
			float a = in[2 * f], b = in[2 * f + 1];

			nt_assert_near(out[3 * f], 0.5 * a + 0.5 * b, 1e-7);
			nt_assert_near(out[3 * f + 1], a - b, 1e-7);
			assert_true(out[3 * f + 2] == 2 * b);
		}
		nt_free(&n);
	}
	free(in);
	free(out);
}

/* An explicit 0/1 matrix is a route: exact even for values a multiply-add would disturb. */
static void test_selection_matrix_is_exact(void **state)
{
	const char *const kv[] = { "matrix.0.0=0", "matrix.0.1=1", "matrix.1.0=1", "matrix.1.1=0", NULL };
	struct nt_node n;
	float *in = awkward(200, 3), out[200];

	assert_int_equal(setup(&n, kv, 2), 0);
	assert_int_equal(nt_run(&n, in, 100, out, 100, 100, false, NULL), 100);
	for (int f = 0; f < 100; f++) {
		assert_memory_equal(&out[2 * f], &in[2 * f + 1], sizeof(float));
		assert_memory_equal(&out[2 * f + 1], &in[2 * f], sizeof(float));
	}
	nt_free(&n);
	free(in);
}

static void expect_error(const char *const *kv, uint32_t in_ch, const char *msg)
{
	struct nt_node n;

	assert_int_equal(setup(&n, kv, in_ch), -EINVAL);
	assert_string_equal(n.err.msg, msg);
	nt_free(&n);
}

static void test_errors(void **state)
{
	const char *const none[] = { NULL };
	const char *const both[] = { "route.0=0", "matrix.0.0=1", NULL };
	const char *const far[] = { "route.0=0", "route.1=2", NULL };
	const char *const frac[] = { "route.0=0.5", NULL };
	const char *const pos[] = { "positions.0=FL", "positions.1=XX", NULL };
	const char *const cnt[] = { "positions.0=FL", "route.0=0", "route.1=1", NULL };
	const char *const cols[] = { "matrix.0.0=1", "matrix.0.1=1", "matrix.0.2=1", NULL };
	const char *const ragged[] = { "matrix.0.0=1", "matrix.0.1=1", "matrix.1.0=1", NULL };
	const char *const noch[] = { "matrix.0=1", "matrix.1=1", "matrix.2=1", NULL };
	const char *const gap[] = { "route.0=0", "route.2=1", NULL };
	const char *const chs[] = { "route.0=0", "channels=2", NULL };

	expect_error(none, 2, "remap needs 'positions', 'route' or 'matrix'");
	expect_error(both, 2, "give either 'route' or 'matrix', not both");
	expect_error(far, 2, "'route.1' = 2 but the input has 2 channels (0..1)");
	expect_error(frac, 2, "'route.0' = 0.5 is not an input channel index (or -1 for silence)");
	expect_error(pos, 2, "'positions.1' = 'XX' is not a channel position (FL, FR, FC, LFE, RL, RR, SL, SR, MONO, AUX0, ...)");
	expect_error(cnt, 2, "'positions' has 1 entries but 'route' has 2 outputs");
	expect_error(cols, 2, "'matrix' has 3 columns but the input has 2 channels");
	expect_error(ragged, 2, "'matrix' row 1 has 1 entries but row 0 has 2");
	expect_error(noch, 2, "a flat 'matrix' of 3 entries needs 'channels' (the rows) dividing it");
	expect_error(gap, 2, "unknown property 'route.2' for remap");
	expect_error(chs, 2, "'channels' = 2 but the remap has 1 outputs");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_is_bit_exact),
		cmocka_unit_test(test_positions_swap_and_extend),
		cmocka_unit_test(test_positions_downmix),
		cmocka_unit_test(test_matrix_nested_and_flat),
		cmocka_unit_test(test_selection_matrix_is_exact),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
