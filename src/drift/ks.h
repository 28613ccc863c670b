/* ks: two-sample Kolmogorov-Smirnov test and 1-Wasserstein distance on 1-D
 * samples, computed as scipy.stats (1.10) ks_2samp (method "auto", two-sided)
 * and wasserstein_distance do, to the last few bits. Pure computation. */
#ifndef FLEETDECK_KS_H
#define FLEETDECK_KS_H

#include <stddef.h>

/* Above this size of the larger sample the p-value comes from the asymptotic
 * (one-sample Kolmogorov) distribution; at or below it the exact one is tried. */
#define KS_MAX_EXACT_N 10000

enum ks_method {
	KS_METHOD_EXACT,       /* exact distribution of the two-sample statistic */
	KS_METHOD_ASYMP,       /* larger sample above KS_MAX_EXACT_N */
	KS_METHOD_ASYMP_FALLBACK, /* exact tried, left [0, 1]; asymptotic used */
};

typedef struct ks_result {
	double statistic; /* D = sup |F1 - F2|; after an exact attempt, rounded to h / lcm(n1, n2) */
	double pvalue;    /* in [0, 1], or NaN where scipy gives NaN */
	enum ks_method method;
} ks_result;

/* The test on a (na values) and b (nb values), both non-empty and free of NaN
 * (the caller checks; a NaN gives an unspecified result). The inputs are not
 * modified. Returns 0, or -1 if a sample is empty. */
int ks_2samp(const double *a, size_t na, const double *b, size_t nb, ks_result *out);

/* How the p-value is found: scipy's method "auto" (exact up to KS_MAX_EXACT_N,
 * as ks_2samp) or "asymp" (always the asymptotic distribution: a few µs where
 * the exact one of 1,000 against 500 samples takes 0.1 to 2 ms). The statistic
 * is the one "auto" reports in both modes (up to KS_MAX_EXACT_N rounded to the
 * lattice h / lcm(n1, n2)), so a verdict at a threshold never depends on the mode. */
enum ks_mode { KS_MODE_AUTO, KS_MODE_ASYMP };

/* ks_2samp on samples already sorted ascending (ks_sort), with the p-value found
 * as mode says: the same figures as ks_2samp for KS_MODE_AUTO, without copying
 * or sorting. Returns 0, or -1 if a sample is empty. */
int ks_2samp_sorted(const double *xs, size_t na, const double *ys, size_t nb, enum ks_mode mode, ks_result *out);

/* Sorts v ascending in place (a radix sort on the bits; v free of NaN). */
void ks_sort(double *v, size_t n);

/* The 1-Wasserstein distance between the empirical distributions of a and b:
 * the area between their two CDFs. NaN if a sample is empty. */
double ks_wasserstein(const double *a, size_t na, const double *b, size_t nb);

/* ks_wasserstein on sorted samples; scratch: room for na + nb doubles, or NULL
 * (then allocated). */
double ks_wasserstein_sorted(const double *xs, size_t na, const double *ys, size_t nb, double *scratch);

/* ks_2samp_sorted and ks_wasserstein_sorted in one walk over the merged samples
 * (the same figures, to the bit). scratch: room for na + nb doubles, or NULL.
 * Returns 0, or -1 if a sample is empty. */
int ks_both_sorted(const double *xs, size_t na, const double *ys, size_t nb, enum ks_mode mode, double *scratch,
		   ks_result *out, double *wasserstein);

/* Survival function Pr(D_n >= d) of the one-sample two-sided Kolmogorov-Smirnov
 * statistic for a sample of n (scipy's kstwo.sf). NaN for n < 1. */
double ks_kstwo_sf(double d, double n);

/* The one-sided Smirnov survival function Pr(D+_n >= d) (scipy.special.smirnov). */
double ks_smirnov_sf(int n, double d);

/* Pr(D_{n,n} >= h/n) for two samples of n, and the same for sizes m and n with
 * gcd g and the threshold h / lcm(m, n): the exact two-sample distribution. */
double ks_exact_equal(long n, long h);
double ks_exact_unequal(long m, long n, long g, long h);

#endif
