/* cli/cmd_ctl.c - `virtdsp ctl`: the control protocol's command-line client
 * (docs/protocol.md, "The control protocol"; docs/man/virtdsp-ctl.1). One
 * connection per run: one request and its reply, or a subscription whose
 * events it prints until a count or a timeout. Human output by default,
 * the daemon's JSON lines with --json. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "daemon/ctl_server.h"

#define REPLY_TIMEOUT_MS 10000

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_NODAEMON = 3 };

struct conn {
	int fd;
	char buf[VD_CTL_MAX_LINE];
	size_t len;
	bool json;
};

static void usage(FILE *f)
{
	char path[256];

	if (vd_ctl_default_socket_path(path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), "(too long)");
	fprintf(f,
		"usage: virtdsp ctl [--socket PATH] [--json] COMMAND [ARGS]\n"
		"\n"
		"Ask a running `virtdsp serve` about its guests, change their controls and\n"
		"topologies, and follow its events, through its control socket.\n"
		"\n"
		"commands:\n"
		"  status                      the daemon: version, uptime, guests, clients, power\n"
		"  guests                      every guest: connection, streams, controls, owner\n"
		"  streams [GUEST]             streams: state, format, rate, period, latency, counters\n"
		"  nodes GUEST                 the guest's pipelines and nodes\n"
		"  controls GUEST              its controls: type, range, value\n"
		"  get GUEST CONTROL           one control (by name or id)\n"
		"  set GUEST CONTROL VALUE     set it; VALUE in the control's units (-12dB, on/off,\n"
		"                              an item name or index)\n"
		"  jacks GUEST                 its jacks and whether they are connected\n"
		"  topology [--defer] GUEST FILE\n"
		"                              replace the guest's topology (while it is not\n"
		"                              connected; --defer: at its next connection)\n"
		"  power                       power state and who keeps the engine awake\n"
		"  events [--count N] [--timeout SEC] [KIND...]\n"
		"                              print events as they come (kinds: guest, stream,\n"
		"                              control, jack, power, topology; default all)\n"
		"\n"
		"options:\n"
		"  -s, --socket PATH           the control socket (default %s)\n"
		"  -j, --json                  print the daemon's JSON replies and events, one per line\n"
		"  -h, --help                  this text\n"
		"\n"
		"Exit status: 0 done, 1 the daemon refused (the reason on stderr), 2 usage error,\n"
		"3 no daemon answers or its reply is broken; events: 1 if --count was not reached\n"
		"within --timeout.\n", path);
}

static int conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "virtdsp ctl: socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		if (e == ENOENT || e == ECONNREFUSED)
			fprintf(stderr, "virtdsp ctl: no daemon answers on %s (%s): is `virtdsp serve` running? "
				"(--socket PATH)\n", path, strerror(e));
		else
			fprintf(stderr, "virtdsp ctl: cannot connect to %s: %s\n", path, strerror(e));
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return -e;
	}
	return 0;
}

static int conn_send(struct conn *c, struct json_object *req)
{
	size_t n;
	const char *s = json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);

	while (n > 0) {
		ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "virtdsp ctl: cannot send the request: %s\n", strerror(errno));
			return -errno;
		}
		s += w;
		n -= (size_t)w;
	}
	if (send(c->fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		fprintf(stderr, "virtdsp ctl: cannot send the request: %s\n", strerror(errno));
		return -EIO;
	}
	return 0;
}

/* The next line as a JSON object: 1, 0 on timeout, -errno on failure. *@raw holds the line. */
static int conn_read(struct conn *c, int timeout_ms, struct json_object **out, char **raw)
{
	double deadline = cli_now() + timeout_ms / 1000.0;

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);

		if (nl) {
			size_t n = (size_t)(nl - c->buf);

			*nl = '\0';
			*raw = strdup(c->buf);
			*out = json_tokener_parse(c->buf);
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			if (!*out || !*raw || !json_object_is_type(*out, json_type_object)) {
				json_object_put(*out);
				free(*raw);
				fprintf(stderr, "virtdsp ctl: the daemon's reply is not a JSON object\n");
				return -EPROTO;
			}
			return 1;
		}
		if (c->len == sizeof(c->buf)) {
			fprintf(stderr, "virtdsp ctl: the daemon's reply is too long\n");
			return -EPROTO;
		}
		int left = timeout_ms < 0 ? -1 : (int)((deadline - cli_now()) * 1000);
		struct pollfd p = { .fd = c->fd, .events = POLLIN };

		if (timeout_ms >= 0 && left <= 0)
			return 0;
		int r = poll(&p, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return 0;
		ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "virtdsp ctl: the daemon closed the connection%s%s\n", n < 0 ? ": " : "",
				n < 0 ? strerror(errno) : "");
			return -ECONNRESET;
		}
		c->len += (size_t)n;
	}
}

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "-";
}

static double num(struct json_object *o, const char *key)
{
	return json_object_get_double(member(o, key));
}

static long long integer(struct json_object *o, const char *key)
{
	return (long long)json_object_get_int64(member(o, key));
}

static bool boolean(struct json_object *o, const char *key)
{
	return json_object_get_boolean(member(o, key));
}

/* One request: its reply's result (owned by *@reply), or the exit status. */
static int call(struct conn *c, struct json_object *req, struct json_object **reply, struct json_object **result)
{
	char *raw = NULL;
	int r;

	*reply = NULL;
	if (conn_send(c, req) < 0)
		return EXIT_NODAEMON;
	for (;;) {
		r = conn_read(c, REPLY_TIMEOUT_MS, reply, &raw);
		if (r == 0) {
			fprintf(stderr, "virtdsp ctl: no reply within %d s\n", REPLY_TIMEOUT_MS / 1000);
			return EXIT_NODAEMON;
		}
		if (r < 0)
			return EXIT_NODAEMON;
		if (member(*reply, "ok"))
			break;
		json_object_put(*reply);	/* an event line: not ours */
		free(raw);
	}
	if (c->json)
		printf("%s\n", raw);
	free(raw);
	if (!boolean(*reply, "ok")) {
		struct json_object *e = member(*reply, "error");

		fprintf(stderr, "virtdsp ctl: %s: %s\n", str(e, "code"), str(e, "message"));
		return EXIT_REFUSED;
	}
	*result = member(*reply, "result");
	return EXIT_OK;
}

/* ---- human output ---- */

static void print_power(struct json_object *p)
{
	struct json_object *u = member(p, "users");

	if (!p || !boolean(p, "managed")) {
		printf("power: not managed (the engine never suspends)\n");
		return;
	}
	printf("power: %s for %.1f s (users: %lld streams, %lld tasks, %lld clients; idle timeout %lld ms; "
	       "%lld suspends, %lld resumes, last resume %.3f ms)\n", str(p, "state"), num(p, "since_s"),
	       integer(u, "streams"), integer(u, "tasks"), integer(u, "clients"), integer(p, "idle_timeout_ms"),
	       integer(p, "suspends"), integer(p, "resumes"), num(p, "last_resume_ms"));
}

static void print_control(struct json_object *o)
{
	const char *type = str(o, "type");

	printf("%-3lld %-32s %-7s ", integer(o, "id"), str(o, "name"), type);
	if (strcmp(type, "switch") == 0) {
		printf("%-24s", "off/on");
	} else if (strcmp(type, "enum") == 0) {
		struct json_object *items = member(o, "items");
		char buf[256] = "";
		size_t n = 0;

		for (size_t i = 0; items && i < json_object_array_length(items) && n < sizeof(buf); i++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? "|" : "",
					      json_object_get_string(json_object_array_get_idx(items, i)));
		printf("%-24s", buf);
	} else {
		char range[64];

		snprintf(range, sizeof(range), "%g..%g %s", num(o, "min"), num(o, "max"), str(o, "unit"));
		printf("%-24s", range);
	}
	printf(" %s%s\n", str(o, "text"), boolean(o, "read_only") ? " (read-only for the guest)" : "");
}

static void print_human(const char *cmd, struct json_object *r)
{
	if (strcmp(cmd, "status") == 0) {
		printf("daemon: %s (protocol %lld), pid %lld, uid %lld, up %.1f s\n", str(r, "server"),
		       integer(r, "protocol"), integer(r, "pid"), integer(r, "uid"), num(r, "uptime_s"));
		printf("guests: %lld (%lld connected), streams running: %lld\n", integer(r, "guests"),
		       integer(r, "guests_connected"), integer(r, "streams_running"));
		printf("control clients: %lld (%lld subscribed to events)\n", integer(r, "clients"),
		       integer(r, "subscribers"));
		print_power(member(r, "power"));
	} else if (strcmp(cmd, "guests") == 0) {
		struct json_object *a = member(r, "guests");

		printf("%-16s %-12s %7s %8s %5s %11s %-6s %s\n", "GUEST", "STATE", "STREAMS", "CONTROLS", "JACKS",
		       "CONNECTIONS", "OWNER", "TOPOLOGY");
		for (size_t i = 0; a && i < json_object_array_length(a); i++) {
			struct json_object *g = json_object_array_get_idx(a, i);
			char owner[24] = "-";

			if (member(g, "owner"))
				snprintf(owner, sizeof(owner), "%lld", integer(g, "owner"));
			printf("%-16s %-12s %7lld %8lld %5lld %11lld %-6s %s%s\n", str(g, "name"),
			       boolean(g, "connected") ? "connected" : "waiting", integer(g, "streams"),
			       integer(g, "controls"), integer(g, "jacks"), integer(g, "connections"), owner,
			       str(g, "topology"), boolean(g, "pending_topology") ? " (new one pending)" : "");
		}
	} else if (strcmp(cmd, "streams") == 0) {
		struct json_object *a = member(r, "streams");

		printf("%-12s %3s %-10s %-8s %-10s %-6s %6s %2s %6s %6s %8s %10s %9s %5s\n", "GUEST", "#", "NAME",
		       "DIR", "STATE", "FORMAT", "RATE", "CH", "PERIOD", "BUFFER", "LATENCY", "COMPLETED",
		       "UNDERRUNS", "XRUNS");
		for (size_t i = 0; a && i < json_object_array_length(a); i++) {
			struct json_object *s = json_object_array_get_idx(a, i);
			char lat[24] = "-";

			if (member(s, "latency_ms"))
				snprintf(lat, sizeof(lat), "%.2fms", num(s, "latency_ms"));
			printf("%-12s %3lld %-10s %-8s %-10s %-6s %6lld %2lld %6lld %6lld %8s %10lld %9lld %5lld\n",
			       str(s, "guest"), integer(s, "index"), str(s, "name"), str(s, "direction"),
			       str(s, "state"), str(s, "format"), integer(s, "rate"), integer(s, "channels"),
			       integer(s, "period_frames"), integer(s, "buffer_frames"), lat, integer(s, "completed"),
			       integer(s, "underruns"), integer(s, "xruns"));
		}
	} else if (strcmp(cmd, "nodes") == 0) {
		struct json_object *pl = member(r, "pipelines"), *st = member(r, "streams");

		for (size_t i = 0; pl && i < json_object_array_length(pl); i++) {
			struct json_object *p = json_object_array_get_idx(pl, i), *nodes = member(p, "nodes");

			printf("pipeline %s:\n", str(p, "name"));
			for (size_t j = 0; nodes && j < json_object_array_length(nodes); j++) {
				struct json_object *n = json_object_array_get_idx(nodes, j);

				printf("  %-6s %-16s %s\n", str(n, "kind"), str(n, "name"), str(n, "type"));
			}
		}
		for (size_t i = 0; st && i < json_object_array_length(st); i++) {
			struct json_object *s = json_object_array_get_idx(st, i);

			printf("stream %lld (%s), %s:%s%s\n", integer(s, "index"), str(s, "name"), str(s, "state"),
			       member(s, "pipeline") ? "\n" : " no pipeline until PREPARE",
			       member(s, "pipeline") ? str(s, "pipeline") : "");
		}
	} else if (strcmp(cmd, "controls") == 0) {
		struct json_object *a = member(r, "controls");

		printf("%-3s %-32s %-7s %-24s %s\n", "ID", "NAME", "TYPE", "RANGE", "VALUE");
		for (size_t i = 0; a && i < json_object_array_length(a); i++)
			print_control(json_object_array_get_idx(a, i));
	} else if (strcmp(cmd, "get") == 0 || strcmp(cmd, "set") == 0) {
		printf("%s: %s = %s%s\n", str(r, "guest"), str(r, "name"), str(r, "text"),
		       member(r, "changed") && !boolean(r, "changed") ? " (unchanged)" : "");
	} else if (strcmp(cmd, "jacks") == 0) {
		struct json_object *a = member(r, "jacks");

		if (!a || json_object_array_length(a) == 0)
			printf("%s: no jacks\n", str(r, "guest"));
		for (size_t i = 0; a && i < json_object_array_length(a); i++) {
			struct json_object *j = json_object_array_get_idx(a, i);

			printf("jack %lld: %s\n", integer(j, "id"), boolean(j, "connected") ? "connected" : "disconnected");
		}
	} else if (strcmp(cmd, "topology") == 0) {
		printf(boolean(r, "applied") ? "%s: topology replaced\n"
		       : "%s: the new topology takes effect when the guest next connects\n", str(r, "guest"));
	} else if (strcmp(cmd, "power") == 0) {
		print_power(r);
	}
}

static void print_event(struct json_object *e)
{
	const char *kind = str(e, "event");

	printf("[%10.3f] ", num(e, "time"));
	if (strcmp(kind, "guest") == 0)
		printf("%s: %s%s%s\n", str(e, "guest"), boolean(e, "connected") ? "connected" : "disconnected",
		       member(e, "reason") ? ": " : "", member(e, "reason") ? str(e, "reason") : "");
	else if (strcmp(kind, "stream") == 0)
		printf("%s: stream %lld (%s) %s -> %s\n", str(e, "guest"), integer(e, "stream"), str(e, "name"),
		       str(e, "previous"), str(e, "state"));
	else if (strcmp(kind, "control") == 0)
		printf("%s: control '%s' = %g (by the %s)\n", str(e, "guest"), str(e, "control"), num(e, "value"),
		       str(e, "by"));
	else if (strcmp(kind, "jack") == 0)
		printf("%s: jack %lld %s\n", str(e, "guest"), integer(e, "jack"),
		       boolean(e, "connected") ? "connected" : "disconnected");
	else if (strcmp(kind, "power") == 0)
		printf("power: %s\n", str(e, "state"));
	else if (strcmp(kind, "topology") == 0)
		printf("%s: topology %s\n", str(e, "guest"), boolean(e, "applied") ? "replaced" :
		       "replacement pending (next connection)");
	else
		printf("%s event\n", kind);
}

/* ---- commands ---- */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!f) {
		fprintf(stderr, "virtdsp ctl: cannot open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = malloc(VD_CTL_MAX_TOPOLOGY + 2);
	n = buf ? fread(buf, 1, VD_CTL_MAX_TOPOLOGY + 1, f) : 0;
	if (buf && ferror(f)) {
		fprintf(stderr, "virtdsp ctl: cannot read %s: %s\n", path, strerror(errno));
		free(buf);
		buf = NULL;
	} else if (buf && n > VD_CTL_MAX_TOPOLOGY) {
		fprintf(stderr, "virtdsp ctl: %s is larger than %d bytes\n", path, VD_CTL_MAX_TOPOLOGY);
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

/* A command-line VALUE: numbers go as numbers, the rest as strings for the daemon to interpret. */
static struct json_object *value_arg(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end != s && *end == '\0' && isfinite(v))
		return vd_ctl_json_number(v);
	return json_object_new_string(s);
}

/* All digits: a control's id; anything else its name. */
static struct json_object *control_arg(const char *s)
{
	size_t n = strspn(s, "0123456789");

	if (n > 0 && n < 6 && s[n] == '\0')
		return json_object_new_int(atoi(s));
	return json_object_new_string(s);
}

static int cmd_events(struct conn *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct json_object *req = json_object_new_object(), *reply = NULL, *result, *kinds = NULL;
	long count = -1;
	double timeout = -1, deadline;
	long got = 0;
	int o, status;
	bool json = c->json;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+n:t:", opts, NULL)) != -1) {
		char *end;

		if (o == 'n' && (count = strtol(optarg, &end, 10)) > 0 && !*end)
			continue;
		if (o == 't' && (timeout = strtod(optarg, &end)) >= 0 && !*end && end != optarg)
			continue;
		fprintf(stderr, "virtdsp ctl events: --count wants a positive integer and --timeout seconds\n");
		json_object_put(req);
		return EXIT_USAGE;
	}
	json_object_object_add(req, "request", json_object_new_string("subscribe"));
	if (optind < argc) {
		kinds = json_object_new_array();
		for (int i = optind; i < argc; i++)
			json_object_array_add(kinds, json_object_new_string(argv[i]));
		json_object_object_add(req, "events", kinds);
	}
	c->json = false;	/* --json prints events, not the subscription's reply */
	status = call(c, req, &reply, &result);
	c->json = json;
	json_object_put(req);
	json_object_put(reply);
	if (status != EXIT_OK)
		return status;
	if (!c->json)
		fprintf(stderr, "virtdsp ctl: following events%s\n", count > 0 ? "" : " (until interrupted)");
	fflush(stdout);
	deadline = cli_now() + timeout;
	while (count < 0 || got < count) {
		struct json_object *e;
		char *raw;
		int left = timeout < 0 ? -1 : (int)((deadline - cli_now()) * 1000);
		int r = timeout >= 0 && left <= 0 ? 0 : conn_read(c, left, &e, &raw);

		if (r == 0)
			break;
		if (r < 0)
			return EXIT_NODAEMON;
		if (member(e, "event")) {
			if (c->json)
				printf("%s\n", raw);
			else
				print_event(e);
			fflush(stdout);
			got++;
		}
		json_object_put(e);
		free(raw);
	}
	if (count > 0 && got < count) {
		fprintf(stderr, "virtdsp ctl: %ld of %ld events before the timeout\n", got, count);
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

int cmd_ctl(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct { const char *name; int min, max; } cmds[] = {
		{ "status", 0, 0 }, { "guests", 0, 0 }, { "streams", 0, 1 }, { "nodes", 1, 1 },
		{ "controls", 1, 1 }, { "get", 2, 2 }, { "set", 3, 3 }, { "jacks", 1, 1 },
		{ "topology", 2, 2 }, { "power", 0, 0 },
	};
	struct conn *c = calloc(1, sizeof(*c));
	struct json_object *req = NULL, *reply = NULL, *result = NULL;
	char path[256];
	const char *sock = NULL, *cmd;
	bool defer = false;
	int o, status = EXIT_USAGE, nargs;
	size_t k;

	if (!c)
		return EXIT_NODAEMON;
	c->fd = -1;
	optind = 1;
	while ((o = getopt_long(argc, argv, "+s:jh", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			sock = optarg;
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			usage(stdout);
			status = EXIT_OK;
			goto out;
		default:
			usage(stderr);
			goto out;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "virtdsp ctl: no command\n");
		usage(stderr);
		goto out;
	}
	cmd = argv[optind];
	if (!sock) {
		if (vd_ctl_default_socket_path(path, sizeof(path)) < 0) {
			fprintf(stderr, "virtdsp ctl: the default socket path is too long; use --socket\n");
			goto out;
		}
		sock = path;
	}
	if (strcmp(cmd, "events") == 0) {
		if (conn_open(c, sock) < 0) {
			status = EXIT_NODAEMON;
			goto out;
		}
		status = cmd_events(c, argc - optind, argv + optind);
		goto out;
	}
	int first = optind + 1;
	if (strcmp(cmd, "topology") == 0 && first < argc && strcmp(argv[first], "--defer") == 0) {
		defer = true;
		first++;
	}
	nargs = argc - first;
	for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
		if (strcmp(cmd, cmds[k].name) == 0)
			break;
	if (k == sizeof(cmds) / sizeof(cmds[0])) {
		fprintf(stderr, "virtdsp ctl: unknown command '%s'\n", cmd);
		usage(stderr);
		goto out;
	}
	if (nargs < cmds[k].min || nargs > cmds[k].max) {
		fprintf(stderr, "virtdsp ctl %s: wrong number of arguments (see virtdsp ctl --help)\n", cmd);
		goto out;
	}
	req = json_object_new_object();
	json_object_object_add(req, "request", json_object_new_string(cmd));
	if (nargs >= 1)
		json_object_object_add(req, "guest", json_object_new_string(argv[first]));
	if (strcmp(cmd, "get") == 0 || strcmp(cmd, "set") == 0)
		json_object_object_add(req, "control", control_arg(argv[first + 1]));
	if (strcmp(cmd, "set") == 0)
		json_object_object_add(req, "value", value_arg(argv[first + 2]));
	if (strcmp(cmd, "topology") == 0) {
		size_t len;
		char *text = read_file(argv[first + 1], &len);

		if (!text) {
			status = EXIT_REFUSED;
			goto out;
		}
		json_object_object_add(req, "text", json_object_new_string_len(text, (int)len));
		free(text);
		if (defer)
			json_object_object_add(req, "defer", json_object_new_boolean(true));
	}
	if (conn_open(c, sock) < 0) {
		status = EXIT_NODAEMON;
		goto out;
	}
	status = call(c, req, &reply, &result);
	if (status == EXIT_OK && !c->json)
		print_human(cmd, result);
out:
	json_object_put(req);
	json_object_put(reply);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	fflush(stdout);
	return status;
}
