/* http: GETs to many devices at once: libcurl multi handles (their connection caches keep devices' connections alive between cycles) on one epoll loop. */
#include "poll/http.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* Devices per connection cache. libcurl 7.88 walks the whole cache each time a
 * transfer is removed from its multi handle (looking for a connect-only connection
 * to close), so one cache for 10,000 kept-alive connections costs O(devices) per
 * request; a multi handle per this many devices keeps that walk short. */
#define DEVICES_PER_SHARD 128

struct req {
	struct req *next;
	char *url;
	char *host;
	int port;
	int timeout_ms;
	http_dial_fn dial;
	void *dial_ctx;
	void *tag;
	unsigned long shard_key;
	struct curl_slist *connect_to; /* dialed requests: skip resolving the name here */
};

/* One multi handle and its connection cache; a request's shard_key picks it, so a
 * device's requests always find its kept-alive connection. */
struct shard {
	CURLM *multi;
	httpc *c;
	size_t index;
	double timer_at;      /* monotonic ms when libcurl wants a timeout call; <0: none */
	bool active;          /* something happened: read its messages */
};

/* One transfer slot. The easy handles live as long as the client and are reused
 * for transfer after transfer; connections live in the multi handle's cache, so
 * a device's next request finds its connection whichever slot carries it. */
struct slot {
	CURL *easy;
	httpc *c;
	struct shard *sh;     /* the multi handle it is in while a transfer runs */
	struct req *rq;       /* the transfer under way, NULL when free */
	char *buf;
	size_t len, cap;
	bool oversized;
	int tunnel;           /* the dialer's connected socket, until it takes the place of
	                         the stand-in libcurl connected (see open_socket); -1 none */
	int standin;
	dev_reason dial_reason;
	char *dial_err;
	char errbuf[CURL_ERROR_SIZE];
};

struct httpc {
	http_opts o;
	struct shard **shards;
	size_t nshards;
	int epfd, evfd;       /* every shard's sockets; the wake-up eventfd */
	struct slot *slots;
	size_t nslots;        /* max_parallel, created lazily */
	size_t *free_slots;   /* stack of free slot indexes */
	size_t nfree, ncreated;
	struct req *qhead, *qtail;
	size_t queued, running;
	http_result *done;    /* ring of finished transfers */
	size_t done_head, ndone, done_cap;
	long requests, connects, failures;
};

dev_reason http_classify(CURLcode code, long os_errno, long status, bool oversized)
{
	if (oversized || code == CURLE_FILESIZE_EXCEEDED)
		return DEV_REASON_OVERSIZED;
	switch (code) {
	case CURLE_OK:
		return status >= 200 && status < 300 ? DEV_REASON_NONE : DEV_REASON_HTTP;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return DEV_REASON_DNS;
	case CURLE_COULDNT_CONNECT:
		if (os_errno == ECONNREFUSED)
			return DEV_REASON_REFUSED;
		if (os_errno == ETIMEDOUT)
			return DEV_REASON_TIMEOUT;
		if (os_errno == ECONNRESET)
			return DEV_REASON_RESET;
		return DEV_REASON_NETWORK;
	case CURLE_OPERATION_TIMEDOUT:
		return DEV_REASON_TIMEOUT;
	case CURLE_PARTIAL_FILE:
		return DEV_REASON_TRUNCATED;
	case CURLE_GOT_NOTHING: /* closed before any answer */
		return DEV_REASON_RESET;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return os_errno == ECONNRESET || os_errno == EPIPE || os_errno == 0 ? DEV_REASON_RESET
										  : DEV_REASON_NETWORK;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_HTTP2:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return DEV_REASON_MALFORMED;
	default:
		return DEV_REASON_NETWORK;
	}
}

static void req_free(struct req *r)
{
	if (!r)
		return;
	free(r->url);
	free(r->host);
	curl_slist_free_all(r->connect_to);
	free(r);
}

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* libcurl's socket callback: keep the shard's sockets in the one epoll set. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct shard *sh = userp;
	(void)e, (void)socketp;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(sh->c->epfd, EPOLL_CTL_DEL, fd, NULL); /* may be closed already */
		return 0;
	}
	struct epoll_event ev = {
		.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0),
		.data.u64 = (uint64_t)sh->index << 32 | (uint32_t)fd,
	};
	if (epoll_ctl(sh->c->epfd, EPOLL_CTL_MOD, fd, &ev) && errno == ENOENT)
		epoll_ctl(sh->c->epfd, EPOLL_CTL_ADD, fd, &ev);
	return 0;
}

/* libcurl's timer callback: when to call it back for the shard's timeouts. */
static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
	struct shard *sh = userp;
	(void)m;
	sh->timer_at = timeout_ms < 0 ? -1 : mono_ms() + (double)timeout_ms;
	return 0;
}

static struct shard *shard_new(httpc *c, size_t index)
{
	struct shard *sh = xcalloc(1, sizeof *sh);
	sh->multi = curl_multi_init();
	if (!sh->multi) {
		free(sh);
		return NULL;
	}
	sh->c = c;
	sh->index = index;
	sh->timer_at = -1;
	curl_multi_setopt(sh->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(sh->multi, CURLMOPT_SOCKETDATA, sh);
	curl_multi_setopt(sh->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(sh->multi, CURLMOPT_TIMERDATA, sh);
	return sh;
}

/* Shards for max_connects connections, each cache sized to its share. Shards are
 * only ever added: a device keeps its shard (and connection) while the count holds. */
static int size_shards(httpc *c, char **err)
{
	size_t want = (size_t)(c->o.max_connects + DEVICES_PER_SHARD - 1) / DEVICES_PER_SHARD;
	if (want < 1)
		want = 1;
	if (want > c->nshards) {
		c->shards = xrealloc(c->shards, want * sizeof *c->shards);
		for (size_t i = c->nshards; i < want; i++) {
			c->shards[i] = shard_new(c, i);
			if (!c->shards[i]) {
				*err = xstrdup("cannot set up libcurl (curl_multi_init failed)");
				return -1;
			}
			c->nshards = i + 1;
		}
	}
	long per = c->o.max_connects / (long)c->nshards + 16;
	for (size_t i = 0; i < c->nshards; i++)
		curl_multi_setopt(c->shards[i]->multi, CURLMOPT_MAXCONNECTS, per);
	return 0;
}

httpc *httpc_new(const http_opts *o, char **err)
{
	httpc *c = xcalloc(1, sizeof *c);
	if (o)
		c->o = *o;
	if (c->o.max_parallel <= 0)
		c->o.max_parallel = 256;
	if (c->o.connect_timeout_ms <= 0)
		c->o.connect_timeout_ms = 2000;
	if (c->o.timeout_ms <= 0)
		c->o.timeout_ms = 5000;
	if (c->o.max_body == 0)
		c->o.max_body = (size_t)1 << 20;
	if (c->o.max_connects <= 0)
		c->o.max_connects = 4L * c->o.max_parallel;
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	c->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->epfd < 0 || c->evfd < 0) {
		*err = xasprintf("cannot set up the event loop: %s", strerror(errno));
		httpc_free(c);
		return NULL;
	}
	c->nslots = (size_t)c->o.max_parallel;
	c->slots = xcalloc(c->nslots, sizeof *c->slots);
	c->free_slots = xcalloc(c->nslots, sizeof *c->free_slots);
	if (size_shards(c, err)) {
		httpc_free(c);
		return NULL;
	}
	return c;
}

static void result_clear_one(http_result *r)
{
	free(r->body);
	free(r->error);
	memset(r, 0, sizeof *r);
}

void http_result_clear(http_result *r)
{
	if (r)
		result_clear_one(r);
}

void httpc_free(httpc *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ncreated; i++) {
		struct slot *s = &c->slots[i];
		if (s->rq) {
			curl_multi_remove_handle(s->sh->multi, s->easy);
			req_free(s->rq);
		}
		free(s->buf);
		free(s->dial_err);
		if (s->tunnel >= 0)
			close(s->tunnel);
		curl_easy_cleanup(s->easy);
	}
	for (size_t i = 0; i < c->nshards; i++) {
		curl_multi_cleanup(c->shards[i]->multi);
		free(c->shards[i]);
	}
	free(c->shards);
	while (c->qhead) {
		struct req *n = c->qhead->next;
		req_free(c->qhead);
		c->qhead = n;
	}
	for (size_t i = 0; i < c->ndone; i++)
		result_clear_one(&c->done[(c->done_head + i) % c->done_cap]);
	free(c->done);
	free(c->slots);
	free(c->free_slots);
	if (c->epfd >= 0)
		close(c->epfd);
	if (c->evfd >= 0)
		close(c->evfd);
	free(c);
}

/* Addresses and names as inventories hold them; anything that could change the
 * URL's meaning (/, @, ?, #, spaces, controls) is refused. */
bool http_host_valid(const char *h)
{
	if (!*h || strlen(h) > 253)
		return false;
	for (const char *p = h; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		      ch == '-' || ch == '_' || ch == ':' || ch == '%'))
			return false;
	}
	return true;
}

static bool path_ok(const char *p)
{
	if (p[0] != '/' || strlen(p) > 1024)
		return false;
	for (; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '#' || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

int httpc_submit(httpc *c, const http_request *rq, char **err)
{
	if (!rq->host || !http_host_valid(rq->host)) {
		*err = xasprintf("'%s' is not a host name or address", rq->host ? rq->host : "");
		return -1;
	}
	if (rq->port < 1 || rq->port > 65535) {
		*err = xasprintf("%d is not a port", rq->port);
		return -1;
	}
	if (!rq->path || !path_ok(rq->path)) {
		*err = xasprintf("'%s' is not a URL path", rq->path ? rq->path : "");
		return -1;
	}
	struct req *r = xcalloc(1, sizeof *r);
	bool v6 = strchr(rq->host, ':') != NULL;
	r->url = xasprintf("http://%s%s%s:%d%s", v6 ? "[" : "", rq->host, v6 ? "]" : "", rq->port, rq->path);
	r->host = xstrdup(rq->host);
	r->port = rq->port;
	r->timeout_ms = rq->timeout_ms > 0 ? rq->timeout_ms : c->o.timeout_ms;
	r->dial = rq->dial;
	r->dial_ctx = rq->dial_ctx;
	r->tag = rq->tag;
	r->shard_key = rq->shard_key;
	if (rq->via_port > 0 && rq->via_port <= 65535 && !r->dial) {
		char *ct = xasprintf("%s%s%s:%d:127.0.0.1:%d", v6 ? "[" : "", rq->host, v6 ? "]" : "", rq->port,
				     rq->via_port);
		r->connect_to = curl_slist_append(NULL, ct);
		free(ct);
	} else if (r->dial) {
		/* the name may only resolve on the far side of the tunnel: give curl an
		 * address it need not look up; the socket comes from the dialer anyway */
		char *ct = xasprintf("%s%s%s:%d:127.0.0.1:%d", v6 ? "[" : "", rq->host, v6 ? "]" : "", rq->port,
				     rq->port);
		r->connect_to = curl_slist_append(NULL, ct);
		free(ct);
	}
	if (c->qtail)
		c->qtail->next = r;
	else
		c->qhead = r;
	c->qtail = r;
	c->queued++;
	return 0;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct slot *s = ud;
	size_t len = size * n;
	if (len > s->c->o.max_body - s->len) {
		s->oversized = true;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (s->len + len + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + len + 1)
			cap *= 2;
		s->buf = xrealloc(s->buf, cap);
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, len);
	s->len += len;
	return len;
}

/* A dialed connection. libcurl 7.88 ignores CURL_SOCKOPT_ALREADY_CONNECTED (it calls
 * connect() on the socket anyway and fails with EISCONN), so libcurl gets a UDP socket
 * as a stand-in: connecting it sends nothing and succeeds at once. Once libcurl
 * considers the connection made, and before it sends a byte (the pre-request
 * callback), the dialer's socket is dup2()ed over the stand-in. */
static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct slot *s = ud;
	(void)purpose;
	if (s->rq && s->rq->dial) {
		char *err = NULL;
		dev_reason reason = DEV_REASON_NETWORK;
		int fd = s->rq->dial(s->rq->dial_ctx, s->rq->host, s->rq->port, s->c->o.connect_timeout_ms, &reason,
				     &err);
		if (fd < 0) {
			s->dial_reason = reason;
			free(s->dial_err);
			s->dial_err = err ? err : xstrdup("could not open a tunnel");
			return CURL_SOCKET_BAD;
		}
		free(err);
		int standin = socket(a->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (standin < 0) {
			close(fd);
			s->dial_reason = DEV_REASON_NETWORK;
			s->dial_err = xasprintf("socket: %s", strerror(errno));
			return CURL_SOCKET_BAD;
		}
		if (s->tunnel >= 0)
			close(s->tunnel);
		s->tunnel = fd;
		s->standin = standin;
		return standin;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static int before_request(void *ud, char *ip, char *local_ip, int port, int local_port)
{
	struct slot *s = ud;
	(void)ip, (void)local_ip, (void)port, (void)local_port;
	if (s->tunnel < 0)
		return CURL_PREREQFUNC_OK; /* a direct connection, or a tunnel in use already */
	int standin = s->standin; /* CURLINFO_ACTIVESOCKET is not set yet here */
	int fl = fcntl(s->tunnel, F_GETFL);
	int rc = standin < 0 || fl < 0 || fcntl(s->tunnel, F_SETFL, fl | O_NONBLOCK) ||
		 dup2(s->tunnel, standin) < 0;
	if (!rc)
		fcntl(standin, F_SETFD, FD_CLOEXEC);
	close(s->tunnel);
	s->tunnel = -1;
	if (rc) {
		s->dial_reason = DEV_REASON_NETWORK;
		free(s->dial_err);
		s->dial_err = xasprintf("could not take over the tunnel: %s", strerror(errno));
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}

static struct slot *take_slot(httpc *c)
{
	if (c->nfree)
		return &c->slots[c->free_slots[--c->nfree]];
	if (c->ncreated == c->nslots)
		return NULL;
	struct slot *s = &c->slots[c->ncreated];
	s->easy = curl_easy_init();
	if (!s->easy)
		return NULL;
	s->c = c;
	s->tunnel = -1;
	c->ncreated++;
	CURL *e = s->easy;
	curl_easy_setopt(e, CURLOPT_PRIVATE, s);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, s);
	curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, before_request);
	curl_easy_setopt(e, CURLOPT_PREREQDATA, s);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	/* device traffic goes straight to the device, whatever http_proxy says */
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_USERAGENT, "fleetdeck/" FLEETDECK_VERSION);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->o.max_body);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	/* No DNS cache: libcurl walks the whole cache on every lookup to prune it, which
	 * costs O(devices) per new connection; with connections kept alive a device's
	 * name is looked up once per connection anyway. */
	curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
	return s;
}

static void push_done(httpc *c, http_result *r)
{
	if (c->ndone == c->done_cap) {
		size_t cap = c->done_cap ? c->done_cap * 2 : 64;
		http_result *d = xcalloc(cap, sizeof *d);
		for (size_t i = 0; i < c->ndone; i++)
			d[i] = c->done[(c->done_head + i) % c->done_cap];
		free(c->done);
		c->done = d;
		c->done_cap = cap;
		c->done_head = 0;
	}
	c->done[(c->done_head + c->ndone) % c->done_cap] = *r;
	c->ndone++;
}

static void start_queued(httpc *c)
{
	while (c->qhead) {
		struct slot *s = take_slot(c);
		if (!s)
			return;
		struct req *r = c->qhead;
		c->qhead = r->next;
		if (!c->qhead)
			c->qtail = NULL;
		c->queued--;
		r->next = NULL;
		s->rq = r;
		s->len = 0;
		s->oversized = false;
		if (s->tunnel >= 0)
			close(s->tunnel);
		s->tunnel = -1;
		s->dial_reason = DEV_REASON_NONE;
		free(s->dial_err);
		s->dial_err = NULL;
		s->errbuf[0] = '\0';
		curl_easy_setopt(s->easy, CURLOPT_URL, r->url);
		curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
		curl_easy_setopt(s->easy, CURLOPT_CONNECT_TO, r->connect_to);
		s->sh = c->shards[r->shard_key % c->nshards];
		s->sh->active = true;
		if (curl_multi_add_handle(s->sh->multi, s->easy) != CURLM_OK) {
			http_result res = { .tag = r->tag, .reason = DEV_REASON_NETWORK,
					    .error = xstrdup("libcurl refused the transfer") };
			push_done(c, &res);
			c->failures++;
			s->rq = NULL;
			req_free(r);
			c->free_slots[c->nfree++] = (size_t)(s - c->slots);
			continue;
		}
		c->running++;
		c->requests++;
	}
}

static void finish(httpc *c, struct slot *s, CURLcode code)
{
	struct req *r = s->rq;
	http_result res = { .tag = r->tag };
	long status = 0, oserr = 0, nconn = 0;
	curl_off_t total_us = 0;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(s->easy, CURLINFO_OS_ERRNO, &oserr);
	curl_easy_getinfo(s->easy, CURLINFO_NUM_CONNECTS, &nconn);
	curl_easy_getinfo(s->easy, CURLINFO_TOTAL_TIME_T, &total_us);
	res.status = status;
	res.rtt_ms = (double)total_us / 1000.0;
	res.new_connects = nconn;
	c->connects += nconn;
	if (s->dial_err) {
		res.reason = s->dial_reason ? s->dial_reason : DEV_REASON_NETWORK;
		res.error = s->dial_err;
		s->dial_err = NULL;
	} else {
		res.reason = http_classify(code, oserr, status, s->oversized);
		if (res.reason == DEV_REASON_OVERSIZED)
			res.error = xasprintf("answer larger than %zu bytes", c->o.max_body);
		else if (res.reason == DEV_REASON_HTTP)
			res.error = xasprintf("HTTP %ld", status);
		else if (res.reason != DEV_REASON_NONE)
			res.error = xstrdup(s->errbuf[0] ? s->errbuf : curl_easy_strerror(code));
	}
	if (res.reason != DEV_REASON_OVERSIZED && s->len) {
		res.body = xmalloc(s->len + 1);
		memcpy(res.body, s->buf, s->len);
		res.body[s->len] = '\0';
		res.body_len = s->len;
	}
	if (res.reason != DEV_REASON_NONE)
		c->failures++;
	/* a large answer's buffer is not kept for the next transfer */
	if (s->cap > 65536) {
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
	}
	s->len = 0;
	push_done(c, &res);
	curl_multi_remove_handle(s->sh->multi, s->easy);
	s->rq = NULL;
	req_free(r);
	c->running--;
	c->free_slots[c->nfree++] = (size_t)(s - c->slots);
}

static void harvest(httpc *c, struct shard *sh)
{
	CURLMsg *m;
	int left;
	sh->active = false;
	while ((m = curl_multi_info_read(sh->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct slot *s = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
		if (s && s->rq)
			finish(c, s, m->data.result);
	}
}

static int action(httpc *c, struct shard *sh, curl_socket_t fd, int mask, char **err)
{
	int running;
	CURLMcode mc = curl_multi_socket_action(sh->multi, fd, mask, &running);
	sh->active = true;
	if (mc != CURLM_OK) {
		*err = xasprintf("libcurl: %s", curl_multi_strerror(mc));
		return -1;
	}
	(void)c;
	return 0;
}

/* Timeouts that are due (new transfers start this way too); returns ms until the
 * next one, or -1 if none is set. */
static int run_timers(httpc *c, double *next, char **err)
{
	*next = -1;
	for (size_t i = 0; i < c->nshards; i++) {
		struct shard *sh = c->shards[i];
		/* an action can set a new, immediate timer: run those right away, boundedly */
		for (int k = 0; k < 8 && sh->timer_at >= 0 && sh->timer_at <= mono_ms(); k++) {
			sh->timer_at = -1;
			if (action(c, sh, CURL_SOCKET_TIMEOUT, 0, err))
				return -1;
		}
		if (sh->timer_at >= 0 && (*next < 0 || sh->timer_at < *next))
			*next = sh->timer_at;
	}
	return 0;
}

static void harvest_all(httpc *c)
{
	for (size_t i = 0; i < c->nshards; i++)
		if (c->shards[i]->active)
			harvest(c, c->shards[i]);
}

int httpc_wait(httpc *c, int timeout_ms, struct curl_waitfd *extra, unsigned nextra, char **err)
{
	double next;
	start_queued(c);
	if (run_timers(c, &next, err))
		return -1;
	harvest_all(c);
	if (c->ndone)
		return 0;
	double until = mono_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	if (next >= 0 && next < until)
		until = next;
	int wait = (int)ceil(until - mono_ms());
	struct pollfd pfd[2 + 16];
	size_t np = 0;
	pfd[np++] = (struct pollfd){ .fd = c->epfd, .events = POLLIN };
	pfd[np++] = (struct pollfd){ .fd = c->evfd, .events = POLLIN };
	for (unsigned i = 0; i < nextra && np < sizeof pfd / sizeof *pfd; i++)
		pfd[np++] = (struct pollfd){ .fd = extra[i].fd, .events = POLLIN };
	if (poll(pfd, np, wait < 0 ? 0 : wait) < 0 && errno != EINTR) {
		*err = xasprintf("poll: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 2; i < np; i++)
		if (i - 2 < nextra)
			extra[i - 2].revents = (short)((pfd[i].revents & POLLIN) ? CURL_WAIT_POLLIN : 0);
	if (pfd[1].revents & POLLIN) {
		uint64_t v;
		ssize_t r = read(c->evfd, &v, sizeof v);
		(void)r; /* woken: nothing else to do */
	}
	if (pfd[0].revents & POLLIN) {
		struct epoll_event ev[256];
		int n = epoll_wait(c->epfd, ev, 256, 0);
		for (int i = 0; i < n; i++) {
			size_t si = (size_t)(ev[i].data.u64 >> 32);
			curl_socket_t fd = (curl_socket_t)(uint32_t)ev[i].data.u64;
			int mask = (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
				   (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
				   (ev[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
			if (si < c->nshards && action(c, c->shards[si], fd, mask, err))
				return -1;
		}
	}
	if (run_timers(c, &next, err))
		return -1;
	harvest_all(c);
	/* slots freed: start the next transfers now rather than after another wait */
	if (c->qhead && c->nfree) {
		start_queued(c);
		if (run_timers(c, &next, err))
			return -1;
		harvest_all(c);
	}
	return 0;
}

int httpc_next(httpc *c, http_result *r)
{
	if (!c->ndone)
		return 0;
	*r = c->done[c->done_head];
	c->done_head = (c->done_head + 1) % c->done_cap;
	c->ndone--;
	return 1;
}

void httpc_wakeup(httpc *c)
{
	uint64_t one = 1;
	ssize_t w = write(c->evfd, &one, sizeof one);
	(void)w; /* a full counter wakes the loop as well */
}

size_t httpc_pending(const httpc *c)
{
	return c->queued + c->running + c->ndone;
}

void httpc_set_max_connects(httpc *c, long n)
{
	if (n > 0 && n != c->o.max_connects) {
		c->o.max_connects = n;
		char *err = NULL;
		if (size_shards(c, &err)) /* out of libcurl handles: keep the shards there are */
			free(err);
	}
}

void httpc_get_stats(const httpc *c, httpc_stats *s)
{
	s->requests = c->requests;
	s->connects = c->connects;
	s->failures = c->failures;
	s->queued = c->queued;
	s->running = c->running;
}
