/* test_inventory: the data model's Ansible semantics (ungrouped, depth, order, precedence). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "inventory/hostrange.h"
#include "inventory/ini.h"
#include "inventory/inventory.h"
#include "inventory/yamlinv.h"
#include "util/pyjson.h"

static void test_ungrouped_and_all(void **state)
{
	(void)state;
	inventory *inv = inv_new();
	inv_group *ung = inv_group_get(inv, "ungrouped");
	inv_host *a = inv_host_add(inv, "a", ung);
	inv_group *g = inv_group_add(inv, "g");
	inv_host_add(inv, "a", g);
	inv_host_add(inv, "b", NULL);
	assert_int_equal(inv_reconcile(inv, NULL), 0);
	/* a left ungrouped once it joined g; b joined it */
	assert_int_equal(ung->nhosts, 1);
	assert_string_equal(ung->hosts[0]->name, "b");
	assert_int_equal(a->ngroups, 1);
	size_t n;
	inv_host *const *hs = inv_group_hosts(inv, inv_group_get(inv, "all"), &n);
	assert_int_equal(n, 2);
	assert_string_equal(hs[0]->name, "b"); /* ungrouped is all's first child */
	assert_string_equal(hs[1]->name, "a");
	inv_free(inv);
}

static void test_loop_refused(void **state)
{
	(void)state;
	inventory *inv = inv_new();
	inv_group *a = inv_group_add(inv, "a"), *b = inv_group_add(inv, "b");
	char *err = NULL;
	assert_int_equal(inv_group_add_child(inv, a, b, &err), 1);
	assert_int_equal(inv_group_add_child(inv, b, a, &err), -1);
	assert_non_null(strstr(err, "recursive dependency loop"));
	free(err);
	err = NULL;
	assert_int_equal(inv_group_add_child(inv, a, a, &err), -1);
	free(err);
	inv_free(inv);
}

static void test_precedence(void **state)
{
	(void)state;
	inventory *inv = inv_new();
	inv_group *all = inv_group_get(inv, "all");
	inv_group *parent = inv_group_add(inv, "parent"), *child = inv_group_add(inv, "child");
	inv_group *zeta = inv_group_add(inv, "zeta");
	inv_group_add_child(inv, parent, child, NULL);
	inv_host *h = inv_host_add(inv, "h", child);
	inv_host_add(inv, "h", zeta);
	inv_group_set_var(all, "x", json_string("all"), NULL);
	inv_group_set_var(parent, "x", json_string("parent"), NULL);
	inv_group_set_var(parent, "y", json_string("parent"), NULL);
	inv_group_set_var(zeta, "y", json_string("zeta"), NULL);
	inv_group_set_var(child, "x", json_string("child"), NULL);
	inv_group_set_var(all, "inventory_file", json_string("hidden"), NULL);
	assert_int_equal(inv_reconcile(inv, NULL), 0);
	json_t *v = inv_host_vars(inv, h);
	/* depth 2 child beats depth 1 parent and zeta; zeta (depth 1) beats parent by name */
	assert_string_equal(json_string_value(json_object_get(v, "x")), "child");
	assert_string_equal(json_string_value(json_object_get(v, "y")), "zeta");
	assert_null(json_object_get(v, "inventory_file"));
	json_decref(v);
	/* priority outranks name among equals in depth */
	assert_int_equal(inv_group_set_var(parent, "ansible_group_priority", json_string("10"), NULL), 0);
	v = inv_host_vars(inv, h);
	assert_string_equal(json_string_value(json_object_get(v, "y")), "parent");
	json_decref(v);
	inv_host_set_var(h, "x", json_string("host"));
	v = inv_host_vars(inv, h);
	assert_string_equal(json_string_value(json_object_get(v, "x")), "host");
	json_decref(v);
	inv_free(inv);
}

static void test_graph(void **state)
{
	(void)state;
	inventory *inv = inv_new();
	inv_group *g = inv_group_add(inv, "g");
	inv_host_add(inv, "h1", g);
	inv_reconcile(inv, NULL);
	char *s = inv_graph(inv, NULL, NULL);
	assert_string_equal(s, "@all:\n  |--@ungrouped:\n  |--@g:\n  |  |--h1\n");
	free(s);
	char *err = NULL;
	assert_null(inv_graph(inv, "nope", &err));
	free(err);
	inv_free(inv);
}

/* Ints beyond int64 keep their digits through parsing, merging and copying,
 * print as JSON integers and never pass for strings or int64s. */
static void test_big_ints(void **state)
{
	(void)state;
	static const char ini[] = "h1 a=123456789012345678901234567890 b=-99999999999999999999 c=\"1234\"\n"
				  "[g]\nh1\n[g:vars]\nd=123456789012345678901234567890\n";
	static const char yml[] = "all:\n  hosts:\n    h2:\n      a: 123456789012345678901234567890\n"
				  "      b: [0x1ffffffffffffffff, 9223372036854775807, -9223372036854775808]\n"
				  "      c: 1:0:0:0:0:0:0:0:0:0:0:0\n";
	inventory *inv = inv_new();
	char *err = NULL;
	assert_int_equal(ini_parse(inv, "h.ini", ini, sizeof ini - 1, &err), 0);
	assert_int_equal(yamlinv_parse(inv, "h.yml", yml, sizeof yml - 1, &err), 0);
	assert_int_equal(inv_reconcile(inv, &err), 0);

	json_t *v = inv_host_vars(inv, inv_host_get(inv, "h1"));
	json_t *a = json_object_get(v, "a");
	size_t n;
	assert_string_equal(pyjson_bigint_digits(a, &n), "123456789012345678901234567890");
	assert_int_equal(n, 30);
	assert_true(pyjson_is_int(a));
	assert_false(json_is_integer(a));
	/* read as a plain C string it is the digits, what Python's str() gives */
	assert_string_equal(json_string_value(a), "123456789012345678901234567890");
	assert_string_equal(pyjson_bigint_digits(json_object_get(v, "b"), NULL), "-99999999999999999999");
	/* a small int is a plain JSON integer; :vars values are literals too (ini.py _parse_value) */
	assert_null(pyjson_bigint_digits(json_object_get(v, "c"), NULL));
	assert_true(json_is_integer(json_object_get(v, "c")));
	assert_true(pyjson_is_int(json_object_get(v, "d")));
	json_t *copy = json_deep_copy(v);
	assert_true(json_equal(copy, v));
	char *s = pyjson_dumps(copy, -1);
	assert_non_null(strstr(s, "\"a\": 123456789012345678901234567890,"));
	assert_non_null(strstr(s, "\"b\": -99999999999999999999,"));
	assert_non_null(strstr(s, "\"c\": 1234"));
	free(s);
	json_decref(copy);
	json_decref(v);

	v = inv_host_vars(inv, inv_host_get(inv, "h2"));
	s = pyjson_dumps(v, -1);
	assert_string_equal(s, "{\"a\": 123456789012345678901234567890, "
			       "\"b\": [36893488147419103231, 9223372036854775807, -9223372036854775808], "
			       "\"c\": 36279705600000000000}");
	free(s);
	/* int64 edge values stay JSON integers */
	json_t *b = json_object_get(v, "b");
	assert_true(json_is_integer(json_array_get(b, 1)));
	assert_true(json_is_integer(json_array_get(b, 2)));
	pyint x = PYINT_INIT;
	assert_true(pyjson_int_get(json_array_get(b, 0), &x));
	char *d = pyint_str(&x, NULL);
	assert_string_equal(d, "36893488147419103231");
	free(d);
	pyint_free(&x);
	json_decref(v);
	inv_free(inv);
}

static int sink(void *ctx, const char *s, size_t n)
{
	pyjson_append_raw(ctx, s, n);
	return 0;
}

static int refuse(void *ctx, const char *s, size_t n)
{
	(void)s;
	(void)n;
	++*(int *)ctx;
	return -1;
}

/* The streamed --list is the document inv_list_json() gives, byte for byte:
 * group names sorting before and after "_meta", hosts without variables,
 * internal variables, nested values, a group named _meta (the hostvars win). */
static void test_list_write(void **state)
{
	(void)state;
	static const char *const inis[] = {
		"",
		"[empty]\n",
		"solo\n",
		"solo x=1 inventory_file=no\n[Zed]\nz1\n[0g]\nz1 n=[1,{'a':(2,3)}]\n[_meta]\nm1\n[web:children]\nZed\n"
		"[web:vars]\ngroups=hidden\nkept='yes'\n[all:vars]\nx=0\ny=\"q\\\"uote\"\n",
	};
	for (size_t i = 0; i < sizeof inis / sizeof *inis; i++) {
		inventory *inv = inv_new();
		char *err = NULL;
		assert_int_equal(ini_parse(inv, "h.ini", inis[i], strlen(inis[i]), &err), 0);
		assert_int_equal(inv_reconcile(inv, &err), 0);
		json_t *doc = inv_list_json(inv);
		char *want = pyjson_dumps(doc, 4);
		json_decref(doc);
		pyjson_buf got = { NULL, 0, 0 };
		assert_int_equal(inv_list_write(inv, sink, &got), 0);
		assert_non_null(got.s);
		assert_string_equal(got.s, want);
		free(got.s);
		free(want);
		/* a sink that fails stops the writing at once */
		int calls = 0;
		assert_int_equal(inv_list_write(inv, refuse, &calls), -1);
		assert_int_equal(calls, 1);
		inv_free(inv);
	}
}

/* Strings are escaped as json.dumps does wherever the special byte falls
 * (the writer scans eight bytes at a time). */
static void test_json_string_escapes(void **state)
{
	(void)state;
	static const struct {
		char c;
		const char *esc;
	} specials[] = { { '"', "\\\"" }, { '\\', "\\\\" }, { '\n', "\\n" }, { '\x01', "\\u0001" },
			 { '\x1f', "\\u001f" }, { '\x7f', "\x7f" }, { ' ', " " } };
	for (size_t k = 0; k < sizeof specials / sizeof *specials; k++) {
		for (size_t len = 1; len <= 24; len++) {
			for (size_t at = 0; at < len; at++) {
				char in[32], want[64];
				memset(in, 'a', len);
				in[at] = specials[k].c;
				size_t w = 0;
				want[w++] = '"';
				for (size_t i = 0; i < len; i++) {
					if (i == at) {
						strcpy(want + w, specials[k].esc);
						w += strlen(specials[k].esc);
					} else {
						want[w++] = 'a';
					}
				}
				want[w++] = '"';
				want[w] = '\0';
				json_t *j = json_stringn(in, len);
				char *got = pyjson_dumps(j, 4);
				assert_string_equal(got, want);
				free(got);
				json_decref(j);
			}
		}
	}
	/* UTF-8 passes through as it is (ensure_ascii=False) */
	json_t *j = json_string("caf\xc3\xa9 \xe2\x82\xac and more than eight bytes");
	char *got = pyjson_dumps(j, 4);
	assert_string_equal(got, "\"caf\xc3\xa9 \xe2\x82\xac and more than eight bytes\"");
	free(got);
	json_decref(j);
}

/* A huge range whose inner range yields nothing emits no name, yet must not walk
 * forever: it is refused after a bounded number of values. */
static void test_range_walk_bounded(void **state)
{
	(void)state;
	char **names = NULL, *err = NULL;
	size_t n = 0;
	long port;
	assert_int_equal(hostrange_expand_max("s[0:16666666666666666666666666666660:2]c[9:3].lab", 100, &names, &n, &port,
					      &err), -1);
	assert_non_null(strstr(err, "walks more than 464 range values"));
	free(err);
	err = NULL;
	/* a range as big as the budget allows still expands */
	assert_int_equal(hostrange_expand_max("h[1:10][1:10]", 100, &names, &n, &port, &err), 0);
	assert_int_equal(n, 100);
	hostrange_free(names, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ungrouped_and_all),
		cmocka_unit_test(test_range_walk_bounded),
		cmocka_unit_test(test_loop_refused),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_graph),
		cmocka_unit_test(test_big_ints),
		cmocka_unit_test(test_list_write),
		cmocka_unit_test(test_json_string_escapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
