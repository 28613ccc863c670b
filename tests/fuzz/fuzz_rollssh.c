/* fuzz_rollssh: what an agentless device prints to the rollout's commands (the local HTTP answer with curl's status line, key=value lines), as the runner parses it. */
#include "rollout/rollssh.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long code;
	int cx;
	char *body = NULL, *err = NULL;
	if (rollssh_parse_http((const char *)data, size, &code, &cx, &body, &err) == 0) {
		if (code < 0 || code > 999 || cx < 0 || cx > 999 || strlen(body) > size)
			abort();
		free(body);
	} else if (!err || body) {
		abort(); /* a failure always says why, and keeps nothing */
	}
	free(err);
	static const char *const keys[] = { "switched", "fetch", "curl", "sha256", "link", "version", NULL };
	char *v[6];
	err = NULL;
	if (rollssh_parse_kv((const char *)data, size, keys, v, &err) == 0) {
		for (int i = 0; i < 6; i++) {
			if (v[i] && strlen(v[i]) > 1024)
				abort();
			free(v[i]);
		}
	} else {
		for (int i = 0; i < 6; i++)
			if (v[i])
				abort();
		if (!err)
			abort();
	}
	free(err);
	return 0;
}
