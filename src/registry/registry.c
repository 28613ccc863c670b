/* registry: reading, checking and querying models/index.json; fetching, verifying and adding model files. */
#include "registry/registry.h"
#include "util/pyjson.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_ERRORS 20
#define MAX_NAME 128

struct model {
	const char *name;
	size_t first, count;
};

struct fd_registry {
	char *location, *index_source;
	bool remote;
	registry_opts o;
	json_t *root;
	reg_entry *ents;
	size_t n;
	struct model *models;
	size_t nmodels;
};

/* ---- names ---- */

static bool is_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* A model name: it becomes part of a file name and a URL path. */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > MAX_NAME || !is_alnum(s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

static bool precision_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

/* A version: semantic, and short (it is part of a file name too). */
static bool version_ok(const char *s, const char **why)
{
	semver v;
	if (strlen(s) > MAX_NAME) {
		*why = "longer than 128 characters";
		return false;
	}
	return semver_parse(s, &v, why);
}

bool registry_is_url(const char *location)
{
	return !strncmp(location, "http://", 7) || !strncmp(location, "https://", 8);
}

static char *strip_slashes(const char *s)
{
	size_t n = strlen(s);
	while (n > 1 && s[n - 1] == '/')
		n--;
	return xstrndup(s, n);
}

char *registry_url_from_var(const char *v)
{
	char *s = strip_slashes(v);
	if (strstr(s, "://"))
		return s;
	char *u = xasprintf("http://%s", s);
	free(s);
	return u;
}

/* ---- error lists: "SOURCE:LINE: what", one a line ---- */

/* What an index says goes into messages that end up on a terminal: control
 * characters (C0, DEL, and C1 as UTF-8) become '?'. */
static void defang(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			p[0] = p[1] = '?';
}

struct errs {
	const char *source;
	char *text;
	int count;
};

static void __attribute__((format(printf, 3, 4))) err_add(struct errs *e, size_t line, const char *fmt, ...)
{
	e->count++;
	if (e->count > MAX_ERRORS)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *what = xvasprintf(fmt, ap);
	va_end(ap);
	defang(what);
	char *t = xasprintf("%s%s%s:%zu: %s", e->text ? e->text : "", e->text ? "\n" : "", e->source, line, what);
	free(what);
	free(e->text);
	e->text = t;
}

static char *err_take(struct errs *e)
{
	if (e->count > MAX_ERRORS) {
		char *t = xasprintf("%s\n%s: ... and %d more", e->text, e->source, e->count - MAX_ERRORS);
		free(e->text);
		e->text = t;
	}
	char *t = e->text;
	e->text = NULL;
	return t;
}

/* ---- the lines of keys: jansson keeps no positions of what it parsed, so the
 * text (already known to be valid JSON) is scanned once for the line of every
 * entry's key (depth 1) and of every field of an entry (depth 2). ---- */

struct keyline {
	char *key;
	size_t line;
	int depth;
};

struct keylines {
	struct keyline *v;
	size_t n, cap;
	strmap *entries; /* an entry's key -> its index in v, plus 1 */
};

static char *key_text(const char *tok, size_t len)
{
	if (!memchr(tok, '\\', len))
		return xstrndup(tok + 1, len - 2);
	json_t *j = json_loadb(tok, len, JSON_DECODE_ANY, NULL);
	char *s = xstrdup(json_is_string(j) ? json_string_value(j) : "");
	json_decref(j);
	return s;
}

static void scan_keys(const char *s, size_t n, struct keylines *kl)
{
	size_t line = 1;
	int depth = 0;
	char type[3] = { 0 };
	bool want_key[3] = { 0 };
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\n')
			line++;
		else if (c == '{' || c == '[') {
			depth++;
			if (depth <= 2) {
				type[depth] = c;
				want_key[depth] = c == '{';
			}
		} else if (c == '}' || c == ']')
			depth--;
		else if (c == ',' && depth >= 1 && depth <= 2 && type[depth] == '{')
			want_key[depth] = true;
		else if (c == ':' && depth >= 1 && depth <= 2)
			want_key[depth] = false;
		else if (c == '"') {
			size_t start = i;
			for (i++; i < n && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
			if (i >= n)
				break;
			if (depth >= 1 && depth <= 2 && type[depth] == '{' && want_key[depth]) {
				kl->v = xgrow(kl->v, &kl->cap, kl->n + 1, sizeof *kl->v);
				kl->v[kl->n++] = (struct keyline){ key_text(s + start, i - start + 1), line, depth };
				want_key[depth] = false;
			}
		}
	}
	kl->entries = strmap_new();
	for (size_t k = 0; k < kl->n; k++)
		if (kl->v[k].depth == 1)
			strmap_put(kl->entries, kl->v[k].key, (void *)(uintptr_t)(k + 1));
}

/* The line of entry key's field (NULL: of the key itself); 1 if unknown. */
static size_t line_of(const struct keylines *kl, const char *key, const char *field)
{
	uintptr_t at = kl->entries ? (uintptr_t)strmap_get(kl->entries, key) : 0;
	if (!at)
		return 1;
	size_t i = at - 1;
	if (!field)
		return kl->v[i].line;
	for (size_t j = i + 1; j < kl->n && kl->v[j].depth == 2; j++)
		if (!strcmp(kl->v[j].key, field))
			return kl->v[j].line;
	return kl->v[i].line;
}

static void keylines_free(struct keylines *kl)
{
	strmap_free(kl->entries);
	for (size_t i = 0; i < kl->n; i++)
		free(kl->v[i].key);
	free(kl->v);
}

/* ---- one entry ---- */

struct checker {
	struct errs *errs;
	const struct keylines *kl;
	const char *key;
	const json_t *obj;
};

static size_t at(const struct checker *c, const char *field) { return line_of(c->kl, c->key, field); }

/* An optional string field: NULL when absent or null; *bad on a wrong type. */
static const char *opt_string(struct checker *c, const char *field, bool *bad)
{
	const json_t *v = json_object_get(c->obj, field);
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		err_add(c->errs, at(c, field), "%s: %s: expected a string", c->key, field);
		*bad = true;
		return NULL;
	}
	return json_string_value(v);
}

static double opt_number(struct checker *c, const char *field, bool *bad)
{
	const json_t *v = json_object_get(c->obj, field);
	if (!v || json_is_null(v))
		return NAN;
	if (!json_is_number(v) || !isfinite(json_number_value(v))) {
		err_add(c->errs, at(c, field), "%s: %s: expected a number", c->key, field);
		*bad = true;
		return NAN;
	}
	return json_number_value(v);
}

static bool is_hex64(const char *s)
{
	return s && strlen(s) == 64 && strspn(s, "0123456789abcdefABCDEF") == 64;
}

/* Checks one entry and fills e; false (with errors added) if it is wrong. */
static bool check_entry(struct checker *c, reg_entry *e)
{
	bool bad = false;
	memset(e, 0, sizeof *e);
	e->key = c->key;
	e->line = at(c, NULL);
	e->map = e->latency_ms = e->model_size_mb = NAN;
	if (!json_is_object(c->obj)) {
		err_add(c->errs, e->line, "%s: expected an object of metadata", c->key);
		return false;
	}
	e->json = c->obj;
	const char *why = NULL;
	e->name = opt_string(c, "name", &bad);
	e->version = opt_string(c, "version", &bad);
	if (bad)
		return false;
	if (!e->name)
		err_add(c->errs, e->line, "%s: no name", c->key), bad = true;
	else if (!name_ok(e->name))
		err_add(c->errs, at(c, "name"), "%s: name '%s': 1-128 of A-Z a-z 0-9 . _ -, starting with a letter or digit",
			c->key, e->name), bad = true;
	if (!e->version)
		err_add(c->errs, e->line, "%s: no version", c->key), bad = true;
	else if (!version_ok(e->version, &why))
		err_add(c->errs, at(c, "version"), "%s: version '%s' is not a semantic version: %s", c->key, e->version,
			why), bad = true;
	if (!bad) {
		semver_parse(e->version, &e->sv, NULL);
		size_t nl = strlen(e->name);
		if (strncmp(c->key, e->name, nl) || c->key[nl] != ':' || strcmp(c->key + nl + 1, e->version))
			err_add(c->errs, e->line, "the key '%s' is not name:version (%s:%s)", c->key, e->name,
				e->version), bad = true;
	}
	bool badsum = false;
	const char *sum = opt_string(c, "checksum", &badsum);
	if (badsum)
		bad = true;
	else if (!sum)
		err_add(c->errs, e->line, "%s: no checksum", c->key), bad = true;
	else if (sum && !is_hex64(sum))
		err_add(c->errs, at(c, "checksum"), "%s: checksum: expected a SHA-256 in 64 hex digits", c->key), bad = true;
	e->precision = opt_string(c, "precision", &bad);
	if (e->precision && !precision_ok(e->precision))
		err_add(c->errs, at(c, "precision"), "%s: precision '%s': 1-32 of A-Z a-z 0-9 _ -", c->key, e->precision),
			bad = true;
	e->architecture = opt_string(c, "architecture", &bad);
	e->framework = opt_string(c, "framework", &bad);
	e->training_date = opt_string(c, "training_date", &bad);
	e->description = opt_string(c, "description", &bad);
	e->baseline = opt_string(c, "baseline", &bad);
	if (e->baseline && !*e->baseline)
		e->baseline = NULL;
	e->map = opt_number(c, "mAP", &bad);
	e->latency_ms = opt_number(c, "latency_ms", &bad);
	e->model_size_mb = opt_number(c, "model_size_mb", &bad);
	const json_t *shape = json_object_get(c->obj, "input_shape");
	if (shape && !json_is_null(shape)) {
		size_t i;
		const json_t *d;
		bool good = json_is_array(shape);
		json_array_foreach(shape, i, d) good = good && json_is_integer(d) && json_integer_value(d) >= 0;
		if (!good)
			err_add(c->errs, at(c, "input_shape"), "%s: input_shape: expected a list of non-negative integers",
				c->key), bad = true;
	}
	const json_t *tags = json_object_get(c->obj, "tags");
	if (tags && !json_is_null(tags)) {
		size_t i;
		const json_t *t;
		bool good = json_is_array(tags);
		json_array_foreach(tags, i, t) good = good && json_is_string(t);
		if (!good)
			err_add(c->errs, at(c, "tags"), "%s: tags: expected a list of strings", c->key), bad = true;
	}
	if (bad)
		return false;
	char *lower = xstrdup(sum);
	for (char *p = lower; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	e->checksum = lower;
	if (json_array_size(shape)) {
		long long *v = xcalloc(json_array_size(shape), sizeof *v);
		for (size_t i = 0; i < json_array_size(shape); i++)
			v[i] = (long long)json_integer_value(json_array_get(shape, i));
		e->input_shape = v;
		e->ninput_shape = json_array_size(shape);
	}
	if (json_array_size(tags)) {
		const char **v = xcalloc(json_array_size(tags), sizeof *v);
		for (size_t i = 0; i < json_array_size(tags); i++)
			v[i] = json_string_value(json_array_get(tags, i));
		e->tags = v;
		e->ntags = json_array_size(tags);
	}
	return true;
}

static void entry_clear(reg_entry *e)
{
	free((void *)e->checksum);
	free((void *)e->input_shape);
	free((void *)e->tags);
}

static int by_name_version(const void *pa, const void *pb)
{
	const reg_entry *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);
	if (!c)
		c = semver_cmp(&a->sv, &b->sv);
	if (!c)
		c = strcmp(a->version, b->version);
	return c;
}

static void opts_fill(registry_opts *o, const registry_opts *in)
{
	if (in)
		*o = *in;
	else
		memset(o, 0, sizeof *o);
	if (o->connect_ms <= 0)
		o->connect_ms = 5000;
	if (o->timeout_ms <= 0)
		o->timeout_ms = 30000;
	if (o->file_timeout_ms <= 0)
		o->file_timeout_ms = 3600000;
	if (o->low_speed_s <= 0)
		o->low_speed_s = 30;
	if (!o->max_index_bytes)
		o->max_index_bytes = 16u << 20;
	if (!o->max_file_bytes)
		o->max_file_bytes = UINT64_C(4) << 30;
}

fd_registry *registry_parse(const char *location, const char *source, const char *data, size_t len,
			    const registry_opts *o, char **err)
{
	json_error_t je;
	json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		char *what = xstrdup(je.text);
		defang(what);
		*err = xasprintf("%s:%d: %s", source, je.line > 0 ? je.line : 1, what);
		free(what);
		return NULL;
	}
	if (!json_is_object(root)) {
		*err = xasprintf("%s:1: expected an object keyed \"name:version\"", source);
		json_decref(root);
		return NULL;
	}
	struct keylines kl = { 0 };
	scan_keys(data, len, &kl);
	struct errs errs = { .source = source };
	fd_registry *r = xcalloc(1, sizeof *r);
	r->location = strip_slashes(location);
	r->index_source = xstrdup(source);
	r->remote = registry_is_url(location);
	opts_fill(&r->o, o);
	r->root = root;
	r->ents = xcalloc(json_object_size(root) + 1, sizeof *r->ents);
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		struct checker c = { &errs, &kl, key, v };
		if (check_entry(&c, &r->ents[r->n]))
			r->n++;
		else
			entry_clear(&r->ents[r->n]);
	}
	qsort(r->ents, r->n, sizeof *r->ents, by_name_version);
	for (size_t i = 1; i < r->n; i++) {
		const reg_entry *a = &r->ents[i - 1], *b = &r->ents[i];
		if (!strcmp(a->name, b->name) && !semver_cmp(&a->sv, &b->sv)) {
			const reg_entry *later = a->line > b->line ? a : b, *first = later == a ? b : a;
			err_add(&errs, later->line, "%s is the same version as %s (line %zu)", later->key, first->key,
				first->line);
		}
	}
	keylines_free(&kl);
	if (errs.count) {
		*err = err_take(&errs);
		registry_free(r);
		return NULL;
	}
	for (size_t i = 0; i < r->n; i++) {
		if (r->nmodels && !strcmp(r->models[r->nmodels - 1].name, r->ents[i].name)) {
			r->models[r->nmodels - 1].count++;
			continue;
		}
		r->models = xrealloc(r->models, (r->nmodels + 1) * sizeof *r->models);
		r->models[r->nmodels++] = (struct model){ r->ents[i].name, i, 1 };
	}
	return r;
}

void registry_free(fd_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		entry_clear(&r->ents[i]);
	free(r->ents);
	free(r->models);
	json_decref(r->root);
	free(r->location);
	free(r->index_source);
	free(r);
}

/* ---- reading: local files and HTTP, both through a sink ---- */

struct sink {
	/* one of: a growing buffer (buf) or a running hash (md) */
	char *buf;
	size_t n, cap;
	EVP_MD_CTX *md;
	uint64_t got, max;
	bool over;
	long code;      /* HTTP status seen at the first byte */
	CURL *curl;
};

static bool sink_put(struct sink *s, const void *data, size_t len)
{
	if (s->got + len > s->max) {
		s->over = true;
		return false;
	}
	s->got += len;
	if (s->md)
		EVP_DigestUpdate(s->md, data, len);
	else {
		s->buf = xgrow(s->buf, &s->cap, s->n + len + 1, 1);
		memcpy(s->buf + s->n, data, len);
		s->n += len;
		s->buf[s->n] = '\0';
	}
	return true;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct sink *s = ctx;
	size_t len = size * nmemb;
	if (!s->code)
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->code);
	if (s->code != 200)
		return 0; /* an error page: not the document */
	return sink_put(s, data, len) ? len : 0;
}

enum { GOT_OK = 0, GOT_MISSING = 1, GOT_ERROR = 2 };

static int http_get(const registry_opts *o, const char *url, bool big, struct sink *s, char **err)
{
	CURL *c = curl_easy_init();
	if (!c) {
		*err = xstrdup("libcurl could not be set up");
		return GOT_ERROR;
	}
	char errbuf[CURL_ERROR_SIZE] = "";
	s->curl = c;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->connect_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, big ? o->file_timeout_ms : o->timeout_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->low_speed_s);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	if (s->max < (uint64_t)INT64_MAX)
		curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max);
	CURLcode rc = curl_easy_perform(c);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	s->curl = NULL;
	if (code && code != 200 && (rc == CURLE_OK || rc == CURLE_WRITE_ERROR)) {
		*err = xasprintf("HTTP %ld", code);
		return code == 404 || code == 410 ? GOT_MISSING : GOT_ERROR;
	}
	if (rc == CURLE_FILESIZE_EXCEEDED || s->over) {
		*err = xasprintf("larger than %llu bytes", (unsigned long long)s->max);
		return GOT_ERROR;
	}
	if (rc != CURLE_OK) {
		*err = xstrdup(errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return GOT_ERROR;
	}
	return GOT_OK;
}

static int file_get(const char *path, struct sink *s, char **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		*err = xstrdup(strerror(e));
		return e == ENOENT ? GOT_MISSING : GOT_ERROR;
	}
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		*err = xstrdup("not a regular file");
		close(fd);
		return GOT_ERROR;
	}
	char buf[1 << 16];
	ssize_t k;
	while ((k = read(fd, buf, sizeof buf)) > 0)
		if (!sink_put(s, buf, (size_t)k))
			break;
	int e = errno;
	close(fd);
	if (s->over) {
		*err = xasprintf("larger than %llu bytes", (unsigned long long)s->max);
		return GOT_ERROR;
	}
	if (k < 0) {
		*err = xstrdup(strerror(e));
		return GOT_ERROR;
	}
	return GOT_OK;
}

static int get(const registry_opts *o, const char *where, bool big, struct sink *s, char **err)
{
	return registry_is_url(where) ? http_get(o, where, big, s, err) : file_get(where, s, err);
}

fd_registry *registry_open(const char *location, const registry_opts *o, bool allow_missing, char **err)
{
	if (!location || !*location) {
		*err = xstrdup("no registry given");
		return NULL;
	}
	registry_opts ro;
	opts_fill(&ro, o);
	char *loc = strip_slashes(location);
	char *source = xasprintf("%s/models/index.json", loc);
	struct sink s = { .max = ro.max_index_bytes };
	char *why = NULL;
	fd_registry *r = NULL;
	if (!registry_is_url(loc)) {
		struct stat st;
		if (stat(loc, &st) || !S_ISDIR(st.st_mode)) {
			*err = xasprintf("%s: not a directory%s", loc,
					 strchr(loc, ':') ? " (a registry URL starts with http:// or https://)" : "");
			goto out;
		}
	}
	int got = get(&ro, source, false, &s, &why);
	if (got == GOT_MISSING && allow_missing && !registry_is_url(loc))
		r = registry_parse(loc, source, "{}", 2, &ro, err);
	else if (got != GOT_OK)
		*err = xasprintf("%s: %s", source, why);
	else
		r = registry_parse(loc, source, s.buf ? s.buf : "", s.n, &ro, err);
out:
	free(why);
	free(s.buf);
	free(source);
	free(loc);
	return r;
}

int registry_fetch(const fd_registry *r, const char *url_or_path, size_t max, char **data, size_t *len, char **err)
{
	struct sink s = { .max = max };
	char *why = NULL;
	if (r->remote && !registry_is_url(url_or_path)) {
		/* what a registry server names is fetched from a server, never read from this disk */
		*err = xasprintf("%s: not an http(s) URL", url_or_path);
		return -1;
	}
	if (get(&r->o, url_or_path, false, &s, &why) != GOT_OK) {
		*err = xasprintf("%s: %s", url_or_path, why);
		free(why);
		free(s.buf);
		return -1;
	}
	*data = s.buf ? s.buf : xstrdup("");
	*len = s.n;
	return 0;
}

/* ---- queries ---- */

const char *registry_location(const fd_registry *r) { return r->location; }
const char *registry_index_source(const fd_registry *r) { return r->index_source; }
bool registry_is_remote(const fd_registry *r) { return r->remote; }
size_t registry_count(const fd_registry *r) { return r->n; }
const reg_entry *registry_entry(const fd_registry *r, size_t i) { return i < r->n ? &r->ents[i] : NULL; }
size_t registry_model_count(const fd_registry *r) { return r->nmodels; }
const char *registry_model_name(const fd_registry *r, size_t i) { return i < r->nmodels ? r->models[i].name : NULL; }

const reg_entry *registry_versions(const fd_registry *r, const char *name, size_t *n)
{
	*n = 0;
	size_t lo = 0, hi = r->nmodels; /* the models are sorted by name */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->models[mid].name, name);
		if (!c) {
			*n = r->models[mid].count;
			return &r->ents[r->models[mid].first];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const reg_entry *registry_latest(const fd_registry *r, const char *name)
{
	size_t n;
	const reg_entry *v = registry_versions(r, name, &n);
	for (size_t i = n; i-- > 0;)
		if (!semver_is_prerelease(&v[i].sv))
			return &v[i];
	return n ? &v[n - 1] : NULL;
}

const reg_entry *registry_find(const fd_registry *r, const char *name, const char *version)
{
	if (!version)
		return registry_latest(r, name);
	size_t n;
	const reg_entry *v = registry_versions(r, name, &n);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].version, version))
			return &v[i];
	semver want;
	if (!semver_parse(version, &want, NULL))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!semver_cmp(&v[i].sv, &want))
			return &v[i];
	return NULL;
}

const reg_entry *registry_find_spec(const fd_registry *r, const char *spec)
{
	const char *colon = strchr(spec, ':');
	if (!colon)
		return registry_find(r, spec, NULL);
	char *name = xstrndup(spec, (size_t)(colon - spec));
	const reg_entry *e = registry_find(r, name, colon + 1);
	free(name);
	return e;
}

bool reg_entry_has_tag(const reg_entry *e, const char *tag)
{
	for (size_t i = 0; i < e->ntags; i++)
		if (!strcmp(e->tags[i], tag))
			return true;
	return false;
}

const reg_entry **registry_with_tag(const fd_registry *r, const char *tag, size_t *n)
{
	const reg_entry **v = NULL;
	*n = 0;
	for (size_t i = 0; i < r->n; i++)
		if (reg_entry_has_tag(&r->ents[i], tag)) {
			v = xrealloc(v, (*n + 1) * sizeof *v);
			v[(*n)++] = &r->ents[i];
		}
	return v;
}

static char *file_name(const char *name, const char *version, const char *precision)
{
	if (*version == 'v' || *version == 'V')
		version++;
	char *f = xasprintf("%s-v%s-%s.onnx", name, version, precision ? precision : "int8");
	for (char *p = f + strlen(f) - 5 - strlen(precision ? precision : "int8"); *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return f;
}

char *reg_entry_file_name(const reg_entry *e) { return file_name(e->name, e->version, e->precision); }

char *registry_model_url(const fd_registry *r, const reg_entry *e)
{
	char *f = reg_entry_file_name(e);
	char *u = xasprintf("%s/models/%s", r->location, f);
	free(f);
	return u;
}

char *registry_baseline_url(const fd_registry *r, const reg_entry *e)
{
	const char *b = e->baseline;
	if (!b)
		return NULL;
	if (strstr(b, "://"))
		return xstrdup(b);
	if (*b == '/') {
		if (!r->remote)
			return xstrdup(b);
		const char *host = strstr(r->location, "://") + 3;
		const char *slash = strchr(host, '/');
		size_t origin = slash ? (size_t)(slash - r->location) : strlen(r->location);
		return xasprintf("%.*s%s", (int)origin, r->location, b);
	}
	return xasprintf("%s/models/%s", r->location, b);
}

/* ---- verifying ---- */

static void hex_of(EVP_MD_CTX *md, char out[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_DigestFinal_ex(md, d, &n);
	for (unsigned i = 0; i < n && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	out[64] = '\0';
}

void registry_verify(const fd_registry *r, const reg_entry *e, reg_verify_result *out)
{
	memset(out, 0, sizeof *out);
	char *where = registry_model_url(r, e);
	struct sink s = { .max = r->o.max_file_bytes, .md = EVP_MD_CTX_new() };
	EVP_DigestInit_ex(s.md, EVP_sha256(), NULL);
	char *why = NULL;
	int got = get(&r->o, where, true, &s, &why);
	out->bytes = s.got;
	if (got != GOT_OK) {
		out->status = got == GOT_MISSING ? REG_VERIFY_MISSING : REG_VERIFY_ERROR;
		out->error = xasprintf("%s: %s", where, why);
	} else {
		hex_of(s.md, out->actual);
		out->status = strcmp(out->actual, e->checksum) ? REG_VERIFY_MISMATCH : REG_VERIFY_OK;
	}
	EVP_MD_CTX_free(s.md);
	free(why);
	free(where);
}

void reg_verify_result_clear(reg_verify_result *v)
{
	if (!v)
		return;
	free(v->error);
	v->error = NULL;
}

const char *reg_verify_status_name(reg_verify_status s)
{
	static const char *const names[] = { "ok", "mismatch", "missing", "error" };
	return (unsigned)s < sizeof names / sizeof *names ? names[s] : "?";
}

int registry_hash_path(const char *path, char hex[65], uint64_t *bytes, char **err)
{
	struct sink s = { .max = UINT64_MAX, .md = EVP_MD_CTX_new() };
	EVP_DigestInit_ex(s.md, EVP_sha256(), NULL);
	char *why = NULL;
	int rc = 0;
	if (file_get(path, &s, &why) != GOT_OK) {
		*err = xasprintf("%s: %s", path, why);
		rc = -1;
	} else {
		hex_of(s.md, hex);
		*bytes = s.got;
	}
	free(why);
	EVP_MD_CTX_free(s.md);
	return rc;
}

/* ---- adding ---- */

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t k = write(fd, c, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Copies src to dst through a temporary file beside dst renamed over it,
 * hashing what it copies. dst being src itself: only hashed. */
static int place_file(const char *src, const char *dst, char hex[65], uint64_t *bytes, char **err)
{
	struct stat a, b;
	if (stat(src, &a) == 0 && stat(dst, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return registry_hash_path(src, hex, bytes, err);
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &a) || !S_ISREG(a.st_mode)) {
		*err = xasprintf("%s: %s", src, in < 0 ? strerror(errno) : "not a regular file");
		if (in >= 0)
			close(in);
		return -1;
	}
	char *tmp = xasprintf("%s.tmp.%ld", dst, (long)getpid());
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		*err = xasprintf("%s: %s", tmp, strerror(errno));
		close(in);
		free(tmp);
		return -1;
	}
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	char buf[1 << 16];
	ssize_t k;
	uint64_t n = 0;
	int rc = 0;
	while ((k = read(in, buf, sizeof buf)) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			*err = xasprintf("%s: %s", src, strerror(errno));
			rc = -1;
			break;
		}
		EVP_DigestUpdate(md, buf, (size_t)k);
		n += (uint64_t)k;
		if (write_all(out, buf, (size_t)k)) {
			*err = xasprintf("%s: %s", tmp, strerror(errno));
			rc = -1;
			break;
		}
	}
	if (!rc && (fsync(out) || close(out))) {
		*err = xasprintf("%s: %s", tmp, strerror(errno));
		rc = -1;
	} else if (rc)
		close(out);
	out = -1;
	if (!rc && rename(tmp, dst)) {
		*err = xasprintf("%s: %s", dst, strerror(errno));
		rc = -1;
	}
	if (rc)
		unlink(tmp);
	else {
		hex_of(md, hex);
		*bytes = n;
	}
	EVP_MD_CTX_free(md);
	close(in);
	free(tmp);
	return rc;
}

/* Writes text to path atomically: a temporary file beside it, synced, renamed. */
static int write_atomic(const char *path, const char *text, char **err)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = -1;
	if (fd < 0)
		*err = xasprintf("%s: %s", tmp, strerror(errno));
	else if (write_all(fd, text, strlen(text)) || fsync(fd)) {
		*err = xasprintf("%s: %s", tmp, strerror(errno));
		close(fd);
	} else if (close(fd))
		*err = xasprintf("%s: %s", tmp, strerror(errno));
	else if (rename(tmp, path))
		*err = xasprintf("%s: %s", path, strerror(errno));
	else
		rc = 0;
	if (rc && fd >= 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

static int check_meta(const reg_add_meta *m, char **err)
{
	const char *why = NULL;
	if (!m->name || !name_ok(m->name))
		*err = xasprintf("name '%s': 1-128 of A-Z a-z 0-9 . _ -, starting with a letter or digit",
				 m->name ? m->name : "");
	else if (!m->version || !version_ok(m->version, &why))
		*err = xasprintf("version '%s' is not a semantic version: %s", m->version ? m->version : "",
				 why ? why : "missing");
	else if (m->precision && !precision_ok(m->precision))
		*err = xasprintf("precision '%s': 1-32 of A-Z a-z 0-9 _ -", m->precision);
	else if ((!isnan(m->map) && !isfinite(m->map)) || (!isnan(m->latency_ms) && !isfinite(m->latency_ms)))
		*err = xstrdup("mAP and latency_ms must be finite numbers");
	else {
		for (size_t i = 0; i < m->ntags; i++) {
			json_t *t = m->tags[i] && *m->tags[i] ? json_string(m->tags[i]) : NULL;
			json_decref(t);
			if (!t)
				goto bad_tag;
		}
		for (size_t i = 0; i < m->ninput_shape; i++)
			if (m->input_shape[i] < 0) {
				*err = xstrdup("input_shape: dimensions must not be negative");
				return -1;
			}
		return 0;
	bad_tag:
		*err = xstrdup("a tag must be non-empty UTF-8 text");
	}
	return -1;
}

static json_t *entry_json(const reg_add_meta *m, const char *sum, uint64_t bytes)
{
	json_t *e = json_object();
	json_object_set_new(e, "name", json_string(m->name));
	json_object_set_new(e, "version", json_string(m->version));
	json_object_set_new(e, "precision", json_string(m->precision ? m->precision : "int8"));
	if (m->architecture)
		json_object_set_new(e, "architecture", json_string(m->architecture));
	if (m->framework)
		json_object_set_new(e, "framework", json_string(m->framework));
	if (m->input_shape) {
		json_t *a = json_array();
		for (size_t i = 0; i < m->ninput_shape; i++)
			json_array_append_new(a, json_integer(m->input_shape[i]));
		json_object_set_new(e, "input_shape", a);
	}
	if (!isnan(m->map))
		json_object_set_new(e, "mAP", json_real(m->map));
	if (!isnan(m->latency_ms))
		json_object_set_new(e, "latency_ms", json_real(m->latency_ms));
	json_object_set_new(e, "model_size_mb", json_real((double)(long long)(bytes / 10000) / 100.0));
	char date[16];
	if (!m->training_date) {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(date, sizeof date, "%Y-%m-%d", &tm);
	}
	json_object_set_new(e, "training_date", json_string(m->training_date ? m->training_date : date));
	json_object_set_new(e, "checksum", json_string(sum));
	json_t *tags = json_array();
	for (size_t i = 0; i < m->ntags; i++)
		json_array_append_new(tags, json_string(m->tags[i]));
	json_object_set_new(e, "tags", tags);
	json_object_set_new(e, "description", json_string(m->description ? m->description : ""));
	if (m->baseline)
		json_object_set_new(e, "baseline", json_string(m->baseline));
	return e;
}

int registry_add(const char *dir, const char *file, const reg_add_meta *m, bool force, json_t **entry,
		 char **err)
{
	if (check_meta(m, err))
		return -1;
	if (registry_is_url(dir)) {
		*err = xasprintf("%s: versions are added to a registry directory, not a URL", dir);
		return -1;
	}
	char *loc = strip_slashes(dir);
	char *models = xasprintf("%s/models", loc);
	char *lockp = xasprintf("%s/.index.lock", models), *index = xasprintf("%s/index.json", models);
	char *fname = file_name(m->name, m->version, m->precision), *dst = xasprintf("%s/%s", models, fname);
	char *text = NULL;
	int lock = -1, rc = -1;
	fd_registry *r = NULL;
	json_t *e = NULL, *root = NULL;
	if ((mkdir(loc, 0755) && errno != EEXIST) || (mkdir(models, 0755) && errno != EEXIST)) {
		*err = xasprintf("%s: %s", models, strerror(errno));
		goto out;
	}
	lock = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock < 0 || flock(lock, LOCK_EX)) {
		*err = xasprintf("%s: %s", lockp, strerror(errno));
		goto out;
	}
	r = registry_open(loc, NULL, true, err);
	if (!r)
		goto out;
	const reg_entry *old = registry_find(r, m->name, m->version);
	if (old && !force) {
		*err = xasprintf("%s:%zu: %s:%s is already registered as %s; --force replaces it", index, old->line,
				 m->name, m->version, old->key);
		goto out;
	}
	root = json_deep_copy(r->root);
	if (old)
		json_object_del(root, old->key);
	char sum[65];
	uint64_t bytes = 0;
	if (place_file(file, dst, sum, &bytes, err))
		goto out;
	e = entry_json(m, sum, bytes);
	char *key = xasprintf("%s:%s", m->name, m->version);
	json_object_set(root, key, e);
	free(key);
	char *body = pyjson_dumps(root, 2);
	text = xasprintf("%s\n", body);
	free(body);
	if (write_atomic(index, text, err))
		goto out;
	rc = 0;
	if (entry) {
		*entry = e;
		e = NULL;
	}
out:
	if (lock >= 0)
		close(lock);
	registry_free(r);
	json_decref(root);
	json_decref(e);
	free(text);
	free(dst);
	free(fname);
	free(index);
	free(lockp);
	free(models);
	free(loc);
	return rc;
}
