/* prom: the Prometheus text exposition format 0.0.4, read strictly; histogram_quantile. */
#include "metrics/prom.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const type_names[] = {
#define X(id, name) name,
	PROM_TYPE_LIST(X)
#undef X
};

const char *prom_type_name(prom_type t)
{
	return (unsigned)t < PROM_TYPE_COUNT ? type_names[t] : "?";
}

void prom_limits_default(prom_limits *l)
{
	l->max_bytes = 16u << 20;
	l->max_series = 200000;
	l->max_labels = 64;
}

struct lab {
	const char *name, *value;
};

struct fam_priv {
	bool typed, helped;
};

/* What the document owns besides its public arrays. */
struct priv {
	char *buf;
	prom_label *labels;
	size_t nlabels, cap_labels;
	struct fam_priv *fp;
	strmap *byname;
};

struct parser {
	prom_doc *d;
	struct priv *pv;
	prom_limits lim;
	unsigned line;
	char *err;
	size_t cap_fam, cap_smp, cap_fp;
	size_t *label0;        /* per sample: first label's index in pv->labels */
	size_t cap_label0;
	uint64_t *hash;        /* per sample: its series hash */
	size_t cap_hash;
	size_t *set;           /* series hash set: sample index + 1, 0 empty */
	size_t set_cap;
	char dp;               /* the locale's decimal point */
};

static bool fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct parser *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* what the device sent may be quoted: no control or non-ASCII bytes reach a terminal */
	for (char *c = msg; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	p->err = xasprintf("line %u: %s", p->line, msg);
	return false;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static char *skip_blanks(char *c)
{
	while (is_blank(*c))
		c++;
	return c;
}

static bool name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

static char *scan_name(char *c, bool metric)
{
	if (!name_start(*c) || (!metric && *c == ':'))
		return c;
	c++;
	while (name_char(*c) && (metric || *c != ':'))
		c++;
	return c;
}

/* Well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
static bool utf8_ok(const unsigned char *s)
{
	while (*s) {
		if (*s < 0x80) {
			s++;
			continue;
		}
		int n;
		unsigned cp;
		if ((*s & 0xe0) == 0xc0)
			n = 1, cp = *s & 0x1f;
		else if ((*s & 0xf0) == 0xe0)
			n = 2, cp = *s & 0x0f;
		else if ((*s & 0xf8) == 0xf0)
			n = 3, cp = *s & 0x07;
		else
			return false;
		for (int i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

/* Go's strconv.ParseFloat and Python's float() forms as exporters write them:
 * decimal with optional fraction and exponent, or NaN / Inf / Infinity in any
 * case, with an optional sign. Returns false if s is not one. */
static bool parse_float_dp(char dp, const char *s, double *out)
{
	const char *c = s;
	bool neg = false;
	if (*c == '+' || *c == '-')
		neg = *c++ == '-';
	if (!strcasecmp(c, "inf") || !strcasecmp(c, "infinity")) {
		*out = neg ? -INFINITY : INFINITY;
		return true;
	}
	if (!strcasecmp(c, "nan")) {
		*out = NAN;
		return true;
	}
	/* the grammar, and the fast path's digits */
	const char *d = c;
	uint64_t m = 0;
	int digits = 0, frac = 0;
	bool seen = false, dot = false;
	for (;; d++) {
		if (*d >= '0' && *d <= '9') {
			seen = true;
			if (m || *d != '0')
				digits++;
			if (digits <= 19)
				m = m * 10 + (uint64_t)(*d - '0');
			if (dot)
				frac++;
		} else if (*d == '.' && !dot) {
			dot = true;
		} else {
			break;
		}
	}
	if (!seen)
		return false;
	bool expo = false;
	if (*d == 'e' || *d == 'E') {
		expo = true;
		d++;
		if (*d == '+' || *d == '-')
			d++;
		if (!(*d >= '0' && *d <= '9'))
			return false;
		while (*d >= '0' && *d <= '9')
			d++;
	}
	if (*d)
		return false;
	static const double pow10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
					1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
	if (!expo && digits <= 15 && frac <= 22) {
		/* m < 2^53 and 10^frac exact: one correctly rounded division */
		double v = (double)m / pow10[frac];
		*out = neg ? -v : v;
		return true;
	}
	char tmp[320];
	size_t n = strlen(s);
	if (n >= sizeof tmp)
		return false;
	memcpy(tmp, s, n + 1);
	if (dp != '.') {
		char *q = strchr(tmp, '.');
		if (q)
			*q = dp;
	}
	char *end;
	*out = strtod(tmp, &end);
	return *end == '\0';
}

static bool parse_float(const struct parser *p, const char *s, double *out)
{
	return parse_float_dp(p->dp, s, out);
}

static char locale_dp(void)
{
	const char *dp = localeconv()->decimal_point;
	return dp && dp[0] && !dp[1] ? dp[0] : '.';
}

bool prom_float(const char *s, double *out)
{
	return parse_float_dp(locale_dp(), s, out);
}

static bool parse_ts(const char *s, int64_t *out)
{
	const char *c = s;
	bool neg = false;
	if (*c == '+' || *c == '-')
		neg = *c++ == '-';
	if (!*c)
		return false;
	uint64_t v = 0;
	for (; *c; c++) {
		if (*c < '0' || *c > '9')
			return false;
		unsigned dg = (unsigned)(*c - '0');
		if (v > (UINT64_C(9223372036854775808) - dg) / 10)
			return false;
		v = v * 10 + dg;
	}
	if (!neg && v > INT64_MAX)
		return false;
	*out = neg ? (v == UINT64_C(9223372036854775808) ? INT64_MIN : -(int64_t)v) : (int64_t)v;
	return true;
}

/* Unescapes in place the text from c (a HELP text, quote 0, or a label value
 * after its opening quote, quote '"') and NUL-terminates it. Returns the position
 * after the closing quote (label) or the end of the line (help), NULL on error. */
static char *unescape(struct parser *p, char *c, char quote, const char *what)
{
	char *w = c;
	for (;;) {
		char ch = *c;
		if (ch == '\0') {
			if (quote) {
				fail(p, "%s: no closing quote", what);
				return NULL;
			}
			*w = '\0';
			return c;
		}
		if (quote && ch == quote) {
			*w = '\0';
			return c + 1;
		}
		if (ch == '\\') {
			char e = c[1];
			if (e == '\\')
				*w++ = '\\';
			else if (e == 'n')
				*w++ = '\n';
			else if (quote && e == '"')
				*w++ = '"';
			else if (e == '\0') {
				fail(p, "%s: a backslash at the end of the line", what);
				return NULL;
			} else {
				fail(p, "%s: invalid escape \\%c", what, (unsigned char)e >= 0x20 && e != 0x7f ? e : '?');
				return NULL;
			}
			c += 2;
			continue;
		}
		*w++ = ch;
		c++;
	}
}

static size_t family_of(struct parser *p, const char *name)
{
	void *v = strmap_get(p->pv->byname, name);
	return v ? (size_t)(uintptr_t)v : 0; /* index + 1 */
}

static size_t family_add(struct parser *p, const char *name)
{
	prom_doc *d = p->d;
	d->families = xgrow(d->families, &p->cap_fam, d->nfamilies + 1, sizeof *d->families);
	p->pv->fp = xgrow(p->pv->fp, &p->cap_fp, d->nfamilies + 1, sizeof *p->pv->fp);
	d->families[d->nfamilies] = (prom_family){ .name = name, .type = PROM_UNTYPED };
	p->pv->fp[d->nfamilies] = (struct fam_priv){ 0 };
	d->nfamilies++;
	strmap_put(p->pv->byname, name, (void *)(uintptr_t)d->nfamilies);
	return d->nfamilies;
}

static bool meta_line(struct parser *p, char *c)
{
	/* c is past '#' and blanks, at HELP or TYPE and a blank */
	bool help = c[0] == 'H';
	c = skip_blanks(c + 4);
	char *n = c, *e = scan_name(c, true);
	if (e == n)
		return fail(p, "%s: expected a metric name", help ? "HELP" : "TYPE");
	if (*e && !is_blank(*e))
		return fail(p, "%s: invalid character in the metric name", help ? "HELP" : "TYPE");
	char after = *e;
	*e = '\0';
	size_t f = family_of(p, n);
	if (!f)
		f = family_add(p, n);
	prom_family *fam = &p->d->families[f - 1];
	struct fam_priv *fp = &p->pv->fp[f - 1];
	c = after ? e + 1 : e;
	if (help) {
		if (fp->helped)
			return fail(p, "a second HELP for %s", n);
		fp->helped = true;
		c = skip_blanks(c);
		char *t = c;
		if (!unescape(p, c, 0, "HELP"))
			return false;
		if (!utf8_ok((const unsigned char *)t))
			return fail(p, "HELP: not UTF-8");
		fam->help = t;
		return true;
	}
	if (fp->typed)
		return fail(p, "a second TYPE for %s", n);
	if (fam->nsamples)
		return fail(p, "TYPE for %s after its samples", n);
	c = skip_blanks(c);
	char *t = c;
	while (*c && !is_blank(*c))
		c++;
	char *te = c;
	if (*skip_blanks(c))
		return fail(p, "TYPE: text after the type");
	*te = '\0';
	for (int i = 0; i < PROM_TYPE_COUNT; i++)
		if (!strcmp(t, type_names[i])) {
			fam->type = (prom_type)i;
			fp->typed = true;
			return true;
		}
	if (!*t)
		return fail(p, "TYPE: no type for %s", n);
	return fail(p, "TYPE: unknown type '%.32s' for %s", t, n);
}

static bool ends_with(const char *s, size_t n, const char *suf, size_t m)
{
	return n > m && !memcmp(s + n - m, suf, m);
}

/* Which family a sample named name belongs to; adds an untyped one if none. */
static size_t resolve_family(struct parser *p, char *name, const char **role)
{
	static const struct {
		const char *suf;
		size_t len;
		bool summary;
	} sufs[] = { { "_bucket", 7, false }, { "_sum", 4, true }, { "_count", 6, true } };
	size_t n = strlen(name);
	*role = NULL;
	for (size_t i = 0; i < sizeof sufs / sizeof *sufs; i++) {
		if (!ends_with(name, n, sufs[i].suf, sufs[i].len))
			continue;
		char *cut = name + n - sufs[i].len, saved = *cut;
		*cut = '\0';
		size_t f = family_of(p, name);
		*cut = saved;
		if (f) {
			prom_type t = p->d->families[f - 1].type;
			if (t == PROM_HISTOGRAM || (sufs[i].summary && t == PROM_SUMMARY)) {
				*role = sufs[i].suf;
				return f;
			}
		}
	}
	size_t f = family_of(p, name);
	return f ? f : family_add(p, name);
}

static uint64_t hash_bytes(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (h ^ 0xff) * 1099511628211ULL;
}

static uint64_t series_hash(const char *name, const struct lab *l, size_t n)
{
	/* labels in name order, whatever order they came in */
	const struct lab *ord[64];
	size_t k = 0;
	for (size_t i = 0; i < n && k < 64; i++) {
		size_t j = k++;
		while (j > 0 && strcmp(ord[j - 1]->name, l[i].name) > 0) {
			ord[j] = ord[j - 1];
			j--;
		}
		ord[j] = &l[i];
	}
	uint64_t h = hash_bytes(1469598103934665603ULL, name);
	for (size_t i = 0; i < k; i++)
		h = hash_bytes(hash_bytes(h, ord[i]->name), ord[i]->value);
	return h;
}

static bool same_series(const struct parser *p, size_t a, const char *name, const struct lab *l, size_t n)
{
	const prom_sample *s = &p->d->samples[a];
	if (s->nlabels != n || strcmp(s->name, name))
		return false;
	const prom_label *al = p->pv->labels + p->label0[a];
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < n && strcmp(al[j].name, l[i].name))
			j++;
		if (j == n || strcmp(al[j].value, l[i].value))
			return false;
	}
	return true;
}

/* Adds sample index idx to the set unless its series is there; false if it is. */
static bool set_insert(struct parser *p, size_t idx, uint64_t h, const char *name, const struct lab *l, size_t n)
{
	if ((idx + 1) * 2 > p->set_cap) {
		size_t ncap = p->set_cap ? p->set_cap * 2 : 256;
		size_t *ns = xcalloc(ncap, sizeof *ns);
		const uint64_t *hs = p->hash;
		for (size_t i = 0; i < p->set_cap; i++) {
			if (!p->set[i])
				continue;
			size_t k = (size_t)hs[p->set[i] - 1] & (ncap - 1);
			while (ns[k])
				k = (k + 1) & (ncap - 1);
			ns[k] = p->set[i];
		}
		free(p->set);
		p->set = ns;
		p->set_cap = ncap;
	}
	size_t k = (size_t)h & (p->set_cap - 1);
	const uint64_t *hs = p->hash;
	while (p->set[k]) {
		size_t o = p->set[k] - 1;
		if (hs[o] == h && same_series(p, o, name, l, n))
			return false;
		k = (k + 1) & (p->set_cap - 1);
	}
	p->set[k] = idx + 1;
	return true;
}

static bool sample_line(struct parser *p, char *c)
{
	prom_doc *d = p->d;
	char *name = c, *e = scan_name(c, true);
	if (e == name)
		return fail(p, "expected a metric name, got '%c'", (unsigned char)*c >= 0x20 && *c != 0x7f ? *c : '?');
	if (*e && *e != '{' && !is_blank(*e))
		return fail(p, "invalid character '%c' in the metric name",
			    (unsigned char)*e >= 0x20 && *e != 0x7f ? *e : '?');
	char after = *e;
	*e = '\0';
	c = e + (after ? 1 : 0);
	struct lab l[64 + 1];
	size_t nl = 0;
	if (after == '{') {
		for (;;) {
			c = skip_blanks(c);
			if (*c == '}') {
				c++;
				break;
			}
			char *ln = c, *le = scan_name(c, false);
			if (le == ln)
				return fail(p, "expected a label name or '}'");
			c = skip_blanks(le);
			if (*c != '=')
				return fail(p, "label %.*s: expected '='", (int)(le - ln > 64 ? 64 : le - ln), ln);
			*le = '\0';
			c = skip_blanks(c + 1);
			if (*c != '"')
				return fail(p, "label %s: expected a quoted value", ln);
			char *v = c + 1;
			c = unescape(p, v, '"', "label value");
			if (!c)
				return false;
			if (!utf8_ok((const unsigned char *)v))
				return fail(p, "label %s: value not UTF-8", ln);
			if (!strcmp(ln, "__name__"))
				return fail(p, "label name __name__ is reserved");
			for (size_t i = 0; i < nl; i++)
				if (!strcmp(l[i].name, ln))
					return fail(p, "label %s given twice", ln);
			if (nl >= p->lim.max_labels || nl >= 64)
				return fail(p, "more than %zu labels", p->lim.max_labels < 64 ? p->lim.max_labels : (size_t)64);
			l[nl].name = ln;
			l[nl].value = v;
			nl++;
			c = skip_blanks(c);
			if (*c == ',') {
				c++;
				continue;
			}
			if (*c == '}') {
				c++;
				break;
			}
			return fail(p, "expected ',' or '}' after label %s", ln);
		}
	}
	c = skip_blanks(c);
	char *v = c;
	while (*c && !is_blank(*c))
		c++;
	if (c == v)
		return fail(p, "%s: no value", name);
	char vend = *c;
	*c = '\0';
	double value;
	if (!parse_float(p, v, &value))
		return fail(p, "%s: value '%.40s' is not a number", name, v);
	bool has_ts = false;
	int64_t ts = 0;
	if (vend) {
		c = skip_blanks(c + 1);
		if (*c) {
			char *t = c;
			while (*c && !is_blank(*c))
				c++;
			char tend = *c;
			*c = '\0';
			if (!parse_ts(t, &ts))
				return fail(p, "%s: timestamp '%.40s' is not whole milliseconds", name, t);
			has_ts = true;
			if (tend && *skip_blanks(c + 1))
				return fail(p, "%s: text after the timestamp", name);
		}
	}

	const char *role;
	size_t f = resolve_family(p, name, &role);
	prom_family *fam = &d->families[f - 1];
	if (fam->type == PROM_HISTOGRAM || fam->type == PROM_SUMMARY) {
		const char *need = fam->type == PROM_HISTOGRAM ? "le" : "quantile";
		bool needs = fam->type == PROM_HISTOGRAM ? role && !strcmp(role, "_bucket") : !role;
		if (fam->type == PROM_HISTOGRAM && !role)
			return fail(p, "histogram %s: a sample named %s (want _bucket, _sum or _count)", fam->name, name);
		if (needs) {
			const char *lv = NULL;
			for (size_t i = 0; i < nl; i++)
				if (!strcmp(l[i].name, need))
					lv = l[i].value;
			double x;
			if (!lv)
				return fail(p, "%s: no %s label", name, need);
			if (!parse_float(p, lv, &x))
				return fail(p, "%s: %s=\"%.40s\" is not a number", name, need, lv);
		}
	}
	if (d->nsamples >= p->lim.max_series)
		return fail(p, "more than %zu series", p->lim.max_series);
	uint64_t h = series_hash(name, l, nl);
	size_t idx = d->nsamples;
	d->samples = xgrow(d->samples, &p->cap_smp, idx + 1, sizeof *d->samples);
	p->label0 = xgrow(p->label0, &p->cap_label0, idx + 1, sizeof *p->label0);
	p->hash = xgrow(p->hash, &p->cap_hash, idx + 1, sizeof *p->hash);
	struct priv *pv = p->pv;
	pv->labels = xgrow(pv->labels, &pv->cap_labels, pv->nlabels + nl + 1, sizeof *pv->labels);
	p->label0[idx] = pv->nlabels;
	for (size_t i = 0; i < nl; i++)
		pv->labels[pv->nlabels + i] = (prom_label){ l[i].name, l[i].value };
	d->samples[idx] = (prom_sample){
		.name = name,
		.family = f - 1,
		.nlabels = nl,
		.value = value,
		.has_ts = has_ts,
		.ts_ms = ts,
		.line = p->line,
	};
	p->hash[idx] = h;
	if (!set_insert(p, idx, h, name, l, nl))
		return fail(p, "%s: the same series twice", name);
	pv->nlabels += nl;
	d->nsamples++;
	fam->nsamples++;
	return true;
}

static bool line_dispatch(struct parser *p, char *c)
{
	c = skip_blanks(c);
	if (!*c)
		return true; /* blank */
	if (*c == '#') {
		c = skip_blanks(c + 1);
		if ((!strncmp(c, "HELP", 4) || !strncmp(c, "TYPE", 4)) && (is_blank(c[4]) || !c[4]))
			return meta_line(p, c);
		p->d->ncomments++;
		return true;
	}
	return sample_line(p, c);
}

prom_doc *prom_parse(const char *text, size_t len, const prom_limits *lim, char **err)
{
	struct parser p = { 0 };
	if (lim)
		p.lim = *lim;
	else
		prom_limits_default(&p.lim);
	if (len > p.lim.max_bytes) {
		*err = xasprintf("the exposition is %zu bytes, over the limit of %zu", len, p.lim.max_bytes);
		return NULL;
	}
	const char *nul = len ? memchr(text, '\0', len) : NULL;
	if (nul) {
		unsigned line = 1;
		for (const char *c = text; c < nul; c++)
			line += *c == '\n';
		*err = xasprintf("line %u: a NUL byte", line);
		return NULL;
	}
	p.dp = locale_dp();
	prom_doc *d = xcalloc(1, sizeof *d);
	struct priv *pv = xcalloc(1, sizeof *pv);
	d->priv_ = pv;
	p.d = d;
	p.pv = pv;
	pv->buf = xmalloc(len + 1);
	if (len)
		memcpy(pv->buf, text, len);
	pv->buf[len] = '\0';
	pv->byname = strmap_new();
	char *c = pv->buf, *end = pv->buf + len;
	bool ok = true;
	while (c < end && ok) {
		p.line++;
		char *nl = memchr(c, '\n', (size_t)(end - c));
		char *e = nl ? nl : end;
		char *next = nl ? nl + 1 : end;
		if (e > c && e[-1] == '\r')
			e--;
		*e = '\0';
		ok = line_dispatch(&p, c);
		c = next;
	}
	free(p.set);
	free(p.hash);
	if (!ok) {
		free(p.label0);
		*err = p.err;
		prom_doc_free(d);
		return NULL;
	}
	for (size_t i = 0; i < d->nsamples; i++)
		d->samples[i].labels = d->samples[i].nlabels ? pv->labels + p.label0[i] : NULL;
	free(p.label0);
	return d;
}

void prom_doc_free(prom_doc *d)
{
	if (!d)
		return;
	struct priv *pv = d->priv_;
	if (pv) {
		free(pv->buf);
		free(pv->labels);
		free(pv->fp);
		strmap_free(pv->byname);
		free(pv);
	}
	free(d->families);
	free(d->samples);
	free(d);
}

const prom_family *prom_family_find(const prom_doc *d, const char *name)
{
	const struct priv *pv = d->priv_;
	void *v = strmap_get(pv->byname, name);
	return v ? &d->families[(size_t)(uintptr_t)v - 1] : NULL;
}

const char *prom_label_get(const prom_sample *s, const char *name)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (!strcmp(s->labels[i].name, name))
			return s->labels[i].value;
	return NULL;
}

static int bucket_cmp(const void *a, const void *b)
{
	double x = ((const prom_bucket *)a)->le, y = ((const prom_bucket *)b)->le;
	return x < y ? -1 : x > y;
}

double prom_histogram_quantile(double q, prom_bucket *b, size_t n)
{
	if (isnan(q))
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	for (size_t i = 0; i < n; i++)
		if (isnan(b[i].le))
			return NAN;
	if (n == 0)
		return NAN;
	qsort(b, n, sizeof *b, bucket_cmp);
	if (!(isinf(b[n - 1].le) && b[n - 1].le > 0))
		return NAN;
	/* equal bounds merged (Prometheus' coalesceBuckets), counts made monotonic */
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && b[m - 1].le == b[i].le)
			b[m - 1].count += b[i].count;
		else
			b[m++] = b[i];
	}
	double max = -INFINITY;
	for (size_t i = 0; i < m; i++) {
		if (b[i].count > max)
			max = b[i].count;
		else
			b[i].count = max;
	}
	if (m < 2)
		return NAN;
	double obs = b[m - 1].count;
	if (!(obs > 0))
		return NAN;
	double rank = q * obs;
	size_t k = 0;
	while (k < m - 1 && !(b[k].count >= rank))
		k++;
	if (k == m - 1)
		return b[m - 2].le;
	if (k == 0 && b[0].le <= 0)
		return b[0].le;
	double start = 0, endb = b[k].le, count = b[k].count;
	if (k > 0) {
		start = b[k - 1].le;
		count -= b[k - 1].count;
		rank -= b[k - 1].count;
	}
	return start + (endb - start) * (rank / count);
}
