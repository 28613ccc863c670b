/* cli_source: --source, where the commands that read device state get it:
 * `poll` (the devices themselves, the default) or `prometheus=URL[,...]` (a
 * Prometheus server that scrapes them; poll/promsrc.h). */
#ifndef FLEETDECK_CLI_SOURCE_H
#define FLEETDECK_CLI_SOURCE_H

#include "fleet/fleet.h"
#include "inventory/inventory.h"
#include "poll/promsrc.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct cli_source {
	bool prometheus;       /* false: poll the devices */
	promsrc_opts prom;     /* prometheus: its settings (strings owned by prom.owned) */
} cli_source;

/* Parses a --source value ("poll" or "prometheus=..."): 0, or -1 after printing
 * "fleetdeck WHO: --source: ..." on stderr. Clear with cli_source_clear. */
int cli_source_parse(const char *who, const char *arg, cli_source *s);
void cli_source_clear(cli_source *s);

/* The inventory variable that overrides a host's label value. */
#define CLI_PROM_KEY_VAR "fleetdeck_prometheus_instance"

/* As cli_poll_targets, into a Prometheus source: the devices of inv selected by
 * limit, added to ps and the fleet model in the same order; a host whose
 * variables are unusable is reported on stderr and counted in *skipped. The
 * number added, or -1 (reported) for a bad limit. */
long cli_prom_targets(inventory *inv, const char *limit, promsrc *ps, fleet *f, size_t *skipped, const char *who);

#endif
