/* view_drift: the drift view (`d`, `:drift`): factories x features, each cell the KS statistic of the
 * factory's pooled windows against its model version's baseline, coloured by severity; then the drifting devices, worst first. */
#include "app.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static theme_slot sev_slot(enum drift_severity s)
{
	return s == DRIFT_CRITICAL ? TS_DRIFT_CRIT : s == DRIFT_WARNING ? TS_DRIFT_WARN : TS_NORMAL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The feature names of every factory's comparison, sorted, without repeats (borrowed). */
static const char **feature_names(const fleet_snapshot *s, size_t *n)
{
	size_t cap = 0, k = 0;
	const char **v = NULL;
	for (size_t i = 0; i < s->nfactory_drift; i++)
		for (size_t f = 0; f < s->factory_drift[i].drift.nfeatures; f++) {
			const char *name = s->factory_drift[i].drift.features[f].name;
			bool seen = false;
			for (size_t j = 0; j < k && !seen; j++)
				seen = strcmp(v[j], name) == 0;
			if (!seen) {
				v = xgrow(v, &cap, k + 1, sizeof *v);
				v[k++] = name;
			}
		}
	if (k > 1)
		qsort(v, k, sizeof *v, cmp_str);
	*n = k;
	return v;
}

static const drift_feature *find_feature(const fleet_drift *d, const char *name)
{
	for (size_t i = 0; i < d->nfeatures; i++)
		if (strcmp(d->features[i].name, name) == 0)
			return &d->features[i];
	return NULL;
}

/* One row of cells at y: text and slot per column of width w[c]. */
static void draw_row(struct app *a, WINDOW *w, int y, int width, const int *cw, char (*cell)[64],
		     const theme_slot *slot, int ncols, bool right_from1)
{
	int x = 1;
	draw_fill(&a->d, w, y, 0, width, TS_NORMAL);
	for (int c = 0; c < ncols && x < width; c++) {
		int cells = cw[c] < width - x ? cw[c] : width - x;
		x += draw_text(&a->d, w, y, x, cells, slot[c], cell[c], true, right_from1 && c >= 2);
		if (x < width)
			x += draw_text(&a->d, w, y, x, 1, TS_NORMAL, " ", true, false);
	}
}

enum { MAXCOLS = 3 + 16 + 1 };

/* Drifting devices worst first: critical before warning, then by KS. */
struct ranked {
	size_t dev;
	int sev;
	double ks;
};

static int cmp_ranked(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->sev != y->sev)
		return y->sev - x->sev;
	if (x->ks != y->ks)
		return x->ks < y->ks ? 1 : -1;
	return (x->dev > y->dev) - (x->dev < y->dev);
}

static void draw_drift(struct app *a)
{
	WINDOW *w = a->w_full;
	if (!w)
		return;
	int h, width;
	getmaxyx(w, h, width);
	const fleet_snapshot *s = a->model.snap;
	draw_fill(&a->d, w, 0, 0, width, TS_BORDER);
	char title[160];
	snprintf(title, sizeof title, " Drift: KS of each factory's pooled windows against its model's baseline  (Esc back) ");
	draw_text(&a->d, w, 0, 0, width, TS_TITLE_FOCUS, title, false, false);
	size_t nf = 0;
	const char **names = s ? feature_names(s, &nf) : NULL;
	if (nf > MAXCOLS - 4)
		nf = MAXCOLS - 4;
	/* FACTORY MODEL DEV feature... MAX */
	int ncols = 3 + (int)nf + 1;
	int cw[MAXCOLS];
	size_t longest = 7, lmodel = 5;
	for (size_t i = 0; s && i < s->nfactory_drift; i++) {
		const fleet_factory_drift *g = &s->factory_drift[i];
		size_t l = strlen(g->factory ? g->factory : "(none)");
		longest = l > longest ? l : longest;
		l = g->drift.baseline ? strlen(g->drift.baseline) : 1;
		lmodel = l > lmodel ? l : lmodel;
	}
	cw[0] = longest < 24 ? (int)longest : 24;
	cw[1] = lmodel < 26 ? (int)lmodel : 26;
	cw[2] = 4;
	for (size_t f = 0; f < nf; f++) {
		size_t l = strlen(names[f]);
		cw[3 + f] = l < 6 ? 6 : l > 15 ? 15 : (int)l;
	}
	cw[3 + nf] = 6;
	/* lines: header, factories, blank, devices title, device lines */
	long total = 1 + (long)(s ? s->nfactory_drift : 0);
	size_t ndrifting = 0;
	struct ranked *drifting = xcalloc(s ? s->ndevs + 1 : 1, sizeof *drifting);
	for (size_t i = 0; s && i < s->ndevs; i++) {
		int sev = model_drift_severity(&s->devs[i], a->o.rules);
		if (sev != DRIFT_NONE)
			drifting[ndrifting++] = (struct ranked){ i, sev, s->devs[i].st.drift_ks };
	}
	qsort(drifting, ndrifting, sizeof *drifting, cmp_ranked);
	total += 2 + (long)ndrifting;
	a->full_lines = total;
	if (a->full_top > total - (h - 1))
		a->full_top = total - (h - 1);
	if (a->full_top < 0)
		a->full_top = 0;
	char cell[MAXCOLS][64];
	theme_slot slot[MAXCOLS];
	long line = a->full_top;
	for (int y = 1; y < h; line++) {
		if (line >= total) {
			draw_fill(&a->d, w, y++, 0, width, TS_NORMAL);
			continue;
		}
		if (line == 0) {
			snprintf(cell[0], 64, "FACTORY");
			snprintf(cell[1], 64, "MODEL");
			snprintf(cell[2], 64, "DEV");
			for (size_t f = 0; f < nf; f++)
				snprintf(cell[3 + f], 64, "%s", names[f]);
			snprintf(cell[3 + nf], 64, "MAX");
			for (int c = 0; c < ncols; c++)
				slot[c] = TS_COLUMN;
			draw_row(a, w, y++, width, cw, cell, slot, ncols, true);
			continue;
		}
		long gi = line - 1;
		if (s && gi < (long)s->nfactory_drift) {
			const fleet_factory_drift *g = &s->factory_drift[gi];
			snprintf(cell[0], 64, "%s", g->factory ? g->factory : "(none)");
			snprintf(cell[1], 64, "%s", g->drift.baseline ? g->drift.baseline : "-");
			snprintf(cell[2], 64, "%zu", g->devices);
			slot[0] = sev_slot(g->drift.error ? DRIFT_NONE : g->drift.severity);
			slot[1] = slot[2] = TS_NORMAL;
			for (size_t f = 0; f < nf; f++) {
				const drift_feature *df = find_feature(&g->drift, names[f]);
				if (df)
					snprintf(cell[3 + f], 64, "%.3f", df->ks.statistic);
				else
					snprintf(cell[3 + f], 64, "-");
				slot[3 + f] = df ? sev_slot(df->severity) : TS_DIM;
			}
			if (g->drift.error) {
				snprintf(cell[3 + nf], 64, "-");
				slot[3 + nf] = TS_DIM;
			} else {
				snprintf(cell[3 + nf], 64, "%.3f", g->drift.max_ks);
				slot[3 + nf] = sev_slot(g->drift.severity);
			}
			draw_row(a, w, y++, width, cw, cell, slot, ncols, true);
			continue;
		}
		long rest = gi - (long)(s ? s->nfactory_drift : 0);
		if (rest == 0) {
			draw_fill(&a->d, w, y++, 0, width, TS_NORMAL);
			continue;
		}
		if (rest == 1) {
			char t[96];
			snprintf(t, sizeof t, " Drifting devices (%zu)%s", ndrifting,
				 s && s->nfactory_drift ? "" : "  (no factory has a drift comparison yet)");
			draw_text(&a->d, w, y++, 0, width, TS_TITLE, t, true, false);
			continue;
		}
		const fleet_dev *d = &s->devs[drifting[rest - 2].dev];
		int sev = model_drift_severity(d, a->o.rules);
		char buf[512];
		size_t len = (size_t)snprintf(buf, sizeof buf, " %-20s %-9s KS %.3f", d->host, drift_severity_name(sev),
					      (d->st.have & DEV_HAVE_DRIFT) ? d->st.drift_ks : 0.0);
		if (d->drift.baseline && len < sizeof buf)
			len += (size_t)snprintf(buf + len, sizeof buf - len, "  vs %s", d->drift.baseline);
		for (size_t f = 0; f < d->drift.nfeatures && len < sizeof buf; f++)
			if (d->drift.features[f].drifted)
				len += (size_t)snprintf(buf + len, sizeof buf - len, "  %s %.3f", d->drift.features[f].name,
							d->drift.features[f].ks.statistic);
		draw_text(&a->d, w, y++, 0, width, sev_slot(sev), buf, true, false);
	}
	free(names);
	free(drifting);
	wnoutrefresh(w);
}

const struct view_ops view_drift = { .name = "drift", .draw = draw_drift, .key = app_scroll_key };
