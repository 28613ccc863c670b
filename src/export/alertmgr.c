/* alertmgr: the report's alerts posted to Alertmanager's API v2, resolved ones included (alertmgr.h). */
#include "export/alertmgr.h"
#include "util/atomicfile.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

/* alertname per rule; a rule added later without a name here gets "FleetdeckAlert" (its
 * rule label still tells which). */
static const char *const alertnames[FLEET_RULE_COUNT] = {
	[FLEET_RULE_UNREACHABLE] = "DeviceUnreachable",
	[FLEET_RULE_HEALTH] = "DeviceUnhealthy",
	[FLEET_RULE_STALE] = "DeviceStale",
	[FLEET_RULE_GPU_TEMP] = "GpuTemperatureHigh",
	[FLEET_RULE_VERSION_SKEW] = "ModelVersionSkew",
	[FLEET_RULE_DRIFT] = "ModelInputDrift",
};

const char *alertmgr_alertname(fleet_rule r)
{
	return r >= 0 && r < FLEET_RULE_COUNT && alertnames[r] ? alertnames[r] : "FleetdeckAlert";
}

bool alertmgr_url_ok(const char *url)
{
	const char *rest = !strncmp(url, "http://", 7) ? url + 7 : !strncmp(url, "https://", 8) ? url + 8 : NULL;
	if (!rest || !*rest || *rest == '/')
		return false;
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

static void iso_time(int64_t ms, char *out, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[40];
	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, size, "%s.%03dZ", buf, (int)(ms % 1000));
}

/* A JSON string of untrusted text: bytes that are not UTF-8 become '?'. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	char *c = xstrdup(s);
	for (char *p = c; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(c);
	free(c);
	return j ? j : json_string("?");
}

/* The identity of an alert: its labels, compact with sorted keys. Caller frees. */
static char *alert_key(const json_t *labels)
{
	return json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
}

/* The previous state's alerts by key (borrowed references into prev). */
static json_t *prev_index(const json_t *prev)
{
	json_t *idx = json_object();
	const json_t *alerts = prev ? json_object_get(prev, "alerts") : NULL;
	size_t i;
	json_t *a;
	json_array_foreach(alerts, i, a) {
		const json_t *labels = json_object_get(a, "labels");
		char *k = json_is_object(labels) ? alert_key(labels) : NULL;
		if (k && !json_object_get(idx, k))
			json_object_set(idx, k, a);
		free(k);
	}
	return idx;
}

static json_t *firing_alert(const fleet_snapshot *s, const fleet_alert *a)
{
	const fleet_dev *d = &s->devs[a->dev];
	json_t *labels = json_object();
	json_object_set_new(labels, "alertname", json_string(alertmgr_alertname(a->rule)));
	json_object_set_new(labels, "device", jstr(d->host));
	if (d->factory && *d->factory)
		json_object_set_new(labels, "factory", jstr(d->factory));
	json_object_set_new(labels, "severity", json_string(fleet_severity_name(a->severity)));
	json_object_set_new(labels, "rule", json_string(fleet_rule_name(a->rule)));
	json_object_set_new(labels, "source", json_string("fleetdeck"));
	char *summary = xasprintf("%s: %s", d->host, fleet_rule_text(a->rule));
	json_t *ann = json_object();
	json_object_set_new(ann, "summary", jstr(summary));
	json_object_set_new(ann, "description", jstr(a->message));
	free(summary);
	json_t *o = json_object();
	json_object_set_new(o, "labels", labels);
	json_object_set_new(o, "annotations", ann);
	return o;
}

json_t *alertmgr_payload(const fleet_snapshot *s, const json_t *prev, const alertmgr_opts *o, int64_t now_ms,
			 json_t **state, size_t *nfiring)
{
	char now[48], until[48];
	iso_time(now_ms, now, sizeof now);
	iso_time(now_ms + o->ttl_ms, until, sizeof until);
	json_t *out = json_array(), *keep = json_array();
	json_t *keys = json_object(); /* the firing ones' keys */
	json_t *before = prev_index(prev);
	/* the device labels of this report's devices, as firing_alert writes them: an alert of a
	 * device this report did not poll (another --limit) is neither resolved nor forgotten */
	json_t *polled = json_object();
	for (size_t i = 0; i < s->ndevs; i++) {
		json_t *d = jstr(s->devs[i].host);
		json_object_set_new(polled, json_string_value(d), json_true());
		json_decref(d);
	}
	for (size_t i = 0; i < s->nalerts; i++) {
		json_t *a = firing_alert(s, &s->alerts[i]);
		char *key = alert_key(json_object_get(a, "labels"));
		if (json_object_get(keys, key)) { /* the same labels twice: once is enough */
			free(key);
			json_decref(a);
			continue;
		}
		json_object_set_new(keys, key, json_true());
		const json_t *p = json_object_get(before, key);
		const char *began = p ? json_string_value(json_object_get(p, "startsAt")) : NULL;
		json_object_set_new(a, "startsAt", json_string(began ? began : now));
		json_array_append_new(keep, json_deep_copy(a)); /* kept without endsAt: each run sets its own */
		json_object_set_new(a, "endsAt", json_string(until));
		if (o->generator_url)
			json_object_set_new(a, "generatorURL", jstr(o->generator_url));
		json_array_append_new(out, a);
		free(key);
	}
	*nfiring = json_array_size(out);
	/* what fired last time and does not now: resolved at now */
	const json_t *alerts = prev ? json_object_get(prev, "alerts") : NULL;
	size_t i;
	const json_t *p;
	json_array_foreach(alerts, i, p) {
		const json_t *labels = json_object_get(p, "labels");
		char *key = json_is_object(labels) ? alert_key(labels) : NULL;
		const char *dev = json_string_value(json_object_get(labels, "device"));
		if (key && !json_object_get(keys, key) && (!dev || !json_object_get(polled, dev))) {
			json_object_set_new(keys, key, json_true()); /* kept once, as it was */
			json_array_append_new(keep, json_deep_copy(p));
		} else if (key && !json_object_get(keys, key)) {
			json_object_set_new(keys, key, json_false());
			json_t *a = json_object();
			json_object_set(a, "labels", (json_t *)labels);
			const json_t *ann = json_object_get(p, "annotations");
			json_object_set_new(a, "annotations", json_is_object(ann) ? json_deep_copy(ann) : json_object());
			const char *began = json_string_value(json_object_get(p, "startsAt"));
			json_object_set_new(a, "startsAt", json_string(began ? began : now));
			json_object_set_new(a, "endsAt", json_string(now));
			if (o->generator_url)
				json_object_set_new(a, "generatorURL", jstr(o->generator_url));
			json_array_append_new(out, a);
		}
		free(key);
	}
	json_decref(keys);
	json_decref(before);
	json_decref(polled);
	*state = json_pack("{s:i, s:o}", "version", 1, "alerts", keep);
	return out;
}

/* ---- state file ---- */

static json_t *state_load(const char *path, char **warning)
{
	json_error_t je;
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno != ENOENT)
			*warning = xasprintf("%s: %s (starting afresh: alerts sent before cannot be resolved)", path,
					     strerror(errno));
		return NULL;
	}
	json_t *j = json_loadf(f, 0, &je);
	fclose(f);
	if (!j || !json_is_object(j) || !json_is_array(json_object_get(j, "alerts"))) {
		*warning = xasprintf("%s: %s (starting afresh: alerts sent before cannot be resolved)", path,
				     j ? "not a fleetdeck alert state" : je.text);
		json_decref(j);
		return NULL;
	}
	return j;
}

static int state_save(const char *path, const json_t *state, char **err)
{
	char *text = json_dumps(state, JSON_INDENT(1) | JSON_SORT_KEYS);
	size_t len = strlen(text);
	text = xrealloc(text, len + 2);
	text[len++] = '\n';
	int rc = atomicfile_write(path, text, len, 0600, err); /* as private as the history */
	free(text);
	return rc;
}

/* ---- posting ---- */

struct body {
	char buf[512];
	size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct body *b = ctx;
	size_t len = size * n, room = sizeof b->buf - 1 - b->len;
	memcpy(b->buf + b->len, p, len < room ? len : room);
	b->len += len < room ? len : room;
	return len;
}

static int post(const alertmgr_opts *o, const char *json, char **err)
{
	size_t ulen = strlen(o->url);
	while (ulen && o->url[ulen - 1] == '/')
		ulen--;
	char *url = xasprintf("%.*s/api/v2/alerts", (int)ulen, o->url);
	CURL *c = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	struct body b = { .len = 0 };
	char ebuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	CURLcode cc = curl_easy_perform(c);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	int rc = 0;
	if (cc != CURLE_OK) {
		*err = xasprintf("%s: %s", url, *ebuf ? ebuf : curl_easy_strerror(cc));
		rc = -1;
	} else if (code < 200 || code > 299) {
		b.buf[b.len] = '\0';
		for (char *p = b.buf; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		*err = xasprintf("%s: HTTP %ld%s%s", url, code, b.len ? ": " : "", b.buf);
		rc = -1;
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	free(url);
	return rc;
}

int alertmgr_send(const fleet_snapshot *s, const alertmgr_opts *o, int64_t now_ms, alertmgr_result *r, char **err)
{
	memset(r, 0, sizeof *r);
	/* reports running at once (cron jobs with different --limits) take turns on the state:
	 * read, post, write under an exclusive lock on a file beside it */
	char *lock_path = xasprintf("%s.lock", o->state_path);
	int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lock_path);
	while (lock >= 0 && flock(lock, LOCK_EX) != 0 && errno == EINTR)
		;
	json_t *prev = state_load(o->state_path, &r->warning);
	json_t *state = NULL;
	size_t nfiring = 0;
	json_t *payload = alertmgr_payload(s, prev, o, now_ms, &state, &nfiring);
	r->firing = nfiring;
	r->resolved = json_array_size(payload) - nfiring;
	char *text = json_dumps(payload, JSON_COMPACT);
	int rc = post(o, text, err);
	free(text);
	if (rc) {
		/* not delivered: what was due to resolve stays, for the next run */
		json_t *keep = json_object_get(state, "alerts");
		for (size_t i = nfiring; i < json_array_size(payload); i++) {
			json_t *k = json_deep_copy(json_array_get(payload, i));
			json_object_del(k, "endsAt");
			json_object_del(k, "generatorURL");
			json_array_append_new(keep, k);
		}
	}
	char *serr = NULL;
	if (state_save(o->state_path, state, &serr)) {
		if (rc == 0) {
			*err = xasprintf("alert state: %s", serr);
			rc = -1;
		} else {
			char *both = xasprintf("%s; alert state: %s", *err, serr);
			free(*err);
			*err = both;
		}
		free(serr);
	}
	json_decref(state);
	json_decref(payload);
	json_decref(prev);
	if (lock >= 0)
		close(lock); /* releases the lock */
	return rc;
}

void alertmgr_result_clear(alertmgr_result *r)
{
	free(r->warning);
	r->warning = NULL;
}
