/*
 * bench_import.c - `modelstore predictions import` (the whole CLI
 * process, NDJSON on stdin from a file) beside `psql \copy` of the same
 * rows as a text COPY file (the whole psql process), interleaved, same
 * run, same table.
 *
 *   DATABASE_URL=... bench_import [--rows N] [--rounds R] [--cli PATH]
 *                                 [--only-ours R] [--keep]
 *
 * Works in a scratch schema (ms_bench_import, dropped at the end, unless
 * --keep) selected for every process through PGOPTIONS=-c
 * search_path=...; the table is the real migrated model_predictions (its
 * primary key, unique prediction_id, (model_version, prediction_time)).
 *
 * The files are written before the first round, and every method runs
 * after a TRUNCATE, outside the clock; each method is timed from the
 * process's start (or, in-process, from before connecting) to its end:
 *
 *   psql-copy-text     psql -c "\copy model_predictions (8 columns) from
 *                      'F'": the rows as stored by import, client-made
 *                      UUIDv7 ids and times included (the ceiling)
 *   ours (CLI import)  modelstore --json predictions import < F.ndjson
 *                      (its summary gives the rows that went through the
 *                      spool, printed each round)
 *   psql-copy-text-6   \copy of the 6 NDJSON fields only: the server
 *                      fills prediction_time, prediction_id stays NULL,
 *                      so not the same rows (reference)
 *   libpq-ndjson-bin   a plain libpq program that reads F.ndjson, scans
 *                      each line (the CLI's own il_scan), and sends a
 *                      binary COPY in 256 KiB messages (reference: the
 *                      best a single-threaded importer could do)
 *
 * Each figure is the median of the rounds with its min-max spread.  The
 * first RESULT line is ours against psql-copy-text, the target
 * (0.90); a second one, without a target, against libpq-ndjson-bin, the
 * fastest plain way to load the NDJSON itself; psql-copy-text-6 is
 * printed beside them (ours/each).
 *
 * --only-ours R: R runs of ours alone (for perf record -p / strace).
 * --keep: leave the files (/tmp/ms-bench-import.*) and the schema.
 *
 * Lines starting with RESULT| are the summary bench/run.sh tabulates.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_pq.h"
#include "import_line.h"
#include "modelstore.h"
#include "uuid.h"

extern char **environ;

#define SCHEMA "ms_bench_import"
#define VERSION "20240101_000000"
#define NAME "default"
#define COLS8 "prediction_id, model_name, model_version, input_features, " \
	"predicted_value, actual_value, confidence_score, prediction_time"
#define COLS6 "model_name, model_version, input_features, " \
	"predicted_value, actual_value, confidence_score"
#define PG_EPOCH_US INT64_C(946684800000000)
#define MAXR 32
#define F_NDJSON "/tmp/ms-bench-import.ndjson"
#define F_TEXT8 "/tmp/ms-bench-import.copy8"
#define F_TEXT6 "/tmp/ms-bench-import.copy6"
#define SPOOL "/tmp/ms-bench-import-spool"

static const char *url;

static void check_count(PGconn *admin, const char *what, size_t n)
{
	PGresult *r = PQexec(admin, "SELECT count(*), count(prediction_id) "
	                     "FROM model_predictions");
	long got = PQresultStatus(r) == PGRES_TUPLES_OK
	           ? atol(PQgetvalue(r, 0, 0)) : -1;
	PQclear(r);
	if (got != (long)n) {
		fprintf(stderr, "bench_import: %s left %ld rows, not %zu\n", what,
		        got, n);
		exit(1);
	}
}

static FILE *open_or_die(const char *path)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		fprintf(stderr, "bench_import: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return f;
}

/* The same @p n rows three ways: NDJSON (what import reads), text COPY
 * of the 8 stored columns, text COPY of the 6 NDJSON fields.  Features
 * about 190 bytes, as in bench_predlog. */
static void write_files(size_t n, size_t *feat_len, size_t *line_len)
{
	FILE *nd = open_or_die(F_NDJSON), *t8 = open_or_die(F_TEXT8),
	     *t6 = open_or_die(F_TEXT6);
	char feat[400], id[MS_UUID_STRLEN], ts[40], num[3][40];
	long nd_bytes = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char u[16];
		struct timespec now;
		struct tm tm;
		time_t s;
		int fl = snprintf(feat, sizeof feat,
			"{\"age\": %zu, \"income\": %.2f, \"region\": \"r%zu\", "
			"\"tenure_months\": %zu, \"plan\": \"premium\", "
			"\"scores\": [%.4f, %.4f, %.4f], \"device\": \"android\", "
			"\"visits_30d\": %zu, \"churn_risk_band\": \"medium\"}",
			18 + i % 60, 20000.0 + (double)(i % 9973) * 7.5, i % 17,
			i % 120, (double)(i % 101) / 101.0, (double)(i % 37) / 37.0,
			(double)(i % 13) / 13.0, i % 45);
		*feat_len = (size_t)fl;
		/* shortest round-trip text, as json.dumps writes it */
		snprintf(num[0], sizeof num[0], "%.17g", (double)(i % 1000) / 1000.0);
		for (int p = 1; p <= 17; p++) {
			char b[40];
			snprintf(b, sizeof b, "%.*g", p, (double)(i % 1000) / 1000.0);
			if (strtod(b, NULL) == (double)(i % 1000) / 1000.0) {
				memcpy(num[0], b, sizeof b);
				break;
			}
		}
		snprintf(num[1], sizeof num[1], "%g", 0.5 + (double)(i % 500) / 1000.0);
		ms__uuid7(u);
		ms__uuid_format(id, u);
		clock_gettime(CLOCK_REALTIME, &now);
		s = now.tv_sec;
		gmtime_r(&s, &tm);
		strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
		nd_bytes += fprintf(nd, "{\"model_name\": \"" NAME "\", "
		                    "\"model_version\": \"" VERSION "\", "
		                    "\"input_features\": %s, \"predicted_value\": %s, "
		                    "\"actual_value\": null, \"confidence_score\": %s}\n",
		                    feat, num[0], num[1]);
		fprintf(t8, "%s\t" NAME "\t" VERSION "\t%s\t%s\t\\N\t%s\t%s.%06ld\n",
		        id, feat, num[0], num[1], ts, now.tv_nsec / 1000);
		fprintf(t6, NAME "\t" VERSION "\t%s\t%s\t\\N\t%s\n", feat, num[0],
		        num[1]);
	}
	*line_len = (size_t)nd_bytes / n;
	if (fclose(nd) || fclose(t8) || fclose(t6)) {
		fprintf(stderr, "bench_import: writing the files failed\n");
		exit(1);
	}
}

static char out_path[] = "/tmp/ms-bench-import.out";
static char err_path[] = "/tmp/ms-bench-import.err";

/* Run @p argv with stdin from @p in (NULL: /dev/null), stdout to
 * out_path and stderr to err_path; seconds from spawn to exit.  Exits
 * when it fails. */
static double run_timed(char *const argv[], const char *in)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;
	double t0, t;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, in ? in : "/dev/null",
	                                 O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out_path,
	                                 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err_path,
	                                 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	t0 = now_s();
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		fprintf(stderr, "bench_import: cannot run %s\n", argv[0]);
		exit(1);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	t = now_s() - t0;
	posix_spawn_file_actions_destroy(&fa);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char cmd[600];
		fprintf(stderr, "bench_import: %s failed (status %d); its output:\n",
		        argv[0], status);
		snprintf(cmd, sizeof cmd, "cat %s %s >&2", out_path, err_path);
		(void)!system(cmd);
		exit(1);
	}
	return t;
}

static double psql_copy(const char *cols, const char *file)
{
	char cmd[512];
	char *argv[] = { "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
	                 (char *)(url ? url : ""), "-c", cmd, NULL };
	snprintf(cmd, sizeof cmd, "\\copy model_predictions (%s) from '%s'",
	         cols, file);
	return run_timed(argv, NULL);
}

static const char *cli_path;

/* Rows of the last run of ours that went through the spool (its JSON
 * summary's "spooled"): a run the database could absorb should have
 * none. */
static long long ours_spooled;

static double ours(void)
{
	char *argv[] = { (char *)cli_path, "--json", "predictions", "import",
	                 "--spool-dir", SPOOL, NULL };
	double t = run_timed(argv, F_NDJSON);
	json_t *doc = json_load_file(out_path, 0, NULL);
	json_t *sp = json_object_get(doc, "spooled");
	ours_spooled = json_is_integer(sp) ? json_integer_value(sp) : -1;
	json_decref(doc);
	return t;
}

/* ---- the plain libpq importer (reference) ---- */


/* A number member as float8 (NULL when absent or null). */
static void put_num(obuf *b, const il_line *l, const char *key)
{
	const il_member *m = il_get(l, key);
	char tmp[64];
	double d;
	uint64_t u;
	if (m == NULL || m->kind != IL_NUMBER || m->val_len >= sizeof tmp) {
		ob_be(b, 0xFFFFFFFFu, 4);
		return;
	}
	memcpy(tmp, m->val, m->val_len);
	tmp[m->val_len] = '\0';
	d = strtod(tmp, NULL);
	memcpy(&u, &d, 8);
	ob_be(b, 8, 4);
	ob_be(b, u, 8);
}

/* A string member's raw text between its quotes (the bench's strings
 * have no escapes); the features object as its raw bytes, jsonb v1. */
static void put_text(obuf *b, const il_member *m, bool jsonb)
{
	size_t off = m->kind == IL_STRING ? 1 : 0;
	size_t len = m->val_len - 2 * off;
	ob_be(b, len + (jsonb ? 1 : 0), 4);
	if (jsonb)
		ob_put(b, "\1", 1);
	ob_put(b, m->val + off, len);
}

static double libpq_ndjson_bin(size_t n)
{
	double t0 = now_s();
	PGconn *c = bench_connect(url);
	FILE *f = fopen(F_NDJSON, "r");
	obuf b = { 0 };
	il_line l = { 0 };
	char *line = NULL;
	size_t cap = 0, rows = 0;
	ssize_t len;
	PGresult *r = PQexec(c, "COPY model_predictions (" COLS8 ") FROM "
	                     "STDIN (FORMAT binary)");
	if (f == NULL || PQresultStatus(r) != PGRES_COPY_IN) {
		fprintf(stderr, "bench_import: COPY: %s", PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
	ob_put(&b, "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);
	while ((len = getline(&line, &cap, f)) > 0) {
		size_t where;
		const char *why;
		unsigned char u[16];
		struct timespec ts;
		const il_member *fe, *v, *nm;
		if (!il_scan(&l, line, (size_t)len - 1, &where, &why) ||
		    (fe = il_get(&l, "input_features")) == NULL ||
		    (v = il_get(&l, "model_version")) == NULL ||
		    (nm = il_get(&l, "model_name")) == NULL) {
			fprintf(stderr, "bench_import: bad line %zu\n", rows + 1);
			exit(1);
		}
		ms__uuid7(u);
		clock_gettime(CLOCK_REALTIME, &ts);
		ob_be(&b, 8, 2);
		ob_be(&b, 16, 4);
		ob_put(&b, u, 16);
		put_text(&b, nm, false);
		put_text(&b, v, false);
		put_text(&b, fe, true);
		put_num(&b, &l, "predicted_value");
		put_num(&b, &l, "actual_value");
		put_num(&b, &l, "confidence_score");
		ob_be(&b, 8, 4);
		ob_be(&b, (uint64_t)((int64_t)ts.tv_sec * 1000000 +
		                     ts.tv_nsec / 1000 - PG_EPOCH_US), 8);
		rows++;
		if (b.len >= 256u << 10) {
			if (PQputCopyData(c, (const char *)b.p, (int)b.len) != 1) {
				fprintf(stderr, "bench_import: COPY: %s", PQerrorMessage(c));
				exit(1);
			}
			b.len = 0;
		}
	}
	ob_put(&b, "\377\377", 2);
	if (PQputCopyData(c, (const char *)b.p, (int)b.len) != 1 ||
	    PQputCopyEnd(c, NULL) != 1) {
		fprintf(stderr, "bench_import: COPY: %s", PQerrorMessage(c));
		exit(1);
	}
	while ((r = PQgetResult(c)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "bench_import: COPY: %s", PQerrorMessage(c));
			exit(1);
		}
		PQclear(r);
	}
	PQfinish(c);
	fclose(f);
	free(line);
	free(b.p);
	il_line_dispose(&l);
	if (rows != n) {
		fprintf(stderr, "bench_import: read %zu lines, not %zu\n", rows, n);
		exit(1);
	}
	return now_s() - t0;
}

/* ---- main ---- */

enum { M_PSQL8, M_OURS, M_PSQL6, M_BIN, M_N };
static const char *mname[M_N] = {
	"psql-copy-text", "ours (CLI import)", "psql-copy-text-6",
	"libpq-ndjson-bin"
};

static size_t arg_num(int argc, char **argv, const char *name, size_t def)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return strtoul(argv[i + 1], NULL, 10);
	return def;
}

static const char *arg_str(int argc, char **argv, const char *name)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

static bool arg_flag(int argc, char **argv, const char *name)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return true;
	return false;
}

static void print_load(const char *when)
{
	double la[3];
	if (getloadavg(la, 3) == 3)
		printf("load average %s: %.2f %.2f %.2f\n", when, la[0], la[1],
		       la[2]);
}

int main(int argc, char **argv)
{
	size_t n = arg_num(argc, argv, "--rows", 200000);
	int rounds = (int)arg_num(argc, argv, "--rounds", 5);
	int only = (int)arg_num(argc, argv, "--only-ours", 0);
	bool keep = arg_flag(argc, argv, "--keep");
	double rate[M_N][MAXR];
	long long spooled_max = 0;
	size_t fl = 0, ll = 0;
	static char cli_buf[4096];
	PGconn *admin;
	ms_store *s = NULL;
	ms_store_options o;

	url = getenv("DATABASE_URL");
	cli_path = arg_str(argc, argv, "--cli");
	if (cli_path == NULL) { /* build/bench/bench_import -> build/cli/ */
		const char *slash = strrchr(argv[0], '/');
		snprintf(cli_buf, sizeof cli_buf, "%.*s../cli/modelstore",
		         slash ? (int)(slash - argv[0] + 1) : 0, argv[0]);
		cli_path = cli_buf;
	}
	if (access(cli_path, X_OK) != 0) {
		fprintf(stderr, "bench_import: no CLI at %s (--cli PATH)\n",
		        cli_path);
		return 1;
	}
	if (n < 1000)
		n = 1000;
	if (rounds < 1 || rounds > MAXR)
		rounds = 5;
	setenv("PGOPTIONS", "-c search_path=" SCHEMA, 1);
	admin = bench_connect(url);
	bench_exec(admin, "SET client_min_messages = warning");
	bench_exec(admin, "DROP SCHEMA IF EXISTS " SCHEMA " CASCADE");
	bench_exec(admin, "CREATE SCHEMA " SCHEMA);
	ms_store_options_init(&o, MS_STORE_OPTIONS_VERSION);
	o.check_schema = 0;
	if (ms_store_open(&s, url, &o) != MS_OK ||
	    ms_store_migrate(NULL, s) != MS_OK) {
		fprintf(stderr, "bench_import: migrate: %s\n", ms_store_errmsg(s));
		return 1;
	}
	ms_store_close(s);
	(void)!system("rm -rf " SPOOL);
	write_files(n, &fl, &ll);
	printf("predictions import: %zu NDJSON rows (%zu bytes a line, "
	       "features %zu bytes) into the migrated model_predictions; "
	       "%d interleaved rounds; CLI %s\n", n, ll, fl, only ? only : rounds,
	       cli_path);
	print_load("before");
	fflush(stdout);

	if (only > 0) {
		for (int r = 0; r < only && r < MAXR; r++) {
			bench_exec(admin, "TRUNCATE model_predictions");
			double t = ours();
			printf("ours %.0f rows/s, %lld rows through the spool\n",
			       (double)n / t, ours_spooled);
			check_count(admin, "ours", n);
			fflush(stdout);
		}
		rounds = 0;
	}
	for (int r = 0; r < rounds; r++) {
		for (int m = 0; m < M_N; m++) {
			double t = 0;
			bench_exec(admin, "TRUNCATE model_predictions");
			switch (m) {
			case M_PSQL8: t = psql_copy(COLS8, F_TEXT8); break;
			case M_OURS:
				t = ours();
				if (ours_spooled != 0 && (ours_spooled < 0 ||
				                          ours_spooled > spooled_max))
					spooled_max = ours_spooled;
				break;
			case M_PSQL6: t = psql_copy(COLS6, F_TEXT6); break;
			case M_BIN: t = libpq_ndjson_bin(n); break;
			}
			check_count(admin, mname[m], n);
			rate[m][r] = (double)n / t;
		}
		printf("round %d:", r + 1);
		for (int m = 0; m < M_N; m++)
			printf(" %s %.0f", mname[m], rate[m][r]);
		printf(" rows/s (ours spooled %lld)\n", ours_spooled);
		fflush(stdout);
	}
	if (rounds > 0) {
		char name[96];
		printf("%-18s %12s %25s\n", "method", "median rows/s", "min-max");
		for (int m = 0; m < M_N; m++) {
			bstat b = bstat_of(rate[m], rounds);
			printf("%-18s %12.0f %12.0f-%-12.0f (ours/this %.2f)\n",
			       mname[m], b.med, b.min, b.max,
			       bstat_of(rate[M_OURS], rounds).med / b.med);
		}
		printf("ours: at most %lld of %zu rows through the spool in a "
		       "round (-1: no summary)\n", spooled_max, n);
		print_load("after");
		snprintf(name, sizeof name, "predictions import %zuk rows vs psql "
		         "\\copy text", n / 1000);
		bench_result(name, "rows/s", rate[M_OURS], rate[M_PSQL8], rounds, 1,
		             0.9);
		/* the fastest plain importer of the NDJSON itself, for
		 * reference (no target: the is against \copy) */
		snprintf(name, sizeof name, "predictions import %zuk rows vs "
		         "libpq NDJSON->binary COPY (reference)", n / 1000);
		bench_result(name, "rows/s", rate[M_OURS], rate[M_BIN], rounds, 1,
		             0);
	}
	if (!keep) {
		bench_exec(admin, "DROP SCHEMA IF EXISTS " SCHEMA " CASCADE");
		unlink(F_NDJSON);
		unlink(F_TEXT8);
		unlink(F_TEXT6);
		unlink(out_path);
		unlink(err_path);
		(void)!system("rm -rf " SPOOL);
	}
	PQfinish(admin);
	return 0;
}
