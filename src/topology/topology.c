/* topology/topology.c - loading, freeing and querying topologies; the small containers they use. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "priv.h"

/* Topology files are hand-written; anything larger is a mistake (or an attack). */
#define MAX_FILE_SIZE (16u << 20)

struct vd_name_slot {
	const char *key;	/* NULL: free */
	size_t value;
};

static size_t hash_name(const char *s)
{
	/* FNV-1a */
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
	return (size_t)(h ^ (h >> 32));
}

static struct vd_name_slot *map_slot(struct vd_name_slot *slots, size_t cap, const char *key)
{
	size_t i = hash_name(key) & (cap - 1);

	while (slots[i].key && strcmp(slots[i].key, key) != 0)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

int vd_name_map_put(struct vd_name_map *m, const char *key, size_t value, size_t *old)
{
	struct vd_name_slot *s;

	if ((m->n + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct vd_name_slot *slots = calloc(cap, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].key)
				*map_slot(slots, cap, m->slots[i].key) = m->slots[i];
		free(m->slots);
		m->slots = slots;
		m->cap = cap;
	}
	s = map_slot(m->slots, m->cap, key);
	if (s->key) {
		if (old)
			*old = s->value;
		return 1;
	}
	s->key = key;
	s->value = value;
	m->n++;
	return 0;
}

bool vd_name_map_get(const struct vd_name_map *m, const char *key, size_t *value)
{
	const struct vd_name_slot *s;

	if (!m->cap)
		return false;
	s = map_slot(m->slots, m->cap, key);
	if (!s->key)
		return false;
	*value = s->value;
	return true;
}

void vd_name_map_free(struct vd_name_map *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

int vd_topo_reserve(void **array, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	if (ncap > SIZE_MAX / elem)
		return -ENOMEM;
	p = realloc(*array, ncap * elem);
	if (!p)
		return -ENOMEM;
	*array = p;
	*cap = ncap;
	return 0;
}

int vd_prop_list_add(struct vd_prop_list *l, const struct vd_prop *p)
{
	size_t cap = l->cap;
	void *items = l->props.items;

	if (l->props.n == UINT32_MAX)
		return -ENOMEM;
	if (vd_topo_reserve(&items, &cap, l->props.n, sizeof(*p)) < 0 || cap > UINT32_MAX)
		return -ENOMEM;
	l->props.items = items;
	l->cap = (uint32_t)cap;
	l->props.items[l->props.n++] = *p;
	return 0;
}

void vd_topology_report(struct vd_diag *diag, const struct vd_error *e)
{
	if (!diag)
		return;
	diag->count++;
	if (diag->report)
		diag->report(diag->data, e);
}

void vd_topology_mark_last(struct vd_error *e)
{
	size_t n = strlen(e->msg);

	snprintf(e->msg + n, sizeof(e->msg) - n, " (too many errors, stopping)");
}

static void report_simple(struct vd_diag *diag, int code, const char *file, const char *msg)
{
	struct vd_error e;
	struct vd_location loc = { .file = file };

	vd_error_clear(&e);
	vd_error_set(&e, code, &loc, "%s", msg);
	vd_topology_report(diag, &e);
}

void vd_topology_free(struct vd_topology *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_objects; i++)
		free(t->objects[i].props.props.items);
	free(t->objects);
	free(t->pipelines);
	free(t->links);
	vd_name_map_free(&t->object_names);
	vd_name_map_free(&t->pipeline_names);
	vd_arena_free(&t->arena);
	free(t);
}

static int load(const char *text, size_t len, const char *name, const char *base_dir,
		struct vd_topology **out, struct vd_diag *diag)
{
	struct vd_topology *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -ENOMEM;
	t->file = vd_arena_strndup(&t->arena, name, strlen(name));
	if (base_dir)
		t->base_dir = vd_arena_strndup(&t->arena, base_dir, strlen(base_dir));
	if (!t->file || (base_dir && !t->base_dir)) {
		vd_topology_free(t);
		return -ENOMEM;
	}
	r = vd_topology_parse(t, text, len, diag);
	if (r < 0) {
		vd_topology_free(t);
		return r;
	}
	*out = t;
	return 0;
}

int vd_topology_load_string(const char *text, size_t len, const char *name,
			    struct vd_topology **t, struct vd_diag *diag)
{
	if (!t || (!text && len))
		return -EINVAL;
	*t = NULL;
	return load(text ? text : "", len, name ? name : "<string>", NULL, t, diag);
}

int vd_topology_load_file(const char *path, struct vd_topology **t, struct vd_diag *diag)
{
	char *text = NULL, *dir = NULL;
	const char *slash;
	size_t len = 0;
	FILE *f;
	int r;

	if (!path || !t)
		return -EINVAL;
	*t = NULL;
	f = fopen(path, "rb");
	if (!f) {
		r = -errno;
		report_simple(diag, r, path, strerror(-r));
		return r;
	}
	/* Read to the end, growing the buffer; one byte past the limit proves the file too large. */
	for (size_t cap = 0;;) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 16384;
			char *p;

			if (ncap > MAX_FILE_SIZE + 1)
				ncap = MAX_FILE_SIZE + 1;
			p = realloc(text, ncap);
			if (!p) {
				r = -ENOMEM;
				goto out;
			}
			text = p;
			cap = ncap;
		}
		errno = 0;
		size_t got = fread(text + len, 1, cap - len, f);

		len += got;
		if (got == 0 || len > MAX_FILE_SIZE)
			break;
	}
	if (ferror(f)) {
		r = errno ? -errno : -EIO;
		report_simple(diag, r, path, strerror(-r));
		goto out;
	}
	if (len > MAX_FILE_SIZE) {
		r = -EFBIG;
		report_simple(diag, r, path, "file is too large for a topology (over 16 MiB)");
		goto out;
	}

	slash = strrchr(path, '/');
	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir) {
		r = -ENOMEM;
		goto out;
	}
	r = load(text, len, path, dir, t, diag);
out:
	free(dir);
	free(text);
	fclose(f);
	return r;
}

size_t vd_topology_object_count(const struct vd_topology *t)
{
	return t ? t->n_objects : 0;
}

int vd_topology_object(const struct vd_topology *t, size_t index, struct vd_topology_object *obj)
{
	const struct vd_topo_object *o;

	if (!t || !obj)
		return -EINVAL;
	if (index >= t->n_objects)
		return -ENOENT;
	o = &t->objects[index];
	obj->kind = o->kind;
	obj->name = o->name;
	obj->type = o->type;
	obj->pipeline = t->pipelines[o->pipeline].name;
	obj->loc = o->loc;
	return 0;
}

int vd_topology_set_path(struct vd_topology *t, const char *name, const char *path)
{
	struct vd_topo_object *o;
	struct vd_prop p = { .key = "path", .type = VD_PROP_STRING, .unit = "" };
	size_t i;

	if (!t || !name || !path)
		return -EINVAL;
	if (!vd_name_map_get(&t->object_names, name, &i) || t->objects[i].kind == VD_TOPO_NODE)
		return -ENOENT;
	o = &t->objects[i];
	/* A path from the command line means the caller's directory; left relative, the
	 * endpoint would look for it next to the topology file like the paths written there. */
	if (path[0] != '/' && t->base_dir && t->base_dir[0]) {
		char *cwd = getcwd(NULL, 0);
		if (!cwd)
			return -errno;
		size_t n = strlen(cwd) + 1 + strlen(path) + 1;
		char *abs = malloc(n);
		if (abs)
			snprintf(abs, n, "%s/%s", cwd, path);
		free(cwd);
		if (!abs)
			return -ENOMEM;
		p.str = vd_arena_strndup(&t->arena, abs, strlen(abs));
		free(abs);
	} else {
		p.str = vd_arena_strndup(&t->arena, path, strlen(path));
	}
	if (!p.str)
		return -ENOMEM;
	/* Keep the written location, so messages about the file still point at the declaration. */
	for (uint32_t k = 0; k < o->props.props.n; k++) {
		struct vd_prop *q = &o->props.props.items[k];

		if (strcmp(q->key, "path") == 0) {
			q->type = VD_PROP_STRING;
			q->str = p.str;
			q->num = 0;
			q->unit = "";
			return 0;
		}
	}
	p.loc = o->loc;
	return vd_prop_list_add(&o->props, &p);
}
