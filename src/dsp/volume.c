/* dsp/volume.c - the "volume" node: gain and mute with click-free linear ramps. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dsp.h"

enum { P_GAIN, P_MUTE, P_RAMP, N_PARAMS };

#define GAIN_MIN_DB	-120.0
#define GAIN_MAX_DB	24.0
#define RAMP_MAX_S	10.0
#define RAMP_DEFAULT_S	0.010

static const struct vd_param_info params[N_PARAMS] = {
	[P_GAIN] = { .id = P_GAIN, .name = "gain", .type = VD_PARAM_FLOAT,
		     .flags = VD_PARAM_READ | VD_PARAM_WRITE, .unit = VD_UNIT_DB,
		     .min = GAIN_MIN_DB, .max = GAIN_MAX_DB, .step = 0.1, .def = 0.0 },
	[P_MUTE] = { .id = P_MUTE, .name = "mute", .type = VD_PARAM_BOOL,
		     .flags = VD_PARAM_READ | VD_PARAM_WRITE, .min = 0, .max = 1, .step = 1, .def = 0 },
	[P_RAMP] = { .id = P_RAMP, .name = "ramp", .type = VD_PARAM_FLOAT,
		     .flags = VD_PARAM_READ | VD_PARAM_WRITE, .unit = VD_UNIT_SECONDS,
		     .min = 0.0, .max = RAMP_MAX_S, .step = 0.001, .def = RAMP_DEFAULT_S },
};

struct volume {
	double gain_db;
	bool mute;
	double ramp_s;
	enum vd_sample_format format;
	uint32_t channels;
	uint32_t rate;		/* 0 until prepared: changes then apply at once */
	struct vd_dsp_ramp gain;
};

static double target_gain(const struct volume *v)
{
	return v->mute ? 0.0 : vd_dsp_db_to_gain(v->gain_db);
}

/* Start a ramp to the current settings (or jump there when not running). */
static void retarget(struct volume *v)
{
	if (v->rate == 0)
		vd_dsp_ramp_snap(&v->gain, target_gain(v));
	else
		vd_dsp_ramp_to(&v->gain, target_gain(v), vd_dsp_frames(v->ramp_s, v->rate));
}

static int volume_init(const struct vd_node_init *init, void **self,
		       uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	struct volume *v;
	int res;

	v = calloc(1, sizeof(*v));
	if (!v)
		return vd_error_set(err, -ENOMEM, NULL, "out of memory");
	v->ramp_s = RAMP_DEFAULT_S;
	if ((res = vd_props_number(init->props, "gain", VD_UNIT_DB, GAIN_MIN_DB, GAIN_MAX_DB,
				   &v->gain_db, err)) < 0 ||
	    (res = vd_props_bool(init->props, "mute", &v->mute, err)) < 0 ||
	    (res = vd_props_number(init->props, "ramp", VD_UNIT_SECONDS, 0.0, RAMP_MAX_S,
				   &v->ramp_s, err)) < 0)
		goto fail;
	retarget(v);
	*self = v;
	*n_inputs = 1;
	*n_outputs = 1;
	return 0;
fail:
	free(v);
	return res;
}

static void volume_free(void *self)
{
	free(self);
}

static int volume_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			    struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	if (in[0].format != VD_FORMAT_F64)
		in[0].format = VD_FORMAT_F32;
	out[0] = in[0];
	return 0;
}

static int volume_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
			  const struct vd_audio_format *out, uint32_t n_out,
			  uint32_t max_frames, struct vd_error *err)
{
	struct volume *v = self;

	if ((in[0].format != VD_FORMAT_F32 && in[0].format != VD_FORMAT_F64) ||
	    out[0].format != in[0].format || out[0].channels != in[0].channels || in[0].rate == 0)
		return vd_error_set(err, -EINVAL, NULL,
				    "volume needs f32 or f64 input and the same output format");
	v->format = in[0].format;
	v->channels = in[0].channels;
	v->rate = in[0].rate;
	vd_dsp_ramp_snap(&v->gain, target_gain(v));
	return 0;
}

static int volume_process(void *self, struct vd_buffer *in, uint32_t n_in,
			  struct vd_buffer *out, uint32_t n_out)
{
	struct volume *v = self;
	uint32_t n = in[0].frames < out[0].frames ? in[0].frames : out[0].frames;
	bool eos = (in[0].flags & VD_BUFFER_EOS) && n == in[0].frames;

	if (n > 0) {
		if (v->format == VD_FORMAT_F64)
			vd_dsp_gain_f64(out[0].data, in[0].data, n, v->channels, &v->gain);
		else
			vd_dsp_gain_f32(out[0].data, in[0].data, n, v->channels, &v->gain, false);
	}
	in[0].frames = n;
	out[0].frames = n;
	out[0].flags = eos ? VD_BUFFER_EOS : 0;
	return 0;
}

static void volume_reset(void *self)
{
	struct volume *v = self;

	vd_dsp_ramp_snap(&v->gain, target_gain(v));
}

static int volume_enum_params(void *self, uint32_t index, struct vd_param_info *info)
{
	if (index >= N_PARAMS)
		return -ENOENT;
	*info = params[index];
	return 0;
}

static int volume_set_param(void *self, uint32_t id, double value)
{
	struct volume *v = self;

	if (id >= N_PARAMS)
		return -ENOENT;
	if (!(value >= params[id].min && value <= params[id].max))
		return -EINVAL;
	switch (id) {
	case P_GAIN:
		v->gain_db = value;
		break;
	case P_MUTE:
		v->mute = value != 0.0;
		break;
	case P_RAMP:
		v->ramp_s = value;
		return 0;
	}
	retarget(v);
	return 0;
}

static int volume_get_param(void *self, uint32_t id, double *value)
{
	struct volume *v = self;

	switch (id) {
	case P_GAIN:
		*value = v->gain_db;
		return 0;
	case P_MUTE:
		*value = v->mute ? 1.0 : 0.0;
		return 0;
	case P_RAMP:
		*value = v->ramp_s;
		return 0;
	}
	return -ENOENT;
}

const struct vd_node_ops vd_node_volume = {
	.version = VD_NODE_OPS_VERSION,
	.type = "volume",
	.summary = "gain and mute with click-free ramps",
	.init = volume_init,
	.free = volume_free,
	.negotiate = volume_negotiate,
	.prepare = volume_prepare,
	.process = volume_process,
	.reset = volume_reset,
	.enum_params = volume_enum_params,
	.set_param = volume_set_param,
	.get_param = volume_get_param,
};
