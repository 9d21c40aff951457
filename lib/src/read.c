/*
 * read.c - the store's read side: show, pull (to a sink or to a file),
 * export with its sidecar, list, verify and the backfill of missing
 * hashes.  The bytes themselves come through fetch.c; this file owns
 * the arguments, output files and progress around it.
 */
#define _GNU_SOURCE
#include "store.h"

#include "alloc.h"
#include "conn.h"
#include "deadline.h"
#include "errbuf.h"
#include "fallback.h"
#include "fetch.h"
#include "hash.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* A caller's ms_artifact_info (may be NULL) on entry: its version must
 * be known, and all of that version but the version is zeroed, so the
 * caller can dispose it on any path.  An unknown version is left as is. */
static ms_status info_begin(ms_store *s, ms_artifact_info *info)
{
	size_t n, skip = offsetof(ms_artifact_info, id);
	if (info == NULL)
		return MS_OK;
	n = ms__artifact_info_size(info->version);
	if (n == 0) {
		if (s != NULL)
			ms__err_set(&s->err, MS_EINVAL,
			            "invalid ms_artifact_info version: %u",
			            info->version);
		return MS_EINVAL;
	}
	memset((char *)info + skip, 0, n - skip);
	return MS_OK;
}

/* The library fills @p full (today's layout); this hands it to the
 * caller's @p info, or frees it when there is none. */
static void info_end(ms_artifact_info *info, ms_artifact_info *full)
{
	if (info != NULL)
		ms__artifact_info_give(info, full);
	else
		ms_artifact_info_dispose(full);
}

ms_status ms_store_show(ms_artifact_info *out, ms_store *s, const char *name,
                        const char *selector, const char *artifact)
{
	ms_artifact_info full;
	ms_status st;

	if ((st = info_begin(s, out)) != MS_OK)
		return st;
	MS__STORE_REQUIRE_CONN(s);
	if (out == NULL)
		return ms__err_set(&s->err, MS_EINVAL, "show: no output");
	memset(&full, 0, sizeof full);
	st = ms__artifact_resolve(s->conn, &s->err, &full, name, selector,
	                          artifact);
	info_end(out, &full);
	return st;
}

ms_status ms_store_pull(ms_artifact_info *info, ms_store *s, const char *name,
                        const char *selector, const char *artifact,
                        ms_write_fn sink, void *payload,
                        ms_progress_fn progress, void *progress_payload)
{
	ms_artifact_info full;
	ms_status st;

	if ((st = info_begin(s, info)) != MS_OK)
		return st;
	MS__STORE_REQUIRE_CONN(s);
	memset(&full, 0, sizeof full);
	st = ms__artifact_fetch(s->conn, &s->err, &full, name, selector,
	                        artifact, sink, payload, progress,
	                        progress_payload, NULL);
	info_end(info, &full);
	return st;
}

static ms_status pull_file(ms_store *s, ms_artifact_info *full,
                           const char *name, const char *selector,
                           const char *artifact, const char *path,
                           int overwrite, ms_progress_fn progress,
                           void *progress_payload)
{
	ms_atomic_file *af = NULL;
	ms_status st;
	if (path == NULL || path[0] == '\0')
		return ms__err_set(&s->err, MS_EINVAL, "pull: no output file");
	st = ms__atomic_open(&af, &s->err, path, overwrite);
	if (st != MS_OK)
		return st;
	st = ms__artifact_fetch(s->conn, &s->err, full, name, selector, artifact,
	                        ms__atomic_write, af, progress, progress_payload,
	                        NULL);
	if (st == MS_OK)
		return ms__atomic_commit(af, &s->err);
	ms__atomic_abort(af);
	return st;
}

ms_status ms_store_pull_file(ms_artifact_info *info, ms_store *s,
                             const char *name, const char *selector,
                             const char *artifact, const char *path,
                             int overwrite, ms_progress_fn progress,
                             void *progress_payload)
{
	ms_artifact_info full;
	ms_status st;

	if ((st = info_begin(s, info)) != MS_OK)
		return st;
	MS__STORE_REQUIRE_CONN(s);
	memset(&full, 0, sizeof full);
	st = pull_file(s, &full, name, selector, artifact, path, overwrite,
	               progress, progress_payload);
	info_end(info, &full);
	return st;
}

static ms_status export(ms_store *s, ms_artifact_info *inf, const char *name,
                        const char *selector, const char *dir,
                        ms_progress_fn progress, void *progress_payload)
{
	char side[PATH_MAX], mdir[PATH_MAX], actual[65] = "";
	ms_fallback_writer *w = NULL;
	ms_status st;

	if ((st = ms__store_check_name(s, &name)) != MS_OK)
		return st;
	if (dir == NULL || dir[0] == '\0')
		dir = "models";
	if (!ms__fallback_name_ok(name))
		return ms__err_set(&s->err, MS_EINVAL, "export: a model named "
		                   "\"%s\" cannot have a fallback copy (the name "
		                   "is one of the default model's fallback files)",
		                   name);
	if (!ms__fallback_path(side, sizeof side, dir, name, "model.json") ||
	    !ms__dir_of(mdir, sizeof mdir, side))
		return ms__err_set(&s->err, MS_EINVAL, "export: path too long");
	if ((st = ms__fallback_begin(&w, &s->err, mdir)) != MS_OK)
		return st;
	st = ms__artifact_fetch(s->conn, &s->err, inf, name, selector, NULL,
	                        ms__fallback_write, w, progress,
	                        progress_payload, actual);
	/* a seed-era row has no recorded hash: the sidecar gets the one
	 * computed while exporting, so the copy is verifiable from now on */
	if (st == MS_OK && inf->sha256[0] == '\0')
		memcpy(inf->sha256, actual, sizeof actual);
	if (st == MS_OK)
		st = ms__fallback_commit(w, &s->err, inf);
	else
		ms__fallback_abort(w);
	return st;
}

ms_status ms_store_export(ms_artifact_info *info, ms_store *s,
                          const char *name, const char *selector,
                          const char *dir, ms_progress_fn progress,
                          void *progress_payload)
{
	ms_artifact_info full;
	ms_status st;

	if ((st = info_begin(s, info)) != MS_OK)
		return st;
	MS__STORE_REQUIRE_CONN(s);
	memset(&full, 0, sizeof full);
	st = export(s, &full, name, selector, dir, progress, progress_payload);
	info_end(info, &full);
	return st;
}

ms_status ms_store_list(ms_artifact_list **out, ms_store *s,
                        const char *name, size_t limit)
{
	PGresult *res;
	const char *p[2];
	char lim[24];
	ms_status st;

	if (out != NULL)
		*out = NULL;
	MS__STORE_REQUIRE_CONN(s);
	if (out == NULL)
		return ms__err_set(&s->err, MS_EINVAL, "list: no output");
	if (name && (st = ms__store_check_name(s, &name)) != MS_OK)
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
	st = ms__artifact_list_from_result(out, res);
	PQclear(res);
	if (st != MS_OK)
		return ms__err_set(&s->err, st, "list: out of memory");
	return MS_OK;
}

ms_status ms_store_verify(size_t *checked, size_t *bad, ms_store *s,
                          const char *name, ms_verify_fn cb, void *payload)
{
	PGresult *res;
	const char *p[1] = { name };
	size_t nchecked = 0, nbad = 0;
	ms_status st, worst = MS_OK;
	int i, n;

	MS__STORE_REQUIRE_CONN(s);
	if (name && (st = ms__store_check_name(s, &name)) != MS_OK)
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

ms_status ms_store_backfill_hashes(size_t *updated, ms_store *s,
                                   const char *name)
{
	PGresult *res;
	const char *p[1] = { name };
	size_t n_upd = 0;
	ms_status st;
	int i;

	MS__STORE_REQUIRE_CONN(s);
	if (updated)
		*updated = 0;
	if (name && (st = ms__store_check_name(s, &name)) != MS_OK)
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
		u = ms__pq_exec_params(s->conn, "UPDATE model_artifacts SET"
		                       " sha256 = $2 WHERE id = $1 AND sha256 IS"
		                       " NULL", 2, q, len, fmt, 0);
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
