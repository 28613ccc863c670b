/* sshconfig: a reader for the ssh_config keywords fleetdeck honours, ProxyJump
 * specs and shell-word splitting. */
#include "poll/sshconfig.h"

#include "util/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_INCLUDE_DEPTH 16
#define MAX_LINE 8192
#define MAX_IDENTITIES 64

typedef struct cfg_opt {
	char *key; /* lower case */
	char **args;
	size_t nargs;
	int line;
} cfg_opt;

typedef struct cfg_block {
	char **patterns; /* Host arguments; NULL with n_patterns 0 = every host */
	size_t n_patterns;
	int never; /* a Match block: none of its options apply */
	long cond; /* the block an Include sat in: it must match too (-1: none) */
	cfg_opt *opts;
	size_t n_opts, cap_opts;
} cfg_block;

struct sshconfig {
	cfg_block *blocks;
	size_t n_blocks, cap_blocks;
	char *home;
	char *user;
};

static void free_words(char **w)
{
	if (!w)
		return;
	for (size_t i = 0; w[i]; i++)
		free(w[i]);
	free(w);
}

void sshconfig_free(sshconfig *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_blocks; i++) {
		cfg_block *b = &c->blocks[i];
		for (size_t j = 0; j < b->n_patterns; j++)
			free(b->patterns[j]);
		free(b->patterns);
		for (size_t j = 0; j < b->n_opts; j++) {
			free(b->opts[j].key);
			free_words(b->opts[j].args);
		}
		free(b->opts);
	}
	free(c->blocks);
	free(c->home);
	free(c->user);
	free(c);
}

sshconfig *sshconfig_empty(void)
{
	sshconfig *c = xcalloc(1, sizeof *c);
	c->home = xstrdup("");
	c->user = xstrdup("");
	return c;
}

/* ---- words ---- */

typedef struct wbuf {
	char *s;
	size_t len, cap;
} wbuf;

static void wb_put(wbuf *b, char ch)
{
	b->s = xgrow(b->s, &b->cap, b->len + 2, 1);
	b->s[b->len++] = ch;
	b->s[b->len] = '\0';
}

static void words_push(char ***w, size_t *n, size_t *cap, char *s)
{
	*w = xgrow(*w, cap, *n + 2, sizeof **w);
	(*w)[(*n)++] = s;
	(*w)[*n] = NULL;
}

int sshconfig_split_words(const char *s, char ***words, char **err)
{
	char **w = NULL;
	size_t n = 0, cap = 0;
	wbuf cur = {0};
	int in_word = 0;
	w = xgrow(w, &cap, 1, sizeof *w);
	w[0] = NULL;
	for (const char *p = s; *p; p++) {
		char ch = *p;
		if (ch == ' ' || ch == '\t' || ch == '\n') {
			if (in_word) {
				words_push(&w, &n, &cap, cur.s ? cur.s : xstrdup(""));
				cur = (wbuf){0};
				in_word = 0;
			}
			continue;
		}
		in_word = 1;
		if (ch == '\'') {
			const char *e = strchr(p + 1, '\'');
			if (!e)
				goto unterminated;
			for (const char *q = p + 1; q < e; q++)
				wb_put(&cur, *q);
			if (!cur.s)
				cur.s = xstrdup(""), cur.cap = 1;
			p = e;
		} else if (ch == '"') {
			const char *q = p + 1;
			for (; *q && *q != '"'; q++) {
				if (*q == '\\' && (q[1] == '$' || q[1] == '`' || q[1] == '"' || q[1] == '\\')) {
					wb_put(&cur, q[1]);
					q++;
				} else if (*q == '\\' && q[1] == '\n') {
					q++;
				} else {
					wb_put(&cur, *q);
				}
			}
			if (!*q)
				goto unterminated;
			if (!cur.s)
				cur.s = xstrdup(""), cur.cap = 1;
			p = q;
		} else if (ch == '\\') {
			if (!p[1]) {
				wb_put(&cur, '\\');
			} else {
				if (p[1] != '\n')
					wb_put(&cur, p[1]);
				p++;
			}
		} else {
			wb_put(&cur, ch);
		}
	}
	if (in_word)
		words_push(&w, &n, &cap, cur.s ? cur.s : xstrdup(""));
	*words = w;
	return (int)n;
unterminated:
	free(cur.s);
	free_words(w);
	*err = xstrdup("unterminated quote");
	return -1;
}

/* ssh_config's own tokenizer: whitespace separates, "double quotes" group, a
 * word starting with # ends the line. The first '=' after the keyword may
 * separate it from its arguments. */
static int is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static int config_tokens(const char *line, char ***out, char **why)
{
	char **w = NULL;
	size_t n = 0, cap = 0;
	w = xgrow(w, &cap, 1, sizeof *w);
	w[0] = NULL;
	const char *p = line;
	while (is_ws(*p))
		p++;
	if (!*p || *p == '#') {
		*out = w;
		return 0;
	}
	const char *k = p;
	while (*p && !is_ws(*p) && *p != '=')
		p++;
	words_push(&w, &n, &cap, xstrndup(k, (size_t)(p - k)));
	while (is_ws(*p))
		p++;
	if (*p == '=')
		p++;
	for (;;) {
		while (is_ws(*p))
			p++;
		if (!*p || *p == '#')
			break;
		wbuf cur = {0};
		if (*p == '"') {
			p++;
			while (*p && *p != '"')
				wb_put(&cur, *p++);
			if (*p != '"') {
				free(cur.s);
				free_words(w);
				*why = xstrdup("unterminated quote");
				return -1;
			}
			p++;
			if (!cur.s)
				cur.s = xstrdup("");
		} else {
			while (*p && !is_ws(*p))
				wb_put(&cur, *p++);
		}
		words_push(&w, &n, &cap, cur.s);
	}
	*out = w;
	return (int)n;
}

/* ---- patterns ---- */

static int glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *mark = NULL;
	while (*s) {
		if (*pat == '*') {
			star = pat++;
			mark = s;
		} else if (*pat == '?' || tolower((unsigned char)*pat) == tolower((unsigned char)*s)) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++mark;
		} else {
			return 0;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

int sshconfig_match_list(const char *patterns, const char *name)
{
	int got = 0;
	const char *p = patterns;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char *one = xstrndup(p, len);
		int neg = one[0] == '!';
		if (glob_match(one + neg, name)) {
			if (neg) {
				free(one);
				return 0;
			}
			got = 1;
		}
		free(one);
		if (!e)
			break;
		p = e + 1;
	}
	return got;
}

static int block_matches(const sshconfig *c, const cfg_block *b, const char *host)
{
	if (b->never)
		return 0;
	if (b->cond >= 0 && !block_matches(c, &c->blocks[b->cond], host))
		return 0;
	if (b->n_patterns == 0)
		return 1;
	int got = 0;
	for (size_t i = 0; i < b->n_patterns; i++) {
		const char *pat = b->patterns[i];
		int neg = pat[0] == '!';
		if (sshconfig_match_list(pat + neg, host)) {
			if (neg)
				return 0;
			got = 1;
		}
	}
	return got;
}

/* ---- loading ---- */

static cfg_block *new_block(sshconfig *c, char **patterns, size_t n, int never, long cond)
{
	c->blocks = xgrow(c->blocks, &c->cap_blocks, c->n_blocks + 1, sizeof *c->blocks);
	cfg_block *b = &c->blocks[c->n_blocks++];
	memset(b, 0, sizeof *b);
	b->never = never;
	b->cond = cond;
	if (n) {
		b->patterns = xcalloc(n, sizeof *b->patterns);
		for (size_t i = 0; i < n; i++)
			b->patterns[i] = xstrdup(patterns[i]);
		b->n_patterns = n;
	}
	return b;
}

static char *expand_tilde(const char *home, const char *s)
{
	if (s[0] == '~' && (s[1] == '/' || s[1] == '\0'))
		return xasprintf("%s%s", home, s + 1);
	return xstrdup(s);
}

static int load_file(sshconfig *c, const char *path, int depth, long cond, char **err);

static int do_include(sshconfig *c, char **args, size_t nargs, int depth, const char *file, int line,
		      char **err)
{
	if (depth >= MAX_INCLUDE_DEPTH) {
		*err = xasprintf("%s:%d: Include nested more than %d deep", file, line, MAX_INCLUDE_DEPTH);
		return -1;
	}
	/* the block the Include sits in: its condition carries on after the include */
	size_t parent = c->n_blocks - 1;
	for (size_t i = 0; i < nargs; i++) {
		char *pat = expand_tilde(c->home, args[i]);
		if (pat[0] != '/') {
			char *abs = xasprintf("%s/.ssh/%s", c->home, pat);
			free(pat);
			pat = abs;
		}
		glob_t g;
		int rc = glob(pat, 0, NULL, &g);
		free(pat);
		if (rc == GLOB_NOMATCH)
			continue;
		if (rc != 0) {
			*err = xasprintf("%s:%d: Include %s: cannot expand", file, line, args[i]);
			return -1;
		}
		for (size_t k = 0; k < g.gl_pathc; k++) {
			/* as OpenSSH: each file starts under the Include's condition,
			 * and its Host blocks can only match where that one does */
			new_block(c, NULL, 0, 0, (long)parent);
			if (load_file(c, g.gl_pathv[k], depth + 1, (long)parent, err) < 0) {
				globfree(&g);
				return -1;
			}
		}
		globfree(&g);
	}
	new_block(c, NULL, 0, 0, (long)parent);
	return 0;
}

static int load_file(sshconfig *c, const char *path, int depth, long cond, char **err)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		*err = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	int lineno = 0;
	int rc = 0;
	while ((got = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (got > MAX_LINE) {
			*err = xasprintf("%s:%d: line longer than %d bytes", path, lineno, MAX_LINE);
			rc = -1;
			break;
		}
		char **w;
		char *why = NULL;
		int n = config_tokens(line, &w, &why);
		if (n < 0) {
			*err = xasprintf("%s:%d: %s", path, lineno, why);
			free(why);
			rc = -1;
			break;
		}
		if (n == 0) {
			free_words(w);
			continue;
		}
		for (char *k = w[0]; *k; k++)
			*k = (char)tolower((unsigned char)*k);
		if (strcmp(w[0], "host") == 0) {
			if (n < 2) {
				*err = xasprintf("%s:%d: Host without a pattern", path, lineno);
				free_words(w);
				rc = -1;
				break;
			}
			new_block(c, w + 1, (size_t)n - 1, 0, cond);
		} else if (strcmp(w[0], "match") == 0) {
			new_block(c, NULL, 0, 1, cond);
		} else if (strcmp(w[0], "include") == 0) {
			if (do_include(c, w + 1, (size_t)n - 1, depth, path, lineno, err) < 0) {
				free_words(w);
				rc = -1;
				break;
			}
		} else {
			cfg_block *b = &c->blocks[c->n_blocks - 1];
			b->opts = xgrow(b->opts, &b->cap_opts, b->n_opts + 1, sizeof *b->opts);
			cfg_opt *o = &b->opts[b->n_opts++];
			o->key = xstrdup(w[0]);
			o->nargs = (size_t)n - 1;
			o->args = xcalloc((size_t)n, sizeof *o->args);
			for (int i = 1; i < n; i++)
				o->args[i - 1] = xstrdup(w[i]);
			o->line = lineno;
		}
		free_words(w);
	}
	free(line);
	fclose(f);
	return rc;
}

sshconfig *sshconfig_load(const char *path, const char *home, const char *user, char **err)
{
	sshconfig *c = xcalloc(1, sizeof *c);
	c->home = xstrdup(home ? home : "");
	c->user = xstrdup(user ? user : "");
	new_block(c, NULL, 0, 0, -1);
	if (path && *path && load_file(c, path, 0, -1, err) < 0) {
		sshconfig_free(c);
		return NULL;
	}
	return c;
}

/* ---- lookup ---- */

typedef struct tokens {
	const char *home, *luser, *host, *ruser, *orighost;
	int port;
} tokens;

static char *expand_tokens(const char *s, const tokens *t)
{
	char *tilde = NULL;
	if (s[0] == '~' && (s[1] == '/' || s[1] == '\0'))
		s = tilde = xasprintf("%s%s", t->home, s + 1);
	wbuf b = {0};
	wb_put(&b, 'x');
	b.len = 0;
	b.s[0] = '\0';
	for (const char *p = s; *p; p++) {
		if (*p != '%' || !p[1]) {
			wb_put(&b, *p);
			continue;
		}
		const char *rep = NULL;
		char portbuf[16];
		switch (p[1]) {
		case '%': rep = "%"; break;
		case 'd': rep = t->home; break;
		case 'u': rep = t->luser; break;
		case 'h': rep = t->host; break;
		case 'n': rep = t->orighost; break;
		case 'r': rep = t->ruser; break;
		case 'p':
			snprintf(portbuf, sizeof portbuf, "%d", t->port);
			rep = portbuf;
			break;
		default: break;
		}
		if (!rep) {
			wb_put(&b, *p);
			continue;
		}
		for (const char *r = rep; *r; r++)
			wb_put(&b, *r);
		p++;
	}
	free(tilde);
	return b.s;
}

static int parse_port(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 1 || v > 65535)
		return 0;
	return (int)v;
}

void sshconfig_lookup(const sshconfig *c, const char *host, const char *remote_user, int port,
		      sshconfig_host *h)
{
	memset(h, 0, sizeof *h);
	h->strict = SSHCONFIG_STRICT_UNSET;
	const char *hostname_raw = NULL, *known_raw = NULL;
	const char *ids_raw[MAX_IDENTITIES];
	size_t n_ids = 0;
	int have_strict = 0;
	for (size_t i = 0; i < c->n_blocks; i++) {
		const cfg_block *b = &c->blocks[i];
		if (!block_matches(c, b, host))
			continue;
		for (size_t j = 0; j < b->n_opts; j++) {
			const cfg_opt *o = &b->opts[j];
			if (o->nargs == 0)
				continue;
			const char *a = o->args[0];
			if (strcmp(o->key, "hostname") == 0) {
				if (!hostname_raw)
					hostname_raw = a;
			} else if (strcmp(o->key, "port") == 0) {
				if (!h->port)
					h->port = parse_port(a);
			} else if (strcmp(o->key, "user") == 0) {
				if (!h->user)
					h->user = xstrdup(a);
			} else if (strcmp(o->key, "identityfile") == 0) {
				if (n_ids < MAX_IDENTITIES)
					ids_raw[n_ids++] = a;
			} else if (strcmp(o->key, "proxyjump") == 0) {
				if (!h->proxyjump)
					h->proxyjump = xstrdup(a);
			} else if (strcmp(o->key, "userknownhostsfile") == 0) {
				if (!known_raw)
					known_raw = a;
			} else if (strcmp(o->key, "stricthostkeychecking") == 0) {
				if (!have_strict) {
					have_strict = 1;
					if (!strcasecmp(a, "yes") || !strcasecmp(a, "ask"))
						h->strict = SSHCONFIG_STRICT_YES;
					else if (!strcasecmp(a, "accept-new") || !strcasecmp(a, "no") ||
						 !strcasecmp(a, "off"))
						h->strict = SSHCONFIG_STRICT_ACCEPT_NEW;
				}
			}
		}
	}
	tokens t = {.home = c->home, .luser = c->user, .host = host, .orighost = host};
	if (hostname_raw)
		h->hostname = expand_tokens(hostname_raw, &t); /* %h: the host as typed */
	t.host = h->hostname ? h->hostname : host;
	t.ruser = remote_user ? remote_user : h->user ? h->user : c->user;
	t.port = port ? port : h->port ? h->port : 22;
	if (n_ids) {
		h->identity = xcalloc(n_ids, sizeof *h->identity);
		for (size_t i = 0; i < n_ids; i++)
			h->identity[i] = expand_tokens(ids_raw[i], &t);
		h->n_identity = n_ids;
	}
	if (known_raw && strcasecmp(known_raw, "none") != 0)
		h->known_hosts = expand_tokens(known_raw, &t);
}

void sshconfig_host_clear(sshconfig_host *h)
{
	if (!h)
		return;
	free(h->hostname);
	free(h->user);
	for (size_t i = 0; i < h->n_identity; i++)
		free(h->identity[i]);
	free(h->identity);
	free(h->proxyjump);
	free(h->known_hosts);
	memset(h, 0, sizeof *h);
	h->strict = SSHCONFIG_STRICT_UNSET;
}

/* ---- ProxyJump specs ---- */

static int host_ok(const char *h)
{
	if (!*h || h[0] == '-')
		return 0;
	for (const unsigned char *p = (const unsigned char *)h; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '/' || *p == '@' || *p == '\'' || *p == '"' || *p == '\\')
			return 0;
	return 1;
}

int sshconfig_parse_jump(const char *spec, char **user, char **host, int *port, char **err)
{
	*user = *host = NULL;
	*port = 0;
	const char *s = spec;
	if (strncmp(s, "ssh://", 6) == 0)
		s += 6;
	if (!*s) {
		*err = xasprintf("jump host '%s' is empty", spec);
		return -1;
	}
	if (strchr(s, ',')) {
		*err = xasprintf("jump host '%s' is a chain of hops, not one", spec);
		return -1;
	}
	const char *at = strrchr(s, '@');
	char *u = NULL;
	if (at) {
		u = xstrndup(s, (size_t)(at - s));
		s = at + 1;
		if (!*u || !host_ok(u)) {
			*err = xasprintf("jump host '%s': bad user name", spec);
			free(u);
			return -1;
		}
	}
	char *hh = NULL;
	const char *portstr = NULL;
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (!e || (e[1] && e[1] != ':')) {
			*err = xasprintf("jump host '%s': bad [address]", spec);
			free(u);
			return -1;
		}
		hh = xstrndup(s + 1, (size_t)(e - s - 1));
		if (e[1] == ':')
			portstr = e + 2;
	} else {
		const char *c1 = strchr(s, ':');
		if (c1 && !strchr(c1 + 1, ':')) {
			hh = xstrndup(s, (size_t)(c1 - s));
			portstr = c1 + 1;
		} else {
			hh = xstrdup(s); /* a bare IPv6 address, or no port */
		}
	}
	if (!host_ok(hh)) {
		*err = xasprintf("jump host '%s': bad host name", spec);
		free(u);
		free(hh);
		return -1;
	}
	if (portstr) {
		*port = parse_port(portstr);
		if (!*port) {
			*err = xasprintf("jump host '%s': bad port", spec);
			free(u);
			free(hh);
			return -1;
		}
	}
	*user = u;
	*host = hh;
	return 0;
}
