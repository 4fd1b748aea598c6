/* src/dsp/src/kernels.c - run-time choice of the sample-rate converter's kernels. */
#include <stdlib.h>

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
	case SRC_ISA_AVX512:
		/* libgcc also checks that the OS saves the 512-bit state. */
		return isa_supported(SRC_ISA_AVX2) && __builtin_cpu_supports("avx512f");
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
	case SRC_ISA_AVX512:
		return &src_kernels_avx512;
#endif
	default:
		return NULL;
	}
}

/*
 * AVX-512 is not chosen automatically: measured on a core with two 512-bit
 * FMA units it is still 5-10% slower than AVX2 in the converter (the
 * kernel is bound by loads, and half its coefficient loads split cache
 * lines at 64 bytes), so it stays selectable for tests and measurements.
 */
const struct src_kernels *src_kernels_best(void)
{
	for (int i = SRC_ISA_AVX2; i >= 0; i--) {
		const struct src_kernels *k = src_kernels_get((enum src_isa)i);
		if (k)
			return k;
	}
	return &src_kernels_c;
}
