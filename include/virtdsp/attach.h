/* virtdsp/attach.h - feeding a running host graph through its attach points.
 *
 * A host topology names attach points (`attach guests playback {...}`). In a
 * live graph (vd_graph_set_live) each one is a bus: any number of feeds can
 * connect to it while the graph runs. Every cycle a playback point pulls one
 * period from each connected feed and mixes them (silence when none is
 * connected); a capture point offers its period to every connected feed.
 * The callbacks run on the processing thread, inside the cycle, so a feed
 * is clocked by the host graph (this is how a guest's pipeline runs on the
 * host's clock). They must not allocate, lock or log.
 *
 * Connecting and disconnecting happen on a control thread and never block
 * the processing thread: the new set of feeds is published atomically and
 * picked up at the next cycle boundary. vd_attach_disconnect() returns once
 * the processing thread can no longer call the feed (it waits for one
 * cycle boundary while the graph runs; at once otherwise).
 */
#ifndef VIRTDSP_ATTACH_H
#define VIRTDSP_ATTACH_H

#include <stdint.h>
#include <virtdsp/format.h>
#include <virtdsp/graph.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vd_attach;
struct vd_feed;

enum vd_attach_direction {
	VD_ATTACH_PLAYBACK,	/**< audio from feeds into the host graph */
	VD_ATTACH_CAPTURE,	/**< audio from the host graph to feeds */
};

struct vd_feed_ops {
	/**
	 * Playback: write exactly @frames frames in the attach point's format
	 * (vd_attach_format) to @dst (silence if there is nothing).
	 */
	void (*pull)(void *data, void *dst, uint32_t frames);
	/** Capture: @frames frames in the attach point's format are at @src. */
	void (*push)(void *data, const void *src, uint32_t frames);
};

/**
 * Live mode: attach points become buses that never end, sources that would
 * end at once without input (silence) stay open. Set before adding nodes.
 */
void vd_graph_set_live(struct vd_graph *g, bool live);

/** The attach point called @name of a prepared graph; -ENOENT if none. */
int vd_graph_attach(struct vd_graph *g, const char *name, struct vd_attach **a);
enum vd_attach_direction vd_attach_direction(const struct vd_attach *a);
/** The format feeds exchange: always f32 interleaved, at the point's rate and channels. */
const struct vd_audio_format *vd_attach_format(const struct vd_attach *a);
/** Frames per cycle (the host pipeline's period): what one pull/push carries. */
uint32_t vd_attach_period(const struct vd_attach *a);

/** Connect a feed (control thread). -ENOSPC beyond VD_ATTACH_MAX_FEEDS. */
#define VD_ATTACH_MAX_FEEDS 256
int vd_attach_connect(struct vd_attach *a, const struct vd_feed_ops *ops, void *data,
		      struct vd_feed **f);
/** Disconnect and free @f (control thread); after it returns, no callback runs. */
void vd_attach_disconnect(struct vd_feed *f);

#ifdef __cplusplus
}
#endif
#endif
