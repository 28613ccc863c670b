/* Glyph choice by locale and terminal, and fitting untrusted text into cells. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "glyphs.h"

#include <locale.h>
#include <string.h>

static void test_choose(void **state)
{
	(void)state;
	assert_true(glyphs_choose(GLYPHS_AUTO, "UTF-8", "xterm-256color")->utf8);
	assert_true(glyphs_choose(GLYPHS_AUTO, "utf8", "tmux-256color")->utf8);
	assert_false(glyphs_choose(GLYPHS_AUTO, "ANSI_X3.4-1968", "xterm")->utf8); /* LANG=C */
	assert_false(glyphs_choose(GLYPHS_AUTO, "UTF-8", "linux")->utf8);           /* Linux console */
	assert_false(glyphs_choose(GLYPHS_AUTO, NULL, NULL)->utf8);
	assert_true(glyphs_choose(GLYPHS_UTF8, "ANSI_X3.4-1968", "linux")->utf8);
	assert_false(glyphs_choose(GLYPHS_ASCII, "UTF-8", "xterm")->utf8);
	const glyphs *a = glyphs_choose(GLYPHS_ASCII, NULL, NULL);
	for (int i = 0; i < 8; i++)
		assert_int_equal(strlen(a->spark[i]), 1);
}

static void test_fit(void **state)
{
	(void)state;
	const glyphs *u = glyphs_choose(GLYPHS_UTF8, NULL, NULL);
	const glyphs *a = glyphs_choose(GLYPHS_ASCII, NULL, NULL);
	char buf[64];
	assert_int_equal(glyphs_fit(u, "edge-ams-01", 20, buf, sizeof buf), 11);
	assert_string_equal(buf, "edge-ams-01");
	assert_int_equal(glyphs_fit(u, "edge-ams-01", 8, buf, sizeof buf), 8);
	assert_string_equal(buf, "edge-am\u2026");
	assert_int_equal(glyphs_fit(a, "edge-ams-01", 8, buf, sizeof buf), 8);
	assert_string_equal(buf, "edge-am~");
	/* what a device sends never reaches the terminal raw: escapes and controls become '?' */
	assert_int_equal(glyphs_fit(u, "ok\x1b[2J\r\n", 20, buf, sizeof buf), 8);
	assert_string_equal(buf, "ok?[2J??");
	/* invalid UTF-8 and overlong forms */
	glyphs_fit(u, "a\xff\xc0\xafz", 20, buf, sizeof buf);
	assert_string_equal(buf, "a???z");
	/* non-ASCII in ASCII mode */
	glyphs_fit(a, "71\u00b0C", 20, buf, sizeof buf);
	assert_string_equal(buf, "71?C");
	glyphs_fit(u, "71\u00b0C", 20, buf, sizeof buf);
	assert_string_equal(buf, "71\u00b0C");
	assert_int_equal(glyphs_width("71\u00b0C"), 4);
	/* the buffer bound holds whatever the cells */
	char small[4];
	glyphs_fit(u, "abcdefgh", 100, small, sizeof small);
	assert_string_equal(small, "abc");
	assert_int_equal(glyphs_fit(u, "abc", 0, buf, sizeof buf), 0);
	assert_string_equal(buf, "");
	assert_int_equal(glyphs_fit(u, NULL, 5, buf, sizeof buf), 0);
}

static void test_wide(void **state)
{
	(void)state;
	setlocale(LC_ALL, "C.UTF-8");
	const glyphs *u = glyphs_choose(GLYPHS_UTF8, NULL, NULL);
	char buf[64];
	/* "工場" (factory): two cells each */
	assert_int_equal(glyphs_width("\u5de5\u5834"), 4);
	assert_int_equal(glyphs_fit(u, "\u5de5\u5834-1", 4, buf, sizeof buf), 3);
	assert_string_equal(buf, "\u5de5\u2026");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choose),
		cmocka_unit_test(test_fit),
		cmocka_unit_test(test_wide),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
