/* audio/convert_avx2.c - AVX2 kernels for float <-> PCM conversion, chosen at run time. */
#include <string.h>

#include "audio/convert_kernels.h"

#ifdef VD_CONVERT_HAVE_X86
#include <immintrin.h>

/*
 * Compiled for AVX2 function by function (not the whole file) so the
 * library still runs on older CPUs; the dispatcher calls these only when
 * the CPU reports AVX2. The operations mirror the C reference exactly (see
 * convert_sse2.c); tails go to the C kernels.
 */
#define AVX2 __attribute__((target("avx2")))

AVX2 static void avx2_u8_to_f32(float *dst, const void *src, size_t n)
{
	const uint8_t *s = src;
	const __m256i bias = _mm256_set1_epi32(128);
	const __m256 k = _mm256_set1_ps(1.0f / 128.0f);
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		__m256i a = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(s + i)));
		__m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(s + i + 8)));

		_mm256_storeu_ps(dst + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(a, bias)), k));
		_mm256_storeu_ps(dst + i + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(b, bias)), k));
	}
	vd_convert_kernels_c.u8_to_f32(dst + i, s + i, n - i);
}

AVX2 static void avx2_s16_to_f32(float *dst, const void *src, size_t n)
{
	const uint8_t *s = src;
	const __m256 k = _mm256_set1_ps(1.0f / 32768.0f);
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		__m256i a = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(s + 2 * i)));
		__m256i b = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(s + 2 * i + 16)));

		_mm256_storeu_ps(dst + i, _mm256_mul_ps(_mm256_cvtepi32_ps(a), k));
		_mm256_storeu_ps(dst + i + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(b), k));
	}
	vd_convert_kernels_c.s16_to_f32(dst + i, s + 2 * i, n - i);
}

AVX2 static void avx2_s24_to_f32(float *dst, const void *src, size_t n)
{
	const uint8_t *s = src;
	const __m256 k = _mm256_set1_ps(1.0f / 8388608.0f);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(s + 4 * i));

		v = _mm256_srai_epi32(_mm256_slli_epi32(v, 8), 8);
		_mm256_storeu_ps(dst + i, _mm256_mul_ps(_mm256_cvtepi32_ps(v), k));
	}
	vd_convert_kernels_c.s24_to_f32(dst + i, s + 4 * i, n - i);
}

AVX2 static void avx2_s24_3_to_f32(float *dst, const void *src, size_t n)
{
	const uint8_t *s = src;
	const __m256 k = _mm256_set1_ps(1.0f / 8388608.0f);
	/* Each 32-bit lane takes its three bytes into bits 8..31; the arithmetic shift sign-extends. */
	const __m256i shuf = _mm256_setr_epi8(-1, 0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11,
					      -1, 0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11);
	size_t i = 0;

	/* Each group of 8 reads 28 bytes from 3*i, so stop while 10 samples remain. */
	for (; i + 10 <= n; i += 8) {
		__m256i v = _mm256_loadu2_m128i((const __m128i *)(s + 3 * i + 12), (const __m128i *)(s + 3 * i));

		v = _mm256_srai_epi32(_mm256_shuffle_epi8(v, shuf), 8);
		_mm256_storeu_ps(dst + i, _mm256_mul_ps(_mm256_cvtepi32_ps(v), k));
	}
	vd_convert_kernels_c.s24_3_to_f32(dst + i, s + 3 * i, n - i);
}

AVX2 static void avx2_s32_to_f32(float *dst, const void *src, size_t n)
{
	const uint8_t *s = src;
	const __m256 k = _mm256_set1_ps(1.0f / 2147483648.0f);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(s + 4 * i));

		_mm256_storeu_ps(dst + i, _mm256_mul_ps(_mm256_cvtepi32_ps(v), k));
	}
	vd_convert_kernels_c.s32_to_f32(dst + i, s + 4 * i, n - i);
}

AVX2 static void avx2_f64_to_f32(float *dst, const void *src, size_t n)
{
	const uint8_t *s = src;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m128 lo = _mm256_cvtpd_ps(_mm256_loadu_pd((const double *)(s + 8 * i)));
		__m128 hi = _mm256_cvtpd_ps(_mm256_loadu_pd((const double *)(s + 8 * i + 32)));
		__m256 v = _mm256_set_m128(hi, lo);

		_mm256_storeu_ps(dst + i, _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q)));
	}
	vd_convert_kernels_c.f64_to_f32(dst + i, s + 8 * i, n - i);
}

AVX2 static inline __m256i quant8(__m256 v, __m256 scale, __m256 lo, __m256 hi)
{
	__m256 x = _mm256_mul_ps(v, scale);

	x = _mm256_and_ps(x, _mm256_cmp_ps(x, x, _CMP_ORD_Q));
	x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
	return _mm256_cvtps_epi32(x);
}

/* Saturating pack of 16 int32 into 16 int16 in order (packs works per 128-bit lane). */
AVX2 static inline __m256i pack16(__m256i a, __m256i b)
{
	return _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), _MM_SHUFFLE(3, 1, 2, 0));
}

/* 16 int16 in [-128, 127] to 16 unsigned bytes (+128). */
AVX2 static inline __m128i pack_u8(__m256i v16)
{
	v16 = _mm256_add_epi16(v16, _mm256_set1_epi16(128));
	return _mm_packus_epi16(_mm256_castsi256_si128(v16), _mm256_extracti128_si256(v16, 1));
}

AVX2 static void avx2_f32_to_u8(void *dst, const float *src, size_t n)
{
	uint8_t *d = dst;
	const __m256 scale = _mm256_set1_ps(128.0f), lo = _mm256_set1_ps(-128.0f), hi = _mm256_set1_ps(127.0f);
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		__m256i v = pack16(quant8(_mm256_loadu_ps(src + i), scale, lo, hi),
				   quant8(_mm256_loadu_ps(src + i + 8), scale, lo, hi));

		_mm_storeu_si128((__m128i *)(d + i), pack_u8(v));
	}
	vd_convert_kernels_c.f32_to_u8(d + i, src + i, n - i);
}

AVX2 static void avx2_f32_to_s16(void *dst, const float *src, size_t n)
{
	uint8_t *d = dst;
	const __m256 scale = _mm256_set1_ps(32768.0f), lo = _mm256_set1_ps(-32768.0f),
		     hi = _mm256_set1_ps(32767.0f);
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		__m256i v = pack16(quant8(_mm256_loadu_ps(src + i), scale, lo, hi),
				   quant8(_mm256_loadu_ps(src + i + 8), scale, lo, hi));

		_mm256_storeu_si256((__m256i *)(d + 2 * i), v);
	}
	vd_convert_kernels_c.f32_to_s16(d + 2 * i, src + i, n - i);
}

AVX2 static void avx2_f32_to_s24(void *dst, const float *src, size_t n)
{
	uint8_t *d = dst;
	const __m256 scale = _mm256_set1_ps(8388608.0f), lo = _mm256_set1_ps(-8388608.0f),
		     hi = _mm256_set1_ps(8388607.0f);
	size_t i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_si256((__m256i *)(d + 4 * i), quant8(_mm256_loadu_ps(src + i), scale, lo, hi));
	vd_convert_kernels_c.f32_to_s24(d + 4 * i, src + i, n - i);
}

/* Store the low 12 bytes of @v at @p, touching nothing beyond. */
AVX2 static inline void store12(uint8_t *p, __m128i v)
{
	uint32_t top = (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(v, 8));

	_mm_storel_epi64((__m128i *)p, v);
	memcpy(p + 8, &top, sizeof(top));
}

AVX2 static void avx2_f32_to_s24_3(void *dst, const float *src, size_t n)
{
	uint8_t *d = dst;
	const __m256 scale = _mm256_set1_ps(8388608.0f), lo = _mm256_set1_ps(-8388608.0f),
		     hi = _mm256_set1_ps(8388607.0f);
	const __m256i shuf = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
					      0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256i v = _mm256_shuffle_epi8(quant8(_mm256_loadu_ps(src + i), scale, lo, hi), shuf);

		store12(d + 3 * i, _mm256_castsi256_si128(v));
		store12(d + 3 * i + 12, _mm256_extracti128_si256(v, 1));
	}
	vd_convert_kernels_c.f32_to_s24_3(d + 3 * i, src + i, n - i);
}

AVX2 static void avx2_f32_to_s32(void *dst, const float *src, size_t n)
{
	uint8_t *d = dst;
	const __m256 scale = _mm256_set1_ps(2147483648.0f);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256 x = _mm256_mul_ps(_mm256_loadu_ps(src + i), scale);
		__m256i r = _mm256_cvtps_epi32(x);
		__m256i over = _mm256_castps_si256(_mm256_cmp_ps(x, scale, _CMP_GE_OQ));
		__m256i nan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));

		r = _mm256_andnot_si256(nan, _mm256_xor_si256(r, over));
		_mm256_storeu_si256((__m256i *)(d + 4 * i), r);
	}
	vd_convert_kernels_c.f32_to_s32(d + 4 * i, src + i, n - i);
}

AVX2 static void avx2_f32_to_f64(void *dst, const float *src, size_t n)
{
	uint8_t *d = dst;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256 v = _mm256_loadu_ps(src + i);

		v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
		_mm256_storeu_pd((double *)(d + 8 * i), _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
		_mm256_storeu_pd((double *)(d + 8 * i + 32), _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
	}
	vd_convert_kernels_c.f32_to_f64(d + 8 * i, src + i, n - i);
}

/* vd_dither_lsb() for eight consecutive counters, as int32 multiples of 2^-16 LSB. */
AVX2 static inline __m256i dither8(uint32_t ctr, uint32_t key)
{
	__m256i x = _mm256_add_epi32(_mm256_set1_epi32((int32_t)ctr), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));

	x = _mm256_xor_si256(x, _mm256_set1_epi32((int32_t)key));
	x = _mm256_mullo_epi32(x, _mm256_set1_epi32((int32_t)VD_DITHER_MUL1));
	x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
	x = _mm256_mullo_epi32(x, _mm256_set1_epi32((int32_t)VD_DITHER_MUL2));
	x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 13));
	x = _mm256_mullo_epi32(x, _mm256_set1_epi32((int32_t)VD_DITHER_MUL3));
	x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
	return _mm256_sub_epi32(_mm256_and_si256(x, _mm256_set1_epi32(0xffff)), _mm256_srli_epi32(x, 16));
}

AVX2 static inline __m128i quant_dither_half(__m128 v, __m128i dq, __m256d scale, __m256d lo, __m256d hi)
{
	__m256d x = _mm256_mul_pd(_mm256_cvtps_pd(v), scale);

	x = _mm256_add_pd(x, _mm256_mul_pd(_mm256_cvtepi32_pd(dq), _mm256_set1_pd(1.0 / 65536.0)));
	x = _mm256_min_pd(_mm256_max_pd(x, lo), hi);
	return _mm256_cvtpd_epi32(x);
}

/* The C quant_dither() for eight samples, in double like the reference. */
AVX2 static inline __m256i quant_dither8(__m256 v, __m256d scale, __m256d lo, __m256d hi,
					 uint32_t ctr, uint32_t key)
{
	__m256i dq = dither8(ctr, key);
	__m128i a, b;

	v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
	a = quant_dither_half(_mm256_castps256_ps128(v), _mm256_castsi256_si128(dq), scale, lo, hi);
	b = quant_dither_half(_mm256_extractf128_ps(v, 1), _mm256_extracti128_si256(dq, 1), scale, lo, hi);
	return _mm256_set_m128i(b, a);
}

AVX2 static void avx2_f32_to_s16_dither(void *dst, const float *src, size_t n, uint32_t ctr, uint32_t key)
{
	uint8_t *d = dst;
	const __m256d scale = _mm256_set1_pd(32768.0), lo = _mm256_set1_pd(-32768.0),
		      hi = _mm256_set1_pd(32767.0);
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		uint32_t c = ctr + (uint32_t)i;
		__m256i v = pack16(quant_dither8(_mm256_loadu_ps(src + i), scale, lo, hi, c, key),
				   quant_dither8(_mm256_loadu_ps(src + i + 8), scale, lo, hi, c + 8, key));

		_mm256_storeu_si256((__m256i *)(d + 2 * i), v);
	}
	vd_convert_kernels_c.f32_to_s16_dither(d + 2 * i, src + i, n - i, ctr + (uint32_t)i, key);
}

AVX2 static void avx2_f32_to_u8_dither(void *dst, const float *src, size_t n, uint32_t ctr, uint32_t key)
{
	uint8_t *d = dst;
	const __m256d scale = _mm256_set1_pd(128.0), lo = _mm256_set1_pd(-128.0), hi = _mm256_set1_pd(127.0);
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		uint32_t c = ctr + (uint32_t)i;
		__m256i v = pack16(quant_dither8(_mm256_loadu_ps(src + i), scale, lo, hi, c, key),
				   quant_dither8(_mm256_loadu_ps(src + i + 8), scale, lo, hi, c + 8, key));

		_mm_storeu_si128((__m128i *)(d + i), pack_u8(v));
	}
	vd_convert_kernels_c.f32_to_u8_dither(d + i, src + i, n - i, ctr + (uint32_t)i, key);
}

const struct vd_convert_kernels vd_convert_kernels_avx2 = {
	.name = "avx2",
	.u8_to_f32 = avx2_u8_to_f32,
	.s16_to_f32 = avx2_s16_to_f32,
	.s24_to_f32 = avx2_s24_to_f32,
	.s24_3_to_f32 = avx2_s24_3_to_f32,
	.s32_to_f32 = avx2_s32_to_f32,
	.f64_to_f32 = avx2_f64_to_f32,
	.f32_to_u8 = avx2_f32_to_u8,
	.f32_to_s16 = avx2_f32_to_s16,
	.f32_to_s24 = avx2_f32_to_s24,
	.f32_to_s24_3 = avx2_f32_to_s24_3,
	.f32_to_s32 = avx2_f32_to_s32,
	.f32_to_f64 = avx2_f32_to_f64,
	.f32_to_u8_dither = avx2_f32_to_u8_dither,
	.f32_to_s16_dither = avx2_f32_to_s16_dither,
};
#endif
