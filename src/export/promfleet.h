/* promfleet: the fleet as Prometheus metrics (metric names fleetdeck_*, listed
 * in docs/guide.md): a snapshot's devices, states, alerts and factories, the
 * cycle that made it, and the rollouts of a history database. Shared by
 * `--report --format prometheus` and `serve-metrics`. Nothing here prints. */
#ifndef FLEETDECK_EXPORT_PROMFLEET_H
#define FLEETDECK_EXPORT_PROMFLEET_H

#include "fleet/fleet.h"
#include "metrics/expo.h"
#include "poll/poller.h"

#include <stdint.h>

struct rolldb;

typedef struct promfleet_info {
	const poll_cycle_info *cycle; /* the last cycle; NULL: none ended yet */
	size_t skipped;        /* selected hosts that could not be polled (bad variables) */
	uint64_t cycles;       /* cycles so far (serve-metrics); 0: not written */
} promfleet_info;

/* The fleet metrics of s into e. */
void promfleet_write(expo *e, const fleet_snapshot *s, const promfleet_info *info);

/* The rollout metrics of db into e (active rollouts, and the final ones
 * updated in the last 24 hours as of now_ms, with their devices per step).
 * Returns 0, or -1 with *err (nothing written then). */
int promfleet_rollouts(expo *e, struct rolldb *db, int64_t now_ms, char **err);

#endif
