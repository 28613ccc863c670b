/* atomicfile: replacing a file so that no reader ever sees half of it (atomicfile.h). */
#include "util/atomicfile.h"
#include "util/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int atomicfile_write(const char *path, const char *text, size_t len, mode_t mode, char **err)
{
	const char *slash = strrchr(path, '/');
	char *tmp = slash ? xasprintf("%.*s/.%s.XXXXXX", (int)(slash - path), path, slash + 1)
			  : xasprintf(".%s.XXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		*err = xasprintf("%s: cannot create a temporary file beside it: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	const char *what = NULL;
	int e = 0;
	size_t off = 0;
	if (fchmod(fd, mode) != 0)
		what = "chmod", e = errno;
	while (!what && off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			what = "write", e = w < 0 ? errno : EIO;
			break;
		}
		off += (size_t)w;
	}
	if (!what && fsync(fd) != 0)
		what = "fsync", e = errno;
	if (close(fd) != 0 && !what)
		what = "close", e = errno;
	if (!what && rename(tmp, path) != 0)
		what = "rename", e = errno;
	if (what) {
		*err = xasprintf("%s: %s: %s", path, what, strerror(e));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

int atomicfile_make_parents(const char *path, char **err)
{
	char *p = xstrdup(path);
	int rc = 0;
	for (char *q = p + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			*err = xasprintf("%s: cannot create directory %s: %s", path, p, strerror(errno));
			rc = -1;
			break;
		}
		*q = '/';
	}
	free(p);
	return rc;
}
