/* hostrange: Ansible's host-pattern expansion for inventory sources:
 * parse_address(allow_ranges=True) (host, host:port, [ipv6]:port, IPv4/IPv6
 * with ranges) followed by expand_hostname_range (`web[01:20]`, `[a:f]`,
 * `[0:10:2]`, several ranges in one name). */
#ifndef FLEETDECK_HOSTRANGE_H
#define FLEETDECK_HOSTRANGE_H

#include <stddef.h>

/* On success returns 0; *names is a new array of *n new strings (free with
 * hostrange_free) and *port is the port, or -1 when none was given.
 * On error returns -1 and *err is Ansible's message, without a file:line
 * prefix (the caller adds it). */
int hostrange_expand(const char *pattern, char ***names, size_t *n, long *port, char **err);
/* The same, refusing more than max_names names (0: the default 1,000,000). */
int hostrange_expand_max(const char *pattern, size_t max_names, char ***names, size_t *n, long *port, char **err);
void hostrange_free(char **names, size_t n);

#endif
