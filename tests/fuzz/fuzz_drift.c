/* fuzz_drift: the /drift document parser (what a device answers), and the
 * comparison of whatever parsed with itself and with its values reversed:
 * every statistic must stay in range. */
#include "drift/drift.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = NULL;
	drift_set *s = drift_parse((const char *)data, size, &err);
	if (!s) {
		if (!err)
			abort(); /* a refusal always says why */
		free(err);
		return 0;
	}
	if (err || drift_set_count(s) == 0 || drift_set_window(s) == 0)
		abort();
	drift_report *r = drift_compare(s, s, NULL, &err);
	if (!r)
		abort(); /* a document always matches itself */
	for (size_t i = 0; i < r->nfeatures; i++) {
		const drift_feature *f = &r->features[i];
		if (f->ks.statistic != 0 || f->drifted || f->wasserstein != 0)
			abort();
	}
	drift_report_free(r);
	/* each feature against its values in reverse and shifted by the first one */
	for (size_t i = 0; i < drift_set_count(s); i++) {
		size_t n = drift_set_window(s);
		const double *v = drift_set_values(s, i);
		double *w = malloc(n * sizeof *w);
		for (size_t k = 0; k < n; k++)
			w[k] = v[n - 1 - k] + v[0];
		ks_result k;
		if (ks_2samp(v, n, w, n, &k) < 0 || !(k.statistic >= 0 && k.statistic <= 1) ||
		    !(isnan(k.pvalue) || (k.pvalue >= 0 && k.pvalue <= 1)))
			abort();
		double wd = ks_wasserstein(v, n, w, n);
		if (!(wd >= 0) && !isnan(wd))
			abort(); /* NaN only from inf - inf when values are near DBL_MAX */
		free(w);
	}
	drift_set_free(s);
	return 0;
}
