/* varsfiles: ansible/plugins/vars/host_group_vars.py and DataLoader.find_vars_files in C. */
#include "inventory/varsfiles.h"
#include "inventory/yamlload.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Symlinked directories can loop; Python would recurse until RecursionError. */
#define MAX_DIR_DEPTH 64

static const char *const exts[] = { "", ".yml", ".yaml", ".json" }; /* [''] + C.YAML_FILENAME_EXTENSIONS */

struct strv {
	char **v;
	size_t n, cap;
};

static void strv_push(struct strv *s, char *str)
{
	s->v = xgrow(s->v, &s->cap, s->n + 1, sizeof *s->v);
	s->v[s->n++] = str;
}

static void strv_clear(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
}

/* One of group_vars/ or host_vars/: its real path and what it holds. */
struct vdir {
	const char *sub;
	char *path;   /* NULL: nothing to read */
	strmap *names;
	strmap *stems; /* every entry with each extension it ends with removed: the names that have files */
	struct strv stem_v; /* owns the stems' text */
	struct strv entries;
};

struct vctx {
	inventory *inv;
	char **err;
	struct strv found;
	char *buf; /* candidate names */
	size_t bufcap;
};

static int fail_errno(struct vctx *c, const char *path)
{
	if (c->err)
		*c->err = xasprintf("%s: %s", path, strerror(errno));
	return -1;
}

static char *join(const char *a, const char *b)
{
	size_t n = strlen(a);
	return xasprintf("%s%s%s", a, n && a[n - 1] == '/' ? "" : "/", b);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(struct vctx *c, const char *path, struct strv *out)
{
	DIR *d = opendir(path);
	if (!d)
		return fail_errno(c, path);
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			strv_push(out, xstrdup(e->d_name));
	}
	closedir(d);
	return 0;
}

/* os.path.splitext(name)[1]: leading dots do not start an extension */
static const char *extension(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot)
		return "";
	for (const char *p = name; p < dot; p++)
		if (*p != '.')
			return dot;
	return "";
}

static bool vars_extension(const char *ext)
{
	for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
		if (strcmp(ext, exts[i]) == 0)
			return true;
	return false;
}

/* DataLoader._get_dir_vars_files */
static int dir_files(struct vctx *c, const char *path, int depth)
{
	if (depth > MAX_DIR_DEPTH) {
		if (c->err)
			*c->err = xasprintf("%s: directories nested deeper than %d levels (a symlink loop?)", path, MAX_DIR_DEPTH);
		return -1;
	}
	struct strv names = { 0 };
	if (list_dir(c, path, &names))
		return -1;
	qsort(names.v, names.n, sizeof *names.v, cmp_str);
	int rc = 0;
	for (size_t i = 0; i < names.n && rc == 0; i++) {
		const char *name = names.v[i];
		size_t len = strlen(name);
		if (name[0] == '.' || name[len - 1] == '~')
			continue;
		const char *ext = extension(name);
		char *full = join(path, name);
		struct stat st;
		if (stat(full, &st) == 0) {
			if (S_ISDIR(st.st_mode) && !*ext) {
				rc = dir_files(c, full, depth + 1);
			} else if (S_ISREG(st.st_mode) && vars_extension(ext)) {
				strv_push(&c->found, full);
				full = NULL;
			}
		}
		free(full);
	}
	strv_clear(&names);
	free(names.v);
	return rc;
}

/* DataLoader.find_vars_files(opath, name): the first of NAME, NAME.yml,
 * NAME.yaml, NAME.json that exists. */
static int find_files(struct vctx *c, struct vdir *vd, const char *name)
{
	/* names the listing cannot answer for: they walk elsewhere */
	bool direct = strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
	size_t len = strlen(name);
	if (!direct && !strmap_get(vd->stems, name))
		return 0; /* no entry is name + one of exts: one look-up instead of four */
	for (size_t i = 0; i < sizeof exts / sizeof *exts; i++) {
		c->buf = xgrow(c->buf, &c->bufcap, len + 8, 1);
		memcpy(c->buf, name, len);
		strcpy(c->buf + len, exts[i]);
		if (!direct && !strmap_get(vd->names, c->buf))
			continue;
		char *full = join(vd->path, c->buf);
		struct stat st;
		if (stat(full, &st) != 0) { /* a dangling symlink does not exist */
			free(full);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			int rc = dir_files(c, full, 0);
			free(full);
			return rc;
		}
		strv_push(&c->found, full);
		return 0;
	}
	return 0;
}

static void warn_cb(void *inv, const char *msg)
{
	inv_warn(inv, "%s", msg);
}

static int read_file(struct vctx *c, const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return fail_errno(c, path);
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap);
	size_t got;
	while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap)
			buf = xgrow(buf, &cap, cap + 1, 1);
	}
	bool bad = ferror(f);
	int e = errno;
	fclose(f);
	if (bad) {
		free(buf);
		errno = e;
		return fail_errno(c, path);
	}
	*data = buf;
	*len = n;
	return 0;
}

/* load_from_file() and combine_vars() of one found file into acc */
static int load_file(struct vctx *c, const char *path, json_t *acc)
{
	char *data;
	size_t len;
	if (read_file(c, path, &data, &len))
		return -1;
	if (len >= 14 && memcmp(data, "$ANSIBLE_VAULT", 14) == 0) {
		free(data);
		if (c->err)
			*c->err = xasprintf("%s:1: the file is encrypted with Ansible Vault, which fleetdeck cannot decrypt", path);
		return -1;
	}
	yamlload_doc *doc;
	int rc = yamlload_parse(path, data, len, warn_cb, c->inv, &doc, c->err);
	free(data);
	if (rc)
		return -1;
	json_t *root = yamlload_root(doc);
	if (yamlload_truthy(doc, root)) { /* empty files (and other falsy data) are ignored */
		if (!yamlload_is_mapping(doc, root)) {
			if (c->err)
				*c->err = xasprintf("%s:%d: failed to combine variables, expected dicts but got a 'dict' and a '%s': "
						    "a variables file must be stored as a dictionary/hash",
						    path, yamlload_line(doc, root) ? yamlload_line(doc, root) : 1,
						    yamlload_type_name(yamlload_type(doc, root)));
			rc = -1;
		} else {
			json_object_update(acc, root);
		}
	}
	yamlload_free(doc);
	return rc;
}

/* The variables of one entity from one directory, or NULL if it has no files. */
static int entity_vars(struct vctx *c, struct vdir *vd, const char *name, json_t **out)
{
	*out = NULL;
	/* host_group_vars avoids 'chroot'-style names like /path/to/chroot */
	if (!vd->path || name[0] == '/')
		return 0;
	strv_clear(&c->found);
	if (find_files(c, vd, name))
		return -1;
	if (!c->found.n)
		return 0;
	json_t *acc = json_object();
	for (size_t i = 0; i < c->found.n; i++) {
		if (load_file(c, c->found.v[i], acc)) {
			json_decref(acc);
			return -1;
		}
	}
	if (!json_object_size(acc)) {
		json_decref(acc);
		return 0;
	}
	*out = acc;
	return 0;
}

static int vdir_open(struct vctx *c, const char *dir, struct vdir *vd, bool warn)
{
	char *p = join(dir, vd->sub);
	/* os.path.realpath(), then os.path.exists(): a missing directory is no error */
	vd->path = realpath(p, NULL);
	free(p);
	if (!vd->path)
		return 0;
	struct stat st;
	errno = 0;
	if (stat(vd->path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		if (warn && errno == 0)
			inv_warn(c->inv, "Found %s that is not a directory, skipping: %s", vd->sub, vd->path);
		free(vd->path);
		vd->path = NULL;
		return 0;
	}
	if (list_dir(c, vd->path, &vd->entries))
		return -1;
	vd->names = strmap_new();
	vd->stems = strmap_new();
	for (size_t i = 0; i < vd->entries.n; i++) {
		const char *e = vd->entries.v[i];
		size_t elen = strlen(e);
		strmap_put(vd->names, e, (void *)e);
		for (size_t x = 0; x < sizeof exts / sizeof *exts; x++) {
			size_t xl = strlen(exts[x]);
			if (elen < xl || memcmp(e + elen - xl, exts[x], xl) != 0)
				continue;
			strv_push(&vd->stem_v, xstrndup(e, elen - xl));
			const char *stem = vd->stem_v.v[vd->stem_v.n - 1];
			strmap_put(vd->stems, stem, (void *)stem);
		}
	}
	return 0;
}

static void vdir_close(struct vdir *vd)
{
	free(vd->path);
	strmap_free(vd->names);
	strmap_free(vd->stems);
	strv_clear(&vd->stem_v);
	free(vd->stem_v.v);
	strv_clear(&vd->entries);
	free(vd->entries.v);
}

int varsfiles_load(inventory *inv, size_t src, const char *dir, char **err)
{
	/* Ansible looks only when it computes a host's variables: no host, no lookup, no warning */
	if (!inv_host_count(inv))
		return 0;
	struct vctx c = { .inv = inv, .err = err };
	struct vdir gv = { .sub = "group_vars" }, hv = { .sub = "host_vars" };
	int rc = -1;
	if (vdir_open(&c, dir, &gv, true) || vdir_open(&c, dir, &hv, true))
		goto out;
	for (size_t i = 0; i < inv_group_count(inv); i++) {
		inv_group *g = inv_group_at(inv, i);
		json_t *v;
		if (entity_vars(&c, &gv, g->name, &v))
			goto out;
		if (v)
			inv_group_set_src_vars(inv, g, src, v);
	}
	for (size_t i = 0; i < inv_host_count(inv); i++) {
		inv_host *h = inv_host_at(inv, i);
		json_t *v;
		if (entity_vars(&c, &hv, h->name, &v))
			goto out;
		if (v)
			inv_host_set_src_vars(inv, h, src, v);
	}
	rc = 0;
out:
	vdir_close(&gv);
	vdir_close(&hv);
	strv_clear(&c.found);
	free(c.found.v);
	free(c.buf);
	return rc;
}
