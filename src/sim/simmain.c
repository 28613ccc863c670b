/* fleetsim: plays a fleet of edge-AI devices on loopback addresses (see docs/fleetsim.md). */
#include "sim/simagent.h"
#include "sim/simfleet.h"
#include "sim/simreg.h"
#include "sim/simsrv.h"
#include "sim/simupd.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The only global: what the signal handler may touch. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static const char usage_text[] =
	"usage: fleetsim [options]\n"
	"Plays a fleet of edge-AI devices, each on its own loopback address, with the agent API\n"
	"(port 8080) and the Prometheus exporter (port 8000) of docs/device-contract.md.\n"
	"\n"
	"Fleet:\n"
	"  --devices N            devices (default 50)\n"
	"  --factories F          factories, devices spread evenly (default 5)\n"
	"  --demo                 the demo fleet: 15 factories, 200 devices, a handful each of hot,\n"
	"                         unhealthy, degraded, drifting, old-version and unreachable devices\n"
	"  --fleet FILE.json      the fleet from a file (format in docs/fleetsim.md)\n"
	"  --seed S               random seed: same seed, same fleet and behaviour (default 1)\n"
	"  --base A.B.C.D         addresses from A.B.C.D on, in order (default 127.0.<f+1>.<d+1>)\n"
	"  --agent-port P         agent API port on every device (default 8080)\n"
	"  --metrics-port P       exporter port (default 8000; equal to --agent-port: one socket\n"
	"                         per device serves both, /metrics on the agent port)\n"
	"Services (loopback addresses only):\n"
	"  --registry ADDR:PORT   serve the model registry (/models/index.json and the models)\n"
	"  --registry-url URL     model_registry written to inventories (default http://ADDR:PORT)\n"
	"  --control ADDR:PORT    serve the control API (docs/fleetsim.md)\n"
	"Behaviour:\n"
	"  --fault KIND=FRACTION  give a fault to that fraction of devices; repeatable. KIND: unreachable,\n"
	"                         refused, hang, slow, http500, malformed, truncated, oversized, reset\n"
	"  --clock wall|manual    simulated time follows the wall clock, or moves only by POST /clock\n"
	"  --speed X              simulated seconds per wall second (default 1)\n"
	"  --load-delay-ms MS     model load time after an update or rollback (default 2000)\n"
	"  --slow-ms MS           delay of the slow fault (default 3000)\n"
	"  --oversize-mib N       body size of the oversized fault (default 64)\n"
	"  --model-kib N          size of each registry model file (default 1024)\n"
	"  --drift-window N       samples per feature in /drift (default 500)\n"
	"  --download-timeout S   give up a model download after S seconds (default 120)\n"
	"Start-up:\n"
	"  --write-inventory DIR  write DIR/fleet.ini and DIR/fleet.yml (Ansible inventories)\n"
	"  --ready-file PATH      written (atomically) once every socket listens\n"
	"  --pid-file PATH        process id, written at start-up\n"
	"  --help, --version\n"
	"\n"
	"Once every socket listens it prints \"READY <n> devices\" on stdout. SIGTERM or SIGINT\n"
	"stop it cleanly. Exit status: 0 stopped cleanly; 1 could not run (address in use, too\n"
	"few file descriptors); 2 usage or input error.\n";

struct cli {
	simfleet_opts fleet;
	const char *fleet_file, *inventory_dir, *ready_file, *pid_file, *registry_url;
	simsrv_opts srv;
	int model_kib, download_timeout;
	double faults[SIMFAULT_COUNT];
	bool fault_given[SIMFAULT_COUNT];
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fleetsim: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'fleetsim --help'.\n");
	return 2;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || !*s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || !*s || *end || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

/* ADDR:PORT on loopback: fleetsim never listens where other machines could reach it. */
static int parse_hostport(const char *s, uint32_t *addr, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	long p;
	if (!colon || parse_long(colon + 1, 1, 65535, &p))
		return -1;
	char *a = xstrndup(s, (size_t)(colon - s));
	int rc = simfleet_parse_addr(a, addr);
	free(a);
	if (rc || *addr >> 24 != 127)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

enum {
	O_DEVICES = 256, O_FACTORIES, O_DEMO, O_FLEET, O_SEED, O_BASE, O_AGENT_PORT, O_METRICS_PORT, O_REGISTRY,
	O_REGISTRY_URL, O_CONTROL, O_FAULT, O_CLOCK, O_SPEED, O_LOAD_DELAY, O_SLOW, O_OVERSIZE, O_MODEL_KIB,
	O_DRIFT_WINDOW, O_DL_TIMEOUT, O_INVENTORY, O_READY, O_PID, O_HELP, O_VERSION
};

static int parse_cli(int argc, char **argv, struct cli *c)
{
	static const struct option opts[] = {
		{ "devices", 1, 0, O_DEVICES },	      { "factories", 1, 0, O_FACTORIES },
		{ "demo", 0, 0, O_DEMO },	      { "fleet", 1, 0, O_FLEET },
		{ "seed", 1, 0, O_SEED },	      { "base", 1, 0, O_BASE },
		{ "agent-port", 1, 0, O_AGENT_PORT }, { "metrics-port", 1, 0, O_METRICS_PORT },
		{ "registry", 1, 0, O_REGISTRY },     { "registry-url", 1, 0, O_REGISTRY_URL },
		{ "control", 1, 0, O_CONTROL },	      { "fault", 1, 0, O_FAULT },
		{ "clock", 1, 0, O_CLOCK },	      { "speed", 1, 0, O_SPEED },
		{ "load-delay-ms", 1, 0, O_LOAD_DELAY }, { "slow-ms", 1, 0, O_SLOW },
		{ "oversize-mib", 1, 0, O_OVERSIZE }, { "model-kib", 1, 0, O_MODEL_KIB },
		{ "drift-window", 1, 0, O_DRIFT_WINDOW }, { "download-timeout", 1, 0, O_DL_TIMEOUT },
		{ "write-inventory", 1, 0, O_INVENTORY }, { "ready-file", 1, 0, O_READY },
		{ "pid-file", 1, 0, O_PID },	      { "help", 0, 0, O_HELP },
		{ "version", 0, 0, O_VERSION },	      { 0, 0, 0, 0 },
	};
	opterr = 0;
	int o;
	long v;
	double x;
	bool count_given = false;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case O_DEVICES:
			if (parse_long(optarg, 1, 1000000, &v))
				return usage_error("--devices: expected a number from 1 to 1000000, got '%s'", optarg);
			c->fleet.devices = (size_t)v;
			count_given = true;
			break;
		case O_FACTORIES:
			if (parse_long(optarg, 1, 10000, &v))
				return usage_error("--factories: expected a number from 1 to 10000, got '%s'", optarg);
			c->fleet.factories = (size_t)v;
			count_given = true;
			break;
		case O_DEMO: c->fleet.demo = 1; break;
		case O_FLEET: c->fleet_file = optarg; break;
		case O_SEED: {
			char *end;
			errno = 0;
			unsigned long long s = strtoull(optarg, &end, 10);
			if (errno || !*optarg || *end || *optarg == '-')
				return usage_error("--seed: expected a non-negative integer, got '%s'", optarg);
			c->fleet.seed = s;
			break;
		}
		case O_BASE:
			if (simfleet_parse_addr(optarg, &c->fleet.base) || c->fleet.base >> 24 != 127)
				return usage_error("--base: expected an address in 127.0.0.0/8, got '%s'", optarg);
			break;
		case O_AGENT_PORT:
		case O_METRICS_PORT:
			if (parse_long(optarg, 1, 65535, &v))
				return usage_error("expected a port from 1 to 65535, got '%s'", optarg);
			*(o == O_AGENT_PORT ? &c->srv.agent_port : &c->srv.metrics_port) = (int)v;
			break;
		case O_REGISTRY:
			if (parse_hostport(optarg, &c->srv.registry_addr, &c->srv.registry_port))
				return usage_error("--registry: expected ADDR:PORT with ADDR in 127.0.0.0/8, got '%s'", optarg);
			break;
		case O_REGISTRY_URL: c->registry_url = optarg; break;
		case O_CONTROL:
			if (parse_hostport(optarg, &c->srv.control_addr, &c->srv.control_port))
				return usage_error("--control: expected ADDR:PORT with ADDR in 127.0.0.0/8, got '%s'", optarg);
			break;
		case O_FAULT: {
			char *eq = strchr(optarg, '=');
			char *kind = eq ? xstrndup(optarg, (size_t)(eq - optarg)) : NULL;
			int k = kind ? simfault_parse(kind) : -1;
			free(kind);
			if (k <= 0 || parse_double(eq + 1, 0, 1, &x))
				return usage_error("--fault: expected KIND=FRACTION (e.g. hang=0.1), got '%s'", optarg);
			c->faults[k] = x;
			c->fault_given[k] = true;
			break;
		}
		case O_CLOCK:
			if (strcmp(optarg, "wall") && strcmp(optarg, "manual"))
				return usage_error("--clock: expected wall or manual, got '%s'", optarg);
			c->srv.manual_clock = !strcmp(optarg, "manual");
			break;
		case O_SPEED:
			if (parse_double(optarg, 0, 100000, &c->srv.speed))
				return usage_error("--speed: expected a number from 0 to 100000, got '%s'", optarg);
			break;
		case O_LOAD_DELAY:
		case O_SLOW:
			if (parse_long(optarg, 0, 3600000, &v))
				return usage_error("expected milliseconds from 0 to 3600000, got '%s'", optarg);
			*(o == O_LOAD_DELAY ? &c->fleet.load_delay_ms : &c->fleet.slow_ms) = (int)v;
			break;
		case O_OVERSIZE:
			if (parse_long(optarg, 1, 4096, &v))
				return usage_error("--oversize-mib: expected 1 to 4096, got '%s'", optarg);
			c->srv.oversize_bytes = (size_t)v << 20;
			break;
		case O_MODEL_KIB:
			if (parse_long(optarg, 1, 1048576, &v))
				return usage_error("--model-kib: expected 1 to 1048576, got '%s'", optarg);
			c->model_kib = (int)v;
			break;
		case O_DRIFT_WINDOW:
			if (parse_long(optarg, 1, 100000, &v))
				return usage_error("--drift-window: expected 1 to 100000, got '%s'", optarg);
			c->srv.drift_window = (int)v;
			break;
		case O_DL_TIMEOUT:
			if (parse_long(optarg, 1, 86400, &v))
				return usage_error("--download-timeout: expected 1 to 86400 seconds, got '%s'", optarg);
			c->download_timeout = (int)v;
			break;
		case O_INVENTORY: c->inventory_dir = optarg; break;
		case O_READY: c->ready_file = optarg; break;
		case O_PID: c->pid_file = optarg; break;
		case O_HELP: fputs(usage_text, stdout); return 0;
		case O_VERSION: printf("fleetsim %s\n", FLEETDECK_VERSION); return 0;
		default:
			return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if ((c->fleet.demo != 0) + (c->fleet_file != NULL) + count_given > 1)
		return usage_error("choose one of --demo, --fleet and --devices/--factories");
	return -1;
}

/* Writes a file through a temporary and rename(), so readers never see half of it. */
static int write_atomic(const char *path, const char *text, char **err)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	int rc = -1;
	if (f) {
		size_t n = strlen(text);
		bool ok = fwrite(text, 1, n, f) == n;
		ok = !fclose(f) && ok;
		if (ok && !rename(tmp, path))
			rc = 0;
	}
	if (rc) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

static void log_line(const char *msg)
{
	fprintf(stderr, "fleetsim: %s\n", msg);
}

static int write_inventories(const struct cli *c, const simfleet *f, char **err)
{
	if (mkdir(c->inventory_dir, 0755) && errno != EEXIST) {
		*err = xasprintf("%s: %s", c->inventory_dir, strerror(errno));
		return -1;
	}
	char *url = NULL;
	if (c->registry_url)
		url = xstrdup(c->registry_url);
	else if (c->srv.registry_addr) {
		char a[16];
		simfleet_format_addr(c->srv.registry_addr, a);
		url = xasprintf("http://%s:%u", a, c->srv.registry_port);
	}
	simfleet_invopts io = { url, c->srv.agent_port, c->srv.metrics_port };
	char *ini = simfleet_ini(f, &io), *yml = simfleet_yaml(f, &io);
	char *pi = xasprintf("%s/fleet.ini", c->inventory_dir), *py = xasprintf("%s/fleet.yml", c->inventory_dir);
	int rc = write_atomic(pi, ini, err) || write_atomic(py, yml, err) ? -1 : 0;
	free(ini);
	free(yml);
	free(pi);
	free(py);
	free(url);
	return rc;
}

/* Raises the soft descriptor limit to the hard one and checks the listeners fit.
 * Returns how many HTTP connections may be open at once, or 0 if too few fds. */
static unsigned fit_fds(size_t listeners, char **err)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	const size_t reserve = 64; /* stdio, epoll, eventfd, MHD's own, libcurl, files */
	if (listeners + reserve + 16 > rl.rlim_cur) {
		*err = xasprintf("%zu listening sockets need more file descriptors than the limit of %llu; raise it "
				 "(ulimit -n), use fewer devices, or --metrics-port equal to --agent-port (one "
				 "socket per device)",
				 listeners, (unsigned long long)rl.rlim_cur);
		return 0;
	}
	size_t room = rl.rlim_cur - listeners - reserve;
	return room > 65536 ? 65536 : (unsigned)room;
}

int main(int argc, char **argv)
{
	struct cli c = { 0 };
	c.fleet.devices = 50;
	c.fleet.factories = 5;
	c.fleet.seed = 1;
	c.fleet.load_delay_ms = 2000;
	c.fleet.slow_ms = 3000;
	c.srv.agent_port = 8080;
	c.srv.metrics_port = 8000;
	c.srv.speed = 1.0;
	c.srv.drift_window = 500;
	c.srv.oversize_bytes = (size_t)64 << 20;
	c.srv.log = log_line;
	c.model_kib = 1024;
	c.download_timeout = 120;
	int prc = parse_cli(argc, argv, &c);
	if (prc >= 0)
		return prc;

	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	c.fleet.epoch = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	char *err = NULL;
	simfleet *fleet = c.fleet_file ? simfleet_load(c.fleet_file, &c.fleet, &err) : simfleet_generate(&c.fleet, &err);
	if (!fleet) {
		fprintf(stderr, "fleetsim: %s\n", err);
		free(err);
		return 2;
	}
	if (fleet->ndevs == 0) {
		fprintf(stderr, "fleetsim: the fleet has no devices\n");
		simfleet_free(fleet);
		return 2;
	}
	for (int k = 1; k < SIMFAULT_COUNT; k++)
		if (c.fault_given[k])
			json_decref(simfleet_inject(fleet, (simfault)k, c.faults[k], fleet->seed + (uint64_t)k));

	curl_global_init(CURL_GLOBAL_DEFAULT);
	simreg *reg = NULL;
	if (c.srv.registry_addr) {
		char a[16];
		simfleet_format_addr(c.srv.registry_addr, a);
		char *base = xasprintf("http://%s:%u", a, c.srv.registry_port);
		reg = simreg_new(base, (size_t)c.model_kib * 1024);
		free(base);
	}
	size_t ndevs = fleet->ndevs;
	simsrv *srv = simsrv_new(fleet, reg, &c.srv);
	int status = 1;
	size_t blackholes = 0;
	for (size_t i = 0; i < ndevs; i++)
		blackholes += fleet->devs[i].fault == SIMFAULT_UNREACHABLE;
	unsigned max_conns = fit_fds(simsrv_fds_needed(srv) + blackholes * 2, &err);

	/* Signals: blocked everywhere but inside the loop's wait, so the worker threads
	 * (created below, inheriting the mask) never take them. */
	sigset_t block, orig;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &orig);
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigset_t waitmask = orig;
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);

	if (!max_conns)
		goto out;
	if (c.pid_file) {
		char pid[32];
		snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
		if (write_atomic(c.pid_file, pid, &err))
			goto out;
	}
	srv->upd = simupd_start(simagent_update_done, srv, c.download_timeout, &err);
	if (!srv->upd || simsrv_listen(srv, max_conns, &err))
		goto out;
	if (c.inventory_dir && write_inventories(&c, fleet, &err))
		goto out;
	char ready[64];
	snprintf(ready, sizeof ready, "READY %zu devices\n", ndevs);
	if (c.ready_file && write_atomic(c.ready_file, ready, &err))
		goto out;
	fputs(ready, stdout);
	fflush(stdout);

	status = simsrv_run(srv, &stop_requested, &waitmask) ? 1 : 0;
out:
	if (err) {
		fprintf(stderr, "fleetsim: %s\n", err);
		free(err);
	}
	simsrv_stop(srv);
	simupd_stop(srv->upd);
	srv->upd = NULL;
	simsrv_free(srv);
	simreg_free(reg);
	curl_global_cleanup();
	if (c.ready_file)
		unlink(c.ready_file);
	if (c.pid_file)
		unlink(c.pid_file);
	return status;
}
