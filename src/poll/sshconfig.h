/* sshconfig: the part of OpenSSH's ssh_config that fleetdeck honours (Host,
 * HostName, Port, User, IdentityFile, ProxyJump, UserKnownHostsFile,
 * StrictHostKeyChecking, Include), read without libssh's own parser, which
 * would turn ProxyJump into a ProxyCommand that runs the ssh binary. Also the
 * ProxyJump spec and shell-word splitting. Pure: no network, no globals. */
#ifndef FLEETDECK_POLL_SSHCONFIG_H
#define FLEETDECK_POLL_SSHCONFIG_H

#include <stddef.h>

typedef struct sshconfig sshconfig;

/* Reads path (and what it Includes). home expands ~ and %d; user is the local
 * user (%u). A missing file is an empty config; one that cannot be read, or a
 * line that cannot be split, is -1 with *err ("file:line: why"), caller frees.
 * Returns NULL only then. Unknown keywords are ignored, as OpenSSH's
 * IgnoreUnknown would; Match blocks are skipped (none of their options apply). */
sshconfig *sshconfig_load(const char *path, const char *home, const char *user, char **err);
/* An empty config (nothing matches). */
sshconfig *sshconfig_empty(void);
void sshconfig_free(sshconfig *c);

enum { SSHCONFIG_STRICT_UNSET = -1, SSHCONFIG_STRICT_YES = 0, SSHCONFIG_STRICT_ACCEPT_NEW = 1 };

/* What the config says for one host, first obtained value winning as in
 * OpenSSH. Every string is owned (sshconfig_host_clear frees them). */
typedef struct sshconfig_host {
	char *hostname;        /* HostName with %h expanded, or NULL */
	int port;              /* 0: unset */
	char *user;            /* or NULL */
	char **identity;       /* IdentityFile values in order, ~ and %d/%u/%h/%r/%p expanded */
	size_t n_identity;
	char *proxyjump;       /* ProxyJump as written ("none" included), or NULL */
	char *known_hosts;     /* first UserKnownHostsFile, expanded, or NULL */
	int strict;            /* SSHCONFIG_STRICT_*: yes/ask -> YES; accept-new/no/off -> ACCEPT_NEW */
} sshconfig_host;

/* Fills *h for host as typed (Host patterns match it, case-insensitively, with
 * * ? and !negation). In IdentityFile and UserKnownHostsFile, %r is
 * remote_user if given, else the config's User, else the local user; %p is port
 * if given, else the config's Port, else 22. */
void sshconfig_lookup(const sshconfig *c, const char *host, const char *remote_user, int port,
		      sshconfig_host *h);
void sshconfig_host_clear(sshconfig_host *h);

/* One ProxyJump hop: "[user@]host[:port]", "[user@][v6addr]:port" or
 * "ssh://[user@]host[:port]". Returns 0 and the parts (*user may be NULL; *port
 * 0 when not given; caller frees the strings), or -1 with *err. A chain
 * ("a,b") is -1 here: callers split it at the commas first. */
int sshconfig_parse_jump(const char *spec, char **user, char **host, int *port, char **err);

/* Splits s into words as a POSIX shell would (quotes, backslashes; no
 * expansion). Returns the count and *words (NULL-terminated, caller frees each
 * and the array), or -1 with *err (an unterminated quote). */
int sshconfig_split_words(const char *s, char ***words, char **err);

/* Matches a pattern list ("a,b*,!c") against name as OpenSSH does: 1 if a
 * positive pattern matches and no negated one does. */
int sshconfig_match_list(const char *patterns, const char *name);

#endif
