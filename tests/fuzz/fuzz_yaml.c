/* fuzz_yaml: libFuzzer target for the YAML/JSON inventory parser (yamlinv_parse, in
 * memory) and for the YAML loader under it as the vars files use it. */
#include "fuzz_options.h"
#include "fuzz_common.h"
#include "inventory/yamlinv.h"
#include "inventory/yamlload.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ignore_warning(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	/* as an inventory source; a .json name takes the JSON reader first, as in Ansible */
	static const char *const names[] = { "fuzz.yml", "fuzz.json" };
	for (size_t i = 0; i < 2; i++) {
		inventory *inv = inv_new();
		inv_set_max_hosts(inv, FUZZ_MAX_HOSTS);
		char *err = NULL;
		enum yamlinv_status st;
		if (yamlinv_parse_status(inv, names[i], text, size, &st, &err) == 0)
			fuzz_read_inventory(inv);
		free(err);
		inv_free(inv);
	}
	/* as a vars file: load, and print the Python str() and repr() of the root */
	yamlload_doc *doc = NULL;
	char *err = NULL;
	if (yamlload_parse("fuzz.yml", text, size, ignore_warning, NULL, &doc, &err) == 0) {
		json_t *root = yamlload_root(doc);
		(void)yamlload_truthy(doc, root);
		free(yamlload_str(doc, root));
		free(yamlload_repr(doc, root));
		if (root)
			free(pyjson_dumps(root, 4));
		yamlload_free(doc);
	}
	free(err);
	return 0;
}
