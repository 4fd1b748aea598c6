/* tests/common/testnodes.h - tiny node types for testing the graph and schedulers in isolation.
 * ramp (S16 mono source 0,1,2...; props frames, rate), double (F32 x2), convert (S16<->F32 stand-in),
 * capture (S16 sink storing up to 64k frames), tee2 (1 in, 2 out), src (F32 only, sample-and-hold). They are not thread-safe:
 * test_last_capture points at the most recently created capture node. */
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

extern const struct vd_node_ops test_ramp_ops, test_double_ops, test_convert_ops,
	test_capture_ops, test_tee_ops, test_src_ops;
extern struct test_capture *test_last_capture;

#endif
