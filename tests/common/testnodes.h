/* tests/common/testnodes.h - tiny node types for testing the graph and schedulers in isolation.
 * ramp (S16 mono source 0,1,2...; props frames, rate), double (F32 x2), convert (S16<->F32 stand-in),
 * capture (S16 sink storing up to 64k frames), tee2 (1 in, 2 out), src (F32 only, sample-and-hold),
 * probe-sink (F32 recorder for host graphs under the fake guests). They are not thread-safe:
 * test_last_capture points at the most recently created capture node, and probe-sink nodes
 * register in *test_probes, which must be set while a graph holding them is built. */
#ifndef VD_TESTNODES_H
#define VD_TESTNODES_H

#include <stdbool.h>
#include <stdint.h>
#include <virtdsp/node.h>

struct test_capture {
	int16_t data[1 << 16];
	uint32_t n;
	bool ended;
};

#define TEST_PROBES_MAX 4

/* One probe-sink: its first @cap frames, interleaved, @n of them recorded so far. */
struct test_probe {
	float *data;
	uint64_t n, cap;
	uint32_t channels;
};

/* Where probe-sink nodes register, in creation order; the caller sets @cap and @channels. */
struct test_probes {
	uint64_t cap;			/* frames each new probe keeps */
	uint32_t channels;		/* asked of upstream; 0 takes what it offers */
	struct test_probe *p[TEST_PROBES_MAX];
	unsigned n;			/* probes created (those past the array are not listed) */
	struct test_probe *last;
};

extern const struct vd_node_ops test_ramp_ops, test_double_ops, test_convert_ops,
	test_capture_ops, test_tee_ops, test_src_ops, test_probe_ops;
extern struct test_capture *test_last_capture;
extern struct test_probes *test_probes;

struct vd_diag;
struct vd_graph;
struct vd_topology;

/* The host graph the fake-guest tests play into: live, 48 kHz, 480-frame periods, playback
 * attach points "a" and "b" each into a stereo probe-sink keeping @cap frames, which @probes
 * lists in that order. Returns 0, or the error of the step that failed (@diag is told why). */
int test_probe_host_new(struct test_probes *probes, uint64_t cap, struct vd_diag *diag,
			struct vd_topology **t, struct vd_graph **g);

#endif
