/* model: rows, factories and totals of the console, from a fleet snapshot. */
#define _GNU_SOURCE /* qsort_r */
#include "model.h"
#include "inventory/pattern.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *id, *head;
} cols[] = {
#define X(id, head, min, pref, prio, right) { #id, head },
	UI_COL_LIST(X)
#undef X
};

const char *ui_col_heading(ui_col c, bool utf8)
{
	if ((unsigned)c >= UI_NCOLS)
		return "?";
	if (c == COL_TEMP && !utf8)
		return "GPU_C";
	return cols[c].head;
}

int ui_col_parse(const char *name)
{
	for (int i = 0; i < UI_NCOLS; i++) {
		if (strcasecmp(name, cols[i].id + 4) == 0 || strcasecmp(name, cols[i].head) == 0)
			return i;
	}
	if (strcasecmp(name, "temp") == 0 || strcasecmp(name, "gpu_temp") == 0)
		return COL_TEMP;
	if (strcasecmp(name, "util") == 0 || strcasecmp(name, "gpu") == 0)
		return COL_UTIL;
	if (strcasecmp(name, "latency") == 0 || strcasecmp(name, "p95") == 0)
		return COL_LATENCY;
	if (strcasecmp(name, "last_seen") == 0)
		return COL_SEEN;
	return -1;
}

void model_init(ui_model *m, inventory *inv)
{
	memset(m, 0, sizeof *m);
	m->inv = inv;
	m->sort = COL_HOST;
}

static void free_derived(ui_model *m)
{
	free(m->rows);
	m->rows = NULL;
	m->nrows = 0;
	for (size_t i = 0; i < m->nfactories; i++) {
		free(m->factories[i].name);
		free(m->factories[i].versions);
	}
	free(m->factories);
	m->factories = NULL;
	m->nfactories = 0;
	free(m->totals.versions);
	memset(&m->totals, 0, sizeof m->totals);
	free(m->alerts_of);
	free(m->alert_sev);
	m->alerts_of = NULL;
	m->alert_sev = NULL;
}

void model_free(ui_model *m)
{
	free_derived(m);
	fleet_snapshot_free(m->snap);
	free(m->filter);
	free(m->factory);
	free(m->filter_error);
	memset(m, 0, sizeof *m);
}

/* ---- versions: "3.2:40 3.1:2" ---- */

struct vcount {
	const char *v;
	size_t n;
};

static int vcount_cmp(const void *a, const void *b)
{
	const struct vcount *x = a, *y = b;
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return fleet_version_cmp(y->v, x->v); /* newer first among equals */
}

static char *version_mix(const fleet_snapshot *s, const size_t *idx, size_t n)
{
	strmap *map = strmap_new();
	struct vcount *vc = NULL;
	size_t nv = 0, cap = 0;
	for (size_t i = 0; i < n; i++) {
		const fleet_dev *d = &s->devs[idx ? idx[i] : i];
		const char *v = d->st.model_version;
		if (!v)
			continue;
		struct vcount *slot = strmap_get(map, v);
		if (slot) {
			slot->n++;
			continue;
		}
		vc = xgrow(vc, &cap, nv + 1, sizeof *vc);
		vc[nv] = (struct vcount){ v, 1 };
		nv++;
		/* pointers into vc move on growth: rebuild the map */
		strmap_free(map);
		map = strmap_new();
		for (size_t k = 0; k < nv; k++)
			strmap_put(map, vc[k].v, &vc[k]);
	}
	if (nv)
		qsort(vc, nv, sizeof *vc, vcount_cmp);
	size_t len = 1;
	for (size_t i = 0; i < nv; i++)
		len += strlen(vc[i].v) + 24;
	char *out = xmalloc(len);
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < nv; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s:%zu", i ? " " : "", vc[i].v, vc[i].n);
	free(vc);
	strmap_free(map);
	return out;
}

/* ---- factories ---- */

static int factory_cmp(const void *a, const void *b)
{
	const ui_factory *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static void build_factories(ui_model *m)
{
	const fleet_snapshot *s = m->snap;
	strmap *map = strmap_new();
	size_t *fac_of = xcalloc(s->ndevs + 1, sizeof *fac_of);
	char **names = NULL;
	size_t nf = 0, cap = 0;
	for (size_t i = 0; i < s->ndevs; i++) {
		const char *f = s->devs[i].factory ? s->devs[i].factory : "(none)";
		void *v = strmap_get(map, f);
		if (!v) {
			names = xgrow(names, &cap, nf + 1, sizeof *names);
			names[nf] = xstrdup(f);
			strmap_put(map, names[nf], (void *)(uintptr_t)(nf + 1));
			v = (void *)(uintptr_t)(nf + 1);
			nf++;
		}
		fac_of[i] = (size_t)(uintptr_t)v - 1;
	}
	ui_factory *fs = xcalloc(nf + 1, sizeof *fs);
	size_t **members = xcalloc(nf + 1, sizeof *members);
	size_t *nmem = xcalloc(nf + 1, sizeof *nmem);
	for (size_t i = 0; i < s->ndevs; i++)
		nmem[fac_of[i]]++;
	for (size_t f = 0; f < nf; f++) {
		members[f] = xmalloc((nmem[f] + 1) * sizeof **members);
		fs[f].name = names[f];
		fs[f].worst = DEV_PENDING;
		fs[f].drift_max = -1;
		nmem[f] = 0;
	}
	for (size_t i = 0; i < s->ndevs; i++) {
		size_t f = fac_of[i];
		ui_factory *F = &fs[f];
		const fleet_dev *d = &s->devs[i];
		members[f][nmem[f]++] = i;
		F->n++;
		F->count[d->state]++;
		if (dev_state_rank(d->state) > dev_state_rank(F->worst))
			F->worst = d->state;
		if (d->st.have & DEV_HAVE_GPU_TEMP) {
			if (!F->have_temp || d->st.gpu_temp > F->max_temp)
				F->max_temp = d->st.gpu_temp;
			F->mean_temp += d->st.gpu_temp;
			F->have_temp = true;
		}
		if ((d->st.have & DEV_HAVE_DRIFT) && d->st.drift_ks > F->drift_max)
			F->drift_max = d->st.drift_ks;
		int ds = model_drift_severity(d, NULL);
		if (ds > F->drift_sev)
			F->drift_sev = ds;
		F->alerts += m->alerts_of[i];
	}
	for (size_t g = 0; g < s->nfactory_drift; g++) {
		const fleet_factory_drift *fd = &s->factory_drift[g];
		void *v = strmap_get(map, fd->factory ? fd->factory : "(none)");
		if (!v || fd->drift.error)
			continue;
		ui_factory *F = &fs[(size_t)(uintptr_t)v - 1];
		if ((int)fd->drift.severity > F->drift_sev)
			F->drift_sev = (int)fd->drift.severity;
	}
	for (size_t f = 0; f < nf; f++) {
		size_t with_temp = 0;
		for (size_t k = 0; k < nmem[f]; k++)
			if (s->devs[members[f][k]].st.have & DEV_HAVE_GPU_TEMP)
				with_temp++;
		if (with_temp)
			fs[f].mean_temp /= (double)with_temp;
		fs[f].versions = version_mix(s, members[f], nmem[f]);
		free(members[f]);
	}
	free(members);
	free(nmem);
	free(names);
	free(fac_of);
	strmap_free(map);
	qsort(fs, nf, sizeof *fs, factory_cmp);
	m->factories = fs;
	m->nfactories = nf;
}

int model_drift_severity(const fleet_dev *d, const fleet_rules *r)
{
	const fleet_drift *dr = &d->drift;
	if (dr->ts_ms && !dr->error && dr->nfeatures)
		return (int)dr->severity;
	if (!(d->st.have & DEV_HAVE_DRIFT))
		return DRIFT_NONE;
	double t = r && r->drift_ks > 0 ? r->drift_ks : DRIFT_DEFAULT_THRESHOLD;
	return d->st.drift_ks >= 1.5 * t ? DRIFT_CRITICAL : d->st.drift_ks > t ? DRIFT_WARNING : DRIFT_NONE;
}

static void build_totals(ui_model *m)
{
	const fleet_snapshot *s = m->snap;
	ui_totals *t = &m->totals;
	t->n = s->ndevs;
	size_t with_temp = 0;
	for (size_t i = 0; i < s->ndevs; i++) {
		const fleet_dev *d = &s->devs[i];
		t->count[d->state]++;
		if (d->st.have & DEV_HAVE_GPU_TEMP)
			t->mean_temp += d->st.gpu_temp, with_temp++;
		if ((d->st.have & DEV_HAVE_GPU_TEMP) && (!t->hottest_host || d->st.gpu_temp > t->hottest_temp)) {
			t->hottest_host = d->host;
			t->hottest_temp = d->st.gpu_temp;
		}
	}
	if (with_temp)
		t->mean_temp /= (double)with_temp;
	t->versions = version_mix(s, NULL, s->ndevs);
	t->alerts_warning = s->nwarning;
	t->alerts_critical = s->ncritical;
}

/* ---- filtering and sorting ---- */

static bool looks_like_pattern(const ui_model *m, const char *f)
{
	if (strpbrk(f, ":,&!*?[~"))
		return true;
	return m->inv && inv_group_get(m->inv, f) != NULL;
}

static bool contains_ci(const char *hay, const char *needle)
{
	if (!hay)
		return false;
	size_t n = strlen(needle);
	for (const char *p = hay; *p; p++)
		if (strncasecmp(p, needle, n) == 0)
			return true;
	return false;
}

static bool text_match(const fleet_dev *d, const char *f)
{
	return contains_ci(d->host, f) || contains_ci(d->factory, f) || contains_ci(dev_state_name(d->state), f) ||
	       contains_ci(d->st.model_version, f) || contains_ci(d->gpu_type, f) || contains_ci(d->detail, f);
}

static int cmp_num(bool ha, double a, bool hb, double b)
{
	if (ha != hb)
		return ha ? -1 : 1; /* values before N/A, whatever the direction */
	if (!ha || a == b)
		return 0;
	return a < b ? -1 : 1;
}

static int cmp_str(const char *a, const char *b)
{
	if (!a || !b)
		return a ? -1 : b ? 1 : 0;
	return strcmp(a, b);
}

static int row_cmp(const void *pa, const void *pb, void *ctx)
{
	const ui_model *m = ctx;
	size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
	const fleet_dev *a = &m->snap->devs[ia], *b = &m->snap->devs[ib];
	int r = 0;
	bool na = false; /* r compares N/A placement: not flipped by desc */
	switch (m->sort) {
	case COL_HOST: r = 0; break;
	case COL_FACTORY: r = cmp_str(a->factory, b->factory); na = !a->factory || !b->factory; break;
	case COL_STATE: r = dev_state_rank(a->state) - dev_state_rank(b->state); break;
	case COL_VERSION:
		na = !a->st.model_version || !b->st.model_version;
		r = na ? cmp_str(a->st.model_version, b->st.model_version)
		       : fleet_version_cmp(a->st.model_version, b->st.model_version);
		break;
#define NUM(bit, field)                                                                                  \
	na = !(a->st.have & bit) || !(b->st.have & bit);                                                   \
	r = cmp_num(a->st.have & bit, a->st.field, b->st.have & bit, b->st.field);                         \
	break;
	case COL_TEMP: NUM(DEV_HAVE_GPU_TEMP, gpu_temp)
	case COL_UTIL: NUM(DEV_HAVE_GPU_UTIL, gpu_util)
	case COL_UPTIME: NUM(DEV_HAVE_UPTIME, uptime_hours)
	case COL_LATENCY: NUM(DEV_HAVE_LATENCY_P95, latency_p95_ms)
	case COL_DRIFT: NUM(DEV_HAVE_DRIFT, drift_ks)
#undef NUM
	case COL_SEEN:
		na = !a->last_seen_ms || !b->last_seen_ms;
		r = cmp_num(a->last_seen_ms != 0, (double)-a->last_seen_ms, b->last_seen_ms != 0, (double)-b->last_seen_ms);
		break;
	case UI_NCOLS: break;
	}
	if (r && m->desc && !na)
		r = -r;
	if (r)
		return r;
	r = strcmp(a->host, b->host);
	if (m->sort == COL_HOST && m->desc)
		r = -r;
	return r ? r : (ia < ib ? -1 : ia > ib);
}

static void build_rows(ui_model *m)
{
	free(m->rows);
	m->rows = NULL;
	m->nrows = 0;
	if (!m->snap)
		return;
	const fleet_snapshot *s = m->snap;
	m->rows = xmalloc((s->ndevs + 1) * sizeof *m->rows);
	unsigned char *keep = NULL;
	if (m->filter && looks_like_pattern(m, m->filter) && m->inv) {
		inv_host **hosts = NULL;
		size_t n = 0;
		char *err = NULL;
		keep = xcalloc(s->ndevs + 1, 1);
		if (inv_pattern_hosts(m->inv, m->filter, &hosts, &n, &err) == 0) {
			strmap *sel = strmap_new();
			for (size_t i = 0; i < n; i++)
				strmap_put(sel, hosts[i]->name, hosts[i]);
			for (size_t i = 0; i < s->ndevs; i++)
				keep[i] = strmap_get(sel, s->devs[i].host) != NULL;
			strmap_free(sel);
			free(m->filter_error);
			m->filter_error = NULL;
		} else {
			free(m->filter_error);
			m->filter_error = err;
			err = NULL;
			memset(keep, 0, s->ndevs + 1);
		}
		free(hosts);
		free(err);
	}
	for (size_t i = 0; i < s->ndevs; i++) {
		const fleet_dev *d = &s->devs[i];
		if (m->factory && strcmp(d->factory ? d->factory : "(none)", m->factory) != 0)
			continue;
		if (keep ? !keep[i] : (m->filter && !text_match(d, m->filter)))
			continue;
		m->rows[m->nrows++] = i;
	}
	free(keep);
	qsort_r(m->rows, m->nrows, sizeof *m->rows, row_cmp, m);
}

void model_set_snapshot(ui_model *m, fleet_snapshot *snap)
{
	free_derived(m);
	fleet_snapshot_free(m->snap);
	m->snap = snap;
	if (!snap)
		return;
	m->alerts_of = xcalloc(snap->ndevs + 1, sizeof *m->alerts_of);
	m->alert_sev = xcalloc(snap->ndevs + 1, sizeof *m->alert_sev);
	for (size_t i = 0; i < snap->nalerts; i++) {
		size_t d = snap->alerts[i].dev;
		if (d < snap->ndevs) {
			m->alerts_of[d]++;
			if ((int)snap->alerts[i].severity > m->alert_sev[d])
				m->alert_sev[d] = (int)snap->alerts[i].severity;
		}
	}
	build_totals(m);
	build_factories(m);
	build_rows(m);
}

void model_set_sort(ui_model *m, ui_col col, bool desc)
{
	m->sort = col;
	m->desc = desc;
	build_rows(m);
}

int model_set_filter(ui_model *m, const char *filter)
{
	char *old = m->filter;
	m->filter = filter && *filter ? xstrdup(filter) : NULL;
	free(m->filter_error);
	m->filter_error = NULL;
	build_rows(m);
	if (m->filter_error) {
		free(m->filter);
		m->filter = old;
		char *e = m->filter_error;
		m->filter_error = NULL;
		build_rows(m);
		m->filter_error = e;
		return -1;
	}
	free(old);
	return 0;
}

void model_set_factory(ui_model *m, const char *factory)
{
	free(m->factory);
	m->factory = factory ? xstrdup(factory) : NULL;
	build_rows(m);
}

long model_find(const ui_model *m, const char *host)
{
	if (!m->snap)
		return -1;
	for (size_t i = 0; i < m->snap->ndevs; i++)
		if (strcmp(m->snap->devs[i].host, host) == 0)
			return (long)i;
	return -1;
}

long model_row_of(const ui_model *m, size_t dev)
{
	for (size_t i = 0; i < m->nrows; i++)
		if (m->rows[i] == dev)
			return (long)i;
	return -1;
}

void model_age(int64_t ms, char *buf, size_t sz)
{
	if (ms < 0)
		ms = 0;
	int64_t s = ms / 1000;
	if (s < 60)
		snprintf(buf, sz, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, sz, "%lldm", (long long)(s / 60));
	else if (s < 86400 * 2)
		snprintf(buf, sz, "%lldh", (long long)(s / 3600));
	else
		snprintf(buf, sz, "%lldd", (long long)(s / 86400));
}

void model_cell(const ui_model *m, size_t dev, ui_col c, int64_t now_ms, bool utf8, char *buf, size_t sz)
{
	(void)utf8;
	const fleet_dev *d = &m->snap->devs[dev];
	const dev_status *st = &d->st;
	snprintf(buf, sz, "-");
	switch (c) {
	case COL_HOST: snprintf(buf, sz, "%s", d->host); break;
	case COL_FACTORY: if (d->factory) snprintf(buf, sz, "%s", d->factory); break;
	case COL_STATE:
		if (d->reason != DEV_REASON_NONE && (d->state == DEV_UNREACHABLE || d->state == DEV_UNHEALTHY))
			snprintf(buf, sz, "%s:%s", d->state == DEV_UNREACHABLE ? "unreach" : "unhealthy",
				 dev_reason_name(d->reason));
		else
			snprintf(buf, sz, "%s", dev_state_name(d->state));
		break;
	case COL_VERSION: if (st->model_version) snprintf(buf, sz, "%s", st->model_version); break;
	case COL_TEMP: if (st->have & DEV_HAVE_GPU_TEMP) snprintf(buf, sz, "%.1f", st->gpu_temp); break;
	case COL_UTIL: if (st->have & DEV_HAVE_GPU_UTIL) snprintf(buf, sz, "%.0f", st->gpu_util); break;
	case COL_UPTIME:
		if (st->have & DEV_HAVE_UPTIME)
			model_age((int64_t)(st->uptime_hours * 3600e3), buf, sz);
		break;
	case COL_LATENCY: if (st->have & DEV_HAVE_LATENCY_P95) snprintf(buf, sz, "%.1f", st->latency_p95_ms); break;
	case COL_DRIFT: if (st->have & DEV_HAVE_DRIFT) snprintf(buf, sz, "%.3f", st->drift_ks); break;
	case COL_SEEN:
		if (d->last_seen_ms)
			model_age(now_ms - d->last_seen_ms, buf, sz);
		else if (d->ts_ms)
			snprintf(buf, sz, "never");
		break;
	case UI_NCOLS: break;
	}
}
