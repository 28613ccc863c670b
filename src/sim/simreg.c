/* simreg: registry content, generated at start-up and served from memory. */
#include "sim/simreg.h"
#include "sim/simdev.h"
#include "sim/simrng.h"
#include "util/pyjson.h"
#include "util/xalloc.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL "defect-detection"
#define BASELINE_SAMPLES 1000 /* the seed's baseline_samples */

/* The versions on offer, oldest first, with the metadata the seed's registry keeps. */
static const struct version_meta {
	const char *version, *date, *description;
	double map, latency_ms;
	const char *tags[3];
} versions[] = {
	{ "3.0", "2025-01-10", "Initial production model", 37.3, 18.5, { "production", "jetson-orin", NULL } },
	{ "3.1", "2025-02-14", "Retrained with additional data", 38.1, 19.2,
	  { "production", "jetson-orin", "improved-accuracy" } },
	{ "3.2", "2025-03-21", "New augmentation pipeline; canary first", 39.4, 18.9, { "candidate", "jetson-orin", NULL } },
};
#define NVERSIONS (sizeof versions / sizeof versions[0])

struct simreg {
	simreg_file *files;
	size_t nfiles;
	char checksums[NVERSIONS][65];
};

void simreg_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < mdlen && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
}

static void add(simreg *r, char *path, unsigned char *data, size_t len, const char *ctype)
{
	r->files = xrealloc(r->files, (r->nfiles + 1) * sizeof *r->files);
	r->files[r->nfiles++] = (simreg_file){ path, data, len, ctype };
}

/* Bytes that look like the start of an ONNX protobuf, then a seeded stream: the same
 * version always has the same bytes, so its checksum is stable across runs. */
static unsigned char *model_bytes(const char *version, size_t n)
{
	unsigned char *b = xmalloc(n);
	simrng r;
	uint64_t h = 0;
	for (const char *p = version; *p; p++)
		h = h * 131 + (unsigned char)*p;
	simrng_seed(&r, 0x6f6e6e78ULL, h);
	for (size_t i = 0; i < n; i += 8) {
		uint64_t x = simrng_next(&r);
		memcpy(b + i, &x, n - i < 8 ? n - i : 8);
	}
	static const char magic[] = "\x08\x07\x12\x07pytorch\x1a\x05" "2.1.0";
	memcpy(b, magic, n < sizeof magic - 1 ? n : sizeof magic - 1);
	return b;
}

simreg *simreg_new(const char *base_url, size_t model_bytes_n)
{
	simreg *r = xcalloc(1, sizeof *r);
	json_t *index = json_object();
	for (size_t i = 0; i < NVERSIONS; i++) {
		const struct version_meta *v = &versions[i];
		unsigned char *data = model_bytes(v->version, model_bytes_n);
		simreg_sha256_hex(data, model_bytes_n, r->checksums[i]);
		add(r, xasprintf("/models/%s-v%s-int8.onnx", MODEL, v->version), data, model_bytes_n,
		    "application/octet-stream");

		json_t *base = simdev_baseline_json(MODEL, v->version, BASELINE_SAMPLES);
		char *text = pyjson_dumps(base, -1);
		json_decref(base);
		char *bpath = xasprintf("/models/%s-v%s-baseline.json", MODEL, v->version);
		add(r, bpath, (unsigned char *)text, strlen(text), "application/json");

		json_t *tags = json_array();
		for (int t = 0; t < 3 && v->tags[t]; t++)
			json_array_append_new(tags, json_string(v->tags[t]));
		json_t *meta = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[i,i,i,i], s:f, s:f, s:f, s:s, s:s, s:o, s:s, s:s+}",
					 "name", MODEL, "version", v->version, "architecture", "YOLOv8", "framework",
					 "TensorRT", "precision", "INT8", "input_shape", 1, 3, 640, 640, "mAP", v->map,
					 "latency_ms", v->latency_ms, "model_size_mb",
					 (double)(long long)(model_bytes_n / 10000) / 100.0, "training_date", v->date,
					 "checksum", r->checksums[i], "tags", tags, "description", v->description,
					 "baseline", base_url, bpath);
		char key[64];
		snprintf(key, sizeof key, "%s:%s", MODEL, v->version);
		json_object_set_new(index, key, meta);
	}
	char *text = pyjson_dumps(index, 2);
	json_decref(index);
	add(r, xstrdup("/models/index.json"), (unsigned char *)text, strlen(text), "application/json");
	return r;
}

void simreg_free(simreg *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nfiles; i++) {
		free(r->files[i].path);
		free(r->files[i].data);
	}
	free(r->files);
	free(r);
}

const simreg_file *simreg_find(const simreg *r, const char *path)
{
	for (size_t i = 0; i < r->nfiles; i++)
		if (!strcmp(r->files[i].path, path))
			return &r->files[i];
	return NULL;
}

const char *simreg_checksum(const simreg *r, const char *version)
{
	for (size_t i = 0; i < NVERSIONS; i++)
		if (!strcmp(versions[i].version, version))
			return r->checksums[i];
	return NULL;
}
