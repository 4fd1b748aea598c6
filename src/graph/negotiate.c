/* graph/negotiate.c - vd_graph_prepare(): connectivity, ordering, format negotiation
 * with automatic convert/src insertion, buffer sizing and node preparation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph-impl.h"

/* Copy a node's own error into @err, filling in the node's location when it gave none. */
static int node_error(struct gnode *n, struct vd_error *err, const struct vd_error *local,
		      int code, const char *what)
{
	if (local->code) {
		struct vd_location loc = local->loc.file ? local->loc : n->loc;
		return vd_error_set(err, local->code, &loc, "%s", local->msg);
	}
	return vd_error_set(err, code, &n->loc, "%s '%s': %s failed (%d)", n->ops->type, n->name, what, code);
}

static const char *port_label(const struct gnode *n, uint32_t port, bool output, char *buf, size_t size)
{
	uint32_t count = output ? n->n_out : n->n_in;

	if (count == 1)
		snprintf(buf, size, "%s:%s", n->name, output ? "out" : "in");
	else
		snprintf(buf, size, "%s:%s%u", n->name, output ? "out" : "in", port);
	return buf;
}

unsigned vd_graph_unconnected(const struct vd_graph *g,
			      void (*report)(void *data, const struct vd_error *e), void *data)
{
	struct vd_error e;
	char pl[128];
	unsigned found = 0;

	if (!g)
		return 0;
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		const struct gnode *n = g->nodes[i];
		for (uint32_t k = 0; k < n->n_in + n->n_out; k++) {
			bool output = k >= n->n_in;
			uint32_t p = output ? k - n->n_in : k;
			if (output ? n->out[p] != NULL : n->in[p] != NULL)
				continue;
			found++;
			if (!report)
				continue;
			vd_error_clear(&e);
			vd_error_set(&e, -EINVAL, &n->loc, "%s %s is not connected", output ? "output" : "input",
				     port_label(n, p, output, pl, sizeof(pl)));
			report(data, &e);
		}
	}
	return found;
}

static void keep_first(void *data, const struct vd_error *e)
{
	struct vd_error *err = data;

	if (err)
		vd_error_set(err, e->code, &e->loc, "%s", e->msg);
}

static int check_connected(struct vd_graph *g, struct vd_error *err)
{
	if (vd_graph_unconnected(g, keep_first, err))
		return -EINVAL;
	if (g->n_nodes == 0)
		return vd_error_set(err, -EINVAL, NULL, "the graph has no nodes");
	return 0;
}

/* Kahn's algorithm over the links there are (ports may be unconnected); on a
 * cycle, name it from one of its links. @commit: put g->nodes in that order. */
static int sort_nodes(struct vd_graph *g, bool commit, struct vd_error *err)
{
	uint32_t n = g->n_nodes, head = 0, tail = 0;
	struct gnode **order = calloc(n, sizeof(*order));
	int r = 0;

	if (!order) {
		r = vd_error_set(err, -ENOMEM, NULL, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct gnode *x = g->nodes[i];

		x->unsorted_in = 0;
		for (uint32_t p = 0; p < x->n_in; p++)
			x->unsorted_in += x->in[p] != NULL;
		x->visited = false;
		if (x->unsorted_in == 0)
			order[tail++] = x;
	}
	while (head < tail) {
		struct gnode *x = order[head++];
		x->visited = true;
		for (uint32_t p = 0; p < x->n_out; p++)
			if (x->out[p] && --x->out[p]->to->unsorted_in == 0)
				order[tail++] = x->out[p]->to;
	}
	if (tail < n) {
		/*
		 * Every node left unsorted has an unsorted predecessor, so walking
		 * backwards through them from any one must repeat a node: the walk
		 * from that node's first visit on is a cycle, backwards. (Walking
		 * forwards instead could leave the cycle for a node downstream of
		 * it and name a path that is not one.) The walk fits in the rest
		 * of order[]: it holds unsorted nodes only, each once.
		 */
		struct gnode **walk = order + tail, *x = NULL;
		uint32_t len = 0, k = 0;

		for (uint32_t i = 0; i < n && !x; i++)
			if (!g->nodes[i]->visited)
				x = g->nodes[i];
		for (;;) {
			for (k = 0; k < len && walk[k] != x; k++)
				;
			if (k < len)
				break;
			walk[len++] = x;
			for (uint32_t p = 0; p < x->n_in; p++) {
				if (x->in[p] && !x->in[p]->from->visited) {
					x = x->in[p]->from;
					break;
				}
			}
		}
		/* forwards: walk[k] -> walk[len - 1] -> ... -> walk[k + 1] -> walk[k]
		 * (at least two nodes: a link from a node to itself is refused) */
		char path[512];
		size_t plen = (size_t)snprintf(path, sizeof(path), "%s", walk[k]->name);
		const struct glink *first = NULL;
		for (uint32_t p = 0; p < walk[k]->n_out && !first; p++)
			if (walk[k]->out[p] && walk[k]->out[p]->to == walk[len - 1])
				first = walk[k]->out[p];
		for (uint32_t i = len; i-- > k;)
			if (plen < sizeof(path))
				plen += (size_t)snprintf(path + plen, sizeof(path) - plen, " -> %s", walk[i]->name);
		x = walk[k];
		r = vd_error_set(err, -ELOOP, first ? &first->loc : &x->loc,
				 "links form a cycle: %s", path);
		goto out;
	}
	if (commit)
		memcpy(g->nodes, order, n * sizeof(*order));
out:
	free(order);
	return r;
}

int vd_graph_find_cycle(struct vd_graph *g, struct vd_error *err)
{
	if (!g || g->n_nodes == 0)
		return 0;
	return sort_nodes(g, false, err);
}

static bool fmt_matches(const struct vd_audio_format *a, const struct vd_audio_format *b)
{
	return a->format == b->format && a->rate == b->rate && a->channels == b->channels;
}

static bool fmt_valid(const struct vd_audio_format *f)
{
	return f->format > VD_FORMAT_UNKNOWN && f->format < VD_FORMAT_COUNT && f->rate > 0 &&
	       f->channels >= 1 && f->channels <= VD_MAX_CHANNELS;
}

struct order {
	struct gnode **v;
	uint32_t n, cap;
};

static int order_insert(struct order *o, uint32_t at, struct gnode *x)
{
	if (o->n == o->cap) {
		uint32_t ncap = o->cap * 2 + 8;
		struct gnode **p = realloc(o->v, ncap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		o->v = p;
		o->cap = ncap;
	}
	memmove(o->v + at + 1, o->v + at, (o->n - at) * sizeof(*o->v));
	o->v[at] = x;
	o->n++;
	return 0;
}

/*
 * Splice a converter of @type between @l's ends: l becomes from -> conv,
 * and a new link conv -> (old to). The converter is negotiated at once with
 * @offered and must produce a format that matches @want in the fields
 * given by @check_* (the rest are its own choice).
 */
static int splice(struct vd_graph *g, struct order *o, uint32_t *at, struct glink *l,
		  const char *type, struct vd_prop *props, uint32_t n_props,
		  const struct vd_audio_format *offered, struct vd_audio_format *produced,
		  struct vd_error *err)
{
	char name[160];
	struct vd_props pr = { .items = props, .n = n_props, .loc = l->loc };
	struct vd_graph_node_desc d = {
		.name = name, .type = type, .props = &pr, .pipeline = l->to->pipeline,
		.rate = 0, .period = l->to->period, .n_inputs = 1, .n_outputs = 1, .loc = l->loc,
	};
	struct gnode *c;
	struct glink *l2;
	struct vd_error local = { 0 };
	struct vd_audio_format in = *offered;
	int r;

	snprintf(name, sizeof(name), "%s.%s%u", l->to->name, type, g->inserted_count++);
	r = vd_graph_create_node(g, &d, &c, &local);
	if (r < 0)
		return vd_error_set(err, r, &l->loc, "cannot insert a %s node: %s", type, local.msg);
	c->inserted = true;
	if (c->n_in != 1 || c->n_out != 1)
		return vd_error_set(err, -EINVAL, &l->loc, "node type '%s' is not a 1-in 1-out converter", type);
	r = order_insert(o, *at, c);
	if (r < 0)
		return vd_error_set(err, r, NULL, "out of memory");
	(*at)++;
	r = vd_graph_add_link(g, c, 0, l->to, l->to_port, &l->loc, &l2);
	if (r < 0)
		return vd_error_set(err, r, NULL, "out of memory");
	l->to = c;
	l->to_port = 0;
	c->in[0] = l;
	r = c->ops->negotiate(c->self, &in, 1, produced, 1, &local);
	if (r < 0)
		return node_error(c, err, &local, r, "negotiation");
	if (!fmt_matches(&in, offered)) {
		/* The converter wants another input format itself (e.g. src needs f32):
		 * put a format converter in front of it. */
		struct vd_prop fp[2];
		char fmtnum[16];
		struct vd_audio_format mid;
		uint32_t at_c = *at - 1;
		snprintf(fmtnum, sizeof(fmtnum), "%u", in.channels);
		fp[0] = (struct vd_prop){ .key = "format", .type = VD_PROP_IDENT, .str = vd_format_name(in.format), .loc = l->loc };
		fp[1] = (struct vd_prop){ .key = "channels", .type = VD_PROP_NUMBER, .str = fmtnum, .num = in.channels, .unit = "", .loc = l->loc };
		if (strcmp(type, "convert") == 0)
			return vd_error_set(err, -EINVAL, &l->loc, "the convert node refused its input");
		r = splice(g, o, &at_c, l, "convert", fp, 2, offered, &mid, err);
		if (r < 0)
			return r;
		(*at)++;
		if (!fmt_matches(&mid, &in))
			return vd_error_set(err, -EINVAL, &l->loc, "cannot produce the input format a %s node needs", type);
	}
	l->fmt = *offered;
	l->negotiated = true;
	l2->fmt = *produced;
	l2->negotiated = true;
	return 0;
}

/* Make link @l deliver @want to its consumer, inserting src and convert nodes. */
static int conform(struct vd_graph *g, struct order *o, uint32_t *at, struct glink *l,
		   const struct vd_audio_format *want, struct vd_error *err)
{
	struct vd_audio_format cur = l->fmt, next;
	/* Splices re-point links; the consumer's port is what stays fixed. */
	struct gnode *consumer = l->to;
	uint32_t port = l->to_port;
	char from[128], to[128], fa[64], fb[64], num[2][24];
	int r;

	port_label(l->from, l->from_port, true, from, sizeof(from));
	port_label(l->to, l->to_port, false, to, sizeof(to));
	/* Before a rate change, convert first when that helps: into the float format the
	 * consumer wants (the resampler then keeps full precision instead of rounding to
	 * integers in between) and down to fewer channels (less to resample). */
	if (want->rate != cur.rate && vd_graph_lookup_type(g, "convert")) {
		bool to_float = vd_format_is_float(want->format) && !vd_format_is_float(cur.format);
		uint32_t ch = want->channels < cur.channels ? want->channels : cur.channels;
		if (to_float || ch != cur.channels) {
			struct vd_prop p[2];
			snprintf(num[1], sizeof(num[1]), "%u", ch);
			p[0] = (struct vd_prop){ .key = "format", .type = VD_PROP_IDENT,
						 .str = vd_format_name(to_float ? want->format : cur.format), .loc = l->loc };
			p[1] = (struct vd_prop){ .key = "channels", .type = VD_PROP_NUMBER, .str = num[1], .num = ch, .unit = "", .loc = l->loc };
			r = splice(g, o, at, l, "convert", p, 2, &cur, &next, err);
			if (r < 0)
				return r;
			l = consumer->in[port];
			cur = next;
		}
	}
	if (want->rate != cur.rate) {
		if (!vd_graph_lookup_type(g, "src"))
			return vd_error_set(err, -ENOTSUP, &l->loc,
					    "cannot convert %u Hz from %s to the %u Hz %s needs: no sample-rate converter (src) is available",
					    cur.rate, from, want->rate, to);
		struct vd_prop p = { .key = "rate", .type = VD_PROP_NUMBER, .str = num[0], .num = want->rate, .unit = "", .loc = l->loc };
		snprintf(num[0], sizeof(num[0]), "%u", want->rate);
		r = splice(g, o, at, l, "src", &p, 1, &cur, &next, err);
		if (r < 0)
			return r;
		if (next.rate != want->rate)
			return vd_error_set(err, -EINVAL, &l->loc, "the src node did not produce %u Hz", want->rate);
		l = consumer->in[port];
		cur = next;
	}
	if (want->format != cur.format || want->channels != cur.channels) {
		struct vd_prop p[2];
		snprintf(num[1], sizeof(num[1]), "%u", want->channels);
		p[0] = (struct vd_prop){ .key = "format", .type = VD_PROP_IDENT, .str = vd_format_name(want->format), .loc = l->loc };
		p[1] = (struct vd_prop){ .key = "channels", .type = VD_PROP_NUMBER, .str = num[1], .num = want->channels, .unit = "", .loc = l->loc };
		if (!vd_graph_lookup_type(g, "convert"))
			return vd_error_set(err, -ENOTSUP, &l->loc, "cannot convert %s from %s to the %s %s needs: no convert node is available",
					    vd_audio_format_describe(&cur, fa, sizeof(fa)), from,
					    vd_audio_format_describe(want, fb, sizeof(fb)), to);
		r = splice(g, o, at, l, "convert", p, 2, &cur, &next, err);
		if (r < 0)
			return r;
		l = consumer->in[port];
		cur = next;
	}
	if (!fmt_matches(&cur, want))
		return vd_error_set(err, -EINVAL, &l->loc, "cannot convert %s from %s to the %s %s needs",
				    vd_audio_format_describe(&l->fmt, fa, sizeof(fa)), from,
				    vd_audio_format_describe(want, fb, sizeof(fb)), to);
	memcpy(l->fmt.position, want->position, sizeof(want->position));
	return 0;
}

static int negotiate_node(struct vd_graph *g, struct order *o, uint32_t *at, struct gnode *n,
			  struct vd_error *err)
{
	struct vd_audio_format in[n->n_in + 1], out[n->n_out + 1];
	struct vd_error local = { 0 };
	char fa[64];
	int r;

	memset(out, 0, sizeof(out));
	for (uint32_t p = 0; p < n->n_in; p++) {
		struct glink *l = n->in[p];
		in[p] = l->fmt;
		/* The pipeline rate rule: audio entering a pipeline from a source or
		 * from another pipeline runs at this pipeline's rate. */
		bool boundary = (l->from->ops->flags & VD_NODE_SOURCE) ||
				(l->from->pipeline && n->pipeline && strcmp(l->from->pipeline, n->pipeline) != 0);
		if (boundary && n->rate && in[p].rate != n->rate)
			in[p].rate = n->rate;
	}
	r = n->ops->negotiate(n->self, in, n->n_in, out, n->n_out, &local);
	if (r < 0)
		return node_error(n, err, &local, r, "negotiation");
	for (uint32_t p = 0; p < n->n_in; p++) {
		if (!fmt_valid(&in[p]))
			return vd_error_set(err, -EINVAL, &n->loc, "%s '%s' asked for an invalid input format",
					    n->ops->type, n->name);
		if (!fmt_matches(&in[p], &n->in[p]->fmt)) {
			r = conform(g, o, at, n->in[p], &in[p], err);
			if (r < 0)
				return r;
		}
	}
	for (uint32_t p = 0; p < n->n_out; p++) {
		if (!fmt_valid(&out[p]))
			return vd_error_set(err, -EINVAL, &n->loc, "%s '%s' produced an invalid output format (%s)",
					    n->ops->type, n->name, vd_audio_format_describe(&out[p], fa, sizeof(fa)));
		n->out[p]->fmt = out[p];
		n->out[p]->negotiated = true;
	}
	return 0;
}

static uint32_t link_capacity(const struct glink *l)
{
	/* Room for a few periods of the producer at this link's rate. */
	uint64_t period = l->from->period ? l->from->period : 1024;
	uint64_t base_rate = l->from->rate ? l->from->rate : l->fmt.rate;
	uint64_t frames = period * 4 * l->fmt.rate / (base_rate ? base_rate : 1) + 64;

	if (frames < 4096)
		frames = 4096;
	if (frames > (1u << 22))
		frames = 1u << 22;
	return (uint32_t)frames;
}

/* Steps 1-3: connectivity, order, negotiation with converter insertion. Touches nothing outside. */
int vd_graph_negotiate(struct vd_graph *g, struct vd_error *err)
{
	struct order o = { 0 };
	int r;

	r = check_connected(g, err);
	if (r < 0)
		return r;
	r = sort_nodes(g, true, err);
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		r = order_insert(&o, o.n, g->nodes[i]);
		if (r < 0) {
			r = vd_error_set(err, r, NULL, "out of memory");
			goto out;
		}
	}
	for (uint32_t at = 0; at < o.n; at++) {
		r = negotiate_node(g, &o, &at, o.v[at], err);
		if (r < 0)
			goto out;
	}
	/* o holds every node (inserted ones too) in processing order. */
	if (o.n != g->n_nodes) {
		r = vd_error_set(err, -EFAULT, NULL, "internal error: node count changed during negotiation");
		goto out;
	}
	memcpy(g->nodes, o.v, o.n * sizeof(*o.v));
	r = 0;
out:
	free(o.v);
	return r;
}

/* Step 4: link buffers and every node's prepare() (files are created, devices configured). */
static int allocate(struct vd_graph *g, struct vd_error *err)
{
	uint32_t max_cap = 0, max_ch = 1;
	int r;

	for (uint32_t i = 0; i < g->n_links; i++) {
		struct glink *l = g->links[i];
		free(l->buf);
		l->frame_size = vd_format_frame_size(&l->fmt);
		l->capacity = link_capacity(l);
		l->buf = calloc(l->capacity, l->frame_size);
		if (!l->buf) {
			r = vd_error_set(err, -ENOMEM, &l->loc, "out of memory for a link buffer");
			return r;
		}
		l->rd = l->wr = 0;
		l->eos = false;
		if (l->capacity > max_cap)
			max_cap = l->capacity;
		if (l->fmt.channels > max_ch)
			max_ch = l->fmt.channels;
	}
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		struct gnode *n = g->nodes[i];
		struct vd_audio_format in[n->n_in + 1], out[n->n_out + 1];
		struct vd_error local = { 0 };
		uint32_t mf = 0;

		for (uint32_t p = 0; p < n->n_in; p++) {
			in[p] = n->in[p]->fmt;
			if (n->in[p]->capacity > mf)
				mf = n->in[p]->capacity;
		}
		for (uint32_t p = 0; p < n->n_out; p++) {
			out[p] = n->out[p]->fmt;
			if (n->out[p]->capacity > mf)
				mf = n->out[p]->capacity;
		}
		n->finished = false;
		n->frames_in = 0;
		n->frames_out = 0;
		memset(n->peak, 0, sizeof(n->peak));
		if (n->ops->prepare) {
			r = n->ops->prepare(n->self, in, n->n_in, out, n->n_out, mf, &local);
			if (r < 0) {
				r = node_error(n, err, &local, r, "prepare");
				return r;
			}
		}
	}
	free(g->scratch);
	g->scratch_frames = max_cap;
	g->scratch = malloc((size_t)max_cap * max_ch * sizeof(float));
	if (!g->scratch) {
		r = vd_error_set(err, -ENOMEM, NULL, "out of memory");
		return r;
	}
	return 0;
}

int vd_graph_check(struct vd_graph *g, struct vd_error *err)
{
	int r;

	if (g->checked)
		return 0;
	r = vd_graph_negotiate(g, err);
	if (r < 0)
		return r;
	g->checked = true;
	return 0;
}

int vd_graph_prepare(struct vd_graph *g, struct vd_error *err)
{
	int r;

	if (g->prepared)
		return 0;
	r = vd_graph_check(g, err);
	if (r < 0)
		return r;
	r = allocate(g, err);
	if (r < 0)
		return r;
	g->prepared = true;
	return 0;
}
