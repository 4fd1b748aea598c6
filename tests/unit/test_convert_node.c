/* tests/unit/test_convert_node.c - the convert node: exact format changes, dither, channel up/down-mix, negotiation. */
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

static int setup(struct nt_node *n, const char *const *kv, enum vd_sample_format fmt, uint32_t ch)
{
	struct vd_audio_format f;

	assert_int_equal(nt_init(n, &vd_node_convert, kv, 1, RATE), 0);
	vd_audio_format_init(&f, fmt, RATE, ch);
	return nt_prepare(n, &f, 1024);
}

/* Random bytes that are valid samples of @fmt (floats kept within [-1.5, 1.5]). */
static void *random_samples(enum vd_sample_format fmt, size_t n, uint32_t seed)
{
	size_t ss = vd_format_sample_size(fmt);
	uint8_t *p = malloc(n * ss);

	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		if (fmt == VD_FORMAT_F32) {
			((float *)p)[i] = (float)((int32_t)seed / 2147483648.0 * 1.5);
		} else if (fmt == VD_FORMAT_F64) {
			((double *)p)[i] = (int32_t)seed / 2147483648.0 * 1.5;
		} else if (fmt == VD_FORMAT_S24) {
			((int32_t *)p)[i] = (int32_t)seed >> 8;
		} else {
			for (size_t b = 0; b < ss; b++)
				p[i * ss + b] = (uint8_t)(seed >> (8 * (b % 4)));
		}
	}
	return p;
}

static const char *fmt_prop(enum vd_sample_format f, char *buf)
{
	sprintf(buf, "format=%s", vd_format_name(f));
	return buf;
}

/* Every format pair: the node's output is exactly vd_convert_samples' in one go. */
static void test_format_pairs_match_library(void **state)
{
	size_t frames = 1000, ch = 2;

	for (int src = VD_FORMAT_U8; src < VD_FORMAT_COUNT; src++) {
		void *in = random_samples(src, frames * ch, (uint32_t)src * 7919u);

		for (int dst = VD_FORMAT_U8; dst < VD_FORMAT_COUNT; dst++) {
			char fp[32];
			const char *const kv[] = { fmt_prop(dst, fp), NULL };
			struct nt_node n;
			size_t bytes = frames * ch * vd_format_sample_size(dst);
			void *want = malloc(bytes), *got = malloc(bytes);
			bool eos;

			assert_int_equal(setup(&n, kv, src, ch), 0);
			assert_int_equal(n.out[0].format, dst);
			assert_int_equal(n.in[0].format, src);
			assert_int_equal(vd_convert_samples(dst, want, src, in, frames * ch, NULL), 0);
			assert_int_equal(nt_run(&n, in, frames, got, frames, 97, true, &eos), (long)frames);
			assert_true(eos);
			if (memcmp(want, got, bytes) != 0)
				fail_msg("%s -> %s differs from vd_convert_samples", vd_format_name(src),
					 vd_format_name(dst));
			nt_free(&n);
			free(want);
			free(got);
		}
		free(in);
	}
}

/* Integer formats survive a trip through f32 (and s24 through s32) bit for bit. */
static void test_round_trips(void **state)
{
	static const enum vd_sample_format fmts[] = { VD_FORMAT_U8, VD_FORMAT_S16, VD_FORMAT_S24, VD_FORMAT_S24_3 };
	size_t frames = 4096;

	for (size_t k = 0; k < sizeof(fmts) / sizeof(fmts[0]); k++) {
		char a[32];
		const char *const to_f32[] = { "format=f32", NULL };
		const char *const back[] = { fmt_prop(fmts[k], a), NULL };
		const char *const to_s32[] = { "format=s32", NULL };
		struct nt_node n1, n2;
		size_t bytes = frames * vd_format_sample_size(fmts[k]);
		void *in = random_samples(fmts[k], frames, 1234u + (uint32_t)k);
		float *mid = malloc(frames * sizeof(int64_t));
		void *out = malloc(bytes);

		assert_int_equal(setup(&n1, fmts[k] == VD_FORMAT_S24 ? to_s32 : to_f32, fmts[k], 1), 0);
		assert_int_equal(nt_run(&n1, in, frames, mid, frames, 480, false, NULL), (long)frames);
		assert_int_equal(setup(&n2, back, n1.out[0].format, 1), 0);
		assert_int_equal(nt_run(&n2, mid, frames, out, frames, 333, false, NULL), (long)frames);
		assert_memory_equal(in, out, bytes);
		nt_free(&n1);
		nt_free(&n2);
		free(in);
		free(mid);
		free(out);
	}
}

static void test_dither(void **state)
{
	const char *const kv[] = { "format=s16", "dither=true", "seed=5", NULL };
	const char *const plain[] = { "format=s16", NULL };
	const char *const widen[] = { "format=s32", "dither=true", NULL };
	struct nt_node n, p, w;
	size_t frames = 4800;
	float *in = malloc(frames * 2 * sizeof(float));
	int16_t *got = malloc(frames * 2 * 2), *want = malloc(frames * 2 * 2), *undith = malloc(frames * 2 * 2);
	int32_t *wide = malloc(frames * 2 * 4);
	struct vd_dither d;
	long diff = 0;

	vd_gen_sine(in, frames, 2, RATE, 1000, 0.3, 0);
	assert_int_equal(setup(&n, kv, VD_FORMAT_F32, 2), 0);
	assert_int_equal(nt_run(&n, in, frames, got, frames, 100, false, NULL), (long)frames);
	vd_dither_init(&d, 5);
	assert_int_equal(vd_convert_samples(VD_FORMAT_S16, want, VD_FORMAT_F32, in, frames * 2, &d), 0);
	assert_memory_equal(got, want, frames * 2 * 2);
	assert_int_equal(setup(&p, plain, VD_FORMAT_F32, 2), 0);
	assert_int_equal(nt_run(&p, in, frames, undith, frames, 480, false, NULL), (long)frames);
	for (size_t i = 0; i < frames * 2; i++) {
		nt_assert_le(abs(got[i] - undith[i]), 2);
		diff += got[i] != undith[i];
	}
	nt_assert_ge(diff, frames / 4);
	/* reset restarts the dither sequence */
	vd_node_convert.reset(n.self);
	assert_int_equal(nt_run(&n, in, frames, got, frames, 480, false, NULL), (long)frames);
	assert_memory_equal(got, want, frames * 2 * 2);
	/* no precision lost, no dither: s16 -> s32 stays a pure shift */
	assert_int_equal(setup(&w, widen, VD_FORMAT_S16, 2), 0);
	assert_int_equal(nt_run(&w, undith, frames, wide, frames, 480, false, NULL), (long)frames);
	for (size_t i = 0; i < frames * 2; i++)
		assert_int_equal(wide[i], (int32_t)undith[i] * 65536);
	nt_free(&n);
	nt_free(&p);
	nt_free(&w);
	free(in);
	free(got);
	free(want);
	free(undith);
	free(wide);
}

static void test_mono_to_stereo_exact(void **state)
{
	const char *const kv[] = { "channels=2", NULL };
	struct nt_node n;
	size_t frames = 3000;
	int16_t *in = random_samples(VD_FORMAT_S16, frames, 42), *out = malloc(frames * 4);

	assert_int_equal(setup(&n, kv, VD_FORMAT_S16, 1), 0);
	assert_int_equal(n.out[0].channels, 2);
	assert_int_equal(n.out[0].format, VD_FORMAT_S16);
	assert_int_equal(n.out[0].position[0], VD_CH_FL);
	assert_int_equal(nt_run(&n, in, frames, out, frames, 480, false, NULL), (long)frames);
	for (size_t i = 0; i < frames; i++) {
		assert_int_equal(out[2 * i], in[i]);
		assert_int_equal(out[2 * i + 1], in[i]);
	}
	nt_free(&n);
	free(in);
	free(out);
}

/* Stereo to mono is the average, rounded to nearest with ties to even, in integers. */
static void test_stereo_to_mono_average(void **state)
{
	const char *const kv[] = { "channels=1", NULL };
	struct nt_node n;
	size_t frames = 5000;
	int16_t *in = random_samples(VD_FORMAT_S16, frames * 2, 4242), *out = malloc(frames * 2);

	in[0] = 32767;
	in[1] = 32767;
	in[2] = -32768;
	in[3] = -32768;
	in[4] = 3;
	in[5] = 0;
	assert_int_equal(setup(&n, kv, VD_FORMAT_S16, 2), 0);
	assert_int_equal(nt_run(&n, in, frames, out, frames, 480, false, NULL), (long)frames);
	for (size_t i = 0; i < frames; i++) {
		int s = in[2 * i] + in[2 * i + 1];
		int half = s >> 1;		/* floor */

		if ((s & 1) && (half & 1))	/* a tie: go to the even neighbour */
			half++;
		if (out[i] != half)
			fail_msg("frame %zu: %d + %d -> %d, expected %d", i, in[2 * i], in[2 * i + 1], out[i], half);
	}
	assert_int_equal(out[2], 2);
	nt_free(&n);
	free(in);
	free(out);
}

/* 5.1 to stereo follows vd_channel_matrix; the result stays within full scale. */
static void test_surround_downmix(void **state)
{
	const char *const kv[] = { "channels=2", "format=f32", NULL };
	struct nt_node n;
	size_t frames = 2000;
	float *in = random_samples(VD_FORMAT_F32, frames * 6, 99), *out = malloc(frames * 2 * sizeof(float));
	float m[2 * 6];
	uint8_t pos6[VD_MAX_CHANNELS], pos2[VD_MAX_CHANNELS];

	for (size_t i = 0; i < frames * 6; i++)
		in[i] /= 1.5f;
	assert_int_equal(setup(&n, kv, VD_FORMAT_F32, 6), 0);
	vd_channel_default_map(6, pos6);
	vd_channel_default_map(2, pos2);
	assert_int_equal(vd_channel_matrix(pos2, 2, pos6, 6, true, m), 0);
	assert_int_equal(nt_run(&n, in, frames, out, frames, 480, false, NULL), (long)frames);
	for (size_t f = 0; f < frames; f++) {
		for (int o = 0; o < 2; o++) {
			double want = 0;

			for (int i = 0; i < 6; i++)
				want += (double)m[o * 6 + i] * in[f * 6 + i];
			nt_assert_near(out[f * 2 + o], want, 1e-7);
			nt_assert_le(fabs(out[f * 2 + o]), 1.0);
		}
	}
	/* FL reaches the left output only, at full gain before normalisation */
	assert_true(m[0] > 0 && m[6] == 0.0f);
	nt_free(&n);
	free(in);
	free(out);
}

/* Same count, other layout (as the graph may ask): the channels are swapped, exactly. */
static void test_layout_swap(void **state)
{
	struct nt_node n;
	struct vd_audio_format in, out;
	int16_t x[200], y[200];

	assert_int_equal(nt_init(&n, &vd_node_convert, NULL, 1, RATE), 0);
	vd_audio_format_init(&in, VD_FORMAT_S16, RATE, 2);
	out = in;
	out.position[0] = VD_CH_FR;
	out.position[1] = VD_CH_FL;
	assert_int_equal(vd_node_convert.prepare(n.self, &in, 1, &out, 1, 480, &n.err), 0);
	n.in[0] = in;
	n.out[0] = out;
	for (int i = 0; i < 200; i++)
		x[i] = (int16_t)(i * 300 - 30000);
	assert_int_equal(nt_run(&n, x, 100, y, 100, 64, false, NULL), 100);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(y[2 * i], x[2 * i + 1]);
		assert_int_equal(y[2 * i + 1], x[2 * i]);
	}
	nt_free(&n);
}

static void test_negotiation(void **state)
{
	const char *const none[] = { NULL };
	struct nt_node n;
	struct vd_audio_format in, out;

	assert_int_equal(nt_init(&n, &vd_node_convert, none, 1, RATE), 0);
	vd_audio_format_init(&in, VD_FORMAT_S24_3, 96000, 4);
	in.position[3] = VD_CH_LFE;
	assert_int_equal(vd_node_convert.negotiate(n.self, &in, 1, &out, 1, &n.err), 0);
	assert_true(vd_audio_format_equal(&in, &out));
	assert_int_equal(in.format, VD_FORMAT_S24_3);
	/* it refuses to change the rate */
	out.rate = 48000;
	assert_int_equal(vd_node_convert.prepare(n.self, &in, 1, &out, 1, 480, &n.err), -EINVAL);
	assert_string_equal(n.err.msg, "convert cannot change the rate or use these formats");
	nt_free(&n);
}

static void test_bad_properties(void **state)
{
	const char *const a[] = { "format=s17", NULL };
	const char *const b[] = { "channels=0", NULL };
	const char *const c[] = { "dither=1", NULL };
	struct nt_node n;

	assert_int_equal(nt_init(&n, &vd_node_convert, a, 1, RATE), -EINVAL);
	assert_string_equal(n.err.msg, "'format' = 's17' is not a sample format "
			    "(u8, s16, s24, s24_3, s32, f32, f64, mulaw, alaw)");
	nt_free(&n);
	assert_int_equal(nt_init(&n, &vd_node_convert, b, 1, RATE), -EINVAL);
	assert_string_equal(n.err.msg, "'channels' = 0 is out of range [1, 32]");
	nt_free(&n);
	assert_int_equal(nt_init(&n, &vd_node_convert, c, 1, RATE), -EINVAL);
	assert_string_equal(n.err.msg, "'dither' must be true or false, not '1'");
	nt_free(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_pairs_match_library),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_dither),
		cmocka_unit_test(test_mono_to_stereo_exact),
		cmocka_unit_test(test_stereo_to_mono_average),
		cmocka_unit_test(test_surround_downmix),
		cmocka_unit_test(test_layout_swap),
		cmocka_unit_test(test_negotiation),
		cmocka_unit_test(test_bad_properties),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
