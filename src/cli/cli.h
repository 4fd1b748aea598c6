/* cli/cli.h - subcommand table and the helpers they share. */
#ifndef VD_CLI_H
#define VD_CLI_H

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

#endif
