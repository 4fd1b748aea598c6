/* tests/golden/test_golden.c - end-to-end runs of `virtdsp run` (the SOF-testbench role):
 * topologies and input files are written here, the CLI runs them, and outputs are checked
 * sample-exactly where exactness is defined (conversion, mixing, volume 0 dB) and by measured
 * figures elsewhere (EQ response, gain, rate conversion), plus error messages and determinism. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <sndfile.h>

#include <virtdsp/convert.h>
#include <virtdsp/graph.h>

#include "analysis.h"
#include "testutil.h"

static char *dir;

static const char *virtdsp(void)
{
	const char *p = getenv("VD_VIRTDSP");
	return p ? p : "build/src/cli/virtdsp";
}

static char *path(const char *name)
{
	char *p;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

static void write_text(const char *name, const char *text)
{
	char *p = path(name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

static char *read_text(const char *name)
{
	char *p = path(name), *buf = calloc(1, 65536);
	FILE *f = fopen(p, "r");
	if (f) {
		size_t n = fread(buf, 1, 65535, f);
		buf[n] = '\0';
		fclose(f);
	}
	free(p);
	return buf;
}

/* Run virtdsp with @args (a shell fragment); stdout/stderr go to files; returns the exit code. */
static int run(const char *args)
{
	char *cmd;
	if (asprintf(&cmd, "cd %s && %s %s >stdout.txt 2>stderr.txt", dir, virtdsp(), args) < 0)
		abort();
	int st = system(cmd);
	free(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_wav(const char *name, int subformat, int rate, int ch, const float *x, sf_count_t frames)
{
	char *p = path(name);
	SF_INFO info = { .samplerate = rate, .channels = ch, .format = SF_FORMAT_WAV | subformat };
	SNDFILE *f = sf_open(p, SFM_WRITE, &info);
	assert_non_null(f);
	/* floats beyond full scale must reach the file unclipped when it is float */
	sf_command(f, SFC_SET_CLIPPING, NULL, SF_FALSE);
	assert_int_equal(sf_writef_float(f, x, frames), frames);
	sf_close(f);
	free(p);
}

static void write_wav_s16(const char *name, int rate, int ch, const int16_t *x, sf_count_t frames)
{
	char *p = path(name);
	SF_INFO info = { .samplerate = rate, .channels = ch, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16 };
	SNDFILE *f = sf_open(p, SFM_WRITE, &info);
	assert_non_null(f);
	assert_int_equal(sf_writef_short(f, x, frames), frames);
	sf_close(f);
	free(p);
}

/* Read a whole file as raw ints (left-justified 32-bit, exact for PCM up to 32 bits). */
static int32_t *read_int(const char *name, SF_INFO *info)
{
	char *p = path(name);
	memset(info, 0, sizeof(*info));
	SNDFILE *f = sf_open(p, SFM_READ, info);
	if (!f)
		fail_msg("cannot open %s: %s", p, sf_strerror(NULL));
	int32_t *x = calloc((size_t)info->frames * info->channels + 1, sizeof(int32_t));
	assert_int_equal(sf_readf_int(f, x, info->frames), info->frames);
	sf_close(f);
	free(p);
	return x;
}

static float *read_float(const char *name, SF_INFO *info)
{
	char *p = path(name);
	memset(info, 0, sizeof(*info));
	SNDFILE *f = sf_open(p, SFM_READ, info);
	if (!f)
		fail_msg("cannot open %s: %s", p, sf_strerror(NULL));
	float *x = calloc((size_t)info->frames * info->channels + 1, sizeof(float));
	assert_int_equal(sf_readf_float(f, x, info->frames), info->frames);
	sf_close(f);
	free(p);
	return x;
}

static int setup(void **state)
{
	dir = vd_test_tmpdir();
	return dir ? 0 : -1;
}

static int teardown(void **state)
{
	vd_test_rmdir(dir);
	dir = NULL;
	return 0;
}

static void expect_run_ok(const char *args)
{
	int rc = run(args);
	if (rc != 0) {
		char *e = read_text("stderr.txt");
		fail_msg("virtdsp %s exited %d:\n%s", args, rc, e);
	}
}

/* f32 -> s16 / s24 / u8 through a file sink with a format property: exactly vd_convert_samples(). */
static void test_convert_exact(void **state)
{
	const int n = 20000;
	float *x = malloc(n * 2 * sizeof(float));
	uint32_t seed = 12345;
	for (int i = 0; i < n * 2; i++) {
		seed = seed * 1664525u + 1013904223u;
		x[i] = ((float)(seed >> 8) / 8388608.0f - 1.0f) * 1.2f; /* includes values beyond full scale */
	}
	x[0] = 1.0f; x[1] = -1.0f; x[2] = 0.99999994f; x[3] = -0.5f / 32768.0f;
	write_wav("in.wav", SF_FORMAT_FLOAT, 48000, 2, x, n);

	static const struct { const char *fmt; enum vd_sample_format vf; int shift; } cases[] = {
		{ "s16", VD_FORMAT_S16, 16 }, { "s24_3", VD_FORMAT_S24_3, 8 }, { "u8", VD_FORMAT_U8, 24 },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char topo[512];
		snprintf(topo, sizeof(topo),
			 "pipeline p {\n  source in file { path = \"in.wav\" }\n"
			 "  sink out file { path = \"out.wav\"; format = %s }\n  link in -> out\n}\n", cases[c].fmt);
		write_text("convert.topo", topo);
		expect_run_ok("run -q convert.topo");

		SF_INFO info;
		int32_t *y = read_int("out.wav", &info);
		assert_int_equal(info.frames, n);
		assert_int_equal(info.channels, 2);
		/* reference: the library's own conversion of the same floats */
		size_t ss = vd_format_sample_size(cases[c].vf);
		uint8_t *ref = malloc((size_t)n * 2 * ss);
		assert_int_equal(vd_convert_samples(cases[c].vf, ref, VD_FORMAT_F32, x, (size_t)n * 2, NULL), 0);
		for (int i = 0; i < n * 2; i++) {
			int32_t want;
			if (cases[c].vf == VD_FORMAT_S16)
				want = ((int16_t *)ref)[i];
			else if (cases[c].vf == VD_FORMAT_U8)
				want = (int32_t)ref[i] - 128;
			else
				want = (int32_t)((uint32_t)ref[i * 3] << 8 | (uint32_t)ref[i * 3 + 1] << 16 | (uint32_t)ref[i * 3 + 2] << 24) >> 8;
			int32_t got = y[i] >> cases[c].shift;
			if (got != want)
				fail_msg("%s sample %d: got %d, want %d (input %.9g)", cases[c].fmt, i, got, want, x[i]);
		}
		free(ref);
		free(y);
	}
	free(x);
}

/* volume at 0 dB and a meter in the chain: output identical to the input, bit for bit */
static void test_volume_0db_identity(void **state)
{
	const int n = 48000;
	int16_t *x = malloc(n * 2 * sizeof(int16_t));
	for (int i = 0; i < n * 2; i++)
		x[i] = (int16_t)((i * 7919) % 65536 - 32768);
	write_wav_s16("in.wav", 48000, 2, x, n);
	write_text("vol.topo",
		   "pipeline p {\n  rate = 48000\n  period = 10ms\n"
		   "  source in file { path = \"in.wav\" }\n"
		   "  node vol volume { gain = 0dB }\n  node m meter\n"
		   "  sink out file { path = \"out.wav\"; format = s16 }\n"
		   "  link in -> vol -> m -> out\n}\n");
	expect_run_ok("run -q vol.topo");
	SF_INFO info;
	int32_t *y = read_int("out.wav", &info);
	assert_int_equal(info.frames, n);
	for (int i = 0; i < n * 2; i++)
		if ((y[i] >> 16) != x[i])
			fail_msg("sample %d: %d != %d", i, y[i] >> 16, x[i]);
	free(y);
	free(x);
}

/* mixer of two S16 files of different lengths: the clipped integer sum, length of the longer */
static void test_mix_exact(void **state)
{
	const int na = 30000, nb = 20000;
	int16_t *a = malloc(na * 2 * sizeof(int16_t)), *b = malloc(nb * 2 * sizeof(int16_t));
	for (int i = 0; i < na * 2; i++)
		a[i] = (int16_t)(((i * 2654435761u) >> 16) - 32768);
	for (int i = 0; i < nb * 2; i++)
		b[i] = (int16_t)(((i * 40503u + 7) & 0xffff) - 32768);
	write_wav_s16("a.wav", 48000, 2, a, na);
	write_wav_s16("b.wav", 48000, 2, b, nb);
	write_text("mix.topo",
		   "pipeline p {\n  rate = 48000\n  period = 256\n"
		   "  source a file { path = \"a.wav\" }\n  source b file { path = \"b.wav\" }\n"
		   "  node mix mixer\n"
		   "  sink out file { path = \"out.wav\"; format = s16 }\n"
		   "  link a -> mix:in0\n  link b -> mix:in1\n  link mix -> out\n}\n");
	expect_run_ok("run -q mix.topo");
	SF_INFO info;
	int32_t *y = read_int("out.wav", &info);
	assert_int_equal(info.frames, na);
	for (int i = 0; i < na * 2; i++) {
		int32_t want = a[i] + (i < nb * 2 ? b[i] : 0);
		want = want > 32767 ? 32767 : want < -32768 ? -32768 : want;
		if ((y[i] >> 16) != want)
			fail_msg("sample %d: %d != %d", i, y[i] >> 16, want);
	}
	free(y);
	free(a);
	free(b);
}

/* EQ: a +6 dB peaking band at 1 kHz measured with tones; gain -6 dB measured exactly */
static void test_eq_and_gain_measured(void **state)
{
	static const double freqs[] = { 100, 500, 1000, 2000, 8000 };
	const double rate = 48000, f0 = 1000, g = 6, q = 1;
	for (size_t k = 0; k < sizeof(freqs) / sizeof(freqs[0]); k++) {
		const int n = 48000;
		float *x = malloc(n * sizeof(float));
		vd_gen_sine(x, n, 1, rate, freqs[k], 0.25, 0);
		write_wav("tone.wav", SF_FORMAT_FLOAT, 48000, 1, x, n);
		write_text("eq.topo",
			   "pipeline p {\n  source in file { path = \"tone.wav\" }\n"
			   "  node eq eq { band1 = { type = peaking, freq = 1kHz, gain = 6dB, q = 1 } }\n"
			   "  node vol volume { gain = -6dB }\n"
			   "  sink out file { path = \"out.wav\"; format = f32 }\n  link in -> eq -> vol -> out\n}\n");
		expect_run_ok("run -q eq.topo");
		SF_INFO info;
		float *y = read_float("out.wav", &info);
		assert_int_equal(info.frames, n);
		struct vd_sine_fit fit;
		/* skip the first 0.25 s (filter settling, volume ramp from its start) */
		assert_int_equal(vd_sine_fit(y + 12000, n - 12000, 1, rate, freqs[k], &fit), 0);
		/* analytic RBJ peaking response |H(e^jw)| */
		double A = pow(10, g / 40), w0 = 2 * M_PI * f0 / rate, al = sin(w0) / (2 * q);
		double b0 = 1 + al * A, b1 = -2 * cos(w0), b2 = 1 - al * A, a0 = 1 + al / A, a1 = -2 * cos(w0), a2 = 1 - al / A;
		double w = 2 * M_PI * freqs[k] / rate;
		double nr = b0 + b1 * cos(w) + b2 * cos(2 * w), ni = -b1 * sin(w) - b2 * sin(2 * w);
		double dr = a0 + a1 * cos(w) + a2 * cos(2 * w), di = -a1 * sin(w) - a2 * sin(2 * w);
		double expect_db = 10 * log10((nr * nr + ni * ni) / (dr * dr + di * di)) - 6.0;
		double got_db = 20 * log10(fit.amplitude / 0.25);
		if (fabs(got_db - expect_db) > 0.01)
			fail_msg("%.0f Hz: measured %.4f dB, expected %.4f dB", freqs[k], got_db, expect_db);
		if (fit.snr_db < 100)
			fail_msg("%.0f Hz: SNR %.1f dB", freqs[k], fit.snr_db);
		free(x);
		free(y);
	}
}

/* a 44.1 kHz file in a 48 kHz pipeline: the graph inserts src; exact length, no offset, clean tone */
static void test_rate_conversion_inserted(void **state)
{
	const int n = 44100 * 2;
	float *x = malloc(n * sizeof(float));
	vd_gen_sine(x, n, 1, 44100, 1000, 0.891, 0); /* -1 dBFS */
	write_wav("in44.wav", SF_FORMAT_FLOAT, 44100, 1, x, n);
	write_text("rate.topo",
		   "pipeline p {\n  rate = 48kHz\n  period = 10ms\n"
		   "  source in file { path = \"in44.wav\" }\n"
		   "  sink out file { path = \"out48.wav\"; format = f32 }\n  link in -> out\n}\n");
	expect_run_ok("run -q --describe rate.topo");
	char *desc = read_text("stdout.txt");
	if (!strstr(desc, "(src) [inserted]"))
		fail_msg("no src node was inserted:\n%s", desc);
	free(desc);
	SF_INFO info;
	float *y = read_float("out48.wav", &info);
	assert_int_equal(info.samplerate, 48000);
	/* round(n * 48000 / 44100) frames */
	assert_int_equal(info.frames, (n * 48000LL + 22050) / 44100);
	struct vd_sine_fit fit;
	assert_int_equal(vd_sine_fit(y + 4800, (size_t)info.frames - 9600, 1, 48000, 1000, &fit), 0);
	if (fit.snr_db < 120)
		fail_msg("SNR %.1f dB", fit.snr_db);
	assert_float_equal(fit.amplitude, 0.891, 0.891 * 0.001);
	/* time-aligned: the phase at output sample 4800 (0.1 s) is the input's phase at 0.1 s */
	/* the fit is A*cos(wt + phase); a sine is a cosine at -pi/2 */
	double want_phase = fmod(2 * M_PI * 1000 * 0.1, 2 * M_PI) - M_PI / 2;
	double got_phase = fit.phase;
	double d = fmod(fabs(want_phase - got_phase) + M_PI, 2 * M_PI) - M_PI;
	/* 0.001 rad at 1 kHz is 0.16 us: far below a sample */
	if (fabs(d) > 0.01)
		fail_msg("phase %.4f vs %.4f: output is shifted by %.2f samples", got_phase, want_phase, d / (2 * M_PI) * 48);
	free(x);
	free(y);
}

/* the demo topology: a tone of known length and level, identical on every run */
static void test_demo_deterministic(void **state)
{
	char *src = vd_test_source_path("examples/demo.topo");
	char args[1024];
	snprintf(args, sizeof(args), "run -q %s --output out=%s/d1.wav", src, dir);
	expect_run_ok(args);
	snprintf(args, sizeof(args), "run -q %s --output out=%s/d2.wav", src, dir);
	expect_run_ok(args);
	SF_INFO i1, i2;
	int32_t *a = read_int("d1.wav", &i1), *b = read_int("d2.wav", &i2);
	assert_true(i1.frames > 0);
	assert_int_equal(i1.frames, i2.frames);
	assert_memory_equal(a, b, (size_t)i1.frames * i1.channels * sizeof(int32_t));
	free(a);
	free(b);
	free(src);
}

/* bad topologies: exit status 2 and every error as file:line:column */
static void test_errors_reported(void **state)
{
	write_text("bad.topo",
		   "pipeline p {\n"
		   "  rate = 48000\n"
		   "  source in file { path = \"nowhere.wav\" }\n"
		   "  node v volume { gain = loud }\n"
		   "  node w wobbler\n"
		   "  sink out null\n"
		   "  link in -> v -> out\n"
		   "}\n");
	assert_int_equal(run("run bad.topo"), 2);
	char *e = read_text("stderr.txt");
	if (!strstr(e, "bad.topo:4:26: 'gain' must be a number (dB), not a word 'loud'"))
		fail_msg("stderr was:\n%s", e);
	if (!strstr(e, "bad.topo:5:3: unknown node type 'wobbler'") && !strstr(e, "bad.topo:5:10: unknown node type 'wobbler'"))
		fail_msg("stderr was:\n%s", e);
	if (!strstr(e, "nowhere.wav"))
		fail_msg("missing file not named; stderr was:\n%s", e);
	free(e);

	write_text("syntax.topo", "pipeline p {\n  node v volume { gain = -6 dB }\n}\n");
	assert_int_equal(run("run syntax.topo"), 2);
	e = read_text("stderr.txt");
	if (!strstr(e, "syntax.topo:2:"))
		fail_msg("stderr was:\n%s", e);
	free(e);

	assert_int_equal(run("run missing.topo"), 2);
	e = read_text("stderr.txt");
	if (!strstr(e, "missing.topo"))
		fail_msg("stderr was:\n%s", e);
	free(e);

	assert_int_equal(run("run --input nosuch=x.wav syntax.topo"), 2);
	assert_int_equal(run("run"), 2);
	assert_int_equal(run("run --help"), 0);
}

/* --check validates and negotiates but creates no output file */
static void test_check_has_no_side_effects(void **state)
{
	write_text("chk.topo",
		   "pipeline p {\n  rate = 48000\n  node t tone { duration = 0.1s }\n"
		   "  sink out file { path = \"never.wav\"; format = s16 }\n  link t -> out\n}\n");
	expect_run_ok("run --check --describe chk.topo");
	char *desc = read_text("stdout.txt");
	if (!strstr(desc, "(convert) [inserted]"))
		fail_msg("--describe after --check shows no negotiated graph:\n%s", desc);
	free(desc);
	char *p = path("never.wav");
	FILE *f = fopen(p, "r");
	if (f) {
		fclose(f);
		fail_msg("--check created %s", p);
	}
	free(p);
	expect_run_ok("run -q chk.topo");
	p = path("never.wav");
	f = fopen(p, "r");
	assert_non_null(f);
	fclose(f);
	free(p);
}

/* every shipped example runs end to end on generated inputs (a 24-bit 44.1 kHz file, so
 * the examples also exercise format and rate conversion), and its file outputs are non-empty */
static void test_examples_run(void **state)
{
	static const struct {
		const char *name, *args, *out;
	} ex[] = {
		{ "demo", "--output out=@/demo.wav", "demo.wav" },
		{ "tone-to-wav", "--output out=@/tone.wav", "tone.wav" },
		{ "eq-volume", "--input in=@/in.wav --output out=@/eqv.wav", "eqv.wav" },
		{ "mix-two", "--input a=@/in.wav --input b=@/in48.wav --output out=@/mix.wav", "mix.wav" },
		{ "convert-s16", "--input in=@/in.wav --output out=@/c16.wav", "c16.wav" },
		{ "alsa-null", "--input in=@/in.wav", NULL },
		{ "guest-mix", "--input vm1=@/in48.wav --output out=@/host.wav", "host.wav" },
	};
	const int n = 22050;
	float *x = malloc(n * 2 * sizeof(float));
	vd_gen_sine(x, n, 2, 44100, 440, 0.5, 0);
	write_wav("in.wav", SF_FORMAT_PCM_24, 44100, 2, x, n);
	vd_gen_sine(x, n, 2, 48000, 660, 0.5, 0);
	write_wav("in48.wav", SF_FORMAT_PCM_16, 48000, 2, x, n);
	free(x);
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		char rel[128], args[2048], *a = args;
		snprintf(rel, sizeof(rel), "examples/%s.topo", ex[i].name);
		char *topo = vd_test_source_path(rel);
		a += snprintf(a, sizeof(args), "run -q %s ", topo);
		for (const char *c = ex[i].args; *c && a < args + sizeof(args) - 256; c++) {
			if (*c == '@')
				a += snprintf(a, 256, "%s", dir);
			else
				*a++ = *c;
		}
		*a = '\0';
		expect_run_ok(args);
		if (ex[i].out) {
			SF_INFO info;
			float *y = read_float(ex[i].out, &info);
			if (info.frames < 1000 || vd_peak(y, (size_t)info.frames * info.channels, 1) < 0.01)
				fail_msg("example %s produced %lld frames, peak %g", ex[i].name,
					 (long long)info.frames, vd_peak(y, (size_t)info.frames * info.channels, 1));
			free(y);
		}
		free(topo);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_convert_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_volume_0db_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mix_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eq_and_gain_measured, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_conversion_inserted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_demo_deterministic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_has_no_side_effects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_examples_run, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
