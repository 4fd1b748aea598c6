/* daemon/listen.h - the daemon's listening unix sockets (task sessions, one per guest). */
#ifndef VD_DAEMON_LISTEN_H
#define VD_DAEMON_LISTEN_H

#include <stddef.h>

/**
 * vd_listen_unix() - listen on @path (non-blocking, close-on-exec).
 * @type: SOCK_SEQPACKET or SOCK_STREAM
 * @who: what would already be listening there, for the message ("daemon", "backend")
 *
 * A socket file whose owner answers is left alone (-EADDRINUSE); one nobody
 * answers on is a leftover of a dead process and is replaced. Any other file
 * there is refused (-EEXIST). Returns 0 or -errno with @err saying why.
 */
int vd_listen_unix(const char *path, int type, int backlog, const char *who, int *out,
		   char *err, size_t errsz);

#endif
