/* glyphs: the characters the console draws with, chosen once from the locale
 * and the terminal: UTF-8 (block sparklines, box lines, °) or plain ASCII for
 * LANG=C and the Linux console. */
#ifndef FLEETDECK_UI_GLYPHS_H
#define FLEETDECK_UI_GLYPHS_H

#include <stdbool.h>

typedef struct glyphs {
	bool utf8;
	const char *spark[8];   /* lowest to highest; each one cell wide */
	const char *spark_gap;  /* no sample */
	const char *sort_asc, *sort_desc;
	const char *ellipsis;   /* one cell */
	const char *degree;     /* "°" or "" */
	const char *bullet;     /* state mark before a name */
	const char *sep;        /* vertical separator between panes */
	const char *arrow;      /* "→" or "->" */
} glyphs;

typedef enum { GLYPHS_AUTO, GLYPHS_UTF8, GLYPHS_ASCII } glyphs_mode;

/* AUTO: UTF-8 when the locale's codeset is UTF-8 and TERM is not the Linux
 * console (whose font lacks the block elements), else ASCII. codeset and term
 * are passed in (nl_langinfo(CODESET), $TERM) so the choice is testable. */
const glyphs *glyphs_choose(glyphs_mode mode, const char *codeset, const char *term);

/* Display width of a UTF-8 string in cells, for what this console prints
 * (ASCII, Latin, box and block characters count 1; wide CJK 2; combining 0);
 * invalid bytes count 1 each and are shown as '?'. */
int glyphs_width(const char *s);

/* Copies at most `cells` cells of s into buf (size bufsz, always terminated),
 * ending with the ellipsis when cut, replacing control characters and invalid
 * UTF-8 with '?' (device-supplied text never reaches the terminal raw). In
 * ASCII mode non-ASCII characters become '?'. Returns the cells used. */
int glyphs_fit(const glyphs *g, const char *s, int cells, char *buf, int bufsz);

#endif
