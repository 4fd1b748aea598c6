/* endpoint/file.c - file-source and file-sink: audio files through libsndfile, bit-exact in both
 * directions; in a live graph their file I/O runs on a reader / writer thread of their own. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sndfile.h>

#include <virtdsp/ring.h>

#include "endpoint/endpoint.h"

/* ---- containers ---- */

struct container {
	const char *name;
	int major;		/* SF_FORMAT_* container (plus a fixed codec for lossy ones) */
	bool lossy;		/* the codec is fixed and encodes from f32 */
	const char *ext[4];
};

static const struct container containers[] = {
	{ "wav", SF_FORMAT_WAV, false, { "wav", "wave" } },
	{ "wavex", SF_FORMAT_WAVEX, false, { 0 } },
	{ "rf64", SF_FORMAT_RF64, false, { "rf64" } },
	{ "w64", SF_FORMAT_W64, false, { "w64" } },
	{ "aiff", SF_FORMAT_AIFF, false, { "aif", "aiff", "aifc" } },
	{ "au", SF_FORMAT_AU, false, { "au", "snd" } },
	{ "caf", SF_FORMAT_CAF, false, { "caf" } },
	{ "flac", SF_FORMAT_FLAC, false, { "flac" } },
	{ "ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, true, { "ogg", "oga" } },
	{ "opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, true, { "opus" } },
	{ "raw", SF_FORMAT_RAW, false, { "raw", "pcm" } },
};
#define N_CONTAINERS (int)(sizeof(containers) / sizeof(containers[0]))
#define CONTAINER_RAW (N_CONTAINERS - 1)

static int container_from_path(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(slash ? slash : path, '.');

	if (!dot)
		return -1;
	for (int i = 0; i < N_CONTAINERS; i++)
		for (int e = 0; e < 4 && containers[i].ext[e]; e++)
			if (strcasecmp(dot + 1, containers[i].ext[e]) == 0)
				return i;
	return -1;
}

static const char *const container_names[N_CONTAINERS + 1] = {
	"wav", "wavex", "rf64", "w64", "aiff", "au", "caf", "flac", "ogg", "opus", "raw", NULL
};

/* ---- how samples travel between our formats and libsndfile's ---- */

enum io_mode {
	IO_SHORT,		/* s16 <-> short */
	IO_SHORT_U8,		/* u8 <-> short (x - 128) << 8 */
	IO_INT,			/* s32 <-> int */
	IO_INT_S24,		/* s24 <-> int << 8 */
	IO_INT_S24_3,		/* packed s24_3 <-> int << 8 */
	IO_INT_S24_RAW,		/* s24 in a 32-bit raw word, stored as is */
	IO_FLOAT,
	IO_DOUBLE,
	IO_BYTES,		/* mu-law/A-law codes, passed through untouched */
};

/* The libsndfile codec that stores @fmt losslessly, and how it is written. */
static int codec_for(enum vd_sample_format fmt, int container, enum io_mode *mode)
{
	switch (fmt) {
	case VD_FORMAT_U8: *mode = IO_SHORT_U8; return SF_FORMAT_PCM_U8;
	case VD_FORMAT_S16: *mode = IO_SHORT; return SF_FORMAT_PCM_16;
	case VD_FORMAT_S24:
		/* A raw file keeps the 32-bit container layout (ALSA's S24_LE). */
		if (container == CONTAINER_RAW) {
			*mode = IO_INT_S24_RAW;
			return SF_FORMAT_PCM_32;
		}
		*mode = IO_INT_S24;
		return SF_FORMAT_PCM_24;
	case VD_FORMAT_S24_3: *mode = IO_INT_S24_3; return SF_FORMAT_PCM_24;
	case VD_FORMAT_S32: *mode = IO_INT; return SF_FORMAT_PCM_32;
	case VD_FORMAT_F32: *mode = IO_FLOAT; return SF_FORMAT_FLOAT;
	case VD_FORMAT_F64: *mode = IO_DOUBLE; return SF_FORMAT_DOUBLE;
	case VD_FORMAT_MULAW: *mode = IO_BYTES; return SF_FORMAT_ULAW;
	case VD_FORMAT_ALAW: *mode = IO_BYTES; return SF_FORMAT_ALAW;
	default: return 0;
	}
}

/*
 * The full SF format word for writing @fmt into @container, or 0 if it
 * cannot hold it. 8-bit goes signed where a container has no unsigned
 * 8-bit (AIFF-C, FLAC, CAF): the conversion through short is exact.
 */
static int sf_format_for(int container, enum vd_sample_format fmt, uint32_t channels,
			 uint32_t rate, const uint8_t *position, enum io_mode *mode)
{
	const struct container *c = &containers[container];
	SF_INFO info = { .samplerate = rate ? (int)rate : 48000, .channels = channels ? (int)channels : 2 };
	int major = c->major, codec;

	if (c->lossy) {
		if (fmt != VD_FORMAT_F32)
			return 0;
		*mode = IO_FLOAT;
		info.format = major;
		return sf_format_check(&info) ? info.format : 0;
	}
	codec = codec_for(fmt, container, mode);
	if (!codec)
		return 0;
	/* Microsoft's rule: more than two channels (or a non-default map) need WAVE_FORMAT_EXTENSIBLE. */
	if (major == SF_FORMAT_WAV && channels > 0) {
		uint8_t def[VD_MAX_CHANNELS];

		vd_channel_default_map(channels, def);
		if (channels > 2 || (position && memcmp(def, position, channels) != 0)) {
			info.format = SF_FORMAT_WAVEX | codec;
			if (sf_format_check(&info))
				return info.format;
		}
	}
	if (major == SF_FORMAT_RAW)
		major |= SF_ENDIAN_LITTLE;
	info.format = major | codec;
	if (sf_format_check(&info))
		return info.format;
	if (codec == SF_FORMAT_PCM_U8) {
		info.format = major | SF_FORMAT_PCM_S8;
		if (sf_format_check(&info))
			return info.format;
	}
	return 0;
}

/* Nearest storable formats, best first, for what arrives. */
static const enum vd_sample_format nearest[VD_FORMAT_COUNT][6] = {
	[VD_FORMAT_U8] = { VD_FORMAT_U8, VD_FORMAT_S16, VD_FORMAT_S24, VD_FORMAT_S32, VD_FORMAT_F32 },
	[VD_FORMAT_S16] = { VD_FORMAT_S16, VD_FORMAT_S24, VD_FORMAT_S32, VD_FORMAT_F32 },
	[VD_FORMAT_S24] = { VD_FORMAT_S24, VD_FORMAT_S32, VD_FORMAT_F64, VD_FORMAT_F32, VD_FORMAT_S16 },
	[VD_FORMAT_S24_3] = { VD_FORMAT_S24_3, VD_FORMAT_S24, VD_FORMAT_S32, VD_FORMAT_F64, VD_FORMAT_F32, VD_FORMAT_S16 },
	[VD_FORMAT_S32] = { VD_FORMAT_S32, VD_FORMAT_F64, VD_FORMAT_S24, VD_FORMAT_F32, VD_FORMAT_S16 },
	[VD_FORMAT_F32] = { VD_FORMAT_F32, VD_FORMAT_F64, VD_FORMAT_S32, VD_FORMAT_S24, VD_FORMAT_S16 },
	[VD_FORMAT_F64] = { VD_FORMAT_F64, VD_FORMAT_F32, VD_FORMAT_S32, VD_FORMAT_S24, VD_FORMAT_S16 },
	[VD_FORMAT_MULAW] = { VD_FORMAT_MULAW, VD_FORMAT_S16, VD_FORMAT_S24, VD_FORMAT_F32 },
	[VD_FORMAT_ALAW] = { VD_FORMAT_ALAW, VD_FORMAT_S16, VD_FORMAT_S24, VD_FORMAT_F32 },
};

/* "u8, s16, s24" - the formats @container stores, for messages. */
static void storable_list(int container, char *buf, size_t size)
{
	size_t len = 0;
	enum io_mode mode;

	buf[0] = '\0';
	for (int f = 1; f < VD_FORMAT_COUNT && len < size; f++) {
		if (!sf_format_for(container, (enum vd_sample_format)f, 2, 48000, NULL, &mode))
			continue;
		int n = snprintf(buf + len, size - len, "%s%s", len ? ", " : "",
				 vd_format_name((enum vd_sample_format)f));
		if (n < 0)
			break;
		len += (size_t)n;
	}
}

/* ---- channel maps ---- */

static const struct {
	int sf;
	uint8_t vd;
} chmap[] = {
	{ SF_CHANNEL_MAP_MONO, VD_CH_MONO },
	{ SF_CHANNEL_MAP_LEFT, VD_CH_FL }, { SF_CHANNEL_MAP_RIGHT, VD_CH_FR },
	{ SF_CHANNEL_MAP_CENTER, VD_CH_FC }, { SF_CHANNEL_MAP_LFE, VD_CH_LFE },
	{ SF_CHANNEL_MAP_REAR_LEFT, VD_CH_RL }, { SF_CHANNEL_MAP_REAR_RIGHT, VD_CH_RR },
	{ SF_CHANNEL_MAP_REAR_CENTER, VD_CH_RC },
	{ SF_CHANNEL_MAP_FRONT_LEFT_OF_CENTER, VD_CH_FLC },
	{ SF_CHANNEL_MAP_FRONT_RIGHT_OF_CENTER, VD_CH_FRC },
	{ SF_CHANNEL_MAP_SIDE_LEFT, VD_CH_SL }, { SF_CHANNEL_MAP_SIDE_RIGHT, VD_CH_SR },
	{ SF_CHANNEL_MAP_TOP_CENTER, VD_CH_TC },
	{ SF_CHANNEL_MAP_TOP_FRONT_LEFT, VD_CH_TFL }, { SF_CHANNEL_MAP_TOP_FRONT_CENTER, VD_CH_TFC },
	{ SF_CHANNEL_MAP_TOP_FRONT_RIGHT, VD_CH_TFR }, { SF_CHANNEL_MAP_TOP_REAR_LEFT, VD_CH_TRL },
	{ SF_CHANNEL_MAP_TOP_REAR_CENTER, VD_CH_TRC }, { SF_CHANNEL_MAP_TOP_REAR_RIGHT, VD_CH_TRR },
	/* Read-only synonyms: libsndfile distinguishes "front left" from "left", we do not. */
	{ SF_CHANNEL_MAP_FRONT_LEFT, VD_CH_FL }, { SF_CHANNEL_MAP_FRONT_RIGHT, VD_CH_FR },
	{ SF_CHANNEL_MAP_FRONT_CENTER, VD_CH_FC },
};
#define N_CHMAP (sizeof(chmap) / sizeof(chmap[0]))

/* The file's channel map if libsndfile knows one (and we can name every channel), else the default. */
static void read_channel_map(SNDFILE *sf, uint32_t channels, uint8_t *position)
{
	int map[VD_MAX_CHANNELS];

	vd_channel_default_map(channels, position);
	if (!sf_command(sf, SFC_GET_CHANNEL_MAP_INFO, map, (int)(sizeof(int) * channels)))
		return;
	for (uint32_t c = 0; c < channels; c++) {
		size_t k;

		for (k = 0; k < N_CHMAP && chmap[k].sf != map[c]; k++)
			;
		if (k == N_CHMAP) {
			vd_channel_default_map(channels, position);
			return;
		}
		position[c] = chmap[k].vd;
	}
}

/* Best effort: containers without a map (plain WAV, FLAC, raw) ignore it. */
static void write_channel_map(SNDFILE *sf, uint32_t channels, const uint8_t *position)
{
	int map[VD_MAX_CHANNELS];

	for (uint32_t c = 0; c < channels; c++) {
		size_t k;

		for (k = 0; k < N_CHMAP && chmap[k].vd != position[c]; k++)
			;
		if (k == N_CHMAP)
			return;
		map[c] = chmap[k].sf;
	}
	sf_command(sf, SFC_SET_CHANNEL_MAP_INFO, map, (int)(sizeof(int) * channels));
}

/* ---- file-source ---- */

/*
 * Live sources (docs/endpoints.md, "Real-time use"), the mirror of the live
 * sink: a reader thread owns the SNDFILE from prepare() to free() and keeps
 * an SPSC ring filled ahead of process(), which only copies out. Positions
 * are bytes of the reader's stream: the end of the file (eos_at) and where
 * the data after a rewind starts (restart_at) are published as positions,
 * so the processing thread acts on them exactly where they happen.
 */
#define SRC_RING_SECONDS 2		/* how long the disk may stall before the output underruns */
#define SRC_RING_MIN_BYTES (64u << 10)
#define READER_WAKE_NS 10000000ull	/* 10 ms */
/* The I/O thread of a live file endpoint, with the ring memory and buffer it owns. */
struct helper {
	pthread_t thread;
	bool running;
	_Atomic bool quit;
	void *mem;				/* the ring's storage */
	void *buf;				/* the thread's own staging buffer */
};

/*
 * Start it: an ordinary thread whatever the caller is (the processing
 * thread may be SCHED_FIFO), and deaf to signals: the daemon reads them
 * through a signalfd, which only works while no thread accepts them.
 * Returns 0 or -errno.
 */
static int helper_start(struct helper *h, void *(*fn)(void *), void *arg, const char *name)
{
	pthread_attr_t attr;
	sigset_t all, old;
	int ret;

	pthread_attr_init(&attr);
	pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&attr, SCHED_OTHER);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&h->thread, &attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (ret == 0) {
		pthread_setname_np(h->thread, name);
		h->running = true;
	}
	return ret;
}

static void helper_release(struct helper *h)
{
	free(h->mem);
	free(h->buf);
	h->mem = h->buf = NULL;
}

/* Join the thread (after its own last pass) and free what it owned. */
static void helper_stop(struct helper *h)
{
	if (!h->running)
		return;
	atomic_store_explicit(&h->quit, true, memory_order_release);
	pthread_join(h->thread, NULL);
	h->running = false;
	helper_release(h);
}

/* An idle helper thread (a suspended engine, a sink nobody feeds, a full read-ahead ring)
 * doubles its sleep up to this, so it costs nearly nothing; the rings hold 2 s, far more. */
#define IDLE_NAP_MAX_NS 160000000ull	/* 160 ms */

/* The next sleep of a reader/writer thread: @busy resets it to @base, idleness doubles it. */
static uint64_t idle_nap(uint64_t nap, bool busy, uint64_t base)
{
	if (busy)
		return base;
	return nap * 2 > IDLE_NAP_MAX_NS ? IDLE_NAP_MAX_NS : nap * 2;
}
#define READER_CHUNK_FRAMES 4096u
#define NO_POSITION UINT64_MAX

struct src_live {
	struct vd_ring ring;
	struct helper h;			/* the reader thread, the ring's memory, its buffer */
	/* processing thread -> reader */
	_Atomic uint32_t reset_gen;		/* rewind requests */
	/* reader -> processing thread */
	_Atomic uint32_t ack_gen;		/* the rewind request the reader has carried out */
	_Atomic uint64_t restart_at;		/* position where the data after that rewind starts */
	_Atomic uint64_t eos_at;		/* position of the end of the file, or NO_POSITION */
	_Atomic uint64_t produced;		/* bytes committed to the ring, ever */
	_Atomic int error;			/* read error (-errno): the stream ended there */
	/* processing thread -> anyone (parameters) */
	_Atomic uint64_t consumed;		/* bytes taken out of the ring or skipped, ever */
	_Atomic uint64_t underruns;		/* process() calls that found too little */
	_Atomic uint64_t underrun_frames;	/* silence frames output for them */
	_Atomic bool ended;			/* the file's last frame has been output */
	/* processing thread only */
	uint32_t want_gen;
	bool skipping;				/* a rewind is pending: old data is dropped */
	bool eos;				/* the file has ended: silence from now on */
	/* reader only */
	uint32_t served_gen;
	bool at_end;
	bool rewound;				/* nothing read since the last rewind (an empty loop) */
	uint64_t written;			/* bytes, = produced */
	sf_count_t frames;			/* read since the last rewind */
};

struct file_source {
	struct vd_endpoint_conn conn;	/* first: vd_endpoint_conn_of() */
	char *name;
	char *path;
	SNDFILE *sf;
	struct vd_audio_format fmt;
	enum io_mode mode;
	int64_t total;		/* -1 if unknown */
	int64_t pos;
	bool eos;
	bool loop;		/* start again at the end, never EOS */
	bool live;		/* VD_NODE_INIT_LIVE: a reader thread does the I/O */
	bool regular;		/* a regular file: reading it never waits on a peer */
	struct src_live lv;
};

static void src_live_stop(struct file_source *s);

/* The format a decoded codec is delivered in: its native precision. */
static enum vd_sample_format native_format(int codec, enum io_mode *mode)
{
	switch (codec) {
	case SF_FORMAT_PCM_S8: case SF_FORMAT_PCM_U8: case SF_FORMAT_PCM_16:
	case SF_FORMAT_ULAW: case SF_FORMAT_ALAW:
	case SF_FORMAT_IMA_ADPCM: case SF_FORMAT_MS_ADPCM: case SF_FORMAT_GSM610:
	case SF_FORMAT_VOX_ADPCM: case SF_FORMAT_G721_32: case SF_FORMAT_G723_24:
	case SF_FORMAT_G723_40: case SF_FORMAT_DWVW_12: case SF_FORMAT_DWVW_16:
	case SF_FORMAT_DPCM_8: case SF_FORMAT_DPCM_16: case SF_FORMAT_ALAC_16:
	case SF_FORMAT_NMS_ADPCM_16: case SF_FORMAT_NMS_ADPCM_24: case SF_FORMAT_NMS_ADPCM_32:
		*mode = IO_SHORT;
		return VD_FORMAT_S16;
	case SF_FORMAT_PCM_24: case SF_FORMAT_DWVW_24: case SF_FORMAT_ALAC_20: case SF_FORMAT_ALAC_24:
		*mode = IO_INT_S24;
		return VD_FORMAT_S24;
	case SF_FORMAT_PCM_32: case SF_FORMAT_ALAC_32:
		*mode = IO_INT;
		return VD_FORMAT_S32;
	case SF_FORMAT_DOUBLE:
		*mode = IO_DOUBLE;
		return VD_FORMAT_F64;
	default:
		/* float, Vorbis, Opus, MPEG and anything newer: decoded as float. */
		*mode = IO_FLOAT;
		return VD_FORMAT_F32;
	}
}

static void file_source_free(void *self)
{
	struct file_source *s = self;

	if (!s)
		return;
	src_live_stop(s);
	if (s->sf)
		sf_close(s->sf);
	free(s->path);
	free(s->name);
	free(s);
}

int vd_endpoint_file_source_new(const struct vd_file_source_config *cfg, void **self,
				struct vd_error *err)
{
	struct file_source *s;
	SF_INFO info = { 0 };
	int fd, ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	vd_endpoint_conn_init(&s->conn, true);
	s->live = cfg->live;
	s->name = strdup(cfg->name ? cfg->name : "file-source");
	s->path = strdup(cfg->path);
	if (!s->name || !s->path) {
		ret = -ENOMEM;
		goto fail;
	}
	fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		ret = vd_error_set(err, -e, cfg->loc, "%s: cannot open '%s': %s",
				   s->name, s->path, strerror(e));
		goto fail;
	}
	struct stat st;
	s->regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	if (cfg->raw) {
		enum io_mode unused;
		int codec = codec_for(cfg->raw_format.format, CONTAINER_RAW, &unused);

		info.samplerate = (int)cfg->raw_format.rate;
		info.channels = (int)cfg->raw_format.channels;
		info.format = SF_FORMAT_RAW | SF_ENDIAN_LITTLE | codec;
	}
	s->sf = sf_open_fd(fd, SFM_READ, &info, SF_TRUE);
	if (!s->sf) {
		ret = vd_error_set(err, -EINVAL, cfg->loc, "%s: cannot read '%s': %s",
				   s->name, s->path, sf_strerror(NULL));
		goto fail;
	}
	if (info.channels < 1 || info.channels > VD_MAX_CHANNELS || info.samplerate < 1) {
		ret = vd_error_set(err, -EINVAL, cfg->loc,
				   "%s: '%s' has %d channels at %d Hz (1..%d channels supported)",
				   s->name, s->path, info.channels, info.samplerate, VD_MAX_CHANNELS);
		goto fail;
	}
	vd_audio_format_init(&s->fmt, native_format(info.format & SF_FORMAT_SUBMASK, &s->mode),
			     (uint32_t)info.samplerate, (uint32_t)info.channels);
	if (cfg->raw && cfg->raw_format.format == VD_FORMAT_S24) {
		s->mode = IO_INT_S24_RAW;
		s->fmt.format = VD_FORMAT_S24;
	}
	if (cfg->raw)
		memcpy(s->fmt.position, cfg->raw_format.position, sizeof(s->fmt.position));
	else
		read_channel_map(s->sf, s->fmt.channels, s->fmt.position);
	s->total = info.frames >= 0 && info.frames < SF_COUNT_MAX ? info.frames : -1;
	*self = s;
	return 0;
fail:
	file_source_free(s);
	return ret;
}

static const char *const format_keys[] = { "format", "rate", "channels" };

static int file_source_init(const struct vd_node_init *init, void **self,
			    uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	struct vd_file_source_config cfg = { .name = init->name };
	const struct vd_prop *p = vd_props_find(init->props, "path");
	const char *path = NULL;
	enum vd_sample_format fmt = VD_FORMAT_UNKNOWN;
	uint32_t rate = 0, channels = 0;
	bool loop = false;
	bool connected = true;
	int ret, c = -1;
	char *full;

	if ((ret = vd_props_string(init->props, "path", &path, err)) < 0 ||
	    (ret = vd_props_bool(init->props, "loop", &loop, err)) < 0 ||
	    (ret = vd_props_enum(init->props, "container", container_names, &c, err)) < 0 ||
	    (ret = vd_props_format(init->props, "format", &fmt, err)) < 0 ||
	    (ret = vd_props_uint(init->props, "rate", 1, 1000000, &rate, err)) < 0 ||
	    (ret = vd_props_uint(init->props, "channels", 1, VD_MAX_CHANNELS, &channels, err)) < 0)
		return ret;
	if (!path)
		return vd_error_set(err, -EINVAL, init->props ? &init->props->loc : NULL,
				    "%s: file-source needs a 'path'", init->name);
	if (c < 0)
		c = container_from_path(path);
	cfg.raw = c == CONTAINER_RAW;
	if (cfg.raw) {
		if (!fmt || !rate || !channels)
			return vd_error_set(err, -EINVAL, &p->loc,
					    "%s: '%s' is a raw file: give its 'format', 'rate' and 'channels'",
					    init->name, path);
		vd_audio_format_init(&cfg.raw_format, fmt, rate, channels);
	} else {
		/* The header says it all; a contradicting property would be silently wrong. */
		for (size_t k = 0; k < 3; k++) {
			const struct vd_prop *fp = vd_props_find(init->props, format_keys[k]);

			if (fp)
				return vd_error_set(err, -EINVAL, &fp->loc,
						    "%s: '%s' applies to raw files only; '%s' has a header",
						    init->name, format_keys[k], path);
		}
	}
	full = vd_endpoint_resolve_path(init->base_dir, path);
	if (!full)
		return -ENOMEM;
	cfg.path = full;
	cfg.loc = &p->loc;
	ret = vd_props_bool(init->props, "connected", &connected, err);
	if (ret == 0)
		ret = vd_endpoint_file_source_new(&cfg, self, err);
	if (ret == 0)
		vd_endpoint_conn_init(*self, connected);
	free(full);
	if (ret < 0)
		return ret;
	struct file_source *s = *self;
	/* an empty file would loop without producing anything: it just ends */
	s->loop = loop && s->total != 0;
	s->live = init->flags & VD_NODE_INIT_LIVE;
	*n_inputs = 0;
	*n_outputs = 1;
	return 0;
}

static int file_source_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
				 struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	struct file_source *s = self;

	out[0] = s->fmt;
	return 0;
}

static int src_live_start(struct file_source *s);

static int file_source_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
			       const struct vd_audio_format *out, uint32_t n_out,
			       uint32_t max_frames, struct vd_error *err)
{
	struct file_source *s = self;
	int ret;

	if (!vd_audio_format_equal(&out[0], &s->fmt))
		return vd_error_set(err, -EINVAL, NULL, "%s: output format changed after negotiation",
				    s->name);
	if (!s->live)
		return 0;
	ret = src_live_start(s);
	if (ret < 0)
		return vd_error_set(err, ret, NULL, "%s: cannot start the reader thread of '%s': %s",
				    s->name, s->path, strerror(-ret));
	return 0;
}

static sf_count_t read_frames(struct file_source *s, void *dst, sf_count_t frames)
{
	size_t n;
	sf_count_t got;

	switch (s->mode) {
	case IO_SHORT:
		return sf_readf_short(s->sf, dst, frames);
	case IO_FLOAT:
		return sf_readf_float(s->sf, dst, frames);
	case IO_DOUBLE:
		return sf_readf_double(s->sf, dst, frames);
	case IO_INT:
		return sf_readf_int(s->sf, dst, frames);
	case IO_INT_S24:
		/* libsndfile left-justifies 24-bit samples in an int. */
		got = sf_readf_int(s->sf, dst, frames);
		n = (size_t)got * s->fmt.channels;
		for (size_t i = 0; i < n; i++)
			((int32_t *)dst)[i] >>= 8;
		return got;
	case IO_INT_S24_RAW:
		got = sf_readf_int(s->sf, dst, frames);
		n = (size_t)got * s->fmt.channels;
		for (size_t i = 0; i < n; i++)
			((int32_t *)dst)[i] = (int32_t)((uint32_t)((int32_t *)dst)[i] << 8) >> 8;
		return got;
	default:
		return -1;
	}
}

/* ---- live file-source: the reader thread ---- */

/* Reader: fill the ring until it is full, the file ends, or a read fails (which ends it too). */
static void src_fill(struct file_source *s)
{
	struct src_live *lv = &s->lv;
	uint32_t stride = (uint32_t)vd_format_frame_size(&s->fmt);

	while (!lv->at_end) {
		uint32_t room = vd_ring_writable(&lv->ring) / stride;
		sf_count_t want = room < READER_CHUNK_FRAMES ? room : READER_CHUNK_FRAMES, got;

		/* a rewind request: stop adding data it would only skip */
		if (!want || atomic_load_explicit(&lv->reset_gen, memory_order_acquire) != lv->served_gen)
			return;
		/* a known length ends the stream with its last frame, not one empty read later */
		if (!s->loop && s->total >= 0 && want > s->total - lv->frames)
			want = s->total - lv->frames;
		got = want ? read_frames(s, lv->h.buf, want) : 0;
		if (got > 0) {
			vd_ring_write(&lv->ring, lv->h.buf, (uint32_t)got * stride);
			lv->written += (uint64_t)got * stride;
			lv->frames += got;
			atomic_store_explicit(&lv->produced, lv->written, memory_order_release);
			lv->rewound = false;
			if (s->loop || s->total < 0 || lv->frames < s->total)
				continue;
			got = 0;
		}
		bool failed = got < 0 || sf_error(s->sf) != SF_ERR_NO_ERROR;

		/* a second empty read straight after a rewind: the file has nothing to loop */
		if (!failed && s->loop && !lv->rewound) {
			if (sf_seek(s->sf, 0, SEEK_SET) == 0) {
				lv->rewound = true;
				lv->frames = 0;
				continue;
			}
			failed = true;
		}
		if (failed || s->loop)
			atomic_store_explicit(&lv->error, -EIO, memory_order_relaxed);
		lv->at_end = true;
		atomic_store_explicit(&lv->eos_at, lv->written, memory_order_release);
	}
}

/* Reader: a rewind request; the data already in the ring is skipped by the processing thread. */
static void src_rewind(struct file_source *s, uint32_t gen)
{
	struct src_live *lv = &s->lv;
	bool ok = sf_seek(s->sf, 0, SEEK_SET) == 0;

	lv->served_gen = gen;
	lv->at_end = false;
	lv->rewound = false;
	lv->frames = 0;
	atomic_store_explicit(&lv->eos_at, NO_POSITION, memory_order_relaxed);
	atomic_store_explicit(&lv->error, ok ? 0 : -EIO, memory_order_relaxed);
	atomic_store_explicit(&lv->restart_at, lv->written, memory_order_relaxed);
	atomic_store_explicit(&lv->ack_gen, gen, memory_order_release);
	if (!ok) {
		/* a pipe cannot rewind: the stream ends where it is */
		lv->at_end = true;
		atomic_store_explicit(&lv->eos_at, lv->written, memory_order_release);
	}
}

static void *reader_main(void *arg)
{
	struct file_source *s = arg;
	struct src_live *lv = &s->lv;

	uint64_t nap = READER_WAKE_NS;

	for (;;) {
		uint32_t gen = atomic_load_explicit(&lv->reset_gen, memory_order_acquire);
		uint64_t before = lv->written;
		bool rewound = gen != lv->served_gen;

		if (atomic_load_explicit(&lv->h.quit, memory_order_acquire))
			break;
		if (rewound)
			src_rewind(s, gen);
		src_fill(s);
		nap = idle_nap(nap, rewound || lv->written != before, READER_WAKE_NS);
		struct timespec ts = { 0, (long)nap };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/*
 * Allocate the ring, fill it on the caller's thread from a regular file (so
 * the first cycles do not underrun; a pipe could wait on its writer here),
 * and start the reader at the beginning of the file.
 */
static int src_live_start(struct file_source *s)
{
	struct src_live *lv = &s->lv;
	size_t stride = vd_format_frame_size(&s->fmt);
	uint64_t want = (uint64_t)s->fmt.rate * SRC_RING_SECONDS * stride;
	uint32_t size = SRC_RING_MIN_BYTES;
	int ret;

	src_live_stop(s);
	while (size < want && size < (1u << 30))
		size <<= 1;
	memset(lv, 0, sizeof(*lv));
	atomic_store_explicit(&lv->eos_at, NO_POSITION, memory_order_relaxed);
	lv->h.mem = malloc(size);
	lv->h.buf = malloc((size_t)READER_CHUNK_FRAMES * stride);
	if (!lv->h.mem || !lv->h.buf) {
		ret = -ENOMEM;
		goto fail;
	}
	vd_ring_init(&lv->ring, lv->h.mem, size);
	if (s->regular && sf_seek(s->sf, 0, SEEK_SET) != 0) {
		ret = -EIO;
		goto fail;
	}
	if (s->regular)
		src_fill(s);
	ret = helper_start(&lv->h, reader_main, s, "vd-file-reader");
	if (ret < 0)
		goto fail;
	return 0;
fail:
	helper_release(&lv->h);
	return ret;
}

static void src_live_stop(struct file_source *s)
{
	helper_stop(&s->lv.h);
}

/* Processing thread: copy out what the reader has ready; short of it, silence and an underrun. */
static int src_live_process(struct file_source *s, struct vd_buffer *out)
{
	struct src_live *lv = &s->lv;
	uint32_t stride = (uint32_t)vd_format_frame_size(&s->fmt);
	uint32_t want = out[0].frames, n = 0;
	uint64_t consumed = atomic_load_explicit(&lv->consumed, memory_order_relaxed), end;

	if (lv->skipping) {
		if (atomic_load_explicit(&lv->ack_gen, memory_order_acquire) != lv->want_gen)
			goto short_of_data;
		/* everything before restart_at was committed before the acknowledgement */
		uint64_t at = atomic_load_explicit(&lv->restart_at, memory_order_relaxed);

		while (consumed < at) {
			uint64_t left = at - consumed;
			uint32_t k = vd_ring_skip(&lv->ring, left > UINT32_MAX ? UINT32_MAX : (uint32_t)left);

			if (!k)
				break;
			consumed += k;
		}
		atomic_store_explicit(&lv->consumed, consumed, memory_order_relaxed);
		if (consumed < at)
			goto short_of_data;
		lv->skipping = false;
	}
	if (lv->eos)
		goto ended;
	end = atomic_load_explicit(&lv->eos_at, memory_order_acquire);
	n = vd_ring_readable(&lv->ring) / stride;
	if (n > want)
		n = want;
	if (end != NO_POSITION && (end - consumed) / stride < n)
		n = (uint32_t)((end - consumed) / stride);
	if (n) {
		vd_ring_read(&lv->ring, out[0].data, n * stride);
		consumed += (uint64_t)n * stride;
		atomic_store_explicit(&lv->consumed, consumed, memory_order_relaxed);
	}
	if (end != NO_POSITION && consumed >= end) {
		lv->eos = true;
		atomic_store_explicit(&lv->ended, true, memory_order_relaxed);
		goto ended;
	}
	if (n == want) {
		out[0].flags = 0;
		return 0;
	}
short_of_data:
	vd_endpoint_fill_silence(s->fmt.format, (uint8_t *)out[0].data + (size_t)n * stride,
				 (size_t)(want - n) * s->fmt.channels);
	atomic_fetch_add_explicit(&lv->underruns, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&lv->underrun_frames, want - n, memory_order_relaxed);
	out[0].frames = want;
	out[0].flags = 0;
	return 0;
ended:
	/* No EOS in a live graph: it would end every node downstream, attach points
	 * included, and guests capturing from them would stop being completed. */
	vd_endpoint_fill_silence(s->fmt.format, (uint8_t *)out[0].data + (size_t)n * stride,
				 (size_t)(want - n) * s->fmt.channels);
	out[0].frames = want;
	out[0].flags = 0;
	return 0;
}

/* Processing thread (or the graph's owner between cycles): ask the reader to start again. */
static void src_live_reset(struct file_source *s)
{
	struct src_live *lv = &s->lv;

	/* nothing taken since the last start: the ring already holds the beginning */
	if (!lv->skipping && !lv->eos &&
	    atomic_load_explicit(&lv->consumed, memory_order_relaxed) ==
	    (lv->want_gen ? atomic_load_explicit(&lv->restart_at, memory_order_relaxed) : 0))
		return;
	lv->want_gen++;
	lv->skipping = true;
	lv->eos = false;
	atomic_store_explicit(&lv->ended, false, memory_order_relaxed);
	atomic_store_explicit(&lv->reset_gen, lv->want_gen, memory_order_release);
	/* Drop what is in the ring now, so the reader has room for the new start at once; what it
	 * still adds before it sees the request (one chunk at most) is skipped by process(). */
	uint64_t consumed = atomic_load_explicit(&lv->consumed, memory_order_relaxed);
	consumed += vd_ring_skip(&lv->ring, vd_ring_readable(&lv->ring));
	atomic_store_explicit(&lv->consumed, consumed, memory_order_relaxed);
}

static int file_source_process(void *self, struct vd_buffer *in, uint32_t n_in,
			       struct vd_buffer *out, uint32_t n_out)
{
	struct file_source *s = self;
	sf_count_t want = out[0].frames, got;

	if (s->live && s->lv.h.running)
		return src_live_process(s, out);
	if (s->eos) {
		out[0].frames = 0;
		out[0].flags = VD_BUFFER_EOS;
		return 0;
	}
	if (s->loop) {
		size_t stride = vd_format_frame_size(&s->fmt);
		sf_count_t done = 0;

		bool rewound = false;

		/* a file shorter than the buffer repeats within it */
		while (done < want) {
			got = read_frames(s, (uint8_t *)out[0].data + done * stride, want - done);
			if (got < 0 || (got == 0 && (rewound || sf_error(s->sf) != SF_ERR_NO_ERROR)))
				return -EIO;
			if (got == 0) {
				if (sf_seek(s->sf, 0, SEEK_SET) != 0)
					return -EIO;
				rewound = true;
				continue;
			}
			rewound = false;
			done += got;
		}
		out[0].frames = (uint32_t)done;
		out[0].flags = 0;
		return 0;
	}
	if (s->total >= 0 && want > s->total - s->pos)
		want = s->total - s->pos;
	got = want ? read_frames(s, out[0].data, want) : 0;
	if (got < 0)
		return -EIO;
	if (got < want) {
		if (sf_error(s->sf) != SF_ERR_NO_ERROR)
			return -EIO;
		s->eos = true;
	}
	s->pos += got;
	if (s->total >= 0 && s->pos >= s->total)
		s->eos = true;
	out[0].frames = (uint32_t)got;
	out[0].flags = s->eos ? VD_BUFFER_EOS : 0;
	return 0;
}

static void file_source_reset(void *self)
{
	struct file_source *s = self;

	if (s->live && s->lv.h.running) {
		src_live_reset(s);
		return;
	}
	if (sf_seek(s->sf, 0, SEEK_SET) == 0) {
		s->pos = 0;
		s->eos = false;
	}
}

static int64_t file_source_total_frames(void *self)
{
	struct file_source *s = self;

	return s->loop || s->live ? -1 : s->total;
}

enum { SRC_PARAM_UNDERRUNS, SRC_PARAM_UNDERRUN_FRAMES, SRC_PARAM_BUFFERED, SRC_PARAM_ERROR,
       SRC_PARAM_RING_MS, SRC_PARAM_ENDED, SRC_PARAM_COUNT };

static int file_source_enum_params(void *self, uint32_t index, struct vd_param_info *info)
{
	static const struct vd_param_info params[SRC_PARAM_COUNT] = {
		{ .id = SRC_PARAM_UNDERRUNS, .name = "underruns", .type = VD_PARAM_INT,
		  .flags = VD_PARAM_READ | VD_PARAM_VOLATILE, .max = 9.007199254740992e15, .step = 1 },
		{ .id = SRC_PARAM_UNDERRUN_FRAMES, .name = "underrun_frames", .type = VD_PARAM_INT,
		  .flags = VD_PARAM_READ | VD_PARAM_VOLATILE, .max = 9.007199254740992e15, .step = 1 },
		{ .id = SRC_PARAM_BUFFERED, .name = "buffered", .type = VD_PARAM_INT,
		  .flags = VD_PARAM_READ | VD_PARAM_VOLATILE, .max = 9.007199254740992e15, .step = 1 },
		{ .id = SRC_PARAM_ERROR, .name = "error", .type = VD_PARAM_INT,
		  .flags = VD_PARAM_READ | VD_PARAM_VOLATILE, .min = -4095, .max = 0, .step = 1 },
		{ .id = SRC_PARAM_RING_MS, .name = "ring_ms", .type = VD_PARAM_FLOAT,
		  .flags = VD_PARAM_READ, .max = 1e9 },
		{ .id = SRC_PARAM_ENDED, .name = "ended", .type = VD_PARAM_BOOL,
		  .flags = VD_PARAM_READ | VD_PARAM_VOLATILE, .max = 1, .step = 1 },
	};

	if (index >= SRC_PARAM_COUNT)
		return -ENOENT;
	*info = params[index];
	return 0;
}

/* Frames ready for the processing thread: after a pending rewind, only the new data counts. */
static uint64_t src_buffered(struct file_source *s)
{
	struct src_live *lv = &s->lv;
	uint32_t stride = (uint32_t)vd_format_frame_size(&s->fmt);
	uint32_t gen = atomic_load_explicit(&lv->reset_gen, memory_order_relaxed);
	uint64_t from, produced;

	if (atomic_load_explicit(&lv->ack_gen, memory_order_acquire) != gen)
		return 0;
	from = atomic_load_explicit(&lv->consumed, memory_order_relaxed);
	if (gen && atomic_load_explicit(&lv->restart_at, memory_order_relaxed) > from)
		from = atomic_load_explicit(&lv->restart_at, memory_order_relaxed);
	produced = atomic_load_explicit(&lv->produced, memory_order_acquire);
	return produced > from ? (produced - from) / stride : 0;
}

static int file_source_get_param(void *self, uint32_t id, double *value)
{
	struct file_source *s = self;
	bool live = s->live && s->lv.h.running;

	switch (id) {
	case SRC_PARAM_UNDERRUNS:
		*value = (double)atomic_load_explicit(&s->lv.underruns, memory_order_relaxed);
		return 0;
	case SRC_PARAM_UNDERRUN_FRAMES:
		*value = (double)atomic_load_explicit(&s->lv.underrun_frames, memory_order_relaxed);
		return 0;
	case SRC_PARAM_BUFFERED:
		*value = live ? (double)src_buffered(s) : 0;
		return 0;
	case SRC_PARAM_ERROR:
		*value = atomic_load_explicit(&s->lv.error, memory_order_relaxed);
		return 0;
	case SRC_PARAM_ENDED:
		*value = live ? atomic_load_explicit(&s->lv.ended, memory_order_relaxed) : s->eos;
		return 0;
	case SRC_PARAM_RING_MS:
		*value = live ? s->lv.ring.size * 1000.0 / ((double)vd_format_frame_size(&s->fmt) * s->fmt.rate)
			      : 0;
		return 0;
	default:
		return -ENOENT;
	}
}

static int file_source_set_param(void *self, uint32_t id, double value)
{
	return id < SRC_PARAM_COUNT ? -EPERM : -ENOENT;
}

const struct vd_node_ops vd_node_file_source = {
	.version = VD_NODE_OPS_VERSION,
	.type = "file-source",
	.summary = "reads an audio file (libsndfile) in its native precision",
	.flags = VD_NODE_SOURCE | VD_NODE_ENDPOINT,
	.init = file_source_init,
	.free = file_source_free,
	.negotiate = file_source_negotiate,
	.prepare = file_source_prepare,
	.process = file_source_process,
	.reset = file_source_reset,
	.total_frames = file_source_total_frames,
	.enum_params = file_source_enum_params,
	.set_param = file_source_set_param,
	.get_param = file_source_get_param,
};

/* ---- file-sink ---- */

/*
 * Live sinks (docs/endpoints.md, "Real-time use"): process() only copies
 * into an SPSC ring; a writer thread owns the SNDFILE from prepare() to
 * free() and wakes every WRITER_WAKE_NS to drain it. Requests travel as
 * byte positions in the stream (reset_at, eos_at) published by generation
 * counters, so the writer acts on them exactly where they happened.
 */
#define RING_SECONDS 2			/* what a stalled disk may hold up before frames are dropped */
#define RING_MIN_BYTES (64u << 10)
#define WRITER_WAKE_NS 10000000ull	/* 10 ms */
#define HEADER_EVERY_NS 500000000ull	/* rewrite the header at least this often while data flows */
#define WRITER_CHUNK_FRAMES 4096u

struct live {
	struct vd_ring ring;
	struct helper h;			/* the writer thread, the ring's memory, its buffer */
	/* processing thread -> writer */
	_Atomic uint64_t produced;		/* bytes committed to the ring, ever */
	_Atomic uint64_t reset_at, eos_at;	/* positions in produced */
	_Atomic uint32_t reset_gen, eos_gen;
	/* writer -> anyone (parameters) */
	_Atomic uint64_t dropped;		/* frames that found the ring full */
	_Atomic uint64_t written;		/* frames in the current file */
	_Atomic uint64_t max_fill;		/* bytes, high-water mark of the ring */
	_Atomic uint64_t headers;		/* header rewrites while running */
	_Atomic int error;			/* first write error (-errno), then data is discarded */
	/* processing thread only */
	bool eos;
	/* writer only */
	uint64_t consumed;
	uint32_t buf_frames;
};

struct file_sink {
	struct vd_endpoint_conn conn;	/* first: vd_endpoint_conn_of() */
	char *name;
	char *path;
	int container;
	enum vd_sample_format want;	/* explicit format property, or UNKNOWN */
	uint32_t want_rate, want_channels;
	struct vd_audio_format fmt;	/* negotiated */
	int sf_format;
	enum io_mode mode;
	SNDFILE *sf;
	void *scratch;
	uint32_t max_frames;
	uint64_t frames;
	bool started;		/* something was written since open */
	bool eos;
	bool live;		/* VD_NODE_INIT_LIVE: a writer thread does the I/O */
	struct live lv;
};

static void live_stop(struct file_sink *s);
static int live_start(struct file_sink *s);

static int sink_close(struct file_sink *s)
{
	int ret = 0;

	if (s->sf && sf_close(s->sf) != 0)
		ret = -EIO;
	s->sf = NULL;
	return ret;
}

static void file_sink_free(void *self)
{
	struct file_sink *s = self;

	if (!s)
		return;
	live_stop(s);
	/* sf_close() rewrites the header, so even a failed run leaves a valid file. */
	sink_close(s);
	free(s->scratch);
	free(s->path);
	free(s->name);
	free(s);
}

static int parent_writable(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int ret;

	if (!slash)
		return access(".", W_OK) == 0 ? 0 : -errno;
	dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (!dir)
		return -ENOMEM;
	ret = access(dir, W_OK) == 0 ? 0 : -errno;
	free(dir);
	return ret;
}

int vd_endpoint_file_sink_new(const struct vd_file_sink_config *cfg, void **self,
			      struct vd_error *err)
{
	struct file_sink *s;
	enum io_mode mode;
	char list[128];
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	vd_endpoint_conn_init(&s->conn, true);
	s->live = cfg->live;
	s->name = strdup(cfg->name ? cfg->name : "file-sink");
	s->path = strdup(cfg->path);
	if (!s->name || !s->path) {
		ret = -ENOMEM;
		goto fail;
	}
	s->container = cfg->container >= 0 ? cfg->container : container_from_path(s->path);
	if (s->container < 0) {
		ret = vd_error_set(err, -EINVAL, cfg->loc,
				   "%s: cannot tell the container from '%s'; set 'container' to one of: "
				   "wav, wavex, rf64, w64, aiff, au, caf, flac, ogg, opus, raw",
				   s->name, s->path);
		goto fail;
	}
	s->want = cfg->format;
	s->want_rate = cfg->rate;
	s->want_channels = cfg->channels;
	if (s->want && !sf_format_for(s->container, s->want, 0, 0, NULL, &mode)) {
		storable_list(s->container, list, sizeof(list));
		ret = vd_error_set(err, -EINVAL, cfg->loc,
				   "%s: the %s container cannot store %s samples (it stores: %s)", s->name,
				   containers[s->container].name, vd_format_name(s->want), list);
		goto fail;
	}
	/* Fail at load time, not after a long run, when the file cannot be created. */
	ret = parent_writable(s->path);
	if (ret < 0) {
		vd_error_set(err, ret, cfg->loc, "%s: cannot write '%s': %s", s->name, s->path,
			     strerror(-ret));
		goto fail;
	}
	*self = s;
	return 0;
fail:
	file_sink_free(s);
	return ret;
}

static int file_sink_init(const struct vd_node_init *init, void **self,
			  uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	struct vd_file_sink_config cfg = { .name = init->name, .container = -1 };
	const struct vd_prop *p = vd_props_find(init->props, "path");
	const char *path = NULL;
	bool connected = true;
	int container = -1, ret;
	char *full;

	if ((ret = vd_props_string(init->props, "path", &path, err)) < 0 ||
	    (ret = vd_props_format(init->props, "format", &cfg.format, err)) < 0 ||
	    (ret = vd_props_enum(init->props, "container", container_names, &container, err)) < 0 ||
	    (ret = vd_props_uint(init->props, "rate", 1, 1000000, &cfg.rate, err)) < 0 ||
	    (ret = vd_props_uint(init->props, "channels", 1, VD_MAX_CHANNELS, &cfg.channels, err)) < 0)
		return ret;
	if (!path)
		return vd_error_set(err, -EINVAL, init->props ? &init->props->loc : NULL,
				    "%s: file-sink needs a 'path'", init->name);
	full = vd_endpoint_resolve_path(init->base_dir, path);
	if (!full)
		return -ENOMEM;
	cfg.path = full;
	cfg.loc = &p->loc;
	cfg.container = container;
	ret = vd_props_bool(init->props, "connected", &connected, err);
	if (ret == 0)
		ret = vd_endpoint_file_sink_new(&cfg, self, err);
	if (ret == 0)
		vd_endpoint_conn_init(*self, connected);
	free(full);
	if (ret < 0)
		return ret;
	((struct file_sink *)*self)->live = init->flags & VD_NODE_INIT_LIVE;
	*n_inputs = 1;
	*n_outputs = 0;
	return 0;
}

static uint32_t opus_rate(uint32_t rate)
{
	static const uint32_t rates[] = { 8000, 12000, 16000, 24000, 48000 };

	for (size_t i = 0; i < 5; i++)
		if (rates[i] >= rate)
			return rates[i];
	return 48000;
}

static int file_sink_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			       struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	struct file_sink *s = self;
	struct vd_audio_format f = in[0];
	enum vd_sample_format arrives = f.format;
	int sff = 0;

	if (s->want_channels && s->want_channels != f.channels) {
		f.channels = s->want_channels;
		vd_channel_default_map(f.channels, f.position);
	}
	if (s->want_rate)
		f.rate = s->want_rate;
	if ((containers[s->container].major & SF_FORMAT_SUBMASK) == SF_FORMAT_OPUS)
		f.rate = opus_rate(f.rate);
	if (s->want) {
		f.format = s->want;
		sff = sf_format_for(s->container, f.format, f.channels, f.rate, f.position, &s->mode);
	} else if ((unsigned)arrives < VD_FORMAT_COUNT) {
		for (int k = 0; k < 6 && nearest[arrives][k] && !sff; k++) {
			f.format = nearest[arrives][k];
			sff = sf_format_for(s->container, f.format, f.channels, f.rate, f.position,
					    &s->mode);
		}
	}
	if (!sff)
		return vd_error_set(err, -EINVAL, NULL,
				    "%s: the %s container cannot store %s at %u Hz with %u channels",
				    s->name, containers[s->container].name,
				    vd_format_name(s->want ? s->want : arrives), f.rate, f.channels);
	s->sf_format = sff;
	s->fmt = f;
	in[0] = f;
	return 0;
}

static int sink_open(struct file_sink *s, struct vd_error *err)
{
	SF_INFO info = {
		.samplerate = (int)s->fmt.rate,
		.channels = (int)s->fmt.channels,
		.format = s->sf_format,
	};
	int fd;

	fd = open(s->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		int e = errno;

		return vd_error_set(err, -e, NULL, "%s: cannot create '%s': %s", s->name,
				    s->path, strerror(e));
	}
	s->sf = sf_open_fd(fd, SFM_WRITE, &info, SF_TRUE);
	if (!s->sf)
		return vd_error_set(err, -EIO, NULL, "%s: cannot write '%s': %s", s->name, s->path,
				    sf_strerror(NULL));
	/* no PEAK chunk: it carries the wall-clock time, and offline runs must be byte-identical */
	sf_command(s->sf, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE);
	write_channel_map(s->sf, s->fmt.channels, s->fmt.position);
	s->started = false;
	s->eos = false;
	s->frames = 0;
	return 0;
}

static int file_sink_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
			     const struct vd_audio_format *out, uint32_t n_out,
			     uint32_t max_frames, struct vd_error *err)
{
	struct file_sink *s = self;
	size_t scratch = 0;
	int ret;

	if (!s->sf_format || in[0].format != s->fmt.format || in[0].rate != s->fmt.rate ||
	    in[0].channels != s->fmt.channels)
		return vd_error_set(err, -EINVAL, NULL, "%s: input format changed after negotiation",
				    s->name);
	s->fmt = in[0];
	if (s->mode == IO_SHORT_U8)
		scratch = sizeof(short);
	else if (s->mode == IO_INT_S24 || s->mode == IO_INT_S24_3)
		scratch = sizeof(int);
	live_stop(s);
	/* a live sink's conversions run on the writer thread, one writer chunk at a time */
	if (s->live)
		max_frames = WRITER_CHUNK_FRAMES;
	free(s->scratch);
	s->scratch = NULL;
	if (scratch) {
		s->scratch = calloc((size_t)max_frames * s->fmt.channels, scratch);
		if (!s->scratch)
			return -ENOMEM;
	}
	s->max_frames = max_frames;
	sink_close(s);
	ret = sink_open(s, err);
	if (ret < 0 || !s->live)
		return ret;
	ret = live_start(s);
	if (ret < 0)
		return vd_error_set(err, ret, NULL, "%s: cannot start the writer thread of '%s': %s",
				    s->name, s->path, strerror(-ret));
	return 0;
}

static sf_count_t write_frames(struct file_sink *s, const void *src, sf_count_t frames)
{
	size_t n = (size_t)frames * s->fmt.channels;
	int32_t *iv = s->scratch;
	short *sv = s->scratch;
	const uint8_t *b = src;

	switch (s->mode) {
	case IO_SHORT:
		return sf_writef_short(s->sf, src, frames);
	case IO_SHORT_U8:
		for (size_t i = 0; i < n; i++)
			sv[i] = (short)((b[i] - 128) * 256);
		return sf_writef_short(s->sf, sv, frames);
	case IO_INT:
	case IO_INT_S24_RAW:
		return sf_writef_int(s->sf, src, frames);
	case IO_INT_S24:
		for (size_t i = 0; i < n; i++)
			iv[i] = (int32_t)((uint32_t)((const int32_t *)src)[i] << 8);
		return sf_writef_int(s->sf, iv, frames);
	case IO_INT_S24_3:
		for (size_t i = 0; i < n; i++)
			iv[i] = (int32_t)((uint32_t)b[3 * i] << 8 | (uint32_t)b[3 * i + 1] << 16 |
					  (uint32_t)b[3 * i + 2] << 24);
		return sf_writef_int(s->sf, iv, frames);
	case IO_FLOAT:
		return sf_writef_float(s->sf, src, frames);
	case IO_DOUBLE:
		return sf_writef_double(s->sf, src, frames);
	case IO_BYTES:
		return sf_write_raw(s->sf, src, (sf_count_t)n) / s->fmt.channels;
	}
	return -1;
}

/* ---- live file-sink: the writer thread ---- */

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint32_t ring_bytes_for(const struct file_sink *s, size_t stride)
{
	uint64_t want = (uint64_t)s->fmt.rate * RING_SECONDS * stride;
	uint32_t size = RING_MIN_BYTES;

	while (size < want && size < (1u << 30))
		size <<= 1;
	return size;
}

/* Take the ring up to stream position @target: into the file, or dropped (a reset). */
static void drain_to(struct file_sink *s, uint64_t target, bool discard)
{
	struct live *lv = &s->lv;
	size_t stride = vd_format_frame_size(&s->fmt);
	uint32_t chunk = lv->buf_frames * (uint32_t)stride;

	while (lv->consumed < target) {
		uint32_t want = target - lv->consumed < chunk ? (uint32_t)(target - lv->consumed) : chunk;
		uint32_t got = vd_ring_read(&lv->ring, lv->h.buf, want);
		sf_count_t frames = (sf_count_t)(got / stride);

		if (!got)
			break;
		lv->consumed += got;
		if (discard || !s->sf || atomic_load_explicit(&lv->error, memory_order_relaxed))
			continue;
		if (write_frames(s, lv->h.buf, frames) != frames)
			atomic_store_explicit(&lv->error, -EIO, memory_order_relaxed);
		else
			atomic_fetch_add_explicit(&lv->written, (uint64_t)frames, memory_order_relaxed);
	}
}

static void *writer_main(void *arg)
{
	struct file_sink *s = arg;
	struct live *lv = &s->lv;
	uint32_t seen_reset = atomic_load_explicit(&lv->reset_gen, memory_order_acquire);
	uint32_t seen_eos = atomic_load_explicit(&lv->eos_gen, memory_order_acquire);
	uint64_t header_due = mono_ns() + HEADER_EVERY_NS, header_at = 0;
	uint64_t nap = WRITER_WAKE_NS, last_produced = 0;
	uint32_t last_gen = seen_eos;

	for (;;) {
		bool quit = atomic_load_explicit(&lv->h.quit, memory_order_acquire);
		uint32_t gen = atomic_load_explicit(&lv->reset_gen, memory_order_acquire);

		if (gen != seen_reset) {
			uint64_t at = atomic_load_explicit(&lv->reset_at, memory_order_relaxed);

			drain_to(s, at, true);
			seen_reset = gen;
			/* an EOS before the reset ended the stream that the reset replaces */
			gen = atomic_load_explicit(&lv->eos_gen, memory_order_acquire);
			if (atomic_load_explicit(&lv->eos_at, memory_order_relaxed) <= at)
				seen_eos = gen;
			sink_close(s);
			atomic_store_explicit(&lv->written, 0, memory_order_relaxed);
			header_at = 0;
			if (sink_open(s, NULL) < 0)
				atomic_store_explicit(&lv->error, -EIO, memory_order_relaxed);
			else
				atomic_store_explicit(&lv->error, 0, memory_order_relaxed);
		}
		uint64_t produced = atomic_load_explicit(&lv->produced, memory_order_acquire);
		uint64_t fill = produced - lv->consumed;

		if (fill > atomic_load_explicit(&lv->max_fill, memory_order_relaxed))
			atomic_store_explicit(&lv->max_fill, fill, memory_order_relaxed);
		drain_to(s, produced, false);
		gen = atomic_load_explicit(&lv->eos_gen, memory_order_acquire);
		if (gen != seen_eos &&
		    lv->consumed >= atomic_load_explicit(&lv->eos_at, memory_order_relaxed)) {
			seen_eos = gen;
			if (s->sf && sink_close(s) < 0)
				atomic_store_explicit(&lv->error, -EIO, memory_order_relaxed);
		}
		/* A killed daemon leaves the header as last written: keep it close to the data. */
		uint64_t now = mono_ns(), written = atomic_load_explicit(&lv->written, memory_order_relaxed);
		if (s->sf && written != header_at && now >= header_due) {
			sf_command(s->sf, SFC_UPDATE_HEADER_NOW, NULL, 0);
			atomic_fetch_add_explicit(&lv->headers, 1, memory_order_relaxed);
			header_at = written;
			header_due = now + HEADER_EVERY_NS;
		}
		if (quit)
			break;
		nap = idle_nap(nap, produced != last_produced || gen != last_gen, WRITER_WAKE_NS);
		last_produced = produced;
		last_gen = gen;
		struct timespec ts = { 0, (long)nap };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static int live_start(struct file_sink *s)
{
	struct live *lv = &s->lv;
	size_t stride = vd_format_frame_size(&s->fmt);
	uint32_t size = ring_bytes_for(s, stride);
	int ret;

	memset(lv, 0, sizeof(*lv));
	lv->buf_frames = WRITER_CHUNK_FRAMES;
	lv->h.mem = malloc(size);
	lv->h.buf = malloc((size_t)lv->buf_frames * stride);
	if (!lv->h.mem || !lv->h.buf) {
		ret = -ENOMEM;
		goto fail;
	}
	vd_ring_init(&lv->ring, lv->h.mem, size);
	ret = helper_start(&lv->h, writer_main, s, "vd-file-writer");
	if (ret < 0)
		goto fail;
	return 0;
fail:
	helper_release(&lv->h);
	return ret;
}

/* Join the writer after its last drain; the file stays open for the caller to close. */
static void live_stop(struct file_sink *s)
{
	helper_stop(&s->lv.h);
}

/* Processing thread: copy whole frames into the ring, drop (and count) what does not fit. */
static int live_process(struct file_sink *s, struct vd_buffer *in)
{
	struct live *lv = &s->lv;
	uint32_t stride = (uint32_t)vd_format_frame_size(&s->fmt);
	uint32_t frames = in[0].frames, room = vd_ring_writable(&lv->ring) / stride;
	uint32_t n = frames < room ? frames : room;

	if (lv->eos) {
		in[0].frames = 0;
		return frames ? -EPIPE : 0;
	}
	if (n) {
		vd_ring_write(&lv->ring, in[0].data, n * stride);
		atomic_fetch_add_explicit(&lv->produced, (uint64_t)n * stride, memory_order_release);
	}
	if (n < frames)
		atomic_fetch_add_explicit(&lv->dropped, frames - n, memory_order_relaxed);
	if (in[0].flags & VD_BUFFER_EOS) {
		lv->eos = true;
		atomic_store_explicit(&lv->eos_at, atomic_load_explicit(&lv->produced, memory_order_relaxed),
				      memory_order_relaxed);
		atomic_fetch_add_explicit(&lv->eos_gen, 1, memory_order_release);
	}
	return 0;
}

static void live_reset(struct file_sink *s)
{
	struct live *lv = &s->lv;
	uint64_t at = atomic_load_explicit(&lv->produced, memory_order_relaxed);

	if (at == atomic_load_explicit(&lv->reset_at, memory_order_relaxed) && !lv->eos)
		return;
	lv->eos = false;
	atomic_store_explicit(&lv->reset_at, at, memory_order_relaxed);
	atomic_fetch_add_explicit(&lv->reset_gen, 1, memory_order_release);
}

static int file_sink_process(void *self, struct vd_buffer *in, uint32_t n_in,
			     struct vd_buffer *out, uint32_t n_out)
{
	struct file_sink *s = self;
	uint32_t frames = in[0].frames;

	if (s->live)
		return live_process(s, in);
	if (!s->sf) {
		/* Closed at EOS: only further EOS markers are expected until a reset. */
		in[0].frames = 0;
		return frames ? -EPIPE : 0;
	}
	for (uint32_t done = 0; done < frames;) {
		uint32_t chunk = frames - done;
		size_t stride = vd_format_frame_size(&s->fmt);

		if (s->scratch && chunk > s->max_frames)
			chunk = s->max_frames;
		if (write_frames(s, (const uint8_t *)in[0].data + done * stride, chunk) != chunk) {
			in[0].frames = done;
			return -EIO;
		}
		s->started = true;
		s->frames += chunk;
		atomic_store_explicit(&s->lv.written, s->frames, memory_order_relaxed);
		done += chunk;
	}
	if (in[0].flags & VD_BUFFER_EOS) {
		s->eos = true;
		return sink_close(s);
	}
	return 0;
}

/*
 * Rewinding a file sink means writing the file afresh. Reopening
 * allocates, which is acceptable only because file endpoints are offline
 * nodes (docs/endpoints.md); nothing is done if nothing was written.
 */
static void file_sink_reset(void *self)
{
	struct file_sink *s = self;

	if (s->live) {
		live_reset(s);
		return;
	}
	if (s->sf && !s->started)
		return;
	sink_close(s);
	sink_open(s, NULL);
}

enum { SINK_PARAM_FRAMES, SINK_PARAM_DROPPED, SINK_PARAM_ERROR, SINK_PARAM_RING_MS, SINK_PARAM_PEAK_MS,
       SINK_PARAM_COUNT };

static int file_sink_enum_params(void *self, uint32_t index, struct vd_param_info *info)
{
	static const struct vd_param_info params[SINK_PARAM_COUNT] = {
		{ .id = SINK_PARAM_FRAMES, .name = "frames", .type = VD_PARAM_INT,
		  .flags = VD_PARAM_READ | VD_PARAM_VOLATILE, .max = 9.007199254740992e15, .step = 1 },
		{ .id = SINK_PARAM_DROPPED, .name = "dropped", .type = VD_PARAM_INT,
		  .flags = VD_PARAM_READ | VD_PARAM_VOLATILE, .max = 9.007199254740992e15, .step = 1 },
		{ .id = SINK_PARAM_ERROR, .name = "error", .type = VD_PARAM_INT,
		  .flags = VD_PARAM_READ | VD_PARAM_VOLATILE, .min = -4095, .max = 0, .step = 1 },
		{ .id = SINK_PARAM_RING_MS, .name = "ring_ms", .type = VD_PARAM_FLOAT,
		  .flags = VD_PARAM_READ, .max = 1e9 },
		{ .id = SINK_PARAM_PEAK_MS, .name = "ring_peak_ms", .type = VD_PARAM_FLOAT,
		  .flags = VD_PARAM_READ | VD_PARAM_VOLATILE, .max = 1e9 },
	};

	if (index >= SINK_PARAM_COUNT)
		return -ENOENT;
	*info = params[index];
	return 0;
}

static int file_sink_get_param(void *self, uint32_t id, double *value)
{
	struct file_sink *s = self;
	double bytes_per_ms = s->fmt.rate ? vd_format_frame_size(&s->fmt) * s->fmt.rate / 1000.0 : 0;

	switch (id) {
	case SINK_PARAM_FRAMES:
		*value = (double)atomic_load_explicit(&s->lv.written, memory_order_relaxed);
		return 0;
	case SINK_PARAM_DROPPED:
		*value = (double)atomic_load_explicit(&s->lv.dropped, memory_order_relaxed);
		return 0;
	case SINK_PARAM_ERROR:
		*value = atomic_load_explicit(&s->lv.error, memory_order_relaxed);
		return 0;
	case SINK_PARAM_RING_MS:
		*value = s->live && bytes_per_ms > 0 ? s->lv.ring.size / bytes_per_ms : 0;
		return 0;
	case SINK_PARAM_PEAK_MS:
		*value = bytes_per_ms > 0 ? atomic_load_explicit(&s->lv.max_fill, memory_order_relaxed) /
					    bytes_per_ms : 0;
		return 0;
	default:
		return -ENOENT;
	}
}

static int file_sink_set_param(void *self, uint32_t id, double value)
{
	return id < SINK_PARAM_COUNT ? -EPERM : -ENOENT;
}

const struct vd_node_ops vd_node_file_sink = {
	.version = VD_NODE_OPS_VERSION,
	.type = "file-sink",
	.summary = "writes an audio file (libsndfile), bit-exact for every sample format",
	.flags = VD_NODE_SINK | VD_NODE_ENDPOINT,
	.init = file_sink_init,
	.free = file_sink_free,
	.negotiate = file_sink_negotiate,
	.prepare = file_sink_prepare,
	.process = file_sink_process,
	.reset = file_sink_reset,
	.enum_params = file_sink_enum_params,
	.set_param = file_sink_set_param,
	.get_param = file_sink_get_param,
};
