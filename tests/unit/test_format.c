/* tests/unit/test_format.c - format names, aliases, sizes, channel names, default maps, describe. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include <virtdsp/format.h>

static void test_names_round_trip(void **state)
{
	static const char *const names[VD_FORMAT_COUNT] = {
		"unknown", "u8", "s16", "s24", "s24_3", "s32", "f32", "f64", "mulaw", "alaw",
	};

	(void)state;
	for (int f = 0; f < VD_FORMAT_COUNT; f++) {
		enum vd_sample_format back = VD_FORMAT_UNKNOWN;

		assert_string_equal(vd_format_name((enum vd_sample_format)f), names[f]);
		if (f == VD_FORMAT_UNKNOWN)
			continue;
		assert_int_equal(vd_format_from_name(names[f], &back), 0);
		assert_int_equal(back, f);
	}
	assert_string_equal(vd_format_name(VD_FORMAT_COUNT), "unknown");
	assert_string_equal(vd_format_name((enum vd_sample_format)-3), "unknown");
}

static void test_aliases(void **state)
{
	static const struct { const char *name; enum vd_sample_format f; } cases[] = {
		{ "S16LE", VD_FORMAT_S16 }, { "s16_le", VD_FORMAT_S16 }, { "S16", VD_FORMAT_S16 },
		{ "s24le", VD_FORMAT_S24 }, { "s24_32", VD_FORMAT_S24 },
		{ "S24_3LE", VD_FORMAT_S24_3 }, { "s24p", VD_FORMAT_S24_3 },
		{ "s32_le", VD_FORMAT_S32 }, { "float", VD_FORMAT_F32 }, { "FLOAT32", VD_FORMAT_F32 },
		{ "f32le", VD_FORMAT_F32 }, { "float_le", VD_FORMAT_F32 }, { "double", VD_FORMAT_F64 },
		{ "float64", VD_FORMAT_F64 }, { "F64LE", VD_FORMAT_F64 }, { "mu_law", VD_FORMAT_MULAW },
		{ "ulaw", VD_FORMAT_MULAW }, { "A_LAW", VD_FORMAT_ALAW }, { "U8", VD_FORMAT_U8 },
	};
	enum vd_sample_format f = VD_FORMAT_S32;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(vd_format_from_name(cases[i].name, &f), 0);
		assert_int_equal(f, cases[i].f);
	}
	f = VD_FORMAT_S32;
	assert_int_equal(vd_format_from_name("s17", &f), -EINVAL);
	assert_int_equal(vd_format_from_name("", &f), -EINVAL);
	assert_int_equal(vd_format_from_name("unknown", &f), -EINVAL);
	assert_int_equal(vd_format_from_name(NULL, &f), -EINVAL);
	assert_int_equal(f, VD_FORMAT_S32);	/* untouched on failure */
}

static void test_sizes_and_bits(void **state)
{
	static const size_t size[VD_FORMAT_COUNT] = { 0, 1, 2, 4, 3, 4, 4, 8, 1, 1 };
	static const unsigned bits[VD_FORMAT_COUNT] = { 0, 8, 16, 24, 24, 32, 24, 53, 14, 13 };

	(void)state;
	for (int f = 0; f < VD_FORMAT_COUNT; f++) {
		assert_int_equal(vd_format_sample_size((enum vd_sample_format)f), size[f]);
		assert_int_equal(vd_format_bits((enum vd_sample_format)f), bits[f]);
		assert_int_equal(vd_format_is_float((enum vd_sample_format)f),
				 f == VD_FORMAT_F32 || f == VD_FORMAT_F64);
		assert_int_equal((VD_FORMAT_MASK_FLOAT & VD_FORMAT_BIT(f)) != 0,
				 f == VD_FORMAT_F32 || f == VD_FORMAT_F64);
		assert_int_equal((VD_FORMAT_MASK_ALL & VD_FORMAT_BIT(f)) != 0, f != VD_FORMAT_UNKNOWN);
	}
	assert_int_equal(vd_format_sample_size(VD_FORMAT_COUNT), 0);
	assert_int_equal(vd_format_bits(VD_FORMAT_COUNT), 0);
	assert_false(vd_format_is_float(VD_FORMAT_COUNT));
}

static void test_channel_names(void **state)
{
	enum vd_channel_position p;

	(void)state;
	for (int i = 1; i < VD_CH_POSITION_COUNT; i++) {
		const char *name = vd_channel_name((enum vd_channel_position)i);

		assert_int_equal(vd_channel_from_name(name, &p), 0);
		assert_int_equal(p, i);
	}
	assert_string_equal(vd_channel_name(VD_CH_FL), "FL");
	assert_string_equal(vd_channel_name(VD_CH_LFE), "LFE");
	assert_string_equal(vd_channel_name(VD_CH_AUX0), "AUX0");
	assert_string_equal(vd_channel_name(VD_CH_AUX0 + 31), "AUX31");
	assert_string_equal(vd_channel_name(VD_CH_POSITION_COUNT), "UNK");
	assert_int_equal(vd_channel_from_name("fl", &p), 0);
	assert_int_equal(p, VD_CH_FL);
	assert_int_equal(vd_channel_from_name("BL", &p), 0);
	assert_int_equal(p, VD_CH_RL);
	assert_int_equal(vd_channel_from_name("br", &p), 0);
	assert_int_equal(p, VD_CH_RR);
	assert_int_equal(vd_channel_from_name("aux17", &p), 0);
	assert_int_equal(p, VD_CH_AUX0 + 17);
	assert_int_equal(vd_channel_from_name("AUX32", &p), -EINVAL);
	assert_int_equal(vd_channel_from_name("XYZ", &p), -EINVAL);
	assert_int_equal(vd_channel_from_name(NULL, &p), -EINVAL);
}

static void test_default_maps(void **state)
{
	static const uint8_t want[9][8] = {
		[1] = { VD_CH_MONO },
		[2] = { VD_CH_FL, VD_CH_FR },
		[3] = { VD_CH_FL, VD_CH_FR, VD_CH_LFE },
		[4] = { VD_CH_FL, VD_CH_FR, VD_CH_RL, VD_CH_RR },
		[5] = { VD_CH_FL, VD_CH_FR, VD_CH_FC, VD_CH_RL, VD_CH_RR },
		[6] = { VD_CH_FL, VD_CH_FR, VD_CH_FC, VD_CH_LFE, VD_CH_RL, VD_CH_RR },
		[7] = { VD_CH_FL, VD_CH_FR, VD_CH_FC, VD_CH_LFE, VD_CH_RC, VD_CH_SL, VD_CH_SR },
		[8] = { VD_CH_FL, VD_CH_FR, VD_CH_FC, VD_CH_LFE, VD_CH_RL, VD_CH_RR, VD_CH_SL, VD_CH_SR },
	};
	uint8_t pos[VD_MAX_CHANNELS + 1];

	(void)state;
	for (uint32_t ch = 1; ch <= 8; ch++) {
		memset(pos, 0xee, sizeof(pos));
		vd_channel_default_map(ch, pos);
		assert_memory_equal(pos, want[ch], ch);
		assert_int_equal(pos[ch], 0xee);
	}
	for (uint32_t ch = 9; ch <= VD_MAX_CHANNELS; ch++) {
		memset(pos, 0xee, sizeof(pos));
		vd_channel_default_map(ch, pos);
		for (uint32_t i = 0; i < ch; i++)
			assert_int_equal(pos[i], VD_CH_AUX0 + i);
		assert_int_equal(pos[ch], 0xee);
	}
}

static void test_audio_format(void **state)
{
	struct vd_audio_format a, b;
	char buf[64];

	(void)state;
	vd_audio_format_init(&a, VD_FORMAT_S16, 48000, 2);
	assert_int_equal(a.channels, 2);
	assert_int_equal(a.position[0], VD_CH_FL);
	assert_int_equal(a.position[1], VD_CH_FR);
	assert_int_equal(vd_format_frame_size(&a), 4);
	assert_string_equal(vd_audio_format_describe(&a, buf, sizeof(buf)), "s16 48000Hz 2ch");
	assert_ptr_equal(vd_audio_format_describe(&a, buf, sizeof(buf)), buf);

	vd_audio_format_init(&b, VD_FORMAT_S16, 48000, 2);
	assert_true(vd_audio_format_equal(&a, &b));
	b.position[1] = VD_CH_FC;
	assert_false(vd_audio_format_equal(&a, &b));
	vd_audio_format_init(&b, VD_FORMAT_S16, 44100, 2);
	assert_false(vd_audio_format_equal(&a, &b));
	vd_audio_format_init(&b, VD_FORMAT_F32, 48000, 2);
	assert_false(vd_audio_format_equal(&a, &b));

	vd_audio_format_init(&a, VD_FORMAT_S24_3, 96000, 100);
	assert_int_equal(a.channels, VD_MAX_CHANNELS);
	assert_int_equal(vd_format_frame_size(&a), 3 * VD_MAX_CHANNELS);
	assert_string_equal(vd_audio_format_describe(&a, buf, sizeof(buf)), "s24_3 96000Hz 32ch");
	/* A short buffer is truncated, still terminated. */
	assert_string_equal(vd_audio_format_describe(&a, buf, 6), "s24_3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_sizes_and_bits),
		cmocka_unit_test(test_channel_names),
		cmocka_unit_test(test_default_maps),
		cmocka_unit_test(test_audio_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
