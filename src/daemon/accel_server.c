/* daemon/accel_server.c - serves task sessions over the unix socket of
 * docs/protocol.md: accepts connections, decodes requests, runs them on
 * in-process accel sessions (the public API with target NULL), passes the
 * buffers' and the session's descriptors back with SCM_RIGHTS, and enforces
 * the per-client limits. A connection's failure (malformed message, crash,
 * hang-up) frees what it held at once and touches nothing else. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <virtdsp/accel.h>
#include <virtdsp/format.h>

#include "accel/accel-impl.h"
#include "accel/protocol.h"
#include "daemon/listen.h"
#include "daemon/accel_server.h"
#include "daemon/power.h"

/* records read per wake-up of one connection, so one busy client cannot starve the others */
#define RECV_BURST 16
/* descriptors we make room for when receiving, to see (and close) what a bad client attaches */
#define RECV_MAX_FDS 16

struct task_rec {
	unsigned slot;		/* the task's status page entry: fixed, where the seqno is not
				 * (STARTs through the ring reuse tasks without telling us) */
	uint64_t charge;	/* bytes of buffer memory charged to the client */
};

struct session {
	uint32_t id;
	struct vd_accel *acc;
	bool setup;
	struct vd_accel_params params;	/* normalised (GET_PARAMS) once setup */
	unsigned ntasks;
	struct task_rec tasks[VD_ACCEL_MAX_TASKS];
	bool powered;			/* counted as a VD_POWER_USER_TASK */
	struct session *next;
};

/* A peer process: its connections share the limits. */
struct client {
	pid_t pid;
	unsigned conns;
	uint32_t sessions;
	uint32_t tasks;
	uint64_t memory;
	struct client *next;
};

struct conn {
	struct vd_accel_server *srv;
	int fd;
	unsigned serial;
	struct vd_loop_watch *watch;
	struct client *client;
	struct session *sessions;
	struct conn *prev, *next;
	/* a reply the socket could not take yet: no request is read until it is sent */
	uint8_t *pending;
	size_t pending_len;
	int pending_fds[VD_PROTO_MAX_FDS];
	unsigned pending_nfds;
};

struct vd_accel_server {
	struct vd_loop *loop;
	struct vd_accel_server_limits lim;
	vd_accel_server_log_fn log;
	void *log_data;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd;
	struct vd_loop_watch *listen_watch;
	struct conn *conns;
	struct client *clients;
	unsigned next_serial;
	uint32_t next_session;
	bool shutting_down;
	struct vd_power *power;		/* NULL: sessions are not counted */
	int power_tfd;			/* re-checks powered sessions while there are any */
	int activity_fd;		/* written by a session's worker: STARTs came through its ring */
	struct vd_loop_watch *activity_watch;
	struct vd_loop_watch *power_watch;
	unsigned n_powered;
	/* read by other threads (tests, diagnostics) */
	_Atomic uint32_t n_conns, n_clients, n_sessions, n_tasks;
	_Atomic uint64_t n_memory, n_malformed, n_requests;
};

struct reply {
	uint8_t buf[VD_PROTO_MAX_MSG];
	size_t len;
	int fds[VD_PROTO_MAX_FDS];
	unsigned nfds;
	bool close_fds;		/* the descriptors are ours to close once sent */
};

static void logf_(struct vd_accel_server *srv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_(struct vd_accel_server *srv, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!srv->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	srv->log(srv->log_data, line);
}

void vd_accel_server_default_limits(struct vd_accel_server_limits *lim)
{
	lim->max_sessions = 16;
	lim->max_tasks = 256;
	lim->max_memory = UINT64_C(1) << 30;
	lim->max_connections = 256;
}

int vd_accel_default_socket_path(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (xdg && xdg[0] == '/')
		n = snprintf(buf, size, "%s/virtdsp/virtdsp.sock", xdg);
	else
		n = snprintf(buf, size, "/tmp/virtdsp-%u/virtdsp.sock", (unsigned)getuid());
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

void vd_accel_server_get_stats(const struct vd_accel_server *srv, struct vd_accel_server_stats *st)
{
	st->connections = atomic_load(&srv->n_conns);
	st->clients = atomic_load(&srv->n_clients);
	st->sessions = atomic_load(&srv->n_sessions);
	st->tasks = atomic_load(&srv->n_tasks);
	st->memory = atomic_load(&srv->n_memory);
	st->disconnects_malformed = atomic_load(&srv->n_malformed);
	st->requests = atomic_load(&srv->n_requests);
}

/* ---- replies ---- */

static void reply_init(struct reply *rp)
{
	rp->len = VD_PROTO_HDR_SIZE;
	rp->nfds = 0;
	rp->close_fds = false;
}

static void reply_add(struct reply *rp, const void *p, size_t n)
{
	memcpy(rp->buf + rp->len, p, n);
	rp->len += n;
}

static int reply_error(struct reply *rp, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Turn @rp into an error reply carrying a message; returns @err. */
static int reply_error(struct reply *rp, int err, const char *fmt, ...)
{
	va_list ap;
	char *msg = (char *)rp->buf + VD_PROTO_HDR_SIZE;

	reply_init(rp);
	va_start(ap, fmt);
	int n = vsnprintf(msg, VD_PROTO_MAX_ERRMSG, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= VD_PROTO_MAX_ERRMSG)
		n = VD_PROTO_MAX_ERRMSG - 1;
	rp->len += n > 0 ? (size_t)n + 1 : 0;
	return err;
}

static int send_record(int fd, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * VD_PROTO_MAX_FDS)];
	} cm;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		memset(&cm, 0, sizeof(cm));
		m.msg_control = cm.b;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	for (;;) {
		ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* ---- clients, sessions and connections ---- */

static struct client *client_get(struct vd_accel_server *srv, pid_t pid)
{
	struct client *cl;

	for (cl = srv->clients; cl; cl = cl->next)
		if (cl->pid == pid) {
			cl->conns++;
			return cl;
		}
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return NULL;
	cl->pid = pid;
	cl->conns = 1;
	cl->next = srv->clients;
	srv->clients = cl;
	atomic_fetch_add(&srv->n_clients, 1);
	return cl;
}

static void client_put(struct vd_accel_server *srv, struct client *cl)
{
	if (--cl->conns > 0)
		return;
	for (struct client **p = &srv->clients; *p; p = &(*p)->next)
		if (*p == cl) {
			*p = cl->next;
			break;
		}
	free(cl);
	atomic_fetch_sub(&srv->n_clients, 1);
}

static void uncharge_task(struct conn *c, struct session *s, unsigned i)
{
	struct vd_accel_server *srv = c->srv;

	c->client->tasks--;
	c->client->memory -= s->tasks[i].charge;
	atomic_fetch_sub(&srv->n_tasks, 1);
	atomic_fetch_sub(&srv->n_memory, s->tasks[i].charge);
	s->tasks[i] = s->tasks[--s->ntasks];
}

/* Every POWER_CHECK_MS while a session counts: clients read their tasks'
 * status from the status page without asking the daemon, so a request may
 * never come to say the tasks are done. */
#define POWER_CHECK_MS 50

static void power_check_timer(struct vd_accel_server *srv, bool on)
{
	struct itimerspec its = { 0 };

	if (on) {
		its.it_value.tv_nsec = POWER_CHECK_MS * 1000000L;
		its.it_interval = its.it_value;
	}
	/* cannot fail with a valid timerfd and a normalised value */
	(void)timerfd_settime(srv->power_tfd, 0, &its, NULL);
}

/* A session keeps the engine awake while one of its tasks is ACTIVE, as far
 * as the daemon can see: it looks at each of the session's requests and, while
 * the session counts, every POWER_CHECK_MS. */
static bool session_busy(struct session *s)
{
	for (unsigned i = 0; i < s->ntasks; i++) {
		struct vd_accel_task_status st = { .seqno = accel_engine_slot_seqno(s->acc, s->tasks[i].slot) };

		if (vd_accel_task_status(s->acc, &st) == 0 && st.state == VD_ACCEL_TASK_ACTIVE)
			return true;
	}
	return false;
}

static void power_update(struct vd_accel_server *srv, struct session *s)
{
	bool busy;

	if (!srv->power)
		return;
	busy = session_busy(s);
	if (!busy && s->powered) {
		vd_power_put(srv->power, VD_POWER_USER_TASK);
		if (--srv->n_powered == 0)
			power_check_timer(srv, false);
		s->powered = false;
	}
	if (!s->powered) {
		/* STARTs through the ring bypass us: from now on the session's
		 * worker says when one comes, and one that came before is seen here */
		accel_engine_ring_arm(s->acc);
		busy = session_busy(s);
	}
	if (busy == s->powered)
		return;
	if (vd_power_get(srv->power, VD_POWER_USER_TASK) < 0) {
		/* tasks run on the accel engine's own thread: they do not need the host resumed */
		logf_(srv, "session %u: the engine did not resume", s->id);
		return;
	} else if (srv->n_powered++ == 0) {
		power_check_timer(srv, true);
	}
	s->powered = busy;
}

/* A session's worker consumed ring STARTs while armed: look at the idle ones. */
static void on_activity(void *data, int fd, uint32_t events)
{
	struct vd_accel_server *srv = data;
	uint64_t n;

	(void)events;
	if (read(fd, &n, sizeof(n)) < 0)
		return;
	for (struct conn *c = srv->conns; c; c = c->next)
		for (struct session *s = c->sessions; s; s = s->next)
			if (!s->powered)
				power_update(srv, s);
}

static void on_power_check(void *data, int fd, uint32_t events)
{
	struct vd_accel_server *srv = data;
	uint64_t n;

	(void)events;
	if (read(fd, &n, sizeof(n)) < 0)
		return;	/* EAGAIN: disarmed meanwhile */
	for (struct conn *c = srv->conns; c; c = c->next)
		for (struct session *s = c->sessions; s; s = s->next)
			if (s->powered)
				power_update(srv, s);
}

static void session_close(struct conn *c, struct session *s)
{
	if (s->powered) {
		vd_power_put(c->srv->power, VD_POWER_USER_TASK);
		if (--c->srv->n_powered == 0)
			power_check_timer(c->srv, false);
	}
	s->powered = false;
	while (s->ntasks)
		uncharge_task(c, s, s->ntasks - 1);
	vd_accel_close(s->acc);
	c->client->sessions--;
	atomic_fetch_sub(&c->srv->n_sessions, 1);
	free(s);
}

static void conn_free(struct conn *c, const char *why)
{
	struct vd_accel_server *srv = c->srv;
	unsigned nsess = 0, ntasks = 0;

	while (c->sessions) {
		struct session *s = c->sessions;
		c->sessions = s->next;
		nsess++;
		ntasks += s->ntasks;
		session_close(c, s);
	}
	if (why)
		logf_(srv, "client pid %d conn #%u: %s; disconnected (%u sessions, %u tasks freed)",
		      (int)c->client->pid, c->serial, why, nsess, ntasks);
	else if (nsess && !srv->shutting_down)
		logf_(srv, "client pid %d conn #%u: hung up (%u sessions, %u tasks freed)",
		      (int)c->client->pid, c->serial, nsess, ntasks);
	vd_loop_remove(c->watch);
	close_fds(c->pending_fds, c->pending_nfds);
	free(c->pending);
	close(c->fd);
	client_put(srv, c->client);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
	atomic_fetch_sub(&srv->n_conns, 1);
}

static void conn_malformed(struct conn *c, const char *what)
{
	char why[160];

	atomic_fetch_add(&c->srv->n_malformed, 1);
	snprintf(why, sizeof(why), "malformed message (%s)", what);
	conn_free(c, why);
}

static struct session *find_session(struct conn *c, uint32_t id)
{
	for (struct session *s = c->sessions; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

static int find_task(struct session *s, uint64_t seqno)
{
	for (unsigned i = 0; i < s->ntasks; i++)
		if (accel_engine_slot_seqno(s->acc, s->tasks[i].slot) == seqno)
			return (int)i;
	return -1;
}

/* Bytes of buffers a task needs at @p: its input, and the output for that
 * input at the rate ratio (plus a filter tail). Only a quota estimate: the
 * real sizes are measured when tasks are created. */
static uint64_t estimate_charge(const struct vd_accel_params *p)
{
	uint64_t in = p->fragment_size;
	uint32_t out_rate = p->out.rate ? p->out.rate : p->in.rate;
	uint32_t out_ch = p->out.channels ? p->out.channels : p->in.channels;
	uint64_t in_fs = vd_format_sample_size(p->in.format) * (uint64_t)p->in.channels;
	uint64_t out_fs = vd_format_sample_size(p->out.format) * (uint64_t)out_ch;

	if (!in_fs || !out_fs || !p->in.rate || !out_rate)
		return 2 * in;
	uint64_t frames = (in + in_fs - 1) / in_fs;
	uint64_t out_frames = (frames * out_rate + p->in.rate - 1) / p->in.rate + 64;
	return in + out_frames * out_fs;
}

/* The engine's reason for the last failure on @s, as the error reply's text. */
static int engine_error(struct reply *rp, struct session *s, int r)
{
	char msg[VD_PROTO_MAX_ERRMSG];

	vd_accel_last_error(s->acc, msg, sizeof(msg));
	return reply_error(rp, r, "%s", msg);
}

/* ---- requests ---- */

static int do_hello(struct conn *c, struct reply *rp)
{
	struct vd_proto_hello_reply h = {
		.version = VD_PROTO_VERSION,
		.max_sessions = c->srv->lim.max_sessions,
		.max_tasks = c->srv->lim.max_tasks,
		.max_memory = c->srv->lim.max_memory,
	};

	reply_add(rp, &h, sizeof(h));
	return 0;
}

static int do_list(struct reply *rp)
{
	struct vd_accel_caps caps[VD_PROTO_MAX_LIST];
	int n = vd_accel_list(NULL, caps, VD_PROTO_MAX_LIST);

	if (n < 0)
		return reply_error(rp, n, "listing accelerators failed: %s", strerror(-n));
	uint32_t count = (uint32_t)(n > (int)VD_PROTO_MAX_LIST ? (int)VD_PROTO_MAX_LIST : n);
	reply_add(rp, &count, sizeof(count));
	for (uint32_t i = 0; i < count; i++) {
		struct vd_proto_caps w;
		vd_proto_caps_to_wire(&caps[i], &w);
		reply_add(rp, &w, sizeof(w));
	}
	return (int)count;
}

static int do_close(struct conn *c, struct session *s);

static int do_open(struct conn *c, const struct vd_proto_request *req, struct reply *rp)
{
	struct vd_accel_server *srv = c->srv;
	struct client *cl = c->client;
	struct session *s;
	int r;

	if (cl->sessions >= srv->lim.max_sessions) {
		logf_(srv, "client pid %d: refused OPEN: %u sessions open (max_sessions)",
		      (int)cl->pid, cl->sessions);
		return reply_error(rp, -EMFILE, "client limit: %u sessions open (max_sessions)",
				   srv->lim.max_sessions);
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return reply_error(rp, -ENOMEM, "out of memory");
	r = vd_accel_open(NULL, req->u.name, &s->acc);
	if (r < 0) {
		free(s);
		if (r == -ENOENT)
			return reply_error(rp, r, "no accelerator named '%s'", req->u.name);
		return reply_error(rp, r, "opening '%s' failed: %s", req->u.name, strerror(-r));
	}
	if (++srv->next_session == 0)
		srv->next_session = 1;
	s->id = srv->next_session;
	s->next = c->sessions;
	c->sessions = s;
	cl->sessions++;
	atomic_fetch_add(&srv->n_sessions, 1);

	/* Both go out as our own copies, closed once sent. */
	int page = accel_engine_status_page(s->acc);
	int poll_fd = fcntl(vd_accel_fd(s->acc), F_DUPFD_CLOEXEC, 0);
	if (page < 0 || poll_fd < 0) {
		r = page < 0 ? page : -errno;
		if (page >= 0)
			close(page);
		if (poll_fd >= 0)
			close(poll_fd);
		do_close(c, s);
		return reply_error(rp, r, "opening '%s' failed: no status page: %s", req->u.name, strerror(-r));
	}
	struct vd_proto_open_reply o = { .session = s->id, .state = (uint32_t)vd_accel_state(s->acc) };
	reply_add(rp, &o, sizeof(o));
	rp->fds[0] = poll_fd;
	rp->fds[1] = page;
	rp->nfds = 2;
	rp->close_fds = true;
	return 0;
}

static int do_close(struct conn *c, struct session *s)
{
	for (struct session **p = &c->sessions; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	session_close(c, s);
	return 0;
}

static int do_set_params(struct session *s, const struct vd_accel_params *p, struct reply *rp)
{
	int r = vd_accel_set_params(s->acc, p);

	if (r < 0)
		return engine_error(rp, s, r);
	s->setup = true;
	if (vd_accel_get_params(s->acc, &s->params) < 0)
		s->params = *p;
	return 0;
}

static int do_create(struct conn *c, struct session *s, const struct vd_proto_request *req,
		     struct reply *rp)
{
	struct vd_accel_server *srv = c->srv;
	struct client *cl = c->client;
	struct vd_accel_task t = req->u.task;
	struct stat in_st, out_st;
	int r;

	if (cl->tasks >= srv->lim.max_tasks) {
		logf_(srv, "client pid %d: refused TASK_CREATE: %u tasks (max_tasks)",
		      (int)cl->pid, cl->tasks);
		return reply_error(rp, -EDQUOT, "client limit: %u tasks (max_tasks)", srv->lim.max_tasks);
	}
	if (s->setup && cl->memory + estimate_charge(&s->params) > srv->lim.max_memory)
		goto over_memory;
	r = vd_accel_task_create(s->acc, &t);
	if (r < 0)
		return engine_error(rp, s, r);

	uint64_t charge = 0;
	if (fstat(t.input_fd, &in_st) == 0 && fstat(t.output_fd, &out_st) == 0)
		charge = (uint64_t)in_st.st_size + (uint64_t)out_st.st_size;
	if (cl->memory + charge > srv->lim.max_memory || s->ntasks >= VD_ACCEL_MAX_TASKS) {
		close(t.input_fd);
		close(t.output_fd);
		vd_accel_task_free(s->acc, t.seqno);
		if (s->ntasks >= VD_ACCEL_MAX_TASKS)
			return reply_error(rp, -EBUSY, "more than %d tasks in a session", VD_ACCEL_MAX_TASKS);
		goto over_memory;
	}
	s->tasks[s->ntasks].slot = (unsigned)accel_engine_task_slot(s->acc, t.seqno);
	s->tasks[s->ntasks].charge = charge;
	s->ntasks++;
	cl->tasks++;
	cl->memory += charge;
	atomic_fetch_add(&srv->n_tasks, 1);
	atomic_fetch_add(&srv->n_memory, charge);

	struct vd_proto_task w;
	vd_proto_task_to_wire(&t, &w);
	reply_add(rp, &w, sizeof(w));
	rp->fds[0] = t.input_fd;
	rp->fds[1] = t.output_fd;
	rp->nfds = 2;
	rp->close_fds = true;
	return 0;

over_memory:
	logf_(srv, "client pid %d: refused TASK_CREATE: %llu bytes of buffers (max_memory %llu)",
	      (int)cl->pid, (unsigned long long)cl->memory, (unsigned long long)srv->lim.max_memory);
	return reply_error(rp, -EDQUOT, "client limit: %llu bytes of task buffers (max_memory)",
			   (unsigned long long)srv->lim.max_memory);
}

static int do_start(struct session *s, const struct vd_proto_request *req, struct reply *rp)
{
	struct vd_accel_task t = req->u.task;
	int r = vd_accel_task_start(s->acc, &t);

	if (r < 0)
		return engine_error(rp, s, r);
	struct vd_proto_task w;
	vd_proto_task_to_wire(&t, &w);
	reply_add(rp, &w, sizeof(w));
	return 0;
}

static int do_free(struct conn *c, struct session *s, uint64_t seqno, struct reply *rp)
{
	/* found by its entry while it still has one */
	int i = seqno ? find_task(s, seqno) : -1;
	int r = vd_accel_task_free(s->acc, seqno);

	if (r < 0)
		return engine_error(rp, s, r);
	if (seqno == 0) {
		while (s->ntasks)
			uncharge_task(c, s, s->ntasks - 1);
	} else if (i >= 0) {
		uncharge_task(c, s, (unsigned)i);
	}
	return 0;
}

static int do_reconfigure(struct conn *c, struct session *s, const struct vd_accel_params *p,
			  struct reply *rp)
{
	struct vd_accel_server *srv = c->srv;
	uint64_t est = estimate_charge(p), grow = 0;

	/* buffers never shrink: a task is charged its largest size so far */
	for (unsigned i = 0; i < s->ntasks; i++)
		if (est > s->tasks[i].charge)
			grow += est - s->tasks[i].charge;
	if (c->client->memory + grow > srv->lim.max_memory) {
		logf_(srv, "client pid %d: refused RECONFIGURE: %llu more bytes of buffers (max_memory %llu)",
		      (int)c->client->pid, (unsigned long long)grow,
		      (unsigned long long)srv->lim.max_memory);
		return reply_error(rp, -EDQUOT, "client limit: %llu bytes of task buffers (max_memory)",
				   (unsigned long long)srv->lim.max_memory);
	}
	int r = vd_accel_reconfigure(s->acc, p);
	if (r < 0)
		return engine_error(rp, s, r);
	if (vd_accel_get_params(s->acc, &s->params) < 0)
		s->params = *p;
	est = estimate_charge(&s->params);
	for (unsigned i = 0; i < s->ntasks; i++) {
		if (est <= s->tasks[i].charge)
			continue;
		uint64_t d = est - s->tasks[i].charge;
		s->tasks[i].charge = est;
		c->client->memory += d;
		atomic_fetch_add(&srv->n_memory, d);
	}
	return 0;
}

/* Run one request; fills @rp (header excluded). Returns the result for the header. */
static int dispatch(struct conn *c, const struct vd_proto_request *req, struct reply *rp)
{
	struct session *s = NULL;
	int r;

	switch (req->hdr.type) {
	case VD_PROTO_HELLO:
		return do_hello(c, rp);
	case VD_PROTO_LIST:
		return do_list(rp);
	case VD_PROTO_OPEN:
		return do_open(c, req, rp);
	default:
		break;
	}
	s = find_session(c, req->session);
	if (!s)
		return reply_error(rp, -EBADF, "no session %u on this connection", req->session);
	/* the ring and the socket are one ordered stream: STARTs the client
	 * published before this request run before it */
	accel_engine_ring_sync(s->acc, -1);

	switch (req->hdr.type) {
	case VD_PROTO_CLOSE:
		return do_close(c, s);
	case VD_PROTO_GET_CAPS: {
		struct vd_accel_caps caps;
		struct vd_proto_caps w;
		r = vd_accel_get_caps(s->acc, &caps);
		if (r < 0)
			return engine_error(rp, s, r);
		vd_proto_caps_to_wire(&caps, &w);
		reply_add(rp, &w, sizeof(w));
		return 0;
	}
	case VD_PROTO_GET_CODEC_CAPS: {
		struct vd_accel_codec_caps caps;
		struct vd_proto_codec_caps w;
		r = vd_accel_get_codec_caps(s->acc, req->u.codec, &caps);
		if (r < 0)
			return engine_error(rp, s, r);
		vd_proto_codec_caps_to_wire(&caps, &w);
		reply_add(rp, &w, sizeof(w));
		return 0;
	}
	case VD_PROTO_SET_PARAMS:
		return do_set_params(s, &req->u.params, rp);
	case VD_PROTO_GET_PARAMS: {
		struct vd_accel_params p;
		struct vd_proto_params w;
		r = vd_accel_get_params(s->acc, &p);
		if (r < 0)
			return engine_error(rp, s, r);
		vd_proto_params_to_wire(&p, &w);
		reply_add(rp, &w, sizeof(w));
		return 0;
	}
	case VD_PROTO_TASK_CREATE:
		return do_create(c, s, req, rp);
	case VD_PROTO_TASK_START:
		return do_start(s, req, rp);
	case VD_PROTO_TASK_STOP:
		r = vd_accel_task_stop(s->acc, req->u.seqno);
		return r < 0 ? engine_error(rp, s, r) : 0;
	case VD_PROTO_TASK_FREE:
		return do_free(c, s, req->u.seqno, rp);
	case VD_PROTO_TASK_STATUS: {
		struct vd_accel_task_status st = req->u.status;
		struct vd_proto_status w;
		r = vd_accel_task_status(s->acc, &st);
		if (r < 0)
			return engine_error(rp, s, r);
		vd_proto_status_to_wire(&st, &w);
		reply_add(rp, &w, sizeof(w));
		return 0;
	}
	case VD_PROTO_RECONFIGURE:
		return do_reconfigure(c, s, &req->u.params, rp);
	case VD_PROTO_SET_ADJUST:
		r = vd_accel_set_adjust(s->acc, req->u.adjust);
		return r < 0 ? engine_error(rp, s, r) : 0;
	case VD_PROTO_GET_METADATA: {
		struct vd_accel_metadata md;
		struct vd_proto_metadata w;
		r = vd_accel_get_metadata(s->acc, req->u.seqno, &md);
		if (r < 0)
			return engine_error(rp, s, r);
		vd_proto_metadata_to_wire(&md, &w);
		reply_add(rp, &w, sizeof(w));
		return 0;
	}
	case VD_PROTO_RING_ATTACH:
		r = accel_engine_ring_attach(s->acc, rp->fds, c->srv->activity_fd);
		if (r < 0)
			return engine_error(rp, s, r);
		rp->nfds = 3;
		rp->close_fds = true;
		return 0;
	case VD_PROTO_RING_POLL:
		accel_engine_ring_sync(s->acc, (int)req->u.exact);
		return 0;
	case VD_PROTO_STREAM: {
		const char *name = vd_proto_stream_ioctl_name(req->u.ioctl_nr);
		if (!name)
			return reply_error(rp, -ENOTTY, "ioctl 0x%02x is not an operation of an accel session",
					   req->u.ioctl_nr);
		return reply_error(rp, -ENOTTY, "%s is a streaming-only operation: an accel session "
				   "has tasks, not a stream", name);
	}
	default:
		return reply_error(rp, -ENOSYS, "unknown request type %u", req->hdr.type);
	}
}

/* Send @rp, or keep it pending while the client's queue is full.
 * Returns 0, or -1 when the connection was freed. */
static int conn_send(struct conn *c, struct reply *rp)
{
	int r = send_record(c->fd, rp->buf, rp->len, rp->fds, rp->nfds);

	if (r == 0) {
		if (rp->close_fds)
			close_fds(rp->fds, rp->nfds);
		return 0;
	}
	if (r != -EAGAIN) {
		if (rp->close_fds)
			close_fds(rp->fds, rp->nfds);
		conn_free(c, r == -EPIPE || r == -ECONNRESET ? NULL : "send failed");
		return -1;
	}
	c->pending = malloc(rp->len);
	if (!c->pending) {
		if (rp->close_fds)
			close_fds(rp->fds, rp->nfds);
		conn_free(c, "out of memory for a pending reply");
		return -1;
	}
	memcpy(c->pending, rp->buf, rp->len);
	c->pending_len = rp->len;
	c->pending_nfds = rp->nfds;
	for (unsigned i = 0; i < rp->nfds; i++)
		c->pending_fds[i] = rp->close_fds ? rp->fds[i] : fcntl(rp->fds[i], F_DUPFD_CLOEXEC, 0);
	vd_loop_mod_fd(c->watch, EPOLLOUT);
	return 0;
}

static int flush_pending(struct conn *c)
{
	int r = send_record(c->fd, c->pending, c->pending_len, c->pending_fds, c->pending_nfds);

	if (r == -EAGAIN)
		return 0;
	if (r < 0) {
		conn_free(c, r == -EPIPE || r == -ECONNRESET ? NULL : "send failed");
		return -1;
	}
	close_fds(c->pending_fds, c->pending_nfds);
	c->pending_nfds = 0;
	free(c->pending);
	c->pending = NULL;
	vd_loop_mod_fd(c->watch, EPOLLIN);
	return 0;
}

/* Read and answer one record: 1 done, 0 nothing to read, -1 connection freed. */
static int conn_handle_one(struct conn *c)
{
	uint8_t buf[VD_PROTO_MAX_MSG];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * RECV_MAX_FDS)];
	} cm;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cm.b, .msg_controllen = sizeof(cm.b),
	};
	ssize_t n;

	do {
		n = recvmsg(c->fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN)
			return 0;
		conn_free(c, NULL);
		return -1;
	}

	/* requests carry no descriptors: count whatever came, and close it */
	unsigned nfds = 0;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
			close(fd);
		}
		nfds += (unsigned)k;
	}
	if (n == 0 && nfds == 0) {
		conn_free(c, NULL);	/* hang-up (or an empty record, which is no request either) */
		return -1;
	}
	if (m.msg_flags & MSG_TRUNC) {
		conn_malformed(c, "record larger than the largest message");
		return -1;
	}
	if (m.msg_flags & MSG_CTRUNC) {
		conn_malformed(c, "too many descriptors attached");
		return -1;
	}

	struct vd_proto_request req;
	const char *why;
	int r = vd_proto_parse_request(buf, (size_t)n, nfds, &req, &why);
	struct reply rp;

	reply_init(&rp);
	if (r == -EPROTONOSUPPORT) {
		reply_error(&rp, r, "protocol version %u is not supported (this daemon speaks %u)",
			    req.hdr.version, VD_PROTO_VERSION);
		vd_proto_put_header(rp.buf, req.hdr.type, req.hdr.id, r,
				    (uint32_t)(rp.len - VD_PROTO_HDR_SIZE), 0, VD_PROTO_FLAG_REPLY);
		send_record(c->fd, rp.buf, rp.len, NULL, 0);
		conn_malformed(c, why);
		return -1;
	}
	if (r == -ENOSYS) {
		reply_error(&rp, r, "unknown request type %u", req.hdr.type);
	} else if (r < 0) {
		conn_malformed(c, why);
		return -1;
	} else {
		atomic_fetch_add(&c->srv->n_requests, 1);
		r = dispatch(c, &req, &rp);
		struct session *s = find_session(c, req.session);

		if (s)
			power_update(c->srv, s);
		/* a pipelined START is answered only when refused */
		if (r >= 0 && (req.hdr.flags & VD_PROTO_FLAG_NO_REPLY))
			return 1;
	}
	vd_proto_put_header(rp.buf, req.hdr.type, req.hdr.id, r, (uint32_t)(rp.len - VD_PROTO_HDR_SIZE),
			    (uint16_t)rp.nfds, VD_PROTO_FLAG_REPLY);
	return conn_send(c, &rp) < 0 ? -1 : 1;
}

static void on_conn(void *data, int fd, uint32_t events)
{
	struct conn *c = data;

	(void)fd;
	if (c->pending) {
		if (events & (EPOLLHUP | EPOLLERR)) {
			conn_free(c, NULL);
			return;
		}
		if (flush_pending(c) < 0 || c->pending)
			return;
	}
	for (int i = 0; i < RECV_BURST && !c->pending; i++) {
		int r = conn_handle_one(c);
		if (r < 0)
			return;
		if (r == 0)
			break;
	}
}

static void on_listen(void *data, int fd, uint32_t events)
{
	struct vd_accel_server *srv = data;

	(void)events;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (cfd < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				logf_(srv, "accept: %s", strerror(errno));
			return;
		}
		struct ucred cred = { .pid = 0 };
		socklen_t cl = sizeof(cred);
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
			cred.pid = 0;
		if (atomic_load(&srv->n_conns) >= srv->lim.max_connections) {
			logf_(srv, "client pid %d: refused connection: %u connections open (max_connections)",
			      (int)cred.pid, atomic_load(&srv->n_conns));
			close(cfd);
			continue;
		}
		struct conn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);
			continue;
		}
		c->srv = srv;
		c->fd = cfd;
		c->serial = ++srv->next_serial;
		c->client = client_get(srv, cred.pid);
		if (!c->client || vd_loop_add_fd(srv->loop, cfd, EPOLLIN, on_conn, c, &c->watch) < 0) {
			if (c->client)
				client_put(srv, c->client);
			free(c);
			close(cfd);
			logf_(srv, "client pid %d: refused connection: out of resources", (int)cred.pid);
			continue;
		}
		c->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = c;
		srv->conns = c;
		atomic_fetch_add(&srv->n_conns, 1);
	}
}

/* ---- listening socket ---- */

static int make_parent_dir(const char *path, char *err, size_t errsz)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		int r = -errno;
		snprintf(err, errsz, "cannot create %s: %s", dir, strerror(errno));
		return r;
	}
	return 0;
}

int vd_accel_server_new(struct vd_loop *loop, const char *path,
			const struct vd_accel_server_limits *lim,
			vd_accel_server_log_fn log, void *log_data,
			struct vd_accel_server **out, char *err, size_t errsz)
{
	char dummy[8];
	struct vd_accel_server *srv;
	int r;

	if (!err) {
		err = dummy;
		errsz = sizeof(dummy);
	}
	err[0] = '\0';
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	srv->loop = loop;
	srv->power_tfd = -1;
	srv->activity_fd = -1;
	if (lim)
		srv->lim = *lim;
	else
		vd_accel_server_default_limits(&srv->lim);
	srv->log = log;
	srv->log_data = log_data;
	r = make_parent_dir(path, err, errsz);
	if (r == 0)
		r = vd_listen_unix(path, SOCK_SEQPACKET, 64, "daemon", &srv->listen_fd, err, errsz);
	if (r < 0) {
		free(srv);
		return r;
	}
	snprintf(srv->path, sizeof(srv->path), "%s", path);
	r = vd_loop_add_fd(loop, srv->listen_fd, EPOLLIN, on_listen, srv, &srv->listen_watch);
	if (r < 0) {
		snprintf(err, errsz, "cannot watch the socket: %s", strerror(-r));
		close(srv->listen_fd);
		unlink(srv->path);
		free(srv);
		return r;
	}
	*out = srv;
	return 0;
}

void vd_accel_server_free(struct vd_accel_server *srv)
{
	if (!srv)
		return;
	srv->shutting_down = true;
	while (srv->conns)
		conn_free(srv->conns, NULL);
	vd_loop_remove(srv->listen_watch);
	close(srv->listen_fd);
	unlink(srv->path);
	vd_loop_remove(srv->power_watch);
	if (srv->power_tfd >= 0)
		close(srv->power_tfd);
	vd_loop_remove(srv->activity_watch);
	if (srv->activity_fd >= 0)
		close(srv->activity_fd);
	free(srv);
}

int vd_accel_server_set_power(struct vd_accel_server *srv, struct vd_power *power)
{
	int r;

	if (srv->power || srv->conns)
		return -EBUSY;
	srv->power_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (srv->power_tfd < 0)
		return -errno;
	r = vd_loop_add_fd(srv->loop, srv->power_tfd, EPOLLIN, on_power_check, srv, &srv->power_watch);
	if (r < 0)
		goto fail;
	srv->activity_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (srv->activity_fd < 0) {
		r = -errno;
		goto fail;
	}
	r = vd_loop_add_fd(srv->loop, srv->activity_fd, EPOLLIN, on_activity, srv, &srv->activity_watch);
	if (r < 0)
		goto fail;
	srv->power = power;
	return 0;
fail:
	vd_loop_remove(srv->power_watch);
	srv->power_watch = NULL;
	close(srv->power_tfd);
	srv->power_tfd = -1;
	if (srv->activity_fd >= 0)
		close(srv->activity_fd);
	srv->activity_fd = -1;
	return r;
}
