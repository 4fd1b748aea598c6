/* cli/cli.h - subcommand table and the helpers they share. */
#ifndef VD_CLI_H
#define VD_CLI_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

struct cli_command {
	const char *name;
	const char *summary;
	int (*fn)(int argc, char **argv);
};

int cmd_run(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_ctl(int argc, char **argv);

/** Terminal progress bar on stderr; silent when stderr is not a terminal. */
struct cli_progress {
	int enabled;
	int last_permille;
	double start;
};
void cli_progress_init(struct cli_progress *p, int force);
void cli_progress_update(struct cli_progress *p, int64_t done, int64_t total);
void cli_progress_done(struct cli_progress *p);
double cli_now(void);

/** SIGINT/SIGTERM held back while a file is being written, and polled between chunks (signals.c). */
struct cli_signals {
	sigset_t set, old;
	int signo;			/* the first one seen, or 0 */
	int active;
};
void cli_signals_block(struct cli_signals *s);
/** The signal that arrived (SIGINT or SIGTERM), or 0. */
int cli_signals_pending(struct cli_signals *s);
/** Restore the mask, swallowing what is pending; returns the signal seen, or 0. */
int cli_signals_unblock(struct cli_signals *s);

/* `virtdsp convert` of compressed inputs through the "decode" accelerator (convert_decode.c). */
struct convert_opts {
	const char *target;		/* daemon socket, NULL in-process */
	int format;			/* enum vd_sample_format; 0: the stream's */
	uint32_t rate, channels;	/* 0: the stream's */
	int quality;			/* enum vd_resample_quality */
	int quiet, force_progress;
};
/** The decoder codec for @path's content (FLAC, MP3, Ogg Vorbis, Ogg Opus), or 0. */
uint32_t convert_sniff_codec(const char *path);
/** Decode @in into @out; returns the exit status (0, or 1 with a message on stderr). */
int convert_decoded(uint32_t codec, const char *in, const char *out, const struct convert_opts *opt);

#endif
