/* cli_source: the --source option and the selected devices into a Prometheus source. */
#include "cli/cli_source.h"
#include "cli/cli.h"
#include "inventory/pattern.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_source_parse(const char *who, const char *arg, cli_source *s)
{
	cli_source_clear(s);
	if (!strcmp(arg, "poll"))
		return 0;
	if (strncmp(arg, "prometheus=", 11)) {
		fprintf(stderr, "fleetdeck %s: --source: expected poll or prometheus=URL, got '%s'\n", who, arg);
		return -1;
	}
	char *err = NULL;
	if (promsrc_opts_parse(arg + 11, &s->prom, &err)) {
		fprintf(stderr, "fleetdeck %s: --source prometheus: %s\n", who, err);
		free(err);
		return -1;
	}
	s->prometheus = true;
	return 0;
}

void cli_source_clear(cli_source *s)
{
	promsrc_opts_clear(&s->prom);
	memset(s, 0, sizeof *s);
}

long cli_prom_targets(inventory *inv, const char *limit, promsrc *ps, fleet *f, size_t *skipped, const char *who)
{
	char *err = NULL;
	inv_host **hosts = NULL;
	size_t n = 0;
	*skipped = 0;
	if (inv_pattern_limit(inv, "all", limit, &hosts, &n, &err)) {
		fprintf(stderr, "fleetdeck %s: %s\n", who, err);
		free(err);
		return -1;
	}
	cli_print_warnings(inv);
	long added = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *vars = inv_host_vars(inv, hosts[i]);
		poll_target t;
		const char *key = json_string_value(json_object_get(vars, CLI_PROM_KEY_VAR));
		if (poll_target_from_vars(hosts[i]->name, vars, &t, &err) || promsrc_add(ps, &t, key, &err) < 0) {
			fprintf(stderr, "fleetdeck %s: %s: %s (not read)\n", who, hosts[i]->name, err);
			free(err);
			err = NULL;
			(*skipped)++;
		} else {
			fleet_add(f, hosts[i]->name, fleet_factory_of(inv, hosts[i], vars),
				  json_string_value(json_object_get(vars, "gpu_type")));
			added++;
		}
		poll_target_clear(&t);
		json_decref(vars);
	}
	free(hosts);
	return added;
}
