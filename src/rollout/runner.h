/* runner: does a recorded rollout's work: holds its lease in the database
 * (renewed; an expired one is taken over), takes each device through its steps
 * on worker threads (over the agent API, or as commands over SSH for agentless
 * devices: rollout/rollssh.h; the device's transport picks the steps), judges each batch with the gate, and
 * reverts, aborts and rolls back as the rollout's state asks. Every step's start
 * and end is committed before the next, so a runner started after a crash
 * continues each device where it was. Never prints: progress goes to note(). */
#ifndef FLEETDECK_ROLLOUT_RUNNER_H
#define FLEETDECK_ROLLOUT_RUNNER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* A rollout's parameters (the rollouts.params column). */
typedef struct runner_params {
	double max_fail;     /* max_fail_percentage; default 5 */
	int forks;           /* devices at once; default 5, as Ansible */
	long connect_ms;     /* per request; default 3000 */
	long timeout_ms;     /* per request; default 15000 */
	int wait_tries;      /* model_loaded: default 12 tries ... */
	long wait_delay_ms;  /* ... 5000 ms apart (the seed) */
	long lease_ms;       /* the runner's lease; renewed every third of it; default 30000 */
} runner_params;

void runner_params_default(runner_params *p);
json_t *runner_params_to_json(const runner_params *p);
/* Missing keys keep the defaults. 0, or -1 with *err. */
int runner_params_from_json(const char *text, runner_params *p, char **err);

/* The validation the seed asks for. */
#define RUNNER_TEST_IMAGE "/opt/test-data/reference.jpg"
#define RUNNER_EXPECTED_CLASS "no_defect"
#define RUNNER_MIN_CONFIDENCE 0.85

typedef void (*runner_note_fn)(void *ctx, const char *line);

/* Works on rollout id of the database at db_path until it is in no active state
 * (rollstate.h) or the lease is lost. owner: who holds the lease (unique per
 * process). Returns 0 done, 1 another live runner holds the lease (nothing
 * done), -1 error (*err). curl_global_init must have run. */
int runner_run(const char *db_path, int64_t id, const char *owner, runner_note_fn note, void *ctx, char **err);

/* A lease owner for this process: "HOST:PID:MS" (':' in the host name as
 * '_'); caller frees. */
char *runner_owner_name(void);
/* Whether owner names a process of this machine (same host name) that no
 * longer exists: then its lease may be taken at once instead of after its
 * expiry. False when it cannot tell (another machine, no pid, or the process
 * exists: a reused pid errs on the side of waiting). */
bool runner_owner_dead(const char *owner);

#endif
