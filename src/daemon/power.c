/* daemon/power.c - the daemon's power state machine (see power.h): user
 * counts per kind, the idle timer (a timerfd watched by the daemon loop),
 * and the suspend/resume transitions through the owner's hooks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon/power.h"

struct vd_power {
	struct vd_loop *loop;
	struct vd_power_hooks hooks;
	int tfd;
	struct vd_loop_watch *watch;
	struct vd_power_status st;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t total_users(const struct vd_power *p)
{
	uint32_t n = 0;

	for (int k = 0; k < VD_POWER_USER_KINDS; k++)
		n += p->st.users[k];
	return n;
}

/* Arming with 0 disarms: that is also what "never suspend" needs. */
static void arm(struct vd_power *p, uint64_t ms)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = (time_t)(ms / 1000);
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	/* cannot fail with a valid timerfd and a normalised value */
	(void)timerfd_settime(p->tfd, 0, &its, NULL);
}

static void enter(struct vd_power *p, enum vd_power_state s)
{
	p->st.state = s;
	p->st.since_ns = now_ns();
	if (p->hooks.changed)
		p->hooks.changed(p->hooks.data, &p->st);
}

static void on_timer(void *data, int fd, uint32_t events)
{
	struct vd_power *p = data;
	uint64_t expirations;

	(void)events;
	if (read(fd, &expirations, sizeof(expirations)) < 0)
		return;	/* EAGAIN: disarmed or re-armed since it fired */
	/* a user may have come and gone in the same round: only an idle engine suspends */
	if (p->st.state != VD_POWER_IDLE || total_users(p) > 0)
		return;
	if (p->hooks.suspend && p->hooks.suspend(p->hooks.data) < 0) {
		/* still running: try again after another timeout */
		arm(p, p->st.idle_timeout_ms);
		return;
	}
	p->st.suspends++;
	enter(p, VD_POWER_SUSPENDED);
}

int vd_power_new(struct vd_loop *loop, uint64_t idle_timeout_ms, const struct vd_power_hooks *hooks,
		 struct vd_power **out)
{
	struct vd_power *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->loop = loop;
	if (hooks)
		p->hooks = *hooks;
	p->st.idle_timeout_ms = idle_timeout_ms;
	p->st.state = VD_POWER_IDLE;
	p->st.since_ns = now_ns();
	p->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->tfd < 0) {
		r = -errno;
		goto err;
	}
	r = vd_loop_add_fd(loop, p->tfd, EPOLLIN, on_timer, p, &p->watch);
	if (r < 0)
		goto err;
	/* the engine starts running with nobody on it: that is idle already */
	arm(p, idle_timeout_ms);
	*out = p;
	return 0;
err:
	vd_power_free(p);
	return r;
}

void vd_power_free(struct vd_power *p)
{
	if (!p)
		return;
	vd_loop_remove(p->watch);
	if (p->tfd >= 0)
		close(p->tfd);
	free(p);
}

int vd_power_get(struct vd_power *p, enum vd_power_user kind)
{
	if ((unsigned)kind >= VD_POWER_USER_KINDS)
		return -EINVAL;
	if (p->st.state == VD_POWER_SUSPENDED) {
		uint64_t t0 = now_ns();
		int r = p->hooks.resume ? p->hooks.resume(p->hooks.data) : 0;

		if (r < 0)
			return r;
		p->st.last_resume_ns = now_ns() - t0;
		p->st.resumes++;
	}
	p->st.users[kind]++;
	if (p->st.state != VD_POWER_ACTIVE) {
		arm(p, 0);
		enter(p, VD_POWER_ACTIVE);
	}
	return 0;
}

void vd_power_put(struct vd_power *p, enum vd_power_user kind)
{
	/* an unmatched put is the caller's bug; never let a count wrap */
	if ((unsigned)kind >= VD_POWER_USER_KINDS || p->st.users[kind] == 0)
		return;
	p->st.users[kind]--;
	if (total_users(p) == 0 && p->st.state == VD_POWER_ACTIVE) {
		arm(p, p->st.idle_timeout_ms);
		enter(p, VD_POWER_IDLE);
	}
}

void vd_power_status(const struct vd_power *p, struct vd_power_status *st)
{
	*st = p->st;
}

const char *vd_power_state_name(enum vd_power_state s)
{
	switch (s) {
	case VD_POWER_ACTIVE:
		return "active";
	case VD_POWER_IDLE:
		return "idle";
	case VD_POWER_SUSPENDED:
		return "suspended";
	}
	return "unknown";
}
