/* fuzz_answer: the device agent's /status and /health answers as the poller parses them (anything a device sends). */
#include "poll/poller.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dev_status st = { 0 };
	char *err = NULL;
	if (poll_parse_status((const char *)data, size, &st, &err) == 0) {
		/* what the report and the console do with it */
		(void)dev_state_from_status(&st);
		if (st.model_version && strlen(st.model_version) > 256)
			abort();
	} else if (!err) {
		abort(); /* a failure always says why */
	}
	free(err);
	dev_status_clear(&st);
	poll_health h;
	err = NULL;
	if (poll_parse_health((const char *)data, size, &h, &err) == 0) {
		if (strlen(h.status) > 64)
			abort();
	} else if (!err) {
		abort();
	}
	free(err);
	return 0;
}
