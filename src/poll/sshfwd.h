/* sshfwd: loopback ports that lead to addresses behind jump hosts, for clients
 * that must make their own TCP connections (libcurl: Debian 12's 7.88 cannot take
 * a socket that is already connected, curl issue 10626). Each forward is a
 * listening socket on 127.0.0.1; every connection accepted on it gets a tunnel
 * of its own through the jump host's one session (sshpool_tunnel), opened off
 * the pumping thread, and one thread moves the bytes of every forward. A tunnel
 * that cannot be opened closes the accepted connection at once and is kept as
 * the forward's last error, with its reason (hostkey, auth, refused, ...). */
#ifndef FLEETDECK_POLL_SSHFWD_H
#define FLEETDECK_POLL_SSHFWD_H

#include "device/device.h"
#include "poll/ssh.h"

#include <stdbool.h>

typedef struct sshfwd sshfwd;

/* timeout_ms: for opening each tunnel. NULL with *err if the thread or its pipe
 * cannot be made. */
sshfwd *sshfwd_new(sshpool *pool, int timeout_ms, char **err);
/* Closes every forward and connection; waits for the tunnels being opened. Accepts NULL. */
void sshfwd_free(sshfwd *f);

/* The loopback port whose connections reach host:port as t's jump host sees it;
 * the same (t's jump host and user, host, port) gives the same port. Returns the
 * port, or -1 with *err. */
int sshfwd_port(sshfwd *f, const ssh_target *t, const char *host, int port, char **err);

/* The last tunnel that could not be opened for local_port: true and its reason
 * and message (caller frees) if one failed since the last success. */
bool sshfwd_last_error(sshfwd *f, int local_port, dev_reason *reason, char **err);

typedef struct sshfwd_stats {
	long forwards, accepted, tunnels, failures, open_pairs;
} sshfwd_stats;
void sshfwd_get_stats(sshfwd *f, sshfwd_stats *s);

#endif
