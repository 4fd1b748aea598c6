/* topology/arena.h - bump allocator owning every string of a loaded topology. */
#ifndef VD_TOPOLOGY_ARENA_H
#define VD_TOPOLOGY_ARENA_H

#include <stddef.h>

struct vd_arena_block;

/* Everything allocated from an arena lives until vd_arena_free(). */
struct vd_arena {
	struct vd_arena_block *head;
};

void *vd_arena_alloc(struct vd_arena *a, size_t size);
/** A NUL-terminated copy of @len bytes of @s, or NULL when out of memory. */
char *vd_arena_strndup(struct vd_arena *a, const char *s, size_t len);
char *vd_arena_printf(struct vd_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vd_arena_free(struct vd_arena *a);

#endif
