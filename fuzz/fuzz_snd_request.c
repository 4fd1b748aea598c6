/* fuzz/fuzz_snd_request.c - libFuzzer target for the virtio-snd device model's
 * parsers and state machine: arbitrary control-queue requests (split over
 * arbitrary buffers, with arbitrary reply sizes), I/O-message headers for
 * the tx and rx queues, and host cycles in between, so PREPARE builds and
 * runs real stream pipelines on a live host graph.
 *
 * Guest memory is plain heap buffers behind iovecs (the parsers only see
 * iovecs); every buffer is allocated to its exact size so ASan catches any
 * access beyond what the element describes. No rings are involved: the
 * ring walker has its own target (fuzz_virtq).
 *
 * Input: records, at most 64:
 *   0 ctl:   [n][n request bytes][reply len/4][split]   -> vd_snd_ctl_request
 *   1 xfer:  [q][n][n readable bytes][writable len][split] -> vd_snd_xfer_check
 *   2 cycle: [count]                                     -> vd_graph_cycle(host) x (count % 4 + 1)
 * (the record kind is the first byte modulo 3).
 */
#include <stdint.h>
#include <stdlib.h>

#include "snd_rig.h"
#include "virtio_snd/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char host_topo[] =
	"pipeline host {\n"
	"  rate = 48000; period = 480\n"
	"  attach playback playback { channels = 2 }\n"
	"  sink out null\n"
	"  link playback -> out\n"
	"  node sig tone { freq = 440Hz; channels = 2 }\n"
	"  attach capture capture { channels = 2 }\n"
	"  link sig -> capture\n"
	"}\n";

/* Streams 0 (playback, through a volume node) and 1 (mono capture at 16 kHz, through eq). */
static const char guest_topo[] =
	"pipeline a {\n"
	"  source p stream { direction = playback; formats = [u8, s16, s24_3, f32, f64, mulaw];"
	" rate_min = 8000; rate_max = 96000; channels_min = 1; channels_max = 6 }\n"
	"  node v volume { gain = -3dB }\n"
	"  sink o attach { point = \"playback\"; jack = headphone }\n"
	"  link p -> v -> o\n"
	"}\n"
	"pipeline b {\n"
	"  source i attach { point = \"capture\"; jack = mic }\n"
	"  node e eq { band1 = { type = peaking, freq = 1kHz, gain = 3dB, q = 1 } }\n"
	"  sink c stream { direction = capture; formats = [s16, s32, alaw]; rate_min = 16kHz;"
	" rate_max = 16kHz; channels_min = 1; channels_max = 1; positions = [MONO] }\n"
	"  link i -> e -> c\n"
	"}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c = { data, size };
	struct snd_rig r;
	struct vd_snd_options opts = { .topology_text = guest_topo, .topology_len = sizeof(guest_topo) - 1 };
	struct iovec iov[128];

	/* The first byte picks the guest topology: the built-in one or the one above. */
	if (size && (data[0] & 1))
		opts.topology_text = NULL;
	snd_rig_new(&r, host_topo, &opts);
	if (size) {
		c.p++;
		c.n--;
	}

	for (int rec = 0; rec < 64 && c.n; rec++) {
		int kind = cursor_take(&c) % 3;

		if (kind == 0) {
			int n = cursor_take(&c), rl, split;
			struct vd_vhost_elem e;
			uint8_t req[256];
			size_t len;

			if (n < 0)
				break;
			len = cursor_bytes(&c, req, (size_t)n, sizeof(req));
			rl = cursor_take(&c);
			split = cursor_take(&c);
			if (rl < 0 || split < 0)
				break;
			snd_rig_elem(&e, iov, 128, req, len, (unsigned)split % 7 + 1, (size_t)rl * 4,
				     (unsigned)(split >> 3) % 13 + 1);
			if (vd_snd_ctl_request(r.dev, &e) > e.in_len)
				abort();
			snd_rig_elem_free(&e);
		} else if (kind == 1) {
			int q = cursor_take(&c), n = cursor_take(&c), il, split;
			struct vd_vhost_elem e;
			uint8_t out[256];
			uint32_t payload;
			size_t len;
			int id;

			if (q < 0 || n < 0)
				break;
			len = cursor_bytes(&c, out, (size_t)n, sizeof(out));
			il = cursor_take(&c);
			split = cursor_take(&c);
			if (il < 0 || split < 0)
				break;
			snd_rig_elem(&e, iov, 128, out, len, (unsigned)split % 7 + 1, (size_t)il,
				     (unsigned)(split >> 3) % 13 + 1);
			id = vd_snd_xfer_check(r.dev, q & 1 ? VIRTIO_SND_VQ_RX : VIRTIO_SND_VQ_TX, &e, &payload);
			if (id >= (int)vd_snd_dev_stream_count(r.dev) || id < -2)
				abort();
			if (id >= 0 && payload > (q & 1 ? e.in_len - 8 : e.out_len - 4))
				abort();
			snd_rig_elem_free(&e);
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
