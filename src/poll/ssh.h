/* ssh: fleetdeck's SSH transport (libssh). One session per device, kept open
 * between polls (one exec channel per command); connect and authenticate on a
 * small pool of worker threads, never on the caller's thread; jump hosts through
 * ONE authenticated session per bastion that carries a direct-tcpip channel for
 * every device behind it (no `ssh` binary, no session per device on the bastion).
 *
 * Asynchronous: sshpool_exec() queues a command and returns at once; results come
 * back through sshpool_result_next(), and sshpool_wake_fd() becomes readable when
 * one is waiting (put it in the caller's poll()). Nothing here prints. */
#ifndef FLEETDECK_POLL_SSH_H
#define FLEETDECK_POLL_SSH_H

#include "device/device.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct sshpool sshpool;

/* OpenSSH's StrictHostKeyChecking: an unknown host is refused (YES) or its key
 * is added to known_hosts (ACCEPT_NEW); a changed key is always refused. */
typedef enum { SSH_STRICT_YES, SSH_STRICT_ACCEPT_NEW } ssh_strict;

typedef struct sshpool_opts {
	int threads;               /* worker threads; 0: 16 */
	int connect_timeout_ms;    /* 0: 2000 */
	int command_timeout_ms;    /* 0: 5000 */
	int keepalive_s;           /* 0: 15; -1 none */
	const char *ssh_config;    /* NULL: ~/.ssh/config; "" reads none */
	const char *known_hosts;   /* NULL: ~/.ssh/known_hosts */
	ssh_strict strict;
	size_t max_output;         /* stdout cap per command; 0: 1 MiB; more is DEV_REASON_OVERSIZED */
} sshpool_opts;

/* Where and as whom. Strings are copied by the calls that take a target. */
typedef struct ssh_target {
	const char *name;     /* inventory host name (for messages) */
	const char *host;     /* address: ansible_host, else the name; ssh config Host
	                         blocks match on it, as with OpenSSH */
	int port;             /* 0: ssh config, else 22 */
	const char *user;     /* NULL: ssh config, else the current user */
	const char *identity; /* ansible_ssh_private_key_file, or NULL: agent, config, ~/.ssh/id_* */
	const char *jump;     /* "[user@]host[:port]" (ProxyJump), or NULL: ssh config's ProxyJump;
	                         "none": no jump host whatever the config says */
} ssh_target;

typedef struct sshpool_result {
	void *tag;            /* as given to sshpool_exec */
	bool ran;             /* the command ran: exit_code and out are valid */
	int exit_code;
	char *out;            /* stdout, NUL-terminated (owned) */
	size_t out_len;
	char *error;          /* !ran: what went wrong, for people (owned) */
	dev_reason reason;    /* !ran: REFUSED, TIMEOUT, DNS, AUTH, HOSTKEY, RESET, NETWORK, OVERSIZED */
	double rtt_ms;        /* submit to result */
} sshpool_result;

typedef struct sshpool_stats {
	long sessions_open;         /* device sessions open now */
	long bastion_sessions_open; /* bastion sessions open now */
	long connects;              /* TCP connections or tunnels set up so far (device sessions) */
	long bastion_connects;      /* bastion sessions set up so far */
	long channels_opened;       /* direct-tcpip channels opened through bastions so far */
} sshpool_stats;

sshpool *sshpool_new(const sshpool_opts *o, char **err);
/* Closes every session; pending commands are dropped. Accepts NULL. */
void sshpool_free(sshpool *p);

/* Queues command on t's session (connecting first if needed). Returns 0, or -1
 * with *err if it cannot even be queued. */
int sshpool_exec(sshpool *p, const ssh_target *t, const char *command, void *tag, char **err);
int sshpool_wake_fd(const sshpool *p);
/* 1 and fills *r (clear it with sshpool_result_clear) if a result waits, else 0. */
int sshpool_result_next(sshpool *p, sshpool_result *r);
void sshpool_result_clear(sshpool_result *r);

/* A stream socket connected to host:port as seen from t's jump host (through the
 * bastion session's direct-tcpip channel): how HTTP polling reaches devices
 * behind a bastion. Blocks at most timeout_ms. Returns the fd (caller closes),
 * or -1 with *err and *reason. */
int sshpool_tunnel(sshpool *p, const ssh_target *t, const char *host, int port, int timeout_ms,
		   dev_reason *reason, char **err);

void sshpool_get_stats(sshpool *p, sshpool_stats *s);

/* The jump host in ansible_ssh_common_args: `-o ProxyJump=SPEC`, `-oProxyJump=SPEC`,
 * `-J SPEC`, split as a shell would. Returns 1 and *jump (caller frees) if there is
 * one, 0 if not, -1 with *err if the string cannot be split. *jump is returned as
 * written, "none" included: it goes into ssh_target.jump as it is. */
int ssh_common_args_jump(const char *args, char **jump, char **err);

#endif
