/* rolldb: the rollout tables: records, conditional transitions, the runner's lease, device steps and holds. */
#include "rollout/rolldb.h"
#include "rollout/rollstate.h"
#include "util/xalloc.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE 48

struct rolldb {
	sqlite3 *db;
	char *path;
	pthread_mutex_t *write_lock; /* shared by the handles of one process, or NULL */
	/* prepared statements by their text: a runner runs the same few per device
	 * step, and parsing them each time was a good part of its CPU */
	struct {
		char *sql;
		sqlite3_stmt *st;
	} cache[STMT_CACHE];
	size_t ncache;
};

static void db_err(rolldb *db, char **err, const char *what)
{
	if (err && !*err)
		*err = xasprintf("%s: %s: %s", db->path, what, sqlite3_errmsg(db->db));
}

rolldb *rolldb_open(const char *path, int busy_ms, char **err)
{
	rolldb *db = xcalloc(1, sizeof *db);
	db->path = xstrdup(path);
	if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		db_err(db, err, "opening");
		rolldb_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db->db, busy_ms > 0 ? busy_ms : 10000);
	sqlite3_exec(db->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db->db, "SELECT 1 FROM rollouts LIMIT 0", -1, &st, NULL) != SQLITE_OK) {
		db_err(db, err, "no rollout tables (schema older than version 3)");
		rolldb_close(db);
		return NULL;
	}
	sqlite3_finalize(st);
	return db;
}

void rolldb_close(rolldb *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->ncache; i++) {
		sqlite3_finalize(db->cache[i].st);
		free(db->cache[i].sql);
	}
	sqlite3_close(db->db);
	free(db->path);
	free(db);
}

void roll_row_clear(roll_row *r)
{
	if (!r)
		return;
	free(r->model);
	free(r->version);
	free(r->model_url);
	free(r->checksum);
	free(r->batches);
	free(r->params);
	free(r->state);
	free(r->stop_reason);
	free(r->lease_owner);
	free(r->created_by);
	memset(r, 0, sizeof *r);
}

void roll_rows_free(roll_row *r, size_t n)
{
	for (size_t i = 0; r && i < n; i++)
		roll_row_clear(&r[i]);
	free(r);
}

void roll_dev_clear(roll_dev *d)
{
	free(d->host);
	free(d->address);
	free(d->step);
	free(d->prev_version);
	free(d->error);
	free(d->transport);
	free(d->target);
	memset(d, 0, sizeof *d);
}

void roll_devs_free(roll_dev *d, size_t n)
{
	for (size_t i = 0; d && i < n; i++)
		roll_dev_clear(&d[i]);
	free(d);
}

/* ---- small helpers ---- */

/* A statement ready to bind, from the cache when it was prepared before; give
 * it back with release(). */
static sqlite3_stmt *prep(rolldb *db, const char *sql, char **err)
{
	for (size_t i = 0; i < db->ncache; i++)
		if (!strcmp(db->cache[i].sql, sql))
			return db->cache[i].st;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v3(db->db, sql, -1, db->ncache < STMT_CACHE ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL) !=
	    SQLITE_OK) {
		db_err(db, err, "preparing a query");
		return NULL;
	}
	if (db->ncache < STMT_CACHE) {
		db->cache[db->ncache].sql = xstrdup(sql);
		db->cache[db->ncache++].st = st;
	}
	return st;
}

/* Done with a statement of prep(): reset for its next use (or finalized when
 * the cache was full). */
static void release(rolldb *db, sqlite3_stmt *st)
{
	for (size_t i = 0; i < db->ncache; i++)
		if (db->cache[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return;
		}
	sqlite3_finalize(st);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? xstrdup((const char *)t) : NULL;
}

/* Runs a statement that returns no rows; finalizes it. -1 on error. */
static int step_done(rolldb *db, sqlite3_stmt *st, char **err, const char *what)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		db_err(db, err, what);
	release(db, st);
	return rc != SQLITE_DONE ? -1 : 0;
}

void rolldb_share_lock(rolldb *db, pthread_mutex_t *mu)
{
	db->write_lock = mu;
}

/* Every write is a transaction taken under the process's write lock (when
 * shared), so the threads of one runner queue on a mutex instead of sleeping
 * in SQLite's busy handler; other processes still meet busy_timeout. */
static int begin(rolldb *db, char **err)
{
	if (db->write_lock)
		pthread_mutex_lock(db->write_lock);
	if (sqlite3_exec(db->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		db_err(db, err, "starting a transaction");
		if (db->write_lock)
			pthread_mutex_unlock(db->write_lock);
		return -1;
	}
	return 0;
}

static int commit(rolldb *db, char **err)
{
	int rc = 0;
	if (sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_err(db, err, "committing");
		sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
		rc = -1;
	}
	if (db->write_lock)
		pthread_mutex_unlock(db->write_lock);
	return rc;
}

static void rollback(rolldb *db)
{
	sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
	if (db->write_lock)
		pthread_mutex_unlock(db->write_lock);
}

/* One write statement in its own transaction: -1, or the rows it changed. */
static int write_one(rolldb *db, sqlite3_stmt *st, char **err, const char *what)
{
	if (begin(db, err)) {
		release(db, st);
		return -1;
	}
	if (step_done(db, st, err, what)) {
		rollback(db);
		return -1;
	}
	int n = sqlite3_changes(db->db);
	return commit(db, err) ? -1 : n;
}

static int log_line(rolldb *db, int64_t id, const char *host, const char *step, const char *event, int ok,
		    const char *detail, int64_t now, char **err)
{
	sqlite3_stmt *st = prep(db, "INSERT INTO rollout_log(rollout_id, host, ts, step, event, ok, detail) "
				    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, host);
	sqlite3_bind_int64(st, 3, now);
	bind_text(st, 4, step);
	bind_text(st, 5, event);
	if (ok < 0)
		sqlite3_bind_null(st, 6);
	else
		sqlite3_bind_int(st, 6, ok);
	bind_text(st, 7, detail);
	return step_done(db, st, err, "writing the rollout log");
}

/* Takes the holds of every device of rollout id; a device held by another
 * rollout: -1 naming it. Inside a transaction. */
static int take_holds(rolldb *db, int64_t id, char **err)
{
	sqlite3_stmt *st = prep(db, "SELECT d.host, h.rollout_id FROM rollout_devices d JOIN rollout_holds h "
				    "ON h.host = d.host WHERE d.rollout_id = ?1 AND h.rollout_id <> ?1 LIMIT 1", err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (err && !*err)
			*err = xasprintf("device %s is held by rollout %lld (one rollout at a time per device)",
					 (const char *)sqlite3_column_text(st, 0), (long long)sqlite3_column_int64(st, 1));
		release(db, st);
		return -1;
	}
	release(db, st);
	if (rc != SQLITE_DONE) {
		db_err(db, err, "reading the device holds");
		return -1;
	}
	st = prep(db, "INSERT OR IGNORE INTO rollout_holds(host, rollout_id) "
		      "SELECT host, rollout_id FROM rollout_devices WHERE rollout_id = ?1", err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return step_done(db, st, err, "taking the device holds");
}

static int release_holds(rolldb *db, int64_t id, char **err)
{
	sqlite3_stmt *st = prep(db, "DELETE FROM rollout_holds WHERE rollout_id = ?1", err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return step_done(db, st, err, "releasing the device holds");
}

/* ---- rollouts ---- */

int64_t rolldb_create(rolldb *db, const roll_row *r, const roll_dev *devs, size_t n, char **err)
{
	if (begin(db, err))
		return -1;
	sqlite3_stmt *st = prep(db,
				"INSERT INTO rollouts(model, version, model_url, checksum, batches, params, state, "
				"current_batch, created_by, created_at, updated_at) "
				"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9, ?9)",
				err);
	if (!st)
		goto fail;
	bind_text(st, 1, r->model);
	bind_text(st, 2, r->version);
	bind_text(st, 3, r->model_url);
	bind_text(st, 4, r->checksum);
	bind_text(st, 5, r->batches);
	bind_text(st, 6, r->params);
	bind_text(st, 7, r->state);
	bind_text(st, 8, r->created_by);
	sqlite3_bind_int64(st, 9, r->created_at);
	if (step_done(db, st, err, "recording the rollout"))
		goto fail;
	int64_t id = sqlite3_last_insert_rowid(db->db);
	st = prep(db, "INSERT INTO rollout_devices(rollout_id, host, ord, batch, address, port, step, metrics_port, "
		      "transport, target) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8, ?9)", err);
	if (!st)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		bind_text(st, 2, devs[i].host);
		sqlite3_bind_int(st, 3, devs[i].ord);
		sqlite3_bind_int(st, 4, devs[i].batch);
		bind_text(st, 5, devs[i].address);
		sqlite3_bind_int(st, 6, devs[i].port);
		if (devs[i].metrics_port > 0)
			sqlite3_bind_int(st, 7, devs[i].metrics_port);
		else
			sqlite3_bind_null(st, 7);
		bind_text(st, 8, devs[i].transport ? devs[i].transport : "http");
		bind_text(st, 9, devs[i].target);
		if (sqlite3_step(st) != SQLITE_DONE) {
			db_err(db, err, "recording the rollout's devices");
			release(db, st);
			goto fail;
		}
	}
	release(db, st);
	if (take_holds(db, id, err) || log_line(db, id, NULL, r->state, "start", -1, NULL, r->created_at, err) ||
	    commit(db, err))
		goto fail;
	return id;
fail:
	rollback(db);
	return -1;
}

#define ROW_COLS                                                                                         \
	"id, model, version, model_url, checksum, batches, params, state, current_batch, stop_reason, " \
	"lease_owner, lease_expiry, created_by, created_at, updated_at"

static void read_row(sqlite3_stmt *st, roll_row *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->model = col_text(st, 1);
	r->version = col_text(st, 2);
	r->model_url = col_text(st, 3);
	r->checksum = col_text(st, 4);
	r->batches = col_text(st, 5);
	r->params = col_text(st, 6);
	r->state = col_text(st, 7);
	r->current_batch = sqlite3_column_int(st, 8);
	r->stop_reason = col_text(st, 9);
	r->lease_owner = col_text(st, 10);
	r->lease_expiry = sqlite3_column_int64(st, 11);
	r->created_by = col_text(st, 12);
	r->created_at = sqlite3_column_int64(st, 13);
	r->updated_at = sqlite3_column_int64(st, 14);
}

int rolldb_get(rolldb *db, int64_t id, roll_row *out, char **err)
{
	memset(out, 0, sizeof *out);
	sqlite3_stmt *st = prep(db, "SELECT " ROW_COLS " FROM rollouts WHERE id = ?1", err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_row(st, out);
	else if (rc == SQLITE_DONE && err && !*err)
		*err = xasprintf("no rollout %lld", (long long)id);
	else
		db_err(db, err, "reading a rollout");
	release(db, st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int rolldb_list(rolldb *db, roll_row **out, size_t *n, char **err)
{
	return rolldb_list_newest(db, 0, out, n, err);
}

int rolldb_list_newest(rolldb *db, size_t max, roll_row **out, size_t *n, char **err)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = prep(db, "SELECT " ROW_COLS " FROM rollouts ORDER BY id DESC LIMIT ?1", err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, max ? (sqlite3_int64)max : -1);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = xgrow(*out, &cap, *n + 1, sizeof **out);
		read_row(st, &(*out)[(*n)++]);
	}
	release(db, st);
	if (rc != SQLITE_DONE) {
		db_err(db, err, "listing rollouts");
		roll_rows_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

#define DEV_COLS \
	"host, address, port, batch, ord, step, step_started, step_ended, prev_version, error, attempts, " \
	"coalesce(metrics_port, 0), transport, target"

static void read_dev(sqlite3_stmt *st, roll_dev *d)
{
	d->host = col_text(st, 0);
	d->address = col_text(st, 1);
	d->port = sqlite3_column_int(st, 2);
	d->batch = sqlite3_column_int(st, 3);
	d->ord = sqlite3_column_int(st, 4);
	d->step = col_text(st, 5);
	d->step_started = sqlite3_column_int64(st, 6);
	d->step_ended = sqlite3_column_int64(st, 7);
	d->prev_version = col_text(st, 8);
	d->error = col_text(st, 9);
	d->attempts = sqlite3_column_int(st, 10);
	d->metrics_port = sqlite3_column_int(st, 11);
	d->transport = col_text(st, 12);
	d->target = col_text(st, 13);
}

int rolldb_devices(rolldb *db, int64_t id, roll_dev **out, size_t *n, char **err)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = prep(db, "SELECT " DEV_COLS " FROM rollout_devices WHERE rollout_id = ?1 ORDER BY ord", err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = xgrow(*out, &cap, *n + 1, sizeof **out);
		memset(&(*out)[*n], 0, sizeof **out);
		read_dev(st, &(*out)[(*n)++]);
	}
	release(db, st);
	if (rc != SQLITE_DONE) {
		db_err(db, err, "reading the rollout's devices");
		roll_devs_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

int rolldb_device(rolldb *db, int64_t id, const char *host, roll_dev *out, char **err)
{
	memset(out, 0, sizeof *out);
	sqlite3_stmt *st =
		prep(db, "SELECT " DEV_COLS " FROM rollout_devices WHERE rollout_id = ?1 AND host = ?2", err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, host);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_dev(st, out);
	else
		db_err(db, err, "reading a rollout device");
	release(db, st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* "state IN (?2, ?3, ...)" for a NULL-terminated set; caller frees. */
static char *in_list(const char *const *set, int first, size_t *count)
{
	size_t k = 0, len = 0;
	while (set[k])
		k++;
	char *s = xmalloc(k * 16 + 8);
	for (size_t i = 0; i < k; i++)
		len += (size_t)sprintf(s + len, "%s?%zu", i ? ", " : "", (size_t)first + i);
	s[len] = '\0';
	*count = k;
	return s;
}

static int transition(rolldb *db, int64_t id, const char *const *from, const char *to, int batch,
		      const char *reason, int64_t now, char **err)
{
	size_t k;
	char *in = in_list(from, 6, &k);
	char *sql = xasprintf("UPDATE rollouts SET state = ?2, updated_at = ?3, "
			      "stop_reason = coalesce(?4, stop_reason), current_batch = coalesce(?5, current_batch) "
			      "WHERE id = ?1 AND state IN (%s)",
			      in);
	free(in);
	if (begin(db, err)) {
		free(sql);
		return -1;
	}
	/* the state before, to know whether holds move */
	roll_row before;
	char *e2 = NULL;
	if (rolldb_get(db, id, &before, &e2)) {
		if (err && !*err)
			*err = e2;
		else
			free(e2);
		free(sql);
		rollback(db);
		return -1;
	}
	sqlite3_stmt *st = prep(db, sql, err);
	free(sql);
	if (!st)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, to);
	sqlite3_bind_int64(st, 3, now);
	bind_text(st, 4, reason);
	if (batch >= 0)
		sqlite3_bind_int(st, 5, batch);
	else
		sqlite3_bind_null(st, 5);
	for (size_t i = 0; i < k; i++)
		bind_text(st, 6 + (int)i, from[i]);
	if (step_done(db, st, err, "changing a rollout's state"))
		goto fail;
	int changed = sqlite3_changes(db->db);
	if (changed) {
		bool was_final = roll_state_in(before.state, roll_states_final);
		bool is_final = roll_state_in(to, roll_states_final);
		if ((is_final && !was_final && release_holds(db, id, err)) ||
		    (was_final && !is_final && take_holds(db, id, err)) ||
		    log_line(db, id, NULL, to, "state", -1, reason, now, err))
			goto fail;
	}
	roll_row_clear(&before);
	if (commit(db, err))
		return -1;
	return changed ? 1 : 0;
fail:
	roll_row_clear(&before);
	rollback(db);
	return -1;
}

int rolldb_transition(rolldb *db, int64_t id, const char *const *from, const char *to, const char *reason,
		      int64_t now, char **err)
{
	return transition(db, id, from, to, -1, reason, now, err);
}

int rolldb_transition_batch(rolldb *db, int64_t id, const char *const *from, const char *to, int batch,
			    const char *reason, int64_t now, char **err)
{
	return transition(db, id, from, to, batch < 0 ? 0 : batch, reason, now, err);
}

/* ---- the lease ---- */

static int lease_update(rolldb *db, const char *sql, int64_t id, const char *owner, int64_t now, int64_t ttl,
			char **err)
{
	sqlite3_stmt *st = prep(db, sql, err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, owner);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, now + ttl);
	int n = write_one(db, st, err, "updating the runner's lease");
	return n < 0 ? -1 : n ? 1 : 0;
}

int rolldb_lease_take(rolldb *db, int64_t id, const char *owner, int64_t now, int64_t ttl_ms, char **err)
{
	return lease_update(db,
			    "UPDATE rollouts SET lease_owner = ?2, lease_expiry = ?4 WHERE id = ?1 AND "
			    "(lease_owner IS NULL OR lease_owner = ?2 OR lease_expiry < ?3)",
			    id, owner, now, ttl_ms, err);
}

int rolldb_lease_renew(rolldb *db, int64_t id, const char *owner, int64_t now, int64_t ttl_ms, char **err)
{
	return lease_update(db, "UPDATE rollouts SET lease_expiry = ?4 WHERE id = ?1 AND lease_owner = ?2 AND ?3 = ?3",
			    id, owner, now, ttl_ms, err);
}

int rolldb_lease_release(rolldb *db, int64_t id, const char *owner, const char *const *keep, char **err)
{
	size_t k;
	char *in = in_list(keep, 3, &k);
	char *sql = xasprintf("UPDATE rollouts SET lease_owner = NULL, lease_expiry = NULL "
			      "WHERE id = ?1 AND lease_owner = ?2 AND state NOT IN (%s)",
			      in);
	free(in);
	sqlite3_stmt *st = prep(db, sql, err);
	free(sql);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, owner);
	for (size_t i = 0; i < k; i++)
		bind_text(st, 3 + (int)i, keep[i]);
	int n = write_one(db, st, err, "releasing the runner's lease");
	return n < 0 ? -1 : n ? 1 : 0;
}

/* ---- device steps ---- */

int rolldb_step_start(rolldb *db, int64_t id, const char *host, const char *step, bool count_attempt, int64_t now,
		      char **err)
{
	if (begin(db, err))
		return -1;
	sqlite3_stmt *st = prep(db, "UPDATE rollout_devices SET step = ?3, step_started = ?4, step_ended = NULL, "
				    "attempts = attempts + ?5 WHERE rollout_id = ?1 AND host = ?2", err);
	if (!st)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, host);
	bind_text(st, 3, step);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int(st, 5, count_attempt ? 1 : 0);
	if (step_done(db, st, err, "recording a step's start") ||
	    log_line(db, id, host, step, "start", -1, NULL, now, err) || commit(db, err))
		goto fail;
	return 0;
fail:
	rollback(db);
	return -1;
}

int rolldb_step_end(rolldb *db, int64_t id, const char *host, const char *step, bool ok, const char *detail,
		    const char *next, int64_t now, char **err)
{
	if (begin(db, err))
		return -1;
	sqlite3_stmt *st = prep(db, "UPDATE rollout_devices SET step_ended = ?3, step = coalesce(?4, step), "
				    "error = CASE WHEN ?4 IS NULL OR (?5 AND ?4 = 'failed') THEN error WHEN ?5 THEN NULL ELSE ?6 END "
				    "WHERE rollout_id = ?1 AND host = ?2", err);
	if (!st)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, host);
	sqlite3_bind_int64(st, 3, now);
	bind_text(st, 4, next);
	sqlite3_bind_int(st, 5, ok ? 1 : 0);
	bind_text(st, 6, detail);
	if (step_done(db, st, err, "recording a step's end") ||
	    log_line(db, id, host, step, "end", ok ? 1 : 0, detail, now, err) || commit(db, err))
		goto fail;
	return 0;
fail:
	rollback(db);
	return -1;
}

int rolldb_set_prev(rolldb *db, int64_t id, const char *host, const char *prev, char **err)
{
	sqlite3_stmt *st =
		prep(db, "UPDATE rollout_devices SET prev_version = ?3 WHERE rollout_id = ?1 AND host = ?2", err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, host);
	bind_text(st, 3, prev);
	return write_one(db, st, err, "recording the previous version") < 0 ? -1 : 0;
}

int rolldb_devices_move(rolldb *db, int64_t id, const char *const *from, const char *to, int64_t now, char **err)
{
	size_t k;
	char *in = in_list(from, 4, &k);
	char *sql = xasprintf("UPDATE rollout_devices SET step = ?2, step_started = NULL, step_ended = ?3, "
			      "error = NULL WHERE rollout_id = ?1 AND step IN (%s)",
			      in);
	free(in);
	sqlite3_stmt *st = prep(db, sql, err);
	free(sql);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, to);
	sqlite3_bind_int64(st, 3, now);
	for (size_t i = 0; i < k; i++)
		bind_text(st, 4 + (int)i, from[i]);
	return write_one(db, st, err, "moving devices");
}

int rolldb_log(rolldb *db, int64_t id, const char *host, const char *step, const char *detail, int64_t now,
	       char **err)
{
	if (begin(db, err))
		return -1;
	if (log_line(db, id, host, step, "note", -1, detail, now, err)) {
		rollback(db);
		return -1;
	}
	return commit(db, err);
}

int rolldb_attempt(rolldb *db, int64_t id, const char *host, char **err)
{
	sqlite3_stmt *st = prep(db, "UPDATE rollout_devices SET attempts = attempts + 1 WHERE rollout_id = ?1 AND host = ?2",
				err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, host);
	return write_one(db, st, err, "counting an update") < 0 ? -1 : 0;
}

void roll_logs_free(roll_log *l, size_t n)
{
	for (size_t i = 0; l && i < n; i++) {
		free(l[i].host);
		free(l[i].step);
		free(l[i].event);
		free(l[i].detail);
	}
	free(l);
}

int rolldb_log_recent(rolldb *db, int64_t id, bool rollout_only, size_t max, roll_log **out, size_t *n, char **err)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = prep(db, rollout_only
			    ? "SELECT host, ts, step, event, ok, detail FROM rollout_log "
			      "WHERE rollout_id = ?1 AND host IS NULL ORDER BY id DESC LIMIT ?2"
			    : "SELECT host, ts, step, event, ok, detail FROM rollout_log "
			      "WHERE rollout_id = ?1 ORDER BY id DESC LIMIT ?2", err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, max ? (sqlite3_int64)max : -1);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = xgrow(*out, &cap, *n + 1, sizeof **out);
		roll_log *l = &(*out)[(*n)++];
		l->host = col_text(st, 0);
		l->ts = sqlite3_column_int64(st, 1);
		l->step = col_text(st, 2);
		l->event = col_text(st, 3);
		l->ok = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 4);
		l->detail = col_text(st, 5);
	}
	release(db, st);
	if (rc != SQLITE_DONE) {
		db_err(db, err, "reading the rollout log");
		roll_logs_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

/* ---- the lease of a dead runner, and the canary gate's records ---- */

int rolldb_lease_take_from(rolldb *db, int64_t id, const char *dead, const char *owner, int64_t now, int64_t ttl_ms,
			   char **err)
{
	sqlite3_stmt *st = prep(db, "UPDATE rollouts SET lease_owner = ?2, lease_expiry = ?4 WHERE id = ?1 AND "
				    "lease_owner = ?3", err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, owner);
	bind_text(st, 3, dead);
	sqlite3_bind_int64(st, 4, now + ttl_ms);
	int n = write_one(db, st, err, "taking over the runner's lease");
	if (n == 1) {
		char *d = xasprintf("lease taken over from %s (its process is gone)", dead);
		rolldb_log(db, id, NULL, "lease", d, now, NULL);
		free(d);
	}
	return n < 0 ? -1 : n ? 1 : 0;
}

int rolldb_gate_add(rolldb *db, int64_t id, const roll_gate *g, char **err)
{
	sqlite3_stmt *st = prep(db, "INSERT OR REPLACE INTO rollout_gates(rollout_id, batch, ts, outcome, soak_ms, "
				    "figures, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, g->batch);
	sqlite3_bind_int64(st, 3, g->ts);
	bind_text(st, 4, g->outcome);
	sqlite3_bind_int64(st, 5, g->soak_ms);
	bind_text(st, 6, g->figures);
	bind_text(st, 7, g->reason);
	return write_one(db, st, err, "recording a batch gate") < 0 ? -1 : 0;
}

void roll_gates_free(roll_gate *g, size_t n)
{
	for (size_t i = 0; g && i < n; i++) {
		free(g[i].outcome);
		free(g[i].figures);
		free(g[i].reason);
	}
	free(g);
}

int rolldb_gates(rolldb *db, int64_t id, roll_gate **out, size_t *n, char **err)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = prep(db, "SELECT batch, ts, outcome, soak_ms, figures, reason FROM rollout_gates "
				    "WHERE rollout_id = ?1 ORDER BY ts, batch", err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = xgrow(*out, &cap, *n + 1, sizeof **out);
		roll_gate *g = &(*out)[(*n)++];
		g->batch = sqlite3_column_int(st, 0);
		g->ts = sqlite3_column_int64(st, 1);
		g->outcome = col_text(st, 2);
		g->soak_ms = sqlite3_column_int64(st, 3);
		g->figures = col_text(st, 4);
		g->reason = col_text(st, 5);
	}
	release(db, st);
	if (rc != SQLITE_DONE) {
		db_err(db, err, "reading the batch gates");
		roll_gates_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

int rolldb_state(rolldb *db, int64_t id, char *buf, size_t size, char **err)
{
	sqlite3_stmt *st = prep(db, "SELECT state FROM rollouts WHERE id = ?1", err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
	else if (rc == SQLITE_DONE && err && !*err)
		*err = xasprintf("no rollout %lld", (long long)id);
	else
		db_err(db, err, "reading a rollout's state");
	release(db, st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int rolldb_log_last(rolldb *db, int64_t id, const char *step, int64_t *ts, char **detail, char **err)
{
	*ts = 0;
	*detail = NULL;
	sqlite3_stmt *st = prep(db, "SELECT ts, detail FROM rollout_log WHERE rollout_id = ?1 AND host IS NULL AND "
				    "step = ?2 ORDER BY id DESC LIMIT 1", err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, step);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ts = sqlite3_column_int64(st, 0);
		*detail = col_text(st, 1);
	} else if (rc != SQLITE_DONE) {
		db_err(db, err, "reading the rollout log");
	}
	release(db, st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

void roll_log_rows_free(roll_log_row *r, size_t n)
{
	for (size_t i = 0; r && i < n; i++) {
		free(r[i].host);
		free(r[i].step);
		free(r[i].event);
		free(r[i].detail);
	}
	free(r);
}

int rolldb_log_rows(rolldb *db, int64_t id, const char *host, int64_t after_id, size_t limit, roll_log_row **out,
		    size_t *n, char **err)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = prep(db, "SELECT id, ts, host, step, event, ok, detail FROM rollout_log WHERE rollout_id = ?1 "
				    "AND (?2 IS NULL OR host = ?2) AND id > ?3 ORDER BY id LIMIT ?4", err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, host);
	sqlite3_bind_int64(st, 3, after_id);
	sqlite3_bind_int64(st, 4, limit ? (int64_t)limit : -1);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = xgrow(*out, &cap, *n + 1, sizeof **out);
		roll_log_row *r = &(*out)[(*n)++];
		r->id = sqlite3_column_int64(st, 0);
		r->ts = sqlite3_column_int64(st, 1);
		r->host = col_text(st, 2);
		r->step = col_text(st, 3);
		r->event = col_text(st, 4);
		r->ok = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 5);
		r->detail = col_text(st, 6);
	}
	release(db, st);
	if (rc != SQLITE_DONE) {
		db_err(db, err, "reading the rollout's log");
		roll_log_rows_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}
