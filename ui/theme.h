/* theme: the console's colours as data. A theme names a style for each slot
 * (header, state_healthy, temp_hot, ...); files under themes/ and the user's
 * $XDG_CONFIG_HOME/fleetdeck/themes/ hold them. Parsing and colour step-down
 * (truecolour -> 256 -> 16 -> 8 -> none) are pure; theme_apply() is the only
 * part that talks to ncurses (ui/draw.c). */
#ifndef FLEETDECK_UI_THEME_H
#define FLEETDECK_UI_THEME_H

#include <stdbool.h>
#include <stddef.h>

/* X-macro: slot, its name in theme files, what it colours. */
#define THEME_SLOT_LIST(X)                                                     \
	X(TS_NORMAL, "normal", "ordinary text")                                    \
	X(TS_HEADER, "header", "the header lines")                                 \
	X(TS_TITLE, "title", "pane titles")                                        \
	X(TS_TITLE_FOCUS, "title_focus", "the focused pane's title")              \
	X(TS_BORDER, "border", "pane borders")                                     \
	X(TS_COLUMN, "column", "table column headings")                            \
	X(TS_SELECTED, "selected", "the selected row")                             \
	X(TS_DIM, "dim", "secondary text, N/A values")                             \
	X(TS_STATE_PENDING, "state_pending", "devices not answered yet")          \
	X(TS_STATE_HEALTHY, "state_healthy", "healthy devices")                   \
	X(TS_STATE_DEGRADED, "state_degraded", "degraded devices")                \
	X(TS_STATE_UNHEALTHY, "state_unhealthy", "unhealthy devices")             \
	X(TS_STATE_UNREACHABLE, "state_unreachable", "unreachable devices")       \
	X(TS_STATE_STALE, "state_stale", "devices whose data is old")             \
	X(TS_TEMP_OK, "temp_ok", "GPU temperature below the warning threshold")   \
	X(TS_TEMP_WARM, "temp_warm", "GPU temperature over the warning threshold") \
	X(TS_TEMP_HOT, "temp_hot", "GPU temperature over the critical threshold") \
	X(TS_DRIFT_WARN, "drift_warning", "drift at warning severity")            \
	X(TS_DRIFT_CRIT, "drift_critical", "drift at critical severity")          \
	X(TS_ALERT, "alert", "alerts in the events pane")                          \
	X(TS_SPARK, "sparkline", "sparklines")                                     \
	X(TS_FKEY, "fkey", "F-key numbers in the key bar")                         \
	X(TS_FKEY_LABEL, "fkey_label", "F-key labels in the key bar")             \
	X(TS_PROMPT, "prompt", "the filter and command line")                      \
	X(TS_MESSAGE, "message", "messages in the status line")                    \
	X(TS_ERROR, "error", "errors in the status line")

typedef enum {
#define X(id, name, help) id,
	THEME_SLOT_LIST(X)
#undef X
	THEME_NSLOTS
} theme_slot;

/* A colour: THEME_DEFAULT (the terminal's own), an index 0..255, or a
 * truecolour value THEME_RGB(r, g, b). */
#define THEME_DEFAULT (-1)
#define THEME_RGB_FLAG 0x1000000
#define THEME_RGB(r, g, b) (THEME_RGB_FLAG | ((r) << 16) | ((g) << 8) | (b))
#define THEME_IS_RGB(c) ((c) >= 0 && ((c)&THEME_RGB_FLAG))

enum {
	THEME_BOLD = 1u << 0,
	THEME_DIM = 1u << 1,
	THEME_UNDERLINE = 1u << 2,
	THEME_REVERSE = 1u << 3,
	THEME_ITALIC = 1u << 4,
};

typedef struct theme_style {
	int fg, bg;      /* colours as above */
	unsigned attrs;  /* THEME_* */
	bool set;        /* the theme file (or a base) gave this slot */
} theme_style;

typedef struct theme {
	char *name;
	theme_style slot[THEME_NSLOTS];
} theme;

const char *theme_slot_name(theme_slot s);
const char *theme_slot_help(theme_slot s);
int theme_slot_parse(const char *name); /* -1 if unknown */

/* The built-in default (dark) theme, used when no file can be read. *t need
 * not be initialised (what it held is not freed); theme_clear() it after. */
void theme_builtin(theme *t);
void theme_clear(theme *t);

/* Parses a theme file's text on top of what *t holds (so a file overrides its
 * base). `inherit = NAME` lines are resolved through load (may be NULL: then
 * they are errors), at most 8 deep. Returns 0, or -1 with *err =
 * "path:line: what is wrong" (caller frees); on error *t is unchanged. */
typedef int (*theme_loader)(void *ctx, const char *name, theme *t, int depth, char **err);
int theme_parse(theme *t, const char *text, size_t len, const char *path, theme_loader load, void *ctx,
		int depth, char **err);

/* Finds theme NAME (a file NAME.theme, or a path if NAME holds a '/') in dirs,
 * in order (the user's directory first), and loads it over the built-in
 * default (*t need not be initialised). Returns 0, or -1 with *err; on error
 * *t is the built-in default. */
int theme_load(theme *t, const char *name, const char *const *dirs, size_t ndirs, char **err);

/* Colour step-down, pure. ncolors is what the terminal has (COLORS): >= 256,
 * 16, 8, or < 8 (no colour). Returns an index to use, or THEME_DEFAULT. */
int theme_color_for(int color, int ncolors);
/* Nearest colour of the xterm 256-colour palette (16..255) to an RGB value. */
int theme_rgb_to_256(int rgb);
/* Nearest of the 16 ANSI colours to a 256-palette index or an RGB value. */
int theme_to_16(int color);

/* Parses a colour word: default, black..white, bright_black..bright_white
 * (also brightred), colorN / N (0..255), #rrggbb. Returns 0 or -1. */
int theme_color_parse(const char *word, int *color);

#endif
