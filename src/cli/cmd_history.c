/* cmd_history: `fleetdeck history`: what the history database holds: samples, state changes, alerts, its size. */
#include "cli/cli.h"
#include "store/store.h"
#include "util/xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define HOUR_MS INT64_C(3600000)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fleetdeck history [--db FILE] samples HOST [--since WHEN] [--until WHEN]\n"
		"                         [--resolution raw|minute|hour] [--json]\n"
		"       fleetdeck history [--db FILE] events [HOST] [--since WHEN] [--until WHEN] [--json]\n"
		"       fleetdeck history [--db FILE] alerts [--active] [HOST] [--since WHEN] [--json]\n"
		"       fleetdeck history [--db FILE] stats [--json]\n"
		"       fleetdeck history [--db FILE] audit [--rollout ID] [--since WHEN] [--json]\n"
		"                         (also: history --audit ...)\n"
		"\n"
		"What the history database holds (the console and --report write it).\n"
		"\n"
		"  samples HOST   HOST's samples, oldest first (default: the last hour). Past the\n"
		"                 raw retention (48 h) come the minute rollups, past theirs (14 d)\n"
		"                 the hour rollups: samples, worst state and averages (--json adds\n"
		"                 min and max). Minute rollups past the raw retention keep averages\n"
		"                 to one digit more than shown here (utilisation and memory: as\n"
		"                 shown), min and max to the digits shown\n"
		"  events [HOST]  changes of state, oldest first (default: the last 24 hours)\n"
		"  alerts [HOST]  alerts firing in the window (default: all kept); --active: the\n"
		"                 ones still firing\n"
		"  stats          rows, bytes and time span of each table\n"
		"  audit          every operator action, oldest first (default: all kept): when,\n"
		"                 who ($USER and the SSH client of $SSH_CONNECTION), from which\n"
		"                 machine and process, what, on which rollout, why (--reason) and\n"
		"                 whether it was done or refused; --rollout ID: that rollout's only\n"
		"\n"
		"  --since WHEN, --until WHEN\n"
		"                 a time back from now (90s, 15m, 2h, 7d, 1w, 1h30m), or a date and\n"
		"                 time (2024-05-01, 2024-05-01T14:30[:00][Z|+02:00]; local time\n"
		"                 without a zone), or @SECONDS since the epoch\n"
		"  --resolution R raw, minute or hour instead of the finest kept for the range\n"
		"  --json         JSON for scripts: stable keys, times both as ISO 8601 UTC and as\n"
		"                 ms since the epoch (KEY_ms), null where a value was not reported\n"
		"  --db FILE      the database; default --db before the command, else `db:` in the\n"
		"                 settings file, else $XDG_DATA_HOME/fleetdeck/history.db\n"
		"\n"
		"Tables show local time and '-' where a device did not report a value.\n"
		"Exit status: 0 ok (also when nothing matched); 2 usage error, unknown host, or a\n"
		"database that cannot be read.\n");
}

/* ---- Times ---- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* 1h30m, 90s, 7d, 2w, 1.5h: the whole string, or false. */
static bool parse_duration(const char *s, int64_t *ms)
{
	double total = 0;
	bool any = false;
	while (*s) {
		char *end;
		errno = 0;
		double v = strtod(s, &end);
		if (end == s || errno || v < 0 || *s == '+' || *s == '-')
			return false;
		double unit;
		switch (*end) {
		case 's': unit = 1e3; break;
		case 'm': unit = 60e3; break;
		case 'h': unit = 3600e3; break;
		case 'd': unit = 86400e3; break;
		case 'w': unit = 7 * 86400e3; break;
		default: return false;
		}
		total += v * unit;
		s = end + 1;
		any = true;
	}
	if (!any || total > 1e15)
		return false;
	*ms = (int64_t)total;
	return true;
}

static int parse_when(const char *s, int64_t now, int64_t *out, char **err)
{
	int64_t d;
	if (parse_duration(s, &d)) {
		*out = now - d;
		return 0;
	}
	if (s[0] == '@') {
		char *end;
		errno = 0;
		long long v = strtoll(s + 1, &end, 10);
		if (end != s + 1 && !*end && !errno && v > -9000000000000LL && v < 9000000000000LL) {
			*out = (int64_t)v * 1000;
			return 0;
		}
	}
	int y, mo, da, h = 0, mi = 0, se = 0, n = 0;
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &da, &n) == 3 && n == 10) {
		const char *p = s + n;
		bool has_time = false, zone = false;
		int zsign = 1, zh = 0, zm = 0;
		if ((*p == 'T' || *p == ' ') && sscanf(p + 1, "%2d:%2d%n", &h, &mi, &n) == 2 && n == 5) {
			has_time = true;
			p += 1 + n;
			if (*p == ':' && sscanf(p + 1, "%2d%n", &se, &n) == 1 && n == 2)
				p += 1 + n;
			if (*p == 'Z') {
				zone = true;
				p++;
			} else if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d%n", &zh, &n) == 1 && n == 2) {
				zone = true;
				zsign = *p == '-' ? -1 : 1;
				p += 3;
				if (*p == ':')
					p++;
				if (sscanf(p, "%2d%n", &zm, &n) == 1 && n == 2)
					p += 2;
			}
		}
		static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
		if (!*p && mo >= 1 && mo <= 12 && da >= 1 && da <= mdays[mo - 1] && h <= 23 && mi <= 59 && se <= 60 &&
		    zh <= 23 && zm <= 59 && (has_time || !zone)) {
			if (zone) {
				int64_t secs = days_from_civil(y, mo, da) * 86400 + h * 3600 + mi * 60 + se -
					       zsign * (zh * 3600 + zm * 60);
				*out = secs * 1000;
				return 0;
			}
			struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = da, .tm_hour = h,
					 .tm_min = mi, .tm_sec = se, .tm_isdst = -1 };
			time_t t = mktime(&tm);
			if (t != (time_t)-1 || (tm.tm_year == 69 && tm.tm_mon == 11)) {
				*out = (int64_t)t * 1000;
				return 0;
			}
		}
	}
	*err = xasprintf("%s: not a time: give a duration back from now (90s, 15m, 2h, 7d), a date and time "
			 "(2024-05-01T14:30, with Z or +02:00 for a zone) or @SECONDS",
			 s);
	return -1;
}

static void fmt_local(int64_t ms, char *buf, size_t n)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;
	if (!localtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, n, "@%" PRId64, ms / 1000);
}

static json_t *json_iso(int64_t ms)
{
	int64_t sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	time_t t = (time_t)sec;
	struct tm tm;
	char buf[48], out[64];
	if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm))
		return json_null();
	snprintf(out, sizeof out, "%s.%03dZ", buf, (int)(ms - sec * 1000));
	return json_string(out);
}

/* "KEY": ISO time and "KEY_ms": ms, or both null when ms is 0. */
static void json_time(json_t *o, const char *key, int64_t ms, bool zero_is_null)
{
	char k[64];
	snprintf(k, sizeof k, "%s_ms", key);
	if (zero_is_null && ms == 0) {
		json_object_set_new(o, key, json_null());
		json_object_set_new(o, k, json_null());
		return;
	}
	json_object_set_new(o, key, json_iso(ms));
	json_object_set_new(o, k, json_integer(ms));
}

static json_t *json_str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

/* ---- Tables for people ---- */

struct table {
	size_t ncols, nrows, cap;
	char **cells;       /* row-major, owned */
	const bool *right;  /* per column: right-aligned (numbers) */
};

static size_t text_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80; /* UTF-8: count characters */
	return w;
}

static void table_add(struct table *t, char **row)
{
	t->cells = xgrow(t->cells, &t->cap, (t->nrows + 1) * t->ncols, sizeof *t->cells);
	memcpy(t->cells + t->nrows * t->ncols, row, t->ncols * sizeof *row);
	t->nrows++;
}

static void table_print(struct table *t)
{
	size_t *w = xcalloc(t->ncols, sizeof *w);
	for (size_t i = 0; i < t->nrows * t->ncols; i++) {
		size_t tw = text_width(t->cells[i]);
		if (tw > w[i % t->ncols])
			w[i % t->ncols] = tw;
	}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c];
			size_t pad = w[c] - text_width(cell);
			bool last = c + 1 == t->ncols;
			if (t->right && t->right[c] && r > 0)
				printf("%*s%s", (int)pad, "", cell);
			else
				printf("%s%*s", cell, last ? 0 : (int)pad, "");
			if (!last)
				fputs("  ", stdout);
		}
		putchar('\n');
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(w);
}

/* How a field is shown to people: its column and unit. */
static const struct {
	const char *head;
	double div;   /* shown = value / div */
	int decimals;
} shown[STORE_NFIELDS] = {
	[STORE_RTT] = { "RTT_MS", 1, 1 },
	[STORE_GPU_TEMP] = { "TEMP_C", 1, 1 },
	[STORE_GPU_UTIL] = { "UTIL_%", 1, 1 },
	[STORE_GPU_MEM] = { "MEM_MIB", 1048576.0, 0 },
	[STORE_POWER] = { "POWER_W", 1, 2 },
	[STORE_LATENCY_P95] = { "P95_MS", 1, 1 },
	[STORE_ERROR_RATE] = { "ERR_RATE", 1, 4 },
	[STORE_DRIFT] = { "DRIFT", 1, 3 },
	[STORE_UPTIME] = { "UPTIME_H", 1, 1 },
};

static char *cell_num(bool have, double v, int f)
{
	return have ? xasprintf("%.*f", shown[f].decimals, v / shown[f].div) : xstrdup("-");
}

static char *cell_str(const char *s)
{
	return xstrdup(s && *s ? s : "-");
}

static char *cell_time(int64_t ms)
{
	char buf[64];
	fmt_local(ms, buf, sizeof buf);
	return xstrdup(buf);
}

static const char *state_name(dev_state s)
{
	return dev_state_name(s);
}

static const char *reason_name(dev_reason r)
{
	return r == DEV_REASON_NONE ? NULL : dev_reason_name(r);
}

/* ---- Subcommands ---- */

struct opts {
	const char *db;
	const char *since, *until;
	const char *resolution;
	bool json, active;
	int64_t rollout; /* audit --rollout; 0: all */
};

static int show_samples(store *s, const char *host, const struct opts *o, int64_t from, int64_t to)
{
	char *err = NULL;
	int known = store_host_known(s, host, &err);
	if (known <= 0) {
		if (known < 0)
			fprintf(stderr, "fleetdeck history: %s\n", err);
		else
			fprintf(stderr, "fleetdeck history: %s: no such host in %s (see `fleetdeck history stats`)\n", host,
				store_path(s));
		free(err);
		return EXIT_USAGE;
	}
	store_res res;
	if (o->resolution) {
		if (strcmp(o->resolution, "raw") == 0)
			res = STORE_RES_RAW;
		else if (strcmp(o->resolution, "minute") == 0)
			res = STORE_RES_MINUTE;
		else if (strcmp(o->resolution, "hour") == 0)
			res = STORE_RES_HOUR;
		else {
			fprintf(stderr, "fleetdeck history: --resolution: raw, minute or hour, not %s\n", o->resolution);
			return EXIT_USAGE;
		}
	} else {
		res = store_best_res(s, from, to);
	}
	store_row *rows;
	size_t n;
	if (store_rows(s, host, res, from, to, &rows, &n, &err)) {
		fprintf(stderr, "fleetdeck history: %s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	bool raw = res == STORE_RES_RAW;
	if (o->json) {
		json_t *top = json_object(), *arr = json_array();
		json_object_set_new(top, "host", json_string(host));
		json_object_set_new(top, "resolution", json_string(store_res_name(res)));
		json_time(top, "since", from, false);
		json_time(top, "until", to == INT64_MAX ? 0 : to, true);
		for (size_t i = 0; i < n; i++) {
			const store_row *r = &rows[i];
			json_t *j = json_object();
			json_time(j, "ts", r->ts_ms, false);
			if (raw) {
				json_object_set_new(j, "state", json_string(state_name(r->state)));
				json_object_set_new(j, "reason", json_str_or_null(reason_name(r->reason)));
				json_object_set_new(j, "model_version", json_str_or_null(r->model_version));
			} else {
				json_object_set_new(j, "count", json_integer(r->count));
				json_object_set_new(j, "worst_state", json_string(state_name(r->state)));
			}
			for (int f = 0; f < STORE_NFIELDS; f++) {
				const store_value *v = &r->v[f];
				json_t *val;
				if (!v->have) {
					val = json_null();
				} else if (raw) {
					val = json_real(v->avg);
				} else {
					val = json_object();
					json_object_set_new(val, "min", json_real(v->min));
					json_object_set_new(val, "avg", json_real(v->avg));
					json_object_set_new(val, "max", json_real(v->max));
				}
				json_object_set_new(j, store_field_name((store_field)f), val);
			}
			json_array_append_new(arr, j);
		}
		json_object_set_new(top, "samples", arr);
		cli_print_json(top);
		json_decref(top);
	} else if (n == 0) {
		char a[64];
		fmt_local(from, a, sizeof a);
		fprintf(stderr, "fleetdeck history: no %s samples of %s since %s\n", store_res_name(res), host, a);
	} else {
		/* raw: TIME STATE REASON fields MODEL; rollups: TIME N WORST averages */
		size_t ncols = 3 + STORE_NFIELDS + (raw ? 1 : 0);
		bool *right = xcalloc(ncols, sizeof *right);
		struct table t = { .ncols = ncols, .right = right };
		char **row = xmalloc(ncols * sizeof *row);
		size_t c = 0;
		row[c++] = xstrdup("TIME");
		row[c++] = xstrdup(raw ? "STATE" : "N");
		row[c++] = xstrdup(raw ? "REASON" : "WORST");
		if (!raw)
			right[1] = true;
		for (int f = 0; f < STORE_NFIELDS; f++) {
			right[c] = true;
			row[c++] = xasprintf("%s%s", raw ? "" : "AVG_", shown[f].head);
		}
		if (raw)
			row[c++] = xstrdup("MODEL");
		table_add(&t, row);
		for (size_t i = 0; i < n; i++) {
			const store_row *r = &rows[i];
			c = 0;
			row[c++] = cell_time(r->ts_ms);
			row[c++] = raw ? xstrdup(state_name(r->state)) : xasprintf("%" PRId64, r->count);
			row[c++] = raw ? cell_str(reason_name(r->reason)) : xstrdup(state_name(r->state));
			for (int f = 0; f < STORE_NFIELDS; f++)
				row[c++] = cell_num(r->v[f].have, r->v[f].avg, f);
			if (raw)
				row[c++] = cell_str(r->model_version);
			table_add(&t, row);
		}
		table_print(&t);
		free(row);
		free(right);
	}
	store_rows_free(rows, n);
	return EXIT_OK;
}

static int show_events(store *s, const char *host, const struct opts *o, int64_t from, int64_t to)
{
	char *err = NULL;
	if (host) {
		int known = store_host_known(s, host, &err);
		if (known <= 0) {
			if (known < 0)
				fprintf(stderr, "fleetdeck history: %s\n", err);
			else
				fprintf(stderr, "fleetdeck history: %s: no such host in %s (see `fleetdeck history stats`)\n",
					host, store_path(s));
			free(err);
			return EXIT_USAGE;
		}
	}
	store_event *ev;
	size_t n;
	if (store_events(s, host, from, to, 0, &ev, &n, &err)) {
		fprintf(stderr, "fleetdeck history: %s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	if (o->json) {
		json_t *top = json_object(), *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *j = json_object();
			json_time(j, "ts", ev[i].ts_ms, false);
			json_object_set_new(j, "host", json_string(ev[i].host));
			json_object_set_new(j, "from", ev[i].from < DEV_STATE_COUNT ? json_string(state_name(ev[i].from))
										   : json_null());
			json_object_set_new(j, "to", json_string(state_name(ev[i].to)));
			json_object_set_new(j, "reason", json_str_or_null(reason_name(ev[i].reason)));
			json_object_set_new(j, "detail", json_str_or_null(ev[i].detail));
			json_array_append_new(arr, j);
		}
		json_object_set_new(top, "events", arr);
		cli_print_json(top);
		json_decref(top);
	} else if (n == 0) {
		char a[64];
		fmt_local(from, a, sizeof a);
		fprintf(stderr, "fleetdeck history: no changes of state%s%s since %s\n", host ? " of " : "", host ? host : "",
			a);
	} else {
		struct table t = { .ncols = 6 };
		char *row[6] = { xstrdup("TIME"), xstrdup("HOST"), xstrdup("FROM"),
				 xstrdup("TO"), xstrdup("REASON"), xstrdup("DETAIL") };
		table_add(&t, row);
		for (size_t i = 0; i < n; i++) {
			row[0] = cell_time(ev[i].ts_ms);
			row[1] = xstrdup(ev[i].host);
			row[2] = xstrdup(state_name(ev[i].from));
			row[3] = xstrdup(state_name(ev[i].to));
			row[4] = cell_str(reason_name(ev[i].reason));
			row[5] = cell_str(ev[i].detail);
			table_add(&t, row);
		}
		table_print(&t);
	}
	store_events_free(ev, n);
	return EXIT_OK;
}

static int show_alerts(store *s, const char *host, const struct opts *o, int64_t from)
{
	char *err = NULL;
	store_alert *a;
	size_t n;
	if (store_alerts(s, host, o->active, from, &a, &n, &err)) {
		fprintf(stderr, "fleetdeck history: %s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	if (o->json) {
		json_t *top = json_object(), *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *j = json_object();
			json_object_set_new(j, "id", json_integer(a[i].id));
			json_object_set_new(j, "host", json_string(a[i].host));
			json_object_set_new(j, "rule", json_string(a[i].rule));
			json_object_set_new(j, "severity", json_string(a[i].severity));
			json_object_set_new(j, "message", json_string(a[i].message));
			json_object_set_new(j, "active", json_boolean(a[i].resolved_ms == 0));
			json_time(j, "first_fired", a[i].first_fired_ms, false);
			json_time(j, "last_seen", a[i].last_seen_ms, false);
			json_time(j, "resolved", a[i].resolved_ms, true);
			json_array_append_new(arr, j);
		}
		json_object_set_new(top, "alerts", arr);
		cli_print_json(top);
		json_decref(top);
	} else if (n == 0) {
		fprintf(stderr, "fleetdeck history: no %salerts%s%s\n", o->active ? "active " : "", host ? " of " : "",
			host ? host : "");
	} else {
		static const bool right[8] = { true };
		struct table t = { .ncols = 8, .right = right };
		char *row[8] = { xstrdup("ID"), xstrdup("HOST"), xstrdup("RULE"), xstrdup("SEVERITY"),
				 xstrdup("FIRST_FIRED"), xstrdup("LAST_SEEN"), xstrdup("RESOLVED"), xstrdup("MESSAGE") };
		table_add(&t, row);
		for (size_t i = 0; i < n; i++) {
			row[0] = xasprintf("%" PRId64, a[i].id);
			row[1] = xstrdup(a[i].host);
			row[2] = xstrdup(a[i].rule);
			row[3] = xstrdup(a[i].severity);
			row[4] = cell_time(a[i].first_fired_ms);
			row[5] = cell_time(a[i].last_seen_ms);
			row[6] = a[i].resolved_ms ? cell_time(a[i].resolved_ms) : xstrdup("-");
			row[7] = cell_str(a[i].message);
			table_add(&t, row);
		}
		table_print(&t);
	}
	store_alerts_free(a, n);
	return EXIT_OK;
}

static int show_audit(store *s, const struct opts *o, int64_t from)
{
	char *err = NULL;
	store_audit *a;
	size_t n;
	if (store_audit_list(s, o->rollout, from, &a, &n, &err)) {
		fprintf(stderr, "fleetdeck history: %s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	if (o->json) {
		json_t *top = json_object(), *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *j = json_object();
			json_object_set_new(j, "id", json_integer(a[i].id));
			json_time(j, "ts", a[i].ts_ms, false);
			json_object_set_new(j, "actor", json_string(a[i].actor));
			json_object_set_new(j, "user", json_str_or_null(a[i].user));
			json_object_set_new(j, "ssh_connection", json_str_or_null(a[i].ssh_connection));
			json_object_set_new(j, "host", json_str_or_null(a[i].origin_host));
			json_object_set_new(j, "pid", a[i].pid > 0 ? json_integer(a[i].pid) : json_null());
			json_object_set_new(j, "action", json_string(a[i].action));
			json_object_set_new(j, "target", json_str_or_null(a[i].target));
			json_object_set_new(j, "rollout_id", a[i].rollout_id > 0 ? json_integer(a[i].rollout_id) : json_null());
			json_object_set_new(j, "reason", json_str_or_null(a[i].detail));
			json_object_set_new(j, "outcome", json_str_or_null(a[i].outcome ? a[i].outcome : "done"));
			json_array_append_new(arr, j);
		}
		json_object_set_new(top, "audit", arr);
		cli_print_json(top);
		json_decref(top);
	} else if (n == 0) {
		if (o->rollout)
			fprintf(stderr, "fleetdeck history: no audited actions on rollout %" PRId64 "\n", o->rollout);
		else
			fprintf(stderr, "fleetdeck history: no audited actions\n");
	} else {
		struct table t = { .ncols = 7 };
		char *row[7] = { xstrdup("TIME"), xstrdup("WHO"), xstrdup("FROM"), xstrdup("ACTION"),
				 xstrdup("TARGET"), xstrdup("OUTCOME"), xstrdup("REASON") };
		table_add(&t, row);
		for (size_t i = 0; i < n; i++) {
			/* the SSH client, else the machine the command ran on */
			char *where;
			if (a[i].ssh_connection) {
				size_t k = strcspn(a[i].ssh_connection, " ");
				where = xasprintf("%.*s via %s", (int)k, a[i].ssh_connection,
						 a[i].origin_host ? a[i].origin_host : "?");
			} else {
				where = xstrdup(a[i].origin_host ? a[i].origin_host : "-");
			}
			row[0] = cell_time(a[i].ts_ms);
			row[1] = xstrdup(a[i].user ? a[i].user : a[i].actor);
			row[2] = where;
			row[3] = xstrdup(a[i].action);
			row[4] = cell_str(a[i].target);
			row[5] = xstrdup(a[i].outcome ? a[i].outcome : "done");
			row[6] = cell_str(a[i].detail);
			/* text typed by people: no control characters on the terminal */
			for (int c = 0; c < 7; c++)
				for (char *p = row[c]; *p; p++)
					if ((unsigned char)*p < 0x20 || *p == 0x7f)
						*p = '?';
			table_add(&t, row);
		}
		table_print(&t);
	}
	store_audit_free(a, n);
	return EXIT_OK;
}

static char *human_bytes(int64_t b)
{
	if (b < 0)
		return xstrdup("-");
	if (b < 1024)
		return xasprintf("%" PRId64 " B", b);
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b / 1024;
	int u = 0;
	while (v >= 1024 && u < 3)
		v /= 1024, u++;
	return xasprintf("%.1f %s", v, unit[u]);
}

static int show_stats(store *s, const struct opts *o)
{
	char *err = NULL;
	store_info info;
	if (store_stats(s, &info, &err)) {
		fprintf(stderr, "fleetdeck history: %s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	if (o->json) {
		json_t *top = json_object(), *tables = json_object(), *bytes = json_object();
		json_object_set_new(top, "path", json_string(store_path(s)));
		json_object_set_new(top, "schema_version", json_integer(info.schema_version));
		json_object_set_new(bytes, "file", json_integer(info.file_bytes));
		json_object_set_new(bytes, "wal", json_integer(info.wal_bytes));
		json_object_set_new(bytes, "free", json_integer(info.free_bytes));
		json_object_set_new(top, "bytes", bytes);
		json_object_set_new(top, "pending_steps", json_integer(info.pending_steps));
		json_t *pruned = json_object();
		json_time(pruned, "raw", info.raw_horizon_ms, true);
		json_time(pruned, "minute", info.minute_horizon_ms, true);
		json_time(pruned, "hour", info.hour_horizon_ms, true);
		json_object_set_new(top, "pruned_before", pruned);
		for (int i = 0; i < STORE_NTABLES; i++) {
			const store_table_info *t = &info.tables[i];
			json_t *j = json_object();
			json_object_set_new(j, "rows", json_integer(t->rows));
			json_object_set_new(j, "bytes", t->bytes >= 0 ? json_integer(t->bytes) : json_null());
			json_time(j, "oldest", t->rows ? t->oldest_ms : 0, true);
			json_time(j, "newest", t->rows ? t->newest_ms : 0, true);
			json_object_set_new(tables, t->name, j);
		}
		json_object_set_new(top, "tables", tables);
		cli_print_json(top);
		json_decref(top);
		return EXIT_OK;
	}
	char *file = human_bytes(info.file_bytes), *wal = human_bytes(info.wal_bytes), *fr = human_bytes(info.free_bytes);
	printf("database  %s (schema version %d)\n", store_path(s), info.schema_version);
	printf("size      %s, write-ahead log %s, free inside %s\n", file, wal, fr);
	free(file);
	free(wal);
	free(fr);
	if (info.pending_steps)
		printf("pending   %" PRId64 " rollup and prune steps\n", info.pending_steps);
	putchar('\n');
	static const bool right[5] = { false, true, true, false, false };
	struct table t = { .ncols = 5, .right = right };
	char *row[5] = { xstrdup("TABLE"), xstrdup("ROWS"), xstrdup("SIZE"), xstrdup("OLDEST"), xstrdup("NEWEST") };
	table_add(&t, row);
	for (int i = 0; i < STORE_NTABLES; i++) {
		const store_table_info *ti = &info.tables[i];
		row[0] = xstrdup(ti->name);
		row[1] = xasprintf("%" PRId64, ti->rows);
		row[2] = human_bytes(ti->bytes);
		row[3] = ti->rows ? cell_time(ti->oldest_ms) : xstrdup("-");
		row[4] = ti->rows ? cell_time(ti->newest_ms) : xstrdup("-");
		table_add(&t, row);
	}
	table_print(&t);
	return EXIT_OK;
}

/* The database, by precedence: history --db, the global --db, `db:` in the
 * settings file (read only when needed), the default. NULL: the settings file
 * is bad (already said). */
static char *db_path(struct app *app, const struct opts *o)
{
	if (o->db)
		return xstrdup(o->db);
	if (app->db_path)
		return xstrdup(app->db_path);
	if (cli_load_config(app))
		return NULL;
	return app->cfg.db ? xstrdup(app->cfg.db) : store_default_path();
}

static int run(struct app *app, int argc, char **argv)
{
	enum { DB = 1, SINCE, UNTIL, RESOLUTION, JSON, ACTIVE, AUDIT, ROLLOUT };
	static const struct option lopts[] = {
		{ "db", required_argument, NULL, DB },
		{ "since", required_argument, NULL, SINCE },
		{ "until", required_argument, NULL, UNTIL },
		{ "resolution", required_argument, NULL, RESOLUTION },
		{ "json", no_argument, NULL, JSON },
		{ "active", no_argument, NULL, ACTIVE },
		{ "audit", no_argument, NULL, AUDIT },
		{ "rollout", required_argument, NULL, ROLLOUT },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct opts o = { 0 };
	bool audit_flag = false;
	const char *rollout_text = NULL;
	int c;
	optind = 0; /* a fresh scan, permuting: options may follow the subcommand and HOST */
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case DB: o.db = optarg; break;
		case SINCE: o.since = optarg; break;
		case UNTIL: o.until = optarg; break;
		case RESOLUTION: o.resolution = optarg; break;
		case JSON: o.json = true; break;
		case ACTIVE: o.active = true; break;
		case AUDIT: audit_flag = true; break;
		case ROLLOUT: rollout_text = optarg; break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc && !audit_flag) {
		fprintf(stderr, "fleetdeck history: what: samples, events, alerts, stats or audit?\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *sub = audit_flag ? "audit" : argv[optind++];
	if (audit_flag && optind < argc && !strcmp(argv[optind], "audit"))
		optind++;
	const char *host = optind < argc ? argv[optind++] : NULL;
	enum { SAMPLES, EVENTS, ALERTS, STATS, AUDITS } what;
	if (rollout_text) {
		char *end;
		errno = 0;
		long long v = strtoll(rollout_text, &end, 10);
		if (*end || end == rollout_text || errno || v <= 0) {
			fprintf(stderr, "fleetdeck history: --rollout wants a rollout id, not '%s'\n", rollout_text);
			return EXIT_USAGE;
		}
		o.rollout = v;
	}
	if (strcmp(sub, "audit") == 0)
		what = AUDITS;
	else if (strcmp(sub, "samples") == 0)
		what = SAMPLES;
	else if (strcmp(sub, "events") == 0)
		what = EVENTS;
	else if (strcmp(sub, "alerts") == 0)
		what = ALERTS;
	else if (strcmp(sub, "stats") == 0)
		what = STATS;
	else {
		fprintf(stderr, "fleetdeck history: no such query: %s (samples, events, alerts, stats or audit)\n", sub);
		return EXIT_USAGE;
	}
	if (audit_flag && what != AUDITS) {
		fprintf(stderr, "fleetdeck history: --audit and %s exclude each other\n", sub);
		return EXIT_USAGE;
	}
	if (rollout_text && what != AUDITS) {
		fprintf(stderr, "fleetdeck history %s: --rollout does not apply here\n", sub);
		return EXIT_USAGE;
	}
	if (optind < argc || ((what == STATS || what == AUDITS) && host)) {
		fprintf(stderr, "fleetdeck history %s: unexpected argument: %s\n", sub, optind < argc ? argv[optind] : host);
		return EXIT_USAGE;
	}
	if (what == SAMPLES && !host) {
		fprintf(stderr, "fleetdeck history samples: which HOST?\n");
		return EXIT_USAGE;
	}
	if ((o.active && what != ALERTS) || (o.resolution && what != SAMPLES) ||
	    ((o.since || o.until) && what == STATS) || (o.until && (what == ALERTS || what == AUDITS))) {
		fprintf(stderr, "fleetdeck history %s: %s does not apply here\n", sub,
			o.active && what != ALERTS ? "--active"
			: o.resolution && what != SAMPLES ? "--resolution"
			: o.since && what == STATS ? "--since"
						  : "--until");
		return EXIT_USAGE;
	}
	int64_t now = now_ms();
	int64_t from = what == SAMPLES ? now - HOUR_MS : what == EVENTS ? now - 24 * HOUR_MS : 0;
	int64_t to = INT64_MAX;
	char *err = NULL;
	if ((o.since && parse_when(o.since, now, &from, &err)) || (o.until && parse_when(o.until, now, &to, &err))) {
		fprintf(stderr, "fleetdeck history: %s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	if (to <= from) {
		fprintf(stderr, "fleetdeck history: --until is not after --since\n");
		return EXIT_USAGE;
	}

	char *path = db_path(app, &o);
	if (!path)
		return EXIT_USAGE;
	struct stat sb;
	if (stat(path, &sb) != 0 && errno == ENOENT) {
		fprintf(stderr,
			"fleetdeck history: no history database at %s (the console and --report create it; "
			"or give --db FILE)\n",
			path);
		free(path);
		return EXIT_USAGE;
	}
	store_opts so;
	store_opts_default(&so);
	so.must_exist = true;
	store *s = store_open_opts(path, &so, &err);
	free(path);
	if (!s) {
		fprintf(stderr, "fleetdeck history: %s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	if (store_warning(s))
		fprintf(stderr, "fleetdeck history: warning: %s\n", store_warning(s));
	int rc;
	switch (what) {
	case SAMPLES: rc = show_samples(s, host, &o, from, to); break;
	case EVENTS: rc = show_events(s, host, &o, from, to); break;
	case ALERTS: rc = show_alerts(s, host, &o, o.since ? from : 0); break;
	case AUDITS: rc = show_audit(s, &o, o.since ? from : 0); break;
	default: rc = show_stats(s, &o); break;
	}
	store_close(s);
	return rc;
}

const struct command cmd_history = {
	.name = "history",
	.summary = "what the history database holds: samples, state changes, alerts",
	.run = run,
	.usage = usage,
};
