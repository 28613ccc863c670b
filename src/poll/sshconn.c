/* sshconn: non-blocking TCP connects for the SSH pool, every one under way at once on one
 * thread, each done when the server's first bytes (its SSH banner) are there to read. */
#include "poll/sshconn.h"

#include "poll/sshsess.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct pending {
	struct pending *next;
	void *tag;
	char *label, *host;
	int port, timeout_ms;
	struct addrinfo *res, *cur; /* the addresses, and the next one to try */
	int fd;                     /* the connect under way, -1 none */
	int banner;                 /* connected; waiting for the server to speak first */
	double deadline;            /* for all the addresses together, as ssh does */
	int last_errno;
} pending;

struct sshconn {
	int keepalive_s;
	sshconn_done_fn done;
	void *ctx;
	pthread_mutex_t m;
	pending *incoming; /* queued by sshconn_start, taken by the thread */
	int stop;
	int wake[2];
	pthread_t th;
	int started;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void pending_free(pending *q)
{
	if (q->fd >= 0)
		close(q->fd);
	if (q->res)
		freeaddrinfo(q->res);
	free(q->label);
	free(q->host);
	free(q);
}

static void finish_ok(sshconn *c, pending *q)
{
	int fd = q->fd;
	q->fd = -1;
	sshsess_set_keepalive(fd, c->keepalive_s);
	c->done(c->ctx, q->tag, fd, DEV_REASON_NONE, NULL);
	pending_free(q);
}

static void finish_fail(sshconn *c, pending *q, int timed_out)
{
	char *msg;
	dev_reason r;
	if (q->banner) { /* it took the connection: no other address is tried */
		r = timed_out ? DEV_REASON_TIMEOUT : DEV_REASON_RESET;
		msg = timed_out ? xasprintf("%s: %s port %d took the connection but sent no SSH banner within %d ms",
					    q->label, q->host, q->port, q->timeout_ms)
				: xasprintf("%s: %s port %d closed the connection before its SSH banner", q->label,
					    q->host, q->port);
	} else if (timed_out) {
		r = DEV_REASON_TIMEOUT;
		msg = xasprintf("%s: connecting to %s port %d timed out after %d ms", q->label, q->host, q->port,
				q->timeout_ms);
	} else {
		r = sshsess_errno_reason(q->last_errno);
		msg = xasprintf("%s: cannot connect to %s port %d: %s", q->label, q->host, q->port,
				strerror(q->last_errno ? q->last_errno : EHOSTUNREACH));
	}
	c->done(c->ctx, q->tag, -1, r, msg);
	pending_free(q);
}

/* Starts connecting to the next address. Returns 1 if under way (or done: *ok),
 * 0 if no address is left. */
static int advance(pending *q, int *ok)
{
	*ok = 0;
	while (q->cur) {
		struct addrinfo *ai = q->cur;
		q->cur = ai->ai_next;
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			q->last_errno = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			q->fd = fd;
			*ok = 1;
			return 1;
		}
		if (errno == EINPROGRESS) {
			q->fd = fd;
			return 1;
		}
		q->last_errno = errno;
		close(fd);
	}
	return 0;
}

static void *conn_main(void *arg)
{
	sshconn *c = arg;
	sshsess_thread_init();
	pending **act = NULL;
	size_t nact = 0, cap = 0, pcap = 0;
	struct pollfd *pf = NULL;
	for (;;) {
		pthread_mutex_lock(&c->m);
		int stop = c->stop;
		pending *in = c->incoming;
		c->incoming = NULL;
		pthread_mutex_unlock(&c->m);
		if (stop)
			break;
		for (; in; in = in->next) {
			act = xgrow(act, &cap, nact + 1, sizeof *act);
			act[nact++] = in;
		}
		/* start what has no connect under way; end what is over */
		double now = now_ms();
		size_t k = 0;
		for (size_t i = 0; i < nact; i++) {
			pending *q = act[i];
			int ok = 0;
			if (q->fd < 0 && !advance(q, &ok)) {
				finish_fail(c, q, 0);
				continue;
			}
			if (ok)
				q->banner = 1;
			if (now >= q->deadline) {
				finish_fail(c, q, 1);
				continue;
			}
			act[k++] = q;
		}
		nact = k;
		pf = xgrow(pf, &pcap, nact + 1, sizeof *pf);
		pf[0] = (struct pollfd){ .fd = c->wake[0], .events = POLLIN };
		double first = -1;
		for (size_t i = 0; i < nact; i++) {
			pf[i + 1] = (struct pollfd){ .fd = act[i]->fd, .events = act[i]->banner ? POLLIN : POLLOUT };
			if (first < 0 || act[i]->deadline < first)
				first = act[i]->deadline;
		}
		int wait = first < 0 ? -1 : (int)(first - now) + 1;
		int n = poll(pf, nact + 1, wait);
		if (n < 0 && errno != EINTR)
			break; /* cannot happen with valid fds; connects then end at sshconn_free */
		if (n <= 0)
			continue;
		if (pf[0].revents) {
			char buf[64];
			while (read(c->wake[0], buf, sizeof buf) > 0) {
			}
		}
		for (size_t i = 0; i < nact; i++) {
			if (!pf[i + 1].revents)
				continue;
			pending *q = act[i];
			if (q->banner) { /* the server spoke (or hung up): the bytes stay for libssh */
				char b;
				ssize_t got = recv(q->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
				if (got > 0)
					finish_ok(c, q);
				else if (got == 0 || (errno != EAGAIN && errno != EINTR))
					finish_fail(c, q, 0);
				else
					continue;
				act[i] = NULL;
				continue;
			}
			int soerr = 0;
			socklen_t sl = sizeof soerr;
			if (getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
				soerr = errno;
			if (soerr == 0 && !(pf[i + 1].revents & (POLLERR | POLLHUP))) {
				q->banner = 1;
				continue;
			}
			q->last_errno = soerr ? soerr : ECONNREFUSED;
			close(q->fd);
			q->fd = -1; /* the next address, in the next round */
		}
		k = 0;
		for (size_t i = 0; i < nact; i++)
			if (act[i])
				act[k++] = act[i];
		nact = k;
	}
	for (size_t i = 0; i < nact; i++)
		pending_free(act[i]);
	free(act);
	free(pf);
	return NULL;
}

sshconn *sshconn_new(int keepalive_s, sshconn_done_fn done, void *ctx, char **err)
{
	sshconn *c = xcalloc(1, sizeof *c);
	c->keepalive_s = keepalive_s;
	c->done = done;
	c->ctx = ctx;
	pthread_mutex_init(&c->m, NULL);
	if (pipe(c->wake) < 0) {
		*err = xasprintf("cannot make a pipe: %s", strerror(errno));
		c->wake[0] = c->wake[1] = -1;
		sshconn_free(c);
		return NULL;
	}
	for (int i = 0; i < 2; i++) {
		fcntl(c->wake[i], F_SETFL, O_NONBLOCK);
		fcntl(c->wake[i], F_SETFD, FD_CLOEXEC);
	}
	if (pthread_create(&c->th, NULL, conn_main, c) != 0) {
		*err = xstrdup("cannot start the SSH connect thread");
		sshconn_free(c);
		return NULL;
	}
	c->started = 1;
	return c;
}

void sshconn_free(sshconn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->m);
	c->stop = 1;
	pthread_mutex_unlock(&c->m);
	if (c->wake[1] >= 0 && write(c->wake[1], "s", 1) < 0) {
		/* the pipe is full: the thread is awake anyway */
	}
	if (c->started)
		pthread_join(c->th, NULL);
	while (c->incoming) {
		pending *q = c->incoming;
		c->incoming = q->next;
		pending_free(q);
	}
	if (c->wake[0] >= 0) {
		close(c->wake[0]);
		close(c->wake[1]);
	}
	pthread_mutex_destroy(&c->m);
	free(c);
}

int sshconn_start(sshconn *c, const char *label, const char *host, int port, int timeout_ms, void *tag,
		  dev_reason *reason, char **err)
{
	double t0 = now_ms();
	char portstr[16];
	snprintf(portstr, sizeof portstr, "%d", port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		*reason = (rc == EAI_NONAME || rc == EAI_AGAIN || rc == EAI_FAIL
#ifdef EAI_NODATA
			   || rc == EAI_NODATA
#endif
			   )
				  ? DEV_REASON_DNS
				  : DEV_REASON_NETWORK;
		*err = xasprintf("%s: cannot resolve %s: %s", label, host, gai_strerror(rc));
		return -1;
	}
	pending *q = xcalloc(1, sizeof *q);
	q->tag = tag;
	q->label = xstrdup(label);
	q->host = xstrdup(host);
	q->port = port;
	q->timeout_ms = timeout_ms;
	q->res = q->cur = res;
	q->fd = -1;
	q->deadline = t0 + timeout_ms;
	pthread_mutex_lock(&c->m);
	q->next = c->incoming;
	c->incoming = q;
	pthread_mutex_unlock(&c->m);
	if (write(c->wake[1], "c", 1) < 0) {
		/* full: the thread has wake-ups waiting and will take the queue */
	}
	return 0;
}

void sshconn_await_banner(sshconn *c, const char *label, const char *host, int port, int fd, int timeout_ms,
			  void *tag)
{
	pending *q = xcalloc(1, sizeof *q);
	q->tag = tag;
	q->label = xstrdup(label);
	q->host = xstrdup(host);
	q->port = port;
	q->timeout_ms = timeout_ms;
	q->fd = fd;
	q->banner = 1;
	q->deadline = now_ms() + timeout_ms;
	pthread_mutex_lock(&c->m);
	q->next = c->incoming;
	c->incoming = q;
	pthread_mutex_unlock(&c->m);
	if (write(c->wake[1], "b", 1) < 0) {
		/* full: the thread has wake-ups waiting and will take the queue */
	}
}
