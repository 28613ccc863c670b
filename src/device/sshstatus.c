/* sshstatus: one shell script per poll of an agentless device, and its strict parser. */
#include "device/sshstatus.h"
#include "util/shquote.h"
#include "util/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARKER "fleetdeck-status 1"

char *sshstatus_command(const sshstatus_opts *o, char **err)
{
	const char *dir = o->model_dir ? o->model_dir : "/opt/models";
	if (shquote_check_path(dir, "fleetdeck_model_dir", err) < 0)
		return NULL;
	int port = o->agent_port ? o->agent_port : 8080;
	if (port < 1 || port > 65535) {
		*err = xasprintf("fleetdeck_agent_port %d is not a port", port);
		return NULL;
	}
	int t = o->timeout_s > 0 ? o->timeout_s : 3;
	char *qdir = shquote_word(dir);
	/* Each value is cut to a bound on the device, and every line is one key; the
	 * parser refuses anything else. No value from the inventory reaches the script
	 * unquoted. */
	char *cmd = xasprintf(
		"d=%s; u=http://127.0.0.1:%d/health; echo '" MARKER "'; "
		"printf 'version=%%s\\n' \"$(head -c 128 \"$d/current_version\" 2>/dev/null | head -n 1 | tr -d '\\r')\"; "
		"printf 'link=%%s\\n' \"$(readlink \"$d/active_model.onnx\" 2>/dev/null | head -c 256)\"; "
		"printf 'uptime_s=%%s\\n' \"$(cut -d' ' -f1 /proc/uptime 2>/dev/null)\"; "
		"t=; for z in /sys/class/thermal/thermal_zone*; do "
		"case \"$(cat \"$z/type\" 2>/dev/null)\" in [Gg][Pp][Uu]*) v=$(cat \"$z/temp\" 2>/dev/null); "
		"case \"$v\" in ''|*[!0-9]*) ;; *) if [ -z \"$t\" ] || [ \"$v\" -gt \"$t\" ]; then t=$v; fi;; esac;; esac; "
		"done; printf 'gpu_temp_mc=%%s\\n' \"$t\"; "
		"h=$( (curl -fsS -m %d \"$u\" || wget -qO- -T %d \"$u\") 2>/dev/null | head -c 4096 | tr -d '\\r\\n'); "
		"printf 'health=%%s\\n' \"$h\"; echo end",
		qdir, port, t, t);
	free(qdir);
	return cmd;
}

static bool is_number(const char *s, double *out)
{
	if (!*s)
		return false;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (*end || errno || !isfinite(v))
		return false;
	*out = v;
	return true;
}

/* "defect-detection-v3.2-int8.onnx" -> "defect-detection" */
static char *model_of_link(const char *link)
{
	const char *base = strrchr(link, '/');
	base = base ? base + 1 : link;
	const char *v = NULL;
	for (const char *p = base; (p = strstr(p, "-v")); p++)
		if (isdigit((unsigned char)p[2]))
			v = p;
	if (!v || v == base)
		return NULL;
	return xstrndup(base, (size_t)(v - base));
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int sshstatus_parse(const char *out, size_t len, dev_status *st, char **detail, char **err)
{
	dev_status_clear(st);
	*detail = NULL;
	if (len > 16384) {
		*err = xstrdup("status script output is too large");
		return -1;
	}
	if (memchr(out, '\0', len)) {
		*err = xstrdup("status script output holds a NUL byte");
		return -1;
	}
	char *buf = xstrndup(out, len);
	char *save = NULL, *line = strtok_r(buf, "\n", &save);
	int rc = -1;
	bool ended = false;
	char *version = NULL, *link = NULL, *health = NULL;
	double uptime = 0, temp_mc = 0;
	bool have_uptime = false, have_temp = false;
	if (!line || strcmp(line, MARKER) != 0) {
		*err = xstrdup("not the status script's output (is the login shell POSIX?)");
		goto out;
	}
	for (line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, "end") == 0) {
			ended = true;
			break;
		}
		char *eq = strchr(line, '=');
		if (!eq) {
			*err = xasprintf("status script: unexpected line '%.40s'", line);
			goto out;
		}
		*eq = '\0';
		const char *k = line, *v = eq + 1;
		if (!printable(v)) {
			*err = xasprintf("status script: control characters in %s", k);
			goto out;
		}
		if (strcmp(k, "version") == 0) {
			free(version);
			version = *v ? xstrdup(v) : NULL;
		} else if (strcmp(k, "link") == 0) {
			free(link);
			link = *v ? xstrdup(v) : NULL;
		} else if (strcmp(k, "uptime_s") == 0) {
			have_uptime = *v && is_number(v, &uptime);
			if (*v && !have_uptime) {
				*err = xasprintf("status script: uptime '%.40s' is not a number", v);
				goto out;
			}
		} else if (strcmp(k, "gpu_temp_mc") == 0) {
			have_temp = *v && is_number(v, &temp_mc);
			if (*v && !have_temp) {
				*err = xasprintf("status script: GPU temperature '%.40s' is not a number", v);
				goto out;
			}
		} else if (strcmp(k, "health") == 0) {
			free(health);
			health = *v ? xstrdup(v) : NULL;
		} else {
			*err = xasprintf("status script: unknown key '%.40s'", k);
			goto out;
		}
	}
	if (!ended) {
		*err = xstrdup("status script output was cut short");
		goto out;
	}
	if (version && (strlen(version) > 128 || shquote_check_ident(version, "version", err) < 0)) {
		if (!*err)
			*err = xstrdup("current_version is too long");
		goto out;
	}
	st->model_version = version;
	version = NULL;
	if (link)
		st->model_name = model_of_link(link);
	if (have_uptime && uptime >= 0) {
		st->uptime_hours = uptime / 3600.0;
		st->have |= DEV_HAVE_UPTIME;
	}
	if (have_temp && temp_mc > -100000 && temp_mc < 200000) {
		st->gpu_temp = temp_mc / 1000.0;
		st->have |= DEV_HAVE_GPU_TEMP;
	}
	json_t *h = health ? json_loads(health, 0, NULL) : NULL;
	json_t *s = json_object_get(h, "status");
	if (json_is_string(s) && json_string_length(s) <= 32 && printable(json_string_value(s))) {
		st->status = xstrdup(json_string_value(s));
		json_t *ml = json_object_get(h, "model_loaded");
		if (json_is_boolean(ml)) {
			st->model_loaded = json_is_true(ml);
			st->have |= DEV_HAVE_MODEL_LOADED;
		}
	} else {
		st->status = xstrdup("unhealthy");
		*detail = xstrdup(health ? "the inference service's /health gave no status"
					 : "the inference service's /health did not answer");
	}
	json_decref(h);
	rc = 0;
out:
	if (rc)
		dev_status_clear(st);
	free(version);
	free(link);
	free(health);
	free(buf);
	return rc;
}
