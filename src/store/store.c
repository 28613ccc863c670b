/* store: the history database: schema and migrations, the per-cycle write, rollups and pruning, queries. */
#include "store/store.h"
#include "store/minpack.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MINUTE_MS INT64_C(60000)
#define HOUR_MS INT64_C(3600000)
#define DAY_MS (24 * HOUR_MS)

/* 'fldh': marks the file as fleetdeck's history, so --db pointing at some other
 * SQLite database is refused instead of migrated. */
#define APPLICATION_ID 0x666c6468

/* ---- Fields ---- */

static const struct {
	const char *name, *unit;
} fields[STORE_NFIELDS] = {
#define X(id, name, unit) [id] = { name, unit },
	STORE_FIELD_LIST(X)
#undef X
};

/* How each field is stored: the column stem (rollups add _min, _avg, _max) and the
 * factor from the dev_status unit to the stored integer. Integers of a fixed
 * resolution take 1 to 4 bytes where a REAL takes 8, and a day of samples is
 * mostly these columns. pack_q, pack_qx: the resolution of the packed minute
 * rollups (minute_packs, once an hour's raw samples are gone), in stored units:
 * averages one digit finer than `fleetdeck history` prints them (utilisation and
 * memory: as printed, the stored resolution), min and max (which only --json shows)
 * at the printed precision, rounded outwards. */
static const struct field_store {
	const char *col;
	double scale;
	const char *alias;
	int64_t pack_q, pack_qx;
} field_store[STORE_NFIELDS] = {
	[STORE_RTT] = { "rtt_us", 1e3, "rtt", 10, 100 },                         /* 0.01 ms, 0.1 ms */
	[STORE_GPU_TEMP] = { "gpu_temp_mc", 1e3, NULL, 10, 100 },                /* 0.01 °C, 0.1 °C */
	[STORE_GPU_UTIL] = { "gpu_util_permille", 10.0, NULL, 1, 1 },            /* 0.1 % */
	[STORE_GPU_MEM] = { "gpu_mem_mib", 1.0 / 1048576.0, "gpu_mem", 1, 1 },   /* 1 MiB */
	[STORE_POWER] = { "power_mw", 1e3, "power", 1, 10 },                     /* 1 mW, 10 mW */
	[STORE_LATENCY_P95] = { "latency_p95_us", 1e3, "latency_p95", 10, 100 }, /* 0.01 ms, 0.1 ms */
	[STORE_ERROR_RATE] = { "error_rate_ppm", 1e6, NULL, 10, 100 },           /* 1e-5, 1e-4 */
	[STORE_DRIFT] = { "drift_ppm", 1e6, "drift", 100, 1000 },                /* 1e-4, 1e-3 */
	[STORE_UPTIME] = { "uptime_s", 3600.0, "uptime", 36, 360 },              /* 0.01 h, 0.1 h */
};
_Static_assert((int)STORE_NFIELDS <= (int)MINPACK_MAX_FIELDS, "minpack holds at most MINPACK_MAX_FIELDS fields");

const char *store_field_name(store_field f)
{
	return (unsigned)f < STORE_NFIELDS ? fields[f].name : "?";
}

const char *store_field_unit(store_field f)
{
	return (unsigned)f < STORE_NFIELDS ? fields[f].unit : "";
}

int store_field_parse(const char *name)
{
	for (int i = 0; i < STORE_NFIELDS; i++)
		if (strcmp(fields[i].name, name) == 0 ||
		    (field_store[i].alias && strcmp(field_store[i].alias, name) == 0))
			return i;
	return -1;
}

const char *store_res_name(store_res r)
{
	return r == STORE_RES_RAW ? "raw" : r == STORE_RES_MINUTE ? "minute" : "hour";
}

/* A sample's field as the stored integer; false if the device did not report it
 * (or reported something no resolution can hold). */
static bool field_value(const dev_sample *smp, int f, int64_t *out)
{
	const dev_status *st = &smp->st;
	double v;
	unsigned bit;
	switch (f) {
	case STORE_RTT:
		if (!(smp->rtt_ms >= 0))
			return false;
		v = smp->rtt_ms, bit = 0;
		break;
	case STORE_GPU_TEMP: v = st->gpu_temp, bit = DEV_HAVE_GPU_TEMP; break;
	case STORE_GPU_UTIL: v = st->gpu_util, bit = DEV_HAVE_GPU_UTIL; break;
	case STORE_GPU_MEM: v = st->gpu_mem_used, bit = DEV_HAVE_GPU_MEM_USED; break;
	case STORE_POWER: v = st->power_w, bit = DEV_HAVE_POWER; break;
	case STORE_LATENCY_P95: v = st->latency_p95_ms, bit = DEV_HAVE_LATENCY_P95; break;
	case STORE_ERROR_RATE: v = st->error_rate, bit = DEV_HAVE_ERROR_RATE; break;
	case STORE_DRIFT: v = st->drift_ks, bit = DEV_HAVE_DRIFT; break;
	case STORE_UPTIME: v = st->uptime_hours, bit = DEV_HAVE_UPTIME; break;
	default: return false;
	}
	if (bit && !(st->have & bit))
		return false;
	double x = v * field_store[f].scale;
	if (!isfinite(x) || fabs(x) > 9e15)
		return false;
	*out = llround(x);
	return true;
}

/* ---- Schema ----
 * Each step is applied once, in its own transaction, and is frozen once released:
 * a change is a new step at the end. Names of states and reasons live in lookup
 * tables and samples hold the small code, so the enum's order in device.h may
 * change freely; a state or reason new to device.h is added at open. Foreign keys
 * tie everything to devices; the codes are written only by this file, from those
 * tables, so the hot tables spare themselves those checks. */
/* Step 4: the canary gate's figures per batch (src/rollout/canary.c), each
 * rollout device's exporter port (the gate scrapes /metrics), and the audit
 * trail's who/where/why in columns of their own (history --audit). */
#define MIGRATION_CANARY_AUDIT                                                                  \
	"ALTER TABLE rollout_devices ADD COLUMN metrics_port INTEGER; -- NULL: 8000\n"            \
	"CREATE TABLE rollout_gates(        -- one row per judged batch gate\n"                   \
	"  rollout_id INTEGER NOT NULL REFERENCES rollouts(id),\n"                                \
	"  batch INTEGER NOT NULL,\n"                                                             \
	"  ts INTEGER NOT NULL,\n"                                                                \
	"  outcome TEXT NOT NULL,           -- pass, fail, inconclusive\n"                        \
	"  soak_ms INTEGER NOT NULL,\n"                                                           \
	"  figures TEXT NOT NULL,           -- JSON: both sides' requests, errors, p95, limits\n" \
	"  reason TEXT NOT NULL,\n"                                                               \
	"  PRIMARY KEY(rollout_id, batch, ts)\n"                                                  \
	") WITHOUT ROWID;\n"                                                                       \
	"ALTER TABLE audit ADD COLUMN user TEXT;\n"                                               \
	"ALTER TABLE audit ADD COLUMN ssh_connection TEXT;\n"                                     \
	"ALTER TABLE audit ADD COLUMN origin_host TEXT;   -- the machine the command ran on\n"    \
	"ALTER TABLE audit ADD COLUMN pid INTEGER;\n"                                             \
	"ALTER TABLE audit ADD COLUMN rollout_id INTEGER;\n"                                      \
	"ALTER TABLE audit ADD COLUMN outcome TEXT;       -- NULL or done; refused: why\n"        \
	"CREATE INDEX audit_rollout ON audit(rollout_id, ts) WHERE rollout_id IS NOT NULL;\n"

static const char *const migrations[] = {
	/* 1: what the poller observes */
	"CREATE TABLE meta(\n"
	"  key TEXT PRIMARY KEY,\n"
	"  value INTEGER NOT NULL\n"
	") WITHOUT ROWID;\n"
	"CREATE TABLE states(\n"
	"  code INTEGER PRIMARY KEY,\n"
	"  name TEXT NOT NULL UNIQUE,\n"
	"  rank INTEGER NOT NULL            -- higher is worse (device.h)\n"
	");\n"
	"INSERT INTO states(code, name, rank) VALUES (0, 'pending', 0), (1, 'healthy', 1),\n"
	"  (2, 'degraded', 3), (3, 'unhealthy', 4), (4, 'unreachable', 5), (5, 'stale', 2);\n"
	"CREATE TABLE reasons(\n"
	"  code INTEGER PRIMARY KEY,\n"
	"  name TEXT NOT NULL UNIQUE\n"
	");\n"
	"INSERT INTO reasons(code, name) VALUES (1, 'refused'), (2, 'timeout'), (3, 'dns'),\n"
	"  (4, 'auth'), (5, 'hostkey'), (6, 'reset'), (7, 'network'), (8, 'http'), (9, 'malformed'),\n"
	"  (10, 'oversized'), (11, 'reported'), (12, 'not_polled');\n"
	"CREATE TABLE models(\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  version TEXT NOT NULL UNIQUE\n"
	");\n"
	"CREATE TABLE devices(\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  host TEXT NOT NULL UNIQUE,\n"
	"  factory TEXT,\n"
	"  first_seen INTEGER NOT NULL,     -- ms since the epoch, as every time here\n"
	"  last_ts INTEGER,                 -- newest sample, and its state: what events compare with\n"
	"  last_state INTEGER REFERENCES states(code),\n"
	"  last_reason INTEGER REFERENCES reasons(code),\n"
	"  last_seen INTEGER                -- last successful answer\n"
	");\n"
	"CREATE TABLE samples(              -- one per device per cycle; NULL: not reported\n"
	"  device_id INTEGER NOT NULL REFERENCES devices(id),\n"
	"  ts INTEGER NOT NULL,\n"
	"  state INTEGER NOT NULL,          -- states.code\n"
	"  reason INTEGER,                  -- reasons.code\n"
	"  model INTEGER,                   -- models.id\n"
	"  rtt_us INTEGER,\n"
	"  gpu_temp_mc INTEGER,\n"
	"  gpu_util_permille INTEGER,\n"
	"  gpu_mem_mib INTEGER,\n"
	"  power_mw INTEGER,\n"
	"  latency_p95_us INTEGER,\n"
	"  error_rate_ppm INTEGER,\n"
	"  drift_ppm INTEGER,\n"
	"  uptime_s INTEGER,\n"
	"  PRIMARY KEY(device_id, ts)\n"
	") WITHOUT ROWID;\n"
	"CREATE TABLE events(               -- a device's change of state\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  ts INTEGER NOT NULL,\n"
	"  device_id INTEGER NOT NULL REFERENCES devices(id),\n"
	"  from_state INTEGER REFERENCES states(code),\n"
	"  to_state INTEGER NOT NULL REFERENCES states(code),\n"
	"  reason INTEGER REFERENCES reasons(code),\n"
	"  detail TEXT\n"
	");\n"
	"CREATE INDEX events_device ON events(device_id, ts);\n"
	"CREATE INDEX events_ts ON events(ts);\n"
	"CREATE TABLE cycles(               -- one per poll cycle written\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  started INTEGER NOT NULL,\n"
	"  ended INTEGER NOT NULL,\n"
	"  who TEXT NOT NULL,               -- console, report, ...\n"
	"  pid INTEGER NOT NULL,\n"
	"  samples INTEGER NOT NULL,        -- rows written\n"
	"  n_pending INTEGER NOT NULL,\n"
	"  n_healthy INTEGER NOT NULL,\n"
	"  n_degraded INTEGER NOT NULL,\n"
	"  n_unhealthy INTEGER NOT NULL,\n"
	"  n_unreachable INTEGER NOT NULL,\n"
	"  n_stale INTEGER NOT NULL\n"
	");\n"
	"CREATE INDEX cycles_started ON cycles(started);\n"
	"CREATE TABLE audit(\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  ts INTEGER NOT NULL,\n"
	"  actor TEXT NOT NULL,\n"
	"  action TEXT NOT NULL,\n"
	"  target TEXT,\n"
	"  detail TEXT\n"
	");\n"
	"CREATE INDEX audit_ts ON audit(ts);\n",

	/* 2: what is derived (rollups, and the queue of steps that make and prune them),
	 * and alerts */
	"CREATE TABLE rollup_minute(\n"
	"  device_id INTEGER NOT NULL REFERENCES devices(id),\n"
	"  ts INTEGER NOT NULL,             -- the bucket's start\n"
	"  n INTEGER NOT NULL,              -- samples\n"
	"  worst INTEGER NOT NULL,          -- states.code of the highest rank\n"
	"  rtt_us_min INTEGER, rtt_us_avg INTEGER, rtt_us_max INTEGER,\n"
	"  gpu_temp_mc_min INTEGER, gpu_temp_mc_avg INTEGER, gpu_temp_mc_max INTEGER,\n"
	"  gpu_util_permille_min INTEGER, gpu_util_permille_avg INTEGER, gpu_util_permille_max INTEGER,\n"
	"  gpu_mem_mib_min INTEGER, gpu_mem_mib_avg INTEGER, gpu_mem_mib_max INTEGER,\n"
	"  power_mw_min INTEGER, power_mw_avg INTEGER, power_mw_max INTEGER,\n"
	"  latency_p95_us_min INTEGER, latency_p95_us_avg INTEGER, latency_p95_us_max INTEGER,\n"
	"  error_rate_ppm_min INTEGER, error_rate_ppm_avg INTEGER, error_rate_ppm_max INTEGER,\n"
	"  drift_ppm_min INTEGER, drift_ppm_avg INTEGER, drift_ppm_max INTEGER,\n"
	"  uptime_s_min INTEGER, uptime_s_avg INTEGER, uptime_s_max INTEGER,\n"
	"  PRIMARY KEY(device_id, ts)\n"
	") WITHOUT ROWID;\n"
	"CREATE TABLE rollup_hour(\n"
	"  device_id INTEGER NOT NULL REFERENCES devices(id),\n"
	"  ts INTEGER NOT NULL,\n"
	"  n INTEGER NOT NULL,\n"
	"  worst INTEGER NOT NULL,\n"
	"  rtt_us_min INTEGER, rtt_us_avg INTEGER, rtt_us_max INTEGER,\n"
	"  gpu_temp_mc_min INTEGER, gpu_temp_mc_avg INTEGER, gpu_temp_mc_max INTEGER,\n"
	"  gpu_util_permille_min INTEGER, gpu_util_permille_avg INTEGER, gpu_util_permille_max INTEGER,\n"
	"  gpu_mem_mib_min INTEGER, gpu_mem_mib_avg INTEGER, gpu_mem_mib_max INTEGER,\n"
	"  power_mw_min INTEGER, power_mw_avg INTEGER, power_mw_max INTEGER,\n"
	"  latency_p95_us_min INTEGER, latency_p95_us_avg INTEGER, latency_p95_us_max INTEGER,\n"
	"  error_rate_ppm_min INTEGER, error_rate_ppm_avg INTEGER, error_rate_ppm_max INTEGER,\n"
	"  drift_ppm_min INTEGER, drift_ppm_avg INTEGER, drift_ppm_max INTEGER,\n"
	"  uptime_s_min INTEGER, uptime_s_avg INTEGER, uptime_s_max INTEGER,\n"
	"  PRIMARY KEY(device_id, ts)\n"
	") WITHOUT ROWID;\n"
	"CREATE TABLE maint_todo(           -- steps store_maintain has still to do\n"
	"  job INTEGER NOT NULL,            -- 0/1 roll up a minute/hour; 2/3/4 prune raw/minute/hour\n"
	"  bucket INTEGER NOT NULL,         -- rollups: the bucket's start; prunes: delete before\n"
	"  next_device INTEGER NOT NULL DEFAULT 0, -- devices up to this id are done\n"
	"  PRIMARY KEY(job, bucket)\n"
	") WITHOUT ROWID;\n"
	"INSERT INTO maint_todo(job, bucket)\n"
	"  SELECT DISTINCT 0, ts - ((ts % 60000) + 60000) % 60000 FROM samples;\n"
	"INSERT INTO maint_todo(job, bucket)\n"
	"  SELECT DISTINCT 1, ts - ((ts % 3600000) + 3600000) % 3600000 FROM samples;\n"
	"CREATE TABLE alerts(               -- one row from firing to resolution\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  host TEXT NOT NULL,              -- a device, or whatever else the rule is about\n"
	"  rule TEXT NOT NULL,\n"
	"  severity TEXT NOT NULL,\n"
	"  message TEXT NOT NULL,\n"
	"  first_fired INTEGER NOT NULL,\n"
	"  last_seen INTEGER NOT NULL,\n"
	"  resolved_at INTEGER\n"
	");\n"
	"CREATE UNIQUE INDEX alerts_firing ON alerts(host, rule) WHERE resolved_at IS NULL;\n"
	"CREATE INDEX alerts_host ON alerts(host, rule, first_fired);\n"
	"CREATE INDEX alerts_resolved ON alerts(resolved_at) WHERE resolved_at IS NOT NULL;\n",

	/* 3: staged model rollouts (src/rollout/rolldb.c reads and writes them) */
	"CREATE TABLE rollouts(\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  model TEXT NOT NULL,\n"
	"  version TEXT NOT NULL,\n"
	"  model_url TEXT NOT NULL,\n"
	"  checksum TEXT NOT NULL,          -- SHA-256 hex, from the registry's index\n"
	"  batches TEXT NOT NULL,           -- the plan: JSON [[host, ...], ...]\n"
	"  params TEXT NOT NULL,            -- JSON: max_fail, forks, timeouts, waits, lease\n"
	"  state TEXT NOT NULL,\n"
	"  current_batch INTEGER NOT NULL DEFAULT 0,\n"
	"  stop_reason TEXT,\n"
	"  lease_owner TEXT,                -- the runner holding it, NULL: none\n"
	"  lease_expiry INTEGER,            -- ms since the epoch\n"
	"  created_by TEXT NOT NULL,\n"
	"  created_at INTEGER NOT NULL,\n"
	"  updated_at INTEGER NOT NULL\n"
	");\n"
	"CREATE TABLE rollout_devices(\n"
	"  rollout_id INTEGER NOT NULL REFERENCES rollouts(id),\n"
	"  host TEXT NOT NULL,\n"
	"  ord INTEGER NOT NULL,            -- plan order\n"
	"  batch INTEGER NOT NULL,\n"
	"  address TEXT NOT NULL,\n"
	"  port INTEGER NOT NULL,\n"
	"  step TEXT NOT NULL,\n"
	"  step_started INTEGER,\n"
	"  step_ended INTEGER,\n"
	"  prev_version TEXT,               -- what it ran before anything changed\n"
	"  error TEXT,\n"
	"  attempts INTEGER NOT NULL DEFAULT 0, -- POST /update sent\n"
	"  PRIMARY KEY(rollout_id, host)\n"
	") WITHOUT ROWID;\n"
	"CREATE INDEX rollout_devices_batch ON rollout_devices(rollout_id, batch, ord);\n"
	"CREATE TABLE rollout_log(          -- every step's start and end\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  rollout_id INTEGER NOT NULL REFERENCES rollouts(id),\n"
	"  host TEXT,                       -- NULL: the rollout itself\n"
	"  ts INTEGER NOT NULL,\n"
	"  step TEXT NOT NULL,\n"
	"  event TEXT NOT NULL,             -- start, end\n"
	"  ok INTEGER,\n"
	"  detail TEXT\n"
	");\n"
	"CREATE INDEX rollout_log_rollout ON rollout_log(rollout_id, id);\n"
	"CREATE TABLE rollout_holds(        -- one rollout at a time per device\n"
	"  host TEXT PRIMARY KEY,\n"
	"  rollout_id INTEGER NOT NULL REFERENCES rollouts(id)\n"
	") WITHOUT ROWID;\n",

	/* 4: drift comparisons, a table of their own (the samples keep the worst KS
	 * as drift_ppm): one row per device and /drift window */
	"CREATE TABLE drift_samples(\n"
	"  host TEXT NOT NULL,\n"
	"  ts INTEGER NOT NULL,             -- when the window came\n"
	"  baseline TEXT NOT NULL,          -- the model name:version compared against\n"
	"  max_ks_ppm INTEGER NOT NULL,\n"
	"  severity TEXT NOT NULL,          -- none, warning, critical\n"
	"  features TEXT NOT NULL,          -- JSON: {feature: KS statistic}\n"
	"  PRIMARY KEY(host, ts)\n"
	") WITHOUT ROWID;\n"
	"CREATE INDEX drift_samples_ts ON drift_samples(ts);\n",
	/* 5 */ MIGRATION_CANARY_AUDIT,
	/* 6: minute rollups past the raw retention, an hour of a device per row (the
	 * raw prune packs them; see minpack.h). Minutes already past it when the file
	 * is migrated are packed by redoing the last raw prune. */
	"CREATE TABLE minute_packs(         -- keyed by time first: each hour's packs are appended\n"
	"  ts INTEGER NOT NULL,             -- the hour's start\n"
	"  device_id INTEGER NOT NULL REFERENCES devices(id),\n"
	"  part INTEGER NOT NULL,           -- a pack is cut in parts of at most PACK_PART bytes\n"
	"  data BLOB NOT NULL,              -- its minute rollups (store/minpack.c), this part\n"
	"  PRIMARY KEY(ts, device_id, part)\n"
	") WITHOUT ROWID;\n"
	"INSERT INTO maint_todo(job, bucket) SELECT 2, value FROM meta WHERE key = 'raw_horizon'\n"
	"  ON CONFLICT(job, bucket) DO UPDATE SET next_device = 0;\n",
	/* 7: rollouts to agentless devices */
	"-- how each device of a rollout is reached\n"
	"ALTER TABLE rollout_devices ADD COLUMN transport TEXT NOT NULL DEFAULT 'http'; -- http, ssh\n"
	"ALTER TABLE rollout_devices ADD COLUMN target TEXT; -- ssh: JSON, the device's SSH and model settings\n",
};
#define LATEST_VERSION ((int)(sizeof migrations / sizeof *migrations))

/* The cycles table has a column per state: a new state in device.h needs a
 * migration adding its column (and the INSERT below). */
_Static_assert(DEV_STATE_COUNT == 6, "a new dev_state needs an n_<state> column in cycles: add a migration");

enum job { JOB_ROLLUP_MINUTE, JOB_ROLLUP_HOUR, JOB_PRUNE_RAW, JOB_PRUNE_MINUTE, JOB_PRUNE_HOUR };

/* ---- Statements, prepared once per store ---- */

enum {
	S_BEGIN_WRITE,
	S_BEGIN_READ,
	S_COMMIT,
	S_ROLLBACK,
	S_DATA_VERSION,
	S_DEV_LOAD,
	S_DEV_INSERT,
	S_DEV_FACTORY,
	S_DEV_LAST,
	S_MODEL_INSERT,
	S_MODEL_GET,
	S_SAMPLE_INSERT,
	S_EVENT_INSERT,
	S_TODO_ADD,
	S_CYCLE_INSERT,
	S_META_GET,
	S_META_SET,
	S_TODO_NEXT,
	S_TODO_PROGRESS,
	S_TODO_DONE,
	S_TODO_DROP_JOB,
	S_DEV_MAXID,
	S_ROLLUP_MINUTE,
	S_ROLLUP_HOUR,
	S_PRUNE_RAW,
	S_PRUNE_MINUTE,
	S_PRUNE_HOUR,
	S_PRUNE_EVENTS,
	S_PRUNE_CYCLES,
	S_PRUNE_ALERTS,
	S_PRUNE_AUDIT,
	S_ALERT_FIRING,
	S_ALERT_LAST_RESOLVED,
	S_ALERT_INSERT,
	S_ALERT_UPDATE,
	S_ALERT_RESOLVE,
	S_AUDIT_INSERT,
	S_HOST_KNOWN,
	S_ROWS_RAW,
	S_ROWS_MINUTE,
	S_ROWS_HOUR,
	S_PACK_SRC,
	S_PACK_OLDEST,
	S_PACK_GET,
	S_PACK_DEL,
	S_PACK_PUT,
	S_PRUNE_PACKS,
	S_HOST_ID,
	S_PACK_SPAN,
	S_EVENTS_ALL,
	S_EVENTS_HOST,
	S_ALERTS_QUERY,
	S_LATEST,
	S_COUNT
};

static const char *const static_sql[S_COUNT] = {
	[S_BEGIN_WRITE] = "BEGIN IMMEDIATE",
	[S_BEGIN_READ] = "BEGIN",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_DATA_VERSION] = "PRAGMA data_version",
	[S_DEV_LOAD] = "SELECT id, host, factory, last_state, last_ts FROM devices",
	[S_DEV_INSERT] = "INSERT INTO devices(host, factory, first_seen) VALUES (?1, ?2, ?3)",
	[S_DEV_FACTORY] = "UPDATE devices SET factory = ?2 WHERE id = ?1",
	[S_DEV_LAST] = "UPDATE devices SET last_ts = ?2, last_state = ?3, last_reason = ?4,"
		       " last_seen = CASE WHEN ?5 > coalesce(last_seen, 0) THEN ?5 ELSE last_seen END"
		       " WHERE id = ?1",
	[S_MODEL_INSERT] = "INSERT OR IGNORE INTO models(version) VALUES (?1)",
	[S_MODEL_GET] = "SELECT id FROM models WHERE version = ?1",
	[S_EVENT_INSERT] = "INSERT INTO events(ts, device_id, from_state, to_state, reason, detail)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[S_TODO_ADD] = "INSERT INTO maint_todo(job, bucket, next_device) VALUES (?1, ?2, 0)"
		       " ON CONFLICT(job, bucket) DO UPDATE SET next_device = 0",
	[S_CYCLE_INSERT] = "INSERT INTO cycles(started, ended, who, pid, samples, n_pending, n_healthy,"
			   " n_degraded, n_unhealthy, n_unreachable, n_stale)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[S_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[S_META_SET] = "INSERT INTO meta(key, value) VALUES (?1, ?2)"
		       " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[S_TODO_NEXT] = "SELECT job, bucket, next_device FROM maint_todo"
			" WHERE job >= 2 OR (job = 0 AND bucket <= ?1) OR (job = 1 AND bucket <= ?2)"
			" ORDER BY bucket, job LIMIT 1",
	[S_TODO_PROGRESS] = "UPDATE maint_todo SET next_device = ?3 WHERE job = ?1 AND bucket = ?2",
	[S_TODO_DONE] = "DELETE FROM maint_todo WHERE job = ?1 AND bucket = ?2",
	[S_TODO_DROP_JOB] = "DELETE FROM maint_todo WHERE job = ?1",
	[S_DEV_MAXID] = "SELECT coalesce(max(id), 0) FROM devices",
	[S_PRUNE_RAW] = "DELETE FROM samples WHERE device_id IN"
			" (SELECT id FROM devices WHERE id > ?1 AND id <= ?2) AND ts < ?3",
	[S_PRUNE_MINUTE] = "DELETE FROM rollup_minute WHERE device_id IN"
			   " (SELECT id FROM devices WHERE id > ?1 AND id <= ?2) AND ts < ?3",
	[S_PRUNE_HOUR] = "DELETE FROM rollup_hour WHERE device_id IN"
			 " (SELECT id FROM devices WHERE id > ?1 AND id <= ?2) AND ts < ?3",
	[S_PRUNE_EVENTS] = "DELETE FROM events WHERE ts < ?1",
	[S_PRUNE_CYCLES] = "DELETE FROM cycles WHERE started < ?1",
	[S_PRUNE_ALERTS] = "DELETE FROM alerts WHERE resolved_at < ?1",
	[S_PRUNE_AUDIT] = "DELETE FROM audit WHERE ts < ?1",
	[S_ALERT_FIRING] = "SELECT id, last_seen FROM alerts WHERE host = ?1 AND rule = ?2 AND resolved_at IS NULL",
	[S_ALERT_LAST_RESOLVED] = "SELECT max(resolved_at) FROM alerts WHERE host = ?1 AND rule = ?2",
	[S_ALERT_INSERT] = "INSERT INTO alerts(host, rule, severity, message, first_fired, last_seen)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
	[S_ALERT_UPDATE] = "UPDATE alerts SET last_seen = ?2, severity = ?3, message = ?4 WHERE id = ?1",
	[S_ALERT_RESOLVE] = "UPDATE alerts SET resolved_at = ?2 WHERE id = ?1",
	[S_AUDIT_INSERT] = "INSERT INTO audit(ts, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_HOST_KNOWN] = "SELECT 1 FROM devices WHERE host = ?1",
	[S_PACK_OLDEST] = "SELECT min((SELECT min(ts) FROM rollup_minute WHERE device_id = d.id AND ts < ?3))"
			  " FROM devices d WHERE d.id > ?1 AND d.id <= ?2",
	[S_PACK_GET] = "SELECT data FROM minute_packs WHERE device_id = ?1 AND ts = ?2 ORDER BY part",
	[S_PACK_DEL] = "DELETE FROM minute_packs WHERE device_id = ?1 AND ts = ?2",
	[S_PACK_PUT] = "INSERT INTO minute_packs(device_id, ts, part, data) VALUES (?1, ?2, ?3, ?4)",
	[S_PRUNE_PACKS] = "DELETE FROM minute_packs WHERE ts < ?1",
	[S_HOST_ID] = "SELECT id FROM devices WHERE host = ?1",
	[S_PACK_SPAN] = "SELECT min(ts), max(ts) FROM minute_packs",
	[S_EVENTS_ALL] = "SELECT * FROM (SELECT e.id, e.ts, d.host, f.name, t.name, r.name, e.detail"
			 " FROM events e JOIN devices d ON d.id = e.device_id"
			 " LEFT JOIN states f ON f.code = e.from_state LEFT JOIN states t ON t.code = e.to_state"
			 " LEFT JOIN reasons r ON r.code = e.reason"
			 " WHERE e.ts >= ?2 AND e.ts < ?3 ORDER BY e.ts DESC, e.id DESC LIMIT ?4)"
			 " ORDER BY 2, 1",
	[S_EVENTS_HOST] = "SELECT * FROM (SELECT e.id, e.ts, d.host, f.name, t.name, r.name, e.detail"
			  " FROM events e JOIN devices d ON d.id = e.device_id"
			  " LEFT JOIN states f ON f.code = e.from_state LEFT JOIN states t ON t.code = e.to_state"
			  " LEFT JOIN reasons r ON r.code = e.reason"
			  " WHERE e.device_id = (SELECT id FROM devices WHERE host = ?1)"
			  " AND e.ts >= ?2 AND e.ts < ?3 ORDER BY e.ts DESC, e.id DESC LIMIT ?4)"
			  " ORDER BY 2, 1",
	[S_ALERTS_QUERY] = "SELECT id, host, rule, severity, message, first_fired, last_seen, resolved_at"
			   " FROM alerts WHERE (?1 IS NULL OR host = ?1)"
			   " AND (resolved_at IS NULL OR (?2 = 0 AND max(last_seen, resolved_at) >= ?3))"
			   " ORDER BY first_fired, id",
	[S_LATEST] = "SELECT d.host, d.factory, d.first_seen, d.last_ts, d.last_seen, s.name, r.name"
		     " FROM devices d LEFT JOIN states s ON s.code = d.last_state"
		     " LEFT JOIN reasons r ON r.code = d.last_reason ORDER BY d.host",
};

/* ---- The handle ---- */

struct dev { /* what the write path knows of a device, as of the last transaction */
	int64_t id;
	char *host;
	char *factory;
	int last_state; /* states.code, -1 for none yet */
	int64_t last_ts;
};

struct pend { /* a sample waiting for store_cycle_end */
	char *host, *factory, *detail, *model;
	int64_t ts, last_seen;
	dev_state state;
	dev_reason reason;
	unsigned have; /* bit f: v[f] holds a value */
	int64_t v[STORE_NFIELDS];
};

struct store {
	sqlite3 *db;
	char *path;
	char *warning;
	store_opts o;
	int version;
	sqlite3_stmt *st[S_COUNT];
	char *dyn_sql[S_COUNT]; /* statements built from the field table */
	int64_t txns;

	int state_code[DEV_STATE_COUNT];   /* -1: not in the file (read-only, older) */
	int reason_code[DEV_REASON_COUNT]; /* DEV_REASON_NONE: -1, stored as NULL */

	strmap *devs; /* host -> struct dev */
	bool devs_valid;
	int64_t data_version;
	strmap *models; /* version -> id (ids never change once committed) */

	bool in_cycle;
	int64_t cycle_start;
	char *cycle_who;
	struct pend *pend;
	size_t npend, cappend;
	int64_t counts[DEV_STATE_COUNT];

	int64_t maint_minute; /* the minute store_maintain last caught up in */
	int64_t maint_hour;   /* the hour it last queued prunes in */
};

static void set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(char **err, const char *fmt, ...)
{
	if (!err)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	free(*err);
	*err = m;
}

static void db_err(store *s, char **err, const char *what)
{
	set_err(err, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int64_t floor_to(int64_t t, int64_t unit)
{
	int64_t r = t % unit;
	return r < 0 ? t - r - unit : t - r;
}

static bool observed(dev_state st)
{
	/* pending: never polled; stale: the last observation is too old. Neither
	 * says anything new about the device. */
	return st != DEV_PENDING && st != DEV_STALE && (unsigned)st < DEV_STATE_COUNT;
}

static const char *sql_of(store *s, int id)
{
	return s->dyn_sql[id] ? s->dyn_sql[id] : static_sql[id];
}

/* The cached statement id, reset and ready to bind; NULL with *err set on error. */
static sqlite3_stmt *stmt(store *s, int id, char **err)
{
	sqlite3_stmt *st = s->st[id];
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return st;
	}
	if (sqlite3_prepare_v3(s->db, sql_of(s, id), -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		db_err(s, err, "preparing a statement");
		return NULL;
	}
	s->st[id] = st;
	return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_opt_int(sqlite3_stmt *st, int i, bool have, int64_t v)
{
	if (have)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

/* Steps a statement that returns no row (or whose rows are not wanted). */
static int run(store *s, sqlite3_stmt *st, char **err, const char *what)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		set_err(err, "%s: %s: %s", s->path, what, sqlite3_errstr(rc));
		return -1;
	}
	return 0;
}

/* A single-integer query; *found false if no row or NULL. */
static int query_int(store *s, sqlite3_stmt *st, int64_t *out, bool *found, char **err, const char *what)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*found = sqlite3_column_type(st, 0) != SQLITE_NULL;
		*out = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		return 0;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE) {
		*found = false;
		return 0;
	}
	set_err(err, "%s: %s: %s", s->path, what, sqlite3_errstr(rc));
	return -1;
}

static int exec_sql(store *s, const char *sql, char **err)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		set_err(err, "%s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static void pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rollback(store *s)
{
	if (sqlite3_get_autocommit(s->db))
		return;
	sqlite3_stmt *st = stmt(s, S_ROLLBACK, NULL);
	if (st)
		run(s, st, NULL, "rollback");
	if (!sqlite3_get_autocommit(s->db)) /* the cached statement failed to prepare? */
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* BEGIN IMMEDIATE: takes the write lock now, waiting busy_timeout for another
 * writer, so nothing later in the transaction can fail for a lock. It can still
 * be refused at once in a few cases where SQLite does not wait (a WAL being
 * recovered or reset), and a writer may hold the lock longer than we wait: try a
 * few times, backing off. */
static int begin_write(store *s, char **err)
{
	for (int attempt = 0;; attempt++) {
		sqlite3_stmt *st = stmt(s, S_BEGIN_WRITE, err);
		if (!st)
			return -1;
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc == SQLITE_DONE)
			return 0;
		int prim = rc & 0xff;
		if ((prim == SQLITE_BUSY || prim == SQLITE_LOCKED) && attempt < 4) {
			/* spread retries of processes that gave up together */
			pause_ms((25 << attempt) + (int)(getpid() % 25));
			continue;
		}
		if (prim == SQLITE_BUSY)
			set_err(err, "%s: another fleetdeck has been writing for over %d s; gave up", s->path,
				s->o.busy_timeout_ms / 1000 * (attempt + 1));
		else
			set_err(err, "%s: cannot start writing: %s", s->path, sqlite3_errstr(rc));
		return -1;
	}
}

static int commit(store *s, char **err)
{
	sqlite3_stmt *st = stmt(s, S_COMMIT, err);
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		set_err(err, "%s: commit: %s", s->path, sqlite3_errstr(rc));
		rollback(s);
		return -1;
	}
	s->txns++;
	return 0;
}

static int begin_read(store *s, char **err)
{
	sqlite3_stmt *st = stmt(s, S_BEGIN_READ, err);
	return st ? run(s, st, err, "begin") : -1;
}

/* Ends a read transaction (a COMMIT of nothing cannot fail for want of a lock). */
static void end_read(store *s)
{
	sqlite3_stmt *st = stmt(s, S_COMMIT, NULL);
	if (st)
		run(s, st, NULL, "end of read");
	rollback(s);
}

static int meta_get(store *s, const char *key, int64_t dflt, int64_t *out, char **err)
{
	sqlite3_stmt *st = stmt(s, S_META_GET, err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	bool found;
	if (query_int(s, st, out, &found, err, "reading meta"))
		return -1;
	if (!found)
		*out = dflt;
	return 0;
}

static int meta_set(store *s, const char *key, int64_t v, char **err)
{
	sqlite3_stmt *st = stmt(s, S_META_SET, err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	return run(s, st, err, "writing meta");
}

/* ---- SQL built from the field table ---- */

static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *piece = xvasprintf(fmt, ap);
	va_end(ap);
	size_t n = strlen(piece);
	*buf = xgrow(*buf, cap, *len + n + 1, 1);
	memcpy(*buf + *len, piece, n + 1);
	*len += n;
	free(piece);
}

static char *build_sample_insert(void)
{
	char *b = NULL;
	size_t len = 0, cap = 0;
	append(&b, &len, &cap, "INSERT OR IGNORE INTO samples(device_id, ts, state, reason, model");
	for (int f = 0; f < STORE_NFIELDS; f++)
		append(&b, &len, &cap, ", %s", field_store[f].col);
	append(&b, &len, &cap, ") VALUES (?, ?, ?, ?, ?");
	for (int f = 0; f < STORE_NFIELDS; f++)
		append(&b, &len, &cap, ", ?");
	append(&b, &len, &cap, ")");
	return b;
}

/* Rolls raw samples of devices (?3, ?4] in [?1, ?2) up into table. The worst state
 * is the highest rank; code breaks ties (and rides along in the low byte). */
static char *build_rollup(const char *table)
{
	char *b = NULL;
	size_t len = 0, cap = 0;
	append(&b, &len, &cap, "INSERT OR REPLACE INTO %s(device_id, ts, n, worst", table);
	for (int f = 0; f < STORE_NFIELDS; f++)
		append(&b, &len, &cap, ", %s_min, %s_avg, %s_max", field_store[f].col, field_store[f].col,
		       field_store[f].col);
	append(&b, &len, &cap, ") SELECT s.device_id, ?1, count(*), max(st.rank * 256 + st.code) & 255");
	for (int f = 0; f < STORE_NFIELDS; f++)
		append(&b, &len, &cap, ", min(s.%s), CAST(round(avg(s.%s)) AS INTEGER), max(s.%s)",
		       field_store[f].col, field_store[f].col, field_store[f].col);
	append(&b, &len, &cap,
	       " FROM samples s JOIN states st ON st.code = s.state"
	       " WHERE s.device_id IN (SELECT id FROM devices WHERE id > ?3 AND id <= ?4)"
	       " AND s.ts >= ?1 AND s.ts < ?2 GROUP BY s.device_id");
	return b;
}

/* Rows of one host in [?2, ?3): the same columns for raw samples and rollups, so
 * one function reads both: ts, count, state name, reason name, model, then
 * min, avg, max of each field. */
static char *build_rows(const char *table)
{
	char *b = NULL;
	size_t len = 0, cap = 0;
	bool raw = strcmp(table, "samples") == 0;
	if (raw)
		append(&b, &len, &cap, "SELECT x.ts, 1, st.name, r.name, m.version");
	else
		append(&b, &len, &cap, "SELECT x.ts, x.n, st.name, NULL, NULL");
	for (int f = 0; f < STORE_NFIELDS; f++) {
		const char *c = field_store[f].col;
		if (raw)
			append(&b, &len, &cap, ", x.%s, x.%s, x.%s", c, c, c);
		else
			append(&b, &len, &cap, ", x.%s_min, x.%s_avg, x.%s_max", c, c, c);
	}
	append(&b, &len, &cap, " FROM %s x LEFT JOIN states st ON st.code = x.%s", table, raw ? "state" : "worst");
	if (raw)
		append(&b, &len, &cap,
		       " LEFT JOIN reasons r ON r.code = x.reason LEFT JOIN models m ON m.id = x.model");
	append(&b, &len, &cap,
	       " WHERE x.device_id = (SELECT id FROM devices WHERE host = ?1) AND x.ts >= ?2 AND x.ts < ?3"
	       " ORDER BY x.ts");
	return b;
}

/* Minute rollups of devices (?1, ?2] before ?3, to pack: device, ts, n, worst,
 * then min, avg, max of each field. */
static char *build_pack_src(void)
{
	char *b = NULL;
	size_t len = 0, cap = 0;
	append(&b, &len, &cap, "SELECT device_id, ts, n, worst");
	for (int f = 0; f < STORE_NFIELDS; f++) {
		const char *c = field_store[f].col;
		append(&b, &len, &cap, ", %s_min, %s_avg, %s_max", c, c, c);
	}
	append(&b, &len, &cap,
	       " FROM rollup_minute WHERE device_id IN (SELECT id FROM devices WHERE id > ?1 AND id <= ?2)"
	       " AND ts < ?3 ORDER BY device_id, ts");
	return b;
}

/* ---- Opening ---- */

void store_opts_default(store_opts *o)
{
	memset(o, 0, sizeof *o);
	o->keep_raw_ms = 48 * HOUR_MS;
	o->keep_minute_ms = 14 * DAY_MS;
	o->keep_hour_ms = 400 * DAY_MS;
	o->keep_events_ms = 400 * DAY_MS;
	o->keep_alerts_ms = 400 * DAY_MS;
	o->keep_cycles_ms = 14 * DAY_MS;
	o->keep_audit_ms = 0;
	o->rollup_delay_ms = 2 * MINUTE_MS;
	o->busy_timeout_ms = 10000;
	o->maintain_budget_ms = 200;
	o->maintain_max_txns = 0;
}

char *store_default_path(void)
{
	const char *xdg = getenv("XDG_DATA_HOME");
	if (xdg && *xdg == '/')
		return xasprintf("%s/fleetdeck/history.db", xdg);
	const char *home = getenv("HOME");
	return xasprintf("%s/.local/share/fleetdeck/history.db", home && *home ? home : ".");
}

const char *store_path(const store *s)
{
	return s->path;
}

const char *store_warning(const store *s)
{
	return s->warning;
}

int store_schema_latest(void)
{
	return LATEST_VERSION;
}

int store_schema_version(const store *s)
{
	return s->version;
}

int64_t store_txn_count(const store *s)
{
	return s->txns;
}

static void add_warning(store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_warning(store *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	if (s->warning) {
		char *both = xasprintf("%s; %s", s->warning, m);
		free(m);
		m = both;
	}
	free(s->warning);
	s->warning = m;
}

static int make_parents(const char *path, char **err)
{
	char *p = xstrdup(path);
	int rc = 0;
	for (char *q = p + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			set_err(err, "%s: cannot create directory %s: %s", path, p, strerror(errno));
			rc = -1;
			break;
		}
		*q = '/';
	}
	free(p);
	return rc;
}

/* Creates path 0600 if missing (SQLite would create it 0644 & ~umask); tightens
 * an existing file that others may read, and its -wal and -shm. */
static int prepare_file(store *s, char **err)
{
	struct stat sb;
	if (stat(s->path, &sb) != 0) {
		if (errno != ENOENT) {
			set_err(err, "%s: %s", s->path, strerror(errno));
			return -1;
		}
		if (s->o.must_exist) {
			set_err(err, "%s: no such file", s->path);
			return -1;
		}
		if (make_parents(s->path, err))
			return -1;
		int fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST) {
			set_err(err, "%s: cannot create: %s", s->path, strerror(errno));
			return -1;
		}
		if (fd >= 0) {
			/* the umask can only take bits away, but it may take the owner's */
			if (fstat(fd, &sb) == 0 && (sb.st_mode & 0777) != 0600 && fchmod(fd, 0600) != 0) {
				set_err(err, "%s: cannot set mode 0600: %s", s->path, strerror(errno));
				close(fd);
				return -1;
			}
			close(fd);
			return 0;
		}
		if (stat(s->path, &sb) != 0) { /* created by someone else in between */
			set_err(err, "%s: %s", s->path, strerror(errno));
			return -1;
		}
	}
	if (!S_ISREG(sb.st_mode)) {
		set_err(err, "%s: not a regular file", s->path);
		return -1;
	}
	if (sb.st_mode & 077) {
		if (sb.st_uid == geteuid() && chmod(s->path, 0600) == 0) {
			add_warning(s, "%s was mode %04o, readable by others; tightened to 0600", s->path,
				    (unsigned)(sb.st_mode & 0777));
			static const char *const sfx[] = { "-wal", "-shm" };
			for (size_t i = 0; i < 2; i++) {
				char *side = xasprintf("%s%s", s->path, sfx[i]);
				struct stat ss;
				if (stat(side, &ss) == 0 && (ss.st_mode & 077) && ss.st_uid == geteuid())
					chmod(side, 0600);
				free(side);
			}
		} else {
			add_warning(s, "%s is mode %04o, readable by others, and could not be tightened to 0600",
				    s->path, (unsigned)(sb.st_mode & 0777));
		}
	}
	return 0;
}

static int pragma_int(store *s, const char *sql, int64_t *out, char **err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			*out = 0;
			rc = SQLITE_OK;
		}
	}
	int ext = sqlite3_extended_errcode(s->db);
	if (rc != SQLITE_OK) {
		if ((rc & 0xff) == SQLITE_NOTADB || (ext & 0xff) == SQLITE_NOTADB)
			set_err(err, "%s: not an SQLite database (%s)", s->path, sqlite3_errmsg(s->db));
		else if ((rc & 0xff) == SQLITE_CORRUPT || (ext & 0xff) == SQLITE_CORRUPT)
			set_err(err, "%s: the database is corrupt (%s)", s->path, sqlite3_errmsg(s->db));
		else
			set_err(err, "%s: %s", s->path, sqlite3_errmsg(s->db));
	}
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? 0 : -1;
}

/* Brings the schema to the latest version (or o.max_version), one step per
 * transaction. Each step re-reads the version under the write lock, so two
 * processes opening an old file at once apply each step once. */
static int migrate(store *s, char **err)
{
	int64_t v, appid, nobj;
	int target = s->o.max_version > 0 && s->o.max_version < LATEST_VERSION ? s->o.max_version : LATEST_VERSION;
	if (pragma_int(s, "PRAGMA user_version", &v, err) || pragma_int(s, "PRAGMA application_id", &appid, err))
		return -1;
	if (appid != APPLICATION_ID) {
		if (pragma_int(s, "SELECT count(*) FROM sqlite_schema", &nobj, err))
			return -1;
		if (appid != 0 || v != 0 || nobj != 0) {
			set_err(err, "%s: an SQLite database, but not a fleetdeck history (application_id %#x, %" PRId64
				     " schema objects)", s->path, (unsigned)appid, nobj);
			return -1;
		}
	}
	if (v > LATEST_VERSION) {
		set_err(err, "%s: history schema version %" PRId64 " is newer than this fleetdeck knows (%d); upgrade fleetdeck",
			s->path, v, LATEST_VERSION);
		return -1;
	}
	while (v < target) {
		if (begin_write(s, err))
			return -1;
		if (pragma_int(s, "PRAGMA user_version", &v, err))
			goto fail;
		if (v >= target) {
			rollback(s);
			break;
		}
		if (v == 0) {
			char *sql = xasprintf("PRAGMA application_id = %d", APPLICATION_ID);
			int rc = exec_sql(s, sql, err);
			free(sql);
			if (rc)
				goto fail;
		}
		if (exec_sql(s, migrations[v], err))
			goto fail;
		char *set = xasprintf("PRAGMA user_version = %" PRId64, v + 1);
		int rc = exec_sql(s, set, err);
		free(set);
		if (rc || commit(s, err))
			goto fail;
		v++;
		continue;
	fail:
		if (err && *err) {
			char *m = xasprintf("%s (migrating to schema version %" PRId64 ")", *err, v + 1);
			free(*err);
			*err = m;
		}
		rollback(s);
		return -1;
	}
	s->version = (int)v;
	return 0;
}

/* Maps device.h's states and reasons to the file's codes, adding any the file
 * does not know yet and updating ranks that changed. */
static int sync_codes(store *s, char **err)
{
	for (int pass = 0; pass < 2; pass++) {
		bool missing = false;
		for (int i = 0; i < DEV_STATE_COUNT; i++)
			s->state_code[i] = -1;
		for (int i = 0; i < DEV_REASON_COUNT; i++)
			s->reason_code[i] = -1;
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(s->db, "SELECT code, name, rank FROM states", -1, &st, NULL) != SQLITE_OK) {
			db_err(s, err, "reading states");
			return -1;
		}
		while (sqlite3_step(st) == SQLITE_ROW) {
			int k = dev_state_parse((const char *)sqlite3_column_text(st, 1));
			if (k >= 0) {
				s->state_code[k] = sqlite3_column_int(st, 0);
				if (sqlite3_column_int(st, 2) != dev_state_rank((dev_state)k))
					missing = true;
			}
		}
		sqlite3_finalize(st);
		if (sqlite3_prepare_v2(s->db, "SELECT code, name FROM reasons", -1, &st, NULL) != SQLITE_OK) {
			db_err(s, err, "reading reasons");
			return -1;
		}
		while (sqlite3_step(st) == SQLITE_ROW) {
			int k = dev_reason_parse((const char *)sqlite3_column_text(st, 1));
			if (k > 0)
				s->reason_code[k] = sqlite3_column_int(st, 0);
		}
		sqlite3_finalize(st);
		for (int i = 0; i < DEV_STATE_COUNT; i++)
			missing |= s->state_code[i] < 0;
		for (int i = 1; i < DEV_REASON_COUNT; i++)
			missing |= s->reason_code[i] < 0;
		if (!missing || pass == 1 || sqlite3_db_readonly(s->db, "main") == 1)
			return 0;
		if (begin_write(s, err))
			return -1;
		int rc = 0;
		for (int i = 0; i < DEV_STATE_COUNT && !rc; i++) {
			char *sql = sqlite3_mprintf("INSERT INTO states(code, name, rank) VALUES ("
						    "(SELECT coalesce(max(code), -1) + 1 FROM states), %Q, %d)"
						    " ON CONFLICT(name) DO UPDATE SET rank = excluded.rank",
						    dev_state_name((dev_state)i), dev_state_rank((dev_state)i));
			rc = exec_sql(s, sql, err);
			sqlite3_free(sql);
		}
		for (int i = 1; i < DEV_REASON_COUNT && !rc; i++) {
			char *sql = sqlite3_mprintf("INSERT OR IGNORE INTO reasons(name) VALUES (%Q)",
						    dev_reason_name((dev_reason)i));
			rc = exec_sql(s, sql, err);
			sqlite3_free(sql);
		}
		if (rc || commit(s, err)) {
			rollback(s);
			return -1;
		}
	}
	return 0;
}

static void devs_clear(store *s)
{
	size_t it = 0;
	const char *k;
	void *v;
	while (strmap_next(s->devs, &it, &k, &v)) {
		struct dev *d = v;
		free(d->host);
		free(d->factory);
		free(d);
	}
	strmap_free(s->devs);
	s->devs = strmap_new();
	s->devs_valid = false;
}

static void models_clear(store *s)
{
	size_t it = 0;
	const char *k;
	void *v;
	while (strmap_next(s->models, &it, &k, &v)) {
		free((char *)k);
		free(v);
	}
	strmap_free(s->models);
	s->models = strmap_new();
}

/* (Re)loads every device's id and last state. */
static int devs_load(store *s, char **err)
{
	devs_clear(s);
	sqlite3_stmt *st = stmt(s, S_DEV_LOAD, err);
	if (!st)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct dev *d = xcalloc(1, sizeof *d);
		d->id = sqlite3_column_int64(st, 0);
		d->host = xstrdup((const char *)sqlite3_column_text(st, 1));
		const unsigned char *f = sqlite3_column_text(st, 2);
		d->factory = f ? xstrdup((const char *)f) : NULL;
		d->last_state = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 3);
		d->last_ts = sqlite3_column_type(st, 4) == SQLITE_NULL ? INT64_MIN : sqlite3_column_int64(st, 4);
		strmap_put(s->devs, d->host, d);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_err(s, err, "loading devices");
		devs_clear(s);
		return -1;
	}
	s->devs_valid = true;
	return 0;
}

static int data_version(store *s, int64_t *out, char **err)
{
	sqlite3_stmt *st = stmt(s, S_DATA_VERSION, err);
	bool found;
	return st ? query_int(s, st, out, &found, err, "data_version") : -1;
}

/* WAL lets readers and the writer work at once. Switching a new file to it needs
 * the file to itself, and SQLite reports another opener's lock at once instead
 * of waiting on the busy handler: retry for as long as busy_timeout. Once
 * switched, the mode is in the file and this is a no-op. */
static int set_wal(store *s, char **err)
{
	int64_t t0 = monotonic_ms();
	for (int attempt = 0;; attempt++) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK) {
			db_err(s, err, "journal_mode");
			return -1;
		}
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *mode = (const char *)sqlite3_column_text(st, 0);
			if (mode && strcmp(mode, "wal") != 0)
				add_warning(s, "%s: WAL unavailable (journal mode %s): consoles sharing it will wait on each other",
					    s->path, mode);
			sqlite3_finalize(st);
			return 0;
		}
		sqlite3_finalize(st);
		int prim = rc & 0xff;
		if ((prim == SQLITE_BUSY || prim == SQLITE_LOCKED) && monotonic_ms() - t0 < s->o.busy_timeout_ms) {
			pause_ms(5 + (attempt < 5 ? attempt * 5 : 25));
			continue;
		}
		set_err(err, "%s: cannot set WAL mode: %s", s->path, sqlite3_errstr(rc));
		return -1;
	}
}

store *store_open(const char *path, char **err)
{
	return store_open_opts(path, NULL, err);
}

store *store_open_opts(const char *path, const store_opts *o, char **err)
{
	if (!path || !*path) {
		set_err(err, "no history database path");
		return NULL;
	}
	store *s = xcalloc(1, sizeof *s);
	s->path = xstrdup(path);
	if (o)
		s->o = *o;
	else
		store_opts_default(&s->o);
	s->devs = strmap_new();
	s->models = strmap_new();
	s->maint_minute = s->maint_hour = INT64_MIN;
	if (s->o.keep_raw_ms < 2 * HOUR_MS) {
		set_err(err, "%s: raw samples must be kept at least 2 h (hour rollups are computed from them)", path);
		goto fail;
	}
	if (s->o.keep_minute_ms < s->o.keep_raw_ms || s->o.keep_hour_ms < s->o.keep_minute_ms) {
		set_err(err, "%s: retention must grow from raw samples to minute to hour rollups", path);
		goto fail;
	}
	if (s->o.busy_timeout_ms <= 0)
		s->o.busy_timeout_ms = 10000;
	if (prepare_file(s, err))
		goto fail;
	int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		set_err(err, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, s->o.busy_timeout_ms);
	int64_t dummy;
	/* the first read of the file: a file that is not SQLite fails here */
	if (pragma_int(s, "PRAGMA application_id", &dummy, err))
		goto fail;
	if (sqlite3_db_readonly(s->db, "main") != 1 && set_wal(s, err))
		goto fail;
	/* NORMAL in WAL mode: a power cut may lose the last cycles written, never
	 * corrupts. 16 MB of cache holds a cycle's pages for 10,000 devices. */
	if (exec_sql(s, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
			"PRAGMA journal_size_limit = 67108864; PRAGMA cache_size = -16384",
		     err))
		goto fail;
	if (migrate(s, err))
		goto fail;
	if (s->version < LATEST_VERSION) /* stopped early on purpose: tests only */
		return s;
	if (sqlite3_db_readonly(s->db, "main") == 1)
		add_warning(s, "%s is read-only: history can be read but not written", path);
	if (sync_codes(s, err))
		goto fail;
	s->dyn_sql[S_SAMPLE_INSERT] = build_sample_insert();
	s->dyn_sql[S_ROLLUP_MINUTE] = build_rollup("rollup_minute");
	s->dyn_sql[S_ROLLUP_HOUR] = build_rollup("rollup_hour");
	s->dyn_sql[S_ROWS_RAW] = build_rows("samples");
	s->dyn_sql[S_ROWS_MINUTE] = build_rows("rollup_minute");
	s->dyn_sql[S_ROWS_HOUR] = build_rows("rollup_hour");
	s->dyn_sql[S_PACK_SRC] = build_pack_src();
	if (data_version(s, &s->data_version, err) || devs_load(s, err))
		goto fail;
	return s;
fail:
	store_close(s);
	return NULL;
}

static void pend_free(struct pend *p)
{
	free(p->host);
	free(p->factory);
	free(p->detail);
	free(p->model);
}

static void cycle_reset(store *s)
{
	for (size_t i = 0; i < s->npend; i++)
		pend_free(&s->pend[i]);
	s->npend = 0;
	free(s->cycle_who);
	s->cycle_who = NULL;
	s->in_cycle = false;
	memset(s->counts, 0, sizeof s->counts);
}

void store_close(store *s)
{
	if (!s)
		return;
	cycle_reset(s);
	free(s->pend);
	for (int i = 0; i < S_COUNT; i++) {
		sqlite3_finalize(s->st[i]);
		free(s->dyn_sql[i]);
	}
	if (s->db) {
		rollback(s);
		sqlite3_close(s->db);
	}
	if (s->devs)
		devs_clear(s);
	strmap_free(s->devs);
	if (s->models)
		models_clear(s);
	strmap_free(s->models);
	free(s->path);
	free(s->warning);
	free(s);
}

static int need_latest(store *s, char **err)
{
	if (s->version == LATEST_VERSION)
		return 0;
	set_err(err, "%s: opened at schema version %d of %d", s->path, s->version, LATEST_VERSION);
	return -1;
}

/* ---- Writing a cycle ---- */

int store_cycle_begin(store *s, int64_t ts_ms, const char *who, char **err)
{
	if (need_latest(s, err))
		return -1;
	if (!who || !*who) {
		set_err(err, "store_cycle_begin: who is running the cycle?");
		return -1;
	}
	cycle_reset(s);
	s->in_cycle = true;
	s->cycle_start = ts_ms;
	s->cycle_who = xstrdup(who);
	return 0;
}

void store_cycle_abort(store *s)
{
	cycle_reset(s);
}

int store_cycle_sample(store *s, const dev_sample *smp, char **err)
{
	if (!s->in_cycle) {
		set_err(err, "store_cycle_sample: no cycle begun");
		return -1;
	}
	if (!smp->host || !*smp->host || (unsigned)smp->state >= DEV_STATE_COUNT) {
		set_err(err, "store_cycle_sample: a sample needs a host and a valid state");
		return -1;
	}
	s->counts[smp->state]++;
	if (!observed(smp->state))
		return 0;
	s->pend = xgrow(s->pend, &s->cappend, s->npend + 1, sizeof *s->pend);
	struct pend *p = &s->pend[s->npend++];
	memset(p, 0, sizeof *p);
	p->host = xstrdup(smp->host);
	p->factory = smp->factory && *smp->factory ? xstrdup(smp->factory) : NULL;
	p->detail = smp->detail && *smp->detail ? xstrdup(smp->detail) : NULL;
	p->model = smp->st.model_version && *smp->st.model_version ? xstrdup(smp->st.model_version) : NULL;
	p->ts = smp->ts_ms;
	p->last_seen = smp->last_seen_ms;
	p->state = smp->state;
	p->reason = (unsigned)smp->reason < DEV_REASON_COUNT ? smp->reason : DEV_REASON_NONE;
	for (int f = 0; f < STORE_NFIELDS; f++)
		if (field_value(smp, f, &p->v[f]))
			p->have |= 1u << f;
	return 0;
}

static struct dev *dev_get(store *s, const struct pend *p, char **err)
{
	struct dev *d = strmap_get(s->devs, p->host);
	if (d) {
		bool same = d->factory && p->factory ? strcmp(d->factory, p->factory) == 0 : !d->factory && !p->factory;
		if (!same && p->factory) { /* a device moved; one that lost its group keeps its factory */
			sqlite3_stmt *st = stmt(s, S_DEV_FACTORY, err);
			if (!st)
				return NULL;
			sqlite3_bind_int64(st, 1, d->id);
			bind_text(st, 2, p->factory);
			if (run(s, st, err, "updating a device"))
				return NULL;
			free(d->factory);
			d->factory = xstrdup(p->factory);
		}
		return d;
	}
	/* the cache was loaded under this write lock: not in it, not in the file */
	sqlite3_stmt *st = stmt(s, S_DEV_INSERT, err);
	if (!st)
		return NULL;
	bind_text(st, 1, p->host);
	bind_text(st, 2, p->factory);
	sqlite3_bind_int64(st, 3, p->ts);
	if (run(s, st, err, "adding a device"))
		return NULL;
	d = xcalloc(1, sizeof *d);
	d->id = sqlite3_last_insert_rowid(s->db);
	d->host = xstrdup(p->host);
	d->factory = p->factory ? xstrdup(p->factory) : NULL;
	d->last_state = -1;
	d->last_ts = INT64_MIN;
	strmap_put(s->devs, d->host, d);
	return d;
}

static int model_id(store *s, const char *version, int64_t *id, char **err)
{
	int64_t *cached = strmap_get(s->models, version);
	if (cached) {
		*id = *cached;
		return 0;
	}
	sqlite3_stmt *st = stmt(s, S_MODEL_INSERT, err);
	if (!st)
		return -1;
	bind_text(st, 1, version);
	if (run(s, st, err, "adding a model version"))
		return -1;
	st = stmt(s, S_MODEL_GET, err);
	if (!st)
		return -1;
	bind_text(st, 1, version);
	bool found;
	if (query_int(s, st, id, &found, err, "reading a model version"))
		return -1;
	if (!found) {
		set_err(err, "%s: model version vanished", s->path);
		return -1;
	}
	int64_t *v = xmalloc(sizeof *v);
	*v = *id;
	strmap_put(s->models, xstrdup(version), v);
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int todo_add(store *s, int job, int64_t bucket, char **err)
{
	sqlite3_stmt *st = stmt(s, S_TODO_ADD, err);
	if (!st)
		return -1;
	sqlite3_bind_int(st, 1, job);
	sqlite3_bind_int64(st, 2, bucket);
	return run(s, st, err, "queueing a rollup");
}

/* Queues a rollup of each distinct bucket in b[0..n) (sorted in place). */
static int todo_add_buckets(store *s, int job, int64_t *b, size_t n, char **err)
{
	qsort(b, n, sizeof *b, cmp_i64);
	for (size_t i = 0; i < n; i++)
		if ((i == 0 || b[i] != b[i - 1]) && todo_add(s, job, b[i], err))
			return -1;
	return 0;
}

static int write_sample(store *s, const struct pend *p, bool *inserted, char **err)
{
	struct dev *d = dev_get(s, p, err);
	if (!d)
		return -1;
	int64_t model = 0;
	if (p->model && model_id(s, p->model, &model, err))
		return -1;
	sqlite3_stmt *st = stmt(s, S_SAMPLE_INSERT, err);
	if (!st)
		return -1;
	int code = s->state_code[p->state];
	int rcode = p->reason != DEV_REASON_NONE ? s->reason_code[p->reason] : -1;
	sqlite3_bind_int64(st, 1, d->id);
	sqlite3_bind_int64(st, 2, p->ts);
	sqlite3_bind_int(st, 3, code);
	bind_opt_int(st, 4, rcode >= 0, rcode);
	bind_opt_int(st, 5, p->model != NULL, model);
	for (int f = 0; f < STORE_NFIELDS; f++)
		bind_opt_int(st, 6 + f, p->have & (1u << f), p->v[f]);
	if (run(s, st, err, "writing a sample"))
		return -1;
	*inserted = sqlite3_changes(s->db) > 0;
	if (!*inserted || p->ts <= d->last_ts)
		return 0; /* a duplicate, or older than what the file has: no news */
	if (d->last_state >= 0 && d->last_state != code) {
		st = stmt(s, S_EVENT_INSERT, err);
		if (!st)
			return -1;
		sqlite3_bind_int64(st, 1, p->ts);
		sqlite3_bind_int64(st, 2, d->id);
		sqlite3_bind_int(st, 3, d->last_state);
		sqlite3_bind_int(st, 4, code);
		bind_opt_int(st, 5, rcode >= 0, rcode);
		bind_text(st, 6, p->detail);
		if (run(s, st, err, "writing an event"))
			return -1;
	}
	st = stmt(s, S_DEV_LAST, err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, d->id);
	sqlite3_bind_int64(st, 2, p->ts);
	sqlite3_bind_int(st, 3, code);
	bind_opt_int(st, 4, rcode >= 0, rcode);
	sqlite3_bind_int64(st, 5, p->last_seen);
	if (run(s, st, err, "updating a device"))
		return -1;
	d->last_state = code;
	d->last_ts = p->ts;
	return 0;
}

/* The cycle's one transaction. Returns 0, or -1 (with *busy if worth retrying). */
static int write_cycle(store *s, int64_t end_ms, bool *busy, char **err)
{
	*busy = false;
	if (begin_write(s, err)) {
		*busy = true;
		return -1;
	}
	int64_t dv, horizon;
	if (data_version(s, &dv, err))
		goto fail;
	/* another connection committed since our last transaction: the devices' last
	 * states may have moved on; read them again, under the lock */
	if (!s->devs_valid || dv != s->data_version) {
		if (devs_load(s, err))
			goto fail;
		s->data_version = dv;
	}
	if (meta_get(s, "raw_horizon", INT64_MIN, &horizon, err))
		goto fail;
	int64_t *minutes = xmalloc((s->npend + 1) * sizeof *minutes);
	int64_t *hours = xmalloc((s->npend + 1) * sizeof *hours);
	size_t nb = 0, written = 0;
	int rc = 0;
	for (size_t i = 0; i < s->npend && !rc; i++) {
		const struct pend *p = &s->pend[i];
		if (p->ts < horizon)
			continue;
		bool inserted = false;
		rc = write_sample(s, p, &inserted, err);
		if (!rc && inserted) {
			written++;
			minutes[nb] = floor_to(p->ts, MINUTE_MS);
			hours[nb++] = floor_to(p->ts, HOUR_MS);
		}
	}
	if (!rc)
		rc = todo_add_buckets(s, JOB_ROLLUP_MINUTE, minutes, nb, err);
	if (!rc)
		rc = todo_add_buckets(s, JOB_ROLLUP_HOUR, hours, nb, err);
	free(minutes);
	free(hours);
	if (rc)
		goto fail;
	sqlite3_stmt *st = stmt(s, S_CYCLE_INSERT, err);
	if (!st)
		goto fail;
	sqlite3_bind_int64(st, 1, s->cycle_start);
	sqlite3_bind_int64(st, 2, end_ms);
	bind_text(st, 3, s->cycle_who);
	sqlite3_bind_int64(st, 4, (int64_t)getpid());
	sqlite3_bind_int64(st, 5, (int64_t)written);
	static const dev_state order[] = { DEV_PENDING, DEV_HEALTHY, DEV_DEGRADED,
					   DEV_UNHEALTHY, DEV_UNREACHABLE, DEV_STALE };
	for (int i = 0; i < DEV_STATE_COUNT; i++)
		sqlite3_bind_int64(st, 6 + i, s->counts[order[i]]);
	if (run(s, st, err, "writing the cycle"))
		goto fail;
	if (commit(s, err)) {
		*busy = true;
		goto fail_done;
	}
	return 0;
fail:
	rollback(s);
fail_done:
	/* what the caches learnt in the rolled-back transaction is not so */
	devs_clear(s);
	models_clear(s);
	return -1;
}

int store_cycle_end(store *s, int64_t ts_ms, char **err)
{
	if (!s->in_cycle) {
		set_err(err, "store_cycle_end: no cycle begun");
		return -1;
	}
	int rc = -1;
	for (int attempt = 0; attempt < 2; attempt++) {
		bool busy;
		char *e = NULL;
		rc = write_cycle(s, ts_ms, &busy, &e);
		if (rc == 0 || !busy || attempt == 1) {
			if (rc)
				set_err(err, "%s (the cycle was not recorded)", e ? e : "error");
			free(e);
			break;
		}
		free(e);
	}
	cycle_reset(s);
	return rc;
}

/* ---- Maintenance ---- */

/* Devices per step: a step reads about 10-20k rows, a few tens of ms. */
static int64_t job_chunk(int job)
{
	switch (job) {
	case JOB_ROLLUP_MINUTE: return 2000;
	case JOB_ROLLUP_HOUR: return 50;
	case JOB_PRUNE_RAW: return 50;
	case JOB_PRUNE_MINUTE: return 300;
	default: return 5000;
	}
}

static int prune_table(store *s, int id, int64_t before, char **err)
{
	sqlite3_stmt *st = stmt(s, id, err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, before);
	return run(s, st, err, "pruning");
}

/* Once an hour: queue the prunes whose horizon moved on, and prune the small
 * tables (by time, through their indexes). The horizons are hour-aligned, so an
 * hour of raw samples is either all there or being deleted; writers drop samples
 * older than the raw horizon, whose rollups could no longer be redone. */
static int queue_prunes(store *s, int64_t now, char **err)
{
	static const struct {
		const char *key;
		int job;
	} tiers[] = { { "raw_horizon", JOB_PRUNE_RAW },
		      { "minute_horizon", JOB_PRUNE_MINUTE },
		      { "hour_horizon", JOB_PRUNE_HOUR } };
	const int64_t keep[] = { s->o.keep_raw_ms, s->o.keep_minute_ms, s->o.keep_hour_ms };
	if (begin_write(s, err))
		return -1;
	for (size_t i = 0; i < 3; i++) {
		int64_t h = floor_to(now - keep[i], HOUR_MS), old;
		if (meta_get(s, tiers[i].key, INT64_MIN, &old, err))
			goto fail;
		if (h <= old)
			continue;
		sqlite3_stmt *st = stmt(s, S_TODO_DROP_JOB, err);
		if (!st)
			goto fail;
		sqlite3_bind_int(st, 1, tiers[i].job);
		/* a newer horizon supersedes an unfinished prune */
		if (run(s, st, err, "queueing a prune") || todo_add(s, tiers[i].job, h, err) ||
		    meta_set(s, tiers[i].key, h, err))
			goto fail;
	}
	if ((s->o.keep_events_ms && prune_table(s, S_PRUNE_EVENTS, now - s->o.keep_events_ms, err)) ||
	    (s->o.keep_cycles_ms && prune_table(s, S_PRUNE_CYCLES, now - s->o.keep_cycles_ms, err)) ||
	    (s->o.keep_alerts_ms && prune_table(s, S_PRUNE_ALERTS, now - s->o.keep_alerts_ms, err)) ||
	    (s->o.keep_audit_ms && prune_table(s, S_PRUNE_AUDIT, now - s->o.keep_audit_ms, err)))
		goto fail;
	return commit(s, err);
fail:
	rollback(s);
	return -1;
}

/* ---- Packing minute rollups ----
 * When an hour's raw samples are pruned its minutes can no longer change (a
 * sample older than the raw horizon is dropped), so the raw prune packs each
 * device's minute rollups of the hour into one minute_packs row and deletes
 * them from rollup_minute. A pack already there (a prune redone) is merged. */

/* A pack is stored in parts of at most this many bytes. A whole pack (1-2 KB)
 * per row leaves a fifth to a half of each 4 KB page empty, as only two or three
 * fit; parts of a few hundred bytes fill pages to within a part. The table is
 * keyed by hour first, so an hour's packs are appended at its end (pages filled
 * in order, not split); a device's are read an hour at a time (one seek each). */
#define PACK_PART 340

/* Hours of minute rollups a raw-prune step packs at most (for its range of devices). */
#define PACK_HOURS_PER_STEP 6

struct bytes {
	unsigned char *p;
	size_t len, cap;
};

static void bytes_add(struct bytes *b, const void *d, size_t n)
{
	if (!n)
		return;
	b->p = xgrow(b->p, &b->cap, b->len + n, 1);
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

/* Writes the pack of dev's hour: rows (minutes increasing) over what is packed. */
static int pack_flush(store *s, int64_t dev, int64_t hour, const minpack_row *rows, size_t n, minpack_row *tmp,
		      char **err)
{
	size_t nh = 0;
	minpack_row *have = tmp, *merged = tmp + MINPACK_MINUTES;
	sqlite3_stmt *st = stmt(s, S_PACK_GET, err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, dev);
	sqlite3_bind_int64(st, 2, hour);
	struct bytes old = { 0 };
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		bytes_add(&old, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(old.p);
		set_err(err, "%s: reading minute packs: %s", s->path, sqlite3_errstr(rc));
		return -1;
	}
	if (old.len && minpack_decode(old.p, old.len, STORE_NFIELDS, have, &nh))
		nh = 0; /* damaged: replaced by what the rollups say */
	free(old.p);
	size_t i = 0, j = 0, m = 0;
	while (i < nh || j < n) {
		if (j >= n || (i < nh && have[i].minute < rows[j].minute)) {
			merged[m++] = have[i++];
		} else {
			if (i < nh && have[i].minute == rows[j].minute)
				i++;
			merged[m++] = rows[j++];
		}
	}
	int64_t q[STORE_NFIELDS], qx[STORE_NFIELDS];
	for (int f = 0; f < STORE_NFIELDS; f++)
		q[f] = field_store[f].pack_q, qx[f] = field_store[f].pack_qx;
	size_t len = 0;
	unsigned char *blob = minpack_encode(merged, m, STORE_NFIELDS, q, qx, &len);
	if (!blob) {
		set_err(err, "%s: the minute rollups of device %" PRId64 " at %" PRId64 " cannot be packed", s->path, dev,
			hour);
		return -1;
	}
	int bad = 0;
	if (!(st = stmt(s, S_PACK_DEL, err)))
		bad = -1;
	else {
		sqlite3_bind_int64(st, 1, dev);
		sqlite3_bind_int64(st, 2, hour);
		bad = run(s, st, err, "writing minute packs");
	}
	size_t nparts = (len + PACK_PART - 1) / PACK_PART, size = (len + nparts - 1) / nparts;
	for (size_t k = 0, at = 0; !bad && k < nparts; k++, at += size) {
		if (!(st = stmt(s, S_PACK_PUT, err))) {
			bad = -1;
			break;
		}
		sqlite3_bind_int64(st, 1, dev);
		sqlite3_bind_int64(st, 2, hour);
		sqlite3_bind_int64(st, 3, (int64_t)k);
		sqlite3_bind_blob(st, 4, blob + at, (int)(len - at < size ? len - at : size), SQLITE_STATIC);
		bad = run(s, st, err, "writing minute packs");
	}
	free(blob);
	return bad;
}

/* One rollup_minute row as a pack row, made consistent (min <= avg <= max, whatever
 * an older or damaged file holds). */
static void pack_row(sqlite3_stmt *st, int minute, minpack_row *r)
{
	memset(r, 0, sizeof *r);
	r->minute = minute;
	r->n = sqlite3_column_int64(st, 2);
	if (r->n < 0)
		r->n = 0;
	r->worst = sqlite3_column_int64(st, 3);
	if (r->worst < 0 || r->worst > 255)
		r->worst = 255; /* no such state: read back as unknown */
	for (int f = 0; f < STORE_NFIELDS; f++) {
		int c = 4 + 3 * f;
		if (sqlite3_column_type(st, c + 1) == SQLITE_NULL)
			continue;
		int64_t a = sqlite3_column_int64(st, c + 1);
		int64_t lo = sqlite3_column_type(st, c) == SQLITE_NULL ? a : sqlite3_column_int64(st, c);
		int64_t hi = sqlite3_column_type(st, c + 2) == SQLITE_NULL ? a : sqlite3_column_int64(st, c + 2);
		const int64_t lim = INT64_C(1) << 59;
		a = a > lim ? lim : a < -lim ? -lim : a;
		lo = lo > a ? a : lo < -lim ? -lim : lo;
		hi = hi < a ? a : hi > lim ? lim : hi;
		r->min[f] = lo, r->avg[f] = a, r->max[f] = hi;
		r->have |= 1u << f;
	}
}

/* Packs the minute rollups of devices (after, upto] before `before` (hour-aligned). */
static int pack_minutes(store *s, int64_t after, int64_t upto, int64_t before, char **err)
{
	sqlite3_stmt *src = stmt(s, S_PACK_SRC, err);
	if (!src)
		return -1;
	sqlite3_bind_int64(src, 1, after);
	sqlite3_bind_int64(src, 2, upto);
	sqlite3_bind_int64(src, 3, before);
	minpack_row *rows = xmalloc(3 * MINPACK_MINUTES * sizeof *rows), *tmp = rows + MINPACK_MINUTES;
	size_t n = 0;
	int64_t dev = 0, hour = 0;
	int rc, bad = 0;
	while (!bad && (rc = sqlite3_step(src)) == SQLITE_ROW) {
		int64_t d = sqlite3_column_int64(src, 0), ts = sqlite3_column_int64(src, 1), h = floor_to(ts, HOUR_MS);
		if (n && (d != dev || h != hour)) {
			bad = pack_flush(s, dev, hour, rows, n, tmp, err);
			n = 0;
		}
		dev = d, hour = h;
		int minute = (int)((ts - h) / MINUTE_MS);
		if (n && rows[n - 1].minute == minute)
			continue; /* not minute-aligned: one row per minute */
		pack_row(src, minute, &rows[n++]);
	}
	sqlite3_reset(src);
	if (!bad && rc != SQLITE_DONE) {
		set_err(err, "%s: reading minute rollups: %s", s->path, sqlite3_errstr(rc));
		bad = -1;
	}
	if (!bad && n)
		bad = pack_flush(s, dev, hour, rows, n, tmp, err);
	free(rows);
	return bad ? -1 : 0;
}

static int prune_range(store *s, int id, int64_t after, int64_t upto, int64_t before, char **err)
{
	sqlite3_stmt *st = stmt(s, id, err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int64(st, 2, upto);
	sqlite3_bind_int64(st, 3, before);
	return run(s, st, err, "pruning");
}

/* One step, in one transaction: the oldest due job, for the next range of
 * devices. The job row is read under the write lock and updated in the same
 * transaction as the work, so a step is done exactly once even if two
 * processes maintain at once or one dies half-way. Returns 1 if it did a step,
 * 0 if nothing is due. */
static int maint_step(store *s, int64_t now, char **err)
{
	if (begin_write(s, err))
		return -1;
	sqlite3_stmt *st = stmt(s, S_TODO_NEXT, err);
	if (!st)
		goto fail;
	sqlite3_bind_int64(st, 1, now - MINUTE_MS - s->o.rollup_delay_ms);
	sqlite3_bind_int64(st, 2, now - HOUR_MS - s->o.rollup_delay_ms);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		rollback(s);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		set_err(err, "%s: reading the maintenance queue: %s", s->path, sqlite3_errstr(rc));
		goto fail;
	}
	int job = sqlite3_column_int(st, 0);
	int64_t bucket = sqlite3_column_int64(st, 1), after = sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	int64_t maxid;
	bool found;
	if (!(st = stmt(s, S_DEV_MAXID, err)) || query_int(s, st, &maxid, &found, err, "reading devices"))
		goto fail;
	int64_t upto = after + job_chunk(job);
	switch (job) {
	case JOB_ROLLUP_MINUTE:
	case JOB_ROLLUP_HOUR:
		if (!(st = stmt(s, job == JOB_ROLLUP_MINUTE ? S_ROLLUP_MINUTE : S_ROLLUP_HOUR, err)))
			goto fail;
		sqlite3_bind_int64(st, 1, bucket);
		sqlite3_bind_int64(st, 2, bucket + (job == JOB_ROLLUP_MINUTE ? MINUTE_MS : HOUR_MS));
		sqlite3_bind_int64(st, 3, after);
		sqlite3_bind_int64(st, 4, upto);
		if (run(s, st, err, "rolling up"))
			goto fail;
		break;
	case JOB_PRUNE_RAW: { /* the minutes' last chance to change: pack them first */
		/* a few hours a step: the hourly prune has one, a file migrated from
		 * schema 3 up to 12 days, too many for one short transaction */
		int64_t oldest, limit = bucket;
		if (!(st = stmt(s, S_PACK_OLDEST, err)))
			goto fail;
		sqlite3_bind_int64(st, 1, after);
		sqlite3_bind_int64(st, 2, upto);
		sqlite3_bind_int64(st, 3, bucket);
		if (query_int(s, st, &oldest, &found, err, "reading minute rollups"))
			goto fail;
		bool more = found && floor_to(oldest, HOUR_MS) + PACK_HOURS_PER_STEP * HOUR_MS < bucket;
		if (more)
			limit = floor_to(oldest, HOUR_MS) + PACK_HOURS_PER_STEP * HOUR_MS;
		if (pack_minutes(s, after, upto, limit, err) || prune_range(s, S_PRUNE_MINUTE, after, upto, limit, err))
			goto fail;
		if (more)
			upto = after; /* the same devices again, from where this step stopped */
		else if (prune_range(s, S_PRUNE_RAW, after, upto, bucket, err))
			goto fail;
		break;
	}
	case JOB_PRUNE_MINUTE: /* the packs of every device at once: the oldest hours, first in the table */
		if (prune_range(s, S_PRUNE_MINUTE, after, upto, bucket, err) ||
		    (after == 0 && prune_table(s, S_PRUNE_PACKS, bucket, err)))
			goto fail;
		break;
	case JOB_PRUNE_HOUR:
		if (prune_range(s, S_PRUNE_HOUR, after, upto, bucket, err))
			goto fail;
		break;
	default: /* written by a newer fleetdeck? leave it to that one */
		break;
	}
	if (upto >= maxid || job > JOB_PRUNE_HOUR) {
		if (!(st = stmt(s, S_TODO_DONE, err)))
			goto fail;
		sqlite3_bind_int(st, 1, job);
		sqlite3_bind_int64(st, 2, bucket);
	} else {
		if (!(st = stmt(s, S_TODO_PROGRESS, err)))
			goto fail;
		sqlite3_bind_int(st, 1, job);
		sqlite3_bind_int64(st, 2, bucket);
		sqlite3_bind_int64(st, 3, upto);
	}
	if (run(s, st, err, "recording progress") || commit(s, err))
		goto fail;
	return job > JOB_PRUNE_HOUR ? 0 : 1;
fail:
	rollback(s);
	return -1;
}

int store_maintain(store *s, int64_t now_ms, char **err)
{
	if (need_latest(s, err))
		return -1;
	int64_t minute = floor_to(now_ms, MINUTE_MS), hour = floor_to(now_ms, HOUR_MS);
	if (minute == s->maint_minute)
		return 0; /* caught up already this minute: nothing can have come due */
	int64_t t0 = monotonic_ms();
	int txns = 0;
	if (hour != s->maint_hour) {
		if (queue_prunes(s, now_ms, err))
			return -1;
		s->maint_hour = hour;
		txns++;
	}
	for (;;) {
		if ((s->o.maintain_max_txns > 0 && txns >= s->o.maintain_max_txns) ||
		    (s->o.maintain_budget_ms > 0 && monotonic_ms() - t0 >= s->o.maintain_budget_ms))
			return 1;
		int r = maint_step(s, now_ms, err);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		txns++;
	}
	s->maint_minute = minute;
	return 0;
}

/* ---- Alerts and audit ---- */

static int check_text(const char *what, const char *v, char **err)
{
	if (v && *v)
		return 0;
	set_err(err, "%s is required", what);
	return -1;
}

int store_alert_fire(store *s, const char *host, const char *rule, const char *severity, const char *message,
		     int64_t ts_ms, char **err)
{
	if (need_latest(s, err) || check_text("alert host", host, err) || check_text("alert rule", rule, err) ||
	    check_text("alert severity", severity, err))
		return -1;
	if (begin_write(s, err))
		return -1;
	int result = 0;
	int64_t id, last;
	bool firing, found;
	sqlite3_stmt *st = stmt(s, S_ALERT_FIRING, err);
	if (!st)
		goto fail;
	bind_text(st, 1, host);
	bind_text(st, 2, rule);
	int rc = sqlite3_step(st);
	firing = rc == SQLITE_ROW;
	if (firing) {
		id = sqlite3_column_int64(st, 0);
		last = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_err(s, err, "reading alerts");
		goto fail;
	}
	if (firing) {
		if (ts_ms >= last) {
			if (!(st = stmt(s, S_ALERT_UPDATE, err)))
				goto fail;
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_int64(st, 2, ts_ms);
			bind_text(st, 3, severity);
			bind_text(st, 4, message ? message : "");
			if (run(s, st, err, "updating an alert"))
				goto fail;
		}
	} else {
		int64_t resolved;
		if (!(st = stmt(s, S_ALERT_LAST_RESOLVED, err)))
			goto fail;
		bind_text(st, 1, host);
		bind_text(st, 2, rule);
		if (query_int(s, st, &resolved, &found, err, "reading alerts"))
			goto fail;
		if (!found || ts_ms >= resolved) {
			if (!(st = stmt(s, S_ALERT_INSERT, err)))
				goto fail;
			bind_text(st, 1, host);
			bind_text(st, 2, rule);
			bind_text(st, 3, severity);
			bind_text(st, 4, message ? message : "");
			sqlite3_bind_int64(st, 5, ts_ms);
			if (run(s, st, err, "adding an alert"))
				goto fail;
			result = 1;
		}
	}
	if (commit(s, err))
		return -1;
	return result;
fail:
	rollback(s);
	return -1;
}

int store_alert_resolve(store *s, const char *host, const char *rule, int64_t ts_ms, char **err)
{
	if (need_latest(s, err) || check_text("alert host", host, err) || check_text("alert rule", rule, err))
		return -1;
	if (begin_write(s, err))
		return -1;
	int result = 0;
	sqlite3_stmt *st = stmt(s, S_ALERT_FIRING, err);
	if (!st)
		goto fail;
	bind_text(st, 1, host);
	bind_text(st, 2, rule);
	int rc = sqlite3_step(st);
	int64_t id = 0, last = 0;
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		last = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_err(s, err, "reading alerts");
		goto fail;
	}
	if (rc == SQLITE_ROW && ts_ms >= last) {
		if (!(st = stmt(s, S_ALERT_RESOLVE, err)))
			goto fail;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, ts_ms);
		if (run(s, st, err, "resolving an alert"))
			goto fail;
		result = 1;
	}
	if (commit(s, err))
		return -1;
	return result;
fail:
	rollback(s);
	return -1;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? xstrdup((const char *)t) : NULL;
}

int store_alerts(store *s, const char *host, bool active_only, int64_t since_ms, store_alert **out, size_t *n,
		 char **err)
{
	*out = NULL;
	*n = 0;
	if (need_latest(s, err))
		return -1;
	sqlite3_stmt *st = stmt(s, S_ALERTS_QUERY, err);
	if (!st)
		return -1;
	bind_text(st, 1, host);
	sqlite3_bind_int(st, 2, active_only);
	sqlite3_bind_int64(st, 3, since_ms);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = xgrow(*out, &cap, *n + 1, sizeof **out);
		store_alert *a = &(*out)[(*n)++];
		a->id = sqlite3_column_int64(st, 0);
		a->host = col_dup(st, 1);
		a->rule = col_dup(st, 2);
		a->severity = col_dup(st, 3);
		a->message = col_dup(st, 4);
		if (!a->message)
			a->message = xstrdup("");
		a->first_fired_ms = sqlite3_column_int64(st, 5);
		a->last_seen_ms = sqlite3_column_int64(st, 6);
		a->resolved_ms = sqlite3_column_int64(st, 7);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_err(s, err, "reading alerts");
		store_alerts_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

int store_alerts_active(store *s, const char *host, store_alert **out, size_t *n, char **err)
{
	return store_alerts(s, host, true, 0, out, n, err);
}

void store_alerts_free(store_alert *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].host);
		free(a[i].rule);
		free(a[i].severity);
		free(a[i].message);
	}
	free(a);
}

int store_audit_add(store *s, int64_t ts_ms, const char *actor, const char *action, const char *target,
		    const char *detail, char **err)
{
	if (need_latest(s, err) || check_text("audit actor", actor, err) || check_text("audit action", action, err))
		return -1;
	if (begin_write(s, err))
		return -1;
	sqlite3_stmt *st = stmt(s, S_AUDIT_INSERT, err);
	if (!st)
		goto fail;
	sqlite3_bind_int64(st, 1, ts_ms);
	bind_text(st, 2, actor);
	bind_text(st, 3, action);
	bind_text(st, 4, target);
	bind_text(st, 5, detail);
	if (run(s, st, err, "writing the audit trail"))
		goto fail;
	return commit(s, err);
fail:
	rollback(s);
	return -1;
}

/* The audit trail's own statements are prepared per call (operators act a few
 * times a day; the statement cache is for the poller's hot path). */
int store_audit_record(store *s, const store_audit *e, char **err)
{
	if (need_latest(s, err) || check_text("audit actor", e->actor, err) ||
	    check_text("audit action", e->action, err))
		return -1;
	if (begin_write(s, err))
		return -1;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO audit(ts, actor, action, target, detail, user, ssh_connection, origin_host, "
			       "pid, rollout_id, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
			       -1, &st, NULL) != SQLITE_OK) {
		db_err(s, err, "preparing the audit entry");
		goto fail;
	}
	sqlite3_bind_int64(st, 1, e->ts_ms);
	bind_text(st, 2, e->actor);
	bind_text(st, 3, e->action);
	bind_text(st, 4, e->target);
	bind_text(st, 5, e->detail);
	bind_text(st, 6, e->user);
	bind_text(st, 7, e->ssh_connection);
	bind_text(st, 8, e->origin_host);
	bind_opt_int(st, 9, e->pid > 0, e->pid);
	bind_opt_int(st, 10, e->rollout_id > 0, e->rollout_id);
	bind_text(st, 11, e->outcome);
	int rc = run(s, st, err, "writing the audit trail");
	sqlite3_finalize(st);
	if (rc)
		goto fail;
	return commit(s, err);
fail:
	rollback(s);
	return -1;
}

void store_audit_free(store_audit *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++) {
		free(a[i].actor);
		free(a[i].action);
		free(a[i].target);
		free(a[i].detail);
		free(a[i].user);
		free(a[i].ssh_connection);
		free(a[i].origin_host);
		free(a[i].outcome);
	}
	free(a);
}

int store_audit_list(store *s, int64_t rollout_id, int64_t since_ms, store_audit **out, size_t *n, char **err)
{
	*out = NULL;
	*n = 0;
	if (need_latest(s, err))
		return -1;
	sqlite3_stmt *st = NULL;
	/* entries from before schema 4 name their rollout only in target ("rollout N") */
	if (sqlite3_prepare_v2(s->db,
			       "SELECT id, ts, actor, action, target, detail, user, ssh_connection, origin_host, pid, "
			       "coalesce(rollout_id, CASE WHEN target GLOB 'rollout [0-9]*' THEN CAST(substr(target, 9) "
			       "AS INTEGER) END) AS rid, outcome FROM audit WHERE ts >= ?2 AND (?1 = 0 OR rid = ?1) "
			       "ORDER BY ts, id",
			       -1, &st, NULL) != SQLITE_OK) {
		db_err(s, err, "preparing the audit query");
		return -1;
	}
	sqlite3_bind_int64(st, 1, rollout_id);
	sqlite3_bind_int64(st, 2, since_ms);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = xgrow(*out, &cap, *n + 1, sizeof **out);
		store_audit *a = &(*out)[(*n)++];
		a->id = sqlite3_column_int64(st, 0);
		a->ts_ms = sqlite3_column_int64(st, 1);
		a->actor = col_dup(st, 2);
		a->action = col_dup(st, 3);
		a->target = col_dup(st, 4);
		a->detail = col_dup(st, 5);
		a->user = col_dup(st, 6);
		a->ssh_connection = col_dup(st, 7);
		a->origin_host = col_dup(st, 8);
		a->pid = sqlite3_column_int64(st, 9);
		a->rollout_id = sqlite3_column_int64(st, 10);
		a->outcome = col_dup(st, 11);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		db_err(s, err, "reading the audit trail");
		store_audit_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

/* ---- Queries ---- */

static dev_state state_of(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	int k = t ? dev_state_parse((const char *)t) : -1;
	return k >= 0 ? (dev_state)k : DEV_STATE_COUNT;
}

static dev_reason reason_of(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	if (!t)
		return DEV_REASON_NONE;
	int k = dev_reason_parse((const char *)t);
	return k >= 0 ? (dev_reason)k : DEV_REASON_COUNT;
}

int store_host_known(store *s, const char *host, char **err)
{
	sqlite3_stmt *st = stmt(s, S_HOST_KNOWN, err);
	if (!st)
		return -1;
	bind_text(st, 1, host);
	int64_t v;
	bool found;
	if (query_int(s, st, &v, &found, err, "reading devices"))
		return -1;
	return found;
}

static int read_rows(store *s, int id, const char *host, int64_t from, int64_t to, store_row **out, size_t *n,
		     size_t *cap, char **err)
{
	sqlite3_stmt *st = stmt(s, id, err);
	if (!st)
		return -1;
	bind_text(st, 1, host);
	sqlite3_bind_int64(st, 2, from);
	sqlite3_bind_int64(st, 3, to);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = xgrow(*out, cap, *n + 1, sizeof **out);
		store_row *r = &(*out)[(*n)++];
		memset(r, 0, sizeof *r);
		r->ts_ms = sqlite3_column_int64(st, 0);
		r->count = sqlite3_column_int64(st, 1);
		r->state = state_of(st, 2);
		r->reason = reason_of(st, 3);
		r->model_version = col_dup(st, 4);
		for (int f = 0; f < STORE_NFIELDS; f++) {
			int c = 5 + 3 * f;
			if (sqlite3_column_type(st, c + 1) == SQLITE_NULL)
				continue;
			double k = field_store[f].scale;
			r->v[f].have = true;
			r->v[f].min = (double)sqlite3_column_int64(st, c) / k;
			r->v[f].avg = (double)sqlite3_column_int64(st, c + 1) / k;
			r->v[f].max = (double)sqlite3_column_int64(st, c + 2) / k;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_err(s, err, "reading samples");
		return -1;
	}
	return 0;
}

static dev_state state_of_code(const store *s, int64_t code)
{
	for (int k = 0; k < DEV_STATE_COUNT; k++)
		if (s->state_code[k] >= 0 && s->state_code[k] == code)
			return (dev_state)k;
	return DEV_STATE_COUNT;
}

/* Appends the minutes in [from, to) of host's pack of the hour from `hour`. */
static int unpack_rows(store *s, const char *host, int64_t hour, const struct bytes *pack, int64_t from, int64_t to,
		       minpack_row *pr, store_row **out, size_t *n, size_t *cap, char **err)
{
	size_t np;
	if (minpack_decode(pack->p, pack->len, STORE_NFIELDS, pr, &np)) {
		set_err(err, "%s: the packed minute rollups of %s for the hour from %" PRId64 " ms are damaged", s->path,
			host, hour);
		return -1;
	}
	for (size_t i = 0; i < np; i++) {
		int64_t ts = hour + pr[i].minute * MINUTE_MS;
		if (ts < from || ts >= to)
			continue;
		*out = xgrow(*out, cap, *n + 1, sizeof **out);
		store_row *r = &(*out)[(*n)++];
		memset(r, 0, sizeof *r);
		r->ts_ms = ts;
		r->count = pr[i].n;
		r->state = state_of_code(s, pr[i].worst);
		r->reason = DEV_REASON_NONE;
		for (int f = 0; f < STORE_NFIELDS; f++) {
			if (!(pr[i].have & (1u << f)))
				continue;
			double k = field_store[f].scale;
			r->v[f].have = true;
			r->v[f].min = (double)pr[i].min[f] / k;
			r->v[f].avg = (double)pr[i].avg[f] / k;
			r->v[f].max = (double)pr[i].max[f] / k;
		}
	}
	return 0;
}

/* host's minute rollups in [from, to), oldest first: the packed hours and the rows
 * not packed yet (a minute in both: the row, which is newer). Appended to *out. */
static int read_minutes(store *s, const char *host, int64_t from, int64_t to, store_row **out, size_t *n,
			size_t *cap, char **err)
{
	size_t first = *n;
	int64_t dev, lo = 0, hi = -1;
	bool found;
	sqlite3_stmt *st = stmt(s, S_HOST_ID, err);
	if (!st)
		return -1;
	bind_text(st, 1, host);
	if (query_int(s, st, &dev, &found, err, "reading devices"))
		return -1;
	if (found) { /* the hours any pack is in (two seeks: the table is keyed by time) */
		if (!(st = stmt(s, S_PACK_SPAN, err)))
			return -1;
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
			lo = sqlite3_column_int64(st, 0);
			hi = sqlite3_column_int64(st, 1);
		}
		sqlite3_reset(st);
		if (rc != SQLITE_ROW) {
			set_err(err, "%s: reading minute packs: %s", s->path, sqlite3_errstr(rc));
			return -1;
		}
	}
	minpack_row *pr = xmalloc(MINPACK_MINUTES * sizeof *pr);
	struct bytes pack = { 0 };
	int rc = SQLITE_DONE, bad = 0;
	int64_t hour = floor_to(from, HOUR_MS);
	if (hour < lo)
		hour = lo;
	for (; found && hour < to && hour <= hi && !bad; hour += HOUR_MS) {
		if (!(st = stmt(s, S_PACK_GET, err))) {
			bad = -1;
			break;
		}
		sqlite3_bind_int64(st, 1, dev);
		sqlite3_bind_int64(st, 2, hour);
		pack.len = 0;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			bytes_add(&pack, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			break;
		if (pack.len)
			bad = unpack_rows(s, host, hour, &pack, from, to, pr, out, n, cap, err);
	}
	free(pr);
	free(pack.p);
	if (!bad && rc != SQLITE_DONE) {
		set_err(err, "%s: reading minute packs: %s", s->path, sqlite3_errstr(rc));
		bad = -1;
	}
	if (bad)
		return -1;
	size_t mid = *n;
	if (read_rows(s, S_ROWS_MINUTE, host, from, to, out, n, cap, err))
		return -1;
	if (mid == first || mid == *n)
		return 0; /* one source: already in order */
	/* both sorted by time: merge them */
	size_t total = *n - first, i = first, j = mid, k = 0;
	store_row *m = xmalloc(total * sizeof *m), *r = *out;
	while (i < mid || j < *n) {
		if (j >= *n || (i < mid && r[i].ts_ms < r[j].ts_ms)) {
			m[k++] = r[i++];
		} else {
			if (i < mid && r[i].ts_ms == r[j].ts_ms)
				free(r[i++].model_version);
			m[k++] = r[j++];
		}
	}
	memcpy(r + first, m, k * sizeof *m);
	*n = first + k;
	free(m);
	return 0;
}

int store_rows(store *s, const char *host, store_res res, int64_t from_ms, int64_t to_ms, store_row **out,
	       size_t *n, char **err)
{
	*out = NULL;
	*n = 0;
	if (need_latest(s, err))
		return -1;
	size_t cap = 0;
	int rc = res == STORE_RES_MINUTE ? read_minutes(s, host, from_ms, to_ms, out, n, &cap, err)
					 : read_rows(s, res == STORE_RES_RAW ? S_ROWS_RAW : S_ROWS_HOUR, host, from_ms, to_ms,
						     out, n, &cap, err);
	if (rc) {
		store_rows_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

void store_rows_free(store_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rows[i].model_version);
	free(rows);
}

store_res store_best_res(store *s, int64_t from_ms, int64_t to_ms)
{
	(void)to_ms;
	int64_t raw, minute;
	if (s->version != LATEST_VERSION || meta_get(s, "raw_horizon", INT64_MIN, &raw, NULL) ||
	    meta_get(s, "minute_horizon", INT64_MIN, &minute, NULL))
		return STORE_RES_RAW;
	return from_ms >= raw ? STORE_RES_RAW : from_ms >= minute ? STORE_RES_MINUTE : STORE_RES_HOUR;
}

struct acc {
	int64_t count;
	int worst_rank;
	dev_state worst;
	bool have;
	double min, max, sum, weight;
};

static void acc_add(struct acc *a, const store_row *r, int f)
{
	int rank = r->state < DEV_STATE_COUNT ? dev_state_rank(r->state) : -1;
	if (a->count == 0 || rank > a->worst_rank) {
		a->worst_rank = rank;
		a->worst = r->state;
	}
	a->count += r->count;
	if (f < 0 || !r->v[f].have)
		return;
	const store_value *v = &r->v[f];
	if (!a->have || v->min < a->min)
		a->min = v->min;
	if (!a->have || v->max > a->max)
		a->max = v->max;
	a->have = true;
	a->sum += v->avg * (double)r->count;
	a->weight += (double)r->count;
}

int store_series(store *s, const char *host, const char *field, int64_t from_ms, int64_t to_ms, size_t max_points,
		 store_point **out, size_t *n, store_res *res_out, char **err)
{
	*out = NULL;
	*n = 0;
	int f = -1;
	if (field && strcmp(field, "state") != 0 && (f = store_field_parse(field)) < 0) {
		set_err(err, "unknown field \"%s\"", field);
		return -1;
	}
	if (max_points == 0) {
		set_err(err, "store_series: max_points must be at least 1");
		return -1;
	}
	if (need_latest(s, err))
		return -1;
	store_res res = store_best_res(s, from_ms, to_ms);
	if (res_out)
		*res_out = res;
	if (to_ms <= from_ms)
		return 0;
	store_row *rows = NULL;
	size_t nrows = 0, cap = 0;
	int rc = begin_read(s, err);
	if (rc)
		return -1;
	int64_t width = 1;
	if (res == STORE_RES_RAW) {
		rc = read_rows(s, S_ROWS_RAW, host, from_ms, to_ms, &rows, &nrows, &cap, err);
	} else {
		/* the tier, then raw samples after its newest bucket in the range: buckets
		 * not rolled up yet are computed from them */
		int64_t len = res == STORE_RES_MINUTE ? MINUTE_MS : HOUR_MS;
		rc = res == STORE_RES_MINUTE ? read_minutes(s, host, from_ms, to_ms, &rows, &nrows, &cap, err)
					     : read_rows(s, S_ROWS_HOUR, host, from_ms, to_ms, &rows, &nrows, &cap, err);
		int64_t tail = !rc && nrows ? rows[nrows - 1].ts_ms + len : from_ms;
		if (!rc && tail < to_ms)
			rc = read_rows(s, S_ROWS_RAW, host, tail, to_ms, &rows, &nrows, &cap, err);
		width = len;
	}
	end_read(s);
	if (rc) {
		store_rows_free(rows, nrows);
		return -1;
	}
	int64_t span = to_ms - from_ms;
	int64_t need = span / (int64_t)max_points + (span % (int64_t)max_points != 0);
	if (res == STORE_RES_RAW && nrows <= max_points) {
		*out = xcalloc(nrows ? nrows : 1, sizeof **out);
		for (size_t i = 0; i < nrows; i++) {
			struct acc a = { 0 };
			acc_add(&a, &rows[i], f);
			(*out)[i] = (store_point){ rows[i].ts_ms, a.count, a.worst, a.have, a.min, a.have ? a.sum / a.weight : 0,
						   a.max };
		}
		*n = nrows;
	} else {
		if (need > width)
			width = need;
		size_t nb = (size_t)(span / width + (span % width != 0));
		struct acc *acc = xcalloc(nb, sizeof *acc);
		for (size_t i = 0; i < nrows; i++) {
			int64_t k = (rows[i].ts_ms - from_ms) / width;
			if (k >= 0 && (size_t)k < nb)
				acc_add(&acc[k], &rows[i], f);
		}
		*out = xcalloc(nb, sizeof **out);
		for (size_t k = 0; k < nb; k++) {
			struct acc *a = &acc[k];
			if (!a->count)
				continue;
			(*out)[(*n)++] = (store_point){ from_ms + (int64_t)k * width, a->count, a->worst, a->have, a->min,
							a->have ? a->sum / a->weight : 0, a->max };
		}
		free(acc);
	}
	store_rows_free(rows, nrows);
	return 0;
}

int store_events(store *s, const char *host, int64_t from_ms, int64_t to_ms, size_t limit, store_event **out,
		 size_t *n, char **err)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = stmt(s, host ? S_EVENTS_HOST : S_EVENTS_ALL, err);
	if (!st)
		return -1;
	bind_text(st, 1, host);
	sqlite3_bind_int64(st, 2, from_ms);
	sqlite3_bind_int64(st, 3, to_ms);
	sqlite3_bind_int64(st, 4, limit ? (int64_t)limit : -1);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = xgrow(*out, &cap, *n + 1, sizeof **out);
		store_event *e = &(*out)[(*n)++];
		e->ts_ms = sqlite3_column_int64(st, 1);
		e->host = col_dup(st, 2);
		e->from = state_of(st, 3);
		e->to = state_of(st, 4);
		e->reason = reason_of(st, 5);
		e->detail = col_dup(st, 6);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_err(s, err, "reading events");
		store_events_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

void store_events_free(store_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ev[i].host);
		free(ev[i].detail);
	}
	free(ev);
}

int store_latest_states(store *s, store_latest **out, size_t *n, char **err)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = stmt(s, S_LATEST, err);
	if (!st)
		return -1;
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = xgrow(*out, &cap, *n + 1, sizeof **out);
		store_latest *l = &(*out)[(*n)++];
		l->host = col_dup(st, 0);
		l->factory = col_dup(st, 1);
		l->first_seen_ms = sqlite3_column_int64(st, 2);
		l->ts_ms = sqlite3_column_int64(st, 3);
		l->last_seen_ms = sqlite3_column_int64(st, 4);
		l->state = state_of(st, 5);
		l->reason = reason_of(st, 6);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_err(s, err, "reading devices");
		store_latest_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

void store_latest_free(store_latest *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(l[i].host);
		free(l[i].factory);
	}
	free(l);
}

static int64_t file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

int64_t store_bytes(store *s)
{
	int64_t pages, size;
	if (pragma_int(s, "PRAGMA page_count", &pages, NULL) || pragma_int(s, "PRAGMA page_size", &size, NULL))
		return -1;
	char *wal = xasprintf("%s-wal", s->path);
	int64_t b = pages * size + file_size(wal);
	free(wal);
	return b;
}

/* Oldest and newest time of a table: per device through the primary key for the
 * big ones (min(ts) over the whole table would read all of it). */
static const struct {
	const char *name;
	const char *span;
} table_info[STORE_NTABLES] = {
	{ "devices", "SELECT min(first_seen), max(last_ts) FROM devices" },
	{ "samples", "SELECT min((SELECT min(ts) FROM samples WHERE device_id = d.id)),"
		     " max((SELECT max(ts) FROM samples WHERE device_id = d.id)) FROM devices d" },
	{ "rollup_minute", "SELECT min((SELECT min(ts) FROM rollup_minute WHERE device_id = d.id)),"
			   " max((SELECT max(ts) FROM rollup_minute WHERE device_id = d.id)) FROM devices d" },
	{ "minute_packs", "SELECT min(ts), max(ts) FROM minute_packs" },
	{ "rollup_hour", "SELECT min((SELECT min(ts) FROM rollup_hour WHERE device_id = d.id)),"
			 " max((SELECT max(ts) FROM rollup_hour WHERE device_id = d.id)) FROM devices d" },
	{ "events", "SELECT min(ts), max(ts) FROM events" },
	{ "alerts", "SELECT min(first_fired), max(max(last_seen, coalesce(resolved_at, 0))) FROM alerts" },
	{ "cycles", "SELECT min(started), max(started) FROM cycles" },
	{ "audit", "SELECT min(ts), max(ts) FROM audit" },
};

int store_stats(store *s, store_info *info, char **err)
{
	memset(info, 0, sizeof *info);
	if (need_latest(s, err) || begin_read(s, err))
		return -1;
	int rc = -1;
	sqlite3_stmt *st = NULL;
	int64_t pages, size, freepages;
	info->schema_version = s->version;
	if (pragma_int(s, "PRAGMA page_count", &pages, err) || pragma_int(s, "PRAGMA page_size", &size, err) ||
	    pragma_int(s, "PRAGMA freelist_count", &freepages, err) ||
	    pragma_int(s, "SELECT count(*) FROM maint_todo", &info->pending_steps, err) ||
	    meta_get(s, "raw_horizon", 0, &info->raw_horizon_ms, err) ||
	    meta_get(s, "minute_horizon", 0, &info->minute_horizon_ms, err) ||
	    meta_get(s, "hour_horizon", 0, &info->hour_horizon_ms, err))
		goto out;
	info->file_bytes = pages * size;
	info->free_bytes = freepages * size;
	char *wal = xasprintf("%s-wal", s->path);
	info->wal_bytes = file_size(wal);
	free(wal);
	for (int i = 0; i < STORE_NTABLES; i++) {
		store_table_info *t = &info->tables[i];
		t->name = table_info[i].name;
		t->bytes = -1;
		char *sql = xasprintf("SELECT count(*) FROM %s", t->name);
		int r = pragma_int(s, sql, &t->rows, err);
		free(sql);
		if (r)
			goto out;
		if (sqlite3_prepare_v2(s->db, table_info[i].span, -1, &st, NULL) != SQLITE_OK) {
			db_err(s, err, "reading a table's time span");
			goto out;
		}
		if (sqlite3_step(st) == SQLITE_ROW) {
			t->oldest_ms = sqlite3_column_int64(st, 0);
			t->newest_ms = sqlite3_column_int64(st, 1);
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	/* bytes per table, indexes included, where SQLite has dbstat */
	if (sqlite3_prepare_v2(s->db,
			       "SELECT m.tbl_name, sum(d.pgsize) FROM dbstat('main', 1) d"
			       " JOIN sqlite_schema m ON m.name = d.name GROUP BY m.tbl_name",
			       -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *name = (const char *)sqlite3_column_text(st, 0);
			for (int i = 0; i < STORE_NTABLES; i++)
				if (name && strcmp(name, info->tables[i].name) == 0)
					info->tables[i].bytes = sqlite3_column_int64(st, 1);
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	rc = 0;
out:
	end_read(s);
	return rc;
}

/* ---- Drift comparisons ---- */

int store_drift_record(store *s, const store_drift *rows, size_t n, int64_t now_ms, char **err)
{
	if (need_latest(s, err))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (check_text("host", rows[i].host, err) || check_text("baseline", rows[i].baseline, err) ||
		    check_text("severity", rows[i].severity, err) || check_text("features", rows[i].features, err))
			return -1;
	if (begin_write(s, err))
		return -1;
	sqlite3_stmt *ins = NULL, *del = NULL;
	int rc = -1;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT OR REPLACE INTO drift_samples(host, ts, baseline, max_ks_ppm, severity, features) "
			       "VALUES (?, ?, ?, ?, ?, ?)",
			       -1, &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM drift_samples WHERE ts < ?", -1, &del, NULL) != SQLITE_OK) {
		db_err(s, err, "drift samples");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const store_drift *r = &rows[i];
		sqlite3_reset(ins);
		sqlite3_bind_text(ins, 1, r->host, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 2, r->ts_ms);
		sqlite3_bind_text(ins, 3, r->baseline, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 4, (int64_t)llround(r->max_ks * 1e6));
		sqlite3_bind_text(ins, 5, r->severity, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 6, r->features, -1, SQLITE_STATIC);
		if (run(s, ins, err, "writing a drift sample"))
			goto out;
	}
	/* kept as long as minute rollups */
	sqlite3_bind_int64(del, 1, now_ms - s->o.keep_minute_ms);
	if (run(s, del, err, "pruning drift samples"))
		goto out;
	rc = commit(s, err);
out:
	if (rc)
		rollback(s);
	sqlite3_finalize(ins);
	sqlite3_finalize(del);
	return rc;
}

int store_drift_rows(store *s, const char *host, int64_t from_ms, int64_t to_ms, store_drift_row **out, size_t *n,
		     char **err)
{
	*out = NULL;
	*n = 0;
	if (begin_read(s, err))
		return -1;
	sqlite3_stmt *st = NULL;
	int rc = -1;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT host, ts, baseline, max_ks_ppm, severity, features FROM drift_samples "
			       "WHERE (?1 IS NULL OR host = ?1) AND ts >= ?2 AND ts < ?3 ORDER BY host, ts",
			       -1, &st, NULL) != SQLITE_OK) {
		db_err(s, err, "reading drift samples");
		goto out;
	}
	if (host)
		sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, from_ms);
	sqlite3_bind_int64(st, 3, to_ms);
	size_t cap = 0;
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		*out = xgrow(*out, &cap, *n + 1, sizeof **out);
		store_drift_row *row = &(*out)[(*n)++];
		row->host = xstrdup((const char *)sqlite3_column_text(st, 0));
		row->ts_ms = sqlite3_column_int64(st, 1);
		row->baseline = xstrdup((const char *)sqlite3_column_text(st, 2));
		row->max_ks = (double)sqlite3_column_int64(st, 3) / 1e6;
		row->severity = xstrdup((const char *)sqlite3_column_text(st, 4));
		row->features = xstrdup((const char *)sqlite3_column_text(st, 5));
	}
	if (r != SQLITE_DONE) {
		db_err(s, err, "reading drift samples");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	end_read(s);
	if (rc) {
		store_drift_rows_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

void store_drift_rows_free(store_drift_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i].host);
		free(rows[i].baseline);
		free(rows[i].severity);
		free(rows[i].features);
	}
	free(rows);
}
