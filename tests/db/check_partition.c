/*
 * check_partition.c - model_predictions partitioned by day (migration 003,
 * lib/src/partition.c): the in-place conversion keeps every row and every
 * reader working, loggers keep logging through it, the idempotent retry
 * still refuses a duplicate, partitions ahead pick up rows that went to
 * DEFAULT, retention drops whole partitions, and a failed conversion
 * leaves no constraint behind.
 */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A checksum of every row's user-visible columns, in id order. */
#define ROWS_DIGEST                                                        \
	"SELECT count(*) || ':' || md5(coalesce(string_agg(concat_ws('|', id,"  \
	" model_name, model_version, input_features::text, predicted_value,"  \
	" actual_value, confidence_score, prediction_time, prediction_id), ','" \
	" ORDER BY id), '')) FROM model_predictions"

static void sql_ok(const char *url, const char *sql)
{
	char *r = mt_sql(url, sql);
	ck_assert_msg(r != NULL, "SQL failed: %s", sql);
	free(r);
}

static long sql_long(const char *url, const char *sql)
{
	char *r = mt_sql(url, sql);
	long v;
	ck_assert_msg(r != NULL, "SQL failed: %s", sql);
	v = strtol(r, NULL, 10);
	free(r);
	return v;
}

static bool sql_is(const char *url, const char *sql, const char *want)
{
	char *r = mt_sql(url, sql);
	bool eq = r != NULL && strcmp(r, want) == 0;
	free(r);
	return eq;
}

/* Rows as the seed-era scripts write them (no prediction_id) and as the
 * logger does (with one), over the last @p hours hours. */
static void seed_rows(const char *url, int hours)
{
	char sql[512];
	snprintf(sql, sizeof sql,
	         "INSERT INTO model_predictions (model_version, input_features,"
	         " predicted_value, actual_value, prediction_id, prediction_time)"
	         " SELECT 'v' || (g %% 3), jsonb_build_object('x', g), g * 0.5,"
	         " CASE WHEN g %% 2 = 0 THEN g END, CASE WHEN g %% 5 <> 0 THEN"
	         " gen_random_uuid() END, localtimestamp - make_interval(hours"
	         " => g) FROM generate_series(1, %d) g", hours);
	sql_ok(url, sql);
	sql_ok(url, "INSERT INTO model_predictions (model_version,"
	            " input_features, predicted_value) VALUES ('v1', '{}', 1)");
}

START_TEST(enable_keeps_every_row_and_view)
{
	char *url = mt_migrated_db("part_keep");
	ms_store *s;
	char *before, *after, *vol_before, *vol_after;

	seed_rows(url, 2000);
	sql_ok(url, "GRANT SELECT ON model_predictions TO public");
	before = mt_sql(url, ROWS_DIGEST);
	vol_before = mt_sql(url, "SELECT sum(prediction_count) || '/' || "
	                         "sum(predictions_with_actual) FROM "
	                         "model_prediction_volume_daily");
	ck_assert_ptr_nonnull(before);

	s = mt_open_store(url);
	ck_assert_int_eq(ms_store_partitions_enable(s, 3), MS_OK);
	ms_store_close(s);

	ck_assert(sql_is(url, "SELECT relkind FROM pg_class WHERE oid ="
	                      " 'model_predictions'::regclass", "p"));
	after = mt_sql(url, ROWS_DIGEST);
	ck_assert_str_eq(after, before);
	/* the old table is a partition, unmoved: every row is in it */
	ck_assert_int_eq(sql_long(url, "SELECT count(*) FROM ONLY "
	                               "model_predictions_legacy"), 2001);
	/* the views read the new parent */
	vol_after = mt_sql(url, "SELECT sum(prediction_count) || '/' || "
	                        "sum(predictions_with_actual) FROM "
	                        "model_prediction_volume_daily");
	ck_assert_str_eq(vol_after, vol_before);
	ck_assert(sql_is(url, "SELECT has_table_privilege('public', "
	                      "'model_predictions', 'SELECT')", "t"));
	/* the sequence belongs to the parent: dropping the legacy partition
	 * must not take it away */
	ck_assert(sql_is(url, "SELECT d.refobjid::regclass::text FROM pg_depend"
	                      " d WHERE d.objid = 'model_predictions_id_seq'::"
	                      "regclass AND d.deptype = 'a'",
	                      "model_predictions"));
	free(before);
	free(after);
	free(vol_before);
	free(vol_after);
	free(url);
}
END_TEST

/* The seed's own INSERT and monitoring queries, unmodified. */
START_TEST(seed_statements_work_partitioned)
{
	char *url = mt_migrated_db("part_seed");
	ms_store *s = mt_open_store(url);
	ck_assert_int_eq(ms_store_partitions_enable(s, 2), MS_OK);
	ms_store_close(s);

	sql_ok(url, "INSERT INTO model_predictions (model_version, "
	            "input_features, predicted_value, confidence_score) VALUES "
	            "('v9', '{\"a\": 1}', 0.5, 0.9)");
	ck_assert(sql_is(url, "SELECT tableoid::regclass::text FROM "
	                      "model_predictions WHERE model_version = 'v9'",
	                      "model_predictions_legacy"));
	ck_assert_int_eq(sql_long(url,
		"SELECT COUNT(*) as prediction_count FROM model_predictions "
		"WHERE prediction_time > NOW() - INTERVAL '1 day' "
		"GROUP BY model_version"), 1);
	sql_ok(url, "UPDATE model_predictions SET actual_value = 1 WHERE "
	            "model_version = 'v9'");
	ck_assert(sql_is(url,
		"SELECT AVG(ABS(predicted_value - actual_value)) as "
		"mean_absolute_error FROM model_predictions WHERE actual_value IS"
		" NOT NULL GROUP BY model_version", "0.5"));
	free(url);
}
END_TEST

/* The logger's retry path is INSERT ... ON CONFLICT DO NOTHING: on the
 * partitioned table a replayed row must still conflict, wherever it
 * lives, and a plain duplicate must still be refused. */
START_TEST(replayed_rows_conflict_across_partitions)
{
	char *url = mt_migrated_db("part_dup");
	ms_store *s;
	seed_rows(url, 100);
	s = mt_open_store(url);
	ck_assert_int_eq(ms_store_partitions_enable(s, 30), MS_OK);
	ms_store_close(s);
	/* rows in the legacy partition, a daily one and DEFAULT */
	sql_ok(url, "INSERT INTO model_predictions (model_version, "
	            "input_features, predicted_value, prediction_id, "
	            "prediction_time) VALUES ('v1', '{}', 1, gen_random_uuid(),"
	            " localtimestamp + interval '10 days'), ('v1', '{}', 1, "
	            "gen_random_uuid(), localtimestamp + interval '400 days')");
	ck_assert_int_eq(sql_long(url, "SELECT count(DISTINCT tableoid) FROM "
	                               "model_predictions"), 3);
	ck_assert_int_eq(sql_long(url,
		"WITH ins AS (INSERT INTO model_predictions (model_version, "
		"input_features, predicted_value, prediction_id, prediction_time)"
		" SELECT model_version, input_features, predicted_value, "
		"prediction_id, prediction_time FROM model_predictions WHERE "
		"prediction_id IS NOT NULL ON CONFLICT DO NOTHING RETURNING 1) "
		"SELECT count(*) FROM ins"), 0);
	ck_assert_ptr_null(mt_sql(url,
		"INSERT INTO model_predictions (model_version, input_features,"
		" predicted_value, prediction_id, prediction_time) SELECT "
		"model_version, input_features, predicted_value, prediction_id,"
		" prediction_time FROM model_predictions WHERE prediction_id IS "
		"NOT NULL LIMIT 1"));
	ck_assert_int_eq(sql_long(url, "SELECT count(*) - count(DISTINCT "
	                               "prediction_id) - count(*) FILTER "
	                               "(WHERE prediction_id IS NULL) FROM "
	                               "model_predictions"), 0);
	free(url);
}
END_TEST

struct logging {
	const char *url;
	char *spool;
	atomic_bool stop;
	atomic_long logged;
	ms_predlog_stats stats;
	ms_status close_st;
};

static void *log_until_stopped(void *arg)
{
	struct logging *lg = arg;
	ms_predlog_options o;
	ms_predlog *pl = NULL;
	ms_prediction p = { 0 };
	char id[MS_UUID_STRLEN];
	ms_predlog_stats st = MS_PREDLOG_STATS_INIT;

	ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
	o.spool_dir = lg->spool;
	o.flush_interval_ms = 5;
	if (ms_predlog_open(&pl, lg->url, &o) != MS_OK)
		return NULL;
	p.model_version = "v1";
	p.input_features = "{\"x\": 1}";
	p.confidence_score = 0.5;
	p.actual_value = -1;
	while (!atomic_load(&lg->stop)) {
		p.predicted_value = (double)atomic_load(&lg->logged);
		if (ms_predlog_log(id, pl, &p) == MS_OK)
			atomic_fetch_add(&lg->logged, 1);
	}
	ms_predlog_flush(pl, 30000);
	ms_predlog_stats_get(&st, pl);
	lg->stats = st;
	lg->close_st = ms_predlog_close(pl);
	return NULL;
}

/* A logger runs through the whole conversion: every row it accepted is in
 * the table once, none was rejected.  (It logs as fast as it can, so some
 * rows may take the spool when the queue is full; they are replayed.) */
START_TEST(logging_goes_on_during_enable)
{
	char *url = mt_migrated_db("part_live");
	struct logging lg = { 0 };
	pthread_t t;
	ms_store *s;
	long n;

	seed_rows(url, 5000);
	lg.url = url;
	lg.spool = mt_tmpdir();
	ck_assert_int_eq(pthread_create(&t, NULL, log_until_stopped, &lg), 0);
	/* wait until the logger has written before converting */
	while (sql_long(url, "SELECT count(*) FROM model_predictions WHERE "
	                     "prediction_id IS NOT NULL AND actual_value = -1")
	       < 1000)
		;
	s = mt_open_store(url);
	ck_assert_int_eq(ms_store_partitions_enable(s, 2), MS_OK);
	ms_store_close(s);
	/* and until it has written after the swap */
	n = sql_long(url, "SELECT count(*) FROM model_predictions WHERE "
	                  "actual_value = -1");
	while (sql_long(url, "SELECT count(*) FROM model_predictions WHERE "
	                     "actual_value = -1") < n + 1000)
		;
	atomic_store(&lg.stop, true);
	pthread_join(t, NULL);

	ck_assert_int_eq(lg.close_st, MS_OK);
	ck_assert_uint_eq(lg.stats.accepted, (uint64_t)atomic_load(&lg.logged));
	ck_assert_uint_eq(lg.stats.rejected, 0);
	ck_assert_int_eq(sql_long(url, "SELECT count(*) FROM model_predictions"
	                               " WHERE actual_value = -1"),
	                 atomic_load(&lg.logged));
	ck_assert_int_eq(sql_long(url, "SELECT count(DISTINCT prediction_id) "
	                               "FROM model_predictions WHERE "
	                               "actual_value = -1"),
	                 atomic_load(&lg.logged));
	mt_rmtree(lg.spool);
	free(lg.spool);
	free(url);
}
END_TEST

/* A row for a day with no partition goes to DEFAULT; creating that day's
 * partition moves it there. */
START_TEST(ensure_moves_rows_out_of_default)
{
	char *url = mt_migrated_db("part_ensure");
	ms_store *s = mt_open_store(url);
	unsigned made = 0;

	ck_assert_int_eq(ms_store_partitions_enable(s, 2), MS_OK);
	sql_ok(url, "INSERT INTO model_predictions (model_version, "
	            "input_features, predicted_value, prediction_time) VALUES "
	            "('v1', '{}', 7, localtimestamp::date + 10)");
	ck_assert(sql_is(url, "SELECT tableoid::regclass::text FROM "
	                      "model_predictions WHERE predicted_value = 7",
	                      "model_predictions_default"));
	ck_assert_int_eq(ms_store_partitions_ensure(&made, s, 12), MS_OK);
	ck_assert_uint_eq(made, 10); /* days 3 to 12 after today */
	ck_assert(sql_is(url, "SELECT tableoid::regclass::text = "
	                      "'model_predictions_' || to_char(localtimestamp::"
	                      "date + 10, 'YYYYMMDD') FROM model_predictions "
	                      "WHERE predicted_value = 7", "t"));
	ck_assert_int_eq(sql_long(url, "SELECT count(*) FROM "
	                               "model_predictions_default"), 0);
	/* again: nothing to do */
	ck_assert_int_eq(ms_store_partitions_ensure(&made, s, 12), MS_OK);
	ck_assert_uint_eq(made, 0);
	ms_store_close(s);
	free(url);
}
END_TEST

START_TEST(drop_removes_whole_old_partitions)
{
	char *url = mt_migrated_db("part_drop");
	ms_store *s = mt_open_store(url);
	ms_buf names = MS_BUF_INIT;

	seed_rows(url, 48);
	ck_assert_int_eq(ms_store_partitions_enable(s, 5), MS_OK);
	sql_ok(url, "INSERT INTO model_predictions (model_version, "
	            "input_features, predicted_value, prediction_time) SELECT "
	            "'v1', '{}', g, localtimestamp::date + g FROM "
	            "generate_series(2, 5) g");
	/* nothing is older than a day yet: the legacy cutoff is ahead */
	ck_assert_int_eq(ms_store_partitions_drop(&names, s, 1, 0), MS_OK);
	ck_assert_str_eq(names.ptr, "[]");
	ms_buf_dispose(&names);
	/* as the clock would see it in 4 days: the legacy partition and the
	 * first two daily ones have only older rows */
	ck_assert(sql_is(url, "SELECT string_agg(n, ',') FROM "
	                      "modelstore_partitions_drop(localtimestamp::date"
	                      " + 4, true) n",
	                      "") == false);
	sql_ok(url, "SELECT count(*) FROM modelstore_partitions_drop("
	            "localtimestamp::date + 4, false)");
	ck_assert(sql_is(url, "SELECT to_regclass('model_predictions_legacy')"
	                      " IS NULL", "t"));
	ck_assert_int_eq(sql_long(url, "SELECT count(*) FROM "
	                               "model_predictions"), 2);
	ck_assert_int_eq(sql_long(url, "SELECT min(predicted_value) FROM "
	                               "model_predictions"), 4);
	/* the sequence survived the legacy partition */
	sql_ok(url, "INSERT INTO model_predictions (model_version, "
	            "input_features, predicted_value) VALUES ('v1', '{}', 1)");
	ck_assert_int_eq(ms_store_partitions_drop(&names, s, 0, 0), MS_EINVAL);
	ms_store_close(s);
	free(url);
}
END_TEST

/* A row with no prediction_time cannot be partitioned: enable fails
 * naming why, and leaves the table as it was, with no constraint that
 * would refuse rows after the cutoff. */
START_TEST(failed_enable_leaves_no_constraint)
{
	char *url = mt_migrated_db("part_null");
	ms_store *s = mt_open_store(url);
	char *before;

	seed_rows(url, 10);
	sql_ok(url, "INSERT INTO model_predictions (model_version, "
	            "input_features, predicted_value, prediction_time) VALUES "
	            "('v1', '{}', 1, NULL)");
	before = mt_sql(url, ROWS_DIGEST);
	ck_assert_int_eq(ms_store_partitions_enable(s, 2), MS_ERROR);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "NULL prediction_time"));
	ck_assert(sql_is(url, "SELECT relkind FROM pg_class WHERE oid ="
	                      " 'model_predictions'::regclass", "r"));
	ck_assert_int_eq(sql_long(url, "SELECT count(*) FROM pg_constraint "
	                               "WHERE conname = "
	                               "'model_predictions_legacy_range'"), 0);
	sql_ok(url, "INSERT INTO model_predictions (model_version, "
	            "input_features, predicted_value, prediction_time) VALUES "
	            "('v1', '{}', 1, localtimestamp + interval '30 days')");
	{
		char *after = mt_sql(url, ROWS_DIGEST " WHERE prediction_time IS "
		                          "NULL OR prediction_time < "
		                          "localtimestamp + interval '1 day'");
		ck_assert_str_eq(after, before);
		free(after);
	}
	ms_store_close(s);
	free(before);
	free(url);
}
END_TEST

/* Interrupted after step 1 (the process was killed): running enable
 * again finishes the job; running it on a partitioned table is a no-op
 * beyond partitions ahead; abort undoes an unfinished step 1. */
START_TEST(enable_resumes_and_abort_undoes)
{
	char *url = mt_migrated_db("part_resume");
	ms_store *s = mt_open_store(url);

	seed_rows(url, 10);
	sql_ok(url, "SELECT modelstore_partition_prepare(date_trunc('day', "
	            "localtimestamp) + interval '2 days')");
	ck_assert_int_eq(ms_store_partitions_abort(s), MS_OK);
	ck_assert_int_eq(sql_long(url, "SELECT count(*) FROM pg_constraint "
	                               "WHERE conname = "
	                               "'model_predictions_legacy_range'"), 0);
	sql_ok(url, "SELECT modelstore_partition_prepare(date_trunc('day', "
	            "localtimestamp) + interval '2 days')");
	sql_ok(url, "CREATE UNIQUE INDEX model_predictions_legacy_id_time ON "
	            "model_predictions (id, prediction_time)");
	ck_assert_int_eq(ms_store_partitions_enable(s, 2), MS_OK);
	ck_assert(sql_is(url, "SELECT relkind FROM pg_class WHERE oid ="
	                      " 'model_predictions'::regclass", "p"));
	ck_assert_int_eq(ms_store_partitions_enable(s, 4), MS_OK);
	ck_assert_int_eq(sql_long(url, "SELECT count(*) FROM "
	                               "modelstore_partition_days()"), 3);
	ck_assert_int_eq(ms_store_partitions_abort(s), MS_OK);
	ck_assert(sql_is(url, "SELECT relkind FROM pg_class WHERE oid ="
	                      " 'model_predictions'::regclass", "p"));
	ck_assert_int_eq(ms_store_partitions_enable(s, 9999), MS_EINVAL);
	ms_store_close(s);
	free(url);
}
END_TEST

START_TEST(cli_partitions)
{
	char *url = mt_migrated_db("part_cli");
	char *out = NULL, *err = NULL;
	char env_db[1024];
	const char *env[] = { env_db, NULL };
	const char *list[] = { mt_cli(), "--json", "partitions", "list", NULL };
	const char *enable[] = { mt_cli(), "partitions", "enable", "--ahead",
	                         "3", NULL };
	const char *bad[] = { mt_cli(), "partitions", "drop", "--older-than",
	                      "soon", NULL };
	const char *ensure_unpart[] = { mt_cli(), "partitions", "ensure",
	                                NULL };

	snprintf(env_db, sizeof env_db, "DATABASE_URL=%s", url);
	ck_assert_int_eq(mt_run(ensure_unpart, env, NULL, 0, &out, &err), 1);
	ck_assert_ptr_nonnull(strstr(err, "not partitioned"));
	free(out);
	free(err);
	ck_assert_int_eq(mt_run(bad, env, NULL, 0, &out, &err), 2);
	ck_assert_ptr_nonnull(strstr(err, "--older-than"));
	free(out);
	free(err);
	ck_assert_int_eq(mt_run(enable, env, NULL, 0, &out, &err), 0);
	ck_assert_ptr_nonnull(strstr(out, "partitioned by day"));
	free(out);
	free(err);
	ck_assert_int_eq(mt_run(list, env, NULL, 0, &out, &err), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"partitioned\": true"));
	ck_assert_ptr_nonnull(strstr(out, "model_predictions_legacy"));
	ck_assert_ptr_nonnull(strstr(out, "model_predictions_default"));
	free(out);
	free(err);
	free(url);
}
END_TEST

Suite *db_partition_suite(void)
{
	Suite *s = suite_create("db_partition");
	TCase *tc = tcase_create("partition");
	tcase_add_test(tc, enable_keeps_every_row_and_view);
	tcase_add_test(tc, seed_statements_work_partitioned);
	tcase_add_test(tc, replayed_rows_conflict_across_partitions);
	tcase_add_test(tc, logging_goes_on_during_enable);
	tcase_add_test(tc, ensure_moves_rows_out_of_default);
	tcase_add_test(tc, drop_removes_whole_old_partitions);
	tcase_add_test(tc, failed_enable_leaves_no_constraint);
	tcase_add_test(tc, enable_resumes_and_abort_undoes);
	tcase_add_test(tc, cli_partitions);
	suite_add_tcase(s, tc);
	return s;
}
