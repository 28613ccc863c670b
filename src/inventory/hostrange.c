/* hostrange: ansible's _expand_hostpattern (parse_address + expand_hostname_range), ported literally. */
#include "inventory/hostrange.h"
#include "util/pyint.h"
#include "util/pyunicode.h"
#include "util/xalloc.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Python has no limit but memory; fleetdeck refuses patterns that would expand
 * past these rather than exhaust it (a deliberate deviation). */
enum { MAX_HOSTS = 1000000 };
#define MAX_BYTES ((size_t)256 << 20)
/* expand_hostname_range recurses once per range; under ansible-inventory the
 * 986th level raises RecursionError (measured with ansible-core 2.14 / Python 3.11). */
enum { MAX_DEPTH = 985 };

static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* Python's `$`: the end of the string, or just before a newline that ends it. */
static bool at_end(const char *p)
{
	return *p == '\0' || (*p == '\n' && p[1] == '\0');
}

static bool isdig(char c) { return c >= '0' && c <= '9'; }

static bool ishex(char c)
{
	return isdig(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* --- parse_address's regular expressions (addresses.py), as matchers ------ */

/* numeric_range / hexadecimal_range: \[ X+ : X+ (: [0-9]+)? \] where X is the
 * class given; returns the position after ']' or NULL. */
static const char *match_range(const char *p, bool (*cls)(char))
{
	if (*p != '[')
		return NULL;
	p++;
	if (!cls(*p))
		return NULL;
	while (cls(*p))
		p++;
	if (*p++ != ':' || !cls(*p))
		return NULL;
	while (cls(*p))
		p++;
	if (*p == ':') {
		p++;
		if (!isdig(*p))
			return NULL;
		while (isdig(*p))
			p++;
	}
	return *p == ']' ? p + 1 : NULL;
}

static bool isdig_cls(char c) { return isdig(c); }

/* Under re.I, [a-z] also matches U+0130, U+0131, U+017F and U+212A. */
static size_t ci_letter(const char *p)
{
	if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
		return 1;
	size_t adv;
	long cp = pyu_decode(p, strlen(p), &adv);
	if (cp == 0x130 || cp == 0x131 || cp == 0x17F || cp == 0x212A)
		return adv;
	return 0;
}

/* alphanumeric_range: \[ ([a-z]:[a-z] | [0-9]+:[0-9]+) (:[0-9]+)? \], case-insensitive */
static const char *match_alnum_range(const char *p)
{
	const char *q = match_range(p, isdig_cls);
	if (q)
		return q;
	if (*p != '[')
		return NULL;
	size_t a = ci_letter(p + 1);
	if (!a || p[1 + a] != ':')
		return NULL;
	size_t b = ci_letter(p + 2 + a);
	if (!b)
		return NULL;
	q = p + 2 + a + b;
	if (*q == ':') {
		q++;
		if (!isdig(*q))
			return NULL;
		while (isdig(*q))
			q++;
	}
	return *q == ']' ? q + 1 : NULL;
}

/* ipv4_component followed by what comes next: the whole digit run must match
 * [01]?[0-9]{1,2} | 2[0-4][0-9] | 25[0-5], or be a numeric range. */
static const char *ipv4_component(const char *p)
{
	if (*p == '[')
		return match_range(p, isdig_cls);
	size_t n = 0;
	while (isdig(p[n]))
		n++;
	if (n == 1 || n == 2)
		return p + n;
	if (n == 3 && (p[0] == '0' || p[0] == '1' || (p[0] == '2' && p[1] <= '4') ||
		       (p[0] == '2' && p[1] == '5' && p[2] <= '5')))
		return p + 3;
	return NULL;
}

static bool match_ipv4(const char *s)
{
	const char *p = s;
	for (int i = 0; i < 4; i++) {
		p = ipv4_component(p);
		if (!p)
			return false;
		if (i < 3 && *p++ != '.')
			return false;
	}
	return at_end(p);
}

static bool ishex_cls(char c) { return ishex(c); }

/* ipv6_component ([0-9a-f]{1,4} or a hexadecimal range) when something must
 * follow it: a run of hex digits has to be taken whole. */
static const char *c6(const char *p)
{
	if (*p == '[')
		return match_range(p, ishex_cls);
	size_t n = 0;
	while (ishex(p[n]))
		n++;
	return n >= 1 && n <= 4 ? p + n : NULL;
}

/* ipv6_component at the end of an alternative that `$` does not anchor: any
 * prefix will do. */
static bool c6_open(const char *p)
{
	return *p == '[' ? match_range(p, ishex_cls) != NULL : ishex(*p);
}

/* k components each followed by sep */
static const char *c6_rep(const char *p, int k, char sep)
{
	for (int i = 0; i < k && p; i++) {
		p = c6(p);
		if (p && *p++ != sep)
			p = NULL;
	}
	return p;
}

static bool ci_prefix(const char *p, const char *lit)
{
	for (; *lit; p++, lit++)
		if (*p != *lit && *p != *lit - 'a' + 'A')
			return false;
	return true;
}

/* `(?:C\.){3}C`, unanchored */
static bool dotted_open(const char *p)
{
	p = c6_rep(p, 3, '.');
	return p && c6_open(p);
}

/* The ipv6 pattern is `^alt1|alt2|...|alt13$`: the `^` and `$` bind to the
 * first and last alternatives only, and re.match anchors the start anyway, so
 * every alternative but the last only has to match a prefix (which is why
 * "::anything" counts as IPv6 for Ansible). */
static bool match_ipv6(const char *s)
{
	const char *p;
	/* (?:C:){7}C */
	if ((p = c6_rep(s, 7, ':')) && c6_open(p))
		return true;
	/* (?:C:){1,6}: */
	for (int k = 1; k <= 6; k++)
		if ((p = c6_rep(s, k, ':')) && *p == ':')
			return true;
	/* (?:C:){k}(?::C){1,7-k} for k = 1..6: a prefix "C:...C::C" */
	for (int k = 1; k <= 6; k++)
		if ((p = c6_rep(s, k, ':')) && *p == ':' && c6_open(p + 1))
			return true;
	/* :(?::C){1,6} */
	if (s[0] == ':' && s[1] == ':' && c6_open(s + 2))
		return true;
	/* C?:: */
	if ((p = c6(s)) && p[0] == ':' && p[1] == ':')
		return true;
	if (s[0] == ':' && s[1] == ':')
		return true;
	/* (?:0:){6}(?:C\.){3}C */
	if (strncmp(s, "0:0:0:0:0:0:", 12) == 0 && dotted_open(s + 12))
		return true;
	/* ::(?:ffff:)?(?:C\.){3}C */
	if (s[0] == ':' && s[1] == ':') {
		if (ci_prefix(s + 2, "ffff:") && dotted_open(s + 7))
			return true;
		if (dotted_open(s + 2))
			return true;
	}
	/* (?:0:){5}ffff:(?:C\.){3}C$ */
	if (strncmp(s, "0:0:0:0:0:", 10) == 0 && ci_prefix(s + 10, "ffff:")) {
		p = c6_rep(s + 15, 3, '.');
		if (p && (p = c6(p)) && at_end(p))
			return true;
	}
	return false;
}

/* One label: ([\w]|range)([\w_-]|range)* not ending in '_' or '-'. */
static const char *match_label(const char *p)
{
	const char *start = p;
	char last = 0;
	for (;;) {
		const char *q;
		size_t adv;
		if (*p == '[' && (q = match_alnum_range(p))) {
			p = q;
			last = ']';
			continue;
		}
		if (*p == '-' && p != start) {
			p++;
			last = '-';
			continue;
		}
		if (*p && *p != '\n' && pyu_isword(pyu_decode(p, strlen(p), &adv))) {
			last = *p;
			p += adv;
			continue;
		}
		break;
	}
	if (p == start || last == '_' || last == '-')
		return NULL;
	return p;
}

static bool match_hostname(const char *s)
{
	const char *p = match_label(s);
	while (p && *p == '.')
		p = match_label(p + 1);
	return p && at_end(p);
}

/* bracketed_hostport: ^\[(.+)\]:([0-9]+)$ */
static bool match_bracketed(const char *s, char **addr, const char **port)
{
	if (s[0] != '[')
		return false;
	size_t len = strlen(s);
	if (len && s[len - 1] == '\n')
		len--;
	size_t j = len;
	while (j > 0 && isdig(s[j - 1]))
		j--;
	if (j == len || j < 4 || s[j - 1] != ':' || s[j - 2] != ']')
		return false;
	if (memchr(s + 1, '\n', j - 3))
		return false; /* `.` does not match a newline */
	*addr = xstrndup(s + 1, j - 3);
	*port = s + j;
	return true;
}

/* hostport: ^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$ */
static bool match_hostport(const char *s, char **addr, const char **port)
{
	const char *p = s;
	for (;;) {
		if (*p == '[') {
			const char *close = strchr(p + 1, ']');
			if (!close)
				break;
			p = close + 1;
		} else if (*p && *p != ':' && *p != ']') {
			p++;
		} else {
			break;
		}
	}
	if (*p != ':' || !isdig(p[1]))
		return false;
	const char *d = p + 1;
	while (isdig(*d))
		d++;
	if (!at_end(d))
		return false;
	*addr = xstrndup(s, (size_t)(p - s));
	*port = p + 1;
	return true;
}

static long port_value(const char *digits)
{
	/* Python's int() has no upper bound; a port beyond LONG_MAX saturates */
	long v = 0;
	for (; isdig(*digits); digits++) {
		int d = *digits - '0';
		if (v > (LONG_MAX - d) / 10)
			return LONG_MAX;
		v = v * 10 + d;
	}
	return v;
}

/* parse_address(pattern, allow_ranges=True); false where it would raise. */
static bool parse_address(const char *pattern, char **host, long *port)
{
	char *address = xstrdup(pattern), *a;
	const char *digits;
	*port = -1;
	/* both patterns are tried in turn, the second on what the first left */
	if (match_bracketed(address, &a, &digits)) {
		*port = port_value(digits);
		free(address);
		address = a;
	}
	if (match_hostport(address, &a, &digits)) {
		*port = port_value(digits);
		free(address);
		address = a;
	}
	if (match_ipv4(address) || match_ipv6(address) || match_hostname(address)) {
		*host = address;
		return true;
	}
	free(address);
	return false;
}

/* --- expand_hostname_range (plugins/inventory/__init__.py) ----------------- */

struct names {
	char **v;
	size_t n, cap, bytes;
	size_t max; /* at most this many */
	size_t work; /* range values walked so far, emitted or not (a range nested in a
	                range that yields nothing emits nothing: still bounded) */
};

/* One more range value walked: -1 with *err past a few times the names allowed. */
static int walk(struct names *out, const char *pattern, char **err)
{
	if (++out->work > out->max * 4 + 64) {
		*err = xasprintf("Host pattern '%s' walks more than %zu range values; fleetdeck refuses it", pattern,
				 out->max * 4 + 64);
		return -1;
	}
	return 0;
}

static int add_name(struct names *out, char *name, const char *pattern, char **err)
{
	out->bytes += strlen(name) + 1;
	if (out->n >= out->max || out->bytes > MAX_BYTES) {
		free(name);
		*err = xasprintf("Host pattern '%s' expands to more than %zu hosts (or 256 MiB of names); fleetdeck refuses it",
				 pattern, out->n);
		return -1;
	}
	out->v = xgrow(out->v, &out->cap, out->n + 1, sizeof *out->v);
	out->v[out->n++] = name;
	return 0;
}

/* str(x).zfill(width) */
static char *zfill(char *s, size_t width)
{
	size_t len = strlen(s);
	if (len >= width)
		return s;
	char *r = xmalloc(width + 1);
	size_t sign = (s[0] == '-' || s[0] == '+') ? 1 : 0;
	memcpy(r, s, sign);
	memset(r + sign, '0', width - len);
	memcpy(r + sign + width - len, s + sign, len - sign + 1);
	free(s);
	return r;
}

static char *concat3(const char *a, size_t na, const char *b, size_t nb, const char *c, size_t nc)
{
	char *r = xmalloc(na + nb + nc + 1);
	memcpy(r, a, na);
	memcpy(r + na, b, nb);
	memcpy(r + na + nb, c, nc);
	r[na + nb + nc] = '\0';
	return r;
}

static int expand(const char *line, struct names *out, int depth, const char *pattern, char **err);

/* Append head + item + tail, expanding further while a '[' remains. */
static int emit(const char *head, size_t nh, const char *item, size_t ni, const char *tail, size_t nt,
		struct names *out, int depth, const char *pattern, char **err)
{
	char *hname = concat3(head, nh, item, ni, tail, nt);
	if (strchr(hname, '[')) {
		int rc = expand(hname, out, depth + 1, pattern, err);
		free(hname);
		return rc;
	}
	return add_name(out, hname, pattern, err);
}

/* ascii_letters.index(s): a substring search, so "ab" is found too */
static long letters_index(const char *s)
{
	const char *p = strstr(letters, s);
	return p ? (long)(p - letters) : -1;
}

static int expand(const char *line, struct names *out, int depth, const char *pattern, char **err)
{
	if (depth > MAX_DEPTH) {
		*err = xstrdup("maximum recursion depth exceeded while calling a Python object");
		return -1;
	}
	/* (head, nrange, tail) = line.replace('[', '|', 1).replace(']', '|', 1).split('|') */
	char *s = xstrdup(line);
	char *p = strchr(s, '[');
	*p = '|';
	if ((p = strchr(s, ']')))
		*p = '|';
	size_t nparts = 1;
	for (p = s; *p; p++)
		nparts += *p == '|';
	if (nparts != 3) {
		free(s);
		if (nparts > 3)
			*err = xstrdup("too many values to unpack (expected 3)");
		else
			*err = xasprintf("not enough values to unpack (expected 3, got %zu)", nparts);
		return -1;
	}
	char *bar1 = strchr(s, '|'), *bar2 = strchr(bar1 + 1, '|');
	const char *head = s, *tail = bar2 + 1;
	size_t nhead = (size_t)(bar1 - s), ntail = strlen(tail);
	*bar1 = *bar2 = '\0';
	char *nrange = bar1 + 1;

	/* bounds = nrange.split(":") */
	char *bounds[3] = { NULL, NULL, NULL };
	size_t nb = 1;
	for (p = nrange; *p; p++)
		nb += *p == ':';
	int rc = -1;
	pyint ibeg = PYINT_INIT, iend = PYINT_INIT, istep = PYINT_INIT, one = PYINT_INIT;
	if (nb != 2 && nb != 3) {
		*err = xstrdup("host range must be begin:end or begin:end:step");
		goto out;
	}
	bounds[0] = nrange;
	bounds[1] = strchr(nrange, ':');
	*bounds[1]++ = '\0';
	if (nb == 3) {
		bounds[2] = strchr(bounds[1], ':');
		*bounds[2]++ = '\0';
	}
	const char *beg = *bounds[0] ? bounds[0] : "0";
	const char *end = bounds[1];
	const char *step = bounds[2]; /* NULL: the int 1 */
	if (!*end) {
		*err = xstrdup("host range must specify end value");
		goto out;
	}
	size_t rlen = 0; /* zero-fill width, 0 for str() */
	if (beg[0] == '0' && pyu_len(beg, strlen(beg)) > 1) {
		rlen = pyu_len(beg, strlen(beg));
		if (rlen != pyu_len(end, strlen(end))) {
			*err = xstrdup("host range must specify equal-length begin and end formats");
			goto out;
		}
	}

	/* alphabetic range; any ValueError in it falls back to the numeric one */
	long i_beg = letters_index(beg), i_end = letters_index(end);
	if (i_beg >= 0 && i_end >= 0) {
		if (i_beg > i_end) {
			*err = xstrdup("host range must have begin <= end");
			goto out;
		}
		char *ignored = NULL;
		long long st = 1;
		bool ok = true;
		if (step) {
			if (pyint_parse(&istep, step, strlen(step), &ignored) < 0) {
				free(ignored);
				ok = false;
			} else if (pyint_sign(&istep) == 0) {
				ok = false; /* slice step cannot be zero */
			} else if (!pyint_get_ll(&istep, &st)) {
				st = pyint_sign(&istep) > 0 ? LLONG_MAX : -1;
			}
		}
		if (ok) {
			/* ascii_letters[i_beg:i_end + 1:st]; a negative step gives nothing here */
			if (st > 0) {
				for (long long i = i_beg; i <= i_end; i += st) {
					if (walk(out, pattern, err) < 0)
						goto out;
					char c = letters[i];
					if (emit(head, nhead, &c, 1, tail, ntail, out, depth, pattern, err) < 0)
						goto out;
					if (st > i_end - i)
						break;
				}
			}
			rc = 0;
			goto out;
		}
	}

	/* seq = range(int(beg), int(end) + 1, int(step)) */
	if (pyint_parse(&ibeg, beg, strlen(beg), err) < 0 || pyint_parse(&iend, end, strlen(end), err) < 0)
		goto out;
	pyint_set_ll(&one, 1);
	pyint_add(&iend, &iend, &one);
	if (step) {
		if (pyint_parse(&istep, step, strlen(step), err) < 0)
			goto out;
	} else {
		pyint_set_ll(&istep, 1);
	}
	int dir = pyint_sign(&istep);
	if (dir == 0) {
		*err = xstrdup("range() arg 3 must not be zero");
		goto out;
	}
	while (dir > 0 ? pyint_cmp(&ibeg, &iend) < 0 : pyint_cmp(&ibeg, &iend) > 0) {
		if (walk(out, pattern, err) < 0)
			goto out;
		size_t nv;
		char *v = pyint_str(&ibeg, &nv);
		if (rlen) {
			v = zfill(v, rlen);
			nv = strlen(v);
		}
		int e = emit(head, nhead, v, nv, tail, ntail, out, depth, pattern, err);
		free(v);
		if (e < 0)
			goto out;
		pyint_add(&ibeg, &ibeg, &istep);
	}
	rc = 0;
out:
	pyint_free(&ibeg);
	pyint_free(&iend);
	pyint_free(&istep);
	pyint_free(&one);
	free(s);
	return rc;
}

void hostrange_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int hostrange_expand(const char *pattern, char ***names, size_t *n, long *port, char **err)
{
	return hostrange_expand_max(pattern, 0, names, n, port, err);
}

int hostrange_expand_max(const char *pattern, size_t max_names, char ***names, size_t *n, long *port, char **err)
{
	char *host;
	long p;
	/* Without ':' there is no port, and without '[' no range: parse_address
	 * either gives the pattern back or fails, which also means the pattern
	 * whole. The usual host line, read without the address parsing. */
	if (!strpbrk(pattern, ":[]")) {
		*names = xmalloc(sizeof **names);
		(*names)[0] = xstrdup(pattern);
		*n = 1;
		*port = -1;
		return 0;
	}
	/* BaseInventoryPlugin._expand_hostpattern: a pattern parse_address rejects
	 * is used whole, without a port */
	if (!parse_address(pattern, &host, &p)) {
		host = xstrdup(pattern);
		p = -1;
	}
	struct names out = { 0 };
	out.max = max_names && max_names < MAX_HOSTS ? max_names : MAX_HOSTS;
	if (strchr(host, '[')) {
		if (expand(host, &out, 1, pattern, err) < 0) {
			hostrange_free(out.v, out.n);
			free(host);
			return -1;
		}
		free(host);
	} else {
		out.v = xmalloc(sizeof *out.v);
		out.v[out.n++] = host;
	}
	*names = out.v;
	*n = out.n;
	*port = p;
	return 0;
}
