/*
 * metrics.c - a stored version's metrics over time: appending a value
 * after deployment, the summary `show` prints, and listing versions
 * sorted and filtered by any metric (the `--where` of where.c, turned
 * into SQL from this file's fixed fragments and parameters).
 */
#include "store.h"

#include "conn.h"
#include "errbuf.h"
#include "fetch.h"
#include "names.h"
#include "util.h"
#include "where.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ms_status metric_arg(ms_store *s, const char *what, const char *m)
{
	if (ms_metric_name_check(m) == MS_OK)
		return MS_OK;
	return ms__err_set(&s->err, MS_EINVAL,
	                   "%s: invalid metric name \"%.*s\" (1-%d of A-Z a-z "
	                   "0-9 _ . - /, starting with a letter or _)", what,
	                   MS_METRIC_MAX + 8, m ? m : "", MS_METRIC_MAX);
}

/* The version @p selector names, into @p version. */
static ms_status resolve_version(ms_store *s, const char *name,
                                 const char *selector,
                                 char version[MS_VERSION_MAX + 1])
{
	ms_artifact_info info;
	ms_status st = ms__artifact_resolve(s->conn, &s->err, &info, name,
	                                    selector, NULL);
	if (st == MS_OK)
		snprintf(version, MS_VERSION_MAX + 1, "%s", info.model_version);
	ms_artifact_info_dispose(&info);
	return st;
}

ms_status ms_store_log_version_metric(ms_store *s, const char *name,
                                      const char *selector,
                                      const char *metric, double value,
                                      int64_t time_ms)
{
	char version[MS_VERSION_MAX + 1], v[40], t[24];
	const char *p[5];
	PGresult *res;
	ms_status st;
	bool none;

	MS__STORE_REQUIRE_CONN(s);
	if ((st = ms__store_check_name(s, &name)) != MS_OK)
		return st;
	if ((st = metric_arg(s, "log metric", metric)) != MS_OK)
		return st;
	if (!isfinite(value))
		return ms__err_set(&s->err, MS_EINVAL,
		                   "log metric: %s: value must be finite", metric);
	if (time_ms < 0)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "log metric: %s: negative time", metric);
	if ((st = resolve_version(s, name, selector, version)) != MS_OK)
		return st;
	snprintf(v, sizeof v, "%.17g", value);
	snprintf(t, sizeof t, "%lld", (long long)time_ms);
	p[0] = name;
	p[1] = version;
	p[2] = metric;
	p[3] = v;
	p[4] = time_ms ? t : NULL;
	/* The version's row gates the insert: pruned meanwhile, nothing. */
	st = ms__exec(s->conn, &s->err, &res, PGRES_COMMAND_OK, "log metric",
	              "INSERT INTO model_metrics (model_name, model_version,"
	              " metric, value, recorded_at) SELECT a.model_name,"
	              " a.model_version, $3, $4::float8,"
	              " coalesce(to_timestamp($5::bigint / 1000.0),"
	              " clock_timestamp()) FROM model_artifacts a WHERE"
	              " a.model_name = $1 AND a.model_version = $2 AND"
	              " a.artifact = 'model'", 5, p);
	if (st != MS_OK)
		return st;
	none = strcmp(PQcmdTuples(res), "0") == 0;
	PQclear(res);
	if (none)
		return ms__err_set(&s->err, MS_ENOTFOUND,
		                   "log metric: %s: version \"%s\" not found", name,
		                   version);
	return MS_OK;
}

ms_status ms_store_version_metrics(ms_buf *out, ms_store *s, const char *name,
                                   const char *selector)
{
	char version[MS_VERSION_MAX + 1];
	const char *p[2];
	PGresult *res;
	ms_status st;
	const char *t;

	MS__STORE_REQUIRE_CONN(s);
	if (out == NULL)
		return ms__err_set(&s->err, MS_EINVAL, "metrics: no output");
	if ((st = ms__store_check_name(s, &name)) != MS_OK)
		return st;
	if ((st = resolve_version(s, name, selector, version)) != MS_OK)
		return st;
	p[0] = name;
	p[1] = version;
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "metrics",
	              "SELECT json_build_object('model_name', $1::text,"
	              " 'model_version', $2::text, 'metrics', coalesce((SELECT"
	              " json_object_agg(x.metric, json_build_object('last',"
	              " x.last, 'count', x.cnt, 'recorded_at', x.at) ORDER BY"
	              " x.metric) FROM (SELECT m.metric, count(*) AS cnt,"
	              " (array_agg(m.value ORDER BY m.recorded_at DESC, m.id"
	              " DESC))[1] AS last, max(m.recorded_at) AS at FROM"
	              " model_metrics m WHERE m.model_name = $1 AND"
	              " m.model_version = $2 GROUP BY m.metric) x),"
	              " '{}'::json))::text", 2, p);
	if (st != MS_OK)
		return st;
	t = PQgetvalue(res, 0, 0);
	if (ms__buf_set(out, t, strlen(t)) != MS_OK)
		st = ms__err_set(&s->err, MS_ENOMEM, "metrics: out of memory");
	PQclear(res);
	return st;
}

ms_status ms_list_where_check(ms_buf *errmsg_out, const char *where)
{
	ms__where w;
	ms_err e;
	ms__err_clear(&e);
	if (ms__where_parse(&w, &e, where) == MS_OK)
		return MS_OK;
	if (ms__buf_set(errmsg_out, e.msg, strlen(e.msg)) != MS_OK)
		return MS_ENOMEM;
	return MS_EINVAL;
}

ms_status ms_list_options_init(ms_list_options *opts, unsigned int version)
{
	ms_list_options def = MS_LIST_OPTIONS_INIT;
	if (opts == NULL || version != MS_LIST_OPTIONS_VERSION)
		return MS_EINVAL;
	*opts = def;
	return MS_OK;
}

/* Append to @p sql (capacity @p cap); the fragments are this file's. */
static void cat(char *sql, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cat(char *sql, size_t cap, const char *fmt, ...)
{
	size_t n = strlen(sql);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql + n, cap - n, fmt, ap);
	va_end(ap);
}

ms_status ms_store_list_versions(ms_artifact_list **out, ms_store *s,
                                 const ms_list_options *opts)
{
	ms_list_options def;
	ms__where w;
	const char *p[3 + 2 * MS__WHERE_MAX];
	const char *name;
	char sql[8192], lim[24];
	PGresult *res;
	ms_status st;
	int np = 2, sort_param = 0;
	size_t i;

	if (out != NULL)
		*out = NULL;
	MS__STORE_REQUIRE_CONN(s);
	if (out == NULL)
		return ms__err_set(&s->err, MS_EINVAL, "list: no output");
	if (opts == NULL) {
		ms_list_options_init(&def, MS_LIST_OPTIONS_VERSION);
		opts = &def;
	}
	if (opts->version != MS_LIST_OPTIONS_VERSION)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid ms_list_options version: %u",
		                   opts->version);
	name = opts->model_name;
	if (name && (st = ms__store_check_name(s, &name)) != MS_OK)
		return st;
	if (opts->sort && (st = metric_arg(s, "list --sort", opts->sort)) != MS_OK)
		return st;
	if ((st = ms__where_parse(&w, &s->err, opts->where)) != MS_OK)
		return st;

	snprintf(lim, sizeof lim, "%zu", opts->limit);
	p[0] = name;
	p[1] = opts->limit ? lim : NULL;
	if (opts->sort) {
		p[np++] = opts->sort;
		sort_param = np;
	}
	sql[0] = '\0';
	cat(sql, sizeof sql, "SELECT " MS__ARTIFACT_COLUMNS
	    " FROM model_artifacts a WHERE ($1::text IS NULL OR"
	    " a.model_name = $1) AND a.artifact = 'model'");
	for (i = 0; i < w.n; i++) {
		/* the operator comes from where.c's table, never from the
		 * user's text; the name and the number are parameters */
		cat(sql, sizeof sql,
		    " AND modelstore_version_metric(a.model_name,"
		    " a.model_version::text, $%d) %s $%d::float8", np + 1,
		    ms__where_op_sql(w.c[i].op), np + 2);
		p[np++] = w.c[i].metric;
		p[np++] = w.c[i].value_text;
	}
	cat(sql, sizeof sql, " ORDER BY ");
	if (opts->sort)
		cat(sql, sizeof sql, "modelstore_version_metric(a.model_name,"
		    " a.model_version::text, $%d) %s NULLS LAST, ", sort_param,
		    opts->descending ? "DESC" : "ASC");
	cat(sql, sizeof sql, "a.model_name, a.created_at DESC, a.id DESC"
	    " LIMIT $2::bigint");
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "list", sql, np,
	              p);
	if (st != MS_OK)
		return st;
	st = ms__artifact_list_from_result(out, res);
	PQclear(res);
	if (st != MS_OK)
		return ms__err_set(&s->err, st, "list: out of memory");
	return MS_OK;
}
