/* Registry: semantic version parsing and ordering (SemVer 2.0's precedence
 * examples, the v prefix, missing parts, build metadata), index.json parsing
 * and its refusals with their lines, and the queries (latest, find, tags,
 * file names and baseline URLs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "registry/registry.h"
#include "registry/semver.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int sign(int x) { return (x > 0) - (x < 0); }

static void order(const char *a, const char *b, int want)
{
	semver va, vb;
	const char *why = NULL;
	if (!semver_parse(a, &va, &why) || !semver_parse(b, &vb, &why)) {
		fprintf(stderr, "%s or %s does not parse: %s\n", a, b, why);
		fail();
	}
	int got = sign(semver_cmp(&va, &vb)), back = sign(semver_cmp(&vb, &va));
	if (got != want || back != -want) {
		fprintf(stderr, "%s vs %s: want %d, got %d (reversed %d)\n", a, b, want, got, back);
		fail();
	}
}

static void test_semver_order(void **state)
{
	(void)state;
	/* SemVer 2.0 section 11's chain, each before the next */
	static const char *const chain[] = { "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
					     "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1",
					     "1.1.0", "2.0.0", "2.1.0", "2.1.1", "10.0.0" };
	size_t n = sizeof chain / sizeof *chain;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			order(chain[i], chain[j], i < j ? -1 : i > j ? 1 : 0);
	/* missing parts are zeros; a v prefix is nothing */
	order("3.2", "3.2.0", 0);
	order("3", "3.0.0", 0);
	order("v1.1.0", "1.1.0", 0);
	order("V1.1", "1.1.0", 0);
	order("3.2", "3.10", -1);
	order("3.9", "3.10", -1);
	order("v3.2", "3.1.9", 1);
	order("0.9.9", "1", -1);
	/* build metadata is ignored */
	order("1.0.0+build.1", "1.0.0+build.2", 0);
	order("1.0.0+zzz", "1.0.0", 0);
	order("1.0.0-rc.1+b5", "1.0.0-rc.1", 0);
	order("1.0.0-rc.1+b5", "1.0.0", -1);
	/* numeric identifiers numerically, of any length; before alphanumerics */
	order("1.0.0-2", "1.0.0-10", -1);
	order("1.0.0-99999999999999999999999", "1.0.0-100000000000000000000000", -1);
	order("1.0.0-1", "1.0.0-a", -1);
	order("1.0.0-a", "1.0.0-a.1", -1);
	order("1.0.0-rc.1", "1.0.0-rc.1.0", -1);
	order("1.0.0-Z", "1.0.0-a", -1); /* ASCII order */
	order("1.0.0-alpha-2", "1.0.0-alpha-10", 1); /* one identifier with hyphens: a word */
	order("1.2.3-rc", "1.2.3", -1);
	order("1.2.3-rc", "1.2.2", 1);
	order("9223372036854775807.0.0", "9223372036854775806.9.9", 1);
}

static void test_semver_parse(void **state)
{
	(void)state;
	semver v;
	assert_true(semver_parse("v1.2.3-rc.1+exp.sha.5114f85", &v, NULL));
	assert_int_equal(v.major, 1);
	assert_int_equal(v.minor, 2);
	assert_int_equal(v.patch, 3);
	assert_int_equal(v.pre_len, 4);
	assert_memory_equal(v.pre, "rc.1", 4);
	assert_int_equal(v.build_len, 15);
	assert_true(semver_is_prerelease(&v));
	assert_true(semver_parse("3.2", &v, NULL));
	assert_false(semver_is_prerelease(&v));
	assert_int_equal(v.patch, 0);
	static const char *const bad[] = { "", "v", "vv1", "1.", "1..2", ".1", "1.2.3.4", "1.2.x", "a.b",
					   "1.0.0-", "1.0.0-a..b", "1.0.0-a.", "1.0.0+", "1.0.0+a..b", "1.0.0_1",
					   "1.0 ", " 1.0", "-1.0", "1.0.0-rc/1", "9223372036854775808",
					   "99999999999999999999.0", "1.0.0-ü" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		const char *why = NULL;
		if (semver_parse(bad[i], &v, &why) || !why) {
			fprintf(stderr, "'%s' was accepted\n", bad[i]);
			fail();
		}
	}
	/* strings: the unparsable before the parsable */
	assert_true(semver_cmp_str("garbage", "0.0.1") < 0);
	assert_true(semver_cmp_str("3.10", "3.9") > 0);
	assert_int_equal(semver_cmp_str("b", "b"), 0);
}

#define SUM "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static fd_registry *parse(const char *text, char **err)
{
	*err = NULL;
	return registry_parse("/reg", "index.json", text, strlen(text), NULL, err);
}

/* The index is refused with a message that holds want (e.g. "index.json:3: ..."). */
static void refused(const char *text, const char *want)
{
	char *err = NULL;
	fd_registry *r = parse(text, &err);
	if (r || !err || !strstr(err, want)) {
		fprintf(stderr, "index:\n%s\nwant an error with: %s\ngot: %s\n", text, want, err ? err : "(accepted)");
		fail();
	}
	free(err);
}

static void test_index_refusals(void **state)
{
	(void)state;
	refused("", "index.json:1: ");
	refused("[]", "index.json:1: expected an object keyed \"name:version\"");
	refused("{\n  \"a:1\": {\n    \"name\": \"a\",\n  }\n}", "index.json:4: ");  /* jansson's syntax error and line */
	refused("{\n\"a:1\": {\"name\": \"a\", \"version\": \"1\", \"checksum\": \"" SUM "\"},\n"
		"\"a:1\": {\"name\": \"a\", \"version\": \"1\", \"checksum\": \"" SUM "\"}\n}",
		"index.json:3: duplicate object key");
	refused("{\n\"a:1\": 5\n}", "index.json:2: a:1: expected an object of metadata");
	refused("{\n\"a:1\": {\n\"version\": \"1\",\n\"checksum\": \"" SUM "\"}}", "index.json:2: a:1: no name");
	refused("{\n\"a:1\": {\n\"name\": \"a\",\n\"checksum\": \"" SUM "\"}}", "index.json:2: a:1: no version");
	refused("{\n\"a:1\": {\n\"name\": \"a\",\n\"version\": \"1\"}}", "index.json:2: a:1: no checksum");
	refused("{\n\"a:1\": {\n\"name\": \"a\",\n\"version\": \"1\",\n\"checksum\": \"abc\"}}",
		"index.json:5: a:1: checksum: expected a SHA-256 in 64 hex digits");
	refused("{\n\"a:1\": {\n\"name\": \"a\",\n\"version\": \"1\",\n\"checksum\": 7}}",
		"index.json:5: a:1: checksum: expected a string");
	refused("{\"a:x\": {\"name\": \"a\",\n\"version\": \"x\", \"checksum\": \"" SUM "\"}}",
		"index.json:2: a:x: version 'x' is not a semantic version");
	refused("{\"../a:1\": {\n\"name\": \"../a\", \"version\": \"1\", \"checksum\": \"" SUM "\"}}",
		"index.json:2: ../a:1: name '../a'");
	refused("{\"a:1\": {\"name\": \"a\", \"version\": \"1\", \"checksum\": \"" SUM "\",\n\"precision\": \"int8/../x\"}}",
		"index.json:2: a:1: precision 'int8/../x'");
	refused("{\n\n\"a:2\": {\"name\": \"a\", \"version\": \"1\", \"checksum\": \"" SUM "\"}}",
		"index.json:3: the key 'a:2' is not name:version (a:1)");
	refused("{\"a:1\": {\"name\": \"a\", \"version\": \"1\", \"checksum\": \"" SUM "\",\n\n\"mAP\": \"37.3\"}}",
		"index.json:3: a:1: mAP: expected a number");
	refused("{\"a:1\": {\"name\": \"a\", \"version\": \"1\", \"checksum\": \"" SUM "\",\n\"latency_ms\": true}}",
		"index.json:2: a:1: latency_ms: expected a number");
	refused("{\"a:1\": {\"name\": \"a\", \"version\": \"1\", \"checksum\": \"" SUM "\",\n\"tags\": [\"x\", 1]}}",
		"index.json:2: a:1: tags: expected a list of strings");
	refused("{\"a:1\": {\"name\": \"a\", \"version\": \"1\", \"checksum\": \"" SUM "\",\n\"input_shape\": [1, -3]}}",
		"index.json:2: a:1: input_shape: expected a list of non-negative integers");
	refused("{\"a:1\": {\"name\": \"a\", \"version\": \"1\", \"checksum\": \"" SUM "\",\n\"description\": 5}}",
		"index.json:2: a:1: description: expected a string");
	refused("{\"a:3.2\": {\"name\": \"a\", \"version\": \"3.2\", \"checksum\": \"" SUM "\"},\n"
		"\"a:3.2.0\": {\"name\": \"a\", \"version\": \"3.2.0\", \"checksum\": \"" SUM "\"}}",
		"index.json:2: a:3.2.0 is the same version as a:3.2 (line 1)");
	/* a key with escapes is found for its line too */
	refused("{\"x:1\": {\"name\": \"x\", \"version\": \"1\", \"checksum\": \"" SUM "\"},\n"
		"\"\\u0061:1\": {\"name\": \"a\", \"version\": \"1\",\n\"checksum\": \"zz\"}}",
		"index.json:3: a:1: checksum");
	/* what the index says cannot put control characters on a terminal */
	refused("{\"a\\u001b[2J:1\": {\"name\": \"a\\u001b[2J\", \"version\": \"1\", \"checksum\": \"" SUM "\"}}",
		"index.json:1: a?[2J:1: name 'a?[2J'");
	static const char *const escapes[] = { "{\"a\x1b[2J\": 1}", "{\"a:1\": {\"name\": \"a\x1b[2J\"}}", "{\n\x1b[2J}" };
	for (size_t i = 0; i < sizeof escapes / sizeof *escapes; i++) {
		char *err = NULL;
		assert_null(parse(escapes[i], &err));
		assert_non_null(err);
		assert_null(strchr(err, '\x1b'));
		free(err);
	}
	/* every problem, one a line */
	char *err = NULL;
	fd_registry *r = parse("{\"a:1\": 1,\n\"b:1\": 2,\n\"c:1\": {\"name\": \"c\", \"version\": \"1\", \"checksum\": \"" SUM "\"}}",
			    &err);
	assert_null(r);
	assert_string_equal(err, "index.json:1: a:1: expected an object of metadata\n"
				 "index.json:2: b:1: expected an object of metadata");
	free(err);
}

static const char *const index_text =
	"{\n"
	"  \"yolov8n:v1.0.0\": {\"name\": \"yolov8n\", \"version\": \"v1.0.0\", \"architecture\": \"YOLOv8\",\n"
	"    \"framework\": \"TensorRT\", \"precision\": \"INT8\", \"input_shape\": [1, 3, 640, 640], \"mAP\": 37.3,\n"
	"    \"latency_ms\": 18.5, \"model_size_mb\": 6.2, \"training_date\": \"2025-01-10\",\n"
	"    \"checksum\": \"" SUM "\", \"tags\": [\"production\", \"jetson-orin\"],\n"
	"    \"description\": \"Initial production model\", \"owner\": \"vision-team\"},\n"
	"  \"yolov8n:v1.1.0\": {\"name\": \"yolov8n\", \"version\": \"v1.1.0\", \"checksum\": \"" SUM "\",\n"
	"    \"tags\": [\"production\", \"improved-accuracy\"], \"baseline\": \"yolov8n-v1.1.0-baseline.json\"},\n"
	"  \"yolov8n:2.0.0-rc.1\": {\"name\": \"yolov8n\", \"version\": \"2.0.0-rc.1\", \"checksum\": \"" SUM "\",\n"
	"    \"baseline\": \"/base/rc1.json\"},\n"
	"  \"yolov8n:1.10\": {\"name\": \"yolov8n\", \"version\": \"1.10\", \"checksum\": \"" SUM "\",\n"
	"    \"precision\": \"FP16\", \"baseline\": \"http://other.example/b.json\"},\n"
	"  \"defect:0.1.0-beta\": {\"name\": \"defect\", \"version\": \"0.1.0-beta\", \"checksum\": \"" SUM "\"},\n"
	"  \"defect:0.1.0-alpha\": {\"name\": \"defect\", \"version\": \"0.1.0-alpha\", \"checksum\": \"" SUM "\",\n"
	"    \"tags\": [\"production\"]}\n"
	"}\n";

static void test_index_queries(void **state)
{
	(void)state;
	char *err = NULL;
	fd_registry *r = registry_parse("http://reg.example:5000/", "idx", index_text, strlen(index_text), NULL, &err);
	if (!r)
		fprintf(stderr, "%s\n", err);
	assert_non_null(r);
	assert_string_equal(registry_location(r), "http://reg.example:5000");
	assert_true(registry_is_remote(r));
	assert_int_equal(registry_count(r), 6);
	assert_int_equal(registry_model_count(r), 2);
	assert_string_equal(registry_model_name(r, 0), "defect");
	assert_string_equal(registry_model_name(r, 1), "yolov8n");
	size_t n;
	const reg_entry *v = registry_versions(r, "yolov8n", &n);
	assert_int_equal(n, 4);
	assert_string_equal(v[0].version, "v1.0.0");
	assert_string_equal(v[1].version, "v1.1.0");
	assert_string_equal(v[2].version, "1.10");
	assert_string_equal(v[3].version, "2.0.0-rc.1");
	assert_null(registry_versions(r, "nope", &n));
	assert_int_equal(n, 0);
	/* latest: the highest release; only pre-releases: the highest of those */
	assert_string_equal(registry_latest(r, "yolov8n")->version, "1.10");
	assert_string_equal(registry_latest(r, "defect")->version, "0.1.0-beta");
	assert_null(registry_latest(r, "nope"));
	/* find: same string, else same precedence */
	assert_string_equal(registry_find(r, "yolov8n", "v1.0.0")->key, "yolov8n:v1.0.0");
	assert_string_equal(registry_find(r, "yolov8n", "1.0")->key, "yolov8n:v1.0.0");
	assert_string_equal(registry_find(r, "yolov8n", "1.10.0+b7")->key, "yolov8n:1.10");
	assert_null(registry_find(r, "yolov8n", "1.2"));
	assert_null(registry_find(r, "yolov8n", "latest"));
	assert_string_equal(registry_find(r, "yolov8n", NULL)->version, "1.10");
	assert_string_equal(registry_find_spec(r, "yolov8n:v2.0.0-rc.1")->version, "2.0.0-rc.1");
	assert_string_equal(registry_find_spec(r, "defect")->version, "0.1.0-beta");
	assert_null(registry_find_spec(r, "defect:9"));
	/* metadata */
	const reg_entry *e = registry_find(r, "yolov8n", "v1.0.0");
	assert_string_equal(e->architecture, "YOLOv8");
	assert_string_equal(e->precision, "INT8");
	assert_int_equal(e->ninput_shape, 4);
	assert_int_equal(e->input_shape[3], 640);
	assert_true(fabs(e->map - 37.3) < 1e-12);
	assert_true(fabs(e->model_size_mb - 6.2) < 1e-12);
	assert_int_equal(e->line, 2);
	assert_string_equal(json_string_value(json_object_get(e->json, "owner")), "vision-team");
	assert_true(isnan(registry_find(r, "yolov8n", "1.10")->map));
	assert_null(registry_find(r, "yolov8n", "1.10")->architecture);
	/* tags */
	const reg_entry **t = registry_with_tag(r, "production", &n);
	assert_int_equal(n, 3);
	assert_string_equal(t[0]->key, "defect:0.1.0-alpha");
	assert_string_equal(t[1]->key, "yolov8n:v1.0.0");
	assert_string_equal(t[2]->key, "yolov8n:v1.1.0");
	free(t);
	assert_null(registry_with_tag(r, "none", &n));
	assert_int_equal(n, 0);
	/* files and baselines */
	char *s = registry_model_url(r, e);
	assert_string_equal(s, "http://reg.example:5000/models/yolov8n-v1.0.0-int8.onnx");
	free(s);
	s = registry_model_url(r, registry_find(r, "yolov8n", "1.10"));
	assert_string_equal(s, "http://reg.example:5000/models/yolov8n-v1.10-fp16.onnx");
	free(s);
	s = reg_entry_file_name(registry_find(r, "defect", "0.1.0-beta"));
	assert_string_equal(s, "defect-v0.1.0-beta-int8.onnx");
	free(s);
	assert_null(registry_baseline_url(r, e));
	s = registry_baseline_url(r, registry_find(r, "yolov8n", "v1.1.0"));
	assert_string_equal(s, "http://reg.example:5000/models/yolov8n-v1.1.0-baseline.json");
	free(s);
	s = registry_baseline_url(r, registry_find(r, "yolov8n", "2.0.0-rc.1"));
	assert_string_equal(s, "http://reg.example:5000/base/rc1.json");
	free(s);
	s = registry_baseline_url(r, registry_find(r, "yolov8n", "1.10"));
	assert_string_equal(s, "http://other.example/b.json");
	free(s);
	registry_free(r);

	/* a directory registry: paths */
	r = registry_parse("/srv/reg", "idx", index_text, strlen(index_text), NULL, &err);
	assert_non_null(r);
	assert_false(registry_is_remote(r));
	s = registry_model_url(r, registry_find(r, "yolov8n", "1.0.0"));
	assert_string_equal(s, "/srv/reg/models/yolov8n-v1.0.0-int8.onnx");
	free(s);
	s = registry_baseline_url(r, registry_find(r, "yolov8n", "2.0.0-rc.1"));
	assert_string_equal(s, "/base/rc1.json");
	free(s);
	registry_free(r);
	registry_free(NULL);

	/* an empty index is an empty fd_registry */
	r = registry_parse("/srv/reg", "idx", "{}", 2, NULL, &err);
	assert_non_null(r);
	assert_int_equal(registry_count(r), 0);
	assert_null(registry_latest(r, "x"));
	registry_free(r);
}

static void test_location(void **state)
{
	(void)state;
	char *u = registry_url_from_var("registry.internal:5000/");
	assert_string_equal(u, "http://registry.internal:5000");
	free(u);
	u = registry_url_from_var("https://r.example/reg//");
	assert_string_equal(u, "https://r.example/reg");
	free(u);
	assert_true(registry_is_url("http://x"));
	assert_true(registry_is_url("https://x"));
	assert_false(registry_is_url("/srv/reg"));
	assert_false(registry_is_url("registry.internal:5000"));
	char *err = NULL;
	assert_null(registry_open("registry.internal:5000", NULL, false, &err));
	assert_non_null(strstr(err, "a registry URL starts with http://"));
	free(err);
}


static char *write_file(const char *dir, const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

static void rm_rf(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* A directory registry: add, refuse a duplicate, verify (ok, mismatch, missing), fetch a baseline. */
static void test_directory(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/fleetdeck-registry-XXXXXX";
	char *dir = mkdtemp(tmpl);
	assert_non_null(dir);
	char *src = write_file(dir, "model.bin", "the model bytes"), *reg = xasprintf("%s/reg", dir);
	char *err = NULL;
	const char *tags[] = { "production" };
	reg_add_meta m = { .name = "det", .version = "1.2", .precision = "FP16", .map = 40.5, .latency_ms = NAN,
			   .tags = tags, .ntags = 1, .baseline = "det-1.2-baseline.json" };
	json_t *entry = NULL;
	assert_int_equal(registry_add(reg, src, &m, false, &entry, &err), 0);
	/* sha256 of "the model bytes" */
	char want[65];
	uint64_t bytes = 0;
	assert_int_equal(registry_hash_path(src, want, &bytes, &err), 0);
	assert_int_equal(bytes, 15);
	assert_string_equal(json_string_value(json_object_get(entry, "checksum")), want);
	assert_null(json_object_get(entry, "latency_ms")); /* NAN: not recorded */
	json_decref(entry);
	/* the same version spelled otherwise is refused, and nothing changes */
	m.version = "v1.2.0";
	assert_int_equal(registry_add(reg, src, &m, false, NULL, &err), -1);
	assert_non_null(strstr(err, "det:v1.2.0 is already registered as det:1.2"));
	free(err);
	err = NULL;
	m.version = "1.3";
	m.name = "bad/name";
	assert_int_equal(registry_add(reg, src, &m, false, NULL, &err), -1);
	free(err);
	err = NULL;

	fd_registry *r = registry_open(reg, NULL, false, &err);
	assert_non_null(r);
	assert_int_equal(registry_count(r), 1);
	const reg_entry *e = registry_find(r, "det", "1.2.0");
	assert_non_null(e);
	char *path = registry_model_url(r, e);
	char *expect = xasprintf("%s/models/det-v1.2-fp16.onnx", reg);
	assert_string_equal(path, expect);
	free(expect);
	reg_verify_result v;
	registry_verify(r, e, &v);
	assert_int_equal(v.status, REG_VERIFY_OK);
	assert_int_equal(v.bytes, 15);
	reg_verify_result_clear(&v);
	/* a corrupted copy */
	FILE *f = fopen(path, "ab");
	fputs("!", f);
	fclose(f);
	registry_verify(r, e, &v);
	assert_int_equal(v.status, REG_VERIFY_MISMATCH);
	assert_string_not_equal(v.actual, e->checksum);
	reg_verify_result_clear(&v);
	unlink(path);
	registry_verify(r, e, &v);
	assert_int_equal(v.status, REG_VERIFY_MISSING);
	assert_non_null(strstr(v.error, "No such file"));
	reg_verify_result_clear(&v);
	assert_string_equal(reg_verify_status_name(REG_VERIFY_MISSING), "missing");
	/* the baseline, relative to models/ */
	char *bdir = xasprintf("%s/models", reg);
	free(write_file(bdir, "det-1.2-baseline.json", "{\"window\": 1}"));
	char *b = registry_baseline_url(r, e), *data = NULL;
	size_t len = 0;
	assert_int_equal(registry_fetch(r, b, 1024, &data, &len, &err), 0);
	assert_string_equal(data, "{\"window\": 1}");
	free(data);
	assert_int_equal(registry_fetch(r, b, 4, &data, &len, &err), -1); /* over the cap */
	assert_non_null(strstr(err, "larger than 4 bytes"));
	free(err);
	err = NULL;
	free(b);
	free(bdir);
	free(path);
	registry_free(r);

	/* a remote registry never reads a local file for what its index names */
	r = registry_parse("http://127.0.0.1:9", "idx", "{}", 2, NULL, &err);
	assert_int_equal(registry_fetch(r, src, 1024, &data, &len, &err), -1);
	assert_non_null(strstr(err, "not an http(s) URL"));
	free(err);
	err = NULL;
	registry_free(r);

	/* a missing index: an error, unless asked for an empty registry */
	char *empty = xasprintf("%s/empty", dir);
	mkdir(empty, 0755);
	assert_null(registry_open(empty, NULL, false, &err));
	assert_non_null(strstr(err, "index.json"));
	free(err);
	err = NULL;
	r = registry_open(empty, NULL, true, &err);
	assert_non_null(r);
	assert_int_equal(registry_count(r), 0);
	registry_free(r);
	free(empty);

	free(src);
	free(reg);
	rm_rf(dir);
}

/* Adds from several processes at once: the lock keeps every one. */
static void test_concurrent_adds(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/fleetdeck-registry-XXXXXX";
	char *dir = mkdtemp(tmpl);
	assert_non_null(dir);
	char *src = write_file(dir, "m.bin", "bytes"), *reg = xasprintf("%s/reg", dir);
	enum { N = 8 };
	pid_t kids[N];
	for (int i = 0; i < N; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			char ver[16], *err = NULL;
			snprintf(ver, sizeof ver, "1.%d", i);
			reg_add_meta m = { .name = "m", .version = ver, .map = NAN, .latency_ms = NAN };
			_exit(registry_add(reg, src, &m, false, NULL, &err) == 0 ? 0 : 1);
		}
	}
	for (int i = 0; i < N; i++) {
		int st;
		assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	char *err = NULL;
	fd_registry *r = registry_open(reg, NULL, false, &err);
	assert_non_null(r);
	assert_int_equal(registry_count(r), N);
	assert_string_equal(registry_latest(r, "m")->version, "1.7");
	registry_free(r);
	free(src);
	free(reg);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_semver_order),   cmocka_unit_test(test_semver_parse),
		cmocka_unit_test(test_index_refusals), cmocka_unit_test(test_index_queries),
		cmocka_unit_test(test_location),       cmocka_unit_test(test_directory),
		cmocka_unit_test(test_concurrent_adds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
