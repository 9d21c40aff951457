/* check_cli.c - the modelstore program: bad input, exit codes, JSON. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

static char *g_url;
static char *g_dir;

/* run the CLI with --db g_url and up to 8 more args */
static int cli(char **out, char **err, const char *a1, const char *a2,
               const char *a3, const char *a4, const char *a5, const char *a6)
{
	const char *argv[12] = { mt_cli(), "--db", g_url };
	const char *rest[] = { a1, a2, a3, a4, a5, a6 };
	int n = 3;
	for (int i = 0; i < 6 && rest[i]; i++)
		argv[n++] = rest[i];
	argv[n] = NULL;
	return mt_run(argv, NULL, NULL, 0, out, err);
}

static char *count_rows(void)
{
	return mt_sql(g_url, "SELECT (SELECT count(*) FROM model_artifacts) || '/' || (SELECT count(*) FROM model_artifact_chunks)");
}

static void setup(void)
{
	g_url = mt_migrated_db("cli_tests");
	g_dir = mt_tmpdir();
}

static void teardown(void)
{
	mt_rmtree(g_dir);
	free(g_dir);
	free(g_url);
}

static char *path_in(const char *name)
{
	char *p = NULL;
	ck_assert_int_gt(asprintf(&p, "%s/%s", g_dir, name), 0);
	return p;
}

START_TEST(push_pull_promote_json)
{
	char *model = path_in("model.bin"), *out = NULL, *err = NULL, *pulled = path_in("pulled.bin");
	ck_assert_int_eq(mt_write_random(model, 3u << 20, 1), 0);
	ck_assert_int_eq(cli(&out, &err, "push", "--type", "RandomForest", "--accuracy", "0.85", model), 0);
	char version[64];
	snprintf(version, sizeof version, "%s", out);
	version[strcspn(version, "\n")] = '\0';
	ck_assert_int_eq(strlen(version), 15);
	free(out); free(err);
	ck_assert_int_eq(cli(&out, &err, "promote", version, NULL, NULL, NULL, NULL), 0);
	free(out); free(err);
	ck_assert_int_eq(cli(&out, &err, "pull", "production", "-o", pulled, NULL, NULL), 0);
	free(out); free(err);
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "cmp -s %s %s", model, pulled);
	ck_assert_int_eq(system(cmd), 0);
	/* refuses to overwrite without --force */
	ck_assert_int_eq(cli(&out, &err, "pull", "production", "-o", pulled, NULL, NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "--force"));
	free(out); free(err);
	ck_assert_int_eq(cli(&out, &err, "pull", "production", "-o", pulled, "--force", NULL), 0);
	free(out); free(err);
	/* --json: one document keyed by column names */
	const char *argv[] = { mt_cli(), "--json", "--db", g_url, "list", NULL };
	ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, &err), 0);
	json_error_t je;
	json_t *doc = json_loads(out, 0, &je);
	ck_assert_msg(doc != NULL, "not JSON: %s", out);
	ck_assert(json_is_array(doc));
	json_t *row = json_array_get(doc, 0);
	ck_assert_str_eq(json_string_value(json_object_get(row, "model_version")), version);
	ck_assert(json_is_true(json_object_get(row, "is_production")));
	ck_assert_str_eq(json_string_value(json_object_get(row, "model_type")), "RandomForest");
	ck_assert_int_eq(json_integer_value(json_object_get(row, "model_size_bytes")), 3 << 20);
	json_decref(doc);
	free(out); free(err);
	free(model); free(pulled);
}
END_TEST

START_TEST(bad_inputs_exit_codes_and_nothing_written)
{
	char *model = path_in("m.bin"), *out = NULL, *err = NULL, *before, *after;
	ck_assert_int_eq(mt_write_random(model, 100, 2), 0);
	ck_assert_int_eq(cli(&out, &err, "push", "--version", "keep1", model, NULL, NULL), 0);
	free(out); free(err);
	before = count_rows();
	struct { const char *args[6]; int code; const char *needle; } cases[] = {
		{ { "push", "/nonexistent/model.bin" }, 3, "/nonexistent/model.bin" },
		{ { "push", "/tmp" }, 2, "is a directory" },
		{ { "push", "--accuracy", "high", model }, 2, "--accuracy" },
		{ { "push", "--metric", "f1", model }, 2, "KEY=VALUE" },
		{ { "push", "--metric", "f1=abc", model }, 2, "not a number" },
		{ { "push", "--version", "123456789012345678901234567890123456789012345678901", model }, 2, "invalid version" },
		{ { "push", "--version", "v1'; DROP TABLE model_artifacts;--", model }, 2, "invalid version" },
		{ { "push", "--version", "keep1", model }, 1, "already exists" },
		{ { "pull", "nosuchversion", "-o", "/tmp/never-written.bin" }, 3, "nosuchversion" },
		{ { "show", "nosuchversion" }, 3, "not found" },
		{ { "promote", "nosuchversion" }, 3, "not found" },
		{ { "push" }, 2, "no model file" },
		{ { "frobnicate" }, 2, "unknown command" },
		{ { "prune" }, 2, "--keep" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char **a = cases[i].args;
		int rc = cli(&out, &err, a[0], a[1], a[2], a[3], a[4], a[5]);
		ck_assert_msg(rc == cases[i].code, "case %zu (%s %s): exit %d, want %d; stderr: %s",
		              i, a[0], a[1] ? a[1] : "", rc, cases[i].code, err);
		ck_assert_msg(strstr(err, cases[i].needle) != NULL, "case %zu: stderr lacks \"%s\": %s",
		              i, cases[i].needle, err);
		ck_assert_msg(strncmp(err, "modelstore: ", 12) == 0, "case %zu: %s", i, err);
		free(out); free(err);
	}
	ck_assert_int_ne(access("/tmp/never-written.bin", F_OK), 0);
	/* names with quotes, semicolons, newlines */
	const char *names[] = { "it's", "a;b", "new\nline", "../../etc" };
	for (size_t i = 0; i < 4; i++) {
		const char *argv[] = { mt_cli(), "--db", g_url, "--name", names[i], "push", model, NULL };
		ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, &err), 2);
		ck_assert_ptr_nonnull(strstr(err, "invalid --name value"));
		free(out); free(err);
	}
	/* unknown model name */
	{
		const char *argv[] = { mt_cli(), "--db", g_url, "--name", "ghost", "pull", "production", "-o", "/tmp/never-written.bin", NULL };
		ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, &err), 3);
		free(out); free(err);
	}
	after = count_rows();
	ck_assert_str_eq(before, after);
	free(before); free(after); free(model);
}
END_TEST

START_TEST(unreadable_file)
{
	char *model = path_in("secret.bin"), *out = NULL, *err = NULL;
	ck_assert_int_eq(mt_write_random(model, 10, 3), 0);
	ck_assert_int_eq(chmod(model, 0), 0);
	if (geteuid() == 0) {
		/* root reads anything: the push must then simply succeed */
		ck_assert_int_eq(cli(&out, &err, "push", model, NULL, NULL, NULL, NULL), 0);
	} else {
		ck_assert_int_eq(cli(&out, &err, "push", model, NULL, NULL, NULL, NULL), 1);
		ck_assert_ptr_nonnull(strstr(err, "secret.bin"));
	}
	free(out); free(err); free(model);
}
END_TEST

START_TEST(unreachable_database_and_no_password_leak)
{
	char *out = NULL, *err = NULL, url[256];
	const char *urls[3];
	snprintf(url, sizeof url, "postgresql://ms_pwuser:Sup3rS3cret@127.0.0.1:%s/postgres", mt_env("PGPORT"));
	urls[0] = "postgresql://u:Sup3rS3cret@127.0.0.1:1/db";        /* refused */
	urls[1] = "postgresql://u:Sup3rS3cret@nonexistent.invalid/db"; /* unknown host */
	urls[2] = url;                                                 /* wrong password */
	for (int i = 0; i < 3; i++) {
		const char *argv[] = { mt_cli(), "--db", urls[i], "list", NULL };
		ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, &err), 4);
		ck_assert_ptr_null(strstr(err, "Sup3rS3cret"));
		ck_assert_ptr_null(strstr(out, "Sup3rS3cret"));
		ck_assert_ptr_nonnull(strstr(err, "unreachable"));
		free(out); free(err);
		const char *jargv[] = { mt_cli(), "--json", "--db", urls[i], "list", NULL };
		ck_assert_int_eq(mt_run(jargv, NULL, NULL, 0, &out, &err), 4);
		json_t *j = json_loads(err, 0, NULL);
		ck_assert_msg(j != NULL, "stderr is not JSON: %s", err);
		ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "error"), "exit_code")), 4);
		json_decref(j);
		free(out); free(err);
	}
}
END_TEST

START_TEST(malformed_connection_strings_are_usage_errors)
{
	const char *urls[] = { "postgresql://u:Sup3r%zzS3cret@127.0.0.1/db",
	                       "host=127.0.0.1 port=notaport password=Sup3rS3cret",
	                       "host=127.0.0.1 password=Sup3rS3cret bogus_option=1" };
	for (int i = 0; i < 3; i++) {
		char *out = NULL, *err = NULL;
		const char *argv[] = { mt_cli(), "--db", urls[i], "list", NULL };
		ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, &err), 2);
		ck_assert_ptr_nonnull(strstr(err, "invalid connection string"));
		ck_assert_msg(strstr(err, "Sup3r") == NULL, "password echoed: %s", err);
		free(out); free(err);
	}
}
END_TEST

START_TEST(corrupt_pull_exits_5_and_writes_nothing)
{
	char *model = path_in("c.bin"), *pulled = path_in("c.out"), *out = NULL, *err = NULL;
	ck_assert_int_eq(mt_write_random(model, 3u << 20, 4), 0);
	ck_assert_int_eq(cli(&out, &err, "push", "--version", "corrupt1", model, NULL, NULL), 0);
	free(out); free(err);
	free(mt_sql(g_url, "UPDATE model_artifact_chunks SET data = set_byte(data, 0, get_byte(data, 0) # 255) WHERE seq = 2 AND artifact_id = (SELECT id FROM model_artifacts WHERE model_version = 'corrupt1')"));
	ck_assert_int_eq(cli(&out, &err, "pull", "corrupt1", "-o", pulled, NULL, NULL), 5);
	ck_assert_ptr_nonnull(strstr(err, "SHA-256 mismatch"));
	ck_assert_int_ne(access(pulled, F_OK), 0);
	free(out); free(err);
	ck_assert_int_eq(cli(&out, &err, "verify", NULL, NULL, NULL, NULL, NULL), 5);
	ck_assert_ptr_nonnull(strstr(out, "MISMATCH"));
	free(out); free(err);
	free(model); free(pulled);
}
END_TEST

START_TEST(every_command_has_help)
{
	const char *cmds[] = { "migrate", "push", "pull", "load", "list", "show", "promote",
	                       "rollback", "export", "prune", "verify", "predictions", "report", "doctor" };
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
		char *out = NULL, *err = NULL;
		const char *argv[] = { mt_cli(), cmds[i], "--help", NULL };
		int rc = mt_run(argv, NULL, NULL, 0, &out, &err);
		ck_assert_msg(rc == 0, "%s --help: exit %d (%s)", cmds[i], rc, err);
		ck_assert_msg(strstr(out, "usage") != NULL, "%s --help prints no usage", cmds[i]);
		free(out); free(err);
	}
}
END_TEST


START_TEST(predictions_import_and_actual)
{
	char *spool = path_in("spool"), *out = NULL, *err = NULL;
	const char *in =
		"{\"model_version\": \"v1\", \"input_features\": {\"year\": 2020}, \"predicted_value\": 10.5, \"confidence_score\": 0.9}\n"
		"{\"model_version\": \"v1\", \"input_features\": {\"year\": 2021}, \"predicted_value\": 11}\n"
		"{\"model_version\": \"v1\", \"input_features\": \"not an object\", \"predicted_value\": 1}\n"
		"this is not json\n"
		"{\"model_name\": \"fraud\", \"model_version\": \"v2\", \"input_features\": {}, \"predicted_value\": 0, \"actual_value\": 1}\n";
	const char *argv[] = { mt_cli(), "--json", "--db", g_url, "predictions", "import", "--spool-dir", spool, NULL };
	int rc = mt_run(argv, NULL, in, strlen(in), &out, &err);
	ck_assert_msg(rc == 1, "import with bad lines: exit %d (%s)", rc, err);
	json_t *doc = json_loads(out, 0, NULL);
	ck_assert_msg(doc != NULL, "not JSON: %s", out);
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "accepted")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "rejected")), 2);
	json_t *rej = json_object_get(doc, "rejections");
	ck_assert_int_eq(json_array_size(rej), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(rej, 0), "line")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(rej, 1), "line")), 4);
	json_decref(doc);
	free(out); free(err);
	char *n = mt_sql(g_url, "SELECT count(*) || '/' || count(prediction_id) || '/' || count(actual_value) FROM model_predictions");
	ck_assert_str_eq(n, "3/3/1");
	free(n);
	char *id = mt_sql(g_url, "SELECT prediction_id FROM model_predictions WHERE predicted_value = 10.5");
	ck_assert_int_eq(strlen(id), 36);
	ck_assert_int_eq(cli(&out, &err, "predictions", "actual", id, "12.25", NULL, NULL), 0);
	free(out); free(err);
	char *sql = NULL;
	ck_assert_int_gt(asprintf(&sql, "SELECT actual_value FROM model_predictions WHERE prediction_id = '%s'", id), 0);
	n = mt_sql(g_url, sql);
	ck_assert_str_eq(n, "12.25");
	free(n); free(sql);
	/* the seed's accuracy query sees it */
	n = mt_sql(g_url, "SELECT AVG(ABS(predicted_value - actual_value)) FROM model_predictions WHERE actual_value IS NOT NULL AND model_version = 'v1'");
	ck_assert_str_eq(n, "1.75");
	free(n);
	ck_assert_int_eq(cli(&out, &err, "predictions", "actual", "0190f5c4-0000-7000-8000-000000000000", "1", NULL, NULL), 3);
	free(out); free(err);
	ck_assert_int_eq(cli(&out, &err, "predictions", "actual", "not-a-uuid", "1", NULL, NULL), 2);
	free(out); free(err);
	ck_assert_int_eq(cli(&out, &err, "predictions", "actual", id, "abc", NULL, NULL), 2);
	free(out); free(err);
	/* everything went to the database: nothing left in the spool */
	const char *rargv[] = { mt_cli(), "--db", g_url, "predictions", "import", "--spool-dir", spool, NULL };
	ck_assert_int_eq(mt_run(rargv, NULL, NULL, 0, &out, &err), 0);
	free(out); free(err);
	n = mt_sql(g_url, "SELECT count(*) FROM model_predictions");
	ck_assert_str_eq(n, "3");
	free(n);
	free(id);
	free(spool);
}
END_TEST

START_TEST(export_then_load_from_fallback)
{
	char *model = path_in("fb.bin"), *fb = path_in("models"), *out = NULL, *err = NULL;
	ck_assert_int_eq(mt_write_random(model, 5000, 11), 0);
	ck_assert_int_eq(cli(&out, &err, "push", "--production", "--version", "fb1", model, NULL), 0);
	free(out); free(err);
	ck_assert_int_eq(cli(&out, &err, "export", "--dir", fb, NULL, NULL, NULL), 0);
	free(out); free(err);
	/* the database is gone: load serves the exported copy, verified */
	const char *argv[] = { mt_cli(), "--json", "--db", "postgresql://u@127.0.0.1:1/x", "--fallback-dir", fb, "load", NULL };
	int rc = mt_run(argv, NULL, NULL, 0, &out, &err);
	ck_assert_msg(rc == 0, "load from fallback: exit %d (%s)", rc, err);
	json_t *doc = json_loads(out, 0, NULL);
	ck_assert_msg(doc != NULL, "not JSON: %s", out);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "source")), "fallback");
	ck_assert_str_eq(json_string_value(json_object_get(doc, "model_version")), "fb1");
	ck_assert(json_is_true(json_object_get(doc, "verified")));
	json_decref(doc);
	free(out); free(err);
	/* corrupt the exported copy: exit 5, never served */
	char *bin = NULL;
	ck_assert_int_gt(asprintf(&bin, "%s/production/model.bin", fb), 0);
	FILE *f = fopen(bin, "r+b");
	ck_assert_ptr_nonnull(f);
	fputc('!', f);
	fclose(f);
	ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, &err), 5);
	free(out); free(err);
	free(bin); free(model); free(fb);
}
END_TEST

Suite *db_cli_suite(void)
{
	Suite *s = suite_create("db_cli");
	TCase *tc = tcase_create("cli");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, push_pull_promote_json);
	tcase_add_test(tc, bad_inputs_exit_codes_and_nothing_written);
	tcase_add_test(tc, unreadable_file);
	tcase_add_test(tc, unreachable_database_and_no_password_leak);
	tcase_add_test(tc, corrupt_pull_exits_5_and_writes_nothing);
	tcase_add_test(tc, malformed_connection_strings_are_usage_errors);
	tcase_add_test(tc, every_command_has_help);
	tcase_add_test(tc, predictions_import_and_actual);
	tcase_add_test(tc, export_then_load_from_fallback);
	suite_add_tcase(s, tc);
	return s;
}
