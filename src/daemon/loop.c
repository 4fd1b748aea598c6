/* daemon/loop.c - the epoll event loop of `virtdsp serve` (see loop.h). */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "daemon/loop.h"

#define MAX_EVENTS 32

struct vd_loop_watch {
	struct vd_loop *loop;
	int fd;
	vd_loop_fd_cb cb;
	void *data;
	bool dead;
	struct vd_loop_watch *prev, *next;	/* live list, or the dead list */
};

struct vd_loop {
	int epfd;
	int quit_fd;			/* eventfd: vd_loop_quit() from any thread */
	atomic_bool quit;
	struct vd_loop_watch *watches;	/* live */
	struct vd_loop_watch *dead;	/* removed during a round, freed after it */
	int dispatching;
	struct vd_loop_watch *quit_watch;
	int sig_fd;
	vd_loop_signal_cb sig_cb;
	void *sig_data;
	struct vd_loop_watch *sig_watch;
};

static void on_quit_fd(void *data, int fd, uint32_t events)
{
	uint64_t v;

	(void)data;
	(void)events;
	/* the flag is what matters; the read only clears readiness */
	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: another round already drained it */
	}
}

int vd_loop_new(struct vd_loop **out)
{
	struct vd_loop *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	l->sig_fd = -1;
	l->quit_fd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		r = -errno;
		goto err;
	}
	l->quit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->quit_fd < 0) {
		r = -errno;
		goto err;
	}
	r = vd_loop_add_fd(l, l->quit_fd, EPOLLIN, on_quit_fd, l, &l->quit_watch);
	if (r < 0)
		goto err;
	*out = l;
	return 0;
err:
	vd_loop_free(l);
	return r;
}

static void free_list(struct vd_loop_watch *w)
{
	while (w) {
		struct vd_loop_watch *n = w->next;
		free(w);
		w = n;
	}
}

void vd_loop_free(struct vd_loop *l)
{
	if (!l)
		return;
	free_list(l->watches);
	free_list(l->dead);
	if (l->sig_fd >= 0)
		close(l->sig_fd);
	if (l->quit_fd >= 0)
		close(l->quit_fd);
	if (l->epfd >= 0)
		close(l->epfd);
	free(l);
}

int vd_loop_add_fd(struct vd_loop *l, int fd, uint32_t events, vd_loop_fd_cb cb, void *data,
		   struct vd_loop_watch **out)
{
	struct vd_loop_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->loop = l;
	w->fd = fd;
	w->cb = cb;
	w->data = data;
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;
		free(w);
		return r;
	}
	w->next = l->watches;
	if (l->watches)
		l->watches->prev = w;
	l->watches = w;
	if (out)
		*out = w;
	return 0;
}

int vd_loop_mod_fd(struct vd_loop_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (w->dead)
		return -ENOENT;
	return epoll_ctl(w->loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0 ? -errno : 0;
}

void vd_loop_remove(struct vd_loop_watch *w)
{
	if (!w || w->dead)
		return;
	struct vd_loop *l = w->loop;

	/* the fd may already be closed by a careless owner; nothing to undo then */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	if (w->prev)
		w->prev->next = w->next;
	else
		l->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->dead = true;
	if (l->dispatching) {
		/* events of this round may still point at it: free after the round */
		w->prev = NULL;
		w->next = l->dead;
		l->dead = w;
	} else {
		free(w);
	}
}

static void on_signal_fd(void *data, int fd, uint32_t events)
{
	struct vd_loop *l = data;
	struct signalfd_siginfo si;

	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		l->sig_cb(l->sig_data, (int)si.ssi_signo);
}

int vd_loop_add_signals(struct vd_loop *l, const sigset_t *set, vd_loop_signal_cb cb, void *data)
{
	int r;

	if (l->sig_fd >= 0)
		return -EBUSY;
	r = pthread_sigmask(SIG_BLOCK, set, NULL);
	if (r != 0)
		return -r;
	l->sig_fd = signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (l->sig_fd < 0)
		return -errno;
	l->sig_cb = cb;
	l->sig_data = data;
	r = vd_loop_add_fd(l, l->sig_fd, EPOLLIN, on_signal_fd, l, &l->sig_watch);
	if (r < 0) {
		close(l->sig_fd);
		l->sig_fd = -1;
	}
	return r;
}

int vd_loop_iterate(struct vd_loop *l, int timeout_ms)
{
	struct epoll_event ev[MAX_EVENTS];
	int n = epoll_wait(l->epfd, ev, MAX_EVENTS, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->dispatching++;
	for (int i = 0; i < n; i++) {
		struct vd_loop_watch *w = ev[i].data.ptr;
		if (!w->dead)
			w->cb(w->data, w->fd, ev[i].events);
	}
	if (--l->dispatching == 0) {
		free_list(l->dead);
		l->dead = NULL;
	}
	return n;
}

int vd_loop_run(struct vd_loop *l)
{
	while (!atomic_load(&l->quit)) {
		int r = vd_loop_iterate(l, -1);
		if (r < 0)
			return r;
	}
	atomic_store(&l->quit, false);
	return 0;
}

void vd_loop_quit(struct vd_loop *l)
{
	uint64_t one = 1;

	atomic_store(&l->quit, true);
	if (write(l->quit_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the loop is being woken anyway */
	}
}
