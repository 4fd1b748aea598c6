/* fuzz/snd_rig.c - the virtio-snd fuzz targets' shared rig (snd_rig.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtdsp/attach.h>

#include "snd_rig.h"

static void log_stderr(void *data, const char *msg)
{
	(void)data;
	fprintf(stderr, "%s\n", msg);
}

void snd_rig_new(struct snd_rig *r, const char *host_topo, struct vd_snd_options *opts)
{
	memset(r, 0, sizeof(*r));
	if (vd_topology_load_string(host_topo, strlen(host_topo), "host", &r->ht, NULL) < 0)
		abort();
	if (vd_graph_new(&r->host) < 0)
		abort();
	vd_graph_set_live(r->host, true);
	if (vd_topology_build(r->ht, r->host, NULL) < 0)
		abort();
	if (getenv("FUZZ_SND_LOG"))
		opts->log = log_stderr;
	if (vd_snd_dev_new("fuzz", NULL, r->host, opts, &r->dev, NULL) < 0)
		abort();
}

void snd_rig_free(struct snd_rig *r)
{
	vd_snd_dev_free(r->dev);
	vd_graph_free(r->host);
	vd_topology_free(r->ht);
}

void snd_rig_cycle(struct snd_rig *r, int count)
{
	for (int i = 0; i < count; i++)
		if (vd_graph_cycle(r->host) < 0)
			abort();
}

int cursor_take(struct cursor *c)
{
	if (!c->n)
		return -1;
	c->n--;
	return *c->p++;
}

size_t cursor_bytes(struct cursor *c, void *dst, size_t n, size_t max)
{
	if (n > max)
		n = max;
	if (n > c->n)
		n = c->n;
	memcpy(dst, c->p, n);
	c->p += n;
	c->n -= n;
	return n;
}

/* Cut @len bytes into iovecs of @chunk bytes each (the last takes the rest). */
static unsigned make_iov(struct iovec *iov, unsigned max, const uint8_t *src, size_t len, unsigned chunk)
{
	unsigned n = 0;

	for (size_t off = 0; off < len && n < max; n++) {
		size_t l = len - off < chunk ? len - off : chunk;

		if (n == max - 1)
			l = len - off;
		iov[n].iov_base = malloc(l);
		if (!iov[n].iov_base)
			abort();
		iov[n].iov_len = l;
		if (src)
			memcpy(iov[n].iov_base, src + off, l);
		else
			memset(iov[n].iov_base, 0xa5, l);
		off += l;
	}
	return n;
}

void snd_rig_elem(struct vd_vhost_elem *e, struct iovec *iov, unsigned max, const uint8_t *out,
		  size_t out_len, unsigned out_chunk, size_t in_len, unsigned in_chunk)
{
	unsigned half = max / 2;

	memset(e, 0, sizeof(*e));
	e->iov = iov;
	e->iov_max = max;
	e->out = iov;
	e->out_num = make_iov(iov, half, out, out_len, out_chunk);
	e->out_len = (uint32_t)out_len;
	e->in = iov + e->out_num;
	e->in_num = make_iov(e->in, half, NULL, in_len, in_chunk);
	e->in_len = (uint32_t)in_len;
}

void snd_rig_elem_free(struct vd_vhost_elem *e)
{
	for (unsigned i = 0; i < e->out_num + e->in_num; i++)
		free(e->iov[i].iov_base);
}
