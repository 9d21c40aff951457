/*
 * copy.c - the prediction logger's sender, run by its writer thread: the
 * connection (with backoff), the binary COPY encoder that turns blobs
 * (blob.h) into a COPY stream for model_predictions (no text formatting
 * on either side), the delivery paths, and the replay of spool files.
 * Also where the writer's counters and last error are published
 * (ms_copy_report).
 *
 * A batch from the queue goes in with one plain COPY, streamed in
 * CopyData messages of at most ms__copy_msg_max bytes (512 KiB): the
 * server drops a connection that sends one message over 1 GiB, so a
 * batch built as one message could never go in (issue 9).
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

size_t ms__copy_msg_max = 512u << 10;
size_t ms__copy_batch_max = 64u << 20;
_Atomic size_t ms__copy_sent_msg_max, ms__copy_sent_batch_max;

static void note_max(_Atomic size_t *m, size_t v)
{
	size_t cur = atomic_load_explicit(m, memory_order_relaxed);
	while (v > cur && !atomic_compare_exchange_weak_explicit(
	                          m, &cur, v, memory_order_relaxed,
	                          memory_order_relaxed))
		;
}

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
	c->msg_max = ms__copy_msg_max >= 64 ? ms__copy_msg_max : 64;
	c->batch_max = ms__copy_batch_max ? ms__copy_batch_max : 1;
}

size_t ms__copy_batch_len(const ms_spool_rec *recs, size_t n,
                          size_t max_rows, size_t max_bytes)
{
	size_t k = 0, bytes = 0;
	while (k < n && k < max_rows &&
	       (k == 0 || bytes + recs[k].len <= max_bytes))
		bytes += recs[k++].len;
	return k;
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

/* The stream goes out in CopyData messages of at most c->msg_max bytes,
 * each sent as it fills: a batch, or a row, of any size never makes one
 * protocol message past the server's 1 GiB limit, and the client holds
 * one message, not the whole stream. */
static bool out_flush(ms_copy *c)
{
	if (c->len == 0)
		return true;
	note_max(&ms__copy_sent_msg_max, c->len);
	if (PQputCopyData(c->conn, (const char *)c->buf, (int)c->len) != 1)
		return false;
	c->len = 0;
	return true;
}

static bool out_put(ms_copy *c, const void *p, size_t n)
{
	const unsigned char *s = p;
	while (n > 0) {
		size_t k = c->cap - c->len < n ? c->cap - c->len : n;
		memcpy(c->buf + c->len, s, k);
		c->len += k;
		s += k;
		n -= k;
		if (c->len == c->cap && !out_flush(c))
			return false;
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

/* One row of the binary COPY stream: the field count and each field's
 * length word and bytes; the variable fields go straight from the blob. */
static bool put_row(ms_copy *c, const ms_blob *v)
{
	unsigned char h[26], t[48], *q = t;
	be16(h, 8);
	be32(h + 2, 16);
	memcpy(h + 6, v->uuid, 16);
	be32(h + 22, v->nl);
	if (!out_put(c, h, 26) || !out_put(c, v->name, v->nl))
		return false;
	be32(h, v->vl);
	if (!out_put(c, h, 4) || !out_put(c, v->ver, v->vl))
		return false;
	be32(h, v->fl + 1);
	h[4] = 1; /* jsonb binary format version */
	if (!out_put(c, h, 5) || !out_put(c, v->feat, v->fl))
		return false;
	q = put_f8(q, v->pred, false);
	q = put_f8(q, v->actual, true);
	q = put_f8(q, v->conf, true);
	be32(q, 8);
	be64(q + 4, (uint64_t)(v->time_us - PG_EPOCH_US));
	q += 12;
	return out_put(c, t, (size_t)(q - t));
}

/* How many of @p recs are well formed.  Malformed blobs (only possible
 * from a damaged spool) are counted and reported here, and skipped by
 * stream_rows. */
static size_t count_good(ms_copy *c, const ms_spool_rec *recs, size_t n)
{
	size_t good = 0;
	for (size_t i = 0; i < n; i++) {
		ms_blob v;
		if (ms__blob_parse(recs[i].data, recs[i].len, &v)) {
			good++;
			continue;
		}
		MS__COUNT(c->rep, spool_corrupt, 1);
		ms__copy_reportf(c->rep, "spool: a record with a valid checksum "
		                 "but a malformed row was skipped");
	}
	return good;
}

/* Send @p recs as the binary COPY stream (signature, rows, trailer), in
 * bounded messages.  false when libpq could not send. */
static bool stream_rows(ms_copy *c, const ms_spool_rec *recs, size_t n)
{
	static const unsigned char sig[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
	static const unsigned char trailer[2] = { 0xFF, 0xFF };
	c->len = 0;
	if (!out_put(c, sig, 19))
		return false;
	for (size_t i = 0; i < n; i++) {
		ms_blob v;
		if (ms__blob_parse(recs[i].data, recs[i].len, &v) &&
		    !put_row(c, &v))
			return false;
	}
	return out_put(c, trailer, 2) && out_flush(c);
}

/* Run one COPY ... FROM STDIN of @p recs.  On success *tuples receives
 * the row count. */
static int run_copy(ms_copy *c, const char *sql, const ms_spool_rec *recs,
                    size_t n, uint64_t *tuples)
{
	PGresult *res = PQexec(c->conn, sql);
	int r = MS__COPY_OK;
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		r = classify(c, res, "predictions: COPY");
		PQclear(res);
		return r;
	}
	PQclear(res);
	if (!stream_rows(c, recs, n) || PQputCopyEnd(c->conn, NULL) != 1) {
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

/* The rows through the stage table: in one transaction, create it when
 * this server connection lacks it, COPY into it and INSERT ... ON
 * CONFLICT DO NOTHING, rolled back on any failure.  The CREATE is inside
 * the transaction, every time: behind PgBouncer in transaction mode the
 * transaction may run on a server connection other than the one that
 * created the table earlier (IF NOT EXISTS makes it a no-op otherwise). */
static int send_staged(ms_copy *c, const ms_spool_rec *recs, size_t n,
                       uint64_t *inserted)
{
	int r = exec_simple(c, "BEGIN", "predictions: BEGIN", NULL);
	if (r == MS__COPY_OK) {
		r = exec_simple(c, "CREATE TEMP TABLE IF NOT EXISTS "
		                "ms_predlog_stage (prediction_id uuid, model_name "
		                "text, model_version varchar(50), input_features "
		                "jsonb, predicted_value float8, actual_value float8, "
		                "confidence_score float8, prediction_time timestamp)"
		                " ON COMMIT DELETE ROWS", "predictions: stage table",
		                NULL);
		if (r == MS__COPY_DATA)
			r = MS__COPY_OTHER;
	}
	if (r == MS__COPY_OK)
		r = run_copy(c, "COPY ms_predlog_stage (" COLS ") FROM STDIN "
		             "(FORMAT binary)", recs, n, NULL);
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
	int r;
	*inserted = 0;
	if (c->conn == NULL)
		return MS__COPY_DOWN;
	if (c->buf == NULL) {
		c->buf = ms__malloc(c->msg_max);
		if (c->buf == NULL) {
			ms__copy_reportf(c->rep, "predictions: out of memory "
			                 "building a batch");
			return MS__COPY_OTHER;
		}
		c->cap = c->msg_max;
	}
	if (count_good(c, recs, n) == 0)
		return MS__COPY_OK;
	{
		size_t bytes = 0;
		for (size_t i = 0; i < n; i++)
			bytes += recs[i].len;
		note_max(&ms__copy_sent_batch_max, bytes);
	}
	if (idem)
		return send_staged(c, recs, n, inserted);
	r = run_copy(c, "COPY model_predictions (" COLS ") FROM STDIN "
	             "(FORMAT binary)", recs, n, inserted);
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

/* Replay the spool file @p name in batches of at most batch_size rows
 * and batch_max bytes (one row more when it alone is larger), and unlink
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
	if (f->info.bad_version) {
		ms__copy_reportf(c->rep, "spool: \"%s\" is spool format version "
		                 "%c; this modelstore reads versions 1 and %d only, "
		                 "so it is left in place.  Replay it with the "
		                 "modelstore that wrote it (modelstore predictions "
		                 "import --spool-dir DIR < /dev/null), or move it "
		                 "out of the spool directory", f->path,
		                 f->info.bad_version, MS__SPOOL_VERSION);
		ms__spool_release(c->spool, f, false);
		return MS__COPY_OK;
	}
	report_damage(c, f);
	for (size_t off = 0, k; off < f->nrecs && r == MS__COPY_OK;
	     off += k) {
		k = ms__copy_batch_len(f->recs + off, f->nrecs - off, c->batch,
		                       c->batch_max);
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
