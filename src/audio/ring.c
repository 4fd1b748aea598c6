/* audio/ring.c - the lock-free single-producer/single-consumer byte ring. */
#include <errno.h>
#include <string.h>

#include <virtdsp/ring.h>

/*
 * Each side owns one index: the producer stores write_index, the consumer
 * read_index. A side reads its own index relaxed (only it writes it) and
 * the other side's with acquire, so the bytes the other side published or
 * released before its store-release are visible. The counters run freely
 * and wrap at 2^32; (w - r) is the fill level because size <= 2^31.
 */

int vd_ring_init(struct vd_ring *r, void *data, uint32_t size)
{
	if (!r || !data || size < 2 || size > (UINT32_C(1) << 31) || (size & (size - 1)) != 0)
		return -EINVAL;
	atomic_init(&r->write_index, 0);
	atomic_init(&r->read_index, 0);
	r->data = data;
	r->size = size;
	r->mask = size - 1;
	return 0;
}

uint32_t vd_ring_readable(const struct vd_ring *r)
{
	/* Load the consumer's index first so a concurrent write never makes w - r negative. */
	uint32_t rd = atomic_load_explicit((_Atomic uint32_t *)&r->read_index, memory_order_acquire);
	uint32_t wr = atomic_load_explicit((_Atomic uint32_t *)&r->write_index, memory_order_acquire);
	uint32_t fill = wr - rd;

	return fill > r->size ? r->size : fill;
}

uint32_t vd_ring_writable(const struct vd_ring *r)
{
	/* Here the producer's index first, so a concurrent read only makes the answer stale-low. */
	uint32_t wr = atomic_load_explicit((_Atomic uint32_t *)&r->write_index, memory_order_acquire);
	uint32_t rd = atomic_load_explicit((_Atomic uint32_t *)&r->read_index, memory_order_acquire);
	uint32_t fill = wr - rd;

	return fill > r->size ? 0 : r->size - fill;
}

/* The up to two contiguous spans of @len bytes starting at counter @pos. */
static int spans(const struct vd_ring *r, uint32_t pos, uint32_t len, uint32_t off[2], uint32_t n[2])
{
	uint32_t start = pos & r->mask;
	uint32_t first = r->size - start;

	if (len == 0)
		return 0;
	off[0] = start;
	if (len <= first) {
		n[0] = len;
		return 1;
	}
	n[0] = first;
	off[1] = 0;
	n[1] = len - first;
	return 2;
}

uint32_t vd_ring_write(struct vd_ring *r, const void *src, uint32_t len)
{
	uint32_t wr = atomic_load_explicit(&r->write_index, memory_order_relaxed);
	uint32_t rd = atomic_load_explicit(&r->read_index, memory_order_acquire);
	uint32_t room = r->size - (wr - rd);
	uint32_t off[2], n[2];
	int k;

	if (len > room)
		len = room;
	k = spans(r, wr, len, off, n);
	for (int i = 0, done = 0; i < k; done += (int)n[i], i++)
		memcpy(r->data + off[i], (const uint8_t *)src + done, n[i]);
	atomic_store_explicit(&r->write_index, wr + len, memory_order_release);
	return len;
}

uint32_t vd_ring_peek(const struct vd_ring *r, void *dst, uint32_t len)
{
	uint32_t rd = atomic_load_explicit((_Atomic uint32_t *)&r->read_index, memory_order_relaxed);
	uint32_t wr = atomic_load_explicit((_Atomic uint32_t *)&r->write_index, memory_order_acquire);
	uint32_t fill = wr - rd;
	uint32_t off[2], n[2];
	int k;

	if (len > fill)
		len = fill;
	k = spans(r, rd, len, off, n);
	for (int i = 0, done = 0; i < k; done += (int)n[i], i++)
		memcpy((uint8_t *)dst + done, r->data + off[i], n[i]);
	return len;
}

uint32_t vd_ring_skip(struct vd_ring *r, uint32_t len)
{
	uint32_t rd = atomic_load_explicit(&r->read_index, memory_order_relaxed);
	uint32_t wr = atomic_load_explicit(&r->write_index, memory_order_acquire);
	uint32_t fill = wr - rd;

	if (len > fill)
		len = fill;
	/* Release: our reads of the bytes finish before the producer may reuse them. */
	atomic_store_explicit(&r->read_index, rd + len, memory_order_release);
	return len;
}

uint32_t vd_ring_read(struct vd_ring *r, void *dst, uint32_t len)
{
	len = vd_ring_peek(r, dst, len);
	return vd_ring_skip(r, len);
}

int vd_ring_write_regions(struct vd_ring *r, void *ptr[2], uint32_t len[2])
{
	uint32_t wr = atomic_load_explicit(&r->write_index, memory_order_relaxed);
	uint32_t rd = atomic_load_explicit(&r->read_index, memory_order_acquire);
	uint32_t off[2], n[2];
	int k = spans(r, wr, r->size - (wr - rd), off, n);

	for (int i = 0; i < 2; i++) {
		ptr[i] = i < k ? r->data + off[i] : NULL;
		len[i] = i < k ? n[i] : 0;
	}
	return k;
}

int vd_ring_read_regions(struct vd_ring *r, const void *ptr[2], uint32_t len[2])
{
	uint32_t rd = atomic_load_explicit(&r->read_index, memory_order_relaxed);
	uint32_t wr = atomic_load_explicit(&r->write_index, memory_order_acquire);
	uint32_t off[2], n[2];
	int k = spans(r, rd, wr - rd, off, n);

	for (int i = 0; i < 2; i++) {
		ptr[i] = i < k ? r->data + off[i] : NULL;
		len[i] = i < k ? n[i] : 0;
	}
	return k;
}

void vd_ring_write_commit(struct vd_ring *r, uint32_t len)
{
	uint32_t wr = atomic_load_explicit(&r->write_index, memory_order_relaxed);
	uint32_t rd = atomic_load_explicit(&r->read_index, memory_order_acquire);
	uint32_t room = r->size - (wr - rd);

	/* Never publish more than there is room for, whatever the caller claims. */
	if (len > room)
		len = room;
	atomic_store_explicit(&r->write_index, wr + len, memory_order_release);
}

void vd_ring_read_commit(struct vd_ring *r, uint32_t len)
{
	vd_ring_skip(r, len);
}
