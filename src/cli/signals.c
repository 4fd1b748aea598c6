/* cli/signals.c - SIGINT and SIGTERM during a long `run` or `convert`: noticed between chunks, so the output is finished, not cut. */
#include <signal.h>
#include <stddef.h>
#include <time.h>

#include "cli.h"

/*
 * The signals are blocked rather than caught: a handler would need a
 * global flag, and a blocked signal is just as visible to sigpending().
 * A process-directed signal to a process with one thread that blocks it
 * stays pending, so nothing else (the accel engine's worker thread, which
 * inherits this mask when created after it) takes it.
 */
void cli_signals_block(struct cli_signals *s)
{
	sigemptyset(&s->set);
	sigaddset(&s->set, SIGINT);
	sigaddset(&s->set, SIGTERM);
	s->signo = 0;
	s->active = sigprocmask(SIG_BLOCK, &s->set, &s->old) == 0;
}

int cli_signals_pending(struct cli_signals *s)
{
	sigset_t p;

	if (!s->signo && s->active && sigpending(&p) == 0) {
		if (sigismember(&p, SIGINT))
			s->signo = SIGINT;
		else if (sigismember(&p, SIGTERM))
			s->signo = SIGTERM;
	}
	return s->signo;
}

int cli_signals_unblock(struct cli_signals *s)
{
	const struct timespec zero = { 0, 0 };
	int signo;

	if (!s->active)
		return s->signo;
	/* take what is pending, so unblocking does not kill us after all */
	while ((signo = sigtimedwait(&s->set, NULL, &zero)) > 0)
		if (!s->signo)
			s->signo = signo;
	sigprocmask(SIG_SETMASK, &s->old, NULL);
	s->active = 0;
	return s->signo;
}
