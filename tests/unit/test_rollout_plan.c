/* Rollout planning: serial specs, Ansible's batch sizes, the max_fail_percentage gate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rollout/plan.h"

#include <stdlib.h>
#include <string.h>

static void expect_sizes(const char *spec, size_t n, const size_t *want, size_t nwant)
{
	serial_spec s;
	char *err = NULL;
	if (serial_parse(spec, &s, &err) < 0)
		fail_msg("%s: %s", spec, err);
	size_t *sizes, nb;
	serial_batches(&s, n, &sizes, &nb);
	if (nb != nwant)
		fail_msg("'%s' over %zu: %zu batches, wanted %zu", spec, n, nb, nwant);
	for (size_t i = 0; i < nb; i++)
		if (sizes[i] != want[i])
			fail_msg("'%s' over %zu: batch %zu has %zu, wanted %zu", spec, n, i, sizes[i], want[i]);
	free(sizes);
	serial_free(&s);
}

#define SIZES(spec, n, ...)                                                           \
	do {                                                                          \
		const size_t w_[] = { __VA_ARGS__ };                                  \
		expect_sizes(spec, n, w_, sizeof w_ / sizeof *w_);                    \
	} while (0)

static void test_batches(void **state)
{
	(void)state;
	SIZES("10%", 7, 1, 1, 1, 1, 1, 1, 1);      /* int(0.7) == 0 -> at least 1 */
	SIZES("10%", 25, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1);
	SIZES("1,5,10%", 200, 1, 5, 20, 20, 20, 20, 20, 20, 20, 20, 20, 14);
	SIZES("30%,2", 10, 3, 2, 2, 2, 1);          /* the percentage is of all hosts */
	SIZES("3", 7, 3, 3, 1);
	SIZES("0", 5, 5);
	SIZES("-1", 5, 5);
	SIZES("7,0", 10, 7, 3);
	SIZES("150%", 4, 4);
	SIZES("all", 4, 4);
	SIZES("", 3, 3);
	SIZES("99999999999999999999999", 3, 3);
	SIZES("-99999999999999999999999", 3, 3);
	SIZES(" 2 , 1_0 ", 15, 2, 10, 3);           /* int() syntax */
	/* no hosts, no batches */
	serial_spec s;
	char *err = NULL;
	assert_int_equal(serial_parse("10%", &s, &err), 0);
	size_t *sizes, nb;
	serial_batches(&s, 0, &sizes, &nb);
	assert_int_equal(nb, 0);
	free(sizes);
	serial_free(&s);
}

static void test_parse(void **state)
{
	(void)state;
	static const char *const bad[] = { "12.5%", "abc", "1,,2", "5x", "%", "1__0", "_1", "1_", "--1" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		serial_spec s;
		char *err = NULL;
		if (serial_parse(bad[i], &s, &err) == 0)
			fail_msg("'%s' was accepted", bad[i]);
		assert_non_null(err);
		assert_non_null(strstr(err, "serial entry"));
		free(err);
	}
	serial_spec s;
	char *err = NULL;
	assert_int_equal(serial_parse("1, 5,10%", &s, &err), 0);
	char *f = serial_format(&s);
	assert_string_equal(f, "1,5,10%");
	free(f);
	serial_free(&s);
	/* from a playbook's value */
	json_t *v = json_loads("[1, \"5\", \"10%\", 2.9]", 0, NULL);
	assert_int_equal(serial_from_json(v, &s, &err), 0);
	f = serial_format(&s);
	assert_string_equal(f, "1,5,10%,2");
	free(f);
	serial_free(&s);
	json_decref(v);
	v = json_string("25%");
	assert_int_equal(serial_from_json(v, &s, &err), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.items[0].percent);
	serial_free(&s);
	json_decref(v);
	v = json_true();
	assert_int_equal(serial_from_json(v, &s, &err), -1);
	free(err);
	json_decref(v);
	double pct;
	assert_int_equal(max_fail_parse("5", &pct, &err), 0);
	assert_true(pct == 5.0);
	assert_int_equal(max_fail_parse("12.5%", &pct, &err), 0);
	assert_true(pct == 12.5);
	assert_int_equal(max_fail_parse("x", &pct, &err), -1);
	free(err);
	assert_int_equal(max_fail_parse("-1", &pct, &err), -1);
	free(err);
}

static void test_strategies(void **state)
{
	(void)state;
	serial_spec s;
	size_t *sizes, nb;
	serial_for_strategy(STRATEGY_CANARY, 10, &s);
	serial_batches(&s, 200, &sizes, &nb); /* the write-up: max(1, n // 20) first */
	assert_int_equal(sizes[0], 10);
	assert_int_equal(sizes[1], 10);
	assert_int_equal(nb, 20);
	free(sizes);
	serial_batches(&s, 19, &sizes, &nb);
	assert_int_equal(sizes[0], 1);
	assert_int_equal(sizes[1], 10);
	assert_int_equal(sizes[2], 8);
	free(sizes);
	serial_free(&s);
	serial_for_strategy(STRATEGY_ALL_AT_ONCE, 10, &s);
	serial_batches(&s, 200, &sizes, &nb);
	assert_int_equal(nb, 1);
	free(sizes);
	serial_free(&s);
	assert_int_equal(rollout_strategy_parse("canary"), STRATEGY_CANARY);
	assert_int_equal(rollout_strategy_parse("all-at-once"), STRATEGY_ALL_AT_ONCE);
	assert_int_equal(rollout_strategy_parse("blue-green"), -1);
}

static void test_gate(void **state)
{
	(void)state;
	/* Ansible: failed / batch_size > pct / 100 */
	assert_int_equal(gate_max_fail(20, 19, 1, 5, 0), GATE_PASS); /* 0.05 is not > 0.05 */
	assert_int_equal(gate_max_fail(20, 18, 2, 5, 0), GATE_FAIL);
	assert_int_equal(gate_max_fail(10, 9, 1, 5, 0), GATE_FAIL);
	assert_int_equal(gate_max_fail(10, 10, 0, 0, 0), GATE_PASS);
	assert_int_equal(gate_max_fail(10, 9, 1, 0, 0), GATE_FAIL);
	assert_int_equal(gate_max_fail(3, 2, 1, 33.4, 0), GATE_PASS);
	assert_int_equal(gate_max_fail(3, 2, 1, 33.3, 0), GATE_FAIL);
	/* every host failed: fail even with no limit, or a limit of 100 */
	assert_int_equal(gate_max_fail(4, 0, 4, 100, 0), GATE_FAIL);
	assert_int_equal(gate_max_fail(4, 0, 4, -1, 0), GATE_FAIL);
	assert_int_equal(gate_max_fail(4, 1, 3, -1, 0), GATE_PASS);
	/* unreachable devices are not failures: 18 done, 2 unreachable, 0 failed */
	assert_int_equal(gate_max_fail(20, 18, 0, 5, 0), GATE_PASS);
	/* but a batch where nothing could be done proves nothing */
	assert_int_equal(gate_max_fail(5, 0, 0, 5, 0), GATE_INCONCLUSIVE);
	/* too few devices done to judge a percentage */
	assert_int_equal(gate_max_fail(2, 1, 1, 5, 5), GATE_INCONCLUSIVE);
	assert_int_equal(gate_max_fail(2, 2, 0, 5, 5), GATE_PASS);
	assert_int_equal(gate_max_fail(10, 9, 1, 5, 5), GATE_FAIL);
	assert_int_equal(gate_max_fail(0, 0, 0, 5, 0), GATE_PASS);
	assert_string_equal(gate_result_name(GATE_INCONCLUSIVE), "inconclusive");
}

static void test_names(void **state)
{
	(void)state;
	assert_true(rollout_name_ok("defect-detection"));
	assert_true(rollout_name_ok("3.2"));
	assert_true(rollout_name_ok("v1.1.0+build_7"));
	assert_false(rollout_name_ok(""));
	assert_false(rollout_name_ok("../etc"));
	assert_false(rollout_name_ok("1..2"));
	assert_false(rollout_name_ok("-rf"));
	assert_false(rollout_name_ok("a b"));
	assert_false(rollout_name_ok("a;reboot"));
	assert_false(rollout_name_ok("$(id)"));
	char longname[200];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	assert_false(rollout_name_ok(longname));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batches), cmocka_unit_test(test_parse), cmocka_unit_test(test_strategies),
		cmocka_unit_test(test_gate), cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
