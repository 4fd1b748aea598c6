/* cli/cmd_run.c - `virtdsp run`: push files through a topology, faster than real time. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtdsp/graph.h>
#include <virtdsp/topology.h>

#include "cli.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: virtdsp run TOPOLOGY [options]\n"
		"\n"
		"Process audio through the pipelines of TOPOLOGY (docs/topology.md) as fast as\n"
		"possible, then print what each sink received.\n"
		"\n"
		"options:\n"
		"  -i, --input NAME=FILE    read source or attach point NAME from FILE\n"
		"  -o, --output NAME=FILE   write sink or attach point NAME to FILE\n"
		"  -d, --duration SECONDS   stop the sources after this much audio\n"
		"      --describe           print the prepared graph (inserted converters, formats)\n"
		"      --check              validate the topology and build the graph, do not run\n"
		"  -q, --quiet              no summary and no progress bar\n"
		"      --progress           show the progress bar even when not on a terminal\n"
		"                           or with --quiet\n"
		"  -h, --help               this text\n"
		"\n"
		"Errors in the topology are reported as FILE:LINE:COLUMN: message.\n"
		"SIGINT (Ctrl-C) or SIGTERM end the sources where they are; the graph drains,\n"
		"the files are finished and the summary printed; the exit status is then\n"
		"128 + the signal.\n"
		"Exit status: 0 success, 1 processing error, 2 usage or topology error.\n");
}

static void print_diag(void *data, const struct vd_error *e)
{
	char buf[VD_ERROR_MSG_MAX + 256];

	(void)data;
	fprintf(stderr, "%s\n", vd_error_format(e, buf, sizeof(buf)));
}

/* A guest topology (docs/virtio-snd.md) fails here with errors that do not say why. */
static void hint_guest_topology(const struct vd_topology *t, const char *topo)
{
	struct vd_topology_object o;

	for (size_t i = 0; i < vd_topology_object_count(t); i++) {
		if (vd_topology_object(t, i, &o) == 0 && o.kind != VD_TOPO_NODE &&
		    (strcmp(o.type, "stream") == 0 || (o.kind != VD_TOPO_ATTACH && strcmp(o.type, "attach") == 0))) {
			fprintf(stderr, "virtdsp run: %s is a guest topology (its '%s' is a guest stream or a link "
				"to the host); run it under virtdsp serve --guest NAME=SOCKET,topology=FILE\n",
				topo, o.name);
			return;
		}
	}
}

struct run_ui {
	struct cli_progress prog;
	struct cli_signals sig;
};

static void on_progress(void *data, int64_t done, int64_t total)
{
	struct run_ui *ui = data;

	cli_progress_update(&ui->prog, done, total);
}

static int on_stop(void *data)
{
	struct run_ui *ui = data;

	return cli_signals_pending(&ui->sig);
}

static int split_assign(const char *arg, char **name, const char **file)
{
	const char *eq = strchr(arg, '=');

	if (!eq || eq == arg || !eq[1])
		return -EINVAL;
	*name = strndup(arg, (size_t)(eq - arg));
	*file = eq + 1;
	return *name ? 0 : -ENOMEM;
}

static void print_summary(struct vd_graph *g, const struct vd_run_stats *st, const char *topo)
{
	char fmt[64];

	printf("virtdsp run: %s\n", topo);
	for (uint32_t i = 0; i < vd_graph_sink_count(g); i++) {
		struct vd_sink_stats s;
		if (vd_graph_sink_stats(g, i, &s) < 0)
			continue;
		double secs = s.format.rate ? (double)s.frames / s.format.rate : 0;
		printf("  %-12s %10llu frames  %8.3f s  %-18s peak", s.name, (unsigned long long)s.frames,
		       secs, vd_audio_format_describe(&s.format, fmt, sizeof(fmt)));
		for (uint32_t c = 0; c < s.format.channels && c < 8; c++) {
			if (s.peak[c] > 0)
				printf(" %.2f", 20 * log10(s.peak[c]));
			else
				printf(" -inf");
		}
		printf(" dBFS\n");
	}
	double x = st->seconds > 0 ? st->audio_seconds / st->seconds : 0;
	printf("  %.3f s of audio in %.3f s (%.0fx real time), %llu cycles\n", st->audio_seconds,
	       st->seconds, x, (unsigned long long)st->cycles);
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' },
		{ "duration", required_argument, NULL, 'd' },
		{ "describe", no_argument, NULL, 'D' },
		{ "check", no_argument, NULL, 'C' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "progress", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct vd_topology *t = NULL;
	struct vd_graph *g = NULL;
	struct vd_diag diag = { .report = print_diag };
	const char **assigns = calloc((size_t)argc + 1, sizeof(char *));
	int n_assigns = 0, quiet = 0, describe = 0, check = 0, force_progress = 0, c, ret = 2;
	double duration = 0;

	if (!assigns)
		return 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:o:d:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
		case 'o':
			assigns[n_assigns++] = optarg;
			break;
		case 'd': {
			char *end;
			duration = strtod(optarg, &end);
			if (*end || !(duration > 0)) {
				fprintf(stderr, "virtdsp run: --duration wants seconds > 0, not '%s'\n", optarg);
				goto out;
			}
			break;
		}
		case 'D': describe = 1; break;
		case 'C': check = 1; break;
		case 'q': quiet = 1; break;
		case 'P': force_progress = 1; break;
		case 'h':
			usage(stdout);
			ret = 0;
			goto out;
		default:
			usage(stderr);
			goto out;
		}
	}
	if (optind != argc - 1) {
		if (optind < argc)
			fprintf(stderr, "virtdsp run: one TOPOLOGY, not %d arguments ('%s' ...)\n\n",
				argc - optind, argv[optind]);
		usage(stderr);
		goto out;
	}
	const char *topo = argv[optind];
	if (vd_topology_load_file(topo, &t, &diag) < 0) {
		if (diag.count == 0)
			fprintf(stderr, "virtdsp run: cannot load '%s'\n", topo);
		goto out;
	}
	for (int i = 0; i < n_assigns; i++) {
		char *name;
		const char *file;
		if (split_assign(assigns[i], &name, &file) < 0) {
			fprintf(stderr, "virtdsp run: '%s' is not NAME=FILE\n", assigns[i]);
			goto out;
		}
		int r = vd_topology_set_path(t, name, file);
		if (r < 0)
			fprintf(stderr, "virtdsp run: %s has no source, sink or attach point called '%s'\n", topo, name);
		free(name);
		if (r < 0)
			goto out;
	}
	if (vd_graph_new(&g) < 0) {
		ret = 1;
		goto out;
	}
	if ((check ? vd_topology_check(t, g, &diag) : vd_topology_build(t, g, &diag)) < 0) {
		hint_guest_topology(t, topo);
		goto out;
	}
	if (describe) {
		char *buf = malloc(1 << 16);
		if (buf && vd_graph_describe(g, buf, 1 << 16) >= 0)
			fputs(buf, stdout);
		free(buf);
	}
	if (check) {
		ret = 0;
		goto out;
	}
	const char *endless = vd_graph_endless_source(g);
	if (endless && duration <= 0) {
		fprintf(stderr, "virtdsp run: source '%s' never ends by itself: give it a duration or use --duration\n",
			endless);
		goto out;
	}

	struct run_ui ui;
	struct vd_run_stats st;
	struct vd_error err = { 0 };
	struct vd_run_options ro = { .progress = on_progress, .stop = on_stop, .data = &ui, .max_seconds = duration };
	char buf[VD_ERROR_MSG_MAX + 256];

	/* A terminal gets a bar unless asked to be quiet; --progress forces it anywhere. */
	cli_progress_init(&ui.prog, force_progress);
	if (quiet && !force_progress)
		ui.prog.enabled = 0;
	/* Ctrl-C ends the sources where they are; what they produced is drained and written whole. */
	cli_signals_block(&ui.sig);
	int r = vd_graph_run(g, &ro, &st, &err);
	int signo = cli_signals_unblock(&ui.sig);
	cli_progress_done(&ui.prog);
	if (r < 0) {
		fprintf(stderr, "virtdsp run: %s\n", vd_error_format(&err, buf, sizeof(buf)));
		ret = 1;
		goto out;
	}
	if (!quiet)
		print_summary(g, &st, topo);
	ret = 0;
	if (signo) {
		fprintf(stderr, "virtdsp run: interrupted by %s: %s\n", signo == SIGINT ? "SIGINT" : "SIGTERM",
			st.stopped ? "the sources were ended there and the outputs finished"
				   : "the run had ended; the outputs are complete");
		ret = 128 + signo;
	}
out:
	/* Freeing the graph finalises the sinks' files. */
	vd_graph_free(g);
	vd_topology_free(t);
	free(assigns);
	return ret;
}
