/* daemon/ctl_proto.h - the control protocol's messages (docs/protocol.md,
 * "The control protocol"): parsing one request line into a checked request,
 * turning a client's value into a control's number, and the limits. Pure
 * functions of their input, shared by the server, the fuzzer and the tests. */
#ifndef VD_DAEMON_CTL_PROTO_H
#define VD_DAEMON_CTL_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "virtio_snd/virtio_snd.h"

#define VD_CTL_PROTO_VERSION	1
#define VD_CTL_MAX_LINE		262144	/* bytes of one request, its '\n' included */
#define VD_CTL_MAX_DEPTH	4
#define VD_CTL_MAX_MEMBERS	16
#define VD_CTL_MAX_NAME		255
#define VD_CTL_MAX_TOPOLOGY	131072
#define VD_CTL_MAX_QUEUED	(1u << 20)	/* bytes waiting for a client to read */
#define VD_CTL_MAX_CLIENTS	64

enum vd_ctl_req_type {
	VD_CTL_REQ_HELLO,
	VD_CTL_REQ_STATUS,
	VD_CTL_REQ_GUESTS,
	VD_CTL_REQ_STREAMS,
	VD_CTL_REQ_NODES,
	VD_CTL_REQ_CONTROLS,
	VD_CTL_REQ_GET,
	VD_CTL_REQ_JACKS,
	VD_CTL_REQ_POWER,
	VD_CTL_REQ_SUBSCRIBE,
	VD_CTL_REQ_UNSUBSCRIBE,
	VD_CTL_REQ_SET,
	VD_CTL_REQ_TOPOLOGY,
	VD_CTL_REQ_COUNT
};

/* Event kinds, as bits of a subscription mask. */
enum vd_ctl_event_kind {
	VD_CTL_EVENT_GUEST,
	VD_CTL_EVENT_STREAM,
	VD_CTL_EVENT_CONTROL,
	VD_CTL_EVENT_JACK,
	VD_CTL_EVENT_POWER,
	VD_CTL_EVENT_TOPOLOGY,
	VD_CTL_EVENT_COUNT
};
#define VD_CTL_EVENTS_ALL	((1u << VD_CTL_EVENT_COUNT) - 1)

struct vd_ctl_request {
	enum vd_ctl_req_type type;
	struct json_object *root;	/* owned; the pointers below borrow from it */
	struct json_object *id;		/* NULL: absent (replies say null) */
	const char *guest;		/* NULL: absent */
	const char *control;		/* by name, or NULL when by id */
	int control_id;			/* -1: by name */
	struct json_object *value;	/* SET */
	const char *text;		/* TOPOLOGY */
	size_t text_len;
	bool defer;
	unsigned events;		/* SUBSCRIBE: mask */
};

/**
 * vd_ctl_request_parse() - parse and check one request line (@len bytes,
 * without its '\n'). Returns 0, or -errno (the protocol's error codes) with
 * @err saying what was wrong; on error req->id is still set when the line
 * was an object with an id, so the reply can echo it. Free with
 * vd_ctl_request_free() in both cases.
 */
int vd_ctl_request_parse(const char *line, size_t len, struct vd_ctl_request *req, char *err,
			 size_t errsz);
void vd_ctl_request_free(struct vd_ctl_request *req);

const char *vd_ctl_request_name(enum vd_ctl_req_type t);
/** Whether @t changes a guest (set, topology): the access model's writes. */
bool vd_ctl_request_writes(enum vd_ctl_req_type t);
const char *vd_ctl_event_name(enum vd_ctl_event_kind k);

/** "ENOENT" for -ENOENT or ENOENT; "EUNKNOWN" for codes the protocol does not use. */
const char *vd_ctl_errno_name(int err);

/** A control as seen by vd_ctl_value_parse(): its info and its items. */
struct vd_ctl_value_target {
	const char *guest;
	struct vd_snd_control_info info;
	const char *const *items;	/* info.n_items entries (enumerations) */
};

/**
 * vd_ctl_value_parse() - a client's @v (number, boolean, or string: a number
 * with an optional unit suffix, on/off/yes/no/true/false, an item name) as
 * the control's value in its units. Range and wholeness are checked:
 * -ERANGE, -EINVAL (not a value of this control), with @err naming the
 * control, the value and what would be accepted.
 */
int vd_ctl_value_parse(const struct json_object *v, const struct vd_ctl_value_target *t, double *out,
		       char *err, size_t errsz);

/** The value as people read it: "-6.0 dB", "on", "lowshelf", "440 Hz". */
void vd_ctl_value_text(const struct vd_ctl_value_target *t, double value, char *buf, size_t size);

/** A JSON number that prints compactly ("-6", "0.5"); null if not finite. */
struct json_object *vd_ctl_json_number(double v);

#endif
