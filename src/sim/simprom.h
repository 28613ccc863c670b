/* simprom: Prometheus text exposition 0.0.4, written the way the official Python client writes it. */
#ifndef FLEETSIM_SIMPROM_H
#define FLEETSIM_SIMPROM_H

#include <stddef.h>
#include <stdio.h>

/* The Python client's floatToGoString: repr(), '+Inf'/'-Inf'/'NaN', and Go's
 * earlier switch to exponents for large positive values ('1.2345678e+07'). */
void simprom_float(double d, char *out, size_t outsz);
/* "# HELP name help\n# TYPE name type\n", help escaped as the client does. */
void simprom_header(FILE *f, const char *name, const char *help, const char *type);
/* One sample line. labels: NULL-terminated name/value pairs (values escaped
 * here), or NULL for none. */
void simprom_sample(FILE *f, const char *name, const char *const *labels, double v);

#endif
