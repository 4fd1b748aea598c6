/* bench/serve_peer.h - the peer of bench_serve: the same guest playback
 * through QEMU's built-in virtio-sound-pci (wav audiodev) in a real guest,
 * run by tools/bench-serve-peer.sh and read back from its key=value lines. */
#ifndef VD_BENCH_SERVE_PEER_H
#define VD_BENCH_SERVE_PEER_H

#include <stdbool.h>

struct serve_peer {
	bool ok;
	char why[256];			/* when not ok; else why an earlier boot failed */
	unsigned attempts;		/* boots */
	char qemu[96], accel[16], kernel[64];
	double play_s, idle_s;			/* host wall time of the two phases */
	double stream_s;			/* first to last tx completion (guest clock) */
	double main_play_cpu_s, main_idle_cpu_s;	/* QEMU's main thread (device model, audio, wav) */
	double vcpu_play_cpu_s, vcpu_idle_cpu_s;	/* the vCPU thread (the guest, emulated) */
	double all_play_cpu_s, all_idle_cpu_s;		/* every QEMU thread */
	double main_us_per_s, all_us_per_s;		/* above the idle rate, per second streamed */
	unsigned long completions, doubles;
	double iv_mean, iv_min, iv_p50, iv_p99, iv_max;	/* guest-side tx completion intervals, ms */
	double dev_p50, dev_p99, dev_max;		/* |interval - 10 ms| */
	double load_start, load_end;
};

/** Whether the harness can run without downloading anything (QEMU >= 10 and a built image). */
bool serve_peer_available(const char *source_root, char *why, size_t whylen);
/** Run the script with @seconds of playback (and as many idle seconds); 0 or -errno. */
int serve_peer_run(const char *source_root, double seconds, const char *keep_dir, struct serve_peer *p);

#endif
