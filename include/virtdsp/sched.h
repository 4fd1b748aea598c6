/* virtdsp/sched.h - the real-time scheduler: drive a prepared graph one period at a time.
 *
 * The thread wakes on an absolute CLOCK_MONOTONIC deadline every period and
 * runs one vd_graph_cycle() (the same step the offline runner uses, so both
 * produce the same samples). A cycle that ends after its deadline counts as
 * late; after a long stall the clock is re-based instead of bursting to catch
 * up. While it runs, vd_graph_set_param() is queued to this thread.
 */
#ifndef VIRTDSP_SCHED_H
#define VIRTDSP_SCHED_H

#include <stdbool.h>
#include <stdint.h>
#include <virtdsp/graph.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vd_rt_config {
	uint64_t period_ns;	/**< e.g. 10 ms = 10000000 */
	int priority;		/**< SCHED_FIFO priority to try (0: normal scheduling) */
	bool stop_at_end;	/**< end the thread when every sink has finished */
};

struct vd_rt_stats {
	uint64_t cycles;
	uint64_t late;			/**< cycles that finished after their deadline */
	uint64_t max_cycle_ns;		/**< longest cycle's processing time */
	uint64_t max_wake_late_ns;	/**< worst wake-up delay past the deadline */
	bool finished;			/**< the graph ran to its end */
	bool realtime;			/**< SCHED_FIFO was granted */
	int error;			/**< first processing error (-errno) or 0 */
};

struct vd_rt_sched;

int vd_rt_sched_start(struct vd_graph *g, const struct vd_rt_config *cfg, struct vd_rt_sched **s);
/** Wait up to @timeout_ms (-1: forever) for the graph to finish; 0, -ETIMEDOUT. */
int vd_rt_sched_wait(struct vd_rt_sched *s, int timeout_ms);
/** Snapshot of the counters (safe while running). */
void vd_rt_sched_stats(struct vd_rt_sched *s, struct vd_rt_stats *stats);
/** Stop the thread, join it, free @s; @stats may be NULL. */
void vd_rt_sched_stop(struct vd_rt_sched *s, struct vd_rt_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
