/* yamlinv: Ansible's YAML inventory format (ansible.plugins.inventory.yaml). */
#ifndef FLEETDECK_YAMLINV_H
#define FLEETDECK_YAMLINV_H

#include "inventory/inventory.h"

/* Parse `len` bytes of YAML (or JSON) inventory read from `path` into inv.
 * Returns 0, or -1 with *err = "path:line: what is wrong" (caller frees). */
int yamlinv_parse(inventory *inv, const char *path, const char *data, size_t len, char **err);

#endif
