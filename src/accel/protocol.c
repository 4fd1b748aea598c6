/* accel/protocol.c - validation and encoding of task-session messages
 * (docs/protocol.md). Everything here works on bytes a peer sent, so it
 * trusts nothing: lengths, counts and strings are checked before use, and
 * payloads are copied out with memcpy (records need not be aligned). */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "accel/protocol.h"

_Static_assert(sizeof(struct vd_proto_hdr) == VD_PROTO_HDR_SIZE, "header layout");
_Static_assert(sizeof(struct vd_proto_hello_reply) == 24, "hello layout");
_Static_assert(sizeof(struct vd_proto_caps) == 116, "caps layout");
_Static_assert(sizeof(struct vd_proto_open) == 32, "open layout");
_Static_assert(sizeof(struct vd_proto_open_reply) == 8, "open reply layout");
_Static_assert(sizeof(struct vd_proto_codec_caps_req) == 16, "codec caps request layout");
_Static_assert(sizeof(struct vd_proto_codec_caps) == 36, "codec caps layout");
_Static_assert(sizeof(struct vd_proto_params) == 40, "params layout");
_Static_assert(sizeof(struct vd_proto_params_req) == 48, "params request layout");
_Static_assert(sizeof(struct vd_proto_task) == 32, "task layout");
_Static_assert(sizeof(struct vd_proto_task_req) == 40, "task request layout");
_Static_assert(sizeof(struct vd_proto_seqno_req) == 16, "seqno request layout");
_Static_assert(sizeof(struct vd_proto_status) == 32, "status layout");
_Static_assert(sizeof(struct vd_proto_status_req) == 40, "status request layout");
_Static_assert(sizeof(struct vd_proto_adjust_req) == 16, "adjust request layout");
_Static_assert(sizeof(struct vd_proto_page_entry) == 64, "status page entry layout");
_Static_assert(sizeof(struct vd_proto_page) == 64 + 64 * VD_PROTO_PAGE_ENTRIES + VD_PROTO_MAX_ERRMSG,
	       "status page layout");
_Static_assert(sizeof(struct vd_proto_ring_entry) == 32, "ring entry layout");
_Static_assert(sizeof(struct vd_proto_ring_entry) == sizeof(struct vd_proto_task), "a ring entry is a task");
_Static_assert(sizeof(struct vd_proto_ring) == 144 + 32 * VD_PROTO_RING_ENTRIES, "ring layout");
_Static_assert(sizeof(struct vd_proto_ring) <= VD_PROTO_RING_SIZE, "the ring fits its memfd");
_Static_assert(sizeof(struct vd_proto_ring_poll_req) == 16, "ring poll request layout");
_Static_assert(sizeof(struct vd_proto_page) <= VD_PROTO_PAGE_SIZE, "the status page fits its memfd");
_Static_assert(VD_PROTO_PAGE_ENTRIES == VD_ACCEL_MAX_TASKS, "an entry per task");
_Static_assert(VD_PROTO_HDR_SIZE + 4 + VD_PROTO_MAX_LIST * sizeof(struct vd_proto_caps)
	       <= VD_PROTO_MAX_MSG, "a full LIST reply fits");

static const char *const type_names[VD_PROTO_TYPE_COUNT] = {
	[VD_PROTO_HELLO] = "HELLO",
	[VD_PROTO_LIST] = "LIST",
	[VD_PROTO_OPEN] = "OPEN",
	[VD_PROTO_CLOSE] = "CLOSE",
	[VD_PROTO_GET_CAPS] = "GET_CAPS",
	[VD_PROTO_GET_CODEC_CAPS] = "GET_CODEC_CAPS",
	[VD_PROTO_SET_PARAMS] = "SET_PARAMS",
	[VD_PROTO_GET_PARAMS] = "GET_PARAMS",
	[VD_PROTO_TASK_CREATE] = "TASK_CREATE",
	[VD_PROTO_TASK_START] = "TASK_START",
	[VD_PROTO_TASK_STOP] = "TASK_STOP",
	[VD_PROTO_TASK_FREE] = "TASK_FREE",
	[VD_PROTO_TASK_STATUS] = "TASK_STATUS",
	[VD_PROTO_RECONFIGURE] = "RECONFIGURE",
	[VD_PROTO_SET_ADJUST] = "SET_ADJUST",
	[VD_PROTO_GET_METADATA] = "GET_METADATA",
	[VD_PROTO_RING_ATTACH] = "RING_ATTACH",
	[VD_PROTO_RING_POLL] = "RING_POLL",
	[VD_PROTO_STREAM] = "STREAM",
};

/* Request payload size per type; every request has exactly one size. */
static const uint32_t request_size[VD_PROTO_TYPE_COUNT] = {
	[VD_PROTO_HELLO] = 0,
	[VD_PROTO_LIST] = 0,
	[VD_PROTO_OPEN] = sizeof(struct vd_proto_open),
	[VD_PROTO_CLOSE] = sizeof(struct vd_proto_session),
	[VD_PROTO_GET_CAPS] = sizeof(struct vd_proto_session),
	[VD_PROTO_GET_CODEC_CAPS] = sizeof(struct vd_proto_codec_caps_req),
	[VD_PROTO_SET_PARAMS] = sizeof(struct vd_proto_params_req),
	[VD_PROTO_GET_PARAMS] = sizeof(struct vd_proto_session),
	[VD_PROTO_TASK_CREATE] = sizeof(struct vd_proto_task_req),
	[VD_PROTO_TASK_START] = sizeof(struct vd_proto_task_req),
	[VD_PROTO_TASK_STOP] = sizeof(struct vd_proto_seqno_req),
	[VD_PROTO_TASK_FREE] = sizeof(struct vd_proto_seqno_req),
	[VD_PROTO_TASK_STATUS] = sizeof(struct vd_proto_status_req),
	[VD_PROTO_RECONFIGURE] = sizeof(struct vd_proto_params_req),
	[VD_PROTO_SET_ADJUST] = sizeof(struct vd_proto_adjust_req),
	[VD_PROTO_GET_METADATA] = sizeof(struct vd_proto_seqno_req),
	[VD_PROTO_RING_ATTACH] = sizeof(struct vd_proto_session),
	[VD_PROTO_RING_POLL] = sizeof(struct vd_proto_ring_poll_req),
	[VD_PROTO_STREAM] = sizeof(struct vd_proto_stream_req),
};

/* Enum-typed fields carry values below this into the public structures. */
#define ENUM_WIRE_MAX 0x10000u

const char *vd_proto_stream_ioctl_name(uint32_t nr)
{
	/* include/uapi/sound/compress_offload.h, the ioctls an accel stream refuses */
	static const struct {
		uint32_t nr;
		const char *name;
	} names[] = {
		{ 0x20, "SNDRV_COMPRESS_TSTAMP" }, { 0x21, "SNDRV_COMPRESS_AVAIL" },
		{ 0x22, "SNDRV_COMPRESS_TSTAMP64" }, { 0x23, "SNDRV_COMPRESS_AVAIL64" },
		{ 0x30, "SNDRV_COMPRESS_PAUSE" }, { 0x31, "SNDRV_COMPRESS_RESUME" },
		{ 0x32, "SNDRV_COMPRESS_START" }, { 0x33, "SNDRV_COMPRESS_STOP" },
		{ 0x34, "SNDRV_COMPRESS_DRAIN" }, { 0x35, "SNDRV_COMPRESS_NEXT_TRACK" },
		{ 0x36, "SNDRV_COMPRESS_PARTIAL_DRAIN" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].nr == nr)
			return names[i].name;
	return NULL;
}

const char *vd_proto_type_name(uint32_t type)
{
	if (type < VD_PROTO_TYPE_COUNT && type_names[type])
		return type_names[type];
	return "?";
}

int vd_proto_parse_header(const void *buf, size_t n, unsigned nfds, struct vd_proto_hdr *hdr)
{
	if (n < VD_PROTO_HDR_SIZE)
		return -EBADMSG;
	memcpy(hdr, buf, sizeof(*hdr));
	if (hdr->magic != VD_PROTO_MAGIC)
		return -EBADMSG;
	if (hdr->version != VD_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (hdr->len > VD_PROTO_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (n != VD_PROTO_HDR_SIZE + (size_t)hdr->len)
		return -EBADMSG;
	if (hdr->nfds != nfds || nfds > VD_PROTO_MAX_FDS)
		return -EBADMSG;
	return 0;
}

static int name_from_wire(const char *w, char *name)
{
	if (!memchr(w, '\0', VD_ACCEL_NAME_MAX))
		return -EINVAL;
	memcpy(name, w, VD_ACCEL_NAME_MAX);
	/* bytes after the terminator are not ours to interpret: clear them */
	size_t l = strlen(name);
	memset(name + l, 0, VD_ACCEL_NAME_MAX - l);
	return 0;
}

int vd_proto_parse_request(const void *buf, size_t n, unsigned nfds,
			   struct vd_proto_request *req, const char **why)
{
	const char *dummy;
	const uint8_t *payload = (const uint8_t *)buf + VD_PROTO_HDR_SIZE;
	struct vd_proto_hdr *h = &req->hdr;
	int r;

	if (!why)
		why = &dummy;
	memset(req, 0, sizeof(*req));
	r = vd_proto_parse_header(buf, n, nfds, h);
	if (r == -EPROTONOSUPPORT) {
		*why = "unsupported protocol version";
		return r;
	}
	if (r < 0) {
		*why = r == -EMSGSIZE ? "payload larger than the limit" :
		       n < VD_PROTO_HDR_SIZE ? "record shorter than a header" :
		       h->magic != VD_PROTO_MAGIC ? "bad magic" :
		       "length or descriptor count does not match the header";
		return r;
	}
	if (h->flags & ~VD_PROTO_FLAG_NO_REPLY) {
		*why = "flags set on a request";
		return -EBADMSG;
	}
	if (h->result != 0) {
		*why = "result set on a request";
		return -EBADMSG;
	}
	if (nfds != 0) {
		*why = "descriptors attached to a request";
		return -EBADMSG;
	}
	if (h->type == 0 || h->type >= VD_PROTO_TYPE_COUNT) {
		*why = "unknown request type";
		return -ENOSYS;
	}
	if ((h->flags & VD_PROTO_FLAG_NO_REPLY) && h->type != VD_PROTO_TASK_START) {
		*why = "NO_REPLY on a request other than TASK_START";
		return -EBADMSG;
	}
	if (h->len != request_size[h->type]) {
		*why = "payload size wrong for the request type";
		return -EBADMSG;
	}

	if (h->len >= sizeof(struct vd_proto_session) && h->type != VD_PROTO_OPEN) {
		struct vd_proto_session s;

		memcpy(&s, payload, sizeof(s));
		if (s.reserved != 0) {
			*why = "reserved field not zero";
			return -EBADMSG;
		}
		req->session = s.session;
	}

	switch ((enum vd_proto_type)h->type) {
	case VD_PROTO_HELLO:
	case VD_PROTO_LIST:
	case VD_PROTO_CLOSE:
	case VD_PROTO_GET_CAPS:
	case VD_PROTO_GET_PARAMS:
		break;
	case VD_PROTO_OPEN: {
		struct vd_proto_open o;

		memcpy(&o, payload, sizeof(o));
		if (name_from_wire(o.name, req->u.name) < 0) {
			*why = "accelerator name not terminated";
			return -EBADMSG;
		}
		break;
	}
	case VD_PROTO_GET_CODEC_CAPS: {
		struct vd_proto_codec_caps_req c;

		memcpy(&c, payload, sizeof(c));
		if (c.reserved != 0) {
			*why = "reserved field not zero";
			return -EBADMSG;
		}
		req->u.codec = c.codec;
		break;
	}
	case VD_PROTO_SET_PARAMS:
	case VD_PROTO_RECONFIGURE: {
		struct vd_proto_params_req p;

		memcpy(&p, payload, sizeof(p));
		vd_proto_params_from_wire(&p.p, &req->u.params);
		break;
	}
	case VD_PROTO_TASK_CREATE:
	case VD_PROTO_TASK_START: {
		struct vd_proto_task_req t;

		memcpy(&t, payload, sizeof(t));
		if (t.t.reserved != 0) {
			*why = "reserved field not zero";
			return -EBADMSG;
		}
		vd_proto_task_from_wire(&t.t, &req->u.task);
		break;
	}
	case VD_PROTO_TASK_STOP:
	case VD_PROTO_TASK_FREE:
	case VD_PROTO_GET_METADATA: {
		struct vd_proto_seqno_req s;

		memcpy(&s, payload, sizeof(s));
		req->u.seqno = s.seqno;
		break;
	}
	case VD_PROTO_TASK_STATUS: {
		struct vd_proto_status_req s;

		memcpy(&s, payload, sizeof(s));
		/* STATUS reads only the seqno; the rest is output (the kernel's
		 * echo of output_flags is a bug we do not reproduce) */
		memset(&req->u.status, 0, sizeof(req->u.status));
		req->u.status.seqno = s.st.seqno;
		break;
	}
	case VD_PROTO_SET_ADJUST: {
		struct vd_proto_adjust_req a;

		memcpy(&a, payload, sizeof(a));
		req->u.adjust = a.adjust;
		break;
	}
	case VD_PROTO_RING_ATTACH:
		break;
	case VD_PROTO_RING_POLL: {
		struct vd_proto_ring_poll_req rp;

		memcpy(&rp, payload, sizeof(rp));
		if (rp.reserved != 0 || rp.exact > 1) {
			*why = rp.reserved ? "reserved field not zero" : "RING_POLL exact is not 0 or 1";
			return -EBADMSG;
		}
		req->u.exact = rp.exact;
		break;
	}
	case VD_PROTO_STREAM: {
		struct vd_proto_stream_req st;

		memcpy(&st, payload, sizeof(st));
		if (st.reserved != 0) {
			*why = "reserved field not zero";
			return -EBADMSG;
		}
		req->u.ioctl_nr = st.ioctl_nr;
		break;
	}
	case VD_PROTO_TYPE_COUNT:
		break;
	}
	*why = NULL;
	return 0;
}

#define RLOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

int vd_proto_ring_fetch(const struct vd_proto_ring *r, uint32_t head, uint32_t tail,
			uint32_t *op, struct vd_accel_task *out, const char **why)
{
	const struct vd_proto_ring_entry *e;
	struct vd_proto_ring_entry c;

	if (head == tail)
		return 0;
	if (tail - head > VD_PROTO_RING_ENTRIES) {
		*why = "ring tail is more than 64 entries ahead of its head";
		return -EPROTO;
	}
	/* One read of each field into our copy; only the copy is looked at. */
	e = &r->e[head % VD_PROTO_RING_ENTRIES];
	c.seqno = RLOAD(e->seqno);
	c.origin_seqno = RLOAD(e->origin_seqno);
	c.input_size = RLOAD(e->input_size);
	c.flags = RLOAD(e->flags);
	c.op = RLOAD(e->op);
	if (c.op != VD_PROTO_RING_OP_START && c.op != VD_PROTO_RING_OP_STOP) {
		*why = "ring entry with an unknown operation (not START 0 or STOP 1)";
		return -EPROTO;
	}
	if (c.op == VD_PROTO_RING_OP_STOP && (!c.seqno || c.origin_seqno || c.input_size || c.flags)) {
		*why = c.seqno ? "ring STOP entry with a non-zero origin_seqno, input_size or flags"
			       : "ring STOP entry for seqno 0 (stopping every task is a TASK_STOP request)";
		return -EPROTO;
	}
	struct vd_proto_task w = { c.seqno, c.origin_seqno, c.input_size, c.flags, 0 };
	vd_proto_task_from_wire(&w, out);
	*op = c.op;
	*why = NULL;
	return 1;
}

void vd_proto_put_header(void *buf, uint32_t type, uint32_t id, int32_t result,
			 uint32_t len, uint16_t nfds, uint16_t flags)
{
	struct vd_proto_hdr h = {
		.magic = VD_PROTO_MAGIC,
		.version = VD_PROTO_VERSION,
		.type = (uint16_t)type,
		.id = id,
		.result = result,
		.len = len,
		.nfds = nfds,
		.flags = flags,
	};

	memcpy(buf, &h, sizeof(h));
}

void vd_proto_caps_to_wire(const struct vd_accel_caps *c, struct vd_proto_caps *w)
{
	memset(w, 0, sizeof(*w));
	memcpy(w->name, c->name, sizeof(w->name));
	w->name[sizeof(w->name) - 1] = '\0';
	w->num_codecs = c->num_codecs > 16 ? 16 : c->num_codecs;
	memcpy(w->codecs, c->codecs, w->num_codecs * sizeof(uint32_t));
	w->min_fragment_size = c->min_fragment_size;
	w->max_fragment_size = c->max_fragment_size;
	w->min_fragments = c->min_fragments;
	w->max_fragments = c->max_fragments;
}

int vd_proto_caps_from_wire(const struct vd_proto_caps *w, struct vd_accel_caps *c)
{
	memset(c, 0, sizeof(*c));
	if (name_from_wire(w->name, c->name) < 0 || w->num_codecs > 16)
		return -EPROTO;
	c->num_codecs = w->num_codecs;
	memcpy(c->codecs, w->codecs, c->num_codecs * sizeof(uint32_t));
	c->min_fragment_size = w->min_fragment_size;
	c->max_fragment_size = w->max_fragment_size;
	c->min_fragments = w->min_fragments;
	c->max_fragments = w->max_fragments;
	return 0;
}

void vd_proto_codec_caps_to_wire(const struct vd_accel_codec_caps *c, struct vd_proto_codec_caps *w)
{
	w->codec = c->codec;
	w->formats = c->formats;
	w->pcm_formats = c->pcm_formats;
	w->min_rate = c->min_rate;
	w->max_rate = c->max_rate;
	w->out_rate_min = c->out_rate_min;
	w->out_rate_max = c->out_rate_max;
	w->max_channels = c->max_channels;
	w->num_qualities = c->num_qualities;
}

void vd_proto_codec_caps_from_wire(const struct vd_proto_codec_caps *w, struct vd_accel_codec_caps *c)
{
	c->codec = w->codec;
	c->formats = w->formats;
	c->pcm_formats = w->pcm_formats;
	c->min_rate = w->min_rate;
	c->max_rate = w->max_rate;
	c->out_rate_min = w->out_rate_min;
	c->out_rate_max = w->out_rate_max;
	c->max_channels = w->max_channels;
	c->num_qualities = w->num_qualities;
}

void vd_proto_params_to_wire(const struct vd_accel_params *p, struct vd_proto_params *w)
{
	w->codec = p->codec;
	w->in_format = (uint32_t)p->in.format;
	w->in_rate = p->in.rate;
	w->in_channels = p->in.channels;
	w->out_format = (uint32_t)p->out.format;
	w->out_rate = p->out.rate;
	w->out_channels = p->out.channels;
	w->quality = (uint32_t)p->quality;
	w->fragment_size = p->fragment_size;
	w->fragments = p->fragments;
}

static uint32_t enum_from_wire(uint32_t v)
{
	/* a huge value becomes another value no enum defines, so the engine
	 * rejects it with its own errno and message, as it would in-process */
	return v < ENUM_WIRE_MAX ? v : ENUM_WIRE_MAX - 1;
}

void vd_proto_params_from_wire(const struct vd_proto_params *w, struct vd_accel_params *p)
{
	memset(p, 0, sizeof(*p));
	p->codec = w->codec;
	p->in.format = (enum vd_sample_format)enum_from_wire(w->in_format);
	p->in.rate = w->in_rate;
	p->in.channels = w->in_channels;
	p->out.format = (enum vd_sample_format)enum_from_wire(w->out_format);
	p->out.rate = w->out_rate;
	p->out.channels = w->out_channels;
	p->quality = (enum vd_resample_quality)enum_from_wire(w->quality);
	p->fragment_size = w->fragment_size;
	p->fragments = w->fragments;
}

void vd_proto_task_to_wire(const struct vd_accel_task *t, struct vd_proto_task *w)
{
	w->seqno = t->seqno;
	w->origin_seqno = t->origin_seqno;
	w->input_size = t->input_size;
	w->flags = t->flags;
	w->reserved = 0;
}

void vd_proto_task_from_wire(const struct vd_proto_task *w, struct vd_accel_task *t)
{
	t->seqno = w->seqno;
	t->origin_seqno = w->origin_seqno;
	t->input_size = w->input_size;
	t->flags = w->flags;
	t->input_fd = -1;
	t->output_fd = -1;
}

void vd_proto_status_to_wire(const struct vd_accel_task_status *s, struct vd_proto_status *w)
{
	memset(w, 0, sizeof(*w));
	w->seqno = s->seqno;
	w->input_size = s->input_size;
	w->output_size = s->output_size;
	w->output_flags = s->output_flags;
	w->state = s->state;
}

void vd_proto_status_from_wire(const struct vd_proto_status *w, struct vd_accel_task_status *s)
{
	s->seqno = w->seqno;
	s->input_size = w->input_size;
	s->output_size = w->output_size;
	s->output_flags = w->output_flags;
	s->state = w->state;
}

int vd_proto_parse_reply(const void *buf, size_t n, unsigned nfds, uint32_t type, uint32_t id,
			 size_t want, int want_max, unsigned want_fds,
			 const void **payload, size_t *payload_len, const char **errmsg)
{
	struct vd_proto_hdr h;
	const char *p = (const char *)buf + VD_PROTO_HDR_SIZE;

	*payload = NULL;
	*payload_len = 0;
	*errmsg = "";
	if (vd_proto_parse_header(buf, n, nfds, &h) < 0)
		return -EPROTO;
	if (h.flags != VD_PROTO_FLAG_REPLY || h.type != type || h.id != id)
		return -EPROTO;
	if (h.result < 0) {
		/* errors carry no descriptors and at most a terminated message */
		if (nfds != 0 || h.len > VD_PROTO_MAX_ERRMSG || h.result < -4095)
			return -EPROTO;
		if (h.len > 0) {
			if (p[h.len - 1] != '\0')
				return -EPROTO;
			*errmsg = p;
		}
		return h.result;
	}
	if (nfds != want_fds)
		return -EPROTO;
	if (want_max ? h.len > want : h.len != want)
		return -EPROTO;
	*payload = p;
	*payload_len = h.len;
	return h.result;
}

void vd_proto_metadata_to_wire(const struct vd_accel_metadata *m, struct vd_proto_metadata *w)
{
	memset(w, 0, sizeof(*w));
	w->codec = m->codec;
	w->flags = m->flags;
	w->rate = m->rate;
	w->channels = m->channels;
	w->bits = m->bits;
	w->bitrate = m->bitrate;
	w->total_frames = m->total_frames;
	w->decoded_format = (uint32_t)m->decoded_format;
	w->out_format = (uint32_t)m->out_format;
	w->out_rate = m->out_rate;
	w->out_channels = m->out_channels;
	w->frames_decoded = m->frames_decoded;
	w->frames_out = m->frames_out;
	w->streams = m->streams;
	w->changes = m->changes;
	w->damaged = m->damaged;
	w->error = m->error;
	memcpy(w->error_text, m->error_text, sizeof(w->error_text));
	w->error_text[sizeof(w->error_text) - 1] = 0;
}

void vd_proto_metadata_from_wire(const struct vd_proto_metadata *w, struct vd_accel_metadata *m)
{
	memset(m, 0, sizeof(*m));
	m->codec = w->codec;
	m->flags = w->flags;
	m->rate = w->rate;
	m->channels = w->channels;
	m->bits = w->bits;
	m->bitrate = w->bitrate;
	m->total_frames = w->total_frames;
	m->decoded_format = (enum vd_sample_format)enum_from_wire(w->decoded_format);
	m->out_format = (enum vd_sample_format)enum_from_wire(w->out_format);
	m->out_rate = w->out_rate;
	m->out_channels = w->out_channels;
	m->frames_decoded = w->frames_decoded;
	m->frames_out = w->frames_out;
	m->streams = w->streams;
	m->changes = w->changes;
	m->damaged = w->damaged;
	m->error = w->error;
	/* The daemon's text may be unterminated on the wire: copy at most its field. */
	memcpy(m->error_text, w->error_text, sizeof(m->error_text));
	m->error_text[sizeof(m->error_text) - 1] = 0;
}

/* Seqlock readers: the writer (the engine, under its session lock) makes
 * seq odd, stores the fields, then makes it even again, all with release
 * stores; a copy taken between two equal even reads of seq is whole. The
 * engine keeps seq odd until the poll fd's readiness matches, a few system
 * calls: a reader that gives up asks the daemon instead. A client's own
 * writes to its page can only make it retry and give up. */
#define PAGE_READ_TRIES 1000

static void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

int vd_proto_page_read_header(const struct vd_proto_page *pg, uint32_t *state,
			      uint32_t *fragment_size, uint32_t *granule, uint32_t *fragments)
{
	for (int i = 0; i < PAGE_READ_TRIES; i++) {
		uint32_t s1 = __atomic_load_n(&pg->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1) {
			relax();
			continue;
		}
		*state = __atomic_load_n(&pg->state, __ATOMIC_ACQUIRE);
		*fragment_size = __atomic_load_n(&pg->fragment_size, __ATOMIC_ACQUIRE);
		*granule = __atomic_load_n(&pg->granule, __ATOMIC_ACQUIRE);
		*fragments = __atomic_load_n(&pg->fragments, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&pg->seq, __ATOMIC_ACQUIRE) == s1)
			return 0;
	}
	return -EAGAIN;
}

int vd_proto_page_read_entry(const struct vd_proto_page *pg, unsigned i, struct vd_proto_page_entry *out)
{
	const struct vd_proto_page_entry *e;

	if (i >= VD_PROTO_PAGE_ENTRIES)
		return -EINVAL;
	e = &pg->e[i];
	for (int k = 0; k < PAGE_READ_TRIES; k++) {
		uint32_t s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1) {
			relax();
			continue;
		}
		/* every field, reserved ones as 0: cheaper than a memset first */
		out->seq = s1;
		out->reserved[0] = out->reserved[1] = 0;
		out->reserved2 = 0;
		out->reserved3 = 0;
		out->used = __atomic_load_n(&e->used, __ATOMIC_ACQUIRE);
		out->state = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
		out->output_flags = __atomic_load_n(&e->output_flags, __ATOMIC_ACQUIRE);
		out->seqno = __atomic_load_n(&e->seqno, __ATOMIC_ACQUIRE);
		out->input_size = __atomic_load_n(&e->input_size, __ATOMIC_ACQUIRE);
		out->output_size = __atomic_load_n(&e->output_size, __ATOMIC_ACQUIRE);
		out->starts = __atomic_load_n(&e->starts, __ATOMIC_ACQUIRE);
		out->in_len = __atomic_load_n(&e->in_len, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&e->seq, __ATOMIC_ACQUIRE) == s1)
			return 0;
	}
	return -EAGAIN;
}
