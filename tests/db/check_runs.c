/* check_runs.c - runs, metric history and metric-sorted listings against
 * the real server: the run life cycle, batches of thousands of points in
 * one statement, bad input leaving the database unchanged, versions
 * sorted and filtered by any metric, migration 003 over a version-2
 * database with data, and the CLI's `runs`, `list --where` and
 * `--param` typing. */
#define _GNU_SOURCE
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "common.h"

static void push_version(ms_store *s, const char *version, const char *run,
                         const double *acc, const char *metrics)
{
	ms_push_options o = MS_PUSH_OPTIONS_INIT;
	ms_artifact_source src = { NULL, NULL, "bytes", 5 };
	o.model_version = version;
	o.run_id = run;
	o.accuracy = acc;
	o.metrics_json = metrics;
	ck_assert_msg(ms_store_push(NULL, s, &o, &src, 1) == MS_OK, "%s",
	              ms_store_errmsg(s));
}

/* The first value of the first row of @sql, compared. */
static void sql_eq(const char *url, const char *sql, const char *want)
{
	char *got = mt_sql(url, sql);
	ck_assert_msg(got != NULL, "query failed: %s", sql);
	ck_assert_msg(strcmp(got, want) == 0, "%s: got \"%s\", want \"%s\"", sql,
	              got, want);
	free(got);
}

static json_t *run_doc(ms_store *s, const char *run, const char *metric)
{
	ms_buf b = MS_BUF_INIT;
	json_t *j;
	ck_assert_msg(ms_run_show(&b, s, run, metric) == MS_OK, "%s",
	              ms_store_errmsg(s));
	j = json_loads(b.ptr, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ms_buf_dispose(&b);
	return j;
}

START_TEST(run_life_cycle)
{
	char *url = mt_migrated_db("runs_life");
	ms_store *s = mt_open_store(url);
	ms_run_options o = MS_RUN_OPTIONS_INIT;
	ms_buf id = MS_BUF_INIT;
	json_t *doc, *loss;

	o.params_json = "{\"n\": 100, \"layers\": [64, 32], \"lr\": 0.1,"
	                " \"act\": \"relu\", \"b\": true}";
	o.tags_json = "{\"team\": \"search\"}";
	o.dataset_size = 1234;
	ck_assert_int_eq(ms_run_start(&id, s, &o), MS_OK);
	/* a generated id is a UUIDv7 */
	ck_assert_uint_eq(id.size, 36);
	ck_assert_int_eq(id.ptr[14], '7');

	ck_assert_int_eq(ms_run_log_metric(s, id.ptr, "loss", 0.9, 0), MS_OK);
	ck_assert_int_eq(ms_run_log_metric(s, id.ptr, "loss", 0.5, 2), MS_OK);
	ck_assert_int_eq(ms_run_log_metric(s, id.ptr, "loss", 0.7, 1), MS_OK);
	ck_assert_int_eq(ms_run_log_metric(s, id.ptr, "acc", 0.8, MS_STEP_NONE),
	                 MS_OK);

	doc = run_doc(s, id.ptr, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "status")),
	                 "running");
	/* params keep their JSON types */
	ck_assert(json_is_integer(json_object_get(
		json_object_get(doc, "params"), "n")));
	ck_assert(json_is_array(json_object_get(
		json_object_get(doc, "params"), "layers")));
	ck_assert(json_is_true(json_object_get(
		json_object_get(doc, "params"), "b")));
	ck_assert_str_eq(json_string_value(json_object_get(
		json_object_get(doc, "tags"), "team")), "search");
	ck_assert_int_eq(json_integer_value(json_object_get(doc,
	                 "dataset_size")), 1234);
	/* history by step, last value by time of logging */
	loss = json_object_get(json_object_get(doc, "metrics"), "loss");
	ck_assert_int_eq(json_integer_value(json_object_get(loss, "count")), 3);
	ck_assert(json_real_value(json_object_get(loss, "last")) == 0.7);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(
		json_object_get(loss, "history"), 1), "step")), 1);
	ck_assert(json_real_value(json_object_get(json_array_get(
		json_object_get(loss, "history"), 2), "value")) == 0.5);
	json_decref(doc);

	/* only one metric's history */
	doc = run_doc(s, id.ptr, "acc");
	ck_assert_uint_eq(json_object_size(json_object_get(doc, "metrics")), 1);
	json_decref(doc);

	/* a version pushed with the run id belongs to the run */
	push_version(s, "v1", id.ptr, NULL, "{\"f1\": 0.6}");
	ck_assert_int_eq(ms_run_finish(s, id.ptr, MS_RUN_FAILED), MS_OK);
	doc = run_doc(s, id.ptr, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "status")),
	                 "failed");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(doc,
	                 "versions"), 0)), "v1");
	ck_assert(json_is_number(json_object_get(doc, "duration_seconds")));
	ck_assert(json_is_string(json_object_get(doc, "ended_at")));
	json_decref(doc);
	sql_eq(url, "SELECT count(*) FROM model_metrics WHERE run_id IS NOT NULL"
	       " AND model_version = 'v1' AND metric = 'f1'", "1");

	ms_buf_dispose(&id);
	ms_store_close(s);
	free(url);
}
END_TEST

/* 5000 points in one call are one INSERT in autocommit: every row
 * carries the same transaction id (xmin). */
START_TEST(batch_of_thousands_in_one_statement)
{
	char *url = mt_migrated_db("runs_batch");
	ms_store *s = mt_open_store(url);
	ms_run_options o = MS_RUN_OPTIONS_INIT;
	ms_metric_point *pts = calloc(5000, sizeof *pts);

	o.run_id = "batch-run";
	ck_assert_int_eq(ms_run_start(NULL, s, &o), MS_OK);
	for (int i = 0; i < 5000; i++) {
		pts[i].metric = i % 2 ? "loss" : "acc";
		pts[i].value = i / 5000.0;
		pts[i].step = i / 2;
		pts[i].time_ms = i == 0 ? 1700000000123 : 0;
	}
	ck_assert_int_eq(ms_run_log_metrics(s, "batch-run", pts, 5000), MS_OK);
	ck_assert_int_eq(ms_run_finish(s, "batch-run", MS_RUN_FINISHED), MS_OK);
	sql_eq(url, "SELECT count(DISTINCT xmin::text) FROM model_metrics WHERE"
	       " run_id = 'batch-run'", "1");
	sql_eq(url, "SELECT count(*) FROM model_metrics WHERE run_id ="
	       " 'batch-run'", "5000");
	sql_eq(url, "SELECT count(DISTINCT step) FROM model_metrics WHERE run_id"
	       " = 'batch-run' AND metric = 'loss'", "2500");
	/* an explicit time is kept, to the millisecond */
	sql_eq(url, "SELECT extract(epoch FROM recorded_at)::numeric(20,3) FROM"
	       " model_metrics WHERE run_id = 'batch-run' AND step = 0 AND"
	       " metric = 'acc'", "1700000000.123");
	free(pts);
	ms_store_close(s);
	free(url);
}
END_TEST

/* Bad input: refused with a message naming it, nothing written. */
START_TEST(bad_input_leaves_database_unchanged)
{
	char *url = mt_migrated_db("runs_bad");
	ms_store *s = mt_open_store(url);
	ms_run_options o = MS_RUN_OPTIONS_INIT;
	ms_metric_point pts[3] = { { "loss", 1, 0, 0 }, { "loss", NAN, 1, 0 },
	                           { "loss", 2, 2, 0 } };
	ms_run_status rs;

	o.run_id = "r1";
	o.params_json = "{\"a\": 1}";
	ck_assert_int_eq(ms_run_start(NULL, s, &o), MS_OK);

	/* the same id again: refused, the first run untouched */
	o.params_json = "{\"a\": 2}";
	ck_assert_int_eq(ms_run_start(NULL, s, &o), MS_EEXISTS);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "already exists"));
	sql_eq(url, "SELECT params::text FROM model_runs WHERE run_id = 'r1'",
	       "{\"a\": 1}");

	/* params that are not an object, a control byte in the id */
	o.run_id = "r2";
	o.params_json = "[1]";
	ck_assert_int_eq(ms_run_start(NULL, s, &o), MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "params"));
	o.params_json = NULL;
	o.run_id = "bad\x1bid";
	ck_assert_int_eq(ms_run_start(NULL, s, &o), MS_EINVAL);
	sql_eq(url, "SELECT count(*) FROM model_runs", "1");

	/* one bad point in a batch: none of it is written */
	ck_assert_int_eq(ms_run_log_metrics(s, "r1", pts, 3), MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "point 1"));
	pts[1].value = 1.5;
	pts[1].metric = "bad name";
	ck_assert_int_eq(ms_run_log_metrics(s, "r1", pts, 3), MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "\"bad name\""));
	pts[1].metric = "loss";
	pts[1].step = -5;
	ck_assert_int_eq(ms_run_log_metrics(s, "r1", pts, 3), MS_EINVAL);
	sql_eq(url, "SELECT count(*) FROM model_metrics", "0");

	/* unknown run, unknown status, a finished run */
	ck_assert_int_eq(ms_run_log_metric(s, "nope", "loss", 1, 0),
	                 MS_ENOTFOUND);
	ck_assert_int_eq(ms_run_finish(s, "nope", MS_RUN_FINISHED),
	                 MS_ENOTFOUND);
	ck_assert_int_eq(ms_run_finish(s, "r1", MS_RUN_RUNNING), MS_EINVAL);
	ck_assert_int_eq(ms_run_finish(s, "r1", (ms_run_status)42), MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "invalid status"));
	ck_assert_int_eq(ms_run_status_parse(&rs, "done"), MS_EINVAL);
	ck_assert_int_eq(ms_run_status_parse(&rs, "killed"), MS_OK);
	ck_assert_int_eq(rs, MS_RUN_KILLED);
	sql_eq(url, "SELECT status FROM model_runs WHERE run_id = 'r1'",
	       "running");
	ck_assert_int_eq(ms_run_finish(s, "r1", MS_RUN_KILLED), MS_OK);
	ck_assert_int_eq(ms_run_finish(s, "r1", MS_RUN_FINISHED), MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "is killed"));
	pts[1].step = 1;
	ck_assert_int_eq(ms_run_log_metrics(s, "r1", pts, 3), MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "not running"));
	sql_eq(url, "SELECT count(*) FROM model_metrics", "0");
	sql_eq(url, "SELECT status FROM model_runs WHERE run_id = 'r1'",
	       "killed");
	ms_store_close(s);
	free(url);
}
END_TEST

/* Every allocation of a batch failing in turn: MS_ENOMEM and nothing
 * written, or (past the last one) the whole batch; ASan checks that
 * each failure path frees what it had. */
START_TEST(batch_allocation_failures_write_nothing)
{
	char *url = mt_migrated_db("runs_oom");
	ms_store *s = mt_open_store(url);
	ms_run_options o = MS_RUN_OPTIONS_INIT;
	ms_metric_point pts[200];
	char want[32];
	long k;
	int ok = 0;

	o.run_id = "oom-run";
	ck_assert_int_eq(ms_run_start(NULL, s, &o), MS_OK);
	for (int i = 0; i < 200; i++)
		pts[i] = (ms_metric_point){ "loss", i * 1e-3, i, 0 };
	for (k = 1; k < 64 && !ok; k++) {
		ms_status st;
		ms__fault_alloc_after(k);
		st = ms_run_log_metrics(s, "oom-run", pts, 200);
		ms__fault_alloc_after(0);
		if (st == MS_OK) {
			ok = 1;
			break;
		}
		ck_assert_int_eq(st, MS_ENOMEM);
		ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "out of memory"));
		sql_eq(url, "SELECT count(*) FROM model_metrics", "0");
	}
	ck_assert_msg(ok && k > 1, "no allocation was failed (k=%ld)", k);
	snprintf(want, sizeof want, "%d", 200);
	sql_eq(url, "SELECT count(*) FROM model_metrics", want);
	ms_store_close(s);
	free(url);
}
END_TEST

static const char *versions_of(ms_store *s, const ms_list_options *o,
                               char *buf, size_t n)
{
	ms_artifact_list *l = NULL;
	size_t i;
	ck_assert_msg(ms_store_list_versions(&l, s, o) == MS_OK, "%s",
	              ms_store_errmsg(s));
	buf[0] = '\0';
	for (i = 0; i < ms_artifact_list_count(l); i++) {
		if (i)
			strncat(buf, " ", n - strlen(buf) - 1);
		strncat(buf, ms_artifact_list_get(l, i)->model_version,
		        n - strlen(buf) - 1);
	}
	ms_artifact_list_free(l);
	return buf;
}

START_TEST(versions_sorted_and_filtered_by_metric)
{
	char *url = mt_migrated_db("runs_sort");
	ms_store *s = mt_open_store(url);
	ms_list_options o = MS_LIST_OPTIONS_INIT;
	ms_artifact_list *l = (ms_artifact_list *)1;
	double a1 = 0.8, a2 = 0.95, a3 = 0.9;
	char buf[256];
	ms_buf m = MS_BUF_INIT;
	json_t *j;

	push_version(s, "v1", NULL, &a1, "{\"r2\": 0.3}");
	push_version(s, "v2", NULL, &a2, "{\"r2\": 0.1}");
	push_version(s, "v3", NULL, &a3, NULL);
	push_version(s, "v4", NULL, NULL, NULL);

	o.sort = "accuracy";
	o.descending = 1;
	ck_assert_str_eq(versions_of(s, &o, buf, sizeof buf), "v2 v3 v1 v4");
	o.descending = 0;
	ck_assert_str_eq(versions_of(s, &o, buf, sizeof buf), "v1 v3 v2 v4");
	o.where = "accuracy >= 0.9";
	ck_assert_str_eq(versions_of(s, &o, buf, sizeof buf), "v3 v2");
	o.where = "accuracy>=0.9 and r2 < 0.2";
	ck_assert_str_eq(versions_of(s, &o, buf, sizeof buf), "v2");
	o.where = "r2 != 0.1";
	o.sort = NULL;
	ck_assert_str_eq(versions_of(s, &o, buf, sizeof buf), "v1");

	/* a value appended after deployment becomes the version's value */
	ck_assert_int_eq(ms_store_log_version_metric(s, NULL, "v1", "accuracy",
	                                             0.99, 0), MS_OK);
	ck_assert_int_eq(ms_store_log_version_metric(s, NULL, "latest",
	                                             "accuracy", 0.5, 0), MS_OK);
	o.where = NULL;
	o.sort = "accuracy";
	o.descending = 1;
	o.limit = 2;
	ck_assert_str_eq(versions_of(s, &o, buf, sizeof buf), "v1 v2");
	ck_assert_int_eq(ms_store_version_metrics(&m, s, NULL, "v1"), MS_OK);
	j = json_loads(m.ptr, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
		json_object_get(j, "metrics"), "accuracy"), "count")), 2);
	ck_assert(json_real_value(json_object_get(json_object_get(
		json_object_get(j, "metrics"), "accuracy"), "last")) == 0.99);
	json_decref(j);
	ms_buf_dispose(&m);

	/* bad input: named, nothing changes */
	o.where = "accuracy => 0.9";
	ck_assert_int_eq(ms_store_list_versions(&l, s, &o), MS_EINVAL);
	ck_assert_ptr_null(l);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "found \"=>\""));
	o.where = NULL;
	o.sort = "drop table";
	ck_assert_int_eq(ms_store_list_versions(&l, s, &o), MS_EINVAL);
	ck_assert_int_eq(ms_store_log_version_metric(s, NULL, "v9", "accuracy",
	                                             1, 0), MS_ENOTFOUND);
	ck_assert_int_eq(ms_store_log_version_metric(s, NULL, "v1", "accuracy",
	                                             INFINITY, 0), MS_EINVAL);
	ck_assert_int_eq(ms_store_log_version_metric(s, NULL, "v1", "1bad",
	                                             1, 0), MS_EINVAL);
	sql_eq(url, "SELECT count(*) FROM model_metrics WHERE model_version ="
	       " 'v1' AND metric = 'accuracy'", "2");
	ms_store_close(s);
	free(url);
}
END_TEST

static char *read_sql_file(const char *name)
{
	const char *src = getenv("MS_SOURCE_DIR");
	char *path = NULL, *text;
	FILE *f;
	long n;
	ck_assert_int_gt(asprintf(&path, "%s/sql/%s", src ? src : ".", name), 0);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	ck_assert_int_eq(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	free(path);
	return text;
}

static void exec_ok(const char *url, const char *sql)
{
	char *r = mt_sql(url, sql);
	ck_assert_msg(r != NULL, "failed: %.200s", sql);
	free(r);
}

/* A database at version 2, with rows written the seed's way and by
 * modelstore 0.1, upgrades in place: nothing lost, the seed's queries
 * run unchanged, the new features work over the old rows. */
START_TEST(migrate_from_version_2_in_place)
{
	char *url = mt_fresh_db("runs_v2");
	char *m1 = read_sql_file("001_initial.sql");
	char *m2 = read_sql_file("002_monitoring_views.sql");
	ms_store_options so = MS_STORE_OPTIONS_INIT;
	ms_store *s = NULL;
	ms_list_options lo = MS_LIST_OPTIONS_INIT;
	int applied = -1;
	char buf[128];

	exec_ok(url, m1);
	exec_ok(url, m2);
	exec_ok(url, "CREATE TABLE modelstore_migrations (version INTEGER"
	        " PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT"
	        " NULL DEFAULT now(), applied_by TEXT NOT NULL DEFAULT"
	        " current_user); INSERT INTO modelstore_migrations (version,"
	        " name) VALUES (1, '001_initial'), (2, '002_monitoring_views')");
	/* the seed's INSERT, then 0.1-era runs, metrics and predictions */
	exec_ok(url, "INSERT INTO model_artifacts (run_id, model_version,"
	        " model_type, model_binary, model_size_bytes, accuracy_score,"
	        " rmse_score, r2_score, is_production) VALUES ('run_a',"
	        " '20240101_000000', 'RandomForest', '\\x01020304', 4, 0.91, 0.2,"
	        " 0.8, true), ('run_b', '20240102_000000', 'RandomForest',"
	        " '\\x0506', 2, 0.85, 0.3, 0.7, false)");
	exec_ok(url, "INSERT INTO model_runs (run_id, params, status) VALUES"
	        " ('run_a', '{\"n\": 100}', 'failed')");
	exec_ok(url, "INSERT INTO model_metrics (model_version, metric, value)"
	        " VALUES ('20240102_000000', 'accuracy', 0.97)");
	exec_ok(url, "INSERT INTO model_predictions (model_version,"
	        " input_features, predicted_value, actual_value) VALUES"
	        " ('20240101_000000', '{\"x\": 1}', 1.5, 1.0)");

	so.check_schema = 0;
	ck_assert_int_eq(ms_store_open(&s, url, &so), MS_OK);
	ck_assert_msg(ms_store_migrate(&applied, s) == MS_OK, "%s",
	              ms_store_errmsg(s));
	/* every migration after 002 (003 and whatever follows it) */
	{
		int db_v = 0, lib_v = 0;
		ck_assert_int_eq(ms_store_schema_version(&db_v, &lib_v, s), MS_OK);
		ck_assert_int_eq(db_v, lib_v);
		ck_assert_int_ge(lib_v, 3);
		ck_assert_int_eq(applied, lib_v - 2);
	}
	ms_store_close(s);
	s = mt_open_store(url); /* schema check passes */

	sql_eq(url, "SELECT count(*) FROM model_artifacts", "2");
	sql_eq(url, "SELECT status || ' ' || params::text || ' ' || tags::text"
	       " FROM model_runs", "failed {\"n\": 100} {}");
	sql_eq(url, "SELECT value FROM model_metrics", "0.97");
	sql_eq(url, "SELECT count(*) FROM model_predictions", "1");
	/* the seed 003 monitoring queries, unchanged */
	exec_ok(url, "SELECT SUM(model_size_bytes) / 1024.0 / 1024.0 as"
	        " total_size_mb, COUNT(*) as total_models FROM model_artifacts");
	exec_ok(url, "SELECT model_type, COUNT(*) as count,"
	        " AVG(model_size_bytes) / 1024.0 as avg_size_kb FROM"
	        " model_artifacts GROUP BY model_type");
	sql_eq(url, "SELECT model_version || ' ' || COUNT(*) FROM"
	       " model_predictions WHERE actual_value IS NOT NULL GROUP BY"
	       " model_version", "20240101_000000 1");
	exec_ok(url, "SELECT model_version, COUNT(*) as prediction_count,"
	        " AVG(predicted_value) as avg_prediction FROM model_predictions"
	        " WHERE prediction_time > NOW() - INTERVAL '1 day' GROUP BY"
	        " model_version");
	/* the seed's INSERT still works after 003 */
	exec_ok(url, "INSERT INTO model_artifacts (run_id, model_version,"
	        " model_type, model_binary, model_size_bytes, accuracy_score,"
	        " rmse_score, r2_score, is_production) VALUES ('run_c',"
	        " '20240103_000000', 'RandomForest', '\\x07', 1, 0.5, 0.1, 0.1,"
	        " false)");
	/* the old rows sort by metric: seed column, or the newer point */
	lo.sort = "accuracy";
	lo.descending = 1;
	ck_assert_str_eq(versions_of(s, &lo, buf, sizeof buf),
	                 "20240102_000000 20240101_000000 20240103_000000");
	/* an old run cannot take metrics: it is not running */
	ck_assert_int_eq(ms_run_log_metric(s, "run_a", "x", 1, 0), MS_EINVAL);
	ms_store_close(s);
	free(m1);
	free(m2);
	free(url);
}
END_TEST

static int cli(const char *url, char **out, char **err,
               const char *const *args)
{
	const char *argv[32] = { mt_cli(), "--db", url };
	int n = 3;
	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return mt_run(argv, NULL, NULL, 0, out, err);
}

START_TEST(cli_runs_and_params)
{
	char *url = mt_migrated_db("runs_cli");
	char *dir = mt_tmpdir(), model[512], pfile[512], *out = NULL,
	     *err = NULL, *id;
	FILE *f;
	json_t *j;

	snprintf(model, sizeof model, "%s/m.bin", dir);
	snprintf(pfile, sizeof pfile, "%s/p.json", dir);
	ck_assert_int_eq(mt_write_random(model, 100, 3), 0);
	f = fopen(pfile, "w");
	fputs("{\"depth\": 7, \"n\": 1}", f);
	fclose(f);

	{
		const char *a[] = { "--json", "runs", "start", "--param", "n=100",
			"--param", "layers=[64,32]", "--param", "act=relu",
			"--params-file", pfile, "--tag", "team=ml", NULL };
		ck_assert_int_eq(cli(url, &out, NULL, a), 0);
	}
	j = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	id = strdup(json_string_value(json_object_get(j, "run_id")));
	json_decref(j);
	free(out);
	/* types kept: number, array, string; --param wins over the file */
	sql_eq(url, "SELECT jsonb_typeof(params->'n') || ' ' ||"
	       " jsonb_typeof(params->'layers') || ' ' ||"
	       " jsonb_typeof(params->'act') || ' ' || (params->>'n') || ' ' ||"
	       " (params->>'depth') FROM model_runs", "number array string 100 7");
	{
		const char *a[] = { "runs", "log", id, "--step", "3", "loss=0.25",
			"acc=0.9", NULL };
		ck_assert_int_eq(cli(url, &out, NULL, a), 0);
		free(out);
	}
	{
		const char *a[] = { "push", "--run-id", id, "--version", "c1",
			"--param", "n=100", "--param", "layers=[64,32]", model,
			NULL };
		ck_assert_int_eq(cli(url, &out, NULL, a), 0);
		free(out);
	}
	/* push used to store 100.0 and the string "[64,32]" */
	sql_eq(url, "SELECT (params->>'n') || ' ' || jsonb_typeof(params->"
	       "'layers') FROM model_artifacts", "100 array");
	{
		const char *a[] = { "runs", "finish", id, "--status", "weird",
			NULL };
		ck_assert_int_eq(cli(url, &out, &err, a), 2);
		ck_assert_ptr_nonnull(strstr(err, "invalid --status value: \"weird\""));
		free(out);
		free(err);
	}
	{
		const char *a[] = { "runs", "finish", id, NULL };
		ck_assert_int_eq(cli(url, &out, NULL, a), 0);
		free(out);
	}
	{
		const char *a[] = { "--json", "runs", "list", NULL };
		ck_assert_int_eq(cli(url, &out, NULL, a), 0);
		j = json_loads(out, 0, NULL);
		ck_assert_ptr_nonnull(j);
		ck_assert_str_eq(json_string_value(json_object_get(
			json_array_get(j, 0), "status")), "finished");
		ck_assert(json_real_value(json_object_get(json_object_get(
			json_array_get(j, 0), "metrics"), "loss")) == 0.25);
		json_decref(j);
		free(out);
	}
	{
		const char *a[] = { "runs", "show", id, NULL };
		ck_assert_int_eq(cli(url, &out, NULL, a), 0);
		ck_assert_ptr_nonnull(strstr(out, "loss: last 0.25 (1 point)"));
		ck_assert_ptr_nonnull(strstr(out, "step 3"));
		free(out);
	}
	/* show: the latest value of each metric and its number of points */
	{
		const char *a[] = { "runs", "log", "--version", "c1",
			"loss=0.2", NULL };
		const char *b[] = { "show", "c1", NULL };
		ck_assert_int_eq(cli(url, &out, NULL, a), 0);
		free(out);
		ck_assert_int_eq(cli(url, &out, NULL, b), 0);
		ck_assert_ptr_nonnull(strstr(out, "metric history:"));
		ck_assert_msg(strstr(out, "loss                     0.2  "
		                          "        (1 point)") != NULL, "%s", out);
		free(out);
	}
	/* a non-UTF-8 --param key: refused, not dropped; nothing pushed */
	{
		const char *a[] = { "push", "--version", "c2", "--param",
			"k\xff=1", model, NULL };
		ck_assert_int_eq(cli(url, &out, &err, a), 2);
		ck_assert_ptr_nonnull(strstr(err, "invalid --param key: not valid"
		                                  " UTF-8"));
		free(out);
		free(err);
		sql_eq(url, "SELECT count(*) FROM model_artifacts", "1");
	}
	/* list --where names the offending token, exit 2 */
	{
		const char *a[] = { "list", "--where", "loss <> 1", NULL };
		ck_assert_int_eq(cli(url, &out, &err, a), 2);
		ck_assert_ptr_nonnull(strstr(err, "found \"<>\""));
		free(out);
		free(err);
	}
	{
		const char *a[] = { "list", "--sort", "loss", "--where",
			"loss < 0.3", NULL };
		ck_assert_int_eq(cli(url, &out, NULL, a), 0);
		ck_assert_ptr_nonnull(strstr(out, "c1"));
		free(out);
	}
	free(id);
	mt_rmtree(dir);
	free(dir);
	free(url);
}
END_TEST

/* push --metrics-file / --params-file: JSON objects, types kept, the
 * command line winning; a file that is not an object of numbers is
 * refused before anything is written. */
START_TEST(cli_push_json_files)
{
	char *url = mt_migrated_db("runs_files");
	char *dir = mt_tmpdir(), model[512], mf[512], pf[512], bad[512];
	char *out = NULL, *err = NULL;
	FILE *f;

	snprintf(model, sizeof model, "%s/m.bin", dir);
	snprintf(mf, sizeof mf, "%s/metrics.json", dir);
	snprintf(pf, sizeof pf, "%s/params.json", dir);
	snprintf(bad, sizeof bad, "%s/bad.json", dir);
	ck_assert_int_eq(mt_write_random(model, 100, 4), 0);
	f = fopen(mf, "w");
	fputs("{\"accuracy\": 0.93, \"f1\": 0.8}", f);
	fclose(f);
	f = fopen(pf, "w");
	fputs("{\"n_estimators\": 100, \"layers\": [64, 32], \"act\":"
	      " \"relu\", \"cv\": 5}", f);
	fclose(f);
	f = fopen(bad, "w");
	fputs("{\"accuracy\": \"high\"}", f);
	fclose(f);
	{
		const char *a[] = { "push", "--version", "f1", "--metrics-file", mf,
			"--params-file", pf, "--param", "cv=10", "--metric", "f1=0.9",
			model, NULL };
		ck_assert_int_eq(cli(url, &out, NULL, a), 0);
		free(out);
	}
	sql_eq(url, "SELECT (params->>'n_estimators') || ' ' ||"
	       " jsonb_typeof(params->'layers') || ' ' || (params->>'act') ||"
	       " ' ' || (params->>'cv') || ' ' || (metrics->>'f1') || ' ' ||"
	       " (metrics->>'accuracy') FROM model_artifacts",
	       "100 array relu 10 0.9 0.93");
	sql_eq(url, "SELECT count(*) FROM model_metrics WHERE model_version ="
	       " 'f1'", "2");
	{
		const char *a[] = { "push", "--version", "f2", "--metrics-file",
			bad, model, NULL };
		ck_assert_int_eq(cli(url, &out, &err, a), 2);
		ck_assert_ptr_nonnull(strstr(err, "member \"accuracy\" is not a"
		                                  " number"));
		free(out);
		free(err);
	}
	{
		const char *a[] = { "push", "--version", "f3", "--params-file",
			model, model, NULL };
		ck_assert_int_eq(cli(url, &out, &err, a), 2);
		ck_assert_ptr_nonnull(strstr(err, "--params-file"));
		free(out);
		free(err);
	}
	sql_eq(url, "SELECT count(*) FROM model_artifacts", "1");
	mt_rmtree(dir);
	free(dir);
	free(url);
}
END_TEST

Suite *db_runs_suite(void)
{
	Suite *s = suite_create("db_runs");
	TCase *t = tcase_create("runs");
	tcase_add_test(t, run_life_cycle);
	tcase_add_test(t, batch_of_thousands_in_one_statement);
	tcase_add_test(t, batch_allocation_failures_write_nothing);
	tcase_add_test(t, bad_input_leaves_database_unchanged);
	tcase_add_test(t, versions_sorted_and_filtered_by_metric);
	tcase_add_test(t, migrate_from_version_2_in_place);
	tcase_add_test(t, cli_runs_and_params);
	tcase_add_test(t, cli_push_json_files);
	suite_add_tcase(s, t);
	return s;
}
