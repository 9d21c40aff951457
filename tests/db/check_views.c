/* check_views.c - monitoring views (sql/002), roles (sql/roles.sql) and
 * `modelstore report`. */
#define _GNU_SOURCE
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static char *g_url;
static char *g_dir;

static void setup(void)
{
	g_url = mt_migrated_db("views_tests");
	g_dir = mt_tmpdir();
}

static void teardown(void)
{
	mt_rmtree(g_dir);
	free(g_dir);
	free(g_url);
}

/* Push one small primary artifact under @version. */
static void push(const char *version, const char *type, double accuracy,
                 int production)
{
	ms_store *s = NULL;
	ms_push_options o;
	ms_artifact_source src = { NULL, NULL, "model-bytes", 11 };
	ms_status st = ms_store_open(&s, g_url, NULL);
	ck_assert_msg(st == MS_OK, "open: %s", ms_store_errmsg(s));
	ms_push_options_init(&o, MS_PUSH_OPTIONS_VERSION);
	o.model_version = version;
	o.model_type = type;
	o.accuracy = &accuracy;
	o.production = production;
	st = ms_store_push(NULL, s, &o, &src, 1);
	ck_assert_msg(st == MS_OK, "push %s: %s", version, ms_store_errmsg(s));
	ms_store_close(s);
}

/* mt_sql that must succeed */
static char *q(const char *sql)
{
	char *r = mt_sql(g_url, sql);
	ck_assert_msg(r != NULL, "SQL failed: %s", sql);
	return r;
}

static void expect(const char *sql, const char *want)
{
	char *got = q(sql);
	ck_assert_msg(strcmp(got, want) == 0, "%s\n  got  %s\n  want %s", sql,
	              got, want);
	free(got);
}

/* Two versions; v1 has four predictions, three with actuals:
 * predicted 10, 20, 30, 40 against actual 12, 20, 27, NULL.
 * MAE = (2 + 0 + 3) / 3, RMSE = sqrt((4 + 0 + 9) / 3).
 * v2 (production) has two predictions and no actuals. */
static void fixture_data(void)
{
	push("v1", "RandomForest", 0.81, 0);
	push("v2", "GradientBoosting", 0.86, 1);
	free(q("INSERT INTO model_predictions (model_version, input_features,"
	       " predicted_value, actual_value, confidence_score, prediction_time)"
	       " VALUES"
	       " ('v1', '{\"x\": 1}', 10, 12, 0.9, '2024-03-01 10:00'),"
	       " ('v1', '{\"x\": 2}', 20, 20, 0.8, '2024-03-01 11:00'),"
	       " ('v1', '{\"x\": 3}', 30, 27, 0.7, '2024-03-02 09:00'),"
	       " ('v1', '{\"x\": 4}', 40, NULL, NULL, '2024-03-02 10:00'),"
	       " ('v2', '{\"x\": 5}', 50, NULL, 0.5, now()),"
	       " ('v2', '{\"x\": 6}', 70, NULL, 0.7, now())"));
	/* same version string under another model name: must not mix in */
	free(q("INSERT INTO model_predictions (model_name, model_version,"
	       " input_features, predicted_value, actual_value)"
	       " VALUES ('other', 'v1', '{}', 1000, 0)"));
}

START_TEST(view_figures)
{
	fixture_data();
	expect("SELECT string_agg(model_version || ':' || is_production || ':'"
	       " || model_type || ':' || model_size_bytes || ':' || accuracy_score"
	       " || ':' || prediction_count || ':' || predictions_with_actual,"
	       " ' ' ORDER BY model_version) FROM model_version_performance",
	       "v1:false:RandomForest:11:0.81:4:3 "
	       "v2:true:GradientBoosting:11:0.86:2:0");
	expect("SELECT round(mean_absolute_error::numeric, 9) || ' ' ||"
	       " round(rmse::numeric, 9) || ' ' || avg_prediction || ' ' ||"
	       " round(avg_confidence::numeric, 9) || ' ' || first_prediction_at"
	       " || ' ' || last_prediction_at FROM model_version_performance"
	       " WHERE model_version = 'v1'",
	       "1.666666667 2.081665999 25 0.800000000 2024-03-01 10:00:00"
	       " 2024-03-02 10:00:00");
	/* no actuals yet: MAE and RMSE are NULL, not 0 */
	expect("SELECT coalesce(mean_absolute_error::text, 'null') || ' ' ||"
	       " coalesce(rmse::text, 'null') || ' ' || avg_prediction"
	       " FROM model_version_performance WHERE model_version = 'v2'",
	       "null null 60");
	expect("SELECT string_agg(model_name || '/' || model_version || '/' || day"
	       " || '/' || prediction_count || '/' || predictions_with_actual,"
	       " ' ' ORDER BY model_name, model_version, day)"
	       " FROM model_prediction_volume_daily WHERE day < '2025-01-01'",
	       "default/v1/2024-03-01/2/2 default/v1/2024-03-02/2/1");
	expect("SELECT prediction_count FROM model_prediction_volume_daily"
	       " WHERE model_name = 'other'", "1");
	expect("SELECT model_name || ' ' || versions || ' ' || artifacts || ' '"
	       " || total_bytes || ' ' || stored_bytes || ' ' || production_version"
	       " FROM model_storage_summary", "default 2 2 22 22 v2");
	expect("SELECT string_agg(action || ':' || coalesce(from_version, '-') ||"
	       " '>' || to_version || ':' || to_model_type || ':' ||"
	       " to_is_production_now, ' ' ORDER BY id)"
	       " FROM model_promotion_history",
	       "promote:->v2:GradientBoosting:true");
	/* a seed-era row (no size column, no name, no hash) is counted too */
	free(q("INSERT INTO model_artifacts (run_id, model_version, model_type,"
	       " model_binary) VALUES ('r', 'seed1', 'Legacy', '\\x0102030405')"));
	expect("SELECT model_size_bytes || ' ' || prediction_count FROM"
	       " model_version_performance WHERE model_version = 'seed1'", "5 0");
	expect("SELECT total_bytes || ' ' || stored_bytes FROM"
	       " model_storage_summary", "27 27");
}
END_TEST

/* The per-version aggregate reads the (model_version, prediction_time)
 * index, not the whole table, when one version is asked for. */
START_TEST(view_uses_version_index)
{
	char *plan;
	fixture_data();
	/* one PQexec, one session: the SET applies to the EXPLAIN */
	plan = q("SET enable_seqscan = off; EXPLAIN (FORMAT JSON) SELECT"
	         " prediction_count FROM model_version_performance WHERE"
	         " model_name = 'default' AND model_version = 'v1'");
	ck_assert_msg(strstr(plan, "model_predictions_version_time") != NULL,
	              "%s", plan);
	free(plan);
}
END_TEST

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK ||
	              PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	              PQerrorMessage(c));
	PQclear(r);
}

/* Expect permission denied (SQLSTATE 42501). */
static void exec_denied(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	ck_assert_msg(PQresultStatus(r) == PGRES_FATAL_ERROR && state &&
	              strcmp(state, "42501") == 0,
	              "%s: expected permission denied, got %s (%s)", sql,
	              PQresStatus(PQresultStatus(r)), state ? state : "-");
	PQclear(r);
}

static PGconn *connect_as(const char *user)
{
	char *url = NULL;
	PGconn *c;
	ck_assert_int_gt(asprintf(&url, "postgresql://%s@127.0.0.1:%s/views_tests",
	                          user, mt_env("PGPORT")), 0);
	c = PQconnectdb(url);
	free(url);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect as %s: %s", user,
	              PQerrorMessage(c));
	return c;
}

START_TEST(roles_apply_twice_and_restrict)
{
	const char *src = getenv("MS_SOURCE_DIR");
	char *path = NULL, *sql;
	PGconn *admin, *c;
	ck_assert_msg(src != NULL, "MS_SOURCE_DIR unset");
	ck_assert_int_gt(asprintf(&path, "%s/sql/roles.sql", src), 0);
	sql = read_file(path);
	admin = PQconnectdb(g_url);
	ck_assert_int_eq(PQstatus(admin), CONNECTION_OK);
	exec_ok(admin, "SET client_min_messages = warning");
	exec_ok(admin, sql);
	exec_ok(admin, sql); /* idempotent */
	exec_ok(admin,
	        "DO $$ BEGIN"
	        " IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ms_t_logger')"
	        " THEN CREATE ROLE ms_t_logger LOGIN; END IF;"
	        " IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ms_t_reader')"
	        " THEN CREATE ROLE ms_t_reader LOGIN; END IF;"
	        " IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ms_t_writer')"
	        " THEN CREATE ROLE ms_t_writer LOGIN; END IF; END $$");
	exec_ok(admin, "GRANT modelstore_logger TO ms_t_logger");
	exec_ok(admin, "GRANT modelstore_reader TO ms_t_reader");
	exec_ok(admin, "GRANT modelstore_writer TO ms_t_writer");
	PQfinish(admin);
	free(sql);
	free(path);

	/* the writer pushes and promotes through the library */
	{
		char *url = NULL;
		ms_store *s = NULL;
		ms_push_options o;
		ms_artifact_source a = { NULL, NULL, "abc", 3 };
		ms_status st;
		ck_assert_int_gt(asprintf(&url, "postgresql://ms_t_writer@127.0.0.1:%s/views_tests",
		                          mt_env("PGPORT")), 0);
		st = ms_store_open(&s, url, NULL);
		ck_assert_msg(st == MS_OK, "%s", ms_store_errmsg(s));
		ms_push_options_init(&o, MS_PUSH_OPTIONS_VERSION);
		o.model_version = "w1";
		o.production = 1;
		st = ms_store_push(NULL, s, &o, &a, 1);
		ck_assert_msg(st == MS_OK, "writer push: %s", ms_store_errmsg(s));
		st = ms_store_prune(NULL, s, NULL, 0, 0);
		ck_assert_msg(st == MS_OK, "writer prune: %s", ms_store_errmsg(s));
		ms_store_close(s);
		free(url);
	}

	c = connect_as("ms_t_logger");
	exec_ok(c, "INSERT INTO model_predictions (prediction_id, model_version,"
	           " input_features, predicted_value) VALUES"
	           " ('0190a0a0-0000-7000-8000-000000000001', 'w1', '{}', 1.5)");
	exec_ok(c, "UPDATE model_predictions SET actual_value = 2,"
	           " actual_recorded_at = now() WHERE prediction_id ="
	           " '0190a0a0-0000-7000-8000-000000000001'");
	exec_denied(c, "DELETE FROM model_predictions");
	exec_denied(c, "UPDATE model_predictions SET predicted_value = 0");
	exec_denied(c, "SELECT input_features FROM model_predictions");
	exec_denied(c, "DELETE FROM model_artifacts");
	PQfinish(c);

	c = connect_as("ms_t_reader");
	exec_ok(c, "SELECT * FROM model_version_performance");
	exec_ok(c, "SELECT * FROM model_promotion_history");
	exec_ok(c, "SELECT count(*) FROM model_artifact_chunks");
	exec_denied(c, "INSERT INTO model_predictions (model_version,"
	               " input_features, predicted_value) VALUES ('w1', '{}', 1)");
	exec_denied(c, "UPDATE model_artifacts SET is_production = false");
	PQfinish(c);

	expect("SELECT prediction_count || '/' || predictions_with_actual FROM"
	       " model_version_performance WHERE model_version = 'w1'", "1/1");
}
END_TEST

static int run_cli(char **out, char **err, const char *a1, const char *a2,
                   const char *a3, const char *a4)
{
	const char *argv[10] = { mt_cli(), "--db", g_url };
	const char *rest[] = { a1, a2, a3, a4 };
	int n = 3;
	for (int i = 0; i < 4 && rest[i]; i++)
		argv[n++] = rest[i];
	argv[n] = NULL;
	return mt_run(argv, NULL, NULL, 0, out, err);
}

START_TEST(report_json_and_html)
{
	char *out = NULL, *err = NULL, *html = NULL, *page;
	json_t *doc, *versions, *v;
	size_t i;
	int seen = 0;
	const char *hostile = "<script>alert('x')</script>&\"";

	fixture_data();
	push("v3", hostile, 0.5, 0);
	{
		const char *argv[] = { mt_cli(), "--json", "--db", g_url, "report", NULL };
		ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, &err), 0);
	}
	doc = json_loads(out, 0, NULL);
	ck_assert_msg(doc != NULL, "not JSON: %s", out);
	versions = json_object_get(doc, "versions");
	ck_assert(json_is_array(versions));
	json_array_foreach(versions, i, v) {
		const char *ver = json_string_value(json_object_get(v, "model_version"));
		if (strcmp(ver, "v1") == 0) {
			seen |= 1;
			ck_assert_int_eq(json_integer_value(json_object_get(v, "prediction_count")), 4);
			ck_assert_int_eq(json_integer_value(json_object_get(v, "predictions_with_actual")), 3);
			ck_assert(fabs(json_real_value(json_object_get(v, "mean_absolute_error")) - 5.0 / 3) < 1e-9);
			ck_assert(json_is_false(json_object_get(v, "is_production")));
		} else if (strcmp(ver, "v2") == 0) {
			seen |= 2;
			ck_assert(json_is_true(json_object_get(v, "is_production")));
			ck_assert(json_is_null(json_object_get(v, "mean_absolute_error")));
		} else if (strcmp(ver, "v3") == 0) {
			seen |= 4;
			ck_assert_str_eq(json_string_value(json_object_get(v, "model_type")), hostile);
		}
	}
	ck_assert_int_eq(seen, 7);
	ck_assert_int_eq(json_array_size(json_object_get(doc, "promotions")), 1);
	json_decref(doc);
	free(out); free(err);

	/* --since 1: the 2024 predictions of v1 fall outside the window */
	{
		const char *argv[] = { mt_cli(), "--json", "--db", g_url, "report", "--since", "1", NULL };
		ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, &err), 0);
	}
	doc = json_loads(out, 0, NULL);
	ck_assert_msg(doc != NULL, "not JSON: %s", out);
	json_array_foreach(json_object_get(doc, "versions"), i, v) {
		const char *ver = json_string_value(json_object_get(v, "model_version"));
		long long want = strcmp(ver, "v2") == 0 ? 2 : 0;
		ck_assert_int_eq(json_integer_value(json_object_get(v, "prediction_count")), want);
	}
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "since_days")), 1);
	json_decref(doc);
	free(out); free(err);

	/* text: a table per model name, control characters neutralised */
	ck_assert_int_eq(run_cli(&out, &err, "report", NULL, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "GradientBoosting"));
	ck_assert_ptr_nonnull(strstr(out, "recent promotions"));
	free(out); free(err);

	/* HTML: every value escaped, the file replaced atomically */
	ck_assert_int_gt(asprintf(&html, "%s/report.html", g_dir), 0);
	ck_assert_int_eq(run_cli(&out, &err, "report", "--html", html, NULL), 0);
	free(out); free(err);
	page = read_file(html);
	ck_assert_ptr_nonnull(strstr(page, "<!DOCTYPE html>"));
	ck_assert_ptr_null(strstr(page, "<script"));
	ck_assert_ptr_null(strstr(page, "src="));
	ck_assert_ptr_null(strstr(page, "href="));
	ck_assert_ptr_nonnull(strstr(page,
		"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"));
	ck_assert_ptr_nonnull(strstr(page, "GradientBoosting"));
	free(page);
	ck_assert_int_eq(run_cli(&out, &err, "report", "--html", html, NULL), 0);
	free(out); free(err);
	{
		char *cmd = NULL;
		ck_assert_int_gt(asprintf(&cmd, "test $(ls '%s' | wc -l) -eq 1", g_dir), 0);
		ck_assert_int_eq(system(cmd), 0); /* no temp file left behind */
		free(cmd);
	}
	/* a directory that does not exist: exit 1, nothing written */
	{
		char *bad = NULL;
		ck_assert_int_gt(asprintf(&bad, "%s/no/such/dir/r.html", g_dir), 0);
		ck_assert_int_eq(run_cli(&out, &err, "report", "--html", bad, NULL), 1);
		ck_assert_ptr_nonnull(strstr(err, "modelstore: report: "));
		free(out); free(err); free(bad);
	}
	free(html);
}
END_TEST

/* The library half of `report`: one JSON document, typed, filterable. */
static json_t *report_doc(ms_store *s, const char *name, const char *since)
{
	ms_buf out = MS_BUF_INIT;
	json_t *doc;
	ms_status st = ms_store_report(&out, s, name, since);
	ck_assert_msg(st == MS_OK, "report: %s", ms_store_errmsg(s));
	doc = json_loads(out.ptr, 0, NULL);
	ck_assert_msg(doc != NULL, "not JSON: %s", out.ptr);
	ms_buf_dispose(&out);
	return doc;
}

START_TEST(store_report_document)
{
	ms_store *s = NULL;
	ms_buf out = MS_BUF_INIT;
	json_t *doc, *v;
	const char *keys[] = { "model_name", "model_version", "is_production",
		"model_type", "model_size_bytes", "accuracy_score", "rmse_score",
		"r2_score", "created_at", "prediction_count",
		"predictions_with_actual", "mean_absolute_error", "rmse",
		"avg_prediction", "avg_confidence", "first_prediction_at",
		"last_prediction_at" };
	size_t i;

	fixture_data();
	ck_assert_int_eq(ms_store_open(&s, g_url, NULL), MS_OK);
	doc = report_doc(s, NULL, NULL);
	ck_assert_int_eq(json_object_size(doc), 2);
	ck_assert_int_eq(json_array_size(json_object_get(doc, "versions")), 2);
	v = json_array_get(json_object_get(doc, "versions"), 0); /* newest: v2 */
	{
		void *it = json_object_iter(v);
		for (i = 0; it; i++, it = json_object_iter_next(v, it))
			ck_assert_str_eq(json_object_iter_key(it), keys[i]);
		ck_assert_uint_eq(i, sizeof keys / sizeof *keys);
	}
	ck_assert_str_eq(json_string_value(json_object_get(v, "model_version")), "v2");
	ck_assert(json_is_true(json_object_get(v, "is_production")));
	ck_assert(json_is_integer(json_object_get(v, "model_size_bytes")));
	ck_assert(json_is_real(json_object_get(v, "accuracy_score")));
	ck_assert_int_eq(json_integer_value(json_object_get(v, "prediction_count")), 2);
	ck_assert(json_is_null(json_object_get(v, "mean_absolute_error")));
	v = json_array_get(json_object_get(doc, "promotions"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(v, "action")), "promote");
	ck_assert_str_eq(json_string_value(json_object_get(v, "to_version")), "v2");
	json_decref(doc);

	/* a window of 1 day: the 2024 predictions of v1 fall outside */
	doc = report_doc(s, MS_DEFAULT_NAME, "1");
	v = json_array_get(json_object_get(doc, "versions"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(v, "model_version")), "v1");
	ck_assert_int_eq(json_integer_value(json_object_get(v, "prediction_count")), 0);
	json_decref(doc);
	/* a name with predictions but no stored version */
	doc = report_doc(s, "other", NULL);
	ck_assert_int_eq(json_array_size(json_object_get(doc, "versions")), 0);
	ck_assert_int_eq(json_array_size(json_object_get(doc, "promotions")), 0);
	json_decref(doc);

	ck_assert_int_eq(ms_store_report(&out, s, NULL, "-1"), MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "since"));
	ck_assert_int_eq(ms_store_report(&out, s, NULL, "36501"), MS_EINVAL);
	ck_assert_int_eq(ms_store_report(&out, s, NULL, ""), MS_EINVAL);
	ck_assert_int_eq(ms_store_report(&out, s, ".bad", NULL), MS_EINVAL);
	ck_assert_int_eq(ms_store_report(NULL, s, NULL, NULL), MS_EINVAL);
	ck_assert_int_eq(ms_store_report(&out, NULL, NULL, NULL), MS_EINVAL);
	ck_assert_ptr_null(out.ptr);
	ms_store_close(s);
}
END_TEST

/* The text report: fixed-point numbers with one precision per column
 * (an average price of 21 000 was "2.1e+04"), times with their zone,
 * --name filters. */
START_TEST(report_text_numbers_and_zones)
{
	char *out = NULL, *err = NULL;
	push("p1", "Linear", 0.5, 1);
	push("p2", "Linear", 0.25, 0);
	free(q("INSERT INTO model_predictions (model_version, input_features,"
	       " predicted_value, actual_value, prediction_time) VALUES"
	       " ('p1', '{}', 21000, 20000, '2024-03-01 10:00'),"
	       " ('p2', '{}', 0.5, 0.25, '2024-03-01 11:00')"));
	free(q("INSERT INTO model_predictions (model_name, model_version,"
	       " input_features, predicted_value) VALUES ('other', 'o1', '{}', 1)"));
	ck_assert_int_eq(run_cli(&out, &err, "report", NULL, NULL, NULL), 0);
	ck_assert_msg(strstr(out, "e+") == NULL && strstr(out, "e-") == NULL, "%s", out);
	/* AVG PRED: 21000 and 0.5 in one column, both without decimals */
	ck_assert_msg(strstr(out, " 21000  ") != NULL, "%s", out);
	/* ACCURACY 0.5 and 0.25: four decimals each */
	ck_assert_msg(strstr(out, "0.5000") != NULL && strstr(out, "0.2500") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "2024-03-01T10:00:00Z") != NULL, "no zone: %s", out);
	ck_assert_msg(strstr(out, "generated 20") != NULL, "%s", out);
	free(out); free(err);
	{
		const char *argv[] = { mt_cli(), "--db", g_url, "--name", "other", "report", NULL };
		ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, &err), 0);
		ck_assert_msg(strstr(out, "model other") != NULL, "%s", out);
		ck_assert_msg(strstr(out, "p1") == NULL, "--name does not filter: %s", out);
		free(out); free(err);
	}
}
END_TEST

START_TEST(report_usage_and_unreachable)
{
	char *out = NULL, *err = NULL;
	ck_assert_int_eq(run_cli(&out, &err, "report", "--since", "-3", NULL), 2);
	ck_assert_ptr_nonnull(strstr(err, "--since"));
	free(out); free(err);
	ck_assert_int_eq(run_cli(&out, &err, "report", "extra", NULL, NULL), 2);
	free(out); free(err);
	{
		const char *argv[] = { mt_cli(), "--db",
		                       "postgresql://u:Sup3rS3cret@127.0.0.1:1/db",
		                       "report", NULL };
		ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, &err), 4);
		ck_assert_ptr_null(strstr(err, "Sup3rS3cret"));
		free(out); free(err);
	}
	/* an unmigrated database: a schema error, exit 1 */
	{
		char *fresh = mt_fresh_db("views_tests_empty");
		const char *argv[] = { mt_cli(), "--db", fresh, "report", NULL };
		ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, &err), 1);
		ck_assert_ptr_nonnull(strstr(err, "migrate"));
		free(out); free(err); free(fresh);
	}
}
END_TEST

Suite *db_views_suite(void)
{
	Suite *s = suite_create("db_views");
	TCase *tc = tcase_create("views");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, view_figures);
	tcase_add_test(tc, view_uses_version_index);
	tcase_add_test(tc, roles_apply_twice_and_restrict);
	tcase_add_test(tc, report_json_and_html);
	tcase_add_test(tc, report_usage_and_unreachable);
	tcase_add_test(tc, report_text_numbers_and_zones);
	tcase_add_test(tc, store_report_document);
	suite_add_tcase(s, tc);
	return s;
}
