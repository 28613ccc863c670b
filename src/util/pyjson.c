/* pyjson: a JSON writer that matches CPython's json module byte for byte. */
#include "util/pyjson.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


static void put(pyjson_buf *o, const char *s, size_t n)
{
	if (o->n + n + 1 > o->cap)
		o->s = xgrow(o->s, &o->cap, o->n + n + 1, 1);
	memcpy(o->s + o->n, s, n);
	o->n += n;
	o->s[o->n] = '\0';
}

static void puts_(pyjson_buf *o, const char *s) { put(o, s, strlen(s)); }

void pyjson_float_repr(double d, char *out, size_t outsz)
{
	if (isnan(d)) {
		snprintf(out, outsz, "NaN");
		return;
	}
	if (isinf(d)) {
		snprintf(out, outsz, d > 0 ? "Infinity" : "-Infinity");
		return;
	}
	/* shortest digits that round-trip, as repr() picks them */
	char buf[64];
	int prec;
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	/* buf is d.ddde[+-]XX: split digits and exponent */
	char digits[32];
	size_t nd = 0;
	const char *p = buf;
	bool neg = false;
	if (*p == '-') {
		neg = true;
		p++;
	}
	for (; *p && *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	digits[nd] = '\0';
	int exp = atoi(p + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		digits[--nd] = '\0';
	char res[64];
	size_t r = 0;
	if (neg)
		res[r++] = '-';
	if (exp < -4 || exp >= 16) {
		res[r++] = digits[0];
		if (nd > 1) {
			res[r++] = '.';
			for (size_t i = 1; i < nd; i++)
				res[r++] = digits[i];
		}
		r += (size_t)snprintf(res + r, sizeof res - r, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
	} else if (exp < 0) {
		res[r++] = '0';
		res[r++] = '.';
		for (int i = 0; i < -exp - 1; i++)
			res[r++] = '0';
		for (size_t i = 0; i < nd; i++)
			res[r++] = digits[i];
	} else {
		for (int i = 0; i <= exp; i++)
			res[r++] = (size_t)i < nd ? digits[i] : '0';
		res[r++] = '.';
		if ((size_t)exp + 1 < nd) {
			for (size_t i = (size_t)exp + 1; i < nd; i++)
				res[r++] = digits[i];
		} else {
			res[r++] = '0';
		}
	}
	res[r] = '\0';
	snprintf(out, outsz, "%s", res);
}

/* jansson refuses non-finite reals, but Python floats have them. jansson's
 * json_real_t is { json_t json; double value; } in every release; store the
 * value there, and check that the guess held before trusting it. */
json_t *pyjson_real_new(double x)
{
	if (isfinite(x))
		return json_real(x);
	json_t *r = json_real(0.0);
	struct real_layout {
		json_t json;
		double value;
	} *p = (void *)r;
	p->value = x;
	double back = json_real_value(r);
	if (isnan(x) ? isnan(back) : back == x)
		return r;
	json_real_set(r, x > 0 ? HUGE_VAL : -HUGE_VAL);
	return r;
}

json_t *pyjson_bigint_new(const char *digits, size_t len)
{
	char *s = xmalloc(len + 2);
	memcpy(s, digits, len);
	s[len] = '\0';
	s[len + 1] = '\xff';
	json_t *j = json_stringn_nocheck(s, len + 2);
	free(s);
	return j;
}

json_t *pyjson_int_new(const pyint *x)
{
	long long ll;
	if (pyint_get_ll(x, &ll))
		return json_integer(ll);
	size_t n;
	char *d = pyint_str(x, &n);
	json_t *j = pyjson_bigint_new(d, n);
	free(d);
	return j;
}

const char *pyjson_bigint_digits(const json_t *v, size_t *len)
{
	if (!json_is_string(v))
		return NULL;
	size_t n = json_string_length(v);
	const char *s = json_string_value(v);
	if (n < 3 || (unsigned char)s[n - 1] != 0xff || s[n - 2] != '\0')
		return NULL;
	if (len)
		*len = n - 2;
	return s;
}

bool pyjson_is_int(const json_t *v)
{
	return json_is_integer(v) || pyjson_bigint_digits(v, NULL);
}

bool pyjson_int_get(const json_t *v, pyint *out)
{
	if (json_is_integer(v)) {
		pyint_set_ll(out, json_integer_value(v));
		return true;
	}
	size_t n;
	const char *d = pyjson_bigint_digits(v, &n);
	if (!d)
		return false;
	bool neg = d[0] == '-';
	pyint_from_digits(out, d + neg, n - neg, 10);
	if (neg)
		pyint_neg(out);
	return true;
}

static void put_string(pyjson_buf *o, const char *s, size_t len)
{
	/* the usual string has nothing to escape: one copy */
	static const unsigned char special[256] = {
		[0x00] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		[0x10] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		['"'] = 1, ['\\'] = 1,
	};
	size_t plain = 0;
	/* eight bytes at a time: a byte below 0x20, '"' or '\\' stops the run */
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	while (plain + 8 <= len) {
		uint64_t x;
		memcpy(&x, s + plain, 8);
		uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
		uint64_t hit = ((x - ones * 0x20) & ~x & highs) | ((q - ones) & ~q & highs) |
			       ((bs - ones) & ~bs & highs);
		if (hit)
			break;
		plain += 8;
	}
	while (plain < len && !special[(unsigned char)s[plain]])
		plain++;
	if (plain == len) {
		if (o->n + len + 3 > o->cap)
			o->s = xgrow(o->s, &o->cap, o->n + len + 3, 1);
		o->s[o->n] = '"';
		memcpy(o->s + o->n + 1, s, len);
		o->s[o->n + 1 + len] = '"';
		o->n += len + 2;
		o->s[o->n] = '\0';
		return;
	}
	put(o, "\"", 1);
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char ubuf[8];
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default:
			if (c < 0x20) {
				snprintf(ubuf, sizeof ubuf, "\\u%04x", c);
				esc = ubuf;
			}
		}
		if (esc) {
			put(o, s + start, i - start);
			puts_(o, esc);
			start = i + 1;
		}
	}
	put(o, s + start, len - start);
	put(o, "\"", 1);
}

static void newline(pyjson_buf *o, int indent, int level)
{
	static const char spaces[] = "\n                                                                ";
	size_t n = (size_t)indent * (size_t)level;
	if (n < sizeof spaces - 1) {
		put(o, spaces, n + 1);
		return;
	}
	put(o, "\n", 1);
	for (size_t i = 0; i < n; i++)
		put(o, " ", 1);
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void dump(pyjson_buf *o, const json_t *v, int indent, int level)
{
	char buf[64];
	switch (json_typeof(v)) {
	case JSON_NULL: puts_(o, "null"); break;
	case JSON_TRUE: puts_(o, "true"); break;
	case JSON_FALSE: puts_(o, "false"); break;
	case JSON_INTEGER: {
		json_int_t x = json_integer_value(v);
		unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
		char *p = buf + sizeof buf;
		do {
			*--p = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		if (x < 0)
			*--p = '-';
		put(o, p, (size_t)(buf + sizeof buf - p));
		break;
	}
	case JSON_REAL:
		pyjson_float_repr(json_real_value(v), buf, sizeof buf);
		puts_(o, buf);
		break;
	case JSON_STRING: {
		size_t n;
		const char *digits = pyjson_bigint_digits(v, &n);
		if (digits)
			put(o, digits, n);
		else
			put_string(o, json_string_value(v), json_string_length(v));
		break;
	}
	case JSON_ARRAY: {
		size_t n = json_array_size(v);
		if (!n) {
			puts_(o, "[]");
			break;
		}
		put(o, "[", 1);
		for (size_t i = 0; i < n; i++) {
			if (i)
				puts_(o, indent >= 0 ? "," : ", ");
			if (indent >= 0)
				newline(o, indent, level + 1);
			dump(o, json_array_get(v, i), indent, level + 1);
		}
		if (indent >= 0)
			newline(o, indent, level);
		put(o, "]", 1);
		break;
	}
	case JSON_OBJECT: {
		size_t n = json_object_size(v);
		if (!n) {
			puts_(o, "{}");
			break;
		}
		const char **keys = xmalloc(n * sizeof *keys);
		size_t k = 0;
		const char *key;
		json_t *val;
		json_object_foreach((json_t *)v, key, val)
			keys[k++] = key;
		qsort(keys, k, sizeof *keys, cmp_keys);
		put(o, "{", 1);
		for (size_t i = 0; i < k; i++) {
			if (i)
				puts_(o, indent >= 0 ? "," : ", ");
			if (indent >= 0)
				newline(o, indent, level + 1);
			put_string(o, keys[i], strlen(keys[i]));
			puts_(o, ": ");
			dump(o, json_object_get(v, keys[i]), indent, level + 1);
		}
		free(keys);
		if (indent >= 0)
			newline(o, indent, level);
		put(o, "}", 1);
		break;
	}
	}
}

char *pyjson_dumps(const json_t *v, int indent)
{
	pyjson_buf o = { 0 };
	dump(&o, v, indent, 0);
	if (!o.s)
		o.s = xstrdup("");
	return o.s;
}

int pyjson_dumpf(const json_t *v, int indent, FILE *f)
{
	char *s = pyjson_dumps(v, indent);
	size_t n = strlen(s);
	int rc = fwrite(s, 1, n, f) == n ? 0 : -1;
	free(s);
	return rc;
}

void pyjson_append(pyjson_buf *b, const json_t *v, int indent, int level)
{
	dump(b, v, indent, level);
}

void pyjson_append_string(pyjson_buf *b, const char *s, size_t len)
{
	put_string(b, s, len);
}

void pyjson_append_raw(pyjson_buf *b, const char *s, size_t len)
{
	put(b, s, len);
}
