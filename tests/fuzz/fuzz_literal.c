/* fuzz_literal: libFuzzer target for pyliteral_eval (Python's ast.literal_eval, as the INI
 * parser types values): it must not crash, and its fast paths must agree with the parser. */
#include "fuzz_options.h"
#include "inventory/pyliteral.h"
#include "util/pyjson.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	json_t *a = NULL, *b = NULL;
	const char *ta = NULL, *tb = NULL;
	char *ea = NULL, *eb = NULL;
	int ra = pyliteral_eval(s, size, &a, &ta, &ea);
	int rb = pyliteral_eval_parsed(s, size, &b, &tb, &eb);
	if (ra != rb)
		abort();
	if (ra == PYLIT_OK) {
		char *da = pyjson_dumps(a, -1), *db = pyjson_dumps(b, -1);
		if (strcmp(da, db) != 0 || strcmp(ta, tb) != 0)
			abort();
		free(da);
		free(db);
	}
	json_decref(a);
	json_decref(b);
	free(ea);
	free(eb);
	return 0;
}
