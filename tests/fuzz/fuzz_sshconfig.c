/* fuzz_sshconfig: the ssh_config reader, ProxyJump specs, the jump host in
 * ansible_ssh_common_args, and shell quoting (which must round-trip). The
 * first byte picks the target. Include lines are dropped: they would read
 * arbitrary files of the machine. */
#include "poll/ssh.h"
#include "poll/sshconfig.h"
#include "util/shquote.h"
#include "util/xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static char cfg_path[64];

/* Undoes shquote: only '...' runs and \' between them. */
static char *unquote(const char *q, size_t *len)
{
	size_t n = strlen(q), o = 0;
	char *out = xmalloc(n + 1);
	size_t i = 0;
	while (i < n) {
		if (q[i] == '\'') {
			i++;
			while (i < n && q[i] != '\'')
				out[o++] = q[i++];
			if (i >= n)
				abort(); /* unterminated */
			i++;
		} else if (q[i] == '\\' && i + 1 < n && q[i + 1] == '\'') {
			out[o++] = '\'';
			i += 2;
		} else {
			abort(); /* a byte outside quotes */
		}
	}
	out[o] = '\0';
	*len = o;
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	if (!cfg_path[0]) {
		strcpy(cfg_path, "/tmp/fuzz_sshconfig_XXXXXX");
		int fd = mkstemp(cfg_path);
		if (fd < 0)
			abort();
		close(fd);
	}
	char *s = xstrndup((const char *)data + 1, size - 1);
	size_t slen = strlen(s);
	char *err = NULL;
	switch (data[0] % 4) {
	case 0: {
		for (char *p = s; *p; p++)
			if (strncasecmp(p, "include", 7) == 0)
				p[0] = '#';
		FILE *f = fopen(cfg_path, "w");
		if (!f)
			abort();
		fwrite(s, 1, slen, f);
		fclose(f);
		sshconfig *c = sshconfig_load(cfg_path, "/nonexistent-home", "fuzz", &err);
		if (c) {
			const char *hosts[] = {"edge-01", "a", "", "bastion.example", "10.0.0.1"};
			for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
				sshconfig_host h;
				sshconfig_lookup(c, hosts[i], i % 2 ? "root" : NULL, (int)i * 11, &h);
				sshconfig_host_clear(&h);
			}
			sshconfig_free(c);
		} else if (!err) {
			abort();
		}
		break;
	}
	case 1: {
		char *jump = NULL;
		int rc = ssh_common_args_jump(s, &jump, &err);
		if ((rc == 1) != (jump != NULL) || (rc == -1 && !err))
			abort();
		free(jump);
		break;
	}
	case 2: {
		char *u = NULL, *h = NULL;
		int port;
		if (sshconfig_parse_jump(s, &u, &h, &port, &err) == 0) {
			if (!h || !*h || port < 0 || port > 65535)
				abort();
		} else if (!err) {
			abort();
		}
		free(u);
		free(h);
		break;
	}
	default: {
		char *q = shquote_word(s);
		size_t n;
		char *back = unquote(q, &n);
		if (n != slen || memcmp(back, s, n) != 0)
			abort();
		free(back);
		free(q);
		(void)shquote_check_ident(s, "x", &err);
		free(err);
		err = NULL;
		(void)shquote_check_path(s, "x", &err);
		break;
	}
	}
	free(err);
	free(s);
	return 0;
}
