/* transport_ssh: agentless devices as a poller transport: each endpoint is one exec
 * on the device's kept-open SSH session (the status script for /status, the
 * service's local HTTP endpoints through curl or wget for the others), its
 * answer handed to the poller as the agent API's would be. */
#include "device/sshstatus.h"
#include "poll/transport.h"
#include "util/shquote.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

sshpool *transport_env_ssh(const transport_env *env, char **err)
{
	if (*env->ssh)
		return *env->ssh;
	sshpool_opts so = env->o->ssh;
	if (!so.connect_timeout_ms)
		so.connect_timeout_ms = env->o->connect_timeout_ms;
	if (!so.command_timeout_ms)
		so.command_timeout_ms = env->o->timeout_ms;
	if (!so.max_output)
		so.max_output = env->o->max_body;
	*env->ssh = sshpool_new(&so, err);
	return *env->ssh;
}

void transport_ssh_target(const transport_target *t, ssh_target *out)
{
	*out = (ssh_target){
		.name = t->name,
		.host = t->address,
		.port = t->ssh_port,
		.user = t->ssh_user,
		.identity = t->ssh_identity,
		.jump = t->ssh_jump,
	};
}

sshfwd *transport_env_fwd(const transport_env *env, char **err)
{
	if (*env->fwd)
		return *env->fwd;
	sshpool *pool = transport_env_ssh(env, err);
	if (!pool)
		return NULL;
	*env->fwd = sshfwd_new(pool, env->o->connect_timeout_ms * 2, err);
	return *env->fwd;
}

/* What a fetch was, to turn the command's output into the endpoint's answer; the
 * ones under way are listed, so that closing frees those whose answer never came
 * (the poller stopped mid-cycle). */
struct fetch {
	void *tag;
	poll_ep ep;
	struct fetch *prev, *next;
};

struct sshtr {
	sshpool *pool; /* the poller's: it also carries jump-host tunnels */
	struct fetch *out;
};

static void unlink_fetch(struct sshtr *t, struct fetch *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		t->out = f->next;
	if (f->next)
		f->next->prev = f->prev;
}

static void *ssh_open(const transport_env *env, char **err)
{
	sshpool *pool = transport_env_ssh(env, err);
	if (!pool)
		return NULL;
	struct sshtr *t = xcalloc(1, sizeof *t);
	t->pool = pool;
	return t;
}

/* The pool outlives this (the poller frees it); answers still coming are dropped with it. */
static void ssh_close(void *tp)
{
	struct sshtr *t = tp;
	if (!t)
		return;
	while (t->out) {
		struct fetch *f = t->out;
		t->out = f->next;
		free(f);
	}
	free(t);
}

/* curl, else wget, for the device's own HTTP endpoint; its output capped on the device */
static char *local_get(int port, const char *path, int timeout_s, size_t cap)
{
	return xasprintf("u=http://127.0.0.1:%d%s; (curl -fsS -m %d \"$u\" || wget -qO- -T %d \"$u\") | head -c %zu", port,
			 path, timeout_s, timeout_s, cap + 1);
}

/* The remote command for ep, or NULL with *err. */
static char *remote_command(const transport_env *env, const transport_target *tg, poll_ep ep, int timeout_ms,
			    char **err)
{
	int tsec = timeout_ms / 1000 > 1 ? timeout_ms / 1000 - (timeout_ms >= 3000 ? 1 : 0) : 1;
	if (ep == POLL_EP_STATUS) {
		sshstatus_opts so = { .model_dir = tg->model_dir, .agent_port = tg->agent_port, .timeout_s = tsec };
		return sshstatus_command(&so, err);
	}
	int port = ep == POLL_EP_METRICS ? tg->metrics_port : tg->agent_port;
	return local_get(port, poll_ep_path(ep), tsec, env->o->max_body);
}

static char *ssh_describe(const transport_env *env, const transport_target *tg, poll_ep ep, int timeout_ms)
{
	char *err = NULL;
	char *cmd = remote_command(env, tg, ep, timeout_ms, &err);
	char port[24] = "";
	if (tg->ssh_port && tg->ssh_port != 22)
		snprintf(port, sizeof port, "-p %d ", tg->ssh_port);
	char *s = xasprintf("ssh %s%s%s%s%s%s%s -- %s", tg->ssh_jump ? "-J " : "", tg->ssh_jump ? tg->ssh_jump : "",
			    tg->ssh_jump ? " " : "", port, tg->ssh_user ? tg->ssh_user : "", tg->ssh_user ? "@" : "",
			    tg->address, cmd ? cmd : err ? err : "?");
	free(cmd);
	free(err);
	return s;
}

static int ssh_start(void *tp, const transport_env *env, const transport_target *tg, poll_ep ep, int timeout_ms,
		     void *tag, char **err)
{
	struct sshtr *t = tp;
	char *cmd = remote_command(env, tg, ep, timeout_ms, err);
	if (!cmd)
		return -1;
	struct fetch *f = xcalloc(1, sizeof *f);
	f->tag = tag;
	f->ep = ep;
	ssh_target st;
	transport_ssh_target(tg, &st);
	int rc = sshpool_exec(t->pool, &st, cmd, f, err);
	free(cmd);
	if (rc) {
		free(f);
		return rc;
	}
	f->next = t->out;
	if (t->out)
		t->out->prev = f;
	t->out = f;
	return 0;
}

static int ssh_wake_fd(void *tp)
{
	return sshpool_wake_fd(((struct sshtr *)tp)->pool);
}

/* The status script's answer as the agent API's /status body. */
static char *status_body(const dev_status *st, size_t *len)
{
	json_t *o = json_object();
	json_object_set_new(o, "status", json_string(st->status));
	json_object_set_new(o, "model_name", st->model_name ? json_string(st->model_name) : json_null());
	json_object_set_new(o, "model_version", st->model_version ? json_string(st->model_version) : json_null());
	json_object_set_new(o, "gpu_temp", st->have & DEV_HAVE_GPU_TEMP ? json_real(st->gpu_temp) : json_null());
	json_object_set_new(o, "uptime_hours", st->have & DEV_HAVE_UPTIME ? json_real(st->uptime_hours) : json_null());
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	*len = strlen(s);
	return s;
}

static int ssh_next(void *tp, const transport_env *env, transport_result *r)
{
	(void)env;
	struct sshtr *t = tp;
	sshpool_result sr;
	if (!sshpool_result_next(t->pool, &sr))
		return 0;
	struct fetch *f = sr.tag;
	unlink_fetch(t, f);
	*r = (transport_result){ .tag = f->tag, .rtt_ms = sr.rtt_ms };
	if (!sr.ran) {
		r->reason = sr.reason ? sr.reason : DEV_REASON_NETWORK;
		r->error = sr.error;
		sr.error = NULL;
	} else if (f->ep == POLL_EP_STATUS) {
		dev_status st = { 0 };
		char *detail = NULL, *err = NULL;
		if (sr.exit_code != 0 || sshstatus_parse(sr.out, sr.out_len, &st, &detail, &err)) {
			r->reason = DEV_REASON_MALFORMED;
			r->error = err ? err : xasprintf("the status script exited %d", sr.exit_code);
		} else {
			r->http_status = 200; /* what the agent API would have said */
			r->body = status_body(&st, &r->body_len);
		}
		free(detail);
		dev_status_clear(&st);
	} else if (sr.exit_code != 0 || sr.out_len == 0) {
		/* the device answered SSH, but its service did not answer locally */
		r->reason = DEV_REASON_HTTP;
		r->error = xasprintf("the service on the device did not answer %s (exit %d)", poll_ep_path(f->ep),
				     sr.exit_code);
	} else {
		r->http_status = 200;
		r->body = sr.out;
		r->body_len = sr.out_len;
		sr.out = NULL;
	}
	sshpool_result_clear(&sr);
	free(f);
	return 1;
}

const struct transport_ops transport_ssh = {
	.name = "ssh",
	.open = ssh_open,
	.close = ssh_close,
	.start = ssh_start,
	.wake_fd = ssh_wake_fd,
	.next = ssh_next,
	.describe = ssh_describe,
};
