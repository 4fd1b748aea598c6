/* daemon/host.c - the host graph of `virtdsp serve`: topology (a file or the
 * built-in one), live build, the real-time period from its attach points,
 * the scheduler thread that drives it, and its endpoints' connection state
 * with the attach points each one is heard through (see host.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <virtdsp/attach.h>

#include "daemon/host.h"
#include "endpoint/endpoint.h"
#include "graph/graph-impl.h"

#define MAX_POINTS 64
#define MAX_ENDPOINTS 64	/* a point's endpoints are a bit mask */

/* The built-in host topology, in three parts so that the capture source can
 * be a file instead of the tone; HOST_HEAD TONE TAIL is the shipped text. */
#define HOST_HEAD \
	"# virtdsp serve's built-in host topology (used when no --host-topology is\n" \
	"# given): what the guests' default topology (examples/guest-default.topo)\n" \
	"# connects to. Every guest's playback is mixed into one 16-bit WAV file\n" \
	"# (--output FILE; a machine without sound hardware needs nothing else), and\n" \
	"# every guest records the same host signal: a 440 Hz tone at -20 dBFS, or a\n" \
	"# file (--capture-file FILE).\n" \
	"#\n" \
	"# The 2 ms period is the real-time scheduler's: a guest's tx period completes\n" \
	"# at the host cycle that plays its last frame, so a short host period keeps\n" \
	"# completions of any guest period of 2 ms or more one period apart\n" \
	"# (docs/serve.md, \"Timing\").\n" \
	"#\n" \
	"#   virtdsp serve --guest vm1=/tmp/vm1.sock --output mix.wav\n" \
	"pipeline host {\n" \
	"    rate = 48000\n" \
	"    period = 2ms\n" \
	"\n" \
	"    attach playback playback { channels = 2 }\n" \
	"    sink   out      file     { path = \"" VD_HOST_DEFAULT_OUTPUT "\"; format = s16 }\n" \
	"    link playback -> out\n" \
	"\n"
#define HOST_TONE \
	"    node   in       tone     { wave = sine; freq = 440Hz; level = -20dB; channels = 2 }\n"
#define HOST_FILE \
	"    source in       file     { path = \"capture.wav\"; loop = true }\n"
#define HOST_FILE_ONCE \
	"    source in       file     { path = \"capture.wav\" }\n"
#define HOST_TAIL \
	"    attach capture  capture  { channels = 2 }\n" \
	"    link in -> capture\n" \
	"}\n"

struct point {
	const char *name;		/* the topology's string */
	bool capture;
	uint64_t endpoints;		/* bit i: endpoints[i] is fed by / feeds this point */
};

struct endpoint {
	const char *name;		/* the graph node's */
	struct vd_endpoint_conn *conn;	/* in the node's state */
	bool seen;			/* the state listeners were last told */
	struct vd_alsa_jack *jack;	/* ALSA jack controls followed, or NULL */
	struct vd_loop_watch *watch;
};

struct listener {
	vd_host_conn_fn fn;
	void *data;
};

struct vd_host {
	struct vd_topology *t;
	struct vd_graph *g;
	struct vd_rt_sched *sched;
	struct vd_rt_stats last;	/* counters of every stopped scheduler, summed */
	bool suspended;			/* devices closed; the thread restarts on resume */
	bool run_on_resume;		/* the thread was running when suspended */
	/* the power hooks' */
	void (*power_log)(void *data, const char *line);
	void (*power_changed)(void *data, const struct vd_power_status *st);
	void *power_data;
	int rt_priority;
	uint64_t period_ns;
	uint32_t period_frames, rate;
	size_t n_points;
	struct point points[MAX_POINTS];
	size_t n_endpoints;
	struct endpoint endpoints[MAX_ENDPOINTS];
	int notify_fd;			/* eventfd the endpoints signal on a change */
	struct vd_loop_watch *notify_watch;
	struct listener *listeners;
	size_t n_listeners;
	void (*log)(void *data, const char *line);
	void *log_data;
};

const char *vd_host_default_topology(void)
{
	return HOST_HEAD HOST_TONE HOST_TAIL;
}

static int find_period(struct vd_host *h, char *err, size_t errsz)
{
	const char *first = NULL;

	for (size_t i = 0; i < vd_topology_object_count(h->t); i++) {
		struct vd_topology_object o;
		struct vd_attach *a;

		if (vd_topology_object(h->t, i, &o) < 0 || o.kind != VD_TOPO_ATTACH)
			continue;
		if (h->n_points == MAX_POINTS) {
			snprintf(err, errsz, "more than %d attach points", MAX_POINTS);
			return -EINVAL;
		}
		if (vd_graph_attach(h->g, o.name, &a) < 0) {
			/* with a path it is a file stand-in, not a bus (virtdsp run's --input) */
			snprintf(err, errsz, "attach point '%s' is not live (does it have a path?)", o.name);
			return -EINVAL;
		}
		uint32_t rate = vd_attach_format(a)->rate, frames = vd_attach_period(a);
		uint64_t ns = (uint64_t)frames * 1000000000ull / rate;

		if (!first) {
			first = o.name;
			h->period_ns = ns;
			h->period_frames = frames;
			h->rate = rate;
		} else if ((uint64_t)frames * h->rate != (uint64_t)h->period_frames * rate) {
			/* one scheduler clocks the whole graph: pipelines must share a period in time */
			snprintf(err, errsz, "attach points '%s' (%u frames at %u Hz) and '%s' (%u frames at "
				 "%u Hz) have periods of different lengths; give their pipelines the same period "
				 "in time", first, h->period_frames, h->rate, o.name, frames, rate);
			return -EINVAL;
		}
		h->points[h->n_points].name = o.name;
		h->points[h->n_points].capture = vd_attach_direction(a) == VD_ATTACH_CAPTURE;
		h->n_points++;
	}
	if (!first) {
		snprintf(err, errsz, "the host topology has no attach point: guests could not connect to anything");
		return -EINVAL;
	}
	if (h->period_ns < 100000 || h->period_ns > 1000000000ull) {
		snprintf(err, errsz, "the host period (%u frames at %u Hz) must be between 0.1 ms and 1 s",
			 h->period_frames, h->rate);
		return -EINVAL;
	}
	return 0;
}

/* Every endpoint of the graph, and for each attach point the endpoints its
 * audio reaches (playback: downstream) or comes from (capture: upstream),
 * through whatever nodes lie between. */
static int find_endpoints(struct vd_host *h, char *err, size_t errsz)
{
	struct vd_graph *g = h->g;
	struct gnode **stack = calloc(g->n_nodes ? g->n_nodes : 1, sizeof(*stack));

	if (!stack) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		struct vd_endpoint_conn *c = vd_endpoint_conn_of(g->nodes[i]->ops, g->nodes[i]->self);

		if (!c)
			continue;
		if (h->n_endpoints == MAX_ENDPOINTS) {
			free(stack);
			snprintf(err, errsz, "more than %d endpoints in the host topology", MAX_ENDPOINTS);
			return -EINVAL;
		}
		h->endpoints[h->n_endpoints].name = g->nodes[i]->name;
		h->endpoints[h->n_endpoints].conn = c;
		h->endpoints[h->n_endpoints].seen = vd_endpoint_conn_get(c);
		vd_endpoint_conn_bind(c, h->notify_fd);
		h->n_endpoints++;
	}
	for (size_t p = 0; p < h->n_points; p++) {
		struct point *pt = &h->points[p];
		size_t top = 0;

		for (uint32_t i = 0; i < g->n_nodes; i++)
			g->nodes[i]->visited = false;
		stack[top++] = vd_graph_find(g, pt->name);
		stack[0]->visited = true;
		while (top) {
			struct gnode *n = stack[--top];
			uint32_t nl = pt->capture ? n->n_in : n->n_out;

			for (size_t e = 0; e < h->n_endpoints; e++)
				if (h->endpoints[e].conn == vd_endpoint_conn_of(n->ops, n->self))
					pt->endpoints |= 1ull << e;
			for (uint32_t l = 0; l < nl; l++) {
				struct glink *lk = pt->capture ? n->in[l] : n->out[l];
				struct gnode *next = !lk ? NULL : pt->capture ? lk->from : lk->to;

				if (next && !next->visited) {
					next->visited = true;
					stack[top++] = next;
				}
			}
		}
	}
	free(stack);
	return 0;
}

int vd_host_new(const struct vd_host_options *opts, struct vd_host **out, struct vd_diag *diag,
		char *err, size_t errsz)
{
	struct vd_host *h = calloc(1, sizeof(*h));
	const char *name = opts->topology ? opts->topology : "built-in host topology";
	int r;

	err[0] = '\0';
	if (!h) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	h->rt_priority = opts->rt_priority;
	h->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->notify_fd < 0) {
		r = -errno;
		snprintf(err, errsz, "eventfd: %s", strerror(-r));
		goto fail;
	}
	if (opts->topology && opts->capture_file) {
		snprintf(err, errsz, "--capture-file is for the built-in host topology; in %s, give the "
			 "capture source's path with --input NAME=FILE", opts->topology);
		r = -EINVAL;
		goto fail;
	}
	if (opts->topology) {
		r = vd_topology_load_file(opts->topology, &h->t, diag);
	} else {
		const char *text = !opts->capture_file ? HOST_HEAD HOST_TONE HOST_TAIL
				   : opts->capture_once ? HOST_HEAD HOST_FILE_ONCE HOST_TAIL
				   : HOST_HEAD HOST_FILE HOST_TAIL;

		r = vd_topology_load_string(text, strlen(text), "built-in host topology", &h->t, diag);
		if (r == 0 && opts->capture_file)
			r = vd_topology_set_path(h->t, "in", opts->capture_file);
	}
	if (r < 0) {
		if (diag->count == 0)
			snprintf(err, errsz, "cannot load %s: %s", name, strerror(-r));
		goto fail;
	}
	for (size_t i = 0; i < opts->n_paths; i++) {
		r = vd_topology_set_path(h->t, opts->paths[i].name, opts->paths[i].path);
		if (r < 0) {
			snprintf(err, errsz, "%s has no source, sink or attach point called '%s'", name,
				 opts->paths[i].name);
			goto fail;
		}
	}
	r = vd_graph_new(&h->g);
	if (r < 0) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	vd_graph_set_live(h->g, true);
	r = vd_topology_build(h->t, h->g, diag);
	if (r < 0) {
		if (diag->count == 0)
			snprintf(err, errsz, "cannot build %s: %s", name, strerror(-r));
		goto fail;
	}
	r = find_period(h, err, errsz);
	if (r == 0)
		r = find_endpoints(h, err, errsz);
	if (r < 0)
		goto fail;
	*out = h;
	return 0;
fail:
	vd_host_free(h);
	return r;
}

static int start_thread(struct vd_host *h)
{
	struct vd_rt_config cfg = {
		.period_ns = h->period_ns,
		.priority = h->rt_priority,
		.stop_at_end = false,	/* a live graph serves guests until the daemon ends */
	};

	if (h->sched)
		return -EBUSY;
	return vd_rt_sched_start(h->g, &cfg, &h->sched);
}

int vd_host_start(struct vd_host *h)
{
	if (h->suspended) {
		/* resume starts it, with its devices open */
		h->run_on_resume = true;
		return 0;
	}
	return start_thread(h);
}

/* A resumed scheduler counts from zero: fold a stopped one's counters into the total. */
static void add_stats(struct vd_rt_stats *sum, const struct vd_rt_stats *st)
{
	sum->cycles += st->cycles;
	sum->late += st->late;
	if (st->max_cycle_ns > sum->max_cycle_ns)
		sum->max_cycle_ns = st->max_cycle_ns;
	if (st->max_wake_late_ns > sum->max_wake_late_ns)
		sum->max_wake_late_ns = st->max_wake_late_ns;
	sum->finished = st->finished;
	sum->realtime = st->realtime;
	if (!sum->error)
		sum->error = st->error;
}

void vd_host_stop(struct vd_host *h)
{
	struct vd_rt_stats st;

	h->run_on_resume = false;
	if (!h->sched)
		return;
	vd_rt_sched_stop(h->sched, &st);
	h->sched = NULL;
	add_stats(&h->last, &st);
}

static bool is_alsa(const struct gnode *n)
{
	return n->ops == &vd_node_alsa_sink || n->ops == &vd_node_alsa_source;
}

int vd_host_suspend(struct vd_host *h)
{
	if (h->suspended)
		return 0;
	bool running = h->sched != NULL;

	/* the thread first: nothing may process a node whose device is closed */
	vd_host_stop(h);
	h->run_on_resume = running;
	for (uint32_t i = 0; i < h->g->n_nodes; i++)
		if (is_alsa(h->g->nodes[i]))
			vd_endpoint_alsa_close(h->g->nodes[i]->self);
	h->suspended = true;
	return 0;
}

int vd_host_resume(struct vd_host *h, char *err, size_t errsz)
{
	struct vd_error e;
	int r;

	if (!h->suspended)
		return 0;
	for (uint32_t i = 0; i < h->g->n_nodes; i++) {
		if (!is_alsa(h->g->nodes[i]))
			continue;
		vd_error_clear(&e);
		r = vd_endpoint_alsa_reopen(h->g->nodes[i]->self, &e);
		if (r < 0) {
			vd_error_format(&e, err, errsz);
			/* all or nothing: a half-open host stays suspended */
			for (uint32_t k = 0; k < i; k++)
				if (is_alsa(h->g->nodes[k]))
					vd_endpoint_alsa_close(h->g->nodes[k]->self);
			return r;
		}
	}
	if (h->run_on_resume) {
		r = start_thread(h);
		if (r < 0) {
			snprintf(err, errsz, "cannot restart the processing thread: %s", strerror(-r));
			for (uint32_t i = 0; i < h->g->n_nodes; i++)
				if (is_alsa(h->g->nodes[i]))
					vd_endpoint_alsa_close(h->g->nodes[i]->self);
			return r;
		}
	}
	h->suspended = false;
	return 0;
}

bool vd_host_suspended(const struct vd_host *h)
{
	return h->suspended;
}

static int hook_suspend(void *data)
{
	return vd_host_suspend(data);
}

static int hook_resume(void *data)
{
	struct vd_host *h = data;
	char err[512], line[600];
	int r = vd_host_resume(h, err, sizeof(err));

	if (r < 0 && h->power_log) {
		snprintf(line, sizeof(line), "power: cannot resume the host: %s", err);
		h->power_log(h->power_data, line);
	}
	return r;
}

static void hook_changed(void *data, const struct vd_power_status *st)
{
	struct vd_host *h = data;

	if (h->power_changed)
		h->power_changed(h->power_data, st);
}

void vd_host_power_hooks(struct vd_host *h, void (*log)(void *data, const char *line),
			 void (*changed)(void *data, const struct vd_power_status *st), void *data,
			 struct vd_power_hooks *hooks)
{
	h->power_log = log;
	h->power_changed = changed;
	h->power_data = data;
	hooks->suspend = hook_suspend;
	hooks->resume = hook_resume;
	hooks->changed = hook_changed;
	hooks->data = h;
}

void vd_host_free(struct vd_host *h)
{
	if (!h)
		return;
	vd_host_stop(h);
	for (size_t i = 0; i < h->n_endpoints; i++) {
		vd_loop_remove(h->endpoints[i].watch);
		vd_alsa_jack_close(h->endpoints[i].jack);
	}
	vd_loop_remove(h->notify_watch);
	/* the graph first: it borrows the topology's strings, and freeing it finalises the files */
	vd_graph_free(h->g);
	vd_topology_free(h->t);
	if (h->notify_fd >= 0)
		close(h->notify_fd);
	free(h->listeners);
	free(h);
}

struct vd_graph *vd_host_graph(struct vd_host *h)
{
	return h->g;
}

uint64_t vd_host_period_ns(const struct vd_host *h)
{
	return h->period_ns;
}

uint32_t vd_host_period_frames(const struct vd_host *h)
{
	return h->period_frames;
}

uint32_t vd_host_rate(const struct vd_host *h)
{
	return h->rate;
}

size_t vd_host_attach_count(const struct vd_host *h)
{
	return h->n_points;
}

const char *vd_host_attach_name(const struct vd_host *h, size_t i, bool *capture)
{
	if (i >= h->n_points)
		return NULL;
	if (capture)
		*capture = h->points[i].capture;
	return h->points[i].name;
}

void vd_host_sched_stats(struct vd_host *h, struct vd_rt_stats *st)
{
	if (h->sched) {
		vd_rt_sched_stats(h->sched, st);
		struct vd_rt_stats sum = h->last;

		add_stats(&sum, st);
		*st = sum;
	} else {
		*st = h->last;
	}
}

/* ---- endpoint connection state ---- */

static void hlog(struct vd_host *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hlog(struct vd_host *h, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!h->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	h->log(h->log_data, line);
}

/* Compare every endpoint with what listeners were last told; tell them once. */
static void scan(struct vd_host *h)
{
	uint64_t count;
	bool changed = false;

	/* EAGAIN (nothing signalled) is fine: a direct call looks all the same */
	if (read(h->notify_fd, &count, sizeof(count)) < 0)
		count = 0;
	for (size_t i = 0; i < h->n_endpoints; i++) {
		struct endpoint *e = &h->endpoints[i];
		bool now = vd_endpoint_conn_get(e->conn);

		if (now == e->seen)
			continue;
		e->seen = now;
		changed = true;
		hlog(h, "host endpoint '%s' %s", e->name, now ? "connected" : "disconnected");
	}
	for (size_t i = 0; changed && i < h->n_listeners; i++)
		h->listeners[i].fn(h->listeners[i].data);
}

static void on_notify(void *data, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	scan(data);
}

static void on_jack(void *data, int fd, uint32_t events)
{
	struct endpoint *e = data;
	int r = vd_alsa_jack_handle(e->jack);

	(void)fd;
	(void)events;
	if (r < 0) {
		/* a card that went away: its PCM errors say the rest */
		vd_loop_remove(e->watch);
		e->watch = NULL;
		vd_alsa_jack_close(e->jack);
		e->jack = NULL;
		vd_endpoint_conn_set(e->conn, false);
	}
}

int vd_host_watch(struct vd_host *h, struct vd_loop *loop, void (*log)(void *data, const char *line),
		  void *log_data)
{
	int r;

	if (h->notify_watch)
		return -EBUSY;
	h->log = log;
	h->log_data = log_data;
	r = vd_loop_add_fd(loop, h->notify_fd, EPOLLIN, on_notify, h, &h->notify_watch);
	if (r < 0)
		return r;
	for (size_t i = 0; i < h->n_endpoints; i++) {
		struct endpoint *e = &h->endpoints[i];
		struct gnode *n = vd_graph_find(h->g, e->name);
		bool capture;
		int card;

		if (n->ops != &vd_node_alsa_sink && n->ops != &vd_node_alsa_source)
			continue;
		card = vd_endpoint_alsa_card(n->self, &capture);
		r = vd_alsa_jack_open(card, capture, e->conn, &e->jack);
		if (r == -ENOENT)
			continue;
		if (r < 0) {
			hlog(h, "host endpoint '%s': cannot follow card %d's jack controls: %s", e->name,
			     card, strerror(-r));
			continue;
		}
		r = vd_loop_add_fd(loop, vd_alsa_jack_fd(e->jack), EPOLLIN, on_jack, e, &e->watch);
		if (r < 0) {
			vd_alsa_jack_close(e->jack);
			e->jack = NULL;
			return r;
		}
		hlog(h, "host endpoint '%s' follows %u jack controls of card %d (%s now)", e->name,
		     vd_alsa_jack_count(e->jack), card, vd_endpoint_conn_get(e->conn) ? "plugged" : "unplugged");
	}
	scan(h);
	return 0;
}

int vd_host_add_listener(struct vd_host *h, vd_host_conn_fn fn, void *data)
{
	struct listener *l = realloc(h->listeners, (h->n_listeners + 1) * sizeof(*l));

	if (!l)
		return -ENOMEM;
	h->listeners = l;
	l[h->n_listeners++] = (struct listener){ fn, data };
	return 0;
}

void vd_host_remove_listener(struct vd_host *h, vd_host_conn_fn fn, void *data)
{
	for (size_t i = 0; i < h->n_listeners; i++)
		if (h->listeners[i].fn == fn && h->listeners[i].data == data) {
			memmove(&h->listeners[i], &h->listeners[i + 1],
				(h->n_listeners - i - 1) * sizeof(*h->listeners));
			h->n_listeners--;
			return;
		}
}

size_t vd_host_endpoint_count(const struct vd_host *h)
{
	return h->n_endpoints;
}

const char *vd_host_endpoint_name(const struct vd_host *h, size_t i, bool *connected)
{
	if (i >= h->n_endpoints)
		return NULL;
	if (connected)
		*connected = h->endpoints[i].seen;
	return h->endpoints[i].name;
}

int vd_host_set_endpoint_connected(struct vd_host *h, const char *name, bool connected)
{
	for (size_t i = 0; i < h->n_endpoints; i++)
		if (strcmp(h->endpoints[i].name, name) == 0) {
			vd_endpoint_conn_set(h->endpoints[i].conn, connected);
			scan(h);
			return 0;
		}
	return -ENOENT;
}

int vd_host_point_connected(const struct vd_host *h, const char *point, bool *connected)
{
	for (size_t p = 0; p < h->n_points; p++) {
		uint64_t m = h->points[p].endpoints;

		if (strcmp(h->points[p].name, point) != 0)
			continue;
		/* heard somewhere is enough; a point that reaches no endpoint is never unplugged */
		*connected = m == 0;
		for (size_t i = 0; i < h->n_endpoints; i++)
			if (m >> i & 1 && h->endpoints[i].seen)
				*connected = true;
		return 0;
	}
	return -ENOENT;
}
