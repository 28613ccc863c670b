/* simctl: the control API's routes; every change is applied to the sockets before the answer. */
#include "sim/simctl.h"
#include "sim/simsrv.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static json_t *body_object(const simreq *rq, simreply *rp)
{
	json_error_t je;
	json_t *j = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		simhttp_error(rp, 400, "body must be a JSON object%s%s", j ? "" : ": ", j ? "" : je.text);
		return NULL;
	}
	return j;
}

static json_t *describe(simsrv *s, simdev *d)
{
	simsrv_touch(s, d);
	return simdev_describe(d, s->fleet->factories[d->factory].name, simsrv_sim_now(s));
}

static void list_devices(simsrv *s, simreply *rp)
{
	json_t *a = json_array();
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->fleet->ndevs; i++)
		json_array_append_new(a, describe(s, &s->fleet->devs[i]));
	pthread_mutex_unlock(&s->mu);
	simhttp_json(rp, 200, json_pack("{s:I, s:o}", "count", (json_int_t)s->fleet->ndevs, "devices", a));
}

/* POST /devices/{host}/set; host "all" sets every device. */
static void set_devices(simsrv *s, const char *host, const simreq *rq, simreply *rp)
{
	json_t *b = body_object(rq, rp);
	if (!b)
		return;
	char *err = NULL;
	json_t *ans = NULL;
	pthread_mutex_lock(&s->mu);
	if (!strcmp(host, "all")) {
		/* settings do not depend on the device: if the first takes them, all do */
		for (size_t i = 0; i < s->fleet->ndevs && !err; i++) {
			simsrv_touch(s, &s->fleet->devs[i]);
			simdev_set(&s->fleet->devs[i], b, &err);
		}
		if (!err)
			ans = json_pack("{s:I}", "count", (json_int_t)s->fleet->ndevs);
	} else {
		simdev *d = simfleet_find(s->fleet, host);
		if (d) {
			simsrv_touch(s, d);
			if (!simdev_set(d, b, &err))
				ans = describe(s, d);
		}
	}
	pthread_mutex_unlock(&s->mu);
	json_decref(b);
	if (err) {
		simhttp_error(rp, 400, "%s", err);
		free(err);
		return;
	}
	if (!ans) {
		simhttp_error(rp, 404, "no such device: %s", host);
		return;
	}
	simsrv_sync(s);
	simhttp_json(rp, 200, ans);
}

static void faults(simsrv *s, const simreq *rq, simreply *rp)
{
	json_t *b = body_object(rq, rp);
	if (!b)
		return;
	const char *kind = json_string_value(json_object_get(b, "kind"));
	json_t *fr = json_object_get(b, "fraction"), *sd = json_object_get(b, "seed");
	int k = kind ? simfault_parse(kind) : -1;
	double fraction = fr ? json_number_value(fr) : 1.0;
	if (k < 0) {
		simhttp_error(rp, 400, "'kind' must be one of none, unreachable, refused, hang, slow, http500, "
				       "malformed, truncated, oversized, reset");
	} else if ((fr && !json_is_number(fr)) || !(fraction >= 0 && fraction <= 1)) {
		simhttp_error(rp, 400, "'fraction' must be a number from 0 to 1");
	} else if (sd && !json_is_integer(sd)) {
		simhttp_error(rp, 400, "'seed' must be an integer");
	} else {
		pthread_mutex_lock(&s->mu);
		uint64_t seed = sd ? (uint64_t)json_integer_value(sd) : s->fleet->seed;
		json_t *hosts = simfleet_inject(s->fleet, (simfault)k, fraction, seed);
		pthread_mutex_unlock(&s->mu);
		simsrv_sync(s);
		simhttp_json(rp, 200, json_pack("{s:s, s:I, s:o}", "kind", kind, "count",
						(json_int_t)json_array_size(hosts), "hosts", hosts));
	}
	json_decref(b);
}

static void clock_advance(simsrv *s, const simreq *rq, simreply *rp)
{
	json_t *b = body_object(rq, rp);
	if (!b)
		return;
	json_t *a = json_object_get(b, "advance_s");
	if (!json_is_number(a) || json_number_value(a) < 0 || json_number_value(a) > 1e7) {
		simhttp_error(rp, 400, "'advance_s' must be a number of seconds from 0 to 10000000");
	} else {
		pthread_mutex_lock(&s->mu);
		s->sim_offset += json_number_value(a);
		double now = simsrv_sim_now(s);
		pthread_mutex_unlock(&s->mu);
		simhttp_json(rp, 200, json_pack("{s:f, s:b}", "sim_seconds", now, "manual", s->o.manual_clock));
	}
	json_decref(b);
}

void simctl_handle(simsrv *s, const simreq *rq, simreply *rp)
{
	const char *p = rq->path;
	bool get = !strcmp(rq->method, "GET"), post = !strcmp(rq->method, "POST");
	if (!strcmp(p, "/health")) {
		if (!get)
			{ simhttp_method_not_allowed(rp, "GET"); return; }
		pthread_mutex_lock(&s->mu);
		double now = simsrv_sim_now(s);
		pthread_mutex_unlock(&s->mu);
		simhttp_json(rp, 200, json_pack("{s:b, s:I, s:f}", "ready", 1, "devices", (json_int_t)s->fleet->ndevs,
						"sim_seconds", now));
	} else if (!strcmp(p, "/devices")) {
		if (!get)
			{ simhttp_method_not_allowed(rp, "GET"); return; }
		list_devices(s, rp);
	} else if (!strncmp(p, "/devices/", 9)) {
		const char *host = p + 9;
		const char *slash = strchr(host, '/');
		if (!slash) {
			if (!get)
				{ simhttp_method_not_allowed(rp, "GET"); return; }
			pthread_mutex_lock(&s->mu);
			simdev *d = simfleet_find(s->fleet, host);
			json_t *j = d ? describe(s, d) : NULL;
			pthread_mutex_unlock(&s->mu);
			if (j)
				simhttp_json(rp, 200, j);
			else
				simhttp_error(rp, 404, "no such device: %s", host);
		} else if (!strcmp(slash, "/set")) {
			if (!post)
				{ simhttp_method_not_allowed(rp, "POST"); return; }
			char *h = xstrndup(host, (size_t)(slash - host));
			set_devices(s, h, rq, rp);
			free(h);
		} else {
			simhttp_error(rp, 404, "not found: %s", p);
		}
	} else if (!strcmp(p, "/faults")) {
		if (!post)
			{ simhttp_method_not_allowed(rp, "POST"); return; }
		faults(s, rq, rp);
	} else if (!strcmp(p, "/clock")) {
		if (!post)
			{ simhttp_method_not_allowed(rp, "POST"); return; }
		clock_advance(s, rq, rp);
	} else {
		simhttp_error(rp, 404, "not found: %s", p);
	}
}
