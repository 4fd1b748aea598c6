/* bench/serve_peer.c - runs tools/bench-serve-peer.sh (QEMU's virtio-sound-pci
 * in a real guest) for bench_serve and parses its key=value output. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "serve_peer.h"

bool serve_peer_available(const char *root, char *why, size_t whylen)
{
	char path[1024];
	struct stat st;
	FILE *f;
	int major = 0;

	f = popen("qemu-system-x86_64 --version 2>/dev/null", "r");
	if (f) {
		char line[256];

		if (fgets(line, sizeof(line), f))
			sscanf(line, "QEMU emulator version %d", &major);
		pclose(f);
	}
	if (major < 10) {
		snprintf(why, whylen, "qemu-system-x86_64 >= 10 not found (tools/guest/setup-host.sh installs it)");
		return false;
	}
	snprintf(path, sizeof(path), "%s/tools/guest/cache/image/vmlinux", root);
	if (stat(path, &st) < 0) {
		snprintf(why, whylen, "no guest image (tools/guest/build-image.sh builds it, ~110 MB download)");
		return false;
	}
	return true;
}

static void set(struct serve_peer *p, const char *k, const char *v)
{
	static const struct { const char *key; size_t off; } num[] = {
#define F(k, m) { k, offsetof(struct serve_peer, m) }
		F("play_s", play_s), F("idle_s", idle_s), F("stream_s", stream_s),
		F("main_play_cpu_s", main_play_cpu_s), F("main_idle_cpu_s", main_idle_cpu_s),
		F("vcpu_play_cpu_s", vcpu_play_cpu_s), F("vcpu_idle_cpu_s", vcpu_idle_cpu_s),
		F("all_play_cpu_s", all_play_cpu_s), F("all_idle_cpu_s", all_idle_cpu_s),
		F("main_us_per_s", main_us_per_s), F("all_us_per_s", all_us_per_s),
		F("iv_mean_ms", iv_mean), F("iv_min_ms", iv_min), F("iv_p50_ms", iv_p50),
		F("iv_p99_ms", iv_p99), F("iv_max_ms", iv_max),
		F("dev_p50_ms", dev_p50), F("dev_p99_ms", dev_p99), F("dev_max_ms", dev_max),
		F("load_start", load_start), F("load_end", load_end),
#undef F
	};

	for (size_t i = 0; i < sizeof(num) / sizeof(num[0]); i++)
		if (!strcmp(k, num[i].key)) {
			*(double *)((char *)p + num[i].off) = strtod(v, NULL);
			return;
		}
	if (!strcmp(k, "completions"))
		p->completions = strtoul(v, NULL, 10);
	else if (!strcmp(k, "doubles"))
		p->doubles = strtoul(v, NULL, 10);
	else if (!strcmp(k, "qemu"))
		snprintf(p->qemu, sizeof(p->qemu), "%s", v);
	else if (!strcmp(k, "accel"))
		snprintf(p->accel, sizeof(p->accel), "%s", v);
	else if (!strcmp(k, "kernel"))
		snprintf(p->kernel, sizeof(p->kernel), "%s", v);
	else if (!strcmp(k, "ok"))
		p->ok = !strcmp(v, "1");
	else if (!strcmp(k, "attempts"))
		p->attempts = (unsigned)strtoul(v, NULL, 10);
	else if (!strcmp(k, "error") || !strcmp(k, "failed_attempt"))
		snprintf(p->why, sizeof(p->why), "%s", v);
}

int serve_peer_run(const char *root, double seconds, const char *keep_dir, struct serve_peer *p)
{
	char cmd[2048], line[1024];
	FILE *f;
	int st;

	memset(p, 0, sizeof(*p));
	snprintf(cmd, sizeof(cmd), "'%s/tools/bench-serve-peer.sh' --seconds %g%s%s%s",
		 root, seconds, keep_dir ? " --out '" : "", keep_dir ? keep_dir : "", keep_dir ? "'" : "");
	f = popen(cmd, "r");
	if (!f) {
		snprintf(p->why, sizeof(p->why), "cannot run tools/bench-serve-peer.sh: %s", strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *eq, *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		if (strncmp(line, "peer.", 5) || !(eq = strchr(line, '=')))
			continue;
		*eq = '\0';
		set(p, line + 5, eq + 1);
	}
	st = pclose(f);
	if (!p->ok && !p->why[0])
		snprintf(p->why, sizeof(p->why), "bench-serve-peer.sh exited with status %d",
			 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return p->ok ? 0 : -EIO;
}
