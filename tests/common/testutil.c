/* tests/common/testutil.c - temp directories and source-tree paths for tests. */
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <pthread.h>
#include <ftw.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <virtdsp/sched.h>

#include "testutil.h"

char *vd_test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (asprintf(&path, "%s/virtdsp-test-XXXXXX", base && *base ? base : "/tmp") < 0)
		return NULL;
	if (!mkdtemp(path)) {
		free(path);
		return NULL;
	}
	return path;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(p);
}

void vd_test_rmdir(char *dir)
{
	if (!dir)
		return;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

char *vd_test_source_path(const char *rel)
{
	const char *root = getenv("VD_SOURCE_ROOT");
	char *path;

	if (asprintf(&path, "%s/%s", root && *root ? root : ".", rel) < 0)
		return NULL;
	return path;
}

int vd_test_deny_syscalls(const long *nrs, size_t n, int err)
{
#if defined(__x86_64__)
	const uint32_t arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
	const uint32_t arch = AUDIT_ARCH_AARCH64;
#endif
	struct sock_filter f[5 + 2 * 32];
	unsigned k = 0;

	if (n > 32)
		return -E2BIG;
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < n; i++) {
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nrs[i], 0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (uint32_t)err);
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = (unsigned short)k, .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* no TSYNC: only this thread and the threads it creates from now on */
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0 ? -errno : 0;
}

struct rt_denied {
	struct vd_graph *g;
	const long *nrs;
	size_t n;
	int err, ms;
	struct vd_test_rt_run *res;
};

static void *rt_denied_main(void *arg)
{
	struct rt_denied *d = arg;
	struct vd_rt_config cfg = { .period_ns = 10000000 };
	struct vd_rt_stats st = { 0 };
	struct vd_rt_sched *s;
	struct timespec ts = { d->ms / 1000, (long)(d->ms % 1000) * 1000000 };

	d->res->filter = vd_test_deny_syscalls(d->nrs, d->n, d->err);
	/* fd -1, length 0: refused by the filter, or EBADF without it */
	d->res->probe = syscall(d->nrs[0], -1, NULL, 0);
	d->res->probe_errno = errno;
	if (d->res->filter < 0)
		return NULL;
	d->res->start = vd_rt_sched_start(d->g, &cfg, &s);
	if (d->res->start < 0)
		return NULL;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	vd_rt_sched_stop(s, &st);
	d->res->cycles = (unsigned long)st.cycles;
	d->res->error = st.error;
	return NULL;
}

void vd_test_rt_run_denied(struct vd_graph *g, const long *nrs, size_t n, int err, int ms,
			   struct vd_test_rt_run *res)
{
	struct rt_denied d = { .g = g, .nrs = nrs, .n = n, .err = err, .ms = ms, .res = res };
	pthread_t t;

	memset(res, 0, sizeof(*res));
	res->filter = res->start = -EAGAIN;
	if (pthread_create(&t, NULL, rt_denied_main, &d) == 0)
		pthread_join(t, NULL);
}
