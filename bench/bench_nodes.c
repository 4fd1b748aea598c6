/* bench/bench_nodes.c - per-node throughput: stereo f32, 480-frame blocks, one core, against memcpy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <virtdsp/convert.h>

#include "dsp/dsp.h"
#include "../tests/unit/nodetest.h"
#include "analysis.h"

#define BLOCK	480
#define RATE	48000
#define MAX_IN	4

struct bench_case {
	const char *label;
	const struct vd_node_ops *ops;
	const char *const *props;
	uint32_t n_inputs;
	enum vd_sample_format in_fmt;
	uint32_t in_ch;
	const char *sweep;		/* a parameter changed every block (keeps ramps running), or NULL */
	double sweep_a, sweep_b;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Frames per second of @c, running blocks for about @seconds. */
static double run_case(const struct bench_case *c, double seconds)
{
	struct nt_node n;
	struct vd_audio_format f[MAX_IN];
	void *in[MAX_IN], *out;
	size_t isz, osz;
	long blocks = 0;
	double t0, t;
	int sweep_id = -1;

	if (nt_init(&n, c->ops, c->props, c->n_inputs, RATE) < 0) {
		fprintf(stderr, "%s: %s\n", c->label, n.err.msg);
		exit(1);
	}
	for (uint32_t i = 0; i < n.n_in; i++)
		vd_audio_format_init(&f[i], c->in_fmt, RATE, c->in_ch);
	if (nt_prepare(&n, f, BLOCK) < 0) {
		fprintf(stderr, "%s: %s\n", c->label, n.err.msg);
		exit(1);
	}
	isz = n.n_in ? vd_format_frame_size(&n.in[0]) : 0;
	osz = vd_format_frame_size(&n.out[0]);
	for (uint32_t i = 0; i < n.n_in; i++) {
		float *tmp = malloc(BLOCK * n.in[i].channels * sizeof(float));

		in[i] = malloc(BLOCK * isz);
		vd_gen_sine(tmp, BLOCK, n.in[i].channels, RATE, 997.0 + 100 * i, 0.5, 0);
		vd_convert_from_f32(n.in[i].format, in[i], tmp, (size_t)BLOCK * n.in[i].channels, NULL);
		free(tmp);
	}
	out = malloc(BLOCK * osz);
	if (c->sweep)
		sweep_id = nt_param(&n, c->sweep);
	t0 = now();
	do {
		for (int k = 0; k < 64; k++, blocks++) {
			struct vd_buffer ib[MAX_IN], ob = { out, BLOCK, 0 };

			for (uint32_t i = 0; i < n.n_in; i++)
				ib[i] = (struct vd_buffer){ in[i], BLOCK, 0 };
			if (sweep_id >= 0)
				c->ops->set_param(n.self, (uint32_t)sweep_id, blocks % 2 ? c->sweep_a : c->sweep_b);
			c->ops->process(n.self, ib, n.n_in, &ob, 1);
			if (ob.frames != BLOCK) {
				fprintf(stderr, "%s: produced %u of %u frames\n", c->label, ob.frames, BLOCK);
				exit(1);
			}
		}
		t = now() - t0;
	} while (t < seconds);
	for (uint32_t i = 0; i < n.n_in; i++)
		free(in[i]);
	free(out);
	nt_free(&n);
	return (double)blocks * BLOCK / t;
}

static double run_memcpy(double seconds)
{
	float *a = calloc(BLOCK * 2, sizeof(float)), *b = calloc(BLOCK * 2, sizeof(float));
	volatile float sink = 0;
	long blocks = 0;
	double t0 = now(), t;

	do {
		for (int k = 0; k < 1024; k++, blocks++) {
			memcpy(b, a, BLOCK * 2 * sizeof(float));
			a[k % (BLOCK * 2)] = b[(k + 1) % (BLOCK * 2)] + 1.0f;
		}
		t = now() - t0;
	} while (t < seconds);
	sink = b[0];
	(void)sink;
	free(a);
	free(b);
	return (double)blocks * BLOCK / t;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 0.3;
	static const char *const none[] = { NULL };
	static const char *const gain6[] = { "gain=-6dB", NULL };
	static const char *const eq1[] = { "band1.type=peaking", "band1.freq=1kHz", "band1.gain=3dB", NULL };
	static const char *const eq4[] = {
		"band1.type=highpass", "band1.freq=40Hz", "band2.type=lowshelf", "band2.freq=200Hz",
		"band2.gain=3dB", "band3.freq=2kHz", "band3.gain=-4dB", "band3.q=2",
		"band4.type=highshelf", "band4.freq=8kHz", "band4.gain=2dB", NULL };
	static char eq16_buf[16][40];
	static const char *eq16[17];
	static const char *const sine[] = { "channels=2", NULL };
	static const char *const square[] = { "wave=square", "channels=2", NULL };
	static const char *const white[] = { "wave=white", "channels=2", NULL };
	static const char *const pink[] = { "wave=pink", "channels=2", NULL };
	static const char *const swap[] = { "route.0=1", "route.1=0", NULL };
	static const char *const down[] = { "positions.0=FL", "positions.1=FR", NULL };
	static const char *const to_s16[] = { "format=s16", NULL };
	static const char *const to_s16d[] = { "format=s16", "dither=true", NULL };
	static const char *const to_f32[] = { "format=f32", NULL };
	static const char *const to_mono[] = { "channels=1", NULL };

	for (int i = 0; i < 16; i++) {
		snprintf(eq16_buf[i], sizeof(eq16_buf[i]), "band%d.freq=%dHz", i + 1, 30 + 1200 * i);
		eq16[i] = eq16_buf[i];
	}
	eq16[16] = NULL;

	const struct bench_case cases[] = {
		{ "volume 0 dB (copy)", &vd_node_volume, none, 1, VD_FORMAT_F32, 2, NULL, 0, 0 },
		{ "volume -6 dB", &vd_node_volume, gain6, 1, VD_FORMAT_F32, 2, NULL, 0, 0 },
		{ "volume always ramping", &vd_node_volume, none, 1, VD_FORMAT_F32, 2, "gain", -20, 0 },
		{ "mixer 2 inputs", &vd_node_mixer, none, 2, VD_FORMAT_F32, 2, NULL, 0, 0 },
		{ "mixer 4 inputs", &vd_node_mixer, none, 4, VD_FORMAT_F32, 2, NULL, 0, 0 },
		{ "eq 1 band", &vd_node_eq, eq1, 1, VD_FORMAT_F32, 2, NULL, 0, 0 },
		{ "eq 4 bands", &vd_node_eq, eq4, 1, VD_FORMAT_F32, 2, NULL, 0, 0 },
		{ "eq 16 bands", &vd_node_eq, eq16, 1, VD_FORMAT_F32, 2, NULL, 0, 0 },
		{ "eq 4 bands, freq gliding", &vd_node_eq, eq4, 1, VD_FORMAT_F32, 2, "band3.freq", 1000, 3000 },
		{ "tone sine", &vd_node_tone, sine, 0, VD_FORMAT_F32, 2, NULL, 0, 0 },
		{ "tone square", &vd_node_tone, square, 0, VD_FORMAT_F32, 2, NULL, 0, 0 },
		{ "tone white", &vd_node_tone, white, 0, VD_FORMAT_F32, 2, NULL, 0, 0 },
		{ "tone pink", &vd_node_tone, pink, 0, VD_FORMAT_F32, 2, NULL, 0, 0 },
		{ "meter f32", &vd_node_meter, none, 1, VD_FORMAT_F32, 2, NULL, 0, 0 },
		{ "meter s16", &vd_node_meter, none, 1, VD_FORMAT_S16, 2, NULL, 0, 0 },
		{ "remap route swap", &vd_node_remap, swap, 1, VD_FORMAT_F32, 2, NULL, 0, 0 },
		{ "remap 5.1 -> stereo", &vd_node_remap, down, 1, VD_FORMAT_F32, 6, NULL, 0, 0 },
		{ "convert f32 -> s16", &vd_node_convert, to_s16, 1, VD_FORMAT_F32, 2, NULL, 0, 0 },
		{ "convert f32 -> s16 dither", &vd_node_convert, to_s16d, 1, VD_FORMAT_F32, 2, NULL, 0, 0 },
		{ "convert s16 -> f32", &vd_node_convert, to_f32, 1, VD_FORMAT_S16, 2, NULL, 0, 0 },
		{ "convert s16 2ch -> 1ch", &vd_node_convert, to_mono, 1, VD_FORMAT_S16, 2, NULL, 0, 0 },
	};
	double base = run_memcpy(seconds);

	printf("# node throughput: stereo f32 unless noted, %d-frame blocks, one core, %.2f s per case\n",
	       BLOCK, seconds);
	printf("# (figures taken on a shared machine; compare ratios within one run)\n");
	printf("%-28s %14s %12s %12s\n", "case", "frames/s", "x realtime", "vs memcpy");
	printf("%-28s %14.3e %12.0f %12.3f\n", "memcpy (peer)", base, base / RATE, 1.0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double fps = run_case(&cases[i], seconds);

		printf("%-28s %14.3e %12.0f %12.3f\n", cases[i].label, fps, fps / RATE, fps / base);
	}
	return 0;
}
