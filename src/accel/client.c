/* accel/client.c - the socket backend of vd_accel_*: each call becomes one
 * request to `virtdsp serve` and waits for its reply (docs/protocol.md),
 * except the two a task costs on the hot path: STATUS is read from the
 * session's status page once the daemon has handled the task's START, and
 * a START the engine will certainly accept is sent without waiting
 * (pipelined). One connection per session, so sessions are as independent
 * as in-process; a mutex serialises the calls made on one session from
 * several threads. The buffers, the poll descriptor and the status page
 * arrive with SCM_RIGHTS, so audio and completions never pass through this
 * code. With a daemon that offers the submission ring, those STARTs are
 * written into shared memory instead of the socket, and a program that
 * never takes the poll fd is told of completions through the ring's notify
 * eventfd, only when it waits (docs/protocol.md, "Submission ring"). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>

#include <virtdsp/accel.h>

#include "accel/accel-impl.h"
#include "accel/protocol.h"
#include "accel/seqmap.h"

/* descriptors we make room for in a reply, to close what a bad daemon attaches */
#define REPLY_MAX_FDS 8

/* What the library knows of a task's status page entry. */
struct slot {
	bool known;		/* a task of ours lives in this entry */
	uint64_t seqno;		/* its seqno, counting STARTs still in the connection */
	uint64_t sent;		/* STARTs sent that succeeded or may still succeed */
	bool stop_pending;	/* a STOP of it is in the ring, up to entry stop_tail */
	uint32_t stop_tail;
	bool certain;		/* its latest START went out pipelined (the engine takes it) */
	uint64_t certain_input;	/* with that input_size */
};

struct client_session {
	struct vd_accel base;
	pthread_mutex_t lock;
	int sock;
	int poll_fd;
	const struct vd_proto_page *page;
	uint32_t session;
	uint32_t next_id;
	enum vd_accel_session_state state;
	int broken;		/* 0, or the -errno every call returns from now on */
	bool pipelined;		/* a NO_REPLY START was sent: its refusal may arrive any time */
	bool seqno_known;	/* last_seqno is the engine's (no CREATE failed since) */
	uint64_t last_seqno;
	struct slot slots[VD_PROTO_PAGE_ENTRIES];
	struct accel_seqmap seqs;	/* seqno -> slot, for every known slot */
	/* the engine's started list (ACTIVE and FINISHED tasks, START order) as slot numbers */
	uint8_t order[VD_PROTO_PAGE_ENTRIES];
	unsigned norder;
	char err[VD_PROTO_MAX_ERRMSG];
	char broken_err[VD_PROTO_MAX_ERRMSG];	/* why, when a refusal failed the session */
	/* the submission ring, NULL when the daemon has none */
	struct vd_proto_ring *ring;
	int kick_fd, notify_fd;
	uint32_t tail;		/* entries we published */
	bool ring_stop;		/* the daemon takes STOPs in the ring */
	bool exact;		/* the program has the poll fd: the daemon keeps it exact */
	bool notify_leader;	/* a waiting thread sleeps on notify_fd; the others on notify_gen */
	atomic_uint notify_gen;	/* bumped when that thread wakes */
	unsigned notify_followers;	/* threads asleep on notify_gen */
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

static int send_request(int sock, uint32_t type, uint32_t id, uint16_t flags, const void *req, size_t len,
			char *err, size_t errsz)
{
	uint8_t buf[VD_PROTO_MAX_MSG];
	ssize_t n;

	vd_proto_put_header(buf, type, id, 0, (uint32_t)len, 0, flags);
	if (len)
		memcpy(buf + VD_PROTO_HDR_SIZE, req, len);
	do {
		n = send(sock, buf, VD_PROTO_HDR_SIZE + len, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (err)
			snprintf(err, errsz, "the daemon closed the connection");
		return errno == EPIPE || errno == ECONNRESET ? -ECONNRESET : -errno;
	}
	return 0;
}

/* One record from the daemon: its length (> 0), or -errno (-ECONNRESET: hang-up;
 * -EAGAIN: nothing there with @flags MSG_DONTWAIT). */
static ssize_t recv_record(int sock, uint8_t *buf, int *fds, unsigned *nfds, int *msg_flags, int flags)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * REPLY_MAX_FDS)];
	} cm;
	struct iovec iov = { .iov_base = buf, .iov_len = VD_PROTO_MAX_MSG };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cm.b, .msg_controllen = sizeof(cm.b),
	};
	ssize_t n;

	*nfds = 0;
	do {
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | flags);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno != ECONNRESET)
		return -errno;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); n > 0 && h; h = CMSG_NXTHDR(&m, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && *nfds < REPLY_MAX_FDS; i++)
			memcpy(&fds[(*nfds)++], CMSG_DATA(h) + i * sizeof(int), sizeof(int));
	}
	*msg_flags = m.msg_flags;
	return n <= 0 ? -ECONNRESET : n;
}

/* The daemon's refusal of a pipelined START: an error reply to a TASK_START
 * that is not the one being waited for (@id, 0 for none). Returns its -errno
 * with the message in @err, or 0 when @buf is something else. */
static int async_refusal(const uint8_t *buf, size_t n, unsigned nfds, uint32_t id, char *err, size_t errsz)
{
	const void *payload;
	size_t plen;
	const char *msg;
	struct vd_proto_hdr h;

	if (vd_proto_parse_header(buf, n, nfds, &h) < 0 || h.type != VD_PROTO_TASK_START || h.id == id ||
	    h.result >= 0)
		return 0;
	int r = vd_proto_parse_reply(buf, n, nfds, VD_PROTO_TASK_START, h.id, 0, 0, 0, &payload, &plen, &msg);
	if (r >= 0 || r == -EPROTO)
		return 0;
	if (err)
		snprintf(err, errsz, "pipelined START refused: %s", msg[0] ? msg : strerror(-r));
	return r;
}

/* @async: the session has pipelined STARTs, whose refusals may come first;
 * *@refused is then set when the result is such a refusal. */
static int transact(int sock, uint32_t id, struct xfer *x, bool async, bool *refused_out)
{
	uint8_t buf[VD_PROTO_MAX_MSG];
	int fds[REPLY_MAX_FDS];
	unsigned nfds = 0;
	int msg_flags = 0, refused = 0;
	ssize_t n;

	n = send_request(sock, x->type, id, 0, x->req, x->req_len, x->err, x->errsz);
	if (n < 0)
		return (int)n;
	for (;;) {
		n = recv_record(sock, buf, fds, &nfds, &msg_flags, 0);
		if (n == -ECONNRESET) {
			set_err(x, "the daemon closed the connection");
			return -ECONNRESET;
		}
		if (n < 0) {
			set_err(x, "receiving the daemon's reply failed");
			return (int)n;
		}
		if (!async || (msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
			break;
		int r = async_refusal(buf, (size_t)n, nfds, id, refused ? NULL : x->err, x->errsz);
		if (!r)
			break;
		/* keep reading to our own reply, but the session is failed */
		if (!refused)
			refused = r;
	}
	if (refused) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		*refused_out = true;
		return refused;
	}

	const void *payload = NULL;
	size_t plen = 0;
	const char *msg = "";
	int r = -EPROTO;
	if (!(msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
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

/* Lock held. The error every call returns once the session has failed. */
static int broken_error(struct client_session *cs)
{
	snprintf(cs->err, sizeof(cs->err), "%s",
		 cs->broken_err[0] ? cs->broken_err :
		 cs->broken == -ECONNRESET ? "the daemon closed the connection" :
					    "the connection to the daemon is unusable");
	return cs->broken;
}

/* Lock held. @r came with a refusal of a pipelined START: the session has failed. */
static void fail_session(struct client_session *cs, int r, bool refused)
{
	cs->broken = r;
	if (refused)
		snprintf(cs->broken_err, sizeof(cs->broken_err), "%s", cs->err);
}

/* Lock held: the daemon refused entry of our ring with @e; the session has
 * failed, as after a refused pipelined START. */
static void ring_failed(struct client_session *cs, int32_t e)
{
	char text[VD_PROTO_MAX_ERRMSG];

	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = __atomic_load_n(&cs->page->error_text[i], __ATOMIC_RELAXED);
	text[sizeof(text) - 1] = '\0';
	/* the prefix and the engine's message may exceed our buffer: cut the message */
	text[sizeof(cs->err) - sizeof("pipelined START refused: ")] = '\0';
	if (!strncmp(text, "STOP: ", 6))
		snprintf(cs->err, sizeof(cs->err), "pipelined STOP refused: %.230s", text + 6);
	else
		snprintf(cs->err, sizeof(cs->err), "pipelined START refused: %.230s", text);
	fail_session(cs, e < 0 && e >= -4095 ? e : -EPROTO, true);
}

/* Lock held: has the daemon refused an entry of our ring? (Asked on every
 * call: the answer is one load.) */
static inline void ring_refused(struct client_session *cs)
{
	int32_t e;

	if (cs->ring && !cs->broken && __builtin_expect((e = __atomic_load_n(&cs->page->error, __ATOMIC_ACQUIRE)) != 0, 0))
		ring_failed(cs, e);
}

/* Lock held: one exchange. */
static int session_call_locked(struct client_session *cs, struct xfer *x)
{
	bool refused = false;
	int r;

	ring_refused(cs);
	if (cs->broken)
		return broken_error(cs);
	x->err = cs->err;
	x->errsz = sizeof(cs->err);
	r = transact(cs->sock, ++cs->next_id, x, cs->pipelined, &refused);
	if (r == -ECONNRESET || r == -EPROTO || refused)
		fail_session(cs, r, refused);
	if (r >= 0 && x->type == VD_PROTO_SET_PARAMS)
		cs->state = VD_ACCEL_STATE_SETUP;
	return r;
}

/* One exchange on a session: serialised, and the connection marked broken
 * when the daemon went away or misbehaved. */
static int session_call(struct client_session *cs, struct xfer *x)
{
	int r;

	pthread_mutex_lock(&cs->lock);
	r = session_call_locked(cs, x);
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
	munmap((void *)cs->page, sizeof(struct vd_proto_page));
	if (cs->ring) {
		munmap(cs->ring, VD_PROTO_RING_SIZE);
		close(cs->kick_fd);
		close(cs->notify_fd);
	}
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

/* ---- the status page's mirror ---- */

static struct slot *slot_of(struct client_session *cs, uint64_t seqno)
{
	int i = accel_seqmap_get(&cs->seqs, seqno);

	return i >= 0 && cs->slots[i].known && cs->slots[i].seqno == seqno ? &cs->slots[i] : NULL;
}

/* Every change of a known slot's seqno goes through here, to keep the map. */
static void slot_set_seqno(struct client_session *cs, struct slot *sl, uint64_t seqno)
{
	if (sl->known)
		accel_seqmap_del(&cs->seqs, sl->seqno);
	/* a seqno the map has already (a daemon that repeats one) keeps one cell */
	accel_seqmap_del(&cs->seqs, seqno);
	sl->seqno = seqno;
	sl->known = true;
	/* a new task or a START of it: a STOP before it is behind it, and
	 * whether this START went out pipelined is the caller's to say */
	sl->stop_pending = false;
	sl->certain = false;
	accel_seqmap_put(&cs->seqs, seqno, (uint8_t)(sl - cs->slots));
}

static void slot_forget(struct client_session *cs, struct slot *sl)
{
	if (sl->known)
		accel_seqmap_del(&cs->seqs, sl->seqno);
	sl->known = false;
	sl->stop_pending = false;
	sl->certain = false;
}

/* A task just created: find its entry (written before CREATE's reply was sent). */
static void learn_slot(struct client_session *cs, uint64_t seqno)
{
	struct vd_proto_page_entry e;

	for (unsigned i = 0; i < VD_PROTO_PAGE_ENTRIES; i++) {
		if (vd_proto_page_read_entry(cs->page, i, &e) == 0 && e.used && e.seqno == seqno) {
			slot_set_seqno(cs, &cs->slots[i], seqno);
			cs->slots[i].sent = e.starts;
			return;
		}
	}
	/* not found (a scribbled page): this task's calls all go to the daemon */
}

/* The entry of @sl when it is the task's current status: every START sent has been handled. */
static bool slot_current(struct client_session *cs, const struct slot *sl, struct vd_proto_page_entry *e)
{
	return vd_proto_page_read_entry(cs->page, (unsigned)(sl - cs->slots), e) == 0 && e->used &&
	       e->seqno == sl->seqno && e->starts == sl->sent;
}

/* As slot_current(), with a STOP still in the ring applied: the task is IDLE
 * for us from the moment it is published (the ring and the socket are one
 * ordered stream), and the engine's STOP of a FINISHED task changes nothing
 * else in its entry. */
static bool slot_status(struct client_session *cs, struct slot *sl, struct vd_proto_page_entry *e)
{
	uint32_t head;

	if (!sl->stop_pending)
		return slot_current(cs, sl, e);
	/* head first: the engine publishes it after the page shows the STOP */
	head = __atomic_load_n(&cs->ring->head, __ATOMIC_ACQUIRE);
	if (!slot_current(cs, sl, e))
		return false;
	if ((int32_t)(head - sl->stop_tail) >= 0)
		sl->stop_pending = false;
	else
		e->state = VD_ACCEL_TASK_IDLE;
	return true;
}

/*
 * The status of @sl's task when its latest START is still in the ring or
 * the connection (the page shows one START fewer) and went out pipelined:
 * the engine takes it (start_certain), so it is ACTIVE with the input it
 * was sent, as the page will say once it is handled. A client looking
 * before it waits would otherwise pay a round trip.
 */
static bool slot_in_flight(struct client_session *cs, struct slot *sl, struct vd_proto_page_entry *e)
{
	if (!sl->certain || vd_proto_page_read_entry(cs->page, (unsigned)(sl - cs->slots), e) < 0 ||
	    !e->used || e->starts + 1 != sl->sent)
		return false;
	e->seqno = sl->seqno;
	e->state = VD_ACCEL_TASK_ACTIVE;
	e->input_size = sl->certain_input;
	e->output_size = 0;
	e->output_flags = 0;
	return true;
}

static void order_remove(struct client_session *cs, unsigned slot)
{
	for (unsigned i = 0; i < cs->norder; i++)
		if (cs->order[i] == slot) {
			memmove(&cs->order[i], &cs->order[i + 1], cs->norder - i - 1);
			cs->norder--;
			return;
		}
}

/* A START of @slot succeeded (or was sent pipelined): it is the newest started task. */
static void order_append(struct client_session *cs, unsigned slot)
{
	order_remove(cs, slot);
	cs->order[cs->norder++] = (uint8_t)slot;
}

/* Is slot @i's task ACTIVE, or may it be (a START of it still in the connection)? */
static bool maybe_active(struct client_session *cs, unsigned i)
{
	struct vd_proto_page_entry e;

	return !slot_current(cs, &cs->slots[i], &e) || e.state == VD_ACCEL_TASK_ACTIVE;
}

/*
 * Lock held: STARTing slot @i now changes neither direction of the poll
 * fd's readiness at once, so it may run late (pipelined) without anyone
 * seeing the difference. POLLOUT drops when the active tasks reach
 * `fragments`; POLLIN drops when the oldest started task, finished, is
 * reused and the next one is not finished. Doubts count as "changes".
 */
static bool readiness_kept(struct client_session *cs, unsigned i, uint32_t fragments)
{
	unsigned active = 0;
	struct vd_proto_page_entry e;

	for (unsigned k = 0; k < cs->norder; k++)
		if (maybe_active(cs, cs->order[k]))
			active++;
	if (active + 1 >= fragments)
		return false;
	if (cs->norder && cs->order[0] == i)
		return cs->norder > 1 && slot_current(cs, &cs->slots[cs->order[1]], &e) &&
		       e.state == VD_ACCEL_TASK_FINISHED;
	return true;
}

/* Lock held: would the engine accept START @t now, with no visible effect
 * but the task's? Then *@slp is the task's slot. */
static bool start_certain(struct client_session *cs, const struct vd_accel_task *t, struct slot **slp)
{
	struct vd_proto_page_entry e;
	uint32_t state, fragment_size, granule, fragments;
	struct slot *sl;

	ring_refused(cs);
	if (cs->broken || cs->state != VD_ACCEL_STATE_SETUP ||
	    (t->flags & ~(uint32_t)(VD_ACCEL_TASK_NEW_STREAM | VD_ACCEL_TASK_END_OF_STREAM)))
		return false;
	if (vd_proto_page_read_header(cs->page, &state, &fragment_size, &granule, &fragments) < 0 ||
	    state != VD_ACCEL_STATE_SETUP || !granule)
		return false;
	sl = slot_of(cs, t->origin_seqno ? t->origin_seqno : t->seqno);
	if (!sl || !slot_status(cs, sl, &e))
		return false;
	if (t->origin_seqno ? (e.state == VD_ACCEL_TASK_ACTIVE || !cs->seqno_known)
			    : e.state != VD_ACCEL_TASK_IDLE)
		return false;
	if (t->input_size > fragment_size || t->input_size > e.in_len || t->input_size % granule)
		return false;
	/* Readiness only matters once the program holds the poll fd. */
	if ((!cs->ring || cs->exact) && !readiness_kept(cs, (unsigned)(sl - cs->slots), fragments))
		return false;
	if (cs->ring && cs->tail - __atomic_load_n(&cs->ring->head, __ATOMIC_ACQUIRE) >= VD_PROTO_RING_ENTRIES)
		return false;
	*slp = sl;
	return true;
}

/* Lock held: make sure the worker will see what we published: kick it
 * only if it said it sleeps, and once per sleep. Clearing need_wakeup as we
 * kick keeps the STARTs that follow from kicking again while the woken
 * worker waits for the CPU: on a shared core a SCHED_BATCH worker may not
 * run until we block, and a 16-deep loop made 72 kicks for 129 tasks to a
 * worker that slept 5 times. The worker sets it again before each sleep. */
static void ring_kick(struct client_session *cs)
{
	/* pairs with the worker's fence between need_wakeup and its last look at tail */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&cs->ring->need_wakeup, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&cs->ring->need_wakeup, 0, __ATOMIC_SEQ_CST))
		(void)!eventfd_write(cs->kick_fd, 1);
}

/*
 * Lock held: publish START @w in the ring, and kick a sleeping worker, so
 * the task runs at once as in-process. Kicking only when the library next
 * needs progress (a blocking wait) was tried: it saved 5% of the context
 * switches of a 4-deep loop on a shared core and delayed every task until
 * then; the engine instead makes its worker SCHED_BATCH, so a kick wakes
 * it without preempting us.
 */
static void ring_publish(struct client_session *cs, const struct vd_proto_task *w, uint32_t op)
{
	struct vd_proto_ring_entry *e = &cs->ring->e[cs->tail % VD_PROTO_RING_ENTRIES];

	__atomic_store_n(&e->seqno, w->seqno, __ATOMIC_RELAXED);
	__atomic_store_n(&e->origin_seqno, w->origin_seqno, __ATOMIC_RELAXED);
	__atomic_store_n(&e->input_size, w->input_size, __ATOMIC_RELAXED);
	__atomic_store_n(&e->flags, w->flags, __ATOMIC_RELAXED);
	__atomic_store_n(&e->op, op, __ATOMIC_RELAXED);
	__atomic_store_n(&cs->ring->tail, ++cs->tail, __ATOMIC_RELEASE);
}

static void ring_submit(struct client_session *cs, const struct vd_proto_task *w)
{
	ring_publish(cs, w, VD_PROTO_RING_OP_START);
	ring_kick(cs);
}

/*
 * Lock held: STOP @seqno without a round trip, when the engine would
 * certainly accept it and nobody can see the difference: a FINISHED task
 * (every START of it handled) becomes IDLE and leaves the started list,
 * which changes only the poll fd's readiness, and only the library
 * computes that while the program has not taken the fd. Then the STOP
 * goes into the ring and the worker is not kicked: nothing waits for it,
 * and the next kick or request takes it along. A STOP of a task that is
 * IDLE (or about to be) changes nothing and is answered here. This is
 * what a client draining its last tasks does, once per task.
 */
static bool stop_certain(struct client_session *cs, uint64_t seqno)
{
	struct vd_proto_page_entry e;
	struct slot *sl;

	ring_refused(cs);
	if (!cs->ring_stop || cs->broken || cs->state != VD_ACCEL_STATE_SETUP || !seqno ||
	    __atomic_load_n(&cs->exact, __ATOMIC_RELAXED))
		return false;
	sl = slot_of(cs, seqno);
	if (!sl || !slot_status(cs, sl, &e))
		return false;
	if (e.state == VD_ACCEL_TASK_IDLE)
		return true;
	if (e.state != VD_ACCEL_TASK_FINISHED ||
	    cs->tail - __atomic_load_n(&cs->ring->head, __ATOMIC_ACQUIRE) >= VD_PROTO_RING_ENTRIES)
		return false;
	ring_publish(cs, &(struct vd_proto_task){ .seqno = seqno }, VD_PROTO_RING_OP_STOP);
	sl->stop_pending = true;
	sl->stop_tail = cs->tail;
	order_remove(cs, (unsigned)(sl - cs->slots));
	return true;
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
	pthread_mutex_lock(&cs->lock);
	int r = session_call_locked(cs, &x);
	if (r < 0) {
		/* the daemon may have created the task, taken a seqno, and freed it (limits) */
		cs->seqno_known = false;
		pthread_mutex_unlock(&cs->lock);
		return r;
	}
	cs->last_seqno = w.seqno;
	cs->seqno_known = true;
	learn_slot(cs, w.seqno);
	pthread_mutex_unlock(&cs->lock);
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
	struct slot *sl = NULL;
	int r;

	session_req(cs, &req.s);
	vd_proto_task_to_wire(t, &req.t);
	pthread_mutex_lock(&cs->lock);
	if (start_certain(cs, t, &sl)) {
		uint64_t seqno = t->seqno;
		if (t->origin_seqno) {
			if (++cs->last_seqno == 0)
				++cs->last_seqno;
			seqno = cs->last_seqno;
		}
		if (cs->ring) {
			ring_submit(cs, &req.t);
		} else {
			r = send_request(cs->sock, VD_PROTO_TASK_START, ++cs->next_id, VD_PROTO_FLAG_NO_REPLY,
					 &req, sizeof(req), cs->err, sizeof(cs->err));
			if (r < 0) {
				if (r == -ECONNRESET)
					fail_session(cs, r, false);
				pthread_mutex_unlock(&cs->lock);
				return r;
			}
			cs->pipelined = true;
		}
		slot_set_seqno(cs, sl, seqno);
		sl->sent++;
		sl->certain = true;
		sl->certain_input = t->input_size;
		order_append(cs, (unsigned)(sl - cs->slots));
		pthread_mutex_unlock(&cs->lock);
		t->seqno = seqno;
		t->origin_seqno = 0;
		return 0;
	}
	/* Not certain: the engine decides, and says why if it refuses. The
	 * exchange's description is built only here: zeroing it on the ring
	 * path cost more than the rest of the ring write. */
	struct xfer x = { .type = VD_PROTO_TASK_START, .req = &req, .req_len = sizeof(req),
			  .out = &w, .out_len = sizeof(w) };
	sl = slot_of(cs, t->origin_seqno ? t->origin_seqno : t->seqno);
	r = session_call_locked(cs, &x);
	if (r >= 0) {
		if (sl) {
			slot_set_seqno(cs, sl, w.seqno);
			sl->sent++;
			order_append(cs, (unsigned)(sl - cs->slots));
		}
		if (t->origin_seqno) {
			/* a reuse takes the next seqno: this one is the latest */
			cs->last_seqno = w.seqno;
			cs->seqno_known = true;
		}
	}
	pthread_mutex_unlock(&cs->lock);
	if (r < 0)
		return r;
	t->seqno = w.seqno;
	t->origin_seqno = w.origin_seqno;
	t->input_size = w.input_size;
	t->flags = w.flags;
	return 0;
}

static int c_task_stop(struct vd_accel *s, uint64_t seqno)
{
	struct client_session *cs = cs_of(s);
	struct vd_proto_seqno_req req = { .seqno = seqno };
	struct xfer x = { .type = VD_PROTO_TASK_STOP, .req = &req, .req_len = sizeof(req) };
	struct slot *sl;

	session_req(cs, &req.s);
	pthread_mutex_lock(&cs->lock);
	if (stop_certain(cs, seqno)) {
		pthread_mutex_unlock(&cs->lock);
		return 0;
	}
	int r = session_call_locked(cs, &x);
	/* STOP takes a task off the started list, as the engine does */
	if (r >= 0 && seqno == 0)
		cs->norder = 0;
	else if (r >= 0 && (sl = slot_of(cs, seqno)))
		order_remove(cs, (unsigned)(sl - cs->slots));
	pthread_mutex_unlock(&cs->lock);
	return r < 0 ? r : 0;
}

static int c_task_free(struct vd_accel *s, uint64_t seqno)
{
	struct client_session *cs = cs_of(s);
	struct vd_proto_seqno_req req = { .seqno = seqno };
	struct xfer x = { .type = VD_PROTO_TASK_FREE, .req = &req, .req_len = sizeof(req) };
	struct slot *sl;

	session_req(cs, &req.s);
	pthread_mutex_lock(&cs->lock);
	int r = session_call_locked(cs, &x);
	if (r >= 0 && seqno == 0) {
		memset(cs->slots, 0, sizeof(cs->slots));
		memset(&cs->seqs, 0, sizeof(cs->seqs));
		cs->norder = 0;
	} else if (r >= 0 && (sl = slot_of(cs, seqno))) {
		slot_forget(cs, sl);
		order_remove(cs, (unsigned)(sl - cs->slots));
	}
	pthread_mutex_unlock(&cs->lock);
	return r < 0 ? r : 0;
}

static int c_task_status(struct vd_accel *s, struct vd_accel_task_status *st)
{
	struct client_session *cs = cs_of(s);
	struct vd_proto_status_req req;
	struct vd_proto_status w;
	struct vd_proto_page_entry e;
	struct slot *sl;

	pthread_mutex_lock(&cs->lock);
	ring_refused(cs);
	if (cs->broken) {
		int r = broken_error(cs);
		pthread_mutex_unlock(&cs->lock);
		return r;
	}
	if (cs->state == VD_ACCEL_STATE_SETUP && (sl = slot_of(cs, st->seqno)) &&
	    (slot_status(cs, sl, &e) || slot_in_flight(cs, sl, &e))) {
		/* every START of it handled (the page is its status), or what it will be */
		pthread_mutex_unlock(&cs->lock);
		memset(st, 0, sizeof(*st));
		st->seqno = e.seqno;
		st->input_size = e.input_size;
		st->output_size = e.output_size;
		st->output_flags = e.output_flags;
		st->state = e.state;
		return 0;
	}
	pthread_mutex_unlock(&cs->lock);
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

/* The program takes the poll fd: from now on it may poll it, so the daemon
 * must keep its readiness exact (one round trip, the first time). A failure
 * fails the session, which the next call reports. */
static int c_fd(struct vd_accel *s)
{
	struct client_session *cs = cs_of(s);
	struct vd_proto_ring_poll_req req = { .exact = 1 };
	struct xfer x = { .type = VD_PROTO_RING_POLL, .req = &req, .req_len = sizeof(req) };

	pthread_mutex_lock(&cs->lock);
	if (cs->ring && !cs->exact) {
		session_req(cs, &req.s);
		if (session_call_locked(cs, &x) >= 0)
			__atomic_store_n(&cs->exact, true, __ATOMIC_RELAXED);
		else if (!cs->broken)
			fail_session(cs, -EPROTO, false);
	}
	pthread_mutex_unlock(&cs->lock);
	return cs->poll_fd;
}

/* Lock held: the poll fd's readiness as the engine would set it, from the
 * page and what we have submitted (the lazy fd is not kept up to date). */
static short local_ready(struct client_session *cs, short events)
{
	struct vd_proto_page_entry e;
	uint32_t state, fragment_size, granule, fragments;
	short r = 0;

	if ((events & POLLIN) && cs->norder && slot_current(cs, &cs->slots[cs->order[0]], &e) &&
	    e.state == VD_ACCEL_TASK_FINISHED)
		r |= POLLIN;
	if ((events & POLLOUT) &&
	    vd_proto_page_read_header(cs->page, &state, &fragment_size, &granule, &fragments) == 0) {
		unsigned active = 0;
		for (unsigned k = 0; k < cs->norder; k++)
			if (maybe_active(cs, cs->order[k]))
				active++;
		if (active < fragments)
			r |= POLLOUT;
	}
	return r;
}

/* Lock held: read what the daemon sent unasked (a refused pipelined START)
 * or its hang-up. Returns the -errno that failed the session, or 0. */
static int check_refusals(struct client_session *cs)
{
	uint8_t buf[VD_PROTO_MAX_MSG];
	int fds[REPLY_MAX_FDS];
	unsigned nfds;
	int msg_flags = 0;

	while (!cs->broken) {
		ssize_t n = recv_record(cs->sock, buf, fds, &nfds, &msg_flags, MSG_DONTWAIT);
		if (n == -EAGAIN)
			return 0;
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		if (n < 0) {
			snprintf(cs->err, sizeof(cs->err), "the daemon closed the connection");
			fail_session(cs, -ECONNRESET, false);
		} else {
			int r = (msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ? 0 :
				async_refusal(buf, (size_t)n, nfds, 0, cs->err, sizeof(cs->err));
			if (!r)
				snprintf(cs->err, sizeof(cs->err), "the daemon's reply broke the protocol");
			fail_session(cs, r ? r : -EPROTO, r != 0);
		}
	}
	return cs->broken;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Lock held: 0 if the session can be waited on, else why not (-errno, the text in cs->err). */
static int wait_allowed(struct client_session *cs)
{
	ring_refused(cs);
	if (cs->broken)
		return broken_error(cs);
	if (cs->state != VD_ACCEL_STATE_SETUP) {
		snprintf(cs->err, sizeof(cs->err), "nothing to wait for: no parameters set (session is OPEN)");
		return -EPERM;
	}
	return 0;
}

/* Milliseconds to @deadline (a now_ms() time; -1: none, which stays -1), never negative. */
static int ms_left(int64_t deadline)
{
	int64_t d;

	if (deadline < 0)
		return -1;
	d = deadline - now_ms();
	return d > 0 ? (int)d : 0;
}

/* Waiting with a ring while nobody holds the poll fd: readiness comes from
 * the page, and we sleep on the notify eventfd after saying so in the ring
 * (client_wait), so the daemon signals only a client that waits. The
 * connection is watched for the daemon's hang-up.
 *
 * Only one waiting thread (the leader) sleeps on the eventfd; the others
 * sleep on notify_gen, which the leader bumps and wakes when it wakes. With
 * several threads on the eventfd, one that woke and reset it could do so
 * before another had entered poll(), which then slept through the change it
 * waited for (the daemon signals once per client_wait). */
static int wait_lazy(struct client_session *cs, short events, int timeout_ms)
{
	struct pollfd p[2] = {
		{ .fd = cs->notify_fd, .events = POLLIN },
		{ .fd = cs->sock, .events = POLLIN },
	};
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	short ready;
	int r;

	for (;;) {
		pthread_mutex_lock(&cs->lock);
		if ((r = wait_allowed(cs)) < 0) {
			pthread_mutex_unlock(&cs->lock);
			return r;
		}
		ready = local_ready(cs, events);
		int left = ms_left(deadline);
		if (!ready && left != 0) {
			/* say we wait, then look again: a change after our look is signalled */
			__atomic_store_n(&cs->ring->client_wait, 1, __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			ready = local_ready(cs, events);
			if (ready)
				__atomic_store_n(&cs->ring->client_wait, 0, __ATOMIC_RELAXED);
		}
		if (ready || left == 0) {
			pthread_mutex_unlock(&cs->lock);
			return ready;
		}
		if (cs->notify_leader) {
			unsigned gen = atomic_load(&cs->notify_gen);
			struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = (long)(left % 1000) * 1000000 };

			cs->notify_followers++;
			pthread_mutex_unlock(&cs->lock);
			/* the leader bumps gen under the lock: a wake after our look returns at once */
			syscall(SYS_futex, &cs->notify_gen, FUTEX_WAIT_PRIVATE, gen, left < 0 ? NULL : &ts, NULL, 0);
			pthread_mutex_lock(&cs->lock);
			cs->notify_followers--;
			pthread_mutex_unlock(&cs->lock);
			continue;
		}
		cs->notify_leader = true;
		pthread_mutex_unlock(&cs->lock);
		do {
			r = poll(p, 2, left);
		} while (r < 0 && errno == EINTR);
		if (r < 0)
			r = -errno;
		pthread_mutex_lock(&cs->lock);
		if (r > 0 && (p[0].revents & POLLIN)) {
			eventfd_t v;
			(void)!eventfd_read(cs->notify_fd, &v);
		}
		cs->notify_leader = false;
		atomic_fetch_add(&cs->notify_gen, 1);
		bool followers = cs->notify_followers > 0;
		pthread_mutex_unlock(&cs->lock);
		if (followers)
			syscall(SYS_futex, &cs->notify_gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
		if (r < 0)
			return r;
		if (r > 0 && p[1].revents) {
			pthread_mutex_lock(&cs->lock);
			r = check_refusals(cs);
			pthread_mutex_unlock(&cs->lock);
			if (r < 0)
				return r;
		}
	}
}

/* Waiting needs no request: the poll fd is the daemon session's own. The
 * state check is local, made the way the engine makes it; once STARTs were
 * pipelined the connection is watched too, for a refusal of one, and with
 * a ring its notify eventfd, which a refused entry signals. */
static int c_wait(struct vd_accel *s, short events, int timeout_ms)
{
	struct client_session *cs = cs_of(s);
	struct pollfd p[3] = {
		{ .fd = cs->poll_fd, .events = events },
		{ .fd = cs->sock, .events = POLLIN },
		{ .fd = cs->ring ? cs->notify_fd : -1, .events = POLLIN },
	};
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	bool watch;
	int r;

	/* exact only ever turns true; a wait that began lazy as it turns is
	 * still right, the ring's notifications do not depend on it */
	if (cs->ring && !__atomic_load_n(&cs->exact, __ATOMIC_RELAXED))
		return wait_lazy(cs, events, timeout_ms);
	for (;;) {
		pthread_mutex_lock(&cs->lock);
		if ((r = wait_allowed(cs)) < 0) {
			pthread_mutex_unlock(&cs->lock);
			return r;
		}
		watch = cs->pipelined;
		pthread_mutex_unlock(&cs->lock);

		int left = ms_left(deadline);
		p[1].revents = p[2].revents = 0;
		/* the sock is watched when pipelined or with a ring (a ring needs p[2]) */
		p[1].fd = watch || cs->ring ? cs->sock : -1;
		do {
			r = poll(p, 3, left);
		} while (r < 0 && errno == EINTR);
		if (r < 0)
			return -errno;
		if (p[0].revents)
			return p[0].revents & (events | POLLERR | POLLHUP);
		if (p[2].revents & POLLIN) {
			eventfd_t v;
			(void)!eventfd_read(cs->notify_fd, &v);
			continue;	/* a refused entry: the loop's top reports it */
		}
		if (!p[1].revents)
			return 0;	/* timed out */
		/* The connection stirred: a refusal, a hang-up, or another
		 * thread's reply (which that thread reads; we look again). */
		pthread_mutex_lock(&cs->lock);
		r = check_refusals(cs);
		pthread_mutex_unlock(&cs->lock);
		if (r < 0)
			return r;
		if (deadline >= 0 && now_ms() >= deadline)
			return 0;
	}
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

/* Ask for the submission ring; a daemon without it (-ENOSYS) or unable to
 * make one leaves us with pipelined STARTs over the socket. Only a broken
 * connection or a ring that is not one fails the open. */
static int attach_ring(struct client_session *cs)
{
	struct vd_proto_session req;
	struct xfer x = { .type = VD_PROTO_RING_ATTACH, .req = &req, .req_len = sizeof(req), .want_fds = 3 };
	struct stat st;
	void *m = MAP_FAILED;
	int r;

	session_req(cs, &req);
	r = session_call(cs, &x);
	if (r == -ECONNRESET || r == -EPROTO)
		return r;
	if (r < 0) {
		cs->broken = 0;
		cs->err[0] = '\0';
		return 0;
	}
	if (fstat(x.fds[0], &st) == 0 && st.st_size >= (off_t)VD_PROTO_RING_SIZE)
		m = mmap(NULL, VD_PROTO_RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, x.fds[0], 0);
	close(x.fds[0]);
	if (m == MAP_FAILED || ((struct vd_proto_ring *)m)->magic != VD_PROTO_RING_MAGIC ||
	    ((struct vd_proto_ring *)m)->version != VD_PROTO_RING_VERSION ||
	    ((struct vd_proto_ring *)m)->size != VD_PROTO_RING_ENTRIES) {
		if (m != MAP_FAILED)
			munmap(m, VD_PROTO_RING_SIZE);
		close(x.fds[1]);
		close(x.fds[2]);
		return -EPROTO;
	}
	cs->ring = m;
	cs->ring_stop = __atomic_load_n(&cs->ring->features, __ATOMIC_RELAXED) & VD_PROTO_RING_F_STOP;
	cs->tail = __atomic_load_n(&cs->ring->tail, __ATOMIC_RELAXED);
	cs->kick_fd = x.fds[1];
	cs->notify_fd = x.fds[2];
	return 0;
}

int accel_client_open(const char *target, const char *name, struct vd_accel **out)
{
	struct client_session *cs;
	struct vd_proto_open req;
	struct vd_proto_open_reply w;
	struct xfer x = { .type = VD_PROTO_OPEN, .req = &req, .req_len = sizeof(req),
			  .out = &w, .out_len = sizeof(w), .want_fds = 2 };
	struct stat st;
	void *page;
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
	bool refused = false;
	r = transact(cs->sock, ++cs->next_id, &x, false, &refused);
	if (r < 0) {
		close(cs->sock);
		free(cs);
		return r;
	}
	/* the status page: read-only here, and large enough for its layout */
	page = MAP_FAILED;
	if (fstat(x.fds[1], &st) == 0 && st.st_size >= (off_t)sizeof(struct vd_proto_page))
		page = mmap(NULL, sizeof(struct vd_proto_page), PROT_READ, MAP_SHARED, x.fds[1], 0);
	close(x.fds[1]);
	if (page == MAP_FAILED || ((const struct vd_proto_page *)page)->magic != VD_PROTO_PAGE_MAGIC ||
	    ((const struct vd_proto_page *)page)->version != VD_PROTO_VERSION) {
		if (page != MAP_FAILED)
			munmap(page, sizeof(struct vd_proto_page));
		close(x.fds[0]);
		close(cs->sock);
		free(cs);
		return -EPROTO;
	}
	pthread_mutex_init(&cs->lock, NULL);
	cs->page = page;
	cs->poll_fd = x.fds[0];
	cs->session = w.session;
	cs->state = w.state == VD_ACCEL_STATE_SETUP ? VD_ACCEL_STATE_SETUP : VD_ACCEL_STATE_OPEN;
	cs->kick_fd = cs->notify_fd = -1;
	r = attach_ring(cs);
	if (r < 0) {
		c_close(&cs->base);
		return r;
	}
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
	bool refused = false;
	r = transact(sock, 1, &x, false, &refused);
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
