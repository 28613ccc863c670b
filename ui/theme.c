/* theme: theme files (parse, inherit, find) and colour step-down; no ncurses here. */
#include "theme.h"
#include "util/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct {
	const char *name, *help;
} slots[] = {
#define X(id, name, help) { name, help },
	THEME_SLOT_LIST(X)
#undef X
};

const char *theme_slot_name(theme_slot s)
{
	return (unsigned)s < THEME_NSLOTS ? slots[s].name : "?";
}

const char *theme_slot_help(theme_slot s)
{
	return (unsigned)s < THEME_NSLOTS ? slots[s].help : "?";
}

int theme_slot_parse(const char *name)
{
	for (int i = 0; i < THEME_NSLOTS; i++)
		if (strcmp(slots[i].name, name) == 0)
			return i;
	return -1;
}

void theme_clear(theme *t)
{
	free(t->name);
	memset(t, 0, sizeof *t);
}

static void style(theme *t, theme_slot s, int fg, int bg, unsigned attrs)
{
	t->slot[s] = (theme_style){ .fg = fg, .bg = bg, .attrs = attrs, .set = true };
}

/* The dark default, in the 16 ANSI colours so it looks the same everywhere. */
void theme_builtin(theme *t)
{
	memset(t, 0, sizeof *t);
	t->name = xstrdup("default");
	for (int i = 0; i < THEME_NSLOTS; i++)
		style(t, i, THEME_DEFAULT, THEME_DEFAULT, 0);
	style(t, TS_HEADER, 15, 4, THEME_BOLD);
	style(t, TS_TITLE, 6, THEME_DEFAULT, THEME_BOLD);
	style(t, TS_TITLE_FOCUS, 0, 6, THEME_BOLD);
	style(t, TS_BORDER, 8, THEME_DEFAULT, 0);
	style(t, TS_COLUMN, 6, THEME_DEFAULT, THEME_BOLD | THEME_UNDERLINE);
	style(t, TS_SELECTED, 0, 6, 0);
	style(t, TS_DIM, 8, THEME_DEFAULT, 0);
	style(t, TS_STATE_PENDING, 8, THEME_DEFAULT, 0);
	style(t, TS_STATE_HEALTHY, 2, THEME_DEFAULT, 0);
	style(t, TS_STATE_DEGRADED, 3, THEME_DEFAULT, THEME_BOLD);
	style(t, TS_STATE_UNHEALTHY, 1, THEME_DEFAULT, THEME_BOLD);
	style(t, TS_STATE_UNREACHABLE, 5, THEME_DEFAULT, THEME_BOLD);
	style(t, TS_STATE_STALE, 8, THEME_DEFAULT, THEME_ITALIC);
	style(t, TS_TEMP_OK, THEME_DEFAULT, THEME_DEFAULT, 0);
	style(t, TS_TEMP_WARM, 3, THEME_DEFAULT, 0);
	style(t, TS_TEMP_HOT, 1, THEME_DEFAULT, THEME_BOLD);
	style(t, TS_DRIFT_WARN, 3, THEME_DEFAULT, 0);
	style(t, TS_DRIFT_CRIT, 1, THEME_DEFAULT, THEME_BOLD);
	style(t, TS_ALERT, 1, THEME_DEFAULT, THEME_BOLD);
	style(t, TS_SPARK, 6, THEME_DEFAULT, 0);
	style(t, TS_FKEY, 15, THEME_DEFAULT, THEME_BOLD);
	style(t, TS_FKEY_LABEL, 0, 6, 0);
	style(t, TS_PROMPT, 15, THEME_DEFAULT, THEME_BOLD);
	style(t, TS_MESSAGE, 6, THEME_DEFAULT, 0);
	style(t, TS_ERROR, 15, 1, THEME_BOLD);
}

static const char *const color_names[8] = { "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white" };

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int theme_color_parse(const char *w, int *color)
{
	if (strcmp(w, "default") == 0) {
		*color = THEME_DEFAULT;
		return 0;
	}
	if (w[0] == '#') {
		if (strlen(w) != 7)
			return -1;
		int v = 0;
		for (int i = 1; i < 7; i++) {
			int h = hexval((unsigned char)w[i]);
			if (h < 0)
				return -1;
			v = v << 4 | h;
		}
		*color = THEME_RGB_FLAG | v;
		return 0;
	}
	const char *num = w;
	if (strncmp(w, "color", 5) == 0 || strncmp(w, "colour", 6) == 0)
		num = w + (w[5] == 'r' ? 6 : 5);
	if (isdigit((unsigned char)*num)) {
		char *end;
		errno = 0;
		long n = strtol(num, &end, 10);
		if (*end || errno || n < 0 || n > 255 || strlen(num) > 3)
			return -1;
		*color = (int)n;
		return 0;
	}
	bool bright = false;
	if (strncmp(w, "bright_", 7) == 0)
		w += 7, bright = true;
	else if (strncmp(w, "bright", 6) == 0)
		w += 6, bright = true;
	for (int i = 0; i < 8; i++)
		if (strcmp(w, color_names[i]) == 0) {
			*color = i + (bright ? 8 : 0);
			return 0;
		}
	if (!bright && strcmp(w, "gray") == 0) {
		*color = 8;
		return 0;
	}
	return -1;
}

static const struct {
	const char *name;
	unsigned bit;
} attr_names[] = {
	{ "bold", THEME_BOLD }, { "dim", THEME_DIM }, { "underline", THEME_UNDERLINE },
	{ "reverse", THEME_REVERSE }, { "italic", THEME_ITALIC },
};

struct pctx {
	const char *path;
	size_t line;
	char **err;
};

static int perr(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct pctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	*c->err = xasprintf("%s:%zu: %s", c->path, c->line, msg);
	free(msg);
	return -1;
}

/* "FG [on BG] [attr...]", or "on BG ...", or attributes alone; "none" clears. */
static int parse_style(struct pctx *c, char *val, theme_style *out)
{
	theme_style s = { .fg = THEME_DEFAULT, .bg = THEME_DEFAULT, .set = true };
	bool fg_done = false, want_bg = false, bg_done = false;
	char *save = NULL;
	int words = 0;
	for (char *w = strtok_r(val, " \t", &save); w; w = strtok_r(NULL, " \t", &save), words++) {
		for (char *p = w; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (want_bg) {
			if (theme_color_parse(w, &s.bg) < 0)
				return perr(c, "'%s' is not a colour (names such as red or bright_blue, 0-255, #rrggbb, default)", w);
			want_bg = false, bg_done = true;
			continue;
		}
		if (strcmp(w, "on") == 0) {
			if (bg_done)
				return perr(c, "two background colours");
			want_bg = true;
			continue;
		}
		if (strcmp(w, "none") == 0 && words == 0)
			continue;
		bool is_attr = false;
		for (size_t i = 0; i < sizeof attr_names / sizeof *attr_names; i++)
			if (strcmp(w, attr_names[i].name) == 0) {
				s.attrs |= attr_names[i].bit;
				is_attr = true;
			}
		if (is_attr)
			continue;
		if (fg_done || bg_done)
			return perr(c, "'%s': expected an attribute (bold, dim, underline, reverse, italic)", w);
		if (theme_color_parse(w, &s.fg) < 0)
			return perr(c, "'%s' is not a colour or an attribute", w);
		fg_done = true;
	}
	if (want_bg)
		return perr(c, "'on' needs a colour after it");
	if (words == 0)
		return perr(c, "no style given (use 'none' for the terminal's own colours)");
	*out = s;
	return 0;
}

/* '#' starts a comment at the start of a line or after a blank, except after
 * the '=' where it is followed by a hex digit: that is a #rrggbb colour (checked
 * as one later, so "#12345" is an error rather than a comment). */
static void strip_comment(char *s)
{
	const char *eq = strchr(s, '=');
	for (char *h = s; (h = strchr(h, '#')); h++) {
		bool at_word = h == s || h[-1] == ' ' || h[-1] == '\t' || h[-1] == '=';
		bool colour = eq && eq < h && isxdigit((unsigned char)h[1]);
		if (at_word && !colour) {
			*h = '\0';
			return;
		}
	}
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int theme_parse(theme *t, const char *text, size_t len, const char *path, theme_loader load, void *ctx,
		int depth, char **err)
{
	if (depth > 8) {
		*err = xasprintf("%s:1: themes inherit more than 8 deep (a loop?)", path);
		return -1;
	}
	theme work = *t;
	work.name = t->name ? xstrdup(t->name) : NULL;
	struct pctx c = { .path = path, .err = err };
	const char *p = text, *end = text + len;
	int rc = 0;
	while (p < end && rc == 0) {
		c.line++;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (memchr(p, '\0', n)) {
			rc = perr(&c, "the line holds a NUL byte");
			break;
		}
		char *buf = xstrndup(p, n);
		p += n + (nl ? 1 : 0);
		strip_comment(buf);
		char *line = trim(buf);
		if (!*line) {
			free(buf);
			continue;
		}
		char *eq = strchr(line, '=');
		if (!eq) {
			rc = perr(&c, "expected 'slot = colour [on colour] [attributes]'");
			free(buf);
			break;
		}
		*eq = '\0';
		char *key = trim(line), *val = trim(eq + 1);
		if (strcmp(key, "inherit") == 0) {
			if (!load) {
				rc = perr(&c, "'inherit' is not possible here");
			} else if (!*val) {
				rc = perr(&c, "'inherit' needs a theme name");
			} else {
				char *ierr = NULL;
				if (load(ctx, val, &work, depth + 1, &ierr) < 0) {
					rc = perr(&c, "cannot inherit '%s': %s", val, ierr ? ierr : "not found");
				}
				free(ierr);
			}
		} else if (strcmp(key, "name") == 0) {
			free(work.name);
			work.name = xstrdup(val);
		} else {
			int s = theme_slot_parse(key);
			if (s < 0)
				rc = perr(&c, "unknown slot '%s'", key);
			else
				rc = parse_style(&c, val, &work.slot[s]);
		}
		free(buf);
	}
	if (rc < 0) {
		free(work.name);
		return -1;
	}
	free(t->name);
	*t = work;
	return 0;
}

#define MAX_THEME_BYTES (256 * 1024)

static int read_file(const char *path, char **data, size_t *len, char **err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		*err = xasprintf("%s: not a regular file", path);
		return -1;
	}
	if (st.st_size > MAX_THEME_BYTES) {
		fclose(f);
		*err = xasprintf("%s: too large for a theme (%lld bytes)", path, (long long)st.st_size);
		return -1;
	}
	char *buf = xmalloc((size_t)st.st_size + 1);
	size_t n = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

struct finder {
	const char *const *dirs;
	size_t ndirs;
};

static char *find_file(struct finder *f, const char *name)
{
	if (strchr(name, '/')) {
		struct stat st;
		return stat(name, &st) == 0 ? xstrdup(name) : NULL;
	}
	for (size_t i = 0; i < f->ndirs; i++) {
		char *p = xasprintf("%s/%s.theme", f->dirs[i], name);
		struct stat st;
		if (stat(p, &st) == 0)
			return p;
		free(p);
	}
	return NULL;
}

static int load_named(void *ctx, const char *name, theme *t, int depth, char **err)
{
	struct finder *f = ctx;
	char *path = find_file(f, name);
	if (!path) {
		*err = xasprintf("no theme '%s' (looked for %s.theme in %zu directories)", name, name, f->ndirs);
		return -1;
	}
	char *data;
	size_t len;
	if (read_file(path, &data, &len, err) < 0) {
		free(path);
		return -1;
	}
	int rc = theme_parse(t, data, len, path, load_named, ctx, depth, err);
	free(data);
	free(path);
	return rc;
}

int theme_load(theme *t, const char *name, const char *const *dirs, size_t ndirs, char **err)
{
	theme_builtin(t);
	struct finder f = { .dirs = dirs, .ndirs = ndirs };
	if (load_named(&f, name, t, 0, err) < 0) {
		theme_clear(t);
		theme_builtin(t);
		return -1;
	}
	if (!t->name || strcmp(t->name, "default") == 0) {
		free(t->name);
		const char *base = strrchr(name, '/');
		t->name = xstrdup(base ? base + 1 : name);
	}
	return 0;
}

/* ---- colour step-down ---- */

static const int cube_levels[6] = { 0, 95, 135, 175, 215, 255 };

/* The 16 ANSI colours as xterm draws them. */
static const int ansi_rgb[16][3] = {
	{ 0, 0, 0 },       { 205, 0, 0 },     { 0, 205, 0 },     { 205, 205, 0 },
	{ 0, 0, 238 },     { 205, 0, 205 },   { 0, 205, 205 },   { 229, 229, 229 },
	{ 127, 127, 127 }, { 255, 0, 0 },     { 0, 255, 0 },     { 255, 255, 0 },
	{ 92, 92, 255 },   { 255, 0, 255 },   { 0, 255, 255 },   { 255, 255, 255 },
};

static long dist2(int r1, int g1, int b1, int r2, int g2, int b2)
{
	long dr = r1 - r2, dg = g1 - g2, db = b1 - b2;
	/* weighted, roughly as the eye sees it */
	return 3 * dr * dr + 4 * dg * dg + 2 * db * db;
}

static void rgb_of_256(int idx, int *r, int *g, int *b)
{
	if (idx < 16) {
		*r = ansi_rgb[idx][0], *g = ansi_rgb[idx][1], *b = ansi_rgb[idx][2];
	} else if (idx < 232) {
		idx -= 16;
		*r = cube_levels[idx / 36], *g = cube_levels[idx / 6 % 6], *b = cube_levels[idx % 6];
	} else {
		*r = *g = *b = 8 + 10 * (idx - 232);
	}
}

static int nearest_level(int v)
{
	int best = 0;
	for (int i = 1; i < 6; i++)
		if (abs(cube_levels[i] - v) < abs(cube_levels[best] - v))
			best = i;
	return best;
}

int theme_rgb_to_256(int rgb)
{
	int r = rgb >> 16 & 255, g = rgb >> 8 & 255, b = rgb & 255;
	int ri = nearest_level(r), gi = nearest_level(g), bi = nearest_level(b);
	int cube = 16 + 36 * ri + 6 * gi + bi;
	long dc = dist2(r, g, b, cube_levels[ri], cube_levels[gi], cube_levels[bi]);
	int avg = (r + g + b) / 3;
	int gi2 = avg < 8 ? 0 : avg > 238 ? 23 : (avg - 8 + 5) / 10;
	if (gi2 > 23)
		gi2 = 23;
	int gv = 8 + 10 * gi2;
	long dg = dist2(r, g, b, gv, gv, gv);
	return dg < dc ? 232 + gi2 : cube;
}

int theme_to_16(int color)
{
	if (color == THEME_DEFAULT)
		return THEME_DEFAULT;
	int r, g, b;
	if (THEME_IS_RGB(color)) {
		r = color >> 16 & 255, g = color >> 8 & 255, b = color & 255;
	} else {
		if (color < 16)
			return color;
		rgb_of_256(color, &r, &g, &b);
	}
	int best = 0;
	long bd = -1;
	for (int i = 0; i < 16; i++) {
		long d = dist2(r, g, b, ansi_rgb[i][0], ansi_rgb[i][1], ansi_rgb[i][2]);
		if (bd < 0 || d < bd)
			bd = d, best = i;
	}
	return best;
}

int theme_color_for(int color, int ncolors)
{
	if (color == THEME_DEFAULT || ncolors < 8)
		return THEME_DEFAULT;
	if (ncolors >= 256)
		return THEME_IS_RGB(color) ? theme_rgb_to_256(color) : color;
	int c16 = theme_to_16(color);
	if (ncolors >= 16)
		return c16;
	/* 8 colours: the bright half folds onto the normal half (bold carries brightness) */
	return c16 & 7;
}
