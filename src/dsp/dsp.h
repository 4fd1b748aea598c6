/* dsp/dsp.h - the built-in processing node types and the helpers they share. */
#ifndef VIRTDSP_DSP_H
#define VIRTDSP_DSP_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include <virtdsp/node.h>

extern const struct vd_node_ops vd_node_volume, vd_node_mixer, vd_node_eq, vd_node_tone,
	vd_node_meter, vd_node_remap, vd_node_convert;

/* ---- shared by the nodes (not public API) ---- */

/* dB to a linear amplitude factor. */
static inline double vd_dsp_db_to_gain(double db)
{
	return pow(10.0, db / 20.0);
}

/* Linear amplitude to dB, with a floor so silence reads as a finite number. */
#define VD_DSP_DB_FLOOR (-200.0)
static inline double vd_dsp_gain_to_db(double g)
{
	return g > 1e-10 ? 20.0 * log10(g) : VD_DSP_DB_FLOOR;
}

/* Seconds to whole frames at @rate, saturating. */
static inline uint32_t vd_dsp_frames(double seconds, uint32_t rate)
{
	double f = floor(seconds * (double)rate + 0.5);

	return f <= 0 ? 0 : f >= 4294967295.0 ? UINT32_MAX : (uint32_t)f;
}

/*
 * A gain that moves linearly from its current value to a target over a
 * number of frames. The frame after the ramp ends carries exactly the
 * target, so a ramp to 1.0 ends in bit-transparent output.
 */
struct vd_dsp_ramp {
	double cur;		/* gain of the last frame produced */
	double target;
	double step;		/* added per frame while left > 0 */
	uint32_t left;		/* frames until cur reaches target */
};

static inline void vd_dsp_ramp_snap(struct vd_dsp_ramp *r, double gain)
{
	r->cur = r->target = gain;
	r->step = 0;
	r->left = 0;
}

static inline void vd_dsp_ramp_to(struct vd_dsp_ramp *r, double gain, uint32_t frames)
{
	if (frames == 0 || r->cur == gain) {
		vd_dsp_ramp_snap(r, gain);
		return;
	}
	r->target = gain;
	r->step = (gain - r->cur) / (double)frames;
	r->left = frames;
}

/*
 * dst = gain * src (or dst += gain * src with @accumulate), @frames frames
 * of @channels interleaved samples, advancing @r. dst may equal src.
 * Constant unity gain copies (bit-exact); constant zero writes zeros.
 */
void vd_dsp_gain_f32(float *dst, const float *src, uint32_t frames, uint32_t channels,
		     struct vd_dsp_ramp *r, bool accumulate);
void vd_dsp_gain_f64(double *dst, const double *src, uint32_t frames, uint32_t channels,
		     struct vd_dsp_ramp *r);

#endif
