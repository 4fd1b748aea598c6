/* dsp/eq.c - the "eq" node: a cascade of up to 16 RBJ-cookbook biquads with smooth run-time changes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dsp.h"

#define MAX_BANDS	16
/* Coefficients move in straight lines over segments of this many frames. */
#define SEG		32
#define FREQ_MIN	1.0
#define FREQ_MAX	100000.0
#define GAIN_MIN_DB	-40.0
#define GAIN_MAX_DB	40.0
#define Q_MIN		0.01
#define Q_MAX		100.0
#define Q_DEFAULT	0.70710678118654752
#define RAMP_MAX_S	10.0
#define RAMP_DEFAULT_S	0.020
/* Filter state below this is flushed so decaying tails never turn denormal. */
#define STATE_FLOOR	1e-30
#define STATE_CEIL	1e30

enum band_type {
	T_PEAKING, T_LOWSHELF, T_HIGHSHELF, T_LOWPASS, T_HIGHPASS, T_NOTCH, T_BANDPASS, T_ALLPASS,
	N_TYPES
};
static const char *const type_names[N_TYPES + 1] = {
	"peaking", "lowshelf", "highshelf", "lowpass", "highpass", "notch", "bandpass", "allpass", NULL
};

enum { F_TYPE, F_FREQ, F_GAIN, F_Q, N_FIELDS };
static const char *const field_names[N_FIELDS] = { "type", "freq", "gain", "q" };

/* Normalised (a0 = 1) transfer function (b0 + b1 z^-1 + b2 z^-2) / (1 + a1 z^-1 + a2 z^-2). */
struct coefs {
	double b0, b1, b2, a1, a2;
};

struct band {
	char names[N_FIELDS][20];	/* "band3.freq", ... */
	/* what the properties and set_param ask for */
	int type;
	double freq, gain, q;
	/* what is being played: smoothed parameters (log f, dB, log q) moving to the above */
	int cur_type;
	double lf, g, lq;
	uint32_t param_left;		/* frames until the smoothed parameters arrive */
	struct coefs xfade_to;		/* after a type change: coefficients to glide to */
	uint32_t xfade_left;
	/* coefficients at the start (c0) and end of the segment, slope per frame */
	struct coefs c0, end, dc;
	bool moving;
};

struct eq {
	uint32_t n_bands;
	struct band band[MAX_BANDS];
	double ramp_s;
	enum vd_sample_format format;
	uint32_t channels;
	uint32_t rate;			/* 0 until prepared */
	uint32_t scratch_frames;
	uint32_t seg_pos;		/* frames into the current segment; 0 when at rest */
	bool pending;			/* a change waits for the next segment */
	double *state;			/* [band][channel][2], transposed direct form II */
	double *scratch;		/* two channels of one chunk, de-interleaved */
};

/* Robert Bristow-Johnson's Audio-EQ-Cookbook, with Q as the bandwidth parameter for every type. */
static struct coefs design(int type, double freq, double gain_db, double q, double rate)
{
	double w0 = 2.0 * M_PI * freq / rate;
	double cw = cos(w0), alpha = sin(w0) / (2.0 * q);
	double A = pow(10.0, gain_db / 40.0), sa = 2.0 * sqrt(A) * alpha;
	double b0, b1, b2, a0, a1, a2;

	switch (type) {
	case T_LOWSHELF:
		b0 = A * ((A + 1) - (A - 1) * cw + sa);
		b1 = 2 * A * ((A - 1) - (A + 1) * cw);
		b2 = A * ((A + 1) - (A - 1) * cw - sa);
		a0 = (A + 1) + (A - 1) * cw + sa;
		a1 = -2 * ((A - 1) + (A + 1) * cw);
		a2 = (A + 1) + (A - 1) * cw - sa;
		break;
	case T_HIGHSHELF:
		b0 = A * ((A + 1) + (A - 1) * cw + sa);
		b1 = -2 * A * ((A - 1) + (A + 1) * cw);
		b2 = A * ((A + 1) + (A - 1) * cw - sa);
		a0 = (A + 1) - (A - 1) * cw + sa;
		a1 = 2 * ((A - 1) - (A + 1) * cw);
		a2 = (A + 1) - (A - 1) * cw - sa;
		break;
	case T_LOWPASS:
		b1 = 1 - cw;
		b0 = b2 = b1 / 2;
		a0 = 1 + alpha;
		a1 = -2 * cw;
		a2 = 1 - alpha;
		break;
	case T_HIGHPASS:
		b1 = -(1 + cw);
		b0 = b2 = (1 + cw) / 2;
		a0 = 1 + alpha;
		a1 = -2 * cw;
		a2 = 1 - alpha;
		break;
	case T_NOTCH:
		b0 = b2 = 1;
		b1 = -2 * cw;
		a0 = 1 + alpha;
		a1 = -2 * cw;
		a2 = 1 - alpha;
		break;
	case T_BANDPASS:
		b0 = alpha;
		b1 = 0;
		b2 = -alpha;
		a0 = 1 + alpha;
		a1 = -2 * cw;
		a2 = 1 - alpha;
		break;
	case T_ALLPASS:
		b0 = 1 - alpha;
		b1 = -2 * cw;
		b2 = 1 + alpha;
		a0 = 1 + alpha;
		a1 = -2 * cw;
		a2 = 1 - alpha;
		break;
	case T_PEAKING:
	default:
		b0 = 1 + alpha * A;
		b1 = -2 * cw;
		b2 = 1 - alpha * A;
		a0 = 1 + alpha / A;
		a1 = -2 * cw;
		a2 = 1 - alpha / A;
		break;
	}
	return (struct coefs){ b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0 };
}

static struct coefs band_target(const struct eq *e, const struct band *b)
{
	return design(b->type, b->freq, b->gain, b->q, e->rate);
}

/* Put a band at rest on its targets (no glide). */
static void band_snap(const struct eq *e, struct band *b)
{
	b->cur_type = b->type;
	b->lf = log(b->freq);
	b->g = b->gain;
	b->lq = log(b->q);
	b->param_left = 0;
	b->xfade_left = 0;
	b->moving = false;
	if (e->rate)
		b->c0 = b->end = band_target(e, b);
	memset(&b->dc, 0, sizeof(b->dc));
}

static struct coefs lerp(const struct coefs *a, const struct coefs *b, double t)
{
	return (struct coefs){
		a->b0 + (b->b0 - a->b0) * t, a->b1 + (b->b1 - a->b1) * t, a->b2 + (b->b2 - a->b2) * t,
		a->a1 + (b->a1 - a->a1) * t, a->a2 + (b->a2 - a->a2) * t,
	};
}

/*
 * At a segment boundary, choose where the band's coefficients are at the
 * end of the next SEG frames. Parameter changes move log f, dB and log q
 * in equal steps (a sweep sounds like a sweep) and each segment glides
 * linearly between two designed filters; type changes glide the
 * coefficients themselves. Either way every frame's coefficients lie on a
 * segment between two stable biquads, and the set of stable (a1, a2) is
 * the convex triangle |a2| < 1, |a1| < 1 + a2, so they are stable too.
 */
static bool band_plan(const struct eq *e, struct band *b)
{
	b->c0 = b->end;
	if (b->param_left > 0) {
		if (b->param_left <= SEG) {
			b->lf = log(b->freq);
			b->g = b->gain;
			b->lq = log(b->q);
			b->param_left = 0;
			b->end = band_target(e, b);
		} else {
			double t = (double)SEG / b->param_left;

			b->lf += (log(b->freq) - b->lf) * t;
			b->g += (b->gain - b->g) * t;
			b->lq += (log(b->q) - b->lq) * t;
			b->param_left -= SEG;
			b->end = design(b->cur_type, exp(b->lf), b->g, exp(b->lq), e->rate);
		}
	} else if (b->xfade_left > 0) {
		if (b->xfade_left <= SEG) {
			b->end = b->xfade_to;
			b->xfade_left = 0;
		} else {
			b->end = lerp(&b->c0, &b->xfade_to, (double)SEG / b->xfade_left);
			b->xfade_left -= SEG;
		}
	} else {
		b->moving = false;
		memset(&b->dc, 0, sizeof(b->dc));
		return false;
	}
	b->moving = true;
	b->dc = (struct coefs){
		(b->end.b0 - b->c0.b0) / SEG, (b->end.b1 - b->c0.b1) / SEG, (b->end.b2 - b->c0.b2) / SEG,
		(b->end.a1 - b->c0.a1) / SEG, (b->end.a2 - b->c0.a2) / SEG,
	};
	return true;
}

/*
 * State to carry into the next block: tiny values flushed (no denormals),
 * and NaN, infinities or absurd values dropped so one bad input sample
 * costs one block of output instead of silencing the filter for good.
 */
static inline double tidy(double s)
{
	double a = fabs(s);

	return a >= STATE_FLOOR && a < STATE_CEIL ? s : 0.0;
}

static void biquad_static(const struct coefs *c, double *s, double *x, uint32_t n)
{
	double s1 = s[0], s2 = s[1];
	const double b0 = c->b0, b1 = c->b1, b2 = c->b2, a1 = c->a1, a2 = c->a2;

	for (uint32_t i = 0; i < n; i++) {
		double in = x[i], y = b0 * in + s1;

		s1 = b1 * in - a1 * y + s2;
		s2 = b2 * in - a2 * y;
		x[i] = y;
	}
	s[0] = tidy(s1);
	s[1] = tidy(s2);
}

/*
 * Frames @pos..@pos+n of a segment whose coefficients for frame j are
 * c0 + (j + 1) dc, computed afresh per frame (not accumulated) so the
 * result does not depend on how the segment was split across calls.
 */
static void biquad_moving(const struct band *bd, uint32_t pos, double *s, double *x, uint32_t n)
{
	const struct coefs *c = &bd->c0, *d = &bd->dc;
	double s1 = s[0], s2 = s[1];

	for (uint32_t i = 0; i < n; i++) {
		double k = (double)(pos + i + 1), in = x[i], y;

		y = (c->b0 + d->b0 * k) * in + s1;
		s1 = (c->b1 + d->b1 * k) * in - (c->a1 + d->a1 * k) * y + s2;
		s2 = (c->b2 + d->b2 * k) * in - (c->a2 + d->a2 * k) * y;
		x[i] = y;
	}
	s[0] = tidy(s1);
	s[1] = tidy(s2);
}

/*
 * Two channels at once: each biquad is one long dependency chain, so
 * running two independent ones side by side nearly doubles throughput.
 */
static void biquad_static2(const struct coefs *c, double *sa, double *sb, double *xa, double *xb,
			   uint32_t n)
{
	double a1s = sa[0], a2s = sa[1], b1s = sb[0], b2s = sb[1];
	const double b0 = c->b0, b1 = c->b1, b2 = c->b2, a1 = c->a1, a2 = c->a2;

	for (uint32_t i = 0; i < n; i++) {
		double ia = xa[i], ib = xb[i];
		double ya = b0 * ia + a1s, yb = b0 * ib + b1s;

		a1s = b1 * ia - a1 * ya + a2s;
		b1s = b1 * ib - a1 * yb + b2s;
		a2s = b2 * ia - a2 * ya;
		b2s = b2 * ib - a2 * yb;
		xa[i] = ya;
		xb[i] = yb;
	}
	sa[0] = tidy(a1s);
	sa[1] = tidy(a2s);
	sb[0] = tidy(b1s);
	sb[1] = tidy(b2s);
}

static int eq_init(const struct vd_node_init *init, void **self,
		   uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	struct eq *e;
	int res = 0;

	e = calloc(1, sizeof(*e));
	if (!e)
		return vd_error_set(err, -ENOMEM, NULL, "out of memory");
	e->ramp_s = RAMP_DEFAULT_S;
	res = vd_props_number(init->props, "ramp", VD_UNIT_SECONDS, 0.0, RAMP_MAX_S, &e->ramp_s, err);
	if (res < 0)
		goto fail;
	for (int n = 1; n <= MAX_BANDS; n++) {
		struct band *b = &e->band[e->n_bands];
		bool present = false;

		for (int f = 0; f < N_FIELDS; f++) {
			snprintf(b->names[f], sizeof(b->names[f]), "band%d.%s", n, field_names[f]);
			if (vd_props_find(init->props, b->names[f]))
				present = true;
		}
		if (!present)
			continue;
		b->type = T_PEAKING;
		b->freq = 1000.0;
		b->gain = 0.0;
		b->q = Q_DEFAULT;
		if ((res = vd_props_enum(init->props, b->names[F_TYPE], type_names, &b->type, err)) < 0 ||
		    (res = vd_props_number(init->props, b->names[F_FREQ], VD_UNIT_HZ, FREQ_MIN, FREQ_MAX,
					   &b->freq, err)) < 0 ||
		    (res = vd_props_number(init->props, b->names[F_GAIN], VD_UNIT_DB, GAIN_MIN_DB,
					   GAIN_MAX_DB, &b->gain, err)) < 0 ||
		    (res = vd_props_number(init->props, b->names[F_Q], VD_UNIT_NONE, Q_MIN, Q_MAX,
					   &b->q, err)) < 0)
			goto fail;
		band_snap(e, b);
		e->n_bands++;
	}
	*self = e;
	*n_inputs = 1;
	*n_outputs = 1;
	return 0;
fail:
	free(e);
	return res;
}

static void eq_free(void *self)
{
	struct eq *e = self;

	free(e->state);
	free(e->scratch);
	free(e);
}

static int eq_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	if (in[0].format != VD_FORMAT_F64)
		in[0].format = VD_FORMAT_F32;
	out[0] = in[0];
	return 0;
}

static int eq_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
		      const struct vd_audio_format *out, uint32_t n_out,
		      uint32_t max_frames, struct vd_error *err)
{
	struct eq *e = self;
	double *state, *scratch;

	if ((in[0].format != VD_FORMAT_F32 && in[0].format != VD_FORMAT_F64) ||
	    out[0].format != in[0].format || out[0].channels != in[0].channels || in[0].rate == 0)
		return vd_error_set(err, -EINVAL, NULL, "eq needs f32 or f64 input and the same output format");
	for (uint32_t i = 0; i < e->n_bands; i++)
		if (e->band[i].freq >= in[0].rate / 2.0)
			return vd_error_set(err, -EINVAL, NULL,
					    "'%s' = %g Hz is not below half the rate (%g Hz)",
					    e->band[i].names[F_FREQ],
					    e->band[i].freq, in[0].rate / 2.0);
	state = calloc((size_t)(e->n_bands ? e->n_bands : 1) * in[0].channels * 2, sizeof(double));
	if (max_frames < SEG)
		max_frames = SEG;
	scratch = calloc((size_t)max_frames * 2, sizeof(double));
	if (!state || !scratch) {
		free(state);
		free(scratch);
		return vd_error_set(err, -ENOMEM, NULL, "out of memory");
	}
	free(e->state);
	free(e->scratch);
	e->state = state;
	e->scratch = scratch;
	e->format = in[0].format;
	e->channels = in[0].channels;
	e->rate = in[0].rate;
	e->scratch_frames = max_frames;
	e->seg_pos = 0;
	e->pending = false;
	for (uint32_t i = 0; i < e->n_bands; i++)
		band_snap(e, &e->band[i]);
	return 0;
}

static void load(const struct eq *e, const void *src, uint32_t ch, double *x, uint32_t n)
{
	const uint32_t nc = e->channels;

	if (e->format == VD_FORMAT_F64) {
		const double *s = (const double *)src + ch;

		for (uint32_t i = 0; i < n; i++)
			x[i] = s[(size_t)i * nc];
	} else {
		const float *s = (const float *)src + ch;

		for (uint32_t i = 0; i < n; i++)
			x[i] = s[(size_t)i * nc];
	}
}

static void store(const struct eq *e, void *dst, uint32_t ch, const double *x, uint32_t n)
{
	const uint32_t nc = e->channels;

	if (e->format == VD_FORMAT_F64) {
		double *d = (double *)dst + ch;

		for (uint32_t i = 0; i < n; i++)
			d[(size_t)i * nc] = x[i];
	} else {
		float *d = (float *)dst + ch;

		for (uint32_t i = 0; i < n; i++)
			d[(size_t)i * nc] = (float)x[i];
	}
}

static double *state_of(const struct eq *e, uint32_t band, uint32_t ch)
{
	return &e->state[((size_t)band * e->channels + ch) * 2];
}

/* @n frames at segment position seg_pos through every band; channels in pairs where possible. */
static void run_chunk(struct eq *e, const void *src, void *dst, uint32_t n)
{
	double *xa = e->scratch, *xb = e->scratch + e->scratch_frames;

	for (uint32_t ch = 0; ch < e->channels; ch += 2) {
		bool pair = ch + 1 < e->channels;

		load(e, src, ch, xa, n);
		if (pair)
			load(e, src, ch + 1, xb, n);
		for (uint32_t i = 0; i < e->n_bands; i++) {
			const struct band *b = &e->band[i];

			if (b->moving) {
				biquad_moving(b, e->seg_pos, state_of(e, i, ch), xa, n);
				if (pair)
					biquad_moving(b, e->seg_pos, state_of(e, i, ch + 1), xb, n);
			} else if (pair) {
				biquad_static2(&b->end, state_of(e, i, ch), state_of(e, i, ch + 1), xa, xb, n);
			} else {
				biquad_static(&b->end, state_of(e, i, ch), xa, n);
			}
		}
		store(e, dst, ch, xa, n);
		if (pair)
			store(e, dst, ch + 1, xb, n);
	}
}

static int eq_process(void *self, struct vd_buffer *in, uint32_t n_in,
		      struct vd_buffer *out, uint32_t n_out)
{
	struct eq *e = self;
	uint32_t n = in[0].frames < out[0].frames ? in[0].frames : out[0].frames;
	size_t fsz = vd_format_sample_size(e->format) * e->channels;
	const char *src = in[0].data;
	char *dst = out[0].data;
	uint32_t done = 0;

	if (e->n_bands == 0) {
		if (n > 0 && src != dst)
			memmove(dst, src, n * fsz);
		done = n;
	}
	while (done < n) {
		uint32_t len = n - done;

		if (e->seg_pos == 0 && e->pending) {
			bool moving = false;

			for (uint32_t i = 0; i < e->n_bands; i++)
				moving |= band_plan(e, &e->band[i]);
			e->pending = moving;
		}
		if (e->pending && len > SEG - e->seg_pos)
			len = SEG - e->seg_pos;
		if (len > e->scratch_frames)
			len = e->scratch_frames;
		run_chunk(e, src + done * fsz, dst + done * fsz, len);
		done += len;
		if (e->pending && (e->seg_pos += len) == SEG)
			e->seg_pos = 0;
	}
	in[0].frames = n;
	out[0].frames = n;
	out[0].flags = (in[0].flags & VD_BUFFER_EOS) && n == in[0].frames ? VD_BUFFER_EOS : 0;
	return 0;
}

static void eq_reset(void *self)
{
	struct eq *e = self;

	if (e->state)
		memset(e->state, 0, (size_t)e->n_bands * e->channels * 2 * sizeof(double));
	e->seg_pos = 0;
	e->pending = false;
	for (uint32_t i = 0; i < e->n_bands; i++)
		band_snap(e, &e->band[i]);
}

static int eq_enum_params(void *self, uint32_t index, struct vd_param_info *info)
{
	struct eq *e = self;
	const struct band *b;

	if (index >= e->n_bands * N_FIELDS)
		return -ENOENT;
	b = &e->band[index / N_FIELDS];
	memset(info, 0, sizeof(*info));
	info->id = index;
	info->name = b->names[index % N_FIELDS];
	info->flags = VD_PARAM_READ | VD_PARAM_WRITE;
	switch (index % N_FIELDS) {
	case F_TYPE:
		info->type = VD_PARAM_ENUM;
		info->max = N_TYPES - 1;
		info->step = 1;
		info->def = T_PEAKING;
		info->items = type_names;
		info->n_items = N_TYPES;
		break;
	case F_FREQ:
		info->type = VD_PARAM_FLOAT;
		info->unit = VD_UNIT_HZ;
		info->min = FREQ_MIN;
		info->max = e->rate ? e->rate / 2.0 : FREQ_MAX;
		info->step = 1;
		info->def = 1000;
		break;
	case F_GAIN:
		info->type = VD_PARAM_FLOAT;
		info->unit = VD_UNIT_DB;
		info->min = GAIN_MIN_DB;
		info->max = GAIN_MAX_DB;
		info->step = 0.1;
		break;
	case F_Q:
		info->type = VD_PARAM_FLOAT;
		info->min = Q_MIN;
		info->max = Q_MAX;
		info->step = 0.01;
		info->def = Q_DEFAULT;
		break;
	}
	return 0;
}

static int eq_set_param(void *self, uint32_t id, double value)
{
	struct eq *e = self;
	struct band *b;

	if (id >= e->n_bands * N_FIELDS)
		return -ENOENT;
	b = &e->band[id / N_FIELDS];
	switch (id % N_FIELDS) {
	case F_TYPE:
		if (!(value >= 0 && value < N_TYPES) || value != floor(value))
			return -EINVAL;
		if (b->type == (int)value)
			return 0;
		b->type = (int)value;
		break;
	case F_FREQ:
		if (!(value >= FREQ_MIN && value <= FREQ_MAX) || (e->rate && value >= e->rate / 2.0))
			return -EINVAL;
		b->freq = value;
		break;
	case F_GAIN:
		if (!(value >= GAIN_MIN_DB && value <= GAIN_MAX_DB))
			return -EINVAL;
		b->gain = value;
		break;
	case F_Q:
		if (!(value >= Q_MIN && value <= Q_MAX))
			return -EINVAL;
		b->q = value;
		break;
	}
	if (e->rate == 0) {
		band_snap(e, b);
		return 0;
	}
	if (b->type != b->cur_type) {
		/* A new shape cannot be reached by moving parameters: glide the coefficients. */
		b->cur_type = b->type;
		b->lf = log(b->freq);
		b->g = b->gain;
		b->lq = log(b->q);
		b->param_left = 0;
		b->xfade_to = band_target(e, b);
		b->xfade_left = vd_dsp_frames(e->ramp_s, e->rate);
		if (b->xfade_left == 0)
			b->xfade_left = 1;
	} else {
		b->xfade_left = 0;
		b->param_left = vd_dsp_frames(e->ramp_s, e->rate);
		if (b->param_left == 0)
			b->param_left = 1;
	}
	e->pending = true;
	return 0;
}

static int eq_get_param(void *self, uint32_t id, double *value)
{
	struct eq *e = self;
	const struct band *b;

	if (id >= e->n_bands * N_FIELDS)
		return -ENOENT;
	b = &e->band[id / N_FIELDS];
	switch (id % N_FIELDS) {
	case F_TYPE: *value = b->type; break;
	case F_FREQ: *value = b->freq; break;
	case F_GAIN: *value = b->gain; break;
	case F_Q: *value = b->q; break;
	}
	return 0;
}

const struct vd_node_ops vd_node_eq = {
	.version = VD_NODE_OPS_VERSION,
	.type = "eq",
	.summary = "parametric equaliser (biquad cascade)",
	.init = eq_init,
	.free = eq_free,
	.negotiate = eq_negotiate,
	.prepare = eq_prepare,
	.process = eq_process,
	.reset = eq_reset,
	.enum_params = eq_enum_params,
	.set_param = eq_set_param,
	.get_param = eq_get_param,
};
