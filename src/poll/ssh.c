/* ssh: the SSH transport's pool: devices and their sessions, the worker
 * threads that set sessions up and run commands (TCP connects are sshconn's, on
 * its own thread, so a dead device holds no worker), results through a wake-up
 * pipe, jump hosts through sshbastion, and ssh_common_args_jump. */
#include "poll/ssh.h"

#include "poll/sshbastion.h"
#include "poll/sshconfig.h"
#include "poll/sshconn.h"
#include "poll/sshsess.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh/libssh.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_SLICE_MS 100

typedef struct job {
	struct job *next;
	char *command;
	void *tag;
	double submitted;
} job;

typedef struct result_node {
	struct result_node *next;
	sshpool_result r;
} result_node;

typedef struct device {
	char *key;
	char *label;
	char *host;
	int port;
	char *user;
	char **identities;
	size_t n_identities;
	char *known_hosts;
	ssh_strict strict;
	sshbastion *bastion; /* borrowed from the pool's table, or NULL */

	/* under the pool's mutex */
	job *head, *tail;
	int busy, in_ready, want_keepalive;
	int connecting;       /* sshconn is connecting it: no worker takes it meanwhile */
	int conn_fd;          /* a connection made for the next session (sshconn's, or a channel
	                         through the bastion), its banner waiting; -1 none */
	double conn_deadline; /* while connecting */
	int fd;               /* the session's fd while one is open, for sshpool_free */
	double last_used;
	struct device *next_ready;

	/* only the worker that has the device busy touches these */
	ssh_session s;
} device;

struct sshpool {
	sshpool_opts o;
	char *home, *luser, *agent_sock, *known_hosts;
	sshconfig *cfg;

	pthread_mutex_t m;
	pthread_cond_t work_cv, hk_cv;
	int stop;
	strmap *devices;  /* key -> device (owned) */
	strmap *bastions; /* key -> sshbastion (owned) */
	char **bastion_keys;
	size_t n_bastion_keys, cap_bastion_keys;
	device *ready_head, *ready_tail;
	result_node *res_head, *res_tail;
	int wake[2];

	pthread_t *workers;
	int n_workers;
	pthread_t hk;
	int hk_started;

	pthread_mutex_t kh_lock;
	sshstats stats;
	sshconn *conn;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void stat_add(sshpool *p, long *field, long d)
{
	pthread_mutex_lock(&p->stats.m);
	*field += d;
	pthread_mutex_unlock(&p->stats.m);
}

/* ---- targets ---- */

static char *expand_home(const sshpool *p, const char *path)
{
	if (path[0] == '~' && (path[1] == '/' || path[1] == '\0'))
		return xasprintf("%s%s", p->home, path + 1);
	return xstrdup(path);
}

static int text_ok(const char *s)
{
	if (!s || !*s)
		return 0;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c < ' ' || *c == 0x7f)
			return 0;
	return 1;
}

static void add_identity(char ***ids, size_t *n, size_t *cap, char *path)
{
	*ids = xgrow(*ids, cap, *n + 2, sizeof **ids);
	(*ids)[(*n)++] = path;
	(*ids)[*n] = NULL;
}

static void default_identities(const sshpool *p, char ***ids, size_t *n, size_t *cap)
{
	static const char *names[] = {"id_rsa", "id_ecdsa", "id_ed25519", "id_dsa"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		add_identity(ids, n, cap, xasprintf("%s/.ssh/%s", p->home, names[i]));
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static ssh_strict strict_of(const sshpool *p, int cfg_strict)
{
	if (cfg_strict == SSHCONFIG_STRICT_YES)
		return SSH_STRICT_YES;
	if (cfg_strict == SSHCONFIG_STRICT_ACCEPT_NEW)
		return SSH_STRICT_ACCEPT_NEW;
	return p->o.strict;
}

/* The bastion for one hop, reached through via (the hop before it, or NULL),
 * created (its thread started) on first use; *out_key (caller frees) names it
 * for the next hop. Called with the pool's mutex held. */
static sshbastion *bastion_hop(sshpool *p, const char *spec, sshbastion *via, const char *via_key,
			       const char *via_name, const char *device_identity, char **out_key, char **err)
{
	char *juser = NULL, *jhost = NULL;
	int jport = 0;
	if (sshconfig_parse_jump(spec, &juser, &jhost, &jport, err) < 0)
		return NULL;
	/* the jump host's own Host block applies to it, as with OpenSSH (its own
	 * ProxyJump is not followed: chains are written "ProxyJump a,b") */
	sshconfig_host h;
	sshconfig_lookup(p->cfg, jhost, juser, jport, &h);
	const char *host = h.hostname ? h.hostname : jhost;
	int port = jport ? jport : h.port ? h.port : 22;
	const char *user = juser ? juser : h.user ? h.user : p->luser;
	char **ids = NULL;
	size_t n_ids = 0, cap_ids = 0;
	for (size_t i = 0; i < h.n_identity; i++)
		add_identity(&ids, &n_ids, &cap_ids, expand_home(p, h.identity[i]));
	if (!n_ids)
		default_identities(p, &ids, &n_ids, &cap_ids);
	/* then the key of the device that first needs the bastion: fleets give
	 * one key (ansible_ssh_private_key_file) for devices and bastion alike */
	if (device_identity)
		add_identity(&ids, &n_ids, &cap_ids, expand_home(p, device_identity));
	const char *kh = h.known_hosts ? h.known_hosts : p->known_hosts;

	/* one session per bastion: the key is where and as whom (and through
	 * which earlier hop), not which key */
	char *key = xasprintf("%s@%s:%d|%s|via %s", user, host, port, kh, via_key ? via_key : "-");

	sshbastion *b = strmap_get(p->bastions, key);
	int stored = 0;
	if (!b) {
		char *label = port == 22 ? xasprintf("jump host %s (%s@%s)", jhost, user, host)
					 : xasprintf("jump host %s (%s@%s:%d)", jhost, user, host, port);
		if (via) {
			char *l2 = xasprintf("%s through %s", label, via_name);
			free(label);
			label = l2;
		}
		sshbastion_cfg bc = {
			.label = label,
			.host = host,
			.port = port,
			.user = user,
			.identities = ids,
			.n_identities = n_ids,
			.agent_sock = p->agent_sock,
			.known_hosts = kh,
			.strict = strict_of(p, h.strict),
			.connect_timeout_ms = p->o.connect_timeout_ms,
			.keepalive_s = p->o.keepalive_s,
			.known_hosts_lock = &p->kh_lock,
			.stats = &p->stats,
			.via = via,
		};
		b = sshbastion_new(&bc, err);
		free(label);
		if (b) {
			p->bastion_keys = xgrow(p->bastion_keys, &p->cap_bastion_keys, p->n_bastion_keys + 1,
						sizeof *p->bastion_keys);
			p->bastion_keys[p->n_bastion_keys++] = key;
			strmap_put(p->bastions, key, b);
			stored = 1;
		}
	}
	*out_key = b ? xstrdup(key) : NULL;
	if (!stored)
		free(key);
	free_strv(ids, n_ids);
	sshconfig_host_clear(&h);
	free(juser);
	free(jhost);
	return b;
}

#define MAX_HOPS 4

/* The last jump host of spec ("hop1,hop2,..."), each hop reached through the
 * one before it, as ProxyJump does; created on first use. Pool mutex held. */
static sshbastion *bastion_for(sshpool *p, const char *spec, const char *device_identity, char **err)
{
	sshbastion *b = NULL;
	char *key = NULL, *name = NULL;
	const char *hop = spec;
	for (int n = 0;; n++) {
		if (n == MAX_HOPS) {
			*err = xasprintf("jump host '%s' has more than %d hops", spec, MAX_HOPS);
			b = NULL;
			break;
		}
		const char *comma = strchr(hop, ',');
		char *one = comma ? xstrndup(hop, (size_t)(comma - hop)) : xstrdup(hop);
		char *next_key = NULL;
		b = bastion_hop(p, one, b, key, name, device_identity, &next_key, err);
		free(name);
		name = one;
		free(key);
		key = next_key;
		if (!b || !comma)
			break;
		hop = comma + 1;
	}
	free(key);
	free(name);
	return b;
}

static char *target_key(const ssh_target *t)
{
	return xasprintf("%s\x1f%s\x1f%d\x1f%s\x1f%s\x1f%s", t->name ? t->name : "", t->host, t->port,
			 t->user ? t->user : "", t->identity ? t->identity : "", t->jump ? t->jump : "");
}

static void device_free(device *d)
{
	if (!d)
		return;
	sshsess_close(d->s);
	while (d->head) {
		job *j = d->head;
		d->head = j->next;
		free(j->command);
		free(j);
	}
	free(d->key);
	free(d->label);
	free(d->host);
	free(d->user);
	free_strv(d->identities, d->n_identities);
	free(d->known_hosts);
	if (d->conn_fd >= 0)
		close(d->conn_fd);
	free(d);
}

/* The device record for t, made on first use. Pool mutex held. */
static device *device_for(sshpool *p, const ssh_target *t, char **err)
{
	if (!text_ok(t->host) || t->host[0] == '-') {
		*err = xasprintf("%s: bad host address", t->name ? t->name : "(unnamed)");
		return NULL;
	}
	if (t->port < 0 || t->port > 65535) {
		*err = xasprintf("%s: bad port %d", t->name ? t->name : t->host, t->port);
		return NULL;
	}
	if ((t->user && !text_ok(t->user)) || (t->identity && !text_ok(t->identity)) ||
	    (t->jump && !text_ok(t->jump))) {
		*err = xasprintf("%s: bad user, key file or jump host", t->name ? t->name : t->host);
		return NULL;
	}
	char *key = target_key(t);
	device *d = strmap_get(p->devices, key);
	if (d) {
		free(key);
		return d;
	}
	sshconfig_host h;
	sshconfig_lookup(p->cfg, t->host, t->user, t->port, &h);
	const char *jump = t->jump ? t->jump : h.proxyjump;
	sshbastion *b = NULL;
	if (jump && strcasecmp(jump, "none") != 0) {
		char *why = NULL;
		b = bastion_for(p, jump, t->identity, &why);
		if (!b) {
			*err = xasprintf("%s: %s", t->name ? t->name : t->host, why);
			free(why);
			free(key);
			sshconfig_host_clear(&h);
			return NULL;
		}
	}
	d = xcalloc(1, sizeof *d);
	d->key = key;
	d->host = xstrdup(h.hostname ? h.hostname : t->host);
	d->port = t->port ? t->port : h.port ? h.port : 22;
	d->user = xstrdup(t->user ? t->user : h.user ? h.user : p->luser);
	size_t cap = 0;
	if (t->identity) {
		add_identity(&d->identities, &d->n_identities, &cap, expand_home(p, t->identity));
	} else if (h.n_identity) {
		for (size_t i = 0; i < h.n_identity; i++)
			add_identity(&d->identities, &d->n_identities, &cap, expand_home(p, h.identity[i]));
	} else {
		default_identities(p, &d->identities, &d->n_identities, &cap);
	}
	d->known_hosts = xstrdup(h.known_hosts ? h.known_hosts : p->known_hosts);
	d->strict = strict_of(p, h.strict);
	d->bastion = b;
	d->fd = -1;
	d->conn_fd = -1;
	const char *name = t->name ? t->name : t->host;
	if (d->port == 22)
		d->label = xasprintf("%s (%s@%s%s%s)", name, d->user, d->host, b ? " via " : "", b ? jump : "");
	else
		d->label = xasprintf("%s (%s@%s:%d%s%s)", name, d->user, d->host, d->port, b ? " via " : "",
				     b ? jump : "");
	strmap_put(p->devices, d->key, d);
	sshconfig_host_clear(&h);
	return d;
}

/* ---- sessions and commands (worker threads) ---- */

static void drop_session(sshpool *p, device *d)
{
	if (!d->s)
		return;
	pthread_mutex_lock(&p->m);
	d->fd = -1;
	pthread_mutex_unlock(&p->m);
	sshsess_close(d->s);
	d->s = NULL;
	stat_add(p, &p->stats.s.sessions_open, -1);
}

/* A session for d over the connection made for it (directly by sshconn, or a
 * channel through the bastion). */
static int connect_device(sshpool *p, device *d, dev_reason *reason, char **err)
{
	pthread_mutex_lock(&p->m);
	int fd = d->conn_fd;
	d->conn_fd = -1;
	pthread_mutex_unlock(&p->m);
	sshsess_params pp = {
		.label = d->label,
		.host = d->host,
		.port = d->port,
		.user = d->user,
		.identities = d->identities,
		.n_identities = d->n_identities,
		.agent_sock = p->agent_sock,
		.known_hosts = d->known_hosts,
		.strict = d->strict,
		.known_hosts_lock = &p->kh_lock,
		.timeout_ms = p->o.connect_timeout_ms,
	};
	ssh_session s = sshsess_open(&pp, fd, reason, err);
	if (!s)
		return -1;
	d->s = s;
	pthread_mutex_lock(&p->m);
	d->fd = ssh_get_fd(s);
	pthread_mutex_unlock(&p->m);
	stat_add(p, &p->stats.s.sessions_open, 1);
	return 0;
}

enum { CMD_KEEP, CMD_DROP, CMD_RETRY };

static void set_timeout_left(ssh_session s, double deadline)
{
	long left = (long)(deadline - now_ms());
	if (left < 1)
		left = 1;
	long usec = left * 1000;
	ssh_options_set(s, SSH_OPTIONS_TIMEOUT_USEC, &usec);
}

static void res_fail(sshpool_result *r, dev_reason reason, char *err)
{
	r->ran = false;
	r->reason = reason;
	free(r->error);
	r->error = err;
	free(r->out);
	r->out = NULL;
	r->out_len = 0;
}

static int run_command(sshpool *p, device *d, const char *cmd, int fresh, sshpool_result *r)
{
	double deadline = now_ms() + p->o.command_timeout_ms;
	ssh_session s = d->s;
	set_timeout_left(s, deadline);
	ssh_channel ch = ssh_channel_new(s);
	if (!ch) {
		res_fail(r, DEV_REASON_NETWORK, xasprintf("%s: cannot create a channel", d->label));
		return CMD_DROP;
	}
	if (ssh_channel_open_session(ch) != SSH_OK) {
		const char *e = ssh_get_error(s);
		res_fail(r, now_ms() >= deadline ? DEV_REASON_TIMEOUT : sshsess_classify(e),
			 xasprintf("%s: cannot open a channel: %s", d->label, e));
		ssh_channel_free(ch);
		return fresh ? CMD_DROP : CMD_RETRY;
	}
	if (ssh_channel_request_exec(ch, cmd) != SSH_OK) {
		const char *e = ssh_get_error(s);
		res_fail(r, now_ms() >= deadline ? DEV_REASON_TIMEOUT : sshsess_classify(e),
			 xasprintf("%s: the server would not run the command: %s", d->label, e));
		ssh_channel_free(ch);
		return CMD_DROP;
	}
	ssh_channel_send_eof(ch);
	size_t cap = 0, len = 0, max = p->o.max_output;
	char *out = NULL;
	char buf[16384];
	int status = CMD_KEEP;
	for (;;) {
		double left = deadline - now_ms();
		if (left <= 0) {
			res_fail(r, DEV_REASON_TIMEOUT,
				 xasprintf("%s: the command did not finish within %d ms", d->label,
					   p->o.command_timeout_ms));
			status = CMD_DROP;
			goto done;
		}
		int slice = left < READ_SLICE_MS ? (int)left + 1 : READ_SLICE_MS;
		int n = ssh_channel_read_timeout(ch, buf, sizeof buf, 0, slice);
		int eof = 0;
		for (;;) {
			if (n == SSH_ERROR) {
				const char *e = ssh_get_error(s);
				res_fail(r, sshsess_classify(e),
					 xasprintf("%s: connection lost during the command: %s", d->label, e));
				status = CMD_DROP;
				goto done;
			}
			if (n <= 0)
				break;
			if (len + (size_t)n > max) {
				res_fail(r, DEV_REASON_OVERSIZED,
					 xasprintf("%s: the command printed more than %zu bytes", d->label, max));
				status = CMD_DROP;
				goto done;
			}
			out = xgrow(out, &cap, len + (size_t)n + 1, 1);
			memcpy(out + len, buf, (size_t)n);
			len += (size_t)n;
			n = ssh_channel_read_nonblocking(ch, buf, sizeof buf, 0);
		}
		if (n == SSH_EOF)
			eof = 1;
		/* stderr is read and dropped, so that it cannot fill the window; a
		 * bounded number of reads, so that an endless flood still meets the
		 * deadline above */
		int m = 0;
		for (int k = 0; k < 64 && (m = ssh_channel_read_nonblocking(ch, buf, sizeof buf, 1)) > 0; k++) {
		}
		if (m == SSH_ERROR) {
			const char *e = ssh_get_error(s);
			res_fail(r, sshsess_classify(e), xasprintf("%s: connection lost during the command: %s",
								   d->label, e));
			status = CMD_DROP;
			goto done;
		}
		if (eof || (ssh_channel_is_eof(ch) && ssh_channel_poll(ch, 0) <= 0))
			break;
	}
	set_timeout_left(s, deadline);
	int code = ssh_channel_get_exit_status(ch);
	if (!ssh_is_connected(s)) {
		res_fail(r, DEV_REASON_RESET, xasprintf("%s: connection lost before the exit status", d->label));
		status = CMD_DROP;
		goto done;
	}
	r->ran = true;
	r->exit_code = code < 0 ? 255 : code; /* killed by a signal: as the ssh client reports it */
	r->out = out ? out : xstrdup("");
	if (out)
		out[len] = '\0';
	r->out_len = len;
	out = NULL;
done:
	free(out);
	if (status == CMD_KEEP) {
		ssh_channel_close(ch);
	}
	ssh_channel_free(ch);
	return status;
}

enum { RUN_DONE, RUN_CONNECT };

/* Runs j on d's session, setting one up first. RUN_CONNECT: d needs a connection
 * first (sshconn's or the bastion's to make, off the workers); j was not run. */
static int run_job(sshpool *p, device *d, job *j, sshpool_result *r)
{
	memset(r, 0, sizeof *r);
	r->tag = j->tag;
	if (d->s && !sshsess_alive(d->s))
		drop_session(p, d);
	for (int attempt = 0; attempt < 2; attempt++) {
		int fresh = 0;
		if (!d->s) {
			pthread_mutex_lock(&p->m);
			int have = d->conn_fd >= 0;
			pthread_mutex_unlock(&p->m);
			if (!have) { /* (also after a kept session died: the command was never sent) */
				free(r->error);
				r->error = NULL;
				return RUN_CONNECT;
			}
		}
		if (!d->s) {
			dev_reason reason = DEV_REASON_NETWORK;
			char *err = NULL;
			if (connect_device(p, d, &reason, &err) < 0) {
				res_fail(r, reason, err);
				break;
			}
			fresh = 1;
		}
		int st = run_command(p, d, j->command, fresh, r);
		if (st == CMD_KEEP)
			break;
		drop_session(p, d);
		if (st == CMD_DROP)
			break;
		/* CMD_RETRY: the kept session had died; the command was never sent */
		free(r->error);
		r->error = NULL;
	}
	pthread_mutex_lock(&p->m);
	d->last_used = now_ms();
	pthread_mutex_unlock(&p->m);
	r->rtt_ms = now_ms() - j->submitted;
	return RUN_DONE;
}

static void keepalive(sshpool *p, device *d)
{
	if (!d->s)
		return;
	if (!sshsess_alive(d->s) || ssh_send_ignore(d->s, "") != SSH_OK)
		drop_session(p, d);
	pthread_mutex_lock(&p->m);
	d->last_used = now_ms();
	pthread_mutex_unlock(&p->m);
}

/* Pool mutex held. */
static void push_result(sshpool *p, result_node *n)
{
	int was_empty = p->res_head == NULL;
	if (p->res_tail)
		p->res_tail->next = n;
	else
		p->res_head = n;
	p->res_tail = n;
	if (was_empty && write(p->wake[1], "r", 1) < 0) {
		/* cannot happen with an empty queue: the pipe is drained when it empties */
	}
}

static void make_ready(sshpool *p, device *d)
{
	if (d->busy || d->in_ready || d->connecting)
		return;
	d->in_ready = 1;
	d->next_ready = NULL;
	if (p->ready_tail)
		p->ready_tail->next_ready = d;
	else
		p->ready_head = d;
	p->ready_tail = d;
	pthread_cond_signal(&p->work_cv);
}

/* sshconn's answer for d (its thread, or a worker's when the name did not resolve):
 * a connection for the next session, or a failure that every command queued for
 * d shares, as each would have met it. */
static void conn_done(void *ctx, void *tag, int fd, dev_reason reason, char *err)
{
	sshpool *p = ctx;
	device *d = tag;
	pthread_mutex_lock(&p->m);
	d->connecting = 0;
	if (fd >= 0) {
		stat_add(p, &p->stats.s.connects, 1);
		d->conn_fd = fd;
		make_ready(p, d);
	} else {
		double now = now_ms();
		while (d->head) {
			job *j = d->head;
			d->head = j->next;
			result_node *n = xcalloc(1, sizeof *n);
			n->r.tag = j->tag;
			n->r.reason = reason;
			n->r.error = d->head ? xstrdup(err) : err;
			n->r.rtt_ms = now - j->submitted;
			push_result(p, n);
			free(j->command);
			free(j);
			if (!d->head)
				err = NULL;
		}
		d->tail = NULL;
		d->last_used = now;
		free(err);
	}
	pthread_mutex_unlock(&p->m);
}

/* The bastion's answer for d: a channel to it, whose banner sshconn awaits. */
static void bastion_done(void *ctx, void *tag, int fd, dev_reason reason, char *err)
{
	sshpool *p = ctx;
	device *d = tag;
	if (fd < 0) {
		conn_done(p, d, -1, reason, err);
		return;
	}
	pthread_mutex_lock(&p->m);
	int stop = p->stop;
	double left = d->conn_deadline - now_ms();
	pthread_mutex_unlock(&p->m);
	if (stop) {
		close(fd);
		conn_done(p, d, -1, DEV_REASON_NETWORK, xasprintf("%s: shutting down", d->label));
		return;
	}
	sshconn_await_banner(p->conn, d->label, d->host, d->port, fd, left < 1 ? 1 : (int)left, d);
}

/* Hands d (busy, with jobs) to whoever makes its connection; the worker lets go of it. */
static void hand_off(sshpool *p, device *d)
{
	pthread_mutex_lock(&p->m);
	d->connecting = 1;
	d->busy = 0;
	d->conn_deadline = now_ms() + p->o.connect_timeout_ms;
	pthread_mutex_unlock(&p->m);
	dev_reason reason = DEV_REASON_NETWORK;
	char *err = NULL;
	int rc = d->bastion ? sshbastion_forward_async(d->bastion, d->host, d->port, p->o.connect_timeout_ms,
						       bastion_done, p, d, &reason, &err)
			    : sshconn_start(p->conn, d->label, d->host, d->port, p->o.connect_timeout_ms, d, &reason,
					    &err);
	if (rc < 0)
		conn_done(p, d, -1, reason, err);
}

static void *worker_main(void *arg)
{
	sshpool *p = arg;
	sshsess_thread_init();
	pthread_mutex_lock(&p->m);
	for (;;) {
		while (!p->stop && !p->ready_head)
			pthread_cond_wait(&p->work_cv, &p->m);
		if (p->stop)
			break;
		device *d = p->ready_head;
		p->ready_head = d->next_ready;
		if (!p->ready_head)
			p->ready_tail = NULL;
		d->in_ready = 0;
		d->busy = 1;
		int handed = 0;
		while (!p->stop && (d->head || d->want_keepalive)) {
			job *j = d->head;
			if (j) {
				d->head = j->next;
				if (!d->head)
					d->tail = NULL;
				pthread_mutex_unlock(&p->m);
				result_node *n = xcalloc(1, sizeof *n);
				if (run_job(p, d, j, &n->r) == RUN_CONNECT) {
					free(n);
					/* the connect is sshconn's; the device comes back ready when
					 * it is made, and this worker moves on */
					pthread_mutex_lock(&p->m);
					j->next = d->head;
					d->head = j;
					if (!d->tail)
						d->tail = j;
					pthread_mutex_unlock(&p->m);
					hand_off(p, d);
					pthread_mutex_lock(&p->m);
					handed = 1;
					break;
				}
				free(j->command);
				free(j);
				pthread_mutex_lock(&p->m);
				push_result(p, n);
			} else {
				d->want_keepalive = 0;
				pthread_mutex_unlock(&p->m);
				keepalive(p, d);
				pthread_mutex_lock(&p->m);
			}
		}
		if (!handed)
			d->busy = 0;
	}
	pthread_mutex_unlock(&p->m);
	return NULL;
}

/* Keepalives: idle sessions get an SSH_MSG_IGNORE every keepalive_s seconds,
 * and are found dead (and dropped) before the next command needs them. */
static void *housekeeping_main(void *arg)
{
	sshpool *p = arg;
	sshsess_thread_init();
	pthread_mutex_lock(&p->m);
	while (!p->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&p->hk_cv, &p->m, &until);
		if (p->stop)
			break;
		double now = now_ms();
		size_t it = 0;
		const char *k;
		void *v;
		while (strmap_next(p->devices, &it, &k, &v)) {
			device *d = v;
			if (d->fd >= 0 && !d->busy && !d->in_ready && now - d->last_used >= p->o.keepalive_s * 1000.0) {
				d->want_keepalive = 1;
				make_ready(p, d);
			}
		}
	}
	pthread_mutex_unlock(&p->m);
	return NULL;
}

/* ---- the public face ---- */

sshpool *sshpool_new(const sshpool_opts *o, char **err)
{
	sshpool *p = xcalloc(1, sizeof *p);
	p->o = *o;
	if (p->o.threads <= 0)
		p->o.threads = 16;
	if (p->o.connect_timeout_ms <= 0)
		p->o.connect_timeout_ms = 2000;
	if (p->o.command_timeout_ms <= 0)
		p->o.command_timeout_ms = 5000;
	if (p->o.keepalive_s == 0)
		p->o.keepalive_s = 15;
	if (p->o.max_output == 0)
		p->o.max_output = 1024 * 1024;
	p->wake[0] = p->wake[1] = -1;

	struct passwd pw, *pwp = NULL;
	char pwbuf[4096];
	getpwuid_r(getuid(), &pw, pwbuf, sizeof pwbuf, &pwp);
	const char *home = getenv("HOME");
	p->home = xstrdup(home && *home ? home : pwp ? pwp->pw_dir : "/");
	p->luser = xstrdup(pwp ? pwp->pw_name : "root");
	const char *agent = getenv("SSH_AUTH_SOCK");
	p->agent_sock = agent && *agent ? xstrdup(agent) : NULL;
	p->known_hosts = o->known_hosts ? xstrdup(o->known_hosts) : xasprintf("%s/.ssh/known_hosts", p->home);
	p->o.known_hosts = NULL;
	p->o.ssh_config = NULL;
	char *cfgpath = o->ssh_config ? xstrdup(o->ssh_config) : xasprintf("%s/.ssh/config", p->home);
	if (*cfgpath) {
		p->cfg = sshconfig_load(cfgpath, p->home, p->luser, err);
	} else {
		p->cfg = sshconfig_empty();
	}
	free(cfgpath);
	pthread_mutex_init(&p->m, NULL);
	pthread_cond_init(&p->work_cv, NULL);
	pthread_cond_init(&p->hk_cv, NULL);
	pthread_mutex_init(&p->kh_lock, NULL);
	pthread_mutex_init(&p->stats.m, NULL);
	p->devices = strmap_new();
	p->bastions = strmap_new();
	if (!p->cfg)
		goto fail;
	if (pipe(p->wake) < 0) {
		*err = xasprintf("cannot make a pipe: %s", strerror(errno));
		goto fail;
	}
	for (int i = 0; i < 2; i++) {
		fcntl(p->wake[i], F_SETFL, O_NONBLOCK);
		fcntl(p->wake[i], F_SETFD, FD_CLOEXEC);
	}
	p->conn = sshconn_new(p->o.keepalive_s, conn_done, p, err);
	if (!p->conn)
		goto fail;
	p->workers = xcalloc((size_t)p->o.threads, sizeof *p->workers);
	for (int i = 0; i < p->o.threads; i++) {
		if (pthread_create(&p->workers[i], NULL, worker_main, p) != 0) {
			*err = xasprintf("cannot start SSH worker thread %d", i + 1);
			goto fail;
		}
		p->n_workers++;
	}
	if (p->o.keepalive_s > 0) {
		if (pthread_create(&p->hk, NULL, housekeeping_main, p) != 0) {
			*err = xstrdup("cannot start the SSH keepalive thread");
			goto fail;
		}
		p->hk_started = 1;
	}
	return p;
fail:
	sshpool_free(p);
	return NULL;
}

void sshpool_free(sshpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->m);
	p->stop = 1;
	pthread_cond_broadcast(&p->work_cv);
	pthread_cond_broadcast(&p->hk_cv);
	/* commands running now end at once instead of at their timeout */
	if (p->devices) {
		size_t it = 0;
		const char *k;
		void *v;
		while (strmap_next(p->devices, &it, &k, &v)) {
			device *d = v;
			if (d->busy && d->fd >= 0)
				shutdown(d->fd, SHUT_RDWR);
		}
	}
	pthread_mutex_unlock(&p->m);
	for (int i = 0; i < p->n_workers; i++)
		pthread_join(p->workers[i], NULL);
	if (p->hk_started)
		pthread_join(p->hk, NULL);
	free(p->workers);
	/* later hops first: they may run through earlier ones; a connect they still
	 * answer finds the pool stopping */
	for (size_t i = p->n_bastion_keys; i-- > 0;) {
		sshbastion_free(strmap_get(p->bastions, p->bastion_keys[i]));
		free(p->bastion_keys[i]);
	}
	free(p->bastion_keys);
	strmap_free(p->bastions);
	sshconn_free(p->conn); /* connects under way are dropped; their devices are freed below */
	if (p->devices) {
		size_t it = 0;
		const char *k;
		void *v;
		while (strmap_next(p->devices, &it, &k, &v)) {
			device *d = v;
			if (d->s)
				stat_add(p, &p->stats.s.sessions_open, -1);
			device_free(d);
		}
		strmap_free(p->devices);
	}
	while (p->res_head) {
		result_node *n = p->res_head;
		p->res_head = n->next;
		sshpool_result_clear(&n->r);
		free(n);
	}
	if (p->wake[0] >= 0) {
		close(p->wake[0]);
		close(p->wake[1]);
	}
	sshconfig_free(p->cfg);
	pthread_mutex_destroy(&p->m);
	pthread_cond_destroy(&p->work_cv);
	pthread_cond_destroy(&p->hk_cv);
	pthread_mutex_destroy(&p->kh_lock);
	pthread_mutex_destroy(&p->stats.m);
	free(p->home);
	free(p->luser);
	free(p->agent_sock);
	free(p->known_hosts);
	free(p);
}

int sshpool_exec(sshpool *p, const ssh_target *t, const char *command, void *tag, char **err)
{
	if (!command) {
		*err = xstrdup("no command");
		return -1;
	}
	pthread_mutex_lock(&p->m);
	device *d = device_for(p, t, err);
	if (!d) {
		pthread_mutex_unlock(&p->m);
		return -1;
	}
	job *j = xcalloc(1, sizeof *j);
	j->command = xstrdup(command);
	j->tag = tag;
	j->submitted = now_ms();
	if (d->tail)
		d->tail->next = j;
	else
		d->head = j;
	d->tail = j;
	make_ready(p, d);
	pthread_mutex_unlock(&p->m);
	return 0;
}

int sshpool_wake_fd(const sshpool *p)
{
	return p->wake[0];
}

int sshpool_result_next(sshpool *p, sshpool_result *r)
{
	pthread_mutex_lock(&p->m);
	result_node *n = p->res_head;
	if (!n) {
		pthread_mutex_unlock(&p->m);
		return 0;
	}
	p->res_head = n->next;
	if (!p->res_head) {
		p->res_tail = NULL;
		char buf[64];
		while (read(p->wake[0], buf, sizeof buf) > 0) {
		}
	}
	pthread_mutex_unlock(&p->m);
	*r = n->r;
	free(n);
	return 1;
}

void sshpool_result_clear(sshpool_result *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->error);
	memset(r, 0, sizeof *r);
}

int sshpool_tunnel(sshpool *p, const ssh_target *t, const char *host, int port, int timeout_ms,
		   dev_reason *reason, char **err)
{
	if (!text_ok(host) || port <= 0 || port > 65535) {
		*reason = DEV_REASON_NETWORK;
		*err = xasprintf("%s: bad tunnel address", t->name ? t->name : t->host);
		return -1;
	}
	pthread_mutex_lock(&p->m);
	device *d = device_for(p, t, err);
	sshbastion *b = d ? d->bastion : NULL;
	char *label = d ? xstrdup(d->label) : NULL;
	pthread_mutex_unlock(&p->m);
	if (!d) {
		*reason = DEV_REASON_NETWORK;
		return -1;
	}
	int fd;
	if (b)
		fd = sshbastion_forward(b, host, port, timeout_ms, reason, err);
	else
		fd = sshsess_tcp_connect(label, host, port, timeout_ms, 0, reason, err);
	free(label);
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK); /* like the socketpair end */
	return fd;
}

void sshpool_get_stats(sshpool *p, sshpool_stats *s)
{
	pthread_mutex_lock(&p->stats.m);
	*s = p->stats.s;
	pthread_mutex_unlock(&p->stats.m);
}

/* ---- ansible_ssh_common_args ---- */

/* ssh(1)'s options that take an argument, besides -o and -J */
static const char ARG_OPTS[] = "BbcDEeFIiLlmOpQRSWw";

static int jump_from_option(const char *opt, char **jump)
{
	static const char kw[] = "proxyjump";
	size_t n = sizeof kw - 1;
	if (strncasecmp(opt, kw, n) != 0)
		return 0;
	const char *v = opt + n;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v == '=')
		v++;
	else if (v == opt + n)
		return 0; /* ProxyJumpX... */
	while (*v == ' ' || *v == '\t')
		v++;
	if (!*v)
		return 0;
	*jump = xstrdup(v);
	return 1;
}

int ssh_common_args_jump(const char *args, char **jump, char **err)
{
	*jump = NULL;
	if (!args)
		return 0;
	char **w = NULL;
	char *why = NULL;
	int n = sshconfig_split_words(args, &w, &why);
	if (n < 0) {
		*err = xasprintf("ansible_ssh_common_args: %s", why);
		free(why);
		return -1;
	}
	int found = 0;
	for (int i = 0; i < n && !found; i++) {
		const char *a = w[i];
		if (a[0] != '-' || a[1] == '\0' || strcmp(a, "--") == 0)
			continue;
		for (const char *c = a + 1; *c; c++) {
			if (*c == 'J' || *c == 'o' || strchr(ARG_OPTS, *c)) {
				const char *val = c[1] ? c + 1 : (i + 1 < n ? w[++i] : NULL);
				if (!val)
					break;
				if (*c == 'J') {
					*jump = xstrdup(val);
					found = 1;
				} else if (*c == 'o') {
					found = jump_from_option(val, jump);
				}
				break;
			}
		}
	}
	for (int i = 0; i < n; i++)
		free(w[i]);
	free(w);
	return found;
}
