/* test_driftwatch: live drift without a network: sorted-sample paths equal to the plain ones, pooling,
 * severities and per-feature thresholds, the watch's device and factory results in the fleet model
 * (alerts firing and resolving, failures forgetting), the registry index reader, the settings, and the
 * history's drift_samples table and its migration. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "drift/driftwatch.h"
#include "fleet/fleet.h"
#include "fleet/history.h"
#include "model.h"
#include "store/store.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 INT64_C(1700000000000)

static uint64_t rng = 0x9E3779B97F4A7C15u;
static double uniform01(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (double)((rng * 0x2545F4914F6CDD1Du) >> 11) * (1.0 / 9007199254740992.0);
}

/* A /drift document: features a and b, n samples each, uniform on [shift, shift + 1) (b rounded
 * to tenths, for ties). */
static char *doc(size_t n, double shift_a, double shift_b)
{
	size_t cap = 64 + n * 60, len = 0;
	char *s = xmalloc(cap);
	len += (size_t)snprintf(s + len, cap - len, "{\"window\": %zu, \"features\": {\"a\": [", n);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%.17g", i ? "," : "", shift_a + uniform01());
	len += (size_t)snprintf(s + len, cap - len, "], \"b\": [");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%.1f", i ? "," : "", shift_b + uniform01());
	snprintf(s + len, cap - len, "]}}");
	return s;
}

static drift_set *set_of(size_t n, double sa, double sb)
{
	char *d = doc(n, sa, sb), *err = NULL;
	drift_set *s = drift_parse(d, strlen(d), &err);
	assert_non_null(s);
	free(d);
	return s;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* ks_sort sorts as qsort; the sorted paths give the plain functions' figures to the bit. */
static void test_sorted_paths(void **state)
{
	(void)state;
	static const size_t sizes[] = { 0, 1, 2, 47, 48, 500, 1000, 4099 };
	for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
		size_t n = sizes[k];
		double *a = xmalloc((n + 1) * sizeof *a), *b = xmalloc((n + 1) * sizeof *b);
		for (size_t i = 0; i < n; i++)
			a[i] = b[i] = (uniform01() - 0.5) * (k % 2 ? 1e6 : 3.0) * (i % 7 == 0 ? -1 : 1);
		if (n > 3)
			a[1] = b[1] = 0.0, a[2] = b[2] = a[0]; /* a zero and a tie */
		ks_sort(a, n);
		qsort(b, n, sizeof *b, cmp_d);
		assert_memory_equal(a, b, n * sizeof *a);
		free(a);
		free(b);
	}
	drift_set *x = set_of(1000, 0, 0), *y = set_of(500, 0.05, 0.1);
	for (size_t f = 0; f < 2; f++) {
		const double *xv = drift_set_values(x, f), *yv = drift_set_values(y, f);
		double *xs = xmalloc(1000 * sizeof *xs), *ys = xmalloc(500 * sizeof *ys), *scratch = xmalloc(1500 * sizeof *scratch);
		memcpy(xs, xv, 1000 * sizeof *xs);
		memcpy(ys, yv, 500 * sizeof *ys);
		ks_sort(xs, 1000);
		ks_sort(ys, 500);
		ks_result plain, sorted;
		assert_int_equal(ks_2samp(xv, 1000, yv, 500, &plain), 0);
		assert_int_equal(ks_2samp_sorted(xs, 1000, ys, 500, KS_MODE_AUTO, &sorted), 0);
		assert_true(plain.statistic == sorted.statistic && plain.pvalue == sorted.pvalue);
		assert_int_equal(plain.method, sorted.method);
		assert_true(ks_wasserstein(xv, 1000, yv, 500) == ks_wasserstein_sorted(xs, 1000, ys, 500, scratch));
		assert_true(ks_wasserstein(xv, 1000, yv, 500) == ks_wasserstein_sorted(xs, 1000, ys, 500, NULL));
		/* one walk for both */
		ks_result both;
		double wboth = -1;
		assert_int_equal(ks_both_sorted(xs, 1000, ys, 500, KS_MODE_AUTO, scratch, &both, &wboth), 0);
		assert_true(both.statistic == plain.statistic && both.pvalue == plain.pvalue && both.method == plain.method);
		assert_true(wboth == ks_wasserstein(xv, 1000, yv, 500));
		/* asymptotic p-value, the same statistic */
		ks_result as;
		ks_2samp_sorted(xs, 1000, ys, 500, KS_MODE_ASYMP, &as);
		assert_int_equal(as.method, KS_METHOD_ASYMP);
		assert_true(as.statistic == plain.statistic);
		assert_true(as.pvalue >= 0 && as.pvalue <= 1 && fabs(as.pvalue - plain.pvalue) < 0.05);
		assert_int_equal(ks_2samp_sorted(xs, 0, ys, 500, KS_MODE_AUTO, &as), -1);
		free(xs);
		free(ys);
		free(scratch);
	}
	/* the one-walk version against the plain functions on small, tied, identical and disjoint samples */
	static const size_t pairs[][2] = { { 1, 1 }, { 1, 5 }, { 3, 7 }, { 10, 10 }, { 40, 17 }, { 200, 300 } };
	for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++)
		for (int shape = 0; shape < 4; shape++) {
			size_t na = pairs[k][0], nb = pairs[k][1];
			double *a = xmalloc(na * sizeof *a), *b = xmalloc(nb * sizeof *b), *sc = xmalloc((na + nb) * sizeof *sc);
			for (size_t i = 0; i < na; i++)
				a[i] = shape == 1 ? floor(uniform01() * 4) : uniform01();
			for (size_t i = 0; i < nb; i++)
				b[i] = shape == 1 ? floor(uniform01() * 4)
				       : shape == 2 ? a[i % na]
				       : shape == 3 ? 10 + uniform01()
						    : uniform01() + 0.2;
			ks_result p1, p2;
			ks_2samp(a, na, b, nb, &p1);
			double w1 = ks_wasserstein(a, na, b, nb), w2;
			ks_sort(a, na);
			ks_sort(b, nb);
			assert_int_equal(ks_both_sorted(a, na, b, nb, KS_MODE_AUTO, sc, &p2, &w2), 0);
			if (!(p1.statistic == p2.statistic && p1.pvalue == p2.pvalue && w1 == w2))
				fail_msg("%zu vs %zu shape %d: D %.17g %.17g p %.17g %.17g W %.17g %.17g", na, nb, shape,
					 p1.statistic, p2.statistic, p1.pvalue, p2.pvalue, w1, w2);
			free(a);
			free(b);
			free(sc);
		}
	/* a prepared baseline gives drift_compare's report */
	drift_baseline *pb = drift_baseline_new(x);
	assert_int_equal(drift_baseline_window(pb), 1000);
	assert_int_equal(drift_baseline_count(pb), 2);
	assert_string_equal(drift_baseline_name(pb, 1), "b");
	char *err = NULL;
	drift_report *r1 = drift_compare(x, y, NULL, &err), *r2 = drift_compare_baseline(pb, y, NULL, &err);
	assert_non_null(r1);
	assert_non_null(r2);
	for (size_t f = 0; f < 2; f++) {
		assert_true(r1->features[f].ks.statistic == r2->features[f].ks.statistic);
		assert_true(r1->features[f].ks.pvalue == r2->features[f].ks.pvalue);
		assert_true(r1->features[f].wasserstein == r2->features[f].wasserstein);
	}
	drift_report_free(r1);
	drift_report_free(r2);
	drift_baseline_free(pb);
	drift_set_free(x);
	drift_set_free(y);
}

static void test_pool(void **state)
{
	(void)state;
	const char *d1 = "{\"window\": 2, \"features\": {\"b\": [1, 2], \"a\": [3, 4]}}";
	const char *d2 = "{\"window\": 3, \"features\": {\"a\": [5, 6, 7], \"b\": [8, 9, 10]}}";
	const char *d3 = "{\"window\": 1, \"features\": {\"a\": [1], \"c\": [2]}}";
	char *err = NULL;
	drift_set *s1 = drift_parse(d1, strlen(d1), &err), *s2 = drift_parse(d2, strlen(d2), &err),
		  *s3 = drift_parse(d3, strlen(d3), &err);
	const drift_set *v[] = { s1, s2 };
	drift_set *p = drift_set_pool(v, 2, &err);
	assert_non_null(p);
	assert_int_equal(drift_set_window(p), 5);
	assert_int_equal(drift_set_count(p), 2);
	assert_string_equal(drift_set_name(p, 0), "a");
	const double wa[] = { 3, 4, 5, 6, 7 }, wb[] = { 1, 2, 8, 9, 10 };
	assert_memory_equal(drift_set_values(p, 0), wa, sizeof wa);
	assert_memory_equal(drift_set_values(p, 1), wb, sizeof wb);
	drift_set_free(p);
	const drift_set *bad[] = { s1, s3 };
	assert_null(drift_set_pool(bad, 2, &err));
	assert_non_null(strstr(err, "has feature \"c\" where the first has \"b\""));
	free(err);
	err = NULL;
	assert_null(drift_set_pool(v, 0, &err));
	free(err);
	drift_set_free(s1);
	drift_set_free(s2);
	drift_set_free(s3);
}

/* Severity: drifted only above the threshold, critical from 1.5 times it; per-feature thresholds. */
static void test_severity(void **state)
{
	(void)state;
	/* baseline 0..9; windows shifted by k tenths of the range: KS = k/10 exactly */
	char base[256], win[256];
	snprintf(base, sizeof base, "{\"window\": 10, \"features\": {\"x\": [0,1,2,3,4,5,6,7,8,9], \"y\": [0,1,2,3,4,5,6,7,8,9]}}");
	char *err = NULL;
	drift_set *b = drift_parse(base, strlen(base), &err);
	struct {
		int shift_x, shift_y;
		double thr, thr_y;
		enum drift_severity sev_x, sev_y, sev;
	} cases[] = {
		{ 1, 0, 0.1, 0, DRIFT_NONE, DRIFT_NONE, DRIFT_NONE },              /* KS 0.1 is not over 0.1 */
		{ 2, 0, 0.1, 0, DRIFT_CRITICAL, DRIFT_NONE, DRIFT_CRITICAL },      /* 0.2 >= 0.15 */
		{ 2, 0, 0.15, 0, DRIFT_WARNING, DRIFT_NONE, DRIFT_WARNING },       /* 0.15 < 0.2 < 0.225 */
		{ 3, 3, 0.19, 0.3, DRIFT_CRITICAL, DRIFT_NONE, DRIFT_CRITICAL },   /* y's own threshold */
		{ 1, 4, 0.2, 0.3, DRIFT_NONE, DRIFT_WARNING, DRIFT_WARNING },      /* 0.3 < 0.4 < 0.45 */
		{ 0, 5, 0.2, 0.3, DRIFT_NONE, DRIFT_CRITICAL, DRIFT_CRITICAL },    /* 0.5 >= 0.45 */
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		snprintf(win, sizeof win, "{\"window\": 10, \"features\": {\"x\": [");
		for (int i = 0; i < 10; i++)
			snprintf(win + strlen(win), sizeof win - strlen(win), "%s%d", i ? "," : "", i + cases[k].shift_x);
		snprintf(win + strlen(win), sizeof win - strlen(win), "], \"y\": [");
		for (int i = 0; i < 10; i++)
			snprintf(win + strlen(win), sizeof win - strlen(win), "%s%d", i ? "," : "", i + cases[k].shift_y);
		snprintf(win + strlen(win), sizeof win - strlen(win), "]}}");
		drift_set *w = drift_parse(win, strlen(win), &err);
		assert_non_null(w);
		fleet_rules r;
		fleet_rules_default(&r);
		r.drift_ks = cases[k].thr;
		if (cases[k].thr_y)
			fleet_rules_set_drift_feature(&r, "y", cases[k].thr_y);
		drift_opts o;
		fleet_rules_drift_opts(&r, &o);
		assert_int_equal(o.mode, KS_MODE_ASYMP);
		drift_baseline *pb = drift_baseline_new(b);
		drift_report *rep = drift_compare_baseline(pb, w, &o, &err);
		assert_non_null(rep);
		assert_int_equal(rep->features[0].severity, cases[k].sev_x);
		assert_int_equal(rep->features[1].severity, cases[k].sev_y);
		assert_int_equal(rep->severity, cases[k].sev);
		assert_true(rep->drifted == (cases[k].sev != DRIFT_NONE));
		drift_report_free(rep);
		drift_baseline_free(pb);
		free((void *)o.per_feature);
		fleet_rules_free(&r);
		drift_set_free(w);
	}
	drift_set_free(b);
}

static void mk_result(poll_result *r, size_t i, const char *version, bool drift_fetched, bool drift_ok)
{
	memset(r, 0, sizeof *r);
	r->index = i;
	r->polled = true;
	r->ts_ms = T0 + (int64_t)i;
	r->state = DEV_HEALTHY;
	r->fetch[POLL_EP_STATUS].attempted = r->fetch[POLL_EP_STATUS].ok = true;
	r->st.status = xstrdup("healthy");
	r->st.model_name = xstrdup("det");
	r->st.model_version = version ? xstrdup(version) : NULL;
	r->fetch[POLL_EP_DRIFT].attempted = drift_fetched;
	r->fetch[POLL_EP_DRIFT].ok = drift_fetched && drift_ok;
}

static void clear_result(poll_result *r)
{
	dev_status_clear(&r->st);
	for (int e = 0; e < POLL_EP_COUNT; e++)
		free(r->fetch[e].error);
}

static const fleet_alert *find_alert(const fleet_snapshot *s, const char *host, fleet_rule rule)
{
	for (size_t i = 0; i < s->nalerts; i++)
		if (!strcmp(s->alerts[i].host, host) && s->alerts[i].rule == rule)
			return &s->alerts[i];
	return NULL;
}

/* A cycle: windows (shift per device; < 0 none) through the hook, then the results. */
static void cycle(driftwatch *w, fleet *f, const double *shift, const char *const *version, size_t n)
{
	poll_result res[8];
	for (size_t i = 0; i < n; i++) {
		mk_result(&res[i], i, version[i], shift[i] >= 0 || shift[i] == -2, shift[i] != -2);
		if (shift[i] >= 0) {
			char *d = doc(400, shift[i], shift[i]);
			driftwatch_hook(w, i, POLL_EP_DRIFT, d, strlen(d), &res[i].fetch[POLL_EP_DRIFT]);
			assert_true(res[i].fetch[POLL_EP_DRIFT].ok);
			free(d);
		}
	}
	fleet_apply(f, res, n);
	driftwatch_cycle(w, res, n, T0 + 100, f);
	for (size_t i = 0; i < n; i++)
		clear_result(&res[i]);
}

/* Devices and factories through the watch into the fleet model. */
static void test_watch(void **state)
{
	(void)state;
	fleet *f = fleet_new(NULL);
	const char *fac[] = { "f1", "f1", "f1", "f2", "f2", NULL };
	const char *hosts[] = { "d0", "d1", "d2", "d3", "d4", "d5" };
	fleet_rules rules;
	fleet_rules_default(&rules);
	rules.drift_ks = 0.2; /* warning over 0.2, critical from 0.3 */
	driftwatch *w = driftwatch_new(&rules, NULL);
	fleet_rules_free(&rules);
	for (size_t i = 0; i < 6; i++) {
		fleet_add(f, hosts[i], fac[i], NULL);
		driftwatch_add(w, i, fac[i], NULL); /* no registry: only the preset baselines */
	}
	drift_set *base = set_of(1000, 0, 0);
	driftwatch_set_baseline(w, "det:1", base);
	driftwatch_set_baseline(w, "det:2", base);
	const char *ver[] = { "1", "1", "2", "1", "1", "9" };
	/* d0 far off, d1 a bit, d3 and d4 fine, d2 the other version, d5 a version without a baseline */
	double shift[] = { 0.6, 0.25, 0, 0, 0, 0 };
	cycle(w, f, shift, ver, 6);
	fleet_snapshot *s = fleet_snapshot_take(f, T0 + 200);
	assert_int_equal(s->devs[0].drift.severity, DRIFT_CRITICAL);
	assert_int_equal(s->devs[1].drift.severity, DRIFT_WARNING);
	assert_int_equal(s->devs[3].drift.severity, DRIFT_NONE);
	assert_string_equal(s->devs[2].drift.baseline, "det:2");
	assert_non_null(s->devs[5].drift.error);
	assert_non_null(strstr(s->devs[5].drift.error, "no model_registry"));
	assert_true(s->devs[0].st.have & DEV_HAVE_DRIFT);
	assert_true(s->devs[0].st.drift_ks == s->devs[0].drift.max_ks);
	assert_false(s->devs[5].st.have & DEV_HAVE_DRIFT);
	assert_int_equal(s->devs[0].drift.samples, 400);
	assert_int_equal(s->devs[0].drift.ts_ms, T0);
	assert_int_equal(find_alert(s, "d0", FLEET_RULE_DRIFT)->severity, FLEET_CRITICAL);
	assert_int_equal(find_alert(s, "d1", FLEET_RULE_DRIFT)->severity, FLEET_WARNING);
	assert_null(find_alert(s, "d3", FLEET_RULE_DRIFT));
	assert_null(find_alert(s, "d5", FLEET_RULE_DRIFT));
	assert_non_null(strstr(find_alert(s, "d0", FLEET_RULE_DRIFT)->message, "det:1"));
	/* factories: f1 has det:1 (d0, d1) and det:2 (d2); f2 det:1 (d3, d4); d5 has no baseline */
	assert_int_equal(s->nfactory_drift, 3);
	const fleet_factory_drift *g = s->factory_drift;
	assert_string_equal(g[0].factory, "f1");
	assert_string_equal(g[0].drift.baseline, "det:1");
	assert_int_equal(g[0].devices, 2);
	assert_int_equal(g[0].drift.samples, 800);
	assert_string_equal(g[1].drift.baseline, "det:2");
	assert_int_equal(g[1].devices, 1);
	assert_string_equal(g[2].factory, "f2");
	assert_int_equal(g[2].devices, 2);
	assert_int_equal(g[2].drift.severity, DRIFT_NONE);
	/* the pooled figures are drift_compare's on the two windows pooled */
	assert_true(g[0].drift.max_ks > s->devs[1].drift.max_ks);
	assert_true(g[0].drift.max_ks < s->devs[0].drift.max_ks);
	fleet_snapshot_free(s);

	/* d0 comes back, d1's /drift fails: d0's alert resolves, d1's drift is forgotten; d5 still none */
	double shift2[] = { 0, -2, -1, -1, -1, -1 };
	cycle(w, f, shift2, ver, 6);
	s = fleet_snapshot_take(f, T0 + 300);
	assert_int_equal(s->devs[0].drift.severity, DRIFT_NONE);
	assert_null(find_alert(s, "d0", FLEET_RULE_DRIFT));
	assert_int_equal(s->devs[1].drift.ts_ms, 0);
	assert_false(s->devs[1].st.have & DEV_HAVE_DRIFT);
	assert_null(find_alert(s, "d1", FLEET_RULE_DRIFT));
	/* windows kept from the first cycle still count (d2, d3, d4 had no new one) */
	assert_int_equal(s->devs[3].drift.samples, 400);
	assert_int_equal(s->nfactory_drift, 3);
	assert_int_equal(s->factory_drift[0].devices, 1); /* d0 only: d1 forgotten */
	fleet_snapshot_free(s);

	/* a device changing version is compared again without a new window */
	const char *ver3[] = { "2", "1", "2", "1", "1", "9" };
	double none[] = { -1, -1, -1, -1, -1, -1 };
	cycle(w, f, none, ver3, 6);
	s = fleet_snapshot_take(f, T0 + 400);
	assert_string_equal(s->devs[0].drift.baseline, "det:2");
	fleet_snapshot_free(s);

	/* a window that is not a drift document marks the fetch malformed */
	poll_fetch pf = { .attempted = true, .ok = true };
	driftwatch_hook(w, 0, POLL_EP_DRIFT, "{\"window\": 1}", 13, &pf);
	assert_false(pf.ok);
	assert_int_equal(pf.reason, DEV_REASON_MALFORMED);
	assert_non_null(strstr(pf.error, "/drift: "));
	free(pf.error);

	/* the console's model: each factory's drift mark is the worst of its devices and its pools */
	ui_model um;
	model_init(&um, NULL);
	model_set_snapshot(&um, fleet_snapshot_take(f, T0 + 500));
	assert_int_equal(um.nfactories, 3); /* f1, f2, (none) */
	assert_string_equal(um.factories[0].name, "(none)");
	assert_int_equal(um.factories[0].drift_sev, DRIFT_NONE);
	assert_int_equal(um.factories[1].drift_sev, DRIFT_NONE); /* f1: d0 came back, d1 forgotten */
	assert_int_equal(um.factories[2].drift_sev, DRIFT_NONE);
	assert_int_equal(model_drift_severity(&um.snap->devs[0], NULL), DRIFT_NONE);
	model_free(&um);
	double again[] = { 0.6, -1, -1, -1, -1, -1 };
	cycle(w, f, again, ver3, 6);
	model_init(&um, NULL);
	model_set_snapshot(&um, fleet_snapshot_take(f, T0 + 600));
	assert_int_equal(um.factories[1].drift_sev, DRIFT_CRITICAL);
	assert_int_equal(model_drift_severity(&um.snap->devs[0], NULL), DRIFT_CRITICAL);
	model_free(&um);

	driftwatch_stats st;
	driftwatch_get_stats(w, &st);
	assert_true(st.compares >= 6 && st.pools >= 3);
	assert_int_equal(st.index_fetches, 0);
	driftwatch_free(w);
	drift_set_free(base);
	fleet_free(f);
}

/* A registry that refuses connections (a closed port on loopback): each device's drift says
 * why; with one request a cycle, the second version waits for the next cycle. */
static void test_registry_down(void **state)
{
	(void)state;
	fleet *f = fleet_new(NULL);
	driftwatch_opts o;
	driftwatch_opts_default(&o);
	o.max_fetches = 1;
	o.connect_timeout_ms = 500;
	o.timeout_ms = 1000;
	driftwatch *w = driftwatch_new(NULL, &o);
	for (size_t i = 0; i < 2; i++) {
		fleet_add(f, i ? "d1" : "d0", "f", NULL);
		driftwatch_add(w, i, "f", "127.85.9.9:9/"); /* no scheme: http; the slash goes */
	}
	const char *ver[] = { "1", "2" };
	double shift[] = { 0, 0 };
	cycle(w, f, shift, ver, 2);
	fleet_snapshot *s = fleet_snapshot_take(f, T0 + 200);
	assert_non_null(s->devs[0].drift.error);
	assert_non_null(strstr(s->devs[0].drift.error, "registry index: http://127.85.9.9:9/models/index.json: "));
	assert_string_equal(s->devs[1].drift.error, "waiting for the registry");
	assert_int_equal(s->nfactory_drift, 0);
	assert_null(find_alert(s, "d0", FLEET_RULE_DRIFT));
	fleet_snapshot_free(s);
	double none[] = { -1, -1 };
	cycle(w, f, none, ver, 2); /* the index is not asked again before retry_ms */
	s = fleet_snapshot_take(f, T0 + 300);
	assert_non_null(strstr(s->devs[1].drift.error, "registry index: "));
	fleet_snapshot_free(s);
	driftwatch_stats st;
	driftwatch_get_stats(w, &st);
	assert_int_equal(st.index_fetches, 1);
	assert_int_equal(st.fetch_failures, 1);
	driftwatch_free(w);
	fleet_free(f);
}

static void test_attach(void **state)
{
	(void)state;
	poller_opts o;
	poller_opts_default(&o);
	o.skip[POLL_EP_DRIFT] = true;
	int metrics_ctx;
	o.parse_ctx = &metrics_ctx;
	driftwatch *w = driftwatch_new(NULL, NULL);
	driftwatch_attach(w, &o);
	assert_ptr_equal(o.parse[POLL_EP_DRIFT], driftwatch_hook);
	assert_ptr_equal(o.parse_ep_ctx[POLL_EP_DRIFT], w);
	assert_ptr_equal(o.parse_ctx, &metrics_ctx); /* the shared ctx stays the metrics hook's */
	assert_false(o.skip[POLL_EP_DRIFT]);
	driftwatch_free(w);
	driftwatch_free(NULL);
}

static void test_index(void **state)
{
	(void)state;
	const char *ix = "{\"m:1\": {\"baseline\": \"http://r:1/b.json\"}, \"m:2\": {\"baseline\": \"/x/b2.json\"},"
			 " \"m:3\": {\"baseline\": \"b3.json\"}, \"m:4\": {\"baseline\": \"file:///etc/passwd\"},"
			 " \"m:5\": {\"name\": \"m\"}, \"m:6\": {\"baseline\": 7}}";
	char *url = NULL, *err = NULL;
	const char *reg = "http://reg:5000";
	assert_int_equal(driftwatch_index_baseline(reg, ix, strlen(ix), "m:1", &url, &err), 0);
	assert_string_equal(url, "http://r:1/b.json");
	free(url);
	assert_int_equal(driftwatch_index_baseline(reg, ix, strlen(ix), "m:2", &url, &err), 0);
	assert_string_equal(url, "http://reg:5000/x/b2.json");
	free(url);
	assert_int_equal(driftwatch_index_baseline(reg, ix, strlen(ix), "m:3", &url, &err), 0);
	assert_string_equal(url, "http://reg:5000/models/b3.json");
	free(url);
	static const struct {
		const char *key, *msg;
	} bad[] = { { "m:4", "not an http(s) URL" }, { "m:5", "has no baseline" }, { "m:6", "has no baseline" },
		    { "m:7", "index has no m:7" } };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_int_equal(driftwatch_index_baseline(reg, ix, strlen(ix), bad[i].key, &url, &err), -1);
		assert_non_null(strstr(err, bad[i].msg));
		free(err);
		err = NULL;
	}
	assert_int_equal(driftwatch_index_baseline(reg, "[1]", 3, "m:1", &url, &err), -1);
	assert_non_null(strstr(err, "not an object"));
	free(err);
	err = NULL;
	assert_int_equal(driftwatch_index_baseline(reg, "{\"a\": 1, \"a\": 2}", 16, "a", &url, &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(driftwatch_index_baseline(reg, "{", 1, "a", &url, &err), -1);
	assert_non_null(strstr(err, "index.json: line 1"));
	free(err);
}

static void test_config(void **state)
{
	(void)state;
	const char *y = "alerts:\n  drift_ks: 0.2\n  drift_pvalues: exact\n  drift_features:\n    contrast: 0.3\n"
			"    brightness: 0.05\n    contrast: 0.25\n";
	fd_config cfg;
	char *err = NULL;
	assert_int_equal(config_parse("c.yaml", y, strlen(y), &cfg, &err), 0);
	assert_true(cfg.rules.drift_ks == 0.2 && cfg.rules.drift_exact);
	assert_int_equal(cfg.rules.ndrift_feature, 2);
	assert_string_equal(cfg.rules.drift_feature[0].feature, "contrast");
	assert_true(cfg.rules.drift_feature[0].ks == 0.25);
	fleet_rules copy = { 0 };
	fleet_rules_copy(&copy, &cfg.rules);
	drift_opts o;
	fleet_rules_drift_opts(&copy, &o);
	assert_int_equal(o.mode, KS_MODE_AUTO);
	assert_int_equal(o.nper_feature, 2);
	assert_true(o.threshold == 0.2 && o.per_feature[1].threshold == 0.05);
	free((void *)o.per_feature);
	fleet_rules_free(&copy);
	config_free(&cfg);
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "alerts:\n  drift_features: 0.1\n", ":2: alerts.drift_features: expected a mapping" },
		{ "alerts:\n  drift_features:\n    a: x\n", ":3: alerts.drift_features.a: expected a number" },
		{ "alerts:\n  drift_features:\n    a: 0\n", ":3: alerts.drift_features.a: expected a number from" },
		{ "alerts:\n  drift_pvalues: fast\n", ":2: alerts.drift_pvalues: expected exact or asymptotic" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		err = NULL;
		assert_int_equal(config_parse("c.yaml", bad[i].text, strlen(bad[i].text), &cfg, &err), -1);
		if (!strstr(err, bad[i].msg))
			fail_msg("%s: got %s", bad[i].msg, err);
		free(err);
		config_free(&cfg);
	}
}

/* drift_samples: written by the history for windows of the cycle, read back; an older file migrates. */
static void test_store(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_driftwatch.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = xasprintf("%s/h.db", dir);
	store_opts so;
	store_opts_default(&so);
	so.max_version = 3;
	char *err = NULL;
	store *st = store_open_opts(path, &so, &err);
	assert_non_null(st);
	assert_int_equal(store_schema_version(st), 3);
	store_close(st);
	st = store_open(path, &err);
	assert_non_null(st);
	assert_int_equal(store_schema_version(st), store_schema_latest());

	fleet *f = fleet_new(NULL);
	driftwatch *w = driftwatch_new(NULL, NULL);
	fleet_add(f, "d0", "f1", NULL);
	fleet_add(f, "d1", "f1", NULL);
	driftwatch_add(w, 0, "f1", NULL);
	driftwatch_add(w, 1, "f1", NULL);
	drift_set *base = set_of(1000, 0, 0);
	driftwatch_set_baseline(w, "det:1", base);
	const char *ver[] = { "1", "1" };
	double shift[] = { 0.5, 0 };
	cycle(w, f, shift, ver, 2);
	fleet_snapshot *s = fleet_snapshot_take(f, T0 + 200);
	assert_int_equal(fleet_history_record(st, s, T0 - 10, T0 + 200, "test", &err), 0);
	store_drift_row *rows = NULL;
	size_t n = 0;
	assert_int_equal(store_drift_rows(st, NULL, 0, INT64_MAX, &rows, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].host, "d0");
	assert_string_equal(rows[0].severity, "critical");
	assert_string_equal(rows[0].baseline, "det:1");
	assert_true(fabs(rows[0].max_ks - s->devs[0].drift.max_ks) <= 1e-6);
	assert_non_null(strstr(rows[0].features, "\"a\":"));
	assert_string_equal(rows[1].severity, "none");
	store_drift_rows_free(rows, n);
	/* a cycle without new windows writes none */
	assert_int_equal(fleet_history_record(st, s, T0 + 300, T0 + 400, "test", &err), 0);
	assert_int_equal(store_drift_rows(st, "d0", 0, INT64_MAX, &rows, &n, &err), 0);
	assert_int_equal(n, 1);
	store_drift_rows_free(rows, n);
	/* kept as long as minute rollups */
	store_drift row = { "d9", T0 - so.keep_minute_ms - 1, "det:1", 0.5, "critical", "{}" };
	assert_int_equal(store_drift_record(st, &row, 1, T0, &err), 0);
	assert_int_equal(store_drift_rows(st, "d9", 0, INT64_MAX, &rows, &n, &err), 0);
	assert_int_equal(n, 0);
	store_drift_rows_free(rows, n);
	row.host = "";
	assert_int_equal(store_drift_record(st, &row, 1, T0, &err), -1);
	free(err);
	fleet_snapshot_free(s);
	driftwatch_free(w);
	drift_set_free(base);
	fleet_free(f);
	store_close(st);
	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sorted_paths), cmocka_unit_test(test_pool),   cmocka_unit_test(test_severity),
		cmocka_unit_test(test_watch),        cmocka_unit_test(test_attach), cmocka_unit_test(test_index),
		cmocka_unit_test(test_config),       cmocka_unit_test(test_store),  cmocka_unit_test(test_registry_down),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
