/* tests/unit/test_endpoint_null.c - null-sink, silence-source and the attach points (file and stand-in modes). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sndfile.h>

#include "endpoint/endpoint.h"
#include "proptest.h"
#include "testutil.h"

static void *node_new(const struct vd_node_ops *ops, struct pbuf *b, uint32_t rate, const char *base_dir)
{
	struct vd_node_init init = { .name = "ep", .props = props_of(b), .rate = rate, .period = 256,
				     .base_dir = base_dir };
	struct vd_error err = { 0 };
	uint32_t ni = 9, no = 9;
	void *self = NULL;

	assert_int_equal(ops->init(&init, &self, &ni, &no, &err), 0);
	assert_int_equal(vd_props_check_unused(props_of(b), ops->type, &err), 0);
	assert_int_equal(ni, ops->flags & VD_NODE_SINK ? 1 : 0);
	assert_int_equal(no, ops->flags & VD_NODE_SOURCE ? 1 : 0);
	assert_true(ops->flags & VD_NODE_ENDPOINT);
	return self;
}

static double param(const struct vd_node_ops *ops, void *self, const char *name)
{
	struct vd_param_info info;
	double v = -1;

	for (uint32_t i = 0; ops->enum_params(self, i, &info) == 0; i++) {
		if (strcmp(info.name, name) == 0) {
			assert_true(info.flags & VD_PARAM_VOLATILE);
			assert_int_equal(ops->set_param(self, info.id, 5), -EPERM);
			assert_int_equal(ops->get_param(self, info.id, &v), 0);
			return v;
		}
	}
	fail_msg("no parameter %s", name);
	return v;
}

static void test_null_sink_counts(void **state)
{
	struct vd_audio_format f, orig;
	struct pbuf b = { 0 };
	struct vd_error err;
	uint8_t data[4096];
	void *self = node_new(&vd_node_null_sink, &b, 0, NULL);

	vd_audio_format_init(&f, VD_FORMAT_S24_3, 96000, 5);
	orig = f;
	assert_int_equal(vd_node_null_sink.negotiate(self, &f, 1, NULL, 0, &err), 0);
	assert_true(vd_audio_format_equal(&f, &orig));	/* takes anything as it is */
	assert_int_equal(vd_node_null_sink.prepare(self, &f, 1, NULL, 0, 256, &err), 0);
	for (uint32_t n = 1; n <= 200; n += 7) {
		struct vd_buffer in = { .data = data, .frames = n };

		assert_int_equal(vd_node_null_sink.process(self, &in, 1, NULL, 0), 0);
		assert_int_equal(in.frames, n);
	}
	/* 1 + 8 + ... + 197: 29 terms */
	assert_true(param(&vd_node_null_sink, self, "frames") == 29 * (1 + 197) / 2);
	assert_true(param(&vd_node_null_sink, self, "eos") == 0);
	struct vd_buffer last = { .data = data, .frames = 3, .flags = VD_BUFFER_EOS };
	assert_int_equal(vd_node_null_sink.process(self, &last, 1, NULL, 0), 0);
	assert_true(param(&vd_node_null_sink, self, "frames") == 29 * 99 + 3);
	assert_true(param(&vd_node_null_sink, self, "eos") == 1);
	vd_node_null_sink.reset(self);
	assert_true(param(&vd_node_null_sink, self, "frames") == 0);
	assert_true(param(&vd_node_null_sink, self, "eos") == 0);
	vd_node_null_sink.free(self);
}

/* Pull everything from a source; returns frames, checks EOS comes with the last ones. */
static uint32_t drain(const struct vd_node_ops *ops, void *self, const struct vd_audio_format *f,
		      uint32_t chunk, uint8_t *dst, size_t cap)
{
	size_t fs = vd_format_frame_size(f);
	uint32_t total = 0;

	for (int guard = 0; guard < 100000; guard++) {
		struct vd_buffer out = { .data = dst + total * fs, .frames = chunk };

		assert_true((total + chunk) * fs <= cap);
		assert_int_equal(ops->process(self, NULL, 0, &out, 1), 0);
		total += out.frames;
		if (out.flags & VD_BUFFER_EOS)
			return total;
		assert_int_equal(out.frames, chunk);
	}
	fail_msg("no EOS");
	return 0;
}

static void test_silence_source(void **state)
{
	static const struct { const char *fmt; enum vd_sample_format f; uint8_t byte; } cases[] = {
		{ "u8", VD_FORMAT_U8, 0x80 }, { "s16", VD_FORMAT_S16, 0 }, { "s24_3", VD_FORMAT_S24_3, 0 },
		{ "f32", VD_FORMAT_F32, 0 }, { "f64", VD_FORMAT_F64, 0 }, { "mulaw", VD_FORMAT_MULAW, 0xff },
		{ "alaw", VD_FORMAT_ALAW, 0xd5 },
	};
	static uint8_t buf[2 * 441 * 8 + 4096];

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct vd_audio_format f;
		struct pbuf b = { 0 };
		struct vd_error err;
		void *self;
		uint32_t n;

		prop_ident(&b, "format", cases[k].fmt);
		prop_num(&b, "rate", 44100, "");
		prop_num(&b, "channels", 2, "");
		prop_num(&b, "duration", 10, "ms");
		self = node_new(&vd_node_silence_source, &b, 48000, NULL);
		assert_int_equal(vd_node_silence_source.negotiate(self, NULL, 0, &f, 1, &err), 0);
		assert_int_equal(f.format, cases[k].f);
		assert_int_equal(f.rate, 44100);
		assert_int_equal(f.channels, 2);
		assert_int_equal(vd_node_silence_source.total_frames(self), 441);
		memset(buf, 0x5a, sizeof(buf));
		n = drain(&vd_node_silence_source, self, &f, 100, buf, sizeof(buf));
		assert_int_equal(n, 441);
		for (size_t i = 0; i < 441 * vd_format_frame_size(&f); i++)
			assert_int_equal(buf[i], cases[k].byte);
		assert_int_equal(buf[441 * vd_format_frame_size(&f)], 0x5a);	/* nothing past the end */
		vd_node_silence_source.reset(self);
		assert_int_equal(drain(&vd_node_silence_source, self, &f, 441, buf, sizeof(buf)), 441);
		vd_node_silence_source.free(self);
	}
}

/* No duration: nothing at all, EOS at once, in the pipeline's rate by default. */
static void test_silence_ends_at_once(void **state)
{
	struct vd_audio_format f;
	struct pbuf b = { 0 };
	struct vd_error err;
	uint8_t buf[64];
	void *self = node_new(&vd_node_silence_source, &b, 32000, NULL);
	struct vd_buffer out = { .data = buf, .frames = 8 };

	assert_int_equal(vd_node_silence_source.negotiate(self, NULL, 0, &f, 1, &err), 0);
	assert_int_equal(f.format, VD_FORMAT_F32);
	assert_int_equal(f.rate, 32000);
	assert_int_equal(f.channels, 2);
	assert_int_equal(vd_node_silence_source.total_frames(self), 0);
	assert_int_equal(vd_node_silence_source.process(self, NULL, 0, &out, 1), 0);
	assert_int_equal(out.frames, 0);
	assert_int_equal(out.flags, VD_BUFFER_EOS);
	vd_node_silence_source.free(self);

	memset(&b, 0, sizeof(b));
	prop_num(&b, "duration", 2, "kHz");
	struct vd_node_init init = { .name = "ep", .props = props_of(&b) };
	uint32_t ni, no;
	vd_error_clear(&err);
	assert_int_equal(vd_node_silence_source.init(&init, &self, &ni, &no, &err), -EINVAL);
	assert_string_equal(err.msg, "'duration': unit 'kHz' does not fit here (s, ms or us)");
}

static void test_attach_points_without_path(void **state)
{
	struct vd_audio_format f, offer;
	struct pbuf b = { 0 };
	struct vd_error err;
	uint8_t buf[64];
	void *self;

	/* playback: silence in the declared format that ends at once */
	prop_num(&b, "channels", 6, "");
	prop_num(&b, "rate", 44100, "");
	prop_ident(&b, "format", "s24");
	self = node_new(&vd_node_attach_playback, &b, 48000, NULL);
	assert_int_equal(vd_node_attach_playback.negotiate(self, NULL, 0, &f, 1, &err), 0);
	assert_int_equal(f.format, VD_FORMAT_S24);
	assert_int_equal(f.rate, 44100);
	assert_int_equal(f.channels, 6);
	assert_int_equal(vd_node_attach_playback.prepare(self, NULL, 0, &f, 1, 2, &err), 0);
	struct vd_buffer out = { .data = buf, .frames = 2 };
	assert_int_equal(vd_node_attach_playback.process(self, NULL, 0, &out, 1), 0);
	assert_int_equal(out.frames, 0);
	assert_int_equal(out.flags, VD_BUFFER_EOS);
	assert_int_equal(vd_node_attach_playback.total_frames(self), 0);
	vd_node_attach_playback.free(self);

	/* capture: the graph must convert to the declared format (defaults: s16, 2ch, pipeline rate), then it is discarded */
	memset(&b, 0, sizeof(b));
	self = node_new(&vd_node_attach_capture, &b, 96000, NULL);
	vd_audio_format_init(&offer, VD_FORMAT_F32, 48000, 8);
	f = offer;
	assert_int_equal(vd_node_attach_capture.negotiate(self, &f, 1, NULL, 0, &err), 0);
	assert_int_equal(f.format, VD_FORMAT_S16);
	assert_int_equal(f.rate, 96000);
	assert_int_equal(f.channels, 2);
	assert_int_equal(vd_node_attach_capture.prepare(self, &f, 1, NULL, 0, 16, &err), 0);
	struct vd_buffer in = { .data = buf, .frames = 16, .flags = VD_BUFFER_EOS };
	assert_int_equal(vd_node_attach_capture.process(self, &in, 1, NULL, 0), 0);
	assert_int_equal(in.frames, 16);
	vd_node_attach_capture.free(self);
}

/* With a path (virtdsp run --input/--output NAME=FILE) the points read and write files. */
static void test_attach_points_with_files(void **state)
{
	char *dir = vd_test_tmpdir();
	struct vd_audio_format f, offer;
	struct pbuf b = { 0 };
	struct vd_error err;
	int32_t data[3 * 100];
	int16_t back[3 * 100];
	char path[512];
	SF_INFO info = { 0 };
	SNDFILE *sf;
	void *self;

	for (int i = 0; i < 300; i++)
		data[i] = (i * 1234567) % 32768 * 256;	/* 16-bit values in s24 */

	/* capture: declared s16 3ch at 22050; the graph converts to it and the file holds it */
	prop_num(&b, "channels", 3, "");
	prop_num(&b, "rate", 22050, "");
	prop_ident(&b, "format", "s16");
	prop_str(&b, "path", "cap.wav");
	self = node_new(&vd_node_attach_capture, &b, 48000, dir);
	vd_audio_format_init(&offer, VD_FORMAT_S24, 48000, 2);
	f = offer;
	assert_int_equal(vd_node_attach_capture.negotiate(self, &f, 1, NULL, 0, &err), 0);
	assert_int_equal(f.format, VD_FORMAT_S16);
	assert_int_equal(f.rate, 22050);
	assert_int_equal(f.channels, 3);
	assert_int_equal(vd_node_attach_capture.prepare(self, &f, 1, NULL, 0, 100, &err), 0);
	for (int i = 0; i < 300; i++)
		back[i] = (int16_t)(data[i] >> 8);
	struct vd_buffer in = { .data = back, .frames = 100, .flags = VD_BUFFER_EOS };
	assert_int_equal(vd_node_attach_capture.process(self, &in, 1, NULL, 0), 0);
	vd_node_attach_capture.free(self);

	snprintf(path, sizeof(path), "%s/cap.wav", dir);
	sf = sf_open(path, SFM_READ, &info);
	assert_non_null(sf);
	assert_int_equal(info.samplerate, 22050);
	assert_int_equal(info.channels, 3);
	assert_int_equal(info.format & SF_FORMAT_SUBMASK, SF_FORMAT_PCM_16);
	int16_t check[300];
	assert_int_equal(sf_readf_short(sf, check, 100), 100);
	sf_close(sf);
	assert_memory_equal(check, back, sizeof(check));

	/* playback: the file plays in its own format, sample for sample */
	memset(&b, 0, sizeof(b));
	prop_num(&b, "channels", 2, "");
	prop_str(&b, "path", "cap.wav");
	self = node_new(&vd_node_attach_playback, &b, 48000, dir);
	assert_int_equal(vd_node_attach_playback.negotiate(self, NULL, 0, &f, 1, &err), 0);
	assert_int_equal(f.format, VD_FORMAT_S16);
	assert_int_equal(f.rate, 22050);
	assert_int_equal(f.channels, 3);
	assert_int_equal(vd_node_attach_playback.prepare(self, NULL, 0, &f, 1, 256, &err), 0);
	assert_int_equal(vd_node_attach_playback.total_frames(self), 100);
	int16_t got[3 * 256];
	struct vd_buffer out = { .data = got, .frames = 256 };
	assert_int_equal(vd_node_attach_playback.process(self, NULL, 0, &out, 1), 0);
	assert_int_equal(out.frames, 100);
	assert_int_equal(out.flags, VD_BUFFER_EOS);
	assert_memory_equal(got, back, sizeof(back));
	vd_node_attach_playback.reset(self);
	out = (struct vd_buffer){ .data = got, .frames = 256 };
	assert_int_equal(vd_node_attach_playback.process(self, NULL, 0, &out, 1), 0);
	assert_int_equal(out.frames, 100);
	vd_node_attach_playback.free(self);

	/* a missing file is reported like file-source does */
	memset(&b, 0, sizeof(b));
	prop_str(&b, "path", "missing.wav");
	struct vd_node_init init = { .name = "guest0", .props = props_of(&b), .base_dir = dir };
	uint32_t ni, no;
	char msg[700];
	vd_error_clear(&err);
	assert_int_equal(vd_node_attach_playback.init(&init, &self, &ni, &no, &err), -ENOENT);
	snprintf(msg, sizeof(msg), "guest0: cannot open '%s/missing.wav': No such file or directory", dir);
	assert_string_equal(err.msg, msg);
	vd_test_rmdir(dir);
}

static void test_type_names(void **state)
{
	static const struct { const struct vd_node_ops *ops; const char *name; uint32_t flags; } t[] = {
		{ &vd_node_file_source, "file-source", VD_NODE_SOURCE },
		{ &vd_node_file_sink, "file-sink", VD_NODE_SINK },
		{ &vd_node_alsa_source, "alsa-source", VD_NODE_SOURCE },
		{ &vd_node_alsa_sink, "alsa-sink", VD_NODE_SINK },
		{ &vd_node_null_sink, "null-sink", VD_NODE_SINK },
		{ &vd_node_silence_source, "silence-source", VD_NODE_SOURCE },
		{ &vd_node_attach_playback, "attach-playback", VD_NODE_SOURCE },
		{ &vd_node_attach_capture, "attach-capture", VD_NODE_SINK },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_string_equal(t[i].ops->type, t[i].name);
		assert_int_equal(t[i].ops->flags, t[i].flags | VD_NODE_ENDPOINT);
		assert_int_equal(t[i].ops->version, VD_NODE_OPS_VERSION);
		assert_non_null(t[i].ops->summary);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null_sink_counts),
		cmocka_unit_test(test_silence_source),
		cmocka_unit_test(test_silence_ends_at_once),
		cmocka_unit_test(test_attach_points_without_path),
		cmocka_unit_test(test_attach_points_with_files),
		cmocka_unit_test(test_type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
