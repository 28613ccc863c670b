/* ini: ansible.plugins.inventory.ini (ansible-core 2.14) ported line for line. */
#include "inventory/ini.h"
#include "inventory/hostrange.h"
#include "inventory/pyliteral.h"
#include "util/pyint.h"
#include "util/pyjson.h"
#include "util/pyunicode.h"
#include "util/xalloc.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A slice of the input; text is UTF-8 where undecodable bytes stand for the
 * surrogates Python's surrogateescape decoding makes of them. */
struct str {
	const char *s;
	size_t len;
};

/* pending_declarations: an insertion-ordered dict name -> declaration */
struct pending {
	char *name;
	size_t line;
	bool children;       /* state 'children', else 'vars' */
	char **parents;      /* for 'children' */
	size_t nparents, cap_parents;
	bool live;           /* false once deleted */
};

/* The words of one line; the buffers are kept from line to line. */
struct tokens {
	char **v;      /* into buf, each NUL-terminated (a word may hold NUL too: see len) */
	size_t *len;
	size_t n, cap, cap_len;
	char *buf;
	size_t cap_buf;
};

struct parser {
	struct tokens tk;
	inventory *inv;
	const char *path;
	size_t lineno;
	char **err;
	struct pending *pend;
	size_t npend, cap_pend;
};

/* ---- errors --------------------------------------------------------------------- */

/* _raise_error: "PATH:LINE: message". Errors ini.py raises without a line
 * (from _expand_hostpattern, add_child, literal_eval...) get the current line too. */
static int raise_error(struct parser *P, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int raise_error(struct parser *P, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	/* the message may quote input: show undecodable bytes as Ansible's display does */
	char *clean = pyu_printable(msg, strlen(msg), NULL);
	*P->err = xasprintf("%s:%zu: %s", P->path, P->lineno, clean);
	free(clean);
	free(msg);
	return -1;
}

/* a name for the inventory: C string, undecodable bytes shown as '?' */
static char *name_dup(struct str s)
{
	size_t n = 0;
	while (n < s.len && s.s[n])
		n++; /* names cannot hold NUL: the rest is dropped */
	return pyu_printable(s.s, n, NULL);
}

/* ---- line splitting: str.splitlines() ------------------------------------------ */

/* the first bytes of the breaks line_break() knows */
static const unsigned char break_start[256] = {
	['\r'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, [0x1C] = 1, [0x1D] = 1, [0x1E] = 1,
	[0xC2] = 1, [0xE2] = 1,
};

/* Length of the line break at s (0 if none): \n \r \r\n \v \f \x1c-\x1e U+0085 U+2028 U+2029 */
static size_t line_break(const char *s, size_t len)
{
	unsigned char c = (unsigned char)s[0];
	if (c == '\r')
		return len > 1 && s[1] == '\n' ? 2 : 1;
	if (c == '\n' || c == '\v' || c == '\f' || (c >= 0x1C && c <= 0x1E))
		return 1;
	if (c == 0xC2 && len > 1 && (unsigned char)s[1] == 0x85)
		return 2;
	if (c == 0xE2 && len > 2 && (unsigned char)s[1] == 0x80 &&
	    ((unsigned char)s[2] == 0xA8 || (unsigned char)s[2] == 0xA9))
		return 3;
	return 0;
}

/* ---- the section and group-name regexes ----------------------------------------- */

static bool is_space_at(struct str t, size_t i, size_t *adv)
{
	return pyu_isspace(pyu_decode(t.s + i, t.len - i, adv));
}

/* [^:\]\s]+ from i; returns the end */
static size_t name_run(struct str t, size_t i)
{
	size_t adv;
	while (i < t.len && t.s[i] != ':' && t.s[i] != ']' && !is_space_at(t, i, &adv))
		i += adv;
	return i;
}

/* \s*(?:\#.*)?$ from i */
static bool rest_is_comment(struct str t, size_t i)
{
	size_t adv;
	while (i < t.len && is_space_at(t, i, &adv))
		i += adv;
	/* `.` stops at a newline, which a line cannot hold */
	return i == t.len || t.s[i] == '#';
}

/* ^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:\#.*)?$ */
static bool match_section(struct str t, struct str *name, struct str *tag)
{
	if (!t.len || t.s[0] != '[')
		return false;
	size_t e = name_run(t, 1);
	if (e == 1)
		return false;
	*name = (struct str){ t.s + 1, e - 1 };
	*tag = (struct str){ NULL, 0 };
	size_t i = e, adv;
	if (i < t.len && t.s[i] == ':') {
		size_t j = i + 1;
		while (j < t.len && pyu_isword(pyu_decode(t.s + j, t.len - j, &adv)))
			j += adv;
		if (j == i + 1)
			return false;
		*tag = (struct str){ t.s + i + 1, j - i - 1 };
		i = j;
	}
	if (i >= t.len || t.s[i] != ']')
		return false;
	return rest_is_comment(t, i + 1);
}

/* ^([^:\]\s]+)\s*(?:\#.*)?$ */
static bool match_groupname(struct str t, struct str *name)
{
	size_t e = name_run(t, 0);
	if (e == 0 || !rest_is_comment(t, e))
		return false;
	*name = (struct str){ t.s, e };
	return true;
}

/* ---- shlex.split(line, comments=True), posix ------------------------------------ */

static void tokens_free(struct tokens *tk)
{
	free(tk->buf);
	free(tk->v);
	free(tk->len);
	memset(tk, 0, sizeof *tk);
}

static bool shlex_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Python's shlex.shlex(posix=True) with whitespace_split=True, read_token()
 * state for state. Returns NULL, or the ValueError's message. */
static const char *shlex_split(struct str line, struct tokens *tk)
{
	char state = ' ';  /* ' ', 'a', '\'', '"', '\\', 0 for end of input */
	size_t i = 0;
	/* every word is written into buf where it stays: a word has no more bytes
	 * than the input it comes from, plus its NUL */
	tk->n = 0;
	tk->buf = xgrow(tk->buf, &tk->cap_buf, 2 * line.len + 2, 1);
	size_t at = 0;
	while (state) {
		char *tok = tk->buf + at;
		size_t n = 0;
		bool quoted = false;
		char escapedstate = ' ';
		for (;;) {
			if (state == 'a') {
				/* the plain run of a word, all at once */
				while (i < line.len) {
					char p = line.s[i];
					if (shlex_ws(p) || p == '#' || p == '\'' || p == '"' || p == '\\')
						break;
					tok[n++] = p;
					i++;
				}
			}
			bool eof = i >= line.len;
			char c = eof ? 0 : line.s[i++];
			if (state == ' ') {
				if (eof) {
					state = 0;
					break;
				} else if (shlex_ws(c)) {
					if (n || quoted)
						break;
				} else if (c == '#') {
					i = line.len; /* readline(): the rest of the line */
				} else if (c == '\\') {
					escapedstate = 'a';
					state = '\\';
				} else if (c == '\'' || c == '"') {
					state = c;
				} else {
					tok[n++] = c;
					state = 'a';
				}
			} else if (state == '\'' || state == '"') {
				quoted = true;
				if (eof)
					return "No closing quotation";
				if (c == state) {
					state = 'a';
				} else if (c == '\\' && state == '"') {
					escapedstate = state;
					state = '\\';
				} else {
					tok[n++] = c;
				}
			} else if (state == '\\') {
				if (eof)
					return "No escaped character";
				/* inside double quotes only the quote and the backslash are escapable */
				if ((escapedstate == '\'' || escapedstate == '"') && c != '\\' && c != escapedstate)
					tok[n++] = '\\';
				tok[n++] = c;
				state = escapedstate;
			} else { /* 'a' */
				if (eof) {
					state = 0;
					break;
				} else if (shlex_ws(c)) {
					state = ' ';
					if (n || quoted)
						break;
				} else if (c == '#') {
					i = line.len;
					state = ' ';
					if (n || quoted)
						break;
				} else if (c == '\'' || c == '"') {
					state = c;
				} else if (c == '\\') {
					escapedstate = 'a';
					state = '\\';
				} else {
					tok[n++] = c;
				}
			}
		}
		if (!quoted && n == 0)
			break; /* posix: an empty unquoted token is the end */
		tk->v = xgrow(tk->v, &tk->cap, tk->n + 1, sizeof *tk->v);
		tk->len = xgrow(tk->len, &tk->cap_len, tk->n + 1, sizeof *tk->len);
		tok[n] = '\0';
		tk->v[tk->n] = tok;
		tk->len[tk->n++] = n;
		at += n + 1;
	}
	return NULL;
}

/* ---- values ---------------------------------------------------------------------- */

static json_t *text_json(struct str v)
{
	/* ASCII without NUL (the usual value) is valid UTF-8 as it is: no copy, no check */
	size_t k = 0;
	while (k < v.len && (unsigned char)v.s[k] < 0x80 && v.s[k])
		k++;
	if (k == v.len)
		return json_stringn_nocheck(v.s, v.len);
	size_t n;
	char *p = pyu_printable(v.s, v.len, &n);
	json_t *j = json_stringn(p, n);
	free(p);
	return j;
}

/* _parse_value: ast.literal_eval, else the text as it is. *type gets the Python type. */
static int parse_value(struct parser *P, struct str v, json_t **out, const char **type)
{
	char *err = NULL;
	int rc = pyliteral_eval(v.s, v.len, out, type, &err);
	if (rc == PYLIT_OK)
		return 0;
	if (rc == PYLIT_ERROR) {
		rc = raise_error(P, "%s", err);
		free(err);
		return rc;
	}
	*out = text_json(v);
	*type = "str";
	return 0;
}

/* Python's int() of a value, for Group.set_priority(int(value)) */
static int py_int(struct parser *P, json_t *v, const char *type, int *out)
{
	pyint x = PYINT_INIT;
	char *err = NULL;
	long long ll = 0;
	if (strcmp(type, "bool") == 0) {
		*out = json_is_true(v);
		return 0;
	}
	if (strcmp(type, "float") == 0) {
		double d = trunc(json_real_value(v));
		if (isinf(d))
			return raise_error(P, "cannot convert float infinity to integer");
		if (isnan(d))
			return raise_error(P, "cannot convert float NaN to integer");
		*out = d > INT_MAX ? INT_MAX : d < INT_MIN ? INT_MIN : (int)d;
		return 0;
	}
	if (strcmp(type, "int") == 0 || strcmp(type, "str") == 0 || strcmp(type, "bytes") == 0) {
		if (json_is_integer(v)) {
			ll = json_integer_value(v);
		} else {
			if (pyjson_int_get(v, &x)) {
				/* a big int */
			} else if (pyint_parse(&x, json_string_value(v), json_string_length(v), &err) < 0) {
				int rc = raise_error(P, "%s", err);
				free(err);
				return rc;
			}
			/* Python's priority is unbounded; ours is an int */
			if (!pyint_get_ll(&x, &ll))
				ll = pyint_sign(&x) < 0 ? LLONG_MIN : LLONG_MAX;
			pyint_free(&x);
		}
		*out = ll > INT_MAX ? INT_MAX : ll < INT_MIN ? INT_MIN : (int)ll;
		return 0;
	}
	return raise_error(P, "int() argument must be a string, a bytes-like object or a real number, not '%s'", type);
}

/* Each host gets its own copy of containers, as nothing downstream expects sharing. */
static json_t *copy_value(json_t *v)
{
	return json_is_object(v) || json_is_array(v) ? json_deep_copy(v) : json_incref(v);
}

static int group_set_var(struct parser *P, inv_group *g, const char *key, json_t *v, const char *type)
{
	if (strcmp(key, "ansible_group_priority") == 0) {
		int prio = 0;
		if (py_int(P, v, type, &prio) < 0)
			return -1;
		char *err = NULL;
		if (inv_group_set_var(g, key, json_integer(prio), &err) < 0) {
			int rc = raise_error(P, "%s", err);
			free(err);
			return rc;
		}
		return 0;
	}
	inv_group_set_var(g, key, copy_value(v), NULL);
	return 0;
}

/* InventoryData.set_variable(entity, ...): a group of that name wins over a host */
static int set_variable(struct parser *P, const char *entity, const char *key, json_t *v, const char *type)
{
	inv_group *g = inv_group_get(P->inv, entity);
	if (g)
		return group_set_var(P, g, key, v, type);
	inv_host *h = inv_host_get(P->inv, entity);
	inv_host_set_var(h, key, copy_value(v));
	return 0;
}

/* ---- pending declarations --------------------------------------------------------- */

static struct pending *pending_get(struct parser *P, const char *name)
{
	for (size_t i = 0; i < P->npend; i++)
		if (P->pend[i].live && strcmp(P->pend[i].name, name) == 0)
			return &P->pend[i];
	return NULL;
}

static struct pending *pending_add(struct parser *P, const char *name, bool children)
{
	P->pend = xgrow(P->pend, &P->cap_pend, P->npend + 1, sizeof *P->pend);
	struct pending *d = &P->pend[P->npend++];
	*d = (struct pending){ .name = xstrdup(name), .line = P->lineno, .children = children, .live = true };
	return d;
}

static void pending_del(struct pending *d)
{
	d->live = false;
}

static int add_child(struct parser *P, const char *parent, const char *child)
{
	char *err = NULL;
	if (inv_group_add_child(P->inv, inv_group_get(P->inv, parent), inv_group_get(P->inv, child), &err) < 0) {
		int rc = raise_error(P, "%s", err);
		free(err);
		return rc;
	}
	return 0;
}

/* _add_pending_children */
static int add_pending_children(struct parser *P, const char *group)
{
	/* index, not pointer: the recursion may grow nothing, but stay safe */
	struct pending *d = pending_get(P, group);
	size_t idx = (size_t)(d - P->pend);
	for (size_t i = 0; i < P->pend[idx].nparents; i++) {
		const char *parent = P->pend[idx].parents[i];
		if (add_child(P, parent, group) < 0)
			return -1;
		struct pending *pp = pending_get(P, parent);
		if (pp && pp->children && add_pending_children(P, parent) < 0)
			return -1;
	}
	pending_del(&P->pend[idx]);
	return 0;
}

static void pending_free(struct parser *P)
{
	for (size_t i = 0; i < P->npend; i++) {
		free(P->pend[i].name);
		for (size_t j = 0; j < P->pend[i].nparents; j++)
			free(P->pend[i].parents[j]);
		free(P->pend[i].parents);
	}
	free(P->pend);
}

/* ---- the three kinds of lines ------------------------------------------------------ */

struct var {
	char *key;
	json_t *value;
	const char *type;
};

static void vars_free(struct var *vars, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(vars[i].key);
		json_decref(vars[i].value);
	}
	free(vars);
}

/* InventoryModule._expand_hostpattern: the base one plus two checks */
static int expand_hostpattern(struct parser *P, const char *pattern, char ***names, size_t *n, long *port)
{
	char *err = NULL;
	if (hostrange_expand_max(pattern, inv_range_budget(P->inv), names, n, port, &err) < 0) {
		int rc = raise_error(P, "%s", err);
		free(err);
		return rc;
	}
	struct str t = { pattern, strlen(pattern) };
	pyu_strip(&t.s, &t.len);
	if (t.len && t.s[t.len - 1] == ':' && *port < 0) {
		hostrange_free(*names, *n);
		return raise_error(P, "Invalid host pattern '%s' supplied, ending in ':' is not allowed, "
				      "this character is reserved to provide a port.", pattern);
	}
	for (size_t i = 0; i < *n; i++) {
		struct str h = { (*names)[i], strlen((*names)[i]) };
		pyu_strip(&h.s, &h.len);
		if (h.len == 3 && memcmp(h.s, "---", 3) == 0) {
			hostrange_free(*names, *n);
			return raise_error(P, "Invalid host pattern '%s' supplied, '---' is normally a sign this is a YAML file.",
					   pattern);
		}
	}
	return 0;
}

/* _parse_host_definition + _populate_host_vars */
static int host_line(struct parser *P, struct str line, const char *groupname)
{
	struct tokens *tk = &P->tk; /* its buffers are kept from line to line */
	const char *shlex_err = shlex_split(line, tk);
	if (shlex_err)
		return raise_error(P, "Error parsing host definition '%.*s': %s", (int)line.len, line.s, shlex_err);
	if (!tk->n)
		return raise_error(P, "list index out of range"); /* tokens[0]; cannot happen after strip() */
	int rc = -1;
	char **names = NULL;
	size_t nnames = 0;
	long port;
	struct var *vars = NULL;
	size_t nvars = 0, cap = 0;
	if (expand_hostpattern(P, tk->v[0], &names, &nnames, &port) < 0) {
		names = NULL;
		nnames = 0;
		goto out;
	}
	/* variables = {}: later duplicates override, in the first one's place */
	for (size_t i = 1; i < tk->n; i++) {
		char *eq = memchr(tk->v[i], '=', tk->len[i]);
		if (!eq) {
			raise_error(P, "Expected key=value host variable assignment, got: %s", tk->v[i]);
			goto out;
		}
		struct str k = { tk->v[i], (size_t)(eq - tk->v[i]) };
		struct str v = { eq + 1, tk->len[i] - k.len - 1 };
		json_t *value;
		const char *type;
		if (parse_value(P, v, &value, &type) < 0)
			goto out;
		char *key = name_dup(k);
		size_t j;
		for (j = 0; j < nvars && strcmp(vars[j].key, key) != 0; j++)
			;
		if (j < nvars) {
			free(key);
			json_decref(vars[j].value);
			vars[j].value = value;
			vars[j].type = type;
		} else {
			vars = xgrow(vars, &cap, nvars + 1, sizeof *vars);
			vars[nvars++] = (struct var){ key, value, type };
		}
	}
	inv_group *g = inv_group_get(P->inv, groupname);
	for (size_t i = 0; i < nnames; i++) {
		struct str hs = { names[i], strlen(names[i]) };
		if (!hs.len) {
			raise_error(P, "Invalid empty host name provided: ");
			goto out;
		}
		char *name = name_dup(hs);
		size_t before = inv_host_count(P->inv);
		inv_host *h = inv_host_add(P->inv, name, g);
		bool is_new = inv_host_count(P->inv) > before; /* hosts are only appended */
		/* Host(name, port) sets ansible_port only on creation, and only if truthy */
		if (is_new && port > 0)
			inv_host_set_var(h, "ansible_port", json_integer(port));
		/* set_variable() for each, its group lookup done once */
		bool group_named = inv_group_get(P->inv, name) != NULL;
		for (size_t j = 0; j < nvars; j++) {
			if (!group_named) {
				inv_host_set_var(h, vars[j].key, copy_value(vars[j].value));
			} else if (set_variable(P, name, vars[j].key, vars[j].value, vars[j].type) < 0) {
				free(name);
				goto out;
			}
		}
		free(name);
	}
	rc = 0;
out:
	vars_free(vars, nvars);
	hostrange_free(names, nnames);
	return rc;
}

/* _parse_variable_definition, then set_variable(groupname, k, v) */
static int vars_line(struct parser *P, struct str line, const char *groupname)
{
	const char *eq = memchr(line.s, '=', line.len);
	if (!eq)
		return raise_error(P, "Expected key=value, got: %.*s", (int)line.len, line.s);
	struct str k = { line.s, (size_t)(eq - line.s) }, v = { eq + 1, line.len - k.len - 1 };
	pyu_strip(&k.s, &k.len);
	pyu_strip(&v.s, &v.len);
	json_t *value;
	const char *type;
	if (parse_value(P, v, &value, &type) < 0)
		return -1;
	char *key = name_dup(k);
	int rc = group_set_var(P, inv_group_get(P->inv, groupname), key, value, type);
	free(key);
	json_decref(value);
	return rc;
}

static int children_line(struct parser *P, struct str line, const char *groupname)
{
	struct str name;
	if (!match_groupname(line, &name))
		return raise_error(P, "Expected group name, got: %.*s", (int)line.len, line.s);
	char *child = name_dup(name);
	int rc = 0;
	if (!inv_group_get(P->inv, child)) {
		struct pending *d = pending_get(P, child);
		if (!d)
			d = pending_add(P, child, true);
		d->parents = xgrow(d->parents, &d->cap_parents, d->nparents + 1, sizeof *d->parents);
		d->parents[d->nparents++] = xstrdup(groupname);
	} else {
		rc = add_child(P, groupname, child);
	}
	free(child);
	return rc;
}

/* A [section] header; *groupname and *state are updated. */
static int section_line(struct parser *P, struct str name, struct str tag, char **groupname, char *state)
{
	char *g = name_dup(name);
	char st;
	if (!tag.s || (tag.len == 5 && memcmp(tag.s, "hosts", 5) == 0))
		st = 'h';
	else if (tag.len == 8 && memcmp(tag.s, "children", 8) == 0)
		st = 'c';
	else if (tag.len == 4 && memcmp(tag.s, "vars", 4) == 0)
		st = 'v';
	else {
		int rc = raise_error(P, "Section [%.*s:%.*s] has unknown type: %.*s", (int)name.len, name.s,
				     (int)tag.len, tag.s, (int)tag.len, tag.s);
		free(g);
		return rc;
	}
	free(*groupname);
	*groupname = g;
	*state = st;
	if (!inv_group_get(P->inv, g)) {
		/* [g:vars] alone does not declare g: checked at the end */
		if (st == 'v' && !pending_get(P, g))
			pending_add(P, g, false);
		inv_group_add(P->inv, g);
	}
	struct pending *d = pending_get(P, g);
	if (d && st != 'v') {
		if (d->children)
			return add_pending_children(P, g);
		pending_del(d);
	}
	return 0;
}

static int parse_lines(struct parser *P, const char *data, size_t len)
{
	char *groupname = xstrdup("ungrouped");
	char state = 'h';
	int rc = 0;
	size_t pos = 0;
	while (pos < len && rc == 0) {
		/* splitlines(): a line, then its break */
		size_t end = pos, br = 0;
		for (;;) {
			/* only these bytes can start a break: skip the rest fast */
			while (end < len && !break_start[(unsigned char)data[end]])
				end++;
			if (end >= len || (br = line_break(data + end, len - end)))
				break;
			end++;
		}
		struct str line = { data + pos, end - pos };
		pos = end + br;
		P->lineno++;

		pyu_strip(&line.s, &line.len);
		if (!line.len || line.s[0] == '#' || line.s[0] == ';')
			continue;
		struct str name, tag;
		if (match_section(line, &name, &tag)) {
			rc = section_line(P, name, tag, &groupname, &state);
			continue;
		}
		if (line.s[0] == '[' && line.s[line.len - 1] == ']') {
			rc = raise_error(P, "Invalid section entry: '%.*s'. Please make sure that there are no spaces in the "
					    "section entry, and that there are no other invalid characters",
					 (int)line.len, line.s);
			break;
		}
		if (state == 'h')
			rc = host_line(P, line, groupname);
		else if (state == 'v')
			rc = vars_line(P, line, groupname);
		else
			rc = children_line(P, line, groupname);
	}
	free(groupname);
	if (rc < 0)
		return rc;
	/* unresolved references: only the first is reported, at its declaration */
	for (size_t i = 0; i < P->npend; i++) {
		struct pending *d = &P->pend[i];
		if (!d->live)
			continue;
		P->lineno = d->line;
		if (!d->children)
			return raise_error(P, "Section [%s:vars] not valid for undefined group: %s", d->name, d->name);
		return raise_error(P, "Section [%s:children] includes undefined group: %s",
				   d->parents[d->nparents - 1], d->name);
	}
	return 0;
}

int ini_parse(inventory *inv, const char *path, const char *data, size_t len, char **err)
{
	struct parser P = { .inv = inv, .path = path, .err = err };
	/* Python decodes the file with surrogateescape, which cannot fail: ini.py's
	 * UnicodeError fallback for undecodable bytes is dead code on Python 3,
	 * and those bytes simply travel as surrogates (see struct str). */
	int rc = parse_lines(&P, data, len);
	pending_free(&P);
	tokens_free(&P.tk);
	return rc;
}
