/* src/dsp/src/src.h - the `src` node type (sample-rate conversion in graphs). */
#ifndef VD_DSP_SRC_H
#define VD_DSP_SRC_H

#include <virtdsp/node.h>

/*
 * Properties: rate (output rate in Hz, required), quality (low | medium |
 * high | very-high, default high). Input f32, s16 or s32 (anything else is
 * asked for as f32); output the same format at `rate`. Parameter `adjust`
 * (0.98..1.02) steers the ratio for drift correction. Drains on EOS.
 */
extern const struct vd_node_ops vd_node_src;

#endif
