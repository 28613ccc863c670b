/* inventory: Ansible's inventory data model (InventoryData, Group, Host) in C. */
#include "inventory/inventory.h"
#include "util/pyjson.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct source {
	char *path;
	char *vars_dir;
};

struct inventory {
	inv_group **groups;
	size_t ngroups, cap_groups;
	inv_host **hosts;
	size_t nhosts, cap_hosts;
	strmap *group_by_name;
	strmap *host_by_name;
	strmap *var_keys;    /* the keys of hosts' inline variables, interned (owned) */
	struct source *sources;
	size_t nsources, cap_sources;
	char **warnings;
	size_t nwarnings, cap_warnings;
	inv_host *localhost; /* the implicit one, if created */
	unsigned gen;        /* generation counter for marks */
	unsigned long version;     /* bumped on every change */
	unsigned long depth_version;
	/* inv_host_names_packed(): names of the first names_count hosts */
	char *names;
	size_t names_len, names_cap;
	size_t *names_off;
	size_t names_count, names_off_cap;
	size_t max_hosts;    /* inv_set_max_hosts(); 0: no limit */
};

/* Variables Ansible strips from `ansible-inventory` output (cli/inventory.py INTERNAL_VARS). */
static const char *const internal_vars[] = {
	"ansible_diff_mode", "ansible_config_file", "ansible_facts", "ansible_forks",
	"ansible_inventory_sources", "ansible_limit", "ansible_playbook_python",
	"ansible_run_tags", "ansible_skip_tags", "ansible_verbosity", "ansible_version",
	"inventory_dir", "inventory_file", "inventory_hostname", "inventory_hostname_short",
	"groups", "group_names", "omit", "playbook_dir",
};

#define PUSH(arr, n, cap, item)                                         \
	do {                                                            \
		(arr) = xgrow((arr), &(cap), (n) + 1, sizeof *(arr));   \
		(arr)[(n)++] = (item);                                  \
	} while (0)

/* Every change bumps the version; caches remember the version they were built at. */
static void invalidate(inventory *inv)
{
	inv->version++;
}

unsigned inv_next_mark(inventory *inv)
{
	if (++inv->gen == 0) {
		for (size_t i = 0; i < inv->ngroups; i++)
			inv->groups[i]->mark = inv->groups[i]->mark2 = 0;
		for (size_t i = 0; i < inv->nhosts; i++)
			inv->hosts[i]->mark = 0;
		if (inv->localhost)
			inv->localhost->mark = 0;
		inv->gen = 1;
	}
	return inv->gen;
}

inventory *inv_new(void)
{
	inventory *inv = xcalloc(1, sizeof *inv);
	inv->version = 1;
	inv->group_by_name = strmap_new();
	inv->host_by_name = strmap_new();
	inv->var_keys = strmap_new();
	inv_group *all = inv_group_add(inv, "all");
	inv_group *ungrouped = inv_group_add(inv, "ungrouped");
	inv_group_add_child(inv, all, ungrouped, NULL);
	return inv;
}

void inv_set_max_hosts(inventory *inv, size_t max) { inv->max_hosts = max; }

size_t inv_range_budget(const inventory *inv)
{
	if (!inv->max_hosts)
		return 0;
	return inv->max_hosts > inv->nhosts ? inv->max_hosts - inv->nhosts : 1;
}

static void free_src_vars(json_t **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(v[i]);
	free(v);
}

static void host_free(inv_host *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->nvars; i++)
		json_decref(h->vars[i].value);
	free(h->vars);
	free_src_vars(h->src_vars, h->nsrc_vars);
	free(h->groups);
	free(h);
}

void inv_free(inventory *inv)
{
	if (!inv)
		return;
	for (size_t i = 0; i < inv->ngroups; i++) {
		inv_group *g = inv->groups[i];
		free(g->name);
		json_decref(g->vars);
		free_src_vars(g->src_vars, g->nsrc_vars);
		free(g->children);
		free(g->parents);
		free(g->hosts);
		free(g->all_hosts);
		free(g);
	}
	for (size_t i = 0; i < inv->nhosts; i++)
		host_free(inv->hosts[i]);
	host_free(inv->localhost);
	for (size_t i = 0; i < inv->nsources; i++) {
		free(inv->sources[i].path);
		free(inv->sources[i].vars_dir);
	}
	for (size_t i = 0; i < inv->nwarnings; i++)
		free(inv->warnings[i]);
	free(inv->warnings);
	free(inv->names);
	free(inv->names_off);
	free(inv->sources);
	free(inv->groups);
	free(inv->hosts);
	strmap_free(inv->group_by_name);
	strmap_free(inv->host_by_name);
	size_t it = 0;
	const char *key;
	while (strmap_next(inv->var_keys, &it, &key, NULL))
		free((char *)key);
	strmap_free(inv->var_keys);
	free(inv);
}

size_t inv_source_add(inventory *inv, const char *path, const char *vars_dir)
{
	struct source s = { xstrdup(path), vars_dir ? xstrdup(vars_dir) : NULL };
	PUSH(inv->sources, inv->nsources, inv->cap_sources, s);
	return inv->nsources - 1;
}

size_t inv_source_count(const inventory *inv) { return inv->nsources; }
const char *inv_source_path(const inventory *inv, size_t i) { return inv->sources[i].path; }
const char *inv_source_vars_dir(const inventory *inv, size_t i) { return inv->sources[i].vars_dir; }

void inv_warn(inventory *inv, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < inv->nwarnings; i++) {
		if (strcmp(inv->warnings[i], msg) == 0) {
			free(msg);
			return;
		}
	}
	PUSH(inv->warnings, inv->nwarnings, inv->cap_warnings, msg);
}

size_t inv_warning_count(const inventory *inv) { return inv->nwarnings; }
const char *inv_warning(const inventory *inv, size_t i) { return inv->warnings[i]; }

inv_group *inv_group_get(const inventory *inv, const char *name)
{
	return strmap_get(inv->group_by_name, name);
}

inv_host *inv_host_get(const inventory *inv, const char *name)
{
	return strmap_get(inv->host_by_name, name);
}

/* Ansible's C.INVALID_VARIABLE_NAMES: ^[\d\W]|[^\w] (bytes >= 0x80 count as word characters). */
static bool group_name_valid(const char *s)
{
	if (*s >= '0' && *s <= '9')
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (!(*p >= 0x80 || *p == '_' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return false;
	}
	return true;
}

inv_group *inv_group_add(inventory *inv, const char *name)
{
	inv_group *g = inv_group_get(inv, name);
	if (g)
		return g;
	if (!group_name_valid(name))
		inv_warn(inv, "Invalid characters were found in group names but not replaced, use -vvvv to see details");
	g = xcalloc(1, sizeof *g);
	g->name = xstrdup(name);
	g->vars = json_object();
	g->priority = 1;
	g->index = inv->ngroups;
	PUSH(inv->groups, inv->ngroups, inv->cap_groups, g);
	strmap_put(inv->group_by_name, g->name, g);
	invalidate(inv);
	return g;
}

static inv_host *host_new(inventory *inv, const char *name)
{
	/* the name in the same block: one allocation per host fewer to make and free */
	size_t len = strlen(name);
	inv_host *h = xcalloc(1, sizeof *h + len + 1);
	h->inv = inv;
	h->name = memcpy((char *)(h + 1), name, len + 1);
	return h;
}

static void names_pack(inventory *inv);

inv_host *inv_host_add(inventory *inv, const char *name, inv_group *g)
{
	inv_host *h = inv_host_get(inv, name);
	if (!h) {
		h = host_new(inv, name);
		h->index = inv->nhosts;
		PUSH(inv->hosts, inv->nhosts, inv->cap_hosts, h);
		strmap_put(inv->host_by_name, h->name, h);
		/* packed now, while the name is in cache: the first scan of all
		 * names would otherwise visit 100,000 hosts scattered in memory */
		names_pack(inv);
		invalidate(inv);
		if (inv_is_localhost_name(name) && inv->nhosts > 1) {
			/* Ansible keeps the first localhost-like host as "the" localhost. */
			for (size_t i = 0; i + 1 < inv->nhosts; i++) {
				if (inv_is_localhost_name(inv->hosts[i]->name)) {
					inv_warn(inv, "A duplicate localhost-like entry was found (%s). First found localhost was %s",
						 name, inv->hosts[i]->name);
					break;
				}
			}
		}
	}
	if (g)
		inv_group_add_host(inv, g, h);
	return h;
}

bool inv_group_add_host(inventory *inv, inv_group *g, inv_host *h)
{
	for (size_t i = 0; i < h->ngroups; i++)
		if (h->groups[i] == g)
			return false;
	PUSH(g->hosts, g->nhosts, g->cap_hosts, h);
	PUSH(h->groups, h->ngroups, h->cap_groups, g);
	invalidate(inv);
	return true;
}

bool inv_group_remove_host(inventory *inv, inv_group *g, inv_host *h)
{
	size_t i;
	for (i = 0; i < h->ngroups && h->groups[i] != g; i++)
		;
	if (i == h->ngroups)
		return false;
	memmove(&h->groups[i], &h->groups[i + 1], (h->ngroups - i - 1) * sizeof *h->groups);
	h->ngroups--;
	for (i = 0; i < g->nhosts && g->hosts[i] != h; i++)
		;
	if (i < g->nhosts) {
		memmove(&g->hosts[i], &g->hosts[i + 1], (g->nhosts - i - 1) * sizeof *g->hosts);
		g->nhosts--;
	}
	invalidate(inv);
	return true;
}

/* Is `target` reachable from g by following parents (g itself included)? */
static bool reaches_up(inventory *inv, inv_group *g, inv_group *target)
{
	unsigned m = inv_next_mark(inv);
	inv_group **stack = NULL;
	size_t n = 0, cap = 0;
	bool found = false;
	PUSH(stack, n, cap, g);
	g->mark = m;
	while (n && !found) {
		inv_group *x = stack[--n];
		if (x == target) {
			found = true;
			break;
		}
		for (size_t i = 0; i < x->nparents; i++) {
			if (x->parents[i]->mark != m) {
				x->parents[i]->mark = m;
				PUSH(stack, n, cap, x->parents[i]);
			}
		}
	}
	free(stack);
	return found;
}

int inv_group_add_child(inventory *inv, inv_group *parent, inv_group *child, char **err)
{
	if (parent == child) {
		if (err)
			*err = xstrdup("can't add group to itself");
		return -1;
	}
	for (size_t i = 0; i < parent->nchildren; i++)
		if (parent->children[i] == child)
			return 0;
	if (reaches_up(inv, parent, child)) {
		if (err)
			*err = xasprintf("Adding group '%s' as child to '%s' creates a recursive dependency loop.",
					 child->name, parent->name);
		return -1;
	}
	PUSH(parent->children, parent->nchildren, parent->cap_children, child);
	PUSH(child->parents, child->nparents, child->cap_parents, parent);
	invalidate(inv);
	return 1;
}

/* Python's int() on what an inventory may hold: ints, bools, integral strings. */
static int clamp_int(long long x)
{
	return x > INT_MAX ? INT_MAX : x < INT_MIN ? INT_MIN : (int)x;
}

/* Python's int() on what an inventory may hold: ints, bools, integral strings.
 * Python's priority is unbounded, ours an int: larger ones saturate. */
static int to_priority(json_t *v, int *out)
{
	if (json_is_integer(v)) {
		*out = clamp_int(json_integer_value(v));
		return 0;
	}
	const char *digits = pyjson_bigint_digits(v, NULL);
	if (digits) {
		*out = digits[0] == '-' ? INT_MIN : INT_MAX;
		return 0;
	}
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (isnan(d))
			return -1;
		*out = d >= INT_MAX ? INT_MAX : d <= INT_MIN ? INT_MIN : (int)d;
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		while (*s == ' ' || *s == '\t')
			s++;
		long long x = strtoll(s, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\n')
			end++;
		if (end != s && *end == '\0') {
			*out = clamp_int(x);
			return 0;
		}
	}
	return -1;
}

int inv_group_set_var(inv_group *g, const char *key, json_t *value, char **err)
{
	if (strcmp(key, "ansible_group_priority") == 0) {
		int p;
		int rc = to_priority(value, &p);
		if (rc == 0)
			g->priority = p;
		else if (err)
			*err = xasprintf("invalid literal for int() with base 10: ansible_group_priority of group %s", g->name);
		json_decref(value);
		return rc;
	}
	json_object_set_new(g->vars, key, value);
	return 0;
}

/* Does jansson take key as an object key (valid UTF-8)? */
static bool key_valid(const char *key)
{
	const unsigned char *p = (const unsigned char *)key;
	while (*p && *p < 0x80)
		p++;
	if (!*p)
		return true;
	json_t *probe = json_string(key); /* NULL if not valid UTF-8 */
	json_decref(probe);
	return probe != NULL;
}

void inv_host_set_var(inv_host *h, const char *key, json_t *value)
{
	/* what json_object_set_new() on an object would do */
	if (!value)
		return;
	if (!key || !key_valid(key)) {
		json_decref(value);
		return;
	}
	for (size_t i = 0; i < h->nvars; i++) {
		if (strcmp(h->vars[i].key, key) == 0) {
			json_t *old = h->vars[i].value;
			h->vars[i].value = value;
			json_decref(old);
			return;
		}
	}
	const char *k = strmap_get(h->inv->var_keys, key);
	if (!k) {
		k = xstrdup(key);
		strmap_put(h->inv->var_keys, k, (void *)k);
	}
	struct inv_var v = { k, value };
	PUSH(h->vars, h->nvars, h->cap_vars, v);
}

static void set_src_vars(json_t ***arr, size_t *n, size_t src, json_t *vars)
{
	if (src >= *n) {
		*arr = xrealloc(*arr, (src + 1) * sizeof **arr);
		for (size_t i = *n; i <= src; i++)
			(*arr)[i] = NULL;
		*n = src + 1;
	}
	if ((*arr)[src]) {
		json_object_update((*arr)[src], vars);
		json_decref(vars);
	} else {
		(*arr)[src] = vars;
	}
}

void inv_group_set_src_vars(inventory *inv, inv_group *g, size_t src, json_t *vars)
{
	(void)inv;
	set_src_vars(&g->src_vars, &g->nsrc_vars, src, vars);
}

void inv_host_set_src_vars(inventory *inv, inv_host *h, size_t src, json_t *vars)
{
	(void)inv;
	set_src_vars(&h->src_vars, &h->nsrc_vars, src, vars);
}

/* Does the host belong to any group besides `all` and `ungrouped` (directly or
 * through ancestry)? Since every group's ancestry reaches `all`, a host listed
 * directly in any group other than those two qualifies. */
static bool host_in_real_group(inventory *inv, inv_host *h)
{
	inv_group *all = inv->groups[0], *ung = inv->groups[1];
	for (size_t i = 0; i < h->ngroups; i++)
		if (h->groups[i] != all && h->groups[i] != ung)
			return true;
	return false;
}

int inv_reconcile(inventory *inv, char **err)
{
	inv_group *all = inv->groups[0], *ung = inv->groups[1];
	for (size_t i = 0; i < inv->ngroups; i++) {
		inv_group *g = inv->groups[i];
		if (g != all && g->nparents == 0) {
			if (inv_group_add_child(inv, all, g, err) < 0)
				return -1;
		}
	}
	for (size_t i = 0; i < inv->nhosts; i++) {
		inv_host *h = inv->hosts[i];
		bool in_ung = false;
		for (size_t j = 0; j < h->ngroups; j++)
			if (h->groups[j] == ung)
				in_ung = true;
		if (in_ung) {
			if (host_in_real_group(inv, h))
				inv_group_remove_host(inv, ung, h);
		} else if (!h->implicit && !host_in_real_group(inv, h)) {
			inv_group_add_host(inv, ung, h);
		}
		if (inv_group_get(inv, h->name))
			inv_warn(inv, "Found both group and host with same name: %s", h->name);
	}
	invalidate(inv);
	return 0;
}

size_t inv_group_count(const inventory *inv) { return inv->ngroups; }
inv_group *inv_group_at(const inventory *inv, size_t i) { return inv->groups[i]; }
size_t inv_host_count(const inventory *inv) { return inv->nhosts; }
inv_host *inv_host_at(const inventory *inv, size_t i) { return inv->hosts[i]; }

/* depth = longest path from `all`, which is what Group.add_child_group and
 * _check_children_depth maintain incrementally. Groups are visited in a
 * topological order (Kahn's algorithm over parent counts). */
static void compute_depths(inventory *inv)
{
	if (inv->depth_version == inv->version)
		return;
	size_t n = inv->ngroups;
	size_t *pending = xcalloc(n, sizeof *pending);
	inv_group **queue = xmalloc(n * sizeof *queue);
	size_t head = 0, tail = 0;
	for (size_t i = 0; i < n; i++) {
		inv->groups[i]->depth = 0;
		pending[i] = inv->groups[i]->nparents;
		if (!pending[i])
			queue[tail++] = inv->groups[i];
	}
	while (head < tail) {
		inv_group *g = queue[head++];
		for (size_t i = 0; i < g->nchildren; i++) {
			inv_group *c = g->children[i];
			if (c->depth < g->depth + 1)
				c->depth = g->depth + 1;
			if (--pending[c->index] == 0)
				queue[tail++] = c;
		}
	}
	free(pending);
	free(queue);
	inv->depth_version = inv->version;
}

inv_host *const *inv_group_hosts(inventory *inv, inv_group *g, size_t *n)
{
	if (g->all_hosts_version == inv->version) {
		*n = g->nall_hosts;
		return g->all_hosts;
	}
	/* Group._walk_relationship('child_groups', include_self=True, preserve_ordering=True):
	 * self, its children, then each further level in discovery order. */
	unsigned seen = inv_next_mark(inv);
	inv_group **ordered = NULL, **level = NULL, **next = NULL;
	size_t nord = 0, cord = 0, nlev = 0, clev = 0, nnext = 0, cnext = 0;
	PUSH(ordered, nord, cord, g);
	g->mark = seen;
	for (size_t i = 0; i < g->nchildren; i++) {
		PUSH(ordered, nord, cord, g->children[i]);
		if (g->children[i]->mark != seen) {
			g->children[i]->mark = seen;
			PUSH(level, nlev, clev, g->children[i]);
		}
	}
	while (nlev) {
		unsigned innext = inv_next_mark(inv);
		nnext = 0;
		for (size_t i = 0; i < nlev; i++) {
			inv_group *x = level[i];
			for (size_t j = 0; j < x->nchildren; j++) {
				inv_group *c = x->children[j];
				if (c->mark != seen) {
					PUSH(ordered, nord, cord, c);
					if (c->mark2 != innext) {
						c->mark2 = innext;
						PUSH(next, nnext, cnext, c);
					}
				}
			}
		}
		for (size_t i = 0; i < nnext; i++)
			next[i]->mark = seen;
		inv_group **t = level;
		level = next;
		next = t;
		size_t tc = clev;
		clev = cnext;
		cnext = tc;
		nlev = nnext;
	}
	free(level);
	free(next);

	unsigned hm = inv_next_mark(inv);
	bool is_all = g == inv->groups[0];
	free(g->all_hosts);
	g->all_hosts = NULL;
	size_t nh = 0, ch = 0;
	for (size_t i = 0; i < nord; i++) {
		inv_group *k = ordered[i];
		for (size_t j = 0; j < k->nhosts; j++) {
			inv_host *h = k->hosts[j];
			if (h->mark == hm)
				continue;
			h->mark = hm;
			if (is_all && h->implicit)
				continue;
			PUSH(g->all_hosts, nh, ch, h);
		}
	}
	free(ordered);
	g->nall_hosts = nh;
	g->all_hosts_version = inv->version;
	*n = nh;
	return g->all_hosts;
}

static int cmp_groups(const void *a, const void *b)
{
	const inv_group *x = *(inv_group *const *)a, *y = *(inv_group *const *)b;
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return strcmp(x->name, y->name);
}

inv_group **inv_host_groups_sorted(inventory *inv, inv_host *h, size_t *n)
{
	compute_depths(inv);
	unsigned m = inv_next_mark(inv);
	inv_group *all = inv->groups[0];
	inv_group **out = NULL, **stack = NULL;
	size_t nout = 0, cout = 0, ns = 0, cs = 0;
	for (size_t i = 0; i < h->ngroups; i++) {
		if (h->groups[i]->mark != m) {
			h->groups[i]->mark = m;
			PUSH(stack, ns, cs, h->groups[i]);
		}
	}
	while (ns) {
		inv_group *g = stack[--ns];
		if (g != all)
			PUSH(out, nout, cout, g);
		for (size_t i = 0; i < g->nparents; i++) {
			if (g->parents[i]->mark != m) {
				g->parents[i]->mark = m;
				PUSH(stack, ns, cs, g->parents[i]);
			}
		}
	}
	free(stack);
	if (nout > 16) {
		qsort(out, nout, sizeof *out, cmp_groups);
	} else {
		for (size_t a = 1; a < nout; a++) {
			inv_group *x = out[a];
			size_t b = a;
			while (b > 0 && cmp_groups(&out[b - 1], &x) > 0) {
				out[b] = out[b - 1];
				b--;
			}
			out[b] = x;
		}
	}
	*n = nout;
	return out;
}

/* The group variable layers of a host, lowest precedence first (see
 * inv_host_vars); the host's own (inline, then host_vars/ files) come after. */
static size_t host_layers(inventory *inv, inv_host *h, json_t ***layers, size_t *cap)
{
	inv_group *all = inv->groups[0];
	size_t ng, n = 0;
	inv_group **groups = inv_host_groups_sorted(inv, h, &ng);
	/* Ansible's default VARIABLE_PRECEDENCE: all_inventory, groups_inventory,
	 * all_plugins_inventory, all_plugins_play, groups_plugins_inventory,
	 * groups_plugins_play; then host vars, then host_vars files. */
	PUSH(*layers, n, *cap, all->vars);
	for (size_t i = 0; i < ng; i++)
		PUSH(*layers, n, *cap, groups[i]->vars);
	for (size_t s = 0; s < all->nsrc_vars; s++)
		if (all->src_vars[s])
			PUSH(*layers, n, *cap, all->src_vars[s]);
	for (size_t s = 0; s < inv->nsources; s++)
		for (size_t i = 0; i < ng; i++)
			if (s < groups[i]->nsrc_vars && groups[i]->src_vars[s])
				PUSH(*layers, n, *cap, groups[i]->src_vars[s]);
	free(groups);
	return n;
}

json_t *inv_host_vars(inventory *inv, inv_host *h)
{
	json_t **layers = NULL;
	size_t cap = 0, n = host_layers(inv, h, &layers, &cap);
	json_t *v = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_update(v, layers[i]);
	free(layers);
	for (size_t i = 0; i < h->nvars; i++)
		json_object_set(v, h->vars[i].key, h->vars[i].value);
	for (size_t s = 0; s < h->nsrc_vars; s++)
		if (h->src_vars[s])
			json_object_update(v, h->src_vars[s]);
	for (size_t i = 0; i < sizeof internal_vars / sizeof *internal_vars; i++)
		json_object_del(v, internal_vars[i]);
	return v;
}

static void list_group(inventory *inv, inv_group *g, json_t *out, unsigned seen)
{
	json_t *o = json_object();
	if (g != inv->groups[0] && g->nhosts) {
		json_t *hosts = json_array();
		for (size_t i = 0; i < g->nhosts; i++)
			json_array_append_new(hosts, json_string(g->hosts[i]->name));
		json_object_set_new(o, "hosts", hosts);
	}
	if (g->nchildren) {
		json_t *kids = json_array();
		for (size_t i = 0; i < g->nchildren; i++)
			json_array_append_new(kids, json_string(g->children[i]->name));
		json_object_set_new(o, "children", kids);
	}
	if (json_object_size(o))
		json_object_set(out, g->name, o);
	json_decref(o);
	for (size_t i = 0; i < g->nchildren; i++) {
		inv_group *c = g->children[i];
		if (c->mark != seen) {
			c->mark = seen;
			list_group(inv, c, out, seen);
		}
	}
}

json_t *inv_list_json(inventory *inv)
{
	json_t *out = json_object();
	/* marks are also used by inv_host_vars, so walk groups first */
	unsigned seen = inv_next_mark(inv);
	list_group(inv, inv->groups[0], out, seen);
	json_t *hostvars = json_object();
	size_t n;
	inv_host *const *hosts = inv_group_hosts(inv, inv->groups[0], &n);
	for (size_t i = 0; i < n; i++) {
		json_t *v = inv_host_vars(inv, hosts[i]);
		if (json_object_size(v))
			json_object_set_new(hostvars, hosts[i]->name, v);
		else
			json_decref(v);
	}
	json_t *meta = json_object();
	json_object_set_new(meta, "hostvars", hostvars);
	json_object_set_new(out, "_meta", meta);
	return out;
}

struct buf {
	char *s;
	size_t n, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	b->s = xgrow(b->s, &b->cap, b->n + n + 1, 1);
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

static void graph_name(struct buf *b, const char *prefix, const char *name, const char *suffix, int depth)
{
	for (int i = 0; i < depth; i++)
		buf_add(b, "  |", 3);
	if (depth)
		buf_add(b, "--", 2);
	buf_add(b, prefix, strlen(prefix));
	buf_add(b, name, strlen(name));
	buf_add(b, suffix, strlen(suffix));
	buf_add(b, "\n", 1);
}

static void graph_group(inventory *inv, inv_group *g, int depth, struct buf *b)
{
	graph_name(b, "@", g->name, ":", depth);
	for (size_t i = 0; i < g->nchildren; i++)
		graph_group(inv, g->children[i], depth + 1, b);
	if (g != inv->groups[0])
		for (size_t i = 0; i < g->nhosts; i++)
			graph_name(b, "", g->hosts[i]->name, "", depth + 1);
}

char *inv_graph(inventory *inv, const char *group, char **err)
{
	inv_group *g = inv_group_get(inv, group ? group : "all");
	if (!g) {
		if (err)
			*err = xstrdup("Pattern must be valid group name when using --graph");
		return NULL;
	}
	struct buf b = { 0 };
	graph_group(inv, g, 0, &b);
	return b.s;
}

bool inv_is_localhost_name(const char *name)
{
	return strcmp(name, "localhost") == 0 || strcmp(name, "127.0.0.1") == 0 || strcmp(name, "::1") == 0;
}

inv_host *inv_implicit_localhost(inventory *inv, const char *name)
{
	if (!inv_is_localhost_name(name))
		return NULL;
	if (!inv->localhost) {
		inv_host *h = host_new(inv, name);
		h->implicit = true;
		h->index = (size_t)-1;
		inv_host_set_var(h, "ansible_python_interpreter", json_string("/usr/bin/python3"));
		inv_host_set_var(h, "ansible_connection", json_string("local"));
		inv->localhost = h;
	}
	return inv->localhost;
}

inv_host *inv_implicit_localhost_peek(const inventory *inv)
{
	return inv->localhost;
}

/* Brings the packed names up to date with the hosts. */
static void names_pack(inventory *inv)
{
	/* hosts are only ever appended and never renamed: extend what is there */
	inv->names_off = xgrow(inv->names_off, &inv->names_off_cap, inv->nhosts + 1, sizeof *inv->names_off);
	inv->names_off[0] = 0;
	for (size_t i = inv->names_count; i < inv->nhosts; i++) {
		size_t len = strlen(inv->hosts[i]->name) + 1;
		inv->names = xgrow(inv->names, &inv->names_cap, inv->names_len + len, 1);
		memcpy(inv->names + inv->names_len, inv->hosts[i]->name, len);
		inv->names_len += len;
		inv->names_off[i + 1] = inv->names_len;
	}
	inv->names_count = inv->nhosts;
}

const char *inv_host_names_packed(inventory *inv, const size_t **off)
{
	names_pack(inv);
	*off = inv->names_off;
	return inv->names ? inv->names : "";
}

/* ---- inv_list_write: --list as text, streamed ---- */

struct lw {
	pyjson_buf b;
	int (*write)(void *ctx, const char *s, size_t n);
	void *ctx;
	int rc;
};

enum { LW_CHUNK = 1 << 16 };

static inline void lw_put(struct lw *w, const char *s, size_t n)
{
	pyjson_buf *b = &w->b;
	if (b->n + n + 1 > b->cap)
		b->s = xgrow(b->s, &b->cap, b->n + n + 1, 1);
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

/* a string literal, its length known at compile time */
#define lw_raw(w, lit) lw_put(w, lit, sizeof lit - 1)

static void lw_flush(struct lw *w, bool force)
{
	if (w->rc == 0 && w->b.n && (force || w->b.n >= LW_CHUNK))
		w->rc = w->write(w->ctx, w->b.s, w->b.n);
	if (force || w->b.n >= LW_CHUNK)
		w->b.n = 0;
}

static void lw_indent(struct lw *w, int level)
{
	static const char nl_spaces[] = "\n                                ";
	lw_put(w, nl_spaces, (size_t)level * 4 + 1);
}

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_group_name(const void *a, const void *b)
{
	return strcmp((*(inv_group *const *)a)->name, (*(inv_group *const *)b)->name);
}

static int cmp_host_name(const void *a, const void *b)
{
	return strcmp((*(inv_host *const *)a)->name, (*(inv_host *const *)b)->name);
}

struct kv {
	const char *key;
	json_t *val;
	size_t seq;
};

static int cmp_kv(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	unsigned char cx = (unsigned char)x->key[0], cy = (unsigned char)y->key[0];
	int c = cx != cy ? (cx < cy ? -1 : 1) : strcmp(x->key, y->key);
	return c ? c : x->seq < y->seq ? -1 : 1;
}

/* Is key one of ansible-inventory's internal variables? */
static bool lw_internal(const char *key, const char *const *internal, size_t n)
{
	if (!strchr("agiop", key[0]) || !key[0])
		return false;
	return bsearch(&key, internal, n, sizeof *internal, cmp_str_ptr) != NULL;
}

/* "key": [names] at level 2 */
static void lw_names(struct lw *w, const char *key, const char *const *names, size_t n)
{
	lw_indent(w, 2);
	pyjson_append_string(&w->b, key, strlen(key));
	lw_raw(w, ": [");
	for (size_t i = 0; i < n; i++) {
		if (i)
			lw_raw(w, ",");
		lw_indent(w, 3);
		pyjson_append_string(&w->b, names[i], strlen(names[i]));
		lw_flush(w, false);
	}
	lw_indent(w, 2);
	lw_raw(w, "]");
}

static void lw_group(struct lw *w, inventory *inv, inv_group *g)
{
	pyjson_append_string(&w->b, g->name, strlen(g->name));
	lw_raw(w, ": {");
	const char **names = NULL;
	size_t cap = 0;
	if (g->nchildren) {
		names = xgrow(names, &cap, g->nchildren, sizeof *names);
		for (size_t i = 0; i < g->nchildren; i++)
			names[i] = g->children[i]->name;
		lw_names(w, "children", names, g->nchildren);
	}
	if (g != inv->groups[0] && g->nhosts) {
		if (g->nchildren)
			lw_raw(w, ",");
		names = xgrow(names, &cap, g->nhosts, sizeof *names);
		for (size_t i = 0; i < g->nhosts; i++)
			names[i] = g->hosts[i]->name;
		lw_names(w, "hosts", names, g->nhosts);
	}
	free(names);
	lw_indent(w, 1);
	lw_raw(w, "}");
}

/* Sorts pairs by key, the later of equal keys last (a stable sort). */
static void kv_sort(struct kv *kv, size_t n)
{
	if (n > 32) {
		qsort(kv, n, sizeof *kv, cmp_kv);
		return;
	}
	/* insertion sort: a host has a few dozen pairs at most, usually */
	for (size_t a = 1; a < n; a++) {
		struct kv x = kv[a];
		size_t b = a;
		while (b > 0 && cmp_kv(&kv[b - 1], &x) > 0) {
			kv[b] = kv[b - 1];
			b--;
		}
		kv[b] = x;
	}
}

/* The pairs of layers[0..n) merged: sorted by key, the last layer's value of
 * each key kept, internal variables dropped. Returns the count left in *kv. */
static size_t kv_finish(struct kv *kv, size_t nkv, const char *const *internal, size_t ninternal)
{
	kv_sort(kv, nkv);
	size_t out = 0;
	for (size_t k = 0; k < nkv; k++) {
		if (k + 1 < nkv && strcmp(kv[k].key, kv[k + 1].key) == 0)
			continue; /* a later layer sets it */
		if (lw_internal(kv[k].key, internal, ninternal))
			continue;
		kv[out++] = kv[k];
	}
	return out;
}

/* Appends the pairs of layers[0..n) to (*kv)[0..nkv); returns the new count. */
static size_t kv_collect(json_t *const *layers, size_t n, struct kv **kv, size_t *cap, size_t nkv)
{
	for (size_t l = 0; l < n; l++) {
		const char *key;
		json_t *val;
		json_object_foreach(layers[l], key, val) {
			*kv = xgrow(*kv, cap, nkv + 1, sizeof **kv);
			(*kv)[nkv].key = key;
			(*kv)[nkv].val = val;
			(*kv)[nkv].seq = nkv;
			nkv++;
		}
	}
	return nkv;
}

/* The merged group layers of the hosts of one group set, each pair already
 * written as `"key": value` (at --list's hostvars depth) into text. */
struct lw_prefix {
	json_t **layers;     /* the layers it was made from */
	size_t nlayers, cap_layers;
	inv_group **groups;  /* the direct groups of the host it was made for */
	size_t ngroups, cap_groups;
	bool valid;
	struct kv *kv;       /* merged pairs; seq is the offset of the pair's text */
	size_t nkv, cap_kv;
	size_t *len;         /* length of each pair's text */
	size_t cap_len;
	pyjson_buf text;
};

static void lw_prefix_build(struct lw_prefix *p, json_t *const *layers, size_t n,
			    const char *const *internal, size_t ninternal)
{
	p->layers = xgrow(p->layers, &p->cap_layers, n ? n : 1, sizeof *p->layers);
	if (n)
		memcpy(p->layers, layers, n * sizeof *layers);
	p->nlayers = n;
	/* collect first: it may move p->kv, which kv_finish then reads */
	size_t ncollected = kv_collect(layers, n, &p->kv, &p->cap_kv, 0);
	p->nkv = kv_finish(p->kv, ncollected, internal, ninternal);
	p->len = xgrow(p->len, &p->cap_len, p->nkv ? p->nkv : 1, sizeof *p->len);
	p->text.n = 0;
	for (size_t k = 0; k < p->nkv; k++) {
		size_t at = p->text.n;
		pyjson_append_string(&p->text, p->kv[k].key, strlen(p->kv[k].key));
		pyjson_append_raw(&p->text, ": ", 2);
		pyjson_append(&p->text, p->kv[k].val, 4, 4);
		p->kv[k].seq = at;
		p->len[k] = p->text.n - at;
	}
	p->valid = true;
}

/* One `"key": value` line of a host's variables; the host's header before the first. */
static void lw_hostvar(struct lw *w, inv_host *h, size_t *shown, size_t *written)
{
	if (!(*shown)++) {
		if ((*written)++)
			lw_raw(w, ",");
		lw_indent(w, 3);
		pyjson_append_string(&w->b, h->name, strlen(h->name));
		lw_raw(w, ": {");
	} else {
		lw_raw(w, ",");
	}
	lw_indent(w, 4);
}

/* "_meta": {"hostvars": {...}}: each host's variables merged as inv_host_vars()
 * merges them, without building the object: the layers' pairs sorted by key,
 * the last layer's value of each key kept. The group layers are the same for
 * every host of the same groups (hosts sorted by name mostly come in such
 * runs): they are merged and written once per run, and only the host's own
 * layers are merged into them per host. */
static void lw_meta(struct lw *w, inventory *inv)
{
	size_t n;
	inv_host *const *all_hosts = inv_group_hosts(inv, inv->groups[0], &n);
	inv_host **hosts = xmalloc((n ? n : 1) * sizeof *hosts);
	if (n) {
		memcpy(hosts, all_hosts, n * sizeof *hosts);
		qsort(hosts, n, sizeof *hosts, cmp_host_name);
	}
	const char *internal[sizeof internal_vars / sizeof *internal_vars];
	size_t ninternal = sizeof internal / sizeof *internal;
	memcpy(internal, internal_vars, sizeof internal);
	qsort(internal, ninternal, sizeof *internal, cmp_str_ptr);

	lw_raw(w, "\"_meta\": {");
	lw_indent(w, 2);
	lw_raw(w, "\"hostvars\": {");
	json_t **layers = NULL;
	size_t cap_layers = 0, cap_kv = 0, written = 0;
	struct kv *kv = NULL;
	struct lw_prefix pre = { 0 };
	for (size_t i = 0; i < n; i++) {
		inv_host *h = hosts[i];
		bool same = pre.valid && h->ngroups == pre.ngroups &&
			    (h->ngroups == 0 || memcmp(h->groups, pre.groups, h->ngroups * sizeof *h->groups) == 0);
		if (!same) {
			size_t np = host_layers(inv, h, &layers, &cap_layers);
			if (!pre.valid || np != pre.nlayers ||
			    (np && memcmp(layers, pre.layers, np * sizeof *layers) != 0))
				lw_prefix_build(&pre, layers, np, internal, ninternal);
			pre.groups = xgrow(pre.groups, &pre.cap_groups, h->ngroups ? h->ngroups : 1,
					   sizeof *pre.groups);
			if (h->ngroups)
				memcpy(pre.groups, h->groups, h->ngroups * sizeof *h->groups);
			pre.ngroups = h->ngroups;
		}
		/* the host's own layers: its inline variables, then its host_vars files */
		size_t nkv = 0;
		kv = xgrow(kv, &cap_kv, h->nvars ? h->nvars : 1, sizeof *kv);
		for (size_t k = 0; k < h->nvars; k++) {
			kv[nkv].key = h->vars[k].key;
			kv[nkv].val = h->vars[k].value;
			kv[nkv].seq = nkv;
			nkv++;
		}
		for (size_t s = 0; s < h->nsrc_vars; s++)
			if (h->src_vars[s])
				nkv = kv_collect(&h->src_vars[s], 1, &kv, &cap_kv, nkv);
		nkv = kv_finish(kv, nkv, internal, ninternal);
		size_t shown = 0, a = 0, b = 0;
		while (a < pre.nkv || b < nkv) {
			int c = a == pre.nkv ? 1 : b == nkv ? -1 : strcmp(pre.kv[a].key, kv[b].key);
			lw_hostvar(w, h, &shown, &written);
			if (c < 0) {
				lw_put(w, pre.text.s + pre.kv[a].seq, pre.len[a]);
				a++;
				continue;
			}
			if (c == 0)
				a++; /* the host's own value wins */
			pyjson_append_string(&w->b, kv[b].key, strlen(kv[b].key));
			lw_raw(w, ": ");
			pyjson_append(&w->b, kv[b].val, 4, 4);
			b++;
		}
		if (shown) {
			lw_indent(w, 3);
			lw_raw(w, "}");
		}
		lw_flush(w, false);
		if (w->rc)
			break;
	}
	if (written)
		lw_indent(w, 2);
	lw_raw(w, "}");
	lw_indent(w, 1);
	lw_raw(w, "}");
	free(pre.layers);
	free(pre.groups);
	free(pre.kv);
	free(pre.len);
	free(pre.text.s);
	free(kv);
	free(layers);
	free(hosts);
}

int inv_list_write(inventory *inv, int (*write)(void *ctx, const char *s, size_t n), void *ctx)
{
	struct lw w = { { NULL, 0, 0 }, write, ctx, 0 };
	/* the groups --list shows: those reached from all with hosts or children */
	unsigned seen = inv_next_mark(inv);
	inv_group **groups = NULL, **stack = NULL;
	size_t ng = 0, cg = 0, ns = 0, cs = 0;
	inv->groups[0]->mark = seen;
	PUSH(stack, ns, cs, inv->groups[0]);
	while (ns) {
		inv_group *g = stack[--ns];
		if ((g->nchildren || (g != inv->groups[0] && g->nhosts)) && strcmp(g->name, "_meta") != 0)
			PUSH(groups, ng, cg, g);
		for (size_t i = g->nchildren; i-- > 0;) {
			if (g->children[i]->mark != seen) {
				g->children[i]->mark = seen;
				PUSH(stack, ns, cs, g->children[i]);
			}
		}
	}
	free(stack);
	if (ng)
		qsort(groups, ng, sizeof *groups, cmp_group_name);
	lw_raw(&w, "{");
	/* "_meta" among the group names in sorted order */
	bool meta_done = false;
	for (size_t i = 0; i <= ng && w.rc == 0; i++) {
		if (!meta_done && (i == ng || strcmp("_meta", groups[i]->name) < 0)) {
			if (i)
				lw_raw(&w, ",");
			lw_indent(&w, 1);
			lw_meta(&w, inv);
			meta_done = true;
		}
		if (i == ng)
			break;
		if (i || meta_done)
			lw_raw(&w, ",");
		lw_indent(&w, 1);
		lw_group(&w, inv, groups[i]);
		lw_flush(&w, false);
	}
	lw_raw(&w, "\n}");
	lw_flush(&w, true);
	free(groups);
	free(w.b.s);
	return w.rc;
}
