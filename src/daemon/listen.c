/* daemon/listen.c - listening unix sockets, replacing stale socket files safely. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/listen.h"

int vd_listen_unix(const char *path, int type, int backlog, const char *who, int *out,
		   char *err, size_t errsz)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errsz, "socket path too long (%zu bytes, at most %zu): %s", strlen(path),
			 sizeof(sa.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errsz, "%s exists and is not a socket", path);
			return -EEXIST;
		}
		/* a live owner keeps its socket; a dead one's is replaced */
		int probe = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
		if (probe < 0) {
			r = -errno;
			snprintf(err, errsz, "socket: %s", strerror(errno));
			return r;
		}
		r = connect(probe, (struct sockaddr *)&sa, sizeof(sa));
		close(probe);
		if (r == 0) {
			snprintf(err, errsz, "another %s is listening on %s", who, path);
			return -EADDRINUSE;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errsz, "socket: %s", strerror(errno));
		return r;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0) {
		r = -errno;
		snprintf(err, errsz, "cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	*out = fd;
	return 0;
}
