/* fuzz/fuzz_ctl_proto.c - libFuzzer target for the control protocol's request
 * parser (src/daemon/ctl_proto.c): the input is what a control client sends,
 * split into lines as the server does; each line is parsed, and a `set`
 * request's value is interpreted against controls of every kind (a dB
 * volume, a switch, an enumeration, a plain number in Hz) and shown as text. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "daemon/ctl_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const items[] = { "peaking", "lowshelf", "highshelf" };

static const struct vd_ctl_value_target targets[] = {
	{ "vm", { .name = "PCM Playback Volume", .type = VD_PARAM_FLOAT, .unit = VD_UNIT_DB,
		  .min = -120, .max = 24, .step = 0.1, .db = true }, NULL },
	{ "vm", { .name = "PCM Playback Switch", .type = VD_PARAM_BOOL, .max = 1, .step = 1 }, NULL },
	{ "vm", { .name = "EQ Band Type", .type = VD_PARAM_ENUM, .max = 2, .step = 1, .n_items = 3 }, items },
	{ "vm", { .name = "EQ Freq", .type = VD_PARAM_FLOAT, .unit = VD_UNIT_HZ, .min = 20, .max = 20000,
		  .step = 1 }, NULL },
	{ "vm", { .name = "Count", .type = VD_PARAM_INT, .min = -5, .max = 5, .step = 1 }, NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct vd_ctl_request req;
		char err[512], text[128];
		int r = vd_ctl_request_parse(p, len, &req, err, sizeof(err));

		/* every refusal names a reason and a code the protocol documents */
		if (r < 0 && (!err[0] || strcmp(vd_ctl_errno_name(r), "EUNKNOWN") == 0))
			__builtin_trap();
		if (r == 0 && req.type == VD_CTL_REQ_SET) {
			for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
				double v;

				if (vd_ctl_value_parse(req.value, &targets[t], &v, err, sizeof(err)) == 0) {
					if (v < targets[t].info.min - 1e-6 || v > targets[t].info.max + 1e-6)
						__builtin_trap();
					vd_ctl_value_text(&targets[t], v, text, sizeof(text));
				} else if (!err[0]) {
					__builtin_trap();
				}
			}
		}
		if (r == 0 && (req.type == VD_CTL_REQ_TOPOLOGY) && strlen(req.text) != req.text_len)
			__builtin_trap();
		vd_ctl_request_free(&req);
		p += len + 1;
	}
	return 0;
}
