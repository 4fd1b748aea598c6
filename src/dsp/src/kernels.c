/* src/dsp/src/kernels.c - run-time choice of the sample-rate converter's kernels. */
#include <stdlib.h>

#include "src-impl.h"

static bool isa_supported(enum src_isa isa)
{
	switch (isa) {
	case SRC_ISA_C:
		return true;
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
