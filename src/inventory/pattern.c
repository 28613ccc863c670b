/* pattern: Ansible host patterns, a port of ansible-core 2.14's InventoryManager.get_hosts() and helpers. */
#include "inventory/pattern.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PUSH(arr, n, cap, item)                                         \
	do {                                                            \
		(arr) = xgrow((arr), &(cap), (n) + 1, sizeof *(arr));   \
		(arr)[(n)++] = (item);                                  \
	} while (0)

struct strvec {
	char **v;
	size_t n, cap;
};

struct hostvec {
	inv_host **v;
	size_t n, cap;
};

static void strvec_free(struct strvec *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

static void hostvec_addn(struct hostvec *hv, inv_host *const *h, size_t n)
{
	if (!n)
		return;
	hv->v = xgrow(hv->v, &hv->cap, hv->n + n, sizeof *hv->v);
	memcpy(hv->v + hv->n, h, n * sizeof *h);
	hv->n += n;
}

/* ---- Python str semantics over UTF-8 ---- */

/* One code point; bytes that are not valid UTF-8 decode one by one to
 * U+DC80..U+DCFF, as Python's surrogateescape does for argv and file names. */
static uint32_t utf8_next(const unsigned char **ps)
{
	const unsigned char *s = *ps;
	uint32_t c = s[0];
	size_t len = 0;
	uint32_t min = 0;
	if (c < 0x80) {
		*ps = s + 1;
		return c;
	} else if (c >= 0xC2 && c <= 0xDF) {
		len = 2, c &= 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3, c &= 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4, c &= 0x07, min = 0x10000;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80) {
			len = 0;
			break;
		}
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (len == 0 || c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
		*ps = s + 1;
		return 0xDC00 + s[0];
	}
	*ps = s + len;
	return c;
}

/* str.isspace(), which is also what `\s` means in a str regex. */
static bool py_isspace(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
	       c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
	       c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Bytes of the whitespace code point at s, 0 if there is none. */
static size_t space_at(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	if (!*p)
		return 0;
	uint32_t c = utf8_next(&p);
	return py_isspace(c) ? (size_t)(p - (const unsigned char *)s) : 0;
}

/* str.strip() of s[0..n); NULL when nothing is left. */
static char *strip_dup(const char *s, size_t n)
{
	const char *end = s + n;
	size_t k;
	while (s < end && (k = space_at(s)) && s + k <= end)
		s += k;
	/* a code point is at most 4 bytes: look for one ending at `end` */
	for (;;) {
		bool cut = false;
		for (size_t back = 1; back <= 4 && back <= (size_t)(end - s); back++) {
			if (space_at(end - back) == back) {
				end -= back;
				cut = true;
				break;
			}
		}
		if (!cut)
			break;
	}
	return end > s ? xstrndup(s, (size_t)(end - s)) : NULL;
}

/* repr() of a bytes object, as Ansible's messages show limit file names. */
static char *bytes_repr(const char *s)
{
	char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
	size_t cap = strlen(s) * 4 + 4, n = 0;
	char *out = xmalloc(cap);
	out[n++] = 'b';
	out[n++] = q;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == q || *p == '\\') {
			out[n++] = '\\';
			out[n++] = (char)*p;
		} else if (*p == '\t' || *p == '\n' || *p == '\r') {
			out[n++] = '\\';
			out[n++] = *p == '\t' ? 't' : *p == '\n' ? 'n' : 'r';
		} else if (*p < 0x20 || *p >= 0x7F) {
			n += (size_t)sprintf(out + n, "\\x%02x", *p);
		} else {
			out[n++] = (char)*p;
		}
	}
	out[n++] = q;
	out[n] = '\0';
	return out;
}

/* ---- split_host_pattern() ---- */

/* parse_address()'s expressions, verbatim but for the verbose-mode layout.
 * Like Python's, the ipv6 one anchors only its first alternative at the start
 * and its last at the end, so anything that begins like `fe80::` passes. */
#define NUMERIC_RANGE "\\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\\]"
#define HEX_RANGE "\\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\\]"
#define ALNUM_RANGE "\\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\\]"
#define I6 "(?:[0-9a-f]{1,4}|" HEX_RANGE ")"
#define I4 "(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|" NUMERIC_RANGE ")"
#define LABEL "(?:[\\w]|" ALNUM_RANGE ")(?:[\\w_-]|" ALNUM_RANGE ")*(?<![_-])"

static const struct {
	const char *re;
	uint32_t flags;
} addr_re[] = {
	{ "^\\[(.+)\\]:([0-9]+)$", 0 },
	{ "^((?:[^:\\[\\]]|\\[[^\\]]*\\])*):([0-9]+)$", 0 },
	{ "^(?:" I4 "\\.){3}" I4 "$", PCRE2_CASELESS },
	{ "^(?:" I6 ":){7}" I6 "|(?:" I6 ":){1,6}:|(?:" I6 ":)(?::" I6 "){1,6}|"
	  "(?:" I6 ":){2}(?::" I6 "){1,5}|(?:" I6 ":){3}(?::" I6 "){1,4}|"
	  "(?:" I6 ":){4}(?::" I6 "){1,3}|(?:" I6 ":){5}(?::" I6 "){1,2}|"
	  "(?:" I6 ":){6}(?::" I6 ")|:(?::" I6 "){1,6}|" I6 "?::|"
	  "(?:0:){6}(?:" I6 "\\.){3}" I6 "|::(?:ffff:)?(?:" I6 "\\.){3}" I6 "|"
	  "(?:0:){5}ffff:(?:" I6 "\\.){3}" I6 "$", PCRE2_CASELESS },
	{ "^" LABEL "(?:\\." LABEL ")*$", PCRE2_CASELESS },
};

static pcre2_code *py_compile(const char *re, uint32_t flags)
{
	int ec;
	PCRE2_SIZE off;
	pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
	/* Python's `.` and `$` know only \n as a line end */
	pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
					 flags | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_ANCHORED,
					 &ec, &off, cc);
	pcre2_compile_context_free(cc);
	return code;
}

/* re.match(): matched at the start, -1 on a match error (treated as no match). */
static bool py_match(const pcre2_code *code, pcre2_match_data *md, const char *s, size_t n)
{
	return pcre2_match(code, (PCRE2_SPTR)s, n, 0, 0, md, NULL) >= 0;
}

/* Does parse_address(s, allow_ranges=True) accept s? */
static bool parse_address_ok(const char *s)
{
	pcre2_code *code[5];
	for (size_t i = 0; i < 5; i++)
		code[i] = py_compile(addr_re[i].re, addr_re[i].flags | PCRE2_UCP);
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	char *addr = xstrdup(s);
	/* Both port forms are tried in turn, the second on what the first left. */
	for (size_t i = 0; i < 2; i++) {
		if (code[i] && pcre2_match(code[i], (PCRE2_SPTR)addr, strlen(addr), 0, 0, md, NULL) >= 0) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
			char *host = xstrndup(addr + ov[2], ov[3] - ov[2]);
			free(addr);
			addr = host;
		}
	}
	bool ok = false;
	for (size_t i = 2; i < 5 && !ok; i++)
		ok = code[i] && *addr && py_match(code[i], md, addr, strlen(addr));
	free(addr);
	pcre2_match_data_free(md);
	for (size_t i = 0; i < 5; i++)
		pcre2_code_free(code[i]);
	return ok;
}

static void push_stripped(struct strvec *out, const char *s, size_t n)
{
	char *p = strip_dup(s, n);
	if (p)
		PUSH(out->v, out->n, out->cap, p);
}

static void split_host_pattern(const char *pattern, struct strvec *out)
{
	if (strchr(pattern, ',')) {
		for (const char *s = pattern;;) {
			const char *c = strchr(s, ',');
			size_t n = c ? (size_t)(c - s) : strlen(s);
			push_stripped(out, s, n);
			if (!c)
				break;
			s = c + 1;
		}
		return;
	}
	if (parse_address_ok(pattern)) {
		push_stripped(out, pattern, strlen(pattern));
		return;
	}
	/* re.findall(r'(?:[^\s:\[\]]|\[[^\]]*\])+'): the old ':'-separated form */
	const char *s = pattern;
	while (*s) {
		const char *start = s;
		for (;;) {
			if (!*s || space_at(s) || *s == ':' || *s == ']')
				break;
			if (*s == '[') {
				const char *close = strchr(s + 1, ']');
				if (!close)
					break;
				s = close + 1;
			} else {
				s++;
			}
		}
		if (s > start)
			push_stripped(out, start, (size_t)(s - start));
		else
			s += space_at(s) ? space_at(s) : 1;
	}
}

/* ---- fnmatch.translate() ---- */

enum gkind { G_LIT, G_ANY, G_STAR, G_NEVER, G_CLASS };

struct gelem {
	enum gkind kind;
	bool neg;
	uint32_t c;
	size_t first, n; /* ranges of a G_CLASS */
};

struct glob {
	struct gelem *el;
	size_t nel, cap;
	uint32_t (*rng)[2];
	size_t nrng, caprng;
	bool literal;
	/* Shortcuts for the common shapes, which scans of 100,000 names need:
	 * the leading literal elements as bytes, and for `pre*` and `pre*suf`
	 * the whole test. */
	char *pre, *suf;
	size_t npre, nsuf, first; /* first: element after the prefix */
	enum { SHAPE_ANY, SHAPE_PRE_STAR, SHAPE_PRE_STAR_SUF } shape;
};

struct cpvec {
	uint32_t *v;
	size_t n, cap;
};

static void glob_add(struct glob *g, enum gkind k, uint32_t c)
{
	struct gelem e = { k, false, c, 0, 0 };
	PUSH(g->el, g->nel, g->cap, e);
}

/* The `[...]` of fnmatch.translate(): pat[i..j) is what is between the
 * brackets. Python builds a regex set from it, dropping reversed ranges
 * (and the characters around them); the same decisions are made here on
 * code points, so `[z-a]` never matches and `[!z-a]` matches anything. */
static void glob_class(struct glob *g, const uint32_t *pat, size_t i, size_t j)
{
	/* tokens: code points, with SEP marking a range hyphen */
	const uint32_t SEP = 0xFFFFFFFFu;
	struct cpvec tok = { 0 };
	bool dash = false;
	for (size_t k = i; k < j; k++)
		dash |= pat[k] == '-';
	if (!dash) {
		for (size_t k = i; k < j; k++)
			PUSH(tok.v, tok.n, tok.cap, pat[k]);
	} else {
		struct cpvec *chunks = NULL;
		size_t nch = 0, cch = 0;
		size_t k = pat[i] == '!' ? i + 2 : i + 1;
		for (;;) {
			size_t f = k;
			while (f < j && pat[f] != '-')
				f++;
			if (k >= j || f >= j)
				break;
			struct cpvec c = { 0 };
			for (size_t x = i; x < f; x++)
				PUSH(c.v, c.n, c.cap, pat[x]);
			PUSH(chunks, nch, cch, c);
			i = f + 1;
			k = f + 3;
		}
		if (i < j) {
			struct cpvec c = { 0 };
			for (size_t x = i; x < j; x++)
				PUSH(c.v, c.n, c.cap, pat[x]);
			PUSH(chunks, nch, cch, c);
		} else {
			PUSH(chunks[nch - 1].v, chunks[nch - 1].n, chunks[nch - 1].cap, (uint32_t)'-');
		}
		for (size_t x = nch - 1; x > 0; x--) {
			struct cpvec *a = &chunks[x - 1], *b = &chunks[x];
			if (a->v[a->n - 1] > b->v[0]) {
				a->n--;
				for (size_t y = 1; y < b->n; y++)
					PUSH(a->v, a->n, a->cap, b->v[y]);
				free(b->v);
				memmove(b, b + 1, (nch - x - 1) * sizeof *b);
				nch--;
			}
		}
		for (size_t x = 0; x < nch; x++) {
			if (x)
				PUSH(tok.v, tok.n, tok.cap, SEP);
			for (size_t y = 0; y < chunks[x].n; y++)
				PUSH(tok.v, tok.n, tok.cap, chunks[x].v[y]);
			free(chunks[x].v);
		}
		free(chunks);
	}
	if (tok.n == 0) {
		glob_add(g, G_NEVER, 0);
	} else if (tok.n == 1 && tok.v[0] == '!') {
		glob_add(g, G_ANY, 0);
	} else {
		struct gelem e = { G_CLASS, tok.v[0] == '!', 0, g->nrng, 0 };
		for (size_t x = e.neg ? 1 : 0; x < tok.n; x++) {
			uint32_t r[2] = { tok.v[x], tok.v[x] };
			if (x + 2 < tok.n && tok.v[x + 1] == SEP) {
				r[1] = tok.v[x + 2];
				x += 2;
			}
			g->rng = xgrow(g->rng, &g->caprng, g->nrng + 1, sizeof *g->rng);
			g->rng[g->nrng][0] = r[0];
			g->rng[g->nrng][1] = r[1];
			g->nrng++;
		}
		e.n = g->nrng - e.first;
		PUSH(g->el, g->nel, g->cap, e);
	}
	free(tok.v);
}

/* The run of G_LIT elements from *k on, in UTF-8. */
static char *lits_to_bytes(const struct glob *g, size_t *k, size_t *len)
{
	char *b = xmalloc(4 * (g->nel - *k) + 1);
	size_t n = 0;
	/* an escaped byte could be part of a valid character in a name: stop there */
	for (; *k < g->nel && g->el[*k].kind == G_LIT && !(g->el[*k].c >= 0xDC80 && g->el[*k].c <= 0xDCFF); (*k)++) {
		uint32_t c = g->el[*k].c;
		if (c < 0x80) {
			b[n++] = (char)c;
		} else if (c < 0x800) {
			b[n++] = (char)(0xC0 | (c >> 6));
			b[n++] = (char)(0x80 | (c & 0x3F));
		} else if (c < 0x10000) {
			b[n++] = (char)(0xE0 | (c >> 12));
			b[n++] = (char)(0x80 | ((c >> 6) & 0x3F));
			b[n++] = (char)(0x80 | (c & 0x3F));
		} else {
			b[n++] = (char)(0xF0 | (c >> 18));
			b[n++] = (char)(0x80 | ((c >> 12) & 0x3F));
			b[n++] = (char)(0x80 | ((c >> 6) & 0x3F));
			b[n++] = (char)(0x80 | (c & 0x3F));
		}
	}
	b[n] = '\0';
	*len = n;
	return b;
}

static void glob_compile(struct glob *g, const char *pattern)
{
	memset(g, 0, sizeof *g);
	struct cpvec pat = { 0 };
	for (const unsigned char *p = (const unsigned char *)pattern; *p;)
		PUSH(pat.v, pat.n, pat.cap, utf8_next(&p));
	size_t i = 0, n = pat.n;
	while (i < n) {
		uint32_t c = pat.v[i++];
		if (c == '*') {
			if (!g->nel || g->el[g->nel - 1].kind != G_STAR)
				glob_add(g, G_STAR, 0);
		} else if (c == '?') {
			glob_add(g, G_ANY, 0);
		} else if (c == '[') {
			size_t j = i;
			if (j < n && pat.v[j] == '!')
				j++;
			if (j < n && pat.v[j] == ']')
				j++;
			while (j < n && pat.v[j] != ']')
				j++;
			if (j >= n) {
				glob_add(g, G_LIT, '[');
			} else {
				glob_class(g, pat.v, i, j);
				i = j + 1;
			}
		} else {
			glob_add(g, G_LIT, c);
		}
	}
	free(pat.v);
	g->literal = true;
	for (size_t k = 0; k < g->nel; k++)
		g->literal &= g->el[k].kind == G_LIT;
	size_t k = 0;
	g->pre = lits_to_bytes(g, &k, &g->npre);
	g->first = k;
	g->shape = SHAPE_ANY;
	if (k + 1 == g->nel && g->el[k].kind == G_STAR) {
		g->shape = SHAPE_PRE_STAR;
	} else if (k < g->nel && g->el[k].kind == G_STAR) {
		size_t e = k + 1;
		char *suf = lits_to_bytes(g, &e, &g->nsuf);
		if (e == g->nel) {
			g->shape = SHAPE_PRE_STAR_SUF;
			g->suf = suf;
		} else {
			free(suf);
		}
	}
}

static void glob_free(struct glob *g)
{
	free(g->el);
	free(g->rng);
	free(g->pre);
	free(g->suf);
}

static bool gelem_match(const struct glob *g, const struct gelem *e, uint32_t c)
{
	switch (e->kind) {
	case G_LIT:
		return e->c == c;
	case G_ANY:
		return true; /* translate() wraps everything in (?s:...) */
	case G_CLASS:
		for (size_t i = 0; i < e->n; i++)
			if (c >= g->rng[e->first + i][0] && c <= g->rng[e->first + i][1])
				return !e->neg;
		return e->neg;
	default:
		return false;
	}
}

/* A whole-string match, as re.match(translate(p)) with its trailing \Z.
 * Every element but `*` takes exactly one code point, so resuming after the
 * last `*` (the classic wildcard algorithm) is exact; it is also what the
 * atomic groups of 3.11's translate() express. */
static bool glob_match(const struct glob *g, const char *name, size_t len)
{
	if (len < g->npre || memcmp(name, g->pre, g->npre) != 0)
		return false;
	if (g->shape == SHAPE_PRE_STAR)
		return true;
	if (g->shape == SHAPE_PRE_STAR_SUF)
		return len >= g->npre + g->nsuf && memcmp(name + len - g->nsuf, g->suf, g->nsuf) == 0;
	const unsigned char *p = (const unsigned char *)name + g->npre, *star_p = NULL;
	size_t i = g->first, star_i = 0;
	bool star = false;
	for (;;) {
		if (i < g->nel && g->el[i].kind == G_STAR) {
			star = true;
			star_i = ++i;
			star_p = p;
			if (i == g->nel)
				return true; /* a trailing `*` takes whatever is left */
			continue;
		}
		if (!*p)
			break;
		const unsigned char *q = p;
		uint32_t c = utf8_next(&q);
		if (i < g->nel && gelem_match(g, &g->el[i], c)) {
			i++;
			p = q;
			continue;
		}
		if (!star)
			return false;
		utf8_next(&star_p);
		p = star_p;
		i = star_i;
	}
	return i == g->nel;
}

/* ---- ~regex: Python re syntax on PCRE2 ---- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* \xhh, \uhhhh, \Uhhhhhhhh need exactly that many digits in Python; PCRE2 spells them \x{...}. */
static bool hex_escape(const char **ps, int digits, char **out, size_t *n, size_t *cap)
{
	const char *s = *ps;
	unsigned long v = 0;
	for (int i = 0; i < digits; i++) {
		int h = hexval((unsigned char)s[i]);
		if (h < 0)
			return false;
		v = v * 16 + (unsigned long)h;
	}
	if (v > 0x10FFFF)
		return false;
	char buf[16];
	int k = snprintf(buf, sizeof buf, "\\x{%lx}", v);
	*out = xgrow(*out, cap, *n + (size_t)k + 1, 1);
	memcpy(*out + *n, buf, (size_t)k);
	*n += (size_t)k;
	*ps = s + digits;
	return true;
}

/* Rewrites Python regex syntax that PCRE2 reads differently (\Z, \v, \u,
 * {,n}, `[` inside a set) and refuses what Python's parser refuses but PCRE2
 * would take (unknown letter escapes, (?<name>, global flags past the start),
 * so that the error Ansible gives stays an error. NULL: invalid. */
static char *py_regex_to_pcre2(const char *re, bool *ascii)
{
	size_t n = 0, cap = strlen(re) * 2 + 16;
	char *out = xmalloc(cap);
#define EMIT(ch)                                        \
	do {                                            \
		out = xgrow(out, &cap, n + 2, 1);       \
		out[n++] = (char)(ch);                  \
	} while (0)
#define EMITS(str)                                      \
	do {                                            \
		for (const char *e_ = (str); *e_; e_++) \
			EMIT(*e_);                      \
	} while (0)
	bool in_class = false, at_start = true, verbose = false, glob_a = false, glob_u = false;
	int depth = 0;
	const char *s = re;
	while (*s) {
		char c = *s++;
		if (c == '\\') {
			char e = *s++;
			if (!e)
				goto bad;
			if (e == 'Z' && !in_class) {
				EMITS("\\z");
			} else if (e == 'v') {
				EMITS("\\x{b}");
			} else if (e == 'x' || e == 'u' || e == 'U') {
				if (!hex_escape(&s, e == 'x' ? 2 : e == 'u' ? 4 : 8, &out, &n, &cap))
					goto bad;
			} else if (strchr("dDsSwWafnrtb", e) || (!in_class && strchr("ABZ", e)) || (e >= '0' && e <= '9')) {
				EMIT('\\');
				EMIT(e);
			} else if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) {
				goto bad; /* Python: bad escape (\N{name} is not supported here) */
			} else {
				EMIT('\\');
				EMIT(e);
			}
			at_start = false;
			continue;
		}
		if (in_class) {
			if (c == ']') {
				in_class = false;
				EMIT(c);
			} else if (c == '[') {
				EMITS("\\["); /* Python has no [:alpha:] classes */
			} else {
				EMIT(c);
			}
			continue;
		}
		if (verbose && (strchr(" \t\n\r\f\v", c) || c == '#')) {
			/* (?x): layout and comments, which the rest must not inspect */
			EMIT(c);
			if (c == '#')
				while (*s && *s != '\n')
					EMIT(*s++);
			continue;
		}
		if (c == '(' && s[0] == '?' && s[1] == '#') {
			const char *e = strchr(s, ')');
			if (!e)
				goto bad;
			EMIT(c);
			while (s <= e)
				EMIT(*s++);
			continue;
		}
		if (c == '[') {
			in_class = true;
			EMIT('[');
			if (*s == '^')
				EMIT(*s++);
			if (*s == ']') {
				EMITS("\\]");
				s++;
			}
			at_start = false;
			continue;
		}
		if (c == '{') {
			const char *p = s;
			while (*p >= '0' && *p <= '9')
				p++;
			bool nolo = p == s;
			if (nolo && *p == ',') {
				const char *q = p + 1;
				while (*q >= '0' && *q <= '9')
					q++;
				if (*q == '}') {
					EMITS("{0");
					continue; /* the rest (",n}") is copied as it comes */
				}
			}
			EMIT(c);
			at_start = false;
			continue;
		}
		if (c == '(' && *s == '*')
			goto bad; /* Python: nothing to repeat; PCRE2: a (*VERB) */
		if (c == '(' && *s == '?') {
			const char *p = s + 1;
			if (*p == '<' && p[1] != '=' && p[1] != '!')
				goto bad;
			if (*p == 'P' && p[1] != '<' && p[1] != '=')
				goto bad;
			if (*p && strchr("aiLmsux-", *p)) {
				/* (?flags) or (?flags:...); PCRE2 has no a/u letters: u is
				 * the default anyway, a global (?a) drops UCP */
				const char *q = p;
				bool a = false, u = false, minus = false, off_au = false;
				for (; *q && strchr("aiLmsux-", *q); q++) {
					if (*q == 'L')
						goto bad; /* not allowed with a str pattern */
					a |= *q == 'a';
					u |= *q == 'u';
					off_au |= minus && (*q == 'a' || *q == 'u');
					minus |= *q == '-';
				}
				if ((*q != ')' && *q != ':') || (a && u) || off_au)
					goto bad;
				if (*q == ')') {
					if (!at_start || depth || minus)
						goto bad; /* Python 3.11: global flags not at the start */
					glob_a |= a;
					glob_u |= u;
					if (glob_a && glob_u)
						goto bad;
					*ascii |= a;
					verbose |= memchr(p, 'x', (size_t)(q - p)) != NULL;
				} else {
					depth++;
				}
				size_t mark = n;
				EMITS("(?");
				for (const char *x = p; x < q; x++)
					if (*x != 'a' && *x != 'u')
						EMIT(*x);
				if (*q == ')' && n == mark + 2)
					n = mark; /* nothing left of it */
				else
					EMIT(*q);
				s = q + 1;
				if (*q == ':')
					at_start = false;
				continue;
			} else if (!*p || !strchr(":P=!<#(>", *p)) {
				goto bad;
			}
		}
		if (c == '(')
			depth++;
		else if (c == ')' && depth)
			depth--;
		EMIT(c);
		at_start = false;
	}
	out[n] = '\0';
	return out;
bad:
	free(out);
	return NULL;
#undef EMIT
#undef EMITS
}

/* ---- matching one expression against names ---- */

struct matcher {
	bool regex, jit;
	struct glob glob;
	pcre2_code *code;
	pcre2_match_data *md;
};

static int matcher_init(struct matcher *m, const char *expr, char **err)
{
	memset(m, 0, sizeof *m);
	if (expr[0] != '~') {
		glob_compile(&m->glob, expr);
		return 0;
	}
	m->regex = true;
	bool ascii = false;
	char *re = py_regex_to_pcre2(expr + 1, &ascii);
	if (re)
		m->code = py_compile(re, ascii ? 0 : PCRE2_UCP);
	free(re);
	if (!m->code) {
		*err = xasprintf("Invalid host list pattern: %s", expr);
		return -1;
	}
	m->jit = pcre2_jit_compile(m->code, PCRE2_JIT_COMPLETE) == 0; /* else the interpreter */
	m->md = pcre2_match_data_create_from_pattern(m->code, NULL);
	return 0;
}

static bool matcher_match(struct matcher *m, const char *name, size_t len)
{
	if (m->jit)
		return pcre2_jit_match(m->code, (PCRE2_SPTR)name, len, 0, 0, m->md, NULL) >= 0;
	if (m->regex)
		return py_match(m->code, m->md, name, len);
	return glob_match(&m->glob, name, len);
}

static void matcher_free(struct matcher *m)
{
	glob_free(&m->glob);
	pcre2_match_data_free(m->md);
	pcre2_code_free(m->code);
}

/* ---- InventoryManager ---- */

struct cached {
	char *key;
	struct hostvec hosts;
	bool unique; /* no duplicates in hosts */
};

struct eval {
	inventory *inv;
	strmap *cache; /* _pattern_cache: pattern (without &/!) -> struct cached */
	bool unexpected; /* the error is a Python exception other than AnsibleError */
};

struct subscript {
	bool set;
	long long start, end; /* end: -1 for "to the end", LLONG_MIN for a single index */
};

/* int() of a digit string; values beyond any list length saturate. */
static long long parse_digits(const char *s, size_t n)
{
	const long long cap = 1LL << 60;
	long long v = 0;
	for (size_t i = 0; i < n; i++)
		v = v > cap / 10 ? cap : v * 10 + (s[i] - '0');
	return v;
}

static size_t count_digits(const char *s)
{
	size_t n = 0;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	return n;
}

/* PATTERN_WITH_SUBSCRIPT: ^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$ */
static char *split_subscript(struct eval *ev, const char *pattern, struct subscript *sub)
{
	*sub = (struct subscript){ 0 };
	size_t len = strlen(pattern);
	if (pattern[0] == '~' || len < 4 || pattern[len - 1] != ']')
		return xstrdup(pattern);
	const char *open = strrchr(pattern, '[');
	if (!open || open == pattern || memchr(pattern, '\n', (size_t)(open - pattern)))
		return xstrdup(pattern);
	const char *s = open + 1, *close = pattern + len - 1;
	const char *p = s + (*s == '-');
	size_t d = count_digits(p);
	if (d && p + d == close) {
		long long v = parse_digits(p, d);
		sub->start = *s == '-' ? -v : v;
		sub->end = LLONG_MIN;
	} else {
		d = count_digits(s);
		if (!d || (s[d] != ':' && s[d] != '-'))
			return xstrdup(pattern);
		const char *e = s + d + 1;
		size_t de = count_digits(e);
		if (e + de != close)
			return xstrdup(pattern);
		sub->start = parse_digits(s, d);
		sub->end = de ? parse_digits(e, de) : -1;
		if (s[d] == '-')
			inv_warn(ev->inv, "Use [x:y] inclusive subscripts instead of [x-y] which has been removed");
	}
	sub->set = true;
	return xstrndup(pattern, (size_t)(open - pattern));
}

/* How many leading entries of the list sub picks from (SIZE_MAX: it needs them all). */
static size_t subscript_need(const struct subscript *sub)
{
	if (!sub->set)
		return SIZE_MAX;
	long long last = sub->end != LLONG_MIN && sub->end != 0 ? sub->end : sub->start;
	if (last < 0 || last >= (long long)(SIZE_MAX / 2))
		return SIZE_MAX;
	return (size_t)last + 1;
}

/* _apply_subscript(); -1 where Python raises IndexError. */
static int apply_subscript(struct hostvec *hv, const struct subscript *sub)
{
	if (!hv->n || !sub->set)
		return 0;
	long long len = (long long)hv->n, start = sub->start, end = sub->end;
	/* `if end:` — so [x:0] means the single host x, like [x] */
	if (end != LLONG_MIN && end != 0) {
		if (end == -1)
			end = len - 1;
		long long stop = end + 1 < len ? end + 1 : len;
		if (start >= stop) {
			hv->n = 0;
		} else {
			memmove(hv->v, hv->v + start, (size_t)(stop - start) * sizeof *hv->v);
			hv->n = (size_t)(stop - start);
		}
		return 0;
	}
	if (start < 0)
		start += len;
	if (start < 0 || start >= len)
		return -1;
	hv->v[0] = hv->v[start];
	hv->n = 1;
	return 0;
}

/* Inventory's localhost for `localhost`, `127.0.0.1` or `::1` when nothing
 * matched: InventoryData.get_host() returns a host of that name, else the
 * first localhost-like host of the inventory, else the implicit one. */
static inv_host *localhost_for(inventory *inv, const char *name)
{
	inv_host *h = inv_host_get(inv, name);
	if (h)
		return h;
	static const char *const names[] = { "localhost", "127.0.0.1", "::1" };
	for (size_t i = 0; i < 3; i++) {
		inv_host *x = inv_host_get(inv, names[i]);
		if (x && (!h || x->index < h->index))
			h = x;
	}
	return h ? h : inv_implicit_localhost(inv, name);
}

/* _enumerate_matches(): hosts of matching groups (in group creation order,
 * each in get_hosts() order), then matching hosts; duplicates kept, since a
 * subscript indexes this very list. Without a subscript (`exact` false) only
 * the first occurrences count, so once `all` (always the first group) has
 * matched and holds every host, the rest could only repeat it and is
 * skipped. Once the list holds `need` entries (all a subscript can pick
 * from), the rest is skipped too. *unique: the list is known to hold no
 * duplicates. */
static int enumerate_matches(struct eval *ev, const char *pattern, bool exact, size_t need, struct hostvec *out,
			     bool *unique, char **err)
{
	inventory *inv = ev->inv;
	struct matcher m;
	if (matcher_init(&m, pattern, err) < 0)
		return -1;
	bool literal = !m.regex && m.glob.literal;
	size_t ngroups = 0, nparts = 0, nh;
	bool covered = false;
	if (literal) {
		inv_group *g = inv_group_get(inv, pattern);
		if (g) {
			ngroups++, nparts++;
			inv_host *const *hs = inv_group_hosts(inv, g, &nh);
			hostvec_addn(out, hs, nh);
		}
	} else {
		for (size_t i = 0, n = inv_group_count(inv); i < n && !covered && out->n < need; i++) {
			inv_group *g = inv_group_at(inv, i);
			if (matcher_match(&m, g->name, strlen(g->name))) {
				ngroups++, nparts++;
				inv_host *const *hs = inv_group_hosts(inv, g, &nh);
				hostvec_addn(out, hs, nh);
				inv_host *imp = inv_implicit_localhost_peek(inv);
				covered = i == 0 && !exact && nh == inv_host_count(inv) && (!imp || !imp->ngroups);
			}
		}
	}
	if (!covered && out->n < need && (!ngroups || pattern[0] == '~' || strpbrk(pattern, ".?*["))) {
		size_t before = out->n;
		if (literal) {
			inv_host *h = inv_host_get(inv, pattern);
			if (h)
				hostvec_addn(out, &h, 1);
		} else {
			/* names read in one sweep, not host by host: the scan
			 * is bound by memory latency otherwise */
			const size_t *off;
			const char *names = inv_host_names_packed(inv, &off);
			for (size_t i = 0, n = inv_host_count(inv); i < n; i++) {
				if (matcher_match(&m, names + off[i], off[i + 1] - off[i] - 1)) {
					inv_host *h = inv_host_at(inv, i);
					hostvec_addn(out, &h, 1);
				}
			}
		}
		nparts += out->n > before;
	}
	matcher_free(&m);
	if (!out->n && inv_is_localhost_name(pattern)) {
		inv_host *h = localhost_for(inv, pattern);
		hostvec_addn(out, &h, 1);
		nparts++;
	}
	if (!out->n && !ngroups && strcmp(pattern, "all") != 0)
		inv_warn(inv, "Could not match supplied host pattern, ignoring: %s", pattern);
	*unique = nparts <= 1 || covered;
	return 0;
}

/* _match_one_pattern(), memoised per call like Ansible's _pattern_cache. */
static struct cached *match_one_pattern(struct eval *ev, const char *p, char **err)
{
	if (p[0] == '&' || p[0] == '!')
		p++;
	struct cached *c = strmap_get(ev->cache, p);
	if (c)
		return c;
	if (!*p) {
		/* Ansible indexes pattern[0] of the empty rest of "&" or "!" */
		*err = xstrdup("Unexpected Exception, this is probably a bug: string index out of range");
		ev->unexpected = true;
		return NULL;
	}
	struct subscript sub;
	char *expr = split_subscript(ev, p, &sub);
	struct hostvec hv = { 0 };
	bool unique;
	int rc = enumerate_matches(ev, expr, sub.set, subscript_need(&sub), &hv, &unique, err);
	free(expr);
	if (rc == 0 && apply_subscript(&hv, &sub) < 0) {
		*err = xasprintf("No hosts matched the subscripted pattern '%s'", p);
		rc = -1;
	}
	if (rc < 0) {
		free(hv.v);
		return NULL;
	}
	c = xmalloc(sizeof *c);
	c->key = xstrdup(p);
	c->hosts = hv;
	c->unique = unique;
	strmap_put(ev->cache, c->key, c);
	return c;
}

/* _evaluate_patterns() after order_patterns(). Every pattern is resolved
 * first, then the sets are combined: resolving may rebuild a group's host
 * cache, which uses the hosts' marks that the combining relies on. The
 * result has no duplicates; Ansible's has them until deduplicate_list(),
 * which keeps first occurrences, so the order is the same. */
static int evaluate_patterns(struct eval *ev, char **pats, size_t npats, struct hostvec *out, char **err)
{
	const char *ordered_all = "all";
	const char **ord = xmalloc((npats + 1) * sizeof *ord);
	size_t nord = 0;
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < npats; i++) {
			const char *p = pats[i];
			if (!*p)
				continue;
			int kind = p[0] == '&' ? 1 : p[0] == '!' ? 2 : 0;
			if (kind == pass)
				ord[nord++] = p;
		}
		if (pass == 0 && nord == 0)
			ord[nord++] = ordered_all;
	}
	/* resolve: a plain host name is taken as is, even with a leading &/! */
	struct cached **sets = xcalloc(nord, sizeof *sets);
	inv_host **plain = xcalloc(nord, sizeof *plain);
	for (size_t i = 0; i < nord; i++) {
		plain[i] = inv_host_get(ev->inv, ord[i]);
		if (!plain[i] && !(sets[i] = match_one_pattern(ev, ord[i], err))) {
			free(sets);
			free(plain);
			free(ord);
			return -1;
		}
	}
	inventory *inv = ev->inv;
	unsigned in_out = 0; /* mark of the hosts in out, 0 when stale */
	for (size_t i = 0; i < nord; i++) {
		inv_host **that = plain[i] ? &plain[i] : sets[i]->hosts.v;
		size_t nthat = plain[i] ? 1 : sets[i]->hosts.n;
		char k = plain[i] ? 0 : ord[i][0];
		if (k == '!' || k == '&') {
			unsigned m = inv_next_mark(inv);
			for (size_t j = 0; j < nthat; j++)
				that[j]->mark = m;
			size_t w = 0;
			for (size_t j = 0; j < out->n; j++)
				if ((out->v[j]->mark == m) == (k == '&'))
					out->v[w++] = out->v[j];
			out->n = w;
			in_out = 0;
		} else if (!out->n && (plain[i] || sets[i]->unique)) {
			/* nothing to deduplicate against: leave the marks stale */
			hostvec_addn(out, that, nthat);
			in_out = 0;
		} else {
			if (!in_out) {
				in_out = inv_next_mark(inv);
				for (size_t j = 0; j < out->n; j++)
					out->v[j]->mark = in_out;
			}
			for (size_t j = 0; j < nthat; j++) {
				if (that[j]->mark != in_out) {
					that[j]->mark = in_out;
					hostvec_addn(out, &that[j], 1);
				}
			}
		}
	}
	free(sets);
	free(plain);
	free(ord);
	return 0;
}

static void cache_free(strmap *cache)
{
	size_t it = 0;
	const char *k;
	void *v;
	while (strmap_next(cache, &it, &k, &v)) {
		struct cached *c = v;
		free(c->hosts.v);
		free(c->key);
		free(c);
	}
	strmap_free(cache);
}

/* InventoryManager.subset(): the limit split like a pattern, each `@FILE`
 * replaced by the file's lines (stripped, not split further). */
static int read_limit(const char *limit, struct strvec *out, char **err)
{
	struct strvec items = { 0 };
	split_host_pattern(limit, &items);
	for (size_t i = 0; i < items.n; i++) {
		const char *x = items.v[i];
		if (x[0] != '@') {
			PUSH(out->v, out->n, out->cap, xstrdup(x));
			continue;
		}
		const char *path = x + 1;
		struct stat st;
		char *r = NULL;
		if (stat(path, &st) != 0) {
			r = bytes_repr(path);
			*err = xasprintf("Unable to find limit file %s", r);
		} else if (!S_ISREG(st.st_mode)) {
			r = bytes_repr(path);
			*err = xasprintf("Limit starting with \"@\" must be a file, not a directory: %s", r);
		}
		FILE *f = r ? NULL : fopen(path, "rb");
		if (!r && !f) {
			int e = errno;
			r = bytes_repr(path);
			*err = xasprintf("Unexpected Exception, this is probably a bug: [Errno %d] %s: %s", e, strerror(e), r);
		}
		if (r) {
			free(r);
			strvec_free(&items);
			return -1;
		}
		size_t n = 0, cap = 4096, got;
		char *buf = xmalloc(cap);
		char chunk[4096];
		while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
			buf = xgrow(buf, &cap, n + got + 1, 1);
			memcpy(buf + n, chunk, got);
			n += got;
		}
		buf[n] = '\0'; /* strip_dup() may look a few bytes ahead */
		fclose(f);
		/* read() in text mode turns \r\n and \r into \n; split("\n") keeps empty lines */
		size_t start = 0;
		for (size_t k = 0; k <= n; k++) {
			if (k == n || buf[k] == '\n' || buf[k] == '\r') {
				char *line = strip_dup(buf + start, k - start);
				PUSH(out->v, out->n, out->cap, line ? line : xstrdup(""));
				if (k < n && buf[k] == '\r' && k + 1 < n && buf[k + 1] == '\n')
					k++;
				start = k + 1;
			}
		}
		free(buf);
	}
	strvec_free(&items);
	return 0;
}

/* get_hosts() under subset(limit); *unexpected tells an error that is not an AnsibleError */
static int pattern_limit(inventory *inv, const char *pattern, const char *limit, inv_host ***hosts, size_t *n,
			 bool *unexpected, char **err)
{
	*hosts = NULL;
	*n = 0;
	*unexpected = false;
	struct strvec subset = { 0 }, pats = { 0 };
	if (limit && read_limit(limit, &subset, err) < 0)
		return -1;
	struct eval ev = { inv, strmap_new(), false };
	struct hostvec out = { 0 };
	split_host_pattern(pattern ? pattern : "all", &pats);
	int rc = evaluate_patterns(&ev, pats.v, pats.n, &out, err);
	/* an empty subset list is falsy in Python: no limit at all */
	if (rc == 0 && subset.n) {
		struct hostvec allowed = { 0 };
		rc = evaluate_patterns(&ev, subset.v, subset.n, &allowed, err);
		if (rc == 0) {
			unsigned m = inv_next_mark(inv);
			for (size_t i = 0; i < allowed.n; i++)
				allowed.v[i]->mark = m;
			size_t w = 0;
			for (size_t i = 0; i < out.n; i++)
				if (out.v[i]->mark == m)
					out.v[w++] = out.v[i];
			out.n = w;
		}
		free(allowed.v);
	}
	cache_free(ev.cache);
	strvec_free(&pats);
	strvec_free(&subset);
	if (rc < 0) {
		*unexpected = ev.unexpected;
		free(out.v);
		return -1;
	}
	*hosts = out.v;
	*n = out.n;
	return 0;
}

int inv_pattern_limit(inventory *inv, const char *pattern, const char *limit, inv_host ***hosts, size_t *n,
		      char **err)
{
	bool unexpected;
	return pattern_limit(inv, pattern, limit, hosts, n, &unexpected, err);
}

int inv_pattern_hosts(inventory *inv, const char *pattern, inv_host ***hosts, size_t *n, char **err)
{
	return inv_pattern_limit(inv, pattern, NULL, hosts, n, err);
}

/* CLI.get_host_list() as AdHocCLI.run() calls it for --list-hosts. */
int inv_pattern_list_hosts(inventory *inv, const char *pattern, const char *limit, inv_host ***hosts, size_t *n,
			   char **err)
{
	*hosts = NULL;
	*n = 0;
	if (!pattern)
		pattern = "all";
	/* inventory.list_hosts() == []: only the implicit localhost is left */
	size_t nall = 0;
	inv_group *all = inv_group_get(inv, "all");
	if (all)
		inv_group_hosts(inv, all, &nall);
	bool no_hosts = nall == 0;
	if (no_hosts && !inv_is_localhost_name(pattern))
		inv_warn(inv, "provided hosts list is empty, only localhost is available. Note that the "
			      "implicit localhost does not match 'all'");
	bool unexpected;
	char *e = NULL;
	int rc = pattern_limit(inv, pattern, limit, hosts, n, &unexpected, &e);
	if (rc == 0 && *n == 0 && !no_hosts) {
		rc = -1;
		unexpected = false;
		e = xstrdup("Specified inventory, host pattern and/or --limit leaves us with no hosts to target.");
	}
	if (rc == 0)
		return 0;
	/* an AnsibleError without --limit: no hosts, and a warning */
	if (unexpected || (limit && *limit)) {
		free(*hosts);
		*hosts = NULL;
		*n = 0;
		*err = e;
		return -1;
	}
	free(e);
	free(*hosts);
	*hosts = NULL;
	*n = 0;
	inv_warn(inv, "No hosts matched, nothing to do");
	return 0;
}

