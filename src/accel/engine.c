/* accel/engine.c - the in-process accel engine: sessions, tasks, their buffers and their runner.
 *
 * One mutex per session guards its state; it is never held while a codec
 * converts. A task is run either inline by the thread that STARTs it (when
 * nothing else of the session is queued or running and the input is small:
 * no thread wake-up at all), by a thread that blocks in vd_accel_wait() for
 * it before the worker has taken it (the data is hot there), or by the
 * session's worker thread, created on first need. Either way one session
 * runs one task at a time, in START order, so the codec's stream state
 * stays sequential. STOP never waits:
 * it bumps the task's generation, which the running codec polls between
 * chunks; only FREE, reconfigure and close wait (for at most one chunk)
 * until the runner has let go of the buffers.
 *
 * The session fd is one end of an AF_UNIX datagram socket pair whose other
 * end the engine keeps: a queued byte makes it readable (the oldest started
 * task has finished), and a filled send buffer makes it not writable (the
 * active-task limit is reached). That gives poll() both directions
 * independently, which an eventfd cannot.
 *
 * On request (the daemon, for protocol version 2) the engine also mirrors
 * every task's status into a shared status page (docs/protocol.md): each
 * change is written under the lock, before the fd's readiness changes, so
 * a reader that saw POLLIN finds the finished status there. The page is
 * only ever written here, never read back.
 *
 * A daemon may also attach a submission ring (docs/protocol.md, "Submission
 * ring"): STARTs a client wrote into shared memory, which the session's
 * worker consumes without the daemon's event loop, and two eventfds, one
 * to kick the worker when it sleeps and one to tell a waiting client that
 * the page changed. Until the client asks for an exact poll fd, the fd's
 * readiness is not maintained at all (nobody can poll it), which saves the
 * system calls that kept it up to date.
 *
 * The same holds in-process: a session's fd is lazy until vd_accel_fd() is
 * first called, and vd_accel_wait() never polls it. It computes readiness
 * under the lock and sleeps on a futex word (wait_seq) that every change of
 * readiness bumps; whoever drops the lock after a change wakes the sleepers
 * (unlock()), except while the worker still has tasks of the session to
 * run: then the wake waits until it sleeps, one per batch.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "accel/accel-impl.h"
#include "accel/codec.h"
#include "accel/protocol.h"
#include "accel/seqmap.h"

#define MAX_FRAGMENT_SIZE (16u << 20)
#define MAX_OUTPUT_SIZE ((uint64_t)256 << 20)
/* Inputs up to this size run inline in START when the session is idle
 * (VD_ACCEL_INLINE_MAX overrides; 0 always uses the worker). */
#define DEFAULT_INLINE_MAX 4096
#define ERR_MAX 256

struct task {
	struct task *next;		/* all tasks, creation order */
	struct task *s_prev, *s_next;	/* started tasks (ACTIVE, FINISHED), START order */
	uint64_t seqno;
	int in_fd, out_fd;
	uint8_t *in_map, *out_map;
	size_t in_len, out_len;
	uint64_t input_size, output_size;
	uint32_t flags, output_flags;
	uint8_t state;
	uint8_t slot;			/* its status page entry, fixed from CREATE to FREE */
	uint64_t starts;		/* successful STARTs, mirrored in the status page */
	bool running;			/* a runner is using the buffers */
	bool freeing;			/* FREE in progress: invisible to lookups */
	atomic_uint gen;		/* bumped by STOP: cancels the running conversion */
	struct vd_accel_metadata meta;	/* the codec's metadata when the task finished */
};

/* An accelerator: a name and the codecs it offers. */
struct device {
	const char *name;
	const struct accel_codec_ops *const *codecs;
};

static const struct device devices[] = {
	{ "src", accel_src_codecs },
	{ "decode", accel_decode_codecs },
};
#define NUM_DEVICES (sizeof(devices) / sizeof(devices[0]))

struct session {
	struct vd_accel base;
	const struct device *dev;
	pthread_mutex_t lock;
	pthread_cond_t idle_cv;		/* FREE/reconfigure/close wait for the runner */
	enum vd_accel_session_state state;
	struct vd_accel_params params;
	const struct accel_codec_ops *cops;
	struct accel_codec *codec;
	uint32_t granule;		/* the codec's input granule (fixed per codec instance) */
	struct task *tasks;
	struct task started;		/* list head */
	/* The first ACTIVE task of the started list, or NULL. FINISHED tasks
	 * only ever precede ACTIVE ones there (tasks finish in START order, a
	 * START appends, STOP unlinks), so this is a cursor that advances as
	 * tasks finish, not a search. */
	struct task *first_active;
	/* seqno -> status page entry -> task; freed and reused seqnos leave
	 * the map at once */
	struct accel_seqmap seqs;
	struct task *by_slot[VD_PROTO_PAGE_ENTRIES];
	unsigned idle_waiters;		/* threads in pthread_cond_wait(idle_cv) */
	uint32_t total, active;
	uint64_t slots_used;		/* bit per status page entry */
	uint64_t page_dirty;		/* entries written but not yet committed (seq odd) */
	bool page_hdr_dirty;
	uint64_t last_seqno;
	bool busy;			/* a task is being converted */
	bool need_reset;		/* a cancelled task left the stream half-consumed */
	bool adjust_pending;
	double adjust;
	pthread_t worker;
	bool worker_started, worker_sleeping, quit;
	bool wake_pending;		/* the sleeping worker was signalled: one wake per sleep */
	atomic_uint queued;		/* bumped per queued START (and to wake): the worker's futex word */
	bool rd_in, rd_out;		/* readiness now, whether or not the fd shows it */
	atomic_uint wait_seq;		/* bumped when rd_in/rd_out change: vd_accel_wait()'s futex word */
	unsigned waiters;		/* threads asleep on wait_seq */
	unsigned wait_woken;		/* wait_seq when they were last woken */
	size_t inline_max;
	unsigned spin_us;
	int user_fd, eng_fd;
	unsigned fill_count;		/* datagrams that make the user end not writable */
	bool poll_in, out_blocked;
	char err[ERR_MAX];
	struct vd_accel_metadata meta;	/* after the latest finished task */
	struct vd_proto_page *page;	/* NULL until accel_engine_status_page() */
	int page_fd;
	/* the submission ring: set once by accel_engine_ring_attach(), under the lock */
	struct vd_proto_ring *ring;
	int ring_fd, kick_fd, notify_fd;
	int wake_fd;			/* ours alone: the client can read kick_fd empty */
	uint32_t ring_head;		/* our own: the shared head is only published */
	bool ring_failed;
	bool fd_lazy;			/* nobody can poll the fd (yet): do not maintain it */
	bool batching;			/* the worker is awake: tell a waiter when its queue is empty */
	int activity_fd;		/* the daemon's: written once per arming by a ringed START */
	bool activity_armed;
};

static struct session *S(struct vd_accel *a)
{
	return (struct session *)a;
}

static int seterr(struct session *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int seterr(struct session *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return code;
}

static void fill_caps(const struct device *dev, struct vd_accel_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	snprintf(caps->name, sizeof(caps->name), "%s", dev->name);
	for (uint32_t i = 0; dev->codecs[i] && i < 16; i++)
		caps->codecs[caps->num_codecs++] = dev->codecs[i]->id;
	caps->min_fragment_size = 1;
	caps->max_fragment_size = MAX_FRAGMENT_SIZE;
	caps->min_fragments = 1;
	caps->max_fragments = VD_ACCEL_MAX_TASKS;
}

static const struct accel_codec_ops *find_codec(const struct device *dev, uint32_t id)
{
	for (uint32_t i = 0; dev->codecs[i]; i++)
		if (dev->codecs[i]->id == id)
			return dev->codecs[i];
	return NULL;
}

/* What GET_METADATA reports for codecs without a stream of their own: the parameters. */
static void params_metadata(const struct vd_accel_params *p, struct vd_accel_metadata *md)
{
	memset(md, 0, sizeof(*md));
	md->codec = p->codec;
	md->flags = VD_ACCEL_META_VALID;
	md->rate = p->in.rate;
	md->channels = p->in.channels;
	md->decoded_format = p->in.format;
	md->out_format = p->out.format;
	md->out_rate = p->out.rate;
	md->out_channels = p->out.channels;
}

static void page_commit(struct session *s);
static void ring_notify(struct session *s);

/* ---- the session fd ---- */

static bool fd_writable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
}

/* What the datagrams carry does not matter; their presence does. */
static const char fill_bytes[1024];

/* Bring the readiness up to date (rd_in/rd_out, and the user end when it is
 * exact): a few syscalls, only on changes. POLLIN is raised last: it is what
 * wakes a poller, which then wants the lock we still hold. */
static void update_poll(struct session *s)
{
	bool want_in = s->state == VD_ACCEL_STATE_SETUP && s->started.s_next != &s->started &&
		       s->started.s_next->state == VD_ACCEL_TASK_FINISHED;
	bool want_out = s->state == VD_ACCEL_STATE_SETUP && s->active < s->params.fragments;
	char buf[sizeof(fill_bytes)];

	if (want_in != s->rd_in || want_out != s->rd_out) {
		s->rd_in = want_in;
		s->rd_out = want_out;
		atomic_fetch_add_explicit(&s->wait_seq, 1, memory_order_relaxed);
	}
	if (s->fd_lazy) {
		page_commit(s);
		ring_notify(s);
		return;
	}
	if (want_out == s->out_blocked) {
		if (want_out) {
			for (unsigned i = 0; i < s->fill_count; i++)
				(void)!recv(s->eng_fd, buf, sizeof(buf), MSG_DONTWAIT);
		} else {
			for (unsigned i = 0; i < s->fill_count; i++)
				(void)!send(s->user_fd, fill_bytes, sizeof(fill_bytes), MSG_DONTWAIT);
		}
		s->out_blocked = !want_out;
	}
	if (want_in != s->poll_in) {
		if (want_in)
			(void)!send(s->eng_fd, fill_bytes, 1, MSG_DONTWAIT);
		else
			(void)!recv(s->user_fd, buf, sizeof(buf), MSG_DONTWAIT);
		s->poll_in = want_in;
	}
	page_commit(s);
	ring_notify(s);
}

/* How many datagrams block POLLOUT on the user end (one, with the minimum send buffer). */
static int calibrate_fill(struct session *s)
{
	char buf[sizeof(fill_bytes)];

	s->fill_count = 0;
	while (fd_writable(s->user_fd)) {
		if (s->fill_count == 64 || send(s->user_fd, fill_bytes, sizeof(fill_bytes), MSG_DONTWAIT) < 0)
			return -EIO;
		s->fill_count++;
	}
	for (unsigned i = 0; i < s->fill_count; i++)
		(void)!recv(s->eng_fd, buf, sizeof(buf), MSG_DONTWAIT);
	return fd_writable(s->user_fd) ? 0 : -EIO;
}

/* ---- the status page ---- */

#define PSTORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELEASE)

/* Lock held. */
static void page_header(struct session *s)
{
	struct vd_proto_page *pg = s->page;
	uint32_t seq;

	if (!pg)
		return;
	seq = __atomic_load_n(&pg->seq, __ATOMIC_RELAXED) | 1;
	PSTORE(pg->seq, seq);
	PSTORE(pg->state, (uint32_t)s->state);
	PSTORE(pg->fragment_size, s->state == VD_ACCEL_STATE_SETUP ? s->params.fragment_size : 0);
	PSTORE(pg->granule, s->state == VD_ACCEL_STATE_SETUP ? s->granule : 0);
	PSTORE(pg->fragments, s->state == VD_ACCEL_STATE_SETUP ? s->params.fragments : 0);
	s->page_hdr_dirty = true;
}

/* Lock held. @t's entry as STATUS would report it, or unused once it is
 * being freed; it stays odd (readers wait) until page_commit(). */
static void page_task(struct session *s, const struct task *t)
{
	struct vd_proto_page_entry *e;
	uint32_t seq;

	if (!s->page)
		return;
	e = &s->page->e[t->slot];
	seq = __atomic_load_n(&e->seq, __ATOMIC_RELAXED) | 1;
	PSTORE(e->seq, seq);
	PSTORE(e->used, (uint8_t)!t->freeing);
	PSTORE(e->state, t->state);
	PSTORE(e->output_flags, t->output_flags);
	PSTORE(e->seqno, t->seqno);
	PSTORE(e->input_size, t->input_size);
	PSTORE(e->output_size, t->output_size);
	PSTORE(e->starts, t->starts);
	PSTORE(e->in_len, (uint64_t)t->in_len);
	s->page_dirty |= UINT64_C(1) << t->slot;
}

/* Lock held: publish what page_task()/page_header() wrote. Called once the
 * poll fd matches, so a reader never sees a status and a readiness that
 * in-process code, holding the lock, could not see together. */
static void page_commit(struct session *s)
{
	if (!s->page)
		return;
	if (s->page_hdr_dirty) {
		PSTORE(s->page->seq, __atomic_load_n(&s->page->seq, __ATOMIC_RELAXED) + 1);
		s->page_hdr_dirty = false;
	}
	while (s->page_dirty) {
		unsigned i = (unsigned)__builtin_ctzll(s->page_dirty);
		struct vd_proto_page_entry *e = &s->page->e[i];

		PSTORE(e->seq, __atomic_load_n(&e->seq, __ATOMIC_RELAXED) + 1);
		s->page_dirty &= s->page_dirty - 1;
	}
}

static int page_create(struct session *s)
{
	int fd = memfd_create("vd-accel-status", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *m;
	int res;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, VD_PROTO_PAGE_SIZE) < 0)
		goto fail;
	m = mmap(NULL, VD_PROTO_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (m == MAP_FAILED)
		goto fail;
	/* Readers get it read-only where the kernel can say so; never resizable,
	 * or a client could make our stores fault. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0 &&
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		res = -errno;
		munmap(m, VD_PROTO_PAGE_SIZE);
		close(fd);
		return res;
	}
	s->page = m;
	s->page_fd = fd;
	PSTORE(s->page->magic, VD_PROTO_PAGE_MAGIC);
	PSTORE(s->page->version, VD_PROTO_VERSION);
	PSTORE(s->page->entries, VD_PROTO_PAGE_ENTRIES);
	page_header(s);
	for (struct task *t = s->tasks; t; t = t->next)
		page_task(s, t);
	page_commit(s);
	return 0;
fail:
	res = -errno;
	close(fd);
	return res;
}

/* ---- task lists ---- */

static struct task *find(struct session *s, uint64_t seqno)
{
	int slot = accel_seqmap_get(&s->seqs, seqno);
	struct task *t = slot < 0 ? NULL : s->by_slot[slot];

	return t && !t->freeing ? t : NULL;
}

/* The ACTIVE task after @t in the started list, if any: only ACTIVE ones follow an ACTIVE one. */
static struct task *active_after(struct session *s, struct task *t)
{
	struct task *n = t->s_next;

	return n != &s->started && n->state == VD_ACCEL_TASK_ACTIVE ? n : NULL;
}

static void unlink_started(struct session *s, struct task *t)
{
	if (!t->s_next)
		return;
	if (s->first_active == t)
		s->first_active = active_after(s, t);
	t->s_prev->s_next = t->s_next;
	t->s_next->s_prev = t->s_prev;
	t->s_next = t->s_prev = NULL;
}

/* @t has just become ACTIVE: it goes last. */
static void append_started(struct session *s, struct task *t)
{
	unlink_started(s, t);
	t->s_prev = s->started.s_prev;
	t->s_next = &s->started;
	s->started.s_prev->s_next = t;
	s->started.s_prev = t;
	if (!s->first_active)
		s->first_active = t;
}

/* The next task to convert: tasks finish in START order, so it is the first ACTIVE one. */
static struct task *first_queued(struct session *s)
{
	struct task *t = s->first_active;

	return t && !t->running ? t : NULL;
}

/* ---- running tasks ---- */

/*
 * The worker sleeps on `queued` as a futex rather than on a condition
 * variable: a hand-off then costs one FUTEX_WAKE and one FUTEX_WAIT, where
 * glibc's condition variable measured three times as many futex calls per
 * task (bench_accel, strace -c). Every queued START bumps the word under
 * the lock; the worker reads it under the lock before it sleeps, so a bump
 * made after that makes its FUTEX_WAIT return at once.
 */
static void futex_wake_one(atomic_uint *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Lock held: whether threads asleep in vd_accel_wait() must be woken now.
 * Not while the worker is awake with tasks of the session still active:
 * it runs them all before it sleeps, and waking the waiter per task would
 * let it preempt the worker once per task on a shared core. */
static bool waiters_due(struct session *s)
{
	unsigned seq = atomic_load_explicit(&s->wait_seq, memory_order_relaxed);

	if (!s->waiters || seq == s->wait_woken || (s->batching && s->active))
		return false;
	s->wait_woken = seq;
	return true;
}

/* Every drop of the session lock goes through here: a waiter woken while
 * we still held the lock would only block on it again. */
static void unlock(struct session *s)
{
	bool wake = waiters_due(s);

	pthread_mutex_unlock(&s->lock);
	if (wake)
		syscall(SYS_futex, &s->wait_seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* With a ring the worker sleeps on the client's kick eventfd and on our own
 * wake eventfd; without one, on the futex. Our wake-ups (a START request,
 * close) never go through the kick eventfd: the client holds it too and
 * may read it empty before the worker sees it, and a close whose wake-up
 * was taken would wait for the worker forever, with the daemon's loop. */
static void signal_worker(struct session *s, bool ring)
{
	if (ring)
		(void)!eventfd_write(s->wake_fd, 1);
	else
		futex_wake_one(&s->queued);
}

static void kick_worker(struct session *s)
{
	atomic_fetch_add(&s->queued, 1);
	signal_worker(s, s->ring != NULL);
}

/* Lock held: entries the client published that we have not consumed. */
static bool ring_pending(struct session *s)
{
	return s->ring && !s->ring_failed &&
	       __atomic_load_n(&s->ring->tail, __ATOMIC_ACQUIRE) != s->ring_head;
}

/* Lock held; returns with it held, after a wake-up (or a spurious return). */
static void worker_sleep(struct session *s)
{
	unsigned q = atomic_load(&s->queued);

	if (s->ring) {
		struct pollfd p[2] = {
			{ .fd = s->kick_fd, .events = POLLIN },
			{ .fd = s->wake_fd, .events = POLLIN },
		};
		eventfd_t v;
		bool more;

		/* What was held back while we had work goes out now. */
		s->batching = false;
		ring_notify(s);
		/* Say we sleep, then look once more: a client that published
		 * after our look sees need_wakeup and kicks. */
		s->worker_sleeping = true;
		s->wake_pending = false;
		__atomic_store_n(&s->ring->need_wakeup, 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		more = ring_pending(s);
		unlock(s);
		if (!more) {
			while (poll(p, 2, -1) < 0 && errno == EINTR)
				;
			if (p[0].revents)
				(void)!eventfd_read(s->kick_fd, &v);
			if (p[1].revents)
				(void)!eventfd_read(s->wake_fd, &v);
		}
		pthread_mutex_lock(&s->lock);
		s->worker_sleeping = false;
		s->batching = true;
		__atomic_store_n(&s->ring->need_wakeup, 0, __ATOMIC_RELAXED);
		return;
	}

	s->batching = false;
	s->worker_sleeping = true;
	s->wake_pending = false;
	unlock(s);
	syscall(SYS_futex, &s->queued, FUTEX_WAIT_PRIVATE, q, NULL, NULL, 0);
	pthread_mutex_lock(&s->lock);
	s->worker_sleeping = false;
	s->batching = true;
}

/* Convert @t; called and returns with the lock held, drops it meanwhile. */
static void run_locked(struct session *s, struct task *t)
{
	unsigned gen = atomic_load(&t->gen);
	uint32_t flags = t->flags;
	struct accel_out out = { .data = t->out_map, .cap = t->out_len };
	bool reset = s->need_reset;
	bool new_stream = !reset && (flags & VD_ACCEL_TASK_NEW_STREAM);
	struct vd_accel_metadata meta;
	bool adjust = s->adjust_pending;
	double adjust_to = s->adjust;	/* set_adjust may change it while we convert */
	struct accel_codec *c = s->codec;
	const struct accel_codec_ops *ops = s->cops;
	size_t in_size = t->input_size;
	int res;

	s->busy = true;
	t->running = true;
	s->need_reset = false;
	s->adjust_pending = false;
	unlock(s);

	if (reset || (new_stream && !ops->new_stream))
		ops->reset(c);
	else if (new_stream)
		ops->new_stream(c);
	if (adjust && ops->set_adjust)
		ops->set_adjust(c, adjust_to);
	res = ops->process(c, t->in_map, in_size, &out, &t->gen, gen);
	if (res == 0 && (flags & VD_ACCEL_TASK_END_OF_STREAM))
		res = ops->drain(c, &out);
	if (ops->metadata)
		ops->metadata(c, &meta);

	pthread_mutex_lock(&s->lock);
	t->running = false;
	s->busy = false;
	if (res == -ECANCELED || atomic_load(&t->gen) != gen) {
		s->need_reset = true;
	} else {
		/* Codec errors (decoders: corrupt input) still finish the task
		 * with what was produced; PCM cannot fail here. */
		t->output_size = out.size;
		t->output_flags = out.flags;
		if (ops->metadata) {
			t->meta = meta;
			s->meta = meta;
		}
		if (s->first_active == t)
			s->first_active = active_after(s, t);
		t->state = VD_ACCEL_TASK_FINISHED;
		s->active--;
		page_task(s, t);
		update_poll(s);
	}
	if (s->idle_waiters)
		pthread_cond_broadcast(&s->idle_cv);
	if (first_queued(s) && s->worker_sleeping && !s->wake_pending) {
		s->wake_pending = true;
		kick_worker(s);
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool ring_consume(struct session *s, bool *signal);
static int stop_locked(struct session *s, uint64_t seqno);

static void *worker_main(void *arg)
{
	struct session *s = arg;
	struct task *t = NULL;
	bool ignored = false;

	pthread_mutex_lock(&s->lock);
	s->batching = true;
	for (;;) {
		bool spun = false;

		for (;;) {
			if (s->quit)
				break;
			ring_consume(s, &ignored);
			if (!s->busy && (t = first_queued(s)))
				break;
			if (s->spin_us && !s->busy && !spun) {
				/* Spinning briefly catches a START right after the
				 * last task without a futex wake-up on either side. */
				unsigned q = atomic_load(&s->queued);
				uint64_t end = now_ns() + (uint64_t)s->spin_us * 1000u;

				s->worker_sleeping = false;
				unlock(s);
				while (atomic_load_explicit(&s->queued, memory_order_relaxed) == q && now_ns() < end)
					__builtin_ia32_pause();
				pthread_mutex_lock(&s->lock);
				spun = true;
				continue;
			}
			worker_sleep(s);
		}
		if (s->quit)
			break;
		run_locked(s, t);
	}
	unlock(s);
	return NULL;
}

/* Make the worker look at the queue. *@signal: the caller must wake it
 * (futex_wake_one) once it has dropped the lock: a worker woken under the
 * lock would only block on it again. */
static int wake_worker(struct session *s, bool *signal)
{
	*signal = false;
	atomic_fetch_add(&s->queued, 1);
	if (!s->worker_started) {
		if (pthread_create(&s->worker, NULL, worker_main, s) != 0)
			return -EAGAIN;
		s->worker_started = true;
		/* No wake-up preemption (as for the ring worker below): a client that
		 * waits right after START takes its queued task itself, on its hot
		 * cache, instead of paying two context switches for it. */
		(void)pthread_setschedparam(s->worker, SCHED_BATCH, &(struct sched_param){ .sched_priority = 0 });
		return 0;
	}
	/* One wake per sleep of the worker: a client that runs its tasks itself
	 * in vd_accel_wait() STARTs many before the (SCHED_BATCH) worker gets
	 * to run, and each START would otherwise cost a FUTEX_WAKE. */
	*signal = s->worker_sleeping && !s->wake_pending;
	s->wake_pending |= *signal;
	return 0;
}

static void wait_released(struct session *s, struct task *t)
{
	while (t->running) {
		s->idle_waiters++;
		pthread_cond_wait(&s->idle_cv, &s->lock);
		s->idle_waiters--;
	}
}

/* ---- task buffers ---- */

static int new_memfd(const char *name, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
		int res = -errno;
		close(fd);
		return res;
	}
	return fd;
}

static void task_destroy(struct task *t)
{
	if (t->in_map && t->in_map != MAP_FAILED)
		munmap(t->in_map, t->in_len);
	if (t->out_map && t->out_map != MAP_FAILED)
		munmap(t->out_map, t->out_len);
	if (t->in_fd >= 0)
		close(t->in_fd);
	if (t->out_fd >= 0)
		close(t->out_fd);
	free(t);
}

static size_t out_size_for(struct session *s, const struct accel_codec *c, uint32_t fragment_size)
{
	uint64_t n = s->cops->max_output(c, fragment_size);

	return n ? (size_t)n : 1;
}

/* Grow a sealed memfd (shrinking is sealed off) and map it again. */
static int grow(int fd, uint8_t **map, size_t *len, size_t want, int prot)
{
	void *m;

	if (want <= *len)
		return 0;
	if (ftruncate(fd, (off_t)want) < 0)
		return -errno;
	m = mmap(NULL, want, prot, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	munmap(*map, *len);
	*map = m;
	*len = want;
	return 0;
}

/* ---- ops ---- */

static void e_close(struct vd_accel *a);
static int e_task_free(struct vd_accel *a, uint64_t seqno);

static int e_get_caps(struct vd_accel *a, struct vd_accel_caps *caps)
{
	fill_caps(S(a)->dev, caps);
	return 0;
}

static int e_get_codec_caps(struct vd_accel *a, uint32_t codec, struct vd_accel_codec_caps *caps)
{
	struct session *s = S(a);
	const struct accel_codec_ops *c = find_codec(s->dev, codec);

	if (!c) {
		pthread_mutex_lock(&s->lock);
		seterr(s, -EINVAL, "codec %u is not offered by accelerator \"%s\"", codec, s->dev->name);
		unlock(s);
		return -EINVAL;
	}
	c->caps(caps);
	return 0;
}

/* Validate @in into @p and a new codec instance; the lock is held (for the error text). */
static int prepare_params(struct session *s, const struct vd_accel_params *in, struct vd_accel_params *p,
			  const struct accel_codec_ops **cops, struct accel_codec **codec)
{
	char why[ERR_MAX];
	uint64_t out;
	int res;

	*p = *in;
	if (p->fragments < 1 || p->fragments > VD_ACCEL_MAX_TASKS)
		return seterr(s, -EINVAL, "fragments must be 1..%u (got %u)", VD_ACCEL_MAX_TASKS, p->fragments);
	if (p->fragment_size < 1 || p->fragment_size > MAX_FRAGMENT_SIZE)
		return seterr(s, -EINVAL, "fragment_size must be 1..%u bytes (got %u)", MAX_FRAGMENT_SIZE,
			      p->fragment_size);
	*cops = find_codec(s->dev, p->codec);
	if (!*cops)
		return seterr(s, -EINVAL, "codec %u is not offered by accelerator \"%s\"", p->codec, s->dev->name);
	(*cops)->normalize(p);
	why[0] = 0;
	res = (*cops)->init(p, codec, why, sizeof(why));
	if (res < 0)
		return seterr(s, res, "%s", why);
	if (p->fragment_size < (*cops)->input_granule(*codec)) {
		res = seterr(s, -EINVAL, "fragment_size %u is smaller than one input frame (%u bytes)",
			     p->fragment_size, (*cops)->input_granule(*codec));
		goto fail;
	}
	out = (*cops)->max_output(*codec, p->fragment_size);
	if (out > MAX_OUTPUT_SIZE) {
		res = seterr(s, -EINVAL, "the output buffer for fragment_size %u would be %llu bytes (limit %llu)",
			     p->fragment_size, (unsigned long long)out, (unsigned long long)MAX_OUTPUT_SIZE);
		goto fail;
	}
	return 0;
fail:
	(*cops)->destroy(*codec);
	*codec = NULL;
	return res;
}

/* Before any task finished: the parameters, or the codec's empty stream. Lock held, codec idle. */
static void initial_metadata(struct session *s)
{
	if (s->cops->metadata)
		s->cops->metadata(s->codec, &s->meta);
	else
		params_metadata(&s->params, &s->meta);
}

static int e_set_params(struct vd_accel *a, const struct vd_accel_params *in)
{
	struct session *s = S(a);
	struct vd_accel_params p;
	const struct accel_codec_ops *cops;
	struct accel_codec *codec;
	int res;

	pthread_mutex_lock(&s->lock);
	if (s->state != VD_ACCEL_STATE_OPEN) {
		res = seterr(s, -EPERM, "parameters are already set (use vd_accel_reconfigure in SETUP)");
		goto out;
	}
	res = prepare_params(s, in, &p, &cops, &codec);
	if (res < 0)
		goto out;
	s->params = p;
	s->cops = cops;
	s->codec = codec;
	s->granule = cops->input_granule(codec);
	s->state = VD_ACCEL_STATE_SETUP;
	initial_metadata(s);
	page_header(s);
	update_poll(s);
out:
	unlock(s);
	return res;
}

static int e_get_params(struct vd_accel *a, struct vd_accel_params *p)
{
	struct session *s = S(a);
	int res = 0;

	pthread_mutex_lock(&s->lock);
	if (s->state != VD_ACCEL_STATE_SETUP)
		res = seterr(s, -EPERM, "no parameters set yet (session is OPEN)");
	else
		*p = s->params;
	unlock(s);
	return res;
}

static enum vd_accel_session_state e_state(struct vd_accel *a)
{
	struct session *s = S(a);
	enum vd_accel_session_state st;

	pthread_mutex_lock(&s->lock);
	st = s->state;
	unlock(s);
	return st;
}

static int e_task_create(struct vd_accel *a, struct vd_accel_task *ut)
{
	struct session *s = S(a);
	struct task *t = NULL;
	int res, uin = -1, uout = -1;

	pthread_mutex_lock(&s->lock);
	if (s->state != VD_ACCEL_STATE_SETUP) {
		res = seterr(s, -EPERM, "CREATE needs parameters first (session is OPEN)");
		goto out;
	}
	if (ut->origin_seqno || ut->input_size) {
		res = seterr(s, -EINVAL, "CREATE takes origin_seqno 0 and input_size 0 (got %llu, %llu)",
			     (unsigned long long)ut->origin_seqno, (unsigned long long)ut->input_size);
		goto out;
	}
	if (s->total >= s->params.fragments) {
		res = seterr(s, -EBUSY, "task limit reached (%u tasks = fragments)", s->total);
		goto out;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		res = seterr(s, -ENOMEM, "out of memory");
		goto out;
	}
	t->in_fd = t->out_fd = -1;
	/* total < fragments <= 64 = entries: a free one exists */
	t->slot = (uint8_t)__builtin_ctzll(~s->slots_used);
	t->in_len = s->params.fragment_size;
	t->out_len = out_size_for(s, s->codec, s->params.fragment_size);
	if ((res = t->in_fd = new_memfd("vd-accel-in", t->in_len)) < 0 ||
	    (res = t->out_fd = new_memfd("vd-accel-out", t->out_len)) < 0) {
		seterr(s, res, "cannot allocate task buffers: %s", strerror(-res));
		goto out;
	}
	/* Populated here, once: the pages are allocated and mapped before the
	 * first task, not faulted in one by one while it converts. */
	t->in_map = mmap(NULL, t->in_len, PROT_READ, MAP_SHARED | MAP_POPULATE, t->in_fd, 0);
	t->out_map = mmap(NULL, t->out_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, t->out_fd, 0);
	if (t->in_map == MAP_FAILED || t->out_map == MAP_FAILED) {
		res = seterr(s, -errno, "cannot map task buffers: %s", strerror(errno));
		goto out;
	}
	/* The caller owns these copies: closing them early cannot hurt the task. */
	uin = fcntl(t->in_fd, F_DUPFD_CLOEXEC, 0);
	uout = uin < 0 ? -1 : fcntl(t->out_fd, F_DUPFD_CLOEXEC, 0);
	if (uin < 0 || uout < 0) {
		res = seterr(s, -errno, "cannot duplicate task fds: %s", strerror(errno));
		goto out;
	}
	if (++s->last_seqno == 0)
		++s->last_seqno;
	t->seqno = s->last_seqno;
	t->state = VD_ACCEL_TASK_IDLE;
	t->next = s->tasks;
	s->tasks = t;
	s->total++;
	s->slots_used |= UINT64_C(1) << t->slot;
	s->by_slot[t->slot] = t;
	accel_seqmap_put(&s->seqs, t->seqno, t->slot);
	page_task(s, t);
	page_commit(s);
	ut->seqno = t->seqno;
	ut->input_fd = uin;
	ut->output_fd = uout;
	t = NULL;
	uin = uout = -1;
	res = 0;
out:
	if (uin >= 0)
		close(uin);
	if (uout >= 0)
		close(uout);
	if (t)
		task_destroy(t);
	unlock(s);
	return res;
}

/* Lock held. START @ut. @from_ring: a ring entry, which the worker or the
 * event loop takes in a run: it never converts inline, and the caller
 * publishes the page and readiness once for the run (update_poll());
 * otherwise this thread may convert it at once. *@signal: the caller must
 * wake the worker once the lock is dropped. */
static int start_locked(struct session *s, struct vd_accel_task *ut, bool from_ring, bool *signal)
{
	struct task *t;
	int res = 0;

	if (s->state != VD_ACCEL_STATE_SETUP) {
		res = seterr(s, -EPERM, "START needs parameters first (session is OPEN)");
		goto out;
	}
	if (ut->origin_seqno) {
		t = find(s, ut->origin_seqno);
		if (!t) {
			res = seterr(s, -EINVAL, "no task %llu to reuse", (unsigned long long)ut->origin_seqno);
			goto out;
		}
		if (t->state == VD_ACCEL_TASK_ACTIVE) {
			res = seterr(s, -EBUSY, "task %llu is still active", (unsigned long long)t->seqno);
			goto out;
		}
	} else {
		t = find(s, ut->seqno);
		if (!t) {
			res = seterr(s, -EINVAL, "no task %llu", (unsigned long long)ut->seqno);
			goto out;
		}
		if (t->state != VD_ACCEL_TASK_IDLE) {
			res = seterr(s, -EBUSY, "task %llu is %s; reuse it with origin_seqno", (unsigned long long)t->seqno,
				     t->state == VD_ACCEL_TASK_ACTIVE ? "active" : "finished");
			goto out;
		}
	}
	if (ut->flags & ~(VD_ACCEL_TASK_NEW_STREAM | VD_ACCEL_TASK_END_OF_STREAM)) {
		res = seterr(s, -EINVAL, "unknown task flags 0x%x", ut->flags);
		goto out;
	}
	if (ut->input_size > s->params.fragment_size || ut->input_size > t->in_len) {
		res = seterr(s, -EINVAL, "input_size %llu exceeds the input buffer (%u bytes)",
			     (unsigned long long)ut->input_size, s->params.fragment_size);
		goto out;
	}
	if (ut->input_size % s->granule) {
		res = seterr(s, -EINVAL, "input_size %llu is not a whole number of %u-byte frames",
			     (unsigned long long)ut->input_size, s->granule);
		goto out;
	}
	if (ut->origin_seqno) {
		accel_seqmap_del(&s->seqs, t->seqno);
		if (++s->last_seqno == 0)
			++s->last_seqno;
		t->seqno = s->last_seqno;
		accel_seqmap_put(&s->seqs, t->seqno, t->slot);
		ut->origin_seqno = 0;
	}
	ut->seqno = t->seqno;
	t->input_size = ut->input_size;
	t->flags = ut->flags;
	t->output_size = 0;
	t->output_flags = 0;
	t->state = VD_ACCEL_TASK_ACTIVE;
	t->starts++;
	append_started(s, t);
	s->active++;
	/* before it may finish (inline, or on the worker once the lock drops) */
	page_task(s, t);
	if (!from_ring)
		page_commit(s);
	if (!from_ring && !s->busy && first_queued(s) == t && t->input_size <= s->inline_max) {
		/* The fd is brought up to date when the task finishes, a few
		 * microseconds from now: toggling it twice would cost more than
		 * the conversion. */
		run_locked(s, t);
	} else if ((res = wake_worker(s, signal)) < 0) {
		/* No thread to run it: undo, the task is IDLE again. */
		t->state = VD_ACCEL_TASK_IDLE;
		t->starts--;
		unlink_started(s, t);
		s->active--;
		page_task(s, t);
		seterr(s, res, "cannot start the session's worker thread");
	}
	if (!from_ring)
		update_poll(s);
out:
	return res;
}

static int e_task_start(struct vd_accel *a, struct vd_accel_task *ut)
{
	struct session *s = S(a);
	bool signal = false, ring;
	int res;

	pthread_mutex_lock(&s->lock);
	res = start_locked(s, ut, false, &signal);
	ring = s->ring != NULL;
	unlock(s);
	if (signal)
		signal_worker(s, ring);
	return res;
}

/* ---- the submission ring ---- */

/* Lock held: tell a client blocked in vd_accel_wait() that the page
 * changed. While the worker still has queued tasks the news waits until
 * it has run them all: a client with n tasks in flight then wakes once
 * per n tasks, not once per task (on a shared core, every wake-up of the
 * client preempts the worker). */
static void ring_notify(struct session *s)
{
	if (!s->ring || (s->batching && first_queued(s)))
		return;
	/* pairs with the client's fence between setting client_wait and reading the page */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&s->ring->client_wait, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&s->ring->client_wait, 0, __ATOMIC_SEQ_CST))
		(void)!eventfd_write(s->notify_fd, 1);
}

/* Lock held: the client's ring broke the protocol or a START in it was
 * refused. The session's ring is dead from now on; the reason goes to the
 * page (text first, then the errno that makes a reader look at it). */
static void ring_fail(struct session *s, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void ring_fail(struct session *s, int err, const char *fmt, ...)
{
	char msg[VD_PROTO_MAX_ERRMSG];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->ring_failed = true;
	for (size_t i = 0; i < sizeof(msg); i++)
		__atomic_store_n(&s->page->error_text[i], msg[i], __ATOMIC_RELAXED);
	__atomic_store_n(&s->page->error, err, __ATOMIC_RELEASE);
	(void)!eventfd_write(s->notify_fd, 1);
}

/* Lock held: run every START the client has published. Returns true when
 * it took entries; *@signal as for start_locked(). */
static bool ring_consume(struct session *s, bool *signal)
{
	struct vd_proto_ring *r = s->ring;
	uint32_t tail, start_head;

	if (!r || s->ring_failed)
		return false;
	start_head = s->ring_head;
	tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	for (;;) {
		struct vd_accel_task t;
		const char *why;
		bool sig = false;
		uint32_t op;
		int res = vd_proto_ring_fetch(r, s->ring_head, tail, &op, &t, &why);

		if (res == 0)
			break;
		if (res < 0) {
			ring_fail(s, res, "ring entry %u: %s", s->ring_head, why);
			break;
		}
		s->ring_head++;
		if (op == VD_PROTO_RING_OP_STOP) {
			res = stop_locked(s, t.seqno);
		} else {
			res = start_locked(s, &t, true, &sig);
			*signal |= sig;
		}
		if (res < 0) {
			/* the client names the operation from the prefix */
			ring_fail(s, res, "%s%s", op == VD_PROTO_RING_OP_STOP ? "STOP: " : "", s->err);
			break;
		}
	}
	if (s->ring_head == start_head)
		return false;
	/* the STARTs' entries and readiness, then head: a client that sees
	 * head past an entry finds its effect in the page */
	update_poll(s);
	__atomic_store_n(&r->head, s->ring_head, __ATOMIC_RELEASE);
	if (s->activity_armed) {
		s->activity_armed = false;
		(void)!eventfd_write(s->activity_fd, 1);
	}
	return true;
}

static void stop_one(struct session *s, struct task *t)
{
	if (t->state == VD_ACCEL_TASK_ACTIVE) {
		atomic_fetch_add(&t->gen, 1);
		s->active--;
		t->output_size = 0;
		t->output_flags = 0;
	} else if (t->state != VD_ACCEL_TASK_FINISHED) {
		return;
	}
	/* FINISHED -> IDLE keeps output_size: clients written for the i.MX
	 * driver call START, STOP, then STATUS. */
	t->state = VD_ACCEL_TASK_IDLE;
	unlink_started(s, t);
	page_task(s, t);
}

/* Lock held: STOP @seqno (0: every task), from a request or the ring. */
static int stop_locked(struct session *s, uint64_t seqno)
{
	int res = 0;

	if (s->state != VD_ACCEL_STATE_SETUP) {
		res = seterr(s, -EPERM, "STOP needs parameters first (session is OPEN)");
	} else if (seqno == 0) {
		for (struct task *t = s->tasks; t; t = t->next)
			if (!t->freeing)
				stop_one(s, t);
	} else {
		struct task *t = find(s, seqno);
		if (!t)
			res = seterr(s, -EINVAL, "no task %llu", (unsigned long long)seqno);
		else
			stop_one(s, t);
	}
	update_poll(s);
	return res;
}

static int e_task_stop(struct vd_accel *a, uint64_t seqno)
{
	struct session *s = S(a);
	int res;

	pthread_mutex_lock(&s->lock);
	res = stop_locked(s, seqno);
	unlock(s);
	return res;
}

/* Stop, wait for the runner to let go, unlink and destroy. Lock held. */
static void free_one(struct session *s, struct task *t)
{
	struct task **pp;

	t->freeing = true;
	accel_seqmap_del(&s->seqs, t->seqno);
	stop_one(s, t);
	wait_released(s, t);
	for (pp = &s->tasks; *pp != t; pp = &(*pp)->next)
		;
	*pp = t->next;
	s->total--;
	s->slots_used &= ~(UINT64_C(1) << t->slot);
	s->by_slot[t->slot] = NULL;
	page_task(s, t);	/* freeing: the entry is unused from now on */
	task_destroy(t);
}

static int e_task_free(struct vd_accel *a, uint64_t seqno)
{
	struct session *s = S(a);
	int res = 0;

	pthread_mutex_lock(&s->lock);
	if (s->state != VD_ACCEL_STATE_SETUP) {
		res = seterr(s, -EPERM, "FREE needs parameters first (session is OPEN)");
	} else if (seqno == 0) {
		/* Restart the walk after every free: waiting drops the lock. */
		for (;;) {
			struct task *t = s->tasks;
			while (t && t->freeing)
				t = t->next;
			if (!t)
				break;
			free_one(s, t);
		}
	} else {
		struct task *t = find(s, seqno);
		if (!t)
			res = seterr(s, -EINVAL, "no task %llu", (unsigned long long)seqno);
		else
			free_one(s, t);
	}
	update_poll(s);
	unlock(s);
	return res;
}

static int e_task_status(struct vd_accel *a, struct vd_accel_task_status *st)
{
	struct session *s = S(a);
	uint64_t seqno = st->seqno;
	struct task *t;
	int res = 0;

	pthread_mutex_lock(&s->lock);
	if (s->state != VD_ACCEL_STATE_SETUP) {
		res = seterr(s, -EPERM, "STATUS needs parameters first (session is OPEN)");
	} else if (!(t = find(s, seqno))) {
		res = seterr(s, -EINVAL, "no task %llu", (unsigned long long)seqno);
	} else {
		memset(st, 0, sizeof(*st));
		st->seqno = seqno;
		st->input_size = t->input_size;
		st->output_size = t->output_size;
		st->output_flags = t->output_flags;
		st->state = t->state;
	}
	unlock(s);
	return res;
}

/* The fd is kept exact from the first call on (a ring's fd is the
 * daemon's business: accel_engine_ring_sync()). */
static int e_fd(struct vd_accel *a)
{
	struct session *s = S(a);

	pthread_mutex_lock(&s->lock);
	if (s->fd_lazy && !s->ring) {
		s->fd_lazy = false;
		update_poll(s);
	}
	unlock(s);
	return s->user_fd;
}

/* The events of @events that are ready now (lock held). */
static short ready_events(const struct session *s, short events)
{
	short r = 0;

	if ((events & POLLIN) && s->rd_in)
		r |= POLLIN;
	if ((events & POLLOUT) && s->rd_out)
		r |= POLLOUT;
	return r;
}

/*
 * Never polls the fd (it may be lazy, and a poll() is a system call even
 * when the answer is known): readiness is read under the lock, and a caller
 * that must block sleeps on wait_seq, which update_poll() bumps on every
 * change of readiness and unlock() wakes.
 */
static int e_wait(struct vd_accel *a, short events, int timeout_ms)
{
	struct session *s = S(a);
	uint64_t deadline = timeout_ms > 0 ? now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
	int res;

	pthread_mutex_lock(&s->lock);
	if (s->state != VD_ACCEL_STATE_SETUP) {
		res = seterr(s, -EPERM, "nothing to wait for: no parameters set (session is OPEN)");
		unlock(s);
		return res;
	}
	for (;;) {
		struct timespec ts, *tsp = NULL;
		struct task *t;
		unsigned seq;

		if ((res = ready_events(s, events)) || timeout_ms == 0)
			break;
		/* A caller that would block until the oldest task finishes runs
		 * it itself if no runner has taken it yet: its input is hot in
		 * this thread's cache, and nobody has to be woken for it (the
		 * worker, if already signalled, finds the session busy). Only an
		 * unbounded wait does: a conversion may outlast a timeout. */
		if ((events & POLLIN) && timeout_ms < 0 && !s->busy && (t = first_queued(s)) &&
		    t == s->started.s_next) {
			run_locked(s, t);
			continue;
		}
		if (timeout_ms > 0) {
			uint64_t n = now_ns(), left;

			if (n >= deadline)
				break;
			left = deadline - n;
			ts.tv_sec = (time_t)(left / 1000000000u);
			ts.tv_nsec = (long)(left % 1000000000u);
			tsp = &ts;
		}
		seq = atomic_load_explicit(&s->wait_seq, memory_order_relaxed);
		s->waiters++;
		unlock(s);
		/* A change made after we read seq makes this return at once. */
		syscall(SYS_futex, &s->wait_seq, FUTEX_WAIT_PRIVATE, seq, tsp, NULL, 0);
		pthread_mutex_lock(&s->lock);
		s->waiters--;
	}
	unlock(s);
	return res;
}

static int e_reconfigure(struct vd_accel *a, const struct vd_accel_params *in)
{
	struct session *s = S(a);
	struct vd_accel_params p;
	const struct accel_codec_ops *cops;
	struct accel_codec *codec = NULL;
	size_t out_len;
	int res;

	pthread_mutex_lock(&s->lock);
	if (s->state != VD_ACCEL_STATE_SETUP) {
		res = seterr(s, -EPERM, "reconfigure needs a configured session (use set_params in OPEN)");
		goto out;
	}
	if (s->active) {
		res = seterr(s, -EBUSY, "%u task(s) still active; stop them or wait", s->active);
		goto out;
	}
	res = prepare_params(s, in, &p, &cops, &codec);
	if (res < 0)
		goto out;
	if (p.fragments < s->total) {
		res = seterr(s, -EBUSY, "fragments %u is below the %u tasks allocated; free some first",
			     p.fragments, s->total);
		goto out;
	}
	/* A stopped task may still be leaving its last chunk. */
	while (s->busy) {
		s->idle_waiters++;
		pthread_cond_wait(&s->idle_cv, &s->lock);
		s->idle_waiters--;
	}
	if (s->active) {
		res = seterr(s, -EBUSY, "%u task(s) became active meanwhile", s->active);
		goto out;
	}
	out_len = cops->max_output(codec, p.fragment_size);
	for (struct task *t = s->tasks; t; t = t->next) {
		if ((res = grow(t->in_fd, &t->in_map, &t->in_len, p.fragment_size, PROT_READ)) < 0 ||
		    (res = grow(t->out_fd, &t->out_map, &t->out_len, out_len, PROT_READ | PROT_WRITE)) < 0) {
			seterr(s, res, "cannot resize task buffers: %s", strerror(-res));
			goto out;
		}
	}
	s->cops->destroy(s->codec);
	s->codec = codec;
	s->cops = cops;
	s->granule = cops->input_granule(codec);
	codec = NULL;
	s->params = p;
	initial_metadata(s);
	s->need_reset = false;
	s->adjust_pending = false;
	s->adjust = 1.0;
	page_header(s);
	for (struct task *t = s->tasks; t; t = t->next)
		page_task(s, t);
	update_poll(s);
out:
	if (codec)
		cops->destroy(codec);
	unlock(s);
	return res;
}

static int e_set_adjust(struct vd_accel *a, double adjust)
{
	struct session *s = S(a);
	int res = 0;

	pthread_mutex_lock(&s->lock);
	if (s->state != VD_ACCEL_STATE_SETUP)
		res = seterr(s, -EPERM, "set_adjust needs parameters first (session is OPEN)");
	else if (!(adjust >= 0.98 && adjust <= 1.02))
		res = seterr(s, -EINVAL, "adjust must be within [0.98, 1.02] (got %g)", adjust);
	else if (!s->cops->set_adjust || s->params.in.rate == s->params.out.rate)
		res = seterr(s, -EOPNOTSUPP, "drift correction needs a rate-converting session (%u Hz -> %u Hz)",
			     s->params.in.rate, s->params.out.rate);
	else if (s->busy) {
		/* The runner owns the codec; it applies this before the next task. */
		s->adjust = adjust;
		s->adjust_pending = true;
	} else {
		res = s->cops->set_adjust(s->codec, adjust);
		if (res < 0)
			seterr(s, res, "the codec refused adjust %g", adjust);
		else
			s->adjust = adjust;
	}
	unlock(s);
	return res;
}

static int e_get_metadata(struct vd_accel *a, uint64_t seqno, struct vd_accel_metadata *md)
{
	struct session *s = S(a);
	struct task *t;
	int res = 0;

	pthread_mutex_lock(&s->lock);
	if (s->state != VD_ACCEL_STATE_SETUP) {
		res = seterr(s, -EPERM, "GET_METADATA needs parameters first (session is OPEN)");
	} else if (!seqno) {
		*md = s->meta;
	} else if (!(t = find(s, seqno))) {
		res = seterr(s, -EINVAL, "no task %llu", (unsigned long long)seqno);
	} else if (t->state != VD_ACCEL_TASK_FINISHED) {
		res = seterr(s, -EBUSY, "task %llu is not finished", (unsigned long long)seqno);
	} else if (s->cops->metadata) {
		*md = t->meta;
	} else {
		params_metadata(&s->params, md);
	}
	unlock(s);
	return res;
}

static void e_last_error(struct vd_accel *a, char *buf, size_t size)
{
	struct session *s = S(a);

	pthread_mutex_lock(&s->lock);
	snprintf(buf, size, "%s", s->err);
	unlock(s);
}

static const struct accel_backend_ops engine_ops = {
	.close = e_close,
	.get_caps = e_get_caps,
	.get_codec_caps = e_get_codec_caps,
	.set_params = e_set_params,
	.get_params = e_get_params,
	.state = e_state,
	.task_create = e_task_create,
	.task_start = e_task_start,
	.task_stop = e_task_stop,
	.task_free = e_task_free,
	.task_status = e_task_status,
	.fd = e_fd,
	.wait = e_wait,
	.reconfigure = e_reconfigure,
	.set_adjust = e_set_adjust,
	.get_metadata = e_get_metadata,
	.last_error = e_last_error,
};

static void e_close(struct vd_accel *a)
{
	struct session *s = S(a);

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct task *t = s->tasks;
		while (t && t->freeing)
			t = t->next;
		if (!t)
			break;
		free_one(s, t);
	}
	s->quit = true;
	kick_worker(s);
	unlock(s);
	if (s->worker_started)
		pthread_join(s->worker, NULL);
	if (s->ring) {
		munmap(s->ring, VD_PROTO_RING_SIZE);
		close(s->ring_fd);
		close(s->kick_fd);
		close(s->notify_fd);
		close(s->wake_fd);
	}
	if (s->codec)
		s->cops->destroy(s->codec);
	close(s->user_fd);
	close(s->eng_fd);
	if (s->page) {
		munmap(s->page, VD_PROTO_PAGE_SIZE);
		close(s->page_fd);
	}
	pthread_cond_destroy(&s->idle_cv);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static unsigned env_uint(const char *name, unsigned def)
{
	const char *v = getenv(name);
	char *end;
	unsigned long n;

	if (!v || !*v)
		return def;
	n = strtoul(v, &end, 10);
	return *end ? def : (unsigned)n;
}

int accel_engine_list(struct vd_accel_caps *caps, uint32_t max)
{
	for (uint32_t i = 0; caps && i < max && i < NUM_DEVICES; i++)
		fill_caps(&devices[i], &caps[i]);
	return (int)NUM_DEVICES;
}

int accel_engine_open(const char *name, struct vd_accel **out)
{
	struct session *s;
	const struct device *dev = NULL;
	int sv[2], one = 1;

	for (size_t i = 0; i < NUM_DEVICES; i++)
		if (strcmp(name, devices[i].name) == 0)
			dev = &devices[i];
	if (!dev)
		return -ENOENT;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dev = dev;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		int res = -errno;
		free(s);
		return res;
	}
	/* The smallest send buffer: one datagram is enough to block POLLOUT. */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
	s->base.ops = &engine_ops;
	s->page_fd = -1;
	s->ring_fd = s->kick_fd = s->notify_fd = s->wake_fd = -1;
	s->user_fd = sv[0];
	s->eng_fd = sv[1];
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle_cv, NULL);
	s->state = VD_ACCEL_STATE_OPEN;
	s->started.s_next = s->started.s_prev = &s->started;
	s->adjust = 1.0;
	s->inline_max = env_uint("VD_ACCEL_INLINE_MAX", DEFAULT_INLINE_MAX);
	s->spin_us = env_uint("VD_ACCEL_SPIN_US", 0);
	/* Nobody can poll the fd before vd_accel_fd() hands it out, so keeping
	 * it exact (a send or recv per change of readiness) waits until then. */
	s->fd_lazy = true;
	if (calibrate_fill(s) < 0) {
		e_close(&s->base);
		return -EIO;
	}
	pthread_mutex_lock(&s->lock);
	update_poll(s);
	unlock(s);
	*out = &s->base;
	return 0;
}

int accel_engine_status_page(struct vd_accel *a)
{
	struct session *s = S(a);
	int res = 0, fd;

	if (a->ops != &engine_ops)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&s->lock);
	if (!s->page)
		res = page_create(s);
	fd = res < 0 ? res : fcntl(s->page_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0 && res == 0)
		res = -errno;
	unlock(s);
	return res < 0 ? res : fd;
}

/* A memfd of @size bytes, mapped read-write here, sealed against resizing. */
static int shared_memfd(const char *name, size_t size, void **map)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int res;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	*map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (*map == MAP_FAILED)
		goto fail;
	return fd;
fail:
	res = -errno;
	close(fd);
	return res;
}

int accel_engine_ring_attach(struct vd_accel *a, int fds[3], int activity_fd)
{
	struct session *s = S(a);
	struct vd_proto_ring *r = NULL;
	int res = 0, rfd = -1, kfd = -1, nfd = -1, wfd = -1;

	if (a->ops != &engine_ops)
		return -EOPNOTSUPP;
	fds[0] = fds[1] = fds[2] = -1;
	pthread_mutex_lock(&s->lock);
	if (s->ring) {
		res = seterr(s, -EBUSY, "the session already has a submission ring");
		goto out;
	}
	if (!s->page && (res = page_create(s)) < 0) {
		seterr(s, res, "cannot create the status page: %s", strerror(-res));
		goto out;
	}
	rfd = shared_memfd("vd-accel-ring", VD_PROTO_RING_SIZE, (void **)&r);
	kfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	nfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	wfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rfd < 0 || kfd < 0 || nfd < 0 || wfd < 0) {
		res = rfd < 0 ? rfd : -errno;
		seterr(s, res, "cannot create the submission ring: %s", strerror(-res));
		goto out;
	}
	for (int i = 0; i < 3; i++) {
		fds[i] = fcntl(i == 0 ? rfd : i == 1 ? kfd : nfd, F_DUPFD_CLOEXEC, 0);
		if (fds[i] < 0) {
			res = seterr(s, -errno, "cannot duplicate the ring's fds: %s", strerror(errno));
			goto out;
		}
	}
	__atomic_store_n(&r->magic, VD_PROTO_RING_MAGIC, __ATOMIC_RELAXED);
	__atomic_store_n(&r->version, VD_PROTO_RING_VERSION, __ATOMIC_RELAXED);
	__atomic_store_n(&r->size, VD_PROTO_RING_ENTRIES, __ATOMIC_RELAXED);
	__atomic_store_n(&r->features, VD_PROTO_RING_F_STOP, __ATOMIC_RELAXED);
	/* The worker consumes the ring, so it must exist before the first entry. */
	if (!s->worker_started) {
		if (pthread_create(&s->worker, NULL, worker_main, s) != 0) {
			res = seterr(s, -EAGAIN, "cannot start the session's worker thread");
			goto out;
		}
		s->worker_started = true;
	}
	s->ring = r;
	s->ring_fd = rfd;
	s->kick_fd = kfd;
	s->notify_fd = nfd;
	s->wake_fd = wfd;
	s->fd_lazy = true;
	/* Batch work: a kick wakes the worker without preempting the client
	 * on a shared core (CFS does not preempt for a waking SCHED_BATCH
	 * thread), so a client STARTing several tasks in a row usually
	 * finishes before the worker takes them all at once. */
	(void)pthread_setschedparam(s->worker, SCHED_BATCH, &(struct sched_param){ .sched_priority = 0 });
	s->activity_fd = activity_fd;
	s->activity_armed = activity_fd >= 0;
	r = NULL;
	rfd = kfd = nfd = wfd = -1;
	/* a worker asleep on the futex looks again, and sleeps on the kick fd */
	atomic_fetch_add(&s->queued, 1);
	futex_wake_one(&s->queued);
out:
	unlock(s);
	if (r)
		munmap(r, VD_PROTO_RING_SIZE);
	if (rfd >= 0)
		close(rfd);
	if (kfd >= 0)
		close(kfd);
	if (nfd >= 0)
		close(nfd);
	if (wfd >= 0)
		close(wfd);
	if (res < 0)
		for (int i = 0; i < 3; i++)
			if (fds[i] >= 0) {
				close(fds[i]);
				fds[i] = -1;
			}
	return res;
}

int accel_engine_ring_sync(struct vd_accel *a, int exact)
{
	struct session *s = S(a);
	bool signal = false, ring;

	if (a->ops != &engine_ops)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&s->lock);
	ring = s->ring != NULL;
	if (ring) {
		ring_consume(s, &signal);
		if (exact >= 0 && s->fd_lazy != !exact) {
			s->fd_lazy = !exact;
			update_poll(s);
		}
	}
	unlock(s);
	if (signal)
		signal_worker(s, true);
	return 0;
}

void accel_engine_ring_arm(struct vd_accel *a)
{
	struct session *s = S(a);

	if (a->ops != &engine_ops)
		return;
	pthread_mutex_lock(&s->lock);
	s->activity_armed = s->ring && s->activity_fd >= 0;
	unlock(s);
}

int accel_engine_task_slot(struct vd_accel *a, uint64_t seqno)
{
	struct session *s = S(a);
	struct task *t;
	int res;

	if (a->ops != &engine_ops)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&s->lock);
	t = find(s, seqno);
	res = t ? t->slot : -EINVAL;
	unlock(s);
	return res;
}

uint64_t accel_engine_slot_seqno(struct vd_accel *a, unsigned slot)
{
	struct session *s = S(a);
	uint64_t seqno = 0;

	if (a->ops != &engine_ops)
		return 0;
	pthread_mutex_lock(&s->lock);
	if (slot < VD_PROTO_PAGE_ENTRIES && s->by_slot[slot] && !s->by_slot[slot]->freeing)
		seqno = s->by_slot[slot]->seqno;
	unlock(s);
	return seqno;
}
