/* cmd_rollout: `fleetdeck rollout VERB`: staged model rollouts. One function a
 * verb, listed in verbs[]. */
#include "cli/cli.h"
#include "inventory/pattern.h"
#include "poll/poller.h"
#include "registry/registry.h"
#include "rollout/canary.h"
#include "rollout/plan.h"
#include "rollout/rolldb.h"
#include "rollout/rollhttp.h"
#include "rollout/rollssh.h"
#include "rollout/rollstate.h"
#include "rollout/runner.h"
#include "store/store.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fleetdeck rollout plan [-i INVENTORY]... --model NAME --version V\n"
		"                              [--hosts PATTERN] [--limit PATTERN]\n"
		"                              [--serial SPEC | --strategy S [--batch-size N]]\n"
		"                              [--max-fail PCT] [--json]\n"
		"\n"
		"plan: the batches a rollout would update, formed exactly as Ansible's `serial`\n"
		"forms a play's batches: SPEC is a number of devices (3), a percentage of all the\n"
		"selected devices (10%%, rounded down, at least 1), or a list (1,5,10%%) whose last\n"
		"entry repeats; 0 or a negative number: the rest in one batch. Devices in\n"
		"inventory order (`fleetdeck inventory --hosts PATTERN`).\n"
		"  --hosts PATTERN   the play's hosts (default all)\n"
		"  --limit PATTERN   as ansible-playbook --limit\n"
		"  --strategy S      rolling (batches of --batch-size, default 10), canary (5%% first,\n"
		"                    then batches of --batch-size), all-at-once\n"
		"  --max-fail PCT    max_fail_percentage: a batch in which more than PCT%% of the\n"
		"                    devices failed stops the rollout (default 5, as the seed)\n"
		"  --json            {\"batches\": [[host, ...], ...], ...}\n"
		"\n"
		"       fleetdeck rollout start [-i INVENTORY]... --model NAME --version V [--limit P]\n"
		"                               [--serial SPEC | --strategy S] [--max-fail PCT] [--forks N]\n"
		"                               [--registry URL] [--wait-tries N] [--wait-delay-ms MS]\n"
		"                               [--connect-timeout-ms MS] [--timeout-ms MS] [--lease-ms MS]\n"
		"                               [--soak SECONDS [--max-error-rate PCT] [--max-p95-increase PCT]\n"
		"                                [--min-samples N]] [--reason TEXT] [--foreground]\n"
		"       fleetdeck rollout list [--json]\n"
		"       fleetdeck rollout status ID [--json] [--watch]\n"
		"       fleetdeck rollout log ID [--host HOST] [--json]\n"
		"       fleetdeck rollout pause|resume|approve|abort|rollback|retry ID [--reason TEXT] [--foreground]\n"
		"\n"
		"start: records the rollout (the plan's batches) in the history database (--db) and\n"
		"starts a runner in the background (its log beside the database); --foreground runs\n"
		"it here. Per device: /health must be healthy, the running version is recorded,\n"
		"POST /update (URL and SHA-256 from the registry's index.json), wait for the model\n"
		"(--wait-tries x --wait-delay-ms, default 12 x 5000), POST /validate (reference image,\n"
		"no_defect, confidence >= 0.85); a failure rolls the device back. After each batch the\n"
		"gate: too many failures roll the batch back and stop the rollout (failed); a batch that\n"
		"proves nothing (all unreachable) waits for approve.\n"
		"  --soak SECONDS    after a batch passes, wait SECONDS and compare its devices with the\n"
		"                    rollout's not-updated ones over that window (their /metrics, scraped\n"
		"                    at its start and end): an error rate above --max-error-rate PCT\n"
		"                    (default 2) or a p95 latency more than --max-p95-increase PCT (default\n"
		"                    15) above the not-updated devices' of the same platform fails the\n"
		"                    batch (rolled back, rollout failed); fewer than --min-samples N\n"
		"                    requests (default 100) on either side, or no not-updated devices left\n"
		"                    (the last batch), is inconclusive: the rollout waits for approve\n"
		"log: every step's start and end with its outcome, and each command sent to an\n"
		"agentless device exactly as sent (lines `note ssh: COMMAND`).\n"
		"Devices with fleetdeck_transport=ssh (agentless) get the same steps as commands\n"
		"over SSH: curl the health URL (fleetdeck_health_url), read current_version in\n"
		"fleetdeck_model_dir, fetch the file and check its SHA-256, `CTL stop SERVICE`\n"
		"(fleetdeck_service_ctl, fleetdeck_service), switch active_model.onnx and\n"
		"current_version by rename, `CTL start SERVICE`, wait, POST fleetdeck_validate_url;\n"
		"each checks first whether it is already done (see the guide).\n"
		"  pause     no new device starts; devices in flight finish\n"
		"  resume    a paused rollout goes on; also restarts a rollout whose runner died\n"
		"  approve   a rollout waiting after an inconclusive gate goes on\n"
		"  abort     devices mid-update finish and are rolled back; finished ones stay\n"
		"  rollback  every updated device back to its recorded version, newest batch first\n"
		"  retry     the failed and unreachable devices again\n"
		"A verb that does not apply to the rollout's state changes nothing and exits 2.\n");
}

struct plan_args {
	const char *model, *version, *hosts, *limit, *serial, *strategy;
	long batch_size;
	double max_fail;
	bool json;
};

static int plan(struct app *app, int argc, char **argv)
{
	enum { MODEL = 1, VERSION, HOSTS, LIMIT, SERIAL, STRATEGY, BATCH, MAXFAIL, JSON };
	static const struct option opts[] = {
		CLI_OPT_INVENTORY,
		{ "model", required_argument, NULL, MODEL },
		{ "version", required_argument, NULL, VERSION },
		{ "hosts", required_argument, NULL, HOSTS },
		{ "limit", required_argument, NULL, LIMIT },
		{ "serial", required_argument, NULL, SERIAL },
		{ "strategy", required_argument, NULL, STRATEGY },
		{ "batch-size", required_argument, NULL, BATCH },
		{ "max-fail", required_argument, NULL, MAXFAIL },
		{ "json", no_argument, NULL, JSON },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct plan_args a = { .hosts = "all", .batch_size = 10, .max_fail = 5 };
	char *err = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': cli_add_inventory(app, optarg); break;
		case MODEL: a.model = optarg; break;
		case VERSION: a.version = optarg; break;
		case HOSTS: a.hosts = optarg; break;
		case 'l':
		case LIMIT: a.limit = optarg; break;
		case SERIAL: a.serial = optarg; break;
		case STRATEGY: a.strategy = optarg; break;
		case BATCH: {
			char *end;
			a.batch_size = strtol(optarg, &end, 10);
			if (*end || end == optarg || a.batch_size <= 0) {
				fprintf(stderr, "fleetdeck rollout plan: --batch-size wants a positive number, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case MAXFAIL:
			if (max_fail_parse(optarg, &a.max_fail, &err) < 0) {
				fprintf(stderr, "fleetdeck rollout plan: %s\n", err);
				free(err);
				return EXIT_USAGE;
			}
			break;
		case JSON: a.json = true; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fleetdeck rollout plan: unexpected argument: %s\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!a.model || !a.version) {
		fprintf(stderr, "fleetdeck rollout plan: --model and --version are required\n");
		return EXIT_USAGE;
	}
	if (!rollout_name_ok(a.model) || !rollout_name_ok(a.version)) {
		fprintf(stderr, "fleetdeck rollout plan: model names and versions are 1-128 of A-Z a-z 0-9 . _ + - "
				"(got '%s' '%s')\n", a.model, a.version);
		return EXIT_USAGE;
	}
	if (a.serial && a.strategy) {
		fprintf(stderr, "fleetdeck rollout plan: give --serial or --strategy, not both\n");
		return EXIT_USAGE;
	}
	serial_spec spec;
	rollout_strategy strategy = STRATEGY_ROLLING;
	if (a.strategy) {
		int st = rollout_strategy_parse(a.strategy);
		if (st < 0) {
			fprintf(stderr, "fleetdeck rollout plan: unknown strategy '%s' (rolling, canary, all-at-once)\n",
				a.strategy);
			return EXIT_USAGE;
		}
		strategy = (rollout_strategy)st;
		serial_for_strategy(strategy, a.batch_size, &spec);
	} else if (serial_parse(a.serial ? a.serial : "10%", &spec, &err) < 0) {
		fprintf(stderr, "fleetdeck rollout plan: --serial: %s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	inventory *inv = cli_load_inventory(app);
	if (!inv) {
		serial_free(&spec);
		return EXIT_USAGE;
	}
	inv_host **hosts = NULL;
	size_t n = 0;
	int rc = EXIT_OK;
	if (inv_pattern_limit(inv, a.hosts, a.limit, &hosts, &n, &err) < 0) {
		fprintf(stderr, "fleetdeck: %s\n", err);
		free(err);
		cli_print_warnings(inv);
		inv_free(inv);
		serial_free(&spec);
		return EXIT_USAGE;
	}
	cli_print_warnings(inv);
	size_t *sizes, nb;
	serial_batches(&spec, n, &sizes, &nb);
	char *spec_text = serial_format(&spec);
	if (a.json) {
		json_t *o = json_object();
		json_t *batches = json_array();
		size_t k = 0;
		for (size_t b = 0; b < nb; b++) {
			json_t *batch = json_array();
			for (size_t i = 0; i < sizes[b]; i++)
				json_array_append_new(batch, json_string(hosts[k++]->name));
			json_array_append_new(batches, batch);
		}
		json_object_set_new(o, "batches", batches);
		json_object_set_new(o, "model", json_string(a.model));
		json_object_set_new(o, "version", json_string(a.version));
		json_object_set_new(o, "hosts", json_integer((json_int_t)n));
		json_object_set_new(o, "serial", serial_to_json(&spec));
		json_object_set_new(o, "max_fail_percentage", json_real(a.max_fail));
		json_object_set_new(o, "strategy", a.strategy ? json_string(rollout_strategy_name(strategy)) : json_null());
		cli_print_json(o);
		json_decref(o);
	} else if (n == 0) {
		printf("rollout plan: no devices match '%s'%s%s\n", a.hosts, a.limit ? " limited to " : "",
		       a.limit ? a.limit : "");
	} else {
		printf("rollout plan: %s %s to %zu device%s in %zu batch%s (serial %s, max fail %g%%)\n", a.model,
		       a.version, n, n == 1 ? "" : "s", nb, nb == 1 ? "" : "es", spec_text, a.max_fail);
		size_t k = 0;
		for (size_t b = 0; b < nb; b++) {
			printf("batch %zu (%zu):", b + 1, sizes[b]);
			for (size_t i = 0; i < sizes[b]; i++)
				printf(" %s", hosts[k++]->name);
			putchar('\n');
		}
	}
	free(spec_text);
	free(sizes);
	free(hosts);
	serial_free(&spec);
	inv_free(inv);
	return rc;
}


/* ---- shared by the rollout verbs ---- */

/* The database, by precedence: the global --db, `db:` in the settings file, the default. */
static char *db_path(struct app *app)
{
	if (app->db_path)
		return xstrdup(app->db_path);
	if (cli_load_config(app))
		return NULL;
	return app->cfg.db ? xstrdup(app->cfg.db) : store_default_path();
}

/* Who: $USER, and the client's address of $SSH_CONNECTION when there is one. */
static char *actor(void)
{
	const char *user = getenv("USER");
	const char *ssh = getenv("SSH_CONNECTION");
	if (!user || !*user)
		user = "unknown";
	if (ssh && *ssh) {
		size_t n = strcspn(ssh, " ");
		if (n > 0 && n < 64)
			return xasprintf("%.64s from %.*s", user, (int)n, ssh);
	}
	return xasprintf("%.64s", user);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The history store (migrated) and a rollout handle on the same file. */
struct dbs {
	char *path;
	store *st;
	rolldb *db;
};

static int dbs_open(struct app *app, struct dbs *d, const char *who)
{
	char *err = NULL;
	memset(d, 0, sizeof *d);
	d->path = db_path(app);
	if (!d->path)
		return -1;
	d->st = store_open(d->path, &err);
	if (d->st)
		d->db = rolldb_open(d->path, 10000, &err);
	if (!d->db) {
		fprintf(stderr, "fleetdeck rollout %s: %s\n", who, err);
		free(err);
		store_close(d->st);
		free(d->path);
		d->st = NULL;
		d->path = NULL;
		return -1;
	}
	return 0;
}

static void dbs_close(struct dbs *d)
{
	rolldb_close(d->db);
	store_close(d->st);
	free(d->path);
}

/* The audit trail: who ($USER, and $SSH_CONNECTION whole when there is one),
 * from which machine and process, what, on which rollout, why (--reason), and
 * whether it was done or refused (outcome NULL: done). */
static void audit_target(struct dbs *d, const char *verb, int64_t id, const char *what, const char *reason,
			 const char *outcome)
{
	char *who = actor(), *err = NULL;
	char *action = xasprintf("rollout.%s", verb);
	char *target = id > 0 ? xasprintf("rollout %lld", (long long)id) : xstrdup(what);
	char host[256] = "";
	if (gethostname(host, sizeof host - 1))
		host[0] = '\0';
	const char *user = getenv("USER"), *ssh = getenv("SSH_CONNECTION");
	/* at most 128 and 64 bytes of them (xstrndup copies exactly n bytes: strnlen first) */
	char *ssh_c = ssh && *ssh ? xstrndup(ssh, strnlen(ssh, 128)) : NULL;
	char *user_c = user && *user ? xstrndup(user, strnlen(user, 64)) : NULL;
	store_audit e = { .ts_ms = now_ms(), .actor = who, .action = action, .target = target,
			  .detail = (char *)reason, .user = user_c, .ssh_connection = ssh_c,
			  .origin_host = host[0] ? host : NULL, .pid = getpid(), .rollout_id = id,
			  .outcome = (char *)outcome };
	if (store_audit_record(d->st, &e, &err)) {
		fprintf(stderr, "fleetdeck rollout %s: audit: %s\n", verb, err);
		free(err);
	}
	free(ssh_c);
	free(user_c);
	free(who);
	free(action);
	free(target);
}

static void audit_outcome(struct dbs *d, const char *verb, int64_t id, const char *reason, const char *outcome)
{
	audit_target(d, verb, id, NULL, reason, outcome);
}

static void audit(struct dbs *d, const char *verb, int64_t id, const char *reason)
{
	audit_outcome(d, verb, id, reason, "done");
}

static int parse_id(const char *s, int64_t *id)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end || end == s || errno || v <= 0)
		return -1;
	*id = v;
	return 0;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (*end || end == s || errno || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* Text that came from a device (errors, versions) without its control characters. */
static void print_clean(const char *s)
{
	for (; s && *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static void note_stdout(void *ctx, const char *line)
{
	(void)ctx;
	char ts[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s ", ts);
	print_clean(line);
	putchar('\n');
	fflush(stdout);
}

/* Runs the rollout's runner here. */
static int run_here(const char *path, int64_t id)
{
	char *owner = runner_owner_name();
	char *err = NULL;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = runner_run(path, id, owner, note_stdout, NULL, &err);
	rollhttp_thread_end(); /* a runner without worker threads worked here */
	free(owner);
	if (rc < 0) {
		fprintf(stderr, "fleetdeck rollout run: %s\n", err);
		free(err);
		return EXIT_FINDINGS;
	}
	if (rc == 1) {
		printf("rollout %lld: another runner holds it\n", (long long)id);
		return EXIT_OK;
	}
	/* for scripts: a rollout that ended failed is a finding */
	rolldb *db = rolldb_open(path, 10000, &err);
	roll_row r = { 0 };
	int out = EXIT_OK;
	if (db && rolldb_get(db, id, &r, &err) == 0) {
		printf("rollout %lld: %s%s%s\n", (long long)id, r.state, r.stop_reason ? ": " : "",
		       r.stop_reason ? r.stop_reason : "");
		if (!strcmp(r.state, RS_FAILED))
			out = EXIT_FINDINGS;
	}
	free(err);
	roll_row_clear(&r);
	rolldb_close(db);
	return out;
}

/* Starts `fleetdeck --db PATH rollout run ID` detached (its own session, stdio to
 * PATH.rollout-ID.log). 0, or -1 (said). */
static int spawn_runner(const char *path, int64_t id)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0) {
		fprintf(stderr, "fleetdeck rollout: cannot find my own executable: %s\n", strerror(errno));
		return -1;
	}
	exe[n] = '\0';
	char *log = xasprintf("%s.rollout-%lld.log", path, (long long)id);
	char idtext[32];
	snprintf(idtext, sizeof idtext, "%lld", (long long)id);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "fleetdeck rollout: fork: %s\n", strerror(errno));
		free(log);
		return -1;
	}
	if (pid == 0) {
		setsid();
		pid_t p2 = fork();
		if (p2 != 0)
			_exit(p2 < 0 ? 1 : 0);
		int in = open("/dev/null", O_RDONLY);
		int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (in < 0 || out < 0)
			_exit(1);
		dup2(in, 0);
		dup2(out, 1);
		dup2(out, 2);
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		signal(SIGHUP, SIG_IGN);
		char *args[] = { "fleetdeck", "--db", (char *)path, "rollout", "run", idtext, NULL };
		execv(exe, args);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!ok)
		fprintf(stderr, "fleetdeck rollout: the runner could not be started (log: %s)\n", log);
	else
		printf("rollout %lld: runner started (log %s)\n", (long long)id, log);
	free(log);
	return ok ? 0 : -1;
}

/* The registry's index entry for name:version: the model's URL and SHA-256, and
 * the version as the index spells it (v3.2 finds 3.2). */
static int registry_lookup(const char *location, const char *model, const char *version, char **url,
			   char **sum, char **canonical, char **err)
{
	char *base = registry_url_from_var(location);
	registry_opts o = { .connect_ms = 5000, .timeout_ms = 30000 };
	fd_registry *r = registry_open(base, &o, false, err);
	free(base);
	if (!r)
		return -1;
	const reg_entry *e = registry_find(r, model, version);
	int rc = -1;
	if (!e)
		*err = xasprintf("%s: no model %s:%s in the registry", registry_index_source(r), model, version);
	else {
		*sum = xstrdup(e->checksum);
		*url = registry_model_url(r, e);
		*canonical = xstrdup(e->version);
		rc = 0;
	}
	registry_free(r);
	return rc;
}

static int cmd_start(struct app *app, int argc, char **argv)
{
	enum { MODEL = 1, VERSION, HOSTS, LIMIT, SERIAL, STRATEGY, BATCH, MAXFAIL, REASON, FG, FORKS, REGISTRY,
	       TRIES, DELAY, CTO, TO, LEASE, SOAK, MAXERR, MAXP95, MINSAMP };
	static const struct option opts[] = {
		CLI_OPT_INVENTORY,
		{ "model", required_argument, NULL, MODEL },
		{ "version", required_argument, NULL, VERSION },
		{ "hosts", required_argument, NULL, HOSTS },
		{ "limit", required_argument, NULL, LIMIT },
		{ "serial", required_argument, NULL, SERIAL },
		{ "strategy", required_argument, NULL, STRATEGY },
		{ "batch-size", required_argument, NULL, BATCH },
		{ "max-fail", required_argument, NULL, MAXFAIL },
		{ "reason", required_argument, NULL, REASON },
		{ "foreground", no_argument, NULL, FG },
		{ "forks", required_argument, NULL, FORKS },
		{ "registry", required_argument, NULL, REGISTRY },
		{ "wait-tries", required_argument, NULL, TRIES },
		{ "wait-delay-ms", required_argument, NULL, DELAY },
		{ "connect-timeout-ms", required_argument, NULL, CTO },
		{ "timeout-ms", required_argument, NULL, TO },
		{ "lease-ms", required_argument, NULL, LEASE },
		{ "soak", required_argument, NULL, SOAK },
		{ "max-error-rate", required_argument, NULL, MAXERR },
		{ "max-p95-increase", required_argument, NULL, MAXP95 },
		{ "min-samples", required_argument, NULL, MINSAMP },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *model = NULL, *version = NULL, *hosts_pat = "all", *limit = NULL, *serial = NULL,
		   *strategy_name = NULL, *reason = NULL, *registry = NULL;
	long batch_size = 10, v;
	bool fg = false;
	runner_params p;
	runner_params_default(&p);
	canary_params cp;
	canary_params_default(&cp);
	bool canary = false;
	char *err = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': cli_add_inventory(app, optarg); break;
		case MODEL: model = optarg; break;
		case VERSION: version = optarg; break;
		case HOSTS: hosts_pat = optarg; break;
		case 'l':
		case LIMIT: limit = optarg; break;
		case SERIAL: serial = optarg; break;
		case STRATEGY: strategy_name = optarg; break;
		case REASON: reason = optarg; break;
		case FG: fg = true; break;
		case REGISTRY: registry = optarg; break;
		case MAXFAIL:
			if (max_fail_parse(optarg, &p.max_fail, &err) < 0) {
				fprintf(stderr, "fleetdeck rollout start: %s\n", err);
				free(err);
				return EXIT_USAGE;
			}
			break;
		case BATCH:
		case FORKS:
		case TRIES:
		case DELAY:
		case CTO:
		case TO:
		case LEASE: {
			long lo = c == DELAY ? 0 : c == LEASE ? 100 : 1;
			if (!parse_long(optarg, lo, 3600000, &v)) {
				fprintf(stderr, "fleetdeck rollout start: %s wants a number from %ld to 3600000, not '%s'\n",
					argv[optind - 1], lo, optarg);
				return EXIT_USAGE;
			}
			if (c == BATCH)
				batch_size = v;
			else if (c == FORKS)
				p.forks = (int)(v > 1000 ? 1000 : v);
			else if (c == TRIES)
				p.wait_tries = (int)(v > 100000 ? 100000 : v);
			else if (c == DELAY)
				p.wait_delay_ms = v;
			else if (c == CTO)
				p.connect_ms = v;
			else if (c == TO)
				p.timeout_ms = v;
			else
				p.lease_ms = v;
			break;
		}
		case SOAK:
		case MAXERR:
		case MAXP95:
		case MINSAMP: {
			char *end;
			errno = 0;
			double x = strtod(optarg, &end);
			double hi = c == SOAK ? 86400 : c == MAXERR ? 100 : c == MAXP95 ? 100000 : 1e12;
			if (*end == '%' && (c == MAXERR || c == MAXP95))
				end++;
			if (*end || end == optarg || errno || !(x >= 0 && x <= hi) ||
			    (c == MINSAMP && x != (double)(long)x)) {
				fprintf(stderr, "fleetdeck rollout start: %s wants a%s number from 0 to %g, not '%s'\n",
					argv[optind - 1], c == MINSAMP ? " whole" : "", hi, optarg);
				return EXIT_USAGE;
			}
			canary = true;
			if (c == SOAK)
				cp.soak_ms = (long)(x * 1000.0);
			else if (c == MAXERR)
				cp.max_error_rate = x;
			else if (c == MAXP95)
				cp.max_p95_increase = x;
			else
				cp.min_samples = (long)x;
			break;
		}
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (canary && cp.soak_ms <= 0) {
		fprintf(stderr, "fleetdeck rollout start: --max-error-rate, --max-p95-increase and --min-samples "
				"judge a soak: give --soak SECONDS too\n");
		return EXIT_USAGE;
	}
	if (optind < argc) {
		fprintf(stderr, "fleetdeck rollout start: unexpected argument: %s\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!model || !version || !rollout_name_ok(model) || !rollout_name_ok(version)) {
		fprintf(stderr, "fleetdeck rollout start: --model and --version are required: 1-128 of A-Z a-z 0-9 . _ + -\n");
		return EXIT_USAGE;
	}
	if (serial && strategy_name) {
		fprintf(stderr, "fleetdeck rollout start: give --serial or --strategy, not both\n");
		return EXIT_USAGE;
	}
	serial_spec spec;
	if (strategy_name) {
		int st = rollout_strategy_parse(strategy_name);
		if (st < 0) {
			fprintf(stderr, "fleetdeck rollout start: unknown strategy '%s' (rolling, canary, all-at-once)\n",
				strategy_name);
			return EXIT_USAGE;
		}
		serial_for_strategy((rollout_strategy)st, batch_size, &spec);
	} else if (serial_parse(serial ? serial : "10%", &spec, &err) < 0) {
		fprintf(stderr, "fleetdeck rollout start: --serial: %s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	inventory *inv = cli_load_inventory(app);
	if (!inv) {
		serial_free(&spec);
		return EXIT_USAGE;
	}
	int rc = EXIT_USAGE;
	inv_host **hosts = NULL;
	size_t n = 0, *sizes = NULL, nb = 0;
	roll_dev *devs = NULL;
	json_t *batches = json_array();
	char *reg_owned = NULL, *url = NULL, *sum = NULL, *canonical = NULL;
	struct dbs d = { 0 };
	size_t nssh = 0;
	if (inv_pattern_limit(inv, hosts_pat, limit, &hosts, &n, &err) < 0) {
		fprintf(stderr, "fleetdeck rollout start: %s\n", err);
		free(err);
		goto out;
	}
	cli_print_warnings(inv);
	if (n == 0) {
		fprintf(stderr, "fleetdeck rollout start: no devices match '%s'%s%s\n", hosts_pat,
			limit ? " limited to " : "", limit ? limit : "");
		goto out;
	}
	serial_batches(&spec, n, &sizes, &nb);
	devs = xcalloc(n, sizeof *devs);
	size_t k = 0;
	for (size_t b = 0; b < nb; b++) {
		json_t *batch = json_array();
		for (size_t i = 0; i < sizes[b]; i++, k++) {
			json_t *vars = inv_host_vars(inv, hosts[k]);
			poll_target t;
			if (poll_target_from_vars(hosts[k]->name, vars, &t, &err)) {
				fprintf(stderr, "fleetdeck rollout start: %s: %s\n", hosts[k]->name, err);
				free(err);
				json_decref(vars);
				json_decref(batch);
				goto out;
			}
			bool ssh = t.transport && !strcmp(t.transport, "ssh");
			if (t.transport && strcmp(t.transport, "http") && !ssh) {
				fprintf(stderr, "fleetdeck rollout start: %s: fleetdeck_transport: expected http or ssh, "
						"got '%s'\n", hosts[k]->name, t.transport);
				poll_target_clear(&t);
				json_decref(vars);
				json_decref(batch);
				goto out;
			}
			if (ssh) {
				/* every value that will go into a command on the device, checked now:
				 * a bad one refuses the whole rollout before anything is sent */
				rollssh_dev sd;
				if (rollssh_dev_from_vars(&t, vars, &app->cfg.poll.ssh, &sd, &err)) {
					fprintf(stderr, "fleetdeck rollout start: %s: %s (nothing was sent)\n",
						hosts[k]->name, err);
					free(err);
					poll_target_clear(&t);
					json_decref(vars);
					json_decref(batch);
					goto out;
				}
				json_t *tj = rollssh_dev_to_json(&sd);
				devs[k].target = json_dumps(tj, JSON_COMPACT | JSON_SORT_KEYS);
				json_decref(tj);
				rollssh_dev_clear(&sd);
				nssh++;
			}
			devs[k].transport = ssh ? "ssh" : "http";
			const char *r = json_string_value(json_object_get(vars, "model_registry"));
			if (!registry && r) {
				if (!reg_owned)
					reg_owned = xstrdup(r);
				else if (strcmp(reg_owned, r)) {
					fprintf(stderr, "fleetdeck rollout start: the devices name different registries "
							"(%s, %s): give --registry\n", reg_owned, r);
					poll_target_clear(&t);
					json_decref(vars);
					json_decref(batch);
					goto out;
				}
			}
			devs[k].host = hosts[k]->name;
			devs[k].address = xstrdup(t.address);
			devs[k].port = t.agent_port;
			devs[k].metrics_port = t.metrics_port;
			devs[k].batch = (int)b;
			devs[k].ord = (int)k;
			poll_target_clear(&t);
			json_decref(vars);
			json_array_append_new(batch, json_string(hosts[k]->name));
		}
		json_array_append_new(batches, batch);
	}
	if (!registry)
		registry = reg_owned;
	if (!registry) {
		fprintf(stderr, "fleetdeck rollout start: no model_registry in the inventory: give --registry\n");
		goto out;
	}
	if (registry_lookup(registry, model, version, &url, &sum, &canonical, &err)) {
		fprintf(stderr, "fleetdeck rollout start: %s\n", err);
		free(err);
		goto out;
	}
	version = canonical;
	if (nssh) {
		/* agentless devices fetch the file themselves: its URL goes into a command */
		rollssh_model m = { model, version, url, sum };
		if (rollssh_model_check(&m, &err)) {
			fprintf(stderr, "fleetdeck rollout start: %s (registry %s; nothing was sent)\n", err, registry);
			free(err);
			goto out;
		}
	}
	if (dbs_open(app, &d, "start"))
		goto out;
	char *who = actor(), *bj = json_dumps(batches, JSON_COMPACT);
	json_t *pj = runner_params_to_json(&p);
	if (canary)
		canary_params_to_json(&cp, pj);
	char *ps = json_dumps(pj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(pj);
	roll_row row = { .model = (char *)model, .version = (char *)version, .model_url = url, .checksum = sum,
			 .batches = bj, .params = ps, .state = RS_RUNNING, .created_by = who,
			 .created_at = now_ms() };
	int64_t id = rolldb_create(d.db, &row, devs, n, &err);
	free(who);
	free(bj);
	free(ps);
	if (id < 0) {
		fprintf(stderr, "fleetdeck rollout start: %s\n", err);
		/* a start refused by the database (a device held by another rollout) is an action too */
		char *what = xasprintf("%s %s", model, version), *why = xasprintf("refused: %s", err);
		audit_target(&d, "start", 0, what, reason, why);
		free(what);
		free(why);
		free(err);
		goto out;
	}
	audit(&d, "start", id, reason);
	printf("rollout %lld: %s %s to %zu device%s in %zu batch%s\n", (long long)id, model, version, n,
	       n == 1 ? "" : "s", nb, nb == 1 ? "" : "es");
	fflush(stdout);
	if (fg)
		rc = run_here(d.path, id);
	else
		rc = spawn_runner(d.path, id) ? EXIT_FINDINGS : EXIT_OK;
out:
	dbs_close(&d);
	for (size_t i = 0; devs && i < n; i++) {
		free(devs[i].address);
		free(devs[i].target);
	}
	free(devs);
	json_decref(batches);
	free(reg_owned);
	free(url);
	free(sum);
	free(canonical);
	free(sizes);
	free(hosts);
	serial_free(&spec);
	inv_free(inv);
	return rc;
}

/* `rollout run ID`: the runner (what start and the verbs launch); not in help. */
static int cmd_run(struct app *app, int argc, char **argv)
{
	int64_t id;
	if (argc != 2 || parse_id(argv[1], &id)) {
		fprintf(stderr, "usage: fleetdeck rollout run ID\n");
		return EXIT_USAGE;
	}
	struct dbs d;
	if (dbs_open(app, &d, "run"))
		return EXIT_USAGE;
	int rc = run_here(d.path, id);
	dbs_close(&d);
	return rc;
}

static json_t *row_json(const roll_row *r, const roll_dev *devs, size_t nd)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "model", json_string(r->model));
	json_object_set_new(o, "version", json_string(r->version));
	json_object_set_new(o, "model_url", json_string(r->model_url));
	json_object_set_new(o, "checksum", json_string(r->checksum));
	json_object_set_new(o, "state", json_string(r->state));
	json_object_set_new(o, "current_batch", json_integer(r->current_batch));
	json_t *b = json_loads(r->batches, 0, NULL);
	json_object_set_new(o, "batches", b ? b : json_null());
	json_t *p = json_loads(r->params, 0, NULL);
	json_object_set_new(o, "params", p ? p : json_null());
	json_object_set_new(o, "stop_reason", r->stop_reason ? json_string(r->stop_reason) : json_null());
	json_object_set_new(o, "lease_owner", r->lease_owner ? json_string(r->lease_owner) : json_null());
	json_object_set_new(o, "lease_expiry", r->lease_owner ? json_integer(r->lease_expiry) : json_null());
	json_object_set_new(o, "created_by", json_string(r->created_by));
	json_object_set_new(o, "created_at", json_integer(r->created_at));
	json_object_set_new(o, "updated_at", json_integer(r->updated_at));
	if (devs) {
		json_t *a = json_array();
		for (size_t i = 0; i < nd; i++) {
			const roll_dev *d = &devs[i];
			json_array_append_new(
				a, json_pack("{s:s, s:i, s:s, s:o, s:o, s:o, s:o, s:i}", "host", d->host, "batch", d->batch,
					     "step", d->step, "step_started",
					     d->step_started ? json_integer(d->step_started) : json_null(), "step_ended",
					     d->step_ended ? json_integer(d->step_ended) : json_null(), "prev_version",
					     d->prev_version ? json_string(d->prev_version) : json_null(), "error",
					     d->error ? json_string(d->error) : json_null(), "attempts", d->attempts));
			json_object_set_new(json_array_get(a, i), "transport",
					    json_string(d->transport ? d->transport : "http"));
		}
		json_object_set_new(o, "devices", a);
	}
	return o;
}

static int nbatches_of(const roll_row *r)
{
	json_t *b = json_loads(r->batches, 0, NULL);
	int n = json_is_array(b) ? (int)json_array_size(b) : 0;
	json_decref(b);
	return n;
}

static int cmd_list(struct app *app, int argc, char **argv)
{
	bool json = argc == 2 && !strcmp(argv[1], "--json");
	if (argc > 2 || (argc == 2 && !json)) {
		fprintf(stderr, "usage: fleetdeck rollout list [--json]\n");
		return EXIT_USAGE;
	}
	struct dbs d;
	if (dbs_open(app, &d, "list"))
		return EXIT_USAGE;
	roll_row *rows;
	size_t n;
	char *err = NULL;
	int rc = EXIT_OK;
	if (rolldb_list(d.db, &rows, &n, &err)) {
		fprintf(stderr, "fleetdeck rollout list: %s\n", err);
		free(err);
		dbs_close(&d);
		return EXIT_USAGE;
	}
	if (json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, row_json(&rows[i], NULL, 0));
		cli_print_json(a);
		json_decref(a);
	} else {
		printf("%-5s %-18s %-28s %-7s %s\n", "ID", "STATE", "MODEL", "BATCH", "BY");
		for (size_t i = 0; i < n; i++) {
			char mv[64];
			snprintf(mv, sizeof mv, "%s %s", rows[i].model, rows[i].version);
			int nb = nbatches_of(&rows[i]);
			int cb = rows[i].current_batch < nb ? rows[i].current_batch + 1 : nb;
			printf("%-5lld %-18s %-28s %d/%-5d %s\n", (long long)rows[i].id, rows[i].state, mv, cb, nb,
			       rows[i].created_by);
		}
	}
	roll_rows_free(rows, n);
	dbs_close(&d);
	return rc;
}

/* The soak gates' figures, one line each: batch, outcome, both sides. */
static void print_gates(const roll_gate *g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_t *f = json_loads(g[i].figures, 0, NULL);
		json_t *c = json_object_get(f, "canary"), *b = json_object_get(f, "baseline");
		char cp[32] = "-", bp[32] = "-", ce[32] = "-", be[32] = "-", inc[32] = "-";
		json_t *v;
		if (json_is_number(v = json_object_get(c, "p95_ms")))
			snprintf(cp, sizeof cp, "%.1f ms", json_number_value(v));
		if (json_is_number(v = json_object_get(b, "p95_ms")))
			snprintf(bp, sizeof bp, "%.1f ms", json_number_value(v));
		if (json_is_number(v = json_object_get(c, "error_rate_pct")))
			snprintf(ce, sizeof ce, "%.2f%%", json_number_value(v));
		if (json_is_number(v = json_object_get(b, "error_rate_pct")))
			snprintf(be, sizeof be, "%.2f%%", json_number_value(v));
		if (json_is_number(v = json_object_get(f, "p95_increase_pct")))
			snprintf(inc, sizeof inc, "%+.1f%%", json_number_value(v));
		printf("gate: batch %d soak %.1f s: %s; batch %.0f req, errors %s, p95 %s; not-updated %.0f req, "
		       "errors %s, p95 %s; p95 change %s\n",
		       g[i].batch + 1, (double)g[i].soak_ms / 1000.0, g[i].outcome,
		       json_number_value(json_object_get(c, "requests")), ce, cp,
		       json_number_value(json_object_get(b, "requests")), be, bp, inc);
		json_decref(f);
	}
}

static json_t *gates_json(const roll_gate *g, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *f = json_loads(g[i].figures, 0, NULL);
		json_array_append_new(a, json_pack("{s:i, s:I, s:s, s:I, s:s, s:o}", "batch", g[i].batch, "ts",
						   (json_int_t)g[i].ts, "outcome", g[i].outcome, "soak_ms",
						   (json_int_t)g[i].soak_ms, "reason", g[i].reason, "figures",
						   f ? f : json_null()));
	}
	return a;
}

static int print_status(rolldb *db, int64_t id, bool json)
{
	roll_row r;
	roll_dev *devs = NULL;
	size_t nd = 0;
	char *err = NULL;
	if (rolldb_get(db, id, &r, &err) || rolldb_devices(db, id, &devs, &nd, &err)) {
		fprintf(stderr, "fleetdeck rollout status: %s\n", err);
		free(err);
		roll_row_clear(&r);
		return -1;
	}
	roll_gate *gates = NULL;
	size_t ng = 0;
	if (rolldb_gates(db, id, &gates, &ng, &err)) {
		fprintf(stderr, "fleetdeck rollout status: %s\n", err);
		free(err);
		err = NULL;
	}
	/* a soak under way: begun (logged) after the last gate was judged, the rollout running */
	int64_t soak_ts = 0;
	char *soak = NULL;
	if (!strcmp(r.state, RS_RUNNING) && rolldb_log_last(db, id, "soak", &soak_ts, &soak, &err) < 0) {
		free(err);
		err = NULL;
	}
	if (soak && ng && gates[ng - 1].ts >= soak_ts) {
		free(soak);
		soak = NULL;
	}
	if (json) {
		json_t *o = row_json(&r, devs, nd);
		json_object_set_new(o, "gates", gates_json(gates, ng));
		json_object_set_new(o, "soaking", soak ? json_pack("{s:I, s:s}", "since", (json_int_t)soak_ts, "detail", soak)
						       : json_null());
		cli_print_json(o);
		json_decref(o);
	} else {
		int nb = nbatches_of(&r);
		printf("rollout %lld: %s %s: %s, batch %d of %d%s", (long long)r.id, r.model, r.version, r.state,
		       r.current_batch < nb ? r.current_batch + 1 : nb, nb, r.stop_reason ? ": " : "");
		print_clean(r.stop_reason);
		putchar('\n');
		if (r.lease_owner) {
			long long left = (long long)(r.lease_expiry - now_ms());
			bool dead = runner_owner_dead(r.lease_owner);
			printf("runner: %s (lease %s %lld.%llds%s)\n", r.lease_owner, left >= 0 ? "for" : "expired",
			       (left < 0 ? -left : left) / 1000, (left < 0 ? -left : left) % 1000 / 100,
			       dead ? "; its process is gone: `resume` starts a new runner"
			       : left >= 0 ? "" : " ago: `resume` starts a new runner");
		}
		print_gates(gates, ng);
		if (soak) {
			printf("soaking: %s, %.0f s ago\n", soak, (double)(now_ms() - soak_ts) / 1000.0);
		}
		printf("%-24s %-5s %-12s %-10s %-3s %s\n", "HOST", "BATCH", "STEP", "WAS", "UPD", "ERROR");
		for (size_t i = 0; i < nd; i++) {
			printf("%-24s %-5d %-12s %-10s %-3d ", devs[i].host, devs[i].batch + 1, devs[i].step,
			       devs[i].prev_version ? devs[i].prev_version : "-", devs[i].attempts);
			print_clean(devs[i].error);
			putchar('\n');
		}
	}
	bool active = roll_state_in(r.state, roll_states_active);
	free(soak);
	roll_gates_free(gates, ng);
	roll_devs_free(devs, nd);
	roll_row_clear(&r);
	return active ? 1 : 0;
}

static int cmd_status(struct app *app, int argc, char **argv)
{
	bool json = false, watch = false;
	const char *idtext = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--watch"))
			watch = true;
		else if (!idtext)
			idtext = argv[i];
		else
			idtext = "";
	}
	int64_t id;
	if (!idtext || parse_id(idtext, &id)) {
		fprintf(stderr, "usage: fleetdeck rollout status ID [--json] [--watch]\n");
		return EXIT_USAGE;
	}
	struct dbs d;
	if (dbs_open(app, &d, "status"))
		return EXIT_USAGE;
	int rc;
	for (;;) {
		if (watch && !json && isatty(1))
			printf("\033[H\033[2J");
		rc = print_status(d.db, id, json);
		fflush(stdout);
		if (!watch || rc != 1)
			break;
		sleep(1);
	}
	dbs_close(&d);
	return rc < 0 ? EXIT_USAGE : EXIT_OK;
}

/* `rollout log ID [--host H] [--json]`: the rollout's log, the commands sent to
 * agentless devices among it. */
static int cmd_log(struct app *app, int argc, char **argv)
{
	bool json = false;
	const char *idtext = NULL, *host = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--host") && i + 1 < argc)
			host = argv[++i];
		else if (!idtext && argv[i][0] != '-')
			idtext = argv[i];
		else
			idtext = "";
	}
	int64_t id;
	if (!idtext || parse_id(idtext, &id)) {
		fprintf(stderr, "usage: fleetdeck rollout log ID [--host HOST] [--json]\n");
		return EXIT_USAGE;
	}
	struct dbs d;
	if (dbs_open(app, &d, "log"))
		return EXIT_USAGE;
	roll_row r;
	roll_log_row *rows = NULL;
	size_t n = 0;
	char *err = NULL;
	if (rolldb_get(d.db, id, &r, &err) || rolldb_log_rows(d.db, id, host, 0, 0, &rows, &n, &err)) {
		fprintf(stderr, "fleetdeck rollout log: %s\n", err);
		free(err);
		roll_row_clear(&r);
		dbs_close(&d);
		return EXIT_USAGE;
	}
	if (json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, json_pack("{s:I, s:I, s:o, s:s, s:s, s:o, s:o}", "id", (json_int_t)rows[i].id,
							   "ts", (json_int_t)rows[i].ts, "host",
							   rows[i].host ? json_string(rows[i].host) : json_null(), "step",
							   rows[i].step, "event", rows[i].event, "ok",
							   rows[i].ok < 0 ? json_null() : json_boolean(rows[i].ok),
							   "detail", rows[i].detail ? json_string(rows[i].detail) : json_null()));
		cli_print_json(a);
		json_decref(a);
	} else {
		for (size_t i = 0; i < n; i++) {
			char ts[32];
			time_t t = (time_t)(rows[i].ts / 1000);
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
			printf("%s.%03dZ %-24s %-10s %-5s %-4s ", ts, (int)(rows[i].ts % 1000),
			       rows[i].host ? rows[i].host : "-", rows[i].step, rows[i].event,
			       rows[i].ok < 0 ? "" : rows[i].ok ? "ok" : "FAIL");
			print_clean(rows[i].detail);
			putchar('\n');
		}
	}
	roll_log_rows_free(rows, n);
	roll_row_clear(&r);
	dbs_close(&d);
	return EXIT_OK;
}

/* pause, resume, approve, abort, rollback, retry: the state machine's verbs. */
static int cmd_verb(struct app *app, int argc, char **argv)
{
	const roll_verb_rule *rule = roll_verb_find(argv[0]);
	const char *reason = NULL, *idtext = NULL;
	bool fg = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reason") && i + 1 < argc)
			reason = argv[++i];
		else if (!strncmp(argv[i], "--reason=", 9))
			reason = argv[i] + 9;
		else if (!strcmp(argv[i], "--foreground"))
			fg = true;
		else if (!idtext && argv[i][0] != '-')
			idtext = argv[i];
		else
			idtext = "";
	}
	int64_t id;
	if (!rule || !idtext || parse_id(idtext, &id)) {
		fprintf(stderr, "usage: fleetdeck rollout %s ID [--reason TEXT] [--foreground]\n", argv[0]);
		return EXIT_USAGE;
	}
	struct dbs d;
	if (dbs_open(app, &d, argv[0]))
		return EXIT_USAGE;
	char *err = NULL;
	roll_row r;
	if (rolldb_get(d.db, id, &r, &err)) {
		fprintf(stderr, "fleetdeck rollout %s: %s\n", argv[0], err);
		free(err);
		dbs_close(&d);
		return EXIT_USAGE;
	}
	int rc = EXIT_OK, changed = 0;
	/* a lease whose holder ran here and is gone needs no waiting for its expiry */
	bool dead_runner = roll_state_in(r.state, roll_states_active) &&
			   (!r.lease_owner || r.lease_expiry < now_ms() || runner_owner_dead(r.lease_owner));
	if (!strcmp(rule->verb, "resume") && dead_runner) {
		/* the runner died (killed, machine restarted): a new one takes over */
		changed = 1;
		printf("rollout %lld: %s, its runner is gone: starting a new one\n", (long long)id, r.state);
	} else if (!roll_state_in(r.state, rule->from)) {
		fprintf(stderr, "fleetdeck rollout %s: rollout %lld is %s: %s does not apply (nothing changed)\n",
			argv[0], (long long)id, r.state, argv[0]);
		char *why = xasprintf("refused: the rollout is %s", r.state);
		audit_outcome(&d, argv[0], id, reason, why);
		free(why);
		rc = EXIT_USAGE;
	} else {
		if (!strcmp(rule->verb, "retry")) {
			static const char *const again[] = { DS_FAILED, DS_UNREACHABLE, NULL };
			roll_dev *devs;
			size_t nd, nfail = 0;
			if (rolldb_devices(d.db, id, &devs, &nd, &err) == 0) {
				for (size_t i = 0; i < nd; i++)
					nfail += roll_step_final(devs[i].step) && roll_state_in(devs[i].step, again);
				roll_devs_free(devs, nd);
			}
			if (!nfail && !err) {
				fprintf(stderr, "fleetdeck rollout retry: rollout %lld has no failed devices (nothing changed)\n",
					(long long)id);
				rc = EXIT_USAGE;
				goto out;
			}
			changed = err ? -1 : rolldb_transition(d.db, id, rule->from, rule->to, reason, now_ms(), &err);
			if (changed == 1 && rolldb_devices_move(d.db, id, again, DS_PENDING, now_ms(), &err) < 0)
				changed = -1;
		} else {
			changed = rolldb_transition(d.db, id, rule->from, rule->to, reason, now_ms(), &err);
		}
		if (changed < 0) {
			fprintf(stderr, "fleetdeck rollout %s: %s (nothing changed)\n", argv[0], err);
			free(err);
			rc = EXIT_USAGE;
		} else if (changed == 0) {
			fprintf(stderr, "fleetdeck rollout %s: rollout %lld changed state meanwhile: %s does not apply "
					"(nothing changed)\n", argv[0], (long long)id, argv[0]);
			rc = EXIT_USAGE;
		} else {
			printf("rollout %lld: %s -> %s\n", (long long)id, r.state, rule->to);
		}
	}
	if (changed == 1) {
		audit(&d, argv[0], id, reason);
		if (rule->needs_runner) {
			fflush(stdout);
			if (fg)
				rc = run_here(d.path, id);
			else if (spawn_runner(d.path, id))
				rc = EXIT_FINDINGS;
		}
	}
out:
	roll_row_clear(&r);
	dbs_close(&d);
	return rc;
}

static const struct verb {
	const char *name;
	int (*run)(struct app *app, int argc, char **argv);
} verbs[] = {
	{ "plan", plan },
	{ "start", cmd_start },
	{ "run", cmd_run },
	{ "list", cmd_list },
	{ "status", cmd_status },
	{ "log", cmd_log },
	{ "pause", cmd_verb },
	{ "resume", cmd_verb },
	{ "approve", cmd_verb },
	{ "abort", cmd_verb },
	{ "rollback", cmd_verb },
	{ "retry", cmd_verb },
};

static int run(struct app *app, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(app, argc - 1, argv + 1);
	fprintf(stderr, "fleetdeck rollout: unknown verb '%s' (see fleetdeck help rollout)\n", argv[1]);
	return EXIT_USAGE;
}

const struct command cmd_rollout = {
	.name = "rollout",
	.summary = "staged model rollouts: plan, start, status, pause, resume, abort, rollback",
	.run = run,
	.usage = usage,
};
