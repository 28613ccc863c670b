/* The console's engine without a network: cycles fed in, events (state changes,
 * alerts firing and resolving), the command log, history written and read back
 * for sparklines on the worker thread, and the wake-up fd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "inventory/loader.h"
#include "monitor/monitor.h"
#include "util/xalloc.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fill(poll_result *r, size_t i, int64_t ts, dev_state state, double temp)
{
	memset(r, 0, sizeof *r);
	r->index = i;
	r->polled = true;
	r->ts_ms = ts;
	r->state = state;
	r->rtt_ms = state == DEV_UNREACHABLE ? -1 : 3.0;
	if (state == DEV_UNREACHABLE) {
		r->reason = DEV_REASON_REFUSED;
		r->detail = (char *)"/status: Connection refused";
		r->fetch[POLL_EP_STATUS] = (poll_fetch){ .attempted = true, .reason = DEV_REASON_REFUSED, .rtt_ms = 0.4 };
		return;
	}
	r->st.status = (char *)dev_state_name(state);
	r->st.model_name = (char *)"defect-detection";
	r->st.model_version = (char *)"3.2";
	r->st.gpu_temp = temp;
	r->st.uptime_hours = 10;
	r->st.have = DEV_HAVE_GPU_TEMP | DEV_HAVE_UPTIME;
	r->fetch[POLL_EP_STATUS] = (poll_fetch){ .attempted = true, .ok = true, .http_status = 200, .rtt_ms = 3.0 };
}

static bool wait_wake(monitor *m, int ms)
{
	struct pollfd p = { .fd = monitor_wake_fd(m), .events = POLLIN };
	int rc = poll(&p, 1, ms);
	monitor_ack(m);
	return rc == 1;
}

static void test_events_and_history(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/fd-monitor-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char *inv_path = xasprintf("%s/hosts.ini", dir), *db = xasprintf("%s/history.db", dir);
	FILE *f = fopen(inv_path, "w");
	fputs("[factory_a]\ncam-1 ansible_host=127.0.0.1 fleetdeck_agent_port=9\ncam-2 ansible_host=127.0.0.1\n"
	      "[factory_b]\ncam-3 ansible_host=127.0.0.1 fleetdeck_agent_port=notaport\n",
	      f);
	fclose(f);
	inventory *inv = inv_new();
	char *err = NULL;
	assert_int_equal(inv_load(inv, inv_path, &err), 0);
	assert_int_equal(inv_load_vars(inv, &err), 0);
	fleet_rules rules;
	fleet_rules_default(&rules);
	monitor_opts mo = { .rules = &rules, .db_path = db, .who = "test" };
	poller_opts_default(&mo.poll);
	monitor *m = monitor_new(inv, &mo, &err);
	if (!m)
		fail_msg("%s", err);
	/* the device with a bad port is left out, and said so */
	assert_int_equal(monitor_warning_count(m), 1);
	assert_non_null(strstr(monitor_warning(m, 0), "cam-3"));
	/* before any cycle: every device pending */
	fleet_snapshot *s = monitor_snapshot(m, wall_ms());
	assert_int_equal(s->ndevs, 2);
	assert_int_equal(s->devs[0].state, DEV_PENDING);
	fleet_snapshot_free(s);

	int64_t t0 = wall_ms() - 300000;
	poll_result r[2];
	poll_cycle_info info = { .cycle = 1, .start_ms = t0, .end_ms = t0 + 10 };
	fill(&r[0], 0, t0 + 5, DEV_HEALTHY, 60);
	fill(&r[1], 1, t0 + 5, DEV_HEALTHY, 61);
	monitor_feed(m, r, 2, &info);
	assert_true(wait_wake(m, 0)); /* a cycle wakes the UI */
	monitor_event *ev;
	size_t n = monitor_events(m, NULL, 10, &ev);
	assert_int_equal(n, 0); /* first healthy answers are no news */
	monitor_events_free(ev, n);

	/* cam-1 goes unreachable, cam-2 runs hot */
	info = (poll_cycle_info){ .cycle = 2, .start_ms = t0 + 70000, .end_ms = t0 + 70010 };
	fill(&r[0], 0, t0 + 70005, DEV_UNREACHABLE, 0);
	fill(&r[1], 1, t0 + 70005, DEV_HEALTHY, 95);
	monitor_feed(m, r, 2, &info);
	n = monitor_events(m, NULL, 10, &ev);
	bool state_ev = false, alert_unreach = false, alert_temp = false;
	for (size_t i = 0; i < n; i++) {
		if (ev[i].kind == MON_EV_STATE && !strcmp(ev[i].host, "cam-1") && ev[i].from == DEV_HEALTHY &&
		    ev[i].to == DEV_UNREACHABLE)
			state_ev = strstr(ev[i].text, "Connection refused") != NULL;
		if (ev[i].kind == MON_EV_ALERT && !strcmp(ev[i].host, "cam-1") && ev[i].rule == FLEET_RULE_UNREACHABLE)
			alert_unreach = true;
		if (ev[i].kind == MON_EV_ALERT && !strcmp(ev[i].host, "cam-2") && ev[i].rule == FLEET_RULE_GPU_TEMP)
			alert_temp = ev[i].severity == FLEET_CRITICAL;
	}
	monitor_events_free(ev, n);
	assert_true(state_ev);
	assert_true(alert_unreach);
	assert_true(alert_temp);
	/* only cam-2's events */
	n = monitor_events(m, "cam-2", 10, &ev);
	assert_int_equal(n, 1);
	monitor_events_free(ev, n);

	/* cam-2 cools down: its alert resolves */
	info = (poll_cycle_info){ .cycle = 3, .start_ms = t0 + 140000, .end_ms = t0 + 140010 };
	fill(&r[0], 0, t0 + 140005, DEV_UNREACHABLE, 0);
	fill(&r[1], 1, t0 + 140005, DEV_HEALTHY, 62);
	monitor_feed(m, r, 2, &info);
	n = monitor_events(m, NULL, 1, &ev);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].kind, MON_EV_RESOLVED);
	assert_string_equal(ev[0].host, "cam-2");
	assert_int_equal(ev[0].rule, FLEET_RULE_GPU_TEMP);
	monitor_events_free(ev, n);

	/* the command log: newest first, the exact URL and the outcome */
	char **lines;
	n = monitor_cmdlog(m, "cam-1", 10, &lines);
	assert_int_equal(n, 3);
	assert_non_null(strstr(lines[0], "cam-1 GET http://127.0.0.1:9/status connection refused"));
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	n = monitor_cmdlog(m, "cam-2", 10, &lines);
	assert_non_null(strstr(lines[0], "cam-2 GET http://127.0.0.1:8080/status 200 in 3.0 ms"));
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);

	/* history: written per cycle, read back on the worker thread */
	monitor_ack(m); /* the cycles woke it already */
	monitor_history_request(m, "cam-2", t0 + 200000);
	assert_true(wait_wake(m, 5000));
	monitor_history h;
	assert_true(monitor_history_get(m, "cam-2", &h));
	assert_null(h.error);
	assert_int_equal(h.samples[MON_SERIES_TEMP][MON_RANGE_HOUR], 3);
	assert_true(h.max[MON_SERIES_TEMP][MON_RANGE_HOUR] == 95);
	assert_true(h.min[MON_SERIES_TEMP][MON_RANGE_HOUR] == 61);
	size_t buckets = 0;
	for (int b = 0; b < MONITOR_SPARK_POINTS; b++)
		buckets += h.have[MON_SERIES_TEMP][MON_RANGE_HOUR][b];
	assert_int_equal(buckets, 3); /* 70 s apart: three one-minute buckets */
	monitor_history_clear(&h);
	assert_false(monitor_history_get(m, "cam-1", &h));

	monitor_stats st;
	monitor_get_stats(m, &st);
	assert_int_equal(st.cycles, 3);
	assert_int_equal(st.history_errors, 0);
	monitor_free(m);
	inv_free(inv);
	fleet_rules_free(&rules);
	unlink(db);
	char *p = xasprintf("%s-wal", db);
	unlink(p);
	free(p);
	p = xasprintf("%s-shm", db);
	unlink(p);
	free(p);
	unlink(inv_path);
	rmdir(dir);
	free(db);
	free(inv_path);
}

/* The command log of an agentless device shows the exact command sent over SSH. */
static void test_cmdlog_ssh(void **state)
{
	(void)state;
	char d2[64];
	snprintf(d2, sizeof d2, "/tmp/fd-monitor-XXXXXX");
	assert_non_null(mkdtemp(d2));
	char *inv_path = xasprintf("%s/hosts.ini", d2);
	FILE *f = fopen(inv_path, "w");
	fputs("[factory_a]\ncam-s ansible_host=127.0.0.1 ansible_port=2222 ansible_user=bob fleetdeck_transport=ssh "
	      "fleetdeck_model_dir=/srv/models-2\ncam-h ansible_host=127.0.0.1\n",
	      f);
	fclose(f);
	inventory *inv = inv_new();
	char *err = NULL;
	assert_int_equal(inv_load(inv, inv_path, &err), 0);
	assert_int_equal(inv_load_vars(inv, &err), 0);
	fleet_rules rules;
	fleet_rules_default(&rules);
	monitor_opts mo = { .rules = &rules, .who = "test" };
	poller_opts_default(&mo.poll);
	monitor *m = monitor_new(inv, &mo, &err);
	if (!m)
		fail_msg("%s", err);
	int64_t t0 = wall_ms();
	poll_result r[2];
	poll_cycle_info info = { .cycle = 1, .start_ms = t0, .end_ms = t0 + 10 };
	fill(&r[0], 0, t0 + 5, DEV_HEALTHY, 60);
	fill(&r[1], 1, t0 + 5, DEV_HEALTHY, 61);
	monitor_feed(m, r, 2, &info);
	char **lines;
	size_t n = monitor_cmdlog(m, "cam-s", 10, &lines);
	assert_int_equal(n, 1);
	/* the outcome, then the SSH command line and the remote command as sent, quoted */
	assert_non_null(strstr(lines[0], "cam-s SSH /status ok in 3.0 ms: ssh -p 2222 bob@127.0.0.1 -- d='/srv/models-2'; "
					 "u=http://127.0.0.1:8080/health;"));
	assert_non_null(strstr(lines[0], "printf 'health=%s\\n'"));
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	n = monitor_cmdlog(m, "cam-h", 10, &lines);
	assert_int_equal(n, 1);
	assert_non_null(strstr(lines[0], "cam-h GET http://127.0.0.1:8080/status 200 in 3.0 ms"));
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	monitor_free(m);
	inv_free(inv);
	unlink(inv_path);
	rmdir(d2);
	free(inv_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_events_and_history), cmocka_unit_test(test_cmdlog_ssh) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
