/* tests/unit/test_alsa_jack.c - the ALSA jack follower (src/endpoint/alsa_jack.c)
 * without sound hardware: which card jack controls count for playback and capture
 * endpoints; following them through snd_ctl_subscribe_events and the control
 * device's poll fd, against the "vdjacktest" control plugin (alsa_jack_plugin.c)
 * loaded through an ALSA configuration of the test's own; that other elements'
 * events are ignored; and that a PCM without a card, or a card without a control
 * device, is "not followed" rather than an error. The kernel's own jack controls
 * (a real card's hw:N) are not exercised: no card here, snd-dummy not loadable. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "endpoint/endpoint.h"
#include "testutil.h"

static void test_relevant(void **state)
{
	static const struct {
		const char *name;
		bool playback, capture;
	} cases[] = {
		{ "Headphone Jack", true, false },
		{ "Front Headphone Jack", true, false },
		{ "Line Out Jack", true, false },
		{ "Line Out Front Jack", true, false },
		{ "Speaker Jack", true, false },
		{ "HDMI/DP,pcm=3 Jack", true, false },
		{ "Mic Jack", false, true },
		{ "Front Mic Jack", false, true },
		{ "Headset Mic Jack", false, true },
		{ "Line Jack", false, true },
		{ "Rear Line Jack", false, true },
		{ "Speaker Phantom Jack", false, false },
		{ "Internal Mic Phantom Jack", false, false },
		{ "Headphone Playback Switch", false, false },
		{ "Jack", false, false },
		{ "", false, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (vd_alsa_jack_relevant(cases[i].name, false) != cases[i].playback ||
		    vd_alsa_jack_relevant(cases[i].name, true) != cases[i].capture)
			fail_msg("'%s': want playback %d capture %d", cases[i].name, cases[i].playback,
				 cases[i].capture);
	}
}

static void put(const char *dir, const char *name, const char *text)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Tell the plugin that element @ev changed, and let the follower read it. */
static void event(struct vd_alsa_jack *j, int fifo, char ev)
{
	struct pollfd p = { .fd = vd_alsa_jack_fd(j), .events = POLLIN };

	assert_int_equal(write(fifo, &ev, 1), 1);
	assert_int_equal(poll(&p, 1, 5000), 1);	/* the fd the daemon's loop would watch */
	assert_int_equal(vd_alsa_jack_handle(j), 0);
}

static void test_follows_plugin_controls(void **state)
{
	char *dir = vd_test_tmpdir(), path[600], conf[1200];
	const char *build = getenv("VD_BUILD_ROOT");
	struct vd_endpoint_conn c;
	struct vd_alsa_jack *j = NULL;
	int fifo, sig[2];
	char buf[16];

	(void)state;
	assert_non_null(build);
	snprintf(path, sizeof(path), "%s/events", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	fifo = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	assert_true(fifo >= 0);
	snprintf(conf, sizeof(conf),
		 "ctl_type.vdjacktest { lib \"%s/tests/unit/libvdjacktest.so\" }\n"
		 "ctl.vdjack { type vdjacktest }\n", build);
	put(dir, "asound.conf", conf);
	snprintf(path, sizeof(path), "%s/asound.conf", dir);
	setenv("ALSA_CONFIG_PATH", path, 1);
	setenv("VD_JACKTEST_DIR", dir, 1);
	put(dir, "hp", "0");
	put(dir, "mic", "1");

	/* playback: only "Headphone Jack" counts (not the mic, the phantom speaker or a mixer) */
	vd_endpoint_conn_init(&c, true);
	if (vd_alsa_jack_open_ctl("vdjack", false, &c, &j) < 0)
		fail_msg("cannot open the test plugin's control device");
	assert_int_equal(vd_alsa_jack_count(j), 1);
	assert_false(vd_endpoint_conn_get(&c));		/* read at open: unplugged */
	assert_true(vd_alsa_jack_fd(j) >= 0);
	assert_int_equal(pipe(sig), 0);
	vd_endpoint_conn_bind(&c, sig[1]);

	put(dir, "hp", "1");
	event(j, fifo, 'h');
	assert_true(vd_endpoint_conn_get(&c));
	assert_int_equal(read(sig[0], buf, sizeof(buf)), 8);	/* the daemon was signalled */

	/* events of other elements are not looked at */
	put(dir, "hp", "0");
	event(j, fifo, 'v');
	event(j, fifo, 'p');
	event(j, fifo, 'm');
	assert_true(vd_endpoint_conn_get(&c));
	event(j, fifo, 'h');
	assert_false(vd_endpoint_conn_get(&c));
	vd_alsa_jack_close(j);
	close(sig[0]);
	close(sig[1]);

	/* capture: "Front Mic Jack" */
	vd_endpoint_conn_init(&c, false);
	assert_int_equal(vd_alsa_jack_open_ctl("vdjack", true, &c, &j), 0);
	assert_int_equal(vd_alsa_jack_count(j), 1);
	assert_true(vd_endpoint_conn_get(&c));
	put(dir, "mic", "0");
	event(j, fifo, 'h');
	assert_true(vd_endpoint_conn_get(&c));
	event(j, fifo, 'm');
	assert_false(vd_endpoint_conn_get(&c));
	vd_alsa_jack_close(j);

	close(fifo);
	unsetenv("ALSA_CONFIG_PATH");
	vd_test_rmdir(dir);
}

static void test_no_card(void **state)
{
	struct vd_endpoint_conn c;
	struct vd_alsa_jack *j = NULL;

	(void)state;
	vd_endpoint_conn_init(&c, true);
	/* a PCM without a card (a plugin such as "null") */
	assert_int_equal(vd_alsa_jack_open(-1, false, &c, &j), -ENOENT);
	/* a card number with no control device */
	assert_true(vd_alsa_jack_open(31, false, &c, &j) < 0);
	assert_null(j);
	/* the state is untouched either way */
	assert_true(vd_endpoint_conn_get(&c));
	vd_alsa_jack_close(NULL);
}

/* The state flag itself: set reports changes only, and signals a bound eventfd once per change. */
static void test_conn_set(void **state)
{
	struct vd_endpoint_conn c;
	int fds[2];
	char buf[16];

	(void)state;
	vd_endpoint_conn_init(&c, true);
	assert_false(vd_endpoint_conn_set(&c, true));
	assert_true(vd_endpoint_conn_set(&c, false));
	assert_false(vd_endpoint_conn_get(&c));
	assert_int_equal(pipe(fds), 0);
	vd_endpoint_conn_bind(&c, fds[1]);
	assert_false(vd_endpoint_conn_set(&c, false));
	assert_true(vd_endpoint_conn_set(&c, true));
	assert_int_equal(read(fds[0], buf, sizeof(buf)), 8);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relevant),
		cmocka_unit_test(test_follows_plugin_controls),
		cmocka_unit_test(test_no_card),
		cmocka_unit_test(test_conn_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
