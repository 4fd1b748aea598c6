/* cli/cmd_serve.c - `virtdsp serve`: the daemon. Owns the event loop and
 * puts the task-session server (and later the vhost-user guests) on it;
 * SIGINT/SIGTERM end it cleanly, freeing every client's sessions. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "daemon/accel_server.h"
#include "daemon/loop.h"

struct serve {
	struct vd_loop *loop;
	int quiet;
	double t0;
	int signo;
};

static void usage(FILE *f)
{
	char path[256];

	if (vd_accel_default_socket_path(path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), "(too long)");
	fprintf(f,
		"usage: virtdsp serve [options]\n"
		"\n"
		"Run the virtdsp daemon: serve task-offload sessions (the accel API of\n"
		"<virtdsp/accel.h>) to other processes over a unix socket, with the\n"
		"protocol of docs/protocol.md. Clients use vd_accel_open(SOCKET, ...), or\n"
		"`virtdsp convert --socket SOCKET`. SIGINT or SIGTERM stop the daemon\n"
		"after freeing every client's sessions.\n"
		"\n"
		"options:\n"
		"  -s, --socket PATH          listen on PATH (default %s)\n"
		"      --max-sessions N       sessions one client process may hold (default 16)\n"
		"      --max-tasks N          tasks one client may hold over its sessions (default 256)\n"
		"      --max-memory BYTES     task buffer memory per client, suffix k/M/G (default 1G)\n"
		"      --max-connections N    connections of all clients together (default 256)\n"
		"  -q, --quiet                no start and shutdown lines (refusals and errors are still logged)\n"
		"  -h, --help                 this text\n"
		"\n"
		"Exit status: 0 after a clean shutdown, 1 if serving failed, 2 on a usage error.\n",
		path);
}

static void on_log(void *data, const char *line)
{
	struct serve *sv = data;

	fprintf(stderr, "virtdsp serve [%9.3f] %s\n", cli_now() - sv->t0, line);
}

static void on_signal(void *data, int signo)
{
	struct serve *sv = data;

	sv->signo = signo;
	vd_loop_quit(sv->loop);
}

static int parse_u32(const char *s, uint32_t min, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);

	if (errno || end == s || *end || s[0] == '-' || v < min || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_bytes(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned shift = 0;

	if (errno || end == s || s[0] == '-')
		return -EINVAL;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: return -EINVAL;
	}
	if (*end || v == 0 || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "max-sessions", required_argument, NULL, 'S' },
		{ "max-tasks", required_argument, NULL, 'T' },
		{ "max-memory", required_argument, NULL, 'M' },
		{ "max-connections", required_argument, NULL, 'C' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vd_accel_server_limits lim;
	struct serve sv = { .t0 = cli_now() };
	struct vd_accel_server *srv = NULL;
	char path[256], err[256];
	const char *socket_path = NULL;
	sigset_t set;
	int c, r, status = 1;

	vd_accel_server_default_limits(&lim);
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:qh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			socket_path = optarg;
			break;
		case 'S':
		case 'T':
		case 'C': {
			uint32_t v;
			if (parse_u32(optarg, 1, &v) < 0) {
				fprintf(stderr, "virtdsp serve: --%s wants a positive integer, not '%s'\n",
					c == 'S' ? "max-sessions" : c == 'T' ? "max-tasks" : "max-connections",
					optarg);
				return 2;
			}
			*(c == 'S' ? &lim.max_sessions : c == 'T' ? &lim.max_tasks : &lim.max_connections) = v;
			break;
		}
		case 'M':
			if (parse_bytes(optarg, &lim.max_memory) < 0) {
				fprintf(stderr, "virtdsp serve: --max-memory wants bytes (e.g. 512M), not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'q':
			sv.quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "virtdsp serve: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!socket_path) {
		if (vd_accel_default_socket_path(path, sizeof(path)) < 0) {
			fprintf(stderr, "virtdsp serve: the default socket path is too long; use --socket\n");
			return 2;
		}
		socket_path = path;
	}

	/* blocked before any thread exists (the engine's workers inherit the
	 * mask), so only the loop's signalfd ever sees them */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	r = vd_loop_new(&sv.loop);
	if (r < 0) {
		fprintf(stderr, "virtdsp serve: event loop: %s\n", strerror(-r));
		return 1;
	}
	r = vd_loop_add_signals(sv.loop, &set, on_signal, &sv);
	if (r < 0) {
		fprintf(stderr, "virtdsp serve: signals: %s\n", strerror(-r));
		goto out;
	}
	r = vd_accel_server_new(sv.loop, socket_path, &lim, on_log, &sv, &srv, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "virtdsp serve: %s\n", err);
		goto out;
	}
	if (!sv.quiet)
		fprintf(stderr, "virtdsp serve: listening on %s (per client: %" PRIu32 " sessions, %" PRIu32
			" tasks, %" PRIu64 " bytes)\n", socket_path, lim.max_sessions, lim.max_tasks,
			lim.max_memory);
	r = vd_loop_run(sv.loop);
	if (r < 0) {
		fprintf(stderr, "virtdsp serve: event loop failed: %s\n", strerror(-r));
		goto out;
	}
	if (!sv.quiet) {
		struct vd_accel_server_stats st;
		vd_accel_server_get_stats(srv, &st);
		fprintf(stderr, "virtdsp serve: %s, shutting down (%u connections, %u sessions, %u tasks freed)\n",
			sv.signo == SIGINT ? "SIGINT" : "SIGTERM", st.connections, st.sessions, st.tasks);
	}
	status = 0;
out:
	vd_accel_server_free(srv);
	vd_loop_free(sv.loop);
	return status;
}
