/* src/dsp/src/kernels.c - run-time choice of the sample-rate converter's kernels. */
#include <stdlib.h>

/* AVX-512 is not offered: on Zen 4 it runs FMAs at the AVX2 rate (double-pumped)
 * and this load-bound kernel only loses by it (see docs/src.md). */

#include "src-impl.h"

static bool isa_supported(enum src_isa isa)
{
	switch (isa) {
	case SRC_ISA_C:
		return true;
#if defined(__x86_64__) || defined(__i386__)
	case SRC_ISA_SSE2:
		return __builtin_cpu_supports("sse2");
	case SRC_ISA_AVX2:
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
	default:
		return false;
	}
}

const struct src_kernels *src_kernels_get(enum src_isa isa)
{
	if (!isa_supported(isa))
		return NULL;
	switch (isa) {
	case SRC_ISA_C:
		return &src_kernels_c;
#if defined(__x86_64__) || defined(__i386__)
	case SRC_ISA_SSE2:
		return &src_kernels_sse2;
	case SRC_ISA_AVX2:
		return &src_kernels_avx2;
#endif
	default:
		return NULL;
	}
}

const struct src_kernels *src_kernels_best(void)
{
	for (int i = SRC_ISA_COUNT - 1; i >= 0; i--) {
		const struct src_kernels *k = src_kernels_get((enum src_isa)i);
		if (k)
			return k;
	}
	return &src_kernels_c;
}
