/* check_roles.c - each role of sql/roles.sql does its whole job through
 * the library and the CLI, and gets a clear "permission denied" for the
 * rest (never "unreachable", never "run migrate"). */
#define _GNU_SOURCE
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define PRED_ID "0190a0a0-0000-7000-8000-0000000000aa"

static char *g_db;

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	ck_assert_msg(f != NULL, "open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void admin(const char *sql)
{
	PGconn *c = PQconnectdb(g_db);
	PGresult *r;
	ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK ||
	              PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	              PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

static char *url_as(const char *user)
{
	char *u = NULL;
	ck_assert_int_gt(asprintf(&u, "postgresql://%s@127.0.0.1:%s/roles_tests",
	                          user, mt_env("PGPORT")), 0);
	return u;
}

static void setup(void)
{
	const char *src = getenv("MS_SOURCE_DIR");
	char *path = NULL, *sql;
	g_db = mt_migrated_db("roles_tests");
	ck_assert_int_gt(asprintf(&path, "%s/sql/roles.sql", src ? src : "."), 0);
	sql = read_file(path);
	admin(sql);
	admin("DO $$ BEGIN"
	      " IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ms_r_logger')"
	      " THEN CREATE ROLE ms_r_logger LOGIN IN ROLE modelstore_logger; END IF;"
	      " IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ms_r_reader')"
	      " THEN CREATE ROLE ms_r_reader LOGIN IN ROLE modelstore_reader; END IF;"
	      " IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ms_r_none')"
	      " THEN CREATE ROLE ms_r_none LOGIN; END IF; END $$");
	admin("INSERT INTO model_predictions (prediction_id, model_version,"
	      " input_features, predicted_value) VALUES"
	      " ('" PRED_ID "', 'v1', '{}', 1.5) ON CONFLICT DO NOTHING");
	free(sql);
	free(path);
}

static void teardown(void)
{
	free(g_db);
}

START_TEST(logger_records_actuals_through_the_library)
{
	char *url = url_as("ms_r_logger");
	ms_store *s = NULL;
	ms_status st = ms_store_open(&s, url, NULL);
	ck_assert_msg(st == MS_OK, "logger open: %s", ms_store_errmsg(s));
	st = ms_store_record_actual(s, PRED_ID, 2.5);
	ck_assert_msg(st == MS_OK, "logger actual: %s", ms_store_errmsg(s));
	ms_store_close(s);
	free(url);
	{
		char *v = mt_sql(g_db, "SELECT actual_value::text FROM "
		                 "model_predictions WHERE prediction_id = '"
		                 PRED_ID "'");
		ck_assert_ptr_nonnull(v);
		ck_assert_str_eq(v, "2.5");
		free(v);
	}
}
END_TEST

/* Bulk actuals need a temporary table: modelstore_logger has TEMPORARY
 * through PUBLIC, and nothing more than the single-id form otherwise. */
START_TEST(logger_records_actuals_in_bulk)
{
	char *url = url_as("ms_r_logger");
	char *out = NULL, *err = NULL;
	const char *in = PRED_ID ",4.5\n";
	const char *argv[] = { mt_cli(), "--db", url, "predictions", "actual",
		"--file", "-", NULL };
	int rc = mt_run(argv, NULL, in, strlen(in), &out, &err);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	ck_assert_msg(strstr(out, "1 prediction matched") != NULL, "%s", out);
	free(out);
	free(err);
	free(url);
	{
		char *v = mt_sql(g_db, "SELECT actual_value::text FROM "
		                 "model_predictions WHERE prediction_id = '"
		                 PRED_ID "'");
		ck_assert_str_eq(v, "4.5");
		free(v);
	}
}
END_TEST

START_TEST(reader_push_is_permission_denied)
{
	char *url = url_as("ms_r_reader");
	char *out = NULL, *err = NULL;
	const char *argv[] = { mt_cli(), "--db", url, "push", "/etc/hostname",
		NULL };
	int rc = mt_run(argv, NULL, NULL, 0, &out, &err);
	ck_assert_int_eq(rc, 1);
	ck_assert_msg(strstr(err, "permission denied") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "sql/roles.sql") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "ERROR:") == NULL, "raw libpq text: %s", err);
	ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1,
	              "not one line: %s", err);
	free(out);
	free(err);
	free(url);
}
END_TEST

START_TEST(doctor_without_rights_says_permission_denied)
{
	char *url = url_as("ms_r_none");
	char *out = NULL, *err = NULL;
	const char *argv[] = { mt_cli(), "--db", url, "doctor", NULL };
	int rc = mt_run(argv, NULL, NULL, 0, &out, &err);
	ck_assert_int_eq(rc, 1);
	ck_assert_msg(strstr(out, "permission denied") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "version 0") == NULL, "%s", out);
	ck_assert_msg(strstr(out, "migrate") == NULL, "%s", out);
	free(out);
	free(err);
	free(url);
}
END_TEST

Suite *db_roles_suite(void)
{
	Suite *s = suite_create("db_roles");
	TCase *tc = tcase_create("Core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, logger_records_actuals_through_the_library);
	tcase_add_test(tc, logger_records_actuals_in_bulk);
	tcase_add_test(tc, reader_push_is_permission_denied);
	tcase_add_test(tc, doctor_without_rights_says_permission_denied);
	suite_add_tcase(s, tc);
	return s;
}
