/* test_poll: failure classification, targets from inventory variables, and the poller's retries and backoff against a real closed port. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "poll/http.h"
#include "poll/poller.h"
#include "util/xalloc.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_classify(void **state)
{
	(void)state;
	static const struct {
		CURLcode code;
		long oserr, status;
		bool oversized;
		dev_reason want;
	} cases[] = {
		{ CURLE_OK, 0, 200, false, DEV_REASON_NONE },
		{ CURLE_OK, 0, 204, false, DEV_REASON_NONE },
		{ CURLE_OK, 0, 500, false, DEV_REASON_HTTP },
		{ CURLE_OK, 0, 404, false, DEV_REASON_HTTP },
		{ CURLE_OK, 0, 301, false, DEV_REASON_HTTP },
		{ CURLE_OK, 0, 200, true, DEV_REASON_OVERSIZED },
		{ CURLE_WRITE_ERROR, 0, 200, true, DEV_REASON_OVERSIZED },
		{ CURLE_FILESIZE_EXCEEDED, 0, 200, false, DEV_REASON_OVERSIZED },
		{ CURLE_COULDNT_CONNECT, ECONNREFUSED, 0, false, DEV_REASON_REFUSED },
		{ CURLE_COULDNT_CONNECT, ETIMEDOUT, 0, false, DEV_REASON_TIMEOUT },
		{ CURLE_COULDNT_CONNECT, EHOSTUNREACH, 0, false, DEV_REASON_NETWORK },
		{ CURLE_COULDNT_CONNECT, ENETUNREACH, 0, false, DEV_REASON_NETWORK },
		{ CURLE_OPERATION_TIMEDOUT, 0, 0, false, DEV_REASON_TIMEOUT },
		{ CURLE_COULDNT_RESOLVE_HOST, 0, 0, false, DEV_REASON_DNS },
		{ CURLE_RECV_ERROR, ECONNRESET, 0, false, DEV_REASON_RESET },
		{ CURLE_SEND_ERROR, EPIPE, 0, false, DEV_REASON_RESET },
		{ CURLE_RECV_ERROR, EIO, 0, false, DEV_REASON_NETWORK },
		{ CURLE_GOT_NOTHING, 0, 0, false, DEV_REASON_RESET },
		{ CURLE_PARTIAL_FILE, 0, 200, false, DEV_REASON_TRUNCATED },
		{ CURLE_WEIRD_SERVER_REPLY, 0, 0, false, DEV_REASON_MALFORMED },
		{ CURLE_WRITE_ERROR, 0, 0, false, DEV_REASON_NETWORK },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		dev_reason got = http_classify(cases[i].code, cases[i].oserr, cases[i].status, cases[i].oversized);
		if (got != cases[i].want)
			fail_msg("case %zu (curl %d): got %s, want %s", i, cases[i].code, dev_reason_name(got),
				 dev_reason_name(cases[i].want));
	}
}

static void test_reason_kinds(void **state)
{
	(void)state;
	assert_true(dev_reason_unreachable(DEV_REASON_REFUSED));
	assert_true(dev_reason_unreachable(DEV_REASON_TIMEOUT));
	assert_true(dev_reason_unreachable(DEV_REASON_RESET));
	assert_true(dev_reason_unreachable(DEV_REASON_DNS));
	assert_false(dev_reason_unreachable(DEV_REASON_HTTP));
	assert_false(dev_reason_unreachable(DEV_REASON_MALFORMED));
	assert_false(dev_reason_unreachable(DEV_REASON_TRUNCATED));
	assert_false(dev_reason_unreachable(DEV_REASON_OVERSIZED));
	assert_string_equal(dev_reason_name(DEV_REASON_TRUNCATED), "truncated");
	assert_int_equal(dev_reason_parse("truncated"), DEV_REASON_TRUNCATED);
}

static void test_target_from_vars(void **state)
{
	(void)state;
	poll_target t;
	char *err = NULL;
	json_t *v = json_pack("{s:s, s:i, s:s}", "ansible_host", "10.1.2.3", "fleetdeck_agent_port", 9090,
			      "fleetdeck_metrics_port", "9100");
	assert_int_equal(poll_target_from_vars("edge-1", v, &t, &err), 0);
	assert_string_equal(t.name, "edge-1");
	assert_string_equal(t.address, "10.1.2.3");
	assert_int_equal(t.agent_port, 9090);
	assert_int_equal(t.metrics_port, 9100);
	assert_string_equal(t.transport, "http");
	json_decref(v);

	v = json_object();
	assert_int_equal(poll_target_from_vars("edge-2", v, &t, &err), 0);
	assert_string_equal(t.address, "edge-2");
	assert_int_equal(t.agent_port, 8080);
	assert_int_equal(t.metrics_port, 8000);
	json_decref(v);

	const char *bad[] = { "{\"fleetdeck_agent_port\": \"http\"}", "{\"fleetdeck_agent_port\": 0}",
			      "{\"fleetdeck_metrics_port\": 70000}", "{\"ansible_host\": 5}",
			      "{\"fleetdeck_agent_port\": 80.5}", "{\"fleetdeck_transport\": \"\"}" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		v = json_loads(bad[i], 0, NULL);
		assert_non_null(v);
		err = NULL;
		assert_int_equal(poll_target_from_vars("x", v, &t, &err), -1);
		assert_non_null(err);
		free(err);
		json_decref(v);
	}
	v = json_loads("{\"fleetdeck_agent_port\": \"http\"}", 0, NULL);
	err = NULL;
	poll_target_from_vars("x", v, &t, &err);
	assert_string_equal(err, "fleetdeck_agent_port: expected a port from 1 to 65535, got \"http\"");
	free(err);
	json_decref(v);
}

static void test_add_refuses(void **state)
{
	(void)state;
	char *err = NULL;
	poller *p = poller_new(NULL, &err);
	assert_non_null(p);
	poll_target t = { .name = "a", .address = "127.0.0.1", .agent_port = 1, .metrics_port = 2, .transport = "telnet" };
	assert_int_equal(poller_add(p, &t, &err), -1);
	assert_non_null(strstr(err, "fleetdeck_transport 'telnet' is not available"));
	free(err);
	err = NULL;
	t.transport = "http";
	t.agent_port = 0;
	assert_int_equal(poller_add(p, &t, &err), -1);
	free(err);
	err = NULL;
	t.agent_port = 1;
	const char *bad[] = { "bad/host", "a b", "x@y", "h?q", "h#f", "", "h\n" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		t.address = bad[i];
		err = NULL;
		assert_int_equal(poller_add(p, &t, &err), -1);
		assert_non_null(err);
		free(err);
	}
	t.address = "::1";
	assert_int_equal(poller_add(p, &t, &err), 0);
	t.address = "edge-01.factory.example";
	assert_int_equal(poller_add(p, &t, &err), 1);
	poller_free(p);
}

/* A port on 127.0.0.1 that nothing listens on: bound, then closed. */
static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void test_refused_retry_backoff(void **state)
{
	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	poller_opts o;
	poller_opts_default(&o);
	o.interval_ms = 2000; /* backoff after the second failure: 4 s ± 25%, far beyond this test */
	o.retries = 2;
	o.retry_delay_ms = 10;
	o.seed = 42;
	char *err = NULL;
	poller *p = poller_new(&o, &err);
	assert_non_null(p);
	int port = closed_port();
	poll_target t = { .name = "gone", .address = "127.0.0.1", .agent_port = port, .metrics_port = port,
			  .transport = "http" };
	assert_int_equal(poller_add(p, &t, &err), 0);
	const poll_result *res;
	size_t n;
	poll_cycle_info info;
	for (int cycle = 1; cycle <= 2; cycle++) {
		assert_int_equal(poller_cycle(p, &res, &n, &info, &err), 0);
		assert_int_equal(n, 1);
		assert_true(res[0].polled);
		assert_int_equal(res[0].state, DEV_UNREACHABLE);
		assert_int_equal(res[0].reason, DEV_REASON_REFUSED);
		assert_int_equal(res[0].fetch[POLL_EP_STATUS].attempts, 3);
		assert_false(res[0].fetch[POLL_EP_HEALTH].attempted); /* nothing more asked of a gone device */
		assert_non_null(strstr(res[0].detail, "/status"));
		assert_int_equal(res[0].failures, cycle);
		assert_true(res[0].rtt_ms < 0);
		assert_int_equal(info.polled, 1);
	}
	assert_true(res[0].next_poll_ms > 0);
	/* third cycle: still backing off */
	assert_int_equal(poller_cycle(p, &res, &n, &info, &err), 0);
	assert_false(res[0].polled);
	assert_int_equal(info.skipped, 1);
	assert_int_equal(info.polled, 0);
	assert_int_equal(res[0].failures, 2);
	/* a poke polls it anyway */
	poller_poke(p);
	assert_int_equal(poller_cycle(p, &res, &n, &info, &err), 0);
	assert_true(res[0].polled);
	assert_int_equal(res[0].failures, 3);
	poller_free(p);
	curl_global_cleanup();
}

/* ---- the tunnel hook: a real HTTP server on loopback, reached only through the dialer ---- */

struct mini_server {
	int lfd, port;
	int connections;
	pthread_t conn_threads[16];
	int nthreads;
};

static const char *answer_for(const char *rq)
{
	if (strncmp(rq, "GET /health ", 12) == 0)
		return "{\"status\": \"healthy\", \"model_loaded\": true}";
	if (strncmp(rq, "GET /metrics ", 13) == 0)
		return "# TYPE gpu_temperature_celsius gauge\ngpu_temperature_celsius 51.5\n";
	if (strncmp(rq, "GET /drift ", 11) == 0)
		return "{\"window\": 1, \"features\": {}}";
	return "{\"status\": \"healthy\", \"model_name\": \"det\", \"model_version\": \"3.1\", \"gpu_temp\": 51.5, "
	       "\"uptime_hours\": 7}";
}

/* One connection: answers every request on it (keep-alive) until the client closes. */
static void *serve_conn(void *arg)
{
	int c = (int)(intptr_t)arg;
	char buf[4096];
	size_t have = 0;
	for (;;) {
		ssize_t n = read(c, buf + have, sizeof buf - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		char *end;
		while ((end = strstr(buf, "\r\n\r\n"))) {
			const char *body = answer_for(buf);
			char resp[512];
			int len = snprintf(resp, sizeof resp,
					   "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
					   strlen(body), body);
			if (write(c, resp, (size_t)len) != len)
				break;
			size_t used = (size_t)(end + 4 - buf);
			memmove(buf, end + 4, have - used + 1);
			have -= used;
		}
	}
	close(c);
	return NULL;
}

static void *serve(void *arg)
{
	struct mini_server *ms = arg;
	for (;;) {
		int c = accept(ms->lfd, NULL, NULL);
		if (c < 0)
			return NULL; /* the listener was shut down */
		__atomic_add_fetch(&ms->connections, 1, __ATOMIC_SEQ_CST);
		if (ms->nthreads == 16 ||
		    pthread_create(&ms->conn_threads[ms->nthreads], NULL, serve_conn, (void *)(intptr_t)c)) {
			close(c);
			continue;
		}
		ms->nthreads++;
	}
}

static void server_start(struct mini_server *ms)
{
	memset(ms, 0, sizeof *ms);
	ms->lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	assert_int_equal(bind(ms->lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(ms->lfd, 8), 0);
	assert_int_equal(getsockname(ms->lfd, (struct sockaddr *)&a, &len), 0);
	ms->port = ntohs(a.sin_port);
}

/* After the poller is freed (its connections closed): every thread ends. */
static void server_stop(struct mini_server *ms, pthread_t acceptor)
{
	shutdown(ms->lfd, SHUT_RDWR);
	close(ms->lfd);
	pthread_join(acceptor, NULL);
	for (int i = 0; i < ms->nthreads; i++)
		pthread_join(ms->conn_threads[i], NULL);
}

struct dial_ctx {
	int port;
	int calls;
	char host_seen[128];
	bool fail;
};

static int test_dial(void *ctx, const char *host, int port, int timeout_ms, dev_reason *reason, char **err)
{
	struct dial_ctx *d = ctx;
	(void)timeout_ms;
	d->calls++;
	snprintf(d->host_seen, sizeof d->host_seen, "%s:%d", host, port);
	if (d->fail) {
		*reason = DEV_REASON_AUTH;
		*err = xstrdup("bastion refused our key");
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)d->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
		close(fd);
		*reason = DEV_REASON_REFUSED;
		*err = xstrdup("tunnel endpoint refused");
		return -1;
	}
	return fd;
}

static void test_dial_hook(void **state)
{
	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct mini_server ms;
	server_start(&ms);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, serve, &ms), 0);

	char *err = NULL;
	poller_opts o;
	poller_opts_default(&o);
	o.slow_every = 0; /* /status only: one port, one tunnel */
	poller *p = poller_new(&o, &err);
	assert_non_null(p);
	struct dial_ctx ok = { .port = ms.port }, bad = { .port = ms.port, .fail = true };
	/* names that resolve nowhere: only the dialer can reach them */
	poll_target t = { .name = "behind-1", .address = "edge-1.behind.bastion.invalid", .agent_port = 8080,
			  .metrics_port = 8000, .transport = "http", .dial = test_dial, .dial_ctx = &ok };
	assert_int_equal(poller_add(p, &t, &err), 0);
	t.name = "behind-2";
	t.address = "edge-2.behind.bastion.invalid";
	t.dial_ctx = &bad;
	assert_int_equal(poller_add(p, &t, &err), 1);
	const poll_result *res;
	size_t n;
	for (int cycle = 1; cycle <= 2; cycle++) {
		assert_int_equal(poller_cycle(p, &res, &n, NULL, &err), 0);
		assert_int_equal(res[0].state, DEV_HEALTHY);
		assert_string_equal(res[0].st.model_version, "3.1");
		assert_false(res[0].st.have & DEV_HAVE_MODEL_LOADED); /* /health was not asked */
		assert_true(res[0].st.gpu_temp == 51.5);
		assert_int_equal(res[1].state, DEV_UNREACHABLE);
		assert_int_equal(res[1].reason, DEV_REASON_AUTH);
		assert_non_null(strstr(res[1].detail, "bastion refused our key"));
	}
	/* one tunnel for both cycles' requests: the connection was kept alive */
	assert_int_equal(ok.calls, 1);
	assert_int_equal(__atomic_load_n(&ms.connections, __ATOMIC_SEQ_CST), 1);
	assert_string_equal(ok.host_seen, "edge-1.behind.bastion.invalid:8080");
	assert_true(bad.calls >= 2);
	poller_free(p);
	server_stop(&ms, th);
	curl_global_cleanup();
}

/* ---- parse hooks of the slow endpoints ---- */

struct hook_log {
	int metrics_calls, drift_calls;
	size_t metrics_len;
	bool metrics_text_ok;
};

static void hook(void *ctx, size_t device, poll_ep ep, const char *body, size_t len, poll_fetch *f)
{
	struct hook_log *h = ctx;
	assert_int_equal(device, 0);
	if (ep == POLL_EP_METRICS) {
		h->metrics_calls++;
		h->metrics_len = len;
		h->metrics_text_ok = strstr(body, "gpu_temperature_celsius 51.5") != NULL && body[len] == '\0';
	} else {
		h->drift_calls++;
		f->ok = false; /* the hook's verdict: this body is no use */
		f->reason = DEV_REASON_MALFORMED;
		f->error = xstrdup("no features");
	}
}

static void test_parse_hooks(void **state)
{
	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct mini_server ms;
	server_start(&ms);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, serve, &ms), 0);
	struct dial_ctx dc = { .port = ms.port };
	struct hook_log log = { 0 };
	poller_opts o;
	poller_opts_default(&o);
	o.slow_every = 2;
	o.parse[POLL_EP_METRICS] = hook;
	o.parse[POLL_EP_DRIFT] = hook;
	o.parse_ctx = &log;
	char *err = NULL;
	poller *p = poller_new(&o, &err);
	poll_target t = { .name = "d", .address = "d.invalid", .agent_port = 8080, .metrics_port = 8000,
			  .transport = "http", .dial = test_dial, .dial_ctx = &dc };
	assert_int_equal(poller_add(p, &t, &err), 0);
	const poll_result *res;
	size_t n;
	poll_cycle_info info;
	for (int cycle = 1; cycle <= 3; cycle++) {
		assert_int_equal(poller_cycle(p, &res, &n, &info, &err), 0);
		bool slow = cycle != 2; /* cycles 1 and 3 */
		assert_int_equal(info.slow_endpoints, slow);
		assert_int_equal(res[0].fetch[POLL_EP_METRICS].attempted, slow);
		assert_int_equal(res[0].fetch[POLL_EP_DRIFT].attempted, slow);
		assert_int_equal(res[0].state, DEV_HEALTHY); /* a rejected /drift does not make it unhealthy */
		if (slow) {
			assert_true(res[0].fetch[POLL_EP_METRICS].ok);
			assert_int_equal(res[0].fetch[POLL_EP_METRICS].body_len, log.metrics_len);
			assert_false(res[0].fetch[POLL_EP_DRIFT].ok);
			assert_int_equal(res[0].fetch[POLL_EP_DRIFT].reason, DEV_REASON_MALFORMED);
			assert_string_equal(res[0].fetch[POLL_EP_DRIFT].error, "no features");
			assert_int_equal(res[0].fetch[POLL_EP_DRIFT].http_status, 200);
		}
	}
	assert_int_equal(log.metrics_calls, 2);
	assert_int_equal(log.drift_calls, 2);
	assert_true(log.metrics_text_ok);
	assert_true(log.metrics_len > 20);
	assert_int_equal(dc.calls, 2); /* one tunnel per port, kept for all three cycles */
	poller_free(p);
	/* an endpoint skipped is never fetched, the other slow ones still are */
	o.slow_every = 1;
	o.skip[POLL_EP_DRIFT] = true;
	p = poller_new(&o, &err);
	assert_int_equal(poller_add(p, &t, &err), 0);
	assert_int_equal(poller_cycle(p, &res, &n, &info, &err), 0);
	assert_true(res[0].fetch[POLL_EP_METRICS].attempted);
	assert_true(res[0].fetch[POLL_EP_HEALTH].attempted);
	assert_false(res[0].fetch[POLL_EP_DRIFT].attempted);
	assert_int_equal(log.drift_calls, 2);
	poller_free(p);
	server_stop(&ms, th);
	curl_global_cleanup();
}

static void test_ep_names(void **state)
{
	(void)state;
	assert_string_equal(poll_ep_name(POLL_EP_STATUS), "status");
	assert_string_equal(poll_ep_path(POLL_EP_METRICS), "/metrics");
	assert_string_equal(poll_ep_path(POLL_EP_DRIFT), "/drift");
	assert_string_equal(poll_ep_name(POLL_EP_COUNT), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_reason_kinds),
		cmocka_unit_test(test_target_from_vars),
		cmocka_unit_test(test_add_refuses),
		cmocka_unit_test(test_refused_retry_backoff),
		cmocka_unit_test(test_dial_hook),
		cmocka_unit_test(test_parse_hooks),
		cmocka_unit_test(test_ep_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
