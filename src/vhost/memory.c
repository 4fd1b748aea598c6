/* vhost/memory.c - the guest memory table: mapping the front-end's regions
 * and translating guest-physical and front-end virtual addresses. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhost/vhost-impl.h"

static bool add_overflows(uint64_t a, uint64_t b)
{
	return a + b < a;
}

/* Half-open ranges [a, a+alen) and [b, b+blen) intersect. */
static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

void *vd_vhost_mem_gpa(const struct vd_vhost_mem *m, uint64_t gpa, uint64_t *len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct vd_vhost_region *r = &m->r[i];
		uint64_t off = gpa - r->gpa;

		if (gpa < r->gpa || off >= r->size)
			continue;
		if (*len > r->size - off)
			*len = r->size - off;
		return r->host + off;
	}
	return NULL;
}

void *vd_vhost_mem_uva(const struct vd_vhost_mem *m, uint64_t uva, uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct vd_vhost_region *r = &m->r[i];
		uint64_t off = uva - r->uaddr;

		if (uva < r->uaddr || off >= r->size)
			continue;
		if (len > r->size - off)
			return NULL;
		return r->host + off;
	}
	return NULL;
}

int vd_vhost_mem_add(struct vd_vhost_mem *m, unsigned max, const struct vd_vhost_mem_region *r,
		     int fd, struct vd_error *err)
{
	struct vd_vhost_region *slot;
	struct stat st;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t map_off, delta, map_len;
	void *map;

	if (m->n >= max || m->n >= VD_VHOST_MAX_MEM_SLOTS)
		return vd_error_set(err, -ENOSPC, NULL, "too many memory regions (limit %u)", max);
	if (r->size == 0)
		return vd_error_set(err, -EINVAL, NULL, "memory region of size 0");
	if (add_overflows(r->gpa, r->size) || add_overflows(r->uaddr, r->size) ||
	    add_overflows(r->mmap_offset, r->size))
		return vd_error_set(err, -EINVAL, NULL,
				    "memory region 0x%" PRIx64 "+0x%" PRIx64 " wraps around", r->gpa, r->size);
	if (r->size > SIZE_MAX / 2)
		return vd_error_set(err, -EINVAL, NULL, "memory region too large");
	for (unsigned i = 0; i < m->n; i++) {
		if (ranges_overlap(r->gpa, r->size, m->r[i].gpa, m->r[i].size))
			return vd_error_set(err, -EINVAL, NULL,
					    "memory region at guest address 0x%" PRIx64 " overlaps another",
					    r->gpa);
		if (ranges_overlap(r->uaddr, r->size, m->r[i].uaddr, m->r[i].size))
			return vd_error_set(err, -EINVAL, NULL,
					    "memory region at user address 0x%" PRIx64 " overlaps another",
					    r->uaddr);
	}
	/* Mapping past the end of the file would turn guest accesses into SIGBUS. */
	if (fstat(fd, &st) < 0)
		return vd_error_set(err, -errno, NULL, "memory region fd: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return vd_error_set(err, -EINVAL, NULL, "memory region fd is not a shared-memory file");
	if ((uint64_t)st.st_size < r->mmap_offset + r->size)
		return vd_error_set(err, -EINVAL, NULL,
				    "memory region (offset 0x%" PRIx64 " size 0x%" PRIx64
				    ") is larger than its file (0x%" PRIx64 " bytes)",
				    r->mmap_offset, r->size, (uint64_t)st.st_size);

	map_off = r->mmap_offset & ~(page - 1);
	delta = r->mmap_offset - map_off;
	map_len = r->size + delta;
	map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, (off_t)map_off);
	if (map == MAP_FAILED)
		return vd_error_set(err, -errno, NULL, "cannot map memory region: %s", strerror(errno));
	/* Guest RAM has no business in our core dumps. */
	(void)madvise(map, map_len, MADV_DONTDUMP);

	slot = &m->r[m->n++];
	slot->gpa = r->gpa;
	slot->size = r->size;
	slot->uaddr = r->uaddr;
	slot->host = (uint8_t *)map + delta;
	slot->map = map;
	slot->map_len = map_len;
	return 0;
}

static void unmap_region(struct vd_vhost_region *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	memset(r, 0, sizeof(*r));
}

static bool same_region(const struct vd_vhost_region *s, const struct vd_vhost_mem_region *r)
{
	return s->gpa == r->gpa && s->size == r->size && s->uaddr == r->uaddr;
}

bool vd_vhost_mem_find(const struct vd_vhost_mem *m, const struct vd_vhost_mem_region *r)
{
	for (unsigned i = 0; i < m->n; i++)
		if (same_region(&m->r[i], r))
			return true;
	return false;
}

int vd_vhost_mem_remove(struct vd_vhost_mem *m, const struct vd_vhost_mem_region *r)
{
	for (unsigned i = 0; i < m->n; i++) {
		struct vd_vhost_region *s = &m->r[i];

		if (!same_region(s, r))
			continue;
		unmap_region(s);
		memmove(s, s + 1, (m->n - i - 1) * sizeof(*s));
		m->n--;
		memset(&m->r[m->n], 0, sizeof(m->r[m->n]));
		return 0;
	}
	return -ENOENT;
}

void vd_vhost_mem_clear(struct vd_vhost_mem *m)
{
	for (unsigned i = 0; i < m->n; i++)
		unmap_region(&m->r[i]);
	m->n = 0;
}
