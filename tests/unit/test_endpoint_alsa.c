/* tests/unit/test_endpoint_alsa.c - alsa-sink/alsa-source through alsa-lib's null PCM and file plugin (no sound card needed). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <alsa/asoundlib.h>
#include <cmocka.h>

#include <virtdsp/graph.h>

#include "endpoint/endpoint.h"
#include "proptest.h"
#include "testutil.h"

/* The private ALSA configuration (ALSA_CONFIG_PATH) lives here for the whole run. */
static char *tmp;

static int node_init(const struct vd_node_ops *ops, struct pbuf *b, void **self, struct vd_error *err)
{
	struct vd_node_init init = { .name = "ep", .props = props_of(b), .period = 256 };
	uint32_t ni, no;
	int ret;

	vd_error_clear(err);
	ret = ops->init(&init, self, &ni, &no, err);
	if (ret == 0)
		assert_int_equal(vd_props_check_unused(props_of(b), ops->type, err), 0);
	return ret;
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static void fill_random(void *p, size_t bytes, enum vd_sample_format f)
{
	uint8_t *b = p;

	for (size_t i = 0; i < bytes; i++) {
		rng_state ^= rng_state << 13;
		rng_state ^= rng_state >> 7;
		rng_state ^= rng_state << 17;
		b[i] = (uint8_t)(rng_state >> 24);
	}
	/* Keep float samples finite and in range, s24 sign-extended: what a real stream carries. */
	if (f == VD_FORMAT_F32)
		for (size_t i = 0; i < bytes / 4; i++)
			((float *)p)[i] = (float)((int32_t *)p)[i] / 2147483648.0f;
	if (f == VD_FORMAT_F64)
		for (size_t i = 0; i < bytes / 8; i++)
			((double *)p)[i] = (double)((int64_t *)p)[i] / 9223372036854775808.0;
	if (f == VD_FORMAT_S24)
		for (size_t i = 0; i < bytes / 4; i++)
			((int32_t *)p)[i] = (int32_t)((uint32_t)((int32_t *)p)[i] << 8) >> 8;
}

static void *slurp(const char *path, size_t *size)
{
	FILE *fp = fopen(path, "rb");
	struct stat st;
	void *data;

	assert_non_null(fp);
	assert_int_equal(fstat(fileno(fp), &st), 0);
	data = malloc((size_t)st.st_size + 1);
	assert_int_equal(fread(data, 1, (size_t)st.st_size, fp), (size_t)st.st_size);
	fclose(fp);
	*size = (size_t)st.st_size;
	return data;
}

/*
 * Play @frames of @data (offered as @offer) to @device in chunks of @chunk,
 * the last with EOS. Returns the negotiated format; *xruns gets the count.
 */
static struct vd_audio_format play(const char *device, const char *format,
				   const struct vd_audio_format *offer, const void *data,
				   uint32_t frames, uint32_t chunk, double *xruns)
{
	struct vd_audio_format neg = *offer;
	struct vd_param_info info;
	struct pbuf b = { 0 };
	struct vd_error err;
	void *self = NULL;
	size_t fs;

	prop_str(&b, "device", device);
	if (format)
		prop_ident(&b, "format", format);
	assert_int_equal(node_init(&vd_node_alsa_sink, &b, &self, &err), 0);
	assert_int_equal(vd_node_alsa_sink.negotiate(self, &neg, 1, NULL, 0, &err), 0);
	assert_int_equal(vd_node_alsa_sink.prepare(self, &neg, 1, NULL, 0, chunk, &err), 0);
	fs = vd_format_frame_size(&neg);
	for (uint32_t done = 0; done < frames;) {
		uint32_t n = frames - done < chunk ? frames - done : chunk;
		struct vd_buffer in = { .data = (uint8_t *)data + done * fs, .frames = n,
					.flags = done + n == frames ? VD_BUFFER_EOS : 0 };

		assert_int_equal(vd_node_alsa_sink.process(self, &in, 1, NULL, 0), 0);
		assert_int_equal(in.frames, n);	/* blocking: everything is taken */
		done += n;
	}
	assert_int_equal(vd_node_alsa_sink.enum_params(self, 0, &info), 0);
	assert_string_equal(info.name, "xruns");
	assert_int_equal(vd_node_alsa_sink.get_param(self, info.id, xruns), 0);
	vd_node_alsa_sink.free(self);
	return neg;
}

/* Every sample format, through `file:FILE=...,FORMAT=raw` (alsa.conf's file plugin over null). */
static void test_file_plugin_bit_exact(void **state)
{
	for (int f = 1; f < VD_FORMAT_COUNT; f++) {
		struct vd_audio_format offer, neg;
		char path[512], device[600];
		const uint32_t frames = 5000;
		size_t bytes, size;
		void *data, *back;
		double xruns = -1;

		snprintf(path, sizeof(path), "%s/out-%s.raw", tmp, vd_format_name((enum vd_sample_format)f));
		snprintf(device, sizeof(device), "file:FILE=%s,FORMAT=raw", path);
		vd_audio_format_init(&offer, (enum vd_sample_format)f, 48000, 2);
		bytes = frames * vd_format_frame_size(&offer);
		data = malloc(bytes);
		fill_random(data, bytes, offer.format);
		neg = play(device, NULL, &offer, data, frames, 300, &xruns);
		assert_true(vd_audio_format_equal(&neg, &offer));	/* null takes anything */
		assert_true(xruns == 0);
		back = slurp(path, &size);
		assert_int_equal(size, bytes);
		assert_memory_equal(back, data, bytes);
		free(data);
		free(back);
	}
}

/* The null PCM swallows blocking writes at once: many periods, no xrun, nothing short. */
static void test_null_blocking_no_xruns(void **state)
{
	const uint32_t frames = 10 * 48000;
	struct vd_audio_format offer, neg;
	int16_t *data = calloc(frames * 2, sizeof(int16_t));
	double xruns = -1;
	struct timespec t0, t1;

	vd_audio_format_init(&offer, VD_FORMAT_S16, 48000, 2);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	neg = play("null", NULL, &offer, data, frames, 1024, &xruns);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(neg.format, VD_FORMAT_S16);
	assert_true(xruns == 0);
	printf("null: 10 s of s16 stereo written in %.6f s\n",
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
	free(data);
}

/* A device that takes mu-law only: the offered s16 becomes mu-law (the graph converts). */
static void test_nearest_format(void **state)
{
	struct vd_audio_format offer, neg;
	char path[512];
	uint8_t codes[512];
	int32_t ints[512];
	size_t size;
	void *back;
	double xruns;

	for (int i = 0; i < 512; i++)
		codes[i] = (uint8_t)(i * 7);
	vd_audio_format_init(&offer, VD_FORMAT_S16, 8000, 1);
	neg = play("vd_mulaw", NULL, &offer, codes, 512, 100, &xruns);
	assert_int_equal(neg.format, VD_FORMAT_MULAW);
	assert_int_equal(neg.rate, 8000);
	assert_int_equal(neg.channels, 1);
	snprintf(path, sizeof(path), "%s/mulaw.raw", tmp);
	back = slurp(path, &size);
	assert_int_equal(size, 512);
	assert_memory_equal(back, codes, 512);
	free(back);

	/* Integer-only device: float goes to the widest integer; what arrives is then s32. */
	vd_audio_format_init(&offer, VD_FORMAT_F32, 44100, 2);
	fill_random(ints, sizeof(ints), VD_FORMAT_S32);
	neg = play("vd_linear", NULL, &offer, ints, 256, 64, &xruns);
	assert_int_equal(neg.format, VD_FORMAT_S32);
	snprintf(path, sizeof(path), "%s/linear.raw", tmp);
	back = slurp(path, &size);
	assert_int_equal(size, sizeof(ints));
	assert_memory_equal(back, ints, sizeof(ints));
	free(back);
}

static void test_errors(void **state)
{
	struct vd_audio_format f;
	struct pbuf b = { 0 };
	struct vd_error err;
	void *self = NULL;

	prop_str(&b, "device", "vd_nosuch");
	assert_int_equal(node_init(&vd_node_alsa_sink, &b, &self, &err), -ENOENT);
	assert_string_equal(err.msg, "ep: cannot open ALSA device 'vd_nosuch' for playback: No such file or directory");
	assert_int_equal(err.loc.line, 1);

	/* An explicit format the device refuses is an error, not a silent substitute. */
	memset(&b, 0, sizeof(b));
	prop_str(&b, "device", "vd_mulaw");
	prop_ident(&b, "format", "s16");
	assert_int_equal(node_init(&vd_node_alsa_sink, &b, &self, &err), 0);
	vd_audio_format_init(&f, VD_FORMAT_S16, 8000, 1);
	assert_int_equal(vd_node_alsa_sink.negotiate(self, &f, 1, NULL, 0, &err), -EINVAL);
	assert_string_equal(err.msg, "ep: ALSA device 'vd_mulaw' does not take s16 samples (it takes: mulaw)");
	vd_node_alsa_sink.free(self);

	memset(&b, 0, sizeof(b));
	prop_num(&b, "period", 0.5, "kHz");
	assert_int_equal(node_init(&vd_node_alsa_sink, &b, &self, &err), -EINVAL);
	assert_string_equal(err.msg, "'period': unit 'kHz' does not fit here (s, ms or us)");
	memset(&b, 0, sizeof(b));
	prop_num(&b, "period", 2.5, "");
	assert_int_equal(node_init(&vd_node_alsa_sink, &b, &self, &err), -EINVAL);
	assert_string_equal(err.msg, "'period' must be a whole number, not the number '2.5'");
	memset(&b, 0, sizeof(b));
	prop_ident(&b, "format", "s17");
	assert_int_equal(node_init(&vd_node_alsa_source, &b, &self, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "'format' = 's17' is not a sample format (u8, s16, s24, s24_3, s32, f32, f64, mulaw, alaw)");
}

/* Capture from a file through the file plugin's infile: exact samples, the device's channel map, EOS after 'duration'. */
static void test_capture_from_infile(void **state)
{
	const uint32_t rate = 8000, ch = 4, avail = 3000, want = 2000;	/* 0.25 s */
	struct vd_audio_format out;
	struct vd_param_info info;
	struct pbuf b = { 0 };
	struct vd_error err;
	int16_t *in = malloc(avail * ch * 2), *got = calloc(avail * ch, 2);
	uint32_t total = 0;
	char path[512];
	void *self = NULL;
	double xruns = -1;
	FILE *fp;

	fill_random(in, avail * ch * 2, VD_FORMAT_S16);
	snprintf(path, sizeof(path), "%s/in.raw", tmp);
	fp = fopen(path, "wb");
	assert_int_equal(fwrite(in, 2, avail * ch, fp), avail * ch);
	fclose(fp);

	prop_str(&b, "device", "vd_cap");
	prop_ident(&b, "format", "s16");
	prop_num(&b, "rate", rate, "");
	prop_num(&b, "channels", ch, "");
	prop_num(&b, "period", 32, "ms");
	prop_num(&b, "duration", 250, "ms");
	assert_int_equal(node_init(&vd_node_alsa_source, &b, &self, &err), 0);
	assert_int_equal(vd_node_alsa_source.negotiate(self, NULL, 0, &out, 1, &err), 0);
	assert_int_equal(out.format, VD_FORMAT_S16);
	assert_int_equal(out.rate, rate);
	assert_int_equal(out.channels, ch);
	/*
	 * From the chmap in the private config, not the 4-channel default (FL FR RL RR).
	 * It sits on a route plugin: alsa-lib 1.2.8's null PCM leaks a configured chmap on close.
	 */
	assert_int_equal(out.position[2], VD_CH_FC);
	assert_int_equal(out.position[3], VD_CH_LFE);
	assert_int_equal(vd_node_alsa_source.prepare(self, NULL, 0, &out, 1, 300, &err), 0);
	assert_int_equal(vd_node_alsa_source.total_frames(self), want);
	for (int guard = 0; guard < 100; guard++) {
		struct vd_buffer o = { .data = got + total * ch, .frames = 300 };

		assert_int_equal(vd_node_alsa_source.process(self, NULL, 0, &o, 1), 0);
		total += o.frames;
		if (o.flags & VD_BUFFER_EOS)
			break;
		assert_int_equal(o.frames, 300);
	}
	assert_int_equal(total, want);
	assert_memory_equal(got, in, want * ch * 2);
	assert_int_equal(vd_node_alsa_source.enum_params(self, 0, &info), 0);
	assert_int_equal(vd_node_alsa_source.get_param(self, info.id, &xruns), 0);
	assert_true(xruns == 0);
	vd_node_alsa_source.free(self);
	free(in);
	free(got);
}

/* An endless capture in the real graph, ended by the runner's time limit, into the null sink. */
static void test_capture_in_a_graph(void **state)
{
	struct vd_run_options opts = { .max_seconds = 0.1 };
	struct pbuf bi = { 0 }, bo = { 0 };
	struct vd_graph_node_desc in = { .name = "mic", .type = "alsa-source", .props = props_of(&bi),
					 .period = 256 };
	struct vd_graph_node_desc out = { .name = "out", .type = "null-sink", .props = props_of(&bo) };
	struct vd_run_stats stats;
	struct vd_error err = { 0 };
	struct vd_graph *g;
	double frames = -1, xruns = -1;

	prop_str(&bi, "device", "null");
	prop_num(&bi, "rate", 8000, "");
	assert_int_equal(vd_graph_new(&g), 0);
	assert_int_equal(vd_graph_add_node(g, &in, &err), 0);
	assert_int_equal(vd_graph_add_node(g, &out, &err), 0);
	assert_int_equal(vd_graph_link(g, "mic", NULL, "out", NULL, NULL, &err), 0);
	if (vd_graph_prepare(g, &err) < 0)
		fail_msg("prepare: %s", err.msg);
	assert_string_equal(vd_graph_endless_source(g), "mic");
	if (vd_graph_run(g, &opts, &stats, &err) < 0)
		fail_msg("run: %s", err.msg);
	assert_int_equal(vd_graph_get_param(g, "out", "frames", &frames), 0);
	assert_int_equal(vd_graph_get_param(g, "mic", "xruns", &xruns), 0);
	/* exactly 0.1 s: three periods of 256 and a last, short one of 32 */
	assert_true(frames == 800);
	assert_true(xruns == 0);
	vd_graph_free(g);
}

/*
 * vd_endpoint_alsa_close/reopen (the daemon's suspend): the PCM closes, the
 * node refuses to process while closed, and reopens with the negotiated
 * format (the file plugin writes anew on open: what lands after the reopen
 * is the second part, bit-exact).
 */
static void test_close_reopen(void **state)
{
	struct vd_audio_format offer;
	char path[600], device[700];
	struct pbuf b = { 0 };
	struct vd_error err;
	void *self = NULL;
	const uint32_t n1 = 2000, n2 = 3000;
	int32_t *data = malloc((size_t)(n1 + n2) * 2 * sizeof(int32_t));
	size_t size;
	void *back;

	snprintf(path, sizeof(path), "%s/reopen.raw", tmp);
	snprintf(device, sizeof(device), "file:FILE=%s,FORMAT=raw", path);
	vd_audio_format_init(&offer, VD_FORMAT_S32, 48000, 2);
	fill_random(data, (size_t)(n1 + n2) * 8, offer.format);
	prop_str(&b, "device", device);
	assert_int_equal(node_init(&vd_node_alsa_sink, &b, &self, &err), 0);
	assert_int_equal(vd_node_alsa_sink.negotiate(self, &offer, 1, NULL, 0, &err), 0);
	assert_int_equal(vd_node_alsa_sink.prepare(self, &offer, 1, NULL, 0, 500, &err), 0);
	struct vd_buffer in = { .data = data, .frames = n1 };
	assert_int_equal(vd_node_alsa_sink.process(self, &in, 1, NULL, 0), 0);

	assert_int_equal(vd_endpoint_alsa_close(self), 0);
	assert_int_equal(vd_endpoint_alsa_close(self), 0);	/* idempotent */
	in = (struct vd_buffer){ .data = data + n1 * 2, .frames = n2 };
	assert_int_equal(vd_node_alsa_sink.process(self, &in, 1, NULL, 0), -ENODEV);
	vd_node_alsa_sink.reset(self);	/* harmless while closed */

	vd_error_clear(&err);
	assert_int_equal(vd_endpoint_alsa_reopen(self, &err), 0);
	assert_int_equal(vd_endpoint_alsa_reopen(self, &err), 0);	/* idempotent */
	/* a plain close and reopen leaves the connection state alone (jacks own it) */
	struct vd_endpoint_conn *conn = vd_endpoint_conn_of(&vd_node_alsa_sink, self);
	assert_non_null(conn);
	assert_true(vd_endpoint_conn_get(conn));
	vd_endpoint_conn_set(conn, false);	/* as an unplugged jack would */
	assert_int_equal(vd_endpoint_alsa_close(self), 0);
	assert_int_equal(vd_endpoint_alsa_reopen(self, &err), 0);
	assert_false(vd_endpoint_conn_get(conn));
	vd_endpoint_conn_set(conn, true);
	in = (struct vd_buffer){ .data = data + n1 * 2, .frames = n2, .flags = VD_BUFFER_EOS };
	assert_int_equal(vd_node_alsa_sink.process(self, &in, 1, NULL, 0), 0);
	assert_int_equal(in.frames, n2);
	vd_node_alsa_sink.free(self);
	back = slurp(path, &size);
	assert_int_equal(size, (size_t)n2 * 8);
	assert_memory_equal(back, data + n1 * 2, (size_t)n2 * 8);
	free(back);
	free(data);
	remove(path);
}

/* A device gone while closed fails the reopen with a message naming it (the
 * capture PCM's infile is opened with the PCM); once it is back, the reopen
 * works and capture goes on. */
static void test_reopen_fails_while_device_is_gone(void **state)
{
	int16_t *in = malloc(3000 * 4 * 2), *got = calloc(3000 * 4, 2);
	struct vd_audio_format out;
	char path[512], gone[600];
	struct pbuf b = { 0 };
	struct vd_error err;
	void *self = NULL;
	FILE *fp;

	fill_random(in, 3000 * 4 * 2, VD_FORMAT_S16);
	snprintf(path, sizeof(path), "%s/in.raw", tmp);
	snprintf(gone, sizeof(gone), "%s/in.raw.gone", tmp);
	fp = fopen(path, "wb");
	assert_int_equal(fwrite(in, 2, 3000 * 4, fp), 3000 * 4);
	fclose(fp);
	prop_str(&b, "device", "vd_cap");
	prop_ident(&b, "format", "s16");
	prop_num(&b, "rate", 8000, "");
	prop_num(&b, "channels", 4, "");
	assert_int_equal(node_init(&vd_node_alsa_source, &b, &self, &err), 0);
	assert_int_equal(vd_node_alsa_source.negotiate(self, NULL, 0, &out, 1, &err), 0);
	assert_int_equal(vd_node_alsa_source.prepare(self, NULL, 0, &out, 1, 300, &err), 0);
	struct vd_buffer o = { .data = got, .frames = 300 };
	assert_int_equal(vd_node_alsa_source.process(self, NULL, 0, &o, 1), 0);
	assert_int_equal(o.frames, 300);
	assert_memory_equal(got, in, 300 * 4 * 2);

	assert_int_equal(vd_endpoint_alsa_close(self), 0);
	assert_int_equal(rename(path, gone), 0);
	vd_error_clear(&err);
	assert_true(vd_endpoint_alsa_reopen(self, &err) < 0);
	assert_non_null(strstr(err.msg, "ep: cannot reopen ALSA device 'vd_cap' for capture: "));
	o = (struct vd_buffer){ .data = got, .frames = 300 };
	assert_int_equal(vd_node_alsa_source.process(self, NULL, 0, &o, 1), -ENODEV);
	/* shown as disconnected (a guest sees its jack go) until it opens again */
	struct vd_endpoint_conn *conn = vd_endpoint_conn_of(&vd_node_alsa_source, self);
	assert_non_null(conn);
	assert_false(vd_endpoint_conn_get(conn));

	assert_int_equal(rename(gone, path), 0);
	vd_error_clear(&err);
	assert_int_equal(vd_endpoint_alsa_reopen(self, &err), 0);
	assert_true(vd_endpoint_conn_get(conn));
	o = (struct vd_buffer){ .data = got, .frames = 300 };
	assert_int_equal(vd_node_alsa_source.process(self, NULL, 0, &o, 1), 0);
	assert_int_equal(o.frames, 300);
	/* the plugin reads its infile from the start again */
	assert_memory_equal(got, in, 300 * 4 * 2);
	vd_node_alsa_source.free(self);
	free(in);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_plugin_bit_exact),
		cmocka_unit_test(test_null_blocking_no_xruns),
		cmocka_unit_test(test_nearest_format),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_capture_from_infile),
		cmocka_unit_test(test_capture_in_a_graph),
		cmocka_unit_test(test_close_reopen),
		cmocka_unit_test(test_reopen_fails_while_device_is_gone),
	};
	char conf[512];
	FILE *fp;
	int ret;

	/* The system configuration plus three test PCMs, all ending in the null PCM. */
	tmp = vd_test_tmpdir();
	if (!tmp)
		return 1;
	snprintf(conf, sizeof(conf), "%s/asound.conf", tmp);
	fp = fopen(conf, "w");
	if (!fp)
		return 1;
	fprintf(fp,
		"</usr/share/alsa/alsa.conf>\n"
		"pcm.vd_mulaw { type file; file \"%s/mulaw.raw\"; format raw;\n"
		"  slave.pcm { type mulaw; slave { pcm null; format S16_LE } } }\n"
		"pcm.vd_linear { type file; file \"%s/linear.raw\"; format raw;\n"
		"  slave.pcm { type linear; slave { pcm null; format S32_LE } } }\n"
		"pcm.vd_cap { type file; file \"/dev/null\"; infile \"%s/in.raw\"; format raw;\n"
		"  slave.pcm { type route; slave { pcm null; channels 4 }\n"
		"    ttable.0.0 1 ttable.1.1 1 ttable.2.2 1 ttable.3.3 1\n"
		"    chmap [ \"FL,FR,FC,LFE\" ] } }\n",
		tmp, tmp, tmp);
	fclose(fp);
	setenv("ALSA_CONFIG_PATH", conf, 1);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	snd_config_update_free_global();
	vd_test_rmdir(tmp);
	return ret;
}
