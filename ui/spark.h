/* spark: sparklines: a series of values drawn as one line of block glyphs (or
 * ASCII), scaled between its minimum and maximum. Pure. */
#ifndef FLEETDECK_UI_SPARK_H
#define FLEETDECK_UI_SPARK_H

#include "glyphs.h"

#include <stdbool.h>
#include <stddef.h>

/* Renders n values (have[i] false: a gap) into buf, one cell each; lo/hi the
 * scale (lo >= hi: the values' own range). Returns the cells written. */
int spark_render(const glyphs *g, const double *v, const bool *have, size_t n, double lo, double hi, char *buf,
		 size_t sz);

#endif
