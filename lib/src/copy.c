/*
 * copy.c - the prediction logger's sender, run by its writer thread: the
 * connection (with backoff), the binary COPY encoder that turns blobs
 * (blob.h) into a COPY stream for model_predictions (no text formatting
 * on either side), the delivery paths, and the replay of spool files.
 * Also where the writer's counters and last error are published
 * (ms_copy_report).
 *
 * A batch from the queue goes in with one plain COPY.
 *
 *   - COPY fails and the connection is gone (PQstatus bad; the SQLSTATE
 *     may be empty): the outcome is unknown, the COPY may have committed.
 *     The batch is retried on a new connection through the idempotent
 *     path: COPY into a temporary stage table, then
 *     INSERT INTO model_predictions SELECT ... ON CONFLICT DO NOTHING
 *     (the column-less form, which an INSERT-only role may run), one
 *     transaction.  If no connection can be made the caller spools.
 *   - COPY fails with a data error (class 22/23) on a live connection:
 *     nothing was written; the batch is retried idempotently, and if that
 *     fails too it is split in halves until the bad row is alone; that
 *     row is rejected (counted, reported) and the others are written.
 *   - any other error: the connection is dropped and the caller spools.
 *
 * Spooled rows are replayed, oldest file first, always through the
 * idempotent path; a file is unlinked once all its rows are committed.
 */
#include "copy.h"
#include "alloc.h"
#include "blob.h"
#include "conn.h"
#include "util.h"
#include "uuid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ms__copy_report(ms_copy_report *rep, const ms_err *e)
{
	pthread_mutex_lock(&rep->mu);
	rep->err = *e;
	pthread_mutex_unlock(&rep->mu);
}

void ms__copy_vreportf(ms_copy_report *rep, const char *fmt, va_list ap)
{
	pthread_mutex_lock(&rep->mu);
	vsnprintf(rep->err.msg, sizeof rep->err.msg, fmt, ap);
	rep->err.sqlstate[0] = '\0';
	pthread_mutex_unlock(&rep->mu);
}

void ms__copy_reportf(ms_copy_report *rep, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ms__copy_vreportf(rep, fmt, ap);
	va_end(ap);
}

void ms__copy_init(ms_copy *c, ms_copy_report *rep, ms_spool *spool,
                   size_t batch, const char *conninfo, int connect_timeout)
{
	c->rep = rep;
	c->spool = spool;
	c->batch = batch;
	c->conninfo = conninfo;
	c->connect_timeout = connect_timeout;
}

void ms__copy_fini(ms_copy *c)
{
	ms__copy_disconnect(c);
	ms__free(c->buf);
	c->buf = NULL;
}

#define COLS "prediction_id, model_name, model_version, input_features, " \
	"predicted_value, actual_value, confidence_score, prediction_time"
/* Microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01. */
#define PG_EPOCH_US INT64_C(946684800000000)

static void quiet_notice(void *arg, const char *msg)
{
	MS_UNUSED(arg);
	MS_UNUSED(msg);
}

void ms__copy_disconnect(ms_copy *c)
{
	PQfinish(c->conn);
	c->conn = NULL;
	c->stage_ready = false;
}

void ms__copy_connect(ms_copy *c, bool force)
{
	uint64_t now = ms__now_ns();
	PGconn *pc;
	if (c->conn)
		return;
	if (!force && now < c->next_connect_ns)
		return;
	if (ms__connect(&pc, &c->werr, c->conninfo, c->connect_timeout) !=
	    MS_OK) {
		PQfinish(pc);
		ms__copy_report(c->rep, &c->werr);
		c->backoff_ms = ms__backoff_next(c->backoff_ms,
		                                 MS_RECONNECT_BACKOFF_MIN_MS,
		                                 MS_RECONNECT_BACKOFF_MAX_MS);
		c->next_connect_ns = ms__now_ns() + c->backoff_ms * 1000000ull;
		return;
	}
	PQsetNoticeProcessor(pc, quiet_notice, NULL);
	PQsetClientEncoding(pc, "UTF8");
	c->conn = pc;
	c->backoff_ms = 0;
	c->stage_ready = false;
}

static int classify(ms_copy *c, const PGresult *res, const char *what)
{
	const char *ss = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	int r;
	if (ms__pg_is_unreachable(c->conn, res))
		r = MS__COPY_DOWN;
	else if (ss && (strncmp(ss, "22", 2) == 0 || strncmp(ss, "23", 2) == 0))
		r = MS__COPY_DATA;
	else
		r = MS__COPY_OTHER;
	ms__err_pg(&c->werr, c->conn, res, what);
	if (r != MS__COPY_DATA)
		ms__copy_report(c->rep, &c->werr);
	return r;
}

static bool cbuf_reserve(ms_copy *c, size_t more)
{
	if (c->len + more > c->cap) {
		size_t nc = c->cap ? c->cap : 1 << 16;
		unsigned char *nb;
		while (nc < c->len + more)
			nc *= 2;
		nb = ms__realloc(c->buf, nc);
		if (nb == NULL)
			return false;
		c->buf = nb;
		c->cap = nc;
	}
	return true;
}

static void be16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void be64(unsigned char *p, uint64_t v)
{
	be32(p, (uint32_t)(v >> 32));
	be32(p + 4, (uint32_t)v);
}

static unsigned char *put_f8(unsigned char *q, double d, bool null_if_nan)
{
	uint64_t u;
	if (null_if_nan && isnan(d)) {
		be32(q, 0xFFFFFFFFu);
		return q + 4;
	}
	memcpy(&u, &d, 8);
	be32(q, 8);
	be64(q + 4, u);
	return q + 12;
}

static unsigned char *put_bytes(unsigned char *q, const void *d, uint32_t n)
{
	be32(q, n);
	memcpy(q + 4, d, n);
	return q + 4 + n;
}

/* Build the binary COPY stream for @p recs.  Malformed blobs (only
 * possible from a damaged spool) are skipped and counted.  Returns the
 * number of rows encoded, or -1 on out of memory. */
static long build_copy(ms_copy *c, const ms_spool_rec *recs, size_t n)
{
	static const unsigned char sig[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
	long rows = 0;
	c->len = 0;
	if (!cbuf_reserve(c, 21))
		return -1;
	memcpy(c->buf, sig, 19);
	c->len = 19;
	for (size_t i = 0; i < n; i++) {
		ms_blob v;
		unsigned char *q;
		if (!ms__blob_parse(recs[i].data, recs[i].len, &v)) {
			MS__COUNT(c->rep, spool_corrupt, 1);
			ms__copy_reportf(c->rep, "spool: a record with a valid "
			                 "checksum but a malformed row was skipped");
			continue;
		}
		if (!cbuf_reserve(c, 2 + 8 * 4 + 16 + 1 + 3 * 8 + 8 + v.nl +
		                          v.vl + v.fl + 2))
			return -1;
		q = c->buf + c->len;
		be16(q, 8);
		q += 2;
		q = put_bytes(q, v.uuid, 16);
		q = put_bytes(q, v.name, v.nl);
		q = put_bytes(q, v.ver, v.vl);
		be32(q, v.fl + 1);
		q[4] = 1; /* jsonb binary format version */
		memcpy(q + 5, v.feat, v.fl);
		q += 5 + v.fl;
		q = put_f8(q, v.pred, false);
		q = put_f8(q, v.actual, true);
		q = put_f8(q, v.conf, true);
		be32(q, 8);
		be64(q + 4, (uint64_t)(v.time_us - PG_EPOCH_US));
		q += 12;
		c->len = (size_t)(q - c->buf);
		rows++;
	}
	be16(c->buf + c->len, 0xFFFF);
	c->len += 2;
	return rows;
}

/* Run one COPY ... FROM STDIN with the built buffer.  On success
 * *tuples receives the row count. */
static int run_copy(ms_copy *c, const char *sql, uint64_t *tuples)
{
	PGresult *res = PQexec(c->conn, sql);
	int r = MS__COPY_OK;
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		r = classify(c, res, "predictions: COPY");
		PQclear(res);
		return r;
	}
	PQclear(res);
	if (PQputCopyData(c->conn, (const char *)c->buf, (int)c->len) != 1 ||
	    PQputCopyEnd(c->conn, NULL) != 1) {
		ms__err_pg(&c->werr, c->conn, NULL, "predictions: COPY");
		ms__copy_report(c->rep, &c->werr);
		/* the outcome is unknown: treat the connection as gone */
		while ((res = PQgetResult(c->conn)) != NULL)
			PQclear(res);
		return MS__COPY_DOWN;
	}
	res = PQgetResult(c->conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		r = classify(c, res, "predictions: COPY");
	else if (tuples)
		*tuples = strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	while ((res = PQgetResult(c->conn)) != NULL) {
		if (r == MS__COPY_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
			r = classify(c, res, "predictions: COPY");
		PQclear(res);
	}
	return r;
}

static int exec_simple(ms_copy *c, const char *sql, const char *what,
                       uint64_t *tuples)
{
	PGresult *res = PQexec(c->conn, sql);
	int r = MS__COPY_OK;
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		r = classify(c, res, what);
	else if (tuples)
		*tuples = strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return r;
}

/* The built stream through the stage table: create it once per
 * connection, then COPY into it and INSERT ... ON CONFLICT DO NOTHING in
 * one transaction, rolled back on any failure. */
static int send_staged(ms_copy *c, uint64_t *inserted)
{
	int r;
	if (!c->stage_ready) {
		r = exec_simple(c, "CREATE TEMP TABLE IF NOT EXISTS "
		                "ms_predlog_stage (prediction_id uuid, model_name "
		                "text, model_version varchar(50), input_features "
		                "jsonb, predicted_value float8, actual_value float8, "
		                "confidence_score float8, prediction_time timestamp)"
		                " ON COMMIT DELETE ROWS", "predictions: stage table",
		                NULL);
		if (r != MS__COPY_OK)
			return r == MS__COPY_DATA ? MS__COPY_OTHER : r;
		c->stage_ready = true;
	}
	r = exec_simple(c, "BEGIN", "predictions: BEGIN", NULL);
	if (r == MS__COPY_OK)
		r = run_copy(c, "COPY ms_predlog_stage (" COLS ") FROM STDIN "
		             "(FORMAT binary)", NULL);
	if (r == MS__COPY_OK)
		r = exec_simple(c, "INSERT INTO model_predictions (" COLS ") "
		                "SELECT " COLS " FROM ms_predlog_stage "
		                "ON CONFLICT DO NOTHING", "predictions: INSERT",
		                inserted);
	if (r == MS__COPY_OK)
		r = exec_simple(c, "COMMIT", "predictions: COMMIT", NULL);
	if (r != MS__COPY_OK) {
		*inserted = 0;
		if (PQstatus(c->conn) == CONNECTION_OK) {
			PGresult *res = PQexec(c->conn, "ROLLBACK");
			PQclear(res);
		}
		return r;
	}
	MS__COUNT(c->rep, batches, 1);
	return MS__COPY_OK;
}

/* Send @p n rows.  @p idem selects the idempotent path. */
static int send_rows(ms_copy *c, const ms_spool_rec *recs, size_t n,
                     bool idem, uint64_t *inserted)
{
	long rows;
	int r;
	*inserted = 0;
	if (c->conn == NULL)
		return MS__COPY_DOWN;
	rows = build_copy(c, recs, n);
	if (rows < 0) {
		ms__copy_reportf(c->rep, "predictions: out of memory building a "
		                 "batch");
		return MS__COPY_OTHER;
	}
	if (rows == 0)
		return MS__COPY_OK;
	if (idem)
		return send_staged(c, inserted);
	r = run_copy(c, "COPY model_predictions (" COLS ") FROM STDIN "
	             "(FORMAT binary)", inserted);
	if (r == MS__COPY_OK)
		MS__COUNT(c->rep, batches, 1);
	return r;
}

/* Idempotent delivery with bisection of data errors. */
int ms__copy_put_idem(ms_copy *c, const ms_spool_rec *recs, size_t n)
{
	uint64_t ins = 0;
	int r = send_rows(c, recs, n, true, &ins);
	if (r == MS__COPY_OK) {
		MS__COUNT(c->rep, written, ins);
		return MS__COPY_OK;
	}
	if (r != MS__COPY_DATA)
		return r;
	if (n == 1) {
		ms_blob v;
		char id[MS_UUID_STRLEN] = "?";
		if (ms__blob_parse(recs[0].data, recs[0].len, &v))
			ms__uuid_format(id, v.uuid);
		MS__COUNT(c->rep, rejected, 1);
		ms__copy_reportf(c->rep, "predictions: row %s rejected by the "
		                 "server: %s", id, c->werr.msg);
		return MS__COPY_OK;
	}
	r = ms__copy_put_idem(c, recs, n / 2);
	if (r != MS__COPY_OK)
		return r;
	return ms__copy_put_idem(c, recs + n / 2, n - n / 2);
}

/* Deliver a batch from the queue: fast COPY first. */
int ms__copy_deliver(ms_copy *c, const ms_spool_rec *recs, size_t n)
{
	uint64_t ins = 0;
	int r;
	ms__copy_connect(c, false);
	if (c->conn == NULL)
		return MS__COPY_DOWN;
	r = send_rows(c, recs, n, false, &ins);
	if (r == MS__COPY_OK) {
		MS__COUNT(c->rep, written, ins);
		return MS__COPY_OK;
	}
	if (r == MS__COPY_DOWN) {
		/* Outcome unknown: it may have committed.  Reconnect at once and
		 * retry through the idempotent path. */
		ms__copy_disconnect(c);
		MS__COUNT(c->rep, retries, 1);
		ms__copy_connect(c, true);
		if (c->conn == NULL)
			return MS__COPY_DOWN;
	} else if (r == MS__COPY_OTHER) {
		ms__copy_disconnect(c);
		return MS__COPY_OTHER;
	} else {
		MS__COUNT(c->rep, retries, 1);
	}
	r = ms__copy_put_idem(c, recs, n);
	if (r == MS__COPY_DOWN || r == MS__COPY_OTHER)
		ms__copy_disconnect(c);
	return r;
}

/* Report what the scan of @p f found damaged. */
static void report_damage(ms_copy *c, const ms_spool_file *f)
{
	if (f->info.corrupt) {
		MS__COUNT(c->rep, spool_corrupt, f->info.corrupt);
		ms__copy_reportf(c->rep, "spool: \"%s\": %zu corrupt record "
		                 "region(s) skipped (%zu bytes)", f->path,
		                 f->info.corrupt, f->info.corrupt_bytes);
	}
	if (f->info.torn)
		ms__copy_reportf(c->rep, "spool: \"%s\": torn last record "
		                 "dropped (%zu bytes)", f->path,
		                 f->info.torn_bytes);
}

/* Replay the spool file @p name, batch_size rows at a time, and unlink
 * it when all went in.  A file another live process holds sets
 * *foreign and is skipped, like one that vanished or is no spool file.
 * MS__COPY_OK unless a send or the load failed. */
static int replay_file(ms_copy *c, const char *name, bool *foreign)
{
	ms_spool_file *f = NULL;
	ms_status st = ms__spool_load(c->spool, &c->werr, name, &f);
	int r = MS__COPY_OK;
	if (st == MS_EEXISTS) {
		*foreign = true;
		return MS__COPY_OK;
	}
	if (st == MS_ENOTFOUND)
		return MS__COPY_OK;
	if (st != MS_OK) {
		ms__copy_report(c->rep, &c->werr);
		return MS__COPY_OTHER;
	}
	if (f->info.bad_header) {
		ms__copy_reportf(c->rep, "spool: \"%s\" is not a spool file; "
		                 "left in place", f->path);
		ms__spool_release(c->spool, f, false);
		return MS__COPY_OK;
	}
	report_damage(c, f);
	for (size_t off = 0; off < f->nrecs && r == MS__COPY_OK;
	     off += c->batch) {
		size_t k = f->nrecs - off < c->batch ? f->nrecs - off : c->batch;
		r = ms__copy_put_idem(c, f->recs + off, k);
	}
	if (r == MS__COPY_OK)
		MS__COUNT(c->rep, replayed, f->nrecs);
	ms__spool_release(c->spool, f, r == MS__COPY_OK);
	return r;
}

/* Replay every spool file we can lock.  MS__COPY_OK when all went in. */
static int replay_spool(ms_copy *c)
{
	char **names = NULL;
	size_t n = 0, i;
	int r = MS__COPY_OK;
	bool foreign = false;

	ms__spool_set_pending(c->spool, false);
	ms__spool_rotate(c->spool);
	if (ms__spool_list(c->spool, &c->werr, &names, &n) != MS_OK) {
		ms__copy_report(c->rep, &c->werr);
		ms__spool_set_pending(c->spool, true);
		return MS__COPY_OTHER;
	}
	for (i = 0; i < n && r == MS__COPY_OK; i++)
		r = replay_file(c, names[i], &foreign);
	ms__spool_names_free(names, n);
	if (r != MS__COPY_OK) {
		ms__copy_disconnect(c);
		ms__spool_set_pending(c->spool, true);
	}
	c->foreign_files = foreign;
	c->next_foreign_ns = ms__now_ns() + 2000000000ull;
	return r;
}

void ms__copy_replay(ms_copy *c, bool force)
{
	if (c->conn == NULL)
		return;
	if (ms__spool_pending(c->spool) ||
	    (c->foreign_files && (force || ms__now_ns() >= c->next_foreign_ns)))
		replay_spool(c);
}
