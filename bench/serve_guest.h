/* bench/serve_guest.h - a fleet of fake guests for bench_serve: N virtio-snd
 * devices on one live host graph, each driven over vhost-user by the fake
 * front-end (tests/vhost/fake_frontend.h), each playing one S16 stream the
 * way the Linux driver does (the whole buffer queued, one period re-queued
 * per completion), with one "guest" thread that takes the completions as
 * interrupts (call eventfds, EVENT_IDX) and timestamps them when it first
 * sees them, before it refills any stream. */
#ifndef VD_BENCH_SERVE_GUEST_H
#define VD_BENCH_SERVE_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <virtdsp/graph.h>

struct serve_fleet_config {
	unsigned guests;		/* devices, one playback stream each */
	uint32_t rate;			/* stream rate: 48000, 44100 (a virtio-snd rate) */
	uint32_t period_frames;		/* guest period (480 at 48 kHz = 10 ms) */
	unsigned periods;		/* buffer = periods x period, all queued like Linux */
	int guest_cpu;			/* pin the guest thread here; -1: not pinned */
	int guest_priority;		/* SCHED_FIFO priority of the guest thread; 0: normal */
	double max_seconds;		/* longest measuring window (sizes the timestamp arrays) */
};

struct serve_fleet;

/** Devices created, connected, their streams set up, PREPAREd and pre-buffered
 * (@host: prepared and live, not necessarily running). err gets the reason. */
int serve_fleet_new(struct vd_graph *host, const struct serve_fleet_config *cfg,
		    struct serve_fleet **out, char *err, size_t errlen);
/** Start the guest thread and START every stream. */
int serve_fleet_start(struct serve_fleet *f, char *err, size_t errlen);
/** Open (true) or close (false) the measuring window, once per fleet:
 * completion timestamps are kept only inside it. */
void serve_fleet_window(struct serve_fleet *f, bool open);
/** Stop the guest thread, STOP and RELEASE every stream (the host may still run). */
void serve_fleet_stop(struct serve_fleet *f);
void serve_fleet_free(struct serve_fleet *f);

/** Counters summed over the streams (atomically read; any time). */
struct serve_fleet_counters {
	uint64_t completed, errors, frames, underruns;
};
void serve_fleet_counters(struct serve_fleet *f, struct serve_fleet_counters *c);
/** The first stream's pipeline as the device built it. */
const char *serve_fleet_description(struct serve_fleet *f);

/** Completion timing over the last window, every stream together. */
struct serve_timing {
	uint64_t intervals;		/* consecutive completions of one stream */
	double period_ms;		/* nominal */
	double iv_min, iv_p50, iv_p99, iv_max;		/* intervals, ms */
	double dev_p50, dev_p99, dev_max;		/* |interval - period|, ms */
	uint64_t doubles;		/* intervals < period / 2 (two completions at once) */
	uint64_t guest_errors;		/* completions with a bad status, refills that failed */
	/* the same without the intervals that overlap one of the spans given (pauses of the VM) */
	uint64_t clear_intervals;
	double clear_dev_p50, clear_dev_p99, clear_dev_max;
	/* the same completions stamped when the guest thread drained them, after the
	 * refills of the streams ahead of it in that wake-up (how it was measured first) */
	double late_dev_p99, late_dev_max;
	/* the guest thread's wake-ups: how long the first look over the ready streams
	 * took (the stamps' spread), and all the wake-up's work, ms */
	uint64_t wakeups;
	double pass_p99, pass_max, busy_p99, busy_max;
};
/** 0, or -ENOMEM. @from/@to: @n spans (CLOCK_MONOTONIC ns) whose intervals are left out of clear_*. */
int serve_fleet_timing(struct serve_fleet *f, const uint64_t *from, const uint64_t *to, unsigned n,
		       struct serve_timing *t);

#endif
