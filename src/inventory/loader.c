/* loader: ansible/inventory/manager.py's parse_sources()/parse_source() in C: host lists, files tried plugin by plugin, directories. */
#include "inventory/loader.h"
#include "inventory/hostrange.h"
#include "inventory/ini.h"
#include "inventory/varsfiles.h"
#include "inventory/yamlinv.h"
#include "util/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Symlinked directories can loop; Python would recurse until RecursionError. */
#define MAX_DIR_DEPTH 64

struct lctx {
	inventory *inv;
	char **err;
};

static int fail(struct lctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct lctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (c->err)
		*c->err = msg;
	else
		free(msg);
	return -1;
}

/* ---- paths as Python's os.path handles them ---- */

/* posixpath.normpath */
static char *normpath(const char *path)
{
	if (!*path)
		return xstrdup(".");
	int slashes = path[0] == '/' ? (path[1] == '/' && path[2] != '/' ? 2 : 1) : 0;
	char *copy = xstrdup(path);
	char **comps = xmalloc((strlen(path) / 2 + 2) * sizeof *comps);
	size_t n = 0;
	for (char *save = NULL, *tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") != 0 || (!slashes && !n) || (n && strcmp(comps[n - 1], "..") == 0))
			comps[n++] = tok;
		else if (n)
			n--;
	}
	size_t len = (size_t)slashes + 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(comps[i]) + 1;
	char *out = xmalloc(len + 1), *p = out;
	for (int i = 0; i < slashes; i++)
		*p++ = '/';
	for (size_t i = 0; i < n; i++) {
		if (i)
			*p++ = '/';
		size_t l = strlen(comps[i]);
		memcpy(p, comps[i], l);
		p += l;
	}
	*p = '\0';
	if (!*out)
		strcpy(out, ".");
	free(comps);
	free(copy);
	return out;
}

static char *getcwd_alloc(void)
{
	for (size_t size = 256;; size *= 2) {
		char *buf = xmalloc(size);
		if (getcwd(buf, size))
			return buf;
		free(buf);
		if (errno != ERANGE)
			return xstrdup(".");
	}
}

/* os.path.abspath */
static char *abspath(const char *path)
{
	if (path[0] == '/')
		return normpath(path);
	char *cwd = getcwd_alloc();
	char *joined = xasprintf("%s/%s", cwd, path);
	char *out = normpath(joined);
	free(cwd);
	free(joined);
	return out;
}

/* os.path.expandvars: $NAME and ${NAME} when NAME is set */
static char *expandvars(const char *path)
{
	size_t cap = 0, n = 0;
	char *out = NULL;
	const char *p = path;
	while (*p) {
		const char *name = NULL, *next = p + 1;
		size_t nlen = 0;
		if (*p == '$') {
			if (p[1] == '{') {
				const char *close = strchr(p + 2, '}');
				if (close) {
					name = p + 2;
					nlen = (size_t)(close - name);
					next = close + 1;
				}
			} else {
				const char *q = p + 1;
				while ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '_')
					q++;
				if (q > p + 1) {
					name = p + 1;
					nlen = (size_t)(q - name);
					next = q;
				}
			}
		}
		const char *val = NULL;
		if (name) {
			char *var = xstrndup(name, nlen);
			val = getenv(var);
			free(var);
		}
		const char *add = val ? val : p;
		size_t alen = val ? strlen(val) : (size_t)((name ? next : p + 1) - p);
		out = xgrow(out, &cap, n + alen + 1, 1);
		memcpy(out + n, add, alen);
		n += alen;
		p = name ? next : p + 1;
	}
	out = xgrow(out, &cap, n + 1, 1);
	out[n] = '\0';
	return out;
}

/* os.path.expanduser */
static char *expanduser(const char *path)
{
	if (path[0] != '~')
		return xstrdup(path);
	const char *slash = strchr(path, '/');
	size_t i = slash ? (size_t)(slash - path) : strlen(path);
	const char *home = NULL;
	if (i == 1) {
		home = getenv("HOME");
		if (!home) {
			struct passwd *pw = getpwuid(getuid());
			home = pw ? pw->pw_dir : NULL;
		}
	} else {
		char *user = xstrndup(path + 1, i - 1);
		struct passwd *pw = getpwnam(user);
		free(user);
		home = pw ? pw->pw_dir : NULL;
	}
	if (!home)
		return xstrdup(path);
	size_t hl = strlen(home);
	while (hl && home[hl - 1] == '/')
		hl--;
	char *out = xasprintf("%.*s%s", (int)hl, home, path + i);
	if (!*out) {
		free(out);
		out = xstrdup("/");
	}
	return out;
}

/* ansible.utils.path.unfrackpath(follow=False) */
static char *unfrackpath(const char *path)
{
	char *v = expandvars(path);
	char *u = expanduser(v);
	char *a = abspath(u);
	free(v);
	free(u);
	return a;
}

/* os.path.dirname */
static char *dirname_py(const char *p)
{
	const char *slash = strrchr(p, '/');
	if (!slash)
		return xstrdup("");
	size_t n = (size_t)(slash - p) + 1;
	size_t all = 0;
	while (all < n && p[all] == '/')
		all++;
	if (all < n)
		while (n > 1 && p[n - 1] == '/')
			n--;
	return xstrndup(p, n);
}

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

/* Where vars files of a source live: get_vars_from_inventory_sources() passes
 * the source itself if it is a directory, else its dirname, and basedir()
 * makes that absolute. Like Ansible this looks at the source as given: an
 * unexpanded `~` finds no directory, so no vars files. */
static char *vars_dir_of(const char *raw)
{
	char *dir = is_dir(raw) ? xstrdup(raw) : dirname_py(raw);
	char *out = NULL;
	if (!*dir || strcmp(dir, ".") == 0) {
		out = getcwd_alloc();
	} else if (is_dir(dir)) {
		out = abspath(dir);
	}
	free(dir);
	return out;
}

/* os.path.splitext(path)[1] */
static const char *extension(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dot = strrchr(base, '.');
	if (!dot)
		return "";
	for (const char *p = base; p < dot; p++)
		if (*p != '.')
			return dot;
	return "";
}

/* Python's re `$`: at the end, or before a final newline */
static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	if (n && s[n - 1] == '\n' && n - 1 >= k && memcmp(s + n - 1 - k, suffix, k) == 0)
		return true;
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* manager.py's IGNORED: IGNORED_ALWAYS, C.INVENTORY_IGNORE_PATTERNS (empty by
 * default) and C.INVENTORY_IGNORE_EXTS (whose defaults include .ini). */
static bool ignored(const char *name)
{
	static const char *const always[] = { "host_vars", "group_vars", "vars_plugins" };
	static const char *const exts[] = { ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst",
					    ".orig", ".ini", ".cfg", ".retry" };
	if (name[0] == '.')
		return true;
	for (size_t i = 0; i < sizeof always / sizeof *always; i++) {
		size_t k = strlen(always[i]);
		if (strncmp(name, always[i], k) == 0 && (name[k] == '\0' || (name[k] == '\n' && name[k + 1] == '\0')))
			return true;
	}
	for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
		if (ends_with(name, exts[i]))
			return true;
	return false;
}

/* ---- the host_list plugin: "a,b:2222,c" ---- */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* The host part parse_address() would judge, after taking off a port. */
static char *host_part(const char *h)
{
	size_t n = strlen(h);
	/* ^\[(.+)\]:([0-9]+)$ */
	if (h[0] == '[') {
		size_t i = n;
		while (i > 0 && is_digit(h[i - 1]))
			i--;
		if (i < n && i >= 4 && h[i - 1] == ':' && h[i - 2] == ']')
			return xstrndup(h + 1, i - 3);
	}
	/* ^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$ */
	const char *p = h;
	while (*p) {
		if (*p == '[') {
			const char *close = strchr(p + 1, ']');
			if (!close)
				break;
			p = close + 1;
		} else if (*p == ']' || *p == ':') {
			break;
		} else {
			p++;
		}
	}
	if (*p == ':' && is_digit(p[1])) {
		const char *q = p + 1;
		while (is_digit(*q))
			q++;
		if (!*q)
			return xstrndup(h, (size_t)(p - h));
	}
	return xstrdup(h);
}

static void parse_host_list(struct lctx *c, const char *list)
{
	inv_group *ungrouped = inv_group_get(c->inv, "ungrouped");
	char *copy = xstrdup(list);
	for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ' || *tok == '\t' || *tok == '\n' || *tok == '\r' || *tok == '\v' || *tok == '\f')
			tok++;
		size_t n = strlen(tok);
		while (n && (tok[n - 1] == ' ' || tok[n - 1] == '\t' || tok[n - 1] == '\n' || tok[n - 1] == '\r' ||
			     tok[n - 1] == '\v' || tok[n - 1] == '\f'))
			tok[--n] = '\0';
		if (!n)
			continue;
		/* parse_address(h, allow_ranges=False); on failure the entry is used whole */
		char *host = xstrdup(tok), **names = NULL, *err = NULL;
		long port = -1;
		size_t nn = 0;
		char *hp = host_part(tok);
		if (!strchr(hp, '[') && hostrange_expand(tok, &names, &nn, &port, &err) == 0 && nn == 1) {
			free(host);
			host = xstrdup(names[0]);
		} else {
			port = -1;
		}
		free(hp);
		free(err);
		hostrange_free(names, nn);
		if (!inv_host_get(c->inv, host)) {
			inv_host *h = inv_host_add(c->inv, host, ungrouped);
			if (port > 0)
				inv_host_set_var(h, "ansible_port", json_integer(port));
		}
		free(host);
	}
	free(copy);
}

/* ---- files ---- */

static int read_all(struct lctx *c, const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return fail(c, "%s: %s", path, strerror(errno));
	size_t cap = 4096, n = 0, got;
	char *buf = xmalloc(cap);
	while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap)
			buf = xgrow(buf, &cap, cap + 1, 1);
	}
	int e = errno;
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return fail(c, "%s: %s", path, strerror(e));
	}
	*data = buf;
	*len = n;
	return 0;
}

/* Does the text read as YAML rather than INI? Decides which parser's error a
 * file without a YAML extension gets, when neither could read it. */
static bool looks_yaml(const char *data, size_t len)
{
	const char *p = data, *end = data + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		const char *s = p;
		while (s < eol && (*s == ' ' || *s == '\t' || *s == '\r'))
			s++;
		if (s == eol || *s == '#' || *s == ';') {
			p = eol + 1;
			continue;
		}
		if ((eol - s >= 3 && memcmp(s, "---", 3) == 0) || *s == '%' || *s == '{' || *s == '-')
			return true;
		if (*s == '[')
			return false;
		for (const char *q = s; q < eol; q++) {
			if (*q == '=')
				return false;
			if (*q == ':' && (q + 1 == eol || q[1] == ' ' || q[1] == '\t' || q[1] == '\r'))
				return true;
		}
		return false;
	}
	return false;
}

/* One file, tried with Ansible's INVENTORY_ENABLED plugins in order:
 * host_list (not a path), script, auto, yaml, ini, toml. */
static int parse_file(struct lctx *c, const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return fail(c, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(c, "%s: not a regular file", path);
	if (access(path, R_OK) != 0)
		return fail(c, "%s: %s", path, strerror(errno));
	if (access(path, X_OK) == 0)
		return fail(c, "%s: the file is executable, so Ansible would run it as an inventory script; "
			    "fleetdeck does not run inventory scripts (remove its execute permission if it is a static inventory)",
			    path);
	char *data = NULL;
	size_t len = 0;
	if (read_all(c, path, &data, &len))
		return -1;
	int rc = -1;
	char *yerr = NULL, *ierr = NULL;
	if (len >= 14 && memcmp(data, "$ANSIBLE_VAULT", 14) == 0) {
		fail(c, "%s:1: the file is encrypted with Ansible Vault, which fleetdeck cannot decrypt", path);
		goto out;
	}
	const char *ext = extension(path);
	bool yaml_ext = strcmp(ext, ".yaml") == 0 || strcmp(ext, ".yml") == 0 || strcmp(ext, ".json") == 0;
	enum yamlinv_status yst = YAMLINV_NOT_YAML;
	bool yaml_tried = yaml_ext || !*ext;
	/* auto (for .yml/.yaml) and yaml both refuse plugin configurations, auto by running the plugin */
	if (yaml_tried) {
		if (yamlinv_parse_status(c->inv, path, data, len, &yst, &yerr) == 0) {
			rc = 0;
			goto out;
		}
		if (yst == YAMLINV_PLUGIN_CONFIG) {
			fail(c, "%s (an inventory plugin's configuration: fleetdeck runs no inventory plugins)", yerr);
			goto out;
		}
	}
	if (ini_parse(c->inv, path, data, len, &ierr) == 0) {
		rc = 0;
		goto out;
	}
	if (strcmp(ext, ".toml") == 0) {
		fail(c, "%s:1: TOML inventories are not supported by fleetdeck (and the INI parser could not read it: %s)",
		     path, ierr ? ierr : "");
		goto out;
	}
	bool yaml_first = yaml_tried &&
			  (yaml_ext || yst == YAMLINV_INVALID || (yst == YAMLINV_NOT_YAML && looks_yaml(data, len)));
	char **pick = yaml_first ? &yerr : &ierr;
	if (*pick) {
		if (c->err)
			*c->err = *pick;
		else
			free(*pick);
		*pick = NULL;
	} else {
		fail(c, "%s: Unable to parse %s as an inventory source", path, path);
	}
out:
	free(yerr);
	free(ierr);
	free(data);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* parse_source(): a directory is every entry in it, sorted, recursively. */
static int parse_source(struct lctx *c, const char *source, int depth, bool top, bool *parsed)
{
	*parsed = false;
	if (!is_dir(source)) {
		if (parse_file(c, source))
			return -1;
		*parsed = true;
		return 0;
	}
	if (depth > MAX_DIR_DEPTH)
		return fail(c, "%s: directories nested deeper than %d levels (a symlink loop?)", source, MAX_DIR_DEPTH);
	DIR *d = opendir(source);
	if (!d)
		return fail(c, "%s: %s", source, strerror(errno));
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		names = xgrow(names, &cap, n + 1, sizeof *names);
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_str);
	int rc = 0;
	bool any = false;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (ignored(names[i]))
			continue;
		char *full = xasprintf("%s%s%s", source, source[strlen(source) - 1] == '/' ? "" : "/", names[i]);
		bool p;
		rc = parse_source(c, full, depth + 1, false, &p);
		any |= p;
		free(full);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rc)
		return -1;
	if (!any) {
		/* Ansible warns and goes on; fleetdeck refuses a source that gave nothing,
		 * but, like Ansible, only warns about a subdirectory without inventories */
		if (top)
			return fail(c, "%s: Unable to parse %s as an inventory source: no inventory file in the directory",
				    source, source);
		inv_warn(c->inv, "Unable to parse %s as an inventory source", source);
	}
	*parsed = any;
	return 0;
}

int inv_load(inventory *inv, const char *path, char **err)
{
	struct lctx c = { inv, err };
	/* parse_sources() skips empty sources */
	if (!*path)
		return 0;
	if (strchr(path, ',') && !exists(path)) {
		parse_host_list(&c, path);
		inv_source_add(inv, path, NULL);
		return 0;
	}
	/* paths with a comma are used as given */
	char *full = strchr(path, ',') ? xstrdup(path) : unfrackpath(path);
	if (!exists(full)) {
		fail(&c, "%s: %s", full, strerror(errno));
		free(full);
		return -1;
	}
	bool parsed;
	int rc = parse_source(&c, full, 0, true, &parsed);
	if (rc == 0) {
		char *vd = vars_dir_of(path);
		inv_source_add(inv, full, vd);
		free(vd);
	}
	free(full);
	return rc;
}

int inv_load_vars(inventory *inv, char **err)
{
	/* parse_sources(): one reconcile after all sources, then the variables */
	if (inv_reconcile(inv, err))
		return -1;
	for (size_t s = 0; s < inv_source_count(inv); s++) {
		const char *dir = inv_source_vars_dir(inv, s);
		if (dir && varsfiles_load(inv, s, dir, err))
			return -1;
	}
	return 0;
}
