/* test_expo: the exposition writer (escaping of hostile label values, HELP text, numbers, misuse),
 * read back by the project's strict parser; and the Alertmanager payload (labels, startsAt kept,
 * resolved alerts). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "export/alertmgr.h"
#include "metrics/expo.h"
#include "metrics/prom.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_escape(const char *in, const char *want)
{
	char *got = expo_escape_label(in);
	assert_string_equal(got, want);
	free(got);
}

static void test_escape(void **state)
{
	(void)state;
	check_escape("edge-ams-01", "edge-ams-01");
	check_escape("a\"b", "a\\\"b");
	check_escape("back\\slash", "back\\\\slash");
	check_escape("two\nlines", "two\\nlines");
	check_escape("\\n is not a newline", "\\\\n is not a newline");
	check_escape("\"\\\n", "\\\"\\\\\\n");
	check_escape("", "");
	check_escape("tab\tstays", "tab\tstays");
	check_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* not UTF-8: a lone continuation byte, a truncated sequence, an overlong '/', a surrogate, past U+10FFFF */
	check_escape("a\x80z", "a\xef\xbf\xbdz");
	check_escape("a\xc3", "a\xef\xbf\xbd");
	check_escape("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");
	check_escape("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	check_escape("\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

static void check_value(double v, const char *want)
{
	char buf[40];
	expo_format_value(v, buf, sizeof buf);
	assert_string_equal(buf, want);
}

static void test_values(void **state)
{
	(void)state;
	check_value(0, "0");
	check_value(12, "12");
	check_value(-3.5, "-3.5");
	check_value(0.1, "0.1");
	check_value(1796119707.792, "1796119707.792");
	check_value(1e21, "1e+21");
	check_value(NAN, "NaN");
	check_value(INFINITY, "+Inf");
	check_value(-INFINITY, "-Inf");
	check_value(0.698 / 1000, "0.0006979999999999999"); /* 16 digits: 0.000698 is another double */
	char buf[40];
	double v = 1.0 / 3.0;
	expo_format_value(v, buf, sizeof buf);
	assert_true(strtod(buf, NULL) == v);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(expo_metric_name_ok("fleetdeck_devices"));
	assert_true(expo_metric_name_ok("a:b_c9"));
	assert_false(expo_metric_name_ok("9lives"));
	assert_false(expo_metric_name_ok("with-dash"));
	assert_false(expo_metric_name_ok(""));
	assert_true(expo_label_name_ok("device"));
	assert_false(expo_label_name_ok("a:b"));
	assert_false(expo_label_name_ok("__reserved"));
	assert_false(expo_label_name_ok("0x"));
}

/* Hostile values written and read back by the strict parser: the same strings come out. */
static void test_round_trip(void **state)
{
	(void)state;
	const char *hostile[] = {
		"plain", "quote\"inside", "back\\slash", "new\nline", "all \" \\ \n three", "} 1\nfake_metric 2",
		"# TYPE x counter", "\\\"",
	};
	size_t n = sizeof hostile / sizeof *hostile;
	expo *e = expo_new();
	expo_family(e, "fleetdeck_test_info", "gauge", "Help with a \\ backslash\nand a newline.");
	for (size_t i = 0; i < n; i++)
		expo_sample(e, (const char *const[]){ "device", hostile[i], "factory", NULL, "k", "v", NULL }, (double)i);
	expo_family(e, "fleetdeck_test_total", "counter", "A counter\r with\x1b control characters.");
	expo_sample(e, NULL, 7);
	assert_null(expo_error(e));
	size_t len;
	const char *text = expo_text(e, &len);
	assert_int_equal(strlen(text), len);
	char *err = NULL;
	prom_doc *d = prom_parse(text, len, NULL, &err);
	if (!d)
		fail_msg("does not parse: %s\n%s", err, text);
	assert_int_equal(d->nfamilies, 2);
	assert_string_equal(d->families[0].help, "Help with a \\ backslash\nand a newline.");
	assert_int_equal(d->families[0].type, PROM_GAUGE);
	assert_int_equal(d->families[1].type, PROM_COUNTER);
	assert_string_equal(d->families[1].help, "A counter  with  control characters.");
	assert_int_equal(d->nsamples, n + 1);
	for (size_t i = 0; i < n; i++) {
		const prom_sample *s = &d->samples[i];
		assert_string_equal(s->name, "fleetdeck_test_info");
		assert_int_equal(s->nlabels, 2); /* factory (NULL) left out */
		assert_string_equal(prom_label_get(s, "device"), hostile[i]);
		assert_null(prom_label_get(s, "factory"));
		assert_string_equal(prom_label_get(s, "k"), "v");
		assert_true(s->value == (double)i);
	}
	/* one line per sample: no value broke out of its line */
	size_t lines = 0;
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 2 + n + 2 + 1);
	prom_doc_free(d);
	expo_free(e);
}

static void test_misuse(void **state)
{
	(void)state;
	expo *e = expo_new();
	expo_sample(e, NULL, 1);
	assert_non_null(expo_error(e));
	assert_string_equal(expo_text(e, NULL), "");
	expo_free(e);

	e = expo_new();
	expo_family(e, "ok_name", "gauge", "x");
	expo_family(e, "ok_name", "gauge", "again");
	assert_non_null(strstr(expo_error(e), "twice"));
	expo_free(e);

	e = expo_new();
	expo_family(e, "bad-name", "gauge", "x");
	expo_sample(e, NULL, 1); /* no family open: refused, not written */
	assert_non_null(strstr(expo_error(e), "bad-name"));
	assert_null(strstr(expo_text(e, NULL), "bad-name 1"));
	expo_free(e);

	e = expo_new();
	expo_family(e, "x", "histogram", "x");
	assert_non_null(strstr(expo_error(e), "histogram"));
	expo_free(e);
	expo_free(NULL);
}

/* ---- the Alertmanager payload ---- */

static fleet_dev devs[2] = {
	{ .host = (char *)"edge-ams-01", .factory = (char *)"factory_amsterdam" },
	{ .host = (char *)"odd \"host\"\n", .factory = NULL },
};

static fleet_snapshot snap_with(fleet_alert *alerts, size_t n)
{
	fleet_snapshot s = { .devs = devs, .ndevs = 2, .alerts = alerts, .nalerts = n };
	return s;
}

static const json_t *find_alert(const json_t *arr, const char *alertname, const char *device)
{
	size_t i;
	const json_t *a;
	json_array_foreach(arr, i, a) {
		const json_t *l = json_object_get(a, "labels");
		if (!strcmp(json_string_value(json_object_get(l, "alertname")), alertname) &&
		    !strcmp(json_string_value(json_object_get(l, "device")), device))
			return a;
	}
	return NULL;
}

static void test_alert_payload(void **state)
{
	(void)state;
	alertmgr_opts o = { .url = "http://127.0.0.1:9093", .ttl_ms = 900000 };
	fleet_alert a1[] = {
		{ .dev = 0, .host = "edge-ams-01", .rule = FLEET_RULE_UNREACHABLE, .severity = FLEET_CRITICAL,
		  .message = (char *)"connection refused" },
		{ .dev = 1, .host = devs[1].host, .rule = FLEET_RULE_GPU_TEMP, .severity = FLEET_WARNING,
		  .message = (char *)"GPU temperature 85.0 °C" },
	};
	fleet_snapshot s = snap_with(a1, 2);
	json_t *st1 = NULL;
	size_t nf = 99;
	int64_t t0 = 1796119707792; /* 2026-12-01T10:08:27.792Z */
	json_t *p = alertmgr_payload(&s, NULL, &o, t0, &st1, &nf);
	assert_int_equal(json_array_size(p), 2);
	assert_int_equal(nf, 2);
	const json_t *u = find_alert(p, "DeviceUnreachable", "edge-ams-01");
	assert_non_null(u);
	const json_t *l = json_object_get(u, "labels");
	assert_string_equal(json_string_value(json_object_get(l, "factory")), "factory_amsterdam");
	assert_string_equal(json_string_value(json_object_get(l, "severity")), "critical");
	assert_string_equal(json_string_value(json_object_get(l, "rule")), "unreachable");
	assert_string_equal(json_string_value(json_object_get(u, "startsAt")), "2026-12-01T10:08:27.792Z");
	assert_string_equal(json_string_value(json_object_get(u, "endsAt")), "2026-12-01T10:23:27.792Z");
	const json_t *ann = json_object_get(u, "annotations");
	assert_string_equal(json_string_value(json_object_get(ann, "description")), "connection refused");
	assert_non_null(strstr(json_string_value(json_object_get(ann, "summary")), "edge-ams-01"));
	const json_t *h = find_alert(p, "GpuTemperatureHigh", devs[1].host);
	assert_non_null(h);
	assert_null(json_object_get(json_object_get(h, "labels"), "factory")); /* none: no empty label */
	assert_int_equal(json_array_size(json_object_get(st1, "alerts")), 2);
	assert_null(json_object_get(u, "generatorURL"));
	assert_null(json_object_get(json_array_get(json_object_get(st1, "alerts"), 0), "endsAt")); /* not kept */
	json_decref(p);
	o.generator_url = "http://fleetdeck.example/report";
	json_t *stg = NULL;
	p = alertmgr_payload(&s, NULL, &o, t0, &stg, &nf);
	assert_string_equal(json_string_value(json_object_get(json_array_get(p, 0), "generatorURL")),
			    "http://fleetdeck.example/report");
	json_decref(p);
	json_decref(stg);
	o.generator_url = NULL;

	/* a minute later: the hot one still fires (its startsAt kept), the unreachable one resolved */
	fleet_alert a2[] = { a1[1] };
	s = snap_with(a2, 1);
	json_t *st2 = NULL;
	p = alertmgr_payload(&s, st1, &o, t0 + 60000, &st2, &nf);
	assert_int_equal(json_array_size(p), 2);
	assert_int_equal(nf, 1);
	h = json_array_get(p, 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(h, "labels"), "alertname")),
			    "GpuTemperatureHigh");
	assert_string_equal(json_string_value(json_object_get(h, "startsAt")), "2026-12-01T10:08:27.792Z");
	u = json_array_get(p, 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(u, "labels"), "alertname")),
			    "DeviceUnreachable");
	assert_string_equal(json_string_value(json_object_get(u, "startsAt")), "2026-12-01T10:08:27.792Z");
	assert_string_equal(json_string_value(json_object_get(u, "endsAt")), "2026-12-01T10:09:27.792Z");
	assert_int_equal(json_array_size(json_object_get(st2, "alerts")), 1);
	json_decref(p);

	/* an alert of a device this report did not poll (another --limit): kept, not resolved */
	json_t *other = json_pack("{s:{s:s, s:s, s:s}, s:{}, s:s}", "labels", "alertname", "DeviceUnreachable", "device",
				  "edge-elsewhere", "severity", "critical", "annotations", "startsAt",
				  "2026-12-01T09:00:00.000Z");
	json_t *st2b = json_deep_copy(st2), *st2c = NULL;
	json_array_append_new(json_object_get(st2b, "alerts"), other);
	p = alertmgr_payload(&s, st2b, &o, t0 + 90000, &st2c, &nf);
	assert_int_equal(json_array_size(p), 1); /* the hot one, firing; nothing resolved */
	assert_int_equal(nf, 1);
	assert_int_equal(json_array_size(json_object_get(st2c, "alerts")), 2);
	assert_non_null(find_alert(json_object_get(st2c, "alerts"), "DeviceUnreachable", "edge-elsewhere"));
	json_decref(p);
	json_decref(st2b);
	json_decref(st2c);

	/* nothing fires: the last one resolved; then nothing at all to send */
	s = snap_with(NULL, 0);
	json_t *st3 = NULL, *st4 = NULL;
	p = alertmgr_payload(&s, st2, &o, t0 + 120000, &st3, &nf);
	assert_int_equal(json_array_size(p), 1);
	assert_int_equal(nf, 0);
	json_decref(p);
	p = alertmgr_payload(&s, st3, &o, t0 + 180000, &st4, &nf);
	assert_int_equal(json_array_size(p), 0);
	json_decref(p);
	json_decref(st1);
	json_decref(st2);
	json_decref(st3);
	json_decref(st4);
}

static void test_alert_url(void **state)
{
	(void)state;
	assert_true(alertmgr_url_ok("http://127.0.0.1:9093"));
	assert_true(alertmgr_url_ok("https://am.example/prefix/"));
	assert_false(alertmgr_url_ok("127.0.0.1:9093"));
	assert_false(alertmgr_url_ok("ftp://x"));
	assert_false(alertmgr_url_ok("http://"));
	assert_false(alertmgr_url_ok("http://a b"));
	assert_string_equal(alertmgr_alertname(FLEET_RULE_DRIFT), "ModelInputDrift");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),	  cmocka_unit_test(test_values),	cmocka_unit_test(test_names),
		cmocka_unit_test(test_round_trip), cmocka_unit_test(test_misuse),	cmocka_unit_test(test_alert_payload),
		cmocka_unit_test(test_alert_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
