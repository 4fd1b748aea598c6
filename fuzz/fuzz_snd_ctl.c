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
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtdsp/attach.h>
#include <virtdsp/topology.h>

#include "virtio_snd/proto.h"
#include "virtio_snd/virtio_snd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void log_stderr(void *data, const char *msg)
{
	fprintf(stderr, "%s\n", msg);
}

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

struct cursor {
	const uint8_t *p;
	size_t n;
};

static int take(struct cursor *c)
{
	if (!c->n)
		return -1;
	c->n--;
	return *c->p++;
}

/* Cut @len bytes into iovecs of @chunk bytes each, every one its own exact allocation. */
static unsigned make_iov(struct iovec *iov, unsigned max, const uint8_t *src, size_t len, unsigned chunk)
{
	unsigned n = 0;

	for (size_t off = 0; off < len && n < max; n++) {
		size_t l = len - off < chunk ? len - off : chunk;

		if (n == max - 1)
			l = len - off;
		iov[n].iov_base = malloc(l);
		iov[n].iov_len = l;
		if (src)
			memcpy(iov[n].iov_base, src + off, l);
		else
			memset(iov[n].iov_base, 0xa5, l);
		off += l;
	}
	return n;
}

static void free_iov(struct iovec *iov, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(iov[i].iov_base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c = { data, size };
	struct vd_topology *ht = NULL;
	struct vd_graph *host = NULL;
	struct vd_snd_dev *dev = NULL;
	struct vd_snd_options opts = { .controls = true, .topology_text = guest_topo,
				       .topology_len = sizeof(guest_topo) - 1 };
	struct iovec iov[128];

	if (vd_topology_load_string(host_topo, sizeof(host_topo) - 1, "host", &ht, NULL) < 0)
		abort();
	if (vd_graph_new(&host) < 0)
		abort();
	vd_graph_set_live(host, true);
	if (vd_topology_build(ht, host, NULL) < 0)
		abort();
	if (getenv("FUZZ_SND_LOG"))
		opts.log = log_stderr;
	if (vd_snd_dev_new("fuzz", NULL, host, &opts, &dev, NULL) < 0 || vd_snd_dev_control_count(dev) != 5)
		abort();

	for (int rec = 0; rec < 64 && c.n; rec++) {
		int kind = take(&c) % 3;

		if (kind == 0) {
			int lo = take(&c), hi = take(&c), rl, split;
			struct vd_vhost_elem e;
			uint8_t req[600];
			size_t n;
			uint32_t used;
			unsigned half = 64;

			if (lo < 0 || hi < 0)
				break;
			n = ((size_t)hi << 8 | (size_t)lo) % sizeof(req);
			n = n < c.n ? n : c.n;
			memcpy(req, c.p, n);
			c.p += n;
			c.n -= n;
			rl = take(&c);
			split = take(&c);
			if (rl < 0 || split < 0)
				break;
			memset(&e, 0, sizeof(e));
			e.iov = iov;
			e.iov_max = 128;
			e.out = iov;
			e.out_num = make_iov(iov, half, req, n, (unsigned)split % 7 * 16 + 1);
			e.out_len = (uint32_t)n;
			e.in = iov + e.out_num;
			e.in_num = make_iov(e.in, half, NULL, (size_t)rl * 4, (unsigned)(split >> 3) % 13 * 8 + 1);
			e.in_len = (uint32_t)rl * 4;
			used = vd_snd_ctl_request(dev, &e);
			if (used > e.in_len)
				abort();
			free_iov(iov, e.out_num + e.in_num);
		} else if (kind == 1) {
			int id = take(&c);
			double v, got;

			if (id < 0 || c.n < sizeof(v))
				break;
			memcpy(&v, c.p, sizeof(v));
			c.p += sizeof(v);
			c.n -= sizeof(v);
			if (vd_snd_dev_set_control(dev, (unsigned)id % 6, v) == 0) {
				/* accepted values are stored as given */
				if (vd_snd_dev_get_control(dev, (unsigned)id % 6, &got) < 0 || got != v)
					abort();
			}
		} else {
			int k = take(&c);

			if (k < 0)
				break;
			for (int i = 0; i < k % 4 + 1; i++)
				if (vd_graph_cycle(host) < 0)
					abort();
		}
	}

	vd_snd_dev_free(dev);
	vd_graph_free(host);
	vd_topology_free(ht);
	return 0;
}
