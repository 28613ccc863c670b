/* shquote: POSIX shell quoting for every value that goes into a remote command,
 * and validators for the identifiers (versions, names, paths) used in them. */
#ifndef FLEETDECK_SHQUOTE_H
#define FLEETDECK_SHQUOTE_H

#include <stdbool.h>
#include <stddef.h>

/* s as one shell word: wrapped in single quotes, each ' written as '\''. Any byte
 * but NUL survives unchanged through sh, bash, dash and busybox sh. Caller frees. */
char *shquote_word(const char *s);
/* The same for n bytes; NULL if they hold a NUL (no shell word can). Caller frees. */
char *shquote_mem(const char *s, size_t n);
/* The words of argv (n of them), each quoted, joined by spaces: a command line
 * that runs argv[0] with exactly these arguments. Caller frees. */
char *shquote_join(const char *const *argv, size_t n);

/* An identifier that may appear in remote commands and file names: a model
 * name, a version ("3.1", "v1.1.0"), a unit name. 1..128 bytes of
 * [A-Za-z0-9._+:@-], not starting with '-' or '.'. Returns 0, or -1 with *err
 * ("<what> ...: why"), caller frees. */
int shquote_check_ident(const char *s, const char *what, char **err);
/* An absolute path made of ident-like components: starts with '/', 1..1024
 * bytes of [A-Za-z0-9._+:@/-], no "." or ".." component, no component
 * starting with '-'. Returns 0, or -1 with *err, caller frees. */
int shquote_check_path(const char *s, const char *what, char **err);

#endif
