/*
 * predlog.c - the prediction logger: the public ms_predlog_* API and the
 * writer thread.
 *
 * The caller's side (ms_predlog_log) validates the row (json_check.c for
 * the features), then, under the ring mutex, packs it (a blob, blob.h)
 * into space carved from the logger's FIFO arena (arena.h: no malloc per
 * row) and pushes the pointer onto a ring.  It never touches the
 * network.  When the ring is full and the writer is delivering (connected,
 * its last batch went in), the caller waits for room - the writer frees
 * a batch's worth as it takes one - for at most MS__PREDLOG_ROOM_WAIT_MS:
 * a burst the database can absorb stays in memory (issue 12: spilling it
 * cost a write, an fsync and a slower idempotent replay per row).  The
 * blob is appended to the spool (one write(), fsync'd by the writer
 * within a flush interval) only when the ring is full and the writer is
 * not delivering (database down, backing off), or no room came within
 * that wait (the database has stalled or truly cannot keep up); after
 * such a timeout callers spill without waiting until the writer takes
 * its next batch.
 *
 * One writer thread takes up to batch_size rows (by default up to 8
 * times that when they are already waiting: MS__PREDLOG_BACKLOG_BATCHES)
 * and 64 MiB at a time (sooner on flush_interval or flush()) and sends
 * them with one binary COPY, in bounded CopyData messages, into
 * model_predictions (copy.c:
 * the encoder, the idempotent retry when the outcome is unknown, the
 * bisection of data errors).  Every row carries its client-generated
 * UUIDv7 prediction_id, unique in the table.  A batch that cannot be sent
 * (no connection, or any error other than a data error) is spooled and
 * the writer backs off, so no row is lost.  Spooled rows are replayed
 * (copy.c), oldest file first, always idempotently, whenever the writer
 * is connected and the spool has something.
 */
#define _GNU_SOURCE
#include "alloc.h"
#include "arena.h"
#include "blob.h"
#include "conn.h"
#include "copy.h"
#include "errbuf.h"
#include "json_check.h"
#include "spool.h"
#include "util.h"
#include "uuid.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ */
/* the handle                                                          */
/* ------------------------------------------------------------------ */

/* How long ms_predlog_log waits for room in a full ring while the writer
 * is delivering, before it spills the row to the spool: this, or
 * MS__PREDLOG_ROOM_WAIT_BATCHES times the expected delivery time of the
 * batch in flight (its rows times the last batch's time per row) when
 * that is longer, at most MS__PREDLOG_ROOM_WAIT_MAX_MS.  The writer frees
 * room one batch at a time (5000 to 40000 rows by default, 33 to 270 ms
 * of COPY at 150 000 rows/s); no room for that long means the database
 * is not keeping up (docs/predictions.md, "When rows go to the spool"). */
#define MS__PREDLOG_ROOM_WAIT_MS 500
#define MS__PREDLOG_ROOM_WAIT_BATCHES 4
#define MS__PREDLOG_ROOM_WAIT_MAX_MS 5000

/* With the default batch_size, a batch is 5000 rows, but when more are
 * already waiting (a backlog: a burst, or a database that is behind) the
 * writer takes up to this many batches' worth into one COPY.  Each COPY
 * is a commit, and with fsync on a commit waits for a WAL flush: at 5000
 * rows a batch that flush was 6-9% of the server's time in bench_predlog
 * (WALSync in pg_stat_activity), against 1% for one COPY of all rows.
 * An explicit batch_size is kept exactly. */
#define MS__PREDLOG_BACKLOG_BATCHES 8

/* One queued prediction: its blob (blob.h) and the blob's length.  A
 * row lives in the logger's arena (arena.h), carved under the ring
 * mutex, unless it is larger than MS__ARENA_ROW_MAX or bound for the
 * spool: then it is its own allocation (own). */
typedef struct row {
	uint32_t len;
	uint32_t own;
	unsigned char blob[];
} row;

struct ms_predlog {
	char *conninfo;
	char *spool_dir;
	size_t cap, batch;     /* batch: rows that make a batch (wake the
	                        * writer) */
	size_t take_max;       /* rows the writer takes at most: batch, or
	                        * MS__PREDLOG_BACKLOG_BATCHES of them by default */
	unsigned interval_ms;
	ms_spool *spool;

	pthread_mutex_t mu;
	pthread_cond_t wake, done;
	pthread_cond_t room;   /* the writer took rows off the ring, or
	                        * stopped delivering */
	row **ring;
	ms_arena arena;        /* where ring rows live (under mu) */
	size_t head, count;
	uint64_t qbytes;       /* blob bytes on the ring */
	uint64_t enq_seq, done_seq, flush_gen, acked_gen;
	size_t room_waiters;   /* callers waiting on room */
	bool delivering;       /* the writer is connected and its last batch
	                        * went in: a full ring is worth waiting on */
	uint64_t row_ns;       /* delivery time per row of the last batch */
	size_t inflight;       /* rows the writer took for its current batch */
	bool stalled;          /* a caller waited MS__PREDLOG_ROOM_WAIT_MS in
	                        * vain; spill at once until the writer takes
	                        * its next batch */
	bool closing, started, failed;
	pthread_t thread;

	ms_copy_report rep;    /* counters and the last error: any thread */
	void (*on_reject)(void *, const char *, const char *);
	void *on_reject_payload;
	_Atomic uint64_t log_rejected; /* refused by ms_predlog_log(); the
	                        * server's refusals are rep.rejected, which
	                        * only the writer thread counts */
	ms_status end_cause;   /* set by the writer as it ends: why rows wait
	                        * in the spool (MS_OK: none do); read after
	                        * the join */

	/* writer thread only */
	ms_copy copy;          /* its connection, COPY buffer, replay state */
	bool close_connect_tried;
	ms_spool_rec *wrecs;
	row **wrows;
};

/* The bytes of an ms_predlog_options of @p version; 0 when unknown. */
static size_t options_size(unsigned int version)
{
	switch (version) {
	case 1:
		return MS__SIZE_THROUGH(ms_predlog_options, connect_timeout);
	case 2:
		return MS__SIZE_THROUGH(ms_predlog_options, on_reject_payload);
	default:
		return 0;
	}
}

ms_status ms_predlog_options_init(ms_predlog_options *o, unsigned int v)
{
	ms_predlog_options d = MS_PREDLOG_OPTIONS_INIT;
	size_t n = options_size(v);
	if (o == NULL || n == 0)
		return MS_EINVAL;
	d.version = v;
	memcpy(o, &d, n);
	return MS_OK;
}

/* ------------------------------------------------------------------ */
/* writer thread                                                       */
/* ------------------------------------------------------------------ */

/* The @p n rows in hand are done with: own ones freed, arena ones
 * released (the caller holds pl->mu; they are the oldest unreleased
 * arena rows, as the ring hands rows out in the order they were
 * carved). */
static void release_rows(ms_predlog *pl, row **rows, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (rows[i]->own)
			ms__free(rows[i]);
		else
			k++;
	}
	ms__arena_release(&pl->arena, k);
}

/* @p dl = now (CLOCK_REALTIME) + @p ms. */
static void deadline_in(struct timespec *dl, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, dl);
	dl->tv_sec += ms / 1000;
	dl->tv_nsec += (long)(ms % 1000) * 1000000L;
	dl->tv_sec += dl->tv_nsec / 1000000000L;
	dl->tv_nsec %= 1000000000L;
}

/* What the writer saw, under the lock, at the start of one round. */
typedef struct round_state {
	uint64_t flush_gen; /* the flush generation this round can answer */
	bool drained;       /* the ring was empty once the batch was taken */
	bool flushing;      /* a flush() is waiting */
	bool closing;       /* close() was called */
	bool spooled;       /* this round's batch could not be sent */
	uint64_t batch_ns;  /* how long it took to deliver (0: no batch) */
} round_state;

/* A batch is full: batch_size rows, or batch_max bytes (copy.h). */
static bool batch_full(const ms_predlog *pl)
{
	return pl->count >= pl->batch || pl->qbytes >= pl->copy.batch_max;
}

/* Move up to take_max rows and batch_max bytes, at least one row, from
 * the ring to pl->wrows: a batch, or more when more are waiting. */
static void take_rows(ms_predlog *pl, size_t *n)
{
	uint64_t bytes = 0;
	while (*n < pl->take_max && pl->count > 0) {
		row *r = pl->ring[pl->head];
		if (*n > 0 && bytes + r->len > pl->copy.batch_max)
			break;
		bytes += r->len;
		pl->wrows[(*n)++] = r;
		pl->head = (pl->head + 1) % pl->cap;
		pl->count--;
	}
	pl->qbytes -= bytes;
	pl->inflight = *n;
	if (*n > 0) {
		pl->stalled = false;
		if (pl->room_waiters > 0)
			pthread_cond_broadcast(&pl->room);
	}
}

/* With no rows in hand, wait until a batch is full, a flush or close is
 * asked for, or flush_interval passes, then take a batch.  With rows
 * still in hand (the database down, the spool full), just wait up to a
 * second. */
static void take_batch(ms_predlog *pl, size_t *n, round_state *rs)
{
	struct timespec dl;
	pthread_mutex_lock(&pl->mu);
	if (*n == 0) {
		deadline_in(&dl, pl->interval_ms);
		while (!pl->closing && !batch_full(pl) &&
		       pl->flush_gen == pl->acked_gen) {
			if (pthread_cond_timedwait(&pl->wake, &pl->mu, &dl) ==
			    ETIMEDOUT)
				break;
		}
		take_rows(pl, n);
	} else if (!pl->closing && pl->flush_gen == pl->acked_gen) {
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 1;
		pthread_cond_timedwait(&pl->wake, &pl->mu, &dl);
	}
	rs->drained = pl->count == 0;
	rs->flush_gen = pl->flush_gen;
	rs->flushing = rs->flush_gen != pl->acked_gen;
	rs->closing = pl->closing;
	rs->spooled = false;
	rs->batch_ns = 0;
	pthread_mutex_unlock(&pl->mu);
}

/* Connect when the backoff allows; at close, make one forced attempt so
 * that what is still queued or spooled can go in. */
static void reconnect(ms_predlog *pl, bool closing)
{
	if (closing && pl->copy.conn == NULL && !pl->close_connect_tried) {
		pl->close_connect_tried = true;
		ms__copy_connect(&pl->copy, true);
	} else {
		ms__copy_connect(&pl->copy, false);
	}
}

/* Tell on_reject about the one row @p r the server refused. */
static void tell_reject(ms_predlog *pl, const ms_spool_rec *r)
{
	ms_blob v;
	char id[MS_UUID_STRLEN] = "";
	if (ms__blob_parse(r->data, r->len, &v))
		ms__uuid_format(id, v.uuid);
	pl->on_reject(pl->on_reject_payload, id, pl->copy.werr.msg);
}

/* Send @p recs again through the idempotent path, where rows already in
 * are skipped (ON CONFLICT DO NOTHING) and the bad ones refused again;
 * the counters it moves are put back, as these rows were counted once
 * already.  *bad receives how many it refused.  false when it could not
 * be sent (the connection is gone). */
static bool resend_count(ms_predlog *pl, const ms_spool_rec *recs, size_t n,
                         uint64_t *bad)
{
	uint64_t rej = atomic_load(&pl->rep.rejected);
	uint64_t bat = atomic_load(&pl->rep.batches);
	int r = ms__copy_put_idem(&pl->copy, recs, n);
	*bad = atomic_load(&pl->rep.rejected) - rej;
	atomic_fetch_sub(&pl->rep.rejected, *bad);
	atomic_fetch_sub(&pl->rep.batches, atomic_load(&pl->rep.batches) - bat);
	return r == MS__COPY_OK;
}

/* @p bad of the @p n rows @p recs were refused by the server when the
 * batch went in (the writer thread counts rep.rejected alone, so the
 * count is exact): find which, by sending halves again, and tell
 * on_reject about each.  Only a batch that had refusals pays for this.
 * false when the connection went away meanwhile (the rest stay
 * unnamed, still counted). */
static bool name_rejects(ms_predlog *pl, const ms_spool_rec *recs, size_t n,
                         uint64_t bad)
{
	uint64_t left;
	if (bad == 0 || n == 0)
		return true;
	if (bad >= n) { /* all bad (">": never, but no loop if it were) */
		for (size_t i = 0; i < n; i++) {
			uint64_t b;
			if (!resend_count(pl, recs + i, 1, &b))
				return false;
			if (b)
				tell_reject(pl, recs + i);
		}
		return true;
	}
	if (!resend_count(pl, recs, n / 2, &left))
		return false;
	if (left > bad)
		left = bad;
	return name_rejects(pl, recs, n / 2, left) &&
	       name_rejects(pl, recs + n / 2, n - n / 2, bad - left);
}

/* Send the @p n rows in hand; true when they are in (the ones the server
 * refused counted, and named to on_reject). */
static bool send_batch(ms_predlog *pl, size_t n)
{
	uint64_t before = atomic_load(&pl->rep.rejected), bad;
	for (size_t i = 0; i < n; i++) {
		pl->wrecs[i].data = pl->wrows[i]->blob;
		pl->wrecs[i].len = pl->wrows[i]->len;
	}
	if (ms__copy_deliver(&pl->copy, pl->wrecs, n) != MS__COPY_OK)
		return false;
	bad = atomic_load(&pl->rep.rejected) - before;
	if (bad > 0 && pl->on_reject)
		name_rejects(pl, pl->wrecs, n, bad);
	return true;
}

/* Append the @p n rows in hand to the spool, fsync'd. */
static ms_status spool_batch(ms_predlog *pl, size_t n)
{
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
		st = ms__spool_append(pl->spool, &pl->copy.werr, ptrs, lens, n,
		                      true);
		if (st != MS_OK)
			ms__copy_report(&pl->rep, &pl->copy.werr);
	}
	ms__free(ptrs);
	ms__free(lens);
	return st;
}

/* Send the @p n rows in hand, else spool them, else, at close with no
 * way left to the database, count them lost.  Returns how many rows are
 * done with: n, or 0 when they stay in hand for the next round. */
static size_t settle_batch(ms_predlog *pl, size_t n, round_state *rs)
{
	bool closing = rs->closing;
	uint64_t t0 = ms__now_ns();
	if (send_batch(pl, n)) {
		rs->batch_ns = ms__now_ns() - t0;
		return n;
	}
	rs->spooled = true;
	if (spool_batch(pl, n) == MS_OK) {
		MS__COUNT(&pl->rep, spooled, n);
		return n;
	}
	if (closing && (pl->copy.conn == NULL || pl->close_connect_tried)) {
		/* nowhere to put them: counted, reported */
		MS__COUNT(&pl->rep, lost, n);
		ms__copy_reportf(&pl->rep, "predictions: %llu rows could not be "
		                 "written or spooled at close: %s",
		                 (unsigned long long)atomic_load(&pl->rep.lost),
		                 pl->copy.werr.msg);
		return n;
	}
	return 0;
}

/* Tell flush() and close() what this round did.  true when the writer
 * is finished: closing, the ring empty and nothing in hand. */
static bool end_round(ms_predlog *pl, const round_state *rs, size_t ndone,
                      size_t n)
{
	bool finished, delivering;
	pthread_mutex_lock(&pl->mu);
	if (ndone)
		release_rows(pl, pl->wrows, ndone);
	pl->done_seq += ndone;
	/* worth waiting on: connected, and nothing left in hand nor spooled
	 * this round */
	delivering = pl->copy.conn != NULL && n == 0 && !rs->spooled;
	if (pl->delivering && !delivering && pl->room_waiters > 0)
		pthread_cond_broadcast(&pl->room);
	pl->delivering = delivering;
	if (rs->batch_ns && ndone)
		pl->row_ns = rs->batch_ns / ndone;
	if (rs->drained && n == 0)
		pl->acked_gen = rs->flush_gen;
	pthread_cond_broadcast(&pl->done);
	finished = rs->closing && pl->count == 0 && n == 0;
	pthread_mutex_unlock(&pl->mu);
	return finished;
}

/* Why the writer could not deliver, from its last error: no SQLSTATE
 * (a failed connect, a lost connection) or a connection-class one is
 * "unreachable"; a missing table or column is a schema problem; any
 * other server error (permission denied, ...) is MS_ERROR. */
static ms_status undelivered_cause(const ms_err *e)
{
	const char *ss = e->sqlstate;
	if (ss[0] == '\0' || strncmp(ss, "08", 2) == 0 ||
	    strncmp(ss, "57P0", 4) == 0)
		return MS_EUNREACHABLE;
	if (strcmp(ss, "42P01") == 0 || strcmp(ss, "42703") == 0 ||
	    strcmp(ss, "3F000") == 0)
		return MS_ESCHEMA;
	return MS_ERROR;
}

static void *writer_main(void *arg)
{
	ms_predlog *pl = arg;
	size_t n = 0;      /* rows in hand (pl->wrows) */

	ms__copy_connect(&pl->copy, true);
	ms__copy_replay(&pl->copy, true);
	/* connected: a full queue is worth waiting on from now on, not only
	 * after the first batch went in */
	pthread_mutex_lock(&pl->mu);
	pl->delivering = pl->copy.conn != NULL;
	pthread_mutex_unlock(&pl->mu);

	for (;;) {
		round_state rs;
		size_t ndone = 0;

		take_batch(pl, &n, &rs);
		reconnect(pl, rs.closing);
		ms__copy_replay(&pl->copy, rs.flushing || rs.closing);
		if (n > 0) {
			ndone = settle_batch(pl, n, &rs);
		}
		if (ms__spool_sync(pl->spool, &pl->copy.werr) != MS_OK)
			ms__copy_report(&pl->rep, &pl->copy.werr);
		if (ndone)
			n = 0; /* end_round releases them */
		if (end_round(pl, &rs, ndone, n))
			break;
	}
	ms__copy_replay(&pl->copy, true);
	pl->end_cause = ms__spool_pending(pl->spool)
	                ? undelivered_cause(&pl->copy.werr) : MS_OK;
	ms__copy_disconnect(&pl->copy);
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
	pthread_mutex_init(&pl->rep.mu, NULL);
	pthread_cond_init(&pl->wake, NULL);
	pthread_cond_init(&pl->done, NULL);
	pthread_cond_init(&pl->room, NULL);
	*out = pl;
	pl->failed = true;

	if (opts == NULL) {
		ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
	} else if (options_size(opts->version) == 0) {
		ms__err_set(&pl->rep.err, MS_EINVAL, "predlog: invalid options "
		            "version value: \"%u\"", opts->version);
		return MS_EINVAL;
	} else {
		ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
		memcpy(&o, opts, options_size(opts->version));
	}
	pl->on_reject = o.on_reject;
	pl->on_reject_payload = o.on_reject_payload;
	pl->cap = o.queue_capacity ? o.queue_capacity : 65536;
	pl->batch = o.batch_size ? o.batch_size : 5000;
	if (pl->batch > pl->cap)
		pl->batch = pl->cap;
	pl->take_max = o.batch_size ? pl->batch
	                            : pl->batch * MS__PREDLOG_BACKLOG_BATCHES;
	if (pl->take_max > pl->cap)
		pl->take_max = pl->cap;
	pl->interval_ms = o.flush_interval_ms ? o.flush_interval_ms : 200;
	pl->spool_dir = ms__strdup(o.spool_dir && o.spool_dir[0] ? o.spool_dir
	                                                         : "spool");
	pl->conninfo = conninfo ? ms__strdup(conninfo) : NULL;
	pl->ring = ms__calloc(pl->cap, sizeof *pl->ring);
	pl->wrows = ms__calloc(pl->take_max, sizeof *pl->wrows);
	pl->wrecs = ms__calloc(pl->take_max, sizeof *pl->wrecs);
	if (pl->spool_dir == NULL || (conninfo && pl->conninfo == NULL) ||
	    pl->ring == NULL || pl->wrows == NULL || pl->wrecs == NULL) {
		ms__err_set(&pl->rep.err, MS_ENOMEM, "predlog: out of memory");
		return MS_ENOMEM;
	}
	st = ms__spool_new(&pl->spool, &pl->rep.err, pl->spool_dir,
	                   o.spool_max_bytes ? o.spool_max_bytes
	                                     : (uint64_t)1 << 30);
	if (st != MS_OK)
		return st;
	ms__copy_init(&pl->copy, &pl->rep, pl->spool, pl->batch, pl->conninfo,
	              o.connect_timeout > 0 ? o.connect_timeout
	                                   : MS_CONNECT_TIMEOUT_DEFAULT);
	if (pthread_create(&pl->thread, NULL, writer_main, pl) != 0) {
		ms__err_set(&pl->rep.err, MS_ERROR, "predlog: cannot start the "
		            "writer thread");
		return MS_ERROR;
	}
	pl->started = true;
	pl->failed = false;
	return MS_OK;
}

static __attribute__((format(printf, 2, 3)))
ms_status reject(ms_predlog *pl, const char *fmt, ...)
{
	va_list ap;
	atomic_fetch_add_explicit(&pl->log_rejected, 1, memory_order_relaxed);
	va_start(ap, fmt);
	ms__copy_vreportf(&pl->rep, fmt, ap);
	va_end(ap);
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

/* The fields of @p p's row into @p v: its id (a new UUIDv7, written to
 * @p uuid) and the time now. */
static void row_fields(ms_blob *v, unsigned char uuid[16],
                       const ms_prediction *p, const char *name, size_t nl,
                       size_t vl, size_t fl)
{
	struct timespec ts;
	ms__uuid7(uuid);
	clock_gettime(CLOCK_REALTIME, &ts);
	v->uuid = uuid;
	v->time_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	v->pred = p->predicted_value;
	v->actual = p->actual_value;
	v->conf = p->confidence_score;
	v->name = name;
	v->ver = p->model_version;
	v->feat = p->input_features;
	v->nl = (uint32_t)nl;
	v->vl = (uint32_t)vl;
	v->fl = (uint32_t)fl;
}

static uint32_t row_len(const ms_blob *v)
{
	return (uint32_t)(MS__BLOB_HDR + v->nl + v->vl + v->fl);
}

/* The row of @p v as its own allocation (a large row, or one bound for
 * the spool).  NULL when out of memory. */
static row *own_row(const ms_blob *v)
{
	row *r = ms__malloc(sizeof *r + row_len(v));
	if (r == NULL)
		return NULL;
	r->len = row_len(v);
	r->own = 1;
	ms__blob_pack(r->blob, v);
	return r;
}

/* The checks a row passes before it is queued.  *name receives the model
 * name (the default when none is given), *vl and *fl the lengths of the
 * version and the features.  MS_OK, or MS_EINVAL counted and reported. */
static ms_status check_row(ms_predlog *pl, const ms_prediction *p,
                           const char **name, size_t *vl, size_t *fl)
{
	const char *why = NULL;
	size_t where = 0;
	*name = p->model_name ? p->model_name : MS_DEFAULT_NAME;
	if (ms_name_check(*name) != MS_OK)
		return reject(pl, "log: invalid model_name value: \"%.*s\"",
		              MS_NAME_MAX, *name);
	if (p->model_version == NULL)
		return reject(pl, "log: model_version is required");
	if (!version_ok(p->model_version, vl))
		return reject(pl, "log: invalid model_version value: \"%.*s\" "
		              "(1 to %d characters of UTF-8 text)", MS_VERSION_MAX,
		              p->model_version, MS_VERSION_MAX);
	if (p->input_features == NULL)
		return reject(pl, "log: input_features is required");
	*fl = strlen(p->input_features);
	if (*fl > MS__BLOB_FEATURES_MAX)
		return reject(pl, "log: input_features is %zu bytes (at most %u)",
		              *fl, MS__BLOB_FEATURES_MAX);
	if (!ms__features_valid(p->input_features, *fl, &where, &why))
		return reject(pl, "log: invalid input_features: %s at byte %zu",
		              why, where);
	return MS_OK;
}

/* With the ring full (caller holds pl->mu): wait for room while the
 * writer is delivering, at most MS__PREDLOG_ROOM_WAIT_MS in all.  true
 * when there is room; false when the row must go to the spool (the
 * writer is not delivering, closing, or no room came in time). */
static bool wait_room(ms_predlog *pl)
{
	struct timespec dl;
	bool timed = false;
	while (pl->count >= pl->cap) {
		if (!pl->delivering || pl->stalled || pl->closing)
			return false;
		if (!timed) {
			uint64_t ms = pl->row_ns * pl->inflight / 1000000u *
			              MS__PREDLOG_ROOM_WAIT_BATCHES;
			if (ms < MS__PREDLOG_ROOM_WAIT_MS)
				ms = MS__PREDLOG_ROOM_WAIT_MS;
			if (ms > MS__PREDLOG_ROOM_WAIT_MAX_MS)
				ms = MS__PREDLOG_ROOM_WAIT_MAX_MS;
			deadline_in(&dl, (unsigned)ms);
			timed = true;
		}
		pl->room_waiters++;
		int rc = pthread_cond_timedwait(&pl->room, &pl->mu, &dl);
		pl->room_waiters--;
		if (rc == ETIMEDOUT && pl->count >= pl->cap) {
			pl->stalled = true;
			return false;
		}
	}
	return true;
}

/* Put the row of @p v on the ring, waking the writer when a batch is
 * full: @p r when the caller packed it (a large row), else one carved
 * from the arena and packed here, under the lock (a copy of a few
 * hundred bytes).  MS_OK; MS_EFULL when the ring is full and stays so
 * (wait_room); MS_ENOMEM.  On MS_OK the ring owns @p r. */
static ms_status enqueue(ms_predlog *pl, const ms_blob *v, row *r)
{
	pthread_mutex_lock(&pl->mu);
	if (pl->count < pl->cap || wait_room(pl)) {
		bool was_full = batch_full(pl);
		if (r == NULL) {
			r = ms__arena_alloc(&pl->arena, sizeof *r + row_len(v));
			if (r == NULL) {
				pthread_mutex_unlock(&pl->mu);
				return MS_ENOMEM;
			}
			r->len = row_len(v);
			r->own = 0;
			ms__blob_pack(r->blob, v);
		}
		pl->ring[(pl->head + pl->count) % pl->cap] = r;
		pl->count++;
		pl->qbytes += r->len;
		pl->enq_seq++;
		if (!was_full && batch_full(pl))
			pthread_cond_signal(&pl->wake);
		pthread_mutex_unlock(&pl->mu);
		return MS_OK;
	}
	pthread_mutex_unlock(&pl->mu);
	return MS_EFULL;
}

/* The ring is full: the row of @p v (@p r when already packed) goes
 * straight to the spool (the writer fsyncs it).  The caller clears
 * id_out on failure: the row is not logged. */
static ms_status spill(ms_predlog *pl, const ms_blob *v, row *r)
{
	const void *ptr;
	uint32_t len;
	ms_err e;
	ms_status st;
	if (r == NULL && (r = own_row(v)) == NULL)
		return MS_ENOMEM;
	ptr = r->blob;
	len = r->len;
	st = ms__spool_append(pl->spool, &e, &ptr, &len, 1, false);
	ms__free(r);
	if (st == MS_OK) {
		MS__COUNT(&pl->rep, accepted, 1);
		MS__COUNT(&pl->rep, spooled, 1);
		return MS_OK;
	}
	if (st == MS_EFULL)
		MS__COUNT(&pl->rep, dropped_full, 1);
	ms__copy_report(&pl->rep, &e);
	return st;
}

ms_status ms_predlog_log(char id_out[MS_UUID_STRLEN], ms_predlog *pl,
                         const ms_prediction *p)
{
	const char *name;
	size_t vl = 0, fl = 0;
	unsigned char uuid[16];
	ms_status st;
	ms_blob v;
	row *r = NULL;

	if (id_out)
		id_out[0] = '\0';
	if (pl == NULL || p == NULL)
		return MS_EINVAL;
	if (pl->failed)
		return MS_ERROR;
	st = check_row(pl, p, &name, &vl, &fl);
	if (st != MS_OK)
		return st;
	row_fields(&v, uuid, p, name, strlen(name), vl, fl);
	if (sizeof *r + row_len(&v) > MS__ARENA_ROW_MAX &&
	    (r = own_row(&v)) == NULL)
		return MS_ENOMEM;
	st = enqueue(pl, &v, r);
	if (st == MS_EFULL)
		st = spill(pl, &v, r);
	else if (st != MS_OK)
		ms__free(r);
	else
		MS__COUNT(&pl->rep, accepted, 1);
	if (st == MS_OK && id_out)
		ms__uuid_format(id_out, uuid);
	return st;
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
	deadline_in(&dl, timeout_ms);

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
		ms__copy_reportf(&pl->rep, "flush: timed out after %u ms", timeout_ms);
	return st;
}

/* The bytes of an ms_predlog_stats of @p version; 0 when unknown. */
static size_t stats_size(unsigned int version)
{
	switch (version) {
	case 1:
		return MS__SIZE_THROUGH(ms_predlog_stats, retries);
	case 2:
		return MS__SIZE_THROUGH(ms_predlog_stats, lost);
	default:
		return 0;
	}
}

ms_status ms_predlog_stats_get(ms_predlog_stats *o, ms_predlog *pl)
{
	ms_predlog_stats full = MS_PREDLOG_STATS_INIT;
	size_t n;

	if (o == NULL || (n = stats_size(o->version)) == 0)
		return MS_EINVAL;
	if (pl != NULL) {
		full.accepted = atomic_load(&pl->rep.accepted);
		full.written = atomic_load(&pl->rep.written);
		full.spooled = atomic_load(&pl->rep.spooled);
		full.replayed = atomic_load(&pl->rep.replayed);
		full.rejected = atomic_load(&pl->rep.rejected) +
		                atomic_load(&pl->log_rejected);
		full.dropped_full = atomic_load(&pl->rep.dropped_full);
		full.spool_corrupt = atomic_load(&pl->rep.spool_corrupt);
		full.batches = atomic_load(&pl->rep.batches);
		full.retries = atomic_load(&pl->rep.retries);
		full.lost = atomic_load(&pl->rep.lost);
	}
	full.version = o->version; /* the caller's, kept */
	memcpy(o, &full, n);
	return MS_OK;
}

ms_status ms_predlog_last_error(ms_buf *out, ms_predlog *pl)
{
	ms_status st;
	if (pl == NULL || out == NULL)
		return MS_EINVAL;
	pthread_mutex_lock(&pl->rep.mu);
	st = ms__buf_set(out, pl->rep.err.msg, strlen(pl->rep.err.msg));
	pthread_mutex_unlock(&pl->rep.mu);
	return st;
}

/* Stop the writer (it writes, spools or counts as lost what is left).
 * MS_EFULL when rows were lost. */
static ms_status stop_writer(ms_predlog *pl)
{
	if (!pl->started)
		return MS_OK;
	pthread_mutex_lock(&pl->mu);
	pl->closing = true;
	pthread_cond_signal(&pl->wake);
	pthread_cond_broadcast(&pl->room); /* callers waiting for room */
	pthread_mutex_unlock(&pl->mu);
	pthread_join(pl->thread, NULL);
	pl->started = false;
	return atomic_load(&pl->rep.lost) > 0 ? MS_EFULL : MS_OK;
}

ms_status ms_predlog_close_stats(ms_predlog_stats *stats_out,
                                 ms_buf *errmsg_out, ms_predlog *pl)
{
	ms_status st;
	if (pl == NULL) {
		if (stats_out)
			ms_predlog_stats_get(stats_out, NULL);
		if (errmsg_out)
			ms__buf_set(errmsg_out, "", 0);
		return MS_OK;
	}
	st = stop_writer(pl);
	if (st == MS_OK && !pl->failed)
		st = pl->end_cause;
	if (st == MS_OK && pl->failed)
		st = MS_ERROR;
	if (stats_out)
		ms_predlog_stats_get(stats_out, pl);
	if (errmsg_out && ms_predlog_last_error(errmsg_out, pl) != MS_OK)
		st = st == MS_OK ? MS_ENOMEM : st;
	ms_predlog_close(pl);
	return st;
}

ms_status ms_predlog_close(ms_predlog *pl)
{
	ms_status st;
	if (pl == NULL)
		return MS_OK;
	st = stop_writer(pl);
	if (atomic_load(&pl->rep.lost) > 0)
		st = MS_EFULL;
	/* rows still queued (thread never started) are freed */
	while (pl->ring && pl->count > 0) {
		if (pl->ring[pl->head]->own)
			ms__free(pl->ring[pl->head]);
		pl->head = (pl->head + 1) % pl->cap;
		pl->count--;
	}
	ms__arena_free(&pl->arena);
	ms__spool_free(pl->spool);
	pthread_cond_destroy(&pl->wake);
	pthread_cond_destroy(&pl->done);
	pthread_cond_destroy(&pl->room);
	pthread_mutex_destroy(&pl->mu);
	pthread_mutex_destroy(&pl->rep.mu);
	ms__free(pl->ring);
	ms__free(pl->wrows);
	ms__free(pl->wrecs);
	ms__copy_fini(&pl->copy);
	ms__free(pl->conninfo);
	ms__free(pl->spool_dir);
	ms__free(pl);
	return st;
}
