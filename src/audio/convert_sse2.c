/* audio/convert_sse2.c - SSE2 kernels for float <-> PCM conversion (x86-64 baseline). */
#include "audio/convert_kernels.h"

#ifdef VD_CONVERT_HAVE_X86
const struct vd_convert_kernels vd_convert_kernels_sse2 = {
	.name = "sse2",
};
#endif
