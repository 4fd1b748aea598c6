/* src/dsp/src/src-impl.h - internals of the sample-rate converter shared by design, kernels and engine. */
#ifndef VD_SRC_IMPL_H
#define VD_SRC_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <virtdsp/resample.h>

/* Zero taps stored before and after every coefficient row, so a kernel can
 * read a row shifted by up to this many taps in either direction. */
#define SRC_ROW_PAD	32
/* Consecutive outputs a kernel computes together (they share data loads). */
#define SRC_GROUP	4
/* Stage buffers start on multiples of this many samples (64 bytes of float),
 * so every kernel's lanes can follow absolute input indices. */
#define SRC_ALIGN	16
/* Taps are a multiple of this. */
#define SRC_TAP_MULT	8
#define SRC_MAX_STAGES	12

/* One FIR stage as the design sees it: a lowpass prototype sampled in phases. */
struct src_filter_spec {
	double fpass, fstop;	/* cycles per stage-input sample */
	double atten_db;	/* stop-band attenuation */
	double xs_n, xp_n;	/* transition half-widths times length (per preset) */
	uint32_t half_mult;	/* half length a multiple of this (0: SRC_TAP_MULT / 2) */
};

struct src_preset {
	const char *name;
	double pass;		/* pass edge, fraction of the lower Nyquist */
	double atten_db;
	double xs_n, xp_n;	/* measured for the Kaiser window at atten_db / 2.5e-4 pass deviation */
	uint32_t min_phases;	/* interpolation table density */
	bool dbl;		/* double-precision path */
	bool halfband;		/* halving stages as half-bands (longer, but half the taps vanish) */
};

extern const struct src_preset src_presets[VD_RESAMPLE_QUALITY_COUNT];

/*
 * Kernels. @n_out consecutive outputs, each with its own coefficient row
 * (pointer to tap 0; SRC_ROW_PAD zeros readable on each side) and window
 * start @off[m] (index of its tap 0 in every channel row of @x; non-
 * decreasing, at most SRC_MAX_SPREAD apart within SRC_GROUP consecutive
 * outputs). Lanes are assigned by x index modulo the kernel's vector width
 * (@x is SRC_ALIGN-aligned), so an output's value does not depend on which
 * outputs were computed with it. Channel c of output m is stored at
 * out[m * ostep + c * cstep] (interleaved frames or planar rows).
 */
#define SRC_MAX_SPREAD	8
typedef void (*src_dot_f32_fn)(const float *x, size_t stride, uint32_t channels,
			       const float *const *coef, const int32_t *off, uint32_t n_out,
			       uint32_t taps, float *out, size_t ostep, size_t cstep);
typedef void (*src_dot_f64_fn)(const double *x, size_t stride, uint32_t channels,
			       const double *const *coef, const int32_t *off, uint32_t n_out,
			       uint32_t taps, double *out, size_t ostep, size_t cstep);
/* dst[k] = cubic (4-point Lagrange) interpolation of rows r[-1..2] at t in [0,1). */
typedef void (*src_interp_f32_fn)(const float *r0, size_t row_stride, double t, uint32_t taps, float *dst);
typedef void (*src_interp_f64_fn)(const double *r0, size_t row_stride, double t, uint32_t taps, double *dst);

/*
 * Half-band decimator by 2: output m (m < @n_out) is centred on x index
 * @c0 + 2m of every channel row and equals
 *   hb[0] * x[c] + sum_{j=1..nh} hb[j] * (x[c - 2j + 1] + x[c + 2j - 1])
 * accumulated in that order (the even taps of a half-band are zero). May
 * read up to 16 samples past the last window (finite data: lanes beyond
 * n_out are computed and dropped). Stores like dot.
 */
#define SRC_HB_MAX_NH	64	/* longest half-band a kernel takes */
typedef void (*src_hb_f32_fn)(const float *x, size_t stride, uint32_t channels, int32_t c0,
			      uint32_t n_out, const float *hb, uint32_t nh, float *out, size_t ostep,
			      size_t cstep);
typedef void (*src_hb_f64_fn)(const double *x, size_t stride, uint32_t channels, int32_t c0,
			      uint32_t n_out, const double *hb, uint32_t nh, double *out, size_t ostep,
			      size_t cstep);

/*
 * Short filters: the same contract as the dot kernels, but lanes follow the
 * tap index (tap k in lane k mod 8) and data loads are unaligned, so a
 * group costs no window rounding and no padding taps. Taps a multiple of 8.
 */
#define SRC_TAPWISE_MAX	64	/* longest filter worth it */

/*
 * A fixed-ratio stage (never steered) as a cycle of @L outputs per @M input
 * samples: cycle output q (q < L + SRC_OLANE_W) starts its window doff[q] =
 * floor(q * M / L) samples after cycle output 0's and uses coefficient
 * coef[k * coef_stride + q] for tap k (taps-major, so consecutive outputs'
 * taps are consecutive; entries past L repeat the first ones).
 */
#define SRC_OLANE_W	16	/* outputs per vector */
struct src_olane {
	uint32_t L, M, taps;
	size_t coef_stride;
	const int32_t *doff;
	const float *coef;
};

/*
 * Outputs in lanes (short fixed-ratio filters): @n_out consecutive outputs,
 * the first at cycle position @q0 (< L) with its window at @o0 in every
 * channel row of @x. Each output sums its taps in four interleaved chains
 * (chain r takes taps r, r+4, ... in order), reduced as (0+1)+(2+3): its
 * bits depend only on its coefficients and data, never on its group. Taps
 * a multiple of 4, at least 8; may read up to 16 samples past the last window. Stores
 * like dot.
 */
typedef void (*src_olane_f32_fn)(const float *x, size_t stride, uint32_t channels,
				 const struct src_olane *ol, uint32_t q0, int32_t o0, uint32_t n_out,
				 float *out, size_t ostep, size_t cstep);
/* Whether an AVX-512 output-lane kernel can take this schedule (window spread). */
static inline bool src_olane_fits(uint32_t L, uint32_t M, uint32_t taps)
{
	/* The spread of 16 outputs (at most ceil(15 M / L)) plus 7 taps must
	 * index within two vectors. */
	return taps % 4 == 0 && taps >= 8 && taps <= SRC_TAPWISE_MAX &&
	       ((uint64_t)(SRC_OLANE_W - 1) * M + L - 1) / L + 7 < 2 * SRC_OLANE_W;
}

/*
 * A fixed small-ratio stage at its nominal phases (L/M reduced, small L)
 * with cycles in lanes: each input channel is split into its M polyphase
 * components, comp[(c * M + r) * cstride + i] = channel c at window index
 * i * M + r (relative to cycle 0's window start), so tap s of cycle i is
 * comp[s mod M][i + s / M] and one contiguous load feeds all the lanes.
 * Output q of cycle i is
 *   sum over s < M * T of coef[s * L + q] * comp[s mod M][i + s / M]
 * (coef holds output q's row shifted by its window offset, zeros around;
 * T is even), summed in two chains from the ends inwards: the front one
 * takes s = 0, 1, ... below M * T / 2, the back one s = M * T - 1, ... down
 * to it, and the result is front + back. The partial sums stay small until
 * the last few taps near the centre, so rounding stays far below what one
 * chain in tap order (or three, by component) loses. An output's bits
 * depend only on its data, never on the lane or group that computed it.
 */
#define SRC_CYC_PAD	32	/* cycles a kernel may compute (and read) past n_cyc */
struct src_cyc {
	uint32_t L, M, T;
	const float *coef;	/* [M * T][L] */
};
/* Stores output q of cycle i, channel c at out[(c * L + q) * ostride + i]. */
typedef void (*src_cyc_f32_fn)(const float *comp, size_t cstride, uint32_t channels,
			       const struct src_cyc *cy, uint32_t n_cyc, float *out, size_t ostride);
/* Ratios the SIMD cycle kernels are specialised for. */
static inline bool src_cyc_fits(uint32_t L, uint32_t M)
{
	return L == 2 && M == 3;
}

struct src_kernels {
	const char *name;
	/* Bytes per vector load: coefficient rows whose tap 0 sits at
	 * (window offset) modulo this make every load aligned (0: no matter). */
	uint32_t vec_bytes;
	src_dot_f32_fn dot_f32;
	src_dot_f32_fn dot_f32_near;	/* the same, for rows already in L1 (no prefetch) */
	src_dot_f32_fn dot_taps_f32;	/* lanes by tap (short filters) */
	src_olane_f32_fn olane_f32;	/* outputs in lanes (short fixed-ratio filters) */
	src_cyc_f32_fn cyc_f32;	/* cycles in lanes (small-L nominal stages) */
	src_dot_f64_fn dot_f64;
	src_interp_f32_fn interp_f32;
	src_interp_f64_fn interp_f64;
	src_hb_f32_fn hb_f32;
	src_hb_f64_fn hb_f64;
};

enum src_isa { SRC_ISA_C, SRC_ISA_SSE2, SRC_ISA_AVX2, SRC_ISA_AVX512, SRC_ISA_COUNT };

/* NULL when this machine (or build) lacks the instruction set. */
const struct src_kernels *src_kernels_get(enum src_isa isa);
const struct src_kernels *src_kernels_best(void);

extern const struct src_kernels src_kernels_c;
#if defined(__x86_64__) || defined(__i386__)
extern const struct src_kernels src_kernels_sse2;
extern const struct src_kernels src_kernels_avx2;
extern const struct src_kernels src_kernels_avx512;
#endif

/* Kaiser-windowed sinc: value at @tau (stage-input samples) for cutoff @fc, half length @h. */
double src_kaiser_sinc(double tau, double fc, double h, double beta);
double src_kaiser_beta(double atten_db);

/* Choose the half length (multiple of SRC_ALIGN/2) and cutoff meeting @spec. */
void src_design(const struct src_filter_spec *spec, uint32_t *half, double *fc);

/* Test hook: force an instruction set for resamplers created afterwards
 * on this configuration (SRC_ISA_COUNT = automatic). Stored in the config's
 * reserved field by tests only; see resample.c. */
int vd_resampler_new_isa(const struct vd_resample_config *cfg, enum src_isa isa,
			 struct vd_resampler **r, char *msg, size_t msg_size);
/* Test hook: number of stages and the kernel name in use. */
uint32_t vd_resampler_stages(const struct vd_resampler *r);
const char *vd_resampler_kernel_name(const struct vd_resampler *r);

#endif
