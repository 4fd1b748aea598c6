/* dsp/decode/flac.c - the FLAC decoder core: libFLAC's stream decoder fed from arbitrary chunks.
 *
 * libFLAC pulls its input through a read callback and cannot be told "no
 * data yet": a read that returns nothing ends the stream. So the core only
 * asks libFLAC for the next metadata section or frame once that is
 * completely buffered: the metadata's block headers are walked here, and a
 * frame is taken as complete when STREAMINFO's max_framesize bytes are
 * there or when a next valid frame header follows (at the end of the
 * stream: when the rest checks with the frame footer's CRC-16). Should that
 * be wrong (a false header in frame data, a lying STREAMINFO), the starved
 * read aborts, libFLAC is flushed and re-fed from the start of the frame
 * once more bytes arrived: correct, only slower. The bytes are kept
 * from libFLAC's decode position on, so nothing depends on how they came.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <FLAC/stream_decoder.h>

#include "dsp/decode/decode.h"

#define MAX_META_BYTES ((size_t)64 << 20)	/* refuse metadata sections larger than this */

struct flac_dec {
	struct vd_dec d;
	FLAC__StreamDecoder *fl;
	uint8_t *buf;			/* stream bytes [base, base + len) */
	size_t len, cap;
	uint64_t base;
	uint64_t rd;			/* stream offset handed to libFLAC so far */
	uint64_t pos;			/* libFLAC's decode position: everything before is decoded */
	bool eos;			/* the current pull may end the stream */
	bool starved;			/* the read callback ran dry and aborted */
	uint64_t starved_at;		/* bytes available then: retry only with more */
	bool meta_done;
	uint64_t meta_end;		/* end of the metadata section (known once walked) */
	uint32_t max_framesize;		/* from STREAMINFO, 0 = unknown */
	bool streaminfo;
	uint32_t fixed_strategy;	/* blocking strategy bit of the first frame header, 2 = not seen */
	/* incremental scan for the end of the frame at scan_h1 */
	uint64_t scan_origin, scan_h1, scan_pos;
	bool scan_have_h1;
	/* the block of the last frame */
	uint8_t *blk;
	size_t blk_cap;
	uint32_t blk_frames;
	bool blk_ready;
	uint8_t *dst;			/* the caller's room for this block, if any */
	size_t dst_cap;
	const uint8_t *blk_data;	/* where the last block went: blk or dst */
	bool fatal;
	bool finished;
	int fatal_code;
};

static struct flac_dec *F(struct vd_dec *d)
{
	return (struct flac_dec *)d;
}

static uint64_t avail_end(const struct flac_dec *f)
{
	return f->base + f->len;
}

static const uint8_t *at(const struct flac_dec *f, uint64_t off)
{
	return f->buf + (off - f->base);
}

/* ---- framing: CRCs and frame headers, to know when a frame is complete ---- */

static uint8_t crc8(const uint8_t *p, size_t n)
{
	uint8_t c = 0;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int b = 0; b < 8; b++)
			c = (uint8_t)(c & 0x80 ? (c << 1) ^ 0x07 : c << 1);
	}
	return c;
}

static uint16_t crc16_byte(uint16_t c, uint8_t v)
{
	/* Polynomial 0x8005, MSB first, as in the FLAC frame footer. */
	static const uint16_t t[256] = {
		0x0000, 0x8005, 0x800f, 0x000a, 0x801b, 0x001e, 0x0014, 0x8011,
		0x8033, 0x0036, 0x003c, 0x8039, 0x0028, 0x802d, 0x8027, 0x0022,
		0x8063, 0x0066, 0x006c, 0x8069, 0x0078, 0x807d, 0x8077, 0x0072,
		0x0050, 0x8055, 0x805f, 0x005a, 0x804b, 0x004e, 0x0044, 0x8041,
		0x80c3, 0x00c6, 0x00cc, 0x80c9, 0x00d8, 0x80dd, 0x80d7, 0x00d2,
		0x00f0, 0x80f5, 0x80ff, 0x00fa, 0x80eb, 0x00ee, 0x00e4, 0x80e1,
		0x00a0, 0x80a5, 0x80af, 0x00aa, 0x80bb, 0x00be, 0x00b4, 0x80b1,
		0x8093, 0x0096, 0x009c, 0x8099, 0x0088, 0x808d, 0x8087, 0x0082,
		0x8183, 0x0186, 0x018c, 0x8189, 0x0198, 0x819d, 0x8197, 0x0192,
		0x01b0, 0x81b5, 0x81bf, 0x01ba, 0x81ab, 0x01ae, 0x01a4, 0x81a1,
		0x01e0, 0x81e5, 0x81ef, 0x01ea, 0x81fb, 0x01fe, 0x01f4, 0x81f1,
		0x81d3, 0x01d6, 0x01dc, 0x81d9, 0x01c8, 0x81cd, 0x81c7, 0x01c2,
		0x0140, 0x8145, 0x814f, 0x014a, 0x815b, 0x015e, 0x0154, 0x8151,
		0x8173, 0x0176, 0x017c, 0x8179, 0x0168, 0x816d, 0x8167, 0x0162,
		0x8123, 0x0126, 0x012c, 0x8129, 0x0138, 0x813d, 0x8137, 0x0132,
		0x0110, 0x8115, 0x811f, 0x011a, 0x810b, 0x010e, 0x0104, 0x8101,
		0x8303, 0x0306, 0x030c, 0x8309, 0x0318, 0x831d, 0x8317, 0x0312,
		0x0330, 0x8335, 0x833f, 0x033a, 0x832b, 0x032e, 0x0324, 0x8321,
		0x0360, 0x8365, 0x836f, 0x036a, 0x837b, 0x037e, 0x0374, 0x8371,
		0x8353, 0x0356, 0x035c, 0x8359, 0x0348, 0x834d, 0x8347, 0x0342,
		0x03c0, 0x83c5, 0x83cf, 0x03ca, 0x83db, 0x03de, 0x03d4, 0x83d1,
		0x83f3, 0x03f6, 0x03fc, 0x83f9, 0x03e8, 0x83ed, 0x83e7, 0x03e2,
		0x83a3, 0x03a6, 0x03ac, 0x83a9, 0x03b8, 0x83bd, 0x83b7, 0x03b2,
		0x0390, 0x8395, 0x839f, 0x039a, 0x838b, 0x038e, 0x0384, 0x8381,
		0x0280, 0x8285, 0x828f, 0x028a, 0x829b, 0x029e, 0x0294, 0x8291,
		0x82b3, 0x02b6, 0x02bc, 0x82b9, 0x02a8, 0x82ad, 0x82a7, 0x02a2,
		0x82e3, 0x02e6, 0x02ec, 0x82e9, 0x02f8, 0x82fd, 0x82f7, 0x02f2,
		0x02d0, 0x82d5, 0x82df, 0x02da, 0x82cb, 0x02ce, 0x02c4, 0x82c1,
		0x8243, 0x0246, 0x024c, 0x8249, 0x0258, 0x825d, 0x8257, 0x0252,
		0x0270, 0x8275, 0x827f, 0x027a, 0x826b, 0x026e, 0x0264, 0x8261,
		0x0220, 0x8225, 0x822f, 0x022a, 0x823b, 0x023e, 0x0234, 0x8231,
		0x8213, 0x0216, 0x021c, 0x8219, 0x0208, 0x820d, 0x8207, 0x0202,
	};

	return (uint16_t)((c << 8) ^ t[(c >> 8) ^ v]);
}

/* A frame header at @p (@n bytes available): its length, 0 if not a valid header, -1 if more bytes are needed. */
static int frame_header(const uint8_t *p, size_t n, uint32_t strategy)
{
	size_t len = 4, i;
	unsigned utf_extra;

	if (n < 2)
		return n && p[0] != 0xff ? 0 : -1;
	if (p[0] != 0xff || (p[1] & 0xfe) != 0xf8)
		return 0;
	if (strategy != 2 && (p[1] & 1) != strategy)
		return 0;
	if (n < 4)
		return -1;
	if ((p[2] >> 4) == 0 || (p[2] & 15) == 15)
		return 0;
	if ((p[3] >> 4) >= 11 || (p[3] & 1))
		return 0;
	if (n < 5)
		return -1;
	/* The frame/sample number, UTF-8 coded: 1 to 7 bytes. */
	if (!(p[4] & 0x80))
		utf_extra = 0;
	else if ((p[4] & 0xe0) == 0xc0)
		utf_extra = 1;
	else if ((p[4] & 0xf0) == 0xe0)
		utf_extra = 2;
	else if ((p[4] & 0xf8) == 0xf0)
		utf_extra = 3;
	else if ((p[4] & 0xfc) == 0xf8)
		utf_extra = 4;
	else if ((p[4] & 0xfe) == 0xfc)
		utf_extra = 5;
	else if (p[4] == 0xfe)
		utf_extra = 6;
	else
		return 0;
	len = 5 + utf_extra;
	if (n < len)
		return -1;
	for (i = 5; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((p[2] >> 4) == 6)
		len += 1;
	else if ((p[2] >> 4) == 7)
		len += 2;
	if ((p[2] & 15) == 12)
		len += 1;
	else if ((p[2] & 15) >= 13)
		len += 2;
	if (n < len + 1)
		return -1;
	return crc8(p, len) == p[len] ? (int)(len + 1) : 0;
}

/*
 * Is a whole frame buffered after the decode position? Either STREAMINFO's
 * max_framesize bytes are there, or a second valid frame header (sync,
 * fields, CRC-8) follows the first. A false second header inside frame
 * data (about one per 500 KB) only costs a starved attempt (see the file
 * comment). Scans incrementally: each byte is looked at once per frame,
 * however the input trickles in.
 */
static bool frame_complete(struct flac_dec *f)
{
	uint64_t end = avail_end(f);

	if (f->scan_origin != f->pos) {
		f->scan_origin = f->pos;
		f->scan_pos = f->pos;
		f->scan_have_h1 = false;
	}
	if (f->max_framesize && end - f->pos >= (uint64_t)f->max_framesize + 16)
		return true;
	while (!f->scan_have_h1) {
		int h;

		if (f->scan_pos >= end)
			return false;
		h = frame_header(at(f, f->scan_pos), end - f->scan_pos, f->fixed_strategy);
		if (h < 0)
			return false;
		if (h == 0) {
			f->scan_pos++;
			continue;
		}
		f->scan_have_h1 = true;
		f->scan_h1 = f->scan_pos;
		if (f->fixed_strategy == 2)
			f->fixed_strategy = at(f, f->scan_pos)[1] & 1;	/* the stream's blocking strategy */
		f->scan_pos += (uint64_t)h;
		if (f->max_framesize && end - f->scan_h1 >= (uint64_t)f->max_framesize + 16)
			return true;
	}
	while (f->scan_pos < end) {
		const uint8_t *p = at(f, f->scan_pos);
		const uint8_t *q = memchr(p, 0xff, (size_t)(end - f->scan_pos));
		int h;

		if (!q) {
			f->scan_pos = end;
			return false;
		}
		f->scan_pos += (uint64_t)(q - p);
		h = frame_header(q, (size_t)(end - f->scan_pos), f->fixed_strategy);
		if (h < 0)
			return false;	/* decide once the candidate's header is complete */
		if (h > 0)
			return true;
		f->scan_pos++;
	}
	return false;
}

/* At the end of the stream, after frame_complete() said no: is the rest exactly one frame (its CRC-16 checks)? */
static bool last_frame_complete(const struct flac_dec *f)
{
	uint16_t crc = 0;

	if (!f->scan_have_h1)
		return false;
	for (uint64_t i = f->scan_h1; i < avail_end(f); i++)
		crc = crc16_byte(crc, *at(f, i));
	return crc == 0;
}

/* Metadata: "fLaC" (after an optional ID3v2 tag) then blocks until the one flagged last. 1 complete, 0 more, <0 not FLAC. */
static int metadata_complete(struct flac_dec *f)
{
	uint64_t end = avail_end(f), off = 0;
	const uint8_t *p = f->buf;

	if (f->base != 0)
		return 1;	/* already past it */
	if (end >= 3 && memcmp(p, "ID3", 3) == 0) {
		if (end < 10)
			return 0;
		off = 10 + (((uint64_t)(p[6] & 0x7f) << 21) | ((p[7] & 0x7f) << 14) | ((p[8] & 0x7f) << 7) | (p[9] & 0x7f));
		if (p[5] & 0x10)
			off += 10;
	}
	if (end < off + 4) {
		size_t n = end > off ? (size_t)(end - off) : 0;
		if (n && memcmp(p + off, "fLaC", n) != 0)
			return vd_dec_error(&f->d, -EPROTO, "not a FLAC stream (%s)",
					    vd_dec_sniff(p + off, n) ? vd_dec_sniff(p + off, n) : "no \"fLaC\" marker");
		return 0;
	}
	if (memcmp(p + off, "fLaC", 4) != 0) {
		const char *what = vd_dec_sniff(p + off, end - off);
		return vd_dec_error(&f->d, -EPROTO, "not a FLAC stream (%s at byte %llu)",
				    what ? what : "no \"fLaC\" marker", (unsigned long long)off);
	}
	off += 4;
	for (bool first = true;; first = false) {
		uint32_t type, blen;
		bool last;

		if (end < off + 4)
			return 0;
		last = p[off] & 0x80;
		type = p[off] & 0x7f;
		blen = ((uint32_t)p[off + 1] << 16) | ((uint32_t)p[off + 2] << 8) | p[off + 3];
		if (first && (type != 0 || blen != 34))
			return vd_dec_error(&f->d, -EPROTO, "not a FLAC stream (first metadata block is type %u, %u bytes; "
					    "STREAMINFO expected)", type, blen);
		if (type == 127)
			return vd_dec_error(&f->d, -EPROTO, "invalid FLAC metadata block type 127 at byte %llu",
					    (unsigned long long)off);
		off += 4 + (uint64_t)blen;
		if (off > MAX_META_BYTES)
			return vd_dec_error(&f->d, -EOPNOTSUPP, "FLAC metadata larger than %zu MiB", MAX_META_BYTES >> 20);
		if (last)
			break;
	}
	f->meta_end = off;
	return end >= off ? 1 : 0;
}

/* ---- libFLAC callbacks ---- */

static FLAC__StreamDecoderReadStatus read_cb(const FLAC__StreamDecoder *dec, FLAC__byte buffer[], size_t *bytes,
					     void *data)
{
	struct flac_dec *f = data;
	uint64_t left = avail_end(f) - f->rd;
	size_t n = *bytes < left ? *bytes : (size_t)left;

	if (!n) {
		*bytes = 0;
		if (f->eos)
			return FLAC__STREAM_DECODER_READ_STATUS_END_OF_STREAM;
		f->starved = true;
		return FLAC__STREAM_DECODER_READ_STATUS_ABORT;
	}
	memcpy(buffer, at(f, f->rd), n);
	f->rd += n;
	*bytes = n;
	return FLAC__STREAM_DECODER_READ_STATUS_CONTINUE;
}

static FLAC__StreamDecoderTellStatus tell_cb(const FLAC__StreamDecoder *dec, FLAC__uint64 *off, void *data)
{
	*off = ((struct flac_dec *)data)->rd;
	return FLAC__STREAM_DECODER_TELL_STATUS_OK;
}

static enum vd_sample_format native_format(uint32_t bits)
{
	if (bits <= 8)
		return VD_FORMAT_U8;
	if (bits <= 16)
		return VD_FORMAT_S16;
	if (bits <= 24)
		return VD_FORMAT_S24;
	return VD_FORMAT_S32;
}

static FLAC__StreamDecoderWriteStatus write_cb(const FLAC__StreamDecoder *dec, const FLAC__Frame *fr,
					       const FLAC__int32 *const buffer[], void *data)
{
	struct flac_dec *f = data;
	uint32_t ch = fr->header.channels, n = fr->header.blocksize, bits = fr->header.bits_per_sample;
	enum vd_sample_format fmt = native_format(bits);
	size_t need = (size_t)n * ch * vd_format_sample_size(fmt);
	struct vd_dec_info info = f->d.info;
	uint8_t *dst = f->blk;

	if (f->dst && need <= f->dst_cap) {
		dst = f->dst;
	} else if (need > f->blk_cap) {
		uint8_t *b = realloc(f->blk, need);
		if (!b) {
			vd_dec_error(&f->d, -ENOMEM, "out of memory for a %u-frame FLAC block", n);
			return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
		}
		f->blk = b;
		f->blk_cap = need;
		dst = b;
	}
	info.rate = fr->header.sample_rate;
	info.channels = ch;
	info.bits = bits;
	info.format = fmt;
	vd_dec_set_info(&f->d, &info);

	switch (fmt) {
	case VD_FORMAT_U8: {
		uint8_t *o = dst;
		unsigned sh = 8 - bits;
		for (uint32_t i = 0; i < n; i++)
			for (uint32_t c = 0; c < ch; c++)
				*o++ = (uint8_t)(((uint32_t)buffer[c][i] << sh) + 128u);
		break;
	}
	case VD_FORMAT_S16: {
		int16_t *o = (int16_t *)dst;
		unsigned sh = 16 - bits;
		if (ch == 2 && !sh) {
			const FLAC__int32 *l = buffer[0], *r = buffer[1];
			for (uint32_t i = 0; i < n; i++) {
				o[2 * i] = (int16_t)l[i];
				o[2 * i + 1] = (int16_t)r[i];
			}
			break;
		}
		for (uint32_t i = 0; i < n; i++)
			for (uint32_t c = 0; c < ch; c++)
				*o++ = (int16_t)((uint32_t)buffer[c][i] << sh);
		break;
	}
	default: {
		int32_t *o = (int32_t *)dst;
		unsigned sh = (fmt == VD_FORMAT_S24 ? 24 : 32) - bits;
		for (uint32_t i = 0; i < n; i++)
			for (uint32_t c = 0; c < ch; c++)
				*o++ = (int32_t)((uint32_t)buffer[c][i] << sh);
		break;
	}
	}
	f->blk_frames = n;
	f->blk_data = dst;
	f->blk_ready = true;
	return FLAC__STREAM_DECODER_WRITE_STATUS_CONTINUE;
}

static void metadata_cb(const FLAC__StreamDecoder *dec, const FLAC__StreamMetadata *m, void *data)
{
	struct flac_dec *f = data;
	const FLAC__StreamMetadata_StreamInfo *si;
	struct vd_dec_info info = { 0 };

	if (m->type != FLAC__METADATA_TYPE_STREAMINFO)
		return;
	si = &m->data.stream_info;
	info.rate = si->sample_rate;
	info.channels = si->channels;
	info.bits = si->bits_per_sample;
	info.format = native_format(si->bits_per_sample);
	info.total_frames = si->total_samples;
	f->max_framesize = si->max_framesize;
	f->streaminfo = true;
	vd_dec_set_info(&f->d, &info);
}

static void error_cb(const FLAC__StreamDecoder *dec, FLAC__StreamDecoderErrorStatus st, void *data)
{
	struct flac_dec *f = data;
	static const char *const why[] = {
		[FLAC__STREAM_DECODER_ERROR_STATUS_LOST_SYNC] = "lost sync (skipped bytes that are not a frame)",
		[FLAC__STREAM_DECODER_ERROR_STATUS_BAD_HEADER] = "corrupt frame header",
		[FLAC__STREAM_DECODER_ERROR_STATUS_FRAME_CRC_MISMATCH] = "frame CRC mismatch (frame output as silence)",
		[FLAC__STREAM_DECODER_ERROR_STATUS_UNPARSEABLE_STREAM] = "unparseable frame",
		[FLAC__STREAM_DECODER_ERROR_STATUS_BAD_METADATA] = "corrupt metadata block",
	};
	const char *w = (unsigned)st < sizeof(why) / sizeof(why[0]) && why[st] ? why[st] : "decoder error";

	if (f->starved)
		return;	/* an artefact of the aborted read, not of the data */
	vd_dec_damaged(&f->d, "FLAC: %s near byte %llu", w, (unsigned long long)f->pos);
}

/* ---- buffer ---- */

static int append(struct flac_dec *f, const uint8_t *in, size_t n)
{
	/* Drop what libFLAC has decoded (and so never needs again) before growing. */
	uint64_t keep_from = f->meta_done ? f->pos : 0;

	if (keep_from > f->base && (keep_from - f->base >= f->len / 2 || f->len + n > f->cap)) {
		size_t drop = (size_t)(keep_from - f->base);
		memmove(f->buf, f->buf + drop, f->len - drop);
		f->len -= drop;
		f->base += drop;
	}
	if (f->len + n > f->cap) {
		size_t cap = f->cap ? f->cap : 65536;
		uint8_t *b;

		while (cap < f->len + n)
			cap *= 2;
		b = realloc(f->buf, cap);
		if (!b)
			return -ENOMEM;
		f->buf = b;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, in, n);
	f->len += n;
	return 0;
}

/* ---- ops ---- */

static int init_decoder(struct flac_dec *f)
{
	FLAC__StreamDecoderInitStatus st;

	st = FLAC__stream_decoder_init_stream(f->fl, read_cb, NULL, tell_cb, NULL, NULL, write_cb, metadata_cb,
					      error_cb, f);
	return st == FLAC__STREAM_DECODER_INIT_STATUS_OK ? 0 : -ENOMEM;
}

static void flac_reset(struct vd_dec *d)
{
	struct flac_dec *f = F(d);

	vd_dec_clear(d);
	FLAC__stream_decoder_finish(f->fl);
	if (init_decoder(f) < 0) {
		f->fatal = true;
		f->fatal_code = vd_dec_error(d, -ENOMEM, "cannot initialise libFLAC");
	} else {
		f->fatal = false;
	}
	f->len = 0;
	f->base = f->rd = f->pos = 0;
	f->eos = f->starved = false;
	f->starved_at = 0;
	f->meta_done = false;
	f->meta_end = 0;
	f->max_framesize = 0;
	f->streaminfo = false;
	f->fixed_strategy = 2;
	f->scan_origin = UINT64_MAX;
	f->blk_ready = false;
	f->finished = false;
}

static void flac_destroy(struct vd_dec *d)
{
	struct flac_dec *f = F(d);

	if (!f)
		return;
	if (f->fl)
		FLAC__stream_decoder_delete(f->fl);
	free(f->buf);
	free(f->blk);
	free(f);
}

static int flac_create(enum vd_sample_format prefer, struct vd_dec **out)
{
	struct flac_dec *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->d.ops = &vd_dec_flac;
	f->d.prefer = prefer;
	f->fl = FLAC__stream_decoder_new();
	if (!f->fl) {
		free(f);
		return -ENOMEM;
	}
	flac_reset(&f->d);
	if (f->fatal) {
		flac_destroy(&f->d);
		return -ENOMEM;
	}
	*out = &f->d;
	return 0;
}

static int flac_feed(struct vd_dec *d, const uint8_t *in, size_t n)
{
	struct flac_dec *f = F(d);

	if (f->fatal || !n)
		return 0;
	return append(f, in, n);
}

static size_t flac_buffered(const struct vd_dec *d)
{
	const struct flac_dec *f = (const struct flac_dec *)d;

	return (size_t)(avail_end(f) - (f->meta_done ? f->pos : f->base));
}

/* libFLAC gave up on a read that ran dry: forget its buffer and start again from @from later. */
static void rewind_to(struct flac_dec *f, uint64_t from, bool metadata)
{
	if (metadata)
		FLAC__stream_decoder_reset(f->fl);
	else
		FLAC__stream_decoder_flush(f->fl);
	f->rd = from;
	f->starved = false;
	f->starved_at = avail_end(f);
}

static int fail(struct flac_dec *f, int code)
{
	f->fatal = true;
	f->fatal_code = code;
	return code;
}

static int flac_pull(struct vd_dec *d, bool eos, struct vd_dec_block *b, void *dst, size_t dst_cap)
{
	struct flac_dec *f = F(d);
	FLAC__uint64 p;

	if (f->fatal)
		return f->fatal_code;
	if (f->finished)
		return 0;
	f->eos = eos;
	if (!f->meta_done) {
		int r = metadata_complete(f);

		if (r < 0)
			return fail(f, r);
		if (r == 0) {
			if (!eos)
				return 0;
			if (!avail_end(f))
				return fail(f, vd_dec_error(d, -ENODATA, "empty FLAC stream"));
			return fail(f, vd_dec_error(d, -ENODATA, "FLAC stream truncated in its metadata (%llu bytes)",
						    (unsigned long long)avail_end(f)));
		}
		if (f->starved_at && avail_end(f) <= f->starved_at && !eos)
			return 0;
		if (!FLAC__stream_decoder_process_until_end_of_metadata(f->fl) || f->starved) {
			if (f->starved) {
				rewind_to(f, 0, true);
				return 0;
			}
			return fail(f, vd_dec_error(d, -EPROTO, "libFLAC could not read the metadata (%s)",
						    FLAC__stream_decoder_get_resolved_state_string(f->fl)));
		}
		if (!f->streaminfo)
			return fail(f, vd_dec_error(d, -EPROTO, "FLAC stream without STREAMINFO"));
		if (!FLAC__stream_decoder_get_decode_position(f->fl, &p))
			p = f->meta_end;
		f->pos = p;
		f->meta_done = true;
		f->starved_at = 0;
	}
	for (;;) {
		FLAC__StreamDecoderState st;
		bool ok;

		if (!eos) {
			if (f->starved_at && avail_end(f) <= f->starved_at)
				return 0;
			if (!frame_complete(f))
				return 0;
		} else if (!frame_complete(f) && !last_frame_complete(f)) {
			/* What is left cannot be a whole frame: the stream was cut. */
			f->finished = true;
			if (f->scan_have_h1)
				vd_dec_error(d, -ENODATA, "FLAC stream truncated: the last %llu bytes are not a complete frame",
					     (unsigned long long)(avail_end(f) - f->pos));
			else if (avail_end(f) > f->pos)
				vd_dec_damaged(d, "FLAC: %llu bytes of trailing data that is not a frame",
					       (unsigned long long)(avail_end(f) - f->pos));
			return 0;
		}
		f->blk_ready = false;
		f->dst = dst;
		f->dst_cap = dst_cap;
		ok = FLAC__stream_decoder_process_single(f->fl);
		f->dst = NULL;
		if (f->starved) {
			rewind_to(f, f->pos, false);
			return 0;
		}
		f->starved_at = 0;
		st = FLAC__stream_decoder_get_state(f->fl);
		if (FLAC__stream_decoder_get_decode_position(f->fl, &p))
			f->pos = p;
		if (f->blk_ready) {
			if (d->error == -ENOMEM)
				return fail(f, -ENOMEM);
			b->data = f->blk_data;
			b->frames = f->blk_frames;
			d->frames += f->blk_frames;
			return 1;
		}
		if (st == FLAC__STREAM_DECODER_END_OF_STREAM) {
			f->finished = true;
			if (!d->damaged && d->info.total_frames && d->frames < d->info.total_frames)
				vd_dec_error(d, -ENODATA, "FLAC stream truncated: %llu of %llu frames decoded",
					     (unsigned long long)d->frames, (unsigned long long)d->info.total_frames);
			else if (f->pos < avail_end(f) && f->pos >= f->meta_end)
				vd_dec_error(d, -ENODATA, "FLAC stream truncated: %llu bytes of an incomplete frame at the end",
					     (unsigned long long)(avail_end(f) - f->pos));
			return 0;
		}
		if (!ok)
			return fail(f, vd_dec_error(d, -EIO, "libFLAC stopped: %s",
						    FLAC__stream_decoder_get_resolved_state_string(f->fl)));
	}
}

const struct vd_dec_ops vd_dec_flac = {
	.codec = 10,	/* VD_ACCEL_CODEC_FLAC */
	.name = "flac",
	.formats = VD_FORMAT_BIT(VD_FORMAT_U8) | VD_FORMAT_BIT(VD_FORMAT_S16) | VD_FORMAT_BIT(VD_FORMAT_S24) |
		   VD_FORMAT_BIT(VD_FORMAT_S32),
	.max_channels = 8,
	.create = flac_create,
	.destroy = flac_destroy,
	.reset = flac_reset,
	.feed = flac_feed,
	.pull = flac_pull,
	.buffered = flac_buffered,
};
