/* cmd_registry: `fleetdeck registry VERB`: the model registry: list, show, add, verify, compare. One function a verb, listed in verbs[]. */
#include "cli/cli.h"
#include "inventory/pattern.h"
#include "registry/registry.h"
#include "util/pyjson.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fleetdeck registry list [--tag TAG] [--json]\n"
		"       fleetdeck registry show NAME[:VERSION] [--json]\n"
		"       fleetdeck registry add FILE --name NAME --version V [--precision P]\n"
		"                 [--map X] [--latency-ms X] [--tag TAG]... [--description TEXT]\n"
		"                 [--architecture A] [--framework F] [--input-shape 1,3,640,640]\n"
		"                 [--training-date YYYY-MM-DD] [--baseline URL] [--force] [--json]\n"
		"       fleetdeck registry verify [NAME[:VERSION]] [--json]\n"
		"       fleetdeck registry compare NAME VERSION_A VERSION_B [--json]\n"
		"  every verb also takes [--registry DIR|URL] [-i INVENTORY]...\n"
		"\n"
		"The model registry: models/index.json (an object keyed \"name:version\" with each\n"
		"version's metadata) and models/NAME-vVERSION-PRECISION.onnx, in a directory or\n"
		"under an http(s) URL. Which registry: --registry DIR|URL (a URL starts with\n"
		"http:// or https://), else the inventory's model_registry variable when -i is\n"
		"given (no scheme means http), else `registry:` in the settings file.\n"
		"Versions are semantic: v1.1.0 = 1.1.0, 3.2 = 3.2.0, 1.0.0-rc.1 < 1.0.0; a model's\n"
		"latest version is its highest that is not a pre-release.\n"
		"\n"
		"  list      every model and version (* the latest); --tag: only versions tagged so\n"
		"  show      a version's metadata (default: the latest)\n"
		"  add       a directory registry only: hashes FILE (SHA-256), copies it under models/\n"
		"            with its contract name, writes the entry into index.json (atomically);\n"
		"            an existing NAME:VERSION is refused unless --force\n"
		"  verify    re-hashes the model files (read, or downloaded from a URL) against the\n"
		"            index: every version, a model's, or one\n"
		"  compare   mAP, latency_ms and model_size_mb of two versions, and B - A\n"
		"\n"
		"Exit status: 0 ok; 1 verify found a missing or mismatching file; 2 usage error,\n"
		"a registry that cannot be read (a bad index: INDEX:LINE: what is wrong), or no\n"
		"such model or version.\n");
}

/* ---- options: one table; each verb says which it takes ---- */

enum {
	O_REGISTRY = 1, O_JSON, O_TAG, O_NAME, O_VERSION, O_PRECISION, O_MAP, O_LATENCY, O_DESC, O_ARCH, O_FRAMEWORK,
	O_SHAPE, O_DATE, O_BASELINE, O_FORCE,
};
#define ADD_OPTS ((1u << O_NAME) | (1u << O_VERSION) | (1u << O_PRECISION) | (1u << O_MAP) | (1u << O_LATENCY) | \
		  (1u << O_DESC) | (1u << O_ARCH) | (1u << O_FRAMEWORK) | (1u << O_SHAPE) | (1u << O_DATE) |      \
		  (1u << O_BASELINE) | (1u << O_FORCE) | (1u << O_TAG))

struct args {
	const char *verb, *registry;
	bool json, force;
	const char **tags;
	size_t ntags;
	reg_add_meta meta;
	long long shape[16];
	char **pos; /* positional arguments */
	size_t npos;
};

static bool parse_number(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v))
		return false;
	*out = v;
	return true;
}

static bool parse_shape(const char *s, struct args *a)
{
	size_t n = 0;
	const char *p = s;
	while (*p) {
		char *end;
		errno = 0;
		long long v = strtoll(p, &end, 10);
		if (end == p || errno || v < 0 || n == sizeof a->shape / sizeof *a->shape)
			return false;
		a->shape[n++] = v;
		p = end;
		if (*p == ',' || *p == 'x')
			p++;
		else if (*p)
			return false;
	}
	if (!n)
		return false;
	a->meta.input_shape = a->shape;
	a->meta.ninput_shape = n;
	return true;
}

/* Parses argv (argv[0] the verb) into a; returns -1 (usage printed) or 0; 1 for --help. */
static int parse_args(struct app *app, int argc, char **argv, unsigned allowed, struct args *a)
{
	static const struct option opts[] = {
		CLI_OPT_INVENTORY,
		{ "registry", required_argument, NULL, O_REGISTRY },
		{ "json", no_argument, NULL, O_JSON },
		{ "tag", required_argument, NULL, O_TAG },
		{ "name", required_argument, NULL, O_NAME },
		{ "version", required_argument, NULL, O_VERSION },
		{ "precision", required_argument, NULL, O_PRECISION },
		{ "map", required_argument, NULL, O_MAP },
		{ "mAP", required_argument, NULL, O_MAP },
		{ "latency-ms", required_argument, NULL, O_LATENCY },
		{ "description", required_argument, NULL, O_DESC },
		{ "architecture", required_argument, NULL, O_ARCH },
		{ "framework", required_argument, NULL, O_FRAMEWORK },
		{ "input-shape", required_argument, NULL, O_SHAPE },
		{ "training-date", required_argument, NULL, O_DATE },
		{ "baseline", required_argument, NULL, O_BASELINE },
		{ "force", no_argument, NULL, O_FORCE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	memset(a, 0, sizeof *a);
	a->verb = argv[0];
	a->meta.map = a->meta.latency_ms = NAN;
	allowed |= (1u << O_REGISTRY) | (1u << O_JSON);
	int c;
	optind = 0; /* 0, not 1: glibc then forgets main's "+" (options may follow the arguments) */
	while ((c = getopt_long(argc, argv, "i:h", opts, NULL)) != -1) {
		if (c > 0 && c < 32 && !(allowed & (1u << c))) {
			fprintf(stderr, "fleetdeck registry %s: %s does not apply here\n", a->verb, argv[optind - 1]);
			return -1;
		}
		switch (c) {
		case 'i': cli_add_inventory(app, optarg); break;
		case O_REGISTRY: a->registry = optarg; break;
		case O_JSON: a->json = true; break;
		case O_FORCE: a->force = true; break;
		case O_TAG:
			a->tags = xrealloc(a->tags, (a->ntags + 1) * sizeof *a->tags);
			a->tags[a->ntags++] = optarg;
			break;
		case O_NAME: a->meta.name = optarg; break;
		case O_VERSION: a->meta.version = optarg; break;
		case O_PRECISION: a->meta.precision = optarg; break;
		case O_DESC: a->meta.description = optarg; break;
		case O_ARCH: a->meta.architecture = optarg; break;
		case O_FRAMEWORK: a->meta.framework = optarg; break;
		case O_DATE: a->meta.training_date = optarg; break;
		case O_BASELINE: a->meta.baseline = optarg; break;
		case O_MAP:
		case O_LATENCY:
			if (!parse_number(optarg, c == O_MAP ? &a->meta.map : &a->meta.latency_ms)) {
				fprintf(stderr, "fleetdeck registry %s: %s wants a number, not '%s'\n", a->verb,
					argv[optind - 1], optarg);
				return -1;
			}
			break;
		case O_SHAPE:
			if (!parse_shape(optarg, a)) {
				fprintf(stderr, "fleetdeck registry %s: --input-shape wants up to 16 dimensions like 1,3,640,640, "
						"not '%s'\n", a->verb, optarg);
				return -1;
			}
			break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
	}
	a->pos = argv + optind;
	a->npos = (size_t)(argc - optind);
	a->meta.tags = a->tags;
	a->meta.ntags = a->ntags;
	return 0;
}

/* ---- which registry ---- */

/* The inventory's model_registry, if every host that sets it agrees. 0 (*out
 * NULL when no host sets it), or -1 (reported). */
static int inventory_registry(struct app *app, char **out)
{
	*out = NULL;
	inventory *inv = cli_load_inventory(app);
	if (!inv)
		return -1;
	inv_host **hosts = NULL;
	size_t n = 0;
	char *err = NULL;
	int rc = 0;
	if (inv_pattern_limit(inv, "all", NULL, &hosts, &n, &err) < 0) {
		fprintf(stderr, "fleetdeck registry: %s\n", err);
		free(err);
		rc = -1;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		json_t *vars = inv_host_vars(inv, hosts[i]);
		const char *v = json_string_value(json_object_get(vars, "model_registry"));
		if (v && *v) {
			char *u = registry_url_from_var(v);
			if (!*out)
				*out = u;
			else {
				if (strcmp(*out, u)) {
					fprintf(stderr, "fleetdeck registry: the devices name different registries (%s, %s): "
							"give --registry\n", *out, u);
					rc = -1;
				}
				free(u);
			}
		}
		json_decref(vars);
	}
	free(hosts);
	inv_free(inv);
	if (rc) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* The registry's location by precedence; NULL (reported) if none. */
static char *locate(struct app *app, const struct args *a)
{
	if (a->registry)
		return xstrdup(a->registry);
	char *loc = NULL;
	if (app->ninv_args) {
		if (inventory_registry(app, &loc))
			return NULL;
		if (loc)
			return loc;
	}
	if (cli_load_config(app))
		return NULL;
	if (app->cfg.registry)
		return xstrdup(app->cfg.registry);
	fprintf(stderr, "fleetdeck registry %s: which registry? give --registry DIR|URL, an inventory (-i) whose "
			"hosts set model_registry, or `registry:` in the settings file\n", a->verb);
	return NULL;
}

static fd_registry *open_registry(struct app *app, const struct args *a)
{
	char *loc = locate(app, a);
	if (!loc)
		return NULL;
	char *err = NULL;
	fd_registry *r = registry_open(loc, NULL, false, &err);
	if (!r) {
		fprintf(stderr, "fleetdeck registry %s: %s\n", a->verb, err);
		free(err);
	}
	free(loc);
	return r;
}

/* ---- output helpers ---- */

/* Text from the index as printed on a terminal: control characters (C0, DEL,
 * and C1 as UTF-8) become '?'. Caller frees. */
static char *safe(const char *s)
{
	char *t = xstrdup(s ? s : "-");
	for (unsigned char *p = (unsigned char *)t; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			p[0] = p[1] = '?';
	return t;
}

static void num_text(double v, char *buf, size_t n)
{
	if (isnan(v))
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.6g", v);
}

static json_t *num_json(double v) { return isnan(v) ? json_null() : json_real(v); }

static char *tags_text(const reg_entry *e)
{
	if (!e->ntags)
		return xstrdup("-");
	size_t len = 1;
	for (size_t i = 0; i < e->ntags; i++)
		len += strlen(e->tags[i]) + 1;
	char *s = xcalloc(1, len);
	for (size_t i = 0; i < e->ntags; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, e->tags[i]);
	}
	char *t = safe(s);
	free(s);
	return t;
}

static json_t *strings_json(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* ---- list ---- */

static int cmd_list(struct app *app, int argc, char **argv)
{
	struct args a;
	int pr = parse_args(app, argc, argv, 1u << O_TAG, &a);
	if (pr) {
		free(a.tags);
		return pr > 0 ? EXIT_OK : EXIT_USAGE;
	}
	if (a.npos || a.ntags > 1) {
		fprintf(stderr, "fleetdeck registry list: %s\n", a.npos ? "unexpected argument" : "one --tag at most");
		free(a.tags);
		return EXIT_USAGE;
	}
	const char *tag = a.ntags ? a.tags[0] : NULL;
	fd_registry *r = open_registry(app, &a);
	if (!r) {
		free(a.tags);
		return EXIT_USAGE;
	}
	json_t *models = json_array();
	if (!a.json) {
		char *loc = safe(registry_location(r));
		printf("registry %s\n", loc);
		free(loc);
		printf("%-24s %-16s %-10s %7s %10s %8s  %-10s  %s\n", "MODEL", "VERSION", "PRECISION", "mAP", "LATENCY_MS",
		       "SIZE_MB", "TRAINED", "TAGS");
	}
	size_t shown = 0;
	for (size_t m = 0; m < registry_model_count(r); m++) {
		const char *name = registry_model_name(r, m);
		size_t n;
		const reg_entry *v = registry_versions(r, name, &n);
		const reg_entry *latest = registry_latest(r, name);
		json_t *versions = json_array();
		for (size_t i = 0; i < n; i++) {
			const reg_entry *e = &v[i];
			if (tag && !reg_entry_has_tag(e, tag))
				continue;
			shown++;
			json_array_append_new(
				versions, json_pack("{s:s, s:s, s:b, s:b, s:o, s:o, s:o, s:o, s:o, s:o}", "version", e->version,
						    "key", e->key, "latest", e == latest, "prerelease",
						    semver_is_prerelease(&e->sv), "precision",
						    e->precision ? json_string(e->precision) : json_null(), "mAP", num_json(e->map),
						    "latency_ms", num_json(e->latency_ms), "model_size_mb",
						    num_json(e->model_size_mb), "training_date",
						    e->training_date ? json_string(e->training_date) : json_null(), "tags",
						    strings_json(e->tags, e->ntags)));
			if (a.json)
				continue;
			char map[32], lat[32], size[32], *ver = safe(e->version), *nm = safe(name), *prec = safe(e->precision),
								*date = safe(e->training_date), *tags = tags_text(e);
			num_text(e->map, map, sizeof map);
			num_text(e->latency_ms, lat, sizeof lat);
			num_text(e->model_size_mb, size, sizeof size);
			char *vcol = xasprintf("%s%s", ver, e == latest ? " *" : "");
			printf("%-24s %-16s %-10s %7s %10s %8s  %-10s  %s\n", nm, vcol, prec, map, lat, size, date, tags);
			free(vcol);
			free(ver);
			free(nm);
			free(prec);
			free(date);
			free(tags);
		}
		if (json_array_size(versions))
			json_array_append_new(models, json_pack("{s:s, s:s, s:o}", "name", name, "latest", latest->version,
								"versions", versions));
		else
			json_decref(versions);
	}
	if (a.json) {
		json_t *out = json_pack("{s:s, s:s, s:o}", "registry", registry_location(r), "index",
					registry_index_source(r), "models", models);
		if (tag)
			json_object_set_new(out, "tag", json_string(tag));
		cli_print_json(out);
		json_decref(out);
	} else {
		json_decref(models);
		printf("%zu version%s of %zu model%s%s%s%s; * the latest\n", shown, shown == 1 ? "" : "s",
		       registry_model_count(r), registry_model_count(r) == 1 ? "" : "s", tag ? " (tagged " : "",
		       tag ? tag : "", tag ? ")" : "");
	}
	registry_free(r);
	free(a.tags);
	return EXIT_OK;
}

/* ---- show ---- */

static const reg_entry *find_or_report(const fd_registry *r, const char *verb, const char *spec)
{
	const reg_entry *e = registry_find_spec(r, spec);
	if (!e) {
		char *s = safe(spec);
		fprintf(stderr, "fleetdeck registry %s: %s is not in the registry (%s)\n", verb, s, registry_index_source(r));
		free(s);
	}
	return e;
}

static int cmd_show(struct app *app, int argc, char **argv)
{
	struct args a;
	int pr = parse_args(app, argc, argv, 0, &a);
	if (pr)
		return pr > 0 ? EXIT_OK : EXIT_USAGE;
	if (a.npos != 1) {
		fprintf(stderr, "fleetdeck registry show: give one NAME[:VERSION]\n");
		return EXIT_USAGE;
	}
	fd_registry *r = open_registry(app, &a);
	if (!r)
		return EXIT_USAGE;
	const reg_entry *e = find_or_report(r, "show", a.pos[0]);
	if (!e) {
		registry_free(r);
		return EXIT_USAGE;
	}
	const reg_entry *latest = registry_latest(r, e->name);
	char *file = registry_model_url(r, e), *base = registry_baseline_url(r, e), *fname = reg_entry_file_name(e);
	if (a.json) {
		json_t *out = json_pack("{s:s, s:b, s:s, s:s, s:o, s:O}", "key", e->key, "latest", e == latest, "file",
					file, "file_name", fname, "baseline_url", base ? json_string(base) : json_null(),
					"metadata", e->json);
		cli_print_json(out);
		json_decref(out);
	} else {
		char *k = safe(e->key);
		printf("%s%s\n", k, e == latest ? " (latest)" : "");
		free(k);
		/* the seed's fields in its order, then any other field of the entry */
		static const char *const order[] = { "name", "version", "architecture", "framework", "precision",
						     "input_shape", "mAP", "latency_ms", "model_size_mb", "training_date",
						     "checksum", "tags", "description", "baseline" };
		size_t norder = sizeof order / sizeof *order;
		for (size_t i = 0; i < norder; i++) {
			const json_t *v = json_object_get(e->json, order[i]);
			char *text = !v ? xstrdup("-") : json_is_string(v) ? xstrdup(json_string_value(v)) : pyjson_dumps(v, -1);
			char *t = safe(text);
			printf("  %-14s %s\n", order[i], t);
			free(t);
			free(text);
		}
		const char *key;
		const json_t *v;
		json_object_foreach((json_t *)e->json, key, v) {
			size_t i = 0;
			while (i < norder && strcmp(order[i], key))
				i++;
			if (i < norder)
				continue;
			char *text = json_is_string(v) ? xstrdup(json_string_value(v)) : pyjson_dumps(v, -1);
			char *k2 = safe(key), *t = safe(text);
			printf("  %-14s %s\n", k2, t);
			free(k2);
			free(t);
			free(text);
		}
		char *f = safe(file);
		printf("  %-14s %s\n", "file", f);
		free(f);
		if (base) {
			char *b = safe(base);
			printf("  %-14s %s\n", "baseline_url", b);
			free(b);
		}
	}
	free(file);
	free(base);
	free(fname);
	registry_free(r);
	return EXIT_OK;
}

/* ---- add ---- */

static int cmd_add(struct app *app, int argc, char **argv)
{
	struct args a;
	int pr = parse_args(app, argc, argv, ADD_OPTS, &a);
	int rc = EXIT_USAGE;
	char *loc = NULL, *err = NULL;
	json_t *entry = NULL;
	if (pr) {
		rc = pr > 0 ? EXIT_OK : EXIT_USAGE;
		goto out;
	}
	if (a.npos != 1 || !a.meta.name || !a.meta.version) {
		fprintf(stderr, "fleetdeck registry add: give FILE, --name and --version\n");
		goto out;
	}
	loc = locate(app, &a);
	if (!loc)
		goto out;
	if (registry_is_url(loc)) {
		char *l = safe(loc);
		fprintf(stderr, "fleetdeck registry add: %s is a URL: versions are added to a registry directory "
				"(give --registry DIR)\n", l);
		free(l);
		goto out;
	}
	if (registry_add(loc, a.pos[0], &a.meta, a.force, &entry, &err)) {
		fprintf(stderr, "fleetdeck registry add: %s\n", err);
		free(err);
		goto out;
	}
	const char *sum = json_string_value(json_object_get(entry, "checksum"));
	if (a.json) {
		json_t *out = json_pack("{s:s++, s:O}", "key", a.meta.name, ":", a.meta.version, "metadata", entry);
		cli_print_json(out);
		json_decref(out);
	} else {
		char *k = xasprintf("%s:%s", a.meta.name, a.meta.version), *s = safe(k);
		printf("added %s (sha256 %s, %.2f MB) to %s/models/index.json\n", s, sum,
		       json_number_value(json_object_get(entry, "model_size_mb")), loc);
		free(s);
		free(k);
	}
	rc = EXIT_OK;
out:
	json_decref(entry);
	free(loc);
	free(a.tags);
	return rc;
}

/* ---- verify ---- */

static int cmd_verify(struct app *app, int argc, char **argv)
{
	struct args a;
	int pr = parse_args(app, argc, argv, 0, &a);
	if (pr)
		return pr > 0 ? EXIT_OK : EXIT_USAGE;
	if (a.npos > 1) {
		fprintf(stderr, "fleetdeck registry verify: give at most one NAME[:VERSION]\n");
		return EXIT_USAGE;
	}
	fd_registry *r = open_registry(app, &a);
	if (!r)
		return EXIT_USAGE;
	const reg_entry *first = NULL;
	size_t n = registry_count(r);
	if (n)
		first = registry_entry(r, 0);
	if (a.npos) {
		if (strchr(a.pos[0], ':')) {
			first = find_or_report(r, "verify", a.pos[0]);
			n = 1;
		} else {
			first = registry_versions(r, a.pos[0], &n);
			if (!first)
				find_or_report(r, "verify", a.pos[0]);
		}
		if (!first) {
			registry_free(r);
			return EXIT_USAGE;
		}
	}
	size_t good = 0, bad = 0;
	json_t *results = json_array();
	for (size_t i = 0; i < n; i++) {
		const reg_entry *e = &first[i];
		reg_verify_result v;
		registry_verify(r, e, &v);
		char *file = registry_model_url(r, e);
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I}", "key", e->key, "file", file, "status",
				      reg_verify_status_name(v.status), "expected", e->checksum, "bytes",
				      (json_int_t)v.bytes);
		json_object_set_new(j, "actual", v.actual[0] ? json_string(v.actual) : json_null());
		json_object_set_new(j, "error", v.error ? json_string(v.error) : json_null());
		json_array_append_new(results, j);
		if (v.status == REG_VERIFY_OK)
			good++;
		else
			bad++;
		if (!a.json) {
			char *k = safe(e->key), *f = safe(file), *why = v.error ? safe(v.error) : NULL;
			switch (v.status) {
			case REG_VERIFY_OK: printf("ok        %s  %s\n", k, f); break;
			case REG_VERIFY_MISMATCH:
				printf("MISMATCH  %s  %s: the index says sha256 %s, the file's is %s\n", k, f, e->checksum,
				       v.actual);
				break;
			default: printf("%-8s  %s  %s\n", v.status == REG_VERIFY_MISSING ? "MISSING" : "ERROR", k, why); break;
			}
			free(k);
			free(f);
			free(why);
		}
		free(file);
		reg_verify_result_clear(&v);
	}
	if (a.json) {
		json_t *out = json_pack("{s:s, s:o, s:I, s:I}", "registry", registry_location(r), "results", results, "ok",
					(json_int_t)good, "failed", (json_int_t)bad);
		cli_print_json(out);
		json_decref(out);
	} else {
		json_decref(results);
		printf("%zu ok, %zu failed\n", good, bad);
	}
	registry_free(r);
	return bad ? EXIT_FINDINGS : EXIT_OK;
}

/* ---- compare ---- */

/* B - A rounded to 1e-9, so 39.4 - 38.1 prints as 1.3. */
static double tidy(double d) { return round(d * 1e9) / 1e9; }

static int cmd_compare(struct app *app, int argc, char **argv)
{
	struct args a;
	int pr = parse_args(app, argc, argv, 0, &a);
	if (pr)
		return pr > 0 ? EXIT_OK : EXIT_USAGE;
	if (a.npos != 3) {
		fprintf(stderr, "fleetdeck registry compare: give NAME VERSION_A VERSION_B\n");
		return EXIT_USAGE;
	}
	fd_registry *r = open_registry(app, &a);
	if (!r)
		return EXIT_USAGE;
	const reg_entry *e[2];
	for (int i = 0; i < 2; i++) {
		char *spec = xasprintf("%s:%s", a.pos[0], a.pos[1 + i]);
		e[i] = find_or_report(r, "compare", spec);
		free(spec);
		if (!e[i]) {
			registry_free(r);
			return EXIT_USAGE;
		}
	}
	static const char *const names[] = { "mAP", "latency_ms", "model_size_mb" };
	double vals[3][2] = { { e[0]->map, e[1]->map },
			      { e[0]->latency_ms, e[1]->latency_ms },
			      { e[0]->model_size_mb, e[1]->model_size_mb } };
	json_t *metrics = json_object();
	char *va = safe(e[0]->version), *vb = safe(e[1]->version);
	if (!a.json) {
		char *n = safe(e[0]->name);
		printf("%s: %s -> %s\n", n, va, vb);
		free(n);
		printf("%-14s %12s %12s %12s %9s\n", "", va, vb, "delta", "delta %");
	}
	for (int m = 0; m < 3; m++) {
		double x = vals[m][0], y = vals[m][1];
		double d = isnan(x) || isnan(y) ? NAN : tidy(y - x);
		double pct = isnan(d) || x == 0 ? NAN : round((y - x) / fabs(x) * 100 * 100) / 100;
		json_object_set_new(metrics, names[m], json_pack("{s:o, s:o, s:o, s:o}", "a", num_json(x), "b",
								  num_json(y), "delta", num_json(d), "delta_pct",
								  num_json(pct)));
		if (a.json)
			continue;
		char sx[32], sy[32], sd[32], sp[32];
		num_text(x, sx, sizeof sx);
		num_text(y, sy, sizeof sy);
		if (isnan(d))
			snprintf(sd, sizeof sd, "-");
		else
			snprintf(sd, sizeof sd, "%+.6g", d);
		if (isnan(pct))
			snprintf(sp, sizeof sp, isnan(d) ? "-" : "n/a");
		else
			snprintf(sp, sizeof sp, "%+.2f%%", pct);
		printf("%-14s %12s %12s %12s %9s\n", names[m], sx, sy, sd, sp);
	}
	if (a.json) {
		json_t *out = json_pack("{s:s, s:s, s:s, s:o}", "model", e[0]->name, "a", e[0]->version, "b",
					e[1]->version, "metrics", metrics);
		cli_print_json(out);
		json_decref(out);
	} else
		json_decref(metrics);
	free(va);
	free(vb);
	registry_free(r);
	return EXIT_OK;
}

static const struct verb {
	const char *name;
	int (*run)(struct app *app, int argc, char **argv);
} verbs[] = {
	{ "list", cmd_list }, { "show", cmd_show }, { "add", cmd_add }, { "verify", cmd_verify }, { "compare", cmd_compare },
};

static int run(struct app *app, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
		if (strcmp(argv[1], verbs[i].name) == 0) {
			curl_global_init(CURL_GLOBAL_DEFAULT);
			int rc = verbs[i].run(app, argc - 1, argv + 1);
			curl_global_cleanup();
			return rc;
		}
	fprintf(stderr, "fleetdeck registry: unknown verb '%s' (see fleetdeck help registry)\n", argv[1]);
	return EXIT_USAGE;
}

const struct command cmd_registry = {
	.name = "registry",
	.summary = "the model registry: list, show, add, verify, compare model versions",
	.run = run,
	.usage = usage,
};
