/* daemon/host.h - the host side of `virtdsp serve`: the host topology loaded
 * into a live graph, its attach points, and the real-time scheduler that
 * drives it at the host pipeline's period. Guests (daemon/guest.h) connect
 * to its attach points; the graph keeps running whoever comes and goes. */
#ifndef VD_DAEMON_HOST_H
#define VD_DAEMON_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <virtdsp/graph.h>
#include <virtdsp/sched.h>
#include <virtdsp/topology.h>

#include "daemon/loop.h"
#include "daemon/power.h"

struct vd_host;

/** An endpoint path override: `NAME=PATH` as `virtdsp run --input/--output` takes it. */
struct vd_host_path {
	const char *name;
	const char *path;
};

struct vd_host_options {
	/** Host topology file; NULL: the built-in one (vd_host_default_topology()). */
	const char *topology;
	/** Built-in topology only: the capture point reads this file instead of the tone, looped. */
	const char *capture_file;
	/** ... once, then silence. */
	bool capture_once;
	/** Endpoint paths to override (sinks, sources; the built-in topology's WAV is "out"). */
	const struct vd_host_path *paths;
	size_t n_paths;
	/** SCHED_FIFO priority to try for the processing thread (0: normal scheduling). */
	int rt_priority;
};

/** The built-in host topology (also shipped as examples/host-default.topo). */
const char *vd_host_default_topology(void);
/** Its output file when none is given. */
#define VD_HOST_DEFAULT_OUTPUT "virtdsp-serve.wav"

/**
 * vd_host_new() - load the topology, build it as a live graph, and find the
 * real-time period: every attach point's period (frames / rate) must be the
 * same time, and there must be at least one. Topology errors go to @diag
 * (file:line:column); everything else is described in @err.
 * Returns 0, -EINVAL, -ENOENT, -ENOMEM or a build/prepare error.
 */
int vd_host_new(const struct vd_host_options *opts, struct vd_host **out, struct vd_diag *diag,
		char *err, size_t errsz);
/** Start the processing thread. Block the daemon's signals first (it inherits the mask). */
int vd_host_start(struct vd_host *h);
/** Stop the processing thread (if running), finalise the sinks, free. NULL is ignored. */
void vd_host_free(struct vd_host *h);

struct vd_graph *vd_host_graph(struct vd_host *h);
/** The period the scheduler runs at, and what it is in frames at the first attach point's rate. */
uint64_t vd_host_period_ns(const struct vd_host *h);
uint32_t vd_host_period_frames(const struct vd_host *h);
uint32_t vd_host_rate(const struct vd_host *h);
/** Attach points: how many, and the name/direction of each (for the start-up line). */
size_t vd_host_attach_count(const struct vd_host *h);
const char *vd_host_attach_name(const struct vd_host *h, size_t i, bool *capture);
/** Scheduler counters (any time; zeros before start), summed over suspends. */
void vd_host_sched_stats(struct vd_host *h, struct vd_rt_stats *st);
/**
 * Power (daemon/power.h): vd_host_suspend() stops the processing thread
 * (keeping its counters) and closes the host's ALSA devices; file and null
 * endpoints keep their state, so a WAV sink goes on appending after the
 * resume. vd_host_resume() reopens the devices with the negotiated setup and
 * restarts the thread if it was running; on failure (described in @err) the
 * host stays suspended with every device closed. Both are idempotent.
 * vd_host_start() while suspended only marks the thread to start on resume.
 */
int vd_host_suspend(struct vd_host *h);
int vd_host_resume(struct vd_host *h, char *err, size_t errsz);
bool vd_host_suspended(const struct vd_host *h);
/** Fill @hooks for vd_power_new(): suspend and resume @h, and pass each
 * transition on to @changed (may be NULL). A failed resume is described to
 * @log (may be NULL) as one line. Both get @data. */
void vd_host_power_hooks(struct vd_host *h, void (*log)(void *data, const char *line),
			 void (*changed)(void *data, const struct vd_power_status *st), void *data,
			 struct vd_power_hooks *hooks);
/**
 * Stop the processing thread now (its counters are kept for vd_host_sched_stats):
 * after it, sink statistics can be read safely. Idempotent.
 */
void vd_host_stop(struct vd_host *h);

/*
 * Host endpoints' connection state (docs/endpoints.md, "Connection state"):
 * each file, ALSA, null and silence endpoint is connected or not; an attach
 * point is connected while at least one endpoint its audio reaches (playback)
 * or comes from (capture) is. Guests show that as their jacks.
 */
/** Watch the endpoints' change eventfd and ALSA cards' jack controls on @loop. Once. */
int vd_host_watch(struct vd_host *h, struct vd_loop *loop, void (*log)(void *data, const char *line),
		  void *log_data);
/** Called on the loop's thread after one or more endpoints changed state. */
typedef void (*vd_host_conn_fn)(void *data);
int vd_host_add_listener(struct vd_host *h, vd_host_conn_fn fn, void *data);
void vd_host_remove_listener(struct vd_host *h, vd_host_conn_fn fn, void *data);
size_t vd_host_endpoint_count(const struct vd_host *h);
/** Endpoint @i's node name and the state listeners were last told, or NULL. */
const char *vd_host_endpoint_name(const struct vd_host *h, size_t i, bool *connected);
/** Force an endpoint's state (tests, `virtdsp ctl`); listeners are told before it returns. -ENOENT. */
int vd_host_set_endpoint_connected(struct vd_host *h, const char *name, bool connected);
/** Whether attach point @point is connected. -ENOENT if there is no such point. */
int vd_host_point_connected(const struct vd_host *h, const char *point, bool *connected);

#endif
