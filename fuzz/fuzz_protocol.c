/* fuzz/fuzz_protocol.c - libFuzzer target for the task-session wire format:
 * the daemon's request parser and the client's reply parser, on arbitrary
 * records. The first input byte chooses the fd count the record claims to
 * have arrived with and the request the reply is matched against; the rest
 * is the record. Decoded requests are re-encoded and parsed again: what the
 * parser accepts must survive a round trip unchanged. The same bytes are
 * also read as a status page (version 2), which a client maps from the
 * daemon and must never trust: the seqlock readers must terminate and only
 * return whole copies. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "accel/protocol.h"

static void roundtrip_params(const struct vd_accel_params *p)
{
	struct vd_proto_params w;
	struct vd_accel_params q;

	vd_proto_params_to_wire(p, &w);
	vd_proto_params_from_wire(&w, &q);
	if (memcmp(p, &q, sizeof(q)) != 0)
		abort();
}

static void check_request(const uint8_t *rec, size_t n, unsigned nfds)
{
	struct vd_proto_request req;
	const char *why = NULL;
	int r = vd_proto_parse_request(rec, n, nfds, &req, &why);

	if (r < 0) {
		/* every refusal explains itself */
		if (!why || !why[0])
			abort();
		return;
	}
	if (why || req.hdr.type == 0 || req.hdr.type >= VD_PROTO_TYPE_COUNT)
		abort();
	/* NO_REPLY is accepted on TASK_START only, and no other flag at all */
	if ((req.hdr.flags & ~VD_PROTO_FLAG_NO_REPLY) ||
	    ((req.hdr.flags & VD_PROTO_FLAG_NO_REPLY) && req.hdr.type != VD_PROTO_TASK_START))
		abort();
	if (strcmp(vd_proto_type_name(req.hdr.type), "?") == 0)
		abort();
	switch (req.hdr.type) {
	case VD_PROTO_OPEN:
		if (strnlen(req.u.name, VD_ACCEL_NAME_MAX) >= VD_ACCEL_NAME_MAX)
			abort();
		break;
	case VD_PROTO_SET_PARAMS:
	case VD_PROTO_RECONFIGURE:
		roundtrip_params(&req.u.params);
		break;
	case VD_PROTO_TASK_CREATE:
	case VD_PROTO_TASK_START:
		if (req.u.task.input_fd != -1 || req.u.task.output_fd != -1)
			abort();
		break;
	case VD_PROTO_STREAM: {
		/* the daemon names the ioctl in its -ENOTTY text, or prints the number */
		const char *name = vd_proto_stream_ioctl_name(req.u.ioctl_nr);
		if (name && strncmp(name, "SNDRV_COMPRESS_", 15) != 0)
			abort();
		break;
	}
	default:
		break;
	}
}

static void check_reply(const uint8_t *rec, size_t n, unsigned nfds, uint8_t sel)
{
	static const struct {
		uint32_t type;
		size_t want;
		int want_max;
		unsigned fds;
	} expect[] = {
		{ VD_PROTO_HELLO, sizeof(struct vd_proto_hello_reply), 0, 0 },
		{ VD_PROTO_LIST, 4 + VD_PROTO_MAX_LIST * sizeof(struct vd_proto_caps), 1, 0 },
		{ VD_PROTO_OPEN, sizeof(struct vd_proto_open_reply), 0, 2 },
		{ VD_PROTO_TASK_START, sizeof(struct vd_proto_task), 0, 0 },
		{ VD_PROTO_GET_CAPS, sizeof(struct vd_proto_caps), 0, 0 },
		{ VD_PROTO_TASK_CREATE, sizeof(struct vd_proto_task), 0, 2 },
		{ VD_PROTO_TASK_STATUS, sizeof(struct vd_proto_status), 0, 0 },
		{ VD_PROTO_CLOSE, 0, 0, 0 },
	};
	const void *payload;
	size_t len;
	const char *msg;
	struct vd_proto_hdr h;
	unsigned i = sel % (sizeof(expect) / sizeof(expect[0]));
	uint32_t id = 0;

	if (n >= VD_PROTO_HDR_SIZE) {
		memcpy(&h, rec, sizeof(h));
		id = h.id;
	}
	int r = vd_proto_parse_reply(rec, n, nfds, expect[i].type, id, expect[i].want,
				     expect[i].want_max, expect[i].fds, &payload, &len, &msg);
	if (!msg)
		abort();
	if (r < 0) {
		/* an error text is always terminated within the record */
		if (strlen(msg) >= VD_PROTO_MAX_ERRMSG)
			abort();
		return;
	}
	if (!payload || (expect[i].want_max ? len > expect[i].want : len != expect[i].want))
		abort();
	if (expect[i].type == VD_PROTO_GET_CAPS) {
		struct vd_proto_caps w;
		struct vd_accel_caps c;

		memcpy(&w, payload, sizeof(w));
		if (vd_proto_caps_from_wire(&w, &c) == 0 &&
		    (c.num_codecs > 16 || strnlen(c.name, VD_ACCEL_NAME_MAX) >= VD_ACCEL_NAME_MAX))
			abort();
	}
}

/* The record's bytes as the start of a status page (the rest zero). */
static void check_page(const uint8_t *rec, size_t n)
{
	static struct vd_proto_page pg;
	struct vd_proto_page_entry e;
	uint32_t state, frag, gran, frags;

	memset(&pg, 0, sizeof(pg));
	memcpy(&pg, rec, n < sizeof(pg) ? n : sizeof(pg));
	int r = vd_proto_page_read_header(&pg, &state, &frag, &gran, &frags);
	if (r == 0 && (state != pg.state || frag != pg.fragment_size || gran != pg.granule ||
		       frags != pg.fragments || (pg.seq & 1)))
		abort();
	if (r < 0 && (r != -EAGAIN || !(pg.seq & 1)))
		abort();
	for (unsigned i = 0; i < VD_PROTO_PAGE_ENTRIES + 1; i++) {
		r = vd_proto_page_read_entry(&pg, i, &e);
		if (i == VD_PROTO_PAGE_ENTRIES) {
			if (r != -EINVAL)
				abort();
			break;
		}
		if (r == 0 && (e.seqno != pg.e[i].seqno || e.starts != pg.e[i].starts || (pg.e[i].seq & 1)))
			abort();
		if (r < 0 && (r != -EAGAIN || !(pg.e[i].seq & 1)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > VD_PROTO_MAX_MSG + 64)
		return 0;
	uint8_t sel = data[0];
	unsigned nfds = sel & 3;
	/* a private copy, so reads past the record's end are caught by ASan */
	size_t n = size - 1;
	uint8_t *rec = malloc(n ? n : 1);

	if (!rec)
		return 0;
	memcpy(rec, data + 1, n);
	check_request(rec, n, nfds);
	check_reply(rec, n, nfds, (uint8_t)(sel >> 2));
	check_page(rec, n);
	free(rec);
	return 0;
}
