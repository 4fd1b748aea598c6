/* tests/vhost/test_vhost.c - the vhost-user backend driven by the fake
 * front-end: QEMU's handshake, request round trips (direct, indirect, split
 * over regions), notification suppression, GET_CONFIG, GET_VRING_BASE,
 * reset, reconnect without leaks, a threaded data path, and malformed
 * messages and rings with their documented results. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "vhost/vhost.h"
#include "fake_frontend.h"

#define NQ 4
#define QSIZE 64
#define DEV_FEATURES ((1ull << 0) | (1ull << VD_VHOST_F_VERSION_1) | (1ull << VD_VHOST_F_INDIRECT_DESC) | \
		      (1ull << VD_VHOST_F_EVENT_IDX) | (1ull << VD_VHOST_F_RING_PACKED))
#define RING_FEATURES ((1ull << VD_VHOST_F_VERSION_1) | (1ull << VD_VHOST_F_INDIRECT_DESC))

/* ---- the device owner used by every test ---- */

struct owner {
	struct vd_vhost_dev *dev;
	struct vd_ff ff;
	uint8_t config[16];
	unsigned starts[NQ], stops[NQ];
	enum vd_vhost_stop last_why[NQ];
	unsigned resets;
	unsigned broken_calls;
	char broken[256];
	char log[512];
	uint8_t status;
	/* elements the owner holds (queue 0), completed in queue_stop if asked */
	struct vd_vhost_elem held[8];
	struct iovec held_iov[8][8];
	unsigned nheld;
	bool push_held_on_stop;
	uint32_t held_len;
	/* threaded data path */
	pthread_t thread;
	bool thread_on;
	_Atomic bool thread_stop;
	_Atomic unsigned thread_done;
};

static struct owner *O(struct vd_vhost_dev *dev)
{
	return vd_vhost_dev_userdata(dev);
}

static uint64_t op_get_features(struct vd_vhost_dev *dev)
{
	return DEV_FEATURES;
}

static int op_get_config(struct vd_vhost_dev *dev, uint32_t offset, void *buf, uint32_t len)
{
	memcpy(buf, O(dev)->config + offset, len);
	return 0;
}

static void op_queue_start(struct vd_vhost_dev *dev, unsigned q)
{
	O(dev)->starts[q]++;
}

static void op_queue_stop(struct vd_vhost_dev *dev, unsigned q, enum vd_vhost_stop why)
{
	struct owner *o = O(dev);

	o->stops[q]++;
	o->last_why[q] = why;
	if (o->thread_on && q == 0) {
		o->thread_stop = true;
		pthread_join(o->thread, NULL);
		o->thread_on = false;
	}
	if (q == 0 && why != VD_VHOST_STOP_RESET && o->push_held_on_stop) {
		for (unsigned i = 0; i < o->nheld; i++)
			assert_int_equal(vd_vhost_queue_push(vd_vhost_dev_queue(dev, 0), &o->held[i],
							     o->held_len), 0);
	}
	if (q == 0)
		o->nheld = 0;
}

static void op_set_status(struct vd_vhost_dev *dev, uint8_t status)
{
	O(dev)->status = status;
}

static void op_reset(struct vd_vhost_dev *dev)
{
	O(dev)->resets++;
}

static void op_broken(struct vd_vhost_dev *dev, const char *why)
{
	struct owner *o = O(dev);

	o->broken_calls++;
	snprintf(o->broken, sizeof(o->broken), "%s", why);
}

static void op_log(struct vd_vhost_dev *dev, const char *msg)
{
	snprintf(O(dev)->log, sizeof(O(dev)->log), "%s", msg);
}

static const struct vd_vhost_ops ops = {
	.version = VD_VHOST_OPS_VERSION,
	.get_features = op_get_features,
	.get_config = op_get_config,
	.queue_start = op_queue_start,
	.queue_stop = op_queue_stop,
	.set_status = op_set_status,
	.reset = op_reset,
	.broken = op_broken,
	.log = op_log,
};

static int pump(void *arg)
{
	return vd_vhost_dispatch(arg);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the DIR's own fd */
}

static int count_maps(const char *needle)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

/* New device + connection + fake front-end with 1 MiB of guest RAM at 0. */
static void connect_owner(struct owner *o)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vd_vhost_dev_attach(o->dev, sv[1]), 0);
	vd_ff_init(&o->ff, sv[0], NQ, pump, o->dev);
	assert_int_equal(vd_ff_add_region(&o->ff, 0, 1 << 20, 0), 0);
}

static struct owner *new_owner(void)
{
	struct owner *o = calloc(1, sizeof(*o));
	struct vd_vhost_params p = { .num_queues = NQ, .max_queue_size = 256, .config_size = 16 };

	assert_non_null(o);
	for (unsigned i = 0; i < sizeof(o->config); i++)
		o->config[i] = (uint8_t)(0xa0 + i);
	assert_int_equal(vd_vhost_dev_new(&p, &ops, o, &o->dev), 0);
	connect_owner(o);
	return o;
}

static void free_owner(struct owner *o)
{
	vd_ff_close(&o->ff);
	vd_vhost_dev_free(o->dev);
	free(o);
}

/* Handshake + start with the given ring features. */
static struct owner *started_owner(uint64_t features)
{
	struct owner *o = new_owner();

	assert_int_equal(vd_ff_handshake(&o->ff, 12), 0);
	if (vd_ff_start(&o->ff, features, QSIZE, NULL) < 0)
		fail_msg("start: %s", o->ff.err);
	return o;
}

static struct vd_vhost_queue *Q(struct owner *o, unsigned i)
{
	return vd_vhost_dev_queue(o->dev, i);
}

static void *G(struct owner *o, uint64_t gpa)
{
	return vd_ff_host(&o->ff, gpa);
}

/* ---- handshake and config ---- */

static void test_handshake(void **state)
{
	struct owner *o = new_owner();
	uint16_t bases[NQ];

	assert_int_equal(vd_ff_handshake(&o->ff, 12), 0);
	/* Packed rings are not implemented, so they are never offered; bit 30 is added. */
	assert_true(o->ff.backend_features & (1ull << VD_VHOST_F_PROTOCOL_FEATURES));
	assert_true(o->ff.backend_features & (1ull << VD_VHOST_F_EVENT_IDX));
	assert_true(o->ff.backend_features & 1);
	assert_false(o->ff.backend_features & (1ull << VD_VHOST_F_RING_PACKED));
	assert_int_equal(o->ff.backend_protocol,
			 (1ull << VD_VHOST_PF_MQ) | (1ull << VD_VHOST_PF_REPLY_ACK) | (1ull << VD_VHOST_PF_CONFIG) |
			 (1ull << VD_VHOST_PF_RESET_DEVICE) | (1ull << VD_VHOST_PF_CONFIGURE_MEM_SLOTS) |
			 (1ull << VD_VHOST_PF_STATUS));
	assert_memory_equal(o->ff.config, o->config, 12);
	assert_int_equal(vd_vhost_dev_protocol_features(o->dev), o->ff.protocol);
	for (unsigned q = 0; q < NQ; q++)
		assert_int_equal(o->starts[q], 0);

	assert_int_equal(vd_ff_start(&o->ff, RING_FEATURES | 1, QSIZE, NULL), 0);
	assert_int_equal(vd_vhost_dev_features(o->dev), RING_FEATURES | 1 | (1ull << VD_VHOST_F_PROTOCOL_FEATURES));
	assert_int_equal(o->status, 7);
	assert_int_equal(vd_vhost_dev_status(o->dev), 7);
	for (unsigned q = 0; q < NQ; q++) {
		assert_int_equal(o->starts[q], 1);
		assert_true(vd_vhost_queue_running(Q(o, q)));
		assert_int_equal(vd_vhost_queue_size(Q(o, q)), QSIZE);
		assert_true(vd_vhost_queue_kick_fd(Q(o, q)) >= 0);
	}
	assert_int_equal(vd_ff_stop(&o->ff, bases), 0);
	for (unsigned q = 0; q < NQ; q++) {
		assert_int_equal(o->stops[q], 1);
		assert_int_equal(o->last_why[q], VD_VHOST_STOP_DISABLE);
		assert_int_equal(bases[q], 0);
		assert_false(vd_vhost_queue_running(Q(o, q)));
	}
	assert_false(vd_vhost_dev_broken(o->dev));
	free_owner(o);
}

static void test_handshake_mem_slots(void **state)
{
	struct owner *o = new_owner();

	o->ff.use_mem_slots = true;
	assert_int_equal(vd_ff_handshake(&o->ff, 16), 0);
	assert_int_equal(vd_ff_start(&o->ff, RING_FEATURES, QSIZE, NULL), 0);
	for (unsigned q = 0; q < NQ; q++)
		assert_true(vd_vhost_queue_running(Q(o, q)));

	/* Removing a region that was never added is refused, not fatal. */
	struct vd_vhost_mem_single s = { .region = { .gpa = 1ull << 40, .size = 4096, .uaddr = 0x1000 } };
	assert_int_equal(vd_ff_request(&o->ff, VD_VHOST_REQ_REM_MEM_REG, VD_VHOST_FLAG_NEED_REPLY, &s, sizeof(s),
				       NULL, 0, NULL, 0, NULL), -EREMOTEIO);
	assert_string_equal(o->log, "REM_MEM_REG: no region at guest address 0x10000000000 size 0x1000");
	assert_false(vd_vhost_dev_broken(o->dev));
	/* Changing memory while queues run stops (REMAP) and restarts them. */
	assert_int_equal(vd_ff_add_region(&o->ff, 1ull << 32, 1 << 16, 0), 0);
	s.region = (struct vd_vhost_mem_region){ .gpa = 1ull << 32, .size = 1 << 16,
		.uaddr = (uintptr_t)o->ff.mem[1].host, .mmap_offset = 0 };
	assert_int_equal(vd_ff_request(&o->ff, VD_VHOST_REQ_ADD_MEM_REG, VD_VHOST_FLAG_NEED_REPLY, &s, sizeof(s),
				       &o->ff.mem[1].fd, 1, NULL, 0, NULL), 0);
	for (unsigned q = 0; q < NQ; q++) {
		assert_int_equal(o->stops[q], 1);
		assert_int_equal(o->last_why[q], VD_VHOST_STOP_REMAP);
		assert_int_equal(o->starts[q], 2);
	}
	/* ...and the new region is usable for buffers. */
	uint64_t buf = (1ull << 32) + 128;
	struct vd_ff_buf b = { buf, 64, false };
	struct vd_vhost_elem e;
	struct iovec iov[4];
	memset(G(o, buf), 0x5a, 64);
	assert_true(vd_ff_vq_add(&o->ff, 0, &b, 1, false) >= 0);
	vd_vhost_elem_init(&e, iov, 4);
	assert_int_equal(vd_vhost_queue_pop(Q(o, 0), &e), 1);
	assert_int_equal(e.out_len, 64);
	assert_int_equal(((uint8_t *)e.out[0].iov_base)[63], 0x5a);
	/* Removing it again while the element is in flight: the owner gets REMAP
	 * and the layer completes the element it did not. */
	assert_int_equal(vd_ff_request(&o->ff, VD_VHOST_REQ_REM_MEM_REG, VD_VHOST_FLAG_NEED_REPLY, &s, sizeof(s),
				       NULL, 0, NULL, 0, NULL), 0);
	assert_int_equal(o->last_why[0], VD_VHOST_STOP_REMAP);
	assert_int_equal(vd_vhost_queue_inflight(Q(o, 0)), 0);
	uint32_t id, len;
	assert_int_equal(vd_ff_vq_used(&o->ff, 0, &id, &len), 1);
	assert_int_equal(len, 0);
	assert_false(vd_vhost_dev_broken(o->dev));
	free_owner(o);
}

static void test_get_config_sizes(void **state)
{
	struct owner *o = new_owner();
	uint8_t buf[64];
	uint32_t got;

	assert_int_equal(vd_ff_handshake(&o->ff, 12), 0);
	assert_int_equal(vd_ff_get_config(&o->ff, 0, 12, buf, &got), 0);
	assert_int_equal(got, 12 + 12);
	assert_memory_equal(buf, o->config, 12);
	assert_int_equal(vd_ff_get_config(&o->ff, 0, 16, buf, &got), 0);
	assert_int_equal(got, 12 + 16);
	assert_memory_equal(buf, o->config, 16);
	assert_int_equal(vd_ff_get_config(&o->ff, 12, 4, buf, &got), 0);
	assert_int_equal(got, 12 + 4);
	assert_memory_equal(buf, o->config + 12, 4);
	/* Past the end: a zero-length reply (the protocol's error), device unharmed. */
	assert_int_equal(vd_ff_get_config(&o->ff, 0, 20, buf, &got), 0);
	assert_int_equal(got, 0);
	assert_string_equal(o->log, "GET_CONFIG: refused 20 bytes at offset 0 (config space is 16 bytes)");
	assert_int_equal(vd_ff_get_config(&o->ff, 0xfffffffc, 8, buf, &got), 0);
	assert_int_equal(got, 0);
	/* SET_CONFIG is refused politely. */
	uint8_t cfg[12 + 4] = { 0 };
	cfg[4] = 4;
	assert_int_equal(vd_ff_request(&o->ff, VD_VHOST_REQ_SET_CONFIG, VD_VHOST_FLAG_NEED_REPLY, cfg, sizeof(cfg),
				       NULL, 0, NULL, 0, NULL), -EREMOTEIO);
	assert_string_equal(o->log, "SET_CONFIG refused: the config space is read-only");
	assert_false(vd_vhost_dev_broken(o->dev));
	free_owner(o);
}

/* ---- round trips ---- */

/* Request: 24 readable bytes in 3 descriptors, 32 writable in 2. */
static void round_trip(struct owner *o, bool indirect)
{
	uint64_t rd = vd_ff_alloc(&o->ff, 24, 8), wr = vd_ff_alloc(&o->ff, 32, 8);
	struct vd_ff_buf b[5] = {
		{ rd, 4, false }, { rd + 4, 4, false }, { rd + 8, 16, false },
		{ wr, 8, true }, { wr + 8, 24, true },
	};
	struct vd_vhost_elem e;
	struct iovec iov[16];
	uint8_t in[24], out[32];
	uint32_t id, len;
	struct pollfd pfd;
	int head;

	for (unsigned i = 0; i < 24; i++)
		((uint8_t *)G(o, rd))[i] = (uint8_t)(i * 7 + 1);
	head = vd_ff_vq_add(&o->ff, 0, b, 5, indirect);
	assert_true(head >= 0);
	vd_ff_kick(&o->ff, 0);

	/* The owner watches the kick fd the layer exposes. */
	pfd.fd = vd_vhost_queue_kick_fd(Q(o, 0));
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	assert_int_equal(vd_vhost_queue_kick_clear(Q(o, 0)), 1);
	assert_int_equal(vd_vhost_queue_kick_clear(Q(o, 0)), 0);

	assert_int_equal(vd_vhost_queue_pending(Q(o, 0)), 1);
	vd_vhost_elem_init(&e, iov, 16);
	assert_int_equal(vd_vhost_queue_pop(Q(o, 0), &e), 1);
	assert_int_equal(e.head, head);
	assert_int_equal(e.out_num, 3);
	assert_int_equal(e.in_num, 2);
	assert_int_equal(e.out_len, 24);
	assert_int_equal(e.in_len, 32);
	assert_int_equal(vd_vhost_iov_to_buf(e.out, e.out_num, 0, in, sizeof(in)), 24);
	assert_memory_equal(in, G(o, rd), 24);
	/* Byte-stream access across descriptor boundaries. */
	assert_int_equal(vd_vhost_iov_to_buf(e.out, e.out_num, 3, in, 6), 6);
	assert_memory_equal(in, (uint8_t *)G(o, rd) + 3, 6);
	for (unsigned i = 0; i < 32; i++)
		out[i] = (uint8_t)(0xff - i);
	assert_int_equal(vd_vhost_iov_from_buf(e.in, e.in_num, 4, out, 32), 28);
	assert_int_equal(vd_vhost_queue_pop(Q(o, 0), &e), 0);
	assert_int_equal(vd_vhost_queue_inflight(Q(o, 0)), 1);

	assert_int_equal(vd_vhost_queue_push(Q(o, 0), &e, 32), 0);
	/* Pushing it twice is an owner bug, refused. */
	assert_int_equal(vd_vhost_queue_push(Q(o, 0), &e, 32), -EINVAL);
	assert_int_equal(vd_ff_vq_used(&o->ff, 0, &id, &len), 0);	/* not yet flushed */
	assert_int_equal(vd_vhost_queue_flush(Q(o, 0)), 1);
	assert_int_equal(vd_ff_calls(&o->ff, 0), 1);
	assert_int_equal(vd_ff_vq_used(&o->ff, 0, &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(len, 32);
	assert_memory_equal((uint8_t *)G(o, wr) + 4, out, 28);
}

static void test_round_trip_direct(void **state)
{
	struct owner *o = started_owner(RING_FEATURES);

	round_trip(o, false);
	round_trip(o, false);
	free_owner(o);
}

static void test_round_trip_indirect(void **state)
{
	struct owner *o = started_owner(RING_FEATURES);

	round_trip(o, true);
	round_trip(o, false);
	round_trip(o, true);
	free_owner(o);
}

/* Like a Linux PCM period: one descriptor per page, more than the queue holds. */
static void test_long_indirect_chain(void **state)
{
	struct owner *o = started_owner(RING_FEATURES);
	enum { N = 100 };
	struct vd_ff_buf b[N + 2];
	struct iovec iov[N + 2];
	struct vd_vhost_elem e;
	uint64_t data = vd_ff_alloc(&o->ff, N * 4096, 4096), hdr = vd_ff_alloc(&o->ff, 16, 8);
	uint8_t probe;

	b[0] = (struct vd_ff_buf){ hdr, 4, false };
	for (unsigned i = 0; i < N; i++) {
		b[1 + i] = (struct vd_ff_buf){ data + i * 4096ull, 4096, false };
		((uint8_t *)G(o, data))[i * 4096 + 4095] = (uint8_t)i;
	}
	b[N + 1] = (struct vd_ff_buf){ hdr + 8, 8, true };
	assert_true(vd_ff_vq_add(&o->ff, 0, b, N + 2, true) >= 0);
	vd_vhost_elem_init(&e, iov, N + 2);
	assert_int_equal(vd_vhost_queue_pop(Q(o, 0), &e), 1);
	assert_int_equal(e.out_num, N + 1);
	assert_int_equal(e.out_len, 4 + N * 4096);
	assert_int_equal(e.in_len, 8);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(vd_vhost_iov_to_buf(e.out, e.out_num, 4 + i * 4096 + 4095, &probe, 1), 1);
		assert_int_equal(probe, i);
	}
	assert_int_equal(vd_vhost_queue_push(Q(o, 0), &e, 8), 0);
	assert_int_equal(vd_vhost_queue_flush(Q(o, 0)), 1);
	free_owner(o);
}

/* Two regions back to back in guest-physical space, from two different
 * memfds (the second at an unaligned-to-region file offset): a buffer
 * spanning the boundary becomes two iovecs. */
static void test_buffer_split_over_regions(void **state)
{
	struct owner *o = calloc(1, sizeof(*o));
	struct vd_vhost_params p = { .num_queues = NQ, .max_queue_size = 256, .config_size = 16 };
	struct vd_vhost_elem e;
	struct iovec iov[8];
	uint8_t got[256];
	int sv[2];

	assert_int_equal(vd_vhost_dev_new(&p, &ops, o, &o->dev), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vd_vhost_dev_attach(o->dev, sv[1]), 0);
	vd_ff_init(&o->ff, sv[0], NQ, pump, o->dev);
	assert_int_equal(vd_ff_add_region(&o->ff, 0, 1 << 20, 0), 0);
	assert_int_equal(vd_ff_add_region(&o->ff, 1 << 20, 1 << 16, 3 * 4096 + 512), 0);
	assert_int_equal(vd_ff_handshake(&o->ff, 12), 0);
	assert_int_equal(vd_ff_start(&o->ff, RING_FEATURES, QSIZE, NULL), 0);

	uint64_t buf = (1 << 20) - 100;
	for (unsigned i = 0; i < 256; i++)
		*(uint8_t *)G(o, buf + i) = (uint8_t)(i ^ 0x3c);
	struct vd_ff_buf b = { buf, 256, false };
	assert_true(vd_ff_vq_add(&o->ff, 0, &b, 1, false) >= 0);
	vd_vhost_elem_init(&e, iov, 8);
	assert_int_equal(vd_vhost_queue_pop(Q(o, 0), &e), 1);
	assert_int_equal(e.out_num, 2);
	assert_int_equal(e.out[0].iov_len, 100);
	assert_int_equal(e.out[1].iov_len, 156);
	assert_int_equal(vd_vhost_iov_to_buf(e.out, 2, 0, got, 256), 256);
	for (unsigned i = 0; i < 256; i++)
		assert_int_equal(got[i], (uint8_t)(i ^ 0x3c));
	assert_int_equal(vd_vhost_queue_push(Q(o, 0), &e, 0), 0);
	free_owner(o);
}

/* ---- notifications ---- */

static void add_simple(struct owner *o, unsigned q)
{
	uint64_t w = vd_ff_alloc(&o->ff, 8, 8);
	struct vd_ff_buf b = { w, 8, true };

	assert_true(vd_ff_vq_add(&o->ff, q, &b, 1, false) >= 0);
}

static void pop_push(struct owner *o, unsigned q, unsigned n)
{
	struct vd_vhost_elem e;
	struct iovec iov[4];

	for (unsigned i = 0; i < n; i++) {
		vd_vhost_elem_init(&e, iov, 4);
		assert_int_equal(vd_vhost_queue_pop(Q(o, q), &e), 1);
		assert_int_equal(vd_vhost_queue_push(Q(o, q), &e, 8), 0);
	}
}

static void test_event_idx(void **state)
{
	struct owner *o = started_owner(RING_FEATURES | (1ull << VD_VHOST_F_EVENT_IDX));

	for (unsigned i = 0; i < 10; i++)
		add_simple(o, 1);
	/* The driver wants an interrupt once used->idx passes 4 (i.e. reaches 5). */
	vd_ff_vq_set_used_event(&o->ff, 1, 4);
	pop_push(o, 1, 1);
	/* The first flush after start always signals (no previous state to compare). */
	assert_int_equal(vd_vhost_queue_flush(Q(o, 1)), 1);
	assert_int_equal(vd_ff_calls(&o->ff, 1), 1);
	pop_push(o, 1, 2);				/* used 1 -> 3 */
	assert_int_equal(vd_vhost_queue_flush(Q(o, 1)), 0);
	assert_int_equal(vd_ff_calls(&o->ff, 1), 0);
	pop_push(o, 1, 1);				/* 3 -> 4 */
	assert_int_equal(vd_vhost_queue_flush(Q(o, 1)), 0);
	pop_push(o, 1, 2);				/* 4 -> 6 crosses 4 */
	assert_int_equal(vd_vhost_queue_flush(Q(o, 1)), 1);
	assert_int_equal(vd_ff_calls(&o->ff, 1), 1);
	assert_int_equal(vd_vhost_queue_flush(Q(o, 1)), 0);	/* nothing new */
	/* avail_event tells the driver to kick for the entry after the last popped. */
	assert_int_equal(vd_ff_vq_avail_event(&o->ff, 1), 6);
	pop_push(o, 1, 4);
	assert_int_equal(vd_ff_vq_avail_event(&o->ff, 1), 10);
	free_owner(o);
}

static void test_no_interrupt_flag(void **state)
{
	struct owner *o = started_owner(RING_FEATURES);

	add_simple(o, 2);
	add_simple(o, 2);
	vd_ff_vq_set_avail_flags(&o->ff, 2, VD_VRING_AVAIL_F_NO_INTERRUPT);
	pop_push(o, 2, 1);
	assert_int_equal(vd_vhost_queue_flush(Q(o, 2)), 0);
	assert_int_equal(vd_ff_calls(&o->ff, 2), 0);
	assert_int_equal(vd_ff_vq_used_idx(&o->ff, 2), 1);	/* published all the same */
	vd_ff_vq_set_avail_flags(&o->ff, 2, 0);
	pop_push(o, 2, 1);
	assert_int_equal(vd_vhost_queue_flush(Q(o, 2)), 1);
	assert_int_equal(vd_ff_calls(&o->ff, 2), 1);
	/* Kick suppression without EVENT_IDX is the used ring's NO_NOTIFY flag. */
	vd_vhost_queue_set_notification(Q(o, 2), false);
	assert_int_equal(vd_ff_vq_used_flags(&o->ff, 2), VD_VRING_USED_F_NO_NOTIFY);
	vd_vhost_queue_set_notification(Q(o, 2), true);
	assert_int_equal(vd_ff_vq_used_flags(&o->ff, 2), 0);
	free_owner(o);
}

/* SET_VRING_CALL on a running queue swaps the eventfd under the same number. */
static void test_call_fd_replaced_while_running(void **state)
{
	struct owner *o = started_owner(RING_FEATURES);
	int fresh = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t v = 3, c = 0;

	assert_true(fresh >= 0);
	assert_int_equal(vd_ff_request(&o->ff, VD_VHOST_REQ_SET_VRING_CALL, 0, &v, 8, &fresh, 1, NULL, 0, NULL), 0);
	assert_int_equal(o->stops[3], 0);	/* no hand-over needed */
	add_simple(o, 3);
	pop_push(o, 3, 1);
	assert_int_equal(vd_vhost_queue_flush(Q(o, 3)), 1);
	assert_int_equal(vd_ff_calls(&o->ff, 3), 0);		/* old fd: nothing */
	assert_int_equal(read(fresh, &c, 8), 8);
	assert_int_equal(c, 1);
	/* Polling mode while running: notifications go nowhere, harmlessly. */
	v = 3 | VD_VHOST_VRING_NOFD;
	assert_int_equal(vd_ff_request(&o->ff, VD_VHOST_REQ_SET_VRING_CALL, 0, &v, 8, NULL, 0, NULL, 0, NULL), 0);
	add_simple(o, 3);
	pop_push(o, 3, 1);
	assert_int_equal(vd_vhost_queue_flush(Q(o, 3)), 1);
	assert_int_equal(read(fresh, &c, 8), -1);
	close(fresh);
	free_owner(o);
}

/* ---- stop, base, reset, reconnect ---- */

static void test_get_vring_base(void **state)
{
	struct owner *o = started_owner(RING_FEATURES);
	struct vd_vhost_elem e;
	struct iovec iov[4];
	uint32_t id, len;
	uint16_t bases[NQ] = { 0 };

	for (unsigned i = 0; i < 5; i++)
		add_simple(o, 0);
	pop_push(o, 0, 2);
	/* Hold two elements; the owner completes them when asked to stop. */
	for (unsigned i = 0; i < 2; i++) {
		vd_vhost_elem_init(&o->held[i], o->held_iov[i], 8);
		assert_int_equal(vd_vhost_queue_pop(Q(o, 0), &o->held[i]), 1);
	}
	o->nheld = 2;
	o->push_held_on_stop = true;
	o->held_len = 5;
	/* A fifth popped and neither pushed nor held: the layer completes it. */
	vd_vhost_elem_init(&e, iov, 4);
	assert_int_equal(vd_vhost_queue_pop(Q(o, 0), &e), 1);
	assert_int_equal(vd_vhost_queue_flush(Q(o, 0)), 1);

	struct vd_vhost_vring_state s = { .index = 0 }, r;
	uint32_t got;
	assert_int_equal(vd_ff_request(&o->ff, VD_VHOST_REQ_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0,
				       &r, sizeof(r), &got), 0);
	assert_int_equal(got, 8);
	assert_int_equal(r.index, 0);
	assert_int_equal(r.num, 5);
	assert_int_equal(o->stops[0], 1);
	assert_int_equal(o->last_why[0], VD_VHOST_STOP_BASE);
	assert_false(vd_vhost_queue_running(Q(o, 0)));
	assert_int_equal(vd_vhost_queue_kick_fd(Q(o, 0)), -1);
	/* Every request came back: 2 with length 8, 2 with 5, 1 with 0. */
	unsigned lens[9] = { 0 };
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(vd_ff_vq_used(&o->ff, 0, &id, &len), 1);
		lens[len]++;
	}
	assert_int_equal(vd_ff_vq_used(&o->ff, 0, &id, &len), 0);
	assert_int_equal(lens[8], 2);
	assert_int_equal(lens[5], 2);
	assert_int_equal(lens[0], 1);
	/* Popping a stopped queue yields nothing. */
	add_simple(o, 0);
	vd_vhost_elem_init(&e, iov, 4);
	assert_int_equal(vd_vhost_queue_pop(Q(o, 0), &e), 0);

	/* QEMU restarts from the returned bases and the new request is served. */
	assert_int_equal(vd_ff_stop(&o->ff, bases), 0);
	assert_int_equal(bases[0], 5);
	assert_int_equal(vd_ff_start(&o->ff, RING_FEATURES, QSIZE, bases), 0);
	assert_true(vd_vhost_queue_running(Q(o, 0)));
	assert_int_equal(vd_vhost_queue_pending(Q(o, 0)), 1);
	pop_push(o, 0, 1);
	assert_int_equal(vd_vhost_queue_flush(Q(o, 0)), 1);
	assert_int_equal(vd_ff_vq_used(&o->ff, 0, &id, &len), 1);
	assert_int_equal(len, 8);
	free_owner(o);
}

static void test_reset_device(void **state)
{
	struct owner *o = started_owner(RING_FEATURES);

	add_simple(o, 0);
	vd_vhost_elem_init(&o->held[0], o->held_iov[0], 8);
	assert_int_equal(vd_vhost_queue_pop(Q(o, 0), &o->held[0]), 1);
	o->nheld = 1;
	o->push_held_on_stop = true;	/* must not happen for RESET */
	assert_int_equal(vd_ff_request(&o->ff, VD_VHOST_REQ_RESET_DEVICE, 0, NULL, 0, NULL, 0, NULL, 0, NULL), 0);
	assert_int_equal(o->resets, 1);
	for (unsigned q = 0; q < NQ; q++) {
		assert_int_equal(o->last_why[q], VD_VHOST_STOP_RESET);
		assert_false(vd_vhost_queue_running(Q(o, q)));
		assert_int_equal(vd_vhost_queue_size(Q(o, q)), 0);
	}
	/* Guest memory untouched by the reset: the held request was not completed. */
	assert_int_equal(vd_ff_vq_used_idx(&o->ff, 0), 0);
	assert_int_equal(vd_vhost_dev_features(o->dev), 0);
	assert_int_equal(vd_vhost_dev_status(o->dev), 0);
	/* The driver re-initialises (fresh rings) and everything works again. */
	for (unsigned q = 0; q < NQ; q++)
		assert_int_equal(vd_ff_vq_alloc(&o->ff, q, QSIZE), 0);
	assert_int_equal(vd_ff_start(&o->ff, RING_FEATURES, QSIZE, NULL), 0);
	round_trip(o, true);
	free_owner(o);
}

static void test_reconnect_no_leaks(void **state)
{
	struct owner *o = calloc(1, sizeof(*o));
	struct vd_vhost_params p = { .num_queues = NQ, .max_queue_size = 256, .config_size = 16 };
	int base_fds, base_maps = count_maps("memfd:vd-ff");

	assert_int_equal(vd_vhost_dev_new(&p, &ops, o, &o->dev), 0);
	base_fds = count_fds();
	for (unsigned round = 0; round < 3; round++) {
		connect_owner(o);
		assert_int_equal(vd_ff_handshake(&o->ff, 12), 0);
		assert_int_equal(vd_ff_start(&o->ff, RING_FEATURES, QSIZE, NULL), 0);
		round_trip(o, round & 1);
		/* The backend holds its own copies: socket, 4 kicks, 4 calls. */
		vd_ff_close(&o->ff);
		assert_int_equal(count_fds(), base_fds + 1 + 2 * NQ);
		assert_int_equal(count_maps("memfd:vd-ff"), base_maps + 1);
		assert_int_equal(vd_vhost_dispatch(o->dev), -ECONNRESET);
		vd_vhost_dev_detach(o->dev);
		assert_int_equal(o->resets, round + 1);
		assert_int_equal(count_fds(), base_fds);
		assert_int_equal(count_maps("memfd:vd-ff"), base_maps);
		assert_int_equal(vd_vhost_dev_fd(o->dev), -1);
		assert_int_equal(vd_vhost_dispatch(o->dev), -ENOTCONN);
	}
	vd_vhost_dev_free(o->dev);
	free(o);
}

/* ---- threads: a data thread owns queue 0 while dispatch serves messages ---- */

static void *data_thread(void *arg)
{
	struct owner *o = arg;
	struct vd_vhost_queue *q = Q(o, 0);
	struct vd_vhost_elem e;
	struct iovec iov[4];
	struct pollfd pfd = { .fd = vd_vhost_queue_kick_fd(q), .events = POLLIN };

	while (!o->thread_stop) {
		int r;

		if (poll(&pfd, 1, 5) > 0)
			vd_vhost_queue_kick_clear(q);
		vd_vhost_elem_init(&e, iov, 4);
		while ((r = vd_vhost_queue_pop(q, &e)) == 1) {
			uint32_t v;

			vd_vhost_iov_to_buf(e.out, e.out_num, 0, &v, 4);
			v = v * 2 + 1;
			vd_vhost_iov_from_buf(e.in, e.in_num, 0, &v, 4);
			vd_vhost_queue_push(q, &e, 4);
			o->thread_done++;
		}
		vd_vhost_queue_flush(q);
	}
	return NULL;
}

static void test_threaded_data_path(void **state)
{
	struct owner *o = started_owner(RING_FEATURES | (1ull << VD_VHOST_F_EVENT_IDX));
	enum { N = 40 };
	uint64_t mem = vd_ff_alloc(&o->ff, N * 8, 8);
	unsigned seen = 0;
	uint32_t id, len;
	uint8_t cfg[16];
	uint32_t got;

	o->thread_on = true;
	assert_int_equal(pthread_create(&o->thread, NULL, data_thread, o), 0);
	for (unsigned i = 0; i < N; i++) {
		uint32_t *req = G(o, mem + i * 8);
		struct vd_ff_buf b[2] = { { mem + i * 8, 4, false }, { mem + i * 8 + 4, 4, true } };

		*req = i;
		while (vd_ff_vq_used(&o->ff, 0, &id, &len))
			seen++;
		if (i - seen >= QSIZE / 2 - 1)
			i--;	/* ring full: wait for completions */
		else {
			assert_true(vd_ff_vq_add(&o->ff, 0, b, 2, false) >= 0);
			vd_ff_kick(&o->ff, 0);
		}
		/* Control traffic on the dispatch thread meanwhile. */
		assert_int_equal(vd_ff_get_config(&o->ff, 0, 16, cfg, &got), 0);
		assert_int_equal(got, 28);
	}
	for (int spin = 0; spin < 2000 && seen < N; spin++) {
		while (vd_ff_vq_used(&o->ff, 0, &id, &len)) {
			assert_int_equal(len, 4);
			seen++;
		}
		usleep(1000);
	}
	assert_int_equal(seen, N);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(*(uint32_t *)G(o, mem + i * 8 + 4), i * 2 + 1);
	/* GET_VRING_BASE waits for the owner (joins the thread) before answering. */
	struct vd_vhost_vring_state s = { .index = 0 }, r;
	assert_int_equal(vd_ff_request(&o->ff, VD_VHOST_REQ_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0,
				       &r, sizeof(r), &got), 0);
	assert_false(o->thread_on);
	assert_int_equal(r.num, N);
	assert_int_equal(o->thread_done, N);
	free_owner(o);
}

/* ---- malformed messages ---- */

static void expect_broken(struct owner *o, const char *msg)
{
	assert_int_equal(o->ff.last_pump, -EIO);
	assert_true(vd_vhost_dev_broken(o->dev));
	assert_string_equal(vd_vhost_dev_error(o->dev), msg);
	assert_string_equal(o->broken, msg);
	assert_int_equal(o->broken_calls, 1);
	/* Further dispatch refuses to read anything. */
	assert_int_equal(vd_vhost_dispatch(o->dev), -EIO);
}

/* Runs @fn on a fresh connection and checks no fd outlives the detach. */
static void leak_checked(void (*fn)(struct owner *))
{
	struct owner *o = calloc(1, sizeof(*o));
	struct vd_vhost_params p = { .num_queues = NQ, .max_queue_size = 256, .config_size = 16 };
	int base;

	assert_int_equal(vd_vhost_dev_new(&p, &ops, o, &o->dev), 0);
	base = count_fds();
	connect_owner(o);
	fn(o);
	vd_ff_close(&o->ff);
	vd_vhost_dev_detach(o->dev);
	assert_int_equal(count_fds(), base);
	assert_false(vd_vhost_dev_broken(o->dev));	/* detach clears it for the next guest */
	vd_vhost_dev_free(o->dev);
	free(o);
}

static void m_truncated_header_eof(struct owner *o)
{
	uint8_t half[6] = { 1, 0, 0, 0, 1, 0 };

	assert_int_equal(vd_ff_send_bytes(&o->ff, half, sizeof(half), NULL, 0), 0);
	assert_int_equal(vd_ff_pump(&o->ff), 0);	/* waits for the rest */
	shutdown(o->ff.sock, SHUT_WR);
	assert_int_equal(vd_ff_pump(&o->ff), -ECONNRESET);
	assert_string_equal(o->log, "connection closed 6 bytes into a message");
	assert_false(vd_vhost_dev_broken(o->dev));
}

static void m_split_message(struct owner *o)
{
	struct vd_vhost_msg_hdr h = { VD_VHOST_REQ_GET_QUEUE_NUM, VD_VHOST_VERSION, 0 };
	struct vd_vhost_msg_hdr rh;
	uint64_t v;

	/* A message arriving in pieces is assembled across dispatch calls. */
	assert_int_equal(vd_ff_send_bytes(&o->ff, &h, 5, NULL, 0), 0);
	assert_int_equal(vd_ff_pump(&o->ff), 0);
	assert_int_equal(vd_ff_recv(&o->ff, &rh, &v, 8), -EAGAIN);
	assert_int_equal(vd_ff_send_bytes(&o->ff, (uint8_t *)&h + 5, 7, NULL, 0), 0);
	assert_int_equal(vd_ff_pump(&o->ff), 0);
	assert_int_equal(vd_ff_recv(&o->ff, &rh, &v, 8), 0);
	assert_int_equal(v, NQ);
}

static void m_oversized(struct owner *o)
{
	struct vd_vhost_msg_hdr h = { VD_VHOST_REQ_GET_FEATURES, VD_VHOST_VERSION, 5000 };

	assert_int_equal(vd_ff_send_bytes(&o->ff, &h, sizeof(h), NULL, 0), 0);
	vd_ff_pump(&o->ff);
	expect_broken(o, "GET_FEATURES: payload of 5000 bytes exceeds 4096");
}

static void m_bad_version(struct owner *o)
{
	assert_int_equal(vd_ff_send(&o->ff, VD_VHOST_REQ_GET_FEATURES, 2, NULL, 0, NULL, 0), 0);
	vd_ff_pump(&o->ff);
	expect_broken(o, "message with protocol version 3 (flags 0x3)");
}

static void m_wrong_fd_count(struct owner *o)
{
	int e = eventfd(0, EFD_CLOEXEC);
	uint64_t v = 1 | VD_VHOST_VRING_NOFD;

	assert_int_equal(vd_ff_send(&o->ff, VD_VHOST_REQ_SET_VRING_CALL, 0, &v, 8, &e, 1), 0);
	close(e);
	vd_ff_pump(&o->ff);
	expect_broken(o, "SET_VRING_CALL: 1 file descriptors, expected 0");
}

static void m_missing_fd(struct owner *o)
{
	struct vd_vhost_mem_table t = { .nregions = 1, .regions = { { 0, 4096, 0x10000, 0 } } };

	assert_int_equal(vd_ff_send(&o->ff, VD_VHOST_REQ_SET_MEM_TABLE, 0, &t, 8 + 32, NULL, 0), 0);
	vd_ff_pump(&o->ff);
	expect_broken(o, "SET_MEM_TABLE: 0 file descriptors, expected 1");
}

static void m_too_many_fds(struct owner *o)
{
	int fds[10];

	for (unsigned i = 0; i < 10; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(vd_ff_send(&o->ff, VD_VHOST_REQ_SET_OWNER, 0, NULL, 0, fds, 10), 0);
	for (unsigned i = 0; i < 10; i++)
		close(fds[i]);
	vd_ff_pump(&o->ff);
	expect_broken(o, "message carries more than 8 file descriptors");
}

static void m_bad_size(struct owner *o)
{
	uint32_t v = 1;

	assert_int_equal(vd_ff_send(&o->ff, VD_VHOST_REQ_SET_FEATURES, 0, &v, 4, NULL, 0), 0);
	vd_ff_pump(&o->ff);
	expect_broken(o, "SET_FEATURES: payload of 4 bytes, expected 8");
}

static void m_unknown_request(struct owner *o)
{
	int e = eventfd(0, EFD_CLOEXEC);
	uint64_t v;

	/* Unknown (and unoffered) requests are refused with an ack; fds closed. */
	assert_int_equal(vd_ff_request(&o->ff, 77, VD_VHOST_FLAG_NEED_REPLY, NULL, 0, &e, 1, NULL, 0, NULL),
			 -EREMOTEIO);
	assert_string_equal(o->log, "unsupported request 77 (unknown request) ignored");
	assert_int_equal(vd_ff_request(&o->ff, VD_VHOST_REQ_SET_LOG_FD, 0, NULL, 0, &e, 1, NULL, 0, NULL), 0);
	assert_string_equal(o->log, "unsupported request 7 (SET_LOG_FD) ignored");
	close(e);
	assert_false(vd_vhost_dev_broken(o->dev));
	assert_int_equal(vd_ff_get_u64(&o->ff, VD_VHOST_REQ_GET_QUEUE_NUM, &v), 0);
	assert_int_equal(v, NQ);
}

static void m_bad_queue_index(struct owner *o)
{
	assert_int_equal(vd_ff_handshake(&o->ff, 12), 0);
	assert_int_equal(vd_ff_set_state(&o->ff, VD_VHOST_REQ_SET_VRING_NUM, NQ, 64), -EIO);
	expect_broken(o, "SET_VRING_NUM: queue 4 does not exist (4 queues)");
}

static void m_bad_queue_size(struct owner *o)
{
	assert_int_equal(vd_ff_set_state(&o->ff, VD_VHOST_REQ_SET_VRING_NUM, 0, 48), -EIO);
	expect_broken(o, "SET_VRING_NUM: queue 0 size 48 is not a power of two up to 256");
}

static void m_unoffered_feature(struct owner *o)
{
	assert_int_equal(vd_ff_set_u64(&o->ff, VD_VHOST_REQ_SET_FEATURES, 1ull << VD_VHOST_F_RING_PACKED, false),
			 -EIO);
	expect_broken(o, "SET_FEATURES acks features never offered (0x400000000)");
}

static void m_ring_outside_memory(struct owner *o)
{
	struct vd_vhost_vring_addr a = { .index = 0, .desc = 0xdead0000, .avail = 0xdead2000, .used = 0xdead4000 };

	assert_int_equal(vd_ff_handshake(&o->ff, 12), 0);
	assert_int_equal(vd_ff_set_u64(&o->ff, VD_VHOST_REQ_SET_FEATURES, RING_FEATURES, false), 0);
	assert_int_equal(vd_ff_send_memory(&o->ff), 0);
	assert_int_equal(vd_ff_set_state(&o->ff, VD_VHOST_REQ_SET_VRING_NUM, 0, 64), 0);
	assert_int_equal(vd_ff_request(&o->ff, VD_VHOST_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0, NULL, 0, NULL), 0);
	uint64_t v = 0 | VD_VHOST_VRING_NOFD;
	assert_int_equal(vd_ff_request(&o->ff, VD_VHOST_REQ_SET_VRING_KICK, 0, &v, 8, NULL, 0, NULL, 0, NULL), -EIO);
	expect_broken(o, "queue 0: descriptor table outside guest memory");
	assert_int_equal(o->starts[0], 0);
}

static void m_region_beyond_file(struct owner *o)
{
	struct vd_vhost_mem_table t = { .nregions = 1 };

	t.regions[0] = (struct vd_vhost_mem_region){ 0, 2 << 20, (uintptr_t)o->ff.mem[0].host, 0 };
	assert_int_equal(vd_ff_send(&o->ff, VD_VHOST_REQ_SET_MEM_TABLE, 0, &t, 8 + 32, &o->ff.mem[0].fd, 1), 0);
	vd_ff_pump(&o->ff);
	expect_broken(o, "SET_MEM_TABLE: region 0: memory region (offset 0x0 size 0x200000) is larger "
			 "than its file (0x100000 bytes)");
}

static void m_overlapping_regions(struct owner *o)
{
	struct vd_vhost_mem_table t = { .nregions = 2 };
	int fds[2] = { o->ff.mem[0].fd, o->ff.mem[0].fd };

	t.regions[0] = (struct vd_vhost_mem_region){ 0, 1 << 19, 0x100000, 0 };
	t.regions[1] = (struct vd_vhost_mem_region){ 4096, 1 << 19, 0x900000, 0 };
	assert_int_equal(vd_ff_send(&o->ff, VD_VHOST_REQ_SET_MEM_TABLE, 0, &t, 8 + 64, fds, 2), 0);
	vd_ff_pump(&o->ff);
	expect_broken(o, "SET_MEM_TABLE: region 1: memory region at guest address 0x1000 overlaps another");
}

#define MALFORMED(name) \
	static void test_##name(void **state) { leak_checked(m_##name); }
MALFORMED(truncated_header_eof)
MALFORMED(split_message)
MALFORMED(oversized)
MALFORMED(bad_version)
MALFORMED(wrong_fd_count)
MALFORMED(missing_fd)
MALFORMED(too_many_fds)
MALFORMED(bad_size)
MALFORMED(unknown_request)
MALFORMED(bad_queue_index)
MALFORMED(bad_queue_size)
MALFORMED(unoffered_feature)
MALFORMED(ring_outside_memory)
MALFORMED(region_beyond_file)
MALFORMED(overlapping_regions)

/* ---- malformed rings ---- */

/* Publish a hand-made chain at descriptor @head and expect pop to fail it.
 * The element holds more buffers than the queue has descriptors, except
 * for the -E2BIG case. */
static void expect_bad_request(struct owner *o, uint16_t head, int rc, const char *why)
{
	struct vd_vhost_elem e;
	struct iovec iov[2 * QSIZE];
	uint32_t id, len;

	vd_ff_vq_publish(&o->ff, 0, head);
	vd_vhost_elem_init(&e, iov, rc == -E2BIG ? 4 : 2 * QSIZE);
	int got = vd_vhost_queue_pop(Q(o, 0), &e);

	assert_string_equal(vd_vhost_queue_error(Q(o, 0)), why);
	assert_int_equal(got, rc);
	assert_int_equal(e.head, head);
	/* The request is handed back empty, and the queue goes on. */
	assert_int_equal(vd_vhost_queue_inflight(Q(o, 0)), 0);
	assert_int_equal(vd_vhost_queue_flush(Q(o, 0)) >= 0, 1);
	assert_int_equal(vd_ff_vq_used(&o->ff, 0, &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_false(vd_vhost_dev_broken(o->dev));
}

static void set_desc(struct owner *o, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vd_vring_desc *d = vd_ff_vq_desc(&o->ff, 0, i);

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static void test_bad_descriptors(void **state)
{
	struct owner *o = started_owner(RING_FEATURES);
	uint64_t buf = vd_ff_alloc(&o->ff, 4096, 64);
	uint64_t tbl = vd_ff_alloc(&o->ff, 64, 16);
	struct vd_vring_desc *t = G(o, tbl);

	set_desc(o, 0, 0x7fff00000000ull, 16, 0, 0);
	expect_bad_request(o, 0, -EBADMSG, "descriptor address outside guest memory");
	set_desc(o, 1, (1 << 20) - 8, 16, 0, 0);	/* runs off the end of RAM */
	expect_bad_request(o, 1, -EBADMSG, "descriptor address outside guest memory");
	set_desc(o, 2, 0xfffffffffffffff0ull, 0x100, 0, 0);
	expect_bad_request(o, 2, -EBADMSG, "descriptor address range wraps around");
	/* Loop: 3 -> 4 -> 3 */
	set_desc(o, 3, buf, 8, VD_VRING_DESC_F_NEXT, 4);
	set_desc(o, 4, buf, 8, VD_VRING_DESC_F_NEXT, 3);
	expect_bad_request(o, 3, -EBADMSG, "descriptor chain longer than its table (loop)");
	set_desc(o, 5, buf, 8, VD_VRING_DESC_F_NEXT, 999);
	expect_bad_request(o, 5, -EBADMSG, "descriptor next index out of range");
	set_desc(o, 6, buf, 8, VD_VRING_DESC_F_WRITE | VD_VRING_DESC_F_NEXT, 7);
	set_desc(o, 7, buf, 8, 0, 0);
	expect_bad_request(o, 6, -EBADMSG, "readable descriptor after a writable one");
	/* Nested indirect. */
	t[0] = (struct vd_vring_desc){ buf, 8, VD_VRING_DESC_F_NEXT, 1 };
	t[1] = (struct vd_vring_desc){ tbl, 32, VD_VRING_DESC_F_INDIRECT, 0 };
	set_desc(o, 8, tbl, 32, VD_VRING_DESC_F_INDIRECT, 0);
	expect_bad_request(o, 8, -EBADMSG, "nested indirect descriptor");
	set_desc(o, 9, tbl, 32, VD_VRING_DESC_F_INDIRECT | VD_VRING_DESC_F_NEXT, 10);
	expect_bad_request(o, 9, -EBADMSG, "indirect descriptor with the NEXT flag");
	set_desc(o, 10, tbl, 24, VD_VRING_DESC_F_INDIRECT, 0);
	expect_bad_request(o, 10, -EBADMSG, "indirect table length is not a multiple of 16");
	set_desc(o, 11, (1 << 20) - 16, 32, VD_VRING_DESC_F_INDIRECT, 0);
	expect_bad_request(o, 11, -EBADMSG, "indirect table outside guest memory or across regions");
	set_desc(o, 12, buf, 8, VD_VRING_DESC_F_NEXT, 13);
	set_desc(o, 13, tbl, 32, VD_VRING_DESC_F_INDIRECT, 0);
	expect_bad_request(o, 12, -EBADMSG, "indirect descriptor inside a chain");
	/* Indirect loop inside the table. */
	t[0] = (struct vd_vring_desc){ buf, 8, VD_VRING_DESC_F_NEXT, 1 };
	t[1] = (struct vd_vring_desc){ buf, 8, VD_VRING_DESC_F_NEXT, 0 };
	set_desc(o, 14, tbl, 32, VD_VRING_DESC_F_INDIRECT, 0);
	expect_bad_request(o, 14, -EBADMSG, "descriptor chain longer than its table (loop)");
	set_desc(o, 15, tbl, 16u * 2000, VD_VRING_DESC_F_INDIRECT, 0);
	expect_bad_request(o, 15, -EBADMSG, "indirect table too long");
	/* More buffers than the element holds (4). */
	for (uint16_t i = 16; i < 21; i++)
		set_desc(o, i, buf + i, 1, i < 20 ? VD_VRING_DESC_F_NEXT : 0, i + 1);
	expect_bad_request(o, 16, -E2BIG, "request has more buffers than the element can hold");
	/* And a good request still goes through. */
	set_desc(o, 30, buf, 8, VD_VRING_DESC_F_WRITE, 0);
	vd_ff_vq_publish(&o->ff, 0, 30);
	pop_push(o, 0, 1);
	free_owner(o);
}

static void test_indirect_not_negotiated(void **state)
{
	struct owner *o = started_owner(1ull << VD_VHOST_F_VERSION_1);
	uint64_t buf = vd_ff_alloc(&o->ff, 64, 16);

	set_desc(o, 0, buf, 16, VD_VRING_DESC_F_INDIRECT, 0);
	expect_bad_request(o, 0, -EBADMSG, "indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC");
	free_owner(o);
}

/* Lengths that only overflow 32 bits: two 2 GiB descriptors over one sparse region. */
static void test_length_overflow(void **state)
{
	struct owner *o = calloc(1, sizeof(*o));
	struct vd_vhost_params p = { .num_queues = NQ, .max_queue_size = 256, .config_size = 16 };
	int sv[2];

	assert_int_equal(vd_vhost_dev_new(&p, &ops, o, &o->dev), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vd_vhost_dev_attach(o->dev, sv[1]), 0);
	vd_ff_init(&o->ff, sv[0], NQ, pump, o->dev);
	assert_int_equal(vd_ff_add_region(&o->ff, 0, 3ull << 30, 0), 0);
	assert_int_equal(vd_ff_handshake(&o->ff, 12), 0);
	assert_int_equal(vd_ff_start(&o->ff, RING_FEATURES, QSIZE, NULL), 0);
	set_desc(o, 0, 1 << 20, 0x80000000u, VD_VRING_DESC_F_NEXT, 1);
	set_desc(o, 1, 1 << 20, 0x80000000u, VD_VRING_DESC_F_WRITE, 0);
	expect_bad_request(o, 0, -EBADMSG, "request longer than 4 GiB");
	free_owner(o);
}

static void ring_fault(uint64_t features, void (*corrupt)(struct owner *), const char *why)
{
	struct owner *o = started_owner(features);
	struct vd_vhost_elem e;
	struct iovec iov[4];

	corrupt(o);
	vd_vhost_elem_init(&e, iov, 4);
	assert_int_equal(vd_vhost_queue_pop(Q(o, 0), &e), -EIO);
	assert_true(vd_vhost_dev_broken(o->dev));
	assert_string_equal(vd_vhost_dev_error(o->dev), why);
	assert_string_equal(o->broken, why);
	assert_int_equal(o->broken_calls, 1);
	/* Every later pop refuses, and dispatch tells the daemon to detach. */
	assert_int_equal(vd_vhost_queue_pop(Q(o, 0), &e), -EIO);
	assert_int_equal(vd_vhost_dispatch(o->dev), -EIO);
	vd_vhost_dev_detach(o->dev);
	for (unsigned q = 0; q < NQ; q++)
		assert_int_equal(o->last_why[q], VD_VHOST_STOP_RESET);
	free_owner(o);
}

static void c_avail_jump(struct owner *o)
{
	vd_ff_vq_set_avail_idx(&o->ff, 0, QSIZE + 1);
}

static void c_head_range(struct owner *o)
{
	vd_ff_vq_publish(&o->ff, 0, 200);
}

static void c_head_twice(struct owner *o)
{
	struct vd_vhost_elem e;
	struct iovec iov[4];

	add_simple(o, 0);
	vd_ff_vq_publish(&o->ff, 0, 0);
	vd_vhost_elem_init(&e, iov, 4);
	assert_int_equal(vd_vhost_queue_pop(Q(o, 0), &e), 1);
}

static void test_avail_idx_jump(void **state)
{
	ring_fault(RING_FEATURES, c_avail_jump, "available index moved more than the queue size");
	ring_fault(RING_FEATURES | (1ull << VD_VHOST_F_EVENT_IDX), c_avail_jump,
		   "available index moved more than the queue size");
}

static void test_avail_head_out_of_range(void **state)
{
	ring_fault(RING_FEATURES, c_head_range, "available ring entry out of range");
}

static void test_avail_head_twice(void **state)
{
	ring_fault(RING_FEATURES, c_head_twice, "descriptor head made available twice");
}

static void test_params_and_ops_checked(void **state)
{
	struct vd_vhost_dev *dev = (void *)1;
	struct vd_vhost_params p = { .num_queues = NQ, .max_queue_size = 100, .config_size = 16 };
	struct vd_vhost_ops bad = ops;

	assert_int_equal(vd_vhost_dev_new(&p, &ops, NULL, &dev), -EINVAL);
	assert_null(dev);
	p.max_queue_size = 256;
	p.config_size = 300;
	assert_int_equal(vd_vhost_dev_new(&p, &ops, NULL, &dev), -EINVAL);
	p.config_size = 16;
	bad.queue_stop = NULL;
	assert_int_equal(vd_vhost_dev_new(&p, &bad, NULL, &dev), -EINVAL);
	assert_int_equal(vd_vhost_dev_new(&p, &ops, NULL, &dev), 0);
	assert_int_equal(vd_vhost_dev_attach(dev, 0x7fff), -EBADF);
	vd_vhost_dev_free(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_handshake_mem_slots),
		cmocka_unit_test(test_get_config_sizes),
		cmocka_unit_test(test_round_trip_direct),
		cmocka_unit_test(test_round_trip_indirect),
		cmocka_unit_test(test_long_indirect_chain),
		cmocka_unit_test(test_buffer_split_over_regions),
		cmocka_unit_test(test_event_idx),
		cmocka_unit_test(test_no_interrupt_flag),
		cmocka_unit_test(test_call_fd_replaced_while_running),
		cmocka_unit_test(test_get_vring_base),
		cmocka_unit_test(test_reset_device),
		cmocka_unit_test(test_reconnect_no_leaks),
		cmocka_unit_test(test_threaded_data_path),
		cmocka_unit_test(test_truncated_header_eof),
		cmocka_unit_test(test_split_message),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_wrong_fd_count),
		cmocka_unit_test(test_missing_fd),
		cmocka_unit_test(test_too_many_fds),
		cmocka_unit_test(test_bad_size),
		cmocka_unit_test(test_unknown_request),
		cmocka_unit_test(test_bad_queue_index),
		cmocka_unit_test(test_bad_queue_size),
		cmocka_unit_test(test_unoffered_feature),
		cmocka_unit_test(test_ring_outside_memory),
		cmocka_unit_test(test_region_beyond_file),
		cmocka_unit_test(test_overlapping_regions),
		cmocka_unit_test(test_bad_descriptors),
		cmocka_unit_test(test_indirect_not_negotiated),
		cmocka_unit_test(test_length_overflow),
		cmocka_unit_test(test_avail_idx_jump),
		cmocka_unit_test(test_avail_head_out_of_range),
		cmocka_unit_test(test_avail_head_twice),
		cmocka_unit_test(test_params_and_ops_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
