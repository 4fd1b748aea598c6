/* tests/unit/test_alsa_jack.c - what can be tested of the ALSA jack follower
 * (src/endpoint/alsa_jack.c) without sound hardware: which card jack controls count
 * for playback and capture endpoints, and that a card without a control device is
 * "no jacks" (-ENOENT) rather than an error. Following real controls through
 * snd_ctl_subscribe_events needs a card (snd-dummy is not loadable here): untested. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "endpoint/endpoint.h"

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
		cmocka_unit_test(test_no_card),
		cmocka_unit_test(test_conn_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
