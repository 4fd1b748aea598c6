/* tests/vhost/fake_frontend.c - a miniature vhost-user front-end (QEMU's
 * message sequences) and virtio driver (hand-built split rings) for tests. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_frontend.h"

static int ff_fail(struct vd_ff *ff, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int ff_fail(struct vd_ff *ff, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ff->err, sizeof(ff->err), fmt, ap);
	va_end(ap);
	return code;
}

void vd_ff_init(struct vd_ff *ff, int sock, unsigned nqueues, int (*pump)(void *), void *arg)
{
	memset(ff, 0, sizeof(*ff));
	ff->sock = sock;
	ff->pump = pump;
	ff->pump_arg = arg;
	ff->nqueues = nqueues < VD_FF_MAX_QUEUES ? nqueues : VD_FF_MAX_QUEUES;
	for (unsigned i = 0; i < VD_FF_MAX_QUEUES; i++) {
		ff->vq[i].kick = ff->vq[i].call = ff->vq[i].err = -1;
	}
	for (unsigned i = 0; i < VD_FF_MAX_REGIONS; i++)
		ff->mem[i].fd = -1;
}

void vd_ff_disconnect(struct vd_ff *ff)
{
	if (ff->sock >= 0)
		close(ff->sock);
	ff->sock = -1;
}

void vd_ff_close(struct vd_ff *ff)
{
	vd_ff_disconnect(ff);
	for (unsigned i = 0; i < VD_FF_MAX_QUEUES; i++) {
		struct vd_ff_vq *v = &ff->vq[i];

		if (v->kick >= 0)
			close(v->kick);
		if (v->call >= 0)
			close(v->call);
		if (v->err >= 0)
			close(v->err);
		v->kick = v->call = v->err = -1;
	}
	for (unsigned i = 0; i < ff->nmem; i++) {
		struct vd_ff_region *r = &ff->mem[i];

		munmap(r->map, r->file_offset + r->size);
		close(r->fd);
		r->fd = -1;
	}
	ff->nmem = 0;
}

/* ---- memory ---- */

int vd_ff_add_region(struct vd_ff *ff, uint64_t gpa, uint64_t size, uint64_t file_offset)
{
	struct vd_ff_region *r;
	char name[32];
	int fd;
	void *map;

	if (ff->nmem >= VD_FF_MAX_REGIONS)
		return ff_fail(ff, -ENOSPC, "too many regions");
	snprintf(name, sizeof(name), "vd-ff-%u", ff->nmem);
	fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return ff_fail(ff, -errno, "memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)(file_offset + size)) < 0) {
		close(fd);
		return ff_fail(ff, -errno, "ftruncate: %s", strerror(errno));
	}
	map = mmap(NULL, file_offset + size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (map == MAP_FAILED) {
		close(fd);
		return ff_fail(ff, -errno, "mmap: %s", strerror(errno));
	}
	r = &ff->mem[ff->nmem++];
	r->gpa = gpa;
	r->size = size;
	r->file_offset = file_offset;
	r->fd = fd;
	r->map = map;
	r->host = (uint8_t *)map + file_offset;
	return 0;
}

void *vd_ff_host(struct vd_ff *ff, uint64_t gpa)
{
	for (unsigned i = 0; i < ff->nmem; i++) {
		struct vd_ff_region *r = &ff->mem[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

uint64_t vd_ff_alloc(struct vd_ff *ff, uint64_t size, uint64_t align)
{
	while (ff->alloc_region < ff->nmem) {
		struct vd_ff_region *r = &ff->mem[ff->alloc_region];
		uint64_t off = (ff->alloc_off + align - 1) & ~(align - 1);

		/* Never hand out guest address 0: it doubles as "failed". */
		if (r->gpa + off == 0)
			off = align;
		if (off + size <= r->size) {
			ff->alloc_off = off + size;
			memset(r->host + off, 0, size);
			return r->gpa + off;
		}
		ff->alloc_region++;
		ff->alloc_off = 0;
	}
	return 0;
}

/* ---- messages ---- */

int vd_ff_send_bytes(struct vd_ff *ff, const void *bytes, size_t len, const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)bytes, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > 16)
		return ff_fail(ff, -EINVAL, "too many fds");
	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	n = sendmsg(ff->sock, &m, MSG_NOSIGNAL);
	if (n != (ssize_t)len)
		return ff_fail(ff, n < 0 ? -errno : -EIO, "sendmsg: %s", n < 0 ? strerror(errno) : "short");
	return 0;
}

int vd_ff_send(struct vd_ff *ff, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
	       const int *fds, unsigned nfds)
{
	uint8_t buf[VD_VHOST_HDR_SIZE + 1024];
	struct vd_vhost_msg_hdr h = { .request = req, .flags = flags | VD_VHOST_VERSION, .size = size };

	if (size > 1024)
		return ff_fail(ff, -EINVAL, "payload too large for the fake");
	memcpy(buf, &h, sizeof(h));
	if (size)
		memcpy(buf + sizeof(h), payload, size);
	return vd_ff_send_bytes(ff, buf, sizeof(h) + size, fds, nfds);
}

int vd_ff_recv(struct vd_ff *ff, struct vd_vhost_msg_hdr *h, void *payload, uint32_t cap)
{
	uint8_t buf[VD_VHOST_HDR_SIZE + VD_VHOST_MAX_PAYLOAD];
	ssize_t n = recv(ff->sock, buf, VD_VHOST_HDR_SIZE, MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : ff_fail(ff, -errno, "recv: %s", strerror(errno));
	if (n != VD_VHOST_HDR_SIZE)
		return ff_fail(ff, -EPROTO, "short reply header (%zd bytes)", n);
	memcpy(h, buf, sizeof(*h));
	if (h->size > VD_VHOST_MAX_PAYLOAD || h->size > cap)
		return ff_fail(ff, -EPROTO, "reply payload of %u bytes", h->size);
	if (h->size) {
		n = recv(ff->sock, payload, h->size, MSG_DONTWAIT);
		if (n != (ssize_t)h->size)
			return ff_fail(ff, -EPROTO, "short reply payload");
	}
	return 0;
}

int vd_ff_pump(struct vd_ff *ff)
{
	ff->last_pump = ff->pump ? ff->pump(ff->pump_arg) : 0;
	return ff->last_pump;
}

int vd_ff_request(struct vd_ff *ff, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
		  const int *fds, unsigned nfds, void *reply, uint32_t reply_cap, uint32_t *reply_size)
{
	struct vd_vhost_msg_hdr h;
	uint64_t ack;
	int rc;

	rc = vd_ff_send(ff, req, flags, payload, size, fds, nfds);
	if (rc < 0)
		return rc;
	vd_ff_pump(ff);
	if (!reply && !(flags & VD_VHOST_FLAG_NEED_REPLY)) {
		if (ff->last_pump < 0)
			return ff_fail(ff, ff->last_pump, "backend dispatch returned %d", ff->last_pump);
		return 0;
	}
	if (!reply) {
		reply = &ack;
		reply_cap = sizeof(ack);
	}
	rc = vd_ff_recv(ff, &h, reply, reply_cap);
	if (rc < 0)
		return rc == -EAGAIN ? ff_fail(ff, -EAGAIN, "no reply to request %u", req) : rc;
	if (h.request != req || h.flags != (VD_VHOST_VERSION | VD_VHOST_FLAG_REPLY))
		return ff_fail(ff, -EPROTO, "reply to %u has request %u flags 0x%x", req, h.request, h.flags);
	if (reply_size)
		*reply_size = h.size;
	if (reply == &ack) {
		if (h.size != 8)
			return ff_fail(ff, -EPROTO, "ack of %u bytes", h.size);
		if (ack != 0)
			return ff_fail(ff, -EREMOTEIO, "request %u nacked (%llu)", req, (unsigned long long)ack);
	}
	return 0;
}

int vd_ff_get_u64(struct vd_ff *ff, uint32_t req, uint64_t *v)
{
	uint32_t got = 0;
	int rc = vd_ff_request(ff, req, 0, NULL, 0, NULL, 0, v, sizeof(*v), &got);

	if (rc == 0 && got != sizeof(*v))
		return ff_fail(ff, -EPROTO, "u64 reply of %u bytes", got);
	return rc;
}

int vd_ff_set_u64(struct vd_ff *ff, uint32_t req, uint64_t v, bool need_reply)
{
	return vd_ff_request(ff, req, need_reply ? VD_VHOST_FLAG_NEED_REPLY : 0, &v, sizeof(v),
			     NULL, 0, NULL, 0, NULL);
}

int vd_ff_set_state(struct vd_ff *ff, uint32_t req, uint32_t index, uint32_t num)
{
	struct vd_vhost_vring_state s = { .index = index, .num = num };

	return vd_ff_request(ff, req, 0, &s, sizeof(s), NULL, 0, NULL, 0, NULL);
}

int vd_ff_get_config(struct vd_ff *ff, uint32_t offset, uint32_t size, void *out, uint32_t *got)
{
	uint8_t msg[sizeof(struct vd_vhost_config_hdr) + VD_VHOST_MAX_CONFIG_SIZE];
	uint8_t rep[sizeof(msg)];
	struct vd_vhost_config_hdr c = { .offset = offset, .size = size, .flags = 0 };
	uint32_t rsize = 0;
	int rc;

	if (size > VD_VHOST_MAX_CONFIG_SIZE)
		return ff_fail(ff, -EINVAL, "config read too large for the fake");
	memset(msg, 0, sizeof(msg));
	memcpy(msg, &c, sizeof(c));
	rc = vd_ff_request(ff, VD_VHOST_REQ_GET_CONFIG, 0, msg, (uint32_t)sizeof(c) + size, NULL, 0,
			   rep, sizeof(rep), &rsize);
	if (rc < 0)
		return rc;
	*got = rsize;
	if (rsize == 0)
		return 0;
	if (rsize < sizeof(c))
		return ff_fail(ff, -EPROTO, "config reply of %u bytes", rsize);
	memcpy(out, rep + sizeof(c), rsize - sizeof(c));
	*got = rsize;
	return 0;
}

/* ---- sequences ---- */

static bool has_pf(const struct vd_ff *ff, unsigned bit)
{
	return (ff->protocol >> bit) & 1;
}

/* Protocol features this fake front-end implements. */
#define FF_PROTOCOL ((1ull << VD_VHOST_PF_MQ) | (1ull << VD_VHOST_PF_REPLY_ACK) | \
	(1ull << VD_VHOST_PF_CONFIG) | (1ull << VD_VHOST_PF_RESET_DEVICE) | \
	(1ull << VD_VHOST_PF_CONFIGURE_MEM_SLOTS) | (1ull << VD_VHOST_PF_STATUS))

static int ensure_eventfds(struct vd_ff *ff, unsigned q)
{
	struct vd_ff_vq *v = &ff->vq[q];

	if (v->kick < 0)
		v->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->call < 0)
		v->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->kick < 0 || v->call < 0)
		return ff_fail(ff, -errno, "eventfd: %s", strerror(errno));
	return 0;
}

static int send_vring_fd(struct vd_ff *ff, uint32_t req, unsigned q, int fd)
{
	uint64_t v = q;

	return vd_ff_request(ff, req, 0, &v, sizeof(v), &fd, 1, NULL, 0, NULL);
}

int vd_ff_handshake(struct vd_ff *ff, uint32_t config_size)
{
	uint64_t v;
	uint32_t got;
	int rc;

	rc = vd_ff_get_u64(ff, VD_VHOST_REQ_GET_FEATURES, &ff->backend_features);
	if (rc < 0)
		return rc;
	if (!(ff->backend_features & (1ull << VD_VHOST_F_PROTOCOL_FEATURES)))
		return ff_fail(ff, -ENOTSUP, "backend lacks VHOST_USER_F_PROTOCOL_FEATURES");
	rc = vd_ff_get_u64(ff, VD_VHOST_REQ_GET_PROTOCOL_FEATURES, &ff->backend_protocol);
	if (rc < 0)
		return rc;
	if (!(ff->backend_protocol & (1ull << VD_VHOST_PF_CONFIG)))
		return ff_fail(ff, -ENOTSUP, "expecting VHOST_USER_PROTOCOL_F_CONFIG");
	ff->protocol = ff->backend_protocol & FF_PROTOCOL;
	rc = vd_ff_set_u64(ff, VD_VHOST_REQ_SET_PROTOCOL_FEATURES, ff->protocol, false);
	if (rc < 0)
		return rc;
	if (has_pf(ff, VD_VHOST_PF_MQ)) {
		rc = vd_ff_get_u64(ff, VD_VHOST_REQ_GET_QUEUE_NUM, &v);
		if (rc < 0)
			return rc;
		if (v < ff->nqueues)
			return ff_fail(ff, -ENOTSUP, "backend has %llu queues", (unsigned long long)v);
	}
	if (has_pf(ff, VD_VHOST_PF_CONFIGURE_MEM_SLOTS)) {
		rc = vd_ff_get_u64(ff, VD_VHOST_REQ_GET_MAX_MEM_SLOTS, &v);
		if (rc < 0)
			return rc;
		if (v < ff->nmem)
			return ff_fail(ff, -ENOTSUP, "backend has %llu memory slots", (unsigned long long)v);
	}
	rc = vd_ff_request(ff, VD_VHOST_REQ_SET_OWNER, 0, NULL, 0, NULL, 0, NULL, 0, NULL);
	if (rc < 0)
		return rc;
	rc = vd_ff_get_u64(ff, VD_VHOST_REQ_GET_FEATURES, &v);
	if (rc < 0)
		return rc;
	for (unsigned q = 0; q < ff->nqueues; q++) {
		rc = ensure_eventfds(ff, q);
		if (rc < 0)
			return rc;
		rc = send_vring_fd(ff, VD_VHOST_REQ_SET_VRING_CALL, q, ff->vq[q].call);
		if (rc < 0)
			return rc;
	}
	if (config_size) {
		rc = vd_ff_get_config(ff, 0, config_size, ff->config, &got);
		if (rc < 0)
			return rc;
		if (got != sizeof(struct vd_vhost_config_hdr) + config_size)
			return ff_fail(ff, -EPROTO, "Received bad msg size (%u)", got);
		ff->config_size = config_size;
	}
	return 0;
}

int vd_ff_send_memory(struct vd_ff *ff)
{
	uint32_t flags = has_pf(ff, VD_VHOST_PF_REPLY_ACK) ? VD_VHOST_FLAG_NEED_REPLY : 0;
	int fds[VD_FF_MAX_REGIONS];

	if (ff->use_mem_slots && has_pf(ff, VD_VHOST_PF_CONFIGURE_MEM_SLOTS)) {
		for (unsigned i = 0; i < ff->nmem; i++) {
			struct vd_vhost_mem_single s = { 0 };
			int rc;

			s.region.gpa = ff->mem[i].gpa;
			s.region.size = ff->mem[i].size;
			s.region.uaddr = (uintptr_t)ff->mem[i].host;
			s.region.mmap_offset = ff->mem[i].file_offset;
			rc = vd_ff_request(ff, VD_VHOST_REQ_ADD_MEM_REG, flags, &s, sizeof(s),
					   &ff->mem[i].fd, 1, NULL, 0, NULL);
			if (rc < 0)
				return rc;
		}
		return 0;
	}

	struct vd_vhost_mem_table t = { .nregions = ff->nmem };

	for (unsigned i = 0; i < ff->nmem; i++) {
		t.regions[i].gpa = ff->mem[i].gpa;
		t.regions[i].size = ff->mem[i].size;
		t.regions[i].uaddr = (uintptr_t)ff->mem[i].host;
		t.regions[i].mmap_offset = ff->mem[i].file_offset;
		fds[i] = ff->mem[i].fd;
	}
	return vd_ff_request(ff, VD_VHOST_REQ_SET_MEM_TABLE, flags, &t,
			     8 + ff->nmem * (uint32_t)sizeof(struct vd_vhost_mem_region), fds, ff->nmem,
			     NULL, 0, NULL);
}

int vd_ff_start(struct vd_ff *ff, uint64_t features, uint16_t qsize, const uint16_t *bases)
{
	uint32_t ackflag = has_pf(ff, VD_VHOST_PF_REPLY_ACK) ? VD_VHOST_FLAG_NEED_REPLY : 0;
	int rc;

	ff->features = features | (1ull << VD_VHOST_F_PROTOCOL_FEATURES);
	rc = vd_ff_set_u64(ff, VD_VHOST_REQ_SET_FEATURES, ff->features, false);
	if (rc < 0)
		return rc;
	rc = vd_ff_send_memory(ff);
	if (rc < 0)
		return rc;
	for (unsigned q = 0; q < ff->nqueues; q++) {
		struct vd_ff_vq *v = &ff->vq[q];
		struct vd_vhost_vring_addr a = { .index = q };

		if (!v->size) {
			rc = vd_ff_vq_alloc(ff, q, qsize);
			if (rc < 0)
				return rc;
		}
		rc = ensure_eventfds(ff, q);
		if (rc < 0)
			return rc;
		rc = vd_ff_set_state(ff, VD_VHOST_REQ_SET_VRING_NUM, q, v->size);
		if (rc < 0)
			return rc;
		rc = vd_ff_set_state(ff, VD_VHOST_REQ_SET_VRING_BASE, q, bases ? bases[q] : 0);
		if (rc < 0)
			return rc;
		a.desc = (uintptr_t)vd_ff_host(ff, v->desc);
		a.avail = (uintptr_t)vd_ff_host(ff, v->avail);
		a.used = (uintptr_t)vd_ff_host(ff, v->used);
		rc = vd_ff_request(ff, VD_VHOST_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0, NULL, 0, NULL);
		if (rc < 0)
			return rc;
		rc = send_vring_fd(ff, VD_VHOST_REQ_SET_VRING_KICK, q, v->kick);
		if (rc < 0)
			return rc;
		rc = send_vring_fd(ff, VD_VHOST_REQ_SET_VRING_CALL, q, v->call);
		if (rc < 0)
			return rc;
	}
	for (unsigned q = 0; q < ff->nqueues; q++) {
		rc = vd_ff_set_state(ff, VD_VHOST_REQ_SET_VRING_ENABLE, q, 1);
		if (rc < 0)
			return rc;
	}
	if (has_pf(ff, VD_VHOST_PF_STATUS)) {
		uint64_t s;

		rc = vd_ff_get_u64(ff, VD_VHOST_REQ_GET_STATUS, &s);
		if (rc < 0)
			return rc;
		rc = vd_ff_request(ff, VD_VHOST_REQ_SET_STATUS, ackflag, &(uint64_t){ s | 0x7 }, 8,
				   NULL, 0, NULL, 0, NULL);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int vd_ff_stop(struct vd_ff *ff, uint16_t *bases)
{
	int rc;

	if (has_pf(ff, VD_VHOST_PF_STATUS)) {
		rc = vd_ff_set_u64(ff, VD_VHOST_REQ_SET_STATUS, 0, has_pf(ff, VD_VHOST_PF_REPLY_ACK));
		if (rc < 0)
			return rc;
	}
	for (unsigned q = 0; q < ff->nqueues; q++) {
		rc = vd_ff_set_state(ff, VD_VHOST_REQ_SET_VRING_ENABLE, q, 0);
		if (rc < 0)
			return rc;
	}
	for (unsigned q = 0; q < ff->nqueues; q++) {
		struct vd_vhost_vring_state s = { .index = q }, r;
		uint32_t got = 0;

		rc = vd_ff_request(ff, VD_VHOST_REQ_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0, &r,
				   sizeof(r), &got);
		if (rc < 0)
			return rc;
		if (got != sizeof(r) || r.index != q)
			return ff_fail(ff, -EPROTO, "bad GET_VRING_BASE reply");
		if (bases)
			bases[q] = (uint16_t)r.num;
	}
	return 0;
}

/* ---- driver ---- */

int vd_ff_vq_alloc(struct vd_ff *ff, unsigned q, uint16_t size)
{
	struct vd_ff_vq *v = &ff->vq[q];

	v->size = size;
	v->desc = vd_ff_alloc(ff, vd_vring_desc_size(size), 4096);
	v->avail = vd_ff_alloc(ff, vd_vring_avail_size(size), 4096);
	v->used = vd_ff_alloc(ff, vd_vring_used_size(size), 4096);
	v->avail_idx = v->last_used = v->next_desc = 0;
	if (!v->desc || !v->avail || !v->used)
		return ff_fail(ff, -ENOMEM, "no guest memory for the rings");
	return 0;
}

struct vd_vring_desc *vd_ff_vq_desc(struct vd_ff *ff, unsigned q, uint16_t i)
{
	return (struct vd_vring_desc *)vd_ff_host(ff, ff->vq[q].desc) + i;
}

static struct vd_vring_avail *avail(struct vd_ff *ff, unsigned q)
{
	return vd_ff_host(ff, ff->vq[q].avail);
}

static struct vd_vring_used *used(struct vd_ff *ff, unsigned q)
{
	return vd_ff_host(ff, ff->vq[q].used);
}

void vd_ff_vq_publish(struct vd_ff *ff, unsigned q, uint16_t head)
{
	struct vd_ff_vq *v = &ff->vq[q];
	struct vd_vring_avail *a = avail(ff, q);

	a->ring[v->avail_idx % v->size] = head;
	v->avail_idx++;
	__atomic_store_n(&a->idx, v->avail_idx, __ATOMIC_RELEASE);
}

void vd_ff_vq_set_avail_idx(struct vd_ff *ff, unsigned q, uint16_t idx)
{
	ff->vq[q].avail_idx = idx;
	__atomic_store_n(&avail(ff, q)->idx, idx, __ATOMIC_RELEASE);
}

static void fill_desc(struct vd_vring_desc *d, const struct vd_ff_buf *b, bool more, uint16_t next)
{
	d->addr = b->gpa;
	d->len = b->len;
	d->flags = (uint16_t)((b->write ? VD_VRING_DESC_F_WRITE : 0) | (more ? VD_VRING_DESC_F_NEXT : 0));
	d->next = more ? next : 0;
}

int vd_ff_vq_add(struct vd_ff *ff, unsigned q, const struct vd_ff_buf *b, unsigned n, bool indirect)
{
	struct vd_ff_vq *v = &ff->vq[q];
	uint16_t head = v->next_desc;

	if (n == 0)
		return ff_fail(ff, -EINVAL, "empty chain");
	if (indirect) {
		uint64_t t = vd_ff_alloc(ff, 16ull * n, 16);
		struct vd_vring_desc *table = vd_ff_host(ff, t);
		struct vd_vring_desc *d = vd_ff_vq_desc(ff, q, head);

		if (!t)
			return ff_fail(ff, -ENOMEM, "no guest memory for an indirect table");
		for (unsigned i = 0; i < n; i++)
			fill_desc(&table[i], &b[i], i + 1 < n, (uint16_t)(i + 1));
		d->addr = t;
		d->len = 16u * n;
		d->flags = VD_VRING_DESC_F_INDIRECT;
		d->next = 0;
		v->next_desc = (uint16_t)((head + 1) % v->size);
	} else {
		if (n > v->size)
			return ff_fail(ff, -EINVAL, "chain longer than the queue");
		for (unsigned i = 0; i < n; i++) {
			uint16_t idx = (uint16_t)((head + i) % v->size);

			fill_desc(vd_ff_vq_desc(ff, q, idx), &b[i], i + 1 < n, (uint16_t)((idx + 1) % v->size));
		}
		v->next_desc = (uint16_t)((head + n) % v->size);
	}
	vd_ff_vq_publish(ff, q, head);
	return head;
}

int vd_ff_vq_used(struct vd_ff *ff, unsigned q, uint32_t *id, uint32_t *len)
{
	struct vd_ff_vq *v = &ff->vq[q];
	struct vd_vring_used *u = used(ff, q);

	if (__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) == v->last_used)
		return 0;
	*id = u->ring[v->last_used % v->size].id;
	*len = u->ring[v->last_used % v->size].len;
	v->last_used++;
	return 1;
}

uint16_t vd_ff_vq_used_idx(struct vd_ff *ff, unsigned q)
{
	return __atomic_load_n(&used(ff, q)->idx, __ATOMIC_ACQUIRE);
}

void vd_ff_vq_set_used_event(struct vd_ff *ff, unsigned q, uint16_t val)
{
	avail(ff, q)->ring[ff->vq[q].size] = val;
}

uint16_t vd_ff_vq_avail_event(struct vd_ff *ff, unsigned q)
{
	uint16_t v;

	memcpy(&v, (uint8_t *)used(ff, q) + 4 + 8u * ff->vq[q].size, sizeof(v));
	return v;
}

void vd_ff_vq_set_avail_flags(struct vd_ff *ff, unsigned q, uint16_t flags)
{
	avail(ff, q)->flags = flags;
}

uint16_t vd_ff_vq_used_flags(struct vd_ff *ff, unsigned q)
{
	return used(ff, q)->flags;
}

void vd_ff_kick(struct vd_ff *ff, unsigned q)
{
	uint64_t one = 1;
	ssize_t r = write(ff->vq[q].kick, &one, sizeof(one));

	(void)r;
}

uint64_t vd_ff_calls(struct vd_ff *ff, unsigned q)
{
	uint64_t v = 0;

	if (read(ff->vq[q].call, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}
