/* expo: a writer of the Prometheus text exposition format 0.0.4 (what
 * node_exporter's textfile collector and a Prometheus scrape read): families
 * with # HELP and # TYPE, samples with escaped label values, Go's float forms.
 * Builds the text in memory; no I/O, nothing printed.
 *
 * Label values are untrusted text (device names, versions a device reports):
 * backslash, double quote and newline are escaped as the format asks, and bytes
 * that are not valid UTF-8 become U+FFFD, so nothing in a value can end the
 * sample, start another line or make the exposition unreadable. HELP text gets
 * the same treatment (backslash and newline), and its other control characters
 * but tab become spaces. Names are the caller's constants
 * and are checked: a bad one is a programming error, caught by expo_error(). */
#ifndef FLEETDECK_METRICS_EXPO_H
#define FLEETDECK_METRICS_EXPO_H

#include <stdbool.h>
#include <stddef.h>

typedef struct expo expo;

expo *expo_new(void);
void expo_free(expo *e); /* accepts NULL */

/* Starts a family: its # HELP and # TYPE lines (type: "gauge", "counter",
 * "untyped"). Samples that follow belong to it. A family name given twice, or a
 * name that is not [a-zA-Z_:][a-zA-Z0-9_:]*, records an error (expo_error). */
void expo_family(expo *e, const char *name, const char *type, const char *help);

/* One sample of the current family, named as the family. labels: name, value,
 * name, value, ..., NULL (NULL itself: none). A NULL value leaves that label
 * out. Values: NaN, +Inf, -Inf, or the shortest decimal that reads back as v. */
void expo_sample(expo *e, const char *const *labels, double v);

/* The text so far (NUL-terminated, owned by e); *len its length if len. */
const char *expo_text(const expo *e, size_t *len);
/* The first misuse (a bad or repeated name, a sample outside a family), NULL if
 * none. Owned by e. */
const char *expo_error(const expo *e);

/* The escaped form of a label value (without the quotes), as expo_sample writes
 * it. Caller frees. Exposed for tests. */
char *expo_escape_label(const char *v);
/* A number as expo_sample writes it into buf (at least 32 bytes). */
void expo_format_value(double v, char *buf, size_t size);
/* Whether name is a valid metric name / label name. */
bool expo_metric_name_ok(const char *name);
bool expo_label_name_ok(const char *name);

#endif
