/* draw: theme slots as ncurses attributes, and fitted text. */
#include "draw.h"

#include <string.h>

static attr_t attrs_of(unsigned a)
{
	attr_t r = A_NORMAL;
	if (a & THEME_BOLD)
		r |= A_BOLD;
	if (a & THEME_DIM)
		r |= A_DIM;
	if (a & THEME_UNDERLINE)
		r |= A_UNDERLINE;
	if (a & THEME_REVERSE)
		r |= A_REVERSE;
#ifdef A_ITALIC
	if (a & THEME_ITALIC)
		r |= A_ITALIC;
#endif
	return r;
}

void draw_theme(draw_ctx *d, const theme *t, bool color)
{
	d->color = color && has_colors();
	d->ncolors = d->color ? COLORS : 0;
	for (int s = 0; s < THEME_NSLOTS; s++) {
		const theme_style *st = &t->slot[s];
		attr_t a = attrs_of(st->attrs);
		if (d->color && s + 1 < COLOR_PAIRS) {
			int fg = theme_color_for(st->fg, d->ncolors);
			int bg = theme_color_for(st->bg, d->ncolors);
			/* 8-colour terminals show the bright half as bold */
			if (d->ncolors < 16 && !THEME_IS_RGB(st->fg) && st->fg >= 8 && st->fg < 16)
				a |= A_BOLD;
			init_pair((short)(s + 1), (short)fg, (short)bg);
			a |= COLOR_PAIR(s + 1);
		} else if (!d->color && s == TS_SELECTED && !(a & (A_REVERSE | A_BOLD | A_UNDERLINE))) {
			a |= A_REVERSE; /* a selection must show without colours */
		}
		d->attr[s] = a;
	}
}

int draw_text(const draw_ctx *d, WINDOW *w, int y, int x, int cells, theme_slot slot, const char *s, bool pad,
	      bool right)
{
	if (cells <= 0)
		return 0;
	char buf[1024];
	int used = glyphs_fit(d->g, s ? s : "", cells, buf, sizeof buf);
	wattrset(w, d->attr[slot]);
	int col = x;
	if (right && used < cells) {
		if (pad)
			mvwprintw(w, y, x, "%*s", cells - used, "");
		col = x + cells - used;
	}
	mvwaddstr(w, y, col, buf);
	if (pad && !right && used < cells)
		wprintw(w, "%*s", cells - used, "");
	return pad ? cells : used;
}

void draw_fill(const draw_ctx *d, WINDOW *w, int y, int x, int cells, theme_slot slot)
{
	if (cells <= 0)
		return;
	wattrset(w, d->attr[slot]);
	mvwprintw(w, y, x, "%*s", cells, "");
}
