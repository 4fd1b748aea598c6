/* audio/convert_kernels.h - internal interface between the converter and its per-ISA kernels.
 *
 * The plain C kernels are the reference: every SIMD kernel must produce
 * bit-identical output for every input (the unit tests check this), so the
 * dispatcher may pick any of them. A SIMD table leaves an entry NULL when it
 * has no faster version; the dispatcher then uses the C one.
 */
#ifndef VD_AUDIO_CONVERT_KERNELS_H
#define VD_AUDIO_CONVERT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

enum vd_convert_isa {
	VD_CONVERT_ISA_C = 0,
	VD_CONVERT_ISA_SSE2,
	VD_CONVERT_ISA_AVX2,
	VD_CONVERT_ISA_COUNT
};

typedef void (*vd_to_f32_fn)(float *dst, const void *src, size_t n);
typedef void (*vd_from_f32_fn)(void *dst, const float *src, size_t n);
/* @ctr/@key: the dither counter of the first sample and the stream key. */
typedef void (*vd_from_f32_dither_fn)(void *dst, const float *src, size_t n,
				      uint32_t ctr, uint32_t key);

struct vd_convert_kernels {
	const char *name;
	vd_to_f32_fn u8_to_f32;
	vd_to_f32_fn s16_to_f32;
	vd_to_f32_fn s24_to_f32;
	vd_to_f32_fn s24_3_to_f32;
	vd_to_f32_fn s32_to_f32;
	vd_to_f32_fn f64_to_f32;
	vd_from_f32_fn f32_to_u8;
	vd_from_f32_fn f32_to_s16;
	vd_from_f32_fn f32_to_s24;
	vd_from_f32_fn f32_to_s24_3;
	vd_from_f32_fn f32_to_s32;
	vd_from_f32_fn f32_to_f64;
	vd_from_f32_dither_fn f32_to_u8_dither;
	vd_from_f32_dither_fn f32_to_s16_dither;
};

/**
 * The kernel table for @isa, or NULL when this build or this CPU lacks it.
 * Exposed (not static) so tests and benchmarks can compare ISAs directly.
 */
const struct vd_convert_kernels *vd_convert_kernels_get(enum vd_convert_isa isa);

/* Per-ISA tables, defined in convert_<isa>.c. */
extern const struct vd_convert_kernels vd_convert_kernels_c;
#if defined(__x86_64__) || defined(__i386__)
#define VD_CONVERT_HAVE_X86 1
extern const struct vd_convert_kernels vd_convert_kernels_sse2;
extern const struct vd_convert_kernels vd_convert_kernels_avx2;
#endif

/*
 * The dither generator, shared by all kernels so they agree bit for bit.
 * Sample k of a stream gets h = mix(ctr_k ^ key); its dither, in LSBs of the
 * destination, is (h_lo16 - h_hi16) / 65536: the difference of two uniform
 * variables, i.e. triangular (TPDF) on (-1, 1) with mean exactly 0.
 */
#define VD_DITHER_MUL1 0x9e3779b1u
#define VD_DITHER_MUL2 0x85ebca6bu
#define VD_DITHER_MUL3 0xc2b2ae35u

static inline uint32_t vd_dither_hash(uint32_t ctr, uint32_t key)
{
	uint32_t x = (ctr ^ key) * VD_DITHER_MUL1;

	x ^= x >> 16;
	x *= VD_DITHER_MUL2;
	x ^= x >> 13;
	x *= VD_DITHER_MUL3;
	x ^= x >> 16;
	return x;
}

static inline double vd_dither_lsb(uint32_t ctr, uint32_t key)
{
	uint32_t h = vd_dither_hash(ctr, key);

	return (double)((int32_t)(h & 0xffff) - (int32_t)(h >> 16)) * (1.0 / 65536.0);
}

#endif
