/* drift: data drift of a device's input features: the /drift document (a
 * window of samples per feature) parsed strictly, and a baseline compared with
 * a window feature by feature (two-sample Kolmogorov-Smirnov test and
 * 1-Wasserstein distance; drifted when KS > threshold, critical at KS >=
 * 1.5 x threshold). Pure computation: the caller reads the files or the
 * device's answer. */
#ifndef FLEETDECK_DRIFT_H
#define FLEETDECK_DRIFT_H

#include "drift/ks.h"

#include <stdbool.h>
#include <stddef.h>

/* Limits on what a document may hold; larger is refused, not truncated. */
#define DRIFT_MAX_DOC_BYTES ((size_t)64 << 20)
#define DRIFT_MAX_FEATURES 64
#define DRIFT_MAX_VALUES 1000000       /* per feature */
#define DRIFT_MAX_TOTAL_VALUES 4000000 /* over all features: 32 MB of samples */
#define DRIFT_MAX_NAME 64
#define DRIFT_DEFAULT_THRESHOLD 0.1

/* One parsed /drift document: {"window": N, "features": {NAME: [N numbers], ...}}.
 * Features are kept sorted by name. Owns its names and values. */
typedef struct drift_set drift_set;

/* Parses text[0..len) (need not be NUL-terminated). NULL with *err (caller
 * frees) naming the feature and the value at fault for: text that is not JSON,
 * other keys than "window" and "features", a window that is not an integer in
 * 1 .. DRIFT_MAX_VALUES, a feature whose array length differs from the window,
 * a value that is not a finite number (NaN, Infinity, 1e999, a string),
 * duplicate keys, a feature name that is empty, longer than DRIFT_MAX_NAME or
 * not made of letters, digits, '_', '-', '.', more than DRIFT_MAX_FEATURES
 * features or none, more than DRIFT_MAX_TOTAL_VALUES values in all, and
 * documents over DRIFT_MAX_DOC_BYTES. */
drift_set *drift_parse(const char *text, size_t len, char **err);
void drift_set_free(drift_set *s);
size_t drift_set_window(const drift_set *s);
size_t drift_set_count(const drift_set *s);
const char *drift_set_name(const drift_set *s, size_t i);
/* The i-th feature's values (drift_set_window() of them), owned by s. */
const double *drift_set_values(const drift_set *s, size_t i);

enum drift_severity { DRIFT_NONE, DRIFT_WARNING, DRIFT_CRITICAL };
/* "none", "warning", "critical" */
const char *drift_severity_name(enum drift_severity s);

/* A threshold for one feature, overriding the default. */
typedef struct drift_threshold {
	const char *name;
	double threshold;
} drift_threshold;

typedef struct drift_opts {
	double threshold; /* default for every feature (> 0); DRIFT_DEFAULT_THRESHOLD */
	const drift_threshold *per_feature;
	size_t nper_feature;
	enum ks_mode mode;     /* p-values: KS_MODE_AUTO (scipy's "auto", the default) or KS_MODE_ASYMP */
} drift_opts;

typedef struct drift_feature {
	char *name;
	ks_result ks;       /* statistic, p-value */
	double wasserstein;
	double threshold;   /* the one applied */
	bool drifted;       /* ks.statistic > threshold */
	enum drift_severity severity; /* critical at ks >= 1.5 x threshold, else warning; none if not drifted */
} drift_feature;

/* The comparison of a window with its baseline. Owns its features. */
typedef struct drift_report {
	drift_feature *features; /* sorted by name */
	size_t nfeatures;
	double max_ks;
	bool drifted;            /* any feature drifted */
	enum drift_severity severity; /* the worst feature's */
} drift_report;

/* Compares every feature of the baseline with the same feature of the window
 * (the two windows may differ in size). NULL with *err when a feature is in
 * one document and not the other, when a per-feature threshold names a
 * feature neither has, or when a threshold is not a finite number > 0.
 * o may be NULL (the default threshold). */
drift_report *drift_compare(const drift_set *baseline, const drift_set *window, const drift_opts *o,
			    char **err);
void drift_report_free(drift_report *r);

/* A baseline ready for many comparisons: each feature's samples sorted once.
 * Owns a copy of what it needs. */
typedef struct drift_baseline drift_baseline;
drift_baseline *drift_baseline_new(const drift_set *s);
void drift_baseline_free(drift_baseline *b);
size_t drift_baseline_window(const drift_baseline *b);
size_t drift_baseline_count(const drift_baseline *b);
const char *drift_baseline_name(const drift_baseline *b, size_t i);

/* drift_compare against a prepared baseline: the same report (o->mode
 * decides the p-values), the window's features sorted once for both the KS
 * test and the Wasserstein distance. */
drift_report *drift_compare_baseline(const drift_baseline *b, const drift_set *window, const drift_opts *o,
				     char **err);

/* The windows of several devices as one sample (a factory's pooled inputs):
 * each feature's values one after the other, in the order given. NULL with
 * *err when n is 0, when the sets do not name the same features, or when a
 * feature would hold more than DRIFT_MAX_VALUES values. */
drift_set *drift_set_pool(const drift_set *const *sets, size_t n, char **err);

#endif
