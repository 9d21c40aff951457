/* check_crashloop.c - the prediction logger's exactly-once promise under
 * a few hundred random crashes: SIGKILL of a logging process, immediate
 * stop of the server (`pg_harness.sh kill`, then `restart`), or both,
 * landing in logging, in spool replay and in `modelstore predictions
 * import`.  Afterwards: 0 acknowledged rows lost, 0 rows twice.
 *
 * "Acknowledged" (what the promise covers):
 *  - a row a logging child passed to ms_predlog_log (MS_OK) before a
 *    ms_predlog_flush that returned MS_OK; the child reports the count of
 *    such rows on a pipe after each flush, and every report the parent
 *    can read after the kill counts (the child wrote it after the flush
 *    returned: the rows were committed, or appended to the spool and
 *    fsync'd);
 *  - every line of an import that the CLI finished with exit 0 (in the
 *    table) or 4 (kept in the spool, replayed later).
 * Rows logged after a child's last flush, and lines of a killed import,
 * are not acknowledged: each may be present or not, but never twice.
 *
 * Each logical row carries a unique predicted_value (its global number),
 * so "twice" is checked both by prediction_id and by row.
 *
 * MS_CRASH_SEED picks the seed (default fixed, printed); MS_CRASH_POINTS
 * the number of crash points (default 200; 20 in sanitizer builds).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

extern char **environ;

#define STRIDE 100000L  /* row numbers of crash point p: p * STRIDE + i */
#define ROWS 300        /* rows per flush in a logging child */
#define MAX_FLUSHES 8

static const char *FEAT = "{\"age\": 42, \"city\": \"Z\\u00fcrich\", "
                          "\"tags\": [\"a\", \"b\"], \"score\": -0.125}";

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static unsigned rnd_below(unsigned n) { return n ? (unsigned)(rnd() % n) : 0; }

/* A random crash instant: up to @max_us microseconds from now.  This
 * picks where the kill lands; it is not a synchronisation (the parent
 * has already waited for the state it wants, e.g. an acknowledgement). */
static void crash_jitter(unsigned max_us)
{
	unsigned us = rnd_below(max_us + 1);
	struct timespec ts = { 0, (long)us * 1000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

typedef enum kind {
	K_KILL_LOGGING,   /* SIGKILL of a logging child */
	K_SERVER_AND_KILL,/* server stopped while logging, then SIGKILL */
	K_KILL_REPLAY,    /* SIGKILL right after open: the spool replay */
	K_KILL_IMPORT,    /* SIGKILL of `predictions import` */
	K_SERVER_IMPORT,  /* server stopped during an import, import killed */
	K_NKINDS
} kind;

static const char *const kind_name[K_NKINDS] = {
	"SIGKILL while logging", "server stop + SIGKILL while logging",
	"SIGKILL during spool replay", "SIGKILL of import",
	"server stop + SIGKILL of import",
};

/* ---- logging child ---- */

static void child_log(const char *url, const char *sp, long base, int fd)
{
	ms_predlog_options o;
	ms_predlog *pl = NULL;
	char id[MS_UUID_STRLEN];
	long opened = -1;
	ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
	o.spool_dir = sp;
	o.flush_interval_ms = 20;
	if (ms_predlog_open(&pl, url, &o) != MS_OK)
		_exit(2);
	if (write(fd, &opened, sizeof opened) != sizeof opened)
		_exit(5);
	for (long b = 0; b < MAX_FLUSHES; b++) {
		for (long i = 0; i < ROWS; i++) {
			ms_prediction p = { NULL, "crash", FEAT,
			                    (double)(base + b * ROWS + i), 0.5, NAN };
			if (ms_predlog_log(id, pl, &p) != MS_OK)
				_exit(3);
		}
		if (ms_predlog_flush(pl, 60000) != MS_OK)
			_exit(4);
		long acked = (b + 1) * ROWS;
		if (write(fd, &acked, sizeof acked) != sizeof acked)
			_exit(5);
	}
	/* go on logging rows that are never flushed (not acknowledged) until
	 * the parent's SIGKILL, so that every run is a crash */
	for (long i = MAX_FLUSHES * ROWS; i < (MAX_FLUSHES + 10) * ROWS; i++) {
		ms_prediction p = { NULL, "crash", FEAT, (double)(base + i), 0.5,
		                    NAN };
		if (ms_predlog_log(id, pl, &p) != MS_OK)
			_exit(3);
	}
	for (;;)
		pause();
}

/* Read the child's reports until @want acknowledgements (or EOF); the
 * highest count read goes to *acked.  false at EOF. */
static bool read_acks(int fd, long want_rows, long *acked)
{
	long v;
	while (*acked < want_rows) {
		ssize_t r = read(fd, &v, sizeof v);
		if (r != sizeof v)
			return false;
		if (v > *acked)
			*acked = v;
	}
	return true;
}

static void drain_acks(int fd, long *acked)
{
	long v;
	while (read(fd, &v, sizeof v) == sizeof v)
		if (v > *acked)
			*acked = v;
}

static void expect_killed_or_clean(int status, const char *what)
{
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	              "%s: child ended with %s %d", what,
	              WIFEXITED(status) ? "exit" : "signal",
	              WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

/* One crash point in a logging child; returns the rows acknowledged. */
static long crash_logging(const char *url, const char *sp, long base, kind k,
                          bool *crashed)
{
	int fd[2], status;
	long acked = 0, opened = 0;
	pid_t pid;
	bool server_down = false;
	ck_assert_int_eq(pipe(fd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fd[0]);
		child_log(url, sp, base, fd[1]);
	}
	close(fd[1]);
	/* the child has opened its logger (the writer is replaying) */
	ck_assert_int_eq(read(fd[0], &opened, sizeof opened), sizeof opened);
	if (k == K_KILL_REPLAY) {
		crash_jitter(30000);
	} else {
		/* a server stop leaves room for one flush through the spool
		 * and more rows after it */
		unsigned room = k == K_SERVER_AND_KILL ? MAX_FLUSHES - 2 : MAX_FLUSHES;
		long want = (long)rnd_below(room) * ROWS;
		if (read_acks(fd[0], want, &acked)) {
			if (k == K_SERVER_AND_KILL) {
				ck_assert_int_eq(mt_harness("kill"), 0);
				server_down = true;
				/* one more flush with the server gone: spooled */
				(void)read_acks(fd[0], acked + ROWS, &acked);
			}
			crash_jitter(20000);
		}
	}
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	drain_acks(fd[0], &acked);
	close(fd[0]);
	expect_killed_or_clean(status, kind_name[k]);
	*crashed = WIFSIGNALED(status);
	if (server_down)
		ck_assert_int_eq(mt_harness("restart"), 0);
	return acked;
}

/* ---- import ---- */

static pid_t spawn_import(const char *url, const char *sp, int *in_fd)
{
	int p[2], devnull;
	pid_t pid;
	posix_spawn_file_actions_t fa;
	const char *argv[] = { mt_cli(), "--db", url, "-q", "predictions",
	                       "import", "--spool-dir", sp, NULL };
	ck_assert_int_eq(pipe(p), 0);
	devnull = open("/dev/null", O_WRONLY);
	ck_assert_int_ge(devnull, 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[0], 0);
	posix_spawn_file_actions_adddup2(&fa, devnull, 1);
	posix_spawn_file_actions_adddup2(&fa, devnull, 2);
	posix_spawn_file_actions_addclose(&fa, p[1]);
	ck_assert_int_eq(posix_spawn(&pid, argv[0], &fa, NULL,
	                             (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(p[0]);
	close(devnull);
	*in_fd = p[1];
	return pid;
}

static bool write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		s += w;
		n -= (size_t)w;
	}
	return true;
}

/* One import of @n lines; killed at a random line unless it is let
 * finish.  Returns the lines acknowledged: those it was sent when it
 * exited 0 or 4 by itself, else 0.  *crashed: it was killed. */
static long crash_import(const char *url, const char *sp, long base, kind k,
                         bool finish, bool *crashed)
{
	long n = 500 + (long)rnd_below(2500);
	long kill_at = finish ? n : (long)rnd_below((unsigned)n + 1), sent = 0;
	int in, status;
	bool server_down = false;
	pid_t pid;
	signal(SIGPIPE, SIG_IGN);
	pid = spawn_import(url, sp, &in);
	for (long i = 0; i < kill_at; i++) {
		char line[512];
		int len = snprintf(line, sizeof line, "{\"model_version\": "
		                   "\"crash\", \"input_features\": %s, "
		                   "\"predicted_value\": %ld, "
		                   "\"confidence_score\": 0.5}\n", FEAT, base + i);
		if (k == K_SERVER_IMPORT && !server_down && i == kill_at / 2) {
			ck_assert_int_eq(mt_harness("kill"), 0);
			server_down = true;
		}
		if (!write_all(in, line, (size_t)len))
			break; /* it died on its own: the status says why */
		sent++;
	}
	if (finish) {
		close(in);
	} else {
		/* kill it with stdin still open: it is mid-import, not done */
		crash_jitter(20000);
		kill(pid, SIGKILL);
		close(in);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (server_down)
		ck_assert_int_eq(mt_harness("restart"), 0);
	*crashed = WIFSIGNALED(status);
	if (WIFEXITED(status)) {
		int rc = WEXITSTATUS(status);
		ck_assert_msg(rc == 0 || rc == 4, "import exited %d", rc);
		return sent;
	}
	ck_assert_msg(WTERMSIG(status) == SIGKILL, "import died of signal %d",
	              WTERMSIG(status));
	return 0;
}

/* ---- the loop ---- */

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);
	return v && *v ? strtol(v, NULL, 0) : dflt;
}

START_TEST(random_crashes_lose_and_duplicate_nothing)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	long npoints = env_long("MS_CRASH_POINTS", 20);
#else
	long npoints = env_long("MS_CRASH_POINTS", 200);
#endif
	uint64_t seed = (uint64_t)env_long("MS_CRASH_SEED", 20261123);
	char *url = mt_migrated_db("crashloop");
	char *tmp = mt_tmpdir(), sp[4096];
	long *acked = calloc((size_t)(2 * npoints), sizeof *acked);
	long per_kind[K_NKINDS] = { 0 }, server_stops = 0, nruns = 0;
	long total_acked = 0, found = 0, lost = 0, dup_rows = 0, dup_ids = 0;
	long replay_with_spool = 0, crashes = 0;
	bool spool_left = false;
	double t0 = mt_now();

	fprintf(stderr, "crash loop: seed %" PRIu64 " (MS_CRASH_SEED), %ld "
	        "crash points\n", seed, npoints);
	rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
	snprintf(sp, sizeof sp, "%s/spool", tmp);
	/* runs until @npoints of them were crashed (an import let finish,
	 * or a child that finished before its kill, is not a crash point) */
	for (long p = 0; crashes < npoints && p < 2 * npoints; p++) {
		unsigned r = rnd_below(100);
		nruns++;
		kind k = r < 50 ? K_KILL_LOGGING : r < 58 ? K_SERVER_AND_KILL :
		         r < 75 ? K_KILL_REPLAY : r < 95 ? K_KILL_IMPORT :
		         K_SERVER_IMPORT;
		/* after a server stop the spool holds rows: crash its replay */
		if (spool_left) {
			k = K_KILL_REPLAY;
			spool_left = false;
		}
		long base = p * STRIDE;
		if (k == K_KILL_REPLAY && mt_spool_files(sp) > 0)
			replay_with_spool++;
		if (getenv("MS_CRASH_DEBUG"))
			fprintf(stderr, "run %ld kind %d spool files %zu\n", p, (int)k,
			        mt_spool_files(sp));
		bool crashed = true;
		if (k == K_KILL_IMPORT || k == K_SERVER_IMPORT) {
			/* one import in four is let finish: acknowledged */
			bool finish = k == K_KILL_IMPORT && rnd_below(4) == 0;
			acked[p] = crash_import(url, sp, base, k, finish, &crashed);
		} else {
			acked[p] = crash_logging(url, sp, base, k, &crashed);
		}
		per_kind[k] += crashed;
		crashes += crashed;
		server_stops += k == K_SERVER_AND_KILL || k == K_SERVER_IMPORT;
		spool_left = k == K_SERVER_AND_KILL || k == K_SERVER_IMPORT;
		total_acked += acked[p];
	}
	/* a clean start replays whatever the last crash left in the spool */
	{
		ms_predlog_options o;
		ms_predlog *pl = NULL;
		ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
		o.spool_dir = sp;
		ck_assert_int_eq(ms_predlog_open(&pl, url, &o), MS_OK);
		ck_assert_int_eq(ms_predlog_flush(pl, 120000), MS_OK);
		ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
		ck_assert_uint_eq(mt_spool_files(sp), 0);
	}
	/* the figures */
	{
		char *v = mt_sql(url, "SELECT count(*) FROM model_predictions");
		found = atol(v);
		free(v);
		v = mt_sql(url, "SELECT count(*) - count(DISTINCT prediction_id) "
		                "FROM model_predictions");
		dup_ids = atol(v);
		free(v);
		v = mt_sql(url, "SELECT coalesce(sum(c - 1), 0) FROM (SELECT "
		                "count(*) c FROM model_predictions GROUP BY "
		                "predicted_value HAVING count(*) > 1) s");
		dup_rows = atol(v);
		free(v);
		/* per crash point: acknowledged rows base .. base+acked-1 */
		v = mt_sql(url, "SELECT coalesce(string_agg(k || ':' || c || ':' "
		                "|| m, ',' ORDER BY k), '') FROM (SELECT "
		                "(predicted_value::bigint / 100000) k, count(*) c, "
		                "max(predicted_value::bigint % 100000) m FROM "
		                "model_predictions GROUP BY 1) s");
		ck_assert_ptr_nonnull(v);
		/* count the acknowledged rows present, point by point */
		long *present = calloc((size_t)nruns, sizeof *present);
		for (char *q = v; *q;) {
			long kk = strtol(q, &q, 10), c, m;
			c = strtol(q + 1, &q, 10);
			m = strtol(q + 1, &q, 10);
			(void)m;
			ck_assert(kk >= 0 && kk < nruns);
			present[kk] = c;
			if (*q == ',')
				q++;
		}
		free(v);
		for (long p = 0; p < nruns; p++) {
			char sql[256];
			long have;
			if (acked[p] == 0)
				continue;
			if (present[p] < acked[p]) {
				lost += acked[p] - present[p];
				continue;
			}
			/* more rows than acknowledged is fine (unacknowledged ones
			 * that made it); check the acknowledged range itself */
			snprintf(sql, sizeof sql, "SELECT count(DISTINCT "
			         "predicted_value) FROM model_predictions WHERE "
			         "predicted_value >= %ld AND predicted_value < %ld",
			         p * STRIDE, p * STRIDE + acked[p]);
			v = mt_sql(url, sql);
			have = atol(v);
			free(v);
			lost += acked[p] - have;
		}
		free(present);
	}
	fprintf(stderr, "crash loop: %ld crash points (of %ld runs) in %.0f s "
	        "(seed %" PRIu64 "):\n", crashes, nruns, mt_now() - t0, seed);
	for (int k = 0; k < K_NKINDS; k++)
		fprintf(stderr, "  %-36s %ld\n", kind_name[k], per_kind[k]);
	fprintf(stderr, "  server stops (-m immediate)          %ld\n"
	        "  replays killed with a spool present  %ld\n"
	        "  runs that ended before the kill      %ld\n"
	        "  rows acknowledged %ld, rows found %ld, lost %ld, "
	        "duplicated %ld (by prediction_id %ld)\n",
	        server_stops, replay_with_spool, nruns - crashes, total_acked,
	        found, lost, dup_rows, dup_ids);
	ck_assert_int_eq(lost, 0);
	ck_assert_int_eq(dup_rows, 0);
	ck_assert_int_eq(dup_ids, 0);
	ck_assert_int_ge(found, total_acked);
	ck_assert_msg(crashes >= npoints, "only %ld crash points in %ld runs",
	              crashes, nruns);
	free(acked);
	mt_rmtree(tmp);
	free(tmp);
	free(url);
}
END_TEST

Suite *db_crashloop_suite(void)
{
	Suite *s = suite_create("db_crashloop");
	TCase *tc = tcase_create("crashloop");
	tcase_set_timeout(tc, 540);
	tcase_add_test(tc, random_crashes_lose_and_duplicate_nothing);
	suite_add_tcase(s, tc);
	return s;
}
