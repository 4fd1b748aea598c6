/* cli/cmd_convert.c - `virtdsp convert`: rate, format and channel conversion
 * of a file through the task API (in-process, or a daemon's socket), with
 * libsndfile for the containers. Samples reach the engine exactly as the
 * file holds them (no float detour), so equal rates give bit-exact format
 * conversion, and the last task carries END_OF_STREAM so the converter's
 * tail is drained and the output has exactly the right length. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
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
#include <virtdsp/resample.h>

#include "cli.h"

#define CHUNK_FRAMES	8192u
#define MAX_FRAGMENTS	4u

/* How samples move between a file and the engine's layout. */
enum io_kind {
	IO_SHORT,	/* S16 <-> sf_*_short */
	IO_INT24,	/* S24 (low 24 bits of 32) <-> sf_*_int, shifted by 8 */
	IO_INT,		/* S32 <-> sf_*_int */
	IO_FLOAT,	/* F32 */
	IO_DOUBLE,	/* F64 */
	IO_U8,		/* U8 -> sf_write_short (writing only) */
	IO_RAW,		/* G.711 bytes as stored */
};

struct task_slot {
	struct vd_accel_task t;
	void *in, *out;
	size_t in_len, out_len;
	bool busy;
};

struct convert {
	SNDFILE *in, *out;
	SF_INFO in_info, out_info;
	enum vd_sample_format in_fmt, out_fmt;
	enum io_kind in_io, out_io;
	uint32_t channels_in, channels_out, rate_out;
	size_t in_frame, out_frame;
	struct vd_accel *s;
	struct task_slot slot[MAX_FRAGMENTS];
	unsigned nslots;
	uint64_t order[MAX_FRAGMENTS];	/* slots in START order (FIFO) */
	unsigned q_head, q_len;
	void *scratch;			/* file-side samples for one chunk */
	int64_t frames_in, frames_out;
	bool eos_seen;
	struct cli_progress prog;
	struct cli_signals sig;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: virtdsp convert IN OUT [options]\n"
		"\n"
		"Convert the audio file IN into OUT through the task-offload API: sample\n"
		"rate, sample format and channel count. OUT's type follows its extension\n"
		"(.wav, .flac, .aiff, .au, .caf, .w64, ...; otherwise IN's type). Runs the\n"
		"engine in this process, or in a `virtdsp serve` daemon with --socket.\n"
		"\n"
		"options:\n"
		"  -r, --rate R         output rate in Hz (default: IN's rate)\n"
		"  -f, --format F       output sample format: u8 s16 s24 s32 f32 f64 mulaw alaw\n"
		"                       (default: IN's)\n"
		"  -c, --channels C     output channels (default: IN's)\n"
		"  -q, --quality Q      converter preset: low medium high very-high (default high)\n"
		"  -s, --socket PATH    use the daemon listening on PATH\n"
		"      --progress       show the progress bar even when not on a terminal\n"
		"      --quiet          no summary line\n"
		"  -h, --help           this text\n"
		"\n"
		"With equal rates the conversion is bit-exact (docs/formats.md); the output\n"
		"always has round(frames * R / IN's rate) frames.\n"
		"Compressed inputs (FLAC, MP3, Ogg Vorbis, Ogg Opus, told by their content)\n"
		"are decoded by the task API's decoders in the same session\n"
		"(docs/decoders.md); without -r/-c/-f the output follows the stream.\n"
		"SIGINT or SIGTERM end the conversion where it is: OUT is finished (a valid\n"
		"file holding what was converted), the exit status is 128 + the signal.\n"
		"Exit status: 0 success, 1 conversion error, 2 usage error.\n");
}

/* ---- file side ---- */

static int input_layout(const SF_INFO *info, enum vd_sample_format *fmt, enum io_kind *io)
{
	switch (info->format & SF_FORMAT_SUBMASK) {
	case SF_FORMAT_PCM_S8:
	case SF_FORMAT_PCM_U8:
	case SF_FORMAT_PCM_16:
		*fmt = VD_FORMAT_S16;
		*io = IO_SHORT;
		return 0;
	case SF_FORMAT_PCM_24:
		*fmt = VD_FORMAT_S24;
		*io = IO_INT24;
		return 0;
	case SF_FORMAT_PCM_32:
		*fmt = VD_FORMAT_S32;
		*io = IO_INT;
		return 0;
	case SF_FORMAT_DOUBLE:
		*fmt = VD_FORMAT_F64;
		*io = IO_DOUBLE;
		return 0;
	case SF_FORMAT_ULAW:
		*fmt = VD_FORMAT_MULAW;
		*io = IO_RAW;
		return 0;
	case SF_FORMAT_ALAW:
		*fmt = VD_FORMAT_ALAW;
		*io = IO_RAW;
		return 0;
	default:
		/* float files, and compressed ones libsndfile decodes to float */
		*fmt = VD_FORMAT_F32;
		*io = IO_FLOAT;
		return 0;
	}
}

/* Engine output format and file subformat for the requested sample format. */
static int output_layout(enum vd_sample_format want, enum vd_sample_format *fmt, enum io_kind *io,
			 int *subformat)
{
	*fmt = want;
	switch (want) {
	case VD_FORMAT_U8: *io = IO_U8; *subformat = SF_FORMAT_PCM_U8; return 0;
	case VD_FORMAT_S16: *io = IO_SHORT; *subformat = SF_FORMAT_PCM_16; return 0;
	case VD_FORMAT_S24:
	case VD_FORMAT_S24_3:
		/* both are 24-bit samples in the file; the 32-bit container is simpler to write */
		*fmt = VD_FORMAT_S24;
		*io = IO_INT24;
		*subformat = SF_FORMAT_PCM_24;
		return 0;
	case VD_FORMAT_S32: *io = IO_INT; *subformat = SF_FORMAT_PCM_32; return 0;
	case VD_FORMAT_F32: *io = IO_FLOAT; *subformat = SF_FORMAT_FLOAT; return 0;
	case VD_FORMAT_F64: *io = IO_DOUBLE; *subformat = SF_FORMAT_DOUBLE; return 0;
	case VD_FORMAT_MULAW: *io = IO_RAW; *subformat = SF_FORMAT_ULAW; return 0;
	case VD_FORMAT_ALAW: *io = IO_RAW; *subformat = SF_FORMAT_ALAW; return 0;
	default: return -EINVAL;
	}
}

static int major_from_extension(const char *path, int fallback)
{
	const char *dot = strrchr(path, '.');
	const char *slash = strrchr(path, '/');
	int count = 0;

	if (!dot || (slash && dot < slash))
		return fallback;
	dot++;
	if (strcasecmp(dot, "aif") == 0)
		return SF_FORMAT_AIFF;
	sf_command(NULL, SFC_GET_FORMAT_MAJOR_COUNT, &count, sizeof(count));
	for (int i = 0; i < count; i++) {
		SF_FORMAT_INFO fi = { .format = i };
		if (sf_command(NULL, SFC_GET_FORMAT_MAJOR, &fi, sizeof(fi)) == 0 &&
		    fi.extension && strcasecmp(fi.extension, dot) == 0)
			return fi.format & SF_FORMAT_TYPEMASK;
	}
	return fallback;
}

/* OUT names a type by an extension libsndfile does not know (out.ogg, out.mp3): say what it gets. */
static void warn_unknown_extension(const char *path, const char *what)
{
	const char *dot = strrchr(path, '.');
	const char *slash = strrchr(path, '/');

	if (dot && (!slash || dot > slash) && dot[1] && major_from_extension(path, 0) == 0)
		fprintf(stderr, "virtdsp convert: warning: no file type is known for '%s' (only libsndfile's: "
			"wav, flac, aiff, au, caf, w64, ...): writing %s as %s\n", dot, path, what);
}

/* Read up to @frames frames into @dst in the engine's layout; returns frames read. */
static int64_t read_frames(struct convert *cv, void *dst, uint32_t frames)
{
	sf_count_t n = 0;

	switch (cv->in_io) {
	case IO_SHORT:
		n = sf_readf_short(cv->in, dst, frames);
		break;
	case IO_INT:
		n = sf_readf_int(cv->in, dst, frames);
		break;
	case IO_INT24: {
		int32_t *p = dst;
		n = sf_readf_int(cv->in, p, frames);
		for (sf_count_t i = 0; i < n * (sf_count_t)cv->channels_in; i++)
			p[i] >>= 8;	/* arithmetic: keeps the sign in the container */
		break;
	}
	case IO_FLOAT:
		n = sf_readf_float(cv->in, dst, frames);
		break;
	case IO_DOUBLE:
		n = sf_readf_double(cv->in, dst, frames);
		break;
	case IO_RAW:
		n = sf_read_raw(cv->in, dst, (sf_count_t)frames * cv->channels_in) / cv->channels_in;
		break;
	case IO_U8:
		break;
	}
	return n;
}

static int write_frames(struct convert *cv, const void *src, uint64_t frames)
{
	size_t samples = (size_t)frames * cv->channels_out;
	sf_count_t n;

	switch (cv->out_io) {
	case IO_SHORT:
		n = sf_writef_short(cv->out, src, (sf_count_t)frames);
		break;
	case IO_INT:
		n = sf_writef_int(cv->out, src, (sf_count_t)frames);
		break;
	case IO_INT24: {
		int32_t *p = cv->scratch;
		const int32_t *q = src;
		for (size_t i = 0; i < samples; i++)
			p[i] = (int32_t)((uint32_t)q[i] << 8);
		n = sf_writef_int(cv->out, p, (sf_count_t)frames);
		break;
	}
	case IO_U8: {
		short *p = cv->scratch;
		const uint8_t *q = src;
		for (size_t i = 0; i < samples; i++)
			p[i] = (short)(((int)q[i] - 128) * 256);
		n = sf_writef_short(cv->out, p, (sf_count_t)frames);
		break;
	}
	case IO_FLOAT:
		n = sf_writef_float(cv->out, src, (sf_count_t)frames);
		break;
	case IO_DOUBLE:
		n = sf_writef_double(cv->out, src, (sf_count_t)frames);
		break;
	case IO_RAW:
		n = sf_write_raw(cv->out, src, (sf_count_t)samples) / cv->channels_out;
		break;
	default:
		n = -1;
	}
	if (n != (sf_count_t)frames) {
		fprintf(stderr, "virtdsp convert: writing the output failed: %s\n", sf_strerror(cv->out));
		return -EIO;
	}
	cv->frames_out += (int64_t)frames;
	return 0;
}

/* ---- task side ---- */

static int accel_fail(struct convert *cv, const char *what, int r)
{
	char msg[256] = "";

	if (cv->s)
		vd_accel_last_error(cv->s, msg, sizeof(msg));
	fprintf(stderr, "virtdsp convert: %s: %s%s%s\n", what, strerror(-r), msg[0] ? ": " : "", msg);
	return r;
}

static int map_buffers(struct task_slot *sl)
{
	struct stat in_st, out_st;

	if (fstat(sl->t.input_fd, &in_st) < 0 || fstat(sl->t.output_fd, &out_st) < 0)
		return -errno;
	sl->in_len = (size_t)in_st.st_size;
	sl->out_len = (size_t)out_st.st_size;
	sl->in = mmap(NULL, sl->in_len, PROT_READ | PROT_WRITE, MAP_SHARED, sl->t.input_fd, 0);
	if (sl->in == MAP_FAILED) {
		sl->in = NULL;
		return -errno;
	}
	sl->out = mmap(NULL, sl->out_len, PROT_READ, MAP_SHARED, sl->t.output_fd, 0);
	if (sl->out == MAP_FAILED) {
		sl->out = NULL;
		return -errno;
	}
	return 0;
}

static void unmap_buffers(struct task_slot *sl)
{
	if (sl->in)
		munmap(sl->in, sl->in_len);
	if (sl->out)
		munmap(sl->out, sl->out_len);
	if (sl->t.input_fd >= 0)
		close(sl->t.input_fd);
	if (sl->t.output_fd >= 0)
		close(sl->t.output_fd);
}

/* Wait for the oldest started task, write its output, and make its slot
 * free. @drain: no more input, the task will not be reused: STOP it, or,
 * being the oldest and FINISHED, it would keep the session readable and
 * the next wait would return at once (a spin on STATUS until the next
 * task finishes). Over a daemon that STOP is a ring entry, not a message. */
static int complete_oldest(struct convert *cv, bool drain)
{
	unsigned i = (unsigned)cv->order[cv->q_head];
	struct task_slot *sl = &cv->slot[i];
	struct vd_accel_task_status st = { .seqno = sl->t.seqno };
	int r;

	for (;;) {
		r = vd_accel_wait(cv->s, POLLIN, -1);
		if (r < 0)
			return accel_fail(cv, "waiting for a task", r);
		r = vd_accel_task_status(cv->s, &st);
		if (r < 0)
			return accel_fail(cv, "task status", r);
		if (st.state == VD_ACCEL_TASK_FINISHED)
			break;
	}
	if (st.output_size > sl->out_len || st.output_size % cv->out_frame) {
		fprintf(stderr, "virtdsp convert: task output of %llu bytes does not fit its buffer\n",
			(unsigned long long)st.output_size);
		return -EPROTO;
	}
	if (st.output_flags & VD_ACCEL_OUT_END_OF_STREAM)
		cv->eos_seen = true;
	r = write_frames(cv, sl->out, st.output_size / cv->out_frame);
	if (r < 0)
		return r;
	if (drain && cv->q_len > 1 && (r = vd_accel_task_stop(cv->s, st.seqno)) < 0)
		return accel_fail(cv, "stopping a finished task", r);
	sl->busy = false;
	cv->q_head = (cv->q_head + 1) % MAX_FRAGMENTS;
	cv->q_len--;
	return 0;
}

static int start_slot(struct convert *cv, unsigned i, uint64_t frames, bool last, bool first)
{
	struct task_slot *sl = &cv->slot[i];
	struct vd_accel_task t = sl->t;
	int r;

	/* a fresh task starts by its own seqno; a finished one is reused by
	 * origin_seqno and gets a new seqno */
	t.origin_seqno = first ? 0 : sl->t.seqno;
	t.input_size = frames * cv->in_frame;
	t.flags = (last ? VD_ACCEL_TASK_END_OF_STREAM : 0) | (cv->frames_in == 0 ? VD_ACCEL_TASK_NEW_STREAM : 0);
	r = vd_accel_task_start(cv->s, &t);
	if (r < 0)
		return accel_fail(cv, "starting a task", r);
	sl->t.seqno = t.seqno;
	sl->busy = true;
	cv->order[(cv->q_head + cv->q_len) % MAX_FRAGMENTS] = i;
	cv->q_len++;
	return 0;
}

static int run(struct convert *cv, const char *target, enum vd_resample_quality quality)
{
	struct vd_accel_caps caps;
	struct vd_accel_params p = {
		.codec = VD_ACCEL_CODEC_PCM,
		.in = { cv->in_fmt, (uint32_t)cv->in_info.samplerate, cv->channels_in },
		.out = { cv->out_fmt, cv->rate_out, cv->channels_out },
		.quality = quality,
		.fragments = MAX_FRAGMENTS,
	};
	bool started[MAX_FRAGMENTS] = { false };
	int64_t total = cv->in_info.frames;
	uint32_t chunk = CHUNK_FRAMES;
	void *next = NULL;
	int64_t next_n;
	int r;

	r = vd_accel_open(target, "src", &cv->s);
	if (r < 0) {
		if (target)
			fprintf(stderr, "virtdsp convert: cannot open a session on %s: %s\n", target,
				strerror(-r));
		else
			fprintf(stderr, "virtdsp convert: cannot open the converter: %s\n", strerror(-r));
		return r;
	}
	r = vd_accel_get_caps(cv->s, &caps);
	if (r < 0)
		return accel_fail(cv, "capabilities", r);
	if (caps.max_fragment_size && chunk * cv->in_frame > caps.max_fragment_size)
		chunk = (uint32_t)(caps.max_fragment_size / cv->in_frame);
	if (caps.max_fragments && p.fragments > caps.max_fragments)
		p.fragments = caps.max_fragments;
	if (chunk == 0) {
		fprintf(stderr, "virtdsp convert: one frame is larger than a task's input buffer\n");
		return -EINVAL;
	}
	p.fragment_size = (uint32_t)(chunk * cv->in_frame);
	r = vd_accel_set_params(cv->s, &p);
	if (r < 0)
		return accel_fail(cv, "parameters refused", r);
	cv->nslots = p.fragments;
	for (unsigned i = 0; i < cv->nslots; i++) {
		struct task_slot *sl = &cv->slot[i];
		sl->t = (struct vd_accel_task){ .input_fd = -1, .output_fd = -1 };
		r = vd_accel_task_create(cv->s, &sl->t);
		if (r < 0)
			return accel_fail(cv, "creating a task", r);
		r = map_buffers(sl);
		if (r < 0) {
			fprintf(stderr, "virtdsp convert: mapping task buffers: %s\n", strerror(-r));
			return r;
		}
		if (sl->in_len < p.fragment_size) {
			fprintf(stderr, "virtdsp convert: task input buffer smaller than fragment_size\n");
			return -EPROTO;
		}
	}
	size_t scratch_samples = 0;
	for (unsigned i = 0; i < cv->nslots; i++)
		if (cv->slot[i].out_len / cv->out_frame * cv->channels_out > scratch_samples)
			scratch_samples = cv->slot[i].out_len / cv->out_frame * cv->channels_out;
	cv->scratch = calloc(scratch_samples ? scratch_samples : 1, sizeof(int32_t));
	next = malloc((size_t)chunk * cv->in_frame);
	if (!cv->scratch || !next) {
		free(next);
		fprintf(stderr, "virtdsp convert: out of memory\n");
		return -ENOMEM;
	}

	/* one chunk is read ahead, so the last task is known when it starts */
	next_n = read_frames(cv, next, chunk);
	while (next_n > 0) {
		if (cv->q_len == cv->nslots) {
			r = complete_oldest(cv, false);
			if (r < 0)
				goto out;
		}
		unsigned i = 0;
		while (cv->slot[i].busy)
			i++;
		struct task_slot *sl = &cv->slot[i];
		int64_t n = next_n;
		memcpy(sl->in, next, (size_t)n * cv->in_frame);
		/* Ctrl-C: this chunk is the last, so the converter drains and OUT ends cleanly */
		next_n = cli_signals_pending(&cv->sig) ? 0 : read_frames(cv, next, chunk);
		r = start_slot(cv, i, (uint64_t)n, next_n <= 0, !started[i]);
		if (r < 0)
			goto out;
		started[i] = true;
		cv->frames_in += n;
		cli_progress_update(&cv->prog, cv->frames_in, total > 0 ? total : 0);
	}
	while (cv->q_len) {
		r = complete_oldest(cv, true);
		if (r < 0)
			goto out;
	}
	if (cv->frames_in > 0 && !cv->eos_seen) {
		fprintf(stderr, "virtdsp convert: the converter did not report the end of the stream\n");
		r = -EPROTO;
		goto out;
	}
	r = 0;
out:
	free(next);
	return r;
}

int cmd_convert(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rate", required_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'f' },
		{ "channels", required_argument, NULL, 'c' },
		{ "quality", required_argument, NULL, 'q' },
		{ "socket", required_argument, NULL, 's' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'Q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct convert cv;
	const char *target = NULL, *fmt_name = NULL;
	enum vd_resample_quality quality = VD_RESAMPLE_HIGH;
	long rate = 0, channels = 0;
	int c, quiet = 0, force_progress = 0, subformat, status = 2;
	char *end;

	memset(&cv, 0, sizeof(cv));
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:f:c:q:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rate = strtol(optarg, &end, 10);
			/* the engine's range (docs/accel.md), so a refusal is a usage error */
			if (*end || rate < 1000 || rate > 768000) {
				fprintf(stderr, "virtdsp convert: --rate wants Hz in 1000..768000, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'c':
			channels = strtol(optarg, &end, 10);
			if (*end || channels < 1 || channels > VD_MAX_CHANNELS) {
				fprintf(stderr, "virtdsp convert: --channels wants 1..%d, not '%s'\n",
					VD_MAX_CHANNELS, optarg);
				return 2;
			}
			break;
		case 'f':
			fmt_name = optarg;
			break;
		case 'q':
			if (vd_resample_quality_from_name(optarg, &quality) < 0) {
				fprintf(stderr, "virtdsp convert: unknown quality '%s' (presets:", optarg);
				for (int q = 0; q < VD_RESAMPLE_QUALITY_COUNT; q++)
					fprintf(stderr, " %s", vd_resample_quality_name((enum vd_resample_quality)q));
				fprintf(stderr, ")\n");
				return 2;
			}
			break;
		case 's':
			target = optarg;
			break;
		case 'P':
			force_progress = 1;
			break;
		case 'Q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "virtdsp convert: want IN and OUT files\n");
		usage(stderr);
		return 2;
	}
	const char *in_path = argv[optind], *out_path = argv[optind + 1];
	struct stat st_in, st_out;

	/* Opening OUT for writing would empty IN before a sample was read. */
	if (stat(in_path, &st_in) == 0 && stat(out_path, &st_out) == 0 && st_in.st_dev == st_out.st_dev &&
	    st_in.st_ino == st_out.st_ino) {
		fprintf(stderr, "virtdsp convert: %s and %s are the same file; the output would destroy the input\n",
			in_path, out_path);
		return 2;
	}
	uint32_t codec = convert_sniff_codec(in_path);

	if (codec) {
		/* Compressed: the task API's decoders, not libsndfile's (convert_decode.c). */
		enum vd_sample_format dec_fmt = VD_FORMAT_UNKNOWN;
		if (fmt_name && vd_format_from_name(fmt_name, &dec_fmt) < 0) {
			fprintf(stderr, "virtdsp convert: unknown sample format '%s'\n", fmt_name);
			return 2;
		}
		struct convert_opts o = {
			.target = target,
			.format = dec_fmt == VD_FORMAT_S24_3 ? VD_FORMAT_S24 : dec_fmt,
			.rate = (uint32_t)rate,
			.channels = (uint32_t)channels,
			.quality = quality,
			.quiet = quiet,
			.force_progress = force_progress,
		};
		warn_unknown_extension(out_path, "a WAV file");
		return convert_decoded(codec, in_path, out_path, &o);
	}

	cv.in = sf_open(in_path, SFM_READ, &cv.in_info);
	if (!cv.in) {
		fprintf(stderr, "virtdsp convert: cannot read %s: %s\n", in_path, sf_strerror(NULL));
		return 1;
	}
	input_layout(&cv.in_info, &cv.in_fmt, &cv.in_io);
	cv.channels_in = (uint32_t)cv.in_info.channels;
	cv.channels_out = channels ? (uint32_t)channels : cv.channels_in;
	cv.rate_out = rate ? (uint32_t)rate : (uint32_t)cv.in_info.samplerate;

	enum vd_sample_format want = cv.in_fmt;
	if ((cv.in_info.format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_U8)
		want = VD_FORMAT_U8;
	if (fmt_name && vd_format_from_name(fmt_name, &want) < 0) {
		fprintf(stderr, "virtdsp convert: unknown sample format '%s'\n", fmt_name);
		goto close_in;
	}
	if (output_layout(want, &cv.out_fmt, &cv.out_io, &subformat) < 0) {
		fprintf(stderr, "virtdsp convert: cannot write %s samples to a file\n", vd_format_name(want));
		goto close_in;
	}
	int major = major_from_extension(out_path, cv.in_info.format & SF_FORMAT_TYPEMASK);
	{
		SF_FORMAT_INFO fi = { .format = major };
		char what[96];
		sf_command(NULL, SFC_GET_FORMAT_INFO, &fi, sizeof(fi));
		snprintf(what, sizeof(what), "%s is, %s", in_path, fi.name ? fi.name : "?");
		warn_unknown_extension(out_path, what);
	}
	cv.out_info.samplerate = (int)cv.rate_out;
	cv.out_info.channels = (int)cv.channels_out;
	cv.out_info.format = major | subformat;
	if (subformat == SF_FORMAT_PCM_U8 && !sf_format_check(&cv.out_info))
		cv.out_info.format = major | SF_FORMAT_PCM_S8;	/* e.g. AIFF has signed 8-bit only */
	if (!sf_format_check(&cv.out_info)) {
		SF_FORMAT_INFO fi = { .format = major };
		sf_command(NULL, SFC_GET_FORMAT_INFO, &fi, sizeof(fi));
		fprintf(stderr, "virtdsp convert: a %s file cannot hold %s samples (%u channels, %u Hz)\n",
			fi.name ? fi.name : "file of this type", vd_format_name(want), cv.channels_out,
			cv.rate_out);
		goto close_in;
	}
	cv.in_frame = vd_format_sample_size(cv.in_fmt) * cv.channels_in;
	cv.out_frame = vd_format_sample_size(cv.out_fmt) * cv.channels_out;

	cv.out = sf_open(out_path, SFM_WRITE, &cv.out_info);
	if (!cv.out) {
		fprintf(stderr, "virtdsp convert: cannot write %s: %s\n", out_path, sf_strerror(NULL));
		status = 1;
		goto close_in;
	}
	/* floats go to float files unscaled; libsndfile must not clip or scale them */
	sf_command(cv.out, SFC_SET_CLIPPING, NULL, SF_FALSE);
	/* no PEAK chunk: it carries the wall-clock time, and the same conversion must give the same file */
	sf_command(cv.out, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE);

	double t0 = cli_now();
	cli_progress_init(&cv.prog, force_progress);
	cli_signals_block(&cv.sig);
	int r = run(&cv, target, quality);
	int signo = cli_signals_unblock(&cv.sig);
	cli_progress_done(&cv.prog);
	double secs = cli_now() - t0;

	for (unsigned i = 0; i < cv.nslots; i++)
		unmap_buffers(&cv.slot[i]);
	vd_accel_close(cv.s);
	free(cv.scratch);
	if (sf_close(cv.out) != 0 && r == 0) {
		fprintf(stderr, "virtdsp convert: finishing %s failed\n", out_path);
		r = -EIO;
	}
	status = r < 0 ? 1 : signo ? 128 + signo : 0;
	if (r < 0)
		unlink(out_path);
	else if (signo)
		fprintf(stderr, "virtdsp convert: interrupted by %s: %s holds the first %lld frames of %s\n",
			signo == SIGINT ? "SIGINT" : "SIGTERM", out_path, (long long)cv.frames_in, in_path);
	else if (!quiet) {
		char a[64], b[64];
		struct vd_audio_format fa, fb;
		double audio = cv.in_info.samplerate ? (double)cv.frames_in / cv.in_info.samplerate : 0;
		vd_audio_format_init(&fa, cv.in_fmt, (uint32_t)cv.in_info.samplerate, cv.channels_in);
		vd_audio_format_init(&fb, cv.out_fmt, cv.rate_out, cv.channels_out);
		printf("virtdsp convert: %s (%s, %lld frames) -> %s (%s, %lld frames), %.3f s, %.0fx real time%s%s\n",
		       in_path, vd_audio_format_describe(&fa, a, sizeof(a)), (long long)cv.frames_in,
		       out_path, vd_audio_format_describe(&fb, b, sizeof(b)), (long long)cv.frames_out,
		       secs, secs > 0 ? audio / secs : 0, target ? ", via " : "", target ? target : "");
	}
close_in:
	sf_close(cv.in);
	return status;
}
