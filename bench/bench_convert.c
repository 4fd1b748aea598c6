/* bench/bench_convert.c - sample-format conversion throughput (one core): C vs SSE2 vs AVX2 kernels, and the public API. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <virtdsp/convert.h>

#include "audio/convert_kernels.h"

/* One block fits in L1/L2 so the figures measure the kernels, not memory. */
#define BLOCK 4096

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct job {
	const char *name;
	enum vd_sample_format src, dst;
	bool dither;
	size_t off;		/* kernel-table entry, or SIZE_MAX for the generic path only */
};

static float *fbuf;
static uint8_t *ibuf, *obuf;

static void run_once(const struct job *j, const struct vd_convert_kernels *k, struct vd_dither *d)
{
	void (*fn)(void) = NULL;

	if (k)
		memcpy(&fn, (const char *)k + j->off, sizeof(fn));
	if (!k) {
		vd_convert_samples(j->dst, obuf, j->src, j->src == VD_FORMAT_F32 ? (void *)fbuf : (void *)ibuf,
				   BLOCK, j->dither ? d : NULL);
	} else if (j->dst == VD_FORMAT_F32) {
		((vd_to_f32_fn)fn)((float *)obuf, ibuf, BLOCK);
	} else if (j->dither) {
		((vd_from_f32_dither_fn)fn)(obuf, fbuf, BLOCK, (uint32_t)d->state, 0x1234);
		d->state += BLOCK;
	} else {
		((vd_from_f32_fn)fn)(obuf, fbuf, BLOCK);
	}
}

/* Best of three timed runs of about @secs each: samples per second. */
static double measure(const struct job *j, const struct vd_convert_kernels *k, double secs)
{
	struct vd_dither d;
	double best = 0;

	vd_dither_init(&d, 1);
	for (int rep = 0; rep < 3; rep++) {
		double t0 = now(), t;
		size_t iters = 0;

		do {
			for (int i = 0; i < 16; i++)
				run_once(j, k, &d);
			iters += 16;
			t = now() - t0;
		} while (t < secs);
		if (iters * (double)BLOCK / t > best)
			best = iters * (double)BLOCK / t;
	}
	return best;
}

#define K(f) offsetof(struct vd_convert_kernels, f)

int main(int argc, char **argv)
{
	static const struct job jobs[] = {
		{ "s16 -> f32", VD_FORMAT_S16, VD_FORMAT_F32, false, K(s16_to_f32) },
		{ "f32 -> s16", VD_FORMAT_F32, VD_FORMAT_S16, false, K(f32_to_s16) },
		{ "f32 -> s16 dither", VD_FORMAT_F32, VD_FORMAT_S16, true, K(f32_to_s16_dither) },
		{ "s24_3 -> f32", VD_FORMAT_S24_3, VD_FORMAT_F32, false, K(s24_3_to_f32) },
		{ "f32 -> s24_3", VD_FORMAT_F32, VD_FORMAT_S24_3, false, K(f32_to_s24_3) },
		{ "s24 -> f32", VD_FORMAT_S24, VD_FORMAT_F32, false, K(s24_to_f32) },
		{ "f32 -> s24", VD_FORMAT_F32, VD_FORMAT_S24, false, K(f32_to_s24) },
		{ "s32 -> f32", VD_FORMAT_S32, VD_FORMAT_F32, false, K(s32_to_f32) },
		{ "f32 -> s32", VD_FORMAT_F32, VD_FORMAT_S32, false, K(f32_to_s32) },
		{ "f64 -> f32", VD_FORMAT_F64, VD_FORMAT_F32, false, K(f64_to_f32) },
		{ "f32 -> f64", VD_FORMAT_F32, VD_FORMAT_F64, false, K(f32_to_f64) },
		{ "u8 -> f32", VD_FORMAT_U8, VD_FORMAT_F32, false, K(u8_to_f32) },
		{ "f32 -> u8 dither", VD_FORMAT_F32, VD_FORMAT_U8, true, K(f32_to_u8_dither) },
		{ "s32 -> s16 (generic)", VD_FORMAT_S32, VD_FORMAT_S16, false, SIZE_MAX },
		{ "s32 -> s16 dither (generic)", VD_FORMAT_S32, VD_FORMAT_S16, true, SIZE_MAX },
		{ "f64 -> s16 dither (generic)", VD_FORMAT_F64, VD_FORMAT_S16, true, SIZE_MAX },
		{ "f32 -> mulaw", VD_FORMAT_F32, VD_FORMAT_MULAW, false, SIZE_MAX },
		{ "mulaw -> f32", VD_FORMAT_MULAW, VD_FORMAT_F32, false, SIZE_MAX },
	};
	double secs = argc > 1 ? atof(argv[1]) : 0.05;
	uint32_t x = 1;

	fbuf = malloc(BLOCK * sizeof(float));
	ibuf = malloc(BLOCK * 8);
	obuf = malloc(BLOCK * 8);
	if (!fbuf || !ibuf || !obuf)
		return 1;
	for (size_t i = 0; i < BLOCK; i++) {
		x = x * 1664525u + 1013904223u;
		fbuf[i] = (float)((int32_t)x / 2147483648.0 * 0.9);
	}
	for (size_t i = 0; i < BLOCK * 8; i++) {
		x = x * 1664525u + 1013904223u;
		ibuf[i] = (uint8_t)(x >> 24);
	}
	/* Valid doubles for the F64 sources (random bytes would be NaN-heavy). */
	for (size_t i = 0; i < BLOCK; i++)
		((double *)ibuf)[i] = fbuf[i];

	printf("# virtdsp sample conversion, one core, block %d samples, Msamples/s (best of 3 x %.2fs)\n",
	       BLOCK, secs);
	printf("%-30s %10s %10s %10s %10s   %s\n", "conversion", "c", "sse2", "avx2", "api", "best/c");
	for (size_t n = 0; n < sizeof(jobs) / sizeof(jobs[0]); n++) {
		const struct job *j = &jobs[n];
		double r[VD_CONVERT_ISA_COUNT] = { 0 }, api, top = 0;

		printf("%-30s", j->name);
		for (int isa = 0; isa < VD_CONVERT_ISA_COUNT; isa++) {
			const struct vd_convert_kernels *k = vd_convert_kernels_get((enum vd_convert_isa)isa);
			void (*fn)(void) = NULL;

			if (k && j->off != SIZE_MAX)
				memcpy(&fn, (const char *)k + j->off, sizeof(fn));
			if (!fn) {
				printf(" %10s", "-");
				continue;
			}
			r[isa] = measure(j, k, secs);
			if (r[isa] > top)
				top = r[isa];
			printf(" %10.1f", r[isa] / 1e6);
		}
		api = measure(j, NULL, secs);
		printf(" %10.1f", api / 1e6);
		if (r[0] > 0)
			printf("   %.2fx", top / r[0]);
		printf("\n");
	}
	free(fbuf);
	free(ibuf);
	free(obuf);
	return 0;
}
