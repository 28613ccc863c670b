/* sshsess: TCP connect, SSH handshake, host key verification and public-key
 * authentication for one libssh client session. */
#include "poll/sshsess.h"

#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void fail(dev_reason *reason, char **err, dev_reason r, char *msg)
{
	*reason = r;
	*err = msg;
}

dev_reason sshsess_errno_reason(int e)
{
	switch (e) {
	case ECONNREFUSED: return DEV_REASON_REFUSED;
	case ETIMEDOUT: return DEV_REASON_TIMEOUT;
	case ECONNRESET:
	case EPIPE: return DEV_REASON_RESET;
	default: return DEV_REASON_NETWORK;
	}
}

void sshsess_set_keepalive(int fd, int keepalive_s)
{
	if (keepalive_s <= 0)
		return;
	int one = 1, cnt = 3;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &keepalive_s, sizeof keepalive_s);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &keepalive_s, sizeof keepalive_s);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

int sshsess_tcp_connect(const char *label, const char *host, int port, int timeout_ms, int keepalive_s,
			dev_reason *reason, char **err)
{
	double deadline = now_ms() + timeout_ms;
	char portstr[16];
	snprintf(portstr, sizeof portstr, "%d", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		dev_reason r = (rc == EAI_NONAME || rc == EAI_AGAIN || rc == EAI_FAIL
#ifdef EAI_NODATA
				|| rc == EAI_NODATA
#endif
				)
				       ? DEV_REASON_DNS
				       : DEV_REASON_NETWORK;
		fail(reason, err, r, xasprintf("%s: cannot resolve %s: %s", label, host, gai_strerror(rc)));
		return -1;
	}
	int last_errno = 0, timed_out = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			last_errno = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			freeaddrinfo(res);
			sshsess_set_keepalive(fd, keepalive_s);
			return fd;
		}
		if (errno != EINPROGRESS) {
			last_errno = errno;
			close(fd);
			continue;
		}
		for (;;) {
			int left = (int)(deadline - now_ms());
			if (left <= 0) {
				timed_out = 1;
				break;
			}
			struct pollfd pf = {.fd = fd, .events = POLLOUT};
			int n = poll(&pf, 1, left);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				timed_out = n == 0;
				last_errno = n < 0 ? errno : ETIMEDOUT;
				break;
			}
			int soerr = 0;
			socklen_t sl = sizeof soerr;
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
			if (soerr == 0) {
				freeaddrinfo(res);
				sshsess_set_keepalive(fd, keepalive_s);
				return fd;
			}
			last_errno = soerr;
			break;
		}
		close(fd);
		if (timed_out)
			break;
	}
	freeaddrinfo(res);
	if (timed_out) {
		fail(reason, err, DEV_REASON_TIMEOUT,
		     xasprintf("%s: connecting to %s port %d timed out after %d ms", label, host, port, timeout_ms));
	} else {
		fail(reason, err, sshsess_errno_reason(last_errno),
		     xasprintf("%s: cannot connect to %s port %d: %s", label, host, port, strerror(last_errno)));
	}
	return -1;
}

void sshsess_thread_init(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static int icontains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (const char *p = hay; *p; p++)
		if (strncasecmp(p, needle, n) == 0)
			return 1;
	return 0;
}

dev_reason sshsess_classify(const char *e)
{
	if (!e)
		return DEV_REASON_NETWORK;
	if (icontains(e, "reset") || icontains(e, "disconnected") || icontains(e, "broken pipe") ||
	    icontains(e, "closed"))
		return DEV_REASON_RESET;
	if (icontains(e, "timeout") || icontains(e, "timed out"))
		return DEV_REASON_TIMEOUT;
	if (icontains(e, "refused"))
		return DEV_REASON_REFUSED;
	return DEV_REASON_NETWORK;
}

static void set_timeout(ssh_session s, double deadline)
{
	long left = (long)(deadline - now_ms());
	if (left < 1)
		left = 1;
	long usec = left * 1000;
	ssh_options_set(s, SSH_OPTIONS_TIMEOUT_USEC, &usec);
}

static char *key_desc(ssh_key key)
{
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp = NULL;
	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == 0) {
		fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
		ssh_clean_pubkey_hash(&hash);
	}
	char *out = xasprintf("%s %s", ssh_key_type_to_char(ssh_key_type(key)), fp ? fp : "(no fingerprint)");
	ssh_string_free_char(fp);
	return out;
}

static char *host_port_name(const sshsess_params *pp)
{
	if (pp->port == 22)
		return xstrdup(pp->host);
	return xasprintf("[%s]:%d", pp->host, pp->port);
}

/* known_hosts, as OpenSSH reads it: plain and hashed names, [host]:port for
 * other ports than 22. A key of another type than the one on file counts as
 * changed. */
static int verify_host(ssh_session s, const sshsess_params *pp, dev_reason *reason, char **err)
{
	ssh_key key = NULL;
	if (ssh_get_server_publickey(s, &key) != SSH_OK) {
		fail(reason, err, DEV_REASON_HOSTKEY, xasprintf("%s: the server sent no host key", pp->label));
		return -1;
	}
	char *desc = key_desc(key);
	char *hp = host_port_name(pp);
	int rc = -1;
	pthread_mutex_lock(pp->known_hosts_lock);
	enum ssh_known_hosts_e st = ssh_session_is_known_server(s);
	switch (st) {
	case SSH_KNOWN_HOSTS_OK:
		rc = 0;
		break;
	case SSH_KNOWN_HOSTS_CHANGED:
	case SSH_KNOWN_HOSTS_OTHER:
		fail(reason, err, DEV_REASON_HOSTKEY,
		     xasprintf("%s: HOST KEY CHANGED for %s: the server offers %s, which is not the key %s holds "
			       "for it%s; someone may be intercepting the connection. Refusing to connect; if the "
			       "change is expected, remove the old entry (ssh-keygen -R '%s' -f %s)",
			       pp->label, hp, desc, pp->known_hosts,
			       st == SSH_KNOWN_HOSTS_OTHER ? " (it has a key of another type)" : "", hp,
			       pp->known_hosts));
		break;
	case SSH_KNOWN_HOSTS_UNKNOWN:
	case SSH_KNOWN_HOSTS_NOT_FOUND:
		if (pp->strict == SSH_STRICT_ACCEPT_NEW) {
			if (ssh_session_update_known_hosts(s) == SSH_OK) {
				rc = 0;
			} else {
				fail(reason, err, DEV_REASON_HOSTKEY,
				     xasprintf("%s: cannot add the host key of %s to %s: %s", pp->label, hp,
					       pp->known_hosts, ssh_get_error(s)));
			}
		} else {
			fail(reason, err, DEV_REASON_HOSTKEY,
			     xasprintf("%s: host key of %s is unknown (the server offers %s) and strict host key "
				       "checking is on: add it to %s or allow accept-new",
				       pp->label, hp, desc, pp->known_hosts));
		}
		break;
	case SSH_KNOWN_HOSTS_ERROR:
	default:
		fail(reason, err, DEV_REASON_HOSTKEY,
		     xasprintf("%s: cannot check the host key of %s against %s: %s", pp->label, hp, pp->known_hosts,
			       ssh_get_error(s)));
		break;
	}
	pthread_mutex_unlock(pp->known_hosts_lock);
	free(hp);
	free(desc);
	ssh_key_free(key);
	return rc;
}

typedef struct tried {
	char *s;
	size_t len, cap;
} tried;

static void tried_add(tried *t, char *one)
{
	size_t n = strlen(one);
	t->s = xgrow(t->s, &t->cap, t->len + n + 3, 1);
	if (t->len) {
		memcpy(t->s + t->len, ", ", 2);
		t->len += 2;
	}
	memcpy(t->s + t->len, one, n + 1);
	t->len += n;
	free(one);
}

/* -1: the connection broke (reason and err set); 0: not accepted; 1: in. */
static int auth_result(ssh_session s, int rc, const sshsess_params *pp, dev_reason *reason, char **err)
{
	if (rc == SSH_AUTH_SUCCESS)
		return 1;
	if (rc == SSH_AUTH_ERROR) {
		const char *e = ssh_get_error(s);
		fail(reason, err, sshsess_classify(e), xasprintf("%s: during authentication: %s", pp->label, e));
		return -1;
	}
	return 0;
}

static int authenticate(ssh_session s, const sshsess_params *pp, double deadline, dev_reason *reason, char **err)
{
	set_timeout(s, deadline);
	int rc = ssh_userauth_none(s, NULL);
	int r = auth_result(s, rc, pp, reason, err);
	if (r != 0)
		return r > 0 ? 0 : -1;
	int methods = ssh_userauth_list(s, NULL);
	if (!(methods & SSH_AUTH_METHOD_PUBLICKEY)) {
		fail(reason, err, DEV_REASON_AUTH,
		     xasprintf("%s: the server does not accept public-key authentication for %s", pp->label,
			       pp->user));
		return -1;
	}
	tried t = {0};
	if (pp->agent_sock && *pp->agent_sock) {
		ssh_options_set(s, SSH_OPTIONS_IDENTITY_AGENT, pp->agent_sock);
		set_timeout(s, deadline);
		rc = ssh_userauth_agent(s, NULL);
		r = auth_result(s, rc, pp, reason, err);
		if (r > 0)
			goto ok;
		if (r < 0)
			goto broke;
		tried_add(&t, xstrdup("the agent's keys"));
	}
	for (size_t i = 0; i < pp->n_identities; i++) {
		const char *path = pp->identities[i];
		ssh_key priv = NULL, pub = NULL;
		if (access(path, F_OK) != 0) {
			continue;
		}
		if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &priv) != SSH_OK) {
			tried_add(&t, xasprintf("%s (unreadable, or protected by a passphrase: use the agent)", path));
			continue;
		}
		if (ssh_pki_export_privkey_to_pubkey(priv, &pub) != SSH_OK) {
			ssh_key_free(priv);
			tried_add(&t, xasprintf("%s (no public key)", path));
			continue;
		}
		set_timeout(s, deadline);
		rc = ssh_userauth_try_publickey(s, NULL, pub);
		r = auth_result(s, rc, pp, reason, err);
		if (r > 0) {
			set_timeout(s, deadline);
			rc = ssh_userauth_publickey(s, NULL, priv);
			r = auth_result(s, rc, pp, reason, err);
		}
		ssh_key_free(pub);
		ssh_key_free(priv);
		if (r > 0)
			goto ok;
		if (r < 0)
			goto broke;
		tried_add(&t, xstrdup(path));
	}
	fail(reason, err, DEV_REASON_AUTH,
	     xasprintf("%s: authentication as %s failed: the server accepted none of the keys tried (%s)", pp->label,
		       pp->user, t.s ? t.s : "none found: no agent, no key file"));
	free(t.s);
	return -1;
broke:
	free(t.s);
	return -1;
ok:
	free(t.s);
	return 0;
}

ssh_session sshsess_open(const sshsess_params *pp, int fd, dev_reason *reason, char **err)
{
	double deadline = now_ms() + pp->timeout_ms;
	ssh_session s = ssh_new();
	if (!s) {
		close(fd);
		fail(reason, err, DEV_REASON_NETWORK, xasprintf("%s: cannot create an SSH session", pp->label));
		return NULL;
	}
	bool no = false;
	int zero = 0;
	/* libssh must not read ~/.ssh/config itself: it would turn ProxyJump into a
	 * ProxyCommand running the ssh binary. The caller has read it already. */
	ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);
	ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &zero);
	ssh_options_set(s, SSH_OPTIONS_HOST, pp->host);
	unsigned int port = (unsigned int)pp->port;
	ssh_options_set(s, SSH_OPTIONS_PORT, &port);
	ssh_options_set(s, SSH_OPTIONS_USER, pp->user);
	ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, pp->known_hosts);
	socket_t sfd = fd;
	ssh_options_set(s, SSH_OPTIONS_FD, &sfd);
	set_timeout(s, deadline);
	if (ssh_connect(s) != SSH_OK) {
		const char *e = ssh_get_error(s);
		dev_reason r = now_ms() >= deadline - 5 ? DEV_REASON_TIMEOUT : sshsess_classify(e);
		fail(reason, err, r, xasprintf("%s: SSH handshake failed: %s", pp->label, e));
		sshsess_close(s);
		return NULL;
	}
	if (verify_host(s, pp, reason, err) < 0) {
		sshsess_close(s);
		return NULL;
	}
	if (authenticate(s, pp, deadline, reason, err) < 0) {
		sshsess_close(s);
		return NULL;
	}
	return s;
}

void sshsess_close(ssh_session s)
{
	/* ssh_free alone, no ssh_disconnect: with a socket handed in through
	 * SSH_OPTIONS_FD, ssh_disconnect forgets the fd without closing it, while
	 * ssh_free closes it unless libssh already did on an error. This way the fd
	 * is closed exactly once, by libssh, and never closed twice from here
	 * while another thread may be reusing its number. The server sees the
	 * connection end, which is all a disconnect message would tell it. */
	ssh_free(s);
}

int sshsess_alive(ssh_session s)
{
	if (!s || !ssh_is_connected(s))
		return 0;
	int fd = ssh_get_fd(s);
	if (fd < 0)
		return 0;
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	if (poll(&pf, 1, 0) <= 0)
		return 1;
	if (pf.revents & (POLLERR | POLLNVAL))
		return 0;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return 0;
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		return 0;
	return 1;
}
