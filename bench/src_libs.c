/* bench/src_libs.c - adapters from libsoxr, libsamplerate, speexdsp and virtdsp to one streaming API. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtdsp/resample.h>

#include "dsp/src/src-impl.h"
#include "src_libs.h"

#ifdef VD_BENCH_HAVE_SOXR
#include <soxr.h>
#endif
#ifdef VD_BENCH_HAVE_SAMPLERATE
#include <samplerate.h>
#endif
#ifdef VD_BENCH_HAVE_SPEEXDSP
#include <speex/speex_resampler.h>
#endif

enum lib_id { LIB_SOXR, LIB_SAMPLERATE, LIB_SPEEXDSP, LIB_VIRTDSP };

#ifndef VD_BENCH_HAVE_SOXR
#define SOXR_QQ 0
#define SOXR_LQ 1
#define SOXR_MQ 2
#define SOXR_HQ 4
#define SOXR_VHQ 6
#endif
#ifndef VD_BENCH_HAVE_SAMPLERATE
#define SRC_SINC_BEST_QUALITY 0
#define SRC_SINC_MEDIUM_QUALITY 1
#define SRC_SINC_FASTEST 2
#endif

const struct src_engine_desc src_engines[] = {
	{ "soxr", "QQ", SOXR_QQ, NULL },
	{ "soxr", "LQ", SOXR_LQ, NULL },
	{ "soxr", "MQ", SOXR_MQ, NULL },
	{ "soxr", "HQ", SOXR_HQ, NULL },
	{ "soxr", "VHQ", SOXR_VHQ, NULL },
	{ "samplerate", "SINC_FASTEST", SRC_SINC_FASTEST, NULL },
	{ "samplerate", "SINC_MEDIUM", SRC_SINC_MEDIUM_QUALITY, NULL },
	{ "samplerate", "SINC_BEST", SRC_SINC_BEST_QUALITY, NULL },
	{ "speexdsp", "q3", 3, NULL },
	{ "speexdsp", "q5", 5, NULL },
	{ "speexdsp", "q8", 8, NULL },
	{ "speexdsp", "q10", 10, NULL },
	{ "virtdsp", "low", VD_RESAMPLE_LOW, "LQ" },
	{ "virtdsp", "medium", VD_RESAMPLE_MEDIUM, "MQ" },
	{ "virtdsp", "high", VD_RESAMPLE_HIGH, "HQ" },
	{ "virtdsp", "very-high", VD_RESAMPLE_VERY_HIGH, "VHQ" },
};
const size_t src_n_engines = sizeof(src_engines) / sizeof(src_engines[0]);

struct src_engine {
	enum lib_id lib;
	unsigned channels;
	double ratio;
	void *h;
	/* speexdsp has no flush: zeros are fed from here. */
	float *zeros;
	size_t zeros_frames, zeros_left;
	int draining;
};

static enum lib_id lib_of(const struct src_engine_desc *d)
{
	if (!strcmp(d->lib, "soxr"))
		return LIB_SOXR;
	if (!strcmp(d->lib, "samplerate"))
		return LIB_SAMPLERATE;
	if (!strcmp(d->lib, "speexdsp"))
		return LIB_SPEEXDSP;
	return LIB_VIRTDSP;
}

const char *src_lib_version(const struct src_engine_desc *d)
{
	switch (lib_of(d)) {
	case LIB_SOXR:
#ifdef VD_BENCH_HAVE_SOXR
		return soxr_version();
#else
		break;
#endif
	case LIB_SAMPLERATE:
#ifdef VD_BENCH_HAVE_SAMPLERATE
		return src_get_version();
#else
		break;
#endif
	case LIB_SPEEXDSP:
#ifdef VD_BENCH_SPEEXDSP_VERSION
		return "speexdsp-" VD_BENCH_SPEEXDSP_VERSION;
#else
		break;
#endif
	case LIB_VIRTDSP:
#ifdef VD_BENCH_VIRTDSP_VERSION
		return "virtdsp-" VD_BENCH_VIRTDSP_VERSION;
#else
		break;
#endif
	}
	return "unknown";
}

int src_engine_available(const struct src_engine_desc *d)
{
	switch (lib_of(d)) {
	case LIB_SOXR:
#ifdef VD_BENCH_HAVE_SOXR
		return 1;
#else
		return 0;
#endif
	case LIB_SAMPLERATE:
#ifdef VD_BENCH_HAVE_SAMPLERATE
		return 1;
#else
		return 0;
#endif
	case LIB_SPEEXDSP:
#ifdef VD_BENCH_HAVE_SPEEXDSP
		return 1;
#else
		return 0;
#endif
	case LIB_VIRTDSP:
		return 1;
	}
	return 0;
}

int src_engine_new(const struct src_engine_desc *d, unsigned rate_in, unsigned rate_out,
		   unsigned channels, struct src_engine **out, char *err, size_t errlen)
{
	struct src_engine *e;
	int ret = -EINVAL;

	*out = NULL;
	if (!src_engine_available(d)) {
		snprintf(err, errlen, "%s is not available in this build", d->lib);
		return -ENOSYS;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	e->lib = lib_of(d);
	e->channels = channels;
	e->ratio = (double)rate_out / rate_in;

	switch (e->lib) {
	case LIB_SOXR: {
#ifdef VD_BENCH_HAVE_SOXR
		soxr_error_t serr = NULL;
		soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
		soxr_quality_spec_t q = soxr_quality_spec((unsigned long)d->param, 0);
		/* One thread, as the reference figures were taken. */
		soxr_runtime_spec_t rt = soxr_runtime_spec(1);

		e->h = soxr_create(rate_in, rate_out, channels, &serr, &io, &q, &rt);
		if (!e->h || serr) {
			snprintf(err, errlen, "soxr_create: %s", serr ? serr : "failed");
			goto fail;
		}
#endif
		break;
	}
	case LIB_SAMPLERATE: {
#ifdef VD_BENCH_HAVE_SAMPLERATE
		int serr = 0;

		e->h = src_new(d->param, (int)channels, &serr);
		if (!e->h) {
			snprintf(err, errlen, "src_new: %s", src_strerror(serr));
			goto fail;
		}
#endif
		break;
	}
	case LIB_SPEEXDSP: {
#ifdef VD_BENCH_HAVE_SPEEXDSP
		int serr = 0;

		e->h = speex_resampler_init(channels, rate_in, rate_out, d->param, &serr);
		if (!e->h) {
			snprintf(err, errlen, "speex_resampler_init: %s", speex_resampler_strerror(serr));
			goto fail;
		}
		e->zeros_frames = 256;
		e->zeros = calloc(e->zeros_frames * channels, sizeof(float));
		if (!e->zeros) {
			snprintf(err, errlen, "out of memory");
			ret = -ENOMEM;
			goto fail;
		}
#endif
		break;
	}
	case LIB_VIRTDSP: {
		struct vd_resample_config cfg = {
			.rate_in = rate_in, .rate_out = rate_out, .channels = channels,
			.quality = (enum vd_resample_quality)d->param,
			.format_in = VD_FORMAT_F32, .format_out = VD_FORMAT_F32,
		};
		struct vd_resampler *r = NULL;
		/* bench_src --isa: every stage on one instruction set (test hook). */
		static const char *const isas[SRC_ISA_COUNT] = { "c", "sse2", "avx2", "avx512" };
		const char *want = getenv("VD_BENCH_SRC_ISA");
		enum src_isa isa = SRC_ISA_COUNT;
		for (int i = 0; want && i < SRC_ISA_COUNT; i++)
			if (!strcmp(want, isas[i]))
				isa = (enum src_isa)i;

		ret = vd_resampler_new_isa(&cfg, isa, &r, err, errlen);
		if (ret < 0) {
			if (ret != -ENOTSUP)
				snprintf(err, errlen, "vd_resampler_new: %s", strerror(-ret));
			goto fail;
		}
		e->h = r;
		break;
	}
	}
	*out = e;
	return 0;
fail:
	src_engine_free(e);
	return ret;
}

void src_engine_free(struct src_engine *e)
{
	if (!e)
		return;
	if (e->h) {
		switch (e->lib) {
		case LIB_SOXR:
#ifdef VD_BENCH_HAVE_SOXR
			soxr_delete(e->h);
#endif
			break;
		case LIB_SAMPLERATE:
#ifdef VD_BENCH_HAVE_SAMPLERATE
			src_delete(e->h);
#endif
			break;
		case LIB_SPEEXDSP:
#ifdef VD_BENCH_HAVE_SPEEXDSP
			speex_resampler_destroy(e->h);
#endif
			break;
		case LIB_VIRTDSP:
			vd_resampler_free(e->h);
			break;
		}
	}
	free(e->zeros);
	free(e);
}

/* @in == NULL means end of input (flush) for the libraries that have one. */
static int convert(struct src_engine *e, const float *in, size_t *in_frames,
		   float *out, size_t *out_frames)
{
	switch (e->lib) {
	case LIB_SOXR: {
#ifdef VD_BENCH_HAVE_SOXR
		size_t idone = 0, odone = 0;

		if (soxr_process(e->h, in, in ? *in_frames : 0, in ? &idone : NULL,
				 out, *out_frames, &odone))
			return -EIO;
		*in_frames = idone;
		*out_frames = odone;
#endif
		return 0;
	}
	case LIB_SAMPLERATE: {
#ifdef VD_BENCH_HAVE_SAMPLERATE
		SRC_DATA sd = {
			.data_in = in, .data_out = out,
			.input_frames = in ? (long)*in_frames : 0,
			.output_frames = (long)*out_frames,
			.end_of_input = in ? 0 : 1,
			.src_ratio = e->ratio,
		};

		if (src_process(e->h, &sd))
			return -EIO;
		*in_frames = (size_t)sd.input_frames_used;
		*out_frames = (size_t)sd.output_frames_gen;
#endif
		return 0;
	}
	case LIB_SPEEXDSP: {
#ifdef VD_BENCH_HAVE_SPEEXDSP
		spx_uint32_t il = (spx_uint32_t)*in_frames, ol = (spx_uint32_t)*out_frames;

		if (speex_resampler_process_interleaved_float(e->h, in, &il, out, &ol))
			return -EIO;
		*in_frames = il;
		*out_frames = ol;
#endif
		return 0;
	}
	case LIB_VIRTDSP: {
		uint32_t il = (uint32_t)*in_frames, ol = (uint32_t)*out_frames;
		int ret = in ? vd_resampler_process(e->h, in, &il, out, &ol)
			     : vd_resampler_drain(e->h, out, &ol);

		if (ret < 0)
			return -EIO;
		*in_frames = in ? il : 0;
		*out_frames = ol;
		return 0;
	}
	}
	return -EINVAL;
}

int src_engine_process(struct src_engine *e, const float *in, size_t *in_frames,
		       float *out, size_t *out_frames)
{
	return convert(e, in, in_frames, out, out_frames);
}

int src_engine_drain(struct src_engine *e, float *out, size_t *out_frames)
{
	size_t n = 0;

	if (e->lib != LIB_SPEEXDSP)
		return convert(e, NULL, &n, out, out_frames);
#ifdef VD_BENCH_HAVE_SPEEXDSP
	/* The filter's history is flushed by its own input latency in zeros. */
	if (!e->draining) {
		e->draining = 1;
		e->zeros_left = (size_t)speex_resampler_get_input_latency(e->h);
	}
	n = e->zeros_left < e->zeros_frames ? e->zeros_left : e->zeros_frames;
	if (!n) {
		*out_frames = 0;
		return 0;
	}
	if (*out_frames < src_engine_max_output(e, n))
		n = (size_t)(*out_frames / e->ratio) / 2;
	int ret = convert(e, e->zeros, &n, out, out_frames);
	e->zeros_left -= n;
	return ret;
#else
	*out_frames = 0;
	return 0;
#endif
}

size_t src_engine_max_output(const struct src_engine *e, size_t in_frames)
{
	if (e->lib == LIB_VIRTDSP)
		return vd_resampler_max_output(e->h, (uint32_t)in_frames);
	return (size_t)ceil((double)in_frames * e->ratio) + 16;
}

int src_engine_run(const struct src_engine_desc *d, unsigned rate_in, unsigned rate_out,
		   unsigned channels, const float *in, size_t in_frames, size_t chunk,
		   float **out, size_t *out_frames, struct src_held *held, char *err, size_t errlen)
{
	struct src_engine *e = NULL;
	/* Room for the whole stream plus any flush, however a library bunches its output. */
	size_t cap = (size_t)ceil((double)in_frames * rate_out / rate_in) + 65536;
	size_t done_in = 0, done_out = 0, nchunks = 0;
	double held_sum = 0, held_max = 0;
	float *buf;
	int ret;

	*out = NULL;
	*out_frames = 0;
	buf = malloc(cap * channels * sizeof(float));
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = src_engine_new(d, rate_in, rate_out, channels, &e, err, errlen);
	if (ret < 0)
		goto fail;
	while (done_in < in_frames) {
		size_t left = in_frames - done_in < chunk ? in_frames - done_in : chunk;

		while (left) {
			size_t ni = left, no = cap - done_out;

			ret = src_engine_process(e, in + done_in * channels, &ni,
						 buf + done_out * channels, &no);
			if (ret < 0 || (!ni && !no) || done_out + no >= cap) {
				snprintf(err, errlen, "%s %s: process stalled or failed at input frame %zu",
					 d->lib, d->setting, done_in);
				ret = ret < 0 ? ret : -EIO;
				goto fail;
			}
			left -= ni;
			done_in += ni;
			done_out += no;
		}
		double h = (double)done_in * rate_out / rate_in - (double)done_out;
		held_sum += h;
		held_max = h > held_max ? h : held_max;
		nchunks++;
	}
	for (;;) {
		size_t no = cap - done_out;

		ret = src_engine_drain(e, buf + done_out * channels, &no);
		if (ret < 0) {
			snprintf(err, errlen, "%s %s: drain failed", d->lib, d->setting);
			goto fail;
		}
		done_out += no;
		if (!no || done_out >= cap)
			break;
	}
	if (held) {
		held->mean = nchunks ? held_sum / (double)nchunks : 0;
		held->max = held_max;
	}
	src_engine_free(e);
	*out = buf;
	*out_frames = done_out;
	return 0;
fail:
	src_engine_free(e);
	free(buf);
	return ret;
}
