/* Drift: the /drift parser's refusals and acceptances, thresholds and severities,
 * small exact cases of the KS test, and the Kolmogorov distribution against scipy's
 * values in tests/data/drift/kstwo_sf.txt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "drift/drift.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses s, expecting a refusal whose message holds want. */
static void refused(const char *s, const char *want)
{
	char *err = NULL;
	drift_set *d = drift_parse(s, strlen(s), &err);
	if (d || !err || !strstr(err, want)) {
		fprintf(stderr, "input: %s\nwant an error with: %s\ngot: %s\n", s, want, err ? err : "(accepted)");
		fail();
	}
	free(err);
}

static void test_refusals(void **state)
{
	(void)state;
	refused("", "expected '{'");
	refused("[]", "expected '{'");
	refused("{\"window\": 2, \"features\": {\"brightness\": [1, NaN]}}", "feature \"brightness\": value 1 is NaN");
	refused("{\"window\": 2, \"features\": {\"contrast\": [Infinity, 1]}}", "feature \"contrast\": value 0 is infinite");
	refused("{\"window\": 2, \"features\": {\"contrast\": [1, -Infinity]}}", "feature \"contrast\": value 1 is infinite");
	refused("{\"window\": 1, \"features\": {\"mean_intensity\": [1e999]}}",
		"feature \"mean_intensity\": value 0 (1e999) is out of range");
	refused("{\"window\": 1, \"features\": {\"mean_intensity\": [-1e309]}}", "out of range");
	refused("{\"window\": 1, \"features\": {\"x\": [\"1\"]}}", "feature \"x\": value 0 is a string");
	refused("{\"window\": 1, \"features\": {\"x\": [null]}}", "value 0 is null");
	refused("{\"window\": 1, \"features\": {\"x\": [true]}}", "value 0 is a boolean");
	refused("{\"window\": 1, \"features\": {\"x\": [[1]]}}", "value 0 is not a number");
	refused("{\"window\": 1, \"features\": {\"x\": [0x10]}}", "expected ']'");
	refused("{\"window\": 1, \"features\": {\"x\": [01]}}", "expected ']'");
	refused("{\"window\": 1, \"features\": {\"x\": [1.]}}", "value 0 is not a valid number");
	refused("{\"window\": 1, \"features\": {\"x\": [.5]}}", "value 0 is not a valid number");
	refused("{\"window\": 1, \"features\": {\"x\": [+1]}}", "value 0 is not a valid number");
	refused("{\"window\": 1, \"features\": {\"x\": 1}}", "feature \"x\": expected an array");
	refused("{\"window\": 3, \"features\": {\"a\": [1, 2, 3], \"brightness\": [1, 2]}}",
		"feature \"brightness\": 2 values, but \"window\" is 3");
	refused("{\"features\": {\"a\": [1, 2]}, \"window\": 3}", "feature \"a\": 2 values");
	refused("{\"window\": 0, \"features\": {\"a\": []}}", "\"window\" must be an integer");
	refused("{\"window\": 2.5, \"features\": {\"a\": [1, 2]}}", "\"window\" must be an integer");
	refused("{\"window\": -1, \"features\": {\"a\": [1]}}", "\"window\" must be an integer");
	refused("{\"window\": \"2\", \"features\": {\"a\": [1, 2]}}", "\"window\" must be an integer");
	refused("{\"window\": 1000001, \"features\": {\"a\": [1]}}", "\"window\" must be an integer");
	refused("{\"features\": {\"a\": [1]}}", "no \"window\"");
	refused("{\"window\": 1}", "no \"features\"");
	refused("{\"window\": 1, \"features\": {}}", "no features");
	refused("{\"window\": 1, \"window\": 1, \"features\": {\"a\": [1]}}", "\"window\" appears twice");
	refused("{\"window\": 1, \"features\": {\"a\": [1], \"a\": [2]}}", "feature \"a\" appears twice");
	refused("{\"window\": 1, \"features\": {\"a\": [1]}, \"timestamp\": 5}", "unknown key \"timestamp\"");
	refused("{\"window\": 1, \"features\": {\"a b\": [1]}}", "feature name \"a b\"");
	refused("{\"window\": 1, \"features\": {\"\": [1]}}", "feature name \"\"");
	refused("{\"window\": 1, \"features\": {\"a\\u0000\": [1]}}", "escape");
	refused("{\"window\": 1, \"features\": {\"\xc3\xa9\": [1]}}", "non-ASCII");
	refused("{\"window\": 1, \"features\": {\"a\": [1]}} x", "text after the document");
	refused("{\"window\": 1, \"features\": {\"a\": [1]", "before the end");
	refused("{\"window\": 1, \"features\": {\"a\": [1, ]}}", "value 1 is not a valid number");
	refused("{\"window\": 1, \"features\": {\"a\": [1]},}", "expected '\"'");

	/* a name one past the limit */
	char name[DRIFT_MAX_NAME + 2];
	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	char *s = xasprintf("{\"window\": 1, \"features\": {\"%s\": [1]}}", name);
	refused(s, "a key longer than");
	free(s);

	/* one feature too many */
	size_t cap = 0, len = 0;
	char *big = NULL;
	big = xgrow(big, &cap, 64, 1);
	len = (size_t)snprintf(big, cap, "{\"window\": 1, \"features\": {");
	for (int i = 0; i <= DRIFT_MAX_FEATURES; i++) {
		big = xgrow(big, &cap, len + 32, 1);
		len += (size_t)snprintf(big + len, cap - len, "%s\"f%d\": [1]", i ? ", " : "", i);
	}
	big = xgrow(big, &cap, len + 4, 1);
	snprintf(big + len, cap - len, "}}");
	char msg[64];
	snprintf(msg, sizeof msg, "more than %d features", DRIFT_MAX_FEATURES);
	refused(big, msg);
	free(big);

	/* five features of a million values: over the cap on all values */
	size_t per = 1000000, blen = 64 + 5 * (16 + 2 * per);
	char *many = xmalloc(blen);
	size_t o = (size_t)snprintf(many, blen, "{\"window\": %zu, \"features\": {", per);
	for (int f = 0; f < 5; f++) {
		o += (size_t)snprintf(many + o, blen - o, "%s\"f%d\": [", f ? ", " : "", f);
		for (size_t i = 0; i < per; i++) {
			many[o++] = '0';
			many[o++] = i + 1 < per ? ',' : ']';
		}
	}
	snprintf(many + o, blen - o, "}}");
	refused(many, "feature \"f4\": more than 4000000 values in all features");
	free(many);

	/* the size cap is looked at before a byte is read */
	char *err = NULL;
	assert_null(drift_parse("{}", DRIFT_MAX_DOC_BYTES + 1, &err));
	assert_non_null(strstr(err, "more than the"));
	free(err);

	/* a number too long to be honest */
	char *longnum = xmalloc(600);
	strcpy(longnum, "{\"window\": 1, \"features\": {\"a\": [1");
	size_t pre = strlen(longnum);
	memset(longnum + pre, '0', 500);
	strcpy(longnum + pre + 500, "]}}");
	refused(longnum, "too long a number");
	free(longnum);
}

static void test_accepts(void **state)
{
	(void)state;
	const char *s = " \n{ \"features\" : {\"zeta\": [ -1.5e-3 , 2 ,0 ],\r\n\t\"alpha\":[1E2,-0,3.25]} ,\"window\":3 }\n";
	char *err = NULL;
	drift_set *d = drift_parse(s, strlen(s), &err);
	assert_non_null(d);
	assert_null(err);
	assert_int_equal(drift_set_window(d), 3);
	assert_int_equal(drift_set_count(d), 2);
	assert_string_equal(drift_set_name(d, 0), "alpha");
	assert_string_equal(drift_set_name(d, 1), "zeta");
	const double *a = drift_set_values(d, 0), *z = drift_set_values(d, 1);
	assert_true(a[0] == 100.0 && a[1] == 0.0 && a[2] == 3.25);
	assert_true(z[0] == -1.5e-3 && z[1] == 2.0 && z[2] == 0.0);
	assert_null(drift_set_name(d, 2));
	drift_set_free(d);
	drift_set_free(NULL);
	drift_report_free(NULL);
	/* not NUL-terminated: the length is what counts */
	const char *t = "{\"window\": 1, \"features\": {\"a\": [7]}}garbage";
	d = drift_parse(t, strlen(t) - 7, &err);
	assert_non_null(d);
	assert_true(drift_set_values(d, 0)[0] == 7.0);
	drift_set_free(d);
}

static drift_set *doc(const char *s)
{
	char *err = NULL;
	drift_set *d = drift_parse(s, strlen(s), &err);
	if (!d)
		fprintf(stderr, "%s\n", err);
	assert_non_null(d);
	return d;
}

static void test_compare(void **state)
{
	(void)state;
	/* a: 0..9 against b: 5..14: D = 0.5 for "x"; "y" identical: D = 0 */
	drift_set *b = doc("{\"window\": 10, \"features\": {\"x\": [0,1,2,3,4,5,6,7,8,9], \"y\": [0,1,2,3,4,5,6,7,8,9]}}");
	drift_set *w = doc("{\"window\": 10, \"features\": {\"y\": [9,8,7,6,5,4,3,2,1,0], \"x\": [5,6,7,8,9,10,11,12,13,14]}}");
	char *err = NULL;
	drift_report *r = drift_compare(b, w, NULL, &err);
	assert_non_null(r);
	assert_int_equal(r->nfeatures, 2);
	assert_string_equal(r->features[0].name, "x");
	assert_true(r->features[0].ks.statistic == 0.5);
	assert_true(r->features[0].drifted);
	assert_int_equal(r->features[0].severity, DRIFT_CRITICAL);
	assert_true(r->features[0].wasserstein == 5.0);
	assert_true(r->features[1].ks.statistic == 0.0 && r->features[1].ks.pvalue == 1.0);
	assert_false(r->features[1].drifted);
	assert_int_equal(r->features[1].severity, DRIFT_NONE);
	assert_true(r->drifted);
	assert_int_equal(r->severity, DRIFT_CRITICAL);
	assert_true(r->max_ks == 0.5);
	drift_report_free(r);

	/* 0.5 >= 1.5 x 0.4 is false: a warning; at the threshold itself, no drift */
	drift_threshold t[] = { { "x", 0.4 } };
	drift_opts o = { .threshold = 0.1, .per_feature = t, .nper_feature = 1 };
	r = drift_compare(b, w, &o, &err);
	assert_non_null(r);
	assert_int_equal(r->features[0].severity, DRIFT_WARNING);
	assert_true(r->features[0].threshold == 0.4);
	assert_int_equal(r->severity, DRIFT_WARNING);
	drift_report_free(r);
	t[0].threshold = 0.5;
	r = drift_compare(b, w, &o, &err);
	assert_non_null(r);
	assert_false(r->drifted);
	assert_int_equal(r->severity, DRIFT_NONE);
	assert_string_equal(drift_severity_name(r->severity), "none");
	drift_report_free(r);

	/* refusals */
	t[0].name = "nosuch";
	assert_null(drift_compare(b, w, &o, &err));
	assert_non_null(strstr(err, "\"nosuch\""));
	free(err);
	t[0].name = "x";
	t[0].threshold = NAN;
	assert_null(drift_compare(b, w, &o, &err));
	assert_non_null(strstr(err, "feature \"x\": threshold"));
	free(err);
	o.nper_feature = 0;
	o.threshold = 0;
	assert_null(drift_compare(b, w, &o, &err));
	free(err);
	drift_set *w2 = doc("{\"window\": 1, \"features\": {\"x\": [1]}}");
	assert_null(drift_compare(b, w2, NULL, &err));
	assert_non_null(strstr(err, "feature \"y\" is in the baseline but not in the window"));
	free(err);
	assert_null(drift_compare(w2, b, NULL, &err));
	assert_non_null(strstr(err, "feature \"y\" is in the window but not in the baseline"));
	free(err);
	drift_set_free(w2);
	drift_set_free(b);
	drift_set_free(w);
}

static void test_small_exact(void **state)
{
	(void)state;
	ks_result r;
	double one = 1, two = 2, five[] = { 2, 3, 4, 5, 6 };
	assert_int_equal(ks_2samp(&one, 1, &two, 1, &r), 0);
	assert_true(r.statistic == 1.0 && r.pvalue == 1.0);
	assert_int_equal(ks_2samp(&one, 1, five, 5, &r), 0);
	assert_true(r.statistic == 1.0);
	assert_true(fabs(r.pvalue - 1.0 / 3) < 1e-15);
	assert_int_equal(r.method, KS_METHOD_EXACT);
	assert_int_equal(ks_2samp(&one, 0, five, 5, &r), -1);
	assert_true(ks_wasserstein(&one, 1, five, 5) == 3.0);
	assert_true(isnan(ks_wasserstein(&one, 0, five, 5)));
	/* D = 1/n for equal sizes: the exact sum leaves [0, 1] by a rounding and the
	 * asymptotic distribution answers, as in scipy */
	double a[7], b[7];
	for (int i = 0; i < 7; i++)
		a[i] = i, b[i] = i + 0.5;
	assert_int_equal(ks_2samp(a, 7, b, 7, &r), 0);
	assert_int_equal(r.method, KS_METHOD_ASYMP_FALLBACK);
	assert_true(fabs(r.pvalue - 0.99996095376926286) < 1e-15);
	assert_true(isnan(ks_kstwo_sf(0.5, 0)));
}

static void test_kstwo_reference(void **state)
{
	(void)state;
	const char *dir = getenv("FLEETDECK_TEST_DATA");
	char *path = xasprintf("%s/drift/kstwo_sf.txt", dir ? dir : FLEETDECK_SRC_DIR "/tests/data");
	FILE *f = fopen(path, "r");
	if (!f)
		fprintf(stderr, "cannot open %s\n", path);
	assert_non_null(f);
	char line[256], kind[16];
	int n, checked = 0, bad = 0;
	double d, want;
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '#')
			continue;
		assert_int_equal(sscanf(line, "%15s %d %lf %lf", kind, &n, &d, &want), 4);
		double got = strcmp(kind, "kstwo") == 0 ? ks_kstwo_sf(d, n) : ks_smirnov_sf(n, d);
		if (!(isnan(got) && isnan(want)) && !(fabs(got - want) <= fmax(1e-9 * fabs(want), 1e-14))) {
			fprintf(stderr, "%s n=%d d=%.17g: got %.17g, scipy %.17g\n", kind, n, d, got, want);
			bad++;
		}
		checked++;
	}
	fclose(f);
	free(path);
	assert_true(checked > 400);
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),     cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_compare),      cmocka_unit_test(test_small_exact),
		cmocka_unit_test(test_kstwo_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
