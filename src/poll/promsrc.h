/* promsrc: device state read from a Prometheus server (its HTTP API) instead of
 * polling every device: for fleets whose exporters Prometheus already scrapes.
 * The devices are still the inventory's; each is matched to its series by one
 * label (default `instance`, whose value Prometheus makes "ADDRESS:PORT" from
 * the scrape target, so the default template is "{address}:{metrics_port}").
 *
 * A cycle asks a handful of PromQL instant queries for the whole fleet at once,
 * in parallel (the exporter's gauges, `up` and
 * `scrape_duration_seconds` in one; p95 latency and error rate over a rate
 * window; uptime), joins the answers by the label and turns them into the
 * same poll_result records the poller makes, so the fleet model, alerts, report,
 * history and console take them unchanged:
 *   up == 1        reachable; state from device_health_status (1 healthy, 0 unhealthy,
 *                  in between degraded), unhealthy/malformed if the gauge is missing
 *   up == 0        the last scrape failed: unreachable, or unhealthy when the exporter
 *                  answered wrongly (HTTP status, unparsable, too large), by the scrape
 *                  error when the server's /api/v1/targets knows it
 *   no `up` series unreachable, reason not_polled: the server does not scrape it (or
 *                  the series went stale)
 * Answers are size-capped and time-limited; a server that is down or answers
 * garbage fails the cycle with a message, nothing else.
 *
 * All state is in the promsrc object, driven by one thread (promsrc_cycle, or
 * promsrc_run's loop); promsrc_stop() and promsrc_poke() may be called from any
 * thread. Nothing here prints. */
#ifndef FLEETDECK_POLL_PROMSRC_H
#define FLEETDECK_POLL_PROMSRC_H

#include "poll/poller.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct promsrc_opts {
	const char *url;       /* the server's base URL, http:// or https:// (a path prefix
	                          allowed, userinfo for basic auth) */
	const char *label;     /* the label devices are matched by: "instance" */
	const char *match;     /* its value per device, a template of {host} (inventory name),
	                          {address} (ansible_host), {metrics_port}, {agent_port}:
	                          "{address}:{metrics_port}" */
	const char *job;       /* only series with this job label; NULL: any job */
	const char *window;    /* rate window for p95 latency and error rate: "5m" */
	int connect_timeout_ms;/* 2000 */
	int timeout_ms;        /* each query: 10000 */
	size_t max_body;       /* bytes of one answer: 64 MiB */
	int interval_ms;       /* promsrc_run: from one cycle's start to the next: 10000 */
	char *owned;           /* what promsrc_opts_parse allocated (promsrc_opts_clear) */
} promsrc_opts;

void promsrc_opts_default(promsrc_opts *o);
/* Parses what follows "prometheus=" in --source: "URL[,label=NAME][,match=TEMPLATE]
 * [,job=NAME][,window=DURATION][,max-mib=N]" into o (defaults first; strings point into o->owned).
 * Returns 0, or -1 with *err naming what is wrong. */
int promsrc_opts_parse(const char *spec, promsrc_opts *o, char **err);
void promsrc_opts_clear(promsrc_opts *o); /* frees o->owned; accepts a zeroed one */
/* Checks the settings (URL scheme, label name, template, window): 0, or -1 with *err. */
int promsrc_opts_check(const promsrc_opts *o, char **err);

typedef struct promsrc promsrc;

/* Checks the options (URL scheme, label name, template, window). NULL with *err.
 * curl_global_init() is the caller's. */
promsrc *promsrc_new(const promsrc_opts *o, char **err);
void promsrc_free(promsrc *ps); /* accepts NULL */

/* Adds a device (t->name, t->address, the ports); its label value is key if not
 * NULL, else the template's expansion. Returns its index, or -1 with *err. */
long promsrc_add(promsrc *ps, const poll_target *t, const char *key, char **err);
size_t promsrc_count(const promsrc *ps);
/* The label value device i is matched by (borrowed). */
const char *promsrc_key(const promsrc *ps, size_t i);

/* One cycle: every query, then every device's result (in promsrc_add order;
 * valid until the next cycle or promsrc_free). Returns 0; -1 with *err when the
 * server cannot be asked or its main answer is unusable (no results then); 1 if
 * promsrc_stop() interrupted it. */
int promsrc_cycle(promsrc *ps, const poll_result **res, size_t *n, poll_cycle_info *info, char **err);
/* What the last cycle could not read without failing (a secondary query's
 * error, the API's warnings), or NULL. Borrowed, valid until the next cycle. */
const char *promsrc_warning(const promsrc *ps);

/* The PromQL queries of a cycle, in order: the gauges (with up and
 * scrape_duration_seconds), p95 latency, error rate, uptime. */
enum { PROMSRC_QUERIES = 4 };
const char *promsrc_promql(const promsrc *ps, int q);
/* A cycle from answers already in hand (tests, fuzzing): body[q] is query q's
 * /api/v1/query answer (NULL: it failed), targets an /api/v1/targets answer or
 * NULL; the results as promsrc_cycle gives them, timed eval_ms. 0, or -1 with
 * *err when the gauges' answer is unusable. */
int promsrc_take(promsrc *ps, const char *const body[PROMSRC_QUERIES], const size_t len[PROMSRC_QUERIES],
		 const char *targets, size_t targets_len, int64_t eval_ms, const poll_result **res, size_t *n,
		 char **err);

/* The console's loop: a cycle every interval_ms until promsrc_stop(); publish
 * after each good cycle, failed(ctx, message) after each failed one (both on
 * this thread). Returns 0 when stopped. */
typedef void (*promsrc_fail_fn)(void *ctx, const char *message);
int promsrc_run(promsrc *ps, poll_publish_fn publish, promsrc_fail_fn failed, void *ctx, char **err);
void promsrc_stop(promsrc *ps); /* thread-safe */
void promsrc_poke(promsrc *ps); /* thread-safe: the next cycle now */

#endif
