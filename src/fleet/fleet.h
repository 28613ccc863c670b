/* fleet: the fleet model: every device's latest state (each field with its valid
 * bit and time, never a fake zero), its factory, and the alert rules run over it.
 *
 * The poller's thread writes (fleet_apply); any thread reads through snapshots
 * (fleet_snapshot_take), deep copies that stay valid while the model moves on.
 * The model's own lock makes those two safe against each other; nothing else
 * here is shared. Nothing here prints. */
#ifndef FLEETDECK_FLEET_H
#define FLEETDECK_FLEET_H

#include "device/device.h"
#include "drift/drift.h"
#include "inventory/inventory.h"
#include "poll/poller.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* X-macro: alert rule, its name (config, JSON, history) and what it watches.
 * Each has an evaluator in fleet.c's rule table. */
#define FLEET_RULE_LIST(X)                                                                   \
	X(FLEET_RULE_UNREACHABLE, "unreachable", "the device does not answer")                   \
	X(FLEET_RULE_HEALTH, "health", "the device is not healthy (degraded, unhealthy, bad answers)") \
	X(FLEET_RULE_STALE, "stale", "no recent observation of the device")                      \
	X(FLEET_RULE_GPU_TEMP, "gpu_temp", "GPU temperature over its gpu_type's threshold")      \
	X(FLEET_RULE_VERSION_SKEW, "version_skew", "model version is not the fleet's expected one") \
	X(FLEET_RULE_DRIFT, "drift", "input drift over the KS threshold")

typedef enum {
#define X(id, name, text) id,
	FLEET_RULE_LIST(X)
#undef X
	FLEET_RULE_COUNT
} fleet_rule;

const char *fleet_rule_name(fleet_rule r);
const char *fleet_rule_text(fleet_rule r);
int fleet_rule_parse(const char *name); /* -1 if unknown */

typedef enum { FLEET_WARNING = 1, FLEET_CRITICAL = 2 } fleet_severity;
const char *fleet_severity_name(fleet_severity s); /* warning, critical */

typedef struct fleet_gpu_limit {
	char *gpu_type;        /* owned */
	double warn, crit;     /* °C; a value <= 0 takes the default's */
} fleet_gpu_limit;

typedef struct fleet_drift_limit {
	char *feature;         /* owned */
	double ks;             /* KS threshold of that feature (> 0) */
} fleet_drift_limit;

typedef struct fleet_expected {
	char *model;           /* owned; NULL: every model */
	char *version;         /* owned */
} fleet_expected;

/* Thresholds; fleet_rules_default() gives the defaults shown. Owns its arrays. */
typedef struct fleet_rules {
	double temp_warn;      /* 80 °C: the Orin family throttles from about 85 */
	double temp_crit;      /* 90 °C */
	fleet_gpu_limit *gpu;  /* per gpu_type */
	size_t ngpu;
	fleet_expected *expected; /* configured versions; none: each model's most common */
	size_t nexpected;
	double drift_ks;       /* 0.1 (critical from 1.5x) */
	fleet_drift_limit *drift_feature; /* per-feature thresholds over drift_ks */
	size_t ndrift_feature;
	bool drift_exact;      /* live drift p-values exact where scipy's "auto" would be (slow:
	                          0.1-2 ms a feature); false: asymptotic (scipy's "asymp") */
	bool drift_exact_set;  /* drift_exact was chosen (alerts.drift_pvalues); unset, the
	                          report is exact (its p-values are scipy's) and live rounds not */
	int64_t stale_ms;      /* an observation older than this is stale; 0: never (--report) */
	bool disabled[FLEET_RULE_COUNT];
} fleet_rules;

void fleet_rules_default(fleet_rules *r);
void fleet_rules_free(fleet_rules *r); /* accepts a zeroed one */
void fleet_rules_copy(fleet_rules *dst, const fleet_rules *src);
/* Sets (replacing) the limits for one gpu_type. */
void fleet_rules_set_gpu(fleet_rules *r, const char *gpu_type, double warn, double crit);
/* Sets (replacing) the expected version of model (NULL: all models). */
void fleet_rules_set_expected(fleet_rules *r, const char *model, const char *version);
/* Sets (replacing) the KS threshold of one drift feature. */
void fleet_rules_set_drift_feature(fleet_rules *r, const char *feature, double ks);
/* The drift comparison's options under these rules; o->per_feature is an array
 * the caller frees, its names borrowed from r. */
void fleet_rules_drift_opts(const fleet_rules *r, drift_opts *o);
/* The limits that apply to gpu_type (NULL: the defaults). */
void fleet_rules_temp(const fleet_rules *r, const char *gpu_type, double *warn, double *crit);

/* A drift comparison: a device's /drift window, or a factory's pooled windows,
 * against the baseline of one model version. Owns its strings and features. */
typedef struct fleet_drift {
	int64_t ts_ms;         /* when the (newest) window came; 0: nothing known */
	char *baseline;        /* "name:version" of the model it was compared for; NULL: unknown */
	char *error;           /* set: no comparison, and why (no registry, no baseline, a bad
	                          baseline); then no features */
	size_t samples;        /* per feature in the window (pooled: in all of them) */
	enum drift_severity severity;
	double max_ks;
	drift_feature *features; /* sorted by name */
	size_t nfeatures;
} fleet_drift;

void fleet_drift_copy(fleet_drift *dst, const fleet_drift *src); /* dst cleared first */
void fleet_drift_clear(fleet_drift *d);                          /* frees, zeroes */

/* A factory's devices of one model version, their windows pooled. */
typedef struct fleet_factory_drift {
	char *factory;         /* owned; NULL: devices in no group */
	size_t devices;        /* windows pooled */
	fleet_drift drift;
} fleet_factory_drift;

/* One device as a snapshot shows it. Strings owned by the snapshot. */
typedef struct fleet_dev {
	char *host;
	char *factory;         /* NULL if the device is in no group */
	char *gpu_type;        /* inventory's gpu_type, else the reported one; NULL if neither */
	int64_t ts_ms;         /* end of its last poll; 0: never polled */
	int64_t last_seen_ms;  /* last successful /status; 0: never */
	dev_state state;       /* pending until first polled; stale when too old */
	dev_reason reason;
	char *detail;          /* NULL if none */
	double rtt_ms;         /* last poll's /status time; -1 if it failed */
	dev_status st;         /* the last report (valid bits in st.have; st.status NULL: none yet) */
	int64_t st_ms;         /* when st came; == ts_ms: it is from the last poll */
	int failures;          /* unreachable cycles in a row */
	int64_t next_poll_ms;  /* backing off until then; 0: polled every cycle */
	poll_fetch fetch[POLL_EP_COUNT]; /* last outcome per endpoint (error strings owned) */
	int64_t fetch_ms[POLL_EP_COUNT]; /* when; 0: never */
	fleet_drift drift;     /* its window against its baseline (ts_ms 0: none); st.drift_ks
	                          (DEV_HAVE_DRIFT) holds drift.max_ks while there is one */
} fleet_dev;

typedef struct fleet_alert {
	size_t dev;            /* index into the snapshot's devs */
	const char *host;      /* the device's */
	fleet_rule rule;
	fleet_severity severity;
	char *message;         /* owned */
} fleet_alert;

typedef struct fleet_snapshot {
	int64_t ts_ms;         /* when it was taken */
	uint64_t version;      /* fleet_apply calls so far: unchanged means nothing new */
	fleet_dev *devs;
	size_t ndevs;
	fleet_alert *alerts;   /* by device order, then rule order */
	size_t nalerts;
	size_t count[DEV_STATE_COUNT];
	size_t nwarning, ncritical;
	fleet_expected *expected; /* the version each model was expected at (configured or most common) */
	size_t nexpected;
	fleet_factory_drift *factory_drift; /* by factory (NULL last), then baseline */
	size_t nfactory_drift;
} fleet_snapshot;

typedef struct fleet fleet;

fleet *fleet_new(const fleet_rules *rules);
void fleet_free(fleet *f);
/* Replaces the rules (thread-safe). */
void fleet_set_rules(fleet *f, const fleet_rules *rules);

/* Adds a device; returns its index. Strings are copied. Not while other threads
 * use the model. */
size_t fleet_add(fleet *f, const char *host, const char *factory, const char *gpu_type);
size_t fleet_count(fleet *f);

/* The factory of a host: its `fleetdeck_factory_group` variable (vars), else its
 * deepest group other than all and ungrouped (ties: the one Ansible sorts last),
 * else NULL. Returns a pointer into the inventory or vars. */
const char *fleet_factory_of(inventory *inv, inv_host *h, const json_t *vars);

/* Takes a cycle's results; result i is device i (the poller and the model were
 * filled in the same order). Skipped devices keep their state. Thread-safe. */
void fleet_apply(fleet *f, const poll_result *res, size_t n);

/* Sets device dev's drift (copied; ts_ms 0 forgets it). Thread-safe. */
void fleet_set_drift(fleet *f, size_t dev, const fleet_drift *d);
/* Replaces every factory's pooled drift (copied, sorted). Thread-safe. */
void fleet_set_factory_drift(fleet *f, const fleet_factory_drift *g, size_t n);

/* A deep copy of the model at now_ms, with stale states and alerts evaluated.
 * Thread-safe. Free with fleet_snapshot_free. */
fleet_snapshot *fleet_snapshot_take(fleet *f, int64_t now_ms);
void fleet_snapshot_free(fleet_snapshot *s);

/* The alert rules over one snapshot (what fleet_snapshot_take runs): fills
 * s->alerts, counts and expected versions. Exposed for tests. */
void fleet_evaluate(fleet_snapshot *s, const fleet_rules *rules);

/* Semantic comparison of versions ("3.10" > "3.9", "v1.1.0" == "1.1.0"): <0, 0, >0. */
int fleet_version_cmp(const char *a, const char *b);

#endif
