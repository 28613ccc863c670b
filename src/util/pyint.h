/* pyint: Python's arbitrary-precision int, as far as Ansible's parsers need it:
 * int(str) with its exact rules and messages, literals in base 2/8/10/16,
 * addition, comparison and str(). */
#ifndef FLEETDECK_PYINT_H
#define FLEETDECK_PYINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CPython 3.11's sys.get_int_max_str_digits() default. */
#define PYINT_MAX_STR_DIGITS 4300

typedef struct pyint {
	bool neg;
	uint32_t *d;   /* magnitude, base 10^9, least significant first; n == 0 is zero */
	size_t n, cap;
} pyint;

#define PYINT_INIT { false, NULL, 0, 0 }

void pyint_free(pyint *x);
void pyint_set_ll(pyint *x, long long v);
void pyint_copy(pyint *dst, const pyint *src);
/* Python's int(s) (base 10) of the str s[0..len): surrounding whitespace, sign,
 * single underscores between digits, any Unicode decimal digits, the 4300-digit
 * limit. Returns 0, or -1 with *err = Python's ValueError message. */
int pyint_parse(pyint *x, const char *s, size_t len, char **err);
/* The digits of an already validated literal in base 2, 8, 10 or 16 ('_' skipped). */
void pyint_from_digits(pyint *x, const char *s, size_t len, int base);
int pyint_sign(const pyint *x);
int pyint_cmp(const pyint *a, const pyint *b);
/* r = a + b; r may be a or b. */
void pyint_add(pyint *r, const pyint *a, const pyint *b);
void pyint_neg(pyint *x);
/* x = x * m */
void pyint_mul_small(pyint *x, uint32_t m);
/* str(x); *len (if not NULL) gets the length. */
char *pyint_str(const pyint *x, size_t *len);
/* x as a long long, if it fits. */
bool pyint_get_ll(const pyint *x, long long *v);
/* float(x), correctly rounded; false if it overflows (Python's OverflowError). */
bool pyint_to_double(const pyint *x, double *out);

#endif
