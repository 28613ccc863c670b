/* bench_prom: parse throughput of the exposition parser over the files given (not a test; prints MB/s and samples/s). */
#include "metrics/devmetrics.h"
#include "metrics/prom.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0, r;
	char *b = xmalloc(cap);
	while ((r = fread(b + n, 1, cap - n, f)) > 0)
		if ((n += r) == cap)
			b = xrealloc(b, cap *= 2);
	fclose(f);
	*len = n;
	return b;
}

int main(int argc, char **argv)
{
	int runs = 5, a = 1;
	bool devm = false;
	const char *label = "input";
	for (; a < argc && argv[a][0] == '-'; a++) {
		if (!strcmp(argv[a], "--runs") && a + 1 < argc)
			runs = atoi(argv[++a]);
		else if (!strcmp(argv[a], "--label") && a + 1 < argc)
			label = argv[++a];
		else if (!strcmp(argv[a], "--devmetrics"))
			devm = true;
		else {
			fprintf(stderr, "usage: bench_prom [--runs N] [--label NAME] [--devmetrics] FILE...\n");
			return 2;
		}
	}
	size_t nf = (size_t)(argc - a);
	if (!nf || runs < 1) {
		fprintf(stderr, "usage: bench_prom [--runs N] [--label NAME] [--devmetrics] FILE...\n");
		return 2;
	}
	char **text = xcalloc(nf, sizeof *text);
	size_t *len = xcalloc(nf, sizeof *len), bytes = 0, samples = 0;
	for (size_t i = 0; i < nf; i++) {
		if (!(text[i] = slurp(argv[a + (int)i], &len[i]))) {
			fprintf(stderr, "bench_prom: cannot read %s\n", argv[a + (int)i]);
			return 1;
		}
		bytes += len[i];
		char *err = NULL;
		prom_doc *d = prom_parse(text[i], len[i], NULL, &err);
		if (!d) {
			fprintf(stderr, "bench_prom: %s: %s\n", argv[a + (int)i], err);
			return 1;
		}
		samples += d->nsamples;
		prom_doc_free(d);
	}
	/* enough rounds for a run of at least ~0.5 s */
	int reps = (int)(5e6 / (double)(bytes + 1)) + 1;
	double best = 1e30, best_dm = 1e30;
	for (int r = 0; r < runs; r++) {
		double t0 = now_s();
		for (int k = 0; k < reps; k++)
			for (size_t i = 0; i < nf; i++) {
				char *err = NULL;
				prom_doc_free(prom_parse(text[i], len[i], NULL, &err));
			}
		double t = (now_s() - t0) / reps;
		if (t < best)
			best = t;
		if (devm) {
			devmetrics *dm = devmetrics_new();
			t0 = now_s();
			for (int k = 0; k < reps; k++)
				for (size_t i = 0; i < nf; i++) {
					char *err = NULL;
					devmetrics_take(dm, i, text[i], len[i], k + 1, &err);
				}
			t = (now_s() - t0) / reps;
			if (t < best_dm)
				best_dm = t;
			devmetrics_free(dm);
		}
	}
	printf("%s: %zu exposition%s, %zu bytes, %zu samples\n", label, nf, nf == 1 ? "" : "s", bytes, samples);
	printf("  parse:            %8.1f MB/s  %10.0f samples/s  %8.3f ms per round (best of %d)\n",
	       (double)bytes / best / 1e6, (double)samples / best, best * 1e3, runs);
	if (devm)
		printf("  parse + readings: %8.1f MB/s  %10.0f samples/s  %8.3f ms per round (%.2f us per device)\n",
		       (double)bytes / best_dm / 1e6, (double)samples / best_dm, best_dm * 1e3, best_dm / (double)nf * 1e6);
	for (size_t i = 0; i < nf; i++)
		free(text[i]);
	free(text);
	free(len);
	return 0;
}
