/* daemon/loop.h - the daemon's event loop: epoll, fd watches with callbacks,
 * signals through signalfd, and a thread-safe quit.
 *
 * Everything that `virtdsp serve` listens to (the task-session socket, its
 * clients, and later the vhost-user guests' sockets and kick fds) is a watch
 * on one loop, run by one thread. Callbacks run on that thread, one at a
 * time, and may add, change or remove any watch (their own included) at any
 * point: a removed watch is never called again, even if it was already
 * reported ready in the same round.
 */
#ifndef VD_DAEMON_LOOP_H
#define VD_DAEMON_LOOP_H

#include <signal.h>
#include <stdint.h>

struct vd_loop;
struct vd_loop_watch;

/** @events are the EPOLL* bits reported (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR). */
typedef void (*vd_loop_fd_cb)(void *data, int fd, uint32_t events);
typedef void (*vd_loop_signal_cb)(void *data, int signo);

int vd_loop_new(struct vd_loop **out);
/** Frees the loop and any watch still registered (their fds are not closed). */
void vd_loop_free(struct vd_loop *l);

/**
 * vd_loop_add_fd() - call @cb whenever @fd is ready for @events
 * (level-triggered EPOLLIN/EPOLLOUT; EPOLLHUP and EPOLLERR are always
 * reported). The fd stays the caller's; remove the watch before closing it.
 * @w may be NULL when the watch is never changed or removed by hand.
 * Returns 0, -ENOMEM, or epoll_ctl's -errno (-EEXIST: already watched).
 */
int vd_loop_add_fd(struct vd_loop *l, int fd, uint32_t events, vd_loop_fd_cb cb, void *data,
		   struct vd_loop_watch **w);
/** Change the events of @w. 0 or -errno. */
int vd_loop_mod_fd(struct vd_loop_watch *w, uint32_t events);
/** Stop watching (safe from any callback of this loop); NULL is ignored. */
void vd_loop_remove(struct vd_loop_watch *w);

/**
 * vd_loop_add_signals() - deliver the signals in @set to @cb through a
 * signalfd. The signals are blocked in the calling thread; block them in
 * every thread (before creating any) so that none is delivered elsewhere.
 * One set per loop; -EBUSY if one is registered already.
 */
int vd_loop_add_signals(struct vd_loop *l, const sigset_t *set, vd_loop_signal_cb cb, void *data);

/** Run one round: wait up to @timeout_ms (-1 forever) and dispatch. Returns callbacks run or -errno. */
int vd_loop_iterate(struct vd_loop *l, int timeout_ms);
/** Dispatch until vd_loop_quit(). Returns 0, or -errno if waiting failed. */
int vd_loop_run(struct vd_loop *l);
/** Make vd_loop_run() return after the current round; callable from any thread or a callback. */
void vd_loop_quit(struct vd_loop *l);

#endif
