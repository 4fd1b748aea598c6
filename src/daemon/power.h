/* daemon/power.h - the daemon's power state: who is using the engine (guest
 * streams, task sessions, host clients), and the idle timer that suspends it
 * when nobody has for a configured time. Suspending parks the real-time
 * thread and closes host ALSA devices (through the hooks); the next user
 * resumes it. Runs on the daemon loop's thread only. docs/serve.md, "Power". */
#ifndef VD_DAEMON_POWER_H
#define VD_DAEMON_POWER_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/loop.h"

struct vd_power;

enum vd_power_state {
	VD_POWER_ACTIVE,	/**< at least one user */
	VD_POWER_IDLE,		/**< no user; the idle timer runs */
	VD_POWER_SUSPENDED,	/**< no user for the timeout: RT thread stopped, ALSA devices closed */
};

/** What counts as a user; counted separately so `virtdsp ctl` can show who keeps it awake. */
enum vd_power_user {
	VD_POWER_USER_STREAM,	/**< a guest stream from START to STOP/RELEASE */
	VD_POWER_USER_TASK,	/**< a task session with a task queued or running */
	VD_POWER_USER_CLIENT,	/**< a host client holding the engine awake */
	VD_POWER_USER_KINDS
};

struct vd_power_status {
	enum vd_power_state state;
	uint32_t users[VD_POWER_USER_KINDS];
	uint64_t idle_timeout_ms;	/**< 0: never suspend */
	uint64_t since_ns;		/**< CLOCK_MONOTONIC time of the last transition */
	uint64_t suspends, resumes;
	uint64_t last_resume_ns;	/**< how long the last resume took */
};

struct vd_power_hooks {
	/** Park the RT thread, close devices. 0 or -errno (stays active on failure). */
	int (*suspend)(void *data);
	/** Reopen devices, restart the RT thread. 0 or -errno. */
	int (*resume)(void *data);
	/** After every transition (for events and logs). May be NULL. */
	void (*changed)(void *data, const struct vd_power_status *st);
	void *data;
};

/** @idle_timeout_ms 0: never suspend. */
int vd_power_new(struct vd_loop *loop, uint64_t idle_timeout_ms, const struct vd_power_hooks *hooks,
		 struct vd_power **out);
void vd_power_free(struct vd_power *p);

/** A user starts: resumes first if suspended (synchronously). Returns 0 or the resume's -errno. */
int vd_power_get(struct vd_power *p, enum vd_power_user kind);
/** A user ends: the last one starts the idle timer. */
void vd_power_put(struct vd_power *p, enum vd_power_user kind);
void vd_power_status(const struct vd_power *p, struct vd_power_status *st);
const char *vd_power_state_name(enum vd_power_state s);

#endif
