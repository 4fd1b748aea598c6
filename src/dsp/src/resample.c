/* src/dsp/src/resample.c - the streaming sample-rate converter: stage planning, tables, buffers, accounting. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <virtdsp/error.h>
#include <virtdsp/resample.h>

#include "src-impl.h"

#define MAX_RATE	1536000u
#define MAX_RATIO	256u
#define MAX_EXACT_L	2048u	/* larger denominators use interpolated phases only */
#define BLOCK		1024u	/* frames a stage buffer takes per round */
#define SLACK		16u	/* readable frames past the data (SIMD over-read of zero taps) */
#define TMP_FRAMES	256u
#define BATCH		128u	/* outputs scheduled per kernel call */
#define INTERP_ROWS	16u	/* ... when their rows are interpolated */
#define SHIFT_BUDGET	(40u << 10)	/* bytes of pre-aligned row copies per stage */
#define NEAR_BYTES	(16u << 10)	/* tables this small need no prefetch */
#define SHIFT_PAD	32u	/* zeros before tap 0 of an aligned copy (>= SRC_MAX_SPREAD + 15) */
#define FRAC_BITS	32
#define CYC_MAX_OUT	512u	/* outputs per cycle-kernel call */
#define CYC_MAX_L	4u
#define PREDECIMATE	2.5	/* halve the rate first while in/out exceeds this */
/* Cost of a tap in a table too large for aligned copies, relative to one in
 * a single aligned row (measured: unaligned loads, rows streamed from L2). */
#define FAR_TAP_COST	1.35

struct src_stage {
	const struct src_kernels *k;
	uint32_t half, taps;
	uint32_t hb_nh;		/* half-band decimator: tap pairs (table: centre, pairs) */
	bool tapwise;		/* short float filter: dot_taps kernel */
	/* Fixed-ratio short filter with outputs in lanes (olane kernel): */
	struct src_olane ol;
	void *ol_mem;		/* doff and coef of ol */
	uint32_t *ol_q;		/* cycle position of each phase */
	/* Nominal phases of a small-ratio last stage with cycles in lanes: */
	src_cyc_f32_fn cyc_fn;
	struct src_cyc cy;
	uint32_t cy_q[CYC_MAX_L];	/* position in the cycle of each phase */
	float *cy_coef, *cy_comp, *cy_out;
	size_t cy_cs, cy_os;	/* component and output row strides */
	/* The components persist while the grid does: entry lo + i holds input
	 * g0 + i*M + r; the first n entries are complete (all M in the data). */
	int64_t cy_g0;
	size_t cy_lo, cy_n;
	uint32_t phases;	/* 0: one fixed phase (integer decimator) */
	size_t row_stride;	/* samples between table rows */
	void *table;
	const void *row0;	/* phase 0, tap 0 */
	uint32_t exact_mul;	/* table phases per nominal phase (P/L), 0 if not exact */
	size_t exact_row_bytes;	/* exact_mul rows, in bytes */
	/* Copies of the nominal rows, one per alignment of the window (tables
	 * small enough to stay in L1): every coefficient load is aligned. */
	void *aligned;
	uint32_t align_mask;	/* alignments - 1 (0: no copies) */
	size_t align_row_bytes;	/* between copies of one row: stride + 1 sample */
	size_t align_phase_bytes;	/* between nominal phases */
	uint64_t den;		/* position fraction denominator */
	double phase_scale;	/* P / den */
	uint64_t nominal_step;	/* input samples per output, in 1/den */
	int64_t step_int;
	uint64_t step_frac;
	/* stream */
	int64_t ipos;		/* next output sits at ipos + num/den (stage input samples) */
	uint64_t num;
	int64_t base;		/* stage input index of buf[0] (multiple of SRC_ALIGN) */
	uint32_t fill;
	void *buf;		/* channels rows of cap samples */
	size_t cap;
};

struct vd_resampler {
	struct vd_resample_config cfg;
	const struct src_preset *preset;
	const struct src_kernels *k;
	bool auto_isa;		/* kernels chosen per stage, not forced by a test */
	bool dbl;
	size_t ss;		/* bytes per internal sample */
	uint32_t n_stages;	/* 0: same rate, format conversion only */
	uint32_t decim;		/* log2 of the integer pre-decimation */
	bool post;		/* the last stage is a sharp 2:1 after a fixed-ratio stage to 2*out */
	uint64_t last_num, last_den;	/* last stage input samples per input frame */
	struct src_stage st[SRC_MAX_STAGES];
	double adjust;
	uint32_t latency;
	uint64_t lookahead_in;	/* input frames needed past an output's time */
	uint64_t n_in;
	bool draining, done;
	void *tmp;		/* interleaved output of the last stage */
	void *scratch;		/* INTERP_ROWS interpolated rows */
	size_t scratch_stride;
};

static uint64_t gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

const char *vd_resample_quality_name(enum vd_resample_quality q)
{
	if ((unsigned)q >= VD_RESAMPLE_QUALITY_COUNT)
		return NULL;
	return src_presets[q].name;
}

int vd_resample_quality_from_name(const char *name, enum vd_resample_quality *q)
{
	for (int i = 0; name && i < VD_RESAMPLE_QUALITY_COUNT; i++)
		if (strcmp(name, src_presets[i].name) == 0) {
			*q = (enum vd_resample_quality)i;
			return 0;
		}
	return -EINVAL;
}

static bool format_ok(enum vd_sample_format f)
{
	return f == VD_FORMAT_F32 || f == VD_FORMAT_S16 || f == VD_FORMAT_S32;
}

int vd_resample_config_check(const struct vd_resample_config *cfg, struct vd_error *err)
{
	if (!cfg)
		return vd_error_set(err, -EINVAL, NULL, "no resampler configuration");
	if (cfg->rate_in < 1 || cfg->rate_in > MAX_RATE || cfg->rate_out < 1 || cfg->rate_out > MAX_RATE)
		return vd_error_set(err, -EINVAL, NULL,
				    "sample rates must be 1..%u Hz (got %u Hz -> %u Hz)",
				    MAX_RATE, cfg->rate_in, cfg->rate_out);
	if ((uint64_t)cfg->rate_in > (uint64_t)cfg->rate_out * MAX_RATIO ||
	    (uint64_t)cfg->rate_out > (uint64_t)cfg->rate_in * MAX_RATIO)
		return vd_error_set(err, -EINVAL, NULL,
				    "conversion ratio %u Hz -> %u Hz is out of range (at most %u:1 either way)",
				    cfg->rate_in, cfg->rate_out, MAX_RATIO);
	if (cfg->channels < 1 || cfg->channels > VD_MAX_CHANNELS)
		return vd_error_set(err, -EINVAL, NULL, "channels must be 1..%u (got %u)",
				    VD_MAX_CHANNELS, cfg->channels);
	if ((unsigned)cfg->quality >= VD_RESAMPLE_QUALITY_COUNT)
		return vd_error_set(err, -EINVAL, NULL, "unknown resampler quality %d", (int)cfg->quality);
	if (!format_ok(cfg->format_in))
		return vd_error_set(err, -EINVAL, NULL,
				    "resampler input format %s is not supported (f32, s16 or s32)",
				    vd_format_name(cfg->format_in) ? vd_format_name(cfg->format_in) : "?");
	if (!format_ok(cfg->format_out))
		return vd_error_set(err, -EINVAL, NULL,
				    "resampler output format %s is not supported (f32, s16 or s32)",
				    vd_format_name(cfg->format_out) ? vd_format_name(cfg->format_out) : "?");
	return 0;
}

static void *zalloc_aligned(size_t size)
{
	size = (size + 63) / 64 * 64;
	void *p = aligned_alloc(64, size ? size : 64);
	if (p)
		memset(p, 0, size ? size : 64);
	return p;
}

static inline void *row_ptr(const struct vd_resampler *r, const struct src_stage *s, int32_t phase)
{
	return (char *)s->table + ((size_t)(phase + 1) * s->row_stride + SRC_ROW_PAD) * r->ss;
}

/* Fill one table row: taps of the prototype at phase @f, normalised to unity gain. */
static void build_row(const struct vd_resampler *r, const struct src_stage *s, void *row,
		      double f, double fc, double beta, double *work)
{
	double sum = 0.0;

	for (uint32_t k = 0; k < s->taps; k++) {
		work[k] = src_kaiser_sinc(f + (double)s->half - 1.0 - (double)k, fc, s->half, beta);
		sum += work[k];
	}
	for (uint32_t k = 0; k < s->taps; k++) {
		if (r->dbl)
			((double *)row)[k] = work[k] / sum;
		else
			((float *)row)[k] = (float)(work[k] / sum);
	}
}

static int stage_init(struct vd_resampler *r, struct src_stage *s, const struct src_filter_spec *spec,
		      uint32_t phases)
{
	double fc, beta = src_kaiser_beta(spec->atten_db);
	uint32_t rows = phases ? phases + 3 : 1;
	double *work;

	src_design(spec, &s->half, &fc);
	s->taps = 2 * s->half;
	s->phases = phases;
	s->row_stride = s->taps + 2 * SRC_ROW_PAD;
	s->table = zalloc_aligned(rows * s->row_stride * r->ss);
	work = malloc(s->taps * sizeof(double));
	if (!s->table || !work) {
		free(work);
		return -ENOMEM;
	}
	if (!phases) {
		/* The table's single row sits where phase -1 would. */
		build_row(r, s, (char *)s->table + SRC_ROW_PAD * r->ss, 0.0, fc, beta, work);
		s->row0 = (char *)s->table + SRC_ROW_PAD * r->ss;
	} else {
		for (int32_t p = -1; p <= (int32_t)phases + 1; p++)
			build_row(r, s, row_ptr(r, s, p), (double)p / phases, fc, beta, work);
		s->row0 = row_ptr(r, s, 0);
	}
	free(work);
	/* Room for a block of input plus everything a group of outputs can reach. */
	s->cap = ((size_t)s->taps + BLOCK + 8 * SRC_GROUP + 2 * SLACK + 15) / 16 * 16;
	s->buf = zalloc_aligned(s->cap * r->cfg.channels * r->ss);
	return s->buf ? 0 : -ENOMEM;
}

/*
 * A halving stage as a half-band: cutoff at a quarter of its rate, so every
 * even tap but the centre is zero. The transition is symmetric about the
 * cutoff, so its pass edge sits as far below rate/4 as the stop edge
 * (everything that would fold onto [0, final Nyquist]) sits above: at
 * least the final Nyquist, beyond the preset's pass edge. Pass and stop
 * deviation are both the stop band's. Returns 1 when it does not apply.
 */
static int halfband_init(struct vd_resampler *r, struct src_stage *s, const struct src_filter_spec *spec)
{
	double beta = src_kaiser_beta(spec->atten_db), sum;
	double len = spec->xs_n / (spec->fstop - 0.25);
	uint32_t nh = (uint32_t)ceil((len - 1.0) / 4.0);

	if (spec->fstop <= 0.25 || nh > SRC_HB_MAX_NH)
		return 1;
	if (nh < 1)
		nh = 1;
	s->hb_nh = nh;
	s->half = 2 * nh;
	s->taps = 2 * s->half;
	s->phases = 0;
	s->row_stride = nh + 1;
	s->table = zalloc_aligned((nh + 1) * r->ss);
	if (!s->table)
		return -ENOMEM;
	double h[SRC_HB_MAX_NH + 1];
	h[0] = src_kaiser_sinc(0.0, 0.25, 2.0 * nh, beta);
	sum = h[0];
	for (uint32_t j = 1; j <= nh; j++) {
		h[j] = src_kaiser_sinc(2.0 * j - 1.0, 0.25, 2.0 * nh, beta);
		sum += 2.0 * h[j];
	}
	for (uint32_t j = 0; j <= nh; j++) {
		if (r->dbl)
			((double *)s->table)[j] = h[j] / sum;
		else
			((float *)s->table)[j] = (float)(h[j] / sum);
	}
	s->row0 = s->table;
	s->cap = ((size_t)s->taps + BLOCK + 8 * SRC_GROUP + 2 * SLACK + 15) / 16 * 16;
	s->buf = zalloc_aligned(s->cap * r->cfg.channels * r->ss);
	return s->buf ? 0 : -ENOMEM;
}

static void stage_reset(const struct vd_resampler *r, struct src_stage *s)
{
	s->ipos = 0;
	s->num = 0;
	/* History before the stream is silence; outputs start at input 0. */
	s->base = (1 - (int64_t)s->half) & ~(int64_t)(SRC_ALIGN - 1);
	s->fill = (uint32_t)(0 - s->base);
	memset(s->buf, 0, s->cap * r->cfg.channels * r->ss);
	s->cy_g0 = INT64_MIN;
	s->cy_lo = 0;
	s->cy_n = 0;
	s->step_int = (int64_t)(s->nominal_step / s->den);
	s->step_frac = s->nominal_step % s->den;
}

static void set_step(struct src_stage *s, double adjust)
{
	uint64_t step = s->nominal_step;

	if (adjust != 1.0)
		step = (uint64_t)llround((double)s->nominal_step / adjust);
	s->step_int = (int64_t)(step / s->den);
	s->step_frac = step % s->den;
}

/* Bytes of aligned copies for @nominal rows of @taps (0: the kernel needs none). */
static size_t align_bytes(const struct src_kernels *k, size_t ss, uint32_t taps, uint32_t nominal,
			  size_t *stride)
{
	uint32_t w = k->vec_bytes / (uint32_t)ss;

	if (w < 2)
		return 0;
	*stride = (SHIFT_PAD + w + taps + SHIFT_PAD + w - 1) / w * w;
	return (size_t)nominal * w * *stride * ss;
}

/*
 * Aligned copies of the @nominal rows of @s (decimators: one), when the
 * kernel loads vectors and they fit the budget. Copy a of a row has tap 0 at
 * an address congruent to a samples modulo the vector, so a window at
 * offset o uses copy o mod vector and all its loads are aligned.
 */
static int stage_align(struct vd_resampler *r, struct src_stage *s, uint32_t nominal)
{
	uint32_t w = s->k->vec_bytes / (uint32_t)r->ss;
	size_t stride = 0, bytes;

	if (s->hb_nh || (s->phases && !s->exact_mul))
		return 0;
	bytes = align_bytes(s->k, r->ss, s->taps, nominal, &stride);
	if (!bytes || bytes > SHIFT_BUDGET)
		return 0;
	s->aligned = zalloc_aligned(bytes);
	if (!s->aligned)
		return -ENOMEM;
	for (uint32_t q = 0; q < nominal; q++) {
		const char *src = s->phases ? row_ptr(r, s, (int32_t)(q * s->exact_mul)) : s->row0;
		for (uint32_t a = 0; a < w; a++) {
			char *dst = (char *)s->aligned + (((size_t)q * w + a) * stride + SHIFT_PAD + a) * r->ss;
			memcpy(dst, src, s->taps * r->ss);
		}
	}
	s->align_mask = w - 1;
	s->align_row_bytes = (stride + 1) * r->ss;
	s->align_phase_bytes = (size_t)w * stride * r->ss;
	return 0;
}

static uint32_t design_taps(const struct src_filter_spec *spec)
{
	uint32_t half;
	double fc;

	src_design(spec, &half, &fc);
	return 2 * half;
}

/* The polyphase stage for ratio L/M (reduced) at @spec; @fixed: never steered. */
static int poly_init(struct vd_resampler *r, struct src_stage *s, const struct src_filter_spec *spec,
		     uint64_t L, uint64_t M, bool fixed)
{
	const struct src_preset *pr = r->preset;
	uint32_t phases, exact_mul = 0;
	int ret;

	if (fixed) {
		/* Only the nominal phases are ever used. */
		exact_mul = 1;
		phases = (uint32_t)L;
	} else if (L <= MAX_EXACT_L) {
		exact_mul = (pr->min_phases + (uint32_t)L - 1) / (uint32_t)L;
		phases = exact_mul * (uint32_t)L;
	} else {
		phases = pr->min_phases;
	}
	ret = stage_init(r, s, spec, phases);
	if (ret < 0)
		return ret;
	s->exact_mul = exact_mul;
	s->exact_row_bytes = (size_t)exact_mul * s->row_stride * r->ss;
	s->den = L << FRAC_BITS;
	s->nominal_step = M << FRAC_BITS;
	s->phase_scale = (double)phases / (double)s->den;
	return 0;
}

/*
 * The output-lane schedule of a fixed-ratio stage (L/M reduced): cycle
 * output q sits at q*M/L, i.e. at phase q*M mod L, window floor(q*M/L) on.
 */
static int olane_init(struct vd_resampler *r, struct src_stage *s, uint32_t L, uint32_t M)
{
	const uint32_t n = L + SRC_OLANE_W;
	size_t cs = (n + 15) & ~(size_t)15;
	size_t doff_bytes = ((n * sizeof(int32_t)) + 63) & ~(size_t)63;
	char *mem = zalloc_aligned(doff_bytes + (size_t)s->taps * cs * sizeof(float));
	int32_t *doff = (int32_t *)mem;
	float *coef = (float *)(mem + doff_bytes);

	s->ol_q = malloc(L * sizeof(uint32_t));
	if (!mem || !s->ol_q) {
		free(mem);
		return -ENOMEM;
	}
	s->ol_mem = mem;
	for (uint32_t q = 0; q < n; q++) {
		uint64_t pos = (uint64_t)q * M;
		uint32_t phase = (uint32_t)(pos % L);
		const float *row = row_ptr(r, s, (int32_t)phase);
		doff[q] = (int32_t)(pos / L);
		if (q < L)
			s->ol_q[phase] = q;
		for (uint32_t k = 0; k < s->taps; k++)
			coef[k * cs + q] = row[k];
	}
	s->ol = (struct src_olane){ .L = L, .M = M, .taps = s->taps, .coef_stride = cs, .doff = doff, .coef = coef };
	return 0;
}

/*
 * The cycle-kernel layout of a nominal L/M stage: output q of a cycle sits
 * at q*M/L, i.e. phase q*M mod L with its window floor(q*M/L) samples after
 * the cycle's; its row is stored shifted by that much, zeros around.
 */
static int cyc_init(struct vd_resampler *r, struct src_stage *s, src_cyc_f32_fn fn, uint32_t L, uint32_t M)
{
	const uint32_t ch = r->cfg.channels;
	uint32_t T = (s->taps + (L - 1) * M / L + M - 1) / M;

	T += T & 1;	/* the kernels sum from both ends: an even count */
	size_t max_cyc = CYC_MAX_OUT / L + 2;

	s->cy_cs = (max_cyc + SRC_CYC_PAD + T + 15) & ~(size_t)15;
	s->cy_os = (max_cyc + SRC_CYC_PAD + 15) & ~(size_t)15;
	s->cy_coef = zalloc_aligned((size_t)M * T * L * sizeof(float));
	s->cy_comp = zalloc_aligned((size_t)ch * M * s->cy_cs * sizeof(float));
	s->cy_out = zalloc_aligned((size_t)ch * L * s->cy_os * sizeof(float));
	if (!s->cy_coef || !s->cy_comp || !s->cy_out)
		return -ENOMEM;
	for (uint32_t q = 0; q < L; q++) {
		uint32_t ph = q * M % L, doff = q * M / L;
		const float *row = row_ptr(r, s, (int32_t)(ph * s->exact_mul));
		s->cy_q[ph] = q;
		for (uint32_t k = 0; k < s->taps; k++)
			s->cy_coef[(size_t)(k + doff) * L + q] = row[k];
	}
	s->cy = (struct src_cyc){ .L = L, .M = M, .T = T, .coef = s->cy_coef };
	s->cyc_fn = fn;
	return 0;
}

/*
 * Stages: halvings while the rate is far above the output, then one
 * polyphase stage. When downsampling, that stage may instead go to twice the
 * output rate with a wide transition (its images and aliases fall where the
 * next stage removes them) and a sharp decimator by 2 finish: a single
 * coefficient row that stays in L1 with aligned copies, chosen when it
 * costs less than one long polyphase filter whose table does not fit.
 */
static int plan(struct vd_resampler *r)
{
	const struct src_preset *pr = r->preset;
	uint64_t in = r->cfg.rate_in, out = r->cfg.rate_out;
	double nyq_low = (double)(in < out ? in : out) / 2.0;
	double rate = (double)in;
	uint32_t d = 0;
	int ret;

	if (in == out)
		return 0;
	while (rate > PREDECIMATE * (double)out && d + 1 < SRC_MAX_STAGES) {
		/* Halve: keep the final pass band, and fold nothing onto [0, final Nyquist]. */
		struct src_filter_spec spec = {
			.fpass = pr->pass * nyq_low / rate,
			.fstop = (rate / 2.0 - nyq_low) / rate,
			.atten_db = pr->atten_db, .xs_n = pr->xs_n, .xp_n = pr->xp_n,
		};
		struct src_stage *s = &r->st[d];
		ret = pr->halfband ? halfband_init(r, s, &spec) : 1;
		if (ret > 0)
			ret = stage_init(r, s, &spec, 0);
		if (ret < 0)
			return ret;
		s->den = 1;
		s->nominal_step = 2;
		rate /= 2.0;
		d++;
	}
	r->decim = d;

	/* One polyphase stage: ratio out*2^d / in, reduced. */
	uint64_t L = out << d, M = in, g = gcd64(L, M);
	L /= g;
	M /= g;
	struct src_filter_spec one = {
		.fpass = pr->pass * nyq_low / rate,
		.fstop = nyq_low / rate,
		.atten_db = pr->atten_db, .xs_n = pr->xs_n, .xp_n = pr->xp_n,
	};
	/* Or a fixed ratio to 2*out: pass the final band, stop what folds onto [0, out/2] there, */
	struct src_filter_spec wide = {
		.fpass = pr->pass * nyq_low / rate,
		.fstop = (2.0 * (double)out - nyq_low) / rate,
		.atten_db = pr->atten_db, .xs_n = pr->xs_n, .xp_n = pr->xp_n,
	};
	/* ... then the sharp 2:1 (the stage drift steers). */
	struct src_filter_spec sharp = {
		.fpass = pr->pass * nyq_low / (2.0 * (double)out),
		.fstop = 0.25,
		.atten_db = pr->atten_db, .xs_n = pr->xs_n, .xp_n = pr->xp_n,
	};
	uint64_t L2 = (2 * out) << d, M2 = in, g2 = gcd64(L2, M2);
	if (out < in && L2 != M2 && d + 2 <= SRC_MAX_STAGES) {
		size_t stride;
		uint32_t t1 = design_taps(&one), tw = design_taps(&wide), ts = design_taps(&sharp);
		size_t b1 = align_bytes(r->k, r->ss, t1, (uint32_t)(L <= MAX_EXACT_L ? L : MAX_EXACT_L + 1), &stride);
		double cost1 = b1 && b1 <= SHIFT_BUDGET ? t1 : FAR_TAP_COST * t1;
		double cost2 = 2.0 * tw * FAR_TAP_COST + ts;
		r->post = cost2 < cost1;
	}
	r->last_num = 1;
	r->last_den = (uint64_t)1 << d;
	struct src_stage *s = &r->st[d];
	if (r->post) {
		/* A short float filter runs on the tap-lane kernels, which take
		 * taps in fours: 96->88.2 kHz needs 18, 20 instead of 24. */
		wide.half_mult = 2;
		if (r->dbl || design_taps(&wide) > SRC_TAPWISE_MAX)
			wide.half_mult = 0;
		ret = poly_init(r, s, &wide, L2 / g2, M2 / g2, true);
		if (ret < 0)
			return ret;
		s->tapwise = !r->dbl && s->taps <= SRC_TAPWISE_MAX;
		if (s->tapwise) {
			/* The tap-lane kernel reads no padding: rows packed (to whole
			 * vectors, zeros after), so the table stays in L1. */
			size_t ps = (s->taps + 7) & ~(size_t)7;
			s->aligned = zalloc_aligned((size_t)s->phases * ps * r->ss);
			if (!s->aligned)
				return -ENOMEM;
			for (uint32_t p = 0; p < s->phases; p++)
				memcpy((char *)s->aligned + (size_t)p * ps * r->ss, row_ptr(r, s, (int32_t)p),
				       s->taps * r->ss);
			s->row0 = s->aligned;
			s->exact_row_bytes = ps * r->ss;
		}
		s = &r->st[++d];
		ret = poly_init(r, s, &sharp, 1, 2, false);
		L = 1;
		M = 2;
		g = gcd64(2 * out, in);
		r->last_num = 2 * out / g;
		r->last_den = in / g;
	} else {
		ret = poly_init(r, s, &one, L, M, false);
	}
	if (ret < 0)
		return ret;
	r->n_stages = d + 1;

	for (uint32_t i = 0; i < r->n_stages; i++) {
		uint32_t nominal = 1;
		struct src_stage *t = &r->st[i];
		/*
		 * A 2:1 stage with one row (aligned copies in L1) runs at 512
		 * bits where the machine has them: it pairs groups so loads stop
		 * bounding it. Elsewhere 512-bit loads mostly split cache lines,
		 * so the others keep 256 bits.
		 */
		t->k = r->k;
		bool two_one = !t->hb_nh && (t->phases ? i == d && L == 1 && M == 2 : true);
		if (r->auto_isa && !r->dbl && two_one && src_kernels_get(SRC_ISA_AVX512))
			t->k = src_kernels_get(SRC_ISA_AVX512);
		if (r->st[i].phases)
			nominal = i == d ? (uint32_t)L : (uint32_t)(L2 / g2);
		if (t->tapwise && i + 1 == d) {
			/* Outputs in lanes where a kernel has them (AVX-512, or forced C). */
			const struct src_kernels *ok = r->auto_isa ? src_kernels_get(SRC_ISA_AVX512) : r->k;
			uint32_t Lf = (uint32_t)(L2 / g2), Mf = (uint32_t)(M2 / g2);
			if (ok && ok->olane_f32 && src_olane_fits(Lf, Mf, t->taps)) {
				t->k = ok;
				ret = olane_init(r, t, Lf, Mf);
				if (ret < 0)
					return ret;
			}
		}
		ret = t->tapwise ? 0 : stage_align(r, t, nominal);
		if (ret < 0)
			return ret;
	}

	/*
	 * A steered stage with few phases (24->16 kHz: 2 outputs per 3 inputs)
	 * runs its nominal outputs with cycles in lanes, at 512 bits where the
	 * machine has them: every load then feeds two or four FMAs instead of
	 * one or two.
	 */
	if (!r->post && !r->dbl && s->phases && s->exact_mul && L <= CYC_MAX_L && src_cyc_fits((uint32_t)L, (uint32_t)M)) {
		const struct src_kernels *ck = r->auto_isa && src_kernels_get(SRC_ISA_AVX512) ?
			src_kernels_get(SRC_ISA_AVX512) : r->k;
		if (ck->cyc_f32) {
			ret = cyc_init(r, s, ck->cyc_f32, (uint32_t)L, (uint32_t)M);
			if (ret < 0)
				return ret;
		}
	}

	/* Look-ahead: every stage's half length, in input frames and output frames. */
	uint64_t look = 0;
	for (uint32_t i = 0; i <= r->decim; i++)
		look += (uint64_t)r->st[i].half << i;
	uint64_t half_post = r->post ? s->half : 0;
	/* look + half_post * in / (2 out), over the common denominator 2 out. */
	uint64_t look2 = look * 2 * out + half_post * in;
	r->lookahead_in = (look2 + 2 * out - 1) / (2 * out);
	r->latency = (uint32_t)((look2 + 2 * in - 1) / (2 * in));

	size_t maxtaps = s->taps;
	r->scratch_stride = maxtaps + 2 * SRC_ROW_PAD;
	r->scratch = zalloc_aligned(INTERP_ROWS * r->scratch_stride * r->ss);
	if (!r->scratch)
		return -ENOMEM;
	return 0;
}

int vd_resampler_new_isa(const struct vd_resample_config *cfg, enum src_isa isa,
			 struct vd_resampler **out, char *msg, size_t msg_size)
{
	struct vd_error err;
	struct vd_resampler *r;
	int ret;

	vd_error_clear(&err);
	*out = NULL;
	ret = vd_resample_config_check(cfg, &err);
	if (ret < 0)
		goto fail_msg;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	r->preset = &src_presets[cfg->quality];
	r->dbl = r->preset->dbl;
	r->ss = r->dbl ? sizeof(double) : sizeof(float);
	r->k = isa == SRC_ISA_COUNT ? src_kernels_best() : src_kernels_get(isa);
	r->auto_isa = isa == SRC_ISA_COUNT;
	if (!r->k) {
		free(r);
		ret = vd_error_set(&err, -ENOTSUP, NULL, "the requested kernel is not available on this machine");
		goto fail_msg;
	}
	r->adjust = 1.0;
	ret = plan(r);
	if (ret < 0)
		goto fail;
	r->tmp = zalloc_aligned((size_t)TMP_FRAMES * cfg->channels * r->ss);
	if (!r->tmp) {
		ret = -ENOMEM;
		goto fail;
	}
	vd_resampler_reset(r);
	*out = r;
	return 0;
fail:
	vd_resampler_free(r);
	return ret;
fail_msg:
	if (msg && msg_size)
		snprintf(msg, msg_size, "%s", err.msg);
	return ret;
}

int vd_resampler_new(const struct vd_resample_config *cfg, struct vd_resampler **r)
{
	return vd_resampler_new_isa(cfg, SRC_ISA_COUNT, r, NULL, 0);
}

void vd_resampler_free(struct vd_resampler *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < SRC_MAX_STAGES; i++) {
		free(r->st[i].table);
		free(r->st[i].aligned);
		free(r->st[i].ol_mem);
		free(r->st[i].ol_q);
		free(r->st[i].cy_coef);
		free(r->st[i].cy_comp);
		free(r->st[i].cy_out);
		free(r->st[i].buf);
	}
	free(r->tmp);
	free(r->scratch);
	free(r);
}

void vd_resampler_reset(struct vd_resampler *r)
{
	for (uint32_t i = 0; i < r->n_stages; i++) {
		stage_reset(r, &r->st[i]);
		if (i == r->n_stages - 1)
			set_step(&r->st[i], r->adjust);
	}
	r->n_in = 0;
	r->draining = false;
	r->done = false;
}

uint32_t vd_resampler_latency(const struct vd_resampler *r)
{
	return r->latency;
}

uint32_t vd_resampler_max_output(const struct vd_resampler *r, uint32_t in_frames)
{
	uint64_t in = r->cfg.rate_in, out = r->cfg.rate_out;
	uint64_t n = ((uint64_t)in_frames + 2 * r->lookahead_in + 2 * SRC_ALIGN * ((uint64_t)1 << r->decim))
		* out / in;

	if (r->post)
		n += SRC_ALIGN;	/* the decimator's buffer alignment, in its output frames */

	n = n + n / 32 + 2 * SRC_GROUP;	/* margin for rounding and drift */
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

int vd_resampler_set_adjust(struct vd_resampler *r, double adjust)
{
	if (!(adjust >= 0.98 && adjust <= 1.02))
		return -EINVAL;
	r->adjust = adjust;
	if (r->n_stages)
		set_step(&r->st[r->n_stages - 1], adjust);
	return 0;
}

uint32_t vd_resampler_stages(const struct vd_resampler *r)
{
	return r->n_stages;
}

const char *vd_resampler_kernel_name(const struct vd_resampler *r)
{
	return r->k->name;
}

/* ---- processing ---- */

static uint32_t stage_room(const struct src_stage *s)
{
	size_t used = s->fill + SLACK;
	return used >= s->cap ? 0 : (uint32_t)(s->cap - used);
}

/* Drop input no future output of @s can reach. */
static void stage_compact(const struct vd_resampler *r, struct src_stage *s)
{
	int64_t keep = (s->ipos - (int64_t)s->half + 1) & ~(int64_t)(SRC_ALIGN - 1);
	int64_t shift = keep - s->base;

	if (shift <= 0 || (stage_room(s) >= BLOCK && shift < (int64_t)BLOCK))
		return;
	if (shift > (int64_t)s->fill)
		shift = s->fill;
	for (uint32_t c = 0; c < r->cfg.channels; c++) {
		char *row = (char *)s->buf + c * s->cap * r->ss;
		memmove(row, row + (size_t)shift * r->ss, (s->fill - (size_t)shift) * r->ss);
	}
	s->base += shift;
	s->fill -= (uint32_t)shift;
}

/* The last stage's next output lies past the end: t + step/2 > n_in (in its input samples). */
static bool end_reached(const struct vd_resampler *r, const struct src_stage *s)
{
	__int128 step = (__int128)s->step_int * s->den + s->step_frac;
	__int128 pos = (__int128)s->ipos * s->den + s->num;
	__int128 end = (__int128)r->n_in * r->last_num * s->den;

	return (2 * pos + step) * r->last_den > 2 * end;
}

/* A row between table phases (drift, or denominators the table cannot hold). */
static __attribute__((noinline)) const void *interp_row(struct vd_resampler *r, struct src_stage *s,
							 uint32_t slot)
{
	uint32_t p;
	double t;

	if (s->exact_mul) {
		const uint64_t mask = ((uint64_t)1 << FRAC_BITS) - 1;
		uint64_t pp = s->num * s->exact_mul;
		p = (uint32_t)(pp >> FRAC_BITS);
		t = (double)(pp & mask) * (1.0 / 4294967296.0);
	} else {
		double f = (double)s->num * s->phase_scale;
		p = (uint32_t)f;
		t = f - p;
		if (p >= s->phases) {
			p = s->phases - 1;
			t = 1.0;
		}
	}
	void *dst = (char *)r->scratch + (slot * r->scratch_stride + SRC_ROW_PAD) * r->ss;
	if (r->dbl)
		r->k->interp_f64(row_ptr(r, s, (int32_t)p), s->row_stride, t, s->taps, dst);
	else
		r->k->interp_f32(row_ptr(r, s, (int32_t)p), s->row_stride, t, s->taps, dst);
	return dst;
}

/* d[r][i] = x[3i + r] for i < n (component split of a 2:3 stage). */
static void split3(const float *x, float *d0, float *d1, float *d2, size_t n)
{
	size_t i = 0;

#ifdef __SSE2__
	for (; i + 4 <= n; i += 4) {
		__m128 a = _mm_loadu_ps(x + 3 * i), b = _mm_loadu_ps(x + 3 * i + 4), c = _mm_loadu_ps(x + 3 * i + 8);
		__m128 p0 = _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 2, 3, 0)), q0 = _mm_shuffle_ps(b, c, _MM_SHUFFLE(1, 1, 2, 2));
		__m128 p1 = _mm_shuffle_ps(a, b, _MM_SHUFFLE(0, 0, 1, 1)), q1 = _mm_shuffle_ps(b, c, _MM_SHUFFLE(2, 2, 3, 3));
		__m128 p2 = _mm_shuffle_ps(a, b, _MM_SHUFFLE(1, 1, 2, 2)), q2 = _mm_shuffle_ps(c, c, _MM_SHUFFLE(3, 3, 0, 0));
		_mm_storeu_ps(d0 + i, _mm_shuffle_ps(p0, q0, _MM_SHUFFLE(2, 0, 1, 0)));
		_mm_storeu_ps(d1 + i, _mm_shuffle_ps(p1, q1, _MM_SHUFFLE(2, 0, 2, 0)));
		_mm_storeu_ps(d2 + i, _mm_shuffle_ps(p2, q2, _MM_SHUFFLE(2, 0, 2, 0)));
	}
#endif
	for (; i < n; i++) {
		d0[i] = x[3 * i];
		d1[i] = x[3 * i + 1];
		d2[i] = x[3 * i + 2];
	}
}

/* Stereo frames from the planes of a 2-output cycle: ch0 q0, ch0 q1, ch1 q0, ch1 q1. */
static void merge22(const float *a0, const float *a1, const float *b0, const float *b1, float *o, size_t ncyc)
{
	size_t j = 0;

#ifdef __SSE2__
	for (; j + 4 <= ncyc; j += 4) {
		__m128 w = _mm_loadu_ps(a0 + j), x = _mm_loadu_ps(b0 + j), y = _mm_loadu_ps(a1 + j), z = _mm_loadu_ps(b1 + j);
		_MM_TRANSPOSE4_PS(w, x, y, z);
		_mm_storeu_ps(o + 4 * j, w);
		_mm_storeu_ps(o + 4 * j + 4, x);
		_mm_storeu_ps(o + 4 * j + 8, y);
		_mm_storeu_ps(o + 4 * j + 12, z);
	}
#endif
	for (; j < ncyc; j++) {
		o[4 * j] = a0[j];
		o[4 * j + 1] = b0[j];
		o[4 * j + 2] = a1[j];
		o[4 * j + 3] = b1[j];
	}
}

/*
 * Nominal outputs of a cycle-kernel stage: split the channels' windows into
 * M components (cycle i, tap s at component s mod M, index i + s/M), run the
 * kernel over whole cycles, and keep the outputs asked for. Components past
 * what valid lanes read keep stale finite data (lanes that are dropped).
 */
static uint32_t stage_run_cyc(struct vd_resampler *r, struct src_stage *s, bool check_end, int64_t lim,
			      int64_t off0, void *dst, size_t ostep, size_t cstep, uint32_t room)
{
	const uint32_t ch = r->cfg.channels, L = s->cy.L, M = s->cy.M, T = s->cy.T;
	const size_t cs = s->cy_cs, os = s->cy_os;
	uint32_t made = 0;

	while (made < room && !r->done) {
		int64_t pos = s->ipos * (int64_t)L + (int64_t)(s->num >> FRAC_BITS);
		int64_t span = lim * (int64_t)L - pos;
		if (span <= 0)
			break;
		int64_t avail = (span + M - 1) / M;
		uint32_t n = room - made < CYC_MAX_OUT ? room - made : CYC_MAX_OUT;
		if (avail < n)
			n = (uint32_t)avail;
		if (check_end) {
			int64_t ipos = s->ipos;
			uint64_t num = s->num;
			for (uint32_t k = 0; k < n; k++) {
				if (end_reached(r, s)) {
					r->done = true;
					n = k;
					break;
				}
				int64_t p = s->ipos * (int64_t)L + (int64_t)(s->num >> FRAC_BITS) + M;
				s->ipos = p / L;
				s->num = (uint64_t)(p % L) << FRAC_BITS;
			}
			s->ipos = ipos;
			s->num = num;
		}
		if (!n)
			break;
		uint32_t q0 = s->cy_q[s->num >> FRAC_BITS];
		/* Absolute input index of cycle 0's window. */
		int64_t g = (pos - (int64_t)q0 * M) / L + 1 - (int64_t)s->half;
		uint32_t ncyc = (q0 + n - 1) / L + 1;
		size_t len = ncyc + T - 1;
		if (s->cy_g0 == INT64_MIN || g < s->cy_g0 || (g - s->cy_g0) % M) {
			s->cy_g0 = g;
			s->cy_lo = 0;
			s->cy_n = 0;
		}
		size_t drop = (size_t)((g - s->cy_g0) / M);
		if (drop > s->cy_n)
			drop = s->cy_n;	/* cannot happen: outputs only move forward */
		s->cy_lo += drop;
		s->cy_n -= drop;
		s->cy_g0 += (int64_t)drop * M;
		if (s->cy_g0 != g) {
			s->cy_g0 = g;
			s->cy_lo = 0;
			s->cy_n = 0;
		}
		if (s->cy_lo + len + SRC_CYC_PAD > cs) {
			for (uint32_t c = 0; c < ch * M; c++) {
				float *d = s->cy_comp + c * cs;
				memmove(d, d + s->cy_lo, s->cy_n * sizeof(float));
			}
			s->cy_lo = 0;
		}
		/* Append from the first incomplete entry; count the complete ones. */
		const int64_t end = s->base + s->fill;
		for (uint32_t c = 0; c < ch; c++) {
			const float *x = (const float *)s->buf + c * s->cap - s->base;
			for (uint32_t k = 0; k < M; k++) {
				float *d = s->cy_comp + (c * M + k) * cs + s->cy_lo;
				int64_t j = s->cy_g0 + (int64_t)s->cy_n * M + k;
				size_t i = s->cy_n;
				if (M == 3 && k == 0 && i < len && j >= s->base && j + 2 < end) {
					/* Whole entries at once, all three components. */
					size_t w = (size_t)((end - j) / 3);
					if (w > len - i)
						w = len - i;
					split3(x + j, d + i, d + cs + i, d + 2 * cs + i, w);
					for (uint32_t kk = 1; kk < 3; kk++) {
						float *e = d + kk * cs;
						int64_t jj = j + kk + 3 * (int64_t)w;
						size_t ii = i + w;
						for (; ii < len && jj < end; ii++, jj += M)
							e[ii] = x[jj];
						for (; ii < len; ii++)
							e[ii] = 0.0f;
					}
					i += w;
					j += 3 * (int64_t)w;
					for (; i < len && j < end; i++, j += M)
						d[i] = x[j];
					for (; i < len; i++)
						d[i] = 0.0f;
					break;
				}
				for (; i < len && j < s->base; i++, j += M)
					d[i] = 0.0f;
				for (; i < len && j < end; i++, j += M)
					d[i] = x[j];
				for (; i < len; i++)
					d[i] = 0.0f;
			}
		}
		if (end - s->cy_g0 >= M) {
			size_t full = (size_t)((end - s->cy_g0) / M);
			s->cy_n = full < len ? full : len;
		}
		s->cyc_fn(s->cy_comp + s->cy_lo, cs, ch, &s->cy, ncyc, s->cy_out, os);
		float *o = (float *)dst + (size_t)made * ostep;
		uint32_t j = q0 / L, q = q0 % L, m = 0;
		if (L == 2 && ch == 2 && ostep == 2 && cstep == 1) {
			/* Stereo frames: whole cycles by a 4x4 transpose. */
			if (q) {
				o[0] = s->cy_out[os + j];
				o[1] = s->cy_out[3 * os + j];
				m = 1;
				q = 0;
				j++;
			}
			size_t whole = (n - m) / 2;
			merge22(s->cy_out + j, s->cy_out + os + j, s->cy_out + 2 * os + j, s->cy_out + 3 * os + j,
				o + 2 * m, whole);
			m += 2 * (uint32_t)whole;
			j += (uint32_t)whole;
		}
		for (; m < n; m++) {
			for (uint32_t c = 0; c < ch; c++)
				o[m * ostep + c * cstep] = s->cy_out[(c * L + q) * os + j];
			if (++q == L) {
				q = 0;
				j++;
			}
		}
		pos += (int64_t)n * M;
		s->ipos = pos / L;
		s->num = (uint64_t)(pos % L) << FRAC_BITS;
		made += n;
	}
	return made;
}

/*
 * Produce up to @room outputs of stage @s into @dst: channel c of output m
 * at dst[m * ostep + c * cstep] (internal samples). Outputs are scheduled
 * (row, window offset) in batches and computed by one kernel call each.
 */
static uint32_t stage_run(struct vd_resampler *r, struct src_stage *s, bool last,
			  void *dst, size_t ostep, size_t cstep, uint32_t room)
{
	const uint32_t ch = r->cfg.channels;
	/* Last output this buffer can feed: its window must end inside the data. */
	const int64_t lim = s->base + s->fill - (int64_t)s->half;
	const int64_t off0 = 1 - (int64_t)s->half - s->base;
	const bool check_end = last && r->draining;
	const uint64_t frac_mask = ((uint64_t)1 << FRAC_BITS) - 1;
	/* Nominal phases of an exact table are rows; otherwise interpolate. */
	const bool exact = s->phases && s->exact_mul && !(s->step_frac & frac_mask);
	const uint32_t batch = !s->phases || exact ? BATCH : INTERP_ROWS;
	const char *row0 = s->row0;
	/* Small tables stay in L1; larger ones are streamed with prefetch. */
	const bool near = s->align_mask || !s->phases || s->phases * s->row_stride * r->ss <= NEAR_BYTES;
	src_dot_f32_fn dot = near ? s->k->dot_f32_near : s->k->dot_f32;
	if (s->tapwise)
		dot = s->k->dot_taps_f32 ? s->k->dot_taps_f32 : src_kernels_c.dot_taps_f32;
	uint32_t made = 0;

	if (s->cyc_fn && exact && !(s->num & frac_mask) &&
	    (uint64_t)s->step_int * s->den + s->step_frac == s->nominal_step)
		return stage_run_cyc(r, s, check_end, lim, off0, dst, ostep, cstep, room);
	if (s->ol_mem) {
		/* Fixed-ratio outputs in lanes: as many as have their windows (ipos < lim). */
		const __int128 L = s->ol.L, M = s->ol.M;
		__int128 pos = (__int128)s->ipos * L + (__int128)(s->num >> FRAC_BITS);
		__int128 span = (__int128)lim * L - pos;
		uint32_t n = 0;
		if (span > 0)
			n = span / M + (span % M != 0) < (__int128)room ? (uint32_t)(span / M + (span % M != 0)) : room;
		if (!n)
			return 0;
		uint32_t phase = (uint32_t)(s->num >> FRAC_BITS);
		s->k->olane_f32(s->buf, s->cap, ch, &s->ol, s->ol_q[phase], (int32_t)(s->ipos + off0), n, dst,
				ostep, cstep);
		pos += (__int128)n * M;
		s->ipos = (int64_t)(pos / L);
		s->num = (uint64_t)(pos % L) << FRAC_BITS;
		return n;
	}
	if (s->hb_nh) {
		/* Half-band: centres 2 apart, all in one kernel call. */
		uint32_t n = 0;
		if (s->ipos < lim)
			n = (uint32_t)((lim - s->ipos + 1) / 2 < room ? (lim - s->ipos + 1) / 2 : room);
		if (!n)
			return 0;
		int32_t c0 = (int32_t)(s->ipos - s->base);
		if (r->dbl)
			(r->k->hb_f64 ? r->k->hb_f64 : src_kernels_c.hb_f64)(s->buf, s->cap, ch, c0, n, s->table,
									      s->hb_nh, dst, ostep, cstep);
		else
			(r->k->hb_f32 ? r->k->hb_f32 : src_kernels_c.hb_f32)(s->buf, s->cap, ch, c0, n, s->table,
									      s->hb_nh, dst, ostep, cstep);
		s->ipos += 2 * (int64_t)n;
		return n;
	}
	while (made < room) {
		const void *rows[BATCH];
		int32_t off[BATCH];
		uint32_t n = 0, want = room - made < batch ? room - made : batch;
		int64_t ipos = s->ipos;
		uint64_t num = s->num;

		if (!check_end && (!s->phases || (exact && !(num & frac_mask)))) {
			/* Fast path: every row is in the table. */
			const size_t rb = s->phases ? s->exact_row_bytes : 0;
			const uint64_t sf = s->step_frac, den = s->den;
			const int64_t si = s->step_int;
			if (s->align_mask) {
				const char *a0 = (const char *)s->aligned + SHIFT_PAD * r->ss;
				const size_t pb = s->phases ? s->align_phase_bytes : 0, ab = s->align_row_bytes;
				const uint32_t am = s->align_mask;
				if (!sf) {
					/* Integer steps (2:1): one row, only the alignment changes. */
					const char *b = a0 + (num >> FRAC_BITS) * pb;
					for (; n < want && ipos < lim; n++) {
						int32_t o = (int32_t)(ipos + off0);
						off[n] = o;
						rows[n] = b + (uint32_t)(o & am) * ab;
						ipos += si;
					}
				}
				for (; n < want && ipos < lim; n++) {
					int32_t o = (int32_t)(ipos + off0);
					off[n] = o;
					rows[n] = a0 + (num >> FRAC_BITS) * pb + (uint32_t)(o & am) * ab;
					num += sf;
					ipos += si;
					if (num >= den) {
						num -= den;
						ipos++;
					}
				}
			}
			for (; n < want && ipos < lim; n++) {
				off[n] = (int32_t)(ipos + off0);
				rows[n] = row0 + (num >> FRAC_BITS) * rb;
				num += sf;
				ipos += si;
				if (num >= den) {
					num -= den;
					ipos++;
				}
			}
		}
		for (; n < want && ipos < lim; n++) {
			if (check_end) {
				s->ipos = ipos;
				s->num = num;
				if (end_reached(r, s)) {
					r->done = true;
					break;
				}
			}
			off[n] = (int32_t)(ipos + off0);
			if (!s->phases) {
				rows[n] = row0;
			} else if (exact && !(num & frac_mask)) {
				rows[n] = row0 + (num >> FRAC_BITS) * s->exact_row_bytes;
			} else {
				s->num = num;
				rows[n] = interp_row(r, s, n);
			}
			num += s->step_frac;
			ipos += s->step_int;
			if (num >= s->den) {
				num -= s->den;
				ipos++;
			}
		}
		s->ipos = ipos;
		s->num = num;
		if (!n)
			break;
		void *o = (char *)dst + (size_t)made * ostep * r->ss;
		if (r->dbl)
			s->k->dot_f64(s->buf, s->cap, ch, (const double *const *)rows, off, n, s->taps, o,
				      ostep, cstep);
		else
			dot(s->buf, s->cap, ch, (const float *const *)rows, off, n,
			    s->tapwise ? (s->taps + 7) & ~7u : s->taps, o, ostep, cstep);
		made += n;
		if (r->done)
			break;
	}
	return made;
}

static inline int16_t to_s16(double v)
{
	v *= 32768.0;
	if (v >= 32767.0)
		return 32767;
	if (v <= -32768.0)
		return -32768;
	if (v != v)
		return 0;
	return (int16_t)lrint(v);
}

static inline int32_t to_s32(double v)
{
	v *= 2147483648.0;
	if (v >= 2147483647.0)
		return INT32_MAX;
	if (v <= -2147483648.0)
		return INT32_MIN;
	if (v != v)
		return 0;
	return (int32_t)llrint(v);
}

/* Interleaved internal samples -> user format. */
static void store_out(const struct vd_resampler *r, void *out, const void *src, size_t n)
{
	switch (r->cfg.format_out) {
	case VD_FORMAT_F32:
		if (r->dbl)
			for (size_t i = 0; i < n; i++)
				((float *)out)[i] = (float)((const double *)src)[i];
		else
			memcpy(out, src, n * sizeof(float));
		break;
	case VD_FORMAT_S16:
		for (size_t i = 0; i < n; i++)
			((int16_t *)out)[i] = to_s16(r->dbl ? ((const double *)src)[i] : ((const float *)src)[i]);
		break;
	default:
		for (size_t i = 0; i < n; i++)
			((int32_t *)out)[i] = to_s32(r->dbl ? ((const double *)src)[i] : ((const float *)src)[i]);
		break;
	}
}

static inline double load_in(enum vd_sample_format f, const void *in, size_t i)
{
	switch (f) {
	case VD_FORMAT_F32:
		return ((const float *)in)[i];
	case VD_FORMAT_S16:
		return ((const int16_t *)in)[i] * (1.0 / 32768.0);
	default:
		return ((const int32_t *)in)[i] * (1.0 / 2147483648.0);
	}
}

static void deinterleave2(const float *x, float *a, float *b, uint32_t n)
{
	uint32_t i = 0;

#ifdef __SSE2__
	for (; i + 4 <= n; i += 4) {
		__m128 p = _mm_loadu_ps(x + 2 * i), q = _mm_loadu_ps(x + 2 * i + 4);
		_mm_storeu_ps(a + i, _mm_shuffle_ps(p, q, _MM_SHUFFLE(2, 0, 2, 0)));
		_mm_storeu_ps(b + i, _mm_shuffle_ps(p, q, _MM_SHUFFLE(3, 1, 3, 1)));
	}
#endif
	for (; i < n; i++) {
		a[i] = x[2 * i];
		b[i] = x[2 * i + 1];
	}
}

/* Append @n frames of user input (or silence when @in is NULL) to stage 0. */
static void feed(struct vd_resampler *r, const void *in, uint32_t n)
{
	struct src_stage *s = &r->st[0];
	const uint32_t ch = r->cfg.channels;

	for (uint32_t c = 0; c < ch; c++) {
		char *row = (char *)s->buf + (c * s->cap + s->fill) * r->ss;
		if (!in) {
			memset(row, 0, (size_t)n * r->ss);
		} else if (r->dbl) {
			double *d = (double *)row;
			for (uint32_t i = 0; i < n; i++)
				d[i] = load_in(r->cfg.format_in, in, (size_t)i * ch + c);
		} else if (r->cfg.format_in == VD_FORMAT_F32 && ch == 2) {
			deinterleave2((const float *)in, (float *)row,
				      (float *)((char *)s->buf + (s->cap + s->fill) * r->ss), n);
			break;
		} else if (r->cfg.format_in == VD_FORMAT_F32) {
			float *d = (float *)row;
			const float *x = (const float *)in + c;
			for (uint32_t i = 0; i < n; i++)
				d[i] = x[(size_t)i * ch];
		} else {
			float *d = (float *)row;
			for (uint32_t i = 0; i < n; i++)
				d[i] = (float)load_in(r->cfg.format_in, in, (size_t)i * ch + c);
		}
	}
	s->fill += n;
}

/* Run the last stage into the user's buffer (through tmp when converting). */
static uint32_t run_last(struct vd_resampler *r, void *out, uint32_t room)
{
	struct src_stage *s = &r->st[r->n_stages - 1];
	const uint32_t ch = r->cfg.channels;
	size_t fsz = vd_format_sample_size(r->cfg.format_out) * ch;
	uint32_t made = 0;

	if (!r->dbl && r->cfg.format_out == VD_FORMAT_F32)
		return stage_run(r, s, true, out, ch, 1, room);
	while (made < room && !r->done) {
		uint32_t want = room - made < TMP_FRAMES ? room - made : TMP_FRAMES;
		uint32_t n = stage_run(r, s, true, r->tmp, ch, 1, want);
		if (!n)
			break;
		store_out(r, (char *)out + made * fsz, r->tmp, (size_t)n * ch);
		made += n;
	}
	return made;
}

/* Push data through the stages; feed from @in (NULL: silence while draining). */
static bool pump(struct vd_resampler *r, const void *in, uint32_t n_in, uint32_t *used)
{
	bool progress = false;
	struct src_stage *s0 = &r->st[0];
	size_t isz = vd_format_sample_size(r->cfg.format_in) * r->cfg.channels;

	stage_compact(r, s0);
	uint32_t take = stage_room(s0);
	if (in) {
		if (take > n_in - *used)
			take = n_in - *used;
		feed(r, (const char *)in + (size_t)*used * isz, take);
		*used += take;
	} else {
		feed(r, NULL, take);
	}
	if (take)
		progress = true;
	for (uint32_t i = 0; i + 1 < r->n_stages; i++) {
		struct src_stage *nx = &r->st[i + 1];
		stage_compact(r, nx);
		uint32_t room = stage_room(nx);
		char *dst = (char *)nx->buf + nx->fill * r->ss;
		uint32_t n = stage_run(r, &r->st[i], false, dst, 1, nx->cap, room);
		nx->fill += n;
		if (n)
			progress = true;
	}
	return progress;
}

static uint32_t passthrough(struct vd_resampler *r, const void *in, uint32_t n, void *out)
{
	const uint32_t ch = r->cfg.channels;
	size_t total = (size_t)n * ch;

	if (r->cfg.format_in == r->cfg.format_out) {
		memcpy(out, in, total * vd_format_sample_size(r->cfg.format_in));
		return n;
	}
	for (size_t i = 0; i < total; i += TMP_FRAMES) {
		size_t m = total - i < TMP_FRAMES ? total - i : TMP_FRAMES;
		double v[TMP_FRAMES];
		for (size_t j = 0; j < m; j++)
			v[j] = load_in(r->cfg.format_in, in, i + j);
		switch (r->cfg.format_out) {
		case VD_FORMAT_F32:
			for (size_t j = 0; j < m; j++)
				((float *)out)[i + j] = (float)v[j];
			break;
		case VD_FORMAT_S16:
			for (size_t j = 0; j < m; j++)
				((int16_t *)out)[i + j] = to_s16(v[j]);
			break;
		default:
			for (size_t j = 0; j < m; j++)
				((int32_t *)out)[i + j] = to_s32(v[j]);
			break;
		}
	}
	return n;
}

int vd_resampler_process(struct vd_resampler *r, const void *in, uint32_t *in_frames,
			 void *out, uint32_t *out_frames)
{
	uint32_t n_in = in ? *in_frames : 0, room = *out_frames, used = 0, made = 0;
	size_t osz = vd_format_sample_size(r->cfg.format_out) * r->cfg.channels;

	if (r->draining) {
		*in_frames = 0;
		*out_frames = 0;
		return 0;
	}
	if (!r->n_stages) {
		uint32_t n = n_in < room ? n_in : room;
		passthrough(r, in, n, out);
		r->n_in += n;
		*in_frames = n;
		*out_frames = n;
		return 0;
	}
	for (;;) {
		made += run_last(r, (char *)out + (size_t)made * osz, room - made);
		if (made == room)
			break;
		if (!pump(r, in, n_in, &used))
			break;
	}
	r->n_in += used;
	*in_frames = used;
	*out_frames = made;
	return 0;
}

int vd_resampler_drain(struct vd_resampler *r, void *out, uint32_t *out_frames)
{
	uint32_t room = *out_frames, made = 0, none = 0;
	size_t osz = vd_format_sample_size(r->cfg.format_out) * r->cfg.channels;

	r->draining = true;
	if (!r->n_stages)
		r->done = true;
	while (!r->done && made < room) {
		made += run_last(r, (char *)out + (size_t)made * osz, room - made);
		if (made == room || r->done)
			break;
		pump(r, NULL, 0, &none);
	}
	*out_frames = made;
	return 0;
}
