/* bench_drift: times ks_2samp (statistic and p-value) and the Wasserstein distance on
 * sample pairs of 500, 5,000 and 20,000, then a live fleet's drift: 1,000 devices x 4
 * features x 500-sample windows against 1,000-sample baselines, per device and pooled
 * per factory (not a test; prints ms). */
#include "drift/drift.h"
#include "drift/ks.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* xorshift64* and Box-Muller: the same samples on every run */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static double uniform01(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return ((rng_state * 0x2545F4914F6CDD1Du) >> 11) * (1.0 / 9007199254740992.0);
}

static double normal(double mu, double sigma)
{
	double u = uniform01(), v = uniform01();
	if (u < 1e-300)
		u = 1e-300;
	return mu + sigma * sqrt(-2 * log(u)) * cos(2 * 3.14159265358979323846 * v);
}

static const char *method_name(enum ks_method m)
{
	return m == KS_METHOD_EXACT ? "exact" : m == KS_METHOD_ASYMP ? "asymptotic" : "fallback";
}

static void run(size_t n1, size_t n2, double shift, const char *what)
{
	double *a = malloc(n1 * sizeof *a), *b = malloc(n2 * sizeof *b);
	for (size_t i = 0; i < n1; i++)
		a[i] = normal(120, 30);
	for (size_t i = 0; i < n2; i++)
		b[i] = normal(120 + shift, 30);
	ks_result r = { 0 };
	int reps = 0;
	double t0 = now_ms(), t;
	do {
		ks_2samp(a, n1, b, n2, &r);
		reps++;
		t = now_ms() - t0;
	} while (t < 300 && reps < 1000);
	double ks_ms = t / reps;
	reps = 0;
	volatile double w = 0;
	t0 = now_ms();
	do {
		w = ks_wasserstein(a, n1, b, n2);
		reps++;
		t = now_ms() - t0;
	} while (t < 300 && reps < 1000);
	printf("%6zu vs %6zu  %-9s  KS %.4f p %-10.3g %-10s  ks_2samp %9.3f ms   wasserstein %7.3f ms\n", n1, n2, what,
	       r.statistic, r.pvalue, method_name(r.method), ks_ms, t / reps);
	(void)w;
	free(a);
	free(b);
}

/* CPU time of this process: under a machine's load the fairer figure. */
static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A /drift document of n samples per feature, shifted by shift sigmas. */
static drift_set *make_set(size_t n, double shift)
{
	static const char *names[] = { "brightness", "contrast", "mean_intensity", "std_intensity" };
	static const double mu[] = { 0.5, 0.37, 128, 48 }, sd[] = { 0.06, 0.05, 16, 6 };
	size_t cap = 64 + 4 * n * 24, len = 0;
	char *buf = xmalloc(cap);
	len += (size_t)snprintf(buf + len, cap - len, "{\"window\": %zu, \"features\": {", n);
	for (int f = 0; f < 4; f++) {
		len += (size_t)snprintf(buf + len, cap - len, "%s\"%s\": [", f ? ", " : "", names[f]);
		for (size_t i = 0; i < n; i++)
			len += (size_t)snprintf(buf + len, cap - len, "%s%.6g", i ? "," : "",
						normal(mu[f] + shift * sd[f], sd[f]));
		len += (size_t)snprintf(buf + len, cap - len, "]");
	}
	len += (size_t)snprintf(buf + len, cap - len, "}}");
	char *err = NULL;
	drift_set *s = drift_parse(buf, len, &err);
	if (!s) {
		fprintf(stderr, "bench_drift: %s\n", err);
		exit(1);
	}
	free(buf);
	return s;
}

/* Every device's window against its baseline once: returns wall ms (*cpu: CPU ms), counts drifted. */
static double fleet_pass(const drift_set *base, const drift_baseline *prep, drift_set **win, size_t ndev,
			 enum ks_mode mode, size_t *ndrift, double *cpu)
{
	drift_opts o = { .threshold = DRIFT_DEFAULT_THRESHOLD, .mode = mode };
	*ndrift = 0;
	double t0 = now_ms(), c0 = cpu_ms();
	for (size_t d = 0; d < ndev; d++) {
		char *err = NULL;
		drift_report *r = prep ? drift_compare_baseline(prep, win[d], &o, &err) : drift_compare(base, win[d], &o, &err);
		if (!r) {
			fprintf(stderr, "bench_drift: %s\n", err);
			exit(1);
		}
		*ndrift += r->drifted;
		drift_report_free(r);
	}
	*cpu = cpu_ms() - c0;
	return now_ms() - t0;
}

static void fleet(double drifted_share)
{
	enum { NDEV = 1000, WINDOW = 500, BASE = 1000, FACTORIES = 5 };
	drift_set *base = make_set(BASE, 0);
	drift_set **win = xcalloc(NDEV, sizeof *win);
	size_t every = drifted_share > 0 ? (size_t)(1.0 / drifted_share + 0.5) : 0;
	for (size_t d = 0; d < NDEV; d++)
		win[d] = make_set(WINDOW, every && d % every == 0 ? 1.0 : 0.0);
	size_t nd;
	printf("\nfleet: %d devices x 4 features x %d samples vs %d-sample baselines, %.0f%% drifted by 1 sigma\n", NDEV,
	       WINDOW, BASE, drifted_share * 100);
	double t0 = now_ms();
	drift_baseline *prep = drift_baseline_new(base);
	double prep_ms = now_ms() - t0;
	double best_asymp = 1e9, best_cpu = 1e9, cpu;
	for (int rep = 0; rep < 5; rep++) {
		double t = fleet_pass(base, prep, win, NDEV, KS_MODE_ASYMP, &nd, &cpu);
		best_asymp = t < best_asymp ? t : best_asymp;
		best_cpu = cpu < best_cpu ? cpu : best_cpu;
	}
	printf("  baseline prepared (sorted once): %8.3f ms\n", prep_ms);
	printf("  live path (sorted baseline, asymptotic p): %8.1f ms wall, %8.1f ms CPU for %d devices (best of 5), "
	       "%zu drifted\n",
	       best_asymp, best_cpu, NDEV, nd);
	double t_auto = fleet_pass(base, prep, win, NDEV, KS_MODE_AUTO, &nd, &cpu);
	printf("  sorted baseline, exact p (scipy auto):     %8.1f ms wall, %8.1f ms CPU\n", t_auto, cpu);
	double unprep = fleet_pass(base, NULL, win, NDEV, KS_MODE_AUTO, &nd, &cpu);
	printf("  drift_compare as `fleetdeck drift` does:   %8.1f ms wall, %8.1f ms CPU\n", unprep, cpu);
	/* factories: each one's windows pooled against the baseline */
	double tp = now_ms(), cp = cpu_ms();
	size_t per = NDEV / FACTORIES, fdrift = 0;
	for (size_t f = 0; f < FACTORIES; f++) {
		char *err = NULL;
		drift_set *pool = drift_set_pool((const drift_set *const *)win + f * per, per, &err);
		drift_opts o = { .threshold = DRIFT_DEFAULT_THRESHOLD, .mode = KS_MODE_ASYMP };
		drift_report *r = pool ? drift_compare_baseline(prep, pool, &o, &err) : NULL;
		if (!r) {
			fprintf(stderr, "bench_drift: %s\n", err);
			exit(1);
		}
		fdrift += r->drifted;
		drift_report_free(r);
		drift_set_free(pool);
	}
	printf("  %d factories pooled (%zu windows each):    %8.1f ms wall, %8.1f ms CPU, %zu drifted\n", FACTORIES, per,
	       now_ms() - tp, cpu_ms() - cp, fdrift);
	drift_baseline_free(prep);
	for (size_t d = 0; d < NDEV; d++)
		drift_set_free(win[d]);
	free(win);
	drift_set_free(base);
}

int main(void)
{
	static const size_t sizes[][2] = { { 500, 500 }, { 5000, 5000 }, { 20000, 20000 }, { 1000, 500 }, { 5000, 4999 } };
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		run(sizes[i][0], sizes[i][1], 0, "same");
		run(sizes[i][0], sizes[i][1], 6, "shifted");
		run(sizes[i][0], sizes[i][1], 30, "far");
	}
	fleet(0.05);
	fleet(1.0);
	return 0;
}
