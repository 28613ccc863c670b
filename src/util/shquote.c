/* shquote: POSIX shell single-quote quoting, and identifier/path validation. */
#include "util/shquote.h"

#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

char *shquote_mem(const char *s, size_t n)
{
	if (memchr(s, '\0', n))
		return NULL;
	size_t quotes = 0;
	for (size_t i = 0; i < n; i++)
		quotes += s[i] == '\'';
	/* ' -> '\'' adds 3 bytes; plus the two outer quotes and the NUL */
	char *out = xmalloc(n + 3 * quotes + 3);
	char *o = out;
	*o++ = '\'';
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else {
			*o++ = s[i];
		}
	}
	*o++ = '\'';
	*o = '\0';
	return out;
}

char *shquote_word(const char *s)
{
	return shquote_mem(s, strlen(s));
}

char *shquote_join(const char *const *argv, size_t n)
{
	size_t len = 1, cap = 0;
	char *out = NULL;
	out = xgrow(out, &cap, 1, 1);
	out[0] = '\0';
	len = 0;
	for (size_t i = 0; i < n; i++) {
		char *q = shquote_word(argv[i]);
		size_t ql = strlen(q);
		out = xgrow(out, &cap, len + ql + 2, 1);
		if (i)
			out[len++] = ' ';
		memcpy(out + len, q, ql + 1);
		len += ql;
		free(q);
	}
	return out;
}

static bool ident_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '+' || c == ':' || c == '@' || c == '-';
}

int shquote_check_ident(const char *s, const char *what, char **err)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0) {
		*err = xasprintf("%s is empty", what);
		return -1;
	}
	if (n > 128) {
		*err = xasprintf("%s is longer than 128 bytes", what);
		return -1;
	}
	if (s[0] == '-' || s[0] == '.') {
		*err = xasprintf("%s may not start with '%c'", what, s[0]);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!ident_char((unsigned char)s[i])) {
			*err = xasprintf("%s holds a character outside [A-Za-z0-9._+:@-] at byte %zu", what, i + 1);
			return -1;
		}
	}
	return 0;
}

int shquote_check_path(const char *s, const char *what, char **err)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || s[0] != '/') {
		*err = xasprintf("%s must be an absolute path", what);
		return -1;
	}
	if (n > 1024) {
		*err = xasprintf("%s is longer than 1024 bytes", what);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '/' && !ident_char((unsigned char)s[i])) {
			*err = xasprintf("%s holds a character outside [A-Za-z0-9._+:@/-] at byte %zu", what, i + 1);
			return -1;
		}
	}
	/* walk the components */
	const char *p = s;
	while (*p) {
		while (*p == '/')
			p++;
		const char *e = p;
		while (*e && *e != '/')
			e++;
		size_t cl = (size_t)(e - p);
		if ((cl == 1 && p[0] == '.') || (cl == 2 && p[0] == '.' && p[1] == '.')) {
			*err = xasprintf("%s may not hold a '.' or '..' component", what);
			return -1;
		}
		if (cl > 0 && p[0] == '-') {
			*err = xasprintf("%s has a component starting with '-'", what);
			return -1;
		}
		p = e;
	}
	return 0;
}
