/* check_conn.c - where the library finds its database, and how it says
 * that it could not. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Each test runs in its own forked child (CK_FORK), so changing the
 * environment here cannot leak into another test. */
static void clear_pg_env(void)
{
	static const char *const vars[] = { "DATABASE_URL", "PGHOST", "PGPORT",
		"PGUSER", "PGDATABASE", "PGSERVICE", "PGHOSTADDR", NULL };
	for (int i = 0; vars[i]; i++)
		unsetenv(vars[i]);
}

START_TEST(null_conninfo_reads_database_url)
{
	char *url = mt_migrated_db("conn_url");
	ms_store *s = NULL;
	clear_pg_env();
	/* libpq's own default (a local socket as the current user) must not
	 * be what answers: point PGHOST at a directory with no server. */
	setenv("PGHOST", "/nonexistent", 1);
	setenv("DATABASE_URL", url, 1);
	ck_assert_int_eq(ms_store_open(&s, NULL, NULL), MS_OK);
	ck_assert_msg(strstr(ms_store_target(s), "/conn_url") != NULL,
	              "connected to %s", ms_store_target(s));
	ms_store_close(s);
	free(url);
}
END_TEST

START_TEST(null_conninfo_without_database_url_uses_libpq_env)
{
	char *url = mt_migrated_db("conn_env");
	ms_store *s = NULL;
	clear_pg_env();
	setenv("PGHOST", "127.0.0.1", 1);
	setenv("PGPORT", mt_env("PGPORT"), 1);
	setenv("PGUSER", "postgres", 1);
	setenv("PGDATABASE", "conn_env", 1);
	ck_assert_int_eq(ms_store_open(&s, NULL, NULL), MS_OK);
	ck_assert_msg(strstr(ms_store_target(s), "/conn_env") != NULL,
	              "connected to %s", ms_store_target(s));
	ms_store_close(s);
	free(url);
}
END_TEST

START_TEST(explicit_conninfo_wins_over_database_url)
{
	char *url = mt_migrated_db("conn_explicit");
	ms_store *s = NULL;
	setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nowhere", 1);
	ck_assert_int_eq(ms_store_open(&s, url, NULL), MS_OK);
	ms_store_close(s);
	free(url);
}
END_TEST

START_TEST(refused_connection_is_one_line)
{
	ms_store *s = NULL;
	/* Port 1 on loopback: refused at once.  libpq's message is
	 * "...failed: Connection refused\n\tIs the server running...?\n". */
	ck_assert_int_eq(ms_store_open(&s, "postgresql://postgres@127.0.0.1:1/x",
	                               NULL), MS_EUNREACHABLE);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_null(strchr(ms_store_errmsg(s), '\n'));
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "Connection refused"));
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "Is the server running"));
	ms_store_close(s);
}
END_TEST

Suite *db_conn_suite(void)
{
	Suite *s = suite_create("db_conn");
	TCase *tc = tcase_create("Core");
	tcase_add_test(tc, null_conninfo_reads_database_url);
	tcase_add_test(tc, null_conninfo_without_database_url_uses_libpq_env);
	tcase_add_test(tc, explicit_conninfo_wins_over_database_url);
	tcase_add_test(tc, refused_connection_is_one_line);
	suite_add_tcase(s, tc);
	return s;
}
