/* app: the console's state, shared by the loop (app.c) and the views
 * (view_*.c). Internal to ui/. */
#ifndef FLEETDECK_UI_APP_H
#define FLEETDECK_UI_APP_H

#include "console.h"
#include "draw.h"
#include "glyphs.h"
#include "layout.h"
#include "model.h"
#include "theme.h"
#include "monitor/rollwatch.h"

#include <curses.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* What an action changed; the loop acts on it (htop's HandlerResult). */
enum {
	ACT_NONE = 0,
	ACT_REDRAW = 1u << 0,   /* repaint */
	ACT_RELAYOUT = 1u << 1, /* windows change size */
	ACT_QUIT = 1u << 2,
};

typedef enum { PANE_FACTORIES, PANE_DEVICES, PANE_EVENTS, PANE_COUNT } app_pane;

typedef enum { VIEW_FLEET, VIEW_DETAIL, VIEW_LOG, VIEW_HELP, VIEW_ROLLOUTS, VIEW_START, VIEW_REGISTRY, VIEW_DRIFT, VIEW_COUNT } app_view_id;

typedef enum { INPUT_NONE, INPUT_FILTER, INPUT_COMMAND } app_input;

struct app;

/* A full-screen view: fleet (the panes), device detail, command log, help, drift. */
struct view_ops {
	const char *name;
	void (*draw)(struct app *a);
	/* keys the view handles itself (scrolling); ACT_NONE with *handled false: not its key */
	unsigned (*key)(struct app *a, int ch, bool *handled);
};

extern const struct view_ops view_fleet, view_detail, view_log, view_help, view_rollouts, view_start, view_registry, view_drift;

struct app {
	console_opts o;
	inventory *inv;
	monitor *mon;
	theme th;
	draw_ctx d;
	ui_model model;
	ui_layout L;
	layout_opts lo;
	WINDOW *w_header, *w_fac, *w_dev, *w_ev, *w_status, *w_keys, *w_full;
	app_view_id view;
	app_pane focus;
	/* selections: by name, so they survive new snapshots */
	char *sel_host;
	long dev_sel, dev_top;
	long fac_sel, fac_top;      /* 0 is "(all)", then model.factories */
	long ev_top;
	long full_top;              /* scroll of detail, log and help */
	long full_lines;            /* lines the full view had when last drawn */
	long full_left;             /* the command log's horizontal scroll, in characters */
	char *detail_host;
	int64_t hist_req_ms;        /* monotonic: when the detail view last asked for history */
	bool col_hidden[UI_NCOLS];
	/* the filter and command line */
	app_input input;
	char line[256];
	size_t line_len;
	char *message;
	bool message_error;
	int64_t message_until;      /* monotonic ms */
	/* rollouts: the latest read (NULL without a history database) */
	rw_snapshot *rw;
	int64_t ro_id;              /* the rollouts view's selected rollout; 0: the current one */
	/* the start dialog (view_start.c) */
	struct app_start {
		int field;              /* the one being edited */
		char text[6][128];      /* model, version, limit, serial, max fail, reason */
		json_t *registry;       /* `registry list --json`'s answer; NULL: none (yet) */
		char *registry_error;
		bool registry_pending;
		json_t *plan;           /* `rollout plan --json` for plan_key */
		char *plan_error;
		char *plan_key;         /* the fields the plan (or the one asked for) was made of */
		bool plan_pending;
	} start;
	/* a question before something that changes devices (app_confirm) */
	struct app_confirm {
		bool on;
		char *question;         /* names what will be done */
		char *word;             /* to be typed to confirm; NULL: y confirms */
		char *label;            /* for the result line */
		char **args;            /* the fleetdeck command it runs */
		size_t nargs;
		char typed[64];
		size_t typed_len;
	} confirm;
	/* timing */
	int64_t last_data_ms;       /* monotonic: last snapshot taken */
	bool data_pending;          /* a cycle ended since */
	bool quit;
	uint64_t frames;
	struct regview *regview;    /* the registry view's state (view_registry.c); NULL until opened */
};

int64_t app_mono_ms(void);
int64_t app_wall_ms(void);
void app_message(struct app *a, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The selected device's index in the snapshot, or -1. */
long app_selected_dev(const struct app *a);
/* Re-finds the selection by name after the rows changed. */
void app_fix_selection(struct app *a);
/* Opens the detail view of a device. */
void app_open_detail(struct app *a, const char *host);
/* Draws into w_full a list of lines scrolled by full_top (detail, log, help). */
void app_draw_lines(struct app *a, const char *title, char **lines, const theme_slot *slots, long n);
/* The header (every view shows it). */
void app_draw_header(struct app *a);
/* Asks before running `fleetdeck --db DB args...` (through the monitor's
 * rollwatch): y confirms, or typing word and Enter when word is not NULL. */
void app_confirm(struct app *a, const char *question, const char *word, const char *label, const char *const *args,
		 size_t nargs);
/* Runs it at once. */
void app_run(struct app *a, const char *label, const char *const *args, size_t nargs);
/* The start dialog (`n` in the rollouts view). */
void app_open_start(struct app *a);
/* A finished query for the start dialog (registry, plan): true if it was one. */
bool app_start_result(struct app *a, const rw_result *r);
void app_start_clear(struct app *a);
/* The rollouts view (`o`, `:rollouts`), on rollout id (0: the current one). */
void app_open_rollouts(struct app *a, int64_t id);
/* Scroll keys for the full views. */
unsigned app_scroll_key(struct app *a, int ch, bool *handled);

/* The registry view: opens it (reading the registry the first time); frees its state. */
void view_registry_open(struct app *a);
void view_registry_free(struct app *a);

/* The console without its loop, for console_run() and the benchmark: made and
 * shown on the current terminal (initscr or newterm first, for attach). */
struct app *app_create(const console_opts *o, inventory *inv, monitor *mon);
void app_attach_terminal(struct app *a);
void app_refresh_data(struct app *a);
void app_frame(struct app *a);
/* A key, as the loop hands it over; returns ACT_*. */
unsigned app_key(struct app *a, int ch);
void app_destroy(struct app *a);

#endif
