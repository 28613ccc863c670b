/* fuzz_ini: libFuzzer target for the INI inventory parser (ini_parse, in memory). */
#include "fuzz_options.h"
#include "fuzz_common.h"
#include "inventory/ini.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	inventory *inv = inv_new();
	inv_set_max_hosts(inv, FUZZ_MAX_HOSTS);
	char *err = NULL;
	if (ini_parse(inv, "fuzz.ini", (const char *)data, size, &err) == 0)
		fuzz_read_inventory(inv);
	free(err);
	inv_free(inv);
	return 0;
}
