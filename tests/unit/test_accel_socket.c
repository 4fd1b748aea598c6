/* tests/unit/test_accel_socket.c - the task API over `virtdsp serve`'s socket.
 *
 * A daemon (the real loop and server) runs in a thread of this process on a
 * temporary socket. Against it: the accel conformance suite (the same one
 * the in-process engine passes), every request of docs/protocol.md sent as
 * raw records, malformed records (each must end only its own connection,
 * with the documented reply or a disconnect, and leak no descriptor),
 * another client's session ids, a client killed mid-task, the per-client
 * limits, reply back-pressure, and `virtdsp convert` in-process and through
 * the daemon (identical outputs, exact length, bit-exact format changes).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sndfile.h>

#include <virtdsp/accel.h>
#include <virtdsp/convert.h>

#include "accel/protocol.h"
#include "analysis.h"
#include "daemon/accel_server.h"
#include "daemon/loop.h"
#include "testutil.h"

/* the conformance suite, run below against the daemon's socket */
#include "test_accel_suite.c"

/* ---- the daemon in a thread ---- */

struct daemon {
	char *dir;
	char path[256];
	struct vd_loop *loop;
	struct vd_accel_server *srv;
	pthread_t thread;
	pthread_mutex_t log_lock;
	char log[32768];
	size_t log_len;
};

static void on_log(void *data, const char *line)
{
	struct daemon *d = data;

	pthread_mutex_lock(&d->log_lock);
	int n = snprintf(d->log + d->log_len, sizeof(d->log) - d->log_len, "%s\n", line);
	if (n > 0 && d->log_len + (size_t)n < sizeof(d->log))
		d->log_len += (size_t)n;
	pthread_mutex_unlock(&d->log_lock);
}

static void *daemon_thread(void *arg)
{
	struct daemon *d = arg;

	vd_loop_run(d->loop);
	return NULL;
}

static struct daemon *daemon_start(const struct vd_accel_server_limits *lim)
{
	struct daemon *d = calloc(1, sizeof(*d));
	char err[256];

	assert_non_null(d);
	pthread_mutex_init(&d->log_lock, NULL);
	d->dir = vd_test_tmpdir();
	assert_non_null(d->dir);
	/* a directory the server must create, as for the default path */
	snprintf(d->path, sizeof(d->path), "%s/run/virtdsp.sock", d->dir);
	assert_int_equal(vd_loop_new(&d->loop), 0);
	int r = vd_accel_server_new(d->loop, d->path, lim, on_log, d, &d->srv, err, sizeof(err));
	if (r < 0)
		fail_msg("server: %s", err);
	assert_int_equal(pthread_create(&d->thread, NULL, daemon_thread, d), 0);
	return d;
}

static void daemon_stop(struct daemon *d)
{
	struct stat st;

	vd_loop_quit(d->loop);
	pthread_join(d->thread, NULL);
	vd_accel_server_free(d->srv);
	vd_loop_free(d->loop);
	/* the socket is gone once the daemon is */
	assert_int_equal(stat(d->path, &st), -1);
	vd_test_rmdir(d->dir);
	pthread_mutex_destroy(&d->log_lock);
	free(d);
}

static bool log_has(struct daemon *d, const char *text)
{
	pthread_mutex_lock(&d->log_lock);
	bool found = strstr(d->log, text) != NULL;
	pthread_mutex_unlock(&d->log_lock);
	return found;
}

static void assert_log(struct daemon *d, const char *text)
{
	for (int i = 0; i < 200 && !log_has(d, text); i++)
		usleep(5000);
	if (!log_has(d, text))
		fail_msg("daemon log lacks \"%s\"; log:\n%s", text, d->log);
}

static struct vd_accel_server_stats stats(struct daemon *d)
{
	struct vd_accel_server_stats st;

	vd_accel_server_get_stats(d->srv, &st);
	return st;
}

/* Wait until the daemon holds nothing (it frees a hang-up on its own thread). */
static void wait_idle(struct daemon *d)
{
	struct vd_accel_server_stats st = stats(d);

	for (int i = 0; i < 400 && (st.connections || st.sessions || st.tasks || st.memory); i++) {
		usleep(5000);
		st = stats(d);
	}
	assert_int_equal(st.connections, 0);
	assert_int_equal(st.clients, 0);
	assert_int_equal(st.sessions, 0);
	assert_int_equal(st.tasks, 0);
	assert_int_equal(st.memory, 0);
}

static int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(dir);
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

/* ---- raw protocol ---- */

struct msg {
	struct vd_proto_hdr h;
	uint8_t payload[VD_PROTO_MAX_PAYLOAD];
	int fds[8];
	unsigned nfds;
};

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void raw_send_bytes(int fd, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 32)];
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
	assert_int_equal(sendmsg(fd, &m, MSG_NOSIGNAL), (ssize_t)len);
}

static void raw_send_flags(int fd, uint32_t type, uint32_t id, uint16_t flags, const void *payload, size_t len)
{
	uint8_t buf[VD_PROTO_MAX_MSG];

	vd_proto_put_header(buf, type, id, 0, (uint32_t)len, 0, flags);
	if (len)
		memcpy(buf + VD_PROTO_HDR_SIZE, payload, len);
	raw_send_bytes(fd, buf, VD_PROTO_HDR_SIZE + len, NULL, 0);
}

static void raw_send(int fd, uint32_t type, uint32_t id, const void *payload, size_t len)
{
	raw_send_flags(fd, type, id, 0, payload, len);
}

/* Receive one record within 5 s; returns its size, 0 at end of stream. */
static ssize_t raw_recv(int fd, struct msg *m)
{
	uint8_t buf[VD_PROTO_MAX_MSG];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 8)];
	} cm;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	struct pollfd p = { .fd = fd, .events = POLLIN };

	assert_int_equal(poll(&p, 1, 5000), 1);
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return n;
	assert_true(n >= (ssize_t)VD_PROTO_HDR_SIZE);
	memcpy(&m->h, buf, sizeof(m->h));
	memcpy(m->payload, buf + VD_PROTO_HDR_SIZE, (size_t)n - VD_PROTO_HDR_SIZE);
	m->nfds = 0;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
		size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(&m->fds[m->nfds], CMSG_DATA(h), k * sizeof(int));
		m->nfds += (unsigned)k;
	}
	assert_int_equal(m->h.nfds, m->nfds);
	assert_int_equal(m->h.len, (uint32_t)n - VD_PROTO_HDR_SIZE);
	return n;
}

/* One request; asserts the reply's framing and returns its result. */
static int raw_call(int fd, uint32_t type, const void *payload, size_t len, struct msg *m)
{
	static uint32_t id = 100;

	raw_send(fd, type, ++id, payload, len);
	assert_true(raw_recv(fd, m) > 0);
	assert_int_equal(m->h.magic, VD_PROTO_MAGIC);
	assert_int_equal(m->h.version, VD_PROTO_VERSION);
	assert_int_equal(m->h.type, type);
	assert_int_equal(m->h.id, id);
	assert_int_equal(m->h.flags, VD_PROTO_FLAG_REPLY);
	return m->h.result;
}

static void assert_raw_error(const struct msg *m, int err, const char *text)
{
	assert_int_equal(m->h.result, err);
	assert_int_equal(m->nfds, 0);
	assert_true(m->h.len > 0);
	assert_int_equal(m->payload[m->h.len - 1], '\0');
	if (!strstr((const char *)m->payload, text))
		fail_msg("error text \"%s\" lacks \"%s\"", (const char *)m->payload, text);
}

static void assert_disconnected(int fd)
{
	struct msg m;

	assert_int_equal(raw_recv(fd, &m), 0);
	close(fd);
}

static uint32_t raw_open(int fd)
{
	struct vd_proto_open o = { .name = "src" };
	struct vd_proto_open_reply r;
	struct msg m;

	assert_int_equal(raw_call(fd, VD_PROTO_OPEN, &o, sizeof(o), &m), 0);
	assert_int_equal(m.nfds, 2);
	close(m.fds[0]);
	close(m.fds[1]);
	memcpy(&r, m.payload, sizeof(r));
	assert_int_not_equal(r.session, 0);
	return r.session;
}

static void s16_params(struct vd_accel_params *p, uint32_t rate_out, uint32_t frag, uint32_t frags)
{
	memset(p, 0, sizeof(*p));
	p->codec = VD_ACCEL_CODEC_PCM;
	p->in.format = VD_FORMAT_S16;
	p->in.rate = 48000;
	p->in.channels = 2;
	p->out.format = VD_FORMAT_S16;
	p->out.rate = rate_out;
	p->quality = VD_RESAMPLE_HIGH;
	p->fragment_size = frag;
	p->fragments = frags;
}

/* ---- conformance ---- */

/* The suite runs its own cmocka group, so it is driven from main(). */
static int run_conformance(void)
{
	struct vd_accel_server_limits lim;
	int failed = 0;

	/* the suite opens 16 sessions at once, the default limit: a session a
	 * failed test leaves behind must not make the next test fail too */
	vd_accel_server_default_limits(&lim);
	lim.max_sessions = 64;
	struct daemon *d = daemon_start(&lim);

	/* the daemon's engine sessions, first running small tasks inline in
	 * START (on the daemon's loop thread), then on their worker threads */
	failed += accel_conformance_run(d->path, "accel over the socket (inline)");
	setenv("VD_ACCEL_INLINE_MAX", "0", 1);
	failed += accel_conformance_run(d->path, "accel over the socket (worker)");
	unsetenv("VD_ACCEL_INLINE_MAX");
	struct vd_accel_server_stats st = stats(d);
	for (int i = 0; i < 400 && (st.connections || st.sessions); i++) {
		usleep(5000);
		st = stats(d);
	}
	if (st.connections || st.sessions || st.tasks || st.memory || st.disconnects_malformed) {
		fprintf(stderr, "daemon not idle after the suite: %u connections, %u sessions, %u tasks, "
			"%llu bytes, %llu malformed\n", st.connections, st.sessions, st.tasks,
			(unsigned long long)st.memory, (unsigned long long)st.disconnects_malformed);
		failed++;
	}
	daemon_stop(d);
	return failed;
}

/* ---- every request, raw ---- */

static void test_requests(void **state)
{
	struct daemon *d = daemon_start(NULL);
	int base_fds = count_fds();
	int fd = raw_connect(d->path);
	struct msg m;

	/* HELLO: version and the limits in force */
	assert_int_equal(raw_call(fd, VD_PROTO_HELLO, NULL, 0, &m), 0);
	struct vd_proto_hello_reply hello;
	assert_int_equal(m.h.len, sizeof(hello));
	memcpy(&hello, m.payload, sizeof(hello));
	assert_int_equal(hello.version, VD_PROTO_VERSION);
	assert_int_equal(hello.max_sessions, 16);
	assert_int_equal(hello.max_tasks, 256);
	assert_int_equal(hello.max_memory, UINT64_C(1) << 30);

	/* LIST: the one accelerator, as in-process */
	struct vd_accel_caps local[4], remote;
	int n = vd_accel_list(NULL, local, 4);
	assert_int_equal(raw_call(fd, VD_PROTO_LIST, NULL, 0, &m), n);
	uint32_t count;
	memcpy(&count, m.payload, 4);
	assert_int_equal(count, (uint32_t)n);
	assert_int_equal(m.h.len, 4 + count * sizeof(struct vd_proto_caps));
	struct vd_proto_caps wc;
	memcpy(&wc, m.payload + 4, sizeof(wc));
	assert_int_equal(vd_proto_caps_from_wire(&wc, &remote), 0);
	assert_string_equal(remote.name, "src");
	assert_memory_equal(&remote, &local[0], sizeof(remote));

	/* OPEN of a missing accelerator, then of "src" */
	struct vd_proto_open o = { .name = "nosuch" };
	assert_int_equal(raw_call(fd, VD_PROTO_OPEN, &o, sizeof(o), &m), -ENOENT);
	assert_raw_error(&m, -ENOENT, "no accelerator named 'nosuch'");
	snprintf(o.name, sizeof(o.name), "src");
	assert_int_equal(raw_call(fd, VD_PROTO_OPEN, &o, sizeof(o), &m), 0);
	assert_int_equal(m.nfds, 2);
	int poll_fd = m.fds[0];
	/* the status page: the engine's, read-only and of fixed size for us */
	int page_fd = m.fds[1];
	struct stat page_st;
	assert_int_equal(fstat(page_fd, &page_st), 0);
	assert_int_equal(page_st.st_size, VD_PROTO_PAGE_SIZE);
	assert_true(mmap(NULL, VD_PROTO_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, page_fd, 0) == MAP_FAILED);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(page_fd, 4096), -1);
	assert_int_equal(ftruncate(page_fd, 3 * VD_PROTO_PAGE_SIZE), -1);
	const struct vd_proto_page *page = mmap(NULL, VD_PROTO_PAGE_SIZE, PROT_READ, MAP_SHARED, page_fd, 0);
	assert_true(page != MAP_FAILED);
	assert_int_equal(page->magic, VD_PROTO_PAGE_MAGIC);
	assert_int_equal(page->version, VD_PROTO_VERSION);
	assert_int_equal(page->entries, VD_PROTO_PAGE_ENTRIES);
	uint32_t pstate, pfrag, pgran, pfrags;
	assert_int_equal(vd_proto_page_read_header(page, &pstate, &pfrag, &pgran, &pfrags), 0);
	assert_int_equal(pstate, VD_ACCEL_STATE_OPEN);
	struct vd_proto_open_reply orep;
	memcpy(&orep, m.payload, sizeof(orep));
	assert_int_equal(orep.state, VD_ACCEL_STATE_OPEN);
	struct vd_proto_session sess = { .session = orep.session };

	/* GET_CAPS, GET_CODEC_CAPS */
	assert_int_equal(raw_call(fd, VD_PROTO_GET_CAPS, &sess, sizeof(sess), &m), 0);
	assert_int_equal(m.h.len, sizeof(struct vd_proto_caps));
	struct vd_proto_codec_caps_req ccr = { .s = sess, .codec = VD_ACCEL_CODEC_PCM };
	assert_int_equal(raw_call(fd, VD_PROTO_GET_CODEC_CAPS, &ccr, sizeof(ccr), &m), 0);
	struct vd_proto_codec_caps cc;
	memcpy(&cc, m.payload, sizeof(cc));
	assert_int_equal(cc.codec, VD_ACCEL_CODEC_PCM);
	assert_true(cc.formats & VD_FORMAT_BIT(VD_FORMAT_S16));

	/* TASK_CREATE before SET_PARAMS: the engine's -EPERM and its reason */
	struct vd_proto_task_req tr = { .s = sess };
	assert_int_equal(raw_call(fd, VD_PROTO_TASK_CREATE, &tr, sizeof(tr), &m), -EPERM);
	assert_int_equal(m.nfds, 0);
	assert_true(m.h.len > 1);

	/* SET_PARAMS, GET_PARAMS (defaults filled in) */
	struct vd_accel_params p;
	s16_params(&p, 0, 4800, 2);
	struct vd_proto_params_req pr = { .s = sess };
	vd_proto_params_to_wire(&p, &pr.p);
	assert_int_equal(raw_call(fd, VD_PROTO_SET_PARAMS, &pr, sizeof(pr), &m), 0);
	assert_int_equal(m.h.len, 0);
	assert_int_equal(raw_call(fd, VD_PROTO_GET_PARAMS, &sess, sizeof(sess), &m), 0);
	struct vd_proto_params wp;
	memcpy(&wp, m.payload, sizeof(wp));
	assert_int_equal(wp.out_rate, 48000);
	assert_int_equal(wp.out_channels, 2);
	assert_int_equal(wp.fragment_size, 4800);
	assert_int_equal(vd_proto_page_read_header(page, &pstate, &pfrag, &pgran, &pfrags), 0);
	assert_int_equal(pstate, VD_ACCEL_STATE_SETUP);
	assert_int_equal(pfrag, 4800);
	assert_int_equal(pgran, 4);	/* an S16 stereo frame */
	assert_int_equal(pfrags, 2);

	/* TASK_CREATE: two memfds of the engine's */
	assert_int_equal(raw_call(fd, VD_PROTO_TASK_CREATE, &tr, sizeof(tr), &m), 0);
	assert_int_equal(m.nfds, 2);
	struct vd_proto_task wt;
	memcpy(&wt, m.payload, sizeof(wt));
	assert_int_not_equal(wt.seqno, 0);
	int in_fd = m.fds[0], out_fd = m.fds[1];
	struct stat in_st, out_st;
	assert_int_equal(fstat(in_fd, &in_st), 0);
	assert_int_equal(fstat(out_fd, &out_st), 0);
	assert_true(in_st.st_size >= 4800);
	assert_true(out_st.st_size >= 4800);
	assert_int_equal(stats(d).tasks, 1);
	assert_int_equal(stats(d).memory, (uint64_t)(in_st.st_size + out_st.st_size));
	/* its entry in the page, written before the reply */
	struct vd_proto_page_entry pe;
	int slot = -1;
	for (unsigned i = 0; i < VD_PROTO_PAGE_ENTRIES; i++) {
		assert_int_equal(vd_proto_page_read_entry(page, i, &pe), 0);
		if (pe.used) {
			assert_int_equal(slot, -1);
			slot = (int)i;
		}
	}
	assert_true(slot >= 0);
	assert_int_equal(vd_proto_page_read_entry(page, (unsigned)slot, &pe), 0);
	assert_int_equal(pe.seqno, wt.seqno);
	assert_int_equal(pe.state, VD_ACCEL_TASK_IDLE);
	assert_int_equal(pe.starts, 0);
	assert_int_equal(pe.in_len, (uint64_t)in_st.st_size);

	/* TASK_START: audio goes through the shared buffers only */
	int16_t *in = mmap(NULL, 4800, PROT_READ | PROT_WRITE, MAP_SHARED, in_fd, 0);
	int16_t *out = mmap(NULL, 4800, PROT_READ, MAP_SHARED, out_fd, 0);
	assert_true(in != MAP_FAILED && out != MAP_FAILED);
	for (int i = 0; i < 2400; i++)
		in[i] = (int16_t)(i * 13 - 9000);
	tr.t.seqno = wt.seqno;
	tr.t.input_size = 4800;
	assert_int_equal(raw_call(fd, VD_PROTO_TASK_START, &tr, sizeof(tr), &m), 0);
	memcpy(&wt, m.payload, sizeof(wt));
	assert_int_equal(wt.seqno, tr.t.seqno);

	/* completion shows on the passed poll fd */
	struct pollfd pfd = { .fd = poll_fd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 5000), 1);

	/* TASK_STATUS: sizes only; the output is in the mapped buffer */
	struct vd_proto_status_req sr = { .s = sess, .st = { .seqno = wt.seqno } };
	assert_int_equal(raw_call(fd, VD_PROTO_TASK_STATUS, &sr, sizeof(sr), &m), 0);
	struct vd_proto_status ws;
	memcpy(&ws, m.payload, sizeof(ws));
	assert_int_equal(ws.state, VD_ACCEL_TASK_FINISHED);
	assert_int_equal(ws.input_size, 4800);
	assert_int_equal(ws.output_size, 4800);
	assert_memory_equal(out, in, 4800);

	/* TASK_START reusing the finished task: a new seqno */
	tr.t.origin_seqno = wt.seqno;
	assert_int_equal(raw_call(fd, VD_PROTO_TASK_START, &tr, sizeof(tr), &m), 0);
	struct vd_proto_task reused;
	memcpy(&reused, m.payload, sizeof(reused));
	assert_true(reused.seqno > wt.seqno);
	assert_int_equal(reused.origin_seqno, 0);
	assert_int_equal(poll(&pfd, 1, 5000), 1);

	/* a pipelined START (NO_REPLY) the engine refuses: an error reply with
	 * its id and the engine's message; the connection stays */
	struct vd_proto_task_req bad = tr;
	bad.t.origin_seqno = reused.seqno;
	bad.t.input_size = 4802;
	raw_send_flags(fd, VD_PROTO_TASK_START, 4242, VD_PROTO_FLAG_NO_REPLY, &bad, sizeof(bad));
	assert_true(raw_recv(fd, &m) > 0);
	assert_int_equal(m.h.type, VD_PROTO_TASK_START);
	assert_int_equal(m.h.id, 4242);
	assert_int_equal(m.h.flags, VD_PROTO_FLAG_REPLY);
	assert_raw_error(&m, -EINVAL, "input_size 4802 exceeds the input buffer (4800 bytes)");
	/* one it accepts: no reply at all (the next reply is HELLO's), and the
	 * page shows its status once the poll fd does */
	bad.t.input_size = 4800;
	for (int i = 0; i < 2400; i++)
		in[i] = (int16_t)(9000 - i * 7);
	raw_send_flags(fd, VD_PROTO_TASK_START, 4243, VD_PROTO_FLAG_NO_REPLY, &bad, sizeof(bad));
	assert_int_equal(raw_call(fd, VD_PROTO_HELLO, NULL, 0, &m), 0);
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	/* seq stays odd until the engine has raised POLLIN and let go: a
	 * reader may have to try again (the library asks the daemon then) */
	int pr_res;
	for (int i = 0; i < 100 && (pr_res = vd_proto_page_read_entry(page, (unsigned)slot, &pe)) == -EAGAIN; i++)
		usleep(1000);
	assert_int_equal(pr_res, 0);
	assert_int_equal(pe.seqno, reused.seqno + 1);
	assert_int_equal(pe.starts, 3);
	assert_int_equal(pe.state, VD_ACCEL_TASK_FINISHED);
	assert_int_equal(pe.input_size, 4800);
	assert_int_equal(pe.output_size, 4800);
	assert_memory_equal(out, in, 4800);
	reused.seqno = pe.seqno;

	/* TASK_STOP (all), SET_ADJUST, RECONFIGURE */
	struct vd_proto_seqno_req qr = { .s = sess, .seqno = 0 };
	assert_int_equal(raw_call(fd, VD_PROTO_TASK_STOP, &qr, sizeof(qr), &m), 0);
	struct vd_proto_adjust_req ar = { .s = sess, .adjust = 1.001 };
	assert_int_equal(raw_call(fd, VD_PROTO_SET_ADJUST, &ar, sizeof(ar), &m), -EOPNOTSUPP);
	assert_raw_error(&m, -EOPNOTSUPP, "drift correction needs a rate-converting session");
	ar.adjust = 1.5;
	assert_int_equal(raw_call(fd, VD_PROTO_SET_ADJUST, &ar, sizeof(ar), &m), -EINVAL);
	assert_raw_error(&m, -EINVAL, "adjust must be within [0.98, 1.02]");
	s16_params(&p, 0, 9600, 2);
	vd_proto_params_to_wire(&p, &pr.p);
	assert_int_equal(raw_call(fd, VD_PROTO_RECONFIGURE, &pr, sizeof(pr), &m), 0);
	assert_true(stats(d).memory >= 2 * 9600);

	/* TASK_FREE of an unknown seqno, then of the task */
	qr.seqno = 999999;
	assert_int_equal(raw_call(fd, VD_PROTO_TASK_FREE, &qr, sizeof(qr), &m), -EINVAL);
	qr.seqno = reused.seqno;
	assert_int_equal(raw_call(fd, VD_PROTO_TASK_FREE, &qr, sizeof(qr), &m), 0);
	assert_int_equal(stats(d).tasks, 0);
	assert_int_equal(stats(d).memory, 0);

	/* the kernel's streaming-only ioctls are -ENOTTY, as on an accel device,
	 * named in the message; the session and the connection stay */
	static const struct {
		uint32_t nr;
		const char *text;
	} streaming[] = {
		{ 0x20, "SNDRV_COMPRESS_TSTAMP is a streaming-only operation" },
		{ 0x21, "SNDRV_COMPRESS_AVAIL is a streaming-only operation" },
		{ 0x22, "SNDRV_COMPRESS_TSTAMP64 is a streaming-only operation" },
		{ 0x23, "SNDRV_COMPRESS_AVAIL64 is a streaming-only operation" },
		{ 0x30, "SNDRV_COMPRESS_PAUSE is a streaming-only operation" },
		{ 0x31, "SNDRV_COMPRESS_RESUME is a streaming-only operation" },
		{ 0x32, "SNDRV_COMPRESS_START is a streaming-only operation" },
		{ 0x33, "SNDRV_COMPRESS_STOP is a streaming-only operation" },
		{ 0x34, "SNDRV_COMPRESS_DRAIN is a streaming-only operation" },
		{ 0x35, "SNDRV_COMPRESS_NEXT_TRACK is a streaming-only operation" },
		{ 0x36, "SNDRV_COMPRESS_PARTIAL_DRAIN is a streaming-only operation" },
		{ 0x99, "ioctl 0x99 is not an operation of an accel session" },
	};
	for (size_t i = 0; i < sizeof(streaming) / sizeof(streaming[0]); i++) {
		struct vd_proto_stream_req xr = { .s = sess, .ioctl_nr = streaming[i].nr };
		assert_int_equal(raw_call(fd, VD_PROTO_STREAM, &xr, sizeof(xr), &m), -ENOTTY);
		assert_raw_error(&m, -ENOTTY, streaming[i].text);
	}
	struct vd_proto_stream_req xr = { .s = { .session = sess.session + 1000 }, .ioctl_nr = 0x32 };
	assert_int_equal(raw_call(fd, VD_PROTO_STREAM, &xr, sizeof(xr), &m), -EBADF);
	assert_int_equal(stats(d).sessions, 1);
	assert_int_equal(raw_call(fd, VD_PROTO_GET_CAPS, &sess, sizeof(sess), &m), 0);

	/* an unknown type is answered, and the connection stays */
	assert_int_equal(raw_call(fd, 77, NULL, 0, &m), -ENOSYS);
	assert_raw_error(&m, -ENOSYS, "unknown request type 77");
	assert_int_equal(raw_call(fd, VD_PROTO_HELLO, NULL, 0, &m), 0);

	/* CLOSE; the session id is then unknown */
	assert_int_equal(raw_call(fd, VD_PROTO_CLOSE, &sess, sizeof(sess), &m), 0);
	assert_int_equal(stats(d).sessions, 0);
	assert_int_equal(raw_call(fd, VD_PROTO_GET_CAPS, &sess, sizeof(sess), &m), -EBADF);
	assert_raw_error(&m, -EBADF, "no session");

	munmap(in, 4800);
	munmap(out, 4800);
	close(in_fd);
	close(out_fd);
	/* FREE cleared the task's entry (the reply came after the commit) */
	assert_int_equal(vd_proto_page_read_entry(page, (unsigned)slot, &pe), 0);
	assert_int_equal(pe.used, 0);
	munmap((void *)page, VD_PROTO_PAGE_SIZE);
	close(page_fd);
	close(poll_fd);
	close(fd);
	wait_idle(d);
	assert_int_equal(count_fds(), base_fds);
	assert_int_equal(stats(d).disconnects_malformed, 0);
	daemon_stop(d);
}

/* ---- malformed records ---- */

enum bad {
	BAD_MAGIC, BAD_SHORT, BAD_LEN_MISMATCH, BAD_OVERSIZED, BAD_LEN_LIMIT, BAD_NFDS_CLAIMED,
	BAD_FD_ATTACHED, BAD_TOO_MANY_FDS, BAD_REPLY_FLAG, BAD_RESULT, BAD_PAYLOAD_SIZE,
	BAD_RESERVED, BAD_NAME, BAD_NO_REPLY, BAD_FLAG_BIT2, BAD_COUNT
};

static const char *const bad_log[BAD_COUNT] = {
	[BAD_MAGIC] = "malformed message (bad magic)",
	[BAD_SHORT] = "malformed message (record shorter than a header)",
	[BAD_LEN_MISMATCH] = "malformed message (length or descriptor count does not match the header)",
	[BAD_OVERSIZED] = "malformed message (record larger than the largest message)",
	[BAD_LEN_LIMIT] = "malformed message (payload larger than the limit)",
	[BAD_NFDS_CLAIMED] = "malformed message (length or descriptor count does not match the header)",
	[BAD_FD_ATTACHED] = "malformed message (descriptors attached to a request)",
	[BAD_TOO_MANY_FDS] = "malformed message (too many descriptors attached)",
	[BAD_REPLY_FLAG] = "malformed message (flags set on a request)",
	[BAD_RESULT] = "malformed message (result set on a request)",
	[BAD_PAYLOAD_SIZE] = "malformed message (payload size wrong for the request type)",
	[BAD_RESERVED] = "malformed message (reserved field not zero)",
	[BAD_NAME] = "malformed message (accelerator name not terminated)",
	[BAD_NO_REPLY] = "malformed message (NO_REPLY on a request other than TASK_START)",
	[BAD_FLAG_BIT2] = "malformed message (flags set on a request)",
};

static void send_bad(int fd, enum bad b)
{
	static uint8_t buf[8192];
	struct vd_proto_session s = { .session = 1 };
	int fds[20];
	unsigned nfds = 0;
	size_t len = VD_PROTO_HDR_SIZE;

	memset(buf, 0, sizeof(buf));
	vd_proto_put_header(buf, VD_PROTO_HELLO, 1, 0, 0, 0, 0);
	switch (b) {
	case BAD_MAGIC:
		buf[0] ^= 0xff;
		break;
	case BAD_SHORT:
		len = 10;
		break;
	case BAD_LEN_MISMATCH:
		vd_proto_put_header(buf, VD_PROTO_GET_CAPS, 1, 0, 40, 0, 0);
		len += 8;
		break;
	case BAD_OVERSIZED:
		vd_proto_put_header(buf, VD_PROTO_HELLO, 1, 0, 8000, 0, 0);
		len += 8000;
		break;
	case BAD_LEN_LIMIT:
		/* a header whose length alone is over the limit */
		vd_proto_put_header(buf, VD_PROTO_HELLO, 1, 0, VD_PROTO_MAX_PAYLOAD + 1, 0, 0);
		break;
	case BAD_NFDS_CLAIMED:
		vd_proto_put_header(buf, VD_PROTO_HELLO, 1, 0, 0, 1, 0);
		break;
	case BAD_FD_ATTACHED:
		vd_proto_put_header(buf, VD_PROTO_HELLO, 1, 0, 0, 1, 0);
		fds[0] = dup(fd);
		nfds = 1;
		break;
	case BAD_TOO_MANY_FDS:
		vd_proto_put_header(buf, VD_PROTO_HELLO, 1, 0, 0, 20, 0);
		for (unsigned i = 0; i < 20; i++)
			fds[i] = dup(fd);
		nfds = 20;
		break;
	case BAD_REPLY_FLAG:
		vd_proto_put_header(buf, VD_PROTO_HELLO, 1, 0, 0, 0, VD_PROTO_FLAG_REPLY);
		break;
	case BAD_RESULT:
		vd_proto_put_header(buf, VD_PROTO_HELLO, 1, -1, 0, 0, 0);
		break;
	case BAD_PAYLOAD_SIZE:
		vd_proto_put_header(buf, VD_PROTO_HELLO, 1, 0, 8, 0, 0);
		memcpy(buf + len, &s, 8);
		len += 8;
		break;
	case BAD_RESERVED:
		s.reserved = 1;
		vd_proto_put_header(buf, VD_PROTO_GET_CAPS, 1, 0, 8, 0, 0);
		memcpy(buf + len, &s, 8);
		len += 8;
		break;
	case BAD_NAME:
		vd_proto_put_header(buf, VD_PROTO_OPEN, 1, 0, VD_ACCEL_NAME_MAX, 0, 0);
		memset(buf + len, 'x', VD_ACCEL_NAME_MAX);
		len += VD_ACCEL_NAME_MAX;
		break;
	case BAD_NO_REPLY:
		vd_proto_put_header(buf, VD_PROTO_GET_CAPS, 1, 0, 8, 0, VD_PROTO_FLAG_NO_REPLY);
		memcpy(buf + len, &s, 8);
		len += 8;
		break;
	case BAD_FLAG_BIT2:
		vd_proto_put_header(buf, VD_PROTO_HELLO, 1, 0, 0, 0, 1u << 2);
		break;
	case BAD_COUNT:
		break;
	}
	raw_send_bytes(fd, buf, len, fds, nfds);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
}

static void test_malformed(void **state)
{
	struct daemon *d = daemon_start(NULL);
	struct msg m;

	/* a bystander with a session and a task in flight */
	struct vd_accel *other;
	struct vd_accel_params p;
	struct vd_accel_task t = { 0 };
	s16_params(&p, 44100, 4096, 2);
	assert_int_equal(vd_accel_open(d->path, "src", &other), 0);
	assert_int_equal(vd_accel_set_params(other, &p), 0);
	assert_int_equal(vd_accel_task_create(other, &t), 0);
	/* the daemon closes its copies of the buffer fds right after sending
	 * them: one more request, answered in order, ensures it has */
	struct vd_accel_caps caps;
	assert_int_equal(vd_accel_get_caps(other, &caps), 0);
	int base_fds = count_fds();

	for (int b = 0; b < BAD_COUNT; b++) {
		int fd = raw_connect(d->path);
		/* a valid exchange first, so the drop is due to the bad record */
		assert_int_equal(raw_call(fd, VD_PROTO_HELLO, NULL, 0, &m), 0);
		uint32_t sid = raw_open(fd);
		assert_int_equal(stats(d).sessions, 2);
		(void)sid;
		send_bad(fd, (enum bad)b);
		assert_disconnected(fd);
		assert_log(d, bad_log[b]);
		/* the bad client's session is gone at once, the bystander's is not */
		for (int i = 0; i < 200 && stats(d).sessions != 1; i++)
			usleep(5000);
		assert_int_equal(stats(d).sessions, 1);
		assert_int_equal(stats(d).disconnects_malformed, (uint64_t)b + 1);
		if (count_fds() != base_fds)
			fail_msg("%s: %d descriptors before, %d after", bad_log[b], base_fds, count_fds());
	}

	/* a wrong version is told why before the disconnect */
	int fd = raw_connect(d->path);
	uint8_t buf[VD_PROTO_HDR_SIZE];
	/* version 1 (OPEN's reply had one descriptor) */
	struct vd_proto_hdr h = { .magic = VD_PROTO_MAGIC, .version = 1, .type = VD_PROTO_HELLO, .id = 9 };
	memcpy(buf, &h, sizeof(h));
	raw_send_bytes(fd, buf, sizeof(buf), NULL, 0);
	assert_true(raw_recv(fd, &m) > 0);
	assert_int_equal(m.h.version, VD_PROTO_VERSION);
	assert_int_equal(m.h.id, 9);
	assert_raw_error(&m, -EPROTONOSUPPORT, "protocol version 1 is not supported (this daemon speaks 2)");
	assert_disconnected(fd);
	assert_log(d, "malformed message (unsupported protocol version)");

	/* an empty record is a hang-up, not a crash */
	fd = raw_connect(d->path);
	raw_send_bytes(fd, buf, 0, NULL, 0);
	assert_disconnected(fd);

	/* the bystander still converts */
	uint8_t *in = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, t.input_fd, 0);
	assert_true(in != MAP_FAILED);
	memset(in, 0, 4096);
	t.input_size = 4096;
	assert_int_equal(vd_accel_task_start(other, &t), 0);
	assert_int_equal(vd_accel_wait(other, POLLIN, 5000) & POLLIN, POLLIN);
	struct vd_accel_task_status st = { .seqno = t.seqno };
	assert_int_equal(vd_accel_task_status(other, &st), 0);
	assert_int_equal(st.state, VD_ACCEL_TASK_FINISHED);
	munmap(in, 4096);
	close(t.input_fd);
	close(t.output_fd);
	vd_accel_close(other);
	wait_idle(d);
	daemon_stop(d);
}

/* ---- another client's session ids ---- */

static void test_foreign_session(void **state)
{
	struct daemon *d = daemon_start(NULL);
	int a = raw_connect(d->path), b = raw_connect(d->path);
	struct msg m;
	uint32_t sid = raw_open(a);
	struct vd_proto_session s = { .session = sid };
	struct vd_proto_seqno_req fr = { .s = s, .seqno = 0 };

	assert_int_equal(raw_call(b, VD_PROTO_GET_CAPS, &s, sizeof(s), &m), -EBADF);
	assert_raw_error(&m, -EBADF, "no session");
	assert_int_equal(raw_call(b, VD_PROTO_TASK_FREE, &fr, sizeof(fr), &m), -EBADF);
	assert_int_equal(raw_call(b, VD_PROTO_CLOSE, &s, sizeof(s), &m), -EBADF);
	/* nothing happened to it */
	assert_int_equal(stats(d).sessions, 1);
	assert_int_equal(raw_call(a, VD_PROTO_GET_CAPS, &s, sizeof(s), &m), 0);
	/* and b's own, later session is numbered differently */
	assert_int_not_equal(raw_open(b), sid);
	close(a);
	close(b);
	wait_idle(d);
	daemon_stop(d);
}

/* ---- a client killed mid-task ---- */

static void crash_child(const char *path, int ready_fd)
{
	struct vd_accel *s;
	struct vd_accel_params p;
	char ok = 1;

	/* slow tasks: a 32 -> 31 channel matrix, so some are still running */
	memset(&p, 0, sizeof(p));
	p.codec = VD_ACCEL_CODEC_PCM;
	p.in.format = VD_FORMAT_F32;
	p.in.rate = 48000;
	p.in.channels = 32;
	p.out.format = VD_FORMAT_F32;
	p.out.channels = 31;
	p.fragment_size = 4u << 20;
	p.fragments = 4;
	if (vd_accel_open(path, "src", &s) < 0 || vd_accel_set_params(s, &p) < 0)
		_exit(1);
	for (int i = 0; i < 4; i++) {
		struct vd_accel_task t = { 0 };
		if (vd_accel_task_create(s, &t) < 0)
			_exit(2);
		void *in = mmap(NULL, p.fragment_size, PROT_READ | PROT_WRITE, MAP_SHARED, t.input_fd, 0);
		if (in == MAP_FAILED)
			_exit(3);
		memset(in, 0, p.fragment_size);
		t.input_size = p.fragment_size;
		if (vd_accel_task_start(s, &t) < 0)
			_exit(4);
	}
	if (write(ready_fd, &ok, 1) != 1)
		_exit(5);
	for (;;)
		pause();
}

static void test_client_crash(void **state)
{
	struct daemon *d = daemon_start(NULL);
	int base_fds = count_fds();
	int pfd[2];
	char c;

	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		crash_child(d->path, pfd[1]);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	close(pfd[0]);
	struct vd_accel_server_stats st = stats(d);
	assert_int_equal(st.sessions, 1);
	assert_int_equal(st.tasks, 4);
	assert_true(st.memory >= 4 * (8u << 20) - 4 * (256u << 10));
	assert_true(count_fds() > base_fds);	/* the engine's session socket and memfds */

	assert_int_equal(kill(pid, SIGKILL), 0);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	wait_idle(d);
	assert_log(d, "hung up (1 sessions, 4 tasks freed)");
	assert_int_equal(count_fds(), base_fds);
	assert_int_equal(stats(d).disconnects_malformed, 0);
	daemon_stop(d);
}

/* ---- limits ---- */

static void test_limits(void **state)
{
	struct vd_accel_server_limits lim = {
		.max_sessions = 2, .max_tasks = 3, .max_memory = 1u << 20, .max_connections = 4,
	};
	struct daemon *d = daemon_start(&lim);
	struct vd_accel *s1, *s2, *s3 = NULL;
	struct vd_accel_params p;
	struct vd_accel_task t[4];
	char msg[256];
	struct msg m;

	/* sessions: the library reports the errno; the raw reply carries why */
	assert_int_equal(vd_accel_open(d->path, "src", &s1), 0);
	assert_int_equal(vd_accel_open(d->path, "src", &s2), 0);
	assert_int_equal(vd_accel_open(d->path, "src", &s3), -EMFILE);
	assert_null(s3);
	int fd = raw_connect(d->path);
	struct vd_proto_open o = { .name = "src" };
	assert_int_equal(raw_call(fd, VD_PROTO_OPEN, &o, sizeof(o), &m), -EMFILE);
	assert_raw_error(&m, -EMFILE, "client limit: 2 sessions open (max_sessions)");
	assert_log(d, "refused OPEN: 2 sessions open (max_sessions)");

	/* tasks, over both sessions */
	s16_params(&p, 0, 1024, 4);
	assert_int_equal(vd_accel_set_params(s1, &p), 0);
	assert_int_equal(vd_accel_set_params(s2, &p), 0);
	for (int i = 0; i < 3; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		assert_int_equal(vd_accel_task_create(i < 2 ? s1 : s2, &t[i]), 0);
	}
	memset(&t[3], 0, sizeof(t[3]));
	assert_int_equal(vd_accel_task_create(s2, &t[3]), -EDQUOT);
	vd_accel_last_error(s2, msg, sizeof(msg));
	assert_string_equal(msg, "client limit: 3 tasks (max_tasks)");
	/* freeing one makes room again */
	assert_int_equal(vd_accel_task_free(s1, t[0].seqno), 0);
	close(t[0].input_fd);
	close(t[0].output_fd);
	assert_int_equal(vd_accel_task_create(s1, &t[0]), 0);
	for (int i = 0; i < 3; i++) {
		close(t[i].input_fd);
		close(t[i].output_fd);
	}
	assert_int_equal(vd_accel_task_free(s1, 0), 0);
	assert_int_equal(vd_accel_task_free(s2, 0), 0);
	assert_int_equal(stats(d).tasks, 0);
	assert_int_equal(stats(d).memory, 0);

	/* memory: 256 KiB in, about as much out, per task; 1 MiB allowed */
	s16_params(&p, 0, 256u << 10, 4);
	assert_int_equal(vd_accel_reconfigure(s1, &p), 0);
	assert_int_equal(vd_accel_task_create(s1, &t[0]), 0);
	assert_int_equal(vd_accel_task_create(s1, &t[1]), -EDQUOT);
	vd_accel_last_error(s1, msg, sizeof(msg));
	assert_string_equal(msg, "client limit: 1048576 bytes of task buffers (max_memory)");
	/* growing the existing task beyond the limit is refused too */
	s16_params(&p, 0, 600u << 10, 4);
	assert_int_equal(vd_accel_reconfigure(s1, &p), -EDQUOT);
	close(t[0].input_fd);
	close(t[0].output_fd);

	/* connections: 3 open (s1, s2, fd) once the refused OPEN's has been
	 * dropped; the 4th fits, the 5th is closed at once */
	for (int i = 0; i < 200 && stats(d).connections != 3; i++)
		usleep(5000);
	assert_int_equal(stats(d).connections, 3);
	int c4 = raw_connect(d->path);
	assert_int_equal(raw_call(c4, VD_PROTO_HELLO, NULL, 0, &m), 0);
	int c5 = raw_connect(d->path);
	assert_disconnected(c5);
	assert_log(d, "refused connection: 4 connections open (max_connections)");
	close(c4);
	close(fd);
	vd_accel_close(s1);
	vd_accel_close(s2);
	wait_idle(d);
	daemon_stop(d);
}

/* ---- replies the client does not read yet ---- */

static void test_backpressure(void **state)
{
	struct daemon *d = daemon_start(NULL);
	int fd = raw_connect(d->path);
	const uint32_t total = 5000;
	uint32_t sent = 0, got = 0;
	uint8_t buf[VD_PROTO_HDR_SIZE];
	struct msg m;

	/* pipeline far more requests than the socket buffers hold replies for:
	 * the daemon must stop reading, not drop or reorder anything */
	while (got < total) {
		while (sent < total) {
			vd_proto_put_header(buf, VD_PROTO_HELLO, sent + 1, 0, 0, 0, 0);
			if (send(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
				assert_int_equal(errno, EAGAIN);
				break;
			}
			sent++;
		}
		assert_true(raw_recv(fd, &m) > 0);
		assert_int_equal(m.h.id, ++got);
		assert_int_equal(m.h.result, 0);
	}
	assert_int_equal(stats(d).disconnects_malformed, 0);
	close(fd);
	wait_idle(d);
	daemon_stop(d);
}

/* ---- virtdsp convert ---- */

/* ---- version 2: pipelined START and the status page ---- */

/* A session of @frags 4096-byte S16 stereo tasks (1:1), all created and mapped. */
static struct vd_accel *pipe_session(const char *path, unsigned frags, struct vd_accel_task *t, uint8_t **in)
{
	struct vd_accel *s;
	struct vd_accel_params p;

	s16_params(&p, 0, 4096, frags);
	assert_int_equal(vd_accel_open(path, "src", &s), 0);
	assert_int_equal(vd_accel_set_params(s, &p), 0);
	for (unsigned i = 0; i < frags; i++) {
		t[i] = (struct vd_accel_task){ .input_fd = -1, .output_fd = -1 };
		assert_int_equal(vd_accel_task_create(s, &t[i]), 0);
		in[i] = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, t[i].input_fd, 0);
		assert_true(in[i] != MAP_FAILED);
		for (int k = 0; k < 2048; k++)
			((int16_t *)in[i])[k] = (int16_t)(k * 5 + (int)i);
	}
	return s;
}

static void pipe_unmap(struct vd_accel_task *t, uint8_t **in, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		munmap(in[i], 4096);
		close(t[i].input_fd);
		close(t[i].output_fd);
	}
}

/*
 * Which calls cost a request: with 4 tasks in flight, STARTs that keep the
 * poll fd's readiness go out pipelined (the daemon counts them, but the
 * library did not wait), and STATUS of a task whose START was handled is
 * read from the status page: no request at all. The results are the
 * engine's: sizes, states, and the output bytes.
 */
static void test_pipelined(void **state)
{
	struct daemon *d = daemon_start(NULL);
	struct vd_accel_task t[4];
	uint8_t *in[4];
	struct vd_accel *s = pipe_session(d->path, 4, t, in);
	uint64_t before;

	/* STATUS of an IDLE task, never started: from the page */
	struct vd_accel_task_status st = { .seqno = t[0].seqno };
	before = stats(d).requests;
	assert_int_equal(vd_accel_task_status(s, &st), 0);
	assert_int_equal(stats(d).requests, before);
	assert_int_equal(st.state, VD_ACCEL_TASK_IDLE);
	assert_int_equal(st.output_size, 0);

	/* three STARTs keep POLLOUT (3 of 4 active at most): pipelined; the
	 * fourth would drop it and waits for its reply */
	for (int i = 0; i < 4; i++) {
		t[i].input_size = 4096;
		assert_int_equal(vd_accel_task_start(s, &t[i]), 0);
	}
	/* a round trip: every START is handled once it returns */
	struct vd_accel_params gp;
	assert_int_equal(vd_accel_get_params(s, &gp), 0);
	for (int i = 0; i < 4; i++) {
		uint8_t *out = mmap(NULL, 4096, PROT_READ, MAP_SHARED, t[i].output_fd, 0);
		assert_true(out != MAP_FAILED);
		assert_true(vd_accel_wait(s, POLLIN, 5000) & POLLIN);
		st = (struct vd_accel_task_status){ .seqno = t[i].seqno };
		for (int k = 0; k < 500; k++) {
			assert_int_equal(vd_accel_task_status(s, &st), 0);
			if (st.state == VD_ACCEL_TASK_FINISHED)
				break;
			usleep(10000);
		}
		assert_int_equal(st.state, VD_ACCEL_TASK_FINISHED);
		/* once finished, its status costs no request */
		before = stats(d).requests;
		memset(&st, 0xa5, sizeof(st));
		st.seqno = t[i].seqno;
		assert_int_equal(vd_accel_task_status(s, &st), 0);
		assert_int_equal(stats(d).requests, before);
		assert_int_equal(st.state, VD_ACCEL_TASK_FINISHED);
		assert_int_equal(st.seqno, t[i].seqno);
		assert_int_equal(st.input_size, 4096);
		assert_int_equal(st.output_size, 4096);
		assert_int_equal(st.output_flags, 0);
		assert_memory_equal(out, in[i], 4096);
		munmap(out, 4096);
	}
	/* reusing a finished task that is not the oldest keeps POLLIN: pipelined,
	 * with the seqno the engine then gives it */
	struct vd_accel_task r = { .origin_seqno = t[2].seqno, .input_size = 2048 };
	assert_int_equal(vd_accel_task_start(s, &r), 0);
	assert_int_equal(r.origin_seqno, 0);
	assert_true(r.seqno > t[3].seqno);
	st = (struct vd_accel_task_status){ .seqno = r.seqno };
	for (int k = 0; k < 500 && st.state != VD_ACCEL_TASK_FINISHED; k++) {
		assert_int_equal(vd_accel_task_status(s, &st), 0);
		if (st.state != VD_ACCEL_TASK_FINISHED)
			usleep(10000);
	}
	assert_int_equal(st.state, VD_ACCEL_TASK_FINISHED);
	assert_int_equal(st.input_size, 2048);
	/* the old seqno is gone, as in-process: the engine's error and text */
	st = (struct vd_accel_task_status){ .seqno = t[2].seqno };
	assert_int_equal(vd_accel_task_status(s, &st), -EINVAL);
	char msg[256];
	vd_accel_last_error(s, msg, sizeof(msg));
	assert_string_equal(msg, "no task 3");
	/* a START the engine refuses is never pipelined: its errno and text at once */
	before = stats(d).requests;
	r.origin_seqno = r.seqno;
	r.input_size = 4098;
	assert_int_equal(vd_accel_task_start(s, &r), -EINVAL);
	vd_accel_last_error(s, msg, sizeof(msg));
	assert_string_equal(msg, "input_size 4098 exceeds the input buffer (4096 bytes)");
	r.input_size = 6;
	assert_int_equal(vd_accel_task_start(s, &r), -EINVAL);
	vd_accel_last_error(s, msg, sizeof(msg));
	assert_string_equal(msg, "input_size 6 is not a whole number of 4-byte frames");
	/* one request each */
	assert_int_equal(stats(d).requests - before, 2);

	pipe_unmap(t, in, 4);
	vd_accel_close(s);
	wait_idle(d);
	daemon_stop(d);
}

/* A client that hangs up with pipelined STARTs still in the connection
 * (sent raw, then the socket closed at once, as a crash would): the daemon
 * runs or drops them, frees everything, and carries on. */
static void test_pipelined_hangup(void **state)
{
	struct daemon *d = daemon_start(NULL);
	struct msg m;
	int base_fds = count_fds();

	for (int round = 0; round < 20; round++) {
		int fd = raw_connect(d->path);
		uint32_t sid = raw_open(fd);
		struct vd_accel_params p;
		s16_params(&p, round % 2 ? 44100 : 0, 4096, 8);
		struct vd_proto_params_req pr = { .s = { .session = sid } };
		vd_proto_params_to_wire(&p, &pr.p);
		assert_int_equal(raw_call(fd, VD_PROTO_SET_PARAMS, &pr, sizeof(pr), &m), 0);
		struct vd_proto_task_req tr = { .s = { .session = sid } };
		uint64_t seqnos[8];
		for (int i = 0; i < 8; i++) {
			assert_int_equal(raw_call(fd, VD_PROTO_TASK_CREATE, &tr, sizeof(tr), &m), 0);
			assert_int_equal(m.nfds, 2);
			close(m.fds[0]);
			close(m.fds[1]);
			struct vd_proto_task w;
			memcpy(&w, m.payload, sizeof(w));
			seqnos[i] = w.seqno;
		}
		for (int i = 0; i < 8; i++) {
			tr.t.seqno = seqnos[i];
			tr.t.input_size = 4096;
			raw_send_flags(fd, VD_PROTO_TASK_START, 1000 + (uint32_t)i, VD_PROTO_FLAG_NO_REPLY, &tr,
				       sizeof(tr));
		}
		close(fd);
		wait_idle(d);
		assert_log(d, "hung up (1 sessions, 8 tasks freed)");
	}
	assert_int_equal(stats(d).disconnects_malformed, 0);
	assert_int_equal(count_fds(), base_fds);
	daemon_stop(d);
}

/* ---- a daemon that refuses a pipelined START ---- */

struct fake {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd;
	pthread_t thread;
	int poll_peer;		/* the other end of the poll fd we hand out */
	bool saw_no_reply;	/* the START came pipelined */
};

static void fake_reply(int fd, const struct vd_proto_hdr *rq, int32_t result, const void *p, size_t len,
		       const int *fds, unsigned nfds)
{
	uint8_t buf[VD_PROTO_MAX_MSG];

	vd_proto_put_header(buf, rq->type, rq->id, result, (uint32_t)len, (uint16_t)nfds, VD_PROTO_FLAG_REPLY);
	if (len)
		memcpy(buf + VD_PROTO_HDR_SIZE, p, len);
	raw_send_bytes(fd, buf, VD_PROTO_HDR_SIZE + len, fds, nfds);
}

static int fake_memfd(size_t size)
{
	int fd = memfd_create("fake", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* Serves one connection: OPEN, SET_PARAMS, one CREATE, then refuses START
 * as an engine does when it cannot start its worker thread. */
static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->listen_fd, NULL, NULL);
	int page_fd = fake_memfd(VD_PROTO_PAGE_SIZE), sv[2];
	struct vd_proto_page *pg = mmap(NULL, VD_PROTO_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, page_fd, 0);
	struct msg m;

	if (fd < 0 || pg == MAP_FAILED || socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
		return NULL;
	f->poll_peer = sv[1];
	pg->magic = VD_PROTO_PAGE_MAGIC;
	pg->version = VD_PROTO_VERSION;
	pg->entries = VD_PROTO_PAGE_ENTRIES;
	while (raw_recv(fd, &m) > 0) {
		const struct vd_proto_hdr *h = &m.h;
		switch (h->type) {
		case VD_PROTO_OPEN: {
			struct vd_proto_open_reply o = { .session = 1, .state = VD_ACCEL_STATE_OPEN };
			int fds[2] = { sv[0], page_fd };
			fake_reply(fd, h, 0, &o, sizeof(o), fds, 2);
			break;
		}
		case VD_PROTO_SET_PARAMS:
			pg->state = VD_ACCEL_STATE_SETUP;
			pg->fragment_size = 4096;
			pg->granule = 4;
			pg->fragments = 4;
			fake_reply(fd, h, 0, NULL, 0, NULL, 0);
			break;
		case VD_PROTO_TASK_CREATE: {
			struct vd_proto_task w = { .seqno = 1 };
			int fds[2] = { fake_memfd(4096), fake_memfd(4096) };
			pg->e[5] = (struct vd_proto_page_entry){ .used = 1, .state = VD_ACCEL_TASK_IDLE,
								 .seqno = 1, .in_len = 4096 };
			fake_reply(fd, h, 0, &w, sizeof(w), fds, 2);
			close(fds[0]);
			close(fds[1]);
			break;
		}
		case VD_PROTO_TASK_START: {
			static const char why[] = "cannot start the session's worker thread";
			f->saw_no_reply = h->flags == VD_PROTO_FLAG_NO_REPLY;
			fake_reply(fd, h, -EAGAIN, why, sizeof(why), NULL, 0);
			break;
		}
		case VD_PROTO_CLOSE:
			fake_reply(fd, h, 0, NULL, 0, NULL, 0);
			break;
		default: {
			static const char why[] = "not in this fake";
			fake_reply(fd, h, -ENOSYS, why, sizeof(why), NULL, 0);
			break;
		}
		}
	}
	munmap(pg, VD_PROTO_PAGE_SIZE);
	close(page_fd);
	close(sv[0]);
	close(fd);
	return NULL;
}

static void test_pipelined_refused(void **state)
{
	struct fake f = { .poll_peer = -1 };
	char *dir = vd_test_tmpdir();
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vd_accel *s;
	struct vd_accel_params p;
	struct vd_accel_task t = { .input_fd = -1, .output_fd = -1 };
	char msg[256];

	snprintf(f.path, sizeof(f.path), "%s/fake.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f.path);
	f.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(f.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f.listen_fd, 1), 0);
	assert_int_equal(pthread_create(&f.thread, NULL, fake_main, &f), 0);

	s16_params(&p, 0, 4096, 4);
	assert_int_equal(vd_accel_open(f.path, "src", &s), 0);
	assert_int_equal(vd_accel_set_params(s, &p), 0);
	assert_int_equal(vd_accel_task_create(s, &t), 0);
	/* the library is sure the engine accepts it: sent pipelined, returns 0 */
	t.input_size = 4096;
	assert_int_equal(vd_accel_task_start(s, &t), 0);
	/* the refusal comes to the waiter, with the daemon's reason */
	assert_int_equal(vd_accel_wait(s, POLLIN, 5000), -EAGAIN);
	assert_true(f.saw_no_reply);
	vd_accel_last_error(s, msg, sizeof(msg));
	assert_string_equal(msg, "pipelined START refused: cannot start the session's worker thread");
	/* the session has failed: every call says so */
	struct vd_accel_task_status st = { .seqno = t.seqno };
	assert_int_equal(vd_accel_task_status(s, &st), -EAGAIN);
	assert_int_equal(vd_accel_task_start(s, &t), -EAGAIN);
	assert_int_equal(vd_accel_wait(s, POLLIN, 0), -EAGAIN);
	vd_accel_last_error(s, msg, sizeof(msg));
	assert_string_equal(msg, "pipelined START refused: cannot start the session's worker thread");
	vd_accel_close(s);
	close(t.input_fd);
	close(t.output_fd);
	pthread_join(f.thread, NULL);
	close(f.poll_peer);
	close(f.listen_fd);
	vd_test_rmdir(dir);
}

/* The same refusal met by a call that waits for its own reply: the refusal
 * comes first in the connection and is what that call returns. */
static void test_pipelined_refused_in_call(void **state)
{
	struct fake f = { .poll_peer = -1 };
	char *dir = vd_test_tmpdir();
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vd_accel *s;
	struct vd_accel_params p;
	struct vd_accel_task t = { .input_fd = -1, .output_fd = -1 };
	char msg[256];

	snprintf(f.path, sizeof(f.path), "%s/fake.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f.path);
	f.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(f.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f.listen_fd, 1), 0);
	assert_int_equal(pthread_create(&f.thread, NULL, fake_main, &f), 0);

	s16_params(&p, 0, 4096, 4);
	assert_int_equal(vd_accel_open(f.path, "src", &s), 0);
	assert_int_equal(vd_accel_set_params(s, &p), 0);
	assert_int_equal(vd_accel_task_create(s, &t), 0);
	t.input_size = 4096;
	assert_int_equal(vd_accel_task_start(s, &t), 0);
	/* GET_PARAMS is answered -ENOSYS by the fake, after the refusal */
	struct vd_accel_params q;
	assert_int_equal(vd_accel_get_params(s, &q), -EAGAIN);
	vd_accel_last_error(s, msg, sizeof(msg));
	assert_string_equal(msg, "pipelined START refused: cannot start the session's worker thread");
	assert_int_equal(vd_accel_get_params(s, &q), -EAGAIN);
	vd_accel_close(s);
	close(t.input_fd);
	close(t.output_fd);
	pthread_join(f.thread, NULL);
	close(f.poll_peer);
	close(f.listen_fd);
	vd_test_rmdir(dir);
}

static void write_sine_wav(const char *path, int subformat, int rate, int channels, sf_count_t frames)
{
	SF_INFO info = { .samplerate = rate, .channels = channels, .format = SF_FORMAT_WAV | subformat };
	SNDFILE *f = sf_open(path, SFM_WRITE, &info);
	double *x = malloc(sizeof(double) * (size_t)frames * (size_t)channels);

	assert_non_null(f);
	assert_non_null(x);
	for (sf_count_t i = 0; i < frames; i++)
		for (int c = 0; c < channels; c++)
			x[i * channels + c] = 0.5 * sin(2 * M_PI * (440.0 + 220 * c) * (double)i / rate);
	assert_int_equal(sf_writef_double(f, x, frames), frames);
	sf_close(f);
	free(x);
}

static int run_convert(const char *args)
{
	const char *root = getenv("VD_BUILD_ROOT");
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "'%s/src/cli/virtdsp' convert %s --quiet", root ? root : ".", args);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Bytes per sample of a WAV subformat this test writes. */
static size_t sample_bytes(int format)
{
	switch (format & SF_FORMAT_SUBMASK) {
	case SF_FORMAT_PCM_16: return 2;
	case SF_FORMAT_PCM_24: return 3;
	case SF_FORMAT_PCM_32: return 4;
	case SF_FORMAT_FLOAT: return 4;
	default: fail_msg("unexpected subformat 0x%x", format); return 0;
	}
}

/*
 * Two conversions give the same result: the same format, length and
 * sample bytes. Not the same file bytes: libsndfile stamps a float WAV's
 * PEAK chunk with the wall-clock second it was written, so two runs that
 * straddle a second boundary differ in that byte (this was the "1-LSB"
 * flake of this test: offset 60, the timestamp, one apart).
 */
static void assert_same_audio(const char *a, const char *b)
{
	SF_INFO ia, ib;
	SNDFILE *fa, *fb;

	memset(&ia, 0, sizeof(ia));
	memset(&ib, 0, sizeof(ib));
	fa = sf_open(a, SFM_READ, &ia);
	fb = sf_open(b, SFM_READ, &ib);
	assert_non_null(fa);
	assert_non_null(fb);
	assert_int_equal(ia.format, ib.format);
	assert_int_equal(ia.samplerate, ib.samplerate);
	assert_int_equal(ia.channels, ib.channels);
	assert_int_equal(ia.frames, ib.frames);
	assert_true(ia.frames > 0);
	size_t n = (size_t)ia.frames * (size_t)ia.channels * sample_bytes(ia.format);
	uint8_t *x = malloc(n), *y = malloc(n);
	assert_non_null(x);
	assert_non_null(y);
	assert_int_equal(sf_read_raw(fa, x, (sf_count_t)n), (sf_count_t)n);
	assert_int_equal(sf_read_raw(fb, y, (sf_count_t)n), (sf_count_t)n);
	sf_close(fa);
	sf_close(fb);
	assert_memory_equal(x, y, n);
	free(x);
	free(y);
}

/* Raw samples of a WAV file's data chunk, through libsndfile's raw reader. */
static void *read_raw(const char *path, SF_INFO *info, size_t sample_size)
{
	SNDFILE *f = sf_open(path, SFM_READ, info);
	size_t n = (size_t)info->frames * (size_t)info->channels;
	void *buf;

	assert_non_null(f);
	buf = malloc(n * sample_size + 1);
	assert_non_null(buf);
	assert_int_equal(sf_read_raw(f, buf, (sf_count_t)(n * sample_size)), (sf_count_t)(n * sample_size));
	sf_close(f);
	return buf;
}

static void test_convert(void **state)
{
	struct daemon *d = daemon_start(NULL);
	char *dir = vd_test_tmpdir();
	char in[512], a[512], b[512], args[2048];
	const sf_count_t frames = 66150;	/* 1.5 s at 44.1 kHz: not a multiple of a chunk */
	SF_INFO info;

	snprintf(in, sizeof(in), "%s/in16.wav", dir);
	write_sine_wav(in, SF_FORMAT_PCM_16, 44100, 2, frames);

	/* a rate change: in-process and through the daemon give the same file */
	snprintf(a, sizeof(a), "%s/local.wav", dir);
	snprintf(b, sizeof(b), "%s/daemon.wav", dir);
	snprintf(args, sizeof(args), "'%s' '%s' --rate 48000", in, a);
	assert_int_equal(run_convert(args), 0);
	snprintf(args, sizeof(args), "'%s' '%s' --rate 48000 --socket '%s'", in, b, d->path);
	assert_int_equal(run_convert(args), 0);
	assert_same_audio(a, b);
	/* exactly round(66150 * 48000 / 44100) = 72000 frames, and the tones intact */
	memset(&info, 0, sizeof(info));
	SNDFILE *f = sf_open(b, SFM_READ, &info);
	assert_non_null(f);
	assert_int_equal(info.frames, 72000);
	assert_int_equal(info.samplerate, 48000);
	assert_int_equal(info.format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
	float *y = malloc(sizeof(float) * 72000 * 2);
	assert_int_equal(sf_readf_float(f, y, 72000), 72000);
	sf_close(f);
	for (int c = 0; c < 2; c++) {
		struct vd_sine_fit fit;
		/* away from the edges; 16-bit output bounds the SNR near 98 dB */
		assert_int_equal(vd_sine_fit(y + 2 * 4800 + c, 48000, 2, 48000, 440.0 + 220 * c, &fit), 0);
		assert_true(fabs(fit.freq - (440.0 + 220 * c)) < 0.01);
		assert_true(fabs(fit.amplitude - 0.5) < 0.001);
		if (fit.snr_db < 85)
			fail_msg("channel %d: SNR %.1f dB", c, fit.snr_db);
	}
	free(y);

	/* equal rates, s16 -> f32 and -> s24: bit-exact, by both routes */
	static const struct {
		const char *fmt;
		enum vd_sample_format vf;
		int sub;
		size_t size;
	} outs[] = {
		{ "f32", VD_FORMAT_F32, SF_FORMAT_FLOAT, 4 },
		{ "s24", VD_FORMAT_S24_3, SF_FORMAT_PCM_24, 3 },
		{ "s32", VD_FORMAT_S32, SF_FORMAT_PCM_32, 4 },
	};
	int16_t *src = read_raw(in, &info, 2);
	for (size_t k = 0; k < sizeof(outs) / sizeof(outs[0]); k++) {
		snprintf(args, sizeof(args), "'%s' '%s' --format %s", in, a, outs[k].fmt);
		assert_int_equal(run_convert(args), 0);
		snprintf(args, sizeof(args), "'%s' '%s' --format %s --socket '%s'", in, b, outs[k].fmt, d->path);
		assert_int_equal(run_convert(args), 0);
		assert_same_audio(a, b);
		memset(&info, 0, sizeof(info));
		uint8_t *got = read_raw(b, &info, outs[k].size);
		assert_int_equal(info.frames, frames);
		assert_int_equal(info.format, SF_FORMAT_WAV | outs[k].sub);
		size_t n = (size_t)frames * 2;
		uint8_t *want = malloc(n * outs[k].size);
		assert_int_equal(vd_convert_samples(outs[k].vf, want, VD_FORMAT_S16, src, n, NULL), 0);
		assert_memory_equal(got, want, n * outs[k].size);
		free(got);
		free(want);
	}
	free(src);

	/* and back: a 24-bit file to s16 at the same rate equals the library's conversion */
	snprintf(in, sizeof(in), "%s/in24.wav", dir);
	write_sine_wav(in, SF_FORMAT_PCM_24, 44100, 2, frames);
	snprintf(args, sizeof(args), "'%s' '%s' --format s16 --socket '%s'", in, b, d->path);
	assert_int_equal(run_convert(args), 0);
	uint8_t *s24 = read_raw(in, &info, 3);
	int16_t *got16 = read_raw(b, &info, 2);
	int16_t *want16 = malloc((size_t)frames * 2 * 2);
	assert_int_equal(vd_convert_samples(VD_FORMAT_S16, want16, VD_FORMAT_S24_3, s24,
					    (size_t)frames * 2, NULL), 0);
	assert_memory_equal(got16, want16, (size_t)frames * 2 * 2);
	free(s24);
	free(got16);
	free(want16);

	/* a bad option is a usage error */
	snprintf(args, sizeof(args), "'%s' '%s' --quality bogus 2>/dev/null", in, b);
	assert_int_equal(run_convert(args), 2);

	/* an unreachable daemon is a clear error */
	snprintf(args, sizeof(args), "'%s' '%s' --socket '%s/nosuch.sock' 2>/dev/null", in, b, dir);
	assert_int_equal(run_convert(args), 1);

	vd_test_rmdir(dir);
	wait_idle(d);
	daemon_stop(d);
}

/* ---- the server's socket file ---- */

static void test_socket_path(void **state)
{
	struct daemon *d = daemon_start(NULL);
	struct vd_loop *loop;
	struct vd_accel_server *srv;
	char err[256], path[300];

	/* a second daemon on a live socket is refused, and leaves it alone */
	assert_int_equal(vd_loop_new(&loop), 0);
	assert_int_equal(vd_accel_server_new(loop, d->path, NULL, NULL, NULL, &srv, err, sizeof(err)),
			 -EADDRINUSE);
	assert_true(strstr(err, "another daemon is listening on ") != NULL);
	int fd = raw_connect(d->path);
	close(fd);

	/* a stale socket file is replaced */
	snprintf(path, sizeof(path), "%s/stale.sock", d->dir);
	int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
	assert_int_equal(vd_accel_server_new(loop, path, NULL, NULL, NULL, &srv, err, sizeof(err)), 0);
	vd_accel_server_free(srv);

	/* a path too long for a unix socket */
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(vd_accel_server_new(loop, path, NULL, NULL, NULL, &srv, err, sizeof(err)),
			 -ENAMETOOLONG);
	assert_true(strstr(err, "socket path too long") != NULL);
	struct vd_accel *a = NULL;
	assert_int_equal(vd_accel_open(path, "src", &a), -ENAMETOOLONG);
	vd_loop_free(loop);

	/* the default path follows XDG_RUNTIME_DIR */
	char *old = getenv("XDG_RUNTIME_DIR") ? strdup(getenv("XDG_RUNTIME_DIR")) : NULL;
	setenv("XDG_RUNTIME_DIR", "/run/user/1234", 1);
	assert_int_equal(vd_accel_default_socket_path(path, sizeof(path)), 0);
	assert_string_equal(path, "/run/user/1234/virtdsp/virtdsp.sock");
	if (old)
		setenv("XDG_RUNTIME_DIR", old, 1);
	else
		unsetenv("XDG_RUNTIME_DIR");
	free(old);
	daemon_stop(d);
}

/* ---- the loop ---- */

struct loop_probe {
	struct vd_loop_watch *wa, *wb;
	int calls;
};

/* Each callback removes the other watch: both fds are ready in the same
 * round, so the second one's event is already in hand when it is removed. */
static void cb_a(void *data, int fd, uint32_t events)
{
	struct loop_probe *p = data;
	uint64_t v;

	p->calls++;
	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	vd_loop_remove(p->wb);
	p->wb = NULL;
}

static void cb_b(void *data, int fd, uint32_t events)
{
	struct loop_probe *p = data;
	uint64_t v;

	p->calls++;
	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	vd_loop_remove(p->wa);
	p->wa = NULL;
}

static void test_loop(void **state)
{
	struct loop_probe p = { 0 };
	struct vd_loop *loop;
	int a[2], b[2];
	uint64_t one = 1;

	assert_int_equal(vd_loop_new(&loop), 0);
	assert_int_equal(pipe(a), 0);
	assert_int_equal(pipe(b), 0);
	assert_int_equal(vd_loop_add_fd(loop, a[0], POLLIN, cb_a, &p, &p.wa), 0);
	assert_int_equal(vd_loop_add_fd(loop, b[0], POLLIN, cb_b, &p, &p.wb), 0);
	assert_int_equal(vd_loop_add_fd(loop, a[0], POLLIN, cb_a, &p, NULL), -EEXIST);
	assert_int_equal(write(a[1], &one, sizeof(one)), sizeof(one));
	assert_int_equal(write(b[1], &one, sizeof(one)), sizeof(one));
	assert_int_equal(vd_loop_iterate(loop, 1000), 2);
	assert_int_equal(p.calls, 1);
	assert_true((p.wa == NULL) != (p.wb == NULL));
	/* the survivor still works, and is removed by hand */
	assert_int_equal(write(p.wa ? a[1] : b[1], &one, sizeof(one)), sizeof(one));
	assert_int_equal(vd_loop_iterate(loop, 1000), 1);
	assert_int_equal(p.calls, 2);
	vd_loop_remove(p.wa ? p.wa : p.wb);
	assert_int_equal(vd_loop_iterate(loop, 0), 0);
	/* quit before run: the run returns after one round */
	vd_loop_quit(loop);
	assert_int_equal(vd_loop_run(loop), 0);
	vd_loop_free(loop);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}


/* ---- the submission ring ---- */

/*
 * The steady state the ring exists for: 4 tasks in flight, each waited
 * for, read and reused, and the program never takes the poll fd. Every
 * output is the input (48 kHz -> 48 kHz S16: a copy), and the daemon sees
 * no request per task: the STARTs go through the ring, STATUS through the
 * page (or, for a START the daemon has not taken yet, from what the
 * library sent), completions through the notify eventfd.
 */
static void test_ring_steady(void **state)
{
	struct daemon *d = daemon_start(NULL);
	struct vd_accel_task t[4];
	uint8_t *in[4], *out[4];
	struct vd_accel *s = pipe_session(d->path, 4, t, in);
	const int ntasks = 2000;
	uint64_t before = stats(d).requests;
	int head = 0;

	for (int i = 0; i < 4; i++) {
		out[i] = mmap(NULL, 4096, PROT_READ, MAP_SHARED, t[i].output_fd, 0);
		assert_true(out[i] != MAP_FAILED);
	}
	for (int n = 0; n < ntasks + 4; n++) {
		if (n >= 4) {
			/* the oldest: wait, check its status and its bytes */
			assert_true(vd_accel_wait(s, POLLIN, 10000) & POLLIN);
			struct vd_accel_task_status st = { .seqno = t[head].seqno };
			assert_int_equal(vd_accel_task_status(s, &st), 0);
			assert_int_equal(st.state, VD_ACCEL_TASK_FINISHED);
			assert_int_equal(st.output_size, 4096);
			assert_memory_equal(out[head], in[head], 4096);
			if (n >= ntasks)
				break;
		}
		int i = n < 4 ? n : head;
		for (int k = 0; k < 2048; k++)
			((int16_t *)in[i])[k] = (int16_t)(k * 7 + n);
		struct vd_accel_task r = { .seqno = t[i].seqno, .input_size = 4096 };
		if (n >= 4) {
			r.seqno = 0;
			r.origin_seqno = t[i].seqno;
		}
		assert_int_equal(vd_accel_task_start(s, &r), 0);
		t[i].seqno = r.seqno;
		/* right after its START (still in the ring, most likely): ACTIVE
		 * with its input, or already FINISHED; never a request */
		struct vd_accel_task_status now = { .seqno = r.seqno };
		assert_int_equal(vd_accel_task_status(s, &now), 0);
		assert_int_equal(now.seqno, r.seqno);
		assert_int_equal(now.input_size, 4096);
		if (now.state == VD_ACCEL_TASK_ACTIVE)
			assert_int_equal(now.output_size, 0);
		else
			assert_int_equal(now.state, VD_ACCEL_TASK_FINISHED);
		if (n >= 4)
			head = (head + 1) % 4;
	}
	uint64_t requests = stats(d).requests - before;
	/* far fewer than one per task: in fact none */
	if (requests > (uint64_t)ntasks / 100)
		fail_msg("%llu requests for %d tasks", (unsigned long long)requests, ntasks);
	/* the daemon did not see the reuses, yet FREE by the latest seqno
	 * releases that task's charge (it keeps its records by page entry) */
	uint64_t mem = stats(d).memory;
	assert_int_equal(stats(d).tasks, 4);
	assert_int_equal(vd_accel_task_free(s, t[1].seqno), 0);
	assert_int_equal(stats(d).tasks, 3);
	assert_true(stats(d).memory < mem);
	for (int i = 0; i < 4; i++)
		munmap(out[i], 4096);
	pipe_unmap(t, in, 4);
	vd_accel_close(s);
	wait_idle(d);
	daemon_stop(d);
}

/*
 * Taking the poll fd makes its readiness exact at once, though the engine
 * had not kept it up to date for the START that went through the ring;
 * afterwards a START that changes readiness is a request again, and the fd
 * agrees with the task's status when it returns.
 */
static void test_ring_exact_fd(void **state)
{
	struct daemon *d = daemon_start(NULL);
	struct vd_accel_task t[1];
	uint8_t *in[1];
	struct vd_accel *s = pipe_session(d->path, 1, t, in);
	struct vd_accel_task_status st = { .seqno = t[0].seqno };
	uint64_t before = stats(d).requests;

	/* with fragments = 1 this START drops POLLOUT: without the fd out, the ring */
	t[0].input_size = 4096;
	assert_int_equal(vd_accel_task_start(s, &t[0]), 0);
	assert_true(vd_accel_wait(s, POLLIN, 5000) & POLLIN);
	st.seqno = t[0].seqno;
	assert_int_equal(vd_accel_task_status(s, &st), 0);
	assert_int_equal(st.state, VD_ACCEL_TASK_FINISHED);
	assert_int_equal(stats(d).requests, before);
	/* finished: readable (oldest finished) and writable (0 of 1 active) */
	struct pollfd p = { .fd = vd_accel_fd(s), .events = POLLIN | POLLOUT };
	assert_int_equal(stats(d).requests, before + 1);	/* RING_POLL */
	assert_int_equal(poll(&p, 1, 0), 1);
	assert_int_equal(p.revents, POLLIN | POLLOUT);
	for (int i = 0; i < 50; i++) {
		/* now the same START is a request, handled when it returns */
		struct vd_accel_task r = { .origin_seqno = t[0].seqno, .input_size = 4096 };
		assert_int_equal(vd_accel_task_start(s, &r), 0);
		t[0].seqno = r.seqno;
		assert_int_equal(stats(d).requests, before + 2 + (uint64_t)i);
		p.revents = 0;
		assert_true(poll(&p, 1, 0) >= 0);
		st.seqno = r.seqno;
		assert_int_equal(vd_accel_task_status(s, &st), 0);
		/* the fd never runs ahead of the task: POLLOUT only once it finished */
		if (p.revents & POLLOUT)
			assert_int_equal(st.state, VD_ACCEL_TASK_FINISHED);
		assert_true(vd_accel_wait(s, POLLIN, 5000) & POLLIN);
		p.revents = 0;
		assert_int_equal(poll(&p, 1, 0), 1);
		assert_int_equal(p.revents, POLLIN | POLLOUT);
	}
	pipe_unmap(t, in, 1);
	vd_accel_close(s);
	wait_idle(d);
	daemon_stop(d);
}

/* A raw session with two created tasks and its ring mapped. */
struct raw_ring {
	int fd;
	uint32_t sid;
	uint64_t seqno[2];
	struct vd_proto_ring *ring;
	const struct vd_proto_page *page;
	int kick, notify;
};

static void raw_ring_open(struct raw_ring *rr, const char *path)
{
	struct vd_proto_open o = { .name = "src" };
	struct vd_proto_open_reply orep;
	struct vd_accel_params p;
	struct msg m;

	rr->fd = raw_connect(path);
	assert_int_equal(raw_call(rr->fd, VD_PROTO_OPEN, &o, sizeof(o), &m), 0);
	assert_int_equal(m.nfds, 2);
	memcpy(&orep, m.payload, sizeof(orep));
	rr->sid = orep.session;
	close(m.fds[0]);
	rr->page = mmap(NULL, VD_PROTO_PAGE_SIZE, PROT_READ, MAP_SHARED, m.fds[1], 0);
	assert_true(rr->page != MAP_FAILED);
	close(m.fds[1]);
	s16_params(&p, 0, 4096, 2);
	struct vd_proto_params_req pr = { .s = { .session = rr->sid } };
	vd_proto_params_to_wire(&p, &pr.p);
	assert_int_equal(raw_call(rr->fd, VD_PROTO_SET_PARAMS, &pr, sizeof(pr), &m), 0);
	struct vd_proto_task_req tr = { .s = { .session = rr->sid } };
	for (int i = 0; i < 2; i++) {
		struct vd_proto_task w;
		assert_int_equal(raw_call(rr->fd, VD_PROTO_TASK_CREATE, &tr, sizeof(tr), &m), 0);
		close(m.fds[0]);
		close(m.fds[1]);
		memcpy(&w, m.payload, sizeof(w));
		rr->seqno[i] = w.seqno;
	}
	struct vd_proto_session sr = { .session = rr->sid };
	assert_int_equal(raw_call(rr->fd, VD_PROTO_RING_ATTACH, &sr, sizeof(sr), &m), 0);
	assert_int_equal(m.nfds, 3);
	rr->ring = mmap(NULL, VD_PROTO_RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, m.fds[0], 0);
	assert_true(rr->ring != MAP_FAILED);
	close(m.fds[0]);
	rr->kick = m.fds[1];
	rr->notify = m.fds[2];
	assert_int_equal(rr->ring->magic, VD_PROTO_RING_MAGIC);
	assert_int_equal(rr->ring->size, VD_PROTO_RING_ENTRIES);
	assert_int_equal(rr->ring->features, VD_PROTO_RING_F_STOP);
	/* a second ring for the same session is refused, with the engine's reason */
	assert_int_equal(raw_call(rr->fd, VD_PROTO_RING_ATTACH, &sr, sizeof(sr), &m), -EBUSY);
	assert_raw_error(&m, -EBUSY, "the session already has a submission ring");
}

static void raw_ring_close(struct raw_ring *rr)
{
	munmap(rr->ring, VD_PROTO_RING_SIZE);
	munmap((void *)rr->page, VD_PROTO_PAGE_SIZE);
	close(rr->kick);
	close(rr->notify);
	close(rr->fd);
}

static void raw_ring_push(struct raw_ring *rr, const struct vd_proto_ring_entry *e, uint32_t advance)
{
	uint32_t tail = rr->ring->tail;

	rr->ring->e[tail % VD_PROTO_RING_ENTRIES] = *e;
	__atomic_store_n(&rr->ring->tail, tail + advance, __ATOMIC_RELEASE);
	assert_int_equal(eventfd_write(rr->kick, 1), 0);
}

/* The ring's failure as the page reports it, after the notify eventfd fired. */
static void assert_ring_failed(struct raw_ring *rr, int err, const char *text)
{
	struct pollfd p = { .fd = rr->notify, .events = POLLIN };

	for (int i = 0; i < 100 && !__atomic_load_n(&rr->page->error, __ATOMIC_ACQUIRE); i++)
		assert_true(poll(&p, 1, 50) >= 0);
	assert_int_equal(__atomic_load_n(&rr->page->error, __ATOMIC_ACQUIRE), err);
	assert_string_equal(rr->page->error_text, text);
	assert_int_equal(poll(&p, 1, 0), 1);
}

/* A consistent copy of page entry @i. */
static struct vd_proto_page_entry page_entry(const struct vd_proto_page *pg, unsigned i)
{
	struct vd_proto_page_entry e;

	assert_int_equal(vd_proto_page_read_entry(pg, i, &e), 0);
	return e;
}

/* The page entry of @seqno (the raw client knows no slots: it looks). */
static unsigned page_slot(const struct vd_proto_page *pg, uint64_t seqno)
{
	for (unsigned i = 0; i < VD_PROTO_PAGE_ENTRIES; i++) {
		struct vd_proto_page_entry e = page_entry(pg, i);
		if (e.used && e.seqno == seqno)
			return i;
	}
	fail_msg("no page entry for task %llu", (unsigned long long)seqno);
	return 0;
}

/*
 * STOP entries in the ring, as the engine takes them: a FINISHED task
 * becomes IDLE and keeps its sizes (as a TASK_STOP request leaves it), an
 * ACTIVE one is cancelled, an IDLE one is left alone; each in ring order
 * with the STARTs around it, so a reuse START right after a STOP of the
 * same task runs.
 */
static void test_ring_stop_entries(void **state)
{
	struct daemon *d = daemon_start(NULL);
	struct raw_ring rr;
	struct msg m;

	raw_ring_open(&rr, d->path);
	unsigned s0 = page_slot(rr.page, rr.seqno[0]), s1 = page_slot(rr.page, rr.seqno[1]);
	struct vd_proto_ring_entry e = { .seqno = rr.seqno[0], .input_size = 4096 };
	raw_ring_push(&rr, &e, 1);
	for (int i = 0; i < 400 && page_entry(rr.page, s0).state != VD_ACCEL_TASK_FINISHED; i++)
		usleep(5000);
	struct vd_proto_page_entry pe = page_entry(rr.page, s0);
	assert_int_equal(pe.state, VD_ACCEL_TASK_FINISHED);
	assert_int_equal(pe.output_size, 4096);

	/* STOP the finished one, reuse it at once, STOP the new seqno, and STOP an idle one */
	e = (struct vd_proto_ring_entry){ .seqno = rr.seqno[0], .op = VD_PROTO_RING_OP_STOP };
	raw_ring_push(&rr, &e, 1);
	e = (struct vd_proto_ring_entry){ .origin_seqno = rr.seqno[0], .input_size = 2048 };
	raw_ring_push(&rr, &e, 1);
	uint64_t reused = rr.seqno[1] + 1;	/* CREATE took 1 and 2: the reuse takes 3 */
	e = (struct vd_proto_ring_entry){ .seqno = rr.seqno[1], .op = VD_PROTO_RING_OP_STOP };
	raw_ring_push(&rr, &e, 1);
	/* a request: the daemon consumes the ring before it (one ordered stream) */
	struct vd_proto_status_req sq = { .s = { .session = rr.sid }, .st = { .seqno = reused } };
	assert_int_equal(raw_call(rr.fd, VD_PROTO_TASK_STATUS, &sq, sizeof(sq), &m), 0);
	assert_int_equal(__atomic_load_n(&rr.page->error, __ATOMIC_ACQUIRE), 0);
	assert_int_equal(__atomic_load_n(&rr.ring->head, __ATOMIC_ACQUIRE), rr.ring->tail);
	for (int i = 0; i < 400 && page_entry(rr.page, s0).state != VD_ACCEL_TASK_FINISHED; i++)
		usleep(5000);
	pe = page_entry(rr.page, s0);
	assert_int_equal(pe.seqno, reused);
	assert_int_equal(pe.state, VD_ACCEL_TASK_FINISHED);
	assert_int_equal(pe.input_size, 2048);
	assert_int_equal(pe.output_size, 2048);
	assert_int_equal(pe.starts, 2);
	assert_int_equal(page_entry(rr.page, s1).state, VD_ACCEL_TASK_IDLE);

	/* STOP of the finished reuse: IDLE, sizes kept */
	e = (struct vd_proto_ring_entry){ .seqno = reused, .op = VD_PROTO_RING_OP_STOP };
	raw_ring_push(&rr, &e, 1);
	assert_int_equal(raw_call(rr.fd, VD_PROTO_TASK_STATUS, &sq, sizeof(sq), &m), 0);
	struct vd_proto_status w;
	memcpy(&w, m.payload, sizeof(w));
	assert_int_equal(w.state, VD_ACCEL_TASK_IDLE);
	assert_int_equal(w.output_size, 2048);
	pe = page_entry(rr.page, s0);
	assert_int_equal(pe.state, VD_ACCEL_TASK_IDLE);
	assert_int_equal(pe.output_size, 2048);
	assert_int_equal(__atomic_load_n(&rr.page->error, __ATOMIC_ACQUIRE), 0);
	raw_ring_close(&rr);
	wait_idle(d);
	daemon_stop(d);
}

/*
 * The library STOPs finished tasks through the ring while the program has
 * not taken the poll fd: a client draining its last tasks makes no request
 * per STOP, and sees what a STOP request would have shown, at once: the
 * task IDLE with its sizes kept, the next oldest task in POLLIN's place,
 * a second STOP a no-op, the task reusable and restartable. Once the
 * program holds the fd, STOP is a request again (the daemon must drop
 * POLLIN on the fd before STOP returns).
 */
static void test_ring_stop_drain(void **state)
{
	struct daemon *d = daemon_start(NULL);
	struct vd_accel_task t[4];
	uint8_t *in[4];
	struct vd_accel *s = pipe_session(d->path, 4, t, in);
	struct vd_accel_task_status st;

	for (int i = 0; i < 4; i++) {
		t[i].input_size = 1024 * (unsigned)(i + 1);
		assert_int_equal(vd_accel_task_start(s, &t[i]), 0);
	}
	uint64_t before = stats(d).requests;
	for (int i = 0; i < 4; i++) {
		assert_true(vd_accel_wait(s, POLLIN, 5000) & POLLIN);
		st = (struct vd_accel_task_status){ .seqno = t[i].seqno };
		assert_int_equal(vd_accel_task_status(s, &st), 0);
		assert_int_equal(st.state, VD_ACCEL_TASK_FINISHED);
		assert_int_equal(st.output_size, 1024 * (i + 1));
		assert_int_equal(vd_accel_task_stop(s, t[i].seqno), 0);
		assert_int_equal(vd_accel_task_status(s, &st), 0);
		assert_int_equal(st.state, VD_ACCEL_TASK_IDLE);
		assert_int_equal(st.output_size, 1024 * (i + 1));
		assert_int_equal(st.input_size, 1024 * (i + 1));
		/* again: nothing to stop */
		assert_int_equal(vd_accel_task_stop(s, t[i].seqno), 0);
	}
	/* nothing started is left: not readable, all four slots free */
	assert_int_equal(vd_accel_wait(s, POLLIN | POLLOUT, 0), POLLOUT);
	assert_int_equal(stats(d).requests, before);

	/* the daemon took every STOP: a request (which consumes the ring first) sees them */
	struct vd_accel_params gp;
	assert_int_equal(vd_accel_get_params(s, &gp), 0);
	for (int i = 0; i < 4; i++) {
		st = (struct vd_accel_task_status){ .seqno = t[i].seqno };
		assert_int_equal(vd_accel_task_status(s, &st), 0);
		assert_int_equal(st.state, VD_ACCEL_TASK_IDLE);
		assert_int_equal(st.output_size, 1024 * (i + 1));
	}
	/* a stopped task starts again by its seqno (IDLE), another by reuse */
	t[0].input_size = 4096;
	assert_int_equal(vd_accel_task_start(s, &t[0]), 0);
	struct vd_accel_task r = { .origin_seqno = t[1].seqno, .input_size = 4096 };
	assert_int_equal(vd_accel_task_start(s, &r), 0);
	t[1].seqno = r.seqno;
	assert_true(vd_accel_wait(s, POLLIN, 5000) & POLLIN);
	for (int i = 0; i < 2; i++) {
		st = (struct vd_accel_task_status){ .seqno = t[i].seqno };
		for (int k = 0; k < 500; k++) {
			assert_int_equal(vd_accel_task_status(s, &st), 0);
			if (st.state == VD_ACCEL_TASK_FINISHED)
				break;
			assert_true(vd_accel_wait(s, POLLIN, 10) >= 0);
		}
		assert_int_equal(st.state, VD_ACCEL_TASK_FINISHED);
		assert_int_equal(st.output_size, 4096);
	}
	/* the oldest is stopped: the next one is readable at once */
	assert_int_equal(vd_accel_task_stop(s, t[0].seqno), 0);
	assert_int_equal(vd_accel_wait(s, POLLIN, 0), POLLIN);

	/* with the fd out, STOP is a request and the fd follows it */
	int fd = vd_accel_fd(s);
	uint64_t mid = stats(d).requests;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 0), 1);
	assert_int_equal(vd_accel_task_stop(s, t[1].seqno), 0);
	assert_int_equal(stats(d).requests, mid + 1);
	assert_int_equal(poll(&p, 1, 0), 0);
	pipe_unmap(t, in, 4);
	vd_accel_close(s);
	wait_idle(d);
	daemon_stop(d);
}

struct kick_thief {
	int fd;
	atomic_bool stop;
	atomic_ulong stolen;
};

static void *steal_kicks(void *arg)
{
	struct kick_thief *k = arg;
	eventfd_t v;

	while (!atomic_load(&k->stop))
		if (eventfd_read(k->fd, &v) == 0)
			atomic_fetch_add(&k->stolen, 1);
	return NULL;
}

/*
 * A client that reads its own kick eventfd empty as fast as it can (it
 * holds the fd, so it can) must not keep the daemon from closing its
 * session: the close wakes the worker through an eventfd of the daemon's
 * own. Through the kick eventfd, the thief took that wake-up and the
 * daemon's loop waited for the worker forever.
 */
static void test_ring_kick_thief(void **state)
{
	struct daemon *d = daemon_start(NULL);
	unsigned long stolen = 0;

	for (int round = 0; round < 20; round++) {
		struct raw_ring rr;
		struct kick_thief k = { .stop = false };
		pthread_t th;

		raw_ring_open(&rr, d->path);
		k.fd = dup(rr.kick);
		assert_true(k.fd >= 0);
		assert_int_equal(pthread_create(&th, NULL, steal_kicks, &k), 0);
		/* a task in the ring, and kicks until the thief has taken some (it
		 * races the worker for each; under a slow sanitizer the worker may
		 * win many in a row) */
		struct vd_proto_ring_entry e = { .seqno = rr.seqno[0], .input_size = 4096 };
		raw_ring_push(&rr, &e, 1);
		for (int i = 0; i < 10 || (atomic_load(&k.stolen) == 0 && i < 5000); i++) {
			usleep(200);
			assert_int_equal(eventfd_write(rr.kick, 1), 0);
		}
		raw_ring_close(&rr);
		wait_idle(d);
		atomic_store(&k.stop, true);
		assert_int_equal(pthread_join(th, NULL), 0);
		close(k.fd);
		stolen += atomic_load(&k.stolen);
	}
	/* the thief did take kicks (the push's, at least) */
	assert_true(stolen > 0);
	daemon_stop(d);
}

/*
 * Hostile ring contents fail that session's ring with the reason in the
 * page, and nothing else: the connection stays (the socket still answers,
 * and it is not counted as malformed), later entries are ignored, another
 * client converts undisturbed, and no descriptor leaks.
 */
static void test_ring_hostile(void **state)
{
	struct daemon *d = daemon_start(NULL);
	int base_fds = count_fds();
	static const struct {
		struct vd_proto_ring_entry e;
		uint32_t advance;
		int err;
		const char *text;
	} cases[] = {
		{ { .seqno = 1, .input_size = 4096 }, 65, -EPROTO,
		  "ring entry 0: ring tail is more than 64 entries ahead of its head" },
		{ { .seqno = 1, .input_size = 4096, .op = 7 }, 1, -EPROTO,
		  "ring entry 0: ring entry with an unknown operation (not START 0 or STOP 1)" },
		{ { .seqno = 0, .op = VD_PROTO_RING_OP_STOP }, 1, -EPROTO,
		  "ring entry 0: ring STOP entry for seqno 0 (stopping every task is a TASK_STOP request)" },
		{ { .seqno = 1, .input_size = 4096, .op = VD_PROTO_RING_OP_STOP }, 1, -EPROTO,
		  "ring entry 0: ring STOP entry with a non-zero origin_seqno, input_size or flags" },
		{ { .seqno = 99, .op = VD_PROTO_RING_OP_STOP }, 1, -EINVAL, "STOP: no task 99" },
		{ { .seqno = 99, .input_size = 4096 }, 1, -EINVAL, "no task 99" },
		{ { .origin_seqno = 1, .input_size = 4096 }, UINT32_MAX, -EPROTO,
		  "ring entry 0: ring tail is more than 64 entries ahead of its head" },
		{ { .seqno = 1, .input_size = 4098 }, 1, -EINVAL,
		  "input_size 4098 exceeds the input buffer (4096 bytes)" },
		{ { .seqno = 1, .input_size = 4096, .flags = 0x80 }, 1, -EINVAL, "unknown task flags 0x80" },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct raw_ring rr;
		struct msg m;

		raw_ring_open(&rr, d->path);
		raw_ring_push(&rr, &cases[c].e, cases[c].advance);
		assert_ring_failed(&rr, cases[c].err, cases[c].text);
		/* a valid entry now is ignored: the task stays IDLE */
		struct vd_proto_ring_entry ok = { .seqno = rr.seqno[1], .input_size = 4096 };
		raw_ring_push(&rr, &ok, 1);
		struct vd_proto_status_req sq = { .s = { .session = rr.sid }, .st = { .seqno = rr.seqno[1] } };
		assert_int_equal(raw_call(rr.fd, VD_PROTO_TASK_STATUS, &sq, sizeof(sq), &m), 0);
		struct vd_proto_status w;
		memcpy(&w, m.payload, sizeof(w));
		assert_int_equal(w.state, VD_ACCEL_TASK_IDLE);

		/* another client is untouched */
		struct vd_accel_task t[1];
		uint8_t *in[1];
		struct vd_accel *s = pipe_session(d->path, 1, t, in);
		t[0].input_size = 4096;
		assert_int_equal(vd_accel_task_start(s, &t[0]), 0);
		assert_true(vd_accel_wait(s, POLLIN, 5000) & POLLIN);
		pipe_unmap(t, in, 1);
		vd_accel_close(s);
		raw_ring_close(&rr);
		wait_idle(d);
	}
	assert_int_equal(stats(d).disconnects_malformed, 0);
	assert_int_equal(count_fds(), base_fds);
	daemon_stop(d);
}

/* The rings mapped in this process (the library's and, the daemon being a
 * thread here, the engine's: both map the same memory); returns how many. */
static int ring_mappings(unsigned long *addr, int max)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "vd-accel-ring") && n < max)
			assert_int_equal(sscanf(line, "%lx-", &addr[n++]), 1);
	fclose(f);
	return n;
}

/* A ring mapping that is not among the @n in @old. */
static struct vd_proto_ring *new_ring_mapping(const unsigned long *old, int n)
{
	unsigned long now[64];
	int m = ring_mappings(now, 64);

	for (int i = 0; i < m; i++) {
		bool seen = false;
		for (int k = 0; k < n; k++)
			seen |= now[i] == old[k];
		if (!seen)
			return (struct vd_proto_ring *)now[i];
	}
	fail_msg("no new ring mapping");
	return NULL;
}

/*
 * A library session whose ring someone scribbles on (as a buggy program
 * could): the library reports the daemon's refusal like a refused
 * pipelined START, with the engine's errno and message, from the next call
 * on and from every call after it.
 */
static void test_ring_refused(void **state)
{
	struct daemon *d = daemon_start(NULL);
	struct vd_accel_task t[2];
	uint8_t *in[2];
	unsigned long old[64];
	int nold = ring_mappings(old, 64);
	struct vd_accel *s = pipe_session(d->path, 2, t, in);
	struct vd_proto_ring *ring = new_ring_mapping(old, nold);
	struct vd_accel_params gp;
	char msg[256];

	uint32_t tail = ring->tail;
	ring->e[tail % VD_PROTO_RING_ENTRIES] = (struct vd_proto_ring_entry){ .seqno = 77, .input_size = 4 };
	__atomic_store_n(&ring->tail, tail + 1, __ATOMIC_RELEASE);
	/* a request: the daemon consumes the ring first, and refuses the entry */
	assert_int_equal(vd_accel_get_params(s, &gp), 0);
	struct vd_accel_task_status st = { .seqno = t[0].seqno };
	assert_int_equal(vd_accel_task_status(s, &st), -EINVAL);
	vd_accel_last_error(s, msg, sizeof(msg));
	assert_string_equal(msg, "pipelined START refused: no task 77");
	t[0].input_size = 4096;
	assert_int_equal(vd_accel_task_start(s, &t[0]), -EINVAL);
	assert_int_equal(vd_accel_wait(s, POLLIN, 0), -EINVAL);
	vd_accel_last_error(s, msg, sizeof(msg));
	assert_string_equal(msg, "pipelined START refused: no task 77");
	pipe_unmap(t, in, 2);
	vd_accel_close(s);

	/* a refused STOP entry is reported as one */
	nold = ring_mappings(old, 64);
	s = pipe_session(d->path, 2, t, in);
	ring = new_ring_mapping(old, nold);
	tail = ring->tail;
	ring->e[tail % VD_PROTO_RING_ENTRIES] =
		(struct vd_proto_ring_entry){ .seqno = 78, .op = VD_PROTO_RING_OP_STOP };
	__atomic_store_n(&ring->tail, tail + 1, __ATOMIC_RELEASE);
	assert_int_equal(vd_accel_get_params(s, &gp), 0);
	assert_int_equal(vd_accel_task_stop(s, t[0].seqno), -EINVAL);
	vd_accel_last_error(s, msg, sizeof(msg));
	assert_string_equal(msg, "pipelined STOP refused: no task 78");
	pipe_unmap(t, in, 2);
	vd_accel_close(s);
	wait_idle(d);
	daemon_stop(d);
}

/*
 * Clients that die with entries in their ring (published, kicked or not,
 * the worker busy with them or asleep): the daemon frees everything at
 * once and leaks no descriptor; its worker threads are gone (ASan/LSan
 * and the fd count would see what they kept).
 */
static void test_ring_client_dies(void **state)
{
	struct daemon *d = daemon_start(NULL);
	int base_fds = count_fds();

	for (int round = 0; round < 20; round++) {
		struct raw_ring rr;

		raw_ring_open(&rr, d->path);
		for (int i = 0; i < 2; i++) {
			struct vd_proto_ring_entry e = { .seqno = rr.seqno[i], .input_size = 4096 };
			uint32_t tail = rr.ring->tail;
			rr.ring->e[tail % VD_PROTO_RING_ENTRIES] = e;
			__atomic_store_n(&rr.ring->tail, tail + 1, __ATOMIC_RELEASE);
			if (round % 2)
				assert_int_equal(eventfd_write(rr.kick, 1), 0);
		}
		raw_ring_close(&rr);
		wait_idle(d);
		assert_log(d, "hung up (1 sessions, 2 tasks freed)");
	}
	/* and a library client killed mid-stream */
	for (int round = 0; round < 4; round++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct vd_accel_task t[4];
			uint8_t *in[4];
			struct vd_accel *s = pipe_session(d->path, 4, t, in);
			for (int i = 0; i < 4; i++) {
				t[i].input_size = 4096;
				if (vd_accel_task_start(s, &t[i]) < 0)
					_exit(1);
			}
			_exit(0);	/* no close: the kernel closes the connection */
		}
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		wait_idle(d);
	}
	assert_int_equal(stats(d).disconnects_malformed, 0);
	assert_int_equal(count_fds(), base_fds);
	daemon_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop),
		cmocka_unit_test(test_socket_path),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_foreign_session),
		cmocka_unit_test(test_client_crash),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_pipelined_hangup),
		cmocka_unit_test(test_pipelined_refused),
		cmocka_unit_test(test_pipelined_refused_in_call),
		cmocka_unit_test(test_ring_steady),
		cmocka_unit_test(test_ring_exact_fd),
		cmocka_unit_test(test_ring_stop_entries),
		cmocka_unit_test(test_ring_stop_drain),
		cmocka_unit_test(test_ring_hostile),
		cmocka_unit_test(test_ring_kick_thief),
		cmocka_unit_test(test_ring_refused),
		cmocka_unit_test(test_ring_client_dies),
		cmocka_unit_test(test_convert),
	};

	signal(SIGPIPE, SIG_IGN);
	int failed = cmocka_run_group_tests_name("accel socket", tests, NULL, NULL);
	return failed + run_conformance();
}
