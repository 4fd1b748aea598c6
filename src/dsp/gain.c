/* dsp/gain.c - gain application with linear ramps, shared by volume and mixer. */
#include <string.h>

#include "dsp/dsp.h"

/* Frames of a ramp: per-frame gain, stepping before each frame so the last frame gets the target. */
static uint32_t ramp_f32(float *dst, const float *src, uint32_t frames, uint32_t channels,
			 struct vd_dsp_ramp *r, bool accumulate)
{
	uint32_t n = frames < r->left ? frames : r->left;

	for (uint32_t f = 0; f < n; f++) {
		float g;

		r->cur += r->step;
		if (--r->left == 0)
			r->cur = r->target;
		g = (float)r->cur;
		if (accumulate) {
			for (uint32_t c = 0; c < channels; c++)
				dst[c] += g * src[c];
		} else {
			for (uint32_t c = 0; c < channels; c++)
				dst[c] = g * src[c];
		}
		dst += channels;
		src += channels;
	}
	return n;
}

void vd_dsp_gain_f32(float *dst, const float *src, uint32_t frames, uint32_t channels,
		     struct vd_dsp_ramp *r, bool accumulate)
{
	uint32_t done = 0;
	size_t n;
	float g;

	if (r->left > 0)
		done = ramp_f32(dst, src, frames, channels, r, accumulate);
	if (done == frames || channels == 0)
		return;
	dst += (size_t)done * channels;
	src += (size_t)done * channels;
	n = (size_t)(frames - done) * channels;
	g = (float)r->cur;
	if (accumulate) {
		if (g == 1.0f) {
			for (size_t i = 0; i < n; i++)
				dst[i] += src[i];
		} else if (g != 0.0f) {
			for (size_t i = 0; i < n; i++)
				dst[i] += g * src[i];
		}
	} else if (g == 1.0f) {
		if (dst != src)
			memmove(dst, src, n * sizeof(float));
	} else if (g == 0.0f) {
		memset(dst, 0, n * sizeof(float));
	} else {
		for (size_t i = 0; i < n; i++)
			dst[i] = g * src[i];
	}
}

void vd_dsp_gain_f64(double *dst, const double *src, uint32_t frames, uint32_t channels,
		     struct vd_dsp_ramp *r)
{
	size_t n;
	double g;

	for (; frames > 0 && r->left > 0; frames--) {
		r->cur += r->step;
		if (--r->left == 0)
			r->cur = r->target;
		for (uint32_t c = 0; c < channels; c++)
			dst[c] = r->cur * src[c];
		dst += channels;
		src += channels;
	}
	n = (size_t)frames * channels;
	if (n == 0)
		return;
	g = r->cur;
	if (g == 1.0) {
		if (dst != src)
			memmove(dst, src, n * sizeof(double));
	} else if (g == 0.0) {
		memset(dst, 0, n * sizeof(double));
	} else {
		for (size_t i = 0; i < n; i++)
			dst[i] = g * src[i];
	}
}
