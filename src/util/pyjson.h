/* pyjson: JSON text exactly as Python's json.dumps(indent=4, sort_keys=True,
 * ensure_ascii=False) writes it, so fleetdeck's output diffs cleanly against
 * Ansible's (float repr, escapes, separators and all). */
#ifndef FLEETDECK_PYJSON_H
#define FLEETDECK_PYJSON_H

#include "util/pyint.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* A growing text buffer (s is NUL-terminated once anything is in it; free(s)). */
typedef struct pyjson_buf {
	char *s;
	size_t n, cap;
} pyjson_buf;

/* Appends v as json.dumps writes it when v sits `level` levels deep in the
 * document (its inner lines indented by indent * (level + 1) spaces). */
void pyjson_append(pyjson_buf *b, const json_t *v, int indent, int level);
/* Appends the JSON string literal of s[0..len). */
void pyjson_append_string(pyjson_buf *b, const char *s, size_t len);
/* Appends raw text. */
void pyjson_append_raw(pyjson_buf *b, const char *s, size_t len);

/* indent < 0: compact one-line form with Python's default separators (", ", ": "). */
char *pyjson_dumps(const json_t *v, int indent);
int pyjson_dumpf(const json_t *v, int indent, FILE *f);
/* A float, infinities and NaN included (json_real() refuses those; json.dumps
 * prints them as Infinity, -Infinity, NaN). New reference. */
json_t *pyjson_real_new(double x);

/* Python's ints are unbounded, jansson's are int64. An int beyond int64 is a
 * jansson string made of its decimal digits (optional '-') followed by the two
 * bytes "\0\xff". No other string can look like that: every other string
 * value is valid UTF-8 (json_stringn checks it), and 0xff never is. The value
 * survives json_deep_copy, json_equal and object merges; json_string_value()
 * reads as the digits alone (what Python's str() of the int gives), while
 * json_string_length() counts the two marker bytes too. pyjson_dumps prints
 * it as a JSON integer, as json.dumps does. */
/* A JSON integer if x fits in int64, else a big int. New reference. */
json_t *pyjson_int_new(const pyint *x);
/* The big int of these decimal digits ("-" allowed); the caller checked them. */
json_t *pyjson_bigint_new(const char *digits, size_t len);
/* The digits of a big int (NUL-terminated; *len, if not NULL, gets their
 * length), or NULL if v is not one. */
const char *pyjson_bigint_digits(const json_t *v, size_t *len);
/* Is v a Python int: a JSON integer or a big int? (bools are not) */
bool pyjson_is_int(const json_t *v);
/* Python's int value of a JSON integer or big int; false for anything else. */
bool pyjson_int_get(const json_t *v, pyint *out);

/* Python's repr() of a float, as json.dumps writes it (Infinity, NaN included). */
void pyjson_float_repr(double d, char *out, size_t outsz);

#endif
