/* bench_poll: poll cycles over an inventory with the real poller; prints each cycle's time,
 * requests, new connections and states, and the process's peak RSS. A harness, not a test.
 *
 *   bench_poll -i INVENTORY [--cycles N] [--forks N] [--timeout S] [--interval S]
 */
#include "fleet/fleet.h"
#include "inventory/loader.h"
#include "poll/poller.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	const char *inv_path = NULL;
	int cycles = 3;
	poller_opts po;
	poller_opts_default(&po);
	po.slow_every = 0;
	double interval = 0;
	static const struct option opts[] = {
		{ "inventory", 1, 0, 'i' }, { "cycles", 1, 0, 'c' }, { "forks", 1, 0, 'f' },
		{ "timeout", 1, 0, 'T' },   { "interval", 1, 0, 'n' }, { "slow-every", 1, 0, 's' },
		{ 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "i:c:f:T:", opts, NULL)) != -1) {
		switch (c) {
		case 'i': inv_path = optarg; break;
		case 'c': cycles = atoi(optarg); break;
		case 'f': po.forks = atoi(optarg); break;
		case 'T': po.timeout_ms = (int)(atof(optarg) * 1000); break;
		case 'n': interval = atof(optarg); break;
		case 's': po.slow_every = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench_poll -i INVENTORY [--cycles N] [--forks N] [--timeout S] "
					"[--interval S] [--slow-every N]\n");
			return 2;
		}
	}
	if (!inv_path || cycles < 1) {
		fprintf(stderr, "bench_poll: -i INVENTORY is required\n");
		return 2;
	}
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);

	double t0 = mono_ms();
	char *err = NULL;
	inventory *inv = inv_new();
	if (inv_load(inv, inv_path, &err) || inv_load_vars(inv, &err)) {
		fprintf(stderr, "bench_poll: %s\n", err);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	poller *p = poller_new(&po, &err);
	fleet *fl = fleet_new(NULL);
	size_t n;
	inv_host *const *hosts = inv_group_hosts(inv, inv_group_get(inv, "all"), &n);
	for (size_t i = 0; i < n; i++) {
		json_t *vars = inv_host_vars(inv, hosts[i]);
		poll_target t;
		if (poll_target_from_vars(hosts[i]->name, vars, &t, &err) || poller_add(p, &t, &err) < 0) {
			fprintf(stderr, "bench_poll: %s: %s\n", hosts[i]->name, err);
			return 2;
		}
		fleet_add(fl, hosts[i]->name, fleet_factory_of(inv, hosts[i], vars), NULL);
		json_decref(vars);
	}
	printf("devices %zu, forks %d, setup %.1f ms\n", n, po.forks, mono_ms() - t0);
	for (int k = 0; k < cycles; k++) {
		const poll_result *res;
		size_t nres;
		poll_cycle_info info;
		double c0 = mono_ms();
		if (poller_cycle(p, &res, &nres, &info, &err)) {
			fprintf(stderr, "bench_poll: %s\n", err);
			return 1;
		}
		fleet_apply(fl, res, nres);
		fleet_snapshot *s = fleet_snapshot_take(fl, info.end_ms);
		printf("cycle %d: %.1f ms, %ld requests, %ld new connections, %zu healthy, %zu degraded, "
		       "%zu unhealthy, %zu unreachable, %zu alerts (model+alerts %.1f ms)\n",
		       k + 1, info.duration_ms, info.requests, info.connects, s->count[DEV_HEALTHY],
		       s->count[DEV_DEGRADED], s->count[DEV_UNHEALTHY], s->count[DEV_UNREACHABLE], s->nalerts,
		       mono_ms() - c0 - info.duration_ms);
		fleet_snapshot_free(s);
		if (interval > 0 && k + 1 < cycles) {
			struct timespec ts = { (time_t)interval, (long)((interval - (long)interval) * 1e9) };
			nanosleep(&ts, NULL);
		}
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("peak RSS %.1f MB\n", ru.ru_maxrss / 1024.0);
	fleet_free(fl);
	poller_free(p);
	inv_free(inv);
	curl_global_cleanup();
	return 0;
}
