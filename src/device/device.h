/* device: the vocabulary every part of fleetdeck shares about one device: its
 * state at the end of a poll cycle, why, and the fields it reported. Pure data
 * and small helpers; no I/O. */
#ifndef FLEETDECK_DEVICE_H
#define FLEETDECK_DEVICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* X-macro: state, its name (stable: JSON, SQLite, CLI), and its severity rank
 * (higher is worse; the console colours a factory by its worst). */
#define DEV_STATE_LIST(X)              \
	X(DEV_PENDING, "pending", 0)       \
	X(DEV_HEALTHY, "healthy", 1)       \
	X(DEV_DEGRADED, "degraded", 3)     \
	X(DEV_UNHEALTHY, "unhealthy", 4)   \
	X(DEV_UNREACHABLE, "unreachable", 5) \
	X(DEV_STALE, "stale", 2)

typedef enum {
#define X(id, name, rank) id,
	DEV_STATE_LIST(X)
#undef X
	DEV_STATE_COUNT
} dev_state;

/* Why a device is unreachable or unhealthy. Transport failures make a device
 * unreachable; a reachable device that answers wrongly is unhealthy. */
#define DEV_REASON_LIST(X)                                                   \
	X(DEV_REASON_NONE, "", "")                                               \
	X(DEV_REASON_REFUSED, "refused", "connection refused")                   \
	X(DEV_REASON_TIMEOUT, "timeout", "timed out")                            \
	X(DEV_REASON_DNS, "dns", "name did not resolve")                         \
	X(DEV_REASON_AUTH, "auth", "SSH authentication failed")                  \
	X(DEV_REASON_HOSTKEY, "hostkey", "SSH host key unknown or changed")      \
	X(DEV_REASON_RESET, "reset", "connection reset")                         \
	X(DEV_REASON_NETWORK, "network", "network error")                        \
	X(DEV_REASON_HTTP, "http", "HTTP error status")                          \
	X(DEV_REASON_MALFORMED, "malformed", "malformed answer")                 \
	X(DEV_REASON_OVERSIZED, "oversized", "answer too large")                 \
	X(DEV_REASON_REPORTED, "reported", "the device reports it")              \
	X(DEV_REASON_NOT_POLLED, "not_polled", "not polled recently")            \
	X(DEV_REASON_TRUNCATED, "truncated", "answer cut short")

typedef enum {
#define X(id, name, text) id,
	DEV_REASON_LIST(X)
#undef X
	DEV_REASON_COUNT
} dev_reason;

/* Which optional fields of a dev_status hold a value: the UI prints '-' for
 * the others, never a fake zero. */
enum {
	DEV_HAVE_GPU_TEMP = 1u << 0,
	DEV_HAVE_UPTIME = 1u << 1,
	DEV_HAVE_GPU_UTIL = 1u << 2,
	DEV_HAVE_GPU_MEM_USED = 1u << 3,
	DEV_HAVE_GPU_MEM_TOTAL = 1u << 4,
	DEV_HAVE_POWER = 1u << 5,
	DEV_HAVE_LATENCY_P95 = 1u << 6,
	DEV_HAVE_ERROR_RATE = 1u << 7,
	DEV_HAVE_MODEL_LOADED = 1u << 8,
	DEV_HAVE_DRIFT = 1u << 9,
};

/* What a device said about itself (agent /status and /health, or the same
 * gathered over SSH). Strings are owned. */
typedef struct dev_status {
	unsigned have;         /* DEV_HAVE_* */
	char *status;          /* as reported: healthy | degraded | unhealthy | other */
	char *model_name;
	char *model_version;
	char *gpu_type;
	double gpu_temp;       /* °C */
	double uptime_hours;
	double gpu_util;       /* percent */
	double gpu_mem_used;   /* bytes */
	double gpu_mem_total;  /* bytes */
	double power_w;
	double latency_p95_ms;
	double error_rate;     /* 0..1 */
	double drift_ks;       /* worst feature's KS statistic */
	bool model_loaded;
} dev_status;

/* One device at the end of one poll cycle: what history records. */
typedef struct dev_sample {
	const char *host;      /* borrowed: inventory name */
	const char *factory;   /* borrowed: factory group name, or NULL */
	int64_t ts_ms;         /* when the answer (or the failure) came, ms since the epoch */
	int64_t last_seen_ms;  /* last successful answer, 0 = never */
	dev_state state;
	dev_reason reason;
	char *detail;          /* owned: the error text, e.g. "HTTP 500" or libcurl's message */
	double rtt_ms;         /* how long the poll took, -1 if it failed */
	dev_status st;
} dev_sample;

const char *dev_state_name(dev_state s);
int dev_state_rank(dev_state s);
/* Parses a state name; returns -1 if unknown. */
int dev_state_parse(const char *name);
const char *dev_reason_name(dev_reason r);
const char *dev_reason_text(dev_reason r);
int dev_reason_parse(const char *name);

void dev_status_clear(dev_status *st);            /* frees strings, zeroes */
void dev_status_copy(dev_status *dst, const dev_status *src);
void dev_sample_clear(dev_sample *s);

/* Parses an agent /status answer (contract: status, model_name, model_version,
 * gpu_temp, uptime_hours required; all but status may be null, which is "the
 * device cannot tell" and leaves the field unknown, never zero; optional gpu_type, gpu_util, gpu_mem_used,
 * gpu_mem_total, power_w, latency_p95_ms, error_rate). Returns 0, or -1 with
 * *err naming what is missing or mistyped (caller frees). Never trusts sizes:
 * strings longer than 256 bytes are refused. */
int dev_status_from_json(dev_status *st, const json_t *j, char **err);

/* Whether a failure says the device cannot be reached (refused, timeout, dns,
 * auth, hostkey, reset, network) rather than that it answered wrongly (http,
 * malformed, oversized, truncated, reported). */
bool dev_reason_unreachable(dev_reason r);

/* The state a reachable device's answer puts it in. */
dev_state dev_state_from_status(const dev_status *st);

#endif
