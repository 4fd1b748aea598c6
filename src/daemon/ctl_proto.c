/* daemon/ctl_proto.c - parsing and checking control-protocol requests and
 * client values (see ctl_proto.h). Everything here reads untrusted bytes:
 * json-c's strict tokener with a depth limit does the JSON, this file
 * bounds everything else (members, names, text) before anything is used. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/ctl_proto.h"

static const char *const req_names[VD_CTL_REQ_COUNT] = {
	[VD_CTL_REQ_HELLO] = "hello",
	[VD_CTL_REQ_STATUS] = "status",
	[VD_CTL_REQ_GUESTS] = "guests",
	[VD_CTL_REQ_STREAMS] = "streams",
	[VD_CTL_REQ_NODES] = "nodes",
	[VD_CTL_REQ_CONTROLS] = "controls",
	[VD_CTL_REQ_GET] = "get",
	[VD_CTL_REQ_JACKS] = "jacks",
	[VD_CTL_REQ_POWER] = "power",
	[VD_CTL_REQ_SUBSCRIBE] = "subscribe",
	[VD_CTL_REQ_UNSUBSCRIBE] = "unsubscribe",
	[VD_CTL_REQ_SET] = "set",
	[VD_CTL_REQ_TOPOLOGY] = "topology",
};

static const char *const event_names[VD_CTL_EVENT_COUNT] = {
	[VD_CTL_EVENT_GUEST] = "guest",
	[VD_CTL_EVENT_STREAM] = "stream",
	[VD_CTL_EVENT_CONTROL] = "control",
	[VD_CTL_EVENT_JACK] = "jack",
	[VD_CTL_EVENT_POWER] = "power",
	[VD_CTL_EVENT_TOPOLOGY] = "topology",
};

/* Members each request takes besides request, id and version. */
enum { M_GUEST = 1, M_GUEST_OPT = 2, M_CONTROL = 4, M_VALUE = 8, M_TEXT = 16, M_DEFER = 32, M_EVENTS = 64 };
static const unsigned req_members[VD_CTL_REQ_COUNT] = {
	[VD_CTL_REQ_STREAMS] = M_GUEST_OPT,
	[VD_CTL_REQ_NODES] = M_GUEST,
	[VD_CTL_REQ_CONTROLS] = M_GUEST,
	[VD_CTL_REQ_GET] = M_GUEST | M_CONTROL,
	[VD_CTL_REQ_JACKS] = M_GUEST,
	[VD_CTL_REQ_SUBSCRIBE] = M_EVENTS,
	[VD_CTL_REQ_SET] = M_GUEST | M_CONTROL | M_VALUE,
	[VD_CTL_REQ_TOPOLOGY] = M_GUEST | M_TEXT | M_DEFER,
};

const char *vd_ctl_request_name(enum vd_ctl_req_type t)
{
	return (unsigned)t < VD_CTL_REQ_COUNT ? req_names[t] : "?";
}

bool vd_ctl_request_writes(enum vd_ctl_req_type t)
{
	return t == VD_CTL_REQ_SET || t == VD_CTL_REQ_TOPOLOGY;
}

const char *vd_ctl_event_name(enum vd_ctl_event_kind k)
{
	return (unsigned)k < VD_CTL_EVENT_COUNT ? event_names[k] : "?";
}

const char *vd_ctl_errno_name(int err)
{
	static const struct { int e; const char *name; } names[] = {
		{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EIO, "EIO" }, { E2BIG, "E2BIG" },
		{ EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" }, { EACCES, "EACCES" }, { EBUSY, "EBUSY" },
		{ EEXIST, "EEXIST" }, { EINVAL, "EINVAL" }, { EMFILE, "EMFILE" }, { EFBIG, "EFBIG" },
		{ ERANGE, "ERANGE" }, { ENAMETOOLONG, "ENAMETOOLONG" }, { ENOSYS, "ENOSYS" },
		{ EPROTO, "EPROTO" }, { EMSGSIZE, "EMSGSIZE" }, { EPROTONOSUPPORT, "EPROTONOSUPPORT" },
		{ ENOTCONN, "ENOTCONN" }, { ETIMEDOUT, "ETIMEDOUT" }, { ECONNREFUSED, "ECONNREFUSED" },
	};

	if (err < 0)
		err = -err;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == err)
			return names[i].name;
	return "EUNKNOWN";
}

static int fail(char *err, size_t errsz, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errsz, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return code;
}

/* A name member: a string of 1..VD_CTL_MAX_NAME bytes without NUL. */
static int get_name(struct json_object *o, const char *member, const char **out, char *err, size_t errsz)
{
	size_t n;

	if (!json_object_is_type(o, json_type_string))
		return fail(err, errsz, -EPROTO, "'%s' must be a string", member);
	n = (size_t)json_object_get_string_len(o);
	if (n == 0)
		return fail(err, errsz, -EINVAL, "'%s' is empty", member);
	if (n > VD_CTL_MAX_NAME)
		return fail(err, errsz, -ENAMETOOLONG, "'%s' is %zu bytes long, at most %d", member, n,
			    VD_CTL_MAX_NAME);
	*out = json_object_get_string(o);
	if (strlen(*out) != n)
		return fail(err, errsz, -EINVAL, "'%s' contains a NUL character", member);
	return 0;
}

static int get_events(struct json_object *o, unsigned *mask, char *err, size_t errsz)
{
	size_t n;

	if (!json_object_is_type(o, json_type_array))
		return fail(err, errsz, -EPROTO, "'events' must be an array of event kinds");
	n = json_object_array_length(o);
	if (n > VD_CTL_MAX_MEMBERS)
		return fail(err, errsz, -E2BIG, "'events' has %zu entries, at most %d", n, VD_CTL_MAX_MEMBERS);
	*mask = 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(o, i);
		const char *s;
		unsigned k;

		if (!json_object_is_type(e, json_type_string))
			return fail(err, errsz, -EPROTO, "'events' must be an array of event kinds");
		s = json_object_get_string(e);
		for (k = 0; k < VD_CTL_EVENT_COUNT; k++)
			if (strcmp(s, event_names[k]) == 0)
				break;
		if (k == VD_CTL_EVENT_COUNT)
			return fail(err, errsz, -EINVAL, "unknown event kind '%.64s' (known: guest, stream, "
				    "control, jack, power, topology)", s);
		*mask |= 1u << k;
	}
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int vd_ctl_request_parse(const char *line, size_t len, struct vd_ctl_request *req, char *err,
			 size_t errsz)
{
	struct json_tokener *tok;
	struct json_object *root, *rq = NULL;
	unsigned have = 0, allowed;
	size_t end;
	int t;

	memset(req, 0, sizeof(*req));
	req->control_id = -1;
	req->events = VD_CTL_EVENTS_ALL;
	if (len >= VD_CTL_MAX_LINE)
		return fail(err, errsz, -EMSGSIZE, "request of %zu bytes, at most %d", len, VD_CTL_MAX_LINE - 1);
	if (memchr(line, '\0', len))
		return fail(err, errsz, -EPROTO, "the line contains a NUL byte");
	tok = json_tokener_new_ex(VD_CTL_MAX_DEPTH);
	if (!tok)
		return fail(err, errsz, -ENOMEM, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, line, (int)len);
	if (!root) {
		enum json_tokener_error je = json_tokener_get_error(tok);

		json_tokener_free(tok);
		if (je == json_tokener_error_depth)
			return fail(err, errsz, -EPROTO, "JSON nested deeper than %d levels", VD_CTL_MAX_DEPTH);
		if (je == json_tokener_continue)
			return fail(err, errsz, -EPROTO, "not JSON: the line ends inside a value");
		return fail(err, errsz, -EPROTO, "not JSON: %s", json_tokener_error_desc(je));
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	req->root = root;
	while (end < len && is_space(line[end]))
		end++;
	if (end < len)
		return fail(err, errsz, -EPROTO, "not JSON: extra characters after the value at byte %zu", end);
	if (!json_object_is_type(root, json_type_object))
		return fail(err, errsz, -EPROTO, "a request must be a JSON object");
	if (json_object_object_length(root) > VD_CTL_MAX_MEMBERS)
		return fail(err, errsz, -E2BIG, "a request has at most %d members, this one %d",
			    VD_CTL_MAX_MEMBERS, json_object_object_length(root));

	/* the id first, so that every later refusal can echo it */
	if (json_object_object_get_ex(root, "id", &req->id)) {
		json_type jt = json_object_get_type(req->id);

		if (jt == json_type_object || jt == json_type_array) {
			req->id = NULL;
			return fail(err, errsz, -EPROTO, "'id' must be a number, a string, a boolean or null");
		}
		if (jt == json_type_string && json_object_get_string_len(req->id) > VD_CTL_MAX_NAME) {
			req->id = NULL;
			return fail(err, errsz, -ENAMETOOLONG, "'id' is longer than %d bytes", VD_CTL_MAX_NAME);
		}
		if (jt == json_type_null)
			req->id = NULL;
	}
	if (!json_object_object_get_ex(root, "request", &rq))
		return fail(err, errsz, -EINVAL, "no 'request' member (e.g. \"request\": \"status\")");
	if (!json_object_is_type(rq, json_type_string))
		return fail(err, errsz, -EPROTO, "'request' must be a string");
	for (t = 0; t < VD_CTL_REQ_COUNT; t++)
		if (strcmp(json_object_get_string(rq), req_names[t]) == 0)
			break;
	if (t == VD_CTL_REQ_COUNT)
		return fail(err, errsz, -EINVAL, "unknown request '%.64s'", json_object_get_string(rq));
	req->type = (enum vd_ctl_req_type)t;
	allowed = req_members[t];

	json_object_object_foreach(root, key, val) {
		int r = 0;

		if (strcmp(key, "request") == 0 || strcmp(key, "id") == 0)
			continue;
		if (strcmp(key, "version") == 0) {
			if (!json_object_is_type(val, json_type_int))
				return fail(err, errsz, -EPROTO, "'version' must be an integer");
			if (json_object_get_int64(val) != VD_CTL_PROTO_VERSION)
				return fail(err, errsz, -EPROTONOSUPPORT, "protocol version %lld is not spoken "
					    "here; this daemon speaks version %d",
					    (long long)json_object_get_int64(val), VD_CTL_PROTO_VERSION);
		} else if (strcmp(key, "guest") == 0 && (allowed & (M_GUEST | M_GUEST_OPT))) {
			r = get_name(val, "guest", &req->guest, err, errsz);
			have |= M_GUEST;
		} else if (strcmp(key, "control") == 0 && (allowed & M_CONTROL)) {
			if (json_object_is_type(val, json_type_int)) {
				int64_t id = json_object_get_int64(val);

				if (id < 0 || id > 65535)
					return fail(err, errsz, -ENOENT, "no control %lld (ids are 0 and up)",
						    (long long)id);
				req->control_id = (int)id;
			} else {
				r = get_name(val, "control", &req->control, err, errsz);
			}
			have |= M_CONTROL;
		} else if (strcmp(key, "value") == 0 && (allowed & M_VALUE)) {
			json_type jt = json_object_get_type(val);

			if (jt != json_type_int && jt != json_type_double && jt != json_type_boolean &&
			    jt != json_type_string)
				return fail(err, errsz, -EPROTO, "'value' must be a number, a boolean or a string");
			if (jt == json_type_string && json_object_get_string_len(val) > VD_CTL_MAX_NAME)
				return fail(err, errsz, -ENAMETOOLONG, "'value' is longer than %d bytes",
					    VD_CTL_MAX_NAME);
			req->value = val;
			have |= M_VALUE;
		} else if (strcmp(key, "text") == 0 && (allowed & M_TEXT)) {
			if (!json_object_is_type(val, json_type_string))
				return fail(err, errsz, -EPROTO, "'text' must be a string (the topology file's content)");
			req->text_len = (size_t)json_object_get_string_len(val);
			if (req->text_len > VD_CTL_MAX_TOPOLOGY)
				return fail(err, errsz, -EFBIG, "the topology is %zu bytes, at most %d",
					    req->text_len, VD_CTL_MAX_TOPOLOGY);
			req->text = json_object_get_string(val);
			if (strlen(req->text) != req->text_len)
				return fail(err, errsz, -EINVAL, "'text' contains a NUL character");
			have |= M_TEXT;
		} else if (strcmp(key, "defer") == 0 && (allowed & M_DEFER)) {
			if (!json_object_is_type(val, json_type_boolean))
				return fail(err, errsz, -EPROTO, "'defer' must be true or false");
			req->defer = json_object_get_boolean(val);
		} else if (strcmp(key, "events") == 0 && (allowed & M_EVENTS)) {
			r = get_events(val, &req->events, err, errsz);
		} else {
			return fail(err, errsz, -EINVAL, "unknown member '%.64s' in a '%s' request", key,
				    req_names[t]);
		}
		if (r < 0)
			return r;
	}
	if ((allowed & M_GUEST) && !(have & M_GUEST))
		return fail(err, errsz, -EINVAL, "'%s' needs a 'guest'", req_names[t]);
	if ((allowed & M_CONTROL) && !(have & M_CONTROL))
		return fail(err, errsz, -EINVAL, "'%s' needs a 'control' (a name or an id)", req_names[t]);
	if ((allowed & M_VALUE) && !(have & M_VALUE))
		return fail(err, errsz, -EINVAL, "'set' needs a 'value'");
	if ((allowed & M_TEXT) && !(have & M_TEXT))
		return fail(err, errsz, -EINVAL, "'topology' needs the topology's 'text'");
	return 0;
}

void vd_ctl_request_free(struct vd_ctl_request *req)
{
	json_object_put(req->root);
	req->root = NULL;
}

/* ---- values ---- */

static const char *unit_name(enum vd_unit u)
{
	switch (u) {
	case VD_UNIT_DB: return "dB";
	case VD_UNIT_HZ: return "Hz";
	case VD_UNIT_SECONDS: return "s";
	default: return "";
	}
}

static void number_text(const struct vd_ctl_value_target *t, double v, char *buf, size_t size)
{
	const char *u = unit_name(t->info.unit);

	if (t->info.unit == VD_UNIT_DB)
		snprintf(buf, size, "%.1f dB", v);
	else
		snprintf(buf, size, "%g%s%s", v, u[0] ? " " : "", u);
}

void vd_ctl_value_text(const struct vd_ctl_value_target *t, double value, char *buf, size_t size)
{
	if (t->info.type == VD_PARAM_BOOL) {
		snprintf(buf, size, "%s", value != 0 ? "on" : "off");
	} else if (t->info.type == VD_PARAM_ENUM && value >= 0 && value < t->info.n_items &&
		   t->items && t->items[(unsigned)value]) {
		snprintf(buf, size, "%s", t->items[(unsigned)value]);
	} else {
		number_text(t, value, buf, size);
	}
}

static int word_bool(const char *s, double *out)
{
	static const char *const on[] = { "on", "yes", "true", "1" }, *const off[] = { "off", "no", "false", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, on[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, off[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

/* A number with an optional suffix in the control's unit. */
static int parse_number(const char *s, enum vd_unit unit, double *out)
{
	char *end;
	double v, scale = 1;

	while (is_space(*s))
		s++;
	if (!*s)
		return -EINVAL;
	v = strtod(s, &end);
	if (end == s)
		return -EINVAL;
	while (is_space(*end))
		end++;
	if (*end) {
		if (unit == VD_UNIT_DB && strcasecmp(end, "dB") == 0)
			scale = 1;
		else if (unit == VD_UNIT_HZ && strcasecmp(end, "Hz") == 0)
			scale = 1;
		else if (unit == VD_UNIT_HZ && strcasecmp(end, "kHz") == 0)
			scale = 1000;
		else if (unit == VD_UNIT_SECONDS && strcmp(end, "s") == 0)
			scale = 1;
		else if (unit == VD_UNIT_SECONDS && strcmp(end, "ms") == 0)
			scale = 1e-3;
		else if (unit == VD_UNIT_SECONDS && strcmp(end, "us") == 0)
			scale = 1e-6;
		else
			return -EINVAL;
	}
	*out = v * scale;
	return 0;
}

static const char *type_word(enum vd_param_type t)
{
	switch (t) {
	case VD_PARAM_BOOL: return "switch";
	case VD_PARAM_INT: return "integer";
	case VD_PARAM_ENUM: return "enumeration";
	default: return "number";
	}
}

int vd_ctl_value_parse(const struct json_object *cv, const struct vd_ctl_value_target *t, double *out,
		       char *err, size_t errsz)
{
	struct json_object *v = (struct json_object *)cv;	/* json-c's getters are not const */
	const struct vd_snd_control_info *in = &t->info;
	char lo[64], hi[64], shown[64];
	double d = NAN;

	switch (json_object_get_type(v)) {
	case json_type_boolean:
		if (in->type != VD_PARAM_BOOL)
			return fail(err, errsz, -EINVAL, "control '%s' of guest '%s' is a %s, not a switch: "
				    "give a number", in->name, t->guest, type_word(in->type));
		d = json_object_get_boolean(v) ? 1 : 0;
		break;
	case json_type_int:
	case json_type_double:
		d = json_object_get_double(v);
		break;
	case json_type_string: {
		const char *s = json_object_get_string(v);

		if (in->type == VD_PARAM_BOOL && word_bool(s, &d) == 0)
			break;
		if (in->type == VD_PARAM_ENUM) {
			for (unsigned i = 0; i < in->n_items; i++)
				if (t->items && t->items[i] && strcasecmp(s, t->items[i]) == 0) {
					d = i;
					break;
				}
			if (!isnan(d))
				break;
		}
		if (parse_number(s, in->type == VD_PARAM_ENUM || in->type == VD_PARAM_BOOL ? VD_UNIT_NONE
				 : in->unit, &d) < 0) {
			if (in->type == VD_PARAM_ENUM) {
				size_t n = 0;
				char items[512] = "";

				for (unsigned i = 0; i < in->n_items && n < sizeof(items); i++)
					n += (size_t)snprintf(items + n, sizeof(items) - n, "%s%s", i ? ", " : "",
							      t->items && t->items[i] ? t->items[i] : "?");
				return fail(err, errsz, -EINVAL, "control '%s' of guest '%s' has no item '%.64s' "
					    "(items: %s)", in->name, t->guest, s, items);
			}
			if (in->type == VD_PARAM_BOOL)
				return fail(err, errsz, -EINVAL, "control '%s' of guest '%s' is a switch: '%.64s' "
					    "is not on/off, yes/no, true/false or 1/0", in->name, t->guest, s);
			return fail(err, errsz, -EINVAL, "control '%s' of guest '%s': '%.64s' is not a number%s%s",
				    in->name, t->guest, s, unit_name(in->unit)[0] ? " in " : "",
				    unit_name(in->unit));
		}
		break;
	}
	default:
		return fail(err, errsz, -EPROTO, "'value' must be a number, a boolean or a string");
	}
	if (!isfinite(d))
		return fail(err, errsz, -ERANGE, "control '%s' of guest '%s': the value is not a finite number",
			    in->name, t->guest);
	if (in->type != VD_PARAM_FLOAT && fabs(d - round(d)) > 1e-9)
		return fail(err, errsz, -ERANGE, "control '%s' of guest '%s' is a%s %s: %g is not a whole number",
			    in->name, t->guest, in->type == VD_PARAM_INT || in->type == VD_PARAM_ENUM ? "n" : "",
			    type_word(in->type), d);
	if (d < in->min - 1e-9 || d > in->max + 1e-9) {
		if (in->type == VD_PARAM_ENUM) {
			return fail(err, errsz, -ERANGE, "control '%s' of guest '%s': item %g does not exist "
				    "(0 to %u)", in->name, t->guest, d, in->n_items ? in->n_items - 1 : 0);
		}
		number_text(t, d, shown, sizeof(shown));
		number_text(t, in->min, lo, sizeof(lo));
		number_text(t, in->max, hi, sizeof(hi));
		return fail(err, errsz, -ERANGE, "control '%s' of guest '%s': %s is outside %s to %s", in->name,
			    t->guest, shown, lo, hi);
	}
	*out = d;
	return 0;
}

struct json_object *vd_ctl_json_number(double v)
{
	char buf[40];

	if (!isfinite(v))
		return NULL;
	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		return json_object_new_int64((int64_t)v);
	snprintf(buf, sizeof(buf), "%.10g", v);
	return json_object_new_double_s(v, buf);
}
