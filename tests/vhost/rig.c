/* tests/vhost/rig.c - the fake virtio-snd guest shared by the daemon tests (see rig.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>

#include "daemon/loop.h"
#include "rig.h"
#include "virtio_snd/proto.h"

uint32_t vd_rig_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void vd_rig_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int16_t vd_rig_pattern(uint64_t k, unsigned c)
{
	return (int16_t)((((k * (c ? 40503u : 7919u)) & 0xFFFF) >> 1) - 16384);
}

int vd_rig_pump(void *loop)
{
	/* bounded: a daemon that always has work must not hang the front-end's wait */
	for (int i = 0; i < 64; i++)
		if (vd_loop_iterate(loop, 0) <= 0)
			break;
	return 0;
}

int vd_rig_wait(void *loop, int ms)
{
	return vd_loop_iterate(loop, ms);
}

int vd_rig_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail_msg("connect %s: %s", path, strerror(errno));
	return fd;
}

int vd_rig_guest_setup(struct vd_rig_guest *g, int fd, int (*pump)(void *), void *pump_arg)
{
	vd_ff_init(&g->ff, fd, 4, pump, pump_arg);
	if (vd_ff_add_region(&g->ff, 0, VD_RIG_MEM_SIZE, 0) < 0 || vd_ff_handshake(&g->ff, 16) < 0 ||
	    vd_ff_start(&g->ff, VD_RIG_FEATURES, VD_RIG_QSIZE, NULL) < 0)
		return -1;
	g->req = vd_ff_alloc(&g->ff, 4096, 16);
	g->resp = vd_ff_alloc(&g->ff, 4096, 16);
	for (unsigned i = 0; i < VD_RIG_QSIZE; i++)
		g->area[i] = vd_ff_alloc(&g->ff, 12 + VD_RIG_PERIOD_BYTES, 64);
	if (!g->area[VD_RIG_QSIZE - 1]) {
		snprintf(g->ff.err, sizeof(g->ff.err), "guest memory too small for the rig's buffers");
		return -1;
	}
	return 0;
}

void vd_rig_guest_open(struct vd_rig_guest *g, const char *sock, struct vd_loop *loop, const char *log)
{
	int fd = vd_rig_connect(sock);

	memset(g, 0, sizeof(*g));
	g->wait = vd_rig_wait;
	g->wait_arg = loop;
	vd_rig_pump(loop);
	if (vd_rig_guest_setup(g, fd, vd_rig_pump, loop) < 0)
		fail_msg("front-end: %s; daemon: %s", g->ff.err, log);
}

uint32_t vd_rig_ctl(struct vd_rig_guest *g, const void *req, uint32_t len)
{
	struct vd_ff_buf b[2] = { { g->req, len, false }, { g->resp, 64, true } };
	uint32_t id, used;

	memcpy(vd_ff_host(&g->ff, g->req), req, len);
	memset(vd_ff_host(&g->ff, g->resp), 0, 64);
	if (vd_ff_vq_add(&g->ff, 0, b, 2, false) < 0)
		return 0;
	vd_ff_kick(&g->ff, 0);
	for (int t = 0; t < 5000; t++) {
		if (vd_ff_vq_used(&g->ff, 0, &id, &used) == 1)
			return vd_rig_le32(vd_ff_host(&g->ff, g->resp));
		g->wait(g->wait_arg, 1);
	}
	return 0;
}

uint32_t vd_rig_pcm(struct vd_rig_guest *g, uint32_t code, uint32_t stream)
{
	uint8_t req[8];

	vd_rig_put32(req, code);
	vd_rig_put32(req + 4, stream);
	return vd_rig_ctl(g, req, 8);
}

uint32_t vd_rig_prepare(struct vd_rig_guest *g, uint32_t stream)
{
	uint8_t req[24] = { 0 };
	uint32_t st;

	vd_rig_put32(req, VIRTIO_SND_R_PCM_SET_PARAMS);
	vd_rig_put32(req + 4, stream);
	vd_rig_put32(req + 8, 4 * VD_RIG_PERIOD_BYTES);
	vd_rig_put32(req + 12, VD_RIG_PERIOD_BYTES);
	req[20] = 2;
	req[21] = VIRTIO_SND_PCM_FMT_S16;
	req[22] = VIRTIO_SND_PCM_RATE_48000;
	st = vd_rig_ctl(g, req, 24);
	return st == VIRTIO_SND_S_OK ? vd_rig_pcm(g, VIRTIO_SND_R_PCM_PREPARE, stream) : st;
}

int vd_rig_tx(struct vd_rig_guest *g)
{
	unsigned slot = g->ff.vq[2].next_desc;
	uint64_t base = g->area[slot];
	int16_t *d = vd_ff_host(&g->ff, base + 12);
	struct vd_ff_buf b[3] = {
		{ base, 4, false }, { base + 12, VD_RIG_PERIOD_BYTES, false }, { base + 4, 8, true },
	};
	int head;

	vd_rig_put32(vd_ff_host(&g->ff, base), 0);
	vd_rig_put32(vd_ff_host(&g->ff, base + 4), 0xffffffffu);
	for (unsigned k = 0; k < VD_RIG_PERIOD_FRAMES; k++, g->next_frame++)
		for (unsigned c = 0; c < 2; c++)
			d[k * 2 + c] = vd_rig_pattern(g->next_frame, c);
	head = vd_ff_vq_add(&g->ff, 2, b, 3, true);
	if (head < 0)
		return -1;
	vd_ff_kick(&g->ff, 2);
	return head;
}
