/* plan: a rollout's batches, formed exactly as Ansible's `serial` forms a
 * play's batches (ansible-core's PlaybookExecutor._get_serialized_batches and
 * pct_to_int), and the gate Ansible's `max_fail_percentage` puts after each
 * batch. Pure: no I/O, no clock. */
#ifndef FLEETDECK_ROLLOUT_PLAN_H
#define FLEETDECK_ROLLOUT_PLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* One entry of a serial list: a count of hosts, or a percentage of all the
 * play's hosts (not of those left), as Ansible reads "10%". */
typedef struct serial_item {
	bool percent;
	long value;   /* a count (0 or less: all the hosts left, in one batch), or a percentage */
} serial_item;

typedef struct serial_spec {
	serial_item *items; /* owned; empty: one batch of every host */
	size_t n;
} serial_spec;

/* Parses "3", "10%", "1,5,10%" (the last entry repeats), or "" / "all" (no
 * serial: one batch). Entries take Python int()'s syntax, as Ansible's do
 * (blanks around, a sign, underscores between digits); "12.5%" is refused, as
 * Ansible refuses it. Returns 0, or -1 with *err (caller frees). */
int serial_parse(const char *text, serial_spec *out, char **err);
/* The same from a JSON value as a playbook would hold it: a number, a string,
 * or a list of them. */
int serial_from_json(const json_t *v, serial_spec *out, char **err);
void serial_free(serial_spec *s);
/* "1,5,10%" (canonical); caller frees. */
char *serial_format(const serial_spec *s);
json_t *serial_to_json(const serial_spec *s);

/* The sizes of the batches that nhosts hosts form, in order: *sizes (caller
 * frees) has *nbatches entries summing to nhosts; no batch is empty; zero
 * hosts give zero batches. */
void serial_batches(const serial_spec *s, size_t nhosts, size_t **sizes, size_t *nbatches);

/* Rollout strategies (the write-up's FleetManager) as serial specs:
 * rolling: batches of batch_size; canary: 5% first (at least one device), then
 * batches of batch_size; all-at-once: one batch. */
typedef enum { STRATEGY_ROLLING, STRATEGY_CANARY, STRATEGY_ALL_AT_ONCE } rollout_strategy;
int rollout_strategy_parse(const char *name); /* -1 if unknown */
const char *rollout_strategy_name(rollout_strategy s);
void serial_for_strategy(rollout_strategy st, long batch_size, serial_spec *out);

/* max_fail_percentage as Ansible reads it (a number, '%' allowed: "5", "5%",
 * "12.5"). Returns 0, or -1 with *err. */
int max_fail_parse(const char *text, double *pct, char **err);

/* The gate after a batch, as Ansible's linear strategy judges it: the batch
 * fails when more than max_fail_pct percent of its hosts failed (failed /
 * batch_size > pct / 100, computed as Ansible does, so 5% of 20 hosts tolerates
 * one failure), or when every host of the batch failed. Unlike Ansible,
 * unreachable devices are never counted as failed, so one flaky link does not
 * fail a factory's batch; but a batch in which nothing was done (every device
 * unreachable) proves nothing and is INCONCLUSIVE (pause for a person).
 * min_judged: while fewer devices than this are done (succeeded or failed),
 * the percentage is not judged: no failure passes, a failure is INCONCLUSIVE.
 * max_fail_pct < 0: no max_fail_percentage (only the all-failed rule). */
typedef enum { GATE_PASS, GATE_FAIL, GATE_INCONCLUSIVE } gate_result;
const char *gate_result_name(gate_result g); /* pass, fail, inconclusive */
gate_result gate_max_fail(size_t batch_size, size_t succeeded, size_t failed, double max_fail_pct,
			  size_t min_judged);

/* A model name or version fit to go into a URL, a file name and a remote
 * command: 1-128 of [A-Za-z0-9._+-], starting with a letter or digit, no "..". */
bool rollout_name_ok(const char *s);

#endif
