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
/* The limits that apply to gpu_type (NULL: the defaults). */
void fleet_rules_temp(const fleet_rules *r, const char *gpu_type, double *warn, double *crit);

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
