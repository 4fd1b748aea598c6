/* accel/client.c - the socket backend of vd_accel_*: each call becomes one
 * request to `virtdsp serve` and waits for its reply (docs/protocol.md).
 * One connection per session, so sessions are as independent as in-process;
 * a mutex serialises the calls made on one session from several threads.
 * The buffers and the session's poll descriptor arrive with SCM_RIGHTS, so
 * audio and completions never pass through this code. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <virtdsp/accel.h>

#include "accel/accel-impl.h"
#include "accel/protocol.h"

/* descriptors we make room for in a reply, to close what a bad daemon attaches */
#define REPLY_MAX_FDS 8

struct client_session {
	struct vd_accel base;
	pthread_mutex_t lock;
	int sock;
	int poll_fd;
	uint32_t session;
	uint32_t next_id;
	enum vd_accel_session_state state;
	int broken;		/* 0, or the -errno every call returns from now on */
	char err[VD_PROTO_MAX_ERRMSG];
};

/* One request/reply exchange. */
struct xfer {
	uint32_t type;
	const void *req;
	size_t req_len;
	void *out;		/* success payload goes here */
	size_t out_len;		/* exact size expected, or the most when out_max */
	bool out_max;
	unsigned want_fds;
	int fds[VD_PROTO_MAX_FDS];	/* received descriptors (owned by the caller on success) */
	size_t got_len;
	char *err;		/* the daemon's message, or ours, on failure */
	size_t errsz;
};

static int connect_target(const char *path, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t l = strlen(path);
	int fd;

	if (l == 0)
		return -ENOENT;
	if (l >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, l + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		int r = -errno;
		close(fd);
		return r;
	}
	*out = fd;
	return 0;
}

static void set_err(struct xfer *x, const char *msg)
{
	if (x->err)
		snprintf(x->err, x->errsz, "%s", msg);
}

static int transact(int sock, uint32_t id, struct xfer *x)
{
	uint8_t buf[VD_PROTO_MAX_MSG];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * REPLY_MAX_FDS)];
	} cm;
	int fds[REPLY_MAX_FDS];
	unsigned nfds = 0;
	ssize_t n;

	vd_proto_put_header(buf, x->type, id, 0, (uint32_t)x->req_len, 0, 0);
	if (x->req_len)
		memcpy(buf + VD_PROTO_HDR_SIZE, x->req, x->req_len);
	do {
		n = send(sock, buf, VD_PROTO_HDR_SIZE + x->req_len, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		set_err(x, "the daemon closed the connection");
		return errno == EPIPE || errno == ECONNRESET ? -ECONNRESET : -errno;
	}

	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cm.b, .msg_controllen = sizeof(cm.b),
	};
	do {
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno != ECONNRESET) {
		set_err(x, "receiving the daemon's reply failed");
		return -errno;
	}
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); n > 0 && h; h = CMSG_NXTHDR(&m, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && nfds < REPLY_MAX_FDS; i++)
			memcpy(&fds[nfds++], CMSG_DATA(h) + i * sizeof(int), sizeof(int));
	}
	if (n <= 0) {
		set_err(x, "the daemon closed the connection");
		return -ECONNRESET;
	}

	const void *payload = NULL;
	size_t plen = 0;
	const char *msg = "";
	int r = -EPROTO;
	if (!(m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		r = vd_proto_parse_reply(buf, (size_t)n, nfds, x->type, id, x->out_len, x->out_max,
					 x->want_fds, &payload, &plen, &msg);
	if (r < 0) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		if (r == -EPROTO && !msg[0])
			set_err(x, "the daemon's reply broke the protocol");
		else if (msg[0])
			set_err(x, msg);
		else
			set_err(x, strerror(-r));
		return r;
	}
	if (plen)
		memcpy(x->out, payload, plen);
	x->got_len = plen;
	memcpy(x->fds, fds, nfds * sizeof(int));
	return r;
}

static struct client_session *cs_of(struct vd_accel *s)
{
	return (struct client_session *)s;
}

/* One exchange on a session: serialised, and the connection marked broken
 * when the daemon went away or misbehaved. */
static int session_call(struct client_session *cs, struct xfer *x)
{
	int r;

	pthread_mutex_lock(&cs->lock);
	if (cs->broken) {
		snprintf(cs->err, sizeof(cs->err), "%s",
			 cs->broken == -ECONNRESET ? "the daemon closed the connection"
						  : "the connection to the daemon is unusable");
		r = cs->broken;
		goto out;
	}
	x->err = cs->err;
	x->errsz = sizeof(cs->err);
	r = transact(cs->sock, ++cs->next_id, x);
	if (r == -ECONNRESET || r == -EPROTO)
		cs->broken = r;
	if (r >= 0 && x->type == VD_PROTO_SET_PARAMS)
		cs->state = VD_ACCEL_STATE_SETUP;
out:
	pthread_mutex_unlock(&cs->lock);
	return r;
}

static void session_req(struct client_session *cs, struct vd_proto_session *h)
{
	h->session = cs->session;
	h->reserved = 0;
}

static void c_close(struct vd_accel *s)
{
	struct client_session *cs = cs_of(s);
	struct vd_proto_session req;
	struct xfer x = { .type = VD_PROTO_CLOSE, .req = &req, .req_len = sizeof(req) };

	session_req(cs, &req);
	/* the daemon frees everything when the connection closes anyway; the
	 * CLOSE makes that happen before we return, as in-process */
	if (!cs->broken)
		session_call(cs, &x);
	close(cs->sock);
	close(cs->poll_fd);
	pthread_mutex_destroy(&cs->lock);
	free(cs);
}

static int c_get_caps(struct vd_accel *s, struct vd_accel_caps *caps)
{
	struct client_session *cs = cs_of(s);
	struct vd_proto_session req;
	struct vd_proto_caps w;
	struct xfer x = { .type = VD_PROTO_GET_CAPS, .req = &req, .req_len = sizeof(req),
			  .out = &w, .out_len = sizeof(w) };

	session_req(cs, &req);
	int r = session_call(cs, &x);
	if (r < 0)
		return r;
	if (vd_proto_caps_from_wire(&w, caps) < 0)
		return -EPROTO;
	return 0;
}

static int c_get_codec_caps(struct vd_accel *s, uint32_t codec, struct vd_accel_codec_caps *caps)
{
	struct client_session *cs = cs_of(s);
	struct vd_proto_codec_caps_req req = { .codec = codec };
	struct vd_proto_codec_caps w;
	struct xfer x = { .type = VD_PROTO_GET_CODEC_CAPS, .req = &req, .req_len = sizeof(req),
			  .out = &w, .out_len = sizeof(w) };

	session_req(cs, &req.s);
	int r = session_call(cs, &x);
	if (r < 0)
		return r;
	vd_proto_codec_caps_from_wire(&w, caps);
	return 0;
}

static int send_params(struct vd_accel *s, uint32_t type, const struct vd_accel_params *p)
{
	struct client_session *cs = cs_of(s);
	struct vd_proto_params_req req;
	struct xfer x = { .type = type, .req = &req, .req_len = sizeof(req) };

	session_req(cs, &req.s);
	vd_proto_params_to_wire(p, &req.p);
	int r = session_call(cs, &x);
	return r < 0 ? r : 0;
}

static int c_set_params(struct vd_accel *s, const struct vd_accel_params *p)
{
	return send_params(s, VD_PROTO_SET_PARAMS, p);
}

static int c_reconfigure(struct vd_accel *s, const struct vd_accel_params *p)
{
	return send_params(s, VD_PROTO_RECONFIGURE, p);
}

static int c_get_params(struct vd_accel *s, struct vd_accel_params *p)
{
	struct client_session *cs = cs_of(s);
	struct vd_proto_session req;
	struct vd_proto_params w;
	struct xfer x = { .type = VD_PROTO_GET_PARAMS, .req = &req, .req_len = sizeof(req),
			  .out = &w, .out_len = sizeof(w) };

	session_req(cs, &req);
	int r = session_call(cs, &x);
	if (r < 0)
		return r;
	vd_proto_params_from_wire(&w, p);
	return 0;
}

static enum vd_accel_session_state c_state(struct vd_accel *s)
{
	struct client_session *cs = cs_of(s);

	pthread_mutex_lock(&cs->lock);
	enum vd_accel_session_state st = cs->state;
	pthread_mutex_unlock(&cs->lock);
	return st;
}

static int c_task_create(struct vd_accel *s, struct vd_accel_task *t)
{
	struct client_session *cs = cs_of(s);
	struct vd_proto_task_req req;
	struct vd_proto_task w;
	struct xfer x = { .type = VD_PROTO_TASK_CREATE, .req = &req, .req_len = sizeof(req),
			  .out = &w, .out_len = sizeof(w), .want_fds = 2 };

	session_req(cs, &req.s);
	vd_proto_task_to_wire(t, &req.t);
	int r = session_call(cs, &x);
	if (r < 0)
		return r;
	t->seqno = w.seqno;
	t->origin_seqno = w.origin_seqno;
	t->input_size = w.input_size;
	t->flags = w.flags;
	t->input_fd = x.fds[0];
	t->output_fd = x.fds[1];
	return 0;
}

static int c_task_start(struct vd_accel *s, struct vd_accel_task *t)
{
	struct client_session *cs = cs_of(s);
	struct vd_proto_task_req req;
	struct vd_proto_task w;
	struct xfer x = { .type = VD_PROTO_TASK_START, .req = &req, .req_len = sizeof(req),
			  .out = &w, .out_len = sizeof(w) };

	session_req(cs, &req.s);
	vd_proto_task_to_wire(t, &req.t);
	int r = session_call(cs, &x);
	if (r < 0)
		return r;
	t->seqno = w.seqno;
	t->origin_seqno = w.origin_seqno;
	t->input_size = w.input_size;
	t->flags = w.flags;
	return 0;
}

static int seqno_call(struct vd_accel *s, uint32_t type, uint64_t seqno)
{
	struct client_session *cs = cs_of(s);
	struct vd_proto_seqno_req req = { .seqno = seqno };
	struct xfer x = { .type = type, .req = &req, .req_len = sizeof(req) };

	session_req(cs, &req.s);
	int r = session_call(cs, &x);
	return r < 0 ? r : 0;
}

static int c_task_stop(struct vd_accel *s, uint64_t seqno)
{
	return seqno_call(s, VD_PROTO_TASK_STOP, seqno);
}

static int c_task_free(struct vd_accel *s, uint64_t seqno)
{
	return seqno_call(s, VD_PROTO_TASK_FREE, seqno);
}

static int c_task_status(struct vd_accel *s, struct vd_accel_task_status *st)
{
	struct client_session *cs = cs_of(s);
	struct vd_proto_status_req req;
	struct vd_proto_status w;
	struct xfer x = { .type = VD_PROTO_TASK_STATUS, .req = &req, .req_len = sizeof(req),
			  .out = &w, .out_len = sizeof(w) };

	session_req(cs, &req.s);
	memset(&req.st, 0, sizeof(req.st));
	req.st.seqno = st->seqno;
	int r = session_call(cs, &x);
	if (r < 0)
		return r;
	vd_proto_status_from_wire(&w, st);
	return 0;
}

static int c_fd(struct vd_accel *s)
{
	return cs_of(s)->poll_fd;
}

/* Waiting needs no request: the poll fd is the daemon session's own. Only
 * the state check is local, made the way the engine makes it. */
static int c_wait(struct vd_accel *s, short events, int timeout_ms)
{
	struct client_session *cs = cs_of(s);
	struct pollfd p = { .fd = cs->poll_fd, .events = events };
	int r;

	pthread_mutex_lock(&cs->lock);
	if (cs->state != VD_ACCEL_STATE_SETUP) {
		snprintf(cs->err, sizeof(cs->err), "nothing to wait for: no parameters set (session is OPEN)");
		pthread_mutex_unlock(&cs->lock);
		return -EPERM;
	}
	pthread_mutex_unlock(&cs->lock);
	do {
		r = poll(&p, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r ? (p.revents & (events | POLLERR | POLLHUP)) : 0;
}

static int c_set_adjust(struct vd_accel *s, double adjust)
{
	struct client_session *cs = cs_of(s);
	struct vd_proto_adjust_req req = { .adjust = adjust };
	struct xfer x = { .type = VD_PROTO_SET_ADJUST, .req = &req, .req_len = sizeof(req) };

	session_req(cs, &req.s);
	int r = session_call(cs, &x);
	return r < 0 ? r : 0;
}

static int c_get_metadata(struct vd_accel *s, uint64_t seqno, struct vd_accel_metadata *md)
{
	struct client_session *cs = cs_of(s);
	struct vd_proto_seqno_req req = { .seqno = seqno };
	struct vd_proto_metadata w;
	struct xfer x = { .type = VD_PROTO_GET_METADATA, .req = &req, .req_len = sizeof(req),
			  .out = &w, .out_len = sizeof(w) };

	session_req(cs, &req.s);
	int r = session_call(cs, &x);
	if (r == -ENOSYS)
		return -EOPNOTSUPP;	/* a daemon from before GET_METADATA */
	if (r < 0)
		return r;
	vd_proto_metadata_from_wire(&w, md);
	return 0;
}

static void c_last_error(struct vd_accel *s, char *buf, size_t size)
{
	struct client_session *cs = cs_of(s);

	if (!size)
		return;
	pthread_mutex_lock(&cs->lock);
	snprintf(buf, size, "%s", cs->err);
	pthread_mutex_unlock(&cs->lock);
}

static const struct accel_backend_ops client_ops = {
	.close = c_close,
	.get_caps = c_get_caps,
	.get_codec_caps = c_get_codec_caps,
	.set_params = c_set_params,
	.get_params = c_get_params,
	.state = c_state,
	.task_create = c_task_create,
	.task_start = c_task_start,
	.task_stop = c_task_stop,
	.task_free = c_task_free,
	.task_status = c_task_status,
	.fd = c_fd,
	.wait = c_wait,
	.reconfigure = c_reconfigure,
	.set_adjust = c_set_adjust,
	.get_metadata = c_get_metadata,
	.last_error = c_last_error,
};

int accel_client_open(const char *target, const char *name, struct vd_accel **out)
{
	struct client_session *cs;
	struct vd_proto_open req;
	struct vd_proto_open_reply w;
	struct xfer x = { .type = VD_PROTO_OPEN, .req = &req, .req_len = sizeof(req),
			  .out = &w, .out_len = sizeof(w), .want_fds = 1 };
	int r;

	if (strlen(name) >= VD_ACCEL_NAME_MAX)
		return -ENOENT;	/* no accelerator has such a name */
	memset(&req, 0, sizeof(req));
	memcpy(req.name, name, strlen(name));
	cs = calloc(1, sizeof(*cs));
	if (!cs)
		return -ENOMEM;
	cs->base.ops = &client_ops;
	cs->poll_fd = -1;
	r = connect_target(target, &cs->sock);
	if (r < 0) {
		free(cs);
		return r;
	}
	x.err = cs->err;
	x.errsz = sizeof(cs->err);
	r = transact(cs->sock, ++cs->next_id, &x);
	if (r < 0) {
		close(cs->sock);
		free(cs);
		return r;
	}
	pthread_mutex_init(&cs->lock, NULL);
	cs->poll_fd = x.fds[0];
	cs->session = w.session;
	cs->state = w.state == VD_ACCEL_STATE_SETUP ? VD_ACCEL_STATE_SETUP : VD_ACCEL_STATE_OPEN;
	*out = &cs->base;
	return 0;
}

int accel_client_list(const char *target, struct vd_accel_caps *caps, uint32_t max)
{
	struct {
		uint32_t n;
		struct vd_proto_caps c[VD_PROTO_MAX_LIST];
	} w;
	struct xfer x = { .type = VD_PROTO_LIST, .out = &w, .out_len = sizeof(w), .out_max = true };
	int sock, r;

	_Static_assert(sizeof(w) == 4 + VD_PROTO_MAX_LIST * sizeof(struct vd_proto_caps), "packed list");
	r = connect_target(target, &sock);
	if (r < 0)
		return r;
	r = transact(sock, 1, &x);
	close(sock);
	if (r < 0)
		return r;
	if (x.got_len < 4 || w.n != (uint32_t)r || w.n > VD_PROTO_MAX_LIST ||
	    x.got_len != 4 + w.n * sizeof(struct vd_proto_caps))
		return -EPROTO;
	for (uint32_t i = 0; i < w.n && i < max; i++)
		if (vd_proto_caps_from_wire(&w.c[i], &caps[i]) < 0)
			return -EPROTO;
	return (int)w.n;
}
