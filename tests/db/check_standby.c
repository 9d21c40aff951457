/* check_standby.c - a primary (the suite's cluster) and a streaming
 * standby (tests/standby_harness.sh, pg_basebackup -R) on this machine:
 * the loader reads from the standby and sees promotions made on the
 * primary by polling (a standby cannot LISTEN); writers given only the
 * standby say they need the primary; when the primary stops, loaders keep
 * serving (standby, then cache) and the logger spools until a primary is
 * back (the standby, promoted), and every prediction is in exactly once. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *state_value(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[512];
	char *v = NULL;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, key, kl) == 0 && line[kl] == '=') {
			line[strcspn(line, "\n")] = '\0';
			v = strdup(line + kl + 1);
		}
	if (f)
		fclose(f);
	return v;
}

static void standby(const char *cmd, const char *state)
{
	char path[512], *err = NULL;
	const char *argv[] = { path, cmd, state, NULL, NULL };
	int rc;
	snprintf(path, sizeof path, "%s/tests/standby_harness.sh",
	         getenv("MS_SOURCE_DIR"));
	if (strcmp(cmd, "start") == 0) {
		argv[2] = getenv("MS_TEST_STATE");
		argv[3] = state;
	}
	rc = mt_run(argv, NULL, NULL, 0, NULL, &err);
	ck_assert_msg(rc == 0, "standby_harness %s: %s", cmd, err);
	free(err);
}

/* Wait until @p sql on @p url returns @p want (replication caught up). */
static void wait_value(const char *url, const char *sql, const char *want)
{
	double t0 = now_s();
	char *v = NULL;
	do {
		free(v);
		v = mt_sql(url, sql);
	} while ((v == NULL || strcmp(v, want) != 0) && now_s() - t0 < 30);
	ck_assert_msg(v && strcmp(v, want) == 0, "%s: %s, want %s", sql,
	              v ? v : "(error)", want);
	free(v);
}

typedef struct swaps {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char version[64];
} swaps;

static void on_swap(void *payload, const char *name, const char *version)
{
	swaps *w = payload;
	(void)name;
	pthread_mutex_lock(&w->mu);
	snprintf(w->version, sizeof w->version, "%s", version);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static bool wait_version(swaps *w, const char *want, int secs)
{
	struct timespec until;
	bool ok;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += secs;
	pthread_mutex_lock(&w->mu);
	while (strcmp(w->version, want) != 0 &&
	       pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0)
		;
	ok = strcmp(w->version, want) == 0;
	pthread_mutex_unlock(&w->mu);
	return ok;
}

static ms_status push(const char *url, const char *version, int prod,
                      char *err, size_t errn)
{
	ms_store *s = NULL;
	ms_push_options po;
	unsigned char data[3000];
	ms_artifact_source src = { NULL, NULL, data, sizeof data };
	ms_status st = ms_store_open(&s, url, NULL);
	mt_fill_random(data, sizeof data, 5);
	ms_push_options_init(&po, MS_PUSH_OPTIONS_VERSION);
	po.model_version = version;
	po.production = prod;
	if (st == MS_OK)
		st = ms_store_push(NULL, s, &po, &src, 1);
	snprintf(err, errn, "%s", ms_store_errmsg(s));
	ms_store_close(s);
	return st;
}

static void log_rows(ms_predlog *p, int n, int base)
{
	for (int i = 0; i < n; i++) {
		ms_prediction pr = { NULL, "v1", "{\"x\": 1}", (double)(base + i),
		                     0.5, __builtin_nan("") };
		ck_assert_int_eq(ms_predlog_log(NULL, p, &pr), MS_OK);
	}
}

static ms_predlog *open_logger(const char *url, const char *spool)
{
	ms_predlog_options o;
	ms_predlog *p = NULL;
	ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
	o.spool_dir = spool;
	o.flush_interval_ms = 20;
	ck_assert_int_eq(ms_predlog_open(&p, url, &o), MS_OK);
	return p;
}

START_TEST(primary_standby_failover)
{
	char sstate[512], *sport, *pport = strdup(mt_env("PGPORT"));
	char *primary = mt_migrated_db("sb"), *stby, *reads, *writes, *only_stby;
	char *spool = mt_tmpdir(), *dir = mt_tmpdir(), err[1024];
	swaps w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, "" };
	ms_predlog_stats ps = MS_PREDLOG_STATS_INIT;
	ms_loader_options lo;
	ms_loader *l = NULL, *cold = NULL;
	ms_model *m = NULL;
	ms_predlog *pl;

	snprintf(sstate, sizeof sstate, "%s.standby", getenv("MS_TEST_STATE"));
	ck_assert_int_eq(push(primary, "v1", 1, err, sizeof err), MS_OK);
	standby("start", sstate);
	sport = state_value(sstate, "PGPORT");
	ck_assert_int_gt(asprintf(&stby, "postgresql://postgres@127.0.0.1:%s/sb",
	                          sport), 0);
	ck_assert_int_gt(asprintf(&reads, "postgresql://postgres@127.0.0.1:%s,"
	                          "127.0.0.1:%s/sb?target_session_attrs="
	                          "prefer-standby", pport, sport), 0);
	ck_assert_int_gt(asprintf(&writes, "postgresql://postgres@127.0.0.1:%s,"
	                          "127.0.0.1:%s/sb?target_session_attrs="
	                          "read-write", sport, pport), 0);
	ck_assert_int_gt(asprintf(&only_stby, "postgresql://postgres@127.0.0.1:"
	                          "%s/sb?target_session_attrs=any", sport), 0);

	/* the loader reads from the standby, and sees a promotion made on
	 * the primary by polling */
	ms_loader_options_init(&lo, MS_LOADER_OPTIONS_VERSION);
	lo.fallback_dir = dir;
	lo.watch = MS_WATCH_NOTIFY;
	lo.poll_interval_ms = 200;
	lo.on_change = on_swap;
	lo.change_payload = &w;
	ck_assert_int_eq(ms_loader_open(&l, reads, &lo), MS_OK);
	ck_assert_int_eq(ms_loader_get(&m, l, NULL, NULL), MS_OK);
	ck_assert_str_eq(ms_model_version(m), "v1");
	ck_assert_int_eq(ms_model_source(m), MS_SOURCE_DATABASE);
	ms_model_release(m);
	wait_value(stby, "SELECT count(*) FROM pg_stat_activity WHERE "
	           "application_name = 'modelstore'", "2");
	ck_assert_int_eq(push(primary, "v2", 1, err, sizeof err), MS_OK);
	ck_assert_msg(wait_version(&w, "v2", 20), "promotion not seen on the "
	              "standby");

	/* writers given only the standby say what they need */
	ck_assert_int_eq(push(only_stby, "v3", 0, err, sizeof err), MS_ERROR);
	ck_assert_msg(strstr(err, "this command needs the primary") != NULL,
	              "%s", err);

	/* the logger writes to the primary */
	pl = open_logger(writes, spool);
	log_rows(pl, 300, 0);
	ck_assert_int_eq(ms_predlog_flush(pl, 30000), MS_OK);
	ck_assert_int_eq(ms_predlog_stats_get(&ps, pl), MS_OK);
	ck_assert_uint_eq(ps.written, 300);
	wait_value(stby, "SELECT count(*) FROM model_predictions", "300");

	/* the primary stops: loaders keep serving (a cold one from the
	 * standby), the logger spools */
	ck_assert_int_eq(mt_harness("halt"), 0);
	m = NULL;
	ck_assert_int_eq(ms_loader_get(&m, l, NULL, NULL), MS_OK);
	ck_assert_str_eq(ms_model_version(m), "v2");
	ms_model_release(m);
	ck_assert_int_eq(ms_loader_open(&cold, reads, NULL), MS_OK);
	m = NULL;
	ck_assert_int_eq(ms_loader_get(&m, cold, NULL, NULL), MS_OK);
	ck_assert_str_eq(ms_model_version(m), "v2");
	ck_assert_int_eq(ms_model_source(m), MS_SOURCE_DATABASE);
	ms_model_release(m);
	ms_loader_close(cold);
	log_rows(pl, 200, 300);
	ck_assert_int_eq(ms_predlog_flush(pl, 30000), MS_OK);
	ck_assert_int_eq(ms_predlog_stats_get(&ps, pl), MS_OK);
	ck_assert_uint_eq(ps.spooled, 200);

	/* the standby becomes the primary: the logger's next connection
	 * finds it (it is in the read-write list) and replays the spool */
	standby("promote", sstate);
	log_rows(pl, 1, 500);
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	pl = open_logger(writes, spool); /* replays whatever is left */
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	wait_value(stby, "SELECT count(*) FROM model_predictions", "501");
	wait_value(stby, "SELECT count(DISTINCT prediction_id) FROM "
	           "model_predictions", "501");
	wait_value(stby, "SELECT count(DISTINCT predicted_value) FROM "
	           "model_predictions", "501");
	/* and writers work again, on the new primary */
	ck_assert_msg(push(writes, "v4", 1, err, sizeof err) == MS_OK, "%s", err);
	ck_assert_msg(wait_version(&w, "v4", 20), "promotion on the new "
	              "primary not seen");

	ms_loader_close(l);
	standby("stop", sstate);
	mt_rmtree(spool);
	mt_rmtree(dir);
	free(spool);
	free(dir);
	free(sport);
	free(pport);
	free(primary);
	free(stby);
	free(reads);
	free(writes);
	free(only_stby);
}
END_TEST

Suite *db_standby_suite(void)
{
	Suite *s = suite_create("db_standby");
	TCase *tc = tcase_create("standby");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, primary_standby_failover);
	suite_add_tcase(s, tc);
	return s;
}
