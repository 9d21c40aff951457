/* check_actuals.c - actual values in bulk: ms_store_record_actuals (one
 * COPY and one UPDATE per batch) and `predictions actual --file`. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static char *g_url;

/* @n predictions with ids 00000000-0000-4000-8000-<i as 12 digits>,
 * i = 0..n-1, predicted_value i. */
static void seed(long n)
{
	char sql[512];
	snprintf(sql, sizeof sql,
	         "INSERT INTO model_predictions (prediction_id, model_version,"
	         " input_features, predicted_value)"
	         " SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid,"
	         " 'v1', '{}', i FROM generate_series(0, %ld) i", n - 1);
	char *r = mt_sql(g_url, sql);
	ck_assert_ptr_nonnull(r);
	free(r);
}

static void id_of(char out[MS_UUID_STRLEN], long i)
{
	char buf[64]; /* wide enough for any long: no truncation warning */
	snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012ld", i);
	memcpy(out, buf, MS_UUID_STRLEN - 1);
	out[MS_UUID_STRLEN - 1] = '\0';
}

static long count_sql(const char *sql)
{
	char *r = mt_sql(g_url, sql);
	long v;
	ck_assert_ptr_nonnull(r);
	v = atol(r);
	free(r);
	return v;
}

static void setup(void)
{
	g_url = mt_migrated_db("actuals_tests");
}

static void teardown(void)
{
	free(g_url);
}

/* 250 000 rows: three batches.  5 000 ids no prediction has; one id given
 * twice takes its last value. */
START_TEST(library_many_batches_matched_and_unmatched)
{
	const long n = 250000, missing = 5000;
	ms_actual *rows = calloc((size_t)n + 1, sizeof *rows);
	char (*ids)[MS_UUID_STRLEN] = calloc((size_t)n + 1, sizeof *ids);
	ms_actuals_result res = MS_ACTUALS_RESULT_INIT;
	ms_store *s = NULL;
	char *v;

	seed(n - missing);
	for (long i = 0; i < n; i++) {
		id_of(ids[i], i);
		rows[i].prediction_id = ids[i];
		rows[i].value = (double)i + 0.5;
	}
	/* id 7 again, last: its value wins */
	id_of(ids[n], 7);
	rows[n].prediction_id = ids[n];
	rows[n].value = -1.25;
	ck_assert_int_eq(ms_store_open(&s, g_url, NULL), MS_OK);
	ck_assert_msg(ms_store_record_actuals(s, rows, (size_t)n + 1, &res) == MS_OK,
	              "%s", ms_store_errmsg(s));
	ck_assert_uint_eq(res.rows, (uint64_t)n + 1);
	/* id 7 is in the first batch and again in the third: two updates */
	ck_assert_uint_eq(res.matched, (uint64_t)(n - missing) + 1);
	ck_assert_uint_eq(res.unmatched, (uint64_t)missing);
	/* the unmatched list holds exactly the missing ids, one a line */
	{
		char first[MS_UUID_STRLEN + 1], last[MS_UUID_STRLEN + 1];
		size_t lines = 0;
		for (size_t i = 0; i < res.unmatched_ids.size; i++)
			lines += res.unmatched_ids.ptr[i] == '\n';
		ck_assert_uint_eq(lines, (size_t)missing);
		id_of(first, n - missing);
		ck_assert_msg(strncmp(res.unmatched_ids.ptr, first, 36) == 0, "%.40s",
		              res.unmatched_ids.ptr);
		id_of(last, n - 1);
		ck_assert(strncmp(res.unmatched_ids.ptr + res.unmatched_ids.size - 37,
		                  last, 36) == 0);
	}
	ck_assert_int_eq(count_sql("SELECT count(*) FROM model_predictions WHERE "
	                           "actual_value = predicted_value + 0.5 AND "
	                           "actual_recorded_at IS NOT NULL"), n - missing - 1);
	v = mt_sql(g_url, "SELECT actual_value FROM model_predictions WHERE "
	                  "prediction_id = '00000000-0000-4000-8000-000000000007'");
	ck_assert_str_eq(v, "-1.25");
	free(v);
	ms_actuals_result_dispose(&res);
	ms_store_close(s);
	free(rows);
	free(ids);
}
END_TEST

/* One bad row anywhere: MS_EINVAL naming it, and nothing is written,
 * not even the batches before it. */
START_TEST(library_bad_row_writes_nothing)
{
	const long n = 150000;
	ms_actual *rows = calloc((size_t)n, sizeof *rows);
	char (*ids)[MS_UUID_STRLEN] = calloc((size_t)n, sizeof *ids);
	ms_actuals_result res = MS_ACTUALS_RESULT_INIT;
	ms_store *s = NULL;

	seed(n);
	for (long i = 0; i < n; i++) {
		id_of(ids[i], i);
		rows[i].prediction_id = ids[i];
		rows[i].value = 1;
	}
	ck_assert_int_eq(ms_store_open(&s, g_url, NULL), MS_OK);
	rows[n - 1].prediction_id = "not-a-uuid";
	ck_assert_int_eq(ms_store_record_actuals(s, rows, (size_t)n, &res), MS_EINVAL);
	ck_assert_msg(strstr(ms_store_errmsg(s), "row 149999") != NULL, "%s",
	              ms_store_errmsg(s));
	rows[n - 1].prediction_id = ids[n - 1];
	rows[3].value = 1.0 / 0.0;
	ck_assert_int_eq(ms_store_record_actuals(s, rows, (size_t)n, &res), MS_EINVAL);
	ck_assert_msg(strstr(ms_store_errmsg(s), "row 3") != NULL, "%s",
	              ms_store_errmsg(s));
	ck_assert_uint_eq(res.rows, 0);
	ck_assert_int_eq(count_sql("SELECT count(*) FROM model_predictions WHERE "
	                           "actual_value IS NOT NULL"), 0);
	/* nothing at all is a no-op */
	ck_assert_int_eq(ms_store_record_actuals(s, NULL, 0, &res), MS_OK);
	ck_assert_int_eq(ms_store_record_actuals(s, rows, 1, NULL), MS_EINVAL);
	ms_store_close(s);
	free(rows);
	free(ids);
}
END_TEST

static int run_cli(const char *in, const char *file, bool json, char **out, char **err)
{
	const char *argv[] = { mt_cli(), "--db", g_url, json ? "--json" : "-q",
	                       "predictions", "actual", "--file", file, NULL };
	return mt_run(argv, NULL, in, in ? strlen(in) : 0, out, err);
}

START_TEST(cli_ndjson_and_csv_from_stdin)
{
	char *out = NULL, *err = NULL;
	json_t *doc;
	seed(10);
	const char *nd =
		"{\"prediction_id\": \"00000000-0000-4000-8000-000000000001\", \"actual_value\": 11}\n"
		"\n"
		"{\"id\": \"00000000-0000-4000-8000-000000000002\", \"value\": 12}\n"
		"{\"prediction_id\": \"00000000-0000-4000-8000-000000009999\", \"actual_value\": 0}\n";
	ck_assert_int_eq(run_cli(nd, "-", true, &out, &err), 3);
	doc = json_loads(out, 0, NULL);
	ck_assert_msg(doc != NULL, "not JSON: %s (%s)", out, err);
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "rows")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "matched")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "unmatched")), 1);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(doc, "unmatched_ids"), 0)),
	                 "00000000-0000-4000-8000-000000009999");
	json_decref(doc);
	free(out); free(err);
	/* CSV with a header and CRLF line ends */
	const char *csv = "prediction_id,actual_value\r\n"
	                  "00000000-0000-4000-8000-000000000003, 13\r\n"
	                  "\"00000000-0000-4000-8000-000000000004\",14e0\r\n";
	ck_assert_int_eq(run_cli(csv, "-", false, &out, &err), 0);
	ck_assert_msg(strstr(out, "2 rows: 2 predictions matched, 0 ids matched none") != NULL,
	              "%s", out);
	free(out); free(err);
	ck_assert_int_eq(count_sql("SELECT count(*) FROM model_predictions WHERE "
	                           "actual_value = predicted_value + 10"), 4);
}
END_TEST

START_TEST(cli_bad_line_exit_2_nothing_written)
{
	char *out = NULL, *err = NULL;
	seed(10);
	const char *in = "00000000-0000-4000-8000-000000000001,1\n"
	                 "00000000-0000-4000-8000-000000000002,abc\n";
	ck_assert_int_eq(run_cli(in, "-", false, &out, &err), 2);
	ck_assert_msg(strstr(err, "stdin:2: the value is not a finite number") != NULL, "%s", err);
	free(out); free(err);
	in = "00000000-0000-4000-8000-000000000001,1\n"
	     "{\"prediction_id\": 5, \"actual_value\": 1}\n";
	ck_assert_int_eq(run_cli(in, "-", true, &out, &err), 2);
	ck_assert_msg(strstr(err, "\"error\"") != NULL &&
	              strstr(err, "stdin:2") != NULL, "%s", err);
	free(out); free(err);
	ck_assert_int_eq(run_cli(NULL, "/nonexistent/actuals.csv", false, &out, &err), 3);
	free(out); free(err);
	ck_assert_int_eq(count_sql("SELECT count(*) FROM model_predictions WHERE "
	                           "actual_value IS NOT NULL"), 0);
}
END_TEST

Suite *db_actuals_suite(void)
{
	Suite *s = suite_create("db_actuals");
	TCase *tc = tcase_create("Core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, library_many_batches_matched_and_unmatched);
	tcase_add_test(tc, library_bad_row_writes_nothing);
	tcase_add_test(tc, cli_ndjson_and_csv_from_stdin);
	tcase_add_test(tc, cli_bad_line_exit_2_nothing_written);
	suite_add_tcase(s, tc);
	return s;
}
