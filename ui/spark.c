/* spark: values to block glyphs. */
#include "spark.h"

#include <math.h>
#include <string.h>

int spark_render(const glyphs *g, const double *v, const bool *have, size_t n, double lo, double hi, char *buf,
		 size_t sz)
{
	if (sz == 0)
		return 0;
	buf[0] = '\0';
	if (lo >= hi) {
		bool any = false;
		for (size_t i = 0; i < n; i++) {
			if (!have[i] || !isfinite(v[i]))
				continue;
			if (!any || v[i] < lo)
				lo = v[i];
			if (!any || v[i] > hi)
				hi = v[i];
			any = true;
		}
		if (!any)
			lo = 0, hi = 1;
	}
	double span = hi - lo;
	size_t o = 0;
	int cells = 0;
	for (size_t i = 0; i < n; i++) {
		const char *glyph;
		if (!have[i] || !isfinite(v[i])) {
			glyph = g->spark_gap;
		} else {
			int level = span > 0 ? (int)floor((v[i] - lo) / span * 7.999) : 3;
			level = level < 0 ? 0 : level > 7 ? 7 : level;
			glyph = g->spark[level];
		}
		size_t len = strlen(glyph);
		if (o + len >= sz)
			break;
		memcpy(buf + o, glyph, len);
		o += len;
		cells++;
	}
	buf[o] = '\0';
	return cells;
}
