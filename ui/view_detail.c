/* view_detail: one device: every field, the last answers, its inventory variables, alerts and events. */
#include "app.h"
#include "spark.h"
#include "util/pyjson.h"
#include "util/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct lines {
	char **text;
	theme_slot *slot;
	long n, cap;
};

static void add(struct lines *L, theme_slot s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(struct lines *L, theme_slot s, const char *fmt, ...)
{
	if (L->n == L->cap) {
		L->cap = L->cap ? L->cap * 2 : 64;
		L->text = xrealloc(L->text, (size_t)L->cap * sizeof *L->text);
		L->slot = xrealloc(L->slot, (size_t)L->cap * sizeof *L->slot);
	}
	va_list ap;
	va_start(ap, fmt);
	L->text[L->n] = xvasprintf(fmt, ap);
	va_end(ap);
	L->slot[L->n++] = s;
}

static void clock_text(int64_t ms, char *buf, size_t sz)
{
	if (!ms) {
		snprintf(buf, sz, "never");
		return;
	}
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (localtime_r(&t, &tm))
		strftime(buf, sz, "%Y-%m-%d %H:%M:%S", &tm);
	else
		snprintf(buf, sz, "?");
}

#define NUMF(bit, label, fmt, val)                                                   \
	do {                                                                         \
		if (st->have & (bit))                                                \
			add(&L, TS_NORMAL, "  %-16s " fmt, label, val);              \
		else                                                                 \
			add(&L, TS_DIM, "  %-16s -", label);                          \
	} while (0)

static void draw_detail(struct app *a)
{
	struct lines L = { 0 };
	long dev = a->detail_host ? model_find(&a->model, a->detail_host) : -1;
	if (dev < 0) {
		add(&L, TS_ERROR, "%s is no longer in the fleet", a->detail_host ? a->detail_host : "?");
	} else {
		const fleet_dev *d = &a->model.snap->devs[dev];
		const dev_status *st = &d->st;
		char t1[64], t2[64], age[32];
		int64_t now = app_wall_ms();
		/* sparklines from the history, read on the monitor's worker */
		monitor_history h;
		bool have_h = monitor_history_get(a->mon, d->host, &h);
		int64_t mono = app_mono_ms();
		if ((!have_h || now - h.asked_ms > 10000) && mono - a->hist_req_ms > 2000) {
			monitor_history_request(a->mon, d->host, now);
			a->hist_req_ms = mono;
		}
		add(&L, TS_TITLE, "History (last hour | last day)");
		if (!have_h) {
			add(&L, TS_DIM, "  reading ...");
		} else if (h.error && !h.samples[0][1] && !h.samples[1][1]) {
			add(&L, TS_DIM, "  %s", h.error);
		} else {
			/* each range gets what the width allows, buckets merged to fit */
			int width = a->w_full ? getmaxx(a->w_full) : 80;
			int cells = (width - 2 - 17 - 3 - 40) / 2;
			if (cells > MONITOR_SPARK_POINTS)
				cells = MONITOR_SPARK_POINTS;
			if (cells < 8)
				cells = 8;
			for (int sr = 0; sr < MON_SERIES_COUNT; sr++) {
				char sp[2][MONITOR_SPARK_POINTS * 4 + 1];
				for (int r = 0; r < MON_RANGE_COUNT; r++) {
					double v[MONITOR_SPARK_POINTS];
					bool hv[MONITOR_SPARK_POINTS];
					for (int c = 0; c < cells; c++) {
						int b0 = c * MONITOR_SPARK_POINTS / cells, b1 = (c + 1) * MONITOR_SPARK_POINTS / cells;
						double sum = 0;
						int k = 0;
						for (int b = b0; b < b1; b++)
							if (h.have[sr][r][b])
								sum += h.v[sr][r][b], k++;
						hv[c] = k > 0;
						v[c] = k ? sum / k : 0;
					}
					spark_render(a->d.g, v, hv, (size_t)cells, 0, 0, sp[r], sizeof sp[r]);
				}
				if (!h.samples[sr][MON_RANGE_DAY])
					add(&L, TS_DIM, "  %-16s no samples", monitor_series_label(sr));
				else
					add(&L, TS_SPARK, "  %-16s %s | %s  %.4g..%.4g, %zu in the hour", monitor_series_label(sr),
					    sp[0], sp[1], h.min[sr][MON_RANGE_DAY], h.max[sr][MON_RANGE_DAY],
					    h.samples[sr][MON_RANGE_HOUR]);
			}
		}
		monitor_history_clear(&h);
		add(&L, TS_NORMAL, "%s", "");
		add(&L, TS_TITLE, "State");
		add(&L, TS_NORMAL, "  %-16s %s%s%s", "state", dev_state_name(d->state),
		    d->reason ? " (" : "", d->reason ? dev_reason_text(d->reason) : "");
		if (d->reason)
			L.text[L.n - 1] = (free(L.text[L.n - 1]), xasprintf("  %-16s %s (%s)", "state",
									   dev_state_name(d->state), dev_reason_text(d->reason)));
		if (d->detail)
			add(&L, TS_NORMAL, "  %-16s %s", "detail", d->detail);
		add(&L, TS_NORMAL, "  %-16s %s", "factory", d->factory ? d->factory : "-");
		clock_text(d->ts_ms, t1, sizeof t1);
		clock_text(d->last_seen_ms, t2, sizeof t2);
		model_age(now - d->last_seen_ms, age, sizeof age);
		add(&L, TS_NORMAL, "  %-16s %s", "polled", t1);
		add(&L, TS_NORMAL, "  %-16s %s%s%s%s", "last seen", t2, d->last_seen_ms ? " (" : "", d->last_seen_ms ? age : "",
		    d->last_seen_ms ? " ago)" : "");
		if (d->rtt_ms >= 0)
			add(&L, TS_NORMAL, "  %-16s %.1f ms", "answer time", d->rtt_ms);
		if (d->failures)
			add(&L, TS_STATE_UNREACHABLE, "  %-16s %d in a row", "failed cycles", d->failures);
		if (d->next_poll_ms) {
			clock_text(d->next_poll_ms, t1, sizeof t1);
			add(&L, TS_DIM, "  %-16s %s (backing off)", "next poll", t1);
		}
		add(&L, TS_NORMAL, "%s", "");
		add(&L, TS_TITLE, "Reported%s", d->st_ms && d->st_ms != d->ts_ms ? " (by an earlier poll)" : "");
		add(&L, st->status ? TS_NORMAL : TS_DIM, "  %-16s %s", "status", st->status ? st->status : "-");
		add(&L, st->model_name ? TS_NORMAL : TS_DIM, "  %-16s %s", "model", st->model_name ? st->model_name : "-");
		add(&L, st->model_version ? TS_NORMAL : TS_DIM, "  %-16s %s", "version",
		    st->model_version ? st->model_version : "-");
		add(&L, d->gpu_type ? TS_NORMAL : TS_DIM, "  %-16s %s", "gpu type", d->gpu_type ? d->gpu_type : "-");
		NUMF(DEV_HAVE_GPU_TEMP, "gpu temperature", "%.1f C", st->gpu_temp);
		NUMF(DEV_HAVE_GPU_UTIL, "gpu utilisation", "%.0f %%", st->gpu_util);
		NUMF(DEV_HAVE_GPU_MEM_USED, "gpu memory used", "%.0f MiB", st->gpu_mem_used / 1048576.0);
		NUMF(DEV_HAVE_GPU_MEM_TOTAL, "gpu memory", "%.0f MiB", st->gpu_mem_total / 1048576.0);
		NUMF(DEV_HAVE_POWER, "power", "%.1f W", st->power_w);
		NUMF(DEV_HAVE_LATENCY_P95, "latency p95", "%.1f ms", st->latency_p95_ms);
		NUMF(DEV_HAVE_ERROR_RATE, "error rate", "%.2f %%", st->error_rate * 100);
		NUMF(DEV_HAVE_UPTIME, "uptime", "%.1f h", st->uptime_hours);
		NUMF(DEV_HAVE_DRIFT, "drift (KS)", "%.3f", st->drift_ks);
		if (st->have & DEV_HAVE_MODEL_LOADED)
			add(&L, TS_NORMAL, "  %-16s %s", "model loaded", st->model_loaded ? "yes" : "no");
		const fleet_drift *dr = &d->drift;
		if (dr->ts_ms) {
			add(&L, TS_NORMAL, "%s", "");
			clock_text(dr->ts_ms, t1, sizeof t1);
			add(&L, TS_TITLE, "Drift against %s's baseline (%zu samples, %s)", dr->baseline ? dr->baseline : "?",
			    dr->samples, t1);
			if (dr->error)
				add(&L, TS_DIM, "  %s", dr->error);
			else
				add(&L, TS_DIM, "  %-16s %8s %11s %12s %9s", "feature", "KS", "p-value", "Wasserstein", "threshold");
			for (size_t k = 0; k < dr->nfeatures; k++) {
				const drift_feature *df = &dr->features[k];
				add(&L, df->severity == DRIFT_CRITICAL ? TS_DRIFT_CRIT : df->severity == DRIFT_WARNING ? TS_DRIFT_WARN
														: TS_NORMAL,
				    "  %-16s %8.3f %11.3g %12.4g %9.3f  %s", df->name, df->ks.statistic, df->ks.pvalue,
				    df->wasserstein, df->threshold, df->drifted ? drift_severity_name(df->severity) : "");
			}
		}
		add(&L, TS_NORMAL, "%s", "");
		add(&L, TS_TITLE, "Last answers");
		for (int ep = 0; ep < POLL_EP_COUNT; ep++) {
			const poll_fetch *f = &d->fetch[ep];
			if (!d->fetch_ms[ep]) {
				add(&L, TS_DIM, "  %-8s not fetched yet", poll_ep_path(ep));
				continue;
			}
			clock_text(d->fetch_ms[ep], t1, sizeof t1);
			if (f->ok)
				add(&L, TS_NORMAL, "  %-8s %ld, %zu bytes, %.1f ms, %s", poll_ep_path(ep), f->http_status, f->body_len,
				    f->rtt_ms, t1);
			else
				add(&L, TS_STATE_UNHEALTHY, "  %-8s %s%s%s, %s", poll_ep_path(ep), dev_reason_text(f->reason),
				    f->error ? ": " : "", f->error ? f->error : "", t1);
		}
		size_t nal = 0;
		for (size_t i = 0; i < a->model.snap->nalerts; i++)
			if (a->model.snap->alerts[i].dev == (size_t)dev)
				nal++;
		add(&L, TS_NORMAL, "%s", "");
		add(&L, TS_TITLE, "Alerts (%zu)", nal);
		for (size_t i = 0; i < a->model.snap->nalerts; i++) {
			const fleet_alert *al = &a->model.snap->alerts[i];
			if (al->dev == (size_t)dev)
				add(&L, TS_ALERT, "  %s %s: %s", fleet_severity_name(al->severity), fleet_rule_name(al->rule),
				    al->message ? al->message : "");
		}
		monitor_event *ev = NULL;
		size_t nev = monitor_events(a->mon, d->host, 50, &ev);
		add(&L, TS_NORMAL, "%s", "");
		add(&L, TS_TITLE, "Recent events (%zu)", nev);
		for (size_t i = 0; i < nev; i++) {
			clock_text(ev[i].ts_ms, t1, sizeof t1);
			add(&L, ev[i].kind == MON_EV_ALERT ? TS_ALERT : TS_NORMAL, "  %s  %s", t1, ev[i].text ? ev[i].text : "");
		}
		monitor_events_free(ev, nev);
		char **cl = NULL;
		size_t ncl = monitor_cmdlog(a->mon, d->host, 8, &cl);
		add(&L, TS_NORMAL, "%s", "");
		add(&L, TS_TITLE, "Commands sent (newest first)");
		for (size_t i = 0; i < ncl; i++) {
			add(&L, TS_DIM, "  %s", cl[i]);
			free(cl[i]);
		}
		free(cl);
		json_t *vars = monitor_host_vars(a->mon, d->host);
		add(&L, TS_NORMAL, "%s", "");
		add(&L, TS_TITLE, "Inventory variables");
		if (vars) {
			const char *k;
			json_t *v;
			json_object_foreach(vars, k, v)
			{
				char *s = json_is_string(v) ? xstrdup(json_string_value(v)) : pyjson_dumps(v, -1);
				add(&L, TS_NORMAL, "  %-28s %s", k, s);
				free(s);
			}
			json_decref(vars);
		}
	}
	char title[300];
	snprintf(title, sizeof title, " Device %s  (Esc back, @ command log) ", a->detail_host ? a->detail_host : "?");
	app_draw_lines(a, title, L.text, L.slot, L.n);
	for (long i = 0; i < L.n; i++)
		free(L.text[i]);
	free(L.text);
	free(L.slot);
}

const struct view_ops view_detail = { .name = "device", .draw = draw_detail, .key = app_scroll_key };
