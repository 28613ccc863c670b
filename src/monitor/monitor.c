/* monitor: polling on a thread, the model, history and the event and command logs for the console. */
#include "monitor/monitor.h"
#include "drift/driftwatch.h"
#include "fleet/history.h"
#include "inventory/pattern.h"
#include "metrics/devmetrics.h"
#include "monitor/rollwatch.h"
#include "poll/promsrc.h"
#include "store/store.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { EVENT_RING = 2048, CMD_RING = 8192 };

struct cmd {
	int64_t ts_ms;
	size_t dev;
	poll_ep ep;
	bool ok;
	long status;
	dev_reason reason;
	double rtt_ms;
	int attempts;
};

struct mdev {
	char *host, *address;
	int agent_port, metrics_port;
	bool ssh;              /* polled over SSH: the command log says so */
	size_t pindex;         /* the device's index in the poller */
	dev_state state;       /* as of the last cycle, for state-change events */
};

struct monitor {
	inventory *inv;
	poller *p;             /* NULL when the devices' state comes from Prometheus: */
	promsrc *ps;
	devmetrics *dm;        /* /metrics readings, for what /status lacks */
	driftwatch *dw;        /* /drift windows against their baselines (the polling thread's) */
	fleet *fl;
	store *st;
	char *who;
	struct mdev *devs;
	size_t ndevs;
	char **warnings;
	size_t nwarnings;
	strmap *by_host;       /* host -> struct mdev * */
	strmap *alerts;        /* "host\nrule" -> owned key, firing as of the last cycle */
	int wake[2];
	pthread_t thread;
	bool started;

	pthread_mutex_t lock;  /* guards everything below */
	monitor_event ev[EVENT_RING];
	size_t ev_head, ev_count;
	struct cmd cmd[CMD_RING];
	size_t cmd_head, cmd_count;
	poll_cycle_info last;
	bool have_last;
	char *error;
	monitor_stats stats;

	/* the history worker: one request at a time, the newest wins */
	char *db_path;
	pthread_t hthread;
	bool hstarted, hstop;
	pthread_cond_t hcond;
	char *hreq_host;       /* guarded by lock */
	int64_t hreq_ms;
	monitor_history hist;  /* guarded by lock */

	rollwatch *rw;         /* the rollouts of the history database; NULL without one */
};

static void wake_ui(void *ctx)
{
	monitor *m = ctx;
	char b = 1;
	ssize_t w = write(m->wake[1], &b, 1); /* full pipe: the UI is woken already */
	(void)w;
}

static void warn(monitor *m, char *msg)
{
	m->warnings = xrealloc(m->warnings, (m->nwarnings + 1) * sizeof *m->warnings);
	m->warnings[m->nwarnings++] = msg;
}

monitor *monitor_new(inventory *inv, const monitor_opts *o, char **err)
{
	inv_host **hosts = NULL;
	size_t n = 0;
	if (inv_pattern_limit(inv, "all", o->limit, &hosts, &n, err))
		return NULL;
	if (n == 0) {
		free(hosts);
		*err = xasprintf("no devices selected%s%s", o->limit ? " by --limit " : "", o->limit ? o->limit : "");
		return NULL;
	}
	monitor *m = xcalloc(1, sizeof *m);
	m->inv = inv;
	m->wake[0] = m->wake[1] = -1;
	pthread_mutex_init(&m->lock, NULL);
	m->by_host = strmap_new();
	m->alerts = strmap_new();
	m->who = xstrdup(o->who ? o->who : "console");
	fleet_rules deflt;
	fleet_rules_default(&deflt);
	m->fl = fleet_new(o->rules ? o->rules : &deflt);
	fleet_rules_free(&deflt);
	poller_opts po = o->poll;
	m->dm = devmetrics_new();
	devmetrics_attach(m->dm, &po);
	driftwatch_opts dwo;
	driftwatch_opts_default(&dwo);
	if (po.connect_timeout_ms > 0)
		dwo.connect_timeout_ms = po.connect_timeout_ms;
	if (po.timeout_ms > 0)
		dwo.timeout_ms = po.timeout_ms;
	m->dw = driftwatch_new(o->rules, &dwo);
	if (!po.skip[POLL_EP_DRIFT])
		driftwatch_attach(m->dw, &po);
	if (o->prom) {
		promsrc_opts pso = *o->prom;
		pso.interval_ms = o->poll.interval_ms;
		if (!(m->ps = promsrc_new(&pso, err)))
			goto fail;
	} else if (!(m->p = poller_new(&po, err))) {
		goto fail;
	}
	if (pipe(m->wake) != 0) {
		*err = xasprintf("pipe: %s", strerror(errno));
		goto fail;
	}
	for (int i = 0; i < 2; i++) {
		fcntl(m->wake[i], F_SETFL, fcntl(m->wake[i], F_GETFL) | O_NONBLOCK);
		fcntl(m->wake[i], F_SETFD, FD_CLOEXEC);
	}
	m->devs = xcalloc(n, sizeof *m->devs);
	for (size_t i = 0; i < n; i++) {
		json_t *vars = inv_host_vars(inv, hosts[i]);
		poll_target t;
		char *e2 = NULL;
		const char *key = json_string_value(json_object_get(vars, "fleetdeck_prometheus_instance"));
		long pi = -1;
		if (poll_target_from_vars(hosts[i]->name, vars, &t, &e2) ||
		    (pi = m->ps ? promsrc_add(m->ps, &t, key, &e2) : poller_add(m->p, &t, &e2)) < 0) {
			warn(m, xasprintf("%s: %s (not polled)", hosts[i]->name, e2 ? e2 : "cannot be polled"));
			free(e2);
			poll_target_clear(&t);
			json_decref(vars);
			continue;
		}
		struct mdev *d = &m->devs[m->ndevs++];
		d->host = xstrdup(hosts[i]->name);
		d->address = xstrdup(t.address);
		d->agent_port = t.agent_port;
		d->metrics_port = t.metrics_port;
		d->ssh = t.transport && strcmp(t.transport, "ssh") == 0;
		d->pindex = (size_t)pi;
		poll_target_clear(&t);
		d->state = DEV_PENDING;
		strmap_put(m->by_host, d->host, d);
		size_t fi = fleet_add(m->fl, hosts[i]->name, fleet_factory_of(inv, hosts[i], vars),
				      json_string_value(json_object_get(vars, "gpu_type")));
		driftwatch_add(m->dw, fi, fleet_factory_of(inv, hosts[i], vars),
			       json_string_value(json_object_get(vars, "model_registry")));
		json_decref(vars);
	}
	free(hosts);
	hosts = NULL;
	if (m->ndevs == 0) {
		*err = xstrdup("none of the selected devices can be polled");
		goto fail;
	}
	pthread_cond_init(&m->hcond, NULL);
	if (o->db_path) {
		m->db_path = xstrdup(o->db_path);
		m->rw = rollwatch_new(o->db_path, NULL, wake_ui, m);
		m->st = store_open(o->db_path, err);
		if (!m->st)
			goto fail;
		if (store_warning(m->st))
			warn(m, xasprintf("history: %s", store_warning(m->st)));
	}
	return m;
fail:
	free(hosts);
	monitor_free(m);
	return NULL;
}

static void event_clear(monitor_event *e)
{
	free(e->host);
	free(e->text);
	memset(e, 0, sizeof *e);
}

static void event_push(monitor *m, const monitor_event *e)
{
	size_t slot = (m->ev_head + m->ev_count) % EVENT_RING;
	if (m->ev_count == EVENT_RING) {
		slot = m->ev_head;
		event_clear(&m->ev[slot]);
		m->ev_head = (m->ev_head + 1) % EVENT_RING;
	} else {
		m->ev_count++;
	}
	m->ev[slot] = *e;
	m->stats.events++;
}

static void cmd_push(monitor *m, const struct cmd *c)
{
	size_t slot = (m->cmd_head + m->cmd_count) % CMD_RING;
	if (m->cmd_count == CMD_RING) {
		slot = m->cmd_head;
		m->cmd_head = (m->cmd_head + 1) % CMD_RING;
	} else {
		m->cmd_count++;
	}
	m->cmd[slot] = *c;
	m->stats.commands++;
}

/* State changes and alerts that started or stopped, as events (under the lock). */
static void diff_snapshot(monitor *m, const fleet_snapshot *s, int64_t ts)
{
	for (size_t i = 0; i < s->ndevs && i < m->ndevs; i++) {
		const fleet_dev *d = &s->devs[i];
		struct mdev *md = &m->devs[i];
		if (d->state == md->state)
			continue;
		if (md->state != DEV_PENDING || d->state != DEV_HEALTHY) { /* a first healthy answer is no news */
			monitor_event e = {
				.ts_ms = d->ts_ms ? d->ts_ms : ts,
				.kind = MON_EV_STATE,
				.host = xstrdup(d->host),
				.from = md->state,
				.to = d->state,
				.reason = d->reason,
			};
			e.text = d->detail ? xasprintf("%s -> %s: %s", dev_state_name(md->state), dev_state_name(d->state),
						       d->detail)
					   : xasprintf("%s -> %s", dev_state_name(md->state), dev_state_name(d->state));
			event_push(m, &e);
		}
		md->state = d->state;
	}
	strmap *now = strmap_new();
	char **keys = xcalloc(s->nalerts + 1, sizeof *keys);
	for (size_t i = 0; i < s->nalerts; i++) {
		const fleet_alert *a = &s->alerts[i];
		keys[i] = xasprintf("%s\n%s", a->host, fleet_rule_name(a->rule));
		strmap_put(now, keys[i], (void *)a);
		if (!strmap_get(m->alerts, keys[i])) {
			monitor_event e = {
				.ts_ms = ts,
				.kind = MON_EV_ALERT,
				.host = xstrdup(a->host),
				.rule = a->rule,
				.severity = a->severity,
				.text = xasprintf("%s %s: %s", fleet_severity_name(a->severity), fleet_rule_name(a->rule),
						  a->message ? a->message : ""),
			};
			event_push(m, &e);
		}
	}
	size_t it = 0;
	const char *k;
	void *v;
	char **gone = NULL;
	size_t ngone = 0;
	while (strmap_next(m->alerts, &it, &k, &v)) {
		if (strmap_get(now, k))
			continue;
		gone = xrealloc(gone, (ngone + 1) * sizeof *gone);
		gone[ngone++] = v;
	}
	for (size_t i = 0; i < ngone; i++) {
		char *key = gone[i];
		strmap_del(m->alerts, key);
		char *nl = strchr(key, '\n');
		monitor_event e = {
			.ts_ms = ts,
			.kind = MON_EV_RESOLVED,
			.host = xstrndup(key, (size_t)(nl - key)),
			.text = xasprintf("resolved %s", nl + 1),
		};
		int r = fleet_rule_parse(nl + 1);
		e.rule = r < 0 ? FLEET_RULE_HEALTH : (fleet_rule)r;
		event_push(m, &e);
		free(key);
	}
	free(gone);
	for (size_t i = 0; i < s->nalerts; i++) {
		if (strmap_get(m->alerts, keys[i]))
			free(keys[i]);
		else
			strmap_put(m->alerts, keys[i], keys[i]);
	}
	free(keys);
	strmap_free(now);
}

static void publish(void *ctx, const poll_result *res, size_t n, const poll_cycle_info *info)
{
	monitor *m = ctx;
	res = devmetrics_merge(m->dm, res, n);
	fleet_apply(m->fl, res, n);
	driftwatch_cycle(m->dw, res, n, info->end_ms, m->fl);
	fleet_snapshot *s = fleet_snapshot_take(m->fl, info->end_ms);
	bool hist_failed = false;
	char *herr = NULL;
	if (m->st && fleet_history_record(m->st, s, info->start_ms, info->end_ms, m->who, &herr))
		hist_failed = true;
	pthread_mutex_lock(&m->lock);
	/* the command log is of requests to devices: from Prometheus there are none */
	for (size_t i = 0; i < n && !m->ps; i++) {
		const poll_result *r = &res[i];
		if (!r->polled)
			continue;
		for (int ep = 0; ep < POLL_EP_COUNT; ep++) {
			const poll_fetch *f = &r->fetch[ep];
			if (!f->attempted)
				continue;
			struct cmd c = {
				.ts_ms = r->ts_ms,
				.dev = r->index,
				.ep = ep,
				.ok = f->ok,
				.status = f->http_status,
				.reason = f->reason,
				.rtt_ms = f->rtt_ms,
				.attempts = f->attempts,
			};
			cmd_push(m, &c);
		}
	}
	diff_snapshot(m, s, info->end_ms);
	m->last = *info;
	m->have_last = true;
	m->stats.cycles++;
	if (hist_failed) {
		m->stats.history_errors++;
		free(m->error);
		m->error = xasprintf("history: %s", herr ? herr : "write failed");
	} else if (m->error && strncmp(m->error, "history: ", 9) == 0) {
		free(m->error);
		m->error = NULL;
	}
	if (m->error && strncmp(m->error, "Prometheus at ", 14) == 0) { /* it answered again */
		free(m->error);
		m->error = NULL;
	}
	pthread_mutex_unlock(&m->lock);
	free(herr);
	fleet_snapshot_free(s);
	char b = 1;
	ssize_t w = write(m->wake[1], &b, 1); /* full pipe: the UI is woken already */
	(void)w;
}

void monitor_feed(monitor *m, const poll_result *res, size_t n, const poll_cycle_info *info)
{
	publish(m, res, n, info);
}

/* A cycle Prometheus could not answer: the devices keep their state (and go stale). */
static void prom_failed(void *ctx, const char *message)
{
	monitor *m = ctx;
	pthread_mutex_lock(&m->lock);
	free(m->error);
	m->error = xstrdup(message);
	pthread_mutex_unlock(&m->lock);
	char b = 1;
	ssize_t w = write(m->wake[1], &b, 1);
	(void)w;
}

static void *thread_main(void *arg)
{
	monitor *m = arg;
	char *err = NULL;
	if ((m->ps ? promsrc_run(m->ps, publish, prom_failed, m, &err) : poller_run(m->p, publish, m, &err)) < 0) {
		pthread_mutex_lock(&m->lock);
		free(m->error);
		m->error = xasprintf("polling stopped: %s", err ? err : "error");
		pthread_mutex_unlock(&m->lock);
		char b = 1;
		ssize_t w = write(m->wake[1], &b, 1);
		(void)w;
	}
	free(err);
	return NULL;
}

static const struct {
	const char *field, *label;
} series[] = {
#define X(id, field, label) { field, label },
	MONITOR_SERIES_LIST(X)
#undef X
};

const char *monitor_series_label(monitor_series_id s)
{
	return (unsigned)s < MON_SERIES_COUNT ? series[s].label : "?";
}

void monitor_history_clear(monitor_history *h)
{
	free(h->host);
	free(h->error);
	memset(h, 0, sizeof *h);
}

/* Reads one answer (on the worker thread, with its own store handle). */
static void history_read(store **st, const char *path, const char *host, int64_t now, monitor_history *h)
{
	memset(h, 0, sizeof *h);
	h->host = xstrdup(host);
	h->asked_ms = now;
	h->ready = true;
	if (!path) {
		h->error = xstrdup("no history is kept (--no-history)");
		return;
	}
	char *err = NULL;
	if (!*st) {
		store_opts so;
		store_opts_default(&so);
		so.must_exist = true;
		*st = store_open_opts(path, &so, &err);
		if (!*st) {
			h->error = err ? err : xstrdup("cannot open the history");
			return;
		}
	}
	static const int64_t span[MON_RANGE_COUNT] = { 3600 * 1000LL, 86400 * 1000LL };
	for (int s = 0; s < MON_SERIES_COUNT; s++)
		for (int r = 0; r < MON_RANGE_COUNT; r++) {
			int64_t from = now - span[r], step = span[r] / MONITOR_SPARK_POINTS;
			store_point *pts = NULL;
			size_t n = 0;
			if (store_series(*st, host, series[s].field, from, now, MONITOR_SPARK_POINTS, &pts, &n, NULL, &err)) {
				free(h->error);
				h->error = err;
				err = NULL;
				continue;
			}
			bool any = false;
			double weight[MONITOR_SPARK_POINTS] = { 0 };
			for (size_t i = 0; i < n; i++) {
				if (!pts[i].have)
					continue;
				int64_t b = (pts[i].ts_ms - from) / step;
				if (b < 0 || b >= MONITOR_SPARK_POINTS)
					continue;
				/* points that share a bucket: their average, weighted by samples */
				double w = pts[i].count > 0 ? (double)pts[i].count : 1;
				h->v[s][r][b] = (h->v[s][r][b] * weight[b] + pts[i].avg * w) / (weight[b] + w);
				weight[b] += w;
				h->have[s][r][b] = true;
				h->samples[s][r] += (size_t)pts[i].count;
				if (!any || pts[i].min < h->min[s][r])
					h->min[s][r] = pts[i].min;
				if (!any || pts[i].max > h->max[s][r])
					h->max[s][r] = pts[i].max;
				any = true;
			}
			free(pts);
		}
	h->done_ms = now;
}

static void *history_main(void *arg)
{
	monitor *m = arg;
	store *st = NULL;
	pthread_mutex_lock(&m->lock);
	while (!m->hstop) {
		if (!m->hreq_host) {
			pthread_cond_wait(&m->hcond, &m->lock);
			continue;
		}
		char *host = m->hreq_host;
		int64_t ts = m->hreq_ms;
		m->hreq_host = NULL;
		pthread_mutex_unlock(&m->lock);
		monitor_history h;
		history_read(&st, m->db_path, host, ts, &h);
		free(host);
		pthread_mutex_lock(&m->lock);
		monitor_history_clear(&m->hist);
		m->hist = h;
		char b = 1;
		ssize_t w = write(m->wake[1], &b, 1);
		(void)w;
	}
	pthread_mutex_unlock(&m->lock);
	store_close(st);
	return NULL;
}

void monitor_history_request(monitor *m, const char *host, int64_t now_ms)
{
	/* the worker starts with the first question (called from one thread only: the UI's) */
	if (!m->hstarted && pthread_create(&m->hthread, NULL, history_main, m) == 0)
		m->hstarted = true;
	pthread_mutex_lock(&m->lock);
	free(m->hreq_host);
	m->hreq_host = xstrdup(host);
	m->hreq_ms = now_ms;
	pthread_cond_signal(&m->hcond);
	pthread_mutex_unlock(&m->lock);
}

bool monitor_history_get(monitor *m, const char *host, monitor_history *out)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&m->lock);
	bool ok = m->hist.host && strcmp(m->hist.host, host) == 0;
	if (ok) {
		*out = m->hist;
		out->host = xstrdup(m->hist.host);
		out->error = m->hist.error ? xstrdup(m->hist.error) : NULL;
	}
	pthread_mutex_unlock(&m->lock);
	return ok;
}

int monitor_start(monitor *m, char **err)
{
	if (m->started)
		return 0;
	int rc = pthread_create(&m->thread, NULL, thread_main, m);
	if (rc) {
		*err = xasprintf("cannot start the polling thread: %s", strerror(rc));
		return -1;
	}
	m->started = true;
	if (m->rw && rollwatch_start(m->rw, err))
		return -1;
	return 0;
}

rollwatch *monitor_rollwatch(monitor *m)
{
	return m->rw;
}

void monitor_free(monitor *m)
{
	if (!m)
		return;
	if (m->started) {
		if (m->ps)
			promsrc_stop(m->ps);
		else
			poller_stop(m->p);
		pthread_join(m->thread, NULL);
	}
	if (m->hstarted) {
		pthread_mutex_lock(&m->lock);
		m->hstop = true;
		pthread_cond_signal(&m->hcond);
		pthread_mutex_unlock(&m->lock);
		pthread_join(m->hthread, NULL);
	}
	rollwatch_free(m->rw);
	free(m->hreq_host);
	monitor_history_clear(&m->hist);
	free(m->db_path);
	pthread_cond_destroy(&m->hcond);
	poller_free(m->p);
	promsrc_free(m->ps);
	devmetrics_free(m->dm);
	driftwatch_free(m->dw);
	fleet_free(m->fl);
	store_close(m->st);
	for (size_t i = 0; i < m->ndevs; i++) {
		free(m->devs[i].host);
		free(m->devs[i].address);
	}
	free(m->devs);
	for (size_t i = 0; i < m->nwarnings; i++)
		free(m->warnings[i]);
	free(m->warnings);
	strmap_free(m->by_host);
	size_t it = 0;
	const char *k;
	void *v;
	while (strmap_next(m->alerts, &it, &k, &v))
		free(v);
	strmap_free(m->alerts);
	for (size_t i = 0; i < m->ev_count; i++)
		event_clear(&m->ev[(m->ev_head + i) % EVENT_RING]);
	for (int i = 0; i < 2; i++)
		if (m->wake[i] >= 0)
			close(m->wake[i]);
	free(m->error);
	free(m->who);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

size_t monitor_warning_count(const monitor *m)
{
	return m->nwarnings;
}

const char *monitor_warning(const monitor *m, size_t i)
{
	return i < m->nwarnings ? m->warnings[i] : NULL;
}

int monitor_wake_fd(const monitor *m)
{
	return m->wake[0];
}

void monitor_ack(monitor *m)
{
	char buf[256];
	while (read(m->wake[0], buf, sizeof buf) > 0)
		;
}

void monitor_poll_now(monitor *m)
{
	if (m->ps)
		promsrc_poke(m->ps);
	else
		poller_poke(m->p);
}

fleet_snapshot *monitor_snapshot(monitor *m, int64_t now_ms)
{
	return fleet_snapshot_take(m->fl, now_ms);
}

bool monitor_last_cycle(monitor *m, poll_cycle_info *info)
{
	pthread_mutex_lock(&m->lock);
	bool have = m->have_last;
	if (have)
		*info = m->last;
	pthread_mutex_unlock(&m->lock);
	return have;
}

char *monitor_error(monitor *m)
{
	pthread_mutex_lock(&m->lock);
	char *e = m->error ? xstrdup(m->error) : NULL;
	pthread_mutex_unlock(&m->lock);
	return e;
}

json_t *monitor_host_vars(monitor *m, const char *host)
{
	inv_host *h = inv_host_get(m->inv, host);
	return h ? inv_host_vars(m->inv, h) : NULL;
}

size_t monitor_events(monitor *m, const char *host, size_t max, monitor_event **out)
{
	*out = NULL;
	pthread_mutex_lock(&m->lock);
	size_t n = 0, cap = 0;
	for (size_t k = m->ev_count; k-- > 0 && n < max;) {
		const monitor_event *e = &m->ev[(m->ev_head + k) % EVENT_RING];
		if (host && strcmp(e->host, host) != 0)
			continue;
		*out = xgrow(*out, &cap, n + 1, sizeof **out);
		(*out)[n] = *e;
		(*out)[n].host = xstrdup(e->host);
		(*out)[n].text = e->text ? xstrdup(e->text) : NULL;
		n++;
	}
	pthread_mutex_unlock(&m->lock);
	return n;
}

void monitor_events_free(monitor_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		event_clear(&ev[i]);
	free(ev);
}

static char *format_cmd(const monitor *m, const struct cmd *c)
{
	const struct mdev *d = &m->devs[c->dev];
	char when[16] = "--:--:--";
	time_t t = (time_t)(c->ts_ms / 1000);
	struct tm tm;
	if (localtime_r(&t, &tm))
		strftime(when, sizeof when, "%H:%M:%S", &tm);
	int port = c->ep == POLL_EP_METRICS ? d->metrics_port : d->agent_port;
	bool v6 = strchr(d->address, ':') != NULL;
	char outcome[160];
	if (c->ok)
		snprintf(outcome, sizeof outcome, "%ld in %.1f ms", c->status, c->rtt_ms);
	else if (c->status)
		snprintf(outcome, sizeof outcome, "%ld (%s) in %.1f ms", c->status, dev_reason_text(c->reason), c->rtt_ms);
	else
		snprintf(outcome, sizeof outcome, "%s after %.1f ms", dev_reason_text(c->reason), c->rtt_ms);
	if (d->ssh) {
		/* the outcome first: the exact command that follows is long */
		if (c->ok)
			snprintf(outcome, sizeof outcome, "ok in %.1f ms", c->rtt_ms);
		char *what = m->p ? poller_describe(m->p, d->pindex, c->ep) : NULL;
		char *line = xasprintf("%s %s SSH %s %s%s: %s", when, d->host, poll_ep_path(c->ep), outcome,
				       c->attempts > 1 ? " (retried)" : "", what ? what : d->address);
		free(what);
		return line;
	}
	return xasprintf("%s %s GET http://%s%s%s:%d%s %s%s", when, d->host, v6 ? "[" : "", d->address, v6 ? "]" : "",
			 port, poll_ep_path(c->ep), outcome, c->attempts > 1 ? " (retried)" : "");
}

size_t monitor_cmdlog(monitor *m, const char *host, size_t max, char ***lines)
{
	*lines = NULL;
	size_t n = 0, cap = 0;
	pthread_mutex_lock(&m->lock);
	for (size_t k = m->cmd_count; k-- > 0 && n < max;) {
		const struct cmd *c = &m->cmd[(m->cmd_head + k) % CMD_RING];
		if (host && strcmp(m->devs[c->dev].host, host) != 0)
			continue;
		*lines = xgrow(*lines, &cap, n + 1, sizeof **lines);
		(*lines)[n++] = format_cmd(m, c);
	}
	pthread_mutex_unlock(&m->lock);
	return n;
}

void monitor_get_stats(monitor *m, monitor_stats *s)
{
	pthread_mutex_lock(&m->lock);
	*s = m->stats;
	pthread_mutex_unlock(&m->lock);
}
