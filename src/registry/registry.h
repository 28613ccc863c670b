/* registry: the model registry: models/index.json (an object keyed "name:version"
 * with each version's metadata) and the model files beside it, read from a
 * directory or over http(s), queried by name, version, tag; versions ordered
 * as semver.h says. Adding a version writes a directory registry. An open
 * registry never changes: its queries may run on any thread. Reading over
 * http(s) needs curl_global_init() to have run. */
#ifndef FLEETDECK_REGISTRY_H
#define FLEETDECK_REGISTRY_H

#include "registry/semver.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fd_registry fd_registry;

/* Limits for reading a registry; a zero field takes the default in brackets. */
typedef struct registry_opts {
	long connect_ms;          /* [5000] TCP/TLS connect */
	long timeout_ms;          /* [30000] index.json and other small documents, whole transfer */
	long file_timeout_ms;     /* [3600000] one model file download, whole transfer */
	long low_speed_s;         /* [30] a download slower than 1 KiB/s for this long is abandoned */
	size_t max_index_bytes;   /* [16 MiB] index.json */
	uint64_t max_file_bytes;  /* [4 GiB] a model file */
} registry_opts;

/* One version of a model, as the index describes it. Every pointer is owned
 * by the registry and valid until registry_free(). Optional strings are NULL
 * when the index has no such field (or null); optional numbers are NAN. */
typedef struct reg_entry {
	const char *key;          /* "name:version", as the index spells it */
	const char *name;         /* [A-Za-z0-9._-], starting with a letter or digit */
	const char *version;      /* as written, e.g. "3.2", "v1.1.0", "2.0.0-rc.1" */
	semver sv;                /* version parsed (points into .version) */
	const char *checksum;     /* SHA-256 of the model file, 64 lowercase hex digits */
	const char *precision;    /* e.g. "INT8"; NULL: none given (the file name says int8) */
	const char *architecture, *framework, *training_date, *description;
	const char *baseline;     /* as written in the index; see registry_baseline_url() */
	double map, latency_ms, model_size_mb;
	const long long *input_shape;
	size_t ninput_shape;
	const char *const *tags;
	size_t ntags;
	size_t line;              /* line of the entry's key in index.json */
	const json_t *json;       /* the entry as the index has it, unknown fields too (borrowed) */
} reg_entry;

/* Is location an http:// or https:// URL (else it names a directory)? */
bool registry_is_url(const char *location);
/* The inventory's model_registry as a URL: "http://" put before a value
 * without a scheme ("registry.internal:5000"), trailing slashes removed.
 * Caller frees. */
char *registry_url_from_var(const char *model_registry);

/* Opens the registry at location: a directory holding models/index.json, or
 * an http(s) URL under which models/index.json is fetched (o: limits, NULL:
 * the defaults). A directory without models/index.json is an empty registry
 * when allow_missing is set (for adding the first version), else an error.
 * Returns NULL with *err (caller frees): "SOURCE:LINE: what is wrong" for a
 * bad index (every problem found, a line each, at most 20), else what failed. */
fd_registry *registry_open(const char *location, const registry_opts *o, bool allow_missing, char **err);
/* Parses index text data[0..len) read from `source` (used in messages) for a
 * registry at location (used for file URLs and paths). As registry_open. */
fd_registry *registry_parse(const char *location, const char *source, const char *data, size_t len,
			    const registry_opts *o, char **err);
void registry_free(fd_registry *r);

/* The location as given, without trailing slashes. */
const char *registry_location(const fd_registry *r);
/* Where the index was read from: models/index.json's path or URL. */
const char *registry_index_source(const fd_registry *r);
bool registry_is_remote(const fd_registry *r);

/* Every entry, by model name (strcmp) and then by version (oldest first). */
size_t registry_count(const fd_registry *r);
const reg_entry *registry_entry(const fd_registry *r, size_t i);

/* The distinct model names, sorted; i < registry_model_count(). */
size_t registry_model_count(const fd_registry *r);
const char *registry_model_name(const fd_registry *r, size_t i);
/* The versions of a model: *n consecutive entries, oldest first, or NULL
 * (*n = 0) if the registry has no such model. */
const reg_entry *registry_versions(const fd_registry *r, const char *name, size_t *n);
/* The newest version that is not a pre-release; if a model has only
 * pre-releases, the newest of those. NULL: no such model. */
const reg_entry *registry_latest(const fd_registry *r, const char *name);
/* name at version: the entry whose version is the same string, else the one
 * of equal precedence (v3.2, 3.2.0 find 3.2). version NULL: the latest. */
const reg_entry *registry_find(const fd_registry *r, const char *name, const char *version);
/* "name" or "name:version" as registry_find(); NULL if there is none. */
const reg_entry *registry_find_spec(const fd_registry *r, const char *spec);

bool reg_entry_has_tag(const reg_entry *e, const char *tag);
/* The entries tagged tag, in registry order: a new array of *n borrowed
 * pointers (caller frees the array; NULL when *n is 0). */
const reg_entry **registry_with_tag(const fd_registry *r, const char *tag, size_t *n);

/* The contract's file name of an entry's model: NAME-vVERSION-PRECISION.onnx
 * (version without its v prefix, precision lower-cased, int8 if none). Caller frees. */
char *reg_entry_file_name(const reg_entry *e);
/* Where the model file is: LOCATION/models/FILE, a URL or a path. Caller frees. */
char *registry_model_url(const fd_registry *r, const reg_entry *e);
/* The entry's baseline samples (a /drift-shaped JSON document), or NULL if it
 * has none: a baseline with a scheme as written; one starting with '/' on the
 * registry's server (a URL registry) or that path (a directory registry); any
 * other relative to the models/ directory. Caller frees. */
char *registry_baseline_url(const fd_registry *r, const reg_entry *e);

/* Reads a small document (a baseline) whose URL or path came from
 * registry_baseline_url(): at most max bytes, within the registry's timeouts.
 * A URL registry fetches only http(s) URLs (never a local file). *data is
 * NUL-terminated (caller frees). 0, or -1 with *err. */
int registry_fetch(const fd_registry *r, const char *url_or_path, size_t max, char **data, size_t *len, char **err);

typedef enum reg_verify_status {
	REG_VERIFY_OK,        /* the file's SHA-256 is the index's checksum */
	REG_VERIFY_MISMATCH,  /* it is not */
	REG_VERIFY_MISSING,   /* no such file (ENOENT, HTTP 404 or 410) */
	REG_VERIFY_ERROR,     /* it could not be read (permissions, HTTP 500, timeout, too big) */
} reg_verify_status;

typedef struct reg_verify_result {
	reg_verify_status status;
	char actual[65];  /* the file's SHA-256 (OK, MISMATCH), else "" */
	uint64_t bytes;   /* bytes read */
	char *error;      /* MISSING, ERROR: why; free with reg_verify_result_clear() */
} reg_verify_result;

/* Reads (a directory) or downloads (a URL) the entry's model file, hashing it
 * as it comes; the file is never held whole in memory. */
void registry_verify(const fd_registry *r, const reg_entry *e, reg_verify_result *out);
void reg_verify_result_clear(reg_verify_result *v);
const char *reg_verify_status_name(reg_verify_status s); /* "ok", "mismatch", "missing", "error" */

/* SHA-256 (64 lowercase hex) and size of a local file. 0, or -1 with *err. */
int registry_hash_path(const char *path, char hex[65], uint64_t *bytes, char **err);

/* What `add` records besides what it computes (checksum, model_size_mb). */
typedef struct reg_add_meta {
	const char *name, *version;            /* required */
	const char *precision;                 /* NULL: "int8" */
	const char *architecture, *framework;  /* NULL: not recorded */
	const char *training_date;             /* NULL: today (UTC), YYYY-MM-DD */
	const char *description, *baseline;    /* NULL: "" and not recorded */
	double map, latency_ms;                /* NAN: not recorded */
	const long long *input_shape;          /* NULL: not recorded */
	size_t ninput_shape;
	const char *const *tags;
	size_t ntags;
} reg_add_meta;

/* Adds a version to the directory registry dir: hashes file, copies it to
 * dir/models/ under its contract name (a temporary file renamed into place),
 * then writes index.json with the new entry (a temporary file renamed over
 * it, under an exclusive lock on models/.index.lock, so concurrent adds lose
 * nothing). A bad index is never rewritten. An existing name:version (or one
 * of equal precedence) is an error unless force, which replaces it. *entry,
 * if not NULL, gets the entry written (new reference). 0, or -1 with *err. */
int registry_add(const char *dir, const char *file, const reg_add_meta *m, bool force, json_t **entry,
		 char **err);

#endif
