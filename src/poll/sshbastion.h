/* sshbastion: one authenticated session to a jump host, owned by one thread
 * that opens direct-tcpip channels through it and pumps each between the
 * channel and a socketpair whose other end it hands out (an inner SSH session's
 * fd, or an HTTP tunnel). Internal to poll/. */
#ifndef FLEETDECK_POLL_SSHBASTION_H
#define FLEETDECK_POLL_SSHBASTION_H

#include "device/device.h"
#include "poll/ssh.h"

#include <pthread.h>

/* The pool's counters, shared with the bastion threads. */
typedef struct sshstats {
	pthread_mutex_t m;
	sshpool_stats s;
} sshstats;

typedef struct sshbastion sshbastion;

/* Where the bastion is and how to log in; copied by sshbastion_new. */
typedef struct sshbastion_cfg {
	const char *label;       /* "jump host bastion (root@127.0.0.1:2222)" */
	const char *host;
	int port;
	const char *user;
	char *const *identities;
	size_t n_identities;
	const char *agent_sock;
	const char *known_hosts;
	ssh_strict strict;
	int connect_timeout_ms;
	int keepalive_s;
	pthread_mutex_t *known_hosts_lock;
	sshstats *stats;
	struct sshbastion *via; /* reached through this earlier hop (borrowed), or NULL: TCP */
} sshbastion_cfg;

/* Starts the bastion's thread (it connects on the first request). Returns NULL
 * with *err if the thread cannot start. */
sshbastion *sshbastion_new(const sshbastion_cfg *cfg, char **err);
/* Stops the thread, closing the session and every channel. Accepts NULL. */
void sshbastion_free(sshbastion *b);

/* A stream connected to host:port as the bastion sees it, within timeout_ms
 * (connecting to the bastion first if need be). Returns the fd (caller owns it),
 * or -1 with *reason and *err (caller frees). Any thread. */
int sshbastion_forward(sshbastion *b, const char *host, int port, int timeout_ms, dev_reason *reason, char **err);

#endif
