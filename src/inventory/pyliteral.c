/* pyliteral: ast.literal_eval in C: Python's tokenizer and expression grammar, then _convert(). */
#include "inventory/pyliteral.h"
#include "util/pyint.h"
#include "util/pyjson.h"
#include "util/pyunicode.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- values, with Python's semantics --------------------------------------- */

enum vtype { V_NONE, V_BOOL, V_INT, V_FLOAT, V_COMPLEX, V_STR, V_BYTES, V_ELLIPSIS, V_TUPLE, V_LIST, V_SET, V_DICT };

typedef struct pyval pyval;
struct pyval {
	enum vtype t;
	bool b;
	pyint i;
	double re, im;   /* V_FLOAT: re; V_COMPLEX: both */
	char *s;         /* V_STR: UTF-8, with lone surrogates encoded as 3 bytes (ED A0..BF xx) */
	size_t len;
	pyval **items;   /* V_DICT: key, value, key, value... */
	size_t n, cap;
};

static pyval *val_new(enum vtype t)
{
	pyval *v = xcalloc(1, sizeof *v);
	v->t = t;
	return v;
}

static void val_free(pyval *v)
{
	if (!v)
		return;
	pyint_free(&v->i);
	free(v->s);
	for (size_t i = 0; i < v->n; i++)
		val_free(v->items[i]);
	free(v->items);
	free(v);
}

static void val_push(pyval *v, pyval *item)
{
	v->items = xgrow(v->items, &v->cap, v->n + 1, sizeof *v->items);
	v->items[v->n++] = item;
}

static bool is_real(const pyval *v)
{
	return v->t == V_BOOL || v->t == V_INT || v->t == V_FLOAT;
}

/* int == float, exactly (10**30 != 1e30) */
static bool int_eq_double(const pyint *i, double d)
{
	if (!isfinite(d) || d != floor(d))
		return false;
	long long x;
	if (fabs(d) < 9.0e18 && pyint_get_ll(i, &x))
		return (double)x == d && (long long)d == x;
	char buf[400], *s = pyint_str(i, NULL);
	snprintf(buf, sizeof buf, "%.0f", d);
	bool eq = strcmp(buf, s) == 0;
	free(s);
	return eq;
}

/* a real number compared with a double */
static bool real_eq_double(const pyval *a, double d)
{
	if (a->t == V_FLOAT)
		return a->re == d;
	if (a->t == V_BOOL)
		return (double)a->b == d;
	return int_eq_double(&a->i, d);
}

static bool val_eq(const pyval *a, const pyval *b);

static bool num_eq(const pyval *a, const pyval *b)
{
	if (a->t == V_COMPLEX && b->t == V_COMPLEX)
		return a->re == b->re && a->im == b->im;
	if (a->t == V_COMPLEX || b->t == V_COMPLEX) {
		const pyval *c = a->t == V_COMPLEX ? a : b, *r = a->t == V_COMPLEX ? b : a;
		return c->im == 0 && real_eq_double(r, c->re);
	}
	if (a->t == V_FLOAT)
		return real_eq_double(b, a->re);
	if (b->t == V_FLOAT)
		return real_eq_double(a, b->re);
	/* bool and int */
	pyint x = PYINT_INIT, y = PYINT_INIT;
	const pyint *px = &a->i, *py = &b->i;
	if (a->t == V_BOOL) {
		pyint_set_ll(&x, a->b);
		px = &x;
	}
	if (b->t == V_BOOL) {
		pyint_set_ll(&y, b->b);
		py = &y;
	}
	bool eq = pyint_cmp(px, py) == 0;
	pyint_free(&x);
	pyint_free(&y);
	return eq;
}

static bool val_eq(const pyval *a, const pyval *b)
{
	bool na = is_real(a) || a->t == V_COMPLEX, nb = is_real(b) || b->t == V_COMPLEX;
	if (na || nb)
		return na && nb && num_eq(a, b);
	if (a->t != b->t)
		return false;
	switch (a->t) {
	case V_NONE:
	case V_ELLIPSIS:
		return true;
	case V_STR:
	case V_BYTES:
		return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
	case V_TUPLE:
		if (a->n != b->n)
			return false;
		for (size_t i = 0; i < a->n; i++)
			if (!val_eq(a->items[i], b->items[i]))
				return false;
		return true;
	default:
		return false; /* unhashable kinds never get compared as keys */
	}
}

/* hash() would raise TypeError: the name of the offending type, or NULL */
static const char *unhashable(const pyval *v)
{
	switch (v->t) {
	case V_LIST:
		return "list";
	case V_DICT:
		return "dict";
	case V_SET:
		return "set";
	case V_TUPLE:
		for (size_t i = 0; i < v->n; i++) {
			const char *u = unhashable(v->items[i]);
			if (u)
				return u;
		}
		return NULL;
	default:
		return NULL;
	}
}

/* ---- tokenizer --------------------------------------------------------------- */

enum tok { T_END, T_NEWLINE, T_NAME, T_NUMBER, T_STRING, T_OP };

/* Python's MAXLEVEL: "too many nested parentheses" beyond it */
enum { MAX_LEVEL = 200 };
/* Our own recursion guard for operator chains that nest without brackets
 * (`not not ...`, `-(-...)`, `a**b**c...`, `x if c else y if ...`). CPython
 * gives up around here too, with RecursionError or MemoryError. */
enum { MAX_DEPTH = 1000 };
enum { MAX_RADIX_DIGITS = 16384 };

struct lex {
	const char *s;
	size_t len, pos;
	int level;
	bool line_start;  /* at the start of a logical line (outside brackets) */
	bool line_tokens; /* the current logical line has tokens */
	bool error;
	/* the current token */
	enum tok tok;
	size_t start, end;
	char op[4];
	pyval *val;       /* T_NUMBER, T_STRING: its value (owned until taken) */
	bool fstring;     /* T_STRING with an f prefix: not a literal */
};

static bool name_start(unsigned char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static bool name_char(unsigned char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char peekc(const struct lex *lx, size_t off)
{
	return lx->pos + off < lx->len ? lx->s[lx->pos + off] : '\0';
}

/* digits of `ok`, single underscores allowed between them; false on a bad underscore */
static bool scan_digits(struct lex *lx, bool (*ok)(char))
{
	for (;;) {
		while (lx->pos < lx->len && ok(lx->s[lx->pos]))
			lx->pos++;
		if (peekc(lx, 0) != '_')
			return true;
		lx->pos++;
		if (!ok(peekc(lx, 0)))
			return false;
	}
}

static bool dec_ok(char c) { return is_digit(c); }
static bool hex_ok(char c) { return hexval(c) >= 0; }
static bool oct_ok(char c) { return c >= '0' && c <= '7'; }
static bool bin_ok(char c) { return c == '0' || c == '1'; }

static double parse_float(const char *s, size_t n)
{
	char *buf = xmalloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] != '_')
			buf[k++] = s[i];
	buf[k] = '\0';
	double d = strtod(buf, NULL);
	free(buf);
	return d;
}

/* verify_end_of_number: a number may run into one of these keywords (with a
 * DeprecationWarning only), "1if x else y" or "0x1for"; into any other name
 * character it may not */
static bool number_ends(const struct lex *lx)
{
	static const char *const kws[] = { "and", "else", "for", "if", "in", "is", "or", "not", NULL };
	if (!name_char((unsigned char)peekc(lx, 0)))
		return true;
	for (const char *const *k = kws; *k; k++)
		if (lx->pos + strlen(*k) <= lx->len && memcmp(lx->s + lx->pos, *k, strlen(*k)) == 0)
			return true;
	return false;
}

/* A NUMBER token, as CPython's tokenizer reads it (tok_get, verify_end_of_number). */
static bool lex_number(struct lex *lx)
{
	size_t start = lx->pos;
	bool is_float = false;
	char c = peekc(lx, 0);
	if (c == '0' && (peekc(lx, 1) == 'x' || peekc(lx, 1) == 'X' || peekc(lx, 1) == 'o' ||
			 peekc(lx, 1) == 'O' || peekc(lx, 1) == 'b' || peekc(lx, 1) == 'B')) {
		char kind = (char)(peekc(lx, 1) | 0x20);
		bool (*ok)(char) = kind == 'x' ? hex_ok : kind == 'o' ? oct_ok : bin_ok;
		lx->pos += 2;
		if (peekc(lx, 0) == '_')
			lx->pos++;
		if (!ok(peekc(lx, 0)) || !scan_digits(lx, ok))
			return false;
		/* Python takes any length; converting a huge one would take quadratic
		 * time, and Ansible could not print it anyway (4300-digit str() limit) */
		if (lx->pos - start > MAX_RADIX_DIGITS)
			return false;
		if ((kind != 'x' && is_digit(peekc(lx, 0))) || !number_ends(lx))
			return false; /* "invalid digit '8' in octal literal", "invalid hexadecimal literal"... */
		pyval *v = val_new(V_INT);
		pyint_from_digits(&v->i, lx->s + start + 2, lx->pos - start - 2,
				  kind == 'x' ? 16 : kind == 'o' ? 8 : 2);
		lx->val = v;
		return true;
	}
	bool leading_zeros = false;
	if (c == '.') {
		is_float = true;
	} else {
		if (c == '0') {
			/* 0, 00, 0_0 are fine; a nonzero digit after leading zeros is not
			 * (unless it turns out to be a float or imaginary) */
			while (peekc(lx, 0) == '0' || (peekc(lx, 0) == '_' && is_digit(peekc(lx, 1))))
				lx->pos++;
			if (peekc(lx, 0) == '_')
				return false;
			if (is_digit(peekc(lx, 0)))
				leading_zeros = true;
		}
		if (!scan_digits(lx, dec_ok))
			return false;
	}
	if (peekc(lx, 0) == '.') {
		is_float = true;
		lx->pos++;
		if (is_digit(peekc(lx, 0)) && !scan_digits(lx, dec_ok))
			return false;
		if (peekc(lx, 0) == '_')
			return false;
	}
	char e = peekc(lx, 0);
	if ((e == 'e' || e == 'E') && !(e == 'e' && number_ends(lx) && !is_digit(peekc(lx, 1)))) {
		lx->pos++;
		if (peekc(lx, 0) == '+' || peekc(lx, 0) == '-')
			lx->pos++;
		if (!is_digit(peekc(lx, 0)))
			return false; /* "invalid decimal literal" */
		if (!scan_digits(lx, dec_ok))
			return false;
		is_float = true;
	}
	bool imag = false;
	if (peekc(lx, 0) == 'j' || peekc(lx, 0) == 'J') {
		imag = true;
		lx->pos++;
	} else if (leading_zeros && !is_float) {
		return false; /* "leading zeros in decimal integer literals are not permitted" */
	}
	if (!number_ends(lx))
		return false; /* "invalid decimal literal" */
	size_t n = lx->pos - start - (imag ? 1 : 0);
	pyval *v;
	if (imag) {
		v = val_new(V_COMPLEX);
		v->re = 0.0;
		v->im = parse_float(lx->s + start, n);
	} else if (is_float) {
		v = val_new(V_FLOAT);
		v->re = parse_float(lx->s + start, n);
	} else {
		size_t digits = 0;
		for (size_t i = 0; i < n; i++)
			digits += lx->s[start + i] != '_';
		if (digits > PYINT_MAX_STR_DIGITS)
			return false; /* SyntaxError: "Exceeds the limit (4300 digits) ..." */
		v = val_new(V_INT);
		pyint_from_digits(&v->i, lx->s + start, n, 10);
	}
	lx->val = v;
	return true;
}

struct sbuf {
	char *s;
	size_t n, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	b->s = xgrow(b->s, &b->cap, b->n + n + 1, 1);
	memcpy(b->s + b->n, s, n);
	b->n += n;
}

static void sb_char(struct sbuf *b, char c)
{
	sb_add(b, &c, 1);
}

/* UTF-8 for any code point up to U+10FFFF, surrogates included (as Python's str may hold them) */
static void sb_cp(struct sbuf *b, unsigned long cp)
{
	char u[4];
	if (cp < 0x80) {
		sb_char(b, (char)cp);
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		sb_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		sb_add(b, u, 3);
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		sb_add(b, u, 4);
	}
}

/* The body of a string literal, escapes decoded the way the compiler does
 * (unicode_escape for str, escape_decode for bytes). False on a SyntaxError. */
static bool decode_body(const char *p, size_t n, bool raw, bool bytes, struct sbuf *out)
{
	if (bytes)
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)p[i] >= 0x80)
				return false; /* "bytes can only contain ASCII literal characters" */
	if (raw) {
		sb_add(out, p, n);
		return true;
	}
	for (size_t i = 0; i < n;) {
		if (p[i] != '\\') {
			sb_char(out, p[i++]);
			continue;
		}
		if (i + 1 >= n)
			return false; /* cannot happen: the scanner pairs every backslash */
		char c = p[i + 1];
		i += 2;
		switch (c) {
		case '\n': break;
		case '\\': sb_char(out, '\\'); break;
		case '\'': sb_char(out, '\''); break;
		case '"': sb_char(out, '"'); break;
		case 'a': sb_char(out, '\a'); break;
		case 'b': sb_char(out, '\b'); break;
		case 'f': sb_char(out, '\f'); break;
		case 'n': sb_char(out, '\n'); break;
		case 'r': sb_char(out, '\r'); break;
		case 't': sb_char(out, '\t'); break;
		case 'v': sb_char(out, '\v'); break;
		case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
			unsigned v = (unsigned)(c - '0');
			for (int k = 0; k < 2 && i < n && p[i] >= '0' && p[i] <= '7'; k++)
				v = v * 8 + (unsigned)(p[i++] - '0');
			if (bytes)
				sb_char(out, (char)(v & 0xFF));
			else
				sb_cp(out, v);
			break;
		}
		case 'x':
		case 'u':
		case 'U': {
			if (bytes && c != 'x') {
				sb_char(out, '\\');
				sb_char(out, c);
				break;
			}
			int want = c == 'x' ? 2 : c == 'u' ? 4 : 8;
			unsigned long v = 0;
			for (int k = 0; k < want; k++, i++) {
				if (i >= n || hexval(p[i]) < 0)
					return false; /* "truncated \xXX escape" */
				v = v * 16 + (unsigned long)hexval(p[i]);
			}
			if (v > 0x10FFFF)
				return false; /* "illegal Unicode character" */
			if (bytes)
				sb_char(out, (char)v);
			else
				sb_cp(out, v);
			break;
		}
		case 'N':
			if (bytes) {
				sb_char(out, '\\');
				sb_char(out, 'N');
				break;
			}
			/* needs the Unicode name database: see pyliteral.h */
			return false;
		default:
			/* an invalid escape keeps its backslash (a DeprecationWarning only) */
			sb_char(out, '\\');
			i--;
			break;
		}
	}
	return true;
}

/* A STRING token starting at the quote at lx->pos, with the given prefix. */
static bool lex_string(struct lex *lx, const char *prefix, size_t plen)
{
	bool raw = false, bytes = false, fstr = false;
	for (size_t i = 0; i < plen; i++) {
		char c = (char)(prefix[i] | 0x20);
		raw |= c == 'r';
		bytes |= c == 'b';
		fstr |= c == 'f';
	}
	char q = lx->s[lx->pos];
	bool triple = peekc(lx, 1) == q && peekc(lx, 2) == q;
	lx->pos += triple ? 3 : 1;
	size_t body = lx->pos, body_end;
	for (;;) {
		if (lx->pos >= lx->len)
			return false; /* "unterminated string literal" */
		char c = lx->s[lx->pos];
		if (c == '\\') {
			if (lx->pos + 1 >= lx->len)
				return false;
			lx->pos += 2;
			continue;
		}
		if (c == '\n' && !triple)
			return false;
		if (c == q && (!triple || (peekc(lx, 1) == q && peekc(lx, 2) == q))) {
			body_end = lx->pos;
			lx->pos += triple ? 3 : 1;
			break;
		}
		lx->pos++;
	}
	struct sbuf b = { 0 };
	if (!fstr && !decode_body(lx->s + body, body_end - body, raw, bytes, &b)) {
		free(b.s);
		return false;
	}
	pyval *v = val_new(bytes ? V_BYTES : V_STR);
	v->s = b.s ? b.s : xstrdup("");
	v->len = b.n;
	lx->val = v;
	lx->fstring = fstr;
	return true;
}

static bool valid_prefix(const char *p, size_t n)
{
	char a = n > 0 ? (char)(p[0] | 0x20) : 0, b = n > 1 ? (char)(p[1] | 0x20) : 0;
	if (n == 1)
		return a == 'r' || a == 'u' || a == 'b' || a == 'f';
	if (n == 2)
		return (a == 'r' && (b == 'b' || b == 'f')) || (b == 'r' && (a == 'b' || a == 'f'));
	return false;
}

static const char *const ops3[] = { "**=", "//=", ">>=", "<<=", "...", NULL };
static const char *const ops2[] = { "**", "//", "<<", ">>", "<=", ">=", "==", "!=", "->", ":=", "+=", "-=",
				    "*=", "/=", "%=", "&=", "|=", "^=", "@=", NULL };
static const char ops1[] = "()[]{},:;.+-*/%@&|^~<>=";

static void lex_next(struct lex *lx)
{
	val_free(lx->val);
	lx->val = NULL;
	lx->fstring = false;
	if (lx->error) {
		lx->tok = T_END;
		return;
	}
	for (;;) {
		if (lx->line_start && lx->level == 0) {
			/* indentation: only a formfeed may reset the column to 0 */
			size_t col = 0;
			while (lx->pos < lx->len && (lx->s[lx->pos] == ' ' || lx->s[lx->pos] == '\t' ||
						     lx->s[lx->pos] == '\f')) {
				col = lx->s[lx->pos] == '\f' ? 0 : col + 1;
				lx->pos++;
			}
			char c = peekc(lx, 0);
			if (c == '#') {
				/* a comment line is blank, whatever its indentation */
				while (lx->pos < lx->len && lx->s[lx->pos] != '\n')
					lx->pos++;
				c = peekc(lx, 0);
				col = 0;
			}
			if (c == '\n' && lx->pos < lx->len) {
				lx->pos++; /* a blank line */
				continue;
			}
			if (col) {
				lx->error = true; /* "unexpected indent" */
				lx->tok = T_END;
				return;
			}
			lx->line_start = false;
		}
		if (lx->pos >= lx->len) {
			if (lx->line_tokens) {
				lx->line_tokens = false;
				lx->tok = T_NEWLINE;
			} else {
				lx->tok = T_END;
			}
			return;
		}
		char c = lx->s[lx->pos];
		if (c == ' ' || c == '\t' || c == '\f') {
			lx->pos++;
			continue;
		}
		if (c == '#') {
			while (lx->pos < lx->len && lx->s[lx->pos] != '\n')
				lx->pos++;
			continue;
		}
		if (c == '\\') {
			if (peekc(lx, 1) == '\n' && lx->pos + 2 < lx->len) {
				lx->pos += 2;
				continue;
			}
			/* "unexpected character after line continuation character", or EOF */
			lx->error = true;
			lx->tok = T_END;
			return;
		}
		if (c == '\n') {
			lx->pos++;
			if (lx->level > 0)
				continue;
			lx->line_start = true;
			if (lx->line_tokens) {
				lx->line_tokens = false;
				lx->tok = T_NEWLINE;
				return;
			}
			continue;
		}
		break;
	}
	lx->line_tokens = true;
	lx->start = lx->pos;
	unsigned char c = (unsigned char)lx->s[lx->pos];
	if (is_digit((char)c) || (c == '.' && is_digit(peekc(lx, 1)))) {
		lx->tok = T_NUMBER;
		if (!lex_number(lx)) {
			lx->error = true;
			lx->tok = T_END;
		}
		lx->end = lx->pos;
		return;
	}
	if (name_start(c)) {
		while (lx->pos < lx->len && name_char((unsigned char)lx->s[lx->pos]))
			lx->pos++;
		size_t n = lx->pos - lx->start;
		char q = peekc(lx, 0);
		if ((q == '\'' || q == '"') && valid_prefix(lx->s + lx->start, n)) {
			lx->tok = T_STRING;
			if (!lex_string(lx, lx->s + lx->start, n)) {
				lx->error = true;
				lx->tok = T_END;
			}
		} else {
			lx->tok = T_NAME;
		}
		lx->end = lx->pos;
		return;
	}
	if (c == '\'' || c == '"') {
		lx->tok = T_STRING;
		if (!lex_string(lx, "", 0)) {
			lx->error = true;
			lx->tok = T_END;
		}
		lx->end = lx->pos;
		return;
	}
	lx->tok = T_OP;
	const char *const *tables[] = { ops3, ops2 };
	for (int t = 0; t < 2; t++) {
		for (const char *const *o = tables[t]; *o; o++) {
			size_t n = strlen(*o);
			if (lx->pos + n <= lx->len && memcmp(lx->s + lx->pos, *o, n) == 0) {
				memcpy(lx->op, *o, n + 1);
				lx->pos += n;
				lx->end = lx->pos;
				return;
			}
		}
	}
	if (c && strchr(ops1, c)) {
		lx->op[0] = (char)c;
		lx->op[1] = '\0';
		lx->pos++;
		lx->end = lx->pos;
		if (c == '(' || c == '[' || c == '{') {
			if (++lx->level > MAX_LEVEL) {
				lx->error = true; /* "too many nested parentheses" */
				lx->tok = T_END;
			}
		} else if (c == ')' || c == ']' || c == '}') {
			if (lx->level == 0) {
				lx->error = true; /* "unmatched ')'" */
				lx->tok = T_END;
			} else {
				lx->level--;
			}
		}
		return;
	}
	lx->error = true; /* "invalid character", '!', '$', '?', '`', controls */
	lx->tok = T_END;
}

/* ---- parser: Python 3.11's expression grammar, building only what _convert looks at ---- */

enum ntype { N_CONST, N_TUPLE, N_LIST, N_SET, N_DICT, N_SETCALL, N_UNARY, N_BINOP, N_OTHER };

typedef struct node node;
struct node {
	enum ntype t;
	char op;          /* N_UNARY, N_BINOP: '+' or '-' */
	bool name;        /* N_OTHER that is a bare NAME (for `x := ...`, `f(x=...)`) */
	bool set_name;    /* ...and that name is `set` */
	bool starred;     /* N_OTHER that is `*x` */
	bool walrus;      /* N_OTHER that is `x := y` */
	pyval *v;         /* N_CONST */
	node **kids;      /* N_DICT: key, value pairs (key NULL for `**x`) */
	size_t n, cap;
};

struct parser {
	struct lex lx;
	int depth;
	bool fail;
};

static node *node_new(enum ntype t)
{
	node *n = xcalloc(1, sizeof *n);
	n->t = t;
	return n;
}

static void node_free(node *n)
{
	if (!n)
		return;
	val_free(n->v);
	for (size_t i = 0; i < n->n; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n);
}

static void node_push(node *n, node *kid)
{
	n->kids = xgrow(n->kids, &n->cap, n->n + 1, sizeof *n->kids);
	n->kids[n->n++] = kid;
}

/* Any node _convert() does not look into; its parts are dropped. */
static node *other(node *a, node *b)
{
	node_free(a);
	node_free(b);
	return node_new(N_OTHER);
}

static node *fail(struct parser *P, node *a)
{
	node_free(a);
	P->fail = true;
	return NULL;
}

static bool is_op(const struct parser *P, const char *op)
{
	return P->lx.tok == T_OP && strcmp(P->lx.op, op) == 0;
}

static bool is_kw(const struct parser *P, const char *kw)
{
	return P->lx.tok == T_NAME && P->lx.end - P->lx.start == strlen(kw) &&
	       memcmp(P->lx.s + P->lx.start, kw, strlen(kw)) == 0;
}

static bool accept_op(struct parser *P, const char *op)
{
	if (!is_op(P, op))
		return false;
	lex_next(&P->lx);
	return true;
}

static bool accept_kw(struct parser *P, const char *kw)
{
	if (!is_kw(P, kw))
		return false;
	lex_next(&P->lx);
	return true;
}

static const char *const keywords[] = {
	"False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
	"def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
	"in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
	"with", "yield", NULL,
};

static bool at_keyword(const struct parser *P)
{
	for (const char *const *k = keywords; *k; k++)
		if (is_kw(P, *k))
			return true;
	return false;
}

static node *expression(struct parser *P);
static node *named_expression(struct parser *P);
static node *bitwise_or(struct parser *P);

/* Can the current token start an expression? (to end optional parts) */
static bool starts_expr(const struct parser *P)
{
	switch (P->lx.tok) {
	case T_NAME:
		return !at_keyword(P) || is_kw(P, "None") || is_kw(P, "True") || is_kw(P, "False") ||
		       is_kw(P, "not") || is_kw(P, "lambda") || is_kw(P, "await") || is_kw(P, "yield");
	case T_NUMBER:
	case T_STRING:
		return true;
	case T_OP:
		return strcmp(P->lx.op, "...") == 0 || (P->lx.op[1] == '\0' && strchr("([{-+~", P->lx.op[0]));
	default:
		return false;
	}
}

/* star_named_expression: '*' bitwise_or | named_expression */
static node *star_named(struct parser *P)
{
	if (accept_op(P, "*")) {
		node *e = bitwise_or(P);
		if (!e)
			return NULL;
		node *o = other(e, NULL);
		o->starred = true;
		return o;
	}
	return named_expression(P);
}

/* The items of a display up to `close`; the first one is given. */
static node *display_rest(struct parser *P, node *coll, const char *close)
{
	while (accept_op(P, ",")) {
		if (is_op(P, close))
			break;
		node *e = star_named(P);
		if (!e)
			return fail(P, coll);
		node_push(coll, e);
	}
	if (!accept_op(P, close))
		return fail(P, coll);
	return coll;
}

/* Comprehensions, generator expressions, lambda and yield are valid Python but
 * never literals; they are treated as syntax errors here, which only differs
 * from Python if they sit after an unhashable key in a dict or set (Python
 * then raises TypeError; we reject the text). */
static bool unsupported(const struct parser *P)
{
	return is_kw(P, "for") || is_kw(P, "async") || is_kw(P, "lambda") || is_kw(P, "yield");
}

static node *paren_atom(struct parser *P)
{
	if (accept_op(P, ")"))
		return node_new(N_TUPLE);
	if (unsupported(P))
		return fail(P, NULL);
	node *first = star_named(P);
	if (!first)
		return NULL;
	if (unsupported(P))
		return fail(P, first);
	if (is_op(P, ",")) {
		node *t = node_new(N_TUPLE);
		node_push(t, first);
		return display_rest(P, t, ")");
	}
	if (first->starred) /* "cannot use starred expression here" */
		return fail(P, first);
	if (!accept_op(P, ")"))
		return fail(P, first);
	return first;
}

static node *list_atom(struct parser *P)
{
	node *l = node_new(N_LIST);
	if (accept_op(P, "]"))
		return l;
	node *first = star_named(P);
	if (!first)
		return fail(P, l);
	node_push(l, first);
	if (unsupported(P))
		return fail(P, l);
	return display_rest(P, l, "]");
}

static node *brace_atom(struct parser *P)
{
	if (accept_op(P, "}"))
		return node_new(N_DICT);
	node *key = NULL;
	if (!accept_op(P, "**")) {
		key = star_named(P);
		if (!key)
			return NULL;
		if (unsupported(P))
			return fail(P, key);
		if (key->walrus && is_op(P, ":"))
			return fail(P, key); /* a dict key is a plain expression */
		if (key->starred || !is_op(P, ":")) {
			node *s = node_new(N_SET);
			node_push(s, key);
			return display_rest(P, s, "}");
		}
		lex_next(&P->lx); /* ':' */
	}
	node *d = node_new(N_DICT);
	for (;;) {
		node *val = key ? expression(P) : bitwise_or(P);
		if (!val) {
			node_free(key);
			return fail(P, d);
		}
		node_push(d, key);
		node_push(d, val);
		if (unsupported(P))
			return fail(P, d);
		if (!accept_op(P, ",") || is_op(P, "}"))
			break;
		if (accept_op(P, "**")) {
			key = NULL;
			continue;
		}
		key = expression(P);
		if (!key)
			return fail(P, d);
		if (!accept_op(P, ":")) {
			node_free(key);
			return fail(P, d);
		}
	}
	if (!accept_op(P, "}"))
		return fail(P, d);
	return d;
}

static node *atom(struct parser *P)
{
	struct lex *lx = &P->lx;
	if (lx->tok == T_NUMBER) {
		node *n = node_new(N_CONST);
		n->v = lx->val;
		lx->val = NULL;
		lex_next(lx);
		return n;
	}
	if (lx->tok == T_STRING) {
		/* adjacent literals concatenate; bytes and str do not mix */
		bool bytes = lx->val->t == V_BYTES, fstr = false;
		struct sbuf b = { 0 };
		while (lx->tok == T_STRING) {
			if ((lx->val->t == V_BYTES) != bytes) {
				free(b.s);
				return fail(P, NULL);
			}
			fstr |= lx->fstring;
			sb_add(&b, lx->val->s, lx->val->len);
			lex_next(lx);
		}
		if (fstr) {
			free(b.s);
			return node_new(N_OTHER); /* JoinedStr */
		}
		node *n = node_new(N_CONST);
		n->v = val_new(bytes ? V_BYTES : V_STR);
		n->v->s = b.s ? b.s : xstrdup("");
		n->v->len = b.n;
		return n;
	}
	if (lx->tok == T_NAME) {
		static const struct {
			const char *kw;
			enum vtype t;
			bool b;
		} consts[] = { { "None", V_NONE, false }, { "True", V_BOOL, true }, { "False", V_BOOL, false } };
		for (size_t i = 0; i < 3; i++) {
			if (accept_kw(P, consts[i].kw)) {
				node *n = node_new(N_CONST);
				n->v = val_new(consts[i].t);
				n->v->b = consts[i].b;
				return n;
			}
		}
		if (at_keyword(P))
			return fail(P, NULL);
		node *n = node_new(N_OTHER);
		n->name = true;
		n->set_name = is_kw(P, "set");
		lex_next(lx);
		return n;
	}
	if (accept_op(P, "...")) {
		node *n = node_new(N_CONST);
		n->v = val_new(V_ELLIPSIS);
		return n;
	}
	if (accept_op(P, "("))
		return paren_atom(P);
	if (accept_op(P, "["))
		return list_atom(P);
	if (accept_op(P, "{"))
		return brace_atom(P);
	return fail(P, NULL);
}

/* call arguments up to ')': positional, *args, name=value, **kwargs */
static bool arguments(struct parser *P)
{
	while (!is_op(P, ")")) {
		node *e;
		if (accept_op(P, "*") || accept_op(P, "**")) {
			e = expression(P);
		} else {
			e = named_expression(P);
			if (e && e->name && accept_op(P, "=")) {
				node_free(e);
				e = expression(P);
			}
		}
		if (!e)
			return false;
		node_free(e);
		if (unsupported(P))
			return false;
		if (!accept_op(P, ","))
			break;
	}
	return accept_op(P, ")");
}

/* one subscript: a slice [a]:[b][:[c]], or an expression */
static bool slice_item(struct parser *P)
{
	node *e = NULL;
	if (accept_op(P, "*")) {
		e = bitwise_or(P);
		if (!e)
			return false;
		node_free(e);
		return true;
	}
	if (!is_op(P, ":")) {
		e = named_expression(P);
		if (!e)
			return false;
		node_free(e);
		if (!is_op(P, ":"))
			return true;
	}
	for (int part = 0; part < 2 && accept_op(P, ":"); part++) {
		if (starts_expr(P)) {
			e = expression(P);
			if (!e)
				return false;
			node_free(e);
		}
	}
	return true;
}

static node *primary(struct parser *P)
{
	node *a = atom(P);
	if (!a)
		return NULL;
	for (;;) {
		if (accept_op(P, ".")) {
			if (P->lx.tok != T_NAME || at_keyword(P))
				return fail(P, a);
			lex_next(&P->lx);
			a = other(a, NULL);
		} else if (accept_op(P, "(")) {
			if (a->set_name && accept_op(P, ")")) {
				node_free(a);
				a = node_new(N_SETCALL);
				continue;
			}
			if (!arguments(P))
				return fail(P, a);
			a = other(a, NULL);
		} else if (accept_op(P, "[")) {
			/* at least one item, then more after commas */
			do {
				if (!slice_item(P))
					return fail(P, a);
			} while (accept_op(P, ",") && !is_op(P, "]"));
			if (!accept_op(P, "]"))
				return fail(P, a);
			a = other(a, NULL);
		} else {
			return a;
		}
	}
}

static node *factor(struct parser *P);

/* power: ['await'] primary ['**' factor] */
static node *power(struct parser *P)
{
	bool await = accept_kw(P, "await");
	node *a = primary(P);
	if (!a)
		return NULL;
	if (await)
		a = other(a, NULL);
	if (accept_op(P, "**")) {
		if (++P->depth > MAX_DEPTH)
			return fail(P, a);
		node *b = factor(P);
		P->depth--;
		if (!b)
			return fail(P, a);
		a = other(a, b);
	}
	return a;
}

/* factor: ('+' | '-' | '~') factor | power */
static node *factor(struct parser *P)
{
	char op = 0;
	if (is_op(P, "+") || is_op(P, "-") || is_op(P, "~"))
		op = P->lx.op[0];
	if (!op)
		return power(P);
	if (++P->depth > MAX_DEPTH)
		return fail(P, NULL);
	lex_next(&P->lx);
	node *a = factor(P);
	P->depth--;
	if (!a)
		return NULL;
	if (op == '~')
		return other(a, NULL);
	node *u = node_new(N_UNARY);
	u->op = op;
	node_push(u, a);
	return u;
}

/* the binary operator levels, loosest first; only + and - matter to _convert */
static const char *const binops[][6] = {
	{ "|", NULL }, { "^", NULL }, { "&", NULL }, { "<<", ">>", NULL },
	{ "+", "-", NULL }, { "*", "/", "//", "%", "@", NULL },
};

static node *binary(struct parser *P, int level)
{
	if (level == 6)
		return factor(P);
	node *a = binary(P, level + 1);
	while (a) {
		const char *op = NULL;
		for (const char *const *o = binops[level]; *o; o++)
			if (is_op(P, *o))
				op = *o;
		if (!op)
			break;
		lex_next(&P->lx);
		node *b = binary(P, level + 1);
		if (!b)
			return fail(P, a);
		if (level == 4) {
			node *n = node_new(N_BINOP);
			n->op = op[0];
			node_push(n, a);
			node_push(n, b);
			a = n;
		} else {
			a = other(a, b);
		}
	}
	return a;
}

static node *bitwise_or(struct parser *P)
{
	return binary(P, 0);
}

static node *comparison(struct parser *P)
{
	node *a = bitwise_or(P);
	while (a) {
		if (accept_op(P, "==") || accept_op(P, "!=") || accept_op(P, "<") || accept_op(P, "<=") ||
		    accept_op(P, ">") || accept_op(P, ">=") || accept_kw(P, "in")) {
		} else if (accept_kw(P, "not")) {
			if (!accept_kw(P, "in"))
				return fail(P, a);
		} else if (accept_kw(P, "is")) {
			accept_kw(P, "not");
		} else {
			break;
		}
		node *b = bitwise_or(P);
		if (!b)
			return fail(P, a);
		a = other(a, b);
	}
	return a;
}

static node *inversion(struct parser *P)
{
	int nots = 0;
	while (accept_kw(P, "not"))
		nots++;
	node *a = comparison(P);
	return a && nots ? other(a, NULL) : a;
}

static node *conjunction(struct parser *P)
{
	node *a = inversion(P);
	while (a && accept_kw(P, "and")) {
		node *b = inversion(P);
		if (!b)
			return fail(P, a);
		a = other(a, b);
	}
	return a;
}

static node *disjunction(struct parser *P)
{
	node *a = conjunction(P);
	while (a && accept_kw(P, "or")) {
		node *b = conjunction(P);
		if (!b)
			return fail(P, a);
		a = other(a, b);
	}
	return a;
}

/* expression: disjunction ['if' disjunction 'else' expression] */
static node *expression(struct parser *P)
{
	if (unsupported(P))
		return fail(P, NULL);
	if (++P->depth > MAX_DEPTH)
		return fail(P, NULL);
	node *a = disjunction(P);
	if (a && accept_kw(P, "if")) {
		node *c = disjunction(P);
		if (!c || !accept_kw(P, "else")) {
			node_free(c);
			a = fail(P, a);
		} else {
			node *e = expression(P);
			node_free(c);
			a = e ? other(a, e) : fail(P, a);
		}
	}
	P->depth--;
	return a;
}

/* named_expression: NAME ':=' expression | expression */
static node *named_expression(struct parser *P)
{
	node *a = expression(P);
	if (a && a->name && accept_op(P, ":=")) {
		node *b = expression(P);
		if (!b)
			return fail(P, a);
		a = other(a, b);
		a->walrus = true;
	}
	return a;
}

/* eval_input: expressions NEWLINE* ENDMARKER, where expressions is
 * expression (',' expression)* [','] (a tuple if there is a comma) */
static node *eval_input(struct parser *P)
{
	node *first = expression(P);
	if (!first)
		return NULL;
	node *top = first;
	if (is_op(P, ",")) {
		top = node_new(N_TUPLE);
		node_push(top, first);
		while (accept_op(P, ",")) {
			if (P->lx.tok == T_NEWLINE || P->lx.tok == T_END)
				break;
			node *e = expression(P);
			if (!e)
				return fail(P, top);
			node_push(top, e);
		}
	}
	while (P->lx.tok == T_NEWLINE)
		lex_next(&P->lx);
	if (P->lx.tok != T_END || P->lx.error)
		return fail(P, top);
	return top;
}

/* ---- _convert ---------------------------------------------------------------- */

/* 0: *out set; 1: ValueError; -1: another exception, *err set */
static int convert(node *n, pyval **out, char **err);

static bool is_num_const(const node *n)
{
	return n->t == N_CONST && (n->v->t == V_INT || n->v->t == V_FLOAT || n->v->t == V_COMPLEX);
}

static pyval *take(node *n)
{
	pyval *v = n->v;
	n->v = NULL;
	return v;
}

static void negate(pyval *v)
{
	if (v->t == V_INT)
		pyint_neg(&v->i);
	v->re = -v->re;
	v->im = -v->im;
}

/* _convert_signed_num: a number, or +/- a number */
static pyval *signed_num(node *n)
{
	if (n->t == N_UNARY) {
		if (!is_num_const(n->kids[0]))
			return NULL;
		pyval *v = take(n->kids[0]);
		if (n->op == '-')
			negate(v);
		return v;
	}
	return is_num_const(n) ? take(n) : NULL;
}

static int insert_set(pyval *set, pyval *item, char **err)
{
	const char *u = unhashable(item);
	if (u) {
		*err = xasprintf("unhashable type: '%s'", u);
		val_free(item);
		return -1;
	}
	for (size_t i = 0; i < set->n; i++) {
		if (val_eq(set->items[i], item)) {
			val_free(item);
			return 0;
		}
	}
	val_push(set, item);
	return 0;
}

static int insert_dict(pyval *d, pyval *k, pyval *v, char **err)
{
	const char *u = unhashable(k);
	if (u) {
		*err = xasprintf("unhashable type: '%s'", u);
		val_free(k);
		val_free(v);
		return -1;
	}
	for (size_t i = 0; i < d->n; i += 2) {
		if (val_eq(d->items[i], k)) {
			/* the first key stays, the last value wins */
			val_free(k);
			val_free(d->items[i + 1]);
			d->items[i + 1] = v;
			return 0;
		}
	}
	val_push(d, k);
	val_push(d, v);
	return 0;
}

static int convert(node *n, pyval **out, char **err)
{
	int rc;
	pyval *v;
	switch (n->t) {
	case N_CONST:
		*out = take(n);
		return 0;
	case N_TUPLE:
	case N_LIST:
	case N_SET:
		v = val_new(n->t == N_TUPLE ? V_TUPLE : n->t == N_LIST ? V_LIST : V_SET);
		for (size_t i = 0; i < n->n; i++) {
			pyval *item;
			if ((rc = convert(n->kids[i], &item, err)) != 0 ||
			    (n->t == N_SET ? (rc = insert_set(v, item, err)) : (val_push(v, item), 0)) != 0) {
				val_free(v);
				return rc;
			}
		}
		*out = v;
		return 0;
	case N_SETCALL:
		*out = val_new(V_SET);
		return 0;
	case N_DICT:
		v = val_new(V_DICT);
		for (size_t i = 0; i < n->n; i += 2) {
			pyval *k, *x;
			if (!n->kids[i]) {
				val_free(v);
				return 1; /* `**x`: a None key, "malformed node" */
			}
			if ((rc = convert(n->kids[i], &k, err)) != 0) {
				val_free(v);
				return rc;
			}
			if ((rc = convert(n->kids[i + 1], &x, err)) != 0) {
				val_free(k);
				val_free(v);
				return rc;
			}
			if ((rc = insert_dict(v, k, x, err)) != 0) {
				val_free(v);
				return rc;
			}
		}
		*out = v;
		return 0;
	case N_BINOP: {
		/* only real +/- imaginary, as in 1+2j */
		pyval *l = signed_num(n->kids[0]);
		if (!l)
			return 1;
		if (!is_num_const(n->kids[1]) || n->kids[1]->v->t != V_COMPLEX || l->t == V_COMPLEX) {
			val_free(l);
			return 1;
		}
		pyval *r = take(n->kids[1]);
		double lf = l->re;
		if (l->t == V_INT && !pyint_to_double(&l->i, &lf)) {
			val_free(l);
			val_free(r);
			*err = xstrdup("int too large to convert to float");
			return -1;
		}
		v = val_new(V_COMPLEX);
		/* the real operand becomes complex(lf, 0.0) first: signed zeros follow from that */
		v->re = n->op == '+' ? lf + r->re : lf - r->re;
		v->im = n->op == '+' ? 0.0 + r->im : 0.0 - r->im;
		val_free(l);
		val_free(r);
		*out = v;
		return 0;
	}
	case N_UNARY:
		v = signed_num(n);
		if (!v)
			return 1;
		*out = v;
		return 0;
	default:
		return 1;
	}
}

/* ---- to JSON -------------------------------------------------------------------- */

/* a lone surrogate, as our str values hold it (3 bytes ED A0..BF xx) */
static bool surrogate_at(const char *s, size_t len, size_t i)
{
	return i + 2 < len && (unsigned char)s[i] == 0xED && ((unsigned char)s[i + 1] & 0xE0) == 0xA0;
}

/* A str for output: each lone surrogate (3 bytes ED A0..BF xx here) becomes '?'. */
static json_t *str_json(const char *s, size_t len)
{
	char *o = xmalloc(len + 1);
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		if (surrogate_at(s, len, i)) {
			o[n++] = '?';
			i += 3;
		} else {
			o[n++] = s[i++];
		}
	}
	json_t *j = json_stringn(o, n);
	free(o);
	return j;
}

static json_t *bytes_json(const char *s, size_t len)
{
	size_t n;
	char *o = pyu_printable(s, len, &n);
	json_t *j = json_stringn(o, n);
	free(o);
	return j;
}

/* repr() of a float as complex.__repr__ formats its parts: no ".0", "inf", "nan" */
static void float_part(double d, bool sign, char *out, size_t sz)
{
	char buf[64];
	if (isinf(d))
		snprintf(buf, sizeof buf, "%s", d > 0 ? "inf" : "-inf");
	else if (isnan(d))
		snprintf(buf, sizeof buf, "nan");
	else
		pyjson_float_repr(d, buf, sizeof buf);
	size_t n = strlen(buf);
	if (n > 2 && strcmp(buf + n - 2, ".0") == 0)
		buf[n - 2] = '\0';
	snprintf(out, sz, "%s%s", sign && buf[0] != '-' ? "+" : "", buf);
}

static char *complex_repr(double re, double im)
{
	char r[80], i[80];
	float_part(im, false, i, sizeof i);
	if (re == 0 && !signbit(re))
		return xasprintf("%sj", i);
	float_part(re, false, r, sizeof r);
	float_part(im, true, i, sizeof i);
	return xasprintf("(%s%sj)", r, i);
}

/* repr() of a str that may hold lone surrogates (which repr() escapes) */
static char *str_repr(const char *s, size_t len)
{
	bool sq = memchr(s, '\'', len) != NULL, dq = memchr(s, '"', len) != NULL;
	char quote = sq && !dq ? '"' : '\'';
	struct sbuf b = { 0 };
	sb_char(&b, quote);
	for (size_t i = 0, adv; i < len; i += adv) {
		if (surrogate_at(s, len, i)) {
			unsigned cp = ((unsigned)(s[i] & 0x0F) << 12) | ((unsigned)(s[i + 1] & 0x3F) << 6) |
				      (unsigned)(s[i + 2] & 0x3F);
			char esc[8];
			snprintf(esc, sizeof esc, "\\u%04x", cp);
			sb_add(&b, esc, 6);
			adv = 3;
			continue;
		}
		pyu_decode(s + i, len - i, &adv);
		if (s[i] == quote || s[i] == '\\') {
			sb_char(&b, '\\');
			sb_char(&b, s[i]);
			continue;
		}
		/* one code point through pyu_repr, without its quotes */
		char *r = pyu_repr(s + i, adv);
		sb_add(&b, r + 1, strlen(r) - 2);
		free(r);
	}
	sb_char(&b, quote);
	sb_char(&b, '\0');
	return b.s;
}

/* Python's repr(), for the values JSON cannot key on */
static char *val_repr(const pyval *v)
{
	char buf[64];
	switch (v->t) {
	case V_NONE: return xstrdup("None");
	case V_ELLIPSIS: return xstrdup("Ellipsis");
	case V_BOOL: return xstrdup(v->b ? "True" : "False");
	case V_INT: return pyint_str(&v->i, NULL);
	case V_FLOAT:
		if (isinf(v->re))
			return xstrdup(v->re > 0 ? "inf" : "-inf");
		pyjson_float_repr(v->re, buf, sizeof buf);
		return xstrdup(buf);
	case V_COMPLEX: return complex_repr(v->re, v->im);
	case V_STR:
		return str_repr(v->s, v->len);
	case V_BYTES: {
		char *r = pyu_repr(v->s, v->len);
		char *b = xasprintf("b%s", r);
		free(r);
		return b;
	}
	case V_TUPLE: {
		struct sbuf b = { 0 };
		sb_char(&b, '(');
		for (size_t i = 0; i < v->n; i++) {
			char *r = val_repr(v->items[i]);
			if (i)
				sb_add(&b, ", ", 2);
			sb_add(&b, r, strlen(r));
			free(r);
		}
		if (v->n == 1)
			sb_char(&b, ',');
		sb_char(&b, ')');
		sb_char(&b, '\0');
		return b.s;
	}
	default:
		return xstrdup("?");
	}
}

/* a dict key as json.dumps writes it */
static char *key_string(const pyval *k, size_t *len)
{
	char buf[64], *s;
	switch (k->t) {
	case V_STR: {
		json_t *j = str_json(k->s, k->len);
		*len = json_string_length(j);
		s = xmalloc(*len + 1);
		memcpy(s, json_string_value(j), *len + 1);
		json_decref(j);
		return s;
	}
	case V_BOOL: s = xstrdup(k->b ? "true" : "false"); break;
	case V_NONE: s = xstrdup("null"); break;
	case V_FLOAT:
		pyjson_float_repr(k->re, buf, sizeof buf);
		s = xstrdup(buf);
		break;
	default: s = val_repr(k); break;
	}
	*len = strlen(s);
	return s;
}

static json_t *to_json(const pyval *v)
{
	switch (v->t) {
	case V_NONE: return json_null();
	case V_BOOL: return json_boolean(v->b);
	case V_INT: return pyjson_int_new(&v->i);
	case V_FLOAT:
		return pyjson_real_new(v->re);
	case V_COMPLEX: {
		char *r = complex_repr(v->re, v->im);
		json_t *j = json_string(r);
		free(r);
		return j;
	}
	case V_STR: return str_json(v->s, v->len);
	case V_BYTES: return bytes_json(v->s, v->len);
	case V_ELLIPSIS: return json_string("Ellipsis");
	case V_TUPLE:
	case V_LIST:
	case V_SET: {
		json_t *a = json_array();
		for (size_t i = 0; i < v->n; i++)
			json_array_append_new(a, to_json(v->items[i]));
		return a;
	}
	case V_DICT: {
		json_t *o = json_object();
		for (size_t i = 0; i < v->n; i += 2) {
			size_t klen;
			char *k = key_string(v->items[i], &klen);
			json_object_setn_new(o, k, klen, to_json(v->items[i + 1]));
			free(k);
		}
		return o;
	}
	}
	return json_null();
}

static const char *type_name(const pyval *v)
{
	static const char *const names[] = {
		[V_NONE] = "NoneType", [V_BOOL] = "bool", [V_INT] = "int", [V_FLOAT] = "float",
		[V_COMPLEX] = "complex", [V_STR] = "str", [V_BYTES] = "bytes", [V_ELLIPSIS] = "ellipsis",
		[V_TUPLE] = "tuple", [V_LIST] = "list", [V_SET] = "set", [V_DICT] = "dict",
	};
	return names[v->t];
}

static bool ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool ascii_digit(char c) { return c >= '0' && c <= '9'; }

/* The values inventories are full of, decided without the parser: a plain
 * word (a Name, or a SyntaxError such as `http://x:1`: not a literal), a
 * small decimal int, True/False/None, a dotted quad (SyntaxError), a simple
 * quoted string. Returns PYLIT_OK or PYLIT_REJECT when sure, else 2. */
static int fast_eval(const char *s, size_t len, json_t **out, const char **type)
{
	if (!len)
		return 2;
	if (ascii_alpha(s[0])) {
		size_t id = 1;
		while (id < len && (ascii_alpha(s[id]) || ascii_digit(s[id])))
			id++;
		bool constant = (id == 4 && (memcmp(s, "True", 4) == 0 || memcmp(s, "None", 4) == 0)) ||
				(id == 5 && memcmp(s, "False", 5) == 0);
		if (constant) {
			if (id != len)
				return 2; /* `True, 1` is a tuple */
			*out = s[0] == 'N' ? json_null() : json_boolean(s[0] == 'T');
			*type = s[0] == 'N' ? "NoneType" : "bool";
			return PYLIT_OK;
		}
		/* a name, attribute access, a - b, a/b, a@b, a:b...: never a literal
		 * (no quote can follow, so no b'' or r'' string prefix either) */
		for (size_t i = id; i < len; i++)
			if (!ascii_alpha(s[i]) && !ascii_digit(s[i]) && !strchr(".:/@-", s[i]))
				return 2;
		return PYLIT_REJECT;
	}
	if (ascii_digit(s[0]) || (s[0] == '-' && len > 1)) {
		size_t i = s[0] == '-', d = 0;
		while (i + d < len && ascii_digit(s[i + d]))
			d++;
		if (i + d == len && d <= 18 && (d == 1 || s[i] != '0')) {
			long long v = 0;
			for (size_t k = i; k < len; k++)
				v = v * 10 + (s[k] - '0');
			*out = json_integer(s[0] == '-' ? -v : v);
			*type = "int";
			return PYLIT_OK;
		}
		/* 10.0.0.1: one number after another, a SyntaxError */
		size_t dots = 0;
		bool ok = s[0] != '-';
		for (size_t k = 0; ok && k < len; k++) {
			if (s[k] == '.')
				ok = ++dots && k > 0 && k + 1 < len && s[k - 1] != '.';
			else
				ok = ascii_digit(s[k]);
		}
		return ok && dots >= 2 ? PYLIT_REJECT : 2;
	}
	if ((s[0] == '\'' || s[0] == '"') && len >= 2 && s[len - 1] == s[0]) {
		for (size_t k = 1; k + 1 < len; k++)
			if (s[k] < 0x20 || s[k] > 0x7e || s[k] == '\'' || s[k] == '"' || s[k] == '\\')
				return 2;
		*out = json_stringn_nocheck(s + 1, len - 2); /* printable ASCII: valid UTF-8 */
		*type = "str";
		return PYLIT_OK;
	}
	return 2;
}

static int eval_parsed(const char *s, size_t len, json_t **out, const char **type, char **err);

int pyliteral_eval(const char *s, size_t len, json_t **out, const char **type, char **err)
{
	/* literal_eval strips leading spaces and tabs (only) */
	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	const char *ignored;
	int fast = fast_eval(s, len, out, type ? type : &ignored);
	if (fast != 2)
		return fast;
	return eval_parsed(s, len, out, type, err);
}

int pyliteral_eval_parsed(const char *s, size_t len, json_t **out, const char **type, char **err)
{
	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	return eval_parsed(s, len, out, type, err);
}

static int eval_parsed(const char *s, size_t len, json_t **out, const char **type, char **err)
{
	/* "source code string cannot contain null bytes"; text with surrogates
	 * fails to encode for the compiler (UnicodeEncodeError, a ValueError) */
	if (memchr(s, '\0', len) || pyu_has_badbytes(s, len))
		return PYLIT_REJECT;
	/* the compiler reads \r\n and \r as \n */
	char *src = xmalloc(len + 1);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r') {
			src[n++] = '\n';
			if (i + 1 < len && s[i + 1] == '\n')
				i++;
		} else {
			src[n++] = s[i];
		}
	}
	src[n] = '\0';
	struct parser P = { .lx = { .s = src, .len = n, .line_start = true } };
	lex_next(&P.lx);
	node *root = eval_input(&P);
	val_free(P.lx.val);
	int rc = PYLIT_REJECT;
	if (root && !P.fail) {
		pyval *v = NULL;
		int c = convert(root, &v, err);
		if (c == 0) {
			*out = to_json(v);
			if (type)
				*type = type_name(v);
			val_free(v);
			rc = PYLIT_OK;
		} else if (c < 0) {
			rc = PYLIT_ERROR;
		}
	}
	node_free(root);
	free(src);
	return rc;
}
