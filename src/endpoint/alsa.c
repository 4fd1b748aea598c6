/* endpoint/alsa.c - alsa-source and alsa-sink: blocking interleaved I/O on an ALSA PCM, xrun recovery, drain on EOS. */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <alsa/asoundlib.h>

#include "endpoint/endpoint.h"

struct alsa {
	struct vd_endpoint_conn conn;	/* first: vd_endpoint_conn_of() */
	char *name;
	char *device;
	snd_pcm_stream_t stream;
	snd_pcm_t *pcm;
	snd_pcm_hw_params_t *hw;
	snd_pcm_sw_params_t *sw;

	/* properties; 0/UNKNOWN = not given */
	enum vd_sample_format want_format;
	uint32_t want_rate, want_channels;
	uint32_t period_frames, buffer_frames;
	double period_time, buffer_time;
	double duration;		/* source: seconds to capture, < 0 = until stopped */
	uint32_t pipeline_period;
	uint32_t max_frames;		/* prepare's, for a reopen */
	/* the device failed or could not be reopened: a reopen that works reconnects it
	 * (the processing thread sets it, stopped before any reopen looks) */
	bool gone;

	struct vd_audio_format fmt;	/* negotiated */
	snd_pcm_uframes_t period, buffer;
	size_t frame_size;
	uint64_t limit;			/* source: frames to capture, UINT64_MAX = no end */
	uint64_t pos;
	bool eos;
	_Atomic uint32_t xruns;		/* read from any thread through get_param */
};

enum { ALSA_PARAM_XRUNS };

static const snd_pcm_format_t alsa_formats[VD_FORMAT_COUNT] = {
	[VD_FORMAT_UNKNOWN] = SND_PCM_FORMAT_UNKNOWN,
	[VD_FORMAT_U8] = SND_PCM_FORMAT_U8,
	[VD_FORMAT_S16] = SND_PCM_FORMAT_S16_LE,
	[VD_FORMAT_S24] = SND_PCM_FORMAT_S24_LE,
	[VD_FORMAT_S24_3] = SND_PCM_FORMAT_S24_3LE,
	[VD_FORMAT_S32] = SND_PCM_FORMAT_S32_LE,
	[VD_FORMAT_F32] = SND_PCM_FORMAT_FLOAT_LE,
	[VD_FORMAT_F64] = SND_PCM_FORMAT_FLOAT64_LE,
	[VD_FORMAT_MULAW] = SND_PCM_FORMAT_MU_LAW,
	[VD_FORMAT_ALAW] = SND_PCM_FORMAT_A_LAW,
};

/* Closest formats a device might take instead, best first; the graph converts to the one chosen. */
static const enum vd_sample_format nearest[VD_FORMAT_COUNT][VD_FORMAT_COUNT - 1] = {
	[VD_FORMAT_U8] = { VD_FORMAT_U8, VD_FORMAT_S16, VD_FORMAT_S24, VD_FORMAT_S24_3, VD_FORMAT_S32, VD_FORMAT_F32, VD_FORMAT_F64, VD_FORMAT_MULAW, VD_FORMAT_ALAW },
	[VD_FORMAT_S16] = { VD_FORMAT_S16, VD_FORMAT_S24, VD_FORMAT_S24_3, VD_FORMAT_S32, VD_FORMAT_F32, VD_FORMAT_F64, VD_FORMAT_U8, VD_FORMAT_MULAW, VD_FORMAT_ALAW },
	[VD_FORMAT_S24] = { VD_FORMAT_S24, VD_FORMAT_S24_3, VD_FORMAT_S32, VD_FORMAT_F32, VD_FORMAT_F64, VD_FORMAT_S16, VD_FORMAT_U8, VD_FORMAT_MULAW, VD_FORMAT_ALAW },
	[VD_FORMAT_S24_3] = { VD_FORMAT_S24_3, VD_FORMAT_S24, VD_FORMAT_S32, VD_FORMAT_F32, VD_FORMAT_F64, VD_FORMAT_S16, VD_FORMAT_U8, VD_FORMAT_MULAW, VD_FORMAT_ALAW },
	[VD_FORMAT_S32] = { VD_FORMAT_S32, VD_FORMAT_F64, VD_FORMAT_S24, VD_FORMAT_S24_3, VD_FORMAT_F32, VD_FORMAT_S16, VD_FORMAT_U8, VD_FORMAT_MULAW, VD_FORMAT_ALAW },
	[VD_FORMAT_F32] = { VD_FORMAT_F32, VD_FORMAT_F64, VD_FORMAT_S32, VD_FORMAT_S24, VD_FORMAT_S24_3, VD_FORMAT_S16, VD_FORMAT_U8, VD_FORMAT_MULAW, VD_FORMAT_ALAW },
	[VD_FORMAT_F64] = { VD_FORMAT_F64, VD_FORMAT_F32, VD_FORMAT_S32, VD_FORMAT_S24, VD_FORMAT_S24_3, VD_FORMAT_S16, VD_FORMAT_U8, VD_FORMAT_MULAW, VD_FORMAT_ALAW },
	[VD_FORMAT_MULAW] = { VD_FORMAT_MULAW, VD_FORMAT_ALAW, VD_FORMAT_S16, VD_FORMAT_S24, VD_FORMAT_S24_3, VD_FORMAT_S32, VD_FORMAT_F32, VD_FORMAT_F64, VD_FORMAT_U8 },
	[VD_FORMAT_ALAW] = { VD_FORMAT_ALAW, VD_FORMAT_MULAW, VD_FORMAT_S16, VD_FORMAT_S24, VD_FORMAT_S24_3, VD_FORMAT_S32, VD_FORMAT_F32, VD_FORMAT_F64, VD_FORMAT_U8 },
};

static const struct {
	unsigned alsa;
	uint8_t vd;
} chmap[] = {
	{ SND_CHMAP_MONO, VD_CH_MONO }, { SND_CHMAP_FL, VD_CH_FL }, { SND_CHMAP_FR, VD_CH_FR },
	{ SND_CHMAP_RL, VD_CH_RL }, { SND_CHMAP_RR, VD_CH_RR }, { SND_CHMAP_FC, VD_CH_FC },
	{ SND_CHMAP_LFE, VD_CH_LFE }, { SND_CHMAP_SL, VD_CH_SL }, { SND_CHMAP_SR, VD_CH_SR },
	{ SND_CHMAP_RC, VD_CH_RC }, { SND_CHMAP_FLC, VD_CH_FLC }, { SND_CHMAP_FRC, VD_CH_FRC },
	{ SND_CHMAP_TC, VD_CH_TC }, { SND_CHMAP_TFL, VD_CH_TFL }, { SND_CHMAP_TFR, VD_CH_TFR },
	{ SND_CHMAP_TFC, VD_CH_TFC }, { SND_CHMAP_TRL, VD_CH_TRL }, { SND_CHMAP_TRR, VD_CH_TRR },
	{ SND_CHMAP_TRC, VD_CH_TRC },
};
#define N_CHMAP (sizeof(chmap) / sizeof(chmap[0]))

static const char *stream_word(const struct alsa *a)
{
	return a->stream == SND_PCM_STREAM_PLAYBACK ? "playback" : "capture";
}

static void alsa_free(void *self)
{
	struct alsa *a = self;

	if (!a)
		return;
	if (a->pcm)
		snd_pcm_close(a->pcm);
	if (a->hw)
		snd_pcm_hw_params_free(a->hw);
	if (a->sw)
		snd_pcm_sw_params_free(a->sw);
	free(a->device);
	free(a->name);
	free(a);
}

/* A plain number counts frames; a number with a time unit is a duration. */
static int frames_or_time(struct vd_props *p, const char *key, uint32_t *frames, double *seconds,
			  struct vd_error *err)
{
	const struct vd_prop *v = vd_props_find(p, key);

	if (!v)
		return 0;
	if (v->type == VD_PROP_NUMBER && (!v->unit || !v->unit[0]))
		return vd_props_uint(p, key, 16, 1u << 22, frames, err);
	return vd_props_number(p, key, VD_UNIT_SECONDS, 1e-4, 10, seconds, err);
}

static int alsa_init(const struct vd_node_init *init, void **self, snd_pcm_stream_t stream,
		     struct vd_error *err)
{
	const struct vd_prop *dp = vd_props_find(init->props, "device");
	const char *device = "default";
	struct alsa *a;
	int ret;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	vd_endpoint_conn_init(&a->conn, true);	/* it opened (below) or init fails */
	a->stream = stream;
	a->duration = -1;
	a->pipeline_period = init->period;
	if ((ret = vd_props_string(init->props, "device", &device, err)) < 0 ||
	    (ret = vd_props_format(init->props, "format", &a->want_format, err)) < 0 ||
	    (ret = vd_props_uint(init->props, "rate", 1000, 1000000, &a->want_rate, err)) < 0 ||
	    (ret = vd_props_uint(init->props, "channels", 1, VD_MAX_CHANNELS, &a->want_channels, err)) < 0 ||
	    (ret = frames_or_time(init->props, "period", &a->period_frames, &a->period_time, err)) < 0 ||
	    (ret = frames_or_time(init->props, "buffer", &a->buffer_frames, &a->buffer_time, err)) < 0)
		goto fail;
	if (stream == SND_PCM_STREAM_CAPTURE &&
	    (ret = vd_props_number(init->props, "duration", VD_UNIT_SECONDS, 0, 1e7, &a->duration,
				   err)) < 0)
		goto fail;
	if (stream == SND_PCM_STREAM_CAPTURE && !a->want_rate && init->rate)
		a->want_rate = init->rate;
	a->name = strdup(init->name ? init->name : "alsa");
	a->device = strdup(device);
	if (!a->name || !a->device) {
		ret = -ENOMEM;
		goto fail;
	}
	if (snd_pcm_hw_params_malloc(&a->hw) < 0 || snd_pcm_sw_params_malloc(&a->sw) < 0) {
		ret = -ENOMEM;
		goto fail;
	}
	/* Open now so a missing device is reported with the topology, not mid-run. */
	ret = snd_pcm_open(&a->pcm, a->device, stream, 0);
	if (ret < 0) {
		a->pcm = NULL;
		vd_error_set(err, ret, dp ? &dp->loc : NULL, "%s: cannot open ALSA device '%s' for %s: %s",
			     a->name, a->device, stream_word(a), snd_strerror(ret));
		goto fail;
	}
	*self = a;
	return 0;
fail:
	alsa_free(a);
	return ret;
}

static int alsa_sink_init(const struct vd_node_init *init, void **self,
			  uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	*n_inputs = 1;
	*n_outputs = 0;
	return alsa_init(init, self, SND_PCM_STREAM_PLAYBACK, err);
}

static int alsa_source_init(const struct vd_node_init *init, void **self,
			    uint32_t *n_inputs, uint32_t *n_outputs, struct vd_error *err)
{
	*n_inputs = 0;
	*n_outputs = 1;
	return alsa_init(init, self, SND_PCM_STREAM_CAPTURE, err);
}

/* "s16, s32" - what the device takes, for messages. */
static void accepted_list(struct alsa *a, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int f = 1; f < VD_FORMAT_COUNT && len < size; f++) {
		if (snd_pcm_hw_params_test_format(a->pcm, a->hw, alsa_formats[f]) < 0)
			continue;
		int n = snprintf(buf + len, size - len, "%s%s", len ? ", " : "",
				 vd_format_name((enum vd_sample_format)f));
		if (n < 0)
			break;
		len += (size_t)n;
	}
	if (!len)
		snprintf(buf, size, "none of virtdsp's formats");
}

/* The device's channel map for @channels, when it reports one we can name. */
static bool device_chmap(struct alsa *a, uint32_t channels, uint8_t *position)
{
	snd_pcm_chmap_query_t **maps = snd_pcm_query_chmaps(a->pcm);
	bool found = false;

	if (!maps)
		return false;
	for (snd_pcm_chmap_query_t **m = maps; *m && !found; m++) {
		if ((*m)->map.channels != channels)
			continue;
		found = true;
		for (uint32_t c = 0; c < channels && found; c++) {
			size_t k;

			for (k = 0; k < N_CHMAP && chmap[k].alsa != (*m)->map.pos[c]; k++)
				;
			if (k == N_CHMAP)
				found = false;
			else
				position[c] = chmap[k].vd;
		}
	}
	snd_pcm_free_chmaps(maps);
	return found;
}

/*
 * Ask the device for @want: explicit properties must be taken as they are,
 * anything else falls back to the nearest the device accepts.
 */
static int choose_format(struct alsa *a, struct vd_audio_format *want, struct vd_error *err)
{
	char list[160];
	unsigned rate, channels;
	int ret;

	ret = snd_pcm_hw_params_any(a->pcm, a->hw);
	if (ret < 0)
		return vd_error_set(err, ret, NULL, "%s: ALSA device '%s' has no configuration: %s",
				    a->name, a->device, snd_strerror(ret));
	ret = snd_pcm_hw_params_set_access(a->pcm, a->hw, SND_PCM_ACCESS_RW_INTERLEAVED);
	if (ret < 0)
		return vd_error_set(err, ret, NULL,
				    "%s: ALSA device '%s' does not offer interleaved read/write access",
				    a->name, a->device);

	if (a->want_format) {
		want->format = a->want_format;
		if (snd_pcm_hw_params_test_format(a->pcm, a->hw, alsa_formats[want->format]) < 0) {
			accepted_list(a, list, sizeof(list));
			return vd_error_set(err, -EINVAL, NULL,
					    "%s: ALSA device '%s' does not take %s samples (it takes: %s)",
					    a->name, a->device, vd_format_name(want->format), list);
		}
	} else {
		enum vd_sample_format from = (unsigned)want->format < VD_FORMAT_COUNT && want->format ?
					     want->format : VD_FORMAT_S16;
		int k;

		for (k = 0; k < VD_FORMAT_COUNT - 1; k++)
			if (snd_pcm_hw_params_test_format(a->pcm, a->hw, alsa_formats[nearest[from][k]]) == 0)
				break;
		if (k == VD_FORMAT_COUNT - 1)
			return vd_error_set(err, -EINVAL, NULL,
					    "%s: ALSA device '%s' takes none of virtdsp's sample formats",
					    a->name, a->device);
		want->format = nearest[from][k];
	}
	snd_pcm_hw_params_set_format(a->pcm, a->hw, alsa_formats[want->format]);

	channels = a->want_channels ? a->want_channels : want->channels ? want->channels : 2;
	if (snd_pcm_hw_params_test_channels(a->pcm, a->hw, channels) < 0) {
		if (a->want_channels)
			return vd_error_set(err, -EINVAL, NULL,
					    "%s: ALSA device '%s' does not take %u channels of %s",
					    a->name, a->device, channels, vd_format_name(want->format));
		ret = snd_pcm_hw_params_set_channels_near(a->pcm, a->hw, &channels);
		if (ret < 0 || channels < 1 || channels > VD_MAX_CHANNELS)
			return vd_error_set(err, -EINVAL, NULL,
					    "%s: ALSA device '%s' offers no usable channel count",
					    a->name, a->device);
	}
	snd_pcm_hw_params_set_channels(a->pcm, a->hw, channels);

	rate = a->want_rate ? a->want_rate : want->rate ? want->rate : 48000;
	if (snd_pcm_hw_params_test_rate(a->pcm, a->hw, rate, 0) < 0) {
		if (a->want_rate)
			return vd_error_set(err, -EINVAL, NULL,
					    "%s: ALSA device '%s' does not run at %u Hz with %u channels of %s",
					    a->name, a->device, rate, channels,
					    vd_format_name(want->format));
		ret = snd_pcm_hw_params_set_rate_near(a->pcm, a->hw, &rate, NULL);
		if (ret < 0)
			return vd_error_set(err, ret, NULL, "%s: ALSA device '%s' offers no usable rate",
					    a->name, a->device);
	}
	snd_pcm_hw_params_set_rate(a->pcm, a->hw, rate, 0);

	/* A capture stream is laid out as the device says; playback keeps the offered map. */
	if (a->stream == SND_PCM_STREAM_CAPTURE) {
		if (!device_chmap(a, channels, want->position))
			vd_channel_default_map(channels, want->position);
	} else if (channels != want->channels) {
		vd_channel_default_map(channels, want->position);
	}
	want->channels = channels;
	want->rate = rate;
	return 0;
}

static int alsa_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			  struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	struct alsa *a = self;
	struct vd_audio_format f;
	int ret;

	if (a->stream == SND_PCM_STREAM_PLAYBACK)
		f = in[0];
	else
		memset(&f, 0, sizeof(f));
	ret = choose_format(a, &f, err);
	if (ret < 0)
		return ret;
	a->fmt = f;
	if (a->stream == SND_PCM_STREAM_PLAYBACK)
		in[0] = f;
	else
		out[0] = f;
	return 0;
}

/* Install the hardware and software setup for a->fmt on an open PCM. */
static int configure(struct alsa *a, uint32_t max_frames, struct vd_error *err)
{
	snd_pcm_uframes_t period, buffer;
	int ret;

	if (a->period_frames)
		period = a->period_frames;
	else if (a->period_time > 0)
		period = (snd_pcm_uframes_t)lround(a->period_time * a->fmt.rate);
	else
		period = a->pipeline_period ? a->pipeline_period : max_frames;
	if (a->buffer_frames)
		buffer = a->buffer_frames;
	else if (a->buffer_time > 0)
		buffer = (snd_pcm_uframes_t)lround(a->buffer_time * a->fmt.rate);
	else
		buffer = 4 * period;
	if ((ret = snd_pcm_hw_params_set_period_size_near(a->pcm, a->hw, &period, NULL)) < 0 ||
	    (ret = snd_pcm_hw_params_set_buffer_size_near(a->pcm, a->hw, &buffer)) < 0 ||
	    (ret = snd_pcm_hw_params(a->pcm, a->hw)) < 0)
		return vd_error_set(err, ret, NULL,
				    "%s: ALSA device '%s' refused period %lu / buffer %lu frames: %s",
				    a->name, a->device, (unsigned long)period, (unsigned long)buffer,
				    snd_strerror(ret));
	snd_pcm_hw_params_get_period_size(a->hw, &a->period, NULL);
	snd_pcm_hw_params_get_buffer_size(a->hw, &a->buffer);

	/*
	 * Playback starts once the buffer is full, so the first periods do not
	 * underrun while it fills; EOS drains whatever is left.
	 */
	if ((ret = snd_pcm_sw_params_current(a->pcm, a->sw)) < 0 ||
	    (ret = snd_pcm_sw_params_set_avail_min(a->pcm, a->sw, a->period)) < 0 ||
	    (ret = snd_pcm_sw_params_set_start_threshold(a->pcm, a->sw,
			a->stream == SND_PCM_STREAM_PLAYBACK ? a->buffer : 1)) < 0 ||
	    (ret = snd_pcm_sw_params_set_stop_threshold(a->pcm, a->sw, a->buffer)) < 0 ||
	    (ret = snd_pcm_sw_params(a->pcm, a->sw)) < 0)
		return vd_error_set(err, ret, NULL, "%s: ALSA device '%s' refused its software setup: %s",
				    a->name, a->device, snd_strerror(ret));
	return 0;
}

static int alsa_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
			const struct vd_audio_format *out, uint32_t n_out,
			uint32_t max_frames, struct vd_error *err)
{
	struct alsa *a = self;
	const struct vd_audio_format *f = a->stream == SND_PCM_STREAM_PLAYBACK ? &in[0] : &out[0];
	int ret;

	if (f->format != a->fmt.format || f->rate != a->fmt.rate || f->channels != a->fmt.channels)
		return vd_error_set(err, -EINVAL, NULL, "%s: format changed after negotiation",
				    a->name);
	a->fmt = *f;
	a->frame_size = vd_format_frame_size(f);
	ret = choose_format(a, &a->fmt, err);
	if (ret < 0)
		return ret;
	a->max_frames = max_frames;
	ret = configure(a, max_frames, err);
	if (ret < 0)
		return ret;
	a->limit = a->duration >= 0 ? (uint64_t)llround(a->duration * f->rate) : UINT64_MAX;
	a->pos = 0;
	a->eos = false;
	return 0;
}

int vd_endpoint_alsa_close(void *self)
{
	struct alsa *a = self;

	if (!a->pcm)
		return 0;
	/* an idle engine's buffer holds silence at most: nothing worth draining */
	snd_pcm_drop(a->pcm);
	snd_pcm_close(a->pcm);
	a->pcm = NULL;
	return 0;
}

int vd_endpoint_alsa_reopen(void *self, struct vd_error *err)
{
	struct alsa *a = self;
	struct vd_audio_format f = a->fmt;
	int ret;

	if (a->pcm)
		return 0;
	ret = snd_pcm_open(&a->pcm, a->device, a->stream, 0);
	if (ret < 0) {
		a->pcm = NULL;
		/* not there: shown to guests as a disconnected jack until it opens again */
		vd_endpoint_conn_set(&a->conn, false);
		a->gone = true;
		return vd_error_set(err, ret, NULL, "%s: cannot reopen ALSA device '%s' for %s: %s",
				    a->name, a->device, stream_word(a), snd_strerror(ret));
	}
	/* the graph was built for the negotiated format: the device must still take it */
	ret = choose_format(a, &f, err);
	if (ret == 0 && (f.format != a->fmt.format || f.rate != a->fmt.rate ||
			 f.channels != a->fmt.channels))
		ret = vd_error_set(err, -ENODEV, NULL,
				   "%s: ALSA device '%s' no longer takes %s, %u Hz, %u channels",
				   a->name, a->device, vd_format_name(a->fmt.format), a->fmt.rate,
				   a->fmt.channels);
	if (ret == 0)
		ret = configure(a, a->max_frames, err);
	if (ret < 0) {
		snd_pcm_close(a->pcm);
		a->pcm = NULL;
	} else if (a->gone) {
		/* jack controls, if any, keep their own say: only a failure is undone here */
		vd_endpoint_conn_set(&a->conn, true);
		a->gone = false;
	}
	return ret;
}

/* A broken stream is restarted; anything else ends the run. */
static int recover(struct alsa *a, int err)
{
	int ret = snd_pcm_recover(a->pcm, err, 1);

	if (ret == 0 && (err == -EPIPE || err == -ESTRPIPE))
		atomic_fetch_add_explicit(&a->xruns, 1, memory_order_relaxed);
	/* an unplugged device: the daemon's loop shows it to guests as a jack */
	if (ret < 0 && (err == -ENODEV || err == -EBADFD || ret == -ENODEV)) {
		vd_endpoint_conn_set(&a->conn, false);
		a->gone = true;
	}
	return ret;
}

int vd_endpoint_alsa_card(void *self, bool *capture)
{
	struct alsa *a = self;
	snd_pcm_info_t *info;

	*capture = a->stream == SND_PCM_STREAM_CAPTURE;
	if (!a->pcm)
		return -1;
	snd_pcm_info_alloca(&info);
	if (snd_pcm_info(a->pcm, info) < 0)
		return -1;
	return snd_pcm_info_get_card(info);
}

static int alsa_sink_process(void *self, struct vd_buffer *in, uint32_t n_in,
			     struct vd_buffer *out, uint32_t n_out)
{
	struct alsa *a = self;
	const uint8_t *p = in[0].data;
	uint32_t done = 0;
	int ret;

	if (!a->pcm)
		return -ENODEV;	/* closed for a suspend: the engine must not be cycled */
	if (a->eos) {
		/* Drained: only further EOS markers are expected until a reset. */
		done = in[0].frames;
		in[0].frames = 0;
		return done ? -EPIPE : 0;
	}
	while (done < in[0].frames) {
		snd_pcm_sframes_t n = snd_pcm_writei(a->pcm, p + done * a->frame_size,
						     in[0].frames - done);

		if (n < 0) {
			ret = recover(a, (int)n);
			if (ret < 0) {
				in[0].frames = done;
				return ret;
			}
			continue;
		}
		done += (uint32_t)n;
	}
	in[0].frames = done;
	if (in[0].flags & VD_BUFFER_EOS) {
		a->eos = true;
		ret = snd_pcm_drain(a->pcm);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int alsa_source_process(void *self, struct vd_buffer *in, uint32_t n_in,
			       struct vd_buffer *out, uint32_t n_out)
{
	struct alsa *a = self;
	uint8_t *p = out[0].data;
	uint64_t want = out[0].frames;
	uint32_t done = 0;
	int ret;

	if (!a->pcm)
		return -ENODEV;
	if (want > a->limit - a->pos)
		want = a->limit - a->pos;
	/* At most a period per read: the file plugin's infile cannot serve more than a buffer. */
	while (done < want) {
		snd_pcm_uframes_t chunk = want - done < a->period ? want - done : a->period;
		snd_pcm_sframes_t n = snd_pcm_readi(a->pcm, p + done * a->frame_size, chunk);

		if (n < 0) {
			ret = recover(a, (int)n);
			if (ret < 0) {
				out[0].frames = done;
				return ret;
			}
			continue;
		}
		if (n == 0)
			break;
		done += (uint32_t)n;
	}
	a->pos += done;
	if (a->pos >= a->limit && !a->eos) {
		a->eos = true;
		snd_pcm_drop(a->pcm);
	}
	out[0].frames = done;
	out[0].flags = a->eos ? VD_BUFFER_EOS : 0;
	return 0;
}

static void alsa_reset(void *self)
{
	struct alsa *a = self;

	if (a->pcm) {
		snd_pcm_drop(a->pcm);
		snd_pcm_prepare(a->pcm);
	}
	a->pos = 0;
	a->eos = false;
	atomic_store_explicit(&a->xruns, 0, memory_order_relaxed);
}

static int alsa_enum_params(void *self, uint32_t index, struct vd_param_info *info)
{
	if (index > 0)
		return -ENOENT;
	*info = (struct vd_param_info){
		.id = ALSA_PARAM_XRUNS, .name = "xruns", .type = VD_PARAM_INT,
		.flags = VD_PARAM_READ | VD_PARAM_VOLATILE, .min = 0, .max = 4294967295.0, .step = 1,
	};
	return 0;
}

static int alsa_get_param(void *self, uint32_t id, double *value)
{
	struct alsa *a = self;

	if (id != ALSA_PARAM_XRUNS)
		return -ENOENT;
	*value = atomic_load_explicit(&a->xruns, memory_order_relaxed);
	return 0;
}

static int alsa_set_param(void *self, uint32_t id, double value)
{
	return id == ALSA_PARAM_XRUNS ? -EPERM : -ENOENT;
}

static uint32_t alsa_latency(void *self)
{
	struct alsa *a = self;

	/* A full playback buffer is queued ahead of the speaker; a capture read waits for a period. */
	return (uint32_t)(a->stream == SND_PCM_STREAM_PLAYBACK ? a->buffer : a->period);
}

static int64_t alsa_total_frames(void *self)
{
	struct alsa *a = self;

	return a->duration >= 0 && a->fmt.rate ? llround(a->duration * a->fmt.rate) : -1;
}

const struct vd_node_ops vd_node_alsa_sink = {
	.version = VD_NODE_OPS_VERSION,
	.type = "alsa-sink",
	.summary = "plays to an ALSA PCM (blocking writes, xrun recovery, drains on EOS)",
	.flags = VD_NODE_SINK | VD_NODE_ENDPOINT,
	.init = alsa_sink_init,
	.free = alsa_free,
	.negotiate = alsa_negotiate,
	.prepare = alsa_prepare,
	.process = alsa_sink_process,
	.reset = alsa_reset,
	.enum_params = alsa_enum_params,
	.set_param = alsa_set_param,
	.get_param = alsa_get_param,
	.latency = alsa_latency,
};

const struct vd_node_ops vd_node_alsa_source = {
	.version = VD_NODE_OPS_VERSION,
	.type = "alsa-source",
	.summary = "captures from an ALSA PCM (blocking reads, xrun recovery; 'duration' ends it)",
	.flags = VD_NODE_SOURCE | VD_NODE_ENDPOINT,
	.init = alsa_source_init,
	.free = alsa_free,
	.negotiate = alsa_negotiate,
	.prepare = alsa_prepare,
	.process = alsa_source_process,
	.reset = alsa_reset,
	.enum_params = alsa_enum_params,
	.set_param = alsa_set_param,
	.get_param = alsa_get_param,
	.latency = alsa_latency,
	.total_frames = alsa_total_frames,
};
