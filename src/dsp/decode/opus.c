/* dsp/decode/opus.c - the Opus decoder core: Ogg Opus (RFC 7845) through libogg and libopus.
 *
 * OpusHead sets up a multistream decoder at 48 kHz with the header's
 * output gain (OPUS_SET_GAIN); OpusTags is skipped. The pre-skip is
 * dropped from the start of each link and the end is trimmed to the last
 * page's granule position, as RFC 7845 section 4 asks and as opusdec
 * does. Channel mapping family 1 (Vorbis order) comes out in WAVE order.
 * Blocks are F32 (what libopus's float decoder produces); opusdec's
 * `--float --rate 48000` output is the same bits. A packet libopus rejects
 * is damage: skipped and counted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <opus/opus_multistream.h>

#include "dsp/decode/ogg.h"

#define MAX_PACKET_FRAMES 5760	/* 120 ms at 48 kHz */

struct opus_dec {
	struct vd_dec d;
	struct vd_ogg ogg;
	OpusMSDecoder *st;
	int headers;			/* 0: want OpusHead, 1: want OpusTags, 2: audio */
	uint32_t channels;
	uint32_t pre_skip, skip_left;	/* frames still to drop at the start of the link */
	int64_t link_frames;		/* decoded frames of this link, pre-skip included */
	const uint8_t *order;		/* WAVE reorder for family 1, NULL otherwise */
	float *pcm, *blk;
	bool fatal;
	int fatal_code;
};

static struct opus_dec *O(struct vd_dec *d)
{
	return (struct opus_dec *)d;
}

static bool is_opus(const uint8_t *p, long n)
{
	return n >= 8 && memcmp(p, "OpusHead", 8) == 0;
}

static void clear_link(struct opus_dec *o)
{
	if (o->st)
		opus_multistream_decoder_destroy(o->st);
	o->st = NULL;
	o->headers = 0;
	o->link_frames = 0;
	o->skip_left = 0;
	o->order = NULL;
}

static void opus_reset(struct vd_dec *d)
{
	struct opus_dec *o = O(d);

	vd_dec_clear(d);
	clear_link(o);
	vd_ogg_reset(&o->ogg);
	o->fatal = false;
}

static void opus_destroy(struct vd_dec *d)
{
	struct opus_dec *o = O(d);

	if (!o)
		return;
	clear_link(o);
	vd_ogg_clear(&o->ogg);
	free(o->pcm);
	free(o->blk);
	free(o);
}

static int opus_create(enum vd_sample_format prefer, struct vd_dec **out)
{
	struct opus_dec *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	o->d.ops = &vd_dec_opus;
	o->d.prefer = prefer;
	o->pcm = malloc(sizeof(float) * MAX_PACKET_FRAMES * VD_MAX_CHANNELS);
	o->blk = malloc(sizeof(float) * MAX_PACKET_FRAMES * VD_MAX_CHANNELS);
	if (!o->pcm || !o->blk) {
		free(o->pcm);
		free(o->blk);
		free(o);
		return -ENOMEM;
	}
	vd_ogg_init(&o->ogg, is_opus, "Opus");
	*out = &o->d;
	return 0;
}

static int fail(struct opus_dec *o, int code)
{
	o->fatal = true;
	o->fatal_code = code;
	return code;
}

static int opus_feed(struct vd_dec *d, const uint8_t *in, size_t n)
{
	struct opus_dec *o = O(d);

	if (o->fatal)
		return 0;
	if (vd_ogg_feed(&o->ogg, in, n) < 0)
		return fail(o, vd_dec_error(d, -ENOMEM, "out of memory buffering Ogg pages"));
	return 0;
}

static size_t opus_buffered(const struct vd_dec *d)
{
	return vd_ogg_buffered(&((const struct opus_dec *)d)->ogg);
}

static int head(struct opus_dec *o, const ogg_packet *op)
{
	const uint8_t *p = op->packet;
	uint8_t mapping[255];
	int streams, coupled, err;
	uint32_t ch;
	int16_t gain;
	struct vd_dec_info info = { 0 };

	if (op->bytes < 19 || !is_opus(p, op->bytes))
		return fail(o, vd_dec_error(&o->d, -EPROTO, "bad OpusHead packet (%ld bytes)", op->bytes));
	if ((p[8] >> 4) != 0)
		return fail(o, vd_dec_error(&o->d, -EOPNOTSUPP, "unsupported Ogg Opus version %u", p[8]));
	ch = p[9];
	o->pre_skip = (uint32_t)p[10] | ((uint32_t)p[11] << 8);
	gain = (int16_t)((uint16_t)p[16] | ((uint16_t)p[17] << 8));
	if (ch < 1)
		return fail(o, vd_dec_error(&o->d, -EPROTO, "OpusHead with 0 channels"));
	if (ch > VD_MAX_CHANNELS)
		return fail(o, vd_dec_error(&o->d, -EOPNOTSUPP, "Opus stream with %u channels (at most %d supported)",
					    ch, VD_MAX_CHANNELS));
	if (p[18] == 0) {
		if (ch > 2)
			return fail(o, vd_dec_error(&o->d, -EPROTO, "OpusHead: mapping family 0 with %u channels", ch));
		streams = 1;
		coupled = (int)ch - 1;
		mapping[0] = 0;
		mapping[1] = 1;
	} else {
		if (op->bytes < 21 + (long)ch)
			return fail(o, vd_dec_error(&o->d, -EPROTO, "OpusHead too short for its channel mapping"));
		streams = p[19];
		coupled = p[20];
		memcpy(mapping, p + 21, ch);
		if (streams < 1 || coupled > streams || streams + coupled > 255)
			return fail(o, vd_dec_error(&o->d, -EPROTO, "OpusHead: %d streams, %d coupled", streams, coupled));
		for (uint32_t i = 0; i < ch; i++)
			if (mapping[i] != 255 && mapping[i] >= streams + coupled)
				return fail(o, vd_dec_error(&o->d, -EPROTO, "OpusHead: channel %u maps to stream %u of %d",
							    i, mapping[i], streams + coupled));
		if (p[18] == 1)
			o->order = vd_dec_vorbis_order(ch);
	}
	o->st = opus_multistream_decoder_create(48000, (int)ch, streams, coupled, mapping, &err);
	if (!o->st)
		return fail(o, vd_dec_error(&o->d, -EPROTO, "libopus refused the stream layout: %s", opus_strerror(err)));
	if (gain)
		opus_multistream_decoder_ctl(o->st, OPUS_SET_GAIN(gain));
	o->channels = ch;
	o->skip_left = o->pre_skip;
	o->link_frames = 0;
	o->headers = 1;
	info.rate = 48000;
	info.channels = ch;
	info.format = VD_FORMAT_F32;
	vd_dec_set_info(&o->d, &info);
	return 0;
}

static int opus_pull(struct vd_dec *d, bool eos, struct vd_dec_block *b, void *dst, size_t dst_cap)
{
	struct opus_dec *o = O(d);

	if (o->fatal)
		return o->fatal_code;
	for (;;) {
		ogg_packet op;
		bool bos;
		int r, n, start;

		r = vd_ogg_packet(&o->ogg, d, eos, &op, &bos);
		if (r < 0)
			return fail(o, r);
		if (r == 0) {
			if (eos && o->ogg.have_stream && o->headers < 2 && !d->error)
				vd_dec_error(d, -ENODATA, "Ogg Opus stream truncated in its headers");
			return 0;
		}
		if (bos)
			clear_link(o);
		if (o->headers == 0) {
			if ((r = head(o, &op)) < 0)
				return r;
			continue;
		}
		if (o->headers == 1) {
			if (op.bytes < 8 || memcmp(op.packet, "OpusTags", 8) != 0)
				vd_dec_damaged(d, "Ogg Opus: the second packet is not OpusTags");
			o->headers = 2;
			continue;
		}
		/* Straight into the caller's room when nothing is reordered or dropped at the start. */
		float *into = dst && dst_cap >= sizeof(float) * MAX_PACKET_FRAMES * o->channels && !o->order &&
			      !o->skip_left ? dst : o->pcm;

		n = opus_multistream_decode_float(o->st, op.packet, (opus_int32)op.bytes, into, MAX_PACKET_FRAMES, 0);
		if (n < 0) {
			vd_dec_damaged(d, "Ogg Opus: undecodable packet (%s)", opus_strerror(n));
			continue;
		}
		o->link_frames += n;
		if (op.e_o_s && op.granulepos >= 0 && o->link_frames > op.granulepos) {
			/* The last page says where the stream ends: trim the padding. */
			int64_t extra = o->link_frames - op.granulepos;
			n = extra >= n ? 0 : n - (int)extra;
		}
		start = 0;
		if (o->skip_left) {
			start = (uint32_t)n < o->skip_left ? n : (int)o->skip_left;
			o->skip_left -= (uint32_t)start;
		}
		if (n - start <= 0)
			continue;
		if (o->order) {
			for (int i = start; i < n; i++)
				for (uint32_t c = 0; c < o->channels; c++)
					o->blk[(size_t)(i - start) * o->channels + c] =
						o->pcm[(size_t)i * o->channels + o->order[c]];
			b->data = o->blk;
		} else {
			b->data = into + (size_t)start * o->channels;
		}
		b->frames = (uint32_t)(n - start);
		d->frames += b->frames;
		return 1;
	}
}

const struct vd_dec_ops vd_dec_opus = {
	.codec = 17,	/* VD_ACCEL_CODEC_OPUS */
	.name = "opus",
	.formats = VD_FORMAT_BIT(VD_FORMAT_F32),
	.max_channels = VD_MAX_CHANNELS,
	.create = opus_create,
	.destroy = opus_destroy,
	.reset = opus_reset,
	.feed = opus_feed,
	.pull = opus_pull,
	.buffered = opus_buffered,
};
