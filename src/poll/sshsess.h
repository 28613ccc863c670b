/* sshsess: one libssh client session set up over an already-connected stream:
 * handshake, known_hosts verification as OpenSSH's StrictHostKeyChecking does
 * it, public-key authentication (agent, then key files), and the TCP connect
 * that usually precedes it, every failure classified. Internal to poll/. */
#ifndef FLEETDECK_POLL_SSHSESS_H
#define FLEETDECK_POLL_SSHSESS_H

#include "device/device.h"
#include "poll/ssh.h"

#include <libssh/libssh.h>
#include <pthread.h>

typedef struct sshsess_params {
	const char *label;              /* for messages, e.g. "edge-01 (root@10.0.0.1:22)" */
	const char *host;               /* known_hosts name */
	int port;
	const char *user;
	char *const *identities;        /* key files to try, in order, after the agent */
	size_t n_identities;
	const char *agent_sock;         /* NULL: no agent */
	const char *known_hosts;        /* the user's known_hosts file */
	ssh_strict strict;
	pthread_mutex_t *known_hosts_lock; /* serialises check-and-add on the file */
	int timeout_ms;                 /* whole handshake and authentication */
} sshsess_params;

/* TCP connection to host:port within timeout_ms. Returns the fd (non-blocking)
 * or -1 with *reason (REFUSED, TIMEOUT, DNS, NETWORK) and *err (caller frees). */
int sshsess_tcp_connect(const char *label, const char *host, int port, int timeout_ms, int keepalive_s,
			dev_reason *reason, char **err);

/* TCP keepalive every keepalive_s seconds (3 probes); <= 0: none. */
void sshsess_set_keepalive(int fd, int keepalive_s);
/* The reason a connect failed with errno e: REFUSED, TIMEOUT, RESET or NETWORK. */
dev_reason sshsess_errno_reason(int e);

/* Takes fd (closed on failure, else owned by the session) and returns an
 * authenticated blocking session, or NULL with *reason and *err. */
ssh_session sshsess_open(const sshsess_params *pp, int fd, dev_reason *reason, char **err);

/* Closes the connection (the fd too) and frees, without blocking. Accepts NULL. */
void sshsess_close(ssh_session s);

/* 0 if the session's stream has visibly ended (EOF or error), else 1. */
int sshsess_alive(ssh_session s);

/* Blocks SIGPIPE in the calling thread: the pool's threads write to sockets
 * whose peer may be gone, and must get EPIPE, not a signal that kills the
 * process (a library cannot ignore it for the whole process). */
void sshsess_thread_init(void);

/* A reason for a libssh error text seen after the session was up. */
dev_reason sshsess_classify(const char *libssh_error);

#endif
