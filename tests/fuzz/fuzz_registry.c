/* fuzz_registry: a model registry's index.json as registry_parse reads it (anything a registry server sends), and the queries run on what parsed. */
#include "registry/registry.h"
#include "registry/semver.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = NULL;
	fd_registry *r = registry_parse("http://reg.example:5000", "index.json", (const char *)data, size, NULL, &err);
	if (!r) {
		if (!err || strncmp(err, "index.json:", 11))
			abort(); /* a failure always says where */
		free(err);
		return 0;
	}
	for (size_t i = 0; i < registry_count(r); i++) {
		const reg_entry *e = registry_entry(r, i);
		if (strlen(e->checksum) != 64 || strchr(e->name, '/') || strchr(e->version, '/'))
			abort();
		if (!registry_find(r, e->name, e->version) || !registry_latest(r, e->name))
			abort();
		char *u = registry_model_url(r, e), *b = registry_baseline_url(r, e);
		if (strstr(u, "/../"))
			abort();
		free(u);
		free(b);
		size_t n;
		free(registry_with_tag(r, e->ntags ? e->tags[0] : "x", &n));
		if (i && semver_cmp(&registry_entry(r, i - 1)->sv, &e->sv) > 0 && !strcmp(registry_entry(r, i - 1)->name, e->name))
			abort(); /* versions are in order */
	}
	registry_free(r);
	/* the same bytes as a version string */
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	semver v;
	if (semver_parse(s, &v, NULL) && semver_cmp(&v, &v) != 0)
		abort();
	free(s);
	return 0;
}
