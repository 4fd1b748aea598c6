/* audio/convert_c.c - the portable reference kernels for float <-> PCM conversion. */
#include <math.h>
#include <string.h>

#include "audio/convert_kernels.h"

/*
 * Buffers handed to the converter are byte streams that may sit at any
 * offset, so every multi-byte access goes through memcpy (the compiler
 * turns it into a plain load or store).
 */
static inline int16_t ld16(const uint8_t *p)
{
	int16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline int32_t ld32(const uint8_t *p)
{
	int32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline double ld64f(const uint8_t *p)
{
	double v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void st16(uint8_t *p, int32_t v)
{
	int16_t x = (int16_t)v;

	memcpy(p, &x, sizeof(x));
}

static inline void st32(uint8_t *p, int32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void c_u8_to_f32(float *dst, const void *src, size_t n)
{
	const uint8_t *s = src;

	for (size_t i = 0; i < n; i++)
		dst[i] = (float)((int32_t)s[i] - 128) * (1.0f / 128.0f);
}

static void c_s16_to_f32(float *dst, const void *src, size_t n)
{
	const uint8_t *s = src;

	for (size_t i = 0; i < n; i++)
		dst[i] = (float)ld16(s + 2 * i) * (1.0f / 32768.0f);
}

static void c_s24_to_f32(float *dst, const void *src, size_t n)
{
	const uint8_t *s = src;

	/* The container's top byte is ignored: bits 0..23 carry the sample. */
	for (size_t i = 0; i < n; i++)
		dst[i] = (float)((int32_t)((uint32_t)ld32(s + 4 * i) << 8) >> 8) * (1.0f / 8388608.0f);
}

static void c_s24_3_to_f32(float *dst, const void *src, size_t n)
{
	const uint8_t *s = src;

	for (size_t i = 0; i < n; i++, s += 3) {
		uint32_t u = (uint32_t)s[0] << 8 | (uint32_t)s[1] << 16 | (uint32_t)s[2] << 24;

		dst[i] = (float)((int32_t)u >> 8) * (1.0f / 8388608.0f);
	}
}

static void c_s32_to_f32(float *dst, const void *src, size_t n)
{
	const uint8_t *s = src;

	/* int -> float rounds to nearest even; the power-of-two scale is exact. */
	for (size_t i = 0; i < n; i++)
		dst[i] = (float)ld32(s + 4 * i) * (1.0f / 2147483648.0f);
}

static void c_f64_to_f32(float *dst, const void *src, size_t n)
{
	const uint8_t *s = src;

	for (size_t i = 0; i < n; i++) {
		double v = ld64f(s + 8 * i);

		dst[i] = v == v ? (float)v : 0.0f;
	}
}

/*
 * Float to an integer of 24 bits or fewer: both clip bounds are exact in
 * float, so clip first and then round to nearest even (the current
 * rounding mode, which the engine never changes).
 */
static inline int32_t quant_small(float v, float scale, float lo, float hi)
{
	float x = v * scale;

	if (x != x)
		return 0;
	x = x < lo ? lo : x;
	x = x > hi ? hi : x;
	return (int32_t)lrintf(x);
}

static void c_f32_to_u8(void *dst, const float *src, size_t n)
{
	uint8_t *d = dst;

	for (size_t i = 0; i < n; i++)
		d[i] = (uint8_t)(quant_small(src[i], 128.0f, -128.0f, 127.0f) + 128);
}

static void c_f32_to_s16(void *dst, const float *src, size_t n)
{
	uint8_t *d = dst;

	for (size_t i = 0; i < n; i++)
		st16(d + 2 * i, quant_small(src[i], 32768.0f, -32768.0f, 32767.0f));
}

static void c_f32_to_s24(void *dst, const float *src, size_t n)
{
	uint8_t *d = dst;

	for (size_t i = 0; i < n; i++)
		st32(d + 4 * i, quant_small(src[i], 8388608.0f, -8388608.0f, 8388607.0f));
}

static void c_f32_to_s24_3(void *dst, const float *src, size_t n)
{
	uint8_t *d = dst;

	for (size_t i = 0; i < n; i++, d += 3) {
		int32_t v = quant_small(src[i], 8388608.0f, -8388608.0f, 8388607.0f);

		d[0] = (uint8_t)v;
		d[1] = (uint8_t)(v >> 8);
		d[2] = (uint8_t)(v >> 16);
	}
}

static void c_f32_to_s32(void *dst, const float *src, size_t n)
{
	uint8_t *d = dst;

	/* 2^31 - 1 is not a float: anything at or above 2^31 saturates. */
	for (size_t i = 0; i < n; i++) {
		float x = src[i] * 2147483648.0f;
		int32_t v;

		if (x != x)
			v = 0;
		else if (x >= 2147483648.0f)
			v = INT32_MAX;
		else if (x <= -2147483648.0f)
			v = INT32_MIN;
		else
			v = (int32_t)lrintf(x);
		st32(d + 4 * i, v);
	}
}

static void c_f32_to_f64(void *dst, const float *src, size_t n)
{
	uint8_t *d = dst;

	for (size_t i = 0; i < n; i++) {
		double v = src[i] == src[i] ? (double)src[i] : 0.0;

		memcpy(d + 8 * i, &v, sizeof(v));
	}
}

/*
 * Dithered narrowing works in double so that the sum of the scaled sample
 * and the dither (a multiple of 2^-16 LSB) is the same whichever kernel or
 * source format computes it. NaN is silence, and silence is dithered too.
 */
static inline int32_t quant_dither(float v, double scale, double lo, double hi,
				   uint32_t ctr, uint32_t key)
{
	double x = v == v ? (double)v * scale : 0.0;

	x += vd_dither_lsb(ctr, key);
	x = x < lo ? lo : x;
	x = x > hi ? hi : x;
	return (int32_t)lrint(x);
}

static void c_f32_to_u8_dither(void *dst, const float *src, size_t n, uint32_t ctr, uint32_t key)
{
	uint8_t *d = dst;

	for (size_t i = 0; i < n; i++)
		d[i] = (uint8_t)(quant_dither(src[i], 128.0, -128.0, 127.0, ctr + (uint32_t)i, key) + 128);
}

static void c_f32_to_s16_dither(void *dst, const float *src, size_t n, uint32_t ctr, uint32_t key)
{
	uint8_t *d = dst;

	for (size_t i = 0; i < n; i++)
		st16(d + 2 * i, quant_dither(src[i], 32768.0, -32768.0, 32767.0, ctr + (uint32_t)i, key));
}

const struct vd_convert_kernels vd_convert_kernels_c = {
	.name = "c",
	.u8_to_f32 = c_u8_to_f32,
	.s16_to_f32 = c_s16_to_f32,
	.s24_to_f32 = c_s24_to_f32,
	.s24_3_to_f32 = c_s24_3_to_f32,
	.s32_to_f32 = c_s32_to_f32,
	.f64_to_f32 = c_f64_to_f32,
	.f32_to_u8 = c_f32_to_u8,
	.f32_to_s16 = c_f32_to_s16,
	.f32_to_s24 = c_f32_to_s24,
	.f32_to_s24_3 = c_f32_to_s24_3,
	.f32_to_s32 = c_f32_to_s32,
	.f32_to_f64 = c_f32_to_f64,
	.f32_to_u8_dither = c_f32_to_u8_dither,
	.f32_to_s16_dither = c_f32_to_s16_dither,
};
