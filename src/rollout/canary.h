/* canary: the soak analysis of a rollout's batch gate. After a batch's devices
 * are through their steps, the gate scrapes the exporter (/metrics) of the
 * batch's devices (the canaries) and of the rollout's devices not yet updated
 * (the baseline), waits the soak time, scrapes them again, and compares the two
 * groups over that same window: the canaries' error rate against an absolute
 * limit, their p95 inference latency against the baseline's (platform by
 * platform, from summed histogram deltas). Three outcomes: pass, fail (too many
 * errors or too slow), inconclusive (too few requests, or nothing to compare
 * the latency with). The judgement (canary_judge) is pure; canary_gate_run does
 * the scrapes, the wait and the database record. */
#ifndef FLEETDECK_ROLLOUT_CANARY_H
#define FLEETDECK_ROLLOUT_CANARY_H

#include "metrics/prom.h"
#include "rollout/plan.h"
#include "rollout/rolldb.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The gate's parameters, kept in the rollouts.params JSON beside the runner's. */
typedef struct canary_params {
	long soak_ms;            /* soak_ms; 0: no soak analysis (the default) */
	double max_error_rate;   /* max_error_rate, percent: the canaries' limit; default 2 */
	double max_p95_increase; /* max_p95_increase, percent over the baseline; default 15 */
	long min_samples;        /* min_samples: requests each side needs; default 100 */
} canary_params;

void canary_params_default(canary_params *p);
/* Missing keys keep the defaults. 0, or -1 with *err (caller frees). */
int canary_params_from_json(const char *params, canary_params *p, char **err);
/* Adds the four keys to a params object (borrowed). */
void canary_params_to_json(const canary_params *p, json_t *params);

/* One device over the soak window. Owned strings and buckets: canary_window_clear. */
typedef struct canary_window {
	char *host;
	char *platform;    /* edge_device_info's platform label; "" when not given */
	char *error;       /* non-NULL: no window (a scrape failed); the rest is unset */
	prom_bucket *b;    /* inference_latency_seconds deltas, cumulative by le */
	size_t nb;
	double requests, errors;
} canary_window;
void canary_window_clear(canary_window *w);

/* A group's totals: what the gate shows. NaN p95: no latency observed. */
typedef struct canary_side {
	size_t devices, measured; /* in the group; with a window */
	double requests, errors;
	double error_rate;        /* percent; NaN without requests */
	double p95_ms;            /* of the group's summed histogram */
} canary_side;

typedef struct canary_verdict {
	gate_result outcome;
	canary_side canary, base;
	double p95_increase;      /* percent, canary over baseline, platform-weighted; NaN: not compared */
	size_t platforms;         /* platforms compared */
	char *reason;             /* owned: one line for people */
} canary_verdict;
void canary_verdict_clear(canary_verdict *v);
/* The verdict and the limits as JSON (new reference): what rollout_gates.figures holds. */
json_t *canary_verdict_json(const canary_verdict *v, const canary_params *p, long soak_ms);

/* Judges the canaries can[0..nc) against the baseline base[0..nb) (windows with
 * error set are counted as unmeasured). In order: too few canary requests
 * (< min_samples): inconclusive; canary error rate above max_error_rate: fail;
 * no platform with at least min_samples latency observations on both sides in
 * total: inconclusive (this covers "no devices left to compare with"); the
 * canaries' p95 more than max_p95_increase percent above the baseline's
 * (weighted over the platforms both sides have by the canaries' observations):
 * fail; else pass. Pure. */
void canary_judge(const canary_window *can, size_t nc, const canary_window *base, size_t nb,
		  const canary_params *p, canary_verdict *out);

/* The window of one device from its two /metrics bodies (parsed with prom,
 * deltas by devmetrics). Returns 0, or -1 with w->error set. */
int canary_window_from(const char *host, const char *body0, size_t len0, const char *body1, size_t len1,
		       canary_window *w);

/* Whether the soak should go on (the runner still holds its lease). */
typedef bool (*canary_live_fn)(void *ctx);

/* The soak gate of batch `batch` (0-based) of rollout id, when the rollout's
 * params ask for one (soak_ms > 0): canaries are the batch's devices in step
 * updated or current, the baseline the rollout's pending devices of later
 * batches. Scrapes, waits the soak (checking every 200 ms that the rollout is
 * still running and live(ctx)), scrapes again, judges, records the gate
 * (rolldb_gate_add) and sets *g and *why (replacing the old text). Returns 0
 * (judged, or no soak asked: *g and *why unchanged), 1 abandoned (the rollout
 * left running, or the lease was lost: nothing recorded), -1 error (*err). */
int canary_gate_run(rolldb *db, int64_t id, const char *params, const roll_dev *devs, size_t nd, int batch,
		    long connect_ms, long timeout_ms, canary_live_fn live, void *ctx, gate_result *g, char **why,
		    char **err);

#endif
