/* fuzz/snd_rig.h - what the virtio-snd fuzz targets share: a live host graph
 * with a virtio-snd device on it, a cursor over the fuzzer's bytes, and
 * elements whose every buffer is its own exact allocation (so ASan catches
 * any access beyond what the element describes). */
#ifndef VD_FUZZ_SND_RIG_H
#define VD_FUZZ_SND_RIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <virtdsp/topology.h>

#include "virtio_snd/virtio_snd.h"

struct snd_rig {
	struct vd_topology *ht;
	struct vd_graph *host;
	struct vd_snd_dev *dev;
};

/* Build the host graph from @host_topo and a device with @opts on it; aborts
 * on failure (the rig's own inputs are fixed, so a failure is a bug).
 * FUZZ_SND_LOG=1 in the environment shows the device's refusals. */
void snd_rig_new(struct snd_rig *r, const char *host_topo, struct vd_snd_options *opts);
void snd_rig_free(struct snd_rig *r);
/* Run the host graph @count times. */
void snd_rig_cycle(struct snd_rig *r, int count);

struct cursor {
	const uint8_t *p;
	size_t n;
};
/* The next byte, or -1 at the end. */
int cursor_take(struct cursor *c);
/* Up to @max bytes (no more than remain) into @dst; returns how many. */
size_t cursor_bytes(struct cursor *c, void *dst, size_t n, size_t max);

/* An element of @out_len readable bytes (@out, cut into @out_chunk-byte
 * buffers) and @in_len writable ones (@in_chunk-byte buffers), in @iov. */
void snd_rig_elem(struct vd_vhost_elem *e, struct iovec *iov, unsigned max, const uint8_t *out,
		  size_t out_len, unsigned out_chunk, size_t in_len, unsigned in_chunk);
void snd_rig_elem_free(struct vd_vhost_elem *e);

#endif
