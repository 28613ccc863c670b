/* view_fleet: the main screen: header, factories, devices table, events, status line and key bar. */
#include "app.h"
#include "rollout/rollstate.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const theme_slot state_slot[DEV_STATE_COUNT] = {
	[DEV_PENDING] = TS_STATE_PENDING,     [DEV_HEALTHY] = TS_STATE_HEALTHY,
	[DEV_DEGRADED] = TS_STATE_DEGRADED,   [DEV_UNHEALTHY] = TS_STATE_UNHEALTHY,
	[DEV_UNREACHABLE] = TS_STATE_UNREACHABLE, [DEV_STALE] = TS_STATE_STALE,
};

static const struct {
	int min, pref, prio;
	bool right;
} colspec[] = {
#define X(id, head, min, pref, prio, right) { min, pref, prio, right },
	UI_COL_LIST(X)
#undef X
};

static theme_slot temp_slot(const struct app *a, const fleet_dev *d)
{
	if (!(d->st.have & DEV_HAVE_GPU_TEMP) || !a->o.rules)
		return TS_TEMP_OK;
	double warn, crit;
	fleet_rules_temp(a->o.rules, d->gpu_type, &warn, &crit);
	return d->st.gpu_temp >= crit ? TS_TEMP_HOT : d->st.gpu_temp >= warn ? TS_TEMP_WARM : TS_TEMP_OK;
}

static theme_slot drift_slot(int severity)
{
	return severity == DRIFT_CRITICAL ? TS_DRIFT_CRIT : severity == DRIFT_WARNING ? TS_DRIFT_WARN : TS_NORMAL;
}

/* ---- header ---- */

void app_draw_header(struct app *a)
{
	WINDOW *w = a->w_header;
	if (!w)
		return;
	const ui_totals *t = &a->model.totals;
	int cols = a->L.cols;
	char buf[512];
	poll_cycle_info info;
	bool have = monitor_last_cycle(a->mon, &info);
	char ago[32] = "";
	if (have)
		model_age(app_wall_ms() - info.end_ms, ago, sizeof ago);
	char cyc[96];
	if (have)
		snprintf(cyc, sizeof cyc, "cycle %s ago, %.2f s", ago, info.duration_ms / 1000.0);
	else
		snprintf(cyc, sizeof cyc, "first cycle under way");
	char *err = monitor_error(a->mon);
	snprintf(buf, sizeof buf, " fleetdeck%s%s  %zu devices  alerts %zu critical %zu warning  %s%s%s%s", a->o.title ? " " : "",
		 a->o.title ? a->o.title : "", t->n, t->alerts_critical, t->alerts_warning, cyc,
		 a->o.read_only ? "  [read-only]" : "", err ? "  ! " : "", err ? err : "");
	free(err);
	if (a->L.compact) {
		char small[160];
		snprintf(small, sizeof small, " small terminal: devices only | %zu dev, %zu ok, %zu bad, %zu unreachable",
			 t->n, t->count[DEV_HEALTHY], t->count[DEV_DEGRADED] + t->count[DEV_UNHEALTHY] + t->count[DEV_STALE],
			 t->count[DEV_UNREACHABLE]);
		draw_text(&a->d, w, 0, 0, cols, TS_HEADER, small, true, false);
		wnoutrefresh(w);
		return;
	}
	int x0 = draw_text(&a->d, w, 0, 0, cols, TS_HEADER, buf, false, false);
	/* the active rollout, if any, in its own colour */
	const rw_rollout *ro = a->rw ? rw_snapshot_current(a->rw) : NULL;
	if (ro && !roll_state_in(ro->state, roll_states_final) && x0 + 12 < cols) {
		char *sum = rw_rollout_summary(ro);
		snprintf(buf, sizeof buf, "  %s", sum);
		free(sum);
		x0 += draw_text(&a->d, w, 0, x0, cols - x0, ro->all.failed ? TS_STATE_UNHEALTHY : TS_STATE_DEGRADED, buf,
				false, false);
	}
	draw_fill(&a->d, w, 0, x0, cols - x0, TS_HEADER);
	/* line 2: counts by state in their colours, versions, hottest GPU */
	int x = 0;
	static const dev_state order[] = { DEV_HEALTHY, DEV_DEGRADED, DEV_UNHEALTHY, DEV_UNREACHABLE, DEV_STALE,
					   DEV_PENDING };
	draw_fill(&a->d, w, 1, 0, cols, TS_NORMAL);
	x += draw_text(&a->d, w, 1, x, cols - x, TS_NORMAL, " ", false, false);
	for (size_t i = 0; i < sizeof order / sizeof *order && x < cols; i++) {
		dev_state s = order[i];
		if (!t->count[s] && s != DEV_HEALTHY)
			continue;
		snprintf(buf, sizeof buf, "%s %zu %s  ", a->d.g->bullet, t->count[s], dev_state_name(s));
		x += draw_text(&a->d, w, 1, x, cols - x, state_slot[s], buf, false, false);
	}
	if (t->hottest_host) {
		snprintf(buf, sizeof buf, "hottest %s %.1f%sC  ", t->hottest_host, t->hottest_temp, a->d.g->degree);
		x += draw_text(&a->d, w, 1, x, cols - x, TS_NORMAL, buf, false, false);
	}
	snprintf(buf, sizeof buf, "versions %s", t->versions && *t->versions ? t->versions : "-");
	draw_text(&a->d, w, 1, x, cols - x, TS_DIM, buf, false, false);
	wnoutrefresh(w);
}

/* ---- factories ---- */

static void draw_title(struct app *a, WINDOW *w, int width, bool focus, const char *title)
{
	draw_fill(&a->d, w, 0, 0, width, TS_BORDER);
	draw_text(&a->d, w, 0, 0, width, focus ? TS_TITLE_FOCUS : TS_TITLE, title, false, false);
}

static void draw_factories(struct app *a)
{
	WINDOW *w = a->w_fac;
	if (!w)
		return;
	int h = a->L.factories.h, width = a->L.factories.w - 1; /* last column: the separator */
	char buf[256];
	snprintf(buf, sizeof buf, " Factories (%zu) ", a->model.nfactories);
	draw_title(a, w, width, a->focus == PANE_FACTORIES, buf);
	/* NAME DEV BAD MAX AVG ~ VERSIONS, narrowed by importance */
	enum { FC_NAME, FC_DEV, FC_BAD, FC_MAX, FC_AVG, FC_DRIFT, FC_VER, FC_N };
	size_t longest = 5;
	for (size_t i = 0; i < a->model.nfactories; i++)
		if (strlen(a->model.factories[i].name) > longest)
			longest = strlen(a->model.factories[i].name);
	layout_col fc[FC_N] = {
		[FC_NAME] = { longest + 1 < 22 ? (int)longest + 1 : 22, (int)longest + 1, 0, false }, [FC_DEV] = { 4, 4, 1, false },
		[FC_BAD] = { 3, 4, 2, false },                   [FC_MAX] = { 5, 5, 3, false },
		[FC_AVG] = { 5, 5, 5, false },                   [FC_DRIFT] = { 1, 1, 4, false },
		[FC_VER] = { 6, 40, 6, false },
	};
	int fw[FC_N];
	layout_columns(fc, FC_N, width, fw);
	int y = 1;
	int x = 0;
	static const char *const heads[FC_N] = { "FACTORY", "DEV", "BAD", "MAX", "AVG", "", "VERSIONS" };
	for (int c = 0; c < FC_N; c++) {
		if (!fw[c])
			continue;
		const char *hd = heads[c];
		if (c == FC_MAX || c == FC_AVG) {
			snprintf(buf, sizeof buf, "%s%s", heads[c], a->d.g->degree);
			hd = buf;
		}
		x += draw_text(&a->d, w, y, x, fw[c], TS_COLUMN, hd, true, c >= FC_DEV && c <= FC_AVG) + 1;
	}
	draw_fill(&a->d, w, y, x - 1, width - x + 1, TS_NORMAL);
	long n = (long)a->model.nfactories + 1;
	int rows = h - 2;
	a->fac_top = layout_scroll((int)a->fac_top, (int)a->fac_sel, rows, (int)n);
	for (int r = 0; r < rows; r++) {
		long i = a->fac_top + r;
		y = 2 + r;
		if (i >= n) {
			draw_fill(&a->d, w, y, 0, width, TS_NORMAL);
			continue;
		}
		bool sel = i == a->fac_sel;
		size_t dev, bad;
		const char *name, *ver;
		bool have_temp;
		double maxt = 0, avgt = 0;
		dev_state worst;
		int drift = DRIFT_NONE;
		if (i == 0) {
			const ui_totals *t = &a->model.totals;
			name = "(all)", dev = t->n, ver = t->versions;
			bad = t->n - t->count[DEV_HEALTHY] - t->count[DEV_PENDING];
			have_temp = t->hottest_host != NULL, maxt = t->hottest_temp, avgt = t->mean_temp;
			worst = DEV_PENDING;
			for (int s = 0; s < DEV_STATE_COUNT; s++)
				if (t->count[s] && dev_state_rank(s) > dev_state_rank(worst))
					worst = s;
		} else {
			const ui_factory *f = &a->model.factories[i - 1];
			name = f->name, dev = f->n, ver = f->versions;
			bad = f->n - f->count[DEV_HEALTHY] - f->count[DEV_PENDING];
			have_temp = f->have_temp, maxt = f->max_temp, avgt = f->mean_temp;
			worst = f->worst;
			drift = f->drift_sev;
		}
		theme_slot base = sel && a->focus == PANE_FACTORIES ? TS_SELECTED : TS_NORMAL;
		bool active = (i == 0 && !a->model.factory) || (i > 0 && a->model.factory &&
								 strcmp(a->model.factory, name) == 0);
		x = 0;
		theme_slot ns = base == TS_SELECTED ? base : state_slot[worst];
		char cell[FC_N][128];
		theme_slot cs[FC_N];
		snprintf(cell[FC_NAME], sizeof cell[0], "%s%s", active ? ">" : " ", name);
		cs[FC_NAME] = ns;
		snprintf(cell[FC_DEV], sizeof cell[0], "%zu", dev);
		cs[FC_DEV] = base;
		snprintf(cell[FC_BAD], sizeof cell[0], "%zu", bad);
		cs[FC_BAD] = base == TS_SELECTED ? base : bad ? state_slot[worst] : TS_DIM;
		theme_slot ts = TS_TEMP_OK;
		if (have_temp && a->o.rules)
			ts = maxt >= a->o.rules->temp_crit ? TS_TEMP_HOT : maxt >= a->o.rules->temp_warn ? TS_TEMP_WARM : TS_TEMP_OK;
		snprintf(cell[FC_MAX], sizeof cell[0], have_temp ? "%.1f" : "-", maxt);
		cs[FC_MAX] = base == TS_SELECTED ? base : ts;
		snprintf(cell[FC_AVG], sizeof cell[0], have_temp ? "%.1f" : "-", avgt);
		cs[FC_AVG] = base;
		snprintf(cell[FC_DRIFT], sizeof cell[0], "%s", drift != DRIFT_NONE ? "~" : " ");
		cs[FC_DRIFT] = base == TS_SELECTED ? base : drift_slot(drift);
		snprintf(cell[FC_VER], sizeof cell[0], "%s", ver ? ver : "-");
		cs[FC_VER] = base == TS_SELECTED ? base : TS_DIM;
		for (int c = 0; c < FC_N; c++) {
			if (!fw[c])
				continue;
			x += draw_text(&a->d, w, y, x, fw[c], cs[c], cell[c], true, c >= FC_DEV && c <= FC_AVG);
			x += draw_text(&a->d, w, y, x, 1, base, " ", true, false);
		}
		if (x > width)
			x = width;
		draw_fill(&a->d, w, y, x, width - x, base);
	}
	/* the separator between factories and devices */
	wattrset(w, a->d.attr[TS_BORDER]);
	for (int r = 0; r < h; r++)
		mvwaddstr(w, r, width, a->d.g->sep);
	wnoutrefresh(w);
}

/* ---- devices ---- */

static void draw_devices(struct app *a)
{
	WINDOW *w = a->w_dev;
	if (!w)
		return;
	ui_rect R = a->L.devices;
	int width = R.w;
	const ui_model *m = &a->model;
	char buf[512];
	char sortmark[64];
	snprintf(sortmark, sizeof sortmark, "%s%s", ui_col_heading(m->sort, a->d.g->utf8),
		 m->desc ? a->d.g->sort_desc : a->d.g->sort_asc);
	snprintf(buf, sizeof buf, " Devices (%zu of %zu)%s%s%s%s  sort %s ", m->nrows, m->snap ? m->snap->ndevs : 0,
		 m->factory ? "  factory " : "", m->factory ? m->factory : "", m->filter ? "  filter " : "",
		 m->filter ? m->filter : "", sortmark);
	draw_title(a, w, width, a->focus == PANE_DEVICES, buf);
	layout_col lc[UI_NCOLS];
	int cw[UI_NCOLS];
	for (int c = 0; c < UI_NCOLS; c++)
		lc[c] = (layout_col){ colspec[c].min, colspec[c].pref, colspec[c].prio, a->col_hidden[c] };
	layout_columns(lc, UI_NCOLS, width - 1, cw);
	int x = 1;
	draw_fill(&a->d, w, 1, 0, width, TS_NORMAL);
	for (int c = 0; c < UI_NCOLS; c++) {
		if (!cw[c])
			continue;
		const char *head = ui_col_heading(c, a->d.g->utf8);
		if (c == (int)m->sort) {
			snprintf(buf, sizeof buf, "%s%s", head, m->desc ? a->d.g->sort_desc : a->d.g->sort_asc);
			head = buf;
		}
		x += draw_text(&a->d, w, 1, x, cw[c], TS_COLUMN, head, true, colspec[c].right) + 1;
	}
	int rows = R.h - 2;
	a->dev_top = layout_scroll((int)a->dev_top, (int)a->dev_sel, rows, (int)m->nrows);
	int64_t now = app_wall_ms();
	for (int r = 0; r < rows; r++) {
		long i = a->dev_top + r;
		int y = 2 + r;
		if (i >= (long)m->nrows) {
			draw_fill(&a->d, w, y, 0, width, TS_NORMAL);
			continue;
		}
		size_t dev = m->rows[i];
		const fleet_dev *d = &m->snap->devs[dev];
		bool sel = i == a->dev_sel;
		theme_slot base = sel && a->focus == PANE_DEVICES ? TS_SELECTED : TS_NORMAL;
		x = 0;
		x += draw_text(&a->d, w, y, x, 1, m->alert_sev[dev] ? TS_ALERT : base,
			       m->alert_sev[dev] ? (m->alert_sev[dev] >= FLEET_CRITICAL ? "!" : "*") : " ", true, false);
		for (int c = 0; c < UI_NCOLS; c++) {
			if (!cw[c])
				continue;
			model_cell(m, dev, c, now, a->d.g->utf8, buf, sizeof buf);
			theme_slot s = base;
			if (base != TS_SELECTED) {
				if (c == COL_STATE)
					s = state_slot[d->state];
				else if (c == COL_TEMP)
					s = temp_slot(a, d);
				else if (c == COL_DRIFT && (d->st.have & DEV_HAVE_DRIFT))
					s = drift_slot(model_drift_severity(d, a->o.rules));
				else if (!strcmp(buf, "-"))
					s = TS_DIM;
			}
			x += draw_text(&a->d, w, y, x, cw[c], s, buf, true, colspec[c].right);
			x += draw_text(&a->d, w, y, x, 1, base, " ", true, false);
		}
		draw_fill(&a->d, w, y, x, width - x, base);
	}
	wnoutrefresh(w);
}

/* ---- events ---- */

static void draw_events(struct app *a)
{
	WINDOW *w = a->w_ev;
	if (!w)
		return;
	ui_rect R = a->L.events;
	monitor_event *ev = NULL;
	size_t n = monitor_events(a->mon, NULL, (size_t)(R.h - 1 + a->ev_top), &ev);
	char buf[512];
	snprintf(buf, sizeof buf, " Events (newest first)%s ", n ? "" : ": none yet");
	draw_title(a, w, R.w, a->focus == PANE_EVENTS, buf);
	if (a->ev_top > (long)n - 1)
		a->ev_top = n ? (long)n - 1 : 0;
	for (int r = 0; r < R.h - 1; r++) {
		size_t i = (size_t)(a->ev_top + r);
		if (i >= n) {
			draw_fill(&a->d, w, 1 + r, 0, R.w, TS_NORMAL);
			continue;
		}
		const monitor_event *e = &ev[i];
		char when[16] = "";
		time_t t = (time_t)(e->ts_ms / 1000);
		struct tm tm;
		if (localtime_r(&t, &tm))
			strftime(when, sizeof when, "%H:%M:%S", &tm);
		theme_slot s = e->kind == MON_EV_ALERT ? TS_ALERT : e->kind == MON_EV_STATE ? state_slot[e->to] : TS_DIM;
		int x = draw_text(&a->d, w, 1 + r, 0, 9, TS_DIM, when, true, false);
		x += draw_text(&a->d, w, 1 + r, x, 20, TS_NORMAL, e->host, true, false);
		x += draw_text(&a->d, w, 1 + r, x, 1, TS_NORMAL, " ", true, false);
		draw_text(&a->d, w, 1 + r, x, R.w - x, s, e->text, true, false);
	}
	monitor_events_free(ev, n);
	wnoutrefresh(w);
}

static void draw_fleet(struct app *a)
{
	draw_factories(a);
	draw_devices(a);
	draw_events(a);
}

static unsigned fleet_key(struct app *a, int ch, bool *handled)
{
	(void)a, (void)ch;
	*handled = false;
	return ACT_NONE;
}

const struct view_ops view_fleet = { .name = "fleet", .draw = draw_fleet, .key = fleet_key };
