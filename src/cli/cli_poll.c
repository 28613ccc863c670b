/* cli_poll: what the commands that poll share: the selected devices into a poller and a fleet model. */
#include "cli/cli.h"
#include "fleet/fleet.h"
#include "inventory/pattern.h"
#include "poll/poller.h"

#include <stdlib.h>
#include <sys/resource.h>

long cli_poll_targets(inventory *inv, const char *limit, poller *p, fleet *f, size_t *skipped, const char *who)
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
		if (poll_target_from_vars(hosts[i]->name, vars, &t, &err) || poller_add(p, &t, &err) < 0) {
			fprintf(stderr, "fleetdeck %s: %s: %s (not polled)\n", who, hosts[i]->name, err);
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

void cli_raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}
