/* yamlinv: ansible/plugins/inventory/yaml.py in C: groups with vars, children and hosts from a YAML or JSON mapping. */
#include "inventory/yamlinv.h"
#include "inventory/hostrange.h"
#include "inventory/yamlload.h"
#include "util/xalloc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
	inventory *inv;
	const char *path;
	yamlload_doc *doc;
	char **err;
};

/* The keys of a section: a mapping's, or the one key a string stands for
 * (yaml.py turns `hosts: web1` into `hosts: {web1: None}`). */
struct entries {
	const struct yamlload_key *keys;
	size_t n;
	const json_t *map; /* NULL: the single key `one`, whose value is None */
	struct yamlload_key one;
};

static int fail(struct ctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (c->err)
		*c->err = xasprintf("%s:%d: %s", c->path, line > 0 ? line : 1, msg);
	free(msg);
	return -1;
}

static void warn_cb(void *inv, const char *msg)
{
	inv_warn(inv, "%s", msg);
}

static bool key_is_string(const struct yamlload_key *k)
{
	return k->type == YL_STR || k->type == YL_JSON_STR || k->type == YL_UNSAFE;
}

/* Python's bool() of a key: keys are never containers */
static bool key_truthy(const struct yamlload_key *k)
{
	switch (k->type) {
	case YL_NONE:
		return false;
	case YL_BOOL:
		return strcmp(k->name, "true") == 0;
	case YL_INT:
	case YL_FLOAT:
		return strtod(k->name, NULL) != 0 || strcmp(k->name, "NaN") == 0;
	default:
		return k->name[0] != '\0';
	}
}

static json_t *entry_value(const struct entries *e, size_t i)
{
	return e->map ? json_object_get(e->map, e->keys[i].name) : json_null();
}

static void entries_of(struct ctx *c, json_t *v, int line, struct entries *e)
{
	memset(e, 0, sizeof *e);
	const char *s = yamlload_text(c->doc, v);
	if (s) {
		e->one.name = e->one.str = s;
		e->one.type = yamlload_type(c->doc, v);
		e->one.line = yamlload_line(c->doc, v) ? yamlload_line(c->doc, v) : line;
		e->keys = &e->one;
		e->n = 1;
	} else if (yamlload_is_mapping(c->doc, v)) {
		e->keys = yamlload_keys(c->doc, v, &e->n);
		e->map = v;
	}
}

/* The value of a string key `name` in a mapping (Python's `name in d`), or NULL. */
static json_t *section(struct ctx *c, json_t *map, const char *name, const struct yamlload_key **key)
{
	size_t n;
	const struct yamlload_key *k = yamlload_keys(c->doc, map, &n);
	for (size_t i = 0; i < n; i++) {
		if (key_is_string(&k[i]) && strcmp(k[i].name, name) == 0) {
			if (key)
				*key = &k[i];
			return json_object_get(map, k[i].name);
		}
	}
	return NULL;
}

static int value_line(struct ctx *c, const json_t *v, int fallback)
{
	int line = yamlload_line(c->doc, v);
	return line ? line : fallback;
}

static int parse_group(struct ctx *c, const struct yamlload_key *k, json_t *data, inv_group **out);

static int parse_vars(struct ctx *c, inv_group *g, const struct entries *e)
{
	for (size_t i = 0; i < e->n; i++) {
		const struct yamlload_key *k = &e->keys[i];
		json_t *v = entry_value(e, i);
		if (key_is_string(k) && strcmp(k->name, "ansible_group_priority") == 0) {
			/* Group.set_variable(): set_priority(int(value)) */
			long long prio;
			char *msg = NULL;
			if (yamlload_int(c->doc, v, &prio, &msg)) {
				fail(c, k->line, "%s", msg);
				free(msg);
				return -1;
			}
			inv_group_set_var(g, k->name, json_integer(prio), NULL);
			continue;
		}
		inv_group_set_var(g, k->name, json_incref(v), NULL);
	}
	return 0;
}

/* InventoryData.add_child(group, child): child names a group or, failing that, a host. */
static int add_child(struct ctx *c, inv_group *g, inv_group *child, const struct yamlload_key *k)
{
	char *err = NULL;
	if (!child && key_is_string(k))
		child = inv_group_get(c->inv, k->name);
	if (child) {
		if (inv_group_add_child(c->inv, g, child, &err) < 0) {
			fail(c, k->line, "%s", err);
			free(err);
			return -1;
		}
		return 0;
	}
	inv_host *h = key_is_string(k) ? inv_host_get(c->inv, k->name) : NULL;
	if (!h)
		return fail(c, k->line, "%s is not a known host nor group", k->str);
	inv_group_add_host(c->inv, g, h);
	return 0;
}

static int parse_children(struct ctx *c, inv_group *g, const struct entries *e)
{
	for (size_t i = 0; i < e->n; i++) {
		inv_group *child;
		if (parse_group(c, &e->keys[i], entry_value(e, i), &child))
			return -1;
		if (add_child(c, g, child, &e->keys[i]))
			return -1;
	}
	return 0;
}

/* _parse_host + _populate_host_vars */
static int parse_hosts(struct ctx *c, inv_group *g, const struct entries *e)
{
	for (size_t i = 0; i < e->n; i++) {
		const struct yamlload_key *k = &e->keys[i];
		json_t *vars = entry_value(e, i);
		if (!key_is_string(k))
			return fail(c, k->line, "Host pattern %s must be a string. Enclose integers/floats in quotation marks.",
				    k->str);
		char **names, *err = NULL;
		size_t n;
		long port;
		if (hostrange_expand_max(k->name, inv_range_budget(c->inv), &names, &n, &port, &err)) {
			fail(c, k->line, "%s", err);
			free(err);
			return -1;
		}
		/* `variables or {}`: anything falsy means no variables */
		struct entries ve = { 0 };
		if (yamlload_truthy(c->doc, vars)) {
			if (!yamlload_is_mapping(c->doc, vars)) {
				char *s = yamlload_str(c->doc, vars);
				fail(c, value_line(c, vars, k->line), "Invalid data from file, expected dictionary and got: %s", s);
				free(s);
				hostrange_free(names, n);
				return -1;
			}
			entries_of(c, vars, k->line, &ve);
		}
		for (size_t j = 0; j < n; j++) {
			if (!names[j][0]) {
				fail(c, k->line, "Invalid empty host name provided: ");
				hostrange_free(names, n);
				return -1;
			}
			bool existed = inv_host_get(c->inv, names[j]) != NULL;
			inv_host *h = inv_host_add(c->inv, names[j], g);
			/* Host(name, port) sets ansible_port only when the host is created */
			if (!existed && port > 0)
				inv_host_set_var(h, "ansible_port", json_integer(port));
			for (size_t v = 0; v < ve.n; v++)
				inv_host_set_var(h, ve.keys[v].name, json_incref(entry_value(&ve, v)));
		}
		hostrange_free(names, n);
	}
	return 0;
}

/* _parse_group(): *out is the group added, or NULL when the data was skipped. */
static int parse_group(struct ctx *c, const struct yamlload_key *k, json_t *data, inv_group **out)
{
	static const char *const sections[] = { "vars", "children", "hosts" };
	yamlload_doc *d = c->doc;
	*out = NULL;
	if (!(yamlload_is_mapping(d, data) || json_is_null(data))) {
		inv_warn(c->inv, "Skipping '%s' as this is not a valid group definition", k->str);
		return 0;
	}
	/* InventoryData.add_group() */
	if (!key_truthy(k))
		return fail(c, k->line, "Unable to add group %s: Invalid empty/false group name provided: %s", k->str, k->str);
	if (!key_is_string(k))
		return fail(c, k->line, "Unable to add group %s: Invalid group name supplied, expected a string but got %s for %s",
			    k->str, yamlload_type_repr(k->type), k->str);
	inv_group *g = inv_group_add(c->inv, k->name);
	*out = g;
	if (json_is_null(data))
		return 0;

	for (size_t i = 0; i < 3; i++) {
		const struct yamlload_key *sk;
		json_t *v = section(c, data, sections[i], &sk);
		if (v && !yamlload_is_string(d, v) && !yamlload_is_mapping(d, v) && !json_is_null(v))
			return fail(c, value_line(c, v, sk->line),
				    "Invalid \"%s\" entry for \"%s\" group, requires a dictionary, found \"%s\" instead.",
				    sections[i], g->name, yamlload_type_repr(yamlload_type(d, v)));
	}

	size_t n;
	const struct yamlload_key *keys = yamlload_keys(d, data, &n);
	for (size_t i = 0; i < n; i++) {
		const struct yamlload_key *sk = &keys[i];
		json_t *v = json_object_get(data, sk->name);
		int which = -1;
		for (int s = 0; s < 3 && key_is_string(sk); s++)
			if (strcmp(sk->name, sections[s]) == 0)
				which = s;
		if (!(which >= 0 && yamlload_is_string(d, v)) && !yamlload_is_mapping(d, v) && !json_is_null(v)) {
			inv_warn(c->inv, "Skipping key (%s) in group (%s) as it is not a mapping, it is a %s", sk->str, g->name,
				 yamlload_type_repr(yamlload_type(d, v)));
			continue;
		}
		if (json_is_null(v))
			continue;
		if (which < 0) {
			inv_warn(c->inv, "Skipping unexpected key (%s) in group (%s), only \"vars\", \"children\" and \"hosts\" are valid",
				 sk->str, g->name);
			continue;
		}
		struct entries e;
		entries_of(c, v, sk->line, &e);
		int rc = which == 0 ? parse_vars(c, g, &e) : which == 1 ? parse_children(c, g, &e) : parse_hosts(c, g, &e);
		if (rc)
			return -1;
	}
	return 0;
}

int yamlinv_parse_status(inventory *inv, const char *path, const char *data, size_t len,
			 enum yamlinv_status *status, char **err)
{
	struct ctx c = { inv, path, NULL, err };
	enum yamlinv_status st = YAMLINV_OK;
	int rc = -1;
	if (yamlload_parse(path, data, len, warn_cb, inv, &c.doc, err)) {
		st = YAMLINV_NOT_YAML;
		goto out;
	}
	json_t *root = yamlload_root(c.doc);
	if (!yamlload_truthy(c.doc, root)) {
		st = YAMLINV_EMPTY;
		fail(&c, value_line(&c, root, 1), "Parsed empty YAML file");
		goto out;
	}
	if (!yamlload_is_mapping(c.doc, root)) {
		st = YAMLINV_NOT_MAPPING;
		fail(&c, value_line(&c, root, 1), "YAML inventory has invalid structure, it should be a dictionary, got: %s",
		     yamlload_type_repr(yamlload_type(c.doc, root)));
		goto out;
	}
	const struct yamlload_key *pk;
	json_t *plugin = section(&c, root, "plugin", &pk);
	if (plugin && yamlload_truthy(c.doc, plugin)) {
		st = YAMLINV_PLUGIN_CONFIG;
		fail(&c, pk->line, "Plugin configuration YAML file, not YAML inventory");
		goto out;
	}
	size_t n;
	const struct yamlload_key *keys = yamlload_keys(c.doc, root, &n);
	for (size_t i = 0; i < n; i++) {
		inv_group *g;
		if (parse_group(&c, &keys[i], json_object_get(root, keys[i].name), &g)) {
			st = YAMLINV_INVALID;
			goto out;
		}
	}
	rc = 0;
out:
	yamlload_free(c.doc);
	if (status)
		*status = st;
	return rc;
}

int yamlinv_parse(inventory *inv, const char *path, const char *data, size_t len, char **err)
{
	return yamlinv_parse_status(inv, path, data, len, NULL, err);
}
