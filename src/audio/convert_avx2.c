/* audio/convert_avx2.c - AVX2 kernels for float <-> PCM conversion, chosen at run time. */
#include "audio/convert_kernels.h"

#ifdef VD_CONVERT_HAVE_X86
const struct vd_convert_kernels vd_convert_kernels_avx2 = {
	.name = "avx2",
};
#endif
