/* test_promsrc: the Prometheus API answers read strictly (values, vectors, errors, garbage, huge
 * answers), the --source settings, and answers joined into device results (missing series, NaN,
 * up == 0, scrape errors, degraded, several devices on one target, a fleet of 20,000). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "inventory/loader.h"
#include "metrics/promapi.h"
#include "monitor/monitor.h"
#include "poll/promsrc.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <math.h>
#include <poll.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- values ---- */

static void test_values(void **state)
{
	(void)state;
	double v;
	assert_int_equal(promapi_parse_value("1", &v), 0);
	assert_true(v == 1);
	assert_int_equal(promapi_parse_value("-2.5", &v), 0);
	assert_true(v == -2.5);
	assert_int_equal(promapi_parse_value("1e3", &v), 0);
	assert_true(v == 1000);
	assert_int_equal(promapi_parse_value(".5", &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(promapi_parse_value("NaN", &v), 0);
	assert_true(isnan(v));
	assert_int_equal(promapi_parse_value("+Inf", &v), 0);
	assert_true(isinf(v) && v > 0);
	assert_int_equal(promapi_parse_value("-Inf", &v), 0);
	assert_true(isinf(v) && v < 0);
	static const char *const bad[] = { "", "nan", "inf", "infinity", "0x10", "1.2.3", "1e", " 1", "1 ", "+", ".",
					   "1e99999", "--1", "NaNx" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(promapi_parse_value(bad[i], &v), -1);
	assert_int_equal(promapi_parse_value(NULL, &v), -1);
}

static void test_quote_and_names(void **state)
{
	(void)state;
	char *q = promapi_quote("a\"b\\c\nd");
	assert_string_equal(q, "\"a\\\"b\\\\c\\nd\"");
	free(q);
	assert_true(promapi_label_name_valid("instance"));
	assert_true(promapi_label_name_valid("_x9"));
	assert_false(promapi_label_name_valid("9x"));
	assert_false(promapi_label_name_valid("a-b"));
	assert_false(promapi_label_name_valid(""));
	assert_false(promapi_label_name_valid("a\"}"));
}

/* ---- vectors ---- */

static const char *const L1[] = { "instance", "__name__" };

static int parse(const char *body, promapi_vector *v, char **err)
{
	return promapi_parse_vector(body, strlen(body), L1, 2, v, err);
}

static void test_vector(void **state)
{
	(void)state;
	const char *body = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
			   "{\"metric\":{\"__name__\":\"up\",\"instance\":\"10.0.0.1:8000\",\"job\":\"edge\"},"
			   "\"value\":[1700000000.123,\"1\"]},"
			   "{\"metric\":{\"instance\":\"10.0.0.2:8000\"},\"value\":[1700000000.123,\"NaN\"]},"
			   "{\"metric\":{\"job\":\"other\"},\"value\":[1700000000.123,\"3\"]}]},"
			   "\"warnings\":[\"one\",\"two\"]}";
	promapi_vector v;
	char *err = NULL;
	assert_int_equal(parse(body, &v, &err), 0);
	assert_int_equal(v.n, 2);
	assert_int_equal(v.unlabelled, 1);
	assert_string_equal(v.s[0].label[0], "10.0.0.1:8000");
	assert_string_equal(v.s[0].label[1], "up");
	assert_true(v.s[0].value == 1);
	assert_true(fabs(v.s[0].ts - 1700000000.123) < 1e-6);
	assert_null(v.s[1].label[1]);
	assert_true(isnan(v.s[1].value));
	assert_string_equal(v.warnings, "one; two");
	promapi_vector_clear(&v);
	promapi_vector_clear(&v); /* twice is fine */

	const char *empty = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}";
	assert_int_equal(parse(empty, &v, &err), 0);
	assert_int_equal(v.n, 0);
	promapi_vector_clear(&v);
}

static void expect_error(const char *body, size_t len, const char *want)
{
	promapi_vector v;
	char *err = NULL;
	assert_int_equal(promapi_parse_vector(body, len, L1, 2, &v, &err), -1);
	assert_non_null(err);
	if (!strstr(err, want))
		fail_msg("'%s' does not say '%s'", err, want);
	assert_int_equal(v.n, 0);
	assert_null(v.s);
	free(err);
}

static void test_vector_errors(void **state)
{
	(void)state;
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "", "not a Prometheus API answer" },
		{ "<html>502 Bad Gateway</html>", "not a Prometheus API answer" },
		{ "{\"status\":\"succ", "not a Prometheus API answer" },
		{ "[1,2,3]", "no \"status\"" },
		{ "{\"status\": \"healthy\", \"model_loaded\": true}", "status 'healthy'" },
		{ "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error at char 3\"}",
		  "Prometheus answered an error: bad_data: parse error at char 3" },
		{ "{\"status\":\"success\"}", "no data.resultType" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,\"2\"]}}", "expected an instant vector, got a scalar" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}", "expected an instant vector" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1,2]}]}}",
		  "result 0: expected" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1,\"2\",3]}]}}",
		  "result 0: expected" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"value\":[1,\"2\"]}]}}",
		  "result 0: expected" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1,\"two\"]}]}}",
		  "'two' is not a number" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"instance\":7},\"value\":[1,\"2\"]}]}}",
		  "label instance: expected a string" },
		{ "{\"status\":\"success\",\"status\":\"error\"}", "not a Prometheus API answer" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		expect_error(cases[i].body, strlen(cases[i].body), cases[i].want);
	/* a NUL inside a label value (jansson refuses it), and one over 1024 bytes */
	const char nul[] = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"instance\":\"a\\u0000b\"},\"value\":[1,\"2\"]}]}}";
	expect_error(nul, strlen(nul), "not a Prometheus API answer");
	char *longv = xmalloc(4000);
	int n = snprintf(longv, 4000, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"instance\":\"");
	memset(longv + n, 'x', 1100);
	snprintf(longv + n + 1100, 4000 - (size_t)n - 1100, "\"},\"value\":[1,\"2\"]}]}}");
	expect_error(longv, strlen(longv), "at most 1024 bytes");
	free(longv);
	/* the API's error text is cut and cleaned of control characters */
	const char *ctl = "{\"status\":\"error\",\"errorType\":\"x\",\"error\":\"a\\u001b[2Jb\"}";
	expect_error(ctl, strlen(ctl), "a?[2Jb");
	/* garbage after the answer */
	const char *tail = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}} trailing";
	expect_error(tail, strlen(tail), "not a Prometheus API answer");
	promapi_vector v;
	char *err = NULL;
	assert_int_equal(promapi_parse_vector("{}", 2, L1, 0, &v, &err), -1);
	free(err);
}

/* 100,000 series: all read, in order. */
static void test_vector_huge(void **state)
{
	(void)state;
	size_t cap = 12 << 20, len = 0;
	char *b = xmalloc(cap);
	len += (size_t)snprintf(b, cap, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[");
	for (int i = 0; i < 100000; i++)
		len += (size_t)snprintf(b + len, cap - len,
					"%s{\"metric\":{\"__name__\":\"gpu_temperature_celsius\",\"instance\":\"10.%d.%d.%d:8000\","
					"\"job\":\"edge\"},\"value\":[1700000000,\"%d.5\"]}",
					i ? "," : "", i >> 16, (i >> 8) & 255, i & 255, i % 100);
	len += (size_t)snprintf(b + len, cap - len, "]}}");
	promapi_vector v;
	char *err = NULL;
	assert_int_equal(promapi_parse_vector(b, len, L1, 2, &v, &err), 0);
	assert_int_equal(v.n, 100000);
	assert_string_equal(v.s[99999].label[0], "10.1.134.159:8000");
	assert_true(v.s[99999].value == 99.5);
	promapi_vector_clear(&v);
	free(b);
}

/* ---- settings ---- */

static void test_opts(void **state)
{
	(void)state;
	promsrc_opts o;
	char *err = NULL;
	assert_int_equal(promsrc_opts_parse("http://prom:9090", &o, &err), 0);
	assert_string_equal(o.url, "http://prom:9090");
	assert_string_equal(o.label, "instance");
	assert_string_equal(o.match, "{address}:{metrics_port}");
	assert_null(o.job);
	assert_string_equal(o.window, "5m");
	assert_int_equal(o.max_body, 64u << 20);
	promsrc_opts_clear(&o);
	assert_int_equal(promsrc_opts_parse("https://u:p@prom/prefix/,label=device,match={host}.lan,job=edge,window=1h30m,max-mib=8",
					    &o, &err),
			 0);
	assert_string_equal(o.label, "device");
	assert_string_equal(o.match, "{host}.lan");
	assert_string_equal(o.job, "edge");
	assert_string_equal(o.window, "1h30m");
	assert_int_equal(o.max_body, 8u << 20);
	promsrc_opts_clear(&o);
	static const struct {
		const char *spec, *want;
	} bad[] = {
		{ "", "expected prometheus=URL" },
		{ "ftp://x", "expected http://" },
		{ "http://", "expected http://" },
		{ "prom:9090", "expected http://" },
		{ "http://a b", "no spaces" },
		{ "http://p/?x=1", "no spaces, query" },
		{ "http://p,label=9x", "expected a label name" },
		{ "http://p,label=le", "not le" },
		{ "http://p,match={nope}", "unknown placeholder" },
		{ "http://p,match={host", "unknown placeholder" },
		{ "http://p,window=5", "PromQL duration" },
		{ "http://p,window=5m;drop", "PromQL duration" },
		{ "http://p,colour=red", "unknown setting 'colour'" },
		{ "http://p,label", "expected KEY=VALUE" },
		{ "http://p,label=", "empty value" },
		{ "http://p,max-mib=0", "max-mib" },
		{ "http://p,max-mib=9999", "max-mib" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		err = NULL;
		assert_int_equal(promsrc_opts_parse(bad[i].spec, &o, &err), -1);
		if (!err || !strstr(err, bad[i].want))
			fail_msg("%s: '%s' does not say '%s'", bad[i].spec, err ? err : "(null)", bad[i].want);
		assert_null(o.owned);
		free(err);
	}
	promsrc_opts_clear(&o);
}

/* The queries carry the label, the job and the window; a job with a quote cannot break out. */
static void test_queries(void **state)
{
	(void)state;
	promsrc_opts o;
	char *err = NULL;
	assert_int_equal(promsrc_opts_parse("http://p,label=device,job=ed\"ge,window=2m", &o, &err), 0);
	promsrc *ps = promsrc_new(&o, &err);
	assert_non_null(ps);
	assert_non_null(strstr(promsrc_promql(ps, 0), "device_health_status"));
	assert_non_null(strstr(promsrc_promql(ps, 0), ",job=\"ed\\\"ge\"}"));
	assert_non_null(strstr(promsrc_promql(ps, 1), "sum by (device, le)"));
	assert_non_null(strstr(promsrc_promql(ps, 1), "[2m]"));
	assert_non_null(strstr(promsrc_promql(ps, 2), "status=~\"error|failure|failed|fail|timeout\",job="));
	assert_non_null(strstr(promsrc_promql(ps, 3), "max by (device)"));
	assert_null(promsrc_promql(ps, PROMSRC_QUERIES));
	promsrc_free(ps);
	promsrc_opts_clear(&o);
	promsrc_free(NULL);
}

/* ---- joining answers into device results ---- */

static promsrc *source(const char *spec)
{
	promsrc_opts o;
	char *err = NULL;
	assert_int_equal(promsrc_opts_parse(spec, &o, &err), 0);
	promsrc *ps = promsrc_new(&o, &err);
	assert_non_null(ps);
	promsrc_opts_clear(&o);
	return ps;
}

static void add(promsrc *ps, const char *name, const char *address, const char *key)
{
	poll_target t = { .name = name, .address = address, .agent_port = 8080, .metrics_port = 8000 };
	char *err = NULL;
	assert_true(promsrc_add(ps, &t, key, &err) >= 0);
}

#define VEC_HEAD "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
#define VEC_TAIL "]}}"
#define S(inst, name, val) "{\"metric\":{\"__name__\":\"" name "\",\"instance\":\"" inst "\"},\"value\":[1700000000,\"" val "\"]}"
#define M(inst, model, ver, val)                                                                          \
	"{\"metric\":{\"__name__\":\"model_loaded\",\"instance\":\"" inst "\",\"model_name\":\"" model "\"," \
	"\"version\":\"" ver "\"},\"value\":[1700000000,\"" val "\"]}"
#define V(inst, val) "{\"metric\":{\"instance\":\"" inst "\"},\"value\":[1700000000,\"" val "\"]}"

static const char GAUGES[] = VEC_HEAD
	S("10.0.0.1:8000", "up", "1") "," S("10.0.0.1:8000", "device_health_status", "1") ","
	S("10.0.0.1:8000", "gpu_temperature_celsius", "61.5") "," S("10.0.0.1:8000", "gpu_power_watts", "NaN") ","
	S("10.0.0.1:8000", "gpu_utilization_percent", "+Inf") "," S("10.0.0.1:8000", "gpu_memory_total_bytes", "8e9") ","
	S("10.0.0.1:8000", "scrape_duration_seconds", "0.002") ","
	M("10.0.0.1:8000", "defect-detection", "3.0", "0") "," M("10.0.0.1:8000", "defect-detection", "3.1", "1") ","
	S("10.0.0.2:8000", "up", "0") ","
	S("10.0.0.4:8000", "up", "1") ","
	S("10.0.0.5:8000", "up", "1") "," S("10.0.0.5:8000", "device_health_status", "0.5") ","
	M("10.0.0.5:8000", "defect-detection", "3.1", "0") ","
	S("10.0.0.6:8000", "up", "1") "," S("10.0.0.6:8000", "device_health_status", "0") ","
	S("10.9.9.9:9090", "up", "1") "," S("10.9.9.9:9090", "gpu_temperature_celsius", "99") ","
	"{\"metric\":{\"__name__\":\"up\",\"job\":\"x\"},\"value\":[1700000000,\"1\"]}"
	VEC_TAIL;
static const char P95[] = VEC_HEAD V("10.0.0.1:8000", "0.0175") "," V("10.0.0.5:8000", "NaN") VEC_TAIL;
static const char ERRS[] = VEC_HEAD V("10.0.0.1:8000", "0.002") VEC_TAIL;
static const char UPTIME[] = VEC_HEAD V("10.0.0.1:8000", "7200") VEC_TAIL;
static const char TARGETS[] =
	"{\"status\":\"success\",\"data\":{\"activeTargets\":[{\"labels\":{\"instance\":\"10.0.0.2:8000\",\"job\":\"edge\"},"
	"\"health\":\"down\",\"lastError\":\"Get \\\"http://10.0.0.2:8000/metrics\\\": dial tcp 10.0.0.2:8000: connect: "
	"connection refused\"},{\"labels\":{\"instance\":\"10.0.0.1:8000\"},\"health\":\"up\",\"lastError\":\"\"}]}}";

static promsrc *fleet6(void)
{
	promsrc *ps = source("http://127.83.200.1:1");
	add(ps, "a", "10.0.0.1", NULL);
	add(ps, "b", "10.0.0.2", NULL);
	add(ps, "c", "10.0.0.3", NULL);  /* not in Prometheus */
	add(ps, "d", "10.0.0.4", NULL);  /* up, but no health gauge */
	add(ps, "e", "10.0.0.5", NULL);  /* health 0.5 */
	add(ps, "f", "10.0.0.6", NULL);  /* health 0 */
	add(ps, "a2", "10.0.0.99", "10.0.0.1:8000"); /* the same target as a, by an explicit key */
	assert_string_equal(promsrc_key(ps, 0), "10.0.0.1:8000");
	assert_string_equal(promsrc_key(ps, 6), "10.0.0.1:8000");
	assert_int_equal(promsrc_count(ps), 7);
	/* IPv6: bracketed before the port, as Prometheus writes the instance */
	add(ps, "v6", "fd00::1", NULL);
	assert_string_equal(promsrc_key(ps, 7), "[fd00::1]:8000");
	return ps;
}

static void test_join(void **state)
{
	(void)state;
	promsrc *ps = fleet6();
	const char *body[PROMSRC_QUERIES] = { GAUGES, P95, ERRS, UPTIME };
	size_t len[PROMSRC_QUERIES] = { strlen(GAUGES), strlen(P95), strlen(ERRS), strlen(UPTIME) };
	const poll_result *r;
	size_t n;
	char *err = NULL;
	assert_int_equal(promsrc_take(ps, body, len, TARGETS, strlen(TARGETS), 1700000000123, &r, &n, &err), 0);
	assert_null(promsrc_warning(ps));
	assert_int_equal(n, 8);
	assert_int_equal(r[7].reason, DEV_REASON_NOT_POLLED);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(r[i].index, i);
		assert_true(r[i].polled);
		assert_int_equal(r[i].ts_ms, 1700000000123);
		assert_true(r[i].fetch[POLL_EP_STATUS].attempted);
	}
	/* a: healthy, the loaded version, NaN and Inf left out */
	assert_int_equal(r[0].state, DEV_HEALTHY);
	assert_string_equal(r[0].host, "a");
	assert_true(r[0].fetch[POLL_EP_STATUS].ok);
	assert_string_equal(r[0].st.status, "healthy");
	assert_string_equal(r[0].st.model_name, "defect-detection");
	assert_string_equal(r[0].st.model_version, "3.1");
	assert_true(r[0].st.model_loaded);
	assert_true(r[0].st.have & DEV_HAVE_GPU_TEMP);
	assert_true(r[0].st.gpu_temp == 61.5);
	assert_false(r[0].st.have & DEV_HAVE_POWER);
	assert_false(r[0].st.have & DEV_HAVE_GPU_UTIL);
	assert_true(r[0].st.have & DEV_HAVE_GPU_MEM_TOTAL);
	assert_true(fabs(r[0].st.latency_p95_ms - 17.5) < 1e-9);
	assert_true(r[0].st.error_rate == 0.002);
	assert_true(r[0].st.uptime_hours == 2);
	assert_true(fabs(r[0].rtt_ms - 2) < 1e-9);
	assert_null(r[0].detail);
	/* b: up 0, the scrape error from the targets */
	assert_int_equal(r[1].state, DEV_UNREACHABLE);
	assert_int_equal(r[1].reason, DEV_REASON_REFUSED);
	assert_non_null(strstr(r[1].detail, "connection refused"));
	assert_false(r[1].fetch[POLL_EP_STATUS].ok);
	assert_null(r[1].st.status);
	assert_int_equal(r[1].failures, 1);
	/* c: no series at all */
	assert_int_equal(r[2].state, DEV_UNREACHABLE);
	assert_int_equal(r[2].reason, DEV_REASON_NOT_POLLED);
	assert_non_null(strstr(r[2].detail, "instance=\"10.0.0.3:8000\""));
	/* d: reachable but no health gauge */
	assert_int_equal(r[3].state, DEV_UNHEALTHY);
	assert_int_equal(r[3].reason, DEV_REASON_MALFORMED);
	assert_non_null(strstr(r[3].detail, "device_health_status"));
	/* e: in between is degraded; no model loaded */
	assert_int_equal(r[4].state, DEV_DEGRADED);
	assert_int_equal(r[4].reason, DEV_REASON_REPORTED);
	assert_true(r[4].st.have & DEV_HAVE_MODEL_LOADED);
	assert_false(r[4].st.model_loaded);
	assert_null(r[4].st.model_version);
	assert_false(r[4].st.have & DEV_HAVE_LATENCY_P95);
	/* f: 0 is unhealthy */
	assert_int_equal(r[5].state, DEV_UNHEALTHY);
	assert_string_equal(r[5].detail, "device_health_status is 0");
	/* a2 shares a's target */
	assert_int_equal(r[6].state, DEV_HEALTHY);
	assert_string_equal(r[6].host, "a2");
	assert_true(r[6].st.gpu_temp == 61.5);

	/* again, without the targets and with the secondary answers broken: warnings, no failure */
	const char *body2[PROMSRC_QUERIES] = { GAUGES, "garbage", NULL,
					       "{\"status\":\"error\",\"errorType\":\"timeout\",\"error\":\"query timed out\"}" };
	size_t len2[PROMSRC_QUERIES] = { strlen(GAUGES), 7, 0, strlen(body2[3]) };
	assert_int_equal(promsrc_take(ps, body2, len2, NULL, 0, 1700000001000, &r, &n, &err), 0);
	assert_non_null(promsrc_warning(ps));
	assert_non_null(strstr(promsrc_warning(ps), "p95 latency query: not a Prometheus API answer"));
	assert_non_null(strstr(promsrc_warning(ps), "error rate query: no answer"));
	assert_non_null(strstr(promsrc_warning(ps), "uptime query: Prometheus answered an error: timeout"));
	assert_int_equal(r[0].state, DEV_HEALTHY);
	assert_false(r[0].st.have & DEV_HAVE_LATENCY_P95);
	assert_int_equal(r[1].reason, DEV_REASON_NETWORK); /* no targets: the reason is generic */
	assert_non_null(strstr(r[1].detail, "up == 0"));
	assert_int_equal(r[1].failures, 2);

	/* unusable gauges: the cycle fails, saying where */
	const char *body3[PROMSRC_QUERIES] = { "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{}]}}",
					       P95, ERRS, UPTIME };
	size_t len3[PROMSRC_QUERIES] = { strlen(body3[0]), strlen(P95), strlen(ERRS), strlen(UPTIME) };
	assert_int_equal(promsrc_take(ps, body3, len3, NULL, 0, 1, &r, &n, &err), -1);
	assert_non_null(strstr(err, "Prometheus at http://127.83.200.1:1: result 0: expected"));
	free(err);
	err = NULL;
	const char *body4[PROMSRC_QUERIES] = { NULL, P95, ERRS, UPTIME };
	assert_int_equal(promsrc_take(ps, body4, len3, NULL, 0, 1, &r, &n, &err), -1);
	assert_non_null(strstr(err, "no answer"));
	free(err);
	/* garbage in the targets answer is ignored */
	err = NULL;
	assert_int_equal(promsrc_take(ps, body, len, "]]]", 3, 1, &r, &n, &err), 0);
	assert_int_equal(r[1].reason, DEV_REASON_NETWORK);
	promsrc_free(ps);
}

/* 20,000 devices joined from one answer each; every other one missing. */
static void test_join_large(void **state)
{
	(void)state;
	enum { N = 20000 };
	promsrc *ps = source("http://127.83.200.1:1,label=device,match={host}");
	for (int i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof name, "edge-%05d", i);
		add(ps, name, "10.0.0.1", NULL);
	}
	size_t cap = 16 << 20, len = 0;
	char *b = xmalloc(cap);
	len += (size_t)snprintf(b, cap, VEC_HEAD);
	for (int i = 0; i < N; i += 2)
		len += (size_t)snprintf(b + len, cap - len,
					"%s{\"metric\":{\"__name__\":\"up\",\"device\":\"edge-%05d\"},\"value\":[1,\"1\"]},"
					"{\"metric\":{\"__name__\":\"device_health_status\",\"device\":\"edge-%05d\"},\"value\":[1,\"1\"]},"
					"{\"metric\":{\"__name__\":\"gpu_temperature_celsius\",\"device\":\"edge-%05d\"},\"value\":[1,\"%d\"]}",
					i ? "," : "", i, i, i, i % 90);
	len += (size_t)snprintf(b + len, cap - len, VEC_TAIL);
	const char *empty = VEC_HEAD VEC_TAIL;
	const char *body[PROMSRC_QUERIES] = { b, empty, empty, empty };
	size_t lens[PROMSRC_QUERIES] = { len, strlen(empty), strlen(empty), strlen(empty) };
	const poll_result *r;
	size_t n;
	char *err = NULL;
	assert_int_equal(promsrc_take(ps, body, lens, NULL, 0, 5, &r, &n, &err), 0);
	assert_int_equal(n, N);
	for (int i = 0; i < N; i++) {
		if (i % 2) {
			assert_int_equal(r[i].state, DEV_UNREACHABLE);
			assert_int_equal(r[i].reason, DEV_REASON_NOT_POLLED);
		} else {
			assert_int_equal(r[i].state, DEV_HEALTHY);
			assert_true(r[i].st.gpu_temp == i % 90);
		}
	}
	free(b);
	promsrc_free(ps);
}

/* Nothing listens: the cycle fails with the server's address, no results. */
static void test_cycle_no_server(void **state)
{
	(void)state;
	promsrc_opts o;
	char *err = NULL;
	assert_int_equal(promsrc_opts_parse("http://user:secret@127.83.200.1:9/", &o, &err), 0);
	o.timeout_ms = 2000;
	promsrc *ps = promsrc_new(&o, &err);
	promsrc_opts_clear(&o);
	add(ps, "a", "10.0.0.1", NULL);
	const poll_result *r = (const poll_result *)&err;
	size_t n = 99;
	poll_cycle_info info;
	assert_int_equal(promsrc_cycle(ps, &r, &n, &info, &err), -1);
	assert_null(r);
	assert_int_equal(n, 0);
	assert_non_null(strstr(err, "Prometheus at http://127.83.200.1:9: "));
	assert_null(strstr(err, "secret"));
	free(err);
	promsrc_free(ps);
}

/* The console's engine on a Prometheus that is not there: its loop runs, each failed cycle is
 * the monitor's error, the devices stay pending, and stopping joins the thread. */
static void test_monitor_source(void **state)
{
	(void)state;
	char dir[] = "/tmp/fd-promsrc-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = xasprintf("%s/hosts.ini", dir);
	FILE *f = fopen(path, "w");
	fputs("[factory_a]\ncam-1 ansible_host=127.83.201.1\ncam-2 ansible_host=127.83.201.2 "
	      "fleetdeck_prometheus_instance=cam-2.lan:8000\n",
	      f);
	fclose(f);
	inventory *inv = inv_new();
	char *err = NULL;
	assert_int_equal(inv_load(inv, path, &err), 0);
	assert_int_equal(inv_load_vars(inv, &err), 0);
	promsrc_opts po;
	assert_int_equal(promsrc_opts_parse("http://127.83.200.1:9", &po, &err), 0);
	monitor_opts mo = { .who = "test", .prom = &po };
	poller_opts_default(&mo.poll);
	mo.poll.interval_ms = 200;
	monitor *m = monitor_new(inv, &mo, &err);
	if (!m)
		fail_msg("%s", err);
	assert_int_equal(monitor_start(m, &err), 0);
	char *e = NULL;
	for (int i = 0; i < 100 && !e; i++) { /* bounded: 100 wake-ups or 10 s */
		struct pollfd p = { .fd = monitor_wake_fd(m), .events = POLLIN };
		poll(&p, 1, 100);
		monitor_ack(m);
		e = monitor_error(m);
	}
	assert_non_null(e);
	assert_non_null(strstr(e, "Prometheus at http://127.83.200.1:9: "));
	free(e);
	monitor_poll_now(m);
	fleet_snapshot *s = monitor_snapshot(m, 1);
	assert_int_equal(s->ndevs, 2);
	assert_int_equal(s->devs[0].state, DEV_PENDING);
	assert_int_equal(s->devs[1].state, DEV_PENDING);
	fleet_snapshot_free(s);
	monitor_free(m);
	promsrc_opts_clear(&po);
	inv_free(inv);
	unlink(path);
	rmdir(dir);
	free(path);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_quote_and_names),
		cmocka_unit_test(test_vector),
		cmocka_unit_test(test_vector_errors),
		cmocka_unit_test(test_vector_huge),
		cmocka_unit_test(test_opts),
		cmocka_unit_test(test_queries),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_join_large),
		cmocka_unit_test(test_cycle_no_server),
		cmocka_unit_test(test_monitor_source),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
