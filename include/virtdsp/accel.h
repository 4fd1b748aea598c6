/* virtdsp/accel.h - task offload: the ALSA compress-offload "accel" model.
 *
 * A session is opened on an accelerator (in-process, or in a `virtdsp serve`
 * daemon through its socket: the same calls, the same results). In OPEN the
 * client sets codec parameters; the session moves to SETUP. It then creates
 * up to `fragments` tasks, each owning an input and an output buffer (memfd
 * file descriptors, mmap-able, sealed against shrinking), STARTs them
 * (processed asynchronously, in START order), polls the session fd, reads
 * STATUS (state, output size), and reuses (origin_seqno) or FREEs them.
 *
 * docs/accel.md maps every call to its kernel counterpart
 * (SNDRV_COMPRESS_TASK_* ioctls, Linux >= 6.13) and lists where we differ:
 * FINISHED tasks can be reused, output_flags is ours (never echoed),
 * parameters can change when no task is active, and the SRC codec can be
 * steered for drift. Every function returns 0 or a negative errno:
 *   -EPERM   wrong session state (e.g. CREATE before SET_PARAMS)
 *   -EINVAL  bad argument or unknown seqno
 *   -EBUSY   task limit reached, or the task is not in a state that allows it
 *   -ENOTTY  streaming-only operation: none of these calls is one; the daemon
 *            answers its STREAM request so (docs/protocol.md)
 *   -ENOMEM, -EMFILE, -ECONNRESET (daemon gone), ...
 */
#ifndef VIRTDSP_ACCEL_H
#define VIRTDSP_ACCEL_H

#include <stddef.h>
#include <stdint.h>
#include <virtdsp/format.h>
#include <virtdsp/resample.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VD_ACCEL_MAX_TASKS	64	/**< the kernel's hard limit on `fragments` */
#define VD_ACCEL_NAME_MAX	32

/** Codec ids: the kernel's SND_AUDIOCODEC_* values, so decoders slot in unchanged. */
enum vd_accel_codec {
	VD_ACCEL_CODEC_PCM = 1,		/**< PCM -> PCM: format, channel and rate conversion */
	VD_ACCEL_CODEC_MP3 = 2,
	VD_ACCEL_CODEC_VORBIS = 9,
	VD_ACCEL_CODEC_FLAC = 10,
	VD_ACCEL_CODEC_OPUS = 17,
};

/** Task flags (snd_compr_task.flags). */
#define VD_ACCEL_TASK_NEW_STREAM (1u << 0)	/**< reset the codec's stream state before this task */
/** Extension flag: this task ends the stream; the codec drains (rate converters flush their tail). */
#define VD_ACCEL_TASK_END_OF_STREAM (1u << 31)

/** Output flags (snd_compr_task_status.output_flags, zeroed unless set by the codec). */
#define VD_ACCEL_OUT_FORMAT_CHANGED (1u << 0)	/**< decoders: stream parameters changed in this task */
#define VD_ACCEL_OUT_END_OF_STREAM  (1u << 1)	/**< the codec has drained */
/** Decoders: decoded output did not fit the output buffer; the codec keeps it and
 *  emits it first in the next task (start one, with empty input if need be). */
#define VD_ACCEL_OUT_MORE_PENDING   (1u << 2)
/** Decoders: this task met an error in the stream (damaged data skipped, truncation,
 *  or a stream the codec cannot decode); vd_accel_get_metadata() says which. */
#define VD_ACCEL_OUT_ERROR          (1u << 3)

enum vd_accel_task_state {
	VD_ACCEL_TASK_IDLE = 0,
	VD_ACCEL_TASK_ACTIVE = 1,
	VD_ACCEL_TASK_FINISHED = 2,
};

enum vd_accel_session_state {
	VD_ACCEL_STATE_OPEN,	/**< SNDRV_PCM_STATE_OPEN: parameters not set */
	VD_ACCEL_STATE_SETUP,	/**< SNDRV_PCM_STATE_SETUP: tasks allowed */
};

/** GET_CAPS */
struct vd_accel_caps {
	char name[VD_ACCEL_NAME_MAX];
	uint32_t num_codecs;
	uint32_t codecs[16];
	uint32_t min_fragment_size, max_fragment_size;	/**< input buffer bytes */
	uint32_t min_fragments, max_fragments;		/**< tasks per session */
};

/** GET_CODEC_CAPS: one descriptor per codec. */
struct vd_accel_codec_caps {
	uint32_t codec;
	uint32_t formats;		/**< input sample formats (VD_FORMAT_BIT mask); 0 for compressed codecs */
	uint32_t pcm_formats;		/**< output sample formats */
	uint32_t min_rate, max_rate;	/**< input rates (0 = taken from the stream) */
	uint32_t out_rate_min, out_rate_max;	/**< output rates the codec can produce */
	uint32_t max_channels;
	uint32_t num_qualities;		/**< SRC quality presets offered */
};

/** SET_PARAMS */
struct vd_accel_params {
	uint32_t codec;			/**< enum vd_accel_codec */
	struct {
		enum vd_sample_format format;	/**< PCM input only */
		uint32_t rate;			/**< PCM input only */
		uint32_t channels;		/**< PCM input only */
	} in;
	struct {
		enum vd_sample_format format;
		uint32_t rate;			/**< 0: same as the input */
		uint32_t channels;		/**< 0: same as the input */
	} out;
	enum vd_resample_quality quality;
	uint32_t fragment_size;		/**< input buffer bytes per task, >= 1 */
	uint32_t fragments;		/**< most tasks, 1..64 */
};

/** TASK_CREATE / TASK_START (struct snd_compr_task). */
struct vd_accel_task {
	uint64_t seqno;
	uint64_t origin_seqno;
	int input_fd;			/**< owned by the caller after CREATE (close it when done) */
	int output_fd;
	uint64_t input_size;
	uint32_t flags;
};

/** TASK_STATUS (struct snd_compr_task_status). */
struct vd_accel_task_status {
	uint64_t seqno;
	uint64_t input_size;
	uint64_t output_size;
	uint32_t output_flags;
	uint8_t state;			/**< enum vd_accel_task_state */
};

#define VD_ACCEL_META_VALID	(1u << 0)	/**< the stream's headers were read: rate, channels, ... are set */
#define VD_ACCEL_META_STOPPED	(1u << 1)	/**< the decoder gave up on this stream; input is ignored until the next one */
#define VD_ACCEL_META_PENDING	(1u << 2)	/**< output is waiting for the next task */
#define VD_ACCEL_META_TEXT_MAX	160

/**
 * GET_METADATA (extension; the kernel's SNDRV_COMPRESS_GET_METADATA carries
 * one key/value pair): the stream as the codec found it, and what it emits.
 */
struct vd_accel_metadata {
	uint32_t codec;
	uint32_t flags;			/**< VD_ACCEL_META_* */
	/* the stream, as found in it (0 until its headers were read) */
	uint32_t rate;
	uint32_t channels;
	uint32_t bits;			/**< sample depth of a lossless stream (FLAC); 0 for lossy codecs */
	uint32_t bitrate;		/**< nominal bits per second, 0 if unknown */
	uint64_t total_frames;		/**< length the stream announces, 0 if unknown */
	enum vd_sample_format decoded_format;	/**< what the decoder produces, before conversion */
	/* the task output (after params.out is applied) */
	enum vd_sample_format out_format;
	uint32_t out_rate;
	uint32_t out_channels;
	/* the current stream */
	uint64_t frames_decoded;	/**< stream frames decoded since it began */
	uint64_t frames_out;		/**< output frames delivered in tasks since it began */
	uint32_t streams;		/**< streams begun in this session */
	uint32_t changes;		/**< parameter changes within streams (chained links, MP3 switches) */
	uint64_t damaged;		/**< damaged stretches skipped (resynchronisations) */
	/** Last error (-errno, 0 none): -EBADMSG damaged data skipped, -ENODATA truncated,
	 *  -EPROTO not a stream of this codec, -EOPNOTSUPP unsupported, -ENOBUFS input
	 *  sent while output was pending beyond the backlog limit. */
	int32_t error;
	char error_text[VD_ACCEL_META_TEXT_MAX];
};

struct vd_accel;

/**
 * List the accelerators of the in-process engine (@target NULL) or of a daemon
 * (@target a socket path). Fills up to @max entries; returns the count or -errno.
 */
int vd_accel_list(const char *target, struct vd_accel_caps *caps, uint32_t max);

/**
 * Open a session on accelerator @name ("src" is the PCM converter) of the
 * in-process engine (@target NULL) or of the daemon listening on socket
 * @target. Returns 0 or -errno (-ENOENT: no such accelerator).
 */
int vd_accel_open(const char *target, const char *name, struct vd_accel **s);
/** Close: stops and frees every task (FREE all), then the session. */
void vd_accel_close(struct vd_accel *s);

int vd_accel_get_caps(struct vd_accel *s, struct vd_accel_caps *caps);
int vd_accel_get_codec_caps(struct vd_accel *s, uint32_t codec, struct vd_accel_codec_caps *caps);
int vd_accel_set_params(struct vd_accel *s, const struct vd_accel_params *p);
int vd_accel_get_params(struct vd_accel *s, struct vd_accel_params *p);
enum vd_accel_session_state vd_accel_state(struct vd_accel *s);

/** CREATE: origin_seqno and input_size must be 0. Fills seqno and both fds. */
int vd_accel_task_create(struct vd_accel *s, struct vd_accel_task *t);
/** START: a new (IDLE) task by seqno, or reuse of a FINISHED one by origin_seqno (gets a fresh seqno). */
int vd_accel_task_start(struct vd_accel *s, struct vd_accel_task *t);
/** STOP one task, or every task with @seqno 0. Never waits for the result. */
int vd_accel_task_stop(struct vd_accel *s, uint64_t seqno);
/** FREE one task (stopping it first), or every task with @seqno 0. */
int vd_accel_task_free(struct vd_accel *s, uint64_t seqno);
int vd_accel_task_status(struct vd_accel *s, struct vd_accel_task_status *st);

/**
 * The session's pollable fd: POLLIN when the oldest task (in START order)
 * has finished, POLLOUT while fewer than `fragments` tasks are active.
 */
int vd_accel_fd(struct vd_accel *s);
/** Block up to @timeout_ms (-1: forever) for @events (POLLIN/POLLOUT); returns the events ready, 0 on timeout. */
int vd_accel_wait(struct vd_accel *s, short events, int timeout_ms);

/**
 * The reason of the last failed call on @s, one line (e.g. "fragments must be
 * 1..64 (got 65)"), copied into @buf ("" if no call failed yet). The kernel
 * only has errno; the text is ours, for diagnostics.
 */
void vd_accel_last_error(struct vd_accel *s, char *buf, size_t size);

/* ---- extensions the kernel lacks (docs/accel.md) ---- */

/** SET_PARAMS again in SETUP while no task is ACTIVE (-EBUSY otherwise); existing tasks are resized. */
int vd_accel_reconfigure(struct vd_accel *s, const struct vd_accel_params *p);
/** SRC codec drift correction: scale the ratio by @adjust in [0.98, 1.02]; applies from the next task. */
int vd_accel_set_adjust(struct vd_accel *s, double adjust);
/**
 * GET_METADATA: the stream's parameters and the decoder's state as they were
 * when task @seqno finished (it must be FINISHED: -EBUSY while IDLE or ACTIVE,
 * -EINVAL unknown), or after the latest finished task with @seqno 0.
 * Codecs without a stream of their own (PCM) report their parameters.
 * -EPERM in OPEN; -EOPNOTSUPP from a daemon that does not know the request.
 */
int vd_accel_get_metadata(struct vd_accel *s, uint64_t seqno, struct vd_accel_metadata *md);

#ifdef __cplusplus
}
#endif
#endif
