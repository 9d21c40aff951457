/* check_json_diff.c - the features scanner (ms__features_valid) against
 * the real server: for every case in tests/corpus/features/ (the
 * generated cases and the fuzzer's committed corpus), the scanner
 * accepts exactly when PostgreSQL takes the bytes as jsonb and the value
 * is an object.  The bytes go as a binary jsonb parameter (version 1 then
 * the text), so NULs and invalid UTF-8 reach the server as they are; a
 * protocol-level encoding refusal counts as refused.  Cases named
 * diverge-* are the documented differences (json_check.h): the scanner
 * refuses, the server accepts. */
#define _GNU_SOURCE
#include <dirent.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "json_check.h"

#define JSONB_OID 3802

static char *g_url;

static void setup(void)
{
	g_url = mt_fresh_db("json_diff");
}

static void teardown(void)
{
	free(g_url);
}

/* The whole of @p path in a malloc'd buffer (with one spare byte in front
 * for the jsonb version); *n its length. */
static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "open %s", path);
	size_t cap = 4096, len = 1;
	char *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	for (;;) {
		len += fread(buf + len, 1, cap - len, f);
		if (len < cap)
			break;
		buf = realloc(buf, cap *= 2);
		ck_assert_ptr_nonnull(buf);
	}
	ck_assert_msg(!ferror(f), "read %s", path);
	fclose(f);
	*n = len - 1;
	return buf;
}

/* Does the server take buf[1..n] as jsonb, and is it an object? */
static bool server_accepts(PGconn *c, char *buf, size_t n)
{
	const Oid types[] = {JSONB_OID};
	const char *values[] = {buf};
	const int lengths[] = {(int)n + 1};
	const int formats[] = {1};
	buf[0] = 1; /* jsonb binary format version */
	PGresult *r = PQexecParams(c, "SELECT jsonb_typeof($1::jsonb)", 1, types,
	                           values, lengths, formats, 0);
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK &&
	          strcmp(PQgetvalue(r, 0, 0), "object") == 0;
	PQclear(r);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connection lost: %s",
	              PQerrorMessage(c));
	return ok;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* A case: a file *.json (written by tests/corpus/gen_features.py) or a
 * file named by its SHA-1, 40 hex digits (an input the fuzzer found,
 * added by `tests/fuzz/run.sh --merge fuzz_json_check`). */
static int is_case(const struct dirent *d)
{
	size_t l = strlen(d->d_name);
	if (l == 40 && strspn(d->d_name, "0123456789abcdef") == 40)
		return 1;
	return l > 5 && strcmp(d->d_name + l - 5, ".json") == 0;
}

START_TEST(scanner_matches_server)
{
	char *dir = NULL, *report = NULL;
	size_t report_len = 0;
	FILE *rep = open_memstream(&report, &report_len);
	const char *src = getenv("MS_SOURCE_DIR");
	struct dirent **names;
	int mismatches = 0, count;
	ck_assert_int_gt(asprintf(&dir, "%s/tests/corpus/features",
	                          src ? src : "."), 0);
	count = scandir(dir, &names, is_case, by_name);
	ck_assert_msg(count >= 200, "corpus %s: %d cases", dir, count);
	PGconn *c = PQconnectdb(g_url);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	for (int i = 0; i < count; i++) {
		char *path = NULL;
		size_t n, where;
		const char *why;
		const char *name = names[i]->d_name;
		ck_assert_int_gt(asprintf(&path, "%s/%s", dir, name), 0);
		char *buf = slurp(path, &n);
		bool ours = ms__features_valid(buf + 1, n, &where, &why);
		bool theirs = server_accepts(c, buf, n);
		bool diverge = strncmp(name, "diverge-", 8) == 0;
		if (diverge ? (ours || !theirs) : ours != theirs) {
			mismatches++;
			fprintf(rep, "\n  %s: scanner %s%s%s, server %s%s", name,
			        ours ? "accepts" : "refuses (", ours ? "" : why,
			        ours ? "" : ")", theirs ? "accepts" : "refuses",
			        diverge ? " (want: scanner refuses, server accepts)" : "");
		}
		free(buf);
		free(path);
		free(names[i]);
	}
	PQfinish(c);
	free(names);
	fclose(rep);
	if (mismatches)
		fprintf(stderr, "db_json_diff mismatches:%s\n", report);
	ck_assert_msg(mismatches == 0, "%d of %d cases differ from PostgreSQL:%s",
	              mismatches, count, report);
	free(report);
	free(dir);
}
END_TEST

Suite *db_json_diff_suite(void)
{
	Suite *s = suite_create("db_json_diff");
	TCase *tc = tcase_create("Corpus");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, scanner_matches_server);
	suite_add_tcase(s, tc);
	return s;
}
