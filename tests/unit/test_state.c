/* tests/unit/test_state.c - the daemon's state file (src/daemon/state.c): exact round
 * trips (odd names, doubles), the default path, errors with FILE:LINE:COLUMN, a corrupt
 * file moved aside, save errors, and the atomic replace: a child rewriting the file in a
 * loop is killed with SIGKILL at varied moments, and every time the file parses to the
 * old or the new content, never to anything else. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/state.h"
#include "testutil.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void test_round_trip(void **state)
{
	static const double values[] = { -20.0, 0.1, -1e-300, 123456.789, 1.0 / 3.0, 0.0, -0.5, 5e300 };
	static const char *const names[] = {
		"PCM Playback Volume", "quote \" and backslash \\", "ünïcödé Ω", "x", "a = b # not a comment",
		"  leading and trailing  ", "EQ Band 1 Gain", "Master Playback Switch",
	};
	struct vd_state *a, *b;
	char *text, *text2, err[512];
	size_t len, len2;
	double v;

	(void)state;
	assert_int_equal(vd_state_new(NULL, &a), 0);
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(vd_state_set(a, i % 2 ? "vm \"two\"" : "vm1", names[i], values[i]), 0);
	}
	/* overwrite keeps one entry */
	assert_int_equal(vd_state_set(a, "vm1", "x", 7.25), 0);
	assert_int_equal(vd_state_count(a, "vm1"), 5);	/* names 0, 2, 4, 6 and "x" */
	assert_int_equal(vd_state_set(a, "", "x", 1), -EINVAL);
	assert_int_equal(vd_state_set(a, "vm1", "", 1), -EINVAL);
	assert_int_equal(vd_state_set(a, "vm1", "x", NAN), -EINVAL);
	assert_int_equal(vd_state_set(a, "vm1", "x", INFINITY), -EINVAL);
	assert_int_equal(vd_state_format(a, &text, &len), 0);
	assert_int_equal(vd_state_new(NULL, &b), 0);
	if (vd_state_parse(b, text, len, "t", err, sizeof(err)) < 0)
		fail_msg("%s\n%s", err, text);
	for (size_t i = 0; i < 8; i++) {
		const char *g = i % 2 ? "vm \"two\"" : "vm1";

		assert_int_equal(vd_state_get(b, g, names[i], &v), 0);
		/* bit-exact: %.17g reads back as the same double */
		assert_true(v == values[i]);
	}
	assert_int_equal(vd_state_get(b, "vm1", "x", &v), 0);
	assert_true(v == 7.25);
	assert_int_equal(vd_state_get(b, "vm1", "nope", &v), -ENOENT);
	assert_int_equal(vd_state_get(b, "nobody", "x", &v), -ENOENT);
	assert_null(vd_state_control(b, "vm1", 5, &v));
	assert_string_equal(vd_state_control(b, "vm1", 0, &v), "PCM Playback Volume");
	/* and formats to the same text */
	assert_int_equal(vd_state_format(b, &text2, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(text, text2, len);
	free(text);
	free(text2);
	vd_state_free(a);
	vd_state_free(b);
}

static void test_file_round_trip_and_default_path(void **state)
{
	char *dir = vd_test_tmpdir(), path[512], buf[600], err[512];
	struct vd_state *st;
	double v;
	struct stat sb;

	(void)state;
	snprintf(path, sizeof(path), "%s/a/b/state", dir);
	assert_int_equal(vd_state_new(path, &st), 0);
	assert_string_equal(vd_state_path(st), path);
	/* missing: empty, no error */
	assert_int_equal(vd_state_load(st, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(vd_state_set(st, "vm1", "PCM Playback Volume", -12.5), 0);
	if (vd_state_save(st, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	snprintf(buf, sizeof(buf), "%s/a/b", dir);
	assert_int_equal(stat(buf, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	vd_state_free(st);
	assert_int_equal(vd_state_new(path, &st), 0);
	assert_int_equal(vd_state_load(st, err, sizeof(err)), 0);
	assert_int_equal(vd_state_get(st, "vm1", "PCM Playback Volume", &v), 0);
	assert_true(v == -12.5);
	vd_state_free(st);
	/* without a path nothing is written */
	assert_int_equal(vd_state_new(NULL, &st), 0);
	assert_int_equal(vd_state_set(st, "vm1", "x", 1), 0);
	assert_int_equal(vd_state_save(st, err, sizeof(err)), 0);
	assert_int_equal(vd_state_load(st, err, sizeof(err)), 0);
	vd_state_free(st);

	/* default path */
	char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	char *xdg = getenv("XDG_STATE_HOME") ? strdup(getenv("XDG_STATE_HOME")) : NULL;

	if (geteuid() == 0) {
		assert_int_equal(vd_state_default_path(buf, sizeof(buf)), 0);
		assert_string_equal(buf, "/var/lib/virtdsp/state");
	} else {
		setenv("XDG_STATE_HOME", "/x/state", 1);
		assert_int_equal(vd_state_default_path(buf, sizeof(buf)), 0);
		assert_string_equal(buf, "/x/state/virtdsp/state");
		unsetenv("XDG_STATE_HOME");
		setenv("HOME", "/home/u", 1);
		assert_int_equal(vd_state_default_path(buf, sizeof(buf)), 0);
		assert_string_equal(buf, "/home/u/.local/state/virtdsp/state");
		unsetenv("HOME");
		assert_int_equal(vd_state_default_path(buf, sizeof(buf)), -ENOENT);
		setenv("HOME", "/home/u", 1);
		assert_int_equal(vd_state_default_path(buf, 10), -ENAMETOOLONG);
	}
	if (home)
		setenv("HOME", home, 1);
	else
		unsetenv("HOME");
	if (xdg)
		setenv("XDG_STATE_HOME", xdg, 1);
	free(home);
	free(xdg);
	vd_test_rmdir(dir);
}

static void test_parse_errors(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "", "f:1:1: empty file: expected 'virtdsp-state 1'" },
		{ "# only a comment\n\n", "f:2:1: empty file: expected 'virtdsp-state 1'" },
		{ "guest \"a\"\n", "f:1:1: expected 'virtdsp-state 1' (is this a virtdsp state file?)" },
		{ "virtdsp-state 2\n", "f:1:15: version 2 is not supported (this daemon reads version 1)" },
		{ "virtdsp-state 1 x\n", "f:1:17: unexpected text after the end of the line's item" },
		{ "virtdsp-state 1\n  \"v\" = 1\n", "f:2:3: a control value before any 'guest \"NAME\"' line" },
		{ "virtdsp-state 1\nguest vm1\n", "f:2:7: expected a quoted name" },
		{ "virtdsp-state 1\nguest \"vm1\n", "f:2:7: unterminated string" },
		{ "virtdsp-state 1\nguest \"\"\n", "f:2:7: empty name" },
		{ "virtdsp-state 1\nguest \"a\\n\"\n", "f:2:9: unknown escape (only \\\" and \\\\ are allowed)" },
		{ "virtdsp-state 1\nguest \"a\tb\"\n", "f:2:9: control character in a string" },
		{ "virtdsp-state 1\nguest \"a\"\n\"v\" 1\n", "f:3:5: expected '=' after the control name" },
		{ "virtdsp-state 1\nguest \"a\"\n\"v\" = \n", "f:3:7: expected a number" },
		{ "virtdsp-state 1\nguest \"a\"\n\"v\" = 1e999\n", "f:3:7: '1e999' is not a finite number" },
		{ "virtdsp-state 1\nguest \"a\"\n\"v\" = 1-2\n", "f:3:7: '1-2' is not a finite number" },
		{ "virtdsp-state 1\nguest \"a\"\n\"v\" = nan\n", "f:3:7: expected a number" },
		{ "virtdsp-state 1\nguest \"a\"\n\"v\" = 1\n\"v\" = 2\n",
		  "f:4:1: control \"v\" appears twice for guest \"a\"" },
		{ "virtdsp-state 1\nguest \"a\"\nguest \"a\"\n", "f:3:7: guest \"a\" appears twice" },
		{ "virtdsp-state 1\nguests \"a\"\n", "f:2:1: expected 'guest \"NAME\"' or '\"CONTROL\" = VALUE'" },
	};
	struct vd_state *st;
	char err[512];

	(void)state;
	assert_int_equal(vd_state_new(NULL, &st), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].text);

		assert_int_equal(vd_state_set(st, "old", "x", 1), 0);
		assert_int_equal(vd_state_parse(st, cases[i].text, len, "f", err, sizeof(err)), -EINVAL);
		if (strcmp(err, cases[i].msg) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, cases[i].msg);
		/* a failed parse leaves nothing half-read */
		assert_int_equal(vd_state_count(st, "old"), 0);
		assert_int_equal(vd_state_count(st, "a"), 0);
	}
	const char nul[] = "virtdsp-state 1\nguest \"a\"\n\"v\" = 1\n  \0\n";

	assert_int_equal(vd_state_parse(st, nul, sizeof(nul) - 1, "f", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "f:4:3: NUL byte: not a text file");
	/* comments, blank lines, CRLF, indentation and trailing comments are fine */
	const char ok[] = "# hi\r\nvirtdsp-state 1 # v1\r\n\r\nguest \"a\"   # first\r\n\t\"v\"=-3.5e1\r\n";
	double v;

	assert_int_equal(vd_state_parse(st, ok, strlen(ok), "f", err, sizeof(err)), 0);
	assert_int_equal(vd_state_get(st, "a", "v", &v), 0);
	assert_true(v == -35.0);
	vd_state_free(st);
}

static void test_corrupt_file_moved_aside(void **state)
{
	char *dir = vd_test_tmpdir(), path[512], err[1024], want[1200];
	struct vd_state *st;
	FILE *f;
	size_t len;

	(void)state;
	snprintf(path, sizeof(path), "%s/state", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("virtdsp-state 1\nguest \"vm1\"\n  \"Vol\" = -3\n  \"Vol\" x\n", f);
	fclose(f);
	assert_int_equal(vd_state_new(path, &st), 0);
	assert_int_equal(vd_state_load(st, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:4:9: expected '=' after the control name; moved it to %s.corrupt-",
		 path, path);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("got \"%s\"", err);
	assert_non_null(strstr(err, " and started with default values"));
	/* the bad file is aside, intact; the state is empty and saving starts afresh */
	char aside[600];

	snprintf(aside, sizeof(aside), "%.*s", (int)(strstr(err, " and started") - strstr(err, "moved it to ") - 12),
		 strstr(err, "moved it to ") + 12);
	char *kept = slurp(aside, &len);

	assert_string_equal(kept, "virtdsp-state 1\nguest \"vm1\"\n  \"Vol\" = -3\n  \"Vol\" x\n");
	free(kept);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(vd_state_count(st, "vm1"), 0);
	assert_int_equal(vd_state_set(st, "vm1", "Vol", -1), 0);
	assert_int_equal(vd_state_save(st, err, sizeof(err)), 0);
	vd_state_free(st);

	/* not a regular file */
	snprintf(path, sizeof(path), "%s", dir);
	assert_int_equal(vd_state_new(path, &st), 0);
	assert_int_equal(vd_state_load(st, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "cannot read the state file %s: Invalid argument", dir);
	assert_string_equal(err, want);
	vd_state_free(st);

	/* a save that cannot create its directory says which step failed */
	snprintf(path, sizeof(path), "%s/state/sub/state", dir);	/* "state" is a file */
	assert_int_equal(vd_state_new(path, &st), 0);
	assert_int_equal(vd_state_set(st, "vm1", "Vol", -1), 0);
	assert_int_equal(vd_state_save(st, err, sizeof(err)), -ENOTDIR);
	snprintf(want, sizeof(want), "cannot save the state file %s (create the directory): Not a directory", path);
	assert_string_equal(err, want);
	vd_state_free(st);
	vd_test_rmdir(dir);
}

/* Two contents of quite different sizes, so a torn write would show. */
static struct vd_state *content(int which)
{
	struct vd_state *st;
	char name[64];

	assert_int_equal(vd_state_new(NULL, &st), 0);
	for (int g = 0; g < (which ? 40 : 2); g++)
		for (int c = 0; c < (which ? 60 : 3); c++) {
			snprintf(name, sizeof(name), "Control %d of guest %d", c, g);
			vd_state_set(st, which ? "big" : "small", name, which ? c * 0.5 - g : -c);
			snprintf(name, sizeof(name), "vm%d", g);
			vd_state_set(st, name, "Volume", which ? g : -g);
		}
	return st;
}

static void test_atomic_replace_under_sigkill(void **state)
{
	char *dir = vd_test_tmpdir(), path[512], err[512];
	struct vd_state *c[2] = { content(0), content(1) }, *st;
	char *want[2];
	size_t want_len[2];
	unsigned seen[2] = { 0, 0 };

	(void)state;
	for (int i = 0; i < 2; i++)
		assert_int_equal(vd_state_format(c[i], &want[i], &want_len[i]), 0);
	assert_true(want_len[1] > 50000 && want_len[0] < 1000);
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(vd_state_new(path, &st), 0);
	/* the writers' states, ready before the fork so that the child only writes */
	struct vd_state *w[2];

	for (int i = 0; i < 2; i++) {
		assert_int_equal(vd_state_new(path, &w[i]), 0);
		assert_int_equal(vd_state_parse(w[i], want[i], want_len[i], "x", err, sizeof(err)), 0);
	}
	assert_int_equal(vd_state_save(w[0], err, sizeof(err)), 0);
	srand(1234);
	for (int round = 0; round < 40; round++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			/* the child: the two contents, one after the other, until killed */
			char e[512];

			for (unsigned k = 0;; k++)
				if (vd_state_save(w[k & 1], e, sizeof(e)) < 0)
					_exit(3);
		}
		/* 0.1 to 30 ms: from the first write to many writes in */
		struct timespec ts = { 0, 100000L + (long)(rand() % 100) * 300000L };
		int status;

		nanosleep(&ts, NULL);
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));	/* it was still writing, not failed */
		int r = vd_state_load(st, err, sizeof(err));

		if (r == 0 && vd_state_count(st, "small") == 0 && vd_state_count(st, "big") == 0) {
			print_message("round %d: no file yet\n", round);
			continue;
		}	/* killed before the first rename: no file yet */
		if (r < 0)
			fail_msg("round %d: %s", round, err);
		char *text;
		size_t len;

		assert_int_equal(vd_state_format(st, &text, &len), 0);
		int which = len == want_len[1] && memcmp(text, want[1], len) == 0 ? 1 :
			    len == want_len[0] && memcmp(text, want[0], len) == 0 ? 0 : -1;

		if (which < 0)
			fail_msg("round %d: the file is neither content", round);
		seen[which]++;
		free(text);
	}
	print_message("after 40 SIGKILLs: %u times the small content, %u times the big one\n", seen[0], seen[1]);
	assert_int_equal(seen[0] + seen[1], 40);
	vd_state_free(st);
	vd_state_free(w[0]);
	vd_state_free(w[1]);
	for (int i = 0; i < 2; i++) {
		vd_state_free(c[i]);
		free(want[i]);
	}
	vd_test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_file_round_trip_and_default_path),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_corrupt_file_moved_aside),
		cmocka_unit_test(test_atomic_replace_under_sigkill),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
