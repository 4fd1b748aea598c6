/* bench/src_measure.h - what bench_src measures of one converter in one direction.
 *
 * The method follows /work/shared/reference/src-anchors.md (docs/bench.md
 * restates it): stereo float32 streamed in fixed chunks; throughput on
 * coloured noise with set-up untimed; SNR and THD+N from a least-squares
 * sine fit; ripple and rejection from single tones; latency from the fitted
 * phase of 1 kHz and 997 Hz plus the output held back after each chunk.
 */
#ifndef VD_BENCH_SRC_MEASURE_H
#define VD_BENCH_SRC_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#include "src_libs.h"

struct src_dir {
	unsigned rate_in, rate_out;
	const char *name;	/* "44.1→48" */
	const char *tag;	/* "44k1-48k", for file names */
};

/** Lengths of the test signals; --quick and --full pick different ones. */
struct src_params {
	unsigned channels;
	size_t chunk;		/* frames per process call */
	double tone_seconds;	/* SNR/THD+N tone length */
	double fit_from, fit_seconds;	/* analysed part of the converted tone */
	double probe_skip, probe_seconds;	/* single-tone probes: settle time, analysed length */
	unsigned plot_tones;	/* tones of the plotted magnitude response */
};

struct src_quality {
	double snr_1k, thdn_1k, snr_997, thdn_997;	/* dB */
	double ripple_db;	/* 20 Hz .. 0.9 lower Nyquist */
	double ripple_08_db;	/* 20 Hz .. 0.8 lower Nyquist */
	double rejection_db;	/* alias (down) or image+noise (up) rejection, positive */
	double align_ms;	/* delay of the output signal relative to the input */
	double held_ms, held_max_ms;	/* output held back after each chunk */
	double latency_ms, latency_max_ms;	/* align + held */
	double latency_in_samples;
};

/** Measure the quality figures; 0 or -errno with a message in @err. */
int src_measure_quality(const struct src_engine_desc *d, const struct src_dir *dir,
			const struct src_params *p, struct src_quality *q, char *err, size_t errlen);

/** Low-pass-tilted noise, independent per channel, -20 dBFS RMS, fixed seed. */
void src_coloured_noise(float *x, size_t frames, unsigned channels, uint64_t seed);

/**
 * Stream @frames of @in through a fresh converter (created and freed
 * outside the timed part). Returns thread CPU seconds and wall seconds of
 * the streaming loop and the output channel-samples it produced.
 */
int src_time_stream(const struct src_engine_desc *d, const struct src_dir *dir,
		    const struct src_params *p, const float *in, size_t frames,
		    double *cpu_s, double *wall_s, size_t *out_samples, char *err, size_t errlen);

/** Converted single tone of amplitude @amp; *out (caller frees) has *out_frames frames. */
int src_convert_tone(const struct src_engine_desc *d, const struct src_dir *dir,
		     const struct src_params *p, double freq_l, double freq_r, double amp,
		     double seconds, float **out, size_t *out_frames, struct src_held *held,
		     char *err, size_t errlen);

#define SRC_TONE_AMP 0.89125093813374556	/* -1 dBFS */

#endif
