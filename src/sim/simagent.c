/* simagent: the device agent's endpoints and the exporter, per docs/device-contract.md. */
#include "sim/simagent.h"
#include "sim/simsrv.h"
#include "sim/simupd.h"
#include "util/xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_get(const simreq *rq)
{
	return !strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD");
}

/* Parses the body as a JSON object; on failure sets a 400 and returns NULL. */
static json_t *body_object(const simreq *rq, simreply *rp)
{
	json_error_t je;
	json_t *j = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		simhttp_error(rp, 400, "body is not JSON: %s", je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		simhttp_error(rp, 400, "body must be a JSON object");
		return NULL;
	}
	return j;
}

/* A required string field; sets a 400 naming it when absent or not a string. */
static const char *need_string(json_t *o, const char *key, simreply *rp)
{
	const char *s = json_string_value(json_object_get(o, key));
	if (!s)
		simhttp_error(rp, 400, "'%s' is required and must be a string", key);
	return s;
}

static void metrics(simsrv *s, simdev *d, simreply *rp)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m) {
		simhttp_error(rp, 500, "out of memory");
		return;
	}
	pthread_mutex_lock(&s->mu);
	simsrv_touch(s, d);
	simdev_metrics(d, m);
	pthread_mutex_unlock(&s->mu);
	fclose(m);
	rp->status = 200;
	rp->body = buf;
	rp->body_len = len;
	/* prometheus_client's CONTENT_TYPE_LATEST */
	rp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void drift(simsrv *s, simdev *d, const simreq *rq, simreply *rp)
{
	int window = s->o.drift_window;
	if (rq->q_window) {
		char *end;
		long w = strtol(rq->q_window, &end, 10);
		if (*rq->q_window == '\0' || *end || w < 1 || w > 100000) {
			simhttp_error(rp, 400, "window must be an integer from 1 to 100000");
			return;
		}
		window = (int)w;
	}
	pthread_mutex_lock(&s->mu);
	simsrv_touch(s, d);
	json_t *j = simdev_drift_json(d, s->fleet->seed, window);
	pthread_mutex_unlock(&s->mu);
	simhttp_json(rp, 200, j);
}

static void validate(simsrv *s, simdev *d, const simreq *rq, simreply *rp)
{
	json_t *b = body_object(rq, rp);
	if (!b)
		return;
	const char *cls = need_string(b, "expected_class", rp);
	json_t *mc = json_object_get(b, "min_confidence");
	if (!cls || !need_string(b, "test_image", rp)) {
		json_decref(b);
		return;
	}
	if (mc && (!json_is_number(mc) || json_number_value(mc) < 0 || json_number_value(mc) > 1)) {
		json_decref(b);
		simhttp_error(rp, 400, "'min_confidence' must be a number from 0 to 1");
		return;
	}
	double min_conf = mc ? json_number_value(mc) : 0.85; /* the seed's threshold */
	pthread_mutex_lock(&s->mu);
	simsrv_touch(s, d);
	json_t *ans = simdev_model_loaded(d) ? simdev_validate_json(d, cls, min_conf) : NULL;
	pthread_mutex_unlock(&s->mu);
	json_decref(b);
	if (!ans)
		simhttp_error(rp, 503, "model not loaded");
	else
		simhttp_json(rp, 200, ans);
}

static bool sha256_spec(const char *c, char hex[65])
{
	if (strncmp(c, "sha256:", 7) || strlen(c + 7) != 64)
		return false;
	for (int i = 0; i < 64; i++) {
		if (!isxdigit((unsigned char)c[7 + i]))
			return false;
		hex[i] = (char)tolower((unsigned char)c[7 + i]);
	}
	hex[64] = '\0';
	return true;
}

static void update(simsrv *s, simdev *d, const simreq *rq, simreply *rp)
{
	pthread_mutex_lock(&s->mu);
	d->update_requests++;
	pthread_mutex_unlock(&s->mu);
	json_t *b = body_object(rq, rp);
	if (!b)
		return;
	const char *v = need_string(b, "version", rp), *url = v ? need_string(b, "model_url", rp) : NULL,
		   *sum = url ? need_string(b, "checksum", rp) : NULL;
	char hex[65];
	if (!sum) {
		json_decref(b);
		return;
	}
	if (!simdev_version_valid(v)) {
		simhttp_error(rp, 400, "'version' must be 1-31 characters of letters, digits and ._+-");
	} else if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		simhttp_error(rp, 400, "'model_url' must be an http:// or https:// URL");
	} else if (!sha256_spec(sum, hex)) {
		simhttp_error(rp, 400, "'checksum' must be sha256:<64 hex digits>");
	} else if (!s->upd) {
		simhttp_error(rp, 503, "updates are not available");
	} else {
		pthread_mutex_lock(&s->mu);
		simsrv_touch(s, d);
		bool busy = d->upd != SIMUPD_IDLE;
		if (!busy) {
			d->updates_accepted++;
			/* the service stops for the update: model_loaded is false until the new
			 * model is in (or the old one is back after a failure) */
			d->upd = SIMUPD_DOWNLOADING;
			snprintf(d->upd_version, sizeof d->upd_version, "%s", v);
		}
		pthread_mutex_unlock(&s->mu);
		if (busy) {
			simhttp_error(rp, 409, "an update is already in progress");
		} else {
			simupd_submit(s->upd, d->index, v, url, hex);
			simhttp_json(rp, 202, json_pack("{s:s, s:s}", "status", "accepted", "version", v));
		}
	}
	json_decref(b);
}

static void rollback(simsrv *s, simdev *d, const simreq *rq, simreply *rp)
{
	pthread_mutex_lock(&s->mu);
	d->rollback_requests++;
	pthread_mutex_unlock(&s->mu);
	json_t *b = body_object(rq, rp);
	if (!b)
		return;
	const char *v = need_string(b, "version", rp);
	if (!v) {
		json_decref(b);
		return;
	}
	pthread_mutex_lock(&s->mu);
	simsrv_touch(s, d);
	if (d->upd != SIMUPD_IDLE) {
		pthread_mutex_unlock(&s->mu);
		simhttp_error(rp, 409, "an update is in progress");
	} else if (!simdev_has_version(d, v)) {
		char have[SIMDEV_MAXV * (SIMDEV_VLEN + 2)] = "";
		for (int i = 0; i < d->nversions; i++)
			snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", i ? ", " : "", d->versions[i]);
		pthread_mutex_unlock(&s->mu);
		simhttp_error(rp, 409, "version %s is not on this device (it has %s)", v, have);
	} else {
		d->upd = SIMUPD_LOADING;
		snprintf(d->upd_version, sizeof d->upd_version, "%s", v);
		d->upd_ready_at = simsrv_mono() + d->load_delay_ms / 1000.0;
		simdev_settle(d, simsrv_mono());
		pthread_mutex_unlock(&s->mu);
		simhttp_json(rp, 202, json_pack("{s:s, s:s}", "status", "rolling back", "version", v));
	}
	json_decref(b);
}

void simagent_handle(simsrv *s, simep *ep, const simreq *rq, simreply *rp)
{
	simdev *d = ep->dev;
	const char *p = rq->path;
	bool agent = ep->roles & SIMEP_AGENT;
	if ((ep->roles & SIMEP_METRICS) && (!agent || !strcmp(p, "/metrics"))) {
		/* like prometheus_client's exporter, any path is the metrics page */
		if (!is_get(rq))
			simhttp_method_not_allowed(rp, "GET, HEAD");
		else
			metrics(s, d, rp);
		return;
	}
	struct route {
		const char *path, *method;
	} routes[] = { { "/health", "GET" },	{ "/status", "GET" },	{ "/drift", "GET" },
		       { "/validate", "POST" }, { "/update", "POST" }, { "/rollback", "POST" } };
	size_t i;
	for (i = 0; i < sizeof routes / sizeof routes[0]; i++)
		if (!strcmp(p, routes[i].path))
			break;
	if (i == sizeof routes / sizeof routes[0]) {
		simhttp_error(rp, 404, "not found: %s", p);
		return;
	}
	bool want_get = !strcmp(routes[i].method, "GET");
	if (want_get ? !is_get(rq) : strcmp(rq->method, "POST")) {
		simhttp_method_not_allowed(rp, want_get ? "GET, HEAD" : "POST");
		return;
	}
	json_t *j;
	switch (i) {
	case 0:
	case 1:
		pthread_mutex_lock(&s->mu);
		simsrv_touch(s, d);
		j = i == 0 ? simdev_health_json(d) : simdev_status_json(d, simsrv_sim_now(s));
		pthread_mutex_unlock(&s->mu);
		simhttp_json(rp, 200, j);
		break;
	case 2: drift(s, d, rq, rp); break;
	case 3: validate(s, d, rq, rp); break;
	case 4: update(s, d, rq, rp); break;
	default: rollback(s, d, rq, rp); break;
	}
}

void simagent_update_done(void *srv, size_t dev, const char *version, const char *error)
{
	simsrv *s = srv;
	pthread_mutex_lock(&s->mu);
	simdev *d = &s->fleet->devs[dev];
	simsrv_touch(s, d);
	/* a control-API change may have moved the device on meanwhile: then this is stale */
	if (d->upd == SIMUPD_DOWNLOADING && !strcmp(d->upd_version, version)) {
		if (error) {
			d->upd = SIMUPD_IDLE;
			d->upd_version[0] = '\0';
			snprintf(d->last_error, sizeof d->last_error, "update to %s failed: %s", version, error);
		} else {
			d->last_error[0] = '\0';
			d->upd = SIMUPD_LOADING;
			d->upd_ready_at = simsrv_mono() + d->load_delay_ms / 1000.0;
			simdev_settle(d, simsrv_mono());
		}
	}
	pthread_mutex_unlock(&s->mu);
}
