/* accel/accel.c - the public vd_accel_* calls: argument checks, then dispatch to a backend. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "accel/accel-config.h"
#include "accel/accel-impl.h"

#if !VD_ACCEL_HAVE_CLIENT
/* Until the socket client is built, a target cannot be reached. */
int accel_client_list(const char *target, struct vd_accel_caps *caps, uint32_t max)
{
	return -EPROTONOSUPPORT;
}

int accel_client_open(const char *target, const char *name, struct vd_accel **s)
{
	return -EPROTONOSUPPORT;
}
#endif

int vd_accel_list(const char *target, struct vd_accel_caps *caps, uint32_t max)
{
	if (max && !caps)
		return -EINVAL;
	return target ? accel_client_list(target, caps, max) : accel_engine_list(caps, max);
}

int vd_accel_open(const char *target, const char *name, struct vd_accel **s)
{
	if (!name || !s)
		return -EINVAL;
	*s = NULL;
	return target ? accel_client_open(target, name, s) : accel_engine_open(name, s);
}

void vd_accel_close(struct vd_accel *s)
{
	if (s)
		s->ops->close(s);
}

int vd_accel_get_caps(struct vd_accel *s, struct vd_accel_caps *caps)
{
	if (!s || !caps)
		return -EINVAL;
	return s->ops->get_caps(s, caps);
}

int vd_accel_get_codec_caps(struct vd_accel *s, uint32_t codec, struct vd_accel_codec_caps *caps)
{
	if (!s || !caps)
		return -EINVAL;
	return s->ops->get_codec_caps(s, codec, caps);
}

int vd_accel_set_params(struct vd_accel *s, const struct vd_accel_params *p)
{
	if (!s || !p)
		return -EINVAL;
	return s->ops->set_params(s, p);
}

int vd_accel_get_params(struct vd_accel *s, struct vd_accel_params *p)
{
	if (!s || !p)
		return -EINVAL;
	return s->ops->get_params(s, p);
}

enum vd_accel_session_state vd_accel_state(struct vd_accel *s)
{
	return s ? s->ops->state(s) : VD_ACCEL_STATE_OPEN;
}

int vd_accel_task_create(struct vd_accel *s, struct vd_accel_task *t)
{
	if (!s || !t)
		return -EINVAL;
	return s->ops->task_create(s, t);
}

int vd_accel_task_start(struct vd_accel *s, struct vd_accel_task *t)
{
	if (!s || !t)
		return -EINVAL;
	return s->ops->task_start(s, t);
}

int vd_accel_task_stop(struct vd_accel *s, uint64_t seqno)
{
	if (!s)
		return -EINVAL;
	return s->ops->task_stop(s, seqno);
}

int vd_accel_task_free(struct vd_accel *s, uint64_t seqno)
{
	if (!s)
		return -EINVAL;
	return s->ops->task_free(s, seqno);
}

int vd_accel_task_status(struct vd_accel *s, struct vd_accel_task_status *st)
{
	if (!s || !st)
		return -EINVAL;
	return s->ops->task_status(s, st);
}

int vd_accel_fd(struct vd_accel *s)
{
	if (!s)
		return -EINVAL;
	return s->ops->fd(s);
}

int vd_accel_wait(struct vd_accel *s, short events, int timeout_ms)
{
	struct pollfd p;
	int res;

	if (!s || !(events & (POLLIN | POLLOUT)))
		return -EINVAL;
	if (s->ops->wait)
		return s->ops->wait(s, events, timeout_ms);
	p.fd = s->ops->fd(s);
	p.events = events;
	if (p.fd < 0)
		return p.fd;
	do {
		res = poll(&p, 1, timeout_ms);
	} while (res < 0 && errno == EINTR);
	if (res < 0)
		return -errno;
	return res ? (p.revents & (events | POLLERR | POLLHUP)) : 0;
}

void vd_accel_last_error(struct vd_accel *s, char *buf, size_t size)
{
	if (!buf || !size)
		return;
	if (!s) {
		snprintf(buf, size, "no session");
		return;
	}
	if (s->ops->last_error)
		s->ops->last_error(s, buf, size);
	else
		buf[0] = 0;
}

int vd_accel_reconfigure(struct vd_accel *s, const struct vd_accel_params *p)
{
	if (!s || !p)
		return -EINVAL;
	return s->ops->reconfigure(s, p);
}

int vd_accel_set_adjust(struct vd_accel *s, double adjust)
{
	if (!s)
		return -EINVAL;
	return s->ops->set_adjust(s, adjust);
}

int vd_accel_get_metadata(struct vd_accel *s, uint64_t seqno, struct vd_accel_metadata *md)
{
	if (!s || !md)
		return -EINVAL;
	if (!s->ops->get_metadata)
		return -EOPNOTSUPP;
	return s->ops->get_metadata(s, seqno, md);
}
