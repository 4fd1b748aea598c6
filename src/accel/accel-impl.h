/* accel/accel-impl.h - the split between the public vd_accel_* calls and their backends.
 *
 * Every session is a struct vd_accel whose first (and only public) member is
 * the backend's ops table; a backend embeds struct vd_accel at the start of
 * its own session object. src/accel/accel.c checks the arguments every
 * backend would check the same way (NULL pointers) and then dispatches:
 *
 *   target == NULL -> the in-process engine (src/accel/engine.c,
 *                     accel_engine_open/accel_engine_list);
 *   target != NULL -> the socket client (src/accel/client.c, written with
 *                     the daemon; accel_client_open/accel_client_list).
 *                     Built when src/accel/client.c exists; until then a
 *                     target is refused with -EPROTONOSUPPORT.
 *
 * The daemon serves a client's session with the public API itself
 * (vd_accel_open(NULL, ...)): the fds CREATE returns are the caller's own
 * dup()s, so the server passes them on with SCM_RIGHTS and closes them, and
 * the session fd (vd_accel_fd) goes into the server's poll/epoll set. No
 * other engine internals are needed by the server.
 *
 * Contract for every op (the conformance suite tests/unit/test_accel_suite.c
 * checks it against any target):
 *  - returns 0 or a negative errno exactly as documented in docs/accel.md;
 *  - on failure, leaves a one-line human-readable reason retrievable with
 *    the last_error op (the client transports the server's text);
 *  - never blocks on a conversion (only wait does, up to its timeout);
 *  - may be called from several threads at once on the same session.
 */
#ifndef VD_ACCEL_IMPL_H
#define VD_ACCEL_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <virtdsp/accel.h>

struct accel_backend_ops {
	/** Stop and free every task, release the session (and the struct). */
	void (*close)(struct vd_accel *s);
	int (*get_caps)(struct vd_accel *s, struct vd_accel_caps *caps);
	int (*get_codec_caps)(struct vd_accel *s, uint32_t codec, struct vd_accel_codec_caps *caps);
	int (*set_params)(struct vd_accel *s, const struct vd_accel_params *p);
	int (*get_params)(struct vd_accel *s, struct vd_accel_params *p);
	enum vd_accel_session_state (*state)(struct vd_accel *s);
	int (*task_create)(struct vd_accel *s, struct vd_accel_task *t);
	int (*task_start)(struct vd_accel *s, struct vd_accel_task *t);
	int (*task_stop)(struct vd_accel *s, uint64_t seqno);
	int (*task_free)(struct vd_accel *s, uint64_t seqno);
	int (*task_status)(struct vd_accel *s, struct vd_accel_task_status *st);
	/** The pollable fd (owned by the session). */
	int (*fd)(struct vd_accel *s);
	/** Optional: NULL means accel.c polls the fd itself. */
	int (*wait)(struct vd_accel *s, short events, int timeout_ms);
	int (*reconfigure)(struct vd_accel *s, const struct vd_accel_params *p);
	int (*set_adjust)(struct vd_accel *s, double adjust);
	/** Optional (NULL: -EOPNOTSUPP). */
	int (*get_metadata)(struct vd_accel *s, uint64_t seqno, struct vd_accel_metadata *md);
	/** Copy the reason of the last failed call on @s ("" if none) into @buf. */
	void (*last_error)(struct vd_accel *s, char *buf, size_t size);
};

struct vd_accel {
	const struct accel_backend_ops *ops;
};

/* The in-process engine (src/accel/engine.c). */
int accel_engine_list(struct vd_accel_caps *caps, uint32_t max);
int accel_engine_open(const char *name, struct vd_accel **s);
/*
 * The session's status page (docs/protocol.md, protocol version 2): from
 * the first call on, the engine mirrors every task's status into it.
 * Returns a new descriptor the caller owns (a memfd sealed against
 * resizing), -EOPNOTSUPP for a session that is not the engine's, or
 * another -errno.
 */
int accel_engine_status_page(struct vd_accel *s);
/*
 * The session's submission ring (docs/protocol.md, "Submission ring"):
 * creates the status page if needed, the ring and its two eventfds, and
 * starts the worker that consumes it. @fds gets new descriptors the caller
 * owns: the ring memfd, the kick eventfd, the notify eventfd. -EBUSY when
 * the session has one already, -EOPNOTSUPP for a session not the engine's.
 * @activity_fd (an eventfd the caller keeps open while the session lives,
 * or -1): the worker writes it when it consumes STARTs while armed, then
 * disarms; STARTs through the ring never pass the daemon's loop, and this
 * is how it learns of them (power management) without a write per task.
 */
int accel_engine_ring_attach(struct vd_accel *s, int fds[3], int activity_fd);
/* Arm the activity signal again (after the caller has seen the session idle). */
void accel_engine_ring_arm(struct vd_accel *s);
/*
 * A task's status page entry, fixed from CREATE to FREE (-EINVAL: no such
 * task), and the seqno of the task in entry @slot now (0: none). The
 * daemon keeps its per-task records by entry: a START through the ring
 * gives a reused task a new seqno without the daemon seeing it.
 */
int accel_engine_task_slot(struct vd_accel *s, uint64_t seqno);
uint64_t accel_engine_slot_seqno(struct vd_accel *s, unsigned slot);
/*
 * Consume every ring entry published so far (a request that follows them
 * must see them), and with @exact 0 or 1 stop or start keeping the poll
 * fd's readiness exact (-1: leave it). A no-op without a ring.
 */
int accel_engine_ring_sync(struct vd_accel *s, int exact);

/* The socket client (src/accel/client.c), same contract as vd_accel_list/open. */
int accel_client_list(const char *target, struct vd_accel_caps *caps, uint32_t max);
int accel_client_open(const char *target, const char *name, struct vd_accel **s);

#endif
