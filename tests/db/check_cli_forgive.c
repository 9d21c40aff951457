/* check_cli_forgive.c - the CLI forgives as git does: global options
 * after the command, "did you mean" for commands, options and selectors,
 * one JSON object on stderr for every error under --json (nothing from
 * getopt before it), --version --json, one-line messages. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static char *g_url;
static char *g_dir;
static char *g_model;

static void setup(void)
{
	g_url = mt_migrated_db("forgive_tests");
	g_dir = mt_tmpdir();
	ck_assert_int_gt(asprintf(&g_model, "%s/model.pkl", g_dir), 0);
	ck_assert_int_eq(mt_write_random(g_model, 5000, 3), 0);
}

static void teardown(void)
{
	mt_rmtree(g_dir);
	free(g_dir);
	free(g_model);
	free(g_url);
}

/* stderr is exactly one line holding one JSON object with an "error" */
static json_t *one_json_error(const char *err)
{
	json_t *doc;
	ck_assert_msg(strlen(err) > 0 && strchr(err, '\n') == err + strlen(err) - 1,
	              "not one line: %s", err);
	doc = json_loads(err, 0, NULL);
	ck_assert_msg(json_is_object(json_object_get(doc, "error")), "not a JSON error: %s", err);
	return doc;
}

START_TEST(global_options_after_the_command)
{
	char *out = NULL, *err = NULL;
	json_t *doc;
	const char *push[] = { mt_cli(), "push", g_model, "--version", "v1", "--json",
	                       "--db", g_url, "--name=churn", NULL };
	ck_assert_int_eq(mt_run(push, NULL, NULL, 0, &out, &err), 0);
	doc = json_loads(out, 0, NULL);
	ck_assert_msg(doc != NULL, "not JSON: %s (%s)", out, err);
	json_decref(doc);
	free(out); free(err);
	{
		char *n = mt_sql(g_url, "SELECT model_name FROM model_artifacts");
		ck_assert_str_eq(n, "churn");
		free(n);
	}
	/* --name after the command filters as before it */
	const char *list[] = { mt_cli(), "list", "--db", g_url, "--name", "churn", NULL };
	ck_assert_int_eq(mt_run(list, NULL, NULL, 0, &out, &err), 0);
	ck_assert_msg(strstr(out, "v1") != NULL, "%s", out);
	free(out); free(err);
	const char *vj[] = { mt_cli(), "--version", "--json", NULL };
	ck_assert_int_eq(mt_run(vj, NULL, NULL, 0, &out, &err), 0);
	doc = json_loads(out, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "version")), ms_version());
	json_decref(doc);
	free(out); free(err);
}
END_TEST

START_TEST(did_you_mean)
{
	static const struct { const char *args[5]; int code; const char *needle; } cases[] = {
		{ { "pus", NULL }, 2, "unknown command \"pus\" (did you mean push?)" },
		{ { "promot", "v1", NULL }, 2, "(did you mean promote?)" },
		{ { "frobnicate", NULL }, 2, "unknown command \"frobnicate\"" },
		{ { "push", "--acuracy", "0.9", "m", NULL }, 2,
		  "unknown option \"--acuracy\" (did you mean --accuracy?)" },
		{ { "report", "--snice", "3", NULL }, 2, "(did you mean --since?)" },
		{ { "push", "--type", NULL }, 2, "option \"--type\" needs a value" },
		{ { "--jsn", "list", NULL }, 2, "(did you mean --json?)" },
		{ { "show", "prodution", NULL }, 3, "(did you mean production?)" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char *argv[10] = { mt_cli(), "--db", g_url };
		char *out = NULL, *err = NULL;
		int n = 3, rc;
		for (int k = 0; cases[i].args[k]; k++)
			argv[n++] = cases[i].args[k];
		argv[n] = NULL;
		rc = mt_run(argv, NULL, NULL, 0, &out, &err);
		ck_assert_msg(rc == cases[i].code, "case %zu: exit %d: %s", i, rc, err);
		ck_assert_msg(strstr(err, cases[i].needle) != NULL, "case %zu: %s", i, err);
		ck_assert_msg(strncmp(err, "modelstore: ", 12) == 0 &&
		              strchr(err, '\n') == err + strlen(err) - 1, "case %zu: %s", i, err);
		free(out); free(err);
		/* the same with --json at the end: one JSON object, nothing else */
		argv[n++] = "--json";
		argv[n] = NULL;
		rc = mt_run(argv, NULL, NULL, 0, &out, &err);
		ck_assert_msg(rc == cases[i].code, "case %zu --json: exit %d: %s", i, rc, err);
		json_decref(one_json_error(err));
		ck_assert_msg(out[0] == '\0', "case %zu --json: stdout %s", i, out);
		free(out); free(err);
	}
}
END_TEST

START_TEST(messages_are_one_line)
{
	char *out = NULL, *err = NULL;
	const char *argv[] = { mt_cli(), "--db", "postgresql://u@127.0.0.1:1/x?connect_timeout=2",
	                       "list", NULL };
	ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, &err), 4);
	ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1 && strchr(err, '\t') == NULL,
	              "not one line: %s", err);
	ck_assert_msg(strstr(err, "refused Is the server running") != NULL, "%s", err);
	free(out); free(err);
}
END_TEST

Suite *db_cli_forgive_suite(void)
{
	Suite *s = suite_create("db_cli_forgive");
	TCase *tc = tcase_create("Core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, global_options_after_the_command);
	tcase_add_test(tc, did_you_mean);
	tcase_add_test(tc, messages_are_one_line);
	suite_add_tcase(s, tc);
	return s;
}
