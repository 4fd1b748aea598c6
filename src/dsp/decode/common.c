/* dsp/decode/common.c - what every decoder core shares: error records, stream info, sniffing. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dsp/decode/decode.h"

int vd_dec_error(struct vd_dec *d, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->error_text, sizeof(d->error_text), fmt, ap);
	va_end(ap);
	d->error = code;
	d->error_new = true;
	return code;
}

void vd_dec_damaged(struct vd_dec *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->error_text, sizeof(d->error_text), fmt, ap);
	va_end(ap);
	d->error = -EBADMSG;
	d->error_new = true;
	d->damaged++;
}

void vd_dec_set_info(struct vd_dec *d, const struct vd_dec_info *info)
{
	if (d->info_valid && (d->info.rate != info->rate || d->info.channels != info->channels ||
			      d->info.bits != info->bits || d->info.format != info->format))
		d->info_changed = true;
	d->info = *info;
	d->info_valid = true;
}

void vd_dec_clear(struct vd_dec *d)
{
	const struct vd_dec_ops *ops = d->ops;
	enum vd_sample_format prefer = d->prefer;

	memset(d, 0, sizeof(*d));
	d->ops = ops;
	d->prefer = prefer;
}

const char *vd_dec_sniff(const uint8_t *p, size_t n)
{
	if (n >= 4 && memcmp(p, "fLaC", 4) == 0)
		return "FLAC";
	if (n >= 4 && memcmp(p, "OggS", 4) == 0)
		return "Ogg";
	if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WAVE", 4) == 0)
		return "RIFF/WAVE";
	if (n >= 3 && memcmp(p, "ID3", 3) == 0)
		return "ID3-tagged";
	return NULL;
}

const uint8_t *vd_dec_vorbis_order(uint32_t ch)
{
	/* out[i] = in[order[i]]: Vorbis puts the centre second and LFE last. */
	static const uint8_t order[9][8] = {
		[1] = { 0 },
		[2] = { 0, 1 },
		[3] = { 0, 2, 1 },
		[4] = { 0, 1, 2, 3 },
		[5] = { 0, 2, 1, 3, 4 },
		[6] = { 0, 2, 1, 5, 3, 4 },
		[7] = { 0, 2, 1, 6, 5, 3, 4 },
		[8] = { 0, 2, 1, 7, 5, 6, 3, 4 },
	};

	return ch >= 3 && ch <= 8 ? order[ch] : NULL;
}
