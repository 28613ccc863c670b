/* Layout maths of the console over a grid of terminal sizes, down to tiny ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "layout.h"

static bool inside(ui_rect r, int rows, int cols)
{
	if (r.h == 0 || r.w == 0)
		return true;
	return r.y >= 0 && r.x >= 0 && r.y + r.h <= rows && r.x + r.w <= cols;
}

static bool overlap(ui_rect a, ui_rect b)
{
	if (!a.h || !a.w || !b.h || !b.w)
		return false;
	return a.y < b.y + b.h && b.y < a.y + a.h && a.x < b.x + b.w && b.x < a.x + a.w;
}

static void test_grid(void **state)
{
	(void)state;
	static const layout_opts variants[] = {
		{ .fkeys = true, .events = true }, { .fkeys = false, .events = true },
		{ .fkeys = true, .events = false }, { .fkeys = true, .events = true, .zoom = true },
	};
	for (size_t v = 0; v < sizeof variants / sizeof *variants; v++)
		for (int rows = 0; rows <= 90; rows++)
			for (int cols = 0; cols <= 260; cols += (cols < 100 ? 1 : 7)) {
				ui_layout L;
				layout_compute(rows, cols, &variants[v], &L);
				ui_rect all[] = { L.header, L.factories, L.devices, L.events, L.status, L.fkeys };
				size_t n = sizeof all / sizeof *all;
				int cells = 0;
				for (size_t i = 0; i < n; i++) {
					assert_true(inside(all[i], rows, cols));
					cells += all[i].h * all[i].w;
					for (size_t j = i + 1; j < n; j++)
						assert_false(overlap(all[i], all[j]));
				}
				if (rows < LAYOUT_MIN_ROWS || cols < LAYOUT_MIN_COLS) {
					assert_true(L.too_small);
					assert_int_equal(L.devices.h, 0);
					continue;
				}
				assert_false(L.too_small);
				bool compact = rows < LAYOUT_FULL_MIN_ROWS || cols < LAYOUT_FULL_MIN_COLS;
				assert_int_equal(L.compact, compact);
				/* the devices list is always there and at least a heading plus a row */
				assert_true(L.devices.h >= 1);
				assert_int_equal(L.devices.w > 0, true);
				assert_int_equal(L.status.h, 1);
				if (compact || variants[v].zoom) {
					assert_int_equal(L.factories.h * L.factories.w, 0);
					assert_int_equal(L.events.h * L.events.w, 0);
					assert_int_equal(L.devices.w, cols);
				} else {
					assert_true(L.factories.w >= 34);
					assert_true(L.devices.w >= 80 - 60);
					assert_true(L.devices.h >= 5);
					assert_int_equal(L.events.h > 0, variants[v].events);
				}
				/* the panes tile the whole screen */
				assert_int_equal(cells, rows * cols);
			}
}

static void test_full_80x24(void **state)
{
	(void)state;
	ui_layout L;
	layout_compute(24, 80, NULL, &L);
	assert_false(L.compact);
	assert_int_equal(L.header.h, 2);
	assert_int_equal(L.fkeys.y, 23);
	assert_int_equal(L.status.y, 22);
	assert_int_equal(L.events.h, 5);
	assert_int_equal(L.factories.y, 2);
	assert_int_equal(L.factories.w + L.devices.w, 80);
	assert_int_equal(L.devices.h, 24 - 2 - 1 - 1 - 5);
	layout_compute(23, 80, NULL, &L);
	assert_true(L.compact);
	layout_compute(24, 79, NULL, &L);
	assert_true(L.compact);
	assert_int_equal(L.header.h, 1);
}

static void test_columns(void **state)
{
	(void)state;
	/* host, state, version, temp, util, uptime */
	layout_col c[] = {
		{ .min = 10, .pref = 20, .prio = 0 }, { .min = 8, .pref = 11, .prio = 1 },
		{ .min = 5, .pref = 10, .prio = 2 },  { .min = 5, .pref = 6, .prio = 3 },
		{ .min = 4, .pref = 5, .prio = 5 },   { .min = 6, .pref = 8, .prio = 4 },
	};
	int w[6];
	/* plenty of room: every column at its preferred width */
	assert_int_equal(layout_columns(c, 6, 200, w), 6);
	int expect_pref[] = { 20, 11, 10, 6, 5, 8 };
	assert_memory_equal(w, expect_pref, sizeof w);
	/* minimums exactly: 10+8+5+5+4+6 + 5 blanks = 43 */
	assert_int_equal(layout_columns(c, 6, 43, w), 6);
	int expect_min[] = { 10, 8, 5, 5, 4, 6 };
	assert_memory_equal(w, expect_min, sizeof w);
	/* one cell short: the least important (util, prio 5) goes */
	assert_int_equal(layout_columns(c, 6, 42, w), 5);
	assert_int_equal(w[4], 0);
	/* the first column grows first with the room left over */
	assert_int_equal(layout_columns(c, 6, 48, w), 6);
	assert_int_equal(w[0], 15);
	/* tiny: only the first column, cut to fit */
	assert_int_equal(layout_columns(c, 6, 7, w), 1);
	assert_int_equal(w[0], 7);
	assert_int_equal(w[1], 0);
	/* hidden columns take no room; the first can't be hidden */
	c[1].hidden = true;
	c[0].hidden = true;
	assert_int_equal(layout_columns(c, 6, 200, w), 5);
	assert_int_equal(w[1], 0);
	assert_int_equal(w[0], 20);
	assert_int_equal(layout_columns(c, 6, 0, w), 0);
}

static void test_scroll(void **state)
{
	(void)state;
	assert_int_equal(layout_scroll(0, 0, 10, 100), 0);
	assert_int_equal(layout_scroll(0, 9, 10, 100), 0);
	assert_int_equal(layout_scroll(0, 10, 10, 100), 1);
	assert_int_equal(layout_scroll(50, 20, 10, 100), 20);
	assert_int_equal(layout_scroll(0, 99, 10, 100), 90);
	assert_int_equal(layout_scroll(95, 99, 10, 100), 90); /* never past the end */
	assert_int_equal(layout_scroll(5, 3, 10, 5), 0);       /* fewer rows than the window */
	assert_int_equal(layout_scroll(0, 500, 10, 100), 90);
	assert_int_equal(layout_scroll(0, 0, 0, 100), 0);
	/* 10,000 rows: the window follows the selection both ways */
	int top = 0;
	for (int sel = 0; sel < 10000; sel += 37) {
		top = layout_scroll(top, sel, 30, 10000);
		assert_true(sel >= top && sel < top + 30);
	}
	for (int sel = 9999; sel >= 0; sel -= 41) {
		top = layout_scroll(top, sel, 30, 10000);
		assert_true(sel >= top && sel < top + 30);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grid),
		cmocka_unit_test(test_full_80x24),
		cmocka_unit_test(test_columns),
		cmocka_unit_test(test_scroll),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
