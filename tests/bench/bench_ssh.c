/* bench_ssh: poll cycles over many SSH devices through sshpool: one command per
 * device per cycle, the first cycle (connect + authenticate) timed apart from
 * the ones after it (sessions kept open). With --allow-failures some targets may
 * be dead: then how long the live ones waited for their answers is the figure.
 * Prints figures; run by ssh_bench.sh. */
#include "poll/ssh.h"
#include "util/xalloc.h"

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_ssh --targets FILE --identity KEY --known-hosts FILE [--cycles N] "
			"[--threads N] [--command CMD] [--label TEXT] [--connect-timeout MS] [--allow-failures]\n"
			"  FILE: one device a line: NAME HOST PORT [JUMP]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *targets = NULL, *identity = NULL, *known = NULL, *command = "cat /proc/loadavg", *label = "ssh";
	int cycles = 10, threads = 16, connect_ms = 10000, allow_failures = 0;
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--allow-failures")) {
			allow_failures = 1;
			i--;
			continue;
		}
		if (!v)
			usage();
		if (!strcmp(a, "--targets"))
			targets = v;
		else if (!strcmp(a, "--identity"))
			identity = v;
		else if (!strcmp(a, "--known-hosts"))
			known = v;
		else if (!strcmp(a, "--cycles"))
			cycles = atoi(v);
		else if (!strcmp(a, "--threads"))
			threads = atoi(v);
		else if (!strcmp(a, "--command"))
			command = v;
		else if (!strcmp(a, "--label"))
			label = v;
		else if (!strcmp(a, "--connect-timeout"))
			connect_ms = atoi(v);
		else
			usage();
	}
	if (!targets || !identity || !known || cycles < 1 || cycles > 1000)
		usage();
	FILE *f = fopen(targets, "r");
	if (!f) {
		perror(targets);
		return 2;
	}
	size_t n = 0, cap = 0;
	ssh_target *t = NULL;
	char line[1024];
	while (fgets(line, sizeof line, f)) {
		char name[256], host[256], jump[256] = "";
		int port;
		int got = sscanf(line, "%255s %255s %d %255s", name, host, &port, jump);
		if (got < 3)
			continue;
		t = xgrow(t, &cap, n + 1, sizeof *t);
		t[n] = (ssh_target){.name = xstrdup(name), .host = xstrdup(host), .port = port, .user = "root",
				    .identity = identity, .jump = got == 4 ? xstrdup(jump) : NULL};
		n++;
	}
	fclose(f);
	sshpool_opts o = {.threads = threads, .connect_timeout_ms = connect_ms, .command_timeout_ms = 10000,
			  .ssh_config = "", .known_hosts = known, .strict = SSH_STRICT_YES};
	char *err = NULL;
	sshpool *p = sshpool_new(&o, &err);
	if (!p) {
		fprintf(stderr, "bench_ssh: %s\n", err);
		return 1;
	}
	double *times = xcalloc((size_t)cycles, sizeof *times);
	double *answer = xcalloc(n ? n : 1, sizeof *answer), *slowest = xcalloc((size_t)cycles, sizeof *slowest),
	       *median = xcalloc((size_t)cycles, sizeof *median);
	long failures = 0, cycle_fail = 0;
	for (int c = 0; c < cycles; c++) {
		double t0 = now_ms();
		size_t nans = 0;
		for (size_t i = 0; i < n; i++) {
			if (sshpool_exec(p, &t[i], command, (void *)(uintptr_t)i, &err) != 0) {
				fprintf(stderr, "bench_ssh: %s\n", err);
				return 1;
			}
		}
		size_t got = 0;
		while (got < n) {
			struct pollfd pf = {.fd = sshpool_wake_fd(p), .events = POLLIN};
			if (poll(&pf, 1, 60000) <= 0) {
				fprintf(stderr, "bench_ssh: no results for 60 s\n");
				return 1;
			}
			sshpool_result r;
			while (sshpool_result_next(p, &r)) {
				if (!r.ran) {
					if (failures < 5 && !allow_failures)
						fprintf(stderr, "bench_ssh: %s\n", r.error);
					failures++;
				} else {
					answer[nans++] = r.rtt_ms;
				}
				sshpool_result_clear(&r);
				got++;
			}
		}
		times[c] = now_ms() - t0;
		qsort(answer, nans, sizeof *answer, cmp_double);
		slowest[c] = nans ? answer[nans - 1] : 0;
		median[c] = nans ? answer[nans / 2] : 0;
		if (c == 0)
			cycle_fail = failures;
	}
	sshpool_stats st;
	sshpool_get_stats(p, &st);
	printf("%s: %zu devices, %d threads, command '%s'\n", label, n, threads, command);
	printf("  first cycle (connect + authenticate + run): %.0f ms\n", times[0]);
	if (cycles > 1) {
		qsort(times + 1, (size_t)cycles - 1, sizeof *times, cmp_double);
		printf("  later cycles (%d, sessions reused): min %.0f ms, median %.0f ms, max %.0f ms\n", cycles - 1,
		       times[1], times[1 + (cycles - 1) / 2], times[cycles - 1]);
	}
	printf("  failures: %ld\n", failures);
	if (allow_failures) {
		printf("  %ld of %zu devices failed each cycle; the others' answers (submit to result):\n", cycle_fail, n);
		for (int c = 0; c < cycles; c++)
			printf("    cycle %d: %.0f ms, answers median %.0f ms, slowest %.0f ms\n", c + 1, times[c], median[c],
			       slowest[c]);
	}
	printf("  device sessions open %ld, device connects %ld, bastion sessions open %ld, bastion connects %ld, "
	       "channels through bastions %ld\n",
	       st.sessions_open, st.connects, st.bastion_sessions_open, st.bastion_connects, st.channels_opened);
	sshpool_free(p);
	for (size_t i = 0; i < n; i++) {
		free((char *)t[i].name);
		free((char *)t[i].host);
		free((char *)t[i].jump);
	}
	free(t);
	free(times);
	free(answer);
	free(slowest);
	free(median);
	return failures && !allow_failures ? 1 : 0;
}
