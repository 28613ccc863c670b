/* rollwatch: the console's reads of the rollouts database on a thread of its own
 * (counts by batch and step, the shown rollout's devices and log, a change
 * wakes, no change does not), and commands run as child processes with their
 * arguments passed untouched and their output captured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "monitor/rollwatch.h"
#include "rollout/rolldb.h"
#include "rollout/rollstate.h"
#include "store/store.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int wake_pipe[2];

static void wake(void *ctx)
{
	(void)ctx;
	char b = 1;
	ssize_t w = write(wake_pipe[1], &b, 1);
	(void)w;
}

/* Waits (at most ms) for a wake-up; drains the pipe. */
static bool woken(int ms)
{
	struct pollfd p = { .fd = wake_pipe[0], .events = POLLIN };
	if (poll(&p, 1, ms) != 1)
		return false;
	char buf[64];
	ssize_t r = read(wake_pipe[0], buf, sizeof buf);
	(void)r;
	return true;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Until the snapshot satisfies pred (at most 5 s, woken by the watcher). */
static rw_snapshot *until(rollwatch *w, bool (*pred)(const rw_snapshot *))
{
	for (int i = 0; i < 50; i++) {
		rw_snapshot *s = rollwatch_snapshot(w);
		if (pred(s))
			return s;
		rw_snapshot_free(s);
		woken(100);
	}
	return rollwatch_snapshot(w);
}

static bool has_one(const rw_snapshot *s) { return s->n == 1 && s->shown == 1; }
static bool first_updated(const rw_snapshot *s) { return s->n == 1 && s->r[0].all.ok == 1; }
static bool paused(const rw_snapshot *s) { return s->n == 1 && !strcmp(s->r[0].state, RS_PAUSED); }

static void test_reads_and_commands(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_rollwatch.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[96];
	snprintf(path, sizeof path, "%s/h.db", dir);
	assert_int_equal(pipe(wake_pipe), 0);

	/* no database yet: nothing, and no error */
	rollwatch *w = rollwatch_new(path, "/bin/echo", wake, NULL);
	char *err = NULL;
	assert_int_equal(rollwatch_start(w, &err), 0);
	rw_snapshot *s = rollwatch_snapshot(w);
	assert_int_equal(s->n, 0);
	assert_null(s->error);
	assert_null(rw_snapshot_current(s));
	rw_snapshot_free(s);

	store *st = store_open(path, &err);
	assert_non_null(st);
	rolldb *db = rolldb_open(path, 2000, &err);
	assert_non_null(db);
	roll_dev d[4];
	memset(d, 0, sizeof d);
	static const char *const hosts[] = { "cam-1", "cam-2", "cam-3", "cam-4" };
	for (int i = 0; i < 4; i++)
		d[i] = (roll_dev){ .host = (char *)hosts[i], .address = (char *)"127.0.0.1", .port = 8080, .batch = i / 2,
				   .ord = i };
	roll_row r = { .model = (char *)"defect-detection", .version = (char *)"3.2", .model_url = (char *)"http://r/m",
		       .checksum = (char *)"00", .batches = (char *)"[[\"cam-1\",\"cam-2\"],[\"cam-3\",\"cam-4\"]]",
		       .params = (char *)"{}", .state = (char *)RS_RUNNING, .created_by = (char *)"carol",
		       .created_at = now_ms() };
	assert_int_equal(rolldb_create(db, &r, d, 4, &err), 1);
	rollwatch_refresh(w);
	s = until(w, has_one);
	assert_int_equal(s->n, 1);
	const rw_rollout *ro = rw_snapshot_current(s);
	assert_non_null(ro);
	assert_string_equal(ro->model, "defect-detection");
	assert_true(ro->active);
	assert_int_equal(ro->nbatches, 2);
	assert_int_equal(ro->all.total, 4);
	assert_int_equal(ro->all.pending, 4);
	assert_int_equal(ro->ndevs, 4); /* the shown one: its devices are in */
	assert_string_equal(ro->devs[2].host, "cam-3");
	assert_int_equal(ro->devs[2].batch, 1);
	assert_false(ro->runner_alive);
	char *sum = rw_rollout_summary(ro);
	assert_string_equal(sum, "rollout #1 defect-detection 3.2 running, batch 1/2, 0/4 updated (no runner)");
	free(sum);
	uint64_t gen = s->gen;
	rw_snapshot_free(s);

	/* nothing changes: no wake-up, same generation */
	while (woken(0))
		;
	rollwatch_refresh(w);
	assert_false(woken(300));
	s = rollwatch_snapshot(w);
	assert_int_equal(s->gen, gen);
	rw_snapshot_free(s);

	/* a device through its steps: counted by batch, and it wakes */
	assert_int_equal(rolldb_step_start(db, 1, "cam-1", DS_HEALTH, false, now_ms(), &err), 0);
	assert_int_equal(rolldb_step_end(db, 1, "cam-1", DS_HEALTH, true, NULL, DS_UPDATED, now_ms(), &err), 0);
	assert_int_equal(rolldb_log(db, 1, NULL, "gate", "batch 1 gate pass: 2 of 2 updated", now_ms(), &err), 0);
	rollwatch_refresh(w);
	s = until(w, first_updated);
	ro = &s->r[0];
	assert_int_equal(ro->all.ok, 1);
	assert_int_equal(ro->batches[0].ok, 1);
	assert_int_equal(ro->batches[0].pending, 1);
	assert_int_equal(ro->batches[1].pending, 2);
	assert_true(s->gen > gen);
	assert_true(ro->nlog >= 2);
	assert_string_equal(ro->log[0].text, "batch 1 gate pass: 2 of 2 updated"); /* newest first */
	rw_snapshot_free(s);

	const char *const from[] = { RS_RUNNING, NULL };
	assert_int_equal(rolldb_transition(db, 1, from, RS_PAUSED, "operator", now_ms(), &err), 1);
	rollwatch_refresh(w);
	s = until(w, paused);
	assert_string_equal(s->r[0].state, RS_PAUSED);
	assert_string_equal(s->r[0].stop_reason, "operator");
	assert_string_equal(s->r[0].log[0].text, "-> paused: operator");
	rw_snapshot_free(s);

	/* a command: `EXE --db DB ARGS...`, its words untouched (no shell), its output kept */
	const char *const args[] = { "rollout", "pause", "1", "--reason", "a; $(rm -rf /) 'quoted'" };
	assert_int_equal(rollwatch_command(w, "pause rollout #1", args, 5), 0);
	rw_result res;
	bool got = false;
	for (int i = 0; i < 50 && !(got = rollwatch_result(w, &res)); i++)
		woken(100);
	assert_true(got);
	assert_string_equal(res.label, "pause rollout #1");
	assert_int_equal(res.exit_code, 0);
	char want[256];
	snprintf(want, sizeof want, "--db %s rollout pause 1 --reason a; $(rm -rf /) 'quoted'", path);
	assert_string_equal(res.output, want);
	rw_result_clear(&res);
	assert_false(rollwatch_busy(w));

	rolldb_close(db);
	store_close(st);
	rollwatch_free(w);
	close(wake_pipe[0]);
	close(wake_pipe[1]);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* A command that cannot run says so. */
static void test_missing_exe(void **state)
{
	(void)state;
	assert_int_equal(pipe(wake_pipe), 0);
	rollwatch *w = rollwatch_new("/nonexistent/h.db", "/nonexistent/fleetdeck", wake, NULL);
	char *err = NULL;
	assert_int_equal(rollwatch_start(w, &err), 0);
	const char *const args[] = { "rollout", "list" };
	assert_int_equal(rollwatch_command(w, "list", args, 2), 0);
	rw_result res;
	bool got = false;
	for (int i = 0; i < 50 && !(got = rollwatch_result(w, &res)); i++)
		woken(100);
	assert_true(got);
	/* -1: the child could not exec (under valgrind, whose forked child reports its
	 * own exit, it may show as valgrind's error status instead) */
	assert_true(res.exit_code != 0);
	rw_result_clear(&res);
	rollwatch_free(w);
	close(wake_pipe[0]);
	close(wake_pipe[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_reads_and_commands), cmocka_unit_test(test_missing_exe) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
