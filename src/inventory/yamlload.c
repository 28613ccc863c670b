/* yamlload: Ansible's from_yaml() (JSON first, then PyYAML's SafeLoader with AnsibleConstructor) into jansson. */
#include "inventory/yamlload.h"
#include "util/pyjson.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define T_NULL "tag:yaml.org,2002:null"
#define T_BOOL "tag:yaml.org,2002:bool"
#define T_INT "tag:yaml.org,2002:int"
#define T_FLOAT "tag:yaml.org,2002:float"
#define T_STR "tag:yaml.org,2002:str"
#define T_TIMESTAMP "tag:yaml.org,2002:timestamp"
#define T_BINARY "tag:yaml.org,2002:binary"
#define T_MERGE "tag:yaml.org,2002:merge"
#define T_VALUE "tag:yaml.org,2002:value"
#define T_SEQ "tag:yaml.org,2002:seq"
#define T_MAP "tag:yaml.org,2002:map"
#define T_SET "tag:yaml.org,2002:set"
#define T_OMAP "tag:yaml.org,2002:omap"
#define T_PAIRS "tag:yaml.org,2002:pairs"
#define T_PYDICT "tag:yaml.org,2002:python/dict"
#define T_PYUNICODE "tag:yaml.org,2002:python/unicode"

/* Python's own recursion limit stops flatten_mapping() about here. */
#define MAX_MERGE_DEPTH 1000

/* ---- small string builder ---- */

struct sbuf {
	char *s;
	size_t n, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	b->s = xgrow(b->s, &b->cap, b->n + n + 1, 1);
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }
static void sb_putc(struct sbuf *b, char c) { sb_add(b, &c, 1); }

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	sb_puts(b, s);
	free(s);
}

static char *sb_take(struct sbuf *b)
{
	return b->s ? b->s : xstrdup("");
}

/* ---- the document: values plus what Python knew about them ---- */

struct info {
	const json_t *v;
	int line, col;
	enum yamlload_type type;
	struct yamlload_key *keys; /* mappings and sets */
	char **idents;             /* per key: Python's identity of the key (see key_form) */
	size_t nkeys, capkeys;
};

struct yamlload_doc {
	json_t *root;
	struct info **slots; /* open addressing by pointer */
	size_t cap, count;
	/* Every value made while loading stays referenced until yamlload_free, so
	 * no address is reused while the table can still describe it. */
	json_t **keep;
	size_t nkeep, capkeep;
};

static size_t ptr_hash(const void *p)
{
	uintptr_t x = (uintptr_t)p;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

static struct info *info_get(const yamlload_doc *d, const json_t *v)
{
	if (!d->cap || !v)
		return NULL;
	size_t mask = d->cap - 1;
	for (size_t i = ptr_hash(v) & mask;; i = (i + 1) & mask) {
		if (!d->slots[i])
			return NULL;
		if (d->slots[i]->v == v)
			return d->slots[i];
	}
}

static void info_insert(yamlload_doc *d, struct info *in)
{
	size_t mask = d->cap - 1;
	size_t i;
	for (i = ptr_hash(in->v) & mask; d->slots[i]; i = (i + 1) & mask)
		;
	d->slots[i] = in;
}

static struct info *info_new(yamlload_doc *d, const json_t *v)
{
	if ((d->count + 1) * 2 > d->cap) {
		struct info **old = d->slots;
		size_t oldcap = d->cap;
		d->cap = oldcap ? oldcap * 2 : 64;
		d->slots = xcalloc(d->cap, sizeof *d->slots);
		for (size_t i = 0; i < oldcap; i++)
			if (old[i])
				info_insert(d, old[i]);
		free(old);
	}
	struct info *in = xcalloc(1, sizeof *in);
	in->v = v;
	info_insert(d, in);
	d->count++;
	return in;
}

static bool is_singleton(const json_t *v)
{
	return json_is_null(v) || json_is_boolean(v);
}

/* Take ownership of a new value and describe it. null/true/false are
 * jansson singletons: their type is their own and they have no line. */
static json_t *reg(yamlload_doc *d, json_t *v, enum yamlload_type t, int line, int col)
{
	if (is_singleton(v))
		return v;
	d->keep = xgrow(d->keep, &d->capkeep, d->nkeep + 1, sizeof *d->keep);
	d->keep[d->nkeep++] = v;
	struct info *in = info_new(d, v);
	in->type = t;
	in->line = line;
	in->col = col;
	return v;
}

static void key_add(struct info *in, const char *name, const char *str, char *ident, enum yamlload_type t, int line)
{
	size_t cap = in->capkeys;
	in->keys = xgrow(in->keys, &cap, in->nkeys + 1, sizeof *in->keys);
	in->idents = xgrow(in->idents, &in->capkeys, in->nkeys + 1, sizeof *in->idents);
	struct yamlload_key *k = &in->keys[in->nkeys];
	k->name = xstrdup(name);
	k->str = str == name || strcmp(str, name) == 0 ? k->name : xstrdup(str);
	k->type = t;
	k->line = line;
	in->idents[in->nkeys] = ident;
	in->nkeys++;
}

void yamlload_free(yamlload_doc *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->cap; i++) {
		struct info *in = d->slots[i];
		if (!in)
			continue;
		for (size_t k = 0; k < in->nkeys; k++) {
			if (in->keys[k].str != in->keys[k].name)
				free((char *)in->keys[k].str);
			free((char *)in->keys[k].name);
			free(in->idents[k]);
		}
		free(in->keys);
		free(in->idents);
		free(in);
	}
	free(d->slots);
	for (size_t i = 0; i < d->nkeep; i++)
		json_decref(d->keep[i]);
	free(d->keep);
	json_decref(d->root);
	free(d);
}

json_t *yamlload_root(const yamlload_doc *d) { return d->root; }

enum yamlload_type yamlload_type(const yamlload_doc *d, const json_t *v)
{
	if (!v || json_is_null(v))
		return YL_NONE;
	if (json_is_boolean(v))
		return YL_BOOL;
	struct info *in = info_get(d, v);
	if (in)
		return in->type;
	/* not made by the loader: judge by the JSON type */
	switch (json_typeof(v)) {
	case JSON_INTEGER: return YL_INT;
	case JSON_REAL: return YL_FLOAT;
	case JSON_STRING: return pyjson_bigint_digits(v, NULL) ? YL_INT : YL_JSON_STR;
	case JSON_ARRAY: return YL_LIST;
	case JSON_OBJECT: return YL_DICT;
	default: return YL_NONE;
	}
}

int yamlload_line(const yamlload_doc *d, const json_t *v)
{
	struct info *in = info_get(d, v);
	return in ? in->line : 0;
}

const struct yamlload_key *yamlload_keys(const yamlload_doc *d, const json_t *map, size_t *n)
{
	struct info *in = info_get(d, map);
	if (!in || !(in->type == YL_MAP || in->type == YL_DICT || in->type == YL_SET)) {
		*n = 0;
		return NULL;
	}
	*n = in->nkeys;
	return in->keys;
}

const char *yamlload_text(const yamlload_doc *d, const json_t *v)
{
	switch (yamlload_type(d, v)) {
	case YL_STR:
	case YL_JSON_STR:
		return json_string_value(v);
	case YL_UNSAFE:
		return json_string_value(json_object_get(v, "__ansible_unsafe"));
	default:
		return NULL;
	}
}

bool yamlload_is_mapping(const yamlload_doc *d, const json_t *v)
{
	enum yamlload_type t = yamlload_type(d, v);
	return t == YL_MAP || t == YL_DICT;
}

bool yamlload_is_string(const yamlload_doc *d, const json_t *v)
{
	return yamlload_text(d, v) != NULL;
}

bool yamlload_truthy(const yamlload_doc *d, const json_t *v)
{
	switch (yamlload_type(d, v)) {
	case YL_NONE: return false;
	case YL_BOOL: return json_is_true(v);
	case YL_INT: return json_is_integer(v) ? json_integer_value(v) != 0 : true; /* a big int is not 0 */
	case YL_FLOAT: return json_real_value(v) != 0;
	case YL_STR:
	case YL_JSON_STR:
	case YL_BYTES: return json_string_length(v) > 0;
	case YL_UNSAFE: return json_string_length(json_object_get(v, "__ansible_unsafe")) > 0;
	case YL_VAULT: return json_string_length(json_object_get(v, "__ansible_vault")) > 0;
	case YL_DATE:
	case YL_DATETIME:
	case YL_TUPLE: return true;
	case YL_MAP:
	case YL_DICT:
	case YL_SET: return json_object_size(v) > 0;
	case YL_SEQ:
	case YL_LIST: return json_array_size(v) > 0;
	}
	return true;
}

static const char *const type_names[] = {
	[YL_NONE] = "NoneType", [YL_BOOL] = "bool", [YL_INT] = "int", [YL_FLOAT] = "float",
	[YL_STR] = "AnsibleUnicode", [YL_JSON_STR] = "str", [YL_UNSAFE] = "AnsibleUnsafeText",
	[YL_VAULT] = "AnsibleVaultEncryptedUnicode", [YL_DATE] = "date", [YL_DATETIME] = "datetime",
	[YL_BYTES] = "bytes", [YL_MAP] = "AnsibleMapping", [YL_DICT] = "dict",
	[YL_SEQ] = "AnsibleSequence", [YL_LIST] = "list", [YL_TUPLE] = "tuple", [YL_SET] = "set",
};

static const char *const type_reprs[] = {
	[YL_NONE] = "<class 'NoneType'>", [YL_BOOL] = "<class 'bool'>", [YL_INT] = "<class 'int'>",
	[YL_FLOAT] = "<class 'float'>",
	[YL_STR] = "<class 'ansible.parsing.yaml.objects.AnsibleUnicode'>",
	[YL_JSON_STR] = "<class 'str'>",
	[YL_UNSAFE] = "<class 'ansible.utils.unsafe_proxy.AnsibleUnsafeText'>",
	[YL_VAULT] = "<class 'ansible.parsing.yaml.objects.AnsibleVaultEncryptedUnicode'>",
	[YL_DATE] = "<class 'datetime.date'>", [YL_DATETIME] = "<class 'datetime.datetime'>",
	[YL_BYTES] = "<class 'bytes'>",
	[YL_MAP] = "<class 'ansible.parsing.yaml.objects.AnsibleMapping'>",
	[YL_DICT] = "<class 'dict'>",
	[YL_SEQ] = "<class 'ansible.parsing.yaml.objects.AnsibleSequence'>",
	[YL_LIST] = "<class 'list'>", [YL_TUPLE] = "<class 'tuple'>", [YL_SET] = "<class 'set'>",
};

const char *yamlload_type_name(enum yamlload_type t) { return type_names[t]; }
const char *yamlload_type_repr(enum yamlload_type t) { return type_reprs[t]; }

/* ---- Python's str() and repr() ---- */

static void repr_text(struct sbuf *b, const char *s, size_t n, const char *prefix)
{
	char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
	sb_puts(b, prefix);
	sb_putc(b, q);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == (unsigned char)q || c == '\\') {
			sb_putc(b, '\\');
			sb_putc(b, (char)c);
		} else if (c == '\t') {
			sb_puts(b, "\\t");
		} else if (c == '\n') {
			sb_puts(b, "\\n");
		} else if (c == '\r') {
			sb_puts(b, "\\r");
		} else if (c < 0x20 || c == 0x7f) {
			sb_printf(b, "\\x%02x", c);
		} else {
			sb_putc(b, (char)c);
		}
	}
	sb_putc(b, q);
}

static void float_str(struct sbuf *b, double d)
{
	if (isnan(d)) {
		sb_puts(b, "nan");
	} else if (isinf(d)) {
		sb_puts(b, d > 0 ? "inf" : "-inf");
	} else {
		char buf[64];
		pyjson_float_repr(d, buf, sizeof buf);
		sb_puts(b, buf);
	}
}

/* "datetime.timedelta(days=-1, seconds=68400)" */
static void timedelta_repr(struct sbuf *b, long secs)
{
	long days = secs / 86400, rest = secs % 86400;
	if (rest < 0) {
		rest += 86400;
		days--;
	}
	sb_puts(b, "datetime.timedelta(");
	if (!days && !rest)
		sb_putc(b, '0');
	if (days)
		sb_printf(b, "days=%ld", days);
	if (rest)
		sb_printf(b, "%sseconds=%ld", days ? ", " : "", rest);
	sb_putc(b, ')');
}

static void datetime_repr(struct sbuf *b, const char *iso, bool date)
{
	int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, us = 0, n = 0;
	sscanf(iso, "%d-%d-%d%n", &y, &mo, &d, &n);
	if (date) {
		sb_printf(b, "datetime.date(%d, %d, %d)", y, mo, d);
		return;
	}
	const char *p = iso + n;
	sscanf(p, "T%d:%d:%d%n", &h, &mi, &s, &n);
	p += n;
	if (*p == '.') {
		us = atoi(p + 1);
		p += 7;
	}
	sb_printf(b, "datetime.datetime(%d, %d, %d, %d, %d", y, mo, d, h, mi);
	if (s || us)
		sb_printf(b, ", %d", s);
	if (us)
		sb_printf(b, ", %d", us);
	if (*p == '+' || *p == '-') {
		int th = atoi(p + 1), tm = atoi(p + 4);
		long off = (th * 3600L + tm * 60L) * (*p == '-' ? -1 : 1);
		if (!off) {
			sb_puts(b, ", tzinfo=datetime.timezone.utc");
		} else {
			sb_puts(b, ", tzinfo=datetime.timezone(");
			timedelta_repr(b, off);
			sb_putc(b, ')');
		}
	}
	sb_putc(b, ')');
}

static void py_fmt(const yamlload_doc *d, const json_t *v, struct sbuf *b, bool repr);

static void key_fmt(const yamlload_doc *d, const struct yamlload_key *k, struct sbuf *b)
{
	(void)d;
	switch (k->type) {
	case YL_STR:
	case YL_JSON_STR:
	case YL_UNSAFE:
		repr_text(b, k->name, strlen(k->name), "");
		break;
	case YL_DATE:
		datetime_repr(b, k->name, true);
		break;
	case YL_DATETIME:
		datetime_repr(b, k->name, false);
		break;
	default:
		sb_puts(b, k->str);
	}
}

static void py_fmt(const yamlload_doc *d, const json_t *v, struct sbuf *b, bool repr)
{
	enum yamlload_type t = yamlload_type(d, v);
	switch (t) {
	case YL_NONE: sb_puts(b, "None"); break;
	case YL_BOOL: sb_puts(b, json_is_true(v) ? "True" : "False"); break;
	case YL_INT:
		if (json_is_integer(v))
			sb_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		else
			sb_puts(b, pyjson_bigint_digits(v, NULL));
		break;
	case YL_FLOAT: float_str(b, json_real_value(v)); break;
	case YL_STR:
	case YL_JSON_STR:
	case YL_UNSAFE:
	case YL_VAULT: {
		const json_t *s = t == YL_UNSAFE ? json_object_get(v, "__ansible_unsafe")
			: t == YL_VAULT ? json_object_get(v, "__ansible_vault") : v;
		if (repr)
			repr_text(b, json_string_value(s), json_string_length(s), "");
		else
			sb_add(b, json_string_value(s), json_string_length(s));
		break;
	}
	case YL_DATE:
	case YL_DATETIME:
		if (repr) {
			datetime_repr(b, json_string_value(v), t == YL_DATE);
		} else {
			size_t at = b->n;
			sb_puts(b, json_string_value(v));
			char *tp = strchr(b->s + at, 'T');
			if (tp)
				*tp = ' ';
		}
		break;
	case YL_BYTES: repr_text(b, json_string_value(v), json_string_length(v), "b"); break;
	case YL_MAP:
	case YL_DICT:
	case YL_SET: {
		size_t n;
		const struct yamlload_key *k = yamlload_keys(d, v, &n);
		if (t == YL_SET && !n) {
			sb_puts(b, "set()");
			break;
		}
		sb_putc(b, '{');
		for (size_t i = 0; i < n; i++) {
			if (i)
				sb_puts(b, ", ");
			key_fmt(d, &k[i], b);
			if (t != YL_SET) {
				sb_puts(b, ": ");
				py_fmt(d, json_object_get(v, k[i].name), b, true);
			}
		}
		sb_putc(b, '}');
		break;
	}
	case YL_SEQ:
	case YL_LIST:
	case YL_TUPLE:
		sb_putc(b, t == YL_TUPLE ? '(' : '[');
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				sb_puts(b, ", ");
			py_fmt(d, json_array_get(v, i), b, true);
		}
		sb_putc(b, t == YL_TUPLE ? ')' : ']');
		break;
	}
}

char *yamlload_str(const yamlload_doc *d, const json_t *v)
{
	struct sbuf b = { 0 };
	py_fmt(d, v, &b, false);
	return sb_take(&b);
}

char *yamlload_repr(const yamlload_doc *d, const json_t *v)
{
	struct sbuf b = { 0 };
	py_fmt(d, v, &b, true);
	return sb_take(&b);
}

/* ---- Python int() and float() of a string ---- */

struct yint {
	bool big; /* beyond int64: x holds the exact value */
	long long i;
	double d;
	pyint x;
};

static void yint_free(struct yint *r)
{
	pyint_free(&r->x);
}

/* The JSON value of an int result: a JSON integer or a big int (pyjson.h). */
static json_t *yint_json(struct yint *r, int sign)
{
	if (!r->big && !(sign < 0 && r->i == LLONG_MIN))
		return json_integer(sign * r->i);
	if (!r->big)
		pyint_set_ll(&r->x, r->i);
	if (sign < 0)
		pyint_neg(&r->x);
	return pyjson_int_new(&r->x);
}

static bool py_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

/* int(s, base) for base 2, 8, 10, 16. On error *msg is Python's ValueError text. */
static int py_int(const char *s, size_t n, int base, struct yint *out, char **msg)
{
	out->big = false;
	out->i = 0;
	out->d = 0;
	out->x = (pyint)PYINT_INIT;
	const char *p = s, *end = s + n;
	while (p < end && py_space(*p))
		p++;
	while (end > p && py_space(end[-1]))
		end--;
	bool neg = false;
	if (p < end && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	if (end - p >= 2 && p[0] == '0') {
		char c = (char)(p[1] | 0x20);
		if ((base == 16 && c == 'x') || (base == 8 && c == 'o') || (base == 2 && c == 'b')) {
			p += 2;
			if (p < end && *p == '_')
				p++;
		}
	}
	const char *digits_start = p;
	unsigned long long u = 0;
	double d = 0;
	bool big = false, any = false, prev_us = true;
	for (; p < end; p++) {
		if (*p == '_' && !prev_us) {
			prev_us = true;
			continue;
		}
		int dv = digit_value(*p);
		if (dv >= base)
			goto bad;
		prev_us = false;
		any = true;
		d = d * base + dv;
		if (!big) {
			if (u > (ULLONG_MAX - (unsigned)dv) / (unsigned)base)
				big = true;
			else
				u = u * (unsigned)base + (unsigned)dv;
		}
	}
	if (!any || prev_us)
		goto bad;
	if (!big && u > (unsigned long long)LLONG_MAX + (neg ? 1 : 0))
		big = true;
	if (big) {
		/* Python's int() of a decimal string stops at 4300 digits; other
		 * bases have no limit, but such an int cannot be printed (str() and
		 * json.dumps have the same limit), so it is refused here too, before
		 * a quadratic conversion of the digits. */
		size_t nd = 0;
		bool lead = true;
		for (const char *q = digits_start; q < end; q++) {
			if (*q == '_' || (lead && *q == '0'))
				continue;
			lead = false;
			nd++;
		}
		static const double log10_base[17] = { [2] = 0.30103, [8] = 0.90309, [10] = 1.0, [16] = 1.20412 };
		if (base == 10 && nd > PYINT_MAX_STR_DIGITS) {
			*msg = xasprintf("Exceeds the limit (%d digits) for integer string conversion: value has %zu "
					 "digits; use sys.set_int_max_str_digits() to increase the limit",
					 PYINT_MAX_STR_DIGITS, nd);
			return -1;
		}
		if ((double)nd * log10_base[base] > PYINT_MAX_STR_DIGITS + 1)
			goto too_long;
		pyint_from_digits(&out->x, digits_start, (size_t)(end - digits_start), base);
		size_t slen;
		free(pyint_str(&out->x, &slen));
		if (slen > PYINT_MAX_STR_DIGITS) {
			pyint_free(&out->x);
			goto too_long;
		}
		if (neg)
			pyint_neg(&out->x);
	}
	out->big = big;
	out->d = neg ? -d : d;
	out->i = big ? 0 : neg ? (long long)(0 - u) : (long long)u;
	return 0;
too_long:
	*msg = xasprintf("Exceeds the limit (%d digits) for integer string conversion; use "
			 "sys.set_int_max_str_digits() to increase the limit", PYINT_MAX_STR_DIGITS);
	return -1;
bad:;
	struct sbuf b = { 0 };
	sb_printf(&b, "invalid literal for int() with base %d: ", base);
	repr_text(&b, s, n, "");
	*msg = sb_take(&b);
	return -1;
}

static bool ci_eq(const char *p, size_t n, const char *word)
{
	if (strlen(word) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((p[i] | 0x20) != word[i])
			return false;
	return true;
}

/* float(s). */
static int py_float(const char *s, size_t n, double *out, char **msg)
{
	const char *p = s, *end = s + n;
	while (p < end && py_space(*p))
		p++;
	while (end > p && py_space(end[-1]))
		end--;
	const char *num = p;
	bool neg = false;
	if (p < end && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	size_t rest = (size_t)(end - p);
	if (ci_eq(p, rest, "inf") || ci_eq(p, rest, "infinity")) {
		*out = neg ? -HUGE_VAL : HUGE_VAL;
		return 0;
	}
	if (ci_eq(p, rest, "nan")) {
		*out = NAN;
		return 0;
	}
	size_t digits = 0;
	while (p < end && *p >= '0' && *p <= '9')
		p++, digits++;
	if (p < end && *p == '.') {
		p++;
		while (p < end && *p >= '0' && *p <= '9')
			p++, digits++;
	}
	if (!digits)
		goto bad;
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		size_t ed = 0;
		while (p < end && *p >= '0' && *p <= '9')
			p++, ed++;
		if (!ed)
			goto bad;
	}
	if (p != end)
		goto bad;
	char *tmp = xstrndup(num, (size_t)(end - num));
	*out = strtod(tmp, NULL);
	free(tmp);
	return 0;
bad:;
	struct sbuf b = { 0 };
	sb_puts(&b, "could not convert string to float: ");
	repr_text(&b, s, n, "");
	*msg = sb_take(&b);
	return -1;
}

int yamlload_int(const yamlload_doc *d, const json_t *v, long long *out, char **msg)
{
	enum yamlload_type t = yamlload_type(d, v);
	switch (t) {
	case YL_BOOL:
		*out = json_is_true(v);
		return 0;
	case YL_INT:
		if (json_is_integer(v)) {
			*out = json_integer_value(v);
			return 0;
		}
		{
			const char *digits = pyjson_bigint_digits(v, NULL);
			if (digits) {
				*out = digits[0] == '-' ? LLONG_MIN : LLONG_MAX;
				return 0;
			}
		}
		*msg = xstrdup("Python int too large to convert to C long");
		return -1;
	case YL_FLOAT: {
		double x = json_real_value(v);
		if (isnan(x)) {
			*msg = xstrdup("cannot convert float NaN to integer");
			return -1;
		}
		if (isinf(x)) {
			*msg = xstrdup("cannot convert float infinity to integer");
			return -1;
		}
		*out = x >= 9.2e18 ? LLONG_MAX : x <= -9.2e18 ? LLONG_MIN : (long long)x;
		return 0;
	}
	case YL_STR:
	case YL_JSON_STR:
	case YL_UNSAFE:
	case YL_BYTES: {
		const char *s = t == YL_BYTES ? json_string_value(v) : yamlload_text(d, v);
		struct yint r;
		if (py_int(s, strlen(s), 10, &r, msg))
			return -1;
		*out = r.big ? (pyint_sign(&r.x) < 0 ? LLONG_MIN : LLONG_MAX) : r.i;
		yint_free(&r);
		return 0;
	}
	default:
		*msg = xasprintf("int() argument must be a string, a bytes-like object or a real number, not '%s'",
				 yamlload_type_name(t));
		return -1;
	}
}

/* ---- the loader ---- */

enum nkind { NK_SCALAR, NK_SEQ, NK_MAP };
static const char *const kind_id[] = { "scalar", "sequence", "mapping" };

struct node {
	enum nkind kind;
	const char *tag;     /* a T_ constant, or owned by the loader */
	char *value;         /* scalars: the text, NUL-terminated (may hold NULs) */
	size_t len;
	int line, col;       /* 1-based */
	struct node **items; /* sequences: items; mappings: key, value, key, value... */
	size_t nitems, capitems;
	size_t size;         /* nodes after alias expansion (saturates past the limit) */
	int height;          /* nesting after alias expansion */
	json_t *obj;         /* what it was constructed into (Python's constructed_objects) */
	bool open;           /* still being composed: an alias to it would be recursive */
};

enum pending_kind { P_MAP, P_SEQ, P_SET, P_OMAP, P_PAIRS };

struct pending {
	struct node *n;
	enum pending_kind kind;
};

struct loader {
	const char *path, *data;
	size_t len;
	yamlload_warn_fn warn;
	void *ctx;
	yamlload_doc *doc;
	char *err;
	struct node **nodes;
	size_t nnodes, capnodes;
	char **strs; /* owned tags and anchors */
	size_t nstrs, capstrs;
	strmap *anchors;
	/* Python's state_generators: containers are made empty and filled later,
	 * breadth first, which decides the order of warnings and errors. */
	struct pending *queue;
	size_t qhead, qn, qcap;
	unsigned long uniq;
};

static int fail(struct loader *L, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct loader *L, int line, const char *fmt, ...)
{
	if (L->err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	L->err = xasprintf("%s:%d: %s", L->path, line, msg);
	free(msg);
	return -1;
}

static char *own(struct loader *L, const char *s)
{
	L->strs = xgrow(L->strs, &L->capstrs, L->nstrs + 1, sizeof *L->strs);
	return L->strs[L->nstrs++] = xstrdup(s);
}

static void warnf(struct loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(struct loader *L, const char *fmt, ...)
{
	if (!L->warn)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	L->warn(L->ctx, msg);
	free(msg);
}

/* ---- PyYAML's implicit resolvers (yaml/resolver.py), as Python's re.match
 * applies them: `$` also matches before one final newline. ---- */

static bool is_dig(char c) { return c >= '0' && c <= '9'; }
static bool is_hex(char c) { return is_dig(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }

static bool eq(const char *s, size_t n, const char *w) { return strlen(w) == n && memcmp(s, w, n) == 0; }

static bool m_bool(const char *s, size_t n)
{
	static const char *const words[] = { "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE",
					     "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF" };
	for (size_t i = 0; i < sizeof words / sizeof *words; i++)
		if (eq(s, n, words[i]))
			return true;
	return false;
}

static bool m_null(const char *s, size_t n)
{
	return n == 0 || eq(s, n, "~") || eq(s, n, "null") || eq(s, n, "Null") || eq(s, n, "NULL");
}

/* (?::[0-5]?[0-9])+ from p; returns the end or NULL. Taking two digits when
 * they fit is safe: what may follow a segment is ':', '.' or the end, never a digit. */
static const char *m_sexa(const char *p, const char *end)
{
	int segs = 0;
	while (p < end && *p == ':') {
		if (p + 2 < end && p[1] >= '0' && p[1] <= '5' && is_dig(p[2]))
			p += 3;
		else if (p + 1 < end && is_dig(p[1]))
			p += 2;
		else
			return NULL;
		segs++;
	}
	return segs ? p : NULL;
}

static const char *span(const char *p, const char *end, const char *set)
{
	while (p < end && strchr(set, *p) && *p)
		p++;
	return p;
}

static bool m_int(const char *s, size_t n)
{
	const char *p = s, *end = s + n;
	if (p < end && (*p == '-' || *p == '+'))
		p++;
	if (end - p >= 3 && p[0] == '0' && p[1] == 'b' && span(p + 2, end, "01_") == end)
		return true;
	if (end - p >= 2 && p[0] == '0' && span(p + 1, end, "01234567_") == end)
		return true;
	if (end - p == 1 && p[0] == '0')
		return true;
	if (p < end && *p >= '1' && *p <= '9' && span(p + 1, end, "0123456789_") == end)
		return true;
	if (end - p >= 3 && p[0] == '0' && p[1] == 'x') {
		const char *q = p + 2;
		while (q < end && (is_hex(*q) || *q == '_'))
			q++;
		if (q == end)
			return true;
	}
	if (p < end && *p >= '1' && *p <= '9') {
		const char *q = span(p + 1, end, "0123456789_");
		q = m_sexa(q, end);
		if (q == end)
			return true;
	}
	return false;
}

/* [eE][-+][0-9]+ then the end */
static bool m_exp_end(const char *p, const char *end)
{
	if (p == end)
		return true;
	if (*p != 'e' && *p != 'E')
		return false;
	p++;
	if (p == end || (*p != '-' && *p != '+'))
		return false;
	p++;
	if (p == end)
		return false;
	return span(p, end, "0123456789") == end;
}

static bool m_float(const char *s, size_t n)
{
	const char *p = s, *end = s + n;
	if (eq(s, n, ".nan") || eq(s, n, ".NaN") || eq(s, n, ".NAN"))
		return true;
	if (*p == '.' && p + 1 < end && is_dig(p[1]))
		return m_exp_end(span(p + 1, end, "0123456789_"), end);
	if (p < end && (*p == '-' || *p == '+'))
		p++;
	if (eq(p, (size_t)(end - p), ".inf") || eq(p, (size_t)(end - p), ".Inf") || eq(p, (size_t)(end - p), ".INF"))
		return true;
	if (p == end || !is_dig(*p))
		return false;
	const char *q = span(p + 1, end, "0123456789_");
	if (q < end && *q == '.')
		return m_exp_end(span(q + 1, end, "0123456789_"), end);
	q = m_sexa(q, end);
	if (q && q < end && *q == '.')
		return span(q + 1, end, "0123456789_") == end;
	return false;
}

struct tstamp {
	int year, month, day;
	bool time;
	int hour, minute, second, micro;
	bool tz;
	long tzoff; /* seconds */
	bool tzbad;
	int mdigits, ddigits;
};

static int take_digits(const char **pp, const char *end, int min, int max, int *val)
{
	const char *p = *pp;
	int n = 0, v = 0;
	while (p < end && n < max && is_dig(*p)) {
		v = v * 10 + (*p - '0');
		p++, n++;
	}
	if (n < min)
		return -1;
	*pp = p;
	*val = v;
	return n;
}

/* SafeConstructor.timestamp_regexp; false when it does not match */
static bool parse_timestamp(const char *s, size_t n, struct tstamp *t)
{
	const char *p = s, *end = s + n;
	memset(t, 0, sizeof *t);
	if (take_digits(&p, end, 4, 4, &t->year) < 0 || p == end || *p++ != '-')
		return false;
	if ((t->mdigits = take_digits(&p, end, 1, 2, &t->month)) < 0 || p == end || *p++ != '-')
		return false;
	if ((t->ddigits = take_digits(&p, end, 1, 2, &t->day)) < 0)
		return false;
	if (p == end)
		return true;
	if (*p == 'T' || *p == 't')
		p++;
	else if (*p == ' ' || *p == '\t')
		p = span(p, end, " \t");
	else
		return false;
	t->time = true;
	if (take_digits(&p, end, 1, 2, &t->hour) < 0 || p == end || *p++ != ':')
		return false;
	if (take_digits(&p, end, 2, 2, &t->minute) < 0 || p == end || *p++ != ':')
		return false;
	if (take_digits(&p, end, 2, 2, &t->second) < 0)
		return false;
	if (p < end && *p == '.') {
		p++;
		int nd = 0;
		while (p < end && is_dig(*p)) {
			if (nd < 6)
				t->micro = t->micro * 10 + (*p - '0');
			nd++;
			p++;
		}
		for (; nd < 6; nd++)
			t->micro *= 10;
	}
	if (p == end)
		return true;
	const char *q = span(p, end, " \t");
	if (q < end && *q == 'Z') {
		t->tz = true;
		return q + 1 == end;
	}
	if (q < end && (*q == '+' || *q == '-')) {
		int sign = *q == '-' ? -1 : 1, th, tm = 0;
		q++;
		if (take_digits(&q, end, 1, 2, &th) < 0)
			return false;
		if (q < end && *q == ':') {
			q++;
			if (take_digits(&q, end, 2, 2, &tm) < 0)
				return false;
		}
		t->tz = true;
		t->tzoff = sign * (th * 3600L + tm * 60L);
		return q == end;
	}
	return false;
}

static bool m_timestamp(const char *s, size_t n)
{
	struct tstamp t;
	if (!parse_timestamp(s, n, &t))
		return false;
	return t.time || (t.mdigits == 2 && t.ddigits == 2);
}

static bool match_dollar(bool (*m)(const char *, size_t), const char *s, size_t n)
{
	return m(s, n) || (n && s[n - 1] == '\n' && m(s, n - 1));
}

/* Resolver.resolve() for a plain scalar: the resolvers of its first character, in order. */
static const char *resolve_plain(const char *s, size_t n)
{
	if (n == 0)
		return T_NULL;
	char c = s[0];
	if (c && strchr("yYnNtTfFoO", c) && match_dollar(m_bool, s, n))
		return T_BOOL;
	if (c && strchr("-+0123456789.", c) && match_dollar(m_float, s, n))
		return T_FLOAT;
	if (c && strchr("-+0123456789", c) && match_dollar(m_int, s, n))
		return T_INT;
	if (c == '<' && (eq(s, n, "<<") || eq(s, n, "<<\n")))
		return T_MERGE;
	if (c && strchr("~nN", c) && match_dollar(m_null, s, n))
		return T_NULL;
	if (is_dig(c) && match_dollar(m_timestamp, s, n))
		return T_TIMESTAMP;
	if (c == '=' && (eq(s, n, "=") || eq(s, n, "=\n")))
		return T_VALUE;
	return T_STR;
}

/* ---- composing libyaml's events into nodes (yaml/composer.py as _yaml.pyx does it) ---- */

static struct node *node_new(struct loader *L, enum nkind k, const yaml_event_t *ev)
{
	struct node *n = xcalloc(1, sizeof *n);
	n->kind = k;
	n->line = (int)ev->start_mark.line + 1;
	n->col = (int)ev->start_mark.column + 1;
	n->size = 1;
	n->height = 1;
	L->nodes = xgrow(L->nodes, &L->capnodes, L->nnodes + 1, sizeof *L->nodes);
	L->nodes[L->nnodes++] = n;
	return n;
}

static void node_push(struct node *parent, struct node *child)
{
	parent->items = xgrow(parent->items, &parent->capitems, parent->nitems + 1, sizeof *parent->items);
	parent->items[parent->nitems++] = child;
}

static int line_of_offset(const struct loader *L, size_t off)
{
	int line = 1;
	for (size_t i = 0; i < off && i < L->len; i++)
		if (L->data[i] == '\n' || (L->data[i] == '\r' && (i + 1 >= L->len || L->data[i + 1] != '\n')))
			line++;
	return line;
}

static int parser_error(struct loader *L, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "unknown error";
	int line;
	if (p->error == YAML_READER_ERROR)
		line = line_of_offset(L, p->problem_offset);
	else
		line = (int)p->problem_mark.line + 1;
	return fail(L, line, "Syntax Error while loading YAML: %s", problem);
}

static const char *event_tag(struct loader *L, const yaml_char_t *tag)
{
	if (!tag || strcmp((const char *)tag, "!") == 0)
		return NULL;
	return own(L, (const char *)tag);
}

static int register_anchor(struct loader *L, const yaml_char_t *anchor, struct node *n)
{
	if (!anchor)
		return 0;
	struct node *prev = strmap_get(L->anchors, (const char *)anchor);
	if (prev)
		return fail(L, n->line, "Syntax Error while loading YAML: found duplicate anchor '%s'; first occurrence on line %d, second occurrence",
			    (const char *)anchor, prev->line);
	strmap_put(L->anchors, own(L, (const char *)anchor), n);
	return 0;
}

static int attach(struct loader *L, struct node **stack, size_t depth, struct node **root, struct node *n)
{
	(void)L;
	if (depth)
		node_push(stack[depth - 1], n);
	else
		*root = n;
	return 0;
}

static int close_node(struct loader *L, struct node *n)
{
	size_t size = 1;
	int height = 0;
	for (size_t i = 0; i < n->nitems; i++) {
		size += n->items[i]->size;
		if (size > YAMLLOAD_MAX_NODES)
			size = YAMLLOAD_MAX_NODES + 1;
		if (n->items[i]->height > height)
			height = n->items[i]->height;
	}
	n->size = size;
	n->height = height + 1;
	n->open = false;
	if (size > YAMLLOAD_MAX_NODES)
		return fail(L, n->line, "aliases expand to more than %u values", YAMLLOAD_MAX_NODES);
	if (n->height > YAMLLOAD_MAX_DEPTH)
		return fail(L, n->line, "data nested deeper than %d levels (counting what aliases repeat)", YAMLLOAD_MAX_DEPTH);
	return 0;
}

static int compose(struct loader *L, struct node **root)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct node **stack = NULL;
	size_t depth = 0, capstack = 0;
	int docs = 0, rc = -1;
	*root = NULL;
	if (!yaml_parser_initialize(&p)) {
		fail(L, 1, "out of memory");
		return -1;
	}
	yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&p, (const unsigned char *)L->data, L->len);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			parser_error(L, &p);
			break;
		}
		int line = (int)ev.start_mark.line + 1;
		struct node *n = NULL;
		int erc = 0;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			rc = 0;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (docs++)
				erc = fail(L, line, "Syntax Error while loading YAML: expected a single document in the stream, but found another document");
			break;
		case YAML_ALIAS_EVENT: {
			struct node *a = strmap_get(L->anchors, (const char *)ev.data.alias.anchor);
			if (!a)
				erc = fail(L, line, "Syntax Error while loading YAML: found undefined alias '%s'",
					   (const char *)ev.data.alias.anchor);
			else if (a->open)
				erc = fail(L, line, "found recursive alias '%s': data that contains itself cannot be used",
					   (const char *)ev.data.alias.anchor);
			else
				attach(L, stack, depth, root, a);
			break;
		}
		case YAML_SCALAR_EVENT:
			n = node_new(L, NK_SCALAR, &ev);
			n->value = xstrndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
			n->len = ev.data.scalar.length;
			n->tag = event_tag(L, ev.data.scalar.tag);
			if (!n->tag)
				n->tag = ev.data.scalar.plain_implicit ? resolve_plain(n->value, n->len) : T_STR;
			erc = register_anchor(L, ev.data.scalar.anchor, n);
			if (!erc)
				attach(L, stack, depth, root, n);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT: {
			bool seq = ev.type == YAML_SEQUENCE_START_EVENT;
			n = node_new(L, seq ? NK_SEQ : NK_MAP, &ev);
			n->tag = event_tag(L, seq ? ev.data.sequence_start.tag : ev.data.mapping_start.tag);
			if (!n->tag)
				n->tag = seq ? T_SEQ : T_MAP;
			erc = register_anchor(L, seq ? ev.data.sequence_start.anchor : ev.data.mapping_start.anchor, n);
			if (erc)
				break;
			if (depth + 1 > YAMLLOAD_MAX_DEPTH) {
				erc = fail(L, line, "data nested deeper than %d levels", YAMLLOAD_MAX_DEPTH);
				break;
			}
			attach(L, stack, depth, root, n);
			n->open = true;
			stack = xgrow(stack, &capstack, depth + 1, sizeof *stack);
			stack[depth++] = n;
			break;
		}
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			erc = close_node(L, stack[--depth]);
			break;
		default:
			break;
		}
		bool end = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (erc || end)
			break;
	}
	yaml_parser_delete(&p);
	free(stack);
	return L->err ? -1 : rc;
}

/* ---- constructing values (SafeConstructor + AnsibleConstructor) ---- */

static json_t *construct(struct loader *L, struct node *n);

static void enqueue(struct loader *L, struct node *n, enum pending_kind k)
{
	L->queue = xgrow(L->queue, &L->qcap, L->qn + 1, sizeof *L->queue);
	L->queue[L->qn++] = (struct pending){ n, k };
}

/* SafeConstructor.construct_scalar: a mapping holding a `=` key stands for its value. */
static struct node *scalar_of(struct loader *L, struct node *n)
{
	if (n->kind == NK_MAP) {
		for (size_t i = 0; i + 1 < n->nitems; i += 2)
			if (strcmp(n->items[i]->tag, T_VALUE) == 0)
				return scalar_of(L, n->items[i + 1]);
	}
	if (n->kind != NK_SCALAR) {
		fail(L, n->line, "Syntax Error while loading YAML: expected a scalar node, but found %s", kind_id[n->kind]);
		return NULL;
	}
	return n;
}

static json_t *new_string(struct loader *L, const char *s, size_t n, enum yamlload_type t, int line, int col)
{
	json_t *v = json_stringn(s, n);
	if (!v) {
		/* not UTF-8 (decoded !!binary): show the bytes as Latin-1 */
		struct sbuf b = { 0 };
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c < 0x80) {
				sb_putc(&b, (char)c);
			} else {
				sb_putc(&b, (char)(0xc0 | (c >> 6)));
				sb_putc(&b, (char)(0x80 | (c & 0x3f)));
			}
		}
		v = json_stringn(b.s ? b.s : "", b.n);
		free(b.s);
	}
	return reg(L->doc, v, t, line, col);
}

static json_t *wrapped_object(struct loader *L, const char *key, const char *s, size_t n, enum yamlload_type t, int line,
			      int col)
{
	json_t *o = json_object();
	json_object_set_new(o, key, json_stringn(s, n));
	return reg(L->doc, o, t, line, col);
}

static json_t *construct_int(struct loader *L, struct node *n)
{
	struct node *sn = scalar_of(L, n);
	if (!sn)
		return NULL;
	char *buf = xmalloc(sn->len + 1), *msg = NULL;
	size_t len = 0;
	for (size_t i = 0; i < sn->len; i++)
		if (sn->value[i] != '_')
			buf[len++] = sn->value[i];
	buf[len] = '\0';
	json_t *v = NULL;
	int sign = 1;
	char *s = buf;
	struct yint r = { 0 };
	if (!len) {
		fail(L, n->line, "string index out of range");
		goto out;
	}
	if (*s == '-')
		sign = -1;
	if (*s == '+' || *s == '-')
		s++, len--;
	if (strcmp(s, "0") == 0) {
		r.i = 0;
	} else if (strncmp(s, "0b", 2) == 0) {
		if (py_int(s + 2, len - 2, 2, &r, &msg))
			goto err;
	} else if (strncmp(s, "0x", 2) == 0) {
		if (py_int(s + 2, len - 2, 16, &r, &msg))
			goto err;
	} else if (!len) {
		fail(L, n->line, "string index out of range");
		goto out;
	} else if (s[0] == '0') {
		if (py_int(s, len, 8, &r, &msg))
			goto err;
	} else if (memchr(s, ':', len)) {
		/* sexagesimal: the last part counts ones, the one before sixties...
		 * (Horner's rule from the first part: the same sum) */
		const char *part = s;
		pyint acc = PYINT_INIT;
		for (;;) {
			const char *colon = memchr(part, ':', len - (size_t)(part - s));
			size_t plen = colon ? (size_t)(colon - part) : len - (size_t)(part - s);
			struct yint pr;
			if (py_int(part, plen, 10, &pr, &msg)) {
				pyint_free(&acc);
				goto err;
			}
			if (!pr.big)
				pyint_set_ll(&pr.x, pr.i);
			pyint_mul_small(&acc, 60);
			pyint_add(&acc, &acc, &pr.x);
			yint_free(&pr);
			if (acc.n > PYINT_MAX_STR_DIGITS / 9 + 1) {
				/* too long to print, as above */
				pyint_free(&acc);
				msg = xasprintf("Exceeds the limit (%d digits) for integer string conversion; use "
						"sys.set_int_max_str_digits() to increase the limit", PYINT_MAX_STR_DIGITS);
				goto err;
			}
			if (!colon)
				break;
			part = colon + 1;
		}
		r.big = !pyint_get_ll(&acc, &r.i);
		r.x = acc;
	} else {
		if (py_int(s, len, 10, &r, &msg))
			goto err;
	}
	v = reg(L->doc, yint_json(&r, sign), YL_INT, n->line, n->col);
	goto out;
err:
	fail(L, n->line, "%s", msg);
out:
	yint_free(&r);
	free(msg);
	free(buf);
	return v;
}

static json_t *construct_float(struct loader *L, struct node *n)
{
	struct node *sn = scalar_of(L, n);
	if (!sn)
		return NULL;
	char *buf = xmalloc(sn->len + 1), *msg = NULL;
	size_t len = 0;
	for (size_t i = 0; i < sn->len; i++) {
		char c = sn->value[i];
		if (c != '_')
			buf[len++] = c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : c;
	}
	buf[len] = '\0';
	json_t *v = NULL;
	double sign = 1, d = 0;
	char *s = buf;
	if (!len) {
		fail(L, n->line, "string index out of range");
		goto out;
	}
	if (*s == '-')
		sign = -1;
	if (*s == '+' || *s == '-')
		s++, len--;
	if (strcmp(s, ".inf") == 0) {
		d = HUGE_VAL;
	} else if (strcmp(s, ".nan") == 0) {
		d = NAN;
		sign = 1;
	} else if (memchr(s, ':', len)) {
		/* summed from the last part up, as Python does, for the same rounding */
		double *parts = NULL;
		size_t np = 0, cp = 0;
		const char *part = s;
		for (;;) {
			const char *colon = memchr(part, ':', len - (size_t)(part - s));
			size_t plen = colon ? (size_t)(colon - part) : len - (size_t)(part - s);
			double x;
			if (py_float(part, plen, &x, &msg)) {
				free(parts);
				fail(L, n->line, "%s", msg);
				goto out;
			}
			parts = xgrow(parts, &cp, np + 1, sizeof *parts);
			parts[np++] = x;
			if (!colon)
				break;
			part = colon + 1;
		}
		double base = 1;
		for (size_t i = np; i-- > 0;) {
			d += parts[i] * base;
			base *= 60;
		}
		free(parts);
	} else if (py_float(s, len, &d, &msg)) {
		fail(L, n->line, "%s", msg);
		goto out;
	}
	v = reg(L->doc, pyjson_real_new(sign * d), YL_FLOAT, n->line, n->col);
out:
	free(msg);
	free(buf);
	return v;
}

static json_t *construct_bool(struct loader *L, struct node *n)
{
	struct node *sn = scalar_of(L, n);
	if (!sn)
		return NULL;
	char *low = xstrndup(sn->value, sn->len);
	for (char *p = low; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p | 0x20);
	json_t *v = NULL;
	if (strcmp(low, "yes") == 0 || strcmp(low, "true") == 0 || strcmp(low, "on") == 0) {
		v = json_true();
	} else if (strcmp(low, "no") == 0 || strcmp(low, "false") == 0 || strcmp(low, "off") == 0) {
		v = json_false();
	} else {
		/* KeyError: its message is the repr of the key */
		struct sbuf b = { 0 };
		repr_text(&b, low, sn->len, "");
		fail(L, n->line, "%s", b.s);
		free(b.s);
	}
	free(low);
	return v;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

static json_t *construct_timestamp(struct loader *L, struct node *n)
{
	struct node *sn = scalar_of(L, n);
	if (!sn)
		return NULL;
	struct tstamp t;
	if (!parse_timestamp(sn->value, sn->len, &t) &&
	    !(sn->len && sn->value[sn->len - 1] == '\n' && parse_timestamp(sn->value, sn->len - 1, &t))) {
		fail(L, n->line, "'NoneType' object has no attribute 'groupdict'");
		return NULL;
	}
	if (t.time && t.tz && (t.tzoff <= -86400 || t.tzoff >= 86400)) {
		struct sbuf b = { 0 };
		sb_puts(&b, "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not ");
		timedelta_repr(&b, t.tzoff);
		sb_putc(&b, '.');
		fail(L, n->line, "%s", b.s);
		free(b.s);
		return NULL;
	}
	if (t.year < 1 || t.year > 9999)
		return fail(L, n->line, "year %d is out of range", t.year), NULL;
	if (t.month < 1 || t.month > 12)
		return fail(L, n->line, "month must be in 1..12"), NULL;
	if (t.day < 1 || t.day > days_in_month(t.year, t.month))
		return fail(L, n->line, "day is out of range for month"), NULL;
	char buf[64];
	if (!t.time) {
		snprintf(buf, sizeof buf, "%04d-%02d-%02d", t.year, t.month, t.day);
		return new_string(L, buf, strlen(buf), YL_DATE, n->line, n->col);
	}
	if (t.hour > 23)
		return fail(L, n->line, "hour must be in 0..23"), NULL;
	if (t.minute > 59)
		return fail(L, n->line, "minute must be in 0..59"), NULL;
	if (t.second > 59)
		return fail(L, n->line, "second must be in 0..59"), NULL;
	int k = snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", t.year, t.month, t.day, t.hour, t.minute,
			 t.second);
	if (t.micro)
		k += snprintf(buf + k, sizeof buf - (size_t)k, ".%06d", t.micro);
	if (t.tz) {
		long off = t.tzoff < 0 ? -t.tzoff : t.tzoff;
		snprintf(buf + k, sizeof buf - (size_t)k, "%c%02ld:%02ld", t.tzoff < 0 ? '-' : '+', off / 3600,
			 off % 3600 / 60);
	}
	return new_string(L, buf, strlen(buf), YL_DATETIME, n->line, n->col);
}

/* base64.decodebytes(): binascii.a2b_base64 without strict mode. */
static json_t *construct_binary(struct loader *L, struct node *n)
{
	struct node *sn = scalar_of(L, n);
	if (!sn)
		return NULL;
	for (size_t i = 0; i < sn->len; i++) {
		if ((unsigned char)sn->value[i] >= 0x80) {
			fail(L, n->line, "Syntax Error while loading YAML: failed to convert base64 data into ascii: 'ascii' codec can't encode character in position %zu: ordinal not in range(128)", i);
			return NULL;
		}
	}
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = xmalloc(sn->len + 1);
	size_t nout = 0;
	int quad = 0, pads = 0;
	unsigned left = 0;
	for (size_t i = 0; i < sn->len; i++) {
		char c = sn->value[i];
		if (c == '=') {
			if (quad >= 2 && quad + ++pads >= 4)
				goto done;
			continue;
		}
		const char *pos = c ? strchr(alphabet, c) : NULL;
		if (!pos)
			continue;
		unsigned v = (unsigned)(pos - alphabet);
		pads = 0;
		switch (quad) {
		case 0: quad = 1; left = v; break;
		case 1: quad = 2; out[nout++] = (char)((left << 2) | (v >> 4)); left = v & 0x0f; break;
		case 2: quad = 3; out[nout++] = (char)((left << 4) | (v >> 2)); left = v & 0x03; break;
		default: quad = 0; out[nout++] = (char)((left << 6) | v); left = 0; break;
		}
	}
	if (quad == 1) {
		fail(L, n->line, "Syntax Error while loading YAML: failed to decode base64 data: Invalid base64-encoded string: number of data characters (%zu) cannot be 1 more than a multiple of 4",
		     nout / 3 * 4 + 1);
		free(out);
		return NULL;
	}
	if (quad) {
		fail(L, n->line, "Syntax Error while loading YAML: failed to decode base64 data: Incorrect padding");
		free(out);
		return NULL;
	}
done:;
	json_t *v = new_string(L, out, nout, YL_BYTES, n->line, n->col);
	free(out);
	return v;
}

/* How a key is named in jansson, shown by str(), and told apart as Python's
 * dict does: 1, 1.0 and True are one key; 1 and "1" are two. */
struct keyform {
	char *name, *str, *ident;
	enum yamlload_type type;
};

static void key_form(struct loader *L, const json_t *k, struct keyform *f)
{
	const yamlload_doc *d = L->doc;
	enum yamlload_type t = yamlload_type(d, k);
	f->type = t;
	f->ident = NULL;
	switch (t) {
	case YL_STR:
	case YL_JSON_STR:
	case YL_UNSAFE: {
		const char *s = yamlload_text(d, k);
		f->name = xstrdup(s);
		f->str = xstrdup(s);
		f->ident = xstrdup(s);
		return;
	}
	case YL_NONE:
		f->name = xstrdup("null");
		f->str = xstrdup("None");
		f->ident = xstrdup("\x01\x02N");
		return;
	case YL_BOOL:
		f->name = xstrdup(json_is_true(k) ? "true" : "false");
		f->str = xstrdup(json_is_true(k) ? "True" : "False");
		f->ident = xstrdup(json_is_true(k) ? "\x01\x02n1" : "\x01\x02n0");
		return;
	case YL_INT:
	case YL_FLOAT: {
		double x = json_is_integer(k) ? (double)json_integer_value(k) : json_real_value(k);
		char buf[64];
		struct sbuf s = { 0 };
		if (json_is_integer(k)) {
			snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(k));
			f->name = xstrdup(buf);
			f->str = xstrdup(buf);
			f->ident = xasprintf("\x01\x02n%s", buf);
			return;
		}
		const char *digits = pyjson_bigint_digits(k, NULL);
		if (digits) {
			f->name = xstrdup(digits);
			f->str = xstrdup(digits);
			f->ident = xasprintf("\x01\x02n%s", digits);
			return;
		}
		pyjson_float_repr(x, buf, sizeof buf);
		f->name = xstrdup(buf);
		if (t == YL_INT) {
			sb_printf(&s, "%.0f", x);
		} else {
			float_str(&s, x);
		}
		f->str = sb_take(&s);
		if (isnan(x))
			f->ident = xasprintf("\x01\x02nan%lu", ++L->uniq);
		else if (x == floor(x) && fabs(x) < 9.2e18)
			f->ident = xasprintf("\x01\x02n%lld", (long long)x);
		else if (x == floor(x) && isfinite(x))
			f->ident = xasprintf("\x01\x02n%.0f", x); /* exact digits: equal to the same big int */
		else
			f->ident = xasprintf("\x01\x02n%s", buf);
		return;
	}
	case YL_DATE:
	case YL_DATETIME:
	case YL_BYTES: {
		f->name = xstrdup(json_string_value(k));
		f->str = yamlload_str(d, k);
		f->ident = xasprintf("\x01\x02%c%s", t == YL_DATE ? 'D' : t == YL_DATETIME ? 'T' : 'B', f->name);
		return;
	}
	default: {
		/* a vault value: hashed by identity */
		const char *s = yamlload_text(d, json_object_get(k, "__ansible_vault"));
		f->name = xstrdup(s ? s : "");
		f->str = xstrdup(f->name);
		f->ident = xasprintf("\x01\x02v%p", (const void *)k);
		return;
	}
	}
}

static bool unhashable(enum yamlload_type t)
{
	return t == YL_MAP || t == YL_DICT || t == YL_SEQ || t == YL_LIST || t == YL_SET;
}

/* SafeConstructor.flatten_mapping: `<<` keys replaced by the pairs they merge,
 * which come first so the mapping's own keys win. */
static int flatten(struct loader *L, struct node *n, int depth)
{
	if (depth > MAX_MERGE_DEPTH)
		return fail(L, n->line, "merge keys (<<) nested deeper than %d levels", MAX_MERGE_DEPTH);
	struct node **merge = NULL;
	size_t nm = 0, cm = 0;
	size_t i = 0;
	while (i < n->nitems) {
		struct node *k = n->items[i], *v = n->items[i + 1];
		if (strcmp(k->tag, T_MERGE) == 0) {
			memmove(&n->items[i], &n->items[i + 2], (n->nitems - i - 2) * sizeof *n->items);
			n->nitems -= 2;
			if (v->kind == NK_MAP) {
				if (flatten(L, v, depth + 1))
					goto err;
				merge = xgrow(merge, &cm, nm + v->nitems, sizeof *merge);
				memcpy(merge + nm, v->items, v->nitems * sizeof *merge);
				nm += v->nitems;
			} else if (v->kind == NK_SEQ) {
				for (size_t j = 0; j < v->nitems; j++) {
					struct node *sub = v->items[j];
					if (sub->kind != NK_MAP) {
						fail(L, sub->line, "Syntax Error while loading YAML: expected a mapping for merging, but found %s",
						     kind_id[sub->kind]);
						goto err;
					}
					if (flatten(L, sub, depth + 1))
						goto err;
				}
				for (size_t j = v->nitems; j-- > 0;) {
					struct node *sub = v->items[j];
					merge = xgrow(merge, &cm, nm + sub->nitems, sizeof *merge);
					memcpy(merge + nm, sub->items, sub->nitems * sizeof *merge);
					nm += sub->nitems;
				}
			} else {
				fail(L, v->line, "Syntax Error while loading YAML: expected a mapping or list of mappings for merging, but found %s",
				     kind_id[v->kind]);
				goto err;
			}
		} else {
			if (strcmp(k->tag, T_VALUE) == 0)
				k->tag = T_STR;
			i += 2;
		}
	}
	if (nm) {
		size_t total = nm + n->nitems;
		struct node **items = xmalloc(total * sizeof *items);
		memcpy(items, merge, nm * sizeof *items);
		memcpy(items + nm, n->items, n->nitems * sizeof *items);
		free(n->items);
		n->items = items;
		n->nitems = n->capitems = total;
	}
	free(merge);
	return 0;
err:
	free(merge);
	return -1;
}

/* AnsibleConstructor.construct_mapping into obj (an empty object). */
static int fill_map(struct loader *L, struct node *n, json_t *obj)
{
	if (n->kind != NK_MAP)
		return fail(L, n->line, "Syntax Error while loading YAML: expected a mapping node, but found %s", kind_id[n->kind]);
	if (flatten(L, n, 0))
		return -1;
	struct info *mi = info_get(L->doc, obj);
	strmap *index = NULL;
	for (size_t i = 0; i + 1 < n->nitems; i += 2) {
		struct node *kn = n->items[i], *vn = n->items[i + 1];
		json_t *k = construct(L, kn);
		if (!k)
			goto err;
		enum yamlload_type kt = yamlload_type(L->doc, k);
		if (unhashable(kt)) {
			fail(L, kn->line, "Syntax Error while loading YAML: while constructing a mapping, found unacceptable key (unhashable type: '%s')",
			     yamlload_type_name(kt));
			goto err;
		}
		struct keyform f;
		key_form(L, k, &f);
		/* a duplicate keeps the first key (1 stays 1 when 1.0 repeats it) */
		size_t first = 0;
		if (index) {
			first = (size_t)(uintptr_t)strmap_get(index, f.ident);
		} else {
			for (size_t j = 0; j < mi->nkeys && !first; j++)
				if (strcmp(mi->idents[j], f.ident) == 0)
					first = j + 1;
		}
		bool dup = first != 0;
		if (dup)
			warnf(L, "While constructing a mapping from %s, line %d, column %d, found a duplicate dict key (%s). Using last defined value only.",
			      L->path, n->line, n->col, f.str);
		json_t *v = construct(L, vn);
		if (!v) {
			free(f.name);
			free(f.str);
			free(f.ident);
			goto err;
		}
		const char *name = dup ? mi->keys[first - 1].name : f.name;
		bool had = json_object_get(obj, name) != NULL;
		json_object_set(obj, name, v);
		if (!dup && !had) {
			key_add(mi, f.name, f.str, f.ident, f.type, kn->line);
			if (index) {
				strmap_put(index, mi->idents[mi->nkeys - 1], (void *)(uintptr_t)mi->nkeys);
			} else if (mi->nkeys >= 16) {
				index = strmap_new();
				for (size_t j = 0; j < mi->nkeys; j++)
					strmap_put(index, mi->idents[j], (void *)(uintptr_t)(j + 1));
			}
		} else {
			free(f.ident);
		}
		free(f.name);
		free(f.str);
	}
	strmap_free(index);
	return 0;
err:
	strmap_free(index);
	return -1;
}

static int fill_seq(struct loader *L, struct node *n, json_t *arr)
{
	if (n->kind != NK_SEQ)
		return fail(L, n->line, "Syntax Error while loading YAML: expected a sequence node, but found %s", kind_id[n->kind]);
	for (size_t i = 0; i < n->nitems; i++) {
		json_t *v = construct(L, n->items[i]);
		if (!v)
			return -1;
		json_array_append(arr, v);
	}
	return 0;
}

/* construct_yaml_omap / construct_yaml_pairs: a list of (key, value) tuples */
static int fill_pairs(struct loader *L, struct node *n, json_t *arr, const char *what)
{
	if (n->kind != NK_SEQ)
		return fail(L, n->line, "Syntax Error while loading YAML: while constructing %s, expected a sequence, but found %s", what,
			    kind_id[n->kind]);
	for (size_t i = 0; i < n->nitems; i++) {
		struct node *sub = n->items[i];
		if (sub->kind != NK_MAP)
			return fail(L, sub->line, "Syntax Error while loading YAML: while constructing %s, expected a mapping of length 1, but found %s",
				    what, kind_id[sub->kind]);
		if (sub->nitems != 2)
			return fail(L, sub->line, "Syntax Error while loading YAML: while constructing %s, expected a single mapping item, but found %zu items",
				    what, sub->nitems / 2);
		json_t *k = construct(L, sub->items[0]);
		if (!k)
			return -1;
		json_t *v = construct(L, sub->items[1]);
		if (!v)
			return -1;
		json_t *t = reg(L->doc, json_array(), YL_TUPLE, sub->line, sub->col);
		json_array_append(t, k);
		json_array_append(t, v);
		json_array_append(arr, t);
	}
	return 0;
}

/* wrap_var(): strings become unsafe, containers are copied as they are now
 * (Ansible copies containers whose construction is still pending: empty). */
static json_t *wrap(struct loader *L, json_t *v)
{
	yamlload_doc *d = L->doc;
	enum yamlload_type t = yamlload_type(d, v);
	struct info *vi = info_get(d, v);
	int line = vi ? vi->line : 0, col = vi ? vi->col : 0;
	switch (t) {
	case YL_STR:
	case YL_JSON_STR:
	case YL_BYTES:
		return wrapped_object(L, "__ansible_unsafe", json_string_value(v), json_string_length(v), YL_UNSAFE, line, col);
	case YL_MAP:
	case YL_DICT:
	case YL_SET: {
		json_t *o = reg(d, json_object(), t == YL_SET ? YL_SET : YL_DICT, line, col);
		struct info *oi = info_get(d, o);
		for (size_t i = 0; vi && i < vi->nkeys; i++) {
			const struct yamlload_key *k = &vi->keys[i];
			enum yamlload_type kt = k->type == YL_STR || k->type == YL_JSON_STR ? YL_UNSAFE : k->type;
			key_add(oi, k->name, k->str, xstrdup(vi->idents[i]), kt, k->line);
			json_object_set(o, k->name, t == YL_SET ? json_null() : wrap(L, json_object_get(v, k->name)));
		}
		return o;
	}
	case YL_SEQ:
	case YL_LIST:
	case YL_TUPLE: {
		json_t *a = reg(d, json_array(), t, line, col);
		for (size_t i = 0; i < json_array_size(v); i++)
			json_array_append(a, wrap(L, json_array_get(v, i)));
		return a;
	}
	default:
		return v;
	}
}

static json_t *construct_unsafe(struct loader *L, struct node *n)
{
	if (n->kind == NK_SCALAR)
		return wrapped_object(L, "__ansible_unsafe", n->value, n->len, YL_UNSAFE, n->line, n->col);
	json_t *tmp;
	if (n->kind == NK_SEQ) {
		tmp = reg(L->doc, json_array(), YL_LIST, n->line, n->col);
		if (fill_seq(L, n, tmp))
			return NULL;
	} else {
		tmp = reg(L->doc, json_object(), YL_MAP, n->line, n->col);
		if (fill_map(L, n, tmp))
			return NULL;
	}
	return wrap(L, tmp);
}

static json_t *construct(struct loader *L, struct node *n)
{
	if (n->obj)
		return n->obj;
	const char *tag = n->tag;
	yamlload_doc *d = L->doc;
	json_t *v = NULL;
	if (strcmp(tag, T_MAP) == 0 || strcmp(tag, T_PYDICT) == 0) {
		v = reg(d, json_object(), YL_MAP, n->line, n->col);
		enqueue(L, n, P_MAP);
	} else if (strcmp(tag, T_SEQ) == 0) {
		v = reg(d, json_array(), YL_SEQ, n->line, n->col);
		enqueue(L, n, P_SEQ);
	} else if (strcmp(tag, T_SET) == 0) {
		v = reg(d, json_object(), YL_SET, n->line, n->col);
		enqueue(L, n, P_SET);
	} else if (strcmp(tag, T_OMAP) == 0 || strcmp(tag, T_PAIRS) == 0) {
		v = reg(d, json_array(), YL_LIST, n->line, n->col);
		enqueue(L, n, strcmp(tag, T_OMAP) == 0 ? P_OMAP : P_PAIRS);
	} else if (strcmp(tag, T_STR) == 0 || strcmp(tag, T_PYUNICODE) == 0) {
		struct node *sn = scalar_of(L, n);
		if (sn)
			v = new_string(L, sn->value, sn->len, YL_STR, n->line, n->col);
	} else if (strcmp(tag, T_NULL) == 0) {
		if (scalar_of(L, n))
			v = json_null();
	} else if (strcmp(tag, T_BOOL) == 0) {
		v = construct_bool(L, n);
	} else if (strcmp(tag, T_INT) == 0) {
		v = construct_int(L, n);
	} else if (strcmp(tag, T_FLOAT) == 0) {
		v = construct_float(L, n);
	} else if (strcmp(tag, T_TIMESTAMP) == 0) {
		v = construct_timestamp(L, n);
	} else if (strcmp(tag, T_BINARY) == 0) {
		v = construct_binary(L, n);
	} else if (strcmp(tag, "!unsafe") == 0) {
		v = construct_unsafe(L, n);
	} else if (strcmp(tag, "!vault") == 0 || strcmp(tag, "!vault-encrypted") == 0) {
		struct node *sn = scalar_of(L, n);
		if (sn)
			v = wrapped_object(L, "__ansible_vault", sn->value, sn->len, YL_VAULT, n->line, n->col);
	} else {
		struct sbuf b = { 0 };
		repr_text(&b, tag, strlen(tag), "");
		fail(L, n->line, "Syntax Error while loading YAML: could not determine a constructor for the tag %s", b.s);
		free(b.s);
	}
	n->obj = v;
	return v;
}

static int run_pending(struct loader *L)
{
	while (L->qhead < L->qn) {
		struct pending p = L->queue[L->qhead++];
		int rc = 0;
		switch (p.kind) {
		case P_MAP:
			rc = fill_map(L, p.n, p.n->obj);
			break;
		case P_SEQ:
			rc = fill_seq(L, p.n, p.n->obj);
			break;
		case P_SET: {
			/* construct_yaml_set: the keys of construct_mapping() */
			json_t *tmp = reg(L->doc, json_object(), YL_MAP, p.n->line, p.n->col);
			rc = fill_map(L, p.n, tmp);
			if (!rc) {
				struct info *ti = info_get(L->doc, tmp), *si = info_get(L->doc, p.n->obj);
				for (size_t i = 0; i < ti->nkeys; i++) {
					key_add(si, ti->keys[i].name, ti->keys[i].str, xstrdup(ti->idents[i]), ti->keys[i].type,
						ti->keys[i].line);
					json_object_set(p.n->obj, ti->keys[i].name, json_null());
				}
			}
			break;
		}
		case P_OMAP:
			rc = fill_pairs(L, p.n, p.n->obj, "an ordered map");
			break;
		case P_PAIRS:
			rc = fill_pairs(L, p.n, p.n->obj, "pairs");
			break;
		}
		if (rc)
			return -1;
	}
	return 0;
}

/* ---- JSON as Python's json.loads(cls=AnsibleJSONDecoder) reads it ---- */

struct jp {
	struct loader *L;
	const char *p, *end;
	int line;
	int depth;
};

static void jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
		if (*j->p == '\n')
			j->line++;
		j->p++;
	}
}

static bool jp_lit(struct jp *j, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return false;
	j->p += n;
	return true;
}

static void put_utf8(struct sbuf *b, unsigned long cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	sb_add(b, u, n);
}

static int jp_hex4(struct jp *j, unsigned long *out)
{
	if (j->end - j->p < 4)
		return -1;
	unsigned long v = 0;
	for (int i = 0; i < 4; i++) {
		char c = j->p[i];
		if (!is_hex(c))
			return -1;
		v = v * 16 + (unsigned long)digit_value(c);
	}
	j->p += 4;
	*out = v;
	return 0;
}

/* A string after its opening quote; false if Python would refuse it (or keep
 * a lone surrogate, which cannot be UTF-8: left to the YAML path). */
static bool jp_string(struct jp *j, struct sbuf *b)
{
	for (;;) {
		if (j->p >= j->end)
			return false;
		unsigned char c = (unsigned char)*j->p++;
		if (c == '"')
			return true;
		if (c < 0x20)
			return false;
		if (c != '\\') {
			sb_putc(b, (char)c);
			continue;
		}
		if (j->p >= j->end)
			return false;
		char e = *j->p++;
		switch (e) {
		case '"': sb_putc(b, '"'); break;
		case '\\': sb_putc(b, '\\'); break;
		case '/': sb_putc(b, '/'); break;
		case 'b': sb_putc(b, '\b'); break;
		case 'f': sb_putc(b, '\f'); break;
		case 'n': sb_putc(b, '\n'); break;
		case 'r': sb_putc(b, '\r'); break;
		case 't': sb_putc(b, '\t'); break;
		case 'u': {
			unsigned long cp, lo;
			if (jp_hex4(j, &cp))
				return false;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (!(j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u'))
					return false;
				j->p += 2;
				if (jp_hex4(j, &lo) || lo < 0xdc00 || lo > 0xdfff)
					return false;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				return false;
			}
			put_utf8(b, cp);
			break;
		}
		default:
			return false;
		}
	}
}

static json_t *jp_value(struct jp *j);

/* object_hook: {"__ansible_vault": ...} and {"__ansible_unsafe": ...} stand for those objects */
static json_t *jp_hook(struct jp *j, json_t *o, int line)
{
	struct info *oi = info_get(j->L->doc, o);
	for (size_t i = 0; i < oi->nkeys; i++) {
		const char *k = oi->keys[i].name;
		json_t *v = json_object_get(o, k);
		if (strcmp(k, "__ansible_vault") == 0) {
			char *s = yamlload_str(j->L->doc, v);
			json_t *r = wrapped_object(j->L, "__ansible_vault", s, strlen(s), YL_VAULT, line, 1);
			free(s);
			return r;
		}
		if (strcmp(k, "__ansible_unsafe") == 0)
			return wrap(j->L, v);
	}
	return o;
}

static json_t *jp_number(struct jp *j)
{
	const char *s = j->p;
	const char *p = s;
	if (p < j->end && *p == '-')
		p++;
	if (p < j->end && *p == '0')
		p++;
	else if (p < j->end && *p >= '1' && *p <= '9')
		p = span(p, j->end, "0123456789");
	else
		return NULL;
	bool real = false;
	if (p + 1 < j->end && *p == '.' && is_dig(p[1])) {
		p = span(p + 1, j->end, "0123456789");
		real = true;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		const char *q = p + 1;
		if (q < j->end && (*q == '+' || *q == '-'))
			q++;
		if (q < j->end && is_dig(*q)) {
			p = span(q, j->end, "0123456789");
			real = true;
		}
	}
	j->p = p;
	char *tmp = xstrndup(s, (size_t)(p - s));
	json_t *v;
	if (real) {
		v = reg(j->L->doc, pyjson_real_new(strtod(tmp, NULL)), YL_FLOAT, j->line, 1);
	} else {
		struct yint r;
		char *msg = NULL;
		if (py_int(tmp, strlen(tmp), 10, &r, &msg)) {
			/* json.loads fails the same way (the digit limit): so does the YAML reading after it */
			free(msg);
			free(tmp);
			return NULL;
		}
		v = reg(j->L->doc, yint_json(&r, 1), YL_INT, j->line, 1);
		yint_free(&r);
	}
	free(tmp);
	return v;
}

static json_t *jp_container(struct jp *j, bool obj)
{
	int line = j->line;
	if (++j->depth > YAMLLOAD_MAX_DEPTH)
		return NULL;
	json_t *c = reg(j->L->doc, obj ? json_object() : json_array(), obj ? YL_DICT : YL_LIST, line, 1);
	struct info *ci = info_get(j->L->doc, c);
	jp_ws(j);
	if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
		j->p++;
		j->depth--;
		return c;
	}
	for (;;) {
		if (obj) {
			jp_ws(j);
			if (j->p >= j->end || *j->p != '"')
				return NULL;
			int kline = j->line;
			j->p++;
			struct sbuf k = { 0 };
			if (!jp_string(j, &k)) {
				free(k.s);
				return NULL;
			}
			char *key = sb_take(&k);
			jp_ws(j);
			json_t *v = NULL;
			if (j->p < j->end && *j->p == ':') {
				j->p++;
				jp_ws(j);
				v = jp_value(j);
			}
			if (!v) {
				free(key);
				return NULL;
			}
			if (!json_object_get(c, key))
				key_add(ci, key, key, xstrdup(key), YL_JSON_STR, kline);
			json_object_set(c, key, v);
			free(key);
		} else {
			json_t *v = jp_value(j);
			if (!v)
				return NULL;
			json_array_append(c, v);
		}
		jp_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			jp_ws(j);
			continue;
		}
		if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
			j->p++;
			break;
		}
		return NULL;
	}
	j->depth--;
	return obj ? jp_hook(j, c, line) : c;
}

static json_t *jp_value(struct jp *j)
{
	if (j->p >= j->end)
		return NULL;
	switch (*j->p) {
	case '{':
		j->p++;
		return jp_container(j, true);
	case '[':
		j->p++;
		return jp_container(j, false);
	case '"': {
		int line = j->line;
		j->p++;
		struct sbuf b = { 0 };
		if (!jp_string(j, &b)) {
			free(b.s);
			return NULL;
		}
		json_t *v = new_string(j->L, b.s ? b.s : "", b.n, YL_JSON_STR, line, 1);
		free(b.s);
		return v;
	}
	case 'n':
		return jp_lit(j, "null") ? json_null() : NULL;
	case 't':
		return jp_lit(j, "true") ? json_true() : NULL;
	case 'f':
		return jp_lit(j, "false") ? json_false() : NULL;
	case 'N':
		return jp_lit(j, "NaN") ? reg(j->L->doc, pyjson_real_new(NAN), YL_FLOAT, j->line, 1) : NULL;
	case 'I':
		return jp_lit(j, "Infinity") ? reg(j->L->doc, pyjson_real_new(HUGE_VAL), YL_FLOAT, j->line, 1) : NULL;
	case '-':
		if (jp_lit(j, "-Infinity"))
			return reg(j->L->doc, pyjson_real_new(-HUGE_VAL), YL_FLOAT, j->line, 1);
		return jp_number(j);
	default:
		return jp_number(j);
	}
}

static bool valid_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		unsigned c = *p;
		size_t k;
		unsigned long cp;
		if (c < 0x80) {
			p++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if ((size_t)(end - p) <= k)
			return false;
		for (size_t i = 1; i <= k; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += k + 1;
	}
	return true;
}

static yamlload_doc *try_json(const char *path, const char *data, size_t len)
{
	if (!valid_utf8(data, len))
		return NULL;
	yamlload_doc *doc = xcalloc(1, sizeof *doc);
	struct loader L = { .path = path, .data = data, .len = len, .doc = doc };
	struct jp j = { &L, data, data + len, 1, 0 };
	jp_ws(&j);
	json_t *v = jp_value(&j);
	jp_ws(&j);
	if (!v || j.p != j.end) {
		yamlload_free(doc);
		return NULL;
	}
	doc->root = json_incref(v);
	return doc;
}

/* ---- the whole ---- */

static void loader_free(struct loader *L)
{
	for (size_t i = 0; i < L->nnodes; i++) {
		free(L->nodes[i]->value);
		free(L->nodes[i]->items);
		free(L->nodes[i]);
	}
	free(L->nodes);
	for (size_t i = 0; i < L->nstrs; i++)
		free(L->strs[i]);
	free(L->strs);
	strmap_free(L->anchors);
	free(L->queue);
}

int yamlload_parse(const char *path, const char *data, size_t len, yamlload_warn_fn warn, void *ctx,
		   yamlload_doc **out, char **err)
{
	*out = try_json(path, data, len);
	if (*out)
		return 0;
	yamlload_doc *doc = xcalloc(1, sizeof *doc);
	struct loader L = { .path = path, .data = data, .len = len, .warn = warn, .ctx = ctx, .doc = doc };
	L.anchors = strmap_new();
	struct node *root = NULL;
	int rc = compose(&L, &root);
	if (rc == 0 && root) {
		json_t *v = construct(&L, root);
		if (!v || run_pending(&L))
			rc = -1;
		else
			doc->root = json_incref(v);
	}
	if (rc) {
		if (err)
			*err = L.err ? L.err : xasprintf("%s:1: could not load the document", path);
		else
			free(L.err);
		yamlload_free(doc);
		doc = NULL;
	}
	loader_free(&L);
	*out = doc;
	return rc;
}
