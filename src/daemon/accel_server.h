/* daemon/accel_server.h - the task-session server of `virtdsp serve`: the
 * unix socket of docs/protocol.md, its connections, per-client limits, and
 * the in-process accel sessions that serve them. Runs on a daemon loop. */
#ifndef VD_DAEMON_ACCEL_SERVER_H
#define VD_DAEMON_ACCEL_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/loop.h"

struct vd_accel_server;

struct vd_accel_server_limits {
	uint32_t max_sessions;		/**< per client (peer process) */
	uint32_t max_tasks;		/**< per client, over its sessions */
	uint64_t max_memory;		/**< per client, bytes of task buffers */
	uint32_t max_connections;	/**< all clients together */
};

struct vd_accel_server_stats {
	uint32_t connections;
	uint32_t clients;
	uint32_t sessions;
	uint32_t tasks;
	uint64_t memory;
	uint64_t disconnects_malformed;	/**< connections dropped for a protocol violation */
	uint64_t requests;		/**< well-formed requests handled (tests: which calls cost a message) */
};

/** One log line (no newline); called on the loop's thread. */
typedef void (*vd_accel_server_log_fn)(void *data, const char *line);

/** The documented defaults (docs/protocol.md). */
void vd_accel_server_default_limits(struct vd_accel_server_limits *lim);

/**
 * vd_accel_default_socket_path() - $XDG_RUNTIME_DIR/virtdsp/virtdsp.sock, or
 * /tmp/virtdsp-$UID/virtdsp.sock. Returns 0 or -ENAMETOOLONG.
 */
int vd_accel_default_socket_path(char *buf, size_t size);

/**
 * vd_accel_server_new() - listen on @path and serve on @loop.
 * Creates the socket's directory (mode 0700) if missing and replaces a stale
 * socket; fails with -EADDRINUSE if a daemon answers on @path. @log may be
 * NULL. Errors are also described in @err (if not NULL).
 */
int vd_accel_server_new(struct vd_loop *loop, const char *path,
			const struct vd_accel_server_limits *lim,
			vd_accel_server_log_fn log, void *log_data,
			struct vd_accel_server **out, char *err, size_t errsz);
/** Drop every connection (freeing their sessions), stop listening, remove the socket. */
void vd_accel_server_free(struct vd_accel_server *srv);
struct vd_power;
/**
 * vd_accel_server_set_power() - count sessions with an ACTIVE task as
 * VD_POWER_USER_TASK users (docs/serve.md, "Power"), checked at each of their
 * requests and every 50 ms while they count. Once, before the first
 * connection (-EBUSY otherwise); @power must outlive the server. 0 or -errno.
 */
int vd_accel_server_set_power(struct vd_accel_server *srv, struct vd_power *power);
void vd_accel_server_get_stats(const struct vd_accel_server *srv, struct vd_accel_server_stats *st);

#endif
