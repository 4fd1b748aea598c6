/* fuzz/fuzz_accel_ring.c - libFuzzer target for the submission ring
 * (docs/protocol.md, "Submission ring"), which a client shares read-write
 * with the daemon and may fill with anything: the entry fetch alone, over
 * a ring image and indices taken from the input (STARTs and STOPs), and then the engine
 * consuming the same bytes from a real session's ring (four tasks, seqnos
 * folded into the range the session uses so that valid STARTs happen too).
 * Nothing may crash, hang or leak; a refusal must leave its errno and a
 * message in the status page, and a fetch must never hand out an entry
 * it did not check. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <virtdsp/accel.h>

#include "accel/accel-impl.h"
#include "accel/protocol.h"

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void fetch_only(const uint8_t *data, size_t size)
{
	struct vd_proto_ring *r = calloc(1, sizeof(*r));
	uint32_t head, tail;

	if (!r)
		return;
	head = size >= 4 ? rd32(data) : 0;
	tail = size >= 8 ? rd32(data + 4) : 0;
	if (size > 8)
		memcpy(r->e, data + 8, size - 8 < sizeof(r->e) ? size - 8 : sizeof(r->e));
	for (int i = 0; i < 2 * (int)VD_PROTO_RING_ENTRIES; i++) {
		struct vd_accel_task t;
		const char *why = NULL;
		uint32_t op = UINT32_MAX;
		int res = vd_proto_ring_fetch(r, head, tail, &op, &t, &why);

		if (res < 0 && (!why || !why[0] || res != -EPROTO))
			abort();
		if (res <= 0)
			break;
		/* only a bounded, checked entry comes out */
		if (tail - head > VD_PROTO_RING_ENTRIES || t.input_fd != -1 || t.output_fd != -1)
			abort();
		if (op != VD_PROTO_RING_OP_START &&
		    (op != VD_PROTO_RING_OP_STOP || !t.seqno || t.origin_seqno || t.input_size || t.flags))
			abort();
		head++;
	}
	free(r);
}

static void engine_consumes(const uint8_t *data, size_t size)
{
	struct vd_accel_params p = {
		.codec = VD_ACCEL_CODEC_PCM,
		.in = { VD_FORMAT_S16, 48000, 2 },
		.out = { VD_FORMAT_S16, 44100, 2 },
		.quality = VD_RESAMPLE_LOW,
		.fragment_size = 256,
		.fragments = 4,
	};
	struct vd_accel *s;
	struct vd_proto_ring *ring = MAP_FAILED;
	const struct vd_proto_page *page = MAP_FAILED;
	int fds[3] = { -1, -1, -1 }, pfd = -1;

	if (vd_accel_open(NULL, "src", &s) < 0)
		return;
	if (vd_accel_set_params(s, &p) < 0)
		goto out;
	for (int i = 0; i < 4; i++) {
		struct vd_accel_task t = { .input_fd = -1, .output_fd = -1 };
		if (vd_accel_task_create(s, &t) < 0)
			goto out;
		close(t.input_fd);
		close(t.output_fd);
	}
	pfd = accel_engine_status_page(s);
	if (pfd < 0 || accel_engine_ring_attach(s, fds, -1) < 0)
		goto out;
	ring = mmap(NULL, VD_PROTO_RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	page = mmap(NULL, VD_PROTO_PAGE_SIZE, PROT_READ, MAP_SHARED, pfd, 0);
	if (ring == MAP_FAILED || page == MAP_FAILED)
		goto out;
	/* first byte: how far tail runs ahead (may exceed the ring); then entries */
	uint32_t n = size ? data[0] : 0;
	size_t at = 1;
	for (uint32_t i = 0; i < n && i < VD_PROTO_RING_ENTRIES && at + sizeof(struct vd_proto_ring_entry) <= size;
	     i++, at += sizeof(struct vd_proto_ring_entry)) {
		struct vd_proto_ring_entry e;
		memcpy(&e, data + at, sizeof(e));
		/* mostly seqnos the session has (1..8): the engine's own checks run */
		if (!(e.seqno >> 63))
			e.seqno %= 9;
		if (!(e.origin_seqno >> 63))
			e.origin_seqno %= 9;
		if (!(e.input_size >> 63))
			e.input_size %= 300;
		/* STARTs and STOPs, and now and then an unknown operation */
		if (!(e.op >> 31))
			e.op %= 3;
		ring->e[i] = e;
	}
	__atomic_store_n(&ring->tail, n, __ATOMIC_RELEASE);
	accel_engine_ring_sync(s, -1);
	int32_t err = __atomic_load_n(&page->error, __ATOMIC_ACQUIRE);
	if (err > 0 || (err && !page->error_text[0]))
		abort();
	/* the worker may still be running what was accepted: close stops it */
	accel_engine_ring_sync(s, 1);
out:
	if (ring != MAP_FAILED)
		munmap(ring, VD_PROTO_RING_SIZE);
	if (page != MAP_FAILED)
		munmap((void *)page, VD_PROTO_PAGE_SIZE);
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (pfd >= 0)
		close(pfd);
	vd_accel_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fetch_only(data, size);
	engine_consumes(data, size);
	return 0;
}
