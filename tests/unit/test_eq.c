/* tests/unit/test_eq.c - the eq node: measured response vs the analytic one, SNR, smooth and stable run-time changes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <complex.h>

#include "dsp/dsp.h"
#include "analysis.h"
#include "nodetest.h"

#define RATE	48000
#define SETTLE	16384
#define MEASURE	32768

enum { PEAKING, LOWSHELF, HIGHSHELF, LOWPASS, HIGHPASS, NOTCH, BANDPASS, ALLPASS };

struct band_spec {
	int type;
	double freq, gain, q;
};

/*
 * The cookbook filters are the bilinear transforms of these analog
 * prototypes, pre-warped so w0 maps exactly: at digital frequency w the
 * response is H(s) at s = j tan(w/2) / tan(w0/2). Evaluating it this way
 * shares no arithmetic with the node's z-domain coefficients.
 */
static double complex analog(const struct band_spec *b, double f)
{
	double complex s = I * tan(M_PI * f / RATE) / tan(M_PI * b->freq / RATE);
	double A = pow(10.0, b->gain / 40.0), q = b->q, sa = sqrt(A) / q;
	double complex s2 = s * s;

	switch (b->type) {
	case PEAKING: return (s2 + s * (A / q) + 1) / (s2 + s / (A * q) + 1);
	case LOWSHELF: return A * (s2 + sa * s + A) / (A * s2 + sa * s + 1);
	case HIGHSHELF: return A * (A * s2 + sa * s + 1) / (s2 + sa * s + A);
	case LOWPASS: return 1 / (s2 + s / q + 1);
	case HIGHPASS: return s2 / (s2 + s / q + 1);
	case NOTCH: return (s2 + 1) / (s2 + s / q + 1);
	case BANDPASS: return (s / q) / (s2 + s / q + 1);
	case ALLPASS: return (s2 - s / q + 1) / (s2 + s / q + 1);
	}
	return 0;
}

static double analytic_db(const struct band_spec *b, int n, double f)
{
	double m = 1;

	for (int i = 0; i < n; i++)
		m *= cabs(analog(&b[i], f));
	return 20 * log10(m);
}

static const char *const type_word[] = {
	"peaking", "lowshelf", "highshelf", "lowpass", "highpass", "notch", "bandpass", "allpass",
};

/* Properties band1.. for @n specs; returns a NULL-terminated list of strings in @buf. */
static const char **band_props(const struct band_spec *b, int n, char buf[][48], const char **kv)
{
	int k = 0;

	for (int i = 0; i < n; i++) {
		snprintf(buf[k], 48, "band%d.type=%s", i + 1, type_word[b[i].type]);
		kv[k] = buf[k];
		k++;
		snprintf(buf[k], 48, "band%d.freq=%.17gHz", i + 1, b[i].freq);
		kv[k] = buf[k];
		k++;
		snprintf(buf[k], 48, "band%d.gain=%.17gdB", i + 1, b[i].gain);
		kv[k] = buf[k];
		k++;
		snprintf(buf[k], 48, "band%d.q=%.17g", i + 1, b[i].q);
		kv[k] = buf[k];
		k++;
	}
	kv[k] = NULL;
	return kv;
}

static void setup_eq(struct nt_node *n, const struct band_spec *b, int nb, const char *extra,
		     enum vd_sample_format fmt, uint32_t channels)
{
	char buf[4 * 16 + 1][48];
	const char *kv[4 * 16 + 2];
	struct vd_audio_format f;

	band_props(b, nb, buf, kv);
	if (extra) {
		kv[4 * nb] = extra;
		kv[4 * nb + 1] = NULL;
	}
	assert_int_equal(nt_init(n, &vd_node_eq, kv, 1, RATE), 0);
	vd_audio_format_init(&f, fmt, RATE, channels);
	assert_int_equal(nt_prepare(n, &f, 1024), 0);
}

/* Sweep 31 frequencies from 25 Hz to 21 kHz; measured gain within 0.01 dB of the analytic one. */
static void check_response(const struct band_spec *b, int nb)
{
	size_t len = SETTLE + MEASURE;
	float *in = malloc(len * sizeof(float)), *out = malloc(len * sizeof(float));
	double worst = 0;
	int checked = 0;

	for (int k = 0; k < 31; k++) {
		double f = 25.0 * pow(21000.0 / 25.0, k / 30.0);
		double want = analytic_db(b, nb, f), got, ain;
		struct nt_node n;

		setup_eq(&n, b, nb, NULL, VD_FORMAT_F32, 1);
		vd_gen_sine(in, len, 1, RATE, f, 0.5, 0.1);
		assert_int_equal(nt_run(&n, in, len, out, len, 1024, false, NULL), (long)len);
		nt_free(&n);
		/* Below -60 dB the float output's own noise floor starts to count; the notch centre is -inf. */
		if (want < -60)
			continue;
		ain = vd_tone_amplitude(in + SETTLE, MEASURE, 1, RATE, f);
		got = vd_db(vd_tone_amplitude(out + SETTLE, MEASURE, 1, RATE, f) / ain);
		if (fabs(got - want) > 0.01)
			fail_msg("%s at %.1f Hz: measured %.5f dB, analytic %.5f dB", type_word[b[0].type], f, got, want);
		worst = fmax(worst, fabs(got - want));
		checked++;
	}
	assert_true(checked >= 25);
	print_message("%-9s worst deviation %.2e dB over %d frequencies\n",
		      nb > 1 ? "cascade" : type_word[b[0].type], worst, checked);
	free(in);
	free(out);
}

static void test_response_peaking(void **state)
{
	struct band_spec b[] = { { PEAKING, 1000, 6, 1.41 } };
	struct band_spec c[] = { { PEAKING, 150, -9, 3 } };

	check_response(b, 1);
	check_response(c, 1);
}

static void test_response_shelves(void **state)
{
	struct band_spec lo[] = { { LOWSHELF, 200, 4.5, 0.707 } };
	struct band_spec hi[] = { { HIGHSHELF, 5000, -6, 0.9 } };

	check_response(lo, 1);
	check_response(hi, 1);
}

static void test_response_pass(void **state)
{
	struct band_spec lp[] = { { LOWPASS, 3000, 0, 0.707 } };
	struct band_spec hp[] = { { HIGHPASS, 120, 0, 1.2 } };
	struct band_spec bp[] = { { BANDPASS, 700, 0, 1.5 } };

	check_response(lp, 1);
	check_response(hp, 1);
	check_response(bp, 1);
}

static void test_response_notch_allpass(void **state)
{
	struct band_spec no[] = { { NOTCH, 2000, 0, 2 } };
	struct band_spec ap[] = { { ALLPASS, 1000, 0, 0.7 } };

	check_response(no, 1);
	check_response(ap, 1);
}

static void test_response_cascade(void **state)
{
	struct band_spec b[] = {
		{ HIGHPASS, 40, 0, 0.707 }, { LOWSHELF, 300, 3, 0.707 }, { PEAKING, 2500, -4, 2 },
		{ HIGHSHELF, 8000, 2, 0.707 }, { LOWPASS, 18000, 0, 0.6 },
	};

	check_response(b, 5);
}

/* A 0 dB peaking band is transparent: the cookbook numerator equals the denominator. */
static void test_zero_gain_band_is_transparent(void **state)
{
	struct band_spec b[] = { { PEAKING, 1000, 0, 1 } };
	struct nt_node n;
	size_t len = 48000;
	float *in = malloc(len * sizeof(float)), *out = malloc(len * sizeof(float));
	struct vd_sine_fit fit;

	setup_eq(&n, b, 1, NULL, VD_FORMAT_F32, 1);
	vd_gen_sine(in, len, 1, RATE, 1000, 0.5, 0);
	assert_int_equal(nt_run(&n, in, len, out, len, 480, false, NULL), (long)len);
	assert_int_equal(vd_sine_fit(out, len, 1, RATE, 1000, &fit), 0);
	nt_assert_ge(fit.snr_db, 140);
	nt_assert_near(fit.amplitude, 0.5, 1e-6);
	nt_free(&n);
	free(in);
	free(out);
}

/* +12 dB then the same band at -12 dB is the identity; what is left is the processing noise. */
static void test_boost_cut_snr(void **state)
{
	struct band_spec b[] = { { PEAKING, 800, 12, 2 }, { PEAKING, 800, -12, 2 } };
	struct nt_node n;
	size_t len = 96000;
	float *in = malloc(len * sizeof(float)), *out = malloc(len * sizeof(float));
	long double sig = 0, err = 0;
	double snr;
	struct vd_sine_fit fit;

	setup_eq(&n, b, 2, NULL, VD_FORMAT_F32, 1);
	vd_gen_sine(in, len, 1, RATE, 787, 0.5, 0);
	assert_int_equal(nt_run(&n, in, len, out, len, 480, false, NULL), (long)len);
	for (size_t i = 0; i < len; i++) {
		double d = (double)out[i] - in[i];

		sig += (long double)in[i] * in[i];
		err += d * d;
	}
	snr = 10 * log10((double)(sig / err));
	print_message("boost/cut identity: SNR %.1f dB\n", snr);
	nt_assert_ge(snr, 130);
	assert_int_equal(vd_sine_fit(out, len, 1, RATE, 787, &fit), 0);
	nt_assert_ge(fit.snr_db, 130);
	nt_free(&n);
	free(in);
	free(out);
}

static void test_channels_independent_and_f64(void **state)
{
	struct band_spec b[] = { { LOWPASS, 2000, 0, 0.9 }, { PEAKING, 300, 5, 1 } };
	struct nt_node mono, st, d;
	size_t len = 4000;
	float *l = malloc(len * sizeof(float)), *r = malloc(len * sizeof(float));
	float *lo = malloc(len * sizeof(float)), *ro = malloc(len * sizeof(float));
	float *sti = malloc(len * 2 * sizeof(float)), *sto = malloc(len * 2 * sizeof(float));
	double *di = malloc(len * sizeof(double)), *dout = malloc(len * sizeof(double));

	vd_gen_sine(l, len, 1, RATE, 250, 0.5, 0);
	vd_gen_sine(r, len, 1, RATE, 5000, 0.5, 1);
	for (size_t i = 0; i < len; i++) {
		sti[2 * i] = l[i];
		sti[2 * i + 1] = r[i];
		di[i] = l[i];
	}
	setup_eq(&mono, b, 2, NULL, VD_FORMAT_F32, 1);
	assert_int_equal(nt_run(&mono, l, len, lo, len, 480, false, NULL), (long)len);
	vd_node_eq.reset(mono.self);
	assert_int_equal(nt_run(&mono, r, len, ro, len, 333, false, NULL), (long)len);
	setup_eq(&st, b, 2, NULL, VD_FORMAT_F32, 2);
	assert_int_equal(nt_run(&st, sti, len, sto, len, 480, false, NULL), (long)len);
	for (size_t i = 0; i < len; i++) {
		assert_true(sto[2 * i] == lo[i]);
		assert_true(sto[2 * i + 1] == ro[i]);
	}
	setup_eq(&d, b, 2, NULL, VD_FORMAT_F64, 1);
	assert_int_equal(d.out[0].format, VD_FORMAT_F64);
	assert_int_equal(nt_run(&d, di, len, dout, len, 480, false, NULL), (long)len);
	for (size_t i = 0; i < len; i++)
		nt_assert_near(dout[i], lo[i], 1e-7);
	nt_free(&mono);
	nt_free(&st);
	nt_free(&d);
	free(l); free(r); free(lo); free(ro); free(sti); free(sto); free(di); free(dout);
}

static double max_second_diff(const float *x, size_t n)
{
	double m = 0;

	for (size_t i = 2; i < n; i++)
		m = fmax(m, fabs((double)x[i] - 2.0 * x[i - 1] + x[i - 2]));
	return m;
}

/*
 * Sweep a +12 dB peak from 100 Hz to 10 kHz through a 1 kHz tone: the
 * output's curvature (second difference) never exceeds what the tone at
 * full boost has by itself, so there is no click; afterwards the node
 * settles onto the same output as one built with the final settings.
 */
static void test_runtime_sweep_is_smooth(void **state)
{
	struct band_spec b[] = { { PEAKING, 100, 12, 1.5 } };
	struct band_spec fin[] = { { PEAKING, 10000, 12, 1.5 } };
	struct nt_node n, ref;
	size_t len = 48000;
	float *in = malloc(len * sizeof(float)), *out = malloc(len * sizeof(float));
	float *ro = malloc(len * sizeof(float));
	double w = 2 * M_PI * 1000.0 / RATE, boost = pow(10, 12 / 20.0);
	int fid;

	setup_eq(&n, b, 1, "ramp=50ms", VD_FORMAT_F32, 1);
	vd_gen_sine(in, len, 1, RATE, 1000, 0.5, 0);
	assert_int_equal(nt_run(&n, in, 10000, out, 10000, 480, false, NULL), 10000);
	fid = nt_param(&n, "band1.freq");
	assert_true(fid >= 0);
	/* a change of target every 5 ms, as a UI slider would send */
	for (int k = 1; k <= 10; k++) {
		size_t at = 10000 + (size_t)(k - 1) * 240;

		assert_int_equal(vd_node_eq.set_param(n.self, (uint32_t)fid, 100 * pow(100, k / 10.0)), 0);
		assert_int_equal(nt_run(&n, in + at, 240, out + at, 240, 100, false, NULL), 240);
	}
	assert_int_equal(nt_run(&n, in + 12400, len - 12400, out + 12400, len - 12400, 480, false, NULL),
			 (long)(len - 12400));
	nt_assert_le(max_second_diff(out, len), 0.5 * boost * w * w * 1.05);
	nt_assert_le(vd_peak(out, len, 1), 0.5 * boost * 1.05);
	setup_eq(&ref, fin, 1, NULL, VD_FORMAT_F32, 1);
	assert_int_equal(nt_run(&ref, in, len, ro, len, 480, false, NULL), (long)len);
	for (size_t i = 30000; i < len; i++)
		nt_assert_near(out[i], ro[i], 1e-6);
	nt_free(&n);
	nt_free(&ref);
	free(in);
	free(out);
	free(ro);
}

/* Random settings every few frames on noise (type changes included): output stays finite and bounded. */
static void test_random_changes_stay_stable(void **state)
{
	struct band_spec b[] = { { PEAKING, 1000, 0, 1 }, { LOWPASS, 5000, 0, 0.7 }, { NOTCH, 60, 0, 5 } };
	struct nt_node n;
	uint32_t seed = 99;
	float in[7 * 2], out[7 * 2];
	double peak = 0;

	setup_eq(&n, b, 3, "ramp=1ms", VD_FORMAT_F32, 2);
	for (int it = 0; it < 20000; it++) {
		int id;
		double v;

		for (int i = 0; i < 14; i++) {
			seed = seed * 1664525u + 1013904223u;
			in[i] = (float)((int32_t)seed) / 2147483648.0f * 0.5f;
		}
		seed = seed * 1664525u + 1013904223u;
		id = (int)(seed >> 8) % 12;
		seed = seed * 1664525u + 1013904223u;
		switch (id % 4) {
		case 0: v = (seed >> 8) % 8; break;
		case 1: v = 20 * pow(1000, (seed >> 8) / 16777216.0); break;
		case 2: v = -40 + 80 * ((seed >> 8) / 16777216.0); break;
		default: v = 0.1 * pow(100, (seed >> 8) / 16777216.0); break;
		}
		assert_int_equal(vd_node_eq.set_param(n.self, (uint32_t)id, v), 0);
		assert_int_equal(nt_run(&n, in, 7, out, 7, 7, false, NULL), 7);
		for (int i = 0; i < 14; i++) {
			assert_true(isfinite(out[i]));
			peak = fmax(peak, fabs(out[i]));
		}
	}
	print_message("random changes: peak %.1f\n", peak);
	/* three bands of at most +40 dB each on 0.5 noise: 5e5 at the very worst */
	nt_assert_le(peak, 5e5);
	/* Stable filters ring down: after a second of silence nothing is left. */
	memset(in, 0, sizeof(in));
	for (int it = 0; it < RATE / 7; it++)
		assert_int_equal(nt_run(&n, in, 7, out, 7, 7, false, NULL), 7);
	for (int i = 0; i < 14; i++)
		nt_assert_le(fabs(out[i]), 1e-9);
	nt_free(&n);
}

/* Glides are continued exactly across calls: splitting blocks changes no sample. */
static void test_block_size_invariance(void **state)
{
	struct band_spec b[] = { { PEAKING, 300, 6, 1 }, { LOWSHELF, 100, -3, 0.7 } };
	size_t len = 20000;
	float *in = malloc(len * 2 * sizeof(float));
	float *o[2] = { malloc(len * 2 * sizeof(float)), malloc(len * 2 * sizeof(float)) };
	uint32_t blocks[2] = { 480, 7 };

	vd_gen_sine(in, len, 2, RATE, 440, 0.4, 0);
	for (int k = 0; k < 2; k++) {
		struct nt_node n;

		setup_eq(&n, b, 2, "ramp=10ms", VD_FORMAT_F32, 2);
		assert_int_equal(nt_run(&n, in, 1000, o[k], 1000, blocks[k], false, NULL), 1000);
		assert_int_equal(nt_set(&n, "band1.freq", 3000), 0);
		assert_int_equal(nt_set(&n, "band2.gain", 6), 0);
		assert_int_equal(nt_run(&n, in + 2000, 333, o[k] + 2000, 333, blocks[k], false, NULL), 333);
		assert_int_equal(nt_set(&n, "band1.type", BANDPASS), 0);
		assert_int_equal(nt_set(&n, "band2.q", 2), 0);
		assert_int_equal(nt_run(&n, in + 2666, len - 1333, o[k] + 2666, len - 1333, blocks[k], true, NULL),
				 (long)(len - 1333));
		nt_free(&n);
	}
	assert_memory_equal(o[0], o[1], len * 2 * sizeof(float));
	free(in);
	free(o[0]);
	free(o[1]);
}

/* A type change glides: lowpass to highpass on a tone, no sample steps beyond the tone's own slope. */
static void test_type_change_glides(void **state)
{
	struct band_spec b[] = { { LOWPASS, 1000, 0, 0.707 } };
	struct nt_node n;
	size_t len = 9600;
	float *in = malloc(len * sizeof(float)), *out = malloc(len * sizeof(float));
	double jump = 0, w = 2 * M_PI * 1000 / RATE;

	setup_eq(&n, b, 1, NULL, VD_FORMAT_F32, 1);
	vd_gen_sine(in, len, 1, RATE, 1000, 0.5, 0);
	assert_int_equal(nt_run(&n, in, 4800, out, 4800, 480, false, NULL), 4800);
	assert_int_equal(nt_set(&n, "band1.type", HIGHPASS), 0);
	nt_assert_near(nt_get(&n, "band1.type"), HIGHPASS, 0);
	assert_int_equal(nt_run(&n, in + 4800, 4800, out + 4800, 4800, 480, false, NULL), 4800);
	for (size_t i = 1; i < len; i++)
		jump = fmax(jump, fabs(out[i] - out[i - 1]));
	nt_assert_le(jump, 0.5 * w * 1.1);
	/* both are -3 dB at the corner */
	nt_assert_near(vd_db(vd_tone_amplitude(out + 8000, 1600, 1, RATE, 1000) / 0.5), -3.01, 0.05);
	nt_free(&n);
	free(in);
	free(out);
}

/* A NaN or infinity in the input spoils only its own block, not the filter for good. */
static void test_nan_input_recovers(void **state)
{
	struct band_spec b[] = { { PEAKING, 1000, 6, 1 }, { LOWPASS, 8000, 0, 0.7 } };
	struct nt_node n;
	size_t len = 24000;
	float *in = malloc(len * sizeof(float)), *out = malloc(len * sizeof(float));

	setup_eq(&n, b, 2, NULL, VD_FORMAT_F32, 1);
	vd_gen_sine(in, len, 1, RATE, 1000, 0.25, 0);
	in[1000] = NAN;
	in[5000] = INFINITY;
	assert_int_equal(nt_run(&n, in, len, out, len, 480, false, NULL), (long)len);
	assert_true(isnan(out[1000]));
	for (size_t i = 1440; i < 4800; i++)
		assert_true(isfinite(out[i]));
	for (size_t i = 5280; i < len; i++)
		assert_true(isfinite(out[i]));
	nt_assert_near(vd_db(vd_tone_amplitude(out + 12000, 12000, 1, RATE, 1000) / 0.25),
		       analytic_db(b, 2, 1000), 0.01);
	nt_free(&n);
	free(in);
	free(out);
}

static void test_params(void **state)
{
	const char *const kv[] = { "band2.freq=2kHz", "band5.type=highshelf", "band5.gain=-3", NULL };
	struct nt_node n;
	struct vd_param_info info;
	struct vd_audio_format f;

	assert_int_equal(nt_init(&n, &vd_node_eq, kv, 1, RATE), 0);
	vd_audio_format_init(&f, VD_FORMAT_S16, RATE, 2);
	assert_int_equal(nt_prepare(&n, &f, 480), 0);
	assert_int_equal(n.in[0].format, VD_FORMAT_F32);
	nt_assert_near(nt_get(&n, "band2.freq"), 2000, 0);
	nt_assert_near(nt_get(&n, "band2.type"), PEAKING, 0);
	nt_assert_near(nt_get(&n, "band2.q"), M_SQRT1_2, 1e-12);
	nt_assert_near(nt_get(&n, "band5.type"), HIGHSHELF, 0);
	nt_assert_near(nt_get(&n, "band5.gain"), -3, 0);
	assert_int_equal(nt_param(&n, "band1.freq"), -ENOENT);
	assert_int_equal(vd_node_eq.enum_params(n.self, 4, &info), 0);
	assert_string_equal(info.name, "band5.type");
	assert_int_equal(info.type, VD_PARAM_ENUM);
	assert_int_equal(info.n_items, 8);
	assert_string_equal(info.items[7], "allpass");
	assert_int_equal(vd_node_eq.enum_params(n.self, 5, &info), 0);
	nt_assert_near(info.max, 24000, 0);
	assert_int_equal(vd_node_eq.enum_params(n.self, 8, &info), -ENOENT);
	assert_int_equal(nt_set(&n, "band2.freq", 24000), -EINVAL);
	assert_int_equal(nt_set(&n, "band2.type", 8), -EINVAL);
	assert_int_equal(nt_set(&n, "band2.type", 1.5), -EINVAL);
	assert_int_equal(nt_set(&n, "band2.q", 0), -EINVAL);
	assert_int_equal(nt_set(&n, "band2.gain", NAN), -EINVAL);
	assert_int_equal(nt_set(&n, "band2.gain", 7.5), 0);
	nt_assert_near(nt_get(&n, "band2.gain"), 7.5, 0);
	nt_free(&n);
}

static void expect_error(const char *const *kv, int prepare_rate, const char *msg)
{
	struct nt_node n;
	struct vd_audio_format f;
	int res = nt_init(&n, &vd_node_eq, kv, 1, RATE);

	if (prepare_rate) {
		assert_int_equal(res, 0);
		vd_audio_format_init(&f, VD_FORMAT_F32, (uint32_t)prepare_rate, 2);
		res = nt_prepare(&n, &f, 480);
	}
	assert_int_equal(res, -EINVAL);
	assert_string_equal(n.err.msg, msg);
	nt_free(&n);
}

static void test_bad_properties(void **state)
{
	const char *const a[] = { "band1.type=wobble", NULL };
	const char *const b[] = { "band17.freq=100", NULL };
	const char *const c[] = { "band1.freq=10dB", NULL };
	const char *const d[] = { "band3.freq=30kHz", NULL };
	const char *const e[] = { "band1.q=0", NULL };
	const char *const f[] = { "band1.gain=50dB", NULL };

	expect_error(a, 0, "'band1.type' = 'wobble' is not one of: peaking, lowshelf, highshelf, "
			   "lowpass, highpass, notch, bandpass, allpass");
	expect_error(b, 0, "unknown property 'band17.freq' for eq");
	expect_error(c, 0, "'band1.freq': unit 'dB' does not fit here (Hz or kHz)");
	expect_error(d, 44100, "'band3.freq' = 30000 Hz is not below half the rate (22050 Hz)");
	expect_error(e, 0, "'band1.q' = 0 is out of range [0.01, 100]");
	expect_error(f, 0, "'band1.gain' = 50dB is out of range [-40, 40] (dB)");
}

static void test_no_bands_passthrough_and_eos(void **state)
{
	struct nt_node n;
	float in[960], out[960];
	bool eos;

	setup_eq(&n, NULL, 0, NULL, VD_FORMAT_F32, 2);
	for (int i = 0; i < 960; i++)
		in[i] = (float)i / 960.0f;
	assert_int_equal(nt_run(&n, in, 480, out, 480, 100, true, &eos), 480);
	assert_true(eos);
	assert_memory_equal(in, out, sizeof(in));
	nt_free(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_response_peaking),
		cmocka_unit_test(test_response_shelves),
		cmocka_unit_test(test_response_pass),
		cmocka_unit_test(test_response_notch_allpass),
		cmocka_unit_test(test_response_cascade),
		cmocka_unit_test(test_zero_gain_band_is_transparent),
		cmocka_unit_test(test_boost_cut_snr),
		cmocka_unit_test(test_channels_independent_and_f64),
		cmocka_unit_test(test_runtime_sweep_is_smooth),
		cmocka_unit_test(test_random_changes_stay_stable),
		cmocka_unit_test(test_block_size_invariance),
		cmocka_unit_test(test_type_change_glides),
		cmocka_unit_test(test_nan_input_recovers),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_bad_properties),
		cmocka_unit_test(test_no_bands_passthrough_and_eos),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
