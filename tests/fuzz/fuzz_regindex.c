/* fuzz_regindex: the registry index reader the drift watch uses (index.json from
 * the model registry): any text gives a baseline URL that is http(s), or says why not. */
#include "drift/driftwatch.h"
#include "fuzz_options.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "defect-detection:3.1", "m:1", "" };
	for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
		char *url = NULL, *err = NULL;
		int rc = driftwatch_index_baseline("http://reg:5000", (const char *)data, size, keys[k], &url, &err);
		if (rc == 0) {
			if (!url || err || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)))
				abort();
		} else if (rc != -1 || !err || url) {
			abort();
		}
		free(url);
		free(err);
	}
	return 0;
}
