/* check_import.c - `modelstore predictions import` against a real server
 * (issue 9, defects 5 and 6): what is stored is what the user sent, the
 * counters and exit codes tell the truth. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

static char *g_url;
static char *g_dir;
static char *g_spool;

static void setup(void)
{
	g_url = mt_migrated_db("import_tests");
	g_dir = mt_tmpdir();
	ck_assert_int_gt(asprintf(&g_spool, "%s/spool", g_dir), 0);
}

static void teardown(void)
{
	mt_rmtree(g_dir);
	free(g_dir);
	free(g_spool);
	free(g_url);
}

/* `modelstore [--json] --db URL predictions import --spool-dir SPOOL`
 * with @p in on stdin. */
static int import(const char *url, bool json, const char *in, char **out,
                  char **err)
{
	const char *argv[10];
	int n = 0;
	argv[n++] = mt_cli();
	if (json)
		argv[n++] = "--json";
	argv[n++] = "--db";
	argv[n++] = url;
	argv[n++] = "predictions";
	argv[n++] = "import";
	argv[n++] = "--spool-dir";
	argv[n++] = g_spool;
	argv[n] = NULL;
	return mt_run(argv, NULL, in, in ? strlen(in) : 0, out, err);
}

/* The features as jsonb renders the raw text: PostgreSQL's own reading
 * of what the user sent, and the expected literal besides. */
#define FEATURES "{\"a\": 0.1, \"b\": -0.0, \"c\": 1e2, " \
	"\"d\": 12345678901234567890, \"e\": 1.50, \"f\": 1e-400, " \
	"\"g\": 123456789012345678901234567890.123456789}"

START_TEST(features_stored_as_sent)
{
	/* Before the fix the features were parsed by jansson and written back
	 * out: 0.1 became 0.10000000000000001, 1e2 100.0, 1.50 1.5, 1e-400 0,
	 * and the line with 12345678901234567890 was refused whole. */
	char *out = NULL, *err = NULL, *got, *want;
	const char *in = "{\"model_version\": \"v1\", \"input_features\": "
	                 FEATURES ", \"predicted_value\": 0.5}\n";
	int rc = import(g_url, false, in, &out, &err);
	ck_assert_msg(rc == 0, "import: exit %d (%s)", rc, err);
	free(out);
	free(err);
	got = mt_sql(g_url, "SELECT input_features::text FROM model_predictions");
	want = mt_sql(g_url, "SELECT '" FEATURES "'::jsonb::text");
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	/* what the old path would have stored instead */
	ck_assert_msg(strstr(got, "\"a\": 0.1,") && strstr(got, "\"c\": 100,") &&
	              strstr(got, "\"d\": 12345678901234567890,") &&
	              strstr(got, "\"e\": 1.50,") &&
	              strstr(got, "\"f\": 0.0000") && strstr(got, "0001, \"g\""),
	              "%s", got);
	free(got);
	free(want);
}
END_TEST

Suite *db_import_suite(void)
{
	Suite *s = suite_create("db_import");
	TCase *tc = tcase_create("import");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, features_stored_as_sent);
	suite_add_tcase(s, tc);
	return s;
}
