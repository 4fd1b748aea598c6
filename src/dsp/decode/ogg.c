/* dsp/decode/ogg.c - Ogg pages to one logical stream's packets, with resync and chaining (libogg). */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "dsp/decode/ogg.h"

void vd_ogg_init(struct vd_ogg *o, bool (*ours)(const uint8_t *p, long n), const char *codec_name)
{
	memset(o, 0, sizeof(*o));
	ogg_sync_init(&o->oy);
	o->ours = ours;
	o->codec_name = codec_name;
}

void vd_ogg_clear(struct vd_ogg *o)
{
	if (o->have_stream)
		ogg_stream_clear(&o->os);
	o->have_stream = false;
	ogg_sync_clear(&o->oy);
}

void vd_ogg_reset(struct vd_ogg *o)
{
	if (o->have_stream)
		ogg_stream_clear(&o->os);
	ogg_sync_reset(&o->oy);
	o->have_stream = false;
	o->stream_ended = false;
	o->seen_page = false;
	o->fed = 0;
	o->head_len = 0;
	o->other = NULL;
}

int vd_ogg_feed(struct vd_ogg *o, const uint8_t *in, size_t n)
{
	char *dst;

	if (!n)
		return 0;
	if (o->head_len < sizeof(o->head)) {
		size_t k = sizeof(o->head) - o->head_len < n ? sizeof(o->head) - o->head_len : n;
		memcpy(o->head + o->head_len, in, k);
		o->head_len += k;
	}
	if (n > (size_t)LONG_MAX / 2)
		return -ENOMEM;
	dst = ogg_sync_buffer(&o->oy, (long)n);
	if (!dst)
		return -ENOMEM;
	memcpy(dst, in, n);
	ogg_sync_wrote(&o->oy, (long)n);
	o->fed += n;
	return 0;
}

size_t vd_ogg_buffered(const struct vd_ogg *o)
{
	return o->oy.fill > o->oy.returned ? (size_t)(o->oy.fill - o->oy.returned) : 0;
}

/* What a first packet says it is, for error messages. */
static const char *codec_of(const uint8_t *p, long n)
{
	if (n >= 8 && memcmp(p, "OpusHead", 8) == 0)
		return "Opus";
	if (n >= 7 && p[0] == 1 && memcmp(p + 1, "vorbis", 6) == 0)
		return "Vorbis";
	if (n >= 5 && p[0] == 0x7f && memcmp(p + 1, "FLAC", 4) == 0)
		return "FLAC";
	if (n >= 8 && memcmp(p, "Speex   ", 8) == 0)
		return "Speex";
	if (n >= 7 && memcmp(p + 1, "theora", 6) == 0)
		return "Theora";
	return "an unknown codec";
}

static int no_stream(struct vd_ogg *o, struct vd_dec *d)
{
	if (!o->seen_page) {
		const char *what = vd_dec_sniff(o->head, o->head_len);
		return vd_dec_error(d, -EPROTO, "not an Ogg stream (%s)", what ? what : "no Ogg page found");
	}
	if (o->other)
		return vd_dec_error(d, -EPROTO, "not an Ogg %s stream (the Ogg stream holds %s)", o->codec_name, o->other);
	return vd_dec_error(d, -EPROTO, "no Ogg %s stream found", o->codec_name);
}

int vd_ogg_packet(struct vd_ogg *o, struct vd_dec *d, bool eos, ogg_packet *op, bool *bos)
{
	ogg_page pg;

	*bos = false;
	for (;;) {
		int r;

		if (o->have_stream) {
			r = ogg_stream_packetout(&o->os, op);
			if (r == 1) {
				if (op->b_o_s)
					*bos = true;
				return 1;
			}
			if (r < 0) {
				vd_dec_damaged(d, "Ogg %s: packets lost (page sequence gap)", o->codec_name);
				continue;
			}
		}
		r = ogg_sync_pageout(&o->oy, &pg);
		if (r < 0) {
			if (o->seen_page)
				vd_dec_damaged(d, "Ogg %s: skipped bytes that are not a valid page (bad CRC or garbage)",
					       o->codec_name);
			else if (o->head_len >= 4 && memcmp(o->head, "OggS", 4) != 0)
				return no_stream(o, d);
			continue;
		}
		if (r == 0) {
			/* More bytes needed; decide early when nothing can be Ogg. */
			if (!o->seen_page && o->head_len >= 4 && memcmp(o->head, "OggS", 4) != 0)
				return no_stream(o, d);
			if (!eos)
				return 0;
			if (!o->have_stream && !o->seen_page && o->head_len >= 4 && memcmp(o->head, "OggS", 4) == 0)
				return vd_dec_error(d, -ENODATA, "Ogg %s stream truncated in its first page (%llu bytes)",
						    o->codec_name, (unsigned long long)o->fed);
			if (!o->have_stream)
				return o->fed ? no_stream(o, d) : vd_dec_error(d, -ENODATA, "empty Ogg %s stream", o->codec_name);
			if (vd_ogg_buffered(o))
				vd_dec_error(d, -ENODATA, "Ogg %s stream truncated: %zu bytes of an incomplete page at the end",
					     o->codec_name, vd_ogg_buffered(o));
			else if (!o->stream_ended && !d->damaged)	/* a lost page explains it otherwise */
				vd_dec_error(d, -ENODATA, "Ogg %s stream truncated: no end-of-stream page", o->codec_name);
			return 0;
		}
		o->seen_page = true;
		if (ogg_page_bos(&pg)) {
			bool mine = o->ours(pg.body, pg.body_len);

			if (!mine) {
				if (!o->other)
					o->other = codec_of(pg.body, pg.body_len);
				continue;
			}
			if (o->have_stream) {
				if (!o->stream_ended)
					vd_dec_damaged(d, "Ogg %s: a new stream began before the previous one ended",
						       o->codec_name);
				ogg_stream_clear(&o->os);
			}
			ogg_stream_init(&o->os, ogg_page_serialno(&pg));
			o->have_stream = true;
			o->stream_ended = false;
		} else if (!o->have_stream || o->stream_ended || ogg_page_serialno(&pg) != o->os.serialno) {
			continue;	/* another logical stream, or a stray page */
		}
		if (ogg_stream_pagein(&o->os, &pg) < 0)
			continue;
		if (ogg_page_eos(&pg))
			o->stream_ended = true;
	}
}
