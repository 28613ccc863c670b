/* bench_promsrc: CPU of one Prometheus-source cycle's join, printed (not a test): the four
 * queries' answers for N devices as Prometheus writes them (every gauge of the exporter, two
 * model_loaded series, p95, error rate, uptime), parsed and joined into device results by
 * promsrc_take. The network and Prometheus' own work are not in it (promsrc_bench.sh measures
 * whole reports against a real server).
 *
 *   bench_promsrc [--runs R] N... (default 1000 10000 50000) */
#include "poll/promsrc.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct sb {
	char *p;
	size_t len, cap;
};

static void put(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct sb *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (size_t)n + 1;
		b->p = xrealloc(b->p, b->cap);
	}
}

#define HEAD "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
#define TAIL "]}}"

static void addr(int i, char *out, size_t n)
{
	snprintf(out, n, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
}

int main(int argc, char **argv)
{
	int runs = 5, sizes[16], nsizes = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (nsizes < 16)
			sizes[nsizes++] = atoi(argv[i]);
	}
	if (!nsizes) {
		sizes[0] = 1000, sizes[1] = 10000, sizes[2] = 50000;
		nsizes = 3;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	static const char *const gauges[] = { "up", "scrape_duration_seconds", "device_health_status",
					      "gpu_temperature_celsius", "gpu_utilization_percent",
					      "gpu_memory_used_bytes", "gpu_memory_total_bytes", "gpu_power_watts" };
	printf("%8s %12s %10s %12s %12s\n", "devices", "answer bytes", "series", "join ms", "us/device");
	for (int k = 0; k < nsizes; k++) {
		int n = sizes[k];
		promsrc_opts o;
		char *err = NULL;
		promsrc_opts_parse("http://127.0.0.1:1", &o, &err);
		promsrc *ps = promsrc_new(&o, &err);
		promsrc_opts_clear(&o);
		struct sb q[PROMSRC_QUERIES] = { 0 };
		for (int i = 0; i < PROMSRC_QUERIES; i++)
			put(&q[i], HEAD);
		size_t series = 0;
		for (int i = 0; i < n; i++) {
			char a[32], name[32];
			addr(i, a, sizeof a);
			snprintf(name, sizeof name, "edge-%06d", i);
			poll_target t = { .name = name, .address = a, .agent_port = 8080, .metrics_port = 8000 };
			promsrc_add(ps, &t, NULL, &err);
			for (size_t g = 0; g < sizeof gauges / sizeof *gauges; g++, series++)
				put(&q[0], "%s{\"metric\":{\"__name__\":\"%s\",\"instance\":\"%s:8000\",\"job\":\"edge\"},"
					   "\"value\":[1700000000.123,\"%d.%d\"]}",
				    i || g ? "," : "", gauges[g], a, g < 3 ? 1 : 40 + i % 50, i % 10);
			put(&q[0], ",{\"metric\":{\"__name__\":\"model_loaded\",\"instance\":\"%s:8000\",\"job\":\"edge\","
				   "\"model_name\":\"defect-detection\",\"version\":\"3.0\"},\"value\":[1700000000.123,\"0\"]}"
				   ",{\"metric\":{\"__name__\":\"model_loaded\",\"instance\":\"%s:8000\",\"job\":\"edge\","
				   "\"model_name\":\"defect-detection\",\"version\":\"3.1\"},\"value\":[1700000000.123,\"1\"]}",
			    a, a);
			series += 2;
			for (int j = 1; j < PROMSRC_QUERIES; j++, series++)
				put(&q[j], "%s{\"metric\":{\"instance\":\"%s:8000\"},\"value\":[1700000000.123,\"0.0%d\"]}",
				    i ? "," : "", a, 1 + i % 9);
		}
		const char *body[PROMSRC_QUERIES];
		size_t len[PROMSRC_QUERIES], bytes = 0;
		for (int i = 0; i < PROMSRC_QUERIES; i++) {
			put(&q[i], TAIL);
			body[i] = q[i].p;
			len[i] = q[i].len;
			bytes += q[i].len;
		}
		double best = 1e18;
		for (int r = 0; r < runs; r++) {
			const poll_result *res;
			size_t nres;
			double t0 = now_ms();
			if (promsrc_take(ps, body, len, NULL, 0, 1, &res, &nres, &err) || nres != (size_t)n ||
			    res[n - 1].state != DEV_HEALTHY) {
				fprintf(stderr, "bench_promsrc: the join failed: %s\n", err ? err : "wrong results");
				return 1;
			}
			double dt = now_ms() - t0;
			if (dt < best)
				best = dt;
		}
		printf("%8d %12zu %10zu %12.1f %12.2f\n", n, bytes, series, best, best * 1000.0 / n);
		for (int i = 0; i < PROMSRC_QUERIES; i++)
			free(q[i].p);
		promsrc_free(ps);
	}
	curl_global_cleanup();
	return 0;
}
