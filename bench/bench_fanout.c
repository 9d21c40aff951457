/* bench_fanout.c - many loader processes on one server: connections they
 * hold, queries per second they cost while idle, and the time from a
 * promotion's commit to each loader's swap (median, max).
 *
 *   bench_fanout [--loaders N] [--mode notify|poll] [--poll-ms MS]
 *                [--idle-ms MS] [--url URL] [--admin URL]
 *
 * --url is what the loaders connect to (say, PgBouncer); --admin the
 * server itself (for pg_stat_activity and the promotion); both default to
 * $DATABASE_URL.  Each loader is a process (fork) with its own watcher. */
#define _GNU_SOURCE
#include <getopt.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "modelstore.h"

static int swap_fd = -1;

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_swap(void *payload, const char *name, const char *version)
{
	uint64_t t = wall_ns();
	(void)payload;
	(void)name;
	if (strcmp(version, "fan2") == 0)
		(void)!write(swap_fd, &t, sizeof t);
}

static void child(const char *url, ms_watch_mode mode, unsigned poll_ms,
                  int idle_ms, int ready_fd)
{
	ms_loader_options o;
	ms_loader *l = NULL;
	ms_model *m = NULL;
	char ok = 'F';
	ms_loader_options_init(&o, MS_LOADER_OPTIONS_VERSION);
	o.fallback_dir = "/nonexistent";
	o.watch = mode;
	o.poll_interval_ms = poll_ms;
	o.idle_disconnect_ms = idle_ms;
	o.on_change = on_swap;
	if (ms_loader_open(&l, url, &o) == MS_OK &&
	    ms_loader_get(&m, l, "fanout", NULL) == MS_OK)
		ok = 'R';
	ms_model_release(m);
	(void)!write(ready_fd, &ok, 1);
	for (;;)
		pause();
}

static char *q1(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	char *v = strdup(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r)
	                 ? PQgetvalue(r, 0, 0) : "?");
	PQclear(r);
	return v;
}

static long qlong(PGconn *c, const char *sql)
{
	char *v = q1(c, sql);
	long n = atol(v);
	free(v);
	return n;
}

static void push(const char *url, const char *version, int prod)
{
	ms_store *s = NULL;
	ms_push_options po;
	unsigned char data[4096] = { 1, 2, 3 };
	ms_artifact_source src = { NULL, NULL, data, sizeof data };
	ms_push_options_init(&po, MS_PUSH_OPTIONS_VERSION);
	po.model_name = "fanout";
	po.model_version = version;
	po.production = prod;
	if (ms_store_open(&s, url, NULL) != MS_OK ||
	    ms_store_push(NULL, s, &po, &src, 1) != MS_OK) {
		fprintf(stderr, "push: %s\n", ms_store_errmsg(s));
		exit(1);
	}
	ms_store_close(s);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "loaders", required_argument, NULL, 'n' },
		{ "mode", required_argument, NULL, 'm' },
		{ "poll-ms", required_argument, NULL, 'p' },
		{ "idle-ms", required_argument, NULL, 'i' },
		{ "url", required_argument, NULL, 'u' },
		{ "admin", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 }
	};
	const char *url = getenv("DATABASE_URL"), *admin = NULL;
	int n = 200, idle_ms = 1000, opt, ready = 0, failed = 0, got = 0;
	unsigned poll_ms = 1000;
	ms_watch_mode mode = MS_WATCH_NOTIFY;
	int rp[2], sp[2];
	pid_t *kids;
	PGconn *ac;
	long x0, x1, conns;
	double *lat, t_idle;
	uint64_t t0;
	ms_store *s = NULL;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'n': n = atoi(optarg); break;
		case 'm': mode = strcmp(optarg, "poll") == 0 ? MS_WATCH_POLL
		                                             : MS_WATCH_NOTIFY; break;
		case 'p': poll_ms = (unsigned)atoi(optarg); break;
		case 'i': idle_ms = atoi(optarg); break;
		case 'u': url = optarg; break;
		case 'a': admin = optarg; break;
		default: return 2;
		}
	}
	if (admin == NULL)
		admin = url;
	if (url == NULL || n < 1) {
		fprintf(stderr, "bench_fanout: set DATABASE_URL or --url\n");
		return 2;
	}
	ms_set_log_fn(NULL, NULL);
	{
		ms_store *m = NULL;
		ms_store_options so;
		int applied;
		ms_store_options_init(&so, MS_STORE_OPTIONS_VERSION);
		so.check_schema = 0;
		if (ms_store_open(&m, admin, &so) == MS_OK)
			ms_store_migrate(&applied, m);
		ms_store_close(m);
	}
	push(admin, "fan1", 1);
	push(admin, "fan2", 0);
	if (pipe(rp) != 0 || pipe(sp) != 0)
		return 1;
	swap_fd = sp[1];
	kids = calloc((size_t)n, sizeof *kids);
	lat = calloc((size_t)n, sizeof *lat);
	for (int i = 0; i < n; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			close(rp[0]);
			close(sp[0]);
			child(url, mode, poll_ms, idle_ms, rp[1]);
		}
	}
	close(rp[1]);
	close(sp[1]);
	while (ready + failed < n) {
		char c;
		if (read(rp[0], &c, 1) != 1)
			break;
		if (c == 'R')
			ready++;
		else
			failed++;
	}
	/* idle: past idle_ms, the callers' connections are closed */
	usleep((useconds_t)(idle_ms > 0 ? idle_ms + 1500 : 1500) * 1000u);
	ac = PQconnectdb(admin);
	PQclear(PQexec(ac, "SET application_name = 'ms_bench'"));
	conns = qlong(ac, "SELECT count(*) FROM pg_stat_activity WHERE "
	              "backend_type = 'client backend' AND pid <> "
	              "pg_backend_pid() AND datname = current_database()");
	x0 = qlong(ac, "SELECT xact_commit + xact_rollback FROM "
	           "pg_stat_database WHERE datname = current_database()");
	t_idle = now_s();
	sleep(5);
	PQclear(PQexec(ac, "SELECT pg_stat_clear_snapshot()"));
	x1 = qlong(ac, "SELECT xact_commit + xact_rollback FROM "
	           "pg_stat_database WHERE datname = current_database()");
	t_idle = now_s() - t_idle;

	if (ms_store_open(&s, admin, NULL) != MS_OK)
		return 1;
	t0 = wall_ns();
	if (ms_store_promote(s, "fanout", "fan2", "bench") != MS_OK) {
		fprintf(stderr, "promote: %s\n", ms_store_errmsg(s));
		return 1;
	}
	ms_store_close(s);
	while (got < ready) {
		struct pollfd pf = { sp[0], POLLIN, 0 };
		uint64_t t;
		if (poll(&pf, 1, 30000) <= 0 || read(sp[0], &t, sizeof t) != sizeof t)
			break;
		lat[got++] = (double)(t - t0) / 1e6;
	}
	qsort(lat, (size_t)got, sizeof *lat, cmp_d);
	printf("fanout: %d loaders (%s, via %s), %d failed to load\n", n,
	       mode == MS_WATCH_POLL ? "poll" : "notify",
	       url == admin ? "the server" : "--url", failed);
	printf("  server connections held while idle: %ld (%.2f per loader)\n",
	       conns, (double)conns / n);
	printf("  server transactions/s while idle: %.1f (poll every %u ms)\n",
	       (double)(x1 - x0 - 3) / t_idle, poll_ms);
	printf("  promotion -> swap: %d of %d swapped; median %.1f ms, "
	       "max %.1f ms\n", got, ready, got ? lat[got / 2] : 0.0,
	       got ? lat[got - 1] : 0.0);
	for (int i = 0; i < n; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		if (kids[i] > 0)
			waitpid(kids[i], NULL, 0);
	PQfinish(ac);
	free(kids);
	free(lat);
	return 0;
}
