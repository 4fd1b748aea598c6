/* tests/unit/test_src_simd.c - every SIMD kernel of the sample-rate converter against the plain C kernel. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <virtdsp/resample.h>

#include "dsp/src/src-impl.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;

static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static const enum src_isa simd[] = { SRC_ISA_SSE2, SRC_ISA_AVX2, SRC_ISA_AVX512 };

/* This test runs where the kernels exist: say so rather than pass vacuously. */
static void test_kernels_present(void **state)
{
	(void)state;
	assert_non_null(src_kernels_get(SRC_ISA_C));
#if defined(__x86_64__)
	assert_non_null(src_kernels_get(SRC_ISA_SSE2));
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		assert_non_null(src_kernels_get(SRC_ISA_AVX2));
	else
		assert_null(src_kernels_get(SRC_ISA_AVX2));
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx512f"))
		assert_non_null(src_kernels_get(SRC_ISA_AVX512));
	else
		assert_null(src_kernels_get(SRC_ISA_AVX512));
	assert_true(src_kernels_best() != &src_kernels_c);
	/* AVX-512 is offered but not chosen (slower here, see kernels.c). */
	assert_true(src_kernels_best() != src_kernels_get(SRC_ISA_AVX512));
#endif
}

#define TAPS_MAX 256
#define XLEN 1024
#define NOUT 11

/*
 * Dot kernels on random data: each SIMD result within float rounding of the
 * C one, and each output bit-identical whether computed alone or among
 * others (which is what makes chunked streaming exact), stored interleaved
 * or planar.
 */
static void test_dot_kernels(void **state)
{
	(void)state;
	const size_t stride = XLEN + 64;
	float *x = aligned_alloc(64, stride * 5 * sizeof(float));
	double *xd = aligned_alloc(64, stride * 5 * sizeof(double));
	size_t rs = TAPS_MAX + 2 * SRC_ROW_PAD;
	float *rows = calloc(NOUT * rs, sizeof(float));
	double *rowsd = calloc(NOUT * rs, sizeof(double));

	for (size_t i = 0; i < stride * 5; i++) {
		x[i] = (float)urand();
		xd[i] = urand();
	}
	for (int it = 0; it < 400; it++) {
		uint32_t taps = 8 * (1 + (uint32_t)(fabs(urand()) * 31));
		uint32_t ch = 1 + (uint32_t)(fabs(urand()) * 4.99);
		uint32_t n = 1 + (uint32_t)(fabs(urand()) * (NOUT - 0.01));
		bool planar = urand() > 0;
		size_t ostep = planar ? 1 : ch, cstep = planar ? NOUT : 1;
		const float *cf[NOUT];
		const double *cd[NOUT];
		int32_t off[NOUT];
		int32_t o = 8 + (int32_t)(fabs(urand()) * 500);
		for (uint32_t m = 0; m < NOUT; m++) {
			float *rw = rows + m * rs + SRC_ROW_PAD;
			double *rd = rowsd + m * rs + SRC_ROW_PAD;
			for (uint32_t k = 0; k < taps; k++) {
				rw[k] = (float)urand();
				rd[k] = urand();
			}
			for (uint32_t k = taps; k < TAPS_MAX + SRC_ROW_PAD; k++) {
				rw[k] = 0;
				rd[k] = 0;
			}
			cf[m] = rw;
			cd[m] = rd;
			off[m] = o;
			o += (int32_t)(fabs(urand()) * 3.0);	/* up to a 2.5:1 step */
		}
		float ref[NOUT * 5], got[NOUT * 5], one[5];
		double refd[NOUT * 5], gotd[NOUT * 5], oned[5];
		src_kernels_c.dot_f32(x, stride, ch, cf, off, n, taps, ref, ostep, cstep);
		src_kernels_c.dot_f64(xd, stride, ch, cd, off, n, taps, refd, ostep, cstep);
		for (size_t k = 0; k < sizeof(simd) / sizeof(simd[0]); k++) {
			const struct src_kernels *kn = src_kernels_get(simd[k]);
			if (!kn)
				continue;
			float near[NOUT * 5];
			kn->dot_f32(x, stride, ch, cf, off, n, taps, got, ostep, cstep);
			kn->dot_f32_near(x, stride, ch, cf, off, n, taps, near, ostep, cstep);
			kn->dot_f64(xd, stride, ch, cd, off, n, taps, gotd, ostep, cstep);
			for (uint32_t m = 0; m < n; m++)
				for (uint32_t c = 0; c < ch; c++) {
					size_t i = m * ostep + c * cstep;
					/* |sum| <= taps; float rounding ~ taps * 2^-24 relative. */
					assert_true(fabs(got[i] - ref[i]) <= taps * 1.2e-7);
					assert_true(fabs(gotd[i] - refd[i]) <= taps * 4e-16);
					/* Prefetching changes nothing in the arithmetic. */
					assert_memory_equal(&near[i], &got[i], sizeof(float));
				}
			for (uint32_t m = 0; m < n; m++) {
				kn->dot_f32(x, stride, ch, &cf[m], &off[m], 1, taps, one, 1, 1);
				kn->dot_f64(xd, stride, ch, &cd[m], &off[m], 1, taps, oned, 1, 1);
				for (uint32_t c = 0; c < ch; c++) {
					assert_memory_equal(&one[c], &got[m * ostep + c * cstep], sizeof(float));
					assert_memory_equal(&oned[c], &gotd[m * ostep + c * cstep], sizeof(double));
				}
			}
		}
		/* The oracle itself is group-independent too. */
		for (uint32_t m = 0; m < n; m++) {
			src_kernels_c.dot_f32(x, stride, ch, &cf[m], &off[m], 1, taps, one, 1, 1);
			for (uint32_t c = 0; c < ch; c++)
				assert_memory_equal(&one[c], &ref[m * ostep + c * cstep], sizeof(float));
		}
	}
	free(x);
	free(xd);
	free(rows);
	free(rowsd);
}

/*
 * Tap-lane kernels (short filters): within float rounding of the C one, and
 * each output the same bits alone or in a group.
 */
static void test_dot_taps_kernels(void **state)
{
	(void)state;
	const size_t stride = XLEN + 64;
	float *x = aligned_alloc(64, stride * 5 * sizeof(float));
	size_t rs = SRC_TAPWISE_MAX + 2 * SRC_ROW_PAD;
	float *rows = calloc(NOUT * rs, sizeof(float));

	for (size_t i = 0; i < stride * 5; i++)
		x[i] = (float)urand();
	for (int it = 0; it < 300; it++) {
		uint32_t taps = 8 * (1 + (uint32_t)(fabs(urand()) * (SRC_TAPWISE_MAX / 8 - 0.01)));
		uint32_t ch = 1 + (uint32_t)(fabs(urand()) * 4.99);
		uint32_t n = 1 + (uint32_t)(fabs(urand()) * (NOUT - 0.01));
		bool planar = urand() > 0;
		size_t ostep = planar ? 1 : ch, cstep = planar ? NOUT : 1;
		const float *cf[NOUT];
		int32_t off[NOUT];
		int32_t o = (int32_t)(fabs(urand()) * 500);
		for (uint32_t m = 0; m < NOUT; m++) {
			float *rw = rows + m * rs + SRC_ROW_PAD;
			for (uint32_t k = 0; k < taps; k++)
				rw[k] = (float)urand();
			cf[m] = rw;
			off[m] = o;
			o += (int32_t)(fabs(urand()) * 3.0);
		}
		float ref[NOUT * 5], got[NOUT * 5], one[5];
		assert_non_null(src_kernels_c.dot_taps_f32);
		src_kernels_c.dot_taps_f32(x, stride, ch, cf, off, n, taps, ref, ostep, cstep);
		for (size_t k = 0; k < sizeof(simd) / sizeof(simd[0]); k++) {
			const struct src_kernels *kn = src_kernels_get(simd[k]);
			if (!kn || !kn->dot_taps_f32)
				continue;
			kn->dot_taps_f32(x, stride, ch, cf, off, n, taps, got, ostep, cstep);
			for (uint32_t m = 0; m < n; m++) {
				for (uint32_t c = 0; c < ch; c++) {
					size_t i = m * ostep + c * cstep;
					assert_true(fabs(got[i] - ref[i]) <= taps * 1.2e-7);
				}
				kn->dot_taps_f32(x, stride, ch, &cf[m], &off[m], 1, taps, one, 1, 1);
				for (uint32_t c = 0; c < ch; c++)
					assert_memory_equal(&one[c], &got[m * ostep + c * cstep], sizeof(float));
			}
		}
	}
	free(x);
	free(rows);
}

/*
 * Output-lane kernels (fixed-ratio short filters): random cycles L/M that
 * the kernel takes, any start in the cycle, any count (several groups of
 * 16, cycle wraps, short groups, which must not read more than 16 samples
 * past their last window). Within rounding of the C kernel, and each
 * output the same bits computed alone.
 */
#define NOL 70
static void test_olane_kernels(void **state)
{
	(void)state;
	int32_t doff[2048 + SRC_OLANE_W];
	float *coef = malloc((size_t)SRC_TAPWISE_MAX * (2048 + 32) * sizeof(float));
	uint32_t tested = 0;

	assert_non_null(src_kernels_c.olane_f32);
	for (int it = 0; it < 400; it++) {
		uint32_t L = 1 + (uint32_t)(fabs(urand()) * 300), M = 1 + (uint32_t)(fabs(urand()) * 1.7 * L);
		/* Multiples of 4 from 8: the kernels take a 4-tap tail. */
		uint32_t taps = 4 * (2 + (uint32_t)(fabs(urand()) * (SRC_TAPWISE_MAX / 4 - 1.01)));
		if (!src_olane_fits(L, M, taps))
			continue;
		size_t cs = (L + SRC_OLANE_W + 15) & ~(size_t)15;
		for (uint32_t q = 0; q < L + SRC_OLANE_W; q++) {
			doff[q] = (int32_t)((uint64_t)q * M / L);
			for (uint32_t k = 0; k < taps; k++)
				coef[k * cs + q] = q < L ? (float)urand() : coef[k * cs + q - L];
		}
		struct src_olane ol = { .L = L, .M = M, .taps = taps, .coef_stride = cs, .doff = doff, .coef = coef };
		uint32_t ch = 1 + (uint32_t)(fabs(urand()) * 4.99);
		uint32_t n = 1 + (uint32_t)(fabs(urand()) * (NOL - 0.01));
		uint32_t q0 = (uint32_t)(fabs(urand()) * (L - 0.01));
		int32_t o0 = (int32_t)(fabs(urand()) * 100);
		bool planar = urand() > 0;
		size_t ostep = planar ? 1 : ch, cstep = planar ? NOL : 1;
		/* Window starts, and the end of what may be read. */
		int32_t o[NOL], end;
		uint32_t q = q0;
		o[0] = o0;
		for (uint32_t m = 1; m < n; m++) {
			o[m] = o[m - 1] + doff[q + 1] - doff[q];
			q = q + 1 == L ? 0 : q + 1;
		}
		end = o[n - 1] + (int32_t)taps + 16;
		/* Rows exactly that long: the last one ends the allocation (ASan sees over-reads). */
		size_t stride = (size_t)end;
		float *x = malloc(stride * ch * sizeof(float));
		for (size_t i = 0; i < stride * ch; i++)
			x[i] = (float)urand();
		float ref[NOL * 5], got[NOL * 5], one[5];
		src_kernels_c.olane_f32(x, stride, ch, &ol, q0, o0, n, ref, ostep, cstep);
		for (size_t k = 0; k < sizeof(simd) / sizeof(simd[0]); k++) {
			const struct src_kernels *kn = src_kernels_get(simd[k]);
			if (!kn || !kn->olane_f32)
				continue;
			tested++;
			kn->olane_f32(x, stride, ch, &ol, q0, o0, n, got, ostep, cstep);
			q = q0;
			for (uint32_t m = 0; m < n; m++) {
				for (uint32_t c = 0; c < ch; c++) {
					size_t i = m * ostep + c * cstep;
					assert_true(fabs(got[i] - ref[i]) <= taps * 1.2e-7);
				}
				kn->olane_f32(x, stride, ch, &ol, q, o[m], 1, one, 1, 1);
				for (uint32_t c = 0; c < ch; c++)
					assert_memory_equal(&one[c], &got[m * ostep + c * cstep], sizeof(float));
				q = q + 1 == L ? 0 : q + 1;
			}
		}
		free(x);
	}
	/* The SIMD kernel exists where AVX-512 does; make sure it ran. */
	assert_true(tested > 0 || !src_kernels_get(SRC_ISA_AVX512));
	free(coef);
}

/*
 * Cycle kernels (2 outputs per 3 inputs, cycles in lanes): the C oracle
 * against the definition summed in double, each SIMD kernel within float
 * rounding of the C one, every cycle bit-identical whether computed alone
 * or in a batch at any lane, nothing stored past the padded rows, and
 * nothing read past n_cyc + SRC_CYC_PAD + T - 1 (rows end there: ASan).
 */
#define NCYC 70
static void test_cyc_kernels(void **state)
{
	(void)state;
	const uint32_t L = 2, M = 3;
	uint32_t tested = 0;

	assert_non_null(src_kernels_c.cyc_f32);
	assert_true(src_cyc_fits(2, 3));
	for (int it = 0; it < 120; it++) {
		uint32_t T = 2 * (1 + (uint32_t)(fabs(urand()) * 59.99));
		uint32_t ch = 1 + (uint32_t)(fabs(urand()) * 4.99);
		uint32_t n = 1 + (uint32_t)(fabs(urand()) * (NCYC - 0.01));
		size_t cs = n + SRC_CYC_PAD + T - 1, os = n + SRC_CYC_PAD;
		float *coef = malloc((size_t)M * T * L * sizeof(float));
		float *comp = malloc(cs * M * ch * sizeof(float));
		float *ref = malloc(os * L * ch * sizeof(float)), *got = malloc((os * L * ch + 1) * sizeof(float));
		float one[SRC_CYC_PAD * 2 * 2 * 5];	/* 5 channels x 2 outputs, rows of 2 * SRC_CYC_PAD */
		for (size_t i = 0; i < (size_t)M * T * L; i++)
			coef[i] = (float)(urand() / 16.0);
		for (size_t i = 0; i < cs * M * ch; i++)
			comp[i] = (float)urand();
		struct src_cyc cy = { .L = L, .M = M, .T = T, .coef = coef };
		src_kernels_c.cyc_f32(comp, cs, ch, &cy, n, ref, os);
		for (uint32_t c = 0; c < ch; c++)
			for (uint32_t q = 0; q < L; q++)
				for (uint32_t i = 0; i < n; i++) {
					double e = 0.0;
					for (uint32_t sidx = 0; sidx < M * T; sidx++)
						e += (double)coef[sidx * L + q] *
						     comp[(c * M + sidx % M) * cs + i + sidx / M];
					assert_true(fabs(ref[(c * L + q) * os + i] - e) <= M * T * 1e-7);
				}
		for (size_t k = 0; k < sizeof(simd) / sizeof(simd[0]); k++) {
			const struct src_kernels *kn = src_kernels_get(simd[k]);
			if (!kn || !kn->cyc_f32)
				continue;
			tested++;
			got[os * L * ch] = 12345.0f;
			kn->cyc_f32(comp, cs, ch, &cy, n, got, os);
			assert_true(got[os * L * ch] == 12345.0f);
			for (uint32_t c = 0; c < ch; c++)
				for (uint32_t q = 0; q < L; q++)
					for (uint32_t i = 0; i < n; i++)
						assert_true(fabs(got[(c * L + q) * os + i] - ref[(c * L + q) * os + i]) <=
							    M * T * 1.2e-7);
			/* Cycle i alone (lane 0 of its own batch): the same bits. */
			for (uint32_t i = 0; i < n; i++) {
				kn->cyc_f32(comp + i, cs, ch, &cy, 1, one, SRC_CYC_PAD * 2);
				for (uint32_t c = 0; c < ch; c++)
					for (uint32_t q = 0; q < L; q++)
						assert_memory_equal(&one[(c * L + q) * SRC_CYC_PAD * 2],
								    &got[(c * L + q) * os + i], sizeof(float));
			}
		}
		free(coef);
		free(comp);
		free(ref);
		free(got);
	}
	/* AVX2 and AVX-512 have one: make sure they ran where the machine has them. */
	assert_true(tested > 0 || !src_kernels_get(SRC_ISA_AVX2));
}

/*
 * A 2:1 decimator with aligned row copies (the AVX-512 kernel pairs output
 * m with m + 8 there): outputs 2 samples apart, the row of output m is copy
 * (offset mod 16). Within rounding of the C kernel, bit-identical alone.
 */
static void test_dot_decimator(void **state)
{
	(void)state;
	enum { N = 128, W = 16, PAD = 32 };
	const size_t stride = 2048;
	float *x = aligned_alloc(64, stride * 3 * sizeof(float));
	for (size_t i = 0; i < stride * 3; i++)
		x[i] = (float)urand();
	for (int it = 0; it < 40; it++) {
		uint32_t taps = 8 * (1 + (uint32_t)(fabs(urand()) * 47.99));
		uint32_t ch = 1 + (uint32_t)(fabs(urand()) * 2.99);
		uint32_t n = 1 + (uint32_t)(fabs(urand()) * (N - 0.01));
		size_t cs = (PAD + W + taps + PAD + W + 15) / 16 * 16;
		float *copies = aligned_alloc(64, W * cs * sizeof(float)), row[400];
		memset(copies, 0, W * cs * sizeof(float));
		for (uint32_t k = 0; k < taps; k++)
			row[k] = (float)urand();
		for (uint32_t a = 0; a < W; a++)
			memcpy(copies + a * cs + PAD + a, row, taps * sizeof(float));
		const float *cf[N];
		int32_t off[N];
		int32_t o0 = 32 + 2 * (int32_t)(fabs(urand()) * 50);
		for (uint32_t m = 0; m < N; m++) {
			off[m] = o0 + 2 * (int32_t)m;
			cf[m] = copies + (off[m] & (W - 1)) * cs + PAD + (off[m] & (W - 1));
		}
		bool planar = urand() > 0;
		size_t ostep = planar ? 1 : ch, cstep = planar ? N : 1;
		float ref[N * 3], got[N * 3], one[3];
		src_kernels_c.dot_f32(x, stride, ch, cf, off, n, taps, ref, ostep, cstep);
		for (size_t k = 0; k < sizeof(simd) / sizeof(simd[0]); k++) {
			const struct src_kernels *kn = src_kernels_get(simd[k]);
			if (!kn)
				continue;
			kn->dot_f32_near(x, stride, ch, cf, off, n, taps, got, ostep, cstep);
			for (uint32_t m = 0; m < n; m++) {
				for (uint32_t c = 0; c < ch; c++)
					assert_true(fabs(got[m * ostep + c * cstep] - ref[m * ostep + c * cstep]) <= taps * 1.2e-7);
				kn->dot_f32_near(x, stride, ch, &cf[m], &off[m], 1, taps, one, 1, 1);
				for (uint32_t c = 0; c < ch; c++)
					assert_memory_equal(&one[c], &got[m * ostep + c * cstep], sizeof(float));
			}
		}
		free(copies);
	}
	free(x);
}

/*
 * Half-band kernels: within rounding of the C loop, and each output the same
 * bits whether computed alone or in a run (lanes are outputs).
 */
static void test_hb_kernels(void **state)
{
	(void)state;
	const size_t stride = 1024;
	float *x = aligned_alloc(64, stride * 3 * sizeof(float));
	double *xd = aligned_alloc(64, stride * 3 * sizeof(double));
	float hb[SRC_HB_MAX_NH + 1], ref[200 * 3], got[200 * 3], one[3];
	double hbd[SRC_HB_MAX_NH + 1], refd[200 * 3], gotd[200 * 3], oned[3];

	for (size_t i = 0; i < stride * 3; i++) {
		x[i] = (float)urand();
		xd[i] = urand();
	}
	for (int it = 0; it < 100; it++) {
		uint32_t nh = 1 + (uint32_t)(fabs(urand()) * (SRC_HB_MAX_NH - 0.01));
		uint32_t n = 1 + (uint32_t)(fabs(urand()) * 199.99);
		uint32_t ch = 1 + (uint32_t)(fabs(urand()) * 2.99);
		int32_t c0 = 2 * (int32_t)nh + (int32_t)(fabs(urand()) * 200);
		bool planar = urand() > 0;
		size_t ostep = planar ? 1 : ch, cstep = planar ? 200 : 1;
		for (uint32_t j = 0; j <= nh; j++) {
			hb[j] = (float)urand();
			hbd[j] = urand();
		}
		src_kernels_c.hb_f32(x, stride, ch, c0, n, hb, nh, ref, ostep, cstep);
		src_kernels_c.hb_f64(xd, stride, ch, c0, n, hbd, nh, refd, ostep, cstep);
		for (size_t k = 0; k < sizeof(simd) / sizeof(simd[0]); k++) {
			const struct src_kernels *kn = src_kernels_get(simd[k]);
			if (!kn || !kn->hb_f32)
				continue;
			kn->hb_f32(x, stride, ch, c0, n, hb, nh, got, ostep, cstep);
			kn->hb_f64(xd, stride, ch, c0, n, hbd, nh, gotd, ostep, cstep);
			for (uint32_t m = 0; m < n; m++)
				for (uint32_t c = 0; c < ch; c++) {
					size_t i = m * ostep + c * cstep;
					assert_true(fabs(got[i] - ref[i]) <= (2 * nh + 1) * 2.4e-7);
					assert_true(fabs(gotd[i] - refd[i]) <= (2 * nh + 1) * 8e-16);
				}
			for (uint32_t m = 0; m < n; m += 7) {
				kn->hb_f32(x, stride, ch, c0 + 2 * (int32_t)m, 1, hb, nh, one, 1, 1);
				kn->hb_f64(xd, stride, ch, c0 + 2 * (int32_t)m, 1, hbd, nh, oned, 1, 1);
				for (uint32_t c = 0; c < ch; c++) {
					assert_memory_equal(&one[c], &got[m * ostep + c * cstep], sizeof(float));
					assert_memory_equal(&oned[c], &gotd[m * ostep + c * cstep], sizeof(double));
				}
			}
		}
	}
	free(x);
	free(xd);
}

static void test_interp_kernels(void **state)
{
	(void)state;
	size_t rs = TAPS_MAX + 2 * SRC_ROW_PAD;
	float *t = calloc(5 * rs, sizeof(float)), dst[TAPS_MAX], ref[TAPS_MAX];
	double *td = calloc(5 * rs, sizeof(double)), dstd[TAPS_MAX], refd[TAPS_MAX];

	for (size_t i = 0; i < 5 * rs; i++) {
		t[i] = (float)urand();
		td[i] = urand();
	}
	for (int it = 0; it < 50; it++) {
		double frac = fabs(urand());
		uint32_t taps = 8 * (1 + (uint32_t)(fabs(urand()) * 31));
		src_kernels_c.interp_f32(t + 2 * rs, rs, frac, taps, ref);
		src_kernels_c.interp_f64(td + 2 * rs, rs, frac, taps, refd);
		for (size_t k = 0; k < sizeof(simd) / sizeof(simd[0]); k++) {
			const struct src_kernels *kn = src_kernels_get(simd[k]);
			if (!kn)
				continue;
			kn->interp_f32(t + 2 * rs, rs, frac, taps, dst);
			kn->interp_f64(td + 2 * rs, rs, frac, taps, dstd);
			for (uint32_t i = 0; i < taps; i++) {
				assert_true(fabsf(dst[i] - ref[i]) <= 1e-6f);
				assert_true(fabs(dstd[i] - refd[i]) <= 1e-14);
			}
		}
	}
	free(t);
	free(td);
}

/* Whole conversions: each kernel's stream equals the C kernel's within float rounding. */
static void run(enum src_isa isa, uint32_t in, uint32_t out, uint32_t ch, enum vd_resample_quality q,
		double adjust, const float *x, size_t n, float *y, size_t *ny)
{
	struct vd_resample_config c = { in, out, ch, q, VD_FORMAT_F32, VD_FORMAT_F32 };
	struct vd_resampler *r;
	char msg[128];
	size_t pos = 0, made = 0;

	assert_int_equal(vd_resampler_new_isa(&c, isa, &r, msg, sizeof(msg)), 0);
	assert_int_equal(vd_resampler_set_adjust(r, adjust), 0);
	while (pos < n) {
		uint32_t fi = (uint32_t)(n - pos < 333 ? n - pos : 333), fo = 100000;
		vd_resampler_process(r, x + pos * ch, &fi, y + made * ch, &fo);
		pos += fi;
		made += fo;
	}
	for (;;) {
		uint32_t fo = 100000;
		vd_resampler_drain(r, y + made * ch, &fo);
		made += fo;
		if (!fo)
			break;
	}
	vd_resampler_free(r);
	*ny = made;
}

static void test_streams(void **state)
{
	static const struct { uint32_t in, out; } dirs[] = {
		{ 44100, 48000 }, { 48000, 16000 }, { 96000, 44100 }, { 8000, 192000 }, { 44100, 48001 },
	};
	static const uint32_t chans[] = { 1, 2, 3, 5 };
	(void)state;

	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++)
		for (int q = 0; q < VD_RESAMPLE_QUALITY_COUNT; q++)
			for (size_t c = 0; c < sizeof(chans) / sizeof(chans[0]); c++) {
				uint32_t ch = chans[c];
				size_t n = 3000;
				double adj = (q & 1) ? 1.013 : 1.0;
				float *x = malloc(n * ch * sizeof(float));
				float *ref = malloc(100000 * ch * sizeof(float)), *got = malloc(100000 * ch * sizeof(float));
				size_t nr, ng;
				for (size_t i = 0; i < n * ch; i++)
					x[i] = (float)(0.5 * urand());
				run(SRC_ISA_C, dirs[d].in, dirs[d].out, ch, q, adj, x, n, ref, &nr);
				for (size_t k = 0; k < sizeof(simd) / sizeof(simd[0]); k++) {
					if (!src_kernels_get(simd[k]))
						continue;
					run(simd[k], dirs[d].in, dirs[d].out, ch, q, adj, x, n, got, &ng);
					assert_int_equal(ng, nr);
					double worst = 0;
					for (size_t i = 0; i < nr * ch; i++)
						worst = fmax(worst, fabs(got[i] - ref[i]));
					/* Float path: well under -120 dBFS; very-high (double) at float output rounding. */
					assert_true(worst < (q == VD_RESAMPLE_VERY_HIGH ? 1e-7 : 1e-6));
				}
				free(x);
				free(ref);
				free(got);
			}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernels_present),
		cmocka_unit_test(test_dot_kernels),
		cmocka_unit_test(test_dot_taps_kernels),
		cmocka_unit_test(test_olane_kernels),
		cmocka_unit_test(test_cyc_kernels),
		cmocka_unit_test(test_dot_decimator),
		cmocka_unit_test(test_hb_kernels),
		cmocka_unit_test(test_interp_kernels),
		cmocka_unit_test(test_streams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
