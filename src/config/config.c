/* config: a small strict reader for config.yaml, so a typo is an error with its line, not a surprise. */
#include "config/config.h"
#include "util/xalloc.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

char *config_default_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	if (xdg && *xdg == '/')
		return xasprintf("%s/fleetdeck/config.yaml", xdg);
	const char *home = getenv("HOME");
	return xasprintf("%s/.config/fleetdeck/config.yaml", home && *home ? home : ".");
}

static char *absolute_to(const char *base_file, const char *p)
{
	if (p[0] == '/')
		return xstrdup(p);
	if (p[0] == '~' && (p[1] == '/' || p[1] == '\0')) {
		const char *home = getenv("HOME");
		return xasprintf("%s%s", home ? home : "", p + 1);
	}
	const char *slash = strrchr(base_file, '/');
	if (!slash)
		return xstrdup(p);
	return xasprintf("%.*s/%s", (int)(slash - base_file), base_file, p);
}

static void push(char ***v, size_t *n, char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = s;
}

struct parser {
	yaml_parser_t p;
	yaml_event_t ev;
	const char *path;
	char **err;
};

static int fail(struct parser *ps, size_t line0, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct parser *ps, size_t line0, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	*ps->err = xasprintf("%s:%zu: %s", ps->path, line0 + 1, msg);
	free(msg);
	return -1;
}

static int next(struct parser *ps)
{
	yaml_event_delete(&ps->ev);
	if (!yaml_parser_parse(&ps->p, &ps->ev)) {
		*ps->err = xasprintf("%s:%zu: %s", ps->path, ps->p.problem_mark.line + 1,
				     ps->p.problem ? ps->p.problem : "invalid YAML");
		return -1;
	}
	return 0;
}

static bool scalar_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF" };
	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

static int scalar_number(struct parser *ps, const char *key, double lo, double hi, bool integer, double *out)
{
	size_t line = ps->ev.start_mark.line;
	if (ps->ev.type != YAML_SCALAR_EVENT)
		return fail(ps, line, "%s: expected a number", key);
	const char *v = (const char *)ps->ev.data.scalar.value;
	char *end;
	errno = 0;
	double x = strtod(v, &end);
	if (!*v || *end || errno || !(x >= lo && x <= hi) || (integer && x != (double)(long long)x)) {
		if (integer)
			return fail(ps, line, "%s: expected a whole number from %.0f to %.0f, got '%s'", key, lo, hi, v);
		return fail(ps, line, "%s: expected a number from %g to %g, got '%s'", key, lo, hi, v);
	}
	*out = x;
	return 0;
}

static int expect_mapping(struct parser *ps, const char *key)
{
	if (ps->ev.type != YAML_MAPPING_START_EVENT)
		return fail(ps, ps->ev.start_mark.line, "%s: expected a mapping of settings", key);
	return 0;
}

/* Next key of the mapping under way: 1 and *key (caller frees), 0 at its end, -1 on error. */
static int next_key(struct parser *ps, const char *within, char **key)
{
	if (next(ps))
		return -1;
	if (ps->ev.type == YAML_MAPPING_END_EVENT)
		return 0;
	if (ps->ev.type != YAML_SCALAR_EVENT)
		return fail(ps, ps->ev.start_mark.line, "%s: expected a setting name", within);
	*key = xstrdup((const char *)ps->ev.data.scalar.value);
	if (next(ps)) {
		free(*key);
		return -1;
	}
	return 1;
}

static const struct {
	const char *key;
	double lo, hi;
	bool integer;
	double scale;    /* to the option's unit: seconds to ms */
	size_t off;
} poll_settings[] = {
	{ "forks", 1, 100000, true, 1, offsetof(poller_opts, forks) },
	{ "timeout", 0.001, 3600, false, 1000, offsetof(poller_opts, timeout_ms) },
	{ "connect_timeout", 0.001, 3600, false, 1000, offsetof(poller_opts, connect_timeout_ms) },
	{ "interval", 0.1, 86400, false, 1000, offsetof(poller_opts, interval_ms) },
	{ "jitter", 0, 3600, false, 1000, offsetof(poller_opts, jitter_ms) },
	{ "slow_every", 0, 1000000, true, 1, offsetof(poller_opts, slow_every) },
	{ "retries", 0, 10, true, 1, offsetof(poller_opts, retries) },
	{ "backoff_max", 0.001, 86400, false, 1000, offsetof(poller_opts, backoff_max_ms) },
};

static int read_poll(struct parser *ps, fd_config *cfg)
{
	if (expect_mapping(ps, "poll"))
		return -1;
	char *key;
	int r;
	while ((r = next_key(ps, "poll", &key)) == 1) {
		size_t k = 0, n = sizeof poll_settings / sizeof *poll_settings;
		while (k < n && strcmp(poll_settings[k].key, key))
			k++;
		double x;
		char *full = xasprintf("poll.%s", key);
		int rc = k == n ? fail(ps, ps->ev.start_mark.line, "unknown setting '%s'", full)
				: scalar_number(ps, full, poll_settings[k].lo, poll_settings[k].hi, poll_settings[k].integer, &x);
		free(full);
		free(key);
		if (rc)
			return -1;
		*(int *)((char *)&cfg->poll + poll_settings[k].off) = (int)(x * poll_settings[k].scale + 0.5);
	}
	return r;
}

static int read_ssh(struct parser *ps, fd_config *cfg)
{
	if (expect_mapping(ps, "ssh"))
		return -1;
	char *key;
	int r;
	while ((r = next_key(ps, "ssh", &key)) == 1) {
		size_t line = ps->ev.start_mark.line;
		int rc = 0;
		const char *v = ps->ev.type == YAML_SCALAR_EVENT ? (const char *)ps->ev.data.scalar.value : NULL;
		if (!v) {
			rc = fail(ps, line, "ssh.%s: expected a single value", key);
		} else if (!strcmp(key, "known_hosts")) {
			free(cfg->ssh_known_hosts);
			cfg->ssh_known_hosts = absolute_to(ps->path, v);
			cfg->poll.ssh.known_hosts = cfg->ssh_known_hosts;
		} else if (!strcmp(key, "config")) {
			free(cfg->ssh_config);
			cfg->ssh_config = strcmp(v, "none") == 0 ? xstrdup("") : absolute_to(ps->path, v);
			cfg->poll.ssh.ssh_config = cfg->ssh_config;
		} else if (!strcmp(key, "strict_host_key_checking")) {
			if (!strcmp(v, "yes"))
				cfg->poll.ssh.strict = SSH_STRICT_YES;
			else if (!strcmp(v, "accept-new"))
				cfg->poll.ssh.strict = SSH_STRICT_ACCEPT_NEW;
			else
				rc = fail(ps, line, "ssh.strict_host_key_checking: expected yes or accept-new, got '%s' "
						    "(a changed key is always refused)", v);
		} else if (!strcmp(key, "threads")) {
			double x;
			rc = scalar_number(ps, "ssh.threads", 1, 1024, true, &x);
			if (!rc)
				cfg->poll.ssh.threads = (int)x;
		} else {
			rc = fail(ps, line, "unknown setting 'ssh.%s'", key);
		}
		free(key);
		if (rc)
			return -1;
	}
	return r;
}

static int read_gpu_limits(struct parser *ps, fd_config *cfg)
{
	if (expect_mapping(ps, "alerts.gpu_temp"))
		return -1;
	char *gpu;
	int r;
	while ((r = next_key(ps, "alerts.gpu_temp", &gpu)) == 1) {
		size_t line = ps->ev.start_mark.line;
		char *within = xasprintf("alerts.gpu_temp.%s", gpu);
		double warn = 0, crit = 0;
		int rc = expect_mapping(ps, within);
		char *key;
		while (!rc && (rc = next_key(ps, within, &key)) == 1) {
			char *full = xasprintf("%s.%s", within, key);
			if (!strcmp(key, "warning"))
				rc = scalar_number(ps, full, -50, 200, false, &warn);
			else if (!strcmp(key, "critical"))
				rc = scalar_number(ps, full, -50, 200, false, &crit);
			else
				rc = fail(ps, ps->ev.start_mark.line, "unknown setting '%s' (warning or critical)", full);
			free(full);
			free(key);
		}
		double w, c;
		fleet_rules_temp(&cfg->rules, NULL, &w, &c);
		if (!rc && (warn ? warn : w) >= (crit ? crit : c))
			rc = fail(ps, line, "%s: warning (%g) must be below critical (%g)", within, warn ? warn : w,
				  crit ? crit : c);
		if (!rc)
			fleet_rules_set_gpu(&cfg->rules, gpu, warn, crit);
		free(within);
		free(gpu);
		if (rc)
			return -1;
	}
	return r;
}

static int read_expected(struct parser *ps, fd_config *cfg)
{
	if (ps->ev.type == YAML_SCALAR_EVENT && ps->ev.data.scalar.length) {
		fleet_rules_set_expected(&cfg->rules, NULL, (const char *)ps->ev.data.scalar.value);
		return 0;
	}
	if (ps->ev.type != YAML_MAPPING_START_EVENT)
		return fail(ps, ps->ev.start_mark.line, "alerts.expected_version: expected a version, or a mapping of "
							"model names to versions");
	char *model;
	int r;
	while ((r = next_key(ps, "alerts.expected_version", &model)) == 1) {
		int rc = 0;
		if (ps->ev.type != YAML_SCALAR_EVENT || !ps->ev.data.scalar.length)
			rc = fail(ps, ps->ev.start_mark.line, "alerts.expected_version.%s: expected a version", model);
		else
			fleet_rules_set_expected(&cfg->rules, model, (const char *)ps->ev.data.scalar.value);
		free(model);
		if (rc)
			return -1;
	}
	return r;
}

static int read_disable(struct parser *ps, fd_config *cfg)
{
	bool list = ps->ev.type == YAML_SEQUENCE_START_EVENT;
	if (!list && ps->ev.type != YAML_SCALAR_EVENT)
		return fail(ps, ps->ev.start_mark.line, "alerts.disable: expected a rule name or a list of them");
	for (;;) {
		if (list && next(ps))
			return -1;
		if (list && ps->ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		const char *v = ps->ev.type == YAML_SCALAR_EVENT ? (const char *)ps->ev.data.scalar.value : "";
		int rule = fleet_rule_parse(v);
		if (rule < 0) {
			char names[256] = "";
			for (int i = 0; i < FLEET_RULE_COUNT; i++)
				snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
					 fleet_rule_name((fleet_rule)i));
			return fail(ps, ps->ev.start_mark.line, "alerts.disable: unknown rule '%s' (rules: %s)", v, names);
		}
		cfg->rules.disabled[rule] = true;
		if (!list)
			return 0;
	}
}

/* alerts.drift_features: {feature: KS threshold, ...} */
static int read_drift_features(struct parser *ps, fd_config *cfg)
{
	if (ps->ev.type != YAML_MAPPING_START_EVENT)
		return fail(ps, ps->ev.start_mark.line,
			    "alerts.drift_features: expected a mapping of feature names to KS thresholds");
	char *name;
	int r;
	while ((r = next_key(ps, "alerts.drift_features", &name)) == 1) {
		char *full = xasprintf("alerts.drift_features.%s", name);
		double x;
		int rc = scalar_number(ps, full, 0.000001, 1, false, &x);
		if (!rc)
			fleet_rules_set_drift_feature(&cfg->rules, name, x);
		free(full);
		free(name);
		if (rc)
			return -1;
	}
	return r;
}

static int read_alerts(struct parser *ps, fd_config *cfg)
{
	if (expect_mapping(ps, "alerts"))
		return -1;
	char *key;
	int r;
	while ((r = next_key(ps, "alerts", &key)) == 1) {
		size_t line = ps->ev.start_mark.line;
		char *full = xasprintf("alerts.%s", key);
		double x;
		int rc;
		if (!strcmp(key, "gpu_temp_warning") || !strcmp(key, "gpu_temp_critical")) {
			rc = scalar_number(ps, full, -50, 200, false, &x);
			if (!rc)
				*(key[9] == 'w' ? &cfg->rules.temp_warn : &cfg->rules.temp_crit) = x;
			if (!rc && cfg->rules.temp_warn >= cfg->rules.temp_crit)
				rc = fail(ps, line, "%s: gpu_temp_warning (%g) must be below gpu_temp_critical (%g)", full,
					  cfg->rules.temp_warn, cfg->rules.temp_crit);
		} else if (!strcmp(key, "gpu_temp")) {
			rc = read_gpu_limits(ps, cfg);
		} else if (!strcmp(key, "expected_version")) {
			rc = read_expected(ps, cfg);
		} else if (!strcmp(key, "drift_ks")) {
			rc = scalar_number(ps, full, 0.000001, 1, false, &cfg->rules.drift_ks);
		} else if (!strcmp(key, "drift_features")) {
			rc = read_drift_features(ps, cfg);
		} else if (!strcmp(key, "drift_pvalues")) {
			const char *v = ps->ev.type == YAML_SCALAR_EVENT ? (const char *)ps->ev.data.scalar.value : "";
			if (!strcmp(v, "exact") || !strcmp(v, "asymptotic")) {
				cfg->rules.drift_exact = !strcmp(v, "exact");
				cfg->rules.drift_exact_set = true;
				rc = 0;
			} else {
				rc = fail(ps, line, "%s: expected exact or asymptotic", full);
			}
		} else if (!strcmp(key, "stale_after")) {
			rc = scalar_number(ps, full, 0, 86400 * 365, false, &x);
			if (!rc)
				cfg->rules.stale_ms = (int64_t)(x * 1000 + 0.5);
		} else if (!strcmp(key, "disable")) {
			rc = read_disable(ps, cfg);
		} else {
			rc = fail(ps, line, "unknown setting '%s'", full);
		}
		free(full);
		free(key);
		if (rc)
			return -1;
	}
	return r;
}

/* Reads the value of one key; the current event is its first event. */
static int read_value(struct parser *ps, const char *key, fd_config *cfg)
{
	size_t line = ps->ev.start_mark.line;
	if (strcmp(key, "inventory") == 0) {
		if (ps->ev.type == YAML_SCALAR_EVENT) {
			const char *v = (const char *)ps->ev.data.scalar.value;
			if (!*v)
				return fail(ps, line, "inventory: expected a path or a list of paths");
			push(&cfg->inventory, &cfg->ninventory, absolute_to(ps->path, v));
			return 0;
		}
		if (ps->ev.type != YAML_SEQUENCE_START_EVENT)
			return fail(ps, line, "inventory: expected a path or a list of paths");
		for (;;) {
			if (next(ps))
				return -1;
			if (ps->ev.type == YAML_SEQUENCE_END_EVENT)
				return 0;
			if (ps->ev.type != YAML_SCALAR_EVENT || !*ps->ev.data.scalar.value)
				return fail(ps, ps->ev.start_mark.line, "inventory: each entry must be a path");
			push(&cfg->inventory, &cfg->ninventory,
			     absolute_to(ps->path, (const char *)ps->ev.data.scalar.value));
		}
	}
	if (strcmp(key, "poll") == 0)
		return read_poll(ps, cfg);
	if (strcmp(key, "alerts") == 0)
		return read_alerts(ps, cfg);
	if (strcmp(key, "ssh") == 0)
		return read_ssh(ps, cfg);
	if (ps->ev.type != YAML_SCALAR_EVENT)
		return fail(ps, line, "%s: expected a single value", key);
	const char *v = (const char *)ps->ev.data.scalar.value;
	if (strcmp(key, "read_only") == 0) {
		if (!scalar_bool(v, &cfg->read_only))
			return fail(ps, line, "read_only: expected true or false, got '%s'", v);
	} else if (strcmp(key, "theme") == 0) {
		free(cfg->theme);
		cfg->theme = xstrdup(v);
	} else if (strcmp(key, "db") == 0) {
		free(cfg->db);
		cfg->db = absolute_to(ps->path, v);
	} else if (strcmp(key, "registry") == 0) {
		if (!*v)
			return fail(ps, line, "registry: expected a directory or an http(s) URL");
		free(cfg->registry);
		cfg->registry = strncmp(v, "http://", 7) && strncmp(v, "https://", 8) ? absolute_to(ps->path, v) : xstrdup(v);
	} else {
		return fail(ps, line, "unknown setting '%s'", key);
	}
	return 0;
}

/* The settings from a parser whose input is set; closes it. */
static int parse(struct parser *ps, fd_config *cfg)
{
	memset(&ps->ev, 0, sizeof ps->ev);
	int rc = -1;
	/* stream start, document start (or stream end for an empty file) */
	if (next(ps) || next(ps))
		goto out;
	if (ps->ev.type == YAML_STREAM_END_EVENT) {
		rc = 0;
		goto out;
	}
	if (next(ps))
		goto out;
	if (ps->ev.type == YAML_SCALAR_EVENT && ps->ev.data.scalar.length == 0 && !ps->ev.data.scalar.quoted_implicit) {
		rc = 0; /* a document with only comments */
		goto out;
	}
	if (ps->ev.type != YAML_MAPPING_START_EVENT) {
		fail(ps, ps->ev.start_mark.line, "expected a mapping of settings");
		goto out;
	}
	for (;;) {
		if (next(ps))
			goto out;
		if (ps->ev.type == YAML_MAPPING_END_EVENT)
			break;
		if (ps->ev.type != YAML_SCALAR_EVENT) {
			fail(ps, ps->ev.start_mark.line, "expected a setting name");
			goto out;
		}
		char *key = xstrdup((const char *)ps->ev.data.scalar.value);
		int r = next(ps) ? -1 : read_value(ps, key, cfg);
		free(key);
		if (r)
			goto out;
	}
	rc = 0;
out:
	yaml_event_delete(&ps->ev);
	yaml_parser_delete(&ps->p);
	return rc;
}

int config_load(const char *path, fd_config *cfg, char **err)
{
	memset(cfg, 0, sizeof *cfg);
	poller_opts_default(&cfg->poll);
	fleet_rules_default(&cfg->rules);
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		*err = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	cfg->path = xstrdup(path);
	struct parser ps = { .path = path, .err = err };
	yaml_parser_initialize(&ps.p);
	yaml_parser_set_input_file(&ps.p, f);
	int rc = parse(&ps, cfg);
	fclose(f);
	return rc;
}

int config_parse(const char *path, const char *data, size_t len, fd_config *cfg, char **err)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->path = xstrdup(path);
	struct parser ps = { .path = path, .err = err };
	yaml_parser_initialize(&ps.p);
	yaml_parser_set_input_string(&ps.p, (const unsigned char *)data, len);
	return parse(&ps, cfg);
}

void config_strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void config_free(fd_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	config_strv_free(cfg->inventory, cfg->ninventory);
	free(cfg->theme);
	free(cfg->db);
	free(cfg->registry);
	free(cfg->ssh_known_hosts);
	free(cfg->ssh_config);
	fleet_rules_free(&cfg->rules);
	memset(cfg, 0, sizeof *cfg);
}

char **config_inventory_sources(const fd_config *cfg, char *const *cli, size_t ncli, size_t *n, const char **from)
{
	char **v = NULL;
	*n = 0;
	if (ncli) {
		for (size_t i = 0; i < ncli; i++)
			push(&v, n, xstrdup(cli[i]));
		*from = "-i";
		return v;
	}
	const char *env = getenv("FLEETDECK_INVENTORY");
	if (env && *env) {
		const char *p = env;
		while (*p) {
			const char *c = strchr(p, ',');
			size_t len = c ? (size_t)(c - p) : strlen(p);
			if (len)
				push(&v, n, xstrndup(p, len));
			p += len + (c ? 1 : 0);
		}
		if (*n) {
			*from = "FLEETDECK_INVENTORY";
			return v;
		}
	}
	if (cfg && cfg->ninventory) {
		for (size_t i = 0; i < cfg->ninventory; i++)
			push(&v, n, xstrdup(cfg->inventory[i]));
		*from = cfg->path;
		return v;
	}
	push(&v, n, xstrdup("./inventory"));
	*from = "default";
	return v;
}
