/* test_canary: the soak gate's judgement (pass, fail on errors, fail on p95, inconclusive), platform by platform, and a device's window from two expositions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "rollout/canary.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A window of `req` requests with `err` errors whose latency sits in the
 * bucket (lo, hi] of le 0.01 0.02 0.05 0.1 +Inf, spread evenly. */
static canary_window win(const char *platform, double req, double err, int bucket)
{
	static const double le[5] = { 0.01, 0.02, 0.05, 0.1, INFINITY };
	canary_window w = { .host = xstrdup("h"), .platform = xstrdup(platform), .requests = req, .errors = err };
	w.nb = 5;
	w.b = xcalloc(5, sizeof *w.b);
	for (int i = 0; i < 5; i++)
		w.b[i] = (prom_bucket){ le[i], i >= bucket ? req : 0 };
	return w;
}

static void clear_all(canary_window *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		canary_window_clear(&w[i]);
}

static canary_params params(void)
{
	canary_params p;
	canary_params_default(&p);
	p.soak_ms = 1000;
	return p;
}

static void test_defaults(void **state)
{
	(void)state;
	canary_params p;
	char *err = NULL;
	assert_int_equal(canary_params_from_json("{\"max_fail\": 5}", &p, &err), 0);
	assert_int_equal(p.soak_ms, 0);
	assert_true(p.max_error_rate == 2 && p.max_p95_increase == 15 && p.min_samples == 100);
	assert_int_equal(canary_params_from_json("{\"soak_ms\": 5000, \"min_samples\": 7}", &p, &err), 0);
	assert_int_equal(p.soak_ms, 5000);
	assert_int_equal(p.min_samples, 7);
	assert_int_equal(canary_params_from_json("{\"max_error_rate\": -1}", &p, &err), -1);
	assert_non_null(err);
	free(err);
	err = NULL;
	assert_int_equal(canary_params_from_json("[]", &p, &err), -1);
	free(err);
}

static void test_pass_and_fail(void **state)
{
	(void)state;
	canary_params p = params();
	canary_verdict v;
	/* same latency, few errors: pass */
	canary_window c[2] = { win("orin", 200, 1, 2), win("orin", 200, 1, 2) };
	canary_window b[2] = { win("orin", 300, 1, 2), win("orin", 300, 0, 2) };
	canary_judge(c, 2, b, 2, &p, &v);
	assert_int_equal(v.outcome, GATE_PASS);
	assert_true(fabs(v.canary.error_rate - 0.5) < 1e-9);
	assert_true(fabs(v.p95_increase) < 1e-9);
	assert_int_equal(v.platforms, 1);
	canary_verdict_clear(&v);
	/* 3% errors on the canaries: fail, whatever the latency */
	c[0].errors = 12;
	canary_judge(c, 2, b, 2, &p, &v);
	assert_int_equal(v.outcome, GATE_FAIL);
	assert_non_null(strstr(v.reason, "error rate 3.25%"));
	canary_verdict_clear(&v);
	c[0].errors = 1;
	/* the canaries' latency one bucket up: their p95 more than 15% above */
	clear_all(c, 2);
	c[0] = win("orin", 200, 0, 3);
	c[1] = win("orin", 200, 0, 3);
	canary_judge(c, 2, b, 2, &p, &v);
	assert_int_equal(v.outcome, GATE_FAIL);
	assert_true(v.p95_increase > 15);
	assert_non_null(strstr(v.reason, "p95 latency"));
	canary_verdict_clear(&v);
	/* a higher limit lets it through */
	p.max_p95_increase = 1000;
	canary_judge(c, 2, b, 2, &p, &v);
	assert_int_equal(v.outcome, GATE_PASS);
	canary_verdict_clear(&v);
	clear_all(c, 2);
	clear_all(b, 2);
}

static void test_platforms(void **state)
{
	(void)state;
	canary_params p = params();
	canary_verdict v;
	/* slow platform canaries against fast and slow baselines: like with like passes */
	canary_window c[1] = { win("nano", 200, 0, 3) };
	canary_window b[2] = { win("agx", 500, 0, 1), win("nano", 300, 0, 3) };
	canary_judge(c, 1, b, 2, &p, &v);
	assert_int_equal(v.outcome, GATE_PASS);
	assert_int_equal(v.platforms, 1);
	assert_true(v.base.p95_ms < v.canary.p95_ms); /* the pooled figures alone would have failed it */
	canary_verdict_clear(&v);
	/* no baseline of the same platform: inconclusive */
	canary_judge(c, 1, b, 1, &p, &v);
	assert_int_equal(v.outcome, GATE_INCONCLUSIVE);
	assert_int_equal(v.platforms, 0);
	canary_verdict_clear(&v);
	clear_all(c, 1);
	clear_all(b, 2);
}

static void test_inconclusive(void **state)
{
	(void)state;
	canary_params p = params();
	canary_verdict v;
	canary_window c[1] = { win("orin", 40, 0, 2) };
	canary_window b[1] = { win("orin", 400, 0, 2) };
	canary_judge(c, 1, b, 1, &p, &v);
	assert_int_equal(v.outcome, GATE_INCONCLUSIVE);
	assert_non_null(strstr(v.reason, "too few requests"));
	canary_verdict_clear(&v);
	/* too few on the baseline's side */
	canary_window_clear(&c[0]);
	c[0] = win("orin", 400, 0, 2);
	canary_window_clear(&b[0]);
	b[0] = win("orin", 40, 0, 2);
	canary_judge(c, 1, b, 1, &p, &v);
	assert_int_equal(v.outcome, GATE_INCONCLUSIVE);
	assert_non_null(strstr(v.reason, "too few latency samples"));
	canary_verdict_clear(&v);
	/* nothing to compare with: inconclusive, unless the errors alone fail it */
	canary_judge(c, 1, NULL, 0, &p, &v);
	assert_int_equal(v.outcome, GATE_INCONCLUSIVE);
	assert_non_null(strstr(v.reason, "no not-updated devices"));
	canary_verdict_clear(&v);
	c[0].errors = 40;
	canary_judge(c, 1, NULL, 0, &p, &v);
	assert_int_equal(v.outcome, GATE_FAIL);
	canary_verdict_clear(&v);
	/* an unmeasured baseline device does not count */
	canary_window_clear(&b[0]);
	b[0] = (canary_window){ .host = xstrdup("x"), .error = xstrdup("refused") };
	c[0].errors = 0;
	canary_judge(c, 1, b, 1, &p, &v);
	assert_int_equal(v.outcome, GATE_INCONCLUSIVE);
	assert_int_equal(v.base.measured, 0);
	json_t *j = canary_verdict_json(&v, &p, 1000);
	assert_string_equal(json_string_value(json_object_get(j, "outcome")), "inconclusive");
	assert_true(json_is_null(json_object_get(json_object_get(j, "baseline"), "p95_ms")));
	json_decref(j);
	canary_verdict_clear(&v);
	clear_all(c, 1);
	clear_all(b, 1);
}

static char *expo(double cum_fast, double cum_slow, double ok, double err, const char *platform)
{
	return xasprintf("# HELP edge_device_info Edge device information\n# TYPE edge_device_info gauge\n"
			 "edge_device_info{device_id=\"d\",platform=\"%s\"} 1.0\n"
			 "# HELP inference_latency_seconds x\n# TYPE inference_latency_seconds histogram\n"
			 "inference_latency_seconds_bucket{le=\"0.02\"} %.1f\n"
			 "inference_latency_seconds_bucket{le=\"0.05\"} %.1f\n"
			 "inference_latency_seconds_bucket{le=\"+Inf\"} %.1f\n"
			 "inference_latency_seconds_count %.1f\ninference_latency_seconds_sum 1.0\n"
			 "# HELP inference_requests_total x\n# TYPE inference_requests_total counter\n"
			 "inference_requests_total{model=\"m\",status=\"success\"} %.1f\n"
			 "inference_requests_total{model=\"m\",status=\"error\"} %.1f\n",
			 platform, cum_fast, cum_fast + cum_slow, cum_fast + cum_slow, cum_fast + cum_slow, ok, err);
}

static void test_window(void **state)
{
	(void)state;
	char *a = expo(100, 10, 105, 5, "Jetson\x01Nano"), *b = expo(180, 30, 196, 14, "Jetson\x01Nano");
	canary_window w;
	assert_int_equal(canary_window_from("dev1", a, strlen(a), b, strlen(b), &w), 0);
	assert_null(w.error);
	assert_string_equal(w.platform, "Jetson?Nano");
	assert_true(w.requests == 100 && w.errors == 9);
	assert_int_equal(w.nb, 3);
	assert_true(w.b[0].count == 80 && w.b[1].count == 100 && w.b[2].count == 100);
	canary_window_clear(&w);
	assert_int_equal(canary_window_from("dev1", a, strlen(a), "garbage{", 8, &w), -1);
	assert_non_null(w.error);
	canary_window_clear(&w);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),      cmocka_unit_test(test_pass_and_fail),
		cmocka_unit_test(test_platforms),     cmocka_unit_test(test_inconclusive),
		cmocka_unit_test(test_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
