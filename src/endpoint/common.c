/* endpoint/common.c - helpers shared by the endpoint nodes: path resolution, digital silence, connection state. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "endpoint/endpoint.h"

char *vd_endpoint_resolve_path(const char *base_dir, const char *path)
{
	char *full;

	if (path[0] == '/' || !base_dir || !base_dir[0])
		return strdup(path);
	if (asprintf(&full, "%s%s%s", base_dir,
		     base_dir[strlen(base_dir) - 1] == '/' ? "" : "/", path) < 0)
		return NULL;
	return full;
}

void vd_endpoint_fill_silence(enum vd_sample_format fmt, void *dst, size_t n)
{
	switch (fmt) {
	case VD_FORMAT_U8:
		memset(dst, 0x80, n);
		break;
	case VD_FORMAT_MULAW:
		/* 0xff is mu-law's +0. */
		memset(dst, 0xff, n);
		break;
	case VD_FORMAT_ALAW:
		/* A-law has no zero; 0xd5 is the smallest positive step, the usual idle code. */
		memset(dst, 0xd5, n);
		break;
	default:
		/* All-zero bytes are 0 in every other format, 0.0 included. */
		memset(dst, 0, n * vd_format_sample_size(fmt));
		break;
	}
}

void vd_endpoint_conn_init(struct vd_endpoint_conn *c, bool connected)
{
	atomic_init(&c->connected, connected);
	atomic_init(&c->notify_fd, -1);
}

bool vd_endpoint_conn_set(struct vd_endpoint_conn *c, bool connected)
{
	int fd;
	uint64_t one = 1;

	if (atomic_exchange_explicit(&c->connected, connected, memory_order_acq_rel) == connected)
		return false;
	fd = atomic_load_explicit(&c->notify_fd, memory_order_acquire);
	if (fd >= 0) {
		/* a full eventfd counter (EAGAIN) already means "look again": nothing is lost */
		ssize_t n = write(fd, &one, sizeof(one));

		(void)n;
	}
	return true;
}

bool vd_endpoint_conn_get(const struct vd_endpoint_conn *c)
{
	return atomic_load_explicit(&c->connected, memory_order_acquire);
}

void vd_endpoint_conn_bind(struct vd_endpoint_conn *c, int notify_fd)
{
	atomic_store_explicit(&c->notify_fd, notify_fd, memory_order_release);
}

int vd_endpoint_conn_props(struct vd_endpoint_conn *c, struct vd_props *p, struct vd_error *err)
{
	bool connected = true;
	int ret = vd_props_bool(p, "connected", &connected, err);

	if (ret < 0)
		return ret;
	vd_endpoint_conn_init(c, connected);
	return 0;
}

struct vd_endpoint_conn *vd_endpoint_conn_of(const struct vd_node_ops *ops, void *self)
{
	if (!self || (ops != &vd_node_file_source && ops != &vd_node_file_sink &&
		      ops != &vd_node_alsa_source && ops != &vd_node_alsa_sink &&
		      ops != &vd_node_null_sink && ops != &vd_node_silence_source))
		return NULL;
	return self;
}
