/* cli/main.c - `virtdsp` entry point: dispatches to one subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct cli_command commands[] = {
	{ "run", "push audio files through a topology, faster than real time", cmd_run },
	{ "convert", "convert or decode a file (rate, format, channels; FLAC/MP3/Opus/Vorbis) through the task API", cmd_convert },
	{ "serve", "run the daemon: virtio-snd for QEMU guests (vhost-user) and task-offload sessions", cmd_serve },
	{ "ctl", "ask or change a running daemon: guests, streams, controls, topology, power, events", cmd_ctl },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: virtdsp COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'virtdsp COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("virtdsp %s\n", VIRTDSP_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "virtdsp: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
