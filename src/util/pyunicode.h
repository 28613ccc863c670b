/* pyunicode: the few Python 3.11 str semantics (Unicode 14.0) that Ansible's parsers lean on:
 * UTF-8 decoding with surrogateescape, isspace/isalnum/isdecimal, strip, repr. */
#ifndef FLEETDECK_PYUNICODE_H
#define FLEETDECK_PYUNICODE_H

#include <stdbool.h>
#include <stddef.h>

/* Text is handled as UTF-8 bytes. A byte that is not part of a valid UTF-8
 * sequence stands for the lone surrogate U+DC80+byte that Python's
 * errors='surrogateescape' decoding makes of it: these are the PYU_BADBYTE
 * code points below. */
#define PYU_BADBYTE(b) (0xDC00L + (unsigned char)(b))

/* Decodes the code point at s[0..len) (len > 0); *adv is its length in bytes. An
 * undecodable byte gives PYU_BADBYTE(byte) with *adv = 1. */
long pyu_decode(const char *s, size_t len, size_t *adv);
/* Number of code points (Python's len()). */
size_t pyu_len(const char *s, size_t len);
/* Is there any undecodable byte? */
bool pyu_has_badbytes(const char *s, size_t len);

bool pyu_isspace(long cp);   /* str.isspace(), also re's \s */
bool pyu_isword(long cp);    /* re's \w: str.isalnum() or '_' */
int pyu_decimal(long cp);    /* the digit value if str.isdecimal(), else -1 */

/* str.strip() of s[0..*len): advances *s and shortens *len. */
void pyu_strip(const char **s, size_t *len);

/* Python's repr() of the str s[0..len): quotes and escapes as CPython writes them. */
char *pyu_repr(const char *s, size_t len);

/* s[0..len) as valid UTF-8 for output: each undecodable byte becomes '?', which is
 * what Ansible's display writes for the surrogate it stands for. Returns a new
 * NUL-terminated string; *outlen (if not NULL) gets its length. */
char *pyu_printable(const char *s, size_t len, size_t *outlen);

#endif
