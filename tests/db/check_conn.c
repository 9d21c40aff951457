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

/* Connection strings that carry the password "SECRETPW" and that libpq
 * refuses, at parse or at connect, in every shape we know.  port 1 on
 * loopback refuses at once, so none of these waits. */
static const char *const bad_strings[] = {
	"postgresql://u:SECRETPW@[zz/x",
	"postgresql://u:SECRETPW@[::1/x",
	"postgresql://u:SECRET\"PW@[::1/x",
	"postgresql://u:SECRET%zzPW@h/x",
	"postgresql://u:SECRETPW%@h/x",
	"postgresql://u:SECRETPW@h/x?foo=bar",
	"postgresql://u:SECRETPW@h/x?sslmode=bogus%zz",
	"postgresql://u:SECRETPW@h/x?sslmode=bogus",
	"postgresql://u:SECRETPW@127.0.0.1:99999999/x",
	"postgresql://u:SECRETPW@127.0.0.1/x?port=abc",
	"postgresql://u:SECRETPW@127.0.0.1:1/x",
	"postgresql://u:SECRETPW@h1,h2:1:2/x",
	"postgres://u:SECRETPW@:1/x?host=127.0.0.1&target_session_attrs=bogus",
	"postgresql://u:SECRETPW@127.0.0.1:1/x?connect_timeout=abc",
	"postgresql://SECRETPW:SECRETPW@127.0.0.1:1/x?SECRETPW=1",
	"host=h password=SECRETPW sslmode=bogus",
	"host=h password='SECRETPW",
	"host=h password = 'SECRETPW' junk",
	"password=SECRETPW junk",
	"host=127.0.0.1 port=1 password=SECRETPW",
	"postgresql://u:SECRETPW@127.0.0.1:1/x?service=nosuch",
	"postgresql://u:SECRETPW@",
	"postgresql://u:SECRETPW",
	"postgresql://:SECRETPW@/",
	NULL
};

START_TEST(no_password_in_any_open_message)
{
	for (int i = 0; bad_strings[i]; i++) {
		ms_store *s = NULL;
		ms_status st = ms_store_open(&s, bad_strings[i], NULL);
		ck_assert_int_ne(st, MS_OK);
		ck_assert_ptr_nonnull(s);
		ck_assert_msg(strstr(ms_store_errmsg(s), "SECRETPW") == NULL &&
		              strstr(ms_store_errmsg(s), "SECRET") == NULL,
		              "[%s] leaked: %s", bad_strings[i], ms_store_errmsg(s));
		ck_assert_msg(ms_store_errmsg(s)[0] != '\0', "[%s] no message",
		              bad_strings[i]);
		ms_store_close(s);
	}
}
END_TEST

START_TEST(no_password_in_cli_output)
{
	for (int i = 0; bad_strings[i]; i++) {
		for (int json = 0; json < 2; json++) {
			const char *argv[] = { mt_cli(), "--db", bad_strings[i],
				json ? "--json" : "-q", "list", NULL };
			char *out = NULL, *err = NULL;
			int rc = mt_run(argv, NULL, NULL, 0, &out, &err);
			ck_assert_msg(rc == 2 || rc == 4, "[%s] exit %d", bad_strings[i],
			              rc);
			ck_assert_msg(!strstr(out, "SECRET") && !strstr(err, "SECRET"),
			              "[%s] leaked: %s%s", bad_strings[i], out, err);
			free(out);
			free(err);
		}
	}
}
END_TEST

/* A value libpq or the server refuses is a usage error (the caller's to
 * fix), not "database unreachable". */
START_TEST(refused_values_are_usage_errors)
{
	char *url = mt_migrated_db("conn_usage");
	const char *suffixes[] = { "?sslmode=bogus", "?options=-cno_such_guc%3D1",
		"?options=-cwork_mem%3Dlots", "?target_session_attrs=bogus", NULL };
	for (int i = 0; suffixes[i]; i++) {
		char conninfo[512];
		ms_store *s = NULL;
		snprintf(conninfo, sizeof conninfo, "%s%s", url, suffixes[i]);
		ck_assert_msg(ms_store_open(&s, conninfo, NULL) == MS_EINVAL,
		              "[%s] %s", suffixes[i], ms_store_errmsg(s));
		ms_store_close(s);
	}
	free(url);
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
	tcase_add_test(tc, no_password_in_any_open_message);
	tcase_add_test(tc, no_password_in_cli_output);
	tcase_add_test(tc, refused_values_are_usage_errors);
	suite_add_tcase(s, tc);
	return s;
}
