/* endpoint/endpoint.h - host endpoint node types (files, ALSA, null, attach points) and their shared helpers.
 *
 * Endpoints are ordinary nodes flagged VD_NODE_ENDPOINT. The ALSA endpoints
 * do blocking I/O inside process(): they are offline-safe, not real-time-safe;
 * file sources and sinks in a live graph hand their I/O to a reader / writer
 * thread (docs/endpoints.md, "Real-time use").
 */
#ifndef VD_ENDPOINT_H
#define VD_ENDPOINT_H

#include <stdint.h>
#include <virtdsp/node.h>

extern const struct vd_node_ops vd_node_file_source, vd_node_file_sink,
	vd_node_alsa_source, vd_node_alsa_sink, vd_node_null_sink,
	vd_node_silence_source, vd_node_attach_playback, vd_node_attach_capture;

/* ---- module-internal constructors, so attach points can reuse the plain endpoints ---- */

/** @path relative to @base_dir (may be NULL) unless absolute; NULL on allocation failure. */
char *vd_endpoint_resolve_path(const char *base_dir, const char *path);

/** Raw (headerless) input needs its format spelt out; fmt.format == UNKNOWN for other files. */
struct vd_file_source_config {
	const char *name;		/* instance name, for messages */
	const char *path;		/* resolved */
	const struct vd_location *loc;	/* of the path property, may be NULL */
	bool raw;
	struct vd_audio_format raw_format;
	bool live;			/* a reader thread feeds process() (VD_NODE_INIT_LIVE) */
};
int vd_endpoint_file_source_new(const struct vd_file_source_config *cfg, void **self,
				struct vd_error *err);

struct vd_file_sink_config {
	const char *name;
	const char *path;		/* resolved */
	const struct vd_location *loc;
	int container;			/* index into the container table; -1: from the extension */
	enum vd_sample_format format;	/* UNKNOWN: what arrives (or the container's nearest) */
	uint32_t rate;			/* 0: what arrives */
	uint32_t channels;		/* 0: what arrives */
	bool live;			/* a writer thread does the file I/O (VD_NODE_INIT_LIVE) */
};
int vd_endpoint_file_sink_new(const struct vd_file_sink_config *cfg, void **self,
			      struct vd_error *err);

/** Silence of @fmt for @frames frames (0: ends at once). */
int vd_endpoint_silence_new(const struct vd_audio_format *fmt, uint64_t frames, void **self);
int vd_endpoint_null_new(void **self);

/**
 * ALSA endpoints (alsa-sink, alsa-source; @self is such a node's) close their
 * PCM while the daemon is suspended and reopen it with the negotiated format
 * and the same period/buffer setup. The node must not be processed while
 * closed. Both are idempotent; reopen fails (-ENODEV, or alsa-lib's -errno,
 * described in @err) if the device is gone or no longer takes the format.
 */
int vd_endpoint_alsa_close(void *self);
int vd_endpoint_alsa_reopen(void *self, struct vd_error *err);

/** Fill @n samples of @fmt with digital silence (u8 0x80, mu-law 0xff, A-law 0xd5, else 0). */
void vd_endpoint_fill_silence(enum vd_sample_format fmt, void *dst, size_t n);

#include <stdatomic.h>

/* ---- connection state of host endpoints (docs/endpoints.md, "Connection state") ---- */

/*
 * Whether the device or file behind an endpoint is there: an unplugged USB
 * card or headphones pulled out is "disconnected". Written by whichever
 * thread sees the change (the processing thread for ALSA I/O errors, the
 * daemon for jack controls and `virtdsp ctl`), read by the daemon. Writing
 * is real-time safe: one atomic exchange and, when the value changed, one
 * non-blocking write to the daemon's eventfd.
 */
struct vd_endpoint_conn {
	_Atomic bool connected;
	_Atomic int notify_fd;		/* eventfd the daemon watches; -1: nobody */
};

void vd_endpoint_conn_init(struct vd_endpoint_conn *c, bool connected);
/** Returns whether the state changed (and the notify fd, if any, was signalled). */
bool vd_endpoint_conn_set(struct vd_endpoint_conn *c, bool connected);
bool vd_endpoint_conn_get(const struct vd_endpoint_conn *c);
void vd_endpoint_conn_bind(struct vd_endpoint_conn *c, int notify_fd);
/** Read the optional `connected` property (default true) into @c. */
int vd_endpoint_conn_props(struct vd_endpoint_conn *c, struct vd_props *p, struct vd_error *err);
/**
 * The connection state of a node instance, or NULL when the node is not a
 * host endpoint (file, ALSA, null or silence). Those nodes keep it as the
 * first member of their state, which is what this relies on.
 */
struct vd_endpoint_conn *vd_endpoint_conn_of(const struct vd_node_ops *ops, void *self);

/** An alsa-sink/alsa-source instance's card index (-1: none, e.g. a plugin) and direction. */
int vd_endpoint_alsa_card(void *self, bool *capture);

/* ---- ALSA jack controls (alsa_jack.c) ---- */

struct vd_alsa_jack;
/**
 * Whether the card's jack control @name ("Headphone Jack", "Front Mic Jack",
 * ...) tells about a playback (@capture false) or capture endpoint.
 */
bool vd_alsa_jack_relevant(const char *name, bool capture);
/**
 * Follow card @card's jack controls relevant to @capture: @conn is connected
 * while at least one of them is plugged. -ENOENT when the card has none (the
 * endpoint then keeps its I/O-derived state), or snd_ctl_open's error.
 */
int vd_alsa_jack_open(int card, bool capture, struct vd_endpoint_conn *conn,
		      struct vd_alsa_jack **out);
/** The same on ALSA control device @ctl_name ("hw:0", or a ctl plugin's name in tests). */
int vd_alsa_jack_open_ctl(const char *ctl_name, bool capture, struct vd_endpoint_conn *conn,
			  struct vd_alsa_jack **out);
/** The fd to watch for readability (snd_ctl_subscribe_events). */
int vd_alsa_jack_fd(const struct vd_alsa_jack *j);
/** Read pending ctl events and update the state. 0 or a negative ALSA error. */
int vd_alsa_jack_handle(struct vd_alsa_jack *j);
/** How many jack controls are followed. */
unsigned vd_alsa_jack_count(const struct vd_alsa_jack *j);
void vd_alsa_jack_close(struct vd_alsa_jack *j);

/* ---- attach-point buses (bus.c): live attach points mix or fan out connected feeds ---- */
#include <virtdsp/attach.h>

int vd_attach_bus_new(enum vd_attach_direction dir, const struct vd_audio_format *fmt,
		      uint32_t period, struct vd_attach **out);
int vd_attach_bus_prepare(struct vd_attach *b, uint32_t max_frames);
void vd_attach_bus_free(struct vd_attach *b);
/** Let the bus know whether a scheduler thread drives the graph (for disconnect waits). */
void vd_attach_bus_bind(struct vd_attach *b, const _Atomic bool *running);
void vd_attach_bus_pull(struct vd_attach *b, float *out, uint32_t frames);
void vd_attach_bus_push(struct vd_attach *b, const float *in, uint32_t frames);
/** The bus of an attach-playback/attach-capture node instance, or NULL when it is not live. */
struct vd_attach *vd_endpoint_attach_bus(const struct vd_node_ops *ops, void *self);

#endif
