/* accel/protocol.h - the task-session wire format spoken between the socket
 * client (accel/client.c) and `virtdsp serve` (daemon/accel_server.c):
 * header, message types, payload layouts, limits, and the codecs that turn
 * them into the public API's structures. docs/protocol.md is the prose
 * version of this file; change both together.
 *
 * Every message is one SOCK_SEQPACKET record: a 24-byte header followed by
 * `len` payload bytes, with `nfds` descriptors attached as SCM_RIGHTS.
 * Integers are in host byte order (the socket never leaves the host).
 */
#ifndef VD_ACCEL_PROTOCOL_H
#define VD_ACCEL_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include <virtdsp/accel.h>

#define VD_PROTO_MAGIC		0x50534456u	/* "VDSP" in little-endian memory */
#define VD_PROTO_VERSION	2u
#define VD_PROTO_HDR_SIZE	24u
/* Largest payload either side may send (a LIST reply of 16 accelerators is 1860 bytes). */
#define VD_PROTO_MAX_PAYLOAD	4096u
#define VD_PROTO_MAX_MSG	(VD_PROTO_HDR_SIZE + VD_PROTO_MAX_PAYLOAD)
/* Most descriptors one message carries (CREATE's reply: input and output buffer;
 * OPEN's: poll fd and status page; RING_ATTACH's: ring, kick and notify eventfds). */
#define VD_PROTO_MAX_FDS	3u
/* Error replies may carry a NUL-terminated message of at most this many bytes. */
#define VD_PROTO_MAX_ERRMSG	256u
/* Accelerators a LIST reply describes at most. */
#define VD_PROTO_MAX_LIST	16u

#define VD_PROTO_FLAG_REPLY	(1u << 0)
/* On a TASK_START request: no reply unless it fails (pipelined START). */
#define VD_PROTO_FLAG_NO_REPLY	(1u << 1)

enum vd_proto_type {
	VD_PROTO_HELLO = 1,
	VD_PROTO_LIST = 2,
	VD_PROTO_OPEN = 3,
	VD_PROTO_CLOSE = 4,
	VD_PROTO_GET_CAPS = 5,
	VD_PROTO_GET_CODEC_CAPS = 6,
	VD_PROTO_SET_PARAMS = 7,
	VD_PROTO_GET_PARAMS = 8,
	VD_PROTO_TASK_CREATE = 9,
	VD_PROTO_TASK_START = 10,
	VD_PROTO_TASK_STOP = 11,
	VD_PROTO_TASK_FREE = 12,
	VD_PROTO_TASK_STATUS = 13,
	VD_PROTO_RECONFIGURE = 14,
	VD_PROTO_SET_ADJUST = 15,
	VD_PROTO_GET_METADATA = 16,
	VD_PROTO_RING_ATTACH = 17,
	VD_PROTO_RING_POLL = 18,
	VD_PROTO_STREAM = 19,		/* a kernel streaming ioctl: always -ENOTTY */
	VD_PROTO_TYPE_COUNT
};

struct vd_proto_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;		/* enum vd_proto_type; a reply repeats its request's */
	uint32_t id;		/* chosen by the client, echoed in the reply */
	int32_t result;		/* replies: >= 0 success (a count for LIST), or -errno; requests: 0 */
	uint32_t len;		/* payload bytes that follow */
	uint16_t nfds;		/* descriptors attached with SCM_RIGHTS */
	uint16_t flags;		/* VD_PROTO_FLAG_REPLY */
};

/* ---- payloads (all fields naturally aligned, no implicit padding) ---- */

struct vd_proto_hello_reply {
	uint32_t version;
	uint32_t max_sessions;	/* per client */
	uint32_t max_tasks;	/* per client, over all its sessions */
	uint32_t reserved;
	uint64_t max_memory;	/* per client, bytes of task buffers */
};

struct vd_proto_caps {
	char name[VD_ACCEL_NAME_MAX];	/* NUL-terminated */
	uint32_t num_codecs;		/* <= 16 */
	uint32_t codecs[16];
	uint32_t min_fragment_size, max_fragment_size;
	uint32_t min_fragments, max_fragments;
};

struct vd_proto_open {
	char name[VD_ACCEL_NAME_MAX];	/* NUL-terminated */
};

struct vd_proto_open_reply {
	uint32_t session;
	uint32_t state;			/* enum vd_accel_session_state */
};

/* Every request on a session starts with this. */
struct vd_proto_session {
	uint32_t session;
	uint32_t reserved;		/* 0 */
};

struct vd_proto_codec_caps_req {
	struct vd_proto_session s;
	uint32_t codec;
	uint32_t reserved;
};

struct vd_proto_codec_caps {
	uint32_t codec;
	uint32_t formats, pcm_formats;
	uint32_t min_rate, max_rate;
	uint32_t out_rate_min, out_rate_max;
	uint32_t max_channels;
	uint32_t num_qualities;
};

struct vd_proto_params {
	uint32_t codec;
	uint32_t in_format, in_rate, in_channels;
	uint32_t out_format, out_rate, out_channels;
	uint32_t quality;
	uint32_t fragment_size;
	uint32_t fragments;
};

struct vd_proto_params_req {
	struct vd_proto_session s;
	struct vd_proto_params p;
};

/* CREATE and START requests and replies (the descriptors travel out of band). */
struct vd_proto_task {
	uint64_t seqno;
	uint64_t origin_seqno;
	uint64_t input_size;
	uint32_t flags;
	uint32_t reserved;
};

struct vd_proto_task_req {
	struct vd_proto_session s;
	struct vd_proto_task t;
};

struct vd_proto_seqno_req {
	struct vd_proto_session s;
	uint64_t seqno;
};

struct vd_proto_status {
	uint64_t seqno;
	uint64_t input_size;
	uint64_t output_size;
	uint32_t output_flags;
	uint8_t state;
	uint8_t reserved[3];
};

struct vd_proto_status_req {
	struct vd_proto_session s;
	struct vd_proto_status st;
};

/* RING_POLL: exact = 1 makes the daemon keep the poll fd's readiness exact. */
struct vd_proto_ring_poll_req {
	struct vd_proto_session s;
	uint32_t exact;
	uint32_t reserved;
};

/*
 * STREAM: one of the kernel's streaming-only ioctls (TSTAMP, AVAIL, PAUSE,
 * RESUME, START, STOP, DRAIN, NEXT_TRACK, PARTIAL_DRAIN), named by its
 * command number (_IOC_NR, e.g. 0x32 for SNDRV_COMPRESS_START), sent by a
 * client that forwards a compress device's ioctls. Answered as an accel
 * device answers them: -ENOTTY.
 */
struct vd_proto_stream_req {
	struct vd_proto_session s;
	uint32_t ioctl_nr;
	uint32_t reserved;
};

struct vd_proto_adjust_req {
	struct vd_proto_session s;
	double adjust;
};

/* GET_METADATA reply (request: vd_proto_seqno_req). */
struct vd_proto_metadata {
	uint32_t codec, flags;
	uint32_t rate, channels, bits, bitrate;
	uint64_t total_frames;
	uint32_t decoded_format, out_format, out_rate, out_channels;
	uint64_t frames_decoded, frames_out;
	uint32_t streams, changes;
	uint64_t damaged;
	int32_t error;
	uint32_t reserved;
	char error_text[VD_ACCEL_META_TEXT_MAX];	/* NUL-terminated */
};

/* ---- the status page (docs/protocol.md, "Status page") ---- */

#define VD_PROTO_PAGE_MAGIC	0x54534456u	/* "VDST" */
#define VD_PROTO_PAGE_SIZE	8192u
#define VD_PROTO_PAGE_ENTRIES	64u		/* = VD_ACCEL_MAX_TASKS */

/* Every field is read and written with __atomic builtins: the page is
 * shared memory another process (or a misbehaving client) may touch. */
struct vd_proto_page_entry {
	uint32_t seq;		/* sequence lock: odd while written */
	uint8_t used;		/* a created, not yet freed task */
	uint8_t state;		/* enum vd_accel_task_state */
	uint8_t reserved[2];
	uint32_t output_flags;
	uint32_t reserved2;
	uint64_t seqno;
	uint64_t input_size;
	uint64_t output_size;
	uint64_t starts;	/* successful STARTs of this task */
	uint64_t in_len;	/* bytes of its input buffer */
	uint64_t reserved3;
};

struct vd_proto_page {
	uint32_t magic;
	uint32_t version;
	uint32_t seq;		/* sequence lock of the header fields */
	uint32_t state;		/* enum vd_accel_session_state */
	uint32_t fragment_size;
	uint32_t granule;
	uint32_t entries;
	uint32_t fragments;	/* the active-task limit (POLLOUT) */
	int32_t error;		/* the ring failed: -errno (written once) */
	uint32_t reserved[7];
	struct vd_proto_page_entry e[VD_PROTO_PAGE_ENTRIES];
	char error_text[VD_PROTO_MAX_ERRMSG];	/* why, NUL-terminated, before error is set */
};

/* ---- the submission ring (docs/protocol.md, "Submission ring") ---- */

#define VD_PROTO_RING_MAGIC	0x47524456u	/* "VDRG" */
#define VD_PROTO_RING_VERSION	1u
#define VD_PROTO_RING_SIZE	4096u		/* bytes of its memfd */
#define VD_PROTO_RING_ENTRIES	64u

/* ring features (the header's `features`, 0 from daemons without any) */
#define VD_PROTO_RING_F_STOP	(1u << 0)	/* entries may be STOPs */

/* what an entry asks (its `op`) */
enum {
	VD_PROTO_RING_OP_START = 0,	/* a TASK_START's task */
	VD_PROTO_RING_OP_STOP = 1,	/* a TASK_STOP of seqno; VD_PROTO_RING_F_STOP */
};

struct vd_proto_ring_entry {
	uint64_t seqno;
	uint64_t origin_seqno;
	uint64_t input_size;
	uint32_t flags;
	uint32_t op;
};

/* Shared read-write by client and daemon: every field is accessed with
 * __atomic builtins, and the daemon trusts none of it. */
struct vd_proto_ring {
	uint32_t magic, version, size, features;
	/* written by the client */
	uint32_t tail;		/* entries published (free-running) */
	uint32_t client_wait;	/* 1: blocked on notify, signal it */
	uint32_t reserved1[14];
	/* written by the daemon */
	uint32_t head;		/* entries consumed (free-running) */
	uint32_t need_wakeup;	/* 1: the worker sleeps, kick it */
	uint32_t reserved2[14];
	struct vd_proto_ring_entry e[VD_PROTO_RING_ENTRIES];
};

/**
 * vd_proto_ring_fetch() - copy entry @head out of ring @r into @out, once,
 * and check the copy. @tail is the value the consumer read (once). Returns
 * 1 when an entry was copied, 0 when the ring is empty (head == tail), or
 * -EPROTO when the indices or the copied entry are malformed (@why says
 * which). *@op is then VD_PROTO_RING_OP_START, with @out the task START to
 * run (fds -1), or VD_PROTO_RING_OP_STOP, with @out->seqno the task to
 * stop (never 0) and every other field 0.
 */
int vd_proto_ring_fetch(const struct vd_proto_ring *r, uint32_t head, uint32_t tail,
			uint32_t *op, struct vd_accel_task *out, const char **why);

/** A consistent copy of the page's header fields, or -EAGAIN after many torn reads. */
int vd_proto_page_read_header(const struct vd_proto_page *pg, uint32_t *state,
			      uint32_t *fragment_size, uint32_t *granule, uint32_t *fragments);
/** A consistent copy of entry @i (0 on success, -EAGAIN after many torn reads). */
int vd_proto_page_read_entry(const struct vd_proto_page *pg, unsigned i, struct vd_proto_page_entry *out);

/** A request as the server sees it after validation. */
struct vd_proto_request {
	struct vd_proto_hdr hdr;
	uint32_t session;		/* 0 for requests without one */
	union {
		char name[VD_ACCEL_NAME_MAX];	/* OPEN */
		uint32_t codec;			/* GET_CODEC_CAPS */
		struct vd_accel_params params;	/* SET_PARAMS, RECONFIGURE */
		struct vd_accel_task task;	/* CREATE, START (fds -1) */
		uint64_t seqno;			/* STOP, FREE, GET_METADATA */
		struct vd_accel_task_status status; /* STATUS */
		double adjust;			/* SET_ADJUST */
		uint32_t exact;			/* RING_POLL */
		uint32_t ioctl_nr;		/* STREAM */
	} u;
};

/** Name of a message type ("TASK_START"), or "?" */
const char *vd_proto_type_name(uint32_t type);
/** Name of a compress-offload streaming ioctl by _IOC_NR ("SNDRV_COMPRESS_START"), or NULL. */
const char *vd_proto_stream_ioctl_name(uint32_t nr);

/**
 * vd_proto_parse_header() - check the framing of one received record.
 * @buf, @n: the record; @nfds: descriptors that came with it.
 * Returns 0, or a negative errno naming what is wrong (the peer is then
 * disconnected): -EBADMSG (short record, bad magic, length or fd count not
 * matching the header), -EPROTONOSUPPORT (version), -EMSGSIZE (payload
 * larger than VD_PROTO_MAX_PAYLOAD). @hdr is filled whenever n >= 24.
 */
int vd_proto_parse_header(const void *buf, size_t n, unsigned nfds, struct vd_proto_hdr *hdr);

/**
 * vd_proto_parse_request() - decode a request (header already checked or
 * not: it is checked again). Returns 0; -ENOSYS for an unknown type (the
 * frame is well formed: the server replies and keeps the client); any other
 * negative errno for a malformed request (wrong payload size, descriptors
 * attached, reply flag set, non-zero reserved fields, unterminated name):
 * the server disconnects. @why, if not NULL, gets a static explanation.
 */
int vd_proto_parse_request(const void *buf, size_t n, unsigned nfds,
			   struct vd_proto_request *req, const char **why);

/** Build a message header in @buf (at least VD_PROTO_HDR_SIZE bytes). */
void vd_proto_put_header(void *buf, uint32_t type, uint32_t id, int32_t result,
			 uint32_t len, uint16_t nfds, uint16_t flags);

/* Conversions between the public structures and their wire layouts. */
void vd_proto_caps_to_wire(const struct vd_accel_caps *c, struct vd_proto_caps *w);
int vd_proto_caps_from_wire(const struct vd_proto_caps *w, struct vd_accel_caps *c);
void vd_proto_codec_caps_to_wire(const struct vd_accel_codec_caps *c, struct vd_proto_codec_caps *w);
void vd_proto_codec_caps_from_wire(const struct vd_proto_codec_caps *w, struct vd_accel_codec_caps *c);
void vd_proto_params_to_wire(const struct vd_accel_params *p, struct vd_proto_params *w);
void vd_proto_params_from_wire(const struct vd_proto_params *w, struct vd_accel_params *p);
void vd_proto_task_to_wire(const struct vd_accel_task *t, struct vd_proto_task *w);
void vd_proto_task_from_wire(const struct vd_proto_task *w, struct vd_accel_task *t);
void vd_proto_status_to_wire(const struct vd_accel_task_status *s, struct vd_proto_status *w);
void vd_proto_status_from_wire(const struct vd_proto_status *w, struct vd_accel_task_status *s);
void vd_proto_metadata_to_wire(const struct vd_accel_metadata *m, struct vd_proto_metadata *w);
void vd_proto_metadata_from_wire(const struct vd_proto_metadata *w, struct vd_accel_metadata *m);

/**
 * vd_proto_parse_reply() - check a reply to request (@type, @id) on the
 * client side: framing, the echoed type and id, and for a success the exact
 * payload size @want (or, when @want_max is set, any size up to it) and fd
 * count @want_fds. On success returns the header's result (>= 0) and points
 * @payload at the payload; on an error reply returns its -errno and points
 * @errmsg at the daemon's message ("" when none). Returns -EPROTO for a
 * reply that breaks the protocol.
 */
int vd_proto_parse_reply(const void *buf, size_t n, unsigned nfds, uint32_t type, uint32_t id,
			 size_t want, int want_max, unsigned want_fds,
			 const void **payload, size_t *payload_len, const char **errmsg);

#endif
