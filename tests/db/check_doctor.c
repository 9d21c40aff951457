/* check_doctor.c - `modelstore doctor` finds what would hurt in an
 * outage or a deploy: a fallback copy whose bytes no longer match its
 * sidecar, a copy of another version than production, a spool backlog,
 * missing grants; passes on a healthy setup; exit codes. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "errbuf.h"
#include "spool.h"

static char *g_url;
static char *g_dir;      /* scratch */
static char *g_fb;       /* fallback dir */
static char *g_spool;    /* spool dir (absent unless a test makes it) */

/* modelstore --db URL --fallback-dir FB <args...> doctor-or-other */
static int run(char **out, char **err, const char *const *args)
{
	const char *argv[16] = { mt_cli(), "--db", g_url, "--fallback-dir", g_fb };
	int n = 5;
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return mt_run(argv, NULL, NULL, 0, out, err);
}

static int doctor(char **out, bool json)
{
	const char *a[] = { json ? "--json" : "doctor", json ? "doctor" : "--spool-dir",
	                    json ? "--spool-dir" : g_spool, json ? g_spool : NULL, NULL };
	char *err = NULL;
	int rc = run(out, &err, a);
	free(err);
	return rc;
}

static void ok_run(const char *const *args)
{
	char *out = NULL, *err = NULL;
	int rc = run(&out, &err, args);
	ck_assert_msg(rc == 0, "%s: exit %d: %s", args[0], rc, err);
	free(out);
	free(err);
}

/* push VERSION (random bytes, seed), promote it, export it */
static void push_promote(const char *version, unsigned seed, bool export)
{
	char *model = NULL;
	ck_assert_int_gt(asprintf(&model, "%s/%s.bin", g_dir, version), 0);
	ck_assert_int_eq(mt_write_random(model, 200000, seed), 0);
	ok_run((const char *[]){ "push", "--version", version, model, NULL });
	ok_run((const char *[]){ "promote", version, NULL });
	if (export)
		ok_run((const char *[]){ "export", NULL });
	free(model);
}

/* The check object named @name in doctor's JSON document. */
static json_t *check_of(json_t *doc, const char *name)
{
	json_t *checks = json_object_get(doc, "checks"), *c;
	size_t i;
	json_array_foreach(checks, i, c)
		if (strcmp(json_string_value(json_object_get(c, "check")), name) == 0)
			return c;
	return NULL;
}

static void setup(void)
{
	g_url = mt_migrated_db("doctor_tests");
	g_dir = mt_tmpdir();
	ck_assert_int_gt(asprintf(&g_fb, "%s/models", g_dir), 0);
	ck_assert_int_gt(asprintf(&g_spool, "%s/spool", g_dir), 0);
	ck_assert_int_eq(mkdir(g_fb, 0700), 0);
}

static void teardown(void)
{
	mt_rmtree(g_dir);
	free(g_dir);
	free(g_fb);
	free(g_spool);
	free(g_url);
}

START_TEST(healthy_setup_passes)
{
	char *out = NULL;
	json_t *doc, *fb;
	push_promote("v1", 1, true);
	int rc = doctor(&out, false);
	ck_assert_msg(rc == 0, "doctor on a healthy setup: exit %d\n%s", rc, out);
	ck_assert_msg(strstr(out, "FAIL") == NULL, "%s", out);
	ck_assert_msg(strstr(out, "holds production v1") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "PostgreSQL 15") != NULL, "%s", out);
	free(out);
	ck_assert_int_eq(doctor(&out, true), 0);
	doc = json_loads(out, 0, NULL);
	ck_assert_msg(doc != NULL, "not JSON: %s", out);
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "problems")), 0);
	fb = check_of(doc, "fallback[default]");
	ck_assert_ptr_nonnull(fb);
	ck_assert(json_is_true(json_object_get(fb, "ok")));
	ck_assert(json_is_null(json_object_get(fb, "fix")));
	json_decref(doc);
	free(out);
}
END_TEST

/* The copy's bytes are damaged after export: the sidecar's SHA-256 no
 * longer matches.  The loader would refuse it in an outage (exit 5); the
 * doctor says so now, and how to fix it. */
START_TEST(corrupted_fallback_fails)
{
	char *out = NULL, *bin = NULL;
	FILE *f;
	json_t *doc, *fb;
	push_promote("v1", 2, true);
	ck_assert_int_gt(asprintf(&bin, "%s/production/model.bin", g_fb), 0);
	f = fopen(bin, "r+b");
	ck_assert_ptr_nonnull(f);
	fseek(f, 1000, SEEK_SET);
	fputc('X', f);
	fseek(f, 1001, SEEK_SET);
	fputc('Y', f);
	fclose(f);
	ck_assert_int_eq(doctor(&out, false), 1);
	ck_assert_msg(strstr(out, "FAIL fallback[default]") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "SHA-256 mismatch") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "fix: modelstore --fallback-dir") != NULL, "%s", out);
	free(out);
	ck_assert_int_eq(doctor(&out, true), 1);
	doc = json_loads(out, 0, NULL);
	ck_assert_msg(doc != NULL, "not JSON: %s", out);
	fb = check_of(doc, "fallback[default]");
	ck_assert(json_is_false(json_object_get(fb, "ok")));
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(fb, "fix")), "export"));
	json_decref(doc);
	free(out);
	/* the fix it names works */
	ok_run((const char *[]){ "export", NULL });
	ck_assert_int_eq(doctor(&out, false), 0);
	free(out);
	free(bin);
}
END_TEST

/* v2 was promoted after the copy of v1 was written: an outage would
 * serve v1.  The copy verifies against its own sidecar; only the
 * comparison with the database shows it. */
START_TEST(stale_fallback_fails)
{
	char *out = NULL;
	push_promote("v1", 3, true);
	push_promote("v2", 4, false);
	ck_assert_int_eq(doctor(&out, false), 1);
	ck_assert_msg(strstr(out, "FAIL fallback[default]") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "stale: the copy holds v1") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "production is v2") != NULL, "%s", out);
	free(out);
}
END_TEST

START_TEST(missing_fallback_and_pending_migration_fail)
{
	char *out = NULL;
	push_promote("v1", 5, false);
	ck_assert_int_eq(doctor(&out, false), 1);
	ck_assert_msg(strstr(out, "no fallback copy") != NULL, "%s", out);
	free(out);
	/* 004 is the last migration this library needs (005 is optional) */
	free(mt_sql(g_url, "DELETE FROM modelstore_migrations WHERE version >= 4"));
	ck_assert_int_eq(doctor(&out, false), 1);
	ck_assert_msg(strstr(out, "migration 004_partitioning is missing") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "fix: modelstore migrate") != NULL, "%s", out);
	free(out);
}
END_TEST

/* An optional migration pending is said, and is not a problem: the
 * library works without it.  Only the schema check is looked at (the
 * fallback copy is missing here, which fails doctor on its own). */
START_TEST(optional_migration_pending_is_not_a_problem)
{
	char *out = NULL;
	push_promote("v1", 5, false);
	free(mt_sql(g_url, "DELETE FROM modelstore_migrations WHERE version = 5"));
	(void)doctor(&out, false);
	ck_assert_msg(strstr(out, "ok   schema") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "1 optional migration pending") != NULL, "%s", out);
	free(out);
}
END_TEST

/* Rows spooled while the database was out and not replayed since. */
START_TEST(spool_backlog_fails_with_counts)
{
	char *out = NULL;
	ms_spool *sp = NULL;
	ms_err e;
	const void *recs[3] = { "a", "bb", "ccc" };
	const uint32_t lens[3] = { 1, 2, 3 };
	json_t *doc, *c;
	push_promote("v1", 6, true);
	ck_assert_int_eq(ms__spool_new(&sp, &e, g_spool, 1 << 20), MS_OK);
	ck_assert_int_eq(ms__spool_append(sp, &e, recs, lens, 3, true), MS_OK);
	ms__spool_rotate(sp);
	ms__spool_free(sp);
	ck_assert_int_eq(doctor(&out, true), 1);
	doc = json_loads(out, 0, NULL);
	ck_assert_msg(doc != NULL, "not JSON: %s", out);
	c = check_of(doc, "spool");
	ck_assert(json_is_false(json_object_get(c, "ok")));
	ck_assert_msg(strstr(json_string_value(json_object_get(c, "detail")),
	                     "1 file waiting, 3 rows") != NULL, "%s", out);
	ck_assert_msg(strstr(json_string_value(json_object_get(c, "detail")),
	                     "Z (") != NULL, "time without zone: %s", out);
	json_decref(doc);
	free(out);
}
END_TEST

START_TEST(missing_grant_fails)
{
	const char *src = getenv("MS_SOURCE_DIR");
	char *path = NULL, *cmd = NULL, *out = NULL;
	push_promote("v1", 7, true);
	ck_assert_int_gt(asprintf(&path, "%s/sql/roles.sql", src ? src : "."), 0);
	ck_assert_int_gt(asprintf(&cmd, "psql -q -X -v ON_ERROR_STOP=1 -d '%s' -f '%s' >/dev/null 2>&1",
	                          g_url, path), 0);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(doctor(&out, false), 0);
	ck_assert_msg(strstr(out, "3 modelstore roles, every grant in place") != NULL, "%s", out);
	free(out);
	free(mt_sql(g_url, "REVOKE SELECT ON model_prediction_volume_daily FROM modelstore_reader"));
	ck_assert_int_eq(doctor(&out, false), 1);
	ck_assert_msg(strstr(out, "modelstore_reader SELECT model_prediction_volume_daily") != NULL,
	              "%s", out);
	ck_assert_msg(strstr(out, "sql/roles.sql") != NULL, "%s", out);
	free(out);
	ck_assert_int_eq(system(cmd), 0); /* the fix it names */
	ck_assert_int_eq(doctor(&out, false), 0);
	free(out);
	free(path);
	free(cmd);
	/* roles are cluster-wide: leave none behind for the other tests */
	free(mt_sql(g_url, "DROP OWNED BY modelstore_reader, modelstore_writer, modelstore_logger;"
	                   "DROP ROLE modelstore_writer, modelstore_reader, modelstore_logger"));
}
END_TEST

START_TEST(exit_codes)
{
	char *out = NULL, *err = NULL;
	const char *bad[] = { mt_cli(), "--db", "host=x port=abc dbname", "doctor", NULL };
	const char *down[] = { mt_cli(), "--db", "postgresql://u@127.0.0.1:1/x?connect_timeout=2",
	                       "--fallback-dir", g_fb, "doctor", "--spool-dir", g_spool, NULL };
	ck_assert_int_eq(mt_run(bad, NULL, NULL, 0, &out, &err), 2);
	ck_assert_msg(strstr(err, "invalid connection string") != NULL, "%s", err);
	free(out); free(err);
	ck_assert_int_eq(mt_run(down, NULL, NULL, 0, &out, &err), 4);
	ck_assert_msg(strstr(out, "FAIL database") != NULL, "%s", out);
	free(out); free(err);
}
END_TEST

Suite *db_doctor_suite(void)
{
	Suite *s = suite_create("db_doctor");
	TCase *tc = tcase_create("Core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, healthy_setup_passes);
	tcase_add_test(tc, corrupted_fallback_fails);
	tcase_add_test(tc, stale_fallback_fails);
	tcase_add_test(tc, missing_fallback_and_pending_migration_fail);
	tcase_add_test(tc, optional_migration_pending_is_not_a_problem);
	tcase_add_test(tc, spool_backlog_fails_with_counts);
	tcase_add_test(tc, missing_grant_fails);
	tcase_add_test(tc, exit_codes);
	suite_add_tcase(s, tc);
	return s;
}
