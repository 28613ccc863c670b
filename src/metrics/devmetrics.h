/* devmetrics: device readings from the exporter's /metrics: the gauges as they
 * are, and the latency p95 and error rate over the interval between two scrapes
 * of the same device (counter resets handled). Keeps each device's previous
 * scrape. Used as the poller's POLL_EP_METRICS parse hook; what it derives fills
 * the dev_status fields /status did not give. Not thread-safe: the hook and
 * devmetrics_merge run on the polling thread. Nothing here prints. */
#ifndef FLEETDECK_METRICS_DEVMETRICS_H
#define FLEETDECK_METRICS_DEVMETRICS_H

#include "device/device.h"
#include "metrics/prom.h"
#include "poll/poller.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Which devmetrics_values fields hold a value. */
enum {
	DEVM_GPU_UTIL = 1u << 0,
	DEVM_GPU_MEM_USED = 1u << 1,
	DEVM_GPU_MEM_TOTAL = 1u << 2,
	DEVM_GPU_TEMP = 1u << 3,
	DEVM_POWER = 1u << 4,
	DEVM_CPU_UTIL = 1u << 5,
	DEVM_MEM_USED = 1u << 6,
	DEVM_MEM_TOTAL = 1u << 7,
	DEVM_LATENCY_P95 = 1u << 8,
	DEVM_ERROR_RATE = 1u << 9,
};

typedef struct devmetrics_values {
	unsigned have;         /* DEVM_* */
	double gpu_util;       /* percent */
	double gpu_mem_used, gpu_mem_total; /* bytes */
	double gpu_temp;       /* °C */
	double power_w;
	double cpu_util;       /* percent */
	double mem_used, mem_total; /* bytes */
	double latency_p95_ms; /* over the window */
	double error_rate;     /* 0..1, over the window */
	double latency_obs;    /* observations in the window */
	double requests;       /* requests in the window */
	bool since_start;      /* the window is the exporter's whole life: the first scrape, or
	                          the first after a counter reset */
	int64_t ts_ms;         /* when the scrape was taken; 0: never */
} devmetrics_values;

/* One scrape's state, what the next scrape's deltas need. Opaque. */
typedef struct devmetrics_scrape devmetrics_scrape;

/* Reads what a device exposition says into *cur (a new scrape state, caller
 * frees with devmetrics_scrape_free) and *out, with deltas against prev (NULL:
 * since the exporter started). Pure; metrics it does not find are left out of
 * out->have. */
void devmetrics_read(const prom_doc *doc, const devmetrics_scrape *prev, devmetrics_scrape **cur,
		    devmetrics_values *out);
void devmetrics_scrape_free(devmetrics_scrape *s);
/* The latency histogram (inference_latency_seconds, summed over its series)
 * between prev and cur as cumulative buckets sorted by le: all of cur after a
 * reset, as devmetrics_read judges one. A new array of *n buckets (caller
 * frees), or NULL and 0 when cur has no such histogram. Summing these over
 * devices gives a group's histogram (prom_histogram_quantile). */
prom_bucket *devmetrics_latency_delta(const devmetrics_scrape *prev, const devmetrics_scrape *cur, size_t *n);

typedef struct devmetrics devmetrics;

devmetrics *devmetrics_new(void);
void devmetrics_free(devmetrics *dm);

/* Parses one device's /metrics body taken at ts_ms and keeps it as that device's
 * previous scrape. Returns 0, or -1 with *err ("line 3: ..."); a failure forgets
 * the device's readings. */
int devmetrics_take(devmetrics *dm, size_t device, const char *body, size_t len, int64_t ts_ms, char **err);
/* Forgets a device's readings and previous scrape. */
void devmetrics_forget(devmetrics *dm, size_t device);
/* The device's latest readings; false (and *out cleared) if none. */
bool devmetrics_get(const devmetrics *dm, size_t device, devmetrics_values *out);

/* Fills the fields of st that st->have lacks (GPU util, memory, temperature,
 * power, latency p95, error rate) from v; never overwrites one it has. */
void devmetrics_fill(const devmetrics_values *v, dev_status *st);

/* The poll_parse_fn for POLL_EP_METRICS (ctx: the devmetrics). A body that does
 * not parse marks the fetch malformed. */
void devmetrics_hook(void *ctx, size_t device, poll_ep ep, const char *body, size_t len, poll_fetch *f);

/* Sets o's POLL_EP_METRICS hook (and parse_ctx) to this devmetrics. */
void devmetrics_attach(devmetrics *dm, poller_opts *o);

/* A cycle's results with the latest readings filled in (devmetrics_fill) where
 * /status answered but lacked them; a device whose /metrics fetch failed this
 * cycle is forgotten first. Returns a shallow copy of res (strings still the
 * poller's) owned by dm, valid until the next call or devmetrics_free. */
const poll_result *devmetrics_merge(devmetrics *dm, const poll_result *res, size_t n);

#endif
