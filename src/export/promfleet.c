/* promfleet: the fleet, its cycle and its rollouts as fleetdeck_* metrics (promfleet.h). */
#include "export/promfleet.h"
#include "rollout/rolldb.h"
#include "rollout/rollstate.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A value from the last poll (as the report prints them): an older one is not current. */
static bool fresh(const fleet_dev *d)
{
	return d->st.status && d->st_ms == d->ts_ms && d->ts_ms;
}

/* Labels of a device's series: device and factory (left out when it has none). */
#define DEV_LABELS(d) "device", (d)->host, "factory", (d)->factory

static void fleet_counts(expo *e, const fleet_snapshot *s)
{
	expo_family(e, "fleetdeck_devices", "gauge", "Devices in the fleet by state.");
	for (int st = 0; st < DEV_STATE_COUNT; st++)
		expo_sample(e, (const char *const[]){ "state", dev_state_name((dev_state)st), NULL },
			    (double)s->count[st]);
	expo_family(e, "fleetdeck_alerts", "gauge", "Alerts firing by severity.");
	expo_sample(e, (const char *const[]){ "severity", fleet_severity_name(FLEET_CRITICAL), NULL },
		    (double)s->ncritical);
	expo_sample(e, (const char *const[]){ "severity", fleet_severity_name(FLEET_WARNING), NULL },
		    (double)s->nwarning);
}

/* Per factory (devices without one under factory=""): devices by state. */
static void factory_counts(expo *e, const fleet_snapshot *s)
{
	strmap *idx = strmap_new();
	const char **names = xcalloc(s->ndevs + 1, sizeof *names);
	size_t (*count)[DEV_STATE_COUNT] = xcalloc(s->ndevs + 1, sizeof *count);
	size_t nf = 0;
	for (size_t i = 0; i < s->ndevs; i++) {
		const char *f = s->devs[i].factory ? s->devs[i].factory : "";
		size_t *slot = strmap_get(idx, f);
		size_t k;
		if (slot) {
			k = (size_t)(slot - &count[0][0]) / DEV_STATE_COUNT;
		} else {
			k = nf++;
			names[k] = f;
			strmap_put(idx, f, &count[k][0]);
		}
		count[k][s->devs[i].state]++;
	}
	expo_family(e, "fleetdeck_factory_devices", "gauge", "Devices of each factory by state.");
	for (size_t k = 0; k < nf; k++)
		for (int st = 0; st < DEV_STATE_COUNT; st++)
			expo_sample(e,
				    (const char *const[]){ "factory", names[k], "state", dev_state_name((dev_state)st),
							   NULL },
				    (double)count[k][st]);
	strmap_free(idx);
	free(names);
	free(count);
}

static void device_states(expo *e, const fleet_snapshot *s)
{
	expo_family(e, "fleetdeck_device_state", "gauge",
		    "The device's state, one series per state: 1 for the one it is in, 0 for the others.");
	for (size_t i = 0; i < s->ndevs; i++)
		for (int st = 0; st < DEV_STATE_COUNT; st++)
			expo_sample(e,
				    (const char *const[]){ DEV_LABELS(&s->devs[i]), "state",
							   dev_state_name((dev_state)st), NULL },
				    s->devs[i].state == (dev_state)st);
	expo_family(e, "fleetdeck_device_up", "gauge", "1 if the device answered its last poll, else 0.");
	for (size_t i = 0; i < s->ndevs; i++)
		expo_sample(e, (const char *const[]){ DEV_LABELS(&s->devs[i]), NULL }, fresh(&s->devs[i]));
}

/* A gauge per device, for the devices whose value is known (no fake zeros). */
typedef bool (*dev_value_fn)(const fleet_dev *d, double *v);

static void device_gauge(expo *e, const fleet_snapshot *s, const char *name, const char *help, dev_value_fn get)
{
	expo_family(e, name, "gauge", help);
	double v;
	for (size_t i = 0; i < s->ndevs; i++)
		if (get(&s->devs[i], &v))
			expo_sample(e, (const char *const[]){ DEV_LABELS(&s->devs[i]), NULL }, v);
}

static bool get_temp(const fleet_dev *d, double *v)
{
	*v = d->st.gpu_temp;
	return fresh(d) && (d->st.have & DEV_HAVE_GPU_TEMP);
}

static bool get_last_seen(const fleet_dev *d, double *v)
{
	*v = (double)d->last_seen_ms / 1000.0;
	return d->last_seen_ms > 0;
}

static bool get_p95(const fleet_dev *d, double *v)
{
	*v = d->st.latency_p95_ms / 1000.0;
	return fresh(d) && (d->st.have & DEV_HAVE_LATENCY_P95);
}

static bool get_errors(const fleet_dev *d, double *v)
{
	*v = d->st.error_rate;
	return fresh(d) && (d->st.have & DEV_HAVE_ERROR_RATE);
}

static bool get_uptime(const fleet_dev *d, double *v)
{
	*v = d->st.uptime_hours * 3600.0;
	return fresh(d) && (d->st.have & DEV_HAVE_UPTIME);
}

static bool get_rtt(const fleet_dev *d, double *v)
{
	*v = d->rtt_ms / 1000.0;
	return d->ts_ms && d->rtt_ms >= 0;
}

static void device_models(expo *e, const fleet_snapshot *s)
{
	expo_family(e, "fleetdeck_device_model_info", "gauge",
		    "The model the device reports running: always 1, the model and its version in labels.");
	for (size_t i = 0; i < s->ndevs; i++) {
		const fleet_dev *d = &s->devs[i];
		if (fresh(d) && d->st.model_version)
			expo_sample(e,
				    (const char *const[]){ DEV_LABELS(d), "model", d->st.model_name, "version",
							   d->st.model_version, NULL },
				    1);
	}
}

static fleet_severity drift_severity(const fleet_snapshot *s, size_t dev)
{
	fleet_severity worst = 0;
	for (size_t k = 0; k < s->nalerts; k++)
		if (s->alerts[k].dev == dev && s->alerts[k].rule == FLEET_RULE_DRIFT && s->alerts[k].severity > worst)
			worst = s->alerts[k].severity;
	return worst;
}

/* The drift hook: for the devices with a drift reading (DEV_HAVE_DRIFT, the
 * worst feature's KS statistic in st.drift_ks), that statistic and the drift
 * rule's verdict (0 none, 1 warning, 2 critical). Devices without a reading
 * get no series: no drift measured is not the same as no drift. */
static void device_drift(expo *e, const fleet_snapshot *s)
{
	bool any = false;
	for (size_t i = 0; i < s->ndevs && !any; i++)
		any = fresh(&s->devs[i]) && (s->devs[i].st.have & DEV_HAVE_DRIFT);
	if (!any)
		return;
	expo_family(e, "fleetdeck_device_drift_ks", "gauge",
		    "Input drift: the largest two-sample KS statistic over the device's features.");
	for (size_t i = 0; i < s->ndevs; i++)
		if (fresh(&s->devs[i]) && (s->devs[i].st.have & DEV_HAVE_DRIFT))
			expo_sample(e, (const char *const[]){ DEV_LABELS(&s->devs[i]), NULL }, s->devs[i].st.drift_ks);
	expo_family(e, "fleetdeck_device_drift_severity", "gauge",
		    "Input drift verdict: 0 none, 1 warning, 2 critical.");
	for (size_t i = 0; i < s->ndevs; i++)
		if (fresh(&s->devs[i]) && (s->devs[i].st.have & DEV_HAVE_DRIFT))
			expo_sample(e, (const char *const[]){ DEV_LABELS(&s->devs[i]), NULL }, drift_severity(s, i));
}

static void device_alerts(expo *e, const fleet_snapshot *s)
{
	expo_family(e, "fleetdeck_alert", "gauge", "An alert firing on a device: always 1, the rule and severity in labels.");
	for (size_t k = 0; k < s->nalerts; k++) {
		const fleet_alert *a = &s->alerts[k];
		expo_sample(e,
			    (const char *const[]){ DEV_LABELS(&s->devs[a->dev]), "rule", fleet_rule_name(a->rule),
						   "severity", fleet_severity_name(a->severity), NULL },
			    1);
	}
}

static void cycle_metrics(expo *e, const promfleet_info *info)
{
	if (info && info->cycles) {
		expo_family(e, "fleetdeck_cycles_total", "counter", "Poll cycles run since the exporter started.");
		expo_sample(e, NULL, (double)info->cycles);
	}
	if (info && info->skipped) {
		expo_family(e, "fleetdeck_devices_not_polled", "gauge",
			    "Selected hosts that could not be polled (bad inventory variables).");
		expo_sample(e, NULL, (double)info->skipped);
	}
	if (!info || !info->cycle)
		return;
	expo_family(e, "fleetdeck_cycle_duration_seconds", "gauge", "How long the last poll cycle took.");
	expo_sample(e, NULL, info->cycle->duration_ms / 1000.0);
	expo_family(e, "fleetdeck_cycle_end_timestamp_seconds", "gauge", "When the last poll cycle ended (Unix time).");
	expo_sample(e, NULL, (double)info->cycle->end_ms / 1000.0);
	expo_family(e, "fleetdeck_cycle_requests", "gauge", "Requests the last poll cycle sent.");
	expo_sample(e, NULL, (double)info->cycle->requests);
}

void promfleet_write(expo *e, const fleet_snapshot *s, const promfleet_info *info)
{
	fleet_counts(e, s);
	factory_counts(e, s);
	device_states(e, s);
	device_gauge(e, s, "fleetdeck_device_gpu_temperature_celsius", "GPU temperature the device reported.",
		     get_temp);
	device_models(e, s);
	device_gauge(e, s, "fleetdeck_device_last_seen_timestamp_seconds",
		     "When the device last answered /status (Unix time).", get_last_seen);
	device_gauge(e, s, "fleetdeck_device_latency_p95_seconds",
		     "Inference latency, 95th percentile, as the device reports it or between two scrapes.",
		     get_p95);
	device_gauge(e, s, "fleetdeck_device_error_ratio", "Share of inference requests that failed (0 to 1).",
		     get_errors);
	device_gauge(e, s, "fleetdeck_device_uptime_seconds", "The device's uptime.", get_uptime);
	device_gauge(e, s, "fleetdeck_device_poll_duration_seconds", "How long the device's last /status took.",
		     get_rtt);
	device_drift(e, s);
	device_alerts(e, s);
	cycle_metrics(e, info);
}

/* ---- rollouts ---- */

static const char *const steps[] = { DS_PENDING, DS_HEALTH,  DS_RECORD,	  DS_UPDATE,	  DS_WAIT,
				     DS_VALIDATE, DS_ROLLBACK, DS_REVERT,   DS_UPDATED, DS_CURRENT,
				     DS_FAILED,	 DS_UNREACHABLE, DS_REVERTED, NULL };
static const char *const states[] = { RS_RUNNING,   RS_PAUSED, RS_AWAITING, RS_ABORTING,    RS_ROLLING_BACK,
				      RS_COMPLETED, RS_FAILED, RS_ABORTED,  RS_ROLLED_BACK, NULL };

enum { RECENT_MS = 24 * 3600 * 1000 };

int promfleet_rollouts(expo *e, struct rolldb *db, int64_t now_ms, char **err)
{
	roll_row *rows = NULL;
	size_t n = 0;
	if (rolldb_list(db, &rows, &n, err))
		return -1;
	roll_dev **devs = xcalloc(n + 1, sizeof *devs);
	size_t *ndevs = xcalloc(n + 1, sizeof *ndevs);
	bool *shown = xcalloc(n + 1, sizeof *shown);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		bool final = roll_state_in(rows[i].state, roll_states_final);
		shown[i] = !final || now_ms - rows[i].updated_at < RECENT_MS;
		if (shown[i])
			rc = rolldb_devices(db, rows[i].id, &devs[i], &ndevs[i], err);
	}
	if (rc == 0) {
		size_t active = 0;
		for (size_t i = 0; i < n; i++)
			active += !roll_state_in(rows[i].state, roll_states_final);
		expo_family(e, "fleetdeck_rollouts_active", "gauge", "Rollouts not yet in a final state.");
		expo_sample(e, NULL, (double)active);
		expo_family(e, "fleetdeck_rollouts", "gauge", "Rollouts in the history database by state.");
		for (size_t k = 0; states[k]; k++) {
			size_t c = 0;
			for (size_t i = 0; i < n; i++)
				c += !strcmp(rows[i].state, states[k]);
			expo_sample(e, (const char *const[]){ "state", states[k], NULL }, (double)c);
		}
		char id[32];
		expo_family(e, "fleetdeck_rollout_info", "gauge",
			    "A rollout (active, or final within the last day): always 1, its model, version and state in labels.");
		for (size_t i = 0; i < n; i++) {
			if (!shown[i])
				continue;
			snprintf(id, sizeof id, "%lld", (long long)rows[i].id);
			expo_sample(e,
				    (const char *const[]){ "rollout", id, "model", rows[i].model, "version",
							   rows[i].version, "state", rows[i].state, NULL },
				    1);
		}
		expo_family(e, "fleetdeck_rollout_devices", "gauge", "Devices of a rollout by step.");
		for (size_t i = 0; i < n; i++) {
			if (!shown[i])
				continue;
			snprintf(id, sizeof id, "%lld", (long long)rows[i].id);
			for (size_t k = 0; steps[k]; k++) {
				size_t c = 0;
				for (size_t j = 0; j < ndevs[i]; j++)
					c += !strcmp(devs[i][j].step, steps[k]);
				expo_sample(e, (const char *const[]){ "rollout", id, "step", steps[k], NULL }, (double)c);
			}
		}
		/* done and failed, the two figures a dashboard shows */
		static const struct {
			const char *name, *help;
			const char *const steps[3];
		} sums[] = {
			{ "fleetdeck_rollout_devices_done", "Devices of a rollout on the new version (updated or already current).",
			  { DS_UPDATED, DS_CURRENT, NULL } },
			{ "fleetdeck_rollout_devices_failed", "Devices of a rollout that failed or could not be reached.",
			  { DS_FAILED, DS_UNREACHABLE, NULL } },
		};
		for (size_t m = 0; m < sizeof sums / sizeof *sums; m++) {
			expo_family(e, sums[m].name, "gauge", sums[m].help);
			for (size_t i = 0; i < n; i++) {
				if (!shown[i])
					continue;
				snprintf(id, sizeof id, "%lld", (long long)rows[i].id);
				size_t c = 0;
				for (size_t j = 0; j < ndevs[i]; j++)
					for (size_t k = 0; sums[m].steps[k]; k++)
						c += !strcmp(devs[i][j].step, sums[m].steps[k]);
				expo_sample(e, (const char *const[]){ "rollout", id, NULL }, (double)c);
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		roll_devs_free(devs[i], ndevs[i]);
	free(devs);
	free(ndevs);
	free(shown);
	roll_rows_free(rows, n);
	return rc;
}
