/* minpack: an hour of one device's minute rollups packed into one BLOB, the form
 * the history keeps them in once the hour's raw samples are gone. Internal to store/.
 *
 * Each value is an integer in the store's units, kept at a coarser resolution:
 * the average rounded to the nearest multiple of quant, min rounded down and max
 * up to a multiple of quant_ext (a multiple of quant), so they still bound it. Both
 * are written into the blob, so a blob decodes without the table that made it. Per field:
 * the averages as differences from the previous minute, min and max as distances
 * below and above the average, each stream bit-packed at the width its largest
 * value needs (frame of reference). Nothing here allocates but the encoder's
 * result; the decoder checks every byte and rejects a damaged blob. */
#ifndef FLEETDECK_STORE_MINPACK_H
#define FLEETDECK_STORE_MINPACK_H

#include <stddef.h>
#include <stdint.h>

enum { MINPACK_MINUTES = 60, MINPACK_MAX_FIELDS = 16 };

typedef struct minpack_row {
	int minute;       /* 0..59: the minute within the hour */
	int64_t n;        /* samples behind it, >= 0 */
	int64_t worst;    /* the file's state code */
	unsigned have;    /* bit f: field f has min, avg, max */
	int64_t min[MINPACK_MAX_FIELDS], avg[MINPACK_MAX_FIELDS], max[MINPACK_MAX_FIELDS];
} minpack_row;

/* Packs rows[0..n) (n <= 60, minutes strictly increasing, min <= avg <= max)
 * of nfields fields at resolutions quant[f] >= 1 (averages) and quant_ext[f], a
 * multiple of quant[f] (min, max). Returns the blob (caller frees) and its length,
 * or NULL if the rows break those rules or a value is out of range (|v| > 2^60). */
unsigned char *minpack_encode(const minpack_row *rows, size_t n, int nfields, const int64_t *quant,
			      const int64_t *quant_ext, size_t *len);

/* Unpacks blob into out[0..*n) (out holds 60 rows), for nfields fields. Returns
 * 0, or -1 if the blob is damaged or of another format or field count. */
int minpack_decode(const unsigned char *blob, size_t len, int nfields, minpack_row *out, size_t *n);

#endif
