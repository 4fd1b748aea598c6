/* tests/unit/test_endpoint_file.c - file-source/file-sink: bit-exact round trips, codecs, channel maps, errors. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sndfile.h>
#include <virtdsp/graph.h>

#include "analysis.h"
#include "endpoint/endpoint.h"
#include "proptest.h"
#include "testutil.h"

/* ---- a node driver (properties: proptest.h) ---- */

static int node_init(const struct vd_node_ops *ops, struct pbuf *b, const char *base_dir,
		     void **self, struct vd_error *err)
{
	struct vd_node_init init = { .name = "ep", .props = props_of(b), .rate = 0, .period = 256,
				     .base_dir = base_dir };
	uint32_t ni = 99, no = 99;
	int ret;

	vd_error_clear(err);
	ret = ops->init(&init, self, &ni, &no, err);
	if (ret == 0) {
		assert_int_equal(ni, ops->flags & VD_NODE_SINK ? 1 : 0);
		assert_int_equal(no, ops->flags & VD_NODE_SOURCE ? 1 : 0);
		assert_int_equal(vd_props_check_unused(props_of(b), ops->type, err), 0);
	}
	return ret;
}

/* Open a file-sink on @path, negotiate @offer, write @frames in chunks of @chunk, EOS unless @no_eos. */
static void *sink_open(struct pbuf *b, const struct vd_audio_format *offer,
		       struct vd_audio_format *negotiated, uint32_t chunk)
{
	struct vd_error err;
	void *self = NULL;

	assert_int_equal(node_init(&vd_node_file_sink, b, NULL, &self, &err), 0);
	*negotiated = *offer;
	assert_int_equal(vd_node_file_sink.negotiate(self, negotiated, 1, NULL, 0, &err), 0);
	assert_int_equal(vd_node_file_sink.prepare(self, negotiated, 1, NULL, 0, chunk, &err), 0);
	return self;
}

static void sink_write(void *self, const struct vd_audio_format *f, const void *data,
		       uint32_t frames, uint32_t chunk, bool eos)
{
	size_t fs = vd_format_frame_size(f);

	for (uint32_t done = 0; done < frames || (eos && frames == 0);) {
		uint32_t n = frames - done < chunk ? frames - done : chunk;
		struct vd_buffer in = { .data = (uint8_t *)data + done * fs, .frames = n };

		if (eos && done + n == frames)
			in.flags = VD_BUFFER_EOS;
		assert_int_equal(vd_node_file_sink.process(self, &in, 1, NULL, 0), 0);
		assert_int_equal(in.frames, n);
		done += n;
		if (frames == 0)
			break;
	}
}

static struct vd_audio_format write_file(const char *path, const char *format, const char *container,
					 const struct vd_audio_format *offer, const void *data,
					 uint32_t frames)
{
	struct pbuf b = { 0 };
	struct vd_audio_format neg;
	void *self;

	prop_str(&b, "path", path);
	if (format)
		prop_ident(&b, "format", format);
	if (container)
		prop_ident(&b, "container", container);
	self = sink_open(&b, offer, &neg, 97);
	sink_write(self, &neg, data, frames, 97, true);
	vd_node_file_sink.free(self);
	return neg;
}

/* Read a whole file through file-source in chunks of @chunk; returns the frames, fills @fmt and @data. */
static uint32_t read_file(struct pbuf *b, uint32_t chunk, struct vd_audio_format *fmt, void **data)
{
	struct vd_error err;
	void *self = NULL;
	uint32_t total = 0;
	uint8_t *buf = NULL;
	int64_t expect;

	assert_int_equal(node_init(&vd_node_file_source, b, NULL, &self, &err), 0);
	assert_int_equal(vd_node_file_source.negotiate(self, NULL, 0, fmt, 1, &err), 0);
	assert_int_equal(vd_node_file_source.prepare(self, NULL, 0, fmt, 1, chunk, &err), 0);
	expect = vd_node_file_source.total_frames(self);
	size_t fs = vd_format_frame_size(fmt);
	for (int guard = 0; guard < 1000000; guard++) {
		struct vd_buffer out = { .frames = chunk };

		buf = realloc(buf, (total + chunk) * fs);
		out.data = buf + total * fs;
		assert_int_equal(vd_node_file_source.process(self, NULL, 0, &out, 1), 0);
		assert_true(out.frames <= chunk);
		total += out.frames;
		if (out.flags & VD_BUFFER_EOS)
			break;
		assert_int_equal(out.frames, chunk);	/* only the last read is short */
	}
	assert_int_equal(expect, total);
	vd_node_file_source.free(self);
	*data = buf;
	return total;
}

static uint32_t read_path(const char *path, struct vd_audio_format *fmt, void **data)
{
	struct pbuf b = { 0 };

	prop_str(&b, "path", path);
	return read_file(&b, 128, fmt, data);
}

static int file_codec(const char *path, int *major)
{
	SF_INFO info = { 0 };
	SNDFILE *sf = sf_open(path, SFM_READ, &info);

	assert_non_null(sf);
	sf_close(sf);
	*major = info.format & SF_FORMAT_TYPEMASK;
	return info.format & SF_FORMAT_SUBMASK;
}

/* ---- reference data ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* Every value a format can hold, with its edges first. */
static void *gen(enum vd_sample_format f, size_t n)
{
	size_t ss = vd_format_sample_size(f);
	uint8_t *p = malloc(n * ss);

	for (size_t i = 0; i < n; i++) {
		uint32_t r = rnd();

		switch (f) {
		case VD_FORMAT_U8: case VD_FORMAT_MULAW: case VD_FORMAT_ALAW:
			p[i] = (uint8_t)(i < 256 ? i : r);
			break;
		case VD_FORMAT_S16:
			((int16_t *)p)[i] = i == 0 ? INT16_MIN : i == 1 ? INT16_MAX : (int16_t)r;
			break;
		case VD_FORMAT_S24:
			((int32_t *)p)[i] = i == 0 ? -8388608 : i == 1 ? 8388607 :
					    (int32_t)(r << 8) >> 8;
			break;
		case VD_FORMAT_S24_3:
			p[3 * i] = (uint8_t)r;
			p[3 * i + 1] = (uint8_t)(r >> 8);
			p[3 * i + 2] = (uint8_t)(i == 0 ? 0x80 : i == 1 ? 0x7f : r >> 16);
			break;
		case VD_FORMAT_S32:
			((int32_t *)p)[i] = i == 0 ? INT32_MIN : i == 1 ? INT32_MAX :
					    (int32_t)(r ^ rnd() << 16);
			break;
		case VD_FORMAT_F32:
			((float *)p)[i] = i == 0 ? -1.0f : i == 1 ? nextafterf(1.0f, 0) : i == 2 ? -0.0f :
					  i == 3 ? 1e-40f : (float)((int32_t)r) / 2147483648.0f;
			break;
		case VD_FORMAT_F64:
			((double *)p)[i] = i == 0 ? -1.0 : i == 1 ? nextafter(1.0, 0) :
					   ((double)(int32_t)r + (double)rnd() / 4294967296.0) / 2147483648.0;
			break;
		default:
			break;
		}
	}
	return p;
}

/* ITU-T G.711 decoders, written from the recommendation for checking libsndfile's. */
static int16_t ulaw_decode(uint8_t code)
{
	uint8_t u = (uint8_t)~code;
	int t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);

	return (int16_t)(u & 0x80 ? 0x84 - t : t - 0x84);
}

static int16_t alaw_decode(uint8_t code)
{
	uint8_t a = code ^ 0x55;
	int seg = (a & 0x70) >> 4, t = (a & 0x0f) << 4;

	t += seg == 0 ? 8 : 0x108;
	if (seg > 1)
		t <<= seg - 1;
	return (int16_t)(a & 0x80 ? t : -t);
}

/* What file-source must deliver for sample i of data written as @f. */
static void expect_read(enum vd_sample_format f, const void *src, size_t n, enum vd_sample_format *rf,
			void **out)
{
	const uint8_t *b = src;

	switch (f) {
	case VD_FORMAT_U8: case VD_FORMAT_MULAW: case VD_FORMAT_ALAW: {
		int16_t *o = malloc(n * 2);

		for (size_t i = 0; i < n; i++)
			o[i] = f == VD_FORMAT_U8 ? (int16_t)((b[i] - 128) * 256) :
			       f == VD_FORMAT_MULAW ? ulaw_decode(b[i]) : alaw_decode(b[i]);
		*rf = VD_FORMAT_S16;
		*out = o;
		return;
	}
	case VD_FORMAT_S24_3: {
		int32_t *o = malloc(n * 4);

		for (size_t i = 0; i < n; i++)
			o[i] = (int32_t)((uint32_t)b[3 * i] << 8 | (uint32_t)b[3 * i + 1] << 16 |
					 (uint32_t)b[3 * i + 2] << 24) >> 8;
		*rf = VD_FORMAT_S24;
		*out = o;
		return;
	}
	default:
		*rf = f;
		*out = malloc(n * vd_format_sample_size(f));
		memcpy(*out, src, n * vd_format_sample_size(f));
		return;
	}
}

static const int wav_codec[VD_FORMAT_COUNT] = {
	[VD_FORMAT_U8] = SF_FORMAT_PCM_U8, [VD_FORMAT_S16] = SF_FORMAT_PCM_16,
	[VD_FORMAT_S24] = SF_FORMAT_PCM_24, [VD_FORMAT_S24_3] = SF_FORMAT_PCM_24,
	[VD_FORMAT_S32] = SF_FORMAT_PCM_32, [VD_FORMAT_F32] = SF_FORMAT_FLOAT,
	[VD_FORMAT_F64] = SF_FORMAT_DOUBLE, [VD_FORMAT_MULAW] = SF_FORMAT_ULAW,
	[VD_FORMAT_ALAW] = SF_FORMAT_ALAW,
};

/* Write @f through file-sink into @path, read it back through file-source, compare bit for bit. */
static void roundtrip(const char *path, enum vd_sample_format f, uint32_t channels, uint32_t frames,
		      int expect_major)
{
	struct vd_audio_format offer, neg, got;
	enum vd_sample_format rf;
	size_t n = (size_t)frames * channels;
	void *data = gen(f, n), *expect, *back;
	int major;

	vd_audio_format_init(&offer, f, 44100, channels);
	neg = write_file(path, NULL, NULL, &offer, data, frames);
	assert_int_equal(neg.format, f);	/* the container stores it as it arrives */
	assert_int_equal(file_codec(path, &major), wav_codec[f]);
	assert_int_equal(major, expect_major);

	expect_read(f, data, n, &rf, &expect);
	assert_int_equal(read_path(path, &got, &back), frames);
	assert_int_equal(got.format, rf);
	assert_int_equal(got.rate, 44100);
	assert_int_equal(got.channels, channels);
	assert_memory_equal(back, expect, n * vd_format_sample_size(rf));
	free(data);
	free(expect);
	free(back);
}

static bool file_has(const char *path, const char *tag)
{
	FILE *f = fopen(path, "rb");
	char buf[4096];
	size_t n, len = strlen(tag);
	bool found = false;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);	/* chunks before the data are in the first bytes */
	fclose(f);
	for (size_t i = 0; i + len <= n && !found; i++)
		found = !memcmp(buf + i, tag, len);
	return found;
}

static void test_wav_roundtrip_every_format(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];

	for (int f = 1; f < VD_FORMAT_COUNT; f++) {
		for (uint32_t ch = 1; ch <= 3; ch++) {
			snprintf(path, sizeof(path), "%s/%s-%u.wav", dir,
				 vd_format_name((enum vd_sample_format)f), ch);
			roundtrip(path, (enum vd_sample_format)f, ch, 1000 + ch,
				  ch > 2 ? SF_FORMAT_WAVEX : SF_FORMAT_WAV);
			/* libsndfile's PEAK chunk holds the wall-clock time: without it the same
			 * run writes the same bytes (float files are where it would appear) */
			assert_false(file_has(path, "PEAK"));
		}
	}
	vd_test_rmdir(dir);
}

/* mu-law and A-law codes are stored untouched, including mu-law's -0 (0x7f). */
static void test_wav_law_codes_stored_verbatim(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];
	enum vd_sample_format fmts[2] = { VD_FORMAT_MULAW, VD_FORMAT_ALAW };
	uint8_t codes[256], back[256];

	for (int i = 0; i < 256; i++)
		codes[i] = (uint8_t)i;
	for (int k = 0; k < 2; k++) {
		struct vd_audio_format offer;
		SF_INFO info = { 0 };
		SNDFILE *sf;

		snprintf(path, sizeof(path), "%s/law%d.wav", dir, k);
		vd_audio_format_init(&offer, fmts[k], 8000, 1);
		write_file(path, NULL, NULL, &offer, codes, 256);
		sf = sf_open(path, SFM_READ, &info);
		assert_non_null(sf);
		assert_int_equal(info.frames, 256);
		assert_int_equal(sf_read_raw(sf, back, 256), 256);
		sf_close(sf);
		assert_memory_equal(back, codes, 256);
	}
	vd_test_rmdir(dir);
}

static void test_other_containers_roundtrip(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];
	static const struct { const char *ext; int major; enum vd_sample_format f; } cases[] = {
		{ "aiff", SF_FORMAT_AIFF, VD_FORMAT_S24 }, { "caf", SF_FORMAT_CAF, VD_FORMAT_F64 },
		{ "w64", SF_FORMAT_W64, VD_FORMAT_S32 }, { "au", SF_FORMAT_AU, VD_FORMAT_MULAW },
		{ "rf64", SF_FORMAT_RF64, VD_FORMAT_F32 }, { "aiff", SF_FORMAT_AIFF, VD_FORMAT_S16 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "%s/c%zu.%s", dir, i, cases[i].ext);
		roundtrip(path, cases[i].f, 2, 777, cases[i].major);
	}
	vd_test_rmdir(dir);
}

/* u8 into a container without unsigned 8-bit (AIFF-C/FLAC: signed) is still exact. */
static void test_u8_into_signed_8bit_containers(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];
	const char *ext[] = { "flac", "caf" };

	for (int k = 0; k < 2; k++) {
		struct vd_audio_format offer, neg, got;
		uint8_t *data = gen(VD_FORMAT_U8, 600);
		int16_t *back;
		int major;

		snprintf(path, sizeof(path), "%s/u8.%s", dir, ext[k]);
		vd_audio_format_init(&offer, VD_FORMAT_U8, 22050, 2);
		neg = write_file(path, NULL, NULL, &offer, data, 300);
		assert_int_equal(neg.format, VD_FORMAT_U8);
		assert_int_equal(file_codec(path, &major), SF_FORMAT_PCM_S8);
		assert_int_equal(read_path(path, &got, (void **)&back), 300);
		assert_int_equal(got.format, VD_FORMAT_S16);
		for (int i = 0; i < 600; i++)
			assert_int_equal(back[i], (data[i] - 128) * 256);
		free(data);
		free(back);
	}
	vd_test_rmdir(dir);
}

static void test_flac_16_24_bit_exact(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];

	snprintf(path, sizeof(path), "%s/a16.flac", dir);
	roundtrip(path, VD_FORMAT_S16, 2, 4096 + 5, SF_FORMAT_FLAC);
	snprintf(path, sizeof(path), "%s/a24.flac", dir);
	roundtrip(path, VD_FORMAT_S24, 2, 4096 + 5, SF_FORMAT_FLAC);
	snprintf(path, sizeof(path), "%s/a24_3.flac", dir);
	roundtrip(path, VD_FORMAT_S24_3, 1, 3000, SF_FORMAT_FLAC);
	vd_test_rmdir(dir);
}

/* FLAC holds no float: what arrives is stored in its nearest (24-bit), an explicit f32 is refused. */
static void test_flac_nearest_and_refusal(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];
	struct vd_audio_format offer, neg;
	struct pbuf b = { 0 };
	struct vd_error err;
	void *self = NULL;
	float data[64] = { 0.5f };
	int major;

	snprintf(path, sizeof(path), "%s/f.flac", dir);
	vd_audio_format_init(&offer, VD_FORMAT_F32, 48000, 2);
	neg = write_file(path, NULL, NULL, &offer, data, 32);
	assert_int_equal(neg.format, VD_FORMAT_S24);
	assert_int_equal(file_codec(path, &major), SF_FORMAT_PCM_24);

	prop_str(&b, "path", path);
	prop_ident(&b, "format", "f32");
	assert_int_equal(node_init(&vd_node_file_sink, &b, NULL, &self, &err), -EINVAL);
	assert_string_equal(err.msg, "ep: the flac container cannot store f32 samples (it stores: u8, s16, s24, s24_3)");
	assert_int_equal(err.loc.line, 1);	/* points at the path property */
	vd_test_rmdir(dir);
}

/* `format = s16` on a float stream: negotiate asks the graph for s16, the file is 16-bit. */
static void test_format_property_rewrites_input(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];
	struct vd_audio_format offer, neg, got;
	int16_t data[200], *back;
	int major;

	for (int i = 0; i < 200; i++)
		data[i] = (int16_t)(i * 300 - 30000);
	snprintf(path, sizeof(path), "%s/s16.wav", dir);
	vd_audio_format_init(&offer, VD_FORMAT_F32, 32000, 2);
	neg = write_file(path, "s16", NULL, &offer, data, 100);
	assert_int_equal(neg.format, VD_FORMAT_S16);
	assert_int_equal(neg.rate, 32000);
	assert_int_equal(neg.channels, 2);
	assert_int_equal(file_codec(path, &major), SF_FORMAT_PCM_16);
	assert_int_equal(read_path(path, &got, (void **)&back), 100);
	assert_memory_equal(back, data, sizeof(data));
	free(back);

	/* `container` overrides the extension. */
	snprintf(path, sizeof(path), "%s/noext", dir);
	neg = write_file(path, "s24", "aiff", &offer, (int32_t[4]){ 1, -1, 8388607, -8388608 }, 2);
	assert_int_equal(neg.format, VD_FORMAT_S24);
	assert_int_equal(file_codec(path, &major), SF_FORMAT_PCM_24);
	assert_int_equal(major, SF_FORMAT_AIFF);
	vd_test_rmdir(dir);
}

static void test_raw_container(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];
	static const char *names[] = { "s24", "s16", "s24_3", "f32" };
	enum vd_sample_format fmts[] = { VD_FORMAT_S24, VD_FORMAT_S16, VD_FORMAT_S24_3, VD_FORMAT_F32 };

	for (int k = 0; k < 4; k++) {
		struct vd_audio_format offer, got;
		enum vd_sample_format rf;
		struct pbuf b = { 0 };
		void *data = gen(fmts[k], 2 * 500), *expect, *back;
		struct stat st;
		FILE *fp;
		void *bytes;

		snprintf(path, sizeof(path), "%s/r%d.raw", dir, k);
		vd_audio_format_init(&offer, fmts[k], 16000, 2);
		write_file(path, NULL, NULL, &offer, data, 500);
		/* A raw file is exactly the interleaved samples, little-endian, in the format's own layout. */
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_size, 1000 * vd_format_sample_size(fmts[k]));
		fp = fopen(path, "rb");
		bytes = malloc((size_t)st.st_size);
		assert_int_equal(fread(bytes, 1, (size_t)st.st_size, fp), (size_t)st.st_size);
		fclose(fp);
		assert_memory_equal(bytes, data, (size_t)st.st_size);
		free(bytes);

		prop_str(&b, "path", path);
		prop_ident(&b, "format", names[k]);
		prop_num(&b, "rate", 16000, "");
		prop_num(&b, "channels", 2, "");
		assert_int_equal(read_file(&b, 64, &got, &back), 500);
		expect_read(fmts[k], data, 1000, &rf, &expect);
		assert_int_equal(got.format, rf);
		assert_int_equal(got.rate, 16000);
		assert_memory_equal(back, expect, 1000 * vd_format_sample_size(rf));
		free(data);
		free(expect);
		free(back);
	}
	vd_test_rmdir(dir);
}

static void test_ogg_vorbis_level_and_snr(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];
	const uint32_t rate = 48000, frames = 2 * rate;
	struct vd_audio_format offer, neg, got;
	float *data = malloc(frames * 2 * sizeof(float)), *back;
	struct vd_sine_fit fit;
	int major;

	vd_gen_sine(data, frames, 2, rate, 1000.0, 0.5, 0.0);
	snprintf(path, sizeof(path), "%s/tone.ogg", dir);
	vd_audio_format_init(&offer, VD_FORMAT_S16, rate, 2);	/* Vorbis encodes from float */
	neg = write_file(path, NULL, NULL, &offer, NULL, 0);
	assert_int_equal(neg.format, VD_FORMAT_F32);
	vd_audio_format_init(&offer, VD_FORMAT_F32, rate, 2);
	neg = write_file(path, NULL, NULL, &offer, data, frames);
	assert_int_equal(neg.format, VD_FORMAT_F32);
	assert_int_equal(file_codec(path, &major), SF_FORMAT_VORBIS);
	assert_int_equal(major, SF_FORMAT_OGG);

	assert_int_equal(read_path(path, &got, (void **)&back), frames);
	assert_int_equal(got.format, VD_FORMAT_F32);
	for (int ch = 0; ch < 2; ch++) {
		/* Skip the codec's start-up; judge a steady second. */
		assert_int_equal(vd_sine_fit(back + 2 * 24000 + ch, rate, 2, rate, 1000.0, &fit), 0);
		printf("vorbis ch%d: level %+.4f dB, freq %.4f Hz, SNR %.1f dB, THD+N %.1f dB\n", ch,
		       vd_db(fit.amplitude / 0.5), fit.freq, fit.snr_db, fit.thdn_db);
		assert_true(fabs(vd_db(fit.amplitude / 0.5)) < 0.25);
		assert_true(fabs(fit.freq - 1000.0) < 0.01);
		assert_true(fit.snr_db > 35.0);	/* measured 44 dB at libvorbis' default quality */
	}
	free(data);
	free(back);
	vd_test_rmdir(dir);
}

/* Opus runs at 8/12/16/24/48 kHz only: the sink asks the graph for the next rate up. */
static void test_opus_rate_and_level(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];
	const uint32_t rate = 48000, frames = rate;
	struct vd_audio_format offer, neg, got;
	float *data = malloc(frames * sizeof(float)), *back;
	struct vd_sine_fit fit;
	int major;
	uint32_t n;

	snprintf(path, sizeof(path), "%s/tone.opus", dir);
	vd_audio_format_init(&offer, VD_FORMAT_S16, 44100, 1);
	neg = write_file(path, NULL, NULL, &offer, NULL, 0);
	assert_int_equal(neg.format, VD_FORMAT_F32);
	assert_int_equal(neg.rate, 48000);
	vd_audio_format_init(&offer, VD_FORMAT_F32, 11025, 1);
	neg = write_file(path, NULL, NULL, &offer, NULL, 0);
	assert_int_equal(neg.rate, 12000);

	vd_gen_sine(data, frames, 1, rate, 1000.0, 0.5, 0.0);
	vd_audio_format_init(&offer, VD_FORMAT_F32, rate, 1);
	write_file(path, NULL, NULL, &offer, data, frames);
	assert_int_equal(file_codec(path, &major), SF_FORMAT_OPUS);
	n = read_path(path, &got, (void **)&back);
	assert_int_equal(got.format, VD_FORMAT_F32);
	assert_int_equal(got.rate, rate);
	assert_int_equal(vd_sine_fit(back + rate / 4, rate / 2, 1, rate, 1000.0, &fit), 0);
	printf("opus: %u of %u frames back, level %+.4f dB, SNR %.1f dB\n", n, frames,
	       vd_db(fit.amplitude / 0.5), fit.snr_db);
	assert_int_equal(n, frames);	/* the pre-skip is honoured: same length */
	assert_true(fabs(vd_db(fit.amplitude / 0.5)) < 0.25);
	assert_true(fit.snr_db > 35.0);	/* measured 43.5 dB at libsndfile's default bitrate */
	free(data);
	free(back);
	vd_test_rmdir(dir);
}

static void write_map(const char *path, uint32_t channels, const uint8_t *pos,
		      struct vd_audio_format *neg)
{
	struct vd_audio_format offer;
	int16_t *data = calloc(channels * 64, 2);

	vd_audio_format_init(&offer, VD_FORMAT_S16, 48000, channels);
	memcpy(offer.position, pos, channels);
	*neg = write_file(path, NULL, NULL, &offer, data, 64);
	free(data);
}

static void test_channel_maps(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];
	static const struct {
		const char *ext;
		uint32_t channels;
		uint8_t pos[8];
		uint8_t back[8];	/* what a reader sees */
		int major;
	} cases[] = {
		{ "wav", 6, { VD_CH_FL, VD_CH_FR, VD_CH_FC, VD_CH_LFE, VD_CH_SL, VD_CH_SR },
		  { VD_CH_FL, VD_CH_FR, VD_CH_FC, VD_CH_LFE, VD_CH_SL, VD_CH_SR }, SF_FORMAT_WAVEX },
		{ "wav", 4, { VD_CH_FL, VD_CH_FR, VD_CH_RL, VD_CH_RR },
		  { VD_CH_FL, VD_CH_FR, VD_CH_RL, VD_CH_RR }, SF_FORMAT_WAVEX },
		{ "wav", 2, { VD_CH_SL, VD_CH_SR }, { VD_CH_SL, VD_CH_SR }, SF_FORMAT_WAVEX },
		{ "wav", 1, { VD_CH_FC }, { VD_CH_FC }, SF_FORMAT_WAVEX },
		{ "wav", 2, { VD_CH_FL, VD_CH_FR }, { VD_CH_FL, VD_CH_FR }, SF_FORMAT_WAV },
		{ "caf", 3, { VD_CH_FC, VD_CH_FL, VD_CH_FR }, { VD_CH_FC, VD_CH_FL, VD_CH_FR }, SF_FORMAT_CAF },
		/* WAVE_FORMAT_EXTENSIBLE cannot say "right before left": the reader gets the default. */
		{ "wav", 3, { VD_CH_FR, VD_CH_FL, VD_CH_LFE }, { VD_CH_FL, VD_CH_FR, VD_CH_LFE }, SF_FORMAT_WAVEX },
		/* FLAC has no map of its own: the default for the channel count. */
		{ "flac", 2, { VD_CH_SL, VD_CH_SR }, { VD_CH_FL, VD_CH_FR }, SF_FORMAT_FLAC },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vd_audio_format neg, got;
		void *back;
		int major;

		snprintf(path, sizeof(path), "%s/m%zu.%s", dir, i, cases[i].ext);
		write_map(path, cases[i].channels, cases[i].pos, &neg);
		assert_memory_equal(neg.position, cases[i].pos, cases[i].channels);
		file_codec(path, &major);
		assert_int_equal(major, cases[i].major);
		assert_int_equal(read_path(path, &got, &back), 64);
		assert_int_equal(got.channels, cases[i].channels);
		assert_memory_equal(got.position, cases[i].back, cases[i].channels);
		free(back);
	}
	vd_test_rmdir(dir);
}

static void expect_init_error(const struct vd_node_ops *ops, struct pbuf *b, const char *base_dir,
			      int code, const char *msg)
{
	struct vd_error err;
	void *self = NULL;

	assert_int_equal(node_init(ops, b, base_dir, &self, &err), code);
	assert_int_equal(err.code, code);
	assert_string_equal(err.msg, msg);
}

static void test_errors(void **state)
{
	char *dir = vd_test_tmpdir(), path[512], msg[1024];
	struct pbuf b;
	FILE *fp;

	/* missing file */
	memset(&b, 0, sizeof(b));
	prop_str(&b, "path", "nope.wav");
	snprintf(msg, sizeof(msg), "ep: cannot open '%s/nope.wav': No such file or directory", dir);
	expect_init_error(&vd_node_file_source, &b, dir, -ENOENT, msg);

	/* not audio */
	snprintf(path, sizeof(path), "%s/text.wav", dir);
	fp = fopen(path, "w");
	fputs("this is not a RIFF file, just some words\n", fp);
	fclose(fp);
	memset(&b, 0, sizeof(b));
	prop_str(&b, "path", path);
	snprintf(msg, sizeof(msg), "ep: cannot read '%s': Format not recognised.", path);
	expect_init_error(&vd_node_file_source, &b, NULL, -EINVAL, msg);

	/* no path */
	memset(&b, 0, sizeof(b));
	expect_init_error(&vd_node_file_source, &b, NULL, -EINVAL, "ep: file-source needs a 'path'");
	memset(&b, 0, sizeof(b));
	expect_init_error(&vd_node_file_sink, &b, NULL, -EINVAL, "ep: file-sink needs a 'path'");

	/* raw input without its format; a header file with a format */
	memset(&b, 0, sizeof(b));
	prop_str(&b, "path", "x.raw");
	prop_num(&b, "rate", 8000, "");
	expect_init_error(&vd_node_file_source, &b, NULL, -EINVAL,
			  "ep: 'x.raw' is a raw file: give its 'format', 'rate' and 'channels'");
	memset(&b, 0, sizeof(b));
	prop_str(&b, "path", "x.wav");
	prop_num(&b, "rate", 8000, "");
	expect_init_error(&vd_node_file_source, &b, NULL, -EINVAL,
			  "ep: 'rate' applies to raw files only; 'x.wav' has a header");

	/* unwritable: the directory does not exist */
	memset(&b, 0, sizeof(b));
	snprintf(path, sizeof(path), "%s/no/such/dir/out.wav", dir);
	prop_str(&b, "path", path);
	snprintf(msg, sizeof(msg), "ep: cannot write '%s': No such file or directory", path);
	expect_init_error(&vd_node_file_sink, &b, NULL, -ENOENT, msg);

	/* unwritable: the path is a directory (found when the file is created) */
	{
		struct vd_audio_format f;
		struct vd_error err;
		void *self = NULL;

		memset(&b, 0, sizeof(b));
		snprintf(path, sizeof(path), "%s/sub.wav", dir);
		mkdir(path, 0755);
		prop_str(&b, "path", path);
		assert_int_equal(node_init(&vd_node_file_sink, &b, NULL, &self, &err), 0);
		vd_audio_format_init(&f, VD_FORMAT_S16, 48000, 2);
		assert_int_equal(vd_node_file_sink.negotiate(self, &f, 1, NULL, 0, &err), 0);
		assert_int_equal(vd_node_file_sink.prepare(self, &f, 1, NULL, 0, 64, &err), -EISDIR);
		snprintf(msg, sizeof(msg), "ep: cannot create '%s': Is a directory", path);
		assert_string_equal(err.msg, msg);
		vd_node_file_sink.free(self);
	}

	/* bad format property */
	memset(&b, 0, sizeof(b));
	prop_str(&b, "path", "out.wav");
	prop_ident(&b, "format", "s17");
	expect_init_error(&vd_node_file_sink, &b, dir, -EINVAL,
			  "'format' = 's17' is not a sample format (u8, s16, s24, s24_3, s32, f32, f64, mulaw, alaw)");
	memset(&b, 0, sizeof(b));
	prop_str(&b, "path", "out.ogg");
	prop_ident(&b, "format", "s16");
	expect_init_error(&vd_node_file_sink, &b, dir, -EINVAL,
			  "ep: the ogg container cannot store s16 samples (it stores: f32)");

	/* container: unknown name, unknown extension */
	memset(&b, 0, sizeof(b));
	prop_str(&b, "path", "out.wav");
	prop_ident(&b, "container", "mp4");
	expect_init_error(&vd_node_file_sink, &b, dir, -EINVAL,
			  "'container' = 'mp4' is not one of: wav, wavex, rf64, w64, aiff, au, caf, flac, ogg, opus, raw");
	memset(&b, 0, sizeof(b));
	prop_str(&b, "path", "out.xyz");
	snprintf(msg, sizeof(msg), "ep: cannot tell the container from '%s/out.xyz'; set 'container' to one of: "
		 "wav, wavex, rf64, w64, aiff, au, caf, flac, ogg, opus, raw", dir);
	expect_init_error(&vd_node_file_sink, &b, dir, -EINVAL, msg);

	/* negotiation: more channels than FLAC holds */
	{
		struct vd_audio_format f;
		struct vd_error err;
		void *self = NULL;

		memset(&b, 0, sizeof(b));
		prop_str(&b, "path", "many.flac");
		assert_int_equal(node_init(&vd_node_file_sink, &b, dir, &self, &err), 0);
		vd_audio_format_init(&f, VD_FORMAT_S16, 48000, 10);
		assert_int_equal(vd_node_file_sink.negotiate(self, &f, 1, NULL, 0, &err), -EINVAL);
		assert_string_equal(err.msg, "ep: the flac container cannot store s16 at 48000 Hz with 10 channels");
		vd_node_file_sink.free(self);
	}
	vd_test_rmdir(dir);
}

/* A run that ends in an error never sends EOS: free must still leave a valid, complete file. */
static void test_finalised_on_free(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];
	static const char *ext[] = { "wav", "flac", "ogg" };

	for (int k = 0; k < 3; k++) {
		struct vd_audio_format offer, neg, got;
		struct pbuf b = { 0 };
		void *self, *back;
		void *data;

		snprintf(path, sizeof(path), "%s/unfinished.%s", dir, ext[k]);
		prop_str(&b, "path", path);
		vd_audio_format_init(&offer, k == 2 ? VD_FORMAT_F32 : VD_FORMAT_S16, 44100, 2);
		data = gen(offer.format, 2 * 1000);
		if (k == 2)
			vd_gen_sine(data, 1000, 2, 44100, 440, 0.25, 0);
		self = sink_open(&b, &offer, &neg, 256);
		sink_write(self, &neg, data, 1000, 256, false);
		vd_node_file_sink.free(self);
		assert_int_equal(read_path(path, &got, &back), 1000);
		if (k < 2)
			assert_memory_equal(back, data, 4000);
		free(data);
		free(back);
	}
	vd_test_rmdir(dir);
}

static void test_reset_and_relative_paths(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];
	struct vd_audio_format offer, neg, got;
	struct pbuf b = { 0 };
	struct vd_error err;
	int16_t data[600], out[600];
	void *self, *back;

	for (int i = 0; i < 600; i++)
		data[i] = (int16_t)(i * 97);
	vd_audio_format_init(&offer, VD_FORMAT_S16, 8000, 1);

	/* sink: relative path under base_dir; reset rewrites the file from the start */
	prop_str(&b, "path", "rel.wav");
	assert_int_equal(node_init(&vd_node_file_sink, &b, dir, &self, &err), 0);
	neg = offer;
	assert_int_equal(vd_node_file_sink.negotiate(self, &neg, 1, NULL, 0, &err), 0);
	assert_int_equal(vd_node_file_sink.prepare(self, &neg, 1, NULL, 0, 600, &err), 0);
	sink_write(self, &neg, data, 600, 600, true);
	vd_node_file_sink.reset(self);
	sink_write(self, &neg, data + 100, 250, 100, true);
	vd_node_file_sink.free(self);
	snprintf(path, sizeof(path), "%s/rel.wav", dir);
	assert_int_equal(read_path(path, &got, &back), 250);
	assert_memory_equal(back, data + 100, 500);
	free(back);

	/* source: reset starts over and EOS comes again */
	memset(&b, 0, sizeof(b));
	prop_str(&b, "path", "rel.wav");
	assert_int_equal(node_init(&vd_node_file_source, &b, dir, &self, &err), 0);
	assert_int_equal(vd_node_file_source.negotiate(self, NULL, 0, &got, 1, &err), 0);
	assert_int_equal(vd_node_file_source.prepare(self, NULL, 0, &got, 1, 600, &err), 0);
	for (int pass = 0; pass < 2; pass++) {
		struct vd_buffer o = { .data = out, .frames = 200 };

		assert_int_equal(vd_node_file_source.process(self, NULL, 0, &o, 1), 0);
		assert_int_equal(o.frames, 200);
		assert_int_equal(o.flags, 0);
		assert_memory_equal(out, data + 100, 400);
		o = (struct vd_buffer){ .data = out, .frames = 200 };
		assert_int_equal(vd_node_file_source.process(self, NULL, 0, &o, 1), 0);
		assert_int_equal(o.frames, 50);
		assert_int_equal(o.flags, VD_BUFFER_EOS);	/* EOS comes with the last frames */
		o = (struct vd_buffer){ .data = out, .frames = 200 };
		assert_int_equal(vd_node_file_source.process(self, NULL, 0, &o, 1), 0);
		assert_int_equal(o.frames, 0);
		assert_int_equal(o.flags, VD_BUFFER_EOS);
		vd_node_file_source.reset(self);
	}
	vd_node_file_source.free(self);
	vd_test_rmdir(dir);
}

/* loop = true: the file again and again, with no gap, never EOS and no known length. */
static void test_source_loop(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];
	struct vd_audio_format offer, got;
	struct pbuf b = { 0 };
	struct vd_error err;
	int16_t data[2 * 100], out[2 * 256];
	uint32_t pos = 0;
	void *self;

	for (int i = 0; i < 200; i++)
		data[i] = (int16_t)(i * 331 - 20000);
	vd_audio_format_init(&offer, VD_FORMAT_S16, 48000, 2);
	snprintf(path, sizeof(path), "%s/loop.wav", dir);
	write_file(path, NULL, NULL, &offer, data, 100);
	prop_str(&b, "path", path);
	prop_ident(&b, "loop", "true");
	assert_int_equal(node_init(&vd_node_file_source, &b, NULL, &self, &err), 0);
	assert_int_equal(vd_node_file_source.negotiate(self, NULL, 0, &got, 1, &err), 0);
	assert_int_equal(vd_node_file_source.prepare(self, NULL, 0, &got, 1, 256, &err), 0);
	assert_int_equal(vd_node_file_source.total_frames(self), -1);
	/* buffers longer than the file (it repeats within one) and shorter, 25 calls: 3700 frames */
	for (int call = 0; call < 25; call++) {
		uint32_t want = call % 2 ? 256 : 40;
		struct vd_buffer o = { .data = out, .frames = want };

		assert_int_equal(vd_node_file_source.process(self, NULL, 0, &o, 1), 0);
		assert_int_equal(o.frames, want);
		assert_int_equal(o.flags, 0);
		for (uint32_t f = 0; f < want; f++, pos++)
			for (int c = 0; c < 2; c++)
				if (out[2 * f + c] != data[2 * (pos % 100) + c])
					fail_msg("frame %u: %d, expected %d", pos, out[2 * f + c],
						 data[2 * (pos % 100) + c]);
	}
	vd_node_file_source.free(self);

	/* a bad value names the property */
	memset(&b, 0, sizeof(b));
	prop_str(&b, "path", path);
	prop_ident(&b, "loop", "sometimes");
	assert_int_not_equal(node_init(&vd_node_file_source, &b, NULL, &self, &err), 0);
	assert_non_null(strstr(err.msg, "loop"));
	vd_test_rmdir(dir);
}

static void graph_add(struct vd_graph *g, const char *name, const char *type, struct pbuf *b)
{
	struct vd_graph_node_desc d = { .name = name, .type = type, .props = props_of(b), .period = 256 };
	struct vd_error err = { 0 };

	if (vd_graph_add_node(g, &d, &err) < 0)
		fail_msg("%s: %s", name, err.msg);
}

/* Through the real graph and its offline scheduler: a 24-bit WAV into FLAC, sample for sample. */
static void test_in_a_graph(void **state)
{
	char *dir = vd_test_tmpdir(), in_path[512], out_path[512];
	const uint32_t frames = 3001;
	struct vd_audio_format offer, got;
	struct pbuf bi = { 0 }, bo = { 0 };
	struct vd_run_stats stats;
	struct vd_error err = { 0 };
	struct vd_graph *g;
	int32_t *data = gen(VD_FORMAT_S24, 2 * frames), *back;
	int major;

	snprintf(in_path, sizeof(in_path), "%s/in.wav", dir);
	snprintf(out_path, sizeof(out_path), "%s/out.flac", dir);
	vd_audio_format_init(&offer, VD_FORMAT_S24, 44100, 2);
	write_file(in_path, NULL, NULL, &offer, data, frames);

	assert_int_equal(vd_graph_new(&g), 0);
	prop_str(&bi, "path", in_path);
	prop_str(&bo, "path", out_path);
	graph_add(g, "in", "file-source", &bi);
	graph_add(g, "out", "file-sink", &bo);
	assert_int_equal(vd_graph_link(g, "in", NULL, "out", NULL, NULL, &err), 0);
	if (vd_graph_prepare(g, &err) < 0)
		fail_msg("prepare: %s", err.msg);
	if (vd_graph_run(g, NULL, &stats, &err) < 0)
		fail_msg("run: %s", err.msg);
	vd_graph_free(g);

	assert_int_equal(file_codec(out_path, &major), SF_FORMAT_PCM_24);
	assert_int_equal(major, SF_FORMAT_FLAC);
	assert_int_equal(read_path(out_path, &got, (void **)&back), frames);
	assert_int_equal(got.format, VD_FORMAT_S24);
	assert_int_equal(got.rate, 44100);
	assert_memory_equal(back, data, 2 * frames * sizeof(int32_t));
	free(back);
	free(data);

	/* silence-source for a set time into a file: exactly that many zero frames */
	assert_int_equal(vd_graph_new(&g), 0);
	memset(&bi, 0, sizeof(bi));
	memset(&bo, 0, sizeof(bo));
	prop_ident(&bi, "format", "s24");
	prop_num(&bi, "rate", 8000, "");
	prop_num(&bi, "channels", 1, "");
	prop_num(&bi, "duration", 0.125, "s");
	prop_str(&bo, "path", out_path);
	graph_add(g, "in", "silence-source", &bi);
	graph_add(g, "out", "file-sink", &bo);
	assert_int_equal(vd_graph_link(g, "in", NULL, "out", NULL, NULL, &err), 0);
	assert_int_equal(vd_graph_prepare(g, &err), 0);
	assert_int_equal(vd_graph_run(g, NULL, &stats, &err), 0);
	vd_graph_free(g);
	assert_int_equal(read_path(out_path, &got, (void **)&back), 1000);
	assert_int_equal(got.format, VD_FORMAT_S24);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(((int32_t *)back)[i], 0);
	free(back);
	vd_test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wav_roundtrip_every_format),
		cmocka_unit_test(test_wav_law_codes_stored_verbatim),
		cmocka_unit_test(test_other_containers_roundtrip),
		cmocka_unit_test(test_u8_into_signed_8bit_containers),
		cmocka_unit_test(test_flac_16_24_bit_exact),
		cmocka_unit_test(test_flac_nearest_and_refusal),
		cmocka_unit_test(test_format_property_rewrites_input),
		cmocka_unit_test(test_raw_container),
		cmocka_unit_test(test_ogg_vorbis_level_and_snr),
		cmocka_unit_test(test_opus_rate_and_level),
		cmocka_unit_test(test_channel_maps),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_finalised_on_free),
		cmocka_unit_test(test_reset_and_relative_paths),
		cmocka_unit_test(test_in_a_graph),
		cmocka_unit_test(test_source_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
