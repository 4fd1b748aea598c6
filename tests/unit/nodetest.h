/* tests/unit/nodetest.h - a small harness that drives a node's ops directly (the node tests and bench). */
#ifndef VD_NODETEST_H
#define VD_NODETEST_H

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtdsp/node.h>

#define NT_MAX_PORTS 16

/* cmocka has no double comparison that prints the values; these do (after <cmocka.h>). */
#define nt_assert_near(a, b, tol) do {							\
	double nt_a_ = (a), nt_b_ = (b), nt_t_ = (tol);					\
	if (!(fabs(nt_a_ - nt_b_) <= nt_t_))						\
		fail_msg("%s = %.12g, expected %s = %.12g within %g", #a, nt_a_, #b, nt_b_, nt_t_); \
} while (0)
#define nt_assert_ge(a, b) do {								\
	double nt_a_ = (a), nt_b_ = (b);						\
	if (!(nt_a_ >= nt_b_))								\
		fail_msg("%s = %.12g, expected >= %s = %.12g", #a, nt_a_, #b, nt_b_);	\
} while (0)
#define nt_assert_le(a, b) do {								\
	double nt_a_ = (a), nt_b_ = (b);						\
	if (!(nt_a_ <= nt_b_))								\
		fail_msg("%s = %.12g, expected <= %s = %.12g", #a, nt_a_, #b, nt_b_);	\
} while (0)

/*
 * Properties from "key=value" strings as a topology would give them:
 * "gain=-6dB" is a number with a unit, "wave=sine" a word, "path=\"x\"" a
 * string. @kv is NULL-terminated; free with nt_props_free().
 */
static inline struct vd_props *nt_props_new(const char *const *kv)
{
	struct vd_props *p = calloc(1, sizeof(*p));
	uint32_t n = 0;

	while (kv && kv[n])
		n++;
	p->items = calloc(n ? n : 1, sizeof(*p->items));
	p->n = n;
	for (uint32_t i = 0; i < n; i++) {
		struct vd_prop *it = &p->items[i];
		const char *eq = strchr(kv[i], '=');
		const char *val = eq + 1;
		char *end;
		double num = strtod(val, &end);

		it->key = strndup(kv[i], (size_t)(eq - kv[i]));
		it->loc.line = i + 1;
		it->loc.column = 1;
		if (val[0] == '"') {
			it->type = VD_PROP_STRING;
			it->str = strndup(val + 1, strlen(val) - 2);
		} else if (end != val && (val[0] == '-' || val[0] == '+' || val[0] == '.' ||
					  (val[0] >= '0' && val[0] <= '9'))) {
			it->type = VD_PROP_NUMBER;
			it->num = num;
			it->str = strdup(val);
			it->unit = strdup(end);
		} else {
			it->type = VD_PROP_IDENT;
			it->str = strdup(val);
		}
	}
	return p;
}

static inline void nt_props_free(struct vd_props *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; i < p->n; i++) {
		free((char *)p->items[i].key);
		free((char *)p->items[i].str);
		free((char *)p->items[i].unit);
	}
	free(p->items);
	free(p);
}

struct nt_node {
	const struct vd_node_ops *ops;
	void *self;
	struct vd_props *props;
	uint32_t n_in, n_out;
	struct vd_audio_format in[NT_MAX_PORTS], out[NT_MAX_PORTS];
	struct vd_error err;
};

/* init + the graph's unused-property check; on failure n->err holds the message. */
static inline int nt_init(struct nt_node *n, const struct vd_node_ops *ops, const char *const *kv,
			  uint32_t n_inputs, uint32_t rate)
{
	struct vd_node_init init = { .name = "test", .n_inputs = n_inputs, .n_outputs = 1,
				     .rate = rate, .period = 480 };
	int res;

	memset(n, 0, sizeof(*n));
	n->ops = ops;
	n->props = nt_props_new(kv);
	init.props = n->props;
	res = ops->init(&init, &n->self, &n->n_in, &n->n_out, &n->err);
	if (res < 0) {
		n->self = NULL;
		return res;
	}
	res = vd_props_check_unused(n->props, ops->type, &n->err);
	if (res < 0) {
		ops->free(n->self);
		n->self = NULL;
	}
	return res;
}

/* negotiate from @offered (n->n_in of them), then prepare with what the node asked for. */
static inline int nt_prepare(struct nt_node *n, const struct vd_audio_format *offered, uint32_t max_frames)
{
	int res;

	for (uint32_t i = 0; i < n->n_in; i++)
		n->in[i] = offered[i];
	res = n->ops->negotiate(n->self, n->in, n->n_in, n->out, n->n_out, &n->err);
	if (res < 0)
		return res;
	return n->ops->prepare(n->self, n->in, n->n_in, n->out, n->n_out, max_frames, &n->err);
}

static inline void nt_free(struct nt_node *n)
{
	if (n->self)
		n->ops->free(n->self);
	nt_props_free(n->props);
	n->self = NULL;
	n->props = NULL;
}

/* Parameter id by name, or -ENOENT. */
static inline int nt_param(struct nt_node *n, const char *name)
{
	struct vd_param_info info;

	for (uint32_t i = 0; n->ops->enum_params && n->ops->enum_params(n->self, i, &info) == 0; i++)
		if (strcmp(info.name, name) == 0)
			return (int)info.id;
	return -ENOENT;
}

static inline int nt_set(struct nt_node *n, const char *name, double value)
{
	int id = nt_param(n, name);

	return id < 0 ? id : n->ops->set_param(n->self, (uint32_t)id, value);
}

static inline double nt_get(struct nt_node *n, const char *name)
{
	int id = nt_param(n, name);
	double v = NAN;

	if (id >= 0)
		n->ops->get_param(n->self, (uint32_t)id, &v);
	return v;
}

/*
 * Push @in_frames frames through a 1-in-1-out node in blocks of @block,
 * with EOS on the last block when @eos, into @out (room @out_cap frames).
 * Returns frames produced, or -1 if the node stalled or overran.
 * *@saw_eos (may be NULL) tells whether the output carried EOS.
 */
static inline long nt_run(struct nt_node *n, const void *in, size_t in_frames, void *out,
			  size_t out_cap, uint32_t block, bool eos, bool *saw_eos)
{
	size_t isz = vd_format_frame_size(&n->in[0]), osz = vd_format_frame_size(&n->out[0]);
	size_t ipos = 0, opos = 0;
	int stalls = 0;

	if (saw_eos)
		*saw_eos = false;
	for (;;) {
		size_t avail = in_frames - ipos;
		struct vd_buffer ib = { .data = (char *)in + ipos * isz,
					.frames = (uint32_t)(avail < block ? avail : block) };
		size_t room = out_cap - opos;
		struct vd_buffer ob = { .data = (char *)out + opos * osz,
					.frames = (uint32_t)(room < block ? room : block) };

		if (eos && ipos + ib.frames == in_frames)
			ib.flags = VD_BUFFER_EOS;
		if (n->ops->process(n->self, &ib, 1, &ob, 1) < 0)
			return -1;
		if (ib.frames > (avail < block ? avail : block) || ob.frames > (room < block ? room : block))
			return -1;
		ipos += ib.frames;
		opos += ob.frames;
		if (ob.flags & VD_BUFFER_EOS) {
			if (saw_eos)
				*saw_eos = true;
			break;
		}
		if (!eos && ipos == in_frames)
			break;
		if (ib.frames == 0 && ob.frames == 0) {
			if (opos == out_cap || ++stalls > 2)
				break;
		} else {
			stalls = 0;
		}
	}
	return (long)opos;
}

#endif
