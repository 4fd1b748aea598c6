/* dsp/decode/ogg.h - the Ogg layer shared by the Vorbis and Opus cores (libogg).
 *
 * Feeds bytes into libogg's sync buffer and hands out the packets of one
 * logical stream: the first one whose first packet the codec recognises.
 * Pages of other logical streams (multiplexed video, another codec) are
 * skipped. Chained streams (a new beginning-of-stream page after an
 * end-of-stream page) are followed, and the caller told so it can read the
 * new headers. Resynchronisation: bytes that are not a valid page (bad CRC,
 * garbage) are skipped by libogg and counted as damage; a gap in a stream's
 * page sequence numbers is damage too (the lost packets are not decoded).
 */
#ifndef VD_DSP_DECODE_OGG_H
#define VD_DSP_DECODE_OGG_H

#include <stdbool.h>
#include <stdint.h>

#include <ogg/ogg.h>

#include "dsp/decode/decode.h"

struct vd_ogg {
	ogg_sync_state oy;
	ogg_stream_state os;
	bool have_stream;		/* os follows a logical stream of our codec */
	bool stream_ended;		/* its end-of-stream page went in */
	bool seen_page;			/* at least one valid page */
	uint64_t fed;
	uint8_t head[12];
	size_t head_len;
	const char *other;		/* a codec found instead of ours (for the error) */
	/* The codec: does this first packet of a logical stream belong to us? */
	bool (*ours)(const uint8_t *p, long n);
	const char *codec_name;
};

void vd_ogg_init(struct vd_ogg *o, bool (*ours)(const uint8_t *p, long n), const char *codec_name);
void vd_ogg_clear(struct vd_ogg *o);
/** Forget everything (a new stream of bytes). */
void vd_ogg_reset(struct vd_ogg *o);
int vd_ogg_feed(struct vd_ogg *o, const uint8_t *in, size_t n);
size_t vd_ogg_buffered(const struct vd_ogg *o);

/**
 * The next packet of our logical stream: 1 with @op (and *@bos set when it
 * is the first packet of a new logical stream: headers follow), 0 when
 * more bytes are needed (with @eos: the stream is finished; truncation is
 * recorded in @d), or -errno (sticky for the caller: no stream of ours).
 */
int vd_ogg_packet(struct vd_ogg *o, struct vd_dec *d, bool eos, ogg_packet *op, bool *bos);

#endif
