/* rollssh: what a rollout does to an agentless device (fleetdeck_transport=ssh),
 * the seed playbook's steps as shell commands: the device's settings from the
 * inventory (every value validated: names and versions a strict charset, paths
 * absolute with no odd characters, URLs a narrow charset), the exact command of
 * each step (built only from validated values, each one quoted with shquote),
 * the strict parsers of what the device prints (sizes capped, unknown lines
 * refused), and a blocking connection that runs one command at a time over the
 * device's kept-open SSH session (poll/ssh.h, jump hosts included).
 *
 * Every command that changes the device checks first whether its change is
 * already made (the model file present with the right SHA-256, the link already
 * on the target), ignores SIGHUP and SIGPIPE (a runner that dies mid-command
 * does not cut it short half-way), and replaces files by rename (a new link or
 * file under a temporary name, then mv over the old one), so that running it
 * again after a crash does nothing wrong. Nothing here prints. */
#ifndef FLEETDECK_ROLLOUT_ROLLSSH_H
#define FLEETDECK_ROLLOUT_ROLLSSH_H

#include "poll/poller.h"
#include "poll/ssh.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Defaults of the inventory variables. */
#define ROLLSSH_MODEL_DIR "/opt/models"
#define ROLLSSH_SERVICE "inference-engine"
#define ROLLSSH_SERVICE_CTL "systemctl"

/* One device's settings. Strings owned: rollssh_dev_clear. */
typedef struct rollssh_dev {
	char *name;         /* inventory host name */
	char *address;      /* ansible_host, else the name */
	int port;           /* ansible_port; 0: ssh config, else 22 */
	char *user;         /* ansible_user; NULL: ssh config, else the current user */
	char *identity;     /* ansible_ssh_private_key_file (~ expanded); NULL: agent, config, ~/.ssh/id_* */
	char *jump;         /* ProxyJump from ansible_ssh_common_args; NULL: ssh config's */
	char *known_hosts;  /* the settings file's ssh known_hosts; NULL: ~/.ssh/known_hosts */
	char *ssh_config;   /* the settings file's ssh config; NULL: ~/.ssh/config; "": none */
	bool accept_new;    /* StrictHostKeyChecking accept-new (else yes) */
	char *model_dir;    /* fleetdeck_model_dir: /opt/models */
	char *service;      /* fleetdeck_service: inference-engine */
	char *service_ctl;  /* fleetdeck_service_ctl: systemctl; words: a name or an absolute path,
	                       then names, paths or -options (e.g. "sudo -n systemctl") */
	char *health_url;   /* fleetdeck_health_url: http://localhost:AGENT_PORT/health, as the device sees it */
	char *validate_url; /* fleetdeck_validate_url: http://localhost:AGENT_PORT/validate */
} rollssh_dev;

void rollssh_dev_clear(rollssh_dev *d); /* accepts a zeroed one */

/* From a host's target (poll_target_from_vars) and merged variables, with the
 * SSH settings of the settings file (ssh may be NULL). Validates everything
 * (rollssh_dev_check). Returns 0, or -1 with *err naming the variable. */
int rollssh_dev_from_vars(const poll_target *t, const json_t *vars, const sshpool_opts *ssh, rollssh_dev *d,
			  char **err);
/* Every value fit for a command line: 0, or -1 with *err. */
int rollssh_dev_check(const rollssh_dev *d, char **err);
/* What the rollout_devices.target column keeps (name and address are columns of their own). */
json_t *rollssh_dev_to_json(const rollssh_dev *d);
/* Back from the column, checked again: 0, or -1 with *err. */
int rollssh_dev_from_json(const char *name, const char *address, const char *text, rollssh_dev *d, char **err);

/* A URL fit to go into a remote command: http:// or https://, then 1..2048 of
 * [A-Za-z0-9._~:/?#@%=&+,[]-] (no quotes, blanks, ;, $, backslash or backtick). */
bool rollssh_url_ok(const char *url);

/* The model a rollout installs: name and version (rollout_name_ok), the
 * registry's URL of the file, its SHA-256 (64 lower-case hex digits). */
typedef struct rollssh_model {
	const char *name, *version, *url, *checksum;
} rollssh_model;
int rollssh_model_check(const rollssh_model *m, char **err);
/* "NAME-vVERSION-int8.onnx" (caller frees): the file name the seed uses. */
char *rollssh_model_file(const char *name, const char *version);

/* ---- the commands (caller frees; NULL with *err for a value unfit for a command) ---- */

/* An HTTP request on the device (curl): GET url, or POST of json_body; prints
 * at most 64 KiB of the answer, then a line "fleetdeck-http CODE curl-exit N". */
char *rollssh_cmd_http(const rollssh_dev *d, const char *url, const char *json_body, int timeout_s, char **err);
/* Prints link=<active_model.onnx's target> and version=<current_version>
 * (the latter only when the file exists). */
char *rollssh_cmd_record(const rollssh_dev *d, char **err);
/* Exit 0 when MODEL_DIR/NAME-vVERSION-int8.onnx is a file. */
char *rollssh_cmd_have(const rollssh_dev *d, const char *name, const char *version, char **err);
/* Prints switched=yes|no (link and current_version already on the model), then
 * fetch=present (the file is there with the right SHA-256: nothing fetched) or
 * downloads it to a temporary name, checks its SHA-256 and renames it:
 * fetch=downloaded; else fetch=failed (curl=N) or fetch=mismatch (sha256=HEX),
 * exit status non-zero, the temporary file removed. */
char *rollssh_cmd_fetch(const rollssh_dev *d, const rollssh_model *m, int timeout_s, char **err);
/* The switch to name/version: when the link and current_version are already
 * on it, switch=already; else stop the service, link, version, switch=done.
 * Then start the service: start=ok. Failures: switch=nofile|stop-failed|
 * link-failed|version-failed, start=failed, exit status non-zero; a failed
 * service control also prints ctl_error= (its first 200 bytes of output). */
char *rollssh_cmd_switch(const rollssh_dev *d, const char *name, const char *version, char **err);
/* The way back to name/version: link and current_version (back=already|done),
 * then restart the service (restart=ok). Failures: back=nofile|link-failed|
 * version-failed, restart=failed. */
char *rollssh_cmd_back(const rollssh_dev *d, const char *name, const char *version, char **err);

/* ---- the parsers (everything the device prints is untrusted) ---- */

/* rollssh_cmd_http's output: *code (0: no answer), *curl_exit, and the body
 * (*body owned, NUL-terminated, may be empty). 0, or -1 with *err. */
int rollssh_parse_http(const char *out, size_t len, long *code, int *curl_exit, char **body, char **err);
/* Lines key=value: every line's key one of keys (NULL-terminated), each at most
 * once, values printable and at most 1024 bytes, at most 16 KiB in all.
 * vals[i] (owned, NULL when absent) for keys[i]. 0, or -1 with *err (vals all NULL). */
int rollssh_parse_kv(const char *out, size_t len, const char *const *keys, char **vals, char **err);

/* ---- running commands ---- */

typedef struct rollssh_conn rollssh_conn;

/* A connection to d (borrowed: it must outlive the connection). Nothing is
 * dialled until the first command. NULL with *err (the ssh config unreadable). */
rollssh_conn *rollssh_conn_new(const rollssh_dev *d, long connect_ms, long timeout_ms, char **err);
void rollssh_conn_free(rollssh_conn *c); /* accepts NULL */

typedef struct rollssh_res {
	bool ran;          /* the command ran: exit_code and out are valid */
	int exit_code;
	char *out;         /* stdout (owned, NUL-terminated), at most 80 KiB */
	size_t len;
	char *error;       /* !ran: why, for people (owned) */
	dev_reason reason; /* !ran */
} rollssh_res;
void rollssh_res_clear(rollssh_res *r);

/* Runs cmd and waits for it (bounded: connect and command timeouts). 0 it ran,
 * -1 it could not be run or its answer was lost (r->error). */
int rollssh_run(rollssh_conn *c, const char *cmd, rollssh_res *r);

#endif
