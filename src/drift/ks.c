/* ks: the two-sample Kolmogorov-Smirnov statistic and its exact p-value, and the
 * 1-Wasserstein distance, following scipy 1.10's choices so the numbers agree. */
#include "drift/ks.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return (a > b) - (a < b);
}

static double *sorted_copy(const double *v, size_t n)
{
	double *c = xmalloc(n * sizeof *c);
	memcpy(c, v, n * sizeof *c);
	qsort(c, n, sizeof *c, cmp_double);
	return c;
}

static long gcd_long(long a, long b)
{
	while (b) {
		long t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* Round half to even, as numpy's round (the default rounding mode of the FPU). */
static double round_even(double x)
{
	double r = floor(x);
	double diff = x - r;
	if (diff > 0.5)
		return r + 1;
	if (diff < 0.5)
		return r;
	return fmod(r, 2.0) == 0 ? r : r + 1;
}

/* The probability that two samples of n have D >= h/n. With A_k the ratio
 * binom(2n, n - kh) / binom(2n, n), it is 2 (A_1 - A_2 + A_3 - ...); the
 * alternating sum is evaluated from the innermost term outwards,
 * P = A_1 (1 - A_2/A_1 (1 - ...)), each ratio a product of h simple factors,
 * which avoids the cancellation of the plain sum. */
double ks_exact_equal(long n, long h)
{
	double P = 0.0;
	long k = (long)floor((double)n / (double)h);
	for (; k >= 0; k--) {
		double p1 = 1.0;
		for (long j = 0; j < h; j++)
			p1 = (double)(n - k * h - j) * p1 / (double)(n + k * h + j + 1);
		P = p1 * (1.0 - P);
	}
	return 2 * P;
}

/* The probability that a lattice path from (0, 0) to (m, n) leaves the band
 * |x/m - y/n| < h / lcm(m, n) at some point: the two-sample p-value. The
 * recursion runs over columns x, keeping only the band's window of rows; each
 * cell holds the probability that a path through it has left the band before,
 * so the values stay in [0, 1] (a weighted mean of the two predecessors, with
 * weights x / (x + y) and y / (x + y)), and no binomial coefficient is ever
 * formed. */
double ks_exact_unequal(long m, long n, long g, long h)
{
	if (m < n) {
		long t = m;
		m = n;
		n = t;
	}
	long mg = m / g, ng = n / g;
	long minj = 0, maxj = (long)ceil((double)h / (double)mg);
	if (maxj > n + 1)
		maxj = n + 1;
	long curlen = maxj - minj;
	long lenA = 2 * maxj + 2;
	if (lenA > n + 1)
		lenA = n + 1;
	double *A = xmalloc((size_t)lenA * sizeof *A);
	for (long i = 0; i < lenA; i++)
		A[i] = 1.0;
	for (long i = minj; i < maxj && i < lenA; i++)
		A[i] = 0.0;
	double result;
	for (long i = 1; i <= m; i++) {
		long lastminj = minj, lastlen = curlen;
		minj = (long)floor((double)(ng * i - h) / (double)mg) + 1;
		if (minj < 0)
			minj = 0;
		if (minj > n)
			minj = n;
		maxj = (long)ceil((double)(ng * i + h) / (double)mg);
		if (maxj > n + 1)
			maxj = n + 1;
		if (maxj <= minj) {
			free(A);
			return 1.0;
		}
		double val = minj == 0 ? 0.0 : 1.0;
		for (long jj = 0; jj < maxj - minj; jj++) {
			long j = jj + minj;
			val = (A[jj + minj - lastminj] * (double)i + val * (double)j) / (double)(i + j);
			A[jj] = val;
		}
		curlen = maxj - minj;
		if (lastlen > curlen) {
			long end = maxj - minj + (lastlen - curlen);
			if (end > lenA)
				end = lenA;
			for (long t = maxj - minj; t < end; t++)
				A[t] = 1.0;
		}
	}
	result = A[maxj - minj - 1];
	free(A);
	return result;
}

int ks_2samp(const double *a, size_t na, const double *b, size_t nb, ks_result *out)
{
	if (na == 0 || nb == 0)
		return -1;
	double *x = sorted_copy(a, na), *y = sorted_copy(b, nb);
	double n1 = (double)na, n2 = (double)nb;
	/* The CDF difference at every pooled value (searchsorted, side right):
	 * only the distinct values matter for its extremes. */
	double maxdiff = -INFINITY, mindiff = INFINITY;
	size_t i = 0, j = 0;
	while (i < na || j < nb) {
		double v = i < na && (j >= nb || x[i] <= y[j]) ? x[i] : y[j];
		while (i < na && x[i] <= v)
			i++;
		while (j < nb && y[j] <= v)
			j++;
		double diff = (double)i / n1 - (double)j / n2;
		if (diff > maxdiff)
			maxdiff = diff;
		if (diff < mindiff)
			mindiff = diff;
	}
	free(x);
	free(y);
	double minS = -mindiff;
	if (minS < 0)
		minS = 0;
	if (minS > 1)
		minS = 1;
	double d = minS > maxdiff ? minS : maxdiff;

	long g = gcd_long((long)na, (long)nb);
	double prob = NAN;
	enum ks_method method = KS_METHOD_ASYMP;
	if ((na > nb ? na : nb) <= KS_MAX_EXACT_N) {
		long lcm = ((long)na / g) * (long)nb;
		long h = (long)round_even(d * (double)lcm);
		d = (double)h / (double)lcm;
		if (h == 0) {
			prob = 1.0;
			method = KS_METHOD_EXACT;
		} else {
			prob = na == nb ? ks_exact_equal((long)na, h) : ks_exact_unequal((long)na, (long)nb, g, h);
			method = prob >= 0 && prob <= 1 ? KS_METHOD_EXACT : KS_METHOD_ASYMP_FALLBACK;
		}
	}
	if (method != KS_METHOD_EXACT) {
		double m = n1 > n2 ? n1 : n2, n = n1 > n2 ? n2 : n1;
		double en = m * n / (m + n);
		prob = ks_kstwo_sf(d, round_even(en));
	}
	if (prob < 0)
		prob = 0;
	if (prob > 1)
		prob = 1;
	out->statistic = d;
	out->pvalue = prob;
	out->method = method;
	return 0;
}

/* Pairwise summation in numpy's order (blocks of 128 summed with eight running
 * sums, larger arrays split near the middle on a multiple of eight), so a long
 * sum agrees with numpy's to the bit. */
static double pairwise_sum(const double *a, size_t n)
{
	if (n < 8) {
		double res = 0.0;
		for (size_t i = 0; i < n; i++)
			res += a[i];
		return res;
	}
	if (n <= 128) {
		double r[8];
		for (int k = 0; k < 8; k++)
			r[k] = a[k];
		size_t i;
		for (i = 8; i < n - (n % 8); i += 8)
			for (int k = 0; k < 8; k++)
				r[k] += a[i + (size_t)k];
		double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
		for (; i < n; i++)
			res += a[i];
		return res;
	}
	size_t n2 = n / 2;
	n2 -= n2 % 8;
	return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

double ks_wasserstein(const double *a, size_t na, const double *b, size_t nb)
{
	if (na == 0 || nb == 0)
		return NAN;
	double *x = sorted_copy(a, na), *y = sorted_copy(b, nb);
	size_t n = na + nb;
	double *all = xmalloc(n * sizeof *all);
	/* The pooled values in order, by merging. */
	size_t i = 0, j = 0, k = 0;
	while (i < na || j < nb)
		all[k++] = (j >= nb || (i < na && x[i] <= y[j])) ? x[i++] : y[j++];
	/* Between consecutive pooled values both CDFs are constant; the term is
	 * |F_a - F_b| times the gap, every gap kept (even zero ones) so that the
	 * sum runs over the same array numpy sums. */
	double *terms = xmalloc(n * sizeof *terms); /* n - 1 used */
	i = j = 0;
	for (k = 0; k + 1 < n; k++) {
		double v = all[k];
		while (i < na && x[i] <= v)
			i++;
		while (j < nb && y[j] <= v)
			j++;
		double fa = (double)i / (double)na, fb = (double)j / (double)nb;
		terms[k] = fabs(fa - fb) * (all[k + 1] - all[k]);
	}
	double s = pairwise_sum(terms, n - 1);
	free(terms);
	free(all);
	free(x);
	free(y);
	return s;
}
