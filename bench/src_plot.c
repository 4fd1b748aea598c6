/* bench/src_plot.c - plot data (stepped-tone response, 1 kHz spectrum) and the gnuplot call. */
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analysis.h"
#include "src_plot.h"

#define SPEC_N 65536		/* output frames per spectrum */
#define SPEC_HOLD 16		/* bins merged (peak hold) per plotted point: a readable envelope */
#define SPEC_KAISER_BETA 20.0	/* side lobes below -180 dB */

extern char **environ;

static void data_path(char *buf, size_t size, const char *dirpath, const struct src_dir *dir,
		      const struct src_engine_desc *d, const char *what)
{
	snprintf(buf, size, "%s/%s_%s_%s_%s.dat", dirpath, dir->tag, d->lib, d->setting, what);
}

/*
 * One line per tone: input frequency, gain of the tone (NaN where the
 * output cannot hold it), and everything else that came out relative to
 * the input tone (images, aliases, noise).
 */
static int write_response(const char *path, const struct src_engine_desc *d,
			  const struct src_dir *dir, const struct src_params *p,
			  char *err, size_t errlen)
{
	double nyq_in = 0.5 * dir->rate_in, nyq_out = 0.5 * dir->rate_out;
	unsigned n = p->plot_tones;
	FILE *f = fopen(path, "w");
	int ret = 0;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	fprintf(f, "# %s %s %s: f_in_Hz tone_gain_dB other_dB_re_tone_in\n", d->lib, d->setting, dir->name);
	for (unsigned k = 0; k < n && !ret; k += 2) {
		double fk[2] = { (k + 0.5) / n * nyq_in, (k + 1.5) / n * nyq_in };
		size_t from = (size_t)(p->probe_skip * dir->rate_out);
		size_t len = (size_t)(p->probe_seconds * dir->rate_out);
		float *out;
		size_t nout;

		ret = src_convert_tone(d, dir, p, fk[0], fk[1], SRC_TONE_AMP,
				       p->probe_skip + p->probe_seconds + 0.1, &out, &nout, NULL,
				       err, errlen);
		if (ret < 0)
			break;
		if (from + len > nout) {
			snprintf(err, errlen, "%s %s: short output for the response", d->lib, d->setting);
			ret = -EIO;
		}
		for (unsigned c = 0; !ret && c < 2 && k + c < n; c++) {
			const float *x = out + from * p->channels + c;
			double gain = NAN, other;

			if (fk[c] < nyq_out * 0.999) {
				struct vd_sine_fit fit;

				if (vd_sine_fit_fixed(x, len, p->channels, dir->rate_out, fk[c], &fit) < 0) {
					snprintf(err, errlen, "sine fit failed");
					ret = -ENOMEM;
					break;
				}
				gain = vd_db(fit.amplitude / SRC_TONE_AMP);
				other = fit.thdn_db + gain;
			} else {
				other = vd_db(vd_rms(x, len, p->channels) / (SRC_TONE_AMP / sqrt(2.0)) + 1e-30);
			}
			fprintf(f, "%.3f %.6f %.3f\n", fk[c], gain, other);
		}
		free(out);
	}
	if (fclose(f) && !ret) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		ret = -EIO;
	}
	return ret;
}

static int write_spectrum(const char *path, const struct src_engine_desc *d,
			  const struct src_dir *dir, const struct src_params *p,
			  char *err, size_t errlen)
{
	size_t from = (size_t)(0.5 * dir->rate_out);
	double seconds = (double)(from + SPEC_N) / dir->rate_out + 0.2;
	double *db = malloc((SPEC_N / 2 + 1) * sizeof(double));
	float *out = NULL;
	size_t nout;
	FILE *f = NULL;
	int ret;

	if (!db) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = src_convert_tone(d, dir, p, 1000.0, 1000.0, SRC_TONE_AMP, seconds, &out, &nout,
			       NULL, err, errlen);
	if (ret < 0)
		goto done;
	if (from + SPEC_N > nout || vd_spectrum_db(out + from * p->channels, SPEC_N, p->channels,
						   SPEC_KAISER_BETA, db) < 0) {
		snprintf(err, errlen, "%s %s: spectrum failed", d->lib, d->setting);
		ret = -EIO;
		goto done;
	}
	f = fopen(path, "w");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		ret = -EIO;
		goto done;
	}
	fprintf(f, "# %s %s %s: 1 kHz at -1 dBFS, Kaiser(%.0f) %d-point spectrum, peak of %d bins: f_Hz dBFS\n",
		d->lib, d->setting, dir->name, SPEC_KAISER_BETA, SPEC_N, SPEC_HOLD);
	for (size_t k = 0; k + SPEC_HOLD <= SPEC_N / 2; k += SPEC_HOLD) {
		size_t best = k;
		for (size_t j = k; j < k + SPEC_HOLD; j++)
			if (db[j] > db[best])
				best = j;
		fprintf(f, "%.2f %.2f\n", (double)best * dir->rate_out / SPEC_N, db[best]);
	}
	if (fclose(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		ret = -EIO;
	}
done:
	free(out);
	free(db);
	return ret;
}

/* Pass-band detail scale: wide enough to show the early roll-off of the low presets. */
static void passband_range(const struct src_engine_desc *vd, const struct src_engine_desc *ref,
			   double *lo, double *hi)
{
	const char *s = vd ? vd->setting : ref ? ref->setting : "";

	if (!strcmp(s, "low") || !strcmp(s, "LQ")) {
		*lo = -3.0;
		*hi = 0.5;
	} else if (!strcmp(s, "medium") || !strcmp(s, "MQ")) {
		*lo = -0.3;
		*hi = 0.1;
	} else {
		*lo = -0.02;
		*hi = 0.01;
	}
}

static int run_gnuplot(const char *script, const char *vars, char *err, size_t errlen)
{
	char *argv[] = { "gnuplot", "-e", (char *)vars, (char *)script, NULL };
	pid_t pid;
	int status, ret = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);

	if (ret) {
		snprintf(err, errlen, "cannot run gnuplot: %s", strerror(ret));
		return -ret;
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		snprintf(err, errlen, "gnuplot failed on %s", script);
		return -EIO;
	}
	return 0;
}

int src_plot_pair(const char *dirpath, const char *script, const char *name,
		  const struct src_dir *dir, const struct src_params *p,
		  const struct src_engine_desc *vd, const struct src_engine_desc *ref,
		  char *err, size_t errlen)
{
	const struct src_engine_desc *eng[2] = { vd, ref };
	char resp[2][1024] = { "", "" }, spec[2][1024] = { "", "" }, png[1024];
	char label[2][64] = { "", "" };
	double lo, hi;
	int ret;

	if (strchr(dirpath, '\'') || strchr(dirpath, '"')) {
		snprintf(err, errlen, "plot directory must not contain quotes: %s", dirpath);
		return -EINVAL;
	}
	if (access(script, R_OK)) {
		snprintf(err, errlen, "gnuplot script %s: %s", script, strerror(errno));
		return -ENOENT;
	}
	for (int i = 0; i < 2; i++) {
		if (!eng[i])
			continue;
		data_path(resp[i], sizeof(resp[i]), dirpath, dir, eng[i], "response");
		data_path(spec[i], sizeof(spec[i]), dirpath, dir, eng[i], "spectrum");
		snprintf(label[i], sizeof(label[i]), "%s %s", eng[i]->lib, eng[i]->setting);
		ret = write_response(resp[i], eng[i], dir, p, err, errlen);
		if (!ret)
			ret = write_spectrum(spec[i], eng[i], dir, p, err, errlen);
		if (ret < 0)
			return ret;
	}
	snprintf(png, sizeof(png), "%s/src_%s_%s.png", dirpath, dir->tag, name);
	passband_range(vd, ref, &lo, &hi);

	size_t size = 8192;
	char *vars = malloc(size);
	if (!vars) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(vars, size,
		 "out='%s'; dirname='%s'; nyq_in=%g; nyq_out=%g; pb_lo=%g; pb_hi=%g;"
		 "a_label='%s'; a_resp='%s'; a_spec='%s'; b_label='%s'; b_resp='%s'; b_spec='%s'",
		 png, dir->name, 0.5 * dir->rate_in, 0.5 * dir->rate_out, lo, hi,
		 label[0], resp[0], spec[0], label[1], resp[1], spec[1]);
	ret = run_gnuplot(script, vars, err, errlen);
	free(vars);
	if (!ret)
		printf("plot: %s\n", png);
	return ret;
}
