/* bench_drift: times ks_2samp (statistic and p-value) and the Wasserstein distance on
 * sample pairs of 500, 5,000 and 20,000 (not a test; prints ms per call). */
#include "drift/ks.h"

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

int main(void)
{
	static const size_t sizes[][2] = { { 500, 500 }, { 5000, 5000 }, { 20000, 20000 }, { 1000, 500 }, { 5000, 4999 } };
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		run(sizes[i][0], sizes[i][1], 0, "same");
		run(sizes[i][0], sizes[i][1], 6, "shifted");
		run(sizes[i][0], sizes[i][1], 30, "far");
	}
	return 0;
}
