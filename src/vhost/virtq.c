/* vhost/virtq.c - split virtqueue walker: popping validated descriptor
 * chains, pushing used elements, notification suppression (EVENT_IDX), and
 * byte-stream copies over an element's buffers.
 *
 * Everything here may run on a real-time thread: no allocation, no lock, no
 * logging. Guest memory is read once into local copies before validation,
 * because the guest may rewrite it concurrently.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vhost/vhost-impl.h"

/* ---- little-endian shared-memory accessors ---- */

static inline uint16_t load16(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static inline uint16_t load16_acquire(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

static inline void store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

static inline void store16_release(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELEASE);
}

static inline void store32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, htole32(v), __ATOMIC_RELAXED);
}

/* used_event sits after the avail ring, avail_event after the used ring. */
static inline uint16_t *used_event_ptr(const struct vd_vhost_queue *q)
{
	return &q->avail->ring[q->num];
}

static inline uint16_t *avail_event_ptr(const struct vd_vhost_queue *q)
{
	return (uint16_t *)&q->used->ring[q->num];
}

static inline bool has_feature(const struct vd_vhost_queue *q, unsigned bit)
{
	return (q->features >> bit) & 1;
}

static inline bool test_inflight(const struct vd_vhost_queue *q, uint16_t head)
{
	return (q->inflight_map[head / 64] >> (head % 64)) & 1;
}

static inline void set_inflight(struct vd_vhost_queue *q, uint16_t head, bool on)
{
	if (on)
		q->inflight_map[head / 64] |= 1ull << (head % 64);
	else
		q->inflight_map[head / 64] &= ~(1ull << (head % 64));
}

/* ---- setup (dispatch thread) ---- */

int vd_vhost_queue_map(struct vd_vhost_queue *q, const char **why)
{
	void *desc, *avail, *used;

	if (q->num == 0) {
		*why = "ring size not set";
		return -EINVAL;
	}
	if (!q->addr_set) {
		*why = "ring addresses not set";
		return -EINVAL;
	}
	desc = vd_vhost_mem_uva(q->mem, q->desc_ua, vd_vring_desc_size(q->num));
	avail = vd_vhost_mem_uva(q->mem, q->avail_ua, vd_vring_avail_size(q->num));
	used = vd_vhost_mem_uva(q->mem, q->used_ua, vd_vring_used_size(q->num));
	if (!desc || !avail || !used) {
		*why = !desc ? "descriptor table outside guest memory" :
		       !avail ? "available ring outside guest memory" : "used ring outside guest memory";
		return -EFAULT;
	}
	if ((uintptr_t)desc % 16 || (uintptr_t)avail % 2 || (uintptr_t)used % 4) {
		*why = "misaligned ring";
		return -EINVAL;
	}
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->last_avail = q->base;
	q->shadow_avail = q->base;
	q->used_idx = load16_acquire(&q->used->idx);
	q->signalled_used = q->used_idx;
	q->signalled_valid = false;
	q->notify = true;
	q->inflight = 0;
	memset(q->inflight_map, 0, ((q->num + 63) / 64) * sizeof(uint64_t));
	q->error = "";
	return 0;
}

/* ---- popping ---- */

static int bad(struct vd_vhost_queue *q, const char *why)
{
	q->error = why;
	return -EBADMSG;
}

/* Append guest range [addr, addr+len) to @e, split where regions end. */
static int add_buffer(struct vd_vhost_queue *q, struct vd_vhost_elem *e, unsigned *n,
		      uint64_t addr, uint32_t len)
{
	if (addr + len < addr)
		return bad(q, "descriptor address range wraps around");
	while (len) {
		uint64_t chunk = len;
		void *p = vd_vhost_mem_gpa(q->mem, addr, &chunk);

		if (!p)
			return bad(q, "descriptor address outside guest memory");
		if (*n >= e->iov_max) {
			q->error = "request has more buffers than the element can hold";
			return -E2BIG;
		}
		e->iov[*n].iov_base = p;
		e->iov[*n].iov_len = chunk;
		(*n)++;
		addr += chunk;
		len -= (uint32_t)chunk;
	}
	return 0;
}

static int map_chain(struct vd_vhost_queue *q, uint16_t head, struct vd_vhost_elem *e)
{
	/* Bytes, not struct pointers: an indirect table may be misaligned. */
	const uint8_t *table = (const uint8_t *)q->desc;
	struct vd_vring_desc d;
	unsigned limit = q->num, steps = 0, n = 0;
	uint64_t out_len = 0, in_len = 0;
	uint16_t flags, idx = head;
	bool indirect = false, seen_write = false;
	int rc;

	e->head = head;
	e->out_num = e->in_num = 0;
	e->out_len = e->in_len = 0;
	e->out = e->in = e->iov;

	memcpy(&d, table + (size_t)idx * sizeof(d), sizeof(d));
	flags = le16toh(d.flags);
	if (flags & VD_VRING_DESC_F_INDIRECT) {
		uint64_t addr = le64toh(d.addr), len = le32toh(d.len), got = len;

		if (!has_feature(q, VD_VHOST_F_INDIRECT_DESC))
			return bad(q, "indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC");
		if (flags & VD_VRING_DESC_F_NEXT)
			return bad(q, "indirect descriptor with the NEXT flag");
		if (len == 0 || len % sizeof(struct vd_vring_desc))
			return bad(q, "indirect table length is not a multiple of 16");
		if (len / sizeof(struct vd_vring_desc) > q->max_indirect)
			return bad(q, "indirect table too long");
		table = vd_vhost_mem_gpa(q->mem, addr, &got);
		if (!table || got != len)
			return bad(q, "indirect table outside guest memory or across regions");
		limit = (unsigned)(len / sizeof(struct vd_vring_desc));
		idx = 0;
		indirect = true;
		memcpy(&d, table, sizeof(d));
		flags = le16toh(d.flags);
	}

	for (;;) {
		uint32_t len = le32toh(d.len);

		/* A chain can visit each table entry at most once; more means a loop. */
		if (++steps > limit)
			return bad(q, "descriptor chain longer than its table (loop)");
		if (flags & VD_VRING_DESC_F_INDIRECT)
			return bad(q, indirect ? "nested indirect descriptor" :
					       "indirect descriptor inside a chain");
		if (flags & VD_VRING_DESC_F_WRITE) {
			seen_write = true;
			in_len += len;
		} else {
			if (seen_write)
				return bad(q, "readable descriptor after a writable one");
			out_len += len;
		}
		if (out_len + in_len > UINT32_MAX)
			return bad(q, "request longer than 4 GiB");
		rc = add_buffer(q, e, &n, le64toh(d.addr), len);
		if (rc < 0)
			return rc;
		if (flags & VD_VRING_DESC_F_WRITE)
			e->in_num = n - e->out_num;
		else
			e->out_num = n;
		if (!(flags & VD_VRING_DESC_F_NEXT))
			break;
		idx = le16toh(d.next);
		if (idx >= limit)
			return bad(q, "descriptor next index out of range");
		memcpy(&d, table + (size_t)idx * sizeof(d), sizeof(d));
		flags = le16toh(d.flags);
	}
	e->out = e->iov;
	e->in = e->iov + e->out_num;
	e->out_len = (uint32_t)out_len;
	e->in_len = (uint32_t)in_len;
	return 0;
}

static void push_head(struct vd_vhost_queue *q, uint16_t head, uint32_t len)
{
	struct vd_vring_used_elem *u = &q->used->ring[q->used_idx % q->num];

	store32(&u->id, head);
	store32(&u->len, len);
	q->used_idx++;
	set_inflight(q, head, false);
	q->inflight--;
}

static int ring_fault(struct vd_vhost_queue *q, const char *why)
{
	q->error = why;
	vd_vhost_dev_fail_static(q->dev, why);
	return -EIO;
}

/* Re-read avail->idx; -EIO if the guest moved it impossibly far. */
static int refresh_avail(struct vd_vhost_queue *q)
{
	uint16_t idx = load16_acquire(&q->avail->idx);

	if ((uint16_t)(idx - q->last_avail) > q->num)
		return ring_fault(q, "available index moved more than the queue size");
	q->shadow_avail = idx;
	return 0;
}

int vd_vhost_queue_pop(struct vd_vhost_queue *q, struct vd_vhost_elem *e)
{
	uint16_t head;
	int rc;

	if (!q->running || atomic_load_explicit(&q->stopping, memory_order_relaxed))
		return 0;
	if (atomic_load_explicit(q->dev_broken, memory_order_relaxed))
		return -EIO;
	if (q->shadow_avail == q->last_avail) {
		rc = refresh_avail(q);
		if (rc < 0)
			return rc;
		if (q->shadow_avail == q->last_avail) {
			if (!q->notify || !has_feature(q, VD_VHOST_F_EVENT_IDX))
				return 0;
			/* Ask for a kick at the next entry, then look once more so a
			 * buffer added before the driver saw avail_event is not missed. */
			store16(avail_event_ptr(q), q->last_avail);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			rc = refresh_avail(q);
			if (rc < 0 || q->shadow_avail == q->last_avail)
				return rc;
		}
	}

	head = load16(&q->avail->ring[q->last_avail % q->num]);
	if (head >= q->num)
		return ring_fault(q, "available ring entry out of range");
	if (test_inflight(q, head))
		return ring_fault(q, "descriptor head made available twice");
	q->last_avail++;
	if (q->notify && has_feature(q, VD_VHOST_F_EVENT_IDX))
		store16(avail_event_ptr(q), q->last_avail);
	set_inflight(q, head, true);
	q->inflight++;

	rc = map_chain(q, head, e);
	if (rc < 0) {
		/* Give the buffer back empty so the driver is not left waiting. */
		push_head(q, head, 0);
		e->out_num = e->in_num = 0;
		e->out_len = e->in_len = 0;
		return rc;
	}
	return 1;
}

/* ---- pushing and notifying ---- */

int vd_vhost_queue_push(struct vd_vhost_queue *q, const struct vd_vhost_elem *e, uint32_t len)
{
	if (!q->started || e->head >= q->num || !test_inflight(q, e->head))
		return -EINVAL;
	if (len > e->in_len)
		return -EINVAL;
	push_head(q, e->head, len);
	return 0;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (fd >= 0) {
		/* A full counter (EAGAIN) means the driver has a signal pending anyway. */
		ssize_t r = write(fd, &one, sizeof(one));
		(void)r;
	}
}

static bool need_notify(struct vd_vhost_queue *q)
{
	uint16_t old = q->signalled_used, now = q->used_idx;
	bool valid = q->signalled_valid;

	if (valid && old == now)
		return false;
	q->signalled_used = now;
	q->signalled_valid = true;
	/* Order the used->idx store before reading the driver's suppression fields. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (has_feature(q, VD_VHOST_F_NOTIFY_ON_EMPTY) &&
	    load16(&q->avail->idx) == q->last_avail)
		return true;
	if (has_feature(q, VD_VHOST_F_EVENT_IDX))
		return !valid || vd_vring_need_event(load16(used_event_ptr(q)), now, old);
	return !(load16(&q->avail->flags) & VD_VRING_AVAIL_F_NO_INTERRUPT);
}

int vd_vhost_queue_flush(struct vd_vhost_queue *q)
{
	if (!q->started)
		return -EINVAL;
	store16_release(&q->used->idx, q->used_idx);
	if (!need_notify(q))
		return 0;
	signal_fd(atomic_load_explicit(&q->call_fd, memory_order_acquire));
	return 1;
}

void vd_vhost_queue_set_notification(struct vd_vhost_queue *q, bool enable)
{
	if (!q->started)
		return;
	q->notify = enable;
	if (has_feature(q, VD_VHOST_F_EVENT_IDX)) {
		if (enable)
			store16(avail_event_ptr(q), load16(&q->avail->idx));
	} else {
		store16(&q->used->flags, enable ? 0 : VD_VRING_USED_F_NO_NOTIFY);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

unsigned vd_vhost_queue_pending(struct vd_vhost_queue *q)
{
	uint16_t n;

	if (!q->started)
		return 0;
	n = (uint16_t)(load16_acquire(&q->avail->idx) - q->last_avail);
	return n > q->num ? 0 : n;
}

unsigned vd_vhost_queue_inflight(const struct vd_vhost_queue *q)
{
	return q->inflight;
}

const char *vd_vhost_queue_error(const struct vd_vhost_queue *q)
{
	return q->error ? q->error : "";
}

void vd_vhost_queue_complete_all(struct vd_vhost_queue *q)
{
	if (!q->started)
		return;
	for (uint32_t head = 0; head < q->num && q->inflight; head++) {
		if (test_inflight(q, (uint16_t)head))
			push_head(q, (uint16_t)head, 0);
	}
	vd_vhost_queue_flush(q);
}

void vd_vhost_queue_forget(struct vd_vhost_queue *q)
{
	if (q->inflight_map && q->num)
		memset(q->inflight_map, 0, ((q->num + 63) / 64) * sizeof(uint64_t));
	q->inflight = 0;
}

/* ---- elements and byte streams ---- */

void vd_vhost_elem_init(struct vd_vhost_elem *e, struct iovec *iov, unsigned iov_max)
{
	memset(e, 0, sizeof(*e));
	e->iov = iov;
	e->iov_max = iov_max;
	e->out = e->in = iov;
}

size_t vd_vhost_iov_size(const struct iovec *iov, unsigned n)
{
	size_t total = 0;

	for (unsigned i = 0; i < n; i++)
		total += iov[i].iov_len;
	return total;
}

size_t vd_vhost_iov_to_buf(const struct iovec *iov, unsigned n, size_t offset, void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len, c;

		if (offset >= l) {
			offset -= l;
			continue;
		}
		c = l - offset < len - done ? l - offset : len - done;
		memcpy((uint8_t *)buf + done, (const uint8_t *)iov[i].iov_base + offset, c);
		done += c;
		offset = 0;
	}
	return done;
}

size_t vd_vhost_iov_from_buf(const struct iovec *iov, unsigned n, size_t offset,
			     const void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len, c;

		if (offset >= l) {
			offset -= l;
			continue;
		}
		c = l - offset < len - done ? l - offset : len - done;
		memcpy((uint8_t *)iov[i].iov_base + offset, (const uint8_t *)buf + done, c);
		done += c;
		offset = 0;
	}
	return done;
}
