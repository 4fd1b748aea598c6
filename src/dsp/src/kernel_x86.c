/* src/dsp/src/kernel_x86.c - SSE2 and AVX2+FMA kernels of the sample-rate converter (chosen at run time). */
#include <stdbool.h>

#include "src-impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* Keep loaded vectors in registers: left alone, gcc folds a coefficient
 * load into each FMA that uses it, loading it once per channel. */
#define IN_REGS(a, b, c, d) __asm__("" : "+v"(a), "+v"(b), "+v"(c), "+v"(d))

/*
 * Outputs are taken SRC_GROUP at a time; a short last group is widened by
 * repeating its last output so the inner loop has one shape. Data loads are
 * shared by the group's outputs, coefficient loads by a pair of channels;
 * both sit in registers (4 outputs x 2 channels = 8 accumulators, enough to
 * cover the FMA latency). Offsets are non-decreasing, so the group's window
 * runs from off[0] (rounded down to the vector width) to off[n-1] + taps.
 */
#define DEFINE_WIDEN(NAME, T)								\
struct NAME {										\
	const T *cf[SRC_GROUP];	/* coefficient for window tap 0 of each output */	\
	int32_t start, len;	/* window start (aligned) and length (whole vectors) */	\
};											\
static inline void NAME##_set(const T *const *coef, const int32_t *off, uint32_t n,	\
			      uint32_t taps, int32_t width, struct NAME *g)		\
{											\
	int32_t start = off[0] & ~(width - 1);						\
											\
	g->start = start;								\
	g->len = (off[n - 1] + (int32_t)taps - start + width - 1) & ~(width - 1);	\
	if (n == SRC_GROUP) {								\
		for (uint32_t m = 0; m < SRC_GROUP; m++)				\
			g->cf[m] = coef[m] + (start - off[m]);				\
		return;									\
	}										\
	for (uint32_t m = 0; m < SRC_GROUP; m++) {					\
		uint32_t i = m < n ? m : n - 1;						\
		g->cf[m] = coef[i] + (start - off[i]);					\
	}										\
}

DEFINE_WIDEN(group, float)

/* Where the next group's rows start, to prefetch them (tables beyond L1). */
static inline void next_rows(const float *const *coef, uint32_t m0, uint32_t n_out, const float **pf)
{
	uint32_t m = m0 + SRC_GROUP;

	if (m + SRC_GROUP <= n_out) {
		for (uint32_t i = 0; i < SRC_GROUP; i++)
			pf[i] = coef[m + i] - 16;
		return;
	}
	for (uint32_t i = 0; i < SRC_GROUP; i++)
		pf[i] = (m + i < n_out ? coef[m + i] : coef[m0]) - 16;
}
DEFINE_WIDEN(group_d, double)

/* Scatter a group's results r[m * rch + c] (m < n, c < ch) to the strided output. */
#define DEFINE_SCATTER(NAME, T)								\
static inline void NAME(const T *r, uint32_t rch, uint32_t n, uint32_t ch, T *o,	\
			size_t ostep, size_t cstep)					\
{											\
	for (uint32_t m = 0; m < n; m++)						\
		for (uint32_t c = 0; c < ch; c++)					\
			o[m * ostep + c * cstep] = r[m * rch + c];			\
}

DEFINE_SCATTER(scatter, float)
DEFINE_SCATTER(scatter_d, double)

static inline void lagrange(double t, double w[4])
{
	w[0] = -t * (t - 1.0) * (t - 2.0) / 6.0;
	w[1] = (t + 1.0) * (t - 1.0) * (t - 2.0) / 2.0;
	w[2] = -(t + 1.0) * t * (t - 2.0) / 2.0;
	w[3] = (t + 1.0) * t * (t - 1.0) / 6.0;
}

/* ---------------- SSE2 ---------------- */

__attribute__((target("sse2")))
static inline float hsum_sse2(__m128 a, __m128 b)
{
	__m128 s = _mm_add_ps(a, b);

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
	return _mm_cvtss_f32(s);
}

__attribute__((target("sse2")))
static void dot_f32_sse2(const float *x, size_t stride, uint32_t channels,
			 const float *const *coef, const int32_t *off, uint32_t n_out,
			 uint32_t taps, float *out, size_t ostep, size_t cstep)
{
	for (uint32_t m0 = 0; m0 < n_out; m0 += SRC_GROUP) {
		uint32_t n = n_out - m0 < SRC_GROUP ? n_out - m0 : SRC_GROUP;
		struct group g;

		group_set(coef + m0, off + m0, n, taps, 8, &g);
		for (uint32_t ch = 0; ch < channels; ch++) {
			const float *xs = x + ch * stride + g.start;
			__m128 a[SRC_GROUP][2];
			for (int m = 0; m < SRC_GROUP; m++)
				a[m][0] = a[m][1] = _mm_setzero_ps();
			for (int32_t i = 0; i < g.len; i += 8) {
				__m128 d0 = _mm_load_ps(xs + i), d1 = _mm_load_ps(xs + i + 4);
				for (int m = 0; m < SRC_GROUP; m++) {
					a[m][0] = _mm_add_ps(a[m][0], _mm_mul_ps(_mm_loadu_ps(g.cf[m] + i), d0));
					a[m][1] = _mm_add_ps(a[m][1], _mm_mul_ps(_mm_loadu_ps(g.cf[m] + i + 4), d1));
				}
			}
			for (uint32_t m = 0; m < n; m++)
				out[(m0 + m) * ostep + ch * cstep] = hsum_sse2(a[m][0], a[m][1]);
		}
	}
}

__attribute__((target("sse2")))
static void dot_f64_sse2(const double *x, size_t stride, uint32_t channels,
			 const double *const *coef, const int32_t *off, uint32_t n_out,
			 uint32_t taps, double *out, size_t ostep, size_t cstep)
{
	for (uint32_t m0 = 0; m0 < n_out; m0 += SRC_GROUP) {
		uint32_t n = n_out - m0 < SRC_GROUP ? n_out - m0 : SRC_GROUP;
		struct group_d g;

		group_d_set(coef + m0, off + m0, n, taps, 8, &g);
		for (uint32_t ch = 0; ch < channels; ch++) {
			const double *xs = x + ch * stride + g.start;
			__m128d a[SRC_GROUP][4];
			for (int m = 0; m < SRC_GROUP; m++)
				for (int j = 0; j < 4; j++)
					a[m][j] = _mm_setzero_pd();
			for (int32_t i = 0; i < g.len; i += 8)
				for (int j = 0; j < 4; j++) {
					__m128d d = _mm_load_pd(xs + i + 2 * j);
					for (int m = 0; m < SRC_GROUP; m++)
						a[m][j] = _mm_add_pd(a[m][j],
								     _mm_mul_pd(_mm_loadu_pd(g.cf[m] + i + 2 * j), d));
				}
			for (uint32_t m = 0; m < n; m++) {
				__m128d v = _mm_add_pd(_mm_add_pd(a[m][0], a[m][2]), _mm_add_pd(a[m][1], a[m][3]));
				out[(m0 + m) * ostep + ch * cstep] = _mm_cvtsd_f64(_mm_add_sd(v, _mm_unpackhi_pd(v, v)));
			}
		}
	}
}

__attribute__((target("sse2")))
static void interp_f32_sse2(const float *r0, size_t rs, double t, uint32_t taps, float *dst)
{
	double w[4];

	lagrange(t, w);
	__m128 wm = _mm_set1_ps((float)w[0]), w0 = _mm_set1_ps((float)w[1]);
	__m128 w1 = _mm_set1_ps((float)w[2]), w2 = _mm_set1_ps((float)w[3]);
	const float *rm = r0 - rs, *r1 = r0 + rs, *r2 = r0 + 2 * rs;
	for (uint32_t k = 0; k < taps; k += 4) {
		__m128 v = _mm_mul_ps(wm, _mm_loadu_ps(rm + k));
		v = _mm_add_ps(v, _mm_mul_ps(w0, _mm_loadu_ps(r0 + k)));
		v = _mm_add_ps(v, _mm_mul_ps(w1, _mm_loadu_ps(r1 + k)));
		v = _mm_add_ps(v, _mm_mul_ps(w2, _mm_loadu_ps(r2 + k)));
		_mm_storeu_ps(dst + k, v);
	}
}

__attribute__((target("sse2")))
static void interp_f64_sse2(const double *r0, size_t rs, double t, uint32_t taps, double *dst)
{
	double w[4];

	lagrange(t, w);
	__m128d wm = _mm_set1_pd(w[0]), w0 = _mm_set1_pd(w[1]), w1 = _mm_set1_pd(w[2]), w2 = _mm_set1_pd(w[3]);
	const double *rm = r0 - rs, *r1 = r0 + rs, *r2 = r0 + 2 * rs;
	for (uint32_t k = 0; k < taps; k += 2) {
		__m128d v = _mm_mul_pd(wm, _mm_loadu_pd(rm + k));
		v = _mm_add_pd(v, _mm_mul_pd(w0, _mm_loadu_pd(r0 + k)));
		v = _mm_add_pd(v, _mm_mul_pd(w1, _mm_loadu_pd(r1 + k)));
		v = _mm_add_pd(v, _mm_mul_pd(w2, _mm_loadu_pd(r2 + k)));
		_mm_storeu_pd(dst + k, v);
	}
}

const struct src_kernels src_kernels_sse2 = {
	.name = "sse2",
	.vec_bytes = 16,
	.dot_f32 = dot_f32_sse2,
	.dot_f32_near = dot_f32_sse2,
	.dot_taps_f32 = NULL,
	.dot_f64 = dot_f64_sse2,
	.interp_f32 = interp_f32_sse2,
	.interp_f64 = interp_f64_sse2,
	/* The half-band stage is short; SSE2 machines use the C loop. */
	.hb_f32 = NULL,
	.hb_f64 = NULL,
};

/* ---------------- AVX2 + FMA ---------------- */

/* Sums of four vectors, each ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)). */
__attribute__((target("avx2,fma")))
static inline __m128 hsum4_avx(__m256 a, __m256 b, __m256 c, __m256 d)
{
	__m256 u = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));

	return _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1));
}

/* The results of one channel pair: v0 = [a0 b0 a1 b1], v1 = [a2 b2 a3 b3]. */
__attribute__((target("avx2,fma")))
static inline void store_pair(__m128 v0, __m128 v1, uint32_t n, float *o, size_t ostep, size_t cstep)
{
	if (n == SRC_GROUP && cstep == 1 && ostep == 2) {
		_mm_storeu_ps(o, v0);
		_mm_storeu_ps(o + 4, v1);
	} else if (n == SRC_GROUP && ostep == 1) {
		_mm_storeu_ps(o, _mm_shuffle_ps(v0, v1, _MM_SHUFFLE(2, 0, 2, 0)));
		_mm_storeu_ps(o + cstep, _mm_shuffle_ps(v0, v1, _MM_SHUFFLE(3, 1, 3, 1)));
	} else {
		float r[8];
		_mm_storeu_ps(r, v0);
		_mm_storeu_ps(r + 4, v1);
		scatter(r, 2, n, 2, o, ostep, cstep);
	}
}

__attribute__((target("avx2,fma"), always_inline))
static inline void dot_f32_avx2_impl(const float *x, size_t stride, uint32_t channels,
				     const float *const *coef, const int32_t *off, uint32_t n_out,
				     uint32_t taps, float *out, size_t ostep, size_t cstep, bool far)
{
	for (uint32_t m0 = 0; m0 < n_out; m0 += SRC_GROUP) {
		uint32_t n = n_out - m0 < SRC_GROUP ? n_out - m0 : SRC_GROUP;
		float *o = out + m0 * ostep;
		struct group g;
		uint32_t ch = 0;

		group_set(coef + m0, off + m0, n, taps, 8, &g);
		const float *c0 = g.cf[0], *c1 = g.cf[1], *c2 = g.cf[2], *c3 = g.cf[3];
		const float *pf[SRC_GROUP];
		next_rows(coef, m0, n_out, pf);
		for (; ch + 2 <= channels; ch += 2) {
			const float *xa = x + ch * stride + g.start, *xb = xa + stride;
			__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
			__m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
#define AVX2_PAIR_BODY(PA, PB)								\
			{									\
				__m256 da = _mm256_load_ps(xa + i), db = _mm256_load_ps(xb + i);	\
				__m256 k0 = _mm256_loadu_ps(c0 + i), k1 = _mm256_loadu_ps(c1 + i);	\
				__m256 k2 = _mm256_loadu_ps(c2 + i), k3 = _mm256_loadu_ps(c3 + i);	\
				IN_REGS(k0, k1, k2, k3);					\
				if (far) {							\
					_mm_prefetch((const char *)(PA), _MM_HINT_T0);		\
					_mm_prefetch((const char *)(PB), _MM_HINT_T0);		\
				}								\
				a0 = _mm256_fmadd_ps(k0, da, a0);				\
				b0 = _mm256_fmadd_ps(k0, db, b0);				\
				a1 = _mm256_fmadd_ps(k1, da, a1);				\
				b1 = _mm256_fmadd_ps(k1, db, b1);				\
				a2 = _mm256_fmadd_ps(k2, da, a2);				\
				b2 = _mm256_fmadd_ps(k2, db, b2);				\
				a3 = _mm256_fmadd_ps(k3, da, a3);				\
				b3 = _mm256_fmadd_ps(k3, db, b3);				\
			}
			int32_t i = 0, half = (g.len / 2 + 7) & ~7;
			for (; i < half; i += 8)
				AVX2_PAIR_BODY(pf[0] + 2 * i, pf[1] + 2 * i)
			for (; i < g.len; i += 8)
				AVX2_PAIR_BODY(pf[2] + 2 * (i - half), pf[3] + 2 * (i - half))
			/* [a0 b0 a1 b1] and [a2 b2 a3 b3]: each sum reduced by the same tree. */
			store_pair(hsum4_avx(a0, b0, a1, b1), hsum4_avx(a2, b2, a3, b3), n, o + ch * cstep,
				   ostep, cstep);
		}
		for (; ch < channels; ch++) {
			const float *xa = x + ch * stride + g.start;
			__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
			for (int32_t i = 0; i < g.len; i += 8) {
				__m256 da = _mm256_load_ps(xa + i);
				a0 = _mm256_fmadd_ps(_mm256_loadu_ps(c0 + i), da, a0);
				a1 = _mm256_fmadd_ps(_mm256_loadu_ps(c1 + i), da, a1);
				a2 = _mm256_fmadd_ps(_mm256_loadu_ps(c2 + i), da, a2);
				a3 = _mm256_fmadd_ps(_mm256_loadu_ps(c3 + i), da, a3);
			}
			float r[4];
			_mm_storeu_ps(r, hsum4_avx(a0, a1, a2, a3));
			scatter(r, 1, n, 1, o + ch * cstep, ostep, cstep);
		}
	}
}

/* Lanes by tap (see SRC_TAPWISE_MAX): four outputs, a pair of channels at a time. */
__attribute__((target("avx2,fma")))
static void dot_taps_f32_avx2(const float *x, size_t stride, uint32_t channels,
			      const float *const *coef, const int32_t *off, uint32_t n_out,
			      uint32_t taps, float *out, size_t ostep, size_t cstep)
{
	for (uint32_t m0 = 0; m0 < n_out; m0 += SRC_GROUP) {
		uint32_t n = n_out - m0 < SRC_GROUP ? n_out - m0 : SRC_GROUP, ch = 0;
		const float *c[SRC_GROUP];
		int32_t o[SRC_GROUP];
		float *dst = out + m0 * ostep;
		for (uint32_t m = 0; m < SRC_GROUP; m++) {
			uint32_t i = m0 + (m < n ? m : n - 1);
			c[m] = coef[i];
			o[m] = off[i];
		}
		for (; ch + 2 <= channels; ch += 2) {
			const float *xa = x + ch * stride, *xb = xa + stride;
			__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
			__m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
			for (uint32_t i = 0; i < taps; i += 8) {
				__m256 k0 = _mm256_loadu_ps(c[0] + i), k1 = _mm256_loadu_ps(c[1] + i);
				__m256 k2 = _mm256_loadu_ps(c[2] + i), k3 = _mm256_loadu_ps(c[3] + i);
				a0 = _mm256_fmadd_ps(k0, _mm256_loadu_ps(xa + o[0] + i), a0);
				b0 = _mm256_fmadd_ps(k0, _mm256_loadu_ps(xb + o[0] + i), b0);
				a1 = _mm256_fmadd_ps(k1, _mm256_loadu_ps(xa + o[1] + i), a1);
				b1 = _mm256_fmadd_ps(k1, _mm256_loadu_ps(xb + o[1] + i), b1);
				a2 = _mm256_fmadd_ps(k2, _mm256_loadu_ps(xa + o[2] + i), a2);
				b2 = _mm256_fmadd_ps(k2, _mm256_loadu_ps(xb + o[2] + i), b2);
				a3 = _mm256_fmadd_ps(k3, _mm256_loadu_ps(xa + o[3] + i), a3);
				b3 = _mm256_fmadd_ps(k3, _mm256_loadu_ps(xb + o[3] + i), b3);
			}
			store_pair(hsum4_avx(a0, b0, a1, b1), hsum4_avx(a2, b2, a3, b3), n, dst + ch * cstep,
				   ostep, cstep);
		}
		for (; ch < channels; ch++) {
			const float *xa = x + ch * stride;
			__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
			for (uint32_t i = 0; i < taps; i += 8) {
				a0 = _mm256_fmadd_ps(_mm256_loadu_ps(c[0] + i), _mm256_loadu_ps(xa + o[0] + i), a0);
				a1 = _mm256_fmadd_ps(_mm256_loadu_ps(c[1] + i), _mm256_loadu_ps(xa + o[1] + i), a1);
				a2 = _mm256_fmadd_ps(_mm256_loadu_ps(c[2] + i), _mm256_loadu_ps(xa + o[2] + i), a2);
				a3 = _mm256_fmadd_ps(_mm256_loadu_ps(c[3] + i), _mm256_loadu_ps(xa + o[3] + i), a3);
			}
			float r[4];
			_mm_storeu_ps(r, hsum4_avx(a0, a1, a2, a3));
			scatter(r, 1, n, 1, dst + ch * cstep, ostep, cstep);
		}
	}
}

/* Tables beyond L1: prefetch the next group's rows meanwhile. */
__attribute__((target("avx2,fma")))
static void dot_f32_avx2(const float *x, size_t stride, uint32_t channels,
			 const float *const *coef, const int32_t *off, uint32_t n_out,
			 uint32_t taps, float *out, size_t ostep, size_t cstep)
{
	dot_f32_avx2_impl(x, stride, channels, coef, off, n_out, taps, out, ostep, cstep, true);
}

__attribute__((target("avx2,fma")))
static void dot_f32_avx2_near(const float *x, size_t stride, uint32_t channels,
			      const float *const *coef, const int32_t *off, uint32_t n_out,
			      uint32_t taps, float *out, size_t ostep, size_t cstep)
{
	dot_f32_avx2_impl(x, stride, channels, coef, off, n_out, taps, out, ostep, cstep, false);
}

__attribute__((target("avx2,fma")))
static inline double hsum_avx_d(__m256d a, __m256d b)
{
	__m256d v = _mm256_add_pd(a, b);
	__m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));

	return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

__attribute__((target("avx2,fma")))
static void dot_f64_avx2(const double *x, size_t stride, uint32_t channels,
			 const double *const *coef, const int32_t *off, uint32_t n_out,
			 uint32_t taps, double *out, size_t ostep, size_t cstep)
{
	for (uint32_t m0 = 0; m0 < n_out; m0 += SRC_GROUP) {
		uint32_t n = n_out - m0 < SRC_GROUP ? n_out - m0 : SRC_GROUP;
		struct group_d g;

		group_d_set(coef + m0, off + m0, n, taps, 8, &g);
		for (uint32_t ch = 0; ch < channels; ch++) {
			const double *xa = x + ch * stride + g.start;
			__m256d a[SRC_GROUP][2];
			for (int m = 0; m < SRC_GROUP; m++)
				a[m][0] = a[m][1] = _mm256_setzero_pd();
			for (int32_t i = 0; i < g.len; i += 8) {
				__m256d d0 = _mm256_load_pd(xa + i), d1 = _mm256_load_pd(xa + i + 4);
				for (int m = 0; m < SRC_GROUP; m++) {
					a[m][0] = _mm256_fmadd_pd(_mm256_loadu_pd(g.cf[m] + i), d0, a[m][0]);
					a[m][1] = _mm256_fmadd_pd(_mm256_loadu_pd(g.cf[m] + i + 4), d1, a[m][1]);
				}
			}
			for (uint32_t m = 0; m < n; m++)
				out[(m0 + m) * ostep + ch * cstep] = hsum_avx_d(a[m][0], a[m][1]);
		}
	}
}

__attribute__((target("avx2,fma")))
static void interp_f32_avx2(const float *r0, size_t rs, double t, uint32_t taps, float *dst)
{
	double w[4];

	lagrange(t, w);
	__m256 wm = _mm256_set1_ps((float)w[0]), w0 = _mm256_set1_ps((float)w[1]);
	__m256 w1 = _mm256_set1_ps((float)w[2]), w2 = _mm256_set1_ps((float)w[3]);
	const float *rm = r0 - rs, *r1 = r0 + rs, *r2 = r0 + 2 * rs;
	for (uint32_t k = 0; k < taps; k += 8) {
		__m256 v = _mm256_mul_ps(wm, _mm256_loadu_ps(rm + k));
		v = _mm256_fmadd_ps(w0, _mm256_loadu_ps(r0 + k), v);
		v = _mm256_fmadd_ps(w1, _mm256_loadu_ps(r1 + k), v);
		v = _mm256_fmadd_ps(w2, _mm256_loadu_ps(r2 + k), v);
		_mm256_storeu_ps(dst + k, v);
	}
}

__attribute__((target("avx2,fma")))
static void interp_f64_avx2(const double *r0, size_t rs, double t, uint32_t taps, double *dst)
{
	double w[4];

	lagrange(t, w);
	__m256d wm = _mm256_set1_pd(w[0]), w0 = _mm256_set1_pd(w[1]), w1 = _mm256_set1_pd(w[2]), w2 = _mm256_set1_pd(w[3]);
	const double *rm = r0 - rs, *r1 = r0 + rs, *r2 = r0 + 2 * rs;
	for (uint32_t k = 0; k < taps; k += 4) {
		__m256d v = _mm256_mul_pd(wm, _mm256_loadu_pd(rm + k));
		v = _mm256_fmadd_pd(w0, _mm256_loadu_pd(r0 + k), v);
		v = _mm256_fmadd_pd(w1, _mm256_loadu_pd(r1 + k), v);
		v = _mm256_fmadd_pd(w2, _mm256_loadu_pd(r2 + k), v);
		_mm256_storeu_pd(dst + k, v);
	}
}

/*
 * Half-band decimator, vectorised across outputs: one lane per output, so
 * its sum has the same order whichever outputs share the vector. The window
 * is split into even and odd samples first (two planes on the stack), then
 * every tap pair is two unaligned loads, an add and an FMA for 8 outputs.
 */
#define HB_CHUNK 256	/* outputs per pass over the planes */

__attribute__((target("avx2,fma")))
static void split_avx2(const float *x, uint32_t pairs, float *p0, float *p1)
{
	uint32_t i = 0;

	for (; i + 8 <= pairs; i += 8) {
		__m256 a = _mm256_loadu_ps(x + 2 * i), b = _mm256_loadu_ps(x + 2 * i + 8);
		__m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
		__m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
		_mm256_storeu_ps(p0 + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xd8)));
		_mm256_storeu_ps(p1 + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xd8)));
	}
	for (; i < pairs; i++) {
		p0[i] = x[2 * i];
		p1[i] = x[2 * i + 1];
	}
}

/* 8 outputs from the planes (see hb_f32_avx2); every lane sums in the same order. */
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 hb8_avx2(const float *p0, const float *p1, const float *hb, uint32_t nh)
{
	__m256 acc = _mm256_mul_ps(_mm256_set1_ps(hb[0]), _mm256_loadu_ps(p1 + nh - 1));

	for (uint32_t j = 1; j <= nh; j++) {
		__m256 s = _mm256_add_ps(_mm256_loadu_ps(p0 + nh - j), _mm256_loadu_ps(p0 + nh - 1 + j));
		acc = _mm256_fmadd_ps(_mm256_broadcast_ss(hb + j), s, acc);
	}
	return acc;
}

__attribute__((target("avx2,fma"), always_inline))
static inline void hb_store(__m256 v, float *o, size_t ostep, uint32_t k)
{
	if (k == 8 && ostep == 1) {
		_mm256_storeu_ps(o, v);
		return;
	}
	float r[8];
	_mm256_storeu_ps(r, v);
	for (uint32_t i = 0; i < k; i++)
		o[i * ostep] = r[i];
}

__attribute__((target("avx2,fma")))
static void hb_f32_avx2(const float *x, size_t stride, uint32_t channels, int32_t c0,
			uint32_t n_out, const float *hb, uint32_t nh, float *out, size_t ostep,
			size_t cstep)
{
	float p0[HB_CHUNK + 2 * SRC_HB_MAX_NH + 8] __attribute__((aligned(32)));
	float p1[HB_CHUNK + 2 * SRC_HB_MAX_NH + 8] __attribute__((aligned(32)));

	for (uint32_t m0 = 0; m0 < n_out; m0 += HB_CHUNK) {
		uint32_t n = n_out - m0 < HB_CHUNK ? n_out - m0 : HB_CHUNK;
		uint32_t nv = (n + 7) & ~7u;
		for (uint32_t ch = 0; ch < channels; ch++) {
			/* p0[i] = x[s + 2i] (odd taps), p1[i] = x[s + 1 + 2i] (centres at nh - 1 + m). */
			const float *xs = x + ch * stride + c0 + 2 * (int32_t)m0 - (2 * (int32_t)nh - 1);
			float *o = out + (size_t)m0 * ostep + ch * cstep;
			split_avx2(xs, nv + 2 * nh, p0, p1);
			uint32_t m = 0;
			/* Four vectors at a time share each coefficient broadcast. */
			for (; m + 32 <= nv; m += 32) {
				const float *q = p0 + m, *c = p1 + nh - 1 + m;
				__m256 h = _mm256_broadcast_ss(hb);
				__m256 a0 = _mm256_mul_ps(h, _mm256_loadu_ps(c));
				__m256 a1 = _mm256_mul_ps(h, _mm256_loadu_ps(c + 8));
				__m256 a2 = _mm256_mul_ps(h, _mm256_loadu_ps(c + 16));
				__m256 a3 = _mm256_mul_ps(h, _mm256_loadu_ps(c + 24));
				for (uint32_t j = 1; j <= nh; j++) {
					const float *l = q + nh - j, *r = q + nh - 1 + j;
					h = _mm256_broadcast_ss(hb + j);
					a0 = _mm256_fmadd_ps(h, _mm256_add_ps(_mm256_loadu_ps(l), _mm256_loadu_ps(r)), a0);
					a1 = _mm256_fmadd_ps(h, _mm256_add_ps(_mm256_loadu_ps(l + 8), _mm256_loadu_ps(r + 8)), a1);
					a2 = _mm256_fmadd_ps(h, _mm256_add_ps(_mm256_loadu_ps(l + 16), _mm256_loadu_ps(r + 16)), a2);
					a3 = _mm256_fmadd_ps(h, _mm256_add_ps(_mm256_loadu_ps(l + 24), _mm256_loadu_ps(r + 24)), a3);
				}
				uint32_t k = n - m;
				hb_store(a0, o + m * ostep, ostep, k < 8 ? k : 8);
				hb_store(a1, o + (m + 8) * ostep, ostep, k < 16 ? k - 8 : 8);
				hb_store(a2, o + (m + 16) * ostep, ostep, k < 24 ? k - 16 : 8);
				hb_store(a3, o + (m + 24) * ostep, ostep, k < 32 ? k - 24 : 8);
			}
			for (; m < nv; m += 8) {
				uint32_t k = n - m < 8 ? n - m : 8;
				hb_store(hb8_avx2(p0 + m, p1 + m, hb, nh), o + m * ostep, ostep, k);
			}
		}
	}
}

__attribute__((target("avx2,fma")))
static void hb_f64_avx2(const double *x, size_t stride, uint32_t channels, int32_t c0,
			uint32_t n_out, const double *hb, uint32_t nh, double *out, size_t ostep,
			size_t cstep)
{
	double p0[HB_CHUNK + 2 * 64 + 8], p1[HB_CHUNK + 2 * 64 + 8];

	for (uint32_t m0 = 0; m0 < n_out; m0 += HB_CHUNK) {
		uint32_t n = n_out - m0 < HB_CHUNK ? n_out - m0 : HB_CHUNK;
		uint32_t nv = (n + 3) & ~3u;
		for (uint32_t ch = 0; ch < channels; ch++) {
			const double *xs = x + ch * stride + c0 + 2 * (int32_t)m0 - (2 * (int32_t)nh - 1);
			for (uint32_t i = 0; i < nv + 2 * nh; i++) {
				p0[i] = xs[2 * i];
				p1[i] = xs[2 * i + 1];
			}
			for (uint32_t m = 0; m < nv; m += 4) {
				__m256d acc = _mm256_mul_pd(_mm256_set1_pd(hb[0]), _mm256_loadu_pd(p1 + nh - 1 + m));
				for (uint32_t j = 1; j <= nh; j++) {
					__m256d s = _mm256_add_pd(_mm256_loadu_pd(p0 + m + nh - j),
								  _mm256_loadu_pd(p0 + m + nh - 1 + j));
					acc = _mm256_fmadd_pd(_mm256_set1_pd(hb[j]), s, acc);
				}
				double r[4];
				_mm256_storeu_pd(r, acc);
				uint32_t k = n - m < 4 ? n - m : 4;
				double *o = out + (size_t)(m0 + m) * ostep + ch * cstep;
				for (uint32_t i = 0; i < k; i++)
					o[i * ostep] = r[i];
			}
		}
	}
}

/*
 * Cycles in lanes for L/M = 2/3 (the 24->16 kHz stage), 8 cycles per
 * vector: each data load feeds both outputs of the cycle, each coefficient
 * broadcast both channels of a pair. Front and back chains x 2 outputs x 2
 * channels = 8 accumulators.
 */
#define CYC23_STEP256(A, T, R)									\
	{											\
		const float *k = cf + 2 * (3 * (T) + (R));					\
		__m256 c0 = _mm256_broadcast_ss(k), c1 = _mm256_broadcast_ss(k + 1);		\
		__m256 d = _mm256_loadu_ps(xa + (R) * cs + (T));				\
		__asm__("" : "+v"(d));	/* one load for both FMAs */			\
		A##a0 = _mm256_fmadd_ps(c0, d, A##a0);						\
		A##a1 = _mm256_fmadd_ps(c1, d, A##a1);						\
		if (two) {									\
			__m256 e = _mm256_loadu_ps(xb + (R) * cs + (T));			\
			__asm__("" : "+v"(e));							\
			A##b0 = _mm256_fmadd_ps(c0, e, A##b0);					\
			A##b1 = _mm256_fmadd_ps(c1, e, A##b1);					\
		}										\
	}

__attribute__((target("avx2,fma"), always_inline))
static inline void cyc23_avx2_vec(const float *xa, const float *xb, bool two, size_t cs,
				  const float *cf, uint32_t T, float *oa, float *ob, size_t os)
{
	const __m256 z = _mm256_setzero_ps();
	__m256 fa0 = z, fa1 = z, fb0 = z, fb1 = z, ba0 = z, ba1 = z, bb0 = z, bb1 = z;

	for (uint32_t u = 0; u < T / 2; u++) {
		uint32_t v = T - 1 - u;
		CYC23_STEP256(f, u, 0)
		CYC23_STEP256(b, v, 2)
		CYC23_STEP256(f, u, 1)
		CYC23_STEP256(b, v, 1)
		CYC23_STEP256(f, u, 2)
		CYC23_STEP256(b, v, 0)
	}
	_mm256_storeu_ps(oa, _mm256_add_ps(fa0, ba0));
	_mm256_storeu_ps(oa + os, _mm256_add_ps(fa1, ba1));
	if (two) {
		_mm256_storeu_ps(ob, _mm256_add_ps(fb0, bb0));
		_mm256_storeu_ps(ob + os, _mm256_add_ps(fb1, bb1));
	}
}

__attribute__((target("avx2,fma")))
static void cyc_f32_avx2(const float *comp, size_t cs, uint32_t channels, const struct src_cyc *cy,
			 uint32_t n_cyc, float *out, size_t os)
{
	uint32_t c = 0;

	for (; c + 2 <= channels; c += 2)
		for (uint32_t i = 0; i < n_cyc; i += 8)
			cyc23_avx2_vec(comp + c * 3 * cs + i, comp + (c + 1) * 3 * cs + i, true, cs, cy->coef,
				       cy->T, out + c * 2 * os + i, out + (c + 1) * 2 * os + i, os);
	for (; c < channels; c++)
		for (uint32_t i = 0; i < n_cyc; i += 8)
			cyc23_avx2_vec(comp + c * 3 * cs + i, NULL, false, cs, cy->coef, cy->T,
				       out + c * 2 * os + i, NULL, os);
}

const struct src_kernels src_kernels_avx2 = {
	.cyc_f32 = cyc_f32_avx2,
	.name = "avx2",
	.vec_bytes = 32,
	.dot_f32 = dot_f32_avx2,
	.dot_f32_near = dot_f32_avx2_near,
	.dot_taps_f32 = dot_taps_f32_avx2,
	.dot_f64 = dot_f64_avx2,
	.interp_f32 = interp_f32_avx2,
	.interp_f64 = interp_f64_avx2,
	.hb_f32 = hb_f32_avx2,
	.hb_f64 = hb_f64_avx2,
};

/* ---------------- AVX-512 ----------------
 *
 * Where 512-bit FMAs issue at the 256-bit rate this gains nothing, but
 * cores with two 512-bit FMA units (Intel server parts) double the MACs per
 * cycle. Lanes follow x index modulo 16 (floats) or 8 (doubles).
 */

/* 16 lanes -> 8 by a fixed fold (lane l + lane l+8). */
__attribute__((target("avx512f,avx2,fma")))
static inline __m256 fold512(__m512 a)
{
	return _mm256_add_ps(_mm512_castps512_ps256(a),
			     _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
}

/* One group of four outputs (as in the AVX2 kernel), 16 lanes. */
__attribute__((target("avx512f,avx2,fma"), always_inline))
static inline void group_avx512(const float *x, size_t stride, uint32_t channels,
				const float *const *coef, const int32_t *off, uint32_t m0, uint32_t n_out,
				uint32_t taps, float *out, size_t ostep, size_t cstep, bool far)
{
	uint32_t n = n_out - m0 < SRC_GROUP ? n_out - m0 : SRC_GROUP;
	float *o = out + m0 * ostep;
	struct group g;
	uint32_t ch = 0;

	group_set(coef + m0, off + m0, n, taps, 16, &g);
	const float *c0 = g.cf[0], *c1 = g.cf[1], *c2 = g.cf[2], *c3 = g.cf[3];
	const float *pf[SRC_GROUP];
	next_rows(coef, m0, n_out, pf);
	for (; ch + 2 <= channels; ch += 2) {
		const float *xa = x + ch * stride + g.start, *xb = xa + stride;
		__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
		__m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
		for (int32_t i = 0; i < g.len; i += 16) {
			__m512 da = _mm512_load_ps(xa + i), db = _mm512_load_ps(xb + i);
			__m512 k0 = _mm512_loadu_ps(c0 + i), k1 = _mm512_loadu_ps(c1 + i);
			__m512 k2 = _mm512_loadu_ps(c2 + i), k3 = _mm512_loadu_ps(c3 + i);
			IN_REGS(k0, k1, k2, k3);
			for (int m = 0; far && m < SRC_GROUP; m++)
				_mm_prefetch((const char *)(pf[m] + i), _MM_HINT_T0);
			a0 = _mm512_fmadd_ps(k0, da, a0);
			b0 = _mm512_fmadd_ps(k0, db, b0);
			a1 = _mm512_fmadd_ps(k1, da, a1);
			b1 = _mm512_fmadd_ps(k1, db, b1);
			a2 = _mm512_fmadd_ps(k2, da, a2);
			b2 = _mm512_fmadd_ps(k2, db, b2);
			a3 = _mm512_fmadd_ps(k3, da, a3);
			b3 = _mm512_fmadd_ps(k3, db, b3);
		}
		store_pair(hsum4_avx(fold512(a0), fold512(b0), fold512(a1), fold512(b1)),
			   hsum4_avx(fold512(a2), fold512(b2), fold512(a3), fold512(b3)),
			   n, o + ch * cstep, ostep, cstep);
	}
	for (; ch < channels; ch++) {
		const float *xa = x + ch * stride + g.start;
		__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
		for (int32_t i = 0; i < g.len; i += 16) {
			__m512 da = _mm512_load_ps(xa + i);
			a0 = _mm512_fmadd_ps(_mm512_loadu_ps(c0 + i), da, a0);
			a1 = _mm512_fmadd_ps(_mm512_loadu_ps(c1 + i), da, a1);
			a2 = _mm512_fmadd_ps(_mm512_loadu_ps(c2 + i), da, a2);
			a3 = _mm512_fmadd_ps(_mm512_loadu_ps(c3 + i), da, a3);
		}
		float r[4];
		_mm_storeu_ps(r, hsum4_avx(fold512(a0), fold512(a1), fold512(a2), fold512(a3)));
		scatter(r, 1, n, 1, o + ch * cstep, ostep, cstep);
	}
}

/*
 * Outputs m..m+3 and m+8..m+11 when each of the latter has the row of the
 * former and its window 16 samples later (a 2:1 decimator with aligned
 * copies): the second group's data vector i is the first group's i+1, so
 * one coefficient load and one new data load per channel feed four FMAs,
 * against two in a single group, which is what bounds the kernel. Each
 * output still sums its own lanes in the same order (the window starts
 * differ by a whole vector), so the bits do not change.
 */
__attribute__((target("avx512f,avx2,fma"), always_inline))
static inline void pair_avx512(const float *x, size_t stride, const float *const *coef,
			       const int32_t *off, uint32_t m0, uint32_t taps, float *out,
			       size_t ostep, size_t cstep, uint32_t ch)
{
	struct group g;

	group_set(coef + m0, off + m0, SRC_GROUP, taps, 16, &g);
	const float *c0 = g.cf[0], *c1 = g.cf[1], *c2 = g.cf[2], *c3 = g.cf[3];
	const float *xa = x + ch * stride + g.start, *xb = xa + stride;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	__m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
	__m512 p0 = a0, p1 = a0, p2 = a0, p3 = a0;
	__m512 q0 = a0, q1 = a0, q2 = a0, q3 = a0;
	__m512 da = _mm512_load_ps(xa), db = _mm512_load_ps(xb);
	for (int32_t i = 0; i < g.len; i += 16) {
		__m512 ea = _mm512_load_ps(xa + i + 16), eb = _mm512_load_ps(xb + i + 16);
		__m512 k0 = _mm512_loadu_ps(c0 + i), k1 = _mm512_loadu_ps(c1 + i);
		__m512 k2 = _mm512_loadu_ps(c2 + i), k3 = _mm512_loadu_ps(c3 + i);
		IN_REGS(k0, k1, k2, k3);
		a0 = _mm512_fmadd_ps(k0, da, a0);
		b0 = _mm512_fmadd_ps(k0, db, b0);
		p0 = _mm512_fmadd_ps(k0, ea, p0);
		q0 = _mm512_fmadd_ps(k0, eb, q0);
		a1 = _mm512_fmadd_ps(k1, da, a1);
		b1 = _mm512_fmadd_ps(k1, db, b1);
		p1 = _mm512_fmadd_ps(k1, ea, p1);
		q1 = _mm512_fmadd_ps(k1, eb, q1);
		a2 = _mm512_fmadd_ps(k2, da, a2);
		b2 = _mm512_fmadd_ps(k2, db, b2);
		p2 = _mm512_fmadd_ps(k2, ea, p2);
		q2 = _mm512_fmadd_ps(k2, eb, q2);
		a3 = _mm512_fmadd_ps(k3, da, a3);
		b3 = _mm512_fmadd_ps(k3, db, b3);
		p3 = _mm512_fmadd_ps(k3, ea, p3);
		q3 = _mm512_fmadd_ps(k3, eb, q3);
		da = ea;
		db = eb;
	}
	float *o = out + m0 * ostep + ch * cstep;
	store_pair(hsum4_avx(fold512(a0), fold512(b0), fold512(a1), fold512(b1)),
		   hsum4_avx(fold512(a2), fold512(b2), fold512(a3), fold512(b3)),
		   SRC_GROUP, o, ostep, cstep);
	store_pair(hsum4_avx(fold512(p0), fold512(q0), fold512(p1), fold512(q1)),
		   hsum4_avx(fold512(p2), fold512(q2), fold512(p3), fold512(q3)),
		   SRC_GROUP, o + 8 * ostep, ostep, cstep);
}

/* Outputs m0..m0+15 pair up (see pair_avx512). */
static inline bool pairs_up(const float *const *coef, const int32_t *off, uint32_t m0)
{
	for (uint32_t j = m0; j < m0 + 8; j++)
		if (coef[j + 8] != coef[j] || off[j + 8] != off[j] + 16)
			return false;
	return true;
}

__attribute__((target("avx512f,avx2,fma"), always_inline))
static inline void dot_f32_avx512_impl(const float *x, size_t stride, uint32_t channels,
				       const float *const *coef, const int32_t *off, uint32_t n_out,
				       uint32_t taps, float *out, size_t ostep, size_t cstep, bool far)
{
	uint32_t m0 = 0;

	/* Rows far from L1 are streamed per group; pairing is for rows in L1. */
	if (!far && channels >= 2)
		for (; m0 + 16 <= n_out; m0 += 16) {
			if (!pairs_up(coef, off, m0)) {
				for (uint32_t g = 0; g < 16; g += SRC_GROUP)
					group_avx512(x, stride, channels, coef, off, m0 + g, n_out, taps, out,
						     ostep, cstep, far);
				continue;
			}
			uint32_t ch = 0;
			for (; ch + 2 <= channels; ch += 2) {
				pair_avx512(x, stride, coef, off, m0, taps, out, ostep, cstep, ch);
				pair_avx512(x, stride, coef, off, m0 + 4, taps, out, ostep, cstep, ch);
			}
			if (ch < channels)
				for (uint32_t g = 0; g < 16; g += SRC_GROUP)
					group_avx512(x + ch * stride, stride, 1, coef, off, m0 + g, n_out, taps,
						     out + ch * cstep, ostep, cstep, far);
		}
	for (; m0 < n_out; m0 += SRC_GROUP)
		group_avx512(x, stride, channels, coef, off, m0, n_out, taps, out, ostep, cstep, far);
}

__attribute__((target("avx512f,avx2,fma")))
static void dot_f32_avx512(const float *x, size_t stride, uint32_t channels,
			   const float *const *coef, const int32_t *off, uint32_t n_out,
			   uint32_t taps, float *out, size_t ostep, size_t cstep)
{
	dot_f32_avx512_impl(x, stride, channels, coef, off, n_out, taps, out, ostep, cstep, true);
}

__attribute__((target("avx512f,avx2,fma")))
static void dot_f32_avx512_near(const float *x, size_t stride, uint32_t channels,
				const float *const *coef, const int32_t *off, uint32_t n_out,
				uint32_t taps, float *out, size_t ostep, size_t cstep)
{
	dot_f32_avx512_impl(x, stride, channels, coef, off, n_out, taps, out, ostep, cstep, false);
}

/*
 * Outputs in lanes: 16 consecutive outputs of a fixed-ratio stage, one per
 * lane. Their windows start at o + idx[l] (idx from the cycle's offsets,
 * spread < 25), so tap k of every lane is one two-source permute of the data
 * at o + 8*floor(k/8) (32 samples in two registers) with indices idx + k%8,
 * and the taps' coefficients are one load (taps-major table). No horizontal
 * sums and no per-output setup: a permute and an FMA per tap and channel.
 */
__attribute__((target("avx512f,avx2,fma"), always_inline))
static inline void olane_chan_avx512(const float *xa, const float *xb, bool two, const float *cf,
				     size_t cs, uint32_t taps, const __m512i *it, __m512 *ra, __m512 *rb)
{
	__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	__m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;

	for (uint32_t kb = 0; kb + 8 <= taps; kb += 8) {
		__m512 la = _mm512_loadu_ps(xa + kb), ha = _mm512_loadu_ps(xa + kb + 16), lb = la, hb = ha;
		if (two) {
			lb = _mm512_loadu_ps(xb + kb);
			hb = _mm512_loadu_ps(xb + kb + 16);
		}
		const float *c = cf + kb * cs;
#define OLANE_TAP(T, A, B)										{												__m512 k = _mm512_loadu_ps(c + (T) * cs);						A = _mm512_fmadd_ps(k, _mm512_permutex2var_ps(la, it[T], ha), A);				if (two)											B = _mm512_fmadd_ps(k, _mm512_permutex2var_ps(lb, it[T], hb), B);			}
		OLANE_TAP(0, a0, b0)
		OLANE_TAP(1, a1, b1)
		OLANE_TAP(2, a2, b2)
		OLANE_TAP(3, a3, b3)
		OLANE_TAP(4, a0, b0)
		OLANE_TAP(5, a1, b1)
		OLANE_TAP(6, a2, b2)
		OLANE_TAP(7, a3, b3)
	}
	if (taps & 4) {
		/* The last four taps, read as taps 4..7 of the block ending there
		 * (no read past taps + 24); chain r still takes tap taps-4+r. */
		const uint32_t kb = taps - 8;
		__m512 la = _mm512_loadu_ps(xa + kb), ha = _mm512_loadu_ps(xa + kb + 16), lb = la, hb = ha;
		if (two) {
			lb = _mm512_loadu_ps(xb + kb);
			hb = _mm512_loadu_ps(xb + kb + 16);
		}
		const float *c = cf + kb * cs;
		OLANE_TAP(4, a0, b0)
		OLANE_TAP(5, a1, b1)
		OLANE_TAP(6, a2, b2)
		OLANE_TAP(7, a3, b3)
	}
#undef OLANE_TAP
	*ra = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
	*rb = _mm512_add_ps(_mm512_add_ps(b0, b1), _mm512_add_ps(b2, b3));
}

__attribute__((target("avx512f,avx2,fma"), always_inline))
static inline void olane_store(__m512 v, float *o, size_t ostep, uint32_t n)
{
	if (ostep == 1) {
		_mm512_mask_storeu_ps(o, (__mmask16)((1u << n) - 1), v);
		return;
	}
	float r[SRC_OLANE_W];
	_mm512_storeu_ps(r, v);
	for (uint32_t i = 0; i < n; i++)
		o[i * ostep] = r[i];
}

__attribute__((target("avx512f,avx2,fma")))
static void olane_f32_avx512(const float *x, size_t stride, uint32_t channels, const struct src_olane *ol,
			     uint32_t q0, int32_t o0, uint32_t n_out, float *out, size_t ostep, size_t cstep)
{
	const uint32_t taps = ol->taps;
	uint32_t q = q0;
	int32_t o = o0;

	for (uint32_t m0 = 0; m0 < n_out; m0 += SRC_OLANE_W) {
		uint32_t n = n_out - m0 < SRC_OLANE_W ? n_out - m0 : SRC_OLANE_W;
		__m512i idx = _mm512_sub_epi32(_mm512_loadu_si512(ol->doff + q), _mm512_set1_epi32(ol->doff[q]));
		__m512i it[8];
		for (int t = 0; t < 8; t++)
			it[t] = _mm512_add_epi32(idx, _mm512_set1_epi32(t));
		const float *cf = ol->coef + q;
		/* Reads reach o + taps + 24; a short group whose windows end sooner
		 * (more than 16 samples before that) reads a zero-padded copy. */
		int32_t need = ol->doff[q + n - 1] - ol->doff[q] + (int32_t)taps;
		bool bounce = need + 16 < (int32_t)taps + 24;
		float *om = out + (size_t)m0 * ostep;
		uint32_t ch = 0;
		for (; ch < channels; ch += 2) {
			bool two = ch + 1 < channels;
			const float *xa = x + ch * stride + o, *xb = xa + stride;
			float ba[SRC_TAPWISE_MAX + 2 * SRC_OLANE_W], bb[SRC_TAPWISE_MAX + 2 * SRC_OLANE_W];
			if (bounce) {
				for (int32_t i = 0; i < (int32_t)taps + 2 * SRC_OLANE_W; i++) {
					ba[i] = i < need ? xa[i] : 0.0f;
					bb[i] = two && i < need ? xb[i] : 0.0f;
				}
				xa = ba;
				xb = bb;
			}
			__m512 ra, rb;
			olane_chan_avx512(xa, xb, two, cf, ol->coef_stride, taps, it, &ra, &rb);
			olane_store(ra, om + ch * cstep, ostep, n);
			if (two)
				olane_store(rb, om + (ch + 1) * cstep, ostep, n);
		}
		o += ol->doff[q + n] - ol->doff[q];
		q = (q + n) % ol->L;
	}
}

/* ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), the same tree for every output. */
__attribute__((target("avx512f,avx2,fma")))
static inline double hsum512_d(__m512d a)
{
	__m256d h = _mm256_add_pd(_mm512_castpd512_pd256(a), _mm512_extractf64x4_pd(a, 1));
	__m128d q = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));

	return _mm_cvtsd_f64(_mm_add_sd(q, _mm_unpackhi_pd(q, q)));
}

__attribute__((target("avx512f,avx2,fma")))
static void dot_f64_avx512(const double *x, size_t stride, uint32_t channels,
			   const double *const *coef, const int32_t *off, uint32_t n_out,
			   uint32_t taps, double *out, size_t ostep, size_t cstep)
{
	for (uint32_t m0 = 0; m0 < n_out; m0 += SRC_GROUP) {
		uint32_t n = n_out - m0 < SRC_GROUP ? n_out - m0 : SRC_GROUP;
		double *o = out + m0 * ostep;
		struct group_d g;
		uint32_t ch = 0;

		group_d_set(coef + m0, off + m0, n, taps, 8, &g);
		const double *c0 = g.cf[0], *c1 = g.cf[1], *c2 = g.cf[2], *c3 = g.cf[3];
		for (; ch + 2 <= channels; ch += 2) {
			const double *xa = x + ch * stride + g.start, *xb = xa + stride;
			__m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
			__m512d b0 = a0, b1 = a0, b2 = a0, b3 = a0;
			for (int32_t i = 0; i < g.len; i += 8) {
				__m512d da = _mm512_load_pd(xa + i), db = _mm512_load_pd(xb + i);
				__m512d k0 = _mm512_loadu_pd(c0 + i), k1 = _mm512_loadu_pd(c1 + i);
				__m512d k2 = _mm512_loadu_pd(c2 + i), k3 = _mm512_loadu_pd(c3 + i);
				IN_REGS(k0, k1, k2, k3);
				a0 = _mm512_fmadd_pd(k0, da, a0);
				b0 = _mm512_fmadd_pd(k0, db, b0);
				a1 = _mm512_fmadd_pd(k1, da, a1);
				b1 = _mm512_fmadd_pd(k1, db, b1);
				a2 = _mm512_fmadd_pd(k2, da, a2);
				b2 = _mm512_fmadd_pd(k2, db, b2);
				a3 = _mm512_fmadd_pd(k3, da, a3);
				b3 = _mm512_fmadd_pd(k3, db, b3);
			}
			double r[8] = {
				hsum512_d(a0), hsum512_d(b0), hsum512_d(a1), hsum512_d(b1),
				hsum512_d(a2), hsum512_d(b2), hsum512_d(a3), hsum512_d(b3),
			};
			scatter_d(r, 2, n, 2, o + ch * cstep, ostep, cstep);
		}
		for (; ch < channels; ch++) {
			const double *xa = x + ch * stride + g.start;
			__m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
			for (int32_t i = 0; i < g.len; i += 8) {
				__m512d da = _mm512_load_pd(xa + i);
				a0 = _mm512_fmadd_pd(_mm512_loadu_pd(c0 + i), da, a0);
				a1 = _mm512_fmadd_pd(_mm512_loadu_pd(c1 + i), da, a1);
				a2 = _mm512_fmadd_pd(_mm512_loadu_pd(c2 + i), da, a2);
				a3 = _mm512_fmadd_pd(_mm512_loadu_pd(c3 + i), da, a3);
			}
			double r[4] = { hsum512_d(a0), hsum512_d(a1), hsum512_d(a2), hsum512_d(a3) };
			scatter_d(r, 1, n, 1, o + ch * cstep, ostep, cstep);
		}
	}
}

/*
 * Cycles in lanes for L/M = 2/3, 16 cycles per vector and two vectors per
 * pass where there are (2 chains x 2 outputs x 2 channels x 2 vectors = 16
 * accumulators): one broadcast pair serves 8 FMAs.
 */
/* One tap for vector W of the block: chain A (f or b) of both outputs, both channels. */
#define CYC23_VEC512(A, W, D0, C0, C1)								\
	{											\
		__m512 d = _mm512_loadu_ps(xa + (D0) + 16 * (W));				\
		__asm__("" : "+v"(d));	/* one load for both FMAs */			\
		A##W##a0 = _mm512_fmadd_ps(C0, d, A##W##a0);					\
		A##W##a1 = _mm512_fmadd_ps(C1, d, A##W##a1);					\
		if (two) {									\
			__m512 e = _mm512_loadu_ps(xb + (D0) + 16 * (W));			\
			__asm__("" : "+v"(e));							\
			A##W##b0 = _mm512_fmadd_ps(C0, e, A##W##b0);				\
			A##W##b1 = _mm512_fmadd_ps(C1, e, A##W##b1);				\
		}										\
	}
#define CYC23_STEP512(A, T, R)									\
	{											\
		const float *k = cf + 2 * (3 * (T) + (R));					\
		__m512 c0 = _mm512_set1_ps(k[0]), c1 = _mm512_set1_ps(k[1]);			\
		CYC23_VEC512(A, 0, (R) * cs + (T), c0, c1)					\
		if (wide)									\
			CYC23_VEC512(A, 1, (R) * cs + (T), c0, c1)				\
	}

__attribute__((target("avx512f,avx2,fma"), always_inline))
static inline void cyc23_avx512_blk(const float *xa, const float *xb, bool two, bool wide, size_t cs,
				    const float *cf, uint32_t T, float *oa, float *ob, size_t os)
{
	const __m512 z = _mm512_setzero_ps();
	__m512 f0a0 = z, f0a1 = z, f0b0 = z, f0b1 = z, f1a0 = z, f1a1 = z, f1b0 = z, f1b1 = z;
	__m512 b0a0 = z, b0a1 = z, b0b0 = z, b0b1 = z, b1a0 = z, b1a1 = z, b1b0 = z, b1b1 = z;

	for (uint32_t u = 0; u < T / 2; u++) {
		uint32_t v = T - 1 - u;
		CYC23_STEP512(f, u, 0)
		CYC23_STEP512(b, v, 2)
		CYC23_STEP512(f, u, 1)
		CYC23_STEP512(b, v, 1)
		CYC23_STEP512(f, u, 2)
		CYC23_STEP512(b, v, 0)
	}
	_mm512_storeu_ps(oa, _mm512_add_ps(f0a0, b0a0));
	_mm512_storeu_ps(oa + os, _mm512_add_ps(f0a1, b0a1));
	if (two) {
		_mm512_storeu_ps(ob, _mm512_add_ps(f0b0, b0b0));
		_mm512_storeu_ps(ob + os, _mm512_add_ps(f0b1, b0b1));
	}
	if (wide) {
		_mm512_storeu_ps(oa + 16, _mm512_add_ps(f1a0, b1a0));
		_mm512_storeu_ps(oa + os + 16, _mm512_add_ps(f1a1, b1a1));
		if (two) {
			_mm512_storeu_ps(ob + 16, _mm512_add_ps(f1b0, b1b0));
			_mm512_storeu_ps(ob + os + 16, _mm512_add_ps(f1b1, b1b1));
		}
	}
}

__attribute__((target("avx512f,avx2,fma")))
static void cyc_f32_avx512(const float *comp, size_t cs, uint32_t channels, const struct src_cyc *cy,
			   uint32_t n_cyc, float *out, size_t os)
{
	uint32_t c = 0;

	for (; c + 2 <= channels; c += 2) {
		const float *xa = comp + c * 3 * cs, *xb = comp + (c + 1) * 3 * cs;
		float *oa = out + c * 2 * os, *ob = out + (c + 1) * 2 * os;
		uint32_t i = 0;
		for (; i + 16 < n_cyc; i += 32)
			cyc23_avx512_blk(xa + i, xb + i, true, true, cs, cy->coef, cy->T, oa + i, ob + i, os);
		if (i < n_cyc)
			cyc23_avx512_blk(xa + i, xb + i, true, false, cs, cy->coef, cy->T, oa + i, ob + i, os);
	}
	for (; c < channels; c++) {
		const float *xa = comp + c * 3 * cs;
		float *oa = out + c * 2 * os;
		uint32_t i = 0;
		for (; i + 16 < n_cyc; i += 32)
			cyc23_avx512_blk(xa + i, NULL, false, true, cs, cy->coef, cy->T, oa + i, NULL, os);
		if (i < n_cyc)
			cyc23_avx512_blk(xa + i, NULL, false, false, cs, cy->coef, cy->T, oa + i, NULL, os);
	}
}

const struct src_kernels src_kernels_avx512 = {
	.name = "avx512",
	.vec_bytes = 64,
	.dot_f32 = dot_f32_avx512,
	.dot_f32_near = dot_f32_avx512_near,
	/* 16 lanes would waste half of a short row. */
	.dot_taps_f32 = dot_taps_f32_avx2,
	.olane_f32 = olane_f32_avx512,
	.cyc_f32 = cyc_f32_avx512,
	.dot_f64 = dot_f64_avx512,
	/* Interpolating a row is not where the time goes. */
	.interp_f32 = interp_f32_avx2,
	.interp_f64 = interp_f64_avx2,
	.hb_f32 = hb_f32_avx2,
	.hb_f64 = hb_f64_avx2,
};

#endif
