/* check_tls.c - connecting over TLS with sslmode=verify-full, through the
 * library and the CLI, against a server that takes TCP logins over TLS
 * only (pg_harness.sh start-tls: a CA and a server certificate for
 * localhost and 127.0.0.1, made when the fixture starts, and an unrelated
 * CA).  The right CA and name connect; a wrong CA, a wrong host name and
 * plain TCP are refused with a message that says why; no password
 * appears in any of those messages (the role ms_pwuser logs in with the
 * password "ms-secret-pw"). */
#define _GNU_SOURCE
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define PW "ms-secret-pw"

static const char *g_db; /* the migrated database's name */

static void setup(void)
{
	char *url = mt_migrated_db("tls");
	ck_assert_ptr_nonnull(mt_env("MS_PG_TLS_CA"));
	ck_assert_ptr_nonnull(mt_env("MS_PG_TLS_OTHER_CA"));
	free(url);
	g_db = "tls";
}

/* key=value conninfo for @p host (and @p hostaddr when not NULL), the
 * role ms_pwuser with its password, verify-full against @p ca. */
static char *conninfo(const char *host, const char *hostaddr, const char *ca)
{
	char *s = NULL;
	ck_assert_int_gt(asprintf(&s, "host=%s%s%s port=%s dbname=%s "
	                          "user=ms_pwuser password=" PW " "
	                          "sslmode=verify-full sslrootcert=%s",
	                          host, hostaddr ? " hostaddr=" : "",
	                          hostaddr ? hostaddr : "", mt_env("PGPORT"),
	                          g_db, ca), 0);
	return s;
}

/* Open a store on @p ci: its status, its message into @p msg. */
static ms_status open_store(const char *ci, char *msg, size_t n)
{
	ms_store *s = NULL;
	ms_artifact_list *list = NULL;
	ms_status st = ms_store_open(&s, ci, NULL);
	if (st == MS_OK) {
		st = ms_store_list(&list, s, NULL, 0);
		ms_artifact_list_free(list);
	}
	snprintf(msg, n, "%s", s ? ms_store_errmsg(s) : "");
	ms_store_close(s);
	return st;
}

/* The CLI's `list` on @p ci: exit code, stderr into *err (free). */
static int cli_list(const char *ci, int json, char **err)
{
	const char *argv[] = {mt_cli(), "--db", ci, json ? "--json" : "-q",
	                      "list", NULL};
	char *out = NULL;
	int rc = mt_run(argv, NULL, NULL, 0, &out, err);
	ck_assert_msg(strstr(out, PW) == NULL, "password on stdout: %s", out);
	free(out);
	return rc;
}

START_TEST(verify_full_connects_by_name_and_address)
{
	const char *hosts[] = {"localhost", "127.0.0.1"};
	for (int i = 0; i < 2; i++) {
		char msg[1024], *err = NULL;
		char *ci = conninfo(hosts[i], NULL, mt_env("MS_PG_TLS_CA"));
		ck_assert_msg(open_store(ci, msg, sizeof msg) == MS_OK, "[%s] %s",
		              hosts[i], msg);
		/* the session really is encrypted */
		PGconn *c = PQconnectdb(ci);
		ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
		PGresult *r = PQexec(c, "SELECT ssl FROM pg_stat_ssl "
		                        "WHERE pid = pg_backend_pid()");
		ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
		ck_assert_str_eq(PQgetvalue(r, 0, 0), "t");
		PQclear(r);
		PQfinish(c);
		int rc = cli_list(ci, 0, &err);
		ck_assert_msg(rc == 0, "[%s] exit %d: %s", hosts[i], rc, err);
		free(err);
		free(ci);
	}
}
END_TEST

/* A certificate the client's CA did not sign: refused, exit 4, the
 * message names the certificate, no password. */
START_TEST(wrong_ca_refused)
{
	char msg[1024];
	char *ci = conninfo("localhost", NULL, mt_env("MS_PG_TLS_OTHER_CA"));
	ck_assert_int_eq(open_store(ci, msg, sizeof msg), MS_EUNREACHABLE);
	ck_assert_msg(strstr(msg, "certificate verify failed") != NULL, "%s", msg);
	ck_assert_msg(strstr(msg, PW) == NULL, "leaked: %s", msg);
	for (int json = 0; json < 2; json++) {
		char *err = NULL;
		int rc = cli_list(ci, json, &err);
		ck_assert_msg(rc == 4, "exit %d: %s", rc, err);
		ck_assert_msg(strstr(err, "certificate verify failed") != NULL, "%s",
		              err);
		ck_assert_msg(strstr(err, PW) == NULL, "leaked: %s", err);
		free(err);
	}
	free(ci);
}
END_TEST

/* The right CA, but the certificate does not name the host we asked
 * for (we reach 127.0.0.1 by hostaddr, under another name). */
START_TEST(wrong_host_name_refused)
{
	char msg[1024];
	char *ci = conninfo("db.example.invalid", "127.0.0.1",
	                    mt_env("MS_PG_TLS_CA"));
	ck_assert_int_eq(open_store(ci, msg, sizeof msg), MS_EUNREACHABLE);
	ck_assert_msg(strstr(msg, "server certificate for \"localhost\"") &&
	              strstr(msg, "does not match host name "
	                          "\"db.example.invalid\""), "%s", msg);
	ck_assert_msg(strstr(msg, PW) == NULL, "leaked: %s", msg);
	for (int json = 0; json < 2; json++) {
		char *err = NULL;
		int rc = cli_list(ci, json, &err);
		ck_assert_msg(rc == 4, "exit %d: %s", rc, err);
		ck_assert_msg(strstr(err, "does not match host name") != NULL, "%s",
		              err);
		ck_assert_msg(strstr(err, PW) == NULL, "leaked: %s", err);
		free(err);
	}
	free(ci);
}
END_TEST

/* verify-full with no CA file: refused before any login, saying which
 * file is missing (exit 4, as docs/operations.md says). */
START_TEST(missing_root_cert_refused)
{
	char msg[1024], *err = NULL;
	char *ci = conninfo("localhost", NULL, "/nonexistent/ca.crt");
	ck_assert_int_eq(open_store(ci, msg, sizeof msg), MS_EUNREACHABLE);
	ck_assert_msg(strstr(msg, "root certificate file") &&
	              strstr(msg, "/nonexistent/ca.crt"), "%s", msg);
	ck_assert_msg(strstr(msg, PW) == NULL, "leaked: %s", msg);
	ck_assert_int_eq(cli_list(ci, 0, &err), 4);
	ck_assert_msg(strstr(err, PW) == NULL, "leaked: %s", err);
	free(err);
	free(ci);
}
END_TEST

/* The server takes no plain TCP login: sslmode=disable is refused by
 * pg_hba.conf, so the tests above really went through TLS. */
START_TEST(plain_tcp_refused)
{
	char msg[1024], *ci = NULL;
	ck_assert_int_gt(asprintf(&ci, "postgresql://ms_pwuser:" PW
	                          "@127.0.0.1:%s/%s?sslmode=disable",
	                          mt_env("PGPORT"), g_db), 0);
	ck_assert_int_eq(open_store(ci, msg, sizeof msg), MS_EUNREACHABLE);
	ck_assert_msg(strstr(msg, "no encryption") != NULL, "%s", msg);
	ck_assert_msg(strstr(msg, PW) == NULL, "leaked: %s", msg);
	free(ci);
}
END_TEST

Suite *db_tls_suite(void)
{
	Suite *s = suite_create("db_tls");
	TCase *tc = tcase_create("Core");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, verify_full_connects_by_name_and_address);
	tcase_add_test(tc, wrong_ca_refused);
	tcase_add_test(tc, wrong_host_name_refused);
	tcase_add_test(tc, missing_root_cert_refused);
	tcase_add_test(tc, plain_tcp_refused);
	suite_add_tcase(s, tc);
	return s;
}
