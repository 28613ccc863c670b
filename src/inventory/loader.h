/* loader: reads inventory sources the way ansible's InventoryManager does:
 * a file (tried as YAML where Ansible would, else INI) or a directory (every
 * file in it, in order, skipping what Ansible skips), then group_vars/ and
 * host_vars/ beside each source, then reconcile. */
#ifndef FLEETDECK_LOADER_H
#define FLEETDECK_LOADER_H

#include "inventory/inventory.h"

/* Load one source (call once per -i, in order). Returns 0, or -1 with
 * *err = "file:line: what is wrong" (caller frees). Warnings go to inv_warn(). */
int inv_load(inventory *inv, const char *path, char **err);

/* After all sources: load group_vars/ and host_vars/ for every source and
 * entity. Returns 0 or -1 with *err. */
int inv_load_vars(inventory *inv, char **err);

#endif
