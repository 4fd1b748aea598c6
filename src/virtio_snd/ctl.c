/* virtio_snd/ctl.c - control elements (VIRTIO_SND_F_CTLS): the `control.*`
 * declarations on a guest topology's nodes, the values the device keeps for
 * them, the CTL_* requests, and host-side changes sent as CTL_NOTIFY.
 *
 * A control element drives one writable parameter of one or more nodes of
 * the guest's pipelines. Its value lives in the device (in the parameter's
 * own units) because pipelines exist only between PREPARE and RELEASE: every
 * build applies the current values, and a change reaches the pipelines that
 * exist now through vd_graph_set_param(), which queues it to the host's
 * processing thread (guest graphs are marked running while built, see
 * vd_snd_topo_build).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph-impl.h"
#include "topology/priv.h"
#include "virtio_snd/snd-impl.h"

#define CTL_PREFIX	"control."
#define MAX_STEPS	1000000		/* guest integer range of a FLOAT parameter */

/* ALSA TLV types (sound/tlv.h), written as le32 words */
#define TLV_DB_SCALE	1
#define TLV_DB_MINMAX	4

static void report(struct vd_diag *diag, const struct vd_location *loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report(struct vd_diag *diag, const struct vd_location *loc, const char *fmt, ...)
{
	struct vd_error e;
	va_list ap;

	vd_error_clear(&e);
	va_start(ap, fmt);
	vd_error_vset(&e, -EINVAL, loc, fmt, ap);
	va_end(ap);
	if (diag) {
		diag->count++;
		if (diag->report)
			diag->report(diag->data, &e);
	}
}

bool vd_snd_ctl_is_decl(const char *key)
{
	return !strncmp(key, CTL_PREFIX, sizeof(CTL_PREFIX) - 1);
}

/* ---- declarations ---- */

/* One parameter's declaration gathered from a node's control.* properties. */
struct decl {
	char param[128];
	const struct vd_prop *name;
	bool invert, read_only;
	struct vd_location loc;
};

static bool ends_with(const char *s, size_t len, const char *suffix, size_t *stem)
{
	size_t n = strlen(suffix);

	if (len <= n || memcmp(s + len - n, suffix, n))
		return false;
	*stem = len - n;
	return true;
}

static int bool_prop(const struct vd_prop *p, bool *out, struct vd_diag *diag)
{
	if (p->type == VD_PROP_IDENT && !strcmp(p->str, "true"))
		*out = true;
	else if (p->type == VD_PROP_IDENT && !strcmp(p->str, "false"))
		*out = false;
	else {
		report(diag, &p->loc, "'%s' must be true or false", p->key);
		return -EINVAL;
	}
	return 0;
}

/* Split the node's control.* properties into per-parameter declarations. */
static int gather(const struct vd_props *props, struct decl *d, unsigned *n, struct vd_diag *diag)
{
	int ret = 0;

	*n = 0;
	for (uint32_t i = 0; i < props->n; i++) {
		const struct vd_prop *p = &props->items[i];
		const char *rest;
		size_t len, stem;
		enum { F_NAME, F_INVERT, F_READ_ONLY } field = F_NAME;
		unsigned k;

		/* Only past the prefix check is the key known to be long enough to skip it. */
		if (!vd_snd_ctl_is_decl(p->key))
			continue;
		rest = p->key + sizeof(CTL_PREFIX) - 1;
		len = strlen(rest);
		stem = len;
		if (ends_with(rest, len, ".name", &stem))
			field = F_NAME;
		else if (ends_with(rest, len, ".invert", &stem))
			field = F_INVERT;
		else if (ends_with(rest, len, ".read_only", &stem))
			field = F_READ_ONLY;
		else if (p->type != VD_PROP_STRING) {
			report(diag, &p->loc, "'%s': a control is declared as control.PARAM = \"Name\" "
			       "or control.PARAM = { name = \"Name\", invert = BOOL, read_only = BOOL }", p->key);
			ret = -EINVAL;
			continue;
		}
		if (stem == 0 || stem >= sizeof(d[0].param)) {
			report(diag, &p->loc, "'%s': no parameter name", p->key);
			ret = -EINVAL;
			continue;
		}
		for (k = 0; k < *n; k++)
			if (strlen(d[k].param) == stem && !memcmp(d[k].param, rest, stem))
				break;
		if (k == *n) {
			if (*n == SND_MAX_CTLS) {
				report(diag, &p->loc, "more than %u control elements", SND_MAX_CTLS);
				return -EINVAL;
			}
			memset(&d[k], 0, sizeof(d[k]));
			memcpy(d[k].param, rest, stem);
			d[k].loc = p->loc;
			(*n)++;
		}
		switch (field) {
		case F_NAME:
			if (p->type != VD_PROP_STRING || !p->str[0] || strlen(p->str) >= SND_CTL_NAME_MAX) {
				report(diag, &p->loc, "'%s': the control's name must be a string of 1 to %d bytes",
				       p->key, SND_CTL_NAME_MAX - 1);
				ret = -EINVAL;
			}
			d[k].name = p;
			break;
		case F_INVERT:
			if (bool_prop(p, &d[k].invert, diag) < 0)
				ret = -EINVAL;
			break;
		case F_READ_ONLY:
			if (bool_prop(p, &d[k].read_only, diag) < 0)
				ret = -EINVAL;
			break;
		}
	}
	for (unsigned k = 0; k < *n; k++)
		if (!d[k].name) {
			report(diag, &d[k].loc, "the control for parameter '%s' has no name", d[k].param);
			ret = -EINVAL;
		}
	return ret;
}

/* The guest's view of parameter @pi: type, integer range, TLV. */
static int shape(struct snd_ctl *c, const struct vd_param_info *pi, const struct decl *d,
		 const char *node, struct vd_diag *diag)
{
	c->ptype = pi->type;
	c->unit = pi->unit;
	c->min = pi->min;
	c->max = pi->max;
	c->invert = d->invert;
	c->read_only = d->read_only;
	if (d->invert && pi->type != VD_PARAM_BOOL) {
		report(diag, &d->loc, "control '%s': 'invert' needs a boolean parameter; '%s' of '%s' is not one",
		       c->name, d->param, node);
		return -EINVAL;
	}
	switch (pi->type) {
	case VD_PARAM_BOOL:
		c->type = SND_CTL_TYPE_BOOLEAN;
		c->gmin = 0;
		c->gmax = 1;
		c->step = 1;
		break;
	case VD_PARAM_INT:
		c->type = SND_CTL_TYPE_INTEGER;
		c->step = pi->step >= 1 ? floor(pi->step) : 1;
		if (!(pi->min >= INT32_MIN && pi->max <= INT32_MAX)) {
			report(diag, &d->loc, "control '%s': the range of '%s' does not fit 32 bits", c->name, d->param);
			return -EINVAL;
		}
		c->gmin = (int32_t)ceil(pi->min);
		c->gmax = (int32_t)floor(pi->max);
		break;
	case VD_PARAM_FLOAT: {
		double steps;

		c->type = SND_CTL_TYPE_INTEGER;
		c->step = pi->step > 0 ? pi->step : (pi->max - pi->min) / 1000;
		steps = c->step > 0 ? floor((pi->max - pi->min) / c->step + 1e-9) : 0;
		if (!(steps >= 1 && steps <= MAX_STEPS)) {
			report(diag, &d->loc, "control '%s': '%s' from %g to %g in steps of %g cannot be a control "
			       "(1 to %d steps)", c->name, d->param, pi->min, pi->max, c->step, MAX_STEPS);
			return -EINVAL;
		}
		c->gmin = 0;
		c->gmax = (int32_t)steps;
		c->db = pi->unit == VD_UNIT_DB;
		break;
	}
	case VD_PARAM_ENUM:
		c->type = SND_CTL_TYPE_ENUMERATED;
		if (!pi->n_items || !pi->items) {
			report(diag, &d->loc, "control '%s': '%s' has no items", c->name, d->param);
			return -EINVAL;
		}
		c->items = calloc(pi->n_items, sizeof(*c->items));
		if (!c->items)
			return -ENOMEM;
		for (uint32_t i = 0; i < pi->n_items; i++)
			snprintf(c->items[i], sizeof(c->items[i]), "%s", pi->items[i] ? pi->items[i] : "");
		c->n_items = pi->n_items;
		c->gmin = 0;
		c->gmax = (int32_t)pi->n_items - 1;
		c->step = 1;
		break;
	default:
		report(diag, &d->loc, "control '%s': '%s' has a type controls cannot show", c->name, d->param);
		return -EINVAL;
	}
	return 0;
}

static bool same_shape(const struct snd_ctl *a, const struct snd_ctl *b)
{
	if (a->ptype != b->ptype || a->unit != b->unit || a->min != b->min || a->max != b->max ||
	    a->step != b->step || a->invert != b->invert || a->read_only != b->read_only ||
	    a->n_items != b->n_items)
		return false;
	for (uint32_t i = 0; i < a->n_items; i++)
		if (strcmp(a->items[i], b->items[i]))
			return false;
	return true;
}

static int add_target(struct snd_topo *st, unsigned stream, const struct vd_topo_object *o,
		      struct gnode *n, const struct decl *d, struct vd_diag *diag)
{
	struct vd_param_info pi;
	struct snd_ctl c = { 0 }, *found = NULL;
	struct snd_ctl_target *t;
	bool have = false;
	int r;

	for (uint32_t i = 0; n->ops->enum_params && n->ops->enum_params(n->self, i, &pi) == 0; i++)
		if (pi.name && !strcmp(pi.name, d->param)) {
			have = true;
			break;
		}
	if (!have) {
		report(diag, &d->loc, "control '%s': %s '%s' has no parameter '%s'", d->name->str, o->node_type,
		       o->name, d->param);
		return -EINVAL;
	}
	if (!(pi.flags & VD_PARAM_WRITE) || !n->ops->set_param) {
		report(diag, &d->loc, "control '%s': parameter '%s' of %s '%s' is read-only", d->name->str,
		       d->param, o->node_type, o->name);
		return -EINVAL;
	}
	snprintf(c.name, sizeof(c.name), "%s", d->name->str);
	c.loc = d->loc;
	r = shape(&c, &pi, d, o->name, diag);
	if (r < 0)
		goto out;
	c.value = pi.def;
	if (n->ops->get_param)
		n->ops->get_param(n->self, pi.id, &c.value);
	if (c.invert)
		c.value = c.value == 0;

	for (unsigned i = 0; i < st->n_ctls; i++)
		if (!strcmp(st->ctls[i].name, c.name))
			found = &st->ctls[i];
	if (found) {
		/* One name, several nodes: one element that drives them all alike. */
		if (!same_shape(found, &c)) {
			report(diag, &d->loc, "control '%s' is already declared at %s:%u:%u for a parameter "
			       "of another type or range", c.name, found->loc.file ? found->loc.file : "?",
			       found->loc.line, found->loc.column);
			r = -EINVAL;
			goto out;
		}
		if (found->n_targets == SND_CTL_TARGETS) {
			report(diag, &d->loc, "control '%s' drives more than %d parameters", c.name, SND_CTL_TARGETS);
			r = -EINVAL;
			goto out;
		}
		free(c.items);
		c.items = NULL;
	} else {
		if (st->n_ctls == SND_MAX_CTLS) {
			report(diag, &d->loc, "more than %u control elements", SND_MAX_CTLS);
			r = -EINVAL;
			goto out;
		}
		if (!st->ctls && !(st->ctls = calloc(SND_MAX_CTLS, sizeof(*st->ctls)))) {
			r = -ENOMEM;
			goto out;
		}
		found = &st->ctls[st->n_ctls++];
		*found = c;
		c.items = NULL;
	}
	t = &found->targets[found->n_targets];
	t->stream = stream;
	t->node = o->name;
	t->param = strdup(d->param);
	if (!t->param)
		return -ENOMEM;
	found->n_targets++;
	return 0;
out:
	free(c.items);
	return r;
}

int vd_snd_ctl_scan(struct snd_topo *st, unsigned stream, struct vd_graph *g, struct vd_diag *diag)
{
	const struct snd_stream_info *info = &st->streams[stream];
	struct decl *d = calloc(SND_MAX_CTLS, sizeof(*d));
	int ret = 0;

	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < st->t->n_objects; i++) {
		const struct vd_topo_object *o = &st->t->objects[i];
		struct gnode *n;
		unsigned nd;
		int r;

		if (!info->member[i])
			continue;
		r = gather(&o->props.props, d, &nd, diag);
		if (r < 0) {
			ret = r;
			continue;
		}
		n = vd_graph_find(g, o->name);
		for (unsigned k = 0; n && k < nd; k++) {
			r = add_target(st, stream, o, n, &d[k], diag);
			if (r < 0 && (ret == 0 || r == -ENOMEM))
				ret = r;
		}
	}
	free(d);
	return ret;
}

void vd_snd_ctl_free(struct snd_topo *st)
{
	for (unsigned i = 0; i < st->n_ctls; i++) {
		for (unsigned k = 0; k < st->ctls[i].n_targets; k++)
			free(st->ctls[i].targets[k].param);
		free(st->ctls[i].items);
	}
	free(st->ctls);
	st->ctls = NULL;
	st->n_ctls = 0;
}

/* ---- values ---- */

static double param_value(const struct snd_ctl *c)
{
	return c->invert ? (c->value != 0 ? 0.0 : 1.0) : c->value;
}

/* Guest integer <-> the control's value (inversion is applied at the node). */
static int32_t to_guest(const struct snd_ctl *c)
{
	double g;

	switch (c->ptype) {
	case VD_PARAM_FLOAT:
		g = round((c->value - c->min) / c->step);
		break;
	default:
		g = round(c->value);
		break;
	}
	if (g < c->gmin)
		g = c->gmin;
	if (g > c->gmax)
		g = c->gmax;
	return (int32_t)g;
}

static double from_guest(const struct snd_ctl *c, int32_t g)
{
	double v;

	if (c->ptype != VD_PARAM_FLOAT)
		return g;
	v = c->min + g * c->step;
	return v > c->max ? c->max : v;
}

int vd_snd_ctl_apply(struct snd_topo *st, unsigned stream, struct vd_graph *g, struct vd_error *err)
{
	for (unsigned i = 0; i < st->n_ctls; i++) {
		const struct snd_ctl *c = &st->ctls[i];

		for (unsigned k = 0; k < c->n_targets; k++) {
			const struct snd_ctl_target *t = &c->targets[k];
			int r;

			if (t->stream != stream)
				continue;
			r = vd_graph_set_param(g, t->node, t->param, param_value(c));
			if (r < 0)
				return vd_error_set(err, r, &c->loc, "control '%s': cannot set '%s' of '%s' to %g",
						    c->name, t->param, t->node, param_value(c));
		}
	}
	return 0;
}

/* Store @v and send it to the pipelines that exist now. Returns 0 or -errno. */
static int set_value(struct vd_snd_dev *dev, struct snd_ctl *c, double v)
{
	int ret = 0;

	c->value = v;
	for (unsigned k = 0; k < c->n_targets; k++) {
		const struct snd_ctl_target *t = &c->targets[k];
		struct snd_stream *s = &dev->streams[t->stream];
		int r;

		if (!s->graph)
			continue;	/* applied when the stream is next prepared */
		r = vd_graph_set_param(s->graph, t->node, t->param, param_value(c));
		if (r < 0) {
			/* -EAGAIN: nobody has cycled the graph for a long time. The
			 * value stays here and is applied at the next PREPARE. */
			vd_snd_log(dev, "control '%s': '%s' of '%s' in stream %u not updated: %s", c->name,
				   t->param, t->node, t->stream, strerror(-r));
			ret = r;
		}
	}
	return ret;
}

static bool in_range(const struct snd_ctl *c, double v)
{
	if (!(v >= c->min && v <= c->max))
		return false;
	if (c->ptype == VD_PARAM_ENUM || c->ptype == VD_PARAM_INT || c->ptype == VD_PARAM_BOOL)
		return v == floor(v);
	return true;
}

/* ---- requests ---- */

static void put(const struct vd_vhost_elem *e, size_t off, const void *buf, size_t len)
{
	vd_vhost_iov_from_buf(e->in, e->in_num, VIRTIO_SND_HDR_SIZE + off, buf, len);
}

static void fill_info(const struct snd_ctl *c, uint8_t *item, uint32_t size)
{
	/* The union follows the name at its 8-byte alignment where the guest's
	 * struct has it (LP64: 96 bytes), right after it where it is packed. */
	uint8_t *u = item + (size >= 96 ? 72 : 68);
	uint32_t access = 1u << SND_CTL_ACCESS_READ;

	if (!c->read_only)
		access |= 1u << SND_CTL_ACCESS_WRITE;
	if (c->db)
		access |= 1u << SND_CTL_ACCESS_TLV_READ;
	/* role stays 0 (undefined): Linux ignores it, and nothing here is a
	 * plain per-direction volume/mute/gain it would describe reliably. */
	vsnd_put32(item + 8, c->type);
	vsnd_put32(item + 12, access);
	vsnd_put32(item + 16, 1);		/* count: one value for all channels */
	vsnd_put32(item + 20, 0);		/* index: names are unique */
	memcpy(item + 24, c->name, strlen(c->name));
	switch (c->type) {
	case SND_CTL_TYPE_INTEGER:
		vsnd_put32(u, (uint32_t)c->gmin);
		vsnd_put32(u + 4, (uint32_t)c->gmax);
		vsnd_put32(u + 8, 1);
		break;
	case SND_CTL_TYPE_ENUMERATED:
		vsnd_put32(u, c->n_items);
		break;
	}
}

static uint32_t ctl_info(struct vd_snd_dev *dev, const struct vd_vhost_elem *e, const uint8_t *req,
			 size_t len, uint32_t *reply)
{
	uint32_t start, count, size;
	uint8_t item[128];

	if (len < VIRTIO_SND_QUERY_INFO_SIZE)
		return VIRTIO_SND_S_BAD_MSG;
	start = vsnd_le32(req + 4);
	count = vsnd_le32(req + 8);
	size = vsnd_le32(req + 12);
	if ((uint64_t)start + count > dev->topo.n_ctls || size < SND_CTL_INFO_MIN || size > 4096 ||
	    (uint64_t)count * size > e->in_len - VIRTIO_SND_HDR_SIZE)
		return VIRTIO_SND_S_BAD_MSG;
	for (uint32_t i = 0; i < count; i++) {
		size_t off = (size_t)i * size;

		memset(item, 0, sizeof(item));
		fill_info(&dev->topo.ctls[start + i], item, size);
		put(e, off, item, size < sizeof(item) ? size : sizeof(item));
		for (size_t pad = sizeof(item); pad < size; pad += sizeof(item)) {
			memset(item, 0, sizeof(item));
			put(e, off + pad, item, size - pad < sizeof(item) ? size - pad : sizeof(item));
		}
	}
	*reply = count * size;
	return VIRTIO_SND_S_OK;
}

static uint32_t tlv_read(const struct snd_ctl *c, const struct vd_vhost_elem *e, uint32_t *reply)
{
	uint8_t tlv[16];
	uint32_t room = e->in_len - VIRTIO_SND_HDR_SIZE, n;
	double step = round(c->step * 100);

	if (!c->db)
		return VIRTIO_SND_S_NOT_SUPP;
	/* dB in hundredths at guest integer 0, and per step when that is exact. */
	vsnd_put32(tlv + 4, 8);
	vsnd_put32(tlv + 8, (uint32_t)(int32_t)lround(c->min * 100));
	if (fabs(c->step * 100 - step) < 1e-6 && step >= 1 && step <= 0xffff) {
		vsnd_put32(tlv, TLV_DB_SCALE);
		vsnd_put32(tlv + 12, (uint32_t)step);	/* no mute bit: the minimum is not silence */
	} else {
		vsnd_put32(tlv, TLV_DB_MINMAX);
		vsnd_put32(tlv + 12, (uint32_t)(int32_t)lround(from_guest(c, c->gmax) * 100));
	}
	n = room < sizeof(tlv) ? room : sizeof(tlv);
	put(e, 0, tlv, n);
	*reply = n;
	return VIRTIO_SND_S_OK;
}

uint32_t vd_snd_ctl_handle(struct vd_snd_dev *dev, const struct vd_vhost_elem *e, uint32_t code,
			   const uint8_t *req, size_t len, uint32_t *reply)
{
	uint8_t buf[SND_CTL_ITEM_MAX];
	struct snd_ctl *c;
	uint32_t id;

	if (!dev->opts.controls)
		return VIRTIO_SND_S_NOT_SUPP;	/* F_CTLS not offered */
	if (code == VIRTIO_SND_R_CTL_INFO)
		return ctl_info(dev, e, req, len, reply);
	if (len < SND_CTL_HDR_SIZE)
		return VIRTIO_SND_S_BAD_MSG;
	id = vsnd_le32(req + 4);
	if (id >= dev->topo.n_ctls) {
		vd_snd_log(dev, "control request 0x%x: no control element %u", code, id);
		return VIRTIO_SND_S_BAD_MSG;
	}
	c = &dev->topo.ctls[id];
	switch (code) {
	case VIRTIO_SND_R_CTL_ENUM_ITEMS:
		if (c->type != SND_CTL_TYPE_ENUMERATED ||
		    (uint64_t)c->n_items * SND_CTL_ITEM_MAX > e->in_len - VIRTIO_SND_HDR_SIZE)
			return VIRTIO_SND_S_BAD_MSG;
		for (uint32_t i = 0; i < c->n_items; i++)
			put(e, (size_t)i * SND_CTL_ITEM_MAX, c->items[i], SND_CTL_ITEM_MAX);
		*reply = c->n_items * SND_CTL_ITEM_MAX;
		return VIRTIO_SND_S_OK;
	case VIRTIO_SND_R_CTL_READ: {
		uint32_t room = e->in_len - VIRTIO_SND_HDR_SIZE;

		if (room < 4)
			return VIRTIO_SND_S_BAD_MSG;
		if (room > SND_CTL_VALUE_SIZE)
			room = SND_CTL_VALUE_SIZE;
		memset(buf, 0, sizeof(buf));
		vsnd_put32(buf, (uint32_t)to_guest(c));
		for (uint32_t off = 0; off < room; off += sizeof(buf)) {
			put(e, off, buf, room - off < sizeof(buf) ? room - off : sizeof(buf));
			memset(buf, 0, 4);
		}
		*reply = room;
		return VIRTIO_SND_S_OK;
	}
	case VIRTIO_SND_R_CTL_WRITE: {
		double before;
		int32_t g;
		int r;

		if (c->read_only) {
			vd_snd_log(dev, "CTL_WRITE '%s': the control is read-only", c->name);
			return VIRTIO_SND_S_NOT_SUPP;
		}
		if (vd_vhost_iov_to_buf(e->out, e->out_num, SND_CTL_HDR_SIZE, buf, 4) != 4)
			return VIRTIO_SND_S_BAD_MSG;
		g = (int32_t)vsnd_le32(buf);
		if (g < c->gmin || g > c->gmax) {
			vd_snd_log(dev, "CTL_WRITE '%s': %d outside %d..%d", c->name, g, c->gmin, c->gmax);
			return VIRTIO_SND_S_BAD_MSG;
		}
		before = c->value;
		r = set_value(dev, c, from_guest(c, g));
		if (c->value != before && dev->opts.control_changed)
			dev->opts.control_changed(dev->opts.control_data, (unsigned)(c - dev->topo.ctls),
						  c->value, true);
		return r < 0 ? VIRTIO_SND_S_IO_ERR : VIRTIO_SND_S_OK;
	}
	case VIRTIO_SND_R_CTL_TLV_READ:
		return tlv_read(c, e, reply);
	default:	/* TLV_WRITE, TLV_COMMAND: no element offers them */
		return VIRTIO_SND_S_NOT_SUPP;
	}
}

/* ---- the daemon's interface ---- */

unsigned vd_snd_dev_control_count(const struct vd_snd_dev *dev)
{
	return dev->topo.n_ctls;
}

int vd_snd_dev_control_find(const struct vd_snd_dev *dev, const char *name)
{
	for (unsigned i = 0; i < dev->topo.n_ctls; i++)
		if (!strcmp(dev->topo.ctls[i].name, name))
			return (int)i;
	return -ENOENT;
}

int vd_snd_dev_control_info(const struct vd_snd_dev *dev, unsigned id, struct vd_snd_control_info *info)
{
	const struct snd_ctl *c;

	if (id >= dev->topo.n_ctls)
		return -ENOENT;
	c = &dev->topo.ctls[id];
	*info = (struct vd_snd_control_info){
		.name = c->name, .type = c->ptype, .unit = c->unit,
		.min = c->min, .max = c->max, .step = c->step,
		.read_only = c->read_only, .db = c->db,
		.n_items = c->n_items, .n_targets = c->n_targets,
	};
	return 0;
}

const char *vd_snd_dev_control_item(const struct vd_snd_dev *dev, unsigned id, unsigned item)
{
	if (id >= dev->topo.n_ctls || item >= dev->topo.ctls[id].n_items)
		return NULL;
	return dev->topo.ctls[id].items[item];
}

int vd_snd_dev_get_control(const struct vd_snd_dev *dev, unsigned id, double *value)
{
	if (id >= dev->topo.n_ctls)
		return -ENOENT;
	*value = dev->topo.ctls[id].value;
	return 0;
}

int vd_snd_dev_set_control(struct vd_snd_dev *dev, unsigned id, double value)
{
	struct snd_ctl *c;
	int32_t before;
	double old;
	int r;

	if (id >= dev->topo.n_ctls)
		return -ENOENT;
	c = &dev->topo.ctls[id];
	if (!in_range(c, value))
		return -ERANGE;
	before = to_guest(c);
	old = c->value;
	r = set_value(dev, c, value);
	if (c->value != old && dev->opts.control_changed)
		dev->opts.control_changed(dev->opts.control_data, id, c->value, false);
	/* The guest hears of changes it can see (a step of its integer). */
	if (dev->opts.controls && to_guest(c) != before)
		vd_snd_event(dev, VIRTIO_SND_EVT_CTL_NOTIFY, id | (1u << SND_CTL_EVT_MASK_VALUE) << 16);
	return r;
}
