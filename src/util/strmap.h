/* strmap: an open-addressing hash map from C strings to pointers.
 * The map does not own its keys or values: a key must live as long as its entry
 * (callers usually point it at a name inside the value). */
#ifndef FLEETDECK_STRMAP_H
#define FLEETDECK_STRMAP_H

#include <stddef.h>

typedef struct strmap strmap;

strmap *strmap_new(void);
void strmap_free(strmap *m);
void *strmap_get(const strmap *m, const char *key);
/* Insert or replace; returns the previous value or NULL. */
void *strmap_put(strmap *m, const char *key, void *value);
void *strmap_del(strmap *m, const char *key);
size_t strmap_count(const strmap *m);
/* Iterate: start with *it = 0; returns 0 when done. */
int strmap_next(const strmap *m, size_t *it, const char **key, void **value);

#endif
