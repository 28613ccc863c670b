/* bench_console: the console's costs with a big fleet, printed (not a test): the first frame
 * after start with N devices in the inventory, CPU per frame of the devices table, a sort and
 * a pattern filter over all rows, and the bytes written to the terminal when one device
 * changes. The terminal is a real ncurses screen (newterm) writing to a file.
 *
 *   bench_console [DEVICES=10000] [COLS=200] [ROWS=50] */
#include "app.h"
#include "inventory/loader.h"
#include "monitor/monitor.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int64_t wall_ms(void)
{
	return (int64_t)now_ms(CLOCK_REALTIME);
}

static long out_bytes(FILE *f)
{
	fflush(f);
	return ftell(f);
}

int main(int argc, char **argv)
{
	int ndev = argc > 1 ? atoi(argv[1]) : 10000;
	const char *cols = argc > 2 ? argv[2] : "200", *rows = argc > 3 ? argv[3] : "50";
	if (ndev < 1)
		ndev = 1;
	char dir[] = "/tmp/fleetdeck-bench-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char *path = xasprintf("%s/hosts.ini", dir);
	FILE *f = fopen(path, "w");
	int nfac = ndev >= 100 ? 100 : 1;
	for (int g = 0; g < nfac; g++) {
		fprintf(f, "[factory_%03d]\n", g);
		for (int i = g; i < ndev; i += nfac)
			fprintf(f, "edge-%05d ansible_host=127.%d.%d.%d gpu_type=orin_nx\n", i, 100 + i / 65536,
				(i / 256) % 256, i % 256);
	}
	fclose(f);
	setenv("COLUMNS", cols, 1);
	setenv("LINES", rows, 1);
	setenv("TERM", "xterm-256color", 1);
	setlocale(LC_ALL, "C.UTF-8");
	curl_global_init(CURL_GLOBAL_DEFAULT);

	double t0 = now_ms(CLOCK_MONOTONIC);
	inventory *inv = inv_new();
	char *err = NULL;
	if (inv_load(inv, path, &err) || inv_load_vars(inv, &err)) {
		fprintf(stderr, "bench_console: %s\n", err);
		return 1;
	}
	monitor_opts mo = { .who = "bench" };
	poller_opts_default(&mo.poll);
	fleet_rules rules;
	fleet_rules_default(&rules);
	mo.rules = &rules;
	monitor *m = monitor_new(inv, &mo, &err);
	if (!m) {
		fprintf(stderr, "bench_console: %s\n", err);
		return 1;
	}
	FILE *out = tmpfile();
	FILE *in = fopen("/dev/null", "r");
	SCREEN *scr = newterm("xterm-256color", out, in);
	set_term(scr);
	const char *theme_dirs[] = { FLEETDECK_SRC_DIR "/themes" };
	console_opts co = { .theme_dirs = theme_dirs, .ntheme_dirs = 1, .refresh_ms = 1000, .fkeys = true, .rules = &rules };
	struct app *a = app_create(&co, inv, m);
	app_attach_terminal(a);
	app_frame(a);
	double first = now_ms(CLOCK_MONOTONIC) - t0;
	long bytes_first = out_bytes(out);

	/* every device answers */
	poll_result *res = xcalloc((size_t)ndev, sizeof *res);
	int64_t ts = wall_ms();
	for (int i = 0; i < ndev; i++) {
		poll_result *r = &res[i];
		r->index = (size_t)i;
		r->polled = true;
		r->ts_ms = ts;
		r->state = DEV_HEALTHY;
		r->rtt_ms = 2.5;
		r->st.status = (char *)"healthy";
		r->st.model_name = (char *)"defect-detection";
		r->st.model_version = (char *)(i % 10 ? "3.2" : "3.1");
		r->st.gpu_temp = 50 + (i * 37 % 400) / 10.0;
		r->st.uptime_hours = i % 500;
		r->st.gpu_util = i % 100;
		r->st.latency_p95_ms = 10 + i % 30;
		r->st.have = DEV_HAVE_GPU_TEMP | DEV_HAVE_UPTIME | DEV_HAVE_GPU_UTIL | DEV_HAVE_LATENCY_P95;
		r->fetch[POLL_EP_STATUS] = (poll_fetch){ .attempted = true, .ok = true, .http_status = 200, .rtt_ms = 2.5 };
	}
	poll_cycle_info info = { .cycle = 1, .start_ms = ts, .end_ms = ts, .polled = (size_t)ndev };
	monitor_feed(m, res, (size_t)ndev, &info);
	double ts0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	app_refresh_data(a);
	double snap_ms = now_ms(CLOCK_PROCESS_CPUTIME_ID) - ts0;
	app_frame(a);
	out_bytes(out);

	/* CPU per frame: the whole frame is drawn again (ncurses then sends only what changed) */
	int frames = 200;
	double c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	for (int i = 0; i < frames; i++)
		app_frame(a);
	double per_frame = (now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0) / frames;
	/* the same while scrolling: a key and a frame */
	c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	for (int i = 0; i < frames; i++) {
		app_key(a, 'j');
		app_frame(a);
	}
	double per_key = (now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0) / frames;
	app_key(a, 'g');
	app_frame(a);

	/* sort and filter over every row */
	c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	app_key(a, ':');
	for (const char *p = "sort temp"; *p; p++)
		app_key(a, *p);
	app_key(a, '\n');
	double sort_ms = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
	app_frame(a);
	c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	model_set_filter(&a->model, "factory_0*:!factory_007");
	double filter_ms = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
	size_t filtered = a->model.nrows;
	model_set_filter(&a->model, NULL);
	app_key(a, ':');
	for (const char *p = "sort host"; *p; p++)
		app_key(a, *p);
	app_key(a, '\n');
	app_frame(a);
	/* let the status message time out of the picture, then: one device changes */
	free(a->message);
	a->message = NULL;
	app_frame(a);
	long before = out_bytes(out);
	res[3].st.gpu_temp = 95.5; /* on screen: the fourth row */
	info.cycle = 2;
	monitor_feed(m, res, (size_t)ndev, &info);
	app_refresh_data(a);
	app_frame(a);
	long one_change = out_bytes(out) - before;
	before = out_bytes(out);
	app_frame(a);
	long no_change = out_bytes(out) - before;

	endwin();
	delscreen(scr);
	printf("console benchmark: %d devices in %d factories, %sx%s terminal\n", ndev, nfac, cols, rows);
	printf("  first frame after start (inventory load, model, first draw): %.1f ms\n", first);
	printf("  first frame: %ld bytes to the terminal\n", bytes_first);
	printf("  snapshot and model rebuild after a cycle: %.2f ms CPU\n", snap_ms);
	printf("  frame of the devices table: %.3f ms CPU (mean of %d)\n", per_frame, frames);
	printf("  key (j) and frame: %.3f ms CPU (mean of %d)\n", per_key, frames);
	printf("  sort by temperature: %.2f ms CPU\n", sort_ms);
	printf("  pattern filter 'factory_0*:!factory_007' (%zu rows): %.2f ms CPU\n", filtered, filter_ms);
	printf("  bytes written when one device changes: %ld\n", one_change);
	printf("  bytes written when nothing changes: %ld\n", no_change);
	app_destroy(a);
	monitor_free(m);
	inv_free(inv);
	free(res);
	fclose(out);
	fclose(in);
	unlink(path);
	rmdir(dir);
	free(path);
	fleet_rules_free(&rules);
	curl_global_cleanup();
	return 0;
}
