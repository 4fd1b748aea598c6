/* graph/sched_rt.c - the period-clocked real-time driver of a graph. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <virtdsp/sched.h>

#include "graph-impl.h"

#define PREFAULT_STACK (64 * 1024)

struct vd_rt_sched {
	struct vd_graph *g;
	struct vd_rt_config cfg;
	pthread_t thread;
	_Atomic bool stop;
	_Atomic bool done;
	pthread_mutex_t lock;	/* only for the finished condition, never taken by the RT loop while processing */
	pthread_cond_t cond;
	_Atomic uint64_t cycles, late, max_cycle_ns, max_wake_late_ns;
	_Atomic int error;
	_Atomic bool realtime;
	_Atomic bool finished;
};

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return ts_ns(&t);
}

static void atomic_max(_Atomic uint64_t *a, uint64_t v)
{
	uint64_t cur = atomic_load_explicit(a, memory_order_relaxed);

	while (v > cur && !atomic_compare_exchange_weak(a, &cur, v))
		;
}

/* Touch the stack the cycles will use now, so that a first deep call path never
 * takes a page fault inside a period. */
static void __attribute__((noinline)) prefault_stack(void)
{
	volatile unsigned char area[PREFAULT_STACK];

	for (size_t i = 0; i < sizeof(area); i += 4096)
		area[i] = 0;
}

static void *rt_thread(void *arg)
{
	struct vd_rt_sched *s = arg;
	uint64_t period = s->cfg.period_ns, next;

	if (s->cfg.priority > 0) {
		struct sched_param sp = { .sched_priority = s->cfg.priority };
		int policy;

		/* "granted" only when the kernel reports the policy in force, not just a 0 return */
		if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0 &&
		    pthread_getschedparam(pthread_self(), &policy, &sp) == 0 && policy == SCHED_FIFO &&
		    sp.sched_priority == s->cfg.priority)
			atomic_store(&s->realtime, true);
	}
	prefault_stack();
	next = mono_ns();
	while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
		uint64_t start = mono_ns();
		if (start > next)
			atomic_max(&s->max_wake_late_ns, start - next);
		int r = vd_graph_cycle(s->g);
		uint64_t end = mono_ns();
		atomic_max(&s->max_cycle_ns, end - start);
		atomic_fetch_add(&s->cycles, 1);
		if (r < 0) {
			atomic_store(&s->error, r);
			break;
		}
		if (r == 1) {
			atomic_store(&s->finished, true);
			if (s->cfg.stop_at_end)
				break;
		}
		next += period;
		if (end > next)
			atomic_fetch_add(&s->late, 1);
		/* More than two periods behind: re-base rather than run a burst of cycles. */
		if (end > next + 2 * period)
			next = end;
		struct timespec ts = { .tv_sec = (time_t)(next / 1000000000ull), .tv_nsec = (long)(next % 1000000000ull) };
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
	atomic_store(&s->g->running, false);
	pthread_mutex_lock(&s->lock);
	atomic_store(&s->done, true);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int vd_rt_sched_start(struct vd_graph *g, const struct vd_rt_config *cfg, struct vd_rt_sched **out)
{
	struct vd_rt_sched *s;
	int r;

	if (!g->prepared || !cfg || cfg->period_ns < 100000 || cfg->period_ns > 10000000000ull)
		return -EINVAL;
	if (atomic_load(&g->running))
		return -EBUSY;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->g = g;
	s->cfg = *cfg;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	atomic_store(&g->running, true);
	r = pthread_create(&s->thread, NULL, rt_thread, s);
	if (r != 0) {
		atomic_store(&g->running, false);
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cond);
		free(s);
		return -r;
	}
	*out = s;
	return 0;
}

int vd_rt_sched_wait(struct vd_rt_sched *s, int timeout_ms)
{
	struct timespec ts;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (timeout_ms >= 0) {
		ts.tv_sec += timeout_ms / 1000;
		ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
	}
	pthread_mutex_lock(&s->lock);
	while (!atomic_load(&s->done) && r == 0)
		r = timeout_ms < 0 ? pthread_cond_wait(&s->cond, &s->lock)
				   : pthread_cond_timedwait(&s->cond, &s->lock, &ts);
	pthread_mutex_unlock(&s->lock);
	return atomic_load(&s->done) ? 0 : -ETIMEDOUT;
}

void vd_rt_sched_stats(struct vd_rt_sched *s, struct vd_rt_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->cycles = atomic_load(&s->cycles);
	st->late = atomic_load(&s->late);
	st->max_cycle_ns = atomic_load(&s->max_cycle_ns);
	st->max_wake_late_ns = atomic_load(&s->max_wake_late_ns);
	st->finished = atomic_load(&s->finished);
	st->realtime = atomic_load(&s->realtime);
	st->error = atomic_load(&s->error);
}

void vd_rt_sched_stop(struct vd_rt_sched *s, struct vd_rt_stats *st)
{
	if (!s)
		return;
	atomic_store_explicit(&s->stop, true, memory_order_release);
	pthread_join(s->thread, NULL);
	if (st)
		vd_rt_sched_stats(s, st);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}
