/* sshconn: the SSH pool's TCP connects, all of them at once on one thread (non-
 * blocking connects under one poll()), so that a device that does not answer
 * holds no worker thread for its connect timeout: the workers only do what needs
 * a live connection (handshake, commands). A connect is done when the server has
 * sent its first bytes (SSH servers speak first: their banner), which are left
 * unread for libssh; a server that takes the connection and stays silent (a
 * tarpit) is a timeout here too, not on a worker. Internal to poll/. */
#ifndef FLEETDECK_POLL_SSHCONN_H
#define FLEETDECK_POLL_SSHCONN_H

#include "device/device.h"

/* Called on the connector's thread when a connect ends: fd >= 0 (connected, the
 * banner waiting, non-blocking, the callee owns it), or fd -1 with reason
 * (REFUSED, TIMEOUT, RESET, NETWORK) and err (the callee frees it). */
typedef void (*sshconn_done_fn)(void *ctx, void *tag, int fd, dev_reason reason, char *err);

typedef struct sshconn sshconn;

/* Starts the connector thread. keepalive_s as for sshpool_opts. NULL with *err on failure. */
sshconn *sshconn_new(int keepalive_s, sshconn_done_fn done, void *ctx, char **err);
/* Stops the thread; connects under way are dropped (done is not called for them). Accepts NULL. */
void sshconn_free(sshconn *c);

/* Resolves host (on the calling thread: a numeric address costs nothing) and
 * queues the connect to host:port, which done() reports within timeout_ms.
 * Returns 0, or -1 with *reason (DNS, NETWORK) and *err if it cannot resolve;
 * then done() is not called. label names the device in messages. */
int sshconn_start(sshconn *c, const char *label, const char *host, int port, int timeout_ms, void *tag,
		  dev_reason *reason, char **err);

/* Takes fd, a stream already connected (a channel through a jump host), and
 * reports it through done() once the server's banner is there, within timeout_ms. */
void sshconn_await_banner(sshconn *c, const char *label, const char *host, int port, int fd, int timeout_ms,
			  void *tag);

#endif
