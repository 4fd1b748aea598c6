/* accel/codec_opus.c - the Opus in Ogg (libopus, libogg) decoder codec of the "decode" accelerator. */
#include "accel/codec_decode.h"

static void opus_caps(struct vd_accel_codec_caps *caps)
{
	accel_decode_caps(&vd_dec_opus, caps);
}

static int opus_init(const struct vd_accel_params *p, struct accel_codec **c, char *err, size_t errsz)
{
	return accel_decode_init(&vd_dec_opus, p, c, err, errsz);
}

const struct accel_codec_ops accel_codec_opus = ACCEL_DECODE_OPS(VD_ACCEL_CODEC_OPUS, "opus", opus_caps, opus_init);
