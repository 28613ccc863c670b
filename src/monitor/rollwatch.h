/* rollwatch: the console's window on the rollouts of the history database. A
 * thread of its own reads them every second (the UI thread never touches
 * SQLite) and runs the operator's rollout commands as child processes of the
 * fleetdeck binary (`fleetdeck --db DB rollout VERB ...`: the same checks,
 * audit and detached runner as from a shell), one at a time, in order. The
 * snapshot is a copy the UI owns; the wake function is called (from the
 * thread) when it changed or a command finished. */
#ifndef FLEETDECK_MONITOR_ROLLWATCH_H
#define FLEETDECK_MONITOR_ROLLWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rollwatch rollwatch;

/* A device of the shown rollout. Strings owned by the snapshot. */
typedef struct rw_dev {
	char *host;
	int batch;             /* 0-based */
	char *step;            /* rollstate.h DS_* */
	char *error;           /* NULL: none */
	char *prev_version;
	int64_t step_started, step_ended;
	int attempts;
} rw_dev;

/* Devices of a batch, by where they are. */
typedef struct rw_batch {
	size_t total, ok, failed, unreachable, reverted, inflight, pending;
} rw_batch;

typedef struct rw_log {
	int64_t ts;
	char *host;            /* NULL: the rollout itself */
	char *text;            /* "state paused: operator", "gate pass: ..." */
} rw_log;

typedef struct rw_rollout {
	int64_t id;
	char *model, *version, *state, *stop_reason, *created_by;
	int current_batch, nbatches;
	int64_t created_at, updated_at;
	bool active;           /* running, aborting or rolling back: a runner works on it */
	bool runner_alive;     /* its lease is held and not expired */
	rw_batch all;          /* every device */
	rw_batch *batches;     /* nbatches of them */
	double eta_s;          /* -1: not known */
	/* only for the shown rollout (rollwatch_show), else NULL / 0 */
	rw_dev *devs;
	size_t ndevs;
	rw_log *log;           /* newest first */
	size_t nlog;
} rw_rollout;

typedef struct rw_snapshot {
	uint64_t gen;          /* grows with every change */
	rw_rollout *r;         /* newest first, at most RW_MAX_ROLLOUTS */
	size_t n;
	int64_t shown;         /* the id whose devices and log are in, 0: none */
	char *error;           /* the last read's error, NULL if fine */
} rw_snapshot;

enum { RW_MAX_ROLLOUTS = 50, RW_MAX_LOG = 200 };

/* A finished command. */
typedef struct rw_result {
	char *label;           /* as given */
	int exit_code;         /* -1: could not run or killed */
	char *output;          /* stdout and stderr, capped, control characters removed */
} rw_result;

/* db_path: the history database (copied). exe: the fleetdeck binary to run
 * commands with (NULL: this process's own). wake: called from the thread. */
rollwatch *rollwatch_new(const char *db_path, const char *exe, void (*wake)(void *ctx), void *ctx);
/* Stops the thread (a command under way is waited for) and frees. Accepts NULL. */
void rollwatch_free(rollwatch *w);
int rollwatch_start(rollwatch *w, char **err);

/* Before rollwatch_start: at the first read, start a runner (`rollout resume`)
 * for every active rollout whose runner is gone (its lease expired): how the
 * next start of fleetdeck finishes a rollout whose runner was killed. */
void rollwatch_adopt_orphans(rollwatch *w, bool on);
/* A copy of the latest read; free with rw_snapshot_free. Never NULL. */
rw_snapshot *rollwatch_snapshot(rollwatch *w);
void rw_snapshot_free(rw_snapshot *s);
/* The newest rollout that is not final, else the newest; NULL if none. */
const rw_rollout *rw_snapshot_current(const rw_snapshot *s);
const rw_rollout *rw_snapshot_find(const rw_snapshot *s, int64_t id);

/* Which rollout's devices and log to read (0: the current one). Reads soon. */
void rollwatch_show(rollwatch *w, int64_t id);
/* Read now rather than within the second. */
void rollwatch_refresh(rollwatch *w);

/* Queues `exe --db DB args...` (args copied; at most 64). label: what the
 * operator asked, for the result line. 0, or -1 if the queue is full. */
int rollwatch_command(rollwatch *w, const char *label, const char *const *args, size_t nargs);
/* The same for a command whose output is data (`rollout plan --json`, `registry
 * list --json`): up to 4 MiB of it is kept. */
int rollwatch_query(rollwatch *w, const char *label, const char *const *args, size_t nargs);
/* The oldest finished command's result (caller clears with rw_result_clear); false if none. */
bool rollwatch_result(rollwatch *w, rw_result *out);
void rw_result_clear(rw_result *r);
/* Whether a command is queued or running. */
bool rollwatch_busy(rollwatch *w);

/* One line for a header: "rollout #3 defect-detection 3.2 running, batch 2/10, 45/200 updated". Caller frees. */
char *rw_rollout_summary(const rw_rollout *r);

#endif
