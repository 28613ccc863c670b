/* ini: Ansible's INI inventory format (ansible.plugins.inventory.ini). */
#ifndef FLEETDECK_INI_H
#define FLEETDECK_INI_H

#include "inventory/inventory.h"

/* Parse `len` bytes of INI inventory read from `path` into inv. Returns 0, or
 * -1 with *err = "path:line: what is wrong" (caller frees). */
int ini_parse(inventory *inv, const char *path, const char *data, size_t len, char **err);

#endif
