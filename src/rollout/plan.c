/* plan: Ansible's serial batching and max_fail_percentage gate, to the letter. */
#include "rollout/plan.h"
#include "util/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void serial_free(serial_spec *s)
{
	free(s->items);
	s->items = NULL;
	s->n = 0;
}

static void push(serial_spec *s, bool percent, long v)
{
	s->items = xrealloc(s->items, (s->n + 1) * sizeof *s->items);
	s->items[s->n++] = (serial_item){ .percent = percent, .value = v };
}

/* Python's int(str): optional blanks, a sign, digits with single underscores
 * between them, blanks. */
static int py_int(const char *s, size_t len, long *out)
{
	size_t i = 0;
	while (i < len && isspace((unsigned char)s[i]))
		i++;
	while (len > i && isspace((unsigned char)s[len - 1]))
		len--;
	bool neg = false;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (i >= len || !isdigit((unsigned char)s[i]))
		return -1;
	long v = 0;
	for (; i < len; i++) {
		if (s[i] == '_') {
			if (i + 1 >= len || !isdigit((unsigned char)s[i + 1]) || !isdigit((unsigned char)s[i - 1]))
				return -1;
			continue;
		}
		if (!isdigit((unsigned char)s[i]))
			return -1;
		/* Python's ints are unbounded: a huge count is as good as LONG_MAX hosts */
		v = v > (LONG_MAX - 9) / 10 ? LONG_MAX : v * 10 + (s[i] - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

static int parse_item(const char *s, size_t len, serial_spec *out, char **err)
{
	long v;
	/* Ansible: a string ending in '%' is a percentage, int() of what is left once
	 * every '%' is removed; anything else is int(value) */
	if (len > 0 && s[len - 1] == '%') {
		char *tmp = xstrndup(s, len);
		size_t o = 0;
		for (size_t i = 0; tmp[i]; i++)
			if (tmp[i] != '%')
				tmp[o++] = tmp[i];
		tmp[o] = '\0';
		int rc = py_int(tmp, o, &v);
		free(tmp);
		if (rc < 0) {
			*err = xasprintf("serial entry '%.*s': a percentage must be a whole number, such as 10%%", (int)len, s);
			return -1;
		}
		push(out, true, v);
		return 0;
	}
	if (py_int(s, len, &v) < 0) {
		*err = xasprintf("serial entry '%.*s' is neither a number of devices nor a percentage", (int)len, s);
		return -1;
	}
	push(out, false, v);
	return 0;
}

int serial_parse(const char *text, serial_spec *out, char **err)
{
	memset(out, 0, sizeof *out);
	const char *p = text;
	while (isspace((unsigned char)*p))
		p++;
	if (!*p || strcmp(p, "all") == 0)
		return 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (parse_item(p, len, out, err) < 0) {
			serial_free(out);
			return -1;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	return 0;
}

static int item_from_json(const json_t *v, serial_spec *out, char **err)
{
	if (json_is_integer(v)) {
		push(out, false, (long)json_integer_value(v));
		return 0;
	}
	if (json_is_real(v)) { /* int(2.7) == 2 */
		double d = json_real_value(v);
		if (!isfinite(d) || fabs(d) > 1e15) {
			*err = xstrdup("serial entry is not a finite number");
			return -1;
		}
		push(out, false, (long)trunc(d));
		return 0;
	}
	if (json_is_string(v))
		return parse_item(json_string_value(v), json_string_length(v), out, err);
	*err = xstrdup("serial entries are numbers or strings such as \"10%\"");
	return -1;
}

int serial_from_json(const json_t *v, serial_spec *out, char **err)
{
	memset(out, 0, sizeof *out);
	if (!v || json_is_null(v))
		return 0;
	if (json_is_array(v)) {
		size_t i;
		json_t *it;
		json_array_foreach(v, i, it)
		{
			if (item_from_json(it, out, err) < 0) {
				serial_free(out);
				return -1;
			}
		}
		return 0;
	}
	if (item_from_json(v, out, err) < 0) {
		serial_free(out);
		return -1;
	}
	return 0;
}

char *serial_format(const serial_spec *s)
{
	if (s->n == 0)
		return xstrdup("all");
	size_t cap = s->n * 24 + 1, o = 0;
	char *buf = xmalloc(cap);
	buf[0] = '\0';
	for (size_t i = 0; i < s->n; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%ld%s", i ? "," : "", s->items[i].value,
				      s->items[i].percent ? "%" : "");
	return buf;
}

json_t *serial_to_json(const serial_spec *s)
{
	json_t *a = json_array();
	for (size_t i = 0; i < s->n; i++) {
		if (s->items[i].percent)
			json_array_append_new(a, json_sprintf("%ld%%", s->items[i].value));
		else
			json_array_append_new(a, json_integer(s->items[i].value));
	}
	return a;
}

/* pct_to_int(value, num_items, min_value=1) */
static long item_size(const serial_item *it, size_t total)
{
	if (!it->percent)
		return it->value;
	/* int((value_pct / 100.0) * num_items) or 1, in doubles as Python computes it */
	double d = ((double)it->value / 100.0) * (double)total;
	long v = d >= (double)LONG_MAX ? LONG_MAX : d <= (double)LONG_MIN ? LONG_MIN : (long)d;
	return v ? v : 1;
}

void serial_batches(const serial_spec *s, size_t nhosts, size_t **sizes, size_t *nbatches)
{
	*sizes = NULL;
	*nbatches = 0;
	size_t cap = 0, left = nhosts, cur = 0;
	while (left > 0) {
		long size = s->n ? item_size(&s->items[cur], nhosts) : -1;
		size_t take = size <= 0 || (unsigned long)size >= left ? left : (size_t)size;
		*sizes = xgrow(*sizes, &cap, *nbatches + 1, sizeof **sizes);
		(*sizes)[(*nbatches)++] = take;
		left -= take;
		if (size <= 0)
			break;
		if (cur + 1 < s->n)
			cur++;
	}
}

static const char *const strategy_names[] = { "rolling", "canary", "all-at-once" };

int rollout_strategy_parse(const char *name)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(name, strategy_names[i]) == 0)
			return i;
	if (strcmp(name, "all_at_once") == 0 || strcmp(name, "all") == 0)
		return STRATEGY_ALL_AT_ONCE;
	return -1;
}

const char *rollout_strategy_name(rollout_strategy s)
{
	return (unsigned)s < 3 ? strategy_names[s] : "?";
}

void serial_for_strategy(rollout_strategy st, long batch_size, serial_spec *out)
{
	memset(out, 0, sizeof *out);
	if (batch_size <= 0)
		batch_size = 10;
	switch (st) {
	case STRATEGY_CANARY:
		push(out, true, 5); /* int(0.05 * n) or 1: the write-up's max(1, n // 20) */
		push(out, false, batch_size);
		break;
	case STRATEGY_ROLLING:
		push(out, false, batch_size);
		break;
	case STRATEGY_ALL_AT_ONCE:
		break;
	}
}

int max_fail_parse(const char *text, double *pct, char **err)
{
	/* Ansible's 'percent' attribute: every '%' removed, then float() */
	size_t len = strlen(text), o = 0;
	char *tmp = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		if (text[i] != '%')
			tmp[o++] = text[i];
	tmp[o] = '\0';
	char *end;
	errno = 0;
	double v = strtod(tmp, &end);
	while (isspace((unsigned char)*end))
		end++;
	bool bad = end == tmp || *end || errno == ERANGE || !isfinite(v) || v < 0;
	free(tmp);
	if (bad) {
		*err = xasprintf("max fail percentage '%s' is not a number from 0 to 100", text);
		return -1;
	}
	*pct = v;
	return 0;
}

const char *gate_result_name(gate_result g)
{
	static const char *const names[] = { "pass", "fail", "inconclusive" };
	return (unsigned)g < 3 ? names[g] : "?";
}

gate_result gate_max_fail(size_t batch_size, size_t succeeded, size_t failed, double max_fail_pct,
			  size_t min_judged)
{
	if (batch_size == 0)
		return GATE_PASS;
	if (failed >= batch_size)
		return GATE_FAIL;
	size_t done = succeeded + failed;
	if (done == 0)
		return GATE_INCONCLUSIVE;
	if (max_fail_pct < 0)
		return GATE_PASS;
	if (done < min_judged)
		return failed ? GATE_INCONCLUSIVE : GATE_PASS;
	/* (len(failed_hosts) / batch_size) > (max_fail_percentage / 100.0) */
	if ((double)failed / (double)batch_size > max_fail_pct / 100.0)
		return GATE_FAIL;
	return GATE_PASS;
}

bool rollout_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128 || !isalnum((unsigned char)s[0]) || strstr(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._+-", s[i]))
			return false;
	return true;
}
