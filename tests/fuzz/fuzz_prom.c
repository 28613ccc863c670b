/* fuzz_prom: libFuzzer target for the exposition parser, and the device readings and quantiles over what it returns. */
#include "metrics/devmetrics.h"
#include "metrics/prom.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	prom_limits lim;
	prom_limits_default(&lim);
	lim.max_series = 5000;
	char *err = NULL;
	prom_doc *d = prom_parse((const char *)data, size, &lim, &err);
	if (!d) {
		if (!err || strncmp(err, "line ", 5))
			abort(); /* every input error names its line */
		free(err);
		return 0;
	}
	size_t total = 0;
	prom_bucket b[64];
	size_t nb = 0;
	for (size_t i = 0; i < d->nsamples; i++) {
		const prom_sample *s = &d->samples[i];
		if (s->family >= d->nfamilies)
			abort();
		total += strlen(s->name);
		for (size_t k = 0; k < s->nlabels; k++)
			total += strlen(s->labels[k].name) + strlen(s->labels[k].value);
		const char *le = prom_label_get(s, "le");
		double x;
		if (le && nb < 64 && prom_float(le, &x))
			b[nb++] = (prom_bucket){ x, s->value };
	}
	size_t by_family = 0;
	for (size_t i = 0; i < d->nfamilies; i++) {
		by_family += d->families[i].nsamples;
		if (prom_family_find(d, d->families[i].name) != &d->families[i])
			abort();
		if (d->families[i].help)
			total += strlen(d->families[i].help);
	}
	if (by_family != d->nsamples)
		abort();
	(void)prom_histogram_quantile(0.95, b, nb);
	/* the same exposition as both scrapes, and as the second after an empty one */
	devmetrics_scrape *a = NULL, *c = NULL;
	devmetrics_values v;
	devmetrics_read(d, NULL, &a, &v);
	devmetrics_read(d, a, &c, &v);
	if ((v.have & DEVM_LATENCY_P95) && !(v.latency_p95_ms >= 0))
		abort();
	if ((v.have & DEVM_ERROR_RATE) && !(v.error_rate >= 0 && v.error_rate <= 1))
		abort();
	devmetrics_scrape_free(a);
	devmetrics_scrape_free(c);
	sink = total;
	prom_doc_free(d);
	return 0;
}
