/* tests/common/analysis.c - sine fitting, tone levels and alignment in double precision. */
#include <math.h>
#include <string.h>

#include "analysis.h"

/* Least-squares fit of a*cos + b*sin + c at angular step w; returns residual energy. */
static double fit_at(const double *x, size_t n, double w, double *a, double *b, double *c)
{
	/* Normal equations for [cos, sin, 1]; sums by recurrence for speed, in long double. */
	long double scc = 0, sss = 0, ssc = 0, sc = 0, ss = 0, s1 = (long double)n;
	long double xc = 0, xs = 0, x1 = 0;

	for (size_t i = 0; i < n; i++) {
		double ph = w * (double)i;
		double co = cos(ph), si = sin(ph);
		scc += co * co; sss += si * si; ssc += si * co;
		sc += co; ss += si;
		xc += x[i] * co; xs += x[i] * si; x1 += x[i];
	}
	/* Solve 3x3 by Cramer's rule. */
	long double m[3][3] = { { scc, ssc, sc }, { ssc, sss, ss }, { sc, ss, s1 } };
	long double r[3] = { xc, xs, x1 };
	long double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
		- m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
		+ m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
	long double sol[3];
	for (int k = 0; k < 3; k++) {
		long double t[3][3];
		memcpy(t, m, sizeof(t));
		for (int j = 0; j < 3; j++)
			t[j][k] = r[j];
		sol[k] = (t[0][0] * (t[1][1] * t[2][2] - t[1][2] * t[2][1])
			- t[0][1] * (t[1][0] * t[2][2] - t[1][2] * t[2][0])
			+ t[0][2] * (t[1][0] * t[2][1] - t[1][1] * t[2][0])) / det;
	}
	*a = (double)sol[0];
	*b = (double)sol[1];
	*c = (double)sol[2];
	long double e = 0;
	for (size_t i = 0; i < n; i++) {
		double ph = w * (double)i;
		double d = x[i] - (*a * cos(ph) + *b * sin(ph) + *c);
		e += d * d;
	}
	return (double)e;
}

/* Remove harmonics 2..5 from residual r (in place), by least squares per harmonic. */
static double remove_harmonics(double *r, size_t n, double w)
{
	for (int h = 2; h <= 5; h++) {
		double wh = w * h;
		if (wh >= M_PI * 0.999)
			break;
		double a, b, c;
		fit_at(r, n, wh, &a, &b, &c);
		for (size_t i = 0; i < n; i++) {
			double ph = wh * (double)i;
			r[i] -= a * cos(ph) + b * sin(ph) + c;
		}
	}
	long double e = 0;
	for (size_t i = 0; i < n; i++)
		e += (long double)r[i] * r[i];
	return (double)e;
}

#include <stdlib.h>

/* Final fit at @freq: fundamental, THD+N, then SNR after harmonics; x is consumed as scratch. */
static void fill_fit(double *x, size_t n, double rate, double freq, struct vd_sine_fit *fit)
{
	double a, b, c, w = 2 * M_PI * freq / rate;
	double resid = fit_at(x, n, w, &a, &b, &c);
	double amp = sqrt(a * a + b * b);
	double sig = amp * amp / 2 * (double)n;

	for (size_t i = 0; i < n; i++) {
		double ph = w * (double)i;
		x[i] -= a * cos(ph) + b * sin(ph) + c;
	}
	double noise = remove_harmonics(x, n, w);
	fit->freq = freq;
	fit->amplitude = amp;
	fit->phase = atan2(-b, a);
	fit->dc = c;
	fit->thdn_db = 10 * log10((resid + 1e-300) / sig);
	fit->snr_db = -10 * log10((noise + 1e-300) / sig);
}

static int sine_fit_d(const double *xs, size_t n, size_t stride, double rate, double freq_guess,
		      double rel_range, struct vd_sine_fit *fit)
{
	double *x = malloc(n * sizeof(double));
	double a, b, c;

	if (!x || n < 16)
		return free(x), -1;
	for (size_t i = 0; i < n; i++)
		x[i] = xs[i * stride];
	/* Golden-section search of the residual over +-0.5% of the guess. */
	double lo = freq_guess * (1.0 - rel_range), hi = freq_guess * (1.0 + rel_range);
	const double g = (sqrt(5.0) - 1) / 2;
	double f1 = hi - g * (hi - lo), f2 = lo + g * (hi - lo);
	double e1 = fit_at(x, n, 2 * M_PI * f1 / rate, &a, &b, &c);
	double e2 = fit_at(x, n, 2 * M_PI * f2 / rate, &a, &b, &c);
	for (int it = 0; it < 60 && (hi - lo) > freq_guess * 1e-13; it++) {
		if (e1 < e2) {
			hi = f2; f2 = f1; e2 = e1;
			f1 = hi - g * (hi - lo);
			e1 = fit_at(x, n, 2 * M_PI * f1 / rate, &a, &b, &c);
		} else {
			lo = f1; f1 = f2; e1 = e2;
			f2 = lo + g * (hi - lo);
			e2 = fit_at(x, n, 2 * M_PI * f2 / rate, &a, &b, &c);
		}
	}
	fill_fit(x, n, rate, (lo + hi) / 2, fit);
	free(x);
	return 0;
}

int vd_sine_fit_d(const double *xs, size_t n, size_t stride, double rate, double freq_guess,
		  struct vd_sine_fit *fit)
{
	return sine_fit_d(xs, n, stride, rate, freq_guess, 0.005, fit);
}

int vd_sine_fit_range(const float *x, size_t n, size_t stride, double rate, double freq_guess,
		      double rel_range, struct vd_sine_fit *fit)
{
	double *d = malloc(n * sizeof(double));
	int r;

	if (!d)
		return -1;
	for (size_t i = 0; i < n; i++)
		d[i] = x[i * stride];
	r = sine_fit_d(d, n, 1, rate, freq_guess, rel_range, fit);
	free(d);
	return r;
}

int vd_sine_fit(const float *x, size_t n, size_t stride, double rate, double freq_guess,
		struct vd_sine_fit *fit)
{
	double *d = malloc(n * sizeof(double));
	int r;

	if (!d)
		return -1;
	for (size_t i = 0; i < n; i++)
		d[i] = x[i * stride];
	r = vd_sine_fit_d(d, n, 1, rate, freq_guess, fit);
	free(d);
	return r;
}

double vd_tone_amplitude(const float *x, size_t n, size_t stride, double rate, double freq)
{
	/* Direct DFT bin at exactly @freq with a Hann window (sum of window = n/2). */
	long double re = 0, im = 0;
	double w = 2 * M_PI * freq / rate;

	for (size_t i = 0; i < n; i++) {
		double win = 0.5 - 0.5 * cos(2 * M_PI * (double)i / (double)(n - 1));
		double v = x[i * stride] * win;
		re += v * cos(w * (double)i);
		im -= v * sin(w * (double)i);
	}
	double wsum = 0;
	for (size_t i = 0; i < n; i++)
		wsum += 0.5 - 0.5 * cos(2 * M_PI * (double)i / (double)(n - 1));
	return 2.0 * sqrt((double)(re * re + im * im)) / wsum;
}

double vd_rms(const float *x, size_t n, size_t stride)
{
	long double s = 0;

	for (size_t i = 0; i < n; i++)
		s += (long double)x[i * stride] * x[i * stride];
	return n ? sqrt((double)(s / n)) : 0.0;
}

double vd_peak(const float *x, size_t n, size_t stride)
{
	double p = 0;

	for (size_t i = 0; i < n; i++)
		if (fabs(x[i * stride]) > p)
			p = fabs(x[i * stride]);
	return p;
}

long vd_align(const float *a, size_t na, const float *b, size_t nb, size_t stride, long max_lag)
{
	long best = 0;
	double best_c = -1e300;

	for (long lag = -max_lag; lag <= max_lag; lag++) {
		long double c = 0;
		for (size_t i = 0; i < na; i++) {
			long j = (long)i + lag;
			if (j < 0 || (size_t)j >= nb)
				continue;
			c += (long double)a[i * stride] * b[(size_t)j * stride];
		}
		if ((double)c > best_c) {
			best_c = (double)c;
			best = lag;
		}
	}
	return best;
}

void vd_gen_sine(float *x, size_t n, unsigned channels, double rate, double freq, double amp, double phase)
{
	for (size_t i = 0; i < n; i++) {
		float v = (float)(amp * sin(2 * M_PI * freq * (double)i / rate + phase));
		for (unsigned c = 0; c < channels; c++)
			x[i * channels + c] = v;
	}
}

double vd_db(double ratio)
{
	return 20.0 * log10(ratio);
}

/* ---- Converter measurements (added for bench/bench_src.c) ---- */

int vd_sine_fit_fixed(const float *xs, size_t n, size_t stride, double rate, double freq,
		      struct vd_sine_fit *fit)
{
	double *x = malloc(n * sizeof(double));

	if (!x || n < 16)
		return free(x), -1;
	for (size_t i = 0; i < n; i++)
		x[i] = xs[i * stride];
	fill_fit(x, n, rate, freq, fit);
	free(x);
	return 0;
}

/* Modified Bessel function of the first kind, order 0 (power series; converges for any x). */
static double bessel_i0(double x)
{
	double sum = 1, term = 1, q = x * x / 4;

	for (int k = 1; k < 500 && term > sum * 1e-17; k++) {
		term *= q / ((double)k * k);
		sum += term;
	}
	return sum;
}

/* In-place iterative radix-2 FFT; twiddles from cos/sin directly, so rounding stays near 1e-16. */
static void fft(double *re, double *im, size_t n, const double *cs, const double *sn)
{
	for (size_t i = 1, j = 0; i < n; i++) {
		size_t bit = n >> 1;
		for (; j & bit; bit >>= 1)
			j ^= bit;
		j |= bit;
		if (i < j) {
			double t = re[i]; re[i] = re[j]; re[j] = t;
			t = im[i]; im[i] = im[j]; im[j] = t;
		}
	}
	for (size_t len = 2; len <= n; len <<= 1) {
		size_t step = n / len;
		for (size_t i = 0; i < n; i += len) {
			for (size_t k = 0; k < len / 2; k++) {
				double wr = cs[k * step], wi = -sn[k * step];
				size_t p = i + k, q = p + len / 2;
				double tr = re[q] * wr - im[q] * wi, ti = re[q] * wi + im[q] * wr;
				re[q] = re[p] - tr; im[q] = im[p] - ti;
				re[p] += tr; im[p] += ti;
			}
		}
	}
}

int vd_spectrum_db(const float *x, size_t n, size_t stride, double beta, double *out_db)
{
	if (n < 16 || (n & (n - 1)))
		return -1;
	double *buf = malloc(4 * n * sizeof(double));
	if (!buf)
		return -1;
	double *re = buf, *im = buf + n, *cs = buf + 2 * n, *sn = buf + 3 * n;
	double wsum = 0, i0b = bessel_i0(beta);

	for (size_t i = 0; i < n / 2; i++) {
		cs[i] = cos(2 * M_PI * (double)i / (double)n);
		sn[i] = sin(2 * M_PI * (double)i / (double)n);
	}
	for (size_t i = 0; i < n; i++) {
		double r = 2.0 * (double)i / (double)(n - 1) - 1.0;
		double w = bessel_i0(beta * sqrt(fmax(0.0, 1.0 - r * r))) / i0b;
		wsum += w;
		re[i] = x[i * stride] * w;
		im[i] = 0;
	}
	fft(re, im, n, cs, sn);
	for (size_t k = 0; k <= n / 2; k++) {
		double mag = 2.0 * sqrt(re[k] * re[k] + im[k] * im[k]) / wsum;
		out_db[k] = 20.0 * log10(mag + 1e-30);
	}
	free(buf);
	return 0;
}
