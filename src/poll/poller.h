/* poller: fleetdeck's scheduler: polls every device in parallel, cycle after
 * cycle. Each cycle fetches /status from every selected device (what the seed's
 * check asks), and /health, /metrics and /drift every Nth cycle (/health's
 * model_loaded changes seldom outside rollouts, which ask it themselves; the
 * bodies of the last two go to per-endpoint parse
 * hooks). Failures are retried briefly within the cycle; a device that stays
 * unreachable is polled less and less often (exponential backoff with jitter,
 * capped). Transports are a table (poll/transport.h): http now, ssh later.
 *
 * All state lives in the poller object: poller_cycle() blocks for one cycle (the
 * report); poller_run() loops on a thread of its own and hands every cycle's
 * results to a callback (the console). poller_stop() and poller_poke() may be
 * called from any thread; everything else from the thread that drives it.
 * Nothing here prints. */
#ifndef FLEETDECK_POLL_POLLER_H
#define FLEETDECK_POLL_POLLER_H

#include "device/device.h"
#include "poll/http.h"
#include "poll/ssh.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* X-macro: endpoint, its name (JSON, CLI), its path, and whether every cycle
 * needs it (the others come every slow_every-th cycle). */
#define POLL_EP_LIST(X)                                        \
	X(POLL_EP_STATUS, "status", "/status", true)           \
	X(POLL_EP_HEALTH, "health", "/health", false)          \
	X(POLL_EP_METRICS, "metrics", "/metrics", false)       \
	X(POLL_EP_DRIFT, "drift", "/drift", false)

typedef enum {
#define X(id, name, path, every) id,
	POLL_EP_LIST(X)
#undef X
	POLL_EP_COUNT
} poll_ep;

const char *poll_ep_name(poll_ep ep);
const char *poll_ep_path(poll_ep ep);

typedef struct poller poller;

/* A device to poll. The poller copies the strings. */
typedef struct poll_target {
	const char *name;      /* inventory name */
	const char *address;   /* ansible_host, else the name */
	int agent_port;        /* fleetdeck_agent_port: 8080 */
	int metrics_port;      /* fleetdeck_metrics_port: 8000 */
	const char *transport; /* fleetdeck_transport: "http" or "ssh" */
	http_dial_fn dial;     /* HTTP through a tunnel of the caller's; NULL: direct, or through
	                          the jump host below */
	void *dial_ctx;
	/* SSH: the transport "ssh" (agentless devices), and the jump host that HTTP to a
	 * device behind a bastion goes through */
	const char *ssh_user;  /* ansible_user (ansible_ssh_user); NULL: ssh config or the current user */
	int ssh_port;          /* ansible_port (ansible_ssh_port); 0: ssh config or 22 */
	const char *ssh_identity; /* ansible_ssh_private_key_file, ~ expanded; NULL: agent, config */
	const char *ssh_jump;  /* ProxyJump from ansible_ssh_common_args; NULL: none given */
	const char *model_dir; /* fleetdeck_model_dir: /opt/models */
	char *owned[2];        /* what poll_target_from_vars had to allocate: poll_target_clear */
} poll_target;

/* Frees what poll_target_from_vars allocated (the expanded key path, the jump). */
void poll_target_clear(poll_target *t);

/* Fills t from a host's merged variables (inv_host_vars): borrowed pointers into
 * name and vars. Returns 0, or -1 with *err ("fleetdeck_agent_port: expected a
 * port from 1 to 65535, got 'x'") for a variable of the wrong shape. */
int poll_target_from_vars(const char *name, const json_t *vars, poll_target *t, char **err);

/* The agent's answers, as the poller reads them (exposed for tests and fuzzing).
 * /status: into *st (cleared first; strings owned by it): 0, or -1 with *err. */
int poll_parse_status(const char *body, size_t len, dev_status *st, char **err);

typedef struct poll_health {
	char status[65];       /* as reported, cut at 64 bytes */
	bool have_loaded;      /* model_loaded was there */
	bool model_loaded;
} poll_health;
/* /health: {"status": string, "model_loaded": bool}: 0, or -1 with *err. */
int poll_parse_health(const char *body, size_t len, poll_health *h, char **err);

/* One endpoint's fetch in one cycle. */
typedef struct poll_fetch {
	bool attempted;
	bool ok;               /* answered 2xx, within the cap, and the parse (if any) took it */
	dev_reason reason;     /* !ok: why */
	long http_status;      /* 0: no answer */
	size_t body_len;       /* bytes of the answer */
	double rtt_ms;         /* the last attempt's */
	int attempts;
	char *error;           /* owned; NULL if ok */
} poll_fetch;

/* A parse hook for an endpoint's body (metrics, drift; NUL-terminated, "" if empty): called on the polling
 * thread with the answer of a successful fetch. It may reject the body by setting
 * f->ok = false, f->reason (MALFORMED) and f->error (a string it allocated). */
typedef void (*poll_parse_fn)(void *ctx, size_t device, poll_ep ep, const char *body, size_t len,
			      poll_fetch *f);

/* One device in one cycle. */
typedef struct poll_result {
	size_t index;          /* as poller_add returned */
	const char *host;      /* borrowed from the poller */
	bool polled;           /* false: skipped this cycle (backing off); nothing else is set
	                          but failures and next_poll_ms */
	int64_t ts_ms;         /* when the device's last fetch ended, ms since the epoch */
	dev_state state;       /* healthy, degraded, unhealthy or unreachable */
	dev_reason reason;
	char *detail;          /* owned: e.g. "/status: Connection refused"; NULL if healthy */
	double rtt_ms;         /* the /status fetch's, -1 if it failed */
	dev_status st;         /* what the device reported (valid bits in st.have); st.status
	                          NULL if /status gave nothing */
	poll_fetch fetch[POLL_EP_COUNT];
	int failures;          /* cycles in a row the device was unreachable */
	int64_t next_poll_ms;  /* earliest time the device is polled again (backoff); 0: next cycle */
} poll_result;

typedef struct poll_cycle_info {
	uint64_t cycle;        /* 1, 2, ... */
	int64_t start_ms, end_ms; /* wall clock, ms since the epoch */
	double duration_ms;    /* monotonic */
	size_t polled, skipped;
	long requests;         /* transfers this cycle */
	long connects;         /* new connections this cycle (the rest reused kept-alive ones) */
	bool slow_endpoints;   /* /metrics and /drift were due */
} poll_cycle_info;

typedef struct poller_opts {
	int forks;             /* devices polled at once: 256 */
	int connect_timeout_ms;/* 2000 */
	int timeout_ms;        /* each fetch, retries included: 5000 */
	size_t max_body;       /* 1 MiB */
	int retries;           /* quick retries of a failed connection within a fetch: 1 */
	int retry_delay_ms;    /* first retry after this, doubling: 100 */
	int interval_ms;       /* poller_run: a cycle starts this long after the last began: 10000 */
	int jitter_ms;         /* devices start at a random offset in [0, jitter_ms): 0 */
	int slow_every;        /* /metrics and /drift every Nth cycle (the first included): 6; 0 never */
	int backoff_max_ms;    /* cap of the backoff of unreachable devices: 300000 */
	uint64_t seed;         /* jitter; 0: from the clock */
	bool skip[POLL_EP_COUNT];           /* endpoints not to fetch at all (the slow ones only) */
	poll_parse_fn parse[POLL_EP_COUNT]; /* hooks for metrics and drift (status and health are
	                                       parsed here); NULL: the body is only measured */
	void *parse_ctx;
	void *parse_ep_ctx[POLL_EP_COUNT];  /* an endpoint's own ctx for its hook (metrics and drift
	                                       hooks of different modules); NULL: parse_ctx */
	sshpool_opts ssh;      /* the SSH transport and jump hosts (known_hosts, strictness,
	                          ssh config); its timeouts default to the ones above */
} poller_opts;

void poller_opts_default(poller_opts *o);

/* NULL with *err if the HTTP client cannot be set up. */
poller *poller_new(const poller_opts *o, char **err);
void poller_free(poller *p);

/* Adds a device; returns its index, or -1 with *err (an unknown transport, a
 * bad address or port; the message does not repeat the device's name). */
long poller_add(poller *p, const poll_target *t, char **err);
size_t poller_count(const poller *p);
/* What the poller sends device index for ep, for people: "GET http://..." or
 * "ssh user@host -- COMMAND" with the exact remote command. Caller frees; NULL
 * for a bad index. */
char *poller_describe(const poller *p, size_t index, poll_ep ep);

/* One cycle over every device, blocking until each is done (or skipped). *res
 * (one per device, in poller_add order) and *info stay valid until the next
 * cycle or poller_free. Returns 0, or -1 with *err if the event loop fails;
 * 1 if poller_stop() interrupted it (results then incomplete). */
int poller_cycle(poller *p, const poll_result **res, size_t *n, poll_cycle_info *info, char **err);

/* The console's loop: a cycle every interval_ms until poller_stop(); after each
 * cycle, publish(ctx, ...) on this thread (copy what you keep). Returns 0 when
 * stopped, -1 with *err on failure. */
typedef void (*poll_publish_fn)(void *ctx, const poll_result *res, size_t n, const poll_cycle_info *info);
int poller_run(poller *p, poll_publish_fn publish, void *ctx, char **err);

/* Thread-safe: poller_run (and a cycle under way) return soon. */
void poller_stop(poller *p);
/* Thread-safe: start the next cycle now, and poll backed-off devices in it. */
void poller_poke(poller *p);

#endif
