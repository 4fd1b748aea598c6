/* src/dsp/src/kernel_c.c - the plain C kernels of the sample-rate converter (portable path and SIMD oracle). */
#include "src-impl.h"

#define LANES 8

/*
 * Lanes follow x index modulo LANES, like the SSE2 and AVX2 kernels, so an
 * output does not depend on the group that computed it; within a lane the
 * taps are summed in index order, and the lanes are reduced pairwise.
 */
#define DEFINE_DOT(NAME, T)								\
static void NAME(const T *x, size_t stride, uint32_t channels,				\
		 const T *const *coef, const int32_t *off, uint32_t n_out,		\
		 uint32_t taps, T *out, size_t ostep, size_t cstep)			\
{											\
	for (uint32_t m = 0; m < n_out; m++) {						\
		int32_t o = off[m];							\
		int32_t start = o & ~(LANES - 1);						\
		int32_t end = o + (int32_t)taps;					\
		const T *c = coef[m];							\
		for (uint32_t ch = 0; ch < channels; ch++) {				\
			const T *xr = x + ch * stride;					\
			T acc[LANES] = { 0 };						\
			for (int32_t b = start; b < end; b += LANES)			\
				for (int l = 0; l < LANES; l++) {				\
					int32_t k = b + l - o;				\
					if (k >= 0 && k < (int32_t)taps)		\
						acc[l] += c[k] * xr[b + l];		\
				}							\
			out[m * ostep + ch * cstep] = ((acc[0] + acc[1]) + (acc[2] + acc[3]))\
				+ ((acc[4] + acc[5]) + (acc[6] + acc[7]));		\
		}									\
	}										\
}

DEFINE_DOT(dot_f32, float)
DEFINE_DOT(dot_f64, double)

/* Lane l sums taps l, l+8, ... in order; lanes reduced as in DEFINE_DOT. */
static void dot_taps_f32(const float *x, size_t stride, uint32_t channels,
			 const float *const *coef, const int32_t *off, uint32_t n_out,
			 uint32_t taps, float *out, size_t ostep, size_t cstep)
{
	for (uint32_t m = 0; m < n_out; m++)
		for (uint32_t ch = 0; ch < channels; ch++) {
			const float *xr = x + ch * stride + off[m], *c = coef[m];
			float acc[LANES] = { 0 };
			for (uint32_t k = 0; k < taps; k += LANES)
				for (int l = 0; l < LANES; l++)
					acc[l] += c[k + l] * xr[k + l];
			out[m * ostep + ch * cstep] = ((acc[0] + acc[1]) + (acc[2] + acc[3]))
				+ ((acc[4] + acc[5]) + (acc[6] + acc[7]));
		}
}

/* Output-lane order: chain r sums taps r, r+4, ... in order; (0+1)+(2+3). */
static void olane_f32(const float *x, size_t stride, uint32_t channels, const struct src_olane *ol,
		      uint32_t q0, int32_t o0, uint32_t n_out, float *out, size_t ostep, size_t cstep)
{
	uint32_t q = q0;
	int32_t o = o0;

	for (uint32_t m = 0; m < n_out; m++) {
		for (uint32_t ch = 0; ch < channels; ch++) {
			const float *xr = x + ch * stride + o;
			float acc[4] = { 0 };
			for (uint32_t k = 0; k < ol->taps; k++)
				acc[k & 3] += ol->coef[k * ol->coef_stride + q] * xr[k];
			out[m * ostep + ch * cstep] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
		}
		o += ol->doff[q + 1] - ol->doff[q];
		if (++q == ol->L)
			q = 0;
	}
}

/* Cycles in lanes: taps summed from both ends inwards (see src_cyc). */
static void cyc_f32(const float *comp, size_t cstride, uint32_t channels, const struct src_cyc *cy,
		    uint32_t n_cyc, float *out, size_t ostride)
{
	const uint32_t L = cy->L, M = cy->M, S = M * cy->T;

	for (uint32_t c = 0; c < channels; c++)
		for (uint32_t q = 0; q < L; q++)
			for (uint32_t i = 0; i < n_cyc; i++) {
				const float *x = comp + c * M * cstride + i;
				float f = 0.0f, b = 0.0f;
				for (uint32_t s = 0; s < S / 2; s++) {
					uint32_t e = S - 1 - s;
					f += cy->coef[s * L + q] * x[(s % M) * cstride + s / M];
					b += cy->coef[e * L + q] * x[(e % M) * cstride + e / M];
				}
				out[(c * L + q) * ostride + i] = f + b;
			}
}

/* 4-point Lagrange through rows at -1, 0, 1, 2 (the table's phase step). */
#define DEFINE_INTERP(NAME, T)								\
static void NAME(const T *r0, size_t rs, double t, uint32_t taps, T *dst)		\
{											\
	const T *rm = r0 - rs, *r1 = r0 + rs, *r2 = r0 + 2 * rs;			\
	T wm = (T)(-t * (t - 1.0) * (t - 2.0) / 6.0);					\
	T w0 = (T)((t + 1.0) * (t - 1.0) * (t - 2.0) / 2.0);				\
	T w1 = (T)(-(t + 1.0) * t * (t - 2.0) / 2.0);					\
	T w2 = (T)((t + 1.0) * t * (t - 1.0) / 6.0);					\
	for (uint32_t k = 0; k < taps; k++)						\
		dst[k] = wm * rm[k] + w0 * r0[k] + w1 * r1[k] + w2 * r2[k];		\
}

DEFINE_INTERP(interp_f32, float)
DEFINE_INTERP(interp_f64, double)

#define DEFINE_HB(NAME, T)								\
static void NAME(const T *x, size_t stride, uint32_t channels, int32_t c0,		\
		 uint32_t n_out, const T *hb, uint32_t nh, T *out, size_t ostep,	\
		 size_t cstep)								\
{											\
	for (uint32_t ch = 0; ch < channels; ch++) {					\
		const T *xr = x + ch * stride;						\
		for (uint32_t m = 0; m < n_out; m++) {					\
			const T *c = xr + c0 + 2 * (int32_t)m;				\
			T acc = hb[0] * c[0];						\
			for (uint32_t j = 1; j <= nh; j++)				\
				acc += hb[j] * (c[-(int32_t)(2 * j - 1)] + c[2 * j - 1]);	\
			out[m * ostep + ch * cstep] = acc;				\
		}									\
	}										\
}

DEFINE_HB(hb_f32, float)
DEFINE_HB(hb_f64, double)

const struct src_kernels src_kernels_c = {
	.name = "c",
	.vec_bytes = 0,
	.dot_f32 = dot_f32,
	.dot_f32_near = dot_f32,
	.dot_taps_f32 = dot_taps_f32,
	.olane_f32 = olane_f32,
	.cyc_f32 = cyc_f32,
	.dot_f64 = dot_f64,
	.interp_f32 = interp_f32,
	.interp_f64 = interp_f64,
	.hb_f32 = hb_f32,
	.hb_f64 = hb_f64,
};
