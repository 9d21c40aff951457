/* check_import.c - `modelstore predictions import` against a real server
 * (issue 9, defects 5 and 6): what is stored is what the user sent, the
 * counters and exit codes tell the truth. */
#define _GNU_SOURCE
#include <jansson.h>
#include <math.h>
#include <pthread.h>
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

static const char *ONE_ROW =
	"{\"model_version\": \"v1\", \"input_features\": {\"x\": 1}, "
	"\"predicted_value\": 2}\n";

/* The JSON document on @p out, or a failed test. */
static json_t *doc_of(const char *out)
{
	json_t *doc = json_loads(out ? out : "", 0, NULL);
	ck_assert_msg(doc != NULL, "not JSON: %s", out);
	return doc;
}

static long long num(json_t *doc, const char *key)
{
	json_t *v = json_object_get(doc, key);
	ck_assert_msg(json_is_integer(v), "no integer %s", key);
	return json_integer_value(v);
}

static void admin(const char *sql)
{
	char *r = mt_sql(g_url, sql);
	ck_assert_msg(r != NULL, "%s failed", sql);
	free(r);
}

START_TEST(permission_denied_is_not_unreachable)
{
	/* A role without INSERT on model_predictions: before the fix, import
	 * said "database unreachable" and exited 4.  Now: exit 1 (permission
	 * denied, docs/cli.md), the server's words, the rows kept in the
	 * spool for a role that may write them. */
	char *url = NULL, *out = NULL, *err = NULL, *n;
	json_t *doc;
	int rc;
	admin("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname ="
	      " 'ms_i_noinsert') THEN CREATE ROLE ms_i_noinsert LOGIN; END IF;"
	      " END $$");
	ck_assert_int_gt(asprintf(&url, "postgresql://ms_i_noinsert@127.0.0.1:"
	                          "%s/import_tests", mt_env("PGPORT")), 0);
	rc = import(url, true, ONE_ROW, &out, &err);
	ck_assert_msg(rc == 1, "exit %d (%s)", rc, err);
	ck_assert_msg(strstr(err, "permission denied for table "
	                     "model_predictions") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "unreachable") == NULL, "%s", err);
	doc = doc_of(out);
	ck_assert(json_is_true(json_object_get(doc, "spool_pending")));
	ck_assert_int_eq(num(doc, "spooled"), 1);
	ck_assert_int_eq(num(doc, "lost"), 0);
	json_decref(doc);
	free(out);
	free(err);
	/* text mode too; then the owner replays the kept row */
	rc = import(url, false, NULL, &out, &err);
	ck_assert_msg(rc == 1 && strstr(err, "permission denied"), "exit %d (%s)",
	              rc, err);
	free(out);
	free(err);
	ck_assert_int_eq(import(g_url, false, NULL, &out, &err), 0);
	free(out);
	free(err);
	n = mt_sql(g_url, "SELECT count(*) FROM model_predictions");
	ck_assert_str_eq(n, "1");
	free(n);
	free(url);
}
END_TEST

/* Write @p text to @p dir/@p name. */
static void put_file(const char *dir, const char *name, const char *text)
{
	char *p = NULL;
	FILE *f;
	ck_assert_int_gt(asprintf(&p, "%s/%s", dir, name), 0);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

static bool exists(const char *dir, const char *name)
{
	char *p = NULL;
	struct stat sb;
	bool r;
	ck_assert_int_gt(asprintf(&p, "%s/%s", dir, name), 0);
	r = lstat(p, &sb) == 0;
	free(p);
	return r;
}

START_TEST(stray_spool_names_are_left_alone)
{
	/* pl-* names that are not our spool files, with the database up:
	 * before the fix import exited 4 ("rows wait in the spool: database
	 * unreachable"), and a FIFO named pl-*.spool hung the replay. */
	static const char *const names[] = {
		"pl-notes.txt", "pl-dir", "pl-text.spool", "pl-subdir.spool",
		"pl-fifo.spool", "pl-link.spool", "pl-v9.spool",
	};
	char *out = NULL, *err = NULL, *p = NULL, *n;
	int rc;
	ck_assert_int_eq(mkdir(g_spool, 0700), 0);
	put_file(g_spool, "pl-notes.txt", "not ours\n");
	put_file(g_spool, "pl-text.spool", "a text file, not a spool\n");
	put_file(g_spool, "pl-v9.spool", "MSPOOL9\nfrom a future version");
	put_file(g_dir, "target", "MSPOOL2\n");
	ck_assert_int_gt(asprintf(&p, "%s/pl-dir", g_spool), 0);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	free(p);
	ck_assert_int_gt(asprintf(&p, "%s/pl-subdir.spool", g_spool), 0);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	free(p);
	ck_assert_int_gt(asprintf(&p, "%s/pl-fifo.spool", g_spool), 0);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	free(p);
	ck_assert_int_gt(asprintf(&p, "%s/pl-link.spool", g_spool), 0);
	{
		char *t = NULL;
		ck_assert_int_gt(asprintf(&t, "%s/target", g_dir), 0);
		ck_assert_int_eq(symlink(t, p), 0);
		free(t);
	}
	free(p);
	rc = import(g_url, false, ONE_ROW, &out, &err);
	ck_assert_msg(rc == 0, "exit %d (%s)", rc, err);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		ck_assert_msg(exists(g_spool, names[i]), "%s was removed",
		              names[i]);
		ck_assert_msg(strstr(err, names[i]) != NULL, "no warning names %s: "
		              "%s", names[i], err);
	}
	ck_assert_msg(strstr(out, "lost 0") != NULL && strstr(out, "wait") ==
	              NULL, "%s", out);
	n = mt_sql(g_url, "SELECT count(*) FROM model_predictions");
	ck_assert_str_eq(n, "1");
	free(n);
	free(out);
	free(err);
	/* an empty stdin just replays: nothing pending, exit 0 */
	rc = import(g_url, true, NULL, &out, &err);
	ck_assert_msg(rc == 0, "exit %d (%s)", rc, err);
	free(out);
	free(err);
}
END_TEST

START_TEST(malformed_conninfo_is_a_usage_error)
{
	/* Before the fix these spooled the rows and exited 4 ("database
	 * unreachable"): they are the caller's mistakes, exit 2, and nothing
	 * is read, spooled or written. */
	static const char *const tails[] = {
		"?sslmode=bogus",
		"?options=-c%20work_mem%3Dnot_a_size",
		"?options=-c%20no_such_setting%3D1",
	};
	for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
		char *url = NULL, *out = NULL, *err = NULL, *n;
		int rc;
		ck_assert_int_gt(asprintf(&url, "%s%s", g_url, tails[i]), 0);
		rc = import(url, false, ONE_ROW, &out, &err);
		ck_assert_msg(rc == 2, "%s: exit %d (%s)", tails[i], rc, err);
		ck_assert_msg(strstr(err, "invalid connection string") != NULL,
		              "%s: %s", tails[i], err);
		ck_assert_msg(!exists(g_dir, "spool"), "%s: spooled", tails[i]);
		n = mt_sql(g_url, "SELECT count(*) FROM model_predictions");
		ck_assert_str_eq(n, "0");
		free(n);
		free(out);
		free(err);
		free(url);
	}
}
END_TEST

START_TEST(rows_lost_are_counted_exactly)
{
	/* The database down and the spool unable to take rows (its directory
	 * cannot be created, as a full disk would refuse it).  Before the fix: a 120 s flush timeout,
	 * then "flush: timed out after 120000 ms" and no count.  Now: the
	 * count of rows lost, read after close, and exit 1. */
	enum { ROWS = 15000 };
	size_t len = strlen(ONE_ROW);
	char *in = malloc(len * ROWS + 1), *out = NULL, *err = NULL, *msg = NULL;
	const char *argv[10];
	json_t *doc;
	int rc;
	ck_assert_ptr_nonnull(in);
	for (size_t i = 0; i < ROWS; i++)
		memcpy(in + i * len, ONE_ROW, len);
	in[len * ROWS] = '\0';
	{
		/* the spool: a dangling symbolic link, so that listing it finds
		 * nothing and every write to it fails, even as root */
		char *t = NULL;
		ck_assert_int_gt(asprintf(&t, "%s/nowhere/at/all", g_dir), 0);
		ck_assert_int_eq(symlink(t, g_spool), 0);
		free(t);
	}
	argv[0] = mt_cli();
	argv[1] = "--json";
	argv[2] = "--db";
	argv[3] = "postgresql://u@127.0.0.1:1/nothing?connect_timeout=2";
	argv[4] = "predictions";
	argv[5] = "import";
	argv[6] = "--spool-dir";
	argv[7] = g_spool;
	argv[8] = NULL;
	rc = mt_run(argv, NULL, in, len * ROWS, &out, &err);
	ck_assert_msg(rc == 1, "exit %d (%s)", rc, err);
	doc = doc_of(out);
	ck_assert_int_eq(num(doc, "accepted"), ROWS);
	ck_assert_int_eq(num(doc, "lost"), ROWS);
	ck_assert_int_eq(num(doc, "written"), 0);
	ck_assert_int_eq(num(doc, "spooled"), 0);
	json_decref(doc);
	ck_assert_int_gt(asprintf(&msg, "%d rows lost", ROWS), 0);
	ck_assert_msg(strstr(err, msg) != NULL, "%s", err);
	free(msg);
	free(out);
	free(err);
	/* text mode says the same */
	argv[1] = "-q";
	rc = mt_run(argv, NULL, in, len * 3, &out, &err);
	ck_assert_msg(rc == 1 && strstr(err, "3 rows lost"), "exit %d (%s)", rc,
	              err);
	free(out);
	free(err);
	free(in);
}
END_TEST

START_TEST(server_refusals_listed_by_line)
{
	/* Rows the server refuses (here a CHECK constraint): before the fix
	 * text mode printed "rejected 0" and nothing on stderr, with exit 1.
	 * Now each is listed with its line number and the server's reason,
	 * in text and JSON, and counted. */
	const char *in =
		"{\"model_version\": \"v1\", \"input_features\": {}, \"predicted_value\": 1}\n"
		"{\"model_version\": \"poison\", \"input_features\": {}, \"predicted_value\": 2}\n"
		"{\"model_version\": \"v1\", \"input_features\": {}, \"predicted_value\": 3}\n"
		"not json\n"
		"{\"model_version\": \"poison\", \"input_features\": {}, \"predicted_value\": 5}\n"
		"{\"model_version\": \"v1\", \"input_features\": {}, \"predicted_value\": 6}\n";
	char *out = NULL, *err = NULL, *n;
	json_t *doc, *rej;
	int rc;
	admin("ALTER TABLE model_predictions ADD CONSTRAINT no_poison"
	      " CHECK (model_version <> 'poison')");
	rc = import(g_url, false, in, &out, &err);
	ck_assert_msg(rc == 1, "exit %d (%s)", rc, err);
	ck_assert_msg(strstr(err, "line 2: refused by the server: ") != NULL &&
	              strstr(err, "line 5: refused by the server: ") != NULL &&
	              strstr(err, "no_poison") != NULL &&
	              strstr(err, "line 4: invalid JSON") != NULL, "%s", err);
	ck_assert_msg(strstr(out, "accepted 5, rejected 3, written 3,") != NULL,
	              "%s", out);
	free(out);
	free(err);
	rc = import(g_url, true, in, &out, &err);
	ck_assert_msg(rc == 1, "exit %d (%s)", rc, err);
	doc = doc_of(out);
	ck_assert_int_eq(num(doc, "server_rejected"), 2);
	ck_assert_int_eq(num(doc, "rejected"), 3);
	ck_assert_int_eq(num(doc, "written"), 3);
	rej = json_object_get(doc, "rejections");
	ck_assert_int_eq(json_array_size(rej), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(
	                 json_array_get(rej, 0), "line")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(
	                 json_array_get(rej, 1), "line")), 4);
	ck_assert_int_eq(json_integer_value(json_object_get(
	                 json_array_get(rej, 2), "line")), 5);
	json_decref(doc);
	free(out);
	free(err);
	n = mt_sql(g_url, "SELECT count(*) || '/' || count(*) FILTER (WHERE"
	           " model_version = 'v1') FROM model_predictions");
	ck_assert_str_eq(n, "6/6");
	free(n);
}
END_TEST

/* What on_reject was told, from the writer thread. */
typedef struct told {
	pthread_mutex_t mu;
	char ids[64][MS_UUID_STRLEN];
	size_t n;
	bool reason_ok;
} told;

static void record_reject(void *payload, const char *id, const char *reason)
{
	told *t = payload;
	pthread_mutex_lock(&t->mu);
	if (t->n < 64)
		snprintf(t->ids[t->n++], MS_UUID_STRLEN, "%s", id);
	if (strstr(reason, "no_poison") == NULL)
		t->reason_ok = false;
	pthread_mutex_unlock(&t->mu);
}

START_TEST(library_names_refused_rows_and_final_counters)
{
	/* on_reject names exactly the rows the server refused, once each,
	 * and the re-sends that find them move no counter: rejected and
	 * written are what a caller would count by hand.  The counters of
	 * ms_predlog_close_stats are final. */
	enum { ROWS = 2000, EVERY = 200 };
	char poison[ROWS / EVERY][MS_UUID_STRLEN];
	told t = { .reason_ok = true };
	ms_predlog_options o;
	ms_predlog_stats st = MS_PREDLOG_STATS_INIT;
	ms_buf err = MS_BUF_INIT;
	ms_predlog *pl;
	size_t np = 0;
	char *n;
	admin("ALTER TABLE model_predictions ADD CONSTRAINT no_poison"
	      " CHECK (model_version <> 'poison')");
	pthread_mutex_init(&t.mu, NULL);
	ck_assert_int_eq(ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION),
	                 MS_OK);
	o.spool_dir = g_spool;
	o.on_reject = record_reject;
	o.on_reject_payload = &t;
	ck_assert_int_eq(ms_predlog_open(&pl, g_url, &o), MS_OK);
	for (int i = 0; i < ROWS; i++) {
		char id[MS_UUID_STRLEN];
		bool bad = i % EVERY == 7;
		ms_prediction p = { NULL, bad ? "poison" : "v1", "{\"i\": 1}",
		                    (double)i, NAN, NAN };
		ck_assert_int_eq(ms_predlog_log(id, pl, &p), MS_OK);
		if (bad)
			memcpy(poison[np++], id, MS_UUID_STRLEN);
	}
	ck_assert_int_eq(ms_predlog_close_stats(&st, &err, pl), MS_OK);
	ck_assert_uint_eq(st.accepted, ROWS);
	ck_assert_uint_eq(st.written, ROWS - np);
	ck_assert_uint_eq(st.rejected, np);
	ck_assert_uint_eq(st.lost, 0);
	ck_assert_msg(strstr(err.ptr, "rejected by the server") != NULL, "%s",
	              err.ptr);
	ck_assert_uint_eq(t.n, np);
	ck_assert(t.reason_ok);
	for (size_t i = 0; i < np; i++) {
		bool found = false;
		for (size_t j = 0; j < t.n; j++)
			found = found || strcmp(t.ids[j], poison[i]) == 0;
		ck_assert_msg(found, "refused row %s not named", poison[i]);
	}
	n = mt_sql(g_url, "SELECT count(*) FROM model_predictions");
	ck_assert_int_eq(atoi(n), ROWS - (int)np);
	free(n);
	ms_buf_dispose(&err);
	pthread_mutex_destroy(&t.mu);
}
END_TEST

START_TEST(close_stats_says_why_rows_wait)
{
	/* the database down: nothing lost, the row spooled, and the result
	 * says unreachable; a version 1 options struct is still taken */
	ms_predlog_options o;
	ms_predlog_stats st = MS_PREDLOG_STATS_INIT;
	ms_buf err = MS_BUF_INIT;
	ms_predlog *pl;
	ms_prediction p = { NULL, "v1", "{}", 1.0, NAN, NAN };
	ck_assert_int_eq(ms_predlog_options_init(&o, 1), MS_OK);
	ck_assert_uint_eq(o.version, 1);
	o.spool_dir = g_spool;
	o.connect_timeout = 1;
	ck_assert_int_eq(ms_predlog_open(&pl, "postgresql://u@127.0.0.1:1/x", &o),
	                 MS_OK);
	ck_assert_int_eq(ms_predlog_log(NULL, pl, &p), MS_OK);
	ck_assert_int_eq(ms_predlog_close_stats(&st, &err, pl), MS_EUNREACHABLE);
	ck_assert_uint_eq(st.spooled, 1);
	ck_assert_uint_eq(st.lost, 0);
	ck_assert_msg(strstr(err.ptr, "unreachable") != NULL, "%s", err.ptr);
	ms_buf_dispose(&err);
	/* the database up: the spooled row goes in, and the result is MS_OK */
	ck_assert_int_eq(ms_predlog_open(&pl, g_url, &o), MS_OK);
	st.version = 1; /* a version 1 stats struct is filled too */
	ck_assert_int_eq(ms_predlog_close_stats(&st, NULL, pl), MS_OK);
	ck_assert_uint_eq(st.written, 1);
	ck_assert_int_eq(ms_predlog_close_stats(NULL, NULL, NULL), MS_OK);
}
END_TEST

START_TEST(strings_decoded_in_place)
{
	/* import decodes string values inside the line it read (no jansson,
	 * no allocation): every escape of RFC 8259 in the name, the version
	 * and features sent as a JSON string must come out as the text it
	 * stands for, and \u0000, which a C string cannot carry, is refused
	 * with its line. */
	char *out = NULL, *err = NULL, *got;
	const char *in =
		"{\"model_name\": \"fr\\u0061ud\", \"model_version\": "
		"\"v\\u00e9\\ud83d\\ude00\\\"q\\\\b\\/s\", \"input_features\": "
		"\"{\\\"k\\\": [1, \\\"\\\\u00e9\\\"]}\", \"predicted_value\": 1}\n"
		"{\"model_version\": \"v\\u0000x\", \"input_features\": {}, "
		"\"predicted_value\": 2}\n"
		"{\"model_version\": \"plain\", \"input_features\": {\"x\":1}"
		",\"predicted_value\":3,\"confidence_score\":0.5}\n";
	int rc = import(g_url, false, in, &out, &err);
	ck_assert_msg(rc == 1, "exit %d (%s)", rc, err);
	ck_assert_msg(strstr(err, "line 2: model_version must not hold "
	                     "\\u0000") != NULL, "%s", err);
	free(out);
	free(err);
	got = mt_sql(g_url, "SELECT model_name || ' ' || model_version || ' ' ||"
	             " input_features::text FROM model_predictions WHERE "
	             "predicted_value = 1");
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "fraud v\xc3\xa9\xf0\x9f\x98\x80\"q\\b/s "
	                 "{\"k\": [1, \"\xc3\xa9\"]}");
	free(got);
	got = mt_sql(g_url, "SELECT model_version || ' ' || input_features::text"
	             " || ' ' || confidence_score FROM model_predictions WHERE "
	             "predicted_value = 3");
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "plain {\"x\": 1} 0.5");
	free(got);
}
END_TEST

START_TEST(long_lines_and_line_ends)
{
	/* stdin is read in 1 MiB blocks and each line is scanned where it
	 * lies: a line longer than a block (3 MiB of features), CRLF ends,
	 * blank lines and a last line without '\n' must all count as lines,
	 * in order, and the long features arrive whole. */
	size_t big = (size_t)3 << 20, len = 0;
	char *in = malloc(big + 4096), *out = NULL, *err = NULL, *got;
	int rc;
	ck_assert_ptr_nonnull(in);
	len += (size_t)sprintf(in + len, "{\"model_version\": \"v1\", "
	                       "\"input_features\": {\"blob\": \"");
	memset(in + len, 'x', big);
	len += big;
	len += (size_t)sprintf(in + len, "\"}, \"predicted_value\": 1}\r\n"
	                       "\n \t\r\n"
	                       "{\"model_version\": \"v1\"}\r\n"
	                       "{\"model_version\": \"v1\", \"input_features\": "
	                       "{}, \"predicted_value\": 5}");
	rc = mt_run((const char *[]){ mt_cli(), "--db", g_url, "predictions",
	            "import", "--spool-dir", g_spool, NULL }, NULL, in, len, &out,
	            &err);
	ck_assert_msg(rc == 1, "exit %d (%s)", rc, err);
	ck_assert_msg(strstr(err, "line 4: input_features (a JSON object) is "
	                     "required") != NULL, "%s", err);
	ck_assert_msg(strstr(out, "accepted 2, rejected 1, written 2") != NULL,
	              "%s", out);
	free(out);
	free(err);
	got = mt_sql(g_url, "SELECT length(input_features->>'blob') FROM "
	             "model_predictions WHERE predicted_value = 1");
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "3145728");
	free(got);
	got = mt_sql(g_url, "SELECT count(*) FROM model_predictions WHERE "
	             "predicted_value = 5");
	ck_assert_str_eq(got, "1");
	free(got);
	free(in);
}
END_TEST

START_TEST(unreadable_stdin_is_an_error)
{
	/* Before the fix a read error on stdin (here: stdin is a directory,
	 * EISDIR) ended the input silently, and import exited 0 as if every
	 * line had been read.  Now: the error named, exit 1. */
	char *out = NULL, *err = NULL;
	const char *argv[] = { "/bin/sh", "-c", "exec \"$0\" --db \"$1\" "
	                       "predictions import --spool-dir \"$2\" < \"$3\"",
	                       mt_cli(), g_url, g_spool, g_dir, NULL };
	int rc = mt_run(argv, NULL, NULL, 0, &out, &err);
	ck_assert_msg(rc == 1, "exit %d (%s)", rc, err);
	ck_assert_msg(strstr(err, "reading stdin stopped after line 0") != NULL,
	              "%s", err);
	free(out);
	free(err);
}
END_TEST

Suite *db_import_suite(void)
{
	Suite *s = suite_create("db_import");
	TCase *tc = tcase_create("import");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, features_stored_as_sent);
	tcase_add_test(tc, permission_denied_is_not_unreachable);
	tcase_add_test(tc, stray_spool_names_are_left_alone);
	tcase_add_test(tc, malformed_conninfo_is_a_usage_error);
	tcase_add_test(tc, rows_lost_are_counted_exactly);
	tcase_add_test(tc, server_refusals_listed_by_line);
	tcase_add_test(tc, library_names_refused_rows_and_final_counters);
	tcase_add_test(tc, close_stats_says_why_rows_wait);
	tcase_add_test(tc, strings_decoded_in_place);
	tcase_add_test(tc, long_lines_and_line_ends);
	tcase_add_test(tc, unreadable_stdin_is_an_error);
	suite_add_tcase(s, tc);
	return s;
}
