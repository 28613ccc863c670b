/* loader: reads inventory sources the way ansible's InventoryManager does:
 * a host list ("a,b:2222"), a file (tried with Ansible's plugins in order:
 * yaml where Ansible would, then ini) or a directory (every entry in it,
 * sorted, recursively, skipping what Ansible skips); then, once all sources
 * are in, one reconcile and the group_vars/ and host_vars/ beside each source.
 *
 * Deliberately stricter than Ansible, which warns and goes on with what it
 * could read: a source that does not exist or that no plugin can read is an
 * error, and so is an executable file (an inventory script, which fleetdeck
 * does not run), a Vault-encrypted file and an inventory plugin's
 * configuration (`plugin: ...`). */
#ifndef FLEETDECK_LOADER_H
#define FLEETDECK_LOADER_H

#include "inventory/inventory.h"

/* Load one source (call once per -i, in order). Returns 0, or -1 with
 * *err = "file:line: what is wrong" (caller frees). Warnings go to inv_warn().
 * The inventory is not reconciled yet: call inv_load_vars() after the last source. */
int inv_load(inventory *inv, const char *path, char **err);

/* After all sources: reconcile (Ansible does it once, after all sources), then
 * load group_vars/ and host_vars/ for every source and entity. Returns 0 or -1
 * with *err. */
int inv_load_vars(inventory *inv, char **err);

#endif
