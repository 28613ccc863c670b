/* varsfiles: group_vars/ and host_vars/ beside an inventory source, found and
 * read as Ansible's host_group_vars vars plugin does (DataLoader.find_vars_files:
 * NAME, NAME.yml, NAME.yaml or NAME.json, the first that exists; a directory
 * NAME/ read recursively in sorted order, skipping hidden files, backups and
 * other extensions). Each directory is listed once and names are looked up in
 * the listing, so 100,000 hosts cost no 400,000 stat() calls. */
#ifndef FLEETDECK_VARSFILES_H
#define FLEETDECK_VARSFILES_H

#include "inventory/inventory.h"

/* Load DIR/group_vars/ and DIR/host_vars/ for every group and host of inv,
 * stored as the variable files of source `src` (inv_group_set_src_vars,
 * inv_host_set_src_vars). Returns 0, or -1 with *err = "file:line: what is
 * wrong" (caller frees). Warnings go to inv_warn(). */
int varsfiles_load(inventory *inv, size_t src, const char *dir, char **err);

#endif
