/* yamlinv: Ansible's YAML inventory format (ansible.plugins.inventory.yaml). */
#ifndef FLEETDECK_YAMLINV_H
#define FLEETDECK_YAMLINV_H

#include "inventory/inventory.h"

/* Parse `len` bytes of YAML (or JSON) inventory read from `path` into inv.
 * Returns 0, or -1 with *err = "path:line: what is wrong" (caller frees). */
int yamlinv_parse(inventory *inv, const char *path, const char *data, size_t len, char **err);

/* Why yamlinv_parse_status() refused a file, so the loader can tell a broken
 * YAML inventory from a file of another format. */
enum yamlinv_status {
	YAMLINV_OK,
	YAMLINV_NOT_YAML,      /* neither JSON nor YAML */
	YAMLINV_EMPTY,         /* loaded, but nothing (or something falsy) in it */
	YAMLINV_NOT_MAPPING,   /* loaded, but not a mapping of groups */
	YAMLINV_PLUGIN_CONFIG, /* a mapping with a `plugin:` key: an inventory plugin's config */
	YAMLINV_INVALID,       /* a mapping of groups with something wrong in it */
};

/* yamlinv_parse(), also telling why it failed. As in Ansible, groups and hosts
 * added before an error stay in inv. */
int yamlinv_parse_status(inventory *inv, const char *path, const char *data, size_t len,
			 enum yamlinv_status *status, char **err);

#endif
