/* cli/cmd_serve.c - `virtdsp serve`: the daemon. Owns the event loop and puts
 * on it the task-session server and, with guests, the host graph (run by the
 * real-time scheduler) and one vhost-user virtio-snd device per guest.
 * SIGINT/SIGTERM end it cleanly, freeing every client's and guest's
 * resources; SIGUSR1 logs the state of every guest. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "daemon/accel_server.h"
#include "daemon/ctl_server.h"
#include "daemon/guest.h"
#include "daemon/host.h"
#include "daemon/loop.h"
#include "daemon/power.h"
#include "daemon/state.h"
#include "virtio_snd/virtio_snd.h"

#define MAX_GUESTS 64
#define DEFAULT_IDLE_TIMEOUT_S 10	/* docs/serve.md, "Power" */

struct serve {
	struct vd_loop *loop;
	struct vd_host *host;
	struct vd_power *power;
	struct vd_ctl_server *ctl;	/* for power events; NULL without a control socket */
	struct vd_state *state;
	struct vd_guest *guests[MAX_GUESTS];
	unsigned n_guests;
	int quiet;
	double t0;
	int signo;
};

struct guest_arg {
	char *name;		/* one allocation: name, socket and topology point into it */
	const char *socket;
	const char *topology;
	bool controls;
	bool has_owner;
	uid_t owner;
};

static void usage(FILE *f)
{
	char path[256], ctl[256];

	if (vd_accel_default_socket_path(path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), "(too long)");
	if (vd_ctl_default_socket_path(ctl, sizeof(ctl)) < 0)
		snprintf(ctl, sizeof(ctl), "(too long)");
	fprintf(f,
		"usage: virtdsp serve [options]\n"
		"\n"
		"Run the virtdsp daemon. It serves:\n"
		"- QEMU guests (--guest): each gets a virtio-snd device over vhost-user\n"
		"  (QEMU's vhost-user-snd-pci) whose streams come from a guest topology and\n"
		"  run on the host graph's clock: the host topology, run live by the\n"
		"  real-time scheduler at its pipeline's period. Guests come, go and\n"
		"  reconnect while the host graph keeps running (docs/serve.md);\n"
		"- task-offload sessions (the accel API of <virtdsp/accel.h>) over a unix\n"
		"  socket, with the protocol of docs/protocol.md.\n"
		"SIGINT or SIGTERM stop the daemon after freeing everything; SIGUSR1 logs the\n"
		"state of every guest.\n"
		"\n"
		"guests and the host graph:\n"
		"  -g, --guest NAME=SOCKET[,topology=FILE][,controls][,owner=UID|USER]\n"
		"                             serve guest NAME on SOCKET (QEMU: -chardev\n"
		"                             socket,path=SOCKET); its streams from FILE (default:\n"
		"                             the built-in guest topology); owner may change it\n"
		"                             through the control socket; repeat for more guests\n"
		"      --controls             offer control elements to every guest (QEMU's\n"
		"                             controls=on must match)\n"
		"      --host-topology FILE   the host graph (default: the built-in one, which\n"
		"                             mixes the guests' playback into a WAV file and\n"
		"                             gives them a 440 Hz tone to capture)\n"
		"  -o, --output [NAME=]FILE   write host sink NAME (default: the built-in\n"
		"                             topology's \"out\", ./" VD_HOST_DEFAULT_OUTPUT ") to FILE\n"
		"  -i, --input NAME=FILE      read host source NAME from FILE\n"
		"      --capture-file FILE    built-in host topology: guests capture FILE, over\n"
		"                             and over, instead of the tone\n"
		"      --capture-once         play the capture file once, then silence\n"
		"      --rt-priority N        SCHED_FIFO priority of the processing thread, 0 for\n"
		"                             normal scheduling (default 10; falls back to normal\n"
		"                             when not permitted)\n"
		"      --idle-timeout SEC     suspend after SEC seconds without a running stream\n"
		"                             or task: the processing thread stops and ALSA\n"
		"                             devices close until the next START (default %d;\n"
		"                             0: never)\n"
		"      --state-file PATH      keep the guests' control values in PATH across\n"
		"                             reconnects and restarts (default:\n"
		"                             $XDG_STATE_HOME/virtdsp/state, or\n"
		"                             ~/.local/state/virtdsp/state; root:\n"
		"                             /var/lib/virtdsp/state)\n"
		"      --no-state             keep control values in memory only\n"
		"      --describe             print the host graph (formats, inserted converters)\n"
		"      --print-host-topology  print the built-in host topology and exit\n"
		"      --print-guest-topology print the built-in guest topology and exit\n"
		"\n"
		"task sessions:\n"
		"  -s, --socket PATH          listen on PATH (default %s)\n"
		"      --no-tasks             do not serve task sessions\n"
		"      --max-sessions N       sessions one client process may hold (default 16)\n"
		"      --max-tasks N          tasks one client may hold over its sessions (default 256)\n"
		"      --max-memory BYTES     task buffer memory per client, suffix k/M/G (default 1G)\n"
		"      --max-connections N    connections of all clients together (default 256)\n"
		"\n"
		"control socket (virtdsp ctl; docs/protocol.md):\n"
		"      --ctl-socket PATH      listen on PATH (default %s)\n"
		"      --no-ctl               no control socket\n"
		"      --ctl-mode MODE        the socket's mode, octal (default 0600, 0660 with\n"
		"                             --ctl-group); who may connect may read everything\n"
		"      --ctl-group GROUP      the socket's group (name or number)\n"
		"\n"
		"  -q, --quiet                no start and shutdown lines (connections, refusals\n"
		"                             and errors are still logged)\n"
		"  -h, --help                 this text\n"
		"\n"
		"Errors in topologies are reported as FILE:LINE:COLUMN: message.\n"
		"Exit status: 0 after a clean shutdown, 1 if serving failed, 2 on a usage or\n"
		"topology error.\n",
		DEFAULT_IDLE_TIMEOUT_S, path, ctl);
}

static void on_log(void *data, const char *line)
{
	struct serve *sv = data;

	fprintf(stderr, "virtdsp serve [%9.3f] %s\n", cli_now() - sv->t0, line);
}

static void on_power_changed(void *data, const struct vd_power_status *st)
{
	struct serve *sv = data;
	struct vd_ctl_event ev = { .kind = VD_CTL_EVENT_POWER, .power = st };
	char line[256];

	if (st->state == VD_POWER_SUSPENDED)
		snprintf(line, sizeof(line), "power: suspended after %.1f s idle (processing thread stopped, "
			 "ALSA devices closed)", st->idle_timeout_ms / 1e3);
	else if (st->state == VD_POWER_ACTIVE && st->resumes && st->since_ns)
		snprintf(line, sizeof(line), "power: active (%u streams, %u task sessions); last resume took "
			 "%.3f ms (resume %" PRIu64 ")", st->users[VD_POWER_USER_STREAM],
			 st->users[VD_POWER_USER_TASK], st->last_resume_ns / 1e6, st->resumes);
	else
		snprintf(line, sizeof(line), "power: %s (%u streams, %u task sessions)",
			 vd_power_state_name(st->state), st->users[VD_POWER_USER_STREAM],
			 st->users[VD_POWER_USER_TASK]);
	on_log(sv, line);
	vd_ctl_server_emit(sv->ctl, &ev);
}

static void power_status(void *data, struct vd_power_status *st)
{
	struct serve *sv = data;

	vd_power_status(sv->power, st);
}

static void print_diag(void *data, const struct vd_error *e)
{
	char buf[VD_ERROR_MSG_MAX + 256];

	(void)data;
	fprintf(stderr, "%s\n", vd_error_format(e, buf, sizeof(buf)));
}

static void report(struct serve *sv)
{
	char line[256];

	if (sv->host) {
		struct vd_rt_stats rs;

		vd_host_sched_stats(sv->host, &rs);
		snprintf(line, sizeof(line), "host graph: %" PRIu64 " cycles, %" PRIu64 " late, longest cycle "
			 "%.3f ms, worst wake-up %.3f ms late%s", rs.cycles, rs.late, rs.max_cycle_ns / 1e6,
			 rs.max_wake_late_ns / 1e6, rs.error ? ", stopped by an error" : "");
		on_log(sv, line);
	}
	for (unsigned i = 0; i < sv->n_guests; i++)
		vd_guest_report(sv->guests[i]);
}

static void on_signal(void *data, int signo)
{
	struct serve *sv = data;

	if (signo == SIGUSR1) {
		report(sv);
		return;
	}
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

static bool is_name(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

static int parse_user(const char *s, uid_t *out)
{
	struct passwd *pw = getpwnam(s);
	uint32_t v;

	if (pw) {
		*out = pw->pw_uid;
		return 0;
	}
	if (parse_u32(s, 0, &v) < 0)
		return -EINVAL;
	*out = (uid_t)v;
	return 0;
}

static int parse_group(const char *s, gid_t *out)
{
	struct group *gr = getgrnam(s);
	uint32_t v;

	if (gr) {
		*out = gr->gr_gid;
		return 0;
	}
	if (parse_u32(s, 0, &v) < 0)
		return -EINVAL;
	*out = (gid_t)v;
	return 0;
}

/* NAME=SOCKET[,topology=FILE][,controls][,owner=UID|USER] */
static int parse_guest(const char *arg, struct guest_arg *g)
{
	const char *eq = strchr(arg, '=');
	char *opt, *save = NULL;

	memset(g, 0, sizeof(*g));
	if (!eq || !is_name(arg, (size_t)(eq - arg))) {
		fprintf(stderr, "virtdsp serve: --guest wants NAME=SOCKET[,topology=FILE][,controls] with "
			"NAME of letters, digits, '_', '-' and '.', not '%s'\n", arg);
		return -EINVAL;
	}
	g->name = strdup(arg);
	if (!g->name)
		return -ENOMEM;
	g->name[eq - arg] = '\0';
	g->socket = strtok_r(g->name + (eq - arg) + 1, ",", &save);
	if (!g->socket) {
		fprintf(stderr, "virtdsp serve: --guest %s: no socket path\n", g->name);
		goto bad;
	}
	while ((opt = strtok_r(NULL, ",", &save))) {
		if (strncmp(opt, "topology=", 9) == 0 && opt[9]) {
			g->topology = opt + 9;
		} else if (strcmp(opt, "controls") == 0) {
			g->controls = true;
		} else if (strncmp(opt, "owner=", 6) == 0 && opt[6]) {
			if (parse_user(opt + 6, &g->owner) < 0) {
				fprintf(stderr, "virtdsp serve: --guest %s: owner '%s' is neither a user nor a "
					"uid\n", g->name, opt + 6);
				goto bad;
			}
			g->has_owner = true;
		} else {
			fprintf(stderr, "virtdsp serve: --guest %s: unknown option '%s' (known: "
				"topology=FILE, controls, owner=UID|USER)\n", g->name, opt);
			goto bad;
		}
	}
	return 0;
bad:
	free(g->name);
	g->name = NULL;
	return -EINVAL;
}

/* [NAME=]FILE; @dflt is the name when none is given (NULL: a name is required) */
static int parse_path(const char *arg, const char *dflt, struct vd_host_path *p)
{
	const char *eq = strchr(arg, '=');

	if (eq && is_name(arg, (size_t)(eq - arg)) && eq[1]) {
		char *name = strndup(arg, (size_t)(eq - arg));

		if (!name)
			return -ENOMEM;
		p->name = name;
		p->path = eq + 1;
		return 0;
	}
	if (!dflt || !arg[0])
		return -EINVAL;
	p->name = strdup(dflt);
	p->path = arg;
	return p->name ? 0 : -ENOMEM;
}

static void print_sinks(struct serve *sv)
{
	struct vd_graph *g = vd_host_graph(sv->host);
	char fmt[64];

	for (uint32_t i = 0; i < vd_graph_sink_count(g); i++) {
		struct vd_sink_stats s;
		char line[512];
		int n;

		if (vd_graph_sink_stats(g, i, &s) < 0)
			continue;
		n = snprintf(line, sizeof(line), "host sink %s: %" PRIu64 " frames (%.3f s) of %s, peak",
			     s.name, s.frames, s.format.rate ? (double)s.frames / s.format.rate : 0.0,
			     vd_audio_format_describe(&s.format, fmt, sizeof(fmt)));
		for (uint32_t c = 0; c < s.format.channels && c < 8 && n < (int)sizeof(line) - 16; c++)
			n += snprintf(line + n, sizeof(line) - (size_t)n, s.peak[c] > 0 ? " %.2f" : " -inf",
				      s.peak[c] > 0 ? 20 * log10(s.peak[c]) : 0.0);
		n += snprintf(line + n, sizeof(line) - (size_t)n, " dBFS");
		/* a file sink's writer thread could not keep up: say how much is missing from the file */
		double dropped = 0;
		if (vd_graph_get_param(g, s.name, "dropped", &dropped) == 0 && dropped > 0 &&
		    n < (int)sizeof(line))
			snprintf(line + n, sizeof(line) - (size_t)n, "; %.0f frames dropped (the disk fell behind)",
				 dropped);
		on_log(sv, line);
	}
}

static void describe_host(struct serve *sv, const char *topo, const char *output)
{
	char line[1024];
	int n;

	n = snprintf(line, sizeof(line), "host graph: %s, %u Hz, period %u frames (%.3f ms)",
		     topo ? topo : "built-in host topology", vd_host_rate(sv->host),
		     vd_host_period_frames(sv->host), vd_host_period_ns(sv->host) / 1e6);
	for (size_t i = 0; i < vd_host_attach_count(sv->host) && n < (int)sizeof(line) - 64; i++) {
		bool capture;
		const char *name = vd_host_attach_name(sv->host, i, &capture);

		n += snprintf(line + n, sizeof(line) - (size_t)n, "%s %s (%s)", i ? "," : "; attach points",
			      name, capture ? "capture" : "playback");
	}
	if (output && n < (int)sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, "; output %s", output);
	on_log(sv, line);
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "no-tasks", no_argument, NULL, 'N' },
		{ "max-sessions", required_argument, NULL, 'S' },
		{ "max-tasks", required_argument, NULL, 'T' },
		{ "max-memory", required_argument, NULL, 'M' },
		{ "max-connections", required_argument, NULL, 'C' },
		{ "guest", required_argument, NULL, 'g' },
		{ "controls", no_argument, NULL, 'c' },
		{ "host-topology", required_argument, NULL, 'H' },
		{ "output", required_argument, NULL, 'o' },
		{ "input", required_argument, NULL, 'i' },
		{ "capture-file", required_argument, NULL, 'F' },
		{ "capture-once", no_argument, NULL, 'O' },
		{ "rt-priority", required_argument, NULL, 'R' },
		{ "describe", no_argument, NULL, 'D' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "state-file", required_argument, NULL, 'W' },
		{ "no-state", no_argument, NULL, 'n' },
		{ "print-host-topology", no_argument, NULL, 'P' },
		{ "print-guest-topology", no_argument, NULL, 'Q' },
		{ "ctl-socket", required_argument, NULL, 'X' },
		{ "no-ctl", no_argument, NULL, 'Y' },
		{ "ctl-mode", required_argument, NULL, 'Z' },
		{ "ctl-group", required_argument, NULL, 'G' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vd_accel_server_limits lim;
	struct serve sv = { .t0 = cli_now() };
	struct vd_accel_server *srv = NULL;
	struct vd_ctl_server *ctl = NULL;
	struct vd_ctl_server_config cc = { .server = "virtdsp " VIRTDSP_VERSION };
	char ctl_path[256];
	bool no_ctl = false;
	struct vd_diag diag = { .report = print_diag };
	struct guest_arg *gargs = calloc((size_t)argc + 1, sizeof(*gargs));
	struct vd_host_path *paths = calloc((size_t)argc + 1, sizeof(*paths));
	struct vd_host_options ho = { .rt_priority = 10 };
	unsigned n_gargs = 0;
	char path[256], err[512];
	const char *socket_path = NULL, *output = NULL, *state_path = NULL;
	char state_buf[512];
	bool no_state = false;
	bool no_tasks = false, controls = false, describe = false, have_output = false;
	uint32_t idle_timeout = DEFAULT_IDLE_TIMEOUT_S;
	sigset_t set;
	int c, r, status = 2;

	if (!gargs || !paths) {
		free(gargs);
		free(paths);
		return 1;
	}
	vd_accel_server_default_limits(&lim);
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:g:o:i:qh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			socket_path = optarg;
			break;
		case 'N':
			no_tasks = true;
			break;
		case 'S':
		case 'T':
		case 'C': {
			uint32_t v;
			if (parse_u32(optarg, 1, &v) < 0) {
				fprintf(stderr, "virtdsp serve: --%s wants a positive integer, not '%s'\n",
					c == 'S' ? "max-sessions" : c == 'T' ? "max-tasks" : "max-connections",
					optarg);
				goto out;
			}
			*(c == 'S' ? &lim.max_sessions : c == 'T' ? &lim.max_tasks : &lim.max_connections) = v;
			break;
		}
		case 'M':
			if (parse_bytes(optarg, &lim.max_memory) < 0) {
				fprintf(stderr, "virtdsp serve: --max-memory wants bytes (e.g. 512M), not '%s'\n",
					optarg);
				goto out;
			}
			break;
		case 'g':
			if (n_gargs == MAX_GUESTS) {
				fprintf(stderr, "virtdsp serve: at most %d guests\n", MAX_GUESTS);
				goto out;
			}
			if (parse_guest(optarg, &gargs[n_gargs]) < 0)
				goto out;
			for (unsigned i = 0; i < n_gargs; i++) {
				if (strcmp(gargs[i].name, gargs[n_gargs].name) == 0 ||
				    strcmp(gargs[i].socket, gargs[n_gargs].socket) == 0) {
					fprintf(stderr, "virtdsp serve: guests %s and %s: names and sockets must "
						"differ\n", gargs[i].name, gargs[n_gargs].name);
					n_gargs++;
					goto out;
				}
			}
			n_gargs++;
			break;
		case 'c':
			controls = true;
			break;
		case 'H':
			ho.topology = optarg;
			break;
		case 'o':
		case 'i':
			if (parse_path(optarg, c == 'o' ? "out" : NULL, &paths[ho.n_paths]) < 0) {
				fprintf(stderr, "virtdsp serve: --%s wants %s, not '%s'\n",
					c == 'o' ? "output" : "input", c == 'o' ? "[NAME=]FILE" : "NAME=FILE",
					optarg);
				goto out;
			}
			if (c == 'o' && strcmp(paths[ho.n_paths].name, "out") == 0) {
				have_output = true;
				output = paths[ho.n_paths].path;
			}
			ho.n_paths++;
			break;
		case 'F':
			ho.capture_file = optarg;
			break;
		case 'O':
			ho.capture_once = true;
			break;
		case 'R': {
			uint32_t v;
			if (parse_u32(optarg, 0, &v) < 0 || v > 99) {
				fprintf(stderr, "virtdsp serve: --rt-priority wants 0 to 99, not '%s'\n", optarg);
				goto out;
			}
			ho.rt_priority = (int)v;
			break;
		}
		case 'D':
			describe = true;
			break;
		case 'I':
			if (parse_u32(optarg, 0, &idle_timeout) < 0 || idle_timeout > 86400) {
				fprintf(stderr, "virtdsp serve: --idle-timeout wants seconds from 0 (never) to "
					"86400, not '%s'\n", optarg);
				goto out;
			}
			break;
		case 'W':
			state_path = optarg;
			break;
		case 'n':	/* long only */
			no_state = true;
			break;
		case 'P':
		case 'Q':
			fputs(c == 'P' ? vd_host_default_topology() : vd_snd_default_topology(), stdout);
			status = 0;
			goto out;
		case 'X':
			cc.path = optarg;
			break;
		case 'Y':
			no_ctl = true;
			break;
		case 'Z': {
			char *end;
			unsigned long m = strtoul(optarg, &end, 8);

			if (!optarg[0] || *end || m > 0777) {
				fprintf(stderr, "virtdsp serve: --ctl-mode wants an octal mode such as 0660, not "
					"'%s'\n", optarg);
				goto out;
			}
			cc.mode = (unsigned)m;
			break;
		}
		case 'G':
			if (parse_group(optarg, &cc.group) < 0) {
				fprintf(stderr, "virtdsp serve: --ctl-group: '%s' is neither a group nor a gid\n",
					optarg);
				goto out;
			}
			cc.set_group = true;
			break;
		case 'q':
			sv.quiet = 1;
			break;
		case 'h':
			usage(stdout);
			status = 0;
			goto out;
		default:
			usage(stderr);
			goto out;
		}
	}
	ho.paths = paths;
	if (optind < argc) {
		fprintf(stderr, "virtdsp serve: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		goto out;
	}
	if (ho.capture_once && !ho.capture_file) {
		fprintf(stderr, "virtdsp serve: --capture-once goes with --capture-file\n");
		goto out;
	}
	bool want_host = n_gargs > 0 || ho.topology;
	if (!want_host && (ho.n_paths || ho.capture_file || controls || describe)) {
		fprintf(stderr, "virtdsp serve: --output, --input, --capture-file, --controls and --describe "
			"are for guests: give --guest or --host-topology\n");
		goto out;
	}
	if (no_tasks && !want_host) {
		fprintf(stderr, "virtdsp serve: --no-tasks without --guest leaves nothing to serve\n");
		goto out;
	}
	if (!no_tasks && !socket_path) {
		if (vd_accel_default_socket_path(path, sizeof(path)) < 0) {
			fprintf(stderr, "virtdsp serve: the default socket path is too long; use --socket\n");
			goto out;
		}
		socket_path = path;
	}
	if (!ho.topology && !have_output)
		output = VD_HOST_DEFAULT_OUTPUT;

	/* blocked before any thread exists (the engine's workers and the
	 * processing thread inherit the mask), so only the loop's signalfd sees them */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	signal(SIGPIPE, SIG_IGN);
	status = 1;
	r = vd_loop_new(&sv.loop);
	if (r < 0) {
		fprintf(stderr, "virtdsp serve: event loop: %s\n", strerror(-r));
		goto out;
	}
	r = vd_loop_add_signals(sv.loop, &set, on_signal, &sv);
	if (r < 0) {
		fprintf(stderr, "virtdsp serve: signals: %s\n", strerror(-r));
		goto out;
	}
	if (want_host) {
		r = vd_host_new(&ho, &sv.host, &diag, err, sizeof(err));
		if (r < 0) {
			if (err[0])
				fprintf(stderr, "virtdsp serve: %s\n", err);
			status = 2;
			goto out;
		}
		struct vd_power_hooks ph;

		vd_host_power_hooks(sv.host, on_log, on_power_changed, &sv, &ph);
		r = vd_power_new(sv.loop, (uint64_t)idle_timeout * 1000, &ph, &sv.power);
		if (r < 0) {
			fprintf(stderr, "virtdsp serve: power: %s\n", strerror(-r));
			goto out;
		}
		r = vd_host_watch(sv.host, sv.loop, on_log, &sv);
		if (r < 0) {
			fprintf(stderr, "virtdsp serve: cannot watch the host endpoints: %s\n", strerror(-r));
			goto out;
		}
		if (!no_state && !state_path && n_gargs) {
			if (vd_state_default_path(state_buf, sizeof(state_buf)) == 0)
				state_path = state_buf;
			else
				on_log(&sv, "no state file (neither HOME nor XDG_STATE_HOME is set); control "
				       "values are kept in memory only");
		}
		r = vd_state_new(no_state ? NULL : state_path, &sv.state);
		if (r < 0) {
			fprintf(stderr, "virtdsp serve: out of memory\n");
			goto out;
		}
		if (vd_state_load(sv.state, err, sizeof(err)) < 0)
			on_log(&sv, err);	/* a bad file never stops the daemon: defaults */
		if (describe) {
			char *buf = malloc(1 << 16);
			if (buf && vd_graph_describe(vd_host_graph(sv.host), buf, 1 << 16) >= 0)
				fputs(buf, stdout);
			fflush(stdout);
			free(buf);
		}
		for (unsigned i = 0; i < n_gargs; i++) {
			struct vd_guest_config gc = {
				.name = gargs[i].name,
				.socket = gargs[i].socket,
				.topology = gargs[i].topology,
				.controls = controls || gargs[i].controls,
				.power = sv.power,
				.jacks = sv.host,
				.state = sv.state,
				.has_owner = gargs[i].has_owner,
				.owner = gargs[i].owner,
			};

			r = vd_guest_new(sv.loop, vd_host_graph(sv.host), &gc, on_log, &sv,
					 &sv.guests[sv.n_guests], &diag, err, sizeof(err));
			if (r < 0) {
				if (err[0])
					fprintf(stderr, "virtdsp serve: %s\n", err);
				status = r == -EINVAL || r == -ENOENT ? 2 : 1;
				goto out;
			}
			sv.n_guests++;
		}
	}
	if (!no_tasks) {
		r = vd_accel_server_new(sv.loop, socket_path, &lim, on_log, &sv, &srv, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "virtdsp serve: %s\n", err);
			goto out;
		}
		if (sv.power && (r = vd_accel_server_set_power(srv, sv.power)) < 0) {
			fprintf(stderr, "virtdsp serve: power for task sessions: %s\n", strerror(-r));
			goto out;
		}
	}
	if (!no_ctl) {
		if (!cc.path) {
			if (vd_ctl_default_socket_path(ctl_path, sizeof(ctl_path)) < 0) {
				fprintf(stderr, "virtdsp serve: the default control socket path is too long; use "
					"--ctl-socket\n");
				goto out;
			}
			cc.path = ctl_path;
		}
		cc.guests = sv.guests;
		cc.n_guests = sv.n_guests;
		cc.log = on_log;
		cc.log_data = &sv;
		if (sv.power) {
			cc.power_status = power_status;
			cc.power_data = &sv;
		}
		r = vd_ctl_server_new(sv.loop, &cc, &ctl, err, sizeof(err));
		sv.ctl = ctl;
		if (r == -EADDRINUSE && cc.path == ctl_path) {
			/* a second daemon with defaults still serves its guests and tasks */
			fprintf(stderr, "virtdsp serve: control socket: %s; running without one (give "
				"--ctl-socket)\n", err);
		} else if (r < 0) {
			fprintf(stderr, "virtdsp serve: control socket: %s\n", err);
			goto out;
		}
	}
	if (sv.host) {
		r = vd_host_start(sv.host);
		if (r < 0) {
			fprintf(stderr, "virtdsp serve: cannot start the processing thread: %s\n", strerror(-r));
			goto out;
		}
	}
	if (!sv.quiet) {
		if (sv.host) {
			struct vd_rt_stats rs;
			struct timespec ts = { 0, 20000000 };

			describe_host(&sv, ho.topology, output);
			/* the thread sets its priority as it starts */
			nanosleep(&ts, NULL);
			vd_host_sched_stats(sv.host, &rs);
			snprintf(err, sizeof(err), "processing thread: %s",
				 rs.realtime ? "SCHED_FIFO" : ho.rt_priority ? "normal scheduling (SCHED_FIFO "
				 "not permitted)" : "normal scheduling");
			on_log(&sv, err);
			if (sv.n_guests) {
				snprintf(err, sizeof(err), "control values: %s%s",
					 vd_state_path(sv.state) ? "state file " : "kept in memory only (--no-state)",
					 vd_state_path(sv.state) ? vd_state_path(sv.state) : "");
				on_log(&sv, err);
			}
			for (unsigned i = 0; i < sv.n_guests; i++) {
				snprintf(err, sizeof(err), "guest %s: listening on %s (%s, %s)", gargs[i].name,
					 gargs[i].socket, gargs[i].topology ? gargs[i].topology :
					 "built-in guest topology", controls || gargs[i].controls ?
					 "with controls" : "no controls");
				on_log(&sv, err);
			}
		}
		if (srv)
			fprintf(stderr, "virtdsp serve: listening on %s (per client: %" PRIu32 " sessions, %"
				PRIu32 " tasks, %" PRIu64 " bytes)\n", socket_path, lim.max_sessions,
				lim.max_tasks, lim.max_memory);
		if (ctl)
			fprintf(stderr, "virtdsp serve: control socket %s\n", cc.path);
	}
	r = vd_loop_run(sv.loop);
	if (r < 0) {
		fprintf(stderr, "virtdsp serve: event loop failed: %s\n", strerror(-r));
		goto out;
	}
	if (!sv.quiet) {
		char line[256];

		snprintf(line, sizeof(line), "%s, shutting down", sv.signo == SIGINT ? "SIGINT" : "SIGTERM");
		on_log(&sv, line);
		if (srv) {
			struct vd_accel_server_stats st;
			vd_accel_server_get_stats(srv, &st);
			snprintf(line, sizeof(line), "task sessions: %u connections, %u sessions, %u tasks freed",
				 st.connections, st.sessions, st.tasks);
			on_log(&sv, line);
		}
	}
	status = 0;
out:
	vd_ctl_server_free(ctl);
	sv.ctl = NULL;	/* the guests' last power transitions below have no subscriber left */
	/* guests before the host graph: their feeds leave the attach points while it still runs */
	for (unsigned i = sv.n_guests; i-- > 0;)
		vd_guest_free(sv.guests[i]);
	sv.n_guests = 0;
	if (sv.host) {
		vd_host_stop(sv.host);
		if (!sv.quiet && status == 0) {
			report(&sv);
			print_sinks(&sv);
		}
	}
	vd_accel_server_free(srv);
	vd_power_free(sv.power);
	vd_host_free(sv.host);
	vd_state_free(sv.state);
	vd_loop_free(sv.loop);
	for (unsigned i = 0; i < n_gargs; i++)
		free(gargs[i].name);
	for (size_t i = 0; i < ho.n_paths; i++)
		free((char *)paths[i].name);
	free(gargs);
	free(paths);
	return status;
}
