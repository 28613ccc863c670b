/* promsrc: device state from a Prometheus server's HTTP API, as poll_result records. */
#include "poll/promsrc.h"
#include "metrics/promapi.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The queries of a cycle. Q_GAUGES is the one a cycle cannot do without. */
enum { Q_GAUGES, Q_P95, Q_ERRORS, Q_UPTIME, Q_TARGETS, Q_COUNT };
_Static_assert((int)Q_TARGETS == (int)PROMSRC_QUERIES, "the header's count of queries");

static const char *const qname[Q_COUNT] = { "gauges", "p95 latency", "error rate", "uptime",
					    "targets" };

/* The exporter's series the gauge query fetches, with `up` and the scrape's duration. */
#define GAUGE_LIST(X)                                      \
	X(G_UP, "up")                                          \
	X(G_SCRAPE, "scrape_duration_seconds")                 \
	X(G_HEALTH, "device_health_status")                    \
	X(G_TEMP, "gpu_temperature_celsius")                   \
	X(G_UTIL, "gpu_utilization_percent")                   \
	X(G_MEM_USED, "gpu_memory_used_bytes")                 \
	X(G_MEM_TOTAL, "gpu_memory_total_bytes")               \
	X(G_POWER, "gpu_power_watts")                          \
	X(G_MODEL, "model_loaded")

enum {
#define X(id, name) id,
	GAUGE_LIST(X)
#undef X
	G_COUNT
};

static const char *const gname[G_COUNT] = {
#define X(id, name) name,
	GAUGE_LIST(X)
#undef X
};

struct buf {
	char *p;
	size_t len, cap, max;
	bool over;
};

struct req {
	CURL *h;
	char *url;             /* owned */
	char *post;            /* owned: the form body, NULL for a GET */
	struct buf b;
	char errbuf[CURL_ERROR_SIZE];
	bool active, done;
	CURLcode code;
	long status;
	double ms;
	long connects;
};

struct dev {
	char *name, *address, *key;
	int agent_port, metrics_port;
	size_t next;           /* the next device with the same key, SIZE_MAX: none */
	int failures;
};

/* What the answers say about one device in one cycle (strings borrowed from the vectors). */
struct acc {
	bool up_seen;
	double up;
	bool g_have[G_COUNT];
	double g[G_COUNT];
	const char *model_any, *model_on, *version_on;
	double p95, err, uptime;
	bool have_p95, have_err, have_uptime;
	const char *target_error;
};

struct promsrc {
	char *url;             /* base, no trailing '/' */
	char *shown_url;       /* the same without userinfo, for messages */
	char *label, *match, *window;
	char *job_sel;         /* ",job=\"...\"" or "" */
	int connect_timeout_ms, timeout_ms, interval_ms;
	size_t max_body;
	char *promql[Q_COUNT];
	CURLM *multi;
	struct req rq[Q_COUNT];
	struct dev *devs;
	size_t ndevs, cap;
	strmap *by_key;        /* key -> first device index + 1 */
	poll_result *res;
	size_t nres;
	struct acc *acc;
	promapi_vector vec[Q_TARGETS]; /* this cycle's answers (strings borrowed by acc) */
	char *warning;
	uint64_t cycle;
	atomic_bool stop, poke;
};

void promsrc_opts_default(promsrc_opts *o)
{
	memset(o, 0, sizeof *o);
	o->label = "instance";
	o->match = "{address}:{metrics_port}";
	o->window = "5m";
	o->connect_timeout_ms = 2000;
	o->timeout_ms = 10000;
	o->max_body = 64u << 20;
	o->interval_ms = 10000;
}

void promsrc_opts_clear(promsrc_opts *o)
{
	free(o->owned);
	o->owned = NULL;
}

int promsrc_opts_parse(const char *spec, promsrc_opts *o, char **err)
{
	promsrc_opts_default(o);
	if (!spec || !*spec) {
		*err = xstrdup("expected prometheus=URL[,label=NAME][,match=TEMPLATE][,job=NAME][,window=DURATION]");
		return -1;
	}
	o->owned = xstrdup(spec);
	char *save = NULL, *tok = strtok_r(o->owned, ",", &save);
	o->url = tok;
	while ((tok = strtok_r(NULL, ",", &save))) {
		char *eq = strchr(tok, '=');
		if (!eq || eq == tok) {
			*err = xasprintf("'%s': expected KEY=VALUE (label, match, job, window, max-mib)", tok);
			goto fail;
		}
		*eq = '\0';
		const char *v = eq + 1;
		if (!*v) {
			*err = xasprintf("%s: empty value", tok);
			goto fail;
		}
		if (!strcmp(tok, "label"))
			o->label = v;
		else if (!strcmp(tok, "match"))
			o->match = v;
		else if (!strcmp(tok, "job"))
			o->job = v;
		else if (!strcmp(tok, "window"))
			o->window = v;
		else if (!strcmp(tok, "max-mib")) {
			char *end;
			long mib = strtol(v, &end, 10);
			if (*end || mib < 1 || mib > 4096) {
				*err = xasprintf("max-mib: expected a whole number from 1 to 4096, got '%s'", v);
				goto fail;
			}
			o->max_body = (size_t)mib << 20;
		} else {
			*err = xasprintf("unknown setting '%s' (label, match, job, window, max-mib)", tok);
			goto fail;
		}
	}
	if (promsrc_opts_check(o, err))
		goto fail;
	return 0;
fail:
	promsrc_opts_clear(o);
	return -1;
}

/* A PromQL duration: 5m, 90s, 1h30m. */
static bool duration_valid(const char *s)
{
	if (!*s || strlen(s) > 32)
		return false;
	while (*s) {
		if (!(*s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
		if (!strncmp(s, "ms", 2))
			s += 2;
		else if (*s && strchr("smhdwy", *s))
			s++;
		else
			return false;
	}
	return true;
}

/* Expands the match template for one device; NULL with *err for an unknown placeholder. */
static char *expand(const char *tmpl, const char *name, const char *address, int agent_port, int metrics_port,
		    char **err)
{
	size_t cap = strlen(tmpl) + 64, len = 0;
	char *out = xmalloc(cap);
	for (const char *p = tmpl; *p;) {
		char piece[300];
		const char *add = piece;
		size_t adv = 1;
		if (*p == '{') {
			const char *close = strchr(p, '}');
			size_t n = close ? (size_t)(close - p - 1) : 0;
			if (close && n == 4 && !strncmp(p + 1, "host", 4))
				add = name;
			else if (close && n == 7 && !strncmp(p + 1, "address", 7)) {
				/* an IPv6 address before ":port" is bracketed, as in Prometheus' instance */
				if (strchr(address, ':') && address[0] != '[' && close[1] == ':' && strlen(address) < 290)
					snprintf(piece, sizeof piece, "[%s]", address);
				else
					add = address;
			}
			else if (close && n == 12 && !strncmp(p + 1, "metrics_port", 12))
				snprintf(piece, sizeof piece, "%d", metrics_port);
			else if (close && n == 10 && !strncmp(p + 1, "agent_port", 10))
				snprintf(piece, sizeof piece, "%d", agent_port);
			else {
				*err = xasprintf("match template '%s': unknown placeholder at '%.20s' ({host}, {address}, "
						 "{metrics_port}, {agent_port})",
						 tmpl, p);
				free(out);
				return NULL;
			}
			adv = n + 2;
		} else {
			piece[0] = *p;
			piece[1] = '\0';
		}
		size_t an = strlen(add);
		out = xgrow(out, &cap, len + an + 1, 1);
		memcpy(out + len, add, an);
		len += an;
		p += adv;
	}
	out[len] = '\0';
	return out;
}

/* The URL without "user:password@", for messages. */
static char *redact(const char *url)
{
	const char *scheme = strstr(url, "://");
	if (!scheme)
		return xstrdup(url);
	const char *host = scheme + 3, *end = host + strcspn(host, "/?#"), *at = NULL;
	for (const char *p = host; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return xstrdup(url);
	return xasprintf("%.*s%s", (int)(host - url), url, at + 1);
}

static void build_queries(promsrc *ps)
{
	const char *L = ps->label, *J = ps->job_sel, *W = ps->window;
	char names[512];
	size_t n = 0;
	for (int g = 0; g < G_COUNT; g++)
		n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", g ? "|" : "", gname[g]);
	ps->promql[Q_GAUGES] = xasprintf("{__name__=~\"%s\"%s}", names, J);
	ps->promql[Q_P95] =
		xasprintf("histogram_quantile(0.95, sum by (%s, le) (rate(inference_latency_seconds_bucket{%s}[%s])))", L,
			  J[0] ? J + 1 : "", W);
	/* the failed statuses devmetrics counts; a device with requests but no error series
	 * has an error rate of 0, not none */
	ps->promql[Q_ERRORS] = xasprintf(
		"(sum by (%s) (rate(inference_requests_total{status=~\"error|failure|failed|fail|timeout\"%s}[%s])) or sum by (%s) "
		"(rate(inference_requests_total{%s}[%s])) * 0) / sum by (%s) (rate(inference_requests_total{%s}[%s]))",
		L, J, W, L, J[0] ? J + 1 : "", W, L, J[0] ? J + 1 : "", W);
	ps->promql[Q_UPTIME] = xasprintf(
		"time() - max by (%s) (process_start_time_seconds{%s} or inference_latency_seconds_created{%s})", L,
		J[0] ? J + 1 : "", J[0] ? J + 1 : "");
}

int promsrc_opts_check(const promsrc_opts *o, char **err)
{
	if (!o->url || (strncasecmp(o->url, "http://", 7) && strncasecmp(o->url, "https://", 8)) ||
	    !o->url[strncasecmp(o->url, "http://", 7) ? 8 : 7]) {
		*err = xasprintf("Prometheus URL '%s': expected http://HOST:PORT or https://...", o->url ? o->url : "");
		return -1;
	}
	if (strpbrk(o->url, " \t\r\n?#")) {
		*err = xasprintf("Prometheus URL '%s': no spaces, query or fragment", o->url);
		return -1;
	}
	const char *label = o->label ? o->label : "instance";
	if (!promapi_label_name_valid(label) || !strcmp(label, "le") || !strcmp(label, "__name__")) {
		*err = xasprintf("label '%s': expected a label name ([a-zA-Z_][a-zA-Z0-9_]*, not le or __name__)", label);
		return -1;
	}
	const char *window = o->window ? o->window : "5m";
	if (!duration_valid(window)) {
		*err = xasprintf("window '%s': expected a PromQL duration (5m, 90s, 1h30m)", window);
		return -1;
	}
	const char *match = o->match ? o->match : "{address}:{metrics_port}";
	char *probe = expand(match, "h", "a", 1, 2, err);
	if (!probe)
		return -1;
	free(probe);
	if (o->job && strlen(o->job) > 256) {
		*err = xstrdup("job: at most 256 bytes");
		return -1;
	}
	return 0;
}

promsrc *promsrc_new(const promsrc_opts *o, char **err)
{
	if (promsrc_opts_check(o, err))
		return NULL;
	const char *label = o->label ? o->label : "instance";
	const char *window = o->window ? o->window : "5m";
	const char *match = o->match ? o->match : "{address}:{metrics_port}";
	promsrc *ps = xcalloc(1, sizeof *ps);
	ps->url = xstrdup(o->url);
	for (size_t n = strlen(ps->url); n > 8 && ps->url[n - 1] == '/'; n--)
		ps->url[n - 1] = '\0';
	ps->shown_url = redact(ps->url);
	ps->label = xstrdup(label);
	ps->match = xstrdup(match);
	ps->window = xstrdup(window);
	if (o->job) {
		char *q = promapi_quote(o->job);
		ps->job_sel = xasprintf(",job=%s", q);
		free(q);
	} else {
		ps->job_sel = xstrdup("");
	}
	ps->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 2000;
	ps->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	ps->interval_ms = o->interval_ms > 0 ? o->interval_ms : 10000;
	ps->max_body = o->max_body ? o->max_body : 64u << 20;
	ps->by_key = strmap_new();
	build_queries(ps);
	ps->multi = curl_multi_init();
	for (int q = 0; q < Q_COUNT; q++)
		ps->rq[q].h = curl_easy_init();
	bool ok = ps->multi != NULL;
	for (int q = 0; q < Q_COUNT; q++)
		ok = ok && ps->rq[q].h;
	if (!ok) {
		*err = xstrdup("libcurl could not be set up");
		promsrc_free(ps);
		return NULL;
	}
	atomic_init(&ps->stop, false);
	atomic_init(&ps->poke, false);
	return ps;
}

static void clear_vectors(promsrc *ps)
{
	for (int q = 0; q < Q_TARGETS; q++)
		promapi_vector_clear(&ps->vec[q]);
}

static void result_clear(poll_result *r)
{
	free(r->detail);
	dev_status_clear(&r->st);
	for (int e = 0; e < POLL_EP_COUNT; e++)
		free(r->fetch[e].error);
	memset(r, 0, sizeof *r);
}

void promsrc_free(promsrc *ps)
{
	if (!ps)
		return;
	for (int q = 0; q < Q_COUNT; q++) {
		struct req *r = &ps->rq[q];
		if (r->h) {
			if (r->active)
				curl_multi_remove_handle(ps->multi, r->h);
			curl_easy_cleanup(r->h);
		}
		free(r->url);
		free(r->post);
		free(r->b.p);
		free(ps->promql[q]);
	}
	if (ps->multi)
		curl_multi_cleanup(ps->multi);
	for (size_t i = 0; i < ps->nres; i++)
		result_clear(&ps->res[i]);
	free(ps->res);
	for (size_t i = 0; i < ps->ndevs; i++) {
		free(ps->devs[i].name);
		free(ps->devs[i].address);
		free(ps->devs[i].key);
	}
	free(ps->devs);
	free(ps->acc);
	clear_vectors(ps);
	strmap_free(ps->by_key);
	free(ps->warning);
	free(ps->url);
	free(ps->shown_url);
	free(ps->label);
	free(ps->match);
	free(ps->window);
	free(ps->job_sel);
	free(ps);
}

long promsrc_add(promsrc *ps, const poll_target *t, const char *key, char **err)
{
	if (!t->name || !*t->name) {
		*err = xstrdup("no name");
		return -1;
	}
	const char *address = t->address ? t->address : t->name;
	char *k = key ? xstrdup(key) : expand(ps->match, t->name, address, t->agent_port, t->metrics_port, err);
	if (!k)
		return -1;
	if (!*k || strlen(k) > 1024) {
		*err = xasprintf("Prometheus %s value '%.40s': expected 1 to 1024 bytes", ps->label, k);
		free(k);
		return -1;
	}
	ps->devs = xgrow(ps->devs, &ps->cap, ps->ndevs + 1, sizeof *ps->devs);
	size_t i = ps->ndevs++;
	struct dev *d = &ps->devs[i];
	memset(d, 0, sizeof *d);
	d->name = xstrdup(t->name);
	d->address = xstrdup(address);
	d->key = k;
	d->agent_port = t->agent_port;
	d->metrics_port = t->metrics_port;
	d->next = SIZE_MAX;
	uintptr_t first = (uintptr_t)strmap_get(ps->by_key, k);
	if (!first) {
		strmap_put(ps->by_key, d->key, (void *)(uintptr_t)(i + 1));
	} else { /* two inventory hosts on one target: both get its series */
		size_t j = first - 1;
		while (ps->devs[j].next != SIZE_MAX)
			j = ps->devs[j].next;
		ps->devs[j].next = i;
	}
	return (long)i;
}

size_t promsrc_count(const promsrc *ps)
{
	return ps->ndevs;
}

const char *promsrc_key(const promsrc *ps, size_t i)
{
	return i < ps->ndevs ? ps->devs[i].key : NULL;
}

const char *promsrc_warning(const promsrc *ps)
{
	return ps->warning;
}

/* ---- HTTP ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct buf *b = ctx;
	size_t n = size * nmemb;
	if (b->len + n > b->max) {
		b->over = true;
		return 0; /* aborts the transfer */
	}
	b->p = xgrow(b->p, &b->cap, b->len + n + 1, 1);
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sets up request q: POST /api/v1/query (form body) or, with post NULL, a GET of path. */
static void req_prepare(promsrc *ps, int q, const char *path, char *post)
{
	struct req *r = &ps->rq[q];
	free(r->url);
	free(r->post);
	r->url = xasprintf("%s%s", ps->url, path);
	r->post = post;
	r->b.len = 0;
	r->b.over = false;
	r->b.max = ps->max_body;
	if (r->b.p)
		r->b.p[0] = '\0';
	r->errbuf[0] = '\0';
	r->done = false;
	r->code = CURLE_OK;
	r->status = 0;
	r->ms = 0;
	r->connects = 0;
	CURL *h = r->h;
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, r->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROXY, ""); /* as for devices: no proxy from the environment */
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)ps->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)ps->timeout_ms);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)ps->max_body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->b);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* Prometheus gzips large answers */
	curl_easy_setopt(h, CURLOPT_USERAGENT, "fleetdeck");
	curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)r);
	if (post) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(post));
	}
}

/* No "time": the server evaluates at its own now, so a clock here that runs ahead of
 * Prometheus' by more than its lookback cannot make every series look stale. */
static char *form_query(CURL *h, const char *promql)
{
	char *e = curl_easy_escape(h, promql, 0);
	char *body = xasprintf("query=%s", e ? e : "");
	curl_free(e);
	return body;
}

/* Runs the prepared requests (want[q]) in parallel until all are done. 0, or 1 if stopped. */
static int run_requests(promsrc *ps, const bool *want)
{
	for (int q = 0; q < Q_COUNT; q++) {
		if (!want[q])
			continue;
		struct req *r = &ps->rq[q];
		if (curl_multi_add_handle(ps->multi, r->h) != CURLM_OK) {
			r->done = true;
			r->code = CURLE_FAILED_INIT;
			continue;
		}
		r->active = true;
	}
	int running = 1;
	while (running) {
		if (atomic_load(&ps->stop))
			break;
		curl_multi_perform(ps->multi, &running);
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(ps->multi, &left))) {
			if (m->msg != CURLMSG_DONE)
				continue;
			char *priv = NULL;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
			struct req *r = (struct req *)(void *)priv;
			if (!r)
				continue;
			r->code = m->data.result;
			curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->status);
			double t = 0;
			curl_easy_getinfo(r->h, CURLINFO_TOTAL_TIME, &t);
			r->ms = t * 1000.0;
			curl_easy_getinfo(r->h, CURLINFO_NUM_CONNECTS, &r->connects);
			curl_multi_remove_handle(ps->multi, r->h);
			r->active = false;
			r->done = true;
		}
		if (running)
			curl_multi_poll(ps->multi, NULL, 0, 1000, NULL);
	}
	bool stopped = false;
	for (int q = 0; q < Q_COUNT; q++) {
		struct req *r = &ps->rq[q];
		if (r->active) {
			curl_multi_remove_handle(ps->multi, r->h);
			r->active = false;
			stopped = true;
		}
	}
	return stopped ? 1 : 0;
}

/* Why request q gave nothing usable, for people; NULL if it answered 2xx within the cap. */
static char *req_error(const promsrc *ps, int q)
{
	const struct req *r = &ps->rq[q];
	if (r->b.over || r->code == CURLE_FILESIZE_EXCEEDED)
		return xasprintf("the answer is larger than %zu bytes (the cap)", ps->max_body);
	if (r->code != CURLE_OK)
		return xstrdup(r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->code));
	if (r->status < 200 || r->status > 299) {
		/* the API's errors come as JSON with a 4xx or 5xx status */
		promapi_vector v;
		char *e = NULL;
		const char *lab[] = { "x" };
		if (promapi_parse_vector(r->b.p, r->b.len, lab, 1, &v, &e) == 0)
			promapi_vector_clear(&v);
		if (e && !strncmp(e, "Prometheus answered", 19)) {
			char *msg = xasprintf("HTTP %ld: %s", r->status, e);
			free(e);
			return msg;
		}
		free(e);
		return xasprintf("HTTP %ld (not a Prometheus API answer)", r->status);
	}
	return NULL;
}

/* ---- joining the answers ---- */

static struct acc *acc_of(promsrc *ps, const char *key, size_t *first)
{
	uintptr_t v = (uintptr_t)strmap_get(ps->by_key, key);
	if (!v)
		return NULL;
	*first = v - 1;
	return &ps->acc[v - 1];
}

static void take_gauges(promsrc *ps, const promapi_vector *v)
{
	for (size_t i = 0; i < v->n; i++) {
		const promapi_sample *s = &v->s[i];
		size_t d;
		struct acc *a = acc_of(ps, s->label[0], &d);
		const char *name = s->label[1];
		if (!a || !name)
			continue;
		int g = -1;
		for (int k = 0; k < G_COUNT && g < 0; k++)
			if (!strcmp(name, gname[k]))
				g = k;
		if (g < 0)
			continue;
		if (g == G_UP) {
			/* the target scraped by several jobs: reachable if any scrape worked */
			if (!a->up_seen || s->value > a->up)
				a->up = s->value;
			a->up_seen = true;
			continue;
		}
		if (g == G_MODEL) {
			if (!a->model_any && s->label[2])
				a->model_any = s->label[2];
			if (s->value == 1 && s->label[2] && s->label[3] && !a->model_on) {
				a->model_on = s->label[2];
				a->version_on = s->label[3];
			}
			continue;
		}
		if (isnan(s->value) || isinf(s->value) || a->g_have[g])
			continue;
		a->g_have[g] = true;
		a->g[g] = s->value;
	}
}

/* Values of a one-number-per-device query into the field at offset. */
static void take_values(promsrc *ps, const promapi_vector *v, size_t off_val, size_t off_have)
{
	for (size_t i = 0; i < v->n; i++) {
		size_t d;
		struct acc *a = acc_of(ps, v->s[i].label[0], &d);
		if (!a || isnan(v->s[i].value) || isinf(v->s[i].value))
			continue;
		bool *have = (bool *)((char *)a + off_have);
		if (*have)
			continue;
		*(double *)((char *)a + off_val) = v->s[i].value;
		*have = true;
	}
}

static void set_fetch(poll_fetch *f, bool ok, dev_reason reason, double ms, char *error)
{
	f->attempted = true;
	f->ok = ok;
	f->reason = reason;
	f->http_status = ok ? 200 : 0;
	f->rtt_ms = ms;
	f->attempts = 1;
	f->error = error;
}

/* The classification of a scrape error as Prometheus words it. */
static dev_reason scrape_reason(const char *e)
{
	if (!e)
		return DEV_REASON_NETWORK;
	if (strstr(e, "connection refused"))
		return DEV_REASON_REFUSED;
	if (strstr(e, "deadline exceeded") || strstr(e, "timeout") || strstr(e, "i/o timeout"))
		return DEV_REASON_TIMEOUT;
	if (strstr(e, "no such host") || strstr(e, "server misbehaving"))
		return DEV_REASON_DNS;
	if (strstr(e, "connection reset"))
		return DEV_REASON_RESET;
	if (strstr(e, "server returned HTTP status"))
		return DEV_REASON_HTTP;
	if (strstr(e, "body size limit") || strstr(e, "exceeds"))
		return DEV_REASON_OVERSIZED;
	if (strstr(e, "unexpected EOF"))
		return DEV_REASON_TRUNCATED;
	if (strstr(e, "parse") || strstr(e, "expected") || strstr(e, "invalid") || strstr(e, "not a valid") ||
	    strstr(e, "start token") || strstr(e, "unexpected end"))
		return DEV_REASON_MALFORMED;
	return DEV_REASON_NETWORK;
}

static char *clean(const char *s, size_t max)
{
	char *out = xstrndup(s, strnlen(s, max)); /* xstrndup copies n bytes */
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return out;
}

static void fill_device(promsrc *ps, size_t i, const struct acc *a, int64_t eval_ms, double query_ms)
{
	struct dev *d = &ps->devs[i];
	poll_result *r = &ps->res[i];
	result_clear(r);
	r->index = i;
	r->host = d->name;
	r->polled = true;
	r->ts_ms = eval_ms; /* what Prometheus knew then (its own lookback decides staleness) */
	r->rtt_ms = -1;
	poll_fetch *f = &r->fetch[POLL_EP_STATUS];
	if (!a->up_seen) {
		r->state = DEV_UNREACHABLE;
		r->reason = DEV_REASON_NOT_POLLED;
		r->detail = xasprintf("Prometheus has no up series with %s=\"%s\" (not scraped, or gone stale)",
				      ps->label, d->key);
		set_fetch(f, false, r->reason, query_ms, xstrdup(r->detail));
	} else if (!(a->up >= 1)) {
		/* as when polling: an exporter that answers wrongly is reachable, and unhealthy */
		r->reason = scrape_reason(a->target_error);
		r->state = dev_reason_unreachable(r->reason) ? DEV_UNREACHABLE : DEV_UNHEALTHY;
		if (a->target_error) {
			char *e = clean(a->target_error, 300);
			r->detail = xasprintf("Prometheus' last scrape failed: %s", e);
			free(e);
		} else {
			r->detail = xasprintf("Prometheus' last scrape failed (up == 0)");
		}
		set_fetch(f, false, r->reason, query_ms, xstrdup(r->detail));
	} else if (!a->g_have[G_HEALTH]) {
		r->state = DEV_UNHEALTHY;
		r->reason = DEV_REASON_MALFORMED;
		r->detail = xasprintf("Prometheus has no device_health_status for %s=\"%s\"", ps->label, d->key);
		set_fetch(f, false, r->reason, query_ms, xstrdup(r->detail));
	} else {
		dev_status *st = &r->st;
		double h = a->g[G_HEALTH];
		st->status = xstrdup(h >= 1 ? "healthy" : h <= 0 ? "unhealthy" : "degraded");
		if (a->model_on) {
			st->model_name = xstrdup(a->model_on);
			st->model_version = xstrdup(a->version_on);
			st->model_loaded = true;
			st->have |= DEV_HAVE_MODEL_LOADED;
		} else if (a->model_any) {
			st->model_name = xstrdup(a->model_any);
			st->model_loaded = false;
			st->have |= DEV_HAVE_MODEL_LOADED;
		}
		static const struct {
			int g;
			unsigned bit;
			size_t off;
		} map[] = {
			{ G_TEMP, DEV_HAVE_GPU_TEMP, offsetof(dev_status, gpu_temp) },
			{ G_UTIL, DEV_HAVE_GPU_UTIL, offsetof(dev_status, gpu_util) },
			{ G_MEM_USED, DEV_HAVE_GPU_MEM_USED, offsetof(dev_status, gpu_mem_used) },
			{ G_MEM_TOTAL, DEV_HAVE_GPU_MEM_TOTAL, offsetof(dev_status, gpu_mem_total) },
			{ G_POWER, DEV_HAVE_POWER, offsetof(dev_status, power_w) },
		};
		for (size_t k = 0; k < sizeof map / sizeof *map; k++)
			if (a->g_have[map[k].g]) {
				*(double *)((char *)st + map[k].off) = a->g[map[k].g];
				st->have |= map[k].bit;
			}
		if (a->have_p95) {
			st->latency_p95_ms = a->p95 * 1000.0;
			st->have |= DEV_HAVE_LATENCY_P95;
		}
		if (a->have_err) {
			st->error_rate = a->err;
			st->have |= DEV_HAVE_ERROR_RATE;
		}
		if (a->have_uptime && a->uptime >= 0) {
			st->uptime_hours = a->uptime / 3600.0;
			st->have |= DEV_HAVE_UPTIME;
		}
		r->state = dev_state_from_status(st);
		if (r->state != DEV_HEALTHY) {
			r->reason = DEV_REASON_REPORTED;
			r->detail = xasprintf("device_health_status is %g", h);
		}
		if (a->g_have[G_SCRAPE])
			r->rtt_ms = a->g[G_SCRAPE] * 1000.0;
		set_fetch(f, true, DEV_REASON_NONE, r->rtt_ms >= 0 ? r->rtt_ms : query_ms, NULL);
	}
	d->failures = r->state == DEV_UNREACHABLE ? d->failures + 1 : 0;
	r->failures = d->failures;
}

/* The scrape errors of targets that are down, from /api/v1/targets (only the
 * server's own targets: a federating server does not know them). */
static void take_targets(promsrc *ps, const char *body, size_t len, json_t **keep)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	json_t *list = json_object_get(json_object_get(root, "data"), "activeTargets");
	size_t i;
	json_t *t;
	json_array_foreach(list, i, t)
	{
		const char *health = json_string_value(json_object_get(t, "health"));
		const char *key = json_string_value(json_object_get(json_object_get(t, "labels"), ps->label));
		const char *e = json_string_value(json_object_get(t, "lastError"));
		size_t d;
		struct acc *a = key ? acc_of(ps, key, &d) : NULL;
		if (!a || !health || strcmp(health, "down") || !e || !*e || a->target_error)
			continue;
		a->target_error = e;
	}
	*keep = root; /* the strings above live in it until the cycle is assembled */
}

static void add_warning(promsrc *ps, char *msg)
{
	if (!ps->warning) {
		ps->warning = msg;
		return;
	}
	char *w = xasprintf("%s; %s", ps->warning, msg);
	free(ps->warning);
	free(msg);
	ps->warning = w;
}

/* Parses the queries' answers (body[q] NULL: query q failed, qerr[q] says why; consumed)
 * and joins them into the per-device accumulators. -1 with *err if the gauges are unusable. */
static int join(promsrc *ps, const char *const *body, const size_t *len, char **qerr, char **err)
{
	const char *glabels[] = { ps->label, "__name__", "model_name", "version" };
	clear_vectors(ps);
	int rc = 0;
	for (int q = 0; q < Q_TARGETS; q++) {
		char *e = qerr[q];
		qerr[q] = NULL;
		if (!e && !body[q])
			e = xstrdup("no answer");
		if (!e && promapi_parse_vector(body[q], len[q], glabels, q == Q_GAUGES ? 4 : 1, &ps->vec[q], &e))
			memset(&ps->vec[q], 0, sizeof ps->vec[q]);
		if (e) {
			if (q == Q_GAUGES) {
				*err = xasprintf("Prometheus at %s: %s", ps->shown_url, e);
				rc = -1;
			} else {
				add_warning(ps, xasprintf("%s query: %s", qname[q], e));
			}
			free(e);
		} else if (ps->vec[q].warnings) {
			add_warning(ps, xasprintf("%s query: Prometheus warns: %s", qname[q], ps->vec[q].warnings));
		}
	}
	if (rc) {
		clear_vectors(ps);
		return -1;
	}
	ps->acc = xrealloc(ps->acc, (ps->ndevs ? ps->ndevs : 1) * sizeof *ps->acc);
	memset(ps->acc, 0, (ps->ndevs ? ps->ndevs : 1) * sizeof *ps->acc);
	take_gauges(ps, &ps->vec[Q_GAUGES]);
	take_values(ps, &ps->vec[Q_P95], offsetof(struct acc, p95), offsetof(struct acc, have_p95));
	take_values(ps, &ps->vec[Q_ERRORS], offsetof(struct acc, err), offsetof(struct acc, have_err));
	take_values(ps, &ps->vec[Q_UPTIME], offsetof(struct acc, uptime), offsetof(struct acc, have_uptime));
	return 0;
}

static bool any_down(const promsrc *ps)
{
	for (size_t i = 0; i < ps->ndevs; i++)
		if (ps->acc[i].up_seen && !(ps->acc[i].up >= 1))
			return true;
	return false;
}

/* Every device's result from the accumulators (and the targets' scrape errors, if given). */
static void fill_all(promsrc *ps, const char *targets_body, size_t targets_len, int64_t eval_ms, double query_ms)
{
	json_t *targets = NULL;
	if (targets_body)
		take_targets(ps, targets_body, targets_len, &targets);
	if (ps->nres < ps->ndevs) {
		ps->res = xrealloc(ps->res, ps->ndevs * sizeof *ps->res);
		memset(ps->res + ps->nres, 0, (ps->ndevs - ps->nres) * sizeof *ps->res);
		ps->nres = ps->ndevs;
	}
	/* devices sharing a key share its answers: the accumulator is the first one's */
	for (size_t i = 0; i < ps->ndevs; i++) {
		size_t first;
		struct acc *a = acc_of(ps, ps->devs[i].key, &first);
		fill_device(ps, i, a, eval_ms, query_ms);
	}
	json_decref(targets);
	clear_vectors(ps);
}

const char *promsrc_promql(const promsrc *ps, int q)
{
	return q >= 0 && q < PROMSRC_QUERIES ? ps->promql[q] : NULL;
}

int promsrc_take(promsrc *ps, const char *const body[PROMSRC_QUERIES], const size_t len[PROMSRC_QUERIES],
		 const char *targets, size_t targets_len, int64_t eval_ms, const poll_result **res, size_t *n,
		 char **err)
{
	*res = NULL;
	*n = 0;
	free(ps->warning);
	ps->warning = NULL;
	char *qerr[Q_TARGETS] = { 0 };
	if (join(ps, body, len, qerr, err))
		return -1;
	fill_all(ps, targets, targets_len, eval_ms, 0);
	*res = ps->res;
	*n = ps->ndevs;
	return 0;
}

int promsrc_cycle(promsrc *ps, const poll_result **res, size_t *n, poll_cycle_info *info, char **err)
{
	*res = NULL;
	*n = 0;
	memset(info, 0, sizeof *info);
	free(ps->warning);
	ps->warning = NULL;
	ps->cycle++;
	info->cycle = ps->cycle;
	info->start_ms = wall_ms();
	double t0 = mono_ms();
	bool want[Q_COUNT] = { 0 };
	for (int q = 0; q < Q_TARGETS; q++) {
		req_prepare(ps, q, "/api/v1/query", form_query(ps->rq[q].h, ps->promql[q]));
		want[q] = true;
	}
	if (run_requests(ps, want))
		return 1;
	long requests = Q_TARGETS, connects = 0;
	const char *body[Q_TARGETS];
	size_t len[Q_TARGETS];
	char *qerr[Q_TARGETS];
	for (int q = 0; q < Q_TARGETS; q++) {
		connects += ps->rq[q].connects;
		qerr[q] = req_error(ps, q);
		body[q] = ps->rq[q].b.p ? ps->rq[q].b.p : "";
		len[q] = ps->rq[q].b.len;
	}
	if (join(ps, body, len, qerr, err))
		return -1;

	/* why targets are down: asked only when some are */
	const char *tbody = NULL;
	size_t tlen = 0;
	if (any_down(ps)) {
		bool w2[Q_COUNT] = { 0 };
		w2[Q_TARGETS] = true;
		req_prepare(ps, Q_TARGETS, "/api/v1/targets?state=active", NULL);
		if (run_requests(ps, w2)) {
			clear_vectors(ps);
			return 1;
		}
		requests++;
		connects += ps->rq[Q_TARGETS].connects;
		char *e = req_error(ps, Q_TARGETS);
		if (e) /* a federating server may not serve it: the reason stays generic */
			free(e);
		else if (ps->rq[Q_TARGETS].b.p) {
			tbody = ps->rq[Q_TARGETS].b.p;
			tlen = ps->rq[Q_TARGETS].b.len;
		}
	}
	fill_all(ps, tbody, tlen, info->start_ms, mono_ms() - t0);
	info->end_ms = wall_ms();
	info->duration_ms = mono_ms() - t0;
	info->polled = ps->ndevs;
	info->requests = requests;
	info->connects = connects;
	*res = ps->res;
	*n = ps->ndevs;
	return 0;
}

int promsrc_run(promsrc *ps, poll_publish_fn publish, promsrc_fail_fn failed, void *ctx, char **err)
{
	(void)err;
	while (!atomic_load(&ps->stop)) {
		double t0 = mono_ms();
		atomic_store(&ps->poke, false);
		const poll_result *res;
		size_t n;
		poll_cycle_info info;
		char *e = NULL;
		int rc = promsrc_cycle(ps, &res, &n, &info, &e);
		if (rc == 1)
			break;
		if (rc < 0) {
			if (failed)
				failed(ctx, e ? e : "the Prometheus query failed");
			free(e);
		} else {
			publish(ctx, res, n, &info);
		}
		/* until the next cycle is due, or a poke or stop */
		for (;;) {
			if (atomic_load(&ps->stop) || atomic_load(&ps->poke))
				break;
			double left = t0 + ps->interval_ms - mono_ms();
			if (left <= 0)
				break;
			curl_multi_poll(ps->multi, NULL, 0, left > 1000 ? 1000 : (int)left + 1, NULL);
		}
	}
	return 0;
}

void promsrc_stop(promsrc *ps)
{
	atomic_store(&ps->stop, true);
	curl_multi_wakeup(ps->multi);
}

void promsrc_poke(promsrc *ps)
{
	atomic_store(&ps->poke, true);
	curl_multi_wakeup(ps->multi);
}
