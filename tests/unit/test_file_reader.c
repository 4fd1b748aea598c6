/* tests/unit/test_file_reader.c - the live file-source: sample-exact through its reader thread
 * (once, looped, rewound), an empty ring played as counted silence without waiting, and a
 * real-time cycle that never calls read(). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sndfile.h>
#include <virtdsp/graph.h>
#include <virtdsp/sched.h>

#include "endpoint/endpoint.h"
#include "proptest.h"
#include "testutil.h"

enum { P_UNDERRUNS, P_UNDERRUN_FRAMES, P_BUFFERED, P_ERROR, P_RING_MS, P_ENDED };

static double param(void *self, uint32_t id)
{
	double v = -1;

	assert_int_equal(vd_node_file_source.get_param(self, id, &v), 0);
	return v;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static uint32_t rng = 4242;

static uint32_t rnd(void)
{
	rng = rng * 1664525u + 1013904223u;
	return rng >> 8;
}

/* Write @frames of 32-bit-API samples (left-justified) into a WAV of @codec. */
static void write_wav(const char *path, int rate, int channels, int codec, const int32_t *data,
		      sf_count_t frames)
{
	SF_INFO info = { .samplerate = rate, .channels = channels, .format = SF_FORMAT_WAV | codec };
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);

	if (!sf)
		fail_msg("%s: %s", path, sf_strerror(NULL));
	assert_int_equal(sf_writef_int(sf, data, frames), frames);
	sf_close(sf);
}

/* A live file-source on @path (more properties in @b), negotiated and prepared. */
static void *live_source(struct pbuf *b, const char *path, struct vd_audio_format *fmt)
{
	struct vd_node_init init = { .name = "in", .props = props_of(b), .period = 480,
				     .flags = VD_NODE_INIT_LIVE };
	struct vd_error err = { 0 };
	uint32_t ni, no;
	void *self = NULL;

	prop_str(b, "path", path);
	if (vd_node_file_source.init(&init, &self, &ni, &no, &err) < 0)
		fail_msg("init: %s", err.msg);
	assert_int_equal(vd_node_file_source.negotiate(self, NULL, 0, fmt, 1, &err), 0);
	if (vd_node_file_source.prepare(self, NULL, 0, fmt, 1, 4096, &err) < 0)
		fail_msg("prepare: %s", err.msg);
	return self;
}

/* Wait (the reader runs on its own clock) until @frames are ready; 10 s at most. */
static void wait_buffered(void *self, double frames)
{
	for (int i = 0; i < 2000 && param(self, P_BUFFERED) < frames; i++)
		sleep_ms(5);
	if (param(self, P_BUFFERED) < frames)
		fail_msg("the reader has %.0f frames ready, expected %.0f", param(self, P_BUFFERED), frames);
}

/* One process() call of @want frames into @dst; returns the frames and the flags. */
static uint32_t pull(void *self, void *dst, uint32_t want, uint32_t *flags)
{
	struct vd_buffer out = { .data = dst, .frames = want };

	assert_int_equal(vd_node_file_source.process(self, NULL, 0, &out, 1), 0);
	*flags = out.flags;
	return out.frames;
}

/* The expected value of sample @i as the source delivers it (native precision: s24 right-justified). */
static int32_t native(const int32_t *data, size_t i, bool s24)
{
	return s24 ? data[i] >> 8 : data[i] >> 16;
}

/*
 * Files longer than the ring (so the reader thread, not prepare's first fill, delivers most of
 * them), read in uneven pieces: every sample exact, no underrun, then silence without EOS (a
 * live source never ends); a rewind after the end and one mid-file start again at frame 0.
 */
static void test_exact_through_reader(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];

	for (int k = 0; k < 2; k++) {
		bool s24 = k == 1;
		int rate = s24 ? 48000 : 8000, ch = s24 ? 3 : 1;
		uint32_t frames = s24 ? 400001 : 100003, stride = s24 ? 4 * ch : 2 * ch;
		int32_t *data = malloc((size_t)frames * ch * sizeof(int32_t));
		uint8_t *got = malloc((size_t)frames * stride + 4096 * 12), *p = got;
		struct vd_audio_format fmt;
		struct pbuf b = { 0 };
		uint32_t done = 0, flags = 0;
		void *self;

		for (size_t i = 0; i < (size_t)frames * ch; i++)
			data[i] = (int32_t)(rnd() << (s24 ? 8 : 16));
		snprintf(path, sizeof(path), "%s/in%d.wav", dir, k);
		write_wav(path, rate, ch, s24 ? SF_FORMAT_PCM_24 : SF_FORMAT_PCM_16, data, frames);
		self = live_source(&b, path, &fmt);
		assert_int_equal(fmt.format, s24 ? VD_FORMAT_S24 : VD_FORMAT_S16);
		/* a live source never ends */
		assert_int_equal(vd_node_file_source.total_frames(self), -1);
		/* two seconds at least, a power of two: 64 KiB (4.1 s) for 8 kHz mono s16, 2 MiB (3.6 s) for 48 kHz s24 in three channels */
		double ring_ms = param(self, P_RING_MS);
		assert_true(ring_ms >= 2000 && ring_ms < 4400);
		/* prepare filled the whole ring on its own thread before the first cycle */
		uint32_t ring_frames = (uint32_t)((s24 ? 2u << 20 : 64u << 10) / stride);
		assert_int_equal(param(self, P_BUFFERED), ring_frames);
		assert_true(ring_frames < frames / 2);

		while (done < frames) {
			uint32_t want = rnd() % 700 + 1, left = frames - done;

			if (want > left)
				want = left;
			wait_buffered(self, want);
			assert_int_equal(param(self, P_ENDED), 0);
			assert_int_equal(pull(self, p, want, &flags), want);
			assert_int_equal(flags, 0);
			p += (size_t)want * stride;
			done += want;
		}
		assert_int_equal(param(self, P_ENDED), 1);
		assert_int_equal(param(self, P_UNDERRUNS), 0);
		assert_int_equal(param(self, P_ERROR), 0);
		for (size_t i = 0; i < (size_t)frames * ch; i++) {
			int32_t v = s24 ? ((const int32_t *)got)[i] : ((const int16_t *)got)[i];

			if (v != native(data, i, s24))
				fail_msg("sample %zu: %d, expected %d", i, v, native(data, i, s24));
		}
		/* after the end: full buffers of silence, not counted as underruns */
		uint8_t *after = got + (size_t)frames * stride;
		memset(after, 0x55, 100 * stride);
		assert_int_equal(pull(self, after, 100, &flags), 100);
		assert_int_equal(flags, 0);
		for (size_t i = 0; i < 100 * stride; i++)
			assert_int_equal(after[i], 0);
		assert_int_equal(param(self, P_UNDERRUNS), 0);

		/* rewind twice: after the end, then in the middle of the file with the ring full */
		for (int r = 0; r < 2; r++) {
			uint32_t upto = r ? 5000 : 777;

			vd_node_file_source.reset(self);
			done = 0;
			wait_buffered(self, upto);
			while (done < upto) {
				uint32_t n = pull(self, got + (size_t)done * stride,
						  upto - done < 333 ? upto - done : 333, &flags);
				assert_int_equal(flags, 0);
				done += n;
			}
			assert_int_equal(param(self, P_ENDED), 0);
			for (size_t i = 0; i < (size_t)upto * ch; i++) {
				int32_t v = s24 ? ((const int32_t *)got)[i] : ((const int16_t *)got)[i];

				if (v != native(data, i, s24))
					fail_msg("rewind %d, sample %zu: %d, expected %d", r, i, v,
						 native(data, i, s24));
			}
		}
		assert_int_equal(param(self, P_UNDERRUNS), 0);
		/* freed mid-file with a full ring: the reader is joined (ASan would see a leak) */
		vd_node_file_source.free(self);
		free(got);
		free(data);
	}
	vd_test_rmdir(dir);
}

/* loop = true through the reader: 1009 frames repeat with no gap, well past the ring, never EOS. */
static void test_loop_through_reader(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];
	const uint32_t len = 1009, total = 300000;
	int32_t *data = malloc(len * 2 * sizeof(int32_t));
	int16_t *got = malloc(total * 2 * sizeof(int16_t));
	struct vd_audio_format fmt;
	struct pbuf b = { 0 };
	uint32_t done = 0, flags;
	void *self;

	for (size_t i = 0; i < len * 2; i++)
		data[i] = (int32_t)(rnd() << 16);
	snprintf(path, sizeof(path), "%s/loop.wav", dir);
	write_wav(path, 48000, 2, SF_FORMAT_PCM_16, data, len);
	prop_ident(&b, "loop", "true");
	self = live_source(&b, path, &fmt);
	assert_int_equal(vd_node_file_source.total_frames(self), -1);
	/* 512 KiB of s16 stereo: the ring is 131072 frames, far less than what is read */
	assert_int_equal(param(self, P_BUFFERED), 131072);
	while (done < total) {
		uint32_t want = total - done < 480 ? total - done : 480;

		wait_buffered(self, want);
		assert_int_equal(pull(self, got + (size_t)done * 2, want, &flags), want);
		assert_int_equal(flags, 0);
		done += want;
	}
	for (size_t i = 0; i < (size_t)total * 2; i++)
		if (got[i] != data[i % (len * 2)] >> 16)
			fail_msg("frame %zu (%zu into the loop): %d, expected %d", i / 2, i / 2 % len,
				 got[i], data[i % (len * 2)] >> 16);
	assert_int_equal(param(self, P_UNDERRUNS), 0);
	assert_int_equal(param(self, P_ERROR), 0);
	vd_node_file_source.free(self);
	free(got);
	free(data);
	vd_test_rmdir(dir);
}

/*
 * A raw stream from a FIFO stands for a disk slower than real time: the reader blocks in
 * read() until the test writes. The processing side keeps being called while the reader is
 * stuck; it returns full buffers of silence (a wait there would hang this test), counts them,
 * and the audio continues exactly where it stopped once data comes. Silence after the end of
 * the stream is not an underrun.
 */
static void test_underrun_counted(void **state)
{
	char *dir = vd_test_tmpdir(), path[512];
	const uint32_t first = 8192, second = 5000, frames = first + second;
	int16_t *data = malloc(frames * sizeof(int16_t));
	int16_t *got = malloc(200000 * sizeof(int16_t));
	struct vd_audio_format fmt;
	struct pbuf b = { 0 };
	uint32_t out = 0, flags = 0, silent = 0, in_stuck = 0, last = 0;
	void *self;
	int w;

	/* never 0, so the silence the source inserts is told apart from the signal */
	for (uint32_t i = 0; i < frames; i++)
		data[i] = (int16_t)(rnd() | 1);
	snprintf(path, sizeof(path), "%s/slow.raw", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	/* a writer first, so the source's open() does not wait for one */
	w = open(path, O_RDWR | O_CLOEXEC);
	assert_true(w >= 0);
	prop_ident(&b, "format", "s16");
	prop_num(&b, "rate", 8000, "");
	prop_num(&b, "channels", 1, "");
	self = live_source(&b, path, &fmt);
	/* nothing is read ahead on the caller's thread from a pipe */
	assert_int_equal(param(self, P_BUFFERED), 0);
	assert_int_equal(write(w, data, first * sizeof(int16_t)), first * sizeof(int16_t));

	/* take everything the reader got, then keep calling while it waits in read() */
	for (int i = 0; i < 5000 && in_stuck < 40; i++) {
		uint32_t n = pull(self, got + out, 256, &flags);

		assert_int_equal(n, 256);
		assert_int_equal(flags, 0);
		out += n;
		assert_true(out + 256 <= 200000);
		uint32_t data_frames = 0, fresh = 0;
		for (uint32_t k = 0; k < out; k++) {
			data_frames += got[k] != 0;
			fresh += k >= out - n && got[k] != 0;
		}
		/* a whole buffer of silence after all the data written so far */
		if (data_frames == first && fresh == 0)
			in_stuck++;
		sleep_ms(2);
	}
	assert_int_equal(in_stuck, 40);
	double stuck_underruns = param(self, P_UNDERRUNS);
	assert_true(stuck_underruns >= 40);

	/* the rest, then the end of the stream */
	assert_int_equal(write(w, data + first, second * sizeof(int16_t)), second * sizeof(int16_t));
	close(w);
	for (int i = 0; i < 5000 && param(self, P_ENDED) == 0; i++) {
		assert_true(out + 256 <= 200000);
		last = out;
		assert_int_equal(pull(self, got + out, 256, &flags), 256);
		assert_int_equal(flags, 0);
		out += 256;
		sleep_ms(1);
	}
	assert_int_equal(param(self, P_ENDED), 1);
	/* the call that reached the end filled the rest of its buffer with uncounted silence */
	uint32_t tail = 0;
	while (tail < 256 && got[out - 1 - tail] == 0)
		tail++;
	/* every frame out is the stream's next frame or counted silence, nothing else */
	uint32_t j = 0;
	for (uint32_t k = 0; k < out; k++) {
		if (got[k] == 0) {
			silent++;
			continue;
		}
		if (j >= frames || got[k] != data[j])
			fail_msg("output frame %u: %d, expected stream frame %u (%d)", k, got[k], j,
				 j < frames ? data[j] : 0);
		j++;
	}
	assert_int_equal(j, frames);
	assert_true(last < out);
	assert_int_equal(silent - tail, param(self, P_UNDERRUN_FRAMES));
	assert_true(param(self, P_UNDERRUNS) >= stuck_underruns);
	assert_int_equal(param(self, P_ERROR), 0);
	vd_node_file_source.free(self);
	free(got);
	free(data);
	vd_test_rmdir(dir);
}

/* ---- the real-time thread under a seccomp filter that refuses file reads and writes ---- */

#define REFUSED ENOTRECOVERABLE

static const long file_io_nrs[] = { SYS_read, SYS_readv, SYS_pread64, SYS_preadv, SYS_preadv2,
				    SYS_lseek, SYS_write, SYS_writev, SYS_pwrite64, SYS_pwritev,
				    SYS_pwritev2 };

static struct vd_graph *graph_of(const char *in, const char *out, bool live)
{
	struct pbuf bi = { 0 }, bo = { 0 };
	struct vd_error err = { 0 };
	struct vd_graph *g;

	assert_int_equal(vd_graph_new(&g), 0);
	vd_graph_set_live(g, live);
	prop_str(&bi, "path", in);
	prop_ident(&bi, "loop", "true");
	prop_str(&bo, "path", out);
	struct vd_graph_node_desc di = { .name = "in", .type = "file-source", .props = props_of(&bi),
					 .period = 480, .rate = 48000 };
	struct vd_graph_node_desc dout = { .name = "out", .type = "file-sink", .props = props_of(&bo),
					   .period = 480, .rate = 48000 };
	if (vd_graph_add_node(g, &di, &err) < 0 || vd_graph_add_node(g, &dout, &err) < 0 ||
	    vd_graph_link(g, "in", NULL, "out", NULL, NULL, &err) < 0 || vd_graph_prepare(g, &err) < 0)
		fail_msg("graph: %s", err.msg);
	return g;
}

/* A live graph (looping file-source -> file-sink) run by the real-time scheduler from a thread
 * whose seccomp filter refuses read(), readv(), pread*(), lseek() and the write family; the
 * scheduler's thread inherits it, the reader and writer threads (created earlier, by prepare)
 * do not. The same graph without VD_NODE_INIT_LIVE reads from process() and fails there. */
static void test_rt_cycle_never_reads(void **state)
{
	char *dir = vd_test_tmpdir(), in[512], out[512];
	const uint32_t len = 4801;	/* 0.1 s: looped about seven times in the 0.7 s run */
	int32_t *data = malloc(len * 2 * sizeof(int32_t));

	for (uint32_t i = 0; i < len * 2; i++)
		data[i] = (int32_t)(rnd() << 16);
	snprintf(in, sizeof(in), "%s/in.wav", dir);
	snprintf(out, sizeof(out), "%s/out.wav", dir);
	write_wav(in, 48000, 2, SF_FORMAT_PCM_16, data, len);

	for (int live = 1; live >= 0; live--) {
		struct vd_test_rt_run r;
		struct vd_graph *g = graph_of(in, out, live);

		vd_test_rt_run_denied(g, file_io_nrs, sizeof(file_io_nrs) / sizeof(file_io_nrs[0]), REFUSED, 700, &r);
		assert_int_equal(r.filter, 0);
		/* the filter is in force on that thread */
		assert_int_equal(r.probe, -1);
		assert_int_equal(r.probe_errno, REFUSED);
		assert_int_equal(r.start, 0);
		if (!live) {
			/* the offline source's sf_read failed inside the first cycle, which ended the run */
			assert_int_equal(r.cycles, 1);
			assert_int_equal(r.error, -EIO);
			vd_graph_free(g);
			continue;
		}
		if (r.cycles < 20)
			fail_msg("live graph: %lu cycles in 0.7 s (error %d)", (unsigned long)r.cycles,
				 r.error);
		assert_int_equal(r.error, 0);
		double underruns = -1, frames = -1;
		assert_int_equal(vd_graph_get_param(g, "in", "underruns", &underruns), 0);
		assert_int_equal(vd_graph_get_param(g, "out", "frames", &frames), 0);
		/* prepare's first fill (2.7 s) covers the run: not one short cycle */
		assert_true(underruns == 0);
		vd_graph_free(g);

		SF_INFO info = { 0 };
		SNDFILE *sf = sf_open(out, SFM_READ, &info);
		assert_non_null(sf);
		assert_true(info.frames >= 20 * 480);
		int32_t *back = malloc((size_t)info.frames * 2 * sizeof(int32_t));
		assert_int_equal(sf_readf_int(sf, back, info.frames), info.frames);
		sf_close(sf);
		for (sf_count_t i = 0; i < info.frames * 2; i++)
			if (back[i] != data[i % (len * 2)])
				fail_msg("sample %ld: %d, expected %d", (long)i, back[i], data[i % (len * 2)]);
		free(back);
	}
	free(data);
	vd_test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_through_reader),
		cmocka_unit_test(test_loop_through_reader),
		cmocka_unit_test(test_underrun_counted),
		cmocka_unit_test(test_rt_cycle_never_reads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
