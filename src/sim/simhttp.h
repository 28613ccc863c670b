/* simhttp: the one libmicrohttpd daemon behind every socket: finds which device (or
 * service) a connection is for from its local address, gathers the request, routes it,
 * and applies the HTTP-level faults (slow, http500, malformed, truncated, oversized) to
 * the answer. Also the request/answer types the handlers share. */
#ifndef FLEETSIM_SIMHTTP_H
#define FLEETSIM_SIMHTTP_H

#include <jansson.h>
#include <stddef.h>

struct simsrv;
struct MHD_Daemon;

typedef struct simreq {
	const char *method, *path;
	const char *body;      /* NUL-terminated */
	size_t body_len;
	const char *q_window;  /* ?window= of /drift, or NULL */
} simreq;

typedef struct simreply {
	int status;
	char *body;            /* owned (malloc) */
	size_t body_len;       /* bytes of body; set by the helpers */
	const void *fixed;     /* instead of body: bytes that outlive the daemon (registry files) */
	size_t fixed_len;
	const char *content_type;
	const char *allow;     /* Allow header of a 405 */
} simreply;

/* Starts the daemon: no listening socket of its own, one internal epoll thread,
 * connections come from simsrv via MHD_add_connection. */
struct MHD_Daemon *simhttp_start(struct simsrv *s, unsigned max_conns, char **err);

/* Helpers for handlers. */
/* Sets a JSON answer (Python json.dumps style); takes the reference to `v`. */
void simhttp_json(simreply *r, int status, json_t *v);
void simhttp_error(simreply *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void simhttp_method_not_allowed(simreply *r, const char *allow);

#endif
