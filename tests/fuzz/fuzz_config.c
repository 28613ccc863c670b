/* fuzz_config: libFuzzer target for the config.yaml reader (config_parse, in memory). */
#include "fuzz_options.h"
#include "config/config.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fd_config cfg;
	char *err = NULL;
	(void)config_parse("/etc/fleetdeck/config.yaml", (const char *)data, size, &cfg, &err);
	free(err);
	char *cli[] = { "a" };
	size_t n;
	const char *from;
	char **srcs = config_inventory_sources(&cfg, cli, 0, &n, &from);
	config_strv_free(srcs, n);
	srcs = config_inventory_sources(&cfg, cli, 1, &n, &from);
	config_strv_free(srcs, n);
	config_free(&cfg);
	return 0;
}
