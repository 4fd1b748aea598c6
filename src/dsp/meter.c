/* dsp/meter.c - the "meter" node: bit-exact passthrough that publishes per-channel peak and RMS. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtdsp/convert.h>

#include "dsp/dsp.h"

#define WINDOW_MIN_S		0.001
#define WINDOW_MAX_S		60.0
#define WINDOW_DEFAULT_S	0.100
#define LEVEL_MAX_DB		100.0

struct meter {
	double window_s;
	enum vd_sample_format format;
	uint32_t channels;		/* negotiated; VD_MAX_CHANNELS before */
	uint32_t window;		/* frames per published measurement */
	float *scratch;			/* input as f32 (unused for f32 input) */
	uint32_t scratch_frames;
	/* the window being measured */
	uint32_t count;
	float peak[VD_MAX_CHANNELS];
	double sum[VD_MAX_CHANNELS];
	/* the last finished window, dB bit patterns; read from any thread */
	_Atomic uint64_t pub_peak[VD_MAX_CHANNELS];
	_Atomic uint64_t pub_rms[VD_MAX_CHANNELS];
	char names[VD_MAX_CHANNELS][2][12];	/* "peak.N", "rms.N" */
};

static void publish(_Atomic uint64_t *slot, double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	atomic_store_explicit(slot, bits, memory_order_relaxed);
}

static double fetch(_Atomic uint64_t *slot)
{
	uint64_t bits = atomic_load_explicit(slot, memory_order_relaxed);
	double v;

	memcpy(&v, &bits, sizeof(v));
	return v;
}

static void clear(struct meter *m, bool published)
{
	m->count = 0;
	memset(m->peak, 0, sizeof(m->peak));
	memset(m->sum, 0, sizeof(m->sum));
	if (!published)
		return;
	for (uint32_t c = 0; c < VD_MAX_CHANNELS; c++) {
		publish(&m->pub_peak[c], VD_DSP_DB_FLOOR);
		publish(&m->pub_rms[c], VD_DSP_DB_FLOOR);
	}
}

static void finish_window(struct meter *m)
{
	for (uint32_t c = 0; c < m->channels; c++) {
		publish(&m->pub_peak[c], vd_dsp_gain_to_db(m->peak[c]));
		publish(&m->pub_rms[c], vd_dsp_gain_to_db(sqrt(m->sum[c] / m->count)));
	}
	clear(m, false);
}

static int meter_init(const struct vd_node_init *init, void **self,
		      uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	struct meter *m;
	int res;

	m = calloc(1, sizeof(*m));
	if (!m)
		return vd_error_set(err, -ENOMEM, NULL, "out of memory");
	m->window_s = WINDOW_DEFAULT_S;
	res = vd_props_number(init->props, "window", VD_UNIT_SECONDS, WINDOW_MIN_S, WINDOW_MAX_S,
			      &m->window_s, err);
	if (res < 0) {
		free(m);
		return res;
	}
	m->channels = VD_MAX_CHANNELS;
	for (uint32_t c = 0; c < VD_MAX_CHANNELS; c++) {
		snprintf(m->names[c][0], sizeof(m->names[c][0]), "peak.%u", c);
		snprintf(m->names[c][1], sizeof(m->names[c][1]), "rms.%u", c);
	}
	clear(m, true);
	*self = m;
	*n_inputs = 1;
	*n_outputs = 1;
	return 0;
}

static void meter_free(void *self)
{
	struct meter *m = self;

	free(m->scratch);
	free(m);
}

static int meter_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			   struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	struct meter *m = self;

	m->channels = in[0].channels;
	out[0] = in[0];
	return 0;
}

static int meter_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
			 const struct vd_audio_format *out, uint32_t n_out,
			 uint32_t max_frames, struct vd_error *err)
{
	struct meter *m = self;
	float *scratch = NULL;

	if (!vd_audio_format_equal(&in[0], &out[0]) || vd_format_sample_size(in[0].format) == 0 ||
	    in[0].channels == 0 || in[0].channels > VD_MAX_CHANNELS || in[0].rate == 0)
		return vd_error_set(err, -EINVAL, NULL, "meter passes its input through unchanged");
	if (max_frames == 0)
		max_frames = 1;
	if (in[0].format != VD_FORMAT_F32) {
		scratch = malloc((size_t)max_frames * in[0].channels * sizeof(float));
		if (!scratch)
			return vd_error_set(err, -ENOMEM, NULL, "out of memory");
	}
	free(m->scratch);
	m->scratch = scratch;
	m->scratch_frames = max_frames;
	m->format = in[0].format;
	m->channels = in[0].channels;
	m->window = vd_dsp_frames(m->window_s, in[0].rate);
	if (m->window == 0)
		m->window = 1;
	clear(m, true);
	return 0;
}

static void measure(struct meter *m, const float *x, uint32_t n)
{
	const uint32_t nc = m->channels;

	while (n > 0) {
		uint32_t len = m->window - m->count < n ? m->window - m->count : n;

		for (uint32_t c = 0; c < nc; c++) {
			const float *s = x + c;
			float peak = m->peak[c];
			double sum = 0;

			for (uint32_t i = 0; i < len; i++) {
				float v = fabsf(s[(size_t)i * nc]);

				peak = v > peak ? v : peak;
				sum += (double)v * v;
			}
			m->peak[c] = peak;
			m->sum[c] += sum;
		}
		m->count += len;
		x += (size_t)len * nc;
		n -= len;
		if (m->count == m->window)
			finish_window(m);
	}
}

static int meter_process(void *self, struct vd_buffer *in, uint32_t n_in,
			 struct vd_buffer *out, uint32_t n_out)
{
	struct meter *m = self;
	uint32_t n = in[0].frames < out[0].frames ? in[0].frames : out[0].frames;
	size_t fsz = vd_format_sample_size(m->format) * m->channels;
	bool eos = (in[0].flags & VD_BUFFER_EOS) && n == in[0].frames;

	if (n > 0 && in[0].data != out[0].data)
		memmove(out[0].data, in[0].data, n * fsz);
	if (m->format == VD_FORMAT_F32) {
		measure(m, in[0].data, n);
	} else {
		for (uint32_t done = 0; done < n;) {
			uint32_t len = n - done < m->scratch_frames ? n - done : m->scratch_frames;

			vd_convert_to_f32(m->scratch, m->format, (const char *)in[0].data + done * fsz,
					  (size_t)len * m->channels);
			measure(m, m->scratch, len);
			done += len;
		}
	}
	/* A stream shorter than a window still gets its figures. */
	if (eos && m->count > 0)
		finish_window(m);
	in[0].frames = n;
	out[0].frames = n;
	out[0].flags = eos ? VD_BUFFER_EOS : 0;
	return 0;
}

static void meter_reset(void *self)
{
	clear(self, true);
}

static int meter_enum_params(void *self, uint32_t index, struct vd_param_info *info)
{
	struct meter *m = self;

	if (index >= 2 * m->channels)
		return -ENOENT;
	*info = (struct vd_param_info){
		.id = index, .name = m->names[index / 2][index % 2], .type = VD_PARAM_FLOAT,
		.flags = VD_PARAM_READ | VD_PARAM_VOLATILE, .unit = VD_UNIT_DB,
		.min = VD_DSP_DB_FLOOR, .max = LEVEL_MAX_DB, .step = 0.01, .def = VD_DSP_DB_FLOOR,
	};
	return 0;
}

static int meter_set_param(void *self, uint32_t id, double value)
{
	struct meter *m = self;

	return id < 2 * m->channels ? -EPERM : -ENOENT;
}

/* Any thread: the published values are single atomic words. */
static int meter_get_param(void *self, uint32_t id, double *value)
{
	struct meter *m = self;

	if (id >= 2 * VD_MAX_CHANNELS)
		return -ENOENT;
	*value = fetch(id % 2 ? &m->pub_rms[id / 2] : &m->pub_peak[id / 2]);
	return 0;
}

const struct vd_node_ops vd_node_meter = {
	.version = VD_NODE_OPS_VERSION,
	.type = "meter",
	.summary = "peak and RMS meter (passthrough)",
	.init = meter_init,
	.free = meter_free,
	.negotiate = meter_negotiate,
	.prepare = meter_prepare,
	.process = meter_process,
	.reset = meter_reset,
	.enum_params = meter_enum_params,
	.set_param = meter_set_param,
	.get_param = meter_get_param,
};
