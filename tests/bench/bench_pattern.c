/* bench_pattern: times host patterns on a 100,000-host, 1,000-group inventory (not a test; prints ms per pattern).
 *
 *   bench_pattern                       an inventory built in memory, the patterns below
 *   bench_pattern INVENTORY [PATTERN...]  an inventory file or directory loaded as
 *                                       `fleetdeck -i INVENTORY` loads it, and those patterns */
#include "inventory/inventory.h"
#include "inventory/loader.h"
#include "inventory/pattern.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NHOSTS 100000
#define NGROUPS 1000
#define NREGIONS 10
#define RUNS 20

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* regionR > gNNNN > 100 hosts each; every 10th host also in `canary`, every
 * 1000th also in `db`; 50 hosts nowhere (ungrouped). */
static inventory *build(void)
{
	inventory *inv = inv_new();
	inv_group *regions[NREGIONS];
	char name[64];
	for (int r = 0; r < NREGIONS; r++) {
		snprintf(name, sizeof name, "region%d", r);
		regions[r] = inv_group_add(inv, name);
	}
	inv_group *canary = inv_group_add(inv, "canary"), *db = inv_group_add(inv, "db");
	for (int g = 0; g < NGROUPS; g++) {
		snprintf(name, sizeof name, "g%04d", g);
		inv_group *grp = inv_group_add(inv, name);
		inv_group_add_child(inv, regions[g % NREGIONS], grp, NULL);
		for (int h = 0; h < NHOSTS / NGROUPS; h++) {
			int id = g * (NHOSTS / NGROUPS) + h;
			snprintf(name, sizeof name, "host-%05d.example.com", id);
			inv_host *host = inv_host_add(inv, name, grp);
			if (id % 10 == 0)
				inv_group_add_host(inv, canary, host);
			if (id % 1000 == 0)
				inv_group_add_host(inv, db, host);
		}
	}
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof name, "loose%02d", i);
		inv_host_add(inv, name, NULL);
	}
	char *err = NULL;
	if (inv_reconcile(inv, &err) < 0) {
		fprintf(stderr, "reconcile: %s\n", err);
		exit(1);
	}
	return inv;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static inventory *load(const char *path)
{
	inventory *inv = inv_new();
	char *err = NULL;
	if (inv_load(inv, path, &err) < 0 || inv_load_vars(inv, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	return inv;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *pattern, *limit;
	} cases[] = {
		{ "all", NULL },
		{ "*", NULL },
		{ "host-04242.example.com", NULL },
		{ "g0500", NULL },
		{ "region3", NULL },
		{ "g05*", NULL },
		{ "g0[1-3]?7", NULL },
		{ "host-0004?.example.com", NULL },
		{ "*.example.com", NULL },
		{ "~host-0+42", NULL },
		{ "~.*7\\.example\\.com$", NULL },
		{ "region1:region2", NULL },
		{ "region1:&canary", NULL },
		{ "region1:!canary", NULL },
		{ "all:!g0001:!db", NULL },
		{ "&canary:!db", NULL },
		{ "g0100[0],g0100[-1],all[1000:2000]", NULL },
		{ "*[50000]", NULL },
		{ "g00*:&~.*5\\.example", NULL },
		{ "nosuch,localhost", NULL },
		{ "host-00001.example.com:host-00002.example.com:host-99999.example.com:loose07", NULL },
		{ "all", "region2:&canary" },
		{ "canary", "g0*[0:10000]" },
	};
	size_t ncases = sizeof cases / sizeof *cases;
	double t0 = now_ms();
	inventory *inv;
	if (argc > 1) {
		inv = load(argv[1]);
		printf("load %s: %zu hosts, %zu groups in %.1f ms\n", argv[1], inv_host_count(inv), inv_group_count(inv),
		       now_ms() - t0);
	} else {
		inv = build();
		printf("build: %d hosts, %d groups in %.1f ms\n", NHOSTS + 50, NGROUPS + NREGIONS + 4, now_ms() - t0);
	}
	if (argc > 2)
		ncases = (size_t)argc - 2;
	printf("%-72s %8s %9s %9s\n", "pattern", "hosts", "first ms", "median ms");
	double worst = 0, worst_first = 0;
	for (size_t c = 0; c < ncases; c++) {
		const char *pattern = argc > 2 ? argv[c + 2] : cases[c].pattern;
		const char *limit = argc > 2 ? NULL : cases[c].limit;
		double times[RUNS];
		size_t n = 0;
		for (int r = 0; r < RUNS; r++) {
			inv_host **hosts;
			char *err = NULL;
			double s = now_ms();
			int rc = inv_pattern_limit(inv, pattern, limit, &hosts, &n, &err);
			times[r] = now_ms() - s;
			if (rc < 0) {
				fprintf(stderr, "%s: %s\n", pattern, err);
				return 1;
			}
			free(hosts);
		}
		double first = times[0];
		if (first > worst_first)
			worst_first = first;
		qsort(times, RUNS, sizeof *times, cmp_double);
		double med = times[RUNS / 2];
		if (med > worst)
			worst = med;
		char label[128];
		snprintf(label, sizeof label, "%s%s%s", pattern, limit ? "  --limit " : "", limit ? limit : "");
		printf("%-72s %8zu %9.3f %9.3f\n", label, n, first, med);
	}
	printf("worst median: %.3f ms, worst first run: %.3f ms\n", worst, worst_first);
	inv_free(inv);
	return 0;
}
