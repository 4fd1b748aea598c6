/* bench/src_measure.c - quality figures, latency and timed streaming of one converter. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "analysis.h"
#include "src_measure.h"

#define N_RIPPLE_LOW 7
#define N_RIPPLE_REL 17		/* 0.10 .. 0.90 of the lower Nyquist, step 0.05 */
#define N_REJECT 24

static void gen_tone2(float *x, size_t frames, unsigned channels, double rate,
		      double fl, double fr, double amp)
{
	for (size_t i = 0; i < frames; i++) {
		double t = (double)i / rate;
		for (unsigned c = 0; c < channels; c++) {
			double f = (c & 1) ? fr : fl;
			x[i * channels + c] = (float)(amp * sin(2 * M_PI * f * t));
		}
	}
}

int src_convert_tone(const struct src_engine_desc *d, const struct src_dir *dir,
		     const struct src_params *p, double freq_l, double freq_r, double amp,
		     double seconds, float **out, size_t *out_frames, struct src_held *held,
		     char *err, size_t errlen)
{
	size_t n = (size_t)(seconds * dir->rate_in);
	float *in = malloc(n * p->channels * sizeof(float));
	int ret;

	if (!in) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	gen_tone2(in, n, p->channels, dir->rate_in, freq_l, freq_r, amp);
	ret = src_engine_run(d, dir->rate_in, dir->rate_out, p->channels, in, n, p->chunk,
			     out, out_frames, held, err, errlen);
	free(in);
	return ret;
}

/*
 * Delay of a tone of @freq, modulo its period, from the cosine phase that
 * the fit found at output time @t0: the output is sin(2*pi*f*(t - d)).
 */
static double delay_mod_period(double phase, double t0, double freq)
{
	double period = 1.0 / freq;
	double d = fmod(t0 - (phase + M_PI / 2) / (2 * M_PI * freq), period);

	return d < 0 ? d + period : d;
}

/* 1 kHz and 997 Hz periods coincide every second: pick the one delay in (-0.5, 0.5] s that fits both. */
static double resolve_delay(double d1000, double d997)
{
	double p1 = 1.0 / 1000, p2 = 1.0 / 997, best = 0, best_err = 1e9;

	for (int k = 0; k < 1000; k++) {
		double cand = d1000 + k * p1;
		double r = fmod(cand - d997, p2);
		if (r < 0)
			r += p2;
		double e = fmin(r, p2 - r);
		if (e < best_err) {
			best_err = e;
			best = cand;
		}
	}
	return best > 0.5 ? best - 1.0 : best;
}

struct fit_window {
	size_t from, len;
};

static int window_of(const struct src_dir *dir, double from_s, double len_s, size_t frames,
		     struct fit_window *w, const char *what, char *err, size_t errlen)
{
	w->from = (size_t)(from_s * dir->rate_out);
	w->len = (size_t)(len_s * dir->rate_out);
	if (w->from + w->len > frames) {
		snprintf(err, errlen, "%s: converter gave %zu frames, analysis needs %zu",
			 what, frames, w->from + w->len);
		return -EIO;
	}
	return 0;
}

static int measure_tones(const struct src_engine_desc *d, const struct src_dir *dir,
			 const struct src_params *p, struct src_quality *q, char *err, size_t errlen)
{
	static const double freqs[2] = { 1000.0, 997.0 };
	double delays[2] = { 0, 0 };
	struct src_held held = { 0, 0 };

	for (int k = 0; k < 2; k++) {
		struct vd_sine_fit fit;
		struct fit_window w;
		struct src_held h;
		float *out;
		size_t nout;
		int ret = src_convert_tone(d, dir, p, freqs[k], freqs[k], SRC_TONE_AMP,
					   p->tone_seconds, &out, &nout, &h, err, errlen);
		if (ret < 0)
			return ret;
		ret = window_of(dir, p->fit_from, p->fit_seconds, nout, &w, "tone", err, errlen);
		if (!ret && vd_sine_fit(out + w.from * p->channels, w.len, p->channels,
					dir->rate_out, freqs[k], &fit) < 0) {
			snprintf(err, errlen, "sine fit failed");
			ret = -ENOMEM;
		}
		free(out);
		if (ret < 0)
			return ret;
		if (k == 0) {
			q->snr_1k = fit.snr_db;
			q->thdn_1k = fit.thdn_db;
			held = h;
		} else {
			q->snr_997 = fit.snr_db;
			q->thdn_997 = fit.thdn_db;
		}
		delays[k] = delay_mod_period(fit.phase, (double)w.from / dir->rate_out, freqs[k]);
	}
	q->align_ms = 1000.0 * resolve_delay(delays[0], delays[1]);
	q->held_ms = 1000.0 * held.mean / dir->rate_out;
	q->held_max_ms = 1000.0 * held.max / dir->rate_out;
	q->latency_ms = q->align_ms + q->held_ms;
	q->latency_max_ms = q->align_ms + q->held_max_ms;
	q->latency_in_samples = q->latency_ms * dir->rate_in / 1000.0;
	return 0;
}

/* Pass-band probes: gain of each tone (ripple) and, for upsampling, what else came out (images). */
static int measure_passband(const struct src_engine_desc *d, const struct src_dir *dir,
			    const struct src_params *p, struct src_quality *q, char *err, size_t errlen)
{
	static const double low[N_RIPPLE_LOW] = { 20, 50, 100, 200, 500, 1000, 2000 };
	double nyq_low = 0.5 * (dir->rate_in < dir->rate_out ? dir->rate_in : dir->rate_out);
	double f[N_RIPPLE_LOW + N_RIPPLE_REL], gmin = 1e9, gmax = -1e9, g8min = 1e9, g8max = -1e9;
	double worst_other = -1e9;
	size_t nf = 0;

	for (int i = 0; i < N_RIPPLE_LOW; i++)
		f[nf++] = low[i];
	for (int i = 0; i < N_RIPPLE_REL; i++)
		f[nf++] = (0.10 + 0.05 * i) * nyq_low;
	for (size_t i = 0; i < nf; i += 2) {
		double fr = i + 1 < nf ? f[i + 1] : f[i];
		struct fit_window w;
		float *out;
		size_t nout;
		int ret = src_convert_tone(d, dir, p, f[i], fr, SRC_TONE_AMP,
					   p->probe_skip + p->probe_seconds + 0.1, &out, &nout,
					   NULL, err, errlen);
		if (ret < 0)
			return ret;
		ret = window_of(dir, p->probe_skip, p->probe_seconds, nout, &w, "probe", err, errlen);
		for (unsigned c = 0; !ret && c < 2 && c < p->channels; c++) {
			double freq = c ? fr : f[i];
			struct vd_sine_fit fit;

			if (vd_sine_fit_fixed(out + w.from * p->channels + c, w.len, p->channels,
					      dir->rate_out, freq, &fit) < 0) {
				snprintf(err, errlen, "sine fit failed");
				ret = -ENOMEM;
				break;
			}
			double g = vd_db(fit.amplitude / SRC_TONE_AMP);
			gmin = fmin(gmin, g);
			gmax = fmax(gmax, g);
			if (freq <= 0.8 * nyq_low + 1e-6) {
				g8min = fmin(g8min, g);
				g8max = fmax(g8max, g);
			}
			/* Images and noise relative to the input tone, as a drooping tone does not excuse them. */
			worst_other = fmax(worst_other, fit.thdn_db + g);
		}
		free(out);
		if (ret < 0)
			return ret;
	}
	q->ripple_db = gmax - gmin;
	q->ripple_08_db = g8max - g8min;
	if (dir->rate_out > dir->rate_in)
		q->rejection_db = -worst_other;
	return 0;
}

/*
 * Downsampling: tones between 1.1 Nyq_out and 0.98 Nyq_in must not come out;
 * whatever does (alias and noise) is measured, relative to the input tone.
 */
static int measure_alias(const struct src_engine_desc *d, const struct src_dir *dir,
			 const struct src_params *p, struct src_quality *q, char *err, size_t errlen)
{
	double lo = 1.1 * 0.5 * dir->rate_out, hi = 0.98 * 0.5 * dir->rate_in;
	double worst = -1e9;

	for (int i = 0; i < N_REJECT; i += 2) {
		double fl = lo + (hi - lo) * i / (N_REJECT - 1);
		double fr = lo + (hi - lo) * (i + 1) / (N_REJECT - 1);
		struct fit_window w;
		float *out;
		size_t nout;
		int ret = src_convert_tone(d, dir, p, fl, fr, SRC_TONE_AMP,
					   p->probe_skip + p->probe_seconds + 0.1, &out, &nout,
					   NULL, err, errlen);
		if (ret < 0)
			return ret;
		ret = window_of(dir, p->probe_skip, p->probe_seconds, nout, &w, "alias probe", err, errlen);
		for (unsigned c = 0; !ret && c < 2 && c < p->channels; c++) {
			double rms = vd_rms(out + w.from * p->channels + c, w.len, p->channels);
			worst = fmax(worst, vd_db(rms / (SRC_TONE_AMP / sqrt(2.0)) + 1e-30));
		}
		free(out);
		if (ret < 0)
			return ret;
	}
	q->rejection_db = -worst;
	return 0;
}

int src_measure_quality(const struct src_engine_desc *d, const struct src_dir *dir,
			const struct src_params *p, struct src_quality *q, char *err, size_t errlen)
{
	int ret = measure_tones(d, dir, p, q, err, errlen);

	if (!ret)
		ret = measure_passband(d, dir, p, q, err, errlen);
	if (!ret && dir->rate_out < dir->rate_in)
		ret = measure_alias(d, dir, p, q, err, errlen);
	return ret;
}

/* xorshift64*: fast, and the state lives in the caller. */
static double uniform(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (double)((*s * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

void src_coloured_noise(float *x, size_t frames, unsigned channels, uint64_t seed)
{
	uint64_t s = seed ? seed : 1;
	double lp[64] = { 0 };
	long double e = 0;

	for (size_t i = 0; i < frames; i++) {
		for (unsigned c = 0; c < channels; c++) {
			/* Roughly Gaussian white (sum of four uniforms), tilted by a one-pole low-pass. */
			double w = uniform(&s) + uniform(&s) + uniform(&s) + uniform(&s) - 2.0;
			lp[c % 64] = 0.95 * lp[c % 64] + 0.05 * w;
			double v = 4.0 * lp[c % 64] + 0.3 * w;
			x[i * channels + c] = (float)v;
			e += v * v;
		}
	}
	double rms = sqrt((double)(e / (long double)(frames * channels + 1)));
	double g = 0.1 / (rms > 0 ? rms : 1);
	for (size_t i = 0; i < frames * channels; i++) {
		double v = x[i] * g;
		x[i] = (float)(v > 0.99 ? 0.99 : v < -0.99 ? -0.99 : v);
	}
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int src_time_stream(const struct src_engine_desc *d, const struct src_dir *dir,
		    const struct src_params *p, const float *in, size_t frames,
		    double *cpu_s, double *wall_s, size_t *out_samples, char *err, size_t errlen)
{
	struct src_engine *e = NULL;
	size_t done = 0, total = 0, cap;
	float *out;
	int ret = src_engine_new(d, dir->rate_in, dir->rate_out, p->channels, &e, err, errlen);

	if (ret < 0)
		return ret;
	/* Generous: block-based libraries release output in bursts larger than one chunk. */
	cap = src_engine_max_output(e, p->chunk * 8 + 8192);
	out = malloc(cap * p->channels * sizeof(float));
	if (!out) {
		src_engine_free(e);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
	while (done < frames) {
		size_t left = frames - done < p->chunk ? frames - done : p->chunk;
		size_t ni, no;

		do {
			ni = left;
			no = cap;
			ret = src_engine_process(e, in + done * p->channels, &ni, out, &no);
			if (ret < 0 || (!ni && !no && left)) {
				snprintf(err, errlen, "%s %s: process stalled or failed", d->lib, d->setting);
				ret = ret < 0 ? ret : -EIO;
				goto out;
			}
			left -= ni;
			done += ni;
			total += no;
		} while (left || no == cap);
	}
	*cpu_s = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
	*wall_s = clock_s(CLOCK_MONOTONIC) - w0;
	*out_samples = total * p->channels;
out:
	free(out);
	src_engine_free(e);
	return ret;
}
