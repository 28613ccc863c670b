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
	for (size_t i = 0; i < r->ndrift_feature; i++)
		free(r->drift_feature[i].feature);
	free(r->drift_feature);
	r->gpu = NULL;
	r->expected = NULL;
	r->drift_feature = NULL;
	r->ngpu = r->nexpected = r->ndrift_feature = 0;
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
	dst->drift_feature = src->ndrift_feature ? xcalloc(src->ndrift_feature, sizeof *dst->drift_feature) : NULL;
	for (size_t i = 0; i < src->ndrift_feature; i++) {
		dst->drift_feature[i].feature = xstrdup(src->drift_feature[i].feature);
		dst->drift_feature[i].ks = src->drift_feature[i].ks;
	}
}

void fleet_rules_set_drift_feature(fleet_rules *r, const char *feature, double ks)
{
	for (size_t i = 0; i < r->ndrift_feature; i++) {
		if (strcmp(r->drift_feature[i].feature, feature) == 0) {
			r->drift_feature[i].ks = ks;
			return;
		}
	}
	r->drift_feature = xrealloc(r->drift_feature, (r->ndrift_feature + 1) * sizeof *r->drift_feature);
	r->drift_feature[r->ndrift_feature++] = (fleet_drift_limit){ xstrdup(feature), ks };
}

void fleet_rules_drift_opts(const fleet_rules *r, drift_opts *o)
{
	memset(o, 0, sizeof *o);
	o->threshold = r->drift_ks > 0 ? r->drift_ks : DRIFT_DEFAULT_THRESHOLD;
	o->mode = r->drift_exact ? KS_MODE_AUTO : KS_MODE_ASYMP;
	if (!r->ndrift_feature)
		return;
	drift_threshold *t = xcalloc(r->ndrift_feature, sizeof *t);
	for (size_t i = 0; i < r->ndrift_feature; i++)
		t[i] = (drift_threshold){ r->drift_feature[i].feature, r->drift_feature[i].ks };
	o->per_feature = t;
	o->nper_feature = r->ndrift_feature;
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
	fleet_factory_drift *fdrift;
	size_t nfdrift;
};

/* ---- Drift results ---- */

void fleet_drift_clear(fleet_drift *d)
{
	if (!d)
		return;
	free(d->baseline);
	free(d->error);
	for (size_t i = 0; i < d->nfeatures; i++)
		free(d->features[i].name);
	free(d->features);
	memset(d, 0, sizeof *d);
}

void fleet_drift_copy(fleet_drift *dst, const fleet_drift *src)
{
	if (dst == src)
		return;
	fleet_drift_clear(dst);
	*dst = *src;
	dst->baseline = src->baseline ? xstrdup(src->baseline) : NULL;
	dst->error = src->error ? xstrdup(src->error) : NULL;
	dst->features = src->nfeatures ? xcalloc(src->nfeatures, sizeof *dst->features) : NULL;
	for (size_t i = 0; i < src->nfeatures; i++) {
		dst->features[i] = src->features[i];
		dst->features[i].name = xstrdup(src->features[i].name);
	}
}

static void fdrift_free(fleet_factory_drift *g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(g[i].factory);
		fleet_drift_clear(&g[i].drift);
	}
	free(g);
}

static fleet_factory_drift *fdrift_copy(const fleet_factory_drift *g, size_t n)
{
	fleet_factory_drift *c = n ? xcalloc(n, sizeof *c) : NULL;
	for (size_t i = 0; i < n; i++) {
		c[i].factory = g[i].factory ? xstrdup(g[i].factory) : NULL;
		c[i].devices = g[i].devices;
		fleet_drift_copy(&c[i].drift, &g[i].drift);
	}
	return c;
}

static int cmp_fdrift(const void *a, const void *b)
{
	const fleet_factory_drift *x = a, *y = b;
	if (!x->factory != !y->factory)
		return x->factory ? -1 : 1;
	int c = x->factory ? strcmp(x->factory, y->factory) : 0;
	if (c)
		return c;
	return strcmp(x->drift.baseline ? x->drift.baseline : "", y->drift.baseline ? y->drift.baseline : "");
}

static bool have_drift(const fleet_drift *d)
{
	return d->ts_ms && !d->error && d->nfeatures;
}

/* The device's report carries its drift's worst KS while it has one (a
 * report's own drift_ks, from another source, stays otherwise). */
static void drift_into_status(fleet_dev *d)
{
	if (have_drift(&d->drift)) {
		d->st.have |= DEV_HAVE_DRIFT;
		d->st.drift_ks = d->drift.max_ks;
	}
}

void fleet_set_drift(fleet *f, size_t dev, const fleet_drift *d)
{
	pthread_mutex_lock(&f->mu);
	if (dev < f->ndevs) {
		fleet_dev *fd = &f->devs[dev];
		bool had = have_drift(&fd->drift);
		fleet_drift_copy(&fd->drift, d);
		if (!d->ts_ms)
			fleet_drift_clear(&fd->drift);
		if (had && !have_drift(&fd->drift)) {
			fd->st.have &= ~(unsigned)DEV_HAVE_DRIFT;
			fd->st.drift_ks = 0;
		}
		drift_into_status(fd);
		f->version++;
	}
	pthread_mutex_unlock(&f->mu);
}

void fleet_set_factory_drift(fleet *f, const fleet_factory_drift *g, size_t n)
{
	fleet_factory_drift *c = fdrift_copy(g, n);
	if (n > 1)
		qsort(c, n, sizeof *c, cmp_fdrift);
	pthread_mutex_lock(&f->mu);
	fdrift_free(f->fdrift, f->nfdrift);
	f->fdrift = c;
	f->nfdrift = n;
	f->version++;
	pthread_mutex_unlock(&f->mu);
}

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
	fleet_drift_clear(&d->drift);
}

void fleet_free(fleet *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->ndevs; i++)
		dev_free(&f->devs[i]);
	free(f->devs);
	fdrift_free(f->fdrift, f->nfdrift);
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
			drift_into_status(d);
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
	memset(&dst->drift, 0, sizeof dst->drift);
	fleet_drift_copy(&dst->drift, &src->drift);
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
	s->factory_drift = fdrift_copy(f->fdrift, f->nfdrift);
	s->nfactory_drift = f->nfdrift;
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
	fdrift_free(s->factory_drift, s->nfactory_drift);
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

/* The device's last drift comparison (with the thresholds it was made with)
 * while the device answers: warning or critical as its worst feature. */
static void rule_drift(const struct rule_ctx *c, const fleet_dev *d, struct finding *out)
{
	const fleet_drift *dr = &d->drift;
	if (!fresh(d))
		return;
	if (!have_drift(dr)) {
		/* no comparison of ours: a KS the report itself carried, against drift_ks */
		if (!(d->st.have & DEV_HAVE_DRIFT) || !(d->st.drift_ks > c->r->drift_ks))
			return;
		out->severity = d->st.drift_ks >= 1.5 * c->r->drift_ks ? FLEET_CRITICAL : FLEET_WARNING;
		out->message = xasprintf("input drift: KS %.3f over %.3f", d->st.drift_ks, c->r->drift_ks);
		return;
	}
	if (dr->severity == DRIFT_NONE)
		return;
	out->severity = dr->severity == DRIFT_CRITICAL ? FLEET_CRITICAL : FLEET_WARNING;
	char buf[512] = "";
	size_t len = 0, shown = 0;
	for (size_t i = 0; i < dr->nfeatures && len < sizeof buf; i++) {
		const drift_feature *f = &dr->features[i];
		if (!f->drifted)
			continue;
		int w = snprintf(buf + len, sizeof buf - len, "%s%s KS %.3f > %.3f", shown ? ", " : "", f->name,
				 f->ks.statistic, f->threshold);
		if (w < 0)
			break;
		len += (size_t)w;
		shown++;
	}
	out->message = xasprintf("input drift against %s's baseline: %s", dr->baseline ? dr->baseline : "the",
				 buf);
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
