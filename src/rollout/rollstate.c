/* rollstate: the rollout state machine's tables (which verb applies where, what step follows which). */
#include "rollout/rollstate.h"

#include <stddef.h>
#include <string.h>

const char *const roll_states_active[] = { RS_RUNNING, RS_ABORTING, RS_ROLLING_BACK, NULL };
const char *const roll_states_final[] = { RS_COMPLETED, RS_FAILED, RS_ABORTED, RS_ROLLED_BACK, NULL };
static const char *const all_states[] = { RS_RUNNING,	RS_PAUSED, RS_AWAITING, RS_ABORTING, RS_ROLLING_BACK,
					  RS_COMPLETED, RS_FAILED, RS_ABORTED,	RS_ROLLED_BACK, NULL };

bool roll_state_in(const char *state, const char *const *set)
{
	for (; state && *set; set++)
		if (!strcmp(state, *set))
			return true;
	return false;
}

bool roll_state_known(const char *state)
{
	return roll_state_in(state, all_states);
}

static const char *const from_pause[] = { RS_RUNNING, NULL };
static const char *const from_resume[] = { RS_PAUSED, NULL };
static const char *const from_approve[] = { RS_AWAITING, NULL };
static const char *const from_abort[] = { RS_RUNNING, RS_PAUSED, RS_AWAITING, NULL };
static const char *const from_rollback[] = { RS_COMPLETED, RS_FAILED, RS_ABORTED, RS_PAUSED, RS_AWAITING, NULL };
static const char *const from_retry[] = { RS_COMPLETED, RS_FAILED, RS_ABORTED, NULL };

static const roll_verb_rule rules[] = {
	{ "pause", from_pause, RS_PAUSED, false },
	{ "resume", from_resume, RS_RUNNING, true },
	{ "approve", from_approve, RS_RUNNING, true },
	{ "abort", from_abort, RS_ABORTING, true },
	{ "rollback", from_rollback, RS_ROLLING_BACK, true },
	{ "retry", from_retry, RS_RUNNING, true },
};

const roll_verb_rule *roll_verb_find(const char *verb)
{
	for (size_t i = 0; i < sizeof rules / sizeof *rules; i++)
		if (!strcmp(rules[i].verb, verb))
			return &rules[i];
	return NULL;
}

/* Each step, and the one after it when it ended. */
static const struct step {
	const char *name, *after;
	bool final, changed;
} steps[] = {
	{ DS_PENDING, DS_HEALTH, false, false },
	{ DS_HEALTH, DS_RECORD, false, false },
	{ DS_RECORD, DS_UPDATE, false, false },
	{ DS_UPDATE, DS_WAIT, false, true },
	{ DS_WAIT, DS_VALIDATE, false, true },
	{ DS_VALIDATE, DS_UPDATED, false, true },
	{ DS_ROLLBACK, DS_FAILED, false, true },
	{ DS_REVERT, DS_REVERTED, false, true },
	{ DS_UPDATED, NULL, true, true },
	{ DS_CURRENT, NULL, true, false },
	{ DS_FAILED, NULL, true, false },
	{ DS_UNREACHABLE, NULL, true, false },
	{ DS_REVERTED, NULL, true, false },
};

static const struct step *find_step(const char *name)
{
	for (size_t i = 0; name && i < sizeof steps / sizeof *steps; i++)
		if (!strcmp(steps[i].name, name))
			return &steps[i];
	return NULL;
}

bool roll_step_final(const char *step)
{
	const struct step *s = find_step(step);
	return s && s->final;
}

bool roll_step_known(const char *step)
{
	return find_step(step) != NULL;
}

bool roll_step_changed(const char *step)
{
	const struct step *s = find_step(step);
	return s && s->changed;
}

const char *roll_step_next(const char *step, bool ended)
{
	const struct step *s = find_step(step);
	if (!s)
		return DS_PENDING;
	if (s->final)
		return s->name;
	if (!strcmp(s->name, DS_PENDING))
		return DS_HEALTH;
	return ended ? s->after : s->name;
}
