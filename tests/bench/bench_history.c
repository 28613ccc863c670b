/* bench_history: the history store's size per device-day and write time per cycle, on a fake clock; also writes the CLI tests' fixture. */
#include "store/store.h"
#include "util/xalloc.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SEC_MS INT64_C(1000)
#define MIN_MS INT64_C(60000)
#define HOUR_MS INT64_C(3600000)
#define DAY_MS (24 * HOUR_MS)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_history [--dir DIR] [--devices N] [--days D] [--big N,N...] [--cycles C]\n"
		"                     [--keep-raw-hours H] [--keep]\n"
		"       bench_history --fixture FILE [--now MS]\n"
		"\n"
		"Simulates D days (default 1) of a console polling N devices (default 100) every 10 s on\n"
		"a fake clock, calling store_maintain after each cycle as the console does; prints the\n"
		"bytes per device-day of each tier and after the raw samples have aged out (the\n"
		"minute rollups then packed an hour to a row; target < 50 KB), then the write time per cycle for each fleet size in --big (default\n"
		"1000,10000) over C cycles (default 90, after as many to warm up). --keep-raw-hours H\n"
		"(at least 2; default 48) prunes raw samples during the run, so minutes are packed an\n"
		"hour at a time as in steady state instead of all at once at the end.\n"
		"\n"
		"--fixture writes the small fixed history tests/integration/history.sh reads: three\n"
		"devices, 3 hours at 10 s ending at --now (default: now), state changes and alerts.\n");
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* xorshift64*: reproducible runs */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static double uni(uint64_t *s)
{
	return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

static void die(const char *what, char *err)
{
	fprintf(stderr, "bench_history: %s: %s\n", what, err ? err : "error");
	free(err);
	exit(1);
}

struct fleet {
	int n;
	char (*host)[24];
	const char **factory;
	double *temp, *uptime;
	int *down; /* cycles left unreachable */
};

static void fleet_init(struct fleet *f, int n)
{
	static const char *const factories[] = { "ams", "par", "ber", "mil", "mad", "waw", "prg", "vie" };
	f->n = n;
	f->host = xmalloc((size_t)n * sizeof *f->host);
	f->factory = xmalloc((size_t)n * sizeof *f->factory);
	f->temp = xmalloc((size_t)n * sizeof *f->temp);
	f->uptime = xmalloc((size_t)n * sizeof *f->uptime);
	f->down = xcalloc((size_t)n, sizeof *f->down);
	for (int i = 0; i < n; i++) {
		f->factory[i] = factories[i % 8];
		snprintf(f->host[i], sizeof f->host[i], "edge-%s-%05d", f->factory[i], i);
		f->temp[i] = 55 + i % 10;
		f->uptime[i] = 24.0 * (i % 30);
	}
}

static void fleet_free(struct fleet *f)
{
	free(f->host);
	free(f->factory);
	free(f->temp);
	free(f->uptime);
	free(f->down);
}

/* One device's answer, with values at the precision agents send them: a device
 * now and then drops off for a few cycles, and a few run hot (degraded). */
static void answer(struct fleet *f, int i, int64_t ts, uint64_t *rs, dev_sample *s)
{
	memset(s, 0, sizeof *s);
	s->host = f->host[i];
	s->factory = f->factory[i];
	s->ts_ms = ts;
	f->uptime[i] += 10.0 / 3600;
	if (f->down[i] == 0 && uni(rs) < 0.0005)
		f->down[i] = 3 + (int)(uni(rs) * 30);
	if (f->down[i] > 0) {
		f->down[i]--;
		s->state = DEV_UNREACHABLE;
		s->reason = DEV_REASON_TIMEOUT;
		s->detail = (char *)"connection timed out after 5000 ms";
		s->rtt_ms = -1;
		return;
	}
	f->temp[i] += (uni(rs) - 0.5) * 0.8 + (60 - f->temp[i]) * 0.02;
	dev_status *st = &s->st;
	st->have = DEV_HAVE_GPU_TEMP | DEV_HAVE_UPTIME | DEV_HAVE_GPU_UTIL | DEV_HAVE_GPU_MEM_USED |
		   DEV_HAVE_GPU_MEM_TOTAL | DEV_HAVE_POWER | DEV_HAVE_LATENCY_P95 | DEV_HAVE_ERROR_RATE |
		   DEV_HAVE_MODEL_LOADED | DEV_HAVE_DRIFT;
	st->model_version = (char *)(i % 3 ? "yolov8-defects-3.2.1" : "yolov8-defects-3.3.0");
	st->gpu_temp = round(f->temp[i] * 2) / 2; /* thermal zones: 0.5 °C steps */
	st->uptime_hours = f->uptime[i];
	st->gpu_util = floor(40 + uni(rs) * 50);
	st->gpu_mem_used = 2.0e9 + uni(rs) * 1.5e9;
	st->gpu_mem_total = 8.0e9;
	st->power_w = 8 + uni(rs) * 12;
	st->latency_p95_ms = 18 + uni(rs) * 25;
	st->error_rate = uni(rs) < 0.9 ? 0 : uni(rs) * 0.02;
	st->drift_ks = 0.02 + uni(rs) * 0.1;
	st->model_loaded = true;
	s->state = st->gpu_temp > 75 ? DEV_DEGRADED : DEV_HEALTHY;
	s->rtt_ms = 5 + uni(rs) * 40;
	s->last_seen_ms = ts;
}

/* Writes one cycle of the whole fleet at t; returns the write time (us). */
static int64_t fleet_cycle(store *s, struct fleet *f, int64_t t, uint64_t *rs)
{
	char *err = NULL;
	dev_sample smp;
	if (store_cycle_begin(s, t, "console", &err))
		die("cycle_begin", err);
	for (int i = 0; i < f->n; i++) {
		answer(f, i, t + i % 5000, rs, &smp); /* answers trickle in over the cycle */
		if (store_cycle_sample(s, &smp, &err))
			die("cycle_sample", err);
	}
	int64_t t0 = mono_us();
	if (store_cycle_end(s, t + 6000, &err))
		die("cycle_end", err);
	return mono_us() - t0;
}

static int64_t maintain(store *s, int64_t now)
{
	char *err = NULL;
	int64_t t0 = mono_us();
	int rc;
	while ((rc = store_maintain(s, now, &err)) == 1)
		;
	if (rc)
		die("maintain", err);
	return mono_us() - t0;
}

static void remove_db(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	for (int i = 0; i < 3; i++) {
		char *p = xasprintf("%s%s", path, sfx[i]);
		unlink(p);
		free(p);
	}
}

static const store_table_info *table(const store_info *in, const char *name)
{
	for (int i = 0; i < STORE_NTABLES; i++)
		if (strcmp(in->tables[i].name, name) == 0)
			return &in->tables[i];
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static void size_run(const char *dir, int ndev, int days, int keep_raw_h, bool keep)
{
	char *path = xasprintf("%s/bench-size.db", dir);
	remove_db(path);
	char *err = NULL;
	store_opts so;
	store_opts_default(&so);
	if (keep_raw_h)
		so.keep_raw_ms = keep_raw_h * HOUR_MS;
	store *s = store_open_opts(path, &so, &err);
	if (!s)
		die("open", err);
	struct fleet f;
	fleet_init(&f, ndev);
	uint64_t rs = 0x9E3779B97F4A7C15ULL;
	const int64_t t0 = INT64_C(1700000000000) / DAY_MS * DAY_MS; /* a midnight */
	const int64_t cycles = days * DAY_MS / (10 * SEC_MS);
	int64_t wsum = 0, msum = 0, mmax = 0, t = t0;
	int64_t w0 = mono_us();
	for (int64_t c = 0; c < cycles; c++, t += 10 * SEC_MS) {
		wsum += fleet_cycle(s, &f, t, &rs);
		int64_t m = maintain(s, t + 6500);
		msum += m;
		if (m > mmax)
			mmax = m;
	}
	double wall = (double)(mono_us() - w0) / 1e6;
	printf("%d day(s) at 10 s, %d devices: %" PRId64 " cycles, %" PRId64 " samples in %.1f s;"
	       " per cycle: write %.2f ms, store_maintain %.3f ms (max %.1f ms)\n",
	       days, ndev, cycles, cycles * ndev, wall, (double)wsum / (double)cycles / 1000,
	       (double)msum / (double)cycles / 1000, (double)mmax / 1000);

	/* one more hour, so the last hour of the day is rolled up too */
	for (int64_t c = 0; c < HOUR_MS / (10 * SEC_MS) + 13; c++, t += 10 * SEC_MS) {
		fleet_cycle(s, &f, t, &rs);
		maintain(s, t + 6500);
	}
	store_info in;
	if (store_stats(s, &in, &err))
		die("stats", err);
	double dd = (double)ndev * (days + 1.0 / 24 + 13.0 * 10 / 86400); /* device-days written */
	const store_table_info *raw = table(&in, "samples"), *mi = table(&in, "rollup_minute"),
			       *ho = table(&in, "rollup_hour");
	/* per row times rows a device-day: the same as bytes / device-days when the
	 * whole run is still there, and right when --keep-raw-hours pruned some */
	double rawb = raw->rows ? (double)raw->bytes / (double)raw->rows * 8640 : 0,
	       mib = mi->rows ? (double)mi->bytes / ((double)mi->rows / 1440) : 0,
	       hob = (double)ho->bytes / ((double)ho->rows / 24);
	printf("  raw samples     %7.1f KB per device-day  (%" PRId64 " rows, %.1f B/row; kept %d h)\n", rawb / 1000,
	       raw->rows, (double)raw->bytes / (double)raw->rows, keep_raw_h ? keep_raw_h : 48);
	printf("  minute rollups  %7.1f KB per device-day  (%" PRId64 " rows, %.1f B/row; kept 14 d)\n", mib / 1000,
	       mi->rows, (double)mi->bytes / (double)mi->rows);
	printf("  hour rollups    %7.1f KB per device-day  (%" PRId64 " rows, %.1f B/row; kept 400 d)\n", hob / 1000,
	       ho->rows, (double)ho->bytes / (double)ho->rows);
	printf("  whole file      %7.1f KB per device-day while the day is still raw (%.1f MB, events %" PRId64
	       ", cycles %" PRId64 ")\n",
	       (double)in.file_bytes / dd / 1000, (double)in.file_bytes / 1e6, table(&in, "events")->rows,
	       table(&in, "cycles")->rows);

	/* the clock moves past the raw retention: the day lives on in its rollups (the
	 * raw prune packs the minutes) */
	int64_t prune_us = maintain(s, t + 49 * HOUR_MS);
	if (store_stats(s, &in, &err))
		die("stats", err);
	const store_table_info *pk = table(&in, "minute_packs");
	double after = (double)(table(&in, "rollup_minute")->bytes + pk->bytes + table(&in, "rollup_hour")->bytes) / dd;
	double packb = (double)pk->bytes / dd;
	printf("  minute, packed  %7.1f KB per device-day  (%" PRId64 " rows: an hour of a device in parts of <= 340 B,"
	       " %.1f B a row, %.1f B a minute; %" PRId64 " minute rows left; pruning the raw day and packing"
	       " its minutes took %.0f ms)\n",
	       packb / 1000, pk->rows, pk->rows ? (double)pk->bytes / (double)pk->rows : 0.0, packb / 1440,
	       table(&in, "rollup_minute")->rows, (double)prune_us / 1000);
	printf("  after rollups   %7.1f KB per device-day  (raw pruned: minute + hour rollups)  target < 50 KB: %s\n",
	       after / 1000, after < 50000 ? "met" : "NOT met");

	printf("  long term       %7.1f KB per device-day  (past 14 d: hour rollups only)  target < 50 KB: %s\n",
	       hob / 1000, hob < 50000 ? "met" : "NOT met");
	/* minute rows while the raw samples are kept (2 d), packed for the other 12 d */
	double steady = 2 * rawb + 2 * mib + 12 * packb + 400 * hob;
	printf("  steady state with default retention: %.1f MB per device (2 d raw + 14 d minute + 400 d hour):"
	       " %.2f GB for 100, %.1f GB for 1,000, %.0f GB for 10,000 devices\n",
	       steady / 1e6, steady * 100 / 1e9, steady * 1000 / 1e9, steady * 10000 / 1e9);
	store_close(s);
	fleet_free(&f);
	if (!keep)
		remove_db(path);
	free(path);
}

static void write_run(const char *dir, int ndev, int cycles, bool keep)
{
	char *path = xasprintf("%s/bench-write-%d.db", dir, ndev);
	remove_db(path);
	char *err = NULL;
	store *s = store_open(path, &err);
	if (!s)
		die("open", err);
	struct fleet f;
	fleet_init(&f, ndev);
	uint64_t rs = 0xD1B54A32D192ED03ULL;
	int64_t t = INT64_C(1700000000000) / HOUR_MS * HOUR_MS;
	int64_t *w = xmalloc((size_t)cycles * sizeof *w), mmax = 0, msum = 0;
	for (int c = 0; c < cycles; c++, t += 10 * SEC_MS) { /* warm up: the tables grow past the cache */
		fleet_cycle(s, &f, t, &rs);
		maintain(s, t + 6500);
	}
	for (int c = 0; c < cycles; c++, t += 10 * SEC_MS) {
		w[c] = fleet_cycle(s, &f, t, &rs);
		int64_t m = maintain(s, t + 6500);
		msum += m;
		if (m > mmax)
			mmax = m;
	}
	qsort(w, (size_t)cycles, sizeof *w, cmp_i64);
	printf("%6d devices: write per cycle median %.1f ms, p95 %.1f ms, max %.1f ms (%.0f samples/s);"
	       " store_maintain mean %.1f ms, max %.1f ms; %" PRId64 " MB\n",
	       ndev, (double)w[cycles / 2] / 1000, (double)w[cycles * 95 / 100] / 1000, (double)w[cycles - 1] / 1000,
	       ndev / ((double)w[cycles / 2] / 1e6), (double)msum / cycles / 1000, (double)mmax / 1000,
	       store_bytes(s) / 1000000);
	free(w);
	store_close(s);
	fleet_free(&f);
	if (!keep)
		remove_db(path);
	free(path);
}

/* The fixed history tests/integration/history.sh checks, ending at now:
 * edge-ams-01 healthy, GPU at 50.0, 50.5, ... 52.5 °C in each minute;
 * edge-ams-02 unreachable (timeout) from now-90 min for 5 minutes;
 * edge-par-01 degraded for the last 20 minutes, alert gpu_hot firing;
 * alert unreachable on edge-ams-02, resolved. */
static int fixture(const char *path, int64_t now)
{
	char *err = NULL;
	store *s = store_open(path, &err);
	if (!s)
		die("open", err);
	static const char *const hosts[] = { "edge-ams-01", "edge-ams-02", "edge-par-01" };
	static const char *const factories[] = { "ams", "ams", "par" };
	const int64_t start = now - 3 * HOUR_MS;
	for (int k = 0; k < 1080; k++) {
		int64_t t = start + k * 10 * SEC_MS;
		if (store_cycle_begin(s, t, "console", &err))
			die("begin", err);
		for (int i = 0; i < 3; i++) {
			dev_sample smp;
			memset(&smp, 0, sizeof smp);
			smp.host = hosts[i];
			smp.factory = factories[i];
			smp.ts_ms = t + i;
			if (i == 1 && k >= 540 && k < 570) {
				smp.state = DEV_UNREACHABLE;
				smp.reason = DEV_REASON_TIMEOUT;
				smp.detail = (char *)"timed out after 5 s";
				smp.rtt_ms = -1;
			} else {
				smp.state = i == 2 && k >= 960 ? DEV_DEGRADED : DEV_HEALTHY;
				smp.rtt_ms = 10 + i;
				smp.last_seen_ms = t + i;
				smp.st.have = DEV_HAVE_GPU_TEMP | DEV_HAVE_GPU_UTIL | DEV_HAVE_UPTIME;
				smp.st.gpu_temp = i == 2 && k >= 960 ? 80 : 50 + (k % 6) * 0.5;
				smp.st.gpu_util = 40;
				smp.st.uptime_hours = 100 + k * 10.0 / 3600;
				smp.st.model_version = (char *)"yolov8-3.2";
			}
			if (store_cycle_sample(s, &smp, &err))
				die("sample", err);
		}
		if (store_cycle_end(s, t + 2000, &err))
			die("end", err);
		if (k == 540 && store_alert_fire(s, "edge-ams-02", "unreachable", "critical", "no answer", t + 1, &err) < 0)
			die("fire", err);
		if (k == 570 && store_alert_resolve(s, "edge-ams-02", "unreachable", t + 1, &err) < 0)
			die("resolve", err);
		if (k >= 960 && k % 6 == 0 &&
		    store_alert_fire(s, "edge-par-01", "gpu_hot", "warning", "GPU 80.0 °C", t + 2, &err) < 0)
			die("fire", err);
	}
	if (store_audit_add(s, now - HOUR_MS, "ops", "rollout.start", "factory_ams", "yolov8-3.3", &err))
		die("audit", err);
	maintain(s, now);
	store_close(s);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *fix = NULL, *big = "1000,10000";
	int ndev = 100, days = 1, cycles = 90, keep_raw_h = 0;
	bool keep = false;
	int64_t now = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--keep") == 0) {
			keep = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (!v) {
			usage(stderr);
			return 2;
		}
		if (strcmp(a, "--dir") == 0)
			dir = v;
		else if (strcmp(a, "--devices") == 0)
			ndev = atoi(v);
		else if (strcmp(a, "--days") == 0)
			days = atoi(v);
		else if (strcmp(a, "--big") == 0)
			big = v;
		else if (strcmp(a, "--cycles") == 0)
			cycles = atoi(v);
		else if (strcmp(a, "--keep-raw-hours") == 0)
			keep_raw_h = atoi(v);
		else if (strcmp(a, "--fixture") == 0)
			fix = v;
		else if (strcmp(a, "--now") == 0)
			now = strtoll(v, NULL, 10);
		else {
			usage(stderr);
			return 2;
		}
		i++;
	}
	if (fix) {
		if (!now) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		}
		return fixture(fix, now);
	}
	if (ndev < 1 || days < 1 || cycles < 2 || keep_raw_h < 0 || (keep_raw_h && keep_raw_h < 2)) {
		usage(stderr);
		return 2;
	}
	char *tmp = NULL;
	if (!dir) {
		tmp = xstrdup("/tmp/bench_history.XXXXXX");
		if (!mkdtemp(tmp)) {
			perror("mkdtemp");
			return 1;
		}
		dir = tmp;
	}
	size_run(dir, ndev, days, keep_raw_h, keep);
	printf("write time per cycle (WAL, synchronous=NORMAL; %d cycles after %d to warm up):\n", cycles, cycles);
	for (const char *p = big; *p;) {
		int n = atoi(p);
		if (n > 0)
			write_run(dir, n, cycles, keep);
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	if (tmp) {
		if (!keep)
			rmdir(tmp);
		else
			printf("databases kept in %s\n", tmp);
		free(tmp);
	}
	return 0;
}
