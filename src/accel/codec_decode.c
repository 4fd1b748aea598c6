/* accel/codec_decode.c - decoder codecs on the task API: input carried across tasks, output never overflows.
 *
 * Each task's input is fed whole to the decoder core (the accel model has no
 * "consumed" field, so input is never refused). Decoding is lazy: blocks are
 * pulled only while the task's output has room, so what a task cannot take
 * stays compressed in the core, plus at most one converted block here
 * (`pend`). Then the task reports VD_ACCEL_OUT_MORE_PENDING and the next
 * task (with or without input) continues where this one stopped. So the
 * output buffer is never overrun, memory stays bounded by the input backlog
 * (limited once the client is told output is pending) and one block,
 * however far the data expands (FLAC silence: ~1000x).
 *
 * The decoded PCM goes through an instance of the PCM codec (format,
 * channels, sample rate: params.out) whose output does not depend on
 * chunking, so the outputs of any split concatenate bit-identically.
 * New stream parameters always start a task: the block that brings them is
 * held until the output so far is delivered, the old chain is drained (its
 * resampler tail), and the task that starts with the new parameters has
 * VD_ACCEL_OUT_FORMAT_CHANGED. Streams: NEW_STREAM ends the previous file
 * without draining the chain (gapless: only the decoder starts again);
 * END_OF_STREAM ends the stream and drains everything; input that arrives
 * while a stream is ending is kept for the next one.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel/codec_decode.h"

#define OUT_MIN ((uint64_t)256 << 10)
/* A task's PCM plus the decoder's state should stay in a core's L2 (1-2 MiB):
 * Vorbis writing 1.6 MB per 64 KiB task cost 2-4% more CPU than the same
 * decode into 512 KiB pieces (docs/decoders.md, Throughput). */
#define OUT_MAX ((uint64_t)512 << 10)
#define OUT_RATIO 32
#define BACKLOG_MIN ((uint64_t)4 << 20)
#define BACKLOG_MAX ((uint64_t)256 << 20)
#define MIN_RATE 1000
#define MAX_RATE 768000

struct accel_codec {
	const struct vd_dec_ops *dops;
	struct vd_dec *dec;
	struct vd_accel_params p;
	uint64_t backlog_max;
	/* the conversion chain; pcm NULL means a plain copy */
	struct accel_codec *pcm;
	bool chain;			/* built for pp.in */
	bool chain_drained;		/* nothing went in since its last drain */
	struct vd_dec_info chain_info;	/* the stream parameters it converts */
	struct vd_accel_params pp;
	size_t in_frame, out_frame;
	/* converted output that did not fit, emitted first */
	uint8_t *pend;
	size_t pend_len, pend_off, pend_cap;
	/* the first block with new stream parameters, waiting for a task of its own */
	uint8_t *held;
	size_t held_cap;
	uint32_t held_frames;
	struct vd_dec_info held_info;
	bool have_held;
	/* input of the next stream while the current one finishes */
	uint8_t *next;
	size_t next_len, next_cap;
	bool file_end;			/* NEW_STREAM: the decoder's stream ends, the chain runs on */
	bool ending;			/* END_OF_STREAM: decoder, then chain, drain */
	bool ended;			/* END_OF_STREAM done: the next task begins a new stream */
	bool ended_now;			/* ...in this task: its drain() has nothing more to do */
	bool stopped;			/* the core gave up on this stream */
	bool pending;			/* the last task ended with MORE_PENDING */
	uint64_t stream_bytes;
	struct vd_accel_metadata md;
};

/* ---- ops shared by every decoder ---- */

void accel_decode_caps(const struct vd_dec_ops *dops, struct vd_accel_codec_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	caps->codec = dops->codec;
	caps->formats = 0;			/* compressed input */
	caps->pcm_formats = VD_FORMAT_MASK_ALL;	/* through the converter */
	caps->min_rate = 0;			/* taken from the stream */
	caps->max_rate = 0;
	caps->out_rate_min = MIN_RATE;
	caps->out_rate_max = MAX_RATE;
	caps->max_channels = dops->max_channels;
	caps->num_qualities = VD_RESAMPLE_QUALITY_COUNT;
}

void accel_decode_normalize(struct vd_accel_params *p)
{
	/* The stream says what comes in; out fields of 0 follow the stream. */
	memset(&p->in, 0, sizeof(p->in));
}

static int fail(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void accel_decode_destroy(struct accel_codec *c)
{
	if (!c)
		return;
	if (c->dec)
		c->dops->destroy(c->dec);
	if (c->pcm)
		accel_codec_pcm.destroy(c->pcm);
	free(c->pend);
	free(c->held);
	free(c->next);
	free(c);
}

int accel_decode_init(const struct vd_dec_ops *dops, const struct vd_accel_params *p, struct accel_codec **out,
		      char *err, size_t errsz)
{
	struct accel_codec *c;
	uint64_t backlog;
	int res;

	if (p->out.format != VD_FORMAT_UNKNOWN && (p->out.format < 0 || p->out.format >= VD_FORMAT_COUNT))
		return fail(err, errsz, "output format %d is not a known sample format", (int)p->out.format);
	if (p->out.rate && (p->out.rate < MIN_RATE || p->out.rate > MAX_RATE))
		return fail(err, errsz, "output rate must be 0 (the stream's) or %u..%u Hz (got %u)", MIN_RATE, MAX_RATE,
			    p->out.rate);
	if (p->out.channels > VD_MAX_CHANNELS)
		return fail(err, errsz, "output channels must be 0 (the stream's) or 1..%u (got %u)", VD_MAX_CHANNELS,
			    p->out.channels);
	if ((unsigned)p->quality >= VD_RESAMPLE_QUALITY_COUNT)
		return fail(err, errsz, "unknown resampler quality %d", (int)p->quality);
	c = calloc(1, sizeof(*c));
	if (!c)
		goto nomem;
	c->dops = dops;
	c->p = *p;
	backlog = (uint64_t)4 * p->fragments * p->fragment_size;
	c->backlog_max = backlog < BACKLOG_MIN ? BACKLOG_MIN : backlog > BACKLOG_MAX ? BACKLOG_MAX : backlog;
	res = dops->create(p->out.format, &c->dec);
	if (res < 0)
		goto nomem;
	c->md.codec = dops->codec;
	c->md.streams = 1;
	*out = c;
	return 0;
nomem:
	accel_decode_destroy(c);
	snprintf(err, errsz, "out of memory");
	return -ENOMEM;
}

uint64_t accel_decode_max_output(const struct accel_codec *c, uint64_t in_bytes)
{
	/* Any size works (the rest is carried over): small tasks rarely carry, large ones return cache-sized pieces. */
	uint64_t n = in_bytes > OUT_MAX / OUT_RATIO ? OUT_MAX : in_bytes * OUT_RATIO;

	return n < OUT_MIN ? OUT_MIN : n;
}

uint32_t accel_decode_granule(const struct accel_codec *c)
{
	return 1;
}

/* ---- errors and metadata ---- */

static void note_error(struct accel_codec *c, int code, const char *text, struct accel_out *out)
{
	c->md.error = code;
	snprintf(c->md.error_text, sizeof(c->md.error_text), "%s", text);
	out->flags |= VD_ACCEL_OUT_ERROR;
}

static void note_core_errors(struct accel_codec *c, struct accel_out *out)
{
	if (!c->dec->error_new)
		return;
	c->dec->error_new = false;
	note_error(c, c->dec->error, c->dec->error_text, out);
}

static void stop_stream(struct accel_codec *c, struct accel_out *out, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void stop_stream(struct accel_codec *c, struct accel_out *out, int code, const char *fmt, ...)
{
	char text[VD_ACCEL_META_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	note_error(c, code, text, out);
	c->stopped = true;
}

void accel_decode_metadata(const struct accel_codec *c, struct vd_accel_metadata *md)
{
	const struct vd_dec *d = c->dec;

	/* The parameters of the output so far: a block with new ones may be held for the next task. */
	const struct vd_dec_info *info = c->chain ? &c->chain_info : d->info_valid ? &d->info : NULL;

	*md = c->md;
	md->flags = 0;
	if (info) {
		md->flags |= VD_ACCEL_META_VALID;
		md->rate = info->rate;
		md->channels = info->channels;
		md->bits = info->bits;
		md->bitrate = info->bitrate;
		md->total_frames = info->total_frames;
		md->decoded_format = info->format;
	}
	if (c->stopped)
		md->flags |= VD_ACCEL_META_STOPPED;
	if (c->pending)
		md->flags |= VD_ACCEL_META_PENDING;
	md->frames_decoded = d->frames;
	md->damaged = d->damaged;
}

/* ---- the conversion chain ---- */

static int grow(uint8_t **buf, size_t *cap, size_t want)
{
	uint8_t *p;

	if (want <= *cap)
		return 0;
	p = realloc(*buf, want);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = want;
	return 0;
}

static bool chain_fits(const struct accel_codec *c, const struct vd_dec_info *info)
{
	return c->chain && c->pp.in.format == info->format && c->pp.in.rate == info->rate &&
	       c->pp.in.channels == info->channels;
}

/* (Re)build the chain for @info; false (stream stopped, error noted) if the converter refuses it. */
static bool build_chain(struct accel_codec *c, const struct vd_dec_info *info, struct accel_out *out)
{
	struct vd_accel_params pp = { 0 };
	struct vd_audio_format fi, fo;
	char why[VD_ACCEL_META_TEXT_MAX];

	if (c->pcm)
		accel_codec_pcm.destroy(c->pcm);
	c->pcm = NULL;
	c->chain = false;
	pp.codec = VD_ACCEL_CODEC_PCM;
	pp.in.format = info->format;
	pp.in.rate = info->rate;
	pp.in.channels = info->channels;
	pp.out.format = c->p.out.format ? c->p.out.format : info->format;
	pp.out.rate = c->p.out.rate ? c->p.out.rate : info->rate;
	pp.out.channels = c->p.out.channels ? c->p.out.channels : info->channels;
	pp.quality = c->p.quality;
	pp.fragment_size = 1;
	pp.fragments = 1;
	if (pp.in.format != pp.out.format || pp.in.rate != pp.out.rate || pp.in.channels != pp.out.channels) {
		why[0] = 0;
		if (accel_codec_pcm.init(&pp, &c->pcm, why, sizeof(why)) < 0) {
			c->pcm = NULL;
			stop_stream(c, out, -EOPNOTSUPP, "%s: cannot convert the stream (%s Hz %u ch): %s",
				    c->dops->name, vd_format_name(info->format), info->channels, why);
			return false;
		}
	}
	vd_audio_format_init(&fi, pp.in.format, pp.in.rate, pp.in.channels);
	vd_audio_format_init(&fo, pp.out.format, pp.out.rate, pp.out.channels);
	c->in_frame = vd_format_frame_size(&fi);
	c->out_frame = vd_format_frame_size(&fo);
	c->pp = pp;
	c->chain_info = *info;
	c->chain = true;
	c->chain_drained = true;
	c->md.out_format = pp.out.format;
	c->md.out_rate = pp.out.rate;
	c->md.out_channels = pp.out.channels;
	return true;
}

/* Copy pending output into the task, whole frames only. */
static void emit_pending(struct accel_codec *c, struct accel_out *out)
{
	size_t room = (out->cap - out->size) / c->out_frame * c->out_frame;
	size_t n = c->pend_len - c->pend_off;

	if (n > room)
		n = room;
	memcpy(out->data + out->size, c->pend + c->pend_off, n);
	out->size += n;
	c->pend_off += n;
	c->md.frames_out += n / c->out_frame;
	if (c->pend_off == c->pend_len)
		c->pend_off = c->pend_len = 0;
}

/* Where a conversion of at most @need bytes writes: the task when it has room, else pend. */
static struct accel_out target(struct accel_codec *c, struct accel_out *out, size_t need, bool *direct)
{
	struct accel_out t = { 0 };

	*direct = out->cap - out->size >= need;
	if (*direct) {
		t.data = out->data + out->size;
		t.cap = out->cap - out->size;
	} else if (grow(&c->pend, &c->pend_cap, need) == 0) {
		t.data = c->pend;
		t.cap = c->pend_cap;
	}
	return t;
}

static void deliver(struct accel_codec *c, struct accel_out *out, const struct accel_out *t, bool direct)
{
	if (direct) {
		out->size += t->size;
		c->md.frames_out += t->size / c->out_frame;
	} else {
		c->pend_off = 0;
		c->pend_len = t->size;
		emit_pending(c, out);
	}
}

static int convert(struct accel_codec *c, const void *data, uint32_t frames, struct accel_out *out)
{
	size_t in_bytes = (size_t)frames * c->in_frame;
	size_t need = c->pcm ? (size_t)accel_codec_pcm.max_output(c->pcm, in_bytes) : in_bytes;
	atomic_uint never = 0;
	struct accel_out t;
	bool direct;

	if (!c->pcm && data == out->data + out->size && out->cap - out->size >= in_bytes) {
		/* The core decoded straight into the task: nothing to copy. */
		out->size += in_bytes;
		c->md.frames_out += frames;
		c->chain_drained = false;
		return 0;
	}
	t = target(c, out, need, &direct);
	if (!t.data)
		return -ENOMEM;
	if (c->pcm) {
		int res = accel_codec_pcm.process(c->pcm, data, in_bytes, &t, &never, 0);
		if (res < 0)
			return res;
	} else {
		/* memmove: a core may have put the block in the task's output, a little further on. */
		memmove(t.data, data, in_bytes);
		t.size = in_bytes;
	}
	c->chain_drained = false;
	deliver(c, out, &t, direct);
	return 0;
}

/* The converter's tail (resampler delay line) at the end of a stream or before new parameters. */
static int drain_chain(struct accel_codec *c, struct accel_out *out)
{
	size_t need;
	struct accel_out t;
	bool direct;

	if (!c->chain || c->chain_drained || !c->pcm) {
		c->chain_drained = true;
		return 0;
	}
	need = (size_t)accel_codec_pcm.max_output(c->pcm, 0) * 2 + 64 * c->out_frame;
	t = target(c, out, need, &direct);
	if (!t.data)
		return -ENOMEM;
	accel_codec_pcm.drain(c->pcm, &t);
	t.flags = 0;
	c->chain_drained = true;
	deliver(c, out, &t, direct);
	return 0;
}

/* ---- streams ---- */

static int keep_next(struct accel_codec *c, const uint8_t *in, size_t n, struct accel_out *out)
{
	if (c->next_len + n > c->backlog_max) {
		char text[VD_ACCEL_META_TEXT_MAX];
		snprintf(text, sizeof(text), "%s: %zu input bytes dropped: the ending stream still has output pending "
			 "and the backlog is full (%llu bytes)", c->dops->name, n, (unsigned long long)c->backlog_max);
		note_error(c, -ENOBUFS, text, out);
		return 0;
	}
	if (grow(&c->next, &c->next_cap, c->next_len + n) < 0)
		return -ENOMEM;
	memcpy(c->next + c->next_len, in, n);
	c->next_len += n;
	return 0;
}

static int feed(struct accel_codec *c, const uint8_t *in, size_t n, struct accel_out *out)
{
	int res;

	if (c->stopped)
		return 0;	/* the stream is lost; the next one starts clean */
	if (c->pending && c->dops->buffered(c->dec) + n > c->backlog_max) {
		stop_stream(c, out, -ENOBUFS, "%s: input backlog over %llu bytes while output was pending: "
			    "send empty tasks until MORE_PENDING clears", c->dops->name,
			    (unsigned long long)c->backlog_max);
		return 0;
	}
	res = c->dops->feed(c->dec, in, n);
	note_core_errors(c, out);
	if (res < 0) {
		stop_stream(c, out, res, "%s: cannot buffer input (%s)", c->dops->name, strerror(-res));
		return 0;
	}
	c->stream_bytes += n;
	return 0;
}

/* The next stream begins: a fresh decoder, the input kept for it, per-stream counters. */
static int begin_stream(struct accel_codec *c, struct accel_out *out)
{
	c->dops->reset(c->dec);
	c->stopped = false;
	c->stream_bytes = 0;
	c->md.frames_out = 0;
	c->md.streams++;
	if (c->next_len) {
		size_t n = c->next_len;
		c->next_len = 0;
		return feed(c, c->next, n, out);
	}
	return 0;
}

/* Decode as far as the task's output allows. */
static int run(struct accel_codec *c, struct accel_out *out, const atomic_uint *cancel, unsigned gen)
{
	int res;

	for (;;) {
		struct vd_dec_block b;
		int r = 0;

		if (c->pend_len) {
			emit_pending(c, out);
			if (c->pend_len)
				goto pending;
		}
		if (c->have_held) {
			if (out->size)
				goto pending;	/* new parameters start the next task */
			c->have_held = false;
			if (!build_chain(c, &c->held_info, out))
				continue;
			out->flags |= VD_ACCEL_OUT_FORMAT_CHANGED;
			if ((res = convert(c, c->held, c->held_frames, out)) < 0)
				return res;
			continue;
		}
		if (atomic_load_explicit(cancel, memory_order_relaxed) != gen)
			return -ECANCELED;
		if (!c->stopped && c->stream_bytes) {
			/* Without conversion the core may decode straight into the task's output. */
			bool into = c->chain && !c->pcm;
			r = c->dops->pull(c->dec, c->file_end || c->ending, &b, into ? out->data + out->size : NULL,
					  into ? out->cap - out->size : 0);
		}
		note_core_errors(c, out);
		if (r > 0) {
			const struct vd_dec_info *info = &c->dec->info;

			if (c->dec->info_changed) {
				c->dec->info_changed = false;
				c->md.changes++;
			}
			if (!chain_fits(c, info)) {
				size_t n = (size_t)b.frames * info->channels * vd_format_sample_size(info->format);

				/* Keep the block first: it may sit in the task's output, where the drain writes. */
				if (grow(&c->held, &c->held_cap, n) < 0)
					return -ENOMEM;
				memcpy(c->held, b.data, n);
				if ((res = drain_chain(c, out)) < 0)
					return res;
				c->held_frames = b.frames;
				c->held_info = *info;
				c->have_held = true;
				continue;
			}
			if ((res = convert(c, b.data, b.frames, out)) < 0)
				return res;
			continue;
		}
		if (r < 0)
			c->stopped = true;	/* the core's error is noted above */
		if (c->file_end) {
			c->file_end = false;
			if ((res = begin_stream(c, out)) < 0)
				return res;
			continue;
		}
		if (c->ending) {
			if (!c->chain_drained) {
				if ((res = drain_chain(c, out)) < 0)
					return res;
				continue;
			}
			c->ending = false;
			c->ended = c->ended_now = true;
			out->flags |= VD_ACCEL_OUT_END_OF_STREAM;
			if (c->next_len)
				goto pending;	/* the next stream's input is waiting */
		}
		c->pending = false;
		return 0;
	}
pending:
	out->flags |= VD_ACCEL_OUT_MORE_PENDING;
	c->pending = true;
	return 0;
}

int accel_decode_process(struct accel_codec *c, const uint8_t *in, size_t in_size, struct accel_out *out,
			 const atomic_uint *cancel, unsigned gen)
{
	int res;

	c->ended_now = false;
	if (c->ended && !c->pend_len && !c->have_held) {
		c->ended = false;
		if ((res = begin_stream(c, out)) < 0)
			return res;
	}
	if (in_size) {
		if (c->file_end || c->ending || c->ended)
			res = keep_next(c, in, in_size, out);
		else
			res = feed(c, in, in_size, out);
		if (res < 0)
			return res;
	}
	return run(c, out, cancel, gen);
}

int accel_decode_drain(struct accel_codec *c, struct accel_out *out)
{
	atomic_uint never = 0;

	if (c->ended_now)
		return 0;
	if (c->ended) {
		/* Still emitting an ended stream's output: nothing new to end. */
		return run(c, out, &never, 0);
	}
	c->ending = true;
	return run(c, out, &never, 0);
}

void accel_decode_new_stream(struct accel_codec *c)
{
	if (c->ending || c->ended)
		return;	/* already ending: the next stream begins after it anyway */
	if (!c->stream_bytes && !c->file_end)
		return;	/* nothing to end yet */
	c->file_end = true;
}

void accel_decode_reset(struct accel_codec *c)
{
	c->dops->reset(c->dec);
	if (c->pcm)
		accel_codec_pcm.reset(c->pcm);
	c->chain_drained = true;
	c->pend_len = c->pend_off = 0;
	c->have_held = false;
	c->next_len = 0;
	c->file_end = c->ending = c->ended = c->ended_now = false;
	c->stopped = false;
	c->pending = false;
	c->stream_bytes = 0;
	c->md.frames_out = 0;
	c->md.streams++;
}

/* ---- the accelerator ---- */

const struct accel_codec_ops *const accel_decode_codecs[] = {
	&accel_codec_flac,
	&accel_codec_mp3,
	&accel_codec_vorbis,
	&accel_codec_opus,
	NULL,
};
