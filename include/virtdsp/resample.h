/* virtdsp/resample.h - the streaming sample-rate converter (any ratio, drift-steerable).
 *
 * Shape of the speex/PipeWire streaming API: give N input frames and room
 * for M output frames; learn how many were consumed and produced. Output
 * does not depend on how the input was chunked (bit-identical). Presets
 * are defined by measured targets in docs/src.md.
 */
#ifndef VIRTDSP_RESAMPLE_H
#define VIRTDSP_RESAMPLE_H

#include <stdint.h>
#include <virtdsp/error.h>
#include <virtdsp/format.h>

#ifdef __cplusplus
extern "C" {
#endif

enum vd_resample_quality {
	VD_RESAMPLE_LOW,
	VD_RESAMPLE_MEDIUM,
	VD_RESAMPLE_HIGH,	/**< libsoxr HQ class: >= 133 dB SNR/rejection, <= 0.01 dB ripple to 0.9 Nyquist */
	VD_RESAMPLE_VERY_HIGH,	/**< libsoxr VHQ class: >= 150 dB */
	VD_RESAMPLE_QUALITY_COUNT
};

struct vd_resample_config {
	uint32_t rate_in, rate_out;	/**< Hz */
	uint32_t channels;		/**< 1..VD_MAX_CHANNELS */
	enum vd_resample_quality quality;
	enum vd_sample_format format_in;	/**< F32, S16 or S32 */
	enum vd_sample_format format_out;	/**< F32, S16 or S32 */
};

struct vd_resampler;

/**
 * Check @cfg; on -EINVAL @err (may be NULL) says why: rates outside
 * 1..1536000 Hz, a ratio beyond 256:1 either way, channels, formats, quality.
 */
int vd_resample_config_check(const struct vd_resample_config *cfg, struct vd_error *err);

/** -EINVAL (message-worthy cases documented in docs/src.md: ratio out of range, channels, formats). */
int vd_resampler_new(const struct vd_resample_config *cfg, struct vd_resampler **r);
void vd_resampler_free(struct vd_resampler *r);

/**
 * Convert. On entry *in_frames frames are available at @in and *out_frames
 * frames of room at @out; on return they hold frames consumed and produced.
 * Real-time safe. Returns 0.
 */
int vd_resampler_process(struct vd_resampler *r, const void *in, uint32_t *in_frames,
			 void *out, uint32_t *out_frames);

/**
 * End of input: flush what the filter still holds. Call repeatedly until it
 * produces 0 frames. Over the stream, the output then totals exactly
 * round(n_in * rate_out / rate_in) frames and is time-aligned with the input
 * (the filter delay is removed at the start).
 */
int vd_resampler_drain(struct vd_resampler *r, void *out, uint32_t *out_frames);

/** Filter delay in output frames (removed from the output by the alignment above). */
uint32_t vd_resampler_latency(const struct vd_resampler *r);

/** Worst-case output frames for @in_frames input frames (for buffer sizing). */
uint32_t vd_resampler_max_output(const struct vd_resampler *r, uint32_t in_frames);

/**
 * Drift correction: scale the conversion ratio by @adjust (1.0 = nominal,
 * within [0.98, 1.02], else -EINVAL); click-free, may be changed every
 * period. @adjust > 1 makes more output per input (the output clock runs
 * at rate_out * adjust relative to the input). Kept across reset().
 */
int vd_resampler_set_adjust(struct vd_resampler *r, double adjust);

/** Back to the state after vd_resampler_new() (history cleared; the adjust factor is kept). */
void vd_resampler_reset(struct vd_resampler *r);

const char *vd_resample_quality_name(enum vd_resample_quality q);
int vd_resample_quality_from_name(const char *name, enum vd_resample_quality *q);

#ifdef __cplusplus
}
#endif
#endif
