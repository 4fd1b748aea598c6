/* accel/codec_mp3.c - the MP3 (libmpg123) decoder codec of the "decode" accelerator. */
#include "accel/codec_decode.h"

static void mp3_caps(struct vd_accel_codec_caps *caps)
{
	accel_decode_caps(&vd_dec_mp3, caps);
}

static int mp3_init(const struct vd_accel_params *p, struct accel_codec **c, char *err, size_t errsz)
{
	return accel_decode_init(&vd_dec_mp3, p, c, err, errsz);
}

const struct accel_codec_ops accel_codec_mp3 = ACCEL_DECODE_OPS(VD_ACCEL_CODEC_MP3, "mp3", mp3_caps, mp3_init);
