/* config: fleetdeck's settings file ($XDG_CONFIG_HOME/fleetdeck/config.yaml)
 * and where the inventory comes from (-i, $FLEETDECK_INVENTORY, config, ./inventory). */
#ifndef FLEETDECK_CONFIG_H
#define FLEETDECK_CONFIG_H

#include "fleet/fleet.h"
#include "poll/poller.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct fd_config {
	char *path;        /* the file read, or NULL when there was none */
	char **inventory;  /* `inventory:` a path or a list of paths, made absolute against the file's dir */
	size_t ninventory;
	bool read_only;    /* `read_only: true` */
	char *theme;       /* `theme: NAME` */
	char *db;          /* `db: PATH` */
	char *registry;    /* `registry: DIR | URL` the model registry (a directory made absolute
	                      against the file's dir, or an http(s) URL as written) */
	poller_opts poll;  /* `poll:` forks, timeout, connect_timeout, interval, jitter,
	                      slow_every, retries, backoff_max (times in seconds), over
	                      poller_opts_default() */
	char *ssh_known_hosts; /* `ssh:` known_hosts (path), config (path of an ssh_config; "none"), */
	char *ssh_config;      /* strict_host_key_checking (yes | accept-new), threads; these go
	                          into poll.ssh (which points at these strings) */
	fleet_rules rules; /* `alerts:` gpu_temp_warning, gpu_temp_critical, gpu_temp (per
	                      gpu_type: {warning, critical}), expected_version (a version,
	                      or model: version), drift_ks, drift_features (per feature:
	                      {name: KS}), drift_pvalues (exact | asymptotic),
	                      stale_after (s), disable (rule names), over
	                      fleet_rules_default() */
} fd_config;

/* $XDG_CONFIG_HOME/fleetdeck/config.yaml, or ~/.config/fleetdeck/config.yaml. Caller frees. */
char *config_default_path(void);

/* Read `path` into cfg (zeroed first). A missing file is no error (returns 0,
 * cfg->path NULL). A bad one returns -1 with *err = "file:line: what is wrong". */
int config_load(const char *path, fd_config *cfg, char **err);
/* config_load() of the file's contents data[0..len), read from `path` (for
 * messages and for making relative inventory paths absolute). cfg->path is
 * set even on error: config_free() it either way. */
int config_parse(const char *path, const char *data, size_t len, fd_config *cfg, char **err);
void config_free(fd_config *cfg);

/* The inventory sources to use, by precedence: the -i arguments, else
 * $FLEETDECK_INVENTORY (comma-separated, as ANSIBLE_INVENTORY), else the
 * config's `inventory`, else ./inventory. Returns a new array of new strings
 * (free with config_strv_free); *from says which rule applied. */
char **config_inventory_sources(const fd_config *cfg, char *const *cli, size_t ncli, size_t *n, const char **from);
void config_strv_free(char **v, size_t n);

#endif
