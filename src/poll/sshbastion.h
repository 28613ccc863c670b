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

/* The same without waiting: done(ctx, tag, fd, ...) is called once on the
 * bastion's thread (possibly before this returns; so the caller must be ready for
 * it first) with the stream's fd (the callee owns it), or fd -1 with reason and
 * err (the callee frees it): within timeout_ms of the request once the bastion
 * session is up. Returns -1 with *reason and *err (done is not called) only if
 * the request cannot be made. */
typedef void (*sshbastion_done_fn)(void *ctx, void *tag, int fd, dev_reason reason, char *err);
int sshbastion_forward_async(sshbastion *b, const char *host, int port, int timeout_ms, sshbastion_done_fn done,
			     void *ctx, void *tag, dev_reason *reason, char **err);

#endif
