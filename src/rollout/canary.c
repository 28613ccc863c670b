/* canary: the batch gate's soak analysis: two scrapes of each group's exporters, the comparison, the record. */
#include "rollout/canary.h"
#include "metrics/devmetrics.h"
#include "rollout/rollhttp.h"
#include "rollout/rollstate.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BODY (8u << 20)  /* a device's exposition larger than this is not read */
#define SCRAPES_AT_ONCE 64

void canary_params_default(canary_params *p)
{
	*p = (canary_params){ .soak_ms = 0, .max_error_rate = 2, .max_p95_increase = 15, .min_samples = 100 };
}

static bool num_in(json_t *o, const char *key, double lo, double hi, double *out)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return true;
	if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi))
		return false;
	*out = json_number_value(v);
	return true;
}

int canary_params_from_json(const char *params, canary_params *p, char **err)
{
	canary_params_default(p);
	json_t *o = json_loads(params ? params : "{}", 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		*err = xstrdup("the rollout's parameters are not a JSON object");
		return -1;
	}
	double soak = 0, mins = (double)p->min_samples;
	bool ok = num_in(o, "soak_ms", 0, 86400000, &soak) && num_in(o, "max_error_rate", 0, 100, &p->max_error_rate) &&
		  num_in(o, "max_p95_increase", 0, 100000, &p->max_p95_increase) &&
		  num_in(o, "min_samples", 0, 1e12, &mins);
	json_decref(o);
	if (!ok) {
		*err = xstrdup("the rollout's canary parameters are out of range");
		return -1;
	}
	p->soak_ms = (long)soak;
	p->min_samples = (long)mins;
	return 0;
}

void canary_params_to_json(const canary_params *p, json_t *params)
{
	json_object_set_new(params, "soak_ms", json_integer(p->soak_ms));
	json_object_set_new(params, "max_error_rate", json_real(p->max_error_rate));
	json_object_set_new(params, "max_p95_increase", json_real(p->max_p95_increase));
	json_object_set_new(params, "min_samples", json_integer(p->min_samples));
}

void canary_window_clear(canary_window *w)
{
	if (!w)
		return;
	free(w->host);
	free(w->platform);
	free(w->error);
	free(w->b);
	memset(w, 0, sizeof *w);
}

void canary_verdict_clear(canary_verdict *v)
{
	if (!v)
		return;
	free(v->reason);
	memset(v, 0, sizeof *v);
}

/* ---- the judgement ---- */

/* A histogram summed over devices: cumulative counts by le. */
typedef struct hist {
	prom_bucket *b;
	size_t n, cap;
} hist;

static void hist_add(hist *h, const prom_bucket *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < h->n && h->b[k].le != b[i].le)
			k++;
		if (k == h->n) {
			h->b = xgrow(h->b, &h->cap, h->n + 1, sizeof *h->b);
			h->b[h->n++] = (prom_bucket){ b[i].le, 0 };
		}
		h->b[k].count += b[i].count;
	}
}

/* Observations (the +Inf bucket's count) and the p95 in ms (NaN if none). */
static double hist_p95(hist *h, double *obs)
{
	*obs = 0;
	for (size_t i = 0; i < h->n; i++)
		if (isinf(h->b[i].le) && h->b[i].le > 0)
			*obs = h->b[i].count;
	if (*obs <= 0)
		return NAN;
	double q = prom_histogram_quantile(0.95, h->b, h->n);
	return isfinite(q) ? q * 1000.0 : NAN;
}

/* Per platform: both sides' histograms. */
typedef struct plat {
	const char *name;
	hist can, base;
} plat;

static plat *plat_get(plat **ps, size_t *n, size_t *cap, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*ps)[i].name, name))
			return &(*ps)[i];
	*ps = xgrow(*ps, cap, *n + 1, sizeof **ps);
	plat *p = &(*ps)[(*n)++];
	memset(p, 0, sizeof *p);
	p->name = name;
	return p;
}

static void side_sum(const canary_window *w, size_t n, canary_side *s, hist *all, plat **ps, size_t *np,
		     size_t *pcap, bool canary)
{
	memset(s, 0, sizeof *s);
	s->devices = n;
	for (size_t i = 0; i < n; i++) {
		if (w[i].error)
			continue;
		s->measured++;
		s->requests += w[i].requests;
		s->errors += w[i].errors;
		hist_add(all, w[i].b, w[i].nb);
		plat *p = plat_get(ps, np, pcap, w[i].platform ? w[i].platform : "");
		hist_add(canary ? &p->can : &p->base, w[i].b, w[i].nb);
	}
	s->error_rate = s->requests > 0 ? 100.0 * s->errors / s->requests : NAN;
	double obs;
	s->p95_ms = hist_p95(all, &obs);
}

void canary_judge(const canary_window *can, size_t nc, const canary_window *base, size_t nb,
		  const canary_params *p, canary_verdict *out)
{
	memset(out, 0, sizeof *out);
	hist hc = { 0 }, hb = { 0 };
	plat *ps = NULL;
	size_t np = 0, pcap = 0;
	side_sum(can, nc, &out->canary, &hc, &ps, &np, &pcap, true);
	side_sum(base, nb, &out->base, &hb, &ps, &np, &pcap, false);
	/* the latency platform by platform: like against like */
	double wsum = 0, inc = 0, cobs_all = 0, bobs_all = 0;
	for (size_t i = 0; i < np; i++) {
		double co, bo;
		double pc = hist_p95(&ps[i].can, &co), pb = hist_p95(&ps[i].base, &bo);
		if (co > 0 && bo > 0 && isfinite(pc) && isfinite(pb) && pb > 0) {
			out->platforms++;
			wsum += co;
			inc += co * (pc / pb - 1.0);
			cobs_all += co;
			bobs_all += bo;
		}
	}
	out->p95_increase = wsum > 0 ? 100.0 * inc / wsum : NAN;
	double minn = (double)p->min_samples;
	const canary_side *c = &out->canary;
	if (c->requests < minn || c->requests <= 0) {
		out->outcome = GATE_INCONCLUSIVE;
		out->reason = xasprintf("too few requests on the batch's devices: %.0f in the soak (at least %ld wanted)",
					c->requests, p->min_samples);
	} else if (c->error_rate > p->max_error_rate) {
		out->outcome = GATE_FAIL;
		char bt[48] = "none measured";
		if (isfinite(out->base.error_rate))
			snprintf(bt, sizeof bt, "%.2f%%", out->base.error_rate);
		out->reason = xasprintf("error rate %.2f%% on the batch's devices is above %g%% (not-updated: %s)",
					c->error_rate, p->max_error_rate, bt);
	} else if (!nb || out->base.measured == 0) {
		out->outcome = GATE_INCONCLUSIVE;
		out->reason = xasprintf("no not-updated devices to compare the latency with (error rate %.2f%% is within "
					"%g%%)", c->error_rate, p->max_error_rate);
	} else if (out->platforms == 0 || cobs_all < minn || bobs_all < minn) {
		out->outcome = GATE_INCONCLUSIVE;
		out->reason = out->platforms == 0
				      ? xstrdup("no platform with latency on both the batch's and the not-updated devices")
				      : xasprintf("too few latency samples to compare: %.0f on the batch's devices, %.0f on "
						  "the not-updated ones of the same platforms (at least %ld each wanted)",
						  cobs_all, bobs_all, p->min_samples);
	} else if (out->p95_increase > p->max_p95_increase) {
		out->outcome = GATE_FAIL;
		out->reason = xasprintf("p95 latency %.1f%% above the not-updated devices' (limit %g%%): %.1f ms vs %.1f ms",
					out->p95_increase, p->max_p95_increase, c->p95_ms, out->base.p95_ms);
	} else {
		out->outcome = GATE_PASS;
		out->reason = xasprintf("error rate %.2f%% (limit %g%%), p95 %+.1f%% vs the not-updated devices (limit "
					"%g%%)", c->error_rate, p->max_error_rate, out->p95_increase, p->max_p95_increase);
	}
	for (size_t i = 0; i < np; i++) {
		free(ps[i].can.b);
		free(ps[i].base.b);
	}
	free(ps);
	free(hc.b);
	free(hb.b);
}

static json_t *num_or_null(double v)
{
	return isfinite(v) ? json_real(round(v * 1000.0) / 1000.0) : json_null();
}

static json_t *side_json(const canary_side *s)
{
	return json_pack("{s:I, s:I, s:f, s:f, s:o, s:o}", "devices", (json_int_t)s->devices, "measured",
			 (json_int_t)s->measured, "requests", s->requests, "errors", s->errors, "error_rate_pct",
			 num_or_null(s->error_rate), "p95_ms", num_or_null(s->p95_ms));
}

json_t *canary_verdict_json(const canary_verdict *v, const canary_params *p, long soak_ms)
{
	return json_pack("{s:s, s:s, s:I, s:o, s:o, s:o, s:I, s:{s:f, s:f, s:I}}", "outcome",
			 gate_result_name(v->outcome), "reason", v->reason ? v->reason : "", "soak_ms",
			 (json_int_t)soak_ms, "canary", side_json(&v->canary), "baseline", side_json(&v->base),
			 "p95_increase_pct", num_or_null(v->p95_increase), "platforms", (json_int_t)v->platforms,
			 "limits", "max_error_rate_pct", p->max_error_rate, "max_p95_increase_pct",
			 p->max_p95_increase, "min_samples", (json_int_t)p->min_samples);
}

/* ---- one device's window ---- */

static const char *platform_of(const prom_doc *d)
{
	for (size_t i = 0; i < d->nsamples; i++)
		if (!strcmp(d->samples[i].name, "edge_device_info")) {
			const char *p = prom_label_get(&d->samples[i], "platform");
			if (p)
				return p;
		}
	return "";
}

int canary_window_from(const char *host, const char *body0, size_t len0, const char *body1, size_t len1,
		       canary_window *w)
{
	memset(w, 0, sizeof *w);
	w->host = xstrdup(host);
	char *e = NULL;
	prom_doc *d0 = prom_parse(body0, len0, NULL, &e);
	prom_doc *d1 = d0 ? prom_parse(body1, len1, NULL, &e) : NULL;
	if (!d1) {
		w->error = xasprintf("/metrics: %s", e ? e : "does not parse");
		free(e);
		prom_doc_free(d0);
		return -1;
	}
	devmetrics_scrape *s0 = NULL, *s1 = NULL;
	devmetrics_values v0, v1;
	devmetrics_read(d0, NULL, &s0, &v0);
	devmetrics_read(d1, s0, &s1, &v1);
	/* the platform may carry any bytes: keep it short and printable */
	const char *pl = platform_of(d1);
	size_t n = strnlen(pl, 80);
	w->platform = xstrndup(pl, n);
	for (char *c = w->platform; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	w->requests = v1.requests;
	w->errors = (v1.have & DEVM_ERROR_RATE) ? v1.error_rate * v1.requests : 0;
	w->b = devmetrics_latency_delta(s0, s1, &w->nb);
	devmetrics_scrape_free(s0);
	devmetrics_scrape_free(s1);
	prom_doc_free(d0);
	prom_doc_free(d1);
	return 0;
}

/* ---- scraping many exporters at once ---- */

typedef struct fetch {
	char *url;
	char *body;
	size_t len, cap;
	bool too_big;
	char *error;  /* NULL: body is the answer */
	char errbuf[CURL_ERROR_SIZE];
	CURL *easy;
} fetch;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	fetch *f = arg;
	size_t k = size * n;
	if (f->len + k > MAX_BODY) {
		f->too_big = true;
		return 0;
	}
	if (f->len + k + 1 > f->cap) {
		size_t c = f->cap ? f->cap : 16384;
		while (c < f->len + k + 1)
			c *= 2;
		f->body = xrealloc(f->body, c);
		f->cap = c;
	}
	memcpy(f->body + f->len, p, k);
	f->len += k;
	f->body[f->len] = '\0';
	return k;
}

static void fetch_done(fetch *f, CURLcode rc)
{
	long code = 0;
	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
	if (f->too_big)
		f->error = xasprintf("%s: answer larger than %u bytes", f->url, MAX_BODY);
	else if (rc != CURLE_OK)
		f->error = xasprintf("%s: %s", f->url, f->errbuf[0] ? f->errbuf : curl_easy_strerror(rc));
	else if (code != 200)
		f->error = xasprintf("%s: HTTP %ld", f->url, code);
	curl_easy_cleanup(f->easy);
	f->easy = NULL;
}

/* GETs every f[i].url, at most SCRAPES_AT_ONCE at a time; each ends with a body
 * or an error. */
static void fetch_all(fetch *f, size_t n, long connect_ms, long timeout_ms)
{
	CURLM *m = curl_multi_init();
	size_t next = 0, running = 0;
	for (;;) {
		while (running < SCRAPES_AT_ONCE && next < n) {
			fetch *x = &f[next++];
			x->easy = curl_easy_init();
			if (!x->easy) {
				x->error = xstrdup("out of memory");
				continue;
			}
			curl_easy_setopt(x->easy, CURLOPT_URL, x->url);
			curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
			curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
			curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
			curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
			curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
			curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http");
			curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
			curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
			curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "fleetdeck-canary/" FLEETDECK_VERSION);
			curl_multi_add_handle(m, x->easy);
			running++;
		}
		if (!running)
			break;
		int still = 0;
		curl_multi_perform(m, &still);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			fetch *x = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			CURLcode rc = msg->data.result;
			curl_multi_remove_handle(m, msg->easy_handle);
			fetch_done(x, rc);
			running--;
		}
		if (running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	curl_multi_cleanup(m);
}

static void fetches_free(fetch *f, size_t n)
{
	for (size_t i = 0; f && i < n; i++) {
		free(f[i].url);
		free(f[i].body);
		free(f[i].error);
	}
	free(f);
}

/* ---- the gate ---- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Still worth soaking: the rollout is running and the runner holds its lease. */
static bool still_running(rolldb *db, int64_t id, canary_live_fn live, void *ctx)
{
	if (live && !live(ctx))
		return false;
	roll_row r;
	char *e = NULL;
	bool ok = rolldb_get(db, id, &r, &e) == 0 && !strcmp(r.state, RS_RUNNING);
	roll_row_clear(&r);
	free(e);
	return ok;
}

static fetch *urls_for(const roll_dev *const *d, size_t n)
{
	fetch *f = xcalloc(n ? n : 1, sizeof *f);
	for (size_t i = 0; i < n; i++)
		f[i].url = rollhttp_url(d[i]->address, d[i]->metrics_port > 0 ? d[i]->metrics_port : 8000, "/metrics");
	return f;
}

static canary_window *windows_of(const roll_dev *const *d, size_t n, fetch *f0, fetch *f1)
{
	canary_window *w = xcalloc(n ? n : 1, sizeof *w);
	for (size_t i = 0; i < n; i++) {
		if (f0[i].error || f1[i].error) {
			w[i].host = xstrdup(d[i]->host);
			w[i].error = xstrdup(f0[i].error ? f0[i].error : f1[i].error);
			continue;
		}
		canary_window_from(d[i]->host, f0[i].body ? f0[i].body : "", f0[i].len, f1[i].body ? f1[i].body : "",
				   f1[i].len, &w[i]);
	}
	return w;
}

int canary_gate_run(rolldb *db, int64_t id, const char *params, const roll_dev *devs, size_t nd, int batch,
		    long connect_ms, long timeout_ms, canary_live_fn live, void *ctx, gate_result *g, char **why,
		    char **err)
{
	canary_params p;
	if (canary_params_from_json(params, &p, err))
		return -1;
	if (p.soak_ms <= 0)
		return 0;
	/* both groups in one list: canaries first */
	const roll_dev **sel = xcalloc(nd ? nd : 1, sizeof *sel);
	size_t nc = 0, n = 0;
	for (size_t i = 0; i < nd; i++)
		if (devs[i].batch == batch && (!strcmp(devs[i].step, DS_UPDATED) || !strcmp(devs[i].step, DS_CURRENT)))
			sel[n++] = &devs[i];
	nc = n;
	for (size_t i = 0; i < nd; i++)
		if (devs[i].batch > batch && !strcmp(devs[i].step, DS_PENDING))
			sel[n++] = &devs[i];
	fetch *f0 = urls_for(sel, n), *f1 = urls_for(sel, n);
	int rc = 1;
	int64_t t0 = now_ms();
	fetch_all(f0, n, connect_ms, timeout_ms);
	int64_t started = now_ms(), until = started + p.soak_ms;
	char *begin = xasprintf("batch %d soak of %.1f s begins: %zu device%s of the batch, %zu not updated", batch + 1,
				p.soak_ms / 1000.0, nc, nc == 1 ? "" : "s", n - nc);
	rolldb_log(db, id, NULL, "soak", begin, started, NULL);
	free(begin);
	bool go = true;
	while (go && now_ms() < until) {
		int64_t left = until - now_ms();
		sleep_ms(left < 200 ? (long)left : 200);
		go = still_running(db, id, live, ctx);
	}
	if (go) {
		fetch_all(f1, n, connect_ms, timeout_ms);
		go = still_running(db, id, live, ctx);
	}
	if (go) {
		canary_window *w = windows_of(sel, n, f0, f1);
		canary_verdict v;
		canary_judge(w, nc, w + nc, n - nc, &p, &v);
		long soak = (long)(now_ms() - started);
		json_t *fj = canary_verdict_json(&v, &p, soak);
		json_object_set_new(fj, "scrape_ms", json_integer(started - t0));
		json_t *un = json_array();
		for (size_t i = 0; i < n; i++)
			if (w[i].error && json_array_size(un) < 20)
				json_array_append_new(un, json_pack("{s:s, s:s}", "host", w[i].host, "error", w[i].error));
		json_object_set_new(fj, "unmeasured", un);
		char *figs = json_dumps(fj, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(fj);
		char *line = xasprintf("batch %d soak %s after %.1f s: %s", batch + 1, gate_result_name(v.outcome),
				       soak / 1000.0, v.reason);
		roll_gate rg = { .batch = batch, .ts = now_ms(), .soak_ms = soak, .outcome = (char *)gate_result_name(v.outcome),
				 .figures = figs, .reason = line };
		if (rolldb_gate_add(db, id, &rg, err) == 0) {
			rc = 0;
			*g = v.outcome;
			free(*why);
			*why = line;
			line = NULL;
		} else {
			rc = -1;
		}
		free(line);
		free(figs);
		canary_verdict_clear(&v);
		for (size_t i = 0; i < n; i++)
			canary_window_clear(&w[i]);
		free(w);
	}
	fetches_free(f0, n);
	fetches_free(f1, n);
	free(sel);
	return rc;
}
