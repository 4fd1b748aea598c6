/* audio/convert.c - sample-format conversion between all formats, G.711, dither state and kernel dispatch. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include <virtdsp/convert.h>

#include "audio/convert_kernels.h"

/* Samples per pass of the generic path; its scratch lives on the stack. */
#define BLOCK 256

void vd_dither_init(struct vd_dither *d, uint64_t seed)
{
	/*
	 * One splitmix64 step spreads nearby seeds apart. The high half is
	 * the stream key, the low half the per-sample counter.
	 */
	uint64_t z = seed + UINT64_C(0x9e3779b97f4a7c15);

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	d->state = z ^ (z >> 31);
}

static inline uint32_t dither_ctr(const struct vd_dither *d)
{
	return (uint32_t)d->state;
}

static inline uint32_t dither_key(const struct vd_dither *d)
{
	return (uint32_t)(d->state >> 32);
}

static inline void dither_advance(struct vd_dither *d, size_t n)
{
	d->state = (d->state & ~(uint64_t)UINT32_MAX) | (uint32_t)(dither_ctr(d) + (uint32_t)n);
}

/*
 * ITU-T G.711 on 16-bit linear samples. mu-law works on 14 bits (the two
 * low bits are dropped) with a bias of 33 so that its segments are powers
 * of two; A-law works on 12-bit magnitudes (four low bits dropped) and its
 * first two segments share one step size. Negative inputs use the one's
 * complement magnitude, which keeps the quantiser symmetric about -1/2 LSB.
 * Encoding truncates the magnitude and decoding returns the middle of the
 * interval, so each code is the nearest reconstruction level.
 */
static uint8_t ulaw_encode(int16_t x)
{
	uint32_t sign = x < 0 ? 0x80 : 0;
	uint32_t mag = (uint32_t)(x < 0 ? ~(int32_t)x : x) >> 2;
	uint32_t e, q;

	mag += 33;
	if (mag > 0x1fff)
		mag = 0x1fff;
	e = 31 - (uint32_t)__builtin_clz(mag) - 5;
	q = (mag >> (e + 1)) & 0xf;
	return (uint8_t)~(sign | e << 4 | q);
}

static int16_t ulaw_decode(uint8_t code)
{
	uint32_t u = (uint8_t)~code;
	uint32_t e = (u >> 4) & 7, q = u & 0xf;
	int32_t mag = (int32_t)((((q << 1) + 33) << e) - 33) * 4;

	return (int16_t)(u & 0x80 ? -mag : mag);
}

static uint8_t alaw_encode(int16_t x)
{
	uint32_t sign = x < 0 ? 0 : 0x80;
	uint32_t mag = (uint32_t)(x < 0 ? ~(int32_t)x : x) >> 4;
	uint32_t e, q;

	if (mag < 16) {
		e = 0;
		q = mag;
	} else {
		e = 31 - (uint32_t)__builtin_clz(mag) - 3;
		q = (mag >> (e - 1)) & 0xf;
	}
	return (uint8_t)((sign | e << 4 | q) ^ 0x55);
}

static int16_t alaw_decode(uint8_t code)
{
	uint32_t u = code ^ 0x55u;
	uint32_t e = (u >> 4) & 7, q = u & 0xf;
	int32_t mag = e == 0 ? (int32_t)(q << 4) + 8 : (int32_t)((((q + 16) << 4) + 8) << (e - 1));

	return (int16_t)(u & 0x80 ? mag : -mag);
}

const struct vd_convert_kernels *vd_convert_kernels_get(enum vd_convert_isa isa)
{
	switch (isa) {
	case VD_CONVERT_ISA_C:
		return &vd_convert_kernels_c;
#ifdef VD_CONVERT_HAVE_X86
	case VD_CONVERT_ISA_SSE2:
		return __builtin_cpu_supports("sse2") ? &vd_convert_kernels_sse2 : NULL;
	case VD_CONVERT_ISA_AVX2:
		return __builtin_cpu_supports("avx2") ? &vd_convert_kernels_avx2 : NULL;
#endif
	default:
		return NULL;
	}
}

/* The fastest available kernel for the table entry at byte offset @off. */
static void (*pick(size_t off))(void)
{
	for (int isa = VD_CONVERT_ISA_COUNT - 1; isa >= 0; isa--) {
		const struct vd_convert_kernels *k = vd_convert_kernels_get((enum vd_convert_isa)isa);
		void (*fn)(void);

		if (!k)
			continue;
		memcpy(&fn, (const char *)k + off, sizeof(fn));
		if (fn)
			return fn;
	}
	return NULL;
}

#define KERNEL(type, field) ((type)pick(offsetof(struct vd_convert_kernels, field)))

static bool format_valid(enum vd_sample_format fmt)
{
	return fmt > VD_FORMAT_UNKNOWN && fmt < VD_FORMAT_COUNT;
}

/* Bits of the linear grid a format is quantised on; G.711 travels as S16. */
static unsigned grid_bits(enum vd_sample_format fmt)
{
	if (fmt == VD_FORMAT_MULAW || fmt == VD_FORMAT_ALAW)
		return 16;
	return vd_format_bits(fmt);
}

static bool wants_dither(enum vd_sample_format dst, enum vd_sample_format src)
{
	return !vd_format_is_float(dst) && grid_bits(src) > grid_bits(dst);
}

void vd_convert_to_f32(float *dst, enum vd_sample_format src_fmt, const void *src, size_t n)
{
	const uint8_t *s = src;
	vd_to_f32_fn fn = NULL;

	switch (src_fmt) {
	case VD_FORMAT_F32:
		if ((const void *)dst != src)
			memmove(dst, src, n * sizeof(float));
		return;
	case VD_FORMAT_MULAW:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)ulaw_decode(s[i]) * (1.0f / 32768.0f);
		return;
	case VD_FORMAT_ALAW:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)alaw_decode(s[i]) * (1.0f / 32768.0f);
		return;
	case VD_FORMAT_U8:
		fn = KERNEL(vd_to_f32_fn, u8_to_f32);
		break;
	case VD_FORMAT_S16:
		fn = KERNEL(vd_to_f32_fn, s16_to_f32);
		break;
	case VD_FORMAT_S24:
		fn = KERNEL(vd_to_f32_fn, s24_to_f32);
		break;
	case VD_FORMAT_S24_3:
		fn = KERNEL(vd_to_f32_fn, s24_3_to_f32);
		break;
	case VD_FORMAT_S32:
		fn = KERNEL(vd_to_f32_fn, s32_to_f32);
		break;
	case VD_FORMAT_F64:
		fn = KERNEL(vd_to_f32_fn, f64_to_f32);
		break;
	default:
		/* An unknown source reads as silence rather than garbage. */
		memset(dst, 0, n * sizeof(float));
		return;
	}
	fn(dst, src, n);
}

static void f32_to_g711(enum vd_sample_format dst_fmt, uint8_t *dst, const float *src, size_t n,
			struct vd_dither *dither)
{
	vd_from_f32_fn plain = dither ? NULL : KERNEL(vd_from_f32_fn, f32_to_s16);
	vd_from_f32_dither_fn dithered = dither ? KERNEL(vd_from_f32_dither_fn, f32_to_s16_dither) : NULL;
	int16_t lin[BLOCK];

	while (n > 0) {
		size_t m = n < BLOCK ? n : BLOCK;

		if (dither) {
			dithered(lin, src, m, dither_ctr(dither), dither_key(dither));
			dither_advance(dither, m);
		} else {
			plain(lin, src, m);
		}
		if (dst_fmt == VD_FORMAT_MULAW) {
			for (size_t i = 0; i < m; i++)
				dst[i] = ulaw_encode(lin[i]);
		} else {
			for (size_t i = 0; i < m; i++)
				dst[i] = alaw_encode(lin[i]);
		}
		dst += m;
		src += m;
		n -= m;
	}
}

void vd_convert_from_f32(enum vd_sample_format dst_fmt, void *dst, const float *src, size_t n,
			 struct vd_dither *dither)
{
	vd_from_f32_fn fn = NULL;
	vd_from_f32_dither_fn dfn = NULL;

	if (dither && !wants_dither(dst_fmt, VD_FORMAT_F32))
		dither = NULL;

	switch (dst_fmt) {
	case VD_FORMAT_F32:
		if (dst != (const void *)src)
			memmove(dst, src, n * sizeof(float));
		return;
	case VD_FORMAT_MULAW:
	case VD_FORMAT_ALAW:
		f32_to_g711(dst_fmt, dst, src, n, dither);
		return;
	case VD_FORMAT_U8:
		if (dither)
			dfn = KERNEL(vd_from_f32_dither_fn, f32_to_u8_dither);
		else
			fn = KERNEL(vd_from_f32_fn, f32_to_u8);
		break;
	case VD_FORMAT_S16:
		if (dither)
			dfn = KERNEL(vd_from_f32_dither_fn, f32_to_s16_dither);
		else
			fn = KERNEL(vd_from_f32_fn, f32_to_s16);
		break;
	case VD_FORMAT_S24:
		fn = KERNEL(vd_from_f32_fn, f32_to_s24);
		break;
	case VD_FORMAT_S24_3:
		fn = KERNEL(vd_from_f32_fn, f32_to_s24_3);
		break;
	case VD_FORMAT_S32:
		fn = KERNEL(vd_from_f32_fn, f32_to_s32);
		break;
	case VD_FORMAT_F64:
		fn = KERNEL(vd_from_f32_fn, f32_to_f64);
		break;
	default:
		return;
	}
	if (dfn) {
		dfn(dst, src, n, dither_ctr(dither), dither_key(dither));
		dither_advance(dither, n);
	} else {
		fn(dst, src, n);
	}
}

/*
 * The generic path: every format is read into double, which holds every
 * sample of every format exactly, then written with one rounding. This
 * makes each pair correctly rounded without a kernel per pair.
 */
static void read_block(enum vd_sample_format fmt, const uint8_t *s, size_t n, double *out)
{
	size_t i;

	switch (fmt) {
	case VD_FORMAT_U8:
		for (i = 0; i < n; i++)
			out[i] = ((int32_t)s[i] - 128) * (1.0 / 128.0);
		break;
	case VD_FORMAT_S16:
		for (i = 0; i < n; i++) {
			int16_t v;

			memcpy(&v, s + 2 * i, sizeof(v));
			out[i] = v * (1.0 / 32768.0);
		}
		break;
	case VD_FORMAT_S24:
		for (i = 0; i < n; i++) {
			uint32_t v;

			memcpy(&v, s + 4 * i, sizeof(v));
			out[i] = ((int32_t)(v << 8) >> 8) * (1.0 / 8388608.0);
		}
		break;
	case VD_FORMAT_S24_3:
		for (i = 0; i < n; i++) {
			const uint8_t *p = s + 3 * i;
			uint32_t u = (uint32_t)p[0] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 24;

			out[i] = ((int32_t)u >> 8) * (1.0 / 8388608.0);
		}
		break;
	case VD_FORMAT_S32:
		for (i = 0; i < n; i++) {
			int32_t v;

			memcpy(&v, s + 4 * i, sizeof(v));
			out[i] = v * (1.0 / 2147483648.0);
		}
		break;
	case VD_FORMAT_F32:
		for (i = 0; i < n; i++) {
			float v;

			memcpy(&v, s + 4 * i, sizeof(v));
			out[i] = v;
		}
		break;
	case VD_FORMAT_F64:
		memcpy(out, s, n * sizeof(double));
		break;
	case VD_FORMAT_MULAW:
		for (i = 0; i < n; i++)
			out[i] = ulaw_decode(s[i]) * (1.0 / 32768.0);
		break;
	case VD_FORMAT_ALAW:
		for (i = 0; i < n; i++)
			out[i] = alaw_decode(s[i]) * (1.0 / 32768.0);
		break;
	default:
		break;
	}
}

/* Scale, dither, clip and round one sample onto a grid of @bits bits. */
static inline int32_t quantise(double v, unsigned bits, struct vd_dither *dither, size_t i)
{
	double hi = ldexp(1.0, (int)bits - 1);
	double x = v == v ? v * hi : 0.0;

	if (dither)
		x += vd_dither_lsb(dither_ctr(dither) + (uint32_t)i, dither_key(dither));
	if (x < -hi)
		x = -hi;
	if (x > hi - 1.0)
		x = hi - 1.0;
	return (int32_t)lrint(x);
}

static void write_block(enum vd_sample_format fmt, uint8_t *d, size_t n, const double *in,
			struct vd_dither *dither)
{
	size_t i;

	switch (fmt) {
	case VD_FORMAT_U8:
		for (i = 0; i < n; i++)
			d[i] = (uint8_t)(quantise(in[i], 8, dither, i) + 128);
		break;
	case VD_FORMAT_S16:
		for (i = 0; i < n; i++) {
			int16_t v = (int16_t)quantise(in[i], 16, dither, i);

			memcpy(d + 2 * i, &v, sizeof(v));
		}
		break;
	case VD_FORMAT_S24:
		for (i = 0; i < n; i++) {
			int32_t v = quantise(in[i], 24, dither, i);

			memcpy(d + 4 * i, &v, sizeof(v));
		}
		break;
	case VD_FORMAT_S24_3:
		for (i = 0; i < n; i++) {
			int32_t v = quantise(in[i], 24, dither, i);

			d[3 * i] = (uint8_t)v;
			d[3 * i + 1] = (uint8_t)(v >> 8);
			d[3 * i + 2] = (uint8_t)(v >> 16);
		}
		break;
	case VD_FORMAT_S32:
		for (i = 0; i < n; i++) {
			int32_t v = quantise(in[i], 32, dither, i);

			memcpy(d + 4 * i, &v, sizeof(v));
		}
		break;
	case VD_FORMAT_F32:
		for (i = 0; i < n; i++) {
			float v = in[i] == in[i] ? (float)in[i] : 0.0f;

			memcpy(d + 4 * i, &v, sizeof(v));
		}
		break;
	case VD_FORMAT_F64:
		for (i = 0; i < n; i++) {
			double v = in[i] == in[i] ? in[i] : 0.0;

			memcpy(d + 8 * i, &v, sizeof(v));
		}
		break;
	case VD_FORMAT_MULAW:
		for (i = 0; i < n; i++)
			d[i] = ulaw_encode((int16_t)quantise(in[i], 16, dither, i));
		break;
	case VD_FORMAT_ALAW:
		for (i = 0; i < n; i++)
			d[i] = alaw_encode((int16_t)quantise(in[i], 16, dither, i));
		break;
	default:
		break;
	}
	if (dither)
		dither_advance(dither, n);
}

int vd_convert_samples(enum vd_sample_format dst_fmt, void *dst,
		       enum vd_sample_format src_fmt, const void *src,
		       size_t n_samples, struct vd_dither *dither)
{
	size_t ds, ss;

	if (!format_valid(dst_fmt) || !format_valid(src_fmt))
		return -EINVAL;
	if (n_samples == 0)
		return 0;
	if (!dst || !src)
		return -EINVAL;
	if (dst_fmt == src_fmt) {
		if (dst != src)
			memmove(dst, src, n_samples * vd_format_sample_size(src_fmt));
		return 0;
	}
	if (src_fmt == VD_FORMAT_F32) {
		vd_convert_from_f32(dst_fmt, dst, src, n_samples, dither);
		return 0;
	}
	if (dst_fmt == VD_FORMAT_F32) {
		vd_convert_to_f32(dst, src_fmt, src, n_samples);
		return 0;
	}
	if (dither && !wants_dither(dst_fmt, src_fmt))
		dither = NULL;

	/*
	 * Blocks run front to back and each is read completely before it is
	 * written, so converting in place to a sample no larger than the
	 * source never overwrites bytes still to be read.
	 */
	ds = vd_format_sample_size(dst_fmt);
	ss = vd_format_sample_size(src_fmt);
	for (size_t done = 0; done < n_samples;) {
		size_t m = n_samples - done < BLOCK ? n_samples - done : BLOCK;
		double tmp[BLOCK];

		read_block(src_fmt, (const uint8_t *)src + done * ss, m, tmp);
		write_block(dst_fmt, (uint8_t *)dst + done * ds, m, tmp, dither);
		done += m;
	}
	return 0;
}
