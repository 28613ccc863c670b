/* simdev: one simulated edge device: its physical and inference state, how that state
 * moves from one simulated second to the next, and what the device answers on its
 * agent API and exporter. Pure: no I/O, no clocks (callers pass the times in), no locks
 * (the caller holds the fleet's). */
#ifndef FLEETSIM_SIMDEV_H
#define FLEETSIM_SIMDEV_H

#include "sim/simrng.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* X-macro: fault kind and its name (CLI, control API, docs). */
#define SIMFAULT_LIST(X)              \
	X(SIMFAULT_NONE, "none")          \
	X(SIMFAULT_UNREACHABLE, "unreachable") \
	X(SIMFAULT_REFUSED, "refused")    \
	X(SIMFAULT_HANG, "hang")          \
	X(SIMFAULT_SLOW, "slow")          \
	X(SIMFAULT_HTTP500, "http500")    \
	X(SIMFAULT_MALFORMED, "malformed") \
	X(SIMFAULT_TRUNCATED, "truncated") \
	X(SIMFAULT_OVERSIZED, "oversized") \
	X(SIMFAULT_RESET, "reset")

typedef enum {
#define X(id, name) id,
	SIMFAULT_LIST(X)
#undef X
	SIMFAULT_COUNT
} simfault;

const char *simfault_name(simfault f);
/* Returns the kind, or -1 if the name is unknown. */
int simfault_parse(const char *name);

typedef enum { SIMDEV_HEALTHY, SIMDEV_DEGRADED, SIMDEV_UNHEALTHY } simdev_health;

typedef enum { SIMUPD_IDLE, SIMUPD_DOWNLOADING, SIMUPD_LOADING } simupd_state;

#define SIMDEV_VLEN 32      /* longest version string + 1 */
#define SIMDEV_MAXV 16      /* versions a device holds, and bad versions it knows */
#define SIMDEV_NBUCKETS 8   /* the seed exporter's latency buckets, +Inf apart */
#define SIMDEV_NLOADB 14    /* the Python client's default buckets, +Inf apart */
#define SIMDEV_ERRWIN 60    /* seconds of history behind error_rate */

/* How a model version behaves on a device (the control API's version_profiles):
 * slower, erroring more, or serving fewer requests than nominal. */
typedef struct simvprof {
	char version[SIMDEV_VLEN];
	double latency_factor;  /* times the nominal latency; 1 nominal */
	double error_rate;      /* probability a request fails; < 0: as health says */
	double rate_factor;     /* times the nominal request rate; 1 nominal */
} simvprof;

typedef struct simdev {
	/* identity: fixed when the fleet is built */
	char host[64];
	size_t index;           /* position in the fleet: the random stream's number */
	int factory;            /* index into the fleet's factories */
	uint32_t addr;          /* IPv4, host byte order */
	int gpu;                /* index into the GPU profile table */
	char model[48];
	double ambient;         /* °C the factory floor adds */

	/* what moves every simulated second */
	simrng rng;
	int64_t tick;           /* simulated seconds played so far */
	double temp, temp_offset, temp_trend; /* °C, °C above normal, °C per minute */
	double util, util_base; /* percent */
	double power, cpu_util, mem_used, disk_used, gpu_mem_used; /* W, %, bytes */
	int active, queue;
	double boot_uptime_h;   /* uptime when the simulation started */
	double lat_median_s, lat_sigma;
	uint64_t buckets[SIMDEV_NBUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
	double lat_sum;
	uint64_t req_ok, req_err;
	uint32_t win_ok[SIMDEV_ERRWIN], win_err[SIMDEV_ERRWIN];
	uint64_t load_buckets[SIMDEV_NLOADB + 1];
	double load_sum;
	uint64_t load_count;

	/* set by the fleet definition or the control API */
	int status_override;    /* -1: follows temperature; else a simdev_health */
	double drift;           /* 0: inputs look like the baseline; 1: about one sigma off */
	simfault fault;
	int slow_ms;            /* delay of the 'slow' fault */
	int load_delay_ms;
	char bad[SIMDEV_MAXV][SIMDEV_VLEN];
	int nbad;

	/* model versions */
	char version[SIMDEV_VLEN];
	char versions[SIMDEV_MAXV][SIMDEV_VLEN]; /* on disk, oldest first */
	int nversions;
	char loaded_seen[SIMDEV_MAXV][SIMDEV_VLEN]; /* every version loaded since start: model_loaded series */
	int nloaded_seen;
	simupd_state upd;
	char upd_version[SIMDEV_VLEN];
	double upd_ready_at;    /* monotonic seconds: when LOADING ends */
	char last_error[256];   /* last update failure, "" = none */
	double created;         /* epoch seconds the device's exporter started (the _created series) */
	simvprof vprof[SIMDEV_MAXV];
	int nvprof;

	/* what the agent was asked, counted since start (the control API shows them) */
	uint64_t update_requests;  /* POST /update received */
	uint64_t updates_accepted; /* ... answered 202: an update began */
	uint64_t rollback_requests; /* POST /rollback received */
} simdev;

/* Sets up device `index` of a fleet seeded `seed`: draws its starting condition.
 * host, factory, addr, gpu, model, ambient must be set before. `epoch` is the
 * wall clock at start (only for the _created series). */
void simdev_init(simdev *d, uint64_t seed, double epoch);

/* GPU profiles: "orin_nano", "orin_nx", "agx_orin", "xavier_nx". */
int simdev_gpu_find(const char *name);
const char *simdev_gpu_name(int gpu);
int simdev_gpu_count(void);

/* Plays the device forward to simulated second `tick` (never backwards). */
void simdev_advance(simdev *d, int64_t tick);
/* Finishes a model load whose time has come (`mono`: monotonic seconds). */
void simdev_settle(simdev *d, double mono);

simdev_health simdev_health_now(const simdev *d);
const char *simdev_health_name(simdev_health h);
bool simdev_model_loaded(const simdev *d);
bool simdev_has_version(const simdev *d, const char *v);
/* 1..31 characters of [A-Za-z0-9._+-]: what a version may look like here. */
bool simdev_version_valid(const char *v);
bool simdev_version_bad(const simdev *d, const char *v);
/* Adds a version to the ones on disk (drops the oldest when full). */
void simdev_add_version(simdev *d, const char *v);

/* Answers. `sim_s` is simulated seconds since start (uptime grows with it). */
json_t *simdev_health_json(const simdev *d);
json_t *simdev_status_json(const simdev *d, double sim_s);
/* window: samples per feature; the window is redrawn every simulated minute. */
json_t *simdev_drift_json(const simdev *d, uint64_t seed, int window);
/* The baseline the registry serves for a model version: the same features,
 * undrifted, `n` samples. */
json_t *simdev_baseline_json(const char *model, const char *version, int n);
/* /validate: min_confidence as given; returns the answer object. */
json_t *simdev_validate_json(const simdev *d, const char *expected_class, double min_confidence);
void simdev_metrics(const simdev *d, FILE *f);

/* Applies settings from a JSON object (the control API's /set and the fleet
 * file's per-device entries): gpu_temp, temp_trend, gpu_util, status, reachable,
 * fault, slow_ms, drift, bad_version, bad_versions, load_delay_ms,
 * model_version, versions, version_profiles ({"3.2": {"latency_factor": 1.5,
 * "error_rate": 0.05, "rate_factor": 0.1}}; null or {} clears). All or nothing: on error nothing changes and *err says
 * which key is wrong (caller frees). */
int simdev_set(simdev *d, json_t *settings, char **err);
/* The control API's view of a device (identity, conditions, key readings). */
json_t *simdev_describe(const simdev *d, const char *factory, double sim_s);

#endif
