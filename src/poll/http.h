/* http: fleetdeck's HTTP client for polling devices: libcurl's multi interface,
 * a bounded number of transfers at once, connections kept alive between cycles,
 * timeouts, a body size cap, and every failure classified into a dev_reason.
 *
 * Asynchronous: httpc_submit() queues a GET and returns at once; transfers start
 * in submission order while fewer than max_parallel run; httpc_wait() waits for
 * socket activity (and any extra fds, such as another transport's wake-up fd),
 * httpc_next() hands out finished transfers. One thread drives a client; only
 * httpc_wakeup() may be called from another. Nothing here prints.
 *
 * Inside: a pool of max_parallel easy handles reused transfer after transfer, and
 * several multi handles (one connection cache per 128 devices, picked by the
 * request's shard_key) driven by one epoll set through curl_multi_socket_action. */
#ifndef FLEETDECK_POLL_HTTP_H
#define FLEETDECK_POLL_HTTP_H

#include "device/device.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct httpc httpc;

typedef struct http_opts {
	int max_parallel;       /* transfers at once; 0: 256 */
	int connect_timeout_ms; /* 0: 2000 */
	int timeout_ms;         /* whole transfer, default for requests that give none; 0: 5000 */
	size_t max_body;        /* answer bytes kept; a longer answer is aborted as
	                           DEV_REASON_OVERSIZED; 0: 1 MiB */
	long max_connects;      /* idle connections kept for reuse (about one per device
	                           and port); 0: 4 * max_parallel */
} http_opts;

/* Opens a request's connection some other way than a TCP connect from here
 * (through an SSH tunnel: sshpool_tunnel()). Returns a connected stream socket
 * (the client owns and closes it), or -1 with *reason and *err (the client frees
 * it). The host name is never resolved here. Called on the thread that drives the
 * client, and may block up to timeout_ms. The connection is kept alive and reused
 * like any other. (libcurl 7.88 cannot take an already connected socket; the client
 * works around that, see http.c.) */
typedef int (*http_dial_fn)(void *ctx, const char *host, int port, int timeout_ms, dev_reason *reason,
			    char **err);

typedef struct http_request {
	const char *host;   /* address or name (copied) */
	int port;
	const char *path;   /* starts with '/' (copied) */
	int timeout_ms;     /* 0: the client's */
	http_dial_fn dial;  /* NULL: connect directly */
	void *dial_ctx;
	int via_port;       /* connect to 127.0.0.1:via_port instead (a forward: sshfwd), the
	                       URL and Host header staying the device's; 0: no */
	void *tag;          /* handed back in the result */
	unsigned long shard_key; /* requests with the same key share a connection cache
	                            (the poller gives a device's index): keep it stable
	                            per device so its connection is found again */
} http_request;

typedef struct http_result {
	void *tag;
	dev_reason reason;  /* DEV_REASON_NONE: a 2xx answer, complete and within the cap */
	long status;        /* HTTP status, 0 if no answer came */
	char *body;         /* owned, NUL-terminated (also for non-2xx); NULL if none */
	size_t body_len;
	char *error;        /* owned: what went wrong, for people; NULL on success */
	double rtt_ms;      /* from the transfer's start to its end */
	long new_connects;  /* connections this transfer had to open (0: reused one) */
} http_result;

typedef struct httpc_stats {
	long requests, connects, failures;
	size_t queued, running;
} httpc_stats;

/* NULL with *err if libcurl cannot be set up. curl_global_init() is the
 * caller's (main). */
httpc *httpc_new(const http_opts *o, char **err);
/* Aborts what is queued or running (no results). Accepts NULL. */
void httpc_free(httpc *c);

/* Queues a GET. Returns 0, or -1 with *err for a request that cannot be made
 * (bad port, host or path). */
int httpc_submit(httpc *c, const http_request *rq, char **err);
/* Starts queued transfers, drives running ones and waits at most timeout_ms for
 * activity on their sockets, a wake-up, or input on one of the extra fds (at most
 * 16; their revents say which had some). Returns -1 with *err if libcurl or the
 * event loop fails, else 0. */
int httpc_wait(httpc *c, int timeout_ms, struct curl_waitfd *extra, unsigned nextra, char **err);
/* 1 and fills *r (clear it with http_result_clear) if a transfer finished, else 0. */
int httpc_next(httpc *c, http_result *r);
void http_result_clear(http_result *r);
/* Makes a httpc_wait() under way return now. Thread-safe. */
void httpc_wakeup(httpc *c);
/* Transfers queued, running, or finished and not collected yet. */
size_t httpc_pending(const httpc *c);
/* Changes how many idle connections are kept (CURLMOPT_MAXCONNECTS). */
void httpc_set_max_connects(httpc *c, long n);
void httpc_get_stats(const httpc *c, httpc_stats *s);

/* Whether host can go into a URL as it is (a name or an IPv4/IPv6 address;
 * nothing that could change the URL's meaning). */
bool http_host_valid(const char *host);

/* The reason a transfer failed: libcurl's code, the OS errno of its connect
 * (CURLINFO_OS_ERRNO), the HTTP status, and whether the body passed the cap. */
dev_reason http_classify(CURLcode code, long os_errno, long status, bool oversized);

#endif
