/* test_shquote: shell quoting round-trips through a real /bin/sh for every
 * byte value, and the identifier and path validators. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/shquote.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static void test_quote_basic(void **state)
{
	(void)state;
	char *q = shquote_word("abc");
	assert_string_equal(q, "'abc'");
	free(q);
	q = shquote_word("");
	assert_string_equal(q, "''");
	free(q);
	q = shquote_word("it's");
	assert_string_equal(q, "'it'\\''s'");
	free(q);
	q = shquote_word("''");
	assert_string_equal(q, "''\\'''\\'''");
	free(q);
	assert_null(shquote_mem("a\0b", 3));
	q = shquote_mem("a b", 3);
	assert_string_equal(q, "'a b'");
	free(q);
	const char *argv[] = {"printf", "%s\\n", "x y", "'"};
	q = shquote_join(argv, 4);
	assert_string_equal(q, "'printf' '%s\\n' 'x y' ''\\'''");
	free(q);
	q = shquote_join(argv, 0);
	assert_string_equal(q, "");
	free(q);
}

/* Runs `printf %s QUOTED` in sh and returns what it printed. */
static char *through_sh(const char *s, size_t *len)
{
	char *q = shquote_word(s);
	char *script = xasprintf("printf %%s %s", q);
	free(q);
	char *word = shquote_word(script);
	char *cmd = xasprintf("/bin/sh -c %s", word);
	free(word);
	free(script);
	FILE *f = popen(cmd, "r");
	free(cmd);
	assert_non_null(f);
	size_t cap = 4096, n = 0;
	char *out = xmalloc(cap);
	size_t got;
	while ((got = fread(out + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap)
			out = xrealloc(out, cap *= 2);
	}
	int rc = pclose(f);
	assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
	*len = n;
	return out;
}

static void test_round_trip_every_byte(void **state)
{
	(void)state;
	/* every byte 1..255 in one word, then hostile shapes */
	char all[256];
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	const char *cases[] = {
		all,
		"'; touch /nonexistent-fleetdeck; echo '",
		"$(id) `id` ${HOME} $HOME",
		"a\nb\r\nc",
		"\\'\\\\''",
		"-n",
		"*",
		" leading and trailing ",
		"\"double\" 'single'",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n;
		char *out = through_sh(cases[i], &n);
		assert_int_equal(n, strlen(cases[i]));
		assert_memory_equal(out, cases[i], n);
		free(out);
	}
	/* random strings */
	unsigned seed = 12345;
	for (int round = 0; round < 40; round++) {
		char buf[64];
		size_t len = (size_t)(rand_r(&seed) % 63);
		for (size_t i = 0; i < len; i++)
			buf[i] = (char)(rand_r(&seed) % 255 + 1);
		buf[len] = '\0';
		size_t n;
		char *out = through_sh(buf, &n);
		assert_int_equal(n, len);
		assert_memory_equal(out, buf, n);
		free(out);
	}
}

static void test_check_ident(void **state)
{
	(void)state;
	const char *good[] = {"3.1", "v1.1.0", "defect-detection", "inference-engine.service", "model_v2+int8", "a:b@c"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char *err = NULL;
		assert_int_equal(shquote_check_ident(good[i], "version", &err), 0);
	}
	const char *bad[] = {"", "-rf", ".hidden", "a b", "a;b", "a/b", "$(x)", "a'b", "\xc3\xa9"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *err = NULL;
		assert_int_equal(shquote_check_ident(bad[i], "version", &err), -1);
		assert_non_null(strstr(err, "version"));
		free(err);
	}
	char longs[200];
	memset(longs, 'a', sizeof longs - 1);
	longs[199] = '\0';
	char *err = NULL;
	assert_int_equal(shquote_check_ident(longs, "name", &err), -1);
	assert_non_null(strstr(err, "128"));
	free(err);
	err = NULL;
	assert_int_equal(shquote_check_ident(NULL, "name", &err), -1);
	free(err);
}

static void test_check_path(void **state)
{
	(void)state;
	const char *good[] = {"/opt/models", "/opt/models/", "/opt/test-data/reference.jpg", "/", "/a//b"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char *err = NULL;
		if (shquote_check_path(good[i], "path", &err) != 0)
			fail_msg("%s: %s", good[i], err);
	}
	const char *bad[] = {"", "opt/models", "/opt/../etc", "/opt/./x", "/opt/-x", "/opt/a b", "/opt/$(x)", "/opt/a\nb"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *err = NULL;
		if (shquote_check_path(bad[i], "fleetdeck_model_dir", &err) != -1)
			fail_msg("accepted %s", bad[i]);
		assert_non_null(strstr(err, "fleetdeck_model_dir"));
		free(err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote_basic),
		cmocka_unit_test(test_round_trip_every_byte),
		cmocka_unit_test(test_check_ident),
		cmocka_unit_test(test_check_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
