/* topology/build.c - turns a loaded topology into graph nodes and links, reporting every error with its location. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <virtdsp/graph.h>

#include "lexer.h"
#include "priv.h"

/* What one build has reported: as many errors as the parser lists at most,
 * the last saying why the list ends there (a file of thousands of
 * unconnected nodes would otherwise print them all). */
struct reporter {
	struct vd_diag *diag;
	unsigned n;
};

static void report_one(struct reporter *rp, const struct vd_error *e)
{
	struct vd_error last;

	if (rp->n >= VD_TOPOLOGY_MAX_ERRORS)
		return;
	if (++rp->n == VD_TOPOLOGY_MAX_ERRORS) {
		last = *e;
		vd_topology_mark_last(&last);
		e = &last;
	}
	vd_topology_report(rp->diag, e);
}

/* Errors the graph reports without a location belong to @loc. */
static void report(struct reporter *rp, struct vd_error *err, const struct vd_location *loc)
{
	if (!err->loc.file && loc)
		err->loc = *loc;
	report_one(rp, err);
}

static void report_unconnected(void *data, const struct vd_error *e)
{
	report_one(data, e);
}

static int add_object(struct vd_topology *t, struct vd_graph *g, struct vd_topo_object *o,
		      struct reporter *rp)
{
	const struct vd_topo_pipeline *pl = &t->pipelines[o->pipeline];
	struct vd_graph_node_desc desc = {
		.name = o->name,
		.type = o->node_type,
		.props = &o->props.props,
		.pipeline = pl->name,
		.rate = pl->rate,
		.period = pl->period,
		.n_inputs = o->n_inputs,
		.n_outputs = o->n_outputs,
		.base_dir = t->base_dir,
		.loc = o->loc,
	};
	struct vd_error err;
	int r;

	/* A topology may be built more than once: every property is unused again. */
	for (uint32_t i = 0; i < o->props.props.n; i++)
		o->props.props.items[i].used = false;

	vd_error_clear(&err);
	r = vd_graph_add_node(g, &desc, &err);
	if (r < 0) {
		/* The first error wins: this one only shows if the graph said nothing. */
		vd_error_set(&err, r, &o->loc, "cannot add %s '%s': %s", o->node_type, o->name,
			     strerror(-r));
		report(rp, &err, &o->loc);
	}
	return r;
}

static int build(struct vd_topology *t, struct vd_graph *g, struct vd_diag *diag, bool prepare)
{
	struct reporter rp = { .diag = diag };
	struct vd_error err;
	bool *failed;
	int r, first = 0;

	if (!t || !g)
		return -EINVAL;
	failed = calloc(t->n_objects ? t->n_objects : 1, sizeof(*failed));
	if (!failed)
		return -ENOMEM;

	for (size_t i = 0; i < t->n_objects; i++) {
		r = add_object(t, g, &t->objects[i], &rp);
		if (r < 0) {
			failed[i] = true;
			if (!first)
				first = r;
		}
	}

	/* Links to a node that could not be added would only repeat its error. */
	for (size_t i = 0; i < t->n_links; i++) {
		const struct vd_topo_link *l = &t->links[i];

		if (failed[l->from.object] || failed[l->to.object])
			continue;
		vd_error_clear(&err);
		r = vd_graph_link(g, l->from.name, l->from.port, l->to.name, l->to.port,
				  &l->from.loc, &err);
		if (r < 0) {
			report(&rp, &err, &l->from.loc);
			if (!first)
				first = r;
		}
	}

	/* Every unconnected port, not only the first one prepare would stop at,
	 * and a cycle among the links there are, which prepare would find next. */
	if (!first && vd_graph_unconnected(g, report_unconnected, &rp)) {
		first = -EINVAL;
		vd_error_clear(&err);
		r = vd_graph_find_cycle(g, &err);
		if (r < 0)
			report(&rp, &err, NULL);
		if (r == -ENOMEM)
			first = r;
	}
	/* With pieces missing, prepare would only report their absence. */
	if (!first) {
		vd_error_clear(&err);
		r = prepare ? vd_graph_prepare(g, &err) : vd_graph_check(g, &err);
		if (r < 0) {
			report(&rp, &err, NULL);
			first = r;
		}
	}
	free(failed);
	return first == -ENOMEM ? -ENOMEM : first ? -EINVAL : 0;
}

int vd_topology_build(struct vd_topology *t, struct vd_graph *g, struct vd_diag *diag)
{
	return build(t, g, diag, true);
}

int vd_topology_check(struct vd_topology *t, struct vd_graph *g, struct vd_diag *diag)
{
	return build(t, g, diag, false);
}
