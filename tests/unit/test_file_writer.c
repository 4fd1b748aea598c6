/* tests/unit/test_file_writer.c - the live file-sink: sample-exact through its writer thread, a
 * valid WAV header mid-run, overflow counted, and a real-time cycle that never calls write(). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sndfile.h>
#include <virtdsp/attach.h>
#include <virtdsp/graph.h>
#include <virtdsp/sched.h>

#include "endpoint/endpoint.h"
#include "proptest.h"
#include "testutil.h"

enum { P_FRAMES, P_DROPPED, P_ERROR, P_RING_MS, P_PEAK_MS };

static double param(void *self, uint32_t id)
{
	double v = -1;

	assert_int_equal(vd_node_file_sink.get_param(self, id, &v), 0);
	return v;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* A live file-sink on @path, negotiated and prepared for @offer. */
static void *live_sink(const char *path, const struct vd_audio_format *offer, struct vd_audio_format *neg)
{
	struct pbuf b = { 0 };
	struct vd_node_init init = { .name = "out", .props = props_of(&b), .period = 480,
				     .flags = VD_NODE_INIT_LIVE };
	struct vd_error err = { 0 };
	uint32_t ni, no;
	void *self = NULL;

	prop_str(&b, "path", path);
	assert_int_equal(vd_node_file_sink.init(&init, &self, &ni, &no, &err), 0);
	*neg = *offer;
	assert_int_equal(vd_node_file_sink.negotiate(self, neg, 1, NULL, 0, &err), 0);
	if (vd_node_file_sink.prepare(self, neg, 1, NULL, 0, 480, &err) < 0)
		fail_msg("prepare: %s", err.msg);
	return self;
}

static void feed(void *self, const struct vd_audio_format *f, const void *data, uint32_t frames, bool eos)
{
	size_t fs = vd_format_frame_size(f);

	for (uint32_t done = 0; done < frames;) {
		uint32_t n = frames - done < 480 ? frames - done : 480;
		struct vd_buffer in = { .data = (uint8_t *)data + done * fs, .frames = n };

		if (eos && done + n == frames)
			in.flags = VD_BUFFER_EOS;
		assert_int_equal(vd_node_file_sink.process(self, &in, 1, NULL, 0), 0);
		assert_int_equal(in.frames, n);
		done += n;
	}
}

/* Poll (the writer runs on its own clock) until the sink reports @frames written. */
static void wait_written(void *self, double frames)
{
	for (int i = 0; i < 1000 && param(self, P_FRAMES) != frames; i++)
		sleep_ms(10);
	if (param(self, P_FRAMES) != frames)
		fail_msg("the writer reports %.0f frames written, expected %.0f", param(self, P_FRAMES), frames);
}

static uint32_t rng = 12345;

static uint32_t rnd(void)
{
	rng = rng * 1664525u + 1013904223u;
	return rng;
}

/* The file's frames as libsndfile reads them now (through the 32-bit API, so any PCM width compares). */
static sf_count_t read_back(const char *path, int channels, int32_t **out)
{
	SF_INFO info = { 0 };
	SNDFILE *sf = sf_open(path, SFM_READ, &info);

	if (!sf)
		fail_msg("%s: %s", path, sf_strerror(NULL));
	assert_int_equal(info.channels, channels);
	*out = calloc((size_t)(info.frames + 1) * (size_t)channels, sizeof(int32_t));
	assert_int_equal(sf_readf_int(sf, *out, info.frames), info.frames);
	sf_close(sf);
	return info.frames;
}

/* s16 stereo and s24 in three channels (converted on the writer thread) arrive exact. */
static void test_exact_through_writer(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];

	for (int k = 0; k < 2; k++) {
		struct vd_audio_format offer, neg;
		uint32_t ch = k ? 3 : 2, frames = 48000 + 123;
		int32_t *data = calloc((size_t)frames * ch, sizeof(int32_t)), *back;
		int16_t *s16 = (int16_t *)data;
		void *self;

		vd_audio_format_init(&offer, k ? VD_FORMAT_S24 : VD_FORMAT_S16, 48000, ch);
		for (size_t i = 0; i < (size_t)frames * ch; i++) {
			if (k)
				data[i] = (int32_t)(rnd() << 8) >> 8;
			else
				s16[i] = (int16_t)rnd();
		}
		snprintf(path, sizeof(path), "%s/live%d.wav", dir, k);
		self = live_sink(path, &offer, &neg);
		assert_int_equal(neg.format, offer.format);
		/* the ring holds two seconds, rounded up to a power of two */
		assert_true(param(self, P_RING_MS) >= 2000);
		assert_true(param(self, P_RING_MS) < 4000);
		feed(self, &neg, data, frames, true);
		wait_written(self, frames);
		assert_int_equal(param(self, P_DROPPED), 0);
		assert_int_equal(param(self, P_ERROR), 0);
		/* EOS closed the file on the writer thread: complete before free */
		assert_int_equal(read_back(path, (int)ch, &back), frames);
		for (size_t i = 0; i < (size_t)frames * ch; i++) {
			int32_t want = k ? (int32_t)((uint32_t)data[i] << 8) : (int32_t)((uint32_t)s16[i] << 16);

			if (back[i] != want)
				fail_msg("sample %zu: %d, expected %d", i, back[i], want);
		}
		free(back);
		/* after EOS, more frames are an error; a reset starts a new file on the writer */
		struct vd_buffer more = { .data = data, .frames = 10 };
		assert_int_equal(vd_node_file_sink.process(self, &more, 1, NULL, 0), -EPIPE);
		vd_node_file_sink.reset(self);
		feed(self, &neg, k ? (void *)(data + 5 * ch) : (void *)(s16 + 5 * ch), 777, false);
		wait_written(self, 777);
		vd_node_file_sink.free(self);
		assert_int_equal(read_back(path, (int)ch, &back), 777);
		for (size_t i = 0; i < 777u * ch; i++) {
			size_t j = i + 5 * ch;
			int32_t want = k ? (int32_t)((uint32_t)data[j] << 8) : (int32_t)((uint32_t)s16[j] << 16);

			if (back[i] != want)
				fail_msg("after reset, sample %zu: %d, expected %d", i, back[i], want);
		}
		free(back);
		free(data);
	}
	vd_test_rmdir(dir);
}

/* While the sink is running (no EOS, file open), the header already describes what was written. */
static void test_header_valid_mid_run(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];
	struct vd_audio_format offer, neg;
	const uint32_t frames = 24000;
	int16_t *data = malloc(frames * 2 * sizeof(int16_t));
	int32_t *back = NULL;
	sf_count_t got = 0;
	void *self;

	for (uint32_t i = 0; i < frames * 2; i++)
		data[i] = (int16_t)rnd();
	vd_audio_format_init(&offer, VD_FORMAT_S16, 48000, 2);
	snprintf(path, sizeof(path), "%s/mid.wav", dir);
	self = live_sink(path, &offer, &neg);
	feed(self, &neg, data, frames, false);
	wait_written(self, frames);
	/* the header is rewritten within HEADER_EVERY (0.5 s) of the data: poll for up to 10 s */
	for (int i = 0; i < 100 && got != frames; i++) {
		sleep_ms(100);
		free(back);
		got = read_back(path, 2, &back);
	}
	assert_int_equal(got, frames);
	for (uint32_t i = 0; i < frames * 2; i++)
		if (back[i] != (int32_t)((uint32_t)data[i] << 16))
			fail_msg("sample %u: %d, expected %d", i, back[i], data[i] << 16);
	free(back);
	/* more data, then free without EOS (a stopped daemon): the final header covers all of it */
	feed(self, &neg, data, frames, false);
	vd_node_file_sink.free(self);
	assert_int_equal(read_back(path, 2, &back), 2 * frames);
	assert_memory_equal(back, back + frames * 2, frames * 2 * sizeof(int32_t));
	free(back);
	free(data);
	vd_test_rmdir(dir);
}

/* Sixty seconds handed over at once do not fit the two-second ring: the rest is dropped and
 * counted, process() never fails or waits, and every frame is either in the file or counted. */
static void test_overflow_counted(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];
	struct vd_audio_format offer, neg;
	int16_t *data = calloc(480 * 2, sizeof(int16_t));
	const uint32_t calls = 6000;
	void *self;

	vd_audio_format_init(&offer, VD_FORMAT_S16, 48000, 2);
	snprintf(path, sizeof(path), "%s/over.wav", dir);
	self = live_sink(path, &offer, &neg);
	for (uint32_t i = 0; i < calls; i++) {
		struct vd_buffer in = { .data = data, .frames = 480 };

		assert_int_equal(vd_node_file_sink.process(self, &in, 1, NULL, 0), 0);
		assert_int_equal(in.frames, 480);
	}
	double dropped = param(self, P_DROPPED);
	assert_true(dropped > 0);
	wait_written(self, calls * 480.0 - dropped);
	assert_true(param(self, P_PEAK_MS) >= 1000);
	vd_node_file_sink.free(self);
	SF_INFO info = { 0 };
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	assert_non_null(sf);
	assert_int_equal((double)info.frames, calls * 480.0 - dropped);
	sf_close(sf);
	free(data);
	vd_test_rmdir(dir);
}

/* ---- the real-time thread under a seccomp filter that refuses the write family ---- */

#define REFUSED ENOTRECOVERABLE

static const long write_nrs[] = { SYS_write, SYS_writev, SYS_pwrite64, SYS_pwritev, SYS_pwritev2,
				  SYS_fsync, SYS_fdatasync, SYS_ftruncate };

/* @frames of s16 stereo noise written to DIR/in.wav (@in; @out gets DIR/out.wav); returns the samples. */
static int16_t *noise_wav(const char *dir, char in[512], char out[512], uint32_t frames)
{
	int16_t *data = malloc(frames * 2 * sizeof(int16_t));

	for (uint32_t i = 0; i < frames * 2; i++)
		data[i] = (int16_t)rnd();
	snprintf(in, 512, "%s/in.wav", dir);
	snprintf(out, 512, "%s/out.wav", dir);
	SF_INFO info = { .samplerate = 48000, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16 };
	SNDFILE *sf = sf_open(in, SFM_WRITE, &info);
	assert_non_null(sf);
	assert_int_equal(sf_writef_short(sf, data, frames), frames);
	sf_close(sf);
	return data;
}

/* @path starts with @data's @frames, exactly; with @then_silence, only zeros follow. */
static void assert_starts_with(const char *path, const int16_t *data, uint32_t frames, bool then_silence)
{
	int32_t *back;
	sf_count_t n = read_back(path, 2, &back);

	assert_true(n >= frames);
	for (uint32_t i = 0; i < frames * 2; i++)
		if (back[i] != (int32_t)((uint32_t)data[i] << 16))
			fail_msg("sample %u: %d, expected %d", i, back[i], data[i] << 16);
	for (sf_count_t i = frames * 2; then_silence && i < n * 2; i++)
		assert_int_equal(back[i], 0);
	free(back);
}

static struct vd_graph *live_graph_of(const char *in_type, const char *in, const char *out_type, const char *out,
				      bool live)
{
	struct pbuf bi = { 0 }, bo = { 0 };
	struct vd_error err = { 0 };
	struct vd_graph *g;

	assert_int_equal(vd_graph_new(&g), 0);
	vd_graph_set_live(g, live);
	prop_str(&bi, "path", in);
	prop_str(&bo, "path", out);
	struct vd_graph_node_desc di = { .name = "in", .type = in_type, .props = props_of(&bi),
					 .period = 480, .rate = 48000 };
	struct vd_graph_node_desc dout = { .name = "out", .type = out_type, .props = props_of(&bo),
					   .period = 480, .rate = 48000 };
	if (vd_graph_add_node(g, &di, &err) < 0 || vd_graph_add_node(g, &dout, &err) < 0 ||
	    vd_graph_link(g, "in", NULL, "out", NULL, NULL, &err) < 0 || vd_graph_prepare(g, &err) < 0)
		fail_msg("graph: %s", err.msg);
	return g;
}

static struct vd_graph *live_graph(const char *in, const char *out, bool live)
{
	return live_graph_of("file-source", in, "file-sink", out, live);
}

/* A live graph (file-source -> file-sink) run by the real-time scheduler from a thread whose
 * seccomp filter refuses write(), writev(), pwrite*(), fsync() and ftruncate(); the scheduler's
 * thread inherits it, the sink's writer thread (created earlier, by prepare) does not. The
 * same graph without VD_NODE_INIT_LIVE writes from process() and fails there: the check bites. */
static void test_rt_cycle_never_writes(void **state)
{
	char *dir = vd_test_tmpdir(), in[512], out[512];
	const uint32_t frames = 9600;	/* 0.2 s: ends well inside the 0.7 s run */
	int16_t *data = noise_wav(dir, in, out, frames);

	for (int live = 1; live >= 0; live--) {
		struct vd_test_rt_run r;
		struct vd_graph *g = live_graph(in, out, live);

		vd_test_rt_run_denied(g, write_nrs, sizeof(write_nrs) / sizeof(write_nrs[0]), REFUSED, 700, &r);
		assert_int_equal(r.filter, 0);
		/* the filter is in force on that thread */
		assert_int_equal(r.probe, -1);
		assert_int_equal(r.probe_errno, REFUSED);
		assert_int_equal(r.start, 0);
		if (!live) {
			/* the offline sink's sf_write failed inside the first cycle, which ended the run */
			assert_int_equal(r.cycles, 1);
			assert_int_equal(r.error, -EIO);
			vd_graph_free(g);
			continue;
		}
		if (r.cycles < 20)
			fail_msg("live graph: %lu cycles in 0.7 s (error %d)", (unsigned long)r.cycles,
				 r.error);
		assert_int_equal(r.error, 0);
		double dropped = -1;
		assert_int_equal(vd_graph_get_param(g, "out", "dropped", &dropped), 0);
		assert_true(dropped == 0);
		vd_graph_free(g);
		/* the source's frames, then the live graph's silence after its end */
		assert_starts_with(out, data, frames, true);
	}
	free(data);
	vd_test_rmdir(dir);
}

/* Attach points given a path (serve -i/-o NAME=FILE on a host topology) wrap file endpoints;
 * in a live graph those are live too: the same seccomp check, through attach-playback ->
 * attach-capture, and the file written is the file read. */
static void test_attach_files_never_write_on_rt(void **state)
{
	char *dir = vd_test_tmpdir(), in[512], out[512];
	const uint32_t frames = 9600;
	int16_t *data = noise_wav(dir, in, out, frames);

	struct vd_test_rt_run r;
	struct vd_graph *g = live_graph_of("attach-playback", in, "attach-capture", out, true);

	vd_test_rt_run_denied(g, write_nrs, sizeof(write_nrs) / sizeof(write_nrs[0]), REFUSED, 700, &r);
	assert_int_equal(r.filter, 0);
	assert_int_equal(r.probe_errno, REFUSED);
	assert_int_equal(r.start, 0);
	if (r.cycles < 20 || r.error)
		fail_msg("live attach graph: %lu cycles in 0.7 s (error %d)", (unsigned long)r.cycles, r.error);
	vd_graph_free(g);
	assert_starts_with(out, data, frames, false);
	free(data);
	vd_test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_through_writer),
		cmocka_unit_test(test_header_valid_mid_run),
		cmocka_unit_test(test_overflow_counted),
		cmocka_unit_test(test_rt_cycle_never_writes),
		cmocka_unit_test(test_attach_files_never_write_on_rt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
