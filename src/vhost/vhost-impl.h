/* vhost/vhost-impl.h - private structures of the vhost module, shared by
 * dispatch.c, memory.c and virtq.c (and the fuzz targets). */
#ifndef VD_VHOST_IMPL_H
#define VD_VHOST_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <virtdsp/error.h>

#include "vhost/protocol.h"
#include "vhost/vhost.h"

/* One mapped region of guest memory. */
struct vd_vhost_region {
	uint64_t gpa;		/* guest-physical start */
	uint64_t size;
	uint64_t uaddr;		/* front-end virtual start (ring addresses use these) */
	uint8_t *host;		/* our address of gpa */
	void *map;		/* whole mapping, for munmap; NULL when not mmapped (fuzzers) */
	size_t map_len;
};

/* The memory table; only changed by the dispatch thread while no queue runs. */
struct vd_vhost_mem {
	unsigned n;
	struct vd_vhost_region r[VD_VHOST_MAX_MEM_SLOTS];
};

struct vd_vhost_queue {
	struct vd_vhost_dev *dev;
	const _Atomic int *dev_broken;	/* the device's broken state, read by the walker */
	unsigned index;

	/* configuration: dispatch thread, only while the queue is not running */
	uint32_t num;
	bool addr_set;
	uint64_t desc_ua, avail_ua, used_ua;
	uint16_t base;		/* SET_VRING_BASE, and the last avail index after a stop */
	bool kick_set;		/* SET_VRING_KICK seen (fd or polling) */
	bool started;		/* rings mapped and walking state initialised */
	bool enabled;
	bool running;		/* handed to the owner */
	_Atomic bool stopping;	/* inside ->queue_stop: pop returns nothing (read by the walker) */
	int kick_fd;
	_Atomic int call_fd;	/* replaced with dup2() while running, so the number stays valid */
	_Atomic int err_fd;

	/* translated ring and a snapshot of what the walker needs */
	struct vd_vring_desc *desc;
	struct vd_vring_avail *avail;
	struct vd_vring_used *used;
	const struct vd_vhost_mem *mem;
	uint64_t features;
	unsigned max_indirect;

	/* walking state: the owner thread while running */
	uint16_t last_avail;	/* next avail entry to pop */
	uint16_t shadow_avail;	/* avail->idx as last read */
	uint16_t used_idx;	/* next used entry to write */
	uint16_t signalled_used;
	bool signalled_valid;
	bool notify;
	unsigned inflight;
	uint64_t *inflight_map;	/* one bit per descriptor head */
	const char *error;
};

/* Walker entry points below are used by the dispatcher and the fuzz targets. */

/* Translate a guest-physical range: host pointer of @gpa and, in *@len, the
 * contiguous bytes available there (<= the *@len asked). NULL if unmapped. */
void *vd_vhost_mem_gpa(const struct vd_vhost_mem *m, uint64_t gpa, uint64_t *len);
/* Translate a front-end virtual range that must lie in one region; NULL otherwise. */
void *vd_vhost_mem_uva(const struct vd_vhost_mem *m, uint64_t uva, uint64_t len);
/* Map @r from @fd (not closed) and add it; 0 or -errno with @err set. */
int vd_vhost_mem_add(struct vd_vhost_mem *m, unsigned max, const struct vd_vhost_mem_region *r,
		     int fd, struct vd_error *err);
/* Is there a region matching gpa/size/uaddr of @r? */
bool vd_vhost_mem_find(const struct vd_vhost_mem *m, const struct vd_vhost_mem_region *r);
/* Remove the region matching gpa/size/uaddr of @r; -ENOENT if none. */
int vd_vhost_mem_remove(struct vd_vhost_mem *m, const struct vd_vhost_mem_region *r);
void vd_vhost_mem_clear(struct vd_vhost_mem *m);

/* Prepare the walker: translate the rings through q->mem and read the used
 * index. 0 or -EFAULT/-EINVAL with *why set to a static reason. */
int vd_vhost_queue_map(struct vd_vhost_queue *q, const char **why);
/* Complete every element still in flight with used length 0 and flush. */
void vd_vhost_queue_complete_all(struct vd_vhost_queue *q);
/* Forget every in-flight element without touching guest memory. */
void vd_vhost_queue_forget(struct vd_vhost_queue *q);
/* Mark the device broken with a static message; safe from any thread. */
void vd_vhost_dev_fail_static(struct vd_vhost_dev *dev, const char *why);

#endif
