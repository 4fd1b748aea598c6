/* fuzz/fuzz_vhost_msg.c - libFuzzer target for the vhost-user dispatcher:
 * arbitrary bytes as a message stream over a real socket, with file
 * descriptors attached, after a valid memory table is installed.
 *
 * Input: a sequence of chunks [ctrl u8][len u8][len bytes]. ctrl bits 0-1:
 * how many fds ride with the chunk; bits 2-3: which kind (memfd of guest
 * RAM, eventfd, small memfd, pipe end). Chunks are sent as separate
 * sendmsg() calls, so messages may be split or fds misplaced. Every fd the
 * backend received must be closed again by the time it is detached: the
 * target aborts on an fd leak.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vhost/protocol.h"
#include "vhost/vhost.h"

#define RAM_SIZE (64u << 10)
#define RAM_UADDR 0x100000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	struct vd_vhost_dev *dev;
	int ram;
	unsigned running;
};

static uint64_t f_features(struct vd_vhost_dev *dev)
{
	return (1ull << 0) | (1ull << VD_VHOST_F_VERSION_1) | (1ull << VD_VHOST_F_INDIRECT_DESC) |
	       (1ull << VD_VHOST_F_EVENT_IDX) | (1ull << VD_VHOST_F_NOTIFY_ON_EMPTY);
}

static int f_config(struct vd_vhost_dev *dev, uint32_t offset, void *buf, uint32_t len)
{
	memset(buf, 0x11, len);
	return 0;
}

/* Drain whatever the guest queued, as a device would. */
static void serve(struct vd_vhost_dev *dev, unsigned qi)
{
	struct vd_vhost_queue *q = vd_vhost_dev_queue(dev, qi);
	struct vd_vhost_elem e;
	struct iovec iov[32];
	uint8_t scratch[64];

	for (unsigned i = 0; i < 64; i++) {
		int r;

		vd_vhost_elem_init(&e, iov, 32);
		r = vd_vhost_queue_pop(q, &e);
		if (r == 0 || r == -EIO)
			break;
		if (r < 0)
			continue;
		vd_vhost_iov_to_buf(e.out, e.out_num, 0, scratch, sizeof(scratch));
		vd_vhost_iov_from_buf(e.in, e.in_num, 0, scratch, sizeof(scratch));
		if (vd_vhost_queue_push(q, &e, e.in_len < 64 ? e.in_len : 64) != 0)
			abort();
	}
	vd_vhost_queue_flush(q);
}

static void f_start(struct vd_vhost_dev *dev, unsigned q)
{
	struct ctx *c = vd_vhost_dev_userdata(dev);

	c->running |= 1u << q;
	serve(dev, q);
}

static void f_stop(struct vd_vhost_dev *dev, unsigned q, enum vd_vhost_stop why)
{
	struct ctx *c = vd_vhost_dev_userdata(dev);

	c->running &= ~(1u << q);
}

static const struct vd_vhost_ops fuzz_ops = {
	.version = VD_VHOST_OPS_VERSION,
	.get_features = f_features,
	.get_config = f_config,
	.queue_start = f_start,
	.queue_stop = f_stop,
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		abort();
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void drain(int fd)
{
	uint8_t buf[4096];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static int send_chunk(int fd, const uint8_t *p, size_t len, const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

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
	return sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* Pump the backend and serve running queues; false once it gave up. */
static bool step(struct ctx *c, int peer)
{
	int r = vd_vhost_dispatch(c->dev);

	drain(peer);
	for (unsigned q = 0; q < vd_vhost_dev_num_queues(c->dev); q++)
		if (c->running & (1u << q))
			serve(c->dev, q);
	return r == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vd_vhost_params p = { .num_queues = 4, .max_queue_size = 256, .config_size = 16 };
	struct ctx c = { 0 };
	int before = count_fds(), sv[2], kinds[4];
	uint8_t pre[VD_VHOST_HDR_SIZE + 8 + 32];
	struct vd_vhost_msg_hdr h = { VD_VHOST_REQ_SET_MEM_TABLE, VD_VHOST_VERSION, 8 + 32 };
	struct vd_vhost_mem_table t = { .nregions = 1 };
	size_t pos = 0;

	if (vd_vhost_dev_new(&p, &fuzz_ops, &c, &c.dev) < 0)
		abort();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (vd_vhost_dev_attach(c.dev, sv[1]) < 0)
		abort();
	c.ram = memfd_create("fuzz-ram", MFD_CLOEXEC);
	if (c.ram < 0 || ftruncate(c.ram, RAM_SIZE) < 0)
		abort();
	kinds[0] = c.ram;
	kinds[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	kinds[2] = memfd_create("fuzz-small", MFD_CLOEXEC);
	if (kinds[1] < 0 || kinds[2] < 0 || ftruncate(kinds[2], 4096) < 0)
		abort();
	{
		int pp[2];

		if (pipe2(pp, O_CLOEXEC) < 0)
			abort();
		kinds[3] = pp[0];
		close(pp[1]);
	}

	/* The "fake memory table": guest RAM at 0, front-end address RAM_UADDR. */
	t.regions[0] = (struct vd_vhost_mem_region){ 0, RAM_SIZE, RAM_UADDR, 0 };
	memcpy(pre, &h, sizeof(h));
	memcpy(pre + sizeof(h), &t, 8 + 32);
	if (send_chunk(sv[0], pre, sizeof(pre), &c.ram, 1) < 0 || !step(&c, sv[0]))
		abort();

	while (pos + 2 <= size) {
		uint8_t ctrl = data[pos], len = data[pos + 1];
		int fds[3];
		unsigned nfds = ctrl & 3;

		pos += 2;
		if (len > size - pos)
			len = (uint8_t)(size - pos);
		for (unsigned i = 0; i < nfds; i++)
			fds[i] = kinds[(ctrl >> 2) & 3];
		if (send_chunk(sv[0], data + pos, len, fds, nfds) < 0)
			break;
		pos += len;
		if (!step(&c, sv[0]))
			break;
	}
	shutdown(sv[0], SHUT_WR);
	step(&c, sv[0]);
	vd_vhost_dev_free(c.dev);
	close(sv[0]);
	for (unsigned i = 0; i < 4; i++)
		close(kinds[i]);
	if (count_fds() != before) {
		fprintf(stderr, "fd leak: %d before, %d after\n", before, count_fds());
		abort();
	}
	return 0;
}
