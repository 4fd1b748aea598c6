/* cli/convert_decode.c - `virtdsp convert` of compressed inputs (FLAC, MP3, Ogg Vorbis, Ogg Opus).
 *
 * Such files go through the "decode" accelerator of the task API (in
 * process or in the daemon), not through libsndfile: the file's bytes are
 * fed in tasks as they are read, the decoder's output (converted to the
 * requested rate, format and channels in the same session) is written with
 * libsndfile. Without -r/-c/-f the output follows the stream; a stream
 * that changes its parameters midway then needs them (an output file has
 * one format). Damage and truncation are reported as warnings with the
 * decoder's text; a stream the decoder refuses is an error.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>

#include <virtdsp/accel.h>
#include <virtdsp/format.h>

#include "cli.h"

#define CHUNK (64u << 10)

static bool ext_is(const char *path, const char *ext)
{
	const char *dot = strrchr(path, '.');

	return dot && strcasecmp(dot + 1, ext) == 0;
}

static bool has(const uint8_t *p, size_t n, const char *what, size_t len)
{
	for (size_t i = 0; i + len <= n; i++)
		if (memcmp(p + i, what, len) == 0)
			return true;
	return false;
}

uint32_t convert_sniff_codec(const char *path)
{
	uint8_t head[128];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f)
		return 0;
	n = fread(head, 1, sizeof(head), f);
	fclose(f);
	if (n >= 4 && memcmp(head, "fLaC", 4) == 0)
		return VD_ACCEL_CODEC_FLAC;
	if (n >= 4 && memcmp(head, "OggS", 4) == 0) {
		/* The first page holds the first packet: it names the codec. */
		if (has(head, n, "OpusHead", 8))
			return VD_ACCEL_CODEC_OPUS;
		if (has(head, n, "\x01vorbis", 7))
			return VD_ACCEL_CODEC_VORBIS;
		return 0;	/* Ogg FLAC, Speex, ...: libsndfile's */
	}
	if (n >= 3 && memcmp(head, "ID3", 3) == 0)
		return ext_is(path, "flac") ? VD_ACCEL_CODEC_FLAC : VD_ACCEL_CODEC_MP3;
	if (ext_is(path, "mp3") || ext_is(path, "mp2")) {
		/* A WAV or AIFF misnamed .mp3 is libsndfile's. Anything else named
		 * so goes to the MP3 decoder, whose refusal of data that is not MP3
		 * says so ("no MPEG audio frame in ..."); libsndfile's would be
		 * "File does not exist or is not a regular file". */
		if (n >= 4 && (memcmp(head, "RIFF", 4) == 0 || memcmp(head, "RF64", 4) == 0 ||
			       memcmp(head, "FORM", 4) == 0))
			return 0;
		return VD_ACCEL_CODEC_MP3;
	}
	return 0;
}

static const char *codec_name(uint32_t codec)
{
	switch (codec) {
	case VD_ACCEL_CODEC_FLAC:
		return "FLAC";
	case VD_ACCEL_CODEC_MP3:
		return "MP3";
	case VD_ACCEL_CODEC_VORBIS:
		return "Ogg Vorbis";
	default:
		return "Ogg Opus";
	}
}

static int file_major(const char *path)
{
	const char *dot = strrchr(path, '.');
	int count = 0;

	if (dot && strcasecmp(dot + 1, "aif") == 0)
		return SF_FORMAT_AIFF;
	sf_command(NULL, SFC_GET_FORMAT_MAJOR_COUNT, &count, sizeof(count));
	for (int i = 0; dot && i < count; i++) {
		SF_FORMAT_INFO fi = { .format = i };
		if (sf_command(NULL, SFC_GET_FORMAT_MAJOR, &fi, sizeof(fi)) == 0 && fi.extension &&
		    strcasecmp(fi.extension, dot + 1) == 0)
			return fi.format & SF_FORMAT_TYPEMASK;
	}
	return SF_FORMAT_WAV;
}

static int subformat_of(enum vd_sample_format f)
{
	switch (f) {
	case VD_FORMAT_U8: return SF_FORMAT_PCM_U8;
	case VD_FORMAT_S16: return SF_FORMAT_PCM_16;
	case VD_FORMAT_S24: return SF_FORMAT_PCM_24;
	case VD_FORMAT_S32: return SF_FORMAT_PCM_32;
	case VD_FORMAT_F32: return SF_FORMAT_FLOAT;
	case VD_FORMAT_F64: return SF_FORMAT_DOUBLE;
	default: return 0;
	}
}

struct dec_out {
	SNDFILE *sf;
	SF_INFO info;
	const char *path;
	enum vd_sample_format fmt;
	uint32_t rate, channels;
	size_t frame;
	void *scratch;
	size_t scratch_len;
	int64_t frames;
};

static int open_output(struct dec_out *o, const struct vd_accel_metadata *md)
{
	o->fmt = md->out_format;
	o->rate = md->out_rate;
	o->channels = md->out_channels;
	o->frame = vd_format_sample_size(o->fmt) * o->channels;
	o->info.samplerate = (int)o->rate;
	o->info.channels = (int)o->channels;
	o->info.format = file_major(o->path) | subformat_of(o->fmt);
	if ((o->info.format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_U8 && !sf_format_check(&o->info))
		o->info.format = (o->info.format & SF_FORMAT_TYPEMASK) | SF_FORMAT_PCM_S8;
	if (!subformat_of(o->fmt) || !sf_format_check(&o->info)) {
		fprintf(stderr, "virtdsp convert: %s cannot hold %s samples (%u channels, %u Hz)\n", o->path,
			vd_format_name(o->fmt), o->channels, o->rate);
		return -EINVAL;
	}
	o->sf = sf_open(o->path, SFM_WRITE, &o->info);
	if (!o->sf) {
		fprintf(stderr, "virtdsp convert: cannot write %s: %s\n", o->path, sf_strerror(NULL));
		return -EIO;
	}
	sf_command(o->sf, SFC_SET_CLIPPING, NULL, SF_FALSE);
	/* no PEAK chunk: it carries the wall-clock time, and the same conversion must give the same file */
	sf_command(o->sf, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE);
	return 0;
}

static int write_out(struct dec_out *o, const void *src, size_t bytes)
{
	sf_count_t frames = (sf_count_t)(bytes / o->frame), n = -1;
	size_t samples = (size_t)frames * o->channels;

	if (o->fmt == VD_FORMAT_S24 || o->fmt == VD_FORMAT_U8) {
		size_t need = samples * sizeof(int32_t);
		if (need > o->scratch_len) {
			void *p = realloc(o->scratch, need);
			if (!p)
				return -ENOMEM;
			o->scratch = p;
			o->scratch_len = need;
		}
	}
	switch (o->fmt) {
	case VD_FORMAT_S16:
		n = sf_writef_short(o->sf, src, frames);
		break;
	case VD_FORMAT_S32:
		n = sf_writef_int(o->sf, src, frames);
		break;
	case VD_FORMAT_S24: {
		int32_t *p = o->scratch;
		const int32_t *q = src;
		for (size_t i = 0; i < samples; i++)
			p[i] = (int32_t)((uint32_t)q[i] << 8);
		n = sf_writef_int(o->sf, p, frames);
		break;
	}
	case VD_FORMAT_U8: {
		short *p = o->scratch;
		const uint8_t *q = src;
		for (size_t i = 0; i < samples; i++)
			p[i] = (short)(((int)q[i] - 128) * 256);
		n = sf_writef_short(o->sf, p, frames);
		break;
	}
	case VD_FORMAT_F32:
		n = sf_writef_float(o->sf, src, frames);
		break;
	case VD_FORMAT_F64:
		n = sf_writef_double(o->sf, src, frames);
		break;
	default:
		break;
	}
	if (n != frames) {
		fprintf(stderr, "virtdsp convert: writing %s failed: %s\n", o->path, sf_strerror(o->sf));
		return -EIO;
	}
	o->frames += frames;
	return 0;
}

static int fail(struct vd_accel *s, const char *what, int r)
{
	char msg[256] = "";

	if (s)
		vd_accel_last_error(s, msg, sizeof(msg));
	fprintf(stderr, "virtdsp convert: %s: %s%s%s\n", what, strerror(-r), msg[0] ? ": " : "", msg);
	return r;
}

int convert_decoded(uint32_t codec, const char *in_path, const char *out_path, const struct convert_opts *opt)
{
	struct vd_accel *s = NULL;
	struct vd_accel_params p = { .codec = codec, .quality = (enum vd_resample_quality)opt->quality, .fragment_size = CHUNK,
				     .fragments = 1 };
	struct vd_accel_task t = { .input_fd = -1, .output_fd = -1 };
	struct dec_out o = { .path = out_path };
	struct cli_progress prog;
	struct cli_signals sig = { .active = 0 };
	struct stat st;
	uint8_t *in = NULL, *out = NULL;
	size_t out_len = 0;
	uint64_t seqno, fed = 0;
	bool used = false, eof = false, ended = false;
	uint32_t flags = 0;
	int64_t in_frames = 0;
	uint32_t in_rate = 0, in_channels = 0, in_bits = 0;
	double t0 = cli_now();
	int r, status = 1;
	FILE *f = fopen(in_path, "rb");

	if (!f) {
		fprintf(stderr, "virtdsp convert: cannot read %s: %s\n", in_path, strerror(errno));
		return 1;
	}
	fstat(fileno(f), &st);
	p.out.format = (enum vd_sample_format)opt->format;
	p.out.rate = opt->rate;
	p.out.channels = opt->channels;
	r = vd_accel_open(opt->target, "decode", &s);
	if (r < 0) {
		fprintf(stderr, "virtdsp convert: cannot open the decoder%s%s: %s\n", opt->target ? " on " : "",
			opt->target ? opt->target : "", strerror(-r));
		goto out;
	}
	if ((r = vd_accel_set_params(s, &p)) < 0) {
		fail(s, "parameters refused", r);
		goto out;
	}
	if ((r = vd_accel_task_create(s, &t)) < 0) {
		fail(s, "creating a task", r);
		goto out;
	}
	seqno = t.seqno;
	in = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED, t.input_fd, 0);
	if (in == MAP_FAILED || fstat(t.output_fd, &st) < 0) {
		in = NULL;
		fprintf(stderr, "virtdsp convert: mapping task buffers: %s\n", strerror(errno));
		goto out;
	}
	out_len = (size_t)st.st_size;
	out = mmap(NULL, out_len, PROT_READ, MAP_SHARED, t.output_fd, 0);
	if (out == MAP_FAILED) {
		out = NULL;
		fprintf(stderr, "virtdsp convert: mapping task buffers: %s\n", strerror(errno));
		goto out;
	}
	fstat(fileno(f), &st);
	cli_progress_init(&prog, opt->force_progress);
	cli_signals_block(&sig);
	while (!ended) {
		struct vd_accel_task ts = { 0 };
		struct vd_accel_task_status status_ = { 0 };
		struct vd_accel_metadata md;
		size_t n = 0;

		/* Output still pending is fetched before more input goes in. */
		if (!(flags & VD_ACCEL_OUT_MORE_PENDING) && !eof && cli_signals_pending(&sig)) {
			/* Ctrl-C: no more input; an empty END_OF_STREAM task drains the decoder. The
			 * stream's own length check would then call it truncated, which the user knows. */
			eof = true;
		} else if (!(flags & VD_ACCEL_OUT_MORE_PENDING) && !eof) {
			n = fread(in, 1, CHUNK, f);
			if (n < CHUNK) {
				if (ferror(f)) {
					fprintf(stderr, "virtdsp convert: reading %s failed\n", in_path);
					goto out_prog;
				}
				eof = true;
			}
		}
		ts.input_size = n;
		ts.flags = eof ? VD_ACCEL_TASK_END_OF_STREAM : 0;
		if (used)
			ts.origin_seqno = seqno;
		else
			ts.seqno = seqno;
		if ((r = vd_accel_task_start(s, &ts)) < 0) {
			fail(s, "starting a task", r);
			goto out_prog;
		}
		seqno = ts.seqno;
		used = true;
		fed += n;
		do {
			if ((r = vd_accel_wait(s, POLLIN, -1)) < 0) {
				fail(s, "waiting for a task", r);
				goto out_prog;
			}
			status_.seqno = seqno;
			if ((r = vd_accel_task_status(s, &status_)) < 0) {
				fail(s, "task status", r);
				goto out_prog;
			}
		} while (status_.state != VD_ACCEL_TASK_FINISHED);
		flags = status_.output_flags;
		if ((r = vd_accel_get_metadata(s, seqno, &md)) < 0) {
			fail(s, "stream metadata", r);
			goto out_prog;
		}
		if ((flags & VD_ACCEL_OUT_ERROR) && sig.signo && md.error == -ENODATA) {
			/* the truncation we made ourselves */
		} else if (flags & VD_ACCEL_OUT_ERROR) {
			if (md.flags & VD_ACCEL_META_STOPPED) {
				fprintf(stderr, "virtdsp convert: cannot decode %s: %s\n", in_path, md.error_text);
				goto out_prog;
			}
			fprintf(stderr, "virtdsp convert: warning: %s: %s\n", in_path, md.error_text);
		}
		if (status_.output_size) {
			if (!o.sf) {
				in_rate = md.rate;
				in_channels = md.channels;
				in_bits = md.bits;
				if ((r = open_output(&o, &md)) < 0)
					goto out_prog;
			} else if (md.out_format != o.fmt || md.out_rate != o.rate || md.out_channels != o.channels) {
				fprintf(stderr, "virtdsp convert: %s changes from %u Hz %u channels to %u Hz %u channels "
					"midway; give --rate and --channels to convert it to one format\n", in_path,
					o.rate, o.channels, md.out_rate, md.out_channels);
				goto out_prog;
			}
			if (status_.output_size > out_len || status_.output_size % o.frame) {
				fprintf(stderr, "virtdsp convert: task output of %llu bytes does not fit its buffer\n",
					(unsigned long long)status_.output_size);
				goto out_prog;
			}
			if ((r = write_out(&o, out, status_.output_size)) < 0)
				goto out_prog;
		}
		in_frames = (int64_t)md.frames_decoded;
		cli_progress_update(&prog, (int64_t)fed, st.st_size);
		ended = flags & VD_ACCEL_OUT_END_OF_STREAM;
	}
	if (!o.sf) {
		fprintf(stderr, "virtdsp convert: %s holds no audio\n", in_path);
		goto out_prog;
	}
	status = 0;
out_prog:
	if (cli_signals_unblock(&sig) && status == 0)
		status = 128 + sig.signo;
	cli_progress_done(&prog);
	if (status == 0 && !opt->quiet) {
		double secs = cli_now() - t0, audio = in_rate ? (double)in_frames / in_rate : 0;
		char depth[16] = "", desc[64];
		struct vd_audio_format fo;

		/* the same shape as a PCM conversion's line: "s16 48000Hz 2ch" */
		if (in_bits)
			snprintf(depth, sizeof(depth), " %u-bit", in_bits);
		vd_audio_format_init(&fo, o.fmt, o.rate, o.channels);
		printf("virtdsp convert: %s (%s%s %uHz %uch, %lld frames) -> %s (%s, %lld frames), %.3f s, "
		       "%.0fx real time%s%s\n", in_path, codec_name(codec), depth, in_rate, in_channels,
		       (long long)in_frames, out_path, vd_audio_format_describe(&fo, desc, sizeof(desc)),
		       (long long)o.frames, secs, secs > 0 ? audio / secs : 0, opt->target ? ", via " : "",
		       opt->target ? opt->target : "");
	}
	if (status > 128)
		fprintf(stderr, "virtdsp convert: interrupted by %s: %s holds the first %lld frames of %s\n",
			sig.signo == SIGINT ? "SIGINT" : "SIGTERM", out_path, (long long)in_frames, in_path);
out:
	if (in)
		munmap(in, CHUNK);
	if (out)
		munmap(out, out_len);
	if (t.input_fd >= 0)
		close(t.input_fd);
	if (t.output_fd >= 0)
		close(t.output_fd);
	vd_accel_close(s);
	if (o.sf && sf_close(o.sf) != 0 && status == 0) {
		fprintf(stderr, "virtdsp convert: finishing %s failed\n", out_path);
		status = 1;
	}
	if (status != 0 && status < 128 && o.sf)
		unlink(out_path);
	free(o.scratch);
	fclose(f);
	return status;
}
