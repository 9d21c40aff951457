/*
 * bench_predlog.c - the prediction logger beside the fastest plain-libpq
 * ways to put the same rows into the same table, interleaved, same run.
 *
 *   DATABASE_URL=... bench_predlog [--rows N] [--rounds R] [--burst N]
 *                                  [--burst-rounds R] [--seed-rows N]
 *                                  [--only-ours N]  (for perf record)
 *
 * Works in a scratch schema (ms_bench_predlog, dropped at the end) of the
 * database named by DATABASE_URL, selected for every connection through
 * PGOPTIONS=-c search_path=...  The table is the real migrated
 * model_predictions (ms_store_migrate: its primary key, its unique
 * prediction_id and its (model_version, prediction_time) index); every
 * method writes the same 8 columns of the same rows, with client-made
 * UUIDv7 ids (ms__uuid7, the logger's own generator).
 *
 * Every round TRUNCATEs the table before each method, outside the clock,
 * and connects before the clock starts.  The methods of a round run one
 * after another with ours among them (ceiling, ours, ceiling, ...), so
 * that a noisy neighbour hits all of them; each figure is the median of
 * the rounds, with the min-max spread.  The plain methods get every
 * advantage: their rows are encoded before the clock starts.
 *
 *   copy-bin-64k/256k/1m  one binary COPY of all rows, CopyData messages
 *                         of 64 KiB, 256 KiB or 1 MiB
 *   copy-text-256k        one text COPY, 256 KiB messages
 *   insert-prep-1000      a prepared 1000-row INSERT (binary parameters
 *                         for uuid, float8, timestamp), one transaction
 *   pipeline-1000         a prepared one-row INSERT in pipeline mode,
 *                         a sync every 1000 rows, one transaction
 *   ours                  ms_predlog_log of every row from one thread,
 *                         default options, then ms_predlog_flush
 * The ceiling is the plain method with the best median.  Then the burst
 * (1 million rows logged by one thread as fast as it can, default
 * options, against binary COPY of as many rows) with the rows that went
 * through the spool, and the cost of one ms_predlog_log call with 1 and
 * 8 logging threads while the writer runs.
 *
 * Lines starting with RESULT| are the summary bench/run.sh tabulates.
 */
#define _GNU_SOURCE
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_pq.h"
#include "modelstore.h"
#include "uuid.h"

#define SCHEMA "ms_bench_predlog"
#define VERSION "20240101_000000"
#define NAME "default"
#define COLS "prediction_id, model_name, model_version, input_features, " \
	"predicted_value, actual_value, confidence_score, prediction_time"
#define PG_EPOCH_US INT64_C(946684800000000)
#define MAXR 32

typedef struct brow {
	unsigned char id[16];
	char features[320];
	size_t fl;
	double pred, conf;
	int64_t time_us;
} brow;

static const char *url;
static char writer_url[1024]; /* url, application_name=ms_bench_writer */

static long count_rows(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT count(*) FROM model_predictions");
	long n = PQresultStatus(r) == PGRES_TUPLES_OK ? atol(PQgetvalue(r, 0, 0))
	                                              : -1;
	PQclear(r);
	return n;
}

static void check_count(PGconn *admin, const char *what, size_t n)
{
	long got = count_rows(admin);
	if (got != (long)n) {
		fprintf(stderr, "bench_predlog: %s left %ld rows, not %zu\n", what,
		        got, n);
		exit(1);
	}
}

static void make_rows(brow *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct timespec ts;
		ms__uuid7(rows[i].id);
		clock_gettime(CLOCK_REALTIME, &ts);
		rows[i].time_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
		rows[i].fl = (size_t)snprintf(
			rows[i].features, sizeof rows[i].features,
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

/* ---- encoders (before the clock) ---- */


static void ob_f8(obuf *b, double d)
{
	uint64_t u;
	memcpy(&u, &d, 8);
	ob_be(b, 8, 4);
	ob_be(b, u, 8);
}

/* Row @p i of the run: its id and time are fresh for run rows beyond
 * the generated ones (the features repeat). */
static size_t *row_off; /* where each row of the last encode_binary starts */

static void encode_binary(obuf *b, const brow *rows, size_t nrows, size_t n,
                          unsigned char (*ids)[16])
{
	b->len = 0;
	free(row_off);
	row_off = malloc((n + 1) * sizeof *row_off);
	ob_put(b, "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);
	for (size_t i = 0; i < n; i++) {
		const brow *r = &rows[i % nrows];
		row_off[i] = b->len;
		ob_be(b, 8, 2);
		ob_be(b, 16, 4);
		ob_put(b, ids ? ids[i] : r->id, 16);
		ob_be(b, strlen(NAME), 4);
		ob_put(b, NAME, strlen(NAME));
		ob_be(b, strlen(VERSION), 4);
		ob_put(b, VERSION, strlen(VERSION));
		ob_be(b, r->fl + 1, 4);
		ob_put(b, "\1", 1);
		ob_put(b, r->features, r->fl);
		ob_f8(b, r->pred);
		ob_be(b, 0xFFFFFFFFu, 4); /* actual_value NULL */
		ob_f8(b, r->conf);
		ob_be(b, 8, 4);
		ob_be(b, (uint64_t)(r->time_us - PG_EPOCH_US), 8);
	}
	row_off[n] = b->len;
	ob_put(b, "\377\377", 2);
}

static void encode_text(obuf *b, const brow *rows, size_t n)
{
	char line[600], id[MS_UUID_STRLEN], ts[40];
	b->len = 0;
	for (size_t i = 0; i < n; i++) {
		time_t s = (time_t)(rows[i].time_us / 1000000);
		struct tm tm;
		int k;
		gmtime_r(&s, &tm);
		strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
		ms__uuid_format(id, rows[i].id);
		k = snprintf(line, sizeof line, "%s\t" NAME "\t" VERSION "\t%s\t"
		             "%.17g\t\\N\t%.17g\t%s.%06ld\n", id, rows[i].features,
		             rows[i].pred, rows[i].conf, ts,
		             (long)(rows[i].time_us % 1000000));
		ob_put(b, line, (size_t)k);
	}
}

/* ---- the plain methods (timed from connected to committed) ---- */

static double send_copy(PGconn *c, const char *sql, const obuf *b,
                        size_t msg)
{
	double t0 = now_s();
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		fprintf(stderr, "bench_predlog: %s: %s", sql, PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
	for (size_t off = 0; off < b->len; off += msg) {
		size_t k = b->len - off < msg ? b->len - off : msg;
		if (PQputCopyData(c, b->p + off, (int)k) != 1) {
			fprintf(stderr, "bench_predlog: COPY: %s", PQerrorMessage(c));
			exit(1);
		}
	}
	PQputCopyEnd(c, NULL);
	while ((r = PQgetResult(c)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "bench_predlog: COPY: %s", PQerrorMessage(c));
			exit(1);
		}
		PQclear(r);
	}
	return now_s() - t0;
}

/* Binary COPY of the stream @p b (encode_binary's last) in one COPY per
 * @p per rows, each its own transaction. */
static double send_copy_batches(PGconn *c, const obuf *b, size_t n,
                                size_t per)
{
	double t0 = now_s();
	for (size_t off = 0; off < n; off += per) {
		size_t k = n - off < per ? n - off : per;
		PGresult *r = PQexec(c, "COPY model_predictions (" COLS ") FROM "
		                     "STDIN (FORMAT binary)");
		PQclear(r);
		PQputCopyData(c, b->p, 19);
		size_t len = row_off[off + k] - row_off[off];
		for (size_t o = 0; o < len; o += 512u << 10) {
			size_t m = len - o < (512u << 10) ? len - o : 512u << 10;
			PQputCopyData(c, b->p + row_off[off] + o, (int)m);
		}
		PQputCopyData(c, "\377\377", 2);
		PQputCopyEnd(c, NULL);
		while ((r = PQgetResult(c)) != NULL) {
			if (PQresultStatus(r) != PGRES_COMMAND_OK) {
				fprintf(stderr, "bench_predlog: COPY: %s",
				        PQerrorMessage(c));
				exit(1);
			}
			PQclear(r);
		}
	}
	return now_s() - t0;
}

/* Binary parameters of one row, made before the clock. */
typedef struct prow {
	unsigned char pred[8], conf[8], ts[8];
} prow;

static void be8(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static prow *make_params(const brow *rows, size_t n)
{
	prow *p = malloc(n * sizeof *p);
	for (size_t i = 0; i < n; i++) {
		uint64_t u;
		memcpy(&u, &rows[i].pred, 8);
		be8(p[i].pred, u);
		memcpy(&u, &rows[i].conf, 8);
		be8(p[i].conf, u);
		be8(p[i].ts, (uint64_t)(rows[i].time_us - PG_EPOCH_US));
	}
	return p;
}

static void set_row(const char **v, int *l, int *f, const brow *r,
                    const prow *p)
{
	v[0] = (const char *)r->id, l[0] = 16, f[0] = 1;
	v[1] = NAME, l[1] = 0, f[1] = 0;
	v[2] = VERSION, l[2] = 0, f[2] = 0;
	v[3] = r->features, l[3] = 0, f[3] = 0;
	v[4] = (const char *)p->pred, l[4] = 8, f[4] = 1;
	v[5] = NULL, l[5] = 0, f[5] = 1;
	v[6] = (const char *)p->conf, l[6] = 8, f[6] = 1;
	v[7] = (const char *)p->ts, l[7] = 8, f[7] = 1;
}

#define PER 1000

static void prepare_or_die(PGconn *c, const char *name, size_t rows)
{
	char *sql = malloc(rows * 80 + 256);
	size_t len = (size_t)sprintf(sql, "INSERT INTO model_predictions ("
	                             COLS ") VALUES ");
	PGresult *r;
	for (size_t i = 0; i < rows; i++) {
		len += (size_t)sprintf(sql + len, "%s(", i ? "," : "");
		for (int k = 1; k <= 8; k++)
			len += (size_t)sprintf(sql + len, "$%zu%s", 8 * i + (size_t)k,
			                       k < 8 ? "," : ")");
	}
	r = PQprepare(c, name, sql, 0, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "bench_predlog: prepare: %s", PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
	free(sql);
}

static double insert_prepared(PGconn *c, const brow *rows, const prow *pp,
                              size_t n)
{
	const char **v = malloc(PER * 8 * sizeof *v);
	int *l = malloc(PER * 8 * sizeof *l), *f = malloc(PER * 8 * sizeof *f);
	double t0 = now_s(), t;
	bench_exec(c, "BEGIN");
	for (size_t off = 0; off < n; off += PER) {
		size_t k = n - off < PER ? n - off : PER;
		PGresult *r;
		for (size_t i = 0; i < k; i++)
			set_row(v + 8 * i, l + 8 * i, f + 8 * i, &rows[off + i],
			        &pp[off + i]);
		if (k == PER) {
			r = PQexecPrepared(c, "ins1000", 8 * PER, v, l, f, 0);
		} else {
			prepare_or_die(c, "ins_tail", k);
			r = PQexecPrepared(c, "ins_tail", (int)(8 * k), v, l, f, 0);
		}
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "bench_predlog: INSERT: %s", PQerrorMessage(c));
			exit(1);
		}
		PQclear(r);
	}
	bench_exec(c, "COMMIT");
	t = now_s() - t0;
	free(v);
	free(l);
	free(f);
	return t;
}

/* Read results up to and including one PGRES_PIPELINE_SYNC. */
static void pipeline_drain(PGconn *c)
{
	for (;;) {
		PGresult *r = PQgetResult(c);
		if (r == NULL)
			continue; /* end of one query's results */
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			return;
		}
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "bench_predlog: pipeline: %s",
			        PQerrorMessage(c));
			exit(1);
		}
		PQclear(r);
	}
}

static double pipeline(PGconn *c, const brow *rows, const prow *pp, size_t n)
{
	double t0 = now_s();
	const char *v[8];
	int l[8], f[8];
	if (!PQenterPipelineMode(c) ||
	    !PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0)) {
		fprintf(stderr, "bench_predlog: pipeline: %s", PQerrorMessage(c));
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		set_row(v, l, f, &rows[i], &pp[i]);
		if (!PQsendQueryPrepared(c, "ins1", 8, v, l, f, 0)) {
			fprintf(stderr, "bench_predlog: pipeline: %s",
			        PQerrorMessage(c));
			exit(1);
		}
		if ((i + 1) % PER == 0 && i + 1 < n) {
			PQpipelineSync(c);
			pipeline_drain(c);
		}
	}
	PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
	PQpipelineSync(c);
	pipeline_drain(c);
	PQexitPipelineMode(c);
	return now_s() - t0;
}

/* CPU seconds (user+system) the process @p pid has used so far. */
static double proc_cpu(int pid)
{
	char path[64];
	unsigned long ut = 0, st = 0;
	FILE *f;
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu "
	           "%lu", &ut, &st) != 2)
		ut = st = 0;
	fclose(f);
	return (double)(ut + st) / 100.0;
}

/* ---- ours ---- */

/* Wall-clock seconds, to line up with the server's clock_timestamp(). */
static double real_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *spool_dir = "/tmp/ms-bench-predlog-spool";
static double last_server_cpu; /* CPU s of the backend in the last run */
static double last_client_cpu; /* CPU s of this process in the last run */
static PGconn *admin_conn;

/* The backend of the logger's writer: the one other client backend. */
static int ours_backend_pid(void)
{
	PGresult *r = PQexec(admin_conn, "SELECT pid FROM pg_stat_activity "
	                     "WHERE backend_type = 'client backend' AND pid <> "
	                     "pg_backend_pid() AND application_name = "
	                     "'ms_bench_writer'");
	int pid = PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : 0;
	PQclear(r);
	return pid;
}

static ms_predlog *open_logger(size_t cap)
{
	ms_predlog_options o;
	ms_predlog *pl = NULL;
	ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
	o.spool_dir = spool_dir;
	o.queue_capacity = cap; /* 0: the default */
	if (getenv("MS_BENCH_BATCH")) /* experiments only: not for run.sh */
		o.batch_size = strtoul(getenv("MS_BENCH_BATCH"), NULL, 10);
	if (ms_predlog_open(&pl, writer_url, &o) != MS_OK) {
		fprintf(stderr, "bench_predlog: cannot open the logger\n");
		exit(1);
	}
	if (ms_predlog_flush(pl, 10000) != MS_OK) { /* connected first */
		fprintf(stderr, "bench_predlog: the logger did not connect\n");
		exit(1);
	}
	return pl;
}

/* The logger "ours" uses: opened once with default options and warmed
 * (its writer's backend has run COPYs, as the plain methods' connection
 * has), then kept for every round, as a service keeps its logger. */
static ms_predlog *ours_pl;
static int ours_pid;

static void ours_open(const brow *rows, size_t nrows)
{
	ours_pl = open_logger(0);
	ours_pid = ours_backend_pid();
	for (size_t i = 0; i < 20000; i++) {
		ms_prediction p = { NULL, VERSION, rows[i % nrows].features, 0, 0,
		                    NAN };
		if (ms_predlog_log(NULL, ours_pl, &p) != MS_OK)
			exit(1);
	}
	if (ms_predlog_flush(ours_pl, 600000) != MS_OK)
		exit(1);
}

/* Log rows 0..n-1 (features cycling through @p nrows), then flush.
 * Seconds; *spooled the rows that went through the spool. */
static double ours(const brow *rows, size_t nrows, size_t n,
                   uint64_t *spooled)
{
	ms_predlog_stats st0 = MS_PREDLOG_STATS_INIT, st = MS_PREDLOG_STATS_INIT;
	double c0, cc0, t0, t;
	ms_predlog_stats_get(&st0, ours_pl);
	c0 = proc_cpu(ours_pid);
	cc0 = proc_cpu(getpid());
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		const brow *r = &rows[i % nrows];
		ms_prediction p = { NULL, VERSION, r->features, r->pred, r->conf,
		                    NAN };
		if (ms_predlog_log(NULL, ours_pl, &p) != MS_OK) {
			fprintf(stderr, "bench_predlog: log failed at %zu\n", i);
			exit(1);
		}
	}
	if (ms_predlog_flush(ours_pl, 600000) != MS_OK) {
		fprintf(stderr, "bench_predlog: flush timed out\n");
		exit(1);
	}
	t = now_s() - t0;
	last_server_cpu = proc_cpu(ours_pid) - c0;
	last_client_cpu = proc_cpu(getpid()) - cc0;
	ms_predlog_stats_get(&st, ours_pl);
	*spooled = st.spooled - st0.spooled;
	return t;
}

/* ---- log() latency ---- */

typedef struct lat_arg {
	ms_predlog *pl;
	const brow *rows;
	size_t n;
	uint32_t *ns;
	pthread_barrier_t *bar;
} lat_arg;

static void *lat_thread(void *a)
{
	lat_arg *la = a;
	char id[MS_UUID_STRLEN];
	pthread_barrier_wait(la->bar);
	for (size_t i = 0; i < la->n; i++) {
		ms_prediction p = { "churn", VERSION, la->rows[i].features,
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

/* Median ns of one log() call, @p threads logging @p n rows in all into
 * a queue that holds them all (the call, not the spill path). */
static double latency(const brow *rows, size_t n, int threads, double *p99)
{
	ms_predlog *pl = open_logger(n + 1024);
	pthread_t th[8];
	lat_arg la[8];
	pthread_barrier_t bar;
	size_t per = n / (size_t)threads, total = per * (size_t)threads;
	uint32_t *all = malloc(total * sizeof *all);
	double med;
	pthread_barrier_init(&bar, NULL, (unsigned)threads);
	for (int t = 0; t < threads; t++) {
		la[t] = (lat_arg){ pl, rows + (size_t)t * per, per,
		                   all + (size_t)t * per, &bar };
		pthread_create(&th[t], NULL, lat_thread, &la[t]);
	}
	for (int t = 0; t < threads; t++)
		pthread_join(th[t], NULL);
	ms_predlog_flush(pl, 600000);
	ms_predlog_close(pl);
	pthread_barrier_destroy(&bar);
	qsort(all, total, sizeof *all, cmp_u32);
	med = all[total / 2];
	*p99 = all[total * 99 / 100];
	free(all);
	return med;
}

/* ---- seed: a new connection and one INSERT per prediction ---- */

static double seed(const brow *rows, const prow *pp, size_t n)
{
	double t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		PGconn *c = bench_connect(url);
		const char *v[8];
		int l[8], f[8];
		PGresult *r;
		set_row(v, l, f, &rows[i], &pp[i]);
		r = PQexecParams(c, "INSERT INTO model_predictions (" COLS ") "
		                 "VALUES ($1,$2,$3,$4,$5,$6,$7,$8)", 8, NULL, v, l,
		                 f, 0);
		PQclear(r);
		PQfinish(c);
	}
	return now_s() - t0;
}

/* ---- main ---- */

enum { M_B256, M_OURS, M_B64, M_B1M, M_TEXT, M_INS, M_PIPE, M_N };
static const char *mname[M_N] = {
	"copy-bin-256k", "ours (log+flush)", "copy-bin-64k", "copy-bin-1m",
	"copy-text-256k", "insert-prep-1000", "pipeline-1000"
};

static size_t arg_num(int argc, char **argv, const char *name, size_t def)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return strtoul(argv[i + 1], NULL, 10);
	return def;
}

int main(int argc, char **argv)
{
	size_t n = arg_num(argc, argv, "--rows", 200000);
	int rounds = (int)arg_num(argc, argv, "--rounds", 5);
	size_t burst = arg_num(argc, argv, "--burst", 1000000);
	int brounds = (int)arg_num(argc, argv, "--burst-rounds", 3);
	size_t seed_n = arg_num(argc, argv, "--seed-rows", 300);
	double t[M_N][MAXR], rate[M_N][MAXR];
	uint64_t spooled[MAXR], spooled_max = 0;
	brow *rows;
	prow *pp;
	obuf bin = { 0 }, txt = { 0 };
	PGconn *admin, *c;
	ms_store *s = NULL;
	int best = M_B256;
	static const size_t bmsg[3] = { 256u << 10, 64u << 10, 1u << 20 };
	static const int bm[3] = { M_B256, M_B64, M_B1M };

	url = getenv("DATABASE_URL");
	snprintf(writer_url, sizeof writer_url, "%s%sapplication_name="
	         "ms_bench_writer", url && url[0] ? url : "postgresql://",
	         url && strchr(url, '?') ? "&" : "?");
	if (url && url[0] && strstr(url, "://") == NULL)
		snprintf(writer_url, sizeof writer_url, "%s application_name="
		         "ms_bench_writer", url);
	if (n < 1000)
		n = 1000;
	if (rounds < 1 || rounds > MAXR)
		rounds = 5;
	if (brounds < 0 || brounds > MAXR)
		brounds = 3;
	setenv("PGOPTIONS", "-c search_path=" SCHEMA, 1);
	admin = bench_connect(url);
	admin_conn = admin;
	bench_exec(admin, "SET client_min_messages = warning");
	bench_exec(admin, "DROP SCHEMA IF EXISTS " SCHEMA " CASCADE");
	bench_exec(admin, "CREATE SCHEMA " SCHEMA);
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
	(void)!system("rm -rf /tmp/ms-bench-predlog-spool");
	rows = malloc(n * sizeof *rows);
	make_rows(rows, n);
	if (arg_num(argc, argv, "--only-ours", 0) > 0) {
		/* for perf record and experiments: ours alone, --only-ours N
		 * rows, R rounds, each after a binary COPY (1 MiB messages) of
		 * as many rows */
		size_t k = arg_num(argc, argv, "--only-ours", 0);
		unsigned char (*ids)[16] = malloc(k * 16);
		PGconn *cc = bench_connect(url);
		obuf b = { 0 };
		for (size_t i = 0; i < k; i++)
			ms__uuid7(ids[i]);
		encode_binary(&b, rows, n, k, ids);
		ours_open(rows, n);
		for (int r = 0; r < rounds; r++) {
			uint64_t sp = 0;
			double co, ou;
			bench_exec(admin, "TRUNCATE model_predictions");
			double c0 = proc_cpu(PQbackendPID(cc)), cs, T0 = now_s(), T1;
			co = (double)k / send_copy(cc, "COPY model_predictions (" COLS
			                           ") FROM STDIN (FORMAT binary)", &b,
			                           1u << 20);
			cs = proc_cpu(PQbackendPID(cc)) - c0;
			T1 = now_s();
			bench_exec(admin, "TRUNCATE model_predictions");
			printf("[copy %.3f-%.3f ours from %.3f real %.3f] ", T0, T1,
			       now_s(), real_s());
			ou = (double)k / ours(rows, n, k, &sp);
			printf("[ours to %.3f real %.3f] ", now_s(), real_s());
			printf("copy %.0f rows/s, ours %.0f rows/s (%.2f), %llu "
			       "spooled; server CPU us/row copy %.2f ours %.2f; ours "
			       "client CPU us/row %.2f", co, ou,
			       ou / co, (unsigned long long)sp, cs * 1e6 / (double)k,
			       last_server_cpu * 1e6 / (double)k,
			       last_client_cpu * 1e6 / (double)k);
			if (getenv("MS_BENCH_COPY_PER")) {
				size_t per = strtoul(getenv("MS_BENCH_COPY_PER"), NULL, 10);
				double cb;
				bench_exec(admin, "TRUNCATE model_predictions");
				c0 = proc_cpu(PQbackendPID(cc));
				cb = (double)k / send_copy_batches(cc, &b, k, per);
				cs = proc_cpu(PQbackendPID(cc)) - c0;
				check_count(admin, "copy per batch", k);
				printf("; copy per %zu rows %.0f rows/s (%.2f) server CPU "
				       "%.2f us/row", per, cb, cb / co, cs * 1e6 / (double)k);
			}
			printf("\n");
			fflush(stdout);
		}
		ms_predlog_close(ours_pl);
		bench_exec(admin, "DROP SCHEMA IF EXISTS " SCHEMA " CASCADE");
		return 0;
	}
	pp = make_params(rows, n);
	encode_binary(&bin, rows, n, n, NULL);
	encode_text(&txt, rows, n);
	printf("prediction rows: %zu, features %zu bytes, the migrated "
	       "model_predictions (its primary key, unique prediction_id, "
	       "(model_version, prediction_time)); %d interleaved rounds\n", n,
	       rows[0].fl, rounds);

	c = bench_connect(url);
	ours_open(rows, n);
	prepare_or_die(c, "ins1000", PER);
	prepare_or_die(c, "ins1", 1);
	for (int r = 0; r < rounds; r++) {
		for (int m = 0; m < M_N; m++) {
			uint64_t sp = 0;
			bench_exec(admin, "TRUNCATE model_predictions");
			switch (m) {
			case M_B256:
			case M_B64:
			case M_B1M:
				t[m][r] = send_copy(c, "COPY model_predictions (" COLS
				                    ") FROM STDIN (FORMAT binary)", &bin,
				                    m == M_B64 ? 64u << 10 : m == M_B1M
				                    ? 1u << 20 : 256u << 10);
				break;
			case M_TEXT:
				t[m][r] = send_copy(c, "COPY model_predictions (" COLS
				                    ") FROM STDIN", &txt, 256u << 10);
				break;
			case M_INS:
				t[m][r] = insert_prepared(c, rows, pp, n);
				break;
			case M_PIPE:
				t[m][r] = pipeline(c, rows, pp, n);
				break;
			case M_OURS:
				t[m][r] = ours(rows, n, n, &sp);
				spooled[r] = sp;
				if (sp > spooled_max)
					spooled_max = sp;
				break;
			}
			check_count(admin, mname[m], n);
			rate[m][r] = (double)n / t[m][r];
		}
		printf("round %d:", r + 1);
		for (int m = 0; m < M_N; m++)
			printf(" %s %.0f", mname[m], rate[m][r]);
		printf(" rows/s (ours spooled %llu)\n",
		       (unsigned long long)spooled[r]);
		fflush(stdout);
	}
	printf("%-18s %12s %25s\n", "method", "median rows/s", "min-max");
	for (int m = 0; m < M_N; m++) {
		bstat b = bstat_of(rate[m], rounds);
		printf("%-18s %12.0f %12.0f-%-12.0f\n", mname[m], b.med, b.min,
		       b.max);
		if (m != M_OURS && b.med > bstat_of(rate[best], rounds).med)
			best = m;
	}
	printf("ceiling: %s; ours spooled at most %llu of %zu rows in a "
	       "round\n", mname[best], (unsigned long long)spooled_max, n);
	{
		char name[96];
		snprintf(name, sizeof name, "predlog %zuk rows vs %s", n / 1000,
		         mname[best]);
		bench_result(name, "rows/s", rate[M_OURS], rate[best], rounds, 1,
		             0.9);
	}

	/* the burst: default options, one thread as fast as it can */
	if (burst > 0 && brounds > 0) {
		int bi = 0;
		unsigned char (*ids)[16] = malloc(burst * 16);
		double bo[MAXR], bc[MAXR];
		size_t bmsize;
		for (int k = 0; k < 3; k++)
			if (bm[k] == best)
				bi = k;
		bmsize = best == M_B256 || best == M_B64 || best == M_B1M
		         ? bmsg[bi] : 256u << 10;
		for (size_t i = 0; i < burst; i++)
			ms__uuid7(ids[i]);
		encode_binary(&bin, rows, n, burst, ids);
		spooled_max = 0;
		for (int r = 0; r < brounds; r++) {
			uint64_t sp = 0;
			bench_exec(admin, "TRUNCATE model_predictions");
			bc[r] = (double)burst / send_copy(c, "COPY model_predictions ("
			                                  COLS ") FROM STDIN (FORMAT "
			                                  "binary)", &bin, bmsize);
			check_count(admin, "burst copy", burst);
			bench_exec(admin, "TRUNCATE model_predictions");
			bo[r] = (double)burst / ours(rows, n, burst, &sp);
			check_count(admin, "burst ours", burst);
			if (sp > spooled_max)
				spooled_max = sp;
			printf("burst round %d: binary COPY %.0f rows/s, ours %.0f "
			       "rows/s, %llu of %zu rows through the spool\n", r + 1,
			       bc[r], bo[r], (unsigned long long)sp, burst);
			fflush(stdout);
		}
		{
			char name[96];
			snprintf(name, sizeof name, "predlog burst %zuk rows",
			         burst / 1000);
			bench_result(name, "rows/s", bo, bc, brounds, 1, 0.9);
			snprintf(name, sizeof name, "predlog burst %zuk: rows spooled "
			         "(max of rounds)", burst / 1000);
			printf("RESULT|%s|%llu|0|-|-|<= %zu (0.1%%)|%s\n", name,
			       (unsigned long long)spooled_max, burst / 1000,
			       spooled_max <= burst / 1000 ? "PASS" : "FAIL");
		}
		free(ids);
	}
	bench_exec(admin, "TRUNCATE model_predictions");

	{
		double sd = (double)seed_n / seed(rows, pp, seed_n);
		printf("seed: a connection per prediction: %.1f rows/s (%zu rows)\n",
		       sd, seed_n);
		bench_exec(admin, "TRUNCATE model_predictions");
	}

	for (int threads = 1; threads <= 8; threads += 7) {
		double med[MAXR], p99[MAXR], budget[MAXR];
		int lr = 3;
		char name[64];
		for (int r = 0; r < lr; r++) {
			med[r] = latency(rows, n, threads, &p99[r]) / 1000.0;
			p99[r] /= 1000.0;
			budget[r] = 2.0;
			bench_exec(admin, "TRUNCATE model_predictions");
		}
		printf("log() call, %d thread%s: median %.2f us, p99 %.2f us "
		       "(medians of %d runs of %zu calls)\n", threads,
		       threads > 1 ? "s" : "", bstat_of(med, lr).med,
		       bstat_of(p99, lr).med, lr, n);
		snprintf(name, sizeof name, "predlog log() median, %d thread%s",
		         threads, threads > 1 ? "s" : "");
		bench_budget(name, "us", med, lr, 2.0);
		(void)budget;
	}

	PQfinish(c);
	ms_predlog_close(ours_pl);
	bench_exec(admin, "DROP SCHEMA IF EXISTS " SCHEMA " CASCADE");
	PQfinish(admin);
	(void)!system("rm -rf /tmp/ms-bench-predlog-spool");
	free(rows);
	free(pp);
	free(bin.p);
	free(txt.p);
	return 0;
}
