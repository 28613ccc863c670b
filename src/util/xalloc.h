/* xalloc: allocation that never returns NULL (out of memory aborts), and small string helpers. */
#ifndef FLEETDECK_XALLOC_H
#define FLEETDECK_XALLOC_H

#include <stddef.h>
#include <stdarg.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* Grow an array to hold at least `need` items of `size` bytes; *cap is updated. */
void *xgrow(void *p, size_t *cap, size_t need, size_t size);
char *xstrdup(const char *s);
/* Exactly the n bytes at s (which must hold n; NULs included), then a NUL:
 * unlike strndup, it does not stop at a NUL. */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
