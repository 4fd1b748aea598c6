/* virtdsp/format.h - sample formats, channel positions and audio formats.
 *
 * All formats are little-endian and interleaved. S24 is a 24-bit sample in
 * the low three bytes of a 32-bit container (sign-extended); S24_3 is
 * packed into three bytes. FLOAT/FLOAT64 are nominally in [-1, 1).
 */
#ifndef VIRTDSP_FORMAT_H
#define VIRTDSP_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum vd_sample_format {
	VD_FORMAT_UNKNOWN = 0,
	VD_FORMAT_U8,
	VD_FORMAT_S16,
	VD_FORMAT_S24,		/**< 24 bits in the low bytes of 32 */
	VD_FORMAT_S24_3,	/**< 24 bits packed in 3 bytes */
	VD_FORMAT_S32,
	VD_FORMAT_F32,
	VD_FORMAT_F64,
	VD_FORMAT_MULAW,	/**< ITU-T G.711 mu-law */
	VD_FORMAT_ALAW,		/**< ITU-T G.711 A-law */
	VD_FORMAT_COUNT
};

#define VD_FORMAT_BIT(f)	(UINT32_C(1) << (f))
#define VD_FORMAT_MASK_ALL	((VD_FORMAT_BIT(VD_FORMAT_COUNT) - 1) & ~VD_FORMAT_BIT(VD_FORMAT_UNKNOWN))
#define VD_FORMAT_MASK_FLOAT	(VD_FORMAT_BIT(VD_FORMAT_F32) | VD_FORMAT_BIT(VD_FORMAT_F64))

/** Channel positions (the usual ALSA/PipeWire set). */
enum vd_channel_position {
	VD_CH_UNKNOWN = 0,
	VD_CH_MONO,
	VD_CH_FL, VD_CH_FR, VD_CH_FC, VD_CH_LFE,
	VD_CH_RL, VD_CH_RR,		/**< rear (back) left/right */
	VD_CH_FLC, VD_CH_FRC, VD_CH_RC,
	VD_CH_SL, VD_CH_SR,		/**< side left/right */
	VD_CH_TC, VD_CH_TFL, VD_CH_TFC, VD_CH_TFR, VD_CH_TRL, VD_CH_TRC, VD_CH_TRR,
	VD_CH_AUX0,			/**< AUX0..AUX31 follow */
	VD_CH_POSITION_COUNT = VD_CH_AUX0 + 32
};

#define VD_MAX_CHANNELS 32

struct vd_audio_format {
	enum vd_sample_format format;
	uint32_t rate;		/**< frames per second */
	uint32_t channels;	/**< 1..VD_MAX_CHANNELS */
	uint8_t position[VD_MAX_CHANNELS]; /**< enum vd_channel_position per channel */
};

/** Bytes of one sample (not frame); 0 for an unknown format. */
size_t vd_format_sample_size(enum vd_sample_format fmt);
/** Bytes of one frame of @f. */
size_t vd_format_frame_size(const struct vd_audio_format *f);
/** Significant bits: 8, 16, 24, 32 (S32), 24 (F32 mantissa), 53 (F64), 14 (mu-law), 13 (A-law). */
unsigned vd_format_bits(enum vd_sample_format fmt);
bool vd_format_is_float(enum vd_sample_format fmt);
/** Lower-case canonical name ("s16", "s24_3", "f32", "mulaw", ...). */
const char *vd_format_name(enum vd_sample_format fmt);
/** Accepts canonical names and common aliases ("float", "s16le", "float64"...), case-insensitive. 0 or -EINVAL. */
int vd_format_from_name(const char *name, enum vd_sample_format *fmt);

const char *vd_channel_name(enum vd_channel_position pos);
int vd_channel_from_name(const char *name, enum vd_channel_position *pos);
/** The default layout for @channels (1: MONO, 2: FL FR, ... 6: FL FR FC LFE RL RR, 8: + SL SR; others AUX). */
void vd_channel_default_map(uint32_t channels, uint8_t *position);

/** Fill @f with @fmt/@rate/@channels and the default channel map. */
void vd_audio_format_init(struct vd_audio_format *f, enum vd_sample_format fmt,
			  uint32_t rate, uint32_t channels);
/** Same format, rate, channels and positions. */
bool vd_audio_format_equal(const struct vd_audio_format *a, const struct vd_audio_format *b);
/** "s16 48000Hz 2ch" into @buf; returns @buf. */
const char *vd_audio_format_describe(const struct vd_audio_format *f, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
