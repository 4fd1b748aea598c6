/* bench/src_libs.h - one streaming interface over the converters bench_src compares.
 *
 * libsoxr, libsamplerate and speexdsp are peers for measurement only; the
 * virtdsp engine never links them. Every engine takes and gives stereo (or
 * n-channel) interleaved float32.
 */
#ifndef VD_BENCH_SRC_LIBS_H
#define VD_BENCH_SRC_LIBS_H

#include <stddef.h>
#include <stdint.h>

struct src_engine;

/** One library at one setting; the table is static and read-only. */
struct src_engine_desc {
	const char *lib;	/* "soxr", "samplerate", "speexdsp", "virtdsp" */
	const char *setting;	/* as printed: "HQ", "SINC_BEST", "q8", "high" */
	int param;		/* library's own quality constant */
	/*
	 * Same-quality libsoxr setting for virtdsp presets (NULL otherwise):
	 * the virtdsp rows print their throughput ratio to it.
	 */
	const char *soxr_match;
};

extern const struct src_engine_desc src_engines[];
extern const size_t src_n_engines;

/** Version string of the library behind @d ("0.1.3"), for the report header. */
const char *src_lib_version(const struct src_engine_desc *d);

/** 1 if the library was found when the benchmark was built (virtdsp always is). */
int src_engine_available(const struct src_engine_desc *d);

/** Create a converter; 0 or -errno with a message in @err. Set-up is never timed. */
int src_engine_new(const struct src_engine_desc *d, unsigned rate_in, unsigned rate_out,
		   unsigned channels, struct src_engine **e, char *err, size_t errlen);
void src_engine_free(struct src_engine *e);

/**
 * Convert: consumes up to *in_frames, produces up to *out_frames (both
 * updated). Returns 0 or -EIO on a library error.
 */
int src_engine_process(struct src_engine *e, const float *in, size_t *in_frames,
		       float *out, size_t *out_frames);

/** End of input: flush what is held; call until it produces 0 frames. */
int src_engine_drain(struct src_engine *e, float *out, size_t *out_frames);

/** Upper bound on output frames for @in_frames input (for buffer sizing). */
size_t src_engine_max_output(const struct src_engine *e, size_t in_frames);

/**
 * Convert a whole signal in @chunk-frame pieces, then drain. *out is
 * allocated (caller frees); *out_frames is its length. If @held is not
 * NULL, it receives the mean and maximum of (ideal - produced) output
 * frames after each chunk (output held back by the converter).
 */
struct src_held {
	double mean, max;
};
int src_engine_run(const struct src_engine_desc *d, unsigned rate_in, unsigned rate_out,
		   unsigned channels, const float *in, size_t in_frames, size_t chunk,
		   float **out, size_t *out_frames, struct src_held *held, char *err, size_t errlen);

#endif
