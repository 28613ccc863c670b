/* cmd_summary: `fleetdeck summary`: the fleet at a glance, per factory group. */
#include "cli/cli.h"

#include <getopt.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fleetdeck [summary] [-i INVENTORY]...\n"
		"\n"
		"Each group that holds devices directly (a factory), with its device count.\n");
}

static int run(struct app *app, int argc, char **argv)
{
	static const struct option opts[] = { CLI_OPT_INVENTORY, { "help", no_argument, NULL, 'h' }, { 0 } };
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:h", opts, NULL)) != -1) {
		if (c == 'i') {
			cli_add_inventory(app, optarg);
		} else if (c == 'h') {
			usage(stdout);
			return EXIT_OK;
		} else {
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	inventory *inv = cli_load_inventory(app);
	if (!inv)
		return EXIT_USAGE;
	size_t nall;
	inv_group_hosts(inv, inv_group_get(inv, "all"), &nall);
	printf("%-28s %7s\n", "FACTORY", "DEVICES");
	size_t ngroups = 0;
	for (size_t i = 0; i < inv_group_count(inv); i++) {
		inv_group *g = inv_group_at(inv, i);
		if (!g->nhosts || strcmp(g->name, "all") == 0)
			continue;
		printf("%-28s %7zu\n", g->name, g->nhosts);
		ngroups++;
	}
	printf("%zu devices in %zu groups\n", nall, ngroups);
	inv_free(inv);
	return EXIT_OK;
}

const struct command cmd_summary = {
	.name = "summary",
	.summary = "the fleet at a glance: factories and their devices (default)",
	.run = run,
	.usage = usage,
};
