/* devmetrics: a device's readings from two scrapes of its /metrics. */
#include "metrics/devmetrics.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One labelled counter series of inference_requests_total. */
struct req {
	char *key;             /* its labels, name=value joined by \x01, in name order */
	double v;
	bool fail;
	bool have_created;
	double created;        /* inference_requests_created of the same labels: a new one is a restart */
};

struct devmetrics_scrape {
	prom_bucket *b;        /* inference_latency_seconds, summed over series by le */
	size_t nb;
	bool have_created;
	double created;        /* inference_latency_seconds_created: a new one is a restart */
	struct req *req;
	size_t nreq;
};

struct dmdev {
	devmetrics_scrape *prev;
	devmetrics_values v;
};

struct devmetrics {
	struct dmdev *dev;
	size_t ndev, cap;
	poll_result *view;
	size_t view_cap;
};

/* The gauges, straight to a field. */
static const struct gauge {
	const char *name;
	size_t off;
	unsigned bit;
} gauges[] = {
	{ "gpu_utilization_percent", offsetof(devmetrics_values, gpu_util), DEVM_GPU_UTIL },
	{ "gpu_memory_used_bytes", offsetof(devmetrics_values, gpu_mem_used), DEVM_GPU_MEM_USED },
	{ "gpu_memory_total_bytes", offsetof(devmetrics_values, gpu_mem_total), DEVM_GPU_MEM_TOTAL },
	{ "gpu_temperature_celsius", offsetof(devmetrics_values, gpu_temp), DEVM_GPU_TEMP },
	{ "gpu_power_watts", offsetof(devmetrics_values, power_w), DEVM_POWER },
	{ "cpu_utilization_percent", offsetof(devmetrics_values, cpu_util), DEVM_CPU_UTIL },
	{ "memory_used_bytes", offsetof(devmetrics_values, mem_used), DEVM_MEM_USED },
	{ "memory_total_bytes", offsetof(devmetrics_values, mem_total), DEVM_MEM_TOTAL },
};

/* inference_requests_total{status=...} values that count as failed requests:
 * fleetsim (like the seed's exporter) writes "success" and "error". */
static const char *const fail_status[] = { "error", "failure", "failed", "fail", "timeout" };

static const char LAT[] = "inference_latency_seconds";

void devmetrics_scrape_free(devmetrics_scrape *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nreq; i++)
		free(s->req[i].key);
	free(s->req);
	free(s->b);
	free(s);
}

static char *series_key(const prom_sample *s)
{
	const prom_label *ord[64];
	size_t n = 0, len = 1;
	for (size_t i = 0; i < s->nlabels && n < 64; i++) {
		size_t j = n++;
		while (j > 0 && strcmp(ord[j - 1]->name, s->labels[i].name) > 0) {
			ord[j] = ord[j - 1];
			j--;
		}
		ord[j] = &s->labels[i];
		len += strlen(s->labels[i].name) + strlen(s->labels[i].value) + 2;
	}
	char *k = xmalloc(len), *w = k;
	for (size_t i = 0; i < n; i++) {
		size_t a = strlen(ord[i]->name), b = strlen(ord[i]->value);
		memcpy(w, ord[i]->name, a);
		w += a;
		*w++ = '=';
		memcpy(w, ord[i]->value, b);
		w += b;
		*w++ = '\x01';
	}
	*w = '\0';
	return k;
}

static void add_bucket(devmetrics_scrape *s, size_t *cap, double le, double count)
{
	for (size_t i = 0; i < s->nb; i++)
		if (s->b[i].le == le) {
			s->b[i].count += count;
			return;
		}
	s->b = xgrow(s->b, cap, s->nb + 1, sizeof *s->b);
	s->b[s->nb++] = (prom_bucket){ le, count };
}

static int bucket_le_cmp(const void *a, const void *b)
{
	double x = ((const prom_bucket *)a)->le, y = ((const prom_bucket *)b)->le;
	return x < y ? -1 : x > y;
}

static const struct req *find_req(const devmetrics_scrape *s, const char *key)
{
	for (size_t i = 0; s && i < s->nreq; i++)
		if (!strcmp(s->req[i].key, key))
			return &s->req[i];
	return NULL;
}

static bool latency_reset(const devmetrics_scrape *prev, const devmetrics_scrape *cur)
{
	bool reset = !prev || prev->nb != cur->nb || (prev->have_created && cur->have_created && prev->created != cur->created);
	for (size_t i = 0; !reset && i < cur->nb; i++)
		reset = prev->b[i].le != cur->b[i].le || cur->b[i].count < prev->b[i].count;
	return reset;
}

prom_bucket *devmetrics_latency_delta(const devmetrics_scrape *prev, const devmetrics_scrape *cur, size_t *n)
{
	*n = 0;
	if (!cur || !cur->nb)
		return NULL;
	bool reset = latency_reset(prev, cur);
	prom_bucket *d = xcalloc(cur->nb, sizeof *d);
	for (size_t i = 0; i < cur->nb; i++)
		d[i] = (prom_bucket){ cur->b[i].le, cur->b[i].count - (reset ? 0 : prev->b[i].count) };
	*n = cur->nb;
	return d;
}

/* The histogram between prev and cur, or all of cur after a reset. */
static void latency(const devmetrics_scrape *prev, const devmetrics_scrape *cur, devmetrics_values *out)
{
	if (!cur->nb)
		return;
	size_t nd;
	prom_bucket *d = devmetrics_latency_delta(prev, cur, &nd);
	out->since_start = latency_reset(prev, cur);
	out->latency_obs = d[cur->nb - 1].count; /* sorted: +Inf last, if there */
	double q = prom_histogram_quantile(0.95, d, cur->nb);
	if (isfinite(q) && q >= 0) {
		out->latency_p95_ms = q * 1000.0;
		out->have |= DEVM_LATENCY_P95;
	}
	free(d);
}

static void requests(const devmetrics_scrape *prev, const devmetrics_scrape *cur, devmetrics_values *out)
{
	double total = 0, failed = 0;
	for (size_t i = 0; i < cur->nreq; i++) {
		const struct req *p = find_req(prev, cur->req[i].key);
		double d = cur->req[i].v;
		bool restarted = p && p->have_created && cur->req[i].have_created && p->created != cur->req[i].created;
		if (p && d >= p->v && !restarted)
			d -= p->v; /* else new, or reset: all of it is new */
		total += d;
		if (cur->req[i].fail)
			failed += d;
	}
	out->requests = total;
	if (total > 0) {
		out->error_rate = failed / total;
		out->have |= DEVM_ERROR_RATE;
	}
}

void devmetrics_read(const prom_doc *doc, const devmetrics_scrape *prev, devmetrics_scrape **cur,
		    devmetrics_values *out)
{
	memset(out, 0, sizeof *out);
	devmetrics_scrape *s = xcalloc(1, sizeof *s);
	size_t bcap = 0, rcap = 0, ccap = 0, ncreated = 0;
	struct req *created = NULL;
	const prom_family *lat = prom_family_find(doc, LAT);
	bool hist = lat && lat->type == PROM_HISTOGRAM;
	for (size_t i = 0; i < doc->nsamples; i++) {
		const prom_sample *sm = &doc->samples[i];
		const char *n = sm->name;
		if (hist && !strncmp(n, LAT, sizeof LAT - 1)) {
			const char *suf = n + sizeof LAT - 1;
			if (!strcmp(suf, "_bucket") && doc->families[sm->family].type == PROM_HISTOGRAM) {
				double le;
				if (prom_float(prom_label_get(sm, "le"), &le) && !isnan(le) && isfinite(sm->value) &&
				    sm->value >= 0)
					add_bucket(s, &bcap, le, sm->value);
			} else if (!strcmp(suf, "_created") && isfinite(sm->value)) {
				s->have_created = true;
				s->created = sm->value;
			}
			continue;
		}
		if (!strcmp(n, "inference_requests_total")) {
			if (!isfinite(sm->value) || sm->value < 0)
				continue;
			const char *st = prom_label_get(sm, "status");
			bool fail = false;
			for (size_t k = 0; st && k < sizeof fail_status / sizeof *fail_status; k++)
				fail |= !strcmp(st, fail_status[k]);
			s->req = xgrow(s->req, &rcap, s->nreq + 1, sizeof *s->req);
			s->req[s->nreq++] = (struct req){ series_key(sm), sm->value, fail, false, 0 };
			continue;
		}
		if (!strcmp(n, "inference_requests_created")) {
			if (isfinite(sm->value)) {
				created = xgrow(created, &ccap, ncreated + 1, sizeof *created);
				created[ncreated++] = (struct req){ series_key(sm), sm->value, false, true, sm->value };
			}
			continue;
		}
		for (size_t g = 0; g < sizeof gauges / sizeof *gauges; g++) {
			if (strcmp(n, gauges[g].name))
				continue;
			/* the first series of a gauge; NaN is "cannot tell" */
			if (!(out->have & gauges[g].bit) && isfinite(sm->value)) {
				*(double *)((char *)out + gauges[g].off) = sm->value;
				out->have |= gauges[g].bit;
			}
			break;
		}
	}
	for (size_t i = 0; i < ncreated; i++) {
		for (size_t k = 0; k < s->nreq; k++)
			if (!strcmp(s->req[k].key, created[i].key)) {
				s->req[k].have_created = true;
				s->req[k].created = created[i].created;
			}
		free(created[i].key);
	}
	free(created);
	if (s->nb)
		qsort(s->b, s->nb, sizeof *s->b, bucket_le_cmp);
	latency(prev, s, out);
	requests(prev, s, out);
	if (!s->nb && !s->nreq)
		out->since_start = !prev;
	*cur = s;
}

devmetrics *devmetrics_new(void)
{
	return xcalloc(1, sizeof(devmetrics));
}

void devmetrics_free(devmetrics *dm)
{
	if (!dm)
		return;
	for (size_t i = 0; i < dm->ndev; i++)
		devmetrics_scrape_free(dm->dev[i].prev);
	free(dm->dev);
	free(dm->view);
	free(dm);
}

static struct dmdev *dev_at(devmetrics *dm, size_t i)
{
	if (i >= dm->ndev) {
		dm->dev = xgrow(dm->dev, &dm->cap, i + 1, sizeof *dm->dev);
		memset(dm->dev + dm->ndev, 0, (i + 1 - dm->ndev) * sizeof *dm->dev);
		dm->ndev = i + 1;
	}
	return &dm->dev[i];
}

void devmetrics_forget(devmetrics *dm, size_t device)
{
	if (device >= dm->ndev)
		return;
	struct dmdev *d = &dm->dev[device];
	devmetrics_scrape_free(d->prev);
	memset(d, 0, sizeof *d);
}

int devmetrics_take(devmetrics *dm, size_t device, const char *body, size_t len, int64_t ts_ms, char **err)
{
	prom_doc *doc = prom_parse(body, len, NULL, err);
	if (!doc) {
		devmetrics_forget(dm, device);
		return -1;
	}
	struct dmdev *d = dev_at(dm, device);
	devmetrics_scrape *cur = NULL;
	devmetrics_read(doc, d->prev, &cur, &d->v);
	prom_doc_free(doc);
	d->v.ts_ms = ts_ms;
	devmetrics_scrape_free(d->prev);
	d->prev = cur;
	return 0;
}

bool devmetrics_get(const devmetrics *dm, size_t device, devmetrics_values *out)
{
	if (device >= dm->ndev || !dm->dev[device].v.ts_ms) {
		memset(out, 0, sizeof *out);
		return false;
	}
	*out = dm->dev[device].v;
	return true;
}

void devmetrics_fill(const devmetrics_values *v, dev_status *st)
{
	static const struct {
		unsigned from, to;
		size_t src, dst;
	} map[] = {
		{ DEVM_GPU_UTIL, DEV_HAVE_GPU_UTIL, offsetof(devmetrics_values, gpu_util), offsetof(dev_status, gpu_util) },
		{ DEVM_GPU_MEM_USED, DEV_HAVE_GPU_MEM_USED, offsetof(devmetrics_values, gpu_mem_used),
		  offsetof(dev_status, gpu_mem_used) },
		{ DEVM_GPU_MEM_TOTAL, DEV_HAVE_GPU_MEM_TOTAL, offsetof(devmetrics_values, gpu_mem_total),
		  offsetof(dev_status, gpu_mem_total) },
		{ DEVM_GPU_TEMP, DEV_HAVE_GPU_TEMP, offsetof(devmetrics_values, gpu_temp), offsetof(dev_status, gpu_temp) },
		{ DEVM_POWER, DEV_HAVE_POWER, offsetof(devmetrics_values, power_w), offsetof(dev_status, power_w) },
		{ DEVM_LATENCY_P95, DEV_HAVE_LATENCY_P95, offsetof(devmetrics_values, latency_p95_ms),
		  offsetof(dev_status, latency_p95_ms) },
		{ DEVM_ERROR_RATE, DEV_HAVE_ERROR_RATE, offsetof(devmetrics_values, error_rate),
		  offsetof(dev_status, error_rate) },
	};
	for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
		if (!(v->have & map[i].from) || (st->have & map[i].to))
			continue;
		*(double *)((char *)st + map[i].dst) = *(const double *)((const char *)v + map[i].src);
		st->have |= map[i].to;
	}
}

void devmetrics_hook(void *ctx, size_t device, poll_ep ep, const char *body, size_t len, poll_fetch *f)
{
	devmetrics *dm = ctx;
	if (ep != POLL_EP_METRICS)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char *err = NULL;
	if (devmetrics_take(dm, device, body, len, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, &err)) {
		f->ok = false;
		f->reason = DEV_REASON_MALFORMED;
		free(f->error);
		f->error = err;
	}
}

void devmetrics_attach(devmetrics *dm, poller_opts *o)
{
	o->parse[POLL_EP_METRICS] = devmetrics_hook;
	o->parse_ctx = dm;
}

const poll_result *devmetrics_merge(devmetrics *dm, const poll_result *res, size_t n)
{
	if (!n)
		return res;
	dm->view = xgrow(dm->view, &dm->view_cap, n, sizeof *dm->view);
	memcpy(dm->view, res, n * sizeof *res);
	for (size_t i = 0; i < n; i++) {
		poll_result *r = &dm->view[i];
		if (!r->polled)
			continue;
		const poll_fetch *mf = &r->fetch[POLL_EP_METRICS];
		if (r->state == DEV_UNREACHABLE || (mf->attempted && !mf->ok)) {
			devmetrics_forget(dm, r->index);
			continue;
		}
		devmetrics_values v;
		if (r->fetch[POLL_EP_STATUS].ok && r->st.status && devmetrics_get(dm, r->index, &v))
			devmetrics_fill(&v, &r->st);
	}
	return dm->view;
}
