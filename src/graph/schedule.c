/* graph/schedule.c - running a prepared graph: the per-cycle step shared by the
 * offline runner and real-time drivers, and the offline runner itself. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include <virtdsp/convert.h>

#include "graph-impl.h"

/* Bound on process() calls per node per cycle; progress normally stops far sooner. */
#define MAX_CALLS_PER_CYCLE 64

static void compact(struct glink *l)
{
	if (l->rd == 0)
		return;
	uint32_t n = l->wr - l->rd;
	if (n)
		memmove(l->buf, l->buf + (size_t)l->rd * l->frame_size, (size_t)n * l->frame_size);
	l->rd = 0;
	l->wr = n;
}

static void sink_stats(struct vd_graph *g, struct gnode *n, const struct glink *l, uint32_t frames)
{
	const uint8_t *p = l->buf + (size_t)l->rd * l->frame_size;
	uint32_t ch = l->fmt.channels;

	n->frames_in += frames;
	if (!g->collect_stats || !g->scratch)
		return;
	while (frames) {
		uint32_t chunk = frames < g->scratch_frames ? frames : g->scratch_frames;
		vd_convert_to_f32(g->scratch, l->fmt.format, p, (size_t)chunk * ch);
		for (uint32_t i = 0; i < chunk; i++)
			for (uint32_t c = 0; c < ch; c++) {
				float v = fabsf(g->scratch[i * ch + c]);
				if (v > n->peak[c])
					n->peak[c] = v;
			}
		p += (size_t)chunk * l->frame_size;
		frames -= chunk;
	}
}

/* Run one node until it stops making progress. Returns 1 if it made any, 0, or -errno. */
static int run_node(struct vd_graph *g, struct gnode *n)
{
	bool source = n->n_in == 0;
	int progressed = 0;

	if (n->finished)
		return 0;
	for (int call = 0; call < MAX_CALLS_PER_CYCLE; call++) {
		bool any_input = false, all_in_eos = n->n_in > 0;
		bool room = n->n_out == 0;

		for (uint32_t p = 0; p < n->n_in; p++) {
			struct glink *l = n->in[p];
			n->inb[p].data = l->buf + (size_t)l->rd * l->frame_size;
			n->inb[p].frames = l->wr - l->rd;
			n->inb[p].flags = l->eos ? VD_BUFFER_EOS : 0;
			if (n->inb[p].frames || l->eos)
				any_input = true;
			if (!l->eos || n->inb[p].frames)
				all_in_eos = false;
		}
		for (uint32_t p = 0; p < n->n_out; p++) {
			struct glink *l = n->out[p];
			compact(l);
			n->outb[p].data = l->buf + (size_t)l->wr * l->frame_size;
			n->outb[p].frames = l->capacity - l->wr;
			/* A source produces one period per cycle: that is what makes a cycle a period. */
			if (source && n->outb[p].frames > n->period)
				n->outb[p].frames = n->period;
			/* A run's max_seconds ends a source on the exact frame, not at a period's end. */
			if (source && n->frame_limit && n->outb[p].frames > n->frame_limit - n->frames_out)
				n->outb[p].frames = (uint32_t)(n->frame_limit - n->frames_out);
			n->outb[p].flags = 0;
			if (n->outb[p].frames)
				room = true;
		}
		if (!source && !any_input)
			break;
		if (!room)
			break;

		uint32_t avail[n->n_in + 1];
		for (uint32_t p = 0; p < n->n_in; p++)
			avail[p] = n->inb[p].frames;
		int r = n->ops->process(n->self, n->inb, n->n_in, n->outb, n->n_out);
		if (r < 0)
			return r;

		bool moved = false, all_out_eos = n->n_out > 0;
		for (uint32_t p = 0; p < n->n_in; p++) {
			struct glink *l = n->in[p];
			uint32_t used = n->inb[p].frames;
			if (used > avail[p])
				used = avail[p]; /* a node claiming more than it got is clamped, not trusted */
			if (n->n_out == 0 && used)
				sink_stats(g, n, l, used);
			l->rd += used;
			if (used)
				moved = true;
		}
		for (uint32_t p = 0; p < n->n_out; p++) {
			struct glink *l = n->out[p];
			uint32_t made = n->outb[p].frames;
			if (made > l->capacity - l->wr)
				made = l->capacity - l->wr;
			l->wr += made;
			if (source)
				n->frames_out += made;
			if (made)
				moved = true;
			if (n->outb[p].flags & VD_BUFFER_EOS)
				l->eos = true;
			if (!l->eos)
				all_out_eos = false;
		}
		if (moved)
			progressed = 1;
		if (n->n_out && all_out_eos)
			n->finished = true;
		/* A sink is done once it has seen every input end and drained it. */
		if (n->n_out == 0 && all_in_eos)
			n->finished = true;
		if (n->n_out == 0 && !n->finished) {
			bool done = true;
			for (uint32_t p = 0; p < n->n_in; p++)
				if (!n->in[p]->eos || n->in[p]->rd != n->in[p]->wr)
					done = false;
			if (done)
				n->finished = true;
		}
		if (n->finished || source || !moved)
			break;
	}
	return progressed;
}

static int cycle(struct vd_graph *g, bool *progress)
{
	bool done = true;

	*progress = false;
	vd_graph_apply_params(g);
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		struct gnode *n = g->nodes[i];
		int r = run_node(g, n);
		if (r < 0)
			return r;
		if (r > 0)
			*progress = true;
		/* A sink whose input has ended gets one more call to finish (flush files). */
		if (!n->finished && n->n_out == 0) {
			bool ended = true;
			for (uint32_t p = 0; p < n->n_in; p++)
				if (!n->in[p]->eos || n->in[p]->rd != n->in[p]->wr)
					ended = false;
			if (ended) {
				r = run_node(g, n);
				if (r < 0)
					return r;
				n->finished = true;
			}
		}
		if (n->n_out == 0 && !n->finished)
			done = false;
	}
	return done ? 1 : 0;
}

int vd_graph_cycle(struct vd_graph *g)
{
	bool progress;

	if (!g->prepared)
		return -EBADFD;
	return cycle(g, &progress);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Frames produced so far and in all by the user's sources (total -1 if any is endless
 * and has no frame limit). */
static void source_progress(const struct vd_graph *g, int64_t *done, int64_t *total)
{
	*done = 0;
	*total = 0;
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		const struct gnode *n = g->nodes[i];
		if (n->n_in != 0 || n->inserted)
			continue;
		int64_t t = n->ops->total_frames ? n->ops->total_frames(n->self) : -1;
		if (n->frame_limit && (t < 0 || (uint64_t)t > n->frame_limit))
			t = (int64_t)n->frame_limit;
		*done += (int64_t)n->frames_out;
		if (t < 0 || *total < 0)
			*total = -1;
		else
			*total += t;
	}
}

/* Give every source the frame count @limit_s seconds makes at its rate (0: no limit). */
static void limit_sources(struct vd_graph *g, double limit_s)
{
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		struct gnode *n = g->nodes[i];
		n->frame_limit = 0;
		if (limit_s > 0 && n->n_in == 0 && n->n_out && n->out[0]->fmt.rate) {
			double f = round(limit_s * n->out[0]->fmt.rate);
			/* at least one frame, so a limit never reads as "none" */
			n->frame_limit = f < 1 ? 1 : f > 0x1p62 ? (uint64_t)1 << 62 : (uint64_t)f;
		}
	}
}

/* End every source that has produced its frame limit: its links get EOS. */
static void end_sources(struct vd_graph *g)
{
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		struct gnode *n = g->nodes[i];
		if (n->n_in != 0 || n->finished || !n->frame_limit || n->frames_out < n->frame_limit)
			continue;
		for (uint32_t p = 0; p < n->n_out; p++)
			n->out[p]->eos = true;
		n->finished = true;
	}
}

/* Stop request: every source still running ends where it stands. */
static void stop_sources(struct vd_graph *g)
{
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		struct gnode *n = g->nodes[i];
		if (n->n_in != 0 || n->finished)
			continue;
		for (uint32_t p = 0; p < n->n_out; p++)
			n->out[p]->eos = true;
		n->finished = true;
	}
}

const char *vd_graph_endless_source(const struct vd_graph *g)
{
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		const struct gnode *n = g->nodes[i];
		if (n->n_in == 0 && (!n->ops->total_frames || n->ops->total_frames(n->self) < 0))
			return n->name;
	}
	return NULL;
}

static int run_offline(struct vd_graph *g, const struct vd_run_options *opts,
		       struct vd_run_stats *stats, struct vd_error *err)
{
	vd_progress_fn progress = opts ? opts->progress : NULL;
	void *data = opts ? opts->data : NULL;
	double t0 = now();
	uint64_t idle = 0, cycles;
	int (*stop)(void *) = opts ? opts->stop : NULL;
	bool stopped = false;
	int64_t done, total;
	int r;

	if (stats)
		memset(stats, 0, sizeof(*stats));
	for (cycles = 1;; cycles++) {
		bool moved;
		end_sources(g);
		r = cycle(g, &moved);
		if (r < 0)
			return vd_error_set(err, r, NULL, "processing failed: %s", strerror(-r));
		if (progress && (cycles & 63) == 0) {
			source_progress(g, &done, &total);
			progress(data, done, total);
		}
		if (stop && !stopped && (cycles & 63) == 0 && stop(data)) {
			stop_sources(g);
			stopped = true;
		}
		if (r == 1)
			break;
		idle = moved ? 0 : idle + 1;
		if (idle > 2) {
			/* Nothing moved for several cycles and not finished: a node is stuck.
			 * Name the first unfinished one instead of spinning forever. */
			for (uint32_t i = 0; i < g->n_nodes; i++) {
				struct gnode *n = g->nodes[i];
				if (!n->finished)
					return vd_error_set(err, -EIO, &n->loc,
							    "processing stalled: %s '%s' makes no progress",
							    n->ops->type, n->name);
			}
			return vd_error_set(err, -EIO, NULL, "processing stalled");
		}
	}
	source_progress(g, &done, &total);
	if (progress)
		progress(data, done, total < 0 ? done : total);
	if (stats) {
		stats->cycles = cycles;
		stats->stopped = stopped;
		stats->seconds = now() - t0;
		stats->source_frames = (uint64_t)done;
		for (uint32_t i = 0; i < g->n_nodes; i++) {
			struct gnode *n = g->nodes[i];
			if (n->n_out == 0 && n->n_in && n->in[0]->fmt.rate) {
				double s = (double)n->frames_in / n->in[0]->fmt.rate;
				if (s > stats->audio_seconds)
					stats->audio_seconds = s;
			}
		}
	}
	return 0;
}

int vd_graph_run(struct vd_graph *g, const struct vd_run_options *opts,
		 struct vd_run_stats *stats, struct vd_error *err)
{
	if (!g->prepared)
		return vd_error_set(err, -EBADFD, NULL, "the graph is not prepared");
	limit_sources(g, opts ? opts->max_seconds : 0);
	int r = run_offline(g, opts, stats, err);
	/* The limit belongs to this run; real-time drivers cycle the graph without one. */
	limit_sources(g, 0);
	return r;
}

void vd_graph_reset(struct vd_graph *g)
{
	struct param_msg m;

	while (vd_ring_read(&g->param_ring, &m, sizeof(m)) == sizeof(m))
		;
	for (uint32_t i = 0; i < g->n_links; i++) {
		g->links[i]->rd = g->links[i]->wr = 0;
		g->links[i]->eos = false;
	}
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		struct gnode *n = g->nodes[i];
		n->finished = false;
		n->frames_in = 0;
		n->frames_out = 0;
		memset(n->peak, 0, sizeof(n->peak));
		if (n->ops->reset)
			n->ops->reset(n->self);
	}
}
