/* accel/codec_decode.h - the part of the decoder codecs (FLAC, MP3, Vorbis, Opus) they share.
 *
 * codec_decode.c turns a decoder core (src/dsp/decode) into an accel codec:
 * task input is fed to the core, decoded blocks go through a PCM codec
 * instance (format, channels, rate: params.out applied after decoding) into
 * the task output, and what does not fit is carried to the next task with
 * VD_ACCEL_OUT_MORE_PENDING. codec_<name>.c only binds a core to an id.
 */
#ifndef VD_ACCEL_CODEC_DECODE_H
#define VD_ACCEL_CODEC_DECODE_H

#include "accel/codec.h"
#include "dsp/decode/decode.h"

void accel_decode_caps(const struct vd_dec_ops *dops, struct vd_accel_codec_caps *caps);
int accel_decode_init(const struct vd_dec_ops *dops, const struct vd_accel_params *p, struct accel_codec **c,
		      char *err, size_t errsz);
void accel_decode_normalize(struct vd_accel_params *p);
void accel_decode_destroy(struct accel_codec *c);
uint64_t accel_decode_max_output(const struct accel_codec *c, uint64_t in_bytes);
uint32_t accel_decode_granule(const struct accel_codec *c);
int accel_decode_process(struct accel_codec *c, const uint8_t *in, size_t in_size, struct accel_out *out,
			 const atomic_uint *cancel, unsigned gen);
int accel_decode_drain(struct accel_codec *c, struct accel_out *out);
void accel_decode_reset(struct accel_codec *c);
void accel_decode_new_stream(struct accel_codec *c);
void accel_decode_metadata(const struct accel_codec *c, struct vd_accel_metadata *md);

/* The ops table of a decoder codec over core @core (a struct vd_dec_ops). */
#define ACCEL_DECODE_OPS(codec_id, codec_name, caps_fn, init_fn)	\
	{								\
		.id = (codec_id),					\
		.name = (codec_name),					\
		.caps = (caps_fn),					\
		.init = (init_fn),					\
		.normalize = accel_decode_normalize,			\
		.destroy = accel_decode_destroy,			\
		.max_output = accel_decode_max_output,			\
		.input_granule = accel_decode_granule,			\
		.process = accel_decode_process,			\
		.drain = accel_decode_drain,				\
		.reset = accel_decode_reset,				\
		.new_stream = accel_decode_new_stream,			\
		.metadata = accel_decode_metadata,			\
	}

extern const struct accel_codec_ops accel_codec_flac;
extern const struct accel_codec_ops accel_codec_mp3;
extern const struct accel_codec_ops accel_codec_vorbis;
extern const struct accel_codec_ops accel_codec_opus;

#endif
