/* test_ssh: the SSH transport against a real OpenSSH sshd (and a bastion and
 * devices in a network namespace) that tests/integration/ssh.sh starts; every
 * test skips when FLEETDECK_TEST_SSHD is not set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "poll/ssh.h"
#include "util/shquote.h"
#include "util/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *dir;

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

#define NEED(var, name)                  \
	const char *var = env(name);     \
	if (!var) {                      \
		skip();                  \
		return;                  \
	}

static char *path(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static sshpool *mkpool(const char *known_hosts, ssh_strict strict, int cmd_ms, size_t max_out, const char *config)
{
	sshpool_opts o = {
		.threads = 4,
		.connect_timeout_ms = 3000,
		.command_timeout_ms = cmd_ms,
		.keepalive_s = 5,
		.ssh_config = config ? config : "",
		.known_hosts = known_hosts,
		.strict = strict,
		.max_output = max_out,
	};
	char *err = NULL;
	sshpool *p = sshpool_new(&o, &err);
	if (!p)
		fail_msg("sshpool_new: %s", err);
	return p;
}

/* Waits (bounded) for n results, storing them by tag (an index). */
static void wait_results(sshpool *p, sshpool_result *out, int n, int timeout_ms)
{
	double end = now_ms() + timeout_ms;
	int got = 0;
	while (got < n) {
		int left = (int)(end - now_ms());
		if (left <= 0)
			fail_msg("only %d of %d results within %d ms", got, n, timeout_ms);
		struct pollfd pf = {.fd = sshpool_wake_fd(p), .events = POLLIN};
		poll(&pf, 1, left);
		sshpool_result r;
		while (sshpool_result_next(p, &r)) {
			intptr_t i = (intptr_t)r.tag;
			assert_true(i >= 0 && i < n);
			out[i] = r;
			got++;
		}
	}
}

static void run1(sshpool *p, const ssh_target *t, const char *cmd, sshpool_result *r)
{
	char *err = NULL;
	if (sshpool_exec(p, t, cmd, (void *)(intptr_t)0, &err) != 0)
		fail_msg("sshpool_exec: %s", err);
	wait_results(p, r, 1, 20000);
}

static ssh_target dev_target(const char *key)
{
	ssh_target t = {
		.name = "dev",
		.host = env("FLEETDECK_TEST_SSHD_ADDR"),
		.port = atoi(env("FLEETDECK_TEST_SSHD_PORT")),
		.user = "root",
		.identity = key,
	};
	return t;
}

static int count_in_file(const char *file, const char *needle)
{
	FILE *f = fopen(file, "r");
	if (!f)
		return -1;
	char line[4096];
	int n = 0;
	while (fgets(line, sizeof line, f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static int children_of(long pid, long *kids, int max)
{
	DIR *d = opendir("/proc");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char *end;
		long p = strtol(e->d_name, &end, 10);
		if (*end || p <= 0)
			continue;
		char f[64], buf[512];
		snprintf(f, sizeof f, "/proc/%ld/stat", p);
		FILE *fp = fopen(f, "r");
		if (!fp)
			continue;
		size_t len = fread(buf, 1, sizeof buf - 1, fp);
		fclose(fp);
		buf[len] = '\0';
		char *rp = strrchr(buf, ')');
		long ppid = 0;
		char st;
		if (rp && sscanf(rp + 2, "%c %ld", &st, &ppid) == 2 && ppid == pid && n < max)
			kids[n++] = p;
	}
	if (d)
		closedir(d);
	return n;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* Bounded wait until pid has want children (sshd processes end a moment after
 * their client closed the connection). Returns the count last seen. */
static int wait_children(long pid, int want, int timeout_ms)
{
	long kids[256];
	double end = now_ms() + timeout_ms;
	int n;
	while ((n = children_of(pid, kids, 256)) != want && now_ms() < end) {
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return n;
}

static void write_file(const char *file, const char *text)
{
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* ---- tests ---- */

static void test_key_file_auth_stdout_exit_codes(void **state)
{
	(void)state;
	NEED(addr, "FLEETDECK_TEST_SSHD_ADDR");
	char *key = path("client_key"), *kh = path("known_hosts");
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 5000, 0, NULL);
	ssh_target t = dev_target(key);
	sshpool_result r;
	run1(p, &t, "echo hello; echo err >&2", &r);
	assert_true(r.ran);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out, "hello\n");
	assert_int_equal(r.out_len, 6);
	sshpool_result_clear(&r);
	run1(p, &t, "printf 'a\\0b'; exit 3", &r);
	assert_true(r.ran);
	assert_int_equal(r.exit_code, 3);
	assert_int_equal(r.out_len, 3);
	assert_memory_equal(r.out, "a\0b", 3);
	sshpool_result_clear(&r);
	run1(p, &t, "kill -9 $$", &r);
	assert_true(r.ran);
	assert_int_equal(r.exit_code, 255);
	sshpool_result_clear(&r);
	sshpool_free(p);
	free(key);
	free(kh);
}

static void test_agent_auth(void **state)
{
	(void)state;
	NEED(addr, "FLEETDECK_TEST_SSHD_ADDR");
	NEED(sock, "FLEETDECK_TEST_AGENT_SOCK");
	char *wrong = path("wrong_key"), *kh = path("known_hosts");
	setenv("SSH_AUTH_SOCK", sock, 1);
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 5000, 0, NULL);
	unsetenv("SSH_AUTH_SOCK");
	/* the key file is wrong: only the agent's key can get in */
	ssh_target t = dev_target(wrong);
	sshpool_result r;
	run1(p, &t, "echo agent", &r);
	assert_true(r.ran);
	assert_string_equal(r.out, "agent\n");
	sshpool_result_clear(&r);
	sshpool_free(p);
	free(wrong);
	free(kh);
}

static void test_wrong_key_is_auth(void **state)
{
	(void)state;
	NEED(addr, "FLEETDECK_TEST_SSHD_ADDR");
	char *wrong = path("wrong_key"), *kh = path("known_hosts");
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 5000, 0, NULL);
	ssh_target t = dev_target(wrong);
	sshpool_result r;
	run1(p, &t, "echo no", &r);
	assert_false(r.ran);
	assert_int_equal(r.reason, DEV_REASON_AUTH);
	assert_non_null(strstr(r.error, "authentication as root failed"));
	assert_non_null(strstr(r.error, "wrong_key"));
	sshpool_result_clear(&r);
	sshpool_free(p);
	free(wrong);
	free(kh);
}

static void test_unknown_host_refused_under_yes(void **state)
{
	(void)state;
	NEED(addr, "FLEETDECK_TEST_SSHD_ADDR");
	char *key = path("client_key"), *kh = path("scratch/empty_known_hosts");
	write_file(kh, "");
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 5000, 0, NULL);
	ssh_target t = dev_target(key);
	sshpool_result r;
	run1(p, &t, "echo no", &r);
	assert_false(r.ran);
	assert_int_equal(r.reason, DEV_REASON_HOSTKEY);
	assert_non_null(strstr(r.error, "unknown"));
	sshpool_result_clear(&r);
	sshpool_free(p);
	struct stat st;
	assert_int_equal(stat(kh, &st), 0);
	assert_int_equal(st.st_size, 0); /* nothing added */
	free(key);
	free(kh);
}

static void test_accept_new_records_key(void **state)
{
	(void)state;
	NEED(addr, "FLEETDECK_TEST_SSHD_ADDR");
	NEED(port, "FLEETDECK_TEST_SSHD_PORT");
	char *key = path("client_key"), *kh = path("scratch/new_known_hosts");
	unlink(kh);
	sshpool *p = mkpool(kh, SSH_STRICT_ACCEPT_NEW, 5000, 0, NULL);
	ssh_target t = dev_target(key);
	sshpool_result r;
	run1(p, &t, "echo yes", &r);
	assert_true(r.ran);
	sshpool_result_clear(&r);
	sshpool_free(p);
	char *entry = xasprintf("[%s]:%s ", addr, port);
	assert_int_equal(count_in_file(kh, entry), 1);
	/* and now it is known: strict checking lets it in */
	p = mkpool(kh, SSH_STRICT_YES, 5000, 0, NULL);
	run1(p, &t, "echo known", &r);
	assert_true(r.ran);
	sshpool_result_clear(&r);
	sshpool_free(p);
	free(entry);
	free(key);
	free(kh);
}

static void test_hashed_known_hosts(void **state)
{
	(void)state;
	NEED(addr, "FLEETDECK_TEST_SSHD_ADDR");
	char *key = path("client_key"), *kh = path("known_hosts_hashed");
	assert_int_equal(count_in_file(kh, "|1|"), count_in_file(kh, " "));
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 5000, 0, NULL);
	ssh_target t = dev_target(key);
	sshpool_result r;
	run1(p, &t, "echo hashed", &r);
	assert_true(r.ran);
	sshpool_result_clear(&r);
	sshpool_free(p);
	free(key);
	free(kh);
}

static void test_changed_host_key_refused(void **state)
{
	(void)state;
	NEED(addr, "FLEETDECK_TEST_SSHD_ADDR");
	NEED(log, "FLEETDECK_TEST_SSHD_LOG");
	char *key = path("client_key"), *kh = path("known_hosts_changed"), *marker = path("scratch/changed_marker");
	unlink(marker);
	int accepted = count_in_file(log, "Accepted publickey");
	for (int strict = 0; strict < 2; strict++) {
		sshpool *p = mkpool(kh, strict ? SSH_STRICT_ACCEPT_NEW : SSH_STRICT_YES, 5000, 0, NULL);
		ssh_target t = dev_target(key);
		char *cmd = xasprintf("touch %s", marker);
		sshpool_result r;
		run1(p, &t, cmd, &r);
		assert_false(r.ran);
		assert_int_equal(r.reason, DEV_REASON_HOSTKEY);
		assert_non_null(strstr(r.error, "HOST KEY CHANGED"));
		sshpool_result_clear(&r);
		sshpool_free(p);
		free(cmd);
	}
	assert_int_equal(access(marker, F_OK), -1);
	/* no authentication happened at all: nothing was sent */
	assert_int_equal(count_in_file(log, "Accepted publickey"), accepted);
	free(key);
	free(kh);
	free(marker);
}

static void test_session_reuse(void **state)
{
	(void)state;
	NEED(addr, "FLEETDECK_TEST_SSHD_ADDR");
	NEED(log, "FLEETDECK_TEST_SSHD_LOG");
	char *key = path("client_key"), *kh = path("known_hosts");
	int accepted = count_in_file(log, "Accepted publickey");
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 5000, 0, NULL);
	ssh_target t = dev_target(key);
	enum { N = 20 };
	sshpool_result r[N];
	for (int i = 0; i < N; i++) {
		char *err = NULL;
		char *cmd = xasprintf("echo %d", i);
		assert_int_equal(sshpool_exec(p, &t, cmd, (void *)(intptr_t)i, &err), 0);
		free(cmd);
	}
	wait_results(p, r, N, 20000);
	for (int i = 0; i < N; i++) {
		assert_true(r[i].ran);
		char want[16];
		snprintf(want, sizeof want, "%d\n", i);
		assert_string_equal(r[i].out, want);
		sshpool_result_clear(&r[i]);
	}
	sshpool_stats st;
	sshpool_get_stats(p, &st);
	assert_int_equal(st.connects, 1);
	assert_int_equal(st.sessions_open, 1);
	assert_int_equal(count_in_file(log, "Accepted publickey"), accepted + 1);
	sshpool_free(p);
	free(key);
	free(kh);
}

static void test_reconnect_after_kill(void **state)
{
	(void)state;
	NEED(addr, "FLEETDECK_TEST_SSHD_ADDR");
	NEED(pidstr, "FLEETDECK_TEST_SSHD_PID");
	long pid = atol(pidstr);
	char *key = path("client_key"), *kh = path("known_hosts");
	long before[256];
	int nb = children_of(pid, before, 256);
	int fds = count_fds();
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 5000, 0, NULL);
	ssh_target t = dev_target(key);
	sshpool_result r;
	run1(p, &t, "echo one", &r);
	assert_true(r.ran);
	sshpool_result_clear(&r);
	/* the session's sshd process: the listener's child that was not there before */
	long after[256];
	int na = children_of(pid, after, 256), killed = 0;
	for (int i = 0; i < na; i++) {
		int old = 0;
		for (int j = 0; j < nb; j++)
			old |= after[i] == before[j];
		if (!old && kill((pid_t)after[i], SIGKILL) == 0)
			killed++;
	}
	assert_int_equal(killed, 1);
	run1(p, &t, "echo two", &r);
	assert_true(r.ran);
	assert_string_equal(r.out, "two\n");
	sshpool_result_clear(&r);
	sshpool_stats st;
	sshpool_get_stats(p, &st);
	assert_int_equal(st.connects, 2);
	assert_int_equal(st.sessions_open, 1);
	sshpool_free(p);
	assert_int_equal(count_fds(), fds); /* the dead session's socket was closed */
	free(key);
	free(kh);
}

static void test_command_timeout(void **state)
{
	(void)state;
	NEED(addr, "FLEETDECK_TEST_SSHD_ADDR");
	char *key = path("client_key"), *kh = path("known_hosts");
	int fds = count_fds();
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 600, 0, NULL);
	ssh_target t = dev_target(key);
	sshpool_result r;
	double t0 = now_ms();
	run1(p, &t, "sleep 30", &r);
	double took = now_ms() - t0;
	assert_false(r.ran);
	assert_int_equal(r.reason, DEV_REASON_TIMEOUT);
	assert_non_null(strstr(r.error, "did not finish within 600 ms"));
	assert_true(took < 5000);
	sshpool_result_clear(&r);
	/* a command that never ends and never stops printing either */
	run1(p, &t, "while :; do echo x; sleep 0.01; done", &r);
	assert_false(r.ran);
	assert_int_equal(r.reason, DEV_REASON_TIMEOUT);
	sshpool_result_clear(&r);
	/* an endless flood on stderr, which is not capped: the timeout still holds */
	t0 = now_ms();
	run1(p, &t, "cat /dev/zero >&2", &r);
	assert_false(r.ran);
	assert_int_equal(r.reason, DEV_REASON_TIMEOUT);
	assert_true(now_ms() - t0 < 5000);
	sshpool_result_clear(&r);
	/* the device is still usable */
	run1(p, &t, "echo after", &r);
	assert_true(r.ran);
	assert_string_equal(r.out, "after\n");
	sshpool_result_clear(&r);
	sshpool_free(p);
	assert_int_equal(count_fds(), fds);
	free(key);
	free(kh);
}

static void test_output_cap(void **state)
{
	(void)state;
	NEED(addr, "FLEETDECK_TEST_SSHD_ADDR");
	char *key = path("client_key"), *kh = path("known_hosts");
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 10000, 65536, NULL);
	ssh_target t = dev_target(key);
	sshpool_result r;
	run1(p, &t, "head -c 65536 /dev/zero", &r);
	assert_true(r.ran);
	assert_int_equal(r.out_len, 65536);
	sshpool_result_clear(&r);
	run1(p, &t, "head -c 65537 /dev/zero", &r);
	assert_false(r.ran);
	assert_int_equal(r.reason, DEV_REASON_OVERSIZED);
	sshpool_result_clear(&r);
	double t0 = now_ms();
	run1(p, &t, "head -c 100000000 /dev/urandom", &r); /* 100 MB */
	assert_false(r.ran);
	assert_int_equal(r.reason, DEV_REASON_OVERSIZED);
	sshpool_result_clear(&r);
	run1(p, &t, "cat /dev/zero", &r); /* endless */
	assert_false(r.ran);
	assert_int_equal(r.reason, DEV_REASON_OVERSIZED);
	assert_true(now_ms() - t0 < 8000);
	sshpool_result_clear(&r);
	/* stderr floods are drained, not kept, not fatal */
	run1(p, &t, "head -c 3000000 /dev/zero >&2; echo done", &r);
	assert_true(r.ran);
	assert_string_equal(r.out, "done\n");
	sshpool_result_clear(&r);
	sshpool_free(p);
	free(key);
	free(kh);
}

static void test_refused_and_dns(void **state)
{
	(void)state;
	NEED(addr, "FLEETDECK_TEST_SSHD_ADDR");
	NEED(refused, "FLEETDECK_TEST_REFUSED_PORT");
	char *key = path("client_key"), *kh = path("known_hosts");
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 5000, 0, NULL);
	ssh_target t = dev_target(key);
	t.port = atoi(refused);
	sshpool_result r;
	run1(p, &t, "echo no", &r);
	assert_false(r.ran);
	assert_int_equal(r.reason, DEV_REASON_REFUSED);
	assert_non_null(strstr(r.error, "refused"));
	sshpool_result_clear(&r);
	ssh_target t2 = dev_target(key);
	t2.name = "nowhere";
	t2.host = "nonexistent.invalid";
	run1(p, &t2, "echo no", &r);
	assert_false(r.ran);
	assert_int_equal(r.reason, DEV_REASON_DNS);
	sshpool_result_clear(&r);
	sshpool_free(p);
	free(key);
	free(kh);
}

static void test_garbage_and_silent_servers(void **state)
{
	(void)state;
	NEED(garbage, "FLEETDECK_TEST_GARBAGE_PORT");
	NEED(silent, "FLEETDECK_TEST_SILENT_PORT");
	char *key = path("client_key"), *kh = path("known_hosts");
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 5000, 0, NULL);
	ssh_target t = dev_target(key);
	t.port = atoi(garbage);
	sshpool_result r;
	run1(p, &t, "echo no", &r);
	assert_false(r.ran);
	assert_true(r.reason == DEV_REASON_NETWORK || r.reason == DEV_REASON_RESET);
	assert_non_null(strstr(r.error, "handshake"));
	sshpool_result_clear(&r);
	t.port = atoi(silent);
	double t0 = now_ms();
	/* queuing never waits for the network: the handshake runs on a worker */
	char *err = NULL;
	assert_int_equal(sshpool_exec(p, &t, "echo no", (void *)(intptr_t)0, &err), 0);
	assert_true(now_ms() - t0 < 300);
	wait_results(p, &r, 1, 20000);
	assert_false(r.ran);
	assert_int_equal(r.reason, DEV_REASON_TIMEOUT);
	assert_true(now_ms() - t0 < 8000);
	sshpool_result_clear(&r);
	sshpool_free(p);
	free(key);
	free(kh);
}

static void test_hostile_arguments_quoted(void **state)
{
	(void)state;
	NEED(addr, "FLEETDECK_TEST_SSHD_ADDR");
	char *key = path("client_key"), *kh = path("known_hosts"), *marker = path("scratch/hostile_marker");
	unlink(marker);
	char *hostile = xasprintf("a'b\"c $(touch %s) `touch %s`; touch %s | & > %s \\ * ~ $HOME\n'\\''x", marker,
				  marker, marker, marker);
	char *q = shquote_word(hostile);
	const char *argv[] = {"printf", "%s", hostile};
	char *cmd = shquote_join(argv, 3);
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 5000, 0, NULL);
	ssh_target t = dev_target(key);
	sshpool_result r;
	run1(p, &t, cmd, &r);
	assert_true(r.ran);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out, hostile);
	sshpool_result_clear(&r);
	char *cmd2 = xasprintf("printf '%%s' %s", q);
	run1(p, &t, cmd2, &r);
	assert_true(r.ran);
	assert_string_equal(r.out, hostile);
	sshpool_result_clear(&r);
	assert_int_equal(access(marker, F_OK), -1);
	sshpool_free(p);
	free(cmd2);
	free(cmd);
	free(q);
	free(hostile);
	free(marker);
	free(key);
	free(kh);
}

static void test_ssh_config_honoured(void **state)
{
	(void)state;
	NEED(addr, "FLEETDECK_TEST_SSHD_ADDR");
	NEED(port, "FLEETDECK_TEST_SSHD_PORT");
	char *key = path("client_key"), *kh = path("known_hosts"), *cfg = path("scratch/ssh_config");
	char *text = xasprintf("# a test config\n"
			       "Host other\n  HostName 127.0.0.9\n"
			       "Host edge-* !edge-skip\n"
			       "  HostName %s\n"
			       "  Port=%s\n"
			       "  User root\n"
			       "  IdentityFile \"%s\"\n"
			       "  UserKnownHostsFile %s\n"
			       "  StrictHostKeyChecking yes\n"
			       "Host new-*\n  HostName %s\n  Port %s\n  User root\n  IdentityFile %s\n"
			       "  UserKnownHostsFile %s/scratch/cfg_new_known_hosts\n  StrictHostKeyChecking accept-new\n"
			       "Host *\n  Port 1\n  User nobody\n",
			       addr, port, key, kh, addr, port, key, dir);
	write_file(cfg, text);
	/* the pool's own known_hosts is empty: only the config's makes this work */
	char *empty = path("scratch/cfg_empty_known_hosts");
	write_file(empty, "");
	sshpool *p = mkpool(empty, SSH_STRICT_YES, 5000, 0, cfg);
	ssh_target t = {.name = "edge-01", .host = "edge-01"};
	sshpool_result r;
	run1(p, &t, "id -un", &r);
	assert_true(r.ran);
	assert_string_equal(r.out, "root\n");
	sshpool_result_clear(&r);
	/* StrictHostKeyChecking accept-new from the config beats the pool's yes */
	char *newkh = path("scratch/cfg_new_known_hosts");
	unlink(newkh);
	ssh_target t3 = {.name = "new-01", .host = "new-01"};
	run1(p, &t3, "true", &r);
	if (!r.ran)
		fail_msg("%s", r.error);
	sshpool_result_clear(&r);
	char *entry = xasprintf("[%s]:%s ", addr, port);
	assert_int_equal(count_in_file(newkh, entry), 1);
	free(entry);
	free(newkh);
	/* negated: edge-skip falls to Host *, port 1: refused */
	ssh_target t2 = {.name = "edge-skip", .host = "edge-skip"};
	run1(p, &t2, "id -un", &r);
	assert_false(r.ran);
	assert_true(r.reason == DEV_REASON_DNS || r.reason == DEV_REASON_REFUSED);
	sshpool_result_clear(&r);
	sshpool_free(p);
	free(text);
	free(cfg);
	free(empty);
	free(key);
	free(kh);
}

static void test_bad_target_is_refused_at_exec(void **state)
{
	(void)state;
	NEED(addr, "FLEETDECK_TEST_SSHD_ADDR");
	sshpool *p = mkpool(NULL, SSH_STRICT_YES, 5000, 0, NULL);
	char *err = NULL;
	ssh_target t = {.name = "x", .host = "h", .jump = "a,,b"};
	assert_int_equal(sshpool_exec(p, &t, "true", NULL, &err), -1);
	assert_non_null(strstr(err, "is empty"));
	free(err);
	err = NULL;
	t.jump = "a,b,c,d,e";
	assert_int_equal(sshpool_exec(p, &t, "true", NULL, &err), -1);
	assert_non_null(strstr(err, "more than 4 hops"));
	free(err);
	err = NULL;
	ssh_target t2 = {.name = "x", .host = "-oProxyCommand=x"};
	assert_int_equal(sshpool_exec(p, &t2, "true", NULL, &err), -1);
	free(err);
	sshpool_free(p);
}


static void test_reset_during_command(void **state)
{
	(void)state;
	NEED(addr, "FLEETDECK_TEST_SSHD_ADDR");
	char *key = path("client_key"), *kh = path("known_hosts");
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 5000, 0, NULL);
	ssh_target t = dev_target(key);
	sshpool_result r;
	/* the command kills the sshd process serving the session under it */
	run1(p, &t, "kill -9 $PPID; sleep 3", &r);
	assert_false(r.ran);
	assert_int_equal(r.reason, DEV_REASON_RESET);
	assert_non_null(strstr(r.error, "dev ("));
	sshpool_result_clear(&r);
	run1(p, &t, "echo back", &r);
	assert_true(r.ran);
	sshpool_result_clear(&r);
	sshpool_stats st;
	sshpool_get_stats(p, &st);
	assert_int_equal(st.connects, 2);
	sshpool_free(p);
	free(key);
	free(kh);
}

static void test_keepalive_finds_dead_session(void **state)
{
	(void)state;
	NEED(addr, "FLEETDECK_TEST_SSHD_ADDR");
	NEED(pidstr, "FLEETDECK_TEST_SSHD_PID");
	long pid = atol(pidstr);
	char *key = path("client_key"), *kh = path("known_hosts");
	long before[256];
	int nb = children_of(pid, before, 256);
	sshpool_opts o = {.threads = 2, .keepalive_s = 1, .ssh_config = "", .known_hosts = kh};
	char *err = NULL;
	sshpool *p = sshpool_new(&o, &err);
	assert_non_null(p);
	ssh_target t = dev_target(key);
	sshpool_result r;
	run1(p, &t, "true", &r);
	assert_true(r.ran);
	sshpool_result_clear(&r);
	long after[256];
	int na = children_of(pid, after, 256);
	for (int i = 0; i < na; i++) {
		int old = 0;
		for (int j = 0; j < nb; j++)
			old |= after[i] == before[j];
		if (!old)
			kill((pid_t)after[i], SIGKILL);
	}
	/* no command is sent: the idle session's keepalive notices, within seconds */
	sshpool_stats st;
	double end = now_ms() + 8000;
	do {
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
		sshpool_get_stats(p, &st);
	} while (st.sessions_open != 0 && now_ms() < end);
	assert_int_equal(st.sessions_open, 0);
	sshpool_free(p);
	free(key);
	free(kh);
}

static void test_default_identity_from_home(void **state)
{
	(void)state;
	NEED(addr, "FLEETDECK_TEST_SSHD_ADDR");
	char *kh = path("known_hosts"), *home = path("scratch/home"), *cmd = NULL;
	cmd = xasprintf("mkdir -p %s/.ssh && cp %s/client_key %s/.ssh/id_ed25519", home, dir, home);
	assert_int_equal(system(cmd), 0);
	char *old = xstrdup(getenv("HOME"));
	setenv("HOME", home, 1);
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 5000, 0, NULL);
	setenv("HOME", old, 1);
	ssh_target t = dev_target(NULL); /* no key given: ~/.ssh/id_* */
	sshpool_result r;
	run1(p, &t, "echo default", &r);
	if (!r.ran)
		fail_msg("%s", r.error);
	sshpool_result_clear(&r);
	sshpool_free(p);
	free(old);
	free(cmd);
	free(home);
	free(kh);
}

/* ---- behind a bastion ---- */

static int ns_ports(int *ports, int max)
{
	const char *s = env("FLEETDECK_TEST_NS_PORTS");
	int n = 0;
	while (s && *s && n < max) {
		ports[n++] = atoi(s);
		s = strchr(s, ',');
		if (s)
			s++;
	}
	return n;
}

static void test_jump_one_bastion_session(void **state)
{
	(void)state;
	NEED(ns, "FLEETDECK_TEST_NS_ADDR");
	NEED(bastion, "FLEETDECK_TEST_BASTION");
	NEED(blog, "FLEETDECK_TEST_BASTION_LOG");
	NEED(bpid, "FLEETDECK_TEST_BASTION_PID");
	char *key = path("client_key"), *kh = path("known_hosts");
	int ports[16];
	int np = ns_ports(ports, 16);
	assert_true(np >= 2);
	assert_int_equal(wait_children(atol(bpid), 0, 5000), 0);
	int accepted = count_in_file(blog, "Accepted publickey");
	int fwd = count_in_file(blog, "server_request_direct_tcpip");
	int fds = count_fds();
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 5000, 0, NULL);
	char *jump = xasprintf("root@%s", bastion);
	enum { N = 12 };
	char *names[N];
	sshpool_result r[N];
	for (int i = 0; i < N; i++) {
		names[i] = xasprintf("behind-%02d", i);
		ssh_target t = {.name = names[i], .host = ns, .port = ports[i % np], .user = "root",
				.identity = key, .jump = jump};
		char *err = NULL;
		assert_int_equal(sshpool_exec(p, &t, "echo $SSH_CONNECTION", (void *)(intptr_t)i, &err), 0);
	}
	wait_results(p, r, N, 30000);
	for (int i = 0; i < N; i++) {
		if (!r[i].ran)
			fail_msg("%s: %s", names[i], r[i].error);
		/* the device saw the connection come from the bastion's side of the veth */
		assert_non_null(strstr(r[i].out, ns));
		sshpool_result_clear(&r[i]);
	}
	/* a second round reuses everything */
	for (int i = 0; i < N; i++) {
		ssh_target t = {.name = names[i], .host = ns, .port = ports[i % np], .user = "root",
				.identity = key, .jump = jump};
		char *err = NULL;
		assert_int_equal(sshpool_exec(p, &t, "true", (void *)(intptr_t)i, &err), 0);
	}
	wait_results(p, r, N, 30000);
	for (int i = 0; i < N; i++) {
		assert_true(r[i].ran);
		sshpool_result_clear(&r[i]);
	}
	sshpool_stats st;
	sshpool_get_stats(p, &st);
	assert_int_equal(st.bastion_connects, 1);
	assert_int_equal(st.bastion_sessions_open, 1);
	assert_int_equal(st.sessions_open, N);
	assert_int_equal(st.connects, N);
	assert_int_equal(st.channels_opened, N);
	/* the bastion's sshd saw one login and N forwards, and runs one session process */
	assert_int_equal(count_in_file(blog, "Accepted publickey"), accepted + 1);
	assert_int_equal(count_in_file(blog, "server_request_direct_tcpip"), fwd + N);
	long kids[64];
	assert_int_equal(children_of(atol(bpid), kids, 64), 1);
	sshpool_free(p);
	assert_int_equal(count_fds(), fds); /* sockets, socketpairs, pipes: all closed */
	for (int i = 0; i < N; i++)
		free(names[i]);
	free(jump);
	free(key);
	free(kh);
}

static void test_jump_from_ssh_config_and_tunnel(void **state)
{
	(void)state;
	NEED(ns, "FLEETDECK_TEST_NS_ADDR");
	NEED(bastion, "FLEETDECK_TEST_BASTION");
	NEED(http, "FLEETDECK_TEST_NS_HTTP");
	char *key = path("client_key"), *kh = path("known_hosts"), *cfg = path("scratch/jump_config");
	char *bhost = xstrndup(bastion, (size_t)(strrchr(bastion, ':') - bastion));
	const char *bport = strrchr(bastion, ':') + 1;
	int ports[16];
	int np = ns_ports(ports, 16);
	/* the bastion gets its port and key from its own Host block */
	char *text = xasprintf("Host factory-*\n  HostName %s\n  Port %d\n  User root\n  IdentityFile %s\n"
			       "  ProxyJump gw\n"
			       "Host gw\n  HostName %s\n  Port %s\n  User root\n  IdentityFile %s\n",
			       ns, ports[np - 1], key, bhost, bport, key);
	write_file(cfg, text);
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 5000, 0, cfg);
	ssh_target t = {.name = "factory-a", .host = "factory-a"};
	sshpool_result r;
	run1(p, &t, "echo via-config", &r);
	if (!r.ran)
		fail_msg("%s", r.error);
	assert_string_equal(r.out, "via-config\n");
	sshpool_result_clear(&r);

	/* HTTP to the device's own port, through the same bastion session */
	dev_reason reason;
	char *err = NULL;
	int fd = sshpool_tunnel(p, &t, ns, atoi(http), 5000, &reason, &err);
	if (fd < 0)
		fail_msg("tunnel: %s", err);
	const char req[] = "GET /hello.txt HTTP/1.0\r\nHost: device\r\n\r\n";
	assert_int_equal(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
	char buf[8192];
	size_t len = 0;
	double end = now_ms() + 10000;
	for (;;) {
		int left = (int)(end - now_ms());
		assert_true(left > 0);
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		poll(&pf, 1, left);
		ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		assert_true(len < sizeof buf - 1);
	}
	buf[len] = '\0';
	close(fd);
	assert_non_null(strstr(buf, " 200 "));
	assert_non_null(strstr(buf, "fleetdeck-tunnel-ok"));

	/* without a jump host a tunnel is a plain TCP connection: sshd's banner comes back */
	{
		ssh_target direct = dev_target(key);
		int dfd = sshpool_tunnel(p, &direct, direct.host, direct.port, 5000, &reason, &err);
		if (dfd < 0)
			fail_msg("direct tunnel: %s", err);
		struct pollfd pf = {.fd = dfd, .events = POLLIN};
		assert_int_equal(poll(&pf, 1, 5000), 1);
		char banner[8] = {0};
		assert_true(read(dfd, banner, 7) == 7);
		assert_string_equal(banner, "SSH-2.0");
		close(dfd);
	}
	/* nothing listens there: refused, as the bastion saw it */
	fd = sshpool_tunnel(p, &t, ns, 1, 5000, &reason, &err);
	assert_int_equal(fd, -1);
	assert_int_equal(reason, DEV_REASON_REFUSED);
	free(err);

	sshpool_stats st;
	sshpool_get_stats(p, &st);
	assert_int_equal(st.bastion_connects, 1);
	assert_int_equal(st.channels_opened, 2);
	sshpool_free(p);
	free(text);
	free(bhost);
	free(cfg);
	free(key);
	free(kh);
}


static void test_jump_bastion_session_killed(void **state)
{
	(void)state;
	NEED(ns, "FLEETDECK_TEST_NS_ADDR");
	NEED(bastion, "FLEETDECK_TEST_BASTION");
	NEED(bpid, "FLEETDECK_TEST_BASTION_PID");
	char *key = path("client_key"), *kh = path("known_hosts");
	int ports[16];
	int np = ns_ports(ports, 16);
	long kids[64];
	assert_int_equal(wait_children(atol(bpid), 0, 5000), 0); /* earlier tests' sessions are gone */
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 5000, 0, NULL);
	char *jump = xasprintf("root@%s", bastion);
	enum { N = 4 };
	sshpool_result r[N];
	char *names[N];
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			if (!round)
				names[i] = xasprintf("k-%d", i);
			ssh_target t = {.name = names[i], .host = ns, .port = ports[i % np], .user = "root",
					.identity = key, .jump = jump};
			char *err = NULL;
			assert_int_equal(sshpool_exec(p, &t, "echo up", (void *)(intptr_t)i, &err), 0);
		}
		wait_results(p, r, N, 30000);
		for (int i = 0; i < N; i++) {
			if (!r[i].ran)
				fail_msg("round %d, %s: %s", round, names[i], r[i].error);
			sshpool_result_clear(&r[i]);
		}
		if (round == 0) {
			/* the bastion's session process dies: every device behind it loses its connection */
			assert_int_equal(children_of(atol(bpid), kids, 64), 1);
			assert_int_equal(kill((pid_t)kids[0], SIGKILL), 0);
			sshpool_stats st;
			double end = now_ms() + 8000;
			do {
				struct timespec ts = {0, 20 * 1000000L};
				nanosleep(&ts, NULL);
				sshpool_get_stats(p, &st);
			} while (st.bastion_sessions_open != 0 && now_ms() < end);
			assert_int_equal(st.bastion_sessions_open, 0);
		}
	}
	/* the second round came back through one new bastion session */
	sshpool_stats st;
	sshpool_get_stats(p, &st);
	assert_int_equal(st.bastion_connects, 2);
	assert_int_equal(st.bastion_sessions_open, 1);
	assert_int_equal(st.connects, 2 * N);
	sshpool_free(p);
	for (int i = 0; i < N; i++)
		free(names[i]);
	free(jump);
	free(key);
	free(kh);
}


static void test_jump_two_hops(void **state)
{
	(void)state;
	NEED(ns, "FLEETDECK_TEST_NS_ADDR");
	NEED(bastion, "FLEETDECK_TEST_BASTION");
	NEED(blog, "FLEETDECK_TEST_BASTION_LOG");
	char *key = path("client_key"), *kh = path("known_hosts");
	int accepted = count_in_file(blog, "Accepted publickey");
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 5000, 0, NULL);
	/* ProxyJump a,b: the second hop is reached through the first (here the
	 * same sshd, reached once from outside and once from itself) */
	char *jump = xasprintf("root@%s,root@%s", bastion, bastion);
	enum { N = 3 };
	sshpool_result r[N];
	char *names[N];
	int ports[16];
	int np = ns_ports(ports, 16);
	for (int i = 0; i < N; i++) {
		names[i] = xasprintf("deep-%d", i);
		ssh_target t = {.name = names[i], .host = ns, .port = ports[i % np], .user = "root",
				.identity = key, .jump = jump};
		char *err = NULL;
		assert_int_equal(sshpool_exec(p, &t, "echo deep", (void *)(intptr_t)i, &err), 0);
	}
	wait_results(p, r, N, 30000);
	for (int i = 0; i < N; i++) {
		if (!r[i].ran)
			fail_msg("%s: %s", names[i], r[i].error);
		assert_string_equal(r[i].out, "deep\n");
		sshpool_result_clear(&r[i]);
		free(names[i]);
	}
	sshpool_stats st;
	sshpool_get_stats(p, &st);
	assert_int_equal(st.bastion_connects, 2);     /* one session per hop */
	assert_int_equal(st.channels_opened, N + 1); /* the devices, and the second hop */
	assert_int_equal(count_in_file(blog, "Accepted publickey"), accepted + 2);
	sshpool_free(p);
	free(jump);
	free(key);
	free(kh);
}


static void test_jump_accept_new_concurrent(void **state)
{
	(void)state;
	NEED(ns, "FLEETDECK_TEST_NS_ADDR");
	NEED(bastion, "FLEETDECK_TEST_BASTION");
	char *key = path("client_key"), *kh = path("scratch/concurrent_known_hosts");
	unlink(kh);
	int ports[16];
	int np = ns_ports(ports, 16);
	sshpool *p = mkpool(kh, SSH_STRICT_ACCEPT_NEW, 5000, 0, NULL);
	char *jump = xasprintf("root@%s", bastion);
	enum { N = 8 };
	sshpool_result r[N];
	char *names[N];
	for (int i = 0; i < N; i++) {
		/* two devices per address:port, all connecting at once */
		names[i] = xasprintf("twin-%d", i);
		ssh_target t = {.name = names[i], .host = ns, .port = ports[i % np], .user = "root",
				.identity = key, .jump = jump};
		char *err = NULL;
		assert_int_equal(sshpool_exec(p, &t, "true", (void *)(intptr_t)i, &err), 0);
	}
	wait_results(p, r, N, 30000);
	for (int i = 0; i < N; i++) {
		if (!r[i].ran)
			fail_msg("%s: %s", names[i], r[i].error);
		sshpool_result_clear(&r[i]);
		free(names[i]);
	}
	sshpool_free(p);
	/* each host recorded once: the bastion and every distinct address:port */
	int distinct = np < N ? np : N;
	assert_int_equal(count_in_file(kh, " ssh-ed25519 "), 1 + distinct);
	for (int i = 0; i < distinct; i++) {
		char *entry = ports[i] == 22 ? xasprintf("%s ", ns) : xasprintf("[%s]:%d ", ns, ports[i]);
		assert_int_equal(count_in_file(kh, entry), 1);
		free(entry);
	}
	free(jump);
	free(key);
	free(kh);
}

static void test_jump_failures(void **state)
{
	(void)state;
	NEED(ns, "FLEETDECK_TEST_NS_ADDR");
	NEED(bastion, "FLEETDECK_TEST_BASTION");
	char *key = path("client_key"), *wrong = path("wrong_key"), *kh = path("known_hosts");
	char *cfg = path("scratch/jump_wrong_config");
	char *bhost = xstrndup(bastion, (size_t)(strrchr(bastion, ':') - bastion));
	char *text = xasprintf("Host %s\n  IdentityFile %s\n", bhost, wrong);
	write_file(cfg, text);
	sshpool *p = mkpool(kh, SSH_STRICT_YES, 5000, 0, cfg);
	char *jump = xasprintf("ssh://root@%s", bastion);
	ssh_target t = {.name = "behind", .host = ns, .port = 22, .user = "root", .identity = wrong, .jump = jump};
	sshpool_result r;
	run1(p, &t, "true", &r);
	assert_false(r.ran);
	assert_int_equal(r.reason, DEV_REASON_AUTH);
	assert_non_null(strstr(r.error, "jump host"));
	sshpool_result_clear(&r);
	sshpool_free(p);

	/* the bastion's host key changed: refused before logging in, devices untouched */
	char *khb = path("known_hosts_bastion_changed");
	NEED(blog, "FLEETDECK_TEST_BASTION_LOG");
	int accepted = count_in_file(blog, "Accepted publickey");
	p = mkpool(khb, SSH_STRICT_ACCEPT_NEW, 5000, 0, NULL);
	ssh_target tk = {.name = "behind", .host = ns, .port = 22, .user = "root", .identity = key, .jump = jump};
	run1(p, &tk, "true", &r);
	assert_false(r.ran);
	assert_int_equal(r.reason, DEV_REASON_HOSTKEY);
	assert_non_null(strstr(r.error, "jump host"));
	assert_non_null(strstr(r.error, "HOST KEY CHANGED"));
	sshpool_result_clear(&r);
	sshpool_stats st;
	sshpool_get_stats(p, &st);
	assert_int_equal(st.bastion_connects, 0);
	assert_int_equal(st.connects, 0);
	sshpool_free(p);
	assert_int_equal(count_in_file(blog, "Accepted publickey"), accepted);
	free(khb);

	/* a device port nothing listens on, behind a good bastion */
	p = mkpool(kh, SSH_STRICT_YES, 5000, 0, NULL);
	char *jump2 = xasprintf("root@%s", bastion);
	ssh_target t2 = {.name = "closed", .host = ns, .port = 1, .user = "root", .identity = key, .jump = jump2};
	run1(p, &t2, "true", &r);
	assert_false(r.ran);
	assert_int_equal(r.reason, DEV_REASON_REFUSED);
	assert_non_null(strstr(r.error, "cannot reach"));
	sshpool_result_clear(&r);
	sshpool_free(p);
	free(jump2);
	free(jump);
	free(text);
	free(bhost);
	free(cfg);
	free(key);
	free(wrong);
	free(kh);
}

int main(void)
{
	dir = env("FLEETDECK_TEST_SSHD");
	unsetenv("SSH_AUTH_SOCK");
	/* SIGPIPE keeps its default (death): the pool must never raise it */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_file_auth_stdout_exit_codes),
		cmocka_unit_test(test_agent_auth),
		cmocka_unit_test(test_wrong_key_is_auth),
		cmocka_unit_test(test_unknown_host_refused_under_yes),
		cmocka_unit_test(test_accept_new_records_key),
		cmocka_unit_test(test_hashed_known_hosts),
		cmocka_unit_test(test_changed_host_key_refused),
		cmocka_unit_test(test_session_reuse),
		cmocka_unit_test(test_reconnect_after_kill),
		cmocka_unit_test(test_command_timeout),
		cmocka_unit_test(test_reset_during_command),
		cmocka_unit_test(test_keepalive_finds_dead_session),
		cmocka_unit_test(test_default_identity_from_home),
		cmocka_unit_test(test_output_cap),
		cmocka_unit_test(test_refused_and_dns),
		cmocka_unit_test(test_garbage_and_silent_servers),
		cmocka_unit_test(test_hostile_arguments_quoted),
		cmocka_unit_test(test_ssh_config_honoured),
		cmocka_unit_test(test_bad_target_is_refused_at_exec),
		cmocka_unit_test(test_jump_one_bastion_session),
		cmocka_unit_test(test_jump_from_ssh_config_and_tunnel),
		cmocka_unit_test(test_jump_bastion_session_killed),
		cmocka_unit_test(test_jump_two_hops),
		cmocka_unit_test(test_jump_accept_new_concurrent),
		cmocka_unit_test(test_jump_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
