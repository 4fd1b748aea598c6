/* src/dsp/src/design.c - filter design for the sample-rate converter: presets, Kaiser-windowed sinc, equiripple (Remez) prototypes, lengths. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

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
		.equiripple = true,
	},
	[VD_RESAMPLE_VERY_HIGH] = {
		.name = "very-high", .pass = 0.90, .atten_db = 162.0,
		.xs_n = 6.00, .xp_n = 4.25, .min_phases = 512, .dbl = true,
		/* A half-band here would push 48->16 kHz past 7 ms of latency. */
		.halfband = false,
	},
};

/*
 * An equiripple stop band does not fall away from its edge as a window's
 * does: every image and alias sits at the full deviation (four images of a
 * tone add 6 dB), so its design goes this much below the preset's figure.
 * Measured at high: 6 dB left 44.1->48 kHz at 137.7 dB SNR, 10 dB 139.5 dB,
 * for about 2% more taps.
 */
#define SRC_EQ_MARGIN_DB	10.0

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

/*
 * Equiripple (minimax) linear-phase lowpass by the Remez exchange in its
 * barycentric form: type I, 2J+1 taps, pass [0, fp] (weight 1), stop
 * [fs, 0.5] (weight @wstop), frequencies in cycles per sample. The
 * response is a polynomial of degree J in x = cos(2 pi f), fitted on a
 * dense grid of both bands.
 */
#define REMEZ_DENSITY	12
#define REMEZ_ITER	60

/* The weights below through logarithms, for badly spread points. */
static void bary_weights_log(const double *x, size_t n, double *w)
{
	double top = -INFINITY;

	for (size_t i = 0; i < n; i++) {
		double lg = 0.0;
		for (size_t j = 0; j < n; j++)
			if (j != i)
				lg -= log(2.0 * fabs(x[i] - x[j]));
		w[i] = lg;
		top = lg > top ? lg : top;
	}
	for (size_t i = 0; i < n; i++) {
		int neg = 0;
		for (size_t j = 0; j < n; j++)
			neg ^= j != i && x[i] < x[j];
		w[i] = neg ? -exp(w[i] - top) : exp(w[i] - top);
	}
}

/*
 * w[i] = 1 / prod_{j != i} 2 (x[i] - x[j]): the common factor 2^-(n-1)
 * cancels in every use, and keeps the products of points spread over
 * [-1, 1] (the interval's capacity is 1/2) near 1 instead of over- or
 * underflowing.
 */
static void bary_weights(const double *x, size_t n, double *w)
{
	for (size_t i = 0; i < n; i++) {
		double p = 1.0;
		for (size_t j = 0; j < n; j++)
			if (j != i)
				p *= 2.0 * (x[i] - x[j]);
		w[i] = 1.0 / p;
	}
	for (size_t i = 0; i < n; i++)
		if (!isnormal(w[i])) {
			bary_weights_log(x, n, w);
			return;
		}
}

/* The interpolant through (x[i], c[i]), i < n, at @t. */
static double bary_eval(const double *x, const double *w, const double *c, size_t n, double t)
{
	double num = 0.0, den = 0.0;

	for (size_t i = 0; i < n; i++) {
		double d = t - x[i];
		if (d == 0.0)
			return c[i];
		num += w[i] / d * c[i];
		den += w[i] / d;
	}
	return num / den;
}

int src_remez_lowpass(uint32_t J, double fp, double fs, double wstop, double *h, double *dev)
{
	if (J < 1 || !(fp > 0.0 && fp < fs && fs < 0.5 && wstop > 0.0))
		return -EINVAL;
	const size_t r = (size_t)J + 1;
	const double step = 0.5 / (REMEZ_DENSITY * (double)r);
	size_t np = (size_t)ceil(fp / step) + 1, ns = (size_t)ceil((0.5 - fs) / step) + 1, ng = np + ns;
	double *gx = malloc(ng * sizeof(double)), *gd = malloc(ng * sizeof(double));
	double *gw = malloc(ng * sizeof(double)), *err = malloc(ng * sizeof(double));
	size_t *ext = malloc((r + 1) * sizeof(size_t)), *cand = malloc(ng * sizeof(size_t));
	double *ex = malloc((r + 1) * sizeof(double)), *bw = malloc((r + 1) * sizeof(double));
	double *c = malloc((r + 1) * sizeof(double)), *cw = malloc(r * sizeof(double));
	double delta = 0.0, worst = INFINITY;
	int ret = -ENOMEM;

	if (!gx || !gd || !gw || !err || !ext || !cand || !ex || !bw || !c || !cw)
		goto out;
	ret = -EINVAL;
	if (ng < 2 * (r + 1))
		goto out;	/* bands too narrow to hold the extrema */
	for (size_t i = 0; i < ng; i++) {
		bool pass = i < np;
		double f = pass ? fp * (double)i / (double)(np - 1)
				: fs + (0.5 - fs) * (double)(i - np) / (double)(ns - 1);
		gx[i] = cos(2.0 * M_PI * f);
		gd[i] = pass ? 1.0 : 0.0;
		gw[i] = pass ? 1.0 : wstop;
	}
	for (size_t i = 0; i <= r; i++)
		ext[i] = i * (ng - 1) / r;
	ret = -EDOM;
	for (int it = 0; it < REMEZ_ITER; it++) {
		for (size_t i = 0; i <= r; i++)
			ex[i] = gx[ext[i]];
		bary_weights(ex, r + 1, bw);
		double num = 0.0, den = 0.0;
		for (size_t i = 0; i <= r; i++) {
			num += bw[i] * gd[ext[i]];
			den += bw[i] * ((i & 1) ? -1.0 : 1.0) / gw[ext[i]];
		}
		delta = num / den;
		for (size_t i = 0; i <= r; i++)
			c[i] = gd[ext[i]] - ((i & 1) ? -1.0 : 1.0) * delta / gw[ext[i]];
		bary_weights(ex, r, cw);
		double emax = 0.0;
		for (size_t i = 0; i < ng; i++) {
			err[i] = gw[i] * (gd[i] - bary_eval(ex, cw, c, r, gx[i]));
			if (fabs(err[i]) > emax)
				emax = fabs(err[i]);
		}
		worst = emax;
		if (emax - fabs(delta) <= 1e-6 * fabs(delta)) {
			ret = 0;
			break;
		}
		/* Local extrema at least |delta|, alternating; the larger of equal signs. */
		size_t nc = 0;
		for (size_t i = 0; i < ng; i++) {
			bool first = i == 0 || i == np, last = i + 1 == np || i + 1 == ng;
			double e = err[i];
			/* (The reference points themselves sit at |delta|, give or
			 * take rounding.) */
			if (fabs(e) < fabs(delta) * (1.0 - 1e-3))
				continue;
			if (e > 0.0 ? (!first && e < err[i - 1]) || (!last && e <= err[i + 1])
				    : (!first && e > err[i - 1]) || (!last && e >= err[i + 1]))
				continue;
			if (nc && (err[cand[nc - 1]] > 0.0) == (e > 0.0)) {
				if (fabs(e) > fabs(err[cand[nc - 1]]))
					cand[nc - 1] = i;
				continue;
			}
			cand[nc++] = i;
		}
		size_t lo = 0;
		while (nc - lo > r + 1) {
			if (fabs(err[cand[lo]]) < fabs(err[cand[nc - 1]]))
				lo++;
			else
				nc--;
		}
		if (nc - lo == r + 1) {
			for (size_t i = 0; i <= r; i++)
				ext[i] = cand[lo + i];
			continue;
		}
		/* Too few (rounding while delta is tiny): move each point to the
		 * largest error of its own sign between its neighbours instead,
		 * which keeps the alternation and cannot lower |delta|. */
		for (size_t i = 0; i <= r; i++) {
			double sg = ((i & 1) ? -1.0 : 1.0) * (delta < 0.0 ? -1.0 : 1.0);
			size_t a = i ? (ext[i - 1] + ext[i]) / 2 + 1 : 0;
			size_t b = i < r ? (ext[i] + ext[i + 1]) / 2 : ng - 1;
			size_t best = ext[i];
			for (size_t j = a; j <= b; j++)
				if (sg * err[j] > sg * err[best])
					best = j;
			cand[i] = best;
		}
		for (size_t i = 0; i <= r; i++)
			ext[i] = cand[i];
	}
	if (ret == -EDOM && isfinite(worst))
		ret = 0;	/* not fully level: the caller checks the deviation */
	/* Taps from the response sampled at k / (2J+1) (inverse DFT of a real, even sequence). */
	const uint32_t n = 2 * J + 1;
	for (uint32_t k = 0; k <= J; k++)
		err[k] = bary_eval(ex, cw, c, r, cos(2.0 * M_PI * k / n));
	for (uint32_t m = 0; m <= J; m++) {
		double s = err[0];
		for (uint32_t k = 1; k <= J; k++)
			s += 2.0 * err[k] * cos(2.0 * M_PI * (double)((uint64_t)k * m % n) / n);
		h[J + m] = h[J - m] = s / n;
	}
	/* The worst weighted error on a grid 4x as dense: the design grid
	 * alone misses up to ~5% of the peaks between its points. */
	for (size_t i = 0; i < 4 * ng; i++) {
		double f = (double)i / (4.0 * (double)ng - 1.0) * 0.5;
		bool pass = f <= fp;
		if (!pass && f < fs)
			continue;
		double e = fabs((pass ? 1.0 : wstop) * ((pass ? 1.0 : 0.0) - bary_eval(ex, cw, c, r, cos(2.0 * M_PI * f))));
		if (e > worst)
			worst = e;
	}
	*dev = worst;
out:
	free(gx);
	free(gd);
	free(gw);
	free(err);
	free(ext);
	free(cand);
	free(ex);
	free(bw);
	free(c);
	free(cw);
	return ret;
}

/*
 * An equiripple prototype for a stage whose phases are continuous (drift,
 * interpolated rows): the discrete minimax filter c at K samples per input
 * sample, made continuous by a Nyquist Kaiser interpolator g (cutoff K/2,
 * g(n/K) = [n == 0]): h(t) = sum_n c[n] g(t - (n - J)/K). Since g is 1 at
 * 0 and 0 at every other multiple of 1/K, h(n/K) is c itself: rows at
 * multiples of 1/K cost no extra taps. g passes what c passes (to fs) and
 * stops from K - fs on, where c's first image starts, so the continuous
 * response is c's, band for band. K = 2 where c alone would have no stop
 * band to spare (fs near 0.5).
 */
int src_proto_design(const struct src_filter_spec *spec, struct src_proto *p)
{
	const double dp = 2.5e-4, ds = pow(10.0, -(spec->atten_db + SRC_EQ_MARGIN_DB) / 20.0);
	const uint32_t K = spec->fstop <= 0.3 ? 1 : 2;
	const double fp = spec->fpass / K, fs = spec->fstop / K;
	/* Herrmann's estimate of the length, then up until the deviation fits. */
	double est = (-10.0 * log10(dp * ds) - 13.0) / (14.6 * (fs - fp)) + 1.0;
	/* Measured: the deviation fits at J = est/2 (+-1) for these specs. */
	uint32_t J = est > 6.0 ? (uint32_t)(est / 2.0) - 1 : 2;
	int ret;

	*p = (struct src_proto){ .K = K };
	for (int tries = 0; tries < 40; tries++) {
		double dev;
		double *c = malloc((2 * (size_t)J + 1) * sizeof(double));
		if (!c)
			return -ENOMEM;
		ret = src_remez_lowpass(J, fp, fs, dp / ds, c, &dev);
		if (ret == 0 && dev <= dp) {
			p->c = c;
			p->J = J;
			break;
		}
		free(c);
		J++;
	}
	if (!p->c)
		return -EDOM;	/* the caller falls back to the windowed sinc */
	double sum = 0.0;
	for (uint32_t n = 0; n <= 2 * J; n++)
		sum += p->c[n];
	/* Unity gain at DC for h (g's own gain is 1/K per tap of c); rows are
	 * normalised again when the table is built. */
	for (uint32_t n = 0; n <= 2 * J; n++)
		p->c[n] *= K / sum;
	/* g's transition half-width is K/2 - fs (cycles per input sample).
	 * It stops c's images at c's depth: its window is the preset's
	 * measured half-width lengthened in proportion to the Kaiser length
	 * formula (attenuation - 7.95), with a 10% margin. */
	p->beta = src_kaiser_beta(spec->atten_db + SRC_EQ_MARGIN_DB);
	p->hg = 1.1 * spec->xs_n * (spec->atten_db + SRC_EQ_MARGIN_DB - 7.95) / (spec->atten_db - 7.95) /
		(2.0 * (K / 2.0 - spec->fstop));
	p->half_len = (double)J / K + p->hg;
	if (2.0 * K * p->hg + 2.0 > SRC_PROTO_GMAX) {
		src_proto_free(p);
		return -EDOM;
	}
	return 0;
}

void src_proto_free(struct src_proto *p)
{
	free(p->c);
	p->c = NULL;
}

void src_proto_row(const struct src_proto *p, double t0, uint32_t taps, double *out)
{
	const int64_t K = p->K, J = p->J;
	const double kt = (double)K * t0;
	/* g(t0 - j/K) is nonzero only for j within K hg of K t0 (and, at a
	 * multiple of 1/K, only there). */
	int64_t a = (int64_t)ceil(kt - K * p->hg), b = (int64_t)floor(kt + K * p->hg);
	double gv[SRC_PROTO_GMAX];

	if (kt == floor(kt))
		a = b = (int64_t)kt;
	for (int64_t j = a; j <= b; j++) {
		double u = kt - (double)j;	/* K (t0 - j/K) */
		gv[j - a] = u == 0.0 ? 1.0 : src_kaiser_sinc(u / K, K / 2.0, p->hg, p->beta) / K;
	}
	for (uint32_t k = 0; k < taps; k++) {
		/* h(t0 - k) = sum_n c[n] g(t0 - k - (n - J)/K), i.e. n = j - K k + J. */
		double s = 0.0;
		for (int64_t j = a; j <= b; j++) {
			int64_t n = j - K * k + J;
			if (n >= 0 && n <= 2 * J)
				s += p->c[n] * gv[j - a];
		}
		out[k] = s;
	}
}
