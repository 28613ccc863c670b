/* inventory: the in-memory fleet as Ansible models it (hosts, groups, variables).
 *
 * This module mirrors ansible-core's InventoryData/Group/Host semantics: the
 * implicit `all` and `ungrouped` groups, group depth and priority, host order,
 * the reconcile step after each source, and the variable precedence that
 * `ansible-inventory --list` applies. Parsers (ini.c, yamlinv.c) fill it;
 * pattern.c selects hosts from it; nothing here prints. */
#ifndef FLEETDECK_INVENTORY_H
#define FLEETDECK_INVENTORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct inventory inventory;
typedef struct inv_group inv_group;
typedef struct inv_host inv_host;

/* Read-only for everyone but inventory.c: change them through the functions below. */
struct inv_group {
	char *name;
	json_t *vars;        /* variables set in inventory sources (owned object) */
	json_t **src_vars;   /* per source: group_vars/ files of that source's dir, or NULL */
	size_t nsrc_vars;
	inv_group **children;/* in the order they were added */
	size_t nchildren, cap_children;
	inv_group **parents;
	size_t nparents, cap_parents;
	inv_host **hosts;    /* direct members, in the order they were added */
	size_t nhosts, cap_hosts;
	int depth;           /* longest path from `all` (valid after inv_finalize) */
	int priority;        /* ansible_group_priority, default 1 */
	size_t index;        /* creation order */
	unsigned mark, mark2;/* scratch for graph walks (inventory.c only) */
	/* cache of inv_group_hosts() */
	inv_host **all_hosts;
	size_t nall_hosts;
	unsigned long all_hosts_version; /* inventory version the cache was built at (0: none) */
};

/* One inline variable of a host. */
struct inv_var {
	const char *key;     /* interned: owned by the inventory */
	json_t *value;       /* owned reference */
};

struct inv_host {
	char *name;          /* in the host's own allocation */
	struct inv_var *vars;/* inline variables, in the order first set (owned; a plain
	                      * array: a host has a few, and 100,000 hosts' worth of
	                      * jansson objects cost more to build and free than the rest) */
	size_t nvars, cap_vars;
	inventory *inv;      /* the inventory it belongs to (it keeps the keys) */
	json_t **src_vars;   /* per source: host_vars/ files, or NULL */
	size_t nsrc_vars;
	inv_group **groups;  /* groups that list this host directly */
	size_t ngroups, cap_groups;
	size_t index;        /* creation order */
	bool implicit;       /* the implicit localhost */
	unsigned mark;       /* scratch for set operations (pattern.c, inventory.c) */
};

inventory *inv_new(void);
/* A cap on the hosts a host range may add, so a range cannot take the
 * inventory past `max` hosts (0, the default: only the 1,000,000 hosts one
 * pattern may always expand to). The fuzz targets use it to stay fast. */
void inv_set_max_hosts(inventory *inv, size_t max);
/* What a host range may expand to now under that cap (0: no cap); for the parsers. */
size_t inv_range_budget(const inventory *inv);
/* A fresh value for the `mark` fields, so walks need no clearing pass. */
unsigned inv_next_mark(inventory *inv);
void inv_free(inventory *inv);

/* Sources: every file or directory that was parsed, in order. Variable files
 * (group_vars/, host_vars/) are looked up beside each, in this order. */
size_t inv_source_add(inventory *inv, const char *path, const char *vars_dir);
size_t inv_source_count(const inventory *inv);
const char *inv_source_path(const inventory *inv, size_t i);
const char *inv_source_vars_dir(const inventory *inv, size_t i);

/* Warnings collected while loading (the caller prints them); identical ones are kept once. */
void inv_warn(inventory *inv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t inv_warning_count(const inventory *inv);
const char *inv_warning(const inventory *inv, size_t i);

inv_group *inv_group_get(const inventory *inv, const char *name);
inv_host *inv_host_get(const inventory *inv, const char *name);
/* Returns the existing group or a new one; warns like Ansible on invalid characters. */
inv_group *inv_group_add(inventory *inv, const char *name);
/* Returns the existing host or a new one; if g is not NULL the host joins g. */
inv_host *inv_host_add(inventory *inv, const char *name, inv_group *g);
/* Adds h to g's direct members; false if it already was one. */
bool inv_group_add_host(inventory *inv, inv_group *g, inv_host *h);
/* Removes h from g's direct members; false if it was not one. */
bool inv_group_remove_host(inventory *inv, inv_group *g, inv_host *h);
/* Adds child under parent. Refuses (returns -1, *err set, caller frees) a
 * group under itself or a loop, with Ansible's messages. Returns 1 if added,
 * 0 if it already was a child. */
int inv_group_add_child(inventory *inv, inv_group *parent, inv_group *child, char **err);

/* Set a variable; takes ownership of value. `ansible_group_priority` on a
 * group sets its priority (Ansible's int()) instead; returns -1 with *err if
 * that value is not an integer. */
int inv_group_set_var(inv_group *g, const char *key, json_t *value, char **err);
void inv_host_set_var(inv_host *h, const char *key, json_t *value);
/* Variable files of source `src` for the entity (takes ownership; merged into what is there). */
void inv_group_set_src_vars(inventory *inv, inv_group *g, size_t src, json_t *vars);
void inv_host_set_src_vars(inventory *inv, inv_host *h, size_t src, json_t *vars);

/* Ansible's reconcile_inventory(): run after each source is parsed. Parents
 * every top-level group under `all`, keeps `ungrouped` right, warns on a name
 * that is both a host and a group. Returns -1 with *err on a loop. */
int inv_reconcile(inventory *inv, char **err);

size_t inv_group_count(const inventory *inv);
inv_group *inv_group_at(const inventory *inv, size_t i); /* creation order */
size_t inv_host_count(const inventory *inv);
inv_host *inv_host_at(const inventory *inv, size_t i);   /* creation order */

/* All hosts of a group and its descendants, in Ansible's get_hosts() order
 * (the implicit localhost excluded from `all`). Owned by the group; valid
 * until the inventory changes. */
inv_host *const *inv_group_hosts(inventory *inv, inv_group *g, size_t *n);

/* Every host's name in creation order, packed into one buffer for scans that
 * read them all (a pattern like `*.example.com` on 100,000 hosts): name i is
 * the NUL-terminated string at buf + (*off)[i], of length
 * (*off)[i + 1] - (*off)[i] - 1. Valid until the next host is added. */
const char *inv_host_names_packed(inventory *inv, const size_t **off);

/* The groups a host belongs to, directly or through descendants, without
 * `all`, sorted as Ansible sorts them for variable precedence (depth,
 * priority, name). Caller frees the array. */
inv_group **inv_host_groups_sorted(inventory *inv, inv_host *h, size_t *n);

/* The host's variables exactly as `ansible-inventory --host` shows them
 * (Ansible's precedence, internal variables removed). New reference. */
json_t *inv_host_vars(inventory *inv, inv_host *h);

/* `ansible-inventory --list` as a JSON object. New reference. */
json_t *inv_list_json(inventory *inv);

/* The text of `ansible-inventory --list` (what pyjson_dumps(inv_list_json(inv), 4)
 * gives, without the final newline), handed to write(ctx, s, n) in pieces of
 * some 64 KiB as it is made, without building the document: the way to print
 * a big inventory. write returns 0, or -1 to stop; returns 0, or that -1. */
int inv_list_write(inventory *inv, int (*write)(void *ctx, const char *s, size_t n), void *ctx);

/* `ansible-inventory --graph [GROUP]`; NULL with *err if GROUP is no group. Caller frees. */
char *inv_graph(inventory *inv, const char *group, char **err);

/* The implicit localhost Ansible creates for `localhost`, `127.0.0.1` or `::1`
 * when the inventory has no such host; NULL for other names. Created once. */
inv_host *inv_implicit_localhost(inventory *inv, const char *name);
bool inv_is_localhost_name(const char *name);
/* The implicit localhost if it has been created, else NULL (creates nothing). */
inv_host *inv_implicit_localhost_peek(const inventory *inv);

#endif
