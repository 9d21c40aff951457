/*
 * loader_db.c - the loader's side of the database: the callers' shared
 * connection, outage bookkeeping and backoff, fetching a model into a
 * payload.
 *
 * Database loads of callers share one connection (db_mu); the watcher
 * has its own.  When the database cannot be reached (connect refused or
 * timed out, unknown host, auth failure, connection lost mid-query), the
 * first failure logs one line (ms__log) and bumps the `outages` counter;
 * until the database answers again callers do not retry more often than
 * the backoff allows (and never wait on another thread's connect
 * attempt), so a dead host costs at most one connect bound.
 */
#define _GNU_SOURCE
#include "loader_db.h"

#include "alloc.h"
#include "conn.h"
#include "deadline.h"
#include "errbuf.h"
#include "fetch.h"
#include "hash.h"
#include "loader_internal.h"
#include "log.h"
#include "model.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define BACKOFF_MIN_MS 250u  /* callers: between retries of a lost database */
#define BACKOFF_MAX_MS 5000u

/* set while this thread is the one retrying the database after a backoff */
static _Thread_local bool tl_retry;

void ms__loader_db_init(ms_loader *l)
{
	pthread_mutex_init(&l->db_mu, NULL);
	atomic_init(&l->backoff_ms, BACKOFF_MIN_MS);
}

void ms__loader_db_close(ms_loader *l)
{
	PQfinish(l->conn);
	l->conn = NULL;
	pthread_mutex_destroy(&l->db_mu);
}

bool ms__loader_db_claim_retry(ms_loader *l)
{
	uint64_t nt = atomic_load(&l->next_try_ns), now;
	if ((now = ms__now_ns()) >= nt &&
	    atomic_compare_exchange_strong(
		    &l->next_try_ns, &nt,
		    now + (uint64_t)atomic_load(&l->backoff_ms) * 1000000u)) {
		tl_retry = true;
		return true;
	}
	return false;
}

void ms__loader_db_retry_done(void)
{
	tl_retry = false;
}

/* ------------------------------------------------------------------ */
/* outages                                                             */
/* ------------------------------------------------------------------ */

void ms__loader_note_unreachable(ms_loader *l, const char *msg)
{
	unsigned b;
	bool was = atomic_exchange(&l->outage, true);
	pthread_mutex_lock(&l->err_mu);
	snprintf(l->outage_msg, sizeof l->outage_msg, "%s", msg);
	snprintf(l->last_err, sizeof l->last_err, "%s", msg);
	pthread_mutex_unlock(&l->err_mu);
	if (!was) {
		atomic_fetch_add(&l->outages, 1);
		atomic_store(&l->backoff_ms, BACKOFF_MIN_MS);
		ms__log(MS_LOG_WARN, "loader: %s; serving from cache and "
		        "fallback until the database answers again", msg);
		b = BACKOFF_MIN_MS;
	} else {
		b = ms__backoff_next(atomic_load(&l->backoff_ms), BACKOFF_MIN_MS,
		                     BACKOFF_MAX_MS);
		atomic_store(&l->backoff_ms, b);
	}
	atomic_store(&l->next_try_ns, ms__now_ns() + (uint64_t)b * 1000000u);
}

void ms__loader_note_reachable(ms_loader *l)
{
	if (atomic_exchange(&l->outage, false))
		ms__log(MS_LOG_INFO, "loader: database reachable again");
}

/* ------------------------------------------------------------------ */
/* the callers' connection                                             */
/* ------------------------------------------------------------------ */

ms_status ms__loader_connect(ms_loader *l, PGconn **c, ms_err *e)
{
	ms_status st = ms__connect(c, e, l->conninfo, l->connect_timeout);
	if (st == MS_OK && l->query_timeout_ms > 0 &&
	    !ms__deadline_set(*c, l->query_timeout_ms))
		st = ms__err_set(e, MS_ENOMEM, "connect: out of memory");
	return st;
}

void ms__loader_db_idle_close(ms_loader *l)
{
	uint64_t idle = (uint64_t)l->idle_disconnect_ms * 1000000u;
	/* l->conn is read only under db_mu (a caller may be connecting) */
	if (idle == 0 || pthread_mutex_trylock(&l->db_mu) != 0)
		return;
	if (l->conn && ms__now_ns() - atomic_load(&l->conn_used_ns) >= idle) {
		PQfinish(l->conn);
		l->conn = NULL;
	}
	pthread_mutex_unlock(&l->db_mu);
}

/* Take the callers' connection, connecting when needed.  On MS_OK db_mu
 * is held; otherwise it is not.  During an outage, callers neither retry
 * before the backoff nor queue behind another thread's attempt. */
static ms_status db_acquire(ms_loader *l, ms_err *e)
{
	ms_status st;
	if (atomic_load(&l->outage)) {
		if ((!tl_retry && ms__now_ns() < atomic_load(&l->next_try_ns)) ||
		    pthread_mutex_trylock(&l->db_mu) != 0) {
			pthread_mutex_lock(&l->err_mu);
			ms__err_set(e, MS_EUNREACHABLE, "%s", l->outage_msg);
			pthread_mutex_unlock(&l->err_mu);
			return MS_EUNREACHABLE;
		}
	} else {
		pthread_mutex_lock(&l->db_mu);
	}
	if (l->conn && PQstatus(l->conn) != CONNECTION_OK) {
		PQfinish(l->conn);
		l->conn = NULL;
	}
	if (l->conn == NULL) {
		PGconn *c = NULL;
		st = ms__loader_connect(l, &c, e);
		if (st != MS_OK) {
			PQfinish(c);
			pthread_mutex_unlock(&l->db_mu);
			if (st == MS_EUNREACHABLE)
				ms__loader_note_unreachable(l, e->msg);
			return st;
		}
		l->conn = c;
		l->conn_fresh = true;
		ms__loader_note_reachable(l);
	} else {
		l->conn_fresh = false;
	}
	return MS_OK;
}

/* db_mu held: a statement failed on a connection made before this call
 * (say, to a server that restarted since).  Reconnect once, quietly;
 * true when the caller should run its statements again. */
static bool db_retry_stale(ms_loader *l, ms_err *e, ms_status st)
{
	PGconn *c = NULL;
	if (st == MS_OK || l->conn_fresh || l->conn == NULL ||
	    (st != MS_EUNREACHABLE && PQstatus(l->conn) == CONNECTION_OK))
		return false;
	PQfinish(l->conn);
	l->conn = NULL;
	if (ms__loader_connect(l, &c, e) != MS_OK) {
		PQfinish(c);
		return false;
	}
	l->conn = c;
	l->conn_fresh = true;
	return true;
}

void ms__loader_db_failed(ms_loader *l, PGconn **c, ms_status st, ms_err *e)
{
	/* a server stuck past the deadline is treated as one that is gone */
	if (st != MS_EUNREACHABLE && st != MS_ETIMEDOUT &&
	    (*c == NULL || PQstatus(*c) == CONNECTION_OK))
		return;
	if (*c) {
		PQfinish(*c);
		*c = NULL;
	}
	ms__loader_note_unreachable(l, e->msg);
}

/* Acquire the callers' connection, run @op, run it once more on a fresh
 * connection when the first failure came from a stale one (a server that
 * restarted since), drop the connection when the server is gone, and
 * release.  The one place that knows this protocol. */
ms_status ms__loader_db_run(ms_loader *l, ms_err *e, ms_loader_db_op op,
                            void *ctx)
{
	ms_status st = db_acquire(l, e);
	if (st != MS_OK)
		return st;
	st = op(l, e, ctx);
	if (db_retry_stale(l, e, st))
		st = op(l, e, ctx);
	if (st != MS_OK)
		ms__loader_db_failed(l, &l->conn, st, e);
	atomic_store(&l->conn_used_ns, ms__now_ns());
	pthread_mutex_unlock(&l->db_mu);
	/* callers serve the cache or the fallback, as for an outage */
	return st == MS_ETIMEDOUT ? MS_EUNREACHABLE : st;
}

ms_status ms__loader_resolve_version(PGconn *c, ms_err *e, const char *name,
                                     const char *selector,
                                     char out[MS_VERSION_MAX + 1])
{
	const char *params[2] = { name, selector + 1 };
	PGresult *res;
	bool prod = strcmp(selector, "production") == 0;
	bool alias = selector[0] == '@';
	ms_status st = ms__exec(
		c, e, &res, PGRES_TUPLES_OK, "resolve",
		prod ? "SELECT model_version FROM model_artifacts"
		       " WHERE model_name = $1 AND is_production LIMIT 1"
		: alias ? "SELECT model_version FROM model_aliases"
		          " WHERE model_name = $1 AND alias = $2"
		     : "SELECT model_version FROM model_artifacts"
		       " WHERE model_name = $1"
		       " ORDER BY created_at DESC, id DESC LIMIT 1",
		alias ? 2 : 1, params);
	if (st != MS_OK)
		return st;
	if (PQntuples(res) == 0) {
		PQclear(res);
		if (alias)
			return ms__err_set(e, MS_ENOTFOUND, "%s: no alias \"%s\"",
			                   name, selector + 1);
		return ms__err_set(e, MS_ENOTFOUND, "%s: no %s model", name,
		                   prod ? "production" : "stored");
	}
	snprintf(out, MS_VERSION_MAX + 1, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return MS_OK;
}

/*
 * The bytes of one fetch, gathered into one buffer (ms_write_fn sink),
 * allocated once at the recorded size, and hashed (ms_digest_fn).
 *
 * From HASH_THREAD_MIN bytes up a helper thread does the two jobs that
 * the transfer does not need to wait for, so that they overlap it
 * instead of adding to it (perf, 200 MB, this machine: faulting the
 * buffer in was half the client's time, SHA-256 a third, the receive
 * and copy the rest):
 *   - it faults the buffer in (MADV_POPULATE_WRITE, the kernel zeroing
 *     each page) up to POPULATE_AHEAD beyond the copy, in
 *     POPULATE_STEP slices, so the copy finds its pages ready (when it
 *     overtakes the helper, it faults them itself: same result);
 *   - it hashes the bytes the copy has published, behind it.
 * The connection's thread only receives and copies.  The helper reads
 * only bytes already published (data[hashed, ready), under mu), which
 * are never written again; the buffer moves only when a seed-era row
 * without a recorded size makes it grow, and then only after the helper
 * has caught up.  A small model is hashed in line (a thread costs more
 * than its hash), as is any model when the thread cannot be started.
 */
#define HASH_THREAD_MIN ((uint64_t)4 << 20)
#define HASH_STEP ((uint64_t)1 << 20)       /* hashed between two looks */
#define POPULATE_STEP ((uint64_t)8 << 20)   /* faulted in between looks */
#define POPULATE_AHEAD ((uint64_t)32 << 20) /* beyond the copy */

typedef struct loadbuf {
	ms_artifact_info *info;
	unsigned char *data;
	uint64_t len, cap;
	size_t map_len;
	ms_err *e;
	ms_sha256 *hash;

	bool threaded;          /* the helper runs */
	pthread_t helper;
	pthread_mutex_t mu;
	pthread_cond_t more;    /* ready moved, or stop */
	pthread_cond_t caught;  /* hashed == ready */
	uint64_t ready, hashed; /* under mu */
	uint64_t populated;     /* under mu: faulted in up to here */
	bool busy;              /* under mu: the helper works unlocked */
	bool stop, abandon;     /* under mu */
} loadbuf;

static void *hash_helper(void *arg)
{
	loadbuf *lb = arg;

	pthread_mutex_lock(&lb->mu);
	for (;;) {
		const unsigned char *from;
		uint64_t n;
		if (lb->abandon || (lb->hashed == lb->ready && lb->stop))
			break;
		if (!lb->stop && lb->populated < lb->map_len &&
		    lb->populated < lb->ready + POPULATE_AHEAD) {
			unsigned char *base = lb->data;
			size_t map_len = lb->map_len, off = lb->populated;
			lb->busy = true;
			pthread_mutex_unlock(&lb->mu);
			ms__bytes_populate(base, map_len, off, POPULATE_STEP);
			pthread_mutex_lock(&lb->mu);
			lb->busy = false;
			if (lb->populated == off) /* not stopped by a grow */
				lb->populated = off + POPULATE_STEP;
			continue;
		}
		if (lb->hashed == lb->ready) {
			pthread_cond_signal(&lb->caught);
			pthread_cond_wait(&lb->more, &lb->mu);
			continue;
		}
		from = lb->data + lb->hashed;
		n = lb->ready - lb->hashed < HASH_STEP ? lb->ready - lb->hashed
		                                       : HASH_STEP;
		lb->busy = true;
		pthread_mutex_unlock(&lb->mu);
		ms__sha256_update(lb->hash, from, (size_t)n);
		pthread_mutex_lock(&lb->mu);
		lb->busy = false;
		lb->hashed += n;
	}
	pthread_cond_signal(&lb->caught);
	pthread_mutex_unlock(&lb->mu);
	return NULL;
}

/* Start the helper; false (hash in line) when it cannot be. */
static bool helper_start(loadbuf *lb)
{
	if (pthread_mutex_init(&lb->mu, NULL) != 0)
		return false;
	if (pthread_cond_init(&lb->more, NULL) != 0) {
		pthread_mutex_destroy(&lb->mu);
		return false;
	}
	if (pthread_cond_init(&lb->caught, NULL) != 0) {
		pthread_cond_destroy(&lb->more);
		pthread_mutex_destroy(&lb->mu);
		return false;
	}
	if (pthread_create(&lb->helper, NULL, hash_helper, lb) != 0) {
		pthread_cond_destroy(&lb->caught);
		pthread_cond_destroy(&lb->more);
		pthread_mutex_destroy(&lb->mu);
		return false;
	}
	lb->threaded = true;
	return true;
}

/* Stop the helper (having hashed everything, unless @p abandon). */
static void helper_stop(loadbuf *lb, bool abandon)
{
	if (!lb->threaded)
		return;
	pthread_mutex_lock(&lb->mu);
	lb->stop = true;
	lb->abandon = abandon;
	pthread_cond_signal(&lb->more);
	pthread_mutex_unlock(&lb->mu);
	pthread_join(lb->helper, NULL);
	pthread_cond_destroy(&lb->caught);
	pthread_cond_destroy(&lb->more);
	pthread_mutex_destroy(&lb->mu);
	lb->threaded = false;
}

/* Grow the buffer to @p want bytes, the helper (if any) caught up and
 * waiting, so that it never reads the old buffer. */
static unsigned char *loadbuf_grow(loadbuf *lb, uint64_t want)
{
	unsigned char *q;
	if (!lb->threaded)
		return ms__bytes_grow(lb->data, &lb->map_len, lb->len, want);
	pthread_mutex_lock(&lb->mu);
	/* no more faulting in (the grown part faults on first touch), and
	 * the helper caught up, waiting: it touches no byte of the buffer */
	lb->populated = UINT64_MAX;
	while (lb->busy || lb->hashed != lb->ready)
		pthread_cond_wait(&lb->caught, &lb->mu);
	q = ms__bytes_grow(lb->data, &lb->map_len, lb->len, want);
	if (q)
		lb->data = q;
	pthread_mutex_unlock(&lb->mu);
	return q;
}

static ms_status loadbuf_sink(void *payload_, const void *d, size_t n)
{
	loadbuf *lb = payload_;
	if (lb->data == NULL) {
		uint64_t want = lb->info->size > 0 ? (uint64_t)lb->info->size : 0;
		if (want < n)
			want = n > (1u << 20) ? n : (1u << 20);
		lb->data = ms__bytes_alloc_lazy(want, &lb->map_len);
		if (lb->data == NULL)
			return ms__err_set(lb->e, MS_ENOMEM,
			                   "load: cannot allocate %llu bytes",
			                   (unsigned long long)want);
		lb->cap = want;
		if (want < HASH_THREAD_MIN || !helper_start(lb))
			ms__bytes_populate(lb->data, lb->map_len, 0, lb->map_len);
	}
	if (lb->len + n > lb->cap) {
		uint64_t want = lb->cap * 2 > lb->len + n ? lb->cap * 2
		                                          : lb->len + n;
		unsigned char *q;
		if (lb->info->size >= 0 && lb->info->sha256[0])
			return ms__err_set(lb->e, MS_EINTEGRITY,
			                   "%s version %s: more bytes than the "
			                   "recorded %lld", lb->info->model_name,
			                   lb->info->model_version,
			                   (long long)lb->info->size);
		q = loadbuf_grow(lb, want);
		if (q == NULL)
			return ms__err_set(lb->e, MS_ENOMEM,
			                   "load: cannot grow to %llu bytes",
			                   (unsigned long long)want);
		lb->data = q;
		lb->cap = want;
	}
	memcpy(lb->data + lb->len, d, n);
	if (lb->threaded) {
		pthread_mutex_lock(&lb->mu);
		lb->ready = lb->len + n;
		pthread_cond_signal(&lb->more);
		pthread_mutex_unlock(&lb->mu);
	} else {
		ms__sha256_update(lb->hash, lb->data + lb->len, n);
	}
	lb->len += n;
	return MS_OK;
}

/* ms_digest_fn: the hash of every byte given (out NULL: abandoned). */
static ms_status loadbuf_digest(void *payload_, unsigned char out[32])
{
	loadbuf *lb = payload_;
	helper_stop(lb, out == NULL);
	if (out)
		ms__sha256_final(lb->hash, out);
	return MS_OK;
}

/* ------------------------------------------------------------------ */
/* fetching a model                                                    */
/* ------------------------------------------------------------------ */

ms_status ms__loader_db_fetch(ms_loader *l, PGconn *c, ms_err *e,
                              const char *name, const char *version,
                              ms_artifact_info *info, ms_payload **out)
{
	loadbuf lb;
	char hex[65] = "";
	ms_payload *p;
	ms_status st;

	*out = NULL;
	memset(&lb, 0, sizeof lb);
	lb.info = info;
	lb.e = e;
	if ((lb.hash = ms__sha256_new()) == NULL)
		return ms__err_set(e, MS_ENOMEM, "load: out of memory");
	st = ms__artifact_fetch_sink_hashes(c, e, info, name, version,
	                                    loadbuf_sink, loadbuf_digest, &lb,
	                                    hex);
	ms__sha256_free(lb.hash);
	if (st == MS_EINTEGRITY)
		atomic_fetch_add(&l->integrity_failures, 1);
	if (st != MS_OK) {
		ms__bytes_free(lb.data, lb.map_len);
		return st;
	}
	if (lb.data == NULL)
		lb.data = ms__bytes_alloc(0, &lb.map_len);
	p = ms__payload_new();
	if (p == NULL || lb.data == NULL) {
		ms__bytes_free(lb.data, lb.map_len);
		ms__free(p);
		return ms__err_set(e, MS_ENOMEM, "load: out of memory");
	}
	p->data = lb.data;
	p->size = lb.len;
	p->map_len = lb.map_len;
	p->origin = MS_SOURCE_DATABASE;
	p->verified = info->sha256[0] != '\0';
	snprintf(p->name, sizeof p->name, "%s", info->model_name);
	snprintf(p->version, sizeof p->version, "%s", info->model_version);
	snprintf(p->type, sizeof p->type, "%s", info->model_type);
	memcpy(p->sha256, hex, sizeof hex);
	p->metrics = ms__strdup(info->metrics_json ? info->metrics_json : "{}");
	if (p->metrics == NULL) {
		ms__payload_release(p);
		return ms__err_set(e, MS_ENOMEM, "load: out of memory");
	}
	atomic_fetch_add(&l->db_loads, 1);
	*out = p;
	return MS_OK;
}
