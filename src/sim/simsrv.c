/* simsrv: sockets, the accept loop, transport faults, parked connections and the clock. */
#define _GNU_SOURCE /* accept4 */
#include "sim/simsrv.h"
#include "sim/simhttp.h"
#include "util/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Tags of what epoll reports on (the first int of each registered object). */
enum { K_LISTENER = 1, K_EVENT, K_RESET };

struct simpark {
	struct MHD_Connection *c;
	simdev *dev;
	double deadline;
};

/* An accepted connection of a device with the 'reset' fault: waits for the request,
 * sends the start of an answer, then resets. */
struct simrst {
	int kind;
	int fd;
	struct simrst *next, *prev;
};

static int event_tag = K_EVENT;

double simsrv_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double simsrv_sim_now(const simsrv *s)
{
	if (s->o.manual_clock)
		return s->sim_offset;
	return s->sim_offset + (simsrv_mono() - s->start_mono) * s->o.speed;
}

void simsrv_touch(simsrv *s, simdev *d)
{
	simdev_advance(d, (int64_t)floor(simsrv_sim_now(s)));
	simdev_settle(d, simsrv_mono());
}

static void logf_(simsrv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(simsrv *s, const char *fmt, ...)
{
	if (!s->o.log)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	s->o.log(m);
	free(m);
}

static size_t slot_of(uint32_t addr, uint16_t port, size_t cap)
{
	uint64_t h = ((uint64_t)addr << 16 | port) * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 32) & (cap - 1);
}

simep *simsrv_lookup(simsrv *s, uint32_t addr, uint16_t port)
{
	for (size_t i = slot_of(addr, port, s->tcap);; i = (i + 1) & (s->tcap - 1)) {
		simep *e = s->table[i];
		if (!e)
			return NULL;
		if (e->addr == addr && e->port == port)
			return e;
	}
}

static void add_ep(simsrv *s, uint32_t addr, uint16_t port, unsigned roles, simdev *d)
{
	simep *e = &s->eps[s->neps++];
	*e = (simep){ .kind = K_LISTENER, .addr = addr, .port = port, .roles = roles, .dev = d, .fd = -1,
		      .dummy = -1, .state = SIMLS_CLOSED };
}

simsrv *simsrv_new(simfleet *fleet, const simreg *reg, const simsrv_opts *o)
{
	simsrv *s = xcalloc(1, sizeof *s);
	s->o = *o;
	s->fleet = fleet;
	s->reg = reg;
	s->epfd = s->evfd = s->spare_fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->park_mu, NULL);
	pthread_mutex_init(&s->sync_mu, NULL);
	pthread_cond_init(&s->sync_cv, NULL);
	bool shared = o->agent_port == o->metrics_port;
	size_t max = fleet->ndevs * 2 + 2;
	s->eps = xcalloc(max, sizeof *s->eps);
	for (size_t i = 0; i < fleet->ndevs; i++) {
		simdev *d = &fleet->devs[i];
		add_ep(s, d->addr, (uint16_t)o->agent_port, shared ? SIMEP_AGENT | SIMEP_METRICS : SIMEP_AGENT, d);
		if (!shared)
			add_ep(s, d->addr, (uint16_t)o->metrics_port, SIMEP_METRICS, d);
	}
	if (o->control_addr)
		add_ep(s, o->control_addr, o->control_port, SIMEP_CONTROL, NULL);
	if (o->registry_addr && reg)
		add_ep(s, o->registry_addr, o->registry_port, SIMEP_REGISTRY, NULL);
	for (s->tcap = 16; s->tcap < s->neps * 2; s->tcap *= 2)
		;
	s->table = xcalloc(s->tcap, sizeof *s->table);
	return s;
}

size_t simsrv_fds_needed(const simsrv *s)
{
	return s->neps;
}

/* ---- listening sockets ---- */

static int open_listener(simep *e, int backlog, char **err)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	int one = 1;
	/* closing and reopening a faulted device must not wait out TIME_WAIT */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(e->port), .sin_addr.s_addr = htonl(e->addr) };
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, backlog))
		goto fail;
	e->fd = fd;
	return 0;
fail:;
	int saved = errno;
	char a[16];
	simfleet_format_addr(e->addr, a);
	*err = xasprintf("%s:%u: %s", a, e->port, strerror(saved));
	if (fd >= 0)
		close(fd);
	return -1;
}

static void close_listener(simsrv *s, simep *e)
{
	if (e->in_epoll)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, e->fd, NULL);
	e->in_epoll = false;
	if (e->fd >= 0)
		close(e->fd);
	if (e->dummy >= 0) {
		close(e->dummy);
		s->nblackholes--;
	}
	e->fd = e->dummy = -1;
	e->state = SIMLS_CLOSED;
}

static int watch(simsrv *s, simep *e, bool on)
{
	if (e->in_epoll == on)
		return 0;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = e };
	if (epoll_ctl(s->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, e->fd, &ev))
		return -1;
	e->in_epoll = on;
	return 0;
}

static simls wanted_state(const simep *e)
{
	if (!e->dev)
		return SIMLS_LISTEN;
	switch (e->dev->fault) {
	case SIMFAULT_REFUSED: return SIMLS_CLOSED;
	case SIMFAULT_UNREACHABLE: return SIMLS_BLACKHOLE;
	case SIMFAULT_HANG: return SIMLS_NOACCEPT;
	default: return SIMLS_LISTEN;
	}
}

/* Brings one socket to the state its device's fault asks for. */
static int apply_state(simsrv *s, simep *e, char **err)
{
	simls want = wanted_state(e);
	if (want == e->state)
		return 0;
	/* a blackhole's queue holds stale handshakes: start over from a fresh socket */
	if (e->state == SIMLS_BLACKHOLE || want == SIMLS_CLOSED)
		close_listener(s, e);
	if (want == SIMLS_CLOSED)
		return 0;
	if (e->fd < 0 && open_listener(e, want == SIMLS_BLACKHOLE ? 0 : SOMAXCONN, err))
		return -1;
	if (want == SIMLS_BLACKHOLE) {
		if (watch(s, e, false) || listen(e->fd, 0))
			goto fail;
		/* Fill the one-entry accept queue with a connection of our own: from then on
		 * Linux drops every SYN to this address and port, and clients time out as
		 * they would with a host that is gone. */
		int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c < 0)
			goto fail;
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(e->port),
					  .sin_addr.s_addr = htonl(e->addr) };
		if (connect(c, (struct sockaddr *)&sa, sizeof sa) && errno != EINPROGRESS) {
			close(c);
			goto fail;
		}
		e->dummy = c;
		s->nblackholes++;
	} else {
		if (listen(e->fd, SOMAXCONN) || watch(s, e, want == SIMLS_LISTEN))
			goto fail;
	}
	e->state = want;
	return 0;
fail:;
	char a[16];
	simfleet_format_addr(e->addr, a);
	*err = xasprintf("%s:%u: %s", a, e->port, strerror(errno));
	close_listener(s, e);
	return -1;
}

/* With mu held: every socket to its wanted state; parked connections whose device
 * no longer holds them are released. */
static void reconcile(simsrv *s)
{
	for (size_t i = 0; i < s->neps; i++) {
		char *err = NULL;
		if (apply_state(s, &s->eps[i], &err)) {
			logf_(s, "cannot apply fault to %s", err);
			free(err);
		}
	}
	pthread_mutex_lock(&s->park_mu);
	for (size_t i = 0; i < s->npark; i++) {
		struct simpark *p = &s->park[i];
		if (isinf(p->deadline) && p->dev->fault != SIMFAULT_HANG && p->dev->fault != SIMFAULT_UNREACHABLE)
			p->deadline = 0;
	}
	pthread_mutex_unlock(&s->park_mu);
}

int simsrv_listen(simsrv *s, unsigned max_conns, char **err)
{
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	/* held in reserve: when accept() hits the fd limit, closing this lets us accept
	 * and drop the connection instead of spinning on a readable listener */
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (s->epfd < 0 || s->evfd < 0 || s->spare_fd < 0) {
		*err = xasprintf("epoll/eventfd: %s", strerror(errno));
		return -1;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &event_tag };
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->evfd, &ev);
	for (size_t i = 0; i < s->neps; i++) {
		simep *e = &s->eps[i];
		if (simsrv_lookup(s, e->addr, e->port)) {
			char a[16];
			simfleet_format_addr(e->addr, a);
			*err = xasprintf("%s:%u is used twice (a device address clashes with --control or --registry)", a,
					 e->port);
			return -1;
		}
		size_t j = slot_of(e->addr, e->port, s->tcap);
		while (s->table[j])
			j = (j + 1) & (s->tcap - 1);
		s->table[j] = e;
	}
	s->start_mono = simsrv_mono();
	s->mhd = simhttp_start(s, max_conns, err);
	if (!s->mhd)
		return -1;
	pthread_mutex_lock(&s->mu);
	int rc = 0;
	for (size_t i = 0; i < s->neps && !rc; i++)
		rc = apply_state(s, &s->eps[i], err);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* ---- connections ---- */

static void start_reset(simsrv *s, int fd)
{
	struct simrst *r = xcalloc(1, sizeof *r);
	r->kind = K_RESET;
	r->fd = fd;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = r };
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		close(fd);
		free(r);
		return;
	}
	r->next = s->resets;
	if (s->resets)
		s->resets->prev = r;
	s->resets = r;
}

static void end_reset(simsrv *s, struct simrst *r, bool rst)
{
	if (rst) {
		/* linger 0: close() sends RST instead of FIN */
		struct linger lg = { 1, 0 };
		setsockopt(r->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	}
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, r->fd, NULL);
	close(r->fd);
	if (r->prev)
		r->prev->next = r->next;
	else
		s->resets = r->next;
	if (r->next)
		r->next->prev = r->prev;
	free(r);
}

static void finish_reset(simsrv *s, struct simrst *r)
{
	char buf[16384];
	ssize_t n = read(r->fd, buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		static const char part[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
					   "Content-Length: 1024\r\n\r\n{\"status\": \"heal";
		ssize_t w = write(r->fd, part, sizeof part - 1);
		(void)w; /* a reset is what we send next either way */
	}
	end_reset(s, r, n > 0);
}

static void accept_some(simsrv *s, simep *e)
{
	/* bounded, so one busy address cannot starve the others */
	for (int i = 0; i < 64; i++) {
		struct sockaddr_in sa;
		socklen_t len = sizeof sa;
		int fd = accept4(e->fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if ((errno == EMFILE || errno == ENFILE) && s->spare_fd >= 0) {
				close(s->spare_fd);
				fd = accept(e->fd, NULL, NULL);
				if (fd >= 0)
					close(fd);
				s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
				logf_(s, "out of file descriptors: dropped a connection");
			}
			return;
		}
		simfault f = SIMFAULT_NONE;
		if (e->dev) {
			pthread_mutex_lock(&s->mu);
			f = e->dev->fault;
			pthread_mutex_unlock(&s->mu);
		}
		if (f == SIMFAULT_RESET) {
			start_reset(s, fd);
			continue;
		}
		/* MHD owns (and closes) the socket from here, also when it refuses it */
		MHD_add_connection(s->mhd, fd, (struct sockaddr *)&sa, len);
	}
}

bool simsrv_park(simsrv *s, struct MHD_Connection *c, simdev *d, double deadline)
{
	pthread_mutex_lock(&s->park_mu);
	if (atomic_load(&s->stopping)) {
		pthread_mutex_unlock(&s->park_mu);
		return false;
	}
	MHD_suspend_connection(c);
	s->park = xgrow(s->park, &s->park_cap, s->npark + 1, sizeof *s->park);
	s->park[s->npark++] = (struct simpark){ c, d, deadline };
	pthread_mutex_unlock(&s->park_mu);
	/* the loop's timeout may need to shrink */
	uint64_t one = 1;
	ssize_t w = write(s->evfd, &one, sizeof one);
	(void)w; /* a full eventfd already wakes the loop */
	return true;
}

/* Releases parked connections that are due (all of them with `all`); returns
 * milliseconds until the next deadline, capped at 1000. */
static int resume_due(simsrv *s, bool all)
{
	double now = simsrv_mono(), next = now + 1.0;
	struct MHD_Connection **due = NULL;
	size_t ndue = 0, cap = 0;
	pthread_mutex_lock(&s->park_mu);
	if (all)
		atomic_store(&s->stopping, 1);
	for (size_t i = 0; i < s->npark;) {
		struct simpark *p = &s->park[i];
		if (all || p->deadline <= now) {
			due = xgrow(due, &cap, ndue + 1, sizeof *due);
			due[ndue++] = p->c;
			s->park[i] = s->park[--s->npark];
		} else {
			if (p->deadline < next)
				next = p->deadline;
			i++;
		}
	}
	pthread_mutex_unlock(&s->park_mu);
	/* outside park_mu: MHD takes its own locks here */
	for (size_t i = 0; i < ndue; i++)
		MHD_resume_connection(due[i]);
	free(due);
	int ms = (int)ceil((next - now) * 1000.0);
	return ms < 0 ? 0 : ms > 1000 ? 1000 : ms;
}

void simsrv_sync(simsrv *s)
{
	pthread_mutex_lock(&s->sync_mu);
	uint64_t mine = ++s->sync_req;
	pthread_mutex_unlock(&s->sync_mu);
	uint64_t one = 1;
	ssize_t w = write(s->evfd, &one, sizeof one);
	(void)w;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5; /* bounded: a stopping loop must not hang the HTTP thread */
	pthread_mutex_lock(&s->sync_mu);
	while (s->sync_done < mine && !atomic_load(&s->stopping))
		if (pthread_cond_timedwait(&s->sync_cv, &s->sync_mu, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&s->sync_mu);
}

static void on_event(simsrv *s)
{
	uint64_t v;
	ssize_t r = read(s->evfd, &v, sizeof v);
	(void)r;
	pthread_mutex_lock(&s->sync_mu);
	uint64_t want = s->sync_req;
	bool todo = s->sync_done != want;
	pthread_mutex_unlock(&s->sync_mu);
	if (!todo)
		return;
	pthread_mutex_lock(&s->mu);
	reconcile(s);
	pthread_mutex_unlock(&s->mu);
	pthread_mutex_lock(&s->sync_mu);
	s->sync_done = want;
	pthread_cond_broadcast(&s->sync_cv);
	pthread_mutex_unlock(&s->sync_mu);
}

int simsrv_run(simsrv *s, volatile sig_atomic_t *stop, const sigset_t *waitmask)
{
	struct epoll_event ev[256];
	int timeout = 0;
	while (!*stop) {
		int n = epoll_pwait(s->epfd, ev, 256, timeout, waitmask);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			logf_(s, "epoll: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n; i++) {
			int kind = *(int *)ev[i].data.ptr;
			if (kind == K_LISTENER)
				accept_some(s, ev[i].data.ptr);
			else if (kind == K_EVENT)
				on_event(s);
			else
				finish_reset(s, ev[i].data.ptr);
		}
		timeout = resume_due(s, false);
	}
	return 0;
}

void simsrv_stop(simsrv *s)
{
	/* release parked connections (their handler sees `stopping` and closes), wake
	 * anyone waiting on a sync, then stop the daemon */
	resume_due(s, true);
	pthread_mutex_lock(&s->sync_mu);
	pthread_cond_broadcast(&s->sync_cv);
	pthread_mutex_unlock(&s->sync_mu);
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	s->mhd = NULL;
}

void simsrv_free(simsrv *s)
{
	if (!s)
		return;
	simsrv_stop(s);
	while (s->resets)
		end_reset(s, s->resets, false);
	for (size_t i = 0; i < s->neps; i++)
		if (s->eps[i].fd >= 0 || s->eps[i].dummy >= 0)
			close_listener(s, &s->eps[i]);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->evfd >= 0)
		close(s->evfd);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	free(s->park);
	free(s->table);
	free(s->eps);
	simfleet_free(s->fleet);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->park_mu);
	pthread_mutex_destroy(&s->sync_mu);
	pthread_cond_destroy(&s->sync_cv);
	free(s);
}
