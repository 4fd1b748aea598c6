/* src/dsp/src/design.c - filter design for the sample-rate converter: presets, Kaiser-windowed sinc, lengths. */
#include <math.h>

#include "src-impl.h"

/*
 * Transition half-widths of a Kaiser-windowed sinc, in units of 1/length:
 * xs_n is where the stop band stays below atten_db, xp_n where the pass band
 * has left 1 by 2.5e-4 (0.002 dB). They were measured numerically (dense
 * frequency sweep, double precision) and given a 2% margin. The cutoff sits
 * between the two, closer to the pass edge, since the spec's pass-band
 * tolerance is far looser than its stop band.
 */
const struct src_preset src_presets[VD_RESAMPLE_QUALITY_COUNT] = {
	[VD_RESAMPLE_LOW] = {
		.name = "low", .pass = 0.80, .atten_db = 84.0,
		.xs_n = 2.91, .xp_n = 2.61, .min_phases = 64, .dbl = false, .halfband = true,
	},
	[VD_RESAMPLE_MEDIUM] = {
		.name = "medium", .pass = 0.85, .atten_db = 110.0,
		.xs_n = 3.79, .xp_n = 3.26, .min_phases = 128, .dbl = false, .halfband = true,
	},
	[VD_RESAMPLE_HIGH] = {
		.name = "high", .pass = 0.90, .atten_db = 138.0,
		.xs_n = 4.77, .xp_n = 3.82, .min_phases = 256, .dbl = false, .halfband = true,
	},
	[VD_RESAMPLE_VERY_HIGH] = {
		.name = "very-high", .pass = 0.90, .atten_db = 162.0,
		.xs_n = 6.00, .xp_n = 4.25, .min_phases = 512, .dbl = true,
		/* A half-band here would push 48->16 kHz past 7 ms of latency. */
		.halfband = false,
	},
};

static double bessel_i0(double x)
{
	double sum = 1.0, term = 1.0, q = x * x / 4.0;

	for (int k = 1; k < 500; k++) {
		term *= q / ((double)k * k);
		sum += term;
		if (term < sum * 1e-21)
			break;
	}
	return sum;
}

double src_kaiser_beta(double a)
{
	if (a > 50.0)
		return 0.1102 * (a - 8.7);
	if (a >= 21.0)
		return 0.5842 * pow(a - 21.0, 0.4) + 0.07886 * (a - 21.0);
	return 0.0;
}

double src_kaiser_sinc(double tau, double fc, double h, double beta)
{
	double r = tau / h, s;

	if (r <= -1.0 || r >= 1.0)
		return 0.0;
	if (fabs(tau) < 1e-300)
		s = 2.0 * fc;
	else
		s = sin(2.0 * M_PI * fc * tau) / (M_PI * tau);
	return s * bessel_i0(beta * sqrt(1.0 - r * r)) / bessel_i0(beta);
}

void src_design(const struct src_filter_spec *spec, uint32_t *half, double *fc)
{
	double width = spec->fstop - spec->fpass;
	double n = (spec->xs_n + spec->xp_n) / width;
	uint32_t h = (uint32_t)ceil(n / 2.0);

	/* Taps = 2h must fill whole SIMD blocks; the extra length only helps. */
	uint32_t mult = spec->half_mult ? spec->half_mult : SRC_TAP_MULT / 2;
	h = (h + mult - 1) / mult * mult;
	if (h < SRC_TAP_MULT / 2)
		h = SRC_TAP_MULT / 2;
	*half = h;
	/* Window length is 2h+1 in the units xs_n/xp_n were measured in. */
	double len = 2.0 * h + 1.0;
	double lo = spec->fpass + spec->xp_n / len, hi = spec->fstop - spec->xs_n / len;
	*fc = (lo + hi) / 2.0;
}
