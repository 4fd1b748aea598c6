/* src/dsp/src/node.c - the `src` node: wraps the streaming resampler for graphs. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <virtdsp/resample.h>

#include "src.h"

enum { PARAM_ADJUST };

struct src_node {
	const char *name;
	uint32_t rate;
	enum vd_resample_quality quality;
	double adjust;
	struct vd_resampler *r;
	bool draining, finished;
	size_t frame_size;
};

static const char *const quality_names[] = { "low", "medium", "high", "very-high", NULL };

static int src_init(const struct vd_node_init *init, void **self, uint32_t *n_inputs,
		    uint32_t *n_outputs, struct vd_error *err)
{
	struct src_node *n;
	double rate = 0.0;
	int q = VD_RESAMPLE_HIGH, r;

	r = vd_props_number(init->props, "rate", VD_UNIT_HZ, 1.0, 1536000.0, &rate, err);
	if (r < 0)
		return r;
	if (rate == 0.0)
		return vd_error_set(err, -EINVAL, init->props ? &init->props->loc : NULL,
				    "src '%s': property 'rate' (the output rate) is required",
				    init->name ? init->name : "?");
	if (rate != floor(rate)) {
		const struct vd_prop *p = vd_props_find(init->props, "rate");
		return vd_error_set(err, -EINVAL, p ? &p->loc : NULL,
				    "'rate' must be a whole number of Hz, not %g", rate);
	}
	r = vd_props_enum(init->props, "quality", quality_names, &q, err);
	if (r < 0)
		return r;
	n = calloc(1, sizeof(*n));
	if (!n)
		return vd_error_set(err, -ENOMEM, NULL, "out of memory");
	n->name = init->name;
	n->rate = (uint32_t)rate;
	n->quality = (enum vd_resample_quality)q;
	n->adjust = 1.0;
	*self = n;
	*n_inputs = 1;
	*n_outputs = 1;
	return 0;
}

static void src_free(void *self)
{
	struct src_node *n = self;

	if (!n)
		return;
	vd_resampler_free(n->r);
	free(n);
}

static int src_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			 struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	struct src_node *n = self;
	struct vd_resample_config cfg;

	if (n_in != 1 || n_out != 1)
		return vd_error_set(err, -EINVAL, NULL, "src has one input and one output");
	if (in[0].format != VD_FORMAT_F32 && in[0].format != VD_FORMAT_S16 &&
	    in[0].format != VD_FORMAT_S32)
		in[0].format = VD_FORMAT_F32;
	if (in[0].rate == 0)
		return vd_error_set(err, -EINVAL, NULL, "src '%s' needs a known input rate", n->name);
	cfg = (struct vd_resample_config){
		.rate_in = in[0].rate, .rate_out = n->rate, .channels = in[0].channels,
		.quality = n->quality, .format_in = in[0].format, .format_out = in[0].format,
	};
	int r = vd_resample_config_check(&cfg, err);
	if (r < 0)
		return r;
	out[0] = in[0];
	out[0].rate = n->rate;
	return 0;
}

static int src_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
		       const struct vd_audio_format *out, uint32_t n_out,
		       uint32_t max_frames, struct vd_error *err)
{
	struct src_node *n = self;
	struct vd_resample_config cfg = {
		.rate_in = in[0].rate, .rate_out = out[0].rate, .channels = in[0].channels,
		.quality = n->quality, .format_in = in[0].format, .format_out = out[0].format,
	};
	int r = vd_resample_config_check(&cfg, err);

	if (r < 0)
		return r;
	vd_resampler_free(n->r);
	n->r = NULL;
	r = vd_resampler_new(&cfg, &n->r);
	if (r < 0)
		return vd_error_set(err, r, NULL, "src '%s': cannot create the resampler", n->name);
	vd_resampler_set_adjust(n->r, n->adjust);
	n->frame_size = vd_format_frame_size(&out[0]);
	n->draining = false;
	n->finished = false;
	return 0;
}

static int src_process(void *self, struct vd_buffer *in, uint32_t n_in,
		       struct vd_buffer *out, uint32_t n_out)
{
	struct src_node *n = self;
	uint32_t room = out[0].frames, made = 0;

	out[0].flags = 0;
	if (!n->draining) {
		uint32_t offered = in[0].frames, fi = offered, fo = room;
		vd_resampler_process(n->r, in[0].data, &fi, out[0].data, &fo);
		in[0].frames = fi;
		made = fo;
		/* EOS applies once every offered frame has gone in. */
		if ((in[0].flags & VD_BUFFER_EOS) && fi == offered)
			n->draining = true;
	} else {
		in[0].frames = 0;
	}
	if (n->draining && !n->finished && made < room) {
		uint32_t fo = room - made;
		vd_resampler_drain(n->r, (char *)out[0].data + (size_t)made * n->frame_size, &fo);
		made += fo;
		if (made < room)
			n->finished = true;
	}
	if (n->finished)
		out[0].flags |= VD_BUFFER_EOS;
	out[0].frames = made;
	return 0;
}

static void src_reset(void *self)
{
	struct src_node *n = self;

	if (n->r)
		vd_resampler_reset(n->r);
	n->draining = false;
	n->finished = false;
}

static int src_enum_params(void *self, uint32_t index, struct vd_param_info *info)
{
	if (index > 0)
		return -ENOENT;
	*info = (struct vd_param_info){
		.id = PARAM_ADJUST, .name = "adjust", .type = VD_PARAM_FLOAT,
		.flags = VD_PARAM_READ | VD_PARAM_WRITE, .unit = VD_UNIT_NONE,
		.min = 0.98, .max = 1.02, .step = 0.0, .def = 1.0,
	};
	return 0;
}

static int src_set_param(void *self, uint32_t id, double value)
{
	struct src_node *n = self;

	if (id != PARAM_ADJUST)
		return -ENOENT;
	if (!(value >= 0.98 && value <= 1.02))
		return -EINVAL;
	n->adjust = value;
	if (n->r)
		return vd_resampler_set_adjust(n->r, value);
	return 0;
}

static int src_get_param(void *self, uint32_t id, double *value)
{
	struct src_node *n = self;

	if (id != PARAM_ADJUST)
		return -ENOENT;
	*value = n->adjust;
	return 0;
}

static uint32_t src_latency(void *self)
{
	struct src_node *n = self;

	return n->r ? vd_resampler_latency(n->r) : 0;
}

const struct vd_node_ops vd_node_src = {
	.version = VD_NODE_OPS_VERSION,
	.type = "src",
	.summary = "sample-rate converter (any ratio, drift-steerable)",
	.init = src_init,
	.free = src_free,
	.negotiate = src_negotiate,
	.prepare = src_prepare,
	.process = src_process,
	.reset = src_reset,
	.enum_params = src_enum_params,
	.set_param = src_set_param,
	.get_param = src_get_param,
	.latency = src_latency,
};
