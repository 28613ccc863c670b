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
	snprintf(title, sizeof title, " Command log%s%s, newest first (%zu)  (Esc back) ", a->detail_host ? " of " : "",
		 a->detail_host ? a->detail_host : "", n);
	theme_slot *slots = xcalloc(n + 1, sizeof *slots);
	for (size_t i = 0; i < n; i++)
		slots[i] = TS_NORMAL;
	app_draw_lines(a, title, lines, slots, (long)n);
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	free(slots);
}

const struct view_ops view_log = { .name = "log", .draw = draw_log, .key = app_scroll_key };
