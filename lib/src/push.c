/*
 * push.c - storing a new model version: ms_store_push and its options.
 *
 * Each source is read once, hashed, optionally deflated and cut into
 * chunks (producer.c); a source that fits one chunk goes inline in the
 * artifact row, a larger one into model_artifact_chunks.  All
 * artifacts, the metrics and the run row are written in one
 * transaction, optionally ending in a promotion.
 */
#define _GNU_SOURCE
#include "store.h"

#include "alloc.h"
#include "conn.h"
#include "deadline.h"
#include "errbuf.h"
#include "hash.h"
#include "names.h"
#include "producer.h"
#include "util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

ms_status ms_push_options_init(ms_push_options *opts, unsigned int version)
{
	ms_push_options def = MS_PUSH_OPTIONS_INIT;
	if (opts == NULL || version != MS_PUSH_OPTIONS_VERSION)
		return MS_EINVAL;
	*opts = def;
	return MS_OK;
}

typedef struct push_ctx {
	ms_store *s;
	const ms_push_options *o;
	const char *name;
	char version[MS_VERSION_MAX + 1];
	bool generated;
	unsigned char *chunk;
	char *metrics; /* jansson text */
	char *params;
	uint64_t done, grand_total;
} push_ctx;

/* One chunk row: an INSERT with the bytes as a binary parameter, as an
 * unnamed statement.  It used to be a named prepared statement
 * ("ms_chunk_insert", prepared once per connection), which breaks behind
 * PgBouncer in transaction mode: the next transaction may run on a server
 * connection that lacks it, or that already has it from another client
 * ("prepared statement already exists").  The push transaction sets
 * plan_cache_mode = force_generic_plan (push_begin), so this unnamed
 * statement gets the plan a prepared one would: without it the server
 * builds a custom plan with the chunk as a constant and copies the
 * megabyte several times in planning (see push_begin).
 *
 * Sent without waiting (chunk_send), then collected (chunk_finish): the
 * caller reads and hashes the next chunk while the server stores this
 * one.  libpq copies the parameter into its output buffer and, in
 * blocking mode, has written all of it to the socket when
 * PQsendQueryParams returns, so the caller may reuse @p data at once. */
static ms_status chunk_send(ms_store *s, int64_t id, int32_t seq,
                            const unsigned char *data, size_t n)
{
	char ids[24], seqs[16];
	const char *p[3] = { ids, seqs, (const char *)data };
	int len[3] = { 0, 0, (int)n }, fmt[3] = { 0, 0, 1 };

	snprintf(ids, sizeof ids, "%lld", (long long)id);
	snprintf(seqs, sizeof seqs, "%d", seq);
	if (!PQsendQueryParams(s->conn, "INSERT INTO model_artifact_chunks"
	                       " (artifact_id, seq, data) VALUES ($1, $2, $3)",
	                       3, NULL, p, len, fmt, 0))
		return ms__err_pg(&s->err, s->conn, NULL, "push: chunk");
	return MS_OK;
}

/* The result of the chunk_send before: every result is read (the
 * connection is ready for the next statement), the first failure kept. */
static ms_status chunk_finish(ms_store *s)
{
	PGresult *res;
	ms_status st = MS_OK;
	bool got = false;

	while ((res = ms__pq_get_result(s->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && st == MS_OK)
			st = ms__err_pg(&s->err, s->conn, res, "push: chunk");
		got = true;
		PQclear(res);
	}
	if (!got && st == MS_OK)
		st = ms__err_pg(&s->err, s->conn, NULL, "push: chunk");
	return st;
}

/* Generic plans for the rest of the transaction (see push_begin). */
#define GENERIC_PLANS "SET LOCAL plan_cache_mode = force_generic_plan"

/* BEGIN, and generic plans for the rest of the transaction, in one round
 * trip (two statements in one simple query).  An unnamed statement with
 * parameters normally gets a custom plan, with each parameter folded in
 * as a constant: for an INSERT of a 1 MiB bytea the server copies the
 * value into the plan and back out again, on fresh memory each time,
 * and the next large result on that connection pays for the page faults
 * as well.  Measured on the harness cluster (1 MiB rows, medians of 15):
 * INSERT 35-90 ms with the custom plan, 19-41 ms generic, the next 1 MiB
 * read 25-29 ms after the custom plan, 3-5 ms after the generic one.
 * SET LOCAL ends with the transaction, so nothing leaks to the next
 * client of a pooled server connection.  On failure the transaction is
 * rolled back. */
static ms_status push_begin(ms_store *s)
{
	PGresult *res;
	ms_status st = MS_OK;
	int n = 0;

	if (!PQsendQuery(s->conn, "BEGIN; " GENERIC_PLANS))
		return ms__err_pg(&s->err, s->conn, NULL, "push");
	while ((res = ms__pq_get_result(s->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && st == MS_OK)
			st = ms__err_pg(&s->err, s->conn, res, "push");
		n++;
		PQclear(res);
	}
	if (st == MS_OK && n != 2)
		st = ms__err_pg(&s->err, s->conn, NULL, "push");
	if (st != MS_OK)
		ms__store_rollback(s);
	return st;
}

/* A metric's parameter: NULL (SQL NULL) when absent. */
static void fmt_double(char *buf, size_t n, const double *v,
                       const char **param)
{
	if (v == NULL) {
		*param = NULL;
	} else {
		snprintf(buf, n, "%.17g", *v);
		*param = buf;
	}
}

/* The parameters of ROW_INSERT.  $1 and $2 (run id and version) are set
 * again for each attempt at a generated version. */
typedef struct row_params {
	const char *p[16];
	int len[16], fmt[16];
	char acc[32], rmse[32], r2[32], sz[24], ssz[24], nch[16];
} row_params;

static const char ROW_INSERT[] =
	"INSERT INTO model_artifacts (run_id, model_version,"
	" model_type, model_binary, model_size_bytes,"
	" accuracy_score, rmse_score, r2_score, model_name,"
	" artifact, sha256, compression, stored_size_bytes,"
	" chunk_count, metrics, params) VALUES ($1, $2, $3,"
	" $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
	" $15, $16) RETURNING id";

static void row_params_fill(row_params *rp, const push_ctx *c,
                            const char *artifact,
                            const unsigned char *inline_data, size_t inline_len,
                            const unsigned char *sha, uint64_t size,
                            uint64_t stored, int32_t chunks)
{
	const ms_push_options *o = c->o;
	const char **p = rp->p;

	memset(rp, 0, sizeof *rp);
	fmt_double(rp->acc, sizeof rp->acc, o->accuracy, &p[5]);
	fmt_double(rp->rmse, sizeof rp->rmse, o->rmse, &p[6]);
	fmt_double(rp->r2, sizeof rp->r2, o->r2, &p[7]);
	snprintf(rp->sz, sizeof rp->sz, "%llu", (unsigned long long)size);
	snprintf(rp->ssz, sizeof rp->ssz, "%llu", (unsigned long long)stored);
	snprintf(rp->nch, sizeof rp->nch, "%d", chunks);
	/* c->version is an array that next_version() rewrites in place, so
	 * these stay right across the retries of a generated version */
	p[0] = o->run_id ? o->run_id : c->version;
	p[1] = c->version;
	p[2] = o->model_type ? o->model_type : "unknown";
	p[3] = inline_data ? (const char *)inline_data : NULL;
	rp->len[3] = (int)inline_len;
	rp->fmt[3] = 1;
	if (inline_data && inline_len == 0)
		p[3] = "";
	p[4] = rp->sz;
	p[8] = c->name;
	p[9] = artifact;
	p[10] = (const char *)sha;
	rp->len[10] = sha ? 32 : 0;
	rp->fmt[10] = 1;
	p[11] = o->compress_level > 0 ? "zlib" : "none";
	p[12] = rp->ssz;
	p[13] = rp->nch;
	p[14] = c->metrics;
	p[15] = c->params;
}

/* Candidate @p attempt (2, 3, ...) of a generated version: base_attempt. */
static void next_version(push_ctx *c, const char *base, int attempt)
{
	char tmp[MS_VERSION_MAX + 16];
	snprintf(tmp, sizeof tmp, "%.40s_%d", base, attempt);
	memcpy(c->version, tmp, sizeof c->version - 1);
	c->version[sizeof c->version - 1] = '\0';
}

/* The error for a version that already has @p artifact. */
static ms_status version_taken(push_ctx *c, const char *artifact)
{
	return ms__err_set(&c->s->err, MS_EEXISTS, "push: %s version \"%s\" "
	                   "artifact %s already exists", c->name, c->version,
	                   artifact);
}

/* One INSERT of the row: its id, or the failure classified. */
static ms_status insert_row_once(ms_store *s, const row_params *rp,
                                 int64_t *id_out)
{
	PGresult *res;
	ms_status st;

	res = ms__pq_exec_params(s->conn, ROW_INSERT, 16, rp->p, rp->len,
	                         rp->fmt, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		*id_out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		return MS_OK;
	}
	st = ms__err_pg(&s->err, s->conn, res, "push");
	PQclear(res);
	return st;
}

/* INSERT the artifact row; for the primary of a generated version, pick
 * the first free YYYYMMDD_HHMMSS[_n] under a savepoint. */
static ms_status insert_row(push_ctx *c, const char *artifact, bool primary,
                            const unsigned char *inline_data, size_t inline_len,
                            const unsigned char *sha, uint64_t size,
                            uint64_t stored, int32_t chunks, int64_t *id_out)
{
	ms_store *s = c->s;
	row_params rp;
	char base[MS_VERSION_MAX + 1];
	int attempt;

	row_params_fill(&rp, c, artifact, inline_data, inline_len, sha, size,
	                stored, chunks);
	snprintf(base, sizeof base, "%s", c->version);

	for (attempt = 1;; attempt++) {
		bool retry = primary && c->generated && attempt < 1000;
		ms_status st;
		if (attempt > 1)
			next_version(c, base, attempt);
		if (retry)
			PQclear(ms__pq_exec_params(s->conn, "SAVEPOINT ms_version",
			                              0, NULL, NULL, NULL, 0));
		st = insert_row_once(s, &rp, id_out);
		if (st == MS_EEXISTS && retry) {
			PQclear(ms__pq_exec_params(
				s->conn, "ROLLBACK TO SAVEPOINT ms_version", 0,
				NULL, NULL, NULL, 0));
			continue;
		}
		if (st == MS_EEXISTS)
			return version_taken(c, artifact);
		return st;
	}
}

/* A chunked row's hash, sizes and chunk count, once its chunks are in. */
static ms_status update_row_totals(ms_store *s, int64_t id,
                                   const unsigned char *digest, uint64_t size,
                                   uint64_t stored, int32_t chunks)
{
	char ids[24], sz[24], ssz[24], nch[16];
	const char *prm[5] = { ids, (const char *)digest, sz, ssz, nch };
	int lens[5] = { 0, 32, 0, 0, 0 }, fmts[5] = { 0, 1, 0, 0, 0 };
	PGresult *res;
	ms_status st = MS_OK;

	snprintf(ids, sizeof ids, "%lld", (long long)id);
	snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
	snprintf(ssz, sizeof ssz, "%llu", (unsigned long long)stored);
	snprintf(nch, sizeof nch, "%d", chunks);
	res = ms__pq_exec_params(s->conn,
	                         "UPDATE model_artifacts SET sha256 = $2,"
	                         " model_size_bytes = $3, stored_size_bytes = $4,"
	                         " chunk_count = $5 WHERE id = $1",
	                         5, prm, lens, fmts, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		st = ms__err_pg(&s->err, s->conn, res, "push");
	PQclear(res);
	return st;
}

static ms_status push_one(push_ctx *c, const ms_artifact_source *src,
                          bool primary)
{
	ms_store *s = c->s;
	const char *artifact = src->name ? src->name : MS_PRIMARY_ARTIFACT;
	ms_producer p;
	const unsigned char *bytes;
	size_t len;
	bool last;
	unsigned char digest[32];
	int64_t id = 0;
	int32_t seq = 0;
	ms_status st;

	memset(&p, 0, sizeof p);
	p.fd = -1;
	st = ms__producer_open(&p, &s->err, src, c->o->compress_level);
	p.progress = c->o->progress;
	p.progress_payload = c->o->progress_payload;
	p.base_done = c->done;
	p.grand_total = c->grand_total;
	if (st != MS_OK)
		goto out;
	st = ms__producer_next(&p, &s->err, c->chunk, s->chunk_size, &bytes,
	                       &len, &last);
	if (st != MS_OK)
		goto out;
	if (last) {
		ms__sha256_final(p.hash, digest);
		st = insert_row(c, artifact, primary, bytes, len, digest,
		                p.in_bytes, p.out_bytes, 0, &id);
		goto out;
	}

	/* Chunked: the row first (the chunks reference it), then the chunk
	 * rows, then the row's final hash and sizes - one transaction. */
	st = insert_row(c, artifact, primary, NULL, 0, NULL, 0, 0, 1, &id);
	while (st == MS_OK) {
		bool more = !last;
		ms_status rd = MS_OK;
		st = chunk_send(s, id, seq++, bytes, len);
		/* while the server stores that chunk: read and hash the next
		 * (into the same buffer: libpq has copied the one sent) */
		if (st == MS_OK && more)
			rd = ms__producer_next(&p, &s->err, c->chunk, s->chunk_size,
			                       &bytes, &len, &last);
		if (st == MS_OK) {
			ms_err keep = s->err; /* a read failure's message */
			st = chunk_finish(s);
			if (st == MS_OK && rd != MS_OK) {
				s->err = keep;
				st = rd;
			}
		}
		if (!more || (st == MS_OK && len == 0 && last))
			break;
	}
	if (st != MS_OK)
		goto out;
	ms__sha256_final(p.hash, digest);
	st = update_row_totals(s, id, digest, p.in_bytes, p.out_bytes, seq);
out:
	c->done += p.in_bytes;
	ms__producer_close(&p);
	return st;
}

/* Merge accuracy/rmse/r2 and --metric values into one JSON object. */
static ms_status build_json(push_ctx *c)
{
	ms_store *s = c->s;
	const ms_push_options *o = c->o;
	json_error_t jerr;
	json_t *m, *pa;

	m = o->metrics_json ? json_loads(o->metrics_json, 0, &jerr) : json_object();
	if (m == NULL && (o->metrics_json == NULL ||
	                  json_error_code(&jerr) == json_error_out_of_memory))
		return ms__err_set(&s->err, MS_ENOMEM, "push: out of memory");
	if (m == NULL || !json_is_object(m)) {
		json_decref(m);
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid metrics JSON: must be an object");
	}
	pa = o->params_json ? json_loads(o->params_json, 0, &jerr) : json_object();
	if (pa == NULL && (o->params_json == NULL ||
	                  json_error_code(&jerr) == json_error_out_of_memory)) {
		json_decref(m);
		return ms__err_set(&s->err, MS_ENOMEM, "push: out of memory");
	}
	if (pa == NULL || !json_is_object(pa)) {
		json_decref(m);
		json_decref(pa);
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid params JSON: must be an object");
	}
	if ((o->accuracy &&
	     json_object_set_new(m, "accuracy", json_real(*o->accuracy))) ||
	    (o->rmse && json_object_set_new(m, "rmse", json_real(*o->rmse))) ||
	    (o->r2 && json_object_set_new(m, "r2", json_real(*o->r2)))) {
		json_decref(m);
		json_decref(pa);
		return ms__err_set(&s->err, MS_ENOMEM, "push: out of memory");
	}
	c->metrics = ms__json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
	c->params = ms__json_dumps(pa, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
	json_decref(m);
	json_decref(pa);
	if (c->metrics == NULL || c->params == NULL)
		return ms__err_set(&s->err, MS_ENOMEM, "push: out of memory");
	return MS_OK;
}

/* A present metric must be finite: SQL and JSON both need a number. */
static ms_status check_metric(ms_store *s, const char *what, const double *v)
{
	if (v == NULL || isfinite(*v))
		return MS_OK;
	return ms__err_set(&s->err, MS_EINVAL,
	                   "invalid %s value: \"%g\" (must be finite)", what, *v);
}

static ms_status validate_push(ms_store *s, const ms_push_options *o,
                               const ms_artifact_source *src, size_t n,
                               size_t *primary)
{
	size_t i, j;
	if (o->version != MS_PUSH_OPTIONS_VERSION)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid ms_push_options version: %u", o->version);
	if (check_metric(s, "accuracy", o->accuracy) != MS_OK ||
	    check_metric(s, "rmse", o->rmse) != MS_OK ||
	    check_metric(s, "r2", o->r2) != MS_OK)
		return MS_EINVAL;
	if (o->model_version &&
	    ms__store_check_version(s, o->model_version) != MS_OK)
		return MS_EINVAL;
	if (o->run_id && (o->run_id[0] == '\0' ||
	                  strlen(o->run_id) > MS_RUN_ID_MAX))
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid run id: must be 1-%d characters",
		                   MS_RUN_ID_MAX);
	if (o->model_type && (o->model_type[0] == '\0' ||
	                      strlen(o->model_type) > MS_TYPE_MAX))
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid model type: must be 1-%d characters",
		                   MS_TYPE_MAX);
	if (o->compress_level < 0 || o->compress_level > 9)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid compression level: \"%d\" (0-9)",
		                   o->compress_level);
	if (n == 0 || src == NULL)
		return ms__err_set(&s->err, MS_EINVAL, "push: no artifact given");
	*primary = n;
	for (i = 0; i < n; i++) {
		const char *a = src[i].name ? src[i].name : MS_PRIMARY_ARTIFACT;
		if (ms__name_arg(&s->err, "artifact name", a) != MS_OK)
			return MS_EINVAL;
		for (j = 0; j < i; j++) {
			const char *b = src[j].name ? src[j].name : MS_PRIMARY_ARTIFACT;
			if (strcmp(a, b) == 0)
				return ms__err_set(&s->err, MS_EINVAL,
				                   "artifact name \"%s\" given twice", a);
		}
		if (strcmp(a, MS_PRIMARY_ARTIFACT) == 0)
			*primary = i;
	}
	if (*primary == n)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "push: no artifact named \"%s\" (the one loaders "
		                   "serve)", MS_PRIMARY_ARTIFACT);
	return MS_OK;
}

/* The version to store: the one given, else the UTC time as
 * YYYYMMDD_HHMMSS (insert_row may add a suffix to make it unique). */
static void choose_version(push_ctx *c)
{
	if (c->o->model_version) {
		snprintf(c->version, sizeof c->version, "%s", c->o->model_version);
	} else {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(c->version, sizeof c->version, "%Y%m%d_%H%M%S", &tm);
		c->generated = true;
	}
}

/* The bytes the push will read, for progress: what regular files and
 * memory sources say they hold. */
static uint64_t sources_size(const ms_artifact_source *src, size_t n)
{
	uint64_t total = 0;
	size_t i;
	for (i = 0; i < n; i++) {
		if (src[i].path) {
			struct stat sb;
			if (stat(src[i].path, &sb) == 0 && S_ISREG(sb.st_mode))
				total += (uint64_t)sb.st_size;
		} else {
			total += src[i].size;
		}
	}
	return total;
}

/* The run's row, kept as it is when it exists already (e.g. started by
 * ms_run_start: the version then belongs to it); and the recording of
 * an inline row's hash, for a row sent before it was hashed
 * (push_inline_pipelined).  Their parameters' numbers differ between
 * the statements below. */
#define RUN_INSERT(run, name, params)                                   \
	" INSERT INTO model_runs (run_id, model_name, params)"              \
	" VALUES (" run ", " name ", " params "::jsonb)"                    \
	" ON CONFLICT (run_id) DO NOTHING"
#define HASH_UPDATE(sha, name, version, artifact)                       \
	" h AS (UPDATE model_artifacts SET sha256 = " sha                   \
	" WHERE model_name = " name " AND model_version = " version         \
	" AND artifact = " artifact ")"

/* After the artifact rows: the run, then a model_metrics row per
 * numeric metric, for the version and the run.  One statement: the
 * run's INSERT is a CTE, and the metrics' foreign key to it is checked
 * at the end of the statement, when the run row is there.  $1 the name,
 * $2 the version, $3 the metrics, $4 the run, $5 the params; with the
 * hash, $6 the SHA-256 and $7 the artifact. */
#define RUN_METRICS                                                     \
	" r AS (" RUN_INSERT("$4", "$1", "$5") ")"                          \
	" INSERT INTO model_metrics (model_name, model_version,"            \
	" metric, value, run_id) SELECT $1, $2, key,"                       \
	" (value #>> '{}')::float8, $4 FROM"                                \
	" jsonb_each($3::jsonb)"                                            \
	" WHERE jsonb_typeof(value) = 'number'"

static const char RUN_METRICS_SQL[] = "WITH" RUN_METRICS;
static const char HASH_RUN_METRICS_SQL[] =
	"WITH" HASH_UPDATE("$6", "$1", "$2", "$7") "," RUN_METRICS;

/* Without metrics, the run alone: the model_metrics INSERT would add no
 * row, yet a fresh backend opened that table and its indexes to plan
 * it, about 1 ms of a fresh connection's push (6.5 against 5.6 ms,
 * medians of 21).  $1 the name, $2 the run, $3 the params; with the
 * hash, $4 the SHA-256, $5 the version, $6 the artifact. */
static const char RUN_SQL[] = RUN_INSERT("$2", "$1", "$3");
static const char HASH_RUN_SQL[] =
	"WITH" HASH_UPDATE("$4", "$1", "$5", "$6") RUN_INSERT("$2", "$1", "$3");

/* The statement that records the run and metrics, with its parameters;
 * @p digest (32 bytes) and @p artifact when it also records an inline
 * row's hash, else NULL. */
typedef struct run_stmt {
	const char *sql;
	int n;
	const char *p[7];
	int len[7], fmt[7];
} run_stmt;

static void run_stmt_fill(run_stmt *r, const push_ctx *c,
                          const unsigned char *digest, const char *artifact)
{
	const char *run = c->o->run_id ? c->o->run_id : c->version;
	bool metrics = strcmp(c->metrics, "{}") != 0;

	memset(r, 0, sizeof *r);
	r->p[r->n++] = c->name;
	if (metrics) {
		r->sql = digest ? HASH_RUN_METRICS_SQL : RUN_METRICS_SQL;
		r->p[r->n++] = c->version;
		r->p[r->n++] = c->metrics;
		r->p[r->n++] = run;
		r->p[r->n++] = c->params;
	} else {
		r->sql = digest ? HASH_RUN_SQL : RUN_SQL;
		r->p[r->n++] = run;
		r->p[r->n++] = c->params;
	}
	if (digest == NULL)
		return;
	r->len[r->n] = 32;
	r->fmt[r->n] = 1;
	r->p[r->n++] = (const char *)digest;
	if (!metrics) /* the version is $2 above */
		r->p[r->n++] = c->version;
	r->p[r->n++] = artifact;
}

static ms_status insert_metrics_and_run(push_ctx *c)
{
	ms_store *s = c->s;
	run_stmt r;

	run_stmt_fill(&r, c, NULL, NULL);
	return ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK, "push",
	                r.sql, r.n, r.p);
}

/* A pipeline's results up to its Sync.  The first failure is kept; a
 * COMMIT answered by ROLLBACK is a failure too. */
static ms_status pipeline_results(ms_store *s)
{
	PGconn *conn = s->conn;
	ms_status st = MS_OK;

	for (;;) {
		PGresult *res = ms__pq_get_result(conn);
		ExecStatusType rs;
		const char *cmd;
		if (res == NULL) { /* one statement's results end here */
			if (PQstatus(conn) != CONNECTION_BAD)
				continue;
			if (st == MS_OK)
				st = ms__err_pg(&s->err, conn, NULL, "push");
			return st;
		}
		rs = PQresultStatus(res);
		cmd = PQcmdStatus(res);
		if (rs == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			return st;
		}
		if ((rs == PGRES_FATAL_ERROR || rs == PGRES_BAD_RESPONSE) &&
		    st == MS_OK)
			st = ms__err_pg(&s->err, conn, res, "push");
		else if (rs == PGRES_COMMAND_OK && st == MS_OK &&
		         strcmp(cmd, "ROLLBACK") == 0)
			st = ms__err_set(&s->err, MS_ERROR, "push: the transaction "
			                 "was rolled back at COMMIT");
		PQclear(res);
	}
}

/* The run and metrics, then COMMIT, in one round trip: libpq pipeline
 * mode sends both statements and one Sync, and the server runs COMMIT
 * only if the run and metrics succeeded (after an error it skips to the
 * Sync; the transaction is then rolled back here).  A COMMIT that
 * answers ROLLBACK is a failure.  Nothing outlives the transaction, so
 * PgBouncer in transaction mode sees an ordinary transaction; the
 * statements are unnamed.  On failure the transaction is rolled back. */
static ms_status metrics_run_commit(push_ctx *c)
{
	ms_store *s = c->s;
	PGconn *conn = s->conn;
	run_stmt r;
	ms_status st;

	run_stmt_fill(&r, c, NULL, NULL);
	if (PQenterPipelineMode(conn) != 1) {
		ms__store_rollback(s);
		return ms__err_pg(&s->err, conn, NULL, "push");
	}
	if (!PQsendQueryParams(conn, r.sql, r.n, NULL, r.p, NULL, NULL, 0) ||
	    !PQsendQueryParams(conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) ||
	    !PQpipelineSync(conn))
		/* nothing to wait for: not all of it went out */
		st = ms__err_pg(&s->err, conn, NULL, "push");
	else
		st = pipeline_results(s);
	(void)PQexitPipelineMode(conn);
	if (st != MS_OK)
		ms__store_rollback(s);
	return st;
}

/* Does @p src fit one chunk, as far as can be known before reading it:
 * memory, or a regular file (not a pipe: it cannot be read twice). */
static bool fits_one_chunk(const ms_artifact_source *src, size_t chunk)
{
	struct stat sb;
	if (src->path == NULL)
		return src->size <= chunk;
	return stat(src->path, &sb) == 0 && S_ISREG(sb.st_mode) &&
	       (uint64_t)sb.st_size <= chunk;
}

/* A version given, one artifact that fits one chunk (stored inline), no
 * promotion: the whole push in one round trip, where the general path
 * takes three.  Pipeline mode, one Sync: BEGIN, generic plans (see
 * push_begin), the row, then its hash with the run and metrics in one
 * statement, COMMIT.  The row goes out before its hash is computed: the
 * client hashes while the server stores the bytes, and an UPDATE in the
 * same transaction records the hash, so no reader ever sees the row
 * without it.  After any failure the server skips to the Sync and the
 * transaction is rolled back here.  *@p fallback is set when the source turned out
 * bigger than one chunk (a file that grew since it was sized): nothing
 * was sent, and the caller pushes it the general way. */
static ms_status push_inline_pipelined(push_ctx *c,
                                       const ms_artifact_source *src,
                                       bool *fallback)
{
	ms_store *s = c->s;
	PGconn *conn = s->conn;
	const char *artifact = src->name ? src->name : MS_PRIMARY_ARTIFACT;
	unsigned char digest[32];
	run_stmt r;
	const unsigned char *bytes;
	ms_producer p;
	row_params rp;
	size_t len;
	bool last = false;
	ms_status st;

	*fallback = false;
	memset(&p, 0, sizeof p);
	p.fd = -1;
	st = ms__producer_open(&p, &s->err, src, 0);
	p.progress = c->o->progress;
	p.progress_payload = c->o->progress_payload;
	p.base_done = c->done;
	p.grand_total = c->grand_total;
	p.defer_hash = true;
	if (st == MS_OK)
		st = ms__producer_next(&p, &s->err, c->chunk, s->chunk_size,
		                       &bytes, &len, &last);
	if (st == MS_OK && !last)
		*fallback = true;
	if (st != MS_OK || *fallback)
		goto out;
	row_params_fill(&rp, c, artifact, bytes, len, NULL, p.in_bytes,
	                p.out_bytes, 0);
	if (PQenterPipelineMode(conn) != 1) {
		st = ms__err_pg(&s->err, conn, NULL, "push");
		goto out;
	}
	if (!PQsendQueryParams(conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) ||
	    !PQsendQueryParams(conn, GENERIC_PLANS, 0, NULL, NULL, NULL, NULL,
	                       0) ||
	    !PQsendQueryParams(conn, ROW_INSERT, 16, NULL, rp.p, rp.len, rp.fmt,
	                       0) ||
	    PQflush(conn) != 0) {
		st = ms__err_pg(&s->err, conn, NULL, "push");
	} else {
		ms__sha256_update(p.hash, bytes, len);
		ms__sha256_final(p.hash, digest);
		run_stmt_fill(&r, c, digest, artifact);
		if (!PQsendQueryParams(conn, r.sql, r.n, NULL, r.p, r.len,
		                       r.fmt, 0) ||
		    !PQsendQueryParams(conn, "COMMIT", 0, NULL, NULL, NULL, NULL,
		                       0) ||
		    !PQpipelineSync(conn))
			st = ms__err_pg(&s->err, conn, NULL, "push");
		else
			st = pipeline_results(s);
	}
	(void)PQexitPipelineMode(conn);
	if (st == MS_EEXISTS)
		(void)version_taken(c, artifact);
	if (st != MS_OK)
		ms__store_rollback(s);
out:
	if (!*fallback)
		c->done += p.in_bytes;
	ms__producer_close(&p);
	return st;
}

/* One transaction: every artifact, the metrics and run, then the
 * promotion if asked for.  Committed, or rolled back on failure. */
static ms_status push_tx(push_ctx *c, const ms_artifact_source *src,
                         size_t n, size_t primary)
{
	ms_store *s = c->s;
	const ms_push_options *o = c->o;
	size_t i;
	ms_status st;

	if (!c->generated && n == 1 && !o->production &&
	    o->compress_level == 0 && fits_one_chunk(&src[0], s->chunk_size)) {
		bool fallback;
		st = push_inline_pipelined(c, &src[0], &fallback);
		if (!fallback)
			return st;
	}
	if ((st = push_begin(s)) != MS_OK)
		return st;
	/* The primary first: its INSERT settles a generated version. */
	st = push_one(c, &src[primary], true);
	for (i = 0; st == MS_OK && i < n; i++)
		if (i != primary)
			st = push_one(c, &src[i], false);
	if (st == MS_OK && !o->production)
		return metrics_run_commit(c);
	if (st == MS_OK)
		st = insert_metrics_and_run(c);
	if (st == MS_OK)
		st = ms__store_promote_tx(s, c->name, c->version, "promote",
		                          o->reason ? o->reason
		                                    : "push --production");
	if (st == MS_OK)
		st = ms__store_commit(s, "push");
	else
		ms__store_rollback(s);
	return st;
}

ms_status ms_store_push(ms_buf *version_out, ms_store *s,
                        const ms_push_options *opts,
                        const ms_artifact_source *src, size_t n)
{
	ms_push_options def;
	push_ctx c;
	size_t primary = 0;
	ms_status st;

	MS__STORE_REQUIRE_CONN(s);
	if (opts == NULL) {
		ms_push_options_init(&def, MS_PUSH_OPTIONS_VERSION);
		opts = &def;
	}
	memset(&c, 0, sizeof c);
	c.s = s;
	c.o = opts;
	c.name = opts->model_name;
	if ((st = ms__store_check_name(s, &c.name)) != MS_OK)
		return st;
	if ((st = validate_push(s, opts, src, n, &primary)) != MS_OK)
		return st;
	choose_version(&c);
	c.grand_total = sources_size(src, n);
	if ((st = build_json(&c)) != MS_OK)
		goto out;
	if (s->chunk_buf == NULL)
		s->chunk_buf = ms__malloc(s->chunk_size);
	c.chunk = s->chunk_buf;
	if (c.chunk == NULL) {
		st = ms__err_set(&s->err, MS_ENOMEM, "push: out of memory");
		goto out;
	}
	st = push_tx(&c, src, n, primary);
	if (st == MS_OK && ms__buf_set(version_out, c.version,
	                               strlen(c.version)) != MS_OK)
		st = ms__err_set(&s->err, MS_ENOMEM, "push: out of memory");
out:
	free(c.metrics); /* jansson's */
	free(c.params);
	return st;
}
