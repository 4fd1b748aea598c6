/* daemon/guest.h - one guest of `virtdsp serve`: its vhost-user socket
 * (listening for QEMU for the daemon's whole life, so a guest can reconnect),
 * its virtio-snd device on the host graph, and the device's fds on the
 * daemon's event loop. A guest's failure or disconnection frees what it owned
 * and touches neither the host graph nor the other guests. */
#ifndef VD_DAEMON_GUEST_H
#define VD_DAEMON_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <virtdsp/graph.h>
#include <virtdsp/topology.h>

#include "daemon/loop.h"
#include "daemon/power.h"

struct vd_guest;

struct vd_guest_config {
	const char *name;		/**< for messages; unique per daemon */
	const char *socket;		/**< unix socket QEMU's chardev connects to */
	const char *topology;		/**< guest topology file; NULL: the built-in default */
	bool controls;			/**< VIRTIO_SND_F_CTLS: QEMU's controls=on must match */
	/** Each running stream is a VD_POWER_USER_STREAM from START to
	 * STOP/RELEASE/reset/disconnect; a START resumes a suspended engine.
	 * NULL: not counted. Must outlive the guest. */
	struct vd_power *power;
};

/** One log line (no newline); called on the loop's thread. */
typedef void (*vd_guest_log_fn)(void *data, const char *line);

/**
 * vd_guest_new() - create the guest's device on @host (prepared, live, and
 * outliving the guest) and listen on its socket. Guest topology errors go to
 * @diag; everything else is described in @err. Replaces a stale socket file;
 * -EADDRINUSE if something answers on it.
 */
int vd_guest_new(struct vd_loop *loop, struct vd_graph *host, const struct vd_guest_config *cfg,
		 vd_guest_log_fn log, void *log_data, struct vd_guest **out, struct vd_diag *diag,
		 char *err, size_t errsz);
/** Drop the connection (freeing everything the guest owns), stop listening, remove the socket. */
void vd_guest_free(struct vd_guest *g);

struct vd_guest_stats {
	bool connected;
	uint64_t connections;		/**< accepted and served */
	uint64_t refused;		/**< connections refused while one was being served */
	uint64_t faults;		/**< connections dropped because the device broke */
	unsigned streams;
};
void vd_guest_get_stats(const struct vd_guest *g, struct vd_guest_stats *st);
const char *vd_guest_name(const struct vd_guest *g);

/** Log the guest's state: connection, and each stream's state and counters. */
void vd_guest_report(struct vd_guest *g);

#endif
