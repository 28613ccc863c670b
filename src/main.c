/* main: fleetdeck's entry point: global options and the table of subcommands. */
#include "cli/cli.h"
#include "util/xalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int run_version(struct app *app, int argc, char **argv);
static int run_help(struct app *app, int argc, char **argv);

static const struct command cmd_version = {
	.name = "version", .summary = "print the version", .run = run_version,
};
static const struct command cmd_help = {
	.name = "help", .summary = "help on a command: fleetdeck help COMMAND", .run = run_help,
};

/* Every subcommand, in the order --help lists them. Adding one is one file in
 * src/cli/ and one line here. */
static const struct command *const commands[] = {
	&cmd_console,
	&cmd_summary,
	&cmd_inventory,
	&cmd_history,
	&cmd_report,
	&cmd_poll,
	&cmd_rollout,
	&cmd_drift,
	&cmd_registry,
	&cmd_serve_metrics,
	&cmd_version,
	&cmd_help,
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static void usage_main(FILE *f)
{
	fprintf(f,
		"usage: fleetdeck [-i INVENTORY]... [--config FILE] [--db FILE] [COMMAND [ARGS]]\n"
		"\n"
		"A terminal console for fleets of edge-AI devices, driven by your Ansible inventory.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f,
		"\n"
		"Options:\n"
		"  -i, --inventory PATH  an inventory file, directory or host list (repeatable;\n"
		"                        merged in order, as ansible -i)\n"
		"      --config FILE     settings file (default $XDG_CONFIG_HOME/fleetdeck/config.yaml)\n"
		"      --db FILE         history database (default $XDG_DATA_HOME/fleetdeck/history.db)\n"
		"      --report          the same as the report command (for cron): the rest of\n"
		"                        the line is report's options\n"
		"  -h, --help            this help; `fleetdeck help COMMAND` for a command's\n"
		"  -V, --version         print the version\n"
		"\n"
		"Inventory: -i, else $FLEETDECK_INVENTORY (comma-separated), else `inventory:`\n"
		"in the config file, else ./inventory.\n"
		"\n"
		"Exit status: 0 ok; 1 findings (such as alerts); 2 usage or input error.\n");
}

static int run_version(struct app *app, int argc, char **argv)
{
	(void)app, (void)argc, (void)argv;
	printf("fleetdeck %s\n", FLEETDECK_VERSION);
	return EXIT_OK;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static int run_help(struct app *app, int argc, char **argv)
{
	(void)app;
	if (argc < 2) {
		usage_main(stdout);
		return EXIT_OK;
	}
	const struct command *c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "fleetdeck: no such command: %s\n", argv[1]);
		return EXIT_USAGE;
	}
	if (c->usage)
		c->usage(stdout);
	else
		printf("fleetdeck %s: %s\n", c->name, c->summary);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct app app = { 0 };
	static const struct option opts[] = {
		CLI_OPT_INVENTORY,
		{ "config", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "report", no_argument, NULL, 'R' },
		{ 0 },
	};
	int c, rc;
	const struct command *cmd = NULL;
	/* '+': stop at the first non-option, the subcommand */
	opterr = 0; /* unknown long options are the console's: it reports them */
	while (!cmd && (c = getopt_long(argc, argv, "+i:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'R': /* --report: the report command; the rest of the line is its own */
			cmd = &cmd_report;
			break;
		case 'i':
			cli_add_inventory(&app, optarg);
			break;
		case 'c':
			free(app.config_path);
			app.config_path = xstrdup(optarg);
			break;
		case 'd':
			free(app.db_path);
			app.db_path = xstrdup(optarg);
			break;
		case 'h':
			usage_main(stdout);
			rc = EXIT_OK;
			goto out;
		case 'V':
			rc = run_version(&app, 0, NULL);
			goto out;
		default:
			/* a long option main does not know is the console's (fleetdeck --demo) */
			if (optind > 1 && strncmp(argv[optind - 1], "--", 2) == 0 && argv[optind - 1][2]) {
				cmd = &cmd_console;
				optind--;
				break;
			}
			usage_main(stderr);
			rc = EXIT_USAGE;
			goto out;
		}
	}
	/* No command: the fleet summary (the console, once it lands). */
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	char *deflt[] = { (char *)"summary", NULL };
	char **console_argv = NULL;
	if (cmd == &cmd_console) {
		/* the console's own argv: its name, then the rest of the line */
		sub_argc = argc - optind + 1;
		console_argv = xcalloc((size_t)sub_argc + 1, sizeof *console_argv);
		console_argv[0] = (char *)"console";
		memcpy(console_argv + 1, argv + optind, (size_t)(argc - optind) * sizeof *argv);
		sub_argv = console_argv;
	} else if (cmd) {
		sub_argc = argc - optind + 1; /* argv[optind - 1] is "--report": the command's argv[0] */
		sub_argv = argv + optind - 1;
	} else if (optind < argc) {
		cmd = find_command(argv[optind]);
		if (!cmd) {
			fprintf(stderr, "fleetdeck: no such command: %s (see fleetdeck --help)\n", argv[optind]);
			rc = EXIT_USAGE;
			goto out;
		}
	} else {
		/* no command: the console on a terminal, the fleet summary for scripts */
		bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
		cmd = tty ? &cmd_console : &cmd_summary;
		deflt[0] = (char *)(tty ? "console" : "summary");
		sub_argc = 1;
		sub_argv = deflt;
	}
	opterr = 1;
	rc = cmd->run(&app, sub_argc, sub_argv);
	free(console_argv);
out:
	for (size_t i = 0; i < app.ninv_args; i++)
		free(app.inv_args[i]);
	free(app.inv_args);
	free(app.config_path);
	free(app.db_path);
	config_free(&app.cfg);
	return rc;
}
