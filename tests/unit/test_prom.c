/* test_prom: the exposition parser on real output of the Python client and node_exporter, its errors, and histogram_quantile. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "metrics/prom.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Runs a shell command, returns its stdout (NUL-terminated), NULL if it failed. */
static char *run(const char *cmd, size_t *len)
{
	FILE *f = popen(cmd, "r");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *buf = xmalloc(cap);
	size_t r;
	while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (cap - n < 2)
			buf = xrealloc(buf, cap *= 2);
	}
	buf[n] = '\0';
	if (pclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (len)
		*len = n;
	return buf;
}

static size_t sample_lines(const char *t)
{
	size_t n = 0;
	for (const char *c = t; *c;) {
		const char *e = strchr(c, '\n');
		size_t l = e ? (size_t)(e - c) : strlen(c);
		const char *s = c;
		while (s < c + l && (*s == ' ' || *s == '\t'))
			s++;
		if (s < c + l && *s != '#')
			n++;
		c += l + (e ? 1 : 0);
	}
	return n;
}

static const char py_gen[] =
	"import sys\n"
	"from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, Info, Enum\n"
	"from prometheus_client.exposition import generate_latest\n"
	"r = CollectorRegistry()\n"
	"c = Counter('jobs', 'Jobs done.\\nSecond line with a \\\\ backslash', ['kind', 'weird'], registry=r)\n"
	"c.labels('a', 'back\\\\slash \"quoted\"\\nnewline').inc(3)\n"
	"c.labels('b', '').inc(1e20)\n"
	"g = Gauge('temp_celsius', 'Temperature', registry=r)\n"
	"g.set(float('nan'))\n"
	"g2 = Gauge('big', 'Big values', ['w'], registry=r)\n"
	"g2.labels('inf').set(float('inf')); g2.labels('ninf').set(float('-inf'))\n"
	"g2.labels('large').set(12345678.9); g2.labels('small').set(1.5e-7); g2.labels('neg').set(-0.0)\n"
	"h = Histogram('lat_seconds', 'Latency', ['model'], buckets=(0.01, 0.1, 1.0, 10.0), registry=r)\n"
	"for v in (0.005, 0.05, 0.5, 5, 50): h.labels('m1').observe(v)\n"
	"s = Summary('req_bytes', 'Request size', registry=r)\n"
	"s.observe(100); s.observe(250)\n"
	"i = Info('build', 'Build information', registry=r)\n"
	"i.info({'version': '1.2.3', 'commit': 'abc\"def'})\n"
	"e = Enum('state', 'State', states=['up', 'down'], registry=r)\n"
	"e.state('down')\n"
	"sys.stdout.write(generate_latest(r).decode())\n";

static char *python_text(size_t *len)
{
	char path[] = "/tmp/fd_prom_py_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, py_gen, sizeof py_gen - 1), (ssize_t)(sizeof py_gen - 1));
	close(fd);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s", path);
	char *t = run(cmd, len);
	unlink(path);
	assert_non_null(t);
	return t;
}

/* How many samples prometheus_client's own parser reads from the text in path. */
static long python_count(const char *path)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 -c \"import sys; from prometheus_client.parser import text_string_to_metric_families as p; "
		 "print(sum(len(f.samples) for f in p(open(sys.argv[1]).read())))\" %s",
		 path);
	char *out = run(cmd, NULL);
	assert_non_null(out);
	long n = strtol(out, NULL, 10);
	free(out);
	return n;
}

static long count_via_python(const char *text, size_t len)
{
	char path[] = "/tmp/fd_prom_txt_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	long n = python_count(path);
	unlink(path);
	return n;
}

static const prom_sample *find(const prom_doc *d, const char *name, const char *lname, const char *lval)
{
	for (size_t i = 0; i < d->nsamples; i++) {
		const prom_sample *s = &d->samples[i];
		if (strcmp(s->name, name))
			continue;
		if (!lname)
			return s;
		const char *v = prom_label_get(s, lname);
		if (v && !strcmp(v, lval))
			return s;
	}
	return NULL;
}

static void test_python_client(void **state)
{
	(void)state;
	size_t len;
	char *t = python_text(&len);
	char *err = NULL;
	prom_doc *d = prom_parse(t, len, NULL, &err);
	if (!d)
		fail_msg("%s\n%s", err, t);
	assert_int_equal(d->nsamples, sample_lines(t));
	assert_int_equal((long)d->nsamples, count_via_python(t, len));

	const prom_family *f = prom_family_find(d, "jobs_total");
	assert_non_null(f);
	assert_int_equal(f->type, PROM_COUNTER);
	assert_string_equal(f->help, "Jobs done.\nSecond line with a \\ backslash");
	const prom_sample *s = find(d, "jobs_total", "kind", "a");
	assert_non_null(s);
	assert_string_equal(prom_label_get(s, "weird"), "back\\slash \"quoted\"\nnewline");
	assert_true(s->value == 3.0);
	s = find(d, "jobs_total", "kind", "b");
	assert_non_null(s);
	assert_string_equal(prom_label_get(s, "weird"), "");
	assert_true(s->value == 1e20);
	assert_true(isnan(find(d, "temp_celsius", NULL, NULL)->value));
	assert_true(isinf(find(d, "big", "w", "inf")->value) && find(d, "big", "w", "inf")->value > 0);
	assert_true(isinf(find(d, "big", "w", "ninf")->value) && find(d, "big", "w", "ninf")->value < 0);
	assert_true(find(d, "big", "w", "large")->value == 12345678.9);
	assert_true(find(d, "big", "w", "small")->value == 1.5e-7);

	f = prom_family_find(d, "lat_seconds");
	assert_non_null(f);
	assert_int_equal(f->type, PROM_HISTOGRAM);
	assert_int_equal(f->nsamples, 5 + 2); /* 4 bounds and +Inf, _count, _sum */
	s = find(d, "lat_seconds_bucket", "le", "+Inf");
	assert_non_null(s);
	assert_true(s->value == 5.0);
	assert_true(find(d, "lat_seconds_bucket", "le", "0.1")->value == 2.0);
	assert_true(find(d, "lat_seconds_sum", NULL, NULL)->value == 55.555);
	assert_int_equal(prom_family_find(d, "req_bytes")->type, PROM_SUMMARY);
	assert_true(find(d, "req_bytes_count", NULL, NULL)->value == 2.0);
	s = find(d, "build_info", NULL, NULL);
	assert_non_null(s);
	assert_string_equal(prom_label_get(s, "commit"), "abc\"def");
	assert_true(find(d, "state", "state", "down")->value == 1.0);
	assert_true(find(d, "state", "state", "up")->value == 0.0);
	prom_doc_free(d);

	/* the same text with CRLF line ends reads the same */
	char *crlf = xmalloc(2 * len + 1), *w = crlf;
	for (size_t i = 0; i < len; i++) {
		if (t[i] == '\n')
			*w++ = '\r';
		*w++ = t[i];
	}
	d = prom_parse(crlf, (size_t)(w - crlf), NULL, &err);
	if (!d)
		fail_msg("CRLF: %s", err);
	assert_int_equal(d->nsamples, sample_lines(t));
	assert_string_equal(prom_family_find(d, "jobs_total")->help, "Jobs done.\nSecond line with a \\ backslash");
	prom_doc_free(d);
	free(crlf);
	free(t);
}

static size_t collect(char *data, size_t size, size_t n, void *ud)
{
	char **buf = ud;
	size_t old = *buf ? strlen(*buf) : 0;
	*buf = xrealloc(*buf, old + size * n + 1);
	memcpy(*buf + old, data, size * n);
	(*buf)[old + size * n] = '\0';
	return size * n;
}

static void test_node_exporter(void **state)
{
	(void)state;
	const char *bin = "/usr/bin/prometheus-node-exporter";
	if (access(bin, X_OK) != 0)
		fail_msg("%s is not installed (packaging/install-deps.sh installs it)", bin);
	char addr[64];
	snprintf(addr, sizeof addr, "127.88.%d.%d:%d", 1 + (int)(getpid() % 99), 1 + (int)(getpid() / 200 % 250),
		 19100 + (int)(getpid() % 500));
	char listen[96];
	snprintf(listen, sizeof listen, "--web.listen-address=%s", addr);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		execl(bin, bin, listen, "--collector.disable-defaults", "--collector.cpu", "--collector.meminfo",
		      "--collector.loadavg", "--collector.netdev", "--collector.filesystem", "--collector.stat",
		      "--collector.vmstat", "--collector.diskstats", "--collector.uname", "--collector.time", (char *)NULL);
		_exit(127);
	}
	char url[128];
	snprintf(url, sizeof url, "http://%s/metrics", addr);
	char *body = NULL;
	long code = 0;
	/* bounded: until it listens (at most 10 s), or it died */
	for (int i = 0; i < 200 && code != 200; i++) {
		free(body);
		body = NULL;
		CURL *c = curl_easy_init();
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
		if (curl_easy_perform(c) == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_cleanup(c);
		int st;
		if (code != 200 && waitpid(pid, &st, WNOHANG) == pid)
			break;
		if (code != 200)
			usleep(50000);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	assert_int_equal(code, 200);
	assert_non_null(body);
	size_t len = strlen(body);
	char *err = NULL;
	prom_doc *d = prom_parse(body, len, NULL, &err);
	if (!d)
		fail_msg("node_exporter: %s", err);
	size_t lines = sample_lines(body);
	long py = count_via_python(body, len);
	print_message("node_exporter: %zu bytes, %zu families, %zu samples (Python client: %ld)\n", len, d->nfamilies,
		      d->nsamples, py);
	assert_true(d->nsamples > 200);
	assert_int_equal(d->nsamples, lines);
	assert_int_equal((long)d->nsamples, py);
	size_t by_family = 0;
	for (size_t i = 0; i < d->nfamilies; i++)
		by_family += d->families[i].nsamples;
	assert_int_equal(by_family, d->nsamples);
	const prom_family *f = prom_family_find(d, "node_cpu_seconds_total");
	assert_non_null(f);
	assert_int_equal(f->type, PROM_COUNTER);
	f = prom_family_find(d, "go_gc_duration_seconds");
	assert_non_null(f);
	assert_int_equal(f->type, PROM_SUMMARY);
	const prom_sample *med = find(d, "go_gc_duration_seconds", "quantile", "0.5");
	assert_non_null(med);
	assert_true(med->value >= 0);
	assert_int_equal(d->families[med->family].type, PROM_SUMMARY);
	prom_doc_free(d);
	free(body);
}

static void test_forms(void **state)
{
	(void)state;
	static const char text[] =
		"# a comment\n"
		"#\n"
		"\n"
		"   \t\n"
		"# TYPE x untyped\n"
		"x 1e+06\n"
		"y{a=\"1\",} 1.5E-3 1700000000000\n"
		"y{ a = \"2\" , b=\"\"}\t-Inf\t-5\n"
		"z nan\n"
		"z2 +inf\n"
		"z3 .5\n"
		"z4 -0\n"
		"z5 00012.500\n"
		"z6 123456789012345678901234567890\n"
		"w{le=\"x\"} 1\n"
		"last 7";
	char *err = NULL;
	prom_doc *d = prom_parse(text, sizeof text - 1, NULL, &err);
	if (!d)
		fail_msg("%s", err);
	assert_int_equal(d->nsamples, 11);
	assert_int_equal(d->ncomments, 2);
	assert_true(d->samples[0].value == 1e6);
	assert_true(d->samples[1].value == 1.5e-3 && d->samples[1].has_ts && d->samples[1].ts_ms == 1700000000000);
	assert_string_equal(prom_label_get(&d->samples[2], "a"), "2");
	assert_true(d->samples[2].ts_ms == -5 && isinf(d->samples[2].value));
	assert_true(isnan(d->samples[3].value));
	assert_true(d->samples[5].value == 0.5 && d->samples[7].value == 12.5);
	assert_true(d->samples[8].value == 1.2345678901234568e29);
	assert_true(d->samples[10].value == 7 && d->samples[10].line == 16);
	assert_int_equal(prom_family_find(d, "y")->nsamples, 2);
	prom_doc_free(d);
	d = prom_parse("", 0, NULL, &err);
	assert_non_null(d);
	assert_int_equal(d->nsamples, 0);
	prom_doc_free(d);
}

static void test_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "x 1\n2x 3\n", "line 2: expected a metric name" },
		{ "x{a=\"b} 1\n", "line 1: label value: no closing quote" },
		{ "x{a=\"\\q\"} 1\n", "line 1: label value: invalid escape \\q" },
		{ "x{a=b} 1\n", "line 1: label a: expected a quoted value" },
		{ "x{a=\"1\" b=\"2\"} 1\n", "line 1: expected ',' or '}' after label a" },
		{ "x{a=\"1\",a=\"2\"} 1\n", "line 1: label a given twice" },
		{ "x{__name__=\"y\"} 1\n", "line 1: label name __name__ is reserved" },
		{ "x{1a=\"2\"} 1\n", "line 1: expected a label name or '}'" },
		{ "x\n", "line 1: x: no value" },
		{ "x 1.2.3\n", "line 1: x: value '1.2.3' is not a number" },
		{ "x 0x10\n", "line 1: x: value '0x10' is not a number" },
		{ "x 1 2.5\n", "line 1: x: timestamp '2.5' is not whole milliseconds" },
		{ "x 1 99999999999999999999\n", "line 1: x: timestamp" },
		{ "x 1 2 3\n", "line 1: x: text after the timestamp" },
		{ "x 1\nx 2\n", "line 2: x: the same series twice" },
		{ "x{a=\"1\",b=\"2\"} 1\nx{b=\"2\",a=\"1\"} 2\n", "line 2: x: the same series twice" },
		{ "# TYPE x gauge\n# TYPE x gauge\n", "line 2: a second TYPE for x" },
		{ "# HELP x a\n# HELP x b\n", "line 2: a second HELP for x" },
		{ "x 1\n# TYPE x gauge\n", "line 2: TYPE for x after its samples" },
		{ "# TYPE x gague\n", "line 1: TYPE: unknown type 'gague' for x" },
		{ "# TYPE x\n", "line 1: TYPE: no type for x" },
		{ "# TYPE x gauge extra\n", "line 1: TYPE: text after the type" },
		{ "# TYPE 9x gauge\n", "line 1: TYPE: expected a metric name" },
		{ "# HELP x bad \\t escape\n", "line 1: HELP: invalid escape \\t" },
		{ "# TYPE h histogram\nh_bucket 1\n", "line 2: h_bucket: no le label" },
		{ "# TYPE h histogram\nh_bucket{le=\"big\"} 1\n", "line 2: h_bucket: le=\"big\" is not a number" },
		{ "# TYPE h histogram\nh 1\n", "line 2: histogram h: a sample named h" },
		{ "# TYPE s summary\ns 1\n", "line 2: s: no quantile label" },
		{ "x{a=\"\xff\"} 1\n", "line 1: label a: value not UTF-8" },
		{ "x 1\ny\0 1\n", "line 2: a NUL byte" },
		{ "x-y 1\n", "line 1: invalid character '-' in the metric name" },
		{ "x{a=\"1\"\n", "line 1: expected ',' or '}' after label a" },
		{ "x{a=\"\\", "line 1: label value: a backslash at the end of the line" },
		{ "x \x1b[2J\xc3\xa9\n", "line 1: x: value '?[2J?" "?' is not a number" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *err = NULL;
		size_t len = strlen(cases[i].text);
		if (strstr(cases[i].want, "NUL"))
			len = 9;
		prom_doc *d = prom_parse(cases[i].text, len, NULL, &err);
		if (d)
			fail_msg("case %zu parsed: %s", i, cases[i].text);
		if (!err || strncmp(err, cases[i].want, strlen(cases[i].want)))
			fail_msg("case %zu: got '%s', want '%s'", i, err ? err : "(null)", cases[i].want);
		free(err);
	}
}

static void test_limits(void **state)
{
	(void)state;
	prom_limits lim;
	prom_limits_default(&lim);
	lim.max_series = 3;
	lim.max_labels = 2;
	char *err = NULL;
	assert_null(prom_parse("a 1\nb 1\nc 1\nd 1\n", 16, &lim, &err));
	assert_string_equal(err, "line 4: more than 3 series");
	free(err);
	assert_null(prom_parse("a{x=\"1\",y=\"2\",z=\"3\"} 1\n", 23, &lim, &err));
	assert_string_equal(err, "line 1: more than 2 labels");
	free(err);
	lim.max_bytes = 10;
	assert_null(prom_parse("a 1\nb 1\nc 1\n", 12, &lim, &err));
	assert_string_equal(err, "the exposition is 12 bytes, over the limit of 10");
	free(err);
	/* many series: the duplicate check stays exact past its table's growth */
	size_t n = 20000, cap = n * 32, len = 0;
	char *big = xmalloc(cap);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(big + len, cap - len, "m{i=\"%zu\"} %zu\n", i, i);
	prom_doc *d = prom_parse(big, len, NULL, &err);
	assert_non_null(d);
	assert_int_equal(d->nsamples, n);
	prom_doc_free(d);
	len += (size_t)snprintf(big + len, cap - len, "m{i=\"%zu\"} 1\n", n / 2);
	assert_null(prom_parse(big, len, NULL, &err));
	assert_string_equal(err, "line 20001: m: the same series twice");
	free(err);
	free(big);
}

static double q(double quant, const double *le, const double *cnt, size_t n)
{
	prom_bucket b[32];
	for (size_t i = 0; i < n; i++)
		b[i] = (prom_bucket){ le[i], cnt[i] };
	return prom_histogram_quantile(quant, b, n);
}

/* Expected values worked out by hand from Prometheus' bucketQuantile rules. */
static void test_quantile(void **state)
{
	(void)state;
	const double I = INFINITY;
	double le[] = { 0.1, 0.2, 0.5, I }, c[] = { 10, 30, 90, 100 };
	/* rank 95 of 100: in +Inf -> the highest finite bound */
	assert_true(q(0.95, le, c, 4) == 0.5);
	/* rank 50: in (0.2, 0.5], 20 of 60 in -> 0.2 + 0.3 * 20/60 */
	assert_float_equal(q(0.5, le, c, 4), 0.3, 1e-12);
	/* rank 5: first bucket from 0 -> 0.05 */
	assert_float_equal(q(0.05, le, c, 4), 0.05, 1e-12);
	/* rank 0: the first bucket holds it, at its start */
	assert_float_equal(q(0.0, le, c, 4), 0.0, 1e-12);
	assert_float_equal(q(1.0, le, c, 4), 0.5, 1e-12);
	assert_true(isinf(q(-0.1, le, c, 4)) && q(-0.1, le, c, 4) < 0);
	assert_true(isinf(q(1.1, le, c, 4)) && q(1.1, le, c, 4) > 0);
	assert_true(isnan(q(NAN, le, c, 4)));
	/* no +Inf bucket; fewer than two buckets; no observations */
	assert_true(isnan(q(0.5, le, c, 3)));
	double only_inf[] = { I }, one[] = { 7 };
	assert_true(isnan(q(0.5, only_inf, one, 1)));
	double zero[] = { 0, 0, 0, 0 };
	assert_true(isnan(q(0.5, le, zero, 4)));
	assert_true(isnan(q(0.5, le, c, 0)));
	/* unsorted input, duplicate bounds summed, counts forced monotonic */
	double ule[] = { I, 0.5, 0.1, 0.2 }, uc[] = { 100, 90, 10, 30 };
	assert_float_equal(q(0.5, ule, uc, 4), 0.3, 1e-12);
	double dle[] = { 0.1, 0.1, I }, dc[] = { 5, 5, 20 };
	assert_float_equal(q(0.25, dle, dc, 3), 0.05, 1e-12); /* 10 in (0, 0.1], rank 5 */
	double mle[] = { 0.1, 0.2, 0.5, I }, mc[] = { 10, 8, 90, 100 };
	/* 0.2's count lifted to 10: rank 10 is met at the first bucket -> 0.1 */
	assert_float_equal(q(0.1, mle, mc, 4), 0.1, 1e-12);
	/* a first bound <= 0 holding the rank is returned as it is */
	double nle[] = { -1, 0, 1, I }, nc[] = { 5, 6, 10, 10 };
	assert_true(q(0.2, nle, nc, 4) == -1);
	/* interpolation from a negative bound: rank 8 in (0, 1], 2 of 4 in -> 0.5 */
	assert_float_equal(q(0.8, nle, nc, 4), 0.5, 1e-12);
	/* everything in +Inf */
	double ic[] = { 0, 0, 0, 50 };
	assert_true(q(0.5, le, ic, 4) == 0.5);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),       cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),      cmocka_unit_test(test_quantile),
		cmocka_unit_test(test_python_client), cmocka_unit_test(test_node_exporter),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
