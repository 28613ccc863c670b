/* poller: the poll cycle: every device's fetches in parallel, retries within the cycle, backoff across cycles. */
#include "poll/poller.h"
#include "poll/transport.h"
#include "util/xalloc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Every transport fleetdeck speaks; fleetdeck_transport names one of them. The
 * SSH transport joins as one more entry. */
static const struct transport_ops *const transports[] = {
	&transport_http,
	&transport_ssh,
};
#define NTRANSPORTS (sizeof transports / sizeof *transports)

static const struct {
	const char *name, *path;
	bool every;
} endpoints[] = {
#define X(id, name, path, every) { name, path, every },
	POLL_EP_LIST(X)
#undef X
};

const char *poll_ep_name(poll_ep ep)
{
	return (unsigned)ep < POLL_EP_COUNT ? endpoints[ep].name : "?";
}

const char *poll_ep_path(poll_ep ep)
{
	return (unsigned)ep < POLL_EP_COUNT ? endpoints[ep].path : "/";
}

struct pdev {
	transport_target t;
	size_t transport;      /* index into transports[] */
	/* this cycle */
	bool active, done;
	bool want[POLL_EP_COUNT];
	poll_ep ep;            /* the fetch under way or next */
	double start_at;       /* monotonic ms: when its first fetch may start */
	double fetch_deadline; /* monotonic ms: retries of this fetch end here */
	double retry_at;       /* monotonic ms; 0: no retry waiting */
	bool in_flight;
	/* across cycles */
	int failures;
	double next_try;       /* monotonic ms; 0: next cycle */
};

struct poller {
	poller_opts o;
	httpc *http;
	sshpool *ssh;          /* made on first need (transport_env_ssh) */
	sshfwd *fwd;           /* made on first need (transport_env_fwd) */
	transport_env env;
	void *tctx[NTRANSPORTS];
	bool topen[NTRANSPORTS];
	struct pdev *devs;
	size_t ndevs, cap;
	poll_result *res;
	poll_cycle_info info;
	uint64_t cycle;
	uint64_t rng;
	size_t remaining;      /* devices of this cycle not done yet */
	size_t *retry;         /* devices waiting for a retry (unordered) */
	size_t nretry, retry_cap;
	atomic_bool stop, poke;
};

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* splitmix64: jitter needs no more */
static double rnd01(poller *p)
{
	uint64_t z = (p->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) / 9007199254740992.0;
}

void poller_opts_default(poller_opts *o)
{
	memset(o, 0, sizeof *o);
	o->forks = 256;
	o->connect_timeout_ms = 2000;
	o->timeout_ms = 5000;
	o->max_body = (size_t)1 << 20;
	o->retries = 1;
	o->retry_delay_ms = 100;
	o->interval_ms = 10000;
	o->jitter_ms = 0;
	o->slow_every = 6;
	o->backoff_max_ms = 300000;
}

static int get_port(const json_t *vars, const char *key, int dflt, int *out, char **err)
{
	json_t *v = json_object_get(vars, key);
	if (!v || json_is_null(v)) {
		*out = dflt;
		return 0;
	}
	long long n = -1;
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		errno = 0;
		n = strtoll(s, &end, 10);
		if (errno || end == s || *end)
			n = -1;
	}
	if (n < 1 || n > 65535) {
		char *txt = json_dumps(v, JSON_ENCODE_ANY);
		*err = xasprintf("%s: expected a port from 1 to 65535, got %s", key, txt ? txt : "?");
		free(txt);
		return -1;
	}
	*out = (int)n;
	return 0;
}

static int get_string(const json_t *vars, const char *key, const char **out, char **err)
{
	json_t *v = json_object_get(vars, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !*json_string_value(v)) {
		*err = xasprintf("%s: expected a non-empty string", key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int poll_target_from_vars(const char *name, const json_t *vars, poll_target *t, char **err)
{
	memset(t, 0, sizeof *t);
	t->name = name;
	t->address = name;
	t->transport = "http";
	if (get_string(vars, "ansible_host", &t->address, err) || get_string(vars, "fleetdeck_transport", &t->transport, err) ||
	    get_port(vars, "fleetdeck_agent_port", 8080, &t->agent_port, err) ||
	    get_port(vars, "fleetdeck_metrics_port", 8000, &t->metrics_port, err))
		return -1;
	const char *key = NULL, *args = NULL;
	if (get_string(vars, "ansible_ssh_user", &t->ssh_user, err) || get_string(vars, "ansible_user", &t->ssh_user, err) ||
	    get_string(vars, "ansible_ssh_private_key_file", &key, err) ||
	    get_string(vars, "ansible_ssh_common_args", &args, err) ||
	    get_string(vars, "fleetdeck_model_dir", &t->model_dir, err))
		return -1;
	if (json_object_get(vars, "ansible_port") || json_object_get(vars, "ansible_ssh_port")) {
		const char *pk = json_object_get(vars, "ansible_port") ? "ansible_port" : "ansible_ssh_port";
		if (get_port(vars, pk, 22, &t->ssh_port, err))
			return -1;
	}
	if (key) {
		const char *home = getenv("HOME");
		if (key[0] == '~' && key[1] == '/' && home && *home)
			key = t->owned[0] = xasprintf("%s%s", home, key + 1);
		t->ssh_identity = key;
	}
	if (args) {
		char *jump = NULL, *e2 = NULL;
		int rc = ssh_common_args_jump(args, &jump, &e2);
		if (rc < 0) {
			*err = xasprintf("ansible_ssh_common_args: %s", e2 ? e2 : "cannot be split");
			free(e2);
			poll_target_clear(t);
			return -1;
		}
		if (rc > 0)
			t->ssh_jump = t->owned[1] = jump;
	}
	return 0;
}

void poll_target_clear(poll_target *t)
{
	for (size_t i = 0; i < sizeof t->owned / sizeof *t->owned; i++) {
		free(t->owned[i]);
		t->owned[i] = NULL;
	}
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

poller *poller_new(const poller_opts *o, char **err)
{
	poller *p = xcalloc(1, sizeof *p);
	if (o)
		p->o = *o;
	else
		poller_opts_default(&p->o);
	poller_opts d;
	poller_opts_default(&d);
	if (p->o.forks <= 0)
		p->o.forks = d.forks;
	if (p->o.connect_timeout_ms <= 0)
		p->o.connect_timeout_ms = d.connect_timeout_ms;
	if (p->o.timeout_ms <= 0)
		p->o.timeout_ms = d.timeout_ms;
	if (!p->o.max_body)
		p->o.max_body = d.max_body;
	if (p->o.retries < 0)
		p->o.retries = 0;
	if (p->o.retry_delay_ms <= 0)
		p->o.retry_delay_ms = d.retry_delay_ms;
	if (p->o.interval_ms <= 0)
		p->o.interval_ms = d.interval_ms;
	if (p->o.jitter_ms < 0)
		p->o.jitter_ms = 0;
	if (p->o.slow_every < 0)
		p->o.slow_every = 0;
	if (p->o.backoff_max_ms <= 0)
		p->o.backoff_max_ms = d.backoff_max_ms;
	p->rng = p->o.seed ? p->o.seed : (uint64_t)wall_ms() ^ (uint64_t)(uintptr_t)p;
	http_opts ho = {
		.max_parallel = p->o.forks,
		.connect_timeout_ms = p->o.connect_timeout_ms,
		.timeout_ms = p->o.timeout_ms,
		.max_body = p->o.max_body,
	};
	p->http = httpc_new(&ho, err);
	if (!p->http) {
		free(p);
		return NULL;
	}
	p->env.http = p->http;
	p->env.o = &p->o;
	p->env.ssh = &p->ssh;
	p->env.fwd = &p->fwd;
	atomic_init(&p->stop, false);
	atomic_init(&p->poke, false);
	return p;
}

static void fetch_clear(poll_fetch *f)
{
	free(f->error);
	memset(f, 0, sizeof *f);
}

static void result_clear(poll_result *r)
{
	free(r->detail);
	dev_status_clear(&r->st);
	for (int e = 0; e < POLL_EP_COUNT; e++)
		fetch_clear(&r->fetch[e]);
	memset(r, 0, sizeof *r);
}

void poller_free(poller *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < NTRANSPORTS; i++)
		if (p->topen[i] && transports[i]->close)
			transports[i]->close(p->tctx[i]);
	httpc_free(p->http);
	sshfwd_free(p->fwd);
	sshpool_free(p->ssh);
	for (size_t i = 0; i < p->ndevs; i++) {
		transport_target *t = &p->devs[i].t;
		free(t->name);
		free(t->address);
		free(t->ssh_user);
		free(t->ssh_identity);
		free(t->ssh_jump);
		free(t->model_dir);
		result_clear(&p->res[i]);
	}
	free(p->devs);
	free(p->res);
	free(p->retry);
	free(p);
}

long poller_add(poller *p, const poll_target *t, char **err)
{
	size_t k = NTRANSPORTS;
	const char *tn = t->transport ? t->transport : "http";
	for (size_t i = 0; i < NTRANSPORTS; i++)
		if (strcmp(transports[i]->name, tn) == 0)
			k = i;
	if (k == NTRANSPORTS) {
		*err = xasprintf("fleetdeck_transport '%s' is not available (this build polls over: http, ssh)", tn);
		return -1;
	}
	if (!t->name || !*t->name || !t->address || !*t->address) {
		*err = xstrdup("a device needs a name and an address");
		return -1;
	}
	if (!http_host_valid(t->address)) {
		*err = xasprintf("'%s' is not a host name or address", t->address);
		return -1;
	}
	if (t->agent_port < 1 || t->agent_port > 65535 || t->metrics_port < 1 || t->metrics_port > 65535) {
		*err = xstrdup("ports must be from 1 to 65535");
		return -1;
	}
	if (p->ndevs == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->devs = xrealloc(p->devs, p->cap * sizeof *p->devs);
		p->res = xrealloc(p->res, p->cap * sizeof *p->res);
	}
	struct pdev *d = &p->devs[p->ndevs];
	memset(d, 0, sizeof *d);
	d->t.index = p->ndevs;
	d->t.name = xstrdup(t->name);
	d->t.address = xstrdup(t->address);
	d->t.agent_port = t->agent_port;
	d->t.metrics_port = t->metrics_port;
	d->t.dial = t->dial;
	d->t.dial_ctx = t->dial_ctx;
	d->t.ssh_user = dup_or_null(t->ssh_user);
	d->t.ssh_identity = dup_or_null(t->ssh_identity);
	d->t.ssh_jump = dup_or_null(t->ssh_jump);
	d->t.model_dir = dup_or_null(t->model_dir);
	d->t.ssh_port = t->ssh_port;
	d->transport = k;
	if (!d->t.dial && d->t.ssh_jump && strcmp(d->t.ssh_jump, "none") != 0 && transports[k] == &transport_http) {
		/* HTTP to a device behind a bastion: loopback forwards through the bastion's one session */
		sshfwd *fw = transport_env_fwd(&p->env, err);
		ssh_target st;
		transport_ssh_target(&d->t, &st);
		int pa = fw ? sshfwd_port(fw, &st, d->t.address, d->t.agent_port, err) : -1;
		int pm = pa > 0 ? sshfwd_port(fw, &st, d->t.address, d->t.metrics_port, err) : -1;
		if (pm < 0) {
			free(d->t.name);
			free(d->t.address);
			free(d->t.ssh_user);
			free(d->t.ssh_identity);
			free(d->t.ssh_jump);
			free(d->t.model_dir);
			return -1;
		}
		d->t.via_agent_port = pa;
		d->t.via_metrics_port = pm;
	}
	memset(&p->res[p->ndevs], 0, sizeof p->res[p->ndevs]);
	return (long)p->ndevs++;
}

size_t poller_count(const poller *p)
{
	return p->ndevs;
}

void poller_stop(poller *p)
{
	atomic_store(&p->stop, true);
	httpc_wakeup(p->http);
}

void poller_poke(poller *p)
{
	atomic_store(&p->poke, true);
	httpc_wakeup(p->http);
}

/* Keep a connection per device and port alive between cycles, as far as the
 * descriptor limit allows (room is left for the transfers themselves). */
static void size_connection_cache(poller *p)
{
	long want = (long)p->ndevs * (p->o.slow_every ? 2 : 1) + p->o.forks;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		long room = (long)rl.rlim_cur - p->o.forks - 64;
		if (want > room)
			want = room;
	}
	if (want < 4L * p->o.forks)
		want = 4L * p->o.forks;
	httpc_set_max_connects(p->http, want);
}

static void set_state(poll_result *r, dev_state s, dev_reason reason, char *detail);
static void device_done(poller *p, size_t i);

char *poller_describe(const poller *p, size_t index, poll_ep ep)
{
	if (index >= p->ndevs || (unsigned)ep >= POLL_EP_COUNT)
		return NULL;
	const struct pdev *d = &p->devs[index];
	const struct transport_ops *t = transports[d->transport];
	return t->describe ? t->describe(&p->env, &d->t, ep, p->o.timeout_ms) : NULL;
}

static void *tag_of(size_t i)
{
	return (void *)(uintptr_t)(i + 1);
}

static int start_fetch(poller *p, size_t i, char **err)
{
	struct pdev *d = &p->devs[i];
	size_t k = d->transport;
	if (!p->topen[k]) {
		p->tctx[k] = transports[k]->open ? transports[k]->open(&p->env, err) : NULL;
		if (transports[k]->open && !p->tctx[k])
			return -1;
		p->topen[k] = true;
	}
	double now = mono_ms();
	poll_fetch *f = &p->res[i].fetch[d->ep];
	int timeout = p->o.timeout_ms;
	if (f->attempts == 0) {
		f->attempted = true;
		d->fetch_deadline = now + p->o.timeout_ms;
	} else {
		timeout = (int)(d->fetch_deadline - now);
		if (timeout < 1)
			timeout = 1;
	}
	f->attempts++;
	d->in_flight = true;
	d->retry_at = 0;
	char *why = NULL;
	if (transports[k]->start(p->tctx[k], &p->env, &d->t, d->ep, timeout, tag_of(i), &why) == 0)
		return 0;
	/* this device cannot be asked (the others can): it fails, the cycle goes on */
	d->in_flight = false;
	f->attempts = p->o.retries + 1;
	free(f->error);
	f->error = why ? why : xstrdup("the request could not be made");
	f->reason = DEV_REASON_NETWORK;
	set_state(&p->res[i], DEV_UNREACHABLE, DEV_REASON_NETWORK,
		  xasprintf("%s: %s", poll_ep_path(d->ep), f->error));
	device_done(p, i);
	return 0;
}

static void set_state(poll_result *r, dev_state s, dev_reason reason, char *detail)
{
	if (dev_state_rank(s) <= dev_state_rank(r->state) && r->state != DEV_PENDING) {
		free(detail);
		return;
	}
	r->state = s;
	r->reason = reason;
	free(r->detail);
	r->detail = detail;
}

int poll_parse_status(const char *body, size_t len, dev_status *st, char **err)
{
	json_error_t je;
	json_t *j = json_loadb(body ? body : "", len, 0, &je);
	if (!j) {
		*err = xasprintf("not JSON (%s)", je.text);
		return -1;
	}
	int rc = dev_status_from_json(st, j, err);
	json_decref(j);
	return rc;
}

int poll_parse_health(const char *body, size_t len, poll_health *h, char **err)
{
	memset(h, 0, sizeof *h);
	json_error_t je;
	json_t *j = json_loadb(body ? body : "", len, 0, &je);
	json_t *ml = json_object_get(j, "model_loaded");
	json_t *st = json_object_get(j, "status");
	if (!j || !json_is_object(j) || !json_is_string(st) || (ml && !json_is_boolean(ml))) {
		*err = !j ? xasprintf("not JSON (%s)", je.text)
			  : xstrdup("expected {\"status\": string, \"model_loaded\": bool}");
		json_decref(j);
		return -1;
	}
	snprintf(h->status, sizeof h->status, "%s", json_string_value(st));
	if (ml) {
		h->have_loaded = true;
		h->model_loaded = json_is_true(ml);
	}
	json_decref(j);
	return 0;
}

static void parse_status(poll_result *r, const char *body, size_t len, poll_fetch *f)
{
	char *err = NULL;
	dev_status st = { 0 };
	if (poll_parse_status(body, len, &st, &err)) {
		f->ok = false;
		f->reason = DEV_REASON_MALFORMED;
		f->error = err;
		return;
	}
	dev_status_clear(&r->st);
	r->st = st; /* model_loaded comes from /health, which comes next */
	r->st.have &= ~(unsigned)DEV_HAVE_MODEL_LOADED;
}

static void parse_health(poll_result *r, const char *body, size_t len, poll_fetch *f)
{
	poll_health h;
	char *err = NULL;
	if (poll_parse_health(body, len, &h, &err)) {
		f->ok = false;
		f->reason = DEV_REASON_MALFORMED;
		f->error = err;
		return;
	}
	if (h.have_loaded) {
		r->st.model_loaded = h.model_loaded;
		r->st.have |= DEV_HAVE_MODEL_LOADED;
	}
	dev_status tmp = { .status = h.status };
	dev_state hs = dev_state_from_status(&tmp);
	if (hs != DEV_HEALTHY)
		set_state(r, hs, DEV_REASON_REPORTED, xasprintf("/health says %s", h.status));
}

static int next_endpoint(struct pdev *d)
{
	for (int e = (int)d->ep + 1; e < POLL_EP_COUNT; e++)
		if (d->want[e])
			return e;
	return -1;
}

static void device_done(poller *p, size_t i)
{
	struct pdev *d = &p->devs[i];
	poll_result *r = &p->res[i];
	d->done = true;
	d->in_flight = false;
	p->remaining--;
	if (r->state == DEV_PENDING)
		r->state = DEV_HEALTHY;
	if (r->state == DEV_UNREACHABLE) {
		d->failures++;
		/* the first failure is retried next cycle; then 2, 4, 8 ... intervals, capped, ±25% */
		if (d->failures >= 2) {
			double delay = p->o.interval_ms * pow(2.0, d->failures - 1);
			if (delay > p->o.backoff_max_ms)
				delay = p->o.backoff_max_ms;
			delay *= 0.75 + 0.5 * rnd01(p);
			d->next_try = mono_ms() + delay;
			r->next_poll_ms = wall_ms() + (int64_t)delay;
		} else {
			d->next_try = 0;
		}
	} else {
		d->failures = 0;
		d->next_try = 0;
	}
	r->failures = d->failures;
}

/* A fetch ended: record it, maybe retry it, then go on to the device's next one. */
static int on_result(poller *p, transport_result *tr, char **err)
{
	size_t i = (size_t)(uintptr_t)tr->tag - 1;
	if (i >= p->ndevs || !p->devs[i].in_flight) {
		free(tr->body);
		free(tr->error);
		return 0;
	}
	struct pdev *d = &p->devs[i];
	poll_result *r = &p->res[i];
	poll_fetch *f = &r->fetch[d->ep];
	d->in_flight = false;
	double now = mono_ms();
	r->ts_ms = wall_ms();
	p->info.connects += tr->new_connects;
	p->info.requests++;
	free(f->error);
	f->error = tr->error;
	f->reason = tr->reason;
	f->http_status = tr->http_status;
	f->body_len = tr->body_len;
	f->rtt_ms = tr->rtt_ms;
	f->ok = tr->reason == DEV_REASON_NONE;
	tr->error = NULL;
	int via = d->ep == POLL_EP_METRICS ? d->t.via_metrics_port : d->t.via_agent_port;
	if (!f->ok && via && p->fwd) {
		/* through a jump host, a refused tunnel shows here as a closed connection: say why */
		dev_reason why;
		char *msg = NULL;
		if (sshfwd_last_error(p->fwd, via, &why, &msg)) {
			f->reason = why;
			free(f->error);
			f->error = xasprintf("through the jump host %s: %s", d->t.ssh_jump, msg);
			free(msg);
		}
	}

	if (!f->ok && dev_reason_unreachable(f->reason) && f->attempts <= p->o.retries) {
		/* a quick retry, if another connect fits before the fetch's deadline */
		double delay = p->o.retry_delay_ms * pow(2.0, f->attempts - 1);
		if (now + delay + p->o.connect_timeout_ms <= d->fetch_deadline) {
			d->retry_at = now + delay;
			p->retry = xgrow(p->retry, &p->retry_cap, p->nretry + 1, sizeof *p->retry);
			p->retry[p->nretry++] = i;
			free(tr->body);
			return 0;
		}
	}
	if (f->ok) {
		if (d->ep == POLL_EP_STATUS)
			parse_status(r, tr->body, tr->body_len, f);
		else if (d->ep == POLL_EP_HEALTH)
			parse_health(r, tr->body, tr->body_len, f);
		else if (p->o.parse[d->ep])
			p->o.parse[d->ep](p->o.parse_ep_ctx[d->ep] ? p->o.parse_ep_ctx[d->ep] : p->o.parse_ctx, i, d->ep,
					  tr->body ? tr->body : "", tr->body_len, f);
	}
	free(tr->body);
	tr->body = NULL;

	if (d->ep == POLL_EP_STATUS)
		r->rtt_ms = f->ok ? f->rtt_ms : -1;
	/* the state comes from the agent's own endpoints (/status, and /health when it is asked);
	 * /metrics and /drift failures are theirs alone */
	if (endpoints[d->ep].every || d->ep == POLL_EP_HEALTH) {
		if (f->ok && d->ep == POLL_EP_STATUS) {
			dev_state s = dev_state_from_status(&r->st);
			if (s != DEV_HEALTHY)
				set_state(r, s, DEV_REASON_REPORTED,
					  xasprintf("/status says %.64s", r->st.status ? r->st.status : "?"));
			else if (r->state == DEV_PENDING)
				r->state = DEV_HEALTHY;
		} else if (!f->ok) {
			bool gone = dev_reason_unreachable(f->reason);
			set_state(r, gone ? DEV_UNREACHABLE : DEV_UNHEALTHY, f->reason,
				  xasprintf("%s: %s", poll_ep_path(d->ep), f->error ? f->error : dev_reason_text(f->reason)));
			if (gone) { /* nothing more to ask a device we cannot reach */
				device_done(p, i);
				return 0;
			}
		}
	}
	int e = next_endpoint(d);
	if (e < 0) {
		device_done(p, i);
		return 0;
	}
	d->ep = (poll_ep)e;
	if (start_fetch(p, i, err))
		return -1;
	return 0;
}

static bool slow_due(const poller *p)
{
	return p->o.slow_every > 0 && (p->cycle - 1) % (uint64_t)p->o.slow_every == 0;
}

/* Sets up the cycle: who is polled, what, and when each starts. */
static void cycle_begin(poller *p)
{
	p->cycle++;
	bool poke = atomic_exchange(&p->poke, false);
	double now = mono_ms();
	memset(&p->info, 0, sizeof p->info);
	p->info.cycle = p->cycle;
	p->info.start_ms = wall_ms();
	p->info.slow_endpoints = slow_due(p);
	p->remaining = 0;
	p->nretry = 0;
	size_connection_cache(p);
	for (size_t i = 0; i < p->ndevs; i++) {
		struct pdev *d = &p->devs[i];
		poll_result *r = &p->res[i];
		result_clear(r);
		r->index = i;
		r->host = d->t.name;
		r->rtt_ms = -1;
		d->active = d->done = d->in_flight = false;
		d->retry_at = 0;
		if (poke)
			d->next_try = 0;
		if (d->next_try > now) {
			r->polled = false;
			r->failures = d->failures;
			r->next_poll_ms = p->info.start_ms + (int64_t)(d->next_try - now);
			p->info.skipped++;
			continue;
		}
		r->polled = true;
		r->state = DEV_PENDING;
		for (int e = 0; e < POLL_EP_COUNT; e++)
			d->want[e] = endpoints[e].every || (p->info.slow_endpoints && !p->o.skip[e]);
		d->ep = POLL_EP_STATUS;
		d->active = true;
		d->start_at = now + (p->o.jitter_ms ? rnd01(p) * p->o.jitter_ms : 0);
		p->remaining++;
		p->info.polled++;
	}
}

static int compare_start(const void *a, const void *b, void *ctx)
{
	const struct pdev *devs = ctx;
	double x = devs[*(const size_t *)a].start_at, y = devs[*(const size_t *)b].start_at;
	return x < y ? -1 : x > y;
}

/* qsort_r is not C11; a small merge sort on indexes keeps this portable */
static void sort_by_start(size_t *idx, size_t n, const struct pdev *devs)
{
	if (n < 2)
		return;
	size_t *tmp = xcalloc(n, sizeof *tmp);
	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t a = lo, b = mid, k = lo;
			while (a < mid && b < hi)
				tmp[k++] = compare_start(&idx[b], &idx[a], (void *)devs) < 0 ? idx[b++] : idx[a++];
			while (a < mid)
				tmp[k++] = idx[a++];
			while (b < hi)
				tmp[k++] = idx[b++];
		}
		memcpy(idx, tmp, n * sizeof *idx);
	}
	free(tmp);
}

static int collect(poller *p, char **err)
{
	for (size_t k = 0; k < NTRANSPORTS; k++) {
		if (!p->topen[k])
			continue;
		transport_result tr;
		while (transports[k]->next(p->tctx[k], &p->env, &tr))
			if (on_result(p, &tr, err))
				return -1;
	}
	return 0;
}

int poller_cycle(poller *p, const poll_result **res, size_t *n, poll_cycle_info *info, char **err)
{
	double t0 = mono_ms();
	cycle_begin(p);
	size_t nact = 0;
	size_t *order = xcalloc(p->ndevs ? p->ndevs : 1, sizeof *order);
	for (size_t i = 0; i < p->ndevs; i++)
		if (p->devs[i].active)
			order[nact++] = i;
	if (p->o.jitter_ms)
		sort_by_start(order, nact, p->devs);
	size_t next_start = 0;
	int rc = 0;
	while (p->remaining) {
		if (atomic_load(&p->stop)) {
			rc = 1;
			break;
		}
		double now = mono_ms();
		while (next_start < nact && p->devs[order[next_start]].start_at <= now) {
			if (start_fetch(p, order[next_start], err)) {
				rc = -1;
				goto out;
			}
			next_start++;
		}
		/* retries due; and the earliest thing that will be due */
		double wake = now + 1000;
		if (next_start < nact && p->devs[order[next_start]].start_at < wake)
			wake = p->devs[order[next_start]].start_at;
		for (size_t j = 0; j < p->nretry;) {
			size_t i = p->retry[j];
			struct pdev *d = &p->devs[i];
			if (d->retry_at > now) {
				if (d->retry_at < wake)
					wake = d->retry_at;
				j++;
				continue;
			}
			p->retry[j] = p->retry[--p->nretry];
			if (start_fetch(p, i, err)) {
				rc = -1;
				goto out;
			}
		}
		struct curl_waitfd extra[NTRANSPORTS];
		unsigned nextra = 0;
		for (size_t k = 0; k < NTRANSPORTS; k++) {
			int fd = p->topen[k] && transports[k]->wake_fd ? transports[k]->wake_fd(p->tctx[k]) : -1;
			if (fd >= 0)
				extra[nextra++] = (struct curl_waitfd){ .fd = fd, .events = CURL_WAIT_POLLIN };
		}
		int wait_ms = (int)ceil(wake - mono_ms());
		if (httpc_wait(p->http, wait_ms < 0 ? 0 : wait_ms, extra, nextra, err) || collect(p, err)) {
			rc = -1;
			goto out;
		}
	}
out:
	free(order);
	p->info.end_ms = wall_ms();
	p->info.duration_ms = mono_ms() - t0;
	*res = p->res;
	*n = p->ndevs;
	if (info)
		*info = p->info;
	return rc;
}

int poller_run(poller *p, poll_publish_fn publish, void *ctx, char **err)
{
	while (!atomic_load(&p->stop)) {
		double t0 = mono_ms();
		const poll_result *res;
		size_t n;
		poll_cycle_info info;
		int rc = poller_cycle(p, &res, &n, &info, err);
		if (rc < 0)
			return -1;
		if (rc > 0)
			break;
		publish(ctx, res, n, &info);
		/* sleep until the next cycle is due, woken early by stop or poke */
		for (;;) {
			if (atomic_load(&p->stop) || atomic_load(&p->poke))
				break;
			double left = t0 + p->o.interval_ms - mono_ms();
			if (left <= 0)
				break;
			if (httpc_wait(p->http, (int)ceil(left), NULL, 0, err))
				return -1;
			/* stray transfers of an interrupted cycle are dropped */
			http_result h;
			while (httpc_next(p->http, &h))
				http_result_clear(&h);
		}
	}
	return 0;
}
