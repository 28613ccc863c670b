/* Rollout state machine: the verbs' table, the devices' steps, and rolldb's conditional transitions, holds and lease on a real SQLite file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rollout/rolldb.h"
#include "rollout/rollstate.h"
#include "rollout/runner.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_steps(void **state)
{
	(void)state;
	assert_string_equal(roll_step_next(DS_PENDING, false), DS_HEALTH);
	assert_string_equal(roll_step_next(DS_PENDING, true), DS_HEALTH);
	assert_string_equal(roll_step_next(DS_HEALTH, false), DS_HEALTH);
	assert_string_equal(roll_step_next(DS_HEALTH, true), DS_RECORD);
	assert_string_equal(roll_step_next(DS_RECORD, true), DS_UPDATE);
	/* a runner that died during the update redoes it (the step checks the version first) */
	assert_string_equal(roll_step_next(DS_UPDATE, false), DS_UPDATE);
	assert_string_equal(roll_step_next(DS_UPDATE, true), DS_WAIT);
	assert_string_equal(roll_step_next(DS_WAIT, true), DS_VALIDATE);
	assert_string_equal(roll_step_next(DS_VALIDATE, true), DS_UPDATED);
	assert_string_equal(roll_step_next(DS_ROLLBACK, false), DS_ROLLBACK);
	assert_string_equal(roll_step_next(DS_ROLLBACK, true), DS_FAILED);
	assert_string_equal(roll_step_next(DS_REVERT, true), DS_REVERTED);
	const char *finals[] = { DS_UPDATED, DS_CURRENT, DS_FAILED, DS_UNREACHABLE, DS_REVERTED };
	for (size_t i = 0; i < 5; i++) {
		assert_true(roll_step_final(finals[i]));
		assert_string_equal(roll_step_next(finals[i], false), finals[i]);
	}
	assert_false(roll_step_final(DS_WAIT));
	assert_string_equal(roll_step_next("bogus", true), DS_PENDING);
	assert_false(roll_step_known("bogus"));
	assert_true(roll_step_changed(DS_UPDATE));
	assert_true(roll_step_changed(DS_UPDATED));
	assert_false(roll_step_changed(DS_RECORD));
	assert_false(roll_step_changed(DS_CURRENT));
}

static void test_verbs(void **state)
{
	(void)state;
	struct {
		const char *verb, *from;
		bool applies;
	} cases[] = {
		{ "pause", RS_RUNNING, true },	      { "pause", RS_PAUSED, false },
		{ "pause", RS_COMPLETED, false },     { "resume", RS_PAUSED, true },
		{ "resume", RS_RUNNING, false },      { "approve", RS_AWAITING, true },
		{ "approve", RS_PAUSED, false },      { "abort", RS_RUNNING, true },
		{ "abort", RS_AWAITING, true },	      { "abort", RS_COMPLETED, false },
		{ "rollback", RS_COMPLETED, true },   { "rollback", RS_FAILED, true },
		{ "rollback", RS_RUNNING, false },    { "rollback", RS_ROLLED_BACK, false },
		{ "retry", RS_FAILED, true },	      { "retry", RS_RUNNING, false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const roll_verb_rule *r = roll_verb_find(cases[i].verb);
		assert_non_null(r);
		if (roll_state_in(cases[i].from, r->from) != cases[i].applies)
			fail_msg("%s in %s: wanted %s", cases[i].verb, cases[i].from, cases[i].applies ? "applies" : "refused");
		assert_true(roll_state_known(r->to));
	}
	assert_null(roll_verb_find("run"));
	assert_null(roll_verb_find("start"));
	assert_false(roll_verb_find("pause")->needs_runner);
	assert_true(roll_verb_find("resume")->needs_runner);
	assert_true(roll_state_in(RS_ROLLING_BACK, roll_states_active));
	assert_false(roll_state_in(RS_PAUSED, roll_states_active));
	assert_true(roll_state_in(RS_ABORTED, roll_states_final));
}

static void test_params(void **state)
{
	(void)state;
	runner_params p, q;
	char *err = NULL;
	runner_params_default(&p);
	assert_int_equal(p.wait_tries, 12);
	assert_int_equal(p.wait_delay_ms, 5000);
	p.forks = 7;
	p.wait_delay_ms = 50;
	json_t *j = runner_params_to_json(&p);
	char *s = json_dumps(j, 0);
	json_decref(j);
	assert_int_equal(runner_params_from_json(s, &q, &err), 0);
	free(s);
	assert_int_equal(q.forks, 7);
	assert_int_equal(q.wait_delay_ms, 50);
	assert_int_equal(runner_params_from_json("{\"forks\": 0}", &q, &err), -1);
	assert_non_null(err);
	free(err);
	err = NULL;
	assert_int_equal(runner_params_from_json("[1]", &q, &err), -1);
	free(err);
}

struct fx {
	char dir[64];
	char *path;
	store *st;
	rolldb *db;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/test_rollout_state.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->path = malloc(strlen(f->dir) + 16);
	sprintf(f->path, "%s/h.db", f->dir);
	char *err = NULL;
	f->st = store_open(f->path, &err);
	if (!f->st)
		return -1;
	f->db = rolldb_open(f->path, 2000, &err);
	if (!f->db)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	rolldb_close(f->db);
	store_close(f->st);
	char *cmd = malloc(strlen(f->dir) + 16);
	sprintf(cmd, "rm -rf '%s'", f->dir);
	if (system(cmd)) {
	}
	free(cmd);
	free(f->path);
	free(f);
	return 0;
}

static int64_t create(rolldb *db, const char *const *hosts, size_t n, char **err)
{
	roll_dev d[8];
	memset(d, 0, sizeof d);
	for (size_t i = 0; i < n; i++) {
		d[i].host = (char *)hosts[i];
		d[i].address = (char *)"127.0.0.1";
		d[i].port = 8080;
		d[i].batch = (int)i;
		d[i].ord = (int)i;
	}
	roll_row r = { .model = (char *)"m", .version = (char *)"2", .model_url = (char *)"http://r/m",
		       .checksum = (char *)"00", .batches = (char *)"[[\"a\"],[\"b\"]]", .params = (char *)"{}",
		       .state = (char *)RS_RUNNING, .created_by = (char *)"t", .created_at = 1000 };
	return rolldb_create(db, &r, d, n, err);
}

static const char *state_of(rolldb *db, int64_t id, char buf[32])
{
	roll_row r;
	char *err = NULL;
	assert_int_equal(rolldb_get(db, id, &r, &err), 0);
	snprintf(buf, 32, "%s", r.state);
	roll_row_clear(&r);
	return buf;
}

static void test_transitions_and_holds(void **state)
{
	struct fx *f = *state;
	char *err = NULL, buf[32];
	const char *const ab[] = { "a", "b" }, *const bc[] = { "b", "c" }, *const c_only[] = { "c" };
	int64_t id = create(f->db, ab, 2, &err);
	assert_int_equal(id, 1);
	/* b is held by rollout 1: the whole second rollout is refused, nothing recorded */
	assert_int_equal(create(f->db, bc, 2, &err), -1);
	assert_non_null(strstr(err, "device b is held by rollout 1"));
	free(err);
	err = NULL;
	roll_row *rows;
	size_t n;
	assert_int_equal(rolldb_list(f->db, &rows, &n, &err), 0);
	assert_int_equal(n, 1);
	roll_rows_free(rows, n);
	assert_int_equal(create(f->db, c_only, 1, &err), 2);

	/* a verb that does not apply changes nothing */
	const roll_verb_rule *approve = roll_verb_find("approve"), *pause = roll_verb_find("pause"),
			     *abort_ = roll_verb_find("abort");
	assert_int_equal(rolldb_transition(f->db, id, approve->from, approve->to, "x", 2000, &err), 0);
	assert_string_equal(state_of(f->db, id, buf), RS_RUNNING);
	roll_row r;
	assert_int_equal(rolldb_get(f->db, id, &r, &err), 0);
	assert_int_equal(r.updated_at, 1000);
	assert_null(r.stop_reason);
	roll_row_clear(&r);
	assert_int_equal(rolldb_transition(f->db, id, pause->from, pause->to, NULL, 2000, &err), 1);
	assert_int_equal(rolldb_transition(f->db, id, pause->from, pause->to, NULL, 2001, &err), 0);
	assert_string_equal(state_of(f->db, id, buf), RS_PAUSED);
	/* into a final state: the holds go, so b may join another rollout */
	assert_int_equal(rolldb_transition(f->db, id, abort_->from, RS_ABORTED, "stop", 3000, &err), 1);
	assert_int_equal(rolldb_get(f->db, id, &r, &err), 0);
	assert_string_equal(r.stop_reason, "stop");
	roll_row_clear(&r);
	const char *const b_only[] = { "b" };
	int64_t id3 = create(f->db, b_only, 1, &err);
	assert_int_equal(id3, 3);
	/* ... and out of it again (rollback) the holds come back: b is rollout 3's now */
	const roll_verb_rule *rb = roll_verb_find("rollback");
	assert_int_equal(rolldb_transition(f->db, id, rb->from, rb->to, NULL, 4000, &err), -1);
	assert_non_null(strstr(err, "held by rollout 3"));
	free(err);
	err = NULL;
	assert_string_equal(state_of(f->db, id, buf), RS_ABORTED);
}

static void test_lease(void **state)
{
	struct fx *f = *state;
	char *err = NULL;
	const char *const a[] = { "a" };
	int64_t id = create(f->db, a, 1, &err);
	assert_int_equal(rolldb_lease_take(f->db, id, "r1", 1000, 500, &err), 1);
	assert_int_equal(rolldb_lease_take(f->db, id, "r2", 1200, 500, &err), 0); /* live: held */
	assert_int_equal(rolldb_lease_renew(f->db, id, "r1", 1400, 500, &err), 1); /* until 1900 */
	assert_int_equal(rolldb_lease_take(f->db, id, "r2", 1800, 500, &err), 0);
	assert_int_equal(rolldb_lease_take(f->db, id, "r2", 2000, 500, &err), 1); /* expired: taken over */
	assert_int_equal(rolldb_lease_renew(f->db, id, "r1", 2100, 500, &err), 0); /* r1 lost it */
	/* release is refused while the rollout is active (someone asked for more work) */
	assert_int_equal(rolldb_lease_release(f->db, id, "r2", roll_states_active, &err), 0);
	const roll_verb_rule *pause = roll_verb_find("pause");
	assert_int_equal(rolldb_transition(f->db, id, pause->from, pause->to, NULL, 2200, &err), 1);
	assert_int_equal(rolldb_lease_release(f->db, id, "r1", roll_states_active, &err), 0); /* not r1's */
	assert_int_equal(rolldb_lease_release(f->db, id, "r2", roll_states_active, &err), 1);
	roll_row r;
	assert_int_equal(rolldb_get(f->db, id, &r, &err), 0);
	assert_null(r.lease_owner);
	roll_row_clear(&r);
}

static void test_steps_recorded(void **state)
{
	struct fx *f = *state;
	char *err = NULL;
	const char *const a[] = { "a", "b" };
	int64_t id = create(f->db, a, 2, &err);
	roll_dev d;
	assert_int_equal(rolldb_step_start(f->db, id, "a", DS_UPDATE, false, 5000, &err), 0);
	assert_int_equal(rolldb_attempt(f->db, id, "a", &err), 0);
	assert_int_equal(rolldb_device(f->db, id, "a", &d, &err), 0);
	assert_string_equal(d.step, DS_UPDATE);
	assert_int_equal(d.step_started, 5000);
	assert_int_equal(d.step_ended, 0); /* in the middle: a restarted runner redoes it */
	assert_int_equal(d.attempts, 1);
	roll_dev_clear(&d);
	assert_int_equal(rolldb_step_end(f->db, id, "a", DS_UPDATE, false, "bad", DS_ROLLBACK, 5100, &err), 0);
	assert_int_equal(rolldb_step_start(f->db, id, "a", DS_ROLLBACK, false, 5200, &err), 0);
	/* a rollback that worked keeps the failure's reason on the failed device */
	assert_int_equal(rolldb_step_end(f->db, id, "a", DS_ROLLBACK, true, "back on 1", DS_FAILED, 5300, &err), 0);
	assert_int_equal(rolldb_device(f->db, id, "a", &d, &err), 0);
	assert_string_equal(d.step, DS_FAILED);
	assert_string_equal(d.error, "bad");
	assert_int_equal(d.step_ended, 5300);
	roll_dev_clear(&d);
	/* retry: the failed ones back to pending, the others untouched */
	const char *const again[] = { DS_FAILED, DS_UNREACHABLE, NULL };
	assert_int_equal(rolldb_devices_move(f->db, id, again, DS_PENDING, 6000, &err), 1);
	roll_dev *all;
	size_t n;
	assert_int_equal(rolldb_devices(f->db, id, &all, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(all[0].step, DS_PENDING);
	assert_null(all[0].error);
	assert_string_equal(all[1].step, DS_PENDING);
	roll_devs_free(all, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steps),
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_params),
		cmocka_unit_test_setup_teardown(test_transitions_and_holds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steps_recorded, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
