/* pyjson: JSON text exactly as Python's json.dumps(indent=4, sort_keys=True,
 * ensure_ascii=False) writes it, so fleetdeck's output diffs cleanly against
 * Ansible's (float repr, escapes, separators and all). */
#ifndef FLEETDECK_PYJSON_H
#define FLEETDECK_PYJSON_H

#include <jansson.h>
#include <stdio.h>

/* indent < 0: compact one-line form with Python's default separators (", ", ": "). */
char *pyjson_dumps(const json_t *v, int indent);
int pyjson_dumpf(const json_t *v, int indent, FILE *f);
/* Python's repr() of a float, as json.dumps writes it (Infinity, NaN included). */
void pyjson_float_repr(double d, char *out, size_t outsz);

#endif
