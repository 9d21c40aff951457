/*
 * fetch.c - resolve an artifact and stream its original bytes, verified.
 *
 * Shared by ms_store_pull/export/verify and the loader.  Bytes are read
 * in single-row mode, one chunk (or one slice of an inline value) per
 * row, in binary format.  Small inline values come back with the
 * metadata in one round trip.  No transaction is needed: a committed
 * artifact's bytes never change, and a concurrent prune is recognised
 * (missing chunks plus a missing row) and reported as not found.
 */
#define _GNU_SOURCE
#include "fetch.h"

#include "alloc.h"
#include "conn.h"
#include "deadline.h"
#include "errbuf.h"
#include "hash.h"
#include "names.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Inline values are read in slices of this size, so a seed-era row of
 * hundreds of MB never lands in one PGresult. */
#define INLINE_SLICE (4 << 20)

static void copy_field(char *dst, size_t n, const PGresult *res, int row,
                       int col)
{
	snprintf(dst, n, "%s", PQgetvalue(res, row, col));
}

static double get_double(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NAN;
	return strtod(PQgetvalue(res, row, col), NULL);
}

ms_status ms__artifact_info_from_row(ms_artifact_info *info,
                                     const PGresult *res, int row)
{
	memset(info, 0, sizeof *info);
	info->version = MS_ARTIFACT_INFO_VERSION;
	info->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
	copy_field(info->model_name, sizeof info->model_name, res, row, 1);
	copy_field(info->model_version, sizeof info->model_version, res, row, 2);
	copy_field(info->artifact, sizeof info->artifact, res, row, 3);
	copy_field(info->run_id, sizeof info->run_id, res, row, 4);
	copy_field(info->model_type, sizeof info->model_type, res, row, 5);
	copy_field(info->sha256, sizeof info->sha256, res, row, 6);
	copy_field(info->compression, sizeof info->compression, res, row, 7);
	copy_field(info->created_at, sizeof info->created_at, res, row, 8);
	info->size = strtoll(PQgetvalue(res, row, 9), NULL, 10);
	info->stored_size = strtoll(PQgetvalue(res, row, 10), NULL, 10);
	info->chunk_count = (int32_t)strtol(PQgetvalue(res, row, 11), NULL, 10);
	info->is_production = PQgetvalue(res, row, 12)[0] == 't';
	info->accuracy = get_double(res, row, 13);
	info->rmse = get_double(res, row, 14);
	info->r2 = get_double(res, row, 15);
	info->metrics_json = ms__strdup(PQgetvalue(res, row, 16));
	info->params_json = ms__strdup(PQgetvalue(res, row, 17));
	if (info->metrics_json == NULL || info->params_json == NULL) {
		ms_artifact_info_dispose(info);
		return MS_ENOMEM;
	}
	return MS_OK;
}

size_t ms__artifact_info_size(unsigned int version)
{
	switch (version) {
	case 1:
		return MS__SIZE_THROUGH(ms_artifact_info, params_json);
	default:
		return 0;
	}
}

void ms__artifact_info_give(ms_artifact_info *out, ms_artifact_info *full)
{
	unsigned int version = out->version;
	/* every field today is in version 1: nothing of @p full is left
	 * behind; a field appended later that owns memory is freed here
	 * when @p out's version lacks it */
	memcpy(out, full, ms__artifact_info_size(version));
	out->version = version;
	memset(full, 0, sizeof *full);
}

void ms_artifact_info_dispose(ms_artifact_info *info)
{
	/* an unknown version: the layout is unknown, so nothing is freed */
	if (info == NULL || ms__artifact_info_size(info->version) == 0)
		return;
	ms__free(info->metrics_json);
	ms__free(info->params_json);
	info->metrics_json = NULL;
	info->params_json = NULL;
}

/* ms_store_list's result: the infos are today's layout, reached only
 * through ms_artifact_list_get(), so their size is the library's. */
struct ms_artifact_list {
	size_t count;
	ms_artifact_info items[];
};

ms_status ms__artifact_list_from_result(ms_artifact_list **out,
                                        const PGresult *res)
{
	size_t n = (size_t)PQntuples(res), i;
	ms_artifact_list *l;

	*out = NULL;
	l = ms__calloc(1, sizeof *l + n * sizeof(ms_artifact_info));
	if (l == NULL)
		return MS_ENOMEM;
	for (i = 0; i < n; i++) {
		if (ms__artifact_info_from_row(&l->items[i], res, (int)i) != MS_OK) {
			ms_artifact_list_free(l);
			return MS_ENOMEM;
		}
		l->count = i + 1;
	}
	*out = l;
	return MS_OK;
}

size_t ms_artifact_list_count(const ms_artifact_list *list)
{
	return list ? list->count : 0;
}

const ms_artifact_info *ms_artifact_list_get(const ms_artifact_list *list,
                                             size_t i)
{
	if (list == NULL || i >= list->count)
		return NULL;
	return &list->items[i];
}

void ms_artifact_list_free(ms_artifact_list *list)
{
	size_t i;
	if (list == NULL)
		return;
	for (i = 0; i < list->count; i++)
		ms_artifact_info_dispose(&list->items[i]);
	ms__free(list);
}

/* (name, selector, artifact) to one row of model_artifacts a. */
#define RESOLVE_FROM                                                        \
	" FROM model_artifacts a "                                          \
	"WHERE a.model_name = $1 AND a.artifact = $2 AND a.model_version = "  \
	"  CASE $3::text "                                                    \
	"  WHEN 'production' THEN (SELECT p.model_version FROM model_artifacts p" \
	"       WHERE p.model_name = $1 AND p.is_production LIMIT 1) "          \
	"  WHEN 'latest' THEN (SELECT l.model_version FROM model_artifacts l"   \
	"       WHERE l.model_name = $1 ORDER BY l.created_at DESC, l.id DESC"  \
	"       LIMIT 1) "                                                    \
	"  ELSE CASE WHEN left($3::text, 1) = '@' THEN"                        \
	"       (SELECT al.model_version FROM model_aliases al"                \
	"        WHERE al.model_name = $1 AND al.alias = substr($3::text, 2))"  \
	"       ELSE $3::text END END"

/* For a fetch: the metadata and, for an inline value up to 4 MiB, its
 * bytes in the same round trip. */
static const char RESOLVE_BYTES_SQL[] =
	"SELECT " MS__ARTIFACT_COLUMNS ", CASE WHEN a.chunk_count = 0 AND"
	" octet_length(a.model_binary) <= 4194304 THEN a.model_binary END"
	RESOLVE_FROM;

/* For show, promote, alias and metrics: the metadata alone (it used to
 * be the query above, so a show of a 4 MiB inline model sent 4 MiB). */
static const char RESOLVE_SQL[] = "SELECT " MS__ARTIFACT_COLUMNS RESOLVE_FROM;

/* Resolve to one row; NULLs mean "default", "production", the primary.
 * With @p res_out, small inline artifacts come back in the same round
 * trip, and *res_out keeps the result alive for their bytes. */
static ms_status resolve(PGconn *conn, ms_err *e, ms_artifact_info *info,
                         const char *name, const char *selector,
                         const char *artifact, PGresult **res_out)
{
	const char *params[3];
	PGresult *res;
	ms_status st;

	if (res_out)
		*res_out = NULL;
	memset(info, 0, sizeof *info);
	params[0] = name = name ? name : MS_DEFAULT_NAME;
	params[1] = artifact = artifact ? artifact : MS_PRIMARY_ARTIFACT;
	params[2] = selector = selector ? selector : "production";
	if ((st = ms__name_arg(e, "model name", name)) != MS_OK ||
	    (st = ms__name_arg(e, "artifact name", artifact)) != MS_OK ||
	    (st = ms__selector_arg(e, selector)) != MS_OK)
		return st;
	res = ms__pq_exec_params(conn, res_out ? RESOLVE_BYTES_SQL : RESOLVE_SQL,
	                         3, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		st = ms__err_pg(e, conn, res, "resolve");
		PQclear(res);
		return st;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		if (ms__is_alias_selector(selector))
			return ms__err_set(e, MS_ENOTFOUND,
			                   "%s: no alias \"%s\", or its version has no "
			                   "artifact%s%s", name, selector + 1,
			                   strcmp(artifact, MS_PRIMARY_ARTIFACT)
			                   ? " " : "",
			                   strcmp(artifact, MS_PRIMARY_ARTIFACT)
			                   ? artifact : "");
		if (strcmp(selector, "production") == 0)
			return ms__err_set(e, MS_ENOTFOUND,
			                   "%s: no production model%s%s",
			                   name, strcmp(artifact, MS_PRIMARY_ARTIFACT)
			                   ? " artifact " : "",
			                   strcmp(artifact, MS_PRIMARY_ARTIFACT)
			                   ? artifact : "");
		return ms__err_set(e, MS_ENOTFOUND,
		                   "%s: version \"%s\"%s%s not found", name, selector,
		                   strcmp(artifact, MS_PRIMARY_ARTIFACT)
		                   ? " artifact " : "",
		                   strcmp(artifact, MS_PRIMARY_ARTIFACT)
		                   ? artifact : "");
	}
	st = ms__artifact_info_from_row(info, res, 0);
	if (st != MS_OK) {
		PQclear(res);
		return ms__err_set(e, st, "resolve: out of memory");
	}
	if (res_out)
		*res_out = res;
	else
		PQclear(res);
	return MS_OK;
}

ms_status ms__artifact_resolve(PGconn *conn, ms_err *e, ms_artifact_info *info,
                               const char *model_name, const char *selector,
                               const char *artifact)
{
	return resolve(conn, e, info, model_name, selector, artifact, NULL);
}

/* Where stored bytes go: through zlib or straight to the hash + sink. */
typedef struct stream {
	ms_sha256 *hash;              /* NULL: the sink hashes (digest) */
	ms_digest_fn digest;
	ms_write_fn sink;
	void *payload;
	z_stream z;
	bool inflating, z_done;
	unsigned char *zout;
	uint64_t out_bytes;
	uint64_t in_bytes, in_total;
	ms_progress_fn progress;
	void *progress_payload;
} stream;

#define ZOUT_SIZE (256 << 10)

static ms_status emit(stream *s, const void *data, size_t n)
{
	if (n == 0)
		return MS_OK; /* sinks never see empty writes */
	if (s->hash)
		ms__sha256_update(s->hash, data, n);
	s->out_bytes += n;
	return s->sink ? s->sink(s->payload, data, n) : MS_OK;
}

static ms_status feed(stream *s, ms_err *e, const void *data, size_t n)
{
	ms_status st = MS_OK;
	s->in_bytes += n;
	if (!s->inflating) {
		st = emit(s, data, n);
	} else {
		s->z.next_in = (unsigned char *)data;
		s->z.avail_in = (uInt)n;
		do {
			int zr;
			size_t produced;
			s->z.next_out = s->zout;
			s->z.avail_out = ZOUT_SIZE;
			zr = inflate(&s->z, Z_NO_FLUSH);
			if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
				return ms__err_set(e, MS_EINTEGRITY,
				                   "inflate: corrupt compressed bytes: %s",
				                   s->z.msg ? s->z.msg : "zlib error");
			produced = ZOUT_SIZE - s->z.avail_out;
			if (produced > 0)
				st = emit(s, s->zout, produced);
			if (zr == Z_STREAM_END) {
				s->z_done = true;
				if (s->z.avail_in > 0)
					return ms__err_set(e, MS_EINTEGRITY,
					                   "inflate: trailing bytes after "
					                   "the compressed stream");
				break;
			}
		} while (st == MS_OK &&
		         (s->z.avail_out == 0 || s->z.avail_in > 0));
	}
	if (s->progress)
		s->progress(s->progress_payload, s->in_bytes, s->in_total);
	return st;
}

/* Stream rows of one bytea column (col 0, binary) in single-row mode.
 * With @p check_seq, column 1 is the chunk's seq (int4, binary). */
static ms_status stream_rows(PGconn *conn, ms_err *e, stream *s,
                             const char *sql, int nparams,
                             const char *const *params, bool check_seq,
                             int32_t *rows_out)
{
	PGresult *res;
	ms_status st = MS_OK;
	int32_t rows = 0;

	if (!PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 1))
		return ms__err_pg(e, conn, NULL, "fetch");
	if (!PQsetSingleRowMode(conn))
		st = ms__err_set(e, MS_ERROR, "fetch: cannot enter single-row mode");
	while ((res = ms__pq_get_result(conn)) != NULL) {
		ExecStatusType rs = PQresultStatus(res);
		if (rs == PGRES_SINGLE_TUPLE && st == MS_OK) {
			if (check_seq) {
				uint32_t be;
				memcpy(&be, PQgetvalue(res, 0, 1), 4);
				if ((int32_t)__builtin_bswap32(be) != rows)
					st = ms__err_set(e, MS_EINTEGRITY,
					                 "fetch: chunk %d missing", rows);
			}
			if (st == MS_OK)
				st = feed(s, e, PQgetvalue(res, 0, 0),
				          (size_t)PQgetlength(res, 0, 0));
			rows++;
		} else if (rs != PGRES_TUPLES_OK && rs != PGRES_SINGLE_TUPLE &&
		           st == MS_OK) {
			st = ms__err_pg(e, conn, res, "fetch");
		}
		PQclear(res);
	}
	if (rows_out)
		*rows_out = rows;
	if (st == MS_OK && PQstatus(conn) != CONNECTION_OK)
		st = ms__err_pg(e, conn, NULL, "fetch");
	return st;
}

static ms_status fetch_bytes(PGconn *conn, ms_err *e,
                             const ms_artifact_info *info, stream *s)
{
	char id[32], slice[32];
	const char *params[2] = { id, slice };
	int32_t rows = 0;
	ms_status st;

	snprintf(id, sizeof id, "%lld", (long long)info->id);
	if (info->chunk_count == 0) {
		snprintf(slice, sizeof slice, "%d", INLINE_SLICE);
		return stream_rows(conn, e, s,
		                   "SELECT substring(a.model_binary FROM s FOR $2::int)"
		                   " FROM model_artifacts a, generate_series(1,"
		                   " greatest(octet_length(a.model_binary), 1),"
		                   " $2::int) s WHERE a.id = $1 ORDER BY s",
		                   2, params, false, NULL);
	}
	st = stream_rows(conn, e, s,
	                 "SELECT data, seq FROM model_artifact_chunks"
	                 " WHERE artifact_id = $1 ORDER BY seq",
	                 1, params, true, &rows);
	if (st == MS_OK && rows != info->chunk_count) {
		/* chunks of a committed artifact never change; if some are
		 * gone, either the artifact was pruned meanwhile or the
		 * table was damaged */
		PGresult *res;
		const char *p[1] = { id };
		if (ms__exec(conn, e, &res, PGRES_TUPLES_OK, "fetch",
		             "SELECT 1 FROM model_artifacts WHERE id = $1", 1,
		             p) == MS_OK) {
			bool gone = PQntuples(res) == 0;
			PQclear(res);
			if (gone)
				return ms__err_set(e, MS_ENOTFOUND,
				                   "fetch: %s version %s was deleted "
				                   "while being read", info->model_name,
				                   info->model_version);
		}
		st = ms__err_set(e, MS_EINTEGRITY,
		                 "fetch: %s version %s: %d of %d chunks present",
		                 info->model_name, info->model_version, rows,
		                 info->chunk_count);
	}
	return st;
}

/* Set up @p s to hash (and inflate, for zlib) into @p sink. */
static ms_status stream_open(stream *s, ms_err *e, const ms_artifact_info *inf,
                             ms_write_fn sink, void *payload,
                             ms_progress_fn progress, void *progress_payload)
{
	if (s->digest == NULL && (s->hash = ms__sha256_new()) == NULL)
		return ms__err_set(e, MS_ENOMEM, "fetch: out of memory");
	s->sink = sink;
	s->payload = payload;
	s->progress = progress;
	s->progress_payload = progress_payload;
	s->in_total = inf->stored_size > 0 ? (uint64_t)inf->stored_size : 0;
	if (strcmp(inf->compression, "zlib") != 0)
		return MS_OK;
	s->inflating = true;
	s->zout = ms__malloc(ZOUT_SIZE);
	if (s->zout == NULL || inflateInit(&s->z) != Z_OK) {
		ms__free(s->zout);
		s->zout = NULL;
		s->inflating = false;
		return ms__err_set(e, MS_ENOMEM, "fetch: out of memory");
	}
	return MS_OK;
}

static void stream_close(stream *s)
{
	if (s->inflating)
		inflateEnd(&s->z);
	ms__free(s->zout);
	ms__sha256_free(s->hash);
}

/* After the last byte: the hash and size against what the row records. */
static ms_status stream_verify(stream *s, ms_err *e, ms_artifact_info *inf,
                               char *actual_hex)
{
	unsigned char digest[32];
	char hex[65];

	if (s->inflating && !s->z_done)
		return ms__err_set(e, MS_EINTEGRITY,
		                   "%s version %s: compressed bytes are truncated",
		                   inf->model_name, inf->model_version);
	if (s->digest) {
		ms_digest_fn fn = s->digest;
		ms_status st;
		s->digest = NULL; /* asked once */
		if ((st = fn(s->payload, digest)) != MS_OK)
			return ms__err_set(e, st, "fetch: out of memory");
	} else {
		ms__sha256_final(s->hash, digest);
	}
	ms__hex(hex, digest, 32);
	if (actual_hex)
		memcpy(actual_hex, hex, 65);
	if (inf->sha256[0] && strcmp(inf->sha256, hex) != 0)
		return ms__err_set(e, MS_EINTEGRITY,
		                   "%s version %s artifact %s: SHA-256 mismatch: "
		                   "recorded %s, bytes hash to %s",
		                   inf->model_name, inf->model_version,
		                   inf->artifact, inf->sha256, hex);
	if (inf->sha256[0] && inf->size >= 0 &&
	    (uint64_t)inf->size != s->out_bytes)
		return ms__err_set(e, MS_EINTEGRITY,
		                   "%s version %s: size mismatch: recorded %lld, "
		                   "read %llu", inf->model_name, inf->model_version,
		                   (long long)inf->size,
		                   (unsigned long long)s->out_bytes);
	if (inf->size < 0)
		inf->size = (int64_t)s->out_bytes;
	return MS_OK;
}

static ms_status fetch(PGconn *conn, ms_err *e, ms_artifact_info *info,
                       const char *model_name, const char *selector,
                       const char *artifact, ms_write_fn sink,
                       ms_digest_fn digest, void *payload,
                       ms_progress_fn progress, void *progress_payload,
                       char *actual_hex)
{
	ms_artifact_info local;
	ms_artifact_info *inf = info ? info : &local;
	PGresult *meta = NULL;
	stream s;
	ms_status st;

	memset(inf, 0, sizeof *inf);
	memset(&s, 0, sizeof s);
	s.digest = digest;
	st = resolve(conn, e, inf, model_name, selector, artifact, &meta);
	if (st == MS_OK)
		st = stream_open(&s, e, inf, sink, payload, progress,
		                 progress_payload);
	if (st == MS_OK) {
		if (!PQgetisnull(meta, 0, MS__ARTIFACT_NCOLUMNS))
			st = feed(&s, e, PQgetvalue(meta, 0, MS__ARTIFACT_NCOLUMNS),
			          (size_t)PQgetlength(meta, 0,
			                              MS__ARTIFACT_NCOLUMNS));
		else
			st = fetch_bytes(conn, e, inf, &s);
	}
	if (st == MS_OK)
		st = stream_verify(&s, e, inf, actual_hex);
	if (s.digest)
		(void)s.digest(payload, NULL); /* failed before the end */
	PQclear(meta);
	stream_close(&s);
	if (info == NULL)
		ms_artifact_info_dispose(&local);
	return st;
}

ms_status ms__artifact_fetch(PGconn *conn, ms_err *e, ms_artifact_info *info,
                             const char *model_name, const char *selector,
                             const char *artifact, ms_write_fn sink,
                             void *payload, ms_progress_fn progress,
                             void *progress_payload, char *actual_hex)
{
	return fetch(conn, e, info, model_name, selector, artifact, sink, NULL,
	             payload, progress, progress_payload, actual_hex);
}

ms_status ms__artifact_fetch_sink_hashes(PGconn *conn, ms_err *e,
                                         ms_artifact_info *info,
                                         const char *model_name,
                                         const char *selector,
                                         ms_write_fn sink, ms_digest_fn digest,
                                         void *payload, char *actual_hex)
{
	return fetch(conn, e, info, model_name, selector, NULL, sink, digest,
	             payload, NULL, NULL, actual_hex);
}
