/* virtio_snd/control.c - the control queue: every request parsed as a byte
 * stream, validated, acted on and answered (dispatch thread), including the
 * lenient PCM state machine of docs/virtio-snd.md. */
#include <errno.h>
#include <string.h>

#include "virtio_snd/snd-impl.h"

#define INFO_MAX_STRIDE	4096	/* largest item stride (query_info.size) accepted */

static const char *state_name(enum vd_snd_state st)
{
	static const char *const names[] = { "none", "params set", "prepared", "running", "stopped", "released" };

	return st <= VD_SND_STATE_RELEASED ? names[st] : "?";
}

/* Write @len bytes at @off of the reply payload (after the status header). */
static void put(const struct vd_vhost_elem *e, size_t off, const void *buf, size_t len)
{
	vd_vhost_iov_from_buf(e->in, e->in_num, VIRTIO_SND_HDR_SIZE + off, buf, len);
}

static void fill_jack(const struct vd_snd_dev *dev, uint32_t id, uint8_t *item)
{
	const struct snd_jack *j = &dev->topo.jacks[id];

	vsnd_put32(item + JACK_INFO_NID, 0);
	vsnd_put32(item + JACK_INFO_FEATURES, 0);	/* no JACK_REMAP */
	vsnd_put32(item + JACK_INFO_DEFCONF, j->defconf);
	vsnd_put32(item + JACK_INFO_CAPS, j->caps);
	item[JACK_INFO_CONNECTED] = j->connected;
}

static void fill_pcm(const struct vd_snd_dev *dev, uint32_t id, uint8_t *item)
{
	const struct snd_stream_info *s = &dev->topo.streams[id];

	/* Every stream on function group 0: Linux shows one PCM device with its
	 * playback and capture substreams. */
	vsnd_put32(item + PCM_INFO_NID, 0);
	vsnd_put32(item + PCM_INFO_FEATURES, 1u << VIRTIO_SND_PCM_F_EVT_XRUNS);
	vsnd_put64(item + PCM_INFO_FORMATS, s->formats);
	vsnd_put64(item + PCM_INFO_RATES, s->rates);
	item[PCM_INFO_DIRECTION] = s->direction;
	item[PCM_INFO_CH_MIN] = s->ch_min;
	item[PCM_INFO_CH_MAX] = s->ch_max;
}

static void fill_chmap(const struct vd_snd_dev *dev, uint32_t id, uint8_t *item)
{
	const struct snd_stream_info *s = &dev->topo.streams[id];

	vsnd_put32(item + CHMAP_INFO_NID, 0);
	item[CHMAP_INFO_DIRECTION] = s->direction;
	item[CHMAP_INFO_CHANNELS] = s->chmap_n;
	memcpy(item + CHMAP_INFO_POSITIONS, s->chmap, s->chmap_n);
}

/* JACK_INFO, PCM_INFO, CHMAP_INFO: items padded with zeros to the driver's stride. */
static uint32_t query_info(struct vd_snd_dev *dev, const struct vd_vhost_elem *e, const uint8_t *req,
			   size_t len, uint32_t code, uint32_t *reply_len)
{
	static const uint8_t zeros[256];
	uint32_t start, count, size, total, item_size;
	void (*fill)(const struct vd_snd_dev *, uint32_t, uint8_t *);
	uint8_t item[32];

	if (len < VIRTIO_SND_QUERY_INFO_SIZE)
		return VIRTIO_SND_S_BAD_MSG;
	start = vsnd_le32(req + 4);
	count = vsnd_le32(req + 8);
	size = vsnd_le32(req + 12);
	switch (code) {
	case VIRTIO_SND_R_JACK_INFO:
		total = dev->topo.n_jacks;
		item_size = VIRTIO_SND_JACK_INFO_SIZE;
		fill = fill_jack;
		break;
	case VIRTIO_SND_R_PCM_INFO:
		total = dev->topo.n_streams;
		item_size = VIRTIO_SND_PCM_INFO_SIZE;
		fill = fill_pcm;
		break;
	default:
		total = dev->topo.n_streams;
		item_size = VIRTIO_SND_CHMAP_INFO_SIZE;
		fill = fill_chmap;
		break;
	}
	if ((uint64_t)start + count > total || size < item_size || size > INFO_MAX_STRIDE ||
	    (uint64_t)count * size > e->in_len - VIRTIO_SND_HDR_SIZE)
		return VIRTIO_SND_S_BAD_MSG;
	for (uint32_t i = 0; i < count; i++) {
		size_t off = (size_t)i * size;

		memset(item, 0, sizeof(item));
		fill(dev, start + i, item);
		put(e, off, item, item_size);
		for (size_t pad = item_size; pad < size; pad += sizeof(zeros))
			put(e, off + pad, zeros, size - pad < sizeof(zeros) ? size - pad : sizeof(zeros));
	}
	*reply_len = count * size;
	return VIRTIO_SND_S_OK;
}

static uint32_t set_params(struct vd_snd_dev *dev, const uint8_t *req, size_t len)
{
	struct snd_params p;
	struct snd_stream *s;
	const struct snd_stream_info *info;
	enum vd_sample_format fmt;
	uint32_t id, frame;

	if (len < VIRTIO_SND_SET_PARAMS_SIZE)
		return VIRTIO_SND_S_BAD_MSG;
	id = vsnd_le32(req + SET_PARAMS_STREAM);
	if (id >= dev->topo.n_streams)
		return VIRTIO_SND_S_BAD_MSG;
	s = &dev->streams[id];
	info = s->info;
	p.buffer_bytes = vsnd_le32(req + SET_PARAMS_BUFFER);
	p.period_bytes = vsnd_le32(req + SET_PARAMS_PERIOD);
	p.features = vsnd_le32(req + SET_PARAMS_FEATURES);
	p.channels = req[SET_PARAMS_CHANNELS];
	p.format = req[SET_PARAMS_FORMAT];
	p.rate = req[SET_PARAMS_RATE];

	if (p.format >= 64 || !(info->formats >> p.format & 1) || vd_snd_format_to_vd(p.format, &fmt) < 0) {
		vd_snd_log(dev, "SET_PARAMS stream %u: format %u not offered", id, p.format);
		return VIRTIO_SND_S_BAD_MSG;
	}
	if (p.rate >= 64 || !(info->rates >> p.rate & 1)) {
		vd_snd_log(dev, "SET_PARAMS stream %u: rate %u not offered", id, p.rate);
		return VIRTIO_SND_S_BAD_MSG;
	}
	if (p.channels < info->ch_min || p.channels > info->ch_max) {
		vd_snd_log(dev, "SET_PARAMS stream %u: %u channels outside %u..%u", id, p.channels,
			   info->ch_min, info->ch_max);
		return VIRTIO_SND_S_BAD_MSG;
	}
	if (p.features & ~(1u << VIRTIO_SND_PCM_F_EVT_XRUNS)) {
		vd_snd_log(dev, "SET_PARAMS stream %u: features 0x%x not offered", id, p.features);
		return VIRTIO_SND_S_BAD_MSG;
	}
	frame = (uint32_t)vd_format_sample_size(fmt) * p.channels;
	if (p.period_bytes == 0 || p.buffer_bytes == 0 || p.buffer_bytes % p.period_bytes ||
	    p.period_bytes % frame || p.buffer_bytes > SND_MAX_BUFFER_BYTES) {
		vd_snd_log(dev, "SET_PARAMS stream %u: buffer %u / period %u bytes refused (frame %u bytes, "
			   "buffer at most %u)", id, p.buffer_bytes, p.period_bytes, frame, SND_MAX_BUFFER_BYTES);
		return VIRTIO_SND_S_BAD_MSG;
	}
	switch (s->state) {
	case VD_SND_STATE_RUNNING:
		vd_snd_log(dev, "SET_PARAMS stream %u: refused while running", id);
		return VIRTIO_SND_S_BAD_MSG;
	case VD_SND_STATE_PREPARED:
	case VD_SND_STATE_STOPPED:
		vd_snd_release(dev, UINT64_C(1) << id, 0);
		break;
	default:
		break;
	}
	s->p = p;
	s->have_params = true;
	s->state = VD_SND_STATE_PARAMS;
	return VIRTIO_SND_S_OK;
}

static uint32_t pcm_command(struct vd_snd_dev *dev, uint32_t code, const uint8_t *req, size_t len)
{
	static const char *const names[] = { "PREPARE", "RELEASE", "START", "STOP" };
	const char *name = names[code - VIRTIO_SND_R_PCM_PREPARE];
	struct snd_stream *s;
	uint32_t id, st;
	int r;

	if (len < VIRTIO_SND_PCM_HDR_SIZE)
		return VIRTIO_SND_S_BAD_MSG;
	id = vsnd_le32(req + 4);
	if (id >= dev->topo.n_streams)
		return VIRTIO_SND_S_BAD_MSG;
	s = &dev->streams[id];
	switch (code) {
	case VIRTIO_SND_R_PCM_PREPARE:
		if (!s->have_params || s->state == VD_SND_STATE_RUNNING)
			break;
		if (s->state == VD_SND_STATE_PREPARED || s->state == VD_SND_STATE_STOPPED)
			vd_snd_release(dev, UINT64_C(1) << id, 0);
		st = vd_snd_stream_prepare(s);
		s->state = st == VIRTIO_SND_S_OK ? VD_SND_STATE_PREPARED : VD_SND_STATE_RELEASED;
		return st;
	case VIRTIO_SND_R_PCM_RELEASE:
		if (s->state == VD_SND_STATE_RUNNING)
			break;
		/* Idempotent: a release of a stream holding nothing is harmless. */
		if (s->state == VD_SND_STATE_PREPARED || s->state == VD_SND_STATE_STOPPED) {
			vd_snd_release(dev, UINT64_C(1) << id, 0);
			s->state = VD_SND_STATE_RELEASED;
		}
		return VIRTIO_SND_S_OK;
	case VIRTIO_SND_R_PCM_START:
		if (s->state == VD_SND_STATE_RUNNING)
			return VIRTIO_SND_S_OK;
		if (s->state != VD_SND_STATE_PREPARED && s->state != VD_SND_STATE_STOPPED)
			break;
		/* before the first period: a suspended engine resumes here, synchronously */
		r = vd_snd_stream_activity(s, true);
		if (r < 0) {
			vd_snd_log(dev, "START stream %u: the engine cannot run: %s", id, strerror(-r));
			return VIRTIO_SND_S_IO_ERR;
		}
		atomic_store_explicit(&s->running, true, memory_order_release);
		s->state = VD_SND_STATE_RUNNING;
		return VIRTIO_SND_S_OK;
	case VIRTIO_SND_R_PCM_STOP:
		if (s->state != VD_SND_STATE_RUNNING)
			break;
		atomic_store_explicit(&s->running, false, memory_order_release);
		s->state = VD_SND_STATE_STOPPED;
		vd_snd_stream_activity(s, false);
		return VIRTIO_SND_S_OK;
	}
	vd_snd_log(dev, "%s stream %u: refused in state '%s'%s", name, id, state_name(s->state),
		   s->have_params ? "" : " (no parameters)");
	return VIRTIO_SND_S_BAD_MSG;
}

uint32_t vd_snd_ctl_request(struct vd_snd_dev *dev, const struct vd_vhost_elem *e)
{
	uint8_t req[VIRTIO_SND_SET_PARAMS_SIZE] = { 0 }, hdr[VIRTIO_SND_HDR_SIZE];
	uint32_t code, status, reply = 0;
	size_t len;

	if (e->in_len < VIRTIO_SND_HDR_SIZE)
		return 0;	/* nowhere to put even a status */
	len = vd_vhost_iov_to_buf(e->out, e->out_num, 0, req, sizeof(req));
	if (len < VIRTIO_SND_HDR_SIZE) {
		status = VIRTIO_SND_S_BAD_MSG;
		goto out;
	}
	code = vsnd_le32(req);
	switch (code) {
	case VIRTIO_SND_R_JACK_INFO:
	case VIRTIO_SND_R_PCM_INFO:
	case VIRTIO_SND_R_CHMAP_INFO:
		status = query_info(dev, e, req, len, code, &reply);
		break;
	case VIRTIO_SND_R_PCM_SET_PARAMS:
		status = set_params(dev, req, len);
		break;
	case VIRTIO_SND_R_PCM_PREPARE:
	case VIRTIO_SND_R_PCM_RELEASE:
	case VIRTIO_SND_R_PCM_START:
	case VIRTIO_SND_R_PCM_STOP:
		status = pcm_command(dev, code, req, len);
		break;
	case VIRTIO_SND_R_CTL_INFO:
	case VIRTIO_SND_R_CTL_ENUM_ITEMS:
	case VIRTIO_SND_R_CTL_READ:
	case VIRTIO_SND_R_CTL_WRITE:
	case VIRTIO_SND_R_CTL_TLV_READ:
	case VIRTIO_SND_R_CTL_TLV_WRITE:
	case VIRTIO_SND_R_CTL_TLV_COMMAND:
		status = vd_snd_ctl_handle(dev, e, code, req, len, &reply);
		break;
	case VIRTIO_SND_R_JACK_REMAP:
		status = VIRTIO_SND_S_NOT_SUPP;
		break;
	default:
		vd_snd_log(dev, "unknown control request 0x%x", code);
		status = VIRTIO_SND_S_NOT_SUPP;
		break;
	}
out:
	vsnd_put32(hdr, status);
	vd_vhost_iov_from_buf(e->in, e->in_num, 0, hdr, sizeof(hdr));
	return VIRTIO_SND_HDR_SIZE + reply;
}
