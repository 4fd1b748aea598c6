/* virtio_snd/topo.c - guest topologies: loading one, finding its streams
 * (each stream's pipeline is the connected part of the topology around its
 * stream node, with exactly one attach node), checking it against the host
 * graph's attach points, and building one stream's pipeline into a graph
 * with the stream nodes bound to the device.
 *
 * The builder walks the loaded topology itself (topology/priv.h) rather than
 * calling vd_topology_build(): it builds one stream's part at a time, and it
 * must bind each stream node to its stream between init and negotiation,
 * which needs the node instances (graph/graph-impl.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph-impl.h"
#include "topology/priv.h"
#include "virtio_snd/snd-impl.h"

static const char default_topology[] =
	"# virtdsp's built-in guest topology: what a guest sees when no guest\n"
	"# topology is given. One playback and one capture stream (stream 0 and 1,\n"
	"# in declaration order), wired to the host topology's attach points\n"
	"# \"playback\" and \"capture\"; the graph converts format, channels and rate.\n"
	"# Each direction has a volume the guest sees as ALSA mixer controls (with\n"
	"# controls offered) and the host sets with `virtdsp ctl`; at 0 dB and\n"
	"# unmuted it passes the audio through unchanged.\n"
	"pipeline out {\n"
	"    source pcm_out stream {\n"
	"        direction = playback\n"
	"        formats = [s16, s24, s32, f32]\n"
	"        rate_min = 8000; rate_max = 192000\n"
	"        channels_min = 1; channels_max = 8\n"
	"    }\n"
	"    node out_volume volume {\n"
	"        control.gain = \"PCM Playback Volume\"\n"
	"        control.mute = { name = \"PCM Playback Switch\", invert = true }\n"
	"    }\n"
	"    sink host_out attach { point = \"playback\"; jack = line-out }\n"
	"    link pcm_out -> out_volume -> host_out\n"
	"}\n"
	"\n"
	"pipeline in {\n"
	"    source host_in attach { point = \"capture\"; jack = line-in }\n"
	"    node in_volume volume {\n"
	"        control.gain = \"Capture Volume\"\n"
	"        control.mute = { name = \"Capture Switch\", invert = true }\n"
	"    }\n"
	"    sink pcm_in stream {\n"
	"        direction = capture\n"
	"        formats = [s16, s24, s32, f32]\n"
	"        rate_min = 8000; rate_max = 192000\n"
	"        channels_min = 1; channels_max = 8\n"
	"    }\n"
	"    link host_in -> in_volume -> pcm_in\n"
	"}\n";

const char *vd_snd_default_topology(void)
{
	return default_topology;
}

enum role { R_OTHER, R_STREAM, R_ATTACH };

static enum role role_of(const struct vd_topo_object *o, bool *sink)
{
	*sink = o->kind == VD_TOPO_SINK;
	if (!strcmp(o->node_type, "stream-source") || !strcmp(o->node_type, "stream-sink"))
		return R_STREAM;
	if (!strcmp(o->node_type, "attach-sink") || !strcmp(o->node_type, "attach-source"))
		return R_ATTACH;
	return R_OTHER;
}

static void report(struct vd_diag *diag, int code, const struct vd_location *loc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void report(struct vd_diag *diag, int code, const struct vd_location *loc, const char *fmt, ...)
{
	struct vd_error e;
	va_list ap;

	vd_error_clear(&e);
	va_start(ap, fmt);
	vd_error_vset(&e, code, loc, fmt, ap);
	va_end(ap);
	if (diag) {
		diag->count++;
		if (diag->report)
			diag->report(diag->data, &e);
	}
}

static size_t find_root(size_t *parent, size_t i)
{
	while (parent[i] != i) {
		parent[i] = parent[parent[i]];
		i = parent[i];
	}
	return i;
}

static int register_types(struct vd_graph *g)
{
	int r;

	if ((r = vd_graph_register_type(g, &vd_snd_node_stream_source)) < 0 ||
	    (r = vd_graph_register_type(g, &vd_snd_node_stream_sink)) < 0 ||
	    (r = vd_graph_register_type(g, &vd_snd_node_attach_sink)) < 0 ||
	    (r = vd_graph_register_type(g, &vd_snd_node_attach_source)) < 0)
		return r;
	return 0;
}

/* A format for checking a stream's pipeline before the guest has chosen one. */
static void probe_format(const struct snd_stream_info *info, struct vd_audio_format *f)
{
	enum vd_sample_format fmt = VD_FORMAT_S16;
	uint32_t rate = 48000;

	for (uint8_t b = 0; b < VIRTIO_SND_PCM_FMT_COUNT; b++)
		if (info->formats >> b & 1 && vd_snd_format_to_vd(b, &fmt) == 0)
			break;
	if (!(info->rates >> VIRTIO_SND_PCM_RATE_48000 & 1))
		for (uint8_t b = 0; b <= VIRTIO_SND_PCM_RATE_192000; b++)
			if (info->rates >> b & 1)
				rate = vd_snd_rate_hz(b);
	vd_audio_format_init(f, fmt, rate, info->ch_max);
	if (info->n_positions == info->ch_max)
		memcpy(f->position, info->positions, info->n_positions);
}

int vd_snd_topo_build(struct snd_topo *st, unsigned stream, struct vd_graph *g,
		      struct snd_stream *s, const struct vd_audio_format *fmt,
		      const struct vd_audio_format *host_fmt, uint32_t period, uint32_t host_period,
		      bool probe, struct vd_error *err)
{
	struct vd_topology *t = st->t;
	const struct snd_stream_info *info = &st->streams[stream];
	struct gnode *stream_node = NULL, *attach_node = NULL;
	int r;

	if ((r = register_types(g)) < 0)
		return vd_error_set(err, r, NULL, "out of memory");
	for (size_t i = 0; i < t->n_objects; i++) {
		struct vd_topo_object *o = &t->objects[i];
		const struct vd_topo_pipeline *pl = &t->pipelines[o->pipeline];
		struct vd_graph_node_desc desc = {
			.name = o->name, .type = o->node_type, .props = &o->props.props,
			.pipeline = pl->name, .rate = pl->rate, .period = pl->period,
			.n_inputs = o->n_inputs, .n_outputs = o->n_outputs,
			.base_dir = t->base_dir, .loc = o->loc,
		};
		struct gnode *n;
		bool sink;

		if (!info->member[i])
			continue;
		/* control.* declare the guest's control elements (ctl.c), not node properties */
		for (uint32_t k = 0; k < o->props.props.n; k++)
			o->props.props.items[k].used = vd_snd_ctl_is_decl(o->props.props.items[k].key);
		r = vd_graph_add_node(g, &desc, err);
		if (r < 0)
			return vd_error_set(err, r, &o->loc, "cannot add %s '%s'", o->node_type, o->name);
		n = vd_graph_find(g, o->name);
		switch (role_of(o, &sink)) {
		case R_STREAM: {
			struct snd_stream_node *sn = n->self;

			sn->s = s;
			if (probe)
				probe_format(&sn->info, &sn->fmt);
			else
				sn->fmt = *fmt;
			stream_node = n;
			break;
		}
		case R_ATTACH: {
			struct snd_attach_node *an = n->self;

			an->s = s;
			an->fmt = *host_fmt;
			attach_node = n;
			break;
		}
		case R_OTHER:
			break;
		}
	}
	for (size_t i = 0; i < t->n_links; i++) {
		const struct vd_topo_link *l = &t->links[i];

		if (!info->member[l->from.object])
			continue;
		r = vd_graph_link(g, l->from.name, l->from.port, l->to.name, l->to.port, &l->from.loc, err);
		if (r < 0)
			return r;
	}
	if (!stream_node || !attach_node)
		return vd_error_set(err, -EINVAL, NULL, "stream %u: pipeline without stream or attach node", stream);
	/* The side fed from outside the guest graph sets its pace: a playback stream
	 * produces about one host period's worth per cycle, a capture attach point
	 * exactly one host period. */
	if (info->direction == VIRTIO_SND_D_OUTPUT)
		stream_node->period = period;
	else
		attach_node->period = host_period;
	r = probe ? vd_graph_check(g, err) : vd_graph_prepare(g, err);
	if (r < 0)
		return r;
	if (!probe) {
		r = vd_snd_ctl_apply(st, stream, g, err);
		if (r < 0)
			return r;
		/* From here on the host's processing thread cycles this graph (once its
		 * feed connects): parameter changes from the dispatch thread must be
		 * queued to it, which vd_graph_set_param() does for running graphs. */
		atomic_store_explicit(&g->running, true, memory_order_release);
	}
	if (s) {
		s->node = stream_node->self;
		s->anode = attach_node->self;
	}
	return 0;
}

/* Read a stream's declaration and check its pipeline against the host's attach point. */
static int probe_stream(struct snd_topo *st, unsigned k, struct vd_graph *host, struct vd_diag *diag)
{
	struct snd_stream_info *info = &st->streams[k];
	const struct vd_topo_object *so = &st->t->objects[info->object];
	const struct vd_topo_object *ao = &st->t->objects[info->attach];
	struct vd_audio_format host_fmt;
	struct vd_attach *a = NULL;
	struct vd_graph *g = NULL;
	struct vd_error err;
	uint32_t host_period = 1024;
	const char *point = NULL;
	bool asink;
	int r;

	/* The attach node's point, before anything is built: the host format depends on it. */
	struct vd_props *ap = (struct vd_props *)&ao->props.props;
	for (uint32_t i = 0; i < ap->n; i++)
		if (!strcmp(ap->items[i].key, "point") && ap->items[i].type == VD_PROP_STRING)
			point = ap->items[i].str;
	role_of(ao, &asink);
	vd_audio_format_init(&host_fmt, VD_FORMAT_F32, 48000, 2);
	if (point) {
		if (!host || vd_graph_attach(host, point, &a) < 0) {
			report(diag, -ENOENT, &ao->loc, "the host topology has no attach point '%s'", point);
			return -ENOENT;
		}
		if ((vd_attach_direction(a) == VD_ATTACH_PLAYBACK) != asink) {
			report(diag, -EINVAL, &ao->loc, "attach point '%s' is a %s point; '%s' needs a %s one",
			       point, vd_attach_direction(a) == VD_ATTACH_PLAYBACK ? "playback" : "capture",
			       ao->name, asink ? "playback" : "capture");
			return -EINVAL;
		}
		host_fmt = *vd_attach_format(a);
		host_period = vd_attach_period(a);
	}

	r = vd_graph_new(&g);
	if (r < 0)
		return r;
	vd_error_clear(&err);
	r = vd_snd_topo_build(st, k, g, NULL, NULL, &host_fmt, host_period, host_period, true, &err);
	if (r < 0) {
		if (!err.code)
			vd_error_set(&err, r, &so->loc, "cannot build stream '%s'", so->name);
		if (diag) {
			diag->count++;
			if (diag->report)
				diag->report(diag->data, &err);
		}
		vd_graph_free(g);
		return r;
	}
	{
		struct gnode *sn = vd_graph_find(g, so->name), *an = vd_graph_find(g, ao->name);
		struct snd_stream_node *node = sn->self;
		struct snd_attach_node *anode = an->self;
		bool *member = info->member;

		*info = node->info;
		info->member = member;
		info->object = (size_t)(so - st->t->objects);
		info->attach = (size_t)(ao - st->t->objects);
		info->name = strdup(so->name);
		info->point = strdup(anode->point);
		if (anode->jack >= 0 && st->n_jacks < SND_MAX_JACKS) {
			struct snd_jack *j = &st->jacks[st->n_jacks++];

			j->stream = k;
			j->defconf = (uint32_t)anode->jack << HDA_DEFCFG_DEVICE_SHIFT |
				     HDA_DEFCFG_LOC_EXTERNAL << HDA_DEFCFG_LOCATION_SHIFT;
			j->caps = HDA_PINCAP_PRES_DETECT;
			j->connected = true;
		}
	}
	r = vd_snd_ctl_scan(st, k, g, diag);
	vd_graph_free(g);
	if (r < 0)
		return r;
	if (!info->name || !info->point)
		return -ENOMEM;
	return 0;
}

static int analyse(struct snd_topo *st, struct vd_graph *host, struct vd_diag *diag)
{
	struct vd_topology *t = st->t;
	size_t n = t->n_objects;
	size_t *parent = calloc(n ? n : 1, sizeof(*parent));
	size_t *owner = calloc(n ? n : 1, sizeof(*owner));	/* stream index + 1 per component root */
	int ret = 0;

	if (!parent || !owner) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		parent[i] = i;
	for (size_t i = 0; i < t->n_links; i++) {
		size_t a = find_root(parent, t->links[i].from.object);
		size_t b = find_root(parent, t->links[i].to.object);

		if (a != b)
			parent[a] = b;
	}

	/* Streams, in declaration order. */
	for (size_t i = 0; i < n; i++) {
		const struct vd_topo_object *o = &t->objects[i];
		size_t root = find_root(parent, i);
		bool sink;

		if (role_of(o, &sink) != R_STREAM)
			continue;
		if (owner[root]) {
			report(diag, -EINVAL, &o->loc, "stream '%s' shares a pipeline with stream '%s': "
			       "each stream needs its own", o->name,
			       t->objects[st->streams[owner[root] - 1].object].name);
			ret = -EINVAL;
			continue;
		}
		if (st->n_streams == SND_MAX_STREAMS) {
			report(diag, -EINVAL, &o->loc, "more than %u streams", SND_MAX_STREAMS);
			ret = -EINVAL;
			break;
		}
		owner[root] = st->n_streams + 1;
		st->streams[st->n_streams].object = i;
		st->streams[st->n_streams].attach = SIZE_MAX;
		st->streams[st->n_streams].member = calloc(n, sizeof(bool));
		if (!st->streams[st->n_streams].member) {
			ret = -ENOMEM;
			goto out;
		}
		st->n_streams++;
	}
	if (st->n_streams == 0) {
		report(diag, -EINVAL, NULL, "the guest topology declares no stream "
		       "('source NAME stream { ... }' or 'sink NAME stream { ... }')");
		ret = -EINVAL;
		goto out;
	}
	/* Every object belongs to exactly one stream's pipeline, with one attach node. */
	for (size_t i = 0; i < n; i++) {
		const struct vd_topo_object *o = &t->objects[i];
		size_t root = find_root(parent, i);
		struct snd_stream_info *info;
		bool sink;

		if (!owner[root]) {
			report(diag, -EINVAL, &o->loc, "'%s' is not connected to any stream", o->name);
			ret = -EINVAL;
			continue;
		}
		info = &st->streams[owner[root] - 1];
		info->member[i] = true;
		if (role_of(o, &sink) != R_ATTACH)
			continue;
		if (info->attach != SIZE_MAX) {
			report(diag, -EINVAL, &o->loc, "stream '%s' already goes to attach node '%s'",
			       t->objects[info->object].name, t->objects[info->attach].name);
			ret = -EINVAL;
			continue;
		}
		bool ssink;
		role_of(&t->objects[info->object], &ssink);
		if (sink != !ssink) {
			report(diag, -EINVAL, &o->loc, "%s stream '%s' needs an attach %s, not an attach %s",
			       ssink ? "capture" : "playback", t->objects[info->object].name,
			       ssink ? "source" : "sink", sink ? "sink" : "source");
			ret = -EINVAL;
			continue;
		}
		info->attach = i;
	}
	for (unsigned k = 0; k < st->n_streams; k++)
		if (st->streams[k].attach == SIZE_MAX) {
			const struct vd_topo_object *o = &t->objects[st->streams[k].object];

			report(diag, -EINVAL, &o->loc, "stream '%s' is not linked to an attach node", o->name);
			ret = -EINVAL;
		}
	if (ret < 0)
		goto out;
	for (unsigned k = 0; k < st->n_streams; k++) {
		int r = probe_stream(st, k, host, diag);

		if (r < 0 && !ret)
			ret = r;
	}
out:
	free(parent);
	free(owner);
	return ret;
}

int vd_snd_topo_load(struct snd_topo *st, const char *path, const char *text, size_t len,
		     struct vd_graph *host, struct vd_diag *diag)
{
	int r;

	memset(st, 0, sizeof(*st));
	if (path)
		r = vd_topology_load_file(path, &st->t, diag);
	else if (text)
		r = vd_topology_load_string(text, len, "guest topology", &st->t, diag);
	else
		r = vd_topology_load_string(default_topology, sizeof(default_topology) - 1,
					    "built-in guest topology", &st->t, diag);
	if (r < 0)
		return r;
	r = analyse(st, host, diag);
	if (r < 0) {
		vd_snd_topo_free(st);
		return r;
	}
	return 0;
}

void vd_snd_topo_free(struct snd_topo *st)
{
	for (unsigned k = 0; k < SND_MAX_STREAMS; k++) {
		free(st->streams[k].name);
		free(st->streams[k].point);
		free(st->streams[k].member);
	}
	vd_snd_ctl_free(st);
	vd_topology_free(st->t);
	memset(st, 0, sizeof(*st));
}
