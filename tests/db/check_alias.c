/* check_alias.c - aliases against the real server: set, move, remove and
 * their history; one version per alias per name enforced by the
 * database; reserved names refused with the database unchanged; @ALIAS
 * accepted wherever a selector is (show, pull, promote, the CLI); prune
 * keeping aliased versions; and a watching loader following an alias as
 * it moves (labelled thread: run under TSan too). */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static void push(ms_store *s, const char *version, const char *bytes,
                 int production)
{
	ms_push_options o = MS_PUSH_OPTIONS_INIT;
	ms_artifact_source src = { NULL, NULL, bytes, strlen(bytes) };
	o.model_version = version;
	o.production = production;
	ck_assert_msg(ms_store_push(NULL, s, &o, &src, 1) == MS_OK, "%s",
	              ms_store_errmsg(s));
}

static void sql_eq(const char *url, const char *sql, const char *want)
{
	char *got = mt_sql(url, sql);
	ck_assert_msg(got != NULL, "query failed: %s", sql);
	ck_assert_msg(strcmp(got, want) == 0, "%s: got \"%s\", want \"%s\"", sql,
	              got, want);
	free(got);
}

static void shown_version(ms_store *s, const char *sel, const char *want)
{
	ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
	ck_assert_msg(ms_store_show(&info, s, NULL, sel, NULL) == MS_OK, "%s",
	              ms_store_errmsg(s));
	ck_assert_str_eq(info.model_version, want);
	ms_artifact_info_dispose(&info);
}

START_TEST(set_move_remove_with_history)
{
	char *url = mt_migrated_db("alias_basic");
	ms_store *s = mt_open_store(url);
	ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
	ms_buf b = MS_BUF_INIT;
	json_t *j;

	push(s, "v1", "one", 1);
	push(s, "v2", "two", 0);
	ck_assert_int_eq(ms_store_alias_set(s, NULL, "champion", "v1", "first"),
	                 MS_OK);
	shown_version(s, "@champion", "v1");
	ck_assert_int_eq(ms_store_alias_set(s, NULL, "champion", "v2", NULL),
	                 MS_OK);
	shown_version(s, "@champion", "v2");
	/* the same version again records nothing */
	ck_assert_int_eq(ms_store_alias_set(s, NULL, "champion", "v2", NULL),
	                 MS_OK);
	/* a selector is resolved when the alias is set */
	ck_assert_int_eq(ms_store_alias_set(s, NULL, "canary", "@champion",
	                                    NULL), MS_OK);
	shown_version(s, "@canary", "v2");
	/* production stays the flag the seed's readers see */
	shown_version(s, "production", "v1");
	sql_eq(url, "SELECT model_version FROM model_artifacts WHERE"
	       " is_production", "v1");

	ck_assert_int_eq(ms_store_alias_list(&b, s, NULL), MS_OK);
	j = json_loads(b.ptr, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(json_array_size(j), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 0),
	                 "alias")), "canary");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 1),
	                 "model_version")), "v2");
	json_decref(j);
	ms_buf_dispose(&b);

	ck_assert_int_eq(ms_store_alias_remove(s, NULL, "canary", "done"), MS_OK);
	ck_assert_int_eq(ms_store_alias_remove(s, NULL, "canary", NULL),
	                 MS_ENOTFOUND);
	ck_assert_int_eq(ms_store_show(&info, s, NULL, "@canary", NULL),
	                 MS_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "no alias \"canary\""));
	ms_artifact_info_dispose(&info);
	sql_eq(url, "SELECT string_agg(alias || ':' || coalesce(from_version,"
	       " '-') || '>' || coalesce(to_version, '-') || ':' || action,"
	       " ' ' ORDER BY id) FROM model_alias_history",
	       "champion:->v1:set champion:v1>v2:set canary:->v2:set"
	       " canary:v2>-:remove");
	sql_eq(url, "SELECT reason FROM model_alias_history ORDER BY id LIMIT 1",
	       "first");
	ms_store_close(s);
	free(url);
}
END_TEST

START_TEST(bad_aliases_leave_database_unchanged)
{
	char *url = mt_migrated_db("alias_bad");
	ms_store *s = mt_open_store(url);
	char *r;

	push(s, "v1", "one", 1);
	ck_assert_int_eq(ms_store_alias_set(s, NULL, "production", "v1", NULL),
	                 MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s),
	                             "\"production\" is a reserved word"));
	ck_assert_int_eq(ms_store_alias_set(s, NULL, "latest", "v1", NULL),
	                 MS_EINVAL);
	ck_assert_int_eq(ms_store_alias_set(s, NULL, "previous", "v1", NULL),
	                 MS_EINVAL);
	ck_assert_int_eq(ms_store_alias_set(s, NULL, "a b", "v1", NULL),
	                 MS_EINVAL);
	ck_assert_int_eq(ms_store_alias_set(s, NULL, "", "v1", NULL), MS_EINVAL);
	ck_assert_int_eq(ms_store_alias_set(s, NULL, NULL, "v1", NULL),
	                 MS_EINVAL);
	ck_assert_int_eq(ms_store_alias_set(s, NULL, "ok", "v9", NULL),
	                 MS_ENOTFOUND);
	ck_assert_int_eq(ms_store_alias_set(s, NULL, "ok", "@nope", NULL),
	                 MS_ENOTFOUND);
	ck_assert_int_eq(ms_store_alias_set(s, NULL, "ok", "bad version!",
	                                    NULL), MS_EINVAL);
	ck_assert_int_eq(ms_store_alias_remove(s, NULL, "production", NULL),
	                 MS_EINVAL);
	sql_eq(url, "SELECT count(*) FROM model_aliases", "0");
	sql_eq(url, "SELECT count(*) FROM model_alias_history", "0");
	sql_eq(url, "SELECT model_version FROM model_artifacts WHERE"
	       " is_production", "v1");

	/* the database itself: one version per alias per name, no
	 * reserved names, whoever writes */
	r = mt_sql(url, "INSERT INTO model_aliases (model_name, alias,"
	           " model_version) VALUES ('default', 'x', 'v1')");
	ck_assert_ptr_nonnull(r);
	free(r);
	r = mt_sql(url, "INSERT INTO model_aliases (model_name, alias,"
	           " model_version) VALUES ('default', 'x', 'v2')");
	ck_assert_ptr_null(r);
	r = mt_sql(url, "INSERT INTO model_aliases (model_name, alias,"
	           " model_version) VALUES ('default', 'production', 'v1')");
	ck_assert_ptr_null(r);
	sql_eq(url, "SELECT count(*) FROM model_aliases", "1");
	ms_store_close(s);
	free(url);
}
END_TEST

static ms_status sink(void *p, const void *d, size_t n)
{
	char *buf = p;
	strncat(buf, d, n);
	return MS_OK;
}

START_TEST(selectors_accept_aliases)
{
	char *url = mt_migrated_db("alias_sel");
	ms_store *s = mt_open_store(url);
	char got[64] = "", *out = NULL, *err = NULL;
	ms_buf del = MS_BUF_INIT;

	push(s, "v1", "one", 1);
	push(s, "v2", "two", 0);
	push(s, "v3", "three", 0);
	ck_assert_int_eq(ms_store_alias_set(s, NULL, "champion", "v2", NULL),
	                 MS_OK);
	ck_assert_int_eq(ms_store_pull(NULL, s, NULL, "@champion", NULL, sink,
	                               got, NULL, NULL), MS_OK);
	ck_assert_str_eq(got, "two");
	ck_assert_int_eq(ms_store_pull(NULL, s, NULL, "@production", NULL, sink,
	                               got, NULL, NULL), MS_EINVAL);
	ck_assert_int_eq(ms_store_log_version_metric(s, NULL, "@champion",
	                                             "accuracy", 0.9, 0), MS_OK);
	sql_eq(url, "SELECT model_version FROM model_metrics", "v2");

	/* prune keeps aliased versions as it keeps production */
	ck_assert_int_eq(ms_store_prune(&del, s, NULL, 0, 0), MS_OK);
	ck_assert_str_eq(del.ptr, "[\"v3\"]");
	ms_buf_dispose(&del);

	/* promote @ALIAS promotes the version it points to */
	ck_assert_int_eq(ms_store_promote(s, NULL, "@champion", "test"), MS_OK);
	shown_version(s, "production", "v2");
	ck_assert_int_eq(ms_store_promote(s, NULL, "@nope", NULL), MS_ENOTFOUND);
	shown_version(s, "production", "v2");

	/* the CLI */
	{
		const char *argv[] = { mt_cli(), "--db", url, "alias", "set",
			"production", "v1", NULL };
		ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, &err), 2);
		ck_assert_ptr_nonnull(strstr(err, "invalid alias: \"production\""));
		free(out);
		free(err);
	}
	{
		const char *argv[] = { mt_cli(), "--db", url, "alias", "set",
			"canary", "v1", NULL };
		ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, NULL), 0);
		ck_assert_str_eq(out, "default @canary -> v1\n");
		free(out);
	}
	{
		const char *argv[] = { mt_cli(), "--db", url, "pull", "@canary",
			"-o", "-", NULL };
		ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, NULL), 0);
		ck_assert_str_eq(out, "one");
		free(out);
	}
	{
		const char *argv[] = { mt_cli(), "--db", url, "--json", "alias",
			"list", NULL };
		ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, NULL), 0);
		ck_assert_ptr_nonnull(strstr(out, "\"alias\": \"canary\""));
		free(out);
	}
	{
		const char *argv[] = { mt_cli(), "--db", url, "load", "@canary",
			NULL };
		ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, NULL), 0);
		ck_assert_ptr_nonnull(strstr(out, "default v1 from database"));
		free(out);
	}
	{
		const char *argv[] = { mt_cli(), "--db", url, "alias", "rm",
			"canary", NULL };
		const char *again[] = { mt_cli(), "--db", url, "alias", "rm",
			"canary", NULL };
		ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, NULL), 0);
		free(out);
		ck_assert_int_eq(mt_run(again, NULL, NULL, 0, &out, NULL), 3);
		free(out);
	}
	ms_store_close(s);
	free(url);
}
END_TEST

/* The watcher is connected: its session's last statement is its LISTEN
 * or one of its re-check queries (lib/src/watcher.c). */
static void wait_watcher_ready(const char *url)
{
	const char *sql =
		"SELECT count(*) FROM pg_stat_activity WHERE datname = "
		"current_database() AND state = 'idle' AND (query = "
		"'LISTEN modelstore_production' OR query LIKE "
		"'SELECT model_name, model_version%')";
	double t0 = mt_now();
	for (;;) {
		char *n = mt_sql(url, sql);
		bool ready = n && strcmp(n, "0") != 0;
		free(n);
		if (ready)
			return;
		ck_assert_msg(mt_now() - t0 < 10, "the watcher never connected");
		mt_poll_pause(10);
	}
}

/* Wait until the loader serves @want for @champion (NULL: until it
 * says the alias is gone); fails after 10 s. */
static void wait_alias(ms_loader *l, const char *want)
{
	double t0 = mt_now();
	for (;;) {
		ms_model *m = NULL;
		ms_status st = ms_loader_get(&m, l, NULL, "@champion");
		bool done = want ? st == MS_OK &&
		                   strcmp(ms_model_version(m), want) == 0
		                 : st == MS_ENOTFOUND;
		ms_model_release(m);
		if (done)
			return;
		ck_assert_msg(mt_now() - t0 < 10, "alias never moved to %s",
		              want ? want : "(removed)");
		mt_poll_pause(5);
	}
}

static void follow_case(const char *db, ms_watch_mode mode)
{
	char *url = mt_migrated_db(db);
	ms_store *s = mt_open_store(url);
	ms_loader_options o = MS_LOADER_OPTIONS_INIT;
	ms_loader_stats st = MS_LOADER_STATS_INIT;
	ms_loader *l = NULL;
	ms_model *held = NULL, *m = NULL;

	push(s, "v1", "one", 1);
	push(s, "v2", "two", 0);
	ck_assert_int_eq(ms_store_alias_set(s, NULL, "champion", "v1", NULL),
	                 MS_OK);
	o.fallback_dir = "/nonexistent";
	o.watch = mode;
	o.poll_interval_ms = 50;
	ck_assert_int_eq(ms_loader_open(&l, url, &o), MS_OK);
	ck_assert_int_eq(ms_loader_get(&held, l, NULL, "@champion"), MS_OK);
	ck_assert_str_eq(ms_model_version(held), "v1");
	ck_assert_int_eq(ms_model_source(held), MS_SOURCE_DATABASE);
	ck_assert_int_eq(ms_loader_get(&m, l, NULL, "@champion"), MS_OK);
	ck_assert_int_eq(ms_model_source(m), MS_SOURCE_CACHE);
	ms_model_release(m);
	if (mode == MS_WATCH_NOTIFY)
		wait_watcher_ready(url);

	ck_assert_int_eq(ms_store_alias_set(s, NULL, "champion", "v2", NULL),
	                 MS_OK);
	/* the watcher follows the move on its own: wait for its reload
	 * without a get in between (a get racing the watcher could load v2
	 * itself as a miss, and the move would not show as a reload) */
	{
		double t0 = mt_now();
		for (;;) {
			ck_assert_int_eq(ms_loader_stats_get(&st, l), MS_OK);
			if (st.reloads >= 1)
				break;
			ck_assert_msg(mt_now() - t0 < 10, "the watcher never "
			              "reloaded after the alias moved");
			mt_poll_pause(5);
		}
	}
	wait_alias(l, "v2");
	/* the handle taken before the move is still whole */
	ck_assert_uint_eq(ms_model_size(held), 3);
	ck_assert_int_eq(memcmp(ms_model_data(held), "one", 3), 0);
	ms_model_release(held);
	ck_assert_int_eq(ms_loader_stats_get(&st, l), MS_OK);
	ck_assert_uint_ge(st.reloads, 1);
	/* production did not move */
	ck_assert_int_eq(ms_loader_get(&m, l, NULL, NULL), MS_OK);
	ck_assert_str_eq(ms_model_version(m), "v1");
	ms_model_release(m);

	ck_assert_int_eq(ms_store_alias_remove(s, NULL, "champion", NULL),
	                 MS_OK);
	wait_alias(l, NULL);
	ms_loader_close(l);
	ms_store_close(s);
	free(url);
}

START_TEST(loader_follows_alias_notify)
{
	follow_case("alias_notify", MS_WATCH_NOTIFY);
}
END_TEST

START_TEST(loader_follows_alias_poll)
{
	follow_case("alias_poll", MS_WATCH_POLL);
}
END_TEST

/* Without a watcher the loader resolves an alias once and serves it
 * from the cache, as it does production. */
START_TEST(loader_alias_unwatched)
{
	char *url = mt_migrated_db("alias_off");
	ms_store *s = mt_open_store(url);
	ms_loader *l = NULL;
	ms_model *m = NULL;

	push(s, "v1", "one", 1);
	ck_assert_int_eq(ms_loader_open(&l, url, NULL), MS_OK);
	ck_assert_int_eq(ms_loader_get(&m, l, NULL, "@champion"), MS_ENOTFOUND);
	ck_assert_int_eq(ms_loader_get(&m, l, NULL, "@production"), MS_EINVAL);
	ck_assert_int_eq(ms_store_alias_set(s, NULL, "champion", "v1", NULL),
	                 MS_OK);
	ck_assert_int_eq(ms_loader_get(&m, l, NULL, "@champion"), MS_OK);
	ck_assert_str_eq(ms_model_version(m), "v1");
	ms_model_release(m);
	ms_loader_close(l);
	ms_store_close(s);
	free(url);
}
END_TEST

Suite *db_alias_suite(void)
{
	Suite *s = suite_create("db_alias");
	TCase *t = tcase_create("alias");
	tcase_add_test(t, set_move_remove_with_history);
	tcase_add_test(t, bad_aliases_leave_database_unchanged);
	tcase_add_test(t, selectors_accept_aliases);
	tcase_add_test(t, loader_alias_unwatched);
	tcase_add_test(t, loader_follows_alias_notify);
	tcase_add_test(t, loader_follows_alias_poll);
	suite_add_tcase(s, t);
	return s;
}
