/* tests/unit/test_convert.c - sample conversion: every pair, rounding, clipping, NaN, G.711, dither, SIMD vs C. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtdsp/convert.h>

#include "audio/convert_kernels.h"

static const enum vd_sample_format all_formats[] = {
	VD_FORMAT_U8, VD_FORMAT_S16, VD_FORMAT_S24, VD_FORMAT_S24_3, VD_FORMAT_S32,
	VD_FORMAT_F32, VD_FORMAT_F64, VD_FORMAT_MULAW, VD_FORMAT_ALAW,
};
#define N_ALL (sizeof(all_formats) / sizeof(all_formats[0]))

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: good enough to spread test inputs, and reproducible. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

static bool is_int_format(enum vd_sample_format f)
{
	return f == VD_FORMAT_U8 || f == VD_FORMAT_S16 || f == VD_FORMAT_S24 ||
	       f == VD_FORMAT_S24_3 || f == VD_FORMAT_S32;
}

static unsigned int_bits(enum vd_sample_format f)
{
	switch (f) {
	case VD_FORMAT_U8: return 8;
	case VD_FORMAT_S16: return 16;
	case VD_FORMAT_S24: case VD_FORMAT_S24_3: return 24;
	case VD_FORMAT_S32: return 32;
	default: return 0;
	}
}

/* Write integer sample @v (already in range) in integer format @f at @p. */
static void put_int(enum vd_sample_format f, uint8_t *p, int64_t v)
{
	switch (f) {
	case VD_FORMAT_U8: p[0] = (uint8_t)(v + 128); break;
	case VD_FORMAT_S16: p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); break;
	case VD_FORMAT_S24:
	case VD_FORMAT_S32:
		for (int i = 0; i < 4; i++)
			p[i] = (uint8_t)(v >> (8 * i));
		break;
	case VD_FORMAT_S24_3:
		for (int i = 0; i < 3; i++)
			p[i] = (uint8_t)(v >> (8 * i));
		break;
	default: fail_msg("not an integer format");
	}
}

static int64_t get_int(enum vd_sample_format f, const uint8_t *p)
{
	switch (f) {
	case VD_FORMAT_U8: return (int64_t)p[0] - 128;
	case VD_FORMAT_S16: return (int16_t)(p[0] | p[1] << 8);
	case VD_FORMAT_S24: {
		uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
		return u & 0x800000 ? (int64_t)u - 0x1000000 : (int64_t)u;
	}
	case VD_FORMAT_S24_3: {
		uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
		return u & 0x800000 ? (int64_t)u - 0x1000000 : (int64_t)u;
	}
	case VD_FORMAT_S32: {
		uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		return (int32_t)u;
	}
	default: fail_msg("not an integer format"); return 0;
	}
}

/* Published G.711 values (ITU-T G.711 tables as 16-bit linear). */
static int16_t g711_decode(enum vd_sample_format law, uint8_t code)
{
	int16_t v;

	assert_int_equal(vd_convert_samples(VD_FORMAT_S16, &v, law, &code, 1, NULL), 0);
	return v;
}

static uint8_t g711_encode(enum vd_sample_format law, int16_t x)
{
	uint8_t c;

	assert_int_equal(vd_convert_samples(law, &c, VD_FORMAT_S16, &x, 1, NULL), 0);
	return c;
}

/* The value a sample of @f at @p stands for (exact in double for every format). */
static double ref_value(enum vd_sample_format f, const uint8_t *p)
{
	if (is_int_format(f))
		return (double)get_int(f, p) / ldexp(1.0, (int)int_bits(f) - 1);
	if (f == VD_FORMAT_F32) {
		float v;

		memcpy(&v, p, 4);
		return v;
	}
	if (f == VD_FORMAT_F64) {
		double v;

		memcpy(&v, p, 8);
		return v;
	}
	return g711_decode(f, p[0]) / 32768.0;
}

/* Expected bytes of @v in format @f without dither: round half even after scaling, then clip. */
static void ref_encode(enum vd_sample_format f, uint8_t *p, double v)
{
	if (isnan(v))
		v = 0.0;
	if (is_int_format(f) || f == VD_FORMAT_MULAW || f == VD_FORMAT_ALAW) {
		unsigned bits = is_int_format(f) ? int_bits(f) : 16;
		double lim = ldexp(1.0, (int)bits - 1);
		double r = nearbyint(v * lim);

		if (r > lim - 1)
			r = lim - 1;
		if (r < -lim)
			r = -lim;
		if (is_int_format(f))
			put_int(f, p, (int64_t)r);
		else
			p[0] = g711_encode(f, (int16_t)r);
	} else if (f == VD_FORMAT_F32) {
		float x = (float)v;

		memcpy(p, &x, 4);
	} else {
		memcpy(p, &v, 8);
	}
}

/* A test input of @n samples of @f: extremes, near-zero, ties and random values. */
static void make_input(enum vd_sample_format f, uint8_t *buf, size_t n, uint64_t seed)
{
	size_t ss = vd_format_sample_size(f);
	uint64_t rs = seed | 1;

	for (size_t i = 0; i < n; i++) {
		uint8_t *p = buf + i * ss;
		uint64_t r = rng_next(&rs);

		if (is_int_format(f)) {
			int64_t lim = INT64_C(1) << (int_bits(f) - 1);
			static const int64_t picks[] = { 0, 1, -1, 2, -2, 127, -128, 255, 256, 32767,
							 -32768, 32768, 0x7fffff, -0x800000, 0x800000,
							 0x7fffffff, -0x7fffffff - 1, 0x8000, 0x18000,
							 -0x8000, 0x80, 0x180, -0x80, 0x7fff8000 };
			int64_t v = i < sizeof(picks) / sizeof(picks[0]) ? picks[i] : (int64_t)(r % (uint64_t)(2 * lim)) - lim;

			if (v >= lim)
				v = lim - 1;
			if (v < -lim)
				v = -lim;
			put_int(f, p, v);
		} else if (f == VD_FORMAT_F32 || f == VD_FORMAT_F64) {
			static const double picks[] = { 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -1.5, 1e-30,
							-1e-30, 0.5 / 32768, 1.5 / 32768, 2.5 / 32768,
							-0.5 / 32768, 0.5 / 128, 1.5 / 128, 0.5 / 8388608,
							1.5 / 8388608, 0.5 / 2147483648.0, 1.5 / 2147483648.0,
							32767.5 / 32768, 2147483647.5 / 2147483648.0, 1e10,
							-1e10, 1e300, 1.0 + 1.0 / 16777216 };
			double v;

			if (i < sizeof(picks) / sizeof(picks[0]))
				v = picks[i];
			else if (i % 17 == 0)
				v = NAN;
			else if (i % 19 == 0)
				v = (i & 1) ? INFINITY : -INFINITY;
			else
				v = ((double)(r >> 11) / 9007199254740992.0) * 2.4 - 1.2;
			if (f == VD_FORMAT_F32) {
				float x = (float)v;

				memcpy(p, &x, 4);
			} else {
				memcpy(p, &v, 8);
			}
		} else {
			p[0] = (uint8_t)(i < 256 ? i : r);
		}
	}
}

/* Every ordered pair of formats against the double-precision model above. */
static void test_every_pair(void **state)
{
	const size_t n = 3000;
	uint8_t *src = malloc(n * 8), *dst = malloc(n * 8 + 8), *exp = malloc(8);

	(void)state;
	for (size_t a = 0; a < N_ALL; a++) {
		enum vd_sample_format sf = all_formats[a];
		size_t ss = vd_format_sample_size(sf);

		make_input(sf, src, n, 0x1234 + a);
		for (size_t b = 0; b < N_ALL; b++) {
			enum vd_sample_format df = all_formats[b];
			size_t ds = vd_format_sample_size(df);

			memset(dst, 0xa5, n * 8 + 8);
			assert_int_equal(vd_convert_samples(df, dst, sf, src, n, NULL), 0);
			for (size_t i = 0; i < n; i++) {
				if (sf == df) {
					/* Same format: a byte copy, NaN and container bits included. */
					if (memcmp(dst + i * ds, src + i * ss, ds) != 0)
						fail_msg("%s copy differs at %zu", vd_format_name(sf), i);
					continue;
				}
				ref_encode(df, exp, ref_value(sf, src + i * ss));
				if (memcmp(dst + i * ds, exp, ds) != 0)
					fail_msg("%s -> %s: sample %zu (value %.17g) differs",
						 vd_format_name(sf), vd_format_name(df), i,
						 ref_value(sf, src + i * ss));
			}
			/* Nothing beyond the last sample is touched. */
			assert_int_equal(dst[n * ds], 0xa5);
		}
	}
	free(src);
	free(dst);
	free(exp);
}

static void check_one(enum vd_sample_format sf, const void *s, enum vd_sample_format df, const void *want)
{
	uint8_t out[8];

	memset(out, 0, sizeof(out));
	assert_int_equal(vd_convert_samples(df, out, sf, s, 1, NULL), 0);
	if (memcmp(out, want, vd_format_sample_size(df)) != 0)
		fail_msg("%s -> %s: wrong bytes %02x %02x %02x %02x", vd_format_name(sf),
			 vd_format_name(df), out[0], out[1], out[2], out[3]);
}

static void test_known_values(void **state)
{
	int16_t s16;
	int32_t s32;
	float f;
	double d;
	uint8_t u8, b3[3];

	(void)state;
	s16 = 0x4000;
	f = 0.5f; check_one(VD_FORMAT_S16, &s16, VD_FORMAT_F32, &f);
	d = 0.5; check_one(VD_FORMAT_S16, &s16, VD_FORMAT_F64, &d);
	s32 = 0x400000; check_one(VD_FORMAT_S16, &s16, VD_FORMAT_S24, &s32);
	s32 = 0x40000000; check_one(VD_FORMAT_S16, &s16, VD_FORMAT_S32, &s32);
	u8 = 0xc0; check_one(VD_FORMAT_S16, &s16, VD_FORMAT_U8, &u8);
	b3[0] = 0; b3[1] = 0; b3[2] = 0x40; check_one(VD_FORMAT_S16, &s16, VD_FORMAT_S24_3, b3);

	s16 = -32768;
	f = -1.0f; check_one(VD_FORMAT_S16, &s16, VD_FORMAT_F32, &f);
	u8 = 0; check_one(VD_FORMAT_S16, &s16, VD_FORMAT_U8, &u8);
	u8 = 0; check_one(VD_FORMAT_S16, &s16, VD_FORMAT_MULAW, &u8);
	u8 = 0x2a; check_one(VD_FORMAT_S16, &s16, VD_FORMAT_ALAW, &u8);

	u8 = 0xff;
	s16 = 32512; check_one(VD_FORMAT_U8, &u8, VD_FORMAT_S16, &s16);
	f = 127.0f / 128.0f; check_one(VD_FORMAT_U8, &u8, VD_FORMAT_F32, &f);
	u8 = 0x80;
	s16 = 0; check_one(VD_FORMAT_U8, &u8, VD_FORMAT_S16, &s16);

	b3[0] = 0x56; b3[1] = 0x34; b3[2] = 0x92;	/* 0x923456: negative */
	s32 = (int32_t)0xff923456; check_one(VD_FORMAT_S24_3, b3, VD_FORMAT_S24, &s32);
	s32 = (int32_t)0x92345600; check_one(VD_FORMAT_S24_3, b3, VD_FORMAT_S32, &s32);
	s16 = (int16_t)0x9234; check_one(VD_FORMAT_S24_3, b3, VD_FORMAT_S16, &s16);	/* 0x56 < 0x80: down */

	/* S24 in 32: the container's top byte is not part of the sample. */
	s32 = 0x12400000;
	s16 = 0x4000; check_one(VD_FORMAT_S24, &s32, VD_FORMAT_S16, &s16);

	s32 = INT32_MAX;
	d = 2147483647.0 / 2147483648.0; check_one(VD_FORMAT_S32, &s32, VD_FORMAT_F64, &d);
	f = 1.0f; check_one(VD_FORMAT_S32, &s32, VD_FORMAT_F32, &f);	/* nearest float is 1.0 */
	s16 = 32767; check_one(VD_FORMAT_S32, &s32, VD_FORMAT_S16, &s16);	/* rounds up to 32768, clips */

	d = 0.25;
	f = 0.25f; check_one(VD_FORMAT_F64, &d, VD_FORMAT_F32, &f);
	s16 = 8192; check_one(VD_FORMAT_F64, &d, VD_FORMAT_S16, &s16);
	u8 = 0xa0; check_one(VD_FORMAT_F64, &d, VD_FORMAT_U8, &u8);
}

/* All 65536 S16 values through every format that holds 16 bits, and back. */
static void test_s16_round_trip(void **state)
{
	static const enum vd_sample_format wide[] = { VD_FORMAT_S24, VD_FORMAT_S24_3, VD_FORMAT_S32,
						      VD_FORMAT_F32, VD_FORMAT_F64 };
	int16_t *a = malloc(65536 * 2), *b = malloc(65536 * 2);
	uint8_t *mid = malloc(65536 * 8);
	struct vd_dither dither;

	(void)state;
	for (int i = 0; i < 65536; i++)
		a[i] = (int16_t)(i - 32768);
	for (size_t k = 0; k < sizeof(wide) / sizeof(wide[0]); k++) {
		for (int use_dither = 0; use_dither < 2; use_dither++) {
			vd_dither_init(&dither, 99);
			memset(b, 0, 65536 * 2);
			assert_int_equal(vd_convert_samples(wide[k], mid, VD_FORMAT_S16, a, 65536, NULL), 0);
			/* Back to S16 narrows, so dither may apply, but it must not move exact samples. */
			assert_int_equal(vd_convert_samples(VD_FORMAT_S16, b, wide[k], mid, 65536,
							    use_dither ? &dither : NULL), 0);
			if (!use_dither)
				assert_memory_equal(a, b, 65536 * 2);
			else
				for (int i = 0; i < 65536; i++)
					assert_true(abs(a[i] - b[i]) <= 1);
		}
		/* The public float fast paths agree. */
		if (wide[k] == VD_FORMAT_F32) {
			float *f = malloc(65536 * sizeof(float));

			vd_convert_to_f32(f, VD_FORMAT_S16, a, 65536);
			vd_convert_from_f32(VD_FORMAT_S16, b, f, 65536, NULL);
			assert_memory_equal(a, b, 65536 * 2);
			for (int i = 0; i < 65536; i++)
				assert_true(f[i] == (float)a[i] / 32768.0f);
			free(f);
		}
	}
	free(a);
	free(b);
	free(mid);
}

/* Every 24-bit value through S24, S32, F32 and F64 and back to S24_3. */
static void test_s24_round_trip(void **state)
{
	static const enum vd_sample_format wide[] = { VD_FORMAT_S24, VD_FORMAT_S32, VD_FORMAT_F32,
						      VD_FORMAT_F64 };
	const size_t chunk = 1 << 16;
	uint8_t *a = malloc(chunk * 3), *b = malloc(chunk * 3), *mid = malloc(chunk * 8);

	(void)state;
	for (uint32_t base = 0; base < (1u << 24); base += chunk) {
		for (size_t i = 0; i < chunk; i++)
			put_int(VD_FORMAT_S24_3, a + 3 * i, (int64_t)(base + i) - 0x800000);
		for (size_t k = 0; k < sizeof(wide) / sizeof(wide[0]); k++) {
			assert_int_equal(vd_convert_samples(wide[k], mid, VD_FORMAT_S24_3, a, chunk, NULL), 0);
			assert_int_equal(vd_convert_samples(VD_FORMAT_S24_3, b, wide[k], mid, chunk, NULL), 0);
			if (memcmp(a, b, chunk * 3) != 0)
				fail_msg("s24 via %s not exact near %u", vd_format_name(wide[k]), base);
		}
	}
	free(a);
	free(b);
	free(mid);
}

/* S32 through F64 is exact; U8 through every linear format is exact. */
static void test_s32_u8_round_trip(void **state)
{
	const size_t n = 1 << 18;
	int32_t *a = malloc(n * 4), *b = malloc(n * 4);
	double *mid = malloc(n * 8);
	uint64_t rs = 7;
	uint8_t u[256], u2[256], m[256 * 8];

	(void)state;
	for (size_t i = 0; i < n; i++)
		a[i] = (int32_t)(uint32_t)rng_next(&rs);
	a[0] = INT32_MAX;
	a[1] = INT32_MIN;
	a[2] = 1;
	a[3] = -1;
	assert_int_equal(vd_convert_samples(VD_FORMAT_F64, mid, VD_FORMAT_S32, a, n, NULL), 0);
	assert_int_equal(vd_convert_samples(VD_FORMAT_S32, b, VD_FORMAT_F64, mid, n, NULL), 0);
	assert_memory_equal(a, b, n * 4);

	for (int i = 0; i < 256; i++)
		u[i] = (uint8_t)i;
	for (size_t k = 0; k < N_ALL; k++) {
		enum vd_sample_format f = all_formats[k];

		if (f == VD_FORMAT_MULAW || f == VD_FORMAT_ALAW)
			continue;
		assert_int_equal(vd_convert_samples(f, m, VD_FORMAT_U8, u, 256, NULL), 0);
		assert_int_equal(vd_convert_samples(VD_FORMAT_U8, u2, f, m, 256, NULL), 0);
		assert_memory_equal(u, u2, 256);
	}
	free(a);
	free(b);
	free(mid);
}

static void test_rounding_ties(void **state)
{
	int32_t s32[] = { 0x8000, 0x18000, 0x28000, -0x8000, -0x18000, 0x8001, 0x7fff, 0x7fff8000 };
	int16_t want16[] = { 0, 2, 2, 0, -2, 1, 0, 32767 };
	int32_t s24[] = { 0x80, 0x180, -0x80, -0x180, 0x81 };
	int16_t want24[] = { 0, 2, 0, -2, 1 };
	float f[] = { 0.5f / 32768, 1.5f / 32768, 2.5f / 32768, -0.5f / 32768, -1.5f / 32768,
		      -2.5f / 32768 };
	int16_t wantf[] = { 0, 2, 2, 0, -2, -2 };
	double d[] = { 0.5 / 2147483648.0, 1.5 / 2147483648.0, -2.5 / 2147483648.0,
		       1.0 + 1.0 / 16777216, 1.0 + 3.0 / 16777216 };
	int32_t wantd[] = { 0, 2, -2 };
	float wantdf[] = { 1.0f, 1.0f + 4.0f / 16777216 };
	int16_t s16[] = { 0x80, 0x180, -0x80, -0x180, 0x7f80 };
	uint8_t wantu8[] = { 0x80, 0x82, 0x80, 0x7e, 0xff };
	int32_t big[] = { 0x01000001, 0x01000003 };
	float wantbig[] = { 16777216.0f / 2147483648.0f, 16777220.0f / 2147483648.0f };
	int16_t o16[8];
	int32_t o32[4];
	float of[4];
	uint8_t o8[8];

	(void)state;
	assert_int_equal(vd_convert_samples(VD_FORMAT_S16, o16, VD_FORMAT_S32, s32, 8, NULL), 0);
	assert_memory_equal(o16, want16, sizeof(want16));
	assert_int_equal(vd_convert_samples(VD_FORMAT_S16, o16, VD_FORMAT_S24, s24, 5, NULL), 0);
	assert_memory_equal(o16, want24, sizeof(want24));
	vd_convert_from_f32(VD_FORMAT_S16, o16, f, 6, NULL);
	assert_memory_equal(o16, wantf, sizeof(wantf));
	assert_int_equal(vd_convert_samples(VD_FORMAT_S32, o32, VD_FORMAT_F64, d, 3, NULL), 0);
	assert_memory_equal(o32, wantd, sizeof(wantd));
	assert_int_equal(vd_convert_samples(VD_FORMAT_F32, of, VD_FORMAT_F64, d + 3, 2, NULL), 0);
	assert_memory_equal(of, wantdf, sizeof(wantdf));
	assert_int_equal(vd_convert_samples(VD_FORMAT_U8, o8, VD_FORMAT_S16, s16, 5, NULL), 0);
	assert_memory_equal(o8, wantu8, sizeof(wantu8));
	vd_convert_to_f32(of, VD_FORMAT_S32, big, 2);
	assert_memory_equal(of, wantbig, sizeof(wantbig));
}

static void test_clipping(void **state)
{
	float f[] = { 1.0f, -1.0f, 1.5f, -1.5f, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 0.99999994f };
	double d[] = { 1.0, -1.0, 1.5, -1.5, INFINITY, -INFINITY, DBL_MAX, -DBL_MAX,
		       2147483647.5 / 2147483648.0 };
	const size_t n = sizeof(f) / sizeof(f[0]);

	(void)state;
	for (size_t k = 0; k < N_ALL; k++) {
		enum vd_sample_format df = all_formats[k];
		uint8_t out[9 * 8];

		if (!is_int_format(df))
			continue;
		for (int src64 = 0; src64 < 2; src64++) {
			int64_t lim = INT64_C(1) << (int_bits(df) - 1);

			assert_int_equal(vd_convert_samples(df, out, src64 ? VD_FORMAT_F64 : VD_FORMAT_F32,
							    src64 ? (void *)d : (void *)f, n, NULL), 0);
			for (size_t i = 0; i < 8; i++)
				assert_int_equal(get_int(df, out + i * vd_format_sample_size(df)),
						 i % 2 == 0 ? lim - 1 : -lim);
			/*
			 * Just below +1.0 rounds up to 2^(b-1) and clips, except that the
			 * largest float below 1.0 is an exact S32 value (2^31 - 128).
			 */
			assert_int_equal(get_int(df, out + 8 * vd_format_sample_size(df)),
					 !src64 && int_bits(df) == 32 ? 0x7fffff80 : lim - 1);
		}
	}
	/* Through the float fast path too, and into G.711 and narrower floats. */
	{
		uint8_t mu[2], al[2];
		float ff[2];
		double dd[2] = { 1e300, -1e300 };

		vd_convert_from_f32(VD_FORMAT_MULAW, mu, f + 2, 2, NULL);
		vd_convert_from_f32(VD_FORMAT_ALAW, al, f + 2, 2, NULL);
		assert_int_equal(mu[0], 0x80);
		assert_int_equal(mu[1], 0x00);
		assert_int_equal(al[0], 0xaa);
		assert_int_equal(al[1], 0x2a);
		/* Float to float keeps headroom: no clipping, overflow is infinity. */
		vd_convert_to_f32(ff, VD_FORMAT_F64, dd, 2);
		assert_true(isinf(ff[0]) && ff[0] > 0);
		assert_true(isinf(ff[1]) && ff[1] < 0);
		vd_convert_to_f32(ff, VD_FORMAT_F64, d + 2, 2);
		assert_true(ff[0] == 1.5f && ff[1] == -1.5f);
	}
}

static void test_nan(void **state)
{
	float f[3] = { NAN, -NAN, 0.25f };
	double d[3] = { NAN, -NAN, 0.25 };

	(void)state;
	for (size_t k = 0; k < N_ALL; k++) {
		enum vd_sample_format df = all_formats[k];
		uint8_t out[3 * 8], zero[8];
		size_t ds = vd_format_sample_size(df);

		ref_encode(df, zero, 0.0);
		for (int src64 = 0; src64 < 2; src64++) {
			enum vd_sample_format sf = src64 ? VD_FORMAT_F64 : VD_FORMAT_F32;

			if (df == sf)
				continue;
			assert_int_equal(vd_convert_samples(df, out, sf, src64 ? (void *)d : (void *)f, 3, NULL), 0);
			if (memcmp(out, zero, ds) != 0 || memcmp(out + ds, zero, ds) != 0)
				fail_msg("NaN from %s to %s is not 0", vd_format_name(sf), vd_format_name(df));
			assert_memory_not_equal(out + 2 * ds, zero, ds);
		}
	}
}

static void test_g711_decode(void **state)
{
	/* The first entries of the published expansion tables, and the zero codes. */
	static const int16_t ulaw0[] = { -32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956 };
	static const int16_t alaw0[] = { -5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736 };
	int16_t mu[256], al[256];

	(void)state;
	for (int c = 0; c < 256; c++) {
		mu[c] = g711_decode(VD_FORMAT_MULAW, (uint8_t)c);
		al[c] = g711_decode(VD_FORMAT_ALAW, (uint8_t)c);
	}
	assert_memory_equal(mu, ulaw0, sizeof(ulaw0));
	assert_memory_equal(al, alaw0, sizeof(alaw0));
	assert_int_equal(mu[0xff], 0);
	assert_int_equal(mu[0x7f], 0);
	assert_int_equal(mu[0x80], 32124);
	assert_int_equal(mu[0xfe], 8);
	assert_int_equal(al[0xd5], 8);
	assert_int_equal(al[0x55], -8);
	assert_int_equal(al[0xaa], 32256);
	assert_int_equal(al[0x2a], -32256);

	/*
	 * The structure of both laws, rebuilt from the segment description:
	 * mu-law segment e (14-bit units) starts at 33 * 2^e - 33 with step
	 * 2^(e+1); A-law segments 0 and 1 have step 16 (16-bit units), each
	 * further segment doubles it, and levels sit mid-step.
	 */
	for (int c = 0; c < 256; c++) {
		int u = (~c) & 0xff, ue = (u >> 4) & 7, uq = u & 15;
		int32_t mu_mag = 4 * (33 * (1 << ue) - 33 + uq * (2 << ue));
		int a = c ^ 0x55, ae = (a >> 4) & 7, aq = a & 15;
		int32_t step = ae == 0 ? 16 : 16 << (ae - 1);
		int32_t base = ae == 0 ? 0 : 256 << (ae - 1);

		assert_int_equal(abs(mu[c]), mu_mag);
		assert_true(mu[c] == 0 || (mu[c] > 0) == ((u & 0x80) == 0));
		assert_int_equal(abs(al[c]), base + aq * step + step / 2);
		assert_int_equal(al[c] > 0, (a & 0x80) != 0);
	}
}

static void test_g711_encode(void **state)
{
	static const enum vd_sample_format laws[] = { VD_FORMAT_MULAW, VD_FORMAT_ALAW };

	(void)state;
	for (size_t l = 0; l < 2; l++) {
		enum vd_sample_format law = laws[l];
		int16_t levels[256];
		int prev = -40000;
		int16_t *lin = malloc(65536 * 2);
		uint8_t *codes = malloc(65536);
		int16_t *back = malloc(65536 * 2);

		for (int c = 0; c < 256; c++) {
			uint8_t again;

			levels[c] = g711_decode(law, (uint8_t)c);
			again = g711_encode(law, levels[c]);
			/* mu-law has two zeros; -0 (0x7f) encodes as +0 (0xff). */
			if (law == VD_FORMAT_MULAW && c == 0x7f)
				assert_int_equal(again, 0xff);
			else if (again != c)
				fail_msg("%s code %02x -> %d -> %02x", vd_format_name(law), c, levels[c], again);
		}
		for (int i = 0; i < 65536; i++)
			lin[i] = (int16_t)(i - 32768);
		assert_int_equal(vd_convert_samples(law, codes, VD_FORMAT_S16, lin, 65536, NULL), 0);
		assert_int_equal(vd_convert_samples(VD_FORMAT_S16, back, law, codes, 65536, NULL), 0);
		for (int i = 0; i < 65536; i++) {
			int x = lin[i], y = back[i];

			/* Monotonic: the decoded level never goes down as the input goes up. */
			assert_true(y >= prev);
			prev = y;
			/* Nearest: no reconstruction level lies strictly between x and its level. */
			for (int c = 0; c < 256; c++) {
				int v = levels[c];

				if ((v > x && v < y) || (v < x && v > y))
					fail_msg("%s: %d -> %d skips level %d", vd_format_name(law), x, y, v);
			}
		}
		free(lin);
		free(codes);
		free(back);
	}
}

/* G.711 codes survive every linear format of at least 16 bits. */
static void test_g711_round_trip(void **state)
{
	static const enum vd_sample_format wide[] = { VD_FORMAT_S16, VD_FORMAT_S24, VD_FORMAT_S24_3,
						      VD_FORMAT_S32, VD_FORMAT_F32, VD_FORMAT_F64 };
	uint8_t c[256], c2[256], mid[256 * 8], x[256];

	(void)state;
	for (int i = 0; i < 256; i++)
		c[i] = (uint8_t)i;
	for (int law = VD_FORMAT_MULAW; law <= VD_FORMAT_ALAW; law++) {
		for (size_t k = 0; k < sizeof(wide) / sizeof(wide[0]); k++) {
			assert_int_equal(vd_convert_samples(wide[k], mid, law, c, 256, NULL), 0);
			assert_int_equal(vd_convert_samples(law, c2, wide[k], mid, 256, NULL), 0);
			for (int i = 0; i < 256; i++)
				assert_int_equal(c2[i], law == VD_FORMAT_MULAW && i == 0x7f ? 0xff : i);
		}
	}
	/* mu-law to A-law goes through 16-bit linear. */
	assert_int_equal(vd_convert_samples(VD_FORMAT_ALAW, x, VD_FORMAT_MULAW, c, 256, NULL), 0);
	for (int i = 0; i < 256; i++)
		assert_int_equal(x[i], g711_encode(VD_FORMAT_ALAW, g711_decode(VD_FORMAT_MULAW, (uint8_t)i)));
}

/* Dither: reproducible, zero-mean, bounded, linearising, and absent when nothing narrows. */
static void test_dither_statistics(void **state)
{
	const size_t n = 200000;
	float *in = malloc(n * sizeof(float));
	int16_t *a = malloc(n * 2), *b = malloc(n * 2);
	struct vd_dither d1, d2;
	static const double offsets[] = { 0.0, 0.3, -0.5, 0.75 };

	(void)state;
	for (size_t k = 0; k < sizeof(offsets) / sizeof(offsets[0]); k++) {
		double x = offsets[k], sum = 0, sq = 0, maxe = 0;
		size_t moved = 0;
		long plain = lrint(1000.0 + x);

		for (size_t i = 0; i < n; i++)
			in[i] = (float)((1000.0 + x) / 32768.0);
		vd_dither_init(&d1, 42);
		vd_convert_from_f32(VD_FORMAT_S16, a, in, n, &d1);
		for (size_t i = 0; i < n; i++) {
			double e = a[i] - (1000.0 + x);

			sum += e;
			sq += e * e;
			maxe = fmax(maxe, fabs(e));
			moved += a[i] != plain;
		}
		/* TPDF makes the mean of the output equal the input (no bias)... */
		assert_true(fabs(sum / n) < 0.01);
		/* ...and the total error power 1/6 (dither) + 1/12 (rounding) = 1/4 LSB^2. */
		assert_true(fabs(sq / n - 0.25) < 0.01);
		assert_true(maxe < 1.5);
		/* The dither really acts: a good share of samples leave the undithered value. */
		assert_true(moved > n / 5);
	}

	/* Same seed, same output; different seed, different output. */
	for (size_t i = 0; i < n; i++)
		in[i] = (float)sin(i * 0.01) * 0.5f;
	vd_dither_init(&d1, 7);
	vd_dither_init(&d2, 7);
	vd_convert_from_f32(VD_FORMAT_S16, a, in, n, &d1);
	vd_convert_from_f32(VD_FORMAT_S16, b, in, n, &d2);
	assert_memory_equal(a, b, n * 2);
	assert_true(d1.state == d2.state);
	vd_dither_init(&d2, 8);
	vd_convert_from_f32(VD_FORMAT_S16, b, in, n, &d2);
	assert_memory_not_equal(a, b, n * 2);

	/* A stream dithered in pieces equals the same stream in one call. */
	vd_dither_init(&d2, 7);
	for (size_t off = 0, step = 1; off < n; off += step, step = step * 3 % 1000 + 1) {
		size_t m = n - off < step ? n - off : step;

		vd_convert_from_f32(VD_FORMAT_S16, b + off, in + off, m, &d2);
	}
	assert_memory_equal(a, b, n * 2);

	free(in);
	free(a);
	free(b);
}

static void test_dither_generic_paths(void **state)
{
	const size_t n = 100000;
	int32_t *s32 = malloc(n * 4);
	double *f64 = malloc(n * 8);
	int16_t *o = malloc(n * 2), *o2 = malloc(n * 2);
	uint8_t *u = malloc(n);
	struct vd_dither d;
	double sum = 0;

	(void)state;
	/* S32 -> S16 with 0.25 LSB offset: dithered mean follows the input. */
	for (size_t i = 0; i < n; i++)
		s32[i] = -200 * 65536 + 0x4000;
	vd_dither_init(&d, 1);
	assert_int_equal(vd_convert_samples(VD_FORMAT_S16, o, VD_FORMAT_S32, s32, n, &d), 0);
	for (size_t i = 0; i < n; i++) {
		assert_true(fabs(o[i] - (-199.75)) < 1.5);
		sum += o[i];
	}
	assert_true(fabs(sum / n + 199.75) < 0.01);

	/* F64 -> U8: bounded, and the F32 route with the same seed gives the same result. */
	for (size_t i = 0; i < n; i++)
		f64[i] = sin(i * 0.001) * 0.7;
	vd_dither_init(&d, 5);
	assert_int_equal(vd_convert_samples(VD_FORMAT_U8, u, VD_FORMAT_F64, f64, n, &d), 0);
	for (size_t i = 0; i < n; i++)
		assert_true(fabs((u[i] - 128) - f64[i] * 128) < 1.5);
	{
		float *f32 = malloc(n * sizeof(float));
		uint8_t *u2 = malloc(n);

		for (size_t i = 0; i < n; i++)
			f32[i] = (float)f64[i];
		for (size_t i = 0; i < n; i++)
			f64[i] = f32[i];
		vd_dither_init(&d, 5);
		assert_int_equal(vd_convert_samples(VD_FORMAT_U8, u, VD_FORMAT_F64, f64, n, &d), 0);
		vd_dither_init(&d, 5);
		vd_convert_from_f32(VD_FORMAT_U8, u2, f32, n, &d);
		assert_memory_equal(u, u2, n);
		free(f32);
		free(u2);
	}

	/* Into G.711 the dither is applied on the 16-bit grid: exactly dithered S16, then encoded. */
	for (size_t i = 0; i < n; i++)
		f64[i] = sin(i * 0.0003) * 0.01;
	vd_dither_init(&d, 3);
	assert_int_equal(vd_convert_samples(VD_FORMAT_MULAW, u, VD_FORMAT_F64, f64, n, &d), 0);
	vd_dither_init(&d, 3);
	assert_int_equal(vd_convert_samples(VD_FORMAT_S16, o2, VD_FORMAT_F64, f64, n, &d), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(u[i], g711_encode(VD_FORMAT_MULAW, o2[i]));
	vd_dither_init(&d, 3);
	assert_int_equal(vd_convert_samples(VD_FORMAT_S16, o, VD_FORMAT_F64, f64, n, NULL), 0);
	assert_memory_not_equal(o, o2, n * 2);

	free(s32);
	free(f64);
	free(o);
	free(o2);
	free(u);
}

/*
 * The documented dither, rebuilt from docs/formats.md: sample k uses the
 * 32-bit hash of (counter + k) and key, d = (lo16 - hi16) / 65536 LSB,
 * added in double before round-half-even and clipping.
 */
static double model_dither(uint32_t ctr, uint32_t key)
{
	uint32_t x = (ctr ^ key) * 0x9e3779b1u;

	x = (x ^ (x >> 16)) * 0x85ebca6bu;
	x = (x ^ (x >> 13)) * 0xc2b2ae35u;
	x ^= x >> 16;
	return ((double)(x & 0xffff) - (double)(x >> 16)) / 65536.0;
}

static void test_dither_formula(void **state)
{
	const size_t n = 20000;
	float *f = malloc(n * sizeof(float));
	double *d = malloc(n * sizeof(double));
	int16_t *o = malloc(n * 2);
	int32_t *o32 = malloc(n * 4);
	struct vd_dither dith;

	(void)state;
	make_input(VD_FORMAT_F32, (uint8_t *)f, n, 31);
	for (size_t i = 0; i < n; i++)
		d[i] = f[i] * 0.999 + 1e-12 * (double)i;
	for (int src64 = 0; src64 < 2; src64++) {
		uint32_t ctr, key;

		vd_dither_init(&dith, 2024);
		ctr = (uint32_t)dith.state;
		key = (uint32_t)(dith.state >> 32);
		if (src64)
			assert_int_equal(vd_convert_samples(VD_FORMAT_S16, o, VD_FORMAT_F64, d, n, &dith), 0);
		else
			vd_convert_from_f32(VD_FORMAT_S16, o, f, n, &dith);
		for (size_t i = 0; i < n; i++) {
			double v = src64 ? d[i] : f[i];
			double x = (isnan(v) ? 0.0 : v * 32768.0) + model_dither(ctr + (uint32_t)i, key);

			x = fmin(fmax(x, -32768.0), 32767.0);
			if (o[i] != (int16_t)nearbyint(x))
				fail_msg("%s sample %zu: %d, model %g", src64 ? "f64" : "f32", i, o[i], x);
		}
		assert_true((uint32_t)dith.state == ctr + (uint32_t)n);
		assert_true((uint32_t)(dith.state >> 32) == key);
	}
	/* F64 -> S32 is dithered on the 32-bit grid. */
	vd_dither_init(&dith, 9);
	{
		uint32_t ctr = (uint32_t)dith.state, key = (uint32_t)(dith.state >> 32);

		assert_int_equal(vd_convert_samples(VD_FORMAT_S32, o32, VD_FORMAT_F64, d, n, &dith), 0);
		for (size_t i = 0; i < n; i++) {
			double x = isnan(d[i]) ? 0.0 : d[i] * 2147483648.0;

			x = fmin(fmax(x + model_dither(ctr + (uint32_t)i, key), -2147483648.0), 2147483647.0);
			assert_true(o32[i] == (int32_t)nearbyint(x));
		}
	}
	free(f);
	free(d);
	free(o);
	free(o32);
}

/* When the destination grid is as fine as the source, a dither state changes nothing. */
static void test_no_dither_when_widening(void **state)
{
	static const struct { enum vd_sample_format src, dst; } pairs[] = {
		{ VD_FORMAT_S16, VD_FORMAT_S24 }, { VD_FORMAT_S16, VD_FORMAT_S32 },
		{ VD_FORMAT_S16, VD_FORMAT_F32 }, { VD_FORMAT_S16, VD_FORMAT_F64 },
		{ VD_FORMAT_F32, VD_FORMAT_S24 }, { VD_FORMAT_F32, VD_FORMAT_S24_3 },
		{ VD_FORMAT_F32, VD_FORMAT_S32 }, { VD_FORMAT_F32, VD_FORMAT_F64 },
		{ VD_FORMAT_F64, VD_FORMAT_F32 }, { VD_FORMAT_S24, VD_FORMAT_S32 },
		{ VD_FORMAT_U8, VD_FORMAT_S16 }, { VD_FORMAT_MULAW, VD_FORMAT_S16 },
		{ VD_FORMAT_S16, VD_FORMAT_MULAW }, { VD_FORMAT_MULAW, VD_FORMAT_ALAW },
		{ VD_FORMAT_S24_3, VD_FORMAT_S24 },
	};
	const size_t n = 4096;
	uint8_t *src = malloc(n * 8), *a = malloc(n * 8), *b = malloc(n * 8);

	(void)state;
	for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
		struct vd_dither d;
		uint64_t before;

		make_input(pairs[k].src, src, n, 77 + k);
		vd_dither_init(&d, 123);
		before = d.state;
		assert_int_equal(vd_convert_samples(pairs[k].dst, a, pairs[k].src, src, n, NULL), 0);
		assert_int_equal(vd_convert_samples(pairs[k].dst, b, pairs[k].src, src, n, &d), 0);
		if (memcmp(a, b, n * vd_format_sample_size(pairs[k].dst)) != 0)
			fail_msg("%s -> %s was dithered", vd_format_name(pairs[k].src), vd_format_name(pairs[k].dst));
		assert_true(d.state == before);
	}
	free(src);
	free(a);
	free(b);
}

/* Every SIMD kernel against the C reference, bit for bit, at every tail length and alignment. */
static void test_kernels_match_c(void **state)
{
	const struct vd_convert_kernels *c = vd_convert_kernels_get(VD_CONVERT_ISA_C);
	const size_t n = 4099;
	uint8_t *src = malloc(n * 8 + 16), *out_c = malloc(n * 8 + 16), *out_s = malloc(n * 8 + 16);
	float *f = calloc(n + 16, sizeof(float)), *fo_c = malloc((n + 16) * sizeof(float)),
	      *fo_s = malloc((n + 16) * sizeof(float));
	static const struct { size_t off; enum vd_sample_format fmt; } to[] = {
		{ offsetof(struct vd_convert_kernels, u8_to_f32), VD_FORMAT_U8 },
		{ offsetof(struct vd_convert_kernels, s16_to_f32), VD_FORMAT_S16 },
		{ offsetof(struct vd_convert_kernels, s24_to_f32), VD_FORMAT_S24 },
		{ offsetof(struct vd_convert_kernels, s24_3_to_f32), VD_FORMAT_S24_3 },
		{ offsetof(struct vd_convert_kernels, s32_to_f32), VD_FORMAT_S32 },
		{ offsetof(struct vd_convert_kernels, f64_to_f32), VD_FORMAT_F64 },
	};
	static const struct { size_t off; enum vd_sample_format fmt; bool dither; } from[] = {
		{ offsetof(struct vd_convert_kernels, f32_to_u8), VD_FORMAT_U8, false },
		{ offsetof(struct vd_convert_kernels, f32_to_s16), VD_FORMAT_S16, false },
		{ offsetof(struct vd_convert_kernels, f32_to_s24), VD_FORMAT_S24, false },
		{ offsetof(struct vd_convert_kernels, f32_to_s24_3), VD_FORMAT_S24_3, false },
		{ offsetof(struct vd_convert_kernels, f32_to_s32), VD_FORMAT_S32, false },
		{ offsetof(struct vd_convert_kernels, f32_to_f64), VD_FORMAT_F64, false },
		{ offsetof(struct vd_convert_kernels, f32_to_u8_dither), VD_FORMAT_U8, true },
		{ offsetof(struct vd_convert_kernels, f32_to_s16_dither), VD_FORMAT_S16, true },
	};
	static const size_t lens[] = { 0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 100, 4099 };
	int tested = 0;

	(void)state;
	for (int isa = VD_CONVERT_ISA_C + 1; isa < VD_CONVERT_ISA_COUNT; isa++) {
		const struct vd_convert_kernels *k = vd_convert_kernels_get((enum vd_convert_isa)isa);

		if (!k)
			continue;
		for (size_t t = 0; t < sizeof(to) / sizeof(to[0]); t++) {
			vd_to_f32_fn fc, fs;

			memcpy(&fc, (const char *)c + to[t].off, sizeof(fc));
			memcpy(&fs, (const char *)k + to[t].off, sizeof(fs));
			if (!fs)
				continue;
			tested++;
			for (size_t align = 0; align < 4; align++) {
				size_t ss = vd_format_sample_size(to[t].fmt);

				make_input(to[t].fmt, src + align, n, 1000 + t);
				/* Raw random bytes too: S24 containers with junk top bytes, NaN payloads. */
				if (align == 3)
					for (size_t i = 0; i < n * ss; i++)
						src[align + i] = (uint8_t)(i * 2654435761u >> 13);
				for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
					memset(fo_c, 0x5a, (n + 16) * sizeof(float));
					memset(fo_s, 0x5a, (n + 16) * sizeof(float));
					fc(fo_c, src + align, lens[l]);
					fs(fo_s, src + align, lens[l]);
					if (memcmp(fo_c, fo_s, (n + 16) * sizeof(float)) != 0)
						fail_msg("%s %s_to_f32 differs from C (n=%zu align=%zu)", k->name,
							 vd_format_name(to[t].fmt), lens[l], align);
				}
			}
		}
		for (size_t t = 0; t < sizeof(from) / sizeof(from[0]); t++) {
			void *fc, *fs;

			memcpy(&fc, (const char *)c + from[t].off, sizeof(fc));
			memcpy(&fs, (const char *)k + from[t].off, sizeof(fs));
			if (!fs)
				continue;
			tested++;
			make_input(VD_FORMAT_F32, (uint8_t *)f, n, 2000 + t);
			for (size_t align = 0; align < 3; align++) {
				for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
					memset(out_c, 0x5a, n * 8 + 16);
					memset(out_s, 0x5a, n * 8 + 16);
					if (from[t].dither) {
						/* Counters near the 2^32 wrap as well as small ones. */
						uint32_t ctr = align == 2 ? 0xfffffff0u : (uint32_t)(l * 977);

						((vd_from_f32_dither_fn)fc)(out_c + align, f + align, lens[l], ctr, 0xdeadbeef);
						((vd_from_f32_dither_fn)fs)(out_s + align, f + align, lens[l], ctr, 0xdeadbeef);
					} else {
						((vd_from_f32_fn)fc)(out_c + align, f + align, lens[l]);
						((vd_from_f32_fn)fs)(out_s + align, f + align, lens[l]);
					}
					if (memcmp(out_c, out_s, n * 8 + 16) != 0)
						fail_msg("%s f32_to_%s%s differs from C (n=%zu align=%zu)", k->name,
							 vd_format_name(from[t].fmt), from[t].dither ? "_dither" : "",
							 lens[l], align);
				}
			}
		}
	}
#ifdef VD_CONVERT_HAVE_X86
	/* x86-64 always has SSE2, so at least that table was compared. */
	assert_true(tested >= 10);
#endif
	free(src);
	free(out_c);
	free(out_s);
	free(f);
	free(fo_c);
	free(fo_s);
}

/* Every float value class through the C kernels vs the model: a sweep of bit patterns. */
static void test_f32_bit_patterns(void **state)
{
	const size_t n = 1 << 16;
	uint32_t *bits = malloc(n * 4);
	uint8_t *out = malloc(n * 8), exp[8];
	static const enum vd_sample_format dsts[] = { VD_FORMAT_U8, VD_FORMAT_S16, VD_FORMAT_S24,
						      VD_FORMAT_S24_3, VD_FORMAT_S32, VD_FORMAT_F64 };

	(void)state;
	/* Exponent x mantissa-top patterns: covers zero, subnormal, normal, inf and NaN, both signs. */
	for (size_t i = 0; i < n; i++)
		bits[i] = (uint32_t)i << 16 | (uint32_t)((i * 40503u) & 0xffff);
	for (size_t k = 0; k < sizeof(dsts) / sizeof(dsts[0]); k++) {
		size_t ds = vd_format_sample_size(dsts[k]);

		vd_convert_from_f32(dsts[k], out, (const float *)bits, n, NULL);
		for (size_t i = 0; i < n; i++) {
			ref_encode(dsts[k], exp, ref_value(VD_FORMAT_F32, (const uint8_t *)&bits[i]));
			if (memcmp(out + i * ds, exp, ds) != 0)
				fail_msg("f32 0x%08x -> %s wrong", bits[i], vd_format_name(dsts[k]));
		}
	}
	free(bits);
	free(out);
}

static void test_in_place(void **state)
{
	static const struct { enum vd_sample_format src, dst; } pairs[] = {
		{ VD_FORMAT_F64, VD_FORMAT_S16 }, { VD_FORMAT_F64, VD_FORMAT_F32 },
		{ VD_FORMAT_F32, VD_FORMAT_S16 }, { VD_FORMAT_F32, VD_FORMAT_S24_3 },
		{ VD_FORMAT_S32, VD_FORMAT_S24_3 }, { VD_FORMAT_S32, VD_FORMAT_F32 },
		{ VD_FORMAT_F32, VD_FORMAT_MULAW }, { VD_FORMAT_S24, VD_FORMAT_S16 },
		{ VD_FORMAT_F32, VD_FORMAT_S32 }, { VD_FORMAT_S16, VD_FORMAT_ALAW },
	};
	const size_t n = 1001;
	uint8_t *src = malloc(n * 8), *buf = malloc(n * 8), *want = malloc(n * 8);

	(void)state;
	for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
		size_t ss = vd_format_sample_size(pairs[k].src), ds = vd_format_sample_size(pairs[k].dst);

		make_input(pairs[k].src, src, n, 5 + k);
		memcpy(buf, src, n * ss);
		assert_int_equal(vd_convert_samples(pairs[k].dst, want, pairs[k].src, src, n, NULL), 0);
		assert_int_equal(vd_convert_samples(pairs[k].dst, buf, pairs[k].src, buf, n, NULL), 0);
		if (memcmp(buf, want, n * ds) != 0)
			fail_msg("in-place %s -> %s differs", vd_format_name(pairs[k].src),
				 vd_format_name(pairs[k].dst));
	}
	free(src);
	free(buf);
	free(want);
}

static void test_invalid(void **state)
{
	int16_t s = 1;
	float f = 0.5f;

	(void)state;
	assert_int_equal(vd_convert_samples(VD_FORMAT_UNKNOWN, &s, VD_FORMAT_S16, &s, 1, NULL), -EINVAL);
	assert_int_equal(vd_convert_samples(VD_FORMAT_S16, &s, VD_FORMAT_COUNT, &s, 1, NULL), -EINVAL);
	assert_int_equal(vd_convert_samples((enum vd_sample_format)-1, &s, VD_FORMAT_S16, &s, 1, NULL), -EINVAL);
	assert_int_equal(vd_convert_samples(VD_FORMAT_S16, NULL, VD_FORMAT_F32, &f, 1, NULL), -EINVAL);
	assert_int_equal(vd_convert_samples(VD_FORMAT_S16, NULL, VD_FORMAT_F32, NULL, 0, NULL), 0);
	/* An unknown source reads as silence through the void fast path. */
	vd_convert_to_f32(&f, VD_FORMAT_UNKNOWN, &s, 1);
	assert_true(f == 0.0f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_values),
		cmocka_unit_test(test_every_pair),
		cmocka_unit_test(test_s16_round_trip),
		cmocka_unit_test(test_s24_round_trip),
		cmocka_unit_test(test_s32_u8_round_trip),
		cmocka_unit_test(test_rounding_ties),
		cmocka_unit_test(test_clipping),
		cmocka_unit_test(test_nan),
		cmocka_unit_test(test_g711_decode),
		cmocka_unit_test(test_g711_encode),
		cmocka_unit_test(test_g711_round_trip),
		cmocka_unit_test(test_dither_statistics),
		cmocka_unit_test(test_dither_generic_paths),
		cmocka_unit_test(test_dither_formula),
		cmocka_unit_test(test_no_dither_when_widening),
		cmocka_unit_test(test_kernels_match_c),
		cmocka_unit_test(test_f32_bit_patterns),
		cmocka_unit_test(test_in_place),
		cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
