/* fuzz_common: what every inventory fuzz target does with an inventory that parsed:
 * reconcile it and run everything that reads it (--list, --host, --graph), so the
 * code downstream of the parsers sees the odd values the fuzzer finds. */
#ifndef FLEETDECK_FUZZ_COMMON_H
#define FLEETDECK_FUZZ_COMMON_H

#include "inventory/inventory.h"
#include "util/pyjson.h"

#include <stdlib.h>
#include <string.h>

/* Enough hosts to reach every code path: a range like h[0:999999] would make a
 * million (fleetdeck's limit for one pattern), and building or reading each of
 * them only slows the fuzzer down. */
enum { FUZZ_MAX_HOSTS = 5000, FUZZ_MAX_HOSTS_READ = 64 };

static inline int fuzz_sink(void *ctx, const char *s, size_t n)
{
	pyjson_append_raw(ctx, s, n);
	return 0;
}

static inline void fuzz_read_inventory(inventory *inv)
{
	char *err = NULL;
	if (inv_reconcile(inv, &err) < 0) {
		free(err);
		return;
	}
	size_t n = inv_host_count(inv);
	{
		/* the streamed --list must be the document, byte for byte */
		json_t *list = inv_list_json(inv);
		char *want = pyjson_dumps(list, 4);
		json_decref(list);
		pyjson_buf got = { NULL, 0, 0 };
		if (inv_list_write(inv, fuzz_sink, &got) != 0 || !got.s || strcmp(got.s, want) != 0)
			abort();
		free(got.s);
		free(want);
	}
	for (size_t i = 0; i < n && i < FUZZ_MAX_HOSTS_READ; i++) {
		json_t *v = inv_host_vars(inv, inv_host_at(inv, i));
		free(pyjson_dumps(v, -1));
		json_decref(v);
	}
	free(inv_graph(inv, NULL, NULL));
}

#endif
