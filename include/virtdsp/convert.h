/* virtdsp/convert.h - sample-format conversion, dither and channel matrices.
 *
 * Conversion rules (documented in docs/formats.md):
 *  - Integer to float: x / 2^(bits-1), exact for every integer format into F64,
 *    and into F32 for U8/S16/S24.
 *  - Float to integer: scale by 2^(bits-1), round to nearest (ties to even),
 *    clip to [-2^(bits-1), 2^(bits-1)-1]. NaN becomes 0.
 *  - Integer widening is a left shift (exact); narrowing rounds to nearest
 *    (ties away from zero is avoided: ties to even) and clips.
 *  - mu-law/A-law are ITU-T G.711 (16-bit linear <-> 8-bit code); other
 *    formats pass through S16 with the rules above.
 *  - With a dither state, TPDF dither of +-1 LSB of the destination is added
 *    before rounding whenever the destination has fewer bits than the source.
 *    The generator is seeded explicitly so output is reproducible.
 */
#ifndef VIRTDSP_CONVERT_H
#define VIRTDSP_CONVERT_H

#include <stddef.h>
#include <stdint.h>
#include <virtdsp/format.h>

#ifdef __cplusplus
extern "C" {
#endif

/** TPDF dither generator state; reproducible from its seed. */
struct vd_dither {
	uint64_t state;
};

void vd_dither_init(struct vd_dither *d, uint64_t seed);

/**
 * vd_convert_samples() - convert @n_samples samples (not frames).
 * @dither: NULL for none.
 *
 * @dst and @src must not overlap unless they are the same pointer and the
 * destination sample is not larger than the source one.
 * Returns 0 or -EINVAL for an unknown format.
 */
int vd_convert_samples(enum vd_sample_format dst_fmt, void *dst,
		       enum vd_sample_format src_fmt, const void *src,
		       size_t n_samples, struct vd_dither *dither);

/** Read @n samples of any format into float (the hot path of most nodes). */
void vd_convert_to_f32(float *dst, enum vd_sample_format src_fmt, const void *src, size_t n);
/** Write @n floats into any format, rounding and clipping; @dither may be NULL. */
void vd_convert_from_f32(enum vd_sample_format dst_fmt, void *dst, const float *src, size_t n,
			 struct vd_dither *dither);

/**
 * Channel mixing matrix: out[o] = sum_i m[o][i] * in[i].
 * vd_channel_matrix() fills @m (row-major, out_ch x in_ch) with the standard
 * up/down-mix between two channel maps:
 *  - same position: 1;
 *  - mono source: copied to FL/FR (or to every output if those are absent);
 *  - to mono: average of all non-LFE inputs;
 *  - FC into FL/FR at -3 dB; surround/rear into the same side at -3 dB;
 *  - LFE dropped when the output has none;
 *  - rows normalised so no output can exceed full scale (sum |m[o][*]| <= 1)
 *    unless @normalize is false.
 * Returns 0 or -EINVAL.
 */
int vd_channel_matrix(const uint8_t *out_pos, uint32_t out_ch,
		      const uint8_t *in_pos, uint32_t in_ch,
		      bool normalize, float *m);

#ifdef __cplusplus
}
#endif
#endif
