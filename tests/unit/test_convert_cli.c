/* tests/unit/test_convert_cli.c - `virtdsp convert` as a user meets it: the progress bar on a
 * terminal (a pseudo-terminal) and nowhere else, --quality reaching the converter, and the
 * refusals and warnings a user can run into (IN = OUT, a rate out of range, a .mp3 that is not
 * MP3, an output extension no file type has).
 * The conversions themselves are tested in test_accel_socket (PCM) and test_decode (codecs).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sndfile.h>

#include <virtdsp/accel.h>
#include <virtdsp/resample.h>

#include "testutil.h"

struct fx {
	char *dir;
	char bin[512];
	char wav[600];		/* 3 s, 44.1 kHz, s16 stereo */
	char flac[600];		/* the same, as FLAC */
};

static void write_file(const char *path, int major, int frames)
{
	SF_INFO info = { .samplerate = 44100, .channels = 2, .format = major | SF_FORMAT_PCM_16 };
	SNDFILE *f = sf_open(path, SFM_WRITE, &info);
	short *x = malloc(sizeof(short) * 2 * (size_t)frames);

	assert_non_null(f);
	for (int i = 0; i < frames; i++) {
		x[2 * i] = (short)lrint(12000 * sin(2 * M_PI * 440.0 * i / 44100));
		x[2 * i + 1] = (short)lrint(9000 * sin(2 * M_PI * 1250.0 * i / 44100));
	}
	assert_int_equal(sf_writef_short(f, x, frames), frames);
	assert_int_equal(sf_close(f), 0);
	free(x);
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	const char *root = getenv("VD_BUILD_ROOT");

	x->dir = vd_test_tmpdir();
	snprintf(x->bin, sizeof(x->bin), "%s/src/cli/virtdsp", root ? root : ".");
	snprintf(x->wav, sizeof(x->wav), "%s/in.wav", x->dir);
	snprintf(x->flac, sizeof(x->flac), "%s/in.flac", x->dir);
	write_file(x->wav, SF_FORMAT_WAV, 3 * 44100);
	write_file(x->flac, SF_FORMAT_FLAC, 3 * 44100);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	vd_test_rmdir(x->dir);
	free(x);
	return 0;
}

struct run {
	int status;		/* exit status, -1 if it did not exit */
	char *err;		/* what it wrote to stderr (and stdout, on a terminal) */
	size_t n;
};

static void run_free(struct run *r)
{
	free(r->err);
	r->err = NULL;
}

static void add(struct run *r, const char *p, size_t n)
{
	r->err = realloc(r->err, r->n + n + 1);
	memcpy(r->err + r->n, p, n);
	r->n += n;
	r->err[r->n] = 0;
}

static struct run wait_child(pid_t pid, struct run r)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (!r.err)
		add(&r, "", 0);
	return r;
}

/* In the child: become `virtdsp convert ARGS...`. */
static __attribute__((noreturn)) void exec_convert(const struct fx *x, const char *const *args)
{
	const char *argv[16] = { "virtdsp", "convert" };
	int n = 2;

	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	execv(x->bin, (char *const *)argv);
	_exit(127);
}

/* Collect what the child writes on @fd until it closes it, then close @fd; with @signo, send
 * that signal once the first bytes have arrived. */
static void read_until_closed(int fd, pid_t pid, int signo, struct run *r)
{
	char buf[4096];

	for (;;) {
		ssize_t k = read(fd, buf, sizeof(buf));
		if (k > 0) {
			add(r, buf, (size_t)k);
			if (signo) {
				kill(pid, signo);
				signo = 0;
			}
		} else if (k == 0 || errno != EINTR) {
			break;
		}
	}
	close(fd);
}

/* Run `virtdsp convert ARGS...` with stdout and stderr on a pseudo-terminal. */
static struct run convert_tty(const struct fx *x, const char *const *args)
{
	struct run r = { 0 };
	int master;
	pid_t pid = forkpty(&master, NULL, NULL, NULL);

	assert_true(pid >= 0);
	if (pid == 0)
		exec_convert(x, args);
	read_until_closed(master, pid, 0, &r);	/* EIO: the child closed the terminal */
	return wait_child(pid, r);
}

/* Run it with stderr on a pipe (not a terminal); stdout goes to /dev/null. With @signo, that
 * signal is sent once the first bytes arrive on stderr (give it --progress). */
static struct run convert_pipe_sig(const struct fx *x, const char *const *args, int signo)
{
	struct run r = { 0 };
	int p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		if (!freopen("/dev/null", "w", stdout))
			_exit(126);
		close(p[0]);
		close(p[1]);
		exec_convert(x, args);
	}
	close(p[1]);
	read_until_closed(p[0], pid, signo, &r);
	return wait_child(pid, r);
}

static struct run convert_pipe(const struct fx *x, const char *const *args)
{
	return convert_pipe_sig(x, args, 0);
}

/*
 * The bar is "\r[###---...] 12.3%" repeated, rising to 100.0%, then a line
 * of spaces clears it before the summary. Returns how many updates it drew.
 */
static int check_bar(const char *out, bool summary)
{
	const char *p = out;
	double last = -1;
	int updates = 0;

	while ((p = strstr(p, "\r[")) != NULL) {
		const char *close = strchr(p, ']');
		double pct;
		int hashes = 0;

		assert_non_null(close);
		assert_int_equal(close - p - 2, 40);
		for (const char *c = p + 2; c < close; c++) {
			if (*c != '#' && *c != '-')
				fail_msg("bar holds '%c'", *c);
			if (*c == '#' && c > p + 2 && c[-1] == '-')
				fail_msg("bar fills out of order: %.44s", p + 1);
			hashes += *c == '#';
		}
		assert_int_equal(sscanf(close + 1, " %lf%%", &pct), 1);
		if (pct < last)
			fail_msg("progress went back from %.1f%% to %.1f%%", last, pct);
		assert_int_equal(hashes, (int)(pct * 10 + 0.5) * 40 / 1000);
		last = pct;
		updates++;
		p = close;
	}
	if (last != 100.0)
		fail_msg("the bar ended at %.1f%%, not 100.0%%", last);
	/* cleared before the summary line */
	const char *clear = strstr(out, "100.0%\r");
	assert_non_null(clear);
	clear += strlen("100.0%\r");
	size_t spaces = strspn(clear, " ");
	assert_true(spaces >= 47);
	assert_int_equal(clear[spaces], '\r');
	if (summary)
		assert_non_null(strstr(clear, "virtdsp convert: "));
	return updates;
}

static void test_progress_tty(void **state)
{
	struct fx *x = *state;
	char out[700];
	struct run r;

	snprintf(out, sizeof(out), "%s/tty.wav", x->dir);
	/* PCM: through the "src" accelerator, 3 s in 8192-frame tasks */
	r = convert_tty(x, (const char *const[]){ x->wav, out, "--rate", "48000", NULL });
	assert_int_equal(r.status, 0);
	int n = check_bar(r.err, true);
	if (n < 10)
		fail_msg("only %d bar updates for 17 tasks:\n%s", n, r.err);
	assert_non_null(strstr(r.err, "(s16 44100Hz 2ch, 132300 frames) -> "));
	assert_non_null(strstr(r.err, "(s16 48000Hz 2ch, 144000 frames)"));
	run_free(&r);

	/* FLAC: through the "decode" accelerator; the bar follows the bytes fed */
	r = convert_tty(x, (const char *const[]){ x->flac, out, "-f", "f32", NULL });
	assert_int_equal(r.status, 0);
	check_bar(r.err, true);
	assert_non_null(strstr(r.err, "(FLAC 16-bit 44100Hz 2ch, 132300 frames) -> "));
	assert_non_null(strstr(r.err, "(f32 44100Hz 2ch, 132300 frames)"));
	run_free(&r);

	/* --quiet drops the summary, not the bar */
	r = convert_tty(x, (const char *const[]){ x->wav, out, "--quiet", NULL });
	assert_int_equal(r.status, 0);
	check_bar(r.err, false);
	assert_null(strstr(r.err, "virtdsp convert: "));
	run_free(&r);
}

static void test_progress_not_tty(void **state)
{
	struct fx *x = *state;
	char out[700];
	struct run r;

	snprintf(out, sizeof(out), "%s/pipe.wav", x->dir);
	/* stderr on a pipe: nothing at all (the summary goes to stdout) */
	r = convert_pipe(x, (const char *const[]){ x->wav, out, "--rate", "48000", NULL });
	assert_int_equal(r.status, 0);
	assert_int_equal(r.n, 0);
	run_free(&r);
	r = convert_pipe(x, (const char *const[]){ x->flac, out, NULL });
	assert_int_equal(r.status, 0);
	assert_int_equal(r.n, 0);
	run_free(&r);
	/* --progress forces it */
	r = convert_pipe(x, (const char *const[]){ x->wav, out, "--rate", "48000", "--progress", NULL });
	assert_int_equal(r.status, 0);
	check_bar(r.err, false);	/* the summary is on stdout, here /dev/null */
	run_free(&r);
}

/* Read a 16-bit stereo file's samples. */
static short *read_s16(const char *path, sf_count_t *frames)
{
	SF_INFO info = { 0 };
	SNDFILE *f = sf_open(path, SFM_READ, &info);
	short *x;

	assert_non_null(f);
	assert_int_equal(info.channels, 2);
	x = malloc(sizeof(short) * 2 * (size_t)info.frames + 2);
	assert_int_equal(sf_readf_short(f, x, info.frames), info.frames);
	sf_close(f);
	*frames = info.frames;
	return x;
}

/* 44.1 -> 48 kHz of @in at @q in one in-process task: what --quality Q must give. */
static short *reference(const short *in, sf_count_t frames, enum vd_resample_quality q, size_t *out_frames)
{
	struct vd_accel_params p = {
		.codec = VD_ACCEL_CODEC_PCM,
		.in = { VD_FORMAT_S16, 44100, 2 },
		.out = { VD_FORMAT_S16, 48000, 2 },
		.quality = q,
		.fragment_size = (uint32_t)frames * 4,
		.fragments = 1,
	};
	struct vd_accel_task t = { 0 };
	struct vd_accel_task_status st = { 0 };
	struct vd_accel *s;
	struct stat sb;
	short *res;

	assert_int_equal(vd_accel_open(NULL, "src", &s), 0);
	assert_int_equal(vd_accel_set_params(s, &p), 0);
	assert_int_equal(vd_accel_task_create(s, &t), 0);
	void *i = mmap(NULL, p.fragment_size, PROT_READ | PROT_WRITE, MAP_SHARED, t.input_fd, 0);
	assert_int_equal(fstat(t.output_fd, &sb), 0);
	void *o = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, t.output_fd, 0);
	assert_true(i != MAP_FAILED && o != MAP_FAILED);
	memcpy(i, in, p.fragment_size);
	t.input_size = p.fragment_size;
	t.flags = VD_ACCEL_TASK_NEW_STREAM | VD_ACCEL_TASK_END_OF_STREAM;
	assert_int_equal(vd_accel_task_start(s, &t), 0);
	st.seqno = t.seqno;
	assert_int_equal(vd_accel_wait(s, POLLIN, -1), POLLIN);
	assert_int_equal(vd_accel_task_status(s, &st), 0);
	assert_int_equal(st.state, VD_ACCEL_TASK_FINISHED);
	res = malloc(st.output_size);
	memcpy(res, o, st.output_size);
	*out_frames = st.output_size / 4;
	munmap(i, p.fragment_size);
	munmap(o, (size_t)sb.st_size);
	close(t.input_fd);
	close(t.output_fd);
	vd_accel_close(s);
	return res;
}

static void test_quality(void **state)
{
	struct fx *x = *state;
	static const char *names[] = { "low", "very-high" };
	static const enum vd_resample_quality qs[] = { VD_RESAMPLE_LOW, VD_RESAMPLE_VERY_HIGH };
	short *got[2];
	sf_count_t in_frames, n[2];
	short *in = read_s16(x->wav, &in_frames);

	for (int k = 0; k < 2; k++) {
		char out[700];
		size_t ref_n;
		snprintf(out, sizeof(out), "%s/q-%s.wav", x->dir, names[k]);
		struct run r = convert_pipe(x, (const char *const[]){ x->wav, out, "-r", "48000", "--quality",
								      names[k], NULL });
		assert_int_equal(r.status, 0);
		run_free(&r);
		got[k] = read_s16(out, &n[k]);
		assert_int_equal(n[k], 144000);
		/* the file is what the converter gives at that preset, sample for sample */
		short *ref = reference(in, in_frames, qs[k], &ref_n);
		assert_int_equal(ref_n, (size_t)n[k]);
		assert_memory_equal(got[k], ref, ref_n * 4);
		free(ref);
	}
	/* and the presets really differ */
	assert_true(memcmp(got[0], got[1], (size_t)n[0] * 4) != 0);
	free(got[0]);
	free(got[1]);
	free(in);
}

/* The "holds the first N frames" count of the interrupt message, or -1. */
static long long interrupted_frames(const struct run *r, const char *signame)
{
	char want[64];
	const char *m;
	long long n = -1;

	snprintf(want, sizeof(want), "interrupted by %s: ", signame);
	m = strstr(r->err, want);
	if (m && (m = strstr(m, " holds the first ")))
		sscanf(m, " holds the first %lld frames", &n);
	return n;
}

/*
 * Ctrl-C in the middle: the conversion stops where it is, and OUT is a whole file holding
 * exactly the conversion of the input read so far (drained: what one task of those frames
 * with END_OF_STREAM gives), with the exit status 128 + the signal. Both paths: PCM (the
 * "src" accelerator) and compressed (the decoder, chained to the converter).
 */
static void test_interrupt(void **state)
{
	struct fx *x = *state;
	char in[700], flac[700], out[700];
	const int frames = 90 * 44100;	/* long enough to be caught at the first progress update */
	short *src, *got, *ref;
	sf_count_t in_frames, n;
	size_t ref_n;
	long long k;
	struct run r;

	snprintf(in, sizeof(in), "%s/long.wav", x->dir);
	snprintf(flac, sizeof(flac), "%s/long.flac", x->dir);
	snprintf(out, sizeof(out), "%s/cut.wav", x->dir);
	write_file(in, SF_FORMAT_WAV, frames);
	src = read_s16(in, &in_frames);

	r = convert_pipe_sig(x, (const char *const[]){ in, out, "-r", "48000", "--quality", "very-high",
						     "--progress", NULL }, SIGINT);
	assert_int_equal(r.status, 128 + SIGINT);
	k = interrupted_frames(&r, "SIGINT");
	if (k <= 0 || k >= frames)
		fail_msg("no interrupt message with a frame count in 1..%d: %s", frames - 1, r.err);
	run_free(&r);
	got = read_s16(out, &n);
	ref = reference(src, (sf_count_t)k, VD_RESAMPLE_VERY_HIGH, &ref_n);
	assert_int_equal((size_t)n, ref_n);
	assert_int_equal(n, llround((double)k * 48000 / 44100));
	assert_memory_equal(got, ref, ref_n * 4);
	free(got);
	free(ref);

	/* The same through the FLAC decoder, by SIGTERM: a whole file of round(k * 48/44.1) frames. */
	write_file(flac, SF_FORMAT_FLAC, frames);
	r = convert_pipe_sig(x, (const char *const[]){ flac, out, "-r", "48000", "--quality", "very-high",
						     "--progress", NULL }, SIGTERM);
	assert_int_equal(r.status, 128 + SIGTERM);
	k = interrupted_frames(&r, "SIGTERM");
	if (k <= 0 || k >= frames)
		fail_msg("no interrupt message with a frame count in 1..%d: %s", frames - 1, r.err);
	/* the decoder's "truncated" is ours, and not reported */
	assert_null(strstr(r.err, "truncated"));
	run_free(&r);
	got = read_s16(out, &n);
	assert_int_equal(n, llround((double)k * 48000 / 44100));
	free(got);
	free(src);
	unlink(in);
	unlink(flac);
	unlink(out);
}

static void read_all(const char *path, char **p, size_t *n)
{
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	rewind(f);
	*p = malloc(*n + 1);
	assert_int_equal(fread(*p, 1, *n, f), *n);
	fclose(f);
}

static void test_same_file(void **state)
{
	struct fx *x = *state;
	char link[700], *before, *after;
	size_t nb, na;
	struct run r;

	read_all(x->wav, &before, &nb);
	r = convert_pipe(x, (const char *const[]){ x->wav, x->wav, "-r", "48000", NULL });
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "are the same file; the output would destroy the input"));
	run_free(&r);
	/* through a symbolic link, and for a compressed input */
	snprintf(link, sizeof(link), "%s/link.wav", x->dir);
	assert_int_equal(symlink(x->wav, link), 0);
	r = convert_pipe(x, (const char *const[]){ x->wav, link, NULL });
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "link.wav are the same file"));
	run_free(&r);
	r = convert_pipe(x, (const char *const[]){ x->flac, x->flac, NULL });
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "are the same file"));
	run_free(&r);
	read_all(x->wav, &after, &na);
	assert_int_equal(na, nb);
	assert_memory_equal(after, before, nb);
	free(before);
	free(after);
	unlink(link);
}

static void test_usage_errors(void **state)
{
	struct fx *x = *state;
	char out[700];
	struct stat st;
	struct run r;

	snprintf(out, sizeof(out), "%s/usage.wav", x->dir);
	/* the engine's rate range is checked before anything runs */
	r = convert_pipe(x, (const char *const[]){ x->wav, out, "-r", "999", NULL });
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--rate wants Hz in 1000..768000, not '999'"));
	run_free(&r);
	r = convert_pipe(x, (const char *const[]){ x->wav, out, "-r", "768001", NULL });
	assert_int_equal(r.status, 2);
	run_free(&r);
	r = convert_pipe(x, (const char *const[]){ x->wav, out, "-q", "best", NULL });
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "unknown quality 'best' (presets: low medium high very-high)"));
	run_free(&r);
	assert_int_equal(stat(out, &st), -1);
	/* the ends of the range are accepted */
	r = convert_pipe(x, (const char *const[]){ x->wav, out, "-r", "1000", NULL });
	assert_int_equal(r.status, 0);
	run_free(&r);
}

static void test_not_mp3(void **state)
{
	struct fx *x = *state;
	char bad[700], wav_named[700], out[700], cmd[2200];
	struct stat st;
	struct run r;
	FILE *f;

	/* bytes that are no audio format at all, named .mp3 */
	snprintf(bad, sizeof(bad), "%s/noise.mp3", x->dir);
	snprintf(out, sizeof(out), "%s/noise.wav", x->dir);
	f = fopen(bad, "wb");
	assert_non_null(f);
	for (int i = 0; i < 30000; i++)
		fputc((i * 7) & 0x7f, f);
	fclose(f);
	r = convert_pipe(x, (const char *const[]){ bad, out, NULL });
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "cannot decode"));
	assert_non_null(strstr(r.err, "not an MP3 stream (no MPEG audio frame in"));
	assert_null(strstr(r.err, "Note:"));	/* no library chatter */
	assert_int_equal(stat(out, &st), -1);
	run_free(&r);

	/* a WAV misnamed .mp3 is still read as the WAV it is */
	snprintf(wav_named, sizeof(wav_named), "%s/really-wav.mp3", x->dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", x->wav, wav_named);
	assert_int_equal(system(cmd), 0);
	r = convert_pipe(x, (const char *const[]){ wav_named, out, NULL });
	assert_int_equal(r.status, 0);
	assert_int_equal(r.n, 0);
	run_free(&r);
	sf_count_t n;
	free(read_s16(out, &n));
	assert_int_equal(n, 3 * 44100);
}

static int major_of(const char *path)
{
	SF_INFO info = { 0 };
	SNDFILE *f = sf_open(path, SFM_READ, &info);

	assert_non_null(f);
	sf_close(f);
	return info.format & SF_FORMAT_TYPEMASK;
}

static void test_unknown_extension(void **state)
{
	struct fx *x = *state;
	char out[700];
	struct run r;

	/* out.ogg is no type libsndfile writes by that name: a WAV, and the user is told */
	snprintf(out, sizeof(out), "%s/decoded.ogg", x->dir);
	r = convert_pipe(x, (const char *const[]){ x->flac, out, NULL });
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "warning: no file type is known for '.ogg'"));
	assert_non_null(strstr(r.err, "decoded.ogg as a WAV file"));
	run_free(&r);
	assert_int_equal(major_of(out), SF_FORMAT_WAV);
	snprintf(out, sizeof(out), "%s/pcm.mp3", x->dir);
	r = convert_pipe(x, (const char *const[]){ x->flac, out, NULL });
	assert_int_equal(r.status, 0);
	run_free(&r);
	r = convert_pipe(x, (const char *const[]){ x->wav, out, NULL });
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "warning: no file type is known for '.mp3'"));
	assert_non_null(strstr(r.err, "pcm.mp3 as "));
	assert_non_null(strstr(r.err, "in.wav is, WAV"));
	run_free(&r);
	assert_int_equal(major_of(out), SF_FORMAT_WAV);
	/* known extensions and none at all are silent */
	snprintf(out, sizeof(out), "%s/x.flac", x->dir);
	r = convert_pipe(x, (const char *const[]){ x->wav, out, NULL });
	assert_int_equal(r.status, 0);
	assert_int_equal(r.n, 0);
	run_free(&r);
	assert_int_equal(major_of(out), SF_FORMAT_FLAC);
	snprintf(out, sizeof(out), "%s/noextension", x->dir);
	r = convert_pipe(x, (const char *const[]){ x->flac, out, NULL });
	assert_int_equal(r.status, 0);
	assert_int_equal(r.n, 0);
	run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_progress_tty),
		cmocka_unit_test(test_progress_not_tty),
		cmocka_unit_test(test_quality),
		cmocka_unit_test(test_same_file),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_not_mp3),
		cmocka_unit_test(test_unknown_extension),
		cmocka_unit_test(test_interrupt),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
