/* endpoint/attach.c - attach-playback/attach-capture: where guest audio enters and leaves the host graph.
 *
 * Until the vhost-user daemon feeds them, an attach point stands in for
 * its guest: with a `path` (virtdsp run --input/--output NAME=FILE) it is
 * a file-source or file-sink, without one the playback point is silence
 * that ends at once and the capture point discards. Either way it
 * forwards to the plain endpoint it wraps; in a live graph a wrapped file
 * endpoint is live too, so its I/O stays off the real-time thread.
 */
#include <errno.h>
#include <stdlib.h>

#include "endpoint/endpoint.h"

struct attach {
	const struct vd_node_ops *ops;	/* the wrapped endpoint (file/null/silence modes) */
	void *inner;
	struct vd_attach *bus;		/* live mode without a path: feeds from the daemon */
	struct vd_audio_format declared;
	bool capture;
};

static int attach_declared(const struct vd_node_init *init, struct vd_audio_format *f,
			   const char **path, struct vd_error *err)
{
	enum vd_sample_format fmt = VD_FORMAT_S16;
	uint32_t rate = init->rate ? init->rate : 48000, channels = 2;
	int ret;

	if ((ret = vd_props_format(init->props, "format", &fmt, err)) < 0 ||
	    (ret = vd_props_uint(init->props, "rate", 1, 1000000, &rate, err)) < 0 ||
	    (ret = vd_props_uint(init->props, "channels", 1, VD_MAX_CHANNELS, &channels, err)) < 0 ||
	    (ret = vd_props_string(init->props, "path", path, err)) < 0)
		return ret;
	vd_audio_format_init(f, fmt, rate, channels);
	return 0;
}

static int attach_init(const struct vd_node_init *init, void **self, bool capture,
		       struct vd_error *err)
{
	const struct vd_prop *p = vd_props_find(init->props, "path");
	struct attach *a;
	const char *path = NULL;
	char *full = NULL;
	int ret;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->capture = capture;
	ret = attach_declared(init, &a->declared, &path, err);
	if (ret < 0)
		goto fail;
	if (path) {
		full = vd_endpoint_resolve_path(init->base_dir, path);
		if (!full) {
			ret = -ENOMEM;
			goto fail;
		}
	}
	if (!path && (init->flags & VD_NODE_INIT_LIVE)) {
		ret = vd_attach_bus_new(capture ? VD_ATTACH_CAPTURE : VD_ATTACH_PLAYBACK, &a->declared,
					init->period, &a->bus);
	} else if (capture && path) {
		struct vd_file_sink_config cfg = {
			.name = init->name, .path = full, .loc = &p->loc, .container = -1,
			.format = a->declared.format, .rate = a->declared.rate,
			.channels = a->declared.channels,
			.live = init->flags & VD_NODE_INIT_LIVE,
		};

		a->ops = &vd_node_file_sink;
		ret = vd_endpoint_file_sink_new(&cfg, &a->inner, err);
	} else if (capture) {
		a->ops = &vd_node_null_sink;
		ret = vd_endpoint_null_new(&a->inner);
	} else if (path) {
		struct vd_file_source_config cfg = { .name = init->name, .path = full, .loc = &p->loc,
						     .live = init->flags & VD_NODE_INIT_LIVE };

		a->ops = &vd_node_file_source;
		ret = vd_endpoint_file_source_new(&cfg, &a->inner, err);
	} else {
		a->ops = &vd_node_silence_source;
		ret = vd_endpoint_silence_new(&a->declared, 0, &a->inner);
	}
	if (ret < 0)
		goto fail;
	free(full);
	*self = a;
	return 0;
fail:
	free(full);
	free(a);
	return ret;
}

static int playback_init(const struct vd_node_init *init, void **self,
			 uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	*n_inputs = 0;
	*n_outputs = 1;
	return attach_init(init, self, false, err);
}

static int capture_init(const struct vd_node_init *init, void **self,
			uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	*n_inputs = 1;
	*n_outputs = 0;
	return attach_init(init, self, true, err);
}

static void attach_free(void *self)
{
	struct attach *a = self;

	if (!a)
		return;
	if (a->bus)
		vd_attach_bus_free(a->bus);
	else
		a->ops->free(a->inner);
	free(a);
}

static int attach_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			    struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	struct attach *a = self;

	if (a->bus) {
		/* Feeds exchange f32 at the point's rate and channels; the graph converts around it. */
		if (a->capture)
			in[0] = *vd_attach_format(a->bus);
		else
			out[0] = *vd_attach_format(a->bus);
		return 0;
	}
	/* A guest's capture stream has the declared format, so the graph converts to it here. */
	if (a->capture)
		in[0] = a->declared;
	return a->ops->negotiate(a->inner, in, n_in, out, n_out, err);
}

static int attach_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
			  const struct vd_audio_format *out, uint32_t n_out,
			  uint32_t max_frames, struct vd_error *err)
{
	struct attach *a = self;

	if (a->bus)
		return vd_attach_bus_prepare(a->bus, max_frames);
	return a->ops->prepare(a->inner, in, n_in, out, n_out, max_frames, err);
}

static int attach_process(void *self, struct vd_buffer *in, uint32_t n_in,
			  struct vd_buffer *out, uint32_t n_out)
{
	struct attach *a = self;

	if (a->bus) {
		if (a->capture) {
			vd_attach_bus_push(a->bus, in[0].data, in[0].frames);
		} else {
			vd_attach_bus_pull(a->bus, out[0].data, out[0].frames);
		}
		return 0;	/* consumed everything / filled all room; a live bus never ends */
	}
	return a->ops->process(a->inner, in, n_in, out, n_out);
}

static void attach_reset(void *self)
{
	struct attach *a = self;

	if (!a->bus && a->ops->reset)
		a->ops->reset(a->inner);
}

static int64_t attach_total_frames(void *self)
{
	struct attach *a = self;

	if (a->bus)
		return -1;
	return a->ops->total_frames ? a->ops->total_frames(a->inner) : -1;
}

struct vd_attach *vd_endpoint_attach_bus(const struct vd_node_ops *ops, void *self)
{
	if (ops != &vd_node_attach_playback && ops != &vd_node_attach_capture)
		return NULL;
	return ((struct attach *)self)->bus;
}

const struct vd_node_ops vd_node_attach_playback = {
	.version = VD_NODE_OPS_VERSION,
	.type = "attach-playback",
	.summary = "guest playback entering the host graph (a file with 'path', else silence)",
	.flags = VD_NODE_SOURCE | VD_NODE_ENDPOINT,
	.init = playback_init,
	.free = attach_free,
	.negotiate = attach_negotiate,
	.prepare = attach_prepare,
	.process = attach_process,
	.reset = attach_reset,
	.total_frames = attach_total_frames,
};

const struct vd_node_ops vd_node_attach_capture = {
	.version = VD_NODE_OPS_VERSION,
	.type = "attach-capture",
	.summary = "host audio leaving toward guests (a file with 'path', else discarded)",
	.flags = VD_NODE_SINK | VD_NODE_ENDPOINT,
	.init = capture_init,
	.free = attach_free,
	.negotiate = attach_negotiate,
	.prepare = attach_prepare,
	.process = attach_process,
	.reset = attach_reset,
	.total_frames = attach_total_frames,
};
