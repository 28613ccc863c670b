/* semver: model versions as Semantic Versioning 2.0 orders them, with the
 * registry's leniencies: a `v` prefix, and a missing minor or patch counting
 * as 0 (3.2 == 3.2.0). Build metadata (+...) is kept but never ordered. */
#ifndef FLEETDECK_SEMVER_H
#define FLEETDECK_SEMVER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct semver {
	uint64_t major, minor, patch;
	/* The pre-release identifiers ("rc.1" of 1.0.0-rc.1) and the build
	 * metadata, each a pointer into the parsed text and a length; len 0:
	 * none. Valid while the text is. */
	const char *pre, *build;
	int pre_len, build_len;
} semver;

/* Parses s: [vV]MAJOR[.MINOR[.PATCH]][-PRE][+BUILD], numbers of decimal
 * digits below 2^63, PRE and BUILD dot-separated non-empty identifiers of
 * [0-9A-Za-z-]. Returns false for anything else, with *why (static text)
 * saying what is wrong if why is not NULL. */
bool semver_parse(const char *s, semver *out, const char **why);

/* <0, 0, >0 as a orders before, with, after b by SemVer precedence:
 * major, minor, patch numerically; a pre-release before its release; then
 * the identifiers left to right (numbers numerically and before words, words
 * in ASCII order, fewer identifiers first when all before are equal). Build
 * metadata is ignored. */
int semver_cmp(const semver *a, const semver *b);

/* semver_cmp of two version strings; a string that does not parse orders
 * before every one that does, and unparsable ones compare with strcmp. */
int semver_cmp_str(const char *a, const char *b);

static inline bool semver_is_prerelease(const semver *v) { return v->pre_len > 0; }

#endif
