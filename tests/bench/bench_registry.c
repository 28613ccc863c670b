/* bench_registry: the model registry's costs, printed (not a test): parsing and checking an
 * index.json of MODELS x VERSIONS entries, a find and a latest over it, and SHA-256 of a model
 * file of MIB MiB as `registry verify` reads it.
 *
 *   bench_registry [MODELS=100] [VERSIONS=100] [MIB=256] */
#include "registry/registry.h"
#include "util/pyjson.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	int nm = argc > 1 ? atoi(argv[1]) : 100, nv = argc > 2 ? atoi(argv[2]) : 100;
	long mib = argc > 3 ? atol(argv[3]) : 256;
	if (nm < 1 || nv < 1 || mib < 1)
		return 2;
	/* the index, as `registry add` writes it (sorted keys, indent 2) */
	json_t *idx = json_object();
	for (int m = 0; m < nm; m++)
		for (int v = 0; v < nv; v++) {
			char name[32], ver[32], key[64];
			snprintf(name, sizeof name, "model-%03d", m);
			snprintf(ver, sizeof ver, "%d.%d.%d%s", v / 25, v % 25 / 5, v % 5, v % 7 == 6 ? "-rc.1" : "");
			snprintf(key, sizeof key, "%s:%s", name, ver);
			json_object_set_new(
				idx, key,
				json_pack("{s:s, s:s, s:s, s:s, s:s, s:[i,i,i,i], s:f, s:f, s:f, s:s, s:s, s:[s,s], s:s}",
					  "name", name, "version", ver, "architecture", "YOLOv8", "framework", "TensorRT",
					  "precision", "INT8", "input_shape", 1, 3, 640, 640, "mAP", 37.3 + v * 0.01,
					  "latency_ms", 18.5, "model_size_mb", 6.2, "training_date", "2025-01-10", "checksum",
					  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "tags",
					  "production", "jetson-orin", "description", "a version for the benchmark"));
		}
	char *text = pyjson_dumps(idx, 2);
	json_decref(idx);
	size_t len = strlen(text);
	int reps = 5;
	double best = 1e30;
	char *err = NULL;
	fd_registry *r = NULL;
	for (int i = 0; i < reps; i++) {
		registry_free(r);
		double t0 = now_ms();
		r = registry_parse("/srv/reg", "index.json", text, len, NULL, &err);
		double t = now_ms() - t0;
		if (!r) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		if (t < best)
			best = t;
	}
	printf("index of %d entries (%d models x %d versions, %.1f MB): parse and check %.1f ms (best of %d), "
	       "%.2f us per entry\n",
	       nm * nv, nm, nv, (double)len / 1e6, best, reps, best * 1e3 / (nm * nv));
	int q = 100000;
	double t0 = now_ms();
	size_t hits = 0;
	for (int i = 0; i < q; i++) {
		char name[32];
		snprintf(name, sizeof name, "model-%03d", i % nm);
		hits += registry_find(r, name, "1.2.3") != NULL;
		hits += registry_latest(r, name) != NULL;
	}
	double tq = now_ms() - t0;
	printf("find + latest: %.2f us per pair (%d pairs, %zu hits)\n", tq * 1e3 / q, q, hits);
	registry_free(r);
	free(text);

	/* hashing a model file */
	char path[] = "/tmp/fleetdeck-bench-model-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 1;
	char *buf = xmalloc(1 << 20);
	for (size_t i = 0; i < 1 << 20; i++)
		buf[i] = (char)(i * 2654435761u >> 13);
	for (long i = 0; i < mib; i++)
		if (write(fd, buf, 1 << 20) != 1 << 20)
			return 1;
	close(fd);
	free(buf);
	char hex[65];
	uint64_t bytes;
	t0 = now_ms();
	if (registry_hash_path(path, hex, &bytes, &err)) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	double th = now_ms() - t0;
	printf("sha256 of a %ld MiB file (page cache warm): %.0f ms, %.0f MB/s\n", mib, th, (double)bytes / 1e3 / th);
	unlink(path);
	return 0;
}
