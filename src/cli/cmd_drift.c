/* cmd_drift: `fleetdeck drift BASELINE WINDOW`: has a window of input features drifted from its baseline? */
#include "cli/cli.h"
#include "drift/drift.h"
#include "util/pyjson.h"
#include "util/xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fleetdeck drift BASELINE.json WINDOW.json [--threshold T]\n"
		"                       [--feature-threshold NAME=T]... [--json]\n"
		"\n"
		"Compares a window of a device's input features with the baseline, feature by\n"
		"feature: the two-sample Kolmogorov-Smirnov statistic and p-value, and the\n"
		"Wasserstein distance. Both files are in the shape of a device's /drift:\n"
		"  {\"window\": N, \"features\": {\"mean_intensity\": [N numbers], ...}}\n"
		"(the baseline's N may differ from the window's; both name the same features).\n"
		"\n"
		"A feature drifts when its KS statistic is above its threshold; the drift is\n"
		"critical at KS >= 1.5 x threshold, else a warning. The window drifts when any\n"
		"feature does.\n"
		"\n"
		"  --threshold T               every feature's threshold (default 0.1)\n"
		"  --feature-threshold NAME=T  NAME's threshold (repeatable)\n"
		"  --json                      JSON: {\"features\": {NAME: {\"ks_statistic\",\n"
		"                              \"ks_pvalue\", \"wasserstein\", \"drifted\", \"severity\",\n"
		"                              \"threshold\"}}, \"drifted\", \"severity\", \"max_ks\"}\n"
		"\n"
		"Exit status: 0 no drift; 1 drift; 2 usage error or a file that cannot be read\n"
		"or is not a drift document (FILE: what is wrong).\n");
}

static bool parse_threshold(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || v <= 0)
		return false;
	*out = v;
	return true;
}

/* The whole file, at most DRIFT_MAX_DOC_BYTES; NULL with *err. */
static char *slurp(const char *path, size_t *len, char **err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		*err = xasprintf("%s", strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (n == cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		/* one byte past the limit is enough to know */
		size_t want = cap - n;
		if (n + want > DRIFT_MAX_DOC_BYTES + 1)
			want = DRIFT_MAX_DOC_BYTES + 1 - n;
		size_t got = fread(buf + n, 1, want, f);
		n += got;
		if (n > DRIFT_MAX_DOC_BYTES) {
			*err = xasprintf("larger than the %zu bytes a drift document may have", DRIFT_MAX_DOC_BYTES);
			free(buf);
			fclose(f);
			return NULL;
		}
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		*err = xasprintf("%s", strerror(errno));
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

static drift_set *load(const char *path)
{
	char *err = NULL;
	size_t len = 0;
	char *text = slurp(path, &len, &err);
	drift_set *s = text ? drift_parse(text, len, &err) : NULL;
	free(text);
	if (!s) {
		fprintf(stderr, "fleetdeck drift: %s: %s\n", path, err);
		free(err);
	}
	return s;
}

static json_t *real_or_null(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

static void print_json(const drift_report *r)
{
	json_t *feats = json_object();
	for (size_t i = 0; i < r->nfeatures; i++) {
		const drift_feature *f = &r->features[i];
		json_object_set_new(feats, f->name,
				    json_pack("{s:o, s:o, s:o, s:b, s:s, s:f}", "ks_statistic",
					      real_or_null(f->ks.statistic), "ks_pvalue", real_or_null(f->ks.pvalue),
					      "wasserstein", real_or_null(f->wasserstein), "drifted", f->drifted,
					      "severity", drift_severity_name(f->severity), "threshold", f->threshold));
	}
	json_t *o = json_pack("{s:o, s:b, s:s, s:f}", "features", feats, "drifted", r->drifted, "severity",
			      drift_severity_name(r->severity), "max_ks", r->max_ks);
	cli_print_json(o);
	json_decref(o);
}

static void print_text(const drift_report *r, const drift_set *b, const drift_set *w)
{
	printf("%-20s %9s %11s %12s %9s  %s\n", "FEATURE", "KS", "P-VALUE", "WASSERSTEIN", "THRESHOLD", "DRIFT");
	size_t ndrift = 0;
	for (size_t i = 0; i < r->nfeatures; i++) {
		const drift_feature *f = &r->features[i];
		printf("%-20s %9.4f %11.4g %12.6g %9g  %s\n", f->name, f->ks.statistic, f->ks.pvalue, f->wasserstein,
		       f->threshold, f->drifted ? drift_severity_name(f->severity) : "-");
		ndrift += f->drifted;
	}
	printf("\n%zu baseline vs %zu window samples: ", drift_set_window(b), drift_set_window(w));
	if (r->drifted)
		printf("drift (%s), %zu of %zu features, max KS %.4f\n", drift_severity_name(r->severity), ndrift,
		       r->nfeatures, r->max_ks);
	else
		printf("no drift, max KS %.4f\n", r->max_ks);
}

static int run(struct app *app, int argc, char **argv)
{
	(void)app;
	enum { THRESHOLD = 1, FEATURE, JSON };
	static const struct option opts[] = {
		{ "threshold", required_argument, NULL, THRESHOLD },
		{ "feature-threshold", required_argument, NULL, FEATURE },
		{ "json", no_argument, NULL, JSON },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	drift_opts o = { .threshold = DRIFT_DEFAULT_THRESHOLD };
	drift_threshold *per = NULL;
	size_t nper = 0, cap = 0;
	bool json = false;
	int c, rc = EXIT_USAGE;
	/* 0, not 1: glibc then forgets main's "+" and lets files and options mix */
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case THRESHOLD:
			if (!parse_threshold(optarg, &o.threshold)) {
				fprintf(stderr, "fleetdeck drift: --threshold wants a number greater than 0, not '%s'\n",
					optarg);
				goto out;
			}
			break;
		case FEATURE: {
			char *eq = strchr(optarg, '=');
			double t;
			if (!eq || eq == optarg || !parse_threshold(eq + 1, &t)) {
				fprintf(stderr,
					"fleetdeck drift: --feature-threshold wants NAME=T with T greater than 0, not '%s'\n",
					optarg);
				goto out;
			}
			*eq = '\0';
			per = xgrow(per, &cap, nper + 1, sizeof *per);
			per[nper++] = (drift_threshold){ .name = optarg, .threshold = t };
			break;
		}
		case JSON: json = true; break;
		case 'h': usage(stdout); rc = EXIT_OK; goto out;
		default: usage(stderr); goto out;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "fleetdeck drift: wants two files, BASELINE.json and WINDOW.json (see fleetdeck help drift)\n");
		goto out;
	}
	o.per_feature = per;
	o.nper_feature = nper;
	const char *bpath = argv[optind], *wpath = argv[optind + 1];
	drift_set *b = load(bpath);
	drift_set *w = b ? load(wpath) : NULL;
	if (b && w) {
		char *err = NULL;
		drift_report *r = drift_compare(b, w, &o, &err);
		if (!r) {
			fprintf(stderr, "fleetdeck drift: %s: %s\n", wpath, err);
			free(err);
		} else {
			if (json)
				print_json(r);
			else
				print_text(r, b, w);
			rc = r->drifted ? EXIT_FINDINGS : EXIT_OK;
			drift_report_free(r);
		}
	}
	drift_set_free(b);
	drift_set_free(w);
out:
	free(per);
	return rc;
}

const struct command cmd_drift = {
	.name = "drift",
	.summary = "has a window of input features drifted from its baseline (KS, Wasserstein)",
	.run = run,
	.usage = usage,
};
