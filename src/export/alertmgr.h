/* alertmgr: a report's alerts to Alertmanager (API v2: POST URL/api/v2/alerts,
 * a JSON array), and the alerts that fired on the previous run and no longer
 * do, sent once more with endsAt = now so Alertmanager resolves them.
 *
 * What was sent is kept in a small state file (JSON, replaced atomically; by
 * default beside the history database): each alert's labels, annotations and
 * startsAt, so a still-firing alert keeps the time it began and a resolved one
 * can be named again. When Alertmanager cannot be reached, the alerts that were
 * due to resolve stay in the state, to be resolved on the next run that gets
 * through. Nothing here prints. */
#ifndef FLEETDECK_EXPORT_ALERTMGR_H
#define FLEETDECK_EXPORT_ALERTMGR_H

#include "fleet/fleet.h"

#include <jansson.h>
#include <stdint.h>

typedef struct alertmgr_opts {
	const char *url;       /* base URL: http(s)://host:port[/prefix] */
	const char *state_path;
	int64_t ttl_ms;        /* endsAt of a firing alert: now + ttl (set above the report's interval) */
	int timeout_ms;        /* the whole request */
	const char *generator_url; /* NULL: none */
} alertmgr_opts;

typedef struct alertmgr_result {
	size_t firing, resolved; /* alerts sent as firing, and as resolved */
	char *warning;         /* owned; non-NULL: the state file was unreadable and was started afresh */
} alertmgr_result;

/* Whether url is one this module can post to (http:// or https://, a host). */
bool alertmgr_url_ok(const char *url);

/* The alertname label of a rule (DeviceUnreachable, GpuTemperatureHigh, ...). */
const char *alertmgr_alertname(fleet_rule r);

/* The payload for snapshot s at now_ms, given the previous state (NULL: none):
 * the firing alerts (startsAt kept from prev when the same labels were firing
 * there) and the previous ones of s's devices no longer firing (endsAt =
 * now). *state gets the state to keep if the post succeeds: the firing alerts,
 * and the previous ones of devices s does not hold (a report with another
 * --limit), unchanged. The first
 * *nfiring entries are the firing ones, the rest resolved. Pure. Both new
 * references. */
json_t *alertmgr_payload(const fleet_snapshot *s, const json_t *prev, const alertmgr_opts *o, int64_t now_ms,
			 json_t **state, size_t *nfiring);

/* Reads the state, posts the payload, writes the new state (on failure: the
 * firing alerts plus the ones still to resolve), all under an exclusive
 * flock() on STATE.lock, so runs at once take turns. 0, or -1 with *err (what
 * failed, Alertmanager's answer if it gave one). r is filled either way;
 * clear it with alertmgr_result_clear. */
int alertmgr_send(const fleet_snapshot *s, const alertmgr_opts *o, int64_t now_ms, alertmgr_result *r, char **err);
void alertmgr_result_clear(alertmgr_result *r);

#endif
