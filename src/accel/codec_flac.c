/* accel/codec_flac.c - the FLAC (libFLAC) decoder codec of the "decode" accelerator. */
#include "accel/codec_decode.h"

static void flac_caps(struct vd_accel_codec_caps *caps)
{
	accel_decode_caps(&vd_dec_flac, caps);
}

static int flac_init(const struct vd_accel_params *p, struct accel_codec **c, char *err, size_t errsz)
{
	return accel_decode_init(&vd_dec_flac, p, c, err, errsz);
}

const struct accel_codec_ops accel_codec_flac = ACCEL_DECODE_OPS(VD_ACCEL_CODEC_FLAC, "flac", flac_caps, flac_init);
