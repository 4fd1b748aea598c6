/* audio/chmap.c - the standard up/down-mix matrix between two channel maps. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include <virtdsp/convert.h>

/* -3 dB, the equal-power share of a channel folded into two others. */
#define M3DB 0.70710678118654752440f

struct mix {
	const uint8_t *out_pos;
	uint32_t out_ch;
	uint32_t in;		/* input column being routed */
	uint32_t in_ch;
	float *m;
};

static bool out_has(const struct mix *x, uint8_t pos)
{
	for (uint32_t o = 0; o < x->out_ch; o++)
		if (x->out_pos[o] == pos)
			return true;
	return false;
}

/* Add @gain to every output at @pos; false if there is none. */
static bool add(struct mix *x, uint8_t pos, float gain)
{
	bool any = false;

	for (uint32_t o = 0; o < x->out_ch; o++) {
		if (x->out_pos[o] == pos) {
			x->m[o * x->in_ch + x->in] += gain;
			any = true;
		}
	}
	return any;
}

/* A pair of outputs (left/right) each at @gain, if both or either exist. */
static bool add_pair(struct mix *x, uint8_t l, uint8_t r, float gain)
{
	bool a = add(x, l, gain);
	bool b = add(x, r, gain);

	return a || b;
}

/*
 * Route one input position. Exact matches win; otherwise each position
 * falls back to the nearest speakers that exist. Top-layer channels fold
 * into the layer below, whose rules then apply.
 */
static void route(struct mix *x, uint8_t pos, float gain)
{
	if (pos != VD_CH_UNKNOWN && add(x, pos, gain))
		return;

	switch (pos) {
	case VD_CH_MONO:
		if (add_pair(x, VD_CH_FL, VD_CH_FR, gain))
			return;
		for (uint32_t o = 0; o < x->out_ch; o++)
			if (x->out_pos[o] != VD_CH_LFE)
				x->m[o * x->in_ch + x->in] += gain;
		return;
	case VD_CH_FL:
	case VD_CH_FR:
		add(x, VD_CH_FC, gain * M3DB);
		return;
	case VD_CH_FC:
		add_pair(x, VD_CH_FL, VD_CH_FR, gain * M3DB);
		return;
	case VD_CH_RL:
		if (!add(x, VD_CH_SL, gain))
			add(x, VD_CH_FL, gain * M3DB);
		return;
	case VD_CH_RR:
		if (!add(x, VD_CH_SR, gain))
			add(x, VD_CH_FR, gain * M3DB);
		return;
	case VD_CH_SL:
		if (!add(x, VD_CH_RL, gain))
			add(x, VD_CH_FL, gain * M3DB);
		return;
	case VD_CH_SR:
		if (!add(x, VD_CH_RR, gain))
			add(x, VD_CH_FR, gain * M3DB);
		return;
	case VD_CH_RC:
		if (!add_pair(x, VD_CH_RL, VD_CH_RR, gain * M3DB) &&
		    !add_pair(x, VD_CH_SL, VD_CH_SR, gain * M3DB))
			add_pair(x, VD_CH_FL, VD_CH_FR, gain * M3DB);
		return;
	case VD_CH_FLC:
		route(x, VD_CH_FL, gain);
		return;
	case VD_CH_FRC:
		route(x, VD_CH_FR, gain);
		return;
	case VD_CH_TFL:
		route(x, VD_CH_FL, gain);
		return;
	case VD_CH_TFR:
		route(x, VD_CH_FR, gain);
		return;
	case VD_CH_TFC:
	case VD_CH_TC:
		route(x, VD_CH_FC, gain);
		return;
	case VD_CH_TRL:
		route(x, VD_CH_RL, gain);
		return;
	case VD_CH_TRR:
		route(x, VD_CH_RR, gain);
		return;
	case VD_CH_TRC:
		route(x, VD_CH_RC, gain);
		return;
	default:
		/* LFE without an LFE output, UNKNOWN and AUXn have no fallback. */
		return;
	}
}

int vd_channel_matrix(const uint8_t *out_pos, uint32_t out_ch,
		      const uint8_t *in_pos, uint32_t in_ch,
		      bool normalize, float *m)
{
	struct mix x = { .out_pos = out_pos, .out_ch = out_ch, .in_ch = in_ch, .m = m };
	bool in_mono = false;
	uint32_t mono_sources = 0;

	if (!out_pos || !in_pos || !m || out_ch == 0 || in_ch == 0 ||
	    out_ch > VD_MAX_CHANNELS || in_ch > VD_MAX_CHANNELS)
		return -EINVAL;
	for (uint32_t i = 0; i < out_ch; i++)
		if (out_pos[i] >= VD_CH_POSITION_COUNT)
			return -EINVAL;
	for (uint32_t i = 0; i < in_ch; i++) {
		if (in_pos[i] >= VD_CH_POSITION_COUNT)
			return -EINVAL;
		if (in_pos[i] == VD_CH_MONO)
			in_mono = true;
		else if (in_pos[i] != VD_CH_LFE)
			mono_sources++;
	}

	memset(m, 0, sizeof(float) * out_ch * in_ch);

	/* A mono output with no mono input is the average of the non-LFE inputs. */
	if (!in_mono && mono_sources > 0 && out_has(&x, VD_CH_MONO)) {
		for (uint32_t o = 0; o < out_ch; o++) {
			if (out_pos[o] != VD_CH_MONO)
				continue;
			for (uint32_t i = 0; i < in_ch; i++)
				if (in_pos[i] != VD_CH_LFE)
					m[o * in_ch + i] = 1.0f / (float)mono_sources;
		}
	}

	for (x.in = 0; x.in < in_ch; x.in++)
		route(&x, in_pos[x.in], 1.0f);

	if (normalize) {
		for (uint32_t o = 0; o < out_ch; o++) {
			float *row = m + o * in_ch;
			double sum = 0.0;

			for (uint32_t i = 0; i < in_ch; i++)
				sum += fabsf(row[i]);
			if (sum > 1.0) {
				for (uint32_t i = 0; i < in_ch; i++)
					row[i] = (float)(row[i] / sum);
			}
		}
	}
	return 0;
}
