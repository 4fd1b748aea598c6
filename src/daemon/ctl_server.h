/* daemon/ctl_server.h - the control socket of `virtdsp serve`: the protocol of
 * docs/protocol.md ("The control protocol") on the daemon loop, its clients,
 * the access model, and the events other parts of the daemon feed it. */
#ifndef VD_DAEMON_CTL_SERVER_H
#define VD_DAEMON_CTL_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/ctl_proto.h"
#include "daemon/guest.h"
#include "daemon/loop.h"
#include "daemon/power.h"

struct vd_ctl_server;

typedef void (*vd_ctl_server_log_fn)(void *data, const char *line);

struct vd_ctl_server_config {
	const char *path;
	unsigned mode;			/**< the socket file's mode; 0: 0600, or 0660 with @group */
	bool set_group;
	gid_t group;
	/** The daemon's guests (the array is the caller's and must outlive the server). */
	struct vd_guest *const *guests;
	unsigned n_guests;
	/** The power state; NULL: the daemon has no power management. */
	void (*power_status)(void *data, struct vd_power_status *st);
	void *power_data;
	const char *server;		/**< "virtdsp 0.1.0" for hello and status */
	vd_ctl_server_log_fn log;	/**< may be NULL */
	void *log_data;
};

/**
 * vd_ctl_server_new() - listen on cfg->path (creating its directory with
 * mode 0700 if missing, replacing a stale socket, refusing a live one with
 * -EADDRINUSE) and serve on @loop. Registers itself as every guest's event
 * hook. Errors are described in @err.
 */
int vd_ctl_server_new(struct vd_loop *loop, const struct vd_ctl_server_config *cfg,
		      struct vd_ctl_server **out, char *err, size_t errsz);
/** Disconnect every client, stop listening, remove the socket, unhook the guests. */
void vd_ctl_server_free(struct vd_ctl_server *srv);

/** $XDG_RUNTIME_DIR/virtdsp/ctl.sock or /tmp/virtdsp-$UID/ctl.sock. 0 or -ENAMETOOLONG. */
int vd_ctl_default_socket_path(char *buf, size_t size);

/** An event for the subscribers (docs/protocol.md, "Events"). */
struct vd_ctl_event {
	enum vd_ctl_event_kind kind;
	const char *guest;			/**< all but POWER */
	unsigned index;				/**< STREAM: stream; CONTROL: control id; JACK: jack */
	bool connected;				/**< GUEST, JACK */
	const char *reason;			/**< GUEST disconnected; may be NULL */
	enum vd_snd_state state, previous;	/**< STREAM */
	const char *name;			/**< STREAM, CONTROL: its name; may be NULL */
	double value;				/**< CONTROL */
	bool by_guest;				/**< CONTROL */
	bool applied;				/**< TOPOLOGY */
	const struct vd_power_status *power;	/**< POWER */
};

/**
 * vd_ctl_server_emit() - send @ev to every subscriber of its kind (loop
 * thread only; never blocks: a subscriber with 1 MiB unread is dropped).
 * @srv may be NULL (no control socket): nothing happens.
 */
void vd_ctl_server_emit(struct vd_ctl_server *srv, const struct vd_ctl_event *ev);

struct vd_ctl_server_stats {
	unsigned clients, subscribers;
	uint64_t accepted, requests, errors, dropped;	/**< dropped: disconnected for misbehaving */
};
void vd_ctl_server_get_stats(const struct vd_ctl_server *srv, struct vd_ctl_server_stats *st);

#endif
