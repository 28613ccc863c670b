/* console: the interactive ncurses console over a running monitor. */
#ifndef FLEETDECK_UI_CONSOLE_H
#define FLEETDECK_UI_CONSOLE_H

#include "fleet/fleet.h"
#include "inventory/inventory.h"
#include "monitor/monitor.h"

#include <stdbool.h>

typedef struct console_opts {
	const char *theme;          /* a theme name or path; NULL: dark */
	const char *const *theme_dirs; /* searched in order (user's first) */
	size_t ntheme_dirs;
	bool no_color;              /* --no-color or NO_COLOR */
	int glyph_mode;             /* glyphs_mode: auto, utf8, ascii */
	int refresh_ms;             /* redraws for new data at most this often: 1000 */
	bool read_only;
	bool mouse;
	bool fkeys;                 /* the F-key bar (default on) */
	const fleet_rules *rules;   /* thresholds for colouring */
	const char *title;          /* e.g. "demo fleet" */
	const char *const *inventories; /* the -i sources, for the rollout commands it runs */
	size_t ninventories;
	const char *limit;          /* the console's --limit, the start dialog's default */
	const char *registry;       /* the settings file's model registry (NULL: none); the
	                               inventory's model_registry comes first */
} console_opts;

/* Runs until the user quits. The terminal is restored on return, also on
 * SIGTERM, SIGINT and SIGHUP. Returns 0, or -1 with *err (caller frees). */
int console_run(const console_opts *o, inventory *inv, monitor *mon, char **err);

#endif
