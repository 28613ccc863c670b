/* test_sshpool: the SSH pool without any sshd: its life cycle, a broken ssh
 * config, targets refused before queueing, and failures that need no server
 * (a closed loopback port, a name that cannot resolve), results through the
 * wake-up fd. The sshd-backed tests are test_ssh.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "poll/ssh.h"
#include "util/xalloc.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sshpool *mkpool(const char *config)
{
	sshpool_opts o = {.threads = 2, .connect_timeout_ms = 2000, .ssh_config = config,
			  .known_hosts = "/nonexistent/known_hosts"};
	char *err = NULL;
	sshpool *p = sshpool_new(&o, &err);
	if (!p)
		fail_msg("%s", err);
	return p;
}

static void test_lifecycle(void **state)
{
	(void)state;
	sshpool_free(NULL);
	sshpool *p = mkpool("");
	assert_true(sshpool_wake_fd(p) >= 0);
	sshpool_result r;
	assert_int_equal(sshpool_result_next(p, &r), 0);
	sshpool_stats st;
	sshpool_get_stats(p, &st);
	assert_int_equal(st.sessions_open + st.connects + st.bastion_connects + st.channels_opened, 0);
	sshpool_result_clear(NULL);
	sshpool_free(p);
}

static void test_broken_config_is_an_error(void **state)
{
	(void)state;
	char path[] = "/tmp/fleetdeck-sshpool-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char text[] = "Host a\n  HostName \"open\n";
	assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
	close(fd);
	sshpool_opts o = {.ssh_config = path};
	char *err = NULL;
	assert_null(sshpool_new(&o, &err));
	char *want = xasprintf("%s:2: unterminated quote", path);
	assert_string_equal(err, want);
	free(want);
	free(err);
	unlink(path);
}

static void test_bad_targets(void **state)
{
	(void)state;
	sshpool *p = mkpool("");
	const ssh_target bad[] = {
		{.name = "a", .host = "-oProxyCommand=touch x"},
		{.name = "b", .host = ""},
		{.name = "c", .host = "h\nx"},
		{.name = "d", .host = "h", .port = 70000},
		{.name = "e", .host = "h", .user = "u\r"},
		{.name = "f", .host = "h", .jump = "ops@b:0"},
		{.name = "g", .host = "h", .jump = "a,,b"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *err = NULL;
		if (sshpool_exec(p, &bad[i], "true", NULL, &err) != -1)
			fail_msg("target %s was queued", bad[i].name);
		assert_non_null(err);
		free(err);
	}
	char *err = NULL;
	const ssh_target ok = {.name = "ok", .host = "127.0.0.1", .port = 1};
	assert_int_equal(sshpool_exec(p, &ok, NULL, NULL, &err), -1);
	free(err);
	sshpool_free(p);
}

static void wait_one(sshpool *p, sshpool_result *r)
{
	for (int i = 0; i < 200; i++) {
		struct pollfd pf = {.fd = sshpool_wake_fd(p), .events = POLLIN};
		poll(&pf, 1, 100);
		if (sshpool_result_next(p, r))
			return;
	}
	fail_msg("no result within 20 s");
}

static void test_failures_without_a_server(void **state)
{
	(void)state;
	sshpool *p = mkpool("");
	char *err = NULL;
	const ssh_target closed = {.name = "closed", .host = "127.0.0.1", .port = 1, .user = "ops"};
	int tag = 7;
	assert_int_equal(sshpool_exec(p, &closed, "true", &tag, &err), 0);
	sshpool_result r;
	wait_one(p, &r);
	assert_ptr_equal(r.tag, &tag);
	assert_false(r.ran);
	assert_int_equal(r.reason, DEV_REASON_REFUSED);
	assert_non_null(strstr(r.error, "closed (ops@127.0.0.1:1)"));
	assert_true(r.rtt_ms >= 0);
	sshpool_result_clear(&r);
	/* the wake fd is drained once the queue is empty */
	struct pollfd pf = {.fd = sshpool_wake_fd(p), .events = POLLIN};
	assert_int_equal(poll(&pf, 1, 0), 0);

	const ssh_target nowhere = {.name = "nowhere", .host = "no-such-host.invalid"};
	assert_int_equal(sshpool_exec(p, &nowhere, "true", NULL, &err), 0);
	wait_one(p, &r);
	assert_false(r.ran);
	assert_int_equal(r.reason, DEV_REASON_DNS);
	sshpool_result_clear(&r);

	dev_reason reason;
	assert_int_equal(sshpool_tunnel(p, &closed, "127.0.0.1", 1, 1000, &reason, &err), -1);
	assert_int_equal(reason, DEV_REASON_REFUSED);
	free(err);
	err = NULL;
	assert_int_equal(sshpool_tunnel(p, &closed, "127.0.0.1", 0, 1000, &reason, &err), -1);
	free(err);

	/* freed with commands still queued: they are dropped, nothing leaks */
	for (int i = 0; i < 20; i++)
		assert_int_equal(sshpool_exec(p, &closed, "true", NULL, &err), 0);
	sshpool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_broken_config_is_an_error),
		cmocka_unit_test(test_bad_targets),
		cmocka_unit_test(test_failures_without_a_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
