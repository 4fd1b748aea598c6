/* daemon/ctl_server.c - the control socket (see ctl_server.h): accepting
 * clients and identifying them, line framing with bounded buffers in both
 * directions, answering requests from the guests' devices, the access check
 * for writes, and fanning events out to subscribers. Runs on the loop's
 * thread; nothing here ever blocks on a client. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/ctl_server.h"
#include "daemon/listen.h"

#define READ_CHUNK	65536
#define IN_START	4096

struct client {
	struct vd_ctl_server *srv;
	int fd;
	struct vd_loop_watch *watch;
	uint32_t watching;		/* epoll events asked for now */
	uid_t uid;
	pid_t pid;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off, out_cap;
	unsigned events;		/* subscribed kinds */
	bool closing;			/* no more reading: close once the output is written */
	bool dead;
};

struct vd_ctl_server {
	struct vd_loop *loop;
	struct vd_ctl_server_config cfg;
	char *path;
	int listen_fd;
	struct vd_loop_watch *listen_watch;
	uid_t uid;
	double t0;
	struct client *clients[VD_CTL_MAX_CLIENTS];
	struct client *busy;		/* whose callback runs: freed by it, not under it */
	struct vd_ctl_server_stats st;
};

static const char *const power_names[] = { "active", "idle", "suspended" };
static const char *const kind_names[] = { "source", "sink", "attach", "node" };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void slog(struct vd_ctl_server *srv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void slog(struct vd_ctl_server *srv, const char *fmt, ...)
{
	char line[768];
	va_list ap;

	if (!srv->cfg.log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	srv->cfg.log(srv->cfg.log_data, line);
}

/* ---- clients ---- */

static void client_free(struct client *c)
{
	free(c->in);
	free(c->out);
	free(c);
}

static void client_drop(struct client *c, const char *why)
{
	struct vd_ctl_server *srv = c->srv;

	if (c->dead)
		return;
	if (why) {
		srv->st.dropped++;
		slog(srv, "control client pid %d uid %u disconnected: %s", (int)c->pid, (unsigned)c->uid, why);
	}
	vd_loop_remove(c->watch);
	c->watch = NULL;
	close(c->fd);
	c->fd = -1;
	c->dead = true;
	for (unsigned i = 0; i < VD_CTL_MAX_CLIENTS; i++)
		if (srv->clients[i] == c)
			srv->clients[i] = NULL;
	srv->st.clients--;
	if (c->events)
		srv->st.subscribers--;
	if (srv->busy != c)
		client_free(c);
}

static void client_rewatch(struct client *c)
{
	uint32_t want = (c->closing ? 0 : EPOLLIN) | (c->out_len > c->out_off ? EPOLLOUT : 0);

	if (c->dead || want == c->watching)
		return;
	if (vd_loop_mod_fd(c->watch, want) < 0) {
		client_drop(c, "cannot watch its socket");
		return;
	}
	c->watching = want;
}

static void client_flush(struct client *c)
{
	while (!c->dead && c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			client_drop(c, NULL);	/* it went away: nothing to tell anyone */
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->closing && c->out_len == 0) {
		client_drop(c, NULL);
		return;
	}
	client_rewatch(c);
}

/* Queue one line; a client that lets 1 MiB pile up is not reading and goes. */
static void client_queue(struct client *c, const char *s, size_t n)
{
	size_t pending;

	if (c->dead)
		return;
	pending = c->out_len - c->out_off;
	if (pending + n + 1 > VD_CTL_MAX_QUEUED) {
		client_drop(c, "not reading its replies and events (1 MiB queued)");
		return;
	}
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, pending);
		c->out_len = pending;
		c->out_off = 0;
	}
	if (c->out_len + n + 1 > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *p;

		while (cap < c->out_len + n + 1)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p) {
			client_drop(c, "out of memory for its replies");
			return;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, n);
	c->out[c->out_len + n] = '\n';
	c->out_len += n + 1;
	client_flush(c);
}

static void client_send(struct client *c, struct json_object *o)
{
	size_t n;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);

	if (s)
		client_queue(c, s, n);
}

/* ---- JSON helpers (json-c's adders take ownership, NULL is null) ---- */

static void add(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

static void add_str(struct json_object *o, const char *key, const char *s)
{
	add(o, key, s ? json_object_new_string(s) : NULL);
}

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	add(o, key, json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v));
}

static void add_bool(struct json_object *o, const char *key, bool v)
{
	add(o, key, json_object_new_boolean(v));
}

static void add_num(struct json_object *o, const char *key, double v)
{
	add(o, key, vd_ctl_json_number(v));
}

/* ---- replies ---- */

struct reply {
	int code;			/* 0 or -errno */
	char msg[2048];
	struct json_object *result;
};

static int refuse(struct reply *rp, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(struct reply *rp, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rp->msg, sizeof(rp->msg), fmt, ap);
	va_end(ap);
	rp->code = code;
	return code;
}

static void send_reply(struct client *c, struct json_object *id, struct reply *rp)
{
	struct json_object *o = json_object_new_object();

	add(o, "id", id ? json_object_get(id) : NULL);
	add_bool(o, "ok", rp->code == 0);
	if (rp->code == 0) {
		add(o, "result", rp->result ? rp->result : json_object_new_object());
	} else {
		struct json_object *e = json_object_new_object();

		add_str(e, "code", vd_ctl_errno_name(rp->code));
		add(e, "errno", json_object_new_int(-rp->code));
		add_str(e, "message", rp->msg);
		add(o, "error", e);
		json_object_put(rp->result);
		c->srv->st.errors++;
	}
	rp->result = NULL;
	client_send(c, o);
	json_object_put(o);
}

/* ---- looking things up ---- */

static struct vd_guest *find_guest(struct vd_ctl_server *srv, const char *name, struct reply *rp)
{
	char list[512] = "";
	size_t n = 0;

	for (unsigned i = 0; i < srv->cfg.n_guests; i++)
		if (strcmp(vd_guest_name(srv->cfg.guests[i]), name) == 0)
			return srv->cfg.guests[i];
	for (unsigned i = 0; i < srv->cfg.n_guests && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
				      vd_guest_name(srv->cfg.guests[i]));
	if (srv->cfg.n_guests)
		refuse(rp, -ENOENT, "no guest '%s' (guests: %s)", name, list);
	else
		refuse(rp, -ENOENT, "no guest '%s' (the daemon serves no guests)", name);
	return NULL;
}

static void control_target(struct vd_guest *g, unsigned id, struct vd_ctl_value_target *t,
			   const char **items, unsigned max_items)
{
	struct vd_snd_dev *dev = vd_guest_dev(g);

	memset(t, 0, sizeof(*t));
	t->guest = vd_guest_name(g);
	vd_snd_dev_control_info(dev, id, &t->info);
	for (unsigned i = 0; i < t->info.n_items && i < max_items; i++)
		items[i] = vd_snd_dev_control_item(dev, id, i);
	if (t->info.n_items > max_items)
		t->info.n_items = max_items;
	t->items = items;
}

static int find_control(struct vd_guest *g, const struct vd_ctl_request *req, struct reply *rp)
{
	struct vd_snd_dev *dev = vd_guest_dev(g);
	unsigned count = vd_snd_dev_control_count(dev);
	char list[768] = "";
	size_t n = 0;
	int id;

	if (req->control_id >= 0) {
		if ((unsigned)req->control_id < count)
			return req->control_id;
		return refuse(rp, -ENOENT, "guest '%s' has no control %d (it has %u)", vd_guest_name(g),
			      req->control_id, count);
	}
	id = vd_snd_dev_control_find(dev, req->control);
	if (id >= 0)
		return id;
	for (unsigned i = 0; i < count && n < sizeof(list); i++) {
		struct vd_snd_control_info in;

		if (vd_snd_dev_control_info(dev, i, &in) == 0)
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s'%s'", i ? ", " : "", in.name);
	}
	if (count)
		return refuse(rp, -ENOENT, "guest '%s' has no control '%s' (controls: %s)", vd_guest_name(g),
			      req->control, list);
	return refuse(rp, -ENOENT, "guest '%s' has no control '%s' (its topology declares none)",
		      vd_guest_name(g), req->control);
}

static bool may_write(struct vd_ctl_server *srv, const struct client *c, struct vd_guest *g)
{
	uid_t owner;

	return c->uid == 0 || c->uid == srv->uid || (vd_guest_owner(g, &owner) && owner == c->uid);
}

/* ---- result objects ---- */

static const char *type_name(enum vd_param_type t)
{
	switch (t) {
	case VD_PARAM_BOOL: return "switch";
	case VD_PARAM_INT: return "integer";
	case VD_PARAM_ENUM: return "enum";
	default: return "number";
	}
}

static const char *unit_name(enum vd_unit u)
{
	switch (u) {
	case VD_UNIT_DB: return "dB";
	case VD_UNIT_HZ: return "Hz";
	case VD_UNIT_SECONDS: return "s";
	default: return "";
	}
}

static struct json_object *control_json(struct vd_guest *g, unsigned id)
{
	struct json_object *o = json_object_new_object();
	const char *items[64];
	struct vd_ctl_value_target t;
	char text[128];
	double v = 0;

	control_target(g, id, &t, items, 64);
	vd_snd_dev_get_control(vd_guest_dev(g), id, &v);
	add_str(o, "guest", vd_guest_name(g));
	add(o, "id", json_object_new_int((int)id));
	add_str(o, "name", t.info.name);
	add_str(o, "type", type_name(t.info.type));
	add_str(o, "unit", t.info.type == VD_PARAM_BOOL || t.info.type == VD_PARAM_ENUM ? ""
		: unit_name(t.info.unit));
	add_num(o, "min", t.info.min);
	add_num(o, "max", t.info.max);
	add_num(o, "step", t.info.step);
	add_num(o, "value", v);
	vd_ctl_value_text(&t, v, text, sizeof(text));
	add_str(o, "text", text);
	add_bool(o, "read_only", t.info.read_only);
	add_bool(o, "db", t.info.db);
	if (t.info.type == VD_PARAM_ENUM) {
		struct json_object *a = json_object_new_array();

		for (unsigned i = 0; i < t.info.n_items; i++)
			json_object_array_add(a, json_object_new_string(items[i] ? items[i] : ""));
		add(o, "items", a);
	}
	return o;
}

static struct json_object *stream_json(struct vd_guest *g, unsigned k)
{
	struct json_object *o = json_object_new_object();
	struct vd_snd_stream_stats ss;

	if (vd_snd_dev_stream_stats(vd_guest_dev(g), k, &ss) < 0)
		memset(&ss, 0, sizeof(ss));
	add_str(o, "guest", vd_guest_name(g));
	add(o, "index", json_object_new_int((int)k));
	add_str(o, "name", ss.name);
	add_str(o, "direction", ss.capture ? "capture" : "playback");
	add_str(o, "state", vd_guest_state_name(ss.state));
	add_str(o, "format", ss.have_params ? vd_format_name(ss.format) : NULL);
	add_u64(o, "rate", ss.have_params ? ss.rate : 0);
	add_u64(o, "channels", ss.have_params ? ss.channels : 0);
	add_u64(o, "period_frames", ss.period_frames);
	add_u64(o, "buffer_frames", ss.buffer_frames);
	add(o, "latency_ms", ss.have_params && ss.latency_frames && ss.rate ?
	    vd_ctl_json_number(1000.0 * ss.latency_frames / ss.rate) : NULL);
	add_u64(o, "completed", ss.completed);
	add_u64(o, "errors", ss.errors);
	add_u64(o, "frames", ss.frames);
	add_u64(o, "underruns", ss.underruns);
	add_u64(o, "xruns", ss.xruns);
	add_u64(o, "held", ss.held);
	return o;
}

static struct json_object *guest_json(struct vd_guest *g)
{
	struct json_object *o = json_object_new_object();
	struct vd_snd_dev *dev = vd_guest_dev(g);
	struct vd_guest_stats gs;
	bool pending;
	const char *src = vd_guest_topology_source(g, &pending);
	uid_t owner;

	vd_guest_get_stats(g, &gs);
	add_str(o, "name", vd_guest_name(g));
	add_str(o, "socket", vd_guest_socket(g));
	add_bool(o, "connected", gs.connected);
	add_u64(o, "connections", gs.connections);
	add_u64(o, "refused", gs.refused);
	add_u64(o, "faults", gs.faults);
	add_u64(o, "streams", gs.streams);
	add_u64(o, "controls", vd_snd_dev_control_count(dev));
	add_u64(o, "jacks", vd_snd_dev_jack_count(dev));
	add_bool(o, "controls_offered", vd_guest_controls_offered(g));
	add(o, "owner", vd_guest_owner(g, &owner) ? json_object_new_int64(owner) : NULL);
	add_str(o, "topology", src);
	add_bool(o, "pending_topology", pending);
	return o;
}

static struct json_object *power_json(struct vd_ctl_server *srv, const struct vd_power_status *st)
{
	struct json_object *o = json_object_new_object(), *u = json_object_new_object();
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	add_bool(o, "managed", true);
	add_str(o, "state", (unsigned)st->state < 3 ? power_names[st->state] : "?");
	add_u64(u, "streams", st->users[VD_POWER_USER_STREAM]);
	add_u64(u, "tasks", st->users[VD_POWER_USER_TASK]);
	add_u64(u, "clients", st->users[VD_POWER_USER_CLIENT]);
	add(o, "users", u);
	add_u64(o, "idle_timeout_ms", st->idle_timeout_ms);
	add_num(o, "since_s", now > st->since_ns ? (double)(now - st->since_ns) / 1e9 : 0.0);
	add_u64(o, "suspends", st->suspends);
	add_u64(o, "resumes", st->resumes);
	add_num(o, "last_resume_ms", (double)st->last_resume_ns / 1e6);
	return o;
}

static struct json_object *power_now(struct vd_ctl_server *srv)
{
	struct vd_power_status st;

	if (!srv->cfg.power_status)
		return NULL;
	memset(&st, 0, sizeof(st));
	srv->cfg.power_status(srv->cfg.power_data, &st);
	return power_json(srv, &st);
}

/* ---- requests ---- */

static void req_hello(struct vd_ctl_server *srv, struct client *c, struct reply *rp)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();
	struct json_object *w = json_object_new_array();
	bool all = c->uid == 0 || c->uid == srv->uid;

	add(o, "protocol", json_object_new_int(VD_CTL_PROTO_VERSION));
	add_str(o, "server", srv->cfg.server);
	for (int t = 0; t < VD_CTL_REQ_COUNT; t++)
		json_object_array_add(a, json_object_new_string(vd_ctl_request_name((enum vd_ctl_req_type)t)));
	add(o, "requests", a);
	a = json_object_new_array();
	for (int k = 0; k < VD_CTL_EVENT_COUNT; k++)
		json_object_array_add(a, json_object_new_string(vd_ctl_event_name((enum vd_ctl_event_kind)k)));
	add(o, "events", a);
	add_u64(o, "uid", c->uid);
	for (unsigned i = 0; i < srv->cfg.n_guests; i++)
		if (may_write(srv, c, srv->cfg.guests[i]))
			json_object_array_add(w, json_object_new_string(vd_guest_name(srv->cfg.guests[i])));
	add_str(o, "write", all ? "all" : json_object_array_length(w) ? "owned" : "none");
	add(o, "guests_writable", w);
	rp->result = o;
}

static void req_status(struct vd_ctl_server *srv, struct reply *rp)
{
	struct json_object *o = json_object_new_object();
	unsigned connected = 0, running = 0;

	for (unsigned i = 0; i < srv->cfg.n_guests; i++) {
		struct vd_guest *g = srv->cfg.guests[i];
		struct vd_guest_stats gs;

		vd_guest_get_stats(g, &gs);
		connected += gs.connected;
		for (unsigned k = 0; k < gs.streams; k++)
			running += vd_snd_dev_stream_state(vd_guest_dev(g), k) == VD_SND_STATE_RUNNING;
	}
	add_str(o, "server", srv->cfg.server);
	add(o, "protocol", json_object_new_int(VD_CTL_PROTO_VERSION));
	add_u64(o, "pid", (uint64_t)getpid());
	add_u64(o, "uid", srv->uid);
	add_num(o, "uptime_s", now_s() - srv->t0);
	add_u64(o, "guests", srv->cfg.n_guests);
	add_u64(o, "guests_connected", connected);
	add_u64(o, "streams_running", running);
	add_u64(o, "clients", srv->st.clients);
	add_u64(o, "subscribers", srv->st.subscribers);
	add(o, "power", power_now(srv));
	rp->result = o;
}

static void req_streams(struct vd_ctl_server *srv, const struct vd_ctl_request *req, struct reply *rp)
{
	struct json_object *a = json_object_new_array(), *o = json_object_new_object();

	for (unsigned i = 0; i < srv->cfg.n_guests; i++) {
		struct vd_guest *g = srv->cfg.guests[i];

		if (req->guest && strcmp(req->guest, vd_guest_name(g)) != 0)
			continue;
		for (unsigned k = 0; k < vd_snd_dev_stream_count(vd_guest_dev(g)); k++)
			json_object_array_add(a, stream_json(g, k));
	}
	add(o, "streams", a);
	rp->result = o;
}

static void req_nodes(struct vd_guest *g, struct reply *rp)
{
	struct vd_snd_dev *dev = vd_guest_dev(g);
	const struct vd_topology *t = vd_snd_dev_topology(dev);
	struct json_object *o = json_object_new_object(), *pl = json_object_new_array();
	struct json_object *streams = json_object_new_array();
	size_t n = t ? vd_topology_object_count(t) : 0;

	for (size_t i = 0; i < n; i++) {
		struct vd_topology_object obj;
		struct json_object *p = NULL, *node;

		if (vd_topology_object(t, i, &obj) < 0)
			continue;
		for (size_t j = 0; j < json_object_array_length(pl); j++) {
			struct json_object *cand = json_object_array_get_idx(pl, j), *name;

			if (json_object_object_get_ex(cand, "name", &name) &&
			    strcmp(json_object_get_string(name), obj.pipeline ? obj.pipeline : "") == 0)
				p = cand;
		}
		if (!p) {
			p = json_object_new_object();
			add_str(p, "name", obj.pipeline ? obj.pipeline : "");
			add(p, "nodes", json_object_new_array());
			json_object_array_add(pl, p);
		}
		node = json_object_new_object();
		add_str(node, "name", obj.name);
		add_str(node, "kind", (unsigned)obj.kind < 4 ? kind_names[obj.kind] : "?");
		add_str(node, "type", obj.type);
		json_object_array_add(json_object_object_get(p, "nodes"), node);
	}
	for (unsigned k = 0; k < vd_snd_dev_stream_count(dev); k++) {
		struct json_object *s = json_object_new_object();
		struct vd_snd_stream_stats ss;

		if (vd_snd_dev_stream_stats(dev, k, &ss) < 0)
			memset(&ss, 0, sizeof(ss));
		add(s, "index", json_object_new_int((int)k));
		add_str(s, "name", ss.name);
		add_str(s, "state", vd_guest_state_name(ss.state));
		add_str(s, "pipeline", ss.description[0] ? ss.description : NULL);
		json_object_array_add(streams, s);
	}
	add_str(o, "guest", vd_guest_name(g));
	add(o, "pipelines", pl);
	add(o, "streams", streams);
	rp->result = o;
}

static void req_controls(struct vd_guest *g, struct reply *rp)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();

	for (unsigned i = 0; i < vd_snd_dev_control_count(vd_guest_dev(g)); i++)
		json_object_array_add(a, control_json(g, i));
	add_str(o, "guest", vd_guest_name(g));
	add(o, "controls", a);
	rp->result = o;
}

static void req_jacks(struct vd_guest *g, struct reply *rp)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();
	struct vd_snd_dev *dev = vd_guest_dev(g);

	for (unsigned j = 0; j < vd_snd_dev_jack_count(dev); j++) {
		struct json_object *e = json_object_new_object();
		bool conn = false;

		vd_snd_dev_jack_state(dev, j, &conn);
		add(e, "id", json_object_new_int((int)j));
		add_bool(e, "connected", conn);
		json_object_array_add(a, e);
	}
	add_str(o, "guest", vd_guest_name(g));
	add(o, "jacks", a);
	rp->result = o;
}

static void req_set(struct vd_ctl_server *srv, struct client *c, struct vd_guest *g,
		    const struct vd_ctl_request *req, struct reply *rp)
{
	struct vd_snd_dev *dev = vd_guest_dev(g);
	struct vd_ctl_value_target t;
	const char *items[64];
	char text[128];
	double old = 0, v;
	int id = find_control(g, req, rp), r;

	if (id < 0)
		return;
	control_target(g, (unsigned)id, &t, items, 64);
	r = vd_ctl_value_parse(req->value, &t, &v, rp->msg, sizeof(rp->msg));
	if (r < 0) {
		rp->code = r;
		return;
	}
	vd_snd_dev_get_control(dev, (unsigned)id, &old);
	r = vd_snd_dev_set_control(dev, (unsigned)id, v);
	vd_ctl_value_text(&t, v, text, sizeof(text));
	if (r == -EAGAIN) {
		refuse(rp, r, "control '%s' of guest '%s' is set to %s, but a pipeline's queue to the "
		       "processing thread is full: it applies at the stream's next PREPARE", t.info.name,
		       vd_guest_name(g), text);
		return;
	}
	if (r < 0) {
		refuse(rp, r, "control '%s' of guest '%s': %s refused: %s", t.info.name, vd_guest_name(g), text,
		       strerror(-r));
		return;
	}
	double now = old;
	vd_snd_dev_get_control(dev, (unsigned)id, &now);
	slog(srv, "control client uid %u set %s '%s' to %s", (unsigned)c->uid, vd_guest_name(g),
	     t.info.name, text);
	rp->result = control_json(g, (unsigned)id);
	add_bool(rp->result, "changed", now != old);
}

struct diag_buf {
	char *buf;
	size_t size, len;
};

static void collect_diag(void *data, const struct vd_error *e)
{
	struct diag_buf *d = data;
	char line[VD_ERROR_MSG_MAX + 256];

	if (d->len < d->size)
		d->len += (size_t)snprintf(d->buf + d->len, d->size - d->len, "%s%s", d->len ? "\n" : "",
					   vd_error_format(e, line, sizeof(line)));
}

static void req_topology(struct vd_ctl_server *srv, struct client *c, struct vd_guest *g,
			 const struct vd_ctl_request *req, struct reply *rp)
{
	char errs[1536] = "", err[512];
	struct diag_buf db = { errs, sizeof(errs), 0 };
	struct vd_diag diag = { .report = collect_diag, .data = &db };
	int r = vd_guest_set_topology(g, req->text, req->text_len, req->defer, &diag, err, sizeof(err));

	if (r < 0) {
		if (diag.count)
			refuse(rp, r, "guest '%s': the topology has %u error%s:\n%s", vd_guest_name(g), diag.count,
			       diag.count == 1 ? "" : "s", errs);
		else
			refuse(rp, r, "%s", err);
		return;
	}
	slog(srv, "control client uid %u %s the topology of %s", (unsigned)c->uid,
	     r == 0 ? "replaced" : "queued a new", vd_guest_name(g));
	rp->result = json_object_new_object();
	add_str(rp->result, "guest", vd_guest_name(g));
	add_bool(rp->result, "applied", r == 0);
	add_bool(rp->result, "pending", r == 1);
}

static void handle_line(struct client *c, const char *line, size_t len)
{
	struct vd_ctl_server *srv = c->srv;
	struct vd_ctl_request req;
	struct reply rp = { 0 };
	struct vd_guest *g = NULL;
	int r;

	srv->st.requests++;
	r = vd_ctl_request_parse(line, len, &req, rp.msg, sizeof(rp.msg));
	if (r < 0) {
		rp.code = r;
		goto out;
	}
	if (req.guest && !(g = find_guest(srv, req.guest, &rp)))
		goto out;
	if (vd_ctl_request_writes(req.type) && !may_write(srv, c, g)) {
		uid_t owner;

		if (vd_guest_owner(g, &owner))
			refuse(&rp, -EACCES, "uid %u may not change guest '%s': only root, the daemon's uid %u "
			       "and the guest's owner (uid %u) may", (unsigned)c->uid, vd_guest_name(g),
			       (unsigned)srv->uid, (unsigned)owner);
		else
			refuse(&rp, -EACCES, "uid %u may not change guest '%s': only root and the daemon's uid "
			       "%u may (the guest has no owner=)", (unsigned)c->uid, vd_guest_name(g),
			       (unsigned)srv->uid);
		goto out;
	}
	switch (req.type) {
	case VD_CTL_REQ_HELLO:
		req_hello(srv, c, &rp);
		break;
	case VD_CTL_REQ_STATUS:
		req_status(srv, &rp);
		break;
	case VD_CTL_REQ_GUESTS:
		rp.result = json_object_new_object();
		add(rp.result, "guests", json_object_new_array());
		for (unsigned i = 0; i < srv->cfg.n_guests; i++)
			json_object_array_add(json_object_object_get(rp.result, "guests"),
					      guest_json(srv->cfg.guests[i]));
		break;
	case VD_CTL_REQ_STREAMS:
		req_streams(srv, &req, &rp);
		break;
	case VD_CTL_REQ_NODES:
		req_nodes(g, &rp);
		break;
	case VD_CTL_REQ_CONTROLS:
		req_controls(g, &rp);
		break;
	case VD_CTL_REQ_GET:
		r = find_control(g, &req, &rp);
		if (r >= 0)
			rp.result = control_json(g, (unsigned)r);
		break;
	case VD_CTL_REQ_JACKS:
		req_jacks(g, &rp);
		break;
	case VD_CTL_REQ_POWER:
		rp.result = power_now(srv);
		if (!rp.result) {
			rp.result = json_object_new_object();
			add_bool(rp.result, "managed", false);
		}
		break;
	case VD_CTL_REQ_SUBSCRIBE: {
		struct json_object *a = json_object_new_array();

		if (!c->events && req.events)
			srv->st.subscribers++;
		else if (c->events && !req.events)
			srv->st.subscribers--;
		c->events = req.events;
		for (int k = 0; k < VD_CTL_EVENT_COUNT; k++)
			if (req.events >> k & 1)
				json_object_array_add(a, json_object_new_string(vd_ctl_event_name((enum vd_ctl_event_kind)k)));
		rp.result = json_object_new_object();
		add(rp.result, "events", a);
		break;
	}
	case VD_CTL_REQ_UNSUBSCRIBE:
		if (c->events)
			srv->st.subscribers--;
		c->events = 0;
		break;
	case VD_CTL_REQ_SET:
		req_set(srv, c, g, &req, &rp);
		break;
	case VD_CTL_REQ_TOPOLOGY:
		req_topology(srv, c, g, &req, &rp);
		break;
	default:
		refuse(&rp, -EINVAL, "unknown request");
		break;
	}
out:
	send_reply(c, req.id, &rp);
	vd_ctl_request_free(&req);
}

static void client_read(struct client *c)
{
	size_t start = 0;
	ssize_t n;

	if (c->in_cap - c->in_len < READ_CHUNK && c->in_cap < VD_CTL_MAX_LINE) {
		size_t cap = c->in_cap ? c->in_cap : IN_START;
		char *p;

		while (cap - c->in_len < READ_CHUNK && cap < VD_CTL_MAX_LINE)
			cap *= 2;
		if (cap > VD_CTL_MAX_LINE)
			cap = VD_CTL_MAX_LINE;
		p = realloc(c->in, cap);
		if (!p) {
			client_drop(c, "out of memory for its requests");
			return;
		}
		c->in = p;
		c->in_cap = cap;
	}
	n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		client_drop(c, NULL);
		return;
	}
	if (n == 0)
		c->closing = true;	/* answer what came, then close */
	c->in_len += (size_t)n;
	for (;;) {
		char *nl = memchr(c->in + start, '\n', c->in_len - start);

		if (!nl)
			break;
		size_t len = (size_t)(nl - (c->in + start));
		bool blank = true;

		for (size_t i = 0; i < len && blank; i++)
			blank = c->in[start + i] == ' ' || c->in[start + i] == '\t' || c->in[start + i] == '\r';
		if (!blank)
			handle_line(c, c->in + start, len);
		start += len + 1;
		if (c->dead)
			return;
	}
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
	if (c->in_len == VD_CTL_MAX_LINE) {
		struct reply rp = { 0 };

		refuse(&rp, -EMSGSIZE, "a request line is at most %d bytes with its newline; closing",
		       VD_CTL_MAX_LINE);
		c->srv->st.dropped++;
		slog(c->srv, "control client pid %d uid %u disconnected: a request longer than %d bytes",
		     (int)c->pid, (unsigned)c->uid, VD_CTL_MAX_LINE);
		send_reply(c, NULL, &rp);
		c->closing = true;
		c->in_len = 0;
	}
	if (c->closing && !c->dead)
		client_flush(c);
}

static void on_client(void *data, int fd, uint32_t events)
{
	struct client *c = data;
	struct vd_ctl_server *srv = c->srv;

	(void)fd;
	srv->busy = c;
	if (events & EPOLLERR)
		client_drop(c, NULL);
	if (!c->dead && (events & (EPOLLIN | EPOLLHUP)) && !c->closing)
		client_read(c);
	if (!c->dead && ((events & EPOLLOUT) || ((events & EPOLLHUP) && c->closing)))
		client_flush(c);
	if (!c->dead)
		client_rewatch(c);
	srv->busy = NULL;
	if (c->dead)
		client_free(c);
}

static void on_listen(void *data, int fd, uint32_t events)
{
	struct vd_ctl_server *srv = data;

	(void)events;
	for (;;) {
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		struct client *c;
		unsigned slot;
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				slog(srv, "control socket: accept: %s", strerror(errno));
			return;
		}
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
			slog(srv, "control socket: cannot identify a client: %s", strerror(errno));
			close(cfd);
			continue;
		}
		for (slot = 0; slot < VD_CTL_MAX_CLIENTS; slot++)
			if (!srv->clients[slot])
				break;
		if (slot == VD_CTL_MAX_CLIENTS) {
			char line[160];
			int n = snprintf(line, sizeof(line), "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"EMFILE\","
					 "\"errno\":%d,\"message\":\"too many control clients (%d)\"}}\n", EMFILE,
					 VD_CTL_MAX_CLIENTS);

			if (send(cfd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* it is being turned away either way */
			}
			close(cfd);
			srv->st.dropped++;
			slog(srv, "control client pid %d refused: %d clients connected", (int)cred.pid,
			     VD_CTL_MAX_CLIENTS);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);
			continue;
		}
		c->srv = srv;
		c->fd = cfd;
		c->uid = cred.uid;
		c->pid = cred.pid;
		c->watching = EPOLLIN;
		if (vd_loop_add_fd(srv->loop, cfd, EPOLLIN, on_client, c, &c->watch) < 0) {
			close(cfd);
			free(c);
			continue;
		}
		srv->clients[slot] = c;
		srv->st.clients++;
		srv->st.accepted++;
	}
}

/* ---- events ---- */

void vd_ctl_server_emit(struct vd_ctl_server *srv, const struct vd_ctl_event *ev)
{
	struct json_object *o;
	const char *s;
	size_t n;
	bool any = false;

	if (!srv || (unsigned)ev->kind >= VD_CTL_EVENT_COUNT)
		return;
	for (unsigned i = 0; i < VD_CTL_MAX_CLIENTS && !any; i++)
		any = srv->clients[i] && (srv->clients[i]->events >> ev->kind & 1);
	if (!any)
		return;
	o = json_object_new_object();
	add_str(o, "event", vd_ctl_event_name(ev->kind));
	add_num(o, "time", now_s() - srv->t0);
	if (ev->kind != VD_CTL_EVENT_POWER)
		add_str(o, "guest", ev->guest);
	switch (ev->kind) {
	case VD_CTL_EVENT_GUEST:
		add_bool(o, "connected", ev->connected);
		if (!ev->connected && ev->reason)
			add_str(o, "reason", ev->reason);
		break;
	case VD_CTL_EVENT_STREAM:
		add(o, "stream", json_object_new_int((int)ev->index));
		add_str(o, "name", ev->name);
		add_str(o, "state", vd_guest_state_name(ev->state));
		add_str(o, "previous", vd_guest_state_name(ev->previous));
		break;
	case VD_CTL_EVENT_CONTROL:
		add(o, "id", json_object_new_int((int)ev->index));
		add_str(o, "control", ev->name);
		add_num(o, "value", ev->value);
		add_str(o, "by", ev->by_guest ? "guest" : "host");
		break;
	case VD_CTL_EVENT_JACK:
		add(o, "jack", json_object_new_int((int)ev->index));
		add_bool(o, "connected", ev->connected);
		break;
	case VD_CTL_EVENT_POWER:
		if (ev->power) {
			struct json_object *p = power_json(srv, ev->power);

			json_object_object_foreach(p, key, val)
				if (strcmp(key, "managed") != 0)
					add(o, key, json_object_get(val));
			json_object_put(p);
		}
		break;
	case VD_CTL_EVENT_TOPOLOGY:
		add_bool(o, "applied", ev->applied);
		break;
	default:
		break;
	}
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	for (unsigned i = 0; i < VD_CTL_MAX_CLIENTS && s; i++) {
		struct client *c = srv->clients[i];

		if (c && (c->events >> ev->kind & 1))
			client_queue(c, s, n);
	}
	json_object_put(o);
}

static void on_guest_event(void *data, struct vd_guest *g, const struct vd_guest_event *gev)
{
	struct vd_ctl_server *srv = data;
	struct vd_ctl_event ev = { .guest = vd_guest_name(g), .index = gev->index };
	struct vd_snd_control_info info;
	struct vd_snd_stream_stats ss;

	switch (gev->kind) {
	case VD_GUEST_EVENT_CONNECTED:
	case VD_GUEST_EVENT_DISCONNECTED:
		ev.kind = VD_CTL_EVENT_GUEST;
		ev.connected = gev->kind == VD_GUEST_EVENT_CONNECTED;
		ev.reason = gev->reason;
		break;
	case VD_GUEST_EVENT_STREAM:
		ev.kind = VD_CTL_EVENT_STREAM;
		ev.state = gev->state;
		ev.previous = gev->previous;
		if (vd_snd_dev_stream_stats(vd_guest_dev(g), gev->index, &ss) == 0)
			ev.name = ss.name;
		break;
	case VD_GUEST_EVENT_CONTROL:
		ev.kind = VD_CTL_EVENT_CONTROL;
		ev.value = gev->value;
		ev.by_guest = gev->by_guest;
		if (vd_snd_dev_control_info(vd_guest_dev(g), gev->index, &info) == 0)
			ev.name = info.name;
		break;
	case VD_GUEST_EVENT_TOPOLOGY:
		ev.kind = VD_CTL_EVENT_TOPOLOGY;
		ev.applied = gev->applied;
		break;
	case VD_GUEST_EVENT_JACK:
		ev.kind = VD_CTL_EVENT_JACK;
		ev.connected = gev->connected;
		break;
	default:
		return;
	}
	vd_ctl_server_emit(srv, &ev);
}

/* ---- the server ---- */

int vd_ctl_default_socket_path(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (xdg && xdg[0] == '/')
		n = snprintf(buf, size, "%s/virtdsp/ctl.sock", xdg);
	else
		n = snprintf(buf, size, "/tmp/virtdsp-%u/ctl.sock", (unsigned)getuid());
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int make_parent(const char *path, char *err, size_t errsz)
{
	char *dir = strdup(path), *slash;
	int r = 0;

	if (!dir) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			r = -errno;
			snprintf(err, errsz, "cannot create %s: %s", dir, strerror(errno));
		}
	}
	free(dir);
	return r;
}

int vd_ctl_server_new(struct vd_loop *loop, const struct vd_ctl_server_config *cfg,
		      struct vd_ctl_server **out, char *err, size_t errsz)
{
	struct vd_ctl_server *srv = calloc(1, sizeof(*srv));
	unsigned mode = cfg->mode ? cfg->mode : cfg->set_group ? 0660 : 0600;
	int r;

	err[0] = '\0';
	if (!srv || !(srv->path = strdup(cfg->path))) {
		free(srv);
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	srv->loop = loop;
	srv->cfg = *cfg;
	srv->cfg.path = srv->path;
	srv->listen_fd = -1;
	srv->uid = geteuid();
	srv->t0 = now_s();
	r = make_parent(cfg->path, err, errsz);
	if (r < 0)
		goto fail;
	r = vd_listen_unix(cfg->path, SOCK_STREAM, 16, "daemon", &srv->listen_fd, err, errsz);
	if (r < 0)
		goto fail;
	if (cfg->set_group && chown(cfg->path, (uid_t)-1, cfg->group) < 0) {
		r = -errno;
		snprintf(err, errsz, "cannot give %s group %u: %s", cfg->path, (unsigned)cfg->group, strerror(errno));
		goto fail;
	}
	if (chmod(cfg->path, mode & 07777) < 0) {
		r = -errno;
		snprintf(err, errsz, "cannot set the mode of %s to %04o: %s", cfg->path, mode, strerror(errno));
		goto fail;
	}
	r = vd_loop_add_fd(loop, srv->listen_fd, EPOLLIN, on_listen, srv, &srv->listen_watch);
	if (r < 0) {
		snprintf(err, errsz, "cannot watch %s: %s", cfg->path, strerror(-r));
		goto fail;
	}
	for (unsigned i = 0; i < cfg->n_guests; i++)
		vd_guest_set_event_hook(cfg->guests[i], on_guest_event, srv);
	*out = srv;
	return 0;
fail:
	if (srv->listen_fd >= 0) {
		close(srv->listen_fd);
		unlink(srv->path);
	}
	free(srv->path);
	free(srv);
	return r;
}

void vd_ctl_server_free(struct vd_ctl_server *srv)
{
	if (!srv)
		return;
	for (unsigned i = 0; i < srv->cfg.n_guests; i++)
		vd_guest_set_event_hook(srv->cfg.guests[i], NULL, NULL);
	for (unsigned i = 0; i < VD_CTL_MAX_CLIENTS; i++)
		if (srv->clients[i])
			client_drop(srv->clients[i], NULL);
	vd_loop_remove(srv->listen_watch);
	if (srv->listen_fd >= 0) {
		close(srv->listen_fd);
		unlink(srv->path);
	}
	free(srv->path);
	free(srv);
}

void vd_ctl_server_get_stats(const struct vd_ctl_server *srv, struct vd_ctl_server_stats *st)
{
	*st = srv->st;
}
