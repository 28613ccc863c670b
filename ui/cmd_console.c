/* cmd_console: `fleetdeck [console]`: the interactive console, and `--demo`,
 * which first starts the simulator's demo fleet and points the console at it. */
#include "cli/cli.h"
#include "cli/cli_source.h"
#include "console.h"
#include "glyphs.h"
#include "monitor/monitor.h"
#include "monitor/rollwatch.h"
#include "inventory/loader.h"
#include "store/store.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fleetdeck [console] [-i INVENTORY]... [--limit PATTERN] [--demo]\n"
		"                 [--interval S] [--refresh S] [--forks N] [--timeout S]\n"
		"                 [--theme NAME] [--no-color] [--ascii] [--mouse] [--no-fkeys]\n"
		"                 [--read-only] [--db FILE | --no-history] [--source poll|prometheus=URL[,...]]\n"
		"\n"
		"The console: every selected device polled in parallel, per factory and per device,\n"
		"with events and the command log. `?` in the console lists every key.\n"
		"\n"
		"  -l, --limit PATTERN  only these devices (an Ansible host pattern, as --limit)\n"
		"      --demo           start the simulator's demo fleet (15 factories, 200 devices)\n"
		"                       and open the console on it\n"
		"      --interval S     seconds between poll cycles (default 10)\n"
		"      --refresh S      redraw for new data at most this often (default 1)\n"
		"  -f, --forks N        devices polled at once (default 256)\n"
		"  -T, --timeout S      seconds allowed for each request (default 5)\n"
		"      --theme NAME     dark, light, high-contrast, monochrome, or a theme file\n"
		"      --no-color       no colours (also when NO_COLOR is set)\n"
		"      --ascii          ASCII drawing characters only (automatic under LANG=C and on the\n"
		"                       Linux console); --utf8 forces UTF-8\n"
		"      --mouse          clicks select rows, the wheel scrolls (off by default)\n"
		"      --no-fkeys       hide the F-key bar\n"
		"      --read-only      start nothing that changes a device (also `read_only: true`)\n"
		"      --db FILE        history database (default $XDG_DATA_HOME/fleetdeck/history.db)\n"
		"      --no-history     keep no history\n"
		"      --source S       poll (the devices, default) or prometheus=URL[,label=L][,match=T]\n"
		"                       [,job=J][,window=W]: read their state from a Prometheus server\n");
}

struct opts {
	const char *limit, *theme, *db;
	bool demo, no_color, mouse, no_fkeys, read_only, no_history;
	int glyphs; /* glyphs_mode */
	int interval_ms, refresh_ms, forks, timeout_ms;
	cli_source source;
};

static int seconds(const char *opt, const char *s, double min, int *ms)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno || v < min || v > 86400) {
		fprintf(stderr, "fleetdeck: %s wants a number of seconds (at least %g), not '%s'\n", opt, min, s);
		return -1;
	}
	*ms = (int)(v * 1000 + 0.5);
	return 0;
}

static int parse(struct app *app, int argc, char **argv, struct opts *o)
{
	enum { DEMO = 1, INTERVAL, REFRESH, THEME, NOCOLOR, ASCII, UTF8, MOUSE, NOFKEYS, READONLY, DB, NOHIST, SOURCE };
	static const struct option opts[] = {
		CLI_OPT_INVENTORY,
		{ "limit", required_argument, NULL, 'l' },
		{ "demo", no_argument, NULL, DEMO },
		{ "interval", required_argument, NULL, INTERVAL },
		{ "refresh", required_argument, NULL, REFRESH },
		{ "forks", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "theme", required_argument, NULL, THEME },
		{ "no-color", no_argument, NULL, NOCOLOR },
		{ "no-colour", no_argument, NULL, NOCOLOR },
		{ "ascii", no_argument, NULL, ASCII },
		{ "utf8", no_argument, NULL, UTF8 },
		{ "mouse", no_argument, NULL, MOUSE },
		{ "no-fkeys", no_argument, NULL, NOFKEYS },
		{ "read-only", no_argument, NULL, READONLY },
		{ "db", required_argument, NULL, DB },
		{ "no-history", no_argument, NULL, NOHIST },
		{ "source", required_argument, NULL, SOURCE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:l:f:T:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': cli_add_inventory(app, optarg); break;
		case 'l': o->limit = optarg; break;
		case DEMO: o->demo = true; break;
		case INTERVAL: if (seconds("--interval", optarg, 0.2, &o->interval_ms)) return EXIT_USAGE; break;
		case REFRESH: if (seconds("--refresh", optarg, 0.05, &o->refresh_ms)) return EXIT_USAGE; break;
		case 'T': if (seconds("--timeout", optarg, 0.1, &o->timeout_ms)) return EXIT_USAGE; break;
		case 'f': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 1 || v > 65536) {
				fprintf(stderr, "fleetdeck: --forks wants a number from 1 to 65536, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			o->forks = (int)v;
			break;
		}
		case THEME: o->theme = optarg; break;
		case NOCOLOR: o->no_color = true; break;
		case ASCII: o->glyphs = GLYPHS_ASCII; break;
		case UTF8: o->glyphs = GLYPHS_UTF8; break;
		case MOUSE: o->mouse = true; break;
		case NOFKEYS: o->no_fkeys = true; break;
		case READONLY: o->read_only = true; break;
		case DB: o->db = optarg; break;
		case NOHIST: o->no_history = true; break;
		case SOURCE: if (cli_source_parse("console", optarg, &o->source)) return EXIT_USAGE; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fleetdeck: unexpected argument: %s\n", argv[optind]);
		return EXIT_USAGE;
	}
	return -1;
}

/* ---- the demo fleet ---- */


struct demo {
	pid_t pid;
	char dir[64];
};

static char *sibling_program(const char *name)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			char *p = xasprintf("%s/%s", self, name);
			if (access(p, X_OK) == 0)
				return p;
			free(p);
		}
	}
	return xstrdup(name); /* from PATH */
}

static void demo_stop(struct demo *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		int st;
		for (int i = 0; i < 100 && waitpid(d->pid, &st, WNOHANG) == 0; i++) {
			struct timespec ts = { 0, 20 * 1000000 };
			nanosleep(&ts, NULL); /* bounded: 2 s, then it is killed */
		}
		if (waitpid(d->pid, &st, WNOHANG) == 0) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &st, 0);
		}
		d->pid = 0;
	}
	if (d->dir[0]) {
		/* the directory is the demo's own (mkdtemp): everything in it goes */
		DIR *dir = opendir(d->dir);
		struct dirent *e;
		while (dir && (e = readdir(dir))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char *p = xasprintf("%s/%s", d->dir, e->d_name);
			unlink(p);
			free(p);
		}
		if (dir)
			closedir(dir);
		rmdir(d->dir);
		d->dir[0] = '\0';
	}
}

/* Starts fleetsim --demo and waits (at most 15 s) for its ready file. */
static int demo_start(struct demo *d, char **inv_path)
{
	snprintf(d->dir, sizeof d->dir, "/tmp/fleetdeck-demo.XXXXXX");
	if (!mkdtemp(d->dir)) {
		fprintf(stderr, "fleetdeck --demo: mkdtemp: %s\n", strerror(errno));
		d->dir[0] = '\0';
		return -1;
	}
	char *sim = sibling_program("fleetsim");
	char *ready = xasprintf("%s/ready", d->dir);
	char *log = xasprintf("%s/fleetsim.log", d->dir);
	d->pid = fork();
	if (d->pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, 0);
		setsid(); /* the terminal's ^C is the console's, not the simulator's */
		/* and if the console dies however it dies, the simulator goes with it */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			_exit(127);
		/* with the model registry (drift baselines, rollouts): an address no demo device has, a
		 * port from the process id so that two demos can run at once */
		char reg[64];
		snprintf(reg, sizeof reg, "127.0.255.254:%d", 20000 + (int)(getpid() % 20000));
		/* and its control API beside it, the next port up */
		char ctl[64];
		snprintf(ctl, sizeof ctl, "127.0.255.254:%d", 20001 + (int)(getpid() % 20000));
		execlp(sim, sim, "--demo", "--registry", reg, "--control", ctl, "--model-kib", "64", "--write-inventory",
		       d->dir, "--ready-file", ready, (char *)NULL);
		_exit(127);
	}
	free(sim);
	int rc = -1;
	if (d->pid < 0) {
		fprintf(stderr, "fleetdeck --demo: fork: %s\n", strerror(errno));
		d->pid = 0;
	} else {
		for (int i = 0; i < 750; i++) { /* 15 s */
			struct stat st;
			if (stat(ready, &st) == 0 && st.st_size > 0) {
				rc = 0;
				break;
			}
			int status;
			if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
				d->pid = 0;
				break;
			}
			struct timespec ts = { 0, 20 * 1000000 };
			nanosleep(&ts, NULL);
		}
		if (rc) {
			fprintf(stderr, "fleetdeck --demo: the simulator did not start (its log: %s):\n", log);
			FILE *f = fopen(log, "r");
			char line[512];
			for (int i = 0; f && i < 10 && fgets(line, sizeof line, f); i++)
				fprintf(stderr, "  %s", line);
			if (f)
				fclose(f);
		}
	}
	*inv_path = xasprintf("%s/fleet.ini", d->dir);
	free(ready);
	free(log);
	return rc;
}

static int run(struct app *app, int argc, char **argv)
{
	struct opts o = { 0 };
	int prc = parse(app, argc, argv, &o);
	if (prc >= 0) {
		cli_source_clear(&o.source);
		return prc;
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "fleetdeck: the console needs a terminal (for scripts and cron: fleetdeck --report)\n");
		cli_source_clear(&o.source);
		return EXIT_USAGE;
	}
	if (cli_load_config(app)) {
		cli_source_clear(&o.source);
		return EXIT_USAGE;
	}
	struct demo demo = { 0 };
	if (o.demo) {
		char *inv_path = NULL;
		if (demo_start(&demo, &inv_path) < 0) {
			free(inv_path);
			demo_stop(&demo);
			cli_source_clear(&o.source);
			return EXIT_USAGE;
		}
		/* the demo fleet replaces any other inventory */
		for (size_t i = 0; i < app->ninv_args; i++)
			free(app->inv_args[i]);
		app->ninv_args = 0;
		cli_add_inventory(app, inv_path);
		free(inv_path);
	}
	int rc = EXIT_USAGE;
	inventory *inv = cli_load_inventory(app);
	monitor *mon = NULL;
	char *db = NULL, *err = NULL;
	if (!inv)
		goto out;
	cli_raise_fd_limit();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	monitor_opts mo = { .poll = app->cfg.poll, .rules = &app->cfg.rules, .limit = o.limit, .who = "console" };
	if (o.interval_ms)
		mo.poll.interval_ms = o.interval_ms;
	if (o.forks)
		mo.poll.forks = o.forks;
	if (o.timeout_ms)
		mo.poll.timeout_ms = o.timeout_ms;
	if (o.source.prometheus) {
		if (o.timeout_ms)
			o.source.prom.timeout_ms = o.timeout_ms;
		mo.prom = &o.source.prom;
	}
	if (!o.no_history && !o.demo) {
		db = o.db ? xstrdup(o.db) : app->db_path ? xstrdup(app->db_path) : app->cfg.db ? xstrdup(app->cfg.db)
												  : store_default_path();
		mo.db_path = db;
	} else if (o.demo && !o.no_history) {
		/* the demo keeps its history and rollouts beside its fleet, and they go with it */
		db = o.db ? xstrdup(o.db) : xasprintf("%s/history.db", demo.dir);
		mo.db_path = db;
	}
	mon = monitor_new(inv, &mo, &err);
	if (!mon) {
		fprintf(stderr, "fleetdeck: %s\n", err);
		goto out_curl;
	}
	/* a rollout whose runner died (killed, a reboot) is finished by the next fleetdeck that looks */
	if (monitor_rollwatch(mon) && !(o.read_only || app->cfg.read_only))
		rollwatch_adopt_orphans(monitor_rollwatch(mon), true);
	char *user_themes = NULL;
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	if (xdg && *xdg == '/')
		user_themes = xasprintf("%s/fleetdeck/themes", xdg);
	else
		user_themes = xasprintf("%s/.config/fleetdeck/themes", home && *home ? home : ".");
	const char *dirs[] = { user_themes, FLEETDECK_SRCDIR "/themes", FLEETDECK_DATADIR "/themes" };
	const char *nc = getenv("NO_COLOR");
	console_opts co = {
		.theme = o.theme ? o.theme : app->cfg.theme,
		.theme_dirs = dirs,
		.ntheme_dirs = 3,
		.no_color = o.no_color || (nc && *nc),
		.glyph_mode = o.glyphs,
		.refresh_ms = o.refresh_ms ? o.refresh_ms : 1000,
		.read_only = o.read_only || app->cfg.read_only,
		.mouse = o.mouse,
		.fkeys = !o.no_fkeys,
		.rules = &app->cfg.rules,
		.title = o.demo ? "demo fleet" : NULL,
		.inventories = (const char *const *)app->inv_args,
		.ninventories = app->ninv_args,
		.limit = o.limit,
		.registry = app->cfg.registry,
	};
	if (console_run(&co, inv, mon, &err) < 0) {
		fprintf(stderr, "fleetdeck: %s\n", err ? err : "the console failed");
	} else {
		rc = EXIT_OK;
	}
	for (size_t i = 0; i < monitor_warning_count(mon); i++)
		fprintf(stderr, "[WARNING]: %s\n", monitor_warning(mon, i));
	free(user_themes);
out_curl:
	monitor_free(mon);
	curl_global_cleanup();
out:
	free(err);
	free(db);
	inv_free(inv);
	demo_stop(&demo);
	cli_source_clear(&o.source);
	return rc;
}

const struct command cmd_console = {
	.name = "console",
	.summary = "the interactive console (the default when no command is given)",
	.run = run,
	.usage = usage,
};
