/* pattern: Ansible host patterns (all, *, names, globs, a:b, a,b, a:&b, a:!b,
 * ~regex, subscripts g[0] g[1:3] g[-1]) with the host order and the
 * warnings of ansible's InventoryManager.get_hosts(). */
#ifndef FLEETDECK_PATTERN_H
#define FLEETDECK_PATTERN_H

#include "inventory/inventory.h"

/* Hosts matching `pattern`, in Ansible's order, without duplicates.
 * Returns 0 with *hosts (caller frees the array, not the hosts) and *n, or -1
 * with *err (caller frees) for an invalid pattern or an out-of-range subscript.
 * "Could not match supplied host pattern, ignoring: X" goes to inv_warn(). */
int inv_pattern_hosts(inventory *inv, const char *pattern, inv_host ***hosts, size_t *n, char **err);

/* inv_pattern_hosts() under `--limit LIMIT` (InventoryManager.subset() then
 * get_hosts()): LIMIT is split like a pattern and each `@FILE` in it is
 * replaced by the file's lines. NULL, or a limit that splits into nothing
 * ("" or ","), limits nothing. Errors as for inv_pattern_hosts(), plus
 * Ansible's messages for a missing or non-regular limit file. */
int inv_pattern_limit(inventory *inv, const char *pattern, const char *limit, inv_host ***hosts, size_t *n,
		      char **err);

/* What `ansible PATTERN [--limit LIMIT] --list-hosts` lists (CLI.get_host_list()
 * as AdHocCLI.run() uses it): as inv_pattern_limit(), but when that fails with
 * an Ansible error (a subscript out of range, an invalid regex) or selects no
 * host of a non-empty inventory, and no LIMIT was given, the result is no
 * hosts (return 0) and the warning "No hosts matched, nothing to do"; with a
 * LIMIT those are errors, the latter "Specified inventory, host pattern and/or
 * --limit leaves us with no hosts to target.". An inventory without hosts
 * warns that only localhost is available (unless the pattern names it). */
int inv_pattern_list_hosts(inventory *inv, const char *pattern, const char *limit, inv_host ***hosts, size_t *n,
			   char **err);

#endif

