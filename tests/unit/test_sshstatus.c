/* The agentless status script, run by a real /bin/sh over a model directory made for
 * the test, and its parser on good, hostile and broken output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "device/sshstatus.h"
#include "util/shquote.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *run_sh(const char *cmd, size_t *len)
{
	char *q = shquote_word(cmd);
	char *line = xasprintf("/bin/sh -c %s", q);
	FILE *p = popen(line, "r");
	free(q);
	free(line);
	assert_non_null(p);
	size_t cap = 65536;
	char *buf = xmalloc(cap);
	*len = fread(buf, 1, cap - 1, p);
	buf[*len] = '\0';
	pclose(p);
	return buf;
}

static void test_script(void **state)
{
	(void)state;
	char dir[] = "/tmp/fd-sshstatus-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *ver = xasprintf("%s/current_version", dir), *lnk = xasprintf("%s/active_model.onnx", dir);
	FILE *f = fopen(ver, "w");
	fputs("3.2\n", f);
	fclose(f);
	assert_int_equal(symlink("defect-detection-v3.2-int8.onnx", lnk), 0);
	/* port 9 (discard): nothing answers /health there */
	sshstatus_opts o = { .model_dir = dir, .agent_port = 9, .timeout_s = 1 };
	char *err = NULL;
	char *cmd = sshstatus_command(&o, &err);
	assert_non_null(cmd);
	size_t len;
	char *out = run_sh(cmd, &len);
	dev_status st = { 0 };
	char *detail = NULL;
	if (sshstatus_parse(out, len, &st, &detail, &err))
		fail_msg("%s\n%s", err, out);
	assert_string_equal(st.model_version, "3.2");
	assert_string_equal(st.model_name, "defect-detection");
	assert_true(st.have & DEV_HAVE_UPTIME);
	assert_true(st.uptime_hours > 0);
	assert_string_equal(st.status, "unhealthy");
	assert_non_null(detail);
	assert_non_null(strstr(detail, "did not answer"));
	free(detail);
	dev_status_clear(&st);
	free(out);
	free(cmd);
	unlink(ver);
	unlink(lnk);
	rmdir(dir);
	free(ver);
	free(lnk);
	/* an inventory value that is no safe path never reaches a shell */
	o.model_dir = "/opt/models'; reboot; '";
	assert_null(sshstatus_command(&o, &err));
	assert_non_null(err);
	free(err);
	err = NULL;
	o.model_dir = "relative/dir";
	assert_null(sshstatus_command(&o, &err));
	free(err);
	err = NULL;
	o.model_dir = NULL;
	o.agent_port = 70000;
	assert_null(sshstatus_command(&o, &err));
	free(err);
}

static int parse(const char *text, dev_status *st, char **detail, char **err)
{
	return sshstatus_parse(text, strlen(text), st, detail, err);
}

static void test_parse(void **state)
{
	(void)state;
	dev_status st = { 0 };
	char *detail = NULL, *err = NULL;
	assert_int_equal(parse("fleetdeck-status 1\nversion=3.1\nlink=/opt/models/yolo-v8n-v3.1-fp16.onnx\n"
			       "uptime_s=7200.5\ngpu_temp_mc=64250\n"
			       "health={\"status\": \"degraded\", \"model_loaded\": false}\nend\n",
			       &st, &detail, &err),
			 0);
	assert_string_equal(st.model_version, "3.1");
	assert_string_equal(st.model_name, "yolo-v8n");
	assert_true(st.gpu_temp == 64.25);
	assert_true(st.uptime_hours > 2.0 && st.uptime_hours < 2.01);
	assert_string_equal(st.status, "degraded");
	assert_true(st.have & DEV_HAVE_MODEL_LOADED);
	assert_false(st.model_loaded);
	assert_null(detail);
	assert_int_equal(dev_state_from_status(&st), DEV_DEGRADED);
	dev_status_clear(&st);
	/* no GPU thermal zone, no link: fields stay unknown, never zero */
	assert_int_equal(parse("fleetdeck-status 1\nversion=\nlink=\nuptime_s=\ngpu_temp_mc=\n"
			       "health={\"status\":\"healthy\"}\nend\n",
			       &st, &detail, &err),
			 0);
	assert_null(st.model_version);
	assert_false(st.have & DEV_HAVE_GPU_TEMP);
	assert_false(st.have & DEV_HAVE_UPTIME);
	assert_string_equal(st.status, "healthy");
	dev_status_clear(&st);

	static const char *const bad[] = {
		"",
		"Welcome to Ubuntu!\nfleetdeck-status 1\nend\n",          /* a login banner on stdout */
		"fleetdeck-status 1\nversion=3.2\n",                       /* cut short */
		"fleetdeck-status 1\nversion=3.2; rm -rf /\nend\n",        /* a version no command may carry */
		"fleetdeck-status 1\nversion=3.2\x1b[2J\nend\n",           /* escapes */
		"fleetdeck-status 1\nuptime_s=lots\nend\n",
		"fleetdeck-status 1\ngpu_temp_mc=hot\nend\n",
		"fleetdeck-status 1\ncolour=red\nend\n",
		"fleetdeck-status 1\njunk\nend\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		err = NULL;
		if (parse(bad[i], &st, &detail, &err) == 0)
			fail_msg("accepted bad output %zu", i);
		assert_non_null(err);
		assert_null(st.model_version);
		free(err);
	}
	/* a NUL, and a flood */
	err = NULL;
	assert_int_equal(sshstatus_parse("fleetdeck-status 1\n\0end\n", 22, &st, &detail, &err), -1);
	free(err);
	size_t n = 1 << 20;
	char *flood = xmalloc(n);
	memset(flood, 'a', n);
	err = NULL;
	assert_int_equal(sshstatus_parse(flood, n, &st, &detail, &err), -1);
	assert_non_null(strstr(err, "too large"));
	free(err);
	free(flood);
	/* health that is not JSON: unhealthy, said */
	err = NULL;
	assert_int_equal(parse("fleetdeck-status 1\nhealth=<html>502</html>\nend\n", &st, &detail, &err), 0);
	assert_string_equal(st.status, "unhealthy");
	assert_non_null(strstr(detail, "gave no status"));
	free(detail);
	dev_status_clear(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_script), cmocka_unit_test(test_parse) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
