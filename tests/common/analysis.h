/* tests/common/analysis.h - the project's own signal analyser (tests and benchmarks).
 *
 * Measures what "not sample-exact" audio is judged by: level, SNR and
 * THD+N from a least-squares sine fit with frequency refinement, the gain
 * of one frequency (Goertzel), and alignment by cross-correlation.
 * Everything is double precision so a 150 dB floor is measurable.
 */
#ifndef VD_TEST_ANALYSIS_H
#define VD_TEST_ANALYSIS_H

#include <stddef.h>

struct vd_sine_fit {
	double freq;		/* refined frequency, Hz */
	double amplitude;	/* of the fundamental */
	double phase;		/* radians at sample 0 */
	double dc;
	double thdn_db;		/* residual after the fundamental (+DC), dB relative to it (negative) */
	double snr_db;		/* residual after fundamental and harmonics 2..5, dB below the fundamental (positive) */
};

/** Fit x[0..n) (stride @stride) around @freq_guess; refines frequency within +-0.5%. */
int vd_sine_fit(const float *x, size_t n, size_t stride, double rate, double freq_guess,
		struct vd_sine_fit *fit);
/**
 * Like vd_sine_fit() with the refinement limited to +-@rel_range of the guess
 * (the search assumes one minimum in range: over n samples the residual's dip
 * is about rate/n wide, so a known frequency wants a range well below that).
 */
int vd_sine_fit_range(const float *x, size_t n, size_t stride, double rate, double freq_guess,
		      double rel_range, struct vd_sine_fit *fit);
int vd_sine_fit_d(const double *x, size_t n, size_t stride, double rate, double freq_guess,
		  struct vd_sine_fit *fit);

/** Amplitude of @freq in x (Goertzel over a Hann window, amplitude-corrected). */
double vd_tone_amplitude(const float *x, size_t n, size_t stride, double rate, double freq);

double vd_rms(const float *x, size_t n, size_t stride);
double vd_peak(const float *x, size_t n, size_t stride);
double vd_db(double ratio);

/** Offset (in samples, may be negative) of b relative to a that maximises correlation, within +-max_lag. */
long vd_align(const float *a, size_t na, const float *b, size_t nb, size_t stride, long max_lag);

/** Fill x with amp*sin(2*pi*f*t + phase), n frames of @channels (all channels equal). */
void vd_gen_sine(float *x, size_t n, unsigned channels, double rate, double freq, double amp, double phase);

/* ---- Converter measurements (added for bench/bench_src.c; usable by tests) ---- */

/**
 * Least-squares fit of a sine at exactly @freq (no refinement) plus DC;
 * fills @fit like vd_sine_fit(). For signals whose frequency is known,
 * e.g. a tone through a converter with an exact ratio. -1 if n < 16 or
 * out of memory.
 */
int vd_sine_fit_fixed(const float *x, size_t n, size_t stride, double rate, double freq,
		      struct vd_sine_fit *fit);

/**
 * Spectrum of x[0..n) (n a power of two, >= 16) through a Kaiser window of
 * @beta (20 gives side lobes below -180 dB): out_db[0..n/2] in dB relative
 * to a sine of amplitude 1 centred on a bin, so a full-scale tone reads 0.
 * -1 if n is not a power of two or out of memory.
 */
int vd_spectrum_db(const float *x, size_t n, size_t stride, double beta, double *out_db);

#endif
