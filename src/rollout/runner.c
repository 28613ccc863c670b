/* runner: a rollout's work: lease, worker threads taking devices through their steps, the gate after each batch. */
#include "rollout/runner.h"
#include "rollout/canary.h"
#include "rollout/plan.h"
#include "rollout/rolldb.h"
#include "rollout/rollhttp.h"
#include "rollout/rollssh.h"
#include "rollout/rollstate.h"
#include "util/xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void runner_params_default(runner_params *p)
{
	*p = (runner_params){ .max_fail = 5,
			      .forks = 5,
			      .connect_ms = 3000,
			      .timeout_ms = 15000,
			      .wait_tries = 12,
			      .wait_delay_ms = 5000,
			      .lease_ms = 30000 };
}

json_t *runner_params_to_json(const runner_params *p)
{
	return json_pack("{s:f, s:i, s:I, s:I, s:i, s:I, s:I}", "max_fail", p->max_fail, "forks", p->forks,
			 "connect_ms", (json_int_t)p->connect_ms, "timeout_ms", (json_int_t)p->timeout_ms, "wait_tries",
			 p->wait_tries, "wait_delay_ms", (json_int_t)p->wait_delay_ms, "lease_ms",
			 (json_int_t)p->lease_ms);
}

static bool get_long(json_t *o, const char *key, long lo, long hi, long *out)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return false;
	*out = (long)json_integer_value(v);
	return true;
}

int runner_params_from_json(const char *text, runner_params *p, char **err)
{
	runner_params_default(p);
	json_t *o = json_loads(text ? text : "{}", 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		*err = xstrdup("the rollout's parameters are not a JSON object");
		return -1;
	}
	long forks = p->forks, tries = p->wait_tries;
	json_t *mf = json_object_get(o, "max_fail");
	if (json_is_number(mf))
		p->max_fail = json_number_value(mf);
	bool ok = get_long(o, "forks", 1, 1000, &forks) && get_long(o, "connect_ms", 1, 600000, &p->connect_ms) &&
		  get_long(o, "timeout_ms", 1, 3600000, &p->timeout_ms) && get_long(o, "wait_tries", 1, 100000, &tries) &&
		  get_long(o, "wait_delay_ms", 0, 3600000, &p->wait_delay_ms) &&
		  get_long(o, "lease_ms", 100, 3600000, &p->lease_ms);
	json_decref(o);
	if (!ok) {
		*err = xstrdup("the rollout's parameters are out of range");
		return -1;
	}
	p->forks = (int)forks;
	p->wait_tries = (int)tries;
	return 0;
}

/* ---- the runner's shared state ---- */

typedef enum { MODE_RUN, MODE_ABORT, MODE_REVERT } run_mode;

typedef struct runner {
	const char *db_path;
	int64_t id;
	const char *owner;
	runner_params p;
	char *model, *version, *model_url, *checksum;
	runner_note_fn note;
	void *note_ctx;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_mutex_t write_lock; /* the process's database writes, one at a time */
	bool lost;       /* the lease went to someone else: stop at once */
	bool stopping;   /* the lease thread should end */

	/* the devices of the current pass */
	run_mode mode;
	char **hosts;
	size_t nhosts, next;
	bool halt;       /* RUN: the rollout left 'running': start no new device */
	size_t last_todo; /* the last RUN pass: devices to do, batch, passes without progress */
	int last_batch, stuck;
} runner;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void note(runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(runner *r, const char *fmt, ...)
{
	if (!r->note)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&r->mu);
	r->note(r->note_ctx, m);
	pthread_mutex_unlock(&r->mu);
	free(m);
}

static bool lost(runner *r)
{
	pthread_mutex_lock(&r->mu);
	bool l = r->lost;
	pthread_mutex_unlock(&r->mu);
	return l;
}

static bool live(void *arg)
{
	return !lost(arg);
}

/* ---- the lease ---- */

static void *lease_thread(void *arg)
{
	runner *r = arg;
	char *err = NULL;
	rolldb *db = rolldb_open(r->db_path, 10000, &err);
	if (db)
		rolldb_share_lock(db, &r->write_lock);
	pthread_mutex_lock(&r->mu);
	while (!r->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		long step = r->p.lease_ms / 3;
		until.tv_sec += step / 1000;
		until.tv_nsec += (step % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&r->cv, &r->mu, &until);
		if (r->stopping)
			break;
		pthread_mutex_unlock(&r->mu);
		int rc = db ? rolldb_lease_renew(db, r->id, r->owner, now_ms(), r->p.lease_ms, &err) : -1;
		free(err);
		err = NULL;
		pthread_mutex_lock(&r->mu);
		if (rc == 0)
			r->lost = true; /* taken over: a renewal that merely failed is tried again */
	}
	pthread_mutex_unlock(&r->mu);
	rolldb_close(db);
	return NULL;
}

/* ---- talking to a device ---- */

typedef struct devctx {
	runner *r;
	rolldb *db;
	roll_dev d;
	char *err;
	rollssh_dev ssh;     /* ssh: the device's settings (from d.target) */
	rollssh_conn *conn;  /* ssh: the device's session, opened by the first command */
} devctx;

static int agent(devctx *c, const char *method, const char *path, json_t *body, long *code, json_t **ans,
		 char **err)
{
	char *url = rollhttp_url(c->d.address, c->d.port, path);
	rollhttp_opts o = { .connect_ms = c->r->p.connect_ms, .timeout_ms = c->r->p.timeout_ms };
	int rc = rollhttp_json(url, method, body, &o, code, ans, err);
	free(url);
	return rc;
}

/* GET /status's model_version into *version (caller frees): 0, or -1 with *why. */
static int running_version(devctx *c, char **version, bool *loaded, char **why)
{
	long code;
	json_t *a = NULL;
	*version = NULL;
	if (agent(c, "GET", "/status", NULL, &code, &a, why))
		return -1;
	const char *v = json_string_value(json_object_get(a, "model_version"));
	if (code != 200 || !v || !rollout_name_ok(v)) {
		*why = xasprintf("/status: HTTP %ld%s", code,
				 !v ? ", no model_version" : code == 200 ? ", a model_version unfit for a URL" : "");
		json_decref(a);
		return -1;
	}
	*version = xstrdup(v);
	if (loaded) {
		json_t *ml = json_object_get(a, "model_loaded");
		*loaded = !ml || json_is_true(ml);
	}
	json_decref(a);
	return 0;
}

/* Waits until /health says model_loaded and /status runs `want`: 0, or -1
 * with *why after the tries. */
static int wait_loaded(devctx *c, const char *want, char **why)
{
	char *last = NULL;
	for (int t = 0; t < c->r->p.wait_tries && !lost(c->r); t++) {
		if (t)
			sleep_ms(c->r->p.wait_delay_ms);
		long code;
		json_t *a = NULL;
		char *e = NULL;
		if (agent(c, "GET", "/health", NULL, &code, &a, &e) == 0) {
			bool loaded = code == 200 && json_is_true(json_object_get(a, "model_loaded"));
			json_decref(a);
			if (loaded) {
				char *v = NULL;
				if (running_version(c, &v, NULL, &e) == 0) {
					bool ok = !strcmp(v, want);
					if (!ok) {
						free(e);
						e = xasprintf("model loaded, but running %s", v);
					}
					free(v);
					if (ok) {
						free(last);
						return 0;
					}
				}
			} else if (!e) {
				e = xasprintf("model not loaded (HTTP %ld)", code);
			}
		}
		free(last);
		last = e;
	}
	*why = xasprintf("%s not loaded after %d tries %ld ms apart: %s", want, c->r->p.wait_tries,
			 c->r->p.wait_delay_ms, last ? last : "stopped");
	free(last);
	return -1;
}

static int step_start(devctx *c, const char *step)
{
	char *err = NULL;
	if (rolldb_step_start(c->db, c->r->id, c->d.host, step, false, now_ms(), &err)) {
		note(c->r, "%s: %s", c->d.host, err);
		free(err);
		return -1;
	}
	return 0;
}

static int step_end(devctx *c, const char *step, bool ok, const char *detail, const char *next)
{
	char *err = NULL;
	if (rolldb_step_end(c->db, c->r->id, c->d.host, step, ok, detail, next, now_ms(), &err)) {
		note(c->r, "%s: %s", c->d.host, err);
		free(err);
		return -1;
	}
	note(c->r, "%s: %s %s%s%s", c->d.host, step, ok ? "ok" : "failed", detail ? ": " : "", detail ? detail : "");
	return 0;
}

/* Each step: does it, records its end, and says where the device goes next
 * (NULL: stop working on it, a database error was noted). */
static const char *do_health(devctx *c)
{
	if (step_start(c, DS_HEALTH))
		return NULL;
	long code;
	json_t *a = NULL;
	char *why = NULL;
	if (agent(c, "GET", "/health", NULL, &code, &a, &why)) {
		char *d = xasprintf("unreachable: %s", why);
		int rc = step_end(c, DS_HEALTH, false, d, DS_UNREACHABLE);
		free(d);
		free(why);
		return rc ? NULL : DS_UNREACHABLE;
	}
	const char *st = json_string_value(json_object_get(a, "status"));
	bool healthy = code == 200 && st && !strcmp(st, "healthy");
	char *d = healthy ? NULL : xasprintf("not healthy before the update: HTTP %ld, status %.32s", code, st ? st : "?");
	json_decref(a);
	int rc = step_end(c, DS_HEALTH, healthy, d, healthy ? NULL : DS_FAILED);
	free(d);
	return rc ? NULL : healthy ? DS_RECORD : DS_FAILED;
}

static const char *do_record(devctx *c)
{
	if (step_start(c, DS_RECORD))
		return NULL;
	char *v = NULL, *why = NULL, *err = NULL;
	if (running_version(c, &v, NULL, &why)) {
		char *d = xasprintf("unreachable: %s", why);
		int rc = step_end(c, DS_RECORD, false, d, DS_UNREACHABLE);
		free(d);
		free(why);
		return rc ? NULL : DS_UNREACHABLE;
	}
	if (!strcmp(v, c->r->version)) {
		free(v);
		return step_end(c, DS_RECORD, true, "already on the target version", DS_CURRENT) ? NULL : DS_CURRENT;
	}
	if (rolldb_set_prev(c->db, c->r->id, c->d.host, v, &err)) {
		note(c->r, "%s: %s", c->d.host, err);
		free(err);
		free(v);
		return NULL;
	}
	free(c->d.prev_version);
	c->d.prev_version = v;
	char *d = xasprintf("running %s", v);
	int rc = step_end(c, DS_RECORD, true, d, NULL);
	free(d);
	return rc ? NULL : DS_UPDATE;
}

/* The update: first the device's version (a runner that died after sending it
 * finds the device on the new version, or busy with it), then POST /update. */
static const char *do_update(devctx *c)
{
	if (step_start(c, DS_UPDATE))
		return NULL;
	char *v = NULL, *why = NULL, *err = NULL;
	if (running_version(c, &v, NULL, &why) == 0 && !strcmp(v, c->r->version)) {
		free(v);
		return step_end(c, DS_UPDATE, true, "already on the new version", NULL) ? NULL : DS_WAIT;
	}
	free(v);
	free(why);
	why = NULL;
	if (rolldb_attempt(c->db, c->r->id, c->d.host, &err)) {
		note(c->r, "%s: %s", c->d.host, err);
		free(err);
		return NULL;
	}
	json_t *body = json_pack("{s:s, s:s, s:s+}", "version", c->r->version, "model_url", c->r->model_url,
				 "checksum", "sha256:", c->r->checksum);
	long code;
	json_t *a = NULL;
	int rc = agent(c, "POST", "/update", body, &code, &a, &why);
	json_decref(body);
	json_decref(a);
	char *d;
	bool ok = false;
	if (rc)
		d = xasprintf("POST /update: %s", why);
	else if (code == 202 || code == 200)
		ok = true, d = NULL;
	else if (code == 409)
		ok = true, d = xstrdup("an update is already in progress");
	else
		d = xasprintf("POST /update: HTTP %ld", code);
	free(why);
	int e = step_end(c, DS_UPDATE, ok, d, ok ? NULL : DS_ROLLBACK);
	free(d);
	return e ? NULL : ok ? DS_WAIT : DS_ROLLBACK;
}

static const char *do_wait(devctx *c)
{
	if (step_start(c, DS_WAIT))
		return NULL;
	char *why = NULL;
	if (wait_loaded(c, c->r->version, &why)) {
		int rc = step_end(c, DS_WAIT, false, why, DS_ROLLBACK);
		free(why);
		return rc ? NULL : DS_ROLLBACK;
	}
	return step_end(c, DS_WAIT, true, NULL, NULL) ? NULL : DS_VALIDATE;
}

/* The answer to POST /validate as the seed judges it: passed, and confident
 * enough. Else false with *d saying why (caller frees). */
static bool validation_passed(long code, json_t *a, char **d)
{
	json_t *conf = json_object_get(a, "confidence");
	const char *cls = json_string_value(json_object_get(a, "class"));
	double cv = json_is_number(conf) ? json_number_value(conf) : -1;
	bool ok = code == 200 && json_is_true(json_object_get(a, "passed")) && cv >= RUNNER_MIN_CONFIDENCE;
	if (!ok)
		*d = xasprintf("validation failed: HTTP %ld, passed %s, class %.40s, confidence %.3f", code,
			       json_is_true(json_object_get(a, "passed")) ? "true" : "false", cls ? cls : "?", cv);
	return ok;
}

static const char *do_validate(devctx *c)
{
	if (step_start(c, DS_VALIDATE))
		return NULL;
	json_t *body = json_pack("{s:s, s:s, s:f}", "test_image", RUNNER_TEST_IMAGE, "expected_class",
				 RUNNER_EXPECTED_CLASS, "min_confidence", RUNNER_MIN_CONFIDENCE);
	long code;
	json_t *a = NULL;
	char *why = NULL, *d = NULL;
	int rc = agent(c, "POST", "/validate", body, &code, &a, &why);
	json_decref(body);
	bool ok = false;
	if (rc) {
		d = xasprintf("POST /validate: %s", why);
	} else {
		ok = validation_passed(code, a, &d);
	}
	json_decref(a);
	free(why);
	int e = step_end(c, DS_VALIDATE, ok, d, ok ? DS_UPDATED : DS_ROLLBACK);
	free(d);
	return e ? NULL : ok ? DS_UPDATED : DS_ROLLBACK;
}

/* Back to the recorded version: POST /rollback (retried while the device is
 * busy with an update), then wait until it is loaded. */
static const char *back(devctx *c, const char *step, const char *final)
{
	if (step_start(c, step))
		return NULL;
	const char *prev = c->d.prev_version;
	char *d = NULL;
	bool ok = false;
	if (!prev) {
		d = xstrdup("no recorded version to go back to");
	} else {
		json_t *body = json_pack("{s:s}", "version", prev);
		for (int t = 0; t < c->r->p.wait_tries && !lost(c->r); t++) {
			if (t)
				sleep_ms(c->r->p.wait_delay_ms);
			long code;
			json_t *a = NULL;
			char *why = NULL;
			int rc = agent(c, "POST", "/rollback", body, &code, &a, &why);
			json_decref(a);
			free(d);
			d = rc ? xasprintf("POST /rollback: %s", why) : xasprintf("POST /rollback: HTTP %ld", code);
			free(why);
			if (rc == 0 && (code == 202 || code == 200)) {
				ok = true;
				break;
			}
			if (rc == 0 && code != 409)
				break;
		}
		json_decref(body);
		if (ok) {
			free(d);
			d = NULL;
			if (wait_loaded(c, prev, &d) == 0)
				d = xasprintf("back on %s", prev);
			else
				ok = false;
		}
	}
	/* a failed rollback leaves the device failed, whatever it was doing */
	const char *next = ok ? final : DS_FAILED;
	int e = step_end(c, step, ok, d, next);
	free(d);
	return e ? NULL : next;
}

static const char *agent_rollback(devctx *c)
{
	return back(c, DS_ROLLBACK, DS_FAILED);
}

static const char *agent_revert(devctx *c)
{
	return back(c, DS_REVERT, DS_REVERTED);
}

/* ---- agentless devices: the seed playbook's steps as commands over SSH (rollout/rollssh.h) ---- */

static int ssh_open(devctx *c, char **err)
{
	return rollssh_dev_from_json(c->d.host, c->d.address, c->d.target, &c->ssh, err);
}

static void ssh_close(devctx *c)
{
	rollssh_conn_free(c->conn);
	c->conn = NULL;
	rollssh_dev_clear(&c->ssh);
}

/* curl's -m on the device: inside the SSH command's own timeout */
static int ssh_curl_s(const devctx *c)
{
	long s = (c->r->p.timeout_ms - 1000) / 1000;
	return s < 1 ? 1 : s > 86400 ? 86400 : (int)s;
}

/* Runs cmd on the device, its exact text logged first (the rollout's log is the
 * console's command log): 0 it ran (r->exit_code, r->out), -1 not (r->error). */
static int ssh_cmd(devctx *c, const char *step, const char *cmd, rollssh_res *r)
{
	char *err = NULL;
	char *line = xasprintf("ssh: %s", cmd);
	if (rolldb_log(c->db, c->r->id, c->d.host, step, line, now_ms(), &err)) {
		note(c->r, "%s: %s", c->d.host, err);
		free(err);
		err = NULL;
	}
	free(line);
	if (!c->conn)
		c->conn = rollssh_conn_new(&c->ssh, c->r->p.connect_ms, c->r->p.timeout_ms, &err);
	if (!c->conn) {
		memset(r, 0, sizeof *r);
		r->error = err;
		return -1;
	}
	return rollssh_run(c->conn, cmd, r);
}

/* An HTTP request to the device's own service, made on the device: 0 with
 * *code and *ans (the JSON answer, or NULL), -1 the service did not answer or
 * the answer is not curl's (*why), -2 the device could not be reached (*why). */
static int ssh_local_http(devctx *c, const char *step, const char *url, const char *body, long *code, json_t **ans,
			  char **why)
{
	*ans = NULL;
	*code = 0;
	char *err = NULL;
	char *cmd = rollssh_cmd_http(&c->ssh, url, body, ssh_curl_s(c), &err);
	if (!cmd) {
		*why = err;
		return -1;
	}
	rollssh_res r;
	int rc = ssh_cmd(c, step, cmd, &r);
	free(cmd);
	if (rc) {
		*why = xasprintf("ssh: %s", r.error);
		rollssh_res_clear(&r);
		return -2;
	}
	int cx;
	char *b = NULL;
	if (rollssh_parse_http(r.out, r.len, code, &cx, &b, &err)) {
		*why = err;
		rc = -1;
	} else if (cx != 0 || *code == 0) {
		*why = xasprintf("%s did not answer on the device (curl exit %d)", url, cx);
		rc = -1;
	} else {
		*ans = json_loads(b, 0, NULL);
	}
	free(b);
	rollssh_res_clear(&r);
	return rc;
}

static const char *ssh_health(devctx *c)
{
	if (step_start(c, DS_HEALTH))
		return NULL;
	long code;
	json_t *a = NULL;
	char *why = NULL, *d = NULL;
	int rc = ssh_local_http(c, DS_HEALTH, c->ssh.health_url, NULL, &code, &a, &why);
	bool healthy = false;
	const char *next = DS_FAILED;
	if (rc == -2) {
		d = xasprintf("unreachable: %s", why);
		next = DS_UNREACHABLE;
	} else if (rc == -1) {
		d = xasprintf("not healthy before the update: %s", why);
	} else {
		const char *st = json_string_value(json_object_get(a, "status"));
		healthy = code == 200 && st && !strcmp(st, "healthy");
		if (healthy)
			next = DS_RECORD;
		else
			d = xasprintf("not healthy before the update: HTTP %ld, status %.32s", code, st ? st : "?");
	}
	json_decref(a);
	free(why);
	int e = step_end(c, DS_HEALTH, healthy, d, healthy ? NULL : next);
	free(d);
	return e ? NULL : next;
}

/* Ends step as failed, moving the device to next; returns next (NULL: a database error). */
static const char *fail_to(devctx *c, const char *step, const char *next, char *detail_owned)
{
	int e = step_end(c, step, false, detail_owned, next);
	free(detail_owned);
	return e ? NULL : next;
}

/* The device's current_version (and the link), before anything changes. */
static const char *ssh_record(devctx *c)
{
	if (step_start(c, DS_RECORD))
		return NULL;
	char *err = NULL;
	char *cmd = rollssh_cmd_record(&c->ssh, &err);
	if (!cmd)
		return fail_to(c, DS_RECORD, DS_FAILED, err);
	rollssh_res r;
	int rc = ssh_cmd(c, DS_RECORD, cmd, &r);
	free(cmd);
	if (rc) {
		char *d = xasprintf("unreachable: ssh: %s", r.error);
		rollssh_res_clear(&r);
		return fail_to(c, DS_RECORD, DS_UNREACHABLE, d);
	}
	static const char *const keys[] = { "link", "version", NULL };
	char *v[2];
	if (r.exit_code != 0 || rollssh_parse_kv(r.out, r.len, keys, v, &err)) {
		char *d = err ? xasprintf("reading %s: %s", c->ssh.model_dir, err)
			      : xasprintf("reading %s: exit status %d", c->ssh.model_dir, r.exit_code);
		free(err);
		rollssh_res_clear(&r);
		return fail_to(c, DS_RECORD, DS_FAILED, d);
	}
	rollssh_res_clear(&r);
	char *link = v[0], *ver = v[1];
	char *file = rollssh_model_file(c->r->model, c->r->version);
	char *target = xasprintf("%s/%s", c->ssh.model_dir, file);
	free(file);
	const char *out = NULL;
	if (!ver) {
		out = fail_to(c, DS_RECORD, DS_FAILED,
			      xasprintf("no %s/current_version: nothing to go back to", c->ssh.model_dir));
	} else if (!rollout_name_ok(ver)) {
		out = fail_to(c, DS_RECORD, DS_FAILED,
			      xasprintf("%s/current_version holds '%.64s', not a version", c->ssh.model_dir, ver));
	} else if (!strcmp(ver, c->r->version)) {
		if (link && !strcmp(link, target))
			out = step_end(c, DS_RECORD, true, "already on the target version", DS_CURRENT) ? NULL : DS_CURRENT;
		else
			out = fail_to(c, DS_RECORD, DS_FAILED,
				      xasprintf("current_version says %s but active_model.onnx points at '%.200s': "
						"fix the device by hand", ver, link ? link : ""));
	} else {
		/* the way back must exist before anything changes */
		cmd = rollssh_cmd_have(&c->ssh, c->r->model, ver, &err);
		if (!cmd) {
			out = fail_to(c, DS_RECORD, DS_FAILED, err);
		} else {
			rc = ssh_cmd(c, DS_RECORD, cmd, &r);
			free(cmd);
			if (rc) {
				out = fail_to(c, DS_RECORD, DS_UNREACHABLE, xasprintf("unreachable: ssh: %s", r.error));
			} else if (r.exit_code != 0) {
				char *f = rollssh_model_file(c->r->model, ver);
				out = fail_to(c, DS_RECORD, DS_FAILED,
					      xasprintf("running %s, but %s/%s is not there: no way back", ver,
							c->ssh.model_dir, f));
				free(f);
			} else if (rolldb_set_prev(c->db, c->r->id, c->d.host, ver, &err)) {
				note(c->r, "%s: %s", c->d.host, err);
				free(err);
			} else {
				free(c->d.prev_version);
				c->d.prev_version = xstrdup(ver);
				char *d = xasprintf("running %s", ver);
				out = step_end(c, DS_RECORD, true, d, NULL) ? NULL : DS_UPDATE;
				free(d);
			}
			rollssh_res_clear(&r);
		}
	}
	free(target);
	free(link);
	free(ver);
	return out;
}

/* The update: the model file (fetched unless it is there with the right
 * SHA-256), then the switch (stop, link, current_version, start), which a
 * device already switched gets as a start alone, not counted as an update. */
static const char *ssh_update(devctx *c)
{
	if (step_start(c, DS_UPDATE))
		return NULL;
	rollssh_model m = { c->r->model, c->r->version, c->r->model_url, c->r->checksum };
	char *err = NULL;
	char *cmd = rollssh_cmd_fetch(&c->ssh, &m, ssh_curl_s(c), &err);
	if (!cmd)
		return fail_to(c, DS_UPDATE, DS_FAILED, err);
	rollssh_res r;
	int rc = ssh_cmd(c, DS_UPDATE, cmd, &r);
	free(cmd);
	if (rc) { /* an earlier runner may have switched it: go back to be sure */
		char *d = xasprintf("fetch: ssh: %s", r.error);
		rollssh_res_clear(&r);
		return fail_to(c, DS_UPDATE, DS_ROLLBACK, d);
	}
	static const char *const fkeys[] = { "switched", "fetch", "curl", "sha256", NULL };
	char *fv[4];
	if (rollssh_parse_kv(r.out, r.len, fkeys, fv, &err) || !fv[0] || !fv[1]) {
		char *d = xasprintf("fetch: %s", err ? err : "the device's answer lacks switched= or fetch=");
		free(err);
		for (int i = 0; i < 4; i++)
			free(fv[i]);
		rollssh_res_clear(&r);
		return fail_to(c, DS_UPDATE, DS_ROLLBACK, d);
	}
	int fexit = r.exit_code;
	rollssh_res_clear(&r);
	bool switched = !strcmp(fv[0], "yes");
	bool have = fexit == 0 && (!strcmp(fv[1], "present") || !strcmp(fv[1], "downloaded"));
	char *fdetail = !strcmp(fv[1], "mismatch")
				? xasprintf("the downloaded file's SHA-256 is %.64s, the registry's %s", fv[3] ? fv[3] : "?",
					    c->r->checksum)
			: !strcmp(fv[1], "failed") ? xasprintf("download of %s failed (curl exit %.8s)", c->r->model_url,
							       fv[2] ? fv[2] : "?")
			: have ? xasprintf("model file %s", fv[1])
			       : xasprintf("fetch: %s, exit status %d", fv[1], fexit);
	for (int i = 0; i < 4; i++)
		free(fv[i]);
	if (!have) /* nothing was switched: the device is as it was */
		return fail_to(c, DS_UPDATE, switched ? DS_ROLLBACK : DS_FAILED, fdetail);
	if (!switched && rolldb_attempt(c->db, c->r->id, c->d.host, &err)) {
		note(c->r, "%s: %s", c->d.host, err);
		free(err);
		free(fdetail);
		return NULL;
	}
	cmd = rollssh_cmd_switch(&c->ssh, c->r->model, c->r->version, &err);
	if (!cmd) {
		free(fdetail);
		return fail_to(c, DS_UPDATE, DS_ROLLBACK, err);
	}
	rc = ssh_cmd(c, DS_UPDATE, cmd, &r);
	free(cmd);
	if (rc) {
		char *d = xasprintf("%s; switch: ssh: %s", fdetail, r.error);
		free(fdetail);
		rollssh_res_clear(&r);
		return fail_to(c, DS_UPDATE, DS_ROLLBACK, d);
	}
	static const char *const skeys[] = { "switch", "start", "ctl_error", NULL };
	char *sv[3];
	bool parsed = rollssh_parse_kv(r.out, r.len, skeys, sv, &err) == 0;
	bool ok = parsed && r.exit_code == 0 && sv[0] && sv[1] && !strcmp(sv[1], "ok");
	char *d = parsed ? xasprintf("%s, switch %s, start %s%s%.200s", fdetail, sv[0] ? sv[0] : "?",
				     sv[1] ? sv[1] : "?", sv[2] ? ": " : "", sv[2] ? sv[2] : "")
			 : xasprintf("%s; switch: %s", fdetail, err);
	for (int i = 0; parsed && i < 3; i++)
		free(sv[i]);
	free(err);
	free(fdetail);
	rollssh_res_clear(&r);
	int e = step_end(c, DS_UPDATE, ok, d, ok ? NULL : DS_ROLLBACK);
	free(d);
	return e ? NULL : ok ? DS_WAIT : DS_ROLLBACK;
}

/* Until the service's /health says model_loaded (the tries and delay of the
 * rollout): 0, or -1 with *why. */
static int ssh_wait_loaded(devctx *c, const char *step, const char *want, char **why)
{
	char *last = NULL;
	for (int t = 0; t < c->r->p.wait_tries && !lost(c->r); t++) {
		if (t)
			sleep_ms(c->r->p.wait_delay_ms);
		long code;
		json_t *a = NULL;
		char *e = NULL;
		int rc = ssh_local_http(c, step, c->ssh.health_url, NULL, &code, &a, &e);
		bool loaded = rc == 0 && code == 200 && json_is_true(json_object_get(a, "model_loaded"));
		json_decref(a);
		if (loaded) {
			free(e);
			free(last);
			return 0;
		}
		if (!e)
			e = xasprintf("model not loaded (HTTP %ld)", code);
		free(last);
		last = e;
	}
	*why = xasprintf("%s not loaded after %d tries %ld ms apart: %s", want, c->r->p.wait_tries,
			 c->r->p.wait_delay_ms, last ? last : "stopped");
	free(last);
	return -1;
}

static const char *ssh_wait(devctx *c)
{
	if (step_start(c, DS_WAIT))
		return NULL;
	char *why = NULL;
	if (ssh_wait_loaded(c, DS_WAIT, c->r->version, &why))
		return fail_to(c, DS_WAIT, DS_ROLLBACK, why);
	return step_end(c, DS_WAIT, true, NULL, NULL) ? NULL : DS_VALIDATE;
}

static const char *ssh_validate(devctx *c)
{
	if (step_start(c, DS_VALIDATE))
		return NULL;
	json_t *body = json_pack("{s:s, s:s, s:f}", "test_image", RUNNER_TEST_IMAGE, "expected_class",
				 RUNNER_EXPECTED_CLASS, "min_confidence", RUNNER_MIN_CONFIDENCE);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	long code;
	json_t *a = NULL;
	char *why = NULL, *d = NULL;
	int rc = ssh_local_http(c, DS_VALIDATE, c->ssh.validate_url, text, &code, &a, &why);
	free(text);
	bool ok = false;
	if (rc)
		d = xasprintf("POST %s: %s", c->ssh.validate_url, why);
	else
		ok = validation_passed(code, a, &d);
	json_decref(a);
	free(why);
	int e = step_end(c, DS_VALIDATE, ok, d, ok ? DS_UPDATED : DS_ROLLBACK);
	free(d);
	return e ? NULL : ok ? DS_UPDATED : DS_ROLLBACK;
}

/* Back to the recorded version: link and current_version, restart, wait until loaded. */
static const char *ssh_back(devctx *c, const char *step, const char *final)
{
	if (step_start(c, step))
		return NULL;
	const char *prev = c->d.prev_version;
	if (!prev)
		return fail_to(c, step, DS_FAILED, xstrdup("no recorded version to go back to"));
	char *err = NULL;
	char *cmd = rollssh_cmd_back(&c->ssh, c->r->model, prev, &err);
	if (!cmd)
		return fail_to(c, step, DS_FAILED, err);
	rollssh_res r;
	int rc = ssh_cmd(c, step, cmd, &r);
	free(cmd);
	if (rc) {
		char *d = xasprintf("ssh: %s", r.error);
		rollssh_res_clear(&r);
		return fail_to(c, step, DS_FAILED, d);
	}
	static const char *const keys[] = { "back", "restart", "ctl_error", NULL };
	char *v[3];
	bool parsed = rollssh_parse_kv(r.out, r.len, keys, v, &err) == 0;
	bool ok = parsed && r.exit_code == 0 && v[1] && !strcmp(v[1], "ok");
	char *d = parsed ? xasprintf("back %s, restart %s%s%.200s", v[0] ? v[0] : "?", v[1] ? v[1] : "?",
				     v[2] ? ": " : "", v[2] ? v[2] : "")
			 : err;
	for (int i = 0; parsed && i < 3; i++)
		free(v[i]);
	rollssh_res_clear(&r);
	if (!ok)
		return fail_to(c, step, DS_FAILED, d);
	char *why = NULL;
	if (ssh_wait_loaded(c, step, prev, &why)) {
		free(d);
		return fail_to(c, step, DS_FAILED, why);
	}
	char *dd = xasprintf("back on %s (%s)", prev, d);
	free(d);
	int e = step_end(c, step, true, dd, final);
	free(dd);
	return e ? NULL : final;
}

static const char *ssh_rollback(devctx *c)
{
	return ssh_back(c, DS_ROLLBACK, DS_FAILED);
}

static const char *ssh_revert(devctx *c)
{
	return ssh_back(c, DS_REVERT, DS_REVERTED);
}

/* ---- the transports: a device's steps by fleetdeck_transport ---- */

typedef struct step_fn {
	const char *step;
	const char *(*run)(devctx *c); /* does the step; where the device goes next */
} step_fn;

typedef struct transport_steps {
	const char *name;                        /* fleetdeck_transport */
	int (*open)(devctx *c, char **err);      /* NULL: nothing to set up */
	void (*close)(devctx *c);
	step_fn steps[8];                        /* ends with { NULL } */
} transport_steps;

static const transport_steps agent_steps = {
	"http", NULL, NULL,
	{ { DS_HEALTH, do_health },
	  { DS_RECORD, do_record },
	  { DS_UPDATE, do_update },
	  { DS_WAIT, do_wait },
	  { DS_VALIDATE, do_validate },
	  { DS_ROLLBACK, agent_rollback },
	  { DS_REVERT, agent_revert },
	  { NULL, NULL } },
};

static const transport_steps ssh_steps = {
	"ssh", ssh_open, ssh_close,
	{ { DS_HEALTH, ssh_health },
	  { DS_RECORD, ssh_record },
	  { DS_UPDATE, ssh_update },
	  { DS_WAIT, ssh_wait },
	  { DS_VALIDATE, ssh_validate },
	  { DS_ROLLBACK, ssh_rollback },
	  { DS_REVERT, ssh_revert },
	  { NULL, NULL } },
};

static const transport_steps *const transports[] = { &agent_steps, &ssh_steps, NULL };

static const transport_steps *transport_for(const char *name)
{
	for (const transport_steps *const *t = transports; *t; t++)
		if (!strcmp((*t)->name, name ? name : "http"))
			return *t;
	return NULL;
}

static const char *(*step_of(const transport_steps *t, const char *step))(devctx *)
{
	for (const step_fn *s = t->steps; s->step; s++)
		if (!strcmp(s->step, step))
			return s->run;
	return NULL;
}

/* The rollout's state now, as one of the constant names ("" if unreadable). */
static const char *rollout_state(devctx *c)
{
	static const char *const known[] = { RS_RUNNING,   RS_PAUSED, RS_AWAITING, RS_ABORTING, RS_ROLLING_BACK,
					     RS_COMPLETED, RS_FAILED, RS_ABORTED,  RS_ROLLED_BACK, NULL };
	char state[64];
	char *err = NULL;
	const char *out = "";
	if (rolldb_state(c->db, c->r->id, state, sizeof state, &err)) {
		free(err);
		return out;
	}
	for (const char *const *k = known; *k; k++)
		if (!strcmp(*k, state))
			out = *k;
	return out;
}

/* Takes one device as far as the mode asks. */
static void work_device(runner *r, rolldb *db, const char *host, run_mode mode)
{
	devctx c = { .r = r, .db = db };
	char *err = NULL;
	if (rolldb_device(db, r->id, host, &c.d, &err)) {
		note(r, "%s: %s", host, err);
		free(err);
		return;
	}
	const transport_steps *ops = transport_for(c.d.transport);
	if (!ops || (ops->open && ops->open(&c, &err))) {
		/* (cannot happen for what `rollout start` recorded) */
		char *d = ops ? err : xasprintf("unknown transport '%.32s'", c.d.transport);
		const char *at = roll_step_final(c.d.step) || !strcmp(c.d.step, DS_PENDING) ? DS_HEALTH : c.d.step;
		if (!roll_step_final(c.d.step) && step_start(&c, at) == 0)
			step_end(&c, at, false, d, DS_FAILED);
		else
			note(r, "%s: %s", host, d);
		free(d);
		roll_dev_clear(&c.d);
		return;
	}
	const char *next;
	if (mode == MODE_REVERT) {
		next = !strcmp(c.d.step, DS_UPDATED) || !strcmp(c.d.step, DS_REVERT) ? DS_REVERT : NULL;
	} else {
		next = roll_step_next(c.d.step, c.d.step_ended != 0);
	}
	while (next && !roll_step_final(next) && !lost(r)) {
		/* an abort: what has not changed the device goes back to pending; what
		 * has (or may have) is taken back once its update is through */
		if (mode == MODE_ABORT || (mode == MODE_RUN && !strcmp(rollout_state(&c), RS_ABORTING))) {
			mode = MODE_ABORT;
			bool unsent = !strcmp(next, DS_HEALTH) || !strcmp(next, DS_RECORD) ||
				      (!strcmp(next, DS_UPDATE) && strcmp(c.d.step, DS_UPDATE));
			if (unsent) {
				step_end(&c, c.d.step, true, "aborted before the update", DS_PENDING);
				break;
			}
			if (strcmp(next, DS_ROLLBACK) && strcmp(next, DS_REVERT))
				next = DS_REVERT;
		}
		const char *cur = next;
		const char *(*run)(devctx *) = step_of(ops, cur);
		next = run ? run(&c) : NULL;
		free(c.d.step);
		c.d.step = xstrdup(cur);
	}
	if (ops->close)
		ops->close(&c);
	roll_dev_clear(&c.d);
}

static void *worker(void *arg)
{
	runner *r = arg;
	char *err = NULL;
	rolldb *db = rolldb_open(r->db_path, 10000, &err);
	if (!db) {
		note(r, "%s", err);
		free(err);
		return NULL;
	}
	rolldb_share_lock(db, &r->write_lock);
	for (;;) {
		pthread_mutex_lock(&r->mu);
		bool stop = r->halt || r->lost || r->next >= r->nhosts;
		const char *host = stop ? NULL : r->hosts[r->next++];
		pthread_mutex_unlock(&r->mu);
		if (!host)
			break;
		if (r->mode == MODE_RUN) {
			/* pause, abort: no new device starts */
			devctx c = { .r = r, .db = db };
			if (strcmp(rollout_state(&c), RS_RUNNING)) {
				pthread_mutex_lock(&r->mu);
				r->halt = true;
				pthread_mutex_unlock(&r->mu);
				break;
			}
		}
		work_device(r, db, host, r->mode);
	}
	rolldb_close(db);
	return NULL;
}

/* Runs the devices of hosts (borrowed) through the mode, at most forks at once. */
static void pass(runner *r, run_mode mode, char **hosts, size_t n)
{
	if (!n)
		return;
	r->mode = mode;
	r->hosts = hosts;
	r->nhosts = n;
	r->next = 0;
	r->halt = false;
	size_t nt = (size_t)r->p.forks < n ? (size_t)r->p.forks : n;
	pthread_t *t = xcalloc(nt, sizeof *t);
	size_t started = 0;
	for (size_t i = 0; i < nt; i++)
		if (pthread_create(&t[i], NULL, worker, r) == 0)
			started++;
		else
			break;
	if (!started)
		worker(r);
	for (size_t i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
}

/* The hosts of batch b (-1: all) whose step passes want(). */
static char **select_hosts(roll_dev *d, size_t n, int b, bool (*want)(const roll_dev *), size_t *out_n)
{
	char **h = xcalloc(n + 1, sizeof *h);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if ((b < 0 || d[i].batch == b) && want(&d[i]))
			h[k++] = d[i].host;
	*out_n = k;
	return h;
}

static bool want_run(const roll_dev *d)
{
	return !roll_step_final(d->step);
}

static bool want_abort(const roll_dev *d)
{
	return !roll_step_final(d->step) && strcmp(d->step, DS_PENDING);
}

static bool want_revert(const roll_dev *d)
{
	return !strcmp(d->step, DS_UPDATED) || !strcmp(d->step, DS_REVERT);
}

static int nbatches(const roll_row *row)
{
	json_t *b = json_loads(row->batches, 0, NULL);
	int n = json_is_array(b) ? (int)json_array_size(b) : 0;
	json_decref(b);
	return n;
}

/* One round of the main loop: 1 go on, 0 nothing to do here (not active),
 * -1 error. */
static int round_once(runner *r, rolldb *db, char **err)
{
	roll_row row;
	if (rolldb_get(db, r->id, &row, err))
		return -1;
	roll_dev *devs = NULL;
	size_t nd = 0;
	if (rolldb_devices(db, r->id, &devs, &nd, err)) {
		roll_row_clear(&row);
		return -1;
	}
	int nb = nbatches(&row), rc = 1;
	size_t nh = 0;
	char **hosts = NULL;
	if (!strcmp(row.state, RS_RUNNING)) {
		int b = row.current_batch;
		/* retried devices may sit in a batch already judged: the earliest batch with work */
		for (size_t i = 0; i < nd; i++)
			if (!roll_step_final(devs[i].step) && devs[i].batch < b)
				b = devs[i].batch;
		const char *const from[] = { RS_RUNNING, NULL };
		if (b >= nb) {
			note(r, "rollout %lld completed", (long long)r->id);
			if (rolldb_transition(db, r->id, from, RS_COMPLETED, NULL, now_ms(), err) < 0)
				rc = -1;
			goto out;
		}
		hosts = select_hosts(devs, nd, b, want_run, &nh);
		if (nh) {
			note(r, "batch %d of %d: %zu device%s to do", b + 1, nb, nh, nh == 1 ? "" : "s");
			pass(r, MODE_RUN, hosts, nh);
			/* a pass that moved no device on (the database refusing every write):
			 * a few tries, then give up rather than spin */
			if (nh == r->last_todo && b == r->last_batch) {
				if (++r->stuck >= 3) {
					*err = xasprintf("no progress on batch %d after %d passes; stopping the runner", b + 1,
							 r->stuck);
					rc = -1;
				} else {
					sleep_ms(1000);
				}
			} else {
				r->stuck = 0;
			}
			r->last_todo = nh;
			r->last_batch = b;
			goto out; /* the next round sees where it got */
		}
		/* every device of the batch is through: the gate */
		size_t size = 0, okn = 0, failn = 0, unr = 0;
		for (size_t i = 0; i < nd; i++) {
			if (devs[i].batch != b)
				continue;
			size++;
			if (!strcmp(devs[i].step, DS_UPDATED) || !strcmp(devs[i].step, DS_CURRENT))
				okn++;
			else if (!strcmp(devs[i].step, DS_UNREACHABLE))
				unr++;
			else
				failn++;
		}
		gate_result g = gate_max_fail(size, okn, failn, r->p.max_fail, 1);
		char *why = xasprintf("batch %d gate %s: %zu of %zu updated, %zu failed, %zu unreachable (max fail %g%%)",
				      b + 1, gate_result_name(g), okn, size, failn, unr, r->p.max_fail);
		note(r, "%s", why);
		/* the gate's figures stay in the rollout's log, for status and the console */
		char *lerr = NULL;
		if (rolldb_log(db, r->id, NULL, "gate", why, now_ms(), &lerr))
			note(r, "cannot log the gate: %s", lerr);
		free(lerr);
		/* a batch that passed soaks, when asked (canary.c): its verdict decides */
		int soak = g == GATE_PASS ? canary_gate_run(db, r->id, row.params, devs, nd, b, r->p.connect_ms,
							    r->p.timeout_ms, live, r, &g, &why, err)
					  : 0;
		if (soak) {
			free(why);
			rc = soak < 0 ? -1 : 1;
			goto out;
		}
		if (strstr(why, " soak "))
			note(r, "%s", why);
		if (g == GATE_PASS) {
			if (rolldb_transition_batch(db, r->id, from, RS_RUNNING, b + 1, NULL, now_ms(), err) < 0)
				rc = -1;
		} else if (g == GATE_INCONCLUSIVE) {
			if (rolldb_transition_batch(db, r->id, from, RS_AWAITING, b + 1, why, now_ms(), err) < 0)
				rc = -1;
		} else {
			/* the batch's updated devices go back; the rollout stops */
			free(hosts);
			hosts = select_hosts(devs, nd, b, want_revert, &nh);
			pass(r, MODE_REVERT, hosts, nh);
			const char *const from2[] = { RS_RUNNING, RS_PAUSED, NULL };
			if (!lost(r) && rolldb_transition(db, r->id, from2, RS_FAILED, why, now_ms(), err) < 0)
				rc = -1;
		}
		free(why);
	} else if (!strcmp(row.state, RS_ABORTING)) {
		hosts = select_hosts(devs, nd, -1, want_abort, &nh);
		pass(r, MODE_ABORT, hosts, nh);
		const char *const from[] = { RS_ABORTING, NULL };
		if (!lost(r)) {
			note(r, "rollout %lld aborted", (long long)r->id);
			if (rolldb_transition(db, r->id, from, RS_ABORTED, NULL, now_ms(), err) < 0)
				rc = -1;
		}
	} else if (!strcmp(row.state, RS_ROLLING_BACK)) {
		/* newest batch first */
		for (int b = nb - 1; b >= 0 && !lost(r); b--) {
			free(hosts);
			hosts = select_hosts(devs, nd, b, want_revert, &nh);
			if (nh)
				note(r, "rolling back batch %d: %zu device%s", b + 1, nh, nh == 1 ? "" : "s");
			pass(r, MODE_REVERT, hosts, nh);
		}
		const char *const from[] = { RS_ROLLING_BACK, NULL };
		if (!lost(r)) {
			note(r, "rollout %lld rolled back", (long long)r->id);
			if (rolldb_transition(db, r->id, from, RS_ROLLED_BACK, NULL, now_ms(), err) < 0)
				rc = -1;
		}
	} else {
		rc = 0;
	}
out:
	free(hosts);
	roll_devs_free(devs, nd);
	roll_row_clear(&row);
	return rc;
}

int runner_run(const char *db_path, int64_t id, const char *owner, runner_note_fn note_fn, void *ctx, char **err)
{
	rolldb *db = rolldb_open(db_path, 10000, err);
	if (!db)
		return -1;
	roll_row row;
	if (rolldb_get(db, id, &row, err)) {
		rolldb_close(db);
		return -1;
	}
	runner r = { .db_path = db_path, .id = id, .owner = owner, .note = note_fn, .note_ctx = ctx, .last_batch = -1 };
	if (runner_params_from_json(row.params, &r.p, err)) {
		roll_row_clear(&row);
		rolldb_close(db);
		return -1;
	}
	/* a lease held: its runner may be finishing (pause, then resume) or dead with
	 * the lease not yet expired; wait a lease's time for it to be let go or expire */
	int taken;
	int64_t give_up = now_ms() + r.p.lease_ms + 1000;
	while ((taken = rolldb_lease_take(db, id, owner, now_ms(), r.p.lease_ms, err)) == 0 && now_ms() < give_up) {
		roll_row cur;
		char *e2 = NULL;
		bool active = rolldb_get(db, id, &cur, &e2) == 0 && roll_state_in(cur.state, roll_states_active);
		/* its holder ran here and its process is gone: no need to wait for the expiry */
		int took = active && cur.lease_owner && runner_owner_dead(cur.lease_owner)
				   ? rolldb_lease_take_from(db, id, cur.lease_owner, owner, now_ms(), r.p.lease_ms, err)
				   : 0;
		roll_row_clear(&cur);
		free(e2);
		if (took) {
			taken = took;
			break;
		}
		if (!active)
			break;
		sleep_ms(200);
	}
	if (taken <= 0) {
		roll_row_clear(&row);
		rolldb_close(db);
		return taken < 0 ? -1 : 1;
	}
	r.model = row.model;
	r.version = row.version;
	r.model_url = row.model_url;
	r.checksum = row.checksum;
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	pthread_mutex_init(&r.write_lock, NULL);
	rolldb_share_lock(db, &r.write_lock);
	pthread_t lt;
	bool have_lt = pthread_create(&lt, NULL, lease_thread, &r) == 0;
	note(&r, "runner %s on rollout %lld: %s %s", owner, (long long)id, r.model, r.version);
	int rc = 0;
	for (;;) {
		if (lost(&r)) {
			note(&r, "lease lost: another runner took over");
			break;
		}
		int k = round_once(&r, db, err);
		if (k < 0) {
			rc = -1;
			break;
		}
		if (k == 0) {
			/* nothing active: let go, unless someone asked for more meanwhile */
			int rel = rolldb_lease_release(db, id, owner, roll_states_active, err);
			if (rel < 0) {
				rc = -1;
				break;
			}
			if (rel == 1)
				break;
		}
	}
	pthread_mutex_lock(&r.mu);
	r.stopping = true;
	pthread_cond_signal(&r.cv);
	pthread_mutex_unlock(&r.mu);
	if (have_lt)
		pthread_join(lt, NULL);
	if (rc < 0) /* an error: let another runner have it at once */
		rolldb_lease_release(db, id, owner, (const char *const[]){ NULL }, NULL);
	pthread_cond_destroy(&r.cv);
	pthread_mutex_destroy(&r.mu);
	rolldb_share_lock(db, NULL);
	pthread_mutex_destroy(&r.write_lock);
	roll_row_clear(&row);
	rolldb_close(db);
	return rc;
}

char *runner_owner_name(void)
{
	char host[128] = "?";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	for (char *c = host; *c; c++)
		if (*c == ':')
			*c = '_';
	return xasprintf("%s:%ld:%lld", host, (long)getpid(), (long long)now_ms());
}

bool runner_owner_dead(const char *owner)
{
	const char *c1 = strchr(owner, ':');
	if (!c1)
		return false;
	char host[128] = "";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	for (char *c = host; *c; c++)
		if (*c == ':')
			*c = '_';
	if ((size_t)(c1 - owner) != strlen(host) || strncmp(owner, host, (size_t)(c1 - owner)))
		return false; /* another machine's: only its lease's expiry tells */
	char *end;
	errno = 0;
	long pid = strtol(c1 + 1, &end, 10);
	if (errno || end == c1 + 1 || *end != ':' || pid <= 1)
		return false;
	if ((pid_t)pid == getpid())
		return false;
	if (kill((pid_t)pid, 0) == -1)
		return errno == ESRCH;
	/* a killed runner whose parent is gone may linger as a zombie until reaped */
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}
