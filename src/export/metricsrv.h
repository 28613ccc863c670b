/* metricsrv: the HTTP side of `fleetdeck serve-metrics`: GET /metrics answers
 * the latest exposition handed in with metricsrv_publish, from a thread of its
 * own (libmicrohttpd's, one poll() loop over every connection), so a scrape
 * never waits for polling and polling never waits for a scraper. Slow and
 * abusive clients are bounded: a total connection limit, a per-address limit
 * and an idle timeout; a request body is never read. Nothing here prints. */
#ifndef FLEETDECK_EXPORT_METRICSRV_H
#define FLEETDECK_EXPORT_METRICSRV_H

#include <stddef.h>
#include <stdint.h>

typedef struct metricsrv metricsrv;

typedef struct metricsrv_opts {
	const char *listen;    /* "A.B.C.D:PORT" or "[V6]:PORT" */
	unsigned max_conns;    /* all clients at once: 64 */
	unsigned per_ip;       /* clients from one address at once: 8 */
	unsigned timeout_s;    /* idle connections are closed after this: 10 */
} metricsrv_opts;

/* Parses a listen address (numeric IPv4 or bracketed IPv6, and a port from 1
 * to 65535) into a sockaddr. 0, or -1 with *err saying what is wrong. */
struct sockaddr_storage;
int metricsrv_parse_listen(const char *s, struct sockaddr_storage *ss, char **err);

/* Binds, listens and starts serving (503 until the first publish). NULL with
 * *err ("127.0.0.1:9100: Address already in use"). */
metricsrv *metricsrv_start(const metricsrv_opts *o, char **err);
/* Closes every connection, stops the thread, frees. Accepts NULL. */
void metricsrv_stop(metricsrv *s);

/* Replaces the exposition served (copied). Thread-safe. */
void metricsrv_publish(metricsrv *s, const char *text, size_t len);

/* Requests answered since the start (any path). */
uint64_t metricsrv_requests(metricsrv *s);

#endif
