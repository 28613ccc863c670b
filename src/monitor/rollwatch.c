/* rollwatch: the rollouts, read off the UI thread every second, and rollout commands run as child processes. */
#include "monitor/rollwatch.h"
#include "rollout/rolldb.h"
#include "rollout/rollstate.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { QUEUE_MAX = 16, ARGS_MAX = 64, OUTPUT_CAP = 8192, QUERY_CAP = 4 << 20, COMMAND_TIMEOUT_MS = 60000, READ_EVERY_MS = 1000 };

struct job {
	size_t cap;            /* output kept */
	char *label;
	char **args;
	size_t nargs;
};

struct rollwatch {
	char *db_path, *exe;
	void (*wake)(void *ctx);
	void *ctx;
	pthread_t thread;
	bool started;

	pthread_mutex_t lock;  /* guards what follows */
	pthread_cond_t cond;
	bool stop, read_now, running_job;
	bool adopt;            /* resume orphaned rollouts at the first read */
	bool first_read_done;
	int64_t show;
	rw_snapshot snap;      /* the latest read */
	struct job queue[QUEUE_MAX];
	size_t qhead, qcount;
	rw_result results[QUEUE_MAX];
	size_t rhead, rcount;
};

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* ---- snapshots ---- */

static void rollout_clear(rw_rollout *r)
{
	free(r->model);
	free(r->version);
	free(r->state);
	free(r->stop_reason);
	free(r->created_by);
	free(r->batches);
	for (size_t i = 0; i < r->ndevs; i++) {
		free(r->devs[i].host);
		free(r->devs[i].step);
		free(r->devs[i].error);
		free(r->devs[i].prev_version);
	}
	free(r->devs);
	for (size_t i = 0; i < r->nlog; i++) {
		free(r->log[i].host);
		free(r->log[i].text);
	}
	free(r->log);
	memset(r, 0, sizeof *r);
}

static void snap_clear(rw_snapshot *s)
{
	for (size_t i = 0; i < s->n; i++)
		rollout_clear(&s->r[i]);
	free(s->r);
	free(s->error);
	memset(s, 0, sizeof *s);
}

void rw_snapshot_free(rw_snapshot *s)
{
	if (!s)
		return;
	snap_clear(s);
	free(s);
}

static void rollout_copy(rw_rollout *dst, const rw_rollout *src)
{
	*dst = *src;
	dst->model = dup_or_null(src->model);
	dst->version = dup_or_null(src->version);
	dst->state = dup_or_null(src->state);
	dst->stop_reason = dup_or_null(src->stop_reason);
	dst->created_by = dup_or_null(src->created_by);
	dst->batches = NULL;
	if (src->nbatches > 0) {
		dst->batches = xcalloc((size_t)src->nbatches, sizeof *dst->batches);
		memcpy(dst->batches, src->batches, (size_t)src->nbatches * sizeof *dst->batches);
	}
	dst->devs = src->ndevs ? xcalloc(src->ndevs, sizeof *dst->devs) : NULL;
	for (size_t i = 0; i < src->ndevs; i++) {
		dst->devs[i] = src->devs[i];
		dst->devs[i].host = dup_or_null(src->devs[i].host);
		dst->devs[i].step = dup_or_null(src->devs[i].step);
		dst->devs[i].error = dup_or_null(src->devs[i].error);
		dst->devs[i].prev_version = dup_or_null(src->devs[i].prev_version);
	}
	dst->log = src->nlog ? xcalloc(src->nlog, sizeof *dst->log) : NULL;
	for (size_t i = 0; i < src->nlog; i++) {
		dst->log[i].ts = src->log[i].ts;
		dst->log[i].host = dup_or_null(src->log[i].host);
		dst->log[i].text = dup_or_null(src->log[i].text);
	}
}

static void snap_copy(rw_snapshot *dst, const rw_snapshot *src)
{
	memset(dst, 0, sizeof *dst);
	dst->gen = src->gen;
	dst->shown = src->shown;
	dst->n = src->n;
	dst->error = dup_or_null(src->error);
	dst->r = src->n ? xcalloc(src->n, sizeof *dst->r) : NULL;
	for (size_t i = 0; i < src->n; i++)
		rollout_copy(&dst->r[i], &src->r[i]);
}

const rw_rollout *rw_snapshot_current(const rw_snapshot *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (!roll_state_in(s->r[i].state, roll_states_final))
			return &s->r[i];
	return s->n ? &s->r[0] : NULL;
}

const rw_rollout *rw_snapshot_find(const rw_snapshot *s, int64_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->r[i].id == id)
			return &s->r[i];
	return NULL;
}

/* ---- reading ---- */

static void count_step(rw_batch *b, const char *step)
{
	b->total++;
	if (!strcmp(step, DS_UPDATED) || !strcmp(step, DS_CURRENT))
		b->ok++;
	else if (!strcmp(step, DS_FAILED))
		b->failed++;
	else if (!strcmp(step, DS_UNREACHABLE))
		b->unreachable++;
	else if (!strcmp(step, DS_REVERTED))
		b->reverted++;
	else if (!strcmp(step, DS_PENDING))
		b->pending++;
	else
		b->inflight++;
}

/* The devices' counts (and, when keep, the devices themselves) of r. */
static int read_devices(rolldb *db, rw_rollout *r, bool keep, char **err)
{
	roll_dev *d;
	size_t n;
	if (rolldb_devices(db, r->id, &d, &n, err))
		return -1;
	int nb = 0;
	for (size_t i = 0; i < n; i++)
		if (d[i].batch + 1 > nb)
			nb = d[i].batch + 1;
	r->nbatches = nb;
	r->batches = nb ? xcalloc((size_t)nb, sizeof *r->batches) : NULL;
	int64_t first = 0;
	for (size_t i = 0; i < n; i++) {
		count_step(&r->all, d[i].step);
		if (d[i].batch >= 0)
			count_step(&r->batches[d[i].batch], d[i].step);
		if (d[i].step_started && (!first || d[i].step_started < first))
			first = d[i].step_started;
	}
	/* ETA: the pace so far (devices through since the first step) over what is left */
	r->eta_s = -1;
	size_t through = r->all.ok + r->all.failed + r->all.unreachable + r->all.reverted;
	if (r->active && first && through > 0 && through < r->all.total) {
		double elapsed = (double)(wall_ms() - first) / 1000.0;
		if (elapsed > 0)
			r->eta_s = elapsed / (double)through * (double)(r->all.total - through);
	}
	if (keep) {
		r->devs = n ? xcalloc(n, sizeof *r->devs) : NULL;
		r->ndevs = n;
		for (size_t i = 0; i < n; i++) {
			r->devs[i] = (rw_dev){ .host = d[i].host, .batch = d[i].batch, .step = d[i].step,
					       .error = d[i].error, .prev_version = d[i].prev_version,
					       .step_started = d[i].step_started, .step_ended = d[i].step_ended,
					       .attempts = d[i].attempts };
			d[i].host = d[i].step = d[i].error = d[i].prev_version = NULL;
		}
	}
	roll_devs_free(d, n);
	return 0;
}

static int read_log(rolldb *db, rw_rollout *r, char **err)
{
	roll_log *l;
	size_t n;
	if (rolldb_log_recent(db, r->id, true, RW_MAX_LOG, &l, &n, err))
		return -1;
	r->log = n ? xcalloc(n, sizeof *r->log) : NULL;
	r->nlog = n;
	for (size_t i = 0; i < n; i++) {
		const char *ev = l[i].event ? l[i].event : "";
		const char *step = l[i].step ? l[i].step : "";
		const char *detail = l[i].detail;
		r->log[i].ts = l[i].ts;
		r->log[i].host = l[i].host;
		l[i].host = NULL;
		if (!strcmp(ev, "state") || !strcmp(ev, "start"))
			r->log[i].text = xasprintf("-> %s%s%s", step, detail ? ": " : "", detail ? detail : "");
		else if (!strcmp(step, "gate") || !detail)
			r->log[i].text = xstrdup(detail ? detail : step);
		else
			r->log[i].text = xasprintf("%s: %s", step, detail);
	}
	roll_logs_free(l, n);
	return 0;
}

/* A fresh read into *s (which the caller clears). */
static void read_all(rollwatch *w, int64_t show, rw_snapshot *s)
{
	char *err = NULL;
	rolldb *db = NULL;
	if (access(w->db_path, F_OK) != 0) {
		return; /* no database yet: no rollouts */
	}
	db = rolldb_open(w->db_path, 2000, &err);
	roll_row *rows = NULL;
	size_t n = 0;
	if (db && rolldb_list_newest(db, RW_MAX_ROLLOUTS, &rows, &n, &err) == 0) {
		s->r = n ? xcalloc(n, sizeof *s->r) : NULL;
		s->n = n;
		int64_t now = wall_ms();
		/* the one shown: asked for, else the newest that is not final, else the newest */
		int64_t shown = show;
		if (!shown)
			for (size_t i = 0; i < n && !shown; i++)
				if (!roll_state_in(rows[i].state, roll_states_final))
					shown = rows[i].id;
		if (!shown && n)
			shown = rows[0].id;
		for (size_t i = 0; i < n; i++) {
			rw_rollout *r = &s->r[i];
			roll_row *row = &rows[i];
			r->id = row->id;
			r->model = row->model, row->model = NULL;
			r->version = row->version, row->version = NULL;
			r->state = row->state, row->state = NULL;
			r->stop_reason = row->stop_reason, row->stop_reason = NULL;
			r->created_by = row->created_by, row->created_by = NULL;
			r->current_batch = row->current_batch;
			r->created_at = row->created_at;
			r->updated_at = row->updated_at;
			r->active = roll_state_in(r->state, roll_states_active);
			r->runner_alive = row->lease_owner && row->lease_expiry > now;
			bool keep = r->id == shown;
			if (read_devices(db, r, keep, &err) || (keep && read_log(db, r, &err)))
				break;
			if (keep)
				s->shown = r->id;
		}
	}
	roll_rows_free(rows, n);
	rolldb_close(db);
	s->error = err;
}

/* Whether two reads differ in anything shown (the generation aside). */
static bool same_rollout(const rw_rollout *a, const rw_rollout *b)
{
	if (a->id != b->id || a->updated_at != b->updated_at || strcmp(a->state, b->state) ||
	    a->current_batch != b->current_batch || a->nbatches != b->nbatches || a->ndevs != b->ndevs ||
	    a->nlog != b->nlog || a->runner_alive != b->runner_alive ||
	    memcmp(&a->all, &b->all, sizeof a->all) ||
	    (a->nbatches && memcmp(a->batches, b->batches, (size_t)a->nbatches * sizeof *a->batches)))
		return false;
	if ((a->eta_s < 0) != (b->eta_s < 0) || (long)a->eta_s != (long)b->eta_s)
		return false;
	for (size_t i = 0; i < a->ndevs; i++)
		if (strcmp(a->devs[i].step, b->devs[i].step) || a->devs[i].step_started != b->devs[i].step_started ||
		    a->devs[i].step_ended != b->devs[i].step_ended || a->devs[i].attempts != b->devs[i].attempts ||
		    (!a->devs[i].error) != (!b->devs[i].error))
			return false;
	for (size_t i = 0; i < a->nlog && i < 1; i++)
		if (a->log[i].ts != b->log[i].ts || strcmp(a->log[i].text, b->log[i].text))
			return false;
	return true;
}

static bool same_snap(const rw_snapshot *a, const rw_snapshot *b)
{
	if (a->n != b->n || a->shown != b->shown || (!a->error) != (!b->error) ||
	    (a->error && strcmp(a->error, b->error)))
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!same_rollout(&a->r[i], &b->r[i]))
			return false;
	return true;
}

/* ---- commands ---- */

static void clean_output(char *s)
{
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\n')
			*p = ' ';
		else if (*p == 0x7f)
			*p = '?';
}

static void run_job(rollwatch *w, const struct job *j, rw_result *res)
{
	res->label = xstrdup(j->label);
	res->exit_code = -1;
	int pfd[2];
	if (pipe(pfd) != 0) {
		res->output = xasprintf("pipe: %s", strerror(errno));
		return;
	}
	fcntl(pfd[0], F_SETFD, FD_CLOEXEC);
	fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
	char **argv = xcalloc(j->nargs + 4, sizeof *argv);
	argv[0] = "fleetdeck";
	argv[1] = "--db";
	argv[2] = w->db_path;
	for (size_t i = 0; i < j->nargs; i++)
		argv[3 + i] = j->args[i];
	pid_t pid = fork();
	if (pid < 0) {
		res->output = xasprintf("fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		free(argv);
		return;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		if (in < 0)
			_exit(126);
		dup2(in, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		/* the console's signal handlers and mask must not follow the child */
		sigset_t none;
		sigemptyset(&none);
		pthread_sigmask(SIG_SETMASK, &none, NULL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		execv(w->exe, argv);
		free(argv);
		_exit(127);
	}
	free(argv);
	close(pfd[1]);
	size_t cap = j->cap ? j->cap : OUTPUT_CAP;
	char *out = xmalloc(cap + 1);
	size_t len = 0;
	int64_t deadline = mono_ms() + COMMAND_TIMEOUT_MS;
	bool killed = false;
	for (;;) {
		int64_t left = deadline - mono_ms();
		if (left <= 0) {
			kill(pid, SIGKILL);
			killed = true;
			break;
		}
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int pr = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
		if (pr < 0 && errno != EINTR)
			break;
		if (pr <= 0)
			continue;
		char buf[1024];
		ssize_t r = read(pfd[0], buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		size_t take = (size_t)r < cap - len ? (size_t)r : cap - len;
		memcpy(out + len, buf, take);
		len += take;
	}
	close(pfd[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
		len--;
	out[len] = '\0';
	clean_output(out);
	res->output = out;
	if (!killed && WIFEXITED(status))
		res->exit_code = WEXITSTATUS(status) == 127 ? -1 : WEXITSTATUS(status);
	if (killed) {
		free(res->output);
		res->output = xasprintf("no answer within %d s: stopped", COMMAND_TIMEOUT_MS / 1000);
	}
}

static void job_clear(struct job *j)
{
	free(j->label);
	for (size_t i = 0; i < j->nargs; i++)
		free(j->args[i]);
	free(j->args);
	memset(j, 0, sizeof *j);
}

static int enqueue(rollwatch *w, const char *label, const char *const *args, size_t nargs, size_t cap);
static int enqueue_locked(rollwatch *w, const char *label, const char *const *args, size_t nargs, size_t cap);

/* Active rollouts whose runner is gone (its lease expired): a runner is started
 * for each, as `fleetdeck rollout resume` does. Called with the lock held. */
static void adopt_orphans(rollwatch *w, const rw_snapshot *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const rw_rollout *r = &s->r[i];
		if (!r->active || r->runner_alive)
			continue;
		char id[32];
		snprintf(id, sizeof id, "%lld", (long long)r->id);
		const char *const args[] = { "rollout", "resume", id, "--reason",
					     "its runner was gone: resumed by the console at its start" };
		char *label = xasprintf("rollout #%lld had no runner: resume", (long long)r->id);
		enqueue_locked(w, label, args, 5, 0);
		free(label);
	}
}

/* ---- the thread ---- */

static void *thread_main(void *arg)
{
	rollwatch *w = arg;
	pthread_mutex_lock(&w->lock);
	int64_t next_read = 0;
	while (!w->stop) {
		if (w->qcount) {
			struct job j = w->queue[w->qhead];
			memset(&w->queue[w->qhead], 0, sizeof j);
			w->qhead = (w->qhead + 1) % QUEUE_MAX;
			w->qcount--;
			w->running_job = true;
			pthread_mutex_unlock(&w->lock);
			rw_result res = { 0 };
			run_job(w, &j, &res);
			job_clear(&j);
			pthread_mutex_lock(&w->lock);
			w->running_job = false;
			if (w->rcount == QUEUE_MAX) { /* nobody reads them: the oldest goes */
				rw_result_clear(&w->results[w->rhead]);
				w->rhead = (w->rhead + 1) % QUEUE_MAX;
				w->rcount--;
			}
			w->results[(w->rhead + w->rcount) % QUEUE_MAX] = res;
			w->rcount++;
			w->read_now = true; /* what the command changed shows at once */
			pthread_mutex_unlock(&w->lock);
			if (w->wake)
				w->wake(w->ctx);
			pthread_mutex_lock(&w->lock);
			continue;
		}
		int64_t now = mono_ms();
		if (w->read_now || now >= next_read) {
			w->read_now = false;
			int64_t show = w->show;
			pthread_mutex_unlock(&w->lock);
			rw_snapshot s = { 0 };
			read_all(w, show, &s);
			next_read = mono_ms() + READ_EVERY_MS;
			pthread_mutex_lock(&w->lock);
			if (!w->first_read_done && !s.error) {
				w->first_read_done = true;
				if (w->adopt)
					adopt_orphans(w, &s);
			}
			bool changed = !same_snap(&s, &w->snap);
			if (changed) {
				s.gen = w->snap.gen + 1;
				snap_clear(&w->snap);
				w->snap = s;
			} else {
				snap_clear(&s);
			}
			pthread_mutex_unlock(&w->lock);
			if (changed && w->wake)
				w->wake(w->ctx);
			pthread_mutex_lock(&w->lock);
			continue;
		}
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		int64_t wait = next_read - now;
		until.tv_sec += wait / 1000;
		until.tv_nsec += (wait % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &until);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

rollwatch *rollwatch_new(const char *db_path, const char *exe, void (*wake)(void *ctx), void *ctx)
{
	rollwatch *w = xcalloc(1, sizeof *w);
	w->db_path = xstrdup(db_path);
	if (exe) {
		w->exe = xstrdup(exe);
	} else {
		char buf[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
		buf[n > 0 ? n : 0] = '\0';
		w->exe = xstrdup(n > 0 ? buf : "fleetdeck");
	}
	w->wake = wake;
	w->ctx = ctx;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	return w;
}

int rollwatch_start(rollwatch *w, char **err)
{
	if (w->started)
		return 0;
	int rc = pthread_create(&w->thread, NULL, thread_main, w);
	if (rc) {
		*err = xasprintf("cannot start the rollouts thread: %s", strerror(rc));
		return -1;
	}
	w->started = true;
	return 0;
}

void rollwatch_free(rollwatch *w)
{
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	for (size_t i = 0; i < w->qcount; i++)
		job_clear(&w->queue[(w->qhead + i) % QUEUE_MAX]);
	for (size_t i = 0; i < w->rcount; i++)
		rw_result_clear(&w->results[(w->rhead + i) % QUEUE_MAX]);
	snap_clear(&w->snap);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w->db_path);
	free(w->exe);
	free(w);
}

rw_snapshot *rollwatch_snapshot(rollwatch *w)
{
	rw_snapshot *s = xmalloc(sizeof *s);
	pthread_mutex_lock(&w->lock);
	snap_copy(s, &w->snap);
	pthread_mutex_unlock(&w->lock);
	return s;
}

void rollwatch_show(rollwatch *w, int64_t id)
{
	pthread_mutex_lock(&w->lock);
	if (w->show != id) {
		w->show = id;
		w->read_now = true;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
}

void rollwatch_refresh(rollwatch *w)
{
	pthread_mutex_lock(&w->lock);
	w->read_now = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int rollwatch_command(rollwatch *w, const char *label, const char *const *args, size_t nargs)
{
	return enqueue(w, label, args, nargs, 0);
}

int rollwatch_query(rollwatch *w, const char *label, const char *const *args, size_t nargs)
{
	return enqueue(w, label, args, nargs, QUERY_CAP);
}

static int enqueue(rollwatch *w, const char *label, const char *const *args, size_t nargs, size_t cap)
{
	pthread_mutex_lock(&w->lock);
	int rc = enqueue_locked(w, label, args, nargs, cap);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return rc;
}

static int enqueue_locked(rollwatch *w, const char *label, const char *const *args, size_t nargs, size_t cap)
{
	if (nargs > ARGS_MAX || w->qcount == QUEUE_MAX)
		return -1;
	struct job *j = &w->queue[(w->qhead + w->qcount) % QUEUE_MAX];
	j->cap = cap;
	j->label = xstrdup(label);
	j->args = xcalloc(nargs + 1, sizeof *j->args);
	j->nargs = nargs;
	for (size_t i = 0; i < nargs; i++)
		j->args[i] = xstrdup(args[i]);
	w->qcount++;
	return 0;
}

void rollwatch_adopt_orphans(rollwatch *w, bool on)
{
	pthread_mutex_lock(&w->lock);
	w->adopt = on;
	pthread_mutex_unlock(&w->lock);
}

bool rollwatch_result(rollwatch *w, rw_result *out)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&w->lock);
	bool have = w->rcount > 0;
	if (have) {
		*out = w->results[w->rhead];
		memset(&w->results[w->rhead], 0, sizeof *out);
		w->rhead = (w->rhead + 1) % QUEUE_MAX;
		w->rcount--;
	}
	pthread_mutex_unlock(&w->lock);
	return have;
}

void rw_result_clear(rw_result *r)
{
	free(r->label);
	free(r->output);
	memset(r, 0, sizeof *r);
}

bool rollwatch_busy(rollwatch *w)
{
	pthread_mutex_lock(&w->lock);
	bool b = w->qcount > 0 || w->running_job;
	pthread_mutex_unlock(&w->lock);
	return b;
}

char *rw_rollout_summary(const rw_rollout *r)
{
	char eta[32] = "";
	if (r->eta_s >= 0) {
		long s = (long)(r->eta_s + 0.5);
		if (s >= 3600)
			snprintf(eta, sizeof eta, ", ETA %ldh%02ldm", s / 3600, s / 60 % 60);
		else
			snprintf(eta, sizeof eta, ", ETA %ldm%02lds", s / 60, s % 60);
	}
	char batch[48] = "";
	if (r->nbatches > 0 && !roll_state_in(r->state, roll_states_final))
		snprintf(batch, sizeof batch, ", batch %d/%d",
			 r->current_batch + 1 > r->nbatches ? r->nbatches : r->current_batch + 1, r->nbatches);
	char fails[64] = "";
	if (r->all.failed || r->all.unreachable)
		snprintf(fails, sizeof fails, ", %zu failed, %zu unreachable", r->all.failed, r->all.unreachable);
	return xasprintf("rollout #%lld %s %s %s%s, %zu/%zu updated%s%s%s", (long long)r->id, r->model, r->version,
			 r->state, batch, r->all.ok, r->all.total, fails, eta,
			 r->active && !r->runner_alive ? " (no runner)" : "");
}
