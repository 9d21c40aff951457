/*
 * bench_actuals.c - recording actual values in bulk: ms_store_record_actuals
 * beside the plain-libpq way (one transaction: CREATE TEMP TABLE, one
 * text COPY of every row, one UPDATE ... FROM), in the same run, on the
 * same table.
 *
 * The table holds N predictions (seeded once with generate_series);
 * every round records an actual for each of them.  Rounds alternate
 * (ours, plain, ours, ...), with a VACUUM of model_predictions before
 * each (not timed) so that neither side pays for the other's dead rows.
 * Prints the median, min and max seconds and rows/s of each, and the
 * ratio of the medians.  Self-contained (no bench.h).
 *
 * usage: bench_actuals [--rows 1000000] [--runs 5]   (DATABASE_URL)
 */
#define _GNU_SOURCE
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "modelstore.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void die(const char *what, PGconn *c)
{
	fprintf(stderr, "bench_actuals: %s: %s\n", what, c ? PQerrorMessage(c) : "");
	exit(1);
}

static void exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK)
		die(sql, c);
	PQclear(r);
}

static void id_of(char *out, long i)
{
	char buf[64]; /* wide enough for any long: no truncation warning */
	snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012ld", i);
	memcpy(out, buf, MS_UUID_STRLEN - 1);
	out[MS_UUID_STRLEN - 1] = '\0';
}

/* The plain way: everything in one COPY and one UPDATE. */
static double plain(PGconn *c, const ms_actual *rows, long n)
{
	double t0 = now_s();
	char *buf = malloc(1 << 20);
	size_t used = 0;
	PGresult *r;
	if (buf == NULL)
		die("out of memory", NULL);
	exec_ok(c, "BEGIN");
	exec_ok(c, "CREATE TEMP TABLE plain_in (prediction_id uuid,"
	           " actual_value float8) ON COMMIT DROP");
	r = PQexec(c, "COPY plain_in FROM STDIN");
	if (PQresultStatus(r) != PGRES_COPY_IN)
		die("copy", c);
	PQclear(r);
	for (long i = 0; i < n; i++) {
		if ((1 << 20) - used < 128) {
			if (PQputCopyData(c, buf, (int)used) != 1)
				die("copy data", c);
			used = 0;
		}
		used += (size_t)snprintf(buf + used, (1 << 20) - used, "%s\t%.17g\n",
		                         rows[i].prediction_id, rows[i].value);
	}
	if ((used && PQputCopyData(c, buf, (int)used) != 1) ||
	    PQputCopyEnd(c, NULL) != 1)
		die("copy end", c);
	r = PQgetResult(c);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("copy result", c);
	PQclear(r);
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
	exec_ok(c, "UPDATE model_predictions p SET actual_value = i.actual_value,"
	           " actual_recorded_at = now() FROM plain_in i"
	           " WHERE p.prediction_id = i.prediction_id");
	exec_ok(c, "COMMIT");
	free(buf);
	return now_s() - t0;
}

static double ours(ms_store *s, const ms_actual *rows, long n)
{
	ms_actuals_result res = MS_ACTUALS_RESULT_INIT;
	double t0 = now_s(), t;
	if (ms_store_record_actuals(s, rows, (size_t)n, &res) != MS_OK) {
		fprintf(stderr, "bench_actuals: %s\n", ms_store_errmsg(s));
		exit(1);
	}
	t = now_s() - t0;
	if (res.matched != (uint64_t)n) {
		fprintf(stderr, "bench_actuals: matched %llu of %ld\n",
		        (unsigned long long)res.matched, n);
		exit(1);
	}
	ms_actuals_result_dispose(&res);
	return t;
}

static void report(const char *what, double *v, int runs, long n)
{
	qsort(v, (size_t)runs, sizeof *v, cmp_d);
	printf("  %-28s median %6.2f s (%8.0f rows/s)  min %6.2f  max %6.2f  "
	       "spread %4.1f%%\n", what, v[runs / 2], (double)n / v[runs / 2],
	       v[0], v[runs - 1], 100.0 * (v[runs - 1] - v[0]) / v[runs / 2]);
}

int main(int argc, char **argv)
{
	long n = 1000000;
	int runs = 5;
	const char *url = getenv("DATABASE_URL");
	ms_store *s = NULL;
	ms_store_options o;
	PGconn *c;
	ms_actual *rows;
	char (*ids)[MS_UUID_STRLEN];
	double *t_ours, *t_plain, om, pm;
	char sql[512];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--rows") == 0)
			n = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--runs") == 0)
			runs = atoi(argv[i + 1]);
	}
	if (n <= 0 || runs <= 0) {
		fprintf(stderr, "usage: bench_actuals [--rows N] [--runs R]\n");
		return 2;
	}
	ms_store_options_init(&o, MS_STORE_OPTIONS_VERSION);
	o.check_schema = 0;
	if (ms_store_open(&s, url, &o) != MS_OK || ms_store_migrate(NULL, s) != MS_OK) {
		fprintf(stderr, "bench_actuals: %s\n", ms_store_errmsg(s));
		return 1;
	}
	c = PQconnectdb(url ? url : "");
	if (PQstatus(c) != CONNECTION_OK)
		die("connect", c);
	exec_ok(c, "SET client_min_messages = warning");
	exec_ok(c, "DELETE FROM model_predictions WHERE model_name = 'bench_actuals'");
	snprintf(sql, sizeof sql,
	         "INSERT INTO model_predictions (prediction_id, model_name,"
	         " model_version, input_features, predicted_value)"
	         " SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid,"
	         " 'bench_actuals', 'v1', '{}', i FROM generate_series(0, %ld) i"
	         " ON CONFLICT DO NOTHING", n - 1);
	exec_ok(c, sql);
	exec_ok(c, "VACUUM ANALYZE model_predictions");
	rows = calloc((size_t)n, sizeof *rows);
	ids = calloc((size_t)n, sizeof *ids);
	t_ours = calloc((size_t)runs, sizeof *t_ours);
	t_plain = calloc((size_t)runs, sizeof *t_plain);
	if (!rows || !ids || !t_ours || !t_plain)
		die("out of memory", NULL);
	/* a shuffled order, as actuals arrive */
	for (long i = 0; i < n; i++)
		id_of(ids[i], n % 7919 ? (i * 7919) % n : i);
	for (long i = 0; i < n; i++) {
		rows[i].prediction_id = ids[i];
		rows[i].value = (double)i * 0.25;
	}
	printf("bulk actuals: %ld rows a round, %d rounds each, interleaved\n",
	       n, runs);
	for (int r = 0; r < runs; r++) {
		exec_ok(c, "VACUUM model_predictions");
		t_ours[r] = ours(s, rows, n);
		exec_ok(c, "VACUUM model_predictions");
		t_plain[r] = plain(c, rows, n);
	}
	report("ours (record_actuals)", t_ours, runs, n);
	report("plain COPY + UPDATE", t_plain, runs, n);
	om = t_ours[runs / 2];
	pm = t_plain[runs / 2];
	printf("  ours / plain (medians): %.2f\n", om / pm);
	exec_ok(c, "DELETE FROM model_predictions WHERE model_name = 'bench_actuals'");
	PQfinish(c);
	ms_store_close(s);
	free(rows);
	free(ids);
	free(t_ours);
	free(t_plain);
	return 0;
}
