/* history: a cycle of the fleet model into the store (samples, alerts fired and resolved). */
#include "fleet/history.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>

/* The device's report came with its last poll (not carried over from an older one). */
static bool fresh(const fleet_dev *d)
{
	return d->st.status && d->st_ms == d->ts_ms && d->ts_ms;
}

static int record_samples(store *st, const fleet_snapshot *s, int64_t start_ms, int64_t end_ms, const char *who,
			  char **err)
{
	if (store_cycle_begin(st, start_ms, who, err))
		return -1;
	for (size_t i = 0; i < s->ndevs; i++) {
		const fleet_dev *d = &s->devs[i];
		if (!d->ts_ms || d->ts_ms < start_ms)
			continue; /* never polled, or not in this cycle (backing off) */
		dev_sample smp = {
			.host = d->host,
			.factory = d->factory,
			.ts_ms = d->ts_ms,
			.last_seen_ms = d->last_seen_ms,
			.state = d->state,
			.reason = d->reason,
			.detail = d->detail,
			.rtt_ms = d->rtt_ms,
		};
		if (fresh(d))
			smp.st = d->st; /* borrowed: store_cycle_sample copies */
		if (store_cycle_sample(st, &smp, err)) {
			store_cycle_abort(st);
			return -1;
		}
	}
	return store_cycle_end(st, end_ms, err);
}

static int record_alerts(store *st, const fleet_snapshot *s, int64_t end_ms, char **err)
{
	for (size_t i = 0; i < s->nalerts; i++) {
		const fleet_alert *a = &s->alerts[i];
		if (store_alert_fire(st, a->host, fleet_rule_name(a->rule), fleet_severity_name(a->severity), a->message,
				     end_ms, err) < 0)
			return -1;
	}
	store_alert *act = NULL;
	size_t nact = 0;
	if (store_alerts_active(st, NULL, &act, &nact, err))
		return -1;
	strmap *firing = strmap_new(), *mine = strmap_new();
	char **keys = xcalloc(s->nalerts + 1, sizeof *keys);
	for (size_t i = 0; i < s->nalerts; i++) {
		keys[i] = xasprintf("%s\n%s", s->alerts[i].host, fleet_rule_name(s->alerts[i].rule));
		strmap_put(firing, keys[i], keys[i]);
	}
	for (size_t i = 0; i < s->ndevs; i++)
		strmap_put(mine, s->devs[i].host, s->devs[i].host);
	int rc = 0;
	for (size_t i = 0; i < nact && !rc; i++) {
		if (!strmap_get(mine, act[i].host) || fleet_rule_parse(act[i].rule) < 0)
			continue; /* another device, or another tool's alert */
		char *k = xasprintf("%s\n%s", act[i].host, act[i].rule);
		if (!strmap_get(firing, k) && store_alert_resolve(st, act[i].host, act[i].rule, end_ms, err) < 0)
			rc = -1;
		free(k);
	}
	for (size_t i = 0; i < s->nalerts; i++)
		free(keys[i]);
	free(keys);
	strmap_free(firing);
	strmap_free(mine);
	store_alerts_free(act, nact);
	return rc;
}

/* The drift comparisons of windows that came in this cycle, into drift_samples. */
static int record_drift(store *st, const fleet_snapshot *s, int64_t start_ms, int64_t end_ms, char **err)
{
	store_drift *rows = xcalloc(s->ndevs + 1, sizeof *rows);
	char **texts = xcalloc(s->ndevs + 1, sizeof *texts);
	size_t n = 0;
	for (size_t i = 0; i < s->ndevs; i++) {
		const fleet_drift *dr = &s->devs[i].drift;
		if (!dr->ts_ms || dr->ts_ms < start_ms || dr->error || !dr->nfeatures || !dr->baseline)
			continue;
		json_t *o = json_object();
		for (size_t k = 0; k < dr->nfeatures; k++)
			if (isfinite(dr->features[k].ks.statistic))
				json_object_set_new(o, dr->features[k].name, json_real(dr->features[k].ks.statistic));
		texts[n] = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(6));
		json_decref(o);
		rows[n] = (store_drift){ .host = s->devs[i].host,
					 .ts_ms = dr->ts_ms,
					 .baseline = dr->baseline,
					 .max_ks = dr->max_ks,
					 .severity = drift_severity_name(dr->severity),
					 .features = texts[n] ? texts[n] : "{}" };
		n++;
	}
	int rc = n ? store_drift_record(st, rows, n, end_ms, err) : 0;
	for (size_t i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	free(rows);
	return rc;
}

int fleet_history_record(store *st, const fleet_snapshot *s, int64_t start_ms, int64_t end_ms, const char *who,
			 char **err)
{
	if (record_samples(st, s, start_ms, end_ms, who, err) || record_alerts(st, s, end_ms, err) ||
	    record_drift(st, s, start_ms, end_ms, err))
		return -1;
	return store_maintain(st, end_ms, err) < 0 ? -1 : 0;
}
