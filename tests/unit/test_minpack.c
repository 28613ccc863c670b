/* test_minpack: the packed form of an hour of minute rollups: round trips at the
 * resolutions asked for, lossless at resolution 1, bad rows refused, and damaged
 * blobs (truncated, extended, bytes flipped) rejected without a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/minpack.h"

#include <stdlib.h>
#include <string.h>

enum { NF = 9 };

static uint64_t rs = 0x243F6A8885A308D3ULL;

static uint64_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 0x2545F4914F6CDD1DULL;
}

static int64_t span(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static int64_t fdiv(int64_t v, int64_t q)
{
	int64_t r = v / q;
	return v % q && v < 0 ? r - 1 : r;
}

static int64_t cdiv(int64_t v, int64_t q)
{
	int64_t r = v / q;
	return v % q && v > 0 ? r + 1 : r;
}

/* round half away from zero, in units of q */
static int64_t rnear(int64_t v, int64_t q)
{
	int64_t a = v < 0 ? -v : v, r = (a + q / 2) / q;
	if (q % 2 == 0 && a % q == q / 2)
		r = a / q + 1;
	return v < 0 ? -r : r;
}

/* A random hour: some minutes, some fields, values of one of several kinds. */
static size_t random_hour(minpack_row *rows)
{
	size_t n = 0;
	int density = (int)span(0, 3);
	int64_t mag = (int64_t)1 << span(0, 50);
	for (int m = 0; m < MINPACK_MINUTES; m++) {
		if (density == 0 ? rnd() % 2 : density == 1 ? rnd() % 10 == 0 : 1) {
			minpack_row *r = &rows[n++];
			memset(r, 0, sizeof *r);
			r->minute = m;
			r->n = span(0, 7);
			r->worst = span(0, 6);
			for (int f = 0; f < NF; f++) {
				if (f == 3 && rnd() % 3 == 0)
					continue; /* a field sometimes missing */
				if (f == 4)
					continue; /* one never there */
				int64_t a = span(-mag, mag), lo = a - span(0, mag), hi = a + span(0, mag);
				if (f == 5)
					a = lo = hi = 0; /* constant */
				r->min[f] = lo, r->avg[f] = a, r->max[f] = hi;
				r->have |= 1u << f;
			}
		}
	}
	return n;
}

static void check_decoded(const minpack_row *in, size_t n, const minpack_row *out, size_t nout, const int64_t *q,
			  const int64_t *qx)
{
	assert_int_equal(nout, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(out[i].minute, in[i].minute);
		assert_int_equal(out[i].n, in[i].n);
		assert_int_equal(out[i].worst, in[i].worst);
		assert_int_equal(out[i].have, in[i].have);
		for (int f = 0; f < NF; f++) {
			if (!(in[i].have & (1u << f)))
				continue;
			int64_t a = rnear(in[i].avg[f], q[f]) * q[f];
			assert_int_equal(out[i].avg[f], a);
			assert_int_equal(out[i].min[f], fdiv(in[i].min[f], qx[f]) * qx[f]);
			assert_int_equal(out[i].max[f], cdiv(in[i].max[f], qx[f]) * qx[f]);
			assert_true(out[i].min[f] <= out[i].avg[f] && out[i].avg[f] <= out[i].max[f]);
		}
	}
}

static void test_round_trip(void **state)
{
	(void)state;
	static const int64_t qs[] = { 1, 10, 36, 100, 7 };
	minpack_row in[MINPACK_MINUTES], out[MINPACK_MINUTES];
	for (int it = 0; it < 400; it++) {
		size_t n = random_hour(in);
		int64_t q[NF], qx[NF];
		for (int f = 0; f < NF; f++) {
			q[f] = qs[rnd() % 5];
			qx[f] = q[f] * (rnd() % 2 ? 10 : 1);
		}
		size_t len = 0, nout = 99;
		unsigned char *b = minpack_encode(in, n, NF, q, qx, &len);
		assert_non_null(b);
		assert_int_equal(minpack_decode(b, len, NF, out, &nout), 0);
		check_decoded(in, n, out, nout, q, qx);
		free(b);
	}
}

static void test_lossless_at_one(void **state)
{
	(void)state;
	minpack_row in[MINPACK_MINUTES], out[MINPACK_MINUTES];
	int64_t one[NF];
	for (int f = 0; f < NF; f++)
		one[f] = 1;
	for (int it = 0; it < 200; it++) {
		size_t n = random_hour(in), len, nout;
		unsigned char *b = minpack_encode(in, n, NF, one, one, &len);
		assert_non_null(b);
		assert_int_equal(minpack_decode(b, len, NF, out, &nout), 0);
		assert_int_equal(nout, n);
		for (size_t i = 0; i < n; i++)
			for (int f = 0; f < NF; f++)
				if (in[i].have & (1u << f)) {
					assert_int_equal(out[i].min[f], in[i].min[f]);
					assert_int_equal(out[i].avg[f], in[i].avg[f]);
					assert_int_equal(out[i].max[f], in[i].max[f]);
				}
		free(b);
	}
	/* the extremes of the range, and an empty hour */
	memset(in, 0, sizeof in[0]);
	in[0].minute = 59;
	in[0].have = 1;
	in[0].min[0] = -(INT64_C(1) << 60), in[0].avg[0] = 0, in[0].max[0] = INT64_C(1) << 60;
	size_t len, nout;
	unsigned char *b = minpack_encode(in, 1, NF, one, one, &len);
	assert_non_null(b);
	assert_int_equal(minpack_decode(b, len, NF, out, &nout), 0);
	assert_int_equal(nout, 1);
	assert_true(out[0].min[0] == in[0].min[0] && out[0].max[0] == in[0].max[0] && out[0].minute == 59);
	free(b);
	b = minpack_encode(in, 0, NF, one, one, &len);
	assert_non_null(b);
	assert_int_equal(minpack_decode(b, len, NF, out, &nout), 0);
	assert_int_equal(nout, 0);
	free(b);
}

static void test_bad_rows_refused(void **state)
{
	(void)state;
	minpack_row r[2];
	memset(r, 0, sizeof r);
	int64_t q[NF], qx[NF];
	for (int f = 0; f < NF; f++)
		q[f] = 10, qx[f] = 100;
	size_t len;
	r[0].minute = 5, r[1].minute = 5; /* not increasing */
	assert_null(minpack_encode(r, 2, NF, q, qx, &len));
	r[1].minute = 60; /* out of the hour */
	assert_null(minpack_encode(r, 2, NF, q, qx, &len));
	r[1].minute = 6;
	r[1].have = 1, r[1].min[0] = 5, r[1].avg[0] = 4, r[1].max[0] = 6; /* min > avg */
	assert_null(minpack_encode(r, 2, NF, q, qx, &len));
	r[1].min[0] = 3, r[1].max[0] = INT64_C(1) << 61; /* out of range */
	assert_null(minpack_encode(r, 2, NF, q, qx, &len));
	r[1].max[0] = 6;
	qx[2] = 15; /* not a multiple of q */
	assert_null(minpack_encode(r, 2, NF, q, qx, &len));
	qx[2] = 100;
	r[0].n = -1;
	assert_null(minpack_encode(r, 2, NF, q, qx, &len));
	r[0].n = 6;
	unsigned char *b = minpack_encode(r, 2, NF, q, qx, &len);
	assert_non_null(b);
	minpack_row out[MINPACK_MINUTES];
	size_t nout;
	assert_int_equal(minpack_decode(b, len, NF - 1, out, &nout), -1); /* another field count */
	free(b);
	assert_int_equal(minpack_decode(NULL, 0, NF, out, &nout), -1);
}

static void test_damaged_rejected(void **state)
{
	(void)state;
	minpack_row in[MINPACK_MINUTES], out[MINPACK_MINUTES];
	int64_t q[NF], qx[NF];
	for (int f = 0; f < NF; f++)
		q[f] = 10, qx[f] = 100;
	for (int it = 0; it < 15; it++) {
		size_t n = random_hour(in), len, nout;
		unsigned char *b = minpack_encode(in, n, NF, q, qx, &len);
		assert_non_null(b);
		unsigned char *c = malloc(len + 1);
		for (size_t cut = 0; cut < len; cut++) { /* every truncation */
			memcpy(c, b, cut);
			assert_int_equal(minpack_decode(c, cut, NF, out, &nout), -1);
			assert_int_equal(nout, 0);
		}
		memcpy(c, b, len);
		c[len] = 0;
		assert_int_equal(minpack_decode(c, len + 1, NF, out, &nout), -1); /* trailing garbage */
		for (int k = 0; k < 100; k++) { /* flipped bytes: refused, or rows that still make sense */
			memcpy(c, b, len);
			c[rnd() % len] ^= (unsigned char)(1 + rnd() % 255);
			if (minpack_decode(c, len, NF, out, &nout) == 0) {
				assert_true(nout <= MINPACK_MINUTES);
				for (size_t i = 0; i < nout; i++) {
					assert_true(out[i].minute >= 0 && out[i].minute < MINPACK_MINUTES);
					for (int f = 0; f < NF; f++)
						if (out[i].have & (1u << f))
							assert_true(out[i].min[f] <= out[i].avg[f] &&
								    out[i].avg[f] <= out[i].max[f]);
				}
			}
		}
		free(c);
		free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_lossless_at_one),
		cmocka_unit_test(test_bad_rows_refused),
		cmocka_unit_test(test_damaged_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
