/* The agentless rollout's commands, run by a real /bin/sh over a model directory made
 * for the test (with a service-control script that logs its calls): fetch, switch and
 * back, each run twice to show that the second run changes nothing; the settings'
 * validation against hostile inventory values; the parsers on good, hostile and
 * broken output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rollout/rollssh.h"
#include "util/shquote.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs cmd with /bin/sh -c; its stdout into *out (caller frees); returns the exit status. */
static int run_sh(const char *cmd, char **out, size_t *len)
{
	char *q = shquote_word(cmd);
	char *line = xasprintf("/bin/sh -c %s 2>/dev/null", q);
	FILE *p = popen(line, "r");
	free(q);
	free(line);
	assert_non_null(p);
	size_t cap = 65536;
	char *buf = xmalloc(cap);
	*len = fread(buf, 1, cap - 1, p);
	buf[*len] = '\0';
	int st = pclose(p);
	*out = buf;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return xstrdup("");
	char buf[4096];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return xstrdup(buf);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static json_t *vars_of(const char *json)
{
	json_t *v = json_loads(json, 0, NULL);
	assert_non_null(v);
	return v;
}

static int from_vars(const char *json, rollssh_dev *d, char **err)
{
	json_t *vars = vars_of(json);
	poll_target t;
	assert_int_equal(poll_target_from_vars("cam-1", vars, &t, err), 0);
	int rc = rollssh_dev_from_vars(&t, vars, NULL, d, err);
	poll_target_clear(&t);
	json_decref(vars);
	return rc;
}

static void test_settings(void **state)
{
	(void)state;
	rollssh_dev d;
	char *err = NULL;
	assert_int_equal(from_vars("{\"ansible_host\": \"10.0.0.5\", \"fleetdeck_agent_port\": 9090}", &d, &err), 0);
	assert_string_equal(d.model_dir, "/opt/models");
	assert_string_equal(d.service, "inference-engine");
	assert_string_equal(d.service_ctl, "systemctl");
	assert_string_equal(d.health_url, "http://localhost:9090/health");
	assert_string_equal(d.validate_url, "http://localhost:9090/validate");
	assert_string_equal(d.address, "10.0.0.5");
	/* through the database column and back */
	json_t *j = rollssh_dev_to_json(&d);
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	rollssh_dev e;
	assert_int_equal(rollssh_dev_from_json("cam-1", "10.0.0.5", text, &e, &err), 0);
	assert_string_equal(e.health_url, d.health_url);
	assert_string_equal(e.model_dir, d.model_dir);
	free(text);
	rollssh_dev_clear(&e);
	rollssh_dev_clear(&d);
	/* a column someone edited into something hostile is refused too */
	assert_int_equal(rollssh_dev_from_json("cam-1", "10.0.0.5", "{\"port\": 0, \"model_dir\": \"/x;y\", \"service\": \"s\", "
							"\"service_ctl\": \"systemctl\", \"health_url\": \"http://a/h\", "
							"\"validate_url\": \"http://a/v\"}", &e, &err), -1);
	assert_non_null(strstr(err, "fleetdeck_model_dir"));
	free(err);
	err = NULL;
	assert_int_equal(rollssh_dev_from_json("cam-1", "10.0.0.5", "[1]", &e, &err), -1);
	free(err);
	err = NULL;
	/* words of the service control: options after the command are fine */
	assert_int_equal(from_vars("{\"fleetdeck_service_ctl\": \"sudo -n /bin/systemctl --no-block\"}", &d, &err), 0);
	rollssh_dev_clear(&d);
}

static void test_hostile_settings(void **state)
{
	(void)state;
	static const char *const bad[][2] = {
		{ "{\"fleetdeck_model_dir\": \"/opt/m;touch /tmp/x\"}", "fleetdeck_model_dir" },
		{ "{\"fleetdeck_model_dir\": \"/opt/$(id)\"}", "fleetdeck_model_dir" },
		{ "{\"fleetdeck_model_dir\": \"/opt/m'x\"}", "fleetdeck_model_dir" },
		{ "{\"fleetdeck_model_dir\": \"/opt/m\\nx\"}", "fleetdeck_model_dir" },
		{ "{\"fleetdeck_model_dir\": \"relative\"}", "fleetdeck_model_dir" },
		{ "{\"fleetdeck_model_dir\": \"/opt/../etc\"}", "fleetdeck_model_dir" },
		{ "{\"fleetdeck_service\": \"a b\"}", "fleetdeck_service" },
		{ "{\"fleetdeck_service\": \"-x\"}", "fleetdeck_service" },
		{ "{\"fleetdeck_service_ctl\": \"systemctl;id\"}", "fleetdeck_service_ctl" },
		{ "{\"fleetdeck_service_ctl\": \"-n systemctl\"}", "fleetdeck_service_ctl" },
		{ "{\"fleetdeck_service_ctl\": \"sudo `id`\"}", "fleetdeck_service_ctl" },
		{ "{\"fleetdeck_service_ctl\": \" \"}", "fleetdeck_service_ctl" },
		{ "{\"fleetdeck_health_url\": \"http://x/'y\"}", "fleetdeck_health_url" },
		{ "{\"fleetdeck_health_url\": \"http://x/$(id)\"}", "fleetdeck_health_url" },
		{ "{\"fleetdeck_health_url\": \"ftp://x/\"}", "fleetdeck_health_url" },
		{ "{\"fleetdeck_validate_url\": \"http://x/ y\"}", "fleetdeck_validate_url" },
		{ "{\"fleetdeck_service\": 3}", "fleetdeck_service" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		rollssh_dev d;
		char *err = NULL;
		if (from_vars(bad[i][0], &d, &err) != -1)
			fail_msg("accepted %s", bad[i][0]);
		if (!strstr(err, bad[i][1]))
			fail_msg("%s: '%s' does not name %s", bad[i][0], err, bad[i][1]);
		free(err);
	}
	rollssh_model m = { "defect-detection", "3.2", "http://r/models/x.onnx", "0123" };
	char *err = NULL;
	assert_int_equal(rollssh_model_check(&m, &err), -1);
	free(err);
	err = NULL;
	m.checksum = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	assert_int_equal(rollssh_model_check(&m, &err), 0);
	m.version = "3.2;id";
	assert_int_equal(rollssh_model_check(&m, &err), -1);
	free(err);
	err = NULL;
	m.version = "3.2";
	m.url = "http://r/$(id)";
	assert_int_equal(rollssh_model_check(&m, &err), -1);
	free(err);
}

typedef struct fixture {
	char dir[64];
	char *models, *ctl, *log;
	rollssh_dev d;
} fixture;

static int setup(void **state)
{
	fixture *f = xcalloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/fd-rollssh-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->models = xasprintf("%s/models", f->dir);
	f->ctl = xasprintf("%s/ctl.sh", f->dir);
	f->log = xasprintf("%s/ctl.log", f->dir);
	mkdir(f->models, 0755);
	char *script = xasprintf("#!/bin/sh\necho \"$*\" >>%s\n[ \"$1\" != fail ] || { printf 'nope:\\n\\033[2J denied\\n' >&2; exit 1; }\n", f->log);
	write_file(f->ctl, script);
	free(script);
	chmod(f->ctl, 0755);
	char *v = xasprintf("%s/current_version", f->models), *m31 = xasprintf("%s/defect-detection-v3.1-int8.onnx", f->models),
	     *m32 = xasprintf("%s/defect-detection-v3.2-int8.onnx", f->models), *lnk = xasprintf("%s/active_model.onnx", f->models);
	write_file(v, "3.1\n");
	write_file(m31, "old model");
	write_file(m32, "new model");
	assert_int_equal(symlink(m31, lnk), 0);
	free(v);
	free(m31);
	free(m32);
	free(lnk);
	char *vars = xasprintf("{\"fleetdeck_model_dir\": \"%s\", \"fleetdeck_service_ctl\": \"%s\", "
			       "\"fleetdeck_service\": \"inference-engine\", \"fleetdeck_health_url\": \"http://127.0.0.1:9/health\"}",
			       f->models, f->ctl);
	char *err = NULL;
	if (from_vars(vars, &f->d, &err))
		fail_msg("%s", err);
	free(vars);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	char *rm = xasprintf("rm -rf '%s'", f->dir);
	assert_int_equal(system(rm), 0);
	free(rm);
	free(f->models);
	free(f->ctl);
	free(f->log);
	rollssh_dev_clear(&f->d);
	free(f);
	return 0;
}

static char *in_models(fixture *f, const char *name)
{
	char *p = xasprintf("%s/%s", f->models, name);
	return p;
}

static char *link_of(fixture *f)
{
	char *p = in_models(f, "active_model.onnx");
	char buf[1024];
	ssize_t n = readlink(p, buf, sizeof buf - 1);
	free(p);
	buf[n < 0 ? 0 : n] = '\0';
	return xstrdup(buf);
}

/* Runs a command and parses its key=value lines. */
static int run_kv(const char *cmd, const char *const *keys, char **vals)
{
	char *out, *err = NULL;
	size_t len;
	int st = run_sh(cmd, &out, &len);
	if (rollssh_parse_kv(out, len, keys, vals, &err))
		fail_msg("%s\n%s", err, out);
	free(out);
	return st;
}

static void free_vals(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
}

static void test_record(void **state)
{
	fixture *f = *state;
	char *err = NULL;
	char *cmd = rollssh_cmd_record(&f->d, &err);
	static const char *const keys[] = { "link", "version", NULL };
	char *v[2];
	assert_int_equal(run_kv(cmd, keys, v), 0);
	char *m31 = in_models(f, "defect-detection-v3.1-int8.onnx");
	assert_string_equal(v[0], m31);
	assert_string_equal(v[1], "3.1");
	free_vals(v, 2);
	free(cmd);
	cmd = rollssh_cmd_have(&f->d, "defect-detection", "3.1", &err);
	char *out;
	size_t len;
	assert_int_equal(run_sh(cmd, &out, &len), 0);
	free(out);
	free(cmd);
	cmd = rollssh_cmd_have(&f->d, "defect-detection", "2.9", &err);
	assert_int_not_equal(run_sh(cmd, &out, &len), 0);
	free(out);
	free(cmd);
	assert_null(rollssh_cmd_have(&f->d, "defect-detection", "3.1'", &err));
	free(err);
	free(m31);
}

static void test_fetch(void **state)
{
	fixture *f = *state;
	char *err = NULL;
	/* the file is there with the right SHA-256: nothing fetched (the URL answers nothing) */
	rollssh_model m = { "defect-detection", "3.2", "http://127.0.0.1:9/models/defect-detection-v3.2-int8.onnx",
			    "b0f6e3a1b4e6b1fa5e6c5d4d1de1fa4ad52b9cd1ddc26d9d8c9b6f1e2d4d0b62" };
	char *out;
	size_t len;
	char *p = in_models(f, "defect-detection-v3.2-int8.onnx");
	char *sumcmd = xasprintf("sha256sum < '%s' | cut -c1-64", p);
	run_sh(sumcmd, &out, &len);
	out[64] = '\0';
	char sum[65];
	memcpy(sum, out, 65);
	free(out);
	free(sumcmd);
	m.checksum = sum;
	char *cmd = rollssh_cmd_fetch(&f->d, &m, 2, &err);
	static const char *const keys[] = { "switched", "fetch", "curl", "sha256", NULL };
	char *v[4];
	assert_int_equal(run_kv(cmd, keys, v), 0);
	assert_string_equal(v[0], "no");
	assert_string_equal(v[1], "present");
	free_vals(v, 4);
	free(cmd);
	/* a file with other bytes: downloaded again, which fails here: the file stays, no temporary is left */
	m.checksum = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	cmd = rollssh_cmd_fetch(&f->d, &m, 2, &err);
	assert_int_equal(run_kv(cmd, keys, v), 3);
	assert_string_equal(v[1], "failed");
	assert_non_null(v[2]);
	assert_string_not_equal(v[2], "0");
	free_vals(v, 4);
	free(cmd);
	char *ls = xasprintf("ls -A '%s' | grep -c '^[.]'", f->models);
	run_sh(ls, &out, &len);
	assert_string_equal(out, "0\n");
	free(out);
	free(ls);
	assert_int_equal(access(p, F_OK), 0);
	free(p);
}

static void test_switch_and_back(void **state)
{
	fixture *f = *state;
	char *err = NULL;
	char *cmd = rollssh_cmd_switch(&f->d, "defect-detection", "3.2", &err);
	assert_non_null(cmd);
	static const char *const skeys[] = { "switch", "start", "ctl_error", NULL };
	char *v[3];
	assert_int_equal(run_kv(cmd, skeys, v), 0);
	assert_string_equal(v[0], "done");
	assert_string_equal(v[1], "ok");
	free_vals(v, 3);
	char *l = link_of(f), *want = in_models(f, "defect-detection-v3.2-int8.onnx");
	assert_string_equal(l, want);
	free(l);
	char *vp = in_models(f, "current_version");
	char *ver = slurp(vp);
	assert_string_equal(ver, "3.2\n");
	free(ver);
	char *log = slurp(f->log);
	assert_string_equal(log, "stop inference-engine\nstart inference-engine\n");
	free(log);
	/* again: already switched, only started */
	assert_int_equal(run_kv(cmd, skeys, v), 0);
	assert_string_equal(v[0], "already");
	free_vals(v, 3);
	log = slurp(f->log);
	assert_string_equal(log, "stop inference-engine\nstart inference-engine\nstart inference-engine\n");
	free(log);
	free(cmd);
	/* no temporary link or file left behind */
	char *tl = in_models(f, ".active_model.onnx.fleetdeck"), *tv = in_models(f, ".current_version.fleetdeck");
	struct stat sb;
	assert_int_not_equal(lstat(tl, &sb), 0);
	assert_int_not_equal(lstat(tv, &sb), 0);
	free(tl);
	free(tv);
	/* a version whose file is missing: refused before the service is touched */
	cmd = rollssh_cmd_switch(&f->d, "defect-detection", "4.0", &err);
	assert_int_equal(run_kv(cmd, skeys, v), 3);
	assert_string_equal(v[0], "nofile");
	free_vals(v, 3);
	free(cmd);
	/* back to 3.1, twice */
	cmd = rollssh_cmd_back(&f->d, "defect-detection", "3.1", &err);
	static const char *const bkeys[] = { "back", "restart", "ctl_error", NULL };
	assert_int_equal(run_kv(cmd, bkeys, v), 0);
	assert_string_equal(v[0], "done");
	assert_string_equal(v[1], "ok");
	free_vals(v, 3);
	assert_int_equal(run_kv(cmd, bkeys, v), 0);
	assert_string_equal(v[0], "already");
	free_vals(v, 3);
	free(cmd);
	l = link_of(f);
	free(want);
	want = in_models(f, "defect-detection-v3.1-int8.onnx");
	assert_string_equal(l, want);
	ver = slurp(vp);
	assert_string_equal(ver, "3.1\n");
	free(ver);
	free(vp);
	free(l);
	free(want);
}

static void test_ctl_failure(void **state)
{
	fixture *f = *state;
	free(f->d.service_ctl);
	f->d.service_ctl = xasprintf("%s fail", f->ctl); /* the script fails when its first word is "fail" */
	char *err = NULL;
	char *cmd = rollssh_cmd_switch(&f->d, "defect-detection", "3.2", &err);
	static const char *const skeys[] = { "switch", "start", "ctl_error", NULL };
	char *v[3];
	assert_int_equal(run_kv(cmd, skeys, v), 4);
	assert_string_equal(v[0], "stop-failed");
	assert_string_equal(v[2], "nope:  [2J denied "); /* its output, control characters blanked */
	free_vals(v, 3);
	free(cmd);
	/* nothing switched */
	char *l = link_of(f), *want = in_models(f, "defect-detection-v3.1-int8.onnx");
	assert_string_equal(l, want);
	free(l);
	free(want);
}

static void test_http_command_and_parse(void **state)
{
	fixture *f = *state;
	char *err = NULL;
	/* nothing listens on port 9: curl fails, the status line says so */
	char *cmd = rollssh_cmd_http(&f->d, f->d.health_url, NULL, 1, &err);
	char *out;
	size_t len;
	run_sh(cmd, &out, &len);
	long code;
	int cx;
	char *body;
	if (rollssh_parse_http(out, len, &code, &cx, &body, &err))
		fail_msg("%s: %s", err, out);
	assert_int_equal(code, 0);
	assert_int_not_equal(cx, 0);
	free(body);
	free(out);
	free(cmd);
	cmd = rollssh_cmd_http(&f->d, "http://127.0.0.1:9/validate", "{\"a\": \"it's\"}", 1, &err);
	assert_non_null(strstr(cmd, "--data-binary '{\"a\": \"it'\\''s\"}'"));
	free(cmd);
	assert_null(rollssh_cmd_http(&f->d, "http://x/'", NULL, 1, &err));
	free(err);
	err = NULL;

	const char *good = "{\"status\": \"healthy\"}\nfleetdeck-http 200 curl-exit 0\n";
	assert_int_equal(rollssh_parse_http(good, strlen(good), &code, &cx, &body, &err), 0);
	assert_int_equal(code, 200);
	assert_int_equal(cx, 0);
	assert_string_equal(body, "{\"status\": \"healthy\"}");
	free(body);
	/* a body that fakes the status line: the last one is curl's */
	const char *fake = "x\nfleetdeck-http 200 curl-exit 0\nfleetdeck-http 503 curl-exit 0";
	assert_int_equal(rollssh_parse_http(fake, strlen(fake), &code, &cx, &body, &err), 0);
	assert_int_equal(code, 503);
	assert_string_equal(body, "x\nfleetdeck-http 200 curl-exit 0");
	free(body);
	static const char *const broken[] = { "no status line", "\nfleetdeck-http 20 curl-exit 0",
					      "\nfleetdeck-http 200 curl-exit", "\nfleetdeck-http 200 curl-exit 0 extra",
					      "\nfleetdeck-http 2x0 curl-exit 0", "\nfleetdeck-http 200 curl-exit 1234" };
	for (size_t i = 0; i < sizeof broken / sizeof *broken; i++) {
		if (rollssh_parse_http(broken[i], strlen(broken[i]), &code, &cx, &body, &err) != -1)
			fail_msg("accepted '%s'", broken[i]);
		free(err);
		err = NULL;
	}
	char *big = xmalloc(200000);
	memset(big, 'a', 200000);
	assert_int_equal(rollssh_parse_http(big, 200000, &code, &cx, &body, &err), -1);
	free(err);
	err = NULL;
	free(big);
	const char nul[] = "a\0b\nfleetdeck-http 200 curl-exit 0";
	assert_int_equal(rollssh_parse_http(nul, sizeof nul - 1, &code, &cx, &body, &err), -1);
	free(err);
}

static void test_parse_kv(void **state)
{
	(void)state;
	static const char *const keys[] = { "a", "b", NULL };
	char *v[2], *err = NULL;
	assert_int_equal(rollssh_parse_kv("a=1\nb=two words\n", 16, keys, v, &err), 0);
	assert_string_equal(v[0], "1");
	assert_string_equal(v[1], "two words");
	free_vals(v, 2);
	assert_int_equal(rollssh_parse_kv("b=\n", 3, keys, v, &err), 0);
	assert_null(v[0]);
	assert_string_equal(v[1], "");
	free_vals(v, 2);
	static const char *const bad[] = { "c=1\n", "a=1\na=2\n", "junk\n", "a=\x1b[2J\n", "=x\n" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (rollssh_parse_kv(bad[i], strlen(bad[i]), keys, v, &err) != -1)
			fail_msg("accepted '%s'", bad[i]);
		assert_null(v[0]);
		assert_null(v[1]);
		free(err);
		err = NULL;
	}
	assert_int_equal(rollssh_parse_kv("a=1\0\n", 5, keys, v, &err), -1);
	free(err);
	err = NULL;
	char *longv = xmalloc(3000);
	memset(longv, 'x', 3000);
	memcpy(longv, "a=", 2);
	assert_int_equal(rollssh_parse_kv(longv, 3000, keys, v, &err), -1);
	free(err);
	free(longv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_hostile_settings),
		cmocka_unit_test_setup_teardown(test_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_switch_and_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctl_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_command_and_parse, setup, teardown),
		cmocka_unit_test(test_parse_kv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
