/* virtio_snd/nodes.c - the node types of guest topologies: stream-source and
 * stream-sink (a virtio-snd PCM stream: tx messages in, rx messages out) and
 * attach-sink/attach-source (where a guest pipeline meets a host attach
 * point). They are registered per guest graph, never globally: outside a
 * device they have nothing to read from or write to.
 *
 * init parses the declaration; the device binds the instance to its stream
 * after the node is added (snd_topo_build), before negotiation. process()
 * runs on the host's processing thread and only touches that stream's held
 * messages and the node's own FIFO: no allocation, lock or log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <virtdsp/format.h>

#include "virtio_snd/snd-impl.h"

/* ---- stream declarations ---- */

static const char *const direction_names[] = { "playback", "capture", NULL };
static const char *const jack_names[] = {
	"line-out", "speaker", "headphone", "spdif-out", "line-in", "aux", "mic", "spdif-in", NULL
};
static const int jack_types[] = {
	HDA_JACK_LINE_OUT, HDA_JACK_SPEAKER, HDA_JACK_HP_OUT, HDA_JACK_SPDIF_OUT,
	HDA_JACK_LINE_IN, HDA_JACK_AUX, HDA_JACK_MIC_IN, HDA_JACK_SPDIF_IN,
};

static const uint32_t rate_hz[VIRTIO_SND_PCM_RATE_COUNT] = {
	5512, 8000, 11025, 16000, 22050, 32000, 44100, 48000,
	64000, 88200, 96000, 176400, 192000, 384000, 12000, 24000,
};

uint32_t vd_snd_rate_hz(uint8_t vrate)
{
	return vrate < VIRTIO_SND_PCM_RATE_COUNT ? rate_hz[vrate] : 0;
}

static const struct {
	uint8_t vfmt;
	enum vd_sample_format fmt;
} format_map[] = {
	{ VIRTIO_SND_PCM_FMT_MU_LAW, VD_FORMAT_MULAW }, { VIRTIO_SND_PCM_FMT_A_LAW, VD_FORMAT_ALAW },
	{ VIRTIO_SND_PCM_FMT_U8, VD_FORMAT_U8 }, { VIRTIO_SND_PCM_FMT_S16, VD_FORMAT_S16 },
	{ VIRTIO_SND_PCM_FMT_S24_3, VD_FORMAT_S24_3 }, { VIRTIO_SND_PCM_FMT_S24, VD_FORMAT_S24 },
	{ VIRTIO_SND_PCM_FMT_S32, VD_FORMAT_S32 }, { VIRTIO_SND_PCM_FMT_FLOAT, VD_FORMAT_F32 },
	{ VIRTIO_SND_PCM_FMT_FLOAT64, VD_FORMAT_F64 },
};

int vd_snd_format_to_vd(uint8_t vfmt, enum vd_sample_format *fmt)
{
	for (size_t i = 0; i < sizeof(format_map) / sizeof(format_map[0]); i++)
		if (format_map[i].vfmt == vfmt) {
			*fmt = format_map[i].fmt;
			return 0;
		}
	return -EINVAL;
}

int vd_snd_format_from_vd(enum vd_sample_format fmt)
{
	for (size_t i = 0; i < sizeof(format_map) / sizeof(format_map[0]); i++)
		if (format_map[i].fmt == fmt)
			return format_map[i].vfmt;
	return -EINVAL;
}

uint8_t vd_snd_chmap_from_vd(uint8_t pos)
{
	static const uint8_t map[] = {
		[VD_CH_UNKNOWN] = VIRTIO_SND_CHMAP_NONE, [VD_CH_MONO] = VIRTIO_SND_CHMAP_MONO,
		[VD_CH_FL] = VIRTIO_SND_CHMAP_FL, [VD_CH_FR] = VIRTIO_SND_CHMAP_FR,
		[VD_CH_FC] = VIRTIO_SND_CHMAP_FC, [VD_CH_LFE] = VIRTIO_SND_CHMAP_LFE,
		[VD_CH_RL] = VIRTIO_SND_CHMAP_RL, [VD_CH_RR] = VIRTIO_SND_CHMAP_RR,
		[VD_CH_FLC] = VIRTIO_SND_CHMAP_FLC, [VD_CH_FRC] = VIRTIO_SND_CHMAP_FRC,
		[VD_CH_RC] = VIRTIO_SND_CHMAP_RC, [VD_CH_SL] = VIRTIO_SND_CHMAP_SL,
		[VD_CH_SR] = VIRTIO_SND_CHMAP_SR, [VD_CH_TC] = VIRTIO_SND_CHMAP_TC,
		[VD_CH_TFL] = VIRTIO_SND_CHMAP_TFL, [VD_CH_TFC] = VIRTIO_SND_CHMAP_TFC,
		[VD_CH_TFR] = VIRTIO_SND_CHMAP_TFR, [VD_CH_TRL] = VIRTIO_SND_CHMAP_TRL,
		[VD_CH_TRC] = VIRTIO_SND_CHMAP_TRC, [VD_CH_TRR] = VIRTIO_SND_CHMAP_TRR,
	};

	if (pos < sizeof(map))
		return map[pos];
	return VIRTIO_SND_CHMAP_NA;	/* AUX channels have no virtio position */
}

static int parse_formats(struct vd_props *p, uint64_t *mask, struct vd_error *err)
{
	enum vd_sample_format fmt;
	char key[32];
	int r;

	*mask = 0;
	if (vd_props_find(p, "formats")) {	/* a single word instead of a list */
		if ((r = vd_props_format(p, "formats", &fmt, err)) < 0)
			return r;
		*mask |= UINT64_C(1) << vd_snd_format_from_vd(fmt);
	}
	for (unsigned i = 0;; i++) {
		snprintf(key, sizeof(key), "formats.%u", i);
		if (!vd_props_find(p, key))
			break;
		if ((r = vd_props_format(p, key, &fmt, err)) < 0)
			return r;
		*mask |= UINT64_C(1) << vd_snd_format_from_vd(fmt);
	}
	if (!*mask)	/* the default: what every host pipeline converts without loss of range */
		*mask = UINT64_C(1) << VIRTIO_SND_PCM_FMT_S16 | UINT64_C(1) << VIRTIO_SND_PCM_FMT_S24 |
			UINT64_C(1) << VIRTIO_SND_PCM_FMT_S32 | UINT64_C(1) << VIRTIO_SND_PCM_FMT_FLOAT;
	return 0;
}

static int parse_positions(struct vd_props *p, struct snd_stream_info *info, struct vd_error *err)
{
	char key[32];

	info->n_positions = 0;
	for (unsigned i = 0;; i++) {
		const struct vd_prop *pr;
		enum vd_channel_position pos;

		snprintf(key, sizeof(key), "positions.%u", i);
		pr = vd_props_find(p, key);
		if (!pr)
			break;
		if (pr->type == VD_PROP_NUMBER || vd_channel_from_name(pr->str, &pos) < 0)
			return vd_error_set(err, -EINVAL, &pr->loc, "'%s' is not a channel position (FL, FR, FC, LFE, ...)",
					    pr->str);
		if (i >= VIRTIO_SND_CHMAP_MAX_SIZE)
			return vd_error_set(err, -EINVAL, &pr->loc,
					    "a virtio-snd channel map has at most %u positions", VIRTIO_SND_CHMAP_MAX_SIZE);
		info->positions[i] = (uint8_t)pos;
		info->n_positions = (uint8_t)(i + 1);
	}
	return 0;
}

static int parse_stream(const struct vd_node_init *init, struct snd_stream_info *info, bool sink,
			struct vd_error *err)
{
	struct vd_props *p = init->props;
	const struct vd_prop *dp = vd_props_find(p, "direction");
	int dir = sink ? 1 : 0;
	double rmin = 8000, rmax = 192000;
	uint32_t cmin = 1, cmax = 2;
	int r;

	if ((r = vd_props_enum(p, "direction", direction_names, &dir, err)) < 0)
		return r;
	if (dir != (sink ? 1 : 0))
		return vd_error_set(err, -EINVAL, dp ? &dp->loc : NULL,
				    "stream '%s' is declared as a %s, so its direction is %s",
				    init->name, sink ? "sink" : "source", sink ? "capture" : "playback");
	if ((r = parse_formats(p, &info->formats, err)) < 0 ||
	    (r = vd_props_number(p, "rate_min", VD_UNIT_HZ, 1, 1e6, &rmin, err)) < 0 ||
	    (r = vd_props_number(p, "rate_max", VD_UNIT_HZ, 1, 1e6, &rmax, err)) < 0 ||
	    (r = vd_props_uint(p, "channels_min", 1, VD_MAX_CHANNELS, &cmin, err)) < 0 ||
	    (r = vd_props_uint(p, "channels_max", 1, VD_MAX_CHANNELS, &cmax, err)) < 0 ||
	    (r = parse_positions(p, info, err)) < 0)
		return r;
	if (cmin > cmax)
		return vd_error_set(err, -EINVAL, &p->loc, "stream '%s': channels_min %u is above channels_max %u",
				    init->name, cmin, cmax);
	/* Linux cannot map 384 kHz, 12 kHz or 24 kHz (they came late to the specification). */
	info->rates = 0;
	for (unsigned i = 0; i <= VIRTIO_SND_PCM_RATE_192000; i++)
		if (rate_hz[i] >= rmin && rate_hz[i] <= rmax)
			info->rates |= UINT64_C(1) << i;
	if (!info->rates)
		return vd_error_set(err, -EINVAL, &p->loc,
				    "stream '%s': no rate virtio-snd can express lies in [%g, %g] Hz",
				    init->name, rmin, rmax);
	if (info->n_positions && (info->n_positions < cmin || info->n_positions > cmax))
		return vd_error_set(err, -EINVAL, &p->loc,
				    "stream '%s': %u positions, outside channels_min..channels_max (%u..%u)",
				    init->name, info->n_positions, cmin, cmax);
	info->direction = sink ? VIRTIO_SND_D_INPUT : VIRTIO_SND_D_OUTPUT;
	info->ch_min = (uint8_t)cmin;
	info->ch_max = (uint8_t)cmax;
	/* The map Linux shows for the stream: the declared one, else the default for channels_max. */
	if (info->n_positions) {
		info->chmap_n = info->n_positions;
		for (unsigned i = 0; i < info->n_positions; i++)
			info->chmap[i] = vd_snd_chmap_from_vd(info->positions[i]);
	} else {
		uint8_t pos[VD_MAX_CHANNELS];

		vd_channel_default_map(cmax, pos);
		info->chmap_n = (uint8_t)(cmax < VIRTIO_SND_CHMAP_MAX_SIZE ? cmax : VIRTIO_SND_CHMAP_MAX_SIZE);
		for (unsigned i = 0; i < info->chmap_n; i++)
			info->chmap[i] = vd_snd_chmap_from_vd(pos[i]);
	}
	return 0;
}

static int stream_init(const struct vd_node_init *init, void **self, bool sink,
		       uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	struct snd_stream_node *n = calloc(1, sizeof(*n));
	int r;

	if (!n)
		return -ENOMEM;
	n->sink = sink;
	r = parse_stream(init, &n->info, sink, err);
	if (r < 0) {
		free(n);
		return r;
	}
	*n_inputs = sink ? 1 : 0;
	*n_outputs = sink ? 0 : 1;
	*self = n;
	return 0;
}

static int stream_source_init(const struct vd_node_init *init, void **self,
			      uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	return stream_init(init, self, false, n_inputs, n_outputs, err);
}

static int stream_sink_init(const struct vd_node_init *init, void **self,
			    uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	return stream_init(init, self, true, n_inputs, n_outputs, err);
}

static void node_free(void *self)
{
	free(self);
}

static int stream_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			    struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	struct snd_stream_node *n = self;

	if (!n->fmt.format)
		return vd_error_set(err, -EINVAL, NULL, "stream node used outside a virtio-snd device");
	if (n->sink)
		in[0] = n->fmt;	/* the graph converts to what the guest asked for */
	else
		out[0] = n->fmt;
	return 0;
}

static int stream_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
			  const struct vd_audio_format *out, uint32_t n_out,
			  uint32_t max_frames, struct vd_error *err)
{
	struct snd_stream_node *n = self;

	n->frame_bytes = (uint32_t)vd_format_frame_size(&n->fmt);
	return 0;
}

static void fill_silence(enum vd_sample_format fmt, uint8_t *dst, size_t samples)
{
	uint8_t v = fmt == VD_FORMAT_U8 ? 0x80 : fmt == VD_FORMAT_MULAW ? 0xff : fmt == VD_FORMAT_ALAW ? 0xd5 : 0;

	memset(dst, v, samples * vd_format_sample_size(fmt));
}

static void underrun(struct snd_stream *s)
{
	atomic_fetch_add_explicit(&s->st_underruns, 1, memory_order_relaxed);
	if (s->starved)
		return;
	s->starved = true;
	atomic_fetch_add_explicit(&s->st_xruns, 1, memory_order_relaxed);
	if (atomic_load_explicit(&s->xrun_events, memory_order_relaxed)) {
		uint64_t one = 1;
		ssize_t w;

		atomic_fetch_add_explicit(&s->xrun_pending, 1, memory_order_release);
		w = write(s->dev->notify_fd, &one, sizeof(one));	/* a full counter is a pending wake-up anyway */
		(void)w;
	}
}

/* Playback: one period of the guest's tx messages, consumed in order; silence when there are none. */
static int stream_source_process(void *self, struct vd_buffer *in, uint32_t n_in,
				 struct vd_buffer *out, uint32_t n_out)
{
	struct snd_stream_node *n = self;
	struct snd_stream *s = n->s;
	uint8_t *dst = out[0].data;
	uint32_t want = out[0].frames, fb = n->frame_bytes, got = 0;

	if (s && atomic_load_explicit(&s->running, memory_order_acquire)) {
		while (s->count) {
			struct snd_xfer *x = &s->xq->slots[s->fifo[s->head]];
			uint32_t avail = (x->payload - x->done) / fb, take = want - got;
			size_t copied;

			if (take > avail)
				take = avail;
			copied = vd_vhost_iov_to_buf(x->e.out, x->e.out_num, VIRTIO_SND_PCM_XFER_SIZE + x->done,
						     dst + (size_t)got * fb, (size_t)take * fb);
			if (copied < (size_t)take * fb)	/* the guest shrank nothing we checked; be safe anyway */
				memset(dst + (size_t)got * fb + copied, 0, (size_t)take * fb - copied);
			x->done += take * fb;
			s->held_bytes -= (uint64_t)take * fb;
			got += take;
			if (x->done == x->payload)
				vd_snd_complete_head(s, VIRTIO_SND_S_OK);
			if (got == want)
				break;
		}
		atomic_fetch_add_explicit(&s->st_frames, got, memory_order_relaxed);
		if (got < want)
			underrun(s);
		else
			s->starved = false;
	}
	if (got < want)
		fill_silence(n->fmt.format, dst + (size_t)got * fb, (size_t)(want - got) * n->fmt.channels);
	out[0].frames = want;
	out[0].flags = 0;
	return 0;
}

/* Capture: the pipeline's frames go into the guest's rx messages, each completed when full. */
static int stream_sink_process(void *self, struct vd_buffer *in, uint32_t n_in,
			       struct vd_buffer *out, uint32_t n_out)
{
	struct snd_stream_node *n = self;
	struct snd_stream *s = n->s;
	const uint8_t *src = in[0].data;
	uint32_t avail = in[0].frames, fb = n->frame_bytes, put = 0;

	if (s && atomic_load_explicit(&s->running, memory_order_acquire)) {
		while (put < avail && s->count) {
			struct snd_xfer *x = &s->xq->slots[s->fifo[s->head]];
			uint32_t room = (x->payload - x->done) / fb, take = avail - put;

			if (take > room)
				take = room;
			vd_vhost_iov_from_buf(x->e.in, x->e.in_num, x->done, src + (size_t)put * fb,
					      (size_t)take * fb);
			x->done += take * fb;
			s->held_bytes -= (uint64_t)take * fb;
			put += take;
			if (x->done == x->payload)
				vd_snd_complete_head(s, VIRTIO_SND_S_OK);
		}
		atomic_fetch_add_explicit(&s->st_frames, put, memory_order_relaxed);
		if (put < avail)
			underrun(s);	/* no buffer from the guest: these frames are lost */
		else
			s->starved = false;
	}
	in[0].frames = avail;	/* always consumed: capture runs on the host's clock */
	return 0;
}

static int64_t endless(void *self)
{
	return -1;
}

const struct vd_node_ops vd_snd_node_stream_source = {
	.version = VD_NODE_OPS_VERSION,
	.type = "stream-source",
	.summary = "a guest's virtio-snd playback stream",
	.flags = VD_NODE_SOURCE | VD_NODE_ENDPOINT,
	.init = stream_source_init,
	.free = node_free,
	.negotiate = stream_negotiate,
	.prepare = stream_prepare,
	.process = stream_source_process,
	.total_frames = endless,
};

const struct vd_node_ops vd_snd_node_stream_sink = {
	.version = VD_NODE_OPS_VERSION,
	.type = "stream-sink",
	.summary = "a guest's virtio-snd capture stream",
	.flags = VD_NODE_SINK | VD_NODE_ENDPOINT,
	.init = stream_sink_init,
	.free = node_free,
	.negotiate = stream_negotiate,
	.prepare = stream_prepare,
	.process = stream_sink_process,
};

/* ---- attach nodes ---- */

static int attach_init(const struct vd_node_init *init, void **self, bool sink,
		       uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	const struct vd_prop *pp = vd_props_find(init->props, "point");
	struct snd_attach_node *a;
	const char *point = NULL;
	int jack = -1, r;

	if ((r = vd_props_string(init->props, "point", &point, err)) < 0 ||
	    (r = vd_props_enum(init->props, "jack", jack_names, &jack, err)) < 0)
		return r;
	if (!point || !*point)
		return vd_error_set(err, -EINVAL, pp ? &pp->loc : &init->props->loc,
				    "attach '%s' needs a 'point': the host attach point to connect to", init->name);
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->point = strdup(point);
	if (!a->point) {
		free(a);
		return -ENOMEM;
	}
	a->sink = sink;
	a->jack = jack >= 0 ? jack_types[jack] : -1;
	*n_inputs = sink ? 1 : 0;
	*n_outputs = sink ? 0 : 1;
	*self = a;
	return 0;
}

static int attach_sink_init(const struct vd_node_init *init, void **self,
			    uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	return attach_init(init, self, true, n_inputs, n_outputs, err);
}

static int attach_source_init(const struct vd_node_init *init, void **self,
			      uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	return attach_init(init, self, false, n_inputs, n_outputs, err);
}

static void attach_free(void *self)
{
	struct snd_attach_node *a = self;

	if (!a)
		return;
	free(a->fifo);
	free(a->point);
	free(a);
}

static int attach_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			    struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	struct snd_attach_node *a = self;

	if (!a->fmt.format)
		return vd_error_set(err, -EINVAL, NULL, "attach node used outside a virtio-snd device");
	if (a->sink)
		in[0] = a->fmt;
	else
		out[0] = a->fmt;
	return 0;
}

static int attach_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
			  const struct vd_audio_format *out, uint32_t n_out,
			  uint32_t max_frames, struct vd_error *err)
{
	struct snd_attach_node *a = self;

	/* A pull may leave up to one guest cycle of output over; a push adds one host period. */
	a->cap = 2 * max_frames + 4096;
	free(a->fifo);
	a->fifo = calloc((size_t)a->cap * a->fmt.channels, sizeof(float));
	if (!a->fifo)
		return vd_error_set(err, -ENOMEM, NULL, "out of memory");
	a->count = 0;
	return 0;
}

static int attach_sink_process(void *self, struct vd_buffer *in, uint32_t n_in,
			       struct vd_buffer *out, uint32_t n_out)
{
	struct snd_attach_node *a = self;
	uint32_t n = in[0].frames, ch = a->fmt.channels;

	if (n > a->cap - a->count)
		n = a->cap - a->count;
	memcpy(a->fifo + (size_t)a->count * ch, in[0].data, (size_t)n * ch * sizeof(float));
	a->count += n;
	in[0].frames = n;
	return 0;
}

static int attach_source_process(void *self, struct vd_buffer *in, uint32_t n_in,
				 struct vd_buffer *out, uint32_t n_out)
{
	struct snd_attach_node *a = self;
	uint32_t n = out[0].frames, ch = a->fmt.channels;

	if (n > a->count)
		n = a->count;
	memcpy(out[0].data, a->fifo, (size_t)n * ch * sizeof(float));
	memmove(a->fifo, a->fifo + (size_t)n * ch, (size_t)(a->count - n) * ch * sizeof(float));
	a->count -= n;
	out[0].frames = n;
	out[0].flags = 0;
	return 0;
}

const struct vd_node_ops vd_snd_node_attach_sink = {
	.version = VD_NODE_OPS_VERSION,
	.type = "attach-sink",
	.summary = "a guest pipeline's output into a host attach point (playback)",
	.flags = VD_NODE_SINK | VD_NODE_ENDPOINT,
	.init = attach_sink_init,
	.free = attach_free,
	.negotiate = attach_negotiate,
	.prepare = attach_prepare,
	.process = attach_sink_process,
};

const struct vd_node_ops vd_snd_node_attach_source = {
	.version = VD_NODE_OPS_VERSION,
	.type = "attach-source",
	.summary = "a host attach point's audio into a guest pipeline (capture)",
	.flags = VD_NODE_SOURCE | VD_NODE_ENDPOINT,
	.init = attach_source_init,
	.free = attach_free,
	.negotiate = attach_negotiate,
	.prepare = attach_prepare,
	.process = attach_source_process,
	.total_frames = endless,
};
