/* accel/codec_vorbis.c - the Vorbis in Ogg (libvorbis, libogg) decoder codec of the "decode" accelerator. */
#include "accel/codec_decode.h"

static void vorbis_caps(struct vd_accel_codec_caps *caps)
{
	accel_decode_caps(&vd_dec_vorbis, caps);
}

static int vorbis_init(const struct vd_accel_params *p, struct accel_codec **c, char *err, size_t errsz)
{
	return accel_decode_init(&vd_dec_vorbis, p, c, err, errsz);
}

const struct accel_codec_ops accel_codec_vorbis = ACCEL_DECODE_OPS(VD_ACCEL_CODEC_VORBIS, "vorbis", vorbis_caps, vorbis_init);
