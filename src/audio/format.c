/* audio/format.c - sample-format and channel-position tables, names and defaults. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <virtdsp/format.h>

struct format_desc {
	const char *name;
	size_t size;
	unsigned bits;
	bool is_float;
};

static const struct format_desc formats[VD_FORMAT_COUNT] = {
	[VD_FORMAT_UNKNOWN] = { "unknown", 0, 0, false },
	[VD_FORMAT_U8] = { "u8", 1, 8, false },
	[VD_FORMAT_S16] = { "s16", 2, 16, false },
	[VD_FORMAT_S24] = { "s24", 4, 24, false },
	[VD_FORMAT_S24_3] = { "s24_3", 3, 24, false },
	[VD_FORMAT_S32] = { "s32", 4, 32, false },
	[VD_FORMAT_F32] = { "f32", 4, 24, true },
	[VD_FORMAT_F64] = { "f64", 8, 53, true },
	[VD_FORMAT_MULAW] = { "mulaw", 1, 14, false },
	[VD_FORMAT_ALAW] = { "alaw", 1, 13, false },
};

static const struct {
	const char *alias;
	enum vd_sample_format fmt;
} aliases[] = {
	{ "u8", VD_FORMAT_U8 }, { "s16le", VD_FORMAT_S16 }, { "s16_le", VD_FORMAT_S16 },
	{ "s24le", VD_FORMAT_S24 }, { "s24_le", VD_FORMAT_S24 }, { "s24_32", VD_FORMAT_S24 },
	{ "s24_3le", VD_FORMAT_S24_3 }, { "s24_3_le", VD_FORMAT_S24_3 }, { "s24p", VD_FORMAT_S24_3 },
	{ "s32le", VD_FORMAT_S32 }, { "s32_le", VD_FORMAT_S32 },
	{ "float", VD_FORMAT_F32 }, { "float32", VD_FORMAT_F32 }, { "f32le", VD_FORMAT_F32 },
	{ "float_le", VD_FORMAT_F32 },
	{ "double", VD_FORMAT_F64 }, { "float64", VD_FORMAT_F64 }, { "f64le", VD_FORMAT_F64 },
	{ "float64_le", VD_FORMAT_F64 },
	{ "mu_law", VD_FORMAT_MULAW }, { "ulaw", VD_FORMAT_MULAW }, { "a_law", VD_FORMAT_ALAW },
};

size_t vd_format_sample_size(enum vd_sample_format fmt)
{
	return (unsigned)fmt < VD_FORMAT_COUNT ? formats[fmt].size : 0;
}

size_t vd_format_frame_size(const struct vd_audio_format *f)
{
	return vd_format_sample_size(f->format) * f->channels;
}

unsigned vd_format_bits(enum vd_sample_format fmt)
{
	return (unsigned)fmt < VD_FORMAT_COUNT ? formats[fmt].bits : 0;
}

bool vd_format_is_float(enum vd_sample_format fmt)
{
	return (unsigned)fmt < VD_FORMAT_COUNT && formats[fmt].is_float;
}

const char *vd_format_name(enum vd_sample_format fmt)
{
	return (unsigned)fmt < VD_FORMAT_COUNT ? formats[fmt].name : "unknown";
}

int vd_format_from_name(const char *name, enum vd_sample_format *fmt)
{
	if (!name)
		return -EINVAL;
	for (int i = 1; i < VD_FORMAT_COUNT; i++) {
		if (strcasecmp(name, formats[i].name) == 0) {
			*fmt = (enum vd_sample_format)i;
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (strcasecmp(name, aliases[i].alias) == 0) {
			*fmt = aliases[i].fmt;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *const channel_names[VD_CH_AUX0] = {
	[VD_CH_UNKNOWN] = "UNK", [VD_CH_MONO] = "MONO",
	[VD_CH_FL] = "FL", [VD_CH_FR] = "FR", [VD_CH_FC] = "FC", [VD_CH_LFE] = "LFE",
	[VD_CH_RL] = "RL", [VD_CH_RR] = "RR", [VD_CH_FLC] = "FLC", [VD_CH_FRC] = "FRC",
	[VD_CH_RC] = "RC", [VD_CH_SL] = "SL", [VD_CH_SR] = "SR", [VD_CH_TC] = "TC",
	[VD_CH_TFL] = "TFL", [VD_CH_TFC] = "TFC", [VD_CH_TFR] = "TFR", [VD_CH_TRL] = "TRL",
	[VD_CH_TRC] = "TRC", [VD_CH_TRR] = "TRR",
};

static const char *const aux_names[32] = {
	"AUX0", "AUX1", "AUX2", "AUX3", "AUX4", "AUX5", "AUX6", "AUX7",
	"AUX8", "AUX9", "AUX10", "AUX11", "AUX12", "AUX13", "AUX14", "AUX15",
	"AUX16", "AUX17", "AUX18", "AUX19", "AUX20", "AUX21", "AUX22", "AUX23",
	"AUX24", "AUX25", "AUX26", "AUX27", "AUX28", "AUX29", "AUX30", "AUX31",
};

const char *vd_channel_name(enum vd_channel_position pos)
{
	if ((unsigned)pos < VD_CH_AUX0)
		return channel_names[pos];
	if ((unsigned)pos < VD_CH_POSITION_COUNT)
		return aux_names[pos - VD_CH_AUX0];
	return "UNK";
}

int vd_channel_from_name(const char *name, enum vd_channel_position *pos)
{
	if (!name)
		return -EINVAL;
	for (int i = 1; i < VD_CH_POSITION_COUNT; i++) {
		if (strcasecmp(name, vd_channel_name((enum vd_channel_position)i)) == 0) {
			*pos = (enum vd_channel_position)i;
			return 0;
		}
	}
	/* Common synonyms: ALSA's "RL/RR" are also called "BL/BR". */
	if (strcasecmp(name, "BL") == 0) {
		*pos = VD_CH_RL;
		return 0;
	}
	if (strcasecmp(name, "BR") == 0) {
		*pos = VD_CH_RR;
		return 0;
	}
	return -EINVAL;
}

void vd_channel_default_map(uint32_t channels, uint8_t *position)
{
	static const uint8_t layouts[9][8] = {
		[1] = { VD_CH_MONO },
		[2] = { VD_CH_FL, VD_CH_FR },
		[3] = { VD_CH_FL, VD_CH_FR, VD_CH_LFE },
		[4] = { VD_CH_FL, VD_CH_FR, VD_CH_RL, VD_CH_RR },
		[5] = { VD_CH_FL, VD_CH_FR, VD_CH_FC, VD_CH_RL, VD_CH_RR },
		[6] = { VD_CH_FL, VD_CH_FR, VD_CH_FC, VD_CH_LFE, VD_CH_RL, VD_CH_RR },
		[7] = { VD_CH_FL, VD_CH_FR, VD_CH_FC, VD_CH_LFE, VD_CH_RC, VD_CH_SL, VD_CH_SR },
		[8] = { VD_CH_FL, VD_CH_FR, VD_CH_FC, VD_CH_LFE, VD_CH_RL, VD_CH_RR, VD_CH_SL, VD_CH_SR },
	};

	for (uint32_t i = 0; i < channels && i < VD_MAX_CHANNELS; i++)
		position[i] = channels <= 8 ? layouts[channels][i] : (uint8_t)(VD_CH_AUX0 + i);
}

void vd_audio_format_init(struct vd_audio_format *f, enum vd_sample_format fmt,
			  uint32_t rate, uint32_t channels)
{
	memset(f, 0, sizeof(*f));
	f->format = fmt;
	f->rate = rate;
	f->channels = channels > VD_MAX_CHANNELS ? VD_MAX_CHANNELS : channels;
	vd_channel_default_map(f->channels, f->position);
}

bool vd_audio_format_equal(const struct vd_audio_format *a, const struct vd_audio_format *b)
{
	return a->format == b->format && a->rate == b->rate && a->channels == b->channels &&
	       memcmp(a->position, b->position, a->channels) == 0;
}

const char *vd_audio_format_describe(const struct vd_audio_format *f, char *buf, size_t size)
{
	snprintf(buf, size, "%s %uHz %uch", vd_format_name(f->format), f->rate, f->channels);
	return buf;
}
