/* prom: a strict parser of the Prometheus text exposition format 0.0.4 (as the
 * official client libraries and node_exporter write it), and Prometheus'
 * histogram_quantile over a set of buckets. Pure: no I/O, nothing printed.
 *
 * Input is untrusted: its size, the number of series and the labels per sample
 * are capped (prom_limits), every malformed line is an error "line N: what is
 * wrong", and nothing the input holds can make the parser read out of bounds. */
#ifndef FLEETDECK_METRICS_PROM_H
#define FLEETDECK_METRICS_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* X-macro: metric type and its name in # TYPE lines. */
#define PROM_TYPE_LIST(X)              \
	X(PROM_UNTYPED, "untyped")         \
	X(PROM_COUNTER, "counter")         \
	X(PROM_GAUGE, "gauge")             \
	X(PROM_HISTOGRAM, "histogram")     \
	X(PROM_SUMMARY, "summary")

typedef enum {
#define X(id, name) id,
	PROM_TYPE_LIST(X)
#undef X
	PROM_TYPE_COUNT
} prom_type;

const char *prom_type_name(prom_type t);

typedef struct prom_label {
	const char *name;
	const char *value;     /* unescaped */
} prom_label;

typedef struct prom_sample {
	const char *name;      /* as written: "x_bucket", "x_sum", "x" */
	size_t family;         /* index into prom_doc.families */
	const prom_label *labels;
	size_t nlabels;
	double value;
	bool has_ts;
	int64_t ts_ms;         /* if has_ts */
	unsigned line;         /* 1-based */
} prom_sample;

typedef struct prom_family {
	const char *name;      /* the # TYPE/# HELP name, or the sample's name if neither was given */
	const char *help;      /* unescaped; NULL if no # HELP */
	prom_type type;        /* untyped if no # TYPE */
	size_t nsamples;       /* samples of this family */
} prom_family;

/* A parsed exposition. Everything (names, values, arrays) is owned by it. */
typedef struct prom_doc {
	prom_family *families; /* in order of first mention */
	size_t nfamilies;
	prom_sample *samples;  /* in input order */
	size_t nsamples;
	size_t ncomments;      /* comment lines that were neither HELP nor TYPE */
	void *priv_;
} prom_doc;

typedef struct prom_limits {
	size_t max_bytes;      /* 16 MiB */
	size_t max_series;     /* samples in one exposition: 200000 */
	size_t max_labels;     /* labels on one sample: 64 (and never more than 64) */
} prom_limits;

void prom_limits_default(prom_limits *l);

/* Parses text[0..len) (need not be NUL-terminated). lim NULL: the defaults.
 * Error messages quote at most 40 bytes of the input, control and non-ASCII
 * bytes shown as '?'.
 * Returns a document (free with prom_doc_free), or NULL with *err ("line 12:
 * label value: invalid escape \q"; caller frees). Rules: lines end in \n (a \r
 * before it is dropped; the last line may lack it); blank lines and comments are
 * skipped; at most one HELP and one TYPE per family, TYPE before its samples; a
 * histogram's samples are name_bucket (with a numeric le), name_sum and
 * name_count, a summary's name (with a numeric quantile), name_sum and
 * name_count; no sample (name and label set) twice; values are Go's and Python's
 * float forms (NaN, +Inf, -Inf, 1e+06, ...), timestamps integer milliseconds. */
prom_doc *prom_parse(const char *text, size_t len, const prom_limits *lim, char **err);
void prom_doc_free(prom_doc *d);

/* A family by name, or NULL. */
const prom_family *prom_family_find(const prom_doc *d, const char *name);
/* The value of a sample's label, or NULL. */
const char *prom_label_get(const prom_sample *s, const char *name);

/* A sample value or an le/quantile label as the parser reads them (whatever
 * the locale): true and *out, or false if s is not a number. */
bool prom_float(const char *s, double *out);

/* One cumulative histogram bucket: observations <= le. */
typedef struct prom_bucket {
	double le;
	double count;
} prom_bucket;

/* Prometheus' histogram_quantile over buckets (any order; sorted here, equal
 * bounds merged, counts forced monotonic): NaN without a +Inf bucket, with fewer
 * than two buckets or no observations; -Inf for q < 0, +Inf for q > 1; the
 * upper bound of the second-highest bucket when the rank falls in +Inf; the
 * first bound if it is <= 0 and the rank falls there; else linear interpolation
 * within the bucket holding the rank (the lowest bucket starting at 0). b is
 * sorted in place. */
double prom_histogram_quantile(double q, prom_bucket *b, size_t n);

#endif
