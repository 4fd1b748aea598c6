/* tests/unit/test_src.c - the sample-rate converter: quality per preset, accounting, streaming, drift, node. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <virtdsp/resample.h>

#include "analysis.h"
#include "dsp/src/src-impl.h"
#include "dsp/src/src.h"

/* ---- helpers ---- */

static struct vd_resampler *mk(uint32_t in, uint32_t out, uint32_t ch, enum vd_resample_quality q,
			       enum vd_sample_format fi, enum vd_sample_format fo)
{
	struct vd_resample_config c = { in, out, ch, q, fi, fo };
	struct vd_resampler *r = NULL;

	assert_int_equal(vd_resampler_new(&c, &r), 0);
	assert_non_null(r);
	return r;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

/*
 * Convert @n frames in one go (or in random chunks with random output room
 * when @chunky), then drain. Returns the frame count; *out is malloc'ed.
 */
static size_t convert_all(struct vd_resampler *r, const void *x, size_t n, size_t in_fsz,
			  size_t out_fsz, bool chunky, void **out)
{
	size_t cap = vd_resampler_max_output(r, (uint32_t)n) + 64, ny = 0, pos = 0;
	char *y = malloc(cap * out_fsz);
	int idle = 0;

	assert_non_null(y);
	while (pos < n) {
		uint32_t fi = (uint32_t)(n - pos), fo = (uint32_t)(cap - ny);
		if (chunky) {
			uint32_t a = rnd() % 4 == 0 ? 1 : 1 + rnd() % 700;
			uint32_t b = rnd() % 4 == 0 ? 1 : 1 + rnd() % 700;
			fi = fi < a ? fi : a;
			fo = fo < b ? fo : b;
		}
		assert_int_equal(vd_resampler_process(r, (const char *)x + pos * in_fsz, &fi,
						      y + ny * out_fsz, &fo), 0);
		pos += fi;
		ny += fo;
		idle = (fi || fo) ? 0 : idle + 1;
		assert_true(idle < 3);
		assert_true(ny <= cap);
	}
	for (;;) {
		uint32_t fo = (uint32_t)(cap - ny);
		if (chunky && fo > 1)
			fo = 1 + rnd() % (fo < 300 ? fo : 300);
		assert_int_equal(vd_resampler_drain(r, y + ny * out_fsz, &fo), 0);
		ny += fo;
		if (!fo)
			break;
	}
	*out = y;
	return ny;
}

static size_t convert_f32(uint32_t in, uint32_t out, uint32_t ch, enum vd_resample_quality q,
			  const float *x, size_t n, bool chunky, float **y)
{
	struct vd_resampler *r = mk(in, out, ch, q, VD_FORMAT_F32, VD_FORMAT_F32);
	size_t ny = convert_all(r, x, n, ch * sizeof(float), ch * sizeof(float), chunky, (void **)y);

	vd_resampler_free(r);
	return ny;
}

static uint64_t expect_len(uint64_t n, uint64_t in, uint64_t out)
{
	return (2 * n * out + in) / (2 * in);	/* round half up */
}

/* Output of a 2 s stereo tone, analysed over the second half (past the start transient). */
static void tone_fit(uint32_t in, uint32_t out, enum vd_resample_quality q, double f, double amp,
		     struct vd_sine_fit *fit)
{
	size_t n = in * 2;
	float *x = malloc(n * 2 * sizeof(float)), *y;
	size_t ny;

	vd_gen_sine(x, n, 2, in, f, amp, 0.3);
	ny = convert_f32(in, out, 2, q, x, n, false, &y);
	assert_int_equal(ny, expect_len(n, in, out));
	/* Both channels identical, analyse the right one. */
	assert_int_equal(vd_sine_fit_range(y + (size_t)out / 2 * 2 + 1, out, 2, out, f, 1e-7, fit), 0);
	free(x);
	free(y);
}

/* The reference method: 10 s stereo at -1 dBFS, 1 kHz, output seconds 1..9 analysed. */
static void snr_fit(uint32_t in, uint32_t out, enum vd_resample_quality q, struct vd_sine_fit *fit)
{
	size_t n = (size_t)in * 10;
	float *x = malloc(n * 2 * sizeof(float)), *y;

	vd_gen_sine(x, n, 2, in, 1000.0, pow(10.0, -1.0 / 20), 0.0);
	size_t ny = convert_f32(in, out, 2, q, x, n, false, &y);
	assert_int_equal(ny, (size_t)out * 10);
	assert_int_equal(vd_sine_fit_range(y + (size_t)out * 2, (size_t)out * 8, 2, out, 1000.0, 1e-7, fit), 0);
	free(x);
	free(y);
}

/* Output rms over input amplitude for a tone that must be rejected (dB, negative). */
static double leak_db(uint32_t in, uint32_t out, enum vd_resample_quality q, double f)
{
	size_t n = in;
	float *x = malloc(n * sizeof(float)), *y;
	size_t ny;

	vd_gen_sine(x, n, 1, in, f, 0.9, 0.1);
	ny = convert_f32(in, out, 1, q, x, n, false, &y);
	double rms = vd_rms(y + out / 4, ny - out / 2, 1);
	free(x);
	free(y);
	return vd_db((rms + 1e-30) / (0.9 / sqrt(2.0)));
}

struct dir { uint32_t in, out; };
static const struct dir dirs[] = { { 44100, 48000 }, { 48000, 16000 }, { 96000, 44100 } };

struct target { double snr, rej, pass, ripple; };
/* The documented targets (docs/src.md). */
static const struct target targets[VD_RESAMPLE_QUALITY_COUNT] = {
	[VD_RESAMPLE_LOW] = { 78.0, 78.0, 0.80, 0.01 },
	[VD_RESAMPLE_MEDIUM] = { 105.0, 105.0, 0.85, 0.01 },
	[VD_RESAMPLE_HIGH] = { 133.0, 133.0, 0.90, 0.01 },
	[VD_RESAMPLE_VERY_HIGH] = { 150.0, 150.0, 0.90, 0.01 },
};

static void check_quality(enum vd_resample_quality q)
{
	const struct target *t = &targets[q];

	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		uint32_t in = dirs[d].in, out = dirs[d].out;
		double nyq = (in < out ? in : out) / 2.0;
		struct vd_sine_fit fit;
		double gmin = 1e9, gmax = -1e9, worst_rej = 1e9;

		snr_fit(in, out, q, &fit);
		print_message("%s %u->%u: SNR %.1f dB\n", vd_resample_quality_name(q), in, out, fit.snr_db);
		assert_true(fit.snr_db >= t->snr);
		/* Pass band: 20 Hz and 0.1 .. pass edge of the lower Nyquist. */
		for (int i = 0; i <= 9; i++) {
			double f = i == 0 ? 20.0 : (i < 9 ? 0.1 * i * nyq : t->pass * nyq);
			if (f > t->pass * nyq)
				f = t->pass * nyq;
			tone_fit(in, out, q, f, 0.5, &fit);
			double g = vd_db(fit.amplitude / 0.5);
			gmin = fmin(gmin, g);
			gmax = fmax(gmax, g);
			if (out > in)	/* image + noise relative to the tone */
				worst_rej = fmin(worst_rej, -fit.thdn_db);
		}
		print_message("  ripple %.5f dB\n", gmax - gmin);
		assert_true(gmax - gmin <= t->ripple);
		if (out < in) {
			/* Tones from 1.1 x output Nyquist to 0.98 x input Nyquist alias into the band. */
			for (int i = 0; i < 12; i++) {
				double f = 1.1 * out / 2 + (0.98 * in / 2 - 1.1 * out / 2) * i / 11.0;
				worst_rej = fmin(worst_rej, -leak_db(in, out, q, f));
			}
		}
		print_message("  rejection %.1f dB\n", worst_rej);
		assert_true(worst_rej >= t->rej);
	}
}

static void test_quality_low(void **state) { (void)state; check_quality(VD_RESAMPLE_LOW); }
static void test_quality_medium(void **state) { (void)state; check_quality(VD_RESAMPLE_MEDIUM); }
static void test_quality_high(void **state) { (void)state; check_quality(VD_RESAMPLE_HIGH); }
static void test_quality_very_high(void **state) { (void)state; check_quality(VD_RESAMPLE_VERY_HIGH); }

/* ---- accounting ---- */

static void test_length_exact(void **state)
{
	static const struct dir more[] = {
		{ 44100, 48000 }, { 48000, 44100 }, { 48000, 16000 }, { 96000, 44100 },
		{ 8000, 192000 }, { 11025, 22050 }, { 44100, 48001 }, { 192000, 8000 }, { 48000, 32000 },
	};
	static const size_t lens[] = { 0, 1, 2, 3, 7, 100, 147, 999, 4801 };
	(void)state;

	for (size_t d = 0; d < sizeof(more) / sizeof(more[0]); d++)
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			size_t n = lens[i];
			float *x = calloc(n + 1, sizeof(float)), *y;
			size_t ny = convert_f32(more[d].in, more[d].out, 1, VD_RESAMPLE_HIGH, x, n, i & 1, &y);
			assert_int_equal(ny, expect_len(n, more[d].in, more[d].out));
			free(x);
			free(y);
		}
}

/* An impulse at input frame k lands, after latency compensation, at k * out / in. */
static void test_alignment_impulse(void **state)
{
	static const struct { uint32_t in, out; size_t at_in, at_out; } cases[] = {
		{ 44100, 48000, 4410, 4800 }, { 48000, 16000, 3000, 1000 }, { 96000, 44100, 9600, 4410 },
		{ 8000, 192000, 800, 19200 }, { 48000, 44100, 4800, 4410 }, { 192000, 8000, 9600, 400 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = cases[i].at_in * 2;
		float *x = calloc(n, sizeof(float)), *y;
		x[cases[i].at_in] = 1.0f;
		size_t ny = convert_f32(cases[i].in, cases[i].out, 1, VD_RESAMPLE_HIGH, x, n, false, &y);
		size_t best = 0;
		for (size_t k = 0; k < ny; k++)
			if (fabsf(y[k]) > fabsf(y[best]))
				best = k;
		assert_int_equal(best, cases[i].at_out);
		/* Symmetric around the peak: linear phase, no fractional offset. */
		assert_true(fabsf(y[best - 1] - y[best + 1]) < 1e-5f * fabsf(y[best]));
		free(x);
		free(y);
	}
}

/* A tone keeps its phase: output sample k is the input tone at time k / out. */
static void test_alignment_tone(void **state)
{
	struct vd_sine_fit fit;
	(void)state;

	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		tone_fit(dirs[d].in, dirs[d].out, VD_RESAMPLE_HIGH, 997.0, 0.5, &fit);
		/* Analysis starts at output out/2, i.e. 0.5 s: phase 0.3 + 2 pi 997 * 0.5. */
		double want = remainder(0.3 - M_PI / 2 + 2 * M_PI * 997.0 * 0.5, 2 * M_PI);
		double got = remainder(fit.phase, 2 * M_PI);
		assert_true(fabs(remainder(got - want, 2 * M_PI)) < 1e-5);
	}
}

/* ---- streaming ---- */

static void test_chunk_invariance(void **state)
{
	static const struct dir more[] = {
		{ 44100, 48000 }, { 48000, 16000 }, { 96000, 44100 }, { 8000, 192000 }, { 44100, 48001 },
		{ 192000, 8000 },
	};
	(void)state;

	for (int q = 0; q < VD_RESAMPLE_QUALITY_COUNT; q++)
		for (size_t d = 0; d < sizeof(more) / sizeof(more[0]); d++) {
			uint32_t in = more[d].in, out = more[d].out, ch = 2;
			size_t n = in / 10 + 77;
			float *x = malloc(n * ch * sizeof(float)), *a, *b;
			for (size_t i = 0; i < n * ch; i++)
				x[i] = (float)((double)rnd() / (1u << 21) - 1.0) * 0.5f;
			size_t na = convert_f32(in, out, ch, q, x, n, false, &a);
			size_t nb = convert_f32(in, out, ch, q, x, n, true, &b);
			assert_int_equal(na, nb);
			assert_memory_equal(a, b, na * ch * sizeof(float));
			free(x);
			free(a);
			free(b);
		}
}

/* Each channel of a multichannel stream equals the same signal converted alone. */
static void test_channels(void **state)
{
	static const uint32_t counts[] = { 1, 3, 5, 32 };
	(void)state;

	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		uint32_t ch = counts[i];
		size_t n = 3000;
		float *x = malloc(n * ch * sizeof(float)), *y, *mono = malloc(n * sizeof(float)), *ym;
		for (size_t k = 0; k < n; k++)
			for (uint32_t c = 0; c < ch; c++)
				x[k * ch + c] = (float)sin(0.01 * (c + 1) * k) * 0.5f;
		size_t ny = convert_f32(44100, 48000, ch, VD_RESAMPLE_HIGH, x, n, true, &y);
		for (uint32_t c = 0; c < ch; c += (ch > 4 ? 7 : 1)) {
			for (size_t k = 0; k < n; k++)
				mono[k] = x[k * ch + c];
			size_t nm = convert_f32(44100, 48000, 1, VD_RESAMPLE_HIGH, mono, n, false, &ym);
			assert_int_equal(nm, ny);
			for (size_t k = 0; k < ny; k++)
				assert_memory_equal(&ym[k], &y[k * ch + c], sizeof(float));
			free(ym);
		}
		free(x);
		free(y);
		free(mono);
	}
}

/* ---- formats ---- */

static void test_s16_s32_paths(void **state)
{
	size_t n = 44100;
	int16_t *x16 = malloc(n * sizeof(int16_t));
	int32_t *x32 = malloc(n * sizeof(int32_t));
	float *xf = malloc(n * sizeof(float)), *yf;
	int16_t *y16;
	int32_t *y32;
	(void)state;

	for (size_t i = 0; i < n; i++) {
		double v = 0.8 * sin(2 * M_PI * 1000.0 * i / 44100.0);
		x16[i] = (int16_t)lrint(v * 32767);
		x32[i] = (int32_t)x16[i] * 65536;
		xf[i] = (float)x16[i] / 32768.0f;
	}
	size_t nf = convert_f32(44100, 48000, 1, VD_RESAMPLE_HIGH, xf, n, false, &yf);
	struct vd_resampler *r = mk(44100, 48000, 1, VD_RESAMPLE_HIGH, VD_FORMAT_S16, VD_FORMAT_S16);
	size_t n16 = convert_all(r, x16, n, 2, 2, true, (void **)&y16);
	vd_resampler_free(r);
	r = mk(44100, 48000, 1, VD_RESAMPLE_HIGH, VD_FORMAT_S32, VD_FORMAT_S32);
	size_t n32 = convert_all(r, x32, n, 4, 4, true, (void **)&y32);
	vd_resampler_free(r);
	assert_int_equal(n16, nf);
	assert_int_equal(n32, nf);
	for (size_t i = 0; i < nf; i++) {
		/* Rounded to nearest: S16 within half an LSB of the float path, S32 likewise at its scale. */
		assert_true(fabs(y16[i] - yf[i] * 32768.0) <= 0.5 + 1e-3);
		assert_true(fabs(y32[i] - (double)yf[i] * 2147483648.0) <= 0.5 + 1e-3 * 65536);
	}
	/* Full-scale overshoot clips instead of wrapping. */
	for (size_t i = 0; i < n; i++)
		x16[i] = (i / 50) & 1 ? 32767 : -32768;
	r = mk(44100, 48000, 1, VD_RESAMPLE_HIGH, VD_FORMAT_S16, VD_FORMAT_S16);
	free(y16);
	n16 = convert_all(r, x16, n, 2, 2, false, (void **)&y16);
	vd_resampler_free(r);
	int16_t lo = 0, hi = 0;
	for (size_t i = 0; i < n16; i++) {
		lo = y16[i] < lo ? y16[i] : lo;
		hi = y16[i] > hi ? y16[i] : hi;
	}
	assert_int_equal(lo, -32768);
	assert_int_equal(hi, 32767);
	free(x16);
	free(x32);
	free(xf);
	free(yf);
	free(y16);
	free(y32);
}

/* ---- drift ---- */

/*
 * Steering the ratio every period within +-2% is click-free: output k is the
 * input tone at exactly the steered time t_k = sum of 1 / (out * adjust) over
 * the outputs before it, so any dropped, repeated or misplaced sample would
 * show far above the filter's error.
 */
static void test_adjust_continuity(void **state)
{
	static const struct dir cases[] = { { 48000, 48001 }, { 44100, 48000 }, { 48000, 16000 }, { 96000, 44100 } };
	(void)state;

	for (size_t d = 0; d < sizeof(cases) / sizeof(cases[0]); d++) {
		uint32_t in = cases[d].in, out = cases[d].out;
		size_t n = in, period = 256, ny = 0, pos = 0;
		double f = 500.0, amp = 0.5, t = 0.0, worst = 0.0;
		float *x = malloc(n * sizeof(float));
		size_t cap = n * 2 * out / in + 4096;
		float *y = malloc(cap * sizeof(float));
		double *tk = malloc(cap * sizeof(double));
		vd_gen_sine(x, n, 1, in, f, amp, 0.0);
		struct vd_resampler *r = mk(in, out, 1, VD_RESAMPLE_HIGH, VD_FORMAT_F32, VD_FORMAT_F32);
		assert_int_equal(vd_resampler_set_adjust(r, 1.03), -EINVAL);
		assert_int_equal(vd_resampler_set_adjust(r, 0.97), -EINVAL);
		double sum_adj = 0;
		int periods = 0;
		while (pos < n) {
			double adj = 1.0 + 0.02 * sin(periods * 0.37) * (periods % 7 == 3 ? -1 : 1);
			assert_int_equal(vd_resampler_set_adjust(r, adj), 0);
			sum_adj += adj;
			periods++;
			uint32_t fi = (uint32_t)(n - pos < period ? n - pos : period), fo = (uint32_t)(cap - ny);
			vd_resampler_process(r, x + pos, &fi, y + ny, &fo);
			for (uint32_t k = 0; k < fo; k++) {
				tk[ny + k] = t;
				t += 1.0 / (out * adj);
			}
			pos += fi;
			ny += fo;
		}
		vd_resampler_free(r);
		/* Output follows the steered ratio. */
		double want = (double)n * out / in * sum_adj / periods;
		assert_true(fabs((double)ny - want) < 0.01 * want);
		/*
		 * The tone's steady gain is the pass band's (an equiripple
		 * design ripples by up to 0.002 dB everywhere in it): fit it,
		 * bound it by the preset's ripple, and look for anything else.
		 */
		double sy = 0.0, ss = 0.0;
		for (size_t k = out / 10; k < ny; k++) {
			double ref = amp * sin(2 * M_PI * f * tk[k]);
			sy += y[k] * ref;
			ss += ref * ref;
		}
		double gain = sy / ss;
		for (size_t k = out / 10; k < ny; k++)
			worst = fmax(worst, fabs(y[k] - gain * amp * sin(2 * M_PI * f * tk[k])));
		print_message("%u->%u steered: gain %+.5f dB, max error %.1f dB below the tone\n", in, out,
			      vd_db(gain), -vd_db(worst / amp));
		assert_true(fabs(vd_db(gain)) <= 0.005);
		assert_true(worst < amp * 1e-6);
		free(x);
		free(y);
		free(tk);
	}
}

/* Interpolated phases (drift path) keep the preset's quality. */
static void test_adjust_quality(void **state)
{
	uint32_t in = 44100, out = 48000;
	size_t n = in * 2, ny = 0, pos = 0;
	float *x = malloc(n * sizeof(float));
	size_t cap = n * 2;
	float *y = malloc(cap * sizeof(float));
	struct vd_sine_fit fit;
	(void)state;

	vd_gen_sine(x, n, 1, in, 1000.0, pow(10.0, -1.0 / 20), 0.0);
	struct vd_resampler *r = mk(in, out, 1, VD_RESAMPLE_HIGH, VD_FORMAT_F32, VD_FORMAT_F32);
	assert_int_equal(vd_resampler_set_adjust(r, 1.0 + 1.0 / 1024 / 3), 0);
	while (pos < n) {
		uint32_t fi = (uint32_t)(n - pos), fo = (uint32_t)(cap - ny);
		vd_resampler_process(r, x + pos, &fi, y + ny, &fo);
		pos += fi;
		ny += fo;
	}
	vd_resampler_free(r);
	assert_int_equal(vd_sine_fit(y + out / 2, out, 1, out, 1000.0 / (1.0 + 1.0 / 1024 / 3), &fit), 0);
	print_message("drift-path SNR %.1f dB\n", fit.snr_db);
	assert_true(fit.snr_db >= 133.0);
	free(x);
	free(y);
}

/* ---- filter design ---- */

/* |A(f) - D(f)| of a symmetric FIR (2J+1 taps), worst over a dense sweep of each band. */
static void fir_devs(const double *h, uint32_t J, double fp, double fs, double *dp, double *ds)
{
	*dp = 0.0;
	*ds = 0.0;
	for (int i = 0; i <= 8000; i++) {
		double f = 0.5 * i / 8000.0, a = h[J];
		for (uint32_t n = 1; n <= J; n++)
			a += 2.0 * h[J + n] * cos(2.0 * M_PI * f * n);
		if (f <= fp)
			*dp = fmax(*dp, fabs(a - 1.0));
		else if (f >= fs)
			*ds = fmax(*ds, fabs(a));
	}
}

/* The Remez exchange reaches the minimax deviation it reports, and it is equiripple. */
static void test_remez_design(void **state)
{
	const uint32_t J = 40;
	double h[2 * 40 + 1], dev, dp, ds;
	(void)state;

	/* Pass [0, 0.2] weight 1, stop [0.25, 0.5] weight 100: |delta| in the
	 * pass band, |delta|/100 in the stop band. */
	assert_int_equal(src_remez_lowpass(J, 0.2, 0.25, 100.0, h, &dev), 0);
	fir_devs(h, J, 0.2, 0.25, &dp, &ds);
	print_message("remez J=40: reported %.3e, pass %.3e, stop %.3e (%.1f dB)\n", dev, dp, ds, vd_db(ds));
	/* The sweep agrees with the report (2% for the grids' spacing) ... */
	double worst = fmax(dp, 100.0 * ds);
	assert_true(fabs(worst - dev) <= 0.02 * dev);
	/* ... the two bands are level (equiripple, weighted) ... */
	assert_true(fmin(dp, 100.0 * ds) >= 0.95 * worst);
	/* ... at the minimax figure for this length: 81 taps, transition
	 * 0.05 (Herrmann's estimate for these deviations is 82 taps). */
	assert_true(dp < 3e-3 && ds < 3e-5);
	for (uint32_t n = 0; n < J; n++)
		assert_true(h[n] == h[2 * J - n]);
	/* Bands out of order, or no room for the extrema: refused. */
	assert_int_equal(src_remez_lowpass(J, 0.25, 0.2, 100.0, h, &dev), -EINVAL);
	assert_int_equal(src_remez_lowpass(0, 0.2, 0.25, 100.0, h, &dev), -EINVAL);
	assert_int_equal(src_remez_lowpass(J, 0.001, 0.4999, 100.0, h, &dev), -EINVAL);
}

/*
 * The continuous prototype of an equiripple stage: at multiples of 1/K it
 * is the discrete design itself, between them smooth, and its response
 * (rows at 1/64 steps, as one long filter) keeps the stop band.
 */
static void test_proto_design(void **state)
{
	static const double edges[][2] = { { 0.45, 0.5 }, { 0.225, 0.25 }, { 0.3, 1.0 / 3.0 } };
	(void)state;

	for (size_t e = 0; e < 3; e++) {
		struct src_filter_spec spec = { .fpass = edges[e][0], .fstop = edges[e][1], .atten_db = 138.0,
						.xs_n = 4.77, .xp_n = 3.82, .equiripple = true };
		struct src_proto p;
		assert_int_equal(src_proto_design(&spec, &p), 0);
		const uint32_t half = (uint32_t)ceil(p.half_len), taps = 2 * half, P = 64;
		double *row = malloc(taps * sizeof(double));
		double *big = calloc((size_t)taps * P, sizeof(double));
		assert_non_null(row);
		assert_non_null(big);
		/* Nominal rows: c itself, zeros elsewhere. */
		src_proto_row(&p, half - 1.0, taps, row);
		for (uint32_t k = 0; k < taps; k++) {
			int64_t n = ((int64_t)half - 1 - (int64_t)k) * p.K + p.J;
			double want = n >= 0 && n <= 2 * (int64_t)p.J ? p.c[n] : 0.0;
			assert_true(row[k] == want);
		}
		/* Interleave rows at phase f = j/P into one filter at P per sample. */
		for (uint32_t j = 0; j < P; j++) {
			src_proto_row(&p, j / (double)P + half - 1.0, taps, row);
			for (uint32_t k = 0; k < taps; k++)
				big[(size_t)k * P + (P - 1 - j)] = row[k];
		}
		/* Its response, f in cycles per input sample (f/P per tap). */
		const size_t nb = (size_t)taps * P;
		double amin = INFINITY, amax = 0.0, smax = 0.0, dc = 0.0;
		for (size_t i = 0; i < nb; i++)
			dc += big[i];
		for (int i = 0; i <= 2400; i++) {
			double f = i <= 400 ? spec.fpass * i / 400.0 : spec.fstop + (3.0 - spec.fstop) * (i - 401) / 1999.0;
			double re = 0.0, im = 0.0, wr = cos(2.0 * M_PI * f / P), wi = sin(2.0 * M_PI * f / P);
			double pr = 1.0, pi = 0.0;
			for (size_t n = 0; n < nb; n++) {
				re += big[n] * pr;
				im += big[n] * pi;
				double t = pr * wr - pi * wi;
				pi = pr * wi + pi * wr;
				pr = t;
			}
			double a = hypot(re, im) / dc;
			if (i <= 400) {
				amin = fmin(amin, a);
				amax = fmax(amax, a);
			} else {
				smax = fmax(smax, a);
			}
		}
		double pmax = amax - amin;
		print_message("proto %.3f/%.3f: K %u, J %u, half %u, pass ripple %.2e, stop %.1f dB\n", spec.fpass,
			      spec.fstop, p.K, p.J, half, pmax, vd_db(smax));
		/* Peak to peak: twice the design's 2.5e-4, with 10% for the sweep. */
		assert_true(pmax <= 5.5e-4);
		assert_true(vd_db(smax) <= -138.0);
		free(row);
		free(big);
		src_proto_free(&p);
	}
}

/* ---- ratios and errors ---- */

/*
 * A ratio whose fixed-stage cycle is too long for a table (2*out/in =
 * 438912/362393 reduced has L = 438912): one polyphase stage with
 * interpolated rows instead of a 200k-row table, at the preset's quality.
 */
static void test_long_cycle_ratio(void **state)
{
	struct vd_resampler *r = mk(362393, 219456, 2, VD_RESAMPLE_HIGH, VD_FORMAT_F32, VD_FORMAT_F32);
	struct vd_sine_fit fit;
	(void)state;

	assert_int_equal(vd_resampler_stages(r), 1);
	vd_resampler_free(r);
	tone_fit(362393, 219456, VD_RESAMPLE_HIGH, 1000.0, 0.5, &fit);
	print_message("362393->219456 high: SNR %.1f dB, gain %+.4f dB\n", fit.snr_db, vd_db(fit.amplitude / 0.5));
	assert_true(fit.snr_db >= 133.0);
	assert_true(fabs(vd_db(fit.amplitude / 0.5)) <= 0.005);
}

static void test_extreme_ratios(void **state)
{
	struct vd_resample_config c = { 1000, 256000, 1, VD_RESAMPLE_HIGH, VD_FORMAT_F32, VD_FORMAT_F32 };
	struct vd_resampler *r = NULL;
	struct vd_error err;
	struct vd_sine_fit fit;
	(void)state;

	/* 1:256 and 256:1 are handled. */
	for (int dir = 0; dir < 2; dir++) {
		uint32_t in = dir ? 256000 : 1000, out = dir ? 1000 : 256000;
		size_t n = in * 2;
		float *x = malloc(n * sizeof(float)), *y;
		vd_gen_sine(x, n, 1, in, 100.0, 0.5, 0.0);
		size_t ny = convert_f32(in, out, 1, VD_RESAMPLE_HIGH, x, n, dir == 1, &y);
		assert_int_equal(ny, expect_len(n, in, out));
		assert_int_equal(vd_sine_fit(y + out / 2, out, 1, out, 100.0, &fit), 0);
		assert_true(fit.snr_db > 120.0);
		/* Pass-band gain: within the preset's ripple (+-0.005 dB). */
		assert_true(fabs(vd_db(fit.amplitude / 0.5)) <= 0.005);
		free(x);
		free(y);
	}
	/* Beyond that: refused, with a reason. */
	c.rate_out = 256001;
	vd_error_clear(&err);
	assert_int_equal(vd_resample_config_check(&c, &err), -EINVAL);
	assert_string_equal(err.msg, "conversion ratio 1000 Hz -> 256001 Hz is out of range (at most 256:1 either way)");
	assert_int_equal(vd_resampler_new(&c, &r), -EINVAL);
	assert_null(r);
	c = (struct vd_resample_config){ 256001, 1000, 1, VD_RESAMPLE_HIGH, VD_FORMAT_F32, VD_FORMAT_F32 };
	assert_int_equal(vd_resampler_new(&c, &r), -EINVAL);
}

static void test_config_errors(void **state)
{
	struct vd_resample_config c = { 48000, 44100, 2, VD_RESAMPLE_HIGH, VD_FORMAT_F32, VD_FORMAT_F32 };
	struct vd_error err;
	(void)state;

	c.channels = 33;
	vd_error_clear(&err);
	assert_int_equal(vd_resample_config_check(&c, &err), -EINVAL);
	assert_string_equal(err.msg, "channels must be 1..32 (got 33)");
	c.channels = 2;
	c.format_in = VD_FORMAT_S24;
	vd_error_clear(&err);
	assert_int_equal(vd_resample_config_check(&c, &err), -EINVAL);
	assert_string_equal(err.msg, "resampler input format s24 is not supported (f32, s16 or s32)");
	c.format_in = VD_FORMAT_F32;
	c.format_out = VD_FORMAT_F64;
	vd_error_clear(&err);
	assert_int_equal(vd_resample_config_check(&c, &err), -EINVAL);
	assert_string_equal(err.msg, "resampler output format f64 is not supported (f32, s16 or s32)");
	c.format_out = VD_FORMAT_F32;
	c.rate_in = 0;
	vd_error_clear(&err);
	assert_int_equal(vd_resample_config_check(&c, &err), -EINVAL);
	assert_string_equal(err.msg, "sample rates must be 1..1536000 Hz (got 0 Hz -> 44100 Hz)");
	c.rate_in = 48000;
	c.quality = VD_RESAMPLE_QUALITY_COUNT;
	vd_error_clear(&err);
	assert_int_equal(vd_resample_config_check(&c, &err), -EINVAL);
	assert_string_equal(err.msg, "unknown resampler quality 4");

	enum vd_resample_quality q;
	assert_int_equal(vd_resample_quality_from_name("very-high", &q), 0);
	assert_int_equal(q, VD_RESAMPLE_VERY_HIGH);
	assert_int_equal(vd_resample_quality_from_name("ultra", &q), -EINVAL);
	assert_string_equal(vd_resample_quality_name(VD_RESAMPLE_MEDIUM), "medium");
}

static void test_latency_and_reset(void **state)
{
	(void)state;
	struct vd_resampler *r = mk(44100, 48000, 2, VD_RESAMPLE_HIGH, VD_FORMAT_F32, VD_FORMAT_F32);
	uint32_t lat = vd_resampler_latency(r);
	/* Targets: <= 2.5 ms at 44.1 -> 48 kHz high. */
	assert_true(lat > 0 && lat <= 120);
	/* Output is held back by the latency: for a long input, produced = in*ratio - latency (+-group). */
	size_t n = 4800;
	float *x = calloc(n * 2, sizeof(float)), *y = malloc(8000 * 2 * sizeof(float)), *y2 = malloc(8000 * 2 * sizeof(float));
	for (size_t i = 0; i < n * 2; i++)
		x[i] = (float)sin(i * 0.001);
	uint32_t fi = (uint32_t)n, fo = 8000;
	vd_resampler_process(r, x, &fi, y, &fo);
	assert_int_equal(fi, n);
	double want = n * 48000.0 / 44100 - lat;
	assert_true(fabs(fo - want) <= SRC_GROUP + 1);
	/* reset() forgets the stream: the same input gives the same output again. */
	vd_resampler_reset(r);
	uint32_t fi2 = (uint32_t)n, fo2 = 8000;
	vd_resampler_process(r, x, &fi2, y2, &fo2);
	assert_int_equal(fo2, fo);
	assert_memory_equal(y, y2, fo * 2 * sizeof(float));
	vd_resampler_free(r);
	r = mk(48000, 16000, 2, VD_RESAMPLE_HIGH, VD_FORMAT_F32, VD_FORMAT_F32);
	assert_true(vd_resampler_latency(r) <= 16000 * 7 / 1000);
	vd_resampler_free(r);
	r = mk(96000, 44100, 2, VD_RESAMPLE_HIGH, VD_FORMAT_F32, VD_FORMAT_F32);
	assert_true(vd_resampler_latency(r) <= 44100 * 25 / 10000);
	vd_resampler_free(r);
	free(x);
	free(y);
	free(y2);
}

/* ---- the node ---- */

static void test_node(void **state)
{
	struct vd_prop items[2] = {
		{ .key = "rate", .type = VD_PROP_NUMBER, .str = "48", .num = 48, .unit = "kHz" },
		{ .key = "quality", .type = VD_PROP_IDENT, .str = "medium" },
	};
	struct vd_props props = { items, 2, { 0 } };
	struct vd_node_init init = { .name = "rs", .props = &props };
	struct vd_error err;
	void *self = NULL;
	uint32_t ni, no;
	(void)state;

	assert_string_equal(vd_node_src.type, "src");
	vd_error_clear(&err);
	assert_int_equal(vd_node_src.init(&init, &self, &ni, &no, &err), 0);
	assert_int_equal(ni, 1);
	assert_int_equal(no, 1);

	struct vd_audio_format fin, fout;
	vd_audio_format_init(&fin, VD_FORMAT_S24, 44100, 2);
	assert_int_equal(vd_node_src.negotiate(self, &fin, 1, &fout, 1, &err), 0);
	assert_int_equal(fin.format, VD_FORMAT_F32);	/* asks for f32 */
	assert_int_equal(fout.format, VD_FORMAT_F32);
	assert_int_equal(fout.rate, 48000);
	assert_int_equal(fout.channels, 2);
	assert_int_equal(vd_node_src.prepare(self, &fin, 1, &fout, 1, 1024, &err), 0);
	assert_true(vd_node_src.latency(self) > 0);

	struct vd_param_info info;
	assert_int_equal(vd_node_src.enum_params(self, 0, &info), 0);
	assert_string_equal(info.name, "adjust");
	assert_int_equal(vd_node_src.enum_params(self, 1, &info), -ENOENT);
	assert_int_equal(vd_node_src.set_param(self, info.id, 1.5), -EINVAL);
	assert_int_equal(vd_node_src.set_param(self, info.id, 1.01), 0);
	double v;
	assert_int_equal(vd_node_src.get_param(self, info.id, &v), 0);
	assert_true(v == 1.01);
	assert_int_equal(vd_node_src.set_param(self, info.id, 1.0), 0);

	/* 1000 frames then EOS: total output is exactly round(1000 * 48000 / 44100). */
	float x[1000 * 2], y[512 * 2];
	for (int i = 0; i < 2000; i++)
		x[i] = 0.25f;
	size_t pos = 0, total = 0;
	bool eos = false;
	for (int it = 0; it < 100 && !eos; it++) {
		struct vd_buffer bi = { x + pos * 2, (uint32_t)(1000 - pos), VD_BUFFER_EOS };
		struct vd_buffer bo = { y, 100, 0 };
		assert_int_equal(vd_node_src.process(self, &bi, 1, &bo, 1), 0);
		pos += bi.frames;
		total += bo.frames;
		eos = bo.flags & VD_BUFFER_EOS;
	}
	assert_true(eos);
	assert_int_equal(pos, 1000);
	assert_int_equal(total, expect_len(1000, 44100, 48000));
	vd_node_src.reset(self);
	vd_node_src.free(self);

	/* rate is required, and must be whole. */
	struct vd_props none = { items + 1, 1, { "t.topo", 3, 5 } };
	items[1].used = false;
	init.props = &none;
	vd_error_clear(&err);
	assert_int_equal(vd_node_src.init(&init, &self, &ni, &no, &err), -EINVAL);
	assert_string_equal(err.msg, "src 'rs': property 'rate' (the output rate) is required");
	items[0] = (struct vd_prop){ .key = "rate", .type = VD_PROP_NUMBER, .str = "44100.5", .num = 44100.5, .unit = "" };
	init.props = &props;
	vd_error_clear(&err);
	assert_int_equal(vd_node_src.init(&init, &self, &ni, &no, &err), -EINVAL);
	assert_string_equal(err.msg, "'rate' must be a whole number of Hz, not 44100.5");
	items[0] = (struct vd_prop){ .key = "rate", .type = VD_PROP_NUMBER, .str = "48000", .num = 48000, .unit = "" };
	items[1] = (struct vd_prop){ .key = "quality", .type = VD_PROP_IDENT, .str = "best" };
	vd_error_clear(&err);
	assert_int_equal(vd_node_src.init(&init, &self, &ni, &no, &err), -EINVAL);
	assert_string_equal(err.msg, "'quality' = 'best' is not one of: low, medium, high, very-high");
	/* A ratio the converter refuses fails negotiation with its reason. */
	items[1] = (struct vd_prop){ .key = "quality", .type = VD_PROP_IDENT, .str = "low" };
	assert_int_equal(vd_node_src.init(&init, &self, &ni, &no, &err), 0);
	vd_audio_format_init(&fin, VD_FORMAT_S16, 100, 1);
	vd_error_clear(&err);
	assert_int_equal(vd_node_src.negotiate(self, &fin, 1, &fout, 1, &err), -EINVAL);
	assert_string_equal(err.msg, "conversion ratio 100 Hz -> 48000 Hz is out of range (at most 256:1 either way)");
	vd_node_src.free(self);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_remez_design),
		cmocka_unit_test(test_proto_design),
		cmocka_unit_test(test_length_exact),
		cmocka_unit_test(test_alignment_impulse),
		cmocka_unit_test(test_alignment_tone),
		cmocka_unit_test(test_chunk_invariance),
		cmocka_unit_test(test_channels),
		cmocka_unit_test(test_s16_s32_paths),
		cmocka_unit_test(test_adjust_continuity),
		cmocka_unit_test(test_adjust_quality),
		cmocka_unit_test(test_extreme_ratios),
		cmocka_unit_test(test_long_cycle_ratio),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_latency_and_reset),
		cmocka_unit_test(test_node),
		cmocka_unit_test(test_quality_low),
		cmocka_unit_test(test_quality_medium),
		cmocka_unit_test(test_quality_high),
		cmocka_unit_test(test_quality_very_high),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
