/* simupd: the devices' model downloads: one thread running a libcurl multi handle,
 * streaming each file through SHA-256 (no file is kept) and reporting the outcome. */
#ifndef FLEETSIM_SIMUPD_H
#define FLEETSIM_SIMUPD_H

#include <stddef.h>

typedef struct simupd simupd;

/* done(ctx, dev, version, error) runs on the updater thread; error is NULL when
 * the bytes arrived and their SHA-256 matched. */
typedef void (*simupd_done_fn)(void *ctx, size_t dev, const char *version, const char *error);

simupd *simupd_start(simupd_done_fn done, void *ctx, long timeout_s, char **err);
/* Queues a download; sha256_hex: 64 lowercase hex digits. Thread-safe. */
void simupd_submit(simupd *u, size_t dev, const char *version, const char *url, const char *sha256_hex);
/* Stops the thread; downloads in flight are abandoned without a callback. */
void simupd_stop(simupd *u);

#endif
