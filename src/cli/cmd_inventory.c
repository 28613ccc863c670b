/* cmd_inventory: `fleetdeck inventory`: the inventory exactly as ansible-inventory and ansible --list-hosts show it. */
#include "cli/cli.h"
#include "inventory/pattern.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fleetdeck inventory [-i INVENTORY]... (--list | --host HOST | --graph [GROUP] |\n"
		"                           --hosts PATTERN)\n"
		"\n"
		"  --list            all groups and host variables, as `ansible-inventory --list`\n"
		"  --host HOST       one host's variables, as `ansible-inventory --host HOST`\n"
		"  --graph [GROUP]   the group tree, as `ansible-inventory --graph [GROUP]`\n"
		"  --hosts PATTERN   the hosts an Ansible host pattern selects, one per line, in\n"
		"                    the order `ansible PATTERN --list-hosts` lists them\n"
		"\n"
		"Output is meant to be diffed against Ansible's. An inventory Ansible cannot parse\n"
		"is an error here (exit 2, FILE:LINE: what is wrong), where Ansible only warns.\n");
}

static int write_stdout(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	return fwrite(s, 1, n, stdout) == n ? 0 : -1;
}

static int show_hosts(inventory *inv, int mode_host, const char *pattern)
{
	inv_host **hosts = NULL;
	size_t n = 0;
	char *err = NULL;
	int rc = EXIT_OK;
	size_t w0 = inv_warning_count(inv); /* the loader's were printed already */
	int (*select)(inventory *, const char *, const char *, inv_host ***, size_t *, char **) =
		mode_host ? inv_pattern_limit : inv_pattern_list_hosts;
	int failed = select(inv, pattern, NULL, &hosts, &n, &err);
	/* warnings first, then the error, as Ansible prints them */
	for (size_t i = w0; i < inv_warning_count(inv); i++)
		fprintf(stderr, "[WARNING]: %s\n", inv_warning(inv, i));
	if (failed) {
		fprintf(stderr, "fleetdeck: %s\n", err);
		rc = EXIT_USAGE;
	} else if (mode_host) {
		if (n != 1) {
			fprintf(stderr, "fleetdeck: You must pass a single valid host to --host parameter\n");
			rc = EXIT_USAGE;
		} else {
			json_t *v = inv_host_vars(inv, hosts[0]);
			cli_print_json(v);
			json_decref(v);
		}
	} else {
		for (size_t i = 0; i < n; i++)
			puts(hosts[i]->name);
	}
	free(hosts);
	free(err);
	return rc;
}

static int run(struct app *app, int argc, char **argv)
{
	enum { LIST = 1, HOST, GRAPH, HOSTS };
	static const struct option opts[] = {
		CLI_OPT_INVENTORY,
		{ "list", no_argument, NULL, LIST },
		{ "host", required_argument, NULL, HOST },
		{ "graph", no_argument, NULL, GRAPH },
		{ "hosts", required_argument, NULL, HOSTS },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int mode = 0;
	const char *arg = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			cli_add_inventory(app, optarg);
			break;
		case LIST:
		case HOST:
		case GRAPH:
		case HOSTS:
			if (mode && mode != c) {
				fprintf(stderr, "fleetdeck inventory: choose one of --list, --host, --graph, --hosts\n");
				return EXIT_USAGE;
			}
			mode = c;
			if (c == HOST || c == HOSTS)
				arg = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (mode == GRAPH && optind < argc)
		arg = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "fleetdeck inventory: unexpected argument: %s\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!mode) {
		fprintf(stderr, "fleetdeck inventory: one of --list, --host, --graph or --hosts is required\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	inventory *inv = cli_load_inventory(app);
	if (!inv)
		return EXIT_USAGE;
	int rc = EXIT_OK;
	if (mode == LIST) {
		/* streamed: a 100,000-host --list is some 60 MB of text */
		if (inv_list_write(inv, write_stdout, NULL) < 0 || fputc('\n', stdout) == EOF) {
			fprintf(stderr, "fleetdeck: writing the inventory failed\n");
			rc = EXIT_USAGE;
		}
	} else if (mode == GRAPH) {
		char *err = NULL;
		char *g = inv_graph(inv, arg, &err);
		if (g) {
			fputs(g, stdout);
			free(g);
		} else {
			fprintf(stderr, "fleetdeck: %s\n", err);
			rc = EXIT_USAGE;
		}
		free(err);
	} else {
		rc = show_hosts(inv, mode == HOST, arg);
	}
	inv_free(inv);
	return rc;
}

const struct command cmd_inventory = {
	.name = "inventory",
	.summary = "show the inventory exactly as Ansible reads it",
	.run = run,
	.usage = usage,
};
