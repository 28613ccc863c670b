/* fuzz_pattern: libFuzzer target for host patterns (inv_pattern_*) over a small fixed
 * inventory. The input is PATTERN, or PATTERN NUL LIMIT for a --limit. */
#include "fuzz_options.h"
#include "fuzz_common.h"
#include "inventory/ini.h"
#include "inventory/pattern.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char INVENTORY[] =
	"solo\n"
	"Web3\n"
	"[web]\n"
	"web1\n"
	"web2 ansible_port=2222\n"
	"web10\n"
	"[db]\n"
	"db1\n"
	"web2\n"
	"[app:children]\n"
	"web\n"
	"db\n"
	"[edge]\n"
	"fe80::1\n"
	"10.0.0.[1:3]\n"
	"host.example.com\n"
	"[canary]\n"
	"db1\n"
	"[web.x-y]\n"
	"w.x\n"
	"[app:vars]\n"
	"tier=app\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* patterns come from argv or a --limit file: C strings */
	char *buf = malloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	const char *pattern = buf, *limit = NULL;
	size_t plen = strlen(buf);
	if (plen < size)
		limit = buf + plen + 1;
	/* a limit starting with @ names a file: keep the fuzzer off the file system */
	if (limit && strchr(limit, '@'))
		limit = NULL;

	inventory *inv = inv_new();
	char *err = NULL;
	if (ini_parse(inv, "fuzz.ini", INVENTORY, sizeof INVENTORY - 1, &err) == 0 && inv_reconcile(inv, &err) == 0) {
		inv_host **hosts = NULL;
		size_t n = 0;
		if (inv_pattern_limit(inv, pattern, limit, &hosts, &n, &err) == 0) {
			for (size_t i = 0; i < n; i++)
				if (!hosts[i]->name)
					abort();
		}
		free(hosts);
		free(err);
		err = NULL;
		hosts = NULL;
		if (inv_pattern_list_hosts(inv, pattern, limit, &hosts, &n, &err) == 0)
			free(hosts);
	}
	free(err);
	inv_free(inv);
	free(buf);
	return 0;
}
