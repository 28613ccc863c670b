/* view_log: the command log (`@`): every request fleetdeck sent and what came back, newest first. */
#include "app.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>

static void draw_log(struct app *a)
{
	char **lines = NULL;
	size_t n = monitor_cmdlog(a->mon, a->detail_host, 5000, &lines);
	char title[300];
	snprintf(title, sizeof title, " Command log%s%s, newest first (%zu)  Left/Right scroll  (Esc back) ",
		 a->detail_host ? " of " : "", a->detail_host ? a->detail_host : "", n);
	/* scrolled sideways: the SSH commands are long */
	for (size_t i = 0; a->full_left > 0 && i < n; i++) {
		const char *p = lines[i];
		for (long k = 0; k < a->full_left && *p; k++)
			do
				p++;
			while (((unsigned char)*p & 0xc0) == 0x80);
		char *shifted = xstrdup(p);
		free(lines[i]);
		lines[i] = shifted;
	}
	theme_slot *slots = xcalloc(n + 1, sizeof *slots);
	for (size_t i = 0; i < n; i++)
		slots[i] = TS_NORMAL;
	app_draw_lines(a, title, lines, slots, (long)n);
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	free(slots);
}

static unsigned log_key(struct app *a, int ch, bool *handled)
{
	if (ch == KEY_RIGHT || ch == 'l') {
		*handled = true;
		a->full_left += 40;
		return ACT_REDRAW;
	}
	if (ch == KEY_LEFT || ch == 'h') {
		*handled = true;
		a->full_left = a->full_left > 40 ? a->full_left - 40 : 0;
		return ACT_REDRAW;
	}
	return app_scroll_key(a, ch, handled);
}

const struct view_ops view_log = { .name = "log", .draw = draw_log, .key = log_key };
