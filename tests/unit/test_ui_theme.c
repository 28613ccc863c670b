/* Theme files: the shipped themes, errors with their line, inheritance, colour step-down. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "theme.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char themes_dir[4096];

static int setup(void **state)
{
	(void)state;
	const char *src = getenv("FLEETDECK_SRC");
	snprintf(themes_dir, sizeof themes_dir, "%s/themes", src ? src : FLEETDECK_SRC_DIR);
	return 0;
}

static void test_shipped(void **state)
{
	(void)state;
	const char *dirs[] = { themes_dir };
	static const char *const names[] = { "dark", "light", "high-contrast", "monochrome" };
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		theme t = { 0 };
		char *err = NULL;
		int rc = theme_load(&t, names[i], dirs, 1, &err);
		if (rc)
			fail_msg("%s: %s", names[i], err);
		assert_string_equal(t.name, names[i]);
		for (int s = 0; s < THEME_NSLOTS; s++)
			assert_true(t.slot[s].set);
		theme_clear(&t);
	}
	/* every slot is named in every shipped file (a new slot must be added to all) */
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char path[4200];
		snprintf(path, sizeof path, "%s/%s.theme", themes_dir, names[i]);
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		char text[16384];
		size_t n = fread(text, 1, sizeof text - 1, f);
		fclose(f);
		text[n] = '\0';
		for (int s = 0; s < THEME_NSLOTS; s++) {
			char key[64];
			snprintf(key, sizeof key, "\n%s ", theme_slot_name(s));
			if (!strstr(text, key))
				fail_msg("%s lacks slot %s", names[i], theme_slot_name(s));
		}
	}
	theme t = { 0 };
	char *err = NULL;
	assert_int_equal(theme_load(&t, "dark", dirs, 1, &err), 0);
	assert_int_equal(t.slot[TS_HEADER].fg, 15);
	assert_int_equal(t.slot[TS_HEADER].bg, 4);
	assert_int_equal(t.slot[TS_HEADER].attrs, THEME_BOLD);
	assert_int_equal(t.slot[TS_STATE_STALE].attrs, THEME_ITALIC);
	theme_clear(&t);
	assert_int_equal(theme_load(&t, "monochrome", dirs, 1, &err), 0);
	for (int s = 0; s < THEME_NSLOTS; s++) {
		assert_int_equal(t.slot[s].fg, THEME_DEFAULT);
		assert_int_equal(t.slot[s].bg, THEME_DEFAULT);
	}
	theme_clear(&t);
}

static int parse(theme *t, const char *text, char **err)
{
	return theme_parse(t, text, strlen(text), "my.theme", NULL, NULL, 0, err);
}

static void expect_error(const char *text, const char *msg)
{
	theme t;
	theme_builtin(&t);
	theme before = t;
	char *err = NULL;
	assert_int_equal(parse(&t, text, &err), -1);
	assert_non_null(err);
	if (strcmp(err, msg) != 0)
		fail_msg("got '%s', wanted '%s'", err, msg);
	free(err);
	/* nothing changed */
	assert_memory_equal(t.slot, before.slot, sizeof t.slot);
	theme_clear(&t);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("header = red\nheadr = blue\n", "my.theme:2: unknown slot 'headr'");
	expect_error("# c\n\nheader = purple\n", "my.theme:3: 'purple' is not a colour or an attribute");
	expect_error("header = red on\n", "my.theme:1: 'on' needs a colour after it");
	expect_error("header = red on blu\n",
		     "my.theme:1: 'blu' is not a colour (names such as red or bright_blue, 0-255, #rrggbb, default)");
	expect_error("header red\n", "my.theme:1: expected 'slot = colour [on colour] [attributes]'");
	expect_error("header =\n", "my.theme:1: no style given (use 'none' for the terminal's own colours)");
	expect_error("header = red blue\n",
		     "my.theme:1: 'blue': expected an attribute (bold, dim, underline, reverse, italic)");
	expect_error("header = 256\n", "my.theme:1: '256' is not a colour or an attribute");
	expect_error("header = #12345\n", "my.theme:1: '#12345' is not a colour or an attribute");
	expect_error("inherit = dark\n", "my.theme:1: 'inherit' is not possible here");
	expect_error("a\0b = red\n", "my.theme:1: expected 'slot = colour [on colour] [attributes]'");
}

static void test_syntax(void **state)
{
	(void)state;
	theme t;
	theme_builtin(&t);
	char *err = NULL;
	int rc = parse(&t,
		       "  # comment\n"
		       "header = #FF8700 on color17 bold underline # trailing comment\n"
		       "title = on bright_black\n"
		       "border = bold\n"
		       "dim = none\n"
		       "selected = Reverse\n"
		       "alert = 9 italic\n"
		       "message=brightcyan\n",
		       &err);
	if (rc)
		fail_msg("%s", err);
	assert_int_equal(t.slot[TS_HEADER].fg, THEME_RGB(0xff, 0x87, 0x00));
	assert_int_equal(t.slot[TS_HEADER].bg, 17);
	assert_int_equal(t.slot[TS_HEADER].attrs, THEME_BOLD | THEME_UNDERLINE);
	assert_int_equal(t.slot[TS_TITLE].fg, THEME_DEFAULT);
	assert_int_equal(t.slot[TS_TITLE].bg, 8);
	assert_int_equal(t.slot[TS_BORDER].fg, THEME_DEFAULT);
	assert_int_equal(t.slot[TS_BORDER].attrs, THEME_BOLD);
	assert_int_equal(t.slot[TS_DIM].attrs, 0);
	assert_int_equal(t.slot[TS_SELECTED].attrs, THEME_REVERSE);
	assert_int_equal(t.slot[TS_ALERT].fg, 9);
	assert_int_equal(t.slot[TS_MESSAGE].fg, 14);
	/* slots the text does not name keep their value */
	assert_int_equal(t.slot[TS_STATE_HEALTHY].fg, 2);
	theme_clear(&t);
}

static void test_inherit(void **state)
{
	(void)state;
	char dir[] = "/tmp/fd-theme-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char p1[256], p2[256], p3[256], p4[256];
	snprintf(p1, sizeof p1, "%s/base.theme", dir);
	snprintf(p2, sizeof p2, "%s/mine.theme", dir);
	snprintf(p3, sizeof p3, "%s/loop.theme", dir);
	snprintf(p4, sizeof p4, "%s/broken.theme", dir);
	FILE *f = fopen(p1, "w");
	fputs("name = base\nheader = red\ntitle = green\n", f);
	fclose(f);
	f = fopen(p2, "w");
	fputs("# mine\ninherit = base\ntitle = blue\n", f);
	fclose(f);
	f = fopen(p3, "w");
	fputs("inherit = loop\n", f);
	fclose(f);
	f = fopen(p4, "w");
	fputs("header = red\n\nstate_healthy = greeen\n", f);
	fclose(f);
	const char *dirs[] = { "/nonexistent", dir };
	theme t = { 0 };
	char *err = NULL;
	assert_int_equal(theme_load(&t, "mine", dirs, 2, &err), 0);
	assert_int_equal(t.slot[TS_HEADER].fg, 1);
	assert_int_equal(t.slot[TS_TITLE].fg, 4);
	assert_int_equal(t.slot[TS_STATE_HEALTHY].fg, 2); /* from the built-in under both */
	theme_clear(&t);
	assert_int_equal(theme_load(&t, "loop", dirs, 2, &err), -1);
	assert_non_null(strstr(err, "more than 8 deep"));
	free(err);
	err = NULL;
	assert_string_equal(t.name, "default"); /* the built-in default after a failure */
	theme_clear(&t);
	/* a broken file: file:line, and the built-in default stays */
	assert_int_equal(theme_load(&t, "broken", dirs, 2, &err), -1);
	char want[512];
	snprintf(want, sizeof want, "%s:3: 'greeen' is not a colour or an attribute", p4);
	assert_string_equal(err, want);
	free(err);
	err = NULL;
	assert_string_equal(t.name, "default");
	assert_int_equal(t.slot[TS_HEADER].fg, 15);
	theme_clear(&t);
	assert_int_equal(theme_load(&t, "nosuch", dirs, 2, &err), -1);
	assert_non_null(strstr(err, "no theme 'nosuch'"));
	free(err);
	theme_clear(&t);
	unlink(p1), unlink(p2), unlink(p3), unlink(p4);
	rmdir(dir);
}

static void test_stepdown(void **state)
{
	(void)state;
	/* xterm's palette: exact cube and grey entries */
	assert_int_equal(theme_rgb_to_256(0xff0000), 196);
	assert_int_equal(theme_rgb_to_256(0x5f87af), 67);
	assert_int_equal(theme_rgb_to_256(0x808080), 244);
	assert_int_equal(theme_rgb_to_256(0x000000), 16);
	assert_int_equal(theme_rgb_to_256(0xffffff), 231);
	assert_int_equal(theme_rgb_to_256(0x121212), 233);
	/* to the 16 ANSI colours */
	assert_int_equal(theme_to_16(196), 9);
	assert_int_equal(theme_to_16(THEME_RGB(0, 0, 0xee)), 4);
	assert_int_equal(theme_to_16(5), 5);
	assert_int_equal(theme_to_16(THEME_DEFAULT), THEME_DEFAULT);
	/* by terminal */
	int red = THEME_RGB(0xd7, 0, 0);
	assert_int_equal(theme_color_for(red, 256), 160);
	assert_int_equal(theme_color_for(red, 16), 1);
	assert_int_equal(theme_color_for(red, 8), 1);
	assert_int_equal(theme_color_for(9, 8), 1);
	assert_int_equal(theme_color_for(9, 16), 9);
	assert_int_equal(theme_color_for(123, 256), 123);
	assert_int_equal(theme_color_for(red, 2), THEME_DEFAULT);
	assert_int_equal(theme_color_for(THEME_DEFAULT, 256), THEME_DEFAULT);
	int c;
	assert_int_equal(theme_color_parse("colour255", &c), 0);
	assert_int_equal(c, 255);
	assert_int_equal(theme_color_parse("bright_white", &c), 0);
	assert_int_equal(c, 15);
	assert_int_equal(theme_color_parse("gray", &c), 0);
	assert_int_equal(c, 8);
	assert_int_equal(theme_color_parse("-1", &c), -1);
	assert_int_equal(theme_color_parse("0255", &c), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped), cmocka_unit_test(test_errors), cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_inherit), cmocka_unit_test(test_stepdown),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
