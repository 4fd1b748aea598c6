/* src/dsp/src/kernel_x86.c - SSE2 and AVX2+FMA kernels of the sample-rate converter (chosen at run time). */
#include "src-impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/*
 * Every group is widened to SRC_GROUP outputs (repeating the last) so the
 * inner loop has one shape. Data loads are shared by the group's outputs,
 * coefficient loads by a pair of channels; both sit in registers (4 outputs
 * x 2 channels = 8 accumulators, enough to cover the FMA latency).
 */
struct group {
	const float *cf[SRC_GROUP];	/* coefficient for window tap 0 of each output */
	int32_t start, blocks;
};

static inline void widen(const float *const *coef, const int32_t *off, uint32_t n_out, uint32_t taps,
			 struct group *g)
{
	int32_t lo = off[0], hi = off[0];

	for (uint32_t m = 1; m < n_out; m++) {
		lo = off[m] < lo ? off[m] : lo;
		hi = off[m] > hi ? off[m] : hi;
	}
	g->start = lo & ~(SRC_ALIGN - 1);
	g->blocks = (hi + (int32_t)taps - g->start + SRC_ALIGN - 1) / SRC_ALIGN;
	for (uint32_t m = 0; m < SRC_GROUP; m++) {
		uint32_t i = m < n_out ? m : n_out - 1;
		g->cf[m] = coef[i] + (g->start - off[i]);
	}
}

struct group_d {
	const double *cf[SRC_GROUP];
	int32_t start, blocks;
};

static inline void widen_d(const double *const *coef, const int32_t *off, uint32_t n_out, uint32_t taps,
			   struct group_d *g)
{
	int32_t lo = off[0], hi = off[0];

	for (uint32_t m = 1; m < n_out; m++) {
		lo = off[m] < lo ? off[m] : lo;
		hi = off[m] > hi ? off[m] : hi;
	}
	g->start = lo & ~(SRC_ALIGN - 1);
	g->blocks = (hi + (int32_t)taps - g->start + SRC_ALIGN - 1) / SRC_ALIGN;
	for (uint32_t m = 0; m < SRC_GROUP; m++) {
		uint32_t i = m < n_out ? m : n_out - 1;
		g->cf[m] = coef[i] + (g->start - off[i]);
	}
}

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
			 uint32_t taps, float *out)
{
	struct group g;
	uint32_t ch = 0;

	widen(coef, off, n_out, taps, &g);
	for (; ch < channels; ch++) {
		const float *xs = x + ch * stride + g.start;
		__m128 a[SRC_GROUP][2];
		for (int m = 0; m < SRC_GROUP; m++)
			a[m][0] = a[m][1] = _mm_setzero_ps();
		for (int32_t b = 0; b < g.blocks; b++) {
			__m128 d0 = _mm_load_ps(xs + 8 * b), d1 = _mm_load_ps(xs + 8 * b + 4);
			for (int m = 0; m < SRC_GROUP; m++) {
				a[m][0] = _mm_add_ps(a[m][0], _mm_mul_ps(_mm_loadu_ps(g.cf[m] + 8 * b), d0));
				a[m][1] = _mm_add_ps(a[m][1], _mm_mul_ps(_mm_loadu_ps(g.cf[m] + 8 * b + 4), d1));
			}
		}
		for (uint32_t m = 0; m < n_out; m++)
			out[m * channels + ch] = hsum_sse2(a[m][0], a[m][1]);
	}
}

__attribute__((target("sse2")))
static void dot_f64_sse2(const double *x, size_t stride, uint32_t channels,
			 const double *const *coef, const int32_t *off, uint32_t n_out,
			 uint32_t taps, double *out)
{
	struct group_d g;

	widen_d(coef, off, n_out, taps, &g);
	for (uint32_t ch = 0; ch < channels; ch++) {
		const double *xs = x + ch * stride + g.start;
		__m128d a[SRC_GROUP][4];
		for (int m = 0; m < SRC_GROUP; m++)
			for (int j = 0; j < 4; j++)
				a[m][j] = _mm_setzero_pd();
		for (int32_t b = 0; b < g.blocks; b++)
			for (int j = 0; j < 4; j++) {
				__m128d d = _mm_load_pd(xs + 8 * b + 2 * j);
				for (int m = 0; m < SRC_GROUP; m++)
					a[m][j] = _mm_add_pd(a[m][j], _mm_mul_pd(_mm_loadu_pd(g.cf[m] + 8 * b + 2 * j), d));
			}
		for (uint32_t m = 0; m < n_out; m++) {
			__m128d s = _mm_add_pd(_mm_add_pd(a[m][0], a[m][2]), _mm_add_pd(a[m][1], a[m][3]));
			out[m * channels + ch] = _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
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
	.dot_f32 = dot_f32_sse2,
	.dot_f64 = dot_f64_sse2,
	.interp_f32 = interp_f32_sse2,
	.interp_f64 = interp_f64_sse2,
};

/* ---------------- AVX2 + FMA ---------------- */

/* Sums of four vectors, each ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)). */
__attribute__((target("avx2,fma")))
static inline __m128 hsum4_avx(__m256 a, __m256 b, __m256 c, __m256 d)
{
	__m256 u = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));

	return _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1));
}

__attribute__((target("avx2,fma")))
static void dot_f32_avx2(const float *x, size_t stride, uint32_t channels,
			 const float *const *coef, const int32_t *off, uint32_t n_out,
			 uint32_t taps, float *out)
{
	struct group g;
	uint32_t ch = 0;

	widen(coef, off, n_out, taps, &g);
	const float *c0 = g.cf[0], *c1 = g.cf[1], *c2 = g.cf[2], *c3 = g.cf[3];
	for (; ch + 2 <= channels; ch += 2) {
		const float *xa = x + ch * stride + g.start, *xb = xa + stride;
		__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
		__m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
		for (int32_t i = 0; i < g.blocks * 8; i += 8) {
			__m256 da = _mm256_load_ps(xa + i), db = _mm256_load_ps(xb + i);
			__m256 k0 = _mm256_loadu_ps(c0 + i), k1 = _mm256_loadu_ps(c1 + i);
			__m256 k2 = _mm256_loadu_ps(c2 + i), k3 = _mm256_loadu_ps(c3 + i);
			a0 = _mm256_fmadd_ps(k0, da, a0);
			b0 = _mm256_fmadd_ps(k0, db, b0);
			a1 = _mm256_fmadd_ps(k1, da, a1);
			b1 = _mm256_fmadd_ps(k1, db, b1);
			a2 = _mm256_fmadd_ps(k2, da, a2);
			b2 = _mm256_fmadd_ps(k2, db, b2);
			a3 = _mm256_fmadd_ps(k3, da, a3);
			b3 = _mm256_fmadd_ps(k3, db, b3);
		}
		/* [a0 b0 a1 b1] and [a2 b2 a3 b3]: each sum reduced by the same tree. */
		__m128 v0 = hsum4_avx(a0, b0, a1, b1), v1 = hsum4_avx(a2, b2, a3, b3);
		float *o = out + ch;
		if (channels == 2 && n_out == SRC_GROUP) {
			_mm_storeu_ps(o, v0);
			_mm_storeu_ps(o + 4, v1);
		} else {
			float r[8];
			_mm_storeu_ps(r, v0);
			_mm_storeu_ps(r + 4, v1);
			for (uint32_t m = 0; m < n_out; m++) {
				o[m * channels] = r[2 * m];
				o[m * channels + 1] = r[2 * m + 1];
			}
		}
	}
	for (; ch < channels; ch++) {
		const float *xa = x + ch * stride + g.start;
		__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
		for (int32_t i = 0; i < g.blocks * 8; i += 8) {
			__m256 da = _mm256_load_ps(xa + i);
			a0 = _mm256_fmadd_ps(_mm256_loadu_ps(c0 + i), da, a0);
			a1 = _mm256_fmadd_ps(_mm256_loadu_ps(c1 + i), da, a1);
			a2 = _mm256_fmadd_ps(_mm256_loadu_ps(c2 + i), da, a2);
			a3 = _mm256_fmadd_ps(_mm256_loadu_ps(c3 + i), da, a3);
		}
		float r[4];
		_mm_storeu_ps(r, hsum4_avx(a0, a1, a2, a3));
		for (uint32_t m = 0; m < n_out; m++)
			out[m * channels + ch] = r[m];
	}
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
			 uint32_t taps, double *out)
{
	struct group_d g;

	widen_d(coef, off, n_out, taps, &g);
	for (uint32_t ch = 0; ch < channels; ch++) {
		const double *xa = x + ch * stride + g.start;
		__m256d a[SRC_GROUP][2];
		for (int m = 0; m < SRC_GROUP; m++)
			a[m][0] = a[m][1] = _mm256_setzero_pd();
		for (int32_t i = 0; i < g.blocks * 8; i += 8) {
			__m256d d0 = _mm256_load_pd(xa + i), d1 = _mm256_load_pd(xa + i + 4);
			for (int m = 0; m < SRC_GROUP; m++) {
				a[m][0] = _mm256_fmadd_pd(_mm256_loadu_pd(g.cf[m] + i), d0, a[m][0]);
				a[m][1] = _mm256_fmadd_pd(_mm256_loadu_pd(g.cf[m] + i + 4), d1, a[m][1]);
			}
		}
		for (uint32_t m = 0; m < n_out; m++)
			out[m * channels + ch] = hsum_avx_d(a[m][0], a[m][1]);
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

const struct src_kernels src_kernels_avx2 = {
	.name = "avx2",
	.dot_f32 = dot_f32_avx2,
	.dot_f64 = dot_f64_avx2,
	.interp_f32 = interp_f32_avx2,
	.interp_f64 = interp_f64_avx2,
};

#endif
