/* pyint: a small bignum with Python int semantics (base 10^9 limbs; only what the parsers use). */
#include "util/pyint.h"
#include "util/pyunicode.h"
#include "util/xalloc.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE 1000000000u

void pyint_free(pyint *x)
{
	free(x->d);
	x->d = NULL;
	x->n = x->cap = 0;
	x->neg = false;
}

static void normalize(pyint *x)
{
	while (x->n && x->d[x->n - 1] == 0)
		x->n--;
	if (!x->n)
		x->neg = false;
}

static void reserve(pyint *x, size_t n)
{
	x->d = xgrow(x->d, &x->cap, n, sizeof *x->d);
}

void pyint_set_ll(pyint *x, long long v)
{
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	reserve(x, 3);
	x->n = 0;
	x->neg = v < 0;
	while (u) {
		x->d[x->n++] = (uint32_t)(u % BASE);
		u /= BASE;
	}
	normalize(x);
}

void pyint_copy(pyint *dst, const pyint *src)
{
	if (dst == src)
		return;
	reserve(dst, src->n);
	if (src->n)
		memcpy(dst->d, src->d, src->n * sizeof *src->d);
	dst->n = src->n;
	dst->neg = src->neg;
}

/* |x| = |x| * m + a */
static void mul_small_add(pyint *x, uint32_t m, uint32_t a)
{
	uint64_t carry = a;
	for (size_t i = 0; i < x->n; i++) {
		uint64_t t = (uint64_t)x->d[i] * m + carry;
		x->d[i] = (uint32_t)(t % BASE);
		carry = t / BASE;
	}
	while (carry) {
		reserve(x, x->n + 1);
		x->d[x->n++] = (uint32_t)(carry % BASE);
		carry /= BASE;
	}
}

void pyint_mul_small(pyint *x, uint32_t m)
{
	/* any uint32 m: a limb times m plus the carry stays below 2^64 */
	mul_small_add(x, m, 0);
	normalize(x);
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void pyint_from_digits(pyint *x, const char *s, size_t len, int base)
{
	x->n = 0;
	x->neg = false;
	for (size_t i = 0; i < len; i++) {
		int v = digit_value(s[i]);
		if (v >= 0 && v < base)
			mul_small_add(x, (uint32_t)base, (uint32_t)v);
	}
	normalize(x);
}

static int invalid_literal(const char *s, size_t len, char **err)
{
	char *r = pyu_repr(s, len);
	/* CPython formats the repr with %.200R: at most 200 code points of it */
	size_t cut = 0, adv, cps = 0, rlen = strlen(r);
	while (cut < rlen && cps < 200) {
		pyu_decode(r + cut, rlen - cut, &adv);
		cut += adv;
		cps++;
	}
	*err = xasprintf("invalid literal for int() with base 10: %.*s", (int)cut, r);
	free(r);
	return -1;
}

int pyint_parse(pyint *x, const char *s, size_t len, char **err)
{
	/* CPython first maps Unicode spaces to ' ' and decimal digits to ASCII,
	 * anything else non-ASCII to a character no rule accepts */
	char *a = xmalloc(len + 1);
	size_t n = 0, adv;
	for (size_t i = 0; i < len; i += adv) {
		long cp = pyu_decode(s + i, len - i, &adv);
		int d;
		if (pyu_isspace(cp))
			a[n++] = ' ';
		else if ((d = pyu_decimal(cp)) >= 0)
			a[n++] = (char)('0' + d);
		else if (cp < 0x80)
			a[n++] = (char)cp;
		else
			a[n++] = '?';
	}
	a[n] = '\0';
	size_t i = 0;
	while (i < n && a[i] == ' ')
		i++;
	bool neg = false;
	if (i < n && (a[i] == '+' || a[i] == '-'))
		neg = a[i++] == '-';
	size_t start = i, digits = 0;
	char prev = 0;
	if (i < n && a[i] == '_')
		goto bad;
	while (i < n && ((a[i] >= '0' && a[i] <= '9') || a[i] == '_')) {
		if (a[i] == '_' && prev == '_')
			goto bad;
		if (a[i] != '_')
			digits++;
		prev = a[i++];
	}
	if (!digits || prev == '_')
		goto bad;
	if (digits > PYINT_MAX_STR_DIGITS) {
		free(a);
		*err = xasprintf("Exceeds the limit (%d digits) for integer string conversion: value has %zu digits; "
				 "use sys.set_int_max_str_digits() to increase the limit", PYINT_MAX_STR_DIGITS, digits);
		return -1;
	}
	size_t end = i;
	while (i < n && a[i] == ' ')
		i++;
	if (i != n)
		goto bad;
	pyint_from_digits(x, a + start, end - start, 10);
	x->neg = neg && x->n;
	free(a);
	return 0;
bad:
	free(a);
	return invalid_literal(s, len, err);
}

int pyint_sign(const pyint *x)
{
	return x->n == 0 ? 0 : x->neg ? -1 : 1;
}

static int cmp_mag(const pyint *a, const pyint *b)
{
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	for (size_t i = a->n; i-- > 0;)
		if (a->d[i] != b->d[i])
			return a->d[i] < b->d[i] ? -1 : 1;
	return 0;
}

int pyint_cmp(const pyint *a, const pyint *b)
{
	int sa = pyint_sign(a), sb = pyint_sign(b);
	if (sa != sb)
		return sa < sb ? -1 : 1;
	int m = cmp_mag(a, b);
	return sa < 0 ? -m : m;
}

void pyint_add(pyint *r, const pyint *a, const pyint *b)
{
	pyint t = PYINT_INIT;
	size_t n = (a->n > b->n ? a->n : b->n) + 1;
	reserve(&t, n);
	if (a->neg == b->neg) {
		uint32_t carry = 0;
		for (size_t i = 0; i < n; i++) {
			uint32_t s = carry + (i < a->n ? a->d[i] : 0) + (i < b->n ? b->d[i] : 0);
			carry = s >= BASE;
			t.d[i] = carry ? s - BASE : s;
		}
		t.n = n;
		t.neg = a->neg;
	} else {
		/* subtract the smaller magnitude from the larger */
		const pyint *big = a, *small = b;
		if (cmp_mag(a, b) < 0) {
			big = b;
			small = a;
		}
		int64_t borrow = 0;
		for (size_t i = 0; i < big->n; i++) {
			int64_t s = (int64_t)big->d[i] - borrow - (i < small->n ? small->d[i] : 0);
			borrow = s < 0;
			t.d[i] = (uint32_t)(s < 0 ? s + BASE : s);
		}
		t.n = big->n;
		t.neg = big->neg;
	}
	normalize(&t);
	free(r->d);
	*r = t;
}

void pyint_neg(pyint *x)
{
	if (x->n)
		x->neg = !x->neg;
}

char *pyint_str(const pyint *x, size_t *len)
{
	char *s = xmalloc(x->n * 9 + 3);
	size_t n = 0;
	if (!x->n) {
		s[n++] = '0';
	} else {
		if (x->neg)
			s[n++] = '-';
		n += (size_t)sprintf(s + n, "%u", x->d[x->n - 1]);
		for (size_t i = x->n - 1; i-- > 0;)
			n += (size_t)sprintf(s + n, "%09u", x->d[i]);
	}
	s[n] = '\0';
	if (len)
		*len = n;
	return s;
}

bool pyint_get_ll(const pyint *x, long long *v)
{
	if (x->n > 3 || (x->n == 3 && x->d[2] > 9))
		return false;
	unsigned long long u = 0;
	for (size_t i = x->n; i-- > 0;)
		u = u * BASE + x->d[i];
	if (x->neg) {
		if (u > (unsigned long long)LLONG_MAX + 1)
			return false;
		*v = u == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)u;
	} else {
		if (u > (unsigned long long)LLONG_MAX)
			return false;
		*v = (long long)u;
	}
	return true;
}

bool pyint_to_double(const pyint *x, double *out)
{
	/* strtod rounds correctly, as int.__float__ does */
	char *s = pyint_str(x, NULL);
	double d = strtod(s, NULL);
	free(s);
	if (isinf(d))
		return false;
	*out = d;
	return true;
}
