/*
 * bench_predlog.c - the prediction logger beside plain libpq, same rows,
 * same run.
 *
 *   DATABASE_URL=... bench_predlog [ROWS] [SEED_ROWS]
 *
 * Works in a scratch schema (ms_bench_predlog, dropped at the end) of the
 * database named by DATABASE_URL, selected for every connection through
 * PGOPTIONS=-c search_path=...  Prints rows/s for:
 *   copy     one plain text COPY stream of all rows (formatting untimed)
 *   insert   multi-row INSERT, 1000 rows a statement, one transaction
 *   logger   ms_predlog_log of every row from one thread + flush
 *   seed     a new connection and one INSERT per prediction (SEED_ROWS)
 * then the ratios, and the cost of one ms_predlog_log call (median, p99)
 * with 1 and 8 logging threads while the writer runs.
 */
#define _GNU_SOURCE
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "modelstore.h"

#define SCHEMA "ms_bench_predlog"

typedef struct brow {
	char id[MS_UUID_STRLEN];
	char features[320];
	double pred, conf;
} brow;

static PGconn *conn_or_die(const char *url)
{
	PGconn *c = PQconnectdb(url ? url : "");
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "bench_predlog: connect: %s", PQerrorMessage(c));
		exit(1);
	}
	return c;
}

static void exec_or_die(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bench_predlog: %s: %s", sql, PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
}

static long count_rows(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT count(*) FROM model_predictions");
	long n = PQresultStatus(r) == PGRES_TUPLES_OK ? atol(PQgetvalue(r, 0, 0))
	                                              : -1;
	PQclear(r);
	return n;
}

/* ids for the plain-libpq baselines: time-ordered, as the logger's */
static void make_rows(brow *rows, size_t n)
{
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (size_t i = 0; i < n; i++) {
		unsigned char b[16];
		for (int k = 0; k < 16; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			b[k] = (unsigned char)x;
		}
		/* time-ordered like the logger's UUIDv7: a 48-bit counter first */
		for (int k = 0; k < 6; k++)
			b[k] = (unsigned char)(((uint64_t)i + 0x018f00000000ull) >> (8 * (5 - k)));
		b[6] = (unsigned char)(0x70 | (b[6] & 15));
		b[8] = (unsigned char)(0x80 | (b[8] & 63));
		snprintf(rows[i].id, sizeof rows[i].id,
		         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x"
		         "%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6],
		         b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
		snprintf(rows[i].features, sizeof rows[i].features,
		         "{\"age\": %zu, \"income\": %.2f, \"region\": \"r%zu\", "
		         "\"tenure_months\": %zu, \"plan\": \"premium\", "
		         "\"scores\": [%.4f, %.4f, %.4f], \"device\": \"android\", "
		         "\"visits_30d\": %zu, \"churn_risk_band\": \"medium\"}",
		         18 + i % 60, 20000.0 + (double)(i % 9973) * 7.5, i % 17,
		         i % 120, (double)(i % 101) / 101.0, (double)(i % 37) / 37.0,
		         (double)(i % 13) / 13.0, i % 45);
		rows[i].pred = (double)(i % 1000) / 1000.0;
		rows[i].conf = 0.5 + (double)(i % 500) / 1000.0;
	}
}

static double bench_copy(const char *url, const brow *rows, size_t n)
{
	PGconn *c = conn_or_die(url);
	size_t cap = n * 420 + 16, len = 0;
	char *buf = malloc(cap);
	PGresult *r;
	double t0, t;
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len,
		                        "%s\tdefault\t20240101_000000\t%s\t%.17g\t\\N\t"
		                        "%.17g\t2024-01-01 00:00:00\n", rows[i].id,
		                        rows[i].features, rows[i].pred, rows[i].conf);
	t0 = now_s();
	r = PQexec(c, "COPY model_predictions (prediction_id, model_name, "
	              "model_version, input_features, predicted_value, "
	              "actual_value, confidence_score, prediction_time) FROM STDIN");
	PQclear(r);
	PQputCopyData(c, buf, (int)len);
	PQputCopyEnd(c, NULL);
	r = PQgetResult(c);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fprintf(stderr, "COPY: %s", PQerrorMessage(c));
	PQclear(r);
	t = now_s() - t0;
	free(buf);
	PQfinish(c);
	return (double)n / t;
}

static double bench_insert(const char *url, const brow *rows, size_t n)
{
	PGconn *c = conn_or_die(url);
	const size_t per = 1000;
	char *sql = malloc(per * 64 + 256);
	const char **params = malloc(per * 4 * sizeof *params);
	char (*num)[2][32] = malloc(per * sizeof *num);
	double t0 = now_s();
	exec_or_die(c, "BEGIN");
	for (size_t off = 0; off < n; off += per) {
		size_t k = n - off < per ? n - off : per, len;
		PGresult *r;
		len = (size_t)sprintf(sql, "INSERT INTO model_predictions "
		                      "(prediction_id, model_version, input_features, "
		                      "predicted_value, confidence_score) VALUES ");
		for (size_t i = 0; i < k; i++) {
			len += (size_t)sprintf(sql + len, "%s($%zu,'20240101_000000',"
			                       "$%zu,$%zu,$%zu)", i ? "," : "",
			                       4 * i + 1, 4 * i + 2, 4 * i + 3,
			                       4 * i + 4);
			snprintf(num[i][0], 32, "%.17g", rows[off + i].pred);
			snprintf(num[i][1], 32, "%.17g", rows[off + i].conf);
			params[4 * i] = rows[off + i].id;
			params[4 * i + 1] = rows[off + i].features;
			params[4 * i + 2] = num[i][0];
			params[4 * i + 3] = num[i][1];
		}
		r = PQexecParams(c, sql, (int)(4 * k), NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			fprintf(stderr, "INSERT: %s", PQerrorMessage(c));
		PQclear(r);
	}
	exec_or_die(c, "COMMIT");
	{
		double t = now_s() - t0;
		free(sql);
		free(params);
		free(num);
		PQfinish(c);
		return (double)n / t;
	}
}

static double bench_seed(const char *url, const brow *rows, size_t n)
{
	double t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		PGconn *c = conn_or_die(url);
		char pred[32], conf[32];
		const char *p[4] = { rows[i].id, rows[i].features, pred, conf };
		PGresult *r;
		snprintf(pred, sizeof pred, "%.17g", rows[i].pred);
		snprintf(conf, sizeof conf, "%.17g", rows[i].conf);
		r = PQexecParams(c, "INSERT INTO model_predictions (prediction_id, "
		                 "model_version, input_features, predicted_value, "
		                 "confidence_score) VALUES ($1, '20240101_000000', "
		                 "$2, $3, $4)", 4, NULL, p, NULL, NULL, 0);
		PQclear(r);
		PQfinish(c);
	}
	return (double)n / (now_s() - t0);
}

static ms_predlog *open_logger(const char *url, size_t cap)
{
	ms_predlog_options o;
	ms_predlog *pl = NULL;
	ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
	o.spool_dir = "/tmp/ms-bench-predlog-spool";
	o.queue_capacity = cap;
	if (ms_predlog_open(&pl, url, &o) != MS_OK) {
		fprintf(stderr, "bench_predlog: cannot open the logger\n");
		exit(1);
	}
	return pl;
}

static double bench_logger(const char *url, const brow *rows, size_t n,
                           ms_predlog_stats *st)
{
	/* queue sized to the run: measures the writer pipeline, not the
	 * spill path a producer faster than the database takes */
	ms_predlog *pl = open_logger(url, n + 1024);
	double t0, t;
	ms_predlog_flush(pl, 10000); /* connected before the clock starts */
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		ms_prediction p = { NULL, "20240101_000000", rows[i].features,
		                    rows[i].pred, rows[i].conf, NAN };
		if (ms_predlog_log(NULL, pl, &p) != MS_OK)
			fprintf(stderr, "log failed at %zu\n", i);
	}
	if (ms_predlog_flush(pl, 600000) != MS_OK)
		fprintf(stderr, "flush timed out\n");
	t = now_s() - t0;
	ms_predlog_stats_get(st, pl);
	ms_predlog_close(pl);
	return (double)n / t;
}

typedef struct lat_arg {
	ms_predlog *pl;
	const brow *rows;
	size_t n;
	uint32_t *ns;
} lat_arg;

static void *lat_thread(void *a)
{
	lat_arg *la = a;
	char id[MS_UUID_STRLEN];
	for (size_t i = 0; i < la->n; i++) {
		ms_prediction p = { "churn", "20240101_000000", la->rows[i].features,
		                    la->rows[i].pred, la->rows[i].conf, NAN };
		uint64_t t0 = now_ns();
		ms_predlog_log(id, la->pl, &p);
		la->ns[i] = (uint32_t)(now_ns() - t0);
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void bench_latency(const char *url, const brow *rows, size_t n,
                          int threads)
{
	ms_predlog *pl = open_logger(url, n + 1024); /* no spill: measure log() */
	pthread_t th[8];
	lat_arg la[8];
	size_t per = n / (size_t)threads, total = per * (size_t)threads;
	uint32_t *all = malloc(total * sizeof *all);
	ms_predlog_flush(pl, 10000);
	for (int t = 0; t < threads; t++) {
		la[t].pl = pl;
		la[t].rows = rows + (size_t)t * per;
		la[t].n = per;
		la[t].ns = all + (size_t)t * per;
		pthread_create(&th[t], NULL, lat_thread, &la[t]);
	}
	for (int t = 0; t < threads; t++)
		pthread_join(th[t], NULL);
	ms_predlog_flush(pl, 600000);
	ms_predlog_close(pl);
	qsort(all, total, sizeof *all, cmp_u32);
	printf("log() call, %d thread%s: median %.2f us, p99 %.2f us, p99.9 "
	       "%.2f us (%zu calls)\n", threads, threads > 1 ? "s" : "",
	       all[total / 2] / 1000.0, all[total * 99 / 100] / 1000.0,
	       all[total * 999 / 1000] / 1000.0, total);
	free(all);
}

int main(int argc, char **argv)
{
	const char *url = getenv("DATABASE_URL");
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
	size_t seed_n = argc > 2 ? strtoul(argv[2], NULL, 10) : 300;
	brow *rows;
	PGconn *admin;
	double copy, ins, logger, seed;
	ms_predlog_stats st = MS_PREDLOG_STATS_INIT;
	ms_store *s = NULL;

	if (n < 1000)
		n = 1000;
	setenv("PGOPTIONS", "-c search_path=" SCHEMA, 1);
	admin = conn_or_die(url);
	exec_or_die(admin, "DROP SCHEMA IF EXISTS " SCHEMA " CASCADE");
	exec_or_die(admin, "CREATE SCHEMA " SCHEMA);
	{
		ms_store_options o;
		ms_store_options_init(&o, MS_STORE_OPTIONS_VERSION);
		o.check_schema = 0;
		if (ms_store_open(&s, url, &o) != MS_OK ||
		    ms_store_migrate(NULL, s) != MS_OK) {
			fprintf(stderr, "bench_predlog: migrate: %s\n",
			        ms_store_errmsg(s));
			return 1;
		}
		ms_store_close(s);
	}
	rows = malloc(n * sizeof *rows);
	make_rows(rows, n);
	printf("prediction rows: %zu, features ~%zu bytes, table with the "
	       "schema's indexes (unique prediction_id, version+time)\n", n,
	       strlen(rows[0].features));

	copy = bench_copy(url, rows, n);
	printf("plain COPY, one stream:          %9.0f rows/s\n", copy);
	exec_or_die(admin, "TRUNCATE model_predictions");
	ins = bench_insert(url, rows, n);
	printf("multi-row INSERT x1000, one tx:  %9.0f rows/s\n", ins);
	exec_or_die(admin, "TRUNCATE model_predictions");
	logger = bench_logger(url, rows, n, &st);
	printf("ms_predlog (log + flush):        %9.0f rows/s  (%llu batches, "
	       "%llu spooled, rows in table %ld)\n", logger,
	       (unsigned long long)st.batches, (unsigned long long)st.spooled,
	       count_rows(admin));
	exec_or_die(admin, "TRUNCATE model_predictions");
	seed = bench_seed(url, rows, seed_n);
	printf("seed: connection per prediction: %9.1f rows/s (%zu rows)\n", seed,
	       seed_n);
	exec_or_die(admin, "TRUNCATE model_predictions");
	printf("ratios: logger/COPY %.2f, logger/INSERT %.2f, logger/seed %.0fx\n",
	       logger / copy, logger / ins, logger / seed);

	bench_latency(url, rows, n < 200000 ? n : 200000, 1);
	exec_or_die(admin, "TRUNCATE model_predictions");
	bench_latency(url, rows, n < 200000 ? n : 200000, 8);

	exec_or_die(admin, "DROP SCHEMA IF EXISTS " SCHEMA " CASCADE");
	PQfinish(admin);
	free(rows);
	return 0;
}
