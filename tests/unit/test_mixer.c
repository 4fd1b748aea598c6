/* tests/unit/test_mixer.c - the mixer node: exact sums, gains, alignment, EOS per input, negotiation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <virtdsp/convert.h>

#include "dsp/dsp.h"
#include "analysis.h"
#include "nodetest.h"

#define RATE 48000

struct stream {
	const float *data;
	size_t frames, pos;
	uint32_t block;		/* offered per call */
};

/*
 * Run a mixer over @n streams of @ch channels until its output says EOS;
 * each input gets EOS with its last frames. Returns frames produced, -1 on a stall.
 */
static long run_mix(struct nt_node *n, struct stream *s, uint32_t n_in, uint32_t ch,
		    float *out, size_t cap, uint32_t out_block)
{
	size_t opos = 0;
	int stalls = 0;

	for (;;) {
		struct vd_buffer ib[NT_MAX_PORTS], ob;
		size_t room = cap - opos;

		for (uint32_t i = 0; i < n_in; i++) {
			size_t avail = s[i].frames - s[i].pos;

			ib[i].data = (float *)s[i].data + s[i].pos * ch;
			ib[i].frames = (uint32_t)(avail < s[i].block ? avail : s[i].block);
			ib[i].flags = s[i].pos + ib[i].frames == s[i].frames ? VD_BUFFER_EOS : 0;
		}
		ob.data = out + opos * ch;
		ob.frames = (uint32_t)(room < out_block ? room : out_block);
		ob.flags = 0;
		if (n->ops->process(n->self, ib, n_in, &ob, 1) < 0)
			return -1;
		for (uint32_t i = 0; i < n_in; i++)
			s[i].pos += ib[i].frames;
		opos += ob.frames;
		if (ob.flags & VD_BUFFER_EOS)
			return (long)opos;
		if (ob.frames == 0 && ++stalls > 3)
			return -1;
		if (ob.frames)
			stalls = 0;
	}
}

static void setup(struct nt_node *n, const char *const *kv, uint32_t n_inputs, uint32_t ch)
{
	struct vd_audio_format f[NT_MAX_PORTS];

	assert_int_equal(nt_init(n, &vd_node_mixer, kv, n_inputs, RATE), 0);
	for (uint32_t i = 0; i < n->n_in; i++)
		vd_audio_format_init(&f[i], VD_FORMAT_F32, RATE, ch);
	assert_int_equal(nt_prepare(n, f, 1024), 0);
}

static void test_sum_is_exact_float_sum(void **state)
{
	const char *const kv[] = { NULL };
	struct nt_node n;
	size_t frames = 5000;
	float *a = malloc(frames * 2 * sizeof(float)), *b = malloc(frames * 2 * sizeof(float));
	float *c = malloc(frames * 2 * sizeof(float)), *out = malloc(frames * 2 * sizeof(float));
	struct stream s[3] = { { a, frames, 0, 480 }, { b, frames, 0, 480 }, { c, frames, 0, 480 } };

	vd_gen_sine(a, frames, 2, RATE, 440, 0.6, 0);
	vd_gen_sine(b, frames, 2, RATE, 1234.5, 0.7, 1);
	vd_gen_sine(c, frames, 2, RATE, 50, 0.3, 2);
	setup(&n, kv, 3, 2);
	assert_int_equal(n.n_in, 3);
	assert_int_equal(run_mix(&n, s, 3, 2, out, frames, 480), (long)frames);
	for (size_t i = 0; i < frames * 2; i++)
		assert_true(out[i] == (a[i] + b[i]) + c[i]);
	/* Float sums do not clip: 0.6 + 0.7 + 0.3 peaks above full scale. */
	nt_assert_ge(vd_peak(out, frames * 2, 1), 1.2);
	nt_free(&n);
	free(a);
	free(b);
	free(c);
	free(out);
}

/*
 * S16 streams converted to f32, mixed, converted back: the clipped integer
 * sum, sample for sample (f32 holds every sum of three S16 values exactly).
 */
static void test_s16_sum_is_clipped_integer_sum(void **state)
{
	const char *const kv[] = { NULL };
	struct nt_node n;
	size_t frames = 20000;
	int16_t *s16[3], *mixed = malloc(frames * 2 * sizeof(int16_t));
	float *f[3], *out = malloc(frames * 2 * sizeof(float));
	struct stream st[3];
	uint32_t seed = 2024;
	long clipped = 0;

	for (int k = 0; k < 3; k++) {
		s16[k] = malloc(frames * 2 * sizeof(int16_t));
		f[k] = malloc(frames * 2 * sizeof(float));
		for (size_t i = 0; i < frames * 2; i++) {
			seed = seed * 1664525u + 1013904223u;
			s16[k][i] = (int16_t)(seed >> 16);
		}
		s16[k][0] = INT16_MIN;
		s16[k][1] = INT16_MAX;
		vd_convert_to_f32(f[k], VD_FORMAT_S16, s16[k], frames * 2);
		st[k] = (struct stream){ f[k], frames, 0, 480 };
	}
	s16[2][0] = 0;
	s16[2][1] = 1;
	vd_convert_to_f32(f[2], VD_FORMAT_S16, s16[2], 2);
	setup(&n, kv, 3, 2);
	assert_int_equal(run_mix(&n, st, 3, 2, out, frames, 480), (long)frames);
	vd_convert_from_f32(VD_FORMAT_S16, mixed, out, frames * 2, NULL);
	for (size_t i = 0; i < frames * 2; i++) {
		int sum = s16[0][i] + s16[1][i] + s16[2][i];
		int want = sum > INT16_MAX ? INT16_MAX : sum < INT16_MIN ? INT16_MIN : sum;

		clipped += want != sum;
		if (mixed[i] != want)
			fail_msg("sample %zu: %d + %d + %d mixed to %d, expected %d", i, s16[0][i], s16[1][i],
				 s16[2][i], mixed[i], want);
	}
	assert_int_equal(mixed[0], INT16_MIN);
	assert_int_equal(mixed[1], INT16_MAX);
	nt_assert_ge(clipped, frames / 4);
	nt_assert_le(clipped, frames * 2 - frames / 4);
	nt_free(&n);
	for (int k = 0; k < 3; k++) {
		free(s16[k]);
		free(f[k]);
	}
	free(mixed);
	free(out);
}

static void test_gains(void **state)
{
	const char *const kv[] = { "inputs=2", "gain.0=-6dB", "gain.1=+3dB", NULL };
	struct nt_node n;
	size_t frames = 2000;
	float *a = malloc(frames * sizeof(float)), *b = malloc(frames * sizeof(float));
	float *out = malloc(frames * sizeof(float));
	struct stream s[2] = { { a, frames, 0, 256 }, { b, frames, 0, 256 } };
	float ga = (float)pow(10, -6 / 20.0), gb = (float)pow(10, 3 / 20.0);

	vd_gen_sine(a, frames, 1, RATE, 1000, 0.5, 0);
	vd_gen_sine(b, frames, 1, RATE, 3000, 0.5, 0);
	setup(&n, kv, 7, 1);
	assert_int_equal(n.n_in, 2);
	nt_assert_near(nt_get(&n, "gain.0"), -6.0, 0);
	nt_assert_near(nt_get(&n, "gain.1"), 3.0, 0);
	assert_int_equal(run_mix(&n, s, 2, 1, out, frames, 256), (long)frames);
	for (size_t i = 0; i < frames; i++)
		nt_assert_near(out[i], ga * a[i] + gb * b[i], 1e-7);
	nt_assert_near(vd_tone_amplitude(out, frames, 1, RATE, 1000), 0.5 * ga, 1e-4);
	nt_assert_near(vd_tone_amplitude(out, frames, 1, RATE, 3000), 0.5 * gb, 1e-4);
	nt_free(&n);
	free(a);
	free(b);
	free(out);
}

/* Inputs offering different amounts: only the common part is taken, the rest waits. */
static void test_alignment(void **state)
{
	const char *const kv[] = { NULL };
	struct nt_node n;
	float a[200], b[200], out[200];
	struct vd_buffer ib[2] = { { a, 100, 0 }, { b, 30, 0 } }, ob = { out, 200, 0 };

	for (int i = 0; i < 200; i++) {
		a[i] = (float)i;
		b[i] = (float)(1000 * i);
	}
	setup(&n, kv, 2, 1);
	assert_int_equal(vd_node_mixer.process(n.self, ib, 2, &ob, 1), 0);
	assert_int_equal(ib[0].frames, 30);
	assert_int_equal(ib[1].frames, 30);
	assert_int_equal(ob.frames, 30);
	assert_int_equal(ob.flags, 0);
	/* One input empty (not ended): nothing moves. */
	ib[0] = (struct vd_buffer){ a + 30, 70, 0 };
	ib[1] = (struct vd_buffer){ b + 30, 0, 0 };
	ob = (struct vd_buffer){ out + 30, 170, 0 };
	assert_int_equal(vd_node_mixer.process(n.self, ib, 2, &ob, 1), 0);
	assert_int_equal(ob.frames, 0);
	assert_int_equal(ib[0].frames, 0);
	/* Output room limits too. */
	ib[0] = (struct vd_buffer){ a + 30, 70, 0 };
	ib[1] = (struct vd_buffer){ b + 30, 170, 0 };
	ob = (struct vd_buffer){ out + 30, 50, 0 };
	assert_int_equal(vd_node_mixer.process(n.self, ib, 2, &ob, 1), 0);
	assert_int_equal(ob.frames, 50);
	assert_int_equal(ib[0].frames, 50);
	assert_int_equal(ib[1].frames, 50);
	for (int i = 0; i < 80; i++)
		assert_true(out[i] == (float)(1001 * i));
	nt_free(&n);
}

/* A short input ends: silence from it, the long one carries on, EOS when both ended. */
static void test_eos_per_input(void **state)
{
	const char *const kv[] = { NULL };
	struct nt_node n;
	size_t la = 500, lb = 1300;
	float *a = malloc(la * 2 * sizeof(float)), *b = malloc(lb * 2 * sizeof(float));
	float *out = malloc(2000 * 2 * sizeof(float));
	struct stream s[2] = { { a, la, 0, 64 }, { b, lb, 0, 100 } };

	vd_gen_sine(a, la, 2, RATE, 700, 0.4, 0);
	vd_gen_sine(b, lb, 2, RATE, 900, 0.4, 0);
	setup(&n, kv, 2, 2);
	assert_int_equal(run_mix(&n, s, 2, 2, out, 2000, 128), (long)lb);
	for (size_t i = 0; i < la * 2; i++)
		assert_true(out[i] == a[i] + b[i]);
	assert_memory_equal(out + la * 2, b + la * 2, (lb - la) * 2 * sizeof(float));
	/* After reset the node forgets the ended inputs. */
	vd_node_mixer.reset(n.self);
	s[0].pos = s[1].pos = 0;
	assert_int_equal(run_mix(&n, s, 2, 2, out, 2000, 128), (long)lb);
	for (size_t i = 0; i < la * 2; i++)
		assert_true(out[i] == a[i] + b[i]);
	nt_free(&n);
	free(a);
	free(b);
	free(out);
}

static void test_all_inputs_ended_at_once(void **state)
{
	const char *const kv[] = { NULL };
	struct nt_node n;
	float a[10] = { 1 }, b[10] = { 2 }, out[10];
	struct vd_buffer ib[2] = { { a, 10, VD_BUFFER_EOS }, { b, 10, VD_BUFFER_EOS } }, ob = { out, 10, 0 };

	setup(&n, kv, 2, 1);
	assert_int_equal(vd_node_mixer.process(n.self, ib, 2, &ob, 1), 0);
	assert_int_equal(ob.frames, 10);
	assert_int_equal(ob.flags, VD_BUFFER_EOS);
	assert_true(out[0] == 3.0f);
	/* Both already ended with no data: EOS with nothing. */
	ib[0] = (struct vd_buffer){ NULL, 0, VD_BUFFER_EOS };
	ib[1] = (struct vd_buffer){ NULL, 0, VD_BUFFER_EOS };
	ob = (struct vd_buffer){ out, 10, 0 };
	assert_int_equal(vd_node_mixer.process(n.self, ib, 2, &ob, 1), 0);
	assert_int_equal(ob.frames, 0);
	assert_int_equal(ob.flags, VD_BUFFER_EOS);
	nt_free(&n);
}

static void test_runtime_gain_ramp(void **state)
{
	const char *const kv[] = { "ramp=5ms", NULL };
	struct nt_node n;
	size_t frames = 1200;
	float *a = malloc(frames * sizeof(float)), *b = malloc(frames * sizeof(float));
	float *out = malloc(frames * sizeof(float));
	struct stream s[2] = { { a, 200, 0, 200 }, { b, 200, 0, 200 } };
	double jump = 0;

	for (size_t i = 0; i < frames; i++) {
		a[i] = 0.5f;
		b[i] = 0.25f;
	}
	setup(&n, kv, 2, 1);
	assert_int_equal(run_mix(&n, s, 2, 1, out, 200, 200), 200);
	vd_node_mixer.reset(n.self);
	assert_int_equal(nt_set(&n, "gain.1", -120.0), 0);
	assert_int_equal(nt_set(&n, "gain.2", 0.0), -ENOENT);
	assert_int_equal(nt_set(&n, "gain.0", 25.0), -EINVAL);
	s[0] = (struct stream){ a, frames - 200, 0, 33 };
	s[1] = (struct stream){ b, frames - 200, 0, 33 };
	assert_int_equal(run_mix(&n, s, 2, 1, out + 200, frames - 200, 33), (long)(frames - 200));
	for (size_t i = 1; i < frames; i++)
		jump = fmax(jump, fabs(out[i] - out[i - 1]));
	nt_assert_le(jump, 0.25 / 240 * 1.001);
	nt_assert_near(out[199], 0.75, 0);
	nt_assert_near(out[200 + 240], 0.5 + 0.25e-6, 1e-7);
	nt_free(&n);
	free(a);
	free(b);
	free(out);
}

static void test_negotiation(void **state)
{
	const char *const none[] = { NULL };
	const char *const four[] = { "channels=4", NULL };
	struct nt_node n;
	struct vd_audio_format in[3], out;

	assert_int_equal(nt_init(&n, &vd_node_mixer, none, 3, RATE), 0);
	vd_audio_format_init(&in[0], VD_FORMAT_S16, RATE, 1);
	vd_audio_format_init(&in[1], VD_FORMAT_F32, RATE, 6);
	vd_audio_format_init(&in[2], VD_FORMAT_S24, RATE, 2);
	in[1].position[0] = VD_CH_FR;
	in[1].position[1] = VD_CH_FL;
	assert_int_equal(vd_node_mixer.negotiate(n.self, in, 3, &out, 1, &n.err), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(in[i].format, VD_FORMAT_F32);
		assert_int_equal(in[i].channels, 6);
		assert_int_equal(in[i].position[0], VD_CH_FR);
		assert_int_equal(in[i].position[5], VD_CH_RR);
	}
	assert_int_equal(out.format, VD_FORMAT_F32);
	assert_int_equal(out.channels, 6);
	assert_int_equal(out.rate, RATE);
	nt_free(&n);

	assert_int_equal(nt_init(&n, &vd_node_mixer, four, 2, RATE), 0);
	vd_audio_format_init(&in[0], VD_FORMAT_S16, RATE, 1);
	vd_audio_format_init(&in[1], VD_FORMAT_F32, RATE, 2);
	assert_int_equal(vd_node_mixer.negotiate(n.self, in, 2, &out, 1, &n.err), 0);
	assert_int_equal(out.channels, 4);
	assert_int_equal(in[0].channels, 4);
	assert_int_equal(in[1].channels, 4);
	assert_int_equal(in[1].position[2], VD_CH_RL);
	/* prepare refuses inputs the graph did not convert */
	vd_audio_format_init(&in[1], VD_FORMAT_F32, RATE, 2);
	assert_int_equal(vd_node_mixer.prepare(n.self, in, 2, &out, 1, 480, &n.err), -EINVAL);
	assert_string_equal(n.err.msg, "mixer input 1 must be f32 with 4 channels");
	nt_free(&n);
}

static void test_bad_properties(void **state)
{
	const char *const a[] = { "inputs=0", NULL };
	const char *const b[] = { "inputs=2", "gain.2=0dB", NULL };
	const char *const c[] = { "gain.0=1kHz", NULL };
	const char *const d[] = { "channels=33", NULL };
	struct nt_node n;

	assert_int_equal(nt_init(&n, &vd_node_mixer, a, 1, RATE), -EINVAL);
	assert_string_equal(n.err.msg, "'inputs' = 0 is out of range [1, 64]");
	nt_free(&n);
	assert_int_equal(nt_init(&n, &vd_node_mixer, b, 2, RATE), -EINVAL);
	assert_string_equal(n.err.msg, "unknown property 'gain.2' for mixer");
	nt_free(&n);
	assert_int_equal(nt_init(&n, &vd_node_mixer, c, 2, RATE), -EINVAL);
	assert_string_equal(n.err.msg, "'gain.0': unit 'kHz' does not fit here (dB)");
	nt_free(&n);
	assert_int_equal(nt_init(&n, &vd_node_mixer, d, 2, RATE), -EINVAL);
	assert_string_equal(n.err.msg, "'channels' = 33 is out of range [1, 32]");
	nt_free(&n);
	/* no links and no `inputs`: one input */
	assert_int_equal(nt_init(&n, &vd_node_mixer, NULL, 0, RATE), 0);
	assert_int_equal(n.n_in, 1);
	nt_free(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sum_is_exact_float_sum),
		cmocka_unit_test(test_s16_sum_is_clipped_integer_sum),
		cmocka_unit_test(test_gains),
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_eos_per_input),
		cmocka_unit_test(test_all_inputs_ended_at_once),
		cmocka_unit_test(test_runtime_gain_ramp),
		cmocka_unit_test(test_negotiation),
		cmocka_unit_test(test_bad_properties),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
