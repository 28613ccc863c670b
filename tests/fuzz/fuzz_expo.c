/* fuzz_expo: libFuzzer target for the exposition writer: any bytes as a label value and HELP
 * text must give an exposition the strict parser reads back as one family with one sample,
 * the value unchanged when it was valid UTF-8 (and with U+FFFD for what was not). */
#include "metrics/expo.h"
#include "metrics/prom.h"
#include "util/xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether s is ASCII, the case where the round trip must be byte for byte. */
static int ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

static int same_trimmed(const char *a, const char *b)
{
	while (*a == ' ' || *a == '\t')
		a++;
	while (*b == ' ' || *b == '\t')
		b++;
	size_t na = strlen(a), nb = strlen(b);
	while (na && (a[na - 1] == ' ' || a[na - 1] == '\t'))
		na--;
	while (nb && (b[nb - 1] == ' ' || b[nb - 1] == '\t'))
		nb--;
	return na == nb && !memcmp(a, b, na);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	/* value NUL help: C strings, as the writer takes them */
	char *buf = xcalloc(1, size + 2);
	memcpy(buf, data, size);
	const char *value = buf, *help = buf + strlen(buf) + (strlen(buf) < size ? 1 : 0);
	if (help > buf + size)
		help = "";
	expo *e = expo_new();
	expo_family(e, "fleetdeck_fuzz", "gauge", help);
	expo_sample(e, (const char *const[]){ "device", value, "factory", help, NULL }, 1.5);
	if (expo_error(e))
		abort();
	size_t len;
	const char *text = expo_text(e, &len);
	char *err = NULL;
	prom_doc *d = prom_parse(text, len, NULL, &err);
	if (!d || d->nfamilies != 1 || d->nsamples != 1 || d->samples[0].value != 1.5)
		abort(); /* the writer's output must always read back */
	const char *got = prom_label_get(&d->samples[0], "device");
	if (*value && (!got || (ascii(value) && strcmp(got, value))))
		abort();
	/* HELP text is read from after the blanks that follow the name (as Prometheus does), so
	 * blanks around it may go: compared without them */
	char *want = xstrdup(help); /* control characters but tab and newline become spaces */
	for (char *p = want; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f)
			*p = ' ';
	if (ascii(help) && !same_trimmed(d->families[0].help, want))
		abort();
	free(want);
	prom_doc_free(d);
	expo_free(e);
	free(buf);
	return 0;
}
