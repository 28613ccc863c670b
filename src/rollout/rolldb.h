/* rolldb: the rollout tables of the history database (schema version 4, made by
 * store.c's migrations): one short transaction per change, conditional state
 * transitions, the runner's lease and the devices' holds. Its own sqlite3
 * handle on the file; open it after store_open has migrated the file. A handle
 * belongs to one thread at a time. */
#ifndef FLEETDECK_ROLLOUT_ROLLDB_H
#define FLEETDECK_ROLLOUT_ROLLDB_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rolldb rolldb;

/* NULL with *err ("PATH: ...") when the file cannot be opened or has no
 * rollout tables (not migrated). busy_ms: how long to wait for a lock. */
rolldb *rolldb_open(const char *path, int busy_ms, char **err);
void rolldb_close(rolldb *db); /* accepts NULL */
/* Handles of one process that write at once (a runner's threads) share a mutex
 * (borrowed; it outlives the handle) taken around every write transaction. */
void rolldb_share_lock(rolldb *db, pthread_mutex_t *mu);

/* A rollout as stored. Strings owned by the row: roll_row_clear. */
typedef struct roll_row {
	int64_t id;
	char *model, *version, *model_url, *checksum;
	char *batches;        /* JSON [[host, ...], ...] */
	char *params;         /* JSON object, see runner.h */
	char *state;          /* rollstate.h */
	int current_batch;    /* 0-based */
	char *stop_reason;    /* NULL: none */
	char *lease_owner;    /* NULL: none */
	int64_t lease_expiry; /* ms since the epoch */
	char *created_by;
	int64_t created_at, updated_at;
} roll_row;
void roll_row_clear(roll_row *r);

/* A device of a rollout. Strings owned: roll_devs_free. */
typedef struct roll_dev {
	char *host, *address;
	int port, batch, ord;
	char *step;           /* rollstate.h */
	int64_t step_started, step_ended; /* 0: not yet */
	char *prev_version, *error; /* NULL: none */
	int attempts;         /* POST /update sent */
	int metrics_port;     /* the exporter's port; 0: 8000 (schema 5) */
	char *transport;      /* fleetdeck_transport: "http" (agent API) or "ssh"; NULL reads as http */
	char *target;         /* ssh: the device's settings as JSON (rollout/rollssh.h); NULL: none */
} roll_dev;
void roll_devs_free(roll_dev *d, size_t n);
/* Frees one device's strings (not d itself) and zeroes it. */
void roll_dev_clear(roll_dev *d);

/* Records a rollout (r->id ignored; state as given) and its devices (step
 * "pending"), and takes every device's hold, in one transaction. A device held
 * by another rollout refuses the whole: -1 with *err naming the device and the
 * rollout. Returns the new id, or -1. */
int64_t rolldb_create(rolldb *db, const roll_row *r, const roll_dev *devs, size_t n, char **err);
/* 0, or -1 with *err ("no rollout N" when there is none). */
int rolldb_get(rolldb *db, int64_t id, roll_row *out, char **err);
/* Every rollout, newest first. */
int rolldb_list(rolldb *db, roll_row **out, size_t *n, char **err);
/* The newest max rollouts (0: all), newest first. */
int rolldb_list_newest(rolldb *db, size_t max, roll_row **out, size_t *n, char **err);
void roll_rows_free(roll_row *r, size_t n);
/* Only the rollout's state, into buf (a few dozen bytes suffice): 0, or -1. */
int rolldb_state(rolldb *db, int64_t id, char *buf, size_t size, char **err);
/* The rollout's devices in plan order. */
int rolldb_devices(rolldb *db, int64_t id, roll_dev **out, size_t *n, char **err);
int rolldb_device(rolldb *db, int64_t id, const char *host, roll_dev *out, char **err);

/* UPDATE ... WHERE state IN (from): 1 changed, 0 the rollout was in none of
 * those states (nothing changed), -1 error. reason non-NULL: the stop reason.
 * Into a final state (rollstate.h) the devices' holds are released; out of one
 * they are taken again (a device held by another rollout: -1, nothing changed).
 * A log line records the change. */
int rolldb_transition(rolldb *db, int64_t id, const char *const *from, const char *to, const char *reason,
		      int64_t now, char **err);
/* The same, also setting current_batch. */
int rolldb_transition_batch(rolldb *db, int64_t id, const char *const *from, const char *to, int batch,
			    const char *reason, int64_t now, char **err);

/* The lease: taken when free, expired or already ours: 1, else 0 (held). */
int rolldb_lease_take(rolldb *db, int64_t id, const char *owner, int64_t now, int64_t ttl_ms, char **err);
/* 1 renewed, 0 lost (someone else holds it now). */
int rolldb_lease_renew(rolldb *db, int64_t id, const char *owner, int64_t now, int64_t ttl_ms, char **err);
/* Released unless the rollout is in one of the states keep (someone asked for
 * more work meanwhile): 1 released, 0 kept. */
int rolldb_lease_release(rolldb *db, int64_t id, const char *owner, const char *const *keep, char **err);

/* A device's step begins: step, started = now, ended unset; logged. With
 * count_attempt, attempts + 1 in the same transaction. */
int rolldb_step_start(rolldb *db, int64_t id, const char *host, const char *step, bool count_attempt, int64_t now,
		      char **err);
/* The step ends: ended = now; logged with ok and detail. next non-NULL: the
 * device moves to that step (a final one, or "pending"), error = detail when
 * !ok, else cleared (kept when the device moves to "failed": the failure's
 * reason outlives the rollback that followed it). */
int rolldb_step_end(rolldb *db, int64_t id, const char *host, const char *step, bool ok, const char *detail,
		    const char *next, int64_t now, char **err);
int rolldb_set_prev(rolldb *db, int64_t id, const char *host, const char *prev, char **err);
/* Devices in one of the steps from moved to step to (error cleared): how many. */
int rolldb_devices_move(rolldb *db, int64_t id, const char *const *from, const char *to, int64_t now, char **err);
/* attempts + 1: a POST /update is about to go out. */
int rolldb_attempt(rolldb *db, int64_t id, const char *host, char **err);
/* A line of rollout_log. Strings owned: roll_log_rows_free. */
typedef struct roll_log_row {
	int64_t id, ts;
	char *host;           /* NULL: the rollout itself */
	char *step, *event;   /* event: start, end, note */
	int ok;               /* -1: none (start, note) */
	char *detail;         /* NULL: none; notes "ssh: COMMAND" are the commands sent to agentless devices */
} roll_log_row;
/* Rollout id's log in order, only host's lines when host is non-NULL, only
 * lines after after_id, at most limit (0: all). */
int rolldb_log_rows(rolldb *db, int64_t id, const char *host, int64_t after_id, size_t limit, roll_log_row **out,
		    size_t *n, char **err);
void roll_log_rows_free(roll_log_row *r, size_t n);
/* A line in the log about the rollout itself (host NULL) or a device. */
int rolldb_log(rolldb *db, int64_t id, const char *host, const char *step, const char *detail, int64_t now,
	       char **err);

/* A line of a rollout's log. Strings owned: roll_logs_free. */
typedef struct roll_log {
	char *host;           /* NULL: about the rollout itself */
	int64_t ts;
	char *step, *event;   /* event: start, end, note, state */
	int ok;               /* -1: not said */
	char *detail;
} roll_log;
void roll_logs_free(roll_log *l, size_t n);
/* The newest max lines (0: all) of rollout id, newest first; rollout_only: only
 * the lines about the rollout itself (states, gates, notes). */
int rolldb_log_recent(rolldb *db, int64_t id, bool rollout_only, size_t max, roll_log **out, size_t *n, char **err);

/* The latest line about the rollout itself (host NULL) logged under step:
 * 1 with *ts and *detail (caller frees; may be NULL), 0 none, -1 error. */
int rolldb_log_last(rolldb *db, int64_t id, const char *step, int64_t *ts, char **detail, char **err);

/* The lease of a runner known to be dead (its process is gone): taken when it
 * is still held by `dead`: 1, else 0 (someone else moved it meanwhile). */
int rolldb_lease_take_from(rolldb *db, int64_t id, const char *dead, const char *owner, int64_t now, int64_t ttl_ms,
			   char **err);

/* A batch gate's judgement (schema 5): outcome pass, fail or inconclusive; the
 * figures as JSON (canary.h). Strings owned: roll_gates_free. */
typedef struct roll_gate {
	int batch;            /* 0-based */
	int64_t ts, soak_ms;
	char *outcome, *figures, *reason;
} roll_gate;
int rolldb_gate_add(rolldb *db, int64_t id, const roll_gate *g, char **err);
/* The rollout's gates in the order they were judged. */
int rolldb_gates(rolldb *db, int64_t id, roll_gate **out, size_t *n, char **err);
void roll_gates_free(roll_gate *g, size_t n);

#endif
