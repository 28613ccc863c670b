/* layout: where each pane of the console goes for a terminal size. A pure
 * function of the size and a few switches, so it is tested over a grid of
 * sizes down to tiny terminals without a terminal. */
#ifndef FLEETDECK_UI_LAYOUT_H
#define FLEETDECK_UI_LAYOUT_H

#include <stdbool.h>

typedef struct ui_rect {
	int y, x, h, w; /* h or w 0: not shown */
} ui_rect;

/* Below this the console shows the devices list alone, and says so. */
enum { LAYOUT_FULL_MIN_COLS = 80, LAYOUT_FULL_MIN_ROWS = 24 };
/* Below this there is room only for a "terminal too small" line. */
enum { LAYOUT_MIN_COLS = 20, LAYOUT_MIN_ROWS = 4 };

typedef struct layout_opts {
	bool fkeys;   /* the F-key bar at the bottom */
	bool events;  /* the events pane */
	bool zoom;    /* the focused pane (devices) takes the whole middle */
} layout_opts;

typedef struct ui_layout {
	int rows, cols;
	bool compact;    /* below 80x24: header, devices, status line (and keys) only */
	bool too_small;  /* below LAYOUT_MIN_*: only `message` is drawn */
	ui_rect header;  /* fleet totals; 2 lines when full, 1 when compact */
	ui_rect factories;
	ui_rect devices;
	ui_rect events;
	ui_rect status;  /* the one-line filter, command and message line */
	ui_rect fkeys;
} ui_layout;

void layout_compute(int rows, int cols, const layout_opts *o, ui_layout *out);

/* Table columns: each has a minimum and a preferred width and a priority
 * (lower is more important). layout_columns() gives each visible column its
 * width for `avail` cells, dropping the least important columns that do not
 * fit at their minimum (never the first), then growing columns towards their
 * preferred widths in priority order, leaving one blank between columns.
 * width[i] is 0 for a dropped column. Returns the number shown. */
typedef struct layout_col {
	int min, pref, prio;
	bool hidden; /* chosen off by the user */
} layout_col;

int layout_columns(const layout_col *cols, int n, int avail, int *width);

/* Scrolling: the first row to show so that `sel` is visible in a window of
 * `h` rows over `n` rows, moving the window as little as possible from `top`. */
int layout_scroll(int top, int sel, int h, int n);

#endif
