/* expo: the Prometheus text exposition writer (expo.h). */
#include "metrics/expo.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct expo {
	char *buf;
	size_t len, cap;
	strmap *families;     /* names written; each value is its owned key */
	bool in_family;
	char *family;         /* the current family's name */
	char *error;
};

static void put(expo *e, const char *s, size_t n)
{
	e->buf = xgrow(e->buf, &e->cap, e->len + n + 1, 1);
	memcpy(e->buf + e->len, s, n);
	e->len += n;
	e->buf[e->len] = '\0';
}

static void puts_(expo *e, const char *s)
{
	put(e, s, strlen(s));
}

static void fail(expo *e, char *msg)
{
	if (!e->error)
		e->error = msg;
	else
		free(msg);
}

expo *expo_new(void)
{
	expo *e = xcalloc(1, sizeof *e);
	e->families = strmap_new();
	put(e, "", 0);
	return e;
}

void expo_free(expo *e)
{
	if (!e)
		return;
	size_t it = 0;
	const char *k;
	void *v;
	while (strmap_next(e->families, &it, &k, &v))
		free(v);
	strmap_free(e->families);
	free(e->buf);
	free(e->family);
	free(e->error);
	free(e);
}

static bool name_ok(const char *s, bool colon)
{
	if (!s || !*s)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
		if (!alpha && !(p > s && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

bool expo_metric_name_ok(const char *name)
{
	return name_ok(name, true);
}

bool expo_label_name_ok(const char *name)
{
	return name_ok(name, false) && strncmp(name, "__", 2) != 0;
}

/* Length of the well-formed UTF-8 sequence at s (1-4), or 0 if it is not one
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	size_t n;
	uint32_t cp;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Appends v escaped: always \\ and \n; \" too inside label values; in HELP text (quote
 * false) other control characters but tab become spaces. */
static void put_escaped(expo *e, const char *v, bool quote)
{
	const unsigned char *s = (const unsigned char *)v;
	while (*s) {
		size_t n = utf8_len(s);
		if (n == 0) {
			puts_(e, "\xef\xbf\xbd"); /* U+FFFD for a byte that is not UTF-8 */
			s++;
			continue;
		}
		if (*s == '\\')
			puts_(e, "\\\\");
		else if (*s == '\n')
			puts_(e, "\\n");
		else if (*s == '"' && quote)
			puts_(e, "\\\"");
		else if (!quote && (*s < 0x20 || *s == 0x7f) && *s != '\t')
			puts_(e, " "); /* HELP text has no escape for them, and a \r would be lost */
		else
			put(e, (const char *)s, n);
		s += n;
	}
}

char *expo_escape_label(const char *v)
{
	expo tmp = { 0 };
	put(&tmp, "", 0);
	put_escaped(&tmp, v, true);
	return tmp.buf;
}

void expo_format_value(double v, char *buf, size_t size)
{
	if (isnan(v)) {
		snprintf(buf, size, "NaN");
	} else if (isinf(v)) {
		snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
	} else {
		/* the fewest digits from 15 to 17 that read back as v (17 always do) */
		for (int digits = 15; digits <= 17; digits++) {
			snprintf(buf, size, "%.*g", digits, v);
			if (strtod(buf, NULL) == v)
				break;
		}
	}
}

void expo_family(expo *e, const char *name, const char *type, const char *help)
{
	e->in_family = false;
	if (!expo_metric_name_ok(name)) {
		fail(e, xasprintf("bad metric name '%s'", name ? name : "(null)"));
		return;
	}
	if (strcmp(type, "gauge") && strcmp(type, "counter") && strcmp(type, "untyped")) {
		fail(e, xasprintf("%s: unsupported type '%s'", name, type));
		return;
	}
	if (strmap_get(e->families, name)) {
		fail(e, xasprintf("%s: family written twice", name));
		return;
	}
	char *key = xstrdup(name); /* the map owns no keys: the value is the key */
	strmap_put(e->families, key, key);
	free(e->family);
	e->family = xstrdup(name);
	e->in_family = true;
	puts_(e, "# HELP ");
	puts_(e, name);
	puts_(e, " ");
	put_escaped(e, help, false);
	puts_(e, "\n# TYPE ");
	puts_(e, name);
	puts_(e, " ");
	puts_(e, type);
	puts_(e, "\n");
}

void expo_sample(expo *e, const char *const *labels, double v)
{
	if (!e->in_family) {
		fail(e, xstrdup("a sample outside a family"));
		return;
	}
	puts_(e, e->family);
	bool open = false;
	for (size_t i = 0; labels && labels[i]; i += 2) {
		if (!expo_label_name_ok(labels[i])) {
			fail(e, xasprintf("%s: bad label name '%s'", e->family, labels[i]));
			continue;
		}
		if (!labels[i + 1])
			continue;
		puts_(e, open ? "," : "{");
		open = true;
		puts_(e, labels[i]);
		puts_(e, "=\"");
		put_escaped(e, labels[i + 1], true);
		puts_(e, "\"");
	}
	if (open)
		puts_(e, "}");
	char num[40];
	expo_format_value(v, num, sizeof num);
	puts_(e, " ");
	puts_(e, num);
	puts_(e, "\n");
}

const char *expo_text(const expo *e, size_t *len)
{
	if (len)
		*len = e->len;
	return e->buf;
}

const char *expo_error(const expo *e)
{
	return e->error;
}
