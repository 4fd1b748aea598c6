/* tests/golden/test_golden.c - end-to-end runs of `virtdsp run` (the SOF-testbench role):
 * topologies and input files are written here, the CLI runs them, and outputs are checked
 * sample-exactly where exactness is defined (conversion, mixing, volume 0 dB) and by measured
 * figures elsewhere (EQ response, gain, rate conversion), plus error messages and determinism. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <pty.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
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

/* Run virtdsp with @args (a shell fragment) on a pseudo-terminal, as a user at a terminal
 * would: stdout and stderr both go to it. Returns the exit code; @out gets what was shown. */
static int run_tty(const char *args, char **out)
{
	char *cmd;
	int master, st;
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);

	assert_non_null(buf);
	if (asprintf(&cmd, "cd %s && exec %s %s", dir, virtdsp(), args) < 0)
		abort();
	pid_t pid = forkpty(&master, NULL, NULL, NULL);
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	free(cmd);
	for (;;) {
		/* generous: a loaded CI machine may be slow, but a hang must still end the test */
		struct pollfd pfd = { .fd = master, .events = POLLIN };
		int r = poll(&pfd, 1, 60000);
		if (r == 0) {
			kill(pid, SIGKILL);
			fail_msg("virtdsp %s produced nothing for 60 s on a terminal", args);
		}
		if (len + 4096 > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		ssize_t n = read(master, buf + len, cap - len - 1);
		if (n <= 0)
			break;	/* EIO once the child has closed the terminal */
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(master);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	*out = buf;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The run's stderr is exactly @want. */
static void expect_stderr(const char *args, int rc, const char *want)
{
	int got = run(args);
	char *e = read_text("stderr.txt");
	if (got != rc || strcmp(e, want) != 0)
		fail_msg("virtdsp %s: exit %d, stderr:\n%s\nwanted exit %d, stderr:\n%s", args, got, e, rc, want);
	free(e);
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

	/* everything that could vary: seeded noise, an inserted rate converter, a gliding eq
	 * and dither, through two pipelines at different periods; the files are byte-identical */
	write_text("det.topo",
		   "pipeline gen {\n  rate = 44100\n  period = 441\n"
		   "  node n tone { wave = white; seed = 7; level = -10dB; channels = 2; duration = 1.3s }\n"
		   "  node s tone { freq = 997Hz; channels = 2; duration = 1.3s }\n"
		   "  node m mixer\n  link n -> m:in0\n  link s -> m:in1\n}\n"
		   "pipeline out {\n  rate = 48000\n  period = 256\n"
		   "  node e eq { band1 = { type = highshelf, freq = 5kHz, gain = -6dB } }\n"
		   "  node c convert { format = s16; dither = true; seed = 3 }\n"
		   "  sink f file { path = \"det.wav\" }\n  link m -> e -> c -> f\n}\n");
	char *bytes[2];
	size_t len[2];
	for (int r = 0; r < 2; r++) {
		expect_run_ok("run -q det.topo");
		char *p = path("det.wav");
		FILE *f = fopen(p, "rb");
		assert_non_null(f);
		bytes[r] = malloc(1 << 20);
		len[r] = fread(bytes[r], 1, 1 << 20, f);
		fclose(f);
		free(p);
	}
	/* 1.3 s at 48 kHz, 2 channels of s16, and a header */
	assert_true(len[0] > 62400 * 4 && len[0] < (1 << 20));
	assert_int_equal(len[0], len[1]);
	assert_memory_equal(bytes[0], bytes[1], len[0]);
	free(bytes[0]);
	free(bytes[1]);
	expect_run_ok("run --describe --check det.topo");
	char *desc = read_text("stdout.txt");
	if (!strstr(desc, "(src) [inserted]"))
		fail_msg("no rate converter in the determinism run:\n%s", desc);
	free(desc);
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

	write_text("ok.topo", "pipeline p {\n  node t tone { duration = 1s }\n  sink out null\n  link t -> out\n}\n");
	expect_stderr("run --input nosuch=x.wav ok.topo", 2,
		      "virtdsp run: ok.topo has no source, sink or attach point called 'nosuch'\n");
	expect_stderr("run --output out ok.topo", 2, "virtdsp run: 'out' is not NAME=FILE\n");
	assert_int_equal(run("run"), 2);
	e = read_text("stderr.txt");
	if (strncmp(e, "usage: virtdsp run TOPOLOGY", 27) != 0)
		fail_msg("stderr was:\n%s", e);
	free(e);
	assert_int_equal(run("run ok.topo other.topo"), 2);
	e = read_text("stderr.txt");
	if (strncmp(e, "virtdsp run: one TOPOLOGY, not 2 arguments ('ok.topo' ...)\n\nusage: virtdsp run", 74) != 0)
		fail_msg("stderr was:\n%s", e);
	free(e);
	assert_int_equal(run("run --help"), 0);

	/* a guest topology given to run: its errors, then what the file is for */
	char *guest = vd_test_source_path("examples/guest-default.topo"), args[1024], want[1200];
	snprintf(args, sizeof(args), "run %s", guest);
	assert_int_equal(run(args), 2);
	e = read_text("stderr.txt");
	snprintf(want, sizeof(want), "\nvirtdsp run: %s is a guest topology (its 'pcm_out' is a guest stream or a "
		 "link to the host); run it under virtdsp serve --guest NAME=SOCKET,topology=FILE\n", guest);
	if (!strstr(e, want) || strlen(strstr(e, want)) != strlen(want))
		fail_msg("no closing hint for a guest topology; stderr was:\n%s", e);
	free(e);
	free(guest);

	/* graph errors with the engine's own nodes: every loose port, a cycle, and a rate
	 * ratio no converter can bridge, each at its place */
	write_text("loose.topo", "pipeline p {\n  node t tone { duration = 1s }\n  node v volume\n  node m mixer { inputs = 2 }\n"
		   "  sink out null\n  link t -> m:in0\n  link m -> out\n}\n");
	expect_stderr("run loose.topo", 2,
		      "loose.topo:3:3: input v:in is not connected\n"
		      "loose.topo:3:3: output v:out is not connected\n"
		      "loose.topo:4:3: input m:in1 is not connected\n");
	write_text("cycle.topo", "pipeline p {\n  node a volume\n  node b eq\n  link a -> b -> a\n}\n");
	expect_stderr("run cycle.topo", 2, "cycle.topo:4:8: links form a cycle: a -> b -> a\n");
	float z[1000] = { 0 };
	write_wav("lo.wav", SF_FORMAT_PCM_16, 1000, 1, z, 1000);
	write_text("ratio.topo", "pipeline p {\n  rate = 768kHz\n  source in file { path = \"lo.wav\" }\n  sink out null\n  link in -> out\n}\n");
	expect_stderr("run ratio.topo", 2,
		      "ratio.topo:5:8: conversion ratio 1000 Hz -> 768000 Hz is out of range (at most 256:1 either way)\n");
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
		/* endless (its capture tone): bounded with --duration */
		{ "host-default", "--input playback=@/in48.wav --output out=@/hd.wav --output capture=@/cap.wav -d 1",
		  "cap.wav" },
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

/* Paths written in a topology are relative to its directory; paths given with --input and
 * --output are relative to where virtdsp runs, as a user typing them expects */
static void test_relative_paths(void **state)
{
	int16_t a[2000], b[3000];
	char *sub = path("sub");
	SF_INFO info;
	int32_t *y;

	for (int i = 0; i < 2000; i++)
		a[i] = (int16_t)(i * 7);
	for (int i = 0; i < 3000; i++)
		b[i] = (int16_t)(-i * 5);
	assert_int_equal(mkdir(sub, 0700), 0);
	write_wav_s16("sub/near.wav", 48000, 1, a, 2000);
	write_wav_s16("here.wav", 48000, 1, b, 3000);
	write_text("sub/rel.topo",
		   "pipeline p {\n  source in file { path = \"near.wav\" }\n"
		   "  sink out file { path = \"written.wav\"; format = s16 }\n  link in -> out\n}\n");
	/* as written: both next to the topology */
	expect_run_ok("run -q sub/rel.topo");
	y = read_int("sub/written.wav", &info);
	assert_int_equal(info.frames, 2000);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(y[i] >> 16, a[i]);
	free(y);
	/* from the command line: both in the current directory */
	expect_run_ok("run -q sub/rel.topo -i in=here.wav -o out=out.wav");
	y = read_int("out.wav", &info);
	assert_int_equal(info.frames, 3000);
	for (int i = 0; i < 3000; i++)
		assert_int_equal(y[i] >> 16, b[i]);
	free(y);
	char *wrong = path("sub/out.wav");
	FILE *f = fopen(wrong, "r");
	if (f) {
		fclose(f);
		fail_msg("--output out=out.wav was written next to the topology");
	}
	free(wrong);
	free(sub);
}

/* A 3 s tone at 10 ms periods: 300 cycles, so the bar moves at cycles 64, 128, 192 and 256. */
static const char progress_topo[] =
	"pipeline p {\n  rate = 48000\n  period = 10ms\n"
	"  node t tone { duration = 3s }\n"
	"  sink out file { path = \"p.wav\"; format = s16 }\n  link t -> out\n}\n";

/* The bar is drawn on a terminal, erased before the summary, and absent otherwise */
static void test_progress_bar_on_terminal_only(void **state)
{
	char *o;

	write_text("prog.topo", progress_topo);
	assert_int_equal(run_tty("run prog.topo", &o), 0);
	/* 64 periods of 480 frames out of 144000: 21.3 % */
	if (!strstr(o, "\r[########--------------------------------]  21.3%") ||
	    !strstr(o, "\r[########################################] 100.0%"))
		fail_msg("no progress bar on a terminal:\n%s", o);
	/* erased (60 blanks between carriage returns), then the summary */
	char erase[64] = "\r";
	memset(erase + 1, ' ', 60);
	strcpy(erase + 61, "\r");
	char *e = strstr(o, erase), *sum = strstr(o, "virtdsp run: prog.topo");
	if (!e || !sum || sum < e || strstr(e + 1, "%]"))
		fail_msg("the bar was not erased before the summary:\n%s", o);
	free(o);

	/* -q on a terminal: nothing at all; --progress brings the bar back */
	assert_int_equal(run_tty("run -q prog.topo", &o), 0);
	if (o[0])
		fail_msg("-q printed on a terminal:\n%s", o);
	free(o);
	assert_int_equal(run_tty("run -q --progress prog.topo", &o), 0);
	if (!strstr(o, "100.0%") || strstr(o, "virtdsp run:"))
		fail_msg("-q --progress should show the bar and no summary:\n%s", o);
	free(o);

	/* not a terminal: the summary on stdout, nothing on stderr */
	expect_run_ok("run prog.topo");
	o = read_text("stderr.txt");
	if (o[0])
		fail_msg("stderr is not a terminal but got:\n%s", o);
	free(o);
	o = read_text("stdout.txt");
	if (!strstr(o, "virtdsp run: prog.topo\n"))
		fail_msg("no summary:\n%s", o);
	free(o);
	/* --progress forces it onto a file */
	expect_run_ok("run --progress prog.topo");
	o = read_text("stderr.txt");
	if (!strstr(o, "]  21.3%") || !strstr(o, "] 100.0%"))
		fail_msg("--progress drew no bar:\n%s", o);
	free(o);
}

/* One sink's summary line: frames, seconds, format text and up to two channel peaks. */
struct sum_line { unsigned long long frames; double secs; char fmt[64]; int n_peaks; double peak[2]; };

static void parse_sink(const char *out, const char *name, struct sum_line *l)
{
	char key[64], rest[128];
	snprintf(key, sizeof(key), "\n  %s ", name);
	const char *p = strstr(out, key);
	if (!p)
		fail_msg("no summary line for sink '%s':\n%s", name, out);
	char f1[16], f2[16], f3[16];
	int n = sscanf(p + strlen(key), " %llu frames %lf s %15s %15s %15s peak %127[^\n]",
		       &l->frames, &l->secs, f1, f2, f3, rest);
	if (n != 6)
		fail_msg("summary line for '%s' not understood:\n%s", name, out);
	snprintf(l->fmt, sizeof(l->fmt), "%s %s %s", f1, f2, f3);
	l->n_peaks = sscanf(rest, "%lf %lf", &l->peak[0], &l->peak[1]);
	if (!strstr(rest, "dBFS"))
		fail_msg("peaks of '%s' are not in dBFS: %s", name, rest);
}

/* The summary's figures: per sink frames, duration, format and per-channel peak, then the
 * audio time, the wall time, the speed and the cycles, checked against what was produced */
static void test_summary_figures(void **state)
{
	write_text("sum.topo",
		   "pipeline p {\n  rate = 48000\n  period = 10ms\n"
		   "  node t tone { freq = 1kHz; level = -6dB; channels = 2; duration = 1.5s }\n"
		   "  node r remap { matrix = [[1, 0], [0, 0.5]] }\n"
		   "  sink out file { path = \"sum.wav\"; format = s16 }\n"
		   "  node n tone { freq = 750Hz; level = -20dB; duration = 0.25s }\n"
		   "  sink n0 null\n"
		   "  link t -> r -> out\n  link n -> n0\n}\n");
	expect_run_ok("run sum.topo");
	char *o = read_text("stdout.txt");
	if (strncmp(o, "virtdsp run: sum.topo\n", 22) != 0)
		fail_msg("summary header:\n%s", o);

	/* out: the file's own peak per channel (s16, 1 kHz at 48 kHz hits the crest exactly) */
	struct sum_line l;
	SF_INFO info;
	parse_sink(o, "out", &l);
	float *y = read_float("sum.wav", &info);
	assert_int_equal(l.frames, 72000);
	assert_int_equal(info.frames, 72000);
	assert_float_equal(l.secs, 1.5, 1e-9);
	assert_string_equal(l.fmt, "s16 48000Hz 2ch");
	assert_int_equal(l.n_peaks, 2);
	for (int c = 0; c < 2; c++) {
		double want = 20 * log10(vd_peak(y + c, (size_t)info.frames, 2));
		/* printed with two decimals */
		if (fabs(l.peak[c] - want) > 0.0051)
			fail_msg("channel %d peak %.2f dBFS, the file's is %.4f", c, l.peak[c], want);
	}
	assert_float_equal(l.peak[0], -6.0, 0.011);
	assert_float_equal(l.peak[1], -6.0 + 20 * log10(0.5), 0.011);
	free(y);

	parse_sink(o, "n0", &l);
	assert_int_equal(l.frames, 12000);
	assert_float_equal(l.secs, 0.25, 1e-9);
	assert_string_equal(l.fmt, "f32 48000Hz 1ch");
	assert_int_equal(l.n_peaks, 1);
	assert_float_equal(l.peak[0], -20.0, 0.0051);

	/* the closing line: the longest sink's audio, wall time, speed, cycles */
	double audio = 0, wall = 0, x = 0;
	unsigned long long cycles = 0;
	const char *last = strstr(o, "\n  1.500 s of audio in ");
	if (!last || sscanf(last, "\n %lf s of audio in %lf s (%lfx real time), %llu cycles",
			    &audio, &wall, &x, &cycles) != 4)
		fail_msg("closing line not understood:\n%s", o);
	assert_float_equal(audio, 1.5, 1e-9);
	assert_true(wall >= 0 && x > 0);
	/* the speed is audio / wall; compare only where the printed wall time has digits to spare */
	if (wall >= 0.05 && fabs(x - audio / wall) > 0.05 * x + 1)
		fail_msg("%.0fx real time does not match %.3f s in %.3f s", x, audio, wall);
	/* 150 periods of 10 ms, and at most two more to see the ends */
	if (cycles < 150 || cycles > 152)
		fail_msg("%llu cycles for 150 periods", cycles);
	free(o);
}

/* --duration ends endless sources on the exact frame; without it they are refused */
static void test_duration_exact(void **state)
{
	SF_INFO info;
	int32_t *y;

	write_text("dur.topo",
		   "pipeline p {\n  rate = 48000\n"
		   "  node t tone { level = -6dB; channels = 2 }\n"
		   "  sink out file { path = \"d.wav\"; format = s16 }\n  link t -> out\n}\n");
	expect_stderr("run dur.topo", 2,
		      "virtdsp run: source 't' never ends by itself: give it a duration or use --duration\n");
	expect_stderr("run -d soon dur.topo", 2, "virtdsp run: --duration wants seconds > 0, not 'soon'\n");
	expect_stderr("run --duration -1 dur.topo", 2, "virtdsp run: --duration wants seconds > 0, not '-1'\n");

	/* 0.25 s is 12000 frames: not a whole number of the default 1024-frame periods */
	expect_run_ok("run -q -d 0.25 dur.topo");
	y = read_int("d.wav", &info);
	assert_int_equal(info.frames, 12000);
	free(y);
	/* round(0.3333 * 48000) = 15998.4 -> 15998 */
	expect_run_ok("run -q --duration 0.3333 dur.topo");
	y = read_int("d.wav", &info);
	assert_int_equal(info.frames, 15998);
	free(y);

	/* a source that ends sooner is not extended */
	char *demo = vd_test_source_path("examples/demo.topo"), args[1024];
	snprintf(args, sizeof(args), "run -q %s -o out=%s/demo.wav -d 5", demo, dir);
	expect_run_ok(args);
	y = read_int("demo.wav", &info);
	assert_int_equal(info.frames, 96000);
	free(y);
	free(demo);
}

/*
 * SIGINT/SIGTERM in the middle of a run: the sources end where they are, the graph drains,
 * the files are finished (a valid header for every frame written), the summary is printed
 * and the exit status is 128 + the signal. The file equals a run of exactly that length.
 */
static void test_interrupt(void **state)
{
	static const int sigs[] = { SIGINT, SIGTERM };

	write_text("int.topo",
		   "pipeline p {\n  rate = 48000\n"
		   "  node t tone { freq = 997Hz; level = -6dB; channels = 2 }\n"
		   "  sink out file { path = \"int.wav\"; format = s16 }\n  link t -> out\n}\n");
	for (int k = 0; k < 2; k++) {
		char *cmd, buf[4096], *o;
		int p[2], st;
		struct sum_line l;
		SF_INFO info, ref_info;
		int32_t *y, *ref;

		assert_int_equal(pipe(p), 0);
		/* a day of audio: only the signal can end it in a test's time */
		if (asprintf(&cmd, "cd %s && exec %s run --progress -d 86400 int.topo >stdout.txt", dir, virtdsp()) < 0)
			abort();
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			dup2(p[1], STDERR_FILENO);
			close(p[0]);
			close(p[1]);
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
			_exit(127);
		}
		free(cmd);
		close(p[1]);
		size_t len = 0;
		for (bool sent = false;;) {
			ssize_t n = read(p[0], buf + len, sizeof(buf) - 1 - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			if (!sent) {
				kill(pid, sigs[k]);
				sent = true;
			}
			/* keep the tail: the message comes after the bar */
			len += (size_t)n;
			if (len > sizeof(buf) / 2) {
				memmove(buf, buf + len - sizeof(buf) / 4, sizeof(buf) / 4);
				len = sizeof(buf) / 4;
			}
		}
		buf[len] = '\0';
		close(p[0]);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 128 + sigs[k])
			fail_msg("%s: wanted exit %d, got status 0x%x; stderr ends:\n%s", strsignal(sigs[k]),
				 128 + sigs[k], st, buf);
		if (!strstr(buf, sigs[k] == SIGINT ? "virtdsp run: interrupted by SIGINT: the sources were ended there"
						   : "virtdsp run: interrupted by SIGTERM: the sources were ended there"))
			fail_msg("no interrupt message:\n%s", buf);

		o = read_text("stdout.txt");
		parse_sink(o, "out", &l);
		free(o);
		y = read_int("int.wav", &info);
		assert_true(l.frames > 0 && l.frames < 86400ull * 48000);
		assert_int_equal(info.frames, (sf_count_t)l.frames);

		/* the same length asked for with --duration gives the same samples */
		char args[128];
		snprintf(args, sizeof(args), "run -q -d %.17g -o out=ref.wav int.topo", (double)l.frames / 48000);
		expect_run_ok(args);
		ref = read_int("ref.wav", &ref_info);
		assert_int_equal(ref_info.frames, info.frames);
		assert_memory_equal(y, ref, (size_t)info.frames * 2 * sizeof(int32_t));
		free(y);
		free(ref);
	}
}

/* Every subcommand has --help and a man page that documents each option --help lists */
static void test_help_and_man_pages(void **state)
{
	expect_run_ok("--help");
	char *top = read_text("stdout.txt"), *man_index_path = vd_test_source_path("docs/man/virtdsp.1");
	const char *p = strstr(top, "commands:\n");
	int commands = 0;
	assert_non_null(p);
	FILE *f = fopen(man_index_path, "r");
	assert_non_null(f);
	char *man_index = calloc(1, 1 << 16);
	fread(man_index, 1, (1 << 16) - 1, f);
	fclose(f);

	for (p = strchr(p, '\n') + 1; strncmp(p, "  ", 2) == 0; p = strchr(p, '\n') + 1) {
		char name[32], args[64], rel[64], ref[64];
		assert_int_equal(sscanf(p, " %31s", name), 1);
		commands++;
		snprintf(args, sizeof(args), "%s --help", name);
		expect_run_ok(args);
		char *help = read_text("stdout.txt");
		snprintf(ref, sizeof(ref), "usage: virtdsp %s", name);
		if (strncmp(help, ref, strlen(ref)) != 0)
			fail_msg("'virtdsp %s --help' does not start with '%s':\n%s", name, ref, help);

		snprintf(rel, sizeof(rel), "docs/man/virtdsp-%s.1", name);
		char *mp = vd_test_source_path(rel);
		f = fopen(mp, "r");
		if (!f)
			fail_msg("no man page %s for 'virtdsp %s'", rel, name);
		char *man = calloc(1, 1 << 18);
		fread(man, 1, (1 << 18) - 1, f);
		fclose(f);
		char th[64];
		snprintf(th, sizeof(th), ".TH VIRTDSP-%s 1", name);
		for (char *c = th + 12; *c && *c != ' '; c++)
			*c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
		if (strncmp(man, th, strlen(th)) != 0)
			fail_msg("%s does not start with '%s'", rel, th);
		snprintf(ref, sizeof(ref), ".BR virtdsp-%s (1)", name);
		if (!strstr(man_index, ref))
			fail_msg("virtdsp.1 does not refer to virtdsp-%s(1)", name);

		/* each --option of the help text, in roff spelling (\-\-name, \- for every -) */
		for (const char *o = strstr(help, "--"); o; o = strstr(o + 2, "--")) {
			char opt[48], roff[128], *r = roff;
			size_t n = 2;
			while (n < sizeof(opt) - 1 && ((o[n] >= 'a' && o[n] <= 'z') || (o[n] >= '0' && o[n] <= '9') ||
						       (o[n] == '-' && o[n + 1] >= 'a' && o[n + 1] <= 'z')))
				n++;
			if (n == 2)
				continue;
			memcpy(opt, o, n);
			opt[n] = '\0';
			for (size_t i = 0; i < n; i++) {
				if (opt[i] == '-')
					*r++ = '\\';
				*r++ = opt[i];
			}
			*r = '\0';
			if (!strstr(man, roff))
				fail_msg("%s lists %s, which %s does not document", args, opt, rel);
		}
		free(man);
		free(mp);
		free(help);
	}
	/* run, convert, serve and ctl at least */
	assert_true(commands >= 4);
	free(man_index);
	free(man_index_path);
	free(top);
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
		cmocka_unit_test_setup_teardown(test_progress_bar_on_terminal_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_summary_figures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duration_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help_and_man_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupt, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
