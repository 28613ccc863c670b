/* test_fleet: the fleet model (apply, snapshots, stale), every alert rule, version comparison, factories, and the poll/alerts settings of config.yaml. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "fleet/fleet.h"
#include "inventory/loader.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 INT64_C(1700000000000)

/* A cycle's result for device i, as the poller would give it. */
static void mk_result(poll_result *r, size_t i, dev_state s, dev_reason reason, const char *status,
		      const char *model, const char *version, double temp)
{
	memset(r, 0, sizeof *r);
	r->index = i;
	r->polled = true;
	r->ts_ms = T0;
	r->state = s;
	r->reason = reason;
	r->rtt_ms = status ? 3.5 : -1;
	if (status) {
		r->fetch[POLL_EP_STATUS].attempted = r->fetch[POLL_EP_STATUS].ok = true;
		r->st.status = xstrdup(status);
		r->st.model_name = xstrdup(model);
		r->st.model_version = xstrdup(version);
		r->st.gpu_temp = temp;
		r->st.uptime_hours = 12;
		r->st.have = DEV_HAVE_GPU_TEMP | DEV_HAVE_UPTIME;
	} else {
		r->fetch[POLL_EP_STATUS].attempted = true;
		r->fetch[POLL_EP_STATUS].reason = reason;
		r->fetch[POLL_EP_STATUS].error = xstrdup("Connection refused");
		r->detail = xstrdup("/status: Connection refused");
	}
}

static void clear_result(poll_result *r)
{
	free(r->detail);
	dev_status_clear(&r->st);
	for (int e = 0; e < POLL_EP_COUNT; e++)
		free(r->fetch[e].error);
}

static const fleet_alert *find_alert(const fleet_snapshot *s, const char *host, fleet_rule rule)
{
	for (size_t i = 0; i < s->nalerts; i++)
		if (!strcmp(s->alerts[i].host, host) && s->alerts[i].rule == rule)
			return &s->alerts[i];
	return NULL;
}

static size_t alerts_of(const fleet_snapshot *s, const char *host)
{
	size_t n = 0;
	for (size_t i = 0; i < s->nalerts; i++)
		n += !strcmp(s->alerts[i].host, host);
	return n;
}

static void test_rules(void **state)
{
	(void)state;
	fleet_rules r;
	fleet_rules_default(&r);
	fleet_rules_set_gpu(&r, "orin_nano", 70, 0); /* critical stays the default 90 */
	fleet *f = fleet_new(&r);
	const char *hosts[] = { "ok", "hot-warn", "hot-crit", "nano-warm", "old", "gone", "sick", "meh", "bad-json" };
	const char *gpu[] = { "orin_nx", "orin_nx", "orin_nx", "orin_nano", "orin_nx", NULL, NULL, NULL, NULL };
	for (size_t i = 0; i < 9; i++)
		assert_int_equal(fleet_add(f, hosts[i], "factory_x", gpu[i]), i);
	poll_result res[9];
	mk_result(&res[0], 0, DEV_HEALTHY, 0, "healthy", "det", "3.1", 60);
	mk_result(&res[1], 1, DEV_HEALTHY, 0, "healthy", "det", "3.1", 80);   /* at the warning limit */
	mk_result(&res[2], 2, DEV_HEALTHY, 0, "healthy", "det", "3.1", 90.5);
	mk_result(&res[3], 3, DEV_HEALTHY, 0, "healthy", "det", "3.1", 72);   /* over orin_nano's 70 */
	mk_result(&res[4], 4, DEV_HEALTHY, 0, "healthy", "det", "3.0", 50);   /* skew: 3.1 is most common */
	mk_result(&res[5], 5, DEV_UNREACHABLE, DEV_REASON_REFUSED, NULL, NULL, NULL, 0);
	mk_result(&res[6], 6, DEV_UNHEALTHY, DEV_REASON_REPORTED, "unhealthy", "det", "3.1", 40);
	mk_result(&res[7], 7, DEV_DEGRADED, DEV_REASON_REPORTED, "degraded", "det", "3.1", 40);
	mk_result(&res[8], 8, DEV_UNHEALTHY, DEV_REASON_MALFORMED, NULL, NULL, NULL, 0);
	fleet_apply(f, res, 9);
	fleet_snapshot *s = fleet_snapshot_take(f, T0 + 1000);
	assert_int_equal(s->ndevs, 9);
	assert_int_equal(s->version, 1);
	assert_int_equal(alerts_of(s, "ok"), 0);
	const fleet_alert *a = find_alert(s, "hot-warn", FLEET_RULE_GPU_TEMP);
	assert_non_null(a);
	assert_int_equal(a->severity, FLEET_WARNING);
	a = find_alert(s, "hot-crit", FLEET_RULE_GPU_TEMP);
	assert_non_null(a);
	assert_int_equal(a->severity, FLEET_CRITICAL);
	assert_non_null(strstr(a->message, "90.5"));
	a = find_alert(s, "nano-warm", FLEET_RULE_GPU_TEMP);
	assert_non_null(a);
	assert_int_equal(a->severity, FLEET_WARNING);
	assert_non_null(strstr(a->message, "orin_nano"));
	a = find_alert(s, "old", FLEET_RULE_VERSION_SKEW);
	assert_non_null(a);
	assert_non_null(strstr(a->message, "3.0"));
	assert_int_equal(alerts_of(s, "old"), 1);
	a = find_alert(s, "gone", FLEET_RULE_UNREACHABLE);
	assert_non_null(a);
	assert_int_equal(a->severity, FLEET_CRITICAL);
	assert_non_null(strstr(a->message, "connection refused"));
	assert_int_equal(alerts_of(s, "gone"), 1); /* no temperature or version for a device not heard */
	a = find_alert(s, "sick", FLEET_RULE_HEALTH);
	assert_non_null(a);
	assert_int_equal(a->severity, FLEET_CRITICAL);
	a = find_alert(s, "meh", FLEET_RULE_HEALTH);
	assert_non_null(a);
	assert_int_equal(a->severity, FLEET_WARNING);
	a = find_alert(s, "bad-json", FLEET_RULE_HEALTH);
	assert_non_null(a);
	assert_non_null(strstr(a->message, "malformed"));
	assert_int_equal(s->count[DEV_HEALTHY], 5);
	assert_int_equal(s->count[DEV_UNREACHABLE], 1);
	assert_int_equal(s->count[DEV_UNHEALTHY], 2);
	assert_int_equal(s->count[DEV_DEGRADED], 1);
	assert_int_equal(s->nexpected, 1);
	assert_string_equal(s->expected[0].version, "3.1");
	assert_int_equal(s->nalerts, s->nwarning + s->ncritical);
	/* valid bits, never fake zeros: the unreachable device has no report */
	assert_null(s->devs[5].st.status);
	assert_int_equal(s->devs[5].st.have, 0);
	assert_int_equal(s->devs[5].last_seen_ms, 0);
	assert_int_equal(s->devs[0].last_seen_ms, T0);
	assert_string_equal(s->devs[3].gpu_type, "orin_nano");
	fleet_snapshot_free(s);

	/* configured version wins over the most common; disabled rules stay quiet */
	fleet_rules_set_expected(&r, NULL, "3.0");
	r.disabled[FLEET_RULE_GPU_TEMP] = true;
	fleet_set_rules(f, &r);
	s = fleet_snapshot_take(f, T0 + 1000);
	assert_null(find_alert(s, "old", FLEET_RULE_VERSION_SKEW));
	assert_non_null(find_alert(s, "ok", FLEET_RULE_VERSION_SKEW));
	assert_null(find_alert(s, "hot-crit", FLEET_RULE_GPU_TEMP));
	fleet_snapshot_free(s);

	/* a skipped device keeps its state; a later failure keeps the last report, but no rule judges it */
	poll_result again[2];
	mk_result(&again[0], 0, DEV_UNREACHABLE, DEV_REASON_TIMEOUT, NULL, NULL, NULL, 0);
	again[0].ts_ms = T0 + 10000;
	memset(&again[1], 0, sizeof again[1]);
	again[1].index = 1;
	again[1].polled = false;
	again[1].failures = 0;
	fleet_apply(f, again, 2);
	s = fleet_snapshot_take(f, T0 + 11000);
	assert_int_equal(s->version, 2);
	assert_int_equal(s->devs[0].state, DEV_UNREACHABLE);
	assert_string_equal(s->devs[0].st.model_version, "3.1"); /* last known, with its time */
	assert_int_equal(s->devs[0].st_ms, T0);
	assert_int_equal(s->devs[0].last_seen_ms, T0);
	assert_null(find_alert(s, "ok", FLEET_RULE_VERSION_SKEW));
	assert_int_equal(s->devs[1].state, DEV_HEALTHY);
	assert_int_equal(s->devs[1].ts_ms, T0);
	fleet_snapshot_free(s);

	/* stale: an observation older than stale_ms */
	r.stale_ms = 30000;
	fleet_set_rules(f, &r);
	s = fleet_snapshot_take(f, T0 + 35000);
	assert_int_equal(s->devs[1].state, DEV_STALE);
	assert_int_equal(s->devs[1].reason, DEV_REASON_NOT_POLLED);
	assert_non_null(find_alert(s, "hot-warn", FLEET_RULE_STALE));
	assert_int_equal(s->devs[0].state, DEV_UNREACHABLE); /* polled at T0+10 s: not stale yet */
	fleet_snapshot_free(s);

	for (int i = 0; i < 9; i++)
		clear_result(&res[i]);
	clear_result(&again[0]);
	fleet_free(f);
	fleet_rules_free(&r);
}

static void test_drift_rule(void **state)
{
	(void)state;
	fleet *f = fleet_new(NULL);
	fleet_add(f, "d1", NULL, NULL);
	fleet_add(f, "d2", NULL, NULL);
	fleet_add(f, "d3", NULL, NULL);
	poll_result res[3];
	for (size_t i = 0; i < 3; i++)
		mk_result(&res[i], i, DEV_HEALTHY, 0, "healthy", "det", "3.1", 50);
	res[0].st.have |= DEV_HAVE_DRIFT;
	res[0].st.drift_ks = 0.12;
	res[1].st.have |= DEV_HAVE_DRIFT;
	res[1].st.drift_ks = 0.16;
	res[2].st.drift_ks = 0.9; /* not valid: no alert */
	fleet_apply(f, res, 3);
	fleet_snapshot *s = fleet_snapshot_take(f, T0);
	assert_int_equal(find_alert(s, "d1", FLEET_RULE_DRIFT)->severity, FLEET_WARNING);
	assert_int_equal(find_alert(s, "d2", FLEET_RULE_DRIFT)->severity, FLEET_CRITICAL);
	assert_null(find_alert(s, "d3", FLEET_RULE_DRIFT));
	assert_null(s->devs[0].factory);
	fleet_snapshot_free(s);
	for (int i = 0; i < 3; i++)
		clear_result(&res[i]);
	fleet_free(f);
}

static void test_expected_tie_and_models(void **state)
{
	(void)state;
	fleet *f = fleet_new(NULL);
	poll_result res[5];
	const char *v[] = { "3.9", "3.10", "3.9", "3.10", "1.0" };
	const char *m[] = { "det", "det", "det", "det", "seg" };
	for (size_t i = 0; i < 5; i++) {
		char h[8];
		snprintf(h, sizeof h, "h%zu", i);
		fleet_add(f, h, NULL, NULL);
		mk_result(&res[i], i, DEV_HEALTHY, 0, "healthy", m[i], v[i], 40);
	}
	fleet_apply(f, res, 5);
	fleet_snapshot *s = fleet_snapshot_take(f, T0);
	/* 2 and 2: the tie goes to the newer version; another model has its own */
	assert_non_null(find_alert(s, "h0", FLEET_RULE_VERSION_SKEW));
	assert_null(find_alert(s, "h1", FLEET_RULE_VERSION_SKEW));
	assert_null(find_alert(s, "h4", FLEET_RULE_VERSION_SKEW));
	assert_int_equal(s->nexpected, 2);
	fleet_snapshot_free(s);
	for (int i = 0; i < 5; i++)
		clear_result(&res[i]);
	fleet_free(f);
}

static void test_version_cmp(void **state)
{
	(void)state;
	assert_true(fleet_version_cmp("3.10", "3.9") > 0);
	assert_true(fleet_version_cmp("3.9", "3.10") < 0);
	assert_int_equal(fleet_version_cmp("v1.1.0", "1.1.0"), 0);
	assert_int_equal(fleet_version_cmp("3.01", "3.1"), 0);
	assert_true(fleet_version_cmp("3.1.1", "3.1") > 0);
	assert_int_equal(fleet_version_cmp("", ""), 0);
}

static void test_rule_names(void **state)
{
	(void)state;
	for (int i = 0; i < FLEET_RULE_COUNT; i++)
		assert_int_equal(fleet_rule_parse(fleet_rule_name((fleet_rule)i)), i);
	assert_int_equal(fleet_rule_parse("nope"), -1);
	assert_string_equal(fleet_severity_name(FLEET_CRITICAL), "critical");
	assert_string_equal(fleet_severity_name(FLEET_WARNING), "warning");
}

static char *write_tmp(const char *text)
{
	char *path = xstrdup("/tmp/fleetdeck-test-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t n = strlen(text);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	return path;
}

static void test_factory_of(void **state)
{
	(void)state;
	char *path = write_tmp("[factory_amsterdam]\nams-1\nams-2 fleetdeck_factory_group=hall_7\n"
			       "[europe:children]\nfactory_amsterdam\n[line_3]\nams-1\n"
			       "[line_3:vars]\nx=1\n[eu:children]\neurope\n");
	char *ini = xasprintf("%s.ini", path);
	assert_int_equal(rename(path, ini), 0);
	inventory *inv = inv_new();
	char *err = NULL;
	assert_int_equal(inv_load(inv, ini, &err), 0);
	assert_int_equal(inv_load_vars(inv, &err), 0);
	inv_host *h = inv_host_get(inv, "ams-1");
	json_t *vars = inv_host_vars(inv, h);
	/* deepest group: factory_amsterdam (depth 3) beats line_3 (depth 1) */
	assert_string_equal(fleet_factory_of(inv, h, vars), "factory_amsterdam");
	json_decref(vars);
	h = inv_host_get(inv, "ams-2");
	vars = inv_host_vars(inv, h);
	assert_string_equal(fleet_factory_of(inv, h, vars), "hall_7");
	json_decref(vars);
	inv_free(inv);
	unlink(ini);
	free(ini);
	free(path);
}

static void test_factory_ungrouped(void **state)
{
	(void)state;
	char *path = write_tmp("lonely ansible_host=127.0.0.1\n[g]\nmember\n");
	char *ini = xasprintf("%s.ini", path);
	assert_int_equal(rename(path, ini), 0);
	inventory *inv = inv_new();
	char *err = NULL;
	assert_int_equal(inv_load(inv, ini, &err), 0);
	assert_int_equal(inv_load_vars(inv, &err), 0);
	inv_host *h = inv_host_get(inv, "lonely");
	json_t *vars = inv_host_vars(inv, h);
	assert_null(fleet_factory_of(inv, h, vars)); /* ungrouped is no factory */
	json_decref(vars);
	h = inv_host_get(inv, "member");
	vars = inv_host_vars(inv, h);
	assert_string_equal(fleet_factory_of(inv, h, vars), "g");
	json_decref(vars);
	inv_free(inv);
	unlink(ini);
	free(ini);
	free(path);
}

static void test_config_settings(void **state)
{
	(void)state;
	char *path = write_tmp("poll:\n  forks: 64\n  timeout: 2.5\n  connect_timeout: 1\n  interval: 30\n"
			       "  slow_every: 3\n  retries: 0\n  jitter: 0.5\n  backoff_max: 600\n"
			       "alerts:\n  gpu_temp_warning: 75\n  gpu_temp_critical: 85\n"
			       "  gpu_temp:\n    agx_orin: {warning: 82, critical: 92}\n    orin_nano:\n      warning: 70\n"
			       "  expected_version:\n    defect-detection: \"3.1\"\n  drift_ks: 0.2\n  stale_after: 45\n"
			       "  disable: [version_skew, drift]\n");
	fd_config cfg;
	char *err = NULL;
	assert_int_equal(config_load(path, &cfg, &err), 0);
	assert_int_equal(cfg.poll.forks, 64);
	assert_int_equal(cfg.poll.timeout_ms, 2500);
	assert_int_equal(cfg.poll.connect_timeout_ms, 1000);
	assert_int_equal(cfg.poll.interval_ms, 30000);
	assert_int_equal(cfg.poll.slow_every, 3);
	assert_int_equal(cfg.poll.retries, 0);
	assert_int_equal(cfg.poll.jitter_ms, 500);
	assert_int_equal(cfg.poll.backoff_max_ms, 600000);
	double w, c;
	fleet_rules_temp(&cfg.rules, NULL, &w, &c);
	assert_true(w == 75 && c == 85);
	fleet_rules_temp(&cfg.rules, "agx_orin", &w, &c);
	assert_true(w == 82 && c == 92);
	fleet_rules_temp(&cfg.rules, "orin_nano", &w, &c);
	assert_true(w == 70 && c == 85);
	assert_int_equal(cfg.rules.nexpected, 1);
	assert_string_equal(cfg.rules.expected[0].model, "defect-detection");
	assert_string_equal(cfg.rules.expected[0].version, "3.1");
	assert_true(cfg.rules.drift_ks == 0.2);
	assert_int_equal(cfg.rules.stale_ms, 45000);
	assert_true(cfg.rules.disabled[FLEET_RULE_VERSION_SKEW]);
	assert_true(cfg.rules.disabled[FLEET_RULE_DRIFT]);
	assert_false(cfg.rules.disabled[FLEET_RULE_GPU_TEMP]);
	config_free(&cfg);
	unlink(path);
	free(path);

	/* a missing file: the defaults */
	assert_int_equal(config_load("/nonexistent/fleetdeck.yaml", &cfg, &err), 0);
	assert_int_equal(cfg.poll.forks, 256);
	assert_int_equal(cfg.poll.timeout_ms, 5000);
	fleet_rules_temp(&cfg.rules, NULL, &w, &c);
	assert_true(w == 80 && c == 90);
	config_free(&cfg);
}

static void test_config_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "poll:\n  forks: many\n", ":2: poll.forks: expected a whole number from 1 to 100000, got 'many'" },
		{ "poll:\n  forks: 0\n", ":2: poll.forks:" },
		{ "poll:\n  forks: 2.5\n", ":2: poll.forks:" },
		{ "poll:\n  timeout: -1\n", ":2: poll.timeout: expected a number" },
		{ "poll:\n  frks: 3\n", ":2: unknown setting 'poll.frks'" },
		{ "poll: 5\n", ":1: poll: expected a mapping of settings" },
		{ "alerts:\n  gpu_temp_warning: 95\n", ":2: alerts.gpu_temp_warning: gpu_temp_warning (95) must be below" },
		{ "alerts:\n  gpu_temp_critical: hot\n", ":2: alerts.gpu_temp_critical: expected a number" },
		{ "alerts:\n  gpu_temp:\n    orin_nx: {warn: 3}\n", ":3: unknown setting 'alerts.gpu_temp.orin_nx.warn'" },
		{ "alerts:\n  gpu_temp:\n    orin_nx: {warning: 95}\n", ":3: alerts.gpu_temp.orin_nx: warning (95) must be below critical (90)" },
		{ "alerts:\n  disable: [nope]\n", ":2: alerts.disable: unknown rule 'nope'" },
		{ "alerts:\n  expected_version: [1, 2]\n", ":2: alerts.expected_version: expected a version" },
		{ "alerts:\n  drift_ks: 2\n", ":2: alerts.drift_ks: expected a number from" },
		{ "alerts:\n  colour: red\n", ":2: unknown setting 'alerts.colour'" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *path = write_tmp(cases[i].text);
		fd_config cfg;
		char *err = NULL;
		int rc = config_load(path, &cfg, &err);
		if (rc != -1 || !err || !strstr(err, cases[i].want) || strncmp(err, path, strlen(path)))
			fail_msg("case %zu: rc %d, err '%s', want '%s'", i, rc, err ? err : "(none)", cases[i].want);
		free(err);
		config_free(&cfg);
		unlink(path);
		free(path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_drift_rule),
		cmocka_unit_test(test_expected_tie_and_models),
		cmocka_unit_test(test_version_cmp),
		cmocka_unit_test(test_rule_names),
		cmocka_unit_test(test_factory_of),
		cmocka_unit_test(test_factory_ungrouped),
		cmocka_unit_test(test_config_settings),
		cmocka_unit_test(test_config_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
