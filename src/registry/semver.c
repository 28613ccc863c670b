/* semver: parsing and SemVer 2.0 precedence of model versions. */
#include "registry/semver.h"

#include <string.h>

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_ident(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'; }

static bool fail(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return false;
}

/* A core number at *p: digits, below 2^63. */
static bool number(const char **p, uint64_t *out, const char **why)
{
	const char *s = *p;
	if (!is_digit(*s))
		return fail(why, "expected a number");
	uint64_t v = 0;
	for (; is_digit(*s); s++) {
		if (v > (UINT64_C(1) << 63) / 10)
			return fail(why, "a number is too large");
		v = v * 10 + (uint64_t)(*s - '0');
		if (v >= UINT64_C(1) << 63)
			return fail(why, "a number is too large");
	}
	*out = v;
	*p = s;
	return true;
}

/* Dot-separated non-empty identifiers from *p to the first character that
 * is neither: returns their length, or -1 if one is empty. */
static int identifiers(const char *s)
{
	const char *p = s;
	for (;;) {
		const char *start = p;
		while (is_ident(*p))
			p++;
		if (p == start)
			return -1;
		if (*p != '.')
			break;
		p++;
	}
	if (p - s > 1 << 20)
		return -1;
	return (int)(p - s);
}

bool semver_parse(const char *s, semver *out, const char **why)
{
	memset(out, 0, sizeof *out);
	if (!s || !*s)
		return fail(why, "empty version");
	const char *p = s;
	if (*p == 'v' || *p == 'V')
		p++;
	if (!number(&p, &out->major, why))
		return false;
	if (*p == '.') {
		p++;
		if (!number(&p, &out->minor, why))
			return false;
		if (*p == '.') {
			p++;
			if (!number(&p, &out->patch, why))
				return false;
		}
	}
	if (*p == '.')
		return fail(why, "more than three numbers");
	if (*p == '-') {
		int n = identifiers(p + 1);
		if (n < 0)
			return fail(why, "an empty pre-release identifier");
		out->pre = p + 1;
		out->pre_len = n;
		p += 1 + n;
	}
	if (*p == '+') {
		int n = identifiers(p + 1);
		if (n < 0)
			return fail(why, "an empty build metadata identifier");
		out->build = p + 1;
		out->build_len = n;
		p += 1 + n;
	}
	if (*p)
		return fail(why, "unexpected characters after the version");
	return true;
}

static int cmp_u64(uint64_t a, uint64_t b) { return a < b ? -1 : a > b; }

/* One pre-release identifier against another. */
static int cmp_ident(const char *a, int an, const char *b, int bn)
{
	bool anum = true, bnum = true;
	for (int i = 0; i < an; i++)
		anum = anum && is_digit(a[i]);
	for (int i = 0; i < bn; i++)
		bnum = bnum && is_digit(b[i]);
	if (anum && bnum) {
		/* numerically, of any length: without leading zeros, the longer is larger */
		while (an > 1 && *a == '0')
			a++, an--;
		while (bn > 1 && *b == '0')
			b++, bn--;
		if (an != bn)
			return an < bn ? -1 : 1;
		int c = memcmp(a, b, (size_t)an);
		return c < 0 ? -1 : c > 0;
	}
	if (anum != bnum)
		return anum ? -1 : 1;
	int c = memcmp(a, b, (size_t)(an < bn ? an : bn));
	if (c)
		return c < 0 ? -1 : 1;
	return an < bn ? -1 : an > bn;
}

int semver_cmp(const semver *a, const semver *b)
{
	int c = cmp_u64(a->major, b->major);
	if (!c)
		c = cmp_u64(a->minor, b->minor);
	if (!c)
		c = cmp_u64(a->patch, b->patch);
	if (c)
		return c;
	if (!a->pre_len || !b->pre_len)
		return (b->pre_len > 0) - (a->pre_len > 0); /* the release after its pre-releases */
	const char *pa = a->pre, *ea = a->pre + a->pre_len, *pb = b->pre, *eb = b->pre + b->pre_len;
	for (;;) {
		if (pa >= ea || pb >= eb)
			return (pa < ea) - (pb < eb);
		const char *da = memchr(pa, '.', (size_t)(ea - pa)), *db = memchr(pb, '.', (size_t)(eb - pb));
		if (!da)
			da = ea;
		if (!db)
			db = eb;
		c = cmp_ident(pa, (int)(da - pa), pb, (int)(db - pb));
		if (c)
			return c;
		pa = da + 1;
		pb = db + 1;
	}
}

int semver_cmp_str(const char *a, const char *b)
{
	semver va, vb;
	bool oka = semver_parse(a, &va, NULL), okb = semver_parse(b, &vb, NULL);
	if (oka && okb)
		return semver_cmp(&va, &vb);
	if (oka != okb)
		return oka ? 1 : -1;
	int c = strcmp(a ? a : "", b ? b : "");
	return c < 0 ? -1 : c > 0;
}
