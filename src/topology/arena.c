/* topology/arena.c - bump allocator: many small strings, one free. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define BLOCK_SIZE 4096

struct vd_arena_block {
	struct vd_arena_block *next;
	size_t used, size;
	max_align_t data[];
};

void *vd_arena_alloc(struct vd_arena *a, size_t size)
{
	struct vd_arena_block *b = a->head;
	const size_t align = sizeof(max_align_t);
	size_t need = (size + align - 1) / align * align;

	if (size > SIZE_MAX / 2)
		return NULL;
	if (need == 0)
		need = align;
	if (!b || b->size - b->used < need) {
		/* Large requests get a block of their own so the current one stays in use. */
		size_t bsize = need > BLOCK_SIZE / 4 ? need : BLOCK_SIZE;
		struct vd_arena_block *nb = malloc(sizeof(*nb) + bsize);

		if (!nb)
			return NULL;
		nb->used = 0;
		nb->size = bsize;
		if (b && bsize != BLOCK_SIZE) {
			nb->next = b->next;
			b->next = nb;
		} else {
			nb->next = b;
			a->head = nb;
		}
		b = nb;
	}
	void *p = (char *)b->data + b->used;
	b->used += need;
	return p;
}

char *vd_arena_strndup(struct vd_arena *a, const char *s, size_t len)
{
	char *p = vd_arena_alloc(a, len + 1);

	if (!p)
		return NULL;
	if (len)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *vd_arena_printf(struct vd_arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	p = vd_arena_alloc(a, (size_t)n + 1);
	if (!p)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void vd_arena_free(struct vd_arena *a)
{
	struct vd_arena_block *b = a->head;

	while (b) {
		struct vd_arena_block *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
}
