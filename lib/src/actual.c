/*
 * actual.c - the observed outcome of a logged prediction: recording the
 * actual value against its prediction id in model_predictions, one at a
 * time (ms_store_record_actual) or in bulk (ms_store_record_actuals:
 * COPY into a temporary table, one UPDATE per batch).
 */
#include "store.h"

#include "alloc.h"
#include "conn.h"
#include "errbuf.h"
#include "uuid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ms_status ms_store_record_actual(ms_store *s, const char *prediction_id,
                                 double actual)
{
	char val[32];
	const char *p[2] = { prediction_id, val };
	PGresult *res;
	ms_status st;

	MS__STORE_REQUIRE_CONN(s);
	if (prediction_id == NULL || isnan(actual) || isinf(actual))
		return ms__err_set(&s->err, MS_EINVAL,
		                   "record actual: need a prediction id and a finite "
		                   "value");
	snprintf(val, sizeof val, "%.17g", actual);
	st = ms__exec(s->conn, &s->err, &res, PGRES_COMMAND_OK, "record actual",
	              "UPDATE model_predictions SET actual_value = $2::float8,"
	              " actual_recorded_at = now() WHERE prediction_id = $1::uuid",
	              2, p);
	if (st == MS_EINVAL)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid prediction id: \"%.40s\" (not a UUID)",
		                   prediction_id);
	if (st != MS_OK)
		return st;
	if (strcmp(PQcmdTuples(res), "0") == 0) {
		PQclear(res);
		return ms__err_set(&s->err, MS_ENOTFOUND,
		                   "record actual: no prediction with id %s",
		                   prediction_id);
	}
	PQclear(res);
	return MS_OK;
}

/* ------------------------------------------------------------------ */
/* many at once: COPY into a temporary table, one UPDATE per batch     */
/* ------------------------------------------------------------------ */

/* Rows per COPY + UPDATE (one transaction each): big enough that the
 * round trips do not count, small enough that a batch's row locks and
 * its temporary table stay small. */
#define ACTUALS_BATCH 100000
/* Bytes handed to one PQputCopyData. */
#define ACTUALS_COPY_BUF (256 * 1024)

static const char actuals_tmp_sql[] =
	"CREATE TEMP TABLE IF NOT EXISTS ms_actuals_in"
	" (prediction_id uuid NOT NULL, actual_value float8 NOT NULL,"
	"  seq bigint NOT NULL) ON COMMIT DELETE ROWS";

/* The last value given for an id wins (seq: its place in the input).
 * Returns the ids that matched no prediction. */
static const char actuals_update_sql[] =
	"WITH src AS (SELECT DISTINCT ON (prediction_id) prediction_id,"
	"                    actual_value"
	"               FROM ms_actuals_in ORDER BY prediction_id, seq DESC),"
	" u AS (UPDATE model_predictions p"
	"          SET actual_value = src.actual_value,"
	"              actual_recorded_at = now()"
	"         FROM src WHERE p.prediction_id = src.prediction_id"
	"       RETURNING p.prediction_id)"
	" SELECT (SELECT count(*) FROM src), src.prediction_id::text"
	"   FROM src LEFT JOIN u ON u.prediction_id = src.prediction_id"
	"  WHERE u.prediction_id IS NULL"
	" UNION ALL SELECT (SELECT count(*) FROM src), NULL"
	" ORDER BY 2 NULLS LAST";

void ms_actuals_result_dispose(ms_actuals_result *r)
{
	if (r == NULL)
		return;
	ms_buf_dispose(&r->unmatched_ids);
	memset(r, 0, sizeof *r);
}

/* Check every row before anything is sent: a bad one is MS_EINVAL
 * naming its index, and nothing is written. */
static ms_status actuals_check(ms_store *s, const ms_actual *rows, size_t n)
{
	unsigned char u[16];
	for (size_t i = 0; i < n; i++) {
		if (rows[i].prediction_id == NULL ||
		    !ms__uuid_parse(u, rows[i].prediction_id))
			return ms__err_set(&s->err, MS_EINVAL, "record actuals: "
			                   "row %zu: invalid prediction id \"%.40s\""
			                   " (not a UUID)", i, rows[i].prediction_id
			                   ? rows[i].prediction_id : "(null)");
		if (isnan(rows[i].value) || isinf(rows[i].value))
			return ms__err_set(&s->err, MS_EINVAL, "record actuals: "
			                   "row %zu (%s): the value is not finite",
			                   i, rows[i].prediction_id);
	}
	return MS_OK;
}

/* COPY @p n rows (numbered from @p seq0) into ms_actuals_in. */
static ms_status actuals_copy(ms_store *s, const ms_actual *rows, size_t n,
                              uint64_t seq0)
{
	char *buf = ms__malloc(ACTUALS_COPY_BUF);
	size_t used = 0;
	PGresult *res;
	ms_status st;
	int ok = 1;

	if (buf == NULL)
		return ms__err_set(&s->err, MS_ENOMEM, "record actuals: out of "
		                   "memory");
	st = ms__exec(s->conn, &s->err, NULL, PGRES_COPY_IN, "record actuals",
	              "COPY ms_actuals_in (prediction_id, actual_value, seq)"
	              " FROM STDIN", 0, NULL);
	if (st != MS_OK) {
		ms__free(buf);
		return st;
	}
	for (size_t i = 0; i < n && ok; i++) {
		/* 36 + 1 + 24 + 1 + 20 + 1 bytes at most */
		if (ACTUALS_COPY_BUF - used < 128) {
			ok = PQputCopyData(s->conn, buf, (int)used) == 1;
			used = 0;
		}
		used += (size_t)snprintf(buf + used, ACTUALS_COPY_BUF - used,
		                         "%.36s\t%.17g\t%llu\n",
		                         rows[i].prediction_id, rows[i].value,
		                         (unsigned long long)(seq0 + i));
	}
	if (ok && used)
		ok = PQputCopyData(s->conn, buf, (int)used) == 1;
	ms__free(buf);
	if (PQputCopyEnd(s->conn, ok ? NULL : "aborted") != 1 || !ok)
		return ms__err_pg(&s->err, s->conn, NULL, "record actuals");
	res = PQgetResult(s->conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		st = ms__err_pg(&s->err, s->conn, res, "record actuals");
	PQclear(res);
	while ((res = PQgetResult(s->conn)) != NULL)
		PQclear(res);
	return st;
}

/* Append the unmatched ids of @p res (rows with a non-NULL column 1) to
 * @p out. */
static ms_status actuals_collect(ms_store *s, PGresult *res,
                                 ms_actuals_result *out, uint64_t *distinct)
{
	int n = PQntuples(res), bad = 0;
	size_t add = 0, at;
	char *p;

	*distinct = n ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	for (int i = 0; i < n; i++)
		if (!PQgetisnull(res, i, 1)) {
			add += strlen(PQgetvalue(res, i, 1)) + 1;
			bad++;
		}
	out->unmatched += (uint64_t)bad;
	out->matched += *distinct - (uint64_t)bad;
	if (bad == 0)
		return MS_OK;
	p = ms__realloc(out->unmatched_ids.ptr, out->unmatched_ids.size + add + 1);
	if (p == NULL)
		return ms__err_set(&s->err, MS_ENOMEM, "record actuals: out of "
		                   "memory");
	out->unmatched_ids.ptr = p;
	at = out->unmatched_ids.size;
	for (int i = 0; i < n; i++)
		if (!PQgetisnull(res, i, 1))
			at += (size_t)sprintf(p + at, "%s\n", PQgetvalue(res, i, 1));
	p[at] = '\0';
	out->unmatched_ids.size = at;
	return MS_OK;
}

/* One batch, one transaction: COPY, UPDATE, the unmatched ids. */
static ms_status actuals_batch(ms_store *s, const ms_actual *rows, size_t n,
                               uint64_t seq0, ms_actuals_result *out)
{
	PGresult *res = NULL;
	uint64_t distinct = 0;
	ms_status st = ms__store_begin(s, "record actuals");

	/* the DISTINCT ON sort of a batch fits in memory instead of
	 * spilling to disk (the default work_mem is 4 MB) */
	if (st == MS_OK)
		st = ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK,
		              "record actuals", "SET LOCAL work_mem = '64MB'", 0,
		              NULL);
	if (st == MS_OK)
		st = ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK,
		              "record actuals", actuals_tmp_sql, 0, NULL);
	if (st == MS_OK)
		st = actuals_copy(s, rows, n, seq0);
	if (st == MS_OK)
		st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK,
		              "record actuals", actuals_update_sql, 0, NULL);
	if (st == MS_OK)
		st = ms__store_commit(s, "record actuals");
	else
		ms__store_rollback(s);
	if (st == MS_OK) {
		out->rows += n;
		st = actuals_collect(s, res, out, &distinct);
	}
	PQclear(res);
	return st;
}

ms_status ms_store_record_actuals(ms_store *s, const ms_actual *rows,
                                  size_t n, ms_actuals_result *out)
{
	ms_status st;

	MS__STORE_REQUIRE_CONN(s);
	if (out == NULL || (rows == NULL && n > 0))
		return ms__err_set(&s->err, MS_EINVAL, "record actuals: need "
		                   "rows and a result");
	if ((st = actuals_check(s, rows, n)) != MS_OK)
		return st;
	for (size_t at = 0; at < n; at += ACTUALS_BATCH) {
		size_t k = n - at < ACTUALS_BATCH ? n - at : ACTUALS_BATCH;
		st = actuals_batch(s, rows + at, k, out->rows, out);
		if (st != MS_OK)
			return st;
	}
	return MS_OK;
}
