/* sshbastion: the jump host's session thread: direct-tcpip channels pumped to
 * socketpairs, one session for every device behind the bastion. */
#include "poll/sshbastion.h"

#include "poll/sshsess.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 32768
#define RETRY_AFTER_FAIL_MS 1000.0

typedef struct fwd_req {
	struct fwd_req *next;
	char *host;
	int port;
	int fd;          /* the bastion's end of the socketpair */
	double deadline;
	int done, abandoned;
	int ok;
	dev_reason reason;
	char *err;
	sshbastion_done_fn cb; /* asynchronous: called when it ends, with the caller's end */
	void *cb_ctx, *cb_tag;
	int caller_fd;
} fwd_req;

typedef struct chan {
	ssh_channel ch;
	int fd;
	fwd_req *req; /* while opening */
	char *host;
	int port;
	int open;
	unsigned char in[CHUNK]; /* fd -> channel */
	size_t in_len, in_off;
	unsigned char out[CHUNK]; /* channel -> fd */
	size_t out_len, out_off;
	int fd_eof, ch_eof, sent_eof, shut_wr;
	int dirty; /* libssh saw something for this channel: pump it */
	struct ssh_channel_callbacks_struct cb;
} chan;

struct sshbastion {
	char *label, *host, *user, *agent_sock, *known_hosts;
	int port;
	char **identities;
	size_t n_identities;
	ssh_strict strict;
	int connect_timeout_ms, keepalive_s;
	pthread_mutex_t *kh_lock;
	sshstats *stats;
	sshbastion *via;

	pthread_t thr;
	int ctl[2];
	pthread_mutex_t m;
	pthread_cond_t cv;
	fwd_req *q_head, *q_tail; /* new requests, under m */
	int stop;

	/* the thread's own */
	ssh_session s;
	ssh_event ev;
	chan **chans;
	size_t n_chans, cap_chans;
	double fail_until;
	dev_reason fail_reason;
	char *fail_err;
	double last_io;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void req_free(fwd_req *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->host);
	free(r->err);
	free(r);
}

/* Hands a request back to its caller (or frees it if the caller gave up). On
 * failure the bastion's end of the socketpair is closed. */
static void complete(sshbastion *b, fwd_req *r, int ok, dev_reason reason, char *err)
{
	if (!ok && r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
	if (r->cb) {
		if (ok)
			r->fd = -1; /* the channel owns it */
		int fd = r->caller_fd;
		if (!ok) {
			close(fd);
			fd = -1;
			if (!err)
				err = xasprintf("%s: cannot reach %s port %d", b->label, r->host, r->port);
		}
		sshbastion_done_fn cb = r->cb;
		void *ctx = r->cb_ctx, *tag = r->cb_tag;
		req_free(r);
		cb(ctx, tag, fd, ok ? DEV_REASON_NONE : reason, ok ? NULL : err);
		if (ok)
			free(err);
		return;
	}
	pthread_mutex_lock(&b->m);
	if (r->abandoned) {
		pthread_mutex_unlock(&b->m);
		free(err);
		r->fd = -1; /* on success the channel owns it */
		req_free(r);
		return;
	}
	r->ok = ok;
	r->reason = reason;
	r->err = err;
	r->done = 1;
	if (ok)
		r->fd = -1;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->m);
}

static int req_abandoned(sshbastion *b, fwd_req *r)
{
	pthread_mutex_lock(&b->m);
	int a = r->abandoned;
	pthread_mutex_unlock(&b->m);
	return a;
}

/* Packet processing marks the channels it touched, so that a round pumps
 * those and not every channel (each idle one would cost syscalls). The data
 * stays in libssh's buffer (0 bytes taken) until pump() reads it. */
static int on_data(ssh_session s, ssh_channel ch, void *data, uint32_t len, int is_stderr, void *u)
{
	(void)s, (void)ch, (void)data, (void)len, (void)is_stderr;
	((chan *)u)->dirty = 1;
	return 0;
}

static void on_event(ssh_session s, ssh_channel ch, void *u)
{
	(void)s, (void)ch;
	((chan *)u)->dirty = 1;
}

static int on_window(ssh_session s, ssh_channel ch, uint32_t bytes, void *u)
{
	(void)s, (void)ch, (void)bytes;
	((chan *)u)->dirty = 1;
	return 0;
}

static void chan_free(sshbastion *b, chan *c)
{
	(void)b;
	if (c->ch) {
		/* libssh keeps a channel whose peer has not closed it yet: it must
		 * not call back into this struct afterwards */
		ssh_remove_channel_callbacks(c->ch, &c->cb);
		if (c->open && !ssh_channel_is_closed(c->ch))
			ssh_channel_close(c->ch);
		ssh_channel_free(c->ch);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c->host);
	free(c);
}

static void chan_remove(sshbastion *b, size_t i)
{
	chan_free(b, b->chans[i]);
	b->chans[i] = b->chans[--b->n_chans];
}

static void stat_add(sshbastion *b, long *field, long d)
{
	pthread_mutex_lock(&b->stats->m);
	*field += d;
	pthread_mutex_unlock(&b->stats->m);
}

/* The session is gone: every channel's socket is closed (the inner sessions
 * see EOF), every request still opening fails. */
static void session_lost(sshbastion *b, dev_reason reason, const char *why)
{
	for (size_t i = b->n_chans; i-- > 0;) {
		chan *c = b->chans[i];
		if (c->req) {
			fwd_req *r = c->req;
			c->req = NULL;
			r->fd = c->fd;
			c->fd = -1;
			complete(b, r, 0, reason,
				 xasprintf("%s: connection lost while opening a channel to %s port %d: %s", b->label,
					   r->host, r->port, why));
		}
		chan_remove(b, i);
	}
	if (b->s) {
		if (b->ev)
			ssh_event_remove_session(b->ev, b->s);
		sshsess_close(b->s);
		b->s = NULL;
		stat_add(b, &b->stats->s.bastion_sessions_open, -1);
	}
	if (b->ev) {
		ssh_event_free(b->ev);
		b->ev = NULL;
	}
}

static int bastion_connect(sshbastion *b)
{
	dev_reason reason;
	char *err = NULL;
	int fd = b->via ? sshbastion_forward(b->via, b->host, b->port, b->connect_timeout_ms, &reason, &err)
			: sshsess_tcp_connect(b->label, b->host, b->port, b->connect_timeout_ms, b->keepalive_s,
					      &reason, &err);
	ssh_session s = NULL;
	if (fd >= 0) {
		sshsess_params pp = {
			.label = b->label,
			.host = b->host,
			.port = b->port,
			.user = b->user,
			.identities = b->identities,
			.n_identities = b->n_identities,
			.agent_sock = b->agent_sock,
			.known_hosts = b->known_hosts,
			.strict = b->strict,
			.known_hosts_lock = b->kh_lock,
			.timeout_ms = b->connect_timeout_ms,
		};
		s = sshsess_open(&pp, fd, &reason, &err);
	}
	if (!s) {
		free(b->fail_err);
		b->fail_err = err;
		b->fail_reason = reason;
		b->fail_until = now_ms() + RETRY_AFTER_FAIL_MS;
		return -1;
	}
	ssh_set_blocking(s, 0);
	b->ev = ssh_event_new();
	if (!b->ev || ssh_event_add_session(b->ev, s) != SSH_OK) {
		free(b->fail_err);
		b->fail_err = xasprintf("%s: cannot watch the session", b->label);
		b->fail_reason = DEV_REASON_NETWORK;
		b->fail_until = now_ms() + RETRY_AFTER_FAIL_MS;
		if (b->ev)
			ssh_event_free(b->ev);
		b->ev = NULL;
		sshsess_close(s);
		return -1;
	}
	b->s = s;
	b->last_io = now_ms();
	pthread_mutex_lock(&b->stats->m);
	b->stats->s.bastion_sessions_open++;
	b->stats->s.bastion_connects++;
	pthread_mutex_unlock(&b->stats->m);
	return 0;
}

static int session_ok(sshbastion *b)
{
	if (!b->s)
		return 0;
	if (!ssh_is_connected(b->s))
		return 0;
	int st = ssh_get_status(b->s);
	return !(st & (SSH_CLOSED | SSH_CLOSED_ERROR));
}

static dev_reason open_failure_reason(const char *e)
{
	dev_reason r = sshsess_classify(e);
	if (r != DEV_REASON_NETWORK)
		return r;
	static const char *dns[] = {"resolve", "not known", "name or service", "no address"};
	for (size_t i = 0; i < sizeof dns / sizeof dns[0]; i++) {
		size_t n = strlen(dns[i]);
		for (const char *p = e; *p; p++)
			if (strncasecmp(p, dns[i], n) == 0)
				return DEV_REASON_DNS;
	}
	return DEV_REASON_NETWORK;
}

/* Starts channels for the new requests, connecting first if need be. */
static void take_requests(sshbastion *b, fwd_req *list)
{
	while (list) {
		fwd_req *r = list;
		list = r->next;
		r->next = NULL;
		if (req_abandoned(b, r)) {
			complete(b, r, 0, DEV_REASON_TIMEOUT, NULL);
			continue;
		}
		if (!session_ok(b)) {
			if (b->s)
				session_lost(b, DEV_REASON_RESET, "the session ended");
			if (now_ms() < b->fail_until || bastion_connect(b) < 0) {
				complete(b, r, 0, b->fail_reason, xstrdup(b->fail_err));
				continue;
			}
		}
		chan *c = xcalloc(1, sizeof *c);
		c->ch = ssh_channel_new(b->s);
		c->fd = r->fd;
		r->fd = -1;
		c->req = r;
		c->host = xstrdup(r->host);
		c->port = r->port;
		if (c->ch) {
			ssh_callbacks_init(&c->cb);
			c->cb.userdata = c;
			c->cb.channel_data_function = on_data;
			c->cb.channel_eof_function = on_event;
			c->cb.channel_close_function = on_event;
			c->cb.channel_write_wontblock_function = on_window;
			ssh_set_channel_callbacks(c->ch, &c->cb);
		}
		if (!c->ch) {
			r->fd = c->fd;
			c->fd = -1;
			c->req = NULL;
			chan_free(b, c);
			complete(b, r, 0, DEV_REASON_NETWORK, xasprintf("%s: cannot create a channel", b->label));
			continue;
		}
		b->chans = xgrow(b->chans, &b->cap_chans, b->n_chans + 1, sizeof *b->chans);
		b->chans[b->n_chans++] = c;
	}
}

/* Moves opening channels on; returns 1 if some are still opening. */
static int progress_opening(sshbastion *b)
{
	int pending = 0;
	for (size_t i = b->n_chans; i-- > 0;) {
		chan *c = b->chans[i];
		if (!c->req)
			continue;
		fwd_req *r = c->req;
		if (req_abandoned(b, r) || now_ms() > r->deadline) {
			c->req = NULL;
			r->fd = c->fd;
			c->fd = -1;
			complete(b, r, 0, DEV_REASON_TIMEOUT,
				 xasprintf("%s: opening a channel to %s port %d timed out", b->label, r->host, r->port));
			chan_remove(b, i);
			continue;
		}
		int rc = ssh_channel_open_forward(c->ch, c->host, c->port, "127.0.0.1", 22);
		if (rc == SSH_AGAIN) {
			pending = 1;
			continue;
		}
		c->req = NULL;
		if (rc == SSH_OK) {
			c->open = 1;
			c->dirty = 1;
			stat_add(b, &b->stats->s.channels_opened, 1);
			complete(b, r, 1, DEV_REASON_NONE, NULL);
			continue;
		}
		const char *e = ssh_get_error(b->s);
		r->fd = c->fd;
		c->fd = -1;
		complete(b, r, 0, open_failure_reason(e),
			 xasprintf("%s cannot reach %s port %d: %s", b->label, r->host, r->port, e));
		chan_remove(b, i);
	}
	return pending;
}

/* Moves bytes both ways; returns 0 when the channel is finished. */
static int pump(sshbastion *b, chan *c, short revents)
{
	c->dirty = 0;
	/* channel -> fd */
	while (c->out_len < CHUNK && !c->ch_eof) {
		int n = ssh_channel_read_nonblocking(c->ch, c->out + c->out_len, (uint32_t)(CHUNK - c->out_len), 0);
		if (n > 0) {
			c->out_len += (size_t)n;
			b->last_io = now_ms();
			continue;
		}
		if (n == SSH_ERROR)
			return 0;
		if (n == SSH_EOF || ssh_channel_is_eof(c->ch))
			c->ch_eof = 1;
		break;
	}
	if (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			c->out_off += (size_t)w;
		} else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			return 0;
		}
		if (c->out_off == c->out_len)
			c->out_off = c->out_len = 0;
	}
	if (c->ch_eof && c->out_len == 0 && !c->shut_wr) {
		shutdown(c->fd, SHUT_WR);
		c->shut_wr = 1;
	}
	/* fd -> channel */
	if (c->in_len == 0 && !c->fd_eof) {
		ssize_t r = recv(c->fd, c->in, CHUNK, MSG_DONTWAIT);
		if (r > 0) {
			c->in_len = (size_t)r;
			c->in_off = 0;
		} else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			c->fd_eof = 1;
		}
	}
	if (c->in_off < c->in_len) {
		uint32_t win = ssh_channel_window_size(c->ch);
		if (win > 0) {
			size_t len = c->in_len - c->in_off;
			if (len > win)
				len = win;
			int n = ssh_channel_write(c->ch, c->in + c->in_off, (uint32_t)len);
			if (n == SSH_ERROR)
				return 0;
			if (n > 0) {
				c->in_off += (size_t)n;
				b->last_io = now_ms();
			}
		}
		if (c->in_off == c->in_len)
			c->in_off = c->in_len = 0;
	}
	if (c->fd_eof && c->in_len == 0 && !c->sent_eof) {
		ssh_channel_send_eof(c->ch);
		c->sent_eof = 1;
	}
	if ((revents & POLLHUP) && c->in_len == 0)
		return 0; /* the other end closed the socket completely */
	if (c->ch_eof && c->out_len == 0 && c->fd_eof && c->in_len == 0)
		return 0;
	if (ssh_channel_is_closed(c->ch) && c->ch_eof && c->out_len == 0)
		return 0; /* closed, and everything it sent has been delivered */
	return 1;
}

static void *bastion_main(void *arg)
{
	sshbastion *b = arg;
	sshsess_thread_init();
	struct pollfd *pfd = NULL;
	size_t cap_pfd = 0;
	for (;;) {
		pthread_mutex_lock(&b->m);
		fwd_req *list = b->q_head;
		b->q_head = b->q_tail = NULL;
		int stop = b->stop;
		pthread_mutex_unlock(&b->m);
		if (stop) {
			while (list) {
				fwd_req *r = list;
				list = r->next;
				complete(b, r, 0, DEV_REASON_NETWORK, xasprintf("%s: shutting down", b->label));
			}
			break;
		}
		take_requests(b, list);
		int opening = b->s ? progress_opening(b) : 0;
		pfd = xgrow(pfd, &cap_pfd, b->n_chans + 2, sizeof *pfd);
		/* channels just opened, or touched by libssh since their last pump */
		for (size_t i = b->n_chans; i-- > 0;) {
			chan *c = b->chans[i];
			if (c->open && c->dirty && !pump(b, c, 0))
				chan_remove(b, i);
		}
		if (b->s && !session_ok(b))
			session_lost(b, DEV_REASON_RESET, ssh_get_error(b->s));

		size_t n = 0;
		pfd[n++] = (struct pollfd){.fd = b->ctl[0], .events = POLLIN};
		size_t first_chan = n;
		int sfd = -1;
		if (b->s) {
			sfd = ssh_get_fd(b->s);
			short ev = POLLIN;
			if (ssh_get_poll_flags(b->s) & SSH_WRITE_PENDING)
				ev |= POLLOUT;
			pfd[n++] = (struct pollfd){.fd = sfd, .events = ev};
			first_chan = n;
			for (size_t i = 0; i < b->n_chans; i++) {
				chan *c = b->chans[i];
				short cev = 0;
				if (c->open) {
					if (c->in_len == 0 && !c->fd_eof)
						cev |= POLLIN;
					if (c->out_len > 0)
						cev |= POLLOUT;
				}
				pfd[n++] = (struct pollfd){.fd = c->open ? c->fd : -1, .events = cev};
			}
		}
		int timeout = 1000;
		if (b->keepalive_s > 0 && b->s) {
			int ka = (int)(b->last_io + b->keepalive_s * 1000.0 - now_ms());
			if (ka < timeout)
				timeout = ka < 0 ? 0 : ka;
		}
		if (opening && timeout > 50)
			timeout = 50; /* deadlines of opening channels */
		for (size_t i = 0; i < b->n_chans && timeout > 0; i++)
			if (b->chans[i]->open && b->chans[i]->dirty)
				timeout = 0; /* packets for it were read while pumping another */
		int got = poll(pfd, n, timeout);
		if (got < 0 && errno != EINTR)
			break;
		if (got > 0 && (pfd[0].revents & POLLIN)) {
			char buf[64];
			while (read(b->ctl[0], buf, sizeof buf) > 0) {
			}
		}
		if (b->s && sfd >= 0 && got > 0 && pfd[1].revents) {
			if (ssh_event_dopoll(b->ev, 0) == SSH_ERROR && !session_ok(b)) {
				session_lost(b, DEV_REASON_RESET, ssh_get_error(b->s));
				continue;
			}
		}
		if (b->s) {
			for (size_t i = b->n_chans; i-- > 0;) {
				chan *c = b->chans[i];
				short re = first_chan + i < n ? pfd[first_chan + i].revents : 0;
				if (c->open && (re || c->dirty) && !pump(b, c, re))
					chan_remove(b, i);
			}
			if (b->keepalive_s > 0 && now_ms() - b->last_io >= b->keepalive_s * 1000.0) {
				if (ssh_send_ignore(b->s, "") != SSH_OK && !session_ok(b)) {
					session_lost(b, DEV_REASON_RESET, "keepalive failed");
					continue;
				}
				b->last_io = now_ms();
			}
		}
	}
	free(pfd);
	session_lost(b, DEV_REASON_NETWORK, "shutting down");
	return NULL;
}

sshbastion *sshbastion_new(const sshbastion_cfg *cfg, char **err)
{
	sshbastion *b = xcalloc(1, sizeof *b);
	b->label = xstrdup(cfg->label);
	b->host = xstrdup(cfg->host);
	b->user = xstrdup(cfg->user);
	b->agent_sock = cfg->agent_sock ? xstrdup(cfg->agent_sock) : NULL;
	b->known_hosts = xstrdup(cfg->known_hosts);
	b->port = cfg->port;
	b->n_identities = cfg->n_identities;
	b->identities = xcalloc(cfg->n_identities + 1, sizeof *b->identities);
	for (size_t i = 0; i < cfg->n_identities; i++)
		b->identities[i] = xstrdup(cfg->identities[i]);
	b->strict = cfg->strict;
	b->connect_timeout_ms = cfg->connect_timeout_ms;
	b->keepalive_s = cfg->keepalive_s;
	b->kh_lock = cfg->known_hosts_lock;
	b->stats = cfg->stats;
	b->via = cfg->via;
	pthread_mutex_init(&b->m, NULL);
	pthread_cond_init(&b->cv, NULL);
	if (pipe(b->ctl) < 0) {
		*err = xasprintf("%s: cannot make a pipe: %s", b->label, strerror(errno));
		b->ctl[0] = b->ctl[1] = -1;
		goto fail;
	}
	for (int i = 0; i < 2; i++) {
		fcntl(b->ctl[i], F_SETFL, O_NONBLOCK);
		fcntl(b->ctl[i], F_SETFD, FD_CLOEXEC);
	}
	if (pthread_create(&b->thr, NULL, bastion_main, b) != 0) {
		*err = xasprintf("%s: cannot start a thread", b->label);
		goto fail;
	}
	return b;
fail:
	if (b->ctl[0] >= 0)
		close(b->ctl[0]), close(b->ctl[1]);
	b->ctl[0] = -1;
	b->thr = 0;
	b->stop = -1;
	sshbastion_free(b);
	return NULL;
}

void sshbastion_free(sshbastion *b)
{
	if (!b)
		return;
	if (b->stop != -1) {
		pthread_mutex_lock(&b->m);
		b->stop = 1;
		pthread_mutex_unlock(&b->m);
		if (write(b->ctl[1], "q", 1) < 0) {
			/* the pipe is full: the thread wakes anyway */
		}
		pthread_join(b->thr, NULL);
		close(b->ctl[0]);
		close(b->ctl[1]);
	}
	free(b->chans);
	free(b->fail_err);
	free(b->label);
	free(b->host);
	free(b->user);
	free(b->agent_sock);
	free(b->known_hosts);
	for (size_t i = 0; i < b->n_identities; i++)
		free(b->identities[i]);
	free(b->identities);
	pthread_mutex_destroy(&b->m);
	pthread_cond_destroy(&b->cv);
	free(b);
}

int sshbastion_forward_async(sshbastion *b, const char *host, int port, int timeout_ms, sshbastion_done_fn done,
			     void *ctx, void *tag, dev_reason *reason, char **err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		*reason = DEV_REASON_NETWORK;
		*err = xasprintf("%s: cannot make a socketpair: %s", b->label, strerror(errno));
		return -1;
	}
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	fwd_req *r = xcalloc(1, sizeof *r);
	r->host = xstrdup(host);
	r->port = port;
	r->fd = sv[1];
	r->caller_fd = sv[0];
	r->deadline = now_ms() + timeout_ms;
	r->cb = done;
	r->cb_ctx = ctx;
	r->cb_tag = tag;
	pthread_mutex_lock(&b->m);
	if (b->q_tail)
		b->q_tail->next = r;
	else
		b->q_head = r;
	b->q_tail = r;
	pthread_mutex_unlock(&b->m);
	if (write(b->ctl[1], "r", 1) < 0) {
		/* full pipe: the thread is awake already */
	}
	return 0;
}

int sshbastion_forward(sshbastion *b, const char *host, int port, int timeout_ms, dev_reason *reason, char **err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		*reason = DEV_REASON_NETWORK;
		*err = xasprintf("%s: cannot make a socketpair: %s", b->label, strerror(errno));
		return -1;
	}
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	fwd_req *r = xcalloc(1, sizeof *r);
	r->host = xstrdup(host);
	r->port = port;
	r->fd = sv[1];
	r->deadline = now_ms() + timeout_ms;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	long ns = until.tv_nsec + (long)(timeout_ms % 1000) * 1000000L;
	until.tv_sec += timeout_ms / 1000 + ns / 1000000000L;
	until.tv_nsec = ns % 1000000000L;

	pthread_mutex_lock(&b->m);
	if (b->q_tail)
		b->q_tail->next = r;
	else
		b->q_head = r;
	b->q_tail = r;
	pthread_mutex_unlock(&b->m);
	if (write(b->ctl[1], "r", 1) < 0) {
		/* full pipe: the thread is awake already */
	}
	pthread_mutex_lock(&b->m);
	while (!r->done) {
		if (pthread_cond_timedwait(&b->cv, &b->m, &until) == ETIMEDOUT && !r->done)
			break;
	}
	if (!r->done) {
		r->abandoned = 1; /* the thread frees it */
		pthread_mutex_unlock(&b->m);
		close(sv[0]);
		*reason = DEV_REASON_TIMEOUT;
		*err = xasprintf("%s: no channel to %s port %d within %d ms", b->label, host, port, timeout_ms);
		return -1;
	}
	pthread_mutex_unlock(&b->m);
	int ok = r->ok;
	if (!ok) {
		*reason = r->reason;
		*err = r->err ? r->err : xasprintf("%s: cannot reach %s port %d", b->label, host, port);
		r->err = NULL;
		close(sv[0]);
	}
	req_free(r);
	return ok ? sv[0] : -1;
}
