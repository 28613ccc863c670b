/* model: what the console shows, computed from a fleet snapshot with no
 * ncurses: the devices table's rows (filtered, sorted), one row per factory, and
 * the header's totals. Pure, so it is tested without a terminal. */
#ifndef FLEETDECK_UI_MODEL_H
#define FLEETDECK_UI_MODEL_H

#include "fleet/fleet.h"
#include "inventory/inventory.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* X-macro: the devices table's columns: id, heading, min and preferred width,
 * priority when the terminal is narrow (lower stays longer), right-aligned. */
#define UI_COL_LIST(X)                                          \
	X(COL_HOST, "HOST", 10, 18, 0, false)                   \
	X(COL_STATE, "STATE", 7, 11, 1, false)                  \
	X(COL_FACTORY, "FACTORY", 7, 18, 6, false)              \
	X(COL_VERSION, "VERSION", 7, 10, 2, false)              \
	X(COL_TEMP, "GPU°C", 5, 6, 3, true)                     \
	X(COL_UTIL, "GPU%", 4, 5, 5, true)                      \
	X(COL_UPTIME, "UPTIME", 6, 7, 8, true)                  \
	X(COL_LATENCY, "P95ms", 5, 6, 7, true)                  \
	X(COL_DRIFT, "DRIFT", 5, 6, 4, true)                    \
	X(COL_SEEN, "SEEN", 5, 6, 9, true)

typedef enum {
#define X(id, head, min, pref, prio, right) id,
	UI_COL_LIST(X)
#undef X
	UI_NCOLS
} ui_col;

const char *ui_col_heading(ui_col c, bool utf8);
int ui_col_parse(const char *name); /* by heading or id name (host, state, temp, ...); -1 */

typedef struct ui_factory {
	char *name;                 /* owned; "(none)" for devices in no group */
	size_t n;
	size_t count[DEV_STATE_COUNT];
	dev_state worst;
	bool have_temp;
	double max_temp, mean_temp;
	char *versions;             /* owned: "3.2:40 3.1:2", most common first */
	double drift_max;           /* worst KS; < 0 none */
	int drift_sev;              /* enum drift_severity: the worst of its devices' and of its
	                               pooled windows' (fleet_factory_drift) */
	size_t alerts;
} ui_factory;

typedef struct ui_totals {
	size_t n;
	size_t count[DEV_STATE_COUNT];
	char *versions;             /* owned: "3.2:180 3.1:15 ?:5" */
	const char *hottest_host;   /* in the snapshot; NULL none */
	double hottest_temp;
	double mean_temp;           /* over the devices that report one */
	size_t alerts_warning, alerts_critical;
} ui_totals;

typedef struct ui_model {
	fleet_snapshot *snap;       /* owned */
	inventory *inv;             /* borrowed: for pattern filters */
	/* view settings */
	ui_col sort;
	bool desc;
	char *filter;               /* owned; NULL none */
	char *factory;              /* owned; show this factory only; NULL all */
	/* results */
	size_t *rows;               /* indices into snap->devs, filtered and sorted */
	size_t nrows;
	ui_factory *factories;      /* sorted by name */
	size_t nfactories;
	ui_totals totals;
	char *filter_error;         /* owned: an invalid pattern's message */
	size_t *alerts_of;          /* per device: alerts count */
	int *alert_sev;             /* per device: worst severity (0 none) */
} ui_model;

void model_init(ui_model *m, inventory *inv);
void model_free(ui_model *m);
/* Takes ownership of snap and recomputes everything. */
void model_set_snapshot(ui_model *m, fleet_snapshot *snap);
/* These recompute the rows. */
void model_set_sort(ui_model *m, ui_col col, bool desc);
/* A filter is a text (matched, case-insensitively, in host, factory, state,
 * version, gpu type) unless it reads as an Ansible host pattern: it holds one of
 * : , & ! * ? [ ~ or names a group; then the pattern decides (host order stays the
 * sort's). "" or NULL: none. Returns -1 (and sets filter_error; rows keep the
 * previous filter's) for an invalid pattern. */
int model_set_filter(ui_model *m, const char *filter);
void model_set_factory(ui_model *m, const char *factory);

/* A device row's index in snap->devs for a host name; -1. */
long model_find(const ui_model *m, const char *host);
/* The position of device index dev in rows; -1 if filtered out. */
long model_row_of(const ui_model *m, size_t dev);

/* Formatting of one cell, as the table shows it (N/A values as "-"): */
void model_cell(const ui_model *m, size_t dev, ui_col c, int64_t now_ms, bool utf8, char *buf, size_t sz);
/* A device's drift severity (enum drift_severity): its comparison's, else its
 * reported KS against the rules' drift_ks (r may be NULL: 0.1). */
int model_drift_severity(const fleet_dev *d, const fleet_rules *r);
/* "3m", "2h", "5d"; "-" for never. */
void model_age(int64_t ms, char *buf, size_t sz);

#endif
