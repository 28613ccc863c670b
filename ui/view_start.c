/* view_start: the start dialog (`n` in the rollouts view): model and version from
 * the registry index, limit, serial, max-fail and a reason, the plan's batches
 * previewed as they are typed, and a confirmation naming what will start. The
 * registry and the plan come from `fleetdeck registry list --json` and
 * `fleetdeck rollout plan --json`, run off the screen's thread. */
#include "app.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F_MODEL, F_VERSION, F_LIMIT, F_SERIAL, F_MAXFAIL, F_REASON, F_START, F_COUNT };

static const char *const labels[F_COUNT] = { "Model", "Version", "Limit", "Serial", "Max fail %", "Reason", "" };
static const char *const hints[F_COUNT] = {
	"Left/Right: the registry's models",
	"Left/Right: the model's versions",
	"an Ansible pattern; empty: every device",
	"a number, a percentage, or a list like 1,5,10% (the last repeats)",
	"a batch fails when more than this share of it fails",
	"kept in the audit with your name",
	"Enter: review and start",
};

static const char *jstr(const json_t *v, const char *dflt)
{
	const char *s = json_string_value(v);
	return s ? s : dflt;
}

#define LABEL_REGISTRY "registry list"
#define LABEL_PLAN "rollout plan"

/* The argument vector: "-i" and each inventory, then more. */
struct argv {
	const char *v[64];
	size_t n;
};

static void push(struct argv *a, const char *s)
{
	if (a->n < sizeof a->v / sizeof *a->v)
		a->v[a->n++] = s;
}

static void push_inventories(const struct app *a, struct argv *v)
{
	for (size_t i = 0; i < a->o.ninventories && v->n + 2 < sizeof v->v / sizeof *v->v; i++) {
		push(v, "-i");
		push(v, a->o.inventories[i]);
	}
}

/* The JSON in a command's output (warnings may come before it). */
static json_t *output_json(const char *out)
{
	const char *p = out;
	while (p && *p && *p != '{')
		p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
	return p && *p ? json_loads(p, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
}

static const char *last_line(const char *out)
{
	const char *l = out ? strrchr(out, '\n') : NULL;
	return l ? l + 1 : out ? out : "";
}

/* ---- the registry ---- */

static json_t *models(const struct app *a)
{
	return a->start.registry ? json_object_get(a->start.registry, "models") : NULL;
}

static json_t *model_entry(const struct app *a, const char *name)
{
	json_t *m;
	size_t i;
	json_array_foreach(models(a), i, m)
		if (!strcmp(jstr(json_object_get(m, "name"), ""), name))
			return m;
	return NULL;
}

static json_t *version_entry(const struct app *a)
{
	json_t *m = model_entry(a, a->start.text[F_MODEL]), *v;
	size_t i;
	json_array_foreach(json_object_get(m, "versions"), i, v)
		if (!strcmp(jstr(json_object_get(v, "version"), ""), a->start.text[F_VERSION]))
			return v;
	return NULL;
}

static void set_text(struct app *a, int f, const char *s)
{
	snprintf(a->start.text[f], sizeof a->start.text[f], "%s", s ? s : "");
}

static void choose_latest(struct app *a)
{
	json_t *m = model_entry(a, a->start.text[F_MODEL]);
	set_text(a, F_VERSION, json_string_value(json_object_get(m, "latest")));
}

/* Left/Right over the registry's models or the model's versions. */
static void cycle(struct app *a, int dir)
{
	int f = a->start.field;
	json_t *list = f == F_MODEL ? models(a) : json_object_get(model_entry(a, a->start.text[F_MODEL]), "versions");
	size_t n = json_array_size(list);
	if (!n)
		return;
	const char *key = f == F_MODEL ? "name" : "version";
	long cur = -1;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(jstr(json_object_get(json_array_get(list, i), key), ""), a->start.text[f]))
			cur = (long)i;
	long next = cur < 0 ? 0 : (cur + dir + (long)n) % (long)n;
	set_text(a, f, json_string_value(json_object_get(json_array_get(list, (size_t)next), key)));
	if (f == F_MODEL)
		choose_latest(a);
}

static void ask_registry(struct app *a)
{
	rollwatch *w = monitor_rollwatch(a->mon);
	if (!w || a->start.registry_pending)
		return;
	struct argv v = { .n = 0 };
	push(&v, "registry");
	push(&v, "list");
	push(&v, "--json");
	push_inventories(a, &v);
	if (rollwatch_query(w, LABEL_REGISTRY, v.v, v.n) == 0)
		a->start.registry_pending = true;
}

/* ---- the plan ---- */

static char *plan_key(const struct app *a)
{
	const struct app_start *s = &a->start;
	return xasprintf("%s\n%s\n%s\n%s\n%s", s->text[F_MODEL], s->text[F_VERSION], s->text[F_LIMIT], s->text[F_SERIAL],
			 s->text[F_MAXFAIL]);
}

/* Asks for the plan of the fields as they are, unless it is in or asked for. */
static void ask_plan(struct app *a)
{
	struct app_start *s = &a->start;
	rollwatch *w = monitor_rollwatch(a->mon);
	if (!w || s->plan_pending)
		return;
	char *key = plan_key(a);
	if (s->plan_key && !strcmp(key, s->plan_key)) {
		free(key);
		return;
	}
	free(s->plan_key);
	s->plan_key = key;
	json_decref(s->plan);
	s->plan = NULL;
	free(s->plan_error);
	s->plan_error = NULL;
	if (!*s->text[F_MODEL] || !*s->text[F_VERSION]) {
		s->plan_error = xstrdup("choose a model and a version");
		return;
	}
	struct argv v = { .n = 0 };
	push(&v, "rollout");
	push(&v, "plan");
	push_inventories(a, &v);
	push(&v, "--model");
	push(&v, s->text[F_MODEL]);
	push(&v, "--version");
	push(&v, s->text[F_VERSION]);
	push(&v, "--serial");
	push(&v, *s->text[F_SERIAL] ? s->text[F_SERIAL] : "all");
	push(&v, "--max-fail");
	push(&v, *s->text[F_MAXFAIL] ? s->text[F_MAXFAIL] : "5");
	if (*s->text[F_LIMIT]) {
		push(&v, "--limit");
		push(&v, s->text[F_LIMIT]);
	}
	push(&v, "--json");
	if (rollwatch_query(w, LABEL_PLAN, v.v, v.n) == 0)
		s->plan_pending = true;
}

bool app_start_result(struct app *a, const rw_result *r)
{
	struct app_start *s = &a->start;
	if (!strcmp(r->label, LABEL_REGISTRY)) {
		s->registry_pending = false;
		json_decref(s->registry);
		s->registry = r->exit_code == 0 ? output_json(r->output) : NULL;
		free(s->registry_error);
		s->registry_error = s->registry ? NULL : xstrdup(*last_line(r->output) ? last_line(r->output)
											: "no answer");
		if (s->registry && !*s->text[F_MODEL]) {
			set_text(a, F_MODEL, json_string_value(json_object_get(json_array_get(models(a), 0), "name")));
			choose_latest(a);
		}
		ask_plan(a);
		return true;
	}
	if (!strcmp(r->label, LABEL_PLAN)) {
		s->plan_pending = false;
		json_t *p = r->exit_code == 0 ? output_json(r->output) : NULL;
		json_decref(s->plan);
		s->plan = p;
		free(s->plan_error);
		s->plan_error = p ? NULL : xstrdup(*last_line(r->output) ? last_line(r->output) : "no plan");
		/* the fields changed while it was made: once more */
		char *key = plan_key(a);
		if (s->plan_key && strcmp(key, s->plan_key)) {
			free(s->plan_key);
			s->plan_key = NULL;
			ask_plan(a);
		}
		free(key);
		return true;
	}
	return false;
}

void app_start_clear(struct app *a)
{
	struct app_start *s = &a->start;
	json_decref(s->registry);
	json_decref(s->plan);
	free(s->registry_error);
	free(s->plan_error);
	free(s->plan_key);
	memset(s, 0, sizeof *s);
}

void app_open_start(struct app *a)
{
	if (a->o.read_only) {
		app_message(a, true, "read-only: nothing that changes a device can be started from this console");
		return;
	}
	if (!monitor_rollwatch(a->mon)) {
		app_message(a, true, "no history database: rollouts need one (--db FILE)");
		return;
	}
	struct app_start *s = &a->start;
	if (!*s->text[F_SERIAL])
		set_text(a, F_SERIAL, "10%");
	if (!*s->text[F_MAXFAIL])
		set_text(a, F_MAXFAIL, "5");
	if (!*s->text[F_LIMIT] && a->o.limit)
		set_text(a, F_LIMIT, a->o.limit);
	s->field = F_MODEL;
	a->view = VIEW_START;
	if (!s->registry)
		ask_registry(a);
	ask_plan(a);
}

/* ---- drawing ---- */

static int put(struct app *a, WINDOW *w, int y, int h, int width, theme_slot slot, const char *text)
{
	if (y < h)
		draw_text(&a->d, w, y, 0, width, slot, text, true, false);
	return y + 1;
}

static void draw_start(struct app *a)
{
	WINDOW *w = a->w_full;
	if (!w)
		return;
	struct app_start *s = &a->start;
	int h, width;
	getmaxyx(w, h, width);
	char buf[1024];
	draw_fill(&a->d, w, 0, 0, width, TS_BORDER);
	draw_text(&a->d, w, 0, 0, width, TS_TITLE_FOCUS,
		  " New rollout  Tab/Up/Down field  Left/Right choose  Enter next, then start  Esc cancel ", false, false);
	int y = 1;
	if (s->registry_pending)
		snprintf(buf, sizeof buf, "  reading the registry ...");
	else if (s->registry)
		snprintf(buf, sizeof buf, "  registry %s: %zu model%s", jstr(json_object_get(s->registry, "registry"), "?"),
			 json_array_size(models(a)), json_array_size(models(a)) == 1 ? "" : "s");
	else
		snprintf(buf, sizeof buf, "  registry: %s (type the model and version)", s->registry_error ? s->registry_error : "none");
	y = put(a, w, y, h, width, s->registry || s->registry_pending ? TS_DIM : TS_ERROR, buf);
	y = put(a, w, y, h, width, TS_NORMAL, "");
	for (int f = 0; f < F_COUNT; f++) {
		bool on = s->field == f;
		if (f == F_START)
			snprintf(buf, sizeof buf, "  %s [ Start the rollout ]", on ? a->d.g->arrow : " ");
		else
			snprintf(buf, sizeof buf, "  %s %-11s %s%-30s%s  %s", on ? a->d.g->arrow : " ", labels[f],
				 f <= F_VERSION && s->registry ? "< " : "[ ", s->text[f], f <= F_VERSION && s->registry ? " >" : " ]",
				 on ? hints[f] : "");
		y = put(a, w, y, h, width, on ? TS_SELECTED : TS_NORMAL, buf);
		if (f == F_VERSION) {
			json_t *v = version_entry(a);
			if (v) {
				char tags[256] = "";
				json_t *t;
				size_t i;
				json_array_foreach(json_object_get(v, "tags"), i, t) {
					strncat(tags, i ? ", " : "", sizeof tags - strlen(tags) - 1);
					strncat(tags, jstr(t, ""), sizeof tags - strlen(tags) - 1);
				}
				snprintf(buf, sizeof buf, "                 %s%s  mAP %g  latency %g ms  size %g MB  trained %s  tags %s",
					 json_is_true(json_object_get(v, "latest")) ? "latest" : "",
					 json_is_true(json_object_get(v, "prerelease")) ? " pre-release" : "",
					 json_number_value(json_object_get(v, "mAP")),
					 json_number_value(json_object_get(v, "latency_ms")),
					 json_number_value(json_object_get(v, "model_size_mb")),
					 jstr(json_object_get(v, "training_date"), "-"), *tags ? tags : "-");
				y = put(a, w, y, h, width, TS_DIM, buf);
			} else if (s->registry && *s->text[F_VERSION]) {
				y = put(a, w, y, h, width, TS_ERROR, "                 not in the registry");
			}
		}
	}
	y = put(a, w, y, h, width, TS_NORMAL, "");
	/* the plan */
	if (s->plan) {
		json_t *batches = json_object_get(s->plan, "batches");
		size_t nb = json_array_size(batches);
		long hosts = (long)json_integer_value(json_object_get(s->plan, "hosts"));
		char sizes[256] = "";
		for (size_t b = 0; b < nb && strlen(sizes) < 200; b++) {
			char one[24];
			snprintf(one, sizeof one, "%s%zu", b ? ", " : "", json_array_size(json_array_get(batches, b)));
			strncat(sizes, one, sizeof sizes - strlen(sizes) - 1);
		}
		snprintf(buf, sizeof buf, "  Plan: %ld device%s in %zu batch%s (%s)%s", hosts, hosts == 1 ? "" : "s", nb,
			 nb == 1 ? "" : "es", sizes, s->plan_pending ? "  (updating)" : "");
		y = put(a, w, y, h, width, hosts ? TS_TITLE : TS_ERROR, buf);
		for (size_t b = 0; b < nb && y < h; b++) {
			json_t *batch = json_array_get(batches, b), *hname;
			size_t i;
			int n = snprintf(buf, sizeof buf, "    batch %-3zu %4zu: ", b + 1, json_array_size(batch));
			json_array_foreach(batch, i, hname) {
				if (n > width || n + 64 >= (int)sizeof buf)
					break;
				n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%s", i ? " " : "", jstr(hname, "?"));
			}
			y = put(a, w, y, h, width, TS_NORMAL, buf);
		}
	} else {
		snprintf(buf, sizeof buf, "  Plan: %s", s->plan_pending ? "making it ..." : s->plan_error ? s->plan_error : "-");
		y = put(a, w, y, h, width, s->plan_error ? TS_ERROR : TS_DIM, buf);
	}
	while (y < h)
		draw_fill(&a->d, w, y++, 0, width, TS_NORMAL);
	wnoutrefresh(w);
}

/* ---- keys ---- */

static void review(struct app *a)
{
	struct app_start *s = &a->start;
	char *key = plan_key(a);
	bool current = s->plan && s->plan_key && !strcmp(key, s->plan_key) && !s->plan_pending;
	free(key);
	if (!current) {
		app_message(a, true, "%s", s->plan_error ? s->plan_error : "the plan is not made yet: a moment");
		ask_plan(a);
		return;
	}
	json_t *batches = json_object_get(s->plan, "batches");
	long hosts = (long)json_integer_value(json_object_get(s->plan, "hosts"));
	if (hosts <= 0) {
		app_message(a, true, "the plan has no devices: nothing to start");
		return;
	}
	size_t nb = json_array_size(batches), first = json_array_size(json_array_get(batches, 0));
	char q[1024];
	snprintf(q, sizeof q,
		 "Start a rollout of %s %s to %ld device%s in %zu batch%s (the first of %zu), a batch failing when more "
		 "than %s%% of it fails%s%s? [y/N]",
		 s->text[F_MODEL], s->text[F_VERSION], hosts, hosts == 1 ? "" : "s", nb, nb == 1 ? "" : "es", first,
		 *s->text[F_MAXFAIL] ? s->text[F_MAXFAIL] : "5", *s->text[F_LIMIT] ? ", limited to " : "", s->text[F_LIMIT]);
	struct argv v = { .n = 0 };
	push(&v, "rollout");
	push(&v, "start");
	push_inventories(a, &v);
	push(&v, "--model");
	push(&v, s->text[F_MODEL]);
	push(&v, "--version");
	push(&v, s->text[F_VERSION]);
	push(&v, "--serial");
	push(&v, *s->text[F_SERIAL] ? s->text[F_SERIAL] : "all");
	push(&v, "--max-fail");
	push(&v, *s->text[F_MAXFAIL] ? s->text[F_MAXFAIL] : "5");
	if (*s->text[F_LIMIT]) {
		push(&v, "--limit");
		push(&v, s->text[F_LIMIT]);
	}
	push(&v, "--reason");
	push(&v, *s->text[F_REASON] ? s->text[F_REASON] : "started from the console");
	char *label = xasprintf("start %s %s", s->text[F_MODEL], s->text[F_VERSION]);
	app_confirm(a, q, NULL, label, v.v, v.n);
	free(label);
	/* once it runs, the rollouts view shows it */
	app_open_rollouts(a, 0);
	a->view = VIEW_ROLLOUTS;
}

static unsigned start_key(struct app *a, int ch, bool *handled)
{
	struct app_start *s = &a->start;
	*handled = true;
	int f = s->field;
	switch (ch) {
	case 27:
		a->view = VIEW_ROLLOUTS;
		return ACT_REDRAW;
	case '\t': case KEY_DOWN:
		s->field = (f + 1) % F_COUNT;
		return ACT_REDRAW;
	case KEY_BTAB: case KEY_UP:
		s->field = (f + F_COUNT - 1) % F_COUNT;
		return ACT_REDRAW;
	case KEY_LEFT: case KEY_RIGHT:
		if (f == F_MODEL || f == F_VERSION) {
			cycle(a, ch == KEY_RIGHT ? 1 : -1);
			ask_plan(a);
		}
		return ACT_REDRAW;
	case '\n': case '\r': case KEY_ENTER:
		if (f == F_START)
			review(a);
		else
			s->field = f + 1;
		return ACT_REDRAW;
	case KEY_RESIZE:
		*handled = false;
		return ACT_NONE;
	default:
		break;
	}
	if (f == F_START) {
		*handled = ch == 'q' ? false : true;
		return ACT_NONE;
	}
	char *t = s->text[f];
	size_t len = strlen(t);
	if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
		if (len)
			t[len - 1] = '\0';
	} else if (ch == 21) { /* ^U */
		t[0] = '\0';
	} else if (ch >= 32 && ch < 127 && len + 1 < sizeof s->text[f]) {
		t[len] = (char)ch;
		t[len + 1] = '\0';
	} else {
		return ACT_NONE;
	}
	if (f == F_MODEL && model_entry(a, t))
		choose_latest(a);
	if (f != F_REASON)
		ask_plan(a);
	return ACT_REDRAW;
}

const struct view_ops view_start = { .name = "start", .draw = draw_start, .key = start_key };
