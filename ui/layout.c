/* layout: pane geometry and table column widths, pure functions of the size. */
#include "layout.h"

#include <string.h>

static ui_rect rect(int y, int x, int h, int w)
{
	if (h <= 0 || w <= 0)
		return (ui_rect){ y, x, 0, 0 };
	return (ui_rect){ y, x, h, w };
}

static int clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void layout_compute(int rows, int cols, const layout_opts *o, ui_layout *L)
{
	static const layout_opts deflt = { .fkeys = true, .events = true };
	if (!o)
		o = &deflt;
	memset(L, 0, sizeof *L);
	L->rows = rows, L->cols = cols;
	if (rows < LAYOUT_MIN_ROWS || cols < LAYOUT_MIN_COLS) {
		L->too_small = true;
		L->compact = true;
		L->status = rect(0, 0, rows > 0 ? 1 : 0, cols);
		return;
	}
	L->compact = rows < LAYOUT_FULL_MIN_ROWS || cols < LAYOUT_FULL_MIN_COLS;
	int top = 0, bottom = rows;
	bool fkeys = o->fkeys && rows >= 6;
	if (fkeys) {
		L->fkeys = rect(rows - 1, 0, 1, cols);
		bottom--;
	}
	L->status = rect(bottom - 1, 0, 1, cols);
	bottom--;
	int hh = L->compact ? 1 : 2;
	L->header = rect(0, 0, hh, cols);
	top += hh;
	int mid = bottom - top;
	if (L->compact || o->zoom) {
		L->devices = rect(top, 0, mid, cols);
		return;
	}
	/* events: a quarter of the middle, 5..12 rows (with its title line) */
	if (o->events) {
		int eh = clamp(mid / 4, 5, 12);
		L->events = rect(bottom - eh, 0, eh, cols);
		mid -= eh;
	}
	/* factories: two fifths of the width, 34..60 columns (name, counts, temps, versions) */
	int fw = clamp(cols * 2 / 5, 34, 60);
	L->factories = rect(top, 0, mid, fw);
	L->devices = rect(top, fw, mid, cols - fw);
}

int layout_columns(const layout_col *cols, int n, int avail, int *width)
{
	if (n <= 0)
		return 0;
	bool on[n];
	int used = -1, shown = 0;
	for (int i = 0; i < n; i++) {
		on[i] = !cols[i].hidden || i == 0;
		width[i] = 0;
		if (on[i])
			used += cols[i].min + 1, shown++;
	}
	/* drop the least important (highest prio, rightmost on ties) until the minimums fit */
	while (used > avail && shown > 1) {
		int worst = -1;
		for (int i = 1; i < n; i++)
			if (on[i] && (worst < 0 || cols[i].prio >= cols[worst].prio))
				worst = i;
		if (worst < 0)
			break;
		on[worst] = false;
		used -= cols[worst].min + 1;
		shown--;
	}
	for (int i = 0; i < n; i++)
		if (on[i])
			width[i] = cols[i].min;
	if (used > avail) { /* only the first column left, and even it does not fit */
		width[0] = avail > 0 ? avail : 0;
		return width[0] > 0 ? 1 : 0;
	}
	int spare = avail - used;
	/* grow towards the preferred widths, most important first */
	for (int p = 0; spare > 0; p++) {
		int best = -1;
		for (int i = 0; i < n; i++)
			if (on[i] && width[i] < cols[i].pref && (best < 0 || cols[i].prio < cols[best].prio))
				best = i;
		if (best < 0)
			break;
		int grow = cols[best].pref - width[best];
		if (grow > spare)
			grow = spare;
		width[best] += grow;
		spare -= grow;
		(void)p;
	}
	return shown;
}

int layout_scroll(int top, int sel, int h, int n)
{
	if (h <= 0 || n <= 0)
		return 0;
	if (sel < 0)
		sel = 0;
	if (sel >= n)
		sel = n - 1;
	if (sel < top)
		top = sel;
	if (sel >= top + h)
		top = sel - h + 1;
	if (top > n - h)
		top = n - h;
	return top < 0 ? 0 : top;
}
