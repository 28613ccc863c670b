/* simfleet: factories, devices and their addresses; the demo recipe; inventories of the fleet. */
#include "sim/simfleet.h"
#include "util/xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Factory cities, in the order factories are numbered; the first three are the seed's. */
static const struct {
	const char *name, *code;
} cities[] = {
	{ "amsterdam", "ams" }, { "berlin", "ber" },	 { "paris", "par" },	  { "madrid", "mad" },
	{ "milan", "mil" },	{ "vienna", "vie" },	 { "prague", "prg" },	  { "warsaw", "waw" },
	{ "lyon", "lys" },	{ "munich", "muc" },	 { "hamburg", "ham" },	  { "brussels", "bru" },
	{ "rotterdam", "rtm" }, { "zurich", "zrh" },	 { "barcelona", "bcn" },  { "stockholm", "sto" },
	{ "copenhagen", "cph" }, { "oslo", "osl" },	 { "helsinki", "hel" },	  { "lisbon", "lis" },
	{ "dublin", "dub" },	{ "budapest", "bud" },	 { "turin", "trn" },	  { "porto", "opo" },
	{ "gdansk", "gdn" },	{ "stuttgart", "str" },	 { "leipzig", "lej" },	  { "antwerp", "anr" },
	{ "bilbao", "bio" },	{ "bologna", "blq" },
};
#define NCITIES (sizeof cities / sizeof cities[0])

#define MODEL_NAME "defect-detection"
#define CURRENT_VERSION "3.1"
#define OLD_VERSION "3.0"

/* Random stream numbers for draws that are not a device's own (devices use their
 * index, so these sit far above any index). */
enum { STREAM_FACTORY = 1 << 30, STREAM_DEMO, STREAM_SIZES, STREAM_INJECT };

int simfleet_parse_addr(const char *s, uint32_t *out)
{
	unsigned a[4];
	char tail;
	if (sscanf(s, "%3u.%3u.%3u.%3u%c", &a[0], &a[1], &a[2], &a[3], &tail) != 4)
		return -1;
	for (int i = 0; i < 4; i++)
		if (a[i] > 255)
			return -1;
	*out = a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3];
	return 0;
}

void simfleet_format_addr(uint32_t a, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static void name_factory(simfactory *fa, size_t f)
{
	if (f < NCITIES) {
		snprintf(fa->name, sizeof fa->name, "%s", cities[f].name);
		snprintf(fa->code, sizeof fa->code, "%s", cities[f].code);
	} else {
		snprintf(fa->name, sizeof fa->name, "site%zu", f + 1);
		snprintf(fa->code, sizeof fa->code, "s%zu", f + 1);
	}
}

/* The team's layout: 127.0.<factory+1>.<device+1>; past 254 devices in one factory
 * the second octet counts on. */
static int default_addr(size_t f, size_t d, uint32_t *out, char **err)
{
	if (f >= 255 || d / 254 >= 256) {
		*err = xasprintf("the default address layout holds 254 factories of 65024 devices; use --base");
		return -1;
	}
	*out = 127u << 24 | (uint32_t)(d / 254) << 16 | (uint32_t)(f + 1) << 8 | (uint32_t)(d % 254 + 1);
	return 0;
}

/* Sequential from --base, skipping .0 and .255 so no address looks like a network or broadcast. */
static int next_addr(uint32_t *cur, uint32_t *out, char **err)
{
	while ((*cur & 255) == 0 || (*cur & 255) == 255)
		(*cur)++;
	if (*cur >> 24 != 127) {
		*err = xstrdup("device addresses would leave 127.0.0.0/8; choose a lower --base");
		return -1;
	}
	*out = (*cur)++;
	return 0;
}

static int pick_gpu(simrng *r)
{
	double u = simrng_uniform(r);
	return u < 0.5 ? 0 : u < 0.8 ? 1 : u < 0.9 ? 2 : 3;
}

static void set_or_die(simdev *d, json_t *settings)
{
	char *err = NULL;
	if (simdev_set(d, settings, &err)) {
		/* only reached by a wrong recipe in this file */
		fprintf(stderr, "fleetsim: internal error: %s\n", err);
		abort();
	}
	json_decref(settings);
}

/* A device's defaults before its own draw: the seed's model on the current version,
 * the previous one still on disk. */
static void device_defaults(simdev *d, const simfleet_opts *o)
{
	snprintf(d->model, sizeof d->model, "%s", MODEL_NAME);
	snprintf(d->version, sizeof d->version, "%s", CURRENT_VERSION);
	simdev_add_version(d, OLD_VERSION);
	simdev_add_version(d, CURRENT_VERSION);
	snprintf(d->loaded_seen[0], SIMDEV_VLEN, "%s", CURRENT_VERSION);
	d->nloaded_seen = 1;
	d->load_delay_ms = o->load_delay_ms;
	d->slow_ms = o->slow_ms;
}

static void make_old(simdev *d)
{
	snprintf(d->version, sizeof d->version, "%s", OLD_VERSION);
	d->nversions = 0;
	simdev_add_version(d, OLD_VERSION);
	snprintf(d->loaded_seen[0], SIMDEV_VLEN, "%s", OLD_VERSION);
	d->nloaded_seen = 1;
}

/* The demo's interesting devices: disjoint handfuls, picked by the seed. */
static void demo_conditions(simfleet *f)
{
	size_t n = f->ndevs;
	size_t *order = xmalloc(n * sizeof *order);
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	simrng r;
	simrng_seed(&r, f->seed, STREAM_DEMO);
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)simrng_below(&r, i + 1);
		size_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	size_t k = 0;
#define NEXT (k < n ? &f->devs[order[k++]] : NULL)
	simdev *d;
	for (int i = 0; i < 5 && (d = NEXT); i++) /* hot, but not yet throttling */
		set_or_die(d, json_pack("{s:f}", "gpu_temp", 82.0 + 5.0 * simrng_uniform(&r)));
	if ((d = NEXT)) /* heating up while you watch */
		set_or_die(d, json_pack("{s:f, s:f}", "gpu_temp", 74.0, "temp_trend", 1.5));
	for (int i = 0; i < 3 && (d = NEXT); i++)
		set_or_die(d, json_pack("{s:s}", "status", "unhealthy"));
	for (int i = 0; i < 4 && (d = NEXT); i++)
		set_or_die(d, json_pack("{s:s}", "status", "degraded"));
	for (int i = 0; i < 6 && (d = NEXT); i++)
		set_or_die(d, json_pack("{s:f}", "drift", 0.6 + 1.4 * simrng_uniform(&r)));
	for (int i = 0; i < 10 && (d = NEXT); i++)
		make_old(d);
	for (int i = 0; i < 2 && (d = NEXT); i++)
		d->fault = SIMFAULT_UNREACHABLE;
	if ((d = NEXT))
		d->fault = SIMFAULT_REFUSED;
	for (int i = 0; i < 3 && (d = NEXT); i++) /* a rollout of 3.2 fails validation here */
		set_or_die(d, json_pack("{s:s}", "bad_version", "3.2"));
#undef NEXT
	free(order);
}

simfleet *simfleet_generate(const simfleet_opts *o, char **err)
{
	size_t nf = o->demo ? 15 : o->factories, nd = o->demo ? 200 : o->devices;
	if (nf == 0 || nd == 0 || nd < nf) {
		*err = xasprintf("need at least one device per factory (%zu devices, %zu factories)", nd, nf);
		return NULL;
	}
	simfleet *f = xcalloc(1, sizeof *f);
	f->seed = o->seed;
	f->nfactories = nf;
	f->factories = xcalloc(nf, sizeof *f->factories);
	f->ndevs = nd;
	f->devs = xcalloc(nd, sizeof *f->devs);

	/* factory sizes: even, or for the demo uneven as real sites are */
	size_t *size = xcalloc(nf, sizeof *size);
	if (o->demo) {
		simrng r;
		simrng_seed(&r, o->seed, STREAM_SIZES);
		double *w = xmalloc(nf * sizeof *w), tot = 0;
		for (size_t i = 0; i < nf; i++)
			tot += w[i] = 0.6 + 0.8 * simrng_uniform(&r);
		size_t used = 0;
		for (size_t i = 0; i < nf; i++)
			used += size[i] = 1 + (size_t)floor((double)(nd - nf) * w[i] / tot);
		for (size_t i = 0; used < nd; i = (i + 1) % nf, used++)
			size[i]++;
		free(w);
	} else {
		for (size_t i = 0; i < nf; i++)
			size[i] = nd / nf + (i < nd % nf);
	}

	uint32_t cur = o->base;
	size_t k = 0;
	for (size_t fi = 0; fi < nf; fi++) {
		name_factory(&f->factories[fi], fi);
		simrng r;
		simrng_seed(&r, o->seed, STREAM_FACTORY + fi);
		int gpu = pick_gpu(&r);
		double ambient = 6.0 * simrng_uniform(&r);
		for (size_t di = 0; di < size[fi]; di++, k++) {
			simdev *d = &f->devs[k];
			snprintf(d->host, sizeof d->host, "edge-%s-%02zu", f->factories[fi].code, di + 1);
			d->index = k;
			d->factory = (int)fi;
			d->gpu = simrng_uniform(&r) < 0.9 ? gpu : (int)simrng_below(&r, (uint64_t)simdev_gpu_count());
			d->ambient = ambient;
			if (o->base ? next_addr(&cur, &d->addr, err) : default_addr(fi, di, &d->addr, err)) {
				free(size);
				simfleet_free(f);
				return NULL;
			}
			device_defaults(d, o);
			simdev_init(d, o->seed, o->epoch);
		}
	}
	free(size);
	if (o->demo)
		demo_conditions(f);
	return f;
}

static int file_fail(char **err, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int file_fail(char **err, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	*err = xasprintf("%s: %s", path, m);
	free(m);
	return -1;
}

/* One device entry of a fleet file: identity keys here, everything else simdev_set. */
static int load_device(simfleet *f, simdev *d, json_t *e, const char *path, char **err)
{
	json_t *settings = json_object();
	const char *key;
	json_t *v;
	int rc = 0;
	json_object_foreach(e, key, v) {
		const char *s = json_string_value(v);
		if (!strcmp(key, "host")) {
			if (!s || !*s || strlen(s) >= sizeof d->host || strspn(s, "abcdefghijklmnopqrstuvwxyz"
									  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != strlen(s)) {
				rc = file_fail(err, path, "bad host name '%s'", s ? s : "");
				break;
			}
			snprintf(d->host, sizeof d->host, "%s", s);
		} else if (!strcmp(key, "address")) {
			if (!s || simfleet_parse_addr(s, &d->addr) || d->addr >> 24 != 127) {
				rc = file_fail(err, path, "address '%s' is not in 127.0.0.0/8", s ? s : "");
				break;
			}
		} else if (!strcmp(key, "gpu_type")) {
			if (!s || simdev_gpu_find(s) < 0) {
				rc = file_fail(err, path, "unknown gpu_type '%s'", s ? s : "");
				break;
			}
			d->gpu = simdev_gpu_find(s);
		} else if (!strcmp(key, "model_name")) {
			if (!s || !*s || strlen(s) >= sizeof d->model) {
				rc = file_fail(err, path, "bad model_name%s", "");
				break;
			}
			snprintf(d->model, sizeof d->model, "%s", s);
		} else {
			json_object_set(settings, key, v);
		}
	}
	if (!rc) {
		simdev_init(d, f->seed, 0); /* draws again: gpu or address may have changed above */
		char *e2 = NULL;
		if (simdev_set(d, settings, &e2)) {
			rc = file_fail(err, path, "%s", e2);
			free(e2);
		}
		if (!rc && d->nloaded_seen == 0) {
			snprintf(d->loaded_seen[0], SIMDEV_VLEN, "%s", d->version);
			d->nloaded_seen = 1;
		}
	}
	json_decref(settings);
	return rc;
}

simfleet *simfleet_load(const char *path, const simfleet_opts *o, char **err)
{
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		*err = xasprintf("%s:%d: %s", path, je.line, je.text);
		return NULL;
	}
	json_t *facs = json_object_get(root, "factories");
	if (!json_is_array(facs) || json_array_size(facs) == 0) {
		*err = xasprintf("%s: expected an object with a non-empty \"factories\" list", path);
		json_decref(root);
		return NULL;
	}
	simfleet *f = xcalloc(1, sizeof *f);
	f->seed = o->seed;
	f->nfactories = json_array_size(facs);
	f->factories = xcalloc(f->nfactories, sizeof *f->factories);
	size_t i, total = 0;
	json_t *fa;
	json_array_foreach(facs, i, fa) {
		json_t *devs = json_object_get(fa, "devices");
		if (json_is_integer(devs) && json_integer_value(devs) > 0 && json_integer_value(devs) <= 65024)
			total += (size_t)json_integer_value(devs);
		else if (json_is_array(devs))
			total += json_array_size(devs);
		else
			goto bad_factory;
	}
	f->devs = xcalloc(total ? total : 1, sizeof *f->devs);
	uint32_t cur = o->base;
	size_t k = 0;
	json_array_foreach(facs, i, fa) {
		simfactory *F = &f->factories[i];
		name_factory(F, i);
		const char *nm = json_string_value(json_object_get(fa, "name"));
		const char *cd = json_string_value(json_object_get(fa, "code"));
		const char *gt = json_string_value(json_object_get(fa, "gpu_type"));
		if (nm) {
			if (!*nm || strlen(nm) >= sizeof F->name || strspn(nm, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(nm))
				goto bad_factory;
			snprintf(F->name, sizeof F->name, "%s", nm);
			if (!cd)
				snprintf(F->code, sizeof F->code, "%.3s", nm);
		}
		if (cd) {
			if (!*cd || strlen(cd) >= sizeof F->code)
				goto bad_factory;
			snprintf(F->code, sizeof F->code, "%s", cd);
		}
		int gpu = gt ? simdev_gpu_find(gt) : 0;
		if (gpu < 0)
			goto bad_factory;
		json_t *devs = json_object_get(fa, "devices");
		size_t n = json_is_array(devs) ? json_array_size(devs) : (size_t)json_integer_value(devs);
		for (size_t di = 0; di < n; di++, k++) {
			simdev *d = &f->devs[k];
			snprintf(d->host, sizeof d->host, "edge-%s-%02zu", F->code, di + 1);
			d->index = k;
			d->factory = (int)i;
			d->gpu = gpu;
			d->ambient = 3.0;
			if (o->base ? next_addr(&cur, &d->addr, err) : default_addr(i, di, &d->addr, err))
				goto fail;
			device_defaults(d, o);
			d->nloaded_seen = 0;
			json_t *e = json_is_array(devs) ? json_array_get(devs, di) : NULL;
			if (e && !json_is_object(e)) {
				*err = xasprintf("%s: factory %zu: devices must be objects", path, i + 1);
				goto fail;
			}
			json_t *empty = json_object();
			int rc = load_device(f, d, e ? e : empty, path, err);
			json_decref(empty);
			if (rc)
				goto fail;
			d->created = o->epoch - d->boot_uptime_h * 3600.0;
		}
	}
	f->ndevs = k;
	/* hosts and addresses must be unique, or the inventory and the sockets clash */
	for (size_t a = 0; a < k; a++)
		for (size_t b = a + 1; b < k; b++)
			if (!strcmp(f->devs[a].host, f->devs[b].host) || f->devs[a].addr == f->devs[b].addr) {
				*err = xasprintf("%s: %s and %s share a host name or an address", path, f->devs[a].host,
						 f->devs[b].host);
				goto fail;
			}
	json_decref(root);
	return f;
bad_factory:
	*err = xasprintf("%s: factory %zu: needs \"devices\" (a count or a list), and a valid name, code and gpu_type",
			 path, i + 1);
fail:
	json_decref(root);
	simfleet_free(f);
	return NULL;
}

void simfleet_free(simfleet *f)
{
	if (!f)
		return;
	free(f->factories);
	free(f->devs);
	free(f);
}

simdev *simfleet_find(const simfleet *f, const char *host)
{
	for (size_t i = 0; i < f->ndevs; i++)
		if (!strcmp(f->devs[i].host, host))
			return &f->devs[i];
	return NULL;
}

json_t *simfleet_inject(simfleet *f, simfault kind, double fraction, uint64_t seed)
{
	size_t *cand = xmalloc((f->ndevs ? f->ndevs : 1) * sizeof *cand), nc = 0;
	for (size_t i = 0; i < f->ndevs; i++) {
		simfault cur = f->devs[i].fault;
		if (kind == SIMFAULT_NONE ? cur != SIMFAULT_NONE : cur == SIMFAULT_NONE)
			cand[nc++] = i;
	}
	size_t want = (size_t)llround(fraction * (double)f->ndevs);
	if (want > nc)
		want = nc;
	simrng r;
	simrng_seed(&r, seed, STREAM_INJECT);
	for (size_t i = 0; i < want; i++) { /* partial Fisher-Yates */
		size_t j = i + (size_t)simrng_below(&r, nc - i);
		size_t t = cand[i];
		cand[i] = cand[j];
		cand[j] = t;
	}
	char *chosen = xcalloc(f->ndevs ? f->ndevs : 1, 1);
	for (size_t i = 0; i < want; i++) {
		f->devs[cand[i]].fault = kind;
		chosen[cand[i]] = 1;
	}
	json_t *hosts = json_array();
	for (size_t i = 0; i < f->ndevs; i++)
		if (chosen[i])
			json_array_append_new(hosts, json_string(f->devs[i].host));
	free(chosen);
	free(cand);
	return hosts;
}

static FILE *memfile(char **buf, size_t *len)
{
	FILE *m = open_memstream(buf, len);
	if (!m) {
		fprintf(stderr, "fleetsim: out of memory\n");
		abort();
	}
	return m;
}

char *simfleet_ini(const simfleet *f, const simfleet_invopts *o)
{
	char *buf = NULL, addr[16];
	size_t len = 0;
	FILE *m = memfile(&buf, &len);
	fprintf(m, "# fleetsim: %zu devices in %zu factories, seed %llu\n", f->ndevs, f->nfactories,
		(unsigned long long)f->seed);
	for (size_t fi = 0; fi < f->nfactories; fi++) {
		fprintf(m, "\n[factory_%s]\n", f->factories[fi].name);
		for (size_t i = 0; i < f->ndevs; i++) {
			const simdev *d = &f->devs[i];
			if (d->factory != (int)fi)
				continue;
			simfleet_format_addr(d->addr, addr);
			fprintf(m, "%s ansible_host=%s gpu_type=%s\n", d->host, addr, simdev_gpu_name(d->gpu));
		}
	}
	if (o->registry_url || o->agent_port != 8080 || o->metrics_port != 8000) {
		fprintf(m, "\n[all:vars]\n");
		if (o->registry_url)
			fprintf(m, "model_registry=%s\n", o->registry_url);
		if (o->agent_port != 8080)
			fprintf(m, "fleetdeck_agent_port=%d\n", o->agent_port);
		if (o->metrics_port != 8000)
			fprintf(m, "fleetdeck_metrics_port=%d\n", o->metrics_port);
	}
	fclose(m);
	return buf;
}

char *simfleet_yaml(const simfleet *f, const simfleet_invopts *o)
{
	char *buf = NULL, addr[16];
	size_t len = 0;
	FILE *m = memfile(&buf, &len);
	fprintf(m, "# fleetsim: %zu devices in %zu factories, seed %llu\nall:\n", f->ndevs, f->nfactories,
		(unsigned long long)f->seed);
	if (o->registry_url || o->agent_port != 8080 || o->metrics_port != 8000) {
		fprintf(m, "  vars:\n");
		/* quoted: a URL's ':' is safe in plain YAML, but quoting removes all doubt */
		if (o->registry_url)
			fprintf(m, "    model_registry: \"%s\"\n", o->registry_url);
		if (o->agent_port != 8080)
			fprintf(m, "    fleetdeck_agent_port: %d\n", o->agent_port);
		if (o->metrics_port != 8000)
			fprintf(m, "    fleetdeck_metrics_port: %d\n", o->metrics_port);
	}
	fprintf(m, "  children:\n");
	for (size_t fi = 0; fi < f->nfactories; fi++) {
		fprintf(m, "    factory_%s:\n      hosts:\n", f->factories[fi].name);
		for (size_t i = 0; i < f->ndevs; i++) {
			const simdev *d = &f->devs[i];
			if (d->factory != (int)fi)
				continue;
			simfleet_format_addr(d->addr, addr);
			fprintf(m, "        %s:\n          ansible_host: %s\n          gpu_type: %s\n", d->host, addr,
				simdev_gpu_name(d->gpu));
		}
	}
	fclose(m);
	return buf;
}
