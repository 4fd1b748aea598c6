/* cli/cmd_run.c - `virtdsp run` (placeholder during bring-up). */
#include "cli.h"
int cmd_run(int argc, char **argv) { (void)argc; (void)argv; return 1; }
