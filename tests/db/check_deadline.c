/* check_deadline.c - a server that answers but is stuck: every loader
 * query runs under a deadline, the loader serves the fallback when it
 * passes, and its watcher picks the database up again once the stall
 * ends.  Stalls are real: another session holds ACCESS EXCLUSIVE on a
 * table the loader reads (idle in its transaction, or asleep in
 * pg_sleep). */
#define _GNU_SOURCE
#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

#define DEADLINE_MS 500
/* deadline + the cancel's round trip + a loaded 2-core machine */
#define MARGIN_S 2.5

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* on_change: counts swaps; a test waits on the count. */
typedef struct swaps {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n;
} swaps;

static void on_swap(void *payload, const char *name, const char *version)
{
	swaps *w = payload;
	(void)name;
	(void)version;
	pthread_mutex_lock(&w->mu);
	w->n++;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Wait until more than @p seen swaps happened (at most @p secs). */
static bool wait_swap(swaps *w, int seen, int secs)
{
	struct timespec until;
	bool ok;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += secs;
	pthread_mutex_lock(&w->mu);
	while (w->n <= seen &&
	       pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0)
		;
	ok = w->n > seen;
	pthread_mutex_unlock(&w->mu);
	return ok;
}

/* Push @p n seeded bytes as the production @p version, in chunks of
 * 1 KiB (so the bytes come from model_artifact_chunks), and export the
 * fallback copy into @p dir. */
static void push_and_export(const char *url, const char *version, size_t n,
                            const char *dir)
{
	ms_store_options so;
	ms_push_options po;
	ms_store *s = NULL;
	unsigned char *data = malloc(n);
	ms_artifact_source src = { NULL, NULL, data, n };
	ms_status st;

	ms_store_options_init(&so, MS_STORE_OPTIONS_VERSION);
	so.chunk_size = 1024;
	ck_assert_int_eq(ms_store_open(&s, url, &so), MS_OK);
	mt_fill_random(data, n, 7);
	ms_push_options_init(&po, MS_PUSH_OPTIONS_VERSION);
	po.model_version = version;
	po.production = 1;
	st = ms_store_push(NULL, s, &po, &src, 1);
	ck_assert_msg(st == MS_OK, "push: %s", ms_store_errmsg(s));
	st = ms_store_export(NULL, s, NULL, "production", dir, NULL, NULL);
	ck_assert_msg(st == MS_OK, "export: %s", ms_store_errmsg(s));
	ms_store_close(s);
	free(data);
}

static ms_loader *open_loader(const char *url, const char *dir,
                              ms_watch_mode watch, swaps *w)
{
	ms_loader_options o;
	ms_loader *l = NULL;
	ms_loader_options_init(&o, MS_LOADER_OPTIONS_VERSION);
	o.fallback_dir = dir;
	o.watch = watch;
	o.poll_interval_ms = 100;
	o.query_timeout_ms = DEADLINE_MS;
	o.on_change = on_swap;
	o.change_payload = w;
	ck_assert_int_eq(ms_loader_open(&l, url, &o), MS_OK);
	return l;
}

/* A session holding ACCESS EXCLUSIVE on @p table; with @p sleeping, it
 * sits in pg_sleep (the statement is still running), else idle in its
 * transaction.  Returns once the lock is granted (seen in pg_locks). */
static PGconn *hold_lock(const char *url, const char *table, bool sleeping)
{
	PGconn *c = PQconnectdb(url);
	char sql[256], probe[256];
	char *granted = NULL;
	double t0 = now_s();

	ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
	snprintf(sql, sizeof sql, "BEGIN; LOCK TABLE %s IN ACCESS EXCLUSIVE "
	         "MODE;%s", table, sleeping ? " SELECT pg_sleep(600);" : "");
	ck_assert_int_eq(PQsendQuery(c, sql), 1);
	snprintf(probe, sizeof probe, "SELECT count(*) FROM pg_locks WHERE "
	         "relation = '%s'::regclass AND mode = 'AccessExclusiveLock' "
	         "AND granted", table);
	while (now_s() - t0 < 30) {
		free(granted);
		granted = mt_sql(url, probe);
		if (granted && strcmp(granted, "1") == 0)
			break;
	}
	ck_assert_msg(granted && strcmp(granted, "1") == 0, "lock not taken");
	free(granted);
	if (!sleeping) {
		PGresult *r;
		while ((r = PQgetResult(c)) != NULL)
			PQclear(r);
	}
	return c;
}

/* End the holder's transaction: COMMIT when idle in it, cancel the
 * pg_sleep otherwise (the transaction aborts and the lock goes). */
static void release_lock(PGconn *c, bool sleeping)
{
	PGresult *r;
	if (sleeping) {
		char buf[256];
		PGcancel *cc = PQgetCancel(c);
		ck_assert_int_eq(PQcancel(cc, buf, sizeof buf), 1);
		PQfreeCancel(cc);
		while ((r = PQgetResult(c)) != NULL)
			PQclear(r);
	} else {
		r = PQexec(c, "COMMIT");
		ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
		PQclear(r);
	}
	PQfinish(c);
}

/* The loader serves the fallback within the deadline while @p table is
 * locked, then the watcher swaps the database's copy in once the lock
 * goes. */
static void stall_then_recover(const char *db, const char *table,
                               bool sleeping, ms_watch_mode watch)
{
	char *url = mt_migrated_db(db);
	char *dir = mt_tmpdir();
	swaps w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
	ms_loader_stats stats = MS_LOADER_STATS_INIT;
	ms_loader *l;
	ms_model *m = NULL;
	PGconn *holder;
	double t0, took;

	push_and_export(url, "v1", 20000, dir);
	l = open_loader(url, dir, watch, &w);
	holder = hold_lock(url, table, sleeping);

	t0 = now_s();
	ck_assert_int_eq(ms_loader_get(&m, l, NULL, "production"), MS_OK);
	took = now_s() - t0;
	ck_assert_int_eq(ms_model_source(m), MS_SOURCE_FALLBACK);
	ck_assert_str_eq(ms_model_version(m), "v1");
	ck_assert_int_eq(ms_model_verified(m), 1);
	ck_assert_msg(took >= DEADLINE_MS / 1000.0 - 0.05 && took < MARGIN_S,
	              "fallback after %.2f s, deadline %d ms", took, DEADLINE_MS);
	ms_model_release(m);
	ck_assert_int_eq(ms_loader_stats_get(&stats, l), MS_OK);
	ck_assert_uint_eq(stats.outages, 1);

	/* while the stall lasts, the watcher's retries fail and nothing
	 * is swapped in; once it ends the database's copy comes back */
	release_lock(holder, sleeping);
	ck_assert_msg(wait_swap(&w, 0, 30), "the watcher never swapped the "
	              "database's copy back in");
	m = NULL;
	ck_assert_int_eq(ms_loader_get(&m, l, NULL, "production"), MS_OK);
	ck_assert_int_eq(ms_model_source(m), MS_SOURCE_CACHE);
	ck_assert_str_eq(ms_model_version(m), "v1");
	ms_model_release(m);
	ms_loader_close(l);
	mt_rmtree(dir);
	free(dir);
	free(url);
}

START_TEST(held_lock_serves_fallback_then_recovers_poll)
{
	/* the case: LOCK TABLE model_artifacts held by a session
	 * idle in its transaction (a stuck migration) */
	stall_then_recover("dl_lock_poll", "model_artifacts", false,
	                   MS_WATCH_POLL);
}
END_TEST

START_TEST(held_lock_serves_fallback_then_recovers_notify)
{
	/* with LISTEN the watcher's own connection looks healthy: it must
	 * still retry on behalf of the caller that timed out */
	stall_then_recover("dl_lock_notify", "model_artifacts", false,
	                   MS_WATCH_NOTIFY);
}
END_TEST

START_TEST(pg_sleep_stall_mid_fetch_serves_fallback)
{
	/* resolve answers, the chunks are locked by a session asleep in
	 * pg_sleep: the deadline covers each row of the streamed fetch */
	stall_then_recover("dl_sleep", "model_artifact_chunks", true,
	                   MS_WATCH_NOTIFY);
}
END_TEST

START_TEST(store_statement_times_out)
{
	/* a store with a deadline: the statement is canceled, the status
	 * says so, the connection stays usable */
	char *url = mt_migrated_db("dl_store");
	ms_store_options so;
	ms_store *s = NULL;
	ms_artifact_list *list = NULL;
	PGconn *holder;
	double t0;

	ms_store_options_init(&so, MS_STORE_OPTIONS_VERSION);
	so.query_timeout_ms = DEADLINE_MS;
	ck_assert_int_eq(ms_store_open(&s, url, &so), MS_OK);
	holder = hold_lock(url, "model_artifacts", true);
	t0 = now_s();
	ck_assert_int_eq(ms_store_list(&list, s, NULL, 10), MS_ETIMEDOUT);
	ck_assert_double_lt(now_s() - t0, MARGIN_S);
	ck_assert_str_eq(ms_store_sqlstate(s), "57014");
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "did not answer "
	                             "within 500 ms"));
	release_lock(holder, true);
	ck_assert_int_eq(ms_store_list(&list, s, NULL, 10), MS_OK);
	ms_artifact_list_free(list);
	ms_store_close(s);
	free(url);
}
END_TEST

START_TEST(cli_timeout_option)
{
	/* `modelstore --timeout 0.5 load` serves the fallback at once;
	 * `--timeout` refuses nonsense with the usage exit code */
	char *url = mt_migrated_db("dl_cli");
	char *dir = mt_tmpdir();
	char *out = NULL, *err = NULL;
	PGconn *holder;
	double t0;
	int rc;

	push_and_export(url, "v1", 5000, dir);
	holder = hold_lock(url, "model_artifacts", false);
	{
		const char *argv[] = { mt_cli(), "--db", url, "--fallback-dir",
		                       dir, "--timeout", "0.5", "load", NULL };
		t0 = now_s();
		rc = mt_run(argv, NULL, NULL, 0, &out, &err);
	}
	ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
	ck_assert_double_lt(now_s() - t0, MARGIN_S + 1);
	ck_assert_ptr_nonnull(strstr(out, "from fallback"));
	ck_assert_ptr_nonnull(strstr(err, "did not answer within 500 ms"));
	free(out);
	free(err);
	{
		const char *argv[] = { mt_cli(), "--db", url, "--timeout", "0.5",
		                       "list", NULL };
		rc = mt_run(argv, NULL, NULL, 0, &out, &err);
	}
	ck_assert_msg(rc == 4, "list under a lock: rc %d: %s", rc, err);
	free(out);
	free(err);
	release_lock(holder, false);
	{
		const char *argv[] = { mt_cli(), "--db", url, "--timeout", "soon",
		                       "list", NULL };
		rc = mt_run(argv, NULL, NULL, 0, &out, &err);
	}
	ck_assert_int_eq(rc, 2);
	ck_assert_ptr_nonnull(strstr(err, "invalid --timeout value"));
	free(out);
	free(err);
	mt_rmtree(dir);
	free(dir);
	free(url);
}
END_TEST

START_TEST(options_version_1_still_accepted)
{
	/* a program built against the version 1 header: its struct is
	 * shorter, and the library reads none of the new fields */
	ms_store_options so;
	ms_loader_options lo;
	ms_loader *l = NULL;
	memset(&so, 0xee, sizeof so);
	ck_assert_int_eq(ms_store_options_init(&so, 1), MS_OK);
	ck_assert_int_eq(so.version, 1);
	ck_assert_int_eq(so.query_timeout_ms, (int)0xeeeeeeee);
	memset(&lo, 0xee, sizeof lo);
	ck_assert_int_eq(ms_loader_options_init(&lo, 1), MS_OK);
	ck_assert_int_eq(lo.idle_disconnect_ms, (int)0xeeeeeeee);
	lo.fallback_dir = "/nonexistent";
	ck_assert_int_eq(ms_loader_open(&l, "postgresql://x@127.0.0.1:1/x",
	                                &lo), MS_OK);
	ms_loader_close(l);
	ck_assert_int_eq(ms_loader_options_init(&lo, 3), MS_EINVAL);
}
END_TEST

Suite *db_deadline_suite(void)
{
	Suite *s = suite_create("db_deadline");
	TCase *tc = tcase_create("deadline");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, held_lock_serves_fallback_then_recovers_poll);
	tcase_add_test(tc, held_lock_serves_fallback_then_recovers_notify);
	tcase_add_test(tc, pg_sleep_stall_mid_fetch_serves_fallback);
	tcase_add_test(tc, store_statement_times_out);
	tcase_add_test(tc, cli_timeout_option);
	tcase_add_test(tc, options_version_1_still_accepted);
	suite_add_tcase(s, tc);
	return s;
}
