/* transport: how the poller reaches a device, one ops table per value of
 * fleetdeck_transport. The poller's event loop waits in the HTTP client
 * (httpc_wait), with every other transport's wake-up fd among the fds it
 * watches; after each wait it collects finished fetches from every transport.
 * Adding a transport (ssh) is one ops table and one line in poller.c's list. */
#ifndef FLEETDECK_POLL_TRANSPORT_H
#define FLEETDECK_POLL_TRANSPORT_H

#include "poll/http.h"
#include "poll/poller.h"
#include "poll/sshfwd.h"

/* What transports share: the poller's HTTP client and options. */
typedef struct transport_env {
	httpc *http;
	const poller_opts *o;
	sshpool **ssh;         /* the poller's SSH pool, made on first need: transport_env_ssh() */
	sshfwd **fwd;          /* loopback forwards through jump hosts: transport_env_fwd() */
} transport_env;

/* The SSH pool, made the first time a device needs it (ssh transport, jump host). */
sshpool *transport_env_ssh(const transport_env *env, char **err);
/* The forwards HTTP to devices behind jump hosts goes through, made on first need. */
sshfwd *transport_env_fwd(const transport_env *env, char **err);

/* A finished fetch, in any transport. */
typedef struct transport_result {
	void *tag;             /* as given to start */
	dev_reason reason;     /* DEV_REASON_NONE: the endpoint answered, complete */
	long http_status;      /* 0 if not HTTP or no answer */
	char *body;            /* owned, NUL-terminated; NULL if none */
	size_t body_len;
	char *error;           /* owned; NULL on success */
	double rtt_ms;
	long new_connects;
} transport_result;

/* The poller's copy of a target. */
typedef struct transport_target {
	size_t index;          /* the device's index in the poller */
	char *name, *address;
	int agent_port, metrics_port;
	http_dial_fn dial;
	void *dial_ctx;
	char *ssh_user, *ssh_identity, *ssh_jump, *model_dir; /* owned; NULL: not given */
	int ssh_port;
	int via_agent_port, via_metrics_port; /* HTTP behind a jump host: the loopback forwards
	                                         (sshfwd) its connections go to; 0: direct */
} transport_target;

/* t's SSH target (borrowed strings). */
void transport_ssh_target(const transport_target *t, ssh_target *out);

struct transport_ops {
	const char *name;      /* fleetdeck_transport value */
	/* The transport's state, made the first time a device uses it; NULL with *err on failure. */
	void *(*open)(const transport_env *env, char **err);
	void (*close)(void *t);
	/* Starts fetching ep from tg; the result comes from next() with tag. */
	int (*start)(void *t, const transport_env *env, const transport_target *tg, poll_ep ep, int timeout_ms,
		     void *tag, char **err);
	/* An fd that becomes readable when results wait (-1: they come through the HTTP client's wait). */
	int (*wake_fd)(void *t);
	/* 1 and fills *r (the caller owns it) if a fetch finished, else 0. */
	int (*next)(void *t, const transport_env *env, transport_result *r);
	/* What start() sends for ep, for people (the command log): the request
	 * line, or the SSH command line and the exact remote command. Caller frees. */
	char *(*describe)(const transport_env *env, const transport_target *tg, poll_ep ep, int timeout_ms);
};

extern const struct transport_ops transport_http, transport_ssh;

#endif
