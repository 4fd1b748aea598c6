/* dsp/mixer.c - the "mixer" node: sums N aligned inputs with per-input ramped gains. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dsp.h"

#define MAX_INPUTS	64
#define GAIN_MIN_DB	-120.0
#define GAIN_MAX_DB	24.0
#define RAMP_MAX_S	10.0
#define RAMP_DEFAULT_S	0.010

struct mixer {
	uint32_t n_inputs;
	uint32_t channels_prop;		/* 0: the widest input */
	double ramp_s;
	uint32_t channels;
	uint32_t rate;			/* 0 until prepared: gain changes then apply at once */
	double gain_db[MAX_INPUTS];
	struct vd_dsp_ramp gain[MAX_INPUTS];
	bool ended[MAX_INPUTS];		/* input delivered EOS and all its frames */
	char names[MAX_INPUTS][16];	/* "gain.N", the parameter names */
};

static int mixer_init(const struct vd_node_init *init, void **self,
		      uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	struct mixer *m;
	int res;

	m = calloc(1, sizeof(*m));
	if (!m)
		return vd_error_set(err, -ENOMEM, NULL, "out of memory");
	m->n_inputs = init->n_inputs > 0 ? init->n_inputs : 1;
	if (m->n_inputs > MAX_INPUTS)
		m->n_inputs = MAX_INPUTS;
	m->ramp_s = RAMP_DEFAULT_S;
	if ((res = vd_props_uint(init->props, "inputs", 1, MAX_INPUTS, &m->n_inputs, err)) < 0 ||
	    (res = vd_props_uint(init->props, "channels", 1, VD_MAX_CHANNELS, &m->channels_prop, err)) < 0 ||
	    (res = vd_props_number(init->props, "ramp", VD_UNIT_SECONDS, 0.0, RAMP_MAX_S,
				   &m->ramp_s, err)) < 0)
		goto fail;
	for (uint32_t i = 0; i < m->n_inputs; i++) {
		snprintf(m->names[i], sizeof(m->names[i]), "gain.%u", i);
		res = vd_props_number(init->props, m->names[i], VD_UNIT_DB, GAIN_MIN_DB, GAIN_MAX_DB,
				      &m->gain_db[i], err);
		if (res < 0)
			goto fail;
		vd_dsp_ramp_snap(&m->gain[i], vd_dsp_db_to_gain(m->gain_db[i]));
	}
	*self = m;
	*n_inputs = m->n_inputs;
	*n_outputs = 1;
	return 0;
fail:
	free(m);
	return res;
}

static void mixer_free(void *self)
{
	free(self);
}

static int mixer_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			   struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	struct mixer *m = self;
	uint32_t widest = 0;

	for (uint32_t i = 1; i < n_in; i++)
		if (in[i].channels > in[widest].channels)
			widest = i;
	out[0] = in[widest];
	out[0].format = VD_FORMAT_F32;
	out[0].rate = in[0].rate;
	if (m->channels_prop && m->channels_prop != out[0].channels)
		vd_audio_format_init(&out[0], VD_FORMAT_F32, in[0].rate, m->channels_prop);
	/* Every input at the output's layout; the graph converts the others. */
	for (uint32_t i = 0; i < n_in; i++)
		in[i] = out[0];
	return 0;
}

static int mixer_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
			 const struct vd_audio_format *out, uint32_t n_out,
			 uint32_t max_frames, struct vd_error *err)
{
	struct mixer *m = self;

	if (n_in != m->n_inputs)
		return vd_error_set(err, -EINVAL, NULL, "mixer has %u inputs, not %u", m->n_inputs, n_in);
	for (uint32_t i = 0; i < n_in; i++)
		if (in[i].format != VD_FORMAT_F32 || in[i].channels != out[0].channels)
			return vd_error_set(err, -EINVAL, NULL,
					    "mixer input %u must be f32 with %u channels", i, out[0].channels);
	if (out[0].format != VD_FORMAT_F32 || out[0].rate == 0)
		return vd_error_set(err, -EINVAL, NULL, "mixer output must be f32");
	m->channels = out[0].channels;
	m->rate = out[0].rate;
	for (uint32_t i = 0; i < m->n_inputs; i++) {
		vd_dsp_ramp_snap(&m->gain[i], vd_dsp_db_to_gain(m->gain_db[i]));
		m->ended[i] = false;
	}
	return 0;
}

static int mixer_process(void *self, struct vd_buffer *in, uint32_t n_in,
			 struct vd_buffer *out, uint32_t n_out)
{
	struct mixer *m = self;
	uint32_t n = out[0].frames, live = 0, ended = 0;
	bool first = true;

	/* Streams stay aligned: take only what every live input has. */
	for (uint32_t i = 0; i < n_in; i++) {
		if (!m->ended[i] && (in[i].flags & VD_BUFFER_EOS) && in[i].frames == 0)
			m->ended[i] = true;
		if (m->ended[i])
			continue;
		live++;
		if (in[i].frames < n)
			n = in[i].frames;
	}
	if (live == 0)
		n = 0;
	for (uint32_t i = 0; i < n_in; i++) {
		if (m->ended[i]) {
			in[i].frames = 0;
			ended++;
			continue;
		}
		if (n > 0) {
			vd_dsp_gain_f32(out[0].data, in[i].data, n, m->channels, &m->gain[i], !first);
			first = false;
		}
		if ((in[i].flags & VD_BUFFER_EOS) && in[i].frames == n) {
			m->ended[i] = true;
			ended++;
		}
		in[i].frames = n;
	}
	out[0].frames = n;
	out[0].flags = ended == n_in ? VD_BUFFER_EOS : 0;
	return 0;
}

static void mixer_reset(void *self)
{
	struct mixer *m = self;

	for (uint32_t i = 0; i < m->n_inputs; i++) {
		vd_dsp_ramp_snap(&m->gain[i], vd_dsp_db_to_gain(m->gain_db[i]));
		m->ended[i] = false;
	}
}

static int mixer_enum_params(void *self, uint32_t index, struct vd_param_info *info)
{
	struct mixer *m = self;

	if (index >= m->n_inputs)
		return -ENOENT;
	*info = (struct vd_param_info){
		.id = index, .name = m->names[index], .type = VD_PARAM_FLOAT,
		.flags = VD_PARAM_READ | VD_PARAM_WRITE, .unit = VD_UNIT_DB,
		.min = GAIN_MIN_DB, .max = GAIN_MAX_DB, .step = 0.1, .def = 0.0,
	};
	return 0;
}

static int mixer_set_param(void *self, uint32_t id, double value)
{
	struct mixer *m = self;
	double g;

	if (id >= m->n_inputs)
		return -ENOENT;
	if (!(value >= GAIN_MIN_DB && value <= GAIN_MAX_DB))
		return -EINVAL;
	m->gain_db[id] = value;
	g = vd_dsp_db_to_gain(value);
	if (m->rate == 0)
		vd_dsp_ramp_snap(&m->gain[id], g);
	else
		vd_dsp_ramp_to(&m->gain[id], g, vd_dsp_frames(m->ramp_s, m->rate));
	return 0;
}

static int mixer_get_param(void *self, uint32_t id, double *value)
{
	struct mixer *m = self;

	if (id >= m->n_inputs)
		return -ENOENT;
	*value = m->gain_db[id];
	return 0;
}

const struct vd_node_ops vd_node_mixer = {
	.version = VD_NODE_OPS_VERSION,
	.type = "mixer",
	.summary = "sum of N inputs with per-input gains",
	.init = mixer_init,
	.free = mixer_free,
	.negotiate = mixer_negotiate,
	.prepare = mixer_prepare,
	.process = mixer_process,
	.reset = mixer_reset,
	.enum_params = mixer_enum_params,
	.set_param = mixer_set_param,
	.get_param = mixer_get_param,
};
