/* sshstatus: how an agentless device is polled over SSH: the POSIX shell script
 * that gathers its state in one exec (model version and link from the model
 * directory, uptime, GPU temperature from the thermal zones, the inference
 * service's local /health), and the strict parser of what the script prints.
 * Everything the device prints is untrusted: sizes are capped, unknown keys and
 * malformed values are refused. */
#ifndef FLEETDECK_SSHSTATUS_H
#define FLEETDECK_SSHSTATUS_H

#include "device/device.h"

#include <stddef.h>

typedef struct sshstatus_opts {
	const char *model_dir;  /* fleetdeck_model_dir: /opt/models */
	int agent_port;         /* fleetdeck_agent_port: 8080 (the service's local /health) */
	int timeout_s;          /* for the local /health: 3 */
} sshstatus_opts;

/* The command line (caller frees), or NULL with *err for a model_dir that is not
 * a safe absolute path or a port out of range. */
char *sshstatus_command(const sshstatus_opts *o, char **err);

/* Parses the script's output into st (cleared first). The device's status comes
 * from its /health ("healthy", "degraded", "unhealthy"); when /health gave
 * nothing the status is "unhealthy" and *detail (caller frees, may be NULL) says
 * the service did not answer. Returns 0, or -1 with *err for output that is not
 * the script's (the device then counts as giving a malformed answer). */
int sshstatus_parse(const char *out, size_t len, dev_status *st, char **detail, char **err);

#endif
