/* cmd_report: `fleetdeck --report` / `fleetdeck report`: one poll cycle over the inventory, an ALERT block per alerting device, for cron. */
#include "cli/cli.h"
#include "export/alertmgr.h"
#include "export/promfleet.h"
#include "cli/cli_source.h"
#include "drift/driftwatch.h"
#include "fleet/history.h"
#include "fleet/fleet.h"
#include "metrics/devmetrics.h"
#include "poll/poller.h"
#include "store/store.h"
#include "util/atomicfile.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fleetdeck --report [-i INVENTORY]... [--limit PATTERN] [--forks N] [--timeout S]\n"
		"                          [--connect-timeout S] [--format text|json|prometheus] [--quiet]\n"
		"                          [--output FILE] [--db FILE | --no-history] [--gpu-temp-warn C]\n"
		"                          [--gpu-temp-crit C] [--expected-version V]\n"
		"                          [--alertmanager URL [--alert-state FILE] [--alert-ttl S]]\n"
		"                          [--source poll|prometheus=URL[,...]]\n"
		"       fleetdeck report ...  (the same)\n"
		"\n"
		"Polls every selected device once (GET /status, /health, /metrics and /drift, in\n"
		"parallel; /metrics fills in readings /status lacks), then prints\n"
		"an ALERT block for each device an alert rule fires on, and a one-line summary.\n"
		"\n"
		"  -l, --limit PATTERN     only the hosts matching an Ansible host pattern (as\n"
		"                          ansible --limit: groups, globs, ~regex, a:b, a:&b, a:!b, @file)\n"
		"  -f, --forks N           devices polled at once (default 256)\n"
		"  -T, --timeout S         seconds allowed for each request, retries included (default 5)\n"
		"      --connect-timeout S seconds allowed for a connection (default 2)\n"
		"      --retries N         quick retries of a failed connection (default 1)\n"
		"      --format F          text (default), json (stable keys, for scripts) or prometheus\n"
		"                          (the text exposition format, for node_exporter's textfile collector)\n"
		"      --json              the same as --format json\n"
		"  -o, --output FILE       with --format prometheus: write FILE (through a temporary file\n"
		"                          renamed over it, as the textfile collector needs), not stdout\n"
		"  -q, --quiet             print nothing when nothing alerts (for `cron | mail`)\n"
		"      --db FILE           record the cycle and its alerts in this history database\n"
		"      --no-history        record nothing\n"
		"      --gpu-temp-warn C   GPU temperature warning threshold (default 80)\n"
		"      --gpu-temp-crit C   GPU temperature critical threshold (default 90)\n"
		"      --expected-version V  the model version every device should run (default: each\n"
		"                          model's most common version)\n"
		"      --alertmanager URL  also post the alerts to this Alertmanager (API v2), and resolve\n"
		"                          the ones the previous run posted that no longer fire\n"
		"      --alert-state FILE  what was posted, kept for the next run (default: the history\n"
		"                          database's path with .alertmanager.json added)\n"
		"      --alert-ttl S       a posted alert stays active this long unless posted again\n"
		"                          (default 900; keep it above the report's interval)\n"
		"      --source S          where device state comes from: poll (the devices, default) or\n"
		"                          prometheus=URL[,label=L][,match=T][,job=J][,window=W]: a Prometheus\n"
		"                          server that scrapes the devices' exporters (see the user guide)\n"
		"\n"
		"Alert rules: unreachable, health (degraded or unhealthy, or a bad answer), gpu_temp,\n"
		"version_skew, drift; thresholds also from `alerts:` in the settings file.\n"
		"Drift: each device's /drift window against the registry baseline of the model\n"
		"version it runs (model_registry in the inventory), and each factory's windows\n"
		"pooled; drifted factories are listed after the ALERT blocks.\n"
		"Exit status: 0 no alerts; 1 alerts; 2 could not run (usage, inventory, history, --output);\n"
		"3 the report ran but Alertmanager could not be reached or refused the alerts.\n");
}

struct opts {
	const char *limit;
	const char *db;
	bool no_history, quiet, json;
	int forks, timeout_ms, connect_timeout_ms, retries;
	double temp_warn, temp_crit;
	const char *expected;
	bool prom;
	const char *output, *alertmanager, *alert_state;
	int alert_ttl_ms;
	cli_source source;
};

enum { EXIT_ALERTMANAGER = 3 };

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_seconds(const char *opt, const char *s, int *ms)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || !(v > 0 && v <= 3600)) {
		fprintf(stderr, "fleetdeck report: %s: expected seconds from 0.001 to 3600, got '%s'\n", opt, s);
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
		fprintf(stderr, "fleetdeck report: %s: expected a whole number from %ld to %ld, got '%s'\n", opt, lo, hi, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int parse_temp(const char *opt, const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || !(v >= -50 && v <= 200)) {
		fprintf(stderr, "fleetdeck report: %s: expected °C from -50 to 200, got '%s'\n", opt, s);
		return -1;
	}
	*out = v;
	return 0;
}

enum { O_CONNECT = 256, O_RETRIES, O_FORMAT, O_JSON, O_DB, O_NO_HISTORY, O_WARN, O_CRIT, O_EXPECTED, O_AM, O_AM_STATE, O_AM_TTL, O_SOURCE };

static int parse_args(struct app *app, int argc, char **argv, struct opts *o)
{
	static const struct option opts[] = {
		CLI_OPT_INVENTORY,
		{ "limit", required_argument, NULL, 'l' },
		{ "forks", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "connect-timeout", required_argument, NULL, O_CONNECT },
		{ "retries", required_argument, NULL, O_RETRIES },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "db", required_argument, NULL, O_DB },
		{ "no-history", no_argument, NULL, O_NO_HISTORY },
		{ "gpu-temp-warn", required_argument, NULL, O_WARN },
		{ "gpu-temp-crit", required_argument, NULL, O_CRIT },
		{ "expected-version", required_argument, NULL, O_EXPECTED },
		{ "output", required_argument, NULL, 'o' },
		{ "alertmanager", required_argument, NULL, O_AM },
		{ "alert-state", required_argument, NULL, O_AM_STATE },
		{ "alert-ttl", required_argument, NULL, O_AM_TTL },
		{ "source", required_argument, NULL, O_SOURCE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:l:f:T:qho:", opts, NULL)) != -1) {
		switch (c) {
		case 'i': cli_add_inventory(app, optarg); break;
		case 'l': o->limit = optarg; break;
		case 'f':
			if (parse_int("--forks", optarg, 1, 100000, &o->forks))
				return EXIT_USAGE;
			break;
		case 'T':
			if (parse_seconds("--timeout", optarg, &o->timeout_ms))
				return EXIT_USAGE;
			break;
		case O_CONNECT:
			if (parse_seconds("--connect-timeout", optarg, &o->connect_timeout_ms))
				return EXIT_USAGE;
			break;
		case O_RETRIES:
			if (parse_int("--retries", optarg, 0, 10, &o->retries))
				return EXIT_USAGE;
			break;
		case O_FORMAT:
			if (strcmp(optarg, "text") && strcmp(optarg, "json") && strcmp(optarg, "prometheus")) {
				fprintf(stderr, "fleetdeck report: --format: expected text, json or prometheus, got '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			o->json = !strcmp(optarg, "json");
			o->prom = !strcmp(optarg, "prometheus");
			break;
		case O_JSON: o->json = true; break;
		case 'q': o->quiet = true; break;
		case O_DB: o->db = optarg; break;
		case O_NO_HISTORY: o->no_history = true; break;
		case O_WARN:
			if (parse_temp("--gpu-temp-warn", optarg, &o->temp_warn))
				return EXIT_USAGE;
			break;
		case O_CRIT:
			if (parse_temp("--gpu-temp-crit", optarg, &o->temp_crit))
				return EXIT_USAGE;
			break;
		case O_EXPECTED:
			if (!*optarg) {
				fprintf(stderr, "fleetdeck report: --expected-version: expected a version\n");
				return EXIT_USAGE;
			}
			o->expected = optarg;
			break;
		case 'o': o->output = optarg; break;
		case O_AM:
			if (!alertmgr_url_ok(optarg)) {
				fprintf(stderr, "fleetdeck report: --alertmanager: expected an http:// or https:// URL, got '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			o->alertmanager = optarg;
			break;
		case O_AM_STATE: o->alert_state = optarg; break;
		case O_AM_TTL:
			if (parse_seconds("--alert-ttl", optarg, &o->alert_ttl_ms))
				return EXIT_USAGE;
			break;
		case O_SOURCE:
			if (cli_source_parse("report", optarg, &o->source))
				return EXIT_USAGE;
			break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fleetdeck report: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (o->output && !o->prom) {
		fprintf(stderr, "fleetdeck report: --output is for --format prometheus\n");
		return EXIT_USAGE;
	}
	if ((o->alert_state || o->alert_ttl_ms) && !o->alertmanager) {
		fprintf(stderr, "fleetdeck report: --alert-state and --alert-ttl go with --alertmanager\n");
		return EXIT_USAGE;
	}
	return -1;
}

/* Device text goes to terminals and mail: control characters become '?'. */
static void put_clean(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

static json_t *iso_time(int64_t ms)
{
	if (!ms)
		return json_null();
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[48], out[64];
	if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm))
		return json_null();
	snprintf(out, sizeof out, "%s.%03dZ", buf, (int)(ms % 1000));
	return json_string(out);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static bool fresh(const fleet_dev *d)
{
	return d->st.status && d->st_ms == d->ts_ms && d->ts_ms;
}

static json_t *real_or_null(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

/* A drift comparison: {"baseline", "severity", "max_ks", "samples", "features": {NAME:
 * {"ks_statistic", "ks_pvalue", "wasserstein", "threshold", "drifted", "severity"}}, "error"},
 * or null when nothing is known. */
static json_t *drift_json(const fleet_drift *dr)
{
	if (!dr->ts_ms)
		return json_null();
	json_t *feats = json_object();
	for (size_t i = 0; i < dr->nfeatures; i++) {
		const drift_feature *f = &dr->features[i];
		json_object_set_new(feats, f->name,
				    json_pack("{s:o, s:o, s:o, s:f, s:b, s:s}", "ks_statistic", real_or_null(f->ks.statistic),
					      "ks_pvalue", real_or_null(f->ks.pvalue), "wasserstein",
					      real_or_null(f->wasserstein), "threshold", f->threshold, "drifted", f->drifted,
					      "severity", drift_severity_name(f->severity)));
	}
	bool ok = !dr->error && dr->nfeatures;
	return json_pack("{s:o, s:o, s:o, s:I, s:o, s:o, s:o}", "baseline", str_or_null(dr->baseline), "severity",
			 ok ? json_string(drift_severity_name(dr->severity)) : json_null(), "max_ks",
			 ok ? real_or_null(dr->max_ks) : json_null(), "samples", (json_int_t)dr->samples, "features",
			 feats, "error", str_or_null(dr->error), "window_at", iso_time(dr->ts_ms));
}

static json_t *device_json(const fleet_dev *d)
{
	bool fr = fresh(d);
	json_t *o = json_object();
	json_object_set_new(o, "host", json_string(d->host));
	json_object_set_new(o, "factory", str_or_null(d->factory));
	json_object_set_new(o, "state", json_string(dev_state_name(d->state)));
	json_object_set_new(o, "reason", d->reason ? json_string(dev_reason_name(d->reason)) : json_null());
	json_object_set_new(o, "detail", str_or_null(d->detail));
	json_object_set_new(o, "status", str_or_null(fr ? d->st.status : NULL));
	json_object_set_new(o, "model_name", str_or_null(fr ? d->st.model_name : NULL));
	json_object_set_new(o, "model_version", str_or_null(fr ? d->st.model_version : NULL));
	json_object_set_new(o, "gpu_type", str_or_null(d->gpu_type));
	json_object_set_new(o, "gpu_temp", fr && (d->st.have & DEV_HAVE_GPU_TEMP) ? json_real(d->st.gpu_temp) : json_null());
	json_object_set_new(o, "uptime_hours",
			    fr && (d->st.have & DEV_HAVE_UPTIME) ? json_real(d->st.uptime_hours) : json_null());
	json_object_set_new(o, "model_loaded",
			    d->st.have & DEV_HAVE_MODEL_LOADED && fr ? json_boolean(d->st.model_loaded) : json_null());
	json_object_set_new(o, "last_seen", iso_time(d->last_seen_ms));
	json_object_set_new(o, "last_seen_ms", d->last_seen_ms ? json_integer(d->last_seen_ms) : json_null());
	json_object_set_new(o, "polled_at", iso_time(d->ts_ms));
	json_object_set_new(o, "rtt_ms", d->rtt_ms >= 0 ? json_real(round(d->rtt_ms * 1000) / 1000) : json_null());
	json_object_set_new(o, "attempts", json_integer(d->fetch[POLL_EP_STATUS].attempts));
	json_object_set_new(o, "drift", drift_json(&d->drift));
	return o;
}

static void print_json(const fleet_snapshot *s, const poll_cycle_info *info, size_t skipped)
{
	json_t *root = json_object(), *devs = json_array(), *alerts = json_array(), *sum = json_object();
	for (size_t i = 0; i < s->ndevs; i++)
		json_array_append_new(devs, device_json(&s->devs[i]));
	for (size_t i = 0; i < s->nalerts; i++) {
		const fleet_alert *a = &s->alerts[i];
		json_array_append_new(alerts, json_pack("{s:s, s:o, s:s, s:s, s:s}", "host", a->host, "factory",
							str_or_null(s->devs[a->dev].factory), "severity",
							fleet_severity_name(a->severity), "rule", fleet_rule_name(a->rule),
							"message", a->message));
	}
	json_object_set_new(sum, "total", json_integer((json_int_t)s->ndevs));
	for (int st = 0; st < DEV_STATE_COUNT; st++)
		json_object_set_new(sum, dev_state_name((dev_state)st), json_integer((json_int_t)s->count[st]));
	json_object_set_new(sum, "alerts", json_integer((json_int_t)s->nalerts));
	json_object_set_new(sum, "critical", json_integer((json_int_t)s->ncritical));
	json_object_set_new(sum, "warning", json_integer((json_int_t)s->nwarning));
	json_object_set_new(sum, "skipped", json_integer((json_int_t)skipped));
	json_object_set_new(sum, "duration_ms", json_real(round(info->duration_ms * 10) / 10));
	json_object_set_new(sum, "requests", json_integer(info->requests));
	json_object_set_new(sum, "connects", json_integer(info->connects));
	json_t *fdrift = json_array();
	for (size_t i = 0; i < s->nfactory_drift; i++) {
		const fleet_factory_drift *g = &s->factory_drift[i];
		json_t *o = drift_json(&g->drift);
		if (!json_is_object(o))
			o = json_object();
		json_object_set_new(o, "factory", str_or_null(g->factory));
		json_object_set_new(o, "devices", json_integer((json_int_t)g->devices));
		json_array_append_new(fdrift, o);
	}
	json_object_set_new(root, "devices", devs);
	json_object_set_new(root, "alerts", alerts);
	json_object_set_new(root, "factory_drift", fdrift);
	json_object_set_new(root, "summary", sum);
	cli_print_json(root);
	json_decref(root);
}

/* The status as the device put it (the seed's field) when that is what made its state;
 * else the state, upper-case, and why (UNREACHABLE (refused: ...)). */
static void print_status(const fleet_dev *d)
{
	if (fresh(d) && dev_state_from_status(&d->st) == d->state) {
		put_clean(stdout, d->st.status);
		putchar('\n');
		return;
	}
	for (const char *p = dev_state_name(d->state); *p; p++)
		putchar(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	if (d->reason) {
		printf(" (%s", dev_reason_name(d->reason));
		if (d->detail) {
			fputs(": ", stdout);
			put_clean(stdout, d->detail);
		}
		putchar(')');
	}
	putchar('\n');
}

/* "warning, max KS 0.213 against defect-detection:3.1 (mean_intensity 0.213, contrast 0.140)" */
static void print_drift(const fleet_drift *dr)
{
	printf("%s, max KS %.3f against ", dr->severity == DRIFT_NONE ? "none" : drift_severity_name(dr->severity),
	       dr->max_ks);
	put_clean(stdout, dr->baseline ? dr->baseline : "?");
	size_t shown = 0;
	for (size_t i = 0; i < dr->nfeatures; i++) {
		if (!dr->features[i].drifted)
			continue;
		fputs(shown++ ? ", " : " (", stdout);
		put_clean(stdout, dr->features[i].name);
		printf(" %.3f", dr->features[i].ks.statistic);
	}
	fputs(shown ? ")\n" : "\n", stdout);
}

static void print_text(const fleet_snapshot *s, const poll_cycle_info *info, size_t skipped)
{
	for (size_t i = 0; i < s->ndevs; i++) {
		const fleet_dev *d = &s->devs[i];
		size_t first = s->nalerts;
		for (size_t k = 0; k < s->nalerts && first == s->nalerts; k++)
			if (s->alerts[k].dev == i)
				first = k;
		if (first == s->nalerts)
			continue;
		bool fr = fresh(d);
		fputs("ALERT: ", stdout);
		put_clean(stdout, d->host);
		fputs("\n  Factory:       ", stdout);
		put_clean(stdout, d->factory ? d->factory : "-");
		fputs("\n  Status:        ", stdout);
		print_status(d);
		fputs("  Model version: ", stdout);
		put_clean(stdout, fr && d->st.model_version ? d->st.model_version : "unknown");
		if (fr && (d->st.have & DEV_HAVE_GPU_TEMP))
			printf("\n  GPU Temp:      %.1f °C\n", d->st.gpu_temp);
		else
			fputs("\n  GPU Temp:      N/A\n", stdout);
		if (fr && (d->st.have & DEV_HAVE_UPTIME))
			printf("  Uptime:        %.1f h\n", d->st.uptime_hours);
		else
			fputs("  Uptime:        N/A\n", stdout);
		if (d->drift.ts_ms && !d->drift.error && d->drift.nfeatures) {
			fputs("  Drift:         ", stdout);
			print_drift(&d->drift);
		}
		for (size_t k = first; k < s->nalerts && s->alerts[k].dev == i; k++) {
			printf("  Alert:         %s %s: ", fleet_severity_name(s->alerts[k].severity),
			       fleet_rule_name(s->alerts[k].rule));
			put_clean(stdout, s->alerts[k].message);
			putchar('\n');
		}
		putchar('\n');
	}
	for (size_t i = 0; i < s->nfactory_drift; i++) {
		const fleet_factory_drift *g = &s->factory_drift[i];
		if (g->drift.error || g->drift.severity == DRIFT_NONE)
			continue;
		fputs("FACTORY DRIFT: ", stdout);
		put_clean(stdout, g->factory ? g->factory : "(no factory)");
		printf(" (%zu devices pooled)\n  Drift:         ", g->devices);
		print_drift(&g->drift);
		putchar('\n');
	}
	printf("fleetdeck report: %zu devices: %zu healthy, %zu degraded, %zu unhealthy, %zu unreachable", s->ndevs,
	       s->count[DEV_HEALTHY], s->count[DEV_DEGRADED], s->count[DEV_UNHEALTHY], s->count[DEV_UNREACHABLE]);
	if (s->count[DEV_STALE])
		printf(", %zu stale", s->count[DEV_STALE]);
	if (skipped)
		printf(", %zu not polled (inventory errors)", skipped);
	printf("; %zu alerts (%zu critical, %zu warning); %.2f s\n", s->nalerts, s->ncritical, s->nwarning,
	       info->duration_ms / 1000.0);
}

static char *db_path(struct app *app, const struct opts *o)
{
	if (o->db)
		return xstrdup(o->db);
	if (app->db_path)
		return xstrdup(app->db_path);
	return app->cfg.db ? xstrdup(app->cfg.db) : store_default_path();
}

/* The report as Prometheus metrics (export/promfleet.c), on stdout or into --output. */
static int print_prometheus(const fleet_snapshot *s, const poll_cycle_info *info, size_t skipped,
			    const char *output, char **err)
{
	expo *e = expo_new();
	promfleet_info pi = { .cycle = info, .skipped = skipped };
	promfleet_write(e, s, &pi);
	size_t len;
	const char *text = expo_text(e, &len);
	int rc = 0;
	if (expo_error(e)) {
		*err = xasprintf("internal: %s", expo_error(e));
		rc = -1;
	} else if (output) {
		rc = atomicfile_write(output, text, len, 0644, err);
	} else {
		fwrite(text, 1, len, stdout);
	}
	expo_free(e);
	return rc;
}

/* The alerts to Alertmanager (export/alertmgr.c); the state beside the history. */
static int send_alerts(struct app *app, const struct opts *o, const fleet_snapshot *s)
{
	char *db = o->alert_state ? NULL : db_path(app, o);
	char *state = o->alert_state ? xstrdup(o->alert_state) : xasprintf("%s.alertmanager.json", db);
	alertmgr_opts ao = {
		.url = o->alertmanager,
		.state_path = state,
		.ttl_ms = o->alert_ttl_ms ? o->alert_ttl_ms : 900000,
		.timeout_ms = 10000,
	};
	alertmgr_result r = { 0 };
	char *err = NULL;
	/* the default state's directory is the history's, which --no-history never made */
	int rc = o->alert_state ? 0 : atomicfile_make_parents(state, &err);
	if (rc == 0)
		rc = alertmgr_send(s, &ao, now_ms(), &r, &err);
	if (r.warning)
		fprintf(stderr, "fleetdeck report: alertmanager: %s\n", r.warning);
	if (rc)
		fprintf(stderr, "fleetdeck report: alertmanager: %s\n", err);
	alertmgr_result_clear(&r);
	free(err);
	free(state);
	free(db);
	return rc;
}

/* The cycle, its samples and its alerts into the history (fleet/history.c, as the console). */
static int record(const char *path, const fleet_snapshot *s, const poll_cycle_info *info, char **err)
{
	store *st = store_open(path, err);
	if (!st)
		return -1;
	int rc = fleet_history_record(st, s, info->start_ms, info->end_ms, "report", err);
	store_close(st);
	return rc;
}

/* Each device's factory and model_registry for the drift watch (the fleet's order is the poller's). */
static void add_drift_targets(inventory *inv, fleet *fl, driftwatch *dw)
{
	fleet_snapshot *s = fleet_snapshot_take(fl, 0);
	for (size_t i = 0; i < s->ndevs; i++) {
		inv_host *h = inv_host_get(inv, s->devs[i].host);
		json_t *vars = h ? inv_host_vars(inv, h) : NULL;
		driftwatch_add(dw, i, s->devs[i].factory, json_string_value(json_object_get(vars, "model_registry")));
		json_decref(vars);
	}
	fleet_snapshot_free(s);
}

static int run(struct app *app, int argc, char **argv)
{
	struct opts o = { .retries = -1 };
	int prc = parse_args(app, argc, argv, &o);
	if (prc >= 0) {
		cli_source_clear(&o.source);
		return prc;
	}
	inventory *inv = cli_load_inventory(app);
	if (!inv) {
		cli_source_clear(&o.source);
		return EXIT_USAGE;
	}
	char *err = NULL;
	poller_opts po = app->cfg.poll;
	if (o.forks)
		po.forks = o.forks;
	if (o.timeout_ms)
		po.timeout_ms = o.timeout_ms;
	if (o.connect_timeout_ms)
		po.connect_timeout_ms = o.connect_timeout_ms;
	if (o.retries >= 0)
		po.retries = o.retries;
	po.jitter_ms = 0; /* one cycle, as fast as the network allows */
	po.slow_every = 1; /* /metrics in the one cycle: the readings /status lacks */
	fleet_rules rules = { 0 };
	fleet_rules_copy(&rules, &app->cfg.rules);
	rules.stale_ms = 0;
	/* a report's p-values are scipy's (ks_2samp's default "auto": exact where it
	 * would be), unless the settings chose otherwise; the console's live rounds
	 * use the asymptotic ones for speed */
	if (!rules.drift_exact_set)
		rules.drift_exact = true;
	if (o.temp_warn)
		rules.temp_warn = o.temp_warn;
	if (o.temp_crit)
		rules.temp_crit = o.temp_crit;
	if (o.expected)
		fleet_rules_set_expected(&rules, NULL, o.expected);
	int rc = EXIT_USAGE;
	if (rules.temp_warn >= rules.temp_crit) {
		fprintf(stderr, "fleetdeck report: the GPU temperature warning (%g) must be below the critical (%g)\n",
			rules.temp_warn, rules.temp_crit);
		fleet_rules_free(&rules);
		inv_free(inv);
		cli_source_clear(&o.source);
		return EXIT_USAGE;
	}

	cli_raise_fd_limit();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	devmetrics *dm = devmetrics_new();
	devmetrics_attach(dm, &po);
	driftwatch_opts dwo;
	driftwatch_opts_default(&dwo);
	dwo.connect_timeout_ms = po.connect_timeout_ms;
	dwo.timeout_ms = po.timeout_ms;
	dwo.max_fetches = 100000; /* one cycle: every baseline now */
	driftwatch *dw = driftwatch_new(&rules, &dwo);
	driftwatch_attach(dw, &po);
	poller *p = NULL;
	promsrc *ps = NULL;
	fleet *fl = fleet_new(&rules);
	fleet_snapshot *snap = NULL;
	size_t skipped = 0;
	long added;
	if (o.source.prometheus) {
		if (o.timeout_ms)
			o.source.prom.timeout_ms = o.timeout_ms;
		if (o.connect_timeout_ms)
			o.source.prom.connect_timeout_ms = o.connect_timeout_ms;
		if (!(ps = promsrc_new(&o.source.prom, &err)))
			goto out;
		added = cli_prom_targets(inv, o.limit, ps, fl, &skipped, "report");
	} else {
		if (!(p = poller_new(&po, &err)))
			goto out;
		added = cli_poll_targets(inv, o.limit, p, fl, &skipped, "report");
	}
	if (added < 0)
		goto out;
	if (added == 0) {
		if (skipped)
			fprintf(stderr, "fleetdeck report: no devices to poll\n");
		else
			fprintf(stderr, "fleetdeck report: no devices selected%s%s\n", o.limit ? " by --limit " : "",
				o.limit ? o.limit : "");
		goto out;
	}
	add_drift_targets(inv, fl, dw);
	const poll_result *res;
	size_t n;
	poll_cycle_info info;
	if (ps ? promsrc_cycle(ps, &res, &n, &info, &err) : poller_cycle(p, &res, &n, &info, &err)) {
		if (!err)
			err = xstrdup("interrupted");
		goto out;
	}
	if (ps && promsrc_warning(ps))
		fprintf(stderr, "fleetdeck report: warning: %s\n", promsrc_warning(ps));
	res = devmetrics_merge(dm, res, n);
	fleet_apply(fl, res, n);
	driftwatch_cycle(dw, res, n, now_ms(), fl);
	snap = fleet_snapshot_take(fl, now_ms());
	rc = snap->nalerts ? EXIT_FINDINGS : EXIT_OK;
	if (o.prom) {
		if (print_prometheus(snap, &info, skipped, o.output, &err)) {
			fprintf(stderr, "fleetdeck report: %s\n", err);
			free(err);
			err = NULL;
			rc = EXIT_USAGE;
		}
	} else if (o.json)
		print_json(snap, &info, skipped);
	else if (snap->nalerts || !o.quiet)
		print_text(snap, &info, skipped);
	fflush(stdout);
	if (!o.no_history) {
		char *path = db_path(app, &o);
		if (record(path, snap, &info, &err)) {
			fprintf(stderr, "fleetdeck report: history: %s\n", err);
			free(err);
			err = NULL;
			rc = EXIT_USAGE;
		}
		free(path);
	}
	if (o.alertmanager && send_alerts(app, &o, snap) && rc != EXIT_USAGE)
		rc = EXIT_ALERTMANAGER;
out:
	if (err) {
		fprintf(stderr, "fleetdeck report: %s\n", err);
		free(err);
	}
	fleet_snapshot_free(snap);
	fleet_free(fl);
	poller_free(p);
	promsrc_free(ps);
	devmetrics_free(dm);
	driftwatch_free(dw);
	curl_global_cleanup();
	fleet_rules_free(&rules);
	inv_free(inv);
	cli_source_clear(&o.source);
	return rc;
}

const struct command cmd_report = {
	.name = "report",
	.summary = "poll every device once and print its alerts (for cron; also --report)",
	.run = run,
	.usage = usage,
};
