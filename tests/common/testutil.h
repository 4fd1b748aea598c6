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

#endif
