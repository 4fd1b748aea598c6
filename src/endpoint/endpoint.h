/* endpoint/endpoint.h - host endpoint node types (files, ALSA, null, attach points) and their shared helpers.
 *
 * Endpoints are ordinary nodes flagged VD_NODE_ENDPOINT. The file and ALSA
 * endpoints do blocking I/O inside process(): they are offline-safe, not
 * real-time-safe (docs/endpoints.md explains how a writer thread would lift
 * that).
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
