/* rollssh: an agentless device's rollout steps as shell commands over SSH: settings, commands, parsers, a blocking connection. */
#include "rollout/rollssh.h"
#include "rollout/plan.h"
#include "util/shquote.h"
#include "util/xalloc.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HTTP_MARK "fleetdeck-http "
#define HTTP_BODY_MAX 65536
#define KV_VALUE_MAX 1024
#define KV_TOTAL_MAX 16384
#define OUT_MAX (80 * 1024)

/* ---- settings ---- */

void rollssh_dev_clear(rollssh_dev *d)
{
	if (!d)
		return;
	char **s[] = { &d->name,	&d->address,	 &d->user,	  &d->identity,	    &d->jump,
		       &d->known_hosts, &d->ssh_config,	 &d->model_dir,	  &d->service,	    &d->service_ctl,
		       &d->health_url,	&d->validate_url };
	for (size_t i = 0; i < sizeof s / sizeof *s; i++)
		free(*s[i]);
	memset(d, 0, sizeof *d);
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static bool alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool rollssh_url_ok(const char *url)
{
	size_t n = url ? strlen(url) : 0;
	size_t skip = !strncmp(url ? url : "", "http://", 7) ? 7 : !strncmp(url ? url : "", "https://", 8) ? 8 : 0;
	if (!skip || n <= skip || n > 2048)
		return false;
	static const char extra[] = "._~:/?#@%=&+,[]-";
	for (const char *p = url + skip; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!alnum(c) && !strchr(extra, c))
			return false;
	}
	return true;
}

/* "-n", "--no-block": an option word. */
static bool option_word(const char *w)
{
	const char *p = w + (w[1] == '-' ? 2 : 1);
	if (w[0] != '-' || !alnum((unsigned char)*p))
		return false;
	for (; *p; p++)
		if (!alnum((unsigned char)*p) && *p != '-')
			return false;
	return strlen(w) <= 64;
}

/* The service-control words: the first a name or an absolute path, the rest
 * names, absolute paths or -options. */
static int check_ctl(const char *ctl, char **err)
{
	if (!ctl || !*ctl || strlen(ctl) > 1024) {
		*err = xstrdup("fleetdeck_service_ctl: expected 1 to 1024 bytes");
		return -1;
	}
	char *copy = xstrdup(ctl), *save = NULL;
	int rc = 0, n = 0;
	for (char *w = strtok_r(copy, " ", &save); w && !rc; w = strtok_r(NULL, " ", &save), n++) {
		if (n >= 32) {
			*err = xstrdup("fleetdeck_service_ctl: more than 32 words");
			rc = -1;
		} else if (n > 0 && option_word(w)) {
			continue;
		} else {
			rc = w[0] == '/' ? shquote_check_path(w, "fleetdeck_service_ctl", err)
					 : shquote_check_ident(w, "fleetdeck_service_ctl", err);
		}
	}
	if (!rc && n == 0) {
		*err = xstrdup("fleetdeck_service_ctl: no command");
		rc = -1;
	}
	free(copy);
	return rc;
}

static bool text_ok(const char *s)
{
	return s && *s && strlen(s) <= 1024 && printable(s);
}

int rollssh_dev_check(const rollssh_dev *d, char **err)
{
	if (!text_ok(d->name) || !text_ok(d->address) || d->address[0] == '-') {
		*err = xstrdup("the host name or address is empty, too long or holds control characters");
		return -1;
	}
	if (d->port < 0 || d->port > 65535) {
		*err = xasprintf("ansible_port %d is not a port", d->port);
		return -1;
	}
	if ((d->user && (!text_ok(d->user) || d->user[0] == '-')) || (d->identity && !text_ok(d->identity)) ||
	    (d->jump && !text_ok(d->jump)) || (d->known_hosts && !text_ok(d->known_hosts)) ||
	    (d->ssh_config && *d->ssh_config && !text_ok(d->ssh_config))) {
		*err = xstrdup("ansible_user, the key file, the jump host or the ssh settings hold control characters");
		return -1;
	}
	if (shquote_check_path(d->model_dir, "fleetdeck_model_dir", err) ||
	    shquote_check_ident(d->service, "fleetdeck_service", err) || check_ctl(d->service_ctl, err))
		return -1;
	if (!rollssh_url_ok(d->health_url)) {
		*err = xstrdup("fleetdeck_health_url: expected an http:// or https:// URL of [A-Za-z0-9._~:/?#@%=&+,[]-]");
		return -1;
	}
	if (!rollssh_url_ok(d->validate_url)) {
		*err = xstrdup("fleetdeck_validate_url: expected an http:// or https:// URL of [A-Za-z0-9._~:/?#@%=&+,[]-]");
		return -1;
	}
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* A string variable: *out borrowed, unchanged when absent. */
static int var_string(const json_t *vars, const char *key, const char **out, char **err)
{
	json_t *v = json_object_get(vars, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !*json_string_value(v)) {
		*err = xasprintf("%s: expected a non-empty string", key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int rollssh_dev_from_vars(const poll_target *t, const json_t *vars, const sshpool_opts *ssh, rollssh_dev *d,
			  char **err)
{
	memset(d, 0, sizeof *d);
	const char *service = ROLLSSH_SERVICE, *ctl = ROLLSSH_SERVICE_CTL, *health = NULL, *validate = NULL;
	if (var_string(vars, "fleetdeck_service", &service, err) ||
	    var_string(vars, "fleetdeck_service_ctl", &ctl, err) ||
	    var_string(vars, "fleetdeck_health_url", &health, err) ||
	    var_string(vars, "fleetdeck_validate_url", &validate, err))
		return -1;
	d->name = xstrdup(t->name);
	d->address = xstrdup(t->address);
	d->port = t->ssh_port;
	d->user = dup_or_null(t->ssh_user);
	d->identity = dup_or_null(t->ssh_identity);
	d->jump = dup_or_null(t->ssh_jump);
	if (ssh) {
		d->known_hosts = dup_or_null(ssh->known_hosts);
		d->ssh_config = dup_or_null(ssh->ssh_config);
		d->accept_new = ssh->strict == SSH_STRICT_ACCEPT_NEW;
	}
	d->model_dir = xstrdup(t->model_dir ? t->model_dir : ROLLSSH_MODEL_DIR);
	d->service = xstrdup(service);
	d->service_ctl = xstrdup(ctl);
	int port = t->agent_port ? t->agent_port : 8080;
	d->health_url = health ? xstrdup(health) : xasprintf("http://localhost:%d/health", port);
	d->validate_url = validate ? xstrdup(validate) : xasprintf("http://localhost:%d/validate", port);
	if (rollssh_dev_check(d, err)) {
		rollssh_dev_clear(d);
		return -1;
	}
	return 0;
}

static void set_opt(json_t *o, const char *key, const char *v)
{
	json_object_set_new(o, key, v ? json_string(v) : json_null());
}

json_t *rollssh_dev_to_json(const rollssh_dev *d)
{
	json_t *o = json_object();
	json_object_set_new(o, "port", json_integer(d->port));
	set_opt(o, "user", d->user);
	set_opt(o, "identity", d->identity);
	set_opt(o, "jump", d->jump);
	set_opt(o, "known_hosts", d->known_hosts);
	set_opt(o, "ssh_config", d->ssh_config);
	json_object_set_new(o, "strict", json_string(d->accept_new ? "accept-new" : "yes"));
	set_opt(o, "model_dir", d->model_dir);
	set_opt(o, "service", d->service);
	set_opt(o, "service_ctl", d->service_ctl);
	set_opt(o, "health_url", d->health_url);
	set_opt(o, "validate_url", d->validate_url);
	return o;
}

static char *json_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? xstrdup(s) : NULL;
}

int rollssh_dev_from_json(const char *name, const char *address, const char *text, rollssh_dev *d, char **err)
{
	memset(d, 0, sizeof *d);
	json_t *o = text ? json_loads(text, 0, NULL) : NULL;
	if (!json_is_object(o)) {
		json_decref(o);
		*err = xstrdup("the device's SSH settings are missing or not a JSON object");
		return -1;
	}
	json_t *port = json_object_get(o, "port");
	const char *strict = json_string_value(json_object_get(o, "strict"));
	d->name = dup_or_null(name);
	d->address = dup_or_null(address);
	d->port = json_is_integer(port) && json_integer_value(port) >= 0 && json_integer_value(port) <= 65535
			  ? (int)json_integer_value(port)
			  : -1;
	d->user = json_str(o, "user");
	d->identity = json_str(o, "identity");
	d->jump = json_str(o, "jump");
	d->known_hosts = json_str(o, "known_hosts");
	d->ssh_config = json_str(o, "ssh_config");
	d->accept_new = strict && !strcmp(strict, "accept-new");
	d->model_dir = json_str(o, "model_dir");
	d->service = json_str(o, "service");
	d->service_ctl = json_str(o, "service_ctl");
	d->health_url = json_str(o, "health_url");
	d->validate_url = json_str(o, "validate_url");
	json_decref(o);
	char *why = NULL;
	if (rollssh_dev_check(d, &why)) {
		*err = xasprintf("the device's SSH settings: %s", why);
		free(why);
		rollssh_dev_clear(d);
		return -1;
	}
	return 0;
}

int rollssh_model_check(const rollssh_model *m, char **err)
{
	if (!m->name || !rollout_name_ok(m->name) || !m->version || !rollout_name_ok(m->version)) {
		*err = xstrdup("the model's name or version is not 1-128 of [A-Za-z0-9._+-]");
		return -1;
	}
	if (!rollssh_url_ok(m->url)) {
		*err = xstrdup("the model's URL is not an http:// or https:// URL of [A-Za-z0-9._~:/?#@%=&+,[]-]");
		return -1;
	}
	if (!m->checksum || strlen(m->checksum) != 64 || strspn(m->checksum, "0123456789abcdef") != 64) {
		*err = xstrdup("the model's checksum is not 64 lower-case hex digits");
		return -1;
	}
	return 0;
}

char *rollssh_model_file(const char *name, const char *version)
{
	return xasprintf("%s-v%s-int8.onnx", name, version);
}

/* ---- commands ---- */

/* The service-control command line for verb, each word quoted. */
static char *ctl_words(const rollssh_dev *d, const char *verb)
{
	char *copy = xstrdup(d->service_ctl), *save = NULL;
	const char *words[64];
	size_t n = 0;
	for (char *w = strtok_r(copy, " ", &save); w && n < 62; w = strtok_r(NULL, " ", &save))
		words[n++] = w;
	words[n++] = verb;
	words[n++] = d->service;
	char *line = shquote_join(words, n);
	free(copy);
	return line;
}

/* CTL VERB SERVICE with its output in the temporary file $o (not a pipe: a service
 * started in the background may keep it open); on failure the first 200 bytes of
 * that output as ctl_error=, then fail_kv, exit status code. */
static char *ctl_run(const rollssh_dev *d, const char *verb, const char *fail_kv, int code)
{
	char *w = ctl_words(d, verb);
	char *s = xasprintf("%s </dev/null >\"$o\" 2>&1 || { printf 'ctl_error=%%s\\n' \"$(head -c 200 -- \"$o\" | "
			    "tr -c '[:print:]' ' ')\"; echo %s; exit %d; }; ",
			    w, fail_kv, code);
	free(w);
	return s;
}

/* $o: the service control's output, removed on exit */
#define CTL_TMP "o=$(mktemp) || { echo ctl_error=mktemp failed; exit 7; }; trap 'rm -f -- \"$o\"' EXIT; "


static int check_nv(const char *name, const char *version, char **err)
{
	if (!name || !rollout_name_ok(name) || !version || !rollout_name_ok(version)) {
		*err = xstrdup("a model name or version is not 1-128 of [A-Za-z0-9._+-]");
		return -1;
	}
	return 0;
}

char *rollssh_cmd_http(const rollssh_dev *d, const char *url, const char *json_body, int timeout_s, char **err)
{
	if (rollssh_dev_check(d, err))
		return NULL;
	if (!rollssh_url_ok(url)) {
		*err = xstrdup("a URL unfit for a remote command");
		return NULL;
	}
	char *qurl = shquote_word(url);
	char *post = NULL;
	if (json_body) {
		char *qb = shquote_word(json_body);
		post = xasprintf("-X POST -H 'Content-Type: application/json' --data-binary %s ", qb);
		free(qb);
	}
	char *cmd = xasprintf("{ curl -sS -m %d -w '\\n" HTTP_MARK "%%{http_code}' %s-- %s 2>/dev/null; "
			      "echo \" curl-exit $?\"; } | head -c %d",
			      timeout_s > 0 ? timeout_s : 1, post ? post : "", qurl, HTTP_BODY_MAX + 64);
	free(post);
	free(qurl);
	return cmd;
}

char *rollssh_cmd_record(const rollssh_dev *d, char **err)
{
	if (rollssh_dev_check(d, err))
		return NULL;
	char *qd = shquote_word(d->model_dir);
	char *cmd = xasprintf("d=%s; printf 'link=%%s\\n' \"$(readlink -- \"$d/active_model.onnx\" | head -c 1024)\"; "
			      "if [ -f \"$d/current_version\" ]; then "
			      "printf 'version=%%s\\n' \"$(head -c 256 -- \"$d/current_version\")\"; fi",
			      qd);
	free(qd);
	return cmd;
}

char *rollssh_cmd_have(const rollssh_dev *d, const char *name, const char *version, char **err)
{
	if (rollssh_dev_check(d, err) || check_nv(name, version, err))
		return NULL;
	char *file = rollssh_model_file(name, version);
	char *path = xasprintf("%s/%s", d->model_dir, file);
	char *qp = shquote_word(path);
	char *cmd = xasprintf("test -f %s", qp);
	free(qp);
	free(path);
	free(file);
	return cmd;
}

/* The shell's test "the link and current_version are on $f and $v already". */
#define ON_TARGET "[ \"$(readlink -- \"$l\")\" = \"$f\" ] && [ \"$(head -c 256 -- \"$d/current_version\" 2>/dev/null)\" = \"$v\" ]"

/* d=, f=, l=, v= for the model file of name/version. */
static char *vars_for(const rollssh_dev *d, const char *name, const char *version)
{
	char *file = rollssh_model_file(name, version);
	char *qd = shquote_word(d->model_dir), *qf = shquote_word(file), *qv = shquote_word(version);
	char *s = xasprintf("trap '' HUP PIPE; d=%s; f=\"$d\"/%s; l=\"$d\"/active_model.onnx; v=%s; ", qd, qf, qv);
	free(qd);
	free(qf);
	free(qv);
	free(file);
	return s;
}

char *rollssh_cmd_fetch(const rollssh_dev *d, const rollssh_model *m, int timeout_s, char **err)
{
	if (rollssh_dev_check(d, err) || rollssh_model_check(m, err))
		return NULL;
	char *head = vars_for(d, m->name, m->version);
	char *file = rollssh_model_file(m->name, m->version);
	/* a temporary name of its own: a command left running by a runner that died
	 * cannot write into the file of the one that replaced it */
	char *tmpname = xasprintf(".%s.XXXXXX", file);
	char *qt = shquote_word(tmpname), *qu = shquote_word(m->url), *qs = shquote_word(m->checksum);
	char *cmd = xasprintf(
		"%sp=\"$d\"/%s; s=%s; "
		"if " ON_TARGET "; then echo switched=yes; else echo switched=no; fi; "
		"if [ -f \"$f\" ] && [ \"$(sha256sum < \"$f\" | cut -c1-64)\" = \"$s\" ]; then echo fetch=present; exit 0; fi; "
		"t=$(mktemp \"$p\") || { echo fetch=failed; exit 3; }; "
		"curl -fsS -m %d -o \"$t\" -- %s 2>/dev/null || { c=$?; rm -f -- \"$t\"; echo fetch=failed; echo curl=$c; exit 3; }; "
		"g=$(sha256sum < \"$t\" | cut -c1-64); "
		"if [ \"$g\" != \"$s\" ]; then rm -f -- \"$t\"; echo fetch=mismatch; echo sha256=$g; exit 4; fi; "
		"mv -f -- \"$t\" \"$f\" || { rm -f -- \"$t\"; echo fetch=failed; exit 5; }; echo fetch=downloaded",
		head, qt, qs, timeout_s > 0 ? timeout_s : 1, qu);
	free(qt);
	free(qu);
	free(qs);
	free(tmpname);
	free(file);
	free(head);
	return cmd;
}

/* The link and current_version onto $f and $v, each by rename; on failure
 * prints KEY=link-failed or KEY=version-failed and exits 5. */
#define RELINK(KEY)                                                                                           \
	"ln -sfn -- \"$f\" \"$d/.active_model.onnx.fleetdeck\" && "                                               \
	"mv -fT -- \"$d/.active_model.onnx.fleetdeck\" \"$l\" || { echo " KEY "=link-failed; exit 5; }; "        \
	"printf '%%s\\n' \"$v\" > \"$d/.current_version.fleetdeck\" && "                                          \
	"mv -f -- \"$d/.current_version.fleetdeck\" \"$d/current_version\" || { echo " KEY "=version-failed; exit 5; }; "

char *rollssh_cmd_switch(const rollssh_dev *d, const char *name, const char *version, char **err)
{
	if (rollssh_dev_check(d, err) || check_nv(name, version, err))
		return NULL;
	char *head = vars_for(d, name, version);
	char *stop = ctl_run(d, "stop", "switch=stop-failed", 4), *start = ctl_run(d, "start", "start=failed", 6);
	char *cmd = xasprintf("%s[ -f \"$f\" ] || { echo switch=nofile; exit 3; }; " CTL_TMP
			      "if " ON_TARGET "; then echo switch=already; else "
			      "%s" RELINK("switch") "echo switch=done; fi; "
			      "%secho start=ok",
			      head, stop, start);
	free(stop);
	free(start);
	free(head);
	return cmd;
}

char *rollssh_cmd_back(const rollssh_dev *d, const char *name, const char *version, char **err)
{
	if (rollssh_dev_check(d, err) || check_nv(name, version, err))
		return NULL;
	char *head = vars_for(d, name, version);
	char *restart = ctl_run(d, "restart", "restart=failed", 6);
	char *cmd = xasprintf("%s[ -f \"$f\" ] || { echo back=nofile; exit 3; }; " CTL_TMP
			      "if " ON_TARGET "; then echo back=already; else " RELINK("back") "echo back=done; fi; "
			      "%secho restart=ok",
			      head, restart);
	free(restart);
	free(head);
	return cmd;
}

/* ---- parsers ---- */

int rollssh_parse_http(const char *out, size_t len, long *code, int *curl_exit, char **body, char **err)
{
	*code = 0;
	*curl_exit = -1;
	*body = NULL;
	if (len > HTTP_BODY_MAX + 64 || memchr(out, '\0', len)) {
		*err = xstrdup("the device's answer is larger than 64 KiB or holds a NUL byte");
		return -1;
	}
	/* the last marker is ours: the device's body comes before it */
	const char *mark = NULL;
	size_t ml = strlen("\n" HTTP_MARK);
	for (size_t i = 0; i + ml <= len; i++)
		if (!memcmp(out + i, "\n" HTTP_MARK, ml))
			mark = out + i;
	if (!mark) {
		*err = xstrdup("no status line from curl on the device (is curl installed, the answer cut short?)");
		return -1;
	}
	/* "DDD curl-exit N", a newline at most after it */
	const char *p = mark + ml, *end = out + len;
	if (end > p && end[-1] == '\n')
		end--;
	static const char mid[] = " curl-exit ";
	size_t tl = (size_t)(end - p), mlen = sizeof mid - 1;
	bool okfmt = tl > 3 + mlen && tl <= 3 + mlen + 3 && !memcmp(p + 3, mid, mlen);
	for (size_t i = 0; okfmt && i < tl; i++)
		if ((i < 3 || i >= 3 + mlen) && (p[i] < '0' || p[i] > '9'))
			okfmt = false;
	if (!okfmt) {
		*err = xstrdup("curl's status line on the device is malformed");
		return -1;
	}
	int c = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'), x = 0;
	for (const char *q = p + 3 + mlen; q < end; q++)
		x = x * 10 + (*q - '0');
	*code = c;
	*curl_exit = x;
	*body = xstrndup(out, (size_t)(mark - out));
	return 0;
}

int rollssh_parse_kv(const char *out, size_t len, const char *const *keys, char **vals, char **err)
{
	size_t nk = 0;
	while (keys[nk])
		vals[nk++] = NULL;
	if (len > KV_TOTAL_MAX || memchr(out, '\0', len)) {
		*err = xstrdup("the device's answer is larger than 16 KiB or holds a NUL byte");
		return -1;
	}
	const char *p = out, *end = out + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *eq = memchr(p, '=', (size_t)(le - p));
		size_t klen = eq ? (size_t)(eq - p) : 0;
		size_t k;
		for (k = 0; eq && k < nk; k++)
			if (strlen(keys[k]) == klen && !memcmp(keys[k], p, klen))
				break;
		if (!eq || k == nk) {
			*err = xasprintf("unexpected line from the device: '%.*s'", (int)((le - p) > 40 ? 40 : (le - p)), p);
			goto fail;
		}
		if (vals[k]) {
			*err = xasprintf("the device printed %s twice", keys[k]);
			goto fail;
		}
		size_t vl = (size_t)(le - eq - 1);
		char *v = xstrndup(eq + 1, vl);
		if (vl > KV_VALUE_MAX || !printable(v)) {
			free(v);
			*err = xasprintf("the device's %s is longer than %d bytes or holds control characters", keys[k],
					 KV_VALUE_MAX);
			goto fail;
		}
		vals[k] = v;
		p = nl ? nl + 1 : end;
	}
	return 0;
fail:
	for (size_t k = 0; k < nk; k++) {
		free(vals[k]);
		vals[k] = NULL;
	}
	return -1;
}

/* ---- connections ---- */

struct rollssh_conn {
	sshpool *pool;
	ssh_target t;
	long wait_ms;
	uintptr_t seq;
};

rollssh_conn *rollssh_conn_new(const rollssh_dev *d, long connect_ms, long timeout_ms, char **err)
{
	sshpool_opts o = {
		.threads = 1,
		.connect_timeout_ms = (int)connect_ms,
		.command_timeout_ms = (int)timeout_ms,
		.ssh_config = d->ssh_config,
		.known_hosts = d->known_hosts,
		.strict = d->accept_new ? SSH_STRICT_ACCEPT_NEW : SSH_STRICT_YES,
		.max_output = OUT_MAX,
	};
	sshpool *p = sshpool_new(&o, err);
	if (!p)
		return NULL;
	rollssh_conn *c = xcalloc(1, sizeof *c);
	c->pool = p;
	c->t = (ssh_target){ .name = d->name,
			     .host = d->address,
			     .port = d->port,
			     .user = d->user,
			     .identity = d->identity,
			     .jump = d->jump };
	/* a connect per hop (at most 4 jump hosts), the command, and a margin */
	c->wait_ms = 5 * connect_ms + timeout_ms + 2000;
	return c;
}

void rollssh_conn_free(rollssh_conn *c)
{
	if (!c)
		return;
	sshpool_free(c->pool);
	free(c);
}

void rollssh_res_clear(rollssh_res *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->error);
	memset(r, 0, sizeof *r);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int rollssh_run(rollssh_conn *c, const char *cmd, rollssh_res *r)
{
	memset(r, 0, sizeof *r);
	uintptr_t tag = ++c->seq;
	char *err = NULL;
	if (sshpool_exec(c->pool, &c->t, cmd, (void *)tag, &err)) {
		r->error = err;
		r->reason = DEV_REASON_NETWORK;
		return -1;
	}
	int64_t deadline = mono_ms() + c->wait_ms;
	for (;;) {
		sshpool_result res;
		while (sshpool_result_next(c->pool, &res)) {
			if ((uintptr_t)res.tag != tag) { /* a command given up on earlier */
				sshpool_result_clear(&res);
				continue;
			}
			r->ran = res.ran;
			r->exit_code = res.exit_code;
			r->reason = res.reason;
			r->out = res.out;
			r->len = res.out_len;
			r->error = res.error;
			res.out = res.error = NULL;
			sshpool_result_clear(&res);
			if (!r->ran && !r->error)
				r->error = xstrdup("the command did not run");
			return r->ran ? 0 : -1;
		}
		int64_t left = deadline - mono_ms();
		if (left <= 0) {
			r->error = xasprintf("no answer within %ld ms", c->wait_ms);
			r->reason = DEV_REASON_TIMEOUT;
			return -1;
		}
		struct pollfd pfd = { .fd = sshpool_wake_fd(c->pool), .events = POLLIN };
		if (poll(&pfd, 1, left > 1000 ? 1000 : (int)left) < 0 && errno != EINTR) {
			r->error = xasprintf("poll: %s", strerror(errno));
			r->reason = DEV_REASON_NETWORK;
			return -1;
		}
	}
}
