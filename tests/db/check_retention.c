/* check_retention.c - `predictions prune --older-than`: deletes exactly
 * the old rows (of one name or all), in bounded batches, never waits for
 * a row another transaction holds, and --dry-run only counts. */
#define _GNU_SOURCE
#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static char *g_url;

static long count_sql(const char *sql)
{
	char *r = mt_sql(g_url, sql);
	long v;
	ck_assert_ptr_nonnull(r);
	v = atol(r);
	free(r);
	return v;
}

/* 12 000 rows 200 days old (model a: 7 000, b: 5 000) and 3 000 rows of
 * a from an hour ago. */
static void setup(void)
{
	g_url = mt_migrated_db("retention_tests");
	free(mt_sql(g_url,
	            "INSERT INTO model_predictions (model_name, model_version,"
	            " input_features, predicted_value, prediction_time)"
	            " SELECT CASE WHEN i < 7000 THEN 'a' ELSE 'b' END, 'v1', '{}'::jsonb, i,"
	            " localtimestamp - interval '200 days' + i * interval '1 s'"
	            " FROM generate_series(0, 11999) i"
	            " UNION ALL SELECT 'a', 'v2', '{}', i, localtimestamp - interval '1 hour'"
	            " FROM generate_series(1, 3000) i"));
	ck_assert_int_eq(count_sql("SELECT count(*) FROM model_predictions"), 15000);
}

static void teardown(void)
{
	free(g_url);
}

static int prune(char **out, const char *a1, const char *a2, const char *a3,
                 const char *a4, const char *a5)
{
	const char *argv[12] = { mt_cli(), "--db", g_url };
	const char *rest[] = { a1, a2, a3, a4, a5 };
	int n = 3;
	for (int i = 0; i < 5 && rest[i]; i++)
		argv[n++] = rest[i];
	argv[n] = NULL;
	char *err = NULL;
	int rc = mt_run(argv, NULL, NULL, 0, out, &err);
	ck_assert_msg(rc == 0 || err[0], "no message for exit %d", rc);
	if (rc != 0 && out) {
		free(*out);
		*out = err;
	} else {
		free(err);
	}
	return rc;
}

START_TEST(dry_run_counts_and_deletes_nothing)
{
	char *out = NULL;
	ck_assert_int_eq(prune(&out, "--json", "predictions", "prune", "--older-than", "90d"), 0);
	free(out);
	free(mt_sql(g_url, "INSERT INTO model_predictions (model_version, input_features,"
	                   " predicted_value, prediction_time) VALUES ('v1', '{}', 1,"
	                   " localtimestamp - interval '100 days')"));
	{
		const char *argv[] = { mt_cli(), "--db", g_url, "--json", "predictions", "prune",
		                       "--older-than", "90d", "--dry-run", NULL };
		json_t *doc;
		ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, NULL), 0);
		doc = json_loads(out, 0, NULL);
		ck_assert_msg(doc != NULL, "%s", out);
		ck_assert_int_eq(json_integer_value(json_object_get(doc, "matched")), 1);
		ck_assert_int_eq(json_integer_value(json_object_get(doc, "deleted")), 0);
		ck_assert(json_is_true(json_object_get(doc, "dry_run")));
		ck_assert_int_eq(strlen(json_string_value(json_object_get(doc, "cutoff"))), 20);
		ck_assert(json_string_value(json_object_get(doc, "cutoff"))[19] == 'Z');
		json_decref(doc);
		free(out);
	}
	ck_assert_int_eq(count_sql("SELECT count(*) FROM model_predictions"), 3001);
}
END_TEST

START_TEST(one_name_in_batches)
{
	char *out = NULL;
	ck_assert_int_eq(prune(&out, "--name", "a", "predictions", "prune", "--older-than=90d"), 0);
	ck_assert_msg(strstr(out, "deleted 7000 predictions older than ") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "Z of a in 1 batch\n") != NULL, "%s", out);
	free(out);
	ck_assert_int_eq(count_sql("SELECT count(*) FROM model_predictions WHERE model_name = 'a'"), 3000);
	ck_assert_int_eq(count_sql("SELECT count(*) FROM model_predictions WHERE model_name = 'b'"), 5000);
	/* every name, 1 000 rows a transaction: 5 batches */
	{
		const char *argv[] = { mt_cli(), "--db", g_url, "predictions", "prune",
		                       "--older-than", "2160h", "--batch", "1000", NULL };
		ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, NULL), 0);
		ck_assert_msg(strstr(out, "deleted 5000 predictions") != NULL &&
		              strstr(out, "in 5 batches") != NULL, "%s", out);
		free(out);
	}
	ck_assert_int_eq(count_sql("SELECT count(*) FROM model_predictions"), 3000);
	ck_assert_int_eq(count_sql("SELECT count(*) FROM model_predictions WHERE "
	                           "prediction_time < localtimestamp - interval '2 hours'"), 0);
}
END_TEST

/* A transaction holds one old row: prune does not wait for it (it would
 * hang until the test's timeout) and leaves it; run again once the lock
 * is gone, it deletes it. */
START_TEST(never_waits_for_a_locked_row)
{
	PGconn *holder = PQconnectdb(g_url);
	PGresult *r;
	char *out = NULL;
	ck_assert_int_eq(PQstatus(holder), CONNECTION_OK);
	PQclear(PQexec(holder, "BEGIN"));
	r = PQexec(holder, "SELECT id FROM model_predictions WHERE predicted_value = 42"
	                   " AND model_version = 'v1' FOR UPDATE");
	ck_assert_int_eq(PQntuples(r), 1);
	PQclear(r);
	ck_assert_int_eq(prune(&out, "predictions", "prune", "--older-than", "90d", NULL), 0);
	ck_assert_msg(strstr(out, "deleted 11999 predictions") != NULL, "%s", out);
	free(out);
	PQclear(PQexec(holder, "COMMIT"));
	PQfinish(holder);
	ck_assert_int_eq(prune(&out, "predictions", "prune", "--older-than", "90d", NULL), 0);
	ck_assert_msg(strstr(out, "deleted 1 prediction ") != NULL, "%s", out);
	free(out);
	ck_assert_int_eq(count_sql("SELECT count(*) FROM model_predictions"), 3000);
}
END_TEST

START_TEST(bad_arguments_exit_2)
{
	const char *bad[][2] = { { "--older-than", "90" }, { "--older-than", "90y" },
	                         { "--older-than", "-5d" }, { "--older-than", "999999999d" },
	                         { "--batch", "0" } };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char *out = NULL;
		int rc = prune(&out, "predictions", "prune", bad[i][0], bad[i][1], NULL);
		ck_assert_msg(rc == 2, "%s %s: exit %d", bad[i][0], bad[i][1], rc);
		ck_assert_msg(strstr(out, bad[i][0]) != NULL, "%s", out);
		free(out);
	}
	{
		char *out = NULL;
		ck_assert_int_eq(prune(&out, "predictions", "prune", NULL, NULL, NULL), 2);
		ck_assert_msg(strstr(out, "--older-than") != NULL, "%s", out);
		free(out);
	}
	ck_assert_int_eq(count_sql("SELECT count(*) FROM model_predictions"), 15000);
}
END_TEST

Suite *db_retention_suite(void)
{
	Suite *s = suite_create("db_retention");
	TCase *tc = tcase_create("Core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, dry_run_counts_and_deletes_nothing);
	tcase_add_test(tc, one_name_in_batches);
	tcase_add_test(tc, never_waits_for_a_locked_row);
	tcase_add_test(tc, bad_arguments_exit_2);
	suite_add_tcase(s, tc);
	return s;
}
