/* simhttp: libmicrohttpd glue: which endpoint, the request body, routing, HTTP-level faults. */
#include "sim/simhttp.h"
#include "sim/simagent.h"
#include "sim/simctl.h"
#include "sim/simsrv.h"
#include "util/pyjson.h"
#include "util/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_BODY (64 * 1024) /* agent and control bodies are a few hundred bytes */

/* One HTTP request in progress. */
struct req {
	simep *ep;
	char *body;
	size_t len, cap;
	bool too_big;
	bool released; /* parked once already: answer now */
};

void simhttp_json(simreply *r, int status, json_t *v)
{
	r->status = status;
	free(r->body);
	r->body = pyjson_dumps(v, -1);
	r->body_len = strlen(r->body);
	r->content_type = "application/json";
	json_decref(v);
}

void simhttp_error(simreply *r, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	simhttp_json(r, status, json_pack("{s:s}", "error", m));
	free(m);
}

void simhttp_method_not_allowed(simreply *r, const char *allow)
{
	simhttp_error(r, 405, "method not allowed");
	r->allow = allow;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	simsrv *s = cls;
	if (toe != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	/* every socket is ours: the local address says which device was dialled */
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	*socket_context = NULL;
	if (ci && !getsockname(ci->connect_fd, (struct sockaddr *)&sa, &len) && sa.sin_family == AF_INET)
		*socket_context = simsrv_lookup(s, ntohl(sa.sin_addr.s_addr), ntohs(sa.sin_port));
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct req *q = *con_cls;
	if (q) {
		free(q->body);
		free(q);
	}
	*con_cls = NULL;
}

/* The registry: static files from memory. */
static void registry(simsrv *s, const simreq *rq, simreply *rp)
{
	if (strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD")) {
		simhttp_method_not_allowed(rp, "GET, HEAD");
		return;
	}
	const simreg_file *f = simreg_find(s->reg, rq->path);
	if (!f) {
		simhttp_error(rp, 404, "no such file: %s", rq->path);
		return;
	}
	rp->status = 200;
	rp->fixed = f->data;
	rp->fixed_len = f->len;
	rp->content_type = f->content_type;
}

/* ---- answers that break on purpose ---- */

struct stream {
	char *body;    /* truncated: what is sent before the connection drops */
	size_t len;
	size_t total;  /* oversized: the whole length */
};

static ssize_t read_truncated(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	if (pos >= st->len)
		return MHD_CONTENT_READER_END_WITH_ERROR; /* MHD closes: fewer bytes than announced */
	size_t n = st->len - (size_t)pos < max ? st->len - (size_t)pos : max;
	memcpy(buf, st->body + pos, n);
	return (ssize_t)n;
}

/* A valid JSON document of exactly `total` bytes: a prefix, many numbers, padding
 * spaces, and the closing. Computed from the position alone: no buffer. */
static ssize_t read_oversized(void *cls, uint64_t pos, char *buf, size_t max)
{
	static const char head[] = "{\"status\": \"healthy\", \"model_loaded\": true, \"samples\": [";
	static const char item[] = "0.123456, ";
	static const char tail[] = "0.5]}";
	struct stream *st = cls;
	size_t hl = sizeof head - 1, il = sizeof item - 1, tl = sizeof tail - 1;
	size_t items = (st->total - hl - tl) / il;
	size_t n = 0;
	for (; n < max && pos + n < st->total; n++) {
		uint64_t p = pos + n;
		if (p < hl)
			buf[n] = head[p];
		else if (p >= st->total - tl)
			buf[n] = tail[p - (st->total - tl)];
		else if (p - hl < items * il)
			buf[n] = item[(p - hl) % il];
		else
			buf[n] = ' ';
	}
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void free_stream(void *cls)
{
	struct stream *st = cls;
	free(st->body);
	free(st);
}

static struct MHD_Response *make_response(simsrv *s, simreply *rp, simfault f)
{
	struct MHD_Response *resp;
	if (f == SIMFAULT_HTTP500) {
		simhttp_error(rp, 500, "internal server error");
		rp->fixed = NULL;
	}
	const char *data = rp->fixed ? rp->fixed : rp->body;
	size_t len = rp->fixed ? rp->fixed_len : rp->body_len;
	if (f == SIMFAULT_MALFORMED && len) {
		/* the first half of the real answer, then garbage: not JSON, not Prometheus text */
		size_t half = len / 2;
		char *m = xmalloc(half + 8);
		memcpy(m, data, half);
		memcpy(m + half, ";;#{\n", 6);
		free(rp->body);
		rp->body = m;
		rp->body_len = half + 5;
		rp->fixed = NULL;
		data = rp->body;
		len = rp->body_len;
	}
	if (f == SIMFAULT_TRUNCATED) {
		struct stream *st = xcalloc(1, sizeof *st);
		st->body = xmalloc(len ? len : 1);
		memcpy(st->body, data, len);
		st->len = len;
		/* announce twice the length (and more), send the real bytes, close */
		resp = MHD_create_response_from_callback(len * 2 + 100, 16384, read_truncated, st, free_stream);
	} else if (f == SIMFAULT_OVERSIZED) {
		struct stream *st = xcalloc(1, sizeof *st);
		st->total = s->o.oversize_bytes;
		resp = MHD_create_response_from_callback(st->total, 65536, read_oversized, st, free_stream);
		rp->content_type = "application/json";
	} else if (rp->fixed) {
		resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
	} else {
		resp = MHD_create_response_from_buffer(len, rp->body, MHD_RESPMEM_MUST_FREE);
		rp->body = NULL; /* MHD frees it */
	}
	if (resp) {
		if (rp->content_type)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rp->content_type);
		if (rp->allow)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rp->allow);
	}
	return resp;
}

static void set_linger0(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci) {
		struct linger lg = { 1, 0 };
		setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	(void)version;
	simsrv *s = cls;
	struct req *q = *con_cls;
	if (!q) { /* headers are in; the body (if any) comes in the next calls */
		q = xcalloc(1, sizeof *q);
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		q->ep = ci ? ci->socket_context : NULL;
		*con_cls = q;
		return MHD_YES;
	}
	if (*upload_size) {
		if (q->too_big || q->len + *upload_size > MAX_BODY) {
			q->too_big = true;
		} else {
			q->body = xgrow(q->body, &q->cap, q->len + *upload_size + 1, 1);
			memcpy(q->body + q->len, upload, *upload_size);
			q->len += *upload_size;
			q->body[q->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (atomic_load(&s->stopping) || !q->ep)
		return MHD_NO;

	simep *ep = q->ep;
	simdev *d = ep->dev;
	simfault f = SIMFAULT_NONE;
	int slow_ms = 0;
	if (d) {
		pthread_mutex_lock(&s->mu);
		f = d->fault;
		slow_ms = d->slow_ms;
		pthread_mutex_unlock(&s->mu);
	}
	/* connections opened before a transport fault began (keep-alive) get it too */
	if (d && !q->released) {
		double now = simsrv_mono();
		switch (f) {
		case SIMFAULT_HANG:
		case SIMFAULT_UNREACHABLE:
			q->released = true;
			return simsrv_park(s, c, d, INFINITY) ? MHD_YES : MHD_NO;
		case SIMFAULT_SLOW:
			q->released = true;
			return simsrv_park(s, c, d, now + slow_ms / 1000.0) ? MHD_YES : MHD_NO;
		case SIMFAULT_REFUSED:
		case SIMFAULT_RESET:
			set_linger0(c);
			return MHD_NO;
		default:
			break;
		}
	}

	simreq rq = { .method = method, .path = url, .body = q->body ? q->body : "", .body_len = q->len };
	rq.q_window = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "window");
	simreply rp = { 0 };
	if (q->too_big)
		simhttp_error(&rp, 413, "request body larger than %d bytes", MAX_BODY);
	else if (ep->roles & SIMEP_CONTROL)
		simctl_handle(s, &rq, &rp);
	else if (ep->roles & SIMEP_REGISTRY)
		registry(s, &rq, &rp);
	else
		simagent_handle(s, ep, &rq, &rp);

	struct MHD_Response *resp = make_response(s, &rp, d ? f : SIMFAULT_NONE);
	free(rp.body);
	if (!resp)
		return MHD_NO;
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)rp.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Poll mode, not epoll: with libmicrohttpd 0.9.75 in epoll mode, kept-alive connections
 * were seen to stall with a request unread in the socket until the client gave up. Poll
 * mode costs O(connections) per wake-up, hence four threads, each polling a quarter. */
struct MHD_Daemon *simhttp_start(simsrv *s, unsigned max_conns, char **err)
{
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC, 0,
		NULL, NULL, on_request, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT, max_conns,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)4, MHD_OPTION_END);
	if (!d)
		*err = xasprintf("cannot start the HTTP daemon: %s", strerror(errno));
	return d;
}
