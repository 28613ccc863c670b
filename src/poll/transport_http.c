/* transport_http: the agent API over HTTP, as a poller transport (the default one). */
#include "poll/transport.h"
#include "util/xalloc.h"

#include <string.h>

static void *http_open(const transport_env *env, char **err)
{
	(void)err;
	return env->http; /* the poller's client is all the state this transport needs */
}

static void http_close(void *t)
{
	(void)t; /* the poller owns the client */
}

static int http_start(void *t, const transport_env *env, const transport_target *tg, poll_ep ep, int timeout_ms,
		      void *tag, char **err)
{
	(void)t;
	http_request rq = {
		.host = tg->address,
		.port = ep == POLL_EP_METRICS ? tg->metrics_port : tg->agent_port,
		.path = poll_ep_path(ep),
		.timeout_ms = timeout_ms,
		.dial = tg->dial,
		.dial_ctx = tg->dial_ctx,
		.via_port = ep == POLL_EP_METRICS ? tg->via_metrics_port : tg->via_agent_port,
		.tag = tag,
		.shard_key = tg->index,
	};
	return httpc_submit(env->http, &rq, err);
}

static int http_wake_fd(void *t)
{
	(void)t;
	return -1;
}

static int http_next(void *t, const transport_env *env, transport_result *r)
{
	(void)t;
	http_result h;
	if (!httpc_next(env->http, &h))
		return 0;
	*r = (transport_result){
		.tag = h.tag,
		.reason = h.reason,
		.http_status = h.status,
		.body = h.body,
		.body_len = h.body_len,
		.error = h.error,
		.rtt_ms = h.rtt_ms,
		.new_connects = h.new_connects,
	};
	return 1;
}

static char *http_describe(const transport_env *env, const transport_target *tg, poll_ep ep, int timeout_ms)
{
	(void)env;
	(void)timeout_ms;
	int port = ep == POLL_EP_METRICS ? tg->metrics_port : tg->agent_port;
	int via = ep == POLL_EP_METRICS ? tg->via_metrics_port : tg->via_agent_port;
	bool v6 = strchr(tg->address, ':') != NULL;
	return xasprintf("GET http://%s%s%s:%d%s%s", v6 ? "[" : "", tg->address, v6 ? "]" : "", port, poll_ep_path(ep),
			 via ? " (through the jump host)" : "");
}

const struct transport_ops transport_http = {
	.name = "http",
	.open = http_open,
	.close = http_close,
	.start = http_start,
	.wake_fd = http_wake_fd,
	.next = http_next,
	.describe = http_describe,
};
