/* simprom: byte-for-byte the output of prometheus_client.exposition.generate_latest (0.16). */
#include "sim/simprom.h"
#include "util/pyjson.h"

#include <math.h>
#include <string.h>

void simprom_float(double d, char *out, size_t outsz)
{
	if (isinf(d)) {
		snprintf(out, outsz, d > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (isnan(d)) {
		snprintf(out, outsz, "NaN");
		return;
	}
	char s[64];
	pyjson_float_repr(d, s, sizeof s);
	const char *dot = strchr(s, '.');
	long pos = dot ? dot - s : -1;
	if (d > 0 && pos > 6) {
		/* f'{s[0]}.{s[1:dot]}{s[dot+1:]}'.rstrip('0.') + f'e+0{dot-1}' */
		char m[80];
		int n = snprintf(m, sizeof m, "%c.%.*s%s", s[0], (int)(pos - 1), s + 1, dot + 1);
		while (n > 0 && (m[n - 1] == '0' || m[n - 1] == '.'))
			m[--n] = '\0';
		snprintf(out, outsz, "%se+0%ld", m, pos - 1);
		return;
	}
	snprintf(out, outsz, "%s", s);
}

static void put_escaped(FILE *f, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (quote && *s == '"')
			fputs("\\\"", f);
		else
			fputc(*s, f);
	}
}

void simprom_header(FILE *f, const char *name, const char *help, const char *type)
{
	fprintf(f, "# HELP %s ", name);
	put_escaped(f, help, 0);
	fprintf(f, "\n# TYPE %s %s\n", name, type);
}

void simprom_sample(FILE *f, const char *name, const char *const *labels, double v)
{
	fputs(name, f);
	if (labels && labels[0]) {
		fputc('{', f);
		for (size_t i = 0; labels[i]; i += 2) {
			if (i)
				fputc(',', f);
			fprintf(f, "%s=\"", labels[i]);
			put_escaped(f, labels[i + 1], 1);
			fputc('"', f);
		}
		fputc('}', f);
	}
	char num[64];
	simprom_float(v, num, sizeof num);
	fprintf(f, " %s\n", num);
}
