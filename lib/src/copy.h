/*
 * copy.h - the prediction logger's sender: the writer thread's
 * connection, the binary COPY encoder, the two ways rows go in (a plain
 * COPY, and the idempotent stage-then-INSERT ... ON CONFLICT DO NOTHING
 * with bisection of data errors) from the queue or from spool files, and
 * what the writer reports back to the logger's callers (ms__ names).
 * Not installed.
 */
#ifndef MS_COPY_H
#define MS_COPY_H

#include "errbuf.h"
#include "spool.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The bounds on what one COPY carries, read by ms__copy_init (tests may
 * lower them before they open a logger).  The server refuses a protocol
 * message over 1 GiB and drops the connection, so no CopyData message may
 * come near it; a batch is bounded by bytes as well as rows so that one
 * COPY, one spool append and one replay step stay small. */
extern size_t ms__copy_msg_max;   /* bytes of one CopyData message */
extern size_t ms__copy_batch_max; /* blob bytes of one batch (one row more
                                   * only when that row alone is larger) */
/* What was sent so far in this process, for tests: the largest CopyData
 * message and the largest batch (blob bytes) handed to one COPY. */
extern _Atomic size_t ms__copy_sent_msg_max, ms__copy_sent_batch_max;

/* What sending a batch came to. */
enum {
	MS__COPY_OK = 0, /* all rows in, or rejected one by one and counted */
	MS__COPY_DOWN,   /* no connection, or it died: the outcome is unknown */
	MS__COPY_DATA,   /* a data error (class 22/23) on a live connection */
	MS__COPY_OTHER   /* anything else (permissions, missing table, ...) */
};

/* What the logger shows its callers: the counters behind
 * ms_predlog_stats_get (atomic, any thread) and the last error (under
 * mu).  Shared by the callers' threads and the writer thread. */
typedef struct ms_copy_report {
	pthread_mutex_t mu;
	ms_err err;
	_Atomic uint64_t accepted, written, spooled, replayed, rejected,
		dropped_full, spool_corrupt, batches, retries, lost;
} ms_copy_report;

#define MS__COUNT(rep, f, n) \
	atomic_fetch_add_explicit(&(rep)->f, (uint64_t)(n), memory_order_relaxed)

/* Make @p e the last error. */
void ms__copy_report(ms_copy_report *rep, const ms_err *e);
/* Make a formatted message (no SQLSTATE) the last error. */
void ms__copy_reportf(ms_copy_report *rep, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ms__copy_vreportf(ms_copy_report *rep, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* The writer thread's sender; used by that thread only.  Zeroed, then
 * ms__copy_init. */
typedef struct ms_copy {
	const char *conninfo;     /* borrowed from the logger */
	int connect_timeout;
	ms_copy_report *rep;      /* borrowed from the logger */
	ms_spool *spool;          /* borrowed from the logger */
	size_t batch;             /* rows per COPY when replaying */
	size_t batch_max;         /* blob bytes per COPY (ms__copy_batch_max) */
	size_t msg_max;           /* bytes per CopyData (ms__copy_msg_max) */
	PGconn *conn;             /* NULL while disconnected */
	bool stage_ready;         /* the temporary stage table exists */
	uint64_t next_connect_ns; /* no new attempt before (unless forced) */
	unsigned backoff_ms;
	unsigned char *buf;       /* the CopyData message being filled */
	size_t cap, len;
	ms_err werr;              /* the writer's latest error */
	bool foreign_files;       /* the last replay met another's files */
	uint64_t next_foreign_ns; /* when to try those again */
} ms_copy;

void ms__copy_init(ms_copy *c, ms_copy_report *rep, ms_spool *spool,
                   size_t batch, const char *conninfo, int connect_timeout);
/* How many of the @p n rows @p recs make the next batch: at most
 * @p max_rows rows and @p max_bytes blob bytes, and at least one row. */
size_t ms__copy_batch_len(const ms_spool_rec *recs, size_t n,
                          size_t max_rows, size_t max_bytes);
/* Disconnect and free the buffer. */
void ms__copy_fini(ms_copy *c);
/* Connect if not connected and, unless @p force, the backoff after the
 * last failure is over.  A failure is reported and doubles the backoff
 * (100 ms to 2 s). */
void ms__copy_connect(ms_copy *c, bool force);
void ms__copy_disconnect(ms_copy *c);
/* Send a batch from the queue: a plain COPY first, then, when its
 * outcome is unknown (retried on a new connection) or it hit a data
 * error, the idempotent path.  MS__COPY_OK, _DOWN or _OTHER; on _DOWN
 * and _OTHER the connection has been dropped. */
int ms__copy_deliver(ms_copy *c, const ms_spool_rec *recs, size_t n);
/* Send rows through the idempotent path only (spool replay).  A data
 * error is split in halves until the bad row is alone; that row is
 * rejected, counted and reported, and the result is still MS__COPY_OK. */
int ms__copy_put_idem(ms_copy *c, const ms_spool_rec *recs, size_t n);
/* When connected and the spool has something (or, every 2 s or at once
 * with @p force, when the last replay met files another live process
 * held): replay every spool file that can be locked, oldest first,
 * through the idempotent path, and unlink each once all its rows are
 * in.  On a failure the connection is dropped and the spool stays
 * pending. */
void ms__copy_replay(ms_copy *c, bool force);

#endif
