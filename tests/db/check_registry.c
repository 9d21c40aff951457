/* check_registry.c - the registry against a real PostgreSQL server. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common.h"
#include "store.h" /* the store's own connection, for the session test */

static ms_store *open_store(const char *url, size_t chunk)
{
	ms_store_options o = MS_STORE_OPTIONS_INIT;
	ms_store *s = NULL;
	o.chunk_size = chunk;
	ms_status st = ms_store_open(&s, url, &o);
	ck_assert_msg(st == MS_OK, "open: %s", ms_store_errmsg(s));
	return s;
}

static char *push_mem(ms_store *s, const char *name, const char *version,
                      const void *data, uint64_t n, int level, int prod)
{
	ms_push_options o;
	ms_artifact_source src = { NULL, NULL, data, n };
	ms_buf v = MS_BUF_INIT;
	ms_push_options_init(&o, MS_PUSH_OPTIONS_VERSION);
	o.model_name = name;
	o.model_version = version;
	o.compress_level = level;
	o.production = prod;
	ms_status st = ms_store_push(&v, s, &o, &src, 1);
	ck_assert_msg(st == MS_OK, "push: %s", ms_store_errmsg(s));
	return v.ptr; /* caller frees with free() via ms_buf ownership */
}

typedef struct membuf { unsigned char *p; size_t n, cap; } membuf;
static ms_status mem_sink(void *pl, const void *d, size_t n)
{
	membuf *m = pl;
	ck_assert_uint_gt(n, 0); /* the library never writes nothing */
	if (m->n + n > m->cap) {
		m->cap = (m->n + n) * 2 + 16;
		m->p = realloc(m->p, m->cap);
	}
	memcpy(m->p + m->n, d, n);
	m->n += n;
	return MS_OK;
}

static void roundtrip(ms_store *s, const char *name, uint64_t n, int level)
{
	unsigned char *data = malloc(n ? n : 1);
	membuf got = { 0 };
	ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
	mt_fill_random(data, n, (unsigned)n);
	if (level && n > 4) /* compressible half */
		memset(data, 'A', n / 2);
	char *v = push_mem(s, name, NULL, data, n, level, 0);
	ms_status st = ms_store_pull(&info, s, name, v, NULL, mem_sink, &got, NULL, NULL);
	ck_assert_msg(st == MS_OK, "pull %llu: %s", (unsigned long long)n, ms_store_errmsg(s));
	ck_assert_uint_eq(got.n, n);
	ck_assert_int_eq(memcmp(got.p ? got.p : (unsigned char *)"", data, n), 0);
	ck_assert_int_eq(info.size, (int64_t)n);
	ck_assert_int_eq(strlen(info.sha256), 64);
	ms_artifact_info_dispose(&info);
	free(got.p);
	free(data);
	free(v);
}

START_TEST(migrate_is_idempotent_and_versioned)
{
	char *url = mt_fresh_db("reg_migrate");
	ms_store_options o = MS_STORE_OPTIONS_INIT;
	ms_store *s = NULL;
	int applied = -1, dbv, libv;
	/* a library against an empty database says what to do */
	ck_assert_int_eq(ms_store_open(&s, url, NULL), MS_ESCHEMA);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "modelstore migrate"));
	ms_store_close(s);
	o.check_schema = 0;
	ck_assert_int_eq(ms_store_open(&s, url, &o), MS_OK);
	/* never migrated: version 0, as documented (it failed with
	 * "relation does not exist", and doctor printed that) */
	dbv = -1;
	ck_assert_int_eq(ms_store_schema_version(&dbv, &libv, s), MS_OK);
	ck_assert_int_eq(dbv, 0);
	ck_assert_int_gt(libv, 0);
	ck_assert_int_eq(ms_store_migrate(&applied, s), MS_OK);
	ck_assert_int_ge(applied, 1);
	ck_assert_int_eq(ms_store_migrate(&applied, s), MS_OK);
	ck_assert_int_eq(applied, 0);
	ck_assert_int_eq(ms_store_schema_version(&dbv, &libv, s), MS_OK);
	ck_assert_int_eq(dbv, libv);
	ms_store_close(s);
	/* newer than known by a breaking migration (the column's default):
	 * refused, naming both versions; migrate refuses too */
	free(mt_sql(url, "INSERT INTO modelstore_migrations (version, name) VALUES (999, '999_future')"));
	ck_assert_int_eq(ms_store_open(&s, url, NULL), MS_ESCHEMA);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "999"));
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "newer"));
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "upgrade modelstore"));
	ms_store_close(s);
	ck_assert_int_eq(ms_store_open(&s, url, &o), MS_OK);
	ck_assert_int_eq(ms_store_migrate(&applied, s), MS_ESCHEMA);
	ms_store_close(s);
	/* newer by compatible migrations only: used as it is */
	free(mt_sql(url, "UPDATE modelstore_migrations SET breaking = false WHERE version = 999"));
	ck_assert_msg(ms_store_open(&s, url, NULL) == MS_OK, "%s", ms_store_errmsg(s));
	ck_assert_int_eq(ms_store_schema_version(&dbv, &libv, s), MS_OK);
	ck_assert_int_eq(dbv, 999);
	ck_assert_int_eq(ms_store_migrate(&applied, s), MS_OK);
	ck_assert_int_eq(applied, 0);
	ms_store_close(s);
	free(mt_sql(url, "DELETE FROM modelstore_migrations WHERE version = 999"));
	/* behind by an optional migration only (005): used as it is, and
	 * migrate applies it */
	free(mt_sql(url, "DELETE FROM modelstore_migrations WHERE version >= 5"));
	ck_assert_msg(ms_store_open(&s, url, NULL) == MS_OK, "%s", ms_store_errmsg(s));
	ck_assert_int_eq(ms_store_schema_check(s), MS_OK);
	ck_assert_int_eq(ms_store_migrate(&applied, s), MS_OK);
	ck_assert_int_eq(applied, libv - 4);
	ms_store_close(s);
	/* behind by a needed one: refused, naming it */
	free(mt_sql(url, "DELETE FROM modelstore_migrations WHERE version >= 4"));
	ck_assert_int_eq(ms_store_open(&s, url, NULL), MS_ESCHEMA);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "004_partitioning is missing"));
	ms_store_close(s);
	/* no schema: names the first migration */
	free(mt_sql(url, "DELETE FROM modelstore_migrations"));
	ck_assert_int_eq(ms_store_open(&s, url, NULL), MS_ESCHEMA);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "001_initial"));
	ms_store_close(s);
	free(url);
}
END_TEST

/* A database migrated by a library from before the `breaking` column
 * (migrations 1-4, all breaking): a library of today uses it (it needs
 * 4), reads an unknown migration recorded there as breaking, and its
 * migrate adds the column, keeps the old rows breaking and records 005
 * as not. */
START_TEST(migrations_table_without_breaking_column)
{
	char *url = mt_migrated_db("reg_migrate_legacy"), *got;
	ms_store_options o = MS_STORE_OPTIONS_INIT;
	ms_store *s = NULL;
	int applied = -1;
	free(mt_sql(url, "DELETE FROM modelstore_migrations WHERE version >= 5;"
	                 " ALTER TABLE modelstore_migrations DROP COLUMN breaking"));
	ck_assert_msg(ms_store_open(&s, url, NULL) == MS_OK, "%s", ms_store_errmsg(s));
	ms_store_close(s);
	free(mt_sql(url, "INSERT INTO modelstore_migrations (version, name) VALUES (999, '999_future')"));
	ck_assert_int_eq(ms_store_open(&s, url, NULL), MS_ESCHEMA);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "newer"));
	ms_store_close(s);
	free(mt_sql(url, "DELETE FROM modelstore_migrations WHERE version = 999"));
	o.check_schema = 0;
	ck_assert_int_eq(ms_store_open(&s, url, &o), MS_OK);
	ck_assert_msg(ms_store_migrate(&applied, s) == MS_OK, "%s", ms_store_errmsg(s));
	ck_assert_int_ge(applied, 1);
	ms_store_close(s);
	got = mt_sql(url, "SELECT string_agg(version || ':' || breaking, ',' ORDER BY version)"
	                  " FROM modelstore_migrations WHERE version <= 5");
	ck_assert_str_eq(got, "1:true,2:true,3:true,4:true,5:false");
	free(got);
	free(url);
}
END_TEST

/* 005: the notify function runs for rows that are production, not for
 * every row inserted (a fresh connection's first INSERT compiled it:
 * 3.4 ms of every CLI push).  Counted by the server, with
 * track_functions on for this database; a backend reports its counts
 * when it exits, so they are read after the store is closed, waiting
 * until they show. */
START_TEST(notify_function_runs_only_for_production_rows)
{
	char *url = mt_migrated_db("reg_notify_when"), *n, *v1, *v2;
	ms_store *s = NULL;
	unsigned char data[64] = { 1 };
	free(mt_sql(url, "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET"
	                 " track_functions = ''pl''', current_database()); END $$"));
	ck_assert_int_eq(ms_store_open(&s, url, NULL), MS_OK);
	v1 = push_mem(s, "n", NULL, data, sizeof data, 0, 0);
	v2 = push_mem(s, "n", NULL, data, sizeof data, 0, 0);
	ck_assert_int_eq(ms_store_promote(s, "n", v2, NULL), MS_OK);
	ms_store_close(s);
	/* two inserts and one promotion: one row became production */
	for (int i = 0;; i++) {
		n = mt_sql(url, "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions"
		                " WHERE funcname = 'modelstore_notify_production'");
		if (strcmp(n, "0") != 0 || i == 1000)
			break;
		free(n);
		mt_poll_pause(10);
	}
	ck_assert_str_eq(n, "1");
	free(n);
	free(v1);
	free(v2);
	free(url);
}
END_TEST

START_TEST(concurrent_migrate)
{
	char *url = mt_fresh_db("reg_migrate2");
	pid_t pids[4];
	for (int i = 0; i < 4; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			ms_store_options o = MS_STORE_OPTIONS_INIT;
			ms_store *s = NULL;
			o.check_schema = 0;
			int ok = ms_store_open(&s, url, &o) == MS_OK &&
			         ms_store_migrate(NULL, s) == MS_OK;
			ms_store_close(s);
			_exit(ok ? 0 : 1);
		}
	}
	for (int i = 0; i < 4; i++) {
		int status;
		waitpid(pids[i], &status, 0);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	char *n = mt_sql(url, "SELECT count(*) FROM modelstore_migrations");
	ms_store *s = NULL;
	int dbv = 0, libv = 0;
	ck_assert_int_eq(ms_store_open(&s, url, NULL), MS_OK);
	ck_assert_int_eq(ms_store_schema_version(&dbv, &libv, s), MS_OK);
	ms_store_close(s);
	ck_assert_int_eq(atoi(n), libv); /* each migration recorded once */
	ck_assert_int_eq(dbv, libv);
	free(n);
	free(url);
}
END_TEST

START_TEST(roundtrips_small_and_large)
{
	char *url = mt_migrated_db("reg_roundtrip");
	ms_store *s = open_store(url, 0);
	roundtrip(s, "rt", 0, 0);
	roundtrip(s, "rt", 1, 0);
	roundtrip(s, "rt", 1000000, 0);
	roundtrip(s, "rt", 1000000, 1);
	ms_store_close(s);
	free(url);
}
END_TEST

/* The push asks for generic plans in its own transaction only (SET
 * LOCAL in push.c push_begin): after pushes of an inline and of chunked
 * artifacts the session's setting is what it was.  And the chunk loop,
 * which reads and hashes the next chunk while the server stores the one
 * before, stores every byte in order: files of 3.4 chunks and of exactly
 * 3 chunks (the last one found by the peek), and memory, come back
 * byte-exact with their chunk counts. */
/* The run and metrics go out with COMMIT in one round trip (pipeline
 * mode).  When that statement fails, COMMIT must not run: the push fails
 * whole (no artifact row stays), and the connection is back out of
 * pipeline mode with no transaction open, so the next push works. */
START_TEST(push_metrics_failure_rolls_back_whole)
{
	char *url = mt_migrated_db("reg_pushmetfail");
	ms_store *s = open_store(url, 1024);
	static const unsigned char bytes[] = "twelve bytes";
	ms_artifact_source src = { NULL, NULL, bytes, sizeof bytes };
	ms_push_options o;
	ms_buf ver = MS_BUF_INIT;
	PGresult *r;

	r = PQexec(s->conn,
	           "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql"
	           " AS $$BEGIN RAISE EXCEPTION 'metric refused'; END$$;"
	           " CREATE TRIGGER refuse BEFORE INSERT ON model_metrics"
	           " FOR EACH ROW WHEN (NEW.model_name = 'mf')"
	           " EXECUTE FUNCTION refuse()");
	ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	ms_push_options_init(&o, MS_PUSH_OPTIONS_VERSION);
	o.model_name = "mf";
	o.model_version = "v1";
	o.metrics_json = "{\"f1\": 0.5}";
	ck_assert_int_ne(ms_store_push(&ver, s, &o, &src, 1), MS_OK);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "metric refused"));
	ck_assert_int_eq(PQpipelineStatus(s->conn), PQ_PIPELINE_OFF);
	ck_assert_int_eq(PQtransactionStatus(s->conn), PQTRANS_IDLE);
	r = PQexec(s->conn, "SELECT count(*) FROM model_artifacts"
	                    " WHERE model_name = 'mf'");
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "0");
	PQclear(r);
	/* without the refused metric the same push goes through */
	o.metrics_json = NULL;
	ck_assert_int_eq(ms_store_push(&ver, s, &o, &src, 1), MS_OK);
	ck_assert_str_eq(ver.ptr, "v1");
	r = PQexec(s->conn, "SELECT count(*) FROM model_runs WHERE run_id = 'v1'");
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "1");
	PQclear(r);
	ms_buf_dispose(&ver);
	ms_store_close(s);
	free(url);
}
END_TEST

/* A push of one inline artifact with its version given and no
 * promotion is one round trip (BEGIN to COMMIT in one pipeline, one
 * Sync; the general path took three: a simple Query and two Syncs), the
 * hash it records is that of the bytes, its run and metrics are there,
 * and a duplicate fails by name, leaving the connection idle. */
static int count_round_trips(const char *trace)
{
	FILE *f = fopen(trace, "r");
	char line[4096];
	int n = 0;
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "F\t", 2) == 0 &&
		    (strstr(line, "\tSync") || strstr(line, "\tQuery")))
			n++;
	fclose(f);
	return n;
}

START_TEST(inline_push_is_one_round_trip)
{
	char *url = mt_migrated_db("reg_oneround");
	char *dir = mt_tmpdir(), trace[512];
	ms_store *s = open_store(url, 4096);
	unsigned char bytes[3000];
	ms_artifact_source src = { NULL, NULL, bytes, sizeof bytes };
	ms_push_options o;
	ms_buf ver = MS_BUF_INIT;
	double acc = 0.75;
	FILE *tf;

	mt_fill_random(bytes, sizeof bytes, 5);
	ms_push_options_init(&o, MS_PUSH_OPTIONS_VERSION);
	o.model_name = "one";
	o.model_version = "v1";
	o.run_id = "run-1";
	o.accuracy = &acc;
	o.metrics_json = "{\"f1\": 0.5}";
	snprintf(trace, sizeof trace, "%s/trace.txt", dir);
	tf = fopen(trace, "w");
	ck_assert_ptr_nonnull(tf);
	PQtrace(s->conn, tf);
	PQsetTraceFlags(s->conn, PQTRACE_SUPPRESS_TIMESTAMPS);
	ck_assert_int_eq(ms_store_push(&ver, s, &o, &src, 1), MS_OK);
	PQuntrace(s->conn);
	fclose(tf);
	ck_assert_int_eq(count_round_trips(trace), 1);
	ck_assert_str_eq(ver.ptr, "v1");
	ms_buf_dispose(&ver);
	char *r = mt_sql(url, "SELECT sha256 = sha256(model_binary) AND chunk_count = 0"
	                      " AND model_size_bytes = 3000 AND run_id = 'run-1'"
	                      " FROM model_artifacts WHERE model_name = 'one'");
	ck_assert_str_eq(r, "t");
	free(r);
	r = mt_sql(url, "SELECT string_agg(metric || '=' || value, ',' ORDER BY metric)"
	                " FROM model_metrics WHERE model_name = 'one' AND run_id = 'run-1'");
	ck_assert_str_eq(r, "accuracy=0.75,f1=0.5");
	free(r);

	/* the same version again: refused by name, nothing added */
	ck_assert_int_eq(ms_store_push(&ver, s, &o, &src, 1), MS_EEXISTS);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "one version \"v1\" artifact model already exists"));
	ck_assert_int_eq(PQpipelineStatus(s->conn), PQ_PIPELINE_OFF);
	ck_assert_int_eq(PQtransactionStatus(s->conn), PQTRANS_IDLE);
	r = mt_sql(url, "SELECT (SELECT count(*) FROM model_artifacts) || ','"
	                " || (SELECT count(*) FROM model_metrics) || ','"
	                " || (SELECT count(*) FROM model_runs)");
	ck_assert_str_eq(r, "1,2,1");
	free(r);
	/* and the connection goes on serving */
	o.model_version = "v2";
	ck_assert_int_eq(ms_store_push(&ver, s, &o, &src, 1), MS_OK);
	ms_buf_dispose(&ver);
	ms_store_close(s);
	mt_rmtree(dir);
	free(dir);
	free(url);
}
END_TEST

START_TEST(push_settings_end_with_its_transaction)
{
	char *url = mt_migrated_db("reg_pushlocal");
	char *dir = mt_tmpdir(), in[512];
	ms_store *s = open_store(url, 1024);
	static const size_t sizes[] = { 3500, 3072 };
	static const int32_t chunks[] = { 4, 3 };
	PGresult *r;

	r = PQexec(s->conn, "SET plan_cache_mode = force_custom_plan");
	ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	roundtrip(s, "pl", 10, 0);   /* inline */
	roundtrip(s, "pl", 5000, 0); /* 5 chunks from memory */
	for (int i = 0; i < 2; i++) {
		ms_push_options o;
		ms_artifact_source src = { NULL, in, NULL, 0 };
		ms_buf ver = MS_BUF_INIT;
		ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
		membuf got = { 0 };
		unsigned char *want = malloc(sizes[i]);
		FILE *f;
		snprintf(in, sizeof in, "%s/in%d.bin", dir, i);
		ck_assert_int_eq(mt_write_random(in, sizes[i], 11 + i), 0);
		f = fopen(in, "rb");
		ck_assert_uint_eq(fread(want, 1, sizes[i], f), sizes[i]);
		fclose(f);
		ms_push_options_init(&o, MS_PUSH_OPTIONS_VERSION);
		o.model_name = "plf";
		ck_assert_int_eq(ms_store_push(&ver, s, &o, &src, 1), MS_OK);
		ck_assert_int_eq(ms_store_pull(&info, s, "plf", ver.ptr, NULL,
		                               mem_sink, &got, NULL, NULL), MS_OK);
		ck_assert_int_eq(info.chunk_count, chunks[i]);
		ck_assert_uint_eq(got.n, sizes[i]);
		ck_assert_int_eq(memcmp(got.p, want, sizes[i]), 0);
		ms_artifact_info_dispose(&info);
		ms_buf_dispose(&ver);
		free(got.p);
		free(want);
	}
	r = PQexec(s->conn, "SHOW plan_cache_mode");
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "force_custom_plan");
	PQclear(r);
	ms_store_close(s);
	mt_rmtree(dir);
	free(dir);
	free(url);
}
END_TEST

START_TEST(roundtrip_100mb_file)
{
	char *url = mt_migrated_db("reg_100mb");
	char *dir = mt_tmpdir(), in[512], out[512], *v;
	ms_store *s = open_store(url, 0);
	ms_push_options o;
	ms_artifact_source src = { NULL, in, NULL, 0 };
	ms_buf ver = MS_BUF_INIT;
	ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
	snprintf(in, sizeof in, "%s/in.bin", dir);
	snprintf(out, sizeof out, "%s/out.bin", dir);
	ck_assert_int_eq(mt_write_random(in, 100u << 20, 7), 0);
	ms_push_options_init(&o, MS_PUSH_OPTIONS_VERSION);
	ck_assert_int_eq(ms_store_push(&ver, s, &o, &src, 1), MS_OK);
	v = ver.ptr;
	ck_assert_int_eq(ms_store_pull_file(&info, s, NULL, v, NULL, out, 0, NULL, NULL), MS_OK);
	ck_assert_int_eq(info.chunk_count, 100);
	ms_artifact_info_dispose(&info);
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "cmp -s %s %s", in, out);
	ck_assert_int_eq(system(cmd), 0);
	ms_buf_dispose(&ver);
	ms_store_close(s);
	mt_rmtree(dir);
	free(dir);
	free(url);
}
END_TEST

START_TEST(chunk_boundaries)
{
	char *url = mt_migrated_db("reg_chunks");
	const size_t C = 4096;
	ms_store *s = open_store(url, C);
	size_t sizes[] = { C - 1, C, C + 1, 2 * C, 3 * C, 3 * C + 1 };
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		roundtrip(s, "cb", sizes[i], 0);
		roundtrip(s, "cbz", sizes[i], 6);
	}
	/* inline at or below the chunk size, chunked above */
	char *n = mt_sql(url, "SELECT string_agg(chunk_count::text, ',' ORDER BY id) FROM model_artifacts WHERE model_name = 'cb'");
	ck_assert_str_eq(n, "0,0,2,2,3,4");
	free(n);
	ms_store_close(s);
	free(url);
}
END_TEST

START_TEST(seed_written_rows_are_served)
{
	char *url = mt_migrated_db("reg_seed");
	ms_store *s = open_store(url, 0);
	membuf got = { 0 };
	ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
	/* exactly the columns the seed's Python inserts */
	char *r = mt_sql(url,
		"INSERT INTO model_artifacts (run_id, model_version, model_type, model_binary,"
		" model_size_bytes, accuracy_score, rmse_score, r2_score, is_production)"
		" VALUES ('mlflow-run-123', '20260105_143022', 'RandomForest',"
		" decode('00ff10203040', 'hex'), 6, 0.85, 3500.25, 0.92, TRUE)");
	ck_assert_ptr_nonnull(r);
	free(r);
	ck_assert_int_eq(ms_store_pull(&info, s, NULL, "production", NULL, mem_sink, &got, NULL, NULL), MS_OK);
	ck_assert_uint_eq(got.n, 6);
	ck_assert_mem_eq(got.p, "\x00\xff\x10\x20\x30\x40", 6);
	ck_assert_str_eq(info.sha256, ""); /* unverified: no recorded hash */
	ck_assert_str_eq(info.model_version, "20260105_143022");
	ck_assert(fabs(info.accuracy - 0.85) < 1e-9);
	ms_artifact_info_dispose(&info);
	free(got.p);
	size_t checked = 0, bad = 0;
	ck_assert_int_eq(ms_store_verify(&checked, &bad, s, NULL, NULL, NULL), MS_OK);
	ck_assert_uint_eq(checked, 1);
	ck_assert_uint_eq(bad, 0);
	/* backfill records the hash once; afterwards the row is verified */
	size_t filled = 0;
	ck_assert_int_eq(ms_store_backfill_hashes(&filled, s, NULL), MS_OK);
	ck_assert_uint_eq(filled, 1);
	ck_assert_int_eq(ms_store_backfill_hashes(&filled, s, NULL), MS_OK);
	ck_assert_uint_eq(filled, 0);
	char *h = mt_sql(url, "SELECT encode(sha256, 'hex') FROM model_artifacts");
	/* sha256 of 00ff10203040 */
	ck_assert_int_eq(strlen(h), 64);
	free(h);
	ck_assert_int_eq(ms_store_show(&info, s, NULL, "production", NULL), MS_OK);
	ck_assert_int_eq(strlen(info.sha256), 64);
	ms_artifact_info_dispose(&info);
	free(mt_sql(url, "UPDATE model_artifacts SET model_binary = decode('00ff10203041', 'hex')"));
	ck_assert_int_eq(ms_store_verify(&checked, &bad, s, NULL, NULL, NULL), MS_EINTEGRITY);
	ms_store_close(s);
	free(url);
}
END_TEST

START_TEST(seed_monitoring_queries_run_unmodified)
{
	char *url = mt_migrated_db("reg_monitor");
	ms_store *s = open_store(url, 0);
	free(push_mem(s, "default", "v1", "abc", 3, 0, 1));
	free(mt_sql(url, "INSERT INTO model_predictions (model_version, input_features, predicted_value, actual_value)"
	                 " VALUES ('v1', '{\"year\": 2020}', 10, 12), ('v1', '{}', 5, NULL)"));
	const char *queries[] = {
		"SELECT \n    SUM(model_size_bytes) / 1024.0 / 1024.0 as total_size_mb,\n    COUNT(*) as total_models\nFROM model_artifacts;",
		"SELECT \n    model_type,\n    COUNT(*) as count,\n    AVG(model_size_bytes) / 1024.0 as avg_size_kb\nFROM model_artifacts\nGROUP BY model_type;",
		"SELECT \n    model_version,\n    COUNT(*) as prediction_count,\n    AVG(predicted_value) as avg_prediction\nFROM model_predictions\nWHERE prediction_time > NOW() - INTERVAL '1 day'\nGROUP BY model_version;",
		"SELECT \n    model_version,\n    COUNT(*) as predictions_with_actual,\n    AVG(ABS(predicted_value - actual_value)) as mean_absolute_error\nFROM model_predictions\nWHERE actual_value IS NOT NULL\nGROUP BY model_version;",
	};
	const char *expect[] = { NULL, "unknown", "v1", "v1" };
	for (size_t i = 0; i < 4; i++) {
		char *r = mt_sql(url, queries[i]);
		ck_assert_msg(r != NULL, "seed query %zu failed", i);
		if (expect[i])
			ck_assert_str_eq(r, expect[i]);
		free(r);
	}
	char *mae = mt_sql(url, "SELECT AVG(ABS(predicted_value - actual_value)) FROM model_predictions WHERE actual_value IS NOT NULL");
	ck_assert_str_eq(mae, "2");
	free(mae);
	ms_store_close(s);
	free(url);
}
END_TEST

START_TEST(concurrent_promotions_keep_one_production)
{
	char *url = mt_migrated_db("reg_promote");
	ms_store *s = open_store(url, 0);
	char versions[10][8];
	for (int i = 0; i < 10; i++) {
		snprintf(versions[i], sizeof versions[i], "v%d", i);
		free(push_mem(s, "race", versions[i], "x", 1, 0, 0));
	}
	ms_store_close(s);
	pid_t pids[8];
	for (int p = 0; p < 8; p++) {
		pids[p] = fork();
		if (pids[p] == 0) {
			ms_store *c = NULL;
			int bad = 0;
			if (ms_store_open(&c, url, NULL) != MS_OK)
				_exit(2);
			for (int k = 0; k < 25; k++)
				if (ms_store_promote(c, "race", versions[(p * 7 + k) % 10], "race") != MS_OK)
					bad++;
			ms_store_close(c);
			_exit(bad ? 1 : 0);
		}
	}
	for (int p = 0; p < 8; p++) {
		int status;
		waitpid(pids[p], &status, 0);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "promoter %d failed", p);
	}
	char *n = mt_sql(url, "SELECT count(*) FROM model_artifacts WHERE model_name = 'race' AND is_production");
	ck_assert_str_eq(n, "1");
	free(n);
	/* Sampling the flag from outside cannot fail under MVCC; what can:
	 * (1) the history has every promotion that changed something (a
	 * promotion of the version already in production records nothing),
	 * and its order is the order in which they took effect: each one's
	 * from_version is the previous one's to_version, never equal to its
	 * own, and the last one recorded is what is in production now. */
	n = mt_sql(url, "SELECT count(*) FROM model_promotions WHERE model_name = 'race'");
	ck_assert_msg(atoi(n) > 8 && atoi(n) <= 200, "%s promotions recorded", n);
	free(n);
	n = mt_sql(url, "SELECT count(*) FROM model_promotions WHERE model_name = "
	                "'race' AND from_version IS NOT DISTINCT FROM to_version");
	ck_assert_str_eq(n, "0");
	free(n);
	n = mt_sql(url, "SELECT count(*) FROM (SELECT from_version, lag(to_version) "
	                "OVER (ORDER BY id) AS prev FROM model_promotions WHERE "
	                "model_name = 'race') s WHERE prev IS NOT NULL AND "
	                "from_version IS DISTINCT FROM prev");
	ck_assert_msg(n && strcmp(n, "0") == 0, "%s promotions out of order", n);
	free(n);
	n = mt_sql(url, "SELECT (SELECT to_version FROM model_promotions WHERE "
	                "model_name = 'race' ORDER BY id DESC LIMIT 1) = (SELECT "
	                "model_version FROM model_artifacts WHERE model_name = "
	                "'race' AND is_production)");
	ck_assert_str_eq(n, "t");
	free(n);
	/* (2) the database itself refuses a second production row, by the
	 * partial unique index, whoever writes it */
	{
		const char *sql[] = {
			"UPDATE model_artifacts SET is_production = true WHERE "
			"model_name = 'race' AND NOT is_production AND id = (SELECT "
			"min(id) FROM model_artifacts WHERE model_name = 'race' AND "
			"NOT is_production)",
			"INSERT INTO model_artifacts (model_name, model_version, "
			"artifact, run_id, model_type, model_binary, chunk_count, "
			"is_production) VALUES ('race', 'intruder', 'model', 'r', "
			"'test', '\\x00'::bytea, 0, true)",
		};
		PGconn *c = PQconnectdb(url);
		ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
		for (size_t i = 0; i < 2; i++) {
			PGresult *r = PQexec(c, sql[i]);
			const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
			const char *idx = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
			ck_assert_msg(PQresultStatus(r) == PGRES_FATAL_ERROR,
			              "statement %zu was accepted", i);
			ck_assert_str_eq(state, "23505"); /* unique_violation */
			ck_assert_str_eq(idx, "model_artifacts_one_production");
			PQclear(r);
		}
		PQfinish(c);
	}
	n = mt_sql(url, "SELECT count(*) FROM model_artifacts WHERE model_name = 'race' AND is_production");
	ck_assert_str_eq(n, "1");
	free(n);
	free(url);
}
END_TEST

START_TEST(failed_push_leaves_nothing)
{
	char *url = mt_migrated_db("reg_failpush");
	ms_store *s = open_store(url, 4096);
	unsigned char big[20000];
	ms_push_options o;
	ms_artifact_source src[2] = {
		{ NULL, NULL, big, sizeof big },          /* chunked, written first */
		{ "scaler", "/nonexistent/scaler.bin", NULL, 0 },
	};
	ms_buf v = MS_BUF_INIT;
	mt_fill_random(big, sizeof big, 3);
	ms_push_options_init(&o, MS_PUSH_OPTIONS_VERSION);
	ck_assert_int_eq(ms_store_push(&v, s, &o, src, 2), MS_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "/nonexistent/scaler.bin"));
	ck_assert_ptr_null(v.ptr);
	char *n = mt_sql(url, "SELECT (SELECT count(*) FROM model_artifacts) + (SELECT count(*) FROM model_artifact_chunks) + (SELECT count(*) FROM model_metrics)");
	ck_assert_str_eq(n, "0");
	free(n);
	/* no primary artifact */
	src[0].name = "weights";
	ck_assert_int_eq(ms_store_push(&v, s, &o, src, 1), MS_EINVAL);
	/* duplicate explicit version */
	o.model_version = "dup";
	src[0].name = NULL;
	ck_assert_int_eq(ms_store_push(&v, s, &o, src, 1), MS_OK);
	ms_buf_dispose(&v);
	ck_assert_int_eq(ms_store_push(&v, s, &o, src, 1), MS_EEXISTS);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "dup"));
	n = mt_sql(url, "SELECT count(*) FROM model_artifact_chunks");
	ck_assert_str_eq(n, "5");
	free(n);
	ms_store_close(s);
	free(url);
}
END_TEST

START_TEST(multi_artifact_version_is_atomic_and_complete)
{
	char *url = mt_migrated_db("reg_multi");
	ms_store *s = open_store(url, 0);
	ms_push_options o;
	ms_artifact_source src[3] = {
		{ "scaler", NULL, "scale", 5 },
		{ NULL, NULL, "weights", 7 },
		{ "vocab", NULL, "v", 1 },
	};
	ms_buf v = MS_BUF_INIT;
	membuf got = { 0 };
	double acc = 0.5;
	ms_push_options_init(&o, MS_PUSH_OPTIONS_VERSION);
	o.production = 1;
	o.accuracy = &acc;
	o.metrics_json = "{\"f1\": 0.7}";
	ck_assert_int_eq(ms_store_push(&v, s, &o, src, 3), MS_OK);
	ck_assert_int_eq(ms_store_pull(NULL, s, NULL, "production", "scaler", mem_sink, &got, NULL, NULL), MS_OK);
	ck_assert_uint_eq(got.n, 5);
	ck_assert_mem_eq(got.p, "scale", 5);
	char *n = mt_sql(url, "SELECT count(*) FROM model_artifacts WHERE is_production");
	ck_assert_str_eq(n, "1");
	free(n);
	n = mt_sql(url, "SELECT string_agg(metric, ',' ORDER BY metric) FROM model_metrics");
	ck_assert_str_eq(n, "accuracy,f1");
	free(n);
	free(got.p);
	ms_buf_dispose(&v);
	ms_store_close(s);
	free(url);
}
END_TEST

/* MS_PUSH_OPTIONS_INIT used as is records no metric: not 0, nothing.
 * A present metric is stored; a non-finite one is refused. */
START_TEST(push_options_init_records_no_metrics)
{
	char *url = mt_migrated_db("reg_metrics");
	ms_store *s = open_store(url, 0);
	ms_push_options o = MS_PUSH_OPTIONS_INIT;
	ms_artifact_source src = { NULL, NULL, "bytes", 5 };
	ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
	double acc = 0.93, bad = NAN;
	char *n;

	o.model_version = "plain";
	ck_assert_int_eq(ms_store_push(NULL, s, &o, &src, 1), MS_OK);
	ck_assert_int_eq(ms_store_show(&info, s, NULL, "plain", NULL), MS_OK);
	ck_assert(isnan(info.accuracy));
	ck_assert(isnan(info.rmse));
	ck_assert(isnan(info.r2));
	ck_assert_str_eq(info.metrics_json, "{}");
	ms_artifact_info_dispose(&info);
	n = mt_sql(url, "SELECT count(*) FROM model_artifacts WHERE"
	                " model_version = 'plain' AND accuracy_score IS NULL"
	                " AND rmse_score IS NULL AND r2_score IS NULL");
	ck_assert_str_eq(n, "1");
	free(n);
	n = mt_sql(url, "SELECT count(*) FROM model_metrics");
	ck_assert_str_eq(n, "0");
	free(n);

	/* the libgit2 way: point to the value */
	o.model_version = "scored";
	o.accuracy = &acc;
	ck_assert_int_eq(ms_store_push(NULL, s, &o, &src, 1), MS_OK);
	ck_assert_int_eq(ms_store_show(&info, s, NULL, "scored", NULL), MS_OK);
	ck_assert(info.accuracy > 0.929 && info.accuracy < 0.931);
	ck_assert(isnan(info.rmse));
	ck_assert(isnan(info.r2));
	ms_artifact_info_dispose(&info);
	n = mt_sql(url, "SELECT accuracy_score || ' ' || (rmse_score IS NULL)"
	                " FROM model_artifacts WHERE model_version = 'scored'");
	ck_assert_str_eq(n, "0.93 true");
	free(n);

	/* NAN no longer means absent: a present metric must be a number */
	o.model_version = "nan";
	o.rmse = &bad;
	ck_assert_int_eq(ms_store_push(NULL, s, &o, &src, 1), MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "rmse"));
	ms_store_close(s);
	free(url);
}
END_TEST

/* ms_store_list returns an opaque list: count, borrowed items, NULL out
 * of range. */
START_TEST(list_is_opaque_and_bounded)
{
	char *url = mt_migrated_db("reg_list");
	ms_store *s = open_store(url, 0);
	ms_artifact_list *list = NULL;
	const ms_artifact_info *a;
	char *v1 = push_mem(s, "lst", "v1", "one", 3, 0, 1);
	char *v2 = push_mem(s, "lst", "v2", "two!", 4, 0, 0);

	ck_assert_int_eq(ms_store_list(&list, s, "lst", 0), MS_OK);
	ck_assert_uint_eq(ms_artifact_list_count(list), 2);
	a = ms_artifact_list_get(list, 0); /* newest first */
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->version, MS_ARTIFACT_INFO_VERSION);
	ck_assert_str_eq(a->model_version, "v2");
	ck_assert_int_eq(a->size, 4);
	a = ms_artifact_list_get(list, 1);
	ck_assert_str_eq(a->model_version, "v1");
	ck_assert_int_eq(a->is_production, 1);
	ck_assert_ptr_null(ms_artifact_list_get(list, 2));
	ck_assert_ptr_null(ms_artifact_list_get(list, (size_t)-1));
	ms_artifact_list_free(list);

	ck_assert_int_eq(ms_store_list(&list, s, "lst", 1), MS_OK);
	ck_assert_uint_eq(ms_artifact_list_count(list), 1);
	ck_assert_ptr_null(ms_artifact_list_get(list, 1));
	ms_artifact_list_free(list);

	ck_assert_int_eq(ms_store_list(&list, s, "nothing-here", 0), MS_OK);
	ck_assert_ptr_nonnull(list);
	ck_assert_uint_eq(ms_artifact_list_count(list), 0);
	ck_assert_ptr_null(ms_artifact_list_get(list, 0));
	ms_artifact_list_free(list);

	list = (ms_artifact_list *)s; /* any non-NULL: set to NULL on failure */
	ck_assert_int_eq(ms_store_list(&list, s, "../x", 0), MS_EINVAL);
	ck_assert_ptr_null(list);
	ck_assert_int_eq(ms_store_list(NULL, s, NULL, 0), MS_EINVAL);
	free(v1);
	free(v2);
	ms_store_close(s);
	free(url);
}
END_TEST

START_TEST(generated_versions_never_collide)
{
	char *url = mt_migrated_db("reg_versions");
	ms_store *s = open_store(url, 0);
	for (int i = 0; i < 6; i++)
		free(push_mem(s, "gen", NULL, "x", 1, 0, 0));
	char *n = mt_sql(url, "SELECT count(DISTINCT model_version) FROM model_artifacts WHERE model_name = 'gen'");
	ck_assert_str_eq(n, "6");
	free(n);
	n = mt_sql(url, "SELECT count(*) FROM model_artifacts WHERE model_version !~ '^[0-9]{8}_[0-9]{6}(_[0-9]+)?$'");
	ck_assert_str_eq(n, "0");
	free(n);
	ms_store_close(s);
	free(url);
}
END_TEST

START_TEST(corruption_is_detected)
{
	char *url = mt_migrated_db("reg_corrupt");
	char *dir = mt_tmpdir(), out[512];
	ms_store *s = open_store(url, 4096);
	unsigned char data[10000];
	size_t checked, bad;
	mt_fill_random(data, sizeof data, 9);
	free(push_mem(s, "c", "v1", data, sizeof data, 0, 1));
	free(push_mem(s, "c", "v2", "small", 5, 0, 0));
	free(mt_sql(url, "UPDATE model_artifact_chunks SET data = set_byte(data, 10, get_byte(data, 10) # 1) WHERE seq = 1"));
	free(mt_sql(url, "UPDATE model_artifacts SET model_binary = 'smalL' WHERE model_version = 'v2'"));
	snprintf(out, sizeof out, "%s/pulled.bin", dir);
	ck_assert_int_eq(ms_store_pull_file(NULL, s, "c", "v1", NULL, out, 0, NULL, NULL), MS_EINTEGRITY);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "SHA-256 mismatch"));
	ck_assert_int_ne(access(out, F_OK), 0);
	ck_assert_int_eq(ms_store_pull_file(NULL, s, "c", "v2", NULL, out, 0, NULL, NULL), MS_EINTEGRITY);
	ck_assert_int_ne(access(out, F_OK), 0);
	ck_assert_int_eq(ms_store_verify(&checked, &bad, s, "c", NULL, NULL), MS_EINTEGRITY);
	ck_assert_uint_eq(checked, 2);
	ck_assert_uint_eq(bad, 2);
	/* a missing chunk is caught too */
	free(mt_sql(url, "DELETE FROM model_artifact_chunks WHERE seq = 2"));
	ck_assert_int_eq(ms_store_pull_file(NULL, s, "c", "v1", NULL, out, 0, NULL, NULL), MS_EINTEGRITY);
	ms_store_close(s);
	mt_rmtree(dir);
	free(dir);
	free(url);
}
END_TEST

START_TEST(promote_rollback_prune)
{
	char *url = mt_migrated_db("reg_lifecycle");
	ms_store *s = open_store(url, 0);
	ms_buf to = MS_BUF_INIT, del = MS_BUF_INIT;
	for (int i = 1; i <= 5; i++) {
		char v[8];
		snprintf(v, sizeof v, "v%d", i);
		free(push_mem(s, "life", v, v, 2, 0, 0));
	}
	ck_assert_int_eq(ms_store_rollback(&to, s, "life", NULL), MS_ENOTFOUND);
	ck_assert_int_eq(ms_store_promote(s, "life", "v1", "first"), MS_OK);
	ck_assert_int_eq(ms_store_promote(s, "life", "v2", NULL), MS_OK);
	ck_assert_int_eq(ms_store_promote(s, "life", "v3", NULL), MS_OK);
	ck_assert_int_eq(ms_store_promote(s, "life", "nope", NULL), MS_ENOTFOUND);
	ck_assert_int_eq(ms_store_rollback(&to, s, "life", "bad model"), MS_OK);
	ck_assert_str_eq(to.ptr, "v2");
	ck_assert_int_eq(ms_store_rollback(&to, s, "life", NULL), MS_OK);
	ck_assert_str_eq(to.ptr, "v1");
	ck_assert_int_eq(ms_store_rollback(&to, s, "life", NULL), MS_ENOTFOUND);
	char *who = mt_sql(url, "SELECT promoted_by || ':' || action FROM model_promotions ORDER BY id DESC LIMIT 1");
	ck_assert_str_eq(who, "postgres:rollback");
	free(who);
	/* prune keeps the 2 newest plus production (v1) */
	ck_assert_int_eq(ms_store_prune(&del, s, "life", 2, 1), MS_OK);
	ck_assert_str_eq(del.ptr, "[\"v3\",\"v2\"]");
	char *n = mt_sql(url, "SELECT count(*) FROM model_artifacts WHERE model_name = 'life'");
	ck_assert_str_eq(n, "5");
	free(n);
	ck_assert_int_eq(ms_store_prune(&del, s, "life", 2, 0), MS_OK);
	n = mt_sql(url, "SELECT string_agg(model_version, ',' ORDER BY model_version) FROM model_artifacts WHERE model_name = 'life'");
	ck_assert_str_eq(n, "v1,v4,v5");
	free(n);
	ck_assert_int_eq(ms_store_prune(&del, s, "life", 0, 0), MS_OK);
	n = mt_sql(url, "SELECT string_agg(model_version, ',') FROM model_artifacts WHERE model_name = 'life'");
	ck_assert_str_eq(n, "v1");
	free(n);
	ms_buf_dispose(&to);
	ms_buf_dispose(&del);
	ms_store_close(s);
	free(url);
}
END_TEST

START_TEST(hostile_names_are_rejected_before_sql)
{
	char *url = mt_migrated_db("reg_hostile");
	ms_store *s = open_store(url, 0);
	ms_push_options o;
	ms_artifact_source src = { NULL, NULL, "x", 1 };
	const char *bad[] = { "a'b", "x; DROP TABLE model_artifacts", "new\nline", "../etc", "" };
	ms_push_options_init(&o, MS_PUSH_OPTIONS_VERSION);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		o.model_name = bad[i];
		o.model_version = NULL;
		ck_assert_int_eq(ms_store_push(NULL, s, &o, &src, 1), MS_EINVAL);
		ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "invalid model name"));
		o.model_name = NULL;
		o.model_version = bad[i];
		ck_assert_int_eq(ms_store_push(NULL, s, &o, &src, 1), MS_EINVAL);
		ck_assert_int_eq(ms_store_promote(s, bad[i], "v", NULL), MS_EINVAL);
	}
	char *n = mt_sql(url, "SELECT count(*) FROM model_artifacts");
	ck_assert_str_eq(n, "0");
	free(n);
	ck_assert_int_eq(ms_store_record_actual(s, "not-a-uuid", 1.0), MS_EINVAL);
	ck_assert_int_eq(ms_store_record_actual(s, "0190f5c4-0000-7000-8000-000000000000", 1.0), MS_ENOTFOUND);
	ms_store_close(s);
	free(url);
}
END_TEST

START_TEST(unreachable_databases)
{
	ms_store *s = NULL;
	ck_assert_int_eq(ms_store_open(&s, "postgresql://u:hunter2@127.0.0.1:1/x", NULL), MS_EUNREACHABLE);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "refused"));
	ck_assert_ptr_null(strstr(ms_store_errmsg(s), "hunter2"));
	ms_store_close(s);
	ck_assert_int_eq(ms_store_open(&s, "host=nonexistent.invalid user=u password=hunter2", NULL), MS_EUNREACHABLE);
	ck_assert_ptr_null(strstr(ms_store_errmsg(s), "hunter2"));
	ms_store_close(s);
	char url[256];
	snprintf(url, sizeof url, "postgresql://ms_pwuser:wrong-hunter2@127.0.0.1:%s/postgres", mt_env("PGPORT"));
	ck_assert_int_eq(ms_store_open(&s, url, NULL), MS_EUNREACHABLE);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "password authentication failed"));
	ck_assert_ptr_null(strstr(ms_store_errmsg(s), "wrong-hunter2"));
	ms_store_close(s);
	ck_assert_int_eq(ms_store_open(&s, "postgresql://x@127.0.0.1:1/x?bogus_option=1", NULL), MS_EINVAL);
	ms_store_close(s);
}
END_TEST

Suite *db_registry_suite(void)
{
	Suite *s = suite_create("db_registry");
	TCase *tc = tcase_create("registry");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, migrate_is_idempotent_and_versioned);
	tcase_add_test(tc, concurrent_migrate);
	tcase_add_test(tc, migrations_table_without_breaking_column);
	tcase_add_test(tc, notify_function_runs_only_for_production_rows);
	tcase_add_test(tc, roundtrips_small_and_large);
	tcase_add_test(tc, roundtrip_100mb_file);
	tcase_add_test(tc, chunk_boundaries);
	tcase_add_test(tc, inline_push_is_one_round_trip);
	tcase_add_test(tc, seed_written_rows_are_served);
	tcase_add_test(tc, seed_monitoring_queries_run_unmodified);
	tcase_add_test(tc, concurrent_promotions_keep_one_production);
	tcase_add_test(tc, failed_push_leaves_nothing);
	tcase_add_test(tc, multi_artifact_version_is_atomic_and_complete);
	tcase_add_test(tc, push_options_init_records_no_metrics);
	tcase_add_test(tc, list_is_opaque_and_bounded);
	tcase_add_test(tc, generated_versions_never_collide);
	tcase_add_test(tc, corruption_is_detected);
	tcase_add_test(tc, promote_rollback_prune);
	tcase_add_test(tc, hostile_names_are_rejected_before_sql);
	tcase_add_test(tc, unreachable_databases);
	tcase_add_test(tc, push_settings_end_with_its_transaction);
	tcase_add_test(tc, push_metrics_failure_rolls_back_whole);
	suite_add_tcase(s, tc);
	return s;
}
