/*
 * partition.c - model_predictions partitioned by day: the in-place
 * conversion of an existing table, partitions created ahead, retention by
 * dropping whole partitions, and a description of what is there.
 *
 * The work is done by the SQL functions of migration 004_partitioning
 * (read that file first); this file runs them in the order and with the
 * transaction boundaries they need.  The conversion's long steps
 * (VALIDATE CONSTRAINT, CREATE INDEX CONCURRENTLY) let writers go on, so
 * loggers keep logging through it; only the final swap takes an ACCESS
 * EXCLUSIVE lock, under a lock_timeout so that a long query ahead of it
 * makes the swap give up and retry instead of queueing every writer
 * behind it.  Every step checks whether it was done already, so an
 * interrupted conversion is finished by running it again.
 */
#include "store.h"

#include "conn.h"
#include "errbuf.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* How far ahead of today the conversion puts its cutoff: rows logged
 * after it are refused by the old table until the swap, so the steps
 * must finish before then.  Two days leave at least one whole day. */
#define CUTOFF_DAYS "2"
/* The swap's wait for its lock, and how many times it tries. */
#define SWAP_LOCK_TIMEOUT "2s"
#define SWAP_TRIES 5

#define MAX_DAYS_AHEAD 3660u
#define MAX_AGE_DAYS 36500u

static ms_status query_bool(ms_store *s, const char *what, const char *sql,
                            bool *out)
{
	PGresult *res;
	ms_status st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, what,
	                        sql, 0, NULL);
	if (st != MS_OK)
		return st;
	*out = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return MS_OK;
}

static ms_status exec_cmd(ms_store *s, const char *what, const char *sql)
{
	return ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK, what, sql, 0,
	                NULL);
}

/* Step 1: a plan whose cutoff is still ahead, and its constraint,
 * validated. */
static ms_status ensure_prepared(ms_store *s)
{
	bool ready;
	ms_status st = query_bool(
		s, "partitions enable: plan",
		"SELECT EXISTS (SELECT 1 FROM modelstore_partition_plan p, "
		"pg_constraint c WHERE c.conrelid = 'model_predictions'::regclass"
		" AND c.conname = 'model_predictions_legacy_range'"
		" AND p.cutoff > localtimestamp + interval '1 hour')",
		&ready);
	if (st != MS_OK)
		return st;
	if (!ready) {
		PGresult *res;
		ms__log(MS_LOG_INFO, "partitions enable: adding the range "
		        "constraint (cutoff in " CUTOFF_DAYS " days)");
		st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK,
		              "partitions enable: prepare",
		              "SELECT modelstore_partition_prepare("
		              "date_trunc('day', localtimestamp) + interval '"
		              CUTOFF_DAYS " days')", 0, NULL);
		if (st != MS_OK)
			return st;
		PQclear(res);
	}
	st = query_bool(s, "partitions enable: plan",
	                "SELECT convalidated FROM pg_constraint WHERE conrelid ="
	                " 'model_predictions'::regclass AND conname ="
	                " 'model_predictions_legacy_range'", &ready);
	if (st != MS_OK || ready)
		return st;
	ms__log(MS_LOG_INFO, "partitions enable: validating the range "
	        "constraint (reads the table; writers go on)");
	st = exec_cmd(s, "partitions enable: validate",
	              "ALTER TABLE model_predictions VALIDATE CONSTRAINT "
	              "model_predictions_legacy_range");
	if (st != MS_OK) {
		char why[512];
		snprintf(why, sizeof why, "%s", ms_store_errmsg(s));
		ms__err_set(&s->err, st,
		            "%s (rows with a NULL prediction_time cannot be "
		            "partitioned: see docs/operations.md)", why);
	}
	return st;
}

/* Step 2: one unique index built without blocking writers.  A build
 * that failed half-way leaves an INVALID index: dropped and built again. */
static ms_status ensure_index(ms_store *s, const char *name,
                              const char *drop_sql, const char *create_sql)
{
	PGresult *res;
	const char *p[1] = { name };
	bool exists, valid;
	ms_status st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK,
	                        "partitions enable: index",
	                        "SELECT i.indisvalid FROM pg_index i JOIN "
	                        "pg_class c ON c.oid = i.indexrelid WHERE "
	                        "c.relname = $1", 1, p);
	if (st != MS_OK)
		return st;
	exists = PQntuples(res) == 1;
	valid = exists && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (valid)
		return MS_OK;
	if (exists) {
		st = exec_cmd(s, "partitions enable: drop invalid index",
		              drop_sql);
		if (st != MS_OK)
			return st;
	}
	ms__log(MS_LOG_INFO, "partitions enable: building index %s "
	        "concurrently (writers go on)", name);
	return exec_cmd(s, "partitions enable: index", create_sql);
}

/* Step 3, in one transaction: the swap (and the partitions ahead).  A
 * lock that cannot be had within SWAP_LOCK_TIMEOUT (SQLSTATE 55P03) is
 * tried again; anything else fails. */
static ms_status swap(ms_store *s, unsigned days_ahead)
{
	char days[16];
	const char *p[1] = { days };
	ms_status st = MS_OK;
	int attempt;

	snprintf(days, sizeof days, "%u", days_ahead);
	for (attempt = 1; attempt <= SWAP_TRIES; attempt++) {
		PGresult *res = NULL;
		bool lock_wait;

		st = ms__store_begin(s, "partitions enable: swap");
		if (st != MS_OK)
			return st;
		st = exec_cmd(s, "partitions enable: swap",
		              "SET LOCAL lock_timeout = '" SWAP_LOCK_TIMEOUT "'");
		if (st == MS_OK) {
			res = PQexecParams(s->conn,
			                   "SELECT modelstore_partition_swap($1::int)",
			                   1, NULL, p, NULL, NULL, 0);
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
				st = ms__err_pg(&s->err, s->conn, res,
				                "partitions enable: swap");
		}
		lock_wait = res != NULL && st != MS_OK &&
		            strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE) ?
		                   PQresultErrorField(res, PG_DIAG_SQLSTATE) : "",
		                   "55P03") == 0;
		PQclear(res);
		if (st == MS_OK)
			return ms__store_commit(s, "partitions enable: swap");
		ms__store_rollback(s);
		if (!lock_wait)
			return st;
		ms__log(MS_LOG_WARN, "partitions enable: the table is busy "
		        "(attempt %d of %d): %s", attempt, SWAP_TRIES,
		        ms_store_errmsg(s));
	}
	return st;
}

/* A conversion that failed after step 1 must not leave its constraint:
 * once the cutoff passed, it would refuse every new row.  Best effort,
 * keeping the first error's message; a failure here is logged, and
 * `modelstore partitions abort` (or enable again) finishes the job. */
static void abort_prepared(ms_store *s)
{
	ms_err keep = s->err;
	PGresult *res = PQexec(s->conn, "SET lock_timeout = '" SWAP_LOCK_TIMEOUT
	                       "'");
	PQclear(res);
	res = PQexec(s->conn, "SELECT modelstore_partition_abort()");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		ms__log(MS_LOG_WARN, "partitions enable: could not remove the "
		        "range constraint; run `modelstore partitions abort`: %s",
		        PQresultErrorMessage(res));
	PQclear(res);
	res = PQexec(s->conn, "RESET lock_timeout");
	PQclear(res);
	s->err = keep;
}

static ms_status check_days_ahead(ms_store *s, unsigned days_ahead)
{
	if (days_ahead > MAX_DAYS_AHEAD)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "partitions: days ahead must be 0 to %u, not %u",
		                   MAX_DAYS_AHEAD, days_ahead);
	return MS_OK;
}

ms_status ms_store_partitions_enable(ms_store *s, unsigned days_ahead)
{
	bool partitioned;
	ms_status st;

	MS__STORE_REQUIRE_CONN(s);
	if ((st = check_days_ahead(s, days_ahead)) != MS_OK)
		return st;
	st = query_bool(s, "partitions enable",
	                "SELECT modelstore_predictions_partitioned()",
	                &partitioned);
	if (st != MS_OK)
		return st;
	if (partitioned) {
		unsigned made;
		return ms_store_partitions_ensure(&made, s, days_ahead);
	}
	st = ensure_prepared(s);
	if (st == MS_OK)
		st = ensure_index(
			s, "model_predictions_legacy_id_time",
			"DROP INDEX CONCURRENTLY model_predictions_legacy_id_time",
			"CREATE UNIQUE INDEX CONCURRENTLY "
			"model_predictions_legacy_id_time ON model_predictions "
			"(id, prediction_time)");
	if (st == MS_OK)
		st = ensure_index(
			s, "model_predictions_legacy_pid_time",
			"DROP INDEX CONCURRENTLY model_predictions_legacy_pid_time",
			"CREATE UNIQUE INDEX CONCURRENTLY "
			"model_predictions_legacy_pid_time ON model_predictions "
			"(prediction_id, prediction_time)");
	if (st == MS_OK)
		st = swap(s, days_ahead);
	if (st != MS_OK && PQstatus(s->conn) == CONNECTION_OK)
		abort_prepared(s);
	return st;
}

ms_status ms_store_partitions_abort(ms_store *s)
{
	PGresult *res;
	ms_status st;

	MS__STORE_REQUIRE_CONN(s);
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK,
	              "partitions abort", "SELECT modelstore_partition_abort()",
	              0, NULL);
	if (st == MS_OK)
		PQclear(res);
	return st;
}

ms_status ms_store_partitions_ensure(unsigned *created, ms_store *s,
                                     unsigned days_ahead)
{
	char days[16];
	const char *p[1] = { days };
	PGresult *res;
	ms_status st;

	if (created == NULL)
		return MS_EINVAL;
	*created = 0;
	MS__STORE_REQUIRE_CONN(s);
	if ((st = check_days_ahead(s, days_ahead)) != MS_OK)
		return st;
	snprintf(days, sizeof days, "%u", days_ahead);
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK,
	              "partitions ensure",
	              "SELECT modelstore_partitions_ensure($1::int)", 1, p);
	if (st != MS_OK)
		return st;
	if (sscanf(PQgetvalue(res, 0, 0), "%u", created) != 1)
		*created = 0;
	PQclear(res);
	return MS_OK;
}

ms_status ms_store_partitions_drop(ms_buf *out, ms_store *s,
                                   unsigned older_than_days, int dry_run)
{
	char days[16];
	const char *p[2] = { days, dry_run ? "t" : "f" };
	PGresult *res;
	ms_status st;

	if (out == NULL)
		return MS_EINVAL;
	MS__STORE_REQUIRE_CONN(s);
	if (older_than_days == 0 || older_than_days > MAX_AGE_DAYS)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "partitions drop: the age must be 1 to %u days,"
		                   " not %u", MAX_AGE_DAYS, older_than_days);
	snprintf(days, sizeof days, "%u", older_than_days);
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK,
	              "partitions drop",
	              "SELECT coalesce(json_agg(n ORDER BY n), '[]')::text FROM "
	              "modelstore_partitions_drop(date_trunc('day', "
	              "localtimestamp) - make_interval(days => $1::int), "
	              "$2::boolean) AS n", 2, p);
	if (st != MS_OK)
		return st;
	st = ms__buf_set(out, PQgetvalue(res, 0, 0),
	                 (size_t)PQgetlength(res, 0, 0));
	PQclear(res);
	return st;
}

ms_status ms_store_partitions_list(ms_buf *out, ms_store *s)
{
	PGresult *res;
	ms_status st;

	if (out == NULL)
		return MS_EINVAL;
	MS__STORE_REQUIRE_CONN(s);
	st = ms__exec(
		s->conn, &s->err, &res, PGRES_TUPLES_OK, "partitions list",
		"SELECT json_build_object("
		" 'partitioned', modelstore_predictions_partitioned(),"
		" 'cutoff', (SELECT to_char(cutoff, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
		"            FROM modelstore_partition_plan),"
		" 'partitions', coalesce((SELECT json_agg(json_build_object("
		"   'name', c.relname,"
		"   'bound', pg_get_expr(c.relpartbound, c.oid),"
		"   'rows_estimate', greatest(c.reltuples, 0)::bigint,"
		"   'bytes', pg_total_relation_size(c.oid))"
		"   ORDER BY c.relname = 'model_predictions_default',"
		"            c.relname <> 'model_predictions_legacy', c.relname)"
		"  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
		"  WHERE i.inhparent = 'model_predictions'::regclass), '[]'))::text",
		0, NULL);
	if (st != MS_OK)
		return st;
	st = ms__buf_set(out, PQgetvalue(res, 0, 0),
	                 (size_t)PQgetlength(res, 0, 0));
	PQclear(res);
	return st;
}
