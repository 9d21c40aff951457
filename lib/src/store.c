/*
 * store.c - ms_store: connection and registry operations.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

struct ms_store {
	PGconn *conn;
	ms_err err;
	char target[256];
	size_t chunk_size;
	unsigned char *chunk_buf; /* reused by every push: no fresh pages */
	bool chunk_stmt_ready;    /* "ms_chunk_insert" prepared */
	ms_progress_fn progress;  /* ms_store_set_progress: verify, backfill */
	void *progress_payload;
};

void ms_store_set_progress(ms_store *s, ms_progress_fn fn, void *payload)
{
	if (s == NULL)
		return;
	s->progress = fn;
	s->progress_payload = payload;
}

/* Progress over many artifacts: the fetch reports bytes of the current
 * one; this adds what the earlier ones moved. */
typedef struct multi_progress {
	ms_store *s;
	uint64_t base, total;
} multi_progress;

static void multi_progress_fn(void *p, uint64_t done, uint64_t total)
{
	multi_progress *m = p;
	(void)total;
	m->s->progress(m->s->progress_payload, m->base + done, m->total);
}

/* ------------------------------------------------------------------ */
/* open / close / errors                                               */
/* ------------------------------------------------------------------ */

ms_status ms_store_options_init(ms_store_options *opts, unsigned int version)
{
	ms_store_options def = MS_STORE_OPTIONS_INIT;
	if (opts == NULL || version != MS_STORE_OPTIONS_VERSION)
		return MS_EINVAL;
	*opts = def;
	return MS_OK;
}

ms_status ms_store_open(ms_store **out, const char *conninfo,
                        const ms_store_options *opts)
{
	ms_store_options def = MS_STORE_OPTIONS_INIT;
	ms_store *s;
	ms_status st;

	if (out == NULL)
		return MS_EINVAL;
	*out = s = ms__calloc(1, sizeof *s);
	if (s == NULL)
		return MS_ENOMEM;
	if (opts == NULL)
		opts = &def;
	if (opts->version != MS_STORE_OPTIONS_VERSION)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid ms_store_options version: %u",
		                   opts->version);
	s->chunk_size = opts->chunk_size ? opts->chunk_size : MS_CHUNK_SIZE_DEFAULT;
	if (s->chunk_size < 1024 || s->chunk_size > (256u << 20))
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid chunk_size value: \"%zu\" (1 KiB to "
		                   "256 MiB)", s->chunk_size);
	st = ms__connect(&s->conn, &s->err, conninfo, opts->connect_timeout);
	ms__conn_target(s->conn, s->target, sizeof s->target);
	if (st != MS_OK)
		return st;
	if (opts->check_schema)
		return ms__schema_check(s->conn, &s->err);
	return MS_OK;
}

void ms_store_close(ms_store *s)
{
	if (s == NULL)
		return;
	PQfinish(s->conn);
	ms__free(s->chunk_buf);
	ms__free(s);
}

const char *ms_store_errmsg(const ms_store *s)
{
	return s ? s->err.msg : "out of memory";
}

const char *ms_store_sqlstate(const ms_store *s)
{
	return s ? s->err.sqlstate : "";
}

const char *ms_store_target(const ms_store *s)
{
	return s ? s->target : "";
}

static bool usable(ms_store *s)
{
	if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
		ms__err_set(&s->err, MS_EUNREACHABLE,
		            "database %s unreachable: not connected", s->target);
		return false;
	}
	ms__err_clear(&s->err);
	return true;
}

#define REQUIRE_CONN(s)                                                 \
	do {                                                            \
		if ((s) == NULL)                                        \
			return MS_EINVAL;                               \
		if (!usable(s))                                         \
			return MS_EUNREACHABLE;                         \
	} while (0)

ms_status ms__store_conn(ms_store *s, PGconn **conn, ms_err **err)
{
	REQUIRE_CONN(s);
	*conn = s->conn;
	*err = &s->err;
	return MS_OK;
}

ms_status ms_store_migrate(ms_store *s, int *applied)
{
	REQUIRE_CONN(s);
	return ms__schema_migrate(s->conn, &s->err, applied);
}

ms_status ms_store_schema_version(ms_store *s, int *db_version,
                                  int *lib_version)
{
	PGresult *res;
	ms_status st;
	REQUIRE_CONN(s);
	if (lib_version)
		*lib_version = ms__schema_known_version();
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "schema",
	              "SELECT CASE WHEN to_regclass('modelstore_migrations') IS NULL"
	              " THEN 0 ELSE (SELECT coalesce(max(version), 0)"
	              " FROM modelstore_migrations) END", 0, NULL);
	if (st != MS_OK)
		return st;
	if (db_version)
		*db_version = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return MS_OK;
}

static void rollback(ms_store *s)
{
	if (PQstatus(s->conn) == CONNECTION_OK &&
	    PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		PQclear(PQexec(s->conn, "ROLLBACK"));
}

static ms_status begin(ms_store *s, const char *what)
{
	return ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK, what, "BEGIN",
	                0, NULL);
}

static ms_status commit(ms_store *s, const char *what)
{
	ms_status st = ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK, what,
	                        "COMMIT", 0, NULL);
	if (st != MS_OK)
		rollback(s);
	return st;
}

static ms_status check_name(ms_store *s, const char **name)
{
	if (*name == NULL)
		*name = MS_DEFAULT_NAME;
	return ms__name_arg(&s->err, "model name", *name);
}

static ms_status check_version(ms_store *s, const char *v)
{
	if (ms__is_selector_word(v))
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid version: \"%s\" is a selector word, "
		                   "not a version", v);
	return ms__selector_arg(&s->err, v);
}

/* ------------------------------------------------------------------ */
/* promotion                                                           */
/* ------------------------------------------------------------------ */

static const char LOCK_SQL[] =
	"SELECT pg_advisory_xact_lock(hashtextextended("
	"'modelstore.production:' || $1, 0))";

/* Inside an open transaction: make @version production of @name. */
static ms_status promote_tx(ms_store *s, const char *name,
                            const char *version, const char *action,
                            const char *reason)
{
	PGresult *res;
	const char *p[5];
	char from[MS_VERSION_MAX + 1] = "", id[32];
	bool has_from;
	ms_status st;

	p[0] = name;
	st = ms__exec(s->conn, &s->err, NULL, PGRES_TUPLES_OK, "promote",
	              LOCK_SQL, 1, p);
	if (st != MS_OK)
		return st;
	p[1] = version;
	p[2] = MS_PRIMARY_ARTIFACT;
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "promote",
	              "SELECT (SELECT model_version FROM model_artifacts"
	              "  WHERE model_name = $1 AND is_production LIMIT 1),"
	              " (SELECT id FROM model_artifacts WHERE model_name = $1"
	              "  AND model_version = $2 AND artifact = $3)", 3, p);
	if (st != MS_OK)
		return st;
	has_from = !PQgetisnull(res, 0, 0);
	snprintf(from, sizeof from, "%s", PQgetvalue(res, 0, 0));
	if (PQgetisnull(res, 0, 1)) {
		PQclear(res);
		return ms__err_set(&s->err, MS_ENOTFOUND,
		                   "promote: %s: version \"%s\" not found", name,
		                   version);
	}
	snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	if (has_from && strcmp(from, version) == 0)
		return MS_OK; /* already production: nothing to record */

	st = ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK, "promote",
	              "UPDATE model_artifacts SET is_production = false,"
	              " updated_at = now() WHERE model_name = $1 AND is_production",
	              1, p);
	if (st != MS_OK)
		return st;
	p[0] = id;
	st = ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK, "promote",
	              "UPDATE model_artifacts SET is_production = true,"
	              " deployment_date = now(), updated_at = now() WHERE id = $1",
	              1, p);
	if (st != MS_OK)
		return st;
	p[0] = name;
	p[1] = has_from ? from : NULL;
	p[2] = version;
	p[3] = action;
	p[4] = reason;
	return ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK, "promote",
	                "INSERT INTO model_promotions (model_name, from_version,"
	                " to_version, action, reason) VALUES ($1, $2, $3, $4, $5)",
	                5, p);
}

ms_status ms_store_promote(ms_store *s, const char *name, const char *version,
                           const char *reason)
{
	ms_status st;
	REQUIRE_CONN(s);
	if ((st = check_name(s, &name)) != MS_OK)
		return st;
	if (version == NULL)
		return ms__err_set(&s->err, MS_EINVAL, "promote: no version given");
	if ((st = check_version(s, version)) != MS_OK)
		return st;
	st = begin(s, "promote");
	if (st == MS_OK)
		st = promote_tx(s, name, version, "promote", reason);
	if (st == MS_OK)
		return commit(s, "promote");
	rollback(s);
	return st;
}

ms_status ms_store_rollback(ms_store *s, ms_buf *version_out,
                            const char *name, const char *reason)
{
	PGresult *res;
	const char *p[2];
	char current[MS_VERSION_MAX + 1], target[MS_VERSION_MAX + 1];
	ms_status st;

	REQUIRE_CONN(s);
	if ((st = check_name(s, &name)) != MS_OK)
		return st;
	if ((st = begin(s, "rollback")) != MS_OK)
		return st;
	p[0] = name;
	st = ms__exec(s->conn, &s->err, NULL, PGRES_TUPLES_OK, "rollback",
	              LOCK_SQL, 1, p);
	if (st != MS_OK)
		goto fail;
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "rollback",
	              "SELECT model_version FROM model_artifacts"
	              " WHERE model_name = $1 AND is_production", 1, p);
	if (st != MS_OK)
		goto fail;
	if (PQntuples(res) == 0) {
		PQclear(res);
		st = ms__err_set(&s->err, MS_ENOTFOUND,
		                 "rollback: %s: no production model", name);
		goto fail;
	}
	snprintf(current, sizeof current, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	/* The promotion that made the current version production says what
	 * was production before it.  Rollbacks are not followed, so repeated
	 * rollbacks walk further back in history. */
	p[1] = current;
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "rollback",
	              "SELECT from_version FROM model_promotions"
	              " WHERE model_name = $1 AND to_version = $2"
	              " AND action = 'promote' AND from_version IS NOT NULL"
	              " ORDER BY id DESC LIMIT 1", 2, p);
	if (st != MS_OK)
		goto fail;
	if (PQntuples(res) == 0) {
		PQclear(res);
		st = ms__err_set(&s->err, MS_ENOTFOUND,
		                 "rollback: %s: no production version before \"%s\" "
		                 "in the promotion history", name, current);
		goto fail;
	}
	snprintf(target, sizeof target, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	st = promote_tx(s, name, target, "rollback", reason);
	if (st == MS_ENOTFOUND)
		ms__err_set(&s->err, MS_ENOTFOUND,
		            "rollback: %s: previous production version \"%s\" no "
		            "longer exists", name, target);
	if (st != MS_OK)
		goto fail;
	if ((st = commit(s, "rollback")) != MS_OK)
		return st;
	if (ms__buf_set(version_out, target, strlen(target)) != MS_OK)
		return ms__err_set(&s->err, MS_ENOMEM, "rollback: out of memory");
	return MS_OK;
fail:
	rollback(s);
	return st;
}

/* ------------------------------------------------------------------ */
/* push                                                                */
/* ------------------------------------------------------------------ */

ms_status ms_push_options_init(ms_push_options *opts, unsigned int version)
{
	ms_push_options def = MS_PUSH_OPTIONS_INIT;
	if (opts == NULL || version != MS_PUSH_OPTIONS_VERSION)
		return MS_EINVAL;
	*opts = def;
	opts->accuracy = opts->rmse = opts->r2 = NAN;
	return MS_OK;
}

/* The bytes of one source, read once, hashed, optionally deflated, and
 * cut into stored chunks of at most chunk_size bytes. */
typedef struct producer {
	int fd;
	const unsigned char *mem;
	uint64_t mem_size, mem_off;
	const char *label;
	ms_sha256 *hash;
	uint64_t in_bytes, out_bytes, total;
	bool eof, compress, z_init, z_done;
	z_stream z;
	unsigned char *inbuf;
	ms_progress_fn progress;
	void *progress_payload;
	uint64_t base_done, grand_total;
} producer;

#define PRODUCER_INBUF (256 << 10)

static ms_status read_in(producer *p, ms_err *e, unsigned char *buf,
                         size_t want, size_t *got)
{
	*got = 0;
	if (p->mem) {
		uint64_t left = p->mem_size - p->mem_off;
		size_t n = want < left ? want : (size_t)left;
		memcpy(buf, p->mem + p->mem_off, n);
		p->mem_off += n;
		*got = n;
	} else {
		while (*got < want) {
			ssize_t r = read(p->fd, buf + *got, want - *got);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				return ms__err_set(e, MS_EIO, "%s: read: %s", p->label,
				                   strerror(errno));
			}
			if (r == 0)
				break;
			*got += (size_t)r;
		}
	}
	if (*got < want)
		p->eof = true;
	ms__sha256_update(p->hash, buf, *got);
	p->in_bytes += *got;
	if (p->progress)
		p->progress(p->progress_payload, p->base_done + p->in_bytes,
		            p->grand_total);
	return MS_OK;
}

/* Produce up to @cap stored bytes: *out points at them (into @chunk, or
 * straight into a memory source, which is never copied), *len gets the
 * count, *last is true when the source is exhausted after this. */
static ms_status produce(producer *p, ms_err *e, unsigned char *chunk,
                         size_t cap, const unsigned char **out, size_t *len,
                         bool *last)
{
	ms_status st;
	*len = 0;
	*out = chunk;
	if (!p->compress && p->mem) {
		uint64_t left = p->mem_size - p->mem_off;
		*len = cap < left ? cap : (size_t)left;
		*out = p->mem + p->mem_off;
		ms__sha256_update(p->hash, *out, *len);
		p->mem_off += *len;
		p->in_bytes += *len;
		p->out_bytes += *len;
		*last = p->eof = p->mem_off == p->mem_size;
		if (p->progress)
			p->progress(p->progress_payload, p->base_done + p->in_bytes,
			            p->grand_total);
		return MS_OK;
	}
	if (!p->compress) {
		st = read_in(p, e, chunk, cap, len);
		if (st != MS_OK)
			return st;
		if (!p->eof && p->total == p->in_bytes) {
			/* a regular file that ends exactly at a chunk boundary:
			 * peek so that we know this is the last chunk */
			unsigned char b;
			ssize_t r;
			do
				r = read(p->fd, &b, 1);
			while (r < 0 && errno == EINTR);
			if (r == 0)
				p->eof = true;
			else if (r > 0)
				return ms__err_set(e, MS_EIO,
				                   "%s: file grew while being read",
				                   p->label);
		}
		p->out_bytes += *len;
		*last = p->eof;
		return MS_OK;
	}
	p->z.next_out = chunk;
	p->z.avail_out = (uInt)cap;
	while (p->z.avail_out > 0 && !p->z_done) {
		int zr;
		if (p->z.avail_in == 0 && !p->eof) {
			size_t got;
			st = read_in(p, e, p->inbuf, PRODUCER_INBUF, &got);
			if (st != MS_OK)
				return st;
			p->z.next_in = p->inbuf;
			p->z.avail_in = (uInt)got;
		}
		zr = deflate(&p->z, p->eof && p->z.avail_in == 0 ? Z_FINISH
		                                                 : Z_NO_FLUSH);
		if (zr == Z_STREAM_END)
			p->z_done = true;
		else if (zr != Z_OK && zr != Z_BUF_ERROR)
			return ms__err_set(e, MS_ERROR, "%s: deflate failed",
			                   p->label);
	}
	*len = cap - p->z.avail_out;
	p->out_bytes += *len;
	*last = p->z_done;
	return MS_OK;
}

static ms_status producer_open(producer *p, ms_err *e,
                               const ms_artifact_source *src, int level)
{
	memset(p, 0, sizeof *p);
	p->fd = -1;
	if (src->path) {
		struct stat st;
		p->label = src->path;
		p->fd = open(src->path, O_RDONLY | O_CLOEXEC);
		if (p->fd < 0)
			return ms__err_set(e, errno == ENOENT ? MS_ENOTFOUND : MS_EIO,
			                   "%s: cannot open: %s", src->path,
			                   strerror(errno));
		if (fstat(p->fd, &st) != 0 || S_ISDIR(st.st_mode)) {
			close(p->fd);
			p->fd = -1;
			return ms__err_set(e, MS_EINVAL, "%s: is a directory, not a "
			                   "model file", src->path);
		}
		p->total = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
		posix_fadvise(p->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	} else {
		if (src->data == NULL && src->size > 0)
			return ms__err_set(e, MS_EINVAL, "artifact %s: no data",
			                   src->name ? src->name : MS_PRIMARY_ARTIFACT);
		p->label = src->name ? src->name : MS_PRIMARY_ARTIFACT;
		p->mem = src->data ? src->data : (const unsigned char *)"";
		p->mem_size = p->total = src->size;
	}
	p->hash = ms__sha256_new();
	if (p->hash == NULL)
		return ms__err_set(e, MS_ENOMEM, "out of memory");
	if (level > 0) {
		p->compress = true;
		p->inbuf = ms__malloc(PRODUCER_INBUF);
		if (p->inbuf == NULL || deflateInit(&p->z, level) != Z_OK)
			return ms__err_set(e, MS_ENOMEM, "out of memory");
		p->z_init = true;
	}
	return MS_OK;
}

static void producer_close(producer *p)
{
	if (p->fd >= 0)
		close(p->fd);
	if (p->z_init)
		deflateEnd(&p->z);
	ms__free(p->inbuf);
	ms__sha256_free(p->hash);
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

/* One chunk row: a prepared INSERT with the bytes as a binary parameter.
 * Measured here against COPY BINARY of the same rows: 219 vs 116 MB/s
 * for 200 MB (docs/performance.md). */
static ms_status insert_chunk(ms_store *s, int64_t id, int32_t seq,
                              const unsigned char *data, size_t n)
{
	char ids[24], seqs[16];
	const char *p[3] = { ids, seqs, (const char *)data };
	int len[3] = { 0, 0, (int)n }, fmt[3] = { 0, 0, 1 };
	PGresult *res;
	ms_status st = MS_OK;

	if (!s->chunk_stmt_ready) {
		res = PQprepare(s->conn, "ms_chunk_insert",
		                "INSERT INTO model_artifact_chunks (artifact_id, seq,"
		                " data) VALUES ($1, $2, $3)", 3, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			st = ms__err_pg(&s->err, s->conn, res, "push: prepare");
		PQclear(res);
		if (st != MS_OK)
			return st;
		s->chunk_stmt_ready = true;
	}
	snprintf(ids, sizeof ids, "%lld", (long long)id);
	snprintf(seqs, sizeof seqs, "%d", seq);
	res = PQexecPrepared(s->conn, "ms_chunk_insert", 3, p, len, fmt, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		st = ms__err_pg(&s->err, s->conn, res, "push: chunk");
	PQclear(res);
	return st;
}

static void fmt_double(char *buf, size_t n, double v, const char **param)
{
	if (isnan(v)) {
		*param = NULL;
	} else {
		snprintf(buf, n, "%.17g", v);
		*param = buf;
	}
}

/* INSERT the artifact row; for the primary of a generated version, pick
 * the first free YYYYMMDD_HHMMSS[_n] under a savepoint. */
static ms_status insert_row(push_ctx *c, const char *artifact, bool primary,
                            const unsigned char *inline_data, size_t inline_len,
                            const unsigned char *sha, uint64_t size,
                            uint64_t stored, int32_t chunks, int64_t *id_out)
{
	ms_store *s = c->s;
	const ms_push_options *o = c->o;
	char acc[32], rmse[32], r2[32], sz[24], ssz[24], nch[16];
	const char *p[16];
	int len[16] = { 0 }, fmt[16] = { 0 };
	char base[MS_VERSION_MAX + 1];
	int attempt;

	fmt_double(acc, sizeof acc, o->accuracy, &p[5]);
	fmt_double(rmse, sizeof rmse, o->rmse, &p[6]);
	fmt_double(r2, sizeof r2, o->r2, &p[7]);
	snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
	snprintf(ssz, sizeof ssz, "%llu", (unsigned long long)stored);
	snprintf(nch, sizeof nch, "%d", chunks);
	p[0] = o->run_id ? o->run_id : c->version;
	p[2] = o->model_type ? o->model_type : "unknown";
	p[3] = inline_data ? (const char *)inline_data : NULL;
	len[3] = (int)inline_len;
	fmt[3] = 1;
	if (inline_data && inline_len == 0)
		p[3] = "";
	p[4] = sz;
	p[8] = c->name;
	p[9] = artifact;
	p[10] = (const char *)sha;
	len[10] = sha ? 32 : 0;
	fmt[10] = 1;
	p[11] = o->compress_level > 0 ? "zlib" : "none";
	p[12] = ssz;
	p[13] = nch;
	p[14] = c->metrics;
	p[15] = c->params;
	snprintf(base, sizeof base, "%s", c->version);

	for (attempt = 1;; attempt++) {
		PGresult *res;
		bool retry = primary && c->generated && attempt < 1000;
		if (attempt > 1) {
			char tmp[MS_VERSION_MAX + 16];
			snprintf(tmp, sizeof tmp, "%.40s_%d", base, attempt);
			memcpy(c->version, tmp, sizeof c->version - 1);
			c->version[sizeof c->version - 1] = '\0';
		}
		if (o->run_id == NULL)
			p[0] = c->version;
		p[1] = c->version;
		if (retry)
			PQclear(PQexec(s->conn, "SAVEPOINT ms_version"));
		res = PQexecParams(s->conn,
		                   "INSERT INTO model_artifacts (run_id, model_version,"
		                   " model_type, model_binary, model_size_bytes,"
		                   " accuracy_score, rmse_score, r2_score, model_name,"
		                   " artifact, sha256, compression, stored_size_bytes,"
		                   " chunk_count, metrics, params) VALUES ($1, $2, $3,"
		                   " $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
		                   " $15, $16) RETURNING id",
		                   16, NULL, p, len, fmt, 0);
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			*id_out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
			PQclear(res);
			return MS_OK;
		}
		{
			ms_status st = ms__err_pg(&s->err, s->conn, res, "push");
			PQclear(res);
			if (st == MS_EEXISTS && retry) {
				PQclear(PQexec(s->conn, "ROLLBACK TO SAVEPOINT ms_version"));
				continue;
			}
			if (st == MS_EEXISTS)
				return ms__err_set(&s->err, MS_EEXISTS,
				                   "push: %s version \"%s\" artifact %s "
				                   "already exists", c->name, c->version,
				                   artifact);
			return st;
		}
	}
}

static ms_status push_one(push_ctx *c, const ms_artifact_source *src,
                          bool primary)
{
	ms_store *s = c->s;
	const char *artifact = src->name ? src->name : MS_PRIMARY_ARTIFACT;
	producer p;
	const unsigned char *bytes;
	size_t len;
	bool last;
	unsigned char digest[32];
	int64_t id = 0;
	int32_t seq = 0;
	ms_status st;
	PGresult *res;

	memset(&p, 0, sizeof p);
	p.fd = -1;
	st = producer_open(&p, &s->err, src, c->o->compress_level);
	p.progress = c->o->progress;
	p.progress_payload = c->o->progress_payload;
	p.base_done = c->done;
	p.grand_total = c->grand_total;
	if (st != MS_OK)
		goto out;
	st = produce(&p, &s->err, c->chunk, s->chunk_size, &bytes, &len, &last);
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
	for (;;) {
		if (st == MS_OK)
			st = insert_chunk(s, id, seq++, bytes, len);
		if (st != MS_OK || last)
			break;
		st = produce(&p, &s->err, c->chunk, s->chunk_size, &bytes, &len,
		             &last);
		if (st == MS_OK && len == 0 && last)
			break;
	}
	if (st != MS_OK)
		goto out;
	ms__sha256_final(p.hash, digest);
	{
		char ids[24], sz[24], ssz[24], nch[16];
		const char *prm[5] = { ids, (const char *)digest, sz, ssz, nch };
		int lens[5] = { 0, 32, 0, 0, 0 }, fmts[5] = { 0, 1, 0, 0, 0 };
		snprintf(ids, sizeof ids, "%lld", (long long)id);
		snprintf(sz, sizeof sz, "%llu", (unsigned long long)p.in_bytes);
		snprintf(ssz, sizeof ssz, "%llu", (unsigned long long)p.out_bytes);
		snprintf(nch, sizeof nch, "%d", seq);
		res = PQexecParams(s->conn,
		                   "UPDATE model_artifacts SET sha256 = $2,"
		                   " model_size_bytes = $3, stored_size_bytes = $4,"
		                   " chunk_count = $5 WHERE id = $1",
		                   5, NULL, prm, lens, fmts, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			st = ms__err_pg(&s->err, s->conn, res, "push");
		PQclear(res);
	}
out:
	c->done += p.in_bytes;
	producer_close(&p);
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
	if (m == NULL || !json_is_object(m)) {
		json_decref(m);
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid metrics JSON: must be an object");
	}
	pa = o->params_json ? json_loads(o->params_json, 0, &jerr) : json_object();
	if (pa == NULL || !json_is_object(pa)) {
		json_decref(m);
		json_decref(pa);
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid params JSON: must be an object");
	}
	if (!isnan(o->accuracy))
		json_object_set_new(m, "accuracy", json_real(o->accuracy));
	if (!isnan(o->rmse))
		json_object_set_new(m, "rmse", json_real(o->rmse));
	if (!isnan(o->r2))
		json_object_set_new(m, "r2", json_real(o->r2));
	c->metrics = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
	c->params = json_dumps(pa, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
	json_decref(m);
	json_decref(pa);
	if (c->metrics == NULL || c->params == NULL)
		return ms__err_set(&s->err, MS_ENOMEM, "push: out of memory");
	return MS_OK;
}

static ms_status validate_push(ms_store *s, const ms_push_options *o,
                               const ms_artifact_source *src, size_t n,
                               size_t *primary)
{
	size_t i, j;
	if (o->version != MS_PUSH_OPTIONS_VERSION)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid ms_push_options version: %u", o->version);
	if (o->model_version && check_version(s, o->model_version) != MS_OK)
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

ms_status ms_store_push(ms_store *s, ms_buf *version_out,
                        const ms_push_options *opts,
                        const ms_artifact_source *src, size_t n)
{
	ms_push_options def;
	push_ctx c;
	size_t primary = 0, i;
	ms_status st;

	REQUIRE_CONN(s);
	if (opts == NULL) {
		ms_push_options_init(&def, MS_PUSH_OPTIONS_VERSION);
		opts = &def;
	}
	memset(&c, 0, sizeof c);
	c.s = s;
	c.o = opts;
	c.name = opts->model_name;
	if ((st = check_name(s, &c.name)) != MS_OK)
		return st;
	if ((st = validate_push(s, opts, src, n, &primary)) != MS_OK)
		return st;
	if (opts->model_version) {
		snprintf(c.version, sizeof c.version, "%s", opts->model_version);
	} else {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(c.version, sizeof c.version, "%Y%m%d_%H%M%S", &tm);
		c.generated = true;
	}
	for (i = 0; i < n; i++) {
		if (src[i].path) {
			struct stat sb;
			if (stat(src[i].path, &sb) == 0 && S_ISREG(sb.st_mode))
				c.grand_total += (uint64_t)sb.st_size;
		} else {
			c.grand_total += src[i].size;
		}
	}
	if ((st = build_json(&c)) != MS_OK)
		goto out;
	if (s->chunk_buf == NULL)
		s->chunk_buf = ms__malloc(s->chunk_size);
	c.chunk = s->chunk_buf;
	if (c.chunk == NULL) {
		st = ms__err_set(&s->err, MS_ENOMEM, "push: out of memory");
		goto out;
	}
	if ((st = begin(s, "push")) != MS_OK)
		goto out;
	/* The primary first: its INSERT settles a generated version. */
	st = push_one(&c, &src[primary], true);
	for (i = 0; st == MS_OK && i < n; i++)
		if (i != primary)
			st = push_one(&c, &src[i], false);
	if (st == MS_OK) {
		const char *p[4] = { c.name, c.version, c.metrics,
		                     opts->run_id ? opts->run_id : c.version };
		st = ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK, "push",
		              "INSERT INTO model_metrics (model_name, model_version,"
		              " metric, value) SELECT $1, $2, key, (value #>> '{}')"
		              "::float8 FROM jsonb_each($3::jsonb)"
		              " WHERE jsonb_typeof(value) = 'number'", 3, p);
		if (st == MS_OK) {
			const char *q[3] = { p[3], c.name, c.params };
			st = ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK, "push",
			              "INSERT INTO model_runs (run_id, model_name, params)"
			              " VALUES ($1, $2, $3::jsonb)"
			              " ON CONFLICT (run_id) DO NOTHING", 3, q);
		}
	}
	if (st == MS_OK && opts->production)
		st = promote_tx(s, c.name, c.version, "promote",
		                opts->reason ? opts->reason : "push --production");
	if (st == MS_OK)
		st = commit(s, "push");
	else
		rollback(s);
	if (st == MS_OK && ms__buf_set(version_out, c.version,
	                               strlen(c.version)) != MS_OK)
		st = ms__err_set(&s->err, MS_ENOMEM, "push: out of memory");
out:
	free(c.metrics); /* jansson's */
	free(c.params);
	return st;
}

/* ------------------------------------------------------------------ */
/* read side                                                           */
/* ------------------------------------------------------------------ */

ms_status ms_store_show(ms_store *s, ms_artifact_info *out, const char *name,
                        const char *selector, const char *artifact)
{
	if (out)
		memset(out, 0, sizeof *out); /* safe to dispose on any path */
	REQUIRE_CONN(s);
	if (out == NULL)
		return ms__err_set(&s->err, MS_EINVAL, "show: no output");
	return ms__artifact_resolve(s->conn, &s->err, out, name, selector,
	                            artifact);
}

ms_status ms_store_pull(ms_store *s, ms_artifact_info *info, const char *name,
                        const char *selector, const char *artifact,
                        ms_write_fn sink, void *payload,
                        ms_progress_fn progress, void *progress_payload)
{
	if (info)
		memset(info, 0, sizeof *info); /* safe to dispose on any path */
	REQUIRE_CONN(s);
	return ms__artifact_fetch(s->conn, &s->err, info, name, selector,
	                          artifact, sink, payload, progress,
	                          progress_payload, NULL);
}

ms_status ms_store_pull_file(ms_store *s, ms_artifact_info *info,
                             const char *name, const char *selector,
                             const char *artifact, const char *path,
                             int overwrite, ms_progress_fn progress,
                             void *progress_payload)
{
	ms_atomic_file *af = NULL;
	ms_status st;
	if (info)
		memset(info, 0, sizeof *info); /* safe to dispose on any path */
	REQUIRE_CONN(s);
	if (path == NULL || path[0] == '\0')
		return ms__err_set(&s->err, MS_EINVAL, "pull: no output file");
	st = ms__atomic_open(&af, &s->err, path, overwrite);
	if (st != MS_OK)
		return st;
	st = ms__artifact_fetch(s->conn, &s->err, info, name, selector, artifact,
	                        ms__atomic_write, af, progress, progress_payload,
	                        NULL);
	if (st == MS_OK)
		return ms__atomic_commit(af, &s->err);
	ms__atomic_abort(af);
	return st;
}

ms_status ms_store_export(ms_store *s, ms_artifact_info *info,
                          const char *name, const char *selector,
                          const char *dir, ms_progress_fn progress,
                          void *progress_payload)
{
	char path[PATH_MAX], mdir[PATH_MAX], actual[65] = "";
	ms_artifact_info local;
	ms_artifact_info *inf = info ? info : &local;
	ms_atomic_file *af = NULL;
	ms_status st;

	memset(inf, 0, sizeof *inf); /* safe to dispose on any path */
	REQUIRE_CONN(s);
	if ((st = check_name(s, &name)) != MS_OK)
		return st;
	if (dir == NULL || dir[0] == '\0')
		dir = "models";
	if (!ms__fallback_path(mdir, sizeof mdir, dir, name, "") ||
	    !ms__fallback_path(path, sizeof path, dir, name, "model.bin"))
		return ms__err_set(&s->err, MS_EINVAL, "export: path too long");
	mdir[strlen(mdir) - 1] = '\0'; /* drop the trailing slash */
	if ((st = ms__mkdirs(&s->err, mdir)) != MS_OK)
		return st;
	st = ms__atomic_open(&af, &s->err, path, 1);
	if (st != MS_OK)
		return st;
	st = ms__artifact_fetch(s->conn, &s->err, inf, name, selector, NULL,
	                        ms__atomic_write, af, progress, progress_payload,
	                        actual);
	/* a seed-era row has no recorded hash: the sidecar gets the one
	 * computed while exporting, so the copy is verifiable from now on */
	if (st == MS_OK && inf->sha256[0] == '\0')
		memcpy(inf->sha256, actual, sizeof actual);
	if (st == MS_OK)
		st = ms__atomic_commit(af, &s->err);
	else
		ms__atomic_abort(af);
	if (st == MS_OK)
		st = ms__sidecar_write(&s->err, mdir, inf);
	if (info == NULL)
		ms_artifact_info_dispose(&local);
	return st;
}

ms_status ms_store_list(ms_store *s, ms_artifact_info **out, size_t *count,
                        const char *name, size_t limit)
{
	PGresult *res;
	const char *p[2];
	char lim[24];
	ms_artifact_info *list;
	ms_status st;
	int i, n;

	REQUIRE_CONN(s);
	if (out == NULL || count == NULL)
		return ms__err_set(&s->err, MS_EINVAL, "list: no output");
	*out = NULL;
	*count = 0;
	if (name && (st = check_name(s, &name)) != MS_OK)
		return st;
	snprintf(lim, sizeof lim, "%zu", limit);
	p[0] = name;
	p[1] = limit ? lim : NULL;
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "list",
	              "SELECT " MS__ARTIFACT_COLUMNS " FROM model_artifacts a"
	              " WHERE ($1::text IS NULL OR a.model_name = $1)"
	              " AND a.artifact = 'model'"
	              " ORDER BY a.model_name, a.created_at DESC, a.id DESC"
	              " LIMIT $2::bigint", 2, p);
	if (st != MS_OK)
		return st;
	n = PQntuples(res);
	list = ms__calloc((size_t)n + 1, sizeof *list);
	if (list == NULL) {
		PQclear(res);
		return ms__err_set(&s->err, MS_ENOMEM, "list: out of memory");
	}
	for (i = 0; i < n; i++) {
		if (ms__artifact_info_from_row(&list[i], res, i) != MS_OK) {
			ms_artifact_list_free(list, (size_t)i);
			PQclear(res);
			return ms__err_set(&s->err, MS_ENOMEM, "list: out of memory");
		}
	}
	PQclear(res);
	*out = list;
	*count = (size_t)n;
	return MS_OK;
}

ms_status ms_store_prune(ms_store *s, ms_buf *deleted_out, const char *name,
                         unsigned keep, int dry_run)
{
	static const char VICTIMS[] =
		"SELECT model_version FROM (SELECT model_version,"
		" bool_or(is_production) AS prod, row_number() OVER"
		" (ORDER BY max(created_at) DESC, max(id) DESC) AS rn"
		" FROM model_artifacts WHERE model_name = $1"
		" GROUP BY model_version) v WHERE rn > $2::int AND NOT prod";
	char sql[1024], k[16];
	const char *p[2] = { name, k };
	PGresult *res;
	json_t *arr;
	char *text;
	ms_status st;
	int i;

	REQUIRE_CONN(s);
	if ((st = check_name(s, &name)) != MS_OK)
		return st;
	p[0] = name;
	snprintf(k, sizeof k, "%u", keep);
	if ((st = begin(s, "prune")) != MS_OK)
		return st;
	/* Same lock as promotion: the production version cannot move while
	 * we pick what to delete. */
	st = ms__exec(s->conn, &s->err, NULL, PGRES_TUPLES_OK, "prune",
	              LOCK_SQL, 1, p);
	if (st != MS_OK)
		goto fail;
	if (dry_run)
		snprintf(sql, sizeof sql, "%s ORDER BY rn", VICTIMS);
	else
		snprintf(sql, sizeof sql,
		         "WITH d AS (DELETE FROM model_artifacts WHERE model_name ="
		         " $1 AND NOT is_production AND model_version IN (%s)"
		         " RETURNING model_version, created_at, id)"
		         " SELECT model_version FROM d GROUP BY model_version"
		         " ORDER BY max(created_at) DESC, max(id) DESC", VICTIMS);
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "prune", sql, 2,
	              p);
	if (st != MS_OK)
		goto fail;
	arr = json_array();
	for (i = 0; arr && i < PQntuples(res); i++)
		if (json_array_append_new(arr, json_string(PQgetvalue(res, i, 0))))
			break;
	PQclear(res);
	text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
	json_decref(arr);
	if (text == NULL) {
		st = ms__err_set(&s->err, MS_ENOMEM, "prune: out of memory");
		goto fail;
	}
	if (dry_run)
		rollback(s);
	else
		st = commit(s, "prune");
	if (st == MS_OK && ms__buf_set(deleted_out, text, strlen(text)) != MS_OK)
		st = ms__err_set(&s->err, MS_ENOMEM, "prune: out of memory");
	free(text);
	return st;
fail:
	rollback(s);
	return st;
}

ms_status ms_store_verify(ms_store *s, const char *name, ms_verify_fn cb,
                          void *payload, size_t *checked, size_t *bad)
{
	PGresult *res;
	const char *p[1] = { name };
	size_t nchecked = 0, nbad = 0;
	ms_status st, worst = MS_OK;
	int i, n;

	REQUIRE_CONN(s);
	if (name && (st = check_name(s, &name)) != MS_OK)
		return st;
	multi_progress mp = { s, 0, 0 };

	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "verify",
	              "SELECT model_name, model_version, artifact,"
	              " coalesce(stored_size_bytes, model_size_bytes, 0),"
	              " sum(coalesce(stored_size_bytes, model_size_bytes, 0))"
	              " OVER () FROM model_artifacts"
	              " WHERE ($1::text IS NULL OR model_name = $1)"
	              " ORDER BY model_name, created_at, id", 1, p);
	if (st != MS_OK)
		return st;
	n = PQntuples(res);
	if (n > 0)
		mp.total = strtoull(PQgetvalue(res, 0, 4), NULL, 10);
	for (i = 0; i < n; i++) {
		ms_artifact_info info;
		char actual[65] = "";
		ms_err save;
		st = ms__artifact_fetch(s->conn, &s->err, &info,
		                        PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		                        PQgetvalue(res, i, 2), NULL, NULL,
		                        s->progress ? multi_progress_fn : NULL, &mp,
		                        actual);
		mp.base += strtoull(PQgetvalue(res, i, 3), NULL, 10);
		if (st == MS_EUNREACHABLE || st == MS_ENOMEM) {
			ms_artifact_info_dispose(&info);
			PQclear(res);
			return st;
		}
		nchecked++;
		if (st != MS_OK) {
			nbad++;
			save = s->err;
			worst = MS_EINTEGRITY;
			if (cb)
				cb(payload, &info, st, actual);
			s->err = save;
		} else if (cb) {
			cb(payload, &info, MS_OK, actual);
		}
		ms_artifact_info_dispose(&info);
	}
	PQclear(res);
	if (checked)
		*checked = nchecked;
	if (bad)
		*bad = nbad;
	if (worst != MS_OK)
		return ms__err_set(&s->err, worst,
		                   "verify: %zu of %zu artifacts failed their "
		                   "integrity check", nbad, nchecked);
	return MS_OK;
}

ms_status ms_store_backfill_hashes(ms_store *s, const char *name,
                                   size_t *updated)
{
	PGresult *res;
	const char *p[1] = { name };
	size_t n_upd = 0;
	ms_status st;
	int i;

	REQUIRE_CONN(s);
	if (updated)
		*updated = 0;
	if (name && (st = check_name(s, &name)) != MS_OK)
		return st;
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "backfill",
	              "SELECT id::text, model_name, model_version, artifact FROM"
	              " model_artifacts WHERE sha256 IS NULL AND"
	              " ($1::text IS NULL OR model_name = $1) ORDER BY id", 1, p);
	if (st != MS_OK)
		return st;
	for (i = 0; i < PQntuples(res) && st == MS_OK; i++) {
		char hex[65];
		unsigned char digest[32];
		const char *q[2];
		int len[2] = { 0, 32 }, fmt[2] = { 0, 1 };
		PGresult *u;
		st = ms__artifact_fetch(s->conn, &s->err, NULL, PQgetvalue(res, i, 1),
		                        PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
		                        NULL, NULL, s->progress, s->progress_payload,
		                        hex);
		if (st != MS_OK)
			break;
		ms__unhex32(digest, hex);
		q[0] = PQgetvalue(res, i, 0);
		q[1] = (const char *)digest;
		u = PQexecParams(s->conn, "UPDATE model_artifacts SET sha256 = $2"
		                 " WHERE id = $1 AND sha256 IS NULL", 2, NULL, q, len,
		                 fmt, 0);
		if (PQresultStatus(u) != PGRES_COMMAND_OK)
			st = ms__err_pg(&s->err, s->conn, u, "backfill");
		else if (strcmp(PQcmdTuples(u), "1") == 0)
			n_upd++;
		PQclear(u);
	}
	PQclear(res);
	if (updated)
		*updated = n_upd;
	return st;
}

ms_status ms_store_record_actual(ms_store *s, const char *prediction_id,
                                 double actual)
{
	char val[32];
	const char *p[2] = { prediction_id, val };
	PGresult *res;
	ms_status st;

	REQUIRE_CONN(s);
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
