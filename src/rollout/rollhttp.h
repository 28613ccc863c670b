/* rollhttp: one JSON request over HTTP with libcurl (an easy handle per
 * thread, kept with its connections): what the rollout runner asks a device
 * agent and the model registry. Answers are capped in size; every call has
 * connect and total timeouts. Thread-safe once curl_global_init has run. */
#ifndef FLEETDECK_ROLLOUT_ROLLHTTP_H
#define FLEETDECK_ROLLOUT_ROLLHTTP_H

#include <jansson.h>

typedef struct rollhttp_opts {
	long connect_ms, timeout_ms;
	size_t max_bytes; /* answer cap; 0: 1 MiB */
} rollhttp_opts;

/* Each calling thread keeps an easy handle (and its open connections) between
 * calls; it is freed when the thread ends, or here for the calling thread. */
void rollhttp_thread_end(void);

/* method "GET" or "POST" (body: a JSON object sent as application/json,
 * borrowed). Returns 0 when an HTTP answer came: *code, and *answer (new
 * reference, NULL if the body is not JSON). Returns -1 when no answer came
 * (refused, timeout, reset, too big): *err says why (caller frees). */
int rollhttp_json(const char *url, const char *method, const json_t *body, const rollhttp_opts *o, long *code,
		  json_t **answer, char **err);

/* "http://ADDR:PORT/path" with brackets for an IPv6 address; caller frees. */
char *rollhttp_url(const char *address, int port, const char *path);

#endif
