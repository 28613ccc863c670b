/* atomicfile: writing a file that readers may open at any moment (node_exporter's
 * textfile collector, the next run of a cron job): a temporary file beside it,
 * flushed, then renamed over it. */
#ifndef FLEETDECK_UTIL_ATOMICFILE_H
#define FLEETDECK_UTIL_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Writes text[0..len) to path with the given mode. The temporary file is
 * ".NAME.XXXXXX" in path's directory (a name not ending in .prom, so the
 * textfile collector never reads a half-written one); it is removed on
 * failure. 0, or -1 with *err ("PATH: what: why"; caller frees). */
int atomicfile_write(const char *path, const char *text, size_t len, mode_t mode, char **err);

/* Creates the missing directories above path (mode 0700). 0, or -1 with *err. */
int atomicfile_make_parents(const char *path, char **err);

#endif
