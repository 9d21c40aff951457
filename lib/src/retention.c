/*
 * retention.c - deleting old prediction rows (ms_store_prune_predictions)
 * in bounded batches: each batch is its own short transaction that locks
 * only the rows it deletes, so loggers and readers never wait long.
 */
#define _GNU_SOURCE
#include "store.h"

#include "conn.h"
#include "errbuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRUNE_BATCH_DEFAULT 10000
#define PRUNE_BATCH_MAX 1000000

/* The cutoff, fixed once: prediction_time is a TIMESTAMP in the server's
 * TimeZone (the writer's clock), so it is compared with localtimestamp;
 * the same instant is returned in UTC for people. */
static const char cutoff_sql[] =
	"SELECT (localtimestamp - make_interval(secs => $1::float8))::text,"
	"       to_char((now() - make_interval(secs => $1::float8))"
	"               AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";

static const char count_sql[] =
	"SELECT count(*) FROM model_predictions"
	" WHERE prediction_time < $1::timestamp"
	"   AND ($2::text IS NULL OR model_name = $2::text)";

/* One batch, in id order from @p $3 on: the primary key walks the table
 * once over all batches (ids grow with time, so the old rows come
 * first), instead of each batch scanning the dead rows of the last. */
static const char batch_sql[] =
	"WITH d AS (DELETE FROM model_predictions WHERE id IN ("
	"    SELECT id FROM model_predictions"
	"     WHERE id > $3::bigint AND prediction_time < $1::timestamp"
	"       AND ($2::text IS NULL OR model_name = $2::text)"
	"     ORDER BY id LIMIT $4::int FOR UPDATE SKIP LOCKED)"
	"  RETURNING id)"
	" SELECT count(*), coalesce(max(id), -1) FROM d";

ms_status ms_store_prune_predictions(ms_prune_result *out, ms_store *s,
                                     const char *model_name,
                                     int64_t older_than_seconds,
                                     size_t batch_rows, int dry_run,
                                     ms_progress_fn progress,
                                     void *progress_payload)
{
	char secs[32], last[32], batch[16], cutoff[64];
	const char *p[4];
	PGresult *res = NULL;
	ms_status st;

	MS__STORE_REQUIRE_CONN(s);
	if (out == NULL)
		return ms__err_set(&s->err, MS_EINVAL, "prune predictions: no "
		                   "result");
	memset(out, 0, sizeof *out);
	if (older_than_seconds < 0 || older_than_seconds > INT64_C(100) * 366 * 86400)
		return ms__err_set(&s->err, MS_EINVAL, "prune predictions: the "
		                   "age must be 0 to 100 years");
	if (batch_rows == 0)
		batch_rows = PRUNE_BATCH_DEFAULT;
	if (batch_rows > PRUNE_BATCH_MAX)
		return ms__err_set(&s->err, MS_EINVAL, "prune predictions: at "
		                   "most %d rows a batch", PRUNE_BATCH_MAX);
	if (model_name && (st = ms__store_check_name(s, &model_name)) != MS_OK)
		return st;
	snprintf(secs, sizeof secs, "%" PRId64, older_than_seconds);
	p[0] = secs;
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK,
	              "prune predictions", cutoff_sql, 1, p);
	if (st != MS_OK)
		return st;
	snprintf(cutoff, sizeof cutoff, "%s", PQgetvalue(res, 0, 0));
	snprintf(out->cutoff, sizeof out->cutoff, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	p[0] = cutoff;
	p[1] = model_name;
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK,
	              "prune predictions", count_sql, 2, p);
	if (st != MS_OK)
		return st;
	out->matched = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (dry_run || out->matched == 0)
		return MS_OK;
	snprintf(last, sizeof last, "-1");
	snprintf(batch, sizeof batch, "%zu", batch_rows);
	p[2] = last;
	p[3] = batch;
	for (;;) {
		uint64_t n;
		/* autocommit: each batch is its own transaction */
		st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK,
		              "prune predictions", batch_sql, 4, p);
		if (st != MS_OK)
			return st;
		n = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
		snprintf(last, sizeof last, "%s", PQgetvalue(res, 0, 1));
		PQclear(res);
		if (n == 0)
			break;
		out->deleted += n;
		out->batches++;
		if (progress)
			progress(progress_payload, out->deleted, out->matched);
	}
	return MS_OK;
}
