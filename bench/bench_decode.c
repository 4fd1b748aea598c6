/* bench/bench_decode.c - decode throughput: through tasks, the libraries called directly, the reference CLIs.
 *
 * Makes a test file per codec (30 s of 44.1 kHz stereo tones and noise,
 * encoded with flac, lame, oggenc, opusenc), then for each codec times
 *  - "direct": the library alone, whole file in memory, producing the same
 *              PCM as the task path (libFLAC stream decoder interleaving to
 *              S16, mpg123 feed to S16, vorbisfile ov_read_float interleaved
 *              to F32, libogg + libopus float with the pre-skip and end
 *              trimmed), into a small reused buffer;
 *  - "direct as N": the same, but each N KiB task's worth of PCM laid out
 *              contiguously in a buffer of that size, as a task client gets
 *              it (so the same memory traffic, without the task API);
 *  - "tasks":  the "decode" accelerator in-process, one task in flight, for
 *              each task size asked for; the client copies the input into
 *              the task's buffer and takes the output where it lies (mmap);
 *  - "cli":    the reference decoder program (flac -d, mpg123, oggdec,
 *              opusdec) writing to /dev/null: its CPU time as a child.
 * An untimed first pass checks that direct and task outputs are
 * bit-identical (hash and length). Then each run times every variant once,
 * in an order that rotates from run to run; figures are CPU ms (process,
 * or children's), median and range over the runs, and the ratios
 * tasks/direct, tasks/"direct as N" and "direct as N"/direct as the median
 * (and range) of the per-run ratios. Usage:
 *   bench_decode [--whole] [runs] [task_kib[,task_kib...]]     (default: 7 4,16,64)
 * --whole: "direct as N" lays out the PCM of each N KiB of input in one
 * piece even where a task returns it in several (its output buffer is
 * smaller): what asking for that much PCM per call costs.
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
#define MAX_SIZES 8
#define MAX_RUNS 64

struct blob {
	uint8_t *p;
	size_t n;
};

/* What a decode produced: its length and (when asked, untimed) an FNV-1a hash. */
struct sink {
	size_t bytes;
	bool hashing;
	uint64_t hash;
};

static void sink_add(struct sink *k, const void *p, size_t n)
{
	const uint8_t *b = p;

	k->bytes += n;
	if (!k->hashing)
		return;
	for (size_t i = 0; i < n; i++)
		k->hash = (k->hash ^ b[i]) * 0x100000001b3ull;
}

static struct sink sink_new(bool hashing)
{
	return (struct sink){ .hashing = hashing, .hash = 0xcbf29ce484222325ull };
}

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

/*
 * Where a direct path writes its PCM. Without a buffer: into its own small
 * reused one (one block or frame), which stays in the cache. With one: as a
 * task client gets it, each task's worth of PCM laid out contiguously from
 * the start of a buffer as large as that, starting over for the next.
 */
struct layout {
	uint8_t *buf;
	size_t piece;		/* PCM bytes of one task: file PCM x task size / file size */
	size_t cap;		/* piece plus the largest block */
	size_t used;
};

/* Room for a block of at most @max bytes: @small, or the next place in the laid-out buffer. */
static void *room(struct layout *o, size_t max, void *small)
{
	if (!o)
		return small;
	if (o->used && o->used + max > o->piece)
		o->used = 0;	/* the next task's output */
	return o->used + max <= o->cap ? o->buf + o->used : small;
}

static void commit(struct layout *o, const void *p, size_t n)
{
	if (o && p == o->buf + o->used)
		o->used += n;
}

/* ---- through tasks ---- */

/* @out_buf (may be NULL): the size of the task's output buffer. */
static double via_tasks(uint32_t codec, enum vd_sample_format fmt, struct blob in, size_t frag, struct sink *k,
			size_t *out_buf)
{
	struct vd_accel *s = NULL;
	struct vd_accel_params p = { .codec = codec, .fragment_size = (uint32_t)frag, .fragments = 1 };
	struct vd_accel_task t = { 0 };
	struct stat st;
	uint8_t *inm, *outm;
	size_t off = 0, out_len;
	uint64_t seqno;
	bool used = false;
	uint32_t flags = 0;
	double t0;

	p.out.format = fmt;
	if (vd_accel_open(NULL, "decode", &s) < 0 || vd_accel_set_params(s, &p) < 0 || vd_accel_task_create(s, &t) < 0)
		return -1;
	fstat(t.output_fd, &st);
	out_len = (size_t)st.st_size;
	if (out_buf)
		*out_buf = out_len;
	inm = mmap(NULL, frag, PROT_READ | PROT_WRITE, MAP_SHARED, t.input_fd, 0);
	outm = mmap(NULL, out_len, PROT_READ, MAP_SHARED, t.output_fd, 0);
	if (inm == MAP_FAILED || outm == MAP_FAILED)
		return -1;
	seqno = t.seqno;
	t0 = cpu_now();
	while (off < in.n || (flags & VD_ACCEL_OUT_MORE_PENDING)) {
		struct vd_accel_task ts = { 0 };
		struct vd_accel_task_status status = { 0 };
		size_t n = (flags & VD_ACCEL_OUT_MORE_PENDING) ? 0 : in.n - off < frag ? in.n - off : frag;

		memcpy(inm, in.p + off, n);
		off += n;
		ts.input_size = n;
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
		sink_add(k, outm, status.output_size);
		flags = status.output_flags;
	}
	t0 = cpu_now() - t0;
	munmap(inm, frag);
	munmap(outm, out_len);
	close(t.input_fd);
	close(t.output_fd);
	vd_accel_close(s);
	return t0;
}

/* ---- the libraries alone ---- */

struct mem {
	const uint8_t *p;
	size_t n, off;
	int16_t *pcm;
	size_t pcm_cap;
	struct sink *k;
	struct layout *lay;
};

static FLAC__StreamDecoderReadStatus fl_read(const FLAC__StreamDecoder *d, FLAC__byte *buf, size_t *bytes, void *data)
{
	struct mem *m = data;
	size_t n = m->n - m->off < *bytes ? m->n - m->off : *bytes;

	memcpy(buf, m->p + m->off, n);
	m->off += n;
	*bytes = n;
	return n ? FLAC__STREAM_DECODER_READ_STATUS_CONTINUE : FLAC__STREAM_DECODER_READ_STATUS_END_OF_STREAM;
}

static FLAC__StreamDecoderWriteStatus fl_write(const FLAC__StreamDecoder *d, const FLAC__Frame *fr,
					       const FLAC__int32 *const buf[], void *data)
{
	struct mem *m = data;
	uint32_t n = fr->header.blocksize, ch = fr->header.channels;

	int16_t *o;

	if ((size_t)n * ch > m->pcm_cap) {
		m->pcm_cap = (size_t)n * ch;
		m->pcm = realloc(m->pcm, m->pcm_cap * 2);
	}
	o = room(m->lay, (size_t)n * ch * 2, m->pcm);
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t c = 0; c < ch; c++)
			o[i * ch + c] = (int16_t)buf[c][i];
	commit(m->lay, o, (size_t)n * ch * 2);
	sink_add(m->k, o, (size_t)n * ch * 2);
	return FLAC__STREAM_DECODER_WRITE_STATUS_CONTINUE;
}

static void fl_error(const FLAC__StreamDecoder *d, FLAC__StreamDecoderErrorStatus st, void *data)
{
}

static double direct_flac(struct blob in, struct sink *k, struct layout *lay)
{
	struct mem m = { .p = in.p, .n = in.n, .k = k, .lay = lay };
	FLAC__StreamDecoder *d = FLAC__stream_decoder_new();
	double t0 = cpu_now();

	FLAC__stream_decoder_init_stream(d, fl_read, NULL, NULL, NULL, NULL, fl_write, NULL, fl_error, &m);
	FLAC__stream_decoder_process_until_end_of_stream(d);
	t0 = cpu_now() - t0;
	FLAC__stream_decoder_delete(d);
	free(m.pcm);
	return t0;
}

static double direct_mp3(struct blob in, struct sink *k, struct layout *lay)
{
	mpg123_handle *mh = mpg123_new(NULL, NULL);
	const long *rates;
	size_t nr;
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
		size_t bytes, most = mpg123_outblock(mh);
		off_t num;
		int r;

		/* Laid out: mpg123 synthesises into the buffer, as the task's core does into the task. */
		if (lay && room(lay, most, NULL))
			mpg123_replace_buffer(mh, room(lay, most, NULL), most);
		r = mpg123_decode_frame(mh, &num, &audio, &bytes);
		if (r == MPG123_OK) {
			commit(lay, audio, bytes);
			sink_add(k, audio, bytes);
		} else if (r != MPG123_NEW_FORMAT) {
			break;
		}
	}
	t0 = cpu_now() - t0;
	mpg123_delete(mh);
	return t0;
}

static size_t ov_readf(void *ptr, size_t size, size_t nmemb, void *src)
{
	struct mem *m = src;
	size_t n = size * nmemb, left = m->n - m->off;

	if (n > left)
		n = left;
	memcpy(ptr, m->p + m->off, n);
	m->off += n;
	return size ? n / size : 0;
}

static double direct_vorbis(struct blob in, struct sink *k, struct layout *lay)
{
	struct mem m = { .p = in.p, .n = in.n };
	ov_callbacks cb = { .read_func = ov_readf };
	OggVorbis_File vf;
	float *buf = malloc(4096 * 2 * sizeof(float));
	double t0 = cpu_now();
	int link;

	if (ov_open_callbacks(&m, &vf, NULL, 0, cb) < 0)
		return -1;
	for (;;) {
		float **pcm, *o;
		long n = ov_read_float(&vf, &pcm, 4096, &link);
		if (n <= 0)
			break;
		o = room(lay, (size_t)n * 8, buf);
		for (long i = 0; i < n; i++)	/* interleave, as a client of ov_read_float would */
			for (int c = 0; c < 2; c++)
				o[i * 2 + c] = pcm[c][i];
		commit(lay, o, (size_t)n * 8);
		sink_add(k, o, (size_t)n * 8);
	}
	t0 = cpu_now() - t0;
	ov_clear(&vf);
	free(buf);
	return t0;
}

/* RFC 7845 as opusdec applies it: header gain, pre-skip dropped, the end trimmed to the last granule. */
static double direct_opus(struct blob in, struct sink *k, struct layout *lay)
{
	ogg_sync_state oy;
	ogg_stream_state os;
	ogg_page pg;
	ogg_packet op;
	OpusMSDecoder *st = NULL;
	float *pcm = malloc(5760 * 2 * sizeof(float));
	unsigned char map[2] = { 0, 1 };
	int packets = 0, err, ch = 2;
	uint32_t skip = 0;
	int64_t decoded = 0;
	double t0 = cpu_now();

	ogg_sync_init(&oy);
	memcpy(ogg_sync_buffer(&oy, (long)in.n), in.p, in.n);
	ogg_sync_wrote(&oy, (long)in.n);
	while (ogg_sync_pageout(&oy, &pg) == 1) {
		if (ogg_page_bos(&pg))
			ogg_stream_init(&os, ogg_page_serialno(&pg));
		ogg_stream_pagein(&os, &pg);
		while (ogg_stream_packetout(&os, &op) == 1) {
			int n, start;

			if (packets++ == 0) {
				ch = op.packet[9];
				skip = op.packet[10] | (uint32_t)op.packet[11] << 8;
				st = opus_multistream_decoder_create(48000, ch, 1, ch - 1, map, &err);
				opus_multistream_decoder_ctl(st, OPUS_SET_GAIN((int16_t)(op.packet[16] | op.packet[17] << 8)));
				continue;
			}
			if (packets == 2)
				continue;
			float *o = room(lay, 5760 * sizeof(float) * (size_t)ch, pcm);

			n = opus_multistream_decode_float(st, op.packet, (opus_int32)op.bytes, o, 5760, 0);
			if (n <= 0)
				continue;
			decoded += n;
			if (op.e_o_s && op.granulepos >= 0 && decoded > op.granulepos)
				n = decoded - op.granulepos >= n ? 0 : n - (int)(decoded - op.granulepos);
			start = (uint32_t)n < skip ? n : (int)skip;
			skip -= (uint32_t)start;
			if (start && o != pcm)	/* the pre-skip: only the first packet or so */
				memmove(o, o + (size_t)start * ch, (size_t)(n - start) * ch * sizeof(float));
			else
				o += (size_t)start * ch;
			commit(lay, o, (size_t)(n - start) * ch * sizeof(float));
			sink_add(k, o, (size_t)(n - start) * ch * sizeof(float));
		}
	}
	t0 = cpu_now() - t0;
	opus_multistream_decoder_destroy(st);
	ogg_stream_clear(&os);
	ogg_sync_clear(&oy);
	free(pcm);
	return t0;
}

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct spread {
	double med, min, max;
};

static struct spread spread_of(const double *v, int n)
{
	double s[MAX_RUNS];

	memcpy(s, v, sizeof(*v) * (size_t)n);
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return (struct spread){ n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2, s[0], s[n - 1] };
}

/* One table of ratios: a column per task size from @first (and cli after them when @cli). */
static void print_ratios(const char *title, const char *col, const size_t *frag, int nsizes, const char *const *names,
			 const bool *have, struct spread (*ratio)[2 * MAX_SIZES + 1], int first, bool cli)
{
	printf("\n%s\n%-7s", title, "codec");
	for (int j = 0; j < nsizes; j++) {
		char h[32];
		snprintf(h, sizeof(h), "%s %zu KiB", col, frag[j] >> 10);
		printf(" %-22s", h);
	}
	printf(cli ? " cli\n" : "\n");
	for (int i = 0; i < 4; i++) {
		if (!have[i])
			continue;
		printf("%-7s", names[i]);
		for (int j = 0; j < nsizes; j++) {
			struct spread sp = ratio[i][first + j];
			char cell[64];
			snprintf(cell, sizeof(cell), "%.3f [%.3f..%.3f]", sp.med, sp.min, sp.max);
			printf(" %-22s", cell);
		}
		if (cli) {
			struct spread sp = ratio[i][2 * nsizes];
			printf(" %.3f [%.3f..%.3f]", sp.med, sp.min, sp.max);
		}
		printf("\n");
	}
}

int main(int argc, char **argv)
{
	/* --whole: "direct as N" lays out all the PCM of N KiB of input, even where a task returns less. */
	bool whole = argc > 1 && strcmp(argv[1], "--whole") == 0;
	int runs = (argc -= whole, argv += whole, argc > 1 ? atoi(argv[1]) : 7);
	size_t frag[MAX_SIZES];
	int nsizes = 0;
	char dir[] = "/tmp/vd-bench-decode-XXXXXX", cmd[1024], path[512];
	const char *list = argc > 2 ? argv[2] : "4,16,64";
	double load[2][3] = { { 0 } };
	struct {
		const char *name, *ext, *enc, *cli;
		uint32_t codec;
		enum vd_sample_format fmt;
		double (*direct)(struct blob, struct sink *, struct layout *);
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
	struct spread ratio[4][2 * MAX_SIZES + 1], ratio_laid[4][2 * MAX_SIZES + 1];
	const char *c_names[4];
	bool have[4] = { false };

	for (size_t i = 0; i < 4; i++)
		c_names[i] = c[i].name;
	for (const char *q = list; *q && nsizes < MAX_SIZES; nsizes++) {
		char *e;
		long kib = strtol(q, &e, 10);
		if (e == q || kib < 1 || kib > 16384) {
			fprintf(stderr, "usage: bench_decode [--whole] [runs] [task_kib[,task_kib...]] (1..16384 KiB)\n");
			return 2;
		}
		frag[nsizes] = (size_t)kib << 10;
		q = *e == ',' ? e + 1 : e;
	}
	if (runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "bench_decode: runs must be 1..%d\n", MAX_RUNS);
		return 2;
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/t.wav", dir);
	if (make_wav(path) < 0)
		return 1;
	getloadavg(load[0], 3);
	printf("decode: %d s of 44.1 kHz stereo; %d runs, each timing every variant once in a rotating order;\n"
	       "CPU ms: median [min..max]; tasks: one in flight; \"as N\": direct, PCM laid out as N KiB tasks get it%s;\n"
	       "load average %.1f\n\n", SECONDS, runs, whole ? " (--whole: all of N KiB's PCM at once)" : "", load[0][0]);
	printf("%-7s %8s %-19s", "codec", "file KiB", "direct");
	for (int i = 0; i < nsizes; i++) {
		char h[32];
		snprintf(h, sizeof(h), "tasks %zu KiB", frag[i] >> 10);
		printf(" %-19s", h);
	}
	for (int i = 0; i < nsizes; i++) {
		char h[32];
		snprintf(h, sizeof(h), "direct as %zu", frag[i] >> 10);
		printf(" %-19s", h);
	}
	printf(" %-19s %s\n", "cli", "output");
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int nv = 2 * nsizes + 2;	/* direct, tasks per size, direct laid out per size, cli */
		double t[2 * MAX_SIZES + 2][MAX_RUNS], r[MAX_RUNS];
		struct layout lay[MAX_SIZES] = { { 0 } };
		struct sink ref = sink_new(true);
		const char *verdict = "bit-identical";
		struct blob in;

		snprintf(cmd, sizeof(cmd), c[i].enc, dir, dir);
		if (run(cmd) < 0) {
			printf("%-7s encoder missing (%s)\n", c[i].name, cmd);
			continue;
		}
		snprintf(path, sizeof(path), "%s/t.%s", dir, c[i].ext);
		in = slurp(path);
		/* Untimed: every path must produce the same PCM, or the comparison means nothing. */
		if (c[i].direct(in, &ref, NULL) < 0)
			verdict = "direct FAILED";
		for (int j = 0; j < nsizes; j++) {
			struct sink k = sink_new(true), kl = sink_new(true);
			size_t out_buf = 0;

			if (via_tasks(c[i].codec, c[i].fmt, in, frag[j], &k, &out_buf) < 0 || k.bytes != ref.bytes ||
			    k.hash != ref.hash)
				verdict = "DIFFERS";
			/* What one task returns: its input's PCM, at most its output buffer; the
			 * buffer faulted in beforehand, as the task's is. */
			lay[j].piece = (size_t)((double)ref.bytes * (double)frag[j] / (double)in.n) & ~(size_t)63;
			if (out_buf && lay[j].piece > out_buf && !whole)
				lay[j].piece = out_buf;
			lay[j].cap = lay[j].piece + ((size_t)256 << 10);
			lay[j].buf = malloc(lay[j].cap);
			if (!lay[j].buf)
				return 1;
			memset(lay[j].buf, 0, lay[j].cap);
			if (c[i].direct(in, &kl, &lay[j]) < 0 || kl.bytes != ref.bytes || kl.hash != ref.hash)
				verdict = "DIFFERS (laid out)";
		}
		for (int run_i = 0; run_i < runs; run_i++)
			for (int j = 0; j < nv; j++) {
				int v = (j + run_i) % nv;
				struct sink k = sink_new(false);
				double x;

				if (v == 0) {
					x = c[i].direct(in, &k, NULL);
				} else if (v <= nsizes) {
					x = via_tasks(c[i].codec, c[i].fmt, in, frag[v - 1], &k, NULL);
				} else if (v <= 2 * nsizes) {
					lay[v - nsizes - 1].used = 0;
					x = c[i].direct(in, &k, &lay[v - nsizes - 1]);
				} else {
					double before = children_cpu();
					snprintf(cmd, sizeof(cmd), c[i].cli, dir);
					x = run(cmd) == 0 ? children_cpu() - before : -1;
				}
				t[v][run_i] = x < 0 ? NAN : x * 1e3;
			}
		printf("%-7s %8zu", c[i].name, in.n >> 10);
		for (int v = 0; v < nv; v++) {
			struct spread sp = spread_of(t[v], runs);
			char cell[64];
			snprintf(cell, sizeof(cell), "%.1f [%.1f..%.1f]", sp.med, sp.min, sp.max);
			printf(" %-19s", cell);
		}
		printf(" %s (%zu bytes)\n", verdict, ref.bytes);
		for (int v = 1; v < nv; v++) {
			/* tasks and cli against direct; the laid-out direct against direct too */
			for (int run_i = 0; run_i < runs; run_i++)
				r[run_i] = t[v][run_i] / t[0][run_i];
			ratio[i][v - 1] = spread_of(r, runs);
		}
		for (int j = 0; j < nsizes; j++) {
			/* tasks against the direct path that lays its PCM out as those tasks get it */
			for (int run_i = 0; run_i < runs; run_i++)
				r[run_i] = t[1 + j][run_i] / t[1 + nsizes + j][run_i];
			ratio_laid[i][j] = spread_of(r, runs);
			free(lay[j].buf);
		}
		have[i] = true;
		free(in.p);
	}
	print_ratios("tasks / direct (small reused buffer), same run: median [min..max]", "tasks", frag, nsizes, c_names,
		     have, ratio, 0, true);
	print_ratios("tasks / direct laid out as the tasks' output (same sizes), same run", "tasks", frag, nsizes, c_names,
		     have, ratio_laid, 0, false);
	print_ratios("direct laid out as tasks / direct (what the output layout alone costs), same run", "as", frag,
		     nsizes, c_names, have, ratio, nsizes, false);
	getloadavg(load[1], 3);
	printf("\nload average at the end %.1f (2 cores); pin with taskset -c N\n", load[1][0]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	run(cmd);
	return 0;
}
