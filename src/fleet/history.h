/* history: one poll cycle of the fleet model into the SQLite history: every
 * polled device's sample, the alerts that fire, and the resolution of alerts of
 * these devices that no longer fire, and the drift comparisons of windows that
 * came in the cycle (drift_samples). Shared by --report and the console. */
#ifndef FLEETDECK_FLEET_HISTORY_H
#define FLEETDECK_FLEET_HISTORY_H

#include "fleet/fleet.h"
#include "store/store.h"

/* who: "report", "console", ... Runs store_maintain() afterwards. Returns 0, or
 * -1 with *err (caller frees). */
int fleet_history_record(store *st, const fleet_snapshot *s, int64_t start_ms, int64_t end_ms, const char *who,
			 char **err);

#endif
