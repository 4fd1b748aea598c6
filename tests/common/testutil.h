/* tests/common/testutil.h - small helpers shared by the unit tests (temp files, WAV I/O). */
#ifndef VD_TESTUTIL_H
#define VD_TESTUTIL_H

#include <stddef.h>

/** A fresh private directory under $TMPDIR; the caller removes it with vd_test_rmdir(). */
char *vd_test_tmpdir(void);
void vd_test_rmdir(char *dir);
/** Path of a file inside the source tree ($VD_SOURCE_ROOT/rel). Static buffer per call is avoided: caller frees. */
char *vd_test_source_path(const char *rel);
/**
 * vd_test_deny_syscalls() - a seccomp filter on the calling thread (and the
 * threads it creates afterwards) that fails each of the @n system calls in
 * @nrs with @err, so a test can prove a thread never makes them.
 * Returns 0 or -errno.
 */
int vd_test_deny_syscalls(const long *nrs, size_t n, int err);

struct vd_graph;
/** What vd_test_rt_run_denied() saw: the filter's result, a probe of the first refused call
 * made after it (probe -1 with probe_errno = the refusal when in force), the scheduler's start
 * result and its statistics. */
struct vd_test_rt_run {
	int filter, probe_errno, start;
	long probe;
	unsigned long cycles;
	int error;
};
/**
 * Run the prepared @g on the real-time scheduler (10 ms periods) for @ms
 * milliseconds from a new thread that first refuses the @n system calls in
 * @nrs with @err (vd_test_deny_syscalls); the scheduler's thread inherits
 * the filter, threads @g created before (file readers and writers) do not.
 */
void vd_test_rt_run_denied(struct vd_graph *g, const long *nrs, size_t n, int err, int ms,
			   struct vd_test_rt_run *res);

#endif
