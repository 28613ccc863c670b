/* rollhttp: a JSON request to a device agent or the registry, with timeouts and a size cap. */
#include "rollout/rollhttp.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct buf {
	char *p;
	size_t n, cap, max;
	int over;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct buf *b = ctx;
	size_t len = size * nmemb;
	if (b->n + len > b->max) {
		b->over = 1;
		return 0;
	}
	b->p = xgrow(b->p, &b->cap, b->n + len + 1, 1);
	memcpy(b->p + b->n, data, len);
	b->n += len;
	b->p[b->n] = '\0';
	return len;
}

/* Each thread keeps one easy handle, and with it its kept-alive connections:
 * a runner's worker takes a device through its steps request after request
 * over one TCP connection instead of a connect and close per request. The
 * handle goes with the thread (the key's destructor) or rollhttp_thread_end. */
static pthread_key_t handle_key;
static pthread_once_t handle_once = PTHREAD_ONCE_INIT;
static int handle_key_ok;

static void handle_free(void *h)
{
	curl_easy_cleanup(h);
}

static void handle_key_make(void)
{
	handle_key_ok = pthread_key_create(&handle_key, handle_free) == 0;
}

static CURL *thread_handle(void)
{
	pthread_once(&handle_once, handle_key_make);
	CURL *c = handle_key_ok ? pthread_getspecific(handle_key) : NULL;
	if (c) {
		curl_easy_reset(c); /* options back to the defaults; connections stay */
		return c;
	}
	c = curl_easy_init();
	if (c && handle_key_ok && pthread_setspecific(handle_key, c)) {
		curl_easy_cleanup(c);
		c = NULL;
	}
	return c;
}

void rollhttp_thread_end(void)
{
	pthread_once(&handle_once, handle_key_make);
	CURL *c = handle_key_ok ? pthread_getspecific(handle_key) : NULL;
	if (c) {
		pthread_setspecific(handle_key, NULL);
		curl_easy_cleanup(c);
	}
}

char *rollhttp_url(const char *address, int port, const char *path)
{
	int v6 = strchr(address, ':') != NULL;
	return xasprintf("http://%s%s%s:%d%s", v6 ? "[" : "", address, v6 ? "]" : "", port, path);
}

int rollhttp_json(const char *url, const char *method, const json_t *body, const rollhttp_opts *o, long *code,
		  json_t **answer, char **err)
{
	*code = 0;
	*answer = NULL;
	CURL *c = thread_handle();
	if (!c) {
		*err = xstrdup("libcurl could not be set up");
		return -1;
	}
	struct buf b = { .max = o->max_bytes ? o->max_bytes : 1 << 20 };
	char errbuf[CURL_ERROR_SIZE] = "";
	char *payload = NULL;
	struct curl_slist *hdr = NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->connect_ms > 0 ? o->connect_ms : 2000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms : 10000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_MAXCONNECTS, 2L);
	if (!strcmp(method, "POST")) {
		payload = json_dumps(body, JSON_COMPACT);
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload ? payload : "{}");
	}
	CURLcode rc = curl_easy_perform(c);
	int ret = 0;
	if (rc != CURLE_OK) {
		*err = b.over ? xasprintf("answer larger than %zu bytes", b.max)
			      : xstrdup(errbuf[0] ? errbuf : curl_easy_strerror(rc));
		ret = -1;
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
		if (b.p) {
			json_t *j = json_loadb(b.p, b.n, 0, NULL);
			*answer = j;
		}
	}
	curl_slist_free_all(hdr);
	free(payload);
	free(b.p);
	if (!handle_key_ok)
		curl_easy_cleanup(c);
	return ret;
}
