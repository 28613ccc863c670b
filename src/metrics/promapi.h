/* promapi: answers of the Prometheus HTTP API (/api/v1/query) read strictly:
 * an instant vector's samples, each reduced to the values of the labels the
 * caller asks for and its value ("NaN", "+Inf" as Prometheus writes them), and
 * the API's own error answers. Pure: no I/O; nothing here prints. */
#ifndef FLEETDECK_METRICS_PROMAPI_H
#define FLEETDECK_METRICS_PROMAPI_H

#include <stdbool.h>
#include <stddef.h>

enum { PROMAPI_MAX_LABELS = 4 };

/* One sample of an instant vector. */
typedef struct promapi_sample {
	char *label[PROMAPI_MAX_LABELS]; /* owned: the asked labels' values in the order asked;
	                                    NULL where the series lacks the label */
	double value;          /* NaN and ±Inf as the API gave them */
	double ts;             /* the sample's time, seconds since the epoch */
} promapi_sample;

typedef struct promapi_vector {
	promapi_sample *s;     /* owned */
	size_t n;
	size_t unlabelled;     /* series left out: the first asked label was missing */
	char *warnings;        /* owned: the API's "warnings", joined with "; "; NULL if none */
} promapi_vector;

void promapi_vector_clear(promapi_vector *v); /* frees, zeroes; accepts a zeroed one */

/* Reads an /api/v1/query answer body (any HTTP status: an error answer's
 * "errorType" and "error" become *err). labels (nlabels from 1 to
 * PROMAPI_MAX_LABELS) are the label names to keep, the first the one the caller
 * joins on: a series without it is counted in unlabelled and left out. Label
 * values longer than 1024 bytes are refused. Returns 0 and fills *out (cleared
 * first), or -1 with *err (caller frees): not JSON, not a vector, a sample of the
 * wrong shape, a value that is not a number. */
int promapi_parse_vector(const char *body, size_t len, const char *const *labels, size_t nlabels,
			 promapi_vector *out, char **err);

/* A sample value as the API writes it: a decimal or "NaN", "+Inf", "-Inf"
 * (also "Inf"). 0, or -1 if s is anything else. */
int promapi_parse_value(const char *s, double *out);

/* Whether name is a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*). */
bool promapi_label_name_valid(const char *name);

/* s as a PromQL double-quoted string literal (quotes included; backslash,
 * quote and newline escaped). Caller frees. */
char *promapi_quote(const char *s);

#endif
