/* dsp/convert.c - the "convert" node: sample format and channel count/layout conversion. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <virtdsp/convert.h>

#include "dsp/dsp.h"

/* Frames per pass through the double-precision mixing buffers. */
#define CHUNK 256

struct convert {
	enum vd_sample_format format_prop;	/* UNKNOWN: keep the input's */
	uint32_t channels_prop;			/* 0: keep the input's */
	bool dither;
	uint32_t seed;
	struct vd_audio_format in, out;
	bool mix;				/* channel count or layout changes */
	bool use_dither;
	struct vd_dither dither_state;
	double *m;				/* out_ch x in_ch */
	double *a, *b;				/* CHUNK frames in, out */
};

static int convert_init(const struct vd_node_init *init, void **self,
			uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	struct convert *c;
	int res;

	c = calloc(1, sizeof(*c));
	if (!c)
		return vd_error_set(err, -ENOMEM, NULL, "out of memory");
	if ((res = vd_props_format(init->props, "format", &c->format_prop, err)) < 0 ||
	    (res = vd_props_uint(init->props, "channels", 1, VD_MAX_CHANNELS, &c->channels_prop, err)) < 0 ||
	    (res = vd_props_bool(init->props, "dither", &c->dither, err)) < 0 ||
	    (res = vd_props_uint(init->props, "seed", 0, UINT32_MAX, &c->seed, err)) < 0) {
		free(c);
		return res;
	}
	*self = c;
	*n_inputs = 1;
	*n_outputs = 1;
	return 0;
}

static void convert_free(void *self)
{
	struct convert *c = self;

	free(c->m);
	free(c->a);
	free(c->b);
	free(c);
}

static int convert_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			     struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	struct convert *c = self;

	out[0] = in[0];
	if (c->format_prop != VD_FORMAT_UNKNOWN)
		out[0].format = c->format_prop;
	if (c->channels_prop && c->channels_prop != in[0].channels)
		vd_audio_format_init(&out[0], out[0].format, in[0].rate, c->channels_prop);
	return 0;
}

static int convert_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
			   const struct vd_audio_format *out, uint32_t n_out,
			   uint32_t max_frames, struct vd_error *err)
{
	struct convert *c = self;
	double *m = NULL, *a = NULL, *b = NULL;
	float *mf = NULL;
	bool mix;
	int res;

	if (vd_format_sample_size(in[0].format) == 0 || vd_format_sample_size(out[0].format) == 0 ||
	    in[0].channels == 0 || in[0].channels > VD_MAX_CHANNELS ||
	    out[0].channels == 0 || out[0].channels > VD_MAX_CHANNELS || in[0].rate != out[0].rate)
		return vd_error_set(err, -EINVAL, NULL, "convert cannot change the rate or use these formats");
	mix = in[0].channels != out[0].channels ||
	      memcmp(in[0].position, out[0].position, in[0].channels) != 0;
	if (mix) {
		size_t nm = (size_t)in[0].channels * out[0].channels;

		m = malloc(nm * sizeof(double));
		mf = malloc(nm * sizeof(float));
		a = malloc((size_t)CHUNK * in[0].channels * sizeof(double));
		b = malloc((size_t)CHUNK * out[0].channels * sizeof(double));
		if (!m || !mf || !a || !b) {
			res = vd_error_set(err, -ENOMEM, NULL, "out of memory");
			goto fail;
		}
		res = vd_channel_matrix(out[0].position, out[0].channels, in[0].position, in[0].channels,
					true, mf);
		if (res < 0) {
			vd_error_set(err, res, NULL, "no channel matrix from %u to %u channels",
				     in[0].channels, out[0].channels);
			goto fail;
		}
		for (size_t i = 0; i < nm; i++)
			m[i] = mf[i];
		free(mf);
	}
	free(c->m);
	free(c->a);
	free(c->b);
	c->m = m;
	c->a = a;
	c->b = b;
	c->mix = mix;
	c->in = in[0];
	c->out = out[0];
	/* Dither only where precision is actually lost, not on the double mixing detour. */
	c->use_dither = c->dither && !vd_format_is_float(out[0].format) &&
			vd_format_bits(out[0].format) < vd_format_bits(in[0].format);
	vd_dither_init(&c->dither_state, c->seed);
	return 0;
fail:
	free(m);
	free(mf);
	free(a);
	free(b);
	return res;
}

static void mix_chunk(const struct convert *c, uint32_t n)
{
	const uint32_t ni = c->in.channels, no = c->out.channels;

	for (uint32_t f = 0; f < n; f++) {
		const double *x = c->a + (size_t)f * ni;
		double *y = c->b + (size_t)f * no;

		for (uint32_t o = 0; o < no; o++) {
			const double *row = c->m + (size_t)o * ni;
			double acc = 0;

			for (uint32_t i = 0; i < ni; i++)
				acc += row[i] * x[i];
			y[o] = acc;
		}
	}
}

static int convert_process(void *self, struct vd_buffer *in, uint32_t n_in,
			   struct vd_buffer *out, uint32_t n_out)
{
	struct convert *c = self;
	uint32_t n = in[0].frames < out[0].frames ? in[0].frames : out[0].frames;
	struct vd_dither *d = c->use_dither ? &c->dither_state : NULL;

	if (n > 0 && !c->mix) {
		vd_convert_samples(c->out.format, out[0].data, c->in.format, in[0].data,
				   (size_t)n * c->in.channels, d);
	} else if (n > 0) {
		size_t isz = vd_format_frame_size(&c->in), osz = vd_format_frame_size(&c->out);

		/* Through double: exact for every input format, and the matrix adds no rounding of its own. */
		for (uint32_t done = 0; done < n;) {
			uint32_t len = n - done < CHUNK ? n - done : CHUNK;

			vd_convert_samples(VD_FORMAT_F64, c->a, c->in.format,
					   (const char *)in[0].data + done * isz, (size_t)len * c->in.channels, NULL);
			mix_chunk(c, len);
			vd_convert_samples(c->out.format, (char *)out[0].data + done * osz, VD_FORMAT_F64, c->b,
					   (size_t)len * c->out.channels, d);
			done += len;
		}
	}
	out[0].flags = (in[0].flags & VD_BUFFER_EOS) && n == in[0].frames ? VD_BUFFER_EOS : 0;
	in[0].frames = n;
	out[0].frames = n;
	return 0;
}

static void convert_reset(void *self)
{
	struct convert *c = self;

	vd_dither_init(&c->dither_state, c->seed);
}

const struct vd_node_ops vd_node_convert = {
	.version = VD_NODE_OPS_VERSION,
	.type = "convert",
	.summary = "sample format and channel conversion",
	.init = convert_init,
	.free = convert_free,
	.negotiate = convert_negotiate,
	.prepare = convert_prepare,
	.process = convert_process,
	.reset = convert_reset,
};
