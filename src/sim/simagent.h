/* simagent: what a device answers: the agent API (health, status, drift, validate,
 * update, rollback) and the exporter's /metrics; and what happens when a model
 * download the updater ran for it ends. */
#ifndef FLEETSIM_SIMAGENT_H
#define FLEETSIM_SIMAGENT_H

#include "sim/simhttp.h"

#include <stddef.h>

struct simsrv;
struct simep;

void simagent_handle(struct simsrv *s, struct simep *ep, const simreq *rq, simreply *rp);
/* The updater's completion callback: `error` NULL means downloaded and verified. */
void simagent_update_done(void *srv, size_t dev, const char *version, const char *error);

#endif
