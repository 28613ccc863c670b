/* cmd_poll: `fleetdeck poll`: poll cycle after cycle, one line per cycle: the poller on its own thread, read through fleet snapshots, as the console does. */
#include "cli/cli.h"
#include "cli/cli_source.h"
#include "fleet/fleet.h"
#include "poll/poller.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fleetdeck poll [-i INVENTORY]... [--limit PATTERN] [--count N] [--interval S]\n"
		"                      [--forks N] [--timeout S] [--connect-timeout S] [--retries N]\n"
		"                      [--jitter S] [--slow-every N] [--backoff-max S] [--json]\n"
		"                      [--source poll|prometheus=URL[,...]]\n"
		"\n"
		"Polls the selected devices cycle after cycle (a cycle every --interval seconds) and\n"
		"prints one line per cycle: states, alerts, requests, new connections, time. Connections\n"
		"are kept alive between cycles; a device that stays unreachable is polled less often\n"
		"(backoff, up to --backoff-max). Nothing is recorded in the history.\n"
		"\n"
		"  -n, --count N         stop after N cycles (default: until interrupted)\n"
		"      --interval S      seconds from one cycle's start to the next (default 10)\n"
		"      --jitter S        spread each device's start over S seconds (default 0)\n"
		"      --slow-every N    fetch /metrics and /drift every Nth cycle (default 6; 0 never)\n"
		"      --backoff-max S   longest pause for an unreachable device (default 300)\n"
		"      --json            one JSON object per line, with every device\n"
		"      --source S        poll (the devices, default) or prometheus=URL[,...]: read their\n"
		"                        state from a Prometheus server each cycle (see --report --help)\n"
		"  (--limit, --forks, --timeout, --connect-timeout, --retries: as for report)\n"
		"\n"
		"Exit status: 0 stopped (count reached, SIGINT or SIGTERM); 2 could not run.\n");
}

/* What the poller's thread hands the main thread after each cycle. */
struct shared {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	fleet *fl;
	poll_cycle_info info;
	size_t fetched[POLL_EP_COUNT]; /* fetches this cycle, per endpoint */
	uint64_t cycles;       /* cycles published */
	uint64_t printed;      /* cycles the main thread has printed */
	bool quit;             /* the main thread prints no more */
	bool done;
	char *err;
};

static void publish(void *ctx, const poll_result *res, size_t n, const poll_cycle_info *info)
{
	struct shared *sh = ctx;
	pthread_mutex_lock(&sh->mu);
	/* one line per cycle: the last one is printed before this one lands */
	while (sh->printed != sh->cycles && !sh->quit)
		pthread_cond_wait(&sh->cv, &sh->mu);
	pthread_mutex_unlock(&sh->mu);
	fleet_apply(sh->fl, res, n);
	pthread_mutex_lock(&sh->mu);
	sh->info = *info;
	memset(sh->fetched, 0, sizeof sh->fetched);
	for (size_t i = 0; i < n; i++)
		for (int e = 0; e < POLL_EP_COUNT; e++)
			sh->fetched[e] += res[i].fetch[e].attempted;
	sh->cycles++;
	pthread_cond_broadcast(&sh->cv);
	pthread_mutex_unlock(&sh->mu);
}

struct thread_arg {
	poller *p;
	promsrc *ps;           /* instead of p: --source prometheus */
	struct shared *sh;
};

/* A cycle Prometheus could not answer: said, and the next one tried. */
static void prom_failed(void *ctx, const char *message)
{
	(void)ctx;
	fprintf(stderr, "fleetdeck poll: %s\n", message);
}

static void *poll_thread(void *arg)
{
	struct thread_arg *a = arg;
	char *err = NULL;
	int rc = a->ps ? promsrc_run(a->ps, publish, prom_failed, a->sh, &err) : poller_run(a->p, publish, a->sh, &err);
	pthread_mutex_lock(&a->sh->mu);
	a->sh->done = true;
	if (rc)
		a->sh->err = err ? err : xstrdup("the poller stopped");
	else
		free(err);
	pthread_cond_broadcast(&a->sh->cv);
	pthread_mutex_unlock(&a->sh->mu);
	return NULL;
}

static json_t *fetch_json(const poll_fetch *f, int64_t at)
{
	return json_pack("{s:b, s:o, s:I, s:I, s:i, s:f, s:I}", "ok", f->ok, "reason",
			 f->reason ? json_string(dev_reason_name(f->reason)) : json_null(), "http_status",
			 (json_int_t)f->http_status, "bytes", (json_int_t)f->body_len, "attempts", f->attempts, "rtt_ms",
			 round(f->rtt_ms * 1000) / 1000, "at_ms", (json_int_t)at);
}

static void print_cycle(const fleet_snapshot *s, const poll_cycle_info *info, const size_t *fetched, bool json)
{
	size_t backing_off = 0;
	for (size_t i = 0; i < s->ndevs; i++)
		backing_off += s->devs[i].next_poll_ms > s->ts_ms;
	if (!json) {
		printf("cycle %llu: %zu devices: %zu healthy, %zu degraded, %zu unhealthy, %zu unreachable",
		       (unsigned long long)info->cycle, s->ndevs, s->count[DEV_HEALTHY], s->count[DEV_DEGRADED],
		       s->count[DEV_UNHEALTHY], s->count[DEV_UNREACHABLE]);
		if (backing_off)
			printf(" (%zu backing off)", backing_off);
		printf("; %zu alerts; %ld requests, %ld new connections; %.0f ms\n", s->nalerts, info->requests,
		       info->connects, info->duration_ms);
		fflush(stdout);
		return;
	}
	json_t *devs = json_array(), *sum = json_object(), *fe = json_object();
	for (size_t i = 0; i < s->ndevs; i++) {
		const fleet_dev *d = &s->devs[i];
		json_t *fo = json_object();
		for (int e = 0; e < POLL_EP_COUNT; e++)
			if (d->fetch_ms[e])
				json_object_set_new(fo, poll_ep_name((poll_ep)e), fetch_json(&d->fetch[e], d->fetch_ms[e]));
		json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:i, s:I, s:I, s:o, s:o, s:o}", "host", d->host, "state",
				      dev_state_name(d->state), "reason",
				      d->reason ? json_string(dev_reason_name(d->reason)) : json_null(), "detail",
				      d->detail ? json_string(d->detail) : json_null(), "failures", d->failures,
				      "next_poll_ms", (json_int_t)d->next_poll_ms, "polled_at_ms", (json_int_t)d->ts_ms,
				      "model_version",
				      d->st.model_version && d->st_ms == d->ts_ms ? json_string(d->st.model_version) : json_null(),
				      "gpu_temp",
				      (d->st.have & DEV_HAVE_GPU_TEMP) && d->st_ms == d->ts_ms ? json_real(d->st.gpu_temp) : json_null(),
				      "fetch", fo);
		json_array_append_new(devs, o);
	}
	for (int st = 0; st < DEV_STATE_COUNT; st++)
		json_object_set_new(sum, dev_state_name((dev_state)st), json_integer((json_int_t)s->count[st]));
	for (int e = 0; e < POLL_EP_COUNT; e++)
		json_object_set_new(fe, poll_ep_name((poll_ep)e), json_integer((json_int_t)fetched[e]));
	json_t *alerts = json_array();
	for (size_t i = 0; i < s->nalerts; i++)
		json_array_append_new(alerts, json_pack("{s:s, s:s, s:s}", "host", s->alerts[i].host, "rule",
							fleet_rule_name(s->alerts[i].rule), "severity",
							fleet_severity_name(s->alerts[i].severity)));
	json_t *root = json_pack("{s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:b, s:o, s:o, s:o, s:o}", "cycle",
				 (json_int_t)info->cycle, "start_ms", (json_int_t)info->start_ms, "end_ms",
				 (json_int_t)info->end_ms, "duration_ms", round(info->duration_ms * 10) / 10, "requests",
				 (json_int_t)info->requests, "connects", (json_int_t)info->connects, "polled",
				 (json_int_t)info->polled, "skipped", (json_int_t)info->skipped, "slow_endpoints",
				 info->slow_endpoints, "summary", sum, "fetched", fe, "alerts", alerts, "devices", devs);
	char *line = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	puts(line);
	fflush(stdout);
	free(line);
	json_decref(root);
}

static int parse_num(const char *opt, const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || !(v >= lo && v <= hi)) {
		fprintf(stderr, "fleetdeck poll: %s: expected a number from %.15g to %.15g, got '%s'\n", opt, lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

enum { O_INTERVAL = 256, O_CONNECT, O_RETRIES, O_JITTER, O_SLOW, O_BACKOFF, O_JSON, O_SOURCE };

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run(struct app *app, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_INVENTORY,
		{ "limit", required_argument, NULL, 'l' },
		{ "count", required_argument, NULL, 'n' },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "forks", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "connect-timeout", required_argument, NULL, O_CONNECT },
		{ "retries", required_argument, NULL, O_RETRIES },
		{ "jitter", required_argument, NULL, O_JITTER },
		{ "slow-every", required_argument, NULL, O_SLOW },
		{ "backoff-max", required_argument, NULL, O_BACKOFF },
		{ "json", no_argument, NULL, O_JSON },
		{ "source", required_argument, NULL, O_SOURCE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *limit = NULL;
	double count = 0, v;
	bool json = false;
	cli_source src = { 0 };
	/* settings file first, the command line over it */
	if (cli_load_config(app))
		return EXIT_USAGE;
	poller_opts po = app->cfg.poll;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:l:n:f:T:h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case 'i': cli_add_inventory(app, optarg); break;
		case 'l': limit = optarg; break;
		case 'n': bad = parse_num("--count", optarg, 1, 1e9, &count) || count != floor(count); break;
		case O_INTERVAL:
			if (!(bad = parse_num("--interval", optarg, 0.01, 86400, &v)))
				po.interval_ms = (int)ceil(v * 1000);
			break;
		case 'f':
			if (!(bad = parse_num("--forks", optarg, 1, 100000, &v) || v != floor(v)))
				po.forks = (int)v;
			break;
		case 'T':
			if (!(bad = parse_num("--timeout", optarg, 0.001, 3600, &v)))
				po.timeout_ms = (int)ceil(v * 1000);
			break;
		case O_CONNECT:
			if (!(bad = parse_num("--connect-timeout", optarg, 0.001, 3600, &v)))
				po.connect_timeout_ms = (int)ceil(v * 1000);
			break;
		case O_RETRIES:
			if (!(bad = parse_num("--retries", optarg, 0, 10, &v) || v != floor(v)))
				po.retries = (int)v;
			break;
		case O_JITTER:
			if (!(bad = parse_num("--jitter", optarg, 0, 3600, &v)))
				po.jitter_ms = (int)(v * 1000);
			break;
		case O_SLOW:
			if (!(bad = parse_num("--slow-every", optarg, 0, 1e6, &v) || v != floor(v)))
				po.slow_every = (int)v;
			break;
		case O_BACKOFF:
			if (!(bad = parse_num("--backoff-max", optarg, 0.001, 86400, &v)))
				po.backoff_max_ms = (int)ceil(v * 1000);
			break;
		case O_JSON: json = true; break;
		case O_SOURCE: bad = cli_source_parse("poll", optarg, &src) != 0; break;
		case 'h': cli_source_clear(&src); usage(stdout); return EXIT_OK;
		default: cli_source_clear(&src); usage(stderr); return EXIT_USAGE;
		}
		if (bad) {
			/* parse_num said what was wrong, unless the number was only not whole */
			char *end;
			if ((c == 'n' || c == 'f' || c == O_RETRIES || c == O_SLOW) && strtod(optarg, &end) && !*end)
				fprintf(stderr, "fleetdeck poll: expected a whole number, got '%s'\n", optarg);
			cli_source_clear(&src);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fleetdeck poll: unexpected argument '%s'\n", argv[optind]);
		cli_source_clear(&src);
		return EXIT_USAGE;
	}
	inventory *inv = cli_load_inventory(app);
	if (!inv) {
		cli_source_clear(&src);
		return EXIT_USAGE;
	}
	cli_raise_fd_limit();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	char *err = NULL;
	int rc = EXIT_USAGE;
	poller *p = NULL;
	promsrc *ps = NULL;
	struct shared sh = { .fl = fleet_new(&app->cfg.rules) };
	pthread_mutex_init(&sh.mu, NULL);
	pthread_cond_init(&sh.cv, NULL);
	size_t skipped;
	if (src.prometheus) {
		src.prom.interval_ms = po.interval_ms;
		src.prom.timeout_ms = po.timeout_ms > src.prom.timeout_ms ? po.timeout_ms : src.prom.timeout_ms;
		ps = promsrc_new(&src.prom, &err);
	} else {
		p = poller_new(&po, &err);
	}
	if ((!p && !ps) || (ps ? cli_prom_targets(inv, limit, ps, sh.fl, &skipped, "poll")
			       : cli_poll_targets(inv, limit, p, sh.fl, &skipped, "poll")) <= 0) {
		if ((p || ps) && !err)
			fprintf(stderr, "fleetdeck poll: no devices to poll\n");
		goto out;
	}
	/* SIGINT and SIGTERM are taken by sigtimedwait below, never by a handler: the
	 * poller's thread inherits the blocked mask */
	sigset_t sigs, old;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	struct thread_arg ta = { p, ps, &sh };
	pthread_t th;
	if (pthread_create(&th, NULL, poll_thread, &ta)) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		err = xstrdup("cannot start the polling thread");
		goto out;
	}
	uint64_t printed = 0;
	bool stop = false;
	while (!stop) {
		struct timespec zero = { 0, 0 };
		if (sigtimedwait(&sigs, NULL, &zero) > 0)
			break;
		pthread_mutex_lock(&sh.mu);
		if (sh.cycles == printed && !sh.done) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 100 * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&sh.cv, &sh.mu, &until);
		}
		bool done = sh.done;
		uint64_t cycles = sh.cycles;
		poll_cycle_info info = sh.info;
		size_t fetched[POLL_EP_COUNT];
		memcpy(fetched, sh.fetched, sizeof fetched);
		pthread_mutex_unlock(&sh.mu);
		if (cycles != printed) {
			fleet_snapshot *s = fleet_snapshot_take(sh.fl, now_ms());
			print_cycle(s, &info, fetched, json);
			fleet_snapshot_free(s);
			printed = cycles;
			if (count > 0 && (double)printed >= count)
				stop = true;
			pthread_mutex_lock(&sh.mu);
			sh.printed = printed;
			sh.quit = stop;
			pthread_cond_broadcast(&sh.cv);
			pthread_mutex_unlock(&sh.mu);
		}
		if (done)
			break;
	}
	pthread_mutex_lock(&sh.mu);
	sh.quit = true;
	pthread_cond_broadcast(&sh.cv);
	pthread_mutex_unlock(&sh.mu);
	if (ps)
		promsrc_stop(ps);
	else
		poller_stop(p);
	pthread_join(th, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (sh.err) {
		err = sh.err;
		sh.err = NULL;
	} else {
		rc = EXIT_OK;
	}
out:
	if (err) {
		fprintf(stderr, "fleetdeck poll: %s\n", err);
		free(err);
	}
	poller_free(p);
	promsrc_free(ps);
	cli_source_clear(&src);
	fleet_free(sh.fl);
	pthread_mutex_destroy(&sh.mu);
	pthread_cond_destroy(&sh.cv);
	curl_global_cleanup();
	inv_free(inv);
	return rc;
}

const struct command cmd_poll = {
	.name = "poll",
	.summary = "poll the devices cycle after cycle, a line per cycle",
	.run = run,
	.usage = usage,
};
