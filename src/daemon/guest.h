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
#include <sys/types.h>

#include <virtdsp/graph.h>
#include <virtdsp/topology.h>

#include "daemon/host.h"
#include "daemon/loop.h"
#include "daemon/state.h"
#include "virtio_snd/virtio_snd.h"
#include "daemon/power.h"

struct vd_guest;

struct vd_guest_config {
	const char *name;		/**< for messages; unique per daemon */
	const char *socket;		/**< unix socket QEMU's chardev connects to */
	const char *topology;		/**< guest topology file; NULL: the built-in default */
	bool controls;			/**< VIRTIO_SND_F_CTLS: QEMU's controls=on must match */
	/** Jacks follow this host's endpoints (docs/virtio-snd.md, "Jacks"); NULL: always connected. */
	struct vd_host *jacks;
	/** Control values are loaded from and saved to this state (by cfg->name); may be NULL. */
	struct vd_state *state;
	bool has_owner;			/**< @owner may change it through the control socket */
	uid_t owner;
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

/** The guest's device (streams, controls, jacks); replaced by vd_guest_set_topology(). */
struct vd_snd_dev *vd_guest_dev(struct vd_guest *g);
const char *vd_guest_socket(const struct vd_guest *g);
/** The owner's uid in *@uid, if the configuration gave one. */
bool vd_guest_owner(const struct vd_guest *g, uid_t *uid);
/** Where its topology came from: a path, "built-in" or "replaced"; and whether one is pending. */
const char *vd_guest_topology_source(const struct vd_guest *g, bool *pending);
bool vd_guest_controls_offered(const struct vd_guest *g);

/** What a guest reports to the daemon (the control socket's events). */
enum vd_guest_event_kind {
	VD_GUEST_EVENT_CONNECTED,
	VD_GUEST_EVENT_DISCONNECTED,	/**< @reason */
	VD_GUEST_EVENT_STREAM,		/**< stream @index went from @previous to @state */
	VD_GUEST_EVENT_CONTROL,		/**< control @index changed to @value (@by_guest) */
	VD_GUEST_EVENT_TOPOLOGY,	/**< replaced (@applied) or kept for the next connection */
	VD_GUEST_EVENT_JACK,		/**< jack @index is now @connected (it follows a host endpoint) */
};

struct vd_guest_event {
	enum vd_guest_event_kind kind;
	const char *reason;
	unsigned index;
	enum vd_snd_state state, previous;
	double value;
	bool by_guest;
	bool applied;
	bool connected;
};

typedef void (*vd_guest_event_fn)(void *data, struct vd_guest *g, const struct vd_guest_event *ev);
/** One hook per guest (the last set wins; NULL removes it); called on the loop's thread. */
void vd_guest_set_event_hook(struct vd_guest *g, vd_guest_event_fn fn, void *data);

/**
 * vd_guest_set_topology() - replace the guest's topology by @len bytes of
 * @text, checked as at start-up (errors to @diag, as "topology:LINE:COL").
 * Not connected: swapped at once (returns 0). Connected: -EBUSY, unless
 * @defer: kept and swapped in at the next connection (returns 1). Other
 * failures are described in @err.
 */
int vd_guest_set_topology(struct vd_guest *g, const char *text, size_t len, bool defer,
			  struct vd_diag *diag, char *err, size_t errsz);

/** Name of a stream state as shown to people and the control protocol ("running"). */
const char *vd_guest_state_name(enum vd_snd_state s);

/** Log the guest's state: connection, and each stream's state and counters. */
void vd_guest_report(struct vd_guest *g);

#endif
