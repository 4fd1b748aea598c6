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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtdsp/attach.h>
#include <virtdsp/topology.h>

#include "virtio_snd/proto.h"
#include "virtio_snd/virtio_snd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FUZZ_SND_LOG=1 shows the device's refusals, to check that seeds get where they should. */
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

static void build_elem(struct vd_vhost_elem *e, struct iovec *iov, unsigned max,
		       const uint8_t *out, size_t out_len, size_t in_len, unsigned split)
{
	unsigned half = max / 2;

	memset(e, 0, sizeof(*e));
	e->iov = iov;
	e->iov_max = max;
	e->out = iov;
	e->out_num = make_iov(iov, half, out, out_len, split % 7 + 1);
	e->out_len = (uint32_t)out_len;
	e->in = iov + e->out_num;
	e->in_num = make_iov(e->in, half, NULL, in_len, (split >> 3) % 13 + 1);
	e->in_len = (uint32_t)in_len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c = { data, size };
	struct vd_topology *ht = NULL;
	struct vd_graph *host = NULL;
	struct vd_snd_dev *dev = NULL;
	struct vd_snd_options opts = { .topology_text = guest_topo, .topology_len = sizeof(guest_topo) - 1 };
	struct iovec iov[128];

	if (vd_topology_load_string(host_topo, sizeof(host_topo) - 1, "host", &ht, NULL) < 0)
		abort();
	if (vd_graph_new(&host) < 0)
		abort();
	vd_graph_set_live(host, true);
	if (vd_topology_build(ht, host, NULL) < 0)
		abort();
	/* The first byte picks the guest topology: the built-in one or the one above. */
	if (size && (data[0] & 1))
		opts.topology_text = NULL;
	if (getenv("FUZZ_SND_LOG"))
		opts.log = log_stderr;
	if (vd_snd_dev_new("fuzz", NULL, host, &opts, &dev, NULL) < 0)
		abort();
	if (size) {
		c.p++;
		c.n--;
	}

	for (int rec = 0; rec < 64 && c.n; rec++) {
		int kind = take(&c) % 3;

		if (kind == 0) {
			int n = take(&c), rl, split;
			struct vd_vhost_elem e;
			uint8_t req[256];
			uint32_t used;

			if (n < 0)
				break;
			n = (size_t)n < c.n ? n : (int)c.n;
			memcpy(req, c.p, (size_t)n);
			c.p += n;
			c.n -= (size_t)n;
			rl = take(&c);
			split = take(&c);
			if (rl < 0 || split < 0)
				break;
			build_elem(&e, iov, 128, req, (size_t)n, (size_t)rl * 4, (unsigned)split);
			used = vd_snd_ctl_request(dev, &e);
			if (used > e.in_len)
				abort();
			free_iov(iov, e.out_num + e.in_num);
		} else if (kind == 1) {
			int q = take(&c), n = take(&c), il, split;
			struct vd_vhost_elem e;
			uint8_t out[256];
			uint32_t payload;
			int id;

			if (q < 0 || n < 0)
				break;
			n = (size_t)n < c.n ? n : (int)c.n;
			memcpy(out, c.p, (size_t)n);
			c.p += n;
			c.n -= (size_t)n;
			il = take(&c);
			split = take(&c);
			if (il < 0 || split < 0)
				break;
			build_elem(&e, iov, 128, out, (size_t)n, (size_t)il, (unsigned)split);
			id = vd_snd_xfer_check(dev, q & 1 ? VIRTIO_SND_VQ_RX : VIRTIO_SND_VQ_TX, &e, &payload);
			if (id >= (int)vd_snd_dev_stream_count(dev) || id < -2)
				abort();
			if (id >= 0 && payload > (q & 1 ? e.in_len - 8 : e.out_len - 4))
				abort();
			free_iov(iov, e.out_num + e.in_num);
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
