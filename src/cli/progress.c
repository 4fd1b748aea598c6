/* cli/progress.c - a one-line progress bar for terminals, nothing elsewhere. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

double cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_progress_init(struct cli_progress *p, int force)
{
	p->enabled = force || isatty(STDERR_FILENO);
	p->last_permille = -1;
	p->start = cli_now();
}

void cli_progress_update(struct cli_progress *p, int64_t done, int64_t total)
{
	if (!p->enabled || total <= 0)
		return;
	int permille = (int)(done * 1000 / total);
	if (permille > 1000)
		permille = 1000;
	if (permille == p->last_permille)
		return;
	p->last_permille = permille;
	int width = 40, fill = permille * width / 1000;
	char bar[41];
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '-';
	bar[width] = '\0';
	fprintf(stderr, "\r[%s] %5.1f%%", bar, permille / 10.0);
	fflush(stderr);
}

void cli_progress_done(struct cli_progress *p)
{
	if (p->enabled && p->last_permille >= 0)
		fprintf(stderr, "\r%*s\r", 60, "");
}
