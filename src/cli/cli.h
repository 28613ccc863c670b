/* cli: what every subcommand shares: the command table entry, the app's
 * options, loading the inventory, printing JSON. One file per command in
 * src/cli/cmd_*.c, one row per command in main.c's table. */
#ifndef FLEETDECK_CLI_H
#define FLEETDECK_CLI_H

#include "config/config.h"
#include "inventory/inventory.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* Exit codes, documented in --help and docs/guide.md. */
enum { EXIT_OK = 0, EXIT_FINDINGS = 1, EXIT_USAGE = 2 };

struct app {
	char **inv_args; /* -i, in order */
	size_t ninv_args;
	char *config_path;
	char *db_path;   /* --db */
	fd_config cfg;
	bool config_loaded;
};

struct command {
	const char *name;
	const char *summary;
	int (*run)(struct app *app, int argc, char **argv); /* argv[0] is the command name */
	void (*usage)(FILE *f);
};

/* getopt_long entry every inventory-reading command accepts after its name. */
#define CLI_OPT_INVENTORY { "inventory", required_argument, NULL, 'i' }

void cli_add_inventory(struct app *app, const char *path);
/* Loads the settings file once; prints the error and returns -1 if it is bad. */
int cli_load_config(struct app *app);
/* Loads the inventory (sources by precedence, variable files); prints warnings
 * and errors; NULL on error (exit EXIT_USAGE). */
inventory *cli_load_inventory(struct app *app);
void cli_print_warnings(inventory *inv);
/* Python-style JSON (sorted keys, indent 4) and a newline on stdout. */
void cli_print_json(const json_t *v);

struct poller;
struct fleet;
/* The devices of inv selected by limit (an Ansible --limit; NULL: all), added to
 * the poller and the fleet model in the same order. A host whose variables
 * cannot be polled is reported on stderr and counted in *skipped. Returns the
 * number added, or -1 (already reported) for a bad limit. */
long cli_poll_targets(inventory *inv, const char *limit, struct poller *p, struct fleet *f, size_t *skipped,
		      const char *who);
/* The soft limit of open files up to the hard one: a kept-alive connection per device. */
void cli_raise_fd_limit(void);

extern const struct command cmd_inventory;
extern const struct command cmd_summary;
extern const struct command cmd_history;
extern const struct command cmd_report;
extern const struct command cmd_poll;
extern const struct command cmd_rollout;
extern const struct command cmd_drift;
extern const struct command cmd_registry;
extern const struct command cmd_serve_metrics;
extern const struct command cmd_console; /* ui/cmd_console.c */

#endif
