/* fuzz/fuzz_snd_ctl.c - libFuzzer target for the virtio-snd control elements:
 * arbitrary CTL_* requests (split over arbitrary buffers, with arbitrary reply
 * sizes) against a device whose guest topology declares every kind of
 * element (dB volume, inverted switch, enumeration, read-only), mixed with
 * host-side changes (vd_snd_dev_set_control), PCM requests that build the
 * pipelines the values go to, and host cycles that apply them.
 *
 * Input: records, at most 64 (the kind is the first byte modulo 3):
 *   0 ctl:   [n lo][n hi][n request bytes][reply len/4][split] -> vd_snd_ctl_request
 *            (n = up to 600 bytes: a CTL_WRITE carries a 512-byte value)
 *   1 host:  [id][8 bytes: a double]                           -> vd_snd_dev_set_control
 *   2 cycle: [count]                                           -> vd_graph_cycle(host) x (count % 4 + 1)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snd_rig.h"
#include "virtio_snd/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char host_topo[] =
	"pipeline host {\n"
	"  rate = 48000; period = 480\n"
	"  attach playback playback { channels = 2 }\n"
	"  sink out null\n"
	"  link playback -> out\n"
	"}\n";

/* Controls 0..4: volume (dB), switch (inverted mute), eq type (enum), eq gain (read-only dB), eq freq (Hz). */
static const char guest_topo[] =
	"pipeline a {\n"
	"  source p stream { direction = playback; formats = [s16, f32]; rate_min = 8000; rate_max = 48000;"
	" channels_min = 1; channels_max = 2 }\n"
	"  node v volume { gain = -3dB; control.gain = \"PCM Playback Volume\"\n"
	"    control.mute = { name = \"PCM Playback Switch\", invert = true } }\n"
	"  node e eq { band1 = { type = peaking, freq = 1kHz, gain = 3dB, q = 1 }\n"
	"    control.band1.type = \"EQ Type\"; control.band1.gain = { name = \"EQ Gain\", read_only = true }\n"
	"    control.band1.freq = \"EQ Freq\" }\n"
	"  sink o attach { point = \"playback\" }\n"
	"  link p -> v -> e -> o\n"
	"}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c = { data, size };
	struct snd_rig r;
	struct vd_snd_options opts = { .controls = true, .topology_text = guest_topo,
				       .topology_len = sizeof(guest_topo) - 1 };
	struct iovec iov[128];

	snd_rig_new(&r, host_topo, &opts);
	if (vd_snd_dev_control_count(r.dev) != 5)
		abort();

	for (int rec = 0; rec < 64 && c.n; rec++) {
		int kind = cursor_take(&c) % 3;

		if (kind == 0) {
			int lo = cursor_take(&c), hi = cursor_take(&c), rl, split;
			struct vd_vhost_elem e;
			uint8_t req[600];
			size_t n;

			if (lo < 0 || hi < 0)
				break;
			n = cursor_bytes(&c, req, ((size_t)hi << 8 | (size_t)lo) % sizeof(req), sizeof(req));
			rl = cursor_take(&c);
			split = cursor_take(&c);
			if (rl < 0 || split < 0)
				break;
			snd_rig_elem(&e, iov, 128, req, n, (unsigned)split % 7 * 16 + 1, (size_t)rl * 4,
				     (unsigned)(split >> 3) % 13 * 8 + 1);
			if (vd_snd_ctl_request(r.dev, &e) > e.in_len)
				abort();
			snd_rig_elem_free(&e);
		} else if (kind == 1) {
			int id = cursor_take(&c);
			double v, got;

			if (id < 0 || c.n < sizeof(v))
				break;
			cursor_bytes(&c, &v, sizeof(v), sizeof(v));
			if (vd_snd_dev_set_control(r.dev, (unsigned)id % 6, v) == 0) {
				/* accepted values are stored as given */
				if (vd_snd_dev_get_control(r.dev, (unsigned)id % 6, &got) < 0 || got != v)
					abort();
			}
		} else {
			int k = cursor_take(&c);

			if (k < 0)
				break;
			snd_rig_cycle(&r, k % 4 + 1);
		}
	}

	snd_rig_free(&r);
	return 0;
}
