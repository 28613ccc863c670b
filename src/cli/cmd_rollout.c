/* cmd_rollout: `fleetdeck rollout VERB`: staged model rollouts. One function a
 * verb, listed in verbs[]. */
#include "cli/cli.h"
#include "inventory/pattern.h"
#include "rollout/plan.h"
#include "util/xalloc.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

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
		"  --json            {\"batches\": [[host, ...], ...], ...}\n");
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

static const struct verb {
	const char *name;
	int (*run)(struct app *app, int argc, char **argv);
} verbs[] = {
	{ "plan", plan },
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
	.summary = "staged model rollouts: plan",
	.run = run,
	.usage = usage,
};
