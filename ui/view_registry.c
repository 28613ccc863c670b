/* view_registry: the model registry (`m`): every model and version with its metadata, and how many devices run each. */
#include "app.h"
#include "inventory/pattern.h"
#include "registry/registry.h"
#include "util/xalloc.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The registry is read on a thread of its own (it may be a slow server); the
 * view shows "reading" until it is done and picks it up at the next frame. */
struct regview {
	pthread_mutex_t mu;
	pthread_t th;
	bool started;      /* a thread runs or ran: join it */
	bool done;         /* under mu: reg or err is set */
	fd_registry *reg;  /* set by the thread; read by the UI once done */
	char *err;
	char *location;    /* owned; NULL: none known */
	int64_t done_wall_ms;
};

static void *load_thread(void *arg)
{
	struct regview *rv = arg;
	registry_opts o = { .connect_ms = 3000, .timeout_ms = 10000 };
	char *err = NULL;
	fd_registry *r = registry_open(rv->location, &o, false, &err);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&rv->mu);
	rv->reg = r;
	rv->err = err;
	rv->done = true;
	rv->done_wall_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	pthread_mutex_unlock(&rv->mu);
	return NULL;
}

/* Where the registry is: the inventory's model_registry (the devices' own),
 * else the settings file's. Caller frees; NULL with *why. */
static char *locate(struct app *a, char **why)
{
	inv_host **hosts = NULL;
	size_t n = 0;
	char *err = NULL, *loc = NULL;
	if (inv_pattern_limit(a->inv, "all", NULL, &hosts, &n, &err) < 0) {
		*why = err;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *vars = inv_host_vars(a->inv, hosts[i]);
		const char *v = json_string_value(json_object_get(vars, "model_registry"));
		if (v && *v) {
			char *u = registry_url_from_var(v);
			if (!loc)
				loc = u;
			else {
				bool same = !strcmp(loc, u);
				free(u);
				if (!same) {
					*why = xasprintf("the devices name different registries (%s, %s)", loc,
							 json_string_value(json_object_get(vars, "model_registry")));
					json_decref(vars);
					free(loc);
					free(hosts);
					return NULL;
				}
			}
		}
		json_decref(vars);
	}
	free(hosts);
	if (!loc && a->o.registry)
		loc = xstrdup(a->o.registry);
	if (!loc)
		*why = xstrdup("no registry: set model_registry in the inventory or registry: in the settings file");
	return loc;
}

static void finish(struct regview *rv)
{
	if (rv->started)
		pthread_join(rv->th, NULL);
	rv->started = false;
	registry_free(rv->reg);
	rv->reg = NULL;
	free(rv->err);
	rv->err = NULL;
	free(rv->location);
	rv->location = NULL;
	rv->done = false;
}

/* (Re)reads the registry unless a read is under way. */
static void load(struct app *a)
{
	struct regview *rv = a->regview;
	pthread_mutex_lock(&rv->mu);
	bool busy = rv->started && !rv->done;
	pthread_mutex_unlock(&rv->mu);
	if (busy)
		return;
	finish(rv);
	char *why = NULL;
	rv->location = locate(a, &why);
	if (!rv->location) {
		rv->err = why;
		rv->done = true;
		return;
	}
	if (pthread_create(&rv->th, NULL, load_thread, rv) != 0) {
		rv->err = xstrdup("cannot start a thread to read the registry");
		rv->done = true;
		return;
	}
	rv->started = true;
}

void view_registry_open(struct app *a)
{
	if (!a->regview) {
		a->regview = xcalloc(1, sizeof *a->regview);
		pthread_mutex_init(&a->regview->mu, NULL);
		load(a);
	}
	a->view = VIEW_REGISTRY;
	a->full_top = 0;
}

void view_registry_free(struct app *a)
{
	if (!a->regview)
		return;
	finish(a->regview);
	pthread_mutex_destroy(&a->regview->mu);
	free(a->regview);
	a->regview = NULL;
}

/* ---- drawing ---- */

struct lines {
	char **text;
	theme_slot *slot;
	long n, cap;
};

static void __attribute__((format(printf, 3, 4))) add(struct lines *L, theme_slot s, const char *fmt, ...)
{
	if (L->n == L->cap) {
		L->cap = L->cap ? L->cap * 2 : 64;
		L->text = xrealloc(L->text, (size_t)L->cap * sizeof *L->text);
		L->slot = xrealloc(L->slot, (size_t)L->cap * sizeof *L->slot);
	}
	va_list ap;
	va_start(ap, fmt);
	L->text[L->n] = xvasprintf(fmt, ap);
	va_end(ap);
	L->slot[L->n++] = s;
}

static void num(double v, const char *unit, char *buf, size_t n)
{
	if (isnan(v))
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.6g%s", v, unit);
}

/* A version some device runs that the registry does not have. */
struct unknown {
	const char *name, *version;
	size_t count;
};

static void count_devices(const fd_registry *r, const fleet_snapshot *snap, size_t *per_entry, struct unknown **unk,
			  size_t *nunk, size_t *unreported)
{
	*unk = NULL;
	*nunk = 0;
	*unreported = 0;
	const reg_entry *base = registry_count(r) ? registry_entry(r, 0) : NULL;
	for (size_t i = 0; snap && i < snap->ndevs; i++) {
		const dev_status *st = &snap->devs[i].st;
		if (!st->model_name || !st->model_version) {
			(*unreported)++;
			continue;
		}
		const reg_entry *e = registry_find(r, st->model_name, st->model_version);
		if (e) {
			per_entry[e - base]++;
			continue;
		}
		size_t k = 0;
		while (k < *nunk && (strcmp((*unk)[k].name, st->model_name) || strcmp((*unk)[k].version, st->model_version)))
			k++;
		if (k == *nunk) {
			*unk = xrealloc(*unk, (*nunk + 1) * sizeof **unk);
			(*unk)[(*nunk)++] = (struct unknown){ st->model_name, st->model_version, 0 };
		}
		(*unk)[k].count++;
	}
}

static void describe(struct lines *L, const fd_registry *r, const fleet_snapshot *snap)
{
	size_t ne = registry_count(r), nunk, unreported;
	size_t *per = xcalloc(ne + 1, sizeof *per);
	struct unknown *unk;
	count_devices(r, snap, per, &unk, &nunk, &unreported);
	if (!ne)
		add(L, TS_DIM, "the registry has no models");
	for (size_t m = 0; m < registry_model_count(r); m++) {
		const char *name = registry_model_name(r, m);
		size_t n, total = 0;
		const reg_entry *v = registry_versions(r, name, &n);
		const reg_entry *latest = registry_latest(r, name);
		for (size_t i = 0; i < n; i++)
			total += per[&v[i] - registry_entry(r, 0)];
		if (m)
			add(L, TS_NORMAL, "%s", "");
		add(L, TS_TITLE, "%s   latest %s, %zu version%s, %zu device%s", name, latest->version, n, n == 1 ? "" : "s",
		    total, total == 1 ? "" : "s");
		add(L, TS_COLUMN, "  %-18s %7s %7s %10s %8s  %-10s  %s", "VERSION", "DEVICES", "mAP", "LATENCY", "SIZE_MB",
		    "TRAINED", "TAGS");
		for (size_t i = 0; i < n; i++) {
			const reg_entry *e = &v[i];
			size_t d = per[e - registry_entry(r, 0)];
			char map[32], lat[32], size[32], tags[256] = "";
			num(e->map, "", map, sizeof map);
			num(e->latency_ms, " ms", lat, sizeof lat);
			num(e->model_size_mb, "", size, sizeof size);
			for (size_t t = 0; t < e->ntags; t++) {
				size_t used = strlen(tags);
				snprintf(tags + used, sizeof tags - used, "%s%s", t ? "," : "", e->tags[t]);
			}
			char *ver = xasprintf("%s%s", e->version, e == latest ? " *" : "");
			add(L, d ? TS_NORMAL : TS_DIM, "  %-18s %7zu %7s %10s %8s  %-10s  %s", ver, d, map, lat, size,
			    e->training_date ? e->training_date : "-", e->ntags ? tags : "-");
			free(ver);
			char shape[128] = "";
			for (size_t k = 0; k < e->ninput_shape; k++) {
				size_t used = strlen(shape);
				snprintf(shape + used, sizeof shape - used, "%s%lld", k ? "x" : "", e->input_shape[k]);
			}
			add(L, TS_DIM, "      %s %s %s%s%s  sha256 %.12s  %s", e->architecture ? e->architecture : "-",
			    e->framework ? e->framework : "-", e->precision ? e->precision : "-", *shape ? " input " : "",
			    shape, e->checksum, e->description ? e->description : "");
		}
		for (size_t k = 0; k < nunk; k++)
			if (!strcmp(unk[k].name, name))
				add(L, TS_ALERT, "  %-18s %7zu  not in the registry", unk[k].version, unk[k].count);
	}
	/* models the devices run that the registry does not have at all */
	for (size_t k = 0; k < nunk; k++) {
		size_t n;
		if (registry_versions(r, unk[k].name, &n))
			continue;
		add(L, TS_NORMAL, "%s", "");
		add(L, TS_ALERT, "%s %s: %zu device%s, not in the registry", unk[k].name, unk[k].version, unk[k].count,
		    unk[k].count == 1 ? "" : "s");
	}
	if (unreported) {
		add(L, TS_NORMAL, "%s", "");
		add(L, TS_DIM, "%zu device%s not reporting a model (yet)", unreported, unreported == 1 ? "" : "s");
	}
	add(L, TS_NORMAL, "%s", "");
	add(L, TS_DIM, "* the latest version (the highest that is not a pre-release)");
	free(per);
	free(unk);
}

static void draw_registry(struct app *a)
{
	struct regview *rv = a->regview;
	struct lines L = { 0 };
	pthread_mutex_lock(&rv->mu);
	bool done = rv->done;
	int64_t at = rv->done_wall_ms;
	pthread_mutex_unlock(&rv->mu);
	const char *loc = rv->location ? rv->location : "?";
	char when[32] = "";
	if (done && at) {
		time_t t = (time_t)(at / 1000);
		struct tm tm;
		if (localtime_r(&t, &tm))
			strftime(when, sizeof when, ", read %H:%M:%S", &tm);
	}
	char *title = xasprintf(" Model registry %s%s  (R reread%s, Esc back) ", loc, when,
				a->o.read_only ? "" : ", n new rollout");
	if (!done)
		add(&L, TS_DIM, "reading %s/models/index.json ...", loc);
	else if (rv->err) {
		char *copy = xstrdup(rv->err), *save = NULL;
		for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			add(&L, TS_ERROR, "%s", l);
		free(copy);
	} else
		describe(&L, rv->reg, a->model.snap);
	app_draw_lines(a, title, L.text, L.slot, L.n);
	for (long i = 0; i < L.n; i++)
		free(L.text[i]);
	free(L.text);
	free(L.slot);
	free(title);
}

static unsigned registry_key(struct app *a, int ch, bool *handled)
{
	if (ch == 'n') {
		/* a rollout of one of these versions: the start dialog */
		*handled = true;
		app_open_start(a);
		return ACT_REDRAW;
	}
	if (ch == 'R') {
		*handled = true;
		load(a);
		app_message(a, false, "reading the registry again");
		return ACT_REDRAW;
	}
	return app_scroll_key(a, ch, handled);
}

const struct view_ops view_registry = { .name = "registry", .draw = draw_registry, .key = registry_key };
