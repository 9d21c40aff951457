/* check_predlog_flow.c - where a full queue sends a row (issue 12): a
 * burst the database can absorb waits for the writer and never touches
 * the spool; a database that has stalled, or is down, gets the spool, and
 * log() waits at most the bounded time once, not once per row. */
#define _GNU_SOURCE
#include <dirent.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

#define DOWN_URL "postgresql://postgres@127.0.0.1:1/x"

static const char *FEAT = "{\"age\": 42, \"plan\": \"premium\", "
                          "\"scores\": [0.25, 0.5, 0.75]}";

static ms_predlog *open_log(const char *url, const char *spool, size_t cap,
                            size_t batch)
{
	ms_predlog_options o;
	ms_predlog *pl = NULL;
	ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
	o.spool_dir = spool;
	o.queue_capacity = cap;
	o.batch_size = batch;
	o.flush_interval_ms = 1000;
	ck_assert_int_eq(ms_predlog_open(&pl, url, &o), MS_OK);
	return pl;
}

static ms_status log_one(ms_predlog *pl, long i)
{
	ms_prediction p = { NULL, "20240101_000000", FEAT, (double)i, 0.5,
	                    NAN };
	return ms_predlog_log(NULL, pl, &p);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long count_sql(const char *url, const char *sql)
{
	char *v = mt_sql(url, sql);
	long n;
	ck_assert_ptr_nonnull(v);
	n = atol(v);
	free(v);
	return n;
}

static size_t spool_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "pl-", 3) == 0)
			n++;
	closedir(d);
	return n;
}

static char *subdir(const char *base, const char *name)
{
	char *s = NULL;
	ck_assert_int_gt(asprintf(&s, "%s/%s", base, name), 0);
	return s;
}

/* 30 000 rows as fast as one thread can log them into a 64-row queue,
 * the database up: far more than the queue holds, but the database
 * absorbs them, so none may go through the disk (before issue 12 most
 * of them did). */
START_TEST(burst_with_database_up_never_spools)
{
	char *url = mt_migrated_db("predlog_flow_burst");
	char *tmp = mt_tmpdir(), *sp = subdir(tmp, "spool");
	ms_predlog *pl = open_log(url, sp, 64, 32);
	ms_predlog_stats st = MS_PREDLOG_STATS_INIT;

	/* connected and delivering before the burst */
	ck_assert_int_eq(log_one(pl, -1), MS_OK);
	ck_assert_int_eq(ms_predlog_flush(pl, 60000), MS_OK);
	for (long i = 0; i < 30000; i++)
		ck_assert_int_eq(log_one(pl, i), MS_OK);
	ck_assert_int_eq(ms_predlog_flush(pl, 120000), MS_OK);
	ms_predlog_stats_get(&st, pl);
	ck_assert_uint_eq(st.accepted, 30001);
	ck_assert_uint_eq(st.spooled, 0);
	ck_assert_uint_eq(st.written, 30001);
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	ck_assert_int_eq(count_sql(url, "SELECT count(DISTINCT predicted_value) "
	                                "FROM model_predictions"), 30001);
	ck_assert_uint_eq(spool_files(sp), 0);
	mt_rmtree(tmp);
	free(sp);
	free(tmp);
	free(url);
}
END_TEST

/* The table locked by another session: the writer's COPY cannot go on,
 * so the database is not keeping up.  The first caller that finds the
 * queue full waits the bounded time (at least 500 ms: it would be
 * worth it if room came), then rows go to the spool without any further
 * wait; once the lock goes, every row is in the table exactly once. */
START_TEST(stalled_database_spills_after_one_bounded_wait)
{
	char *url = mt_migrated_db("predlog_flow_stall");
	char *tmp = mt_tmpdir(), *sp = subdir(tmp, "spool");
	ms_predlog *pl = open_log(url, sp, 64, 32);
	ms_predlog_stats st = MS_PREDLOG_STATS_INIT;
	PGconn *locker = PQconnectdb(url);
	PGresult *r;
	double slowest = 0, t0;
	const long rows = 2000;

	ck_assert_int_eq(PQstatus(locker), CONNECTION_OK);
	ck_assert_int_eq(log_one(pl, -1), MS_OK);
	ck_assert_int_eq(ms_predlog_flush(pl, 60000), MS_OK);
	r = PQexec(locker, "BEGIN; LOCK TABLE model_predictions IN ACCESS "
	                   "EXCLUSIVE MODE");
	ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);

	t0 = now_s();
	for (long i = 0; i < rows; i++) {
		double t = now_s();
		ck_assert_int_eq(log_one(pl, i), MS_OK);
		t = now_s() - t;
		if (t > slowest)
			slowest = t;
	}
	t0 = now_s() - t0;
	ms_predlog_stats_get(&st, pl);
	/* at most the queue and the batch the writer holds stay in memory */
	ck_assert_uint_ge(st.spooled, (uint64_t)(rows - 64 - 32));
	ck_assert_msg(slowest >= 0.45, "no caller waited for room (slowest "
	              "call %.3f s)", slowest);
	/* one bounded wait, not one per row (that would be minutes) */
	ck_assert_msg(t0 < 30, "logging took %.1f s", t0);

	r = PQexec(locker, "ROLLBACK");
	PQclear(r);
	PQfinish(locker);
	ck_assert_int_eq(ms_predlog_flush(pl, 120000), MS_OK);
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	ck_assert_int_eq(count_sql(url, "SELECT count(*) FROM "
	                                "model_predictions"), rows + 1);
	ck_assert_int_eq(count_sql(url, "SELECT count(DISTINCT predicted_value) "
	                                "FROM model_predictions"), rows + 1);
	ck_assert_uint_eq(spool_files(sp), 0);
	mt_rmtree(tmp);
	free(sp);
	free(tmp);
	free(url);
}
END_TEST

/* Database down: the writer is not delivering, so a full queue spills at
 * once - no caller waits for room that cannot come. */
START_TEST(database_down_spills_without_waiting)
{
	char *tmp = mt_tmpdir(), *sp = subdir(tmp, "spool");
	ms_predlog *pl = open_log(DOWN_URL, sp, 4, 4);
	ms_predlog_stats st = MS_PREDLOG_STATS_INIT;
	double slowest = 0;

	for (long i = 0; i < 300; i++) {
		double t = now_s();
		ck_assert_int_eq(log_one(pl, i), MS_OK);
		t = now_s() - t;
		if (t > slowest)
			slowest = t;
	}
	ms_predlog_stats_get(&st, pl);
	ck_assert_uint_ge(st.spooled, 300 - 4 - 4);
	ck_assert_msg(slowest < 0.4, "a call waited %.3f s with the database "
	              "down", slowest);
	ms_predlog_close(pl);
	mt_rmtree(tmp);
	free(sp);
	free(tmp);
}
END_TEST

/* Log 5000 rows, wait until the writer's COPY of them is blocked on a
 * lock another session holds (seen in pg_locks, not slept on), log
 * 40 000 more behind it, release the lock and flush.  How many COPYs
 * (batches) the 45 000 rows took. */
static uint64_t backlog_batches(const char *url, const char *sp,
                                size_t batch)
{
	ms_predlog *pl = open_log(url, sp, 0, batch);
	ms_predlog_stats st0 = MS_PREDLOG_STATS_INIT,
	                 st = MS_PREDLOG_STATS_INIT;
	PGconn *locker = PQconnectdb(url);
	PGresult *r;
	double t0;

	ck_assert_int_eq(PQstatus(locker), CONNECTION_OK);
	ck_assert_int_eq(log_one(pl, -1), MS_OK);
	ck_assert_int_eq(ms_predlog_flush(pl, 60000), MS_OK);
	ms_predlog_stats_get(&st0, pl);
	r = PQexec(locker, "BEGIN; LOCK TABLE model_predictions IN ACCESS "
	                   "EXCLUSIVE MODE");
	ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	for (long i = 0; i < 5000; i++)
		ck_assert_int_eq(log_one(pl, i), MS_OK);
	t0 = now_s();
	while (count_sql(url, "SELECT count(*) FROM pg_locks l JOIN pg_class c "
	                      "ON c.oid = l.relation WHERE c.relname = "
	                      "'model_predictions' AND NOT l.granted") == 0) {
		ck_assert_msg(now_s() - t0 < 60, "the writer never waited on "
		              "the lock");
		mt_poll_pause(10);
	}
	for (long i = 5000; i < 45000; i++)
		ck_assert_int_eq(log_one(pl, i), MS_OK);
	r = PQexec(locker, "ROLLBACK");
	PQclear(r);
	PQfinish(locker);
	ck_assert_int_eq(ms_predlog_flush(pl, 120000), MS_OK);
	ms_predlog_stats_get(&st, pl);
	ck_assert_uint_eq(st.spooled, 0);
	ck_assert_uint_eq(st.written - st0.written, 45000);
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	ck_assert_int_eq(count_sql(url, "SELECT count(DISTINCT predicted_value) "
	                                "FROM model_predictions WHERE "
	                                "predicted_value >= 0"), 45000);
	return st.batches - st0.batches;
}

/* With the default batch_size, rows already waiting behind a batch go in
 * together, up to 8 batches' worth per COPY: one commit (one WAL flush)
 * for many rows when the database is behind.  The first batch (taken
 * when 5000 rows were there, or at the flush interval: then the rest of
 * the 5000 wait on the ring) and the 40 000 behind it: 2 or 3 COPYs,
 * not 9. */
START_TEST(default_batch_takes_a_backlog_in_few_copies)
{
	char *url = mt_migrated_db("predlog_flow_backlog");
	char *tmp = mt_tmpdir(), *sp = subdir(tmp, "spool");
	uint64_t b = backlog_batches(url, sp, 0);
	ck_assert_msg(b >= 2 && b <= 3, "45 000 rows in %llu COPYs",
	              (unsigned long long)b);
	mt_rmtree(tmp);
	free(sp);
	free(tmp);
	free(url);
}
END_TEST

/* An explicit batch_size is a hard bound on rows per COPY, backlog or
 * not. */
START_TEST(explicit_batch_size_is_kept_under_a_backlog)
{
	char *url = mt_migrated_db("predlog_flow_backlog_explicit");
	char *tmp = mt_tmpdir(), *sp = subdir(tmp, "spool");
	uint64_t b = backlog_batches(url, sp, 5000);
	ck_assert_msg(b >= 9, "45 000 rows in %llu COPYs of at most 5000",
	              (unsigned long long)b);
	mt_rmtree(tmp);
	free(sp);
	free(tmp);
	free(url);
}
END_TEST

Suite *db_predlog_flow_suite(void)
{
	Suite *s = suite_create("db_predlog_flow");
	TCase *tc = tcase_create("Flow");
	tcase_add_test(tc, burst_with_database_up_never_spools);
	tcase_add_test(tc, stalled_database_spills_after_one_bounded_wait);
	tcase_add_test(tc, database_down_spills_without_waiting);
	tcase_add_test(tc, default_batch_takes_a_backlog_in_few_copies);
	tcase_add_test(tc, explicit_batch_size_is_kept_under_a_backlog);
	tcase_set_timeout(tc, 240);
	suite_add_tcase(s, tc);
	return s;
}
