/* dsp/tone.c - the "tone" source: sine, square, white and pink noise, reproducible from a seed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dsp.h"

enum wave { W_SINE, W_SQUARE, W_WHITE, W_PINK };
static const char *const wave_names[] = { "sine", "square", "white", "pink", NULL };

enum { P_FREQ, P_LEVEL, N_PARAMS };

#define LEVEL_MIN_DB	-150.0
#define LEVEL_MAX_DB	0.0
#define LEVEL_DEFAULT	-20.0
#define RATE_MAX	768000
#define DURATION_MAX	(7 * 24 * 3600.0)
#define LEVEL_RAMP_S	0.010
/* The oscillator is re-derived from its phase every RESYNC frames of the stream. */
#define RESYNC		1024
/* Pink noise: one pole/zero pair per octave from PINK_LOW Hz up to 0.45 of the rate. */
#define PINK_LOW	5.0
#define PINK_MAX	24

struct pink {
	uint32_t n;
	double p[PINK_MAX], q[PINK_MAX];	/* pole and zero of each first-order section */
	double x1[PINK_MAX], y1[PINK_MAX];
	double norm;				/* makes the output's RMS 1 for unit white input */
};

struct tone {
	int wave;
	double freq, level_db;
	uint32_t channels, rate;
	uint64_t seed;
	int64_t total;			/* frames in all, -1 for endless */
	/* stream state */
	int64_t pos;
	int64_t anchor_pos;		/* the phase is known exactly here (last freq change) */
	double anchor_phase;		/* cycles */
	double re, im;			/* cos/sin of the next frame's phase, advanced by rotation */
	double rot_re, rot_im;		/* one frame's rotation */
	uint64_t rng;
	bool have_spare;
	double spare;
	struct pink pink;
	struct vd_dsp_ramp gain;
};

static const struct vd_param_info params[N_PARAMS] = {
	[P_FREQ] = { .id = P_FREQ, .name = "freq", .type = VD_PARAM_FLOAT,
		     .flags = VD_PARAM_READ | VD_PARAM_WRITE, .unit = VD_UNIT_HZ,
		     .min = 0.0, .max = RATE_MAX / 2.0, .step = 1, .def = 1000 },
	[P_LEVEL] = { .id = P_LEVEL, .name = "level", .type = VD_PARAM_FLOAT,
		      .flags = VD_PARAM_READ | VD_PARAM_WRITE, .unit = VD_UNIT_DB,
		      .min = LEVEL_MIN_DB, .max = LEVEL_MAX_DB, .step = 0.1, .def = LEVEL_DEFAULT },
};

/* splitmix64: a fast generator with a 64-bit state that any seed (even 0) starts well. */
static uint64_t next_u64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Standard normal deviates by the Box-Muller transform, two per pair of uniforms. */
static double gaussian(struct tone *t)
{
	double u1, u2, r;

	if (t->have_spare) {
		t->have_spare = false;
		return t->spare;
	}
	u1 = ((next_u64(&t->rng) >> 11) + 1.0) * 0x1.0p-53;	/* (0, 1] */
	u2 = (next_u64(&t->rng) >> 11) * 0x1.0p-53;		/* [0, 1) */
	r = sqrt(-2.0 * log(u1));
	t->spare = r * sin(2.0 * M_PI * u2);
	t->have_spare = true;
	return r * cos(2.0 * M_PI * u2);
}

static double pink_step(struct pink *pk, double x)
{
	for (uint32_t k = 0; k < pk->n; k++) {
		double y = x - pk->q[k] * pk->x1[k] + pk->p[k] * pk->y1[k];

		pk->x1[k] = x;
		pk->y1[k] = y;
		x = y;
	}
	return x;
}

/*
 * Poles at PINK_LOW * 2^k Hz, zeros half an octave above each: the
 * response alternates -6 and 0 dB/octave, -3 dB/octave on average
 * (within about 0.5 dB from 30 Hz to 12 kHz). norm comes from the impulse
 * response's energy.
 */
static void pink_design(struct pink *pk, uint32_t rate)
{
	double e = 0;

	memset(pk, 0, sizeof(*pk));
	for (double f = PINK_LOW; f < 0.45 * rate && pk->n < PINK_MAX; f *= 2) {
		pk->p[pk->n] = exp(-2.0 * M_PI * f / rate);
		pk->q[pk->n] = exp(-2.0 * M_PI * f * M_SQRT2 / rate);
		pk->n++;
	}
	for (uint32_t i = 0; i < 2 * rate; i++) {
		double y = pink_step(pk, i == 0 ? 1.0 : 0.0);

		e += y * y;
	}
	pk->norm = 1.0 / sqrt(e);
	memset(pk->x1, 0, sizeof(pk->x1));
	memset(pk->y1, 0, sizeof(pk->y1));
}

/*
 * Phase (cycles, [0, 1)) of frame @pos, from the anchor rather than by
 * accumulation: freq * k is exact for whole-Hz tones and fmod is exact, so
 * square edges fall on exact frames and the phase never drifts.
 */
static double phase_at(const struct tone *t, int64_t pos)
{
	double ph = t->anchor_phase + fmod(t->freq * (double)(pos - t->anchor_pos), (double)t->rate) / t->rate;

	return ph >= 1.0 ? ph - 1.0 : ph;
}

static void osc_sync(struct tone *t, int64_t pos)
{
	double ph = phase_at(t, pos);

	t->re = cos(2.0 * M_PI * ph);
	t->im = sin(2.0 * M_PI * ph);
}

static void osc_set_freq(struct tone *t, double freq)
{
	t->anchor_phase = phase_at(t, t->pos);
	t->anchor_pos = t->pos;
	t->freq = freq;
	t->rot_re = cos(2.0 * M_PI * freq / t->rate);
	t->rot_im = sin(2.0 * M_PI * freq / t->rate);
	osc_sync(t, t->pos);
}

static void tone_restart(struct tone *t)
{
	t->pos = 0;
	t->anchor_pos = 0;
	t->anchor_phase = 0;
	t->rng = t->seed;
	t->have_spare = false;
	memset(t->pink.x1, 0, sizeof(t->pink.x1));
	memset(t->pink.y1, 0, sizeof(t->pink.y1));
	osc_set_freq(t, t->freq);
	vd_dsp_ramp_snap(&t->gain, vd_dsp_db_to_gain(t->level_db));
}

static int tone_init(const struct vd_node_init *init, void **self,
		     uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	struct tone *t;
	const struct vd_prop *fp;
	double duration = -1;
	uint32_t seed = 1;
	int res;

	t = calloc(1, sizeof(*t));
	if (!t)
		return vd_error_set(err, -ENOMEM, NULL, "out of memory");
	t->wave = W_SINE;
	t->freq = 1000.0;
	t->level_db = LEVEL_DEFAULT;
	t->channels = 1;
	t->rate = init->rate ? init->rate : 48000;
	if ((res = vd_props_enum(init->props, "wave", wave_names, &t->wave, err)) < 0 ||
	    (res = vd_props_uint(init->props, "rate", 1, RATE_MAX, &t->rate, err)) < 0 ||
	    (res = vd_props_number(init->props, "freq", VD_UNIT_HZ, 0.0, RATE_MAX / 2.0,
				   &t->freq, err)) < 0 ||
	    (res = vd_props_number(init->props, "level", VD_UNIT_DB, LEVEL_MIN_DB, LEVEL_MAX_DB,
				   &t->level_db, err)) < 0 ||
	    (res = vd_props_uint(init->props, "channels", 1, VD_MAX_CHANNELS, &t->channels, err)) < 0 ||
	    (res = vd_props_number(init->props, "duration", VD_UNIT_SECONDS, 0.0, DURATION_MAX,
				   &duration, err)) < 0 ||
	    (res = vd_props_uint(init->props, "seed", 0, UINT32_MAX, &seed, err)) < 0)
		goto fail;
	fp = vd_props_find(init->props, "freq");
	if ((t->wave == W_SINE || t->wave == W_SQUARE) && t->freq >= t->rate / 2.0) {
		res = vd_error_set(err, -EINVAL, fp ? &fp->loc : NULL,
				   "'freq' = %g Hz is not below half the rate (%g Hz)", t->freq, t->rate / 2.0);
		goto fail;
	}
	t->seed = seed;
	t->total = duration < 0 ? -1 : (int64_t)floor(duration * t->rate + 0.5);
	if (t->wave == W_PINK)
		pink_design(&t->pink, t->rate);
	tone_restart(t);
	*self = t;
	*n_inputs = 0;
	*n_outputs = 1;
	return 0;
fail:
	free(t);
	return res;
}

static void tone_free(void *self)
{
	free(self);
}

static int tone_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			  struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	struct tone *t = self;

	vd_audio_format_init(&out[0], VD_FORMAT_F32, t->rate, t->channels);
	return 0;
}

static int tone_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
			const struct vd_audio_format *out, uint32_t n_out,
			uint32_t max_frames, struct vd_error *err)
{
	struct tone *t = self;

	if (out[0].format != VD_FORMAT_F32 || out[0].channels != t->channels || out[0].rate != t->rate)
		return vd_error_set(err, -EINVAL, NULL, "tone produces f32 %uHz %uch only",
				    t->rate, t->channels);
	tone_restart(t);
	return 0;
}

/* @n mono samples at unit level (sine/square peak 1, noise RMS 1/sqrt 2) into @x. */
static void generate(struct tone *t, float *x, uint32_t n)
{
	uint32_t sync = (uint32_t)((RESYNC - t->pos % RESYNC) % RESYNC);

	for (uint32_t i = 0; i < n; i++) {
		double v, re;

		if (i == sync) {
			osc_sync(t, t->pos + i);
			sync += RESYNC;
		}
		switch (t->wave) {
		case W_SQUARE:
			v = phase_at(t, t->pos + i) < 0.5 ? 1.0 : -1.0;
			break;
		case W_WHITE:
			v = gaussian(t) * M_SQRT1_2;
			break;
		case W_PINK:
			v = pink_step(&t->pink, gaussian(t)) * t->pink.norm * M_SQRT1_2;
			break;
		default:
			v = t->im;
			break;
		}
		x[i] = (float)v;
		re = t->re * t->rot_re - t->im * t->rot_im;
		t->im = t->re * t->rot_im + t->im * t->rot_re;
		t->re = re;
	}
}

static int tone_process(void *self, struct vd_buffer *in, uint32_t n_in,
			struct vd_buffer *out, uint32_t n_out)
{
	struct tone *t = self;
	uint32_t n = out[0].frames, ch = t->channels;
	float *x = out[0].data;

	if (t->total >= 0 && (int64_t)n > t->total - t->pos)
		n = (uint32_t)(t->total - t->pos);
	if (n > 0) {
		generate(t, x, n);
		vd_dsp_gain_f32(x, x, n, 1, &t->gain, false);
		/* spread the mono samples over the channels, from the end so nothing is overwritten unread */
		if (ch > 1) {
			for (uint32_t i = n; i-- > 0;) {
				float v = x[i];

				for (uint32_t c = 0; c < ch; c++)
					x[(size_t)i * ch + c] = v;
			}
		}
		t->pos += n;
	}
	out[0].frames = n;
	out[0].flags = t->total >= 0 && t->pos >= t->total ? VD_BUFFER_EOS : 0;
	return 0;
}

static void tone_reset(void *self)
{
	tone_restart(self);
}

static int tone_enum_params(void *self, uint32_t index, struct vd_param_info *info)
{
	struct tone *t = self;

	if (index >= N_PARAMS)
		return -ENOENT;
	*info = params[index];
	if (index == P_FREQ)
		info->max = t->rate / 2.0;
	return 0;
}

static int tone_set_param(void *self, uint32_t id, double value)
{
	struct tone *t = self;

	switch (id) {
	case P_FREQ:
		if (!(value >= 0 && value < t->rate / 2.0))
			return -EINVAL;
		osc_set_freq(t, value);
		return 0;
	case P_LEVEL:
		if (!(value >= LEVEL_MIN_DB && value <= LEVEL_MAX_DB))
			return -EINVAL;
		t->level_db = value;
		vd_dsp_ramp_to(&t->gain, vd_dsp_db_to_gain(value), vd_dsp_frames(LEVEL_RAMP_S, t->rate));
		return 0;
	}
	return -ENOENT;
}

static int tone_get_param(void *self, uint32_t id, double *value)
{
	struct tone *t = self;

	switch (id) {
	case P_FREQ:
		*value = t->freq;
		return 0;
	case P_LEVEL:
		*value = t->level_db;
		return 0;
	}
	return -ENOENT;
}

static int64_t tone_total_frames(void *self)
{
	struct tone *t = self;

	return t->total;
}

const struct vd_node_ops vd_node_tone = {
	.version = VD_NODE_OPS_VERSION,
	.type = "tone",
	.summary = "test signal source: sine, square, white or pink noise",
	.flags = VD_NODE_SOURCE,
	.init = tone_init,
	.free = tone_free,
	.negotiate = tone_negotiate,
	.prepare = tone_prepare,
	.process = tone_process,
	.reset = tone_reset,
	.enum_params = tone_enum_params,
	.set_param = tone_set_param,
	.get_param = tone_get_param,
	.total_frames = tone_total_frames,
};
