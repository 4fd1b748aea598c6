/* accel/codec.h - the codec layer of the accel engine: one ops table per codec id.
 *
 * A codec turns one task's input into its output. Consecutive tasks form one
 * stream, so the codec carries its state from task to task; reset() starts
 * a new stream (NEW_STREAM), drain() ends one (END_OF_STREAM). The engine
 * sizes each task's output buffer with max_output() for a full input, so
 * process() + drain() must never need more than that. Decoders (FLAC, MP3,
 * Opus, Vorbis) add a table to accel_codecs[] and nothing else changes.
 *
 * Calls on one codec instance are serialised by the engine (one task at a
 * time per session) and happen outside the session lock, possibly on
 * different threads over time.
 */
#ifndef VD_ACCEL_CODEC_H
#define VD_ACCEL_CODEC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <virtdsp/accel.h>

struct accel_codec;

/** Where process()/drain() write; @size grows as output is produced. */
struct accel_out {
	uint8_t *data;
	size_t cap;
	size_t size;
	uint32_t flags;		/**< VD_ACCEL_OUT_* set by the codec */
};

struct accel_codec_ops {
	uint32_t id;			/**< enum vd_accel_codec */
	const char *name;
	void (*caps)(struct vd_accel_codec_caps *caps);
	/** Validate @p (after defaults are filled in by normalize). 0 or -EINVAL with @err set. */
	int (*init)(const struct vd_accel_params *p, struct accel_codec **c, char *err, size_t errsz);
	/** Fill the "0 = same as input" defaults of @p in place. */
	void (*normalize)(struct vd_accel_params *p);
	void (*destroy)(struct accel_codec *c);
	/** Worst-case output bytes of one task with @in_bytes of input, incl. drain tail and drift. */
	uint64_t (*max_output)(const struct accel_codec *c, uint64_t in_bytes);
	/** Input sizes must be a multiple of this (a PCM frame; 1 for compressed input). */
	uint32_t (*input_granule)(const struct accel_codec *c);
	/**
	 * Convert @in (the whole task input) into @out. Checks @cancel between
	 * chunks of bounded work and returns -ECANCELED when it was raised (the
	 * stream state is then undefined until reset()).
	 */
	int (*process)(struct accel_codec *c, const uint8_t *in, size_t in_size,
		       struct accel_out *out, const atomic_uint *cancel, unsigned gen);
	/** End of stream: flush what the codec still holds into @out. */
	int (*drain)(struct accel_codec *c, struct accel_out *out);
	/** Forget the stream (NEW_STREAM, or after a cancelled task). */
	void (*reset)(struct accel_codec *c);
	/** Optional: drift correction in [0.98, 1.02]; -EOPNOTSUPP when the codec has no rate converter. */
	int (*set_adjust)(struct accel_codec *c, double adjust);
	/**
	 * Optional: NEW_STREAM for codecs whose streams follow each other
	 * (decoders: the previous file ends here but what it still holds is
	 * emitted, and the output chain runs on: gapless). NULL: reset().
	 * reset() stays what a cancelled task gets.
	 */
	void (*new_stream)(struct accel_codec *c);
	/** Optional: the stream as found in it (GET_METADATA); NULL: the engine reports the params. */
	void (*metadata)(const struct accel_codec *c, struct vd_accel_metadata *md);
};

extern const struct accel_codec_ops accel_codec_pcm;

/** The codecs of the "src" accelerator, NULL-terminated. */
extern const struct accel_codec_ops *const accel_src_codecs[];
/** The codecs of the "decode" accelerator (src/accel/codec_decode.c), NULL-terminated. */
extern const struct accel_codec_ops *const accel_decode_codecs[];

#endif
