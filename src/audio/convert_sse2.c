/* audio/convert_sse2.c - SSE2 kernels for float <-> PCM conversion (the x86-64 baseline). */
#include <string.h>

#include "audio/convert_kernels.h"

#ifdef VD_CONVERT_HAVE_X86
#include <emmintrin.h>

/*
 * Every kernel does exactly what its C reference does, four samples at a
 * time: the same scale (a power of two, so exact), NaN zeroed by a
 * self-compare mask, the same clip bounds and the same round-to-nearest-even
 * conversion (cvtps2dq/cvtpd2dq under the default MXCSR, like lrint). Tails
 * go to the C kernels, which are bit-identical by construction.
 */

static void sse2_u8_to_f32(float *dst, const void *src, size_t n)
{
	const uint8_t *s = src;
	const __m128i bias = _mm_set1_epi8((char)0x80);
	const __m128 k = _mm_set1_ps(1.0f / 128.0f);
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		/* u ^ 0x80 is u - 128 as a signed byte; widen by sign-extending shifts. */
		__m128i v = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(s + i)), bias);
		__m128i lo16 = _mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8);
		__m128i hi16 = _mm_srai_epi16(_mm_unpackhi_epi8(v, v), 8);

		_mm_storeu_ps(dst + i, _mm_mul_ps(_mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpacklo_epi16(lo16, lo16), 16)), k));
		_mm_storeu_ps(dst + i + 4, _mm_mul_ps(_mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpackhi_epi16(lo16, lo16), 16)), k));
		_mm_storeu_ps(dst + i + 8, _mm_mul_ps(_mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpacklo_epi16(hi16, hi16), 16)), k));
		_mm_storeu_ps(dst + i + 12, _mm_mul_ps(_mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpackhi_epi16(hi16, hi16), 16)), k));
	}
	vd_convert_kernels_c.u8_to_f32(dst + i, s + i, n - i);
}

static void sse2_s16_to_f32(float *dst, const void *src, size_t n)
{
	const uint8_t *s = src;
	const __m128 k = _mm_set1_ps(1.0f / 32768.0f);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m128i v = _mm_loadu_si128((const __m128i *)(s + 2 * i));
		__m128i lo = _mm_srai_epi32(_mm_unpacklo_epi16(v, v), 16);
		__m128i hi = _mm_srai_epi32(_mm_unpackhi_epi16(v, v), 16);

		_mm_storeu_ps(dst + i, _mm_mul_ps(_mm_cvtepi32_ps(lo), k));
		_mm_storeu_ps(dst + i + 4, _mm_mul_ps(_mm_cvtepi32_ps(hi), k));
	}
	vd_convert_kernels_c.s16_to_f32(dst + i, s + 2 * i, n - i);
}

static void sse2_s24_to_f32(float *dst, const void *src, size_t n)
{
	const uint8_t *s = src;
	const __m128 k = _mm_set1_ps(1.0f / 8388608.0f);
	size_t i = 0;

	for (; i + 4 <= n; i += 4) {
		__m128i v = _mm_loadu_si128((const __m128i *)(s + 4 * i));

		v = _mm_srai_epi32(_mm_slli_epi32(v, 8), 8);
		_mm_storeu_ps(dst + i, _mm_mul_ps(_mm_cvtepi32_ps(v), k));
	}
	vd_convert_kernels_c.s24_to_f32(dst + i, s + 4 * i, n - i);
}

static void sse2_s32_to_f32(float *dst, const void *src, size_t n)
{
	const uint8_t *s = src;
	const __m128 k = _mm_set1_ps(1.0f / 2147483648.0f);
	size_t i = 0;

	for (; i + 4 <= n; i += 4) {
		__m128i v = _mm_loadu_si128((const __m128i *)(s + 4 * i));

		_mm_storeu_ps(dst + i, _mm_mul_ps(_mm_cvtepi32_ps(v), k));
	}
	vd_convert_kernels_c.s32_to_f32(dst + i, s + 4 * i, n - i);
}

static void sse2_f64_to_f32(float *dst, const void *src, size_t n)
{
	const uint8_t *s = src;
	size_t i = 0;

	for (; i + 4 <= n; i += 4) {
		__m128 lo = _mm_cvtpd_ps(_mm_loadu_pd((const double *)(s + 8 * i)));
		__m128 hi = _mm_cvtpd_ps(_mm_loadu_pd((const double *)(s + 8 * i + 16)));
		__m128 v = _mm_movelh_ps(lo, hi);

		_mm_storeu_ps(dst + i, _mm_and_ps(v, _mm_cmpord_ps(v, v)));
	}
	vd_convert_kernels_c.f64_to_f32(dst + i, s + 8 * i, n - i);
}

/* Scale, zero NaN, clip to [lo, hi] and round: the C quant_small(). */
static inline __m128i quant4(__m128 v, __m128 scale, __m128 lo, __m128 hi)
{
	__m128 x = _mm_mul_ps(v, scale);

	x = _mm_and_ps(x, _mm_cmpord_ps(x, x));
	x = _mm_min_ps(_mm_max_ps(x, lo), hi);
	return _mm_cvtps_epi32(x);
}

static void sse2_f32_to_u8(void *dst, const float *src, size_t n)
{
	uint8_t *d = dst;
	const __m128 scale = _mm_set1_ps(128.0f), lo = _mm_set1_ps(-128.0f), hi = _mm_set1_ps(127.0f);
	const __m128i bias = _mm_set1_epi16(128);
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		__m128i a = _mm_packs_epi32(quant4(_mm_loadu_ps(src + i), scale, lo, hi),
					    quant4(_mm_loadu_ps(src + i + 4), scale, lo, hi));
		__m128i b = _mm_packs_epi32(quant4(_mm_loadu_ps(src + i + 8), scale, lo, hi),
					    quant4(_mm_loadu_ps(src + i + 12), scale, lo, hi));

		a = _mm_add_epi16(a, bias);
		b = _mm_add_epi16(b, bias);
		_mm_storeu_si128((__m128i *)(d + i), _mm_packus_epi16(a, b));
	}
	vd_convert_kernels_c.f32_to_u8(d + i, src + i, n - i);
}

static void sse2_f32_to_s16(void *dst, const float *src, size_t n)
{
	uint8_t *d = dst;
	const __m128 scale = _mm_set1_ps(32768.0f), lo = _mm_set1_ps(-32768.0f), hi = _mm_set1_ps(32767.0f);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m128i a = quant4(_mm_loadu_ps(src + i), scale, lo, hi);
		__m128i b = quant4(_mm_loadu_ps(src + i + 4), scale, lo, hi);

		_mm_storeu_si128((__m128i *)(d + 2 * i), _mm_packs_epi32(a, b));
	}
	vd_convert_kernels_c.f32_to_s16(d + 2 * i, src + i, n - i);
}

static void sse2_f32_to_s24(void *dst, const float *src, size_t n)
{
	uint8_t *d = dst;
	const __m128 scale = _mm_set1_ps(8388608.0f), lo = _mm_set1_ps(-8388608.0f),
		     hi = _mm_set1_ps(8388607.0f);
	size_t i = 0;

	for (; i + 4 <= n; i += 4)
		_mm_storeu_si128((__m128i *)(d + 4 * i), quant4(_mm_loadu_ps(src + i), scale, lo, hi));
	vd_convert_kernels_c.f32_to_s24(d + 4 * i, src + i, n - i);
}

static void sse2_f32_to_s32(void *dst, const float *src, size_t n)
{
	uint8_t *d = dst;
	const __m128 scale = _mm_set1_ps(2147483648.0f);
	size_t i = 0;

	for (; i + 4 <= n; i += 4) {
		__m128 x = _mm_mul_ps(_mm_loadu_ps(src + i), scale);
		/* Out of range and NaN convert to 0x80000000: right for the negative side only. */
		__m128i r = _mm_cvtps_epi32(x);
		__m128i over = _mm_castps_si128(_mm_cmpge_ps(x, scale));
		__m128i nan = _mm_castps_si128(_mm_cmpunord_ps(x, x));

		r = _mm_xor_si128(r, over);
		r = _mm_andnot_si128(nan, r);
		_mm_storeu_si128((__m128i *)(d + 4 * i), r);
	}
	vd_convert_kernels_c.f32_to_s32(d + 4 * i, src + i, n - i);
}

static void sse2_f32_to_f64(void *dst, const float *src, size_t n)
{
	uint8_t *d = dst;
	size_t i = 0;

	for (; i + 4 <= n; i += 4) {
		__m128 v = _mm_loadu_ps(src + i);

		v = _mm_and_ps(v, _mm_cmpord_ps(v, v));
		_mm_storeu_pd((double *)(d + 8 * i), _mm_cvtps_pd(v));
		_mm_storeu_pd((double *)(d + 8 * i + 16), _mm_cvtps_pd(_mm_movehl_ps(v, v)));
	}
	vd_convert_kernels_c.f32_to_f64(d + 8 * i, src + i, n - i);
}

/* SSE2 has no 32-bit low multiply; build it from two 32x32->64 products. */
static inline __m128i mullo32(__m128i a, __m128i b)
{
	__m128i even = _mm_mul_epu32(a, b);
	__m128i odd = _mm_mul_epu32(_mm_srli_epi64(a, 32), _mm_srli_epi64(b, 32));

	return _mm_unpacklo_epi32(_mm_shuffle_epi32(even, _MM_SHUFFLE(0, 0, 2, 0)),
				  _mm_shuffle_epi32(odd, _MM_SHUFFLE(0, 0, 2, 0)));
}

/* vd_dither_lsb() for four consecutive counters, as int32 multiples of 2^-16 LSB. */
static inline __m128i dither4(uint32_t ctr, uint32_t key)
{
	__m128i x = _mm_add_epi32(_mm_set1_epi32((int32_t)ctr), _mm_setr_epi32(0, 1, 2, 3));

	x = _mm_xor_si128(x, _mm_set1_epi32((int32_t)key));
	x = mullo32(x, _mm_set1_epi32((int32_t)VD_DITHER_MUL1));
	x = _mm_xor_si128(x, _mm_srli_epi32(x, 16));
	x = mullo32(x, _mm_set1_epi32((int32_t)VD_DITHER_MUL2));
	x = _mm_xor_si128(x, _mm_srli_epi32(x, 13));
	x = mullo32(x, _mm_set1_epi32((int32_t)VD_DITHER_MUL3));
	x = _mm_xor_si128(x, _mm_srli_epi32(x, 16));
	return _mm_sub_epi32(_mm_and_si128(x, _mm_set1_epi32(0xffff)), _mm_srli_epi32(x, 16));
}

/* The C quant_dither() for four samples, in double like the reference. */
static inline __m128i quant_dither4(__m128 v, __m128d scale, __m128d lo, __m128d hi,
				    uint32_t ctr, uint32_t key)
{
	const __m128d unit = _mm_set1_pd(1.0 / 65536.0);
	__m128i dq = dither4(ctr, key);
	__m128d d0 = _mm_mul_pd(_mm_cvtepi32_pd(dq), unit);
	__m128d d1 = _mm_mul_pd(_mm_cvtepi32_pd(_mm_shuffle_epi32(dq, _MM_SHUFFLE(1, 0, 3, 2))), unit);
	__m128d x0, x1;

	v = _mm_and_ps(v, _mm_cmpord_ps(v, v));
	x0 = _mm_add_pd(_mm_mul_pd(_mm_cvtps_pd(v), scale), d0);
	x1 = _mm_add_pd(_mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps(v, v)), scale), d1);
	x0 = _mm_min_pd(_mm_max_pd(x0, lo), hi);
	x1 = _mm_min_pd(_mm_max_pd(x1, lo), hi);
	return _mm_unpacklo_epi64(_mm_cvtpd_epi32(x0), _mm_cvtpd_epi32(x1));
}

static void sse2_f32_to_s16_dither(void *dst, const float *src, size_t n, uint32_t ctr, uint32_t key)
{
	uint8_t *d = dst;
	const __m128d scale = _mm_set1_pd(32768.0), lo = _mm_set1_pd(-32768.0), hi = _mm_set1_pd(32767.0);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m128i a = quant_dither4(_mm_loadu_ps(src + i), scale, lo, hi, ctr + (uint32_t)i, key);
		__m128i b = quant_dither4(_mm_loadu_ps(src + i + 4), scale, lo, hi, ctr + (uint32_t)i + 4, key);

		_mm_storeu_si128((__m128i *)(d + 2 * i), _mm_packs_epi32(a, b));
	}
	vd_convert_kernels_c.f32_to_s16_dither(d + 2 * i, src + i, n - i, ctr + (uint32_t)i, key);
}

static void sse2_f32_to_u8_dither(void *dst, const float *src, size_t n, uint32_t ctr, uint32_t key)
{
	uint8_t *d = dst;
	const __m128d scale = _mm_set1_pd(128.0), lo = _mm_set1_pd(-128.0), hi = _mm_set1_pd(127.0);
	const __m128i bias = _mm_set1_epi16(128);
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		uint32_t c = ctr + (uint32_t)i;
		__m128i a = _mm_packs_epi32(quant_dither4(_mm_loadu_ps(src + i), scale, lo, hi, c, key),
					    quant_dither4(_mm_loadu_ps(src + i + 4), scale, lo, hi, c + 4, key));
		__m128i b = _mm_packs_epi32(quant_dither4(_mm_loadu_ps(src + i + 8), scale, lo, hi, c + 8, key),
					    quant_dither4(_mm_loadu_ps(src + i + 12), scale, lo, hi, c + 12, key));

		_mm_storeu_si128((__m128i *)(d + i),
				 _mm_packus_epi16(_mm_add_epi16(a, bias), _mm_add_epi16(b, bias)));
	}
	vd_convert_kernels_c.f32_to_u8_dither(d + i, src + i, n - i, ctr + (uint32_t)i, key);
}

const struct vd_convert_kernels vd_convert_kernels_sse2 = {
	.name = "sse2",
	.u8_to_f32 = sse2_u8_to_f32,
	.s16_to_f32 = sse2_s16_to_f32,
	.s24_to_f32 = sse2_s24_to_f32,
	.s32_to_f32 = sse2_s32_to_f32,
	.f64_to_f32 = sse2_f64_to_f32,
	.f32_to_u8 = sse2_f32_to_u8,
	.f32_to_s16 = sse2_f32_to_s16,
	.f32_to_s24 = sse2_f32_to_s24,
	.f32_to_s32 = sse2_f32_to_s32,
	.f32_to_f64 = sse2_f32_to_f64,
	.f32_to_u8_dither = sse2_f32_to_u8_dither,
	.f32_to_s16_dither = sse2_f32_to_s16_dither,
};
#endif
