/* kolmogn: the distribution of the one-sample two-sided Kolmogorov-Smirnov
 * statistic D_n (its survival function), with the algorithm for each region of
 * (n, d) that scipy 1.10 chooses (Simard and L'Ecuyer's recipe): Ruben-Gambino
 * closed forms at the ends, Durbin's matrix (Marsaglia-Tsang-Wang), Pomeranz's
 * recursion, the Pelz-Good series, and twice the one-sided Smirnov tail where
 * the two one-sided events cannot both happen. */
#include "drift/ks.h"
#include "util/xalloc.h"

#include <float.h>
#include <stdbool.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define E128 128
#define MIN_LOG (-708)

static const double PI = 3.14159265358979323846;

static double clip01(double p)
{
	return p < 0 ? 0 : p > 1 ? 1 : p;
}

static long double clip01l(long double p)
{
	return p < 0 ? 0 : p > 1 ? 1 : p;
}

/* log(n! / n^n) by Stirling's series. */
static double log_nfact_over_npown(double n)
{
	static const double c[] = {
		-2.955065359477124183e-2, 6.4102564102564102564e-3, -1.9175269175269175269e-3,
		8.4175084175084175084e-4, -5.952380952380952381e-4, 7.9365079365079365079e-4,
		-2.7777777777777777778e-3, 8.3333333333333333333e-2,
	};
	double rn = 1.0 / n, x = rn / n, y = 0;
	for (size_t i = 0; i < sizeof c / sizeof *c; i++)
		y = y * x + c[i];
	return log(n) / 2 - n + log(2 * PI) / 2 + rn * y;
}

/* ---- Durbin's matrix: Pr(D_n < d) = n!/n^n (H^n)_{kk} ---- */

static void matmul(const double *a, const double *b, double *out, int m)
{
	for (int i = 0; i < m; i++)
		for (int j = 0; j < m; j++) {
			double s = 0;
			for (int l = 0; l < m; l++)
				s += a[i * m + l] * b[l * m + j];
			out[i * m + j] = s;
		}
}

static long double cdf_durbin(int n, double d)
{
	if (d >= 1.0)
		return 1.0;
	double nd = n * d;
	if (nd <= 0.5)
		return 0.0;
	int k = (int)ceil(nd);
	double h = k - nd;
	int m = 2 * k - 1;
	size_t mm = (size_t)m * (size_t)m;
	double *H = xcalloc(mm, sizeof *H), *P = xcalloc(mm, sizeof *P), *T = xmalloc(mm * sizeof *T);
	double *v = xmalloc((size_t)m * sizeof *v), *w = xmalloc((size_t)m * sizeof *w);
	double fac = 1.0;
	for (int j = 1; j <= m; j++) {
		v[j - 1] = 1.0 - pow(h, j);
		w[j - 1] = fac;
		fac /= j;
		v[j - 1] *= fac;
	}
	double tt = pow(fmax(2 * h - 1.0, 0), m) - 2 * pow(h, m);
	v[m - 1] = (1.0 + tt) * fac;
	/* Column i (i >= 1) holds 1/(r-i+1)! from row i-1 down; the first column
	 * and the last row are the corrected v. */
	for (int i = 1; i < m; i++)
		for (int r = i - 1; r < m; r++)
			H[r * m + i] = w[r - (i - 1)];
	for (int r = 0; r < m; r++)
		H[r * m] = v[r];
	for (int c = 0; c < m; c++)
		H[(m - 1) * m + c] = v[m - 1 - c];
	for (int r = 0; r < m; r++)
		P[r * m + r] = 1.0;
	/* H^n by squaring, with H rescaled by 2^-128 whenever its (k, k) entry
	 * grows past 2^128; the exponents are kept apart. */
	long expnt = 0, Hexpnt = 0;
	for (int nn = n; nn > 0; nn /= 2) {
		if (nn % 2) {
			matmul(P, H, T, m);
			memcpy(P, T, mm * sizeof *T);
			expnt += Hexpnt;
		}
		matmul(H, H, T, m);
		memcpy(H, T, mm * sizeof *T);
		Hexpnt *= 2;
		if (fabs(H[(k - 1) * m + k - 1]) > ldexp(1.0, E128)) {
			for (size_t t = 0; t < mm; t++)
				H[t] /= ldexp(1.0, E128);
			Hexpnt += E128;
		}
	}
	double p = P[(k - 1) * m + k - 1];
	free(H), free(P), free(T), free(v), free(w);
	/* Multiply by n!/n^n one factor at a time; once a rescale is needed the
	 * rest is carried in extended precision (as numpy's long double scalars). */
	bool ext = false;
	long double pl = 0;
	for (int i = 1; i <= n; i++) {
		if (!ext) {
			p = i * p / n;
			if (fabs(p) < ldexp(1.0, -E128)) {
				pl = (long double)p * ldexpl(1.0L, E128);
				ext = true;
				expnt -= E128;
			}
		} else {
			pl = i * pl / n;
			if (fabsl(pl) < ldexpl(1.0L, -E128)) {
				pl *= ldexpl(1.0L, E128);
				expnt -= E128;
			}
		}
	}
	if (!ext)
		pl = p;
	if (expnt != 0)
		pl = ext ? ldexpl(pl, (int)expnt) : (long double)ldexp(p, (int)expnt);
	return clip01l(pl);
}

/* ---- Pomeranz's recursion ---- */

static void pomeranz_j1j2(int i, int n, int ll, int ceilf, int roundf, int *pj1, int *pj2)
{
	int j1, j2;
	if (i == 0) {
		j1 = -ll - ceilf - 1;
		j2 = ll + ceilf - 1;
	} else {
		int half = (i + 1) / 2, odd = (i + 1) % 2;
		if (odd == 0) {
			if (half == n + 1) {
				j1 = n - ll - ceilf - 1;
				j2 = n + ll + ceilf - 1;
			} else {
				j1 = half - 1 - ll - roundf - 1;
				j2 = half + ll - 1 + ceilf - 1;
			}
		} else {
			j1 = half - 1 - ll - 1;
			j2 = half + ll + roundf - 1;
		}
	}
	*pj1 = j1 + 2 > 0 ? j1 + 2 : 0;
	*pj2 = j2 < n ? j2 : n;
}

static long double cdf_pomeranz(int n, double x)
{
	double t = n * x;
	int ll = (int)floor(t);
	double f = 1.0 * (t - ll);
	double g = fmin(f, 1.0 - f);
	int ceilf = f > 0 ? 1 : 0, roundf = f > 0.5 ? 1 : 0;
	int npwrs = 2 * (ll + 1);
	double *gp = xmalloc((size_t)npwrs * sizeof *gp), *g2p = xmalloc((size_t)npwrs * sizeof *g2p);
	double *g12p = xmalloc((size_t)npwrs * sizeof *g12p);
	gp[0] = g2p[0] = g12p[0] = 1.0;
	double a1 = g / n, a2 = 2 * g / n, a3 = (1 - 2 * g) / n;
	for (int m = 1; m < npwrs; m++) {
		gp[m] = gp[m - 1] * a1 / m;
		g2p[m] = g2p[m - 1] * a2 / m;
		g12p[m] = g12p[m - 1] * a3 / m;
	}
	double *V0 = xcalloc((size_t)npwrs, sizeof *V0), *V1 = xcalloc((size_t)npwrs, sizeof *V1);
	V1[0] = 1;
	int V0s = 0, V1s = 0;
	long expnt = 0;
	int j1, j2;
	pomeranz_j1j2(0, n, ll, ceilf, roundf, &j1, &j2);
	for (int i = 1; i < 2 * n + 2; i++) {
		int k1 = j1;
		double *tv = V0;
		V0 = V1;
		V1 = tv;
		int ts = V0s;
		V0s = V1s;
		V1s = ts;
		memset(V1, 0, (size_t)npwrs * sizeof *V1);
		pomeranz_j1j2(i, n, ll, ceilf, roundf, &j1, &j2);
		const double *pw = (i == 1 || i == 2 * n + 1) ? gp : (i % 2 ? g2p : g12p);
		int ln2 = j2 - k1 + 1;
		if (ln2 > 0) {
			/* The entries conv_start .. conv_start + conv_len - 1 of the full
			 * convolution of V0's window with the powers. */
			const double *src = V0 + (k1 - V0s);
			int cstart = j1 - k1, clen = j2 - j1 + 1;
			double vmax = -INFINITY;
			for (int c = 0; c < clen; c++) {
				int kk = cstart + c;
				double s = 0;
				int lo = kk - (ln2 - 1) > 0 ? kk - (ln2 - 1) : 0, hi = kk < ln2 - 1 ? kk : ln2 - 1;
				for (int q = lo; q <= hi; q++)
					s += src[q] * pw[kk - q];
				V1[c] = s;
			}
			for (int c = 0; c < npwrs; c++)
				if (V1[c] > vmax)
					vmax = V1[c];
			if (0 < vmax && vmax < ldexp(1.0, -E128)) {
				for (int c = 0; c < npwrs; c++)
					V1[c] *= ldexp(1.0, E128);
				expnt -= E128;
			}
			V1s = V0s + j1 - k1;
		}
	}
	double ans = V1[n - V1s];
	free(gp), free(g2p), free(g12p), free(V0), free(V1);
	bool ext = false;
	long double al = 0;
	for (int m = 1; m <= n; m++) {
		if (!ext) {
			if (fabs(ans) > ldexp(1.0, E128)) {
				al = (long double)ans * ldexpl(1.0L, -E128);
				ext = true;
				expnt += E128;
				al *= m;
			} else {
				ans *= m;
			}
		} else {
			if (fabsl(al) > ldexpl(1.0L, E128)) {
				al *= ldexpl(1.0L, -E128);
				expnt += E128;
			}
			al *= m;
		}
	}
	if (!ext)
		al = ans;
	if (expnt != 0)
		al = ext ? ldexpl(al, (int)expnt) : (long double)ldexp(ans, (int)expnt);
	return clip01l(al);
}

/* ---- Pelz-Good asymptotic series (large n) ---- */

static double cdf_pelzgood(int n, double x)
{
	if (x <= 0.0)
		return 0.0;
	if (x >= 1.0)
		return 1.0;
	const double pi2 = PI * PI, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
	const double sqrt2pi = sqrt(2 * PI);
	double z = sqrt((double)n) * x;
	double z2 = pow(z, 2), z3 = pow(z, 3), z4 = pow(z, 4), z6 = pow(z, 6);
	double qlog = -pi2 / 8 / z2;
	if (qlog < MIN_LOG)
		return 0.0;
	double q = exp(qlog);
	double k1a = -z2, k1b = pi2 / 4;
	double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4, k2c = pi4 * (1 - 2 * z2) / 16;
	double k3d = pi6 * (5 - 30 * z2) / 64;
	double k3c = pi4 * (-60 * z2 + 212 * z4) / 16;
	double k3b = pi2 * (135 * z4 - 96 * z6) / 4;
	double k3a = -30 * z6 - 90 * pow(z, 8);
	double K[4] = { 0, 0, 0, 0 };
	int maxk = (int)ceil(16 * z / PI);
	for (int k = maxk; k > 0; k--) {
		double m = 2 * k - 1;
		double m2 = pow(m, 2), m4 = pow(m, 4), m6 = pow(m, 6);
		double qp = pow(q, 8 * k);
		double c[4] = { 1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
				k3a + k3b * m2 + k3c * m4 + k3d * m6 };
		for (int t = 0; t < 4; t++)
			K[t] = K[t] * qp + c[t];
	}
	double den[4] = { z, 6 * z4, 72 * pow(z, 7), 6480 * pow(z, 10) };
	for (int t = 0; t < 4; t++)
		K[t] = K[t] * q * sqrt2pi / den[t];
	double q2 = exp(-pi2 / 2 / z2);
	double s2 = 0, s3 = 0;
	double sqrt3z = sqrt(3.0) * z;
	for (int k = maxk; k > 0; k--) {
		double k2 = (double)k * k;
		double qk = pow(q2, k2);
		double kpi = PI * k;
		s2 += k2 * qk;
		s3 += (sqrt3z + kpi) * (sqrt3z - kpi) * k2 * qk;
	}
	K[2] += s2 * (pi2 * sqrt2pi / (-36 * z3));
	K[3] += s3 * (pi2 * sqrt2pi / (216 * z6));
	double sum = 0;
	for (int t = 0; t < 4; t++)
		sum += K[t] / pow((double)n, t / 2.0);
	return sum;
}

/* ---- One-sided Smirnov tail ---- */

/* Pr(D+_n >= d) = d sum_{v=0}^{floor(n(1-d))} C(n,v) (d + v/n)^(v-1) (1 - d - v/n)^(n-v),
 * every term positive; the terms are formed from logarithms in extended
 * precision, the binomial coefficient carried along as a logarithm. */
double ks_smirnov_sf(int n, double d)
{
	if (!(n > 0 && d >= 0.0 && d <= 1.0))
		return NAN;
	if (n == 1)
		return 1 - d;
	if (d == 0.0)
		return 1.0;
	if (d == 1.0)
		return 0.0;
	/* floor(n d) and the fraction, from the exact product */
	double nx = n * d, err = fma((double)n, d, -nx);
	double fl = floor(nx);
	long double alpha = (long double)(nx - fl) + err;
	if (alpha < 0) {
		fl -= 1;
		alpha += 1;
	}
	if (alpha >= 1) {
		fl += 1;
		alpha -= 1;
	}
	long nxfl = (long)fl;
	if (nxfl == 0 || (nxfl == 1 && alpha == 0))
		return clip01(1 - d * pow(1 + d, n - 1));
	/* log of the smallest subnormal: below it the tail is 0 in double */
	if (-2.0 * n * d * d < -7.451332191019412076235e2)
		return 0.0;
	if (nxfl >= n - 1)
		return clip01(pow(1 - d, n));
	long last = n - nxfl - 1;
	/* log C(n, v) is a running sum of n logarithms: kept as an unevaluated
	 * pair (Knuth's two-sum), so its error stays at a few ulps however long
	 * the sum, even where long double is no wider than double. */
	long double sum = 0, logc = 0, logc_lo = 0;
	long double ln = n;
	for (long v = 0; v <= last; v++) {
		long double evn = ((long double)(nxfl + v) + alpha) / ln;
		long double omevn = ((long double)(n - nxfl - v) - alpha) / ln;
		long double term = 0;
		if (omevn > 0 && evn > 0)
			term = expl(logc + ((long double)(v - 1) * logl(evn) + (long double)(n - v) * logl(omevn) + logc_lo));
		sum += term;
		if (term != 0 && 4.0L * (long double)(last + 1 - v) * term < LDBL_EPSILON * sum && v != last)
			break;
		if (term == 0 && v > n / 2)
			break;
		long double add = logl((long double)(n - v)) - logl((long double)(v + 1));
		long double hi = logc + add, bb = hi - logc;
		logc_lo += (logc - (hi - bb)) + (add - bb);
		logc = hi;
	}
	return clip01((double)(d * sum));
}

/* ---- The survival function of D_n ---- */

static double kolmogn_sf(int n, double x)
{
	if (x >= 1.0)
		return 0.0;
	if (x <= 0.0)
		return 1.0;
	double t = n * x;
	if (t <= 1.0) {
		if (t <= 0.5)
			return 1.0;
		double prob;
		if (n <= 140) {
			/* prod_i (i/n)(2t - 1) */
			double r = 1.0 / n, f = 2 * t - 1;
			prob = 1.0;
			for (int i = 1; i <= n; i++)
				prob *= i * r * f;
		} else {
			prob = exp(log_nfact_over_npown(n) + n * log(2 * t - 1));
		}
		return clip01(1.0 - prob);
	}
	if (t >= n - 1)
		return clip01(2 * pow(1.0 - x, n));
	if (x >= 0.5)
		return clip01(2 * ks_smirnov_sf(n, x));
	double nx2 = t * x;
	if (n <= 140) {
		if (nx2 <= 0.754693)
			return (double)clip01l(1.0L - cdf_durbin(n, x));
		if (nx2 <= 4)
			return (double)clip01l(1.0L - cdf_pomeranz(n, x));
		return clip01(2 * ks_smirnov_sf(n, x));
	}
	if (nx2 >= 370.0)
		return 0.0;
	if (nx2 >= 2.2)
		return clip01(2 * ks_smirnov_sf(n, x));
	if (n <= 100000 && n * pow(x, 1.5) <= 1.4)
		return (double)clip01l(1.0L - cdf_durbin(n, x));
	return clip01(1.0 - cdf_pelzgood(n, x));
}

double ks_kstwo_sf(double d, double n)
{
	if (!(n >= 1) || n != floor(n) || n > 2147483647.0 || isnan(d))
		return NAN;
	if (d <= 0.5 / n)
		return 1.0;
	if (d >= 1.0)
		return 0.0;
	return kolmogn_sf((int)n, d);
}
