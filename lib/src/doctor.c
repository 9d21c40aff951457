/*
 * doctor.c - what `modelstore doctor` inspects, as library calls: a
 * fallback copy verified against its sidecar, the names with a copy, a
 * spool directory's backlog, the server's version and the grants the
 * modelstore roles (sql/roles.sql) are missing.  Each reads; none
 * changes anything.
 */
#define _GNU_SOURCE
#include "store.h"

#include "alloc.h"
#include "conn.h"
#include "errbuf.h"
#include "fallback.h"
#include "model.h"
#include "spool.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ------------------------------------------------------------------ */
/* the fallback copy                                                   */
/* ------------------------------------------------------------------ */

ms_status ms_fallback_inspect(ms_fallback_status *out, const char *dir,
                              const char *model_name)
{
	ms_err e;
	ms_payload *p = NULL;
	ms_status st;

	if (out == NULL)
		return MS_EINVAL;
	memset(out, 0, sizeof *out);
	if (model_name == NULL)
		model_name = MS_DEFAULT_NAME;
	if (dir == NULL || dir[0] == '\0')
		dir = "models";
	if (ms_name_check(model_name) != MS_OK) {
		snprintf(out->message, sizeof out->message, "invalid model name");
		return out->status = MS_EINVAL;
	}
	ms__err_clear(&e);
	st = ms__fallback_load(&e, dir, model_name, NULL, "inspect", &p);
	if (st == MS_OK) {
		snprintf(out->version, sizeof out->version, "%s", p->version);
		memcpy(out->sha256, p->sha256, sizeof out->sha256);
		out->size = p->size;
		out->verified = p->verified;
		ms__payload_release(p);
		return out->status = MS_OK;
	}
	/* "inspect; no fallback: ..." -> the reasons only */
	{
		const char *m = e.msg;
		if (strncmp(m, "inspect; ", 9) == 0)
			m += 9;
		snprintf(out->message, sizeof out->message, "%s", m);
	}
	return out->status = st == MS_EUNREACHABLE ? MS_ENOTFOUND : st;
}

ms_status ms_fallback_names(ms_buf *out, const char *dir)
{
	char **names = NULL;
	size_t n, len = 0, i;
	char *text;

	if (out == NULL)
		return MS_EINVAL;
	out->ptr = NULL;
	out->size = 0;
	n = ms__fallback_names(dir && dir[0] ? dir : "models", &names);
	for (i = 0; i < n; i++)
		len += strlen(names[i]) + 1;
	text = ms__malloc(len + 1);
	if (text) {
		len = 0;
		for (i = 0; i < n; i++)
			len += (size_t)sprintf(text + len, "%s\n", names[i]);
		text[len] = '\0';
	}
	for (i = 0; i < n; i++)
		ms__free(names[i]);
	ms__free(names);
	if (text == NULL)
		return MS_ENOMEM;
	out->ptr = text;
	out->size = len;
	return MS_OK;
}

/* ------------------------------------------------------------------ */
/* the spool backlog                                                   */
/* ------------------------------------------------------------------ */

ms_status ms_spool_inspect(ms_spool_backlog *out, const char *dir,
                           ms_buf *errmsg_out)
{
	ms_spool *sp = NULL;
	ms_err e;
	char **names = NULL;
	size_t n = 0, i;
	ms_status st;
	struct stat sb;

	if (out == NULL)
		return MS_EINVAL;
	memset(out, 0, sizeof *out);
	if (dir == NULL || dir[0] == '\0')
		dir = "spool";
	ms__err_clear(&e);
	if (stat(dir, &sb) != 0 && errno == ENOENT)
		return MS_OK; /* no spool yet: nothing waits */
	st = ms__spool_new(&sp, &e, dir, UINT64_MAX);
	if (st == MS_OK)
		st = ms__spool_list(sp, &e, &names, &n);
	for (i = 0; st == MS_OK && i < n; i++) {
		ms_spool_file *f = NULL;
		char path[4096];
		ms_status lst = ms__spool_load(sp, &e, names[i], &f);
		if (lst == MS_ENOTFOUND)
			continue; /* replayed meanwhile */
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) <
		    sizeof path && stat(path, &sb) == 0) {
			if (out->oldest_mtime == 0 ||
			    (int64_t)sb.st_mtime < out->oldest_mtime)
				out->oldest_mtime = (int64_t)sb.st_mtime;
			out->bytes += (uint64_t)sb.st_size;
		}
		if (lst == MS_EEXISTS) {
			out->files_in_use++;
			continue;
		}
		if (lst != MS_OK) {
			st = lst;
			break;
		}
		out->files++;
		out->records += f->nrecs;
		if (f->info.corrupt || f->info.torn || f->info.bad_header ||
		    f->info.bad_version)
			out->damaged_files++;
		ms__spool_release(sp, f, false);
	}
	ms__spool_names_free(names, n);
	ms__spool_free(sp);
	if (st != MS_OK && errmsg_out)
		ms__buf_set(errmsg_out, e.msg, strlen(e.msg));
	return st;
}

/* ------------------------------------------------------------------ */
/* the server                                                          */
/* ------------------------------------------------------------------ */

ms_status ms_store_server_version(ms_store *s, int *version_num)
{
	MS__STORE_REQUIRE_CONN(s);
	if (version_num == NULL)
		return ms__err_set(&s->err, MS_EINVAL, "server version: no output");
	*version_num = PQserverVersion(s->conn);
	return MS_OK;
}

/* What each role of sql/roles.sql needs, as the commands use it.  kind:
 * t table or view, s sequence, c column ("table.column"), d the
 * database.  Keep in step with sql/roles.sql. */
static const char grants_sql[] =
	"SELECT v.r || ' ' || v.p || ' ' || CASE v.k WHEN 'd' THEN"
	"       'database ' || current_database() ELSE v.o END"
	"  FROM (VALUES"
	"  ('modelstore_reader','t','model_artifacts','SELECT'),"
	"  ('modelstore_reader','t','model_artifact_chunks','SELECT'),"
	"  ('modelstore_reader','t','model_predictions','SELECT'),"
	"  ('modelstore_reader','t','model_runs','SELECT'),"
	"  ('modelstore_reader','t','model_metrics','SELECT'),"
	"  ('modelstore_reader','t','model_promotions','SELECT'),"
	"  ('modelstore_reader','t','modelstore_migrations','SELECT'),"
	"  ('modelstore_reader','t','model_version_performance','SELECT'),"
	"  ('modelstore_reader','t','model_prediction_volume_daily','SELECT'),"
	"  ('modelstore_reader','t','model_storage_summary','SELECT'),"
	"  ('modelstore_reader','t','model_promotion_history','SELECT'),"
	"  ('modelstore_writer','t','model_artifacts','INSERT,UPDATE,DELETE'),"
	"  ('modelstore_writer','t','model_artifact_chunks','INSERT,UPDATE,DELETE'),"
	"  ('modelstore_writer','t','model_runs','INSERT,UPDATE,DELETE'),"
	"  ('modelstore_writer','t','model_metrics','INSERT,UPDATE,DELETE'),"
	"  ('modelstore_writer','t','model_promotions','INSERT,UPDATE,DELETE'),"
	"  ('modelstore_writer','s','model_artifacts_id_seq','USAGE'),"
	"  ('modelstore_writer','s','model_metrics_id_seq','USAGE'),"
	"  ('modelstore_writer','s','model_promotions_id_seq','USAGE'),"
	"  ('modelstore_logger','t','model_predictions','INSERT'),"
	"  ('modelstore_logger','t','modelstore_migrations','SELECT'),"
	"  ('modelstore_logger','c','model_predictions.prediction_id','SELECT'),"
	"  ('modelstore_logger','c','model_predictions.actual_value','UPDATE'),"
	"  ('modelstore_logger','c','model_predictions.actual_recorded_at','UPDATE'),"
	"  ('modelstore_logger','s','model_predictions_id_seq','USAGE'),"
	"  ('modelstore_logger','d','','TEMPORARY')"
	"  ) AS v(r, k, o, p)"
	/* CASE, not AND: the privilege functions fail for a missing role,
	 * and AND does not fix the order of evaluation */
	" WHERE CASE WHEN NOT EXISTS (SELECT FROM pg_roles WHERE rolname = v.r)"
	"   THEN false ELSE NOT CASE v.k"
	"       WHEN 't' THEN CASE WHEN to_regclass(v.o) IS NULL THEN false"
	"                     ELSE has_table_privilege(v.r, v.o, v.p) END"
	"       WHEN 's' THEN CASE WHEN to_regclass(v.o) IS NULL THEN false"
	"                     ELSE has_sequence_privilege(v.r, v.o, v.p) END"
	"       WHEN 'c' THEN has_column_privilege(v.r, split_part(v.o, '.', 1),"
	"                     split_part(v.o, '.', 2), v.p)"
	"       ELSE has_database_privilege(v.r, current_database(), v.p) END"
	"   END"
	" ORDER BY 1";

ms_status ms_store_missing_grants(ms_buf *out, int *roles_found,
                                  ms_store *s)
{
	PGresult *res = NULL;
	ms_status st;
	size_t len = 0;
	char *text;
	int i, n;

	MS__STORE_REQUIRE_CONN(s);
	if (out == NULL)
		return ms__err_set(&s->err, MS_EINVAL, "grants: no output");
	out->ptr = NULL;
	out->size = 0;
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "grants",
	              "SELECT count(*) FROM pg_roles WHERE rolname IN "
	              "('modelstore_reader','modelstore_writer',"
	              "'modelstore_logger')", 0, NULL);
	if (st != MS_OK)
		return st;
	if (roles_found)
		*roles_found = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "grants",
	              grants_sql, 0, NULL);
	if (st != MS_OK)
		return st;
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		len += strlen(PQgetvalue(res, i, 0)) + 1;
	text = ms__malloc(len + 1);
	if (text == NULL) {
		PQclear(res);
		return ms__err_set(&s->err, MS_ENOMEM, "grants: out of memory");
	}
	len = 0;
	for (i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "%s\n", PQgetvalue(res, i, 0));
	text[len] = '\0';
	PQclear(res);
	out->ptr = text;
	out->size = len;
	return MS_OK;
}
