/* test_store: the history store: file mode, schema and migrations, one transaction per cycle, events, alerts, rollups, pruning, two writers at once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/store.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIN_MS INT64_C(60000)
#define HOUR_MS INT64_C(3600000)
/* an hour boundary: 2023-11-14T22:00:00Z */
#define T0 INT64_C(1699999200000)

/* ---- helpers ---- */

static void rm_rf(const char *path)
{
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				char *sub = xasprintf("%s/%s", path, e->d_name);
				rm_rf(sub);
				free(sub);
			}
		closedir(d);
	}
	remove(path);
}

static int setup_dir(void **state)
{
	char *dir = xstrdup("/tmp/test_store.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	*state = dir;
	return 0;
}

static int teardown_dir(void **state)
{
	rm_rf(*state);
	free(*state);
	return 0;
}

static char *path_in(void **state, const char *name)
{
	return xasprintf("%s/%s", (char *)*state, name);
}

/* One number from a fresh connection of our own: what another process would see. */
static int64_t q(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void x(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

static store *open_ok(const char *path, const store_opts *o)
{
	char *err = NULL;
	store *s = store_open_opts(path, o, &err);
	if (!s)
		fail_msg("open %s: %s", path, err);
	return s;
}

/* A sample as the poller makes it; temp NAN: not reported. */
static dev_sample mk(const char *host, int64_t ts, dev_state st, double temp)
{
	dev_sample s;
	memset(&s, 0, sizeof s);
	s.host = host;
	s.factory = "ams";
	s.ts_ms = ts;
	s.state = st;
	s.rtt_ms = -1;
	if (st == DEV_HEALTHY || st == DEV_DEGRADED || st == DEV_UNHEALTHY) {
		s.rtt_ms = 12.5;
		s.last_seen_ms = ts;
		s.st.model_version = (char *)"yolo-3.2";
		if (!isnan(temp)) {
			s.st.have |= DEV_HAVE_GPU_TEMP;
			s.st.gpu_temp = temp;
		}
	} else if (st == DEV_UNREACHABLE) {
		s.reason = DEV_REASON_TIMEOUT;
		s.detail = (char *)"timed out after 5 s";
	}
	return s;
}

static void cycle(store *s, int64_t ts, const dev_sample *smp, size_t n)
{
	char *err = NULL;
	assert_int_equal(store_cycle_begin(s, ts, "console", &err), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(store_cycle_sample(s, &smp[i], &err), 0);
	if (store_cycle_end(s, ts + 500, &err))
		fail_msg("cycle_end: %s", err);
}

static void one(store *s, const char *host, int64_t ts, dev_state st, double temp)
{
	dev_sample smp = mk(host, ts, st, temp);
	cycle(s, ts, &smp, 1);
}

static void maintain_all(store *s, int64_t now)
{
	char *err = NULL;
	int rc;
	while ((rc = store_maintain(s, now, &err)) == 1)
		;
	if (rc)
		fail_msg("maintain: %s", err);
}

static int mode_of(const char *path)
{
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	return (int)(sb.st_mode & 0777);
}

/* ---- tests ---- */

static void test_default_path(void **state)
{
	(void)state;
	char *home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
	char *xdg = getenv("XDG_DATA_HOME") ? xstrdup(getenv("XDG_DATA_HOME")) : NULL;
	setenv("HOME", "/home/ops", 1);
	setenv("XDG_DATA_HOME", "/data", 1);
	char *p = store_default_path();
	assert_string_equal(p, "/data/fleetdeck/history.db");
	free(p);
	setenv("XDG_DATA_HOME", "relative", 1); /* the XDG spec: ignore relative paths */
	p = store_default_path();
	assert_string_equal(p, "/home/ops/.local/share/fleetdeck/history.db");
	free(p);
	unsetenv("XDG_DATA_HOME");
	p = store_default_path();
	assert_string_equal(p, "/home/ops/.local/share/fleetdeck/history.db");
	free(p);
	if (home)
		setenv("HOME", home, 1);
	if (xdg)
		setenv("XDG_DATA_HOME", xdg, 1);
	free(home);
	free(xdg);
}

static void test_create_mode_0600(void **state)
{
	char *path = path_in(state, "a/b/history.db");
	char *dir = path_in(state, "a/b");
	char *wal = path_in(state, "a/b/history.db-wal");
	mode_t old = umask(0); /* permissive: SQLite alone would make it 0644 */
	store *s = open_ok(path, NULL);
	umask(old);
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(mode_of(dir), 0700);
	assert_null(store_warning(s));
	one(s, "d1", T0, DEV_HEALTHY, 50);
	assert_int_equal(mode_of(wal), 0600);
	store_close(s);

	/* a umask that takes the owner's bits away still gives a usable 0600 file */
	char *path2 = path_in(state, "c/history.db");
	old = umask(0277);
	s = open_ok(path2, NULL);
	umask(old);
	assert_int_equal(mode_of(path2), 0600);
	store_close(s);
	free(path);
	free(path2);
	free(dir);
	free(wal);
}

static void test_existing_wide_mode_tightened(void **state)
{
	char *path = path_in(state, "history.db");
	int fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	fchmod(fd, 0644);
	close(fd);
	store *s = open_ok(path, NULL);
	assert_int_equal(mode_of(path), 0600);
	assert_non_null(store_warning(s));
	assert_non_null(strstr(store_warning(s), "0644"));
	assert_non_null(strstr(store_warning(s), "tightened to 0600"));
	store_close(s);
	s = open_ok(path, NULL); /* now quiet */
	assert_null(store_warning(s));
	store_close(s);
	free(path);
}

static void test_must_exist(void **state)
{
	char *path = path_in(state, "none/history.db");
	store_opts o;
	store_opts_default(&o);
	o.must_exist = true;
	char *err = NULL;
	assert_null(store_open_opts(path, &o, &err));
	assert_non_null(strstr(err, "no such file"));
	struct stat sb;
	assert_int_not_equal(stat(path, &sb), 0); /* nothing created */
	free(err);
	free(path);
}

static void test_schema_created(void **state)
{
	char *path = path_in(state, "history.db");
	store *s = open_ok(path, NULL);
	assert_int_equal(store_schema_version(s), 4);
	store_close(s);
	assert_int_equal(q(path, "PRAGMA user_version"), 4);
	assert_int_equal(q(path, "PRAGMA application_id"), 0x666c6468);
	const char *tables[] = { "devices", "samples", "rollup_minute", "rollup_hour", "events",
				 "alerts", "cycles", "audit", "states", "reasons", "models", "meta", "maint_todo" };
	for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
		char *sql = xasprintf("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '%s'", tables[i]);
		assert_int_equal(q(path, sql), 1);
		free(sql);
	}
	assert_int_equal(q(path, "SELECT count(*) FROM states"), DEV_STATE_COUNT);
	assert_int_equal(q(path, "SELECT count(*) FROM reasons"), DEV_REASON_COUNT - 1);
	/* WAL, and reopening an up-to-date file changes nothing */
	sqlite3 *db;
	sqlite3_open(path, &db);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
	s = open_ok(path, NULL);
	assert_int_equal(store_txn_count(s), 0);
	store_close(s);
	free(path);
}

static void test_migration_from_older(void **state)
{
	char *path = path_in(state, "history.db");
	store_opts o;
	store_opts_default(&o);
	o.max_version = 1;
	store *s = open_ok(path, &o);
	assert_int_equal(store_schema_version(s), 1);
	char *err = NULL;
	assert_int_equal(store_cycle_begin(s, T0, "console", &err), -1); /* not usable below the latest */
	free(err);
	store_close(s);
	assert_int_equal(q(path, "PRAGMA user_version"), 1);
	assert_int_equal(q(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'alerts'"), 0);
	/* what a version-1 fleetdeck wrote: a device with two samples in one minute */
	x(path, "INSERT INTO devices(id, host, first_seen, last_ts, last_state) VALUES (1, 'old', 1699999200000, 1699999210000, 1);"
		"INSERT INTO samples(device_id, ts, state, gpu_temp_mc) VALUES (1, 1699999200000, 1, 50000),"
		" (1, 1699999210000, 2, 54000);");

	s = open_ok(path, NULL);
	assert_int_equal(store_schema_version(s), 4);
	assert_int_equal(q(path, "PRAGMA user_version"), 4);
	assert_int_equal(q(path, "SELECT count(*) FROM maint_todo WHERE job IN (0, 1)"), 2); /* old data queued */
	maintain_all(s, T0 + 2 * HOUR_MS);
	store_row *rows;
	size_t n;
	assert_int_equal(store_rows(s, "old", STORE_RES_MINUTE, T0, T0 + HOUR_MS, &rows, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].count, 2);
	assert_int_equal(rows[0].state, DEV_DEGRADED);
	assert_true(rows[0].v[STORE_GPU_TEMP].have);
	assert_true(rows[0].v[STORE_GPU_TEMP].min == 50.0 && rows[0].v[STORE_GPU_TEMP].avg == 52.0 &&
		    rows[0].v[STORE_GPU_TEMP].max == 54.0);
	store_rows_free(rows, n);
	/* and the device's last state was kept: the next change is an event from it */
	one(s, "old", T0 + 20000, DEV_UNHEALTHY, 60);
	store_event *ev;
	assert_int_equal(store_events(s, "old", 0, INT64_MAX, 0, &ev, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].from, DEV_HEALTHY);
	assert_int_equal(ev[0].to, DEV_UNHEALTHY);
	store_events_free(ev, n);
	store_close(s);
	free(path);
}

static void test_newer_version_refused(void **state)
{
	char *path = path_in(state, "history.db");
	store_close(open_ok(path, NULL));
	x(path, "PRAGMA user_version = 99");
	char *err = NULL;
	assert_null(store_open(path, &err));
	assert_non_null(err);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "version 99 is newer"));
	free(err);
	free(path);
}

static void test_foreign_sqlite_refused(void **state)
{
	char *path = path_in(state, "other.db");
	x(path, "CREATE TABLE inventory(host TEXT); INSERT INTO inventory VALUES ('a');");
	char *err = NULL;
	assert_null(store_open(path, &err));
	assert_non_null(strstr(err, "not a fleetdeck history"));
	free(err);
	assert_int_equal(q(path, "SELECT count(*) FROM sqlite_schema"), 1); /* untouched */
	free(path);
}

static void test_not_a_database(void **state)
{
	char *path = path_in(state, "garbage.db");
	FILE *f = fopen(path, "w");
	for (int i = 0; i < 400; i++)
		fputs("this is not a database, it is a text file\n", f);
	fclose(f);
	char *err = NULL;
	assert_null(store_open(path, &err));
	assert_non_null(err);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "not an SQLite database"));
	free(err);
	err = NULL;

	/* a real history whose first page (header and schema) was overwritten */
	char *path2 = path_in(state, "corrupt.db");
	store *s = open_ok(path2, NULL);
	one(s, "d1", T0, DEV_HEALTHY, 50);
	store_close(s);
	int fd = open(path2, O_WRONLY);
	char junk[4000];
	memset(junk, 0xa5, sizeof junk);
	assert_int_equal(pwrite(fd, junk, sizeof junk, 100), (ssize_t)sizeof junk);
	close(fd);
	assert_null(store_open(path2, &err));
	assert_non_null(err);
	assert_non_null(strstr(err, path2));
	assert_true(strstr(err, "corrupt") || strstr(err, "malformed"));
	free(err);
	free(path);
	free(path2);
}

static void test_one_transaction_per_cycle(void **state)
{
	char *path = path_in(state, "history.db");
	store *s = open_ok(path, NULL);
	char *err = NULL;
	char hosts[50][16];
	dev_sample smp[50];
	for (int c = 0; c < 3; c++) {
		int64_t ts = T0 + c * 10000;
		int64_t before = store_txn_count(s);
		assert_int_equal(store_cycle_begin(s, ts, "console", &err), 0);
		for (int i = 0; i < 50; i++) {
			snprintf(hosts[i], sizeof hosts[i], "edge-%02d", i);
			smp[i] = mk(hosts[i], ts + i, i % 7 ? DEV_HEALTHY : DEV_UNREACHABLE, 40 + i);
			assert_int_equal(store_cycle_sample(s, &smp[i], &err), 0);
		}
		/* nothing is visible to others until the end, and nothing was written */
		assert_int_equal(q(path, "SELECT count(*) FROM samples"), c * 50);
		assert_int_equal(store_txn_count(s), before);
		assert_int_equal(store_cycle_end(s, ts + 900, &err), 0);
		assert_int_equal(store_txn_count(s), before + 1);
		assert_int_equal(q(path, "SELECT count(*) FROM samples"), (c + 1) * 50);
		assert_int_equal(q(path, "SELECT count(*) FROM cycles"), c + 1);
	}
	/* pending and stale are counted, not stored */
	dev_sample p = mk("edge-00", T0 + 40000, DEV_PENDING, NAN);
	dev_sample st = mk("edge-01", T0 + 40000, DEV_STALE, NAN);
	dev_sample h = mk("edge-02", T0 + 40000, DEV_HEALTHY, 50);
	assert_int_equal(store_cycle_begin(s, T0 + 40000, "report", &err), 0);
	store_cycle_sample(s, &p, &err);
	store_cycle_sample(s, &st, &err);
	store_cycle_sample(s, &h, &err);
	assert_int_equal(store_cycle_end(s, T0 + 41000, &err), 0);
	assert_int_equal(q(path, "SELECT samples FROM cycles ORDER BY id DESC LIMIT 1"), 1);
	assert_int_equal(q(path, "SELECT n_pending + 10 * n_stale + 100 * n_healthy FROM cycles ORDER BY id DESC LIMIT 1"),
			 111);
	assert_int_equal(q(path, "SELECT count(*) FROM cycles WHERE who = 'report' AND pid > 0"), 1);
	assert_int_equal(q(path, "SELECT count(*) FROM samples"), 151);
	/* an aborted cycle writes nothing; misuse is an error, not a crash */
	assert_int_equal(store_cycle_begin(s, T0 + 50000, "console", &err), 0);
	store_cycle_sample(s, &h, &err);
	store_cycle_abort(s);
	assert_int_equal(store_cycle_end(s, T0, &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(store_cycle_sample(s, &h, &err), -1);
	free(err);
	assert_int_equal(q(path, "SELECT count(*) FROM cycles"), 4);
	store_close(s);
	free(path);
}

static void test_samples_stored_with_nulls(void **state)
{
	char *path = path_in(state, "history.db");
	store *s = open_ok(path, NULL);
	dev_sample a = mk("d1", T0, DEV_HEALTHY, 63.5);
	a.st.have |= DEV_HAVE_GPU_UTIL | DEV_HAVE_GPU_MEM_USED | DEV_HAVE_POWER | DEV_HAVE_ERROR_RATE | DEV_HAVE_UPTIME;
	a.st.gpu_util = 47.3;
	a.st.gpu_mem_used = 3.0 * 1048576 * 1024;
	a.st.power_w = 12.345;
	a.st.error_rate = 0.0125;
	a.st.uptime_hours = 100.5;
	a.st.latency_p95_ms = 99; /* no DEV_HAVE_LATENCY_P95 bit: not reported */
	dev_sample b = mk("d1", T0 + 10000, DEV_UNREACHABLE, NAN);
	cycle(s, T0, &a, 1);
	cycle(s, T0 + 10000, &b, 1);
	store_row *rows;
	size_t n;
	char *err = NULL;
	assert_int_equal(store_rows(s, "d1", STORE_RES_RAW, T0, T0 + MIN_MS, &rows, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].state, DEV_HEALTHY);
	assert_string_equal(rows[0].model_version, "yolo-3.2");
	assert_true(rows[0].v[STORE_GPU_TEMP].have && rows[0].v[STORE_GPU_TEMP].avg == 63.5);
	assert_true(rows[0].v[STORE_GPU_UTIL].avg == 47.3);
	assert_true(rows[0].v[STORE_GPU_MEM].avg == 3.0 * 1048576 * 1024);
	assert_true(rows[0].v[STORE_POWER].avg == 12.345);
	assert_true(rows[0].v[STORE_ERROR_RATE].avg == 0.0125);
	assert_true(rows[0].v[STORE_UPTIME].avg == 100.5);
	assert_true(rows[0].v[STORE_RTT].avg == 12.5);
	assert_false(rows[0].v[STORE_LATENCY_P95].have);
	assert_false(rows[0].v[STORE_DRIFT].have);
	assert_int_equal(rows[1].state, DEV_UNREACHABLE);
	assert_int_equal(rows[1].reason, DEV_REASON_TIMEOUT);
	assert_null(rows[1].model_version);
	for (int f = 0; f < STORE_NFIELDS; f++)
		assert_false(rows[1].v[f].have); /* NULL, never a fake zero */
	store_rows_free(rows, n);
	assert_int_equal(q(path, "SELECT count(*) FROM samples WHERE rtt_us IS NULL AND gpu_temp_mc IS NULL"), 1);
	assert_int_equal(store_host_known(s, "d1", &err), 1);
	assert_int_equal(store_host_known(s, "nope", &err), 0);
	store_close(s);
	free(path);
}

static void test_events_derived(void **state)
{
	char *path = path_in(state, "history.db");
	store *s = open_ok(path, NULL);
	char *err = NULL;
	int64_t t = T0;
	one(s, "d1", t += 10000, DEV_HEALTHY, 50);     /* first sight: no event */
	one(s, "d1", t += 10000, DEV_HEALTHY, 51);
	one(s, "d1", t += 10000, DEV_UNREACHABLE, NAN); /* healthy -> unreachable */
	int64_t t_unreach = t;
	one(s, "d1", t += 10000, DEV_UNREACHABLE, NAN);
	one(s, "d1", t += 10000, DEV_PENDING, NAN);     /* says nothing */
	one(s, "d1", t += 10000, DEV_HEALTHY, 50);     /* unreachable -> healthy */
	one(s, "d1", t += 10000, DEV_STALE, NAN);       /* says nothing */
	one(s, "d1", t += 10000, DEV_DEGRADED, 80);    /* healthy -> degraded */
	one(s, "d1", t - 25000, DEV_UNHEALTHY, 80);    /* older than the newest: kept, no event */
	one(s, "d1", t, DEV_HEALTHY, 80);              /* same ms as a stored sample: dropped */
	one(s, "d2", t, DEV_HEALTHY, 40);
	store_close(s);

	s = open_ok(path, NULL); /* last states come back from the file */
	one(s, "d1", t += 10000, DEV_UNHEALTHY, 90);   /* degraded -> unhealthy */
	one(s, "d2", t, DEV_HEALTHY, 40);

	store_event *ev;
	size_t n;
	assert_int_equal(store_events(s, "d1", 0, INT64_MAX, 0, &ev, &n, &err), 0);
	assert_int_equal(n, 4);
	dev_state want[][2] = { { DEV_HEALTHY, DEV_UNREACHABLE },
				{ DEV_UNREACHABLE, DEV_HEALTHY },
				{ DEV_HEALTHY, DEV_DEGRADED },
				{ DEV_DEGRADED, DEV_UNHEALTHY } };
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(ev[i].host, "d1");
		assert_int_equal(ev[i].from, want[i][0]);
		assert_int_equal(ev[i].to, want[i][1]);
	}
	assert_int_equal(ev[0].ts_ms, t_unreach);
	assert_int_equal(ev[0].reason, DEV_REASON_TIMEOUT);
	assert_string_equal(ev[0].detail, "timed out after 5 s");
	assert_null(ev[1].detail);
	store_events_free(ev, n);
	assert_int_equal(q(path, "SELECT count(*) FROM samples WHERE device_id = (SELECT id FROM devices WHERE host = 'd1')"),
			 8); /* all but pending, stale and the same-ms one */
	/* all hosts, a time window, the newest few */
	assert_int_equal(store_events(s, NULL, t_unreach + 1, INT64_MAX, 0, &ev, &n, &err), 0);
	assert_int_equal(n, 3);
	store_events_free(ev, n);
	assert_int_equal(store_events(s, NULL, 0, INT64_MAX, 2, &ev, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ev[0].to, DEV_DEGRADED);
	assert_int_equal(ev[1].to, DEV_UNHEALTHY);
	store_events_free(ev, n);
	/* latest state per device */
	store_latest *l;
	assert_int_equal(store_latest_states(s, &l, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(l[0].host, "d1");
	assert_int_equal(l[0].state, DEV_UNHEALTHY);
	assert_int_equal(l[0].ts_ms, t);
	assert_string_equal(l[0].factory, "ams");
	assert_int_equal(l[1].state, DEV_HEALTHY);
	store_latest_free(l, n);
	store_close(s);
	free(path);
}

static void test_alert_lifecycle(void **state)
{
	char *path = path_in(state, "history.db");
	store *s = open_ok(path, NULL);
	char *err = NULL;
	store_alert *a;
	size_t n;
	assert_int_equal(store_alert_fire(s, "d1", "gpu_hot", "warning", "GPU 86 °C", 1000, &err), 1);
	assert_int_equal(store_alert_fire(s, "d1", "gpu_hot", "critical", "GPU 91 °C", 2000, &err), 0);
	assert_int_equal(store_alert_fire(s, "d1", "gpu_hot", "warning", "late", 1500, &err), 0); /* older: ignored */
	assert_int_equal(q(path, "SELECT count(*) FROM alerts"), 1);
	assert_int_equal(store_alerts_active(s, NULL, &a, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(a[0].host, "d1");
	assert_string_equal(a[0].rule, "gpu_hot");
	assert_string_equal(a[0].severity, "critical");
	assert_string_equal(a[0].message, "GPU 91 °C");
	assert_int_equal(a[0].first_fired_ms, 1000);
	assert_int_equal(a[0].last_seen_ms, 2000);
	assert_int_equal(a[0].resolved_ms, 0);
	store_alerts_free(a, n);

	assert_int_equal(store_alert_resolve(s, "d1", "gpu_hot", 1900, &err), 0); /* older than the last firing */
	assert_int_equal(store_alert_resolve(s, "d1", "gpu_hot", 3000, &err), 1);
	assert_int_equal(store_alert_resolve(s, "d1", "gpu_hot", 3100, &err), 0); /* nothing firing */
	assert_int_equal(store_alerts_active(s, NULL, &a, &n, &err), 0);
	assert_int_equal(n, 0);
	store_alerts_free(a, n);
	assert_int_equal(q(path, "SELECT resolved_at FROM alerts"), 3000);

	assert_int_equal(store_alert_fire(s, "d1", "gpu_hot", "warning", "stale view", 2500, &err), 0); /* before the resolution */
	assert_int_equal(store_alert_fire(s, "d1", "gpu_hot", "warning", "again", 4000, &err), 1);
	assert_int_equal(store_alert_fire(s, "d2", "unreachable", "critical", "down", 4000, &err), 1);
	assert_int_equal(q(path, "SELECT count(*) FROM alerts"), 3);
	assert_int_equal(store_alerts(s, "d1", false, 0, &a, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(a[0].resolved_ms, 3000);
	assert_int_equal(a[1].first_fired_ms, 4000);
	assert_int_equal(a[1].resolved_ms, 0);
	store_alerts_free(a, n);
	assert_int_equal(store_alerts(s, NULL, false, 3500, &a, &n, &err), 0); /* the first ended before 3500 */
	assert_int_equal(n, 2);
	store_alerts_free(a, n);
	assert_int_equal(store_alerts_active(s, "d2", &a, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(a[0].rule, "unreachable");
	store_alerts_free(a, n);
	assert_int_equal(store_alert_fire(s, "", "r", "warning", "", 1, &err), -1);
	free(err);
	store_close(s);
	free(path);
}

static void check_value(const store_value *v, double min, double avg, double max)
{
	assert_true(v->have);
	if (fabs(v->min - min) > 1e-9 || fabs(v->avg - avg) > 1e-9 || fabs(v->max - max) > 1e-9)
		fail_msg("got %.6f/%.6f/%.6f, want %.6f/%.6f/%.6f", v->min, v->avg, v->max, min, avg, max);
}

static void test_rollups(void **state)
{
	char *path = path_in(state, "history.db");
	store *s = open_ok(path, NULL);
	char *err = NULL;
	/* minute 0: five samples, one unreachable (no fields), one without utilisation */
	struct {
		int64_t dt;
		dev_state st;
		double temp, util, rtt;
	} in[] = {
		{ 0, DEV_HEALTHY, 60.0, 10, 10 },
		{ 10000, DEV_HEALTHY, 61.5, 20, 20 },
		{ 20000, DEV_HEALTHY, 63.0, NAN, 30 },
		{ 30000, DEV_UNREACHABLE, NAN, NAN, -1 },
		{ 40000, DEV_DEGRADED, 62.0, 30, 40 },
		{ 60000, DEV_HEALTHY, 70.0, NAN, 5 }, /* minute 1 */
		{ 70000, DEV_HEALTHY, 71.0, NAN, 5 },
	};
	for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
		dev_sample smp = mk("r1", T0 + in[i].dt, in[i].st, in[i].temp);
		if (in[i].st != DEV_UNREACHABLE)
			smp.rtt_ms = in[i].rtt;
		if (!isnan(in[i].util)) {
			smp.st.have |= DEV_HAVE_GPU_UTIL;
			smp.st.gpu_util = in[i].util;
		}
		cycle(s, T0 + in[i].dt, &smp, 1);
	}
	store_row *rows;
	size_t n;
	/* not due before the minute has ended and the delay has passed */
	maintain_all(s, T0 + 3 * MIN_MS - 1);
	assert_int_equal(q(path, "SELECT count(*) FROM rollup_minute"), 0);
	maintain_all(s, T0 + 3 * MIN_MS);
	assert_int_equal(q(path, "SELECT count(*) FROM rollup_minute"), 1);
	/* called again in the same minute: no work, not even a transaction */
	int64_t txns = store_txn_count(s);
	assert_int_equal(store_maintain(s, T0 + 3 * MIN_MS + 30000, &err), 0);
	assert_int_equal(store_txn_count(s), txns);
	maintain_all(s, T0 + 4 * MIN_MS);
	assert_int_equal(store_rows(s, "r1", STORE_RES_MINUTE, T0, T0 + HOUR_MS, &rows, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].ts_ms, T0);
	assert_int_equal(rows[0].count, 5);
	assert_int_equal(rows[0].state, DEV_UNREACHABLE); /* the worst by rank */
	check_value(&rows[0].v[STORE_GPU_TEMP], 60.0, 61.625, 63.0); /* (60 + 61.5 + 63 + 62) / 4 */
	check_value(&rows[0].v[STORE_GPU_UTIL], 10, 20, 30);
	check_value(&rows[0].v[STORE_RTT], 10, 25, 40);
	assert_false(rows[0].v[STORE_POWER].have);
	assert_int_equal(rows[1].ts_ms, T0 + MIN_MS);
	assert_int_equal(rows[1].count, 2);
	assert_int_equal(rows[1].state, DEV_HEALTHY);
	check_value(&rows[1].v[STORE_GPU_TEMP], 70.0, 70.5, 71.0);
	assert_false(rows[1].v[STORE_GPU_UTIL].have);
	store_rows_free(rows, n);
	assert_int_equal(q(path, "SELECT count(*) FROM rollup_hour"), 0);

	/* the hour, from the raw samples: averages rounded to the stored resolution */
	maintain_all(s, T0 + HOUR_MS + 2 * MIN_MS);
	assert_int_equal(store_rows(s, "r1", STORE_RES_HOUR, T0, T0 + HOUR_MS, &rows, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].count, 7);
	assert_int_equal(rows[0].state, DEV_UNREACHABLE);
	check_value(&rows[0].v[STORE_GPU_TEMP], 60.0, 64.583, 71.0); /* 387.5 / 6 = 64.58333 -> 64583 m°C */
	check_value(&rows[0].v[STORE_RTT], 5, 18.333, 40);           /* 110 / 6 = 18.3333 -> 18333 us */
	store_rows_free(rows, n);

	/* idempotent: more maintenance changes nothing */
	int64_t sum_before = q(path, "SELECT sum(n) * 1000 + count(*) FROM rollup_minute");
	maintain_all(s, T0 + 2 * HOUR_MS);
	maintain_all(s, T0 + 3 * HOUR_MS);
	assert_int_equal(q(path, "SELECT sum(n) * 1000 + count(*) FROM rollup_minute"), sum_before);
	assert_int_equal(q(path, "SELECT sum(n) FROM rollup_hour"), 7);

	/* a late sample (a console that was suspended) redoes its minute and its hour */
	one(s, "r1", T0 + 50000, DEV_HEALTHY, 80.0);
	maintain_all(s, T0 + 4 * HOUR_MS);
	assert_int_equal(store_rows(s, "r1", STORE_RES_MINUTE, T0, T0 + MIN_MS, &rows, &n, &err), 0);
	assert_int_equal(rows[0].count, 6);
	check_value(&rows[0].v[STORE_GPU_TEMP], 60.0, 65.3, 80.0); /* 326.5 / 5 */
	store_rows_free(rows, n);
	assert_int_equal(q(path, "SELECT n FROM rollup_hour"), 8);
	assert_int_equal(q(path, "SELECT gpu_temp_mc_max FROM rollup_hour"), 80000);
	assert_int_equal(q(path, "SELECT count(*) FROM maint_todo WHERE job IN (0, 1)"), 0);
	store_close(s);
	free(path);
}

static void test_pruning(void **state)
{
	char *path = path_in(state, "history.db");
	store_opts o;
	store_opts_default(&o);
	o.keep_raw_ms = 2 * HOUR_MS;
	o.keep_minute_ms = 4 * HOUR_MS;
	o.keep_hour_ms = 8 * HOUR_MS;
	o.keep_events_ms = 8 * HOUR_MS;
	o.keep_cycles_ms = 4 * HOUR_MS;
	o.keep_alerts_ms = 8 * HOUR_MS;
	store *s = open_ok(path, &o);
	char *err = NULL;
	for (int i = 0; i < 30; i++) { /* 10 minutes of two devices, one changing state */
		dev_sample smp[2] = { mk("p1", T0 + i * 20000, DEV_HEALTHY, 50 + i),
				      mk("p2", T0 + i * 20000, i % 10 < 5 ? DEV_HEALTHY : DEV_DEGRADED, 60) };
		cycle(s, T0 + i * 20000, smp, 2);
	}
	assert_int_equal(store_alert_fire(s, "p2", "flap", "warning", "", T0, &err), 1);
	assert_int_equal(store_alert_resolve(s, "p2", "flap", T0 + MIN_MS, &err), 1);
	assert_int_equal(q(path, "SELECT count(*) FROM samples"), 60);
	assert_true(q(path, "SELECT count(*) FROM events") > 0);
	assert_int_equal(store_best_res(s, T0, T0 + HOUR_MS), STORE_RES_RAW);

	maintain_all(s, T0 + 2 * HOUR_MS); /* rolled up, nothing pruned yet */
	assert_int_equal(q(path, "SELECT count(*) FROM samples"), 60);
	assert_int_equal(q(path, "SELECT count(*) FROM rollup_minute"), 20);
	assert_int_equal(q(path, "SELECT count(*) FROM rollup_hour"), 2);

	maintain_all(s, T0 + 3 * HOUR_MS + 1); /* raw horizon: T0 + 1 h */
	assert_int_equal(q(path, "SELECT count(*) FROM samples"), 0);
	assert_int_equal(q(path, "SELECT count(*) FROM rollup_minute"), 20);
	assert_int_equal(store_best_res(s, T0, T0 + HOUR_MS), STORE_RES_MINUTE);
	assert_int_equal(store_best_res(s, T0 + HOUR_MS, T0 + 2 * HOUR_MS), STORE_RES_RAW);
	/* a sample older than the raw horizon would be pruned at once: dropped */
	one(s, "p1", T0 + 30 * 60000, DEV_HEALTHY, 50);
	assert_int_equal(q(path, "SELECT count(*) FROM samples"), 0);
	assert_int_equal(q(path, "SELECT count(*) FROM cycles"), 31);

	maintain_all(s, T0 + 5 * HOUR_MS + 1); /* minute horizon: T0 + 1 h; cycles older than 4 h */
	assert_int_equal(q(path, "SELECT count(*) FROM rollup_minute"), 0);
	assert_int_equal(q(path, "SELECT count(*) FROM rollup_hour"), 2);
	assert_int_equal(q(path, "SELECT count(*) FROM cycles"), 0);
	assert_int_equal(store_best_res(s, T0, T0 + HOUR_MS), STORE_RES_HOUR);
	assert_true(q(path, "SELECT count(*) FROM events") > 0);

	maintain_all(s, T0 + 9 * HOUR_MS + 1); /* hour horizon, events, alerts: T0 + 1 h */
	assert_int_equal(q(path, "SELECT count(*) FROM rollup_hour"), 0);
	assert_int_equal(q(path, "SELECT count(*) FROM events"), 0);
	assert_int_equal(q(path, "SELECT count(*) FROM alerts"), 0);
	assert_int_equal(q(path, "SELECT count(*) FROM maint_todo"), 0);
	assert_int_equal(q(path, "SELECT count(*) FROM devices"), 2); /* devices stay */
	store_info info;
	assert_int_equal(store_stats(s, &info, &err), 0);
	assert_int_equal(info.raw_horizon_ms, T0 + 7 * HOUR_MS);
	store_close(s);

	/* retention that cannot work is refused */
	o.keep_raw_ms = HOUR_MS;
	assert_null(store_open_opts(path, &o, &err));
	assert_non_null(strstr(err, "at least 2 h"));
	free(err);
	free(path);
}

/* 120 devices, 70 minutes: several steps per bucket (50 devices per hour step) */
static void write_fleet(store *s, int ndev, int64_t from, int64_t to, int64_t every)
{
	char (*hosts)[16] = xmalloc((size_t)ndev * sizeof *hosts);
	dev_sample *smp = xmalloc((size_t)ndev * sizeof *smp);
	for (int64_t t = from; t < to; t += every) {
		for (int i = 0; i < ndev; i++) {
			snprintf(hosts[i], sizeof hosts[i], "f-%03d", i);
			smp[i] = mk(hosts[i], t + i, (t / every + i) % 17 ? DEV_HEALTHY : DEV_DEGRADED, 40 + (t / every + i) % 30);
		}
		cycle(s, t, smp, (size_t)ndev);
	}
	free(hosts);
	free(smp);
}

static void test_maintain_interrupted(void **state)
{
	char *path = path_in(state, "history.db");
	store *s = open_ok(path, NULL);
	write_fleet(s, 120, T0, T0 + 70 * MIN_MS, 30000);
	store_close(s);
	int64_t total = q(path, "SELECT count(*) FROM samples");
	assert_int_equal(total, 140 * 120);

	/* a process that dies (SIGKILL: no close, no cleanup) a few steps in */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		store_opts o;
		store_opts_default(&o);
		o.maintain_max_txns = 1;
		store *c = store_open_opts(path, &o, NULL);
		for (int i = 0; c && i < 12; i++)
			store_maintain(c, T0 + 3 * HOUR_MS, NULL);
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_true(q(path, "SELECT count(*) FROM maint_todo") > 0); /* it stopped half-way */
	assert_true(q(path, "SELECT count(*) FROM rollup_minute") > 0);

	/* another process finishes, one step per call: every sample counted once */
	store_opts o;
	store_opts_default(&o);
	o.maintain_max_txns = 1;
	s = open_ok(path, &o);
	char *err = NULL;
	int rc, calls = 0;
	while ((rc = store_maintain(s, T0 + 3 * HOUR_MS, &err)) == 1)
		calls++;
	assert_int_equal(rc, 0);
	assert_true(calls > 10);
	store_close(s);
	assert_int_equal(q(path, "SELECT count(*) FROM maint_todo"), 0);
	assert_int_equal(q(path, "SELECT sum(n) FROM rollup_minute"), total);
	assert_int_equal(q(path, "SELECT sum(n) FROM rollup_hour"), total);
	assert_int_equal(q(path, "SELECT count(*) FROM rollup_minute"), 70 * 120);
	assert_int_equal(q(path, "SELECT count(*) FROM rollup_hour"), 2 * 120);
	/* and each rollup agrees with its samples */
	assert_int_equal(q(path, "SELECT count(*) FROM rollup_minute r WHERE r.gpu_temp_mc_max !="
				 " (SELECT max(gpu_temp_mc) FROM samples s WHERE s.device_id = r.device_id"
				 " AND s.ts >= r.ts AND s.ts < r.ts + 60000)"),
			 0);
	free(path);
}

/* ---- two writers ---- */

enum { NCYCLES = 40, NSHARED = 6, NOWN = 6 };

static dev_state pattern(int c, int dev)
{
	static const dev_state seq[] = { DEV_HEALTHY, DEV_HEALTHY, DEV_DEGRADED, DEV_UNREACHABLE, DEV_HEALTHY };
	return seq[((c / 3) + dev) % 5];
}

static int expected_changes(int dev)
{
	int k = 0;
	for (int c = 1; c < NCYCLES; c++)
		k += pattern(c, dev) != pattern(c - 1, dev);
	return k;
}

/* A console: every cycle the shared devices (polled by both) and its own,
 * maintenance like the console does, and an alert that keeps firing. Returns
 * the number of errors. */
static int writer(const char *path, int w)
{
	alarm(120); /* bounded, whatever happens */
	char *err = NULL;
	store *s = store_open(path, &err);
	if (!s) {
		fprintf(stderr, "writer %d: %s\n", w, err);
		free(err);
		return 1;
	}
	int errors = 0;
	char hosts[NSHARED + NOWN][16];
	for (int i = 0; i < NSHARED; i++)
		snprintf(hosts[i], sizeof hosts[i], "shared-%d", i);
	for (int i = 0; i < NOWN; i++)
		snprintf(hosts[NSHARED + i], sizeof hosts[i], "own%d-%d", w, i);
	for (int c = 0; c < NCYCLES; c++) {
		int64_t ts = T0 + c * 10000 + w; /* the two clocks differ by a ms */
		if (store_cycle_begin(s, ts, "console", &err))
			errors++;
		for (int i = 0; i < NSHARED + NOWN; i++) {
			dev_sample smp = mk(hosts[i], ts, pattern(c, i), 50 + c);
			if (store_cycle_sample(s, &smp, &err))
				errors++;
		}
		if (store_cycle_end(s, ts + 100, &err)) {
			fprintf(stderr, "writer %d cycle %d: %s\n", w, c, err);
			errors++;
		}
		if (store_alert_fire(s, "shared-0", "hot", "warning", "GPU hot", ts, &err) < 0)
			errors++;
		if (store_maintain(s, ts, &err) < 0) {
			fprintf(stderr, "writer %d maintain: %s\n", w, err);
			errors++;
		}
		free(err);
		err = NULL;
	}
	store_close(s);
	return errors;
}

static void test_two_writers(void **state)
{
	char *path = path_in(state, "history.db");
	store_close(open_ok(path, NULL)); /* they may also race to create it; see below */
	pid_t pid[2];
	for (int w = 0; w < 2; w++) {
		pid[w] = fork();
		assert_true(pid[w] >= 0);
		if (pid[w] == 0)
			_exit(writer(path, w));
	}
	for (int w = 0; w < 2; w++) {
		int status;
		assert_int_equal(waitpid(pid[w], &status, 0), pid[w]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("writer %d: %s %d", w, WIFEXITED(status) ? "exit" : "signal",
				 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	}
	assert_int_equal(q(path, "SELECT count(*) FROM cycles"), 2 * NCYCLES);
	assert_int_equal(q(path, "SELECT count(*) FROM devices"), NSHARED + 2 * NOWN);
	for (int i = 0; i < NSHARED + NOWN; i++) {
		for (int w = 0; w < 2; w++) {
			if (i < NSHARED && w == 1)
				break;
			char host[32];
			if (i < NSHARED)
				snprintf(host, sizeof host, "shared-%d", i);
			else
				snprintf(host, sizeof host, "own%d-%d", w, i - NSHARED);
			char *sql = xasprintf("SELECT count(*) FROM samples WHERE device_id = (SELECT id FROM devices WHERE host = '%s')", host);
			assert_int_equal(q(path, sql), i < NSHARED ? 2 * NCYCLES : NCYCLES); /* no lost rows */
			free(sql);
			sql = xasprintf("SELECT count(*) FROM events WHERE device_id = (SELECT id FROM devices WHERE host = '%s')", host);
			assert_int_equal(q(path, sql), expected_changes(i)); /* each change once */
			free(sql);
		}
	}
	/* and each device's events chain: from is always the previous to */
	assert_int_equal(q(path, "SELECT count(*) FROM events e WHERE e.from_state IS NOT (SELECT p.to_state FROM events p"
				 " WHERE p.device_id = e.device_id AND p.ts < e.ts ORDER BY p.ts DESC LIMIT 1)"
				 " AND EXISTS (SELECT 1 FROM events p WHERE p.device_id = e.device_id AND p.ts < e.ts)"),
			 0);
	assert_int_equal(q(path, "SELECT count(*) FROM alerts"), 1); /* fired 80 times, one row */
	assert_int_equal(q(path, "SELECT last_seen FROM alerts"), T0 + (NCYCLES - 1) * 10000 + 1);
	free(path);
}

static void test_two_writers_create(void **state)
{
	/* two processes creating and migrating the same new file at once */
	char *path = path_in(state, "new/history.db");
	pid_t pid[2];
	for (int w = 0; w < 2; w++) {
		pid[w] = fork();
		assert_true(pid[w] >= 0);
		if (pid[w] == 0) {
			alarm(60);
			char *err = NULL;
			store *s = store_open(path, &err);
			int rc = 0;
			if (!s) {
				fprintf(stderr, "open: %s\n", err);
				rc = 1;
			} else {
				char host[16];
				snprintf(host, sizeof host, "w%d", w);
				dev_sample smp = mk(host, T0 + w, DEV_HEALTHY, 50);
				rc = store_cycle_begin(s, T0, "console", &err) || store_cycle_sample(s, &smp, &err) ||
				     store_cycle_end(s, T0, &err);
				if (rc)
					fprintf(stderr, "write: %s\n", err);
			}
			free(err);
			store_close(s);
			free(path);
			_exit(rc);
		}
	}
	for (int w = 0; w < 2; w++) {
		int status;
		assert_int_equal(waitpid(pid[w], &status, 0), pid[w]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(q(path, "PRAGMA user_version"), 4);
	assert_int_equal(q(path, "SELECT count(*) FROM samples"), 2);
	assert_int_equal(q(path, "SELECT count(*) FROM states"), DEV_STATE_COUNT);
	assert_int_equal(mode_of(path), 0600);
	free(path);
}

static void test_series(void **state)
{
	char *path = path_in(state, "history.db");
	store_opts o;
	store_opts_default(&o);
	o.keep_raw_ms = 2 * HOUR_MS;
	store *s = open_ok(path, &o);
	char *err = NULL;
	/* 3 hours at 10 s: temperature = 40 + minute of the hour / 2 */
	for (int64_t t = T0; t < T0 + 3 * HOUR_MS; t += 10000) {
		dev_sample smp = mk("s1", t, DEV_HEALTHY, 40 + (double)((t - T0) / MIN_MS % 60) / 2);
		cycle(s, t, &smp, 1);
	}
	int64_t now = T0 + 3 * HOUR_MS;
	store_point *p;
	size_t n;
	store_res res;
	/* the last 10 minutes, room for all: raw, as they are */
	assert_int_equal(store_series(s, "s1", "gpu_temp", now - 10 * MIN_MS, now, 100, &p, &n, &res, &err), 0);
	assert_int_equal(res, STORE_RES_RAW);
	assert_int_equal(n, 60);
	assert_int_equal(p[0].ts_ms, now - 10 * MIN_MS);
	assert_true(p[0].have && p[0].avg == 65.0 && p[0].count == 1); /* minute 50 */
	free(p);
	/* 20 points for 60 samples: buckets of 30 s */
	assert_int_equal(store_series(s, "s1", "gpu_temp", now - 10 * MIN_MS, now, 20, &p, &n, &res, &err), 0);
	assert_int_equal(n, 20);
	assert_int_equal(p[1].ts_ms - p[0].ts_ms, 30000);
	assert_int_equal(p[0].count, 3);
	free(p);

	/* maintained and pruned: the first hour is only in rollups now */
	maintain_all(s, now);
	assert_int_equal(store_best_res(s, T0, now), STORE_RES_MINUTE);
	assert_int_equal(store_series(s, "s1", "temp", T0, now, 10, &p, &n, &res, &err), -1); /* unknown field */
	free(err);
	err = NULL;
	assert_int_equal(store_series(s, "s1", "gpu_temp", T0, now, 90, &p, &n, &res, &err), 0);
	assert_int_equal(res, STORE_RES_MINUTE);
	assert_int_equal(n, 90); /* 180 minutes in 2-minute buckets */
	assert_int_equal(p[0].ts_ms, T0);
	assert_int_equal(p[0].count, 12);
	assert_true(p[0].min == 40.0 && p[0].max == 40.5 && fabs(p[0].avg - 40.25) < 1e-9);
	/* the newest minutes, not rolled up yet (delay), come from raw samples */
	assert_int_equal(p[89].ts_ms, now - 2 * MIN_MS);
	assert_int_equal(p[89].count, 12);
	assert_true(p[89].max == 69.5);
	free(p);
	/* just the state; an unknown host has no points */
	assert_int_equal(store_series(s, "s1", "state", now - MIN_MS, now, 10, &p, &n, &res, &err), 0);
	assert_int_equal(n, 6);
	assert_false(p[0].have);
	assert_int_equal(p[0].worst, DEV_HEALTHY);
	free(p);
	assert_int_equal(store_series(s, "nope", "gpu_temp", T0, now, 10, &p, &n, &res, &err), 0);
	assert_int_equal(n, 0);
	free(p);
	store_close(s);
	free(path);
}

static void test_stats(void **state)
{
	char *path = path_in(state, "history.db");
	store *s = open_ok(path, NULL);
	char *err = NULL;
	write_fleet(s, 10, T0, T0 + 5 * MIN_MS, 10000);
	store_alert_fire(s, "f-001", "hot", "warning", "", T0, &err);
	store_audit_add(s, T0, "ops", "rollout.start", "factory_ams", "model 3.3", &err);
	maintain_all(s, T0 + 10 * MIN_MS);
	store_info info;
	assert_int_equal(store_stats(s, &info, &err), 0);
	assert_int_equal(info.schema_version, 4);
	assert_true(info.file_bytes > 0 && info.file_bytes % 4096 == 0);
	assert_true(store_bytes(s) >= info.file_bytes);
	const struct {
		const char *name;
		int64_t rows, oldest, newest;
	} want[] = {
		{ "devices", 10, T0, T0 + 5 * MIN_MS - 10000 + 9 },
		{ "samples", 300, T0, T0 + 5 * MIN_MS - 10000 + 9 },
		{ "rollup_minute", 50, T0, T0 + 4 * MIN_MS },
		{ "rollup_hour", 0, 0, 0 },
		{ "alerts", 1, T0, T0 },
		{ "cycles", 30, T0, T0 + 5 * MIN_MS - 10000 },
		{ "audit", 1, T0, T0 },
	};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		const store_table_info *t = NULL;
		for (int k = 0; k < STORE_NTABLES; k++)
			if (strcmp(info.tables[k].name, want[i].name) == 0)
				t = &info.tables[k];
		assert_non_null(t);
		assert_int_equal(t->rows, want[i].rows);
		assert_int_equal(t->oldest_ms, want[i].oldest);
		assert_int_equal(t->newest_ms, want[i].newest);
		if (t->rows)
			assert_true(t->bytes != 0);
	}
	assert_int_equal(info.pending_steps, 1); /* this hour waits; the minutes are done */
	store_close(s);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_path),
		cmocka_unit_test_setup_teardown(test_create_mode_0600, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_existing_wide_mode_tightened, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_must_exist, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_schema_created, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_migration_from_older, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_newer_version_refused, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_foreign_sqlite_refused, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_not_a_database, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_one_transaction_per_cycle, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_samples_stored_with_nulls, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_events_derived, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_alert_lifecycle, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_rollups, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_pruning, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_maintain_interrupted, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_two_writers, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_two_writers_create, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_series, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_stats, setup_dir, teardown_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
