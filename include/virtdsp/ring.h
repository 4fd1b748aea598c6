/* virtdsp/ring.h - lock-free single-producer/single-consumer byte ring.
 *
 * One thread writes, one thread reads; neither blocks nor allocates. The
 * storage is supplied by the caller and its size must be a power of two.
 * Indices are free-running 32-bit counters, so fill level is (w - r).
 * Acquire/release ordering makes the bytes visible before the index.
 */
#ifndef VIRTDSP_RING_H
#define VIRTDSP_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vd_ring {
	_Alignas(64) _Atomic uint32_t write_index;
	_Alignas(64) _Atomic uint32_t read_index;
	_Alignas(64) uint8_t *data;
	uint32_t size;	/* power of two */
	uint32_t mask;
};

/** 0, or -EINVAL unless @size is a power of two between 2 and 2^31. */
int vd_ring_init(struct vd_ring *r, void *data, uint32_t size);
/** Bytes the consumer can read. Safe from either side. */
uint32_t vd_ring_readable(const struct vd_ring *r);
/** Bytes the producer can write. Safe from either side. */
uint32_t vd_ring_writable(const struct vd_ring *r);
/** Producer: copy up to @len bytes in; returns bytes written. */
uint32_t vd_ring_write(struct vd_ring *r, const void *src, uint32_t len);
/** Consumer: copy up to @len bytes out; returns bytes read. */
uint32_t vd_ring_read(struct vd_ring *r, void *dst, uint32_t len);
/** Consumer: copy out without consuming. */
uint32_t vd_ring_peek(const struct vd_ring *r, void *dst, uint32_t len);
/** Consumer: drop up to @len bytes; returns bytes dropped. */
uint32_t vd_ring_skip(struct vd_ring *r, uint32_t len);
/**
 * Zero-copy access: the contiguous region(s) currently writable/readable.
 * Up to two regions (the ring may wrap); returns how many (0..2).
 */
int vd_ring_write_regions(struct vd_ring *r, void *ptr[2], uint32_t len[2]);
int vd_ring_read_regions(struct vd_ring *r, const void *ptr[2], uint32_t len[2]);
/** Publish @len bytes written through vd_ring_write_regions(). */
void vd_ring_write_commit(struct vd_ring *r, uint32_t len);
/** Release @len bytes read through vd_ring_read_regions(). */
void vd_ring_read_commit(struct vd_ring *r, uint32_t len);

#ifdef __cplusplus
}
#endif
#endif
