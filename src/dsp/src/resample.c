/* src/dsp/src/resample.c - the streaming sample-rate converter: stage planning, tables, buffers, accounting. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtdsp/error.h>
#include <virtdsp/resample.h>

#include "src-impl.h"

#define MAX_RATE	1536000u
#define MAX_RATIO	256u
#define MAX_EXACT_L	2048u	/* larger denominators use interpolated phases only */
#define BLOCK		1024u	/* frames a stage buffer takes per round */
#define SLACK		16u	/* readable frames past the data (SIMD over-read of zero taps) */
#define TMP_FRAMES	256u
#define FRAC_BITS	32
#define PREDECIMATE	2.5	/* halve the rate first while in/out exceeds this */

struct src_stage {
	uint32_t half, taps;
	uint32_t phases;	/* 0: one fixed phase (integer decimator) */
	size_t row_stride;	/* samples between table rows */
	void *table;
	const void *row0;	/* phase 0, tap 0 */
	uint32_t exact_mul;	/* table phases per nominal phase (P/L), 0 if not exact */
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
	bool dbl;
	size_t ss;		/* bytes per internal sample */
	uint32_t n_stages;	/* 0: same rate, format conversion only */
	uint32_t decim;		/* log2 of the integer pre-decimation */
	struct src_stage st[SRC_MAX_STAGES];
	double adjust;
	uint32_t latency;
	uint64_t lookahead_in;	/* input frames needed past an output's time */
	uint64_t n_in;
	bool draining, done;
	void *tmp;		/* interleaved output of the last stage */
	void *scratch;		/* SRC_GROUP interpolated rows */
	size_t scratch_stride;
	void *group;		/* SRC_GROUP * channels kernel results */
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

static void stage_reset(const struct vd_resampler *r, struct src_stage *s)
{
	s->ipos = 0;
	s->num = 0;
	/* History before the stream is silence; outputs start at input 0. */
	s->base = (1 - (int64_t)s->half) & ~(int64_t)(SRC_ALIGN - 1);
	s->fill = (uint32_t)(0 - s->base);
	memset(s->buf, 0, s->cap * r->cfg.channels * r->ss);
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
		ret = stage_init(r, s, &spec, 0);
		if (ret < 0)
			return ret;
		s->den = 1;
		s->nominal_step = 2;
		rate /= 2.0;
		d++;
	}
	r->decim = d;
	/* The polyphase stage: ratio out*2^d / in, reduced. */
	uint64_t L = out << d, M = in, g = gcd64(L, M);
	L /= g;
	M /= g;
	uint32_t phases;
	uint32_t exact_mul = 0;
	if (L <= MAX_EXACT_L) {
		exact_mul = (pr->min_phases + (uint32_t)L - 1) / (uint32_t)L;
		phases = exact_mul * (uint32_t)L;
	} else {
		phases = pr->min_phases;
	}
	struct src_filter_spec spec = {
		.fpass = pr->pass * nyq_low / rate,
		.fstop = nyq_low / rate,
		.atten_db = pr->atten_db, .xs_n = pr->xs_n, .xp_n = pr->xp_n,
	};
	struct src_stage *s = &r->st[d];
	ret = stage_init(r, s, &spec, phases);
	if (ret < 0)
		return ret;
	s->exact_mul = exact_mul;
	s->den = L << FRAC_BITS;
	s->nominal_step = M << FRAC_BITS;
	s->phase_scale = (double)phases / (double)s->den;
	r->n_stages = d + 1;

	uint64_t look = 0;
	for (uint32_t i = 0; i < r->n_stages; i++)
		look += (uint64_t)r->st[i].half << i;
	r->lookahead_in = look;
	r->latency = (uint32_t)((look * out + in - 1) / in);

	size_t maxtaps = s->taps;
	r->scratch_stride = maxtaps + 2 * SRC_ROW_PAD;
	r->scratch = zalloc_aligned(SRC_GROUP * r->scratch_stride * r->ss);
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
	r->group = zalloc_aligned((size_t)SRC_GROUP * cfg->channels * r->ss);
	if (!r->tmp || !r->group) {
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
		free(r->st[i].buf);
	}
	free(r->tmp);
	free(r->scratch);
	free(r->group);
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

	n = n + n / 32 + 2 * SRC_GROUP;
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

static bool end_reached(const struct vd_resampler *r, const struct src_stage *s)
{
	__int128 step = (__int128)s->step_int * s->den + s->step_frac;
	__int128 pos = (__int128)s->ipos * s->den + s->num;
	__int128 end = (__int128)r->n_in * (s->den >> r->decim);

	return 2 * pos + step > 2 * end;
}

static const void *interp_row(struct vd_resampler *r, struct src_stage *s, uint32_t slot);

static inline const void *phase_row(struct vd_resampler *r, struct src_stage *s, uint32_t slot)
{
	if (!s->phases)
		return s->row0;
	if (s->exact_mul && !(s->num & (((uint64_t)1 << FRAC_BITS) - 1)))
		return row_ptr(r, s, (int32_t)((s->num >> FRAC_BITS) * s->exact_mul));
	return interp_row(r, s, slot);
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

/*
 * Produce up to @room outputs of stage @s. Interleaved destinations get
 * frames (channels apart), planar ones rows @dst_stride apart.
 */
static uint32_t stage_run(struct vd_resampler *r, struct src_stage *s, bool last,
			  void *dst, bool planar, size_t dst_stride, uint32_t room)
{
	const uint32_t ch = r->cfg.channels;
	/* Last output this buffer can feed: its window must end inside the data. */
	const int64_t lim = s->base + s->fill - (int64_t)s->half;
	const bool check_end = last && r->draining;
	uint32_t made = 0;

	while (made < room) {
		const void *rows[SRC_GROUP];
		int32_t off[SRC_GROUP];
		uint32_t n = 0;

		while (n < SRC_GROUP && made + n < room) {
			if (s->ipos >= lim)
				break;
			if (check_end && end_reached(r, s)) {
				r->done = true;
				break;
			}
			off[n] = (int32_t)(s->ipos - (int64_t)s->half + 1 - s->base);
			rows[n] = phase_row(r, s, n);
			s->num += s->step_frac;
			s->ipos += s->step_int;
			if (s->num >= s->den) {
				s->num -= s->den;
				s->ipos++;
			}
			n++;
		}
		if (!n)
			break;
		void *g = planar ? r->group : (char *)dst + (size_t)made * ch * r->ss;
		if (r->dbl)
			r->k->dot_f64(s->buf, s->cap, ch, (const double *const *)rows, off, n, s->taps, g);
		else
			r->k->dot_f32(s->buf, s->cap, ch, (const float *const *)rows, off, n, s->taps, g);
		if (planar && !r->dbl) {
			const float *gs = g;
			float *d = (float *)dst + made;
			for (uint32_t c = 0; c < ch; c++, d += dst_stride)
				for (uint32_t m = 0; m < n; m++)
					d[m] = gs[m * ch + c];
		} else if (planar) {
			const double *gs = g;
			double *d = (double *)dst + made;
			for (uint32_t c = 0; c < ch; c++, d += dst_stride)
				for (uint32_t m = 0; m < n; m++)
					d[m] = gs[m * ch + c];
		}
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
		return stage_run(r, s, true, out, false, 0, room);
	while (made < room && !r->done) {
		uint32_t want = room - made < TMP_FRAMES ? room - made : TMP_FRAMES;
		uint32_t n = stage_run(r, s, true, r->tmp, false, 0, want);
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
		uint32_t n = stage_run(r, &r->st[i], false, dst, true, nx->cap, room);
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
