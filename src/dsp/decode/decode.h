/* dsp/decode/decode.h - decoder cores: compressed bytes in, blocks of interleaved PCM out.
 *
 * One core per codec, each over its reference library: FLAC (libFLAC stream
 * decoder), MP3 (libmpg123 feed API), Vorbis in Ogg (libogg + libvorbis),
 * Opus in Ogg (libogg + libopus). A core is push-driven: feed() copies
 * whatever bytes arrived (split anywhere), pull() returns the next decoded
 * block once the data for it is complete. The sequence of blocks depends
 * only on the stream, never on how it was split, so any split decodes to
 * the same PCM. Cores never allocate per block beyond their own buffers,
 * which grow with the largest frame seen and stay bounded by the codec's
 * limits.
 *
 * Errors are of two kinds. Damaged data the core can step over (a bad
 * checksum, lost sync, a missing page) counts in `damaged`, sets
 * `error`/`error_text`, and decoding goes on (the core resynchronises).
 * A stream the core cannot decode at all (another codec, an unsupported
 * layout) makes pull() return the error until reset().
 */
#ifndef VD_DSP_DECODE_H
#define VD_DSP_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <virtdsp/format.h>

#define VD_DEC_ERROR_MAX 160

/** The stream's parameters as found in it. */
struct vd_dec_info {
	uint32_t rate;
	uint32_t channels;
	uint32_t bits;			/**< sample depth of the stream (FLAC), 0 for lossy codecs */
	enum vd_sample_format format;	/**< format of the blocks pull() returns */
	uint64_t total_frames;		/**< length the stream announces (0: unknown) */
	uint32_t bitrate;		/**< nominal bits per second (0: unknown) */
};

struct vd_dec_block {
	const void *data;		/**< interleaved, info.format; valid until the next call */
	uint32_t frames;
};

struct vd_dec_ops;

/** The part every core shares; each core's state starts with it. */
struct vd_dec {
	const struct vd_dec_ops *ops;
	enum vd_sample_format prefer;	/**< output format the caller would like (a hint) */
	struct vd_dec_info info;
	bool info_valid;		/**< headers parsed: info describes the stream */
	bool info_changed;		/**< info changed: the next block is the first with it */
	uint64_t damaged;		/**< resynchronisations since reset */
	uint64_t frames;		/**< PCM frames returned since reset */
	int error;			/**< last error (-errno), 0 if none since reset */
	bool error_new;			/**< an error was recorded since the caller last cleared this */
	char error_text[VD_DEC_ERROR_MAX];
};

struct vd_dec_ops {
	uint32_t codec;			/**< enum vd_accel_codec */
	const char *name;
	/** Native block formats this core can produce (the others are converted by the caller). */
	uint32_t formats;
	uint32_t max_channels;
	int (*create)(enum vd_sample_format prefer, struct vd_dec **d);
	void (*destroy)(struct vd_dec *d);
	/** Forget the stream: the next byte fed starts a new one. */
	void (*reset)(struct vd_dec *d);
	/** Append @n bytes of the stream (copied). 0 or -ENOMEM. */
	int (*feed)(struct vd_dec *d, const uint8_t *in, size_t n);
	/**
	 * The next block: 1 with @b filled, 0 when more input is needed (or,
	 * with @eos, the stream is finished), -errno when the stream cannot be
	 * decoded (error_text says why; sticky until reset). @eos: no more
	 * bytes will be fed to this stream, so incomplete data is truncation.
	 * @dst (may be NULL): @dst_cap bytes where the core may put the block
	 * to spare a copy (b->data == dst then); the core uses its own buffer
	 * when the block does not fit or it cannot.
	 */
	int (*pull)(struct vd_dec *d, bool eos, struct vd_dec_block *b, void *dst, size_t dst_cap);
	/** Compressed bytes fed but not yet decoded (what the core holds). */
	size_t (*buffered)(const struct vd_dec *d);
};

extern const struct vd_dec_ops vd_dec_flac;
extern const struct vd_dec_ops vd_dec_mp3;
extern const struct vd_dec_ops vd_dec_vorbis;
extern const struct vd_dec_ops vd_dec_opus;

/** Record an error in @d (the common part); returns @code. */
int vd_dec_error(struct vd_dec *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/** Record damaged data that was skipped: damaged++, error -EBADMSG. */
void vd_dec_damaged(struct vd_dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Set the stream parameters; flags a change when they differ from the previous ones. */
void vd_dec_set_info(struct vd_dec *d, const struct vd_dec_info *info);
/** Clear the common part for a new stream (keeps ops and prefer). */
void vd_dec_clear(struct vd_dec *d);
/** Name of a codec's magic found at @p (n bytes), or NULL: "FLAC", "Ogg", "RIFF/WAVE", "ID3-tagged MP3". */
const char *vd_dec_sniff(const uint8_t *p, size_t n);

/** Vorbis/Opus channel order (Vorbis I spec 4.3.9) to WAVE order, @ch 3..8; identity otherwise. */
const uint8_t *vd_dec_vorbis_order(uint32_t ch);

#endif
