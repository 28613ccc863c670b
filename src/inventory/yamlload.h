/* yamlload: YAML and JSON documents read exactly as Ansible's from_yaml() reads them, into jansson.
 *
 * JSON is tried first (Python's json.loads with AnsibleJSONDecoder), then YAML
 * 1.1 through libyaml with PyYAML's resolver and Ansible's constructor: plain
 * scalars typed as PyYAML types them, explicit tags, anchors and aliases,
 * merge keys, duplicate keys (warned about, last value kept at the first
 * key's place), timestamps, non-string keys. Values are what
 * `ansible-inventory` prints for them:
 *   - dates and datetimes: isoformat() strings ("2001-12-14", "2001-12-14T21:59:43.100000-05:00");
 *   - !unsafe strings: the object {"__ansible_unsafe": "text"};
 *   - !vault scalars: the object {"__ansible_vault": "ciphertext"};
 *   - mapping keys that were not strings: the key JSON would write (1, 1.5,
 *     true, null; dates as isoformat);
 *   - .inf/.nan: non-finite reals (jansson cannot make them; see make_real()).
 * What a value was in Python (str, int, AnsibleSequence, date, set...), the
 * line it came from and the type of every mapping key stay available through
 * the document, so callers can judge the data as Ansible does and report
 * `file:line:`.
 *
 * Not reproduced: integers beyond 64 bits become reals; recursive aliases
 * (`&a [*a]`), which Python builds but Ansible cannot use, are errors; nesting
 * is bounded (YAMLLOAD_MAX_DEPTH) and so is alias expansion
 * (YAMLLOAD_MAX_NODES), where Ansible would exhaust its stack or memory. */
#ifndef FLEETDECK_YAMLLOAD_H
#define FLEETDECK_YAMLLOAD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define YAMLLOAD_MAX_DEPTH 500
#define YAMLLOAD_MAX_NODES (1u << 24)

typedef struct yamlload_doc yamlload_doc;

/* The Python type Ansible would hold for a value. */
enum yamlload_type {
	YL_NONE,     /* None */
	YL_BOOL,
	YL_INT,
	YL_FLOAT,
	YL_STR,      /* AnsibleUnicode (a YAML string) */
	YL_JSON_STR, /* str (a JSON string) */
	YL_UNSAFE,   /* AnsibleUnsafeText: {"__ansible_unsafe": text} */
	YL_VAULT,    /* AnsibleVaultEncryptedUnicode: {"__ansible_vault": ciphertext} */
	YL_DATE,     /* datetime.date: isoformat string */
	YL_DATETIME, /* datetime.datetime: isoformat string */
	YL_BYTES,    /* bytes (!!binary): the decoded text */
	YL_MAP,      /* AnsibleMapping */
	YL_DICT,     /* dict (JSON objects, !unsafe mappings) */
	YL_SEQ,      /* AnsibleSequence */
	YL_LIST,     /* list (JSON arrays, !!omap, !!pairs, !unsafe sequences) */
	YL_TUPLE,    /* tuple (the items of !!omap and !!pairs): an array */
	YL_SET,      /* set (!!set): an object whose values are null */
};

/* One key of a mapping, in the mapping's order (which is jansson's order). */
struct yamlload_key {
	const char *name;        /* the jansson key */
	const char *str;         /* Python's str() of the key, for messages */
	enum yamlload_type type; /* YL_STR, YL_JSON_STR or YL_UNSAFE for string keys */
	int line;                /* 1-based */
};

/* Warnings (duplicate keys) in Ansible's words; ctx is passed back. */
typedef void (*yamlload_warn_fn)(void *ctx, const char *msg);

/* Load `len` bytes read from `path` (used in messages). Returns 0 and *doc
 * (free with yamlload_free), or -1 and *err = "path:line: what is wrong"
 * (caller frees). An empty document loads as a NULL root. */
int yamlload_parse(const char *path, const char *data, size_t len, yamlload_warn_fn warn, void *ctx,
		   yamlload_doc **doc, char **err);
void yamlload_free(yamlload_doc *doc);

/* The document's value; NULL for an empty document. Owned by the document. */
json_t *yamlload_root(const yamlload_doc *doc);

/* About any value inside the document (v may be NULL: an empty document). */
enum yamlload_type yamlload_type(const yamlload_doc *doc, const json_t *v);
/* 1-based line of the node v was built from; 0 when unknown (null, true, false). */
int yamlload_line(const yamlload_doc *doc, const json_t *v);
/* The keys of a mapping (or set) in order; NULL with *n = 0 for anything else. */
const struct yamlload_key *yamlload_keys(const yamlload_doc *doc, const json_t *map, size_t *n);
/* The text of a Python string (YL_STR, YL_JSON_STR, YL_UNSAFE); NULL otherwise. */
const char *yamlload_text(const yamlload_doc *doc, const json_t *v);
bool yamlload_is_mapping(const yamlload_doc *doc, const json_t *v); /* MutableMapping */
bool yamlload_is_string(const yamlload_doc *doc, const json_t *v);  /* string_types */
/* Python's bool(v). */
bool yamlload_truthy(const yamlload_doc *doc, const json_t *v);
/* Python's str(v) and repr(v), for messages. Caller frees. */
char *yamlload_str(const yamlload_doc *doc, const json_t *v);
char *yamlload_repr(const yamlload_doc *doc, const json_t *v);

/* Python's int(v), as Group.set_priority() applies it. Returns 0, or -1 with
 * *msg = Python's ValueError/TypeError text (caller frees). */
int yamlload_int(const yamlload_doc *doc, const json_t *v, long long *out, char **msg);

/* "<class 'int'>", as Python prints type(v). */
const char *yamlload_type_repr(enum yamlload_type t);
/* "int", as Python prints type(v).__name__. */
const char *yamlload_type_name(enum yamlload_type t);

#endif
