/* vhost/protocol.h - the vhost-user wire format and split-virtqueue layout:
 * request codes, header flags, feature bits and payload structures.
 *
 * vhost-user messages are in host byte order (the peer is on the same host);
 * the virtqueue structures live in guest memory and are little-endian
 * (VIRTIO_F_VERSION_1). Shared by the backend, its tests and fuzzers.
 */
#ifndef VD_VHOST_PROTOCOL_H
#define VD_VHOST_PROTOCOL_H

#include <stdint.h>

/* ---- message header ---- */

#define VD_VHOST_HDR_SIZE		12u
#define VD_VHOST_VERSION		0x1u
#define VD_VHOST_FLAG_VERSION_MASK	0x3u
#define VD_VHOST_FLAG_REPLY		(1u << 2)
#define VD_VHOST_FLAG_NEED_REPLY	(1u << 3)

/* Largest payload accepted; every message we understand fits in 300 bytes. */
#define VD_VHOST_MAX_PAYLOAD		4096u
/* File descriptors one message may carry (the protocol's baseline region count). */
#define VD_VHOST_MAX_FDS		8u
#define VD_VHOST_MAX_CONFIG_SIZE	256u
#define VD_VHOST_MEM_TABLE_REGIONS	8u

/* Ring index and "no fd" flag in SET_VRING_KICK/CALL/ERR payloads. */
#define VD_VHOST_VRING_IDX_MASK		0xffu
#define VD_VHOST_VRING_NOFD		(1u << 8)

enum vd_vhost_request {
	VD_VHOST_REQ_GET_FEATURES = 1,
	VD_VHOST_REQ_SET_FEATURES = 2,
	VD_VHOST_REQ_SET_OWNER = 3,
	VD_VHOST_REQ_RESET_OWNER = 4,
	VD_VHOST_REQ_SET_MEM_TABLE = 5,
	VD_VHOST_REQ_SET_LOG_BASE = 6,
	VD_VHOST_REQ_SET_LOG_FD = 7,
	VD_VHOST_REQ_SET_VRING_NUM = 8,
	VD_VHOST_REQ_SET_VRING_ADDR = 9,
	VD_VHOST_REQ_SET_VRING_BASE = 10,
	VD_VHOST_REQ_GET_VRING_BASE = 11,
	VD_VHOST_REQ_SET_VRING_KICK = 12,
	VD_VHOST_REQ_SET_VRING_CALL = 13,
	VD_VHOST_REQ_SET_VRING_ERR = 14,
	VD_VHOST_REQ_GET_PROTOCOL_FEATURES = 15,
	VD_VHOST_REQ_SET_PROTOCOL_FEATURES = 16,
	VD_VHOST_REQ_GET_QUEUE_NUM = 17,
	VD_VHOST_REQ_SET_VRING_ENABLE = 18,
	VD_VHOST_REQ_SEND_RARP = 19,
	VD_VHOST_REQ_NET_SET_MTU = 20,
	VD_VHOST_REQ_SET_BACKEND_REQ_FD = 21,
	VD_VHOST_REQ_IOTLB_MSG = 22,
	VD_VHOST_REQ_SET_VRING_ENDIAN = 23,
	VD_VHOST_REQ_GET_CONFIG = 24,
	VD_VHOST_REQ_SET_CONFIG = 25,
	VD_VHOST_REQ_CREATE_CRYPTO_SESSION = 26,
	VD_VHOST_REQ_CLOSE_CRYPTO_SESSION = 27,
	VD_VHOST_REQ_POSTCOPY_ADVISE = 28,
	VD_VHOST_REQ_POSTCOPY_LISTEN = 29,
	VD_VHOST_REQ_POSTCOPY_END = 30,
	VD_VHOST_REQ_GET_INFLIGHT_FD = 31,
	VD_VHOST_REQ_SET_INFLIGHT_FD = 32,
	VD_VHOST_REQ_GPU_SET_SOCKET = 33,
	VD_VHOST_REQ_RESET_DEVICE = 34,
	VD_VHOST_REQ_VRING_KICK = 35,
	VD_VHOST_REQ_GET_MAX_MEM_SLOTS = 36,
	VD_VHOST_REQ_ADD_MEM_REG = 37,
	VD_VHOST_REQ_REM_MEM_REG = 38,
	VD_VHOST_REQ_SET_STATUS = 39,
	VD_VHOST_REQ_GET_STATUS = 40,
	VD_VHOST_REQ_MAX = 41,
};

/* ---- feature bits ---- */

/* Virtio transport bits this layer understands (device bits are the owner's). */
#define VD_VHOST_F_NOTIFY_ON_EMPTY	24
#define VD_VHOST_F_ANY_LAYOUT		27
#define VD_VHOST_F_INDIRECT_DESC	28
#define VD_VHOST_F_EVENT_IDX		29
/* The reserved bit 30 doubles as "the backend speaks protocol features". */
#define VD_VHOST_F_PROTOCOL_FEATURES	30
#define VD_VHOST_F_VERSION_1		32
#define VD_VHOST_F_ACCESS_PLATFORM	33
#define VD_VHOST_F_RING_PACKED		34
#define VD_VHOST_F_IN_ORDER		35
#define VD_VHOST_F_ORDER_PLATFORM	36
#define VD_VHOST_F_SR_IOV		37
#define VD_VHOST_F_NOTIFICATION_DATA	38
#define VD_VHOST_F_NOTIF_CONFIG_DATA	39
#define VD_VHOST_F_RING_RESET		40
#define VD_VHOST_F_ADMIN_VQ		41

/* Protocol feature bits. */
#define VD_VHOST_PF_MQ			0
#define VD_VHOST_PF_LOG_SHMFD		1
#define VD_VHOST_PF_RARP		2
#define VD_VHOST_PF_REPLY_ACK		3
#define VD_VHOST_PF_MTU			4
#define VD_VHOST_PF_BACKEND_REQ		5
#define VD_VHOST_PF_CROSS_ENDIAN	6
#define VD_VHOST_PF_CRYPTO_SESSION	7
#define VD_VHOST_PF_PAGEFAULT		8
#define VD_VHOST_PF_CONFIG		9
#define VD_VHOST_PF_BACKEND_SEND_FD	10
#define VD_VHOST_PF_HOST_NOTIFIER	11
#define VD_VHOST_PF_INFLIGHT_SHMFD	12
#define VD_VHOST_PF_RESET_DEVICE	13
#define VD_VHOST_PF_INBAND_NOTIFICATIONS 14
#define VD_VHOST_PF_CONFIGURE_MEM_SLOTS	15
#define VD_VHOST_PF_STATUS		16

/* ---- payloads (host byte order) ---- */

struct vd_vhost_msg_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
};

struct vd_vhost_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vd_vhost_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;		/* front-end virtual addresses, not guest-physical */
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

struct vd_vhost_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;
	uint64_t mmap_offset;
};

struct vd_vhost_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vd_vhost_mem_region regions[VD_VHOST_MEM_TABLE_REGIONS];
};

struct vd_vhost_mem_single {
	uint64_t padding;
	struct vd_vhost_mem_region region;
};

struct vd_vhost_config_hdr {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
};

_Static_assert(sizeof(struct vd_vhost_msg_hdr) == VD_VHOST_HDR_SIZE, "header");
_Static_assert(sizeof(struct vd_vhost_vring_addr) == 40, "vring addr");
_Static_assert(sizeof(struct vd_vhost_mem_region) == 32, "region");
_Static_assert(sizeof(struct vd_vhost_mem_single) == 40, "single region");
_Static_assert(sizeof(struct vd_vhost_config_hdr) == 12, "config header");

/* ---- split virtqueue (guest memory, little-endian) ---- */

#define VD_VRING_DESC_F_NEXT		1
#define VD_VRING_DESC_F_WRITE		2
#define VD_VRING_DESC_F_INDIRECT	4
#define VD_VRING_USED_F_NO_NOTIFY	1
#define VD_VRING_AVAIL_F_NO_INTERRUPT	1

struct vd_vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vd_vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];	/* then le16 used_event */
};

struct vd_vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vd_vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vd_vring_used_elem ring[];	/* then le16 avail_event */
};

/* Bytes each part of a split ring of @num entries occupies, event fields included. */
static inline uint64_t vd_vring_desc_size(uint32_t num) { return 16ull * num; }
static inline uint64_t vd_vring_avail_size(uint32_t num) { return 6ull + 2ull * num; }
static inline uint64_t vd_vring_used_size(uint32_t num) { return 6ull + 8ull * num; }

/* Does moving the index from @old to @new_idx cross the event index @event? */
static inline int vd_vring_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

#endif
