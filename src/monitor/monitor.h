/* monitor: the console's engine, with no ncurses in it: the selected devices of
 * an inventory polled cycle after cycle on a thread of their own, each cycle
 * applied to the fleet model and written to the history, and what changed kept
 * as events (state changes, alerts firing and resolving) and as a command log
 * (every request sent and its outcome). The UI thread reads snapshots and logs
 * and is woken through monitor_wake_fd(); it never waits for a device or the
 * disk. */
#ifndef FLEETDECK_MONITOR_H
#define FLEETDECK_MONITOR_H

#include "fleet/fleet.h"
#include "inventory/inventory.h"
#include "poll/poller.h"
#include "poll/promsrc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct monitor monitor;

typedef struct monitor_opts {
	poller_opts poll;      /* interval, forks, timeouts ... */
	const fleet_rules *rules;
	const char *limit;     /* Ansible pattern, as --limit; NULL: all */
	const char *db_path;   /* history; NULL: none kept */
	const char *who;       /* history's name for this writer: "console" */
	const promsrc_opts *prom; /* not NULL: the devices' state from this Prometheus server
	                             (every poll.interval_ms) instead of polling them; a cycle it
	                             cannot answer shows as monitor_error(), "Prometheus at ..." */
} monitor_opts;

/* Builds the poller and the model from the inventory (which must outlive the
 * monitor). Devices whose variables cannot be polled (a bad port, an unknown
 * transport) are kept in the model as unreachable and listed by
 * monitor_warnings(). NULL with *err for a bad limit, no device selected, or a
 * history that cannot be opened. Polling starts with monitor_start(). */
monitor *monitor_new(inventory *inv, const monitor_opts *o, char **err);
/* Stops the thread (waits for the cycle under way to give up) and frees. Accepts NULL. */
void monitor_free(monitor *m);
int monitor_start(monitor *m, char **err);

size_t monitor_warning_count(const monitor *m);
const char *monitor_warning(const monitor *m, size_t i);

/* Readable after each cycle; monitor_ack() empties it. */
int monitor_wake_fd(const monitor *m);
void monitor_ack(monitor *m);
/* Start a cycle now (also polls devices that are backing off). */
void monitor_poll_now(monitor *m);

/* Takes a cycle's results as if its own poller had made them (one per device,
 * in the monitor's device order): for other sources of device state, tests and
 * benchmarks. Not while monitor_start()'s thread runs. */
void monitor_feed(monitor *m, const poll_result *res, size_t n, const poll_cycle_info *info);

fleet_snapshot *monitor_snapshot(monitor *m, int64_t now_ms);
/* The last cycle's figures, false before the first one ended. */
bool monitor_last_cycle(monitor *m, poll_cycle_info *info);
/* A non-NULL message while the polling thread has failed (owned; caller frees). */
char *monitor_error(monitor *m);

/* The inventory's variables of host as --host shows them (new reference), or NULL. */
json_t *monitor_host_vars(monitor *m, const char *host);

typedef enum { MON_EV_STATE, MON_EV_ALERT, MON_EV_RESOLVED } monitor_ev_kind;

typedef struct monitor_event {
	int64_t ts_ms;
	monitor_ev_kind kind;
	char *host;            /* owned */
	dev_state from, to;    /* MON_EV_STATE */
	dev_reason reason;
	fleet_rule rule;       /* alerts */
	fleet_severity severity;
	char *text;            /* owned: for people, one line */
} monitor_event;

/* The newest events first, at most max of them (and only those of host, if
 * not NULL). Caller frees with monitor_events_free. */
size_t monitor_events(monitor *m, const char *host, size_t max, monitor_event **out);
void monitor_events_free(monitor_event *ev, size_t n);

/* One line of the command log: what was sent and what came back, newest first,
 * formatted ("12:00:01 GET http://127.0.1.2:8080/status 200 3.1 ms"). Caller
 * frees each string and the array. */
size_t monitor_cmdlog(monitor *m, const char *host, size_t max, char ***lines);

/* A device's history for the detail view's sparklines, read from the store on
 * a worker thread (never the UI's): GPU temperature, p95 latency and drift over
 * the last hour and the last day, MONITOR_SPARK_POINTS points each (equal
 * buckets; a bucket without samples is a gap). */
enum { MONITOR_SPARK_POINTS = 60 };
#define MONITOR_SERIES_LIST(X)                          \
	X(MON_SERIES_TEMP, "gpu_temp", "GPU temperature") \
	X(MON_SERIES_LATENCY, "latency_p95_ms", "p95 latency") \
	X(MON_SERIES_DRIFT, "drift_ks", "drift (KS)")

typedef enum {
#define X(id, field, label) id,
	MONITOR_SERIES_LIST(X)
#undef X
	MON_SERIES_COUNT
} monitor_series_id;
const char *monitor_series_label(monitor_series_id s);

typedef enum { MON_RANGE_HOUR, MON_RANGE_DAY, MON_RANGE_COUNT } monitor_range;

typedef struct monitor_history {
	char *host;            /* owned */
	int64_t asked_ms, done_ms;
	bool ready;            /* the answer for host is in */
	char *error;           /* owned; NULL if fine */
	/* per series and range: value and valid bit per bucket, and the range's min and max */
	double v[MON_SERIES_COUNT][MON_RANGE_COUNT][MONITOR_SPARK_POINTS];
	bool have[MON_SERIES_COUNT][MON_RANGE_COUNT][MONITOR_SPARK_POINTS];
	size_t samples[MON_SERIES_COUNT][MON_RANGE_COUNT];
	double min[MON_SERIES_COUNT][MON_RANGE_COUNT], max[MON_SERIES_COUNT][MON_RANGE_COUNT];
} monitor_history;

/* Asks for host's history as of now_ms (the last request wins); the wake fd
 * fires when it is in. Without a history database, the answer says so. */
void monitor_history_request(monitor *m, const char *host, int64_t now_ms);
/* A copy of the latest answer (clear with monitor_history_clear); false if
 * nothing was asked for host yet. */
bool monitor_history_get(monitor *m, const char *host, monitor_history *out);
void monitor_history_clear(monitor_history *h);

/* The rollouts of the history database (read on a thread of their own from
 * monitor_start on) and the rollout commands the console runs; NULL without a
 * history database. Owned by the monitor. */
struct rollwatch;
struct rollwatch *monitor_rollwatch(monitor *m);

/* Totals: cycles run, events and commands logged since the start. */
typedef struct monitor_stats {
	uint64_t cycles, events, commands;
	uint64_t history_errors;
} monitor_stats;
void monitor_get_stats(monitor *m, monitor_stats *s);

#endif
