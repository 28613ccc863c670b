/* device: names, parsing and classification of a device's state. */
#include "device/device.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	int rank;
} states[] = {
#define X(id, name, rank) { name, rank },
	DEV_STATE_LIST(X)
#undef X
};

static const struct {
	const char *name;
	const char *text;
} reasons[] = {
#define X(id, name, text) { name, text },
	DEV_REASON_LIST(X)
#undef X
};

const char *dev_state_name(dev_state s)
{
	return (unsigned)s < DEV_STATE_COUNT ? states[s].name : "?";
}

int dev_state_rank(dev_state s)
{
	return (unsigned)s < DEV_STATE_COUNT ? states[s].rank : 0;
}

int dev_state_parse(const char *name)
{
	for (int i = 0; i < DEV_STATE_COUNT; i++)
		if (strcmp(states[i].name, name) == 0)
			return i;
	return -1;
}

const char *dev_reason_name(dev_reason r)
{
	return (unsigned)r < DEV_REASON_COUNT ? reasons[r].name : "?";
}

const char *dev_reason_text(dev_reason r)
{
	return (unsigned)r < DEV_REASON_COUNT ? reasons[r].text : "?";
}

int dev_reason_parse(const char *name)
{
	for (int i = 0; i < DEV_REASON_COUNT; i++)
		if (strcmp(reasons[i].name, name) == 0)
			return i;
	return -1;
}

bool dev_reason_unreachable(dev_reason r)
{
	switch (r) {
	case DEV_REASON_REFUSED:
	case DEV_REASON_TIMEOUT:
	case DEV_REASON_DNS:
	case DEV_REASON_AUTH:
	case DEV_REASON_HOSTKEY:
	case DEV_REASON_RESET:
	case DEV_REASON_NETWORK:
		return true;
	default:
		return false;
	}
}

void dev_status_clear(dev_status *st)
{
	free(st->status);
	free(st->model_name);
	free(st->model_version);
	free(st->gpu_type);
	memset(st, 0, sizeof *st);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void dev_status_copy(dev_status *dst, const dev_status *src)
{
	if (dst == src)
		return;
	dev_status_clear(dst);
	*dst = *src;
	dst->status = dup_or_null(src->status);
	dst->model_name = dup_or_null(src->model_name);
	dst->model_version = dup_or_null(src->model_version);
	dst->gpu_type = dup_or_null(src->gpu_type);
}

void dev_sample_clear(dev_sample *s)
{
	free(s->detail);
	dev_status_clear(&s->st);
	memset(s, 0, sizeof *s);
}

#define MAX_STR 256

/* How much a field is required: not at all, its key (null: the device cannot
 * tell, e.g. an agentless device without a GPU thermal zone), or a value. */
enum { OPTIONAL, KEY, VALUE };

static int get_str(const json_t *j, const char *key, int required, char **out, char **err)
{
	json_t *v = json_object_get(j, key);
	if (!v || json_is_null(v)) {
		if (required == VALUE || (required == KEY && !v)) {
			*err = xasprintf("missing \"%s\"", key);
			return -1;
		}
		return 0;
	}
	if (json_is_string(v)) {
		if (json_string_length(v) > MAX_STR || strlen(json_string_value(v)) != json_string_length(v)) {
			*err = xasprintf("\"%s\" is too long or holds a NUL", key);
			return -1;
		}
		*out = xstrdup(json_string_value(v));
		return 0;
	}
	if (json_is_number(v)) { /* versions like 3.2 arrive as numbers from some agents */
		char buf[64];
		if (json_is_integer(v))
			snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		else
			snprintf(buf, sizeof buf, "%.15g", json_real_value(v));
		*out = xstrdup(buf);
		return 0;
	}
	*err = xasprintf("\"%s\" is not a string", key);
	return -1;
}

static int get_num(const json_t *j, const char *key, int required, double *out, unsigned bit,
		   unsigned *have, char **err)
{
	json_t *v = json_object_get(j, key);
	if (!v || json_is_null(v)) {
		if (required == VALUE || (required == KEY && !v)) {
			*err = xasprintf("missing \"%s\"", key);
			return -1;
		}
		return 0;
	}
	if (!json_is_number(v)) {
		*err = xasprintf("\"%s\" is not a number", key);
		return -1;
	}
	*out = json_number_value(v);
	*have |= bit;
	return 0;
}

int dev_status_from_json(dev_status *st, const json_t *j, char **err)
{
	dev_status_clear(st);
	if (!json_is_object(j)) {
		*err = xstrdup("answer is not a JSON object");
		return -1;
	}
	if (get_str(j, "status", VALUE, &st->status, err) || get_str(j, "model_name", KEY, &st->model_name, err) ||
	    get_str(j, "model_version", KEY, &st->model_version, err) ||
	    get_str(j, "gpu_type", OPTIONAL, &st->gpu_type, err) ||
	    get_num(j, "gpu_temp", KEY, &st->gpu_temp, DEV_HAVE_GPU_TEMP, &st->have, err) ||
	    get_num(j, "uptime_hours", KEY, &st->uptime_hours, DEV_HAVE_UPTIME, &st->have, err) ||
	    get_num(j, "gpu_util", OPTIONAL, &st->gpu_util, DEV_HAVE_GPU_UTIL, &st->have, err) ||
	    get_num(j, "gpu_mem_used", OPTIONAL, &st->gpu_mem_used, DEV_HAVE_GPU_MEM_USED, &st->have, err) ||
	    get_num(j, "gpu_mem_total", OPTIONAL, &st->gpu_mem_total, DEV_HAVE_GPU_MEM_TOTAL, &st->have, err) ||
	    get_num(j, "power_w", OPTIONAL, &st->power_w, DEV_HAVE_POWER, &st->have, err) ||
	    get_num(j, "latency_p95_ms", OPTIONAL, &st->latency_p95_ms, DEV_HAVE_LATENCY_P95, &st->have, err) ||
	    get_num(j, "error_rate", OPTIONAL, &st->error_rate, DEV_HAVE_ERROR_RATE, &st->have, err)) {
		dev_status_clear(st);
		return -1;
	}
	json_t *ml = json_object_get(j, "model_loaded");
	if (json_is_boolean(ml)) {
		st->model_loaded = json_is_true(ml);
		st->have |= DEV_HAVE_MODEL_LOADED;
	}
	return 0;
}

dev_state dev_state_from_status(const dev_status *st)
{
	if (!st->status)
		return DEV_UNHEALTHY;
	if (strcmp(st->status, "healthy") == 0)
		return DEV_HEALTHY;
	if (strcmp(st->status, "degraded") == 0)
		return DEV_DEGRADED;
	return DEV_UNHEALTHY;
}
