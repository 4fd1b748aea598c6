/* endpoint/bus.c - attach-point buses: feeds connected to a live attach point,
 * adopted lock-free at cycle boundaries, mixed (playback) or fanned out (capture). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <virtdsp/attach.h>

#include "endpoint/endpoint.h"

struct vd_feed {
	struct vd_attach *bus;
	struct vd_feed_ops ops;
	void *data;
};

/* A set of feeds. Two are preallocated per bus and used alternately: the
 * control side fills the one the processing thread is not using, publishes
 * it, and waits until it has been adopted before the other may be rewritten. */
struct feed_set {
	uint64_t gen;
	uint32_t n;
	struct vd_feed *f[VD_ATTACH_MAX_FEEDS];
};

struct vd_attach {
	enum vd_attach_direction dir;
	struct vd_audio_format fmt;	/* f32, the point's rate and channels */
	uint32_t period;
	float *tmp;			/* one pull, max_frames */
	uint32_t max_frames;
	const _Atomic bool *running;	/* the graph's "a scheduler thread drives me" flag */
	pthread_mutex_t lock;		/* control threads only: serialises set changes */
	bool stuck;			/* a publish was never adopted: the spare set may be in use */
	struct feed_set sets[2];
	_Atomic(struct feed_set *) current;
	_Atomic uint64_t seen_gen;	/* generation the processing thread last adopted */
};

int vd_attach_bus_new(enum vd_attach_direction dir, const struct vd_audio_format *fmt,
		      uint32_t period, struct vd_attach **out)
{
	struct vd_attach *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->dir = dir;
	b->fmt = *fmt;
	b->fmt.format = VD_FORMAT_F32;
	b->period = period ? period : 1024;
	pthread_mutex_init(&b->lock, NULL);
	atomic_init(&b->current, &b->sets[0]);
	*out = b;
	return 0;
}

int vd_attach_bus_prepare(struct vd_attach *b, uint32_t max_frames)
{
	float *t = calloc((size_t)max_frames * b->fmt.channels, sizeof(float));

	if (!t)
		return -ENOMEM;
	free(b->tmp);
	b->tmp = t;
	b->max_frames = max_frames;
	return 0;
}

void vd_attach_bus_free(struct vd_attach *b)
{
	if (!b)
		return;
	struct feed_set *s = atomic_load(&b->current);
	/* Feeds still connected are freed by their owners' disconnect; the graph is
	 * going away, so no processing thread can call them any more. */
	for (uint32_t i = 0; i < s->n; i++)
		s->f[i]->bus = NULL;
	pthread_mutex_destroy(&b->lock);
	free(b->tmp);
	free(b);
}

void vd_attach_bus_bind(struct vd_attach *b, const _Atomic bool *running)
{
	b->running = running;
}

/* Processing thread, at the start of a cycle's work on this bus. */
static const struct feed_set *adopt(struct vd_attach *b)
{
	struct feed_set *s = atomic_load_explicit(&b->current, memory_order_acquire);

	if (atomic_load_explicit(&b->seen_gen, memory_order_relaxed) != s->gen)
		atomic_store_explicit(&b->seen_gen, s->gen, memory_order_release);
	return s;
}

void vd_attach_bus_pull(struct vd_attach *b, float *out, uint32_t frames)
{
	const struct feed_set *s = adopt(b);
	uint32_t ch = b->fmt.channels;

	memset(out, 0, (size_t)frames * ch * sizeof(float));
	for (uint32_t i = 0; i < s->n; i++) {
		struct vd_feed *f = s->f[i];
		for (uint32_t done = 0; done < frames;) {
			uint32_t c = frames - done < b->max_frames ? frames - done : b->max_frames;
			f->ops.pull(f->data, b->tmp, c);
			float *o = out + (size_t)done * ch;
			for (size_t k = 0; k < (size_t)c * ch; k++)
				o[k] += b->tmp[k];
			done += c;
		}
	}
}

void vd_attach_bus_push(struct vd_attach *b, const float *in, uint32_t frames)
{
	const struct feed_set *s = adopt(b);

	for (uint32_t i = 0; i < s->n; i++)
		s->f[i]->ops.push(s->f[i]->data, in, frames);
}

/* Wait until the processing thread has adopted generation @gen (or does not run). */
static bool adopted(struct vd_attach *b, uint64_t gen)
{
	struct timespec ts = { 0, 100000 };

	for (int i = 0; i < 20000; i++) {
		if (!b->running || !atomic_load(b->running) ||
		    atomic_load_explicit(&b->seen_gen, memory_order_acquire) >= gen)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/* Under b->lock: the set that is safe to rewrite, or NULL if the processing thread
 * never adopted the last one (it is stuck: nothing can be changed safely). */
static struct feed_set *spare(struct vd_attach *b)
{
	struct feed_set *cur = atomic_load(&b->current);

	if (b->stuck) {
		if (!adopted(b, cur->gen))
			return NULL;
		b->stuck = false;
	}
	return cur == &b->sets[0] ? &b->sets[1] : &b->sets[0];
}

/* Under b->lock: make @next current; true once no processing thread can use the old one. */
static bool publish(struct vd_attach *b, struct feed_set *next)
{
	struct feed_set *cur = atomic_load(&b->current);

	next->gen = cur->gen + 1;
	atomic_store_explicit(&b->current, next, memory_order_release);
	if (!b->running || !atomic_load(b->running)) {
		/* Not running: whoever cycles the graph does it from this thread. */
		atomic_store(&b->seen_gen, next->gen);
		return true;
	}
	if (adopted(b, next->gen))
		return true;
	b->stuck = true;
	return false;
}

int vd_attach_connect(struct vd_attach *b, const struct vd_feed_ops *ops, void *data,
		      struct vd_feed **out)
{
	struct vd_feed *f;
	struct feed_set *cur, *next;
	int r = 0;

	if ((b->dir == VD_ATTACH_PLAYBACK && !ops->pull) || (b->dir == VD_ATTACH_CAPTURE && !ops->push))
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->bus = b;
	f->ops = *ops;
	f->data = data;
	pthread_mutex_lock(&b->lock);
	cur = atomic_load(&b->current);
	next = spare(b);
	if (!next) {
		r = -EBUSY;
	} else if (cur->n >= VD_ATTACH_MAX_FEEDS) {
		r = -ENOSPC;
	} else {
		memcpy(next->f, cur->f, cur->n * sizeof(*cur->f));
		next->f[cur->n] = f;
		next->n = cur->n + 1;
		publish(b, next);
		*out = f;
		f = NULL;
	}
	pthread_mutex_unlock(&b->lock);
	free(f);
	return r;
}

void vd_attach_disconnect(struct vd_feed *f)
{
	struct vd_attach *b;
	struct feed_set *cur, *next;
	bool safe = false;

	if (!f)
		return;
	b = f->bus;
	if (!b) {	/* the bus went away with its graph */
		free(f);
		return;
	}
	pthread_mutex_lock(&b->lock);
	cur = atomic_load(&b->current);
	next = spare(b);
	if (next) {
		next->n = 0;
		for (uint32_t i = 0; i < cur->n; i++)
			if (cur->f[i] != f)
				next->f[next->n++] = cur->f[i];
		safe = publish(b, next);
	}
	pthread_mutex_unlock(&b->lock);
	/* A processing thread that never reached a cycle boundary might still call
	 * the feed: leaking it is the only safe choice then. */
	if (safe)
		free(f);
}

enum vd_attach_direction vd_attach_direction(const struct vd_attach *a)
{
	return a->dir;
}

const struct vd_audio_format *vd_attach_format(const struct vd_attach *a)
{
	return &a->fmt;
}

uint32_t vd_attach_period(const struct vd_attach *a)
{
	return a->period;
}

