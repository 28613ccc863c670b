/* sshfwd: loopback listeners forwarded through jump hosts, one pumping thread for all. */
#include "poll/sshfwd.h"
#include "util/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BUF = 32 * 1024 };

struct forward {
	int listen_fd, port;
	ssh_target t;            /* owned strings */
	char *key;               /* "user@jump host:port", to find it again */
	char *host;
	int rport;
	dev_reason err_reason;   /* guarded by the lock */
	char *err;
};

/* One accepted connection and its tunnel. */
struct pair {
	int fd[2];               /* 0: the client's, 1: the tunnel */
	char buf[2][BUF];        /* buf[i]: read from fd[i], to be written to fd[1 - i] */
	size_t len[2], off[2];
	bool eof[2];
};

struct opening {             /* a tunnel being opened on its own thread */
	sshfwd *f;
	struct forward *fw;
	int client;
};

struct sshfwd {
	sshpool *pool;
	int timeout_ms;
	pthread_mutex_t lock;
	pthread_cond_t idle;     /* signalled when an opening thread ends */
	struct forward **fw;
	size_t nfw;
	struct pair **pairs;     /* the pump thread's; new ones arrive in incoming */
	size_t npairs;
	struct pair **incoming;
	size_t nincoming;
	int openings;            /* threads opening tunnels now */
	int wake[2];
	pthread_t thread;
	bool started, stop;
	sshfwd_stats st;
};

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void poke(sshfwd *f)
{
	char b = 1;
	ssize_t w = write(f->wake[1], &b, 1);
	(void)w;
}

static void *opening_main(void *arg)
{
	struct opening *o = arg;
	sshfwd *f = o->f;
	dev_reason reason = DEV_REASON_NETWORK;
	char *err = NULL;
	int t = sshpool_tunnel(f->pool, &o->fw->t, o->fw->host, o->fw->rport, f->timeout_ms, &reason, &err);
	pthread_mutex_lock(&f->lock);
	if (t < 0) {
		/* the client sees its connection closed; the poller asks why */
		close(o->client);
		free(o->fw->err);
		o->fw->err = err ? err : xstrdup("the tunnel could not be opened");
		o->fw->err_reason = reason;
		f->st.failures++;
	} else {
		free(err);
		free(o->fw->err);
		o->fw->err = NULL;
		nonblock(t);
		struct pair *p = xcalloc(1, sizeof *p);
		p->fd[0] = o->client;
		p->fd[1] = t;
		f->incoming = xrealloc(f->incoming, (f->nincoming + 1) * sizeof *f->incoming);
		f->incoming[f->nincoming++] = p;
		f->st.tunnels++;
	}
	poke(f); /* before the count drops: sshfwd_free may free f once it is zero */
	f->openings--;
	pthread_cond_broadcast(&f->idle);
	pthread_mutex_unlock(&f->lock);
	free(o);
	return NULL;
}

static void accept_on(sshfwd *f, struct forward *fw)
{
	for (;;) {
		int c = accept(fw->listen_fd, NULL, NULL);
		if (c < 0)
			return;
		nonblock(c);
		struct opening *o = xmalloc(sizeof *o);
		*o = (struct opening){ .f = f, .fw = fw, .client = c };
		pthread_t th;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_mutex_lock(&f->lock);
		f->st.accepted++;
		f->openings++;
		bool started = pthread_create(&th, &at, opening_main, o) == 0;
		if (!started) {
			f->openings--;
			free(fw->err);
			fw->err = xstrdup("cannot start a thread to open the tunnel");
			fw->err_reason = DEV_REASON_NETWORK;
		}
		pthread_mutex_unlock(&f->lock);
		pthread_attr_destroy(&at);
		if (!started) {
			close(c);
			free(o);
		}
	}
}

static void pair_free(struct pair *p)
{
	close(p->fd[0]);
	close(p->fd[1]);
	free(p);
}

/* Moves what it can; false when the pair is finished. */
static bool pump(struct pair *p, const short *rev)
{
	for (int i = 0; i < 2; i++) {
		if ((rev[i] & (POLLIN | POLLHUP | POLLERR)) && !p->eof[i] && p->len[i] == 0) {
			ssize_t n = read(p->fd[i], p->buf[i], BUF);
			if (n > 0)
				p->len[i] = (size_t)n, p->off[i] = 0;
			else if (n == 0 || (errno != EAGAIN && errno != EINTR))
				p->eof[i] = true;
		}
	}
	for (int i = 0; i < 2; i++) {
		int o = 1 - i;
		while (p->len[i] > p->off[i]) {
			ssize_t n = write(p->fd[o], p->buf[i] + p->off[i], p->len[i] - p->off[i]);
			if (n > 0) {
				p->off[i] += (size_t)n;
				continue;
			}
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			return false; /* the other side is gone */
		}
		if (p->off[i] == p->len[i])
			p->len[i] = p->off[i] = 0;
		if (p->eof[i] && p->len[i] == 0)
			shutdown(p->fd[o], SHUT_WR);
	}
	return !(p->eof[0] && p->eof[1]) && !((p->eof[0] || p->eof[1]) && (rev[0] & POLLERR || rev[1] & POLLERR));
}

static void *pump_main(void *arg)
{
	sshfwd *f = arg;
	struct pollfd *pf = NULL;
	size_t cap = 0;
	for (;;) {
		pthread_mutex_lock(&f->lock);
		if (f->stop) {
			pthread_mutex_unlock(&f->lock);
			break;
		}
		for (size_t i = 0; i < f->nincoming; i++) {
			f->pairs = xrealloc(f->pairs, (f->npairs + 1) * sizeof *f->pairs);
			f->pairs[f->npairs++] = f->incoming[i];
		}
		f->nincoming = 0;
		size_t nfw = f->nfw;
		struct forward **fws = xmalloc((nfw + 1) * sizeof *fws);
		if (nfw)
			memcpy(fws, f->fw, nfw * sizeof *fws);
		f->st.open_pairs = (long)f->npairs;
		pthread_mutex_unlock(&f->lock);
		size_t n = 1 + nfw + 2 * f->npairs;
		pf = xgrow(pf, &cap, n, sizeof *pf);
		pf[0] = (struct pollfd){ .fd = f->wake[0], .events = POLLIN };
		for (size_t i = 0; i < nfw; i++)
			pf[1 + i] = (struct pollfd){ .fd = fws[i]->listen_fd, .events = POLLIN };
		for (size_t i = 0; i < f->npairs; i++) {
			struct pair *p = f->pairs[i];
			for (int k = 0; k < 2; k++) {
				short ev = 0;
				if (!p->eof[k] && p->len[k] == 0)
					ev |= POLLIN;
				if (p->len[1 - k] > p->off[1 - k])
					ev |= POLLOUT;
				pf[1 + nfw + 2 * i + k] = (struct pollfd){ .fd = p->fd[k], .events = ev };
			}
		}
		if (poll(pf, n, -1) < 0 && errno != EINTR) {
			free(fws);
			break;
		}
		if (pf[0].revents & POLLIN) {
			char buf[64];
			while (read(f->wake[0], buf, sizeof buf) > 0)
				;
		}
		for (size_t i = 0; i < nfw; i++)
			if (pf[1 + i].revents & POLLIN)
				accept_on(f, fws[i]);
		free(fws);
		for (size_t i = 0; i < f->npairs;) {
			short rev[2] = { pf[1 + nfw + 2 * i].revents, pf[1 + nfw + 2 * i + 1].revents };
			if (pump(f->pairs[i], rev)) {
				i++;
				continue;
			}
			pair_free(f->pairs[i]);
			/* keep the pollfd slots in step with the pairs for the rest of this round */
			memmove(&f->pairs[i], &f->pairs[i + 1], (f->npairs - i - 1) * sizeof *f->pairs);
			memmove(&pf[1 + nfw + 2 * i], &pf[1 + nfw + 2 * i + 2], (f->npairs - i - 1) * 2 * sizeof *pf);
			f->npairs--;
		}
	}
	free(pf);
	return NULL;
}

sshfwd *sshfwd_new(sshpool *pool, int timeout_ms, char **err)
{
	sshfwd *f = xcalloc(1, sizeof *f);
	f->pool = pool;
	f->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->idle, NULL);
	if (pipe(f->wake) != 0) {
		*err = xasprintf("pipe: %s", strerror(errno));
		pthread_mutex_destroy(&f->lock);
		pthread_cond_destroy(&f->idle);
		free(f);
		return NULL;
	}
	nonblock(f->wake[0]);
	nonblock(f->wake[1]);
	if (pthread_create(&f->thread, NULL, pump_main, f) != 0) {
		*err = xstrdup("cannot start the forwarding thread");
		close(f->wake[0]);
		close(f->wake[1]);
		pthread_mutex_destroy(&f->lock);
		pthread_cond_destroy(&f->idle);
		free(f);
		return NULL;
	}
	f->started = true;
	return f;
}

static void target_free(ssh_target *t)
{
	free((char *)t->name);
	free((char *)t->host);
	free((char *)t->user);
	free((char *)t->identity);
	free((char *)t->jump);
}

void sshfwd_free(sshfwd *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	while (f->openings > 0) /* bounded: each gives up after timeout_ms */
		pthread_cond_wait(&f->idle, &f->lock);
	pthread_mutex_unlock(&f->lock);
	poke(f);
	if (f->started)
		pthread_join(f->thread, NULL);
	for (size_t i = 0; i < f->npairs; i++)
		pair_free(f->pairs[i]);
	for (size_t i = 0; i < f->nincoming; i++)
		pair_free(f->incoming[i]);
	free(f->pairs);
	free(f->incoming);
	for (size_t i = 0; i < f->nfw; i++) {
		struct forward *fw = f->fw[i];
		close(fw->listen_fd);
		target_free(&fw->t);
		free(fw->key);
		free(fw->host);
		free(fw->err);
		free(fw);
	}
	free(f->fw);
	close(f->wake[0]);
	close(f->wake[1]);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->idle);
	free(f);
}

static char *dup0(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

int sshfwd_port(sshfwd *f, const ssh_target *t, const char *host, int port, char **err)
{
	/* a forward leads to host:port from the device's session settings: they decide the jump */
	char *key = xasprintf("%s@%s:%d|%s|%s|%s:%d", t->user ? t->user : "", t->host ? t->host : "", t->port,
			      t->jump ? t->jump : "", t->identity ? t->identity : "", host, port);
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->nfw; i++)
		if (strcmp(f->fw[i]->key, key) == 0) {
			int p = f->fw[i]->port;
			pthread_mutex_unlock(&f->lock);
			free(key);
			return p;
		}
	pthread_mutex_unlock(&f->lock);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
		*err = xasprintf("cannot listen on 127.0.0.1 for a forward: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		free(key);
		return -1;
	}
	struct forward *fw = xcalloc(1, sizeof *fw);
	fw->listen_fd = fd;
	fw->port = ntohs(a.sin_port);
	fw->t = (ssh_target){ .name = dup0(t->name), .host = dup0(t->host), .port = t->port, .user = dup0(t->user),
			      .identity = dup0(t->identity), .jump = dup0(t->jump) };
	fw->key = key;
	fw->host = xstrdup(host);
	fw->rport = port;
	pthread_mutex_lock(&f->lock);
	f->fw = xrealloc(f->fw, (f->nfw + 1) * sizeof *f->fw);
	f->fw[f->nfw++] = fw;
	f->st.forwards++;
	pthread_mutex_unlock(&f->lock);
	poke(f);
	return fw->port;
}

bool sshfwd_last_error(sshfwd *f, int local_port, dev_reason *reason, char **err)
{
	bool have = false;
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->nfw; i++)
		if (f->fw[i]->port == local_port && f->fw[i]->err) {
			*reason = f->fw[i]->err_reason;
			*err = xstrdup(f->fw[i]->err);
			have = true;
		}
	pthread_mutex_unlock(&f->lock);
	return have;
}

void sshfwd_get_stats(sshfwd *f, sshfwd_stats *s)
{
	pthread_mutex_lock(&f->lock);
	*s = f->st;
	pthread_mutex_unlock(&f->lock);
}
