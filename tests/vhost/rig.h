/* tests/vhost/rig.h - a fake virtio-snd guest on the fake front-end, for tests that talk to the
 * daemon's guest side over its socket: connection and QEMU's set-up, control requests, and tx
 * periods of S16 stereo 48 kHz carrying a pattern unique per frame. Not thread-safe. */
#ifndef VD_TEST_RIG_H
#define VD_TEST_RIG_H

#include <stdint.h>

#include "fake_frontend.h"

struct vd_loop;

#define VD_RIG_QSIZE 64
#define VD_RIG_FEATURES ((1ull << VD_VHOST_F_VERSION_1) | (1ull << VD_VHOST_F_INDIRECT_DESC) | \
			 (1ull << VD_VHOST_F_EVENT_IDX))
#define VD_RIG_MEM_SIZE (16u << 20)
#define VD_RIG_PERIOD_FRAMES 480	/* 10 ms of S16 stereo at 48 kHz */
#define VD_RIG_PERIOD_BYTES (VD_RIG_PERIOD_FRAMES * 4)

struct vd_rig_guest {
	struct vd_ff ff;
	uint64_t req, resp;			/* control request/response areas */
	uint64_t area[VD_RIG_QSIZE];		/* one I/O message per descriptor slot */
	int (*wait)(void *arg, int ms);		/* run the daemon (in-process) or sleep */
	void *wait_arg;
	uint64_t next_frame;			/* of the played pattern */
};

uint32_t vd_rig_le32(const uint8_t *p);
void vd_rig_put32(uint8_t *p, uint32_t v);
/* Sample @c of frame @k of the played signal: unique per frame over 65536 frames (never silent
 * on both channels), so any loss or repeat shows. */
int16_t vd_rig_pattern(uint64_t k, unsigned c);

/* For vd_ff pumps and vd_rig_guest.wait: run a struct vd_loop's ready work / wait up to @ms. */
int vd_rig_pump(void *loop);
int vd_rig_wait(void *loop, int ms);

/* A connected socket to @path; the test fails if it cannot be. */
int vd_rig_connect(const char *path);

/* QEMU's set-up on @fd: memory, handshake, rings, DRIVER_OK, then the guest's buffers. Returns
 * 0, or -1 with the reason in g->ff.err. @g's wait and next_frame are left as they are. */
int vd_rig_guest_setup(struct vd_rig_guest *g, int fd, int (*pump)(void *), void *pump_arg);

/* Connect to the daemon on @loop at @sock, let it accept, and set up; failing the test (with
 * the daemon's @log) if that fails. */
void vd_rig_guest_open(struct vd_rig_guest *g, const char *sock, struct vd_loop *loop, const char *log);

/* One control request; the status, or 0 if no reply came within 5000 waits of 1 ms. */
uint32_t vd_rig_ctl(struct vd_rig_guest *g, const void *req, uint32_t len);
uint32_t vd_rig_pcm(struct vd_rig_guest *g, uint32_t code, uint32_t stream);
/* SET_PARAMS S16 stereo 48 kHz, 10 ms periods, 4 of them, then PREPARE: the first status
 * that is not OK, or OK. */
uint32_t vd_rig_prepare(struct vd_rig_guest *g, uint32_t stream);
/* Queue the next tx period of the pattern (header, payload, status) as Linux lays it out, the
 * status preset to a value no device writes. Returns the descriptor head, or -1. */
int vd_rig_tx(struct vd_rig_guest *g);

#endif
