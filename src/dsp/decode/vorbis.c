/* dsp/decode/vorbis.c - the Vorbis decoder core: Ogg Vorbis through libogg and libvorbis.
 *
 * The three header packets set up the synthesis; every later packet adds
 * a block whose PCM comes out in blocks of at most MAX_BLOCK frames.
 * libvorbis trims the stream's start and end by the granule positions (as
 * vorbisfile, and so oggdec, does). Channels come out in WAVE order (the
 * Vorbis order puts the centre second and the LFE last). Blocks are F32;
 * when the caller prefers S16 they are S16, rounded and clipped exactly as
 * vorbisfile's ov_read() does (and so as `oggdec` writes them).
 * A chained stream whose parameters differ is reported as a change.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vorbis/codec.h>

#include "dsp/decode/ogg.h"

#define MAX_BLOCK 4096

struct vorbis_dec {
	struct vd_dec d;
	struct vd_ogg ogg;
	vorbis_info vi;
	vorbis_comment vc;
	vorbis_dsp_state vd;
	vorbis_block vb;
	int headers;			/* header packets read in this link (3 = decoding) */
	bool synth;			/* vd and vb are initialised */
	bool s16;
	void *blk;
	size_t blk_cap;
	bool fatal;
	int fatal_code;
};

static struct vorbis_dec *V(struct vd_dec *d)
{
	return (struct vorbis_dec *)d;
}

static bool is_vorbis(const uint8_t *p, long n)
{
	return n >= 7 && p[0] == 1 && memcmp(p + 1, "vorbis", 6) == 0;
}

static void clear_link(struct vorbis_dec *v)
{
	if (v->synth) {
		vorbis_block_clear(&v->vb);
		vorbis_dsp_clear(&v->vd);
		v->synth = false;
	}
	vorbis_comment_clear(&v->vc);
	vorbis_info_clear(&v->vi);
	vorbis_info_init(&v->vi);
	vorbis_comment_init(&v->vc);
	v->headers = 0;
}

static void vorbis_reset(struct vd_dec *d)
{
	struct vorbis_dec *v = V(d);

	vd_dec_clear(d);
	clear_link(v);
	vd_ogg_reset(&v->ogg);
	v->fatal = false;
}

static void vorbis_destroy(struct vd_dec *d)
{
	struct vorbis_dec *v = V(d);

	if (!v)
		return;
	clear_link(v);
	vorbis_comment_clear(&v->vc);
	vorbis_info_clear(&v->vi);
	vd_ogg_clear(&v->ogg);
	free(v->blk);
	free(v);
}

static int vorbis_create(enum vd_sample_format prefer, struct vd_dec **out)
{
	struct vorbis_dec *v = calloc(1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	v->d.ops = &vd_dec_vorbis;
	v->d.prefer = prefer;
	v->s16 = prefer == VD_FORMAT_S16;
	vorbis_info_init(&v->vi);
	vorbis_comment_init(&v->vc);
	vd_ogg_init(&v->ogg, is_vorbis, "Vorbis");
	*out = &v->d;
	return 0;
}

static int fail(struct vorbis_dec *v, int code)
{
	v->fatal = true;
	v->fatal_code = code;
	return code;
}

static int vorbis_feed(struct vd_dec *d, const uint8_t *in, size_t n)
{
	struct vorbis_dec *v = V(d);

	if (v->fatal)
		return 0;
	if (vd_ogg_feed(&v->ogg, in, n) < 0)
		return fail(v, vd_dec_error(d, -ENOMEM, "out of memory buffering Ogg pages"));
	return 0;
}

static size_t vorbis_buffered(const struct vd_dec *d)
{
	return vd_ogg_buffered(&((const struct vorbis_dec *)d)->ogg);
}

static int header(struct vorbis_dec *v, ogg_packet *op)
{
	struct vd_dec_info info = { 0 };
	int r = vorbis_synthesis_headerin(&v->vi, &v->vc, op);

	if (r < 0)
		return fail(v, vd_dec_error(&v->d, -EPROTO, "bad Vorbis %s header (libvorbis error %d)",
					    v->headers == 0 ? "identification" : v->headers == 1 ? "comment" : "setup", r));
	if (++v->headers < 3)
		return 0;
	if (v->vi.channels < 1 || v->vi.channels > VD_MAX_CHANNELS)
		return fail(v, vd_dec_error(&v->d, -EOPNOTSUPP, "Vorbis stream with %d channels (at most %d supported)",
					    v->vi.channels, VD_MAX_CHANNELS));
	if (vorbis_synthesis_init(&v->vd, &v->vi) != 0)
		return fail(v, vd_dec_error(&v->d, -EPROTO, "libvorbis refused the stream's setup"));
	vorbis_block_init(&v->vd, &v->vb);
	v->synth = true;
	info.rate = (uint32_t)v->vi.rate;
	info.channels = (uint32_t)v->vi.channels;
	info.format = v->s16 ? VD_FORMAT_S16 : VD_FORMAT_F32;
	info.bitrate = v->vi.bitrate_nominal > 0 ? (uint32_t)v->vi.bitrate_nominal : 0;
	vd_dec_set_info(&v->d, &info);
	return 0;
}

/* ov_read()'s conversion: scale by 32768, round to nearest, clip. */
static int16_t to_s16(float x)
{
	long s = lrintf(x * 32768.f);

	return (int16_t)(s > 32767 ? 32767 : s < -32768 ? -32768 : s);
}

static int emit(struct vorbis_dec *v, float **pcm, int n, struct vd_dec_block *b, void *dst, size_t dst_cap)
{
	uint32_t ch = (uint32_t)v->vi.channels;
	const uint8_t *ord = vd_dec_vorbis_order(ch);
	size_t need;
	void *to;

	if (n > MAX_BLOCK)
		n = MAX_BLOCK;
	need = (size_t)n * ch * (v->s16 ? 2 : 4);
	if (dst && need <= dst_cap) {
		to = dst;
	} else if (need > v->blk_cap) {
		void *p = realloc(v->blk, need);
		if (!p)
			return fail(v, vd_dec_error(&v->d, -ENOMEM, "out of memory for a Vorbis block"));
		v->blk = p;
		v->blk_cap = need;
		to = p;
	} else {
		to = v->blk;
	}
	if (ch == 2 && !v->s16) {
		/* The common case, row by row: sequential writes. */
		const float *l = pcm[0], *r = pcm[1];
		float *o = to;
		for (int i = 0; i < n; i++) {
			o[2 * i] = l[i];
			o[2 * i + 1] = r[i];
		}
	} else {
		for (uint32_t c = 0; c < ch; c++) {
			const float *src = pcm[ord ? ord[c] : c];
			if (v->s16) {
				int16_t *o = (int16_t *)to + c;
				for (int i = 0; i < n; i++)
					o[(size_t)i * ch] = to_s16(src[i]);
			} else {
				float *o = (float *)to + c;
				for (int i = 0; i < n; i++)
					o[(size_t)i * ch] = src[i];
			}
		}
	}
	vorbis_synthesis_read(&v->vd, n);
	b->data = to;
	b->frames = (uint32_t)n;
	v->d.frames += (uint64_t)n;
	return 1;
}

static int vorbis_pull(struct vd_dec *d, bool eos, struct vd_dec_block *b, void *dst, size_t dst_cap)
{
	struct vorbis_dec *v = V(d);

	if (v->fatal)
		return v->fatal_code;
	for (;;) {
		ogg_packet op;
		bool bos;
		float **pcm;
		int r, n;

		if (v->synth && (n = vorbis_synthesis_pcmout(&v->vd, &pcm)) > 0)
			return emit(v, pcm, n, b, dst, dst_cap);
		r = vd_ogg_packet(&v->ogg, d, eos, &op, &bos);
		if (r < 0)
			return fail(v, r);
		if (r == 0) {
			if (eos && v->ogg.have_stream && v->headers < 3 && !d->error)
				vd_dec_error(d, -ENODATA, "Ogg Vorbis stream truncated in its headers");
			return 0;
		}
		if (bos)
			clear_link(v);
		if (v->headers < 3) {
			if ((r = header(v, &op)) < 0)
				return r;
			continue;
		}
		r = vorbis_synthesis(&v->vb, &op);
		if (r == OV_ENOTAUDIO)
			continue;	/* a stray header packet */
		if (r != 0) {
			vd_dec_damaged(d, "Ogg Vorbis: undecodable audio packet (libvorbis error %d)", r);
			continue;
		}
		vorbis_synthesis_blockin(&v->vd, &v->vb);
	}
}

const struct vd_dec_ops vd_dec_vorbis = {
	.codec = 9,	/* VD_ACCEL_CODEC_VORBIS */
	.name = "vorbis",
	.formats = VD_FORMAT_BIT(VD_FORMAT_S16) | VD_FORMAT_BIT(VD_FORMAT_F32),
	.max_channels = VD_MAX_CHANNELS,
	.create = vorbis_create,
	.destroy = vorbis_destroy,
	.reset = vorbis_reset,
	.feed = vorbis_feed,
	.pull = vorbis_pull,
	.buffered = vorbis_buffered,
};
