/* bench_promexp: the costs of fleetdeck's Prometheus side with a big fleet, printed (not a test):
 * writing the exposition of a snapshot of N devices (time, bytes, series), the Alertmanager
 * payload of N/10 alerts against a previous state of the same alerts, and serve-metrics' HTTP
 * server answering GET /metrics with that exposition on loopback (scrapes per second, while
 * the exposition is republished every 100 ms as a poller would).
 *
 *   bench_promexp [DEVICES=10000] [SCRAPES=200] [LISTEN=127.84.50.1:19464] */
#include "export/alertmgr.h"
#include "export/metricsrv.h"
#include "export/promfleet.h"
#include "metrics/expo.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static fleet_snapshot *synthetic(size_t n)
{
	fleet_snapshot *s = xcalloc(1, sizeof *s);
	s->devs = xcalloc(n, sizeof *s->devs);
	s->ndevs = n;
	s->alerts = xcalloc(n / 10 + 1, sizeof *s->alerts);
	int64_t t = 1796119707792;
	for (size_t i = 0; i < n; i++) {
		fleet_dev *d = &s->devs[i];
		d->host = xasprintf("edge-f%02zu-%05zu", i % 50, i);
		d->factory = xasprintf("factory_site%02zu", i % 50);
		d->ts_ms = d->st_ms = d->last_seen_ms = t;
		d->state = i % 10 == 0 ? DEV_UNREACHABLE : DEV_HEALTHY;
		d->rtt_ms = 1.5;
		if (d->state == DEV_UNREACHABLE) {
			d->st_ms = 0;
			d->last_seen_ms = t - 60000;
			fleet_alert *a = &s->alerts[s->nalerts++];
			a->dev = i;
			a->host = d->host;
			a->rule = FLEET_RULE_UNREACHABLE;
			a->severity = FLEET_CRITICAL;
			a->message = xstrdup("connection refused");
			s->ncritical++;
			continue;
		}
		d->st.status = xstrdup("healthy");
		d->st.model_name = xstrdup("defect-detection");
		d->st.model_version = xstrdup("3.1");
		d->st.have = DEV_HAVE_GPU_TEMP | DEV_HAVE_UPTIME | DEV_HAVE_LATENCY_P95 | DEV_HAVE_ERROR_RATE;
		d->st.gpu_temp = 55 + (double)(i % 30);
		d->st.uptime_hours = 100.25;
		d->st.latency_p95_ms = 12.5;
		d->st.error_rate = 0.002;
	}
	for (size_t i = 0; i < n; i++)
		s->count[s->devs[i].state]++;
	return s;
}

static void synthetic_free(fleet_snapshot *s)
{
	for (size_t i = 0; i < s->ndevs; i++) {
		free(s->devs[i].host);
		free(s->devs[i].factory);
		dev_status_clear(&s->devs[i].st);
	}
	for (size_t i = 0; i < s->nalerts; i++)
		free(s->alerts[i].message);
	free(s->devs);
	free(s->alerts);
	free(s);
}

struct scraper {
	const char *url;
	int n;
	double *lat;
	size_t bytes;
	int failures;
};

static size_t count_body(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	*(size_t *)ctx += size * n;
	return size * n;
}

static void *scrape_loop(void *arg)
{
	struct scraper *sc = arg;
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, sc->url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, count_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sc->bytes);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	for (int i = 0; i < sc->n; i++) {
		double t0 = now_ms();
		long code = 0;
		if (curl_easy_perform(c) != CURLE_OK ||
		    (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code), code != 200))
			sc->failures++;
		sc->lat[i] = now_ms() - t0;
	}
	curl_easy_cleanup(c);
	return NULL;
}

struct republisher {
	metricsrv *srv;
	const char *text;
	size_t len;
	atomic_bool stop;
	int count;
};

static void *republish_loop(void *arg)
{
	struct republisher *r = arg;
	while (!atomic_load(&r->stop)) {
		metricsrv_publish(r->srv, r->text, r->len);
		r->count++;
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL); /* a poller's cadence, not synchronisation */
	}
	return NULL;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? (size_t)atol(argv[1]) : 10000;
	int scrapes = argc > 2 ? atoi(argv[2]) : 200;
	const char *listen = argc > 3 ? argv[3] : "127.84.50.1:19464";
	if (n < 10 || scrapes < 1) {
		fprintf(stderr, "usage: bench_promexp [DEVICES>=10] [SCRAPES>=1] [LISTEN]\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	fleet_snapshot *s = synthetic(n);

	enum { RUNS = 9 };
	double t[RUNS];
	size_t len = 0;
	char *text = NULL;
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ms();
		expo *e = expo_new();
		poll_cycle_info ci = { .duration_ms = 1234, .end_ms = 1796119707792, .requests = (long)n * 3 };
		promfleet_info pi = { .cycle = &ci };
		promfleet_write(e, s, &pi);
		t[r] = now_ms() - t0;
		if (r == 0) {
			const char *x = expo_text(e, &len);
			text = xstrndup(x, len);
		}
		expo_free(e);
	}
	qsort(t, RUNS, sizeof *t, cmp_double);
	size_t series = 0;
	for (size_t i = 0; i < len; i++)
		series += text[i] == '\n' && i + 1 < len && text[i + 1] != '#';
	printf("exposition: %zu devices: %.1f ms (median of %d; min %.1f, max %.1f), %zu bytes, %zu series\n", n,
	       t[RUNS / 2], RUNS, t[0], t[RUNS - 1], len, series + 1);

	alertmgr_opts ao = { .url = "http://127.0.0.1:9093", .ttl_ms = 900000 };
	json_t *st1 = NULL, *st2 = NULL;
	size_t nf;
	json_t *p1 = alertmgr_payload(s, NULL, &ao, 1796119707792, &st1, &nf);
	size_t body_len = 0;
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ms();
		json_t *p2 = alertmgr_payload(s, st1, &ao, 1796119767792, &st2, &nf);
		char *body = json_dumps(p2, JSON_COMPACT);
		t[r] = now_ms() - t0;
		body_len = strlen(body);
		free(body);
		json_decref(p2);
		json_decref(st2);
	}
	qsort(t, RUNS, sizeof *t, cmp_double);
	printf("alertmanager payload: %zu alerts against a state of %zu: %.1f ms (median of %d; min %.1f, max %.1f), "
	       "%zu bytes\n",
	       s->nalerts, json_array_size(json_object_get(st1, "alerts")), t[RUNS / 2], RUNS, t[0], t[RUNS - 1],
	       body_len);
	json_decref(p1);
	json_decref(st1);

	char *err = NULL;
	metricsrv_opts so = { .listen = listen, .max_conns = 64, .per_ip = 8, .timeout_s = 10 };
	metricsrv *srv = metricsrv_start(&so, &err);
	if (!srv) {
		fprintf(stderr, "bench_promexp: %s\n", err);
		free(err);
		return 1;
	}
	metricsrv_publish(srv, text, len);
	struct republisher rp = { .srv = srv, .text = text, .len = len };
	pthread_t rt;
	pthread_create(&rt, NULL, republish_loop, &rp);
	enum { CLIENTS = 4 };
	struct scraper sc[CLIENTS];
	pthread_t th[CLIENTS];
	char *url = xasprintf("http://%s/metrics", listen);
	double t0 = now_ms();
	for (int i = 0; i < CLIENTS; i++) {
		sc[i] = (struct scraper){ .url = url, .n = scrapes / CLIENTS ? scrapes / CLIENTS : 1 };
		sc[i].lat = xcalloc((size_t)sc[i].n, sizeof *sc[i].lat);
		pthread_create(&th[i], NULL, scrape_loop, &sc[i]);
	}
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(th[i], NULL);
	double wall = now_ms() - t0;
	atomic_store(&rp.stop, true);
	pthread_join(rt, NULL);
	int total = 0, fails = 0;
	size_t bytes = 0;
	double *all = xcalloc((size_t)scrapes + CLIENTS, sizeof *all);
	for (int i = 0; i < CLIENTS; i++) {
		memcpy(all + total, sc[i].lat, (size_t)sc[i].n * sizeof *all);
		total += sc[i].n;
		fails += sc[i].failures;
		bytes += sc[i].bytes;
		free(sc[i].lat);
	}
	qsort(all, (size_t)total, sizeof *all, cmp_double);
	printf("serve-metrics HTTP: %d scrapes by %d clients of %zu bytes: %.0f scrapes/s, latency p50 %.1f ms, "
	       "p95 %.1f ms, max %.1f ms; %d failed; %d republishes meanwhile\n",
	       total, CLIENTS, len, total / (wall / 1000), all[total / 2], all[(int)(total * 0.95)], all[total - 1],
	       fails, rp.count);
	(void)bytes;
	free(all);
	free(url);
	metricsrv_stop(srv);
	free(text);
	synthetic_free(s);
	curl_global_cleanup();
	return fails ? 1 : 0;
}
