/* test_devmetrics: device readings from two scrapes (deltas, resets, missing metrics), the poll hook and merge, and the real fleetsim over two cycles. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "metrics/devmetrics.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* An exposition as fleetsim writes it: cumulative latency buckets over le
 * 0.01, 0.02, 0.05, 0.1, +Inf; request counters (a negative one is absent). */
static char *expo(const double cum[5], double ok, double errs, double created, bool gauges)
{
	static const char *le[] = { "0.01", "0.02", "0.05", "0.1", "+Inf" };
	char *t = xmalloc(4096);
	size_t n = 0, cap = 4096;
	n += (size_t)snprintf(t + n, cap - n,
			      "# HELP inference_latency_seconds Inference latency in seconds\n"
			      "# TYPE inference_latency_seconds histogram\n");
	for (int i = 0; i < 5; i++)
		n += (size_t)snprintf(t + n, cap - n, "inference_latency_seconds_bucket{le=\"%s\"} %.1f\n", le[i], cum[i]);
	n += (size_t)snprintf(t + n, cap - n,
			      "inference_latency_seconds_count %.1f\ninference_latency_seconds_sum 1.5\n"
			      "# HELP inference_latency_seconds_created Inference latency in seconds\n"
			      "# TYPE inference_latency_seconds_created gauge\n"
			      "inference_latency_seconds_created %.1f\n"
			      "# HELP inference_requests_total Total inference requests\n"
			      "# TYPE inference_requests_total counter\n",
			      cum[4], created);
	if (ok >= 0)
		n += (size_t)snprintf(t + n, cap - n, "inference_requests_total{model=\"yolo\",status=\"success\"} %.1f\n", ok);
	if (errs >= 0)
		n += (size_t)snprintf(t + n, cap - n, "inference_requests_total{model=\"yolo\",status=\"error\"} %.1f\n", errs);
	n += (size_t)snprintf(t + n, cap - n, "# TYPE inference_requests_created gauge\n");
	if (ok >= 0)
		n += (size_t)snprintf(t + n, cap - n, "inference_requests_created{model=\"yolo\",status=\"success\"} %.1f\n", created);
	if (errs >= 0)
		n += (size_t)snprintf(t + n, cap - n, "inference_requests_created{model=\"yolo\",status=\"error\"} %.1f\n", created);
	if (gauges)
		n += (size_t)snprintf(t + n, cap - n,
				      "# TYPE gpu_utilization_percent gauge\ngpu_utilization_percent 42.5\n"
				      "# TYPE gpu_memory_used_bytes gauge\ngpu_memory_used_bytes 1.2e+09\n"
				      "# TYPE gpu_memory_total_bytes gauge\ngpu_memory_total_bytes 8.0e+09\n"
				      "# TYPE gpu_temperature_celsius gauge\ngpu_temperature_celsius 61.0\n"
				      "# TYPE gpu_power_watts gauge\ngpu_power_watts NaN\n"
				      "# TYPE cpu_utilization_percent gauge\ncpu_utilization_percent 12.0\n"
				      "# TYPE memory_used_bytes gauge\nmemory_used_bytes 3e+09\n"
				      "# TYPE memory_total_bytes gauge\nmemory_total_bytes 8e+09\n");
	return t;
}

static void take(devmetrics *dm, size_t dev, char *text, int64_t ts, devmetrics_values *v)
{
	char *err = NULL;
	if (devmetrics_take(dm, dev, text, strlen(text), ts, &err))
		fail_msg("%s", err);
	free(text);
	assert_true(devmetrics_get(dm, dev, v));
	assert_true(v->ts_ms == ts);
}

static void test_two_scrapes(void **state)
{
	(void)state;
	devmetrics *dm = devmetrics_new();
	devmetrics_values v;
	assert_false(devmetrics_get(dm, 0, &v));
	assert_int_equal(v.have, 0);

	/* first scrape: the exporter's whole life. rank 38 of 40 in (0.05, 0.1], 8 of 10 in */
	take(dm, 3, expo((double[]){ 10, 20, 30, 40, 40 }, 90, 10, 1000, true), 1, &v);
	assert_true(v.since_start);
	assert_true(v.have & DEVM_LATENCY_P95);
	assert_float_equal(v.latency_p95_ms, 90.0, 1e-9);
	assert_float_equal(v.error_rate, 0.1, 1e-12);
	assert_true(v.gpu_util == 42.5 && v.gpu_mem_used == 1.2e9 && v.gpu_mem_total == 8e9 && v.gpu_temp == 61);
	assert_true(v.cpu_util == 12 && v.mem_used == 3e9 && v.mem_total == 8e9);
	assert_false(v.have & DEVM_POWER); /* NaN: the device cannot tell */
	assert_false(devmetrics_get(dm, 2, &v)); /* another device: nothing */

	/* second: 100 new observations, all in (0.05, 0.1]: rank 95 of 100 */
	take(dm, 3, expo((double[]){ 10, 20, 30, 140, 140 }, 180, 30, 1000, true), 2, &v);
	assert_false(v.since_start);
	assert_float_equal(v.latency_p95_ms, 97.5, 1e-9);
	assert_true(v.latency_obs == 100);
	assert_true(v.requests == 110);
	assert_float_equal(v.error_rate, 20.0 / 110.0, 1e-12);

	/* a restart: counters below the last scrape are all new */
	take(dm, 3, expo((double[]){ 5, 5, 5, 5, 5 }, 3, -1, 2000, true), 3, &v);
	assert_true(v.since_start);
	assert_float_equal(v.latency_p95_ms, 9.5, 1e-9);
	assert_true(v.requests == 3);
	assert_true(v.have & DEVM_ERROR_RATE);
	assert_true(v.error_rate == 0.0);

	/* nothing new: no p95 and no error rate, not zeros; the gauges stay */
	take(dm, 3, expo((double[]){ 5, 5, 5, 5, 5 }, 3, -1, 2000, true), 4, &v);
	assert_false(v.have & (DEVM_LATENCY_P95 | DEVM_ERROR_RATE));
	assert_true(v.have & DEVM_GPU_UTIL);

	/* a new _created is a restart even if every count went up */
	take(dm, 3, expo((double[]){ 6, 6, 6, 6, 6 }, 4, -1, 3000, true), 5, &v);
	assert_true(v.since_start);
	assert_true(v.latency_obs == 6);
	assert_true(v.requests == 4);

	/* the first error of a device: a new series, all of it in the window */
	take(dm, 3, expo((double[]){ 6, 6, 6, 7, 7 }, 4, 2, 3000, true), 6, &v);
	assert_false(v.since_start);
	assert_float_equal(v.error_rate, 1.0, 1e-12);
	assert_true(v.requests == 2);

	/* an exporter without these metrics: nothing, never a fake zero */
	char *err = NULL;
	const char other[] = "# TYPE up gauge\nup 1\n";
	assert_int_equal(devmetrics_take(dm, 5, other, sizeof other - 1, 7, &err), 0);
	assert_true(devmetrics_get(dm, 5, &v));
	assert_int_equal(v.have, 0);

	/* a body that does not parse: an error with its line, the device forgotten */
	const char bad[] = "gpu_utilization_percent 1\ngpu_utilization_percent{ 2\n";
	assert_int_equal(devmetrics_take(dm, 3, bad, sizeof bad - 1, 8, &err), -1);
	assert_string_equal(err, "line 2: expected a label name or '}'");
	free(err);
	assert_false(devmetrics_get(dm, 3, &v));
	devmetrics_free(dm);
	devmetrics_free(NULL);
}

static void test_fill_and_merge(void **state)
{
	(void)state;
	devmetrics *dm = devmetrics_new();
	devmetrics_values v;
	take(dm, 0, expo((double[]){ 10, 20, 30, 40, 40 }, 90, 10, 1, true), 10, &v);
	take(dm, 1, expo((double[]){ 10, 20, 30, 40, 40 }, 90, 10, 1, true), 10, &v);
	take(dm, 2, expo((double[]){ 10, 20, 30, 40, 40 }, 90, 10, 1, true), 10, &v);

	/* what /status gave stays */
	dev_status st = { .have = DEV_HAVE_GPU_UTIL | DEV_HAVE_GPU_TEMP, .gpu_util = 7, .gpu_temp = 50 };
	devmetrics_fill(&v, &st);
	assert_true(st.gpu_util == 7 && st.gpu_temp == 50);
	assert_true(st.have & DEV_HAVE_LATENCY_P95);
	assert_float_equal(st.latency_p95_ms, 90.0, 1e-9);
	assert_true((st.have & DEV_HAVE_ERROR_RATE) && st.error_rate == 0.1);
	assert_true((st.have & DEV_HAVE_GPU_MEM_USED) && (st.have & DEV_HAVE_GPU_MEM_TOTAL));
	assert_false(st.have & DEV_HAVE_POWER);

	poll_result res[4];
	memset(res, 0, sizeof res);
	char healthy[] = "healthy";
	for (size_t i = 0; i < 4; i++) {
		res[i].index = i;
		res[i].polled = true;
		res[i].state = DEV_HEALTHY;
		res[i].fetch[POLL_EP_STATUS].ok = true;
		res[i].st.status = healthy;
		res[i].st.have = DEV_HAVE_GPU_TEMP;
		res[i].st.gpu_temp = 55;
	}
	res[1].fetch[POLL_EP_METRICS].attempted = true; /* failed this cycle */
	res[2].state = DEV_UNREACHABLE;
	const poll_result *m = devmetrics_merge(dm, res, 4);
	assert_true(m != res);
	assert_true((m[0].st.have & DEV_HAVE_GPU_UTIL) && m[0].st.gpu_util == 42.5);
	assert_true(m[0].st.have & DEV_HAVE_LATENCY_P95);
	assert_float_equal(m[0].st.latency_p95_ms, 90.0, 1e-9);
	assert_true(m[0].st.gpu_temp == 55);
	assert_ptr_equal(m[0].st.status, healthy);
	assert_false(res[0].st.have & DEV_HAVE_GPU_UTIL); /* the poller's results are not touched */
	assert_int_equal(m[1].st.have, DEV_HAVE_GPU_TEMP);
	assert_int_equal(m[3].st.have, DEV_HAVE_GPU_TEMP); /* never scraped */
	assert_false(devmetrics_get(dm, 1, &v));
	assert_false(devmetrics_get(dm, 2, &v));

	/* the hook: a body that does not parse marks the fetch malformed */
	poll_fetch f = { .attempted = true, .ok = true };
	const char bad[] = "x{y=\"z\"} one\n";
	devmetrics_hook(dm, 0, POLL_EP_METRICS, bad, sizeof bad - 1, &f);
	assert_false(f.ok);
	assert_int_equal(f.reason, DEV_REASON_MALFORMED);
	assert_string_equal(f.error, "line 1: x: value 'one' is not a number");
	free(f.error);
	assert_false(devmetrics_get(dm, 0, &v));
	poller_opts po;
	poller_opts_default(&po);
	devmetrics_attach(dm, &po);
	assert_true(po.parse[POLL_EP_METRICS] == devmetrics_hook && po.parse_ctx == dm);
	devmetrics_free(dm);
}

/* ---- the real fleetsim ---- */

static char *sim_path(void)
{
	const char *e = getenv("FLEETSIM");
	if (e)
		return xstrdup(e);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	return xasprintf("%s/../fleetsim", dirname(exe));
}

static size_t sink(char *d, size_t s, size_t n, void *u)
{
	(void)d;
	(void)u;
	return s * n;
}

static long post(const char *url, const char *body)
{
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	long code = 0;
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	return code;
}

enum { NDEV = 6 };

static void test_fleetsim(void **state)
{
	(void)state;
	char *sim = sim_path();
	if (access(sim, X_OK))
		fail_msg("no fleetsim at %s", sim);
	int net = 200 + (int)(getpid() % 50);
	char base[32], ctl[48], ready[64], dir[] = "/tmp/fd_devm_XXXXXX";
	assert_non_null(mkdtemp(dir));
	snprintf(base, sizeof base, "127.88.%d.1", net);
	snprintf(ctl, sizeof ctl, "127.88.%d.250:7999", net);
	snprintf(ready, sizeof ready, "%s/ready", dir);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		execl(sim, sim, "--devices", "6", "--factories", "2", "--seed", "11", "--base", base, "--control", ctl,
		      "--clock", "manual", "--ready-file", ready, (char *)NULL);
		_exit(127);
	}
	struct stat sb;
	bool up = false;
	for (int i = 0; i < 600 && !up; i++) { /* bounded: 30 s for the ready file */
		up = stat(ready, &sb) == 0 && sb.st_size > 0;
		if (!up) {
			if (waitpid(pid, NULL, WNOHANG) == pid)
				break;
			usleep(50000);
		}
	}
	if (!up) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		fail_msg("fleetsim did not start");
	}

	devmetrics *dm = devmetrics_new();
	poller_opts po;
	poller_opts_default(&po);
	po.slow_every = 1;
	devmetrics_attach(dm, &po);
	char *err = NULL;
	poller *p = poller_new(&po, &err);
	assert_non_null(p);
	for (int i = 0; i < NDEV; i++) {
		char name[32], addr[32];
		snprintf(name, sizeof name, "dev%d", i);
		snprintf(addr, sizeof addr, "127.88.%d.%d", net, i + 1);
		poll_target t = { .name = name, .address = addr, .agent_port = 8080, .metrics_port = 8000, .transport = "http" };
		assert_true(poller_add(p, &t, &err) >= 0);
	}
	const poll_result *res;
	size_t n;
	poll_cycle_info info;
	assert_int_equal(poller_cycle(p, &res, &n, &info, &err), 0);
	devmetrics_values v1[NDEV];
	for (int i = 0; i < NDEV; i++) {
		if (!res[i].fetch[POLL_EP_METRICS].ok)
			fail_msg("dev%d /metrics: %s", i, res[i].fetch[POLL_EP_METRICS].error);
		assert_true(devmetrics_get(dm, (size_t)i, &v1[i]));
		assert_true(v1[i].since_start);
	}
	char url[96];
	snprintf(url, sizeof url, "http://%s/clock", ctl);
	assert_int_equal(post(url, "{\"advance_s\": 300}"), 200);
	assert_int_equal(poller_cycle(p, &res, &n, &info, &err), 0);
	for (int i = 0; i < NDEV; i++) {
		const dev_status *st = &res[i].st;
		devmetrics_values v;
		assert_true(res[i].fetch[POLL_EP_METRICS].ok);
		assert_true(devmetrics_get(dm, (size_t)i, &v));
		print_message("dev%d: /status gpu %.1f%% p95 %.2f ms err %.4f | /metrics gpu %.1f%% p95 %.2f ms "
			      "err %.4f over %.0f observations, %.0f requests\n",
			      i, st->gpu_util, st->latency_p95_ms, st->error_rate, v.gpu_util, v.latency_p95_ms,
			      v.error_rate, v.latency_obs, v.requests);
		assert_false(v.since_start);
		/* the gauges are what /status says, to the digit */
		unsigned want = DEVM_GPU_UTIL | DEVM_GPU_MEM_USED | DEVM_GPU_MEM_TOTAL | DEVM_GPU_TEMP | DEVM_POWER |
				DEVM_CPU_UTIL | DEVM_MEM_USED | DEVM_MEM_TOTAL | DEVM_LATENCY_P95 | DEVM_ERROR_RATE;
		assert_int_equal(v.have & want, want);
		assert_true(st->have & DEV_HAVE_GPU_UTIL);
		assert_true(v.gpu_util == st->gpu_util);
		assert_true(v.gpu_mem_used == st->gpu_mem_used && v.gpu_mem_total == st->gpu_mem_total);
		assert_true(v.gpu_temp == st->gpu_temp && v.power_w == st->power_w);
		/* p95 over 300 s of observations: within a factor 2 of the model's own p95
		 * (the buckets are 10, 20, 30, 50, 100, 200, 500, 1000 ms wide) */
		assert_true(v.latency_obs > 0 && v.requests > 0);
		assert_true(v.latency_p95_ms > st->latency_p95_ms / 2 && v.latency_p95_ms < st->latency_p95_ms * 2);
		assert_true(v.error_rate >= 0 && v.error_rate <= 1);
		assert_true(fabs(v.error_rate - st->error_rate) < 0.05);
		assert_true(v.cpu_util >= 0 && v.cpu_util <= 100 && v.mem_used <= v.mem_total);

		/* a /status without these fields gets them from /metrics, and no other */
		poll_result r = res[i];
		r.st.have &= ~(unsigned)(DEV_HAVE_GPU_UTIL | DEV_HAVE_LATENCY_P95);
		const poll_result *mr = devmetrics_merge(dm, &r, 1);
		assert_true(mr->st.have & DEV_HAVE_GPU_UTIL);
		assert_true(mr->st.gpu_util == v.gpu_util && mr->st.latency_p95_ms == v.latency_p95_ms);
		assert_true(mr->st.error_rate == st->error_rate);
	}
	poller_free(p);
	devmetrics_free(dm);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	unlink(ready);
	rmdir(dir);
	free(sim);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_scrapes),
		cmocka_unit_test(test_fill_and_merge),
		cmocka_unit_test(test_fleetsim),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
