/* drift: the /drift document's strict parser and the baseline-versus-window
 * comparison with the seed's thresholds and severities. */
#include "drift/drift.h"
#include "util/xalloc.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct drift_feat {
	char *name;
	double *v;
	size_t n;
} drift_feat;

struct drift_set {
	size_t window;
	drift_feat *f;
	size_t n;
};

/* ---- The parser ---- */

typedef struct parser {
	const char *s;
	size_t len, pos;
	char **err;
	bool failed;
} parser;

static void where(const parser *p, size_t pos, long *line, long *col)
{
	*line = 1, *col = 1;
	for (size_t i = 0; i < pos && i < p->len; i++) {
		if (p->s[i] == '\n')
			(*line)++, *col = 1;
		else
			(*col)++;
	}
}

static bool fail_at(parser *p, size_t pos, const char *what)
{
	if (!p->failed) {
		long line, col;
		where(p, pos, &line, &col);
		if (p->err)
			*p->err = xasprintf("line %ld, column %ld: %s", line, col, what);
		p->failed = true;
	}
	return false;
}

static void skip_ws(parser *p)
{
	while (p->pos < p->len) {
		char c = p->s[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static bool expect(parser *p, char c)
{
	skip_ws(p);
	if (p->pos >= p->len || p->s[p->pos] != c) {
		char *m = xasprintf("expected '%c'%s", c, p->pos >= p->len ? " before the end" : "");
		fail_at(p, p->pos, m);
		free(m);
		return false;
	}
	p->pos++;
	return true;
}

static bool peek(parser *p, char c)
{
	skip_ws(p);
	return p->pos < p->len && p->s[p->pos] == c;
}

/* A key: only plain printable ASCII without escapes (every name this document
 * may hold is one); anything else is refused before it is copied. */
static char *parse_key(parser *p)
{
	if (!expect(p, '"'))
		return NULL;
	size_t start = p->pos;
	while (p->pos < p->len && p->s[p->pos] != '"') {
		unsigned char c = (unsigned char)p->s[p->pos];
		if (c == '\\' || c < 0x20 || c >= 0x7f) {
			fail_at(p, p->pos, "a key holds an escape, a control or a non-ASCII character");
			return NULL;
		}
		if (p->pos - start >= DRIFT_MAX_NAME) {
			char *m = xasprintf("a key longer than %d characters", DRIFT_MAX_NAME);
			fail_at(p, start, m);
			free(m);
			return NULL;
		}
		p->pos++;
	}
	if (p->pos >= p->len) {
		fail_at(p, start, "unterminated string");
		return NULL;
	}
	char *k = xstrndup(p->s + start, p->pos - start);
	p->pos++;
	return k;
}

static bool valid_name(const char *n)
{
	if (!*n)
		return false;
	for (; *n; n++) {
		char c = *n;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* The extent of a JSON number at pos (the grammar checked by hand, so strtod
 * never sees hex, "inf" or "nan"), or 0. */
static size_t number_extent(const char *s, size_t len, size_t pos)
{
	size_t i = pos;
	if (i < len && s[i] == '-')
		i++;
	if (i >= len)
		return 0;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9')
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return 0;
	if (i < len && s[i] == '.') {
		i++;
		size_t d = i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return 0;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t d = i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return 0;
	}
	return i - pos;
}

/* What a non-number value looks like, for the message. */
static const char *describe_value(const char *s, size_t len, size_t pos)
{
	static const struct {
		const char *tok, *what;
	} words[] = {
		{ "NaN", "NaN" }, { "-NaN", "NaN" }, { "nan", "NaN" }, { "Infinity", "infinite" },
		{ "-Infinity", "infinite" }, { "inf", "infinite" }, { "-inf", "infinite" }, { "null", "null" },
		{ "true", "a boolean" }, { "false", "a boolean" },
	};
	for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
		size_t l = strlen(words[i].tok);
		if (len - pos >= l && memcmp(s + pos, words[i].tok, l) == 0)
			return words[i].what;
	}
	if (pos < len && s[pos] == '"')
		return "a string";
	if (pos < len && (s[pos] == '[' || s[pos] == '{'))
		return "not a number";
	return "not a valid number";
}

static bool parse_double(parser *p, double *out, const char *feature, size_t index)
{
	skip_ws(p);
	size_t n = number_extent(p->s, p->len, p->pos);
	if (n == 0 || n > 400) {
		char *m = n ? xasprintf("feature \"%s\": value %zu is too long a number", feature, index)
			    : xasprintf("feature \"%s\": value %zu is %s, not a finite number", feature, index,
					describe_value(p->s, p->len, p->pos));
		fail_at(p, p->pos, m);
		free(m);
		return false;
	}
	char buf[401];
	memcpy(buf, p->s + p->pos, n);
	buf[n] = '\0';
	errno = 0;
	double v = strtod(buf, NULL);
	if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1.0)) {
		char *m = xasprintf("feature \"%s\": value %zu (%s) is out of range, not a finite number", feature,
				    index, buf);
		fail_at(p, p->pos, m);
		free(m);
		return false;
	}
	*out = v;
	p->pos += n;
	return true;
}

static bool parse_window(parser *p, size_t *window)
{
	skip_ws(p);
	size_t start = p->pos;
	size_t n = number_extent(p->s, p->len, p->pos);
	bool ok = n > 0 && n <= 8;
	long long w = 0;
	for (size_t i = 0; ok && i < n; i++) {
		char c = p->s[start + i];
		if (c < '0' || c > '9')
			ok = false;
		else
			w = w * 10 + (c - '0');
	}
	if (!ok || w < 1 || w > DRIFT_MAX_VALUES) {
		char *m = xasprintf("\"window\" must be an integer from 1 to %d", DRIFT_MAX_VALUES);
		fail_at(p, start, m);
		free(m);
		return false;
	}
	p->pos += n;
	*window = (size_t)w;
	return true;
}

static int feat_cmp(const void *a, const void *b)
{
	return strcmp(((const drift_feat *)a)->name, ((const drift_feat *)b)->name);
}

static bool parse_features(parser *p, drift_set *s, size_t *cap)
{
	size_t total = 0; /* values in all features so far */
	if (!expect(p, '{'))
		return false;
	if (peek(p, '}')) {
		p->pos++;
		return true;
	}
	for (;;) {
		size_t kpos = (skip_ws(p), p->pos);
		char *name = parse_key(p);
		if (!name)
			return false;
		if (!valid_name(name)) {
			char *m = xasprintf("feature name \"%s\": only letters, digits, '_', '-' and '.'", name);
			fail_at(p, kpos, m);
			free(m);
			free(name);
			return false;
		}
		for (size_t i = 0; i < s->n; i++)
			if (strcmp(s->f[i].name, name) == 0) {
				char *m = xasprintf("feature \"%s\" appears twice", name);
				fail_at(p, kpos, m);
				free(m);
				free(name);
				return false;
			}
		if (s->n >= DRIFT_MAX_FEATURES) {
			char *m = xasprintf("more than %d features", DRIFT_MAX_FEATURES);
			fail_at(p, kpos, m);
			free(m);
			free(name);
			return false;
		}
		s->f = xgrow(s->f, cap, s->n + 1, sizeof *s->f);
		drift_feat *f = &s->f[s->n++];
		f->name = name;
		f->v = NULL;
		f->n = 0;
		if (!expect(p, ':'))
			return false;
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != '[') {
			char *m = xasprintf("feature \"%s\": expected an array of numbers", name);
			fail_at(p, p->pos, m);
			free(m);
			return false;
		}
		p->pos++;
		size_t n = 0, vcap = 0;
		if (!peek(p, ']')) {
			for (;;) {
				if (total >= DRIFT_MAX_TOTAL_VALUES) {
					char *m = xasprintf("feature \"%s\": more than %d values in all features", name,
							    DRIFT_MAX_TOTAL_VALUES);
					fail_at(p, p->pos, m);
					free(m);
					return false;
				}
				if (n >= DRIFT_MAX_VALUES) {
					char *m = xasprintf("feature \"%s\": more than %d values", name,
							    DRIFT_MAX_VALUES);
					fail_at(p, p->pos, m);
					free(m);
					return false;
				}
				f->v = xgrow(f->v, &vcap, n + 1, sizeof *f->v);
				if (!parse_double(p, &f->v[n], name, n))
					return false;
				n++;
				total++;
				if (peek(p, ','))
					p->pos++;
				else
					break;
			}
		}
		if (!expect(p, ']'))
			return false;
		f->n = n;
		if (peek(p, ',')) {
			p->pos++;
			continue;
		}
		return expect(p, '}');
	}
}

drift_set *drift_parse(const char *text, size_t len, char **err)
{
	if (len > DRIFT_MAX_DOC_BYTES) {
		if (err)
			*err = xasprintf("%zu bytes, more than the %zu a drift document may have", len,
					 DRIFT_MAX_DOC_BYTES);
		return NULL;
	}
	/* Numbers are read in the C locale whatever the process's is. */
	locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	locale_t old = c ? uselocale(c) : (locale_t)0;
	parser p = { .s = text, .len = len, .err = err };
	drift_set *s = xcalloc(1, sizeof *s);
	size_t cap = 0;
	bool have_window = false, have_features = false;
	size_t declared = 0;
	if (!expect(&p, '{'))
		goto out;
	for (;;) {
		size_t kpos = (skip_ws(&p), p.pos);
		char *key = parse_key(&p);
		if (!key)
			goto out;
		if (!expect(&p, ':')) {
			free(key);
			goto out;
		}
		bool ok;
		if (strcmp(key, "window") == 0 && !have_window) {
			ok = parse_window(&p, &declared);
			have_window = true;
		} else if (strcmp(key, "features") == 0 && !have_features) {
			ok = parse_features(&p, s, &cap);
			have_features = true;
		} else {
			char *m = strcmp(key, "window") == 0 || strcmp(key, "features") == 0
					  ? xasprintf("\"%s\" appears twice", key)
					  : xasprintf("unknown key \"%s\" (a drift document has \"window\" and \"features\")",
						      key);
			ok = fail_at(&p, kpos, m);
			free(m);
		}
		free(key);
		if (!ok)
			goto out;
		if (peek(&p, ',')) {
			p.pos++;
			continue;
		}
		if (!expect(&p, '}'))
			goto out;
		break;
	}
	skip_ws(&p);
	if (p.pos != p.len) {
		fail_at(&p, p.pos, "text after the document");
		goto out;
	}
	if (!have_window || !have_features) {
		fail_at(&p, 0, have_window ? "no \"features\"" : "no \"window\"");
		goto out;
	}
	if (s->n == 0) {
		fail_at(&p, 0, "no features");
		goto out;
	}
	/* Every feature holds exactly the declared window. */
	for (size_t i = 0; i < s->n; i++)
		if (s->f[i].n != declared) {
			char *m = xasprintf("feature \"%s\": %zu values, but \"window\" is %zu", s->f[i].name,
					    s->f[i].n, declared);
			fail_at(&p, 0, m);
			free(m);
			goto out;
		}
	s->window = declared;
out:
	if (old)
		uselocale(old);
	if (c)
		freelocale(c);
	if (p.failed) {
		drift_set_free(s);
		return NULL;
	}
	qsort(s->f, s->n, sizeof *s->f, feat_cmp);
	return s;
}

void drift_set_free(drift_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->f[i].name);
		free(s->f[i].v);
	}
	free(s->f);
	free(s);
}

size_t drift_set_window(const drift_set *s)
{
	return s->window;
}

size_t drift_set_count(const drift_set *s)
{
	return s->n;
}

const char *drift_set_name(const drift_set *s, size_t i)
{
	return i < s->n ? s->f[i].name : NULL;
}

const double *drift_set_values(const drift_set *s, size_t i)
{
	return i < s->n ? s->f[i].v : NULL;
}

/* ---- The comparison ---- */

static const char *const severity_names[] = {
	[DRIFT_NONE] = "none",
	[DRIFT_WARNING] = "warning",
	[DRIFT_CRITICAL] = "critical",
};

const char *drift_severity_name(enum drift_severity s)
{
	return (size_t)s < sizeof severity_names / sizeof *severity_names ? severity_names[s] : "?";
}

static const drift_feat *find_feat(const drift_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->f[i].name, name) == 0)
			return &s->f[i];
	return NULL;
}

static bool good_threshold(double t)
{
	return isfinite(t) && t > 0;
}

/* The checks drift_compare makes before comparing; 0 or -1 with *err. */
static int check_compare(const drift_set *baseline, const drift_set *window, const drift_opts *o, char **err)
{
	if (!good_threshold(o->threshold)) {
		*err = xasprintf("threshold %g: must be a number greater than 0", o->threshold);
		return -1;
	}
	for (size_t i = 0; i < o->nper_feature; i++) {
		const drift_threshold *t = &o->per_feature[i];
		if (!good_threshold(t->threshold)) {
			*err = xasprintf("feature \"%s\": threshold %g: must be a number greater than 0", t->name,
					 t->threshold);
			return -1;
		}
		if (!find_feat(baseline, t->name) && !find_feat(window, t->name)) {
			*err = xasprintf("feature \"%s\" has a threshold but is in neither document", t->name);
			return -1;
		}
	}
	for (size_t i = 0; i < window->n; i++)
		if (!find_feat(baseline, window->f[i].name)) {
			*err = xasprintf("feature \"%s\" is in the window but not in the baseline", window->f[i].name);
			return -1;
		}
	for (size_t i = 0; i < baseline->n; i++)
		if (!find_feat(window, baseline->f[i].name)) {
			*err = xasprintf("feature \"%s\" is in the baseline but not in the window",
					 baseline->f[i].name);
			return -1;
		}
	return 0;
}

/* Compares baseline (its values sorted when sorted is set) with window. */
static drift_report *compare(const drift_set *baseline, bool sorted, const drift_set *window, const drift_opts *o,
			     char **err)
{
	drift_opts def = { .threshold = DRIFT_DEFAULT_THRESHOLD };
	if (!o)
		o = &def;
	if (check_compare(baseline, window, o, err))
		return NULL;
	drift_report *r = xcalloc(1, sizeof *r);
	r->features = xcalloc(baseline->n, sizeof *r->features);
	r->nfeatures = baseline->n;
	double *work = NULL, *bwork = NULL;
	if (sorted || o->mode != KS_MODE_AUTO) {
		/* the window's sorted copy, then the Wasserstein terms */
		size_t bmax = 0;
		for (size_t i = 0; i < baseline->n; i++)
			bmax = baseline->f[i].n > bmax ? baseline->f[i].n : bmax;
		work = xmalloc((2 * window->window + bmax) * sizeof *work);
		if (!sorted)
			bwork = xmalloc(bmax * sizeof *bwork);
	}
	for (size_t i = 0; i < baseline->n; i++) {
		const drift_feat *b = &baseline->f[i], *w = find_feat(window, b->name);
		drift_feature *f = &r->features[i];
		f->name = xstrdup(b->name);
		f->threshold = o->threshold;
		/* the last threshold given for a name wins, as on a command line */
		for (size_t k = 0; k < o->nper_feature; k++)
			if (strcmp(o->per_feature[k].name, b->name) == 0)
				f->threshold = o->per_feature[k].threshold;
		if (!work) {
			ks_2samp(b->v, b->n, w->v, w->n, &f->ks);
			f->wasserstein = ks_wasserstein(b->v, b->n, w->v, w->n);
		} else {
			const double *bs = b->v;
			if (bwork) {
				memcpy(bwork, b->v, b->n * sizeof *bwork);
				ks_sort(bwork, b->n);
				bs = bwork;
			}
			memcpy(work, w->v, w->n * sizeof *work);
			ks_sort(work, w->n);
			ks_both_sorted(bs, b->n, work, w->n, o->mode, work + w->n, &f->ks, &f->wasserstein);
		}
		f->drifted = f->ks.statistic > f->threshold;
		f->severity = !f->drifted ? DRIFT_NONE
			      : f->ks.statistic >= 1.5 * f->threshold ? DRIFT_CRITICAL
								       : DRIFT_WARNING;
		if (i == 0 || f->ks.statistic > r->max_ks)
			r->max_ks = f->ks.statistic;
		if (f->drifted)
			r->drifted = true;
		if (f->severity > r->severity)
			r->severity = f->severity;
	}
	free(work);
	free(bwork);
	return r;
}

drift_report *drift_compare(const drift_set *baseline, const drift_set *window, const drift_opts *o,
			    char **err)
{
	return compare(baseline, false, window, o, err);
}

void drift_report_free(drift_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nfeatures; i++)
		free(r->features[i].name);
	free(r->features);
	free(r);
}

/* ---- Prepared baselines and pooled windows ---- */

struct drift_baseline {
	drift_set *s; /* values sorted */
};

static drift_set *set_copy(const drift_set *src)
{
	drift_set *s = xcalloc(1, sizeof *s);
	s->window = src->window;
	s->n = src->n;
	s->f = xcalloc(src->n ? src->n : 1, sizeof *s->f);
	for (size_t i = 0; i < src->n; i++) {
		s->f[i].name = xstrdup(src->f[i].name);
		s->f[i].n = src->f[i].n;
		s->f[i].v = xmalloc((src->f[i].n ? src->f[i].n : 1) * sizeof *s->f[i].v);
		memcpy(s->f[i].v, src->f[i].v, src->f[i].n * sizeof *s->f[i].v);
	}
	return s;
}

drift_baseline *drift_baseline_new(const drift_set *src)
{
	drift_baseline *b = xcalloc(1, sizeof *b);
	b->s = set_copy(src);
	for (size_t i = 0; i < b->s->n; i++)
		ks_sort(b->s->f[i].v, b->s->f[i].n);
	return b;
}

void drift_baseline_free(drift_baseline *b)
{
	if (!b)
		return;
	drift_set_free(b->s);
	free(b);
}

size_t drift_baseline_window(const drift_baseline *b)
{
	return b->s->window;
}

size_t drift_baseline_count(const drift_baseline *b)
{
	return b->s->n;
}

const char *drift_baseline_name(const drift_baseline *b, size_t i)
{
	return drift_set_name(b->s, i);
}

drift_report *drift_compare_baseline(const drift_baseline *b, const drift_set *window, const drift_opts *o,
				     char **err)
{
	return compare(b->s, true, window, o, err);
}

drift_set *drift_set_pool(const drift_set *const *sets, size_t n, char **err)
{
	if (n == 0) {
		*err = xstrdup("no windows to pool");
		return NULL;
	}
	const drift_set *first = sets[0];
	size_t total = 0;
	for (size_t k = 0; k < n; k++) {
		if (sets[k]->n != first->n) {
			*err = xasprintf("window %zu has %zu features, the first %zu", k, sets[k]->n, first->n);
			return NULL;
		}
		/* features are sorted by name: the same names are at the same places */
		for (size_t i = 0; i < first->n; i++)
			if (strcmp(sets[k]->f[i].name, first->f[i].name) != 0) {
				*err = xasprintf("window %zu has feature \"%s\" where the first has \"%s\"", k,
						 sets[k]->f[i].name, first->f[i].name);
				return NULL;
			}
		total += sets[k]->window;
		if (total > DRIFT_MAX_VALUES) {
			*err = xasprintf("more than %d values per feature pooled", DRIFT_MAX_VALUES);
			return NULL;
		}
	}
	drift_set *s = xcalloc(1, sizeof *s);
	s->window = total;
	s->n = first->n;
	s->f = xcalloc(first->n ? first->n : 1, sizeof *s->f);
	for (size_t i = 0; i < first->n; i++) {
		drift_feat *f = &s->f[i];
		f->name = xstrdup(first->f[i].name);
		f->v = xmalloc((total ? total : 1) * sizeof *f->v);
		for (size_t k = 0; k < n; k++) {
			memcpy(f->v + f->n, sets[k]->f[i].v, sets[k]->f[i].n * sizeof *f->v);
			f->n += sets[k]->f[i].n;
		}
	}
	return s;
}
