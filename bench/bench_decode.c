/* bench/bench_decode.c - decode throughput: through tasks, the libraries called directly, the reference CLIs.
 *
 * Makes a test file per codec (30 s of 44.1 kHz stereo tones and noise,
 * encoded with flac, lame, oggenc, opusenc), then for each codec times
 *  - "tasks":  the "decode" accelerator in-process, 64 KiB input tasks, one
 *              in flight, the output read where it lies (the mmap);
 *  - "direct": the library alone, whole file in memory, the same output
 *              format (libFLAC stream decoder, mpg123 feed, vorbisfile
 *              ov_read_float, libogg + libopus float);
 *  - "cli":    the reference decoder program (flac -d, mpg123, oggdec,
 *              opusdec) writing to /dev/null: its CPU time as a child.
 * CPU time (process, or children's), best of N runs; figures in seconds
 * of CPU per second of audio and as ratios to "direct". Usage:
 *   bench_decode [runs] [task_kib]
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <FLAC/stream_decoder.h>
#include <mpg123.h>
#include <ogg/ogg.h>
#include <opus/opus_multistream.h>
#include <sndfile.h>
#include <vorbis/vorbisfile.h>

#include <virtdsp/accel.h>

#define SECONDS 30
#define RATE 44100

struct blob {
	uint8_t *p;
	size_t n;
};

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double children_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_CHILDREN, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

static int run(const char *cmd)
{
	int r = system(cmd);

	return r == 0 ? 0 : -1;
}

static struct blob slurp(const char *path)
{
	struct blob b = { 0 };
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return b;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b.p = malloc((size_t)n);
	b.n = fread(b.p, 1, (size_t)n, f);
	fclose(f);
	return b;
}

static int make_wav(const char *path)
{
	SF_INFO info = { .samplerate = RATE, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16 };
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	size_t n = (size_t)SECONDS * RATE;
	short *buf = malloc(n * 4);
	uint32_t seed = 1;

	if (!sf || !buf)
		return -1;
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < 2; c++) {
			double t = (double)i / RATE;
			seed = seed * 1664525u + 1013904223u;
			buf[2 * i + c] = (short)lrint(9000 * sin(2 * M_PI * (220 + 110 * c) * t) +
						      4000 * sin(2 * M_PI * 2500 * t * (1 + 0.1 * sin(t))) +
						      (double)(int)(seed >> 21) - 1024);
		}
	sf_write_short(sf, buf, (sf_count_t)n * 2);
	sf_close(sf);
	free(buf);
	return 0;
}

/* ---- through tasks ---- */

static double via_tasks(uint32_t codec, enum vd_sample_format fmt, struct blob in, size_t frag, size_t *out_bytes)
{
	struct vd_accel *s = NULL;
	struct vd_accel_params p = { .codec = codec, .fragment_size = (uint32_t)frag, .fragments = 1 };
	struct vd_accel_task t = { 0 };
	struct stat st;
	uint8_t *inm, *outm;
	size_t off = 0, total = 0, out_len;
	uint64_t seqno;
	bool used = false;
	uint32_t flags = 0;
	double t0;

	p.out.format = fmt;
	if (vd_accel_open(NULL, "decode", &s) < 0 || vd_accel_set_params(s, &p) < 0 || vd_accel_task_create(s, &t) < 0)
		return -1;
	fstat(t.output_fd, &st);
	out_len = (size_t)st.st_size;
	inm = mmap(NULL, frag, PROT_READ | PROT_WRITE, MAP_SHARED, t.input_fd, 0);
	outm = mmap(NULL, out_len, PROT_READ, MAP_SHARED, t.output_fd, 0);
	seqno = t.seqno;
	t0 = cpu_now();
	while (off < in.n || (flags & VD_ACCEL_OUT_MORE_PENDING)) {
		struct vd_accel_task ts = { 0 };
		struct vd_accel_task_status status = { 0 };
		size_t k = (flags & VD_ACCEL_OUT_MORE_PENDING) ? 0 : in.n - off < frag ? in.n - off : frag;

		memcpy(inm, in.p + off, k);
		off += k;
		ts.input_size = k;
		ts.flags = off == in.n ? VD_ACCEL_TASK_END_OF_STREAM : 0;
		if (used)
			ts.origin_seqno = seqno;
		else
			ts.seqno = seqno;
		if (vd_accel_task_start(s, &ts) < 0)
			return -1;
		seqno = ts.seqno;
		used = true;
		vd_accel_wait(s, POLLIN, -1);
		status.seqno = seqno;
		vd_accel_task_status(s, &status);
		/* The PCM is the client's where it lies (mmap), as the direct path's is in its buffer. */
		total += status.output_size;
		flags = status.output_flags;
	}
	t0 = cpu_now() - t0;
	munmap(inm, frag);
	munmap(outm, out_len);
	close(t.input_fd);
	close(t.output_fd);
	vd_accel_close(s);
	*out_bytes = total;
	return t0;
}

/* ---- the libraries alone ---- */

struct mem {
	const uint8_t *p;
	size_t n, off;
	int16_t *pcm;
	size_t pcm_cap;
	size_t total;
};

static FLAC__StreamDecoderReadStatus fl_read(const FLAC__StreamDecoder *d, FLAC__byte *buf, size_t *bytes, void *data)
{
	struct mem *m = data;
	size_t k = m->n - m->off < *bytes ? m->n - m->off : *bytes;

	memcpy(buf, m->p + m->off, k);
	m->off += k;
	*bytes = k;
	return k ? FLAC__STREAM_DECODER_READ_STATUS_CONTINUE : FLAC__STREAM_DECODER_READ_STATUS_END_OF_STREAM;
}

static FLAC__StreamDecoderWriteStatus fl_write(const FLAC__StreamDecoder *d, const FLAC__Frame *fr,
					       const FLAC__int32 *const buf[], void *data)
{
	struct mem *m = data;
	uint32_t n = fr->header.blocksize, ch = fr->header.channels;

	if ((size_t)n * ch > m->pcm_cap) {
		m->pcm_cap = (size_t)n * ch;
		m->pcm = realloc(m->pcm, m->pcm_cap * 2);
	}
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t c = 0; c < ch; c++)
			m->pcm[i * ch + c] = (int16_t)buf[c][i];
	m->total += (size_t)n * ch * 2;
	return FLAC__STREAM_DECODER_WRITE_STATUS_CONTINUE;
}

static void fl_error(const FLAC__StreamDecoder *d, FLAC__StreamDecoderErrorStatus st, void *data)
{
}

static double direct_flac(struct blob in, size_t *out)
{
	struct mem m = { .p = in.p, .n = in.n };
	FLAC__StreamDecoder *d = FLAC__stream_decoder_new();
	double t0 = cpu_now();

	FLAC__stream_decoder_init_stream(d, fl_read, NULL, NULL, NULL, NULL, fl_write, NULL, fl_error, &m);
	FLAC__stream_decoder_process_until_end_of_stream(d);
	t0 = cpu_now() - t0;
	FLAC__stream_decoder_delete(d);
	free(m.pcm);
	*out = m.total;
	return t0;
}

static double direct_mp3(struct blob in, size_t *out)
{
	mpg123_handle *mh = mpg123_new(NULL, NULL);
	const long *rates;
	size_t nr, total = 0;
	double t0 = cpu_now();

	mpg123_param(mh, MPG123_ADD_FLAGS, MPG123_QUIET, 0);
	mpg123_format_none(mh);
	mpg123_rates(&rates, &nr);
	for (size_t i = 0; i < nr; i++)
		mpg123_format(mh, rates[i], MPG123_MONO | MPG123_STEREO, MPG123_ENC_SIGNED_16);
	mpg123_open_feed(mh);
	mpg123_feed(mh, in.p, in.n);
	for (;;) {
		unsigned char *audio;
		size_t bytes;
		off_t num;
		int r = mpg123_decode_frame(mh, &num, &audio, &bytes);
		if (r == MPG123_OK)
			total += bytes;
		else if (r != MPG123_NEW_FORMAT)
			break;
	}
	t0 = cpu_now() - t0;
	mpg123_delete(mh);
	*out = total;
	return t0;
}

static size_t ov_readf(void *ptr, size_t size, size_t nmemb, void *src)
{
	struct mem *m = src;
	size_t k = size * nmemb, left = m->n - m->off;

	if (k > left)
		k = left;
	memcpy(ptr, m->p + m->off, k);
	m->off += k;
	return size ? k / size : 0;
}

static double direct_vorbis(struct blob in, size_t *out)
{
	struct mem m = { .p = in.p, .n = in.n };
	ov_callbacks cb = { .read_func = ov_readf };
	OggVorbis_File vf;
	float *buf = malloc(4096 * 2 * sizeof(float));
	size_t total = 0;
	double t0 = cpu_now();
	int link;

	if (ov_open_callbacks(&m, &vf, NULL, 0, cb) < 0)
		return -1;
	for (;;) {
		float **pcm;
		long n = ov_read_float(&vf, &pcm, 4096, &link);
		if (n <= 0)
			break;
		for (long i = 0; i < n; i++)	/* interleave, as a client of ov_read_float would */
			for (int c = 0; c < 2; c++)
				buf[i * 2 + c] = pcm[c][i];
		total += (size_t)n * 8;
	}
	t0 = cpu_now() - t0;
	ov_clear(&vf);
	free(buf);
	*out = total;
	return t0;
}

static double direct_opus(struct blob in, size_t *out)
{
	ogg_sync_state oy;
	ogg_stream_state os;
	ogg_page pg;
	ogg_packet op;
	OpusMSDecoder *st = NULL;
	float *pcm = malloc(5760 * 2 * sizeof(float));
	unsigned char map[2] = { 0, 1 };
	int packets = 0, err;
	size_t total = 0;
	double t0 = cpu_now();

	ogg_sync_init(&oy);
	memcpy(ogg_sync_buffer(&oy, (long)in.n), in.p, in.n);
	ogg_sync_wrote(&oy, (long)in.n);
	while (ogg_sync_pageout(&oy, &pg) == 1) {
		if (ogg_page_bos(&pg))
			ogg_stream_init(&os, ogg_page_serialno(&pg));
		ogg_stream_pagein(&os, &pg);
		while (ogg_stream_packetout(&os, &op) == 1) {
			if (packets++ == 0) {
				st = opus_multistream_decoder_create(48000, op.packet[9], 1, op.packet[9] - 1, map, &err);
				continue;
			}
			if (packets == 2)
				continue;
			int n = opus_multistream_decode_float(st, op.packet, (opus_int32)op.bytes, pcm, 5760, 0);
			if (n > 0)
				total += (size_t)n * 8;
		}
	}
	t0 = cpu_now() - t0;
	opus_multistream_decoder_destroy(st);
	ogg_stream_clear(&os);
	ogg_sync_clear(&oy);
	free(pcm);
	*out = total;
	return t0;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 5;
	size_t frag = (argc > 2 ? (size_t)atoi(argv[2]) : 64) << 10;
	char dir[] = "/tmp/vd-bench-decode-XXXXXX", cmd[1024], path[512];
	struct {
		const char *name, *ext, *enc, *cli;
		uint32_t codec;
		enum vd_sample_format fmt;
		double (*direct)(struct blob, size_t *);
	} c[] = {
		{ "FLAC", "flac", "flac -s -f -o %s/t.flac %s/t.wav",
		  "flac -s -d -f --force-raw-format --endian=little --sign=signed -o /dev/null %s/t.flac",
		  VD_ACCEL_CODEC_FLAC, VD_FORMAT_S16, direct_flac },
		{ "MP3", "mp3", "lame --quiet %s/t.wav %s/t.mp3", "mpg123 -q -s -e s16 %s/t.mp3 > /dev/null",
		  VD_ACCEL_CODEC_MP3, VD_FORMAT_S16, direct_mp3 },
		{ "Vorbis", "ogg", "oggenc -Q -o %s/t.ogg %s/t.wav", "oggdec -Q -R -o /dev/null %s/t.ogg",
		  VD_ACCEL_CODEC_VORBIS, VD_FORMAT_F32, direct_vorbis },
		{ "Opus", "opus", "opusenc --quiet %s/t.wav %s/t.opus",
		  "opusdec --quiet --rate 48000 --float %s/t.opus /dev/null",
		  VD_ACCEL_CODEC_OPUS, VD_FORMAT_F32, direct_opus },
	};

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/t.wav", dir);
	if (make_wav(path) < 0)
		return 1;
	printf("decode: %d s of 44.1 kHz stereo, best of %d, CPU ms (and x realtime); tasks of %zu KiB, one in flight\n",
	       SECONDS, runs, frag >> 10);
	printf("%-7s %10s %10s %10s %10s %14s %12s\n", "codec", "file KiB", "direct", "tasks", "cli", "tasks/direct",
	       "cli/direct");
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		double best_d = 1e9, best_t = 1e9, best_c = 1e9;
		size_t out_d = 0, out_t = 0;
		struct blob in;

		if (!strcmp(c[i].ext, "flac") || !strcmp(c[i].ext, "ogg"))
			snprintf(cmd, sizeof(cmd), c[i].enc, dir, dir);
		else
			snprintf(cmd, sizeof(cmd), c[i].enc, dir, dir);
		if (run(cmd) < 0) {
			printf("%-7s encoder missing (%s)\n", c[i].name, cmd);
			continue;
		}
		snprintf(path, sizeof(path), "%s/t.%s", dir, c[i].ext);
		in = slurp(path);
		for (int r = 0; r < runs; r++) {
			double t = c[i].direct(in, &out_d), u, v;
			if (t >= 0 && t < best_d)
				best_d = t;
			u = via_tasks(c[i].codec, c[i].fmt, in, frag, &out_t);
			if (u >= 0 && u < best_t)
				best_t = u;
			snprintf(cmd, sizeof(cmd), c[i].cli, dir);
			v = children_cpu();
			if (run(cmd) == 0 && children_cpu() - v < best_c)
				best_c = children_cpu() - v;
		}
		printf("%-7s %10zu %6.1f (%3.0fx) %5.1f (%3.0fx) %5.1f (%3.0fx) %11.3f %12.3f\n", c[i].name, in.n >> 10,
		       best_d * 1e3, SECONDS / best_d, best_t * 1e3, SECONDS / best_t, best_c * 1e3, SECONDS / best_c,
		       best_t / best_d, best_c / best_d);
		if (out_t != out_d)
			printf("        (output bytes differ: tasks %zu, direct %zu: gapless trim and pre-skip)\n", out_t,
			       out_d);
		free(in.p);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	run(cmd);
	return 0;
}
