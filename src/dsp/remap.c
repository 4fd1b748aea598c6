/* dsp/remap.c - the "remap" node: channel routing by layout, by index list, or by an explicit matrix. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtdsp/convert.h>

#include "dsp/dsp.h"

#define COEF_MAX 1000.0

enum mode { M_POSITIONS, M_ROUTE, M_MATRIX };

struct remap {
	enum mode mode;
	uint32_t out_ch;
	bool have_positions;
	uint8_t positions[VD_MAX_CHANNELS];
	bool normalize;
	int route[VD_MAX_CHANNELS];		/* route mode, and any matrix that only selects */
	uint32_t cols;				/* matrix mode: input channels it expects */
	float user[VD_MAX_CHANNELS * VD_MAX_CHANNELS];
	/* prepared */
	uint32_t in_ch;
	bool as_route;
	float m[VD_MAX_CHANNELS * VD_MAX_CHANNELS];	/* out_ch x in_ch */
};

static int parse_positions(struct remap *r, struct vd_props *p, uint32_t *n, struct vd_error *err)
{
	char key[32];

	for (*n = 0; *n < VD_MAX_CHANNELS; (*n)++) {
		const struct vd_prop *v;
		enum vd_channel_position pos;

		snprintf(key, sizeof(key), "positions.%u", *n);
		v = vd_props_find(p, key);
		if (!v)
			break;
		if (v->type == VD_PROP_NUMBER || vd_channel_from_name(v->str, &pos) < 0)
			return vd_error_set(err, -EINVAL, &v->loc,
					    "'%s' = '%s' is not a channel position (FL, FR, FC, LFE, RL, RR, SL, SR, MONO, AUX0, ...)",
					    key, v->str);
		r->positions[*n] = (uint8_t)pos;
	}
	return 0;
}

static int parse_route(struct remap *r, struct vd_props *p, uint32_t *n, struct vd_error *err)
{
	char key[32];

	for (*n = 0; *n < VD_MAX_CHANNELS; (*n)++) {
		const struct vd_prop *v;
		double x = 0;
		int res;

		snprintf(key, sizeof(key), "route.%u", *n);
		v = vd_props_find(p, key);
		if (!v)
			break;
		res = vd_props_number(p, key, VD_UNIT_NONE, -1, VD_MAX_CHANNELS - 1, &x, err);
		if (res < 0)
			return res;
		if (x != floor(x))
			return vd_error_set(err, -EINVAL, &v->loc,
					    "'%s' = %s is not an input channel index (or -1 for silence)", key, v->str);
		r->route[*n] = (int)x;
	}
	return 0;
}

/* Nested rows (matrix.R.C) or a flat list (matrix.K) split into @channels rows. */
static int parse_matrix(struct remap *r, struct vd_props *p, uint32_t channels, uint32_t *rows,
			const struct vd_prop **first, struct vd_error *err)
{
	char key[48];
	double vals[VD_MAX_CHANNELS * VD_MAX_CHANNELS];
	uint32_t n = 0;
	int res;

	*rows = 0;
	*first = vd_props_find(p, "matrix.0.0");
	if (*first) {
		for (uint32_t row = 0; row < VD_MAX_CHANNELS; row++) {
			uint32_t c;

			snprintf(key, sizeof(key), "matrix.%u.0", row);
			if (!vd_props_find(p, key))
				break;
			for (c = 0; c < VD_MAX_CHANNELS; c++) {
				snprintf(key, sizeof(key), "matrix.%u.%u", row, c);
				if (!vd_props_find(p, key))
					break;
				res = vd_props_number(p, key, VD_UNIT_NONE, -COEF_MAX, COEF_MAX, &vals[n++], err);
				if (res < 0)
					return res;
			}
			if (row == 0)
				r->cols = c;
			else if (c != r->cols)
				return vd_error_set(err, -EINVAL, &(*first)->loc,
						    "'matrix' row %u has %u entries but row 0 has %u", row, c, r->cols);
			(*rows)++;
		}
	} else {
		*first = vd_props_find(p, "matrix.0");
		if (!*first)
			return 0;
		for (; n < VD_MAX_CHANNELS * VD_MAX_CHANNELS; n++) {
			snprintf(key, sizeof(key), "matrix.%u", n);
			if (!vd_props_find(p, key))
				break;
			res = vd_props_number(p, key, VD_UNIT_NONE, -COEF_MAX, COEF_MAX, &vals[n], err);
			if (res < 0)
				return res;
		}
		if (channels == 0 || n % channels != 0)
			return vd_error_set(err, -EINVAL, &(*first)->loc,
					    "a flat 'matrix' of %u entries needs 'channels' (the rows) dividing it", n);
		*rows = channels;
		r->cols = n / channels;
	}
	for (uint32_t i = 0; i < n; i++)
		r->user[i] = (float)vals[i];
	return 0;
}

static int remap_init(const struct vd_node_init *init, void **self,
		      uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	struct remap *r;
	uint32_t n_pos = 0, n_route = 0, n_rows = 0, channels = 0;
	const struct vd_prop *mfirst = NULL, *chp;
	int res;

	r = calloc(1, sizeof(*r));
	if (!r)
		return vd_error_set(err, -ENOMEM, NULL, "out of memory");
	r->normalize = true;
	if ((res = vd_props_uint(init->props, "channels", 1, VD_MAX_CHANNELS, &channels, err)) < 0 ||
	    (res = vd_props_bool(init->props, "normalize", &r->normalize, err)) < 0 ||
	    (res = parse_positions(r, init->props, &n_pos, err)) < 0 ||
	    (res = parse_route(r, init->props, &n_route, err)) < 0 ||
	    (res = parse_matrix(r, init->props, channels, &n_rows, &mfirst, err)) < 0)
		goto fail;
	if (n_route && n_rows) {
		res = vd_error_set(err, -EINVAL, &mfirst->loc, "give either 'route' or 'matrix', not both");
		goto fail;
	}
	if (n_route) {
		r->mode = M_ROUTE;
		r->out_ch = n_route;
	} else if (n_rows) {
		r->mode = M_MATRIX;
		r->out_ch = n_rows;
	} else if (n_pos) {
		r->mode = M_POSITIONS;
		r->out_ch = n_pos;
	} else {
		res = vd_error_set(err, -EINVAL, init->props ? &init->props->loc : NULL,
				   "remap needs 'positions', 'route' or 'matrix'");
		goto fail;
	}
	if (n_pos && n_pos != r->out_ch) {
		res = vd_error_set(err, -EINVAL, NULL, "'positions' has %u entries but '%s' has %u outputs",
				   n_pos, r->mode == M_ROUTE ? "route" : "matrix", r->out_ch);
		goto fail;
	}
	chp = vd_props_find(init->props, "channels");
	if (channels && channels != r->out_ch) {
		res = vd_error_set(err, -EINVAL, chp ? &chp->loc : NULL,
				   "'channels' = %u but the remap has %u outputs", channels, r->out_ch);
		goto fail;
	}
	r->have_positions = n_pos > 0;
	*self = r;
	*n_inputs = 1;
	*n_outputs = 1;
	return 0;
fail:
	free(r);
	return res;
}

static void remap_free(void *self)
{
	free(self);
}

static int remap_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			   struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	struct remap *r = self;

	in[0].format = VD_FORMAT_F32;
	if (r->mode == M_ROUTE) {
		for (uint32_t o = 0; o < r->out_ch; o++)
			if (r->route[o] >= (int)in[0].channels)
				return vd_error_set(err, -EINVAL, NULL,
						    "'route.%u' = %d but the input has %u channels (0..%u)",
						    o, r->route[o], in[0].channels, in[0].channels - 1);
	} else if (r->mode == M_MATRIX && r->cols != in[0].channels) {
		return vd_error_set(err, -EINVAL, NULL, "'matrix' has %u columns but the input has %u channels",
				    r->cols, in[0].channels);
	}
	vd_audio_format_init(&out[0], VD_FORMAT_F32, in[0].rate, r->out_ch);
	if (r->have_positions)
		memcpy(out[0].position, r->positions, r->out_ch);
	return 0;
}

/* A matrix whose rows each pick one input at exactly 1 (or nothing) is a route: copy, bit-exact. */
static bool matrix_to_route(struct remap *r)
{
	for (uint32_t o = 0; o < r->out_ch; o++) {
		int pick = -1;

		for (uint32_t i = 0; i < r->in_ch; i++) {
			float v = r->m[o * r->in_ch + i];

			if (v == 0.0f)
				continue;
			if (v != 1.0f || pick >= 0)
				return false;
			pick = (int)i;
		}
		r->route[o] = pick;
	}
	return true;
}

static int remap_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
			 const struct vd_audio_format *out, uint32_t n_out,
			 uint32_t max_frames, struct vd_error *err)
{
	struct remap *r = self;
	int res;

	if (in[0].format != VD_FORMAT_F32 || out[0].format != VD_FORMAT_F32 || out[0].channels != r->out_ch ||
	    in[0].channels == 0 || in[0].channels > VD_MAX_CHANNELS)
		return vd_error_set(err, -EINVAL, NULL, "remap needs f32 input and %u f32 output channels",
				    r->out_ch);
	r->in_ch = in[0].channels;
	switch (r->mode) {
	case M_ROUTE:
		for (uint32_t o = 0; o < r->out_ch; o++)
			if (r->route[o] >= (int)r->in_ch)
				return vd_error_set(err, -EINVAL, NULL, "'route.%u' = %d but the input has %u channels",
						    o, r->route[o], r->in_ch);
		r->as_route = true;
		return 0;
	case M_MATRIX:
		if (r->cols != r->in_ch)
			return vd_error_set(err, -EINVAL, NULL, "'matrix' has %u columns but the input has %u channels",
					    r->cols, r->in_ch);
		memcpy(r->m, r->user, (size_t)r->out_ch * r->in_ch * sizeof(float));
		break;
	case M_POSITIONS:
		/* The layout the user asked for, whatever labels the graph put on the link since. */
		res = vd_channel_matrix(r->positions, r->out_ch, in[0].position, r->in_ch, r->normalize, r->m);
		if (res < 0)
			return vd_error_set(err, res, NULL, "no channel matrix for these layouts");
		break;
	}
	r->as_route = matrix_to_route(r);
	return 0;
}

static int remap_process(void *self, struct vd_buffer *in, uint32_t n_in,
			 struct vd_buffer *out, uint32_t n_out)
{
	struct remap *r = self;
	uint32_t n = in[0].frames < out[0].frames ? in[0].frames : out[0].frames;
	const uint32_t ni = r->in_ch, no = r->out_ch;
	const float *x = in[0].data;
	float *y = out[0].data;

	if (r->as_route) {
		for (uint32_t f = 0; f < n; f++, x += ni, y += no)
			for (uint32_t o = 0; o < no; o++)
				y[o] = r->route[o] < 0 ? 0.0f : x[r->route[o]];
	} else {
		for (uint32_t f = 0; f < n; f++, x += ni, y += no) {
			for (uint32_t o = 0; o < no; o++) {
				const float *row = &r->m[o * ni];
				float acc = 0.0f;

				for (uint32_t i = 0; i < ni; i++)
					acc += row[i] * x[i];
				y[o] = acc;
			}
		}
	}
	out[0].flags = (in[0].flags & VD_BUFFER_EOS) && n == in[0].frames ? VD_BUFFER_EOS : 0;
	in[0].frames = n;
	out[0].frames = n;
	return 0;
}

const struct vd_node_ops vd_node_remap = {
	.version = VD_NODE_OPS_VERSION,
	.type = "remap",
	.summary = "channel routing and mixing (layout, route list or matrix)",
	.init = remap_init,
	.free = remap_free,
	.negotiate = remap_negotiate,
	.prepare = remap_prepare,
	.process = remap_process,
};
