/* test_pattern: host patterns against what ansible-core 2.14's `ansible -i INV PATTERN --list-hosts` prints. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "inventory/inventory.h"
#include "inventory/pattern.h"

/*
 * Every expectation below was recorded from the real CLI:
 *
 *   ansible -i FILE 'PATTERN' --list-hosts
 *
 * on the INI files quoted here (the hosts on the `hosts (N):` lines, the
 * `[WARNING]:` lines). The CLI turns an AnsibleError into "No hosts matched,
 * nothing to do" unless --limit is given, so the errors were recorded with
 * `--limit all` added, which lets them through as `ERROR! ...`.
 */

/* /tmp/pat/inv1.ini */
static const char INV1[] =
	"solo1\n"
	"solo2\n"
	"Web3\n"
	"[web]\n"
	"web1\n"
	"web2\n"
	"web10\n"
	"db1\n"
	"[db]\n"
	"db1\n"
	"db2\n"
	"db10\n"
	"[app:children]\n"
	"web\n"
	"db\n"
	"[app]\n"
	"app1\n"
	"web2\n"
	"[edge]\n"
	"fe80::1\n"
	"2001:db8::10\n"
	"10.0.0.1\n"
	"10.0.0.2\n"
	"[web_ish]\n"
	"w.x\n"
	"web-a\n"
	"[weird]\n"
	"webby\n";

/* /tmp/pat/inv2.ini: hosts named like groups, and an explicit 127.0.0.1 */
static const char INV2[] =
	"[g1]\n"
	"web\n"
	"h1\n"
	"127.0.0.1\n"
	"[web]\n"
	"h2\n"
	"h3\n"
	"[g2]\n"
	"ungrouped\n"
	"all\n";

#define ALL1 "solo1 solo2 Web3 app1 web2 fe80::1 2001:db8::10 10.0.0.1 10.0.0.2 w.x web-a webby web1 web10 db1 db2 db10"

/* Builds what Ansible's INI plugin builds for these simple files: groups on
 * their section line, hosts in order, `:children` sections, then reconcile. */
static inventory *load_ini(const char *text)
{
	inventory *inv = inv_new();
	inv_group *g = inv_group_get(inv, "ungrouped");
	bool children = false;
	char *copy = strdup(text), *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '[') {
			line[strlen(line) - 1] = '\0';
			char *c = strstr(line, ":children");
			children = c != NULL;
			if (c)
				*c = '\0';
			g = inv_group_add(inv, line + 1);
		} else if (children) {
			assert_true(inv_group_add_child(inv, g, inv_group_add(inv, line), NULL) >= 0);
		} else {
			inv_host_add(inv, line, g);
		}
	}
	free(copy);
	assert_int_equal(inv_reconcile(inv, NULL), 0);
	return inv;
}

struct outcome {
	char *hosts;    /* names joined by spaces */
	char *warnings; /* new warnings joined by " | " */
	char *err;
	int rc;
};

static void join(char **dst, const char *sep, const char *s)
{
	size_t a = *dst ? strlen(*dst) : 0, b = strlen(sep), c = strlen(s);
	*dst = realloc(*dst, a + b + c + 1);
	if (a)
		memcpy(*dst + a, sep, b + 1);
	else
		(*dst)[0] = '\0';
	strcat(*dst, s);
}

/* A fresh inventory per pattern: inv_warn() keeps each warning once. */
static struct outcome run(const char *ini, const char *pattern, const char *limit)
{
	struct outcome o = { strdup(""), strdup(""), NULL, 0 };
	inventory *inv = load_ini(ini);
	size_t w0 = inv_warning_count(inv);
	inv_host **hosts = NULL;
	size_t n = 0;
	o.rc = limit ? inv_pattern_limit(inv, pattern, limit, &hosts, &n, &o.err)
		     : inv_pattern_hosts(inv, pattern, &hosts, &n, &o.err);
	for (size_t i = 0; i < n; i++)
		join(&o.hosts, " ", hosts[i]->name);
	for (size_t i = w0; i < inv_warning_count(inv); i++)
		join(&o.warnings, " | ", inv_warning(inv, i));
	free(hosts);
	inv_free(inv);
	return o;
}

static void outcome_free(struct outcome *o)
{
	free(o->hosts);
	free(o->warnings);
	free(o->err);
}

struct row {
	const char *pattern, *hosts, *warnings;
};

static void check_rows(const char *ini, const struct row *rows, size_t n, const char *limit)
{
	for (size_t i = 0; i < n; i++) {
		struct outcome o = run(ini, rows[i].pattern, limit);
		if (o.rc != 0)
			fail_msg("%s: unexpected error %s", rows[i].pattern, o.err);
		if (strcmp(o.hosts, rows[i].hosts) != 0)
			fail_msg("%s: got [%s], want [%s]", rows[i].pattern, o.hosts, rows[i].hosts);
		const char *w = rows[i].warnings ? rows[i].warnings : "";
		if (strcmp(o.warnings, w) != 0)
			fail_msg("%s: warnings [%s], want [%s]", rows[i].pattern, o.warnings, w);
		outcome_free(&o);
	}
}

#define NOMATCH "Could not match supplied host pattern, ignoring: "

static void test_basic_and_globs(void **state)
{
	(void)state;
	static const struct row rows[] = {
		{ "all", ALL1, NULL },
		{ "*", ALL1, NULL },
		{ "", ALL1, NULL },  /* nothing: order_patterns() supplies `all` */
		{ ",", ALL1, NULL },
		{ "[", ALL1, NULL }, /* the ':' splitter drops a lone '[' */
		{ "web", "web1 web2 web10 db1", NULL },
		{ "web1", "web1", NULL },
		{ "web3", "", NOMATCH "web3" }, /* case-sensitive */
		/* group web, then hosts matching the glob, without repeats */
		{ "web*", "web1 web2 web10 db1 w.x web-a webby", NULL },
		{ "web?", "web1 web2", NULL },
		{ "[w]eb1", "web1", NULL },
		{ "web[!1]*", "w.x web-a web2 webby", NULL }, /* group web_ish first */
		{ "w[a-f]b*", "web1 web2 web10 db1 w.x web-a webby", NULL },
		{ "w[!a-f]b*", "", NOMATCH "w[!a-f]b*" },
		{ "web[z-a]*", "", NOMATCH "web[z-a]*" }, /* a reversed range never matches */
		{ "w.x", "w.x", NULL },
		{ "w?x", "w.x", NULL },
		{ "10.0.0.*", "10.0.0.1 10.0.0.2", NULL },
		{ "ungrouped", "solo1 solo2 Web3", NULL },
		{ "ungr*", "solo1 solo2 Web3", NULL },
		{ "al*", ALL1, NULL }, /* patterns do match the groups all and ungrouped */
		{ "nosuch", "", NOMATCH "nosuch" },
		{ "a b", "", NOMATCH "a | " NOMATCH "b" },
	};
	check_rows(INV1, rows, sizeof rows / sizeof *rows, NULL);
}

static void test_regex(void **state)
{
	(void)state;
	static const struct row rows[] = {
		/* re.match(): anchored at the start only */
		{ "~web", "web1 web2 web10 db1 w.x web-a webby", NULL },
		{ "~web\\d", "web1 web2 web10", NULL },
		{ "~eb", "", NOMATCH "~eb" },
		{ "~(web|db)1$", "web1 db1", NULL },
		{ "~(?i)web3", "Web3", NULL },
		/* the ':' splitter cuts regexes too */
		{ "~web.*:db", "web1 web2 web10 db1 w.x web-a webby db2 db10", NULL },
	};
	check_rows(INV1, rows, sizeof rows / sizeof *rows, NULL);
}

static void test_combinations(void **state)
{
	(void)state;
	static const struct row rows[] = {
		{ "web:db", "web1 web2 web10 db1 db2 db10", NULL },
		{ "web,db", "web1 web2 web10 db1 db2 db10", NULL },
		{ "web::db", "web1 web2 web10 db1 db2 db10", NULL },
		{ "web:&db", "db1", NULL },
		{ "app:&web", "web2 web1 web10 db1", NULL }, /* app's order */
		{ "app:!db", "app1 web2 web1 web10", NULL },
		{ "&web", "web2 web1 web10 db1", NULL },      /* all's order */
		{ "!web", "solo1 solo2 Web3 app1 fe80::1 2001:db8::10 10.0.0.1 10.0.0.2 w.x web-a webby db2 db10", NULL },
		{ "!web:&app", "app1 db2 db10", NULL },
		{ "web1,web1,web", "web1 web2 web10 db1", NULL },
		{ "db1:web", "db1 web1 web2 web10", NULL },
		{ "10.0.0.[1:2]:web1", "web1", NOMATCH "10.0.0." },
	};
	check_rows(INV1, rows, sizeof rows / sizeof *rows, NULL);
}

static void test_subscripts(void **state)
{
	(void)state;
	static const struct row rows[] = {
		{ "web[0]", "web1", NULL },
		{ "web[-1]", "db1", NULL },
		{ "web[1:3]", "web2 web10 db1", NULL },
		{ "web[1:]", "web2 web10 db1", NULL },
		{ "web[1-2]", "web2 web10", "Use [x:y] inclusive subscripts instead of [x-y] which has been removed" },
		{ "web[2:0]", "web10", NULL }, /* `if end:` treats 0 as no end */
		{ "web[10:20]", "", NULL },
		{ "nosuch[0]", "", NOMATCH "nosuch" },
		/* subscripts index the list before duplicates are dropped */
		{ "*[3]", "app1", NULL },
		{ "app[3]", "web10", NULL },
	};
	check_rows(INV1, rows, sizeof rows / sizeof *rows, NULL);
}

static void check_error(const char *ini, const char *pattern, const char *limit, const char *want)
{
	struct outcome o = run(ini, pattern, limit);
	assert_int_equal(o.rc, -1);
	assert_non_null(o.err);
	if (strcmp(o.err, want) != 0)
		fail_msg("%s: error [%s], want [%s]", pattern, o.err, want);
	outcome_free(&o);
}

static void test_errors(void **state)
{
	(void)state;
	check_error(INV1, "web[12]", NULL, "No hosts matched the subscripted pattern 'web[12]'");
	check_error(INV1, "web[4]", NULL, "No hosts matched the subscripted pattern 'web[4]'");
	check_error(INV1, "web[-5]", NULL, "No hosts matched the subscripted pattern 'web[-5]'");
	check_error(INV1, "!web[-5]", NULL, "No hosts matched the subscripted pattern 'web[-5]'");
	check_error(INV1, "&", NULL, "Unexpected Exception, this is probably a bug: string index out of range");
	check_error(INV1, "!", NULL, "Unexpected Exception, this is probably a bug: string index out of range");
	check_error(INV1, "~(?:web)", NULL, "Invalid host list pattern: ~(?");
	check_error(INV1, "~\\e", NULL, "Invalid host list pattern: ~\\e");
	check_error(INV1, "~(?<x>web)1", NULL, "Invalid host list pattern: ~(?<x>web)1");

	/* warnings of the patterns before the failing one stay */
	struct outcome o = run(INV1, "nosuch[0]:web[9]", NULL);
	assert_int_equal(o.rc, -1);
	assert_string_equal(o.err, "No hosts matched the subscripted pattern 'web[9]'");
	assert_string_equal(o.warnings, NOMATCH "nosuch");
	outcome_free(&o);
}

static void test_addresses(void **state)
{
	(void)state;
	static const struct row rows[] = {
		{ "fe80::1", "fe80::1", NULL },
		/* parse_address() accepts anything starting like `fe80::`, so this
		 * is one glob, not fe80 and * */
		{ "fe80::*", "fe80::1", NULL },
		{ "2001:db8::10", "2001:db8::10", NULL },
		{ "db::web", "", NOMATCH "db::web" }, /* `db::` looks like IPv6 */
		{ "web1:22", "", NOMATCH "web1:22" }, /* host:port is one pattern */
	};
	check_rows(INV1, rows, sizeof rows / sizeof *rows, NULL);
}

static void test_localhost(void **state)
{
	(void)state;
	static const struct row rows[] = {
		{ "localhost", "localhost", NULL },
		{ "127.0.0.1", "127.0.0.1", NULL },
		{ "::1", "::1", NULL },
		{ "localhost:web1", "localhost web1", NULL },
		{ "localhost:!localhost", "", NULL },
		{ "localhost:&all", "", NULL }, /* the implicit host is not in all */
		{ "127.0.0.1:localhost", "127.0.0.1", NULL }, /* created once, first name wins */
	};
	check_rows(INV1, rows, sizeof rows / sizeof *rows, NULL);

	static const struct row empty[] = {
		{ "all", "", NULL },
		{ "*", "", NULL },
		{ "localhost", "localhost", NULL },
		{ "localhost:all", "localhost", NULL },
		{ "nosuch", "", NOMATCH "nosuch" },
	};
	check_rows("", empty, sizeof empty / sizeof *empty, NULL);
}

static void test_names_shadowing_groups(void **state)
{
	(void)state;
	static const struct row rows[] = {
		/* a plain host name is taken before any group of that name */
		{ "web", "web", NULL },
		{ "web[0]", "h2", NULL },
		{ "we?", "h2 h3 web", NULL },
		{ "all", "all", NULL },
		{ "all[0]", "web", NULL },
		{ "al?", "web h1 127.0.0.1 h2 h3 ungrouped all", NULL },
		{ "ungrouped", "ungrouped", NULL },
		{ "ungrouped[0]", "", NULL }, /* the group matched: no warning */
		/* the inventory's localhost-like host stands in for the others */
		{ "localhost", "127.0.0.1", NULL },
		{ "::1", "127.0.0.1", NULL },
		{ "g2:localhost", "ungrouped all 127.0.0.1", NULL },
	};
	check_rows(INV2, rows, sizeof rows / sizeof *rows, NULL);
}

static char tmpdir[64];

static char *tmp_path(const char *name)
{
	char *p = malloc(strlen(tmpdir) + strlen(name) + 2);
	sprintf(p, "%s/%s", tmpdir, name);
	return p;
}

static void write_file(const char *name, const char *text)
{
	char *p = tmp_path(name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

static char *limit_arg(const char *prefix, const char *name, const char *suffix)
{
	char *p = tmp_path(name);
	char *s = malloc(strlen(prefix) + strlen(p) + strlen(suffix) + 1);
	sprintf(s, "%s%s%s", prefix, p, suffix);
	free(p);
	return s;
}

static void test_limit(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/fleetdeck-pattern-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	/* lines are stripped (\r\n too) and not split at commas */
	write_file("lim1", "web1\n\n  db2 \r\nsolo1,solo2\n");
	write_file("empty", "");
	char *dir = tmp_path("dir");
	assert_int_equal(mkdir(dir, 0700), 0);

	char *lim1 = limit_arg("@", "lim1", "");
	static const struct row r_lim1[] = { { "all", "web1 db2", NOMATCH "solo1,solo2" } };
	check_rows(INV1, r_lim1, 1, lim1);
	char *lim1_web2 = limit_arg("@", "lim1", ",web2");
	static const struct row r_lim1_web2[] = { { "all", "web2 web1 db2", NOMATCH "solo1,solo2" } };
	check_rows(INV1, r_lim1_web2, 1, lim1_web2);
	/* an empty file gives one empty pattern, which means `all` */
	char *empty = limit_arg("@", "empty", "");
	static const struct row r_all[] = { { "all", ALL1, NULL } };
	check_rows(INV1, r_all, 1, empty);
	check_rows(INV1, r_all, 1, "");  /* an empty limit limits nothing */
	check_rows(INV1, r_all, 1, ","); /* neither does one that splits into nothing */
	static const struct row r_not_web1[] = {
		{ "all", "solo1 solo2 Web3 app1 web2 fe80::1 2001:db8::10 10.0.0.1 10.0.0.2 w.x web-a webby web10 db1 db2 db10", NULL },
	};
	check_rows(INV1, r_not_web1, 1, "!web1");
	static const struct row r_tail[] = { { "all", "web2 web10 db1", NULL } };
	check_rows(INV1, r_tail, 1, "web[1:]");
	/* the pattern's order, the limit's selection */
	static const struct row r_app[] = { { "app", "web1 web10 db1", NULL } };
	check_rows(INV1, r_app, 1, "web:!web2");
	/* get_hosts() gives nothing here; the CLI's list_hosts() then prints
	 * "localhost" anyway, as it does for any of the three names alone */
	static const struct row r_local[] = { { "localhost", "", NULL } };
	check_rows(INV1, r_local, 1, "all");

	check_error(INV1, "all", "web[5]", "No hosts matched the subscripted pattern 'web[5]'");
	char *missing = limit_arg("@", "nofile", ""), *want = limit_arg("Unable to find limit file b'", "nofile", "'");
	check_error(INV1, "all", missing, want);
	char *dirlim = limit_arg("@", "dir", ""),
	     *wantdir = limit_arg("Limit starting with \"@\" must be a file, not a directory: b'", "dir", "'");
	check_error(INV1, "all", dirlim, wantdir);
	check_error(INV1, "all", "@nofile'x", "Unable to find limit file b\"nofile'x\"");

	char *p;
	unlink(p = tmp_path("lim1")), free(p);
	unlink(p = tmp_path("empty")), free(p);
	rmdir(dir);
	rmdir(tmpdir);
	free(dir);
	free(lim1);
	free(lim1_web2);
	free(empty);
	free(missing);
	free(want);
	free(dirlim);
	free(wantdir);
}

/* Marks are shared with inv_group_hosts(): evaluating after the inventory
 * changed (caches rebuilt mid-evaluation) must still combine correctly. */
static void test_after_change(void **state)
{
	(void)state;
	inventory *inv = load_ini(INV1);
	inv_host **hosts;
	size_t n;
	char *err = NULL;
	assert_int_equal(inv_pattern_hosts(inv, "web:db:!app1", &hosts, &n, &err), 0);
	free(hosts);
	inv_host_add(inv, "web11", inv_group_get(inv, "web"));
	assert_int_equal(inv_reconcile(inv, NULL), 0);
	assert_int_equal(inv_pattern_hosts(inv, "web:db:&app:!db10", &hosts, &n, &err), 0);
	assert_int_equal(n, 6);
	const char *want[] = { "web1", "web2", "web10", "db1", "web11", "db2" };
	for (size_t i = 0; i < n; i++)
		assert_string_equal(hosts[i]->name, want[i]);
	free(hosts);
	inv_free(inv);
}

/* `ansible PATTERN --list-hosts` (recorded from the CLI): AnsibleErrors and
 * empty selections become no hosts and "No hosts matched, nothing to do",
 * unless --limit is given; other exceptions stay errors. */
static void list_hosts_check(const char *ini, const char *pattern, const char *limit, int want_rc,
			     const char *want_hosts, const char *want_warnings, const char *want_err)
{
	inventory *inv = load_ini(ini);
	inv_host **hosts = NULL;
	size_t n = 0;
	char *err = NULL, *names = strdup(""), *warns = strdup("");
	int rc = inv_pattern_list_hosts(inv, pattern, limit, &hosts, &n, &err);
	for (size_t i = 0; i < n; i++)
		join(&names, " ", hosts[i]->name);
	for (size_t i = 0; i < inv_warning_count(inv); i++)
		join(&warns, " | ", inv_warning(inv, i));
	if (rc != want_rc)
		fail_msg("%s: rc %d, want %d (%s)", pattern, rc, want_rc, err ? err : "");
	if (strcmp(names, want_hosts) != 0)
		fail_msg("%s: got [%s], want [%s]", pattern, names, want_hosts);
	if (strcmp(warns, want_warnings) != 0)
		fail_msg("%s: warnings [%s], want [%s]", pattern, warns, want_warnings);
	if (want_err && (!err || strcmp(err, want_err) != 0))
		fail_msg("%s: error [%s], want [%s]", pattern, err ? err : "", want_err);
	if (!want_err && err)
		fail_msg("%s: unexpected error %s", pattern, err);
	free(hosts);
	free(err);
	free(names);
	free(warns);
	inv_free(inv);
}

#define NOTHING "No hosts matched, nothing to do"

static void test_list_hosts(void **state)
{
	(void)state;
	list_hosts_check(INV1, "web[0]", NULL, 0, "web1", "", NULL);
	list_hosts_check(INV1, "web[12]", NULL, 0, "", NOTHING, NULL);
	list_hosts_check(INV1, "db:web[12]", NULL, 0, "", NOTHING, NULL);
	list_hosts_check(INV1, "web[-5]", NULL, 0, "", NOTHING, NULL);
	list_hosts_check(INV1, "~(?:web)", NULL, 0, "", NOTHING, NULL);
	list_hosts_check(INV1, "nosuch", NULL, 0, "", NOMATCH "nosuch | " NOTHING, NULL);
	list_hosts_check(INV1, "web:&db:!db1", NULL, 0, "", NOTHING, NULL);
	list_hosts_check(INV1, "&", NULL, -1, "", "",
			 "Unexpected Exception, this is probably a bug: string index out of range");
	/* with --limit the errors come through */
	list_hosts_check(INV1, "web[12]", "all", -1, "", "", "No hosts matched the subscripted pattern 'web[12]'");
	list_hosts_check(INV1, "web", "db", 0, "db1", "", NULL);
	list_hosts_check(INV1, "web", "nosuchx", -1, "", NOMATCH "nosuchx",
			 "Specified inventory, host pattern and/or --limit leaves us with no hosts to target.");
	list_hosts_check(INV1, "web", "web[1:]", 0, "web2 web10 db1", "", NULL);
	/* an inventory without hosts: only the implicit localhost, no error */
	list_hosts_check("[empty]\n", "all", NULL, 0, "",
			 "provided hosts list is empty, only localhost is available. Note that the implicit "
			 "localhost does not match 'all'", NULL);
	list_hosts_check("[empty]\n", "localhost", NULL, 0, "localhost", "", NULL);
	list_hosts_check("[empty]\n", "nosuch", "x", 0, "",
			 "provided hosts list is empty, only localhost is available. Note that the implicit "
			 "localhost does not match 'all' | " NOMATCH "nosuch | " NOMATCH "x", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_and_globs),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_combinations),
		cmocka_unit_test(test_subscripts),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_localhost),
		cmocka_unit_test(test_names_shadowing_groups),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_after_change),
		cmocka_unit_test(test_list_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
