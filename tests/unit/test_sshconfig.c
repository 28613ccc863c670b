/* test_sshconfig: the ssh_config reader (Host matching, first value wins,
 * tokens, Include, Match skipped, errors), ProxyJump specs, shell-word
 * splitting and the jump host in ansible_ssh_common_args. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "poll/ssh.h"
#include "poll/sshconfig.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/fleetdeck-sshconfig-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	char *d = xasprintf("%s/.ssh/conf.d", tmpdir);
	char *s = xasprintf("%s/.ssh", tmpdir);
	mkdir(s, 0700);
	mkdir(d, 0700);
	free(d);
	free(s);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return 0;
}

static char *put(const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

static sshconfig *load(const char *path)
{
	char *err = NULL;
	sshconfig *c = sshconfig_load(path, tmpdir, "ops", &err);
	if (!c)
		fail_msg("%s", err);
	return c;
}

static void test_host_blocks_first_value_wins(void **state)
{
	(void)state;
	char *p = put(".ssh/config",
		      "# comment\n"
		      "Port 2200\n"
		      "Host edge-ams-* !edge-ams-99\n"
		      "    HostName %h.factory.example\n"
		      "    User=jetson\n"
		      "    IdentityFile ~/.ssh/edge_%r_%h_%p\n"
		      "    ProxyJump ops@bastion-ams:2222\n"
		      "    StrictHostKeyChecking accept-new\n"
		      "Host EDGE-AMS-01\n"
		      "    User other\n"
		      "    IdentityFile \"%d/second key\"\n"
		      "    UserKnownHostsFile ~/.ssh/known_%u\n"
		      "Match host edge-*\n"
		      "    User matched\n"
		      "Host *\n"
		      "    User fallback\n"
		      "    Port 22\n"
		      "    StrictHostKeyChecking no\n");
	sshconfig *c = load(p);
	sshconfig_host h;
	sshconfig_lookup(c, "edge-ams-01", NULL, 0, &h);
	assert_string_equal(h.hostname, "edge-ams-01.factory.example");
	assert_int_equal(h.port, 2200); /* before any Host: applies to all, first */
	assert_string_equal(h.user, "jetson");
	assert_int_equal(h.n_identity, 2);
	char *want = xasprintf("%s/.ssh/edge_jetson_edge-ams-01.factory.example_2200", tmpdir);
	assert_string_equal(h.identity[0], want);
	free(want);
	want = xasprintf("%s/second key", tmpdir);
	assert_string_equal(h.identity[1], want);
	free(want);
	assert_string_equal(h.proxyjump, "ops@bastion-ams:2222");
	want = xasprintf("%s/.ssh/known_ops", tmpdir);
	assert_string_equal(h.known_hosts, want);
	free(want);
	assert_int_equal(h.strict, SSHCONFIG_STRICT_ACCEPT_NEW);
	sshconfig_host_clear(&h);

	/* %r follows the user fleetdeck will log in as */
	sshconfig_lookup(c, "edge-ams-02", "root", 22, &h);
	want = xasprintf("%s/.ssh/edge_root_edge-ams-02.factory.example_22", tmpdir);
	assert_string_equal(h.identity[0], want);
	free(want);
	sshconfig_host_clear(&h);

	/* negated: falls through to Host * only */
	sshconfig_lookup(c, "edge-ams-99", NULL, 0, &h);
	assert_null(h.hostname);
	assert_string_equal(h.user, "fallback");
	assert_null(h.proxyjump);
	assert_int_equal(h.strict, SSHCONFIG_STRICT_ACCEPT_NEW); /* "no" maps to accept-new */
	sshconfig_host_clear(&h);
	sshconfig_free(c);
	free(p);
}

static void test_include_and_match_list(void **state)
{
	(void)state;
	char *inc = put(".ssh/conf.d/10-factory.conf", "Host ber-?\n  HostName 10.1.0.%h\n  Port 2022\n");
	char *inc2 = put(".ssh/conf.d/20-rest.conf", "User from-include\nHost *\n  Port 1\n");
	char *p = put(".ssh/config2", "Host ber-*\n  Include conf.d/*.conf\n  IdentityFile /k\nHost *\n  User last\n");
	sshconfig *c = load(p);
	sshconfig_host h;
	sshconfig_lookup(c, "ber-1", NULL, 0, &h);
	assert_string_equal(h.hostname, "10.1.0.ber-1");
	assert_int_equal(h.port, 2022);
	/* each included file starts under Host ber-*; IdentityFile after the
	 * Include is back under it too */
	assert_string_equal(h.user, "from-include");
	assert_int_equal(h.n_identity, 1);
	assert_string_equal(h.identity[0], "/k");
	sshconfig_host_clear(&h);
	sshconfig_lookup(c, "ams-1", NULL, 0, &h);
	assert_null(h.hostname);
	assert_int_equal(h.n_identity, 0);
	assert_string_equal(h.user, "last");
	assert_int_equal(h.port, 0); /* Host * inside an Include under a Host that does not match: never */
	sshconfig_host_clear(&h);
	sshconfig_free(c);

	assert_int_equal(sshconfig_match_list("a*,!ab", "ax"), 1);
	assert_int_equal(sshconfig_match_list("a*,!ab", "ab"), 0);
	assert_int_equal(sshconfig_match_list("?b", "AB"), 1);
	assert_int_equal(sshconfig_match_list("x", "y"), 0);
	free(p);
	free(inc);
	free(inc2);
}

static void test_errors_and_missing(void **state)
{
	(void)state;
	char *err = NULL;
	char *missing = xasprintf("%s/none", tmpdir);
	sshconfig *c = sshconfig_load(missing, tmpdir, "ops", &err);
	assert_non_null(c); /* a missing file is an empty config */
	sshconfig_host h;
	sshconfig_lookup(c, "x", NULL, 0, &h);
	assert_null(h.hostname);
	assert_int_equal(h.strict, SSHCONFIG_STRICT_UNSET);
	sshconfig_host_clear(&h);
	sshconfig_free(c);
	free(missing);

	char *p = put("bad", "Host a\n  HostName \"unterminated\n");
	c = sshconfig_load(p, tmpdir, "ops", &err);
	assert_null(c);
	char *want = xasprintf("%s:2: unterminated quote", p);
	assert_string_equal(err, want);
	free(want);
	free(err);
	free(p);

	p = put("badhost", "Host\n");
	err = NULL;
	assert_null(sshconfig_load(p, tmpdir, "ops", &err));
	assert_non_null(strstr(err, ":1: Host without a pattern"));
	free(err);
	free(p);

	p = put("loop", "Include loop\n");
	char *abs = xasprintf("Include %s/loop\n", tmpdir);
	free(p);
	p = put("loop", abs);
	err = NULL;
	assert_null(sshconfig_load(p, tmpdir, "ops", &err));
	assert_non_null(strstr(err, "nested"));
	free(err);
	free(abs);
	free(p);
}

static void test_parse_jump(void **state)
{
	(void)state;
	struct {
		const char *spec, *user, *host;
		int port;
	} good[] = {
		{"bastion", NULL, "bastion", 0},
		{"ops@bastion:2222", "ops", "bastion", 2222},
		{"ssh://ops@10.0.0.1:22", "ops", "10.0.0.1", 22},
		{"[fe80::1]:2222", NULL, "fe80::1", 2222},
		{"fe80::1", NULL, "fe80::1", 0},
		{"u@[::1]", "u", "::1", 0},
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char *u, *h, *err = NULL;
		int port;
		if (sshconfig_parse_jump(good[i].spec, &u, &h, &port, &err) != 0)
			fail_msg("%s: %s", good[i].spec, err);
		if (good[i].user)
			assert_string_equal(u, good[i].user);
		else
			assert_null(u);
		assert_string_equal(h, good[i].host);
		assert_int_equal(port, good[i].port);
		free(u);
		free(h);
	}
	const char *bad[] = {"", "a,b", "host:0", "host:99999", "host:x", "@host", "-oProxyCommand=x", "[::1", "a b"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *u, *h, *err = NULL;
		int port;
		if (sshconfig_parse_jump(bad[i], &u, &h, &port, &err) != -1)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(err);
		free(err);
	}
}

static void test_common_args_jump(void **state)
{
	(void)state;
	struct {
		const char *args;
		int rc;
		const char *jump;
	} cases[] = {
		{"-o ProxyJump=ops@bastion:2222", 1, "ops@bastion:2222"},
		{"-oProxyJump=bastion", 1, "bastion"},
		{"-o 'ProxyJump bastion'", 1, "bastion"},
		{"-o proxyjump=b", 1, "b"},
		{"-J ops@b:22", 1, "ops@b:22"},
		{"-Jb", 1, "b"},
		{"-vJ b", 1, "b"},
		{"-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null", 0, NULL},
		{"-o ProxyCommand=\"ssh -W %h:%p -q bastion\"", 0, NULL},
		{"-i key -J first -J second", 1, "first"},
		{"-o ProxyJump=first -J second", 1, "first"},
		{"-l -J host", 0, NULL}, /* -J is -l's argument: a user named "-J" */
		{"-o ProxyJump=none", 1, "none"},
		{"", 0, NULL},
		{"-J", 0, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *jump = NULL, *err = NULL;
		int rc = ssh_common_args_jump(cases[i].args, &jump, &err);
		if (rc != cases[i].rc)
			fail_msg("'%s': %d, want %d", cases[i].args, rc, cases[i].rc);
		if (cases[i].jump)
			assert_string_equal(jump, cases[i].jump);
		else
			assert_null(jump);
		free(jump);
	}
	char *jump = NULL, *err = NULL;
	assert_int_equal(ssh_common_args_jump("-o 'ProxyJump=x", &jump, &err), -1);
	assert_non_null(strstr(err, "unterminated"));
	free(err);
	assert_int_equal(ssh_common_args_jump(NULL, &jump, &err), 0);
}

static void test_split_words(void **state)
{
	(void)state;
	char **w, *err = NULL;
	int n = sshconfig_split_words(" a 'b c' \"d \\\"e\\\" $x\" f\\ g '' h\\\n", &w, &err);
	assert_int_equal(n, 6);
	assert_string_equal(w[0], "a");
	assert_string_equal(w[1], "b c");
	assert_string_equal(w[2], "d \"e\" $x");
	assert_string_equal(w[3], "f g");
	assert_string_equal(w[4], "");
	assert_string_equal(w[5], "h");
	assert_null(w[6]);
	for (int i = 0; i < n; i++)
		free(w[i]);
	free(w);
	assert_int_equal(sshconfig_split_words("\"open", &w, &err), -1);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_blocks_first_value_wins),
		cmocka_unit_test(test_include_and_match_list),
		cmocka_unit_test(test_errors_and_missing),
		cmocka_unit_test(test_parse_jump),
		cmocka_unit_test(test_common_args_jump),
		cmocka_unit_test(test_split_words),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
