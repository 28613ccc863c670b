/* simdev: a device's simulated physics (temperature, load, inference counters) and its answers. */
#include "sim/simdev.h"
#include "sim/simprom.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const fault_names[] = {
#define X(id, name) name,
	SIMFAULT_LIST(X)
#undef X
};

const char *simfault_name(simfault f)
{
	return (unsigned)f < SIMFAULT_COUNT ? fault_names[f] : "?";
}

int simfault_parse(const char *name)
{
	for (int i = 0; i < SIMFAULT_COUNT; i++)
		if (!strcmp(name, fault_names[i]))
			return i;
	return -1;
}

/* What distinguishes one Jetson from another here. Jetsons share RAM between CPU
 * and GPU, so the GPU's total memory is the board's RAM. Temperatures are the GPU
 * junction at idle and per percent of load; latencies are the defect model's. */
struct gpu_profile {
	const char *name, *platform, *cuda;
	double ram, idle_temp, temp_per_util, idle_w, max_w, lat_ms, fps;
};

static const struct gpu_profile gpus[] = {
	{ "orin_nano", "NVIDIA Jetson Orin Nano Developer Kit", "12.2", 7989755904.0, 41.0, 0.30, 5.0, 15.0, 18.5, 30 },
	{ "orin_nx", "NVIDIA Jetson Orin NX Engineering Reference Developer Kit", "12.2", 15827787776.0, 39.0, 0.28,
	  7.0, 25.0, 12.0, 45 },
	{ "agx_orin", "NVIDIA Jetson AGX Orin Developer Kit", "12.2", 64336740352.0, 37.0, 0.25, 15.0, 60.0, 7.5, 60 },
	{ "xavier_nx", "NVIDIA Jetson Xavier NX Developer Kit", "11.4", 7765622784.0, 44.0, 0.32, 10.0, 20.0, 24.0, 25 },
};
#define NGPUS ((int)(sizeof gpus / sizeof gpus[0]))

/* The seed exporter's latency buckets, and prometheus_client's defaults (model load time). */
static const double lat_le[SIMDEV_NBUCKETS] = { 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1.0 };
static const double load_le[SIMDEV_NLOADB] = { 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
					       0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0 };

int simdev_gpu_find(const char *name)
{
	for (int i = 0; i < NGPUS; i++)
		if (!strcmp(gpus[i].name, name))
			return i;
	return -1;
}

const char *simdev_gpu_name(int gpu)
{
	return gpus[gpu].name;
}

int simdev_gpu_count(void)
{
	return NGPUS;
}

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static double round_to(double v, int decimals)
{
	double m = pow(10.0, decimals);
	double r = round(v * m) / m;
	return r == 0.0 ? 0.0 : r; /* no "-0.0" */
}

/* Standard normal CDF. */
static double phi(double x)
{
	return 0.5 * erfc(-x / M_SQRT2);
}

/* Books `n` inferences drawn from a log-normal latency (median, sigma) into the
 * histogram: bucket counts from the distribution's CDF with random rounding, so one
 * call per simulated second costs the same whatever the request rate. */
static void observe_many(simdev *d, double n, double median, double sigma, double u)
{
	if (n <= 0)
		return;
	double booked = 0.0;
	for (int i = 0; i <= SIMDEV_NBUCKETS; i++) {
		double cdf = i < SIMDEV_NBUCKETS ? phi(log(lat_le[i] / median) / sigma) : 1.0;
		double want = n * cdf;
		uint64_t c = (uint64_t)floor(want - booked + u);
		if (booked + (double)c > n)
			c = (uint64_t)(n - booked);
		d->buckets[i] += c;
		booked += (double)c;
	}
	d->lat_sum += booked * median * exp(sigma * sigma / 2.0);
}

static void observe_load(simdev *d, double seconds)
{
	int i = 0;
	while (i < SIMDEV_NLOADB && seconds > load_le[i])
		i++;
	d->load_buckets[i]++;
	d->load_sum += seconds;
	d->load_count++;
}

simdev_health simdev_health_now(const simdev *d)
{
	if (d->status_override >= 0)
		return (simdev_health)d->status_override;
	/* a GPU this hot throttles: first it slows down, then it fails */
	if (d->temp >= 95.0)
		return SIMDEV_UNHEALTHY;
	if (d->temp >= 88.0)
		return SIMDEV_DEGRADED;
	return SIMDEV_HEALTHY;
}

const char *simdev_health_name(simdev_health h)
{
	return h == SIMDEV_HEALTHY ? "healthy" : h == SIMDEV_DEGRADED ? "degraded" : "unhealthy";
}

bool simdev_model_loaded(const simdev *d)
{
	return d->upd == SIMUPD_IDLE;
}

/* How much slower than nominal inference runs: sick devices and hot GPUs lag. */
static double slowdown(const simdev *d)
{
	simdev_health h = simdev_health_now(d);
	double s = h == SIMDEV_HEALTHY ? 1.0 : h == SIMDEV_DEGRADED ? 2.5 : 4.0;
	if (d->temp > 85.0)
		s *= 1.0 + (d->temp - 85.0) / 8.0;
	return s;
}

/* The running version's profile, or NULL (nominal). */
static const simvprof *vprof_now(const simdev *d)
{
	for (int i = 0; i < d->nvprof; i++)
		if (!strcmp(d->vprof[i].version, d->version))
			return &d->vprof[i];
	return NULL;
}

static double error_prob(const simdev *d)
{
	simdev_health h = simdev_health_now(d);
	double p = h == SIMDEV_HEALTHY ? 0.002 : h == SIMDEV_DEGRADED ? 0.04 : 0.15;
	const simvprof *v = vprof_now(d);
	return v && v->error_rate > p ? v->error_rate : p;
}

/* The running version's latency and request-rate factors. */
static double version_latency(const simdev *d)
{
	const simvprof *v = vprof_now(d);
	return v ? v->latency_factor : 1.0;
}

static double version_rate(const simdev *d)
{
	const simvprof *v = vprof_now(d);
	return v ? v->rate_factor : 1.0;
}

static double temp_target(const simdev *d)
{
	const struct gpu_profile *g = &gpus[d->gpu];
	return g->idle_temp + g->temp_per_util * d->util + d->ambient + d->temp_offset;
}

static double gpu_mem_target(const simdev *d)
{
	return gpus[d->gpu].ram * 0.12 + d->util * 6.0e6;
}

void simdev_init(simdev *d, uint64_t seed, double epoch)
{
	const struct gpu_profile *g = &gpus[d->gpu];
	simrng_seed(&d->rng, seed, d->index);
	simrng *r = &d->rng;
	d->tick = 0;
	d->util_base = 35.0 + 40.0 * simrng_uniform(r);
	d->util = d->util_base;
	d->temp_offset = 0.0;
	d->temp_trend = 0.0;
	d->temp = temp_target(d) + 1.5 * simrng_normal(r);
	d->power = g->idle_w + (g->max_w - g->idle_w) * d->util / 100.0;
	d->cpu_util = 20.0 + 20.0 * simrng_uniform(r);
	d->gpu_mem_used = gpu_mem_target(d);
	d->mem_used = g->ram * 0.45 * (0.9 + 0.2 * simrng_uniform(r));
	d->disk_used = 18.0e9 + 10.0e9 * simrng_uniform(r);
	double u = simrng_uniform(r);
	d->boot_uptime_h = 0.5 + 720.0 * u * u; /* most devices rebooted recently, a few run for weeks */
	d->lat_median_s = g->lat_ms / 1000.0 * (0.9 + 0.2 * simrng_uniform(r));
	d->lat_sigma = 0.22 + 0.08 * simrng_uniform(r);
	d->status_override = -1;
	d->fault = SIMFAULT_NONE;
	if (d->slow_ms <= 0)
		d->slow_ms = 3000;
	d->upd = SIMUPD_IDLE;
	d->created = epoch - d->boot_uptime_h * 3600.0;

	/* what the counters hold after boot_uptime_h of steady work */
	double n = floor(d->boot_uptime_h * 3600.0 * g->fps * d->util / 100.0);
	double errs = floor(n * error_prob(d));
	d->req_err = (uint64_t)errs;
	d->req_ok = (uint64_t)(n - errs);
	observe_many(d, n, d->lat_median_s, d->lat_sigma, 0.5);
	observe_load(d, 1.5 + 2.0 * simrng_uniform(r));
}

static void step(simdev *d)
{
	const struct gpu_profile *g = &gpus[d->gpu];
	simrng *r = &d->rng;
	d->util = clamp(d->util + 0.1 * (d->util_base - d->util) + 2.5 * simrng_normal(r), 2.0, 99.5);
	d->temp_offset += d->temp_trend / 60.0;
	/* first-order lag towards the target: a heat sink takes ~20 s to follow */
	d->temp = clamp(d->temp + 0.05 * (temp_target(d) - d->temp) + 0.12 * simrng_normal(r), 20.0, 110.0);
	d->power = clamp(g->idle_w + (g->max_w - g->idle_w) * d->util / 100.0 + 0.25 * simrng_normal(r),
			 g->idle_w * 0.8, g->max_w * 1.1);
	d->cpu_util = clamp(d->cpu_util + 0.1 * (30.0 - d->cpu_util) + 1.5 * simrng_normal(r), 1.0, 100.0);
	d->gpu_mem_used = clamp(d->gpu_mem_used + 0.05 * (gpu_mem_target(d) - d->gpu_mem_used) +
					4.0e6 * simrng_normal(r),
				0.0, g->ram);
	d->mem_used = clamp(d->mem_used + 0.05 * (g->ram * 0.45 - d->mem_used) + 8.0e6 * simrng_normal(r),
			    g->ram * 0.2, g->ram);
	d->disk_used += 2000.0 + 500.0 * simrng_uniform(r); /* logs */
	double ua = simrng_uniform(r), uq = simrng_uniform(r), un = simrng_uniform(r), ue = simrng_uniform(r),
	       ub = simrng_uniform(r);
	double sick = simdev_health_now(d) == SIMDEV_HEALTHY ? 1.0 : 4.0;
	d->active = (int)(d->util / 25.0 * ua);
	d->queue = (int)(uq * uq * d->util / 10.0 * sick);

	double rate = simdev_model_loaded(d) ? g->fps * d->util / 100.0 * version_rate(d) : 0.0;
	double n = floor(rate + un);
	double errs = floor(n * error_prob(d) + ue);
	if (errs > n)
		errs = n;
	observe_many(d, n, d->lat_median_s * slowdown(d) * version_latency(d), d->lat_sigma, ub);
	d->req_ok += (uint64_t)(n - errs);
	d->req_err += (uint64_t)errs;
	int w = (int)(d->tick % SIMDEV_ERRWIN);
	d->win_ok[w] = (uint32_t)(n - errs);
	d->win_err[w] = (uint32_t)errs;
	d->tick++;
}

void simdev_advance(simdev *d, int64_t tick)
{
	while (d->tick < tick)
		step(d);
}

bool simdev_has_version(const simdev *d, const char *v)
{
	for (int i = 0; i < d->nversions; i++)
		if (!strcmp(d->versions[i], v))
			return true;
	return false;
}

bool simdev_version_bad(const simdev *d, const char *v)
{
	for (int i = 0; i < d->nbad; i++)
		if (!strcmp(d->bad[i], v))
			return true;
	return false;
}

static void add_unique(char (*list)[SIMDEV_VLEN], int *n, const char *v)
{
	for (int i = 0; i < *n; i++)
		if (!strcmp(list[i], v))
			return;
	if (*n == SIMDEV_MAXV) {
		memmove(list[0], list[1], (SIMDEV_MAXV - 1) * sizeof list[0]);
		(*n)--;
	}
	snprintf(list[*n], SIMDEV_VLEN, "%s", v);
	(*n)++;
}

void simdev_add_version(simdev *d, const char *v)
{
	add_unique(d->versions, &d->nversions, v);
}

void simdev_settle(simdev *d, double mono)
{
	if (d->upd != SIMUPD_LOADING || mono < d->upd_ready_at)
		return;
	snprintf(d->version, sizeof d->version, "%s", d->upd_version);
	simdev_add_version(d, d->version);
	add_unique(d->loaded_seen, &d->nloaded_seen, d->version);
	observe_load(d, d->load_delay_ms / 1000.0);
	d->upd = SIMUPD_IDLE;
	d->upd_version[0] = '\0';
}

/* The reported readings, rounded once so /status and /metrics agree to the digit. */
static double rep_temp(const simdev *d) { return round_to(d->temp, 1); }
static double rep_util(const simdev *d) { return round_to(d->util, 1); }
static double rep_power(const simdev *d) { return round_to(d->power, 1); }
static double rep_gpu_mem(const simdev *d) { return floor(d->gpu_mem_used); }

static double error_rate(const simdev *d)
{
	uint64_t ok = 0, err = 0;
	for (int i = 0; i < SIMDEV_ERRWIN; i++) {
		ok += d->win_ok[i];
		err += d->win_err[i];
	}
	if (ok + err == 0)
		return d->req_ok + d->req_err ? round_to((double)d->req_err / (double)(d->req_ok + d->req_err), 4)
					      : 0.0;
	return round_to((double)err / (double)(ok + err), 4);
}

static const char *upd_name(simupd_state s)
{
	return s == SIMUPD_IDLE ? "idle" : s == SIMUPD_DOWNLOADING ? "downloading" : "loading";
}

json_t *simdev_health_json(const simdev *d)
{
	return json_pack("{s:s, s:b}", "status", simdev_health_name(simdev_health_now(d)), "model_loaded",
			 simdev_model_loaded(d));
}

static json_t *string_list(char (*list)[SIMDEV_VLEN], int n)
{
	json_t *a = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(a, json_string(list[i]));
	return a;
}

json_t *simdev_status_json(const simdev *d, double sim_s)
{
	const struct gpu_profile *g = &gpus[d->gpu];
	json_t *o = json_object();
	json_object_set_new(o, "status", json_string(simdev_health_name(simdev_health_now(d))));
	json_object_set_new(o, "model_name", json_string(d->model));
	json_object_set_new(o, "model_version", json_string(d->version));
	json_object_set_new(o, "gpu_temp", json_real(rep_temp(d)));
	json_object_set_new(o, "uptime_hours", json_real(round_to(d->boot_uptime_h + sim_s / 3600.0, 2)));
	json_object_set_new(o, "gpu_type", json_string(g->name));
	json_object_set_new(o, "gpu_util", json_real(rep_util(d)));
	json_object_set_new(o, "gpu_mem_used", json_integer((json_int_t)rep_gpu_mem(d)));
	json_object_set_new(o, "gpu_mem_total", json_integer((json_int_t)g->ram));
	json_object_set_new(o, "power_w", json_real(rep_power(d)));
	json_object_set_new(o, "latency_p95_ms",
			    json_real(round_to(d->lat_median_s * slowdown(d) * version_latency(d) * exp(1.6449 * d->lat_sigma) *
					       1000.0, 2)));
	json_object_set_new(o, "error_rate", json_real(error_rate(d)));
	json_object_set_new(o, "model_loaded", json_boolean(simdev_model_loaded(d)));
	json_object_set_new(o, "hostname", json_string(d->host));
	json_object_set_new(o, "available_versions", string_list((char(*)[SIMDEV_VLEN])d->versions, d->nversions));
	json_object_set_new(o, "update_state", json_string(upd_name(d->upd)));
	json_object_set_new(o, "last_update_error", d->last_error[0] ? json_string(d->last_error) : json_null());
	return o;
}

/* The four image features of the seed's drift monitor. brightness and contrast are
 * derived from the same draw as the seed derives them from one image. */
static json_t *features(simrng *r, int n, double drift, double sign)
{
	json_t *mi = json_array(), *si = json_array(), *br = json_array(), *ct = json_array();
	double mean_mu = 128.0 + sign * 16.0 * drift, mean_sd = 16.0 * (1.0 + 0.3 * drift);
	double std_mu = 48.0 - 4.0 * drift, std_sd = 6.0 * (1.0 + 0.2 * drift);
	for (int i = 0; i < n; i++) {
		double m = clamp(mean_mu + mean_sd * simrng_normal(r), 1.0, 254.0);
		double s = clamp(std_mu + std_sd * simrng_normal(r), 1.0, 127.0);
		json_array_append_new(mi, json_real(round_to(m, 2)));
		json_array_append_new(si, json_real(round_to(s, 2)));
		json_array_append_new(br, json_real(round_to(m / 255.0, 4)));
		json_array_append_new(ct, json_real(round_to(s / (m + 1e-7), 4)));
	}
	return json_pack("{s:i, s:{s:o, s:o, s:o, s:o}}", "window", n, "features", "mean_intensity", mi,
			 "std_intensity", si, "brightness", br, "contrast", ct);
}

json_t *simdev_drift_json(const simdev *d, uint64_t seed, int window)
{
	simrng r;
	/* a stream of its own per device and simulated minute: the window changes
	 * every minute but reads the same within it, and never touches the tick stream */
	simrng_seed(&r, simrng_mix(seed, 0x64726966ULL), simrng_mix(d->index, (uint64_t)(d->tick / 60)));
	return features(&r, window, d->drift, d->index % 2 ? -1.0 : 1.0);
}

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

json_t *simdev_baseline_json(const char *model, const char *version, int n)
{
	simrng r;
	simrng_seed(&r, str_hash(model), str_hash(version));
	return features(&r, n, 0.0, 1.0);
}

json_t *simdev_validate_json(const simdev *d, const char *expected_class, double min_confidence)
{
	/* a hash, not the tick stream: asking must not change what the device does next */
	double u = (double)(simrng_mix(d->index, str_hash(d->version)) >> 11) * 0x1.0p-53;
	bool bad = simdev_version_bad(d, d->version);
	const char *cls = expected_class;
	double conf = round_to(0.90 + 0.07 * u, 4);
	if (bad) {
		cls = strcmp(expected_class, "defect") ? "defect" : "no_defect";
		conf = round_to(0.31 + 0.2 * u, 4);
	}
	bool passed = !bad && conf >= min_confidence;
	return json_pack("{s:b, s:s, s:f}", "passed", passed, "class", cls, "confidence", conf);
}

static void histogram(FILE *f, const char *name, const char *help, const double *le, const uint64_t *b, int nb,
		      double sum, double created)
{
	char bucket[96], count[96], sumn[96], cr[96], lbuf[32];
	snprintf(bucket, sizeof bucket, "%s_bucket", name);
	snprintf(count, sizeof count, "%s_count", name);
	snprintf(sumn, sizeof sumn, "%s_sum", name);
	snprintf(cr, sizeof cr, "%s_created", name);
	simprom_header(f, name, help, "histogram");
	double cum = 0;
	for (int i = 0; i <= nb; i++) {
		cum += (double)b[i];
		if (i < nb)
			simprom_float(le[i], lbuf, sizeof lbuf);
		else
			snprintf(lbuf, sizeof lbuf, "+Inf");
		const char *labels[] = { "le", lbuf, NULL };
		simprom_sample(f, bucket, labels, cum);
	}
	simprom_sample(f, count, NULL, cum);
	simprom_sample(f, sumn, NULL, sum);
	simprom_header(f, cr, help, "gauge");
	simprom_sample(f, cr, NULL, created);
}

static void gauge(FILE *f, const char *name, const char *help, double v)
{
	simprom_header(f, name, help, "gauge");
	simprom_sample(f, name, NULL, v);
}

void simdev_metrics(const simdev *d, FILE *f)
{
	const struct gpu_profile *g = &gpus[d->gpu];
	simprom_header(f, "edge_device_info", "Edge device information", "gauge");
	const char *info[] = { "cuda_version", g->cuda, "device_id", d->host, "platform", g->platform, NULL };
	simprom_sample(f, "edge_device_info", info, 1.0);

	histogram(f, "inference_latency_seconds", "Inference latency in seconds", lat_le, d->buckets,
		  SIMDEV_NBUCKETS, d->lat_sum, d->created);

	/* a labelled child exists once it was first counted, as in the Python client */
	const char *ok[] = { "model", d->model, "status", "success", NULL };
	const char *err[] = { "model", d->model, "status", "error", NULL };
	simprom_header(f, "inference_requests_total", "Total inference requests", "counter");
	if (d->req_ok)
		simprom_sample(f, "inference_requests_total", ok, (double)d->req_ok);
	if (d->req_err)
		simprom_sample(f, "inference_requests_total", err, (double)d->req_err);
	if (d->req_ok || d->req_err) {
		simprom_header(f, "inference_requests_created", "Total inference requests", "gauge");
		if (d->req_ok)
			simprom_sample(f, "inference_requests_created", ok, d->created);
		if (d->req_err)
			simprom_sample(f, "inference_requests_created", err, d->created);
	}

	gauge(f, "inference_active_requests", "Currently active inference requests", d->active);
	gauge(f, "inference_queue_depth", "Inference request queue depth", d->queue);
	gauge(f, "gpu_utilization_percent", "GPU utilization percentage", rep_util(d));
	gauge(f, "gpu_memory_used_bytes", "GPU memory used in bytes", rep_gpu_mem(d));
	gauge(f, "gpu_memory_total_bytes", "Total GPU memory in bytes", g->ram);
	gauge(f, "gpu_temperature_celsius", "GPU temperature in Celsius", rep_temp(d));
	gauge(f, "gpu_power_watts", "GPU power consumption in watts", rep_power(d));
	gauge(f, "cpu_utilization_percent", "CPU utilization percentage", round_to(d->cpu_util, 1));
	gauge(f, "memory_used_bytes", "System memory used in bytes", floor(d->mem_used));
	gauge(f, "memory_total_bytes", "Total system memory in bytes", g->ram);
	gauge(f, "disk_used_bytes", "Disk space used in bytes", floor(d->disk_used));

	simprom_header(f, "model_loaded", "Model load status (1=loaded, 0=not loaded)", "gauge");
	for (int i = 0; i < d->nloaded_seen; i++) {
		const char *l[] = { "model_name", d->model, "version", d->loaded_seen[i], NULL };
		bool on = !strcmp(d->loaded_seen[i], d->version) && simdev_model_loaded(d);
		simprom_sample(f, "model_loaded", l, on ? 1.0 : 0.0);
	}
	histogram(f, "model_load_time_seconds", "Model loading time in seconds", load_le, d->load_buckets,
		  SIMDEV_NLOADB, d->load_sum, d->created);
	gauge(f, "device_health_status", "Device health status (1=healthy, 0=unhealthy)",
	      simdev_health_now(d) == SIMDEV_HEALTHY ? 1.0 : 0.0);
}

bool simdev_version_valid(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n >= SIMDEV_VLEN)
		return false;
	for (; *v; v++)
		if (!((*v >= '0' && *v <= '9') || (*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		      strchr("._+-", *v)))
			return false;
	return true;
}

static int fail(char **err, const char *key, const char *what)
{
	*err = xasprintf("%s: %s", key, what);
	return -1;
}

static int get_number(json_t *v, const char *key, double lo, double hi, double *out, char **err)
{
	if (!json_is_number(v))
		return fail(err, key, "expected a number");
	double x = json_number_value(v);
	if (!(x >= lo && x <= hi))
		return *err = xasprintf("%s: %g is out of range [%g, %g]", key, x, lo, hi), -1;
	*out = x;
	return 0;
}

/* {"3.2": {"latency_factor": 1.5, "error_rate": 0.05, "rate_factor": 0.1}, ...}:
 * replaces every profile; a key left out is nominal. */
static int set_vprofs(simdev *d, json_t *v, char **err)
{
	static const char key[] = "version_profiles";
	if (json_is_null(v)) {
		d->nvprof = 0;
		return 0;
	}
	if (!json_is_object(v) || json_object_size(v) > SIMDEV_MAXV)
		return fail(err, key, "expected an object of at most 16 versions");
	int n = 0;
	const char *ver;
	json_t *p;
	json_object_foreach(v, ver, p) {
		if (!simdev_version_valid(ver) || !json_is_object(p))
			return fail(err, key, "expected {\"VERSION\": {\"latency_factor\", \"error_rate\", \"rate_factor\"}}");
		simvprof *vp = &d->vprof[n++];
		snprintf(vp->version, sizeof vp->version, "%s", ver);
		vp->latency_factor = 1.0;
		vp->error_rate = -1.0;
		vp->rate_factor = 1.0;
		const char *k;
		json_t *x;
		json_object_foreach(p, k, x) {
			int rc;
			if (!strcmp(k, "latency_factor"))
				rc = get_number(x, "version_profiles latency_factor", 0.01, 100, &vp->latency_factor, err);
			else if (!strcmp(k, "error_rate"))
				rc = get_number(x, "version_profiles error_rate", 0, 1, &vp->error_rate, err);
			else if (!strcmp(k, "rate_factor"))
				rc = get_number(x, "version_profiles rate_factor", 0, 100, &vp->rate_factor, err);
			else
				rc = (*err = xasprintf("version_profiles: unknown key '%s'", k), -1);
			if (rc)
				return -1;
		}
	}
	d->nvprof = n;
	return 0;
}

static int set_one(simdev *d, const char *key, json_t *v, char **err)
{
	double x;
	if (!strcmp(key, "gpu_temp")) {
		if (get_number(v, key, 0, 150, &x, err))
			return -1;
		/* move the set point too, or the temperature would fall straight back */
		d->temp_offset += x - temp_target(d);
		d->temp = x;
	} else if (!strcmp(key, "temp_trend")) {
		if (get_number(v, key, -60, 60, &d->temp_trend, err))
			return -1;
	} else if (!strcmp(key, "gpu_util")) {
		if (get_number(v, key, 0, 100, &x, err))
			return -1;
		d->util = d->util_base = x;
	} else if (!strcmp(key, "status")) {
		const char *s = json_string_value(v);
		if (json_is_null(v) || (s && !strcmp(s, "auto")))
			d->status_override = -1;
		else if (s && !strcmp(s, "healthy"))
			d->status_override = SIMDEV_HEALTHY;
		else if (s && !strcmp(s, "degraded"))
			d->status_override = SIMDEV_DEGRADED;
		else if (s && !strcmp(s, "unhealthy"))
			d->status_override = SIMDEV_UNHEALTHY;
		else
			return fail(err, key, "expected healthy, degraded, unhealthy, auto or null");
	} else if (!strcmp(key, "reachable")) {
		if (!json_is_boolean(v))
			return fail(err, key, "expected true or false");
		if (!json_is_true(v))
			d->fault = SIMFAULT_UNREACHABLE;
		else if (d->fault == SIMFAULT_UNREACHABLE)
			d->fault = SIMFAULT_NONE;
	} else if (!strcmp(key, "fault")) {
		int f = json_is_null(v) ? SIMFAULT_NONE : json_is_string(v) ? simfault_parse(json_string_value(v)) : -1;
		if (f < 0)
			return fail(err, key, "unknown fault kind");
		d->fault = (simfault)f;
	} else if (!strcmp(key, "slow_ms")) {
		if (get_number(v, key, 0, 600000, &x, err))
			return -1;
		d->slow_ms = (int)x;
	} else if (!strcmp(key, "drift")) {
		if (get_number(v, key, 0, 100, &d->drift, err))
			return -1;
	} else if (!strcmp(key, "bad_version")) {
		if (json_is_null(v)) {
			d->nbad = 0;
		} else {
			if (!json_is_string(v) || !simdev_version_valid(json_string_value(v)))
				return fail(err, key, "expected a version string or null");
			add_unique(d->bad, &d->nbad, json_string_value(v));
		}
	} else if (!strcmp(key, "bad_versions") || !strcmp(key, "versions")) {
		bool bad = key[0] == 'b';
		if (!json_is_array(v) || json_array_size(v) > SIMDEV_MAXV)
			return fail(err, key, "expected a list of at most 16 versions");
		int n = 0;
		char(*list)[SIMDEV_VLEN] = bad ? d->bad : d->versions;
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) {
			if (!json_is_string(e) || !simdev_version_valid(json_string_value(e)))
				return fail(err, key, "expected version strings");
			add_unique(list, &n, json_string_value(e));
		}
		*(bad ? &d->nbad : &d->nversions) = n;
		if (!bad)
			simdev_add_version(d, d->version); /* the running one is on disk, whatever was said */
	} else if (!strcmp(key, "version_profiles")) {
		return set_vprofs(d, v, err);
	} else if (!strcmp(key, "load_delay_ms")) {
		if (get_number(v, key, 0, 3600000, &x, err))
			return -1;
		d->load_delay_ms = (int)x;
	} else if (!strcmp(key, "model_version")) {
		if (!json_is_string(v) || !simdev_version_valid(json_string_value(v)))
			return fail(err, key, "expected a version string");
		snprintf(d->version, sizeof d->version, "%s", json_string_value(v));
		simdev_add_version(d, d->version);
		add_unique(d->loaded_seen, &d->nloaded_seen, d->version);
	} else {
		*err = xasprintf("unknown setting '%s'", key);
		return -1;
	}
	return 0;
}

int simdev_set(simdev *d, json_t *settings, char **err)
{
	if (!json_is_object(settings)) {
		*err = xstrdup("expected a JSON object");
		return -1;
	}
	/* apply to a copy, keep it only if every key was right */
	simdev *c = xmalloc(sizeof *c);
	memcpy(c, d, sizeof *c);
	const char *key;
	json_t *v;
	json_object_foreach(settings, key, v) {
		if (set_one(c, key, v, err)) {
			free(c);
			return -1;
		}
	}
	memcpy(d, c, sizeof *d);
	free(c);
	return 0;
}

json_t *simdev_describe(const simdev *d, const char *factory, double sim_s)
{
	char addr[16];
	snprintf(addr, sizeof addr, "%u.%u.%u.%u", d->addr >> 24, (d->addr >> 16) & 255, (d->addr >> 8) & 255,
		 d->addr & 255);
	json_t *o = json_object();
	json_object_set_new(o, "host", json_string(d->host));
	json_object_set_new(o, "address", json_string(addr));
	json_object_set_new(o, "factory", json_string(factory));
	json_object_set_new(o, "gpu_type", json_string(gpus[d->gpu].name));
	json_object_set_new(o, "status", json_string(simdev_health_name(simdev_health_now(d))));
	json_object_set_new(o, "status_override",
			    d->status_override < 0 ? json_null()
						   : json_string(simdev_health_name((simdev_health)d->status_override)));
	json_object_set_new(o, "fault", json_string(simfault_name(d->fault)));
	json_object_set_new(o, "slow_ms", json_integer(d->slow_ms));
	json_object_set_new(o, "model_version", json_string(d->version));
	json_object_set_new(o, "model_loaded", json_boolean(simdev_model_loaded(d)));
	json_object_set_new(o, "versions", string_list((char(*)[SIMDEV_VLEN])d->versions, d->nversions));
	json_object_set_new(o, "bad_versions", string_list((char(*)[SIMDEV_VLEN])d->bad, d->nbad));
	json_object_set_new(o, "gpu_temp", json_real(rep_temp(d)));
	json_object_set_new(o, "temp_trend", json_real(d->temp_trend));
	json_object_set_new(o, "drift", json_real(d->drift));
	json_object_set_new(o, "load_delay_ms", json_integer(d->load_delay_ms));
	json_object_set_new(o, "update_state", json_string(upd_name(d->upd)));
	json_object_set_new(o, "last_update_error", d->last_error[0] ? json_string(d->last_error) : json_null());
	json_object_set_new(o, "uptime_hours", json_real(round_to(d->boot_uptime_h + sim_s / 3600.0, 2)));
	json_t *vp = json_object();
	for (int i = 0; i < d->nvprof; i++)
		json_object_set_new(vp, d->vprof[i].version,
				    json_pack("{s:f, s:o, s:f}", "latency_factor", d->vprof[i].latency_factor, "error_rate",
					      d->vprof[i].error_rate < 0 ? json_null() : json_real(d->vprof[i].error_rate),
					      "rate_factor", d->vprof[i].rate_factor));
	json_object_set_new(o, "version_profiles", vp);
	json_object_set_new(o, "update_requests", json_integer((json_int_t)d->update_requests));
	json_object_set_new(o, "updates_accepted", json_integer((json_int_t)d->updates_accepted));
	json_object_set_new(o, "rollback_requests", json_integer((json_int_t)d->rollback_requests));
	return o;
}
