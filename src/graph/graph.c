/* graph/graph.c - graph construction: nodes, ports, links, parameters, introspection. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtdsp/attach.h>

#include "endpoint/endpoint.h"
#include "graph-impl.h"

#define PARAM_RING_BYTES 4096

int vd_graph_new(struct vd_graph **out)
{
	struct vd_graph *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->param_mem = malloc(PARAM_RING_BYTES);
	if (!g->param_mem) {
		free(g);
		return -ENOMEM;
	}
	vd_ring_init(&g->param_ring, g->param_mem, PARAM_RING_BYTES);
	g->collect_stats = true;
	*out = g;
	return 0;
}

static void free_node(struct gnode *n)
{
	if (n->self && n->ops->free)
		n->ops->free(n->self);
	for (uint32_t i = 0; i < n->n_params; i++)
		free(n->params[i].name);
	free(n->params);
	free(n->name);
	free(n->pipeline);
	free(n->in);
	free(n->out);
	free(n->inb);
	free(n->outb);
	free(n);
}

void vd_graph_free(struct vd_graph *g)
{
	if (!g)
		return;
	for (uint32_t i = 0; i < g->n_nodes; i++)
		free_node(g->nodes[i]);
	for (uint32_t i = 0; i < g->n_links; i++) {
		free(g->links[i]->buf);
		free(g->links[i]);
	}
	free(g->nodes);
	free(g->links);
	free(g->types);
	free(g->scratch);
	free(g->param_mem);
	free(g);
}

int vd_graph_register_type(struct vd_graph *g, const struct vd_node_ops *ops)
{
	const struct vd_node_ops **t;

	if (!ops || ops->version != VD_NODE_OPS_VERSION || !ops->type || !ops->init || !ops->process)
		return -EINVAL;
	t = realloc(g->types, (g->n_types + 1) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	g->types = t;
	g->types[g->n_types++] = ops;
	return 0;
}

const struct vd_node_ops *vd_graph_lookup_type(const struct vd_graph *g, const char *type)
{
	for (uint32_t i = g->n_types; i-- > 0;)
		if (strcmp(g->types[i]->type, type) == 0)
			return g->types[i];
	return vd_node_find_type(type);
}

struct gnode *vd_graph_find(const struct vd_graph *g, const char *name)
{
	for (uint32_t i = 0; i < g->n_nodes; i++)
		if (strcmp(g->nodes[i]->name, name) == 0)
			return g->nodes[i];
	return NULL;
}

static int grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	uint32_t ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	void *p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int load_params(struct gnode *n)
{
	struct vd_param_info info;
	uint32_t count = 0;

	if (!n->ops->enum_params)
		return 0;
	while (n->ops->enum_params(n->self, count, &info) == 0)
		count++;
	if (!count)
		return 0;
	n->params = calloc(count, sizeof(*n->params));
	if (!n->params)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		n->ops->enum_params(n->self, i, &info);
		n->params[i].name = strdup(info.name ? info.name : "");
		if (!n->params[i].name)
			return -ENOMEM;
		n->params[i].id = info.id;
		n->params[i].flags = info.flags;
		n->params[i].shadow = info.def;
		if (n->ops->get_param)
			n->ops->get_param(n->self, info.id, &n->params[i].shadow);
		n->n_params = i + 1;
	}
	return 0;
}

int vd_graph_create_node(struct vd_graph *g, const struct vd_graph_node_desc *d,
			 struct gnode **out, struct vd_error *err)
{
	const struct vd_node_ops *ops;
	struct gnode *n = NULL;
	struct vd_node_init init;
	int r;

	if (!d->name || !*d->name || !d->type)
		return vd_error_set(err, -EINVAL, &d->loc, "a node needs a name and a type");
	if (vd_graph_find(g, d->name))
		return vd_error_set(err, -EEXIST, &d->loc, "a node called '%s' already exists", d->name);
	ops = vd_graph_lookup_type(g, d->type);
	if (!ops)
		return vd_error_set(err, -ENOENT, &d->loc, "unknown node type '%s'", d->type);
	if (ops->version != VD_NODE_OPS_VERSION)
		return vd_error_set(err, -ENOTSUP, &d->loc, "node type '%s' has interface version %u, expected %u",
				    d->type, ops->version, VD_NODE_OPS_VERSION);
	r = grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(*g->nodes));
	if (r < 0)
		return vd_error_set(err, r, &d->loc, "out of memory");
	n = calloc(1, sizeof(*n));
	if (!n)
		return vd_error_set(err, -ENOMEM, &d->loc, "out of memory");
	n->ops = ops;
	n->loc = d->loc;
	n->rate = d->rate;
	n->period = d->period ? d->period : 1024;
	n->name = strdup(d->name);
	n->pipeline = d->pipeline ? strdup(d->pipeline) : NULL;
	if (!n->name || (d->pipeline && !n->pipeline)) {
		r = vd_error_set(err, -ENOMEM, &d->loc, "out of memory");
		goto fail;
	}
	init = (struct vd_node_init){
		.name = d->name, .props = d->props, .n_inputs = d->n_inputs, .n_outputs = d->n_outputs,
		.rate = d->rate, .period = n->period, .base_dir = d->base_dir,
		.flags = g->live ? VD_NODE_INIT_LIVE : 0,
	};
	r = ops->init(&init, &n->self, &n->n_in, &n->n_out, err);
	if (r < 0) {
		n->self = NULL;
		vd_error_set(err, r, &d->loc, "%s '%s': initialisation failed", d->type, d->name);
		goto fail;
	}
	r = vd_props_check_unused(d->props, d->type, err);
	if (r < 0)
		goto fail;
	if (((ops->flags & VD_NODE_SOURCE) && n->n_in) || ((ops->flags & VD_NODE_SINK) && n->n_out)) {
		r = vd_error_set(err, -EINVAL, &d->loc, "%s '%s' declares ports it cannot have", d->type, d->name);
		goto fail;
	}
	n->in = calloc(n->n_in + 1, sizeof(*n->in));
	n->out = calloc(n->n_out + 1, sizeof(*n->out));
	n->inb = calloc(n->n_in + 1, sizeof(*n->inb));
	n->outb = calloc(n->n_out + 1, sizeof(*n->outb));
	if (!n->in || !n->out || !n->inb || !n->outb || load_params(n) < 0) {
		r = vd_error_set(err, -ENOMEM, &d->loc, "out of memory");
		goto fail;
	}
	g->nodes[g->n_nodes++] = n;
	if (out)
		*out = n;
	return 0;
fail:
	free_node(n);
	return r;
}

int vd_graph_add_node(struct vd_graph *g, const struct vd_graph_node_desc *desc,
		      struct vd_error *err)
{
	if (g->checked)
		return vd_error_set(err, -EBUSY, &desc->loc, "the graph is already prepared");
	return vd_graph_create_node(g, desc, NULL, err);
}

int vd_graph_add_link(struct vd_graph *g, struct gnode *from, uint32_t from_port,
		      struct gnode *to, uint32_t to_port, const struct vd_location *loc,
		      struct glink **out)
{
	struct glink *l;

	if (grow((void **)&g->links, &g->cap_links, g->n_links + 1, sizeof(*g->links)) < 0)
		return -ENOMEM;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->from = from;
	l->to = to;
	l->from_port = from_port;
	l->to_port = to_port;
	if (loc)
		l->loc = *loc;
	from->out[from_port] = l;
	to->in[to_port] = l;
	g->links[g->n_links++] = l;
	if (out)
		*out = l;
	return 0;
}

/* Resolve a port name on @n: NULL picks the only or first unlinked port. */
static int resolve_port(struct gnode *n, const char *port, bool output, uint32_t *idx,
			const struct vd_location *loc, struct vd_error *err)
{
	uint32_t count = output ? n->n_out : n->n_in;
	struct glink **links = output ? n->out : n->in;
	const char *base = output ? "out" : "in";

	if (count == 0)
		return vd_error_set(err, -EINVAL, loc, "'%s' (%s) has no %s ports", n->name,
				    n->ops->type, output ? "output" : "input");
	if (!port) {
		for (uint32_t i = 0; i < count; i++) {
			if (!links[i]) {
				*idx = i;
				return 0;
			}
		}
		return vd_error_set(err, -EBUSY, loc, "every %s port of '%s' is already linked",
				    output ? "output" : "input", n->name);
	}
	size_t bl = strlen(base);
	const char *num = NULL;
	if (strcmp(port, base) == 0 && count == 1) {
		*idx = 0;
		goto check;
	}
	if (strncmp(port, base, bl) == 0)
		num = port + bl;
	else
		num = port;
	if (*num >= '0' && *num <= '9') {
		char *end;
		unsigned long v = strtoul(num, &end, 10);
		if (*end == '\0' && v < count) {
			*idx = (uint32_t)v;
			goto check;
		}
	}
	if (count == 1)
		return vd_error_set(err, -ENOENT, loc, "'%s' has no %s port '%s' (it has '%s')",
				    n->name, output ? "output" : "input", port, base);
	return vd_error_set(err, -ENOENT, loc, "'%s' has no %s port '%s' (it has %s0..%s%u)", n->name,
			    output ? "output" : "input", port, base, base, count - 1);
check:
	if (links[*idx])
		return vd_error_set(err, -EBUSY, loc, "%s port '%s' of '%s' is already linked",
				    output ? "output" : "input", port, n->name);
	return 0;
}

int vd_graph_link(struct vd_graph *g, const char *from, const char *from_port,
		  const char *to, const char *to_port, const struct vd_location *loc,
		  struct vd_error *err)
{
	struct gnode *a, *b;
	uint32_t pa, pb;
	int r;

	if (g->checked)
		return vd_error_set(err, -EBUSY, loc, "the graph is already prepared");
	a = vd_graph_find(g, from);
	if (!a)
		return vd_error_set(err, -ENOENT, loc, "link from unknown node '%s'", from);
	b = vd_graph_find(g, to);
	if (!b)
		return vd_error_set(err, -ENOENT, loc, "link to unknown node '%s'", to);
	if (a == b)
		return vd_error_set(err, -EINVAL, loc, "'%s' cannot be linked to itself", from);
	r = resolve_port(a, from_port, true, &pa, loc, err);
	if (r < 0)
		return r;
	r = resolve_port(b, to_port, false, &pb, loc, err);
	if (r < 0)
		return r;
	r = vd_graph_add_link(g, a, pa, b, pb, loc, NULL);
	if (r < 0)
		return vd_error_set(err, r, loc, "out of memory");
	return 0;
}

static struct gparam *find_param(struct gnode *n, const char *name)
{
	for (uint32_t i = 0; i < n->n_params; i++)
		if (strcmp(n->params[i].name, name) == 0)
			return &n->params[i];
	return NULL;
}

int vd_graph_set_param(struct vd_graph *g, const char *node, const char *param, double value)
{
	struct gnode *n = vd_graph_find(g, node);
	struct gparam *p;

	if (!n)
		return -ENOENT;
	p = find_param(n, param);
	if (!p || !n->ops->set_param)
		return -ENOENT;
	if (!(p->flags & VD_PARAM_WRITE))
		return -EPERM;
	if (atomic_load_explicit(&g->running, memory_order_acquire)) {
		struct param_msg m = { .id = p->id, .value = value };
		for (uint32_t i = 0; i < g->n_nodes; i++)
			if (g->nodes[i] == n)
				m.node = i;
		if (vd_ring_writable(&g->param_ring) < sizeof(m))
			return -EAGAIN;
		vd_ring_write(&g->param_ring, &m, sizeof(m));
		p->shadow = value;
		return 0;
	}
	int r = n->ops->set_param(n->self, p->id, value);
	if (r == 0 && n->ops->get_param)
		n->ops->get_param(n->self, p->id, &p->shadow);
	else if (r == 0)
		p->shadow = value;
	return r;
}

void vd_graph_apply_params(struct vd_graph *g)
{
	struct param_msg m;

	while (vd_ring_read(&g->param_ring, &m, sizeof(m)) == sizeof(m)) {
		if (m.node < g->n_nodes) {
			struct gnode *n = g->nodes[m.node];
			n->ops->set_param(n->self, m.id, m.value);
		}
	}
}

int vd_graph_get_param(struct vd_graph *g, const char *node, const char *param, double *value)
{
	struct gnode *n = vd_graph_find(g, node);
	struct gparam *p;

	if (!n)
		return -ENOENT;
	p = find_param(n, param);
	if (!p)
		return -ENOENT;
	/* Volatile values are read atomically by contract; others come from the
	 * shadow while running, so no reader races the processing thread. */
	if ((p->flags & VD_PARAM_VOLATILE) || !atomic_load(&g->running)) {
		if (!n->ops->get_param)
			return -ENOENT;
		return n->ops->get_param(n->self, p->id, value);
	}
	*value = p->shadow;
	return 0;
}

uint32_t vd_graph_sink_count(const struct vd_graph *g)
{
	uint32_t c = 0;

	for (uint32_t i = 0; i < g->n_nodes; i++)
		if (g->nodes[i]->n_out == 0)
			c++;
	return c;
}

int vd_graph_sink_stats(const struct vd_graph *g, uint32_t index, struct vd_sink_stats *s)
{
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		struct gnode *n = g->nodes[i];
		if (n->n_out != 0)
			continue;
		if (index-- != 0)
			continue;
		memset(s, 0, sizeof(*s));
		s->name = n->name;
		if (n->n_in && n->in[0])
			s->format = n->in[0]->fmt;
		s->frames = n->frames_in;
		memcpy(s->peak, n->peak, sizeof(s->peak));
		return 0;
	}
	return -ENOENT;
}

int vd_graph_describe(const struct vd_graph *g, char *buf, size_t size)
{
	size_t len = 0;
	char f[64];

	if (size)
		buf[0] = '\0';
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		struct gnode *n = g->nodes[i];
		int w = snprintf(buf + len, size > len ? size - len : 0, "%s (%s)%s\n", n->name,
				 n->ops->type, n->inserted ? " [inserted]" : "");
		if (w > 0)
			len += (size_t)w;
		for (uint32_t p = 0; p < n->n_out; p++) {
			struct glink *l = n->out[p];
			if (!l)
				continue;
			char a[16], b[16];
			if (n->n_out == 1)
				snprintf(a, sizeof(a), "out");
			else
				snprintf(a, sizeof(a), "out%u", p);
			if (l->to->n_in == 1)
				snprintf(b, sizeof(b), "in");
			else
				snprintf(b, sizeof(b), "in%u", l->to_port);
			w = snprintf(buf + len, size > len ? size - len : 0, "  %s -> %s:%s  %s\n", a,
				     l->to->name, b, vd_audio_format_describe(&l->fmt, f, sizeof(f)));
			if (w > 0)
				len += (size_t)w;
		}
	}
	return len < size ? 0 : -ENOSPC;
}

void vd_graph_set_live(struct vd_graph *g, bool live)
{
	g->live = live;
}

int vd_graph_attach(struct vd_graph *g, const char *name, struct vd_attach **out)
{
	struct gnode *n = vd_graph_find(g, name);
	struct vd_attach *a;

	if (!n || !g->prepared)
		return -ENOENT;
	a = vd_endpoint_attach_bus(n->ops, n->self);
	if (!a)
		return -ENOENT;
	vd_attach_bus_bind(a, &g->running);
	*out = a;
	return 0;
}
