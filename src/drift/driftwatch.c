/* driftwatch: devices' /drift windows against their model version's registry baseline, and factories pooled. */
#include "drift/driftwatch.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void driftwatch_opts_default(driftwatch_opts *o)
{
	memset(o, 0, sizeof *o);
	o->connect_timeout_ms = 2000;
	o->timeout_ms = 5000;
	o->max_index = (size_t)8 << 20;
	o->max_baseline = (size_t)32 << 20;
	o->retry_ms = 60000;
	o->index_ttl_ms = 600000;
	o->max_fetches = 4;
}

/* A registry's index.json as last read. */
struct index_ent {
	char *key;             /* the registry: the map's key */
	char *text;            /* NULL: not read (error says why) */
	size_t len;
	char *error;
	int64_t fetched_ms, retry_at;
};

/* A baseline by registry and key. */
struct base_ent {
	char *key;             /* the map's key */
	drift_baseline *b;     /* NULL: none (error says why) */
	char *error;
	int64_t retry_at;
	uint64_t gen;          /* changes whenever b or error does */
};

struct wdev {
	bool known;            /* driftwatch_add was called */
	char *factory, *registry;
	char *key;             /* "name:version" from the last /status */
	drift_set *win;        /* the latest window; NULL: none */
	int64_t win_ms;
	bool win_new;          /* came since the last comparison */
	char *cmp_key;         /* what the last comparison was made for */
	uint64_t cmp_gen;      /* ... and that baseline entry's generation */
	bool have;             /* result set in the fleet */
	bool ok;               /* the result is a comparison (not an error) */
};

struct driftwatch {
	driftwatch_opts o;
	drift_opts dopts;      /* per_feature owned (names point into rules) */
	fleet_rules rules;
	struct wdev *devs;
	size_t ndevs;
	strmap *index;         /* registry -> struct index_ent */
	strmap *base;          /* registry "\n" key -> struct base_ent; "\n" key for preset ones */
	CURL *curl;            /* kept between fetches: the registry's connection stays open */
	int fetches;           /* registry requests in this cycle so far */
	uint64_t gen;
	driftwatch_stats stats;
};

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

driftwatch *driftwatch_new(const fleet_rules *rules, const driftwatch_opts *o)
{
	driftwatch *w = xcalloc(1, sizeof *w);
	if (o)
		w->o = *o;
	else
		driftwatch_opts_default(&w->o);
	if (rules)
		fleet_rules_copy(&w->rules, rules);
	else
		fleet_rules_default(&w->rules);
	fleet_rules_drift_opts(&w->rules, &w->dopts);
	w->index = strmap_new();
	w->base = strmap_new();
	return w;
}

static void wdev_clear(struct wdev *d)
{
	free(d->factory);
	free(d->registry);
	free(d->key);
	free(d->cmp_key);
	drift_set_free(d->win);
	memset(d, 0, sizeof *d);
}

void driftwatch_free(driftwatch *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->ndevs; i++)
		wdev_clear(&w->devs[i]);
	free(w->devs);
	size_t it = 0;
	const char *k;
	void *v;
	while (strmap_next(w->index, &it, &k, &v)) {
		struct index_ent *e = v;
		free(e->key);
		free(e->text);
		free(e->error);
		free(e);
	}
	strmap_free(w->index);
	it = 0;
	while (strmap_next(w->base, &it, &k, &v)) {
		struct base_ent *e = v;
		free(e->key);
		drift_baseline_free(e->b);
		free(e->error);
		free(e);
	}
	strmap_free(w->base);
	if (w->curl)
		curl_easy_cleanup(w->curl);
	free((void *)w->dopts.per_feature);
	fleet_rules_free(&w->rules);
	free(w);
}

static struct wdev *dev_at(driftwatch *w, size_t i)
{
	if (i >= w->ndevs) {
		w->devs = xrealloc(w->devs, (i + 1) * sizeof *w->devs);
		memset(w->devs + w->ndevs, 0, (i + 1 - w->ndevs) * sizeof *w->devs);
		w->ndevs = i + 1;
	}
	return &w->devs[i];
}

/* "host:port" becomes "http://host:port"; trailing slashes go. */
static char *normal_registry(const char *r)
{
	if (!r || !*r)
		return NULL;
	char *u = strstr(r, "://") ? xstrdup(r) : xasprintf("http://%s", r);
	size_t n = strlen(u);
	while (n > 0 && u[n - 1] == '/')
		u[--n] = '\0';
	return u;
}

void driftwatch_add(driftwatch *w, size_t device, const char *factory, const char *registry)
{
	struct wdev *d = dev_at(w, device);
	wdev_clear(d);
	d->known = true;
	d->factory = factory ? xstrdup(factory) : NULL;
	d->registry = normal_registry(registry);
}

void driftwatch_set_baseline(driftwatch *w, const char *key, const drift_set *baseline)
{
	char *k = xasprintf("\n%s", key);
	struct base_ent *e = strmap_get(w->base, k);
	if (!e) {
		e = xcalloc(1, sizeof *e);
		e->key = k;
		strmap_put(w->base, e->key, e);
	} else {
		free(k);
	}
	drift_baseline_free(e->b);
	free(e->error);
	e->error = NULL;
	e->b = drift_baseline_new(baseline);
	e->gen = ++w->gen;
}

void driftwatch_hook(void *ctx, size_t device, poll_ep ep, const char *body, size_t len, poll_fetch *f)
{
	driftwatch *w = ctx;
	if (ep != POLL_EP_DRIFT)
		return;
	struct wdev *d = dev_at(w, device);
	char *err = NULL;
	drift_set *s = drift_parse(body, len, &err);
	if (!s) {
		f->ok = false;
		f->reason = DEV_REASON_MALFORMED;
		f->error = xasprintf("/drift: %s", err);
		free(err);
		return;
	}
	drift_set_free(d->win);
	d->win = s;
	d->win_new = true;
}

void driftwatch_attach(driftwatch *w, poller_opts *o)
{
	o->parse[POLL_EP_DRIFT] = driftwatch_hook;
	o->parse_ep_ctx[POLL_EP_DRIFT] = w;
	o->skip[POLL_EP_DRIFT] = false;
}

/* ---- The registry ---- */

struct buf {
	char *p;
	size_t n, cap, max;
	bool over;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct buf *b = ctx;
	size_t len = size * nmemb;
	if (b->n + len > b->max) {
		b->over = true;
		return 0;
	}
	b->p = xgrow(b->p, &b->cap, b->n + len + 1, 1);
	memcpy(b->p + b->n, data, len);
	b->n += len;
	b->p[b->n] = '\0';
	return len;
}

/* GET url: the body (NUL-terminated), or NULL with *err. */
static char *fetch(driftwatch *w, const char *url, size_t max, size_t *len, char **err)
{
	if (!w->curl)
		w->curl = curl_easy_init();
	CURL *c = w->curl;
	if (!c) {
		*err = xstrdup("libcurl could not be set up");
		return NULL;
	}
	curl_easy_reset(c);
	struct buf b = { .max = max };
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)w->o.connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)w->o.timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	CURLcode rc = curl_easy_perform(c);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK || code < 200 || code > 299) {
		if (b.over)
			*err = xasprintf("%s: larger than %zu bytes", url, max);
		else if (rc != CURLE_OK)
			*err = xasprintf("%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		else
			*err = xasprintf("%s: HTTP %ld", url, code);
		free(b.p);
		w->stats.fetch_failures++;
		return NULL;
	}
	*len = b.n;
	return b.p ? b.p : xstrdup("");
}

int driftwatch_index_baseline(const char *registry, const char *index, size_t len, const char *key, char **url,
			      char **err)
{
	json_error_t je;
	json_t *j = json_loadb(index, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		*err = j ? xstrdup("index.json: not an object keyed \"name:version\"")
			 : xasprintf("index.json: line %d: %s", je.line, je.text);
		json_decref(j);
		return -1;
	}
	json_t *e = json_object_get(j, key);
	const char *b = json_string_value(json_object_get(e, "baseline"));
	int rc = -1;
	if (!e)
		*err = xasprintf("the registry's index has no %s", key);
	else if (!b || !*b)
		*err = xasprintf("the registry's %s has no baseline", key);
	else if (strlen(b) > 4096)
		*err = xasprintf("the registry's %s: baseline URL too long", key);
	else if (strncmp(b, "http://", 7) == 0 || strncmp(b, "https://", 8) == 0)
		*url = xstrdup(b), rc = 0;
	else if (strstr(b, "://"))
		*err = xasprintf("the registry's %s: baseline is not an http(s) URL", key);
	else if (b[0] == '/')
		*url = xasprintf("%s%s", registry, b), rc = 0;
	else
		*url = xasprintf("%s/models/%s", registry, b), rc = 0;
	json_decref(j);
	return rc;
}

/* The registry's index, read now if it is not at hand (or is old). */
static struct index_ent *get_index(driftwatch *w, const char *registry, int64_t now)
{
	struct index_ent *e = strmap_get(w->index, registry);
	if (!e) {
		e = xcalloc(1, sizeof *e);
		e->key = xstrdup(registry);
		strmap_put(w->index, e->key, e);
	}
	bool due = e->text ? now - e->fetched_ms >= w->o.index_ttl_ms : now >= e->retry_at;
	if (!due)
		return e;
	char *url = xasprintf("%s/models/index.json", registry), *err = NULL;
	size_t len = 0;
	w->fetches++;
	char *text = fetch(w, url, w->o.max_index, &len, &err);
	w->stats.index_fetches++;
	free(url);
	if (text) {
		free(e->text);
		free(e->error);
		e->text = text;
		e->len = len;
		e->error = NULL;
		e->fetched_ms = now;
	} else if (!e->text) {
		free(e->error);
		e->error = err;
		e->retry_at = now + w->o.retry_ms;
		err = NULL;
	} else {
		e->fetched_ms = now - w->o.index_ttl_ms + w->o.retry_ms; /* keep the old one a while */
	}
	free(err);
	return e;
}

/* The baseline of key for a registry (a preset one first), fetched if due. */
static struct base_ent *get_baseline(driftwatch *w, const char *registry, const char *key, int64_t now)
{
	char *pk = xasprintf("\n%s", key);
	struct base_ent *e = strmap_get(w->base, pk);
	free(pk);
	if (e)
		return e;
	if (!registry)
		return NULL;
	char *k = xasprintf("%s\n%s", registry, key);
	e = strmap_get(w->base, k);
	if (!e) {
		e = xcalloc(1, sizeof *e);
		e->key = k;
		strmap_put(w->base, e->key, e);
	} else {
		free(k);
	}
	if (e->b || now < e->retry_at)
		return e;
	if (w->fetches >= w->o.max_fetches && w->o.max_fetches > 0) {
		/* this cycle's share of registry time is spent: the next cycle asks */
		if (!e->error || strcmp(e->error, "waiting for the registry")) {
			free(e->error);
			e->error = xstrdup("waiting for the registry");
			e->gen = ++w->gen;
		}
		return e;
	}
	char *err = NULL, *url = NULL;
	struct index_ent *ix = get_index(w, registry, now);
	if (!ix->text)
		err = xasprintf("registry index: %s", ix->error ? ix->error : "not read");
	else if (driftwatch_index_baseline(registry, ix->text, ix->len, key, &url, &err) == 0) {
		size_t len = 0;
		w->fetches++;
		char *text = fetch(w, url, w->o.max_baseline, &len, &err);
		w->stats.baseline_fetches++;
		if (text) {
			drift_set *s = drift_parse(text, len, &err);
			if (s) {
				e->b = drift_baseline_new(s);
				drift_set_free(s);
			} else {
				char *m = xasprintf("baseline %s: %s", url, err);
				free(err);
				err = m;
			}
			free(text);
		}
		free(url);
	}
	free(e->error);
	e->error = err;
	if (!e->b)
		e->retry_at = now + w->o.retry_ms;
	e->gen = ++w->gen;
	return e;
}

/* ---- Comparisons ---- */

static void from_report(fleet_drift *out, const drift_report *r)
{
	out->severity = r->severity;
	out->max_ks = r->max_ks;
	out->nfeatures = r->nfeatures;
	out->features = xcalloc(r->nfeatures ? r->nfeatures : 1, sizeof *out->features);
	for (size_t i = 0; i < r->nfeatures; i++) {
		out->features[i] = r->features[i];
		out->features[i].name = xstrdup(r->features[i].name);
	}
}

/* One device's window against its baseline, into out (cleared first). */
static void compare_device(driftwatch *w, struct wdev *d, int64_t now, fleet_drift *out)
{
	memset(out, 0, sizeof *out);
	out->ts_ms = d->win_ms;
	out->samples = drift_set_window(d->win);
	out->baseline = d->key ? xstrdup(d->key) : NULL;
	free(d->cmp_key);
	d->cmp_key = d->key ? xstrdup(d->key) : NULL;
	d->cmp_gen = 0;
	if (!d->key) {
		out->error = xstrdup("the device reports no model name and version");
		return;
	}
	struct base_ent *e = get_baseline(w, d->registry, d->key, now);
	if (!e) {
		out->error = xstrdup("no model_registry for the device: no baseline");
		return;
	}
	d->cmp_gen = e->gen;
	if (!e->b) {
		out->error = xstrdup(e->error ? e->error : "no baseline");
		return;
	}
	char *err = NULL;
	drift_report *r = drift_compare_baseline(e->b, d->win, &w->dopts, &err);
	w->stats.compares++;
	if (!r) {
		out->error = xasprintf("against the baseline: %s", err);
		free(err);
		return;
	}
	from_report(out, r);
	drift_report_free(r);
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

struct member {
	size_t dev;
	const char *factory, *key;
};

static int cmp_member(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	if (!x->factory != !y->factory)
		return x->factory ? -1 : 1;
	int c = strcmp(nz(x->factory), nz(y->factory));
	if (!c)
		c = strcmp(x->key, y->key);
	return c ? c : (x->dev > y->dev) - (x->dev < y->dev);
}

/* Every factory's windows per model version, pooled, against that version's baseline. */
static void pool_factories(driftwatch *w, int64_t now, fleet *f)
{
	struct member *m = xcalloc(w->ndevs + 1, sizeof *m);
	size_t nm = 0;
	for (size_t i = 0; i < w->ndevs; i++) {
		struct wdev *d = &w->devs[i];
		if (d->win && d->ok && d->cmp_key)
			m[nm++] = (struct member){ i, d->factory, d->cmp_key };
	}
	qsort(m, nm, sizeof *m, cmp_member);
	fleet_factory_drift *g = NULL;
	size_t ng = 0, gcap = 0;
	const drift_set **sets = xcalloc(nm + 1, sizeof *sets);
	for (size_t i = 0; i < nm;) {
		size_t j = i;
		while (j < nm && !cmp_member(&(struct member){ 0, m[i].factory, m[i].key },
					     &(struct member){ 0, m[j].factory, m[j].key }))
			j++;
		struct wdev *d0 = &w->devs[m[i].dev];
		struct base_ent *e = get_baseline(w, d0->registry, m[i].key, now);
		g = xgrow(g, &gcap, ng + 1, sizeof *g);
		fleet_factory_drift *fd = &g[ng++];
		memset(fd, 0, sizeof *fd);
		fd->factory = m[i].factory ? xstrdup(m[i].factory) : NULL;
		fd->devices = j - i;
		fd->drift.baseline = xstrdup(m[i].key);
		size_t ns = 0;
		for (size_t k = i; k < j; k++) {
			struct wdev *d = &w->devs[m[k].dev];
			sets[ns++] = d->win;
			fd->drift.samples += drift_set_window(d->win);
			if (d->win_ms > fd->drift.ts_ms)
				fd->drift.ts_ms = d->win_ms;
		}
		char *err = NULL;
		drift_set *pool = drift_set_pool(sets, ns, &err);
		drift_report *r = pool && e && e->b ? drift_compare_baseline(e->b, pool, &w->dopts, &err) : NULL;
		if (r) {
			from_report(&fd->drift, r);
			w->stats.pools++;
		} else {
			fd->drift.error = err ? err : xstrdup("no baseline");
			err = NULL;
		}
		free(err);
		drift_report_free(r);
		drift_set_free(pool);
		i = j;
	}
	fleet_set_factory_drift(f, g, ng);
	for (size_t i = 0; i < ng; i++) {
		free(g[i].factory);
		fleet_drift_clear(&g[i].drift);
	}
	free(g);
	free(sets);
	free(m);
}

size_t driftwatch_cycle(driftwatch *w, const poll_result *res, size_t n, int64_t now_ms, fleet *f)
{
	double t0 = mono_ms();
	size_t compared = 0;
	w->fetches = 0;
	bool changed = false;
	for (size_t k = 0; k < n; k++) {
		const poll_result *r = &res[k];
		struct wdev *d = dev_at(w, r->index);
		if (!r->polled)
			continue;
		if (r->fetch[POLL_EP_STATUS].ok && r->st.status) {
			free(d->key);
			d->key = r->st.model_name && r->st.model_version
					 ? xasprintf("%s:%s", r->st.model_name, r->st.model_version)
					 : NULL;
		}
		const poll_fetch *fd = &r->fetch[POLL_EP_DRIFT];
		if (fd->attempted && !fd->ok) {
			/* no window now: what was known about the device's drift goes */
			drift_set_free(d->win);
			d->win = NULL;
			d->win_new = false;
			if (d->have) {
				fleet_drift none = { 0 };
				fleet_set_drift(f, r->index, &none);
				d->have = d->ok = false;
				changed = true;
			}
			continue;
		}
		if (fd->attempted && d->win_new)
			d->win_ms = r->ts_ms;
	}
	for (size_t i = 0; i < w->ndevs; i++) {
		struct wdev *d = &w->devs[i];
		if (!d->win)
			continue;
		bool again = d->win_new || !d->cmp_key != !d->key || (d->key && strcmp(d->key, d->cmp_key));
		if (!again && !d->ok && d->key) {
			/* an error: compare again once the baseline entry changes or may be retried */
			struct base_ent *e = get_baseline(w, d->registry, d->key, now_ms);
			again = e && e->gen != d->cmp_gen;
		}
		if (!again)
			continue;
		if (!d->win_ms)
			d->win_ms = now_ms;
		fleet_drift out;
		compare_device(w, d, now_ms, &out);
		d->win_new = false;
		d->have = true;
		d->ok = !out.error;
		fleet_set_drift(f, i, &out);
		fleet_drift_clear(&out);
		compared++;
		changed = true;
	}
	if (changed)
		pool_factories(w, now_ms, f);
	if (changed)
		w->stats.last_compare_ms = mono_ms() - t0;
	return compared;
}

void driftwatch_get_stats(const driftwatch *w, driftwatch_stats *s)
{
	*s = w->stats;
}
