/* tests/unit/test_decode.c - the "decode" accelerator: FLAC, MP3, Vorbis and Opus on the task API.
 *
 * The inputs are made at test time: signals written with libsndfile, then
 * encoded with the Debian tools (flac, lame, oggenc, opusenc) and decoded
 * by the reference decoders (flac -d, mpg123, oggdec, opusdec) into raw
 * PCM. Our decoders must match those bit for bit, for any split of the
 * input into tasks (random, 1-byte), across NEW_STREAM files, with the
 * documented errors on damaged, truncated, foreign and garbage input, and
 * never write past a task's output buffer. docs/decoders.md explains the
 * reference options (which output formats are compared, channel order).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sndfile.h>

#include <virtdsp/accel.h>
#include <virtdsp/convert.h>

#include "analysis.h"
#include "daemon/accel_server.h"
#include "daemon/loop.h"
#include "testutil.h"

/* ---- files made once for the whole run ---- */

struct blob {
	uint8_t *p;
	size_t n;
};

enum { F_A, F_B, F_C, F_SIX, F_24, F_SINE, F_SILENCE, F_COUNT };

struct fx {
	char *dir;
	/* compressed inputs per codec, references per codec (and format) */
	struct blob flac[F_COUNT], mp3[F_COUNT], ogg[F_COUNT], opus[F_COUNT];
	struct blob ref_flac[F_COUNT];		/* flac -d: S16 (or S24_3 for F_24) */
	struct blob ref_mp3_s16[F_COUNT], ref_mp3_f32[F_COUNT], ref_mp3_s32[F_COUNT];
	struct blob ref_ogg[F_COUNT];		/* oggdec -R: S16, Vorbis channel order */
	struct blob ref_opus[F_COUNT];		/* opusdec --float --rate 48000: F32, Vorbis order */
};

static const char *const names[F_COUNT] = { "a", "b", "c", "six", "m24", "sine", "silence" };

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s;
}

/* A signal with some content: two tones per channel pair and a little noise. */
static void write_wav(const char *path, uint32_t rate, uint32_t ch, double secs, int bits, int kind)
{
	SF_INFO info = { .samplerate = (int)rate, .channels = (int)ch,
			 .format = (ch > 2 || bits == 24 ? SF_FORMAT_WAVEX : SF_FORMAT_WAV) | (bits == 24 ? SF_FORMAT_PCM_24 : SF_FORMAT_PCM_16) };
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	size_t n = (size_t)(secs * rate);
	int *buf = malloc(sizeof(int) * ch * n);
	uint32_t seed = 12345 + (uint32_t)kind;

	assert_non_null(sf);
	assert_non_null(buf);
	for (size_t i = 0; i < n; i++) {
		for (uint32_t c = 0; c < ch; c++) {
			double t = (double)i / rate, v;
			if (kind == 2)
				v = 0;
			else if (kind == 1)
				v = 0.5 * sin(2 * M_PI * 1000.0 * t);
			else
				v = 0.3 * sin(2 * M_PI * (220.0 + 110.0 * c + 37.0 * kind) * t) +
				    0.15 * sin(2 * M_PI * (3000.0 + 500.0 * c) * t + c) +
				    0.02 * ((double)(lcg(&seed) >> 8) / (1 << 24) - 0.5);
			buf[i * ch + c] = (int)lrint(v * 2147483647.0 * 0.9);
		}
	}
	assert_int_equal(sf_write_int(sf, buf, (sf_count_t)(n * ch)), (sf_count_t)(n * ch));
	sf_close(sf);
	free(buf);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	if (r != 0)
		fail_msg("command failed (%d): %s", r, cmd);
}

static struct blob slurp(const char *path)
{
	struct blob b = { 0 };
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b.p = malloc(n ? (size_t)n : 1);
	b.n = fread(b.p, 1, (size_t)n, f);
	fclose(f);
	assert_int_equal(b.n, (size_t)n);
	return b;
}

static struct blob load(struct fx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static struct blob load(struct fx *x, const char *fmt, ...)
{
	char rel[256], path[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", x->dir, rel);
	return slurp(path);
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	const char *d;
	struct { uint32_t rate, ch; double secs; int bits, kind; } spec[F_COUNT] = {
		[F_A] = { 44100, 2, 2.0, 16, 0 },
		[F_B] = { 48000, 1, 1.0, 16, 3 },
		[F_C] = { 44100, 2, 1.0, 16, 5 },
		[F_SIX] = { 48000, 6, 0.5, 16, 7 },
		[F_24] = { 96000, 1, 0.5, 24, 9 },
		[F_SINE] = { 44100, 2, 2.0, 16, 1 },
		[F_SILENCE] = { 44100, 2, 30.0, 16, 2 },
	};

	x->dir = vd_test_tmpdir();
	d = x->dir;
	for (int i = 0; i < F_COUNT; i++) {
		char wav[512];
		const char *n = names[i];

		snprintf(wav, sizeof(wav), "%s/%s.wav", d, n);
		write_wav(wav, spec[i].rate, spec[i].ch, spec[i].secs, spec[i].bits, spec[i].kind);
		sh("flac -s -f -o %s/%s.flac %s", d, n, wav);
		sh("flac -s -d -f --force-raw-format --endian=little --sign=signed -o %s/%s.flac.raw %s/%s.flac",
		   d, n, d, n);
		x->flac[i] = load(x, "%s.flac", n);
		x->ref_flac[i] = load(x, "%s.flac.raw", n);
		if (i == F_24 || i == F_SILENCE || i == F_SINE)
			continue;
		if (i != F_SIX) {
			sh("lame --quiet %s %s/%s.mp3", wav, d, n);
			sh("mpg123 -q -s -e s16 %s/%s.mp3 > %s/%s.mp3.s16", d, n, d, n);
			sh("mpg123 -q -s -e f32 %s/%s.mp3 > %s/%s.mp3.f32", d, n, d, n);
			sh("mpg123 -q -s -e s32 %s/%s.mp3 > %s/%s.mp3.s32", d, n, d, n);
			x->mp3[i] = load(x, "%s.mp3", n);
			x->ref_mp3_s16[i] = load(x, "%s.mp3.s16", n);
			x->ref_mp3_f32[i] = load(x, "%s.mp3.f32", n);
			x->ref_mp3_s32[i] = load(x, "%s.mp3.s32", n);
		}
		sh("oggenc -Q -o %s/%s.ogg %s", d, n, wav);
		sh("oggdec -Q -R -o %s/%s.ogg.raw %s/%s.ogg", d, n, d, n);
		/* opusenc's pages hold up to 1 s by default; "a" has 100 ms pages, so damage and cuts lose less. */
		sh("opusenc --quiet %s %s %s/%s.opus", i == F_A ? "--max-delay 100" : "", wav, d, n);
		sh("opusdec --quiet --rate 48000 --float %s/%s.opus %s/%s.opus.raw", d, n, d, n);
		x->ogg[i] = load(x, "%s.ogg", n);
		x->ref_ogg[i] = load(x, "%s.ogg.raw", n);
		x->opus[i] = load(x, "%s.opus", n);
		x->ref_opus[i] = load(x, "%s.opus.raw", n);
	}
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	struct blob *all[10];

	if (!x)
		return 0;
	struct blob *all2[] = { x->flac, x->mp3, x->ogg, x->opus, x->ref_flac, x->ref_mp3_s16, x->ref_mp3_f32,
			       x->ref_mp3_s32, x->ref_ogg, x->ref_opus };

	memcpy(all, all2, sizeof(all));
	for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++)
		for (int i = 0; i < F_COUNT; i++)
			free(all[k][i].p);
	vd_test_rmdir(x->dir);
	free(x);
	return 0;
}

/* ---- driving a session ---- */

struct piece {
	const uint8_t *p;
	size_t n;
	uint32_t flags;
};

struct pieces {
	struct piece *v;
	size_t n, cap;
};

static void add(struct pieces *ps, const uint8_t *p, size_t n, uint32_t flags)
{
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 64;
		ps->v = realloc(ps->v, ps->cap * sizeof(*ps->v));
		assert_non_null(ps->v);
	}
	ps->v[ps->n++] = (struct piece){ p, n, flags };
}

/* @b in chunks of @frag bytes; first flags on the first chunk, last flags on the last. */
static void split_fixed(struct pieces *ps, struct blob b, size_t frag, uint32_t first, uint32_t last)
{
	size_t off = 0;

	do {
		size_t k = b.n - off < frag ? b.n - off : frag;
		uint32_t f = (off == 0 ? first : 0) | (off + k == b.n ? last : 0);
		add(ps, b.p + off, k, f);
		off += k;
	} while (off < b.n);
}

/* Random sizes 1..@max with runs of 1-byte pieces. */
static void split_random(struct pieces *ps, struct blob b, uint32_t seed, size_t max, uint32_t first, uint32_t last)
{
	size_t off = 0;

	while (off < b.n) {
		uint32_t r = lcg(&seed) >> 8;
		size_t k = r % 5 == 0 ? 1 : 1 + (r >> 3) % max;
		if (k > b.n - off)
			k = b.n - off;
		add(ps, b.p + off, k, (off == 0 ? first : 0) | (off + k == b.n ? last : 0));
		off += k;
	}
}

struct task_log {
	size_t off, len;
	uint32_t flags;
	struct vd_accel_metadata md;
};

struct run {
	uint8_t *pcm;
	size_t len, cap;
	uint32_t flags_or;
	struct task_log *log;
	size_t nlog, logcap;
	size_t out_buf;			/* output buffer size of the tasks */
};

static void run_free(struct run *r)
{
	free(r->pcm);
	free(r->log);
	memset(r, 0, sizeof(*r));
}

struct slot {
	uint64_t seqno;
	bool used;
	uint8_t *in, *out;
	size_t in_len, out_len;
};

static void collect(struct vd_accel *s, struct slot *sl, struct run *r)
{
	struct vd_accel_task_status st = { .seqno = sl->seqno };
	struct task_log *l;

	assert_true(vd_accel_wait(s, POLLIN, 20000) > 0);
	assert_int_equal(vd_accel_task_status(s, &st), 0);
	assert_int_equal(st.state, VD_ACCEL_TASK_FINISHED);
	/* The rule under test everywhere: never more than the buffer. */
	assert_true(st.output_size <= sl->out_len);
	if (r->len + st.output_size > r->cap) {
		r->cap = (r->len + st.output_size) * 2 + 4096;
		r->pcm = realloc(r->pcm, r->cap);
		assert_non_null(r->pcm);
	}
	if (st.output_size)
		memcpy(r->pcm + r->len, sl->out, st.output_size);
	if (r->nlog == r->logcap) {
		r->logcap = r->logcap ? r->logcap * 2 : 256;
		r->log = realloc(r->log, r->logcap * sizeof(*r->log));
		assert_non_null(r->log);
	}
	l = &r->log[r->nlog++];
	l->off = r->len;
	l->len = st.output_size;
	l->flags = st.output_flags;
	assert_int_equal(vd_accel_get_metadata(s, sl->seqno, &l->md), 0);
	r->len += st.output_size;
	r->flags_or |= st.output_flags;
	r->out_buf = sl->out_len;
	/* FINISHED -> IDLE: out of the START order, so POLLIN is about the next task. */
	assert_int_equal(vd_accel_task_stop(s, sl->seqno), 0);
}

static void start(struct vd_accel *s, struct slot *sl, const uint8_t *p, size_t n, uint32_t flags)
{
	struct vd_accel_task t = { .input_size = n, .flags = flags };
	char why[256];

	assert_true(n <= sl->in_len);
	if (n)
		memcpy(sl->in, p, n);
	if (sl->used)
		t.origin_seqno = sl->seqno;
	else
		t.seqno = sl->seqno;
	if (vd_accel_task_start(s, &t) != 0) {
		vd_accel_last_error(s, why, sizeof(why));
		fail_msg("START failed: %s", why);
	}
	sl->seqno = t.seqno;
	sl->used = true;
}

/*
 * Run @ps through @s with up to @inflight tasks at once (fragments must
 * allow it). Output flagged MORE_PENDING is fetched with empty tasks once
 * the input is done (and, with @inflight 1, before the next input: the
 * polite client).
 */
static void drive(struct vd_accel *s, const struct pieces *ps, unsigned inflight, struct run *r)
{
	struct slot sl[8] = { 0 };
	unsigned fifo[8], head = 0, count = 0;
	size_t next = 0;
	uint32_t last = 0, tail_flags = 0;

	assert_true(inflight >= 1 && inflight <= 8);
	for (unsigned i = 0; i < inflight; i++) {
		struct vd_accel_task t = { 0 };
		struct stat st;

		assert_int_equal(vd_accel_task_create(s, &t), 0);
		assert_int_equal(fstat(t.input_fd, &st), 0);
		sl[i].in_len = (size_t)st.st_size;
		sl[i].in = mmap(NULL, sl[i].in_len, PROT_READ | PROT_WRITE, MAP_SHARED, t.input_fd, 0);
		assert_int_equal(fstat(t.output_fd, &st), 0);
		sl[i].out_len = (size_t)st.st_size;
		sl[i].out = mmap(NULL, sl[i].out_len, PROT_READ, MAP_SHARED, t.output_fd, 0);
		assert_true(sl[i].in != MAP_FAILED && sl[i].out != MAP_FAILED);
		close(t.input_fd);
		close(t.output_fd);
		sl[i].seqno = t.seqno;
	}
	for (;;) {
		bool polite_wait = inflight == 1 && (last & VD_ACCEL_OUT_MORE_PENDING);

		while (count < inflight && next < ps->n && !polite_wait) {
			unsigned k = (head + count) % inflight;
			start(s, &sl[k], ps->v[next].p, ps->v[next].n, ps->v[next].flags);
			tail_flags = ps->v[next].flags & VD_ACCEL_TASK_END_OF_STREAM;
			fifo[k] = k;
			count++;
			next++;
		}
		if (!count) {
			if (last & VD_ACCEL_OUT_MORE_PENDING) {
				start(s, &sl[head], NULL, 0, tail_flags);
				count++;
				continue;
			}
			if (next >= ps->n)
				break;
		}
		if (count) {
			collect(s, &sl[fifo[head]], r);
			last = r->log[r->nlog - 1].flags;
			head = (head + 1) % inflight;
			count--;
			if (!count && polite_wait && (last & VD_ACCEL_OUT_MORE_PENDING)) {
				start(s, &sl[head], NULL, 0, 0);
				count++;
			}
		}
	}
	for (unsigned i = 0; i < inflight; i++) {
		munmap(sl[i].in, sl[i].in_len);
		munmap(sl[i].out, sl[i].out_len);
	}
}

static struct vd_accel *open_decode(uint32_t codec, enum vd_sample_format fmt, uint32_t rate, uint32_t ch,
				    uint32_t frag, uint32_t frags)
{
	struct vd_accel *s = NULL;
	struct vd_accel_params p = { .codec = codec, .quality = VD_RESAMPLE_HIGH, .fragment_size = frag,
				     .fragments = frags };
	char why[256];

	p.out.format = fmt;
	p.out.rate = rate;
	p.out.channels = ch;
	assert_int_equal(vd_accel_open(NULL, "decode", &s), 0);
	if (vd_accel_set_params(s, &p) != 0) {
		vd_accel_last_error(s, why, sizeof(why));
		fail_msg("SET_PARAMS failed: %s", why);
	}
	return s;
}

/* Decode @b whole (4 KiB tasks, END_OF_STREAM at the end) into @r. */
static void decode_blob(uint32_t codec, enum vd_sample_format fmt, uint32_t rate, struct blob b, struct run *r)
{
	struct vd_accel *s = open_decode(codec, fmt, rate, 0, 4096, 2);
	struct pieces ps = { 0 };

	split_fixed(&ps, b, 4096, 0, VD_ACCEL_TASK_END_OF_STREAM);
	drive(s, &ps, 1, r);
	free(ps.v);
	vd_accel_close(s);
}

static void assert_same(const struct run *r, const uint8_t *ref, size_t n, const char *what)
{
	if (r->len != n)
		fail_msg("%s: %zu bytes decoded, reference has %zu", what, r->len, n);
	if (memcmp(r->pcm, ref, n) != 0) {
		size_t i = 0;
		while (r->pcm[i] == ref[i])
			i++;
		fail_msg("%s: differs from the reference at byte %zu", what, i);
	}
}

/* Reorder interleaved frames from the Vorbis channel order to WAVE order (docs/decoders.md). */
static uint8_t *vorbis_to_wave(const uint8_t *in, size_t n, uint32_t ch, size_t ss)
{
	static const uint8_t six[6] = { 0, 2, 1, 5, 3, 4 };
	uint8_t *o = malloc(n);
	size_t fs = ch * ss;

	assert_int_equal(ch, 6);
	for (size_t f = 0; f + fs <= n; f += fs)
		for (uint32_t c = 0; c < ch; c++)
			memcpy(o + f + c * ss, in + f + six[c] * ss, ss);
	return o;
}

static bool contains(const char *s, const char *sub)
{
	return strstr(s, sub) != NULL;
}

/* ---- capabilities and parameters ---- */

static void test_caps(void **state)
{
	struct vd_accel_caps caps[4];
	struct vd_accel_codec_caps cc;
	struct vd_accel *s = NULL;
	char why[256];
	int n = vd_accel_list(NULL, caps, 4);

	assert_int_equal(n, 2);
	assert_string_equal(caps[1].name, "decode");
	assert_int_equal(caps[1].num_codecs, 4);
	assert_int_equal(caps[1].codecs[0], VD_ACCEL_CODEC_FLAC);
	assert_int_equal(caps[1].codecs[1], VD_ACCEL_CODEC_MP3);
	assert_int_equal(caps[1].codecs[2], VD_ACCEL_CODEC_VORBIS);
	assert_int_equal(caps[1].codecs[3], VD_ACCEL_CODEC_OPUS);
	assert_int_equal(vd_accel_open(NULL, "decode", &s), 0);
	assert_int_equal(vd_accel_get_codec_caps(s, VD_ACCEL_CODEC_FLAC, &cc), 0);
	assert_int_equal(cc.formats, 0);
	assert_int_equal(cc.pcm_formats, VD_FORMAT_MASK_ALL);
	assert_int_equal(cc.max_channels, 8);
	assert_int_equal(cc.out_rate_min, 1000);
	assert_int_equal(cc.out_rate_max, 768000);
	assert_int_equal(vd_accel_get_codec_caps(s, VD_ACCEL_CODEC_MP3, &cc), 0);
	assert_int_equal(cc.max_channels, 2);
	assert_int_equal(vd_accel_get_codec_caps(s, VD_ACCEL_CODEC_PCM, &cc), -EINVAL);
	vd_accel_last_error(s, why, sizeof(why));
	assert_string_equal(why, "codec 1 is not offered by accelerator \"decode\"");
	vd_accel_close(s);
}

static void test_params(void **state)
{
	struct vd_accel *s = NULL;
	struct vd_accel_params p = { .codec = VD_ACCEL_CODEC_OPUS, .fragment_size = 4096, .fragments = 2 };
	struct vd_accel_metadata md;
	char why[256];

	assert_int_equal(vd_accel_open(NULL, "decode", &s), 0);
	assert_int_equal(vd_accel_get_metadata(s, 0, &md), -EPERM);
	vd_accel_last_error(s, why, sizeof(why));
	assert_string_equal(why, "GET_METADATA needs parameters first (session is OPEN)");
	p.out.rate = 500;
	assert_int_equal(vd_accel_set_params(s, &p), -EINVAL);
	vd_accel_last_error(s, why, sizeof(why));
	assert_string_equal(why, "output rate must be 0 (the stream's) or 1000..768000 Hz (got 500)");
	p.out.rate = 0;
	p.out.channels = 33;
	assert_int_equal(vd_accel_set_params(s, &p), -EINVAL);
	vd_accel_last_error(s, why, sizeof(why));
	assert_string_equal(why, "output channels must be 0 (the stream's) or 1..32 (got 33)");
	p.out.channels = 0;
	p.in.rate = 12345;	/* ignored: the stream says */
	assert_int_equal(vd_accel_set_params(s, &p), 0);
	assert_int_equal(vd_accel_get_params(s, &p), 0);
	assert_int_equal(p.in.rate, 0);
	/* Before any task: nothing known yet. */
	assert_int_equal(vd_accel_get_metadata(s, 0, &md), 0);
	assert_int_equal(md.codec, VD_ACCEL_CODEC_OPUS);
	assert_int_equal(md.flags & VD_ACCEL_META_VALID, 0);
	assert_int_equal(vd_accel_get_metadata(s, 99, &md), -EINVAL);
	vd_accel_last_error(s, why, sizeof(why));
	assert_string_equal(why, "no task 99");
	vd_accel_close(s);
}

/* ---- bit-exactness against the reference decoders ---- */

static void test_flac_reference(void **state)
{
	struct fx *x = *state;
	struct run r = { 0 };
	const struct vd_accel_metadata *md;

	decode_blob(VD_ACCEL_CODEC_FLAC, VD_FORMAT_UNKNOWN, 0, x->flac[F_A], &r);
	assert_same(&r, x->ref_flac[F_A].p, x->ref_flac[F_A].n, "FLAC 16-bit stereo");
	md = &r.log[r.nlog - 1].md;
	assert_true(md->flags & VD_ACCEL_META_VALID);
	assert_int_equal(md->rate, 44100);
	assert_int_equal(md->channels, 2);
	assert_int_equal(md->bits, 16);
	assert_int_equal(md->total_frames, 88200);
	assert_int_equal(md->frames_decoded, 88200);
	assert_int_equal(md->frames_out, 88200);
	assert_int_equal(md->decoded_format, VD_FORMAT_S16);
	assert_int_equal(md->out_format, VD_FORMAT_S16);
	/* The first task with output says the parameters are known. */
	for (size_t i = 0; i < r.nlog; i++)
		if (r.log[i].len) {
			assert_true(r.log[i].flags & VD_ACCEL_OUT_FORMAT_CHANGED);
			break;
		}
	assert_true(r.log[r.nlog - 1].flags & VD_ACCEL_OUT_END_OF_STREAM);
	assert_false(r.flags_or & VD_ACCEL_OUT_ERROR);
	run_free(&r);

	/* 24-bit: S24 natively; asking for S24_3 gives flac's raw bytes exactly. */
	decode_blob(VD_ACCEL_CODEC_FLAC, VD_FORMAT_S24_3, 0, x->flac[F_24], &r);
	assert_same(&r, x->ref_flac[F_24].p, x->ref_flac[F_24].n, "FLAC 24-bit mono 96 kHz");
	md = &r.log[r.nlog - 1].md;
	assert_int_equal(md->bits, 24);
	assert_int_equal(md->rate, 96000);
	assert_int_equal(md->decoded_format, VD_FORMAT_S24);
	assert_int_equal(md->out_format, VD_FORMAT_S24_3);
	run_free(&r);

	/* Six channels: FLAC's order is WAVE order already. */
	decode_blob(VD_ACCEL_CODEC_FLAC, VD_FORMAT_UNKNOWN, 0, x->flac[F_SIX], &r);
	assert_same(&r, x->ref_flac[F_SIX].p, x->ref_flac[F_SIX].n, "FLAC 6 channels");
	run_free(&r);
}

static void test_mp3_reference(void **state)
{
	struct fx *x = *state;
	struct run r = { 0 };

	for (int i = F_A; i <= F_B; i++) {
		decode_blob(VD_ACCEL_CODEC_MP3, VD_FORMAT_S16, 0, x->mp3[i], &r);
		assert_same(&r, x->ref_mp3_s16[i].p, x->ref_mp3_s16[i].n, "MP3 s16 (mpg123 -e s16)");
		run_free(&r);
		decode_blob(VD_ACCEL_CODEC_MP3, VD_FORMAT_F32, 0, x->mp3[i], &r);
		assert_same(&r, x->ref_mp3_f32[i].p, x->ref_mp3_f32[i].n, "MP3 f32 (mpg123 -e f32)");
		run_free(&r);
		decode_blob(VD_ACCEL_CODEC_MP3, VD_FORMAT_S32, 0, x->mp3[i], &r);
		assert_same(&r, x->ref_mp3_s32[i].p, x->ref_mp3_s32[i].n, "MP3 s32 (mpg123 -e s32)");
		if (i == F_A) {
			const struct vd_accel_metadata *md = &r.log[r.nlog - 1].md;
			assert_int_equal(md->rate, 44100);
			assert_int_equal(md->channels, 2);
			assert_int_equal(md->bits, 0);
			assert_int_equal(md->bitrate, 128000);
			assert_int_equal(md->total_frames, 88200);	/* the LAME tag's gapless length */
			assert_int_equal(md->frames_decoded, 88200);
		}
		run_free(&r);
	}
	/* Follow the stream: F32. */
	decode_blob(VD_ACCEL_CODEC_MP3, VD_FORMAT_UNKNOWN, 0, x->mp3[F_A], &r);
	assert_same(&r, x->ref_mp3_f32[F_A].p, x->ref_mp3_f32[F_A].n, "MP3 as decoded");
	run_free(&r);
}

static void test_vorbis_reference(void **state)
{
	struct fx *x = *state;
	struct run r = { 0 }, rf = { 0 };
	uint8_t *wave;
	int16_t *conv;

	for (int i = F_A; i <= F_C; i++) {
		decode_blob(VD_ACCEL_CODEC_VORBIS, VD_FORMAT_S16, 0, x->ogg[i], &r);
		assert_same(&r, x->ref_ogg[i].p, x->ref_ogg[i].n, "Vorbis s16 (oggdec -R)");
		run_free(&r);
	}
	/* Six channels come out in WAVE order; oggdec -R keeps the Vorbis order. */
	decode_blob(VD_ACCEL_CODEC_VORBIS, VD_FORMAT_S16, 0, x->ogg[F_SIX], &r);
	wave = vorbis_to_wave(x->ref_ogg[F_SIX].p, x->ref_ogg[F_SIX].n, 6, 2);
	assert_same(&r, wave, x->ref_ogg[F_SIX].n, "Vorbis 6 channels");
	free(wave);
	assert_int_equal(r.log[r.nlog - 1].md.channels, 6);
	run_free(&r);
	/* Native F32, rounded as ov_read() does, is oggdec's output too. */
	decode_blob(VD_ACCEL_CODEC_VORBIS, VD_FORMAT_UNKNOWN, 0, x->ogg[F_A], &rf);
	assert_int_equal(rf.log[rf.nlog - 1].md.decoded_format, VD_FORMAT_F32);
	assert_int_equal(rf.len / 2, x->ref_ogg[F_A].n);
	conv = malloc(rf.len / 2);
	for (size_t i = 0; i < rf.len / 4; i++) {
		float v = ((const float *)rf.pcm)[i] * 32768.f;
		long q = lrintf(v);
		conv[i] = (int16_t)(q > 32767 ? 32767 : q < -32768 ? -32768 : q);
	}
	assert_memory_equal(conv, x->ref_ogg[F_A].p, x->ref_ogg[F_A].n);
	free(conv);
	run_free(&rf);
}

static void test_opus_reference(void **state)
{
	struct fx *x = *state;
	struct run r = { 0 };
	uint8_t *wave;

	for (int i = F_A; i <= F_C; i++) {
		decode_blob(VD_ACCEL_CODEC_OPUS, VD_FORMAT_UNKNOWN, 0, x->opus[i], &r);
		assert_same(&r, x->ref_opus[i].p, x->ref_opus[i].n, "Opus f32 (opusdec --float --rate 48000)");
		assert_int_equal(r.log[r.nlog - 1].md.rate, 48000);
		assert_int_equal(r.log[r.nlog - 1].md.decoded_format, VD_FORMAT_F32);
		run_free(&r);
	}
	decode_blob(VD_ACCEL_CODEC_OPUS, VD_FORMAT_F32, 0, x->opus[F_SIX], &r);
	wave = vorbis_to_wave(x->ref_opus[F_SIX].p, x->ref_opus[F_SIX].n, 6, 4);
	assert_same(&r, wave, x->ref_opus[F_SIX].n, "Opus 6 channels (mapping family 1)");
	free(wave);
	run_free(&r);
}

/* ---- split invariance ---- */

struct codec_case {
	uint32_t codec;
	const char *name;
	enum vd_sample_format fmt;
};

static const struct codec_case cases[] = {
	{ VD_ACCEL_CODEC_FLAC, "FLAC", VD_FORMAT_UNKNOWN },
	{ VD_ACCEL_CODEC_MP3, "MP3", VD_FORMAT_S16 },
	{ VD_ACCEL_CODEC_VORBIS, "Vorbis", VD_FORMAT_S16 },
	{ VD_ACCEL_CODEC_OPUS, "Opus", VD_FORMAT_F32 },
};

static struct blob file_of(struct fx *x, uint32_t codec, int i)
{
	switch (codec) {
	case VD_ACCEL_CODEC_FLAC:
		return x->flac[i];
	case VD_ACCEL_CODEC_MP3:
		return x->mp3[i];
	case VD_ACCEL_CODEC_VORBIS:
		return x->ogg[i];
	default:
		return x->opus[i];
	}
}

static struct blob ref_of(struct fx *x, uint32_t codec, int i)
{
	switch (codec) {
	case VD_ACCEL_CODEC_FLAC:
		return x->ref_flac[i];
	case VD_ACCEL_CODEC_MP3:
		return x->ref_mp3_s16[i];
	case VD_ACCEL_CODEC_VORBIS:
		return x->ref_ogg[i];
	default:
		return x->ref_opus[i];
	}
}

static void test_split_invariance(void **state)
{
	struct fx *x = *state;

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct codec_case *cc = &cases[k];
		struct blob in = file_of(x, cc->codec, F_A), ref = ref_of(x, cc->codec, F_A);

		for (int variant = 0; variant < 5; variant++) {
			struct pieces ps = { 0 };
			struct run r = { 0 };
			unsigned inflight = variant >= 3 ? 4 : 1;
			struct vd_accel *s = open_decode(cc->codec, cc->fmt, 0, 0, 9000, 4);
			char what[64];

			if (variant == 0) {
				/* 1-byte tasks through the headers and the first frames/pages, then the rest. */
				size_t h = in.n / 2 < (48 << 10) ? in.n / 2 : (48 << 10);
				struct blob head = { in.p, h }, rest = { in.p + h, in.n - h };
				split_fixed(&ps, head, 1, 0, 0);
				split_fixed(&ps, rest, 1000, 0, VD_ACCEL_TASK_END_OF_STREAM);
			} else
				split_random(&ps, in, 77u * (uint32_t)variant + (uint32_t)k, variant == 4 ? 9000 : 700,
					     0, VD_ACCEL_TASK_END_OF_STREAM);
			drive(s, &ps, inflight, &r);
			snprintf(what, sizeof(what), "%s split %d (%zu tasks, %u in flight)", cc->name, variant, ps.n,
				 inflight);
			assert_same(&r, ref.p, ref.n, what);
			assert_false(r.flags_or & VD_ACCEL_OUT_ERROR);
			run_free(&r);
			free(ps.v);
			vd_accel_close(s);
		}
	}
}

/*
 * A STREAMINFO whose max_framesize is far too small makes the decoder ask
 * libFLAC for frames that are not complete yet: every such read starves,
 * and the recovery (flush, re-feed from the frame start) must still give
 * the exact PCM.
 */
static void test_flac_starved_reads(void **state)
{
	struct fx *x = *state;
	struct blob in = x->flac[F_A];
	uint8_t *lie = malloc(in.n);
	struct pieces ps = { 0 };
	struct run r = { 0 };
	struct vd_accel *s = open_decode(VD_ACCEL_CODEC_FLAC, VD_FORMAT_UNKNOWN, 0, 0, 9000, 1);

	memcpy(lie, in.p, in.n);
	/* "fLaC", block header, min/max blocksize, min framesize: max framesize is bytes 15..17. */
	assert_int_equal(lie[4] & 0x7f, 0);
	lie[15] = 0;
	lie[16] = 0;
	lie[17] = 16;
	split_random(&ps, (struct blob){ lie, in.n }, 21, 600, 0, VD_ACCEL_TASK_END_OF_STREAM);
	drive(s, &ps, 1, &r);
	assert_same(&r, x->ref_flac[F_A].p, x->ref_flac[F_A].n, "FLAC with a lying max_framesize");
	assert_false(r.flags_or & VD_ACCEL_OUT_ERROR);
	run_free(&r);
	free(ps.v);
	free(lie);
	vd_accel_close(s);
}

/* ---- damaged input ---- */

static void decode_pieces(uint32_t codec, enum vd_sample_format fmt, const struct pieces *ps, struct run *r)
{
	struct vd_accel *s = open_decode(codec, fmt, 0, 0, 9000, 2);

	drive(s, ps, 1, r);
	vd_accel_close(s);
}

static const struct vd_accel_metadata *last_error_md(const struct run *r)
{
	for (size_t i = r->nlog; i-- > 0;)
		if (r->log[i].flags & VD_ACCEL_OUT_ERROR)
			return &r->log[i].md;
	return NULL;
}

static void test_truncated(void **state)
{
	struct fx *x = *state;

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct codec_case *cc = &cases[k];
		struct blob in = file_of(x, cc->codec, F_A), ref = ref_of(x, cc->codec, F_A);
		size_t cuts[] = { in.n * 3 / 4 + 17, in.n - 1, 20 };

		for (size_t j = 0; j < 3; j++) {
			struct blob part = { in.p, cuts[j] };
			struct pieces ps = { 0 };
			struct run r = { 0 };
			const struct vd_accel_metadata *md;

			split_random(&ps, part, 5u + (uint32_t)j, 3000, 0, VD_ACCEL_TASK_END_OF_STREAM);
			decode_pieces(cc->codec, cc->fmt, &ps, &r);
			md = last_error_md(&r);
			if (!md)
				fail_msg("%s cut at %zu: no error reported", cc->name, cuts[j]);
			if (md->error != -ENODATA || !contains(md->error_text, "truncated"))
				fail_msg("%s cut at %zu: \"%s\"", cc->name, cuts[j], md->error_text);
			/* What was decoded is the reference's beginning, and the stream did end. */
			assert_true(r.len <= ref.n);
			assert_memory_equal(r.pcm, ref.p, r.len);
			if (j == 0 && r.len <= ref.n / 4)
				fail_msg("%s cut at %zu of %zu: only %zu of %zu bytes decoded", cc->name, cuts[j], in.n,
					 r.len, ref.n);
			assert_true(r.log[r.nlog - 1].flags & VD_ACCEL_OUT_END_OF_STREAM);
			run_free(&r);
			free(ps.v);
		}
	}
}

static void test_bitflips(void **state)
{
	struct fx *x = *state;

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct codec_case *cc = &cases[k];
		struct blob in = file_of(x, cc->codec, F_A), ref = ref_of(x, cc->codec, F_A);
		uint8_t *bad = malloc(in.n);
		uint32_t seed = 99 + (uint32_t)k;

		for (int trial = 0; trial < 4; trial++) {
			struct pieces ps = { 0 };
			struct run r = { 0 };
			const struct vd_accel_metadata *md;

			memcpy(bad, in.p, in.n);
			/*
			 * Flip 1..4 bits in the audio: past the first quarter (headers are not the
			 * point here) and before the last eighth (damage to the very last frame reads
			 * as truncation, docs/decoders.md).
			 */
			for (int f = 0; f < 1 + trial; f++) {
				size_t at = in.n / 4 + (lcg(&seed) >> 4) % (in.n - in.n / 4 - in.n / 8);
				bad[at] ^= (uint8_t)(1u << (lcg(&seed) >> 29));
			}
			split_random(&ps, (struct blob){ bad, in.n }, seed, 4000, 0, VD_ACCEL_TASK_END_OF_STREAM);
			decode_pieces(cc->codec, cc->fmt, &ps, &r);
			assert_true(r.log[r.nlog - 1].flags & VD_ACCEL_OUT_END_OF_STREAM);
			/* Each flip loses at most a frame or an Ogg page (4 KiB: up to a fifth of these short files), never adds any. */
			if (r.len > ref.n + 8 * 1152 * 4 || r.len < ref.n - ref.n * 22 / 100 * (size_t)(1 + trial))
				fail_msg("%s trial %d: %zu bytes decoded, %zu without damage", cc->name, trial, r.len, ref.n);
			if (cc->codec != VD_ACCEL_CODEC_MP3) {
				/* FLAC frames and Ogg pages carry CRCs: every flip is caught. */
				md = last_error_md(&r);
				if (!md)
					fail_msg("%s trial %d: damage not reported", cc->name, trial);
				assert_int_equal(md->error, -EBADMSG);
				assert_true(md->damaged >= 1);
				if (cc->codec == VD_ACCEL_CODEC_FLAC)
					assert_true(contains(md->error_text, "FLAC: ") &&
						    (contains(md->error_text, "CRC") || contains(md->error_text, "sync") ||
						     contains(md->error_text, "header") || contains(md->error_text, "unparseable")));
				else
					assert_true(contains(md->error_text, "Ogg "));
			}
			run_free(&r);
			free(ps.v);
		}
		free(bad);
	}
}

static void expect_refusal(uint32_t codec, struct blob in, const char *text)
{
	struct pieces ps = { 0 };
	struct run r = { 0 };
	const struct vd_accel_metadata *md;

	split_fixed(&ps, in, 3000, 0, VD_ACCEL_TASK_END_OF_STREAM);
	decode_pieces(codec, VD_FORMAT_UNKNOWN, &ps, &r);
	md = last_error_md(&r);
	if (!md)
		fail_msg("expected \"%s\", got no error", text);
	if (strcmp(md->error_text, text) != 0)
		fail_msg("expected \"%s\", got \"%s\"", text, md->error_text);
	assert_int_equal(md->error, -EPROTO);
	assert_true(md->flags & VD_ACCEL_META_STOPPED);
	assert_int_equal(r.len, 0);
	assert_true(r.log[r.nlog - 1].flags & VD_ACCEL_OUT_END_OF_STREAM);
	run_free(&r);
	free(ps.v);
}

static void test_wrong_codec_and_garbage(void **state)
{
	struct fx *x = *state;
	uint8_t *junk = malloc(65536), *text = malloc(65536);
	uint32_t seed = 4242;

	for (size_t i = 0; i < 65536; i++) {
		junk[i] = (uint8_t)(lcg(&seed) >> 24);
		text[i] = (uint8_t)(' ' + (lcg(&seed) >> 24) % 90);
	}
	expect_refusal(VD_ACCEL_CODEC_FLAC, x->ogg[F_A], "not a FLAC stream (Ogg at byte 0)");
	expect_refusal(VD_ACCEL_CODEC_FLAC, (struct blob){ junk, 65536 }, "not a FLAC stream (no \"fLaC\" marker at byte 0)");
	expect_refusal(VD_ACCEL_CODEC_MP3, x->flac[F_A], "not an MP3 stream (FLAC)");
	expect_refusal(VD_ACCEL_CODEC_MP3, x->opus[F_A], "not an MP3 stream (Ogg)");
	/* Printable text has no 0xFF byte, so no MPEG frame sync anywhere. */
	expect_refusal(VD_ACCEL_CODEC_MP3, (struct blob){ text, 65536 },
		       "not an MP3 stream (no MPEG audio frame in 65536 bytes)");
	expect_refusal(VD_ACCEL_CODEC_VORBIS, x->opus[F_A], "not an Ogg Vorbis stream (the Ogg stream holds Opus)");
	expect_refusal(VD_ACCEL_CODEC_VORBIS, x->flac[F_A], "not an Ogg stream (FLAC)");
	expect_refusal(VD_ACCEL_CODEC_OPUS, x->ogg[F_A], "not an Ogg Opus stream (the Ogg stream holds Vorbis)");
	expect_refusal(VD_ACCEL_CODEC_OPUS, x->mp3[F_A], "not an Ogg stream (no Ogg page found)");
	expect_refusal(VD_ACCEL_CODEC_OPUS, (struct blob){ junk, 65536 }, "not an Ogg stream (no Ogg page found)");
	free(junk);
	free(text);
}

/* After a refused stream, NEW_STREAM starts clean in the same session. */
static void test_recovery_after_refusal(void **state)
{
	struct fx *x = *state;
	struct vd_accel *s = open_decode(VD_ACCEL_CODEC_FLAC, VD_FORMAT_UNKNOWN, 0, 0, 4096, 1);
	struct pieces ps = { 0 };
	struct run r = { 0 };

	split_fixed(&ps, (struct blob){ x->mp3[F_A].p, 8192 }, 4096, 0, 0);
	split_fixed(&ps, x->flac[F_A], 4096, VD_ACCEL_TASK_NEW_STREAM, VD_ACCEL_TASK_END_OF_STREAM);
	drive(s, &ps, 1, &r);
	assert_true(r.log[0].flags & VD_ACCEL_OUT_ERROR);
	assert_true(r.log[0].md.flags & VD_ACCEL_META_STOPPED);
	assert_same(&r, x->ref_flac[F_A].p, x->ref_flac[F_A].n, "FLAC after a refused stream");
	assert_false(r.log[r.nlog - 1].md.flags & VD_ACCEL_META_STOPPED);
	run_free(&r);
	free(ps.v);
	vd_accel_close(s);
}

/* ---- streams: gapless NEW_STREAM, END_OF_STREAM, parameter changes ---- */

static void test_gapless(void **state)
{
	struct fx *x = *state;

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct codec_case *cc = &cases[k];
		struct blob a = file_of(x, cc->codec, F_A), c = file_of(x, cc->codec, F_C);
		struct blob ra = ref_of(x, cc->codec, F_A), rc = ref_of(x, cc->codec, F_C);
		uint8_t *both = malloc(ra.n + rc.n);

		memcpy(both, ra.p, ra.n);
		memcpy(both + ra.n, rc.p, rc.n);
		for (int eos_between = 0; eos_between < 2; eos_between++) {
			struct vd_accel *s = open_decode(cc->codec, cc->fmt, 0, 0, 5000, 1);
			struct pieces ps = { 0 };
			struct run r = { 0 };
			size_t changed = 0;

			split_random(&ps, a, 3u + (uint32_t)k, 5000, 0, eos_between ? VD_ACCEL_TASK_END_OF_STREAM : 0);
			split_random(&ps, c, 9u + (uint32_t)k, 5000, VD_ACCEL_TASK_NEW_STREAM, VD_ACCEL_TASK_END_OF_STREAM);
			drive(s, &ps, 1, &r);
			assert_same(&r, both, ra.n + rc.n, eos_between ? "A, END_OF_STREAM, C" : "A, NEW_STREAM, C");
			assert_int_equal(r.log[r.nlog - 1].md.streams, 2);
			/* Same parameters: the only change flagged is the first output. */
			for (size_t i = 0; i < r.nlog; i++)
				if (r.log[i].flags & VD_ACCEL_OUT_FORMAT_CHANGED) {
					changed++;
					assert_int_equal(r.log[i].off, 0);
				}
			assert_int_equal(changed, 1);
			assert_false(r.flags_or & VD_ACCEL_OUT_ERROR);
			run_free(&r);
			free(ps.v);
			vd_accel_close(s);
		}
		free(both);
	}
}

/* New parameters start a task of their own, flagged, and the metadata follows. */
static void check_change(const struct run *r, size_t boundary, uint32_t rate, uint32_t ch, const char *what)
{
	size_t flagged = 0;

	for (size_t i = 1; i < r->nlog; i++) {
		if (!(r->log[i].flags & VD_ACCEL_OUT_FORMAT_CHANGED) || r->log[i].off == 0)
			continue;
		flagged++;
		if (r->log[i].off != boundary)
			fail_msg("%s: the change is flagged at output byte %zu, the new stream starts at %zu", what,
				 r->log[i].off, boundary);
		assert_int_equal(r->log[i].md.rate, rate);
		assert_int_equal(r->log[i].md.channels, ch);
		assert_int_equal(r->log[i - 1].md.channels, 2);
	}
	assert_int_equal(flagged, 1);
}

static void test_format_change(void **state)
{
	struct fx *x = *state;

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct codec_case *cc = &cases[k];
		struct blob a = file_of(x, cc->codec, F_A), b = file_of(x, cc->codec, F_B);
		struct blob ra = ref_of(x, cc->codec, F_A), rb = ref_of(x, cc->codec, F_B);
		uint8_t *both = malloc(ra.n + rb.n);
		struct pieces ps = { 0 };
		struct run r = { 0 };
		struct vd_accel *s = open_decode(cc->codec, cc->fmt, 0, 0, 5000, 1);

		memcpy(both, ra.p, ra.n);
		memcpy(both + ra.n, rb.p, rb.n);
		/* Files one after the other with NEW_STREAM: 44.1 kHz stereo, then 48 kHz mono. */
		split_random(&ps, a, 31u, 3000, 0, 0);
		split_random(&ps, b, 32u, 3000, VD_ACCEL_TASK_NEW_STREAM, VD_ACCEL_TASK_END_OF_STREAM);
		drive(s, &ps, 1, &r);
		assert_same(&r, both, ra.n + rb.n, cc->name);
		check_change(&r, ra.n, cc->codec == VD_ACCEL_CODEC_OPUS ? 48000 : 48000, 1, cc->name);
		run_free(&r);
		free(ps.v);
		vd_accel_close(s);

		if (cc->codec == VD_ACCEL_CODEC_FLAC)
			goto next;
		/* The same bytes as ONE stream: chained Ogg links, or MP3 frames changing mid-stream. */
		{
			uint8_t *cat = malloc(a.n + b.n);
			struct vd_accel *s2 = open_decode(cc->codec, cc->fmt, 0, 0, 5000, 1);

			memcpy(cat, a.p, a.n);
			memcpy(cat + a.n, b.p, b.n);
			memset(&ps, 0, sizeof(ps));
			split_random(&ps, (struct blob){ cat, a.n + b.n }, 33u, 3000, 0, VD_ACCEL_TASK_END_OF_STREAM);
			drive(s2, &ps, 1, &r);
			if (cc->codec != VD_ACCEL_CODEC_MP3) {
				/* Ogg: each link decodes as on its own. */
				assert_same(&r, both, ra.n + rb.n, "chained Ogg");
				check_change(&r, ra.n, 48000, 1, "chained Ogg");
			} else {
				/* MP3: the first file's LAME tag does not trim the second, so only the start is fixed. */
				assert_memory_equal(r.pcm, ra.p, ra.n);
				check_change(&r, ra.n, 48000, 1, "MP3 frames");
			}
			assert_int_equal(r.log[r.nlog - 1].md.changes, 1);
			assert_int_equal(r.log[r.nlog - 1].md.streams, 1);
			run_free(&r);
			free(ps.v);
			free(cat);
			vd_accel_close(s2);
		}
next:
		free(both);
	}
}

/* ---- the converter after the decoder ---- */

static void test_rate_converted(void **state)
{
	struct fx *x = *state;
	struct run r = { 0 }, r2 = { 0 };
	struct pieces ps = { 0 };
	struct vd_accel *s;
	size_t in_frames = x->ref_flac[F_SINE].n / 4, frames;
	struct vd_sine_fit fit;
	const float *pcm;
	struct vd_accel_params p;

	/* FLAC 44.1 kHz S16 -> 48 kHz F32 in one session. */
	s = open_decode(VD_ACCEL_CODEC_FLAC, VD_FORMAT_F32, 48000, 0, 7000, 4);
	split_random(&ps, x->flac[F_SINE], 8, 7000, 0, VD_ACCEL_TASK_END_OF_STREAM);
	drive(s, &ps, 4, &r);
	vd_accel_close(s);
	frames = r.len / 8;
	assert_int_equal(frames, (size_t)llround((double)in_frames * 48000.0 / 44100.0));
	assert_int_equal(r.log[r.nlog - 1].md.out_rate, 48000);
	assert_int_equal(r.log[r.nlog - 1].md.out_format, VD_FORMAT_F32);
	assert_int_equal(r.log[r.nlog - 1].md.rate, 44100);
	assert_int_equal(r.log[r.nlog - 1].md.frames_out, frames);
	pcm = (const float *)r.pcm;
	assert_int_equal(vd_sine_fit(pcm + 2 * 4800, frames - 9600, 2, 48000, 1000, &fit), 0);
	assert_true(fabs(fit.freq - 1000) < 0.01);
	assert_true(fabs(fit.amplitude - 0.45) < 0.001);
	if (fit.snr_db < 85)
		fail_msg("SNR %.1f dB after decode + 44.1 -> 48 kHz", fit.snr_db);

	/* The same as decoding, then converting the PCM with the "src" accelerator. */
	assert_int_equal(vd_accel_open(NULL, "src", &s), 0);
	memset(&p, 0, sizeof(p));
	p.codec = VD_ACCEL_CODEC_PCM;
	p.in.format = VD_FORMAT_S16;
	p.in.rate = 44100;
	p.in.channels = 2;
	p.out.format = VD_FORMAT_F32;
	p.out.rate = 48000;
	p.quality = VD_RESAMPLE_HIGH;
	p.fragment_size = 4096;
	p.fragments = 1;
	assert_int_equal(vd_accel_set_params(s, &p), 0);
	free(ps.v);
	memset(&ps, 0, sizeof(ps));
	split_fixed(&ps, x->ref_flac[F_SINE], 4096, 0, VD_ACCEL_TASK_END_OF_STREAM);
	drive(s, &ps, 1, &r2);
	vd_accel_close(s);
	assert_same(&r, r2.pcm, r2.len, "decode+convert versus decode then src");
	run_free(&r);
	run_free(&r2);
	free(ps.v);

	/* Opus at 48 kHz to 44.1 kHz S16 mono, the mixdown before the converter. */
	s = open_decode(VD_ACCEL_CODEC_OPUS, VD_FORMAT_S16, 44100, 1, 4096, 1);
	memset(&ps, 0, sizeof(ps));
	split_fixed(&ps, x->opus[F_A], 4096, 0, VD_ACCEL_TASK_END_OF_STREAM);
	drive(s, &ps, 1, &r);
	vd_accel_close(s);
	assert_int_equal(r.len / 2, (size_t)llround((double)(x->ref_opus[F_A].n / 8) * 44100.0 / 48000.0));
	assert_int_equal(r.log[r.nlog - 1].md.out_channels, 1);
	run_free(&r);
	free(ps.v);
}

/* ---- expansion: output is carried over, never overflows ---- */

static void test_no_overflow(void **state)
{
	struct fx *x = *state;
	struct blob sil = x->flac[F_SILENCE], ref = x->ref_flac[F_SILENCE];
	struct vd_accel *s = open_decode(VD_ACCEL_CODEC_FLAC, VD_FORMAT_F32, 0, 0, 512, 1);
	struct pieces ps = { 0 };
	struct run r = { 0 };
	size_t pending = 0;

	/* 30 s of silence: a few KiB of FLAC, 10 MiB of F32. */
	assert_true(sil.n < 20000);
	split_fixed(&ps, sil, 512, 0, VD_ACCEL_TASK_END_OF_STREAM);
	drive(s, &ps, 1, &r);
	assert_int_equal(r.out_buf, 256 << 10);
	for (size_t i = 0; i < r.nlog; i++) {
		assert_true(r.log[i].len <= r.out_buf);
		assert_int_equal(r.log[i].len % 8, 0);
		if (r.log[i].flags & VD_ACCEL_OUT_MORE_PENDING) {
			pending++;
			assert_true(r.log[i].md.flags & VD_ACCEL_META_PENDING);
			assert_false(r.log[i].flags & VD_ACCEL_OUT_END_OF_STREAM);
		}
	}
	assert_true(pending >= 30);
	assert_int_equal(r.len, ref.n * 2);
	for (size_t i = 0; i < r.len; i++)
		if (r.pcm[i])
			fail_msg("non-zero byte %zu in decoded silence", i);
	assert_true(r.log[r.nlog - 1].flags & VD_ACCEL_OUT_END_OF_STREAM);
	assert_false(r.flags_or & VD_ACCEL_OUT_ERROR);
	run_free(&r);
	free(ps.v);
	vd_accel_close(s);
}

/*
 * Large tasks return their PCM in pieces of at most 512 KiB (cache-sized):
 * the whole Vorbis file in one 64 KiB task comes back as a full 512 KiB
 * task with MORE_PENDING and the rest, identical to a 4 KiB split's PCM;
 * 1 MiB FLAC tasks of silence (10 MiB of F32) in 512 KiB pieces.
 */
static void test_output_cap(void **state)
{
	struct fx *x = *state;
	struct vd_accel *s = open_decode(VD_ACCEL_CODEC_VORBIS, VD_FORMAT_F32, 0, 0, 64 << 10, 1);
	struct pieces ps = { 0 };
	struct run r = { 0 }, ref = { 0 };
	size_t full = 0;

	decode_blob(VD_ACCEL_CODEC_VORBIS, VD_FORMAT_F32, 0, x->ogg[F_A], &ref);
	/* 2 s of F32 stereo: more than one piece, from less than one task of input. */
	assert_true(ref.len > (512 << 10) && x->ogg[F_A].n <= 64 << 10);
	split_fixed(&ps, x->ogg[F_A], 64 << 10, 0, VD_ACCEL_TASK_END_OF_STREAM);
	drive(s, &ps, 1, &r);
	vd_accel_close(s);
	assert_int_equal(r.out_buf, 512 << 10);
	assert_int_equal(r.nlog, 2);
	assert_int_equal(r.log[0].len, 512 << 10);
	assert_true(r.log[0].flags & VD_ACCEL_OUT_MORE_PENDING);
	assert_false(r.log[0].flags & VD_ACCEL_OUT_END_OF_STREAM);
	assert_true(r.log[1].flags & VD_ACCEL_OUT_END_OF_STREAM);
	assert_false(r.log[1].flags & VD_ACCEL_OUT_MORE_PENDING);
	assert_same(&r, ref.pcm, ref.len, "Vorbis in 64 KiB tasks against 4 KiB tasks");
	run_free(&r);
	run_free(&ref);
	free(ps.v);

	s = open_decode(VD_ACCEL_CODEC_FLAC, VD_FORMAT_F32, 0, 0, 1 << 20, 1);
	memset(&ps, 0, sizeof(ps));
	split_fixed(&ps, x->flac[F_SILENCE], 1 << 20, 0, VD_ACCEL_TASK_END_OF_STREAM);
	drive(s, &ps, 1, &r);
	vd_accel_close(s);
	assert_int_equal(r.out_buf, 512 << 10);
	for (size_t i = 0; i < r.nlog; i++)
		full += r.log[i].len == 512 << 10;
	assert_int_equal(r.len, x->ref_flac[F_SILENCE].n * 2);
	assert_int_equal(full, r.len / (512 << 10));
	assert_int_equal(r.nlog, (r.len + (512 << 10) - 1) / (512 << 10));
	assert_false(r.flags_or & VD_ACCEL_OUT_ERROR);
	run_free(&r);
	free(ps.v);
}

/* A client that never fetches pending output is stopped once its input backlog passes the limit. */
static void test_backlog_limit(void **state)
{
	struct fx *x = *state;
	struct blob sil = x->flac[F_SILENCE];
	struct vd_accel *s = open_decode(VD_ACCEL_CODEC_FLAC, VD_FORMAT_UNKNOWN, 0, 0, 65536, 4);
	size_t meta = 0, frames_len;
	uint8_t *big;
	size_t big_n = 0, reps;
	struct pieces ps = { 0 };
	struct run r = { 0 };
	const struct vd_accel_metadata *md;

	/* Walk the metadata blocks to where the frames start. */
	meta = 4;
	for (bool last = false; !last;) {
		last = sil.p[meta] & 0x80;
		meta += 4 + (((size_t)sil.p[meta + 1] << 16) | ((size_t)sil.p[meta + 2] << 8) | sil.p[meta + 3]);
	}
	assert_true(meta < sil.n && sil.p[meta] == 0xff);
	frames_len = sil.n - meta;
	/* Silence frames repeated: a valid-looking stream of hours, 5 MiB of it. */
	reps = (5u << 20) / frames_len + 1;
	big = malloc(meta + reps * frames_len);
	memcpy(big, sil.p, meta);
	big_n = meta;
	for (size_t i = 0; i < reps; i++, big_n += frames_len)
		memcpy(big + big_n, sil.p + meta, frames_len);
	/* No END_OF_STREAM, and four tasks in flight: input keeps coming while output is pending. */
	split_fixed(&ps, (struct blob){ big, big_n }, 65536, 0, 0);
	{
		/* Drive without fetching pending output: feed everything, then stop. */
		struct slot sl[4] = { 0 };
		size_t next = 0;
		unsigned head = 0, count = 0;

		for (unsigned i = 0; i < 4; i++) {
			struct vd_accel_task t = { 0 };
			struct stat st;
			assert_int_equal(vd_accel_task_create(s, &t), 0);
			fstat(t.input_fd, &st);
			sl[i].in_len = (size_t)st.st_size;
			sl[i].in = mmap(NULL, sl[i].in_len, PROT_READ | PROT_WRITE, MAP_SHARED, t.input_fd, 0);
			fstat(t.output_fd, &st);
			sl[i].out_len = (size_t)st.st_size;
			sl[i].out = mmap(NULL, sl[i].out_len, PROT_READ, MAP_SHARED, t.output_fd, 0);
			close(t.input_fd);
			close(t.output_fd);
			sl[i].seqno = t.seqno;
		}
		while (next < ps.n || count) {
			while (count < 4 && next < ps.n) {
				start(s, &sl[(head + count) % 4], ps.v[next].p, ps.v[next].n, 0);
				count++;
				next++;
			}
			collect(s, &sl[head], &r);
			head = (head + 1) % 4;
			count--;
		}
		for (unsigned i = 0; i < 4; i++) {
			munmap(sl[i].in, sl[i].in_len);
			munmap(sl[i].out, sl[i].out_len);
		}
	}
	md = last_error_md(&r);
	assert_non_null(md);
	assert_int_equal(md->error, -ENOBUFS);
	assert_string_equal(md->error_text, "flac: input backlog over 4194304 bytes while output was pending: "
			    "send empty tasks until MORE_PENDING clears");
	assert_true(md->flags & VD_ACCEL_META_STOPPED);
	/* Until then every task was full and pending, never more. */
	for (size_t i = 0; i < r.nlog; i++)
		assert_true(r.log[i].len <= r.out_buf);
	run_free(&r);
	free(ps.v);
	free(big);
	vd_accel_close(s);
}

/* ---- through the daemon's socket ---- */

static void *loop_thread(void *arg)
{
	vd_loop_run(arg);
	return NULL;
}

/* The same decode in-process and through `virtdsp serve`'s socket: same PCM, same GET_METADATA. */
static void test_socket(void **state)
{
	struct fx *x = *state;
	struct vd_accel_server_limits lim = { .max_sessions = 4, .max_tasks = 16, .max_memory = 1u << 30,
					      .max_connections = 8 };
	struct vd_accel_server *srv = NULL;
	struct vd_loop *loop = NULL;
	struct vd_accel_metadata md;
	char *dir = vd_test_tmpdir(), path[512], err[256];
	pthread_t th;

	snprintf(path, sizeof(path), "%s/s.sock", dir);
	assert_int_equal(vd_loop_new(&loop), 0);
	if (vd_accel_server_new(loop, path, &lim, NULL, NULL, &srv, err, sizeof(err)) < 0)
		fail_msg("server: %s", err);
	assert_int_equal(pthread_create(&th, NULL, loop_thread, loop), 0);

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct codec_case *cc = &cases[k];
		struct vd_accel_params p = { .codec = cc->codec, .fragment_size = 3000, .fragments = 2 };
		struct vd_accel *s = NULL;
		struct pieces ps = { 0 };
		struct run r = { 0 }, local = { 0 };
		struct vd_accel_caps caps[4];

		assert_int_equal(vd_accel_list(path, caps, 4), 2);
		assert_string_equal(caps[1].name, "decode");
		p.out.format = cc->fmt;
		assert_int_equal(vd_accel_open(path, "decode", &s), 0);
		assert_int_equal(vd_accel_set_params(s, &p), 0);
		split_fixed(&ps, file_of(x, cc->codec, F_B), 3000, 0, VD_ACCEL_TASK_END_OF_STREAM);
		drive(s, &ps, 2, &r);
		assert_same(&r, ref_of(x, cc->codec, F_B).p, ref_of(x, cc->codec, F_B).n, "through the socket");
		s = (vd_accel_close(s), NULL);
		/* GET_METADATA over the wire equals the in-process answer. */
		decode_blob(cc->codec, cc->fmt, 0, file_of(x, cc->codec, F_B), &local);
		md = r.log[r.nlog - 1].md;
		local.log[local.nlog - 1].md.frames_out = md.frames_out;	/* task sizes differ */
		assert_memory_equal(&md, &local.log[local.nlog - 1].md, sizeof(md));
		assert_int_equal(md.rate, 48000);
		assert_int_equal(md.channels, 1);
		assert_true(md.flags & VD_ACCEL_META_VALID);
		run_free(&r);
		run_free(&local);
		free(ps.v);
	}
	/* Its errors travel too. */
	{
		struct vd_accel *s = NULL;
		struct vd_accel_params p = { .codec = VD_ACCEL_CODEC_FLAC, .fragment_size = 3000, .fragments = 1 };
		struct vd_accel_metadata m2;

		assert_int_equal(vd_accel_open(path, "decode", &s), 0);
		assert_int_equal(vd_accel_get_metadata(s, 0, &m2), -EPERM);
		vd_accel_last_error(s, err, sizeof(err));
		assert_string_equal(err, "GET_METADATA needs parameters first (session is OPEN)");
		assert_int_equal(vd_accel_set_params(s, &p), 0);
		assert_int_equal(vd_accel_get_metadata(s, 77, &m2), -EINVAL);
		vd_accel_last_error(s, err, sizeof(err));
		assert_string_equal(err, "no task 77");
		vd_accel_close(s);
	}
	vd_loop_quit(loop);
	pthread_join(th, NULL);
	vd_accel_server_free(srv);
	vd_loop_free(loop);
	vd_test_rmdir(dir);
}

/* ---- virtdsp convert of compressed files ---- */

static int run_cli(const char *args, const char *err_file)
{
	const char *root = getenv("VD_BUILD_ROOT");
	char cmd[2048];
	int st;

	snprintf(cmd, sizeof(cmd), "'%s/src/cli/virtdsp' convert %s --quiet 2>'%s'", root ? root : ".", args, err_file);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static struct blob wav_samples(const char *path, int *rate, int *ch)
{
	SF_INFO info = { 0 };
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	struct blob b = { 0 };

	if (!sf)
		fail_msg("cannot read %s", path);
	*rate = info.samplerate;
	*ch = info.channels;
	b.n = (size_t)info.frames * (size_t)info.channels * sizeof(short);
	b.p = malloc(b.n ? b.n : 1);
	assert_int_equal(sf_readf_short(sf, (short *)b.p, info.frames), info.frames);
	sf_close(sf);
	return b;
}

static void test_convert_cli(void **state)
{
	struct fx *x = *state;
	char args[2048], out[512], err[512];
	struct blob w;
	int rate, ch;

	snprintf(out, sizeof(out), "%s/cli.wav", x->dir);
	snprintf(err, sizeof(err), "%s/cli.err", x->dir);
	/* FLAC through the decoders: the samples of flac -d. */
	snprintf(args, sizeof(args), "'%s/a.flac' '%s'", x->dir, out);
	assert_int_equal(run_cli(args, err), 0);
	w = wav_samples(out, &rate, &ch);
	assert_int_equal(rate, 44100);
	assert_int_equal(ch, 2);
	assert_int_equal(w.n, x->ref_flac[F_A].n);
	assert_memory_equal(w.p, x->ref_flac[F_A].p, w.n);
	free(w.p);
	/* MP3 to S16: mpg123's samples. */
	snprintf(args, sizeof(args), "'%s/a.mp3' '%s' -f s16", x->dir, out);
	assert_int_equal(run_cli(args, err), 0);
	w = wav_samples(out, &rate, &ch);
	assert_int_equal(w.n, x->ref_mp3_s16[F_A].n);
	assert_memory_equal(w.p, x->ref_mp3_s16[F_A].p, w.n);
	free(w.p);
	/* Opus to 44.1 kHz mono S16 in the same session: the length says the converter ran. */
	snprintf(args, sizeof(args), "'%s/a.opus' '%s' -r 44100 -c 1 -f s16", x->dir, out);
	assert_int_equal(run_cli(args, err), 0);
	w = wav_samples(out, &rate, &ch);
	assert_int_equal(rate, 44100);
	assert_int_equal(ch, 1);
	assert_int_equal(w.n / 2, (size_t)llround((double)(x->ref_opus[F_A].n / 8) * 44100.0 / 48000.0));
	free(w.p);
	/* Vorbis that changes parameters midway needs fixed output parameters. */
	{
		char cat[512];
		FILE *f;
		struct blob e;

		snprintf(cat, sizeof(cat), "%s/ab.ogg", x->dir);
		f = fopen(cat, "wb");
		fwrite(x->ogg[F_A].p, 1, x->ogg[F_A].n, f);
		fwrite(x->ogg[F_B].p, 1, x->ogg[F_B].n, f);
		fclose(f);
		snprintf(args, sizeof(args), "'%s' '%s'", cat, out);
		assert_int_equal(run_cli(args, err), 1);
		e = slurp(err);
		e.p = realloc(e.p, e.n + 1);
		e.p[e.n] = 0;
		if (!contains((char *)e.p, "changes from 44100 Hz 2 channels to 48000 Hz 1 channels midway; "
				  "give --rate and --channels"))
			fail_msg("stderr: %s", (char *)e.p);
		free(e.p);
		snprintf(args, sizeof(args), "'%s' '%s' -r 48000 -c 2 -f s16", cat, out);
		assert_int_equal(run_cli(args, err), 0);
		w = wav_samples(out, &rate, &ch);
		assert_int_equal(rate, 48000);
		free(w.p);
	}
	/* A file the decoder refuses: exit 1 with its reason. */
	{
		char bad[512];
		FILE *f;
		struct blob e;

		snprintf(bad, sizeof(bad), "%s/bad.ogg", x->dir);
		f = fopen(bad, "wb");
		fwrite("OggS\x01vorbis", 1, 11, f);	/* looks like Ogg Vorbis, is MP3 data after that */
		fwrite(x->mp3[F_A].p, 1, 5000, f);
		fclose(f);
		snprintf(args, sizeof(args), "'%s' '%s'", bad, out);
		assert_int_equal(run_cli(args, err), 1);
		e = slurp(err);
		e.p = realloc(e.p, e.n + 1);
		e.p[e.n] = 0;
		if (!contains((char *)e.p, "virtdsp convert: cannot decode") || !contains((char *)e.p, "Ogg"))
			fail_msg("stderr: %s", (char *)e.p);
		free(e.p);
	}
}

/* `virtdsp convert --socket` against a `virtdsp serve` the test starts: the same files as in-process. */
static void test_convert_cli_socket(void **state)
{
	struct fx *x = *state;
	const char *root = getenv("VD_BUILD_ROOT");
	char bin[512], sock[512], args[2048], out[512], local[512], err[512], derr[512];
	struct blob w, l, e;
	struct stat st;
	int rate, ch, status;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/src/cli/virtdsp", root ? root : ".");
	snprintf(sock, sizeof(sock), "%s/d.sock", x->dir);
	snprintf(out, sizeof(out), "%s/sock.wav", x->dir);
	snprintf(local, sizeof(local), "%s/local.wav", x->dir);
	snprintf(err, sizeof(err), "%s/sock.err", x->dir);
	snprintf(derr, sizeof(derr), "%s/daemon.err", x->dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *f = freopen(derr, "w", stderr);
		(void)f;
		execl(bin, "virtdsp", "serve", "--socket", sock, "--quiet", (char *)NULL);
		_exit(127);
	}
	/* Up to 20 s for the daemon to listen (a loaded CI machine, ASan). */
	for (int i = 0; i < 2000 && stat(sock, &st) < 0; i++)
		usleep(10000);
	if (stat(sock, &st) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fail_msg("virtdsp serve did not create %s", sock);
	}
	/* FLAC: flac -d's samples. */
	snprintf(args, sizeof(args), "'%s/a.flac' '%s' --socket '%s'", x->dir, out, sock);
	assert_int_equal(run_cli(args, err), 0);
	w = wav_samples(out, &rate, &ch);
	assert_int_equal(rate, 44100);
	assert_int_equal(ch, 2);
	assert_int_equal(w.n, x->ref_flac[F_A].n);
	assert_memory_equal(w.p, x->ref_flac[F_A].p, w.n);
	free(w.p);
	/* MP3 to S16: mpg123's samples. */
	snprintf(args, sizeof(args), "'%s/a.mp3' '%s' -f s16 --socket '%s'", x->dir, out, sock);
	assert_int_equal(run_cli(args, err), 0);
	w = wav_samples(out, &rate, &ch);
	assert_int_equal(w.n, x->ref_mp3_s16[F_A].n);
	assert_memory_equal(w.p, x->ref_mp3_s16[F_A].p, w.n);
	free(w.p);
	/* Opus resampled and mixed down in the daemon's session: the same file as in-process. */
	snprintf(args, sizeof(args), "'%s/a.opus' '%s' -r 44100 -c 1 -f s16 --socket '%s'", x->dir, out, sock);
	assert_int_equal(run_cli(args, err), 0);
	snprintf(args, sizeof(args), "'%s/a.opus' '%s' -r 44100 -c 1 -f s16", x->dir, local);
	assert_int_equal(run_cli(args, err), 0);
	w = slurp(out);
	l = slurp(local);
	assert_true(w.n > 44100);
	assert_int_equal(w.n, l.n);
	assert_memory_equal(w.p, l.p, w.n);
	free(w.p);
	free(l.p);
	/* A stream the daemon's decoder refuses: exit 1 with the decoder's reason, no output file. */
	{
		char bad[512];
		FILE *f;

		snprintf(bad, sizeof(bad), "%s/bad.flac", x->dir);
		f = fopen(bad, "wb");
		fwrite("fLaC", 1, 4, f);
		fwrite(x->mp3[F_A].p, 1, 5000, f);	/* no STREAMINFO: MP3 data */
		fclose(f);
		unlink(out);
		snprintf(args, sizeof(args), "'%s' '%s' --socket '%s'", bad, out, sock);
		assert_int_equal(run_cli(args, err), 1);
		e = slurp(err);
		e.p = realloc(e.p, e.n + 1);
		e.p[e.n] = 0;
		if (!contains((char *)e.p, "virtdsp convert: cannot decode") ||
		    !contains((char *)e.p, "not a FLAC stream (first metadata block is type"))
			fail_msg("stderr: %s", (char *)e.p);
		free(e.p);
		assert_int_equal(stat(out, &st), -1);
	}
	/* The daemon served all of it and shuts down cleanly. */
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		e = slurp(derr);
		fail_msg("virtdsp serve ended with status 0x%x: %.*s", status, (int)e.n, (char *)e.p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_flac_reference),
		cmocka_unit_test(test_mp3_reference),
		cmocka_unit_test(test_vorbis_reference),
		cmocka_unit_test(test_opus_reference),
		cmocka_unit_test(test_split_invariance),
		cmocka_unit_test(test_flac_starved_reads),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bitflips),
		cmocka_unit_test(test_wrong_codec_and_garbage),
		cmocka_unit_test(test_recovery_after_refusal),
		cmocka_unit_test(test_gapless),
		cmocka_unit_test(test_format_change),
		cmocka_unit_test(test_rate_converted),
		cmocka_unit_test(test_no_overflow),
		cmocka_unit_test(test_output_cap),
		cmocka_unit_test(test_backlog_limit),
		cmocka_unit_test(test_socket),
		cmocka_unit_test(test_convert_cli),
		cmocka_unit_test(test_convert_cli_socket),
	};

	return cmocka_run_group_tests_name("decode", tests, setup, teardown);
}
