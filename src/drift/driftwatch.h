/* driftwatch: live drift for the console and the report. Each device's /drift
 * window (the poller's POLL_EP_DRIFT parse hook) is compared with the baseline
 * of the model name and version the device runs (from its /status), fetched
 * from the model registry (the inventory's model_registry: index.json, then the
 * entry's `baseline` URL) once per version and cached; each factory's windows
 * of one version are pooled and compared with that version's baseline too. The
 * results go into the fleet model (fleet_set_drift, fleet_set_factory_drift).
 *
 * Everything runs on the thread that drives the poller (the hook and
 * driftwatch_cycle), never a UI's: registry fetches there have timeouts and
 * size caps, and a failed one is retried only after a pause. Not thread-safe.
 * Nothing here prints. */
#ifndef FLEETDECK_DRIFT_DRIFTWATCH_H
#define FLEETDECK_DRIFT_DRIFTWATCH_H

#include "drift/drift.h"
#include "fleet/fleet.h"
#include "poll/poller.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct driftwatch_opts {
	int connect_timeout_ms;  /* registry connections: 2000 */
	int timeout_ms;          /* each registry fetch: 5000 */
	size_t max_index;        /* bytes of index.json: 8 MiB */
	size_t max_baseline;     /* bytes of a baseline: 32 MiB */
	int64_t retry_ms;        /* a failed fetch is tried again after this: 60000 */
	int64_t index_ttl_ms;    /* index.json is read again after this: 600000 */
	int max_fetches;         /* baselines asked for per cycle, at most (each may need the
	                            index first; the rest wait for the next cycle), so a slow
	                            registry delays a console's cycle by a few timeouts at
	                            most: 4; 0 no limit */
} driftwatch_opts;

void driftwatch_opts_default(driftwatch_opts *o);

typedef struct driftwatch driftwatch;

/* rules: thresholds (drift_ks, drift_feature) and p-value mode, copied. o: NULL
 * for the defaults. */
driftwatch *driftwatch_new(const fleet_rules *rules, const driftwatch_opts *o);
void driftwatch_free(driftwatch *w);

/* Device `device` (the poller's and the fleet's index): its factory (NULL: in no
 * group) and its model_registry (NULL or "": none; no scheme means http). */
void driftwatch_add(driftwatch *w, size_t device, const char *factory, const char *registry);

/* A baseline known without asking the registry (tests, benchmarks, files):
 * used for key "name:version" of every registry. Copied. */
void driftwatch_set_baseline(driftwatch *w, const char *key, const drift_set *baseline);

/* The poll_parse_fn for POLL_EP_DRIFT (ctx: the driftwatch): keeps the parsed
 * window; a body that is not a drift document marks the fetch malformed. */
void driftwatch_hook(void *ctx, size_t device, poll_ep ep, const char *body, size_t len, poll_fetch *f);

/* Sets o's POLL_EP_DRIFT hook and its own ctx (parse_ep_ctx), and makes sure
 * /drift is fetched. */
void driftwatch_attach(driftwatch *w, poller_opts *o);

/* After each cycle, on the polling thread: devices whose /drift failed are
 * forgotten, new windows are compared with their baselines (fetched now if
 * needed), factories pooled again, and what changed is set in f. Returns the
 * number of device comparisons made. */
size_t driftwatch_cycle(driftwatch *w, const poll_result *res, size_t n, int64_t now_ms, fleet *f);

/* Counters for tests and the log. */
typedef struct driftwatch_stats {
	uint64_t index_fetches, baseline_fetches, fetch_failures, compares, pools;
	double last_compare_ms; /* the last cycle's comparisons, pooling included */
} driftwatch_stats;
void driftwatch_get_stats(const driftwatch *w, driftwatch_stats *s);

/* The swap point for the registry module: the `baseline` URL of index entry
 * key ("name:version") in index.json's text, made absolute against registry
 * (the base URL, with scheme). 0 with *url (caller frees), or -1 with *err. */
int driftwatch_index_baseline(const char *registry, const char *index, size_t len, const char *key, char **url,
			      char **err);

#endif
