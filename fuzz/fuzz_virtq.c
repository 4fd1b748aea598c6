/* fuzz/fuzz_virtq.c - libFuzzer target for the split-virtqueue walker:
 * arbitrary guest memory, ring placement, size, features and indices, then
 * pop, copy, push and flush everything.
 *
 * Guest RAM is two separately allocated 32 KiB regions back to back in
 * guest-physical space, so any access the walker did not confine to one
 * region lands in an ASan redzone.
 *
 * Input: 16-byte header, then the bytes of guest memory.
 *   [0] log2 queue size (mod 9)  [1] features: bit0 INDIRECT, bit1 EVENT_IDX,
 *   bit2 NOTIFY_ON_EMPTY  [2..3] base (last avail)  [4..5] desc offset
 *   [6..7] avail offset  [8..9] used offset  [10] element capacity
 *   [11] push policy  [12..15] used lengths seed
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vhost/vhost-impl.h"

#define REGION (32u << 10)
#define UADDR_BASE 0x7f0000000000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t f_features(struct vd_vhost_dev *dev)
{
	return 0;
}

static void f_start(struct vd_vhost_dev *dev, unsigned q)
{
}

static void f_stop(struct vd_vhost_dev *dev, unsigned q, enum vd_vhost_stop why)
{
}

static const struct vd_vhost_ops fuzz_ops = {
	.version = VD_VHOST_OPS_VERSION,
	.get_features = f_features,
	.queue_start = f_start,
	.queue_stop = f_stop,
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vd_vhost_params p = { .num_queues = 1, .max_queue_size = 256, .config_size = 0 };
	struct vd_vhost_dev *dev;
	struct vd_vhost_queue *q;
	struct vd_vhost_mem mem;
	struct vd_vhost_elem held[8];
	struct iovec iov[8][64];
	uint8_t scratch[512];
	unsigned nheld = 0, cap;
	const char *why;
	uint8_t *ram[2];
	uint32_t seed;

	if (size < 16)
		return 0;
	ram[0] = calloc(1, REGION);
	ram[1] = calloc(1, REGION);
	if (!ram[0] || !ram[1])
		abort();
	memcpy(ram[0], data + 16, size - 16 < REGION ? size - 16 : REGION);
	if (size - 16 > REGION)
		memcpy(ram[1], data + 16 + REGION, size - 16 - REGION < REGION ? size - 16 - REGION : REGION);

	memset(&mem, 0, sizeof(mem));
	mem.n = 2;
	for (unsigned i = 0; i < 2; i++) {
		mem.r[i].gpa = (uint64_t)i * REGION;
		mem.r[i].size = REGION;
		mem.r[i].uaddr = UADDR_BASE + (uint64_t)i * REGION;
		mem.r[i].host = ram[i];
	}

	if (vd_vhost_dev_new(&p, &fuzz_ops, NULL, &dev) < 0)
		abort();
	q = vd_vhost_dev_queue(dev, 0);
	q->mem = &mem;
	q->num = 1u << (data[0] % 9);
	q->features = (1ull << VD_VHOST_F_VERSION_1) |
		      ((data[1] & 1) ? 1ull << VD_VHOST_F_INDIRECT_DESC : 0) |
		      ((data[1] & 2) ? 1ull << VD_VHOST_F_EVENT_IDX : 0) |
		      ((data[1] & 4) ? 1ull << VD_VHOST_F_NOTIFY_ON_EMPTY : 0);
	q->base = rd16(data + 2);
	q->desc_ua = UADDR_BASE + rd16(data + 4);
	q->avail_ua = UADDR_BASE + rd16(data + 6);
	q->used_ua = UADDR_BASE + rd16(data + 8);
	q->addr_set = true;
	cap = 1 + data[10] % 64;
	seed = (uint32_t)data[12] | (uint32_t)data[13] << 8 | (uint32_t)data[14] << 16 | (uint32_t)data[15] << 24;
	if (vd_vhost_queue_map(q, &why) < 0)
		goto out;
	q->started = q->enabled = q->running = true;

	for (unsigned n = 0; n < 4 * q->num + 4; n++) {
		struct vd_vhost_elem *e = &held[nheld];
		int r;

		vd_vhost_elem_init(e, iov[nheld], cap);
		r = vd_vhost_queue_pop(q, e);
		if (r == 0 || r == -EIO)
			break;
		if (r < 0)
			continue;
		if (e->out_len + (uint64_t)e->in_len > UINT32_MAX)
			abort();
		if (vd_vhost_iov_size(e->out, e->out_num) != e->out_len ||
		    vd_vhost_iov_size(e->in, e->in_num) != e->in_len)
			abort();
		vd_vhost_iov_to_buf(e->out, e->out_num, seed % 7, scratch, sizeof(scratch));
		vd_vhost_iov_from_buf(e->in, e->in_num, seed % 5, scratch, sizeof(scratch));
		seed = seed * 1103515245u + 12345u;
		/* Keep some elements in flight and complete them out of order. */
		if ((data[11] & 1) && nheld < 7) {
			nheld++;
			continue;
		}
		if (vd_vhost_queue_push(q, e, e->in_len ? seed % (e->in_len + 1) : 0) != 0)
			abort();
		if (vd_vhost_queue_push(q, e, 0) != -EINVAL)
			abort();
		if (data[11] & 2)
			vd_vhost_queue_flush(q);
		if (data[11] & 4)
			vd_vhost_queue_set_notification(q, (seed >> 8) & 1);
	}
	while (nheld)
		if (vd_vhost_queue_push(q, &held[--nheld], 0) != 0)
			abort();
	vd_vhost_queue_flush(q);
	(void)vd_vhost_queue_pending(q);
	if (vd_vhost_queue_inflight(q) != 0)
		abort();
out:
	q->running = q->started = false;
	q->mem = NULL;
	vd_vhost_dev_free(dev);
	free(ram[0]);
	free(ram[1]);
	return 0;
}
