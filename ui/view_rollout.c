/* view_rollout: the rollouts view (`o`): recent rollouts, and the selected one's
 * batches with progress bars, gate results, stop reason, ETA and every device's
 * step; the operator's verbs, each destructive one behind a confirmation. */
#include "app.h"
#include "rollout/rollstate.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const rw_rollout *selected(const struct app *a)
{
	if (!a->rw)
		return NULL;
	const rw_rollout *r = a->ro_id ? rw_snapshot_find(a->rw, a->ro_id) : NULL;
	return r ? r : rw_snapshot_current(a->rw);
}

static theme_slot state_slot(const char *state)
{
	if (!strcmp(state, RS_COMPLETED))
		return TS_STATE_HEALTHY;
	if (!strcmp(state, RS_FAILED))
		return TS_STATE_UNHEALTHY;
	if (!strcmp(state, RS_PAUSED) || !strcmp(state, RS_AWAITING) || !strcmp(state, RS_ABORTING) ||
	    !strcmp(state, RS_ROLLING_BACK))
		return TS_STATE_DEGRADED;
	if (!strcmp(state, RS_ABORTED) || !strcmp(state, RS_ROLLED_BACK))
		return TS_DIM;
	return TS_STATE_PENDING;
}

static theme_slot step_slot(const char *step)
{
	if (!strcmp(step, DS_UPDATED) || !strcmp(step, DS_CURRENT))
		return TS_STATE_HEALTHY;
	if (!strcmp(step, DS_FAILED))
		return TS_STATE_UNHEALTHY;
	if (!strcmp(step, DS_UNREACHABLE))
		return TS_STATE_UNREACHABLE;
	if (!strcmp(step, DS_REVERTED))
		return TS_DIM;
	if (!strcmp(step, DS_PENDING))
		return TS_NORMAL;
	return TS_STATE_DEGRADED; /* under way */
}

/* "[#####.....]" of width cells (brackets included), done of total filled. */
static void bar(const struct app *a, char *buf, size_t sz, size_t done, size_t total, int cells)
{
	int inner = cells - 2;
	if (inner < 1 || sz < (size_t)cells * 3 + 1) {
		buf[0] = '\0';
		return;
	}
	int fill = total ? (int)((double)done / (double)total * inner + 0.5) : 0;
	if (fill > inner)
		fill = inner;
	const char *full = a->d.g->utf8 ? "\xe2\x96\x88" : "#", *empty = a->d.g->utf8 ? "\xc2\xb7" : ".";
	size_t n = 0;
	buf[n++] = '[';
	for (int i = 0; i < inner; i++) {
		const char *c = i < fill ? full : empty;
		size_t l = strlen(c);
		memcpy(buf + n, c, l);
		n += l;
	}
	buf[n++] = ']';
	buf[n] = '\0';
}

static void ago(int64_t ms, char *buf, size_t sz)
{
	if (ms <= 0) {
		snprintf(buf, sz, "-");
		return;
	}
	model_age(app_wall_ms() - ms, buf, sz);
}

static int line(struct app *a, WINDOW *w, int y, int h, int width, theme_slot slot, const char *text)
{
	if (y >= h)
		return y;
	draw_text(&a->d, w, y, 0, width, slot, text, true, false);
	return y + 1;
}

static void draw_rollouts(struct app *a)
{
	WINDOW *w = a->w_full;
	if (!w)
		return;
	int h, width;
	getmaxyx(w, h, width);
	char buf[1024];
	bool ro = a->o.read_only;
	snprintf(buf, sizeof buf, " Rollouts%s  %s",
		 ro ? " (read-only)" : "",
		 ro ? "Up/Down choose  PgUp/PgDn scroll  Esc back"
		    : "Up/Down choose  p pause/resume  a approve  x abort  b rollback  R retry  n new  Esc back");
	draw_fill(&a->d, w, 0, 0, width, TS_BORDER);
	draw_text(&a->d, w, 0, 0, width, TS_TITLE_FOCUS, buf, false, false);
	int y = 1;
	if (!a->rw) {
		y = line(a, w, y, h, width, TS_DIM, "  no history database: rollouts are kept there (--db FILE)");
		while (y < h)
			draw_fill(&a->d, w, y++, 0, width, TS_NORMAL);
		wnoutrefresh(w);
		return;
	}
	if (a->rw->error) {
		snprintf(buf, sizeof buf, "  ! %s", a->rw->error);
		y = line(a, w, y, h, width, TS_ERROR, buf);
	}
	if (!a->rw->n)
		y = line(a, w, y, h, width, TS_DIM,
			 ro ? "  no rollouts yet" : "  no rollouts yet: n starts one (or `fleetdeck rollout start`)");
	const rw_rollout *sel = selected(a);
	/* the list: at most a third of the view */
	int list_rows = (int)a->rw->n;
	int cap = h / 3 > 3 ? h / 3 : 3;
	if (list_rows > cap)
		list_rows = cap;
	long si = 0;
	for (size_t i = 0; i < a->rw->n; i++)
		if (&a->rw->r[i] == sel)
			si = (long)i;
	long top = si >= list_rows ? si - list_rows + 1 : 0;
	for (int k = 0; k < list_rows && y < h; k++) {
		const rw_rollout *r = &a->rw->r[top + k];
		char pb[128], when[32];
		bar(a, pb, sizeof pb, r->all.ok, r->all.total, 12);
		ago(r->created_at, when, sizeof when);
		snprintf(buf, sizeof buf, "%s #%-4lld %-22.22s %-10.10s %-17s %s %4zu/%-4zu %zu failed %zu unreachable  by %s, %s ago",
			 r == sel ? a->d.g->arrow : " ", (long long)r->id, r->model ? r->model : "?",
			 r->version ? r->version : "?", r->state, pb, r->all.ok, r->all.total, r->all.failed,
			 r->all.unreachable, r->created_by ? r->created_by : "?", when);
		y = line(a, w, y, h, width, r == sel ? TS_SELECTED : state_slot(r->state), buf);
	}
	if (sel && y < h) {
		draw_fill(&a->d, w, y, 0, width, TS_BORDER);
		char *sum = rw_rollout_summary(sel);
		snprintf(buf, sizeof buf, " %s ", sum);
		free(sum);
		draw_text(&a->d, w, y++, 0, width, TS_TITLE, buf, false, false);
		if (sel->stop_reason) {
			snprintf(buf, sizeof buf, "  stopped: %s", sel->stop_reason);
			y = line(a, w, y, h, width, TS_STATE_DEGRADED, buf);
		}
		if (sel->active && !sel->runner_alive)
			y = line(a, w, y, h, width, TS_ERROR,
				 "  no runner holds this rollout (killed? the machine restarted?): p resumes it");
		/* batches */
		for (int b = 0; b < sel->nbatches && y < h; b++) {
			const rw_batch *B = &sel->batches[b];
			char pb[128];
			bar(a, pb, sizeof pb, B->ok + B->failed + B->unreachable + B->reverted, B->total, 22);
			bool cur = b == sel->current_batch && !roll_state_in(sel->state, roll_states_final);
			char way[48] = "";
			if (B->inflight)
				snprintf(way, sizeof way, ", under way %zu", B->inflight);
			snprintf(buf, sizeof buf, "  %s batch %-3d %s %4zu/%-4zu updated %zu, failed %zu, unreachable %zu, reverted %zu%s",
				 cur ? a->d.g->arrow : " ", b + 1, pb, B->ok + B->failed + B->unreachable + B->reverted,
				 B->total, B->ok, B->failed, B->unreachable, B->reverted, way);
			y = line(a, w, y, h, width, B->failed ? TS_STATE_UNHEALTHY : cur ? TS_NORMAL : TS_DIM, buf);
		}
		/* the gates and state changes, newest first: a few */
		for (size_t i = 0; i < sel->nlog && i < 4 && y < h; i++) {
			char t[16] = "--:--:--";
			time_t tt = (time_t)(sel->log[i].ts / 1000);
			struct tm tm;
			if (localtime_r(&tt, &tm))
				strftime(t, sizeof t, "%H:%M:%S", &tm);
			snprintf(buf, sizeof buf, "  %s %s", t, sel->log[i].text);
			y = line(a, w, y, h, width, strstr(sel->log[i].text, " fail") ? TS_STATE_UNHEALTHY : TS_DIM, buf);
		}
		/* the devices, scrolled by full_top */
		if (y < h) {
			snprintf(buf, sizeof buf, "  %-28s %5s  %-12s %8s  %-10s %s", "device", "batch", "step", "attempts",
				 "was on", "error");
			y = line(a, w, y, h, width, TS_COLUMN, buf);
		}
		long rows = h - y;
		a->full_lines = (long)sel->ndevs;
		if (a->full_top > (long)sel->ndevs - rows)
			a->full_top = (long)sel->ndevs - rows;
		if (a->full_top < 0)
			a->full_top = 0;
		for (long i = a->full_top; i < (long)sel->ndevs && y < h; i++) {
			const rw_dev *d = &sel->devs[i];
			snprintf(buf, sizeof buf, "  %-28s %5d  %-12s %8d  %-10s %s", d->host, d->batch + 1, d->step,
				 d->attempts, d->prev_version ? d->prev_version : "-", d->error ? d->error : "");
			y = line(a, w, y, h, width, step_slot(d->step), buf);
		}
	}
	while (y < h)
		draw_fill(&a->d, w, y++, 0, width, TS_NORMAL);
	wnoutrefresh(w);
}

/* ---- the verbs ---- */

static bool applies(const rw_rollout *r, const char *verb)
{
	const roll_verb_rule *rule = roll_verb_find(verb);
	return rule && roll_state_in(r->state, rule->from);
}

static void verb(struct app *a, const rw_rollout *r, const char *v, const char *question, const char *word)
{
	char id[32];
	snprintf(id, sizeof id, "%lld", (long long)r->id);
	const char *args[] = { "rollout", v, id, "--reason", "from the console" };
	char *label = xasprintf("%s rollout #%lld", v, (long long)r->id);
	if (question)
		app_confirm(a, question, word, label, args, 5);
	else
		app_run(a, label, args, 5);
	free(label);
}

static unsigned rollout_key(struct app *a, int ch, bool *handled)
{
	*handled = true;
	const rw_rollout *r = selected(a);
	long n = a->rw ? (long)a->rw->n : 0;
	long si = 0;
	for (long i = 0; r && i < n; i++)
		if (&a->rw->r[i] == r)
			si = i;
	int h = 2, width;
	if (a->w_full)
		getmaxyx(a->w_full, h, width);
	(void)width;
	switch (ch) {
	case KEY_DOWN: case 'j':
	case KEY_UP: case 'k':
		if (n) {
			si += ch == KEY_DOWN || ch == 'j' ? 1 : -1;
			si = si < 0 ? 0 : si >= n ? n - 1 : si;
			a->ro_id = a->rw->r[si].id;
			a->full_top = 0;
			rollwatch *w = monitor_rollwatch(a->mon);
			if (w)
				rollwatch_show(w, a->ro_id);
		}
		return ACT_REDRAW;
	case KEY_NPAGE: case ' ': a->full_top += h / 2; return ACT_REDRAW;
	case KEY_PPAGE: a->full_top -= h / 2; if (a->full_top < 0) a->full_top = 0; return ACT_REDRAW;
	case KEY_HOME: case 'g': a->full_top = 0; return ACT_REDRAW;
	case KEY_END: case 'G': a->full_top = a->full_lines; return ACT_REDRAW;
	case 'p': case 'a': case 'x': case 'b': case 'R': case 'n':
		break;
	default:
		*handled = false;
		return ACT_NONE;
	}
	if (a->o.read_only) {
		app_message(a, true, "read-only: nothing that changes a device can be started from this console");
		return ACT_REDRAW;
	}
	if (ch == 'n') {
		app_open_start(a);
		return ACT_REDRAW;
	}
	if (!r) {
		app_message(a, true, "no rollout to act on");
		return ACT_REDRAW;
	}
	char q[512];
	switch (ch) {
	case 'p':
		if (applies(r, "pause")) {
			verb(a, r, "pause", NULL, NULL);
		} else if (applies(r, "resume") || (r->active && !r->runner_alive)) {
			verb(a, r, "resume", NULL, NULL);
		} else {
			app_message(a, true, "rollout #%lld is %s: neither pause nor resume applies", (long long)r->id, r->state);
		}
		break;
	case 'a':
		if (!applies(r, "approve")) {
			app_message(a, true, "rollout #%lld is %s: approve does not apply (only awaiting approval)",
				    (long long)r->id, r->state);
			break;
		}
		snprintf(q, sizeof q, "Approve rollout #%lld (%s %s): batch %d of %d starts. [y/N]", (long long)r->id,
			 r->model, r->version, r->current_batch + 1, r->nbatches);
		verb(a, r, "approve", q, NULL);
		break;
	case 'x':
		if (!applies(r, "abort")) {
			app_message(a, true, "rollout #%lld is %s: abort does not apply", (long long)r->id, r->state);
			break;
		}
		snprintf(q, sizeof q,
			 "Abort rollout #%lld (%s %s): no new device starts; %zu under way finish and go back; "
			 "%zu updated stay. [y/N]",
			 (long long)r->id, r->model, r->version, r->all.inflight, r->all.ok);
		verb(a, r, "abort", q, NULL);
		break;
	case 'b': {
		if (!applies(r, "rollback")) {
			app_message(a, true, "rollout #%lld is %s: rollback does not apply", (long long)r->id, r->state);
			break;
		}
		char word[32];
		snprintf(word, sizeof word, "%lld", (long long)r->id);
		snprintf(q, sizeof q,
			 "Roll back rollout #%lld (%s %s): every updated device (%zu of %zu) goes back to its recorded "
			 "version, newest batch first. Type %s and Enter to confirm, Esc to cancel:",
			 (long long)r->id, r->model, r->version, r->all.ok, r->all.total, word);
		verb(a, r, "rollback", q, word);
		break;
	}
	case 'R':
		if (!applies(r, "retry") || !(r->all.failed + r->all.unreachable)) {
			app_message(a, true, "rollout #%lld (%s, %zu failed, %zu unreachable): retry does not apply",
				    (long long)r->id, r->state, r->all.failed, r->all.unreachable);
			break;
		}
		snprintf(q, sizeof q, "Retry rollout #%lld: its %zu failed and %zu unreachable devices are updated again. [y/N]",
			 (long long)r->id, r->all.failed, r->all.unreachable);
		verb(a, r, "retry", q, NULL);
		break;
	}
	return ACT_REDRAW;
}

const struct view_ops view_rollouts = { .name = "rollouts", .draw = draw_rollouts, .key = rollout_key };
