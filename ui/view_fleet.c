/* view_fleet: the main screen: header, factories, devices table, events, status line and key bar. */
#include "app.h"
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

static theme_slot drift_slot(const struct app *a, double ks)
{
	double t = a->o.rules ? a->o.rules->drift_ks : 0.1;
	return ks >= 1.5 * t ? TS_DRIFT_CRIT : ks > t ? TS_DRIFT_WARN : TS_NORMAL;
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
		snprintf(small, sizeof small, " fleetdeck %zu dev: %zu ok %zu bad %zu unreach | small terminal: devices only",
			 t->n, t->count[DEV_HEALTHY], t->count[DEV_DEGRADED] + t->count[DEV_UNHEALTHY] + t->count[DEV_STALE],
			 t->count[DEV_UNREACHABLE]);
		draw_text(&a->d, w, 0, 0, cols, TS_HEADER, small, true, false);
		wnoutrefresh(w);
		return;
	}
	draw_text(&a->d, w, 0, 0, cols, TS_HEADER, buf, true, false);
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
	/* NAME DEV BAD MAX AVG VERSIONS */
	int name_w = width - (4 + 4 + 6 + 6 + 2) - 1;
	int ver_w = 0;
	if (name_w > 20) {
		ver_w = name_w - 20;
		name_w = 20;
	}
	int y = 1;
	int x = 0;
	x += draw_text(&a->d, w, y, x, name_w, TS_COLUMN, "FACTORY", true, false) + 1;
	x += draw_text(&a->d, w, y, x, 4, TS_COLUMN, "DEV", true, true) + 1;
	x += draw_text(&a->d, w, y, x, 4, TS_COLUMN, "BAD", true, true) + 1;
	snprintf(buf, sizeof buf, "MAX%s", a->d.g->degree);
	x += draw_text(&a->d, w, y, x, 5, TS_COLUMN, buf, true, true) + 1;
	snprintf(buf, sizeof buf, "AVG%s", a->d.g->degree);
	x += draw_text(&a->d, w, y, x, 5, TS_COLUMN, buf, true, true) + 1;
	if (ver_w > 0)
		draw_text(&a->d, w, y, x, ver_w, TS_COLUMN, "VERSIONS", true, false);
	draw_fill(&a->d, w, y, x + (ver_w > 0 ? ver_w : 0), width - x - (ver_w > 0 ? ver_w : 0), TS_NORMAL);
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
		double drift = -1;
		if (i == 0) {
			const ui_totals *t = &a->model.totals;
			name = "(all)", dev = t->n, ver = t->versions;
			bad = t->n - t->count[DEV_HEALTHY] - t->count[DEV_PENDING];
			have_temp = t->hottest_host != NULL, maxt = t->hottest_temp, avgt = -1;
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
			drift = f->drift_max;
		}
		theme_slot base = sel && a->focus == PANE_FACTORIES ? TS_SELECTED : TS_NORMAL;
		bool active = (i == 0 && !a->model.factory) || (i > 0 && a->model.factory &&
								 strcmp(a->model.factory, name) == 0);
		x = 0;
		theme_slot ns = base == TS_SELECTED ? base : state_slot[worst];
		snprintf(buf, sizeof buf, "%s%s", active ? ">" : " ", name);
		x += draw_text(&a->d, w, y, x, name_w, ns, buf, true, false);
		x += draw_text(&a->d, w, y, x, 1, base, " ", true, false);
		snprintf(buf, sizeof buf, "%zu", dev);
		x += draw_text(&a->d, w, y, x, 4, base, buf, true, true);
		x += draw_text(&a->d, w, y, x, 1, base, " ", true, false);
		snprintf(buf, sizeof buf, "%zu", bad);
		x += draw_text(&a->d, w, y, x, 4, base == TS_SELECTED ? base : bad ? state_slot[worst] : TS_DIM, buf, true, true);
		x += draw_text(&a->d, w, y, x, 1, base, " ", true, false);
		if (have_temp)
			snprintf(buf, sizeof buf, "%.1f", maxt);
		else
			snprintf(buf, sizeof buf, "-");
		theme_slot ts = TS_TEMP_OK;
		if (have_temp && a->o.rules)
			ts = maxt >= a->o.rules->temp_crit ? TS_TEMP_HOT : maxt >= a->o.rules->temp_warn ? TS_TEMP_WARM : TS_TEMP_OK;
		x += draw_text(&a->d, w, y, x, 5, base == TS_SELECTED ? base : ts, buf, true, true);
		x += draw_text(&a->d, w, y, x, 1, base, " ", true, false);
		if (have_temp && avgt >= 0)
			snprintf(buf, sizeof buf, "%.1f", avgt);
		else
			snprintf(buf, sizeof buf, "-");
		x += draw_text(&a->d, w, y, x, 5, base, buf, true, true);
		x += draw_text(&a->d, w, y, x, 1, base, drift >= 0 && drift > (a->o.rules ? a->o.rules->drift_ks : 0.1) ? "~" : " ",
			       true, false);
		if (ver_w > 0)
			x += draw_text(&a->d, w, y, x, ver_w, base == TS_SELECTED ? base : TS_DIM, ver, true, false);
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
					s = drift_slot(a, d->st.drift_ks);
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
