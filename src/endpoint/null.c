/* endpoint/null.c - null-sink (discards, counts) and silence-source (digital silence for a set time). */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "endpoint/endpoint.h"

/* ---- null-sink ---- */

struct null_sink {
	struct vd_endpoint_conn conn;	/* first: vd_endpoint_conn_of() */
	_Atomic uint64_t frames;	/* read from any thread through get_param */
	_Atomic bool eos;
};

enum { NULL_PARAM_FRAMES, NULL_PARAM_EOS };

int vd_endpoint_null_new(void **self)
{
	struct null_sink *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	vd_endpoint_conn_init(&s->conn, true);
	*self = s;
	return 0;
}

static int null_init(const struct vd_node_init *init, void **self,
		     uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	int ret = vd_endpoint_null_new(self);

	if (ret < 0)
		return ret;
	ret = vd_endpoint_conn_props(*self, init->props, err);
	if (ret < 0) {
		free(*self);
		return ret;
	}
	*n_inputs = 1;
	*n_outputs = 0;
	return 0;
}

static void null_free(void *self)
{
	free(self);
}

/* Anything will do: the input stays as offered, so no conversion is inserted. */
static int null_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			  struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	return 0;
}

static int null_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
			const struct vd_audio_format *out, uint32_t n_out,
			uint32_t max_frames, struct vd_error *err)
{
	return 0;
}

static int null_process(void *self, struct vd_buffer *in, uint32_t n_in,
			struct vd_buffer *out, uint32_t n_out)
{
	struct null_sink *s = self;

	atomic_fetch_add_explicit(&s->frames, in[0].frames, memory_order_relaxed);
	if (in[0].flags & VD_BUFFER_EOS)
		atomic_store_explicit(&s->eos, true, memory_order_relaxed);
	return 0;
}

static void null_reset(void *self)
{
	struct null_sink *s = self;

	atomic_store_explicit(&s->frames, 0, memory_order_relaxed);
	atomic_store_explicit(&s->eos, false, memory_order_relaxed);
}

static int null_enum_params(void *self, uint32_t index, struct vd_param_info *info)
{
	static const struct vd_param_info params[] = {
		{ .id = NULL_PARAM_FRAMES, .name = "frames", .type = VD_PARAM_INT,
		  .flags = VD_PARAM_READ | VD_PARAM_VOLATILE, .min = 0, .max = 9.007199254740992e15,
		  .step = 1 },
		{ .id = NULL_PARAM_EOS, .name = "eos", .type = VD_PARAM_BOOL,
		  .flags = VD_PARAM_READ | VD_PARAM_VOLATILE, .min = 0, .max = 1, .step = 1 },
	};

	if (index >= 2)
		return -ENOENT;
	*info = params[index];
	return 0;
}

static int null_get_param(void *self, uint32_t id, double *value)
{
	struct null_sink *s = self;

	switch (id) {
	case NULL_PARAM_FRAMES:
		*value = (double)atomic_load_explicit(&s->frames, memory_order_relaxed);
		return 0;
	case NULL_PARAM_EOS:
		*value = atomic_load_explicit(&s->eos, memory_order_relaxed) ? 1 : 0;
		return 0;
	default:
		return -ENOENT;
	}
}

static int null_set_param(void *self, uint32_t id, double value)
{
	return id <= NULL_PARAM_EOS ? -EPERM : -ENOENT;
}

const struct vd_node_ops vd_node_null_sink = {
	.version = VD_NODE_OPS_VERSION,
	.type = "null-sink",
	.summary = "discards its input, counting frames",
	.flags = VD_NODE_SINK | VD_NODE_ENDPOINT,
	.init = null_init,
	.free = null_free,
	.negotiate = null_negotiate,
	.prepare = null_prepare,
	.process = null_process,
	.reset = null_reset,
	.enum_params = null_enum_params,
	.set_param = null_set_param,
	.get_param = null_get_param,
};

/* ---- silence-source ---- */

struct silence {
	struct vd_endpoint_conn conn;	/* first: vd_endpoint_conn_of() */
	struct vd_audio_format fmt;
	uint64_t total;
	uint64_t pos;
};

int vd_endpoint_silence_new(const struct vd_audio_format *fmt, uint64_t frames, void **self)
{
	struct silence *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	vd_endpoint_conn_init(&s->conn, true);
	s->fmt = *fmt;
	s->total = frames;
	*self = s;
	return 0;
}

static int silence_init(const struct vd_node_init *init, void **self,
			uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	enum vd_sample_format fmt = VD_FORMAT_F32;
	uint32_t rate = init->rate ? init->rate : 48000, channels = 2;
	double duration = 0;
	struct vd_audio_format f;
	int ret;

	if ((ret = vd_props_format(init->props, "format", &fmt, err)) < 0 ||
	    (ret = vd_props_uint(init->props, "rate", 1, 1000000, &rate, err)) < 0 ||
	    (ret = vd_props_uint(init->props, "channels", 1, VD_MAX_CHANNELS, &channels, err)) < 0 ||
	    (ret = vd_props_number(init->props, "duration", VD_UNIT_SECONDS, 0, 1e7, &duration,
				   err)) < 0)
		return ret;
	vd_audio_format_init(&f, fmt, rate, channels);
	ret = vd_endpoint_silence_new(&f, (uint64_t)llround(duration * rate), self);
	if (ret < 0)
		return ret;
	ret = vd_endpoint_conn_props(*self, init->props, err);
	if (ret < 0) {
		free(*self);
		return ret;
	}
	*n_inputs = 0;
	*n_outputs = 1;
	return 0;
}

static void silence_free(void *self)
{
	free(self);
}

static int silence_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			     struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	out[0] = ((struct silence *)self)->fmt;
	return 0;
}

static int silence_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
			   const struct vd_audio_format *out, uint32_t n_out,
			   uint32_t max_frames, struct vd_error *err)
{
	return 0;
}

static int silence_process(void *self, struct vd_buffer *in, uint32_t n_in,
			   struct vd_buffer *out, uint32_t n_out)
{
	struct silence *s = self;
	uint64_t n = s->total - s->pos;

	if (n > out[0].frames)
		n = out[0].frames;
	vd_endpoint_fill_silence(s->fmt.format, out[0].data, (size_t)n * s->fmt.channels);
	s->pos += n;
	out[0].frames = (uint32_t)n;
	out[0].flags = s->pos >= s->total ? VD_BUFFER_EOS : 0;
	return 0;
}

static void silence_reset(void *self)
{
	((struct silence *)self)->pos = 0;
}

static int64_t silence_total_frames(void *self)
{
	return (int64_t)((struct silence *)self)->total;
}

const struct vd_node_ops vd_node_silence_source = {
	.version = VD_NODE_OPS_VERSION,
	.type = "silence-source",
	.summary = "digital silence for 'duration' (absent: ends at once)",
	.flags = VD_NODE_SOURCE | VD_NODE_ENDPOINT,
	.init = silence_init,
	.free = silence_free,
	.negotiate = silence_negotiate,
	.prepare = silence_prepare,
	.process = silence_process,
	.reset = silence_reset,
	.total_frames = silence_total_frames,
};
