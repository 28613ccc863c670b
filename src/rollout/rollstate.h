/* rollstate: the rollout state machine as tables: the rollout's states, which
 * verb applies in which state and where it leads, and a device's steps and what
 * comes after each. Pure: no I/O. */
#ifndef FLEETDECK_ROLLOUT_ROLLSTATE_H
#define FLEETDECK_ROLLOUT_ROLLSTATE_H

#include <stdbool.h>

/* Rollout states. A runner works on a rollout while it is running, aborting or
 * rolling_back (the active states); the final ones release the devices. */
#define RS_RUNNING "running"
#define RS_PAUSED "paused"
#define RS_AWAITING "awaiting_approval"
#define RS_ABORTING "aborting"
#define RS_ROLLING_BACK "rolling_back"
#define RS_COMPLETED "completed"
#define RS_FAILED "failed"
#define RS_ABORTED "aborted"
#define RS_ROLLED_BACK "rolled_back"

/* NULL-terminated sets of states. */
extern const char *const roll_states_active[];
extern const char *const roll_states_final[];
bool roll_state_in(const char *state, const char *const *set);
bool roll_state_known(const char *state);

/* What a verb does: applies in the states of `from`, leads to `to` (NULL: no
 * change of state), and whether a runner must then work on the rollout. */
typedef struct roll_verb_rule {
	const char *verb;
	const char *const *from;
	const char *to;
	bool needs_runner;
} roll_verb_rule;
/* pause, resume, approve, abort, rollback, retry; NULL for another name. */
const roll_verb_rule *roll_verb_find(const char *verb);

/* Device steps, in the order a device goes through them, then the final ones. */
#define DS_PENDING "pending"
#define DS_HEALTH "health"
#define DS_RECORD "record"
#define DS_UPDATE "update"
#define DS_WAIT "wait"
#define DS_VALIDATE "validate"
#define DS_ROLLBACK "rollback"   /* after a failure, back to the recorded version */
#define DS_REVERT "revert"       /* an updated device taken back (gate, abort, rollback verb) */
#define DS_UPDATED "updated"     /* final: on the new version, validated */
#define DS_CURRENT "current"     /* final: was already on it, untouched */
#define DS_FAILED "failed"       /* final: failed (rolled back when it had changed) */
#define DS_UNREACHABLE "unreachable" /* final: could not be reached before anything changed */
#define DS_REVERTED "reverted"   /* final: back on its recorded version */

bool roll_step_final(const char *step);
bool roll_step_known(const char *step);
/* Whether the device may run something other than its recorded version in this
 * step (an update was or may have been sent). */
bool roll_step_changed(const char *step);
/* Where a device continues: the step it was in when that step did not end
 * (redone: every step is safe to redo, the update step checks the device's
 * version first), else the one after it. A final step: itself. */
const char *roll_step_next(const char *step, bool ended);

#endif
