/* glyphs: UTF-8 or ASCII drawing characters, and safe fitting of text into cells. */
#include "glyphs.h"

#include <string.h>
#include <strings.h>
#include <wchar.h>

static const glyphs utf8_glyphs = {
	.utf8 = true,
	.spark = { "\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588" },
	.spark_gap = " ",
	.sort_asc = "\u25b2",
	.sort_desc = "\u25bc",
	.ellipsis = "\u2026",
	.degree = "\u00b0",
	.bullet = "\u25cf",
	.sep = "\u2502",
	.arrow = "\u2192",
};

static const glyphs ascii_glyphs = {
	.utf8 = false,
	.spark = { "_", ".", ",", "-", "=", "+", "*", "#" },
	.spark_gap = " ",
	.sort_asc = "^",
	.sort_desc = "v",
	.ellipsis = "~",
	.degree = "",
	.bullet = "*",
	.sep = "|",
	.arrow = "->",
};

const glyphs *glyphs_choose(glyphs_mode mode, const char *codeset, const char *term)
{
	if (mode == GLYPHS_UTF8)
		return &utf8_glyphs;
	if (mode == GLYPHS_ASCII)
		return &ascii_glyphs;
	bool utf8 = codeset && (strcasecmp(codeset, "UTF-8") == 0 || strcasecmp(codeset, "utf8") == 0);
	bool linux_console = term && (strcmp(term, "linux") == 0 || strncmp(term, "linux-", 6) == 0 ||
				      strcmp(term, "vt100") == 0 || strcmp(term, "vt220") == 0 ||
				      strcmp(term, "dumb") == 0);
	return utf8 && !linux_console ? &utf8_glyphs : &ascii_glyphs;
}

/* One UTF-8 character at s: its code point in *cp and its length, or 0 if invalid. */
static int decode(const unsigned char *s, unsigned *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	int len;
	unsigned c;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, c = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, c = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	for (int i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	static const unsigned min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

static int cp_width(unsigned cp)
{
	if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
		return -1; /* control: replaced */
	int w = wcwidth((wchar_t)cp);
	if (w >= 0)
		return w;
	/* wcwidth needs a UTF-8 locale; without one, judge the ranges we know */
	if (cp >= 0x300 && cp < 0x370)
		return 0;
	if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) ||
	    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
	    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) || (cp >= 0x20000 && cp <= 0x3fffd))
		return 2;
	return 1;
}

int glyphs_width(const char *s)
{
	int w = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned cp;
		int n = decode(p, &cp);
		if (n == 0) {
			w++, p++;
			continue;
		}
		int cw = cp_width(cp);
		w += cw < 0 ? 1 : cw;
		p += n;
	}
	return w;
}

int glyphs_fit(const glyphs *g, const char *s, int cells, char *buf, int bufsz)
{
	if (bufsz <= 0)
		return 0;
	buf[0] = '\0';
	if (cells <= 0 || !s)
		return 0;
	int total = glyphs_width(s);
	bool cut = total > cells;
	int room = cut ? cells - 1 : cells; /* the ellipsis takes one cell */
	int used = 0, o = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned cp;
		int n = decode(p, &cp);
		const char *out;
		int outlen, cw;
		char tmp[5];
		if (n == 0 || (cw = cp_width(cp)) < 0 || (!g->utf8 && cp >= 0x80)) {
			out = "?", outlen = 1, cw = 1;
			n = n ? n : 1;
		} else {
			memcpy(tmp, p, (size_t)n);
			out = tmp, outlen = n;
		}
		if (used + cw > room || o + outlen >= bufsz)
			break;
		memcpy(buf + o, out, (size_t)outlen);
		o += outlen, used += cw, p += n;
	}
	if (cut) {
		int el = (int)strlen(g->ellipsis);
		if (o + el < bufsz && used + 1 <= cells) {
			memcpy(buf + o, g->ellipsis, (size_t)el);
			o += el, used++;
		}
	}
	buf[o] = '\0';
	return used;
}
