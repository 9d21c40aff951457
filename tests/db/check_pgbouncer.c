/* check_pgbouncer.c - everything through Debian's PgBouncer, in session
 * and in transaction pooling mode (tests/pgbouncer_harness.sh): push
 * (six concurrent multi-chunk pushes over two server connections), pull,
 * list, promote, the loader (LISTEN in session mode, polling in
 * transaction mode), the logger (COPY, and the spool replayed through the
 * staged path) and `predictions import`.
 *
 * The harness hands out its two server connections first-in first-out,
 * and each test first makes sure both exist, so in transaction mode
 * consecutive transactions of one client land on different server
 * connections: state that outlives a transaction (a named prepared
 * statement, a temporary table) is caught every time. */
#define _GNU_SOURCE
#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static const char *const modes[2] = { "session", "transaction" };

typedef struct bouncer {
	char state[256];
	char *url;    /* the test database through the pooler */
	char *direct; /* the same database, directly */
} bouncer;

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

static void harness(const char *const argv[])
{
	char *err = NULL;
	int rc = mt_run(argv, NULL, NULL, 0, NULL, &err);
	ck_assert_msg(rc == 0, "%s %s: %s", argv[0], argv[1], err);
	free(err);
}

static const char *script(void)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/tests/pgbouncer_harness.sh",
	         getenv("MS_SOURCE_DIR"));
	return path;
}

/* Both server connections open, so that FIFO hand-out alternates. */
static void warm_pool(const char *url)
{
	PGconn *a = PQconnectdb(url), *b = PQconnectdb(url);
	PGresult *r;
	ck_assert_int_eq(PQstatus(a), CONNECTION_OK);
	ck_assert_int_eq(PQstatus(b), CONNECTION_OK);
	PQclear(PQexec(a, "BEGIN"));
	PQclear(PQexec(a, "SELECT 1"));
	PQclear(PQexec(b, "BEGIN"));
	r = PQexec(b, "SELECT 1"); /* needs the second server connection */
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	PQclear(r);
	PQclear(PQexec(a, "COMMIT"));
	PQclear(PQexec(b, "COMMIT"));
	PQfinish(a);
	PQfinish(b);
}

static void bouncer_start(bouncer *b, int mode, const char *db)
{
	const char *argv[] = { script(), "start", getenv("MS_TEST_STATE"),
	                       modes[mode], b->state, NULL };
	char *port;
	snprintf(b->state, sizeof b->state, "%s.bouncer-%s",
	         getenv("MS_TEST_STATE"), db);
	harness(argv);
	b->direct = mt_migrated_db(db);
	port = state_value(b->state, "BOUNCER_PORT");
	ck_assert_ptr_nonnull(port);
	ck_assert_int_gt(asprintf(&b->url, "postgresql://postgres@127.0.0.1:%s/%s",
	                          port, db), 0);
	free(port);
	warm_pool(b->url);
}

static void bouncer_cmd(bouncer *b, const char *cmd)
{
	const char *argv[] = { script(), cmd, b->state, NULL };
	harness(argv);
}

static void bouncer_stop(bouncer *b)
{
	bouncer_cmd(b, "stop");
	free(b->url);
	free(b->direct);
}

static long count(const char *url, const char *sql)
{
	char *v = mt_sql(url, sql);
	long n;
	ck_assert_msg(v != NULL, "%s failed", sql);
	n = atol(v);
	free(v);
	return n;
}

/* ------------------------------------------------------------------ */

#define NPUSH 6
#define PUSH_BYTES 300000 /* 5 chunks of 64 KiB */

typedef struct pusher {
	const char *url;
	int i;
	ms_status st;
	char err[512];
} pusher;

static void *push_main(void *arg)
{
	pusher *p = arg;
	ms_store_options so;
	ms_push_options po;
	ms_store *s = NULL;
	unsigned char *data = malloc(PUSH_BYTES);
	ms_artifact_source src = { NULL, NULL, data, PUSH_BYTES };
	char version[16];

	ms_store_options_init(&so, MS_STORE_OPTIONS_VERSION);
	so.chunk_size = 64 << 10;
	snprintf(version, sizeof version, "v%d", p->i);
	mt_fill_random(data, PUSH_BYTES, (unsigned)p->i);
	ms_push_options_init(&po, MS_PUSH_OPTIONS_VERSION);
	po.model_version = version;
	p->st = ms_store_open(&s, p->url, &so);
	if (p->st == MS_OK)
		p->st = ms_store_push(NULL, s, &po, &src, 1);
	snprintf(p->err, sizeof p->err, "%s", ms_store_errmsg(s));
	ms_store_close(s);
	free(data);
	return NULL;
}

START_TEST(registry_through_pgbouncer)
{
	bouncer b;
	pusher ps[NPUSH];
	pthread_t th[NPUSH];
	char *dir = mt_tmpdir(), *out = NULL, *err = NULL, path[600];
	int rc;

	bouncer_start(&b, _i, _i ? "pb_reg_tx" : "pb_reg_s");
	for (int i = 0; i < NPUSH; i++) {
		ps[i] = (pusher){ b.url, i, MS_ERROR, "" };
		ck_assert_int_eq(pthread_create(&th[i], NULL, push_main, &ps[i]), 0);
	}
	for (int i = 0; i < NPUSH; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(ps[i].st == MS_OK, "push %d (%s mode): %s", i,
		              modes[_i], ps[i].err);
	}
	ck_assert_int_eq(count(b.direct, "SELECT count(*) FROM "
	                       "model_artifact_chunks"), NPUSH * 5);

	{	/* promote, list, pull: the CLI through the pooler */
		const char *pr[] = { mt_cli(), "--db", b.url, "promote", "v3",
		                     NULL };
		rc = mt_run(pr, NULL, NULL, 0, NULL, &err);
		ck_assert_msg(rc == 0, "promote: %s", err);
		free(err);
	}
	{
		const char *ls[] = { mt_cli(), "--db", b.url, "--json", "list",
		                     NULL };
		rc = mt_run(ls, NULL, NULL, 0, &out, &err);
		ck_assert_msg(rc == 0, "list: %s", err);
		for (int i = 0; i < NPUSH; i++) {
			char v[16];
			snprintf(v, sizeof v, "\"v%d\"", i);
			ck_assert_ptr_nonnull(strstr(out, v));
		}
		free(out);
		free(err);
	}
	snprintf(path, sizeof path, "%s/prod.bin", dir);
	{
		const char *pl[] = { mt_cli(), "--db", b.url, "pull",
		                     "production", "-o", path, NULL };
		unsigned char *want = malloc(PUSH_BYTES), *got = malloc(PUSH_BYTES);
		FILE *f;
		rc = mt_run(pl, NULL, NULL, 0, NULL, &err);
		ck_assert_msg(rc == 0, "pull: %s", err);
		free(err);
		mt_fill_random(want, PUSH_BYTES, 3);
		f = fopen(path, "rb");
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fread(got, 1, PUSH_BYTES, f), PUSH_BYTES);
		fclose(f);
		ck_assert_int_eq(memcmp(want, got, PUSH_BYTES), 0);
		free(want);
		free(got);
	}
	mt_rmtree(dir);
	free(dir);
	bouncer_stop(&b);
}
END_TEST

/* on_change: the last version swapped in, waited on. */
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

static void push_small(const char *url, const char *version, int prod)
{
	ms_store *s = NULL;
	ms_push_options po;
	unsigned char data[2000];
	ms_artifact_source src = { NULL, NULL, data, sizeof data };
	ms_status st;
	ck_assert_int_eq(ms_store_open(&s, url, NULL), MS_OK);
	mt_fill_random(data, sizeof data, 11);
	ms_push_options_init(&po, MS_PUSH_OPTIONS_VERSION);
	po.model_version = version;
	po.production = prod;
	st = ms_store_push(NULL, s, &po, &src, 1);
	ck_assert_msg(st == MS_OK, "push: %s", ms_store_errmsg(s));
	ms_store_close(s);
}

START_TEST(loader_through_pgbouncer)
{
	/* transaction mode cannot carry LISTEN (the session that listens is
	 * not the client's), so the loader polls there */
	bouncer b;
	swaps w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, "" };
	ms_loader_options o;
	ms_loader *l = NULL;
	ms_model *m = NULL;
	ms_store *s = NULL;
	char *dir = mt_tmpdir();

	bouncer_start(&b, _i, _i ? "pb_load_tx" : "pb_load_s");
	push_small(b.url, "a1", 1);
	push_small(b.url, "a2", 0);
	ms_loader_options_init(&o, MS_LOADER_OPTIONS_VERSION);
	o.fallback_dir = dir;
	o.watch = _i ? MS_WATCH_POLL : MS_WATCH_NOTIFY;
	o.poll_interval_ms = 100;
	o.on_change = on_swap;
	o.change_payload = &w;
	ck_assert_int_eq(ms_loader_open(&l, b.url, &o), MS_OK);
	ck_assert_int_eq(ms_loader_get(&m, l, NULL, NULL), MS_OK);
	ck_assert_str_eq(ms_model_version(m), "a1");
	ck_assert_int_eq(ms_model_source(m), MS_SOURCE_DATABASE);
	ms_model_release(m);
	ck_assert_int_eq(ms_store_open(&s, b.url, NULL), MS_OK);
	ck_assert_int_eq(ms_store_promote(s, NULL, "a2", "test"), MS_OK);
	ms_store_close(s);
	ck_assert_msg(wait_version(&w, "a2", 20), "promotion not seen (%s mode)",
	              modes[_i]);
	m = NULL;
	ck_assert_int_eq(ms_loader_get(&m, l, NULL, NULL), MS_OK);
	ck_assert_str_eq(ms_model_version(m), "a2");
	ms_model_release(m);
	ms_loader_close(l);
	mt_rmtree(dir);
	free(dir);
	bouncer_stop(&b);
}
END_TEST

static void log_rows(ms_predlog *p, int n)
{
	for (int i = 0; i < n; i++) {
		ms_prediction pr = { NULL, "v1", "{\"x\": 1}", (double)i, 0.5,
		                     __builtin_nan("") };
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

START_TEST(logger_through_pgbouncer)
{
	/* COPY through the pooler; then the pooler goes away, rows are
	 * spooled, it comes back, and the spool is replayed through the
	 * staged (temporary table) path: every row exactly once */
	bouncer b;
	ms_predlog_stats st = MS_PREDLOG_STATS_INIT;
	char *spool = mt_tmpdir();
	ms_predlog *p;

	bouncer_start(&b, _i, _i ? "pb_log_tx" : "pb_log_s");
	p = open_logger(b.url, spool);
	log_rows(p, 1000);
	ck_assert_int_eq(ms_predlog_flush(p, 30000), MS_OK);
	ck_assert_int_eq(count(b.direct, "SELECT count(*) FROM "
	                       "model_predictions"), 1000);

	bouncer_cmd(&b, "halt");
	log_rows(p, 500);
	ck_assert_int_eq(ms_predlog_flush(p, 30000), MS_OK);
	ck_assert_int_eq(ms_predlog_stats_get(&st, p), MS_OK);
	ck_assert_uint_eq(st.spooled, 500);
	ck_assert_int_eq(ms_predlog_close(p), MS_OK);

	bouncer_cmd(&b, "restart");
	warm_pool(b.url);
	p = open_logger(b.url, spool);
	log_rows(p, 1); /* the writer connects, replays the spool, sends it */
	ck_assert_int_eq(ms_predlog_flush(p, 30000), MS_OK);
	{	/* replayed at the first attempt: no transaction of the
		 * staged path assumed the stage table of an earlier one */
		ms_buf e = MS_BUF_INIT;
		ms_predlog_last_error(&e, p);
		ck_assert_msg(e.ptr == NULL || strstr(e.ptr, "does not exist") ==
		              NULL, "replay: %s", e.ptr);
		ms_buf_dispose(&e);
	}
	ck_assert_int_eq(ms_predlog_close(p), MS_OK);
	ck_assert_int_eq(count(b.direct, "SELECT count(*) FROM "
	                       "model_predictions"), 1501);
	ck_assert_int_eq(count(b.direct, "SELECT count(DISTINCT prediction_id)"
	                       " FROM model_predictions"), 1501);

	{	/* predictions import through the pooler */
		const char *im[] = { mt_cli(), "--db", b.url, "predictions",
		                     "import", "--spool-dir", spool, NULL };
		char in[200 * 80], *err = NULL;
		size_t n = 0;
		int rc;
		for (int i = 0; i < 200; i++)
			n += (size_t)snprintf(in + n, sizeof in - n,
			                      "{\"model_version\":\"v1\",\"input_features\":"
			                      "{\"i\":%d},\"predicted_value\":%d}\n", i, i);
		rc = mt_run(im, NULL, in, n, NULL, &err);
		ck_assert_msg(rc == 0, "import: %s", err);
		free(err);
	}
	ck_assert_int_eq(count(b.direct, "SELECT count(*) FROM "
	                       "model_predictions"), 1701);
	mt_rmtree(spool);
	free(spool);
	bouncer_stop(&b);
}
END_TEST

Suite *db_pgbouncer_suite(void)
{
	Suite *s = suite_create("db_pgbouncer");
	TCase *tc = tcase_create("pgbouncer");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, registry_through_pgbouncer, 0, 2);
	tcase_add_loop_test(tc, loader_through_pgbouncer, 0, 2);
	tcase_add_loop_test(tc, logger_through_pgbouncer, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
