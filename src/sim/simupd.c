/* simupd: model downloads on one thread with libcurl's multi interface, hashed as they stream. */
#include "sim/simupd.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MODEL_BYTES (1024LL * 1024 * 1024) /* a model larger than this is a broken registry */

struct job {
	size_t dev;
	char *version, *url;
	char want[65];
	EVP_MD_CTX *md;
	CURL *easy;
	char errbuf[CURL_ERROR_SIZE];
	struct job *next;
};

struct simupd {
	simupd_done_fn done;
	void *ctx;
	long timeout_s;
	CURLM *multi;
	pthread_t thread;
	pthread_mutex_t mu;     /* guards queue */
	struct job *queue;      /* submitted, not yet on the multi handle */
	struct job *running;    /* on the multi handle; only the thread touches it */
	atomic_int stop;
};

static void job_free(struct job *j)
{
	if (j->easy)
		curl_easy_cleanup(j->easy);
	EVP_MD_CTX_free(j->md);
	free(j->version);
	free(j->url);
	free(j);
}

static size_t on_data(char *p, size_t size, size_t n, void *cls)
{
	struct job *j = cls;
	EVP_DigestUpdate(j->md, p, size * n);
	return size * n;
}

static void start_job(simupd *u, struct job *j)
{
	j->md = EVP_MD_CTX_new();
	j->easy = curl_easy_init();
	if (!j->md || !j->easy || !EVP_DigestInit_ex(j->md, EVP_sha256(), NULL)) {
		u->done(u->ctx, j->dev, j->version, "out of memory");
		job_free(j);
		return;
	}
	CURL *e = j->easy;
	curl_easy_setopt(e, CURLOPT_URL, j->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, j);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, u->timeout_s);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MAX_MODEL_BYTES);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "fleetsim-agent/" FLEETDECK_VERSION);
	j->next = u->running;
	u->running = j;
	curl_multi_add_handle(u->multi, e);
}

static void unlink_running(simupd *u, struct job *j)
{
	for (struct job **pp = &u->running; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			return;
		}
}

static void finish(simupd *u, struct job *j, CURLcode rc)
{
	char msg[512];
	long code = 0;
	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
	const char *err = NULL;
	if (rc != CURLE_OK) {
		snprintf(msg, sizeof msg, "download failed: %s", j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc));
		err = msg;
	} else if (code != 200) {
		snprintf(msg, sizeof msg, "download failed: HTTP %ld", code);
		err = msg;
	} else {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int n = 0;
		char got[65] = "";
		EVP_DigestFinal_ex(j->md, md, &n);
		for (unsigned i = 0; i < n && i < 32; i++)
			snprintf(got + 2 * i, 3, "%02x", md[i]);
		if (strcmp(got, j->want)) {
			snprintf(msg, sizeof msg, "checksum mismatch: expected sha256:%s, got sha256:%s", j->want, got);
			err = msg;
		}
	}
	curl_multi_remove_handle(u->multi, j->easy);
	unlink_running(u, j);
	u->done(u->ctx, j->dev, j->version, err);
	job_free(j);
}

static void *run(void *arg)
{
	simupd *u = arg;
	while (!atomic_load(&u->stop)) {
		pthread_mutex_lock(&u->mu);
		struct job *q = u->queue;
		u->queue = NULL;
		pthread_mutex_unlock(&u->mu);
		while (q) {
			struct job *next = q->next;
			start_job(u, q);
			q = next;
		}
		int running = 0;
		curl_multi_perform(u->multi, &running);
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(u->multi, &left))) {
			if (m->msg != CURLMSG_DONE)
				continue;
			struct job *j = NULL;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
			finish(u, j, m->data.result);
		}
		/* woken early by simupd_submit and simupd_stop */
		curl_multi_poll(u->multi, NULL, 0, 1000, NULL);
	}
	return NULL;
}

simupd *simupd_start(simupd_done_fn done, void *ctx, long timeout_s, char **err)
{
	simupd *u = xcalloc(1, sizeof *u);
	u->done = done;
	u->ctx = ctx;
	u->timeout_s = timeout_s;
	u->multi = curl_multi_init();
	pthread_mutex_init(&u->mu, NULL);
	if (!u->multi || pthread_create(&u->thread, NULL, run, u)) {
		*err = xstrdup("cannot start the updater thread");
		if (u->multi)
			curl_multi_cleanup(u->multi);
		pthread_mutex_destroy(&u->mu);
		free(u);
		return NULL;
	}
	return u;
}

void simupd_submit(simupd *u, size_t dev, const char *version, const char *url, const char *sha256_hex)
{
	struct job *j = xcalloc(1, sizeof *j);
	j->dev = dev;
	j->version = xstrdup(version);
	j->url = xstrdup(url);
	snprintf(j->want, sizeof j->want, "%s", sha256_hex);
	pthread_mutex_lock(&u->mu);
	j->next = u->queue;
	u->queue = j;
	pthread_mutex_unlock(&u->mu);
	curl_multi_wakeup(u->multi);
}

void simupd_stop(simupd *u)
{
	if (!u)
		return;
	atomic_store(&u->stop, 1);
	curl_multi_wakeup(u->multi);
	pthread_join(u->thread, NULL);
	while (u->running) {
		struct job *j = u->running;
		u->running = j->next;
		curl_multi_remove_handle(u->multi, j->easy);
		job_free(j);
	}
	while (u->queue) {
		struct job *j = u->queue;
		u->queue = j->next;
		job_free(j);
	}
	curl_multi_cleanup(u->multi);
	pthread_mutex_destroy(&u->mu);
	free(u);
}
