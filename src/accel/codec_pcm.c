/* accel/codec_pcm.c - the PCM codec of the "src" accelerator: format, channels and rate.
 *
 * Per chunk of input frames: fewer output channels are mixed down first (so
 * the resampler has less to do), more are mixed up last; the resampler
 * (vd_resampler_*) sits in the middle when the rates differ. Format
 * conversion and the channel matrix are stateless and undithered and the
 * resampler's output does not depend on how its input is chunked, so a
 * stream split into any tasks converts bit-identically to one task.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtdsp/convert.h>
#include <virtdsp/resample.h>

#include "accel/codec.h"

/* Frames converted between two cancellation checks: bounded work. CHUNK
 * when the frames go through scratch buffers; BIG_CHUNK (< ~1 ms of the
 * slowest preset) when the input is fed to the converter in place, since
 * fewer, longer resampler calls are measurably cheaper (bench_accel). */
#define CHUNK 1024
#define BIG_CHUNK 16384
#define MIN_RATE 1000
#define MAX_RATE 768000

struct accel_codec {
	struct vd_accel_params p;
	size_t in_frame, out_frame;
	uint32_t in_ch, mid_ch, out_ch;
	bool pre_mix, post_mix;
	float *pre_m, *post_m;		/* mixing matrices (out_ch x in_ch, row-major) */
	float *a, *b;			/* f32 scratch of the input side, CHUNK frames x VD_MAX_CHANNELS */
	float *pa, *pb;			/* the same for emit(), which runs while a/b are still being read */
	struct vd_resampler *rs;	/* NULL at 1:1 */
	enum vd_sample_format rs_in, rs_out;
	uint8_t *rs_buf;		/* resampler output when it cannot go straight to the task */
	uint32_t rs_buf_frames;
	bool drained;
};

static bool rs_format(enum vd_sample_format f)
{
	return f == VD_FORMAT_F32 || f == VD_FORMAT_S16 || f == VD_FORMAT_S32;
}

static void pcm_caps(struct vd_accel_codec_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	caps->codec = VD_ACCEL_CODEC_PCM;
	caps->formats = VD_FORMAT_MASK_ALL;
	caps->pcm_formats = VD_FORMAT_MASK_ALL;
	caps->min_rate = MIN_RATE;
	caps->max_rate = MAX_RATE;
	caps->out_rate_min = MIN_RATE;
	caps->out_rate_max = MAX_RATE;
	caps->num_qualities = VD_RESAMPLE_QUALITY_COUNT;
	caps->max_channels = VD_MAX_CHANNELS;
}

static void pcm_normalize(struct vd_accel_params *p)
{
	if (p->out.format == VD_FORMAT_UNKNOWN)
		p->out.format = p->in.format;
	if (!p->out.rate)
		p->out.rate = p->in.rate;
	if (!p->out.channels)
		p->out.channels = p->in.channels;
}

static void pcm_destroy(struct accel_codec *c)
{
	if (!c)
		return;
	if (c->rs)
		vd_resampler_free(c->rs);
	free(c->pre_m);
	free(c->post_m);
	free(c->a);
	free(c->b);
	free(c->pa);
	free(c->pb);
	free(c->rs_buf);
	free(c);
}

static int fail(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int check_side(const char *side, enum vd_sample_format f, uint32_t rate, uint32_t ch,
		      char *err, size_t errsz)
{
	if (f <= VD_FORMAT_UNKNOWN || f >= VD_FORMAT_COUNT)
		return fail(err, errsz, "%s format %d is not a known sample format", side, (int)f);
	if (rate < MIN_RATE || rate > MAX_RATE)
		return fail(err, errsz, "%s rate must be %u..%u Hz (got %u)", side, MIN_RATE, MAX_RATE, rate);
	if (ch < 1 || ch > VD_MAX_CHANNELS)
		return fail(err, errsz, "%s channels must be 1..%u (got %u)", side, VD_MAX_CHANNELS, ch);
	return 0;
}

static float *matrix(uint32_t out_ch, uint32_t in_ch)
{
	uint8_t ip[VD_MAX_CHANNELS], op[VD_MAX_CHANNELS];
	float *m = calloc((size_t)out_ch * in_ch, sizeof(float));

	if (!m)
		return NULL;
	vd_channel_default_map(in_ch, ip);
	vd_channel_default_map(out_ch, op);
	if (vd_channel_matrix(op, out_ch, ip, in_ch, true, m) < 0) {
		free(m);
		return NULL;
	}
	return m;
}

static int pcm_init(const struct vd_accel_params *p, struct accel_codec **out, char *err, size_t errsz)
{
	struct accel_codec *c;
	struct vd_audio_format fi, fo;
	int res;

	if ((res = check_side("input", p->in.format, p->in.rate, p->in.channels, err, errsz)) < 0 ||
	    (res = check_side("output", p->out.format, p->out.rate, p->out.channels, err, errsz)) < 0)
		return res;
	if ((unsigned)p->quality >= VD_RESAMPLE_QUALITY_COUNT)
		return fail(err, errsz, "unknown resampler quality %d", (int)p->quality);

	c = calloc(1, sizeof(*c));
	if (!c)
		goto nomem;
	c->p = *p;
	vd_audio_format_init(&fi, p->in.format, p->in.rate, p->in.channels);
	vd_audio_format_init(&fo, p->out.format, p->out.rate, p->out.channels);
	c->in_frame = vd_format_frame_size(&fi);
	c->out_frame = vd_format_frame_size(&fo);
	c->in_ch = p->in.channels;
	c->out_ch = p->out.channels;
	c->pre_mix = c->out_ch < c->in_ch;
	c->post_mix = c->out_ch > c->in_ch;
	c->mid_ch = c->pre_mix ? c->out_ch : c->in_ch;
	if (c->pre_mix && !(c->pre_m = matrix(c->out_ch, c->in_ch)))
		goto nomem;
	if (c->post_mix && !(c->post_m = matrix(c->out_ch, c->in_ch)))
		goto nomem;
	c->a = malloc(sizeof(float) * CHUNK * VD_MAX_CHANNELS);
	c->b = malloc(sizeof(float) * CHUNK * VD_MAX_CHANNELS);
	c->pa = malloc(sizeof(float) * CHUNK * VD_MAX_CHANNELS);
	c->pb = malloc(sizeof(float) * CHUNK * VD_MAX_CHANNELS);
	if (!c->a || !c->b || !c->pa || !c->pb)
		goto nomem;
	if (p->in.rate != p->out.rate) {
		struct vd_resample_config rc = {
			.rate_in = p->in.rate,
			.rate_out = p->out.rate,
			.channels = c->mid_ch,
			.quality = p->quality,
		};
		c->rs_in = !c->pre_mix && rs_format(p->in.format) ? p->in.format : VD_FORMAT_F32;
		c->rs_out = !c->post_mix && rs_format(p->out.format) ? p->out.format : VD_FORMAT_F32;
		rc.format_in = c->rs_in;
		rc.format_out = c->rs_out;
		res = vd_resampler_new(&rc, &c->rs);
		if (res < 0) {
			pcm_destroy(c);
			return fail(err, errsz, "the resampler refused %u Hz -> %u Hz, %u channels (%d)",
				    p->in.rate, p->out.rate, c->mid_ch, res);
		}
		c->rs_buf_frames = CHUNK;
		c->rs_buf = malloc((size_t)CHUNK * VD_MAX_CHANNELS * sizeof(float));
		if (!c->rs_buf)
			goto nomem;
	}
	*out = c;
	return 0;
nomem:
	pcm_destroy(c);
	snprintf(err, errsz, "out of memory");
	return -ENOMEM;
}

static uint32_t pcm_granule(const struct accel_codec *c)
{
	return (uint32_t)c->in_frame;
}

static uint64_t pcm_max_output(const struct accel_codec *c, uint64_t in_bytes)
{
	uint64_t frames = in_bytes / c->in_frame;

	if (c->rs) {
		/* What the filter may still hold from earlier tasks comes out in
		 * this one (max_output(0) bounds it), and drift correction may
		 * stretch the ratio by up to 2%. */
		uint64_t n = frames > UINT32_MAX / 2 ? UINT32_MAX / 2 : frames;
		uint64_t w = (uint64_t)vd_resampler_max_output(c->rs, (uint32_t)n) +
			     vd_resampler_max_output(c->rs, 0);
		frames = w + w / 50 + 2;
	}
	return frames * c->out_frame;
}

/* Post-resampler (or no-resampler) stage: @n frames of @mid_ch channels in @fmt to the task output. */
static void emit(struct accel_codec *c, enum vd_sample_format fmt, const void *src, uint32_t n,
		 struct accel_out *out)
{
	uint8_t *dst = out->data + out->size;

	if (c->post_mix) {
		const float *in = src;

		if (fmt != VD_FORMAT_F32) {
			vd_convert_samples(VD_FORMAT_F32, c->pa, fmt, src, (size_t)n * c->mid_ch, NULL);
			in = c->pa;
		}
		for (uint32_t f = 0; f < n; f++) {
			const float *fi = in + (size_t)f * c->in_ch;
			float *fo = c->pb + (size_t)f * c->out_ch;
			for (uint32_t o = 0; o < c->out_ch; o++) {
				const float *row = c->post_m + (size_t)o * c->in_ch;
				float acc = 0.0f;
				for (uint32_t i = 0; i < c->in_ch; i++)
					acc += row[i] * fi[i];
				fo[o] = acc;
			}
		}
		vd_convert_samples(c->p.out.format, dst, VD_FORMAT_F32, c->pb, (size_t)n * c->out_ch, NULL);
	} else {
		vd_convert_samples(c->p.out.format, dst, fmt, src, (size_t)n * c->out_ch, NULL);
	}
	out->size += (size_t)n * c->out_frame;
}

/* Pre-resampler stage: @n input frames to mid_ch channels; returns the data and its format. */
static const void *prepare(struct accel_codec *c, const uint8_t *in, uint32_t n, enum vd_sample_format want,
			   enum vd_sample_format *fmt)
{
	if (c->pre_mix) {
		vd_convert_samples(VD_FORMAT_F32, c->a, c->p.in.format, in, (size_t)n * c->in_ch, NULL);
		for (uint32_t f = 0; f < n; f++) {
			const float *fi = c->a + (size_t)f * c->in_ch;
			float *fo = c->b + (size_t)f * c->out_ch;
			for (uint32_t o = 0; o < c->out_ch; o++) {
				const float *row = c->pre_m + (size_t)o * c->in_ch;
				float acc = 0.0f;
				for (uint32_t i = 0; i < c->in_ch; i++)
					acc += row[i] * fi[i];
				fo[o] = acc;
			}
		}
		*fmt = VD_FORMAT_F32;
		return c->b;
	}
	if (want == c->p.in.format) {
		*fmt = want;
		return in;
	}
	vd_convert_samples(want, c->a, c->p.in.format, in, (size_t)n * c->in_ch, NULL);
	*fmt = want;
	return c->a;
}

/* Resampler output straight into the task when no later stage is needed. */
static bool direct(const struct accel_codec *c)
{
	return !c->post_mix && c->rs_out == c->p.out.format;
}

static void rs_run(struct accel_codec *c, const void *src, uint32_t n, struct accel_out *out)
{
	uint32_t used = 0;
	size_t isz = vd_format_sample_size(c->rs_in) * c->mid_ch;

	for (;;) {
		uint32_t in_n = n - used, out_n;
		void *dst;

		if (direct(c)) {
			size_t room = (out->cap - out->size) / c->out_frame;
			out_n = room > UINT32_MAX ? UINT32_MAX : (uint32_t)room;
			dst = out->data + out->size;
		} else {
			out_n = c->rs_buf_frames;
			dst = c->rs_buf;
		}
		if (!out_n)
			return;	/* max_output() makes this unreachable */
		vd_resampler_process(c->rs, (const uint8_t *)src + used * isz, &in_n, dst, &out_n);
		used += in_n;
		if (direct(c))
			out->size += (size_t)out_n * c->out_frame;
		else if (out_n)
			emit(c, c->rs_out, c->rs_buf, out_n, out);
		if (used == n && out_n == 0)
			return;
		if (!in_n && !out_n)
			return;
	}
}

static int pcm_process(struct accel_codec *c, const uint8_t *in, size_t in_size, struct accel_out *out,
		       const atomic_uint *cancel, unsigned gen)
{
	size_t frames = in_size / c->in_frame;

	c->drained = false;	/* after END_OF_STREAM (already reset by drain), a new stream */
	/* In place: no pre-mix and the input format goes straight in. */
	bool in_place = !c->pre_mix && !c->post_mix;
	if (c->rs)
		in_place = !c->pre_mix && c->rs_in == c->p.in.format;
	const size_t step = in_place ? BIG_CHUNK : CHUNK;

	for (size_t done = 0; done < frames;) {
		uint32_t n = frames - done < step ? (uint32_t)(frames - done) : (uint32_t)step;
		const uint8_t *src = in + done * c->in_frame;
		enum vd_sample_format fmt;
		const void *mid;

		if (atomic_load_explicit(cancel, memory_order_relaxed) != gen)
			return -ECANCELED;
		if (c->rs) {
			mid = prepare(c, src, n, c->rs_in, &fmt);
			rs_run(c, mid, n, out);
			done += n;
			continue;
		}
		if (!c->pre_mix && !c->post_mix) {
			/* One pass: the converter handles any pair of formats. */
			vd_convert_samples(c->p.out.format, out->data + out->size, c->p.in.format, src,
					   (size_t)n * c->in_ch, NULL);
			out->size += (size_t)n * c->out_frame;
		} else {
			mid = prepare(c, src, n, c->post_mix ? VD_FORMAT_F32 : c->p.in.format, &fmt);
			emit(c, fmt, mid, n, out);
		}
		done += n;
	}
	return 0;
}

static int pcm_drain(struct accel_codec *c, struct accel_out *out)
{
	if (c->rs && !c->drained) {
		for (;;) {
			uint32_t out_n;
			void *dst;

			if (direct(c)) {
				size_t room = (out->cap - out->size) / c->out_frame;
				out_n = room > UINT32_MAX ? UINT32_MAX : (uint32_t)room;
				dst = out->data + out->size;
			} else {
				out_n = c->rs_buf_frames;
				dst = c->rs_buf;
			}
			if (!out_n)
				break;
			vd_resampler_drain(c->rs, dst, &out_n);
			if (!out_n)
				break;
			if (direct(c))
				out->size += (size_t)out_n * c->out_frame;
			else
				emit(c, c->rs_out, c->rs_buf, out_n, out);
		}
		vd_resampler_reset(c->rs);
	}
	c->drained = true;
	out->flags |= VD_ACCEL_OUT_END_OF_STREAM;
	return 0;
}

static void pcm_reset(struct accel_codec *c)
{
	if (c->rs)
		vd_resampler_reset(c->rs);
	c->drained = false;
}

static int pcm_set_adjust(struct accel_codec *c, double adjust)
{
	if (!(adjust >= 0.98 && adjust <= 1.02))
		return -EINVAL;
	if (c->rs)
		return vd_resampler_set_adjust(c->rs, adjust);
	return -EOPNOTSUPP;
}

const struct accel_codec_ops accel_codec_pcm = {
	.id = VD_ACCEL_CODEC_PCM,
	.name = "pcm",
	.caps = pcm_caps,
	.init = pcm_init,
	.normalize = pcm_normalize,
	.destroy = pcm_destroy,
	.max_output = pcm_max_output,
	.input_granule = pcm_granule,
	.process = pcm_process,
	.drain = pcm_drain,
	.reset = pcm_reset,
	.set_adjust = pcm_set_adjust,
};

const struct accel_codec_ops *const accel_src_codecs[] = {
	&accel_codec_pcm,
	NULL,
};
