/* cmd_serve_metrics: `fleetdeck serve-metrics`: a Prometheus exporter polling the fleet (the monitor, as the console) and serving /metrics. */
#include "cli/cli.h"
#include "export/metricsrv.h"
#include "export/promfleet.h"
#include "metrics/expo.h"
#include "monitor/monitor.h"
#include "rollout/rolldb.h"
#include "store/store.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fleetdeck serve-metrics --listen ADDR:PORT [-i INVENTORY]... [--limit PATTERN]\n"
		"                               [--interval S] [--forks N] [--timeout S]\n"
		"                               [--db FILE [--no-history]] [--max-clients N]\n"
		"                               [--max-clients-per-address N] [--client-timeout S]\n"
		"\n"
		"A Prometheus exporter: polls every selected device each interval (as the console does)\n"
		"and answers GET /metrics with the fleet's metrics (the same as `--report --format\n"
		"prometheus`), plus the rollouts of the history database when --db is given.\n"
		"SIGTERM, SIGINT or SIGHUP stop it.\n"
		"\n"
		"  -L, --listen ADDR:PORT  where to listen: an IPv4 address or [IPv6], and a port\n"
		"  -l, --limit PATTERN     only the hosts matching an Ansible host pattern\n"
		"      --interval S        seconds between poll cycles (default 10)\n"
		"  -f, --forks N           devices polled at once (default 256)\n"
		"  -T, --timeout S         seconds allowed for each request (default 5)\n"
		"      --db FILE           the history database: rollouts are read from it, and every\n"
		"                          cycle is recorded in it (as the console does)\n"
		"      --no-history        with --db: read the rollouts, record nothing\n"
		"      --max-clients N     connections served at once (default 64)\n"
		"      --max-clients-per-address N  connections from one address at once (default 8)\n"
		"      --client-timeout S  an idle connection is closed after S seconds (default 10)\n"
		"\n"
		"Exit status: 0 stopped by a signal; 2 could not start (usage, inventory, address).\n");
}

struct opts {
	const char *listen, *limit, *db;
	bool no_history;
	int interval_ms, forks, timeout_ms;
	int max_clients, per_ip, client_timeout_s;
};

static int parse_seconds(const char *opt, const char *s, double lo, int *ms)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || !(v >= lo && v <= 3600)) {
		fprintf(stderr, "fleetdeck serve-metrics: %s: expected seconds from %g to 3600, got '%s'\n", opt, lo, s);
		return -1;
	}
	*ms = (int)ceil(v * 1000);
	return 0;
}

static int parse_int(const char *opt, const char *s, long lo, long hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi) {
		fprintf(stderr, "fleetdeck serve-metrics: %s: expected a whole number from %ld to %ld, got '%s'\n", opt,
			lo, hi, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

enum { O_INTERVAL = 256, O_DB, O_NO_HISTORY, O_MAX, O_PER_IP, O_CTIMEOUT };

static int parse_args(struct app *app, int argc, char **argv, struct opts *o)
{
	static const struct option opts[] = {
		CLI_OPT_INVENTORY,
		{ "listen", required_argument, NULL, 'L' },
		{ "limit", required_argument, NULL, 'l' },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "forks", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "db", required_argument, NULL, O_DB },
		{ "no-history", no_argument, NULL, O_NO_HISTORY },
		{ "max-clients", required_argument, NULL, O_MAX },
		{ "max-clients-per-address", required_argument, NULL, O_PER_IP },
		{ "client-timeout", required_argument, NULL, O_CTIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c, ms;
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:L:l:f:T:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': cli_add_inventory(app, optarg); break;
		case 'L': o->listen = optarg; break;
		case 'l': o->limit = optarg; break;
		case O_INTERVAL:
			if (parse_seconds("--interval", optarg, 0.1, &o->interval_ms))
				return EXIT_USAGE;
			break;
		case 'f':
			if (parse_int("--forks", optarg, 1, 100000, &o->forks))
				return EXIT_USAGE;
			break;
		case 'T':
			if (parse_seconds("--timeout", optarg, 0.001, &o->timeout_ms))
				return EXIT_USAGE;
			break;
		case O_DB: o->db = optarg; break;
		case O_NO_HISTORY: o->no_history = true; break;
		case O_MAX:
			if (parse_int("--max-clients", optarg, 1, 10000, &o->max_clients))
				return EXIT_USAGE;
			break;
		case O_PER_IP:
			if (parse_int("--max-clients-per-address", optarg, 1, 10000, &o->per_ip))
				return EXIT_USAGE;
			break;
		case O_CTIMEOUT:
			if (parse_seconds("--client-timeout", optarg, 1, &ms))
				return EXIT_USAGE;
			o->client_timeout_s = (ms + 999) / 1000;
			break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fleetdeck serve-metrics: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!o->listen) {
		fprintf(stderr, "fleetdeck serve-metrics: --listen ADDR:PORT is required\n");
		return EXIT_USAGE;
	}
	struct sockaddr_storage ss;
	char *err = NULL;
	if (metricsrv_parse_listen(o->listen, &ss, &err)) {
		fprintf(stderr, "fleetdeck serve-metrics: --listen %s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	return -1;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct exporter {
	monitor *mon;
	metricsrv *srv;
	const char *db_path;   /* NULL: no rollouts */
	rolldb *rdb;
	char *last_err;        /* the last rollout-reading error printed, not to repeat it each cycle */
	size_t skipped;
};

/* Rollouts into e; an error is printed once (until it changes or clears). */
static void add_rollouts(struct exporter *x, expo *e)
{
	char *err = NULL;
	if (!x->rdb)
		x->rdb = rolldb_open(x->db_path, 1000, &err);
	if (x->rdb && promfleet_rollouts(e, x->rdb, now_ms(), &err) == 0) {
		free(x->last_err);
		x->last_err = NULL;
		return;
	}
	if (!x->last_err || strcmp(x->last_err, err)) {
		fprintf(stderr, "fleetdeck serve-metrics: rollouts: %s\n", err);
		free(x->last_err);
		x->last_err = xstrdup(err);
	}
	free(err);
	rolldb_close(x->rdb); /* opened afresh next cycle */
	x->rdb = NULL;
}

static void publish(struct exporter *x)
{
	fleet_snapshot *s = monitor_snapshot(x->mon, now_ms());
	poll_cycle_info info;
	bool have = monitor_last_cycle(x->mon, &info);
	monitor_stats st;
	monitor_get_stats(x->mon, &st);
	promfleet_info pi = { .cycle = have ? &info : NULL, .skipped = x->skipped, .cycles = st.cycles };
	expo *e = expo_new();
	promfleet_write(e, s, &pi);
	if (!pi.cycles) { /* a counter from 0, so the first scrape already has it */
		expo_family(e, "fleetdeck_cycles_total", "counter", "Poll cycles run since the exporter started.");
		expo_sample(e, NULL, 0);
	}
	if (x->db_path)
		add_rollouts(x, e);
	size_t len;
	const char *text = expo_text(e, &len);
	if (expo_error(e))
		fprintf(stderr, "fleetdeck serve-metrics: internal: %s\n", expo_error(e));
	metricsrv_publish(x->srv, text, len);
	expo_free(e);
	fleet_snapshot_free(s);
	char *merr = monitor_error(x->mon);
	if (merr) {
		fprintf(stderr, "fleetdeck serve-metrics: polling: %s\n", merr);
		free(merr);
	}
}

static int run(struct app *app, int argc, char **argv)
{
	struct opts o = { 0 };
	int prc = parse_args(app, argc, argv, &o);
	if (prc >= 0)
		return prc;
	inventory *inv = cli_load_inventory(app);
	if (!inv)
		return EXIT_USAGE;
	/* signals only through the signalfd: blocked before any thread starts */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);

	cli_raise_fd_limit();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = EXIT_USAGE;
	char *err = NULL;
	char *db = o.db ? xstrdup(o.db) : app->db_path ? xstrdup(app->db_path) : NULL;
	monitor_opts mo = { .poll = app->cfg.poll, .rules = &app->cfg.rules, .limit = o.limit, .who = "serve-metrics" };
	mo.poll.skip[POLL_EP_DRIFT] = true; /* nothing reads the drift window yet: do not fetch it */
	if (o.interval_ms)
		mo.poll.interval_ms = o.interval_ms;
	if (o.forks)
		mo.poll.forks = o.forks;
	if (o.timeout_ms)
		mo.poll.timeout_ms = o.timeout_ms;
	if (db && !o.no_history)
		mo.db_path = db;
	struct exporter x = { .db_path = db };
	x.mon = monitor_new(inv, &mo, &err);
	if (!x.mon)
		goto out;
	x.skipped = monitor_warning_count(x.mon);
	for (size_t i = 0; i < x.skipped; i++)
		fprintf(stderr, "[WARNING]: %s\n", monitor_warning(x.mon, i));
	metricsrv_opts so = {
		.listen = o.listen,
		.max_conns = (unsigned)o.max_clients,
		.per_ip = (unsigned)o.per_ip,
		.timeout_s = (unsigned)o.client_timeout_s,
	};
	x.srv = metricsrv_start(&so, &err);
	if (!x.srv) {
		char *e2 = xasprintf("cannot listen on %s", err);
		free(err);
		err = e2;
		goto out;
	}
	publish(&x); /* every device pending: scrapeable from the start */
	if (monitor_start(x.mon, &err))
		goto out;
	fprintf(stderr, "fleetdeck serve-metrics: serving http://%s/metrics\n", o.listen);
	struct pollfd pf[2] = { { .fd = monitor_wake_fd(x.mon), .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			err = xasprintf("poll: %s", strerror(errno));
			goto out;
		}
		if (pf[1].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
				break;
		}
		if (pf[0].revents) {
			monitor_ack(x.mon);
			publish(&x);
		}
	}
	rc = EXIT_OK;
out:
	if (err) {
		fprintf(stderr, "fleetdeck serve-metrics: %s\n", err);
		free(err);
	}
	metricsrv_stop(x.srv);
	monitor_free(x.mon);
	rolldb_close(x.rdb);
	free(x.last_err);
	curl_global_cleanup();
	free(db);
	if (sfd >= 0)
		close(sfd); /* the signals stay blocked: a second SIGTERM while exiting is no crash */
	inv_free(inv);
	return rc;
}

const struct command cmd_serve_metrics = {
	.name = "serve-metrics",
	.summary = "a Prometheus exporter: poll the fleet and serve GET /metrics",
	.run = run,
	.usage = usage,
};
