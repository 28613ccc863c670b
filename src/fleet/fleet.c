/* fleet: latest state per device, snapshots for readers, and the alert rules as a table. */
#include "fleet/fleet.h"
#include "util/xalloc.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name, *text;
} rule_names[] = {
#define X(id, name, text) { name, text },
	FLEET_RULE_LIST(X)
#undef X
};

const char *fleet_rule_name(fleet_rule r)
{
	return (unsigned)r < FLEET_RULE_COUNT ? rule_names[r].name : "?";
}

const char *fleet_rule_text(fleet_rule r)
{
	return (unsigned)r < FLEET_RULE_COUNT ? rule_names[r].text : "?";
}

int fleet_rule_parse(const char *name)
{
	for (int i = 0; i < FLEET_RULE_COUNT; i++)
		if (strcmp(rule_names[i].name, name) == 0)
			return i;
	return -1;
}

const char *fleet_severity_name(fleet_severity s)
{
	return s == FLEET_CRITICAL ? "critical" : "warning";
}

/* ---- Rules' settings ---- */

void fleet_rules_default(fleet_rules *r)
{
	memset(r, 0, sizeof *r);
	r->temp_warn = 80;
	r->temp_crit = 90;
	r->drift_ks = 0.1;
}

void fleet_rules_free(fleet_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->ngpu; i++)
		free(r->gpu[i].gpu_type);
	free(r->gpu);
	for (size_t i = 0; i < r->nexpected; i++) {
		free(r->expected[i].model);
		free(r->expected[i].version);
	}
	free(r->expected);
	r->gpu = NULL;
	r->expected = NULL;
	r->ngpu = r->nexpected = 0;
}

static char *dup0(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void fleet_rules_copy(fleet_rules *dst, const fleet_rules *src)
{
	if (dst == src)
		return;
	fleet_rules_free(dst);
	*dst = *src;
	dst->gpu = src->ngpu ? xcalloc(src->ngpu, sizeof *dst->gpu) : NULL;
	for (size_t i = 0; i < src->ngpu; i++) {
		dst->gpu[i] = src->gpu[i];
		dst->gpu[i].gpu_type = xstrdup(src->gpu[i].gpu_type);
	}
	dst->expected = src->nexpected ? xcalloc(src->nexpected, sizeof *dst->expected) : NULL;
	for (size_t i = 0; i < src->nexpected; i++) {
		dst->expected[i].model = dup0(src->expected[i].model);
		dst->expected[i].version = xstrdup(src->expected[i].version);
	}
}

void fleet_rules_set_gpu(fleet_rules *r, const char *gpu_type, double warn, double crit)
{
	for (size_t i = 0; i < r->ngpu; i++) {
		if (strcmp(r->gpu[i].gpu_type, gpu_type) == 0) {
			r->gpu[i].warn = warn;
			r->gpu[i].crit = crit;
			return;
		}
	}
	r->gpu = xrealloc(r->gpu, (r->ngpu + 1) * sizeof *r->gpu);
	r->gpu[r->ngpu++] = (fleet_gpu_limit){ xstrdup(gpu_type), warn, crit };
}

static bool same_model(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

void fleet_rules_set_expected(fleet_rules *r, const char *model, const char *version)
{
	for (size_t i = 0; i < r->nexpected; i++) {
		if (same_model(r->expected[i].model, model)) {
			free(r->expected[i].version);
			r->expected[i].version = xstrdup(version);
			return;
		}
	}
	r->expected = xrealloc(r->expected, (r->nexpected + 1) * sizeof *r->expected);
	r->expected[r->nexpected++] = (fleet_expected){ dup0(model), xstrdup(version) };
}

void fleet_rules_temp(const fleet_rules *r, const char *gpu_type, double *warn, double *crit)
{
	*warn = r->temp_warn;
	*crit = r->temp_crit;
	if (!gpu_type)
		return;
	for (size_t i = 0; i < r->ngpu; i++) {
		if (strcmp(r->gpu[i].gpu_type, gpu_type) == 0) {
			if (r->gpu[i].warn > 0)
				*warn = r->gpu[i].warn;
			if (r->gpu[i].crit > 0)
				*crit = r->gpu[i].crit;
			return;
		}
	}
}

/* ---- Versions ---- */

int fleet_version_cmp(const char *a, const char *b)
{
	if (*a == 'v' || *a == 'V')
		a++;
	if (*b == 'v' || *b == 'V')
		b++;
	while (*a || *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			while (*a == '0' && isdigit((unsigned char)a[1]))
				a++;
			while (*b == '0' && isdigit((unsigned char)b[1]))
				b++;
			size_t la = 0, lb = 0;
			while (isdigit((unsigned char)a[la]))
				la++;
			while (isdigit((unsigned char)b[lb]))
				lb++;
			if (la != lb)
				return la < lb ? -1 : 1;
			int c = strncmp(a, b, la);
			if (c)
				return c;
			a += la;
			b += lb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	return 0;
}

/* ---- The model ---- */

struct fleet {
	pthread_mutex_t mu;
	fleet_rules rules;
	fleet_dev *devs;
	size_t ndevs, cap;
	uint64_t version;
};

fleet *fleet_new(const fleet_rules *rules)
{
	fleet *f = xcalloc(1, sizeof *f);
	pthread_mutex_init(&f->mu, NULL);
	if (rules)
		fleet_rules_copy(&f->rules, rules);
	else
		fleet_rules_default(&f->rules);
	return f;
}

static void fetch_free(poll_fetch *f)
{
	free(f->error);
	f->error = NULL;
}

static void dev_free(fleet_dev *d)
{
	free(d->host);
	free(d->factory);
	free(d->gpu_type);
	free(d->detail);
	dev_status_clear(&d->st);
	for (int e = 0; e < POLL_EP_COUNT; e++)
		fetch_free(&d->fetch[e]);
}

void fleet_free(fleet *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->ndevs; i++)
		dev_free(&f->devs[i]);
	free(f->devs);
	fleet_rules_free(&f->rules);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

void fleet_set_rules(fleet *f, const fleet_rules *rules)
{
	pthread_mutex_lock(&f->mu);
	fleet_rules_copy(&f->rules, rules);
	pthread_mutex_unlock(&f->mu);
}

size_t fleet_add(fleet *f, const char *host, const char *factory, const char *gpu_type)
{
	pthread_mutex_lock(&f->mu);
	if (f->ndevs == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->devs = xrealloc(f->devs, f->cap * sizeof *f->devs);
	}
	fleet_dev *d = &f->devs[f->ndevs];
	memset(d, 0, sizeof *d);
	d->host = xstrdup(host);
	d->factory = dup0(factory);
	d->gpu_type = dup0(gpu_type);
	d->state = DEV_PENDING;
	d->rtt_ms = -1;
	size_t i = f->ndevs++;
	pthread_mutex_unlock(&f->mu);
	return i;
}

size_t fleet_count(fleet *f)
{
	pthread_mutex_lock(&f->mu);
	size_t n = f->ndevs;
	pthread_mutex_unlock(&f->mu);
	return n;
}

const char *fleet_factory_of(inventory *inv, inv_host *h, const json_t *vars)
{
	const char *v = json_string_value(json_object_get(vars, "fleetdeck_factory_group"));
	if (v && *v)
		return v;
	size_t n;
	inv_group **g = inv_host_groups_sorted(inv, h, &n);
	const char *best = NULL;
	/* sorted by depth, priority, name: the deepest is last */
	for (size_t i = n; i-- > 0;) {
		if (strcmp(g[i]->name, "ungrouped") && strcmp(g[i]->name, "all")) {
			best = g[i]->name;
			break;
		}
	}
	free(g);
	return best;
}

static void fetch_copy(poll_fetch *dst, const poll_fetch *src)
{
	free(dst->error);
	*dst = *src;
	dst->error = dup0(src->error);
}

void fleet_apply(fleet *f, const poll_result *res, size_t n)
{
	pthread_mutex_lock(&f->mu);
	for (size_t k = 0; k < n; k++) {
		const poll_result *r = &res[k];
		if (r->index >= f->ndevs)
			continue;
		fleet_dev *d = &f->devs[r->index];
		d->failures = r->failures;
		d->next_poll_ms = r->next_poll_ms;
		if (!r->polled)
			continue;
		d->ts_ms = r->ts_ms;
		d->state = r->state;
		d->reason = r->reason;
		free(d->detail);
		d->detail = dup0(r->detail);
		d->rtt_ms = r->rtt_ms;
		if (r->fetch[POLL_EP_STATUS].ok && r->st.status) {
			dev_status_copy(&d->st, &r->st);
			d->st_ms = r->ts_ms;
			d->last_seen_ms = r->ts_ms;
			if (!d->gpu_type && r->st.gpu_type)
				d->gpu_type = xstrdup(r->st.gpu_type);
		}
		for (int e = 0; e < POLL_EP_COUNT; e++) {
			if (!r->fetch[e].attempted)
				continue;
			fetch_copy(&d->fetch[e], &r->fetch[e]);
			d->fetch_ms[e] = r->ts_ms;
		}
	}
	f->version++;
	pthread_mutex_unlock(&f->mu);
}

static void dev_copy(fleet_dev *dst, const fleet_dev *src)
{
	*dst = *src;
	dst->host = xstrdup(src->host);
	dst->factory = dup0(src->factory);
	dst->gpu_type = dup0(src->gpu_type);
	dst->detail = dup0(src->detail);
	memset(&dst->st, 0, sizeof dst->st);
	dev_status_copy(&dst->st, &src->st);
	for (int e = 0; e < POLL_EP_COUNT; e++)
		dst->fetch[e].error = dup0(src->fetch[e].error);
}

fleet_snapshot *fleet_snapshot_take(fleet *f, int64_t now_ms)
{
	fleet_snapshot *s = xcalloc(1, sizeof *s);
	s->ts_ms = now_ms;
	pthread_mutex_lock(&f->mu);
	s->version = f->version;
	s->ndevs = f->ndevs;
	s->devs = f->ndevs ? xcalloc(f->ndevs, sizeof *s->devs) : NULL;
	for (size_t i = 0; i < f->ndevs; i++)
		dev_copy(&s->devs[i], &f->devs[i]);
	fleet_rules rules = { 0 };
	fleet_rules_copy(&rules, &f->rules);
	pthread_mutex_unlock(&f->mu);
	fleet_evaluate(s, &rules);
	fleet_rules_free(&rules);
	return s;
}

void fleet_snapshot_free(fleet_snapshot *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ndevs; i++)
		dev_free(&s->devs[i]);
	free(s->devs);
	for (size_t i = 0; i < s->nalerts; i++)
		free(s->alerts[i].message);
	free(s->alerts);
	for (size_t i = 0; i < s->nexpected; i++) {
		free(s->expected[i].model);
		free(s->expected[i].version);
	}
	free(s->expected);
	free(s);
}

/* ---- The rules ---- */

struct rule_ctx {
	const fleet_snapshot *s;
	const fleet_rules *r;
};

/* What a rule found: severity 0 is no alert. */
struct finding {
	fleet_severity severity;
	char *message;
};

/* Whether the device's report is from its last poll (older values are shown with
 * their age, but no rule judges them). */
static bool fresh(const fleet_dev *d)
{
	return d->st.status && d->st_ms == d->ts_ms && d->ts_ms;
}

static const char *reason_detail(const fleet_dev *d)
{
	return d->detail ? d->detail : dev_reason_text(d->reason);
}

static void rule_unreachable(const struct rule_ctx *c, const fleet_dev *d, struct finding *out)
{
	(void)c;
	if (d->state != DEV_UNREACHABLE)
		return;
	out->severity = FLEET_CRITICAL;
	out->message = xasprintf("%s (%s)", dev_reason_text(d->reason), reason_detail(d));
}

static void rule_health(const struct rule_ctx *c, const fleet_dev *d, struct finding *out)
{
	(void)c;
	if (d->state != DEV_UNHEALTHY && d->state != DEV_DEGRADED)
		return;
	out->severity = d->state == DEV_UNHEALTHY ? FLEET_CRITICAL : FLEET_WARNING;
	out->message = xasprintf("%s: %s (%s)", dev_state_name(d->state), dev_reason_text(d->reason), reason_detail(d));
}

static void rule_stale(const struct rule_ctx *c, const fleet_dev *d, struct finding *out)
{
	(void)c;
	if (d->state != DEV_STALE)
		return;
	out->severity = FLEET_WARNING;
	if (d->ts_ms)
		out->message = xasprintf("stale: last polled %.0f s ago", (double)(c->s->ts_ms - d->ts_ms) / 1000.0);
	else
		out->message = xstrdup("stale: never polled");
}

static void rule_gpu_temp(const struct rule_ctx *c, const fleet_dev *d, struct finding *out)
{
	if (!fresh(d) || !(d->st.have & DEV_HAVE_GPU_TEMP))
		return;
	double warn, crit;
	fleet_rules_temp(c->r, d->gpu_type, &warn, &crit);
	double t = d->st.gpu_temp;
	if (t >= crit)
		out->severity = FLEET_CRITICAL;
	else if (t >= warn)
		out->severity = FLEET_WARNING;
	else
		return;
	out->message = xasprintf("GPU temperature %.1f °C is at or over the %s limit of %.0f °C%s%s%s", t,
				 out->severity == FLEET_CRITICAL ? "critical" : "warning",
				 out->severity == FLEET_CRITICAL ? crit : warn, d->gpu_type ? " (" : "",
				 d->gpu_type ? d->gpu_type : "", d->gpu_type ? ")" : "");
}

static const fleet_expected *expected_for(const fleet_snapshot *s, const char *model)
{
	for (size_t i = 0; i < s->nexpected; i++)
		if (same_model(s->expected[i].model, model))
			return &s->expected[i];
	return NULL;
}

static void rule_version_skew(const struct rule_ctx *c, const fleet_dev *d, struct finding *out)
{
	if (!fresh(d) || !d->st.model_version)
		return;
	const fleet_expected *e = expected_for(c->s, d->st.model_name);
	if (!e || strcmp(e->version, d->st.model_version) == 0)
		return;
	out->severity = FLEET_WARNING;
	out->message = xasprintf("model %s is at version %s, the fleet's is %s", d->st.model_name ? d->st.model_name : "?",
				 d->st.model_version, e->version);
}

static void rule_drift(const struct rule_ctx *c, const fleet_dev *d, struct finding *out)
{
	if (!fresh(d) || !(d->st.have & DEV_HAVE_DRIFT) || !(d->st.drift_ks > c->r->drift_ks))
		return;
	out->severity = d->st.drift_ks >= 1.5 * c->r->drift_ks ? FLEET_CRITICAL : FLEET_WARNING;
	out->message = xasprintf("input drift: KS %.3f over %.3f", d->st.drift_ks, c->r->drift_ks);
}

static const struct rule_ops {
	fleet_rule rule;
	void (*eval)(const struct rule_ctx *c, const fleet_dev *d, struct finding *out);
} rule_table[] = {
	{ FLEET_RULE_UNREACHABLE, rule_unreachable },
	{ FLEET_RULE_HEALTH, rule_health },
	{ FLEET_RULE_STALE, rule_stale },
	{ FLEET_RULE_GPU_TEMP, rule_gpu_temp },
	{ FLEET_RULE_VERSION_SKEW, rule_version_skew },
	{ FLEET_RULE_DRIFT, rule_drift },
};

struct mv {
	const char *model, *version;
};

static int cmp_mv(const void *a, const void *b)
{
	const struct mv *x = a, *y = b;
	int c = strcmp(x->model ? x->model : "", y->model ? y->model : "");
	return c ? c : strcmp(x->version, y->version);
}

static const char *configured_version(const fleet_rules *r, const char *model)
{
	for (size_t k = 0; k < r->nexpected; k++)
		if (r->expected[k].model && model && strcmp(r->expected[k].model, model) == 0)
			return r->expected[k].version;
	for (size_t k = 0; k < r->nexpected; k++)
		if (!r->expected[k].model)
			return r->expected[k].version;
	return NULL;
}

/* Each model's expected version: configured (for the model, else for all), else
 * the version most of its fresh devices run (a tie goes to the newest). Sorted
 * (model, version) pairs, counted in runs: n log n for large fleets. */
static void expected_versions(fleet_snapshot *s, const fleet_rules *r)
{
	struct mv *v = xcalloc(s->ndevs + 1, sizeof *v);
	size_t n = 0;
	for (size_t i = 0; i < s->ndevs; i++)
		if (fresh(&s->devs[i]) && s->devs[i].st.model_version)
			v[n++] = (struct mv){ s->devs[i].st.model_name, s->devs[i].st.model_version };
	qsort(v, n, sizeof *v, cmp_mv);
	for (size_t i = 0; i < n;) {
		const char *model = v[i].model, *best = NULL;
		size_t best_n = 0, j = i;
		while (j < n && same_model(v[j].model, model)) {
			size_t k = j;
			while (k < n && same_model(v[k].model, model) && strcmp(v[k].version, v[j].version) == 0)
				k++;
			if (k - j > best_n || (k - j == best_n && fleet_version_cmp(v[j].version, best) > 0)) {
				best_n = k - j;
				best = v[j].version;
			}
			j = k;
		}
		const char *conf = configured_version(r, model);
		s->expected = xrealloc(s->expected, (s->nexpected + 1) * sizeof *s->expected);
		s->expected[s->nexpected++] = (fleet_expected){ dup0(model), xstrdup(conf ? conf : best) };
		i = j;
	}
	free(v);
}

void fleet_evaluate(fleet_snapshot *s, const fleet_rules *r)
{
	memset(s->count, 0, sizeof s->count);
	s->nwarning = s->ncritical = 0;
	for (size_t i = 0; i < s->ndevs; i++) {
		fleet_dev *d = &s->devs[i];
		bool backing_off = d->next_poll_ms > s->ts_ms;
		if (r->stale_ms > 0 && d->state != DEV_PENDING && !backing_off && d->ts_ms &&
		    s->ts_ms - d->ts_ms > r->stale_ms) {
			d->state = DEV_STALE;
			d->reason = DEV_REASON_NOT_POLLED;
		}
		s->count[d->state]++;
	}
	expected_versions(s, r);
	struct rule_ctx c = { s, r };
	for (size_t i = 0; i < s->ndevs; i++) {
		for (size_t k = 0; k < sizeof rule_table / sizeof *rule_table; k++) {
			if (r->disabled[rule_table[k].rule])
				continue;
			struct finding fd = { 0 };
			rule_table[k].eval(&c, &s->devs[i], &fd);
			if (!fd.severity)
				continue;
			s->alerts = xrealloc(s->alerts, (s->nalerts + 1) * sizeof *s->alerts);
			s->alerts[s->nalerts++] = (fleet_alert){ i, s->devs[i].host, rule_table[k].rule, fd.severity,
								 fd.message };
			if (fd.severity == FLEET_CRITICAL)
				s->ncritical++;
			else
				s->nwarning++;
		}
	}
}
