/* simctl: the control API tests and demos use to change devices while fleetsim runs
 * (docs/fleetsim.md): list and describe devices, set a device's conditions, inject
 * faults into a fraction of the fleet, move a manual clock. */
#ifndef FLEETSIM_SIMCTL_H
#define FLEETSIM_SIMCTL_H

#include "sim/simhttp.h"

struct simsrv;

void simctl_handle(struct simsrv *s, const simreq *rq, simreply *rp);

#endif
