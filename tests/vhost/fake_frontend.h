/* tests/vhost/fake_frontend.h - a vhost-user front-end and virtio driver in
 * miniature, for driving a backend without QEMU: memfd guest memory, the
 * QEMU handshake, and hand-built split rings.
 *
 * The backend runs in the same thread: after each message the front-end
 * calls the "pump" (normally vd_vhost_dispatch()) and then reads the reply.
 * Ring addresses are sent as this process's own mapping addresses, as QEMU
 * sends its own virtual addresses, so the backend must translate them.
 */
#ifndef VD_FAKE_FRONTEND_H
#define VD_FAKE_FRONTEND_H

#include <stdbool.h>
#include <stdint.h>

#include "vhost/protocol.h"

#define VD_FF_MAX_QUEUES	8
#define VD_FF_MAX_REGIONS	8

struct vd_ff_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t file_offset;	/* where the region starts in its memfd */
	int fd;
	uint8_t *map;		/* whole mapping (file_offset + size bytes) */
	uint8_t *host;		/* = map + file_offset */
};

struct vd_ff_vq {
	uint16_t size;
	uint64_t desc, avail, used;	/* guest-physical */
	int kick, call, err;		/* front-end eventfds */
	uint16_t avail_idx;		/* driver's next avail index */
	uint16_t last_used;		/* driver's next used entry to read */
	uint16_t next_desc;		/* descriptor allocator, round robin */
};

struct vd_ff {
	int sock;
	int (*pump)(void *arg);
	void *pump_arg;
	int last_pump;		/* what the pump returned last */
	unsigned nqueues;
	struct vd_ff_region mem[VD_FF_MAX_REGIONS];
	unsigned nmem;
	unsigned alloc_region;	/* bump allocator position */
	uint64_t alloc_off;
	struct vd_ff_vq vq[VD_FF_MAX_QUEUES];
	uint64_t backend_features;
	uint64_t backend_protocol;
	uint64_t features;	/* what SET_FEATURES sent */
	uint64_t protocol;	/* what SET_PROTOCOL_FEATURES sent */
	uint32_t config_size;	/* bytes fetched by the handshake's GET_CONFIG */
	uint8_t config[256];
	bool use_mem_slots;	/* ADD_MEM_REG instead of SET_MEM_TABLE when offered */
	char err[256];		/* why the last call failed */
};

struct vd_ff_buf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

/** Set up with the front-end end of a connected socket (taken over). */
void vd_ff_init(struct vd_ff *ff, int sock, unsigned nqueues, int (*pump)(void *), void *arg);
/** Close everything the front-end owns (socket, eventfds, memory). */
void vd_ff_close(struct vd_ff *ff);
/** Close only the socket (the peer sees the connection drop). */
void vd_ff_disconnect(struct vd_ff *ff);

/** Add guest RAM [gpa, gpa+size) backed by a fresh memfd, placed @file_offset into it. */
int vd_ff_add_region(struct vd_ff *ff, uint64_t gpa, uint64_t size, uint64_t file_offset);
/** Allocate zeroed guest memory; returns its guest address (0 on exhaustion: never a valid result). */
uint64_t vd_ff_alloc(struct vd_ff *ff, uint64_t size, uint64_t align);
/** Our pointer to guest address @gpa (NULL if unmapped). */
void *vd_ff_host(struct vd_ff *ff, uint64_t gpa);

/* ---- raw messages ---- */
int vd_ff_send(struct vd_ff *ff, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
	       const int *fds, unsigned nfds);
int vd_ff_send_bytes(struct vd_ff *ff, const void *bytes, size_t len, const int *fds, unsigned nfds);
/** Read one reply if there is one: 0, -EAGAIN if none, -EPROTO if malformed. */
int vd_ff_recv(struct vd_ff *ff, struct vd_vhost_msg_hdr *h, void *payload, uint32_t cap);
/** Run the backend once. Returns what the pump returned. */
int vd_ff_pump(struct vd_ff *ff);
/**
 * Send a request, pump, and read the reply if @reply is non-NULL or
 * VD_VHOST_FLAG_NEED_REPLY is in @flags (the ack then lands in *@ack).
 * Checks the reply's request code and flags (exactly 0x5).
 */
int vd_ff_request(struct vd_ff *ff, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
		  const int *fds, unsigned nfds, void *reply, uint32_t reply_cap, uint32_t *reply_size);
int vd_ff_get_u64(struct vd_ff *ff, uint32_t req, uint64_t *v);
int vd_ff_set_u64(struct vd_ff *ff, uint32_t req, uint64_t v, bool need_reply);
int vd_ff_set_state(struct vd_ff *ff, uint32_t req, uint32_t index, uint32_t num);
/** GET_CONFIG of @size bytes at @offset; *@got = payload bytes of the reply (0 = error). */
int vd_ff_get_config(struct vd_ff *ff, uint32_t offset, uint32_t size, void *out, uint32_t *got);

/* ---- QEMU's sequences ---- */
/** Realize: features, protocol features (CONFIG required), queue num, mem slots,
 * SET_OWNER, features again, SET_VRING_CALL for every queue, GET_CONFIG of @config_size. */
int vd_ff_handshake(struct vd_ff *ff, uint32_t config_size);
/** DRIVER_OK: SET_FEATURES, memory, per queue NUM/BASE/ADDR/KICK/CALL, ENABLE, STATUS.
 * Rings of @qsize entries are allocated the first time. @bases may be NULL (all 0). */
int vd_ff_start(struct vd_ff *ff, uint64_t features, uint16_t qsize, const uint16_t *bases);
/** Stop: SET_STATUS 0 (if STATUS), SET_VRING_ENABLE 0, GET_VRING_BASE for each queue. */
int vd_ff_stop(struct vd_ff *ff, uint16_t *bases);
/** Only the memory part of start (SET_MEM_TABLE or ADD_MEM_REG for each region). */
int vd_ff_send_memory(struct vd_ff *ff);

/* ---- the driver side of a split ring ---- */
/** Allocate queue @q's rings (zeroed) and reset the driver state. */
int vd_ff_vq_alloc(struct vd_ff *ff, unsigned q, uint16_t size);
/** Write a chain of @n buffers (in a fresh indirect table if @indirect), publish it;
 * returns the head or -errno. */
int vd_ff_vq_add(struct vd_ff *ff, unsigned q, const struct vd_ff_buf *b, unsigned n, bool indirect);
/** Descriptor @i of queue @q (for hand-made malformed chains). */
struct vd_vring_desc *vd_ff_vq_desc(struct vd_ff *ff, unsigned q, uint16_t i);
/** Put @head in the avail ring and advance avail->idx by one. */
void vd_ff_vq_publish(struct vd_ff *ff, unsigned q, uint16_t head);
/** Set avail->idx directly (for jumps). */
void vd_ff_vq_set_avail_idx(struct vd_ff *ff, unsigned q, uint16_t idx);
/** Next used element: 1 with its id and length, or 0 if none. */
int vd_ff_vq_used(struct vd_ff *ff, unsigned q, uint32_t *id, uint32_t *len);
uint16_t vd_ff_vq_used_idx(struct vd_ff *ff, unsigned q);
void vd_ff_vq_set_used_event(struct vd_ff *ff, unsigned q, uint16_t v);
uint16_t vd_ff_vq_avail_event(struct vd_ff *ff, unsigned q);
void vd_ff_vq_set_avail_flags(struct vd_ff *ff, unsigned q, uint16_t flags);
uint16_t vd_ff_vq_used_flags(struct vd_ff *ff, unsigned q);
void vd_ff_kick(struct vd_ff *ff, unsigned q);
/** Calls (interrupts) received on queue @q since the last look. */
uint64_t vd_ff_calls(struct vd_ff *ff, unsigned q);

#endif
