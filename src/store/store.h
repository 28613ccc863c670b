/* store: fleetdeck's history in SQLite: each device's sample per poll cycle, rolled
 * up per minute and per hour, its state changes, alerts, the poll cycles and an
 * audit trail. Several consoles and a cron --report may share one file at once.
 *
 * Times are ms since the epoch and always passed in by the caller (the store reads
 * no clock), so tests and benchmarks run on a fake clock. Time ranges are half-open,
 * [from, to). Every function returning int returns -1 on error with *err set to a
 * message the caller frees (err may be NULL). Nothing here prints.
 *
 * Not thread-safe: one store handle per thread; processes share the file. */
#ifndef FLEETDECK_STORE_H
#define FLEETDECK_STORE_H

#include "device/device.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;

/* The numeric fields history keeps, named and in the units of dev_status (the
 * agents' /status contract). The file stores them as integers at a fixed
 * resolution, the unit in the column name: rtt_us, gpu_temp_mc (1/1000 °C),
 * gpu_util_permille, gpu_mem_mib, power_mw, latency_p95_us, error_rate_ppm,
 * drift_ppm, uptime_s. Rollup averages are rounded to that resolution. */
#define STORE_FIELD_LIST(X)                              \
	X(STORE_RTT, "rtt_ms", "ms")                     \
	X(STORE_GPU_TEMP, "gpu_temp", "°C")              \
	X(STORE_GPU_UTIL, "gpu_util", "%")               \
	X(STORE_GPU_MEM, "gpu_mem_used", "bytes")        \
	X(STORE_POWER, "power_w", "W")                   \
	X(STORE_LATENCY_P95, "latency_p95_ms", "ms")     \
	X(STORE_ERROR_RATE, "error_rate", "")            \
	X(STORE_DRIFT, "drift_ks", "")                   \
	X(STORE_UPTIME, "uptime_hours", "h")

typedef enum {
#define X(id, name, unit) id,
	STORE_FIELD_LIST(X)
#undef X
	STORE_NFIELDS
} store_field;

const char *store_field_name(store_field f);
const char *store_field_unit(store_field f);
/* A field by name; also accepts the short names rtt, gpu_mem, power,
 * latency_p95, drift, uptime. Returns -1 if unknown. */
int store_field_parse(const char *name);

/* Retention and tuning; store_opts_default() fills in the defaults shown. */
typedef struct store_opts {
	int64_t keep_raw_ms;     /* raw samples: 48 h; at least 2 h, since hour rollups are
	                            computed from raw samples */
	int64_t keep_minute_ms;  /* minute rollups: 14 d; at least keep_raw_ms */
	int64_t keep_hour_ms;    /* hour rollups: 400 d; at least keep_minute_ms */
	int64_t keep_events_ms;  /* state changes: 400 d; 0 keeps them forever */
	int64_t keep_alerts_ms;  /* resolved alerts, after resolution: 400 d; 0 = forever */
	int64_t keep_cycles_ms;  /* cycle records: 14 d; 0 = forever */
	int64_t keep_audit_ms;   /* audit trail: 0 = forever */
	int64_t rollup_delay_ms; /* a minute or hour is rolled up this long after it ends, so a
	                            cycle still being written (or waiting for the lock) lands
	                            first: 2 min. A later sample still gets its bucket redone. */
	int busy_timeout_ms;     /* how long to wait for another writer: 10000 */
	int maintain_budget_ms;  /* store_maintain returns after about this much work: 200;
	                            0 = until done */
	int maintain_max_txns;   /* ... or after this many transactions: 0 = no limit (tests) */
	bool must_exist;         /* fail rather than create a missing file (for queries) */
	int max_version;         /* migrate no further than this schema version: 0 = the
	                            latest (tests of migrations) */
} store_opts;

void store_opts_default(store_opts *o);

/* $XDG_DATA_HOME/fleetdeck/history.db, or ~/.local/share/fleetdeck/history.db (a
 * relative $XDG_DATA_HOME is ignored, as the XDG spec says). Caller frees. */
char *store_default_path(void);

/* Opens (creating it, and missing parent directories with mode 0700, unless
 * o->must_exist) the history database at path, and brings its schema up to date:
 * each migration step in its own transaction, safe against another process
 * migrating at the same time. Refuses a file that is not SQLite, an SQLite
 * database that is not fleetdeck's, and a schema newer than this build knows.
 *
 * File mode: the history names every device and keeps error texts and an audit
 * trail, so it is created 0600 whatever the umask; an existing file (and its -wal
 * and -shm) that grants group or other any access is tightened to 0600, and
 * store_warning() says so; if it cannot be (not our file), it is used as it is,
 * with a warning.
 *
 * o NULL: defaults. Returns NULL on error, with *err = "PATH: what is wrong". */
store *store_open(const char *path, char **err);
store *store_open_opts(const char *path, const store_opts *o, char **err);
/* Closes; an open cycle is discarded. Accepts NULL. */
void store_close(store *s);

const char *store_path(const store *s);
/* Something the user should know that did not stop the open (mode tightened,
 * WAL unavailable), or NULL. Owned by the store. */
const char *store_warning(const store *s);
int store_schema_version(const store *s);
/* The schema version this fleetdeck migrates files to. */
int store_schema_latest(void);
/* Transactions this handle has committed: for tests and the benchmark. */
int64_t store_txn_count(const store *s);

/* ---- Writing, once per poll cycle ----
 * begin, one sample per device as it comes, end. Samples are buffered in memory
 * and written at end in ONE short transaction (BEGIN IMMEDIATE, retried if another
 * writer holds the lock for longer than busy_timeout), so the lock is never held
 * while devices are being polled. In that transaction each sample is compared
 * with its device's last state as the file has it (another console may have
 * written since), and a change of state is an event: two processes polling the
 * same device record a change once. A sample older than the device's newest one
 * is kept but derives no event. The first sample of a device is no event (the
 * device's first_seen says when it appeared). A device's samples are unique by
 * timestamp (a second sample with the same ms is dropped).
 *
 * Pending and stale samples (no observation yet, or the observation is too old)
 * are counted in the cycle's record but are neither samples nor events: they say
 * something about the poller, not the device. Samples older than the raw
 * retention are dropped: they would be pruned at once. */
int store_cycle_begin(store *s, int64_t ts_ms, const char *who, char **err); /* who: console, report, ... */
/* Copies what it needs from smp. */
int store_cycle_sample(store *s, const dev_sample *smp, char **err);
/* Writes the cycle. On error nothing of it is written and the cycle is over. */
int store_cycle_end(store *s, int64_t ts_ms, char **err);
void store_cycle_abort(store *s);

/* Rolls raw samples up into minutes and hours, and prunes what is past its
 * retention. Meant to be called after every cycle: it touches the file only once
 * a minute, and each step (one bucket for a range of devices, or one prune of a
 * range of devices) is its own short transaction that records its own progress,
 * so it is incremental, idempotent, safe to interrupt at any point (a crash
 * loses at most the step under way, which is redone) and safe to run from
 * several processes at once. Returns 0 when all due work is done, 1 if it
 * stopped at the budget with work left (call again), -1 on error. */
int store_maintain(store *s, int64_t now_ms, char **err);

/* ---- Alerts ----
 * One row per (host, rule) while it fires: firing again only moves last_seen on
 * (and takes the newer severity and message). Resolving sets resolved_at; a later
 * firing is a new row. host may name a device or anything else an alert is
 * about. A fire older than the last resolution of the same alert, or a resolve
 * older than the last firing, is stale (another console saw later) and ignored.
 * Each call is its own transaction. */
/* Returns 1 if the alert started firing, 0 if it was already firing (or stale). */
int store_alert_fire(store *s, const char *host, const char *rule, const char *severity,
		     const char *message, int64_t ts_ms, char **err);
/* Returns 1 if a firing alert was resolved, 0 if none was firing. */
int store_alert_resolve(store *s, const char *host, const char *rule, int64_t ts_ms, char **err);

typedef struct store_alert {
	int64_t id;
	char *host, *rule, *severity, *message; /* owned */
	int64_t first_fired_ms, last_seen_ms;
	int64_t resolved_ms; /* 0 while firing */
} store_alert;

/* Firing alerts (of host, or all if NULL), oldest first. Free with store_alerts_free. */
int store_alerts_active(store *s, const char *host, store_alert **out, size_t *n, char **err);
/* Alerts of host (NULL: all) that fired or were still firing at or after since_ms
 * (0: all), oldest first; only the firing ones if active_only. */
int store_alerts(store *s, const char *host, bool active_only, int64_t since_ms, store_alert **out,
		 size_t *n, char **err);
void store_alerts_free(store_alert *a, size_t n);

/* ---- Audit ---- (what people did: rollouts, acknowledgements). Own transaction. */
int store_audit_add(store *s, int64_t ts_ms, const char *actor, const char *action, const char *target,
		    const char *detail, char **err);

/* One operator action as the audit trail keeps it (schema 5). Strings may be
 * NULL except actor and action; rollout_id 0: not about a rollout; pid 0:
 * unknown. outcome: NULL or "done", else why nothing changed ("refused: ..."). */
typedef struct store_audit {
	int64_t id, ts_ms;
	char *actor, *action, *target, *detail; /* detail: the --reason */
	char *user, *ssh_connection, *origin_host, *outcome;
	int64_t pid, rollout_id;
} store_audit;
/* Records e (id ignored; strings borrowed). Own transaction. */
int store_audit_record(store *s, const store_audit *e, char **err);
/* The entries at or after since_ms, of rollout_id (0: all), oldest first;
 * free with store_audit_free. */
int store_audit_list(store *s, int64_t rollout_id, int64_t since_ms, store_audit **out, size_t *n, char **err);
void store_audit_free(store_audit *a, size_t n);

/* ---- Queries ---- (results are snapshots; free them with the matching _free) */

typedef enum { STORE_RES_RAW, STORE_RES_MINUTE, STORE_RES_HOUR } store_res;
const char *store_res_name(store_res r); /* raw, minute, hour */

typedef struct store_value {
	bool have;             /* false: no sample in the row had this field */
	double min, avg, max;  /* raw rows: all three the value */
} store_value;

/* One raw sample, or one minute or hour of them. */
typedef struct store_row {
	int64_t ts_ms;         /* the sample's time, or the bucket's start */
	int64_t count;         /* samples in the bucket; 1 for a raw sample */
	dev_state state;       /* raw: the state; rollup: the worst; DEV_STATE_COUNT if unknown */
	dev_reason reason;     /* raw only */
	char *model_version;   /* raw only; owned; NULL if not reported */
	store_value v[STORE_NFIELDS];
} store_row;

/* 1 if host has any history, 0 if not. */
int store_host_known(store *s, const char *host, char **err);

/* host's rows at resolution res in [from, to), oldest first. */
int store_rows(store *s, const char *host, store_res res, int64_t from_ms, int64_t to_ms, store_row **out,
	       size_t *n, char **err);
void store_rows_free(store_row *rows, size_t n);

/* The resolution store_series would read for [from, to): raw while the range is
 * within the raw retention, else minute while within the minute retention, else
 * hour. */
store_res store_best_res(store *s, int64_t from_ms, int64_t to_ms);

typedef struct store_point {
	int64_t ts_ms;    /* the sample's time, or the start of the bucket */
	int64_t count;    /* samples behind the point */
	dev_state worst;  /* the worst state among them */
	bool have;        /* field had a value in at least one of them */
	double min, avg, max;
} store_point;

/* A sparkline: field (a store_field_parse name, or "state" for the state alone)
 * of host over [from, to), at most max_points points, from the best resolution
 * that covers the range (see store_best_res). Minutes and hours not rolled up yet
 * are computed from raw samples, so the newest point is never late. If there are
 * more rows than max_points, they are merged into max_points equal buckets from
 * from_ms (averages of merged rollups weighted by sample count). Points are only
 * where there were samples; gaps are gaps. *res (may be NULL) says which
 * resolution was read. An unknown host has no points. */
int store_series(store *s, const char *host, const char *field, int64_t from_ms, int64_t to_ms,
		 size_t max_points, store_point **out, size_t *n, store_res *res, char **err);

typedef struct store_event {
	int64_t ts_ms;
	char *host;        /* owned */
	dev_state from;    /* DEV_STATE_COUNT if unknown */
	dev_state to;
	dev_reason reason;
	char *detail;      /* owned; NULL if none */
} store_event;

/* State changes of host (NULL: all) in [from, to), oldest first; if limit > 0,
 * only the newest limit of them. */
int store_events(store *s, const char *host, int64_t from_ms, int64_t to_ms, size_t limit, store_event **out,
		 size_t *n, char **err);
void store_events_free(store_event *ev, size_t n);

typedef struct store_latest {
	char *host, *factory;   /* owned; factory may be NULL */
	int64_t first_seen_ms;
	int64_t ts_ms;          /* newest sample */
	int64_t last_seen_ms;   /* last successful answer; 0 never */
	dev_state state;
	dev_reason reason;
} store_latest;

/* Every device's latest state, by host name. */
int store_latest_states(store *s, store_latest **out, size_t *n, char **err);
void store_latest_free(store_latest *l, size_t n);

/* One device's drift comparison (table drift_samples): strings borrowed. */
typedef struct store_drift {
	const char *host;
	int64_t ts_ms;          /* when the window came */
	const char *baseline;   /* "name:version" */
	double max_ks;          /* kept to 1e-6 */
	const char *severity;   /* none, warning, critical */
	const char *features;   /* JSON object {feature: KS} */
} store_drift;

/* Writes rows (one transaction; a row of the same host and time replaces the
 * older) and drops drift samples older than keep_minute_ms before now_ms. */
int store_drift_record(store *s, const store_drift *rows, size_t n, int64_t now_ms, char **err);

typedef struct store_drift_row {
	char *host, *baseline, *severity, *features; /* owned */
	int64_t ts_ms;
	double max_ks;
} store_drift_row;

/* Drift samples of host (NULL: all) in [from, to), by host then time. */
int store_drift_rows(store *s, const char *host, int64_t from_ms, int64_t to_ms, store_drift_row **out, size_t *n,
		     char **err);
void store_drift_rows_free(store_drift_row *rows, size_t n);

/* Bytes the database uses on disk (file and write-ahead log); -1 on error. */
int64_t store_bytes(store *s);

enum { STORE_NTABLES = 9 };
typedef struct store_table_info {
	const char *name;        /* static */
	int64_t rows;
	int64_t bytes;           /* with its indexes; -1 if SQLite lacks the dbstat table */
	int64_t oldest_ms, newest_ms; /* 0 if empty */
} store_table_info;

typedef struct store_info {
	int schema_version;
	int64_t file_bytes, wal_bytes, free_bytes; /* free: unused pages inside the file */
	int64_t raw_horizon_ms, minute_horizon_ms, hour_horizon_ms; /* pruned before; 0 never */
	int64_t pending_steps;   /* rollup and prune steps not done yet */
	store_table_info tables[STORE_NTABLES];
} store_info;

/* Rows, bytes and time span of every table, in one read transaction. Counting
 * reads every table: seconds on a large history. */
int store_stats(store *s, store_info *info, char **err);

#endif
