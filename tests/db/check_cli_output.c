/* check_cli_output.c - what the CLI prints from stored strings: never a
 * terminal control sequence, never a stray byte, never "nan". */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* ESC [ 2 J (clear screen), a BEL, and CSI as the UTF-8 C1 control. */
#define HOSTILE_TYPE "RF\x1b[2J\x07"
#define HOSTILE_RUN "run\xc2\x9b" "31m"

static bool has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p < 0x20 && *p != '\n') || *p == 0x7f)
			return true;
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return true;
	}
	return false;
}

static int run(const char *url, char **out, const char *const *args)
{
	const char *argv[16] = { mt_cli(), "--db", url };
	int n = 3;
	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return mt_run(argv, NULL, NULL, 0, out, NULL);
}

START_TEST(stored_control_characters_are_escaped)
{
	char *url = mt_migrated_db("cli_output");
	char *dir = mt_tmpdir(), model[512], *out = NULL;
	const char *push[] = { "push", "--type", HOSTILE_TYPE, "--run-id",
		HOSTILE_RUN, model, NULL };
	const char *list[] = { "list", NULL };
	const char *show[] = { "show", "latest", NULL };

	snprintf(model, sizeof model, "%s/m.bin", dir);
	ck_assert_int_eq(mt_write_random(model, 1000, 1), 0);
	ck_assert_int_eq(run(url, &out, push), 0);
	free(out);

	ck_assert_int_eq(run(url, &out, list), 0);
	ck_assert_msg(!has_control(out), "list printed a control byte: %s", out);
	ck_assert_ptr_nonnull(strstr(out, "RF\\x1b[2J\\x07"));
	free(out);

	ck_assert_int_eq(run(url, &out, show), 0);
	ck_assert_msg(!has_control(out), "show printed a control byte: %s", out);
	ck_assert_ptr_nonnull(strstr(out, "run\\x9b31m"));
	ck_assert_ptr_nonnull(strstr(out, "RF\\x1b[2J\\x07"));
	/* pushed without metrics: absent, not "nan" */
	ck_assert_ptr_null(strstr(out, "nan"));
	ck_assert_ptr_nonnull(strstr(out, "accuracy_score: -\n"));
	free(out);
	mt_rmtree(dir);
	free(dir);
	free(url);
}
END_TEST

START_TEST(verify_prints_no_backspace)
{
	char *url = mt_migrated_db("cli_verify_out");
	char *out = NULL, *r;
	const char *verify[] = { "verify", NULL };
	/* A row written the seed's way: no hash recorded. */
	r = mt_sql(url, "INSERT INTO model_artifacts (run_id, model_version, "
	           "model_type, model_binary, model_size_bytes) VALUES "
	           "('r', '20260101_000000', 'seed', '\\x00010203', 4) "
	           "RETURNING id");
	ck_assert_ptr_nonnull(r);
	free(r);
	ck_assert_int_eq(run(url, &out, verify), 0);
	ck_assert_msg(strchr(out, '\b') == NULL, "verify printed a backspace");
	ck_assert_ptr_nonnull(strstr(out, "(no recorded hash; bytes hash to "));
	ck_assert_ptr_nonnull(strstr(out, ")\n"));
	free(out);
	free(url);
}
END_TEST

Suite *db_cli_output_suite(void)
{
	Suite *s = suite_create("db_cli_output");
	TCase *tc = tcase_create("Core");
	tcase_add_test(tc, stored_control_characters_are_escaped);
	tcase_add_test(tc, verify_prints_no_backspace);
	suite_add_tcase(s, tc);
	return s;
}
