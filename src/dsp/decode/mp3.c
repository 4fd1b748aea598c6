/* dsp/decode/mp3.c - the MP3 decoder core: libmpg123's feed API.
 *
 * mpg123 buffers what it is fed and decodes frame by frame, so chunks can
 * split frames anywhere. It trims the encoder delay and padding announced
 * in a LAME/Xing tag (gapless), like the mpg123 program. It resynchronises
 * on damaged data by itself and silently (that is how MP3 is played); the
 * core adds what mpg123 cannot say: a stream of another codec is named as
 * such, and a stream without any MPEG frame in its first 256 KiB is refused.
 * Blocks come out as S16, S32 or F32 straight from mpg123's synthesis
 * (whichever the caller prefers; F32 otherwise), so S16 output is exactly
 * what `mpg123 -e s16` writes. mpg123 synthesises into whatever buffer it
 * is given (mpg123_replace_buffer), so when the caller has room for a whole
 * frame the frame is decoded straight there and never copied; otherwise
 * into the core's own buffer. mpg123 trims gapless padding by moving the
 * samples to the buffer's start, so a block always begins where it was put.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mpg123.h>

#include "dsp/decode/decode.h"

#define NO_FRAME_LIMIT (256u << 10)
/* The largest decoded frame: 1152 samples x 2 channels x 4 bytes (S32/F32). */
#define MAX_OUTBLOCK (1152u * 2u * 4u)

struct mp3_dec {
	struct vd_dec d;
	mpg123_handle *mh;
	int enc;			/* mpg123 encoding of the blocks */
	void *own;			/* MAX_OUTBLOCK bytes: where frames go when the caller has no room */
	enum vd_sample_format fmt;
	uint64_t fed;			/* bytes fed in this stream */
	uint8_t head[12];		/* the stream's first bytes, to name another codec */
	size_t head_len;
	uint8_t tail[128];		/* the last bytes fed: an ID3v1 tag is not a truncated frame */
	size_t tail_len;
	bool finished;
	bool have_format;
	bool fatal;
	int fatal_code;
};

static struct mp3_dec *M(struct vd_dec *d)
{
	return (struct mp3_dec *)d;
}

static int open_handle(struct mp3_dec *m)
{
	const long *rates;
	size_t n;
	int err = MPG123_OK;

	m->mh = mpg123_new(NULL, &err);
	if (!m->mh)
		return -ENOMEM;
	mpg123_param(m->mh, MPG123_ADD_FLAGS, MPG123_QUIET, 0);
	mpg123_format_none(m->mh);
	mpg123_rates(&rates, &n);
	for (size_t i = 0; i < n; i++)
		mpg123_format(m->mh, rates[i], MPG123_MONO | MPG123_STEREO, m->enc);
	if (mpg123_open_feed(m->mh) != MPG123_OK) {
		mpg123_delete(m->mh);
		m->mh = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void mp3_reset(struct vd_dec *d)
{
	struct mp3_dec *m = M(d);

	vd_dec_clear(d);
	if (m->mh)
		mpg123_delete(m->mh);
	m->mh = NULL;
	m->fed = 0;
	m->head_len = 0;
	m->tail_len = 0;
	m->finished = false;
	m->have_format = false;
	m->fatal = false;
	if (open_handle(m) < 0) {
		m->fatal = true;
		m->fatal_code = vd_dec_error(d, -ENOMEM, "cannot create an mpg123 decoder");
	}
}

static void mp3_destroy(struct vd_dec *d)
{
	struct mp3_dec *m = M(d);

	if (!m)
		return;
	if (m->mh)
		mpg123_delete(m->mh);
	free(m->own);
	free(m);
}

static int mp3_create(enum vd_sample_format prefer, struct vd_dec **out)
{
	struct mp3_dec *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->own = aligned_alloc(64, MAX_OUTBLOCK);
	if (!m->own) {
		free(m);
		return -ENOMEM;
	}
	m->d.ops = &vd_dec_mp3;
	m->d.prefer = prefer;
	switch (prefer) {
	case VD_FORMAT_S16:
		m->enc = MPG123_ENC_SIGNED_16;
		m->fmt = VD_FORMAT_S16;
		break;
	case VD_FORMAT_S32:
		m->enc = MPG123_ENC_SIGNED_32;
		m->fmt = VD_FORMAT_S32;
		break;
	default:
		m->enc = MPG123_ENC_FLOAT_32;
		m->fmt = VD_FORMAT_F32;
		break;
	}
	mp3_reset(&m->d);
	if (m->fatal) {
		mp3_destroy(&m->d);
		return -ENOMEM;
	}
	*out = &m->d;
	return 0;
}

static int fail(struct mp3_dec *m, int code)
{
	m->fatal = true;
	m->fatal_code = code;
	return code;
}

static int mp3_feed(struct vd_dec *d, const uint8_t *in, size_t n)
{
	struct mp3_dec *m = M(d);

	if (m->fatal || !n)
		return 0;
	if (m->head_len < sizeof(m->head)) {
		size_t k = sizeof(m->head) - m->head_len < n ? sizeof(m->head) - m->head_len : n;
		memcpy(m->head + m->head_len, in, k);
		m->head_len += k;
	}
	if (n >= sizeof(m->tail)) {
		memcpy(m->tail, in + n - sizeof(m->tail), sizeof(m->tail));
		m->tail_len = sizeof(m->tail);
	} else {
		size_t keep = m->tail_len + n > sizeof(m->tail) ? sizeof(m->tail) - n : m->tail_len;
		memmove(m->tail, m->tail + m->tail_len - keep, keep);
		memcpy(m->tail + keep, in, n);
		m->tail_len = keep + n;
	}
	m->fed += n;
	if (mpg123_feed(m->mh, in, n) != MPG123_OK)
		return fail(m, vd_dec_error(d, -ENOMEM, "mpg123 cannot buffer input: %s", mpg123_strerror(m->mh)));
	return 0;
}

static size_t mp3_buffered(const struct vd_dec *d)
{
	const struct mp3_dec *m = (const struct mp3_dec *)d;
	long fill = 0;
	double dfill = 0;

	if (!m->mh || mpg123_getstate(m->mh, MPG123_BUFFERFILL, &fill, &dfill) != MPG123_OK || fill < 0)
		return 0;
	return (size_t)fill;
}

static int new_format(struct mp3_dec *m)
{
	struct vd_dec_info info = { 0 };
	struct mpg123_frameinfo fi;
	long rate;
	int ch, enc;

	if (mpg123_getformat(m->mh, &rate, &ch, &enc) != MPG123_OK)
		return fail(m, vd_dec_error(&m->d, -EPROTO, "mpg123: %s", mpg123_strerror(m->mh)));
	if (enc != m->enc)
		return fail(m, vd_dec_error(&m->d, -EPROTO, "mpg123 chose encoding 0x%x instead of 0x%x", enc, m->enc));
	info.rate = (uint32_t)rate;
	info.channels = (uint32_t)ch;
	info.format = m->fmt;
	if (mpg123_info(m->mh, &fi) == MPG123_OK)
		info.bitrate = fi.bitrate > 0 ? (uint32_t)fi.bitrate * 1000u : 0;
	{
		off_t len = mpg123_length(m->mh);
		info.total_frames = len > 0 ? (uint64_t)len : 0;
	}
	vd_dec_set_info(&m->d, &info);
	m->have_format = true;
	return 0;
}

/* An ID3v2 tag or an MPEG frame sync at the very start. */
static bool starts_like_mp3(const struct mp3_dec *m)
{
	if (m->head_len >= 3 && memcmp(m->head, "ID3", 3) == 0)
		return true;
	return m->head_len >= 2 && m->head[0] == 0xff && (m->head[1] & 0xe0) == 0xe0;
}

/* At the end: did the stream stop inside a frame, or short of the length its LAME/Xing tag announced? */
static void check_end(struct mp3_dec *m)
{
	size_t left = mp3_buffered(&m->d);
	bool id3v1 = left == 128 && m->tail_len == 128 && memcmp(m->tail, "TAG", 3) == 0;

	m->finished = true;
	if (left && !id3v1)
		vd_dec_error(&m->d, -ENODATA, "MP3 stream truncated: %zu bytes of an incomplete frame at the end", left);
	else if (!m->d.damaged && m->d.info.total_frames && m->d.frames < m->d.info.total_frames)
		/* mpg123 may also have skipped damaged frames without a word, so "truncated" would be a guess */
		vd_dec_error(&m->d, -ENODATA,
			     "MP3 stream ends %llu frames short of the %llu its LAME/Xing tag announces (truncated, or frames lost)",
			     (unsigned long long)(m->d.info.total_frames - m->d.frames),
			     (unsigned long long)m->d.info.total_frames);
}

static int mp3_pull(struct vd_dec *d, bool eos, struct vd_dec_block *b, void *dst, size_t dst_cap)
{
	struct mp3_dec *m = M(d);

	if (m->fatal)
		return m->fatal_code;
	if (!m->have_format && m->head_len >= 4) {
		const char *other = vd_dec_sniff(m->head, m->head_len);
		if (other && strcmp(other, "ID3-tagged") != 0)
			return fail(m, vd_dec_error(d, -EPROTO, "not an MP3 stream (%s)", other));
	}
	for (;;) {
		unsigned char *audio = NULL;
		size_t bytes = 0;
		off_t num;
		bool into = dst && dst_cap >= MAX_OUTBLOCK;
		int r;

		/* Set every time: mpg123 takes a buffer of its own again on a new format. */
		if (mpg123_replace_buffer(m->mh, into ? dst : m->own, into ? dst_cap : MAX_OUTBLOCK) != MPG123_OK)
			return fail(m, vd_dec_error(d, -ENOMEM, "mpg123 refused the output buffer: %s",
						    mpg123_strerror(m->mh)));
		r = mpg123_decode_frame(m->mh, &num, &audio, &bytes);

		switch (r) {
		case MPG123_NEW_FORMAT:
			if ((r = new_format(m)) < 0)
				return r;
			continue;
		case MPG123_OK:
			if (!bytes)
				continue;
			if (!m->have_format && (r = new_format(m)) < 0)
				return r;
			b->data = audio;
			b->frames = (uint32_t)(bytes / (vd_format_sample_size(m->fmt) * d->info.channels));
			d->frames += b->frames;
			return 1;
		case MPG123_NEED_MORE:
		case MPG123_DONE:
			if (!m->have_format && eos && m->fed && m->fed < NO_FRAME_LIMIT && starts_like_mp3(m))
				return fail(m, vd_dec_error(d, -ENODATA, "MP3 stream truncated before its first complete "
							    "frame (%llu bytes)", (unsigned long long)m->fed));
			if (!m->have_format && (m->fed >= NO_FRAME_LIMIT || (eos && m->fed)))
				return fail(m, vd_dec_error(d, -EPROTO, "not an MP3 stream (no MPEG audio frame in %llu bytes)",
							    (unsigned long long)m->fed));
			if (eos && !m->fed)
				return fail(m, vd_dec_error(d, -ENODATA, "empty MP3 stream"));
			if (eos && !m->finished)
				check_end(m);
			return 0;
		default:
			return fail(m, vd_dec_error(d, -EBADMSG, "mpg123: %s", mpg123_plain_strerror(r)));
		}
	}
}

const struct vd_dec_ops vd_dec_mp3 = {
	.codec = 2,	/* VD_ACCEL_CODEC_MP3 */
	.name = "mp3",
	.formats = VD_FORMAT_BIT(VD_FORMAT_S16) | VD_FORMAT_BIT(VD_FORMAT_S32) | VD_FORMAT_BIT(VD_FORMAT_F32),
	.max_channels = 2,
	.create = mp3_create,
	.destroy = mp3_destroy,
	.reset = mp3_reset,
	.feed = mp3_feed,
	.pull = mp3_pull,
	.buffered = mp3_buffered,
};
