/* bench/src_plot.h - response and spectrum plots of a virtdsp preset beside libsoxr (gnuplot PNG). */
#ifndef VD_BENCH_SRC_PLOT_H
#define VD_BENCH_SRC_PLOT_H

#include <stddef.h>

#include "src_measure.h"

/**
 * Write the data of @vd and @ref (either may be NULL) for @dir into
 * @dirpath as <tag>_<lib>_<setting>_{response,spectrum}.dat, then render
 * <tag>_<name>.png with the gnuplot script @script. @name names the pair
 * (the virtdsp preset). 0 or -errno with a message in @err.
 */
int src_plot_pair(const char *dirpath, const char *script, const char *name,
		  const struct src_dir *dir, const struct src_params *p,
		  const struct src_engine_desc *vd, const struct src_engine_desc *ref,
		  char *err, size_t errlen);

#endif
