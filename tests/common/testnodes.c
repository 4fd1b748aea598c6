/* tests/common/testnodes.c - tiny node types for graph and scheduler tests (see testnodes.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <virtdsp/attach.h>
#include <virtdsp/graph.h>
#include <virtdsp/topology.h>

#include "testnodes.h"

/* "ramp": a source of S16 mono frames 0,1,2,... for `frames` frames (prop). */
struct ramp { uint32_t total, pos, rate; };

static int ramp_init(const struct vd_node_init *init, void **self, uint32_t *ni, uint32_t *no,
		     struct vd_error *err)
{
	struct ramp *r = calloc(1, sizeof(*r));
	r->total = 1000;
	r->rate = 48000;
	if (vd_props_uint(init->props, "frames", 0, 1u << 30, &r->total, err) < 0 ||
	    vd_props_uint(init->props, "rate", 1, 1000000, &r->rate, err) < 0) {
		free(r);
		return -EINVAL;
	}
	*self = r;
	*ni = 0;
	*no = 1;
	return 0;
}

static int ramp_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			  struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	struct ramp *r = self;
	vd_audio_format_init(&out[0], VD_FORMAT_S16, r->rate, 1);
	return 0;
}

static int ramp_process(void *self, struct vd_buffer *in, uint32_t n_in, struct vd_buffer *out, uint32_t n_out)
{
	struct ramp *r = self;
	int16_t *d = out[0].data;
	uint32_t n = out[0].frames;
	if (n > r->total - r->pos)
		n = r->total - r->pos;
	for (uint32_t i = 0; i < n; i++)
		d[i] = (int16_t)(r->pos + i);
	r->pos += n;
	out[0].frames = n;
	if (r->pos == r->total)
		out[0].flags |= VD_BUFFER_EOS;
	return 0;
}

static int64_t ramp_total(void *self) { return ((struct ramp *)self)->total; }
static void generic_free(void *self) { free(self); }
static void ramp_reset(void *self) { ((struct ramp *)self)->pos = 0; }

const struct vd_node_ops test_ramp_ops = {
	.version = VD_NODE_OPS_VERSION, .type = "ramp", .flags = VD_NODE_SOURCE,
	.init = ramp_init, .free = generic_free, .negotiate = ramp_negotiate,
	.process = ramp_process, .total_frames = ramp_total, .reset = ramp_reset,
};

/* "double": wants F32 input, multiplies by its run-time parameter "factor" (default 2),
 * so the graph must insert converters around it and can steer it while running. */
struct dbl { float factor; };

static int dbl_init(const struct vd_node_init *init, void **self, uint32_t *ni, uint32_t *no,
		    struct vd_error *err)
{
	struct dbl *d = calloc(1, sizeof(*d));
	d->factor = 2.0f;
	*self = d;
	*ni = 1;
	*no = 1;
	return 0;
}

static int dbl_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			 struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	in[0].format = VD_FORMAT_F32;
	out[0] = in[0];
	return 0;
}

static int dbl_process(void *self, struct vd_buffer *in, uint32_t n_in, struct vd_buffer *out, uint32_t n_out)
{
	struct dbl *dd = self;
	uint32_t n = in[0].frames < out[0].frames ? in[0].frames : out[0].frames;
	const float *s = in[0].data;
	float *d = out[0].data;
	for (uint32_t i = 0; i < n; i++)
		d[i] = s[i] * dd->factor;
	in[0].frames = n;
	out[0].frames = n;
	if ((in[0].flags & VD_BUFFER_EOS) && n == in[0].frames)
		out[0].flags |= VD_BUFFER_EOS;
	return 0;
}

static int dbl_enum(void *self, uint32_t index, struct vd_param_info *info)
{
	if (index > 0)
		return -ENOENT;
	*info = (struct vd_param_info){ .id = 7, .name = "factor", .type = VD_PARAM_FLOAT,
					.flags = VD_PARAM_READ | VD_PARAM_WRITE, .min = -4, .max = 4, .def = 2 };
	return 0;
}

static int dbl_set(void *self, uint32_t id, double v)
{
	if (id != 7 || v < -4 || v > 4)
		return -EINVAL;
	((struct dbl *)self)->factor = (float)v;
	return 0;
}

static int dbl_get(void *self, uint32_t id, double *v)
{
	if (id != 7)
		return -EINVAL;
	*v = ((struct dbl *)self)->factor;
	return 0;
}

const struct vd_node_ops test_double_ops = {
	.version = VD_NODE_OPS_VERSION, .type = "double", .init = dbl_init, .free = generic_free,
	.negotiate = dbl_negotiate, .process = dbl_process,
	.enum_params = dbl_enum, .set_param = dbl_set, .get_param = dbl_get,
};

/* "tconv": a minimal stand-in for the library's convert node (S16 <-> F32, mono). */
struct tconv { enum vd_sample_format to; enum vd_sample_format from; };

static int tconv_init(const struct vd_node_init *init, void **self, uint32_t *ni, uint32_t *no,
		      struct vd_error *err)
{
	struct tconv *c = calloc(1, sizeof(*c));
	uint32_t ch = 1;
	c->to = VD_FORMAT_F32;
	vd_props_format(init->props, "format", &c->to, err);
	vd_props_uint(init->props, "channels", 1, 32, &ch, err);
	*self = c;
	*ni = 1;
	*no = 1;
	return 0;
}

static int tconv_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			   struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	struct tconv *c = self;
	c->from = in[0].format;
	out[0] = in[0];
	out[0].format = c->to;
	return 0;
}

static int tconv_process(void *self, struct vd_buffer *in, uint32_t n_in, struct vd_buffer *out, uint32_t n_out)
{
	struct tconv *c = self;
	uint32_t n = in[0].frames < out[0].frames ? in[0].frames : out[0].frames;
	for (uint32_t i = 0; i < n; i++) {
		if (c->from == VD_FORMAT_S16 && c->to == VD_FORMAT_F32)
			((float *)out[0].data)[i] = ((int16_t *)in[0].data)[i] / 32768.0f;
		else if (c->from == VD_FORMAT_F32 && c->to == VD_FORMAT_S16)
			((int16_t *)out[0].data)[i] = (int16_t)lrintf(((float *)in[0].data)[i] * 32768.0f);
		else
			return -EINVAL;
	}
	in[0].frames = n;
	out[0].frames = n;
	if ((in[0].flags & VD_BUFFER_EOS) && n == in[0].frames)
		out[0].flags |= VD_BUFFER_EOS;
	return 0;
}

const struct vd_node_ops test_convert_ops = {
	.version = VD_NODE_OPS_VERSION, .type = "convert", .init = tconv_init, .free = generic_free,
	.negotiate = tconv_negotiate, .process = tconv_process,
};

/* "capture": a sink that stores S16 mono frames (asks for S16). */
static int cap_init(const struct vd_node_init *init, void **self, uint32_t *ni, uint32_t *no,
		    struct vd_error *err)
{
	*self = calloc(1, sizeof(struct test_capture));
	*ni = 1;
	*no = 0;
	return 0;
}

static int cap_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			 struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	in[0].format = VD_FORMAT_S16;
	return 0;
}

static int cap_process(void *self, struct vd_buffer *in, uint32_t n_in, struct vd_buffer *out, uint32_t n_out)
{
	struct test_capture *c = self;
	uint32_t n = in[0].frames;
	if (n > (1u << 16) - c->n)
		n = (1u << 16) - c->n;
	memcpy(c->data + c->n, in[0].data, n * 2);
	c->n += n;
	in[0].frames = n;
	if (in[0].flags & VD_BUFFER_EOS)
		c->ended = true;
	return 0;
}

struct test_capture *test_last_capture;
static int cap_init_track(const struct vd_node_init *init, void **self, uint32_t *ni, uint32_t *no,
			  struct vd_error *err)
{
	int r = cap_init(init, self, ni, no, err);
	test_last_capture = *self;
	return r;
}

const struct vd_node_ops test_capture_ops = {
	.version = VD_NODE_OPS_VERSION, .type = "capture", .flags = VD_NODE_SINK,
	.init = cap_init_track, .free = generic_free, .negotiate = cap_negotiate, .process = cap_process,
};

/* "tee2": 1 in, 2 out, passthrough any format. */
static int tee_init(const struct vd_node_init *init, void **self, uint32_t *ni, uint32_t *no,
		    struct vd_error *err)
{
	*self = calloc(1, 1);
	*ni = 1;
	*no = 2;
	return 0;
}

static int tee_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			 struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	out[0] = in[0];
	out[1] = in[0];
	return 0;
}

static int tee_process(void *self, struct vd_buffer *in, uint32_t n_in, struct vd_buffer *out, uint32_t n_out)
{
	uint32_t n = in[0].frames;
	if (n > out[0].frames) n = out[0].frames;
	if (n > out[1].frames) n = out[1].frames;
	memcpy(out[0].data, in[0].data, n * 2);
	memcpy(out[1].data, in[0].data, n * 2);
	in[0].frames = out[0].frames = out[1].frames = n;
	if ((in[0].flags & VD_BUFFER_EOS) && n == in[0].frames)
		out[0].flags = out[1].flags = VD_BUFFER_EOS;
	return 0;
}

const struct vd_node_ops test_tee_ops = {
	.version = VD_NODE_OPS_VERSION, .type = "tee2", .init = tee_init, .free = generic_free,
	.negotiate = tee_negotiate, .process = tee_process,
};


/* "src" stand-in: needs F32 input; output rate = prop `rate`, by sample-and-hold
 * (enough to test where the graph splices rate converters, not their quality). */
struct tsrc { uint32_t rate_out, rate_in; uint64_t in_pos, out_pos; };

static int tsrc_init(const struct vd_node_init *init, void **self, uint32_t *ni, uint32_t *no,
		     struct vd_error *err)
{
	struct tsrc *s = calloc(1, sizeof(*s));
	s->rate_out = 48000;
	if (vd_props_uint(init->props, "rate", 1, 1000000, &s->rate_out, err) < 0) {
		free(s);
		return -EINVAL;
	}
	*self = s;
	*ni = 1;
	*no = 1;
	return 0;
}

static int tsrc_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			  struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	struct tsrc *s = self;
	in[0].format = VD_FORMAT_F32;
	s->rate_in = in[0].rate;
	out[0] = in[0];
	out[0].rate = s->rate_out;
	return 0;
}

static int tsrc_process(void *self, struct vd_buffer *in, uint32_t n_in, struct vd_buffer *out, uint32_t n_out)
{
	struct tsrc *s = self;
	const float *x = in[0].data;
	float *y = out[0].data;
	uint32_t made = 0, used = 0;

	/* output frame k holds input frame floor(k * in / out) */
	while (made < out[0].frames) {
		uint64_t need = (s->out_pos * s->rate_in) / s->rate_out;
		if (need >= s->in_pos + in[0].frames)
			break;
		y[made++] = x[need - s->in_pos];
		s->out_pos++;
	}
	uint64_t keep = (s->out_pos * s->rate_in) / s->rate_out;
	used = (uint32_t)(keep - s->in_pos);
	if (used > in[0].frames)
		used = in[0].frames;
	s->in_pos += used;
	bool eos = (in[0].flags & VD_BUFFER_EOS) && used == in[0].frames;
	in[0].frames = used;
	out[0].frames = made;
	if (eos)
		out[0].flags |= VD_BUFFER_EOS;
	return 0;
}

const struct vd_node_ops test_src_ops = {
	.version = VD_NODE_OPS_VERSION, .type = "src", .init = tsrc_init, .free = generic_free,
	.negotiate = tsrc_negotiate, .process = tsrc_process,
};

/* "probe-sink": records F32 frames from one input, up to the cap its registry gives. */
struct test_probes *test_probes;

static int probe_init(const struct vd_node_init *init, void **self, uint32_t *ni, uint32_t *no,
		      struct vd_error *err)
{
	struct test_probe *p;

	if (!test_probes)
		return vd_error_set(err, -EINVAL, NULL, "probe-sink: no test_probes registry set");
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cap = test_probes->cap;
	p->channels = test_probes->channels;
	*ni = 1;
	*no = 0;
	*self = p;
	if (test_probes->n < TEST_PROBES_MAX)
		test_probes->p[test_probes->n] = p;
	test_probes->n++;
	test_probes->last = p;
	return 0;
}

static void probe_free(void *self)
{
	struct test_probe *p = self;

	free(p->data);
	free(p);
}

static int probe_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			   struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	struct test_probe *p = self;

	in[0].format = VD_FORMAT_F32;
	if (p->channels)
		in[0].channels = p->channels;
	return 0;
}

static int probe_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
			 const struct vd_audio_format *out, uint32_t n_out, uint32_t max, struct vd_error *err)
{
	struct test_probe *p = self;

	p->channels = in[0].channels;
	free(p->data);
	/* a test node: the whole recording is allocated up front, never in process */
	p->data = calloc(p->cap * p->channels, sizeof(float));
	return p->data ? 0 : -ENOMEM;
}

static int probe_process(void *self, struct vd_buffer *in, uint32_t n_in, struct vd_buffer *out, uint32_t n_out)
{
	struct test_probe *p = self;
	uint64_t n = in[0].frames;

	if (n > p->cap - p->n)
		n = p->cap - p->n;
	memcpy(p->data + p->n * p->channels, in[0].data, n * p->channels * sizeof(float));
	p->n += n;
	return 0;
}

const struct vd_node_ops test_probe_ops = {
	.version = VD_NODE_OPS_VERSION, .type = "probe-sink", .flags = VD_NODE_SINK,
	.init = probe_init, .free = probe_free, .negotiate = probe_negotiate,
	.prepare = probe_prepare, .process = probe_process,
};

static const char probe_host_topology[] =
	"pipeline host {\n"
	"  rate = 48000\n  period = 480\n"
	"  attach a playback { channels = 2 }\n  sink out_a probe\n  link a -> out_a\n"
	"  attach b playback { channels = 2 }\n  sink out_b probe\n  link b -> out_b\n"
	"}\n";

int test_probe_host_new(struct test_probes *probes, uint64_t cap, struct vd_diag *diag,
			struct vd_topology **t, struct vd_graph **g)
{
	int ret;

	*probes = (struct test_probes){ .cap = cap, .channels = 2 };
	ret = vd_topology_load_string(probe_host_topology, strlen(probe_host_topology), "host.topo", t,
				      diag);
	if (ret < 0)
		return ret;
	ret = vd_graph_new(g);
	if (ret < 0)
		goto fail_topology;
	vd_graph_set_live(*g, true);
	ret = vd_graph_register_type(*g, &test_probe_ops);
	if (ret < 0)
		goto fail_graph;
	test_probes = probes;
	ret = vd_topology_build(*t, *g, diag);
	test_probes = NULL;
	if (ret < 0)
		goto fail_graph;
	return 0;

fail_graph:
	vd_graph_free(*g);
	*g = NULL;
fail_topology:
	vd_topology_free(*t);
	*t = NULL;
	return ret;
}
