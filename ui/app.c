/* app: the console's loop (poll over the terminal, the monitor's wake-up and the
 * next deadline), its key map and `:` commands, and the frame. */
#include "app.h"
#include "util/xalloc.h"

#include <errno.h>
#include <limits.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const struct view_ops *const views[VIEW_COUNT] = {
	[VIEW_FLEET] = &view_fleet,
	[VIEW_DETAIL] = &view_detail,
	[VIEW_LOG] = &view_log,
	[VIEW_HELP] = &view_help,
	[VIEW_ROLLOUTS] = &view_rollouts,
	[VIEW_START] = &view_start,
	[VIEW_REGISTRY] = &view_registry,
	[VIEW_DRIFT] = &view_drift,
};

/* The only globals: what signal handlers may touch. */
static volatile sig_atomic_t got_stop_signal;

static void on_stop_signal(int sig)
{
	(void)sig;
	got_stop_signal = 1;
}

int64_t app_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t app_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void app_message(struct app *a, bool error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(a->message);
	a->message = xvasprintf(fmt, ap);
	va_end(ap);
	a->message_error = error;
	a->message_until = app_mono_ms() + (error ? 8000 : 4000);
}

long app_selected_dev(const struct app *a)
{
	if (a->dev_sel < 0 || a->dev_sel >= (long)a->model.nrows)
		return -1;
	return (long)a->model.rows[a->dev_sel];
}

static void remember_selection(struct app *a)
{
	long d = app_selected_dev(a);
	if (d >= 0) {
		free(a->sel_host);
		a->sel_host = xstrdup(a->model.snap->devs[d].host);
	}
}

void app_fix_selection(struct app *a)
{
	if (a->sel_host) {
		long d = model_find(&a->model, a->sel_host);
		long r = d >= 0 ? model_row_of(&a->model, (size_t)d) : -1;
		if (r >= 0)
			a->dev_sel = r;
	}
	if (a->dev_sel >= (long)a->model.nrows)
		a->dev_sel = (long)a->model.nrows - 1;
	if (a->dev_sel < 0)
		a->dev_sel = 0;
	long nf = (long)a->model.nfactories + 1;
	if (a->fac_sel >= nf)
		a->fac_sel = nf - 1;
}

void app_open_detail(struct app *a, const char *host)
{
	free(a->detail_host);
	a->detail_host = xstrdup(host);
	a->view = VIEW_DETAIL;
	a->full_top = 0;
}

void app_run(struct app *a, const char *label, const char *const *args, size_t nargs)
{
	rollwatch *w = monitor_rollwatch(a->mon);
	if (!w) {
		app_message(a, true, "no history database: rollouts need one (--db FILE)");
		return;
	}
	if (rollwatch_command(w, label, args, nargs))
		app_message(a, true, "%s: too many commands waiting", label);
	else
		app_message(a, false, "%s ...", label);
}

static void confirm_clear(struct app *a)
{
	struct app_confirm *c = &a->confirm;
	free(c->question);
	free(c->word);
	free(c->label);
	for (size_t i = 0; i < c->nargs; i++)
		free(c->args[i]);
	free(c->args);
	memset(c, 0, sizeof *c);
}

void app_confirm(struct app *a, const char *question, const char *word, const char *label, const char *const *args,
		 size_t nargs)
{
	confirm_clear(a);
	struct app_confirm *c = &a->confirm;
	c->on = true;
	c->question = xstrdup(question);
	c->word = word ? xstrdup(word) : NULL;
	c->label = xstrdup(label);
	c->args = xcalloc(nargs + 1, sizeof *c->args);
	c->nargs = nargs;
	for (size_t i = 0; i < nargs; i++)
		c->args[i] = xstrdup(args[i]);
}

static unsigned confirm_key(struct app *a, int ch)
{
	struct app_confirm *c = &a->confirm;
	bool yes = false, no = false;
	if (ch == KEY_RESIZE)
		return ACT_RELAYOUT | ACT_REDRAW;
	if (ch == 27 || ch == KEY_F(10)) {
		no = true;
	} else if (!c->word) {
		yes = ch == 'y' || ch == 'Y';
		no = !yes;
	} else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		yes = strcmp(c->typed, c->word) == 0;
		if (!yes) {
			app_message(a, true, "'%s' is not '%s': nothing done", c->typed, c->word);
			confirm_clear(a);
			return ACT_REDRAW;
		}
	} else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
		if (c->typed_len)
			c->typed[--c->typed_len] = '\0';
	} else if (ch > 32 && ch < 127 && c->typed_len + 1 < sizeof c->typed) {
		c->typed[c->typed_len++] = (char)ch;
		c->typed[c->typed_len] = '\0';
	}
	if (yes)
		app_run(a, c->label, (const char *const *)c->args, c->nargs);
	else if (no)
		app_message(a, false, "%s: cancelled, nothing done", c->label);
	if (yes || no)
		confirm_clear(a);
	return ACT_REDRAW;
}

/* The question, in a box over the middle of the screen. */
static void draw_confirm(struct app *a)
{
	const struct app_confirm *c = &a->confirm;
	if (!c->on || a->L.too_small)
		return;
	int rows = a->L.rows, cols = a->L.cols;
	int bw = cols - 8 < 100 ? cols - 8 : 100;
	if (bw < 30)
		bw = cols;
	/* the question wrapped at word boundaries */
	char lines[8][256];
	int nl = 0;
	const char *q = c->question;
	int inner = bw - 4;
	while (*q && nl < 6) {
		int take = (int)strlen(q);
		if (take > inner) {
			take = inner;
			while (take > 0 && q[take] != ' ')
				take--;
			if (take == 0)
				take = inner;
		}
		snprintf(lines[nl++], sizeof lines[0], "%.*s", take, q);
		q += take;
		while (*q == ' ')
			q++;
	}
	if (c->word)
		snprintf(lines[nl++], sizeof lines[0], "> %s_", c->typed);
	int bh = nl + 2;
	int y0 = (rows - bh) / 2, x0 = (cols - bw) / 2;
	WINDOW *w = newwin(bh, bw, y0 < 0 ? 0 : y0, x0 < 0 ? 0 : x0);
	if (!w)
		return;
	for (int r = 0; r < bh; r++)
		draw_fill(&a->d, w, r, 0, bw, TS_ERROR);
	draw_text(&a->d, w, 0, 1, bw - 2, TS_ERROR, " Confirm ", false, false);
	for (int i = 0; i < nl; i++)
		draw_text(&a->d, w, 1 + i, 2, bw - 4, i == nl - 1 && c->word ? TS_PROMPT : TS_ERROR, lines[i], true, false);
	wnoutrefresh(w);
	delwin(w);
}

void app_open_rollouts(struct app *a, int64_t id)
{
	a->view = VIEW_ROLLOUTS;
	a->ro_id = id;
	a->full_top = 0;
	rollwatch *w = monitor_rollwatch(a->mon);
	if (w)
		rollwatch_show(w, id);
}

/* ---- windows ---- */

static void del(WINDOW **w)
{
	if (*w)
		delwin(*w);
	*w = NULL;
}

static WINDOW *mk(ui_rect r)
{
	return r.h > 0 && r.w > 0 ? newwin(r.h, r.w, r.y, r.x) : NULL;
}

static void relayout(struct app *a)
{
	int rows, cols;
	getmaxyx(stdscr, rows, cols);
	layout_compute(rows, cols, &a->lo, &a->L);
	del(&a->w_header), del(&a->w_fac), del(&a->w_dev), del(&a->w_ev), del(&a->w_status), del(&a->w_keys);
	del(&a->w_full);
	a->w_header = mk(a->L.header);
	a->w_fac = mk(a->L.factories);
	a->w_dev = mk(a->L.devices);
	a->w_ev = mk(a->L.events);
	a->w_status = mk(a->L.status);
	a->w_keys = mk(a->L.fkeys);
	/* the full views take what the panes take */
	ui_rect full = a->L.devices;
	if (!a->L.compact) {
		full.x = 0, full.w = a->L.cols;
		if (a->L.events.h)
			full.h = a->L.events.y + a->L.events.h - full.y;
	}
	a->w_full = mk(full);
	/* a resize must not leave stale cells: the next frame repaints all of it */
	clearok(curscr, TRUE);
}

/* ---- full-screen lists ---- */

void app_draw_lines(struct app *a, const char *title, char **lines, const theme_slot *slots, long n)
{
	WINDOW *w = a->w_full;
	if (!w)
		return;
	int h, width;
	getmaxyx(w, h, width);
	a->full_lines = n;
	if (a->full_top > n - (h - 1))
		a->full_top = n - (h - 1);
	if (a->full_top < 0)
		a->full_top = 0;
	draw_fill(&a->d, w, 0, 0, width, TS_BORDER);
	draw_text(&a->d, w, 0, 0, width, TS_TITLE_FOCUS, title, false, false);
	for (int r = 1; r < h; r++) {
		long i = a->full_top + r - 1;
		if (i >= n)
			draw_fill(&a->d, w, r, 0, width, TS_NORMAL);
		else
			draw_text(&a->d, w, r, 0, width, slots[i], lines[i], true, false);
	}
	wnoutrefresh(w);
}

unsigned app_scroll_key(struct app *a, int ch, bool *handled)
{
	int h = 1, width;
	if (a->w_full)
		getmaxyx(a->w_full, h, width);
	(void)width;
	long page = h > 2 ? h - 2 : 1;
	*handled = true;
	switch (ch) {
	case KEY_DOWN: case 'j': a->full_top++; break;
	case KEY_UP: case 'k': a->full_top--; break;
	case KEY_NPAGE: case ' ': a->full_top += page; break;
	case KEY_PPAGE: case 'b': a->full_top -= page; break;
	case KEY_HOME: case 'g': a->full_top = 0; break;
	case KEY_END: case 'G': a->full_top = a->full_lines; break;
	default: *handled = false; return ACT_NONE;
	}
	if (a->full_top < 0)
		a->full_top = 0;
	return ACT_REDRAW;
}

/* ---- actions ---- */

typedef unsigned (*action_fn)(struct app *a);

enum move { MV_STEP, MV_PAGE, MV_EDGE };

/* Moves the focused pane's selection: a step or a page (dir -1 or +1), or to the first or last row. */
static void move_sel(struct app *a, enum move how, int dir)
{
	long *sel, n;
	int h;
	if (a->focus == PANE_DEVICES)
		sel = &a->dev_sel, n = (long)a->model.nrows, h = a->L.devices.h - 2;
	else if (a->focus == PANE_FACTORIES)
		sel = &a->fac_sel, n = (long)a->model.nfactories + 1, h = a->L.factories.h - 2;
	else
		sel = &a->ev_top, n = 2048, h = a->L.events.h - 1;
	long page = h > 1 ? h - 1 : 1;
	long s = how == MV_STEP ? *sel + dir : how == MV_PAGE ? *sel + dir * page : dir < 0 ? 0 : n - 1;
	if (s >= n)
		s = n - 1;
	if (s < 0)
		s = 0;
	*sel = s;
	if (a->focus == PANE_DEVICES)
		remember_selection(a);
}

static unsigned act_down(struct app *a) { move_sel(a, MV_STEP, 1); return ACT_REDRAW; }
static unsigned act_up(struct app *a) { move_sel(a, MV_STEP, -1); return ACT_REDRAW; }
static unsigned act_pgdn(struct app *a) { move_sel(a, MV_PAGE, 1); return ACT_REDRAW; }
static unsigned act_pgup(struct app *a) { move_sel(a, MV_PAGE, -1); return ACT_REDRAW; }
static unsigned act_home(struct app *a) { move_sel(a, MV_EDGE, -1); return ACT_REDRAW; }
static unsigned act_end(struct app *a) { move_sel(a, MV_EDGE, 1); return ACT_REDRAW; }

static unsigned act_quit(struct app *a)
{
	if (a->view != VIEW_FLEET) {
		a->view = VIEW_FLEET;
		return ACT_REDRAW;
	}
	a->quit = true;
	return ACT_QUIT;
}

static unsigned act_next_pane(struct app *a)
{
	if (a->L.compact || a->lo.zoom)
		return ACT_NONE;
	do
		a->focus = (a->focus + 1) % PANE_COUNT;
	while (a->focus == PANE_EVENTS && !a->L.events.h);
	return ACT_REDRAW;
}

static unsigned act_prev_pane(struct app *a)
{
	if (a->L.compact || a->lo.zoom)
		return ACT_NONE;
	do
		a->focus = (a->focus + PANE_COUNT - 1) % PANE_COUNT;
	while (a->focus == PANE_EVENTS && !a->L.events.h);
	return ACT_REDRAW;
}

static void set_factory(struct app *a, const char *name)
{
	model_set_factory(&a->model, name);
	a->fac_sel = 0;
	for (size_t i = 0; name && i < a->model.nfactories; i++)
		if (strcmp(a->model.factories[i].name, name) == 0)
			a->fac_sel = (long)i + 1;
	app_fix_selection(a);
}

static unsigned act_enter(struct app *a)
{
	if (a->view != VIEW_FLEET)
		return ACT_NONE;
	if (a->focus == PANE_FACTORIES) {
		set_factory(a, a->fac_sel == 0 ? NULL : a->model.factories[a->fac_sel - 1].name);
		a->focus = PANE_DEVICES;
		a->dev_sel = 0, a->dev_top = 0;
		remember_selection(a);
		return ACT_REDRAW;
	}
	long d = app_selected_dev(a);
	if (d < 0 || a->focus != PANE_DEVICES)
		return ACT_NONE;
	app_open_detail(a, a->model.snap->devs[d].host);
	return ACT_REDRAW;
}

static unsigned act_escape(struct app *a)
{
	if (a->view != VIEW_FLEET) {
		if (a->view == VIEW_LOG && a->detail_host)
			a->view = VIEW_DETAIL;
		else
			a->view = VIEW_FLEET;
		return ACT_REDRAW;
	}
	if (a->model.filter) {
		model_set_filter(&a->model, NULL);
		app_fix_selection(a);
		app_message(a, false, "filter cleared");
		return ACT_REDRAW;
	}
	if (a->model.factory) {
		set_factory(a, NULL);
		return ACT_REDRAW;
	}
	return ACT_NONE;
}

static unsigned act_help(struct app *a)
{
	a->view = a->view == VIEW_HELP ? VIEW_FLEET : VIEW_HELP;
	a->full_top = 0;
	return ACT_REDRAW;
}

static unsigned act_log(struct app *a)
{
	if (a->view != VIEW_DETAIL) {
		free(a->detail_host);
		a->detail_host = NULL;
	}
	a->view = VIEW_LOG;
	a->full_top = 0;
	a->full_left = 0;
	return ACT_REDRAW;
}

static unsigned act_rollouts(struct app *a)
{
	app_open_rollouts(a, 0);
	return ACT_REDRAW;
}

static unsigned act_registry(struct app *a)
{
	if (a->view == VIEW_REGISTRY)
		a->view = VIEW_FLEET;
	else
		view_registry_open(a);
	return ACT_REDRAW;
}

static unsigned act_drift(struct app *a)
{
	a->view = a->view == VIEW_DRIFT ? VIEW_FLEET : VIEW_DRIFT;
	a->full_top = 0;
	return ACT_REDRAW;
}

static unsigned act_filter(struct app *a)
{
	a->input = INPUT_FILTER;
	a->line_len = 0;
	a->line[0] = '\0';
	if (a->model.filter) {
		snprintf(a->line, sizeof a->line, "%s", a->model.filter);
		a->line_len = strlen(a->line);
	}
	curs_set(1);
	return ACT_REDRAW;
}

static unsigned act_command(struct app *a)
{
	a->input = INPUT_COMMAND;
	a->line_len = 0;
	a->line[0] = '\0';
	curs_set(1);
	return ACT_REDRAW;
}

static unsigned act_sort(struct app *a)
{
	remember_selection(a);
	ui_col next = (ui_col)((a->model.sort + 1) % UI_NCOLS);
	/* numbers read best worst-first */
	bool desc = next == COL_TEMP || next == COL_UTIL || next == COL_LATENCY || next == COL_DRIFT || next == COL_STATE;
	model_set_sort(&a->model, next, desc);
	app_fix_selection(a);
	app_message(a, false, "sorted by %s", ui_col_heading(next, a->d.g->utf8));
	return ACT_REDRAW;
}

static unsigned act_reverse(struct app *a)
{
	remember_selection(a);
	model_set_sort(&a->model, a->model.sort, !a->model.desc);
	app_fix_selection(a);
	return ACT_REDRAW;
}

static unsigned act_poll(struct app *a)
{
	monitor_poll_now(a->mon);
	app_message(a, false, "polling every device now");
	return ACT_REDRAW;
}

static unsigned act_zoom(struct app *a)
{
	a->lo.zoom = !a->lo.zoom;
	if (a->lo.zoom)
		a->focus = PANE_DEVICES;
	return ACT_RELAYOUT | ACT_REDRAW;
}

static int load_theme(struct app *a, const char *name)
{
	theme t;
	char *err = NULL;
	if (theme_load(&t, name, a->o.theme_dirs, a->o.ntheme_dirs, &err) < 0) {
		app_message(a, true, "%s (theme unchanged)", err ? err : "cannot load the theme");
		free(err);
		theme_clear(&t);
		return -1;
	}
	theme_clear(&a->th);
	a->th = t;
	draw_theme(&a->d, &a->th, !a->o.no_color);
	return 0;
}

static unsigned act_theme(struct app *a)
{
	static const char *const cycle[] = { "dark", "light", "high-contrast", "monochrome" };
	size_t n = sizeof cycle / sizeof *cycle, i = 0;
	for (; i < n; i++)
		if (a->th.name && strcmp(a->th.name, cycle[i]) == 0)
			break;
	const char *next = cycle[(i + 1) % n];
	if (load_theme(a, next) == 0)
		app_message(a, false, "theme %s", next);
	return ACT_REDRAW;
}

struct key_binding {
	int key;
	const char *keyname;  /* as help shows it */
	const char *help;
	action_fn fn;
};

/* The key map: every key the console takes, with its help line (the help view
 * is made from this table). */
static const struct key_binding keymap[] = {
	{ KEY_DOWN, "Down j", "next row", act_down },
	{ 'j', NULL, NULL, act_down },
	{ KEY_UP, "Up k", "previous row", act_up },
	{ 'k', NULL, NULL, act_up },
	{ KEY_NPAGE, "PgDn", "page down", act_pgdn },
	{ KEY_PPAGE, "PgUp", "page up", act_pgup },
	{ 'g', "g Home", "first row", act_home },
	{ KEY_HOME, NULL, NULL, act_home },
	{ 'G', "G End", "last row", act_end },
	{ KEY_END, NULL, NULL, act_end },
	{ '\t', "Tab", "next pane (factories, devices, events)", act_next_pane },
	{ KEY_BTAB, "S-Tab", "previous pane", act_prev_pane },
	{ '\n', "Enter", "factory: show its devices; device: open its detail", act_enter },
	{ KEY_ENTER, NULL, NULL, act_enter },
	{ '\r', NULL, NULL, act_enter },
	{ 27, "Esc", "back; clear the filter; show all factories", act_escape },
	{ '/', "/ F3", "filter: text, or an Ansible pattern (factory_*:!factory_paris)", act_filter },
	{ KEY_F(3), NULL, NULL, act_filter },
	{ ':', ":", "command (:help lists them)", act_command },
	{ 's', "s F2", "sort by the next column", act_sort },
	{ KEY_F(2), NULL, NULL, act_sort },
	{ 'S', "S", "reverse the sort", act_reverse },
	{ 'r', "r F5", "poll every device now", act_poll },
	{ KEY_F(5), NULL, NULL, act_poll },
	{ '@', "@ F6", "command log: the requests sent and their answers", act_log },
	{ 'd', "d", "drift: factories x features (KS against the baseline), drifting devices", act_drift },
	{ KEY_F(6), NULL, NULL, act_log },
	{ 'o', "o F4", "rollouts: progress, gates, devices; pause, approve, abort, roll back", act_rollouts },
	{ KEY_F(4), NULL, NULL, act_rollouts },
	{ 'm', "m F9", "the model registry: versions, metadata, devices on each", act_registry },
	{ KEY_F(9), NULL, NULL, act_registry },
	{ 'z', "z F7", "zoom the devices table", act_zoom },
	{ KEY_F(7), NULL, NULL, act_zoom },
	{ 't', "t F8", "next theme", act_theme },
	{ KEY_F(8), NULL, NULL, act_theme },
	{ '?', "? F1", "this help", act_help },
	{ KEY_F(1), NULL, NULL, act_help },
	{ 'q', "q F10", "quit (in a view: back)", act_quit },
	{ KEY_F(10), NULL, NULL, act_quit },
};

/* ---- `:` commands ---- */

typedef unsigned (*command_fn)(struct app *a, const char *arg);

static unsigned cmd_quit(struct app *a, const char *arg)
{
	(void)arg;
	a->quit = true;
	return ACT_QUIT;
}

static unsigned cmd_factory(struct app *a, const char *arg)
{
	if (!*arg || strcmp(arg, "all") == 0) {
		set_factory(a, NULL);
		return ACT_REDRAW;
	}
	/* exact, else the one whose name contains it ("berlin" finds factory_berlin) */
	const char *hit = NULL;
	size_t nhits = 0;
	for (size_t i = 0; i < a->model.nfactories; i++) {
		const char *n = a->model.factories[i].name;
		if (strcmp(n, arg) == 0) {
			hit = n, nhits = 1;
			break;
		}
		if (strstr(n, arg))
			hit = n, nhits++;
	}
	if (nhits != 1) {
		app_message(a, true, nhits ? "'%s' matches %zu factories" : "no factory '%s'", arg, nhits);
		return ACT_REDRAW;
	}
	set_factory(a, hit);
	a->focus = PANE_DEVICES;
	return ACT_REDRAW;
}

static unsigned apply_filter(struct app *a, const char *arg)
{
	remember_selection(a);
	if (model_set_filter(&a->model, arg) < 0) {
		app_message(a, true, "%s", a->model.filter_error ? a->model.filter_error : "bad pattern");
		return ACT_REDRAW;
	}
	a->dev_sel = 0, a->dev_top = 0;
	app_fix_selection(a);
	if (a->model.filter)
		app_message(a, false, "%zu devices match", a->model.nrows);
	return ACT_REDRAW;
}

static unsigned cmd_filter(struct app *a, const char *arg) { return apply_filter(a, arg); }

static unsigned cmd_sort(struct app *a, const char *arg)
{
	char col[64] = "";
	char dir[16] = "";
	sscanf(arg, "%63s %15s", col, dir);
	int c = ui_col_parse(col);
	if (c < 0) {
		app_message(a, true, "no column '%s'", col);
		return ACT_REDRAW;
	}
	remember_selection(a);
	bool desc = strcmp(dir, "desc") == 0 || (!*dir && (c == COL_TEMP || c == COL_UTIL || c == COL_LATENCY ||
							     c == COL_DRIFT || c == COL_STATE));
	model_set_sort(&a->model, (ui_col)c, desc);
	app_fix_selection(a);
	return ACT_REDRAW;
}

static unsigned cmd_theme(struct app *a, const char *arg)
{
	if (!*arg) {
		app_message(a, false, "theme %s (dark, light, high-contrast, monochrome, or a file)", a->th.name);
		return ACT_REDRAW;
	}
	if (load_theme(a, arg) == 0)
		app_message(a, false, "theme %s", a->th.name);
	return ACT_REDRAW;
}

static unsigned cmd_columns(struct app *a, const char *arg)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", arg);
	char *save = NULL;
	for (char *w = strtok_r(buf, " ,", &save); w; w = strtok_r(NULL, " ,", &save)) {
		bool hide = *w == '-';
		if (*w == '-' || *w == '+')
			w++;
		int c = ui_col_parse(w);
		if (c < 0) {
			app_message(a, true, "no column '%s'", w);
			return ACT_REDRAW;
		}
		if (c == COL_HOST && hide) {
			app_message(a, true, "the host column stays");
			return ACT_REDRAW;
		}
		a->col_hidden[c] = hide;
	}
	return ACT_REDRAW;
}

static unsigned cmd_host(struct app *a, const char *arg)
{
	if (model_find(&a->model, arg) < 0) {
		app_message(a, true, "no device '%s'", arg);
		return ACT_REDRAW;
	}
	app_open_detail(a, arg);
	return ACT_REDRAW;
}

static unsigned cmd_fkeys(struct app *a, const char *arg)
{
	a->lo.fkeys = strcmp(arg, "off") != 0 && (strcmp(arg, "on") == 0 || !a->lo.fkeys);
	return ACT_RELAYOUT | ACT_REDRAW;
}

static unsigned cmd_mouse(struct app *a, const char *arg)
{
	a->o.mouse = strcmp(arg, "off") != 0 && (strcmp(arg, "on") == 0 || !a->o.mouse);
	mousemask(a->o.mouse ? (BUTTON1_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED) : 0, NULL);
	app_message(a, false, "mouse %s", a->o.mouse ? "on" : "off");
	return ACT_REDRAW;
}

static unsigned cmd_poll(struct app *a, const char *arg)
{
	(void)arg;
	return act_poll(a);
}

static unsigned cmd_help(struct app *a, const char *arg)
{
	(void)arg;
	a->view = VIEW_HELP;
	a->full_top = 0;
	return ACT_REDRAW;
}

static unsigned cmd_log(struct app *a, const char *arg)
{
	(void)arg;
	return act_log(a);
}

static unsigned cmd_rollouts(struct app *a, const char *arg)
{
	long long id = 0;
	if (*arg && (sscanf(arg, "%lld", &id) != 1 || id <= 0)) {
		app_message(a, true, "usage: :rollouts [ID]");
		return ACT_REDRAW;
	}
	app_open_rollouts(a, id);
	return ACT_REDRAW;
}

static unsigned cmd_registry(struct app *a, const char *arg)
{
	(void)arg;
	view_registry_open(a);
	return ACT_REDRAW;
}

static unsigned cmd_drift(struct app *a, const char *arg)
{
	(void)arg;
	a->view = VIEW_DRIFT;
	a->full_top = 0;
	return ACT_REDRAW;
}

static const struct command_entry {
	const char *name, *args, *help;
	command_fn fn;
} commands[] = {
	{ "factory", "NAME|all", "show one factory's devices (a part of its name will do)", cmd_factory },
	{ "filter", "TEXT|PATTERN", "filter the devices (empty: none)", cmd_filter },
	{ "host", "NAME", "open a device's detail", cmd_host },
	{ "sort", "COLUMN [asc|desc]", "sort the devices (host, state, version, temp, util, drift, ...)", cmd_sort },
	{ "columns", "[+|-]COLUMN ...", "show or hide columns (:columns -factory -uptime)", cmd_columns },
	{ "theme", "NAME", "switch theme (dark, light, high-contrast, monochrome, a file)", cmd_theme },
	{ "poll", "", "poll every device now", cmd_poll },
	{ "log", "", "the command log", cmd_log },
	{ "rollouts", "[ID]", "the rollouts view (a rollout by its number)", cmd_rollouts },
	{ "registry", "", "the model registry and the devices on each version", cmd_registry },
	{ "drift", "", "the drift view: factories x features", cmd_drift },
	{ "fkeys", "[on|off]", "show or hide the F-key bar", cmd_fkeys },
	{ "mouse", "[on|off]", "mouse clicks and wheel", cmd_mouse },
	{ "help", "", "keys and commands", cmd_help },
	{ "quit", "", "leave (also :q)", cmd_quit },
	{ "q", NULL, NULL, cmd_quit },
};

static unsigned run_command(struct app *a, const char *line)
{
	while (*line == ' ')
		line++;
	size_t n = strcspn(line, " ");
	const char *arg = line + n;
	while (*arg == ' ')
		arg++;
	if (n == 0)
		return ACT_REDRAW;
	const struct command_entry *hit = NULL;
	size_t nhits = 0;
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
		if (strlen(commands[i].name) == n && strncmp(commands[i].name, line, n) == 0) {
			hit = &commands[i], nhits = 1;
			break;
		}
		if (strncmp(commands[i].name, line, n) == 0 && commands[i].help)
			hit = &commands[i], nhits++;
	}
	if (nhits != 1) {
		app_message(a, true, nhits ? "':%.*s' is ambiguous" : "no command ':%.*s' (:help lists them)", (int)n, line);
		return ACT_REDRAW;
	}
	return hit->fn(a, arg);
}

/* ---- help ---- */

static void draw_help(struct app *a)
{
	size_t cap = sizeof keymap / sizeof *keymap + sizeof commands / sizeof *commands + 16;
	char **lines = xcalloc(cap, sizeof *lines);
	theme_slot *slots = xcalloc(cap, sizeof *slots);
	long n = 0;
	slots[n] = TS_TITLE, lines[n++] = xstrdup("Keys");
	for (size_t i = 0; i < sizeof keymap / sizeof *keymap; i++)
		if (keymap[i].keyname)
			slots[n] = TS_NORMAL, lines[n++] = xasprintf("  %-10s %s", keymap[i].keyname, keymap[i].help);
	slots[n] = TS_NORMAL, lines[n++] = xstrdup("");
	slots[n] = TS_TITLE, lines[n++] = xstrdup("Commands (type : then the command; a prefix will do)");
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		if (commands[i].help)
			slots[n] = TS_NORMAL, lines[n++] = xasprintf("  :%-8s %-18s %s", commands[i].name, commands[i].args,
								      commands[i].help);
	slots[n] = TS_NORMAL, lines[n++] = xstrdup("");
	slots[n] = TS_DIM, lines[n++] = xstrdup("States: healthy, degraded, unhealthy, unreachable (with the reason), "
						 "stale (no recent answer), pending (not answered yet).");
	slots[n] = TS_DIM, lines[n++] = xstrdup("'!' before a device: a critical alert; '*': a warning; '~' after a factory: drift.");
	app_draw_lines(a, " Help  (Esc or ? back) ", lines, slots, n);
	for (long i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	free(slots);
}

const struct view_ops view_help = { .name = "help", .draw = draw_help, .key = app_scroll_key };

/* ---- status line and key bar ---- */

static void draw_status(struct app *a)
{
	WINDOW *w = a->w_status;
	if (!w)
		return;
	int width = a->L.cols;
	if (a->L.too_small) {
		draw_text(&a->d, w, 0, 0, width, TS_ERROR, width >= 34 ? "terminal too small for fleetdeck" : "too small", true,
			  false);
		wnoutrefresh(w);
		return;
	}
	if (a->input != INPUT_NONE) {
		const char *p = a->input == INPUT_FILTER ? "/" : ":";
		int x = draw_text(&a->d, w, 0, 0, width, TS_PROMPT, p, false, false);
		x += draw_text(&a->d, w, 0, x, width - x, TS_NORMAL, a->line, false, false);
		draw_fill(&a->d, w, 0, x, width - x, TS_NORMAL);
		wmove(w, 0, x < width ? x : width - 1);
		wnoutrefresh(w);
		return;
	}
	if (a->message && app_mono_ms() < a->message_until) {
		draw_text(&a->d, w, 0, 0, width, a->message_error ? TS_ERROR : TS_MESSAGE, a->message, true, false);
	} else {
		const char *hint = a->L.compact ? "terminal below 80x24: devices only.  ? help  / filter  q quit"
						: "? help  / filter  : command  Tab pane  Enter open  s sort  @ log  q quit";
		draw_text(&a->d, w, 0, 0, width, TS_DIM, hint, true, false);
	}
	wnoutrefresh(w);
}

static void draw_keys(struct app *a)
{
	WINDOW *w = a->w_keys;
	if (!w)
		return;
	static const char *const labels[] = { "Help", "Sort", "Filter", "Rollout", "Poll", "Log", "Zoom", "Theme", "Models", "Quit" };
	int x = 0, width = a->L.cols;
	for (int i = 0; i < 10 && x < width; i++) {
		if (!*labels[i])
			continue;
		char num[4];
		snprintf(num, sizeof num, "%d", i + 1);
		x += draw_text(&a->d, w, 0, x, width - x, TS_FKEY, num, false, false);
		x += draw_text(&a->d, w, 0, x, width - x, TS_FKEY_LABEL, labels[i], false, false);
		x += draw_text(&a->d, w, 0, x, width - x, TS_NORMAL, " ", false, false);
	}
	draw_fill(&a->d, w, 0, x, width - x, TS_NORMAL);
	wnoutrefresh(w);
}

static void draw_frame(struct app *a)
{
	if (a->L.too_small) {
		draw_status(a);
	} else {
		app_draw_header(a);
		if (a->L.compact && a->view == VIEW_FLEET)
			a->focus = PANE_DEVICES;
		views[a->view]->draw(a);
		draw_keys(a);
		draw_status(a);
		draw_confirm(a);
	}
	doupdate();
	a->frames++;
}

/* ---- input ---- */

static unsigned input_key(struct app *a, int ch)
{
	if (ch == 27 || ch == KEY_F(10)) {
		a->input = INPUT_NONE;
		curs_set(0);
		return ACT_REDRAW;
	}
	if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		app_input kind = a->input;
		a->input = INPUT_NONE;
		curs_set(0);
		return kind == INPUT_FILTER ? apply_filter(a, a->line) : run_command(a, a->line);
	}
	if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
		if (a->line_len == 0) {
			a->input = INPUT_NONE;
			curs_set(0);
		} else {
			/* one UTF-8 character back */
			do
				a->line_len--;
			while (a->line_len > 0 && ((unsigned char)a->line[a->line_len] & 0xc0) == 0x80);
			a->line[a->line_len] = '\0';
		}
		return ACT_REDRAW;
	}
	if (ch == 21) { /* ^U */
		a->line_len = 0;
		a->line[0] = '\0';
		return ACT_REDRAW;
	}
	if (ch >= 32 && ch < 256 && ch != 127 && a->line_len + 1 < sizeof a->line) {
		a->line[a->line_len++] = (char)ch;
		a->line[a->line_len] = '\0';
		if (a->input == INPUT_FILTER && !strpbrk(a->line, ":,&!*?[~")) {
			/* a text filter narrows as it is typed; patterns wait for Enter */
			model_set_filter(&a->model, a->line);
			a->dev_sel = 0, a->dev_top = 0;
		}
	}
	return ACT_REDRAW;
}

static unsigned mouse_key(struct app *a)
{
	MEVENT ev;
	if (getmouse(&ev) != OK)
		return ACT_NONE;
	if (ev.bstate & BUTTON4_PRESSED)
		return act_up(a);
	if (ev.bstate & BUTTON5_PRESSED)
		return act_down(a);
	ui_rect R = a->L.devices;
	if (a->view == VIEW_FLEET && ev.y >= R.y + 2 && ev.y < R.y + R.h && ev.x >= R.x && ev.x < R.x + R.w) {
		long row = a->dev_top + (ev.y - R.y - 2);
		if (row < (long)a->model.nrows) {
			a->focus = PANE_DEVICES;
			a->dev_sel = row;
			remember_selection(a);
		}
		return ACT_REDRAW;
	}
	R = a->L.factories;
	if (a->view == VIEW_FLEET && ev.y >= R.y + 2 && ev.y < R.y + R.h && ev.x >= R.x && ev.x < R.x + R.w) {
		long row = a->fac_top + (ev.y - R.y - 2);
		if (row <= (long)a->model.nfactories) {
			a->focus = PANE_FACTORIES;
			a->fac_sel = row;
		}
		return ACT_REDRAW;
	}
	return ACT_NONE;
}

unsigned app_key(struct app *a, int ch)
{
	if (ch == KEY_RESIZE)
		return ACT_RELAYOUT | ACT_REDRAW;
	if (a->confirm.on)
		return confirm_key(a, ch);
	if (a->input != INPUT_NONE)
		return input_key(a, ch);
	if (ch == KEY_MOUSE)
		return mouse_key(a);
	bool handled = false;
	unsigned r = views[a->view]->key(a, ch, &handled);
	if (handled)
		return r;
	for (size_t i = 0; i < sizeof keymap / sizeof *keymap; i++)
		if (keymap[i].key == ch)
			return keymap[i].fn(a);
	return ACT_NONE;
}

/* ---- data ---- */

static void take_snapshot(struct app *a)
{
	remember_selection(a);
	model_set_snapshot(&a->model, monitor_snapshot(a->mon, app_wall_ms()));
	app_fix_selection(a);
	rollwatch *w = monitor_rollwatch(a->mon);
	if (w) {
		rw_snapshot *s = rollwatch_snapshot(w);
		if (!a->rw || s->gen != a->rw->gen) {
			rw_snapshot_free(a->rw);
			a->rw = s;
		} else {
			rw_snapshot_free(s);
		}
		rw_result res;
		while (rollwatch_result(w, &res)) {
			if (app_start_result(a, &res)) {
				rw_result_clear(&res);
				continue;
			}
			/* the command's last line says what happened */
			const char *out = res.output ? res.output : "";
			const char *last = strrchr(out, '\n');
			last = last ? last + 1 : out;
			if (res.exit_code == 0)
				app_message(a, false, "%s: %s", res.label, *last ? last : "done");
			else
				app_message(a, true, "%s failed: %s", res.label, *last ? last : "no output");
			rw_result_clear(&res);
		}
	}
	a->last_data_ms = app_mono_ms();
	a->data_pending = false;
}

/* ---- the loop ---- */

static void setup_terminal(struct app *a)
{
	if (!getenv("ESCDELAY"))
		set_escdelay(25);
	if (!stdscr)
		initscr();
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	leaveok(stdscr, TRUE);
	if (!a->o.no_color && has_colors()) {
		start_color();
		use_default_colors();
	}
	if (a->o.mouse)
		mousemask(BUTTON1_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
	draw_theme(&a->d, &a->th, !a->o.no_color);
	/* stdscr is never drawn on; refreshed once now, so getch() never repaints it over the panes */
	refresh();
}

struct app *app_create(const console_opts *o, inventory *inv, monitor *mon)
{
	struct app *a = xcalloc(1, sizeof *a);
	a->o = *o;
	if (a->o.refresh_ms <= 0)
		a->o.refresh_ms = 1000;
	a->inv = inv;
	a->mon = mon;
	a->lo = (layout_opts){ .fkeys = o->fkeys, .events = true };
	a->focus = PANE_DEVICES;
	model_init(&a->model, inv);
	a->d.g = glyphs_choose((glyphs_mode)o->glyph_mode, nl_langinfo(CODESET), getenv("TERM"));
	char *terr = NULL;
	const char *tname = o->no_color ? "monochrome" : o->theme ? o->theme : "dark";
	if (theme_load(&a->th, tname, o->theme_dirs, o->ntheme_dirs, &terr) < 0) {
		app_message(a, true, "%s (using the built-in theme)", terr ? terr : "theme not found");
		free(terr);
	}
	/* the inventory is on screen before any device answers */
	take_snapshot(a);
	return a;
}

void app_attach_terminal(struct app *a)
{
	setup_terminal(a);
	relayout(a);
}

void app_refresh_data(struct app *a)
{
	take_snapshot(a);
}

void app_frame(struct app *a)
{
	draw_frame(a);
}

void app_destroy(struct app *a)
{
	if (!a)
		return;
	del(&a->w_header), del(&a->w_fac), del(&a->w_dev), del(&a->w_ev), del(&a->w_status), del(&a->w_keys);
	del(&a->w_full);
	view_registry_free(a);
	model_free(&a->model);
	rw_snapshot_free(a->rw);
	confirm_clear(a);
	app_start_clear(a);
	theme_clear(&a->th);
	free(a->sel_host);
	free(a->detail_host);
	free(a->message);
	free(a);
}

int console_run(const console_opts *o, inventory *inv, monitor *mon, char **err)
{
	setlocale(LC_ALL, "");
	struct app *a = app_create(o, inv, mon);

	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigemptyset(&sa.sa_mask);
	struct sigaction old_term, old_int, old_hup;
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGHUP, &sa, &old_hup);

	app_attach_terminal(a);
	if (!a->message)
		for (size_t i = 0; i < monitor_warning_count(mon) && i < 1; i++)
			app_message(a, true, "%s%s", monitor_warning(mon, i),
				    monitor_warning_count(mon) > 1 ? " (and more when the console ends)" : "");
	draw_frame(a);
	int rc = 0;
	if (monitor_start(mon, err) < 0)
		rc = -1;
	int64_t next_tick = app_mono_ms() + 1000;
	while (!a->quit && !got_stop_signal && rc == 0) {
		int64_t now = app_mono_ms();
		int timeout = (int)(next_tick - now);
		if (a->data_pending) {
			int64_t due = a->last_data_ms + a->o.refresh_ms - now;
			if (due < timeout)
				timeout = (int)due;
		}
		if (a->message && a->message_until - now < timeout && a->message_until > now)
			timeout = (int)(a->message_until - now);
		if (timeout < 0)
			timeout = 0;
		struct pollfd pfd[2] = {
			{ .fd = STDIN_FILENO, .events = POLLIN },
			{ .fd = monitor_wake_fd(mon), .events = POLLIN },
		};
		int pr = poll(pfd, 2, timeout);
		if (pr < 0 && errno != EINTR) {
			*err = xasprintf("poll: %s", strerror(errno));
			rc = -1;
			break;
		}
		unsigned act = ACT_NONE;
		if (pr > 0 && (pfd[1].revents & POLLIN)) {
			monitor_ack(mon);
			a->data_pending = true;
		}
		/* keys: also after EINTR, which is how a resize (SIGWINCH) arrives */
		int ch;
		while ((ch = getch()) != ERR) {
			act |= app_key(a, ch);
			if (a->quit)
				break;
		}
		if (pfd[0].revents & (POLLHUP | POLLERR))
			break; /* the terminal went away */
		now = app_mono_ms();
		if (a->data_pending && now - a->last_data_ms >= a->o.refresh_ms) {
			take_snapshot(a);
			act |= ACT_REDRAW;
		}
		if (now >= next_tick) {
			next_tick = now + 1000;
			act |= ACT_REDRAW; /* "cycle 3s ago" moves on */
		}
		if (act & ACT_RELAYOUT)
			relayout(a);
		if (act & (ACT_REDRAW | ACT_RELAYOUT))
			draw_frame(a);
	}
	endwin();
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	app_destroy(a);
	return rc;
}
