/* draw: the console's only link between themes and ncurses: colour pairs for the
 * theme's slots (stepped down to what the terminal has), and small helpers that
 * print text fitted to a width with a slot's style. Device-supplied text always
 * goes through glyphs_fit(), so no escape sequence reaches the terminal. */
#ifndef FLEETDECK_UI_DRAW_H
#define FLEETDECK_UI_DRAW_H

#include "glyphs.h"
#include "theme.h"

#include <curses.h>
#include <stdbool.h>

typedef struct draw_ctx {
	const glyphs *g;
	bool color;            /* colours in use (not NO_COLOR, terminal has them) */
	int ncolors;
	attr_t attr[THEME_NSLOTS];
} draw_ctx;

/* Sets up colour pairs for t (call after initscr; again after a theme change). */
void draw_theme(draw_ctx *d, const theme *t, bool color);

/* Prints s at (y, x) in w, fitted to `cells` (cut with an ellipsis, padded with
 * blanks if pad), right-aligned if right. Returns the cells written. */
int draw_text(const draw_ctx *d, WINDOW *w, int y, int x, int cells, theme_slot slot, const char *s, bool pad,
	      bool right);
/* Fills the rest of line y from x with blanks in the slot's style. */
void draw_fill(const draw_ctx *d, WINDOW *w, int y, int x, int cells, theme_slot slot);

#endif
