/* Sparklines: scaling, gaps, fixed scales, ASCII. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "spark.h"

#include <math.h>
#include <string.h>

static void test_spark(void **state)
{
	(void)state;
	const glyphs *u = glyphs_choose(GLYPHS_UTF8, NULL, NULL), *a = glyphs_choose(GLYPHS_ASCII, NULL, NULL);
	double v[] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	bool h[] = { 1, 1, 1, 1, 1, 1, 1, 1 };
	char buf[128];
	assert_int_equal(spark_render(u, v, h, 8, 0, 0, buf, sizeof buf), 8);
	assert_string_equal(buf, "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588");
	assert_int_equal(spark_render(a, v, h, 8, 0, 0, buf, sizeof buf), 8);
	assert_string_equal(buf, "_.,-=+*#");
	/* gaps, and a flat series sits in the middle */
	bool h2[] = { 1, 0, 1, 0, 1, 1, 1, 1 };
	double flat[] = { 5, 5, 5, 5, 5, 5, 5, 5 };
	spark_render(a, flat, h2, 8, 0, 0, buf, sizeof buf);
	assert_string_equal(buf, "- - ----");
	/* a fixed scale clips */
	double big[] = { -10, 50, 100, 1000 };
	bool h4[] = { 1, 1, 1, 1 };
	spark_render(a, big, h4, 4, 0, 100, buf, sizeof buf);
	assert_string_equal(buf, "_-##");
	/* NaN is a gap; nothing at all is all gaps */
	double nan_v[] = { NAN, 1, 2 };
	bool h3[] = { 1, 1, 1 };
	spark_render(a, nan_v, h3, 3, 0, 0, buf, sizeof buf);
	assert_string_equal(buf, " _#");
	bool none[] = { 0, 0 };
	spark_render(a, v, none, 2, 0, 0, buf, sizeof buf);
	assert_string_equal(buf, "  ");
	/* the buffer bound holds */
	char small[7];
	assert_int_equal(spark_render(u, v, h, 8, 0, 0, small, sizeof small), 2);
	assert_int_equal(strlen(small), 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_spark) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
