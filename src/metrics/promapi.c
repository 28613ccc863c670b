/* promapi: strict reading of Prometheus HTTP API answers (instant vectors, errors). */
#include "metrics/promapi.h"
#include "util/xalloc.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_LABEL_VALUE = 1024 };

void promapi_vector_clear(promapi_vector *v)
{
	for (size_t i = 0; i < v->n; i++)
		for (int k = 0; k < PROMAPI_MAX_LABELS; k++)
			free(v->s[i].label[k]);
	free(v->s);
	free(v->warnings);
	memset(v, 0, sizeof *v);
}

bool promapi_label_name_valid(const char *name)
{
	if (!name || !*name || (*name >= '0' && *name <= '9'))
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

char *promapi_quote(const char *s)
{
	size_t n = 3;
	for (const char *p = s; *p; p++)
		n += (*p == '\\' || *p == '"' || *p == '\n') ? 2 : 1;
	char *out = xmalloc(n), *o = out;
	*o++ = '"';
	for (const char *p = s; *p; p++) {
		if (*p == '\n') {
			*o++ = '\\';
			*o++ = 'n';
			continue;
		}
		if (*p == '\\' || *p == '"')
			*o++ = '\\';
		*o++ = *p;
	}
	*o++ = '"';
	*o = '\0';
	return out;
}

int promapi_parse_value(const char *s, double *out)
{
	if (!s)
		return -1;
	if (!strcmp(s, "NaN")) {
		*out = NAN;
		return 0;
	}
	if (!strcmp(s, "+Inf") || !strcmp(s, "Inf")) {
		*out = INFINITY;
		return 0;
	}
	if (!strcmp(s, "-Inf")) {
		*out = -INFINITY;
		return 0;
	}
	/* a plain decimal only: strtod would also take "nan(...)", "infinity" and hex */
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	bool digits = false;
	while (*p >= '0' && *p <= '9')
		p++, digits = true;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++, digits = true;
	}
	if (!digits)
		return -1;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p)
		return -1;
	errno = 0;
	char *end;
	double v = strtod(s, &end);
	if (*end || (errno == ERANGE && isinf(v)))
		return -1;
	*out = v;
	return 0;
}

static int fail(char **err, char *msg)
{
	*err = msg;
	return -1;
}

/* The API's error answer: {"status": "error", "errorType": "...", "error": "..."}. */
static int api_error(const json_t *root, char **err)
{
	const char *type = json_string_value(json_object_get(root, "errorType"));
	const char *msg = json_string_value(json_object_get(root, "error"));
	char cut[301];
	snprintf(cut, sizeof cut, "%s", msg ? msg : "no message");
	for (char *c = cut; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return fail(err, xasprintf("Prometheus answered an error: %s%s%s", type ? type : "", type ? ": " : "", cut));
}

static char *join_warnings(const json_t *w)
{
	if (!json_is_array(w) || json_array_size(w) == 0)
		return NULL;
	char *out = NULL;
	for (size_t i = 0; i < json_array_size(w) && i < 8; i++) {
		const char *s = json_string_value(json_array_get(w, i));
		if (!s)
			continue;
		char *next = out ? xasprintf("%s; %.200s", out, s) : xasprintf("%.200s", s);
		free(out);
		out = next;
	}
	return out;
}

int promapi_parse_vector(const char *body, size_t len, const char *const *labels, size_t nlabels,
			 promapi_vector *out, char **err)
{
	memset(out, 0, sizeof *out);
	if (nlabels < 1 || nlabels > PROMAPI_MAX_LABELS)
		return fail(err, xasprintf("promapi: %zu labels asked (1 to %d)", nlabels, PROMAPI_MAX_LABELS));
	json_error_t je;
	json_t *root = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return fail(err, xasprintf("not a Prometheus API answer: line %d: %s", je.line, je.text));
	int rc = -1;
	const char *status = json_string_value(json_object_get(root, "status"));
	if (!json_is_object(root) || !status) {
		fail(err, xstrdup("not a Prometheus API answer: no \"status\""));
		goto out;
	}
	if (!strcmp(status, "error")) {
		api_error(root, err);
		goto out;
	}
	if (strcmp(status, "success")) {
		fail(err, xasprintf("not a Prometheus API answer: status '%.20s'", status));
		goto out;
	}
	json_t *data = json_object_get(root, "data");
	const char *type = json_string_value(json_object_get(data, "resultType"));
	json_t *result = json_object_get(data, "result");
	if (!type || !json_is_array(result)) {
		fail(err, xstrdup("not a Prometheus API answer: no data.resultType and data.result"));
		goto out;
	}
	if (strcmp(type, "vector")) {
		fail(err, xasprintf("expected an instant vector, got a %.20s", type));
		goto out;
	}
	size_t n = json_array_size(result);
	out->s = n ? xcalloc(n, sizeof *out->s) : NULL;
	for (size_t i = 0; i < n; i++) {
		json_t *r = json_array_get(result, i), *metric = json_object_get(r, "metric"),
		       *value = json_object_get(r, "value");
		if (!json_is_object(metric) || !json_is_array(value) || json_array_size(value) != 2 ||
		    !json_is_number(json_array_get(value, 0)) || !json_is_string(json_array_get(value, 1))) {
			fail(err, xasprintf("result %zu: expected {\"metric\": {...}, \"value\": [time, \"value\"]}", i));
			goto out;
		}
		double v;
		const char *vs = json_string_value(json_array_get(value, 1));
		if (promapi_parse_value(vs, &v)) {
			fail(err, xasprintf("result %zu: value '%.40s' is not a number", i, vs));
			goto out;
		}
		const char *lv[PROMAPI_MAX_LABELS] = { 0 };
		for (size_t k = 0; k < nlabels; k++) {
			json_t *l = json_object_get(metric, labels[k]);
			if (!l)
				continue;
			if (!json_is_string(l) || json_string_length(l) > MAX_LABEL_VALUE ||
			    strlen(json_string_value(l)) != json_string_length(l)) {
				fail(err, xasprintf("result %zu: label %s: expected a string of at most %d bytes", i,
						    labels[k], MAX_LABEL_VALUE));
				goto out;
			}
			lv[k] = json_string_value(l);
		}
		if (!lv[0]) {
			out->unlabelled++;
			continue;
		}
		promapi_sample *s = &out->s[out->n++];
		for (size_t k = 0; k < nlabels; k++)
			s->label[k] = lv[k] ? xstrdup(lv[k]) : NULL;
		s->value = v;
		s->ts = json_number_value(json_array_get(value, 0));
	}
	out->warnings = join_warnings(json_object_get(root, "warnings"));
	rc = 0;
out:
	if (rc)
		promapi_vector_clear(out);
	json_decref(root);
	return rc;
}
