/* metricsrv: serve-metrics' HTTP server over libmicrohttpd (metricsrv.h). */
#include "export/metricsrv.h"
#include "util/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* An exposition shared by the responses that send it: freed by the last. */
struct blob {
	atomic_int refs;
	size_t len;
	char data[];
};

struct metricsrv {
	struct MHD_Daemon *d;
	int fd;
	pthread_mutex_t mu;
	struct blob *cur;      /* NULL until the first publish */
	atomic_ullong requests;
};

static void blob_unref(void *p)
{
	struct blob *b = p;
	if (b && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}

int metricsrv_parse_listen(const char *s, struct sockaddr_storage *ss, char **err)
{
	memset(ss, 0, sizeof *ss);
	const char *colon, *host_end;
	char host[64];
	bool v6 = s[0] == '[';
	if (v6) {
		host_end = strchr(s, ']');
		if (!host_end || host_end[1] != ':') {
			*err = xasprintf("'%s': expected [IPV6]:PORT", s);
			return -1;
		}
		colon = host_end + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon) {
			*err = xasprintf("'%s': expected ADDRESS:PORT (an IPv4 address, or [IPv6])", s);
			return -1;
		}
		host_end = colon;
	}
	size_t hl = (size_t)(host_end - s);
	if (hl == 0 || hl >= sizeof host) {
		*err = xasprintf("'%s': expected an address before the port", v6 ? s - 1 : s);
		return -1;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	const char *ps = colon + 1;
	char *end;
	errno = 0;
	long port = strtol(ps, &end, 10);
	if (!*ps || *end || errno || port < 1 || port > 65535 || *ps == '+' || *ps == '-') {
		*err = xasprintf("'%s': the port must be a number from 1 to 65535", v6 ? s - 1 : s);
		return -1;
	}
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
			*err = xasprintf("'%s': not an IPv6 address", host);
			return -1;
		}
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
			*err = xasprintf("'%s': not an IPv4 address (names are not looked up)", host);
			return -1;
		}
	}
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *text)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, "Allow", "GET, HEAD");
	enum MHD_Result rc = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	(void)version, (void)upload_data;
	metricsrv *s = cls;
	/* anything with a body is refused at once (MHD then closes the connection) */
	if ((strcmp(method, "GET") && strcmp(method, "HEAD")) || *upload_size) {
		atomic_fetch_add(&s->requests, 1);
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD, without a body\n");
	}
	/* a GET is answered on the second call, once the request is complete: a response
	 * queued before that makes MHD close the connection instead of keeping it alive */
	if (!*con_cls) {
		*con_cls = s; /* a marker: the request was seen once */
		return MHD_YES;
	}
	atomic_fetch_add(&s->requests, 1);
	if (!strcmp(url, "/"))
		return reply(c, MHD_HTTP_OK, "fleetdeck serve-metrics: the fleet's metrics are at /metrics\n");
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
	pthread_mutex_lock(&s->mu);
	struct blob *b = s->cur;
	if (b)
		atomic_fetch_add(&b->refs, 1);
	pthread_mutex_unlock(&s->mu);
	if (!b)
		return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no metrics yet\n");
	struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(b->len, b->data, blob_unref, b);
	if (!r) {
		blob_unref(b);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

metricsrv *metricsrv_start(const metricsrv_opts *o, char **err)
{
	struct sockaddr_storage ss;
	if (metricsrv_parse_listen(o->listen, &ss, err))
		return NULL;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	socklen_t sl = ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 128) != 0) {
		*err = xasprintf("%s: %s", o->listen, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	metricsrv *s = xcalloc(1, sizeof *s);
	s->fd = fd;
	pthread_mutex_init(&s->mu, NULL);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_CONNECTION_LIMIT, o->max_conns ? o->max_conns : 64u,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->per_ip ? o->per_ip : 8u,
				MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s ? o->timeout_s : 10u,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024, MHD_OPTION_END);
	if (!s->d) {
		*err = xasprintf("%s: the HTTP server did not start", o->listen);
		pthread_mutex_destroy(&s->mu);
		close(fd);
		free(s);
		return NULL;
	}
	return s;
}

void metricsrv_stop(metricsrv *s)
{
	if (!s)
		return;
	/* quiesced first, so the listening socket is ours to close (exactly once) */
	MHD_quiesce_daemon(s->d);
	MHD_stop_daemon(s->d);
	close(s->fd);
	blob_unref(s->cur);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void metricsrv_publish(metricsrv *s, const char *text, size_t len)
{
	struct blob *b = xmalloc(sizeof *b + len + 1);
	atomic_init(&b->refs, 1);
	b->len = len;
	memcpy(b->data, text, len);
	b->data[len] = '\0';
	pthread_mutex_lock(&s->mu);
	struct blob *old = s->cur;
	s->cur = b;
	pthread_mutex_unlock(&s->mu);
	blob_unref(old);
}

uint64_t metricsrv_requests(metricsrv *s)
{
	return atomic_load(&s->requests);
}
