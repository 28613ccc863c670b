/* cli: shared plumbing of the subcommands (config, inventory loading, output). */
#include "cli/cli.h"
#include "inventory/loader.h"
#include "util/pyjson.h"
#include "util/xalloc.h"

#include <stdlib.h>

void cli_add_inventory(struct app *app, const char *path)
{
	app->inv_args = xrealloc(app->inv_args, (app->ninv_args + 1) * sizeof *app->inv_args);
	app->inv_args[app->ninv_args++] = xstrdup(path);
}

int cli_load_config(struct app *app)
{
	if (app->config_loaded)
		return 0;
	char *path = app->config_path ? xstrdup(app->config_path) : config_default_path();
	char *err = NULL;
	int rc = config_load(path, &app->cfg, &err);
	if (rc == 0 && app->config_path && !app->cfg.path) {
		fprintf(stderr, "fleetdeck: %s: no such file\n", path);
		rc = -1;
	}
	free(path);
	if (rc) {
		if (err)
			fprintf(stderr, "fleetdeck: %s\n", err);
		free(err);
		return -1;
	}
	app->config_loaded = true;
	return 0;
}

void cli_print_warnings(inventory *inv)
{
	for (size_t i = 0; i < inv_warning_count(inv); i++)
		fprintf(stderr, "[WARNING]: %s\n", inv_warning(inv, i));
}

inventory *cli_load_inventory(struct app *app)
{
	if (cli_load_config(app))
		return NULL;
	size_t n;
	const char *from;
	char **srcs = config_inventory_sources(&app->cfg, app->inv_args, app->ninv_args, &n, &from);
	inventory *inv = inv_new();
	char *err = NULL;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = inv_load(inv, srcs[i], &err);
	if (rc == 0)
		rc = inv_load_vars(inv, &err);
	config_strv_free(srcs, n);
	cli_print_warnings(inv);
	if (rc) {
		fprintf(stderr, "fleetdeck: %s\n", err ? err : "could not load the inventory");
		free(err);
		inv_free(inv);
		return NULL;
	}
	return inv;
}

void cli_print_json(const json_t *v)
{
	char *s = pyjson_dumps(v, 4);
	fputs(s, stdout);
	fputc('\n', stdout);
	free(s);
}
