/*
 * predlog.c - the prediction logger.
 *
 * The caller's side (ms_predlog_log) validates the row, packs it into one
 * small allocation (a "blob": fixed header + name + version + features)
 * and pushes the pointer onto a mutex-protected ring.  It never touches
 * the network and does no I/O unless the ring is full, in which case the
 * blob is appended to the spool (one write(), fsync'd by the writer
 * within a flush interval).
 *
 * One writer thread takes up to batch_size rows at a time (sooner on
 * flush_interval or flush()) and sends them with one binary COPY into
 * model_predictions: no text formatting on either side.  Every row
 * carries its client-generated UUIDv7 prediction_id, unique in the table.
 *
 *   - COPY fails and the connection is gone (PQstatus bad; the SQLSTATE
 *     may be empty): the outcome is unknown, the COPY may have committed.
 *     The batch is retried on a new connection through the idempotent
 *     path: COPY into a temporary stage table, then
 *     INSERT INTO model_predictions SELECT ... ON CONFLICT DO NOTHING
 *     (the column-less form, which an INSERT-only role may run), one
 *     transaction.  If no connection can be made the batch is spooled.
 *   - COPY fails with a data error (class 22/23) on a live connection:
 *     nothing was written; the batch is retried idempotently, and if that
 *     fails too it is split in halves until the bad row is alone; that
 *     row is rejected (counted, reported) and the others are written.
 *   - any other error (permissions, missing table, disk full): the batch
 *     is spooled and the writer backs off, so no row is lost.
 *
 * Spooled rows are replayed, oldest file first, always through the
 * idempotent path, whenever the writer is connected and the spool has
 * something; a file is unlinked once all its rows are committed.
 */
#define _GNU_SOURCE
#include "alloc.h"
#include "blob.h"
#include "conn.h"
#include "errbuf.h"
#include "json_check.h"
#include "spool.h"
#include "util.h"
#include "uuid.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ */
/* queued rows                                                         */
/* ------------------------------------------------------------------ */

#define FEATURES_MAX (16u << 20)

/* One queued prediction: its blob (blob.h) and the blob's length. */
typedef struct row {
	uint32_t len;
	uint32_t pad;
	unsigned char blob[];
} row;

/* ------------------------------------------------------------------ */
/* the handle                                                          */
/* ------------------------------------------------------------------ */

struct ms_predlog {
	char *conninfo;
	char *spool_dir;
	size_t cap, batch;
	unsigned interval_ms;
	int connect_timeout;
	ms_spool *spool;

	pthread_mutex_t mu;
	pthread_cond_t wake, done;
	row **ring;
	size_t head, count;
	uint64_t enq_seq, done_seq, flush_gen, acked_gen;
	bool closing, started, failed;
	pthread_t thread;

	pthread_mutex_t err_mu;
	ms_err err;

	_Atomic uint64_t accepted, written, spooled, replayed, rejected,
		dropped_full, spool_corrupt, batches, retries, lost;

	/* writer thread only */
	PGconn *conn;
	bool stage_ready;
	uint64_t next_connect_ns;
	unsigned backoff_ms;
	bool close_connect_tried;
	bool foreign_files;
	uint64_t next_foreign_ns;
	unsigned char *cbuf;
	size_t ccap, clen;
	ms_spool_rec *wrecs;
	row **wrows;
	ms_err werr;
};

#define CNT_ADD(pl, f, n) atomic_fetch_add_explicit(&(pl)->f, (uint64_t)(n), \
                                                    memory_order_relaxed)

static void set_error(ms_predlog *pl, const ms_err *e)
{
	pthread_mutex_lock(&pl->err_mu);
	pl->err = *e;
	pthread_mutex_unlock(&pl->err_mu);
}

static void set_errorf(ms_predlog *pl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_errorf(ms_predlog *pl, const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&pl->err_mu);
	va_start(ap, fmt);
	vsnprintf(pl->err.msg, sizeof pl->err.msg, fmt, ap);
	va_end(ap);
	pl->err.sqlstate[0] = '\0';
	pthread_mutex_unlock(&pl->err_mu);
}

ms_status ms_predlog_options_init(ms_predlog_options *o, unsigned int v)
{
	ms_predlog_options d = MS_PREDLOG_OPTIONS_INIT;
	if (o == NULL || v != MS_PREDLOG_OPTIONS_VERSION)
		return MS_EINVAL;
	*o = d;
	return MS_OK;
}

/* ------------------------------------------------------------------ */
/* writer: database side                                               */
/* ------------------------------------------------------------------ */

#define COLS "prediction_id, model_name, model_version, input_features, " \
	"predicted_value, actual_value, confidence_score, prediction_time"
/* Microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01. */
#define PG_EPOCH_US INT64_C(946684800000000)

enum { R_OK = 0, R_DOWN, R_DATA, R_OTHER };

static void quiet_notice(void *arg, const char *msg)
{
	MS_UNUSED(arg);
	MS_UNUSED(msg);
}

static void drop_conn(ms_predlog *pl)
{
	PQfinish(pl->conn);
	pl->conn = NULL;
	pl->stage_ready = false;
}

static void try_connect(ms_predlog *pl, bool force)
{
	uint64_t now = ms__now_ns();
	PGconn *c;
	if (pl->conn)
		return;
	if (!force && now < pl->next_connect_ns)
		return;
	if (ms__connect(&c, &pl->werr, pl->conninfo, pl->connect_timeout) !=
	    MS_OK) {
		PQfinish(c);
		set_error(pl, &pl->werr);
		pl->backoff_ms = pl->backoff_ms ? pl->backoff_ms * 2 : 100;
		if (pl->backoff_ms > 2000)
			pl->backoff_ms = 2000;
		pl->next_connect_ns = ms__now_ns() + pl->backoff_ms * 1000000ull;
		return;
	}
	PQsetNoticeProcessor(c, quiet_notice, NULL);
	PQsetClientEncoding(c, "UTF8");
	pl->conn = c;
	pl->backoff_ms = 0;
	pl->stage_ready = false;
}

static int classify(ms_predlog *pl, const PGresult *res, const char *what)
{
	const char *ss = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	int r;
	if (ms__pg_is_unreachable(pl->conn, res))
		r = R_DOWN;
	else if (ss && (strncmp(ss, "22", 2) == 0 || strncmp(ss, "23", 2) == 0))
		r = R_DATA;
	else
		r = R_OTHER;
	ms__err_pg(&pl->werr, pl->conn, res, what);
	if (r != R_DATA)
		set_error(pl, &pl->werr);
	return r;
}

static bool cbuf_reserve(ms_predlog *pl, size_t more)
{
	if (pl->clen + more > pl->ccap) {
		size_t nc = pl->ccap ? pl->ccap : 1 << 16;
		unsigned char *nb;
		while (nc < pl->clen + more)
			nc *= 2;
		nb = ms__realloc(pl->cbuf, nc);
		if (nb == NULL)
			return false;
		pl->cbuf = nb;
		pl->ccap = nc;
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
static long build_copy(ms_predlog *pl, const ms_spool_rec *recs, size_t n)
{
	static const unsigned char sig[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
	long rows = 0;
	pl->clen = 0;
	if (!cbuf_reserve(pl, 21))
		return -1;
	memcpy(pl->cbuf, sig, 19);
	pl->clen = 19;
	for (size_t i = 0; i < n; i++) {
		ms_blob v;
		unsigned char *q;
		if (!ms__blob_parse(recs[i].data, recs[i].len, &v)) {
			CNT_ADD(pl, spool_corrupt, 1);
			set_errorf(pl, "spool: a record with a valid checksum but a "
			           "malformed row was skipped");
			continue;
		}
		if (!cbuf_reserve(pl, 2 + 8 * 4 + 16 + 1 + 3 * 8 + 8 + v.nl +
		                          v.vl + v.fl + 2))
			return -1;
		q = pl->cbuf + pl->clen;
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
		pl->clen = (size_t)(q - pl->cbuf);
		rows++;
	}
	be16(pl->cbuf + pl->clen, 0xFFFF);
	pl->clen += 2;
	return rows;
}

/* Run one COPY ... FROM STDIN with the built buffer.  On success
 * *tuples receives the row count. */
static int run_copy(ms_predlog *pl, const char *sql, uint64_t *tuples)
{
	PGresult *res = PQexec(pl->conn, sql);
	int r = R_OK;
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		r = classify(pl, res, "predictions: COPY");
		PQclear(res);
		return r;
	}
	PQclear(res);
	if (PQputCopyData(pl->conn, (const char *)pl->cbuf, (int)pl->clen) != 1 ||
	    PQputCopyEnd(pl->conn, NULL) != 1) {
		ms__err_pg(&pl->werr, pl->conn, NULL, "predictions: COPY");
		set_error(pl, &pl->werr);
		/* the outcome is unknown: treat the connection as gone */
		while ((res = PQgetResult(pl->conn)) != NULL)
			PQclear(res);
		return R_DOWN;
	}
	res = PQgetResult(pl->conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		r = classify(pl, res, "predictions: COPY");
	else if (tuples)
		*tuples = strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	while ((res = PQgetResult(pl->conn)) != NULL) {
		if (r == R_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
			r = classify(pl, res, "predictions: COPY");
		PQclear(res);
	}
	return r;
}

static int exec_simple(ms_predlog *pl, const char *sql, const char *what,
                       uint64_t *tuples)
{
	PGresult *res = PQexec(pl->conn, sql);
	int r = R_OK;
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		r = classify(pl, res, what);
	else if (tuples)
		*tuples = strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return r;
}

/* Send @p n rows.  @p idem selects the idempotent path. */
static int send_rows(ms_predlog *pl, const ms_spool_rec *recs, size_t n,
                     bool idem, uint64_t *inserted)
{
	long rows;
	int r;
	*inserted = 0;
	if (pl->conn == NULL)
		return R_DOWN;
	rows = build_copy(pl, recs, n);
	if (rows < 0) {
		set_errorf(pl, "predictions: out of memory building a batch");
		return R_OTHER;
	}
	if (rows == 0)
		return R_OK;
	if (!idem) {
		r = run_copy(pl, "COPY model_predictions (" COLS ") FROM STDIN "
		             "(FORMAT binary)", inserted);
		if (r == R_OK)
			CNT_ADD(pl, batches, 1);
		return r;
	}
	if (!pl->stage_ready) {
		r = exec_simple(pl, "CREATE TEMP TABLE IF NOT EXISTS "
		                "ms_predlog_stage (prediction_id uuid, model_name "
		                "text, model_version varchar(50), input_features "
		                "jsonb, predicted_value float8, actual_value float8, "
		                "confidence_score float8, prediction_time timestamp)"
		                " ON COMMIT DELETE ROWS", "predictions: stage table",
		                NULL);
		if (r != R_OK)
			return r == R_DATA ? R_OTHER : r;
		pl->stage_ready = true;
	}
	r = exec_simple(pl, "BEGIN", "predictions: BEGIN", NULL);
	if (r == R_OK)
		r = run_copy(pl, "COPY ms_predlog_stage (" COLS ") FROM STDIN "
		             "(FORMAT binary)", NULL);
	if (r == R_OK)
		r = exec_simple(pl, "INSERT INTO model_predictions (" COLS ") "
		                "SELECT " COLS " FROM ms_predlog_stage "
		                "ON CONFLICT DO NOTHING", "predictions: INSERT",
		                inserted);
	if (r == R_OK)
		r = exec_simple(pl, "COMMIT", "predictions: COMMIT", NULL);
	if (r != R_OK) {
		*inserted = 0;
		if (PQstatus(pl->conn) == CONNECTION_OK) {
			PGresult *res = PQexec(pl->conn, "ROLLBACK");
			PQclear(res);
		}
		return r;
	}
	CNT_ADD(pl, batches, 1);
	return R_OK;
}

/* Idempotent delivery with bisection of data errors. */
static int put_idem(ms_predlog *pl, const ms_spool_rec *recs, size_t n)
{
	uint64_t ins = 0;
	int r = send_rows(pl, recs, n, true, &ins);
	if (r == R_OK) {
		CNT_ADD(pl, written, ins);
		return R_OK;
	}
	if (r != R_DATA)
		return r;
	if (n == 1) {
		ms_blob v;
		char id[MS_UUID_STRLEN] = "?";
		if (ms__blob_parse(recs[0].data, recs[0].len, &v))
			ms__uuid_format(id, v.uuid);
		CNT_ADD(pl, rejected, 1);
		set_errorf(pl, "predictions: row %s rejected by the server: %s", id,
		           pl->werr.msg);
		return R_OK;
	}
	r = put_idem(pl, recs, n / 2);
	if (r != R_OK)
		return r;
	return put_idem(pl, recs + n / 2, n - n / 2);
}

/* Deliver a batch from the queue: fast COPY first. */
static int deliver(ms_predlog *pl, const ms_spool_rec *recs, size_t n)
{
	uint64_t ins = 0;
	int r;
	try_connect(pl, false);
	if (pl->conn == NULL)
		return R_DOWN;
	r = send_rows(pl, recs, n, false, &ins);
	if (r == R_OK) {
		CNT_ADD(pl, written, ins);
		return R_OK;
	}
	if (r == R_DOWN) {
		/* Outcome unknown: it may have committed.  Reconnect at once and
		 * retry through the idempotent path. */
		drop_conn(pl);
		CNT_ADD(pl, retries, 1);
		try_connect(pl, true);
		if (pl->conn == NULL)
			return R_DOWN;
	} else if (r == R_OTHER) {
		drop_conn(pl);
		return R_OTHER;
	} else {
		CNT_ADD(pl, retries, 1);
	}
	r = put_idem(pl, recs, n);
	if (r == R_DOWN || r == R_OTHER)
		drop_conn(pl);
	return r;
}

/* ------------------------------------------------------------------ */
/* writer: spool replay                                                */
/* ------------------------------------------------------------------ */

/* Replay every spool file we can lock.  R_OK when all went in. */
static int replay_spool(ms_predlog *pl)
{
	char **names = NULL;
	size_t n = 0, i;
	int r = R_OK;
	bool foreign = false;

	ms__spool_set_pending(pl->spool, false);
	ms__spool_rotate(pl->spool);
	if (ms__spool_list(pl->spool, &pl->werr, &names, &n) != MS_OK) {
		set_error(pl, &pl->werr);
		ms__spool_set_pending(pl->spool, true);
		return R_OTHER;
	}
	for (i = 0; i < n && r == R_OK; i++) {
		ms_spool_file *f = NULL;
		ms_status st = ms__spool_load(pl->spool, &pl->werr, names[i], &f);
		size_t off;
		if (st == MS_EEXISTS) {
			foreign = true;
			continue;
		}
		if (st == MS_ENOTFOUND)
			continue;
		if (st != MS_OK) {
			set_error(pl, &pl->werr);
			r = R_OTHER;
			break;
		}
		if (f->info.bad_header) {
			set_errorf(pl, "spool: \"%s\" is not a spool file; left in "
			           "place", f->path);
			ms__spool_release(pl->spool, f, false);
			continue;
		}
		if (f->info.corrupt) {
			CNT_ADD(pl, spool_corrupt, f->info.corrupt);
			set_errorf(pl, "spool: \"%s\": %zu corrupt record region(s) "
			           "skipped (%zu bytes)", f->path, f->info.corrupt,
			           f->info.corrupt_bytes);
		}
		if (f->info.torn)
			set_errorf(pl, "spool: \"%s\": torn last record dropped (%zu "
			           "bytes)", f->path, f->info.torn_bytes);
		for (off = 0; off < f->nrecs && r == R_OK; off += pl->batch) {
			size_t k = f->nrecs - off < pl->batch ? f->nrecs - off
			                                      : pl->batch;
			r = put_idem(pl, f->recs + off, k);
		}
		if (r == R_OK)
			CNT_ADD(pl, replayed, f->nrecs);
		ms__spool_release(pl->spool, f, r == R_OK);
	}
	ms__spool_names_free(names, n);
	if (r != R_OK) {
		drop_conn(pl);
		ms__spool_set_pending(pl->spool, true);
	}
	pl->foreign_files = foreign;
	pl->next_foreign_ns = ms__now_ns() + 2000000000ull;
	return r;
}

static void maybe_replay(ms_predlog *pl, bool force)
{
	if (pl->conn == NULL)
		return;
	if (ms__spool_pending(pl->spool) ||
	    (pl->foreign_files && (force || ms__now_ns() >= pl->next_foreign_ns)))
		replay_spool(pl);
}

/* ------------------------------------------------------------------ */
/* writer thread                                                       */
/* ------------------------------------------------------------------ */

static void free_rows(row **rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ms__free(rows[i]);
}

static void *writer_main(void *arg)
{
	ms_predlog *pl = arg;
	size_t n = 0;      /* rows in hand (pl->wrows) */
	bool closing = false;

	try_connect(pl, true);
	maybe_replay(pl, true);

	for (;;) {
		uint64_t fg;
		bool drained, flushing;
		size_t ndone = 0;

		pthread_mutex_lock(&pl->mu);
		if (n == 0) {
			struct timespec dl;
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_nsec += (long)(pl->interval_ms % 1000) * 1000000L;
			dl.tv_sec += pl->interval_ms / 1000 + dl.tv_nsec / 1000000000L;
			dl.tv_nsec %= 1000000000L;
			while (!pl->closing && pl->count < pl->batch &&
			       pl->flush_gen == pl->acked_gen) {
				if (pthread_cond_timedwait(&pl->wake, &pl->mu, &dl) ==
				    ETIMEDOUT)
					break;
			}
			while (n < pl->batch && pl->count > 0) {
				pl->wrows[n++] = pl->ring[pl->head];
				pl->head = (pl->head + 1) % pl->cap;
				pl->count--;
			}
		} else if (!pl->closing && pl->flush_gen == pl->acked_gen) {
			/* rows held back (database down, spool full): wait a bit */
			struct timespec dl;
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_sec += 1;
			pthread_cond_timedwait(&pl->wake, &pl->mu, &dl);
		}
		drained = pl->count == 0;
		fg = pl->flush_gen;
		flushing = fg != pl->acked_gen;
		closing = pl->closing;
		pthread_mutex_unlock(&pl->mu);

		if (closing && pl->conn == NULL && !pl->close_connect_tried) {
			pl->close_connect_tried = true;
			try_connect(pl, true);
		} else {
			try_connect(pl, false);
		}
		maybe_replay(pl, flushing || closing);

		if (n > 0) {
			int r;
			for (size_t i = 0; i < n; i++) {
				pl->wrecs[i].data = pl->wrows[i]->blob;
				pl->wrecs[i].len = pl->wrows[i]->len;
			}
			r = deliver(pl, pl->wrecs, n);
			if (r == R_OK) {
				ndone = n;
			} else {
				const void **ptrs = ms__malloc(n * sizeof *ptrs);
				uint32_t *lens = ms__malloc(n * sizeof *lens);
				ms_status st;
				if (ptrs == NULL || lens == NULL) {
					st = MS_ENOMEM;
				} else {
					for (size_t i = 0; i < n; i++) {
						ptrs[i] = pl->wrows[i]->blob;
						lens[i] = pl->wrows[i]->len;
					}
					st = ms__spool_append(pl->spool, &pl->werr, ptrs, lens,
					                      n, true);
					if (st != MS_OK)
						set_error(pl, &pl->werr);
				}
				ms__free(ptrs);
				ms__free(lens);
				if (st == MS_OK) {
					CNT_ADD(pl, spooled, n);
					ndone = n;
				} else if (closing && (pl->conn == NULL ||
				                       pl->close_connect_tried)) {
					/* nowhere to put them: counted, reported */
					CNT_ADD(pl, lost, n);
					set_errorf(pl, "predictions: %zu rows could not be "
					           "written or spooled at close: %s", n,
					           pl->werr.msg);
					ndone = n;
				}
			}
			if (ndone) {
				free_rows(pl->wrows, n);
				n = 0;
			}
		}
		if (ms__spool_sync(pl->spool, &pl->werr) != MS_OK)
			set_error(pl, &pl->werr);

		pthread_mutex_lock(&pl->mu);
		pl->done_seq += ndone;
		if (drained && n == 0)
			pl->acked_gen = fg;
		pthread_cond_broadcast(&pl->done);
		if (closing && pl->count == 0 && n == 0) {
			pthread_mutex_unlock(&pl->mu);
			break;
		}
		pthread_mutex_unlock(&pl->mu);
	}
	maybe_replay(pl, true);
	drop_conn(pl);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* public API                                                          */
/* ------------------------------------------------------------------ */

ms_status ms_predlog_open(ms_predlog **out, const char *conninfo,
                          const ms_predlog_options *opts)
{
	ms_predlog_options o;
	ms_predlog *pl;
	ms_status st;

	if (out == NULL)
		return MS_EINVAL;
	*out = NULL;
	pl = ms__calloc(1, sizeof *pl);
	if (pl == NULL)
		return MS_ENOMEM;
	pthread_mutex_init(&pl->mu, NULL);
	pthread_mutex_init(&pl->err_mu, NULL);
	pthread_cond_init(&pl->wake, NULL);
	pthread_cond_init(&pl->done, NULL);
	*out = pl;
	pl->failed = true;

	if (opts == NULL) {
		ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
	} else if (opts->version != MS_PREDLOG_OPTIONS_VERSION) {
		ms__err_set(&pl->err, MS_EINVAL, "predlog: invalid options version "
		            "value: \"%u\"", opts->version);
		return MS_EINVAL;
	} else {
		o = *opts;
	}
	pl->cap = o.queue_capacity ? o.queue_capacity : 65536;
	pl->batch = o.batch_size ? o.batch_size : 5000;
	if (pl->batch > pl->cap)
		pl->batch = pl->cap;
	pl->interval_ms = o.flush_interval_ms ? o.flush_interval_ms : 200;
	pl->connect_timeout = o.connect_timeout > 0 ? o.connect_timeout : 2;
	pl->spool_dir = ms__strdup(o.spool_dir && o.spool_dir[0] ? o.spool_dir
	                                                         : "spool");
	pl->conninfo = conninfo ? ms__strdup(conninfo) : NULL;
	pl->ring = ms__calloc(pl->cap, sizeof *pl->ring);
	pl->wrows = ms__calloc(pl->batch, sizeof *pl->wrows);
	pl->wrecs = ms__calloc(pl->batch, sizeof *pl->wrecs);
	if (pl->spool_dir == NULL || (conninfo && pl->conninfo == NULL) ||
	    pl->ring == NULL || pl->wrows == NULL || pl->wrecs == NULL) {
		ms__err_set(&pl->err, MS_ENOMEM, "predlog: out of memory");
		return MS_ENOMEM;
	}
	st = ms__spool_new(&pl->spool, &pl->err, pl->spool_dir,
	                   o.spool_max_bytes ? o.spool_max_bytes
	                                     : (uint64_t)1 << 30);
	if (st != MS_OK)
		return st;
	if (pthread_create(&pl->thread, NULL, writer_main, pl) != 0) {
		ms__err_set(&pl->err, MS_ERROR, "predlog: cannot start the writer "
		            "thread");
		return MS_ERROR;
	}
	pl->started = true;
	pl->failed = false;
	return MS_OK;
}

static ms_status reject(ms_predlog *pl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static ms_status reject(ms_predlog *pl, const char *fmt, ...)
{
	va_list ap;
	CNT_ADD(pl, rejected, 1);
	pthread_mutex_lock(&pl->err_mu);
	va_start(ap, fmt);
	vsnprintf(pl->err.msg, sizeof pl->err.msg, fmt, ap);
	va_end(ap);
	pl->err.sqlstate[0] = '\0';
	pthread_mutex_unlock(&pl->err_mu);
	return MS_EINVAL;
}

/* 1..50 characters of valid UTF-8 without control characters. */
static bool version_ok(const char *v, size_t *len)
{
	const unsigned char *p = (const unsigned char *)v, *end;
	size_t chars = 0, n = strlen(v);
	end = p + n;
	*len = n;
	if (n == 0)
		return false;
	while (p < end) {
		size_t k;
		if (*p < 0x20 || *p == 0x7F)
			return false;
		k = ms__utf8_len(p, end);
		if (k == 0)
			return false;
		p += k;
		if (++chars > MS_VERSION_MAX)
			return false;
	}
	return true;
}

/* A queued row for @p p, its id (a new UUIDv7) and the time now; the id
 * goes to @p id_out when not NULL.  NULL when out of memory. */
static row *pack_row(const ms_prediction *p, const char *name, size_t nl,
                     size_t vl, size_t fl, char id_out[MS_UUID_STRLEN])
{
	row *r = ms__malloc(sizeof *r + MS__BLOB_HDR + nl + vl + fl);
	unsigned char uuid[16];
	struct timespec ts;
	ms_blob v;
	if (r == NULL)
		return NULL;
	r->len = (uint32_t)(MS__BLOB_HDR + nl + vl + fl);
	ms__uuid7(uuid);
	clock_gettime(CLOCK_REALTIME, &ts);
	v.uuid = uuid;
	v.time_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	v.pred = p->predicted_value;
	v.actual = p->actual_value;
	v.conf = p->confidence_score;
	v.name = name;
	v.ver = p->model_version;
	v.feat = p->input_features;
	v.nl = (uint32_t)nl;
	v.vl = (uint32_t)vl;
	v.fl = (uint32_t)fl;
	ms__blob_pack(r->blob, &v);
	if (id_out)
		ms__uuid_format(id_out, uuid);
	return r;
}

ms_status ms_predlog_log(ms_predlog *pl, char id_out[MS_UUID_STRLEN],
                         const ms_prediction *p)
{
	const char *name, *why = NULL;
	size_t nl, vl, fl, where = 0;
	row *r;

	if (id_out)
		id_out[0] = '\0';
	if (pl == NULL || p == NULL)
		return MS_EINVAL;
	if (pl->failed)
		return MS_ERROR;
	name = p->model_name ? p->model_name : MS_DEFAULT_NAME;
	if (ms_name_check(name) != MS_OK)
		return reject(pl, "log: invalid model_name value: \"%.*s\"",
		              MS_NAME_MAX, name);
	if (p->model_version == NULL)
		return reject(pl, "log: model_version is required");
	if (!version_ok(p->model_version, &vl))
		return reject(pl, "log: invalid model_version value: \"%.*s\" "
		              "(1 to %d characters of UTF-8 text)", MS_VERSION_MAX,
		              p->model_version, MS_VERSION_MAX);
	if (p->input_features == NULL)
		return reject(pl, "log: input_features is required");
	fl = strlen(p->input_features);
	if (fl > FEATURES_MAX)
		return reject(pl, "log: input_features is %zu bytes (at most %u)",
		              fl, FEATURES_MAX);
	if (!ms__features_valid(p->input_features, fl, &where, &why))
		return reject(pl, "log: invalid input_features: %s at byte %zu",
		              why, where);
	nl = strlen(name);

	r = pack_row(p, name, nl, vl, fl, id_out);
	if (r == NULL)
		return MS_ENOMEM;

	pthread_mutex_lock(&pl->mu);
	if (pl->count < pl->cap) {
		pl->ring[(pl->head + pl->count) % pl->cap] = r;
		pl->count++;
		pl->enq_seq++;
		if (pl->count == pl->batch)
			pthread_cond_signal(&pl->wake);
		pthread_mutex_unlock(&pl->mu);
		CNT_ADD(pl, accepted, 1);
		return MS_OK;
	}
	pthread_mutex_unlock(&pl->mu);

	/* Queue full: straight to the spool (the writer fsyncs it). */
	{
		const void *ptr = r->blob;
		uint32_t len = r->len;
		ms_err e;
		ms_status st = ms__spool_append(pl->spool, &e, &ptr, &len, 1, false);
		ms__free(r);
		if (st == MS_OK) {
			CNT_ADD(pl, accepted, 1);
			CNT_ADD(pl, spooled, 1);
			return MS_OK;
		}
		if (st == MS_EFULL)
			CNT_ADD(pl, dropped_full, 1);
		set_error(pl, &e);
		if (id_out)
			id_out[0] = '\0';
		return st;
	}
}

ms_status ms_predlog_flush(ms_predlog *pl, unsigned timeout_ms)
{
	struct timespec dl;
	uint64_t target, gen;
	ms_status st = MS_OK;

	if (pl == NULL)
		return MS_EINVAL;
	if (pl->failed)
		return MS_ERROR;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	dl.tv_sec += dl.tv_nsec / 1000000000L;
	dl.tv_nsec %= 1000000000L;

	pthread_mutex_lock(&pl->mu);
	target = pl->enq_seq;
	gen = ++pl->flush_gen;
	pthread_cond_signal(&pl->wake);
	while (pl->done_seq < target || pl->acked_gen < gen) {
		if (pthread_cond_timedwait(&pl->done, &pl->mu, &dl) == ETIMEDOUT) {
			if (pl->done_seq < target || pl->acked_gen < gen)
				st = MS_ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&pl->mu);
	if (st == MS_ETIMEDOUT)
		set_errorf(pl, "flush: timed out after %u ms", timeout_ms);
	return st;
}

void ms_predlog_stats_get(ms_predlog *pl, ms_predlog_stats *o)
{
	if (o == NULL)
		return;
	memset(o, 0, sizeof *o);
	if (pl == NULL)
		return;
	o->accepted = atomic_load(&pl->accepted);
	o->written = atomic_load(&pl->written);
	o->spooled = atomic_load(&pl->spooled);
	o->replayed = atomic_load(&pl->replayed);
	o->rejected = atomic_load(&pl->rejected);
	o->dropped_full = atomic_load(&pl->dropped_full);
	o->spool_corrupt = atomic_load(&pl->spool_corrupt);
	o->batches = atomic_load(&pl->batches);
	o->retries = atomic_load(&pl->retries);
}

ms_status ms_predlog_last_error(ms_predlog *pl, ms_buf *out)
{
	ms_status st;
	if (pl == NULL || out == NULL)
		return MS_EINVAL;
	pthread_mutex_lock(&pl->err_mu);
	st = ms__buf_set(out, pl->err.msg, strlen(pl->err.msg));
	pthread_mutex_unlock(&pl->err_mu);
	return st;
}

ms_status ms_predlog_close(ms_predlog *pl)
{
	ms_status st = MS_OK;
	if (pl == NULL)
		return MS_OK;
	if (pl->started) {
		pthread_mutex_lock(&pl->mu);
		pl->closing = true;
		pthread_cond_signal(&pl->wake);
		pthread_mutex_unlock(&pl->mu);
		pthread_join(pl->thread, NULL);
		if (atomic_load(&pl->lost) > 0)
			st = MS_EFULL;
	}
	/* rows still queued (thread never started) are freed */
	while (pl->ring && pl->count > 0) {
		ms__free(pl->ring[pl->head]);
		pl->head = (pl->head + 1) % pl->cap;
		pl->count--;
	}
	ms__spool_free(pl->spool);
	pthread_cond_destroy(&pl->wake);
	pthread_cond_destroy(&pl->done);
	pthread_mutex_destroy(&pl->mu);
	pthread_mutex_destroy(&pl->err_mu);
	ms__free(pl->ring);
	ms__free(pl->wrows);
	ms__free(pl->wrecs);
	ms__free(pl->cbuf);
	ms__free(pl->conninfo);
	ms__free(pl->spool_dir);
	ms__free(pl);
	return st;
}
