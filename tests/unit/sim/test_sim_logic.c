/* test_sim_logic: fleetsim's pure parts: random streams, Prometheus numbers, fleet layout and demo recipe, inventories, device settings and physics, update settling, registry checksums. */
#include "sim/simdev.h"
#include "sim/simfleet.h"
#include "sim/simprom.h"
#include "sim/simreg.h"
#include "sim/simrng.h"
#include "util/pyjson.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static simfleet *fleet(size_t devices, size_t factories, uint64_t seed, int demo, uint32_t base)
{
	simfleet_opts o = { .devices = devices, .factories = factories, .seed = seed, .demo = demo, .base = base,
			    .load_delay_ms = 1000, .slow_ms = 3000, .epoch = 1.7e9 };
	char *err = NULL;
	simfleet *f = simfleet_generate(&o, &err);
	if (!f)
		fail_msg("generate: %s", err);
	return f;
}

static char *status_text(const simdev *d, double sim_s)
{
	json_t *j = simdev_status_json(d, sim_s);
	char *s = pyjson_dumps(j, -1);
	json_decref(j);
	return s;
}

static void test_prom_float_matches_python_client(void **state)
{
	(void)state;
	/* expected strings from prometheus_client.utils.floatToGoString (0.16) */
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{ 1.0, "1.0" },
		{ 8589934592.0, "8.589934592e+09" },
		{ 12345678901.0, "1.2345678901e+010" },
		{ 10000000.0, "1e+07" },
		{ 0.1, "0.1" },
		{ 123456.0, "123456.0" },
		{ 1234567.0, "1.234567e+06" },
		{ INFINITY, "+Inf" },
		{ 1e-05, "1e-05" },
		{ -12345678.0, "-12345678.0" },
		{ 1795000000.25, "1.79500000025e+09" },
		{ 0.0, "0.0" },
	};
	char buf[64];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		simprom_float(cases[i].v, buf, sizeof buf);
		assert_string_equal(buf, cases[i].want);
	}
}

static void test_prom_escapes_labels(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	const char *labels[] = { "a", "x\"y\\z\nw", "b", "plain", NULL };
	simprom_header(m, "n", "help with \\ and\nnewline", "gauge");
	simprom_sample(m, "n", labels, 2.0);
	fclose(m);
	assert_string_equal(buf, "# HELP n help with \\\\ and\\nnewline\n# TYPE n gauge\n"
				 "n{a=\"x\\\"y\\\\z\\nw\",b=\"plain\"} 2.0\n");
	free(buf);
}

static void test_rng_streams(void **state)
{
	(void)state;
	simrng a, b, c;
	simrng_seed(&a, 42, 7);
	simrng_seed(&b, 42, 7);
	simrng_seed(&c, 42, 8);
	int same_c = 0;
	double sum = 0, sq = 0;
	for (int i = 0; i < 20000; i++) {
		uint64_t x = simrng_next(&a);
		assert_int_equal(x, simrng_next(&b));
		same_c += x == simrng_next(&c);
		double n = simrng_normal(&a);
		simrng_normal(&b);
		sum += n;
		sq += n * n;
	}
	assert_int_equal(same_c, 0);
	double mean = sum / 20000, sd = sqrt(sq / 20000 - mean * mean);
	assert_true(fabs(mean) < 0.05);
	assert_true(fabs(sd - 1.0) < 0.05);
	for (int i = 0; i < 1000; i++)
		assert_true(simrng_below(&a, 7) < 7);
}

static void test_default_layout(void **state)
{
	(void)state;
	simfleet *f = fleet(50, 5, 1, 0, 0);
	assert_int_equal(f->ndevs, 50);
	assert_int_equal(f->nfactories, 5);
	char a[16];
	assert_string_equal(f->devs[0].host, "edge-ams-01");
	simfleet_format_addr(f->devs[0].addr, a);
	assert_string_equal(a, "127.0.1.1");
	assert_string_equal(f->devs[10].host, "edge-ber-01");
	simfleet_format_addr(f->devs[10].addr, a);
	assert_string_equal(a, "127.0.2.1");
	simfleet_format_addr(f->devs[49].addr, a);
	assert_string_equal(a, "127.0.5.10");
	assert_string_equal(f->factories[2].name, "paris");
	simfleet_free(f);

	/* more than 254 devices in a factory: the second octet counts on */
	f = fleet(600, 1, 1, 0, 0);
	simfleet_format_addr(f->devs[254].addr, a);
	assert_string_equal(a, "127.1.1.1");
	assert_string_equal(f->devs[599].host, "edge-ams-600");
	simfleet_free(f);
}

static void test_base_layout_skips_network_and_broadcast(void **state)
{
	(void)state;
	uint32_t base;
	assert_int_equal(simfleet_parse_addr("127.1.0.254", &base), 0);
	simfleet *f = fleet(3, 1, 1, 0, base);
	char a[16];
	simfleet_format_addr(f->devs[0].addr, a);
	assert_string_equal(a, "127.1.0.254");
	simfleet_format_addr(f->devs[1].addr, a);
	assert_string_equal(a, "127.1.1.1");
	simfleet_free(f);

	simfleet_opts o = { .devices = 3, .factories = 1, .seed = 1, .base = 127u << 24 | 255u << 16 | 255u << 8 | 254 };
	char *err = NULL;
	assert_null(simfleet_generate(&o, &err));
	assert_non_null(strstr(err, "127.0.0.0/8"));
	free(err);
	assert_int_equal(simfleet_parse_addr("127.0.0.256", &base), -1);
	assert_int_equal(simfleet_parse_addr("127.0.0", &base), -1);
}

static void test_demo_has_each_condition(void **state)
{
	(void)state;
	simfleet *f = fleet(0, 0, 1, 1, 0);
	assert_int_equal(f->nfactories, 15);
	assert_int_equal(f->ndevs, 200);
	int hot = 0, unhealthy = 0, degraded = 0, drifting = 0, old = 0, unreachable = 0, refused = 0, bad = 0;
	for (size_t i = 0; i < f->ndevs; i++) {
		simdev *d = &f->devs[i];
		hot += d->temp >= 80.0;
		unhealthy += d->status_override == SIMDEV_UNHEALTHY;
		degraded += d->status_override == SIMDEV_DEGRADED;
		drifting += d->drift > 0.5;
		old += !strcmp(d->version, "3.0");
		unreachable += d->fault == SIMFAULT_UNREACHABLE;
		refused += d->fault == SIMFAULT_REFUSED;
		bad += simdev_version_bad(d, "3.2");
	}
	assert_true(hot >= 5 && hot <= 8);
	assert_int_equal(unhealthy, 3);
	assert_int_equal(degraded, 4);
	assert_int_equal(drifting, 6);
	assert_int_equal(old, 10);
	assert_int_equal(unreachable, 2);
	assert_int_equal(refused, 1);
	assert_int_equal(bad, 3);
	/* factories differ in size, every one has devices */
	size_t min = 1000, max = 0;
	for (size_t fi = 0; fi < 15; fi++) {
		size_t n = 0;
		for (size_t i = 0; i < f->ndevs; i++)
			n += f->devs[i].factory == (int)fi;
		min = n < min ? n : min;
		max = n > max ? n : max;
	}
	assert_true(min >= 1 && max > min);
	simfleet_free(f);
}

static void test_same_seed_same_behaviour(void **state)
{
	(void)state;
	simfleet *a = fleet(20, 4, 99, 0, 0), *b = fleet(20, 4, 99, 0, 0), *c = fleet(20, 4, 100, 0, 0);
	int differ = 0;
	for (size_t i = 0; i < 20; i++) {
		simdev_advance(&a->devs[i], 50);
		simdev_advance(&b->devs[i], 20); /* in two steps: the path must not matter */
		simdev_advance(&b->devs[i], 50);
		simdev_advance(&c->devs[i], 50);
		char *sa = status_text(&a->devs[i], 50), *sb = status_text(&b->devs[i], 50),
		     *sc = status_text(&c->devs[i], 50);
		assert_string_equal(sa, sb);
		differ += strcmp(sa, sc) != 0;
		free(sa);
		free(sb);
		free(sc);
		json_t *da = simdev_drift_json(&a->devs[i], a->seed, 50), *db = simdev_drift_json(&b->devs[i], b->seed, 50);
		assert_true(json_equal(da, db));
		json_decref(da);
		json_decref(db);
	}
	assert_true(differ > 15);
	simfleet_free(a);
	simfleet_free(b);
	simfleet_free(c);
}

static void test_physics_stays_plausible(void **state)
{
	(void)state;
	simfleet *f = fleet(30, 3, 5, 0, 0);
	for (size_t i = 0; i < f->ndevs; i++) {
		simdev *d = &f->devs[i];
		uint64_t before = d->req_ok + d->req_err;
		simdev_advance(d, 3600);
		assert_true(d->temp > 30 && d->temp < 80);
		assert_true(d->util >= 2 && d->util <= 99.5);
		assert_true(d->req_ok + d->req_err > before + 3600); /* at least one inference a second */
		/* histogram buckets add up to the requests counted since start */
		uint64_t hist = 0;
		for (int b = 0; b <= SIMDEV_NBUCKETS; b++)
			hist += d->buckets[b];
		assert_true(hist > 0);
	}
	/* a temperature trend heats a device up steadily */
	simdev *d = &f->devs[0];
	char *err = NULL;
	json_t *set = json_pack("{s:f, s:f}", "gpu_temp", 60.0, "temp_trend", 2.0);
	assert_int_equal(simdev_set(d, set, &err), 0);
	json_decref(set);
	simdev_advance(d, 3600 + 600);
	assert_true(d->temp > 75 && d->temp < 85); /* 60 + 2 °C/min * 10 min, minus the lag */
	assert_int_equal(simdev_health_now(d), SIMDEV_HEALTHY);
	simdev_advance(d, 3600 + 1200);
	assert_int_not_equal(simdev_health_now(d), SIMDEV_HEALTHY); /* ~100 °C: throttling */
	simfleet_free(f);
}

static void test_set_is_all_or_nothing(void **state)
{
	(void)state;
	simfleet *f = fleet(2, 1, 1, 0, 0);
	simdev *d = &f->devs[0];
	double t = d->temp;
	char *err = NULL;
	json_t *bad = json_pack("{s:f, s:i}", "gpu_temp", 95.0, "bogus", 1);
	assert_int_equal(simdev_set(d, bad, &err), -1);
	assert_non_null(strstr(err, "bogus"));
	free(err);
	json_decref(bad);
	assert_true(d->temp == t);

	json_t *ok = json_pack("{s:f, s:s, s:s, s:b, s:f, s:s}", "gpu_temp", 95.0, "status", "degraded", "fault", "hang",
			       "reachable", 0, "drift", 1.5, "bad_version", "3.2");
	assert_int_equal(simdev_set(d, ok, &err), 0);
	json_decref(ok);
	assert_true(d->temp == 95.0);
	assert_int_equal(simdev_health_now(d), SIMDEV_DEGRADED);
	assert_true(simdev_version_bad(d, "3.2"));
	/* keys apply in object order: reachable=false after fault=hang wins */
	assert_int_equal(d->fault, SIMFAULT_UNREACHABLE);

	json_t *range = json_pack("{s:f}", "drift", -1.0);
	assert_int_equal(simdev_set(d, range, &err), -1);
	free(err);
	json_decref(range);
	json_t *kind = json_pack("{s:s}", "fault", "meteor");
	assert_int_equal(simdev_set(d, kind, &err), -1);
	free(err);
	json_decref(kind);
	json_t *ver = json_pack("{s:s}", "model_version", "3.2; rm -rf /");
	assert_int_equal(simdev_set(d, ver, &err), -1);
	free(err);
	json_decref(ver);
	simfleet_free(f);
}

/* A device over an hour: requests, the share failed and the mean latency. */
static void hour_of(simdev *d, double *req, double *err, double *mean_s)
{
	uint64_t r0 = d->req_ok + d->req_err, e0 = d->req_err;
	double s0 = d->lat_sum;
	simdev_advance(d, d->tick + 3600);
	*req = (double)(d->req_ok + d->req_err - r0);
	*err = (double)(d->req_err - e0);
	*mean_s = (d->lat_sum - s0) / *req;
}

static void test_version_profiles(void **state)
{
	(void)state;
	simfleet *f = fleet(2, 1, 1, 0, 0);
	simdev *a = &f->devs[0];
	char *err = NULL;
	/* the profile of a version the device does not run changes nothing */
	json_t *p = json_pack("{s:{s:{s:f, s:f, s:f}}}", "version_profiles", "3.2", "latency_factor", 2.0, "error_rate",
			      0.1, "rate_factor", 0.5);
	assert_int_equal(simdev_set(a, p, &err), 0);
	json_decref(p);
	double r1, e1, m1, r2, e2, m2;
	hour_of(a, &r1, &e1, &m1);
	assert_true(e1 / r1 < 0.01);
	/* running it: half the requests, a tenth failing, twice the latency */
	json_t *v = json_pack("{s:s}", "model_version", "3.2");
	assert_int_equal(simdev_set(a, v, &err), 0);
	json_decref(v);
	hour_of(a, &r2, &e2, &m2);
	assert_true(r2 > 0.4 * r1 && r2 < 0.6 * r1);
	assert_true(e2 / r2 > 0.08 && e2 / r2 < 0.12);
	assert_true(m2 > 1.8 * m1 && m2 < 2.2 * m1);
	json_t *d = simdev_describe(a, "x", 0);
	assert_true(json_real_value(json_object_get(json_object_get(json_object_get(d, "version_profiles"), "3.2"),
						     "latency_factor")) == 2.0);
	assert_int_equal(json_integer_value(json_object_get(d, "updates_accepted")), 0);
	json_decref(d);
	/* out of range, unknown keys, bad versions: refused, nothing changes */
	const char *bad[] = { "{\"version_profiles\": {\"3.2\": {\"latency_factor\": 0}}}",
			      "{\"version_profiles\": {\"3.2\": {\"error_rate\": 1.5}}}",
			      "{\"version_profiles\": {\"3.2\": {\"speed\": 1}}}",
			      "{\"version_profiles\": {\"3 2\": {}}}", "{\"version_profiles\": [1]}" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_t *j = json_loads(bad[i], 0, NULL);
		assert_non_null(j);
		assert_int_equal(simdev_set(a, j, &err), -1);
		free(err);
		err = NULL;
		json_decref(j);
	}
	assert_int_equal(a->nvprof, 1);
	/* null clears */
	json_t *clear = json_pack("{s:n}", "version_profiles");
	assert_int_equal(simdev_set(a, clear, &err), 0);
	json_decref(clear);
	assert_int_equal(a->nvprof, 0);
	simfleet_free(f);
}

static void test_validate_and_settle(void **state)
{
	(void)state;
	simfleet *f = fleet(2, 1, 1, 0, 0);
	simdev *d = &f->devs[0];
	json_t *v = simdev_validate_json(d, "no_defect", 0.85);
	assert_true(json_is_true(json_object_get(v, "passed")));
	assert_string_equal(json_string_value(json_object_get(v, "class")), "no_defect");
	json_decref(v);
	v = simdev_validate_json(d, "no_defect", 0.99); /* confidence tops out at 0.97 */
	assert_true(json_is_false(json_object_get(v, "passed")));
	json_decref(v);

	/* a load in progress: model not loaded until its time */
	d->upd = SIMUPD_LOADING;
	snprintf(d->upd_version, sizeof d->upd_version, "3.2");
	d->upd_ready_at = 100.0;
	simdev_settle(d, 99.0);
	assert_false(simdev_model_loaded(d));
	assert_string_equal(d->version, "3.1");
	simdev_settle(d, 100.0);
	assert_true(simdev_model_loaded(d));
	assert_string_equal(d->version, "3.2");
	assert_true(simdev_has_version(d, "3.2") && simdev_has_version(d, "3.0"));

	d->nbad = 0;
	snprintf(d->bad[d->nbad++], SIMDEV_VLEN, "3.2");
	v = simdev_validate_json(d, "no_defect", 0.85);
	assert_true(json_is_false(json_object_get(v, "passed")));
	json_decref(v);
	simfleet_free(f);
}

static void test_metrics_agree_with_status(void **state)
{
	(void)state;
	simfleet *f = fleet(3, 1, 3, 0, 0);
	simdev *d = &f->devs[1];
	simdev_advance(d, 120);
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	simdev_metrics(d, m);
	fclose(m);
	json_t *st = simdev_status_json(d, 120);
	char want[128], num[64];
	simprom_float(json_real_value(json_object_get(st, "gpu_temp")), num, sizeof num);
	snprintf(want, sizeof want, "\ngpu_temperature_celsius %s\n", num);
	assert_non_null(strstr(buf, want));
	simprom_float(json_real_value(json_object_get(st, "power_w")), num, sizeof num);
	snprintf(want, sizeof want, "\ngpu_power_watts %s\n", num);
	assert_non_null(strstr(buf, want));
	assert_non_null(strstr(buf, "\nmodel_loaded{model_name=\"defect-detection\",version=\"3.1\"} 1.0\n"));
	assert_non_null(strstr(buf, "\ndevice_health_status 1.0\n"));
	assert_non_null(strstr(buf, "inference_latency_seconds_bucket{le=\"+Inf\"}"));
	json_decref(st);
	/* every family the contract names is there */
	static const char *const names[] = { "inference_latency_seconds", "inference_requests_total",
					     "inference_active_requests", "inference_queue_depth",
					     "gpu_utilization_percent", "gpu_memory_used_bytes",
					     "gpu_memory_total_bytes", "gpu_temperature_celsius", "gpu_power_watts",
					     "cpu_utilization_percent", "memory_used_bytes", "memory_total_bytes",
					     "disk_used_bytes", "model_loaded", "model_load_time_seconds",
					     "device_health_status", "edge_device_info" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(want, sizeof want, "# TYPE %s ", names[i]);
		assert_non_null(strstr(buf, want));
	}
	free(buf);
	simfleet_free(f);
}

static void test_inject_is_seeded(void **state)
{
	(void)state;
	simfleet *a = fleet(50, 5, 1, 0, 0), *b = fleet(50, 5, 1, 0, 0);
	json_t *ha = simfleet_inject(a, SIMFAULT_HANG, 0.1, 7), *hb = simfleet_inject(b, SIMFAULT_HANG, 0.1, 7);
	assert_int_equal(json_array_size(ha), 5);
	assert_true(json_equal(ha, hb));
	/* a second kind does not take devices that already have a fault */
	json_t *hs = simfleet_inject(a, SIMFAULT_SLOW, 1.0, 7);
	assert_int_equal(json_array_size(hs), 45);
	json_t *hn = simfleet_inject(a, SIMFAULT_NONE, 1.0, 7);
	assert_int_equal(json_array_size(hn), 50);
	for (size_t i = 0; i < 50; i++)
		assert_int_equal(a->devs[i].fault, SIMFAULT_NONE);
	json_decref(ha);
	json_decref(hb);
	json_decref(hs);
	json_decref(hn);
	simfleet_free(a);
	simfleet_free(b);
}

static void test_inventories(void **state)
{
	(void)state;
	simfleet *f = fleet(4, 2, 1, 0, 0);
	simfleet_invopts plain = { NULL, 8080, 8000 }, full = { "http://127.0.0.1:5000", 9080, 9000 };
	char *ini = simfleet_ini(f, &plain);
	assert_non_null(strstr(ini, "\n[factory_amsterdam]\nedge-ams-01 ansible_host=127.0.1.1 gpu_type="));
	assert_non_null(strstr(ini, "\n[factory_berlin]\nedge-ber-01 ansible_host=127.0.2.1 "));
	assert_null(strstr(ini, "[all:vars]"));
	free(ini);
	ini = simfleet_ini(f, &full);
	assert_non_null(strstr(ini, "\n[all:vars]\nmodel_registry=http://127.0.0.1:5000\nfleetdeck_agent_port=9080\n"
				    "fleetdeck_metrics_port=9000\n"));
	free(ini);
	char *yml = simfleet_yaml(f, &full);
	assert_non_null(strstr(yml, "all:\n  vars:\n    model_registry: \"http://127.0.0.1:5000\"\n"));
	assert_non_null(strstr(yml, "  children:\n    factory_amsterdam:\n      hosts:\n        edge-ams-01:\n"
				    "          ansible_host: 127.0.1.1\n"));
	free(yml);
	simfleet_free(f);
}

static void test_registry_checksums_are_real(void **state)
{
	(void)state;
	char hex[65];
	simreg_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	simreg *r = simreg_new("http://127.0.0.1:5000", 4096);
	const simreg_file *m = simreg_find(r, "/models/defect-detection-v3.2-int8.onnx");
	assert_non_null(m);
	assert_int_equal(m->len, 4096);
	simreg_sha256_hex(m->data, m->len, hex);
	assert_string_equal(hex, simreg_checksum(r, "3.2"));
	assert_string_not_equal(simreg_checksum(r, "3.1"), simreg_checksum(r, "3.2"));
	const simreg_file *idx = simreg_find(r, "/models/index.json");
	json_t *j = json_loadb((const char *)idx->data, idx->len, 0, NULL);
	json_t *e = json_object_get(j, "defect-detection:3.2");
	assert_string_equal(json_string_value(json_object_get(e, "checksum")), hex);
	assert_string_equal(json_string_value(json_object_get(e, "baseline")),
			    "http://127.0.0.1:5000/models/defect-detection-v3.2-baseline.json");
	assert_non_null(simreg_find(r, "/models/defect-detection-v3.2-baseline.json"));
	assert_null(simreg_find(r, "/models/defect-detection-v9.9-int8.onnx"));
	json_decref(j);
	/* the same version has the same bytes in every run */
	simreg *r2 = simreg_new("http://127.0.0.2:5000", 4096);
	assert_string_equal(simreg_checksum(r, "3.2"), simreg_checksum(r2, "3.2"));
	simreg_free(r2);
	simreg_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prom_float_matches_python_client),
		cmocka_unit_test(test_prom_escapes_labels),
		cmocka_unit_test(test_rng_streams),
		cmocka_unit_test(test_default_layout),
		cmocka_unit_test(test_base_layout_skips_network_and_broadcast),
		cmocka_unit_test(test_demo_has_each_condition),
		cmocka_unit_test(test_same_seed_same_behaviour),
		cmocka_unit_test(test_physics_stays_plausible),
		cmocka_unit_test(test_set_is_all_or_nothing),
		cmocka_unit_test(test_version_profiles),
		cmocka_unit_test(test_validate_and_settle),
		cmocka_unit_test(test_metrics_agree_with_status),
		cmocka_unit_test(test_inject_is_seeded),
		cmocka_unit_test(test_inventories),
		cmocka_unit_test(test_registry_checksums_are_real),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
