/*
 * runs.c - training runs: start, log metrics (one or thousands in one
 * statement), finish, and the two queries over them (the runs of a
 * model; one run with its history per metric).
 *
 * The documents the queries return are built by the server
 * (json_build_object), so params and tags come back with the types they
 * were stored with and times carry their zone.
 */
#include "store.h"

#include "alloc.h"
#include "conn.h"
#include "errbuf.h"
#include "json_check.h"
#include "util.h"
#include "uuid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const RUN_STATUS[] = { "running", "finished", "failed",
                                          "killed" };

const char *ms_run_status_str(ms_run_status st)
{
	return (unsigned)st < 4 ? RUN_STATUS[st] : "unknown";
}

ms_status ms_run_status_parse(ms_run_status *out, const char *text)
{
	unsigned i;
	if (out == NULL || text == NULL)
		return MS_EINVAL;
	for (i = 0; i < 4; i++)
		if (strcmp(text, RUN_STATUS[i]) == 0) {
			*out = (ms_run_status)i;
			return MS_OK;
		}
	return MS_EINVAL;
}

ms_status ms_run_options_init(ms_run_options *opts, unsigned int version)
{
	ms_run_options def = MS_RUN_OPTIONS_INIT;
	if (opts == NULL || version != MS_RUN_OPTIONS_VERSION)
		return MS_EINVAL;
	*opts = def;
	return MS_OK;
}

/* A run id: 1..MS_RUN_ID_MAX bytes of UTF-8 without control characters
 * (it is printed by `runs list` and used as a file-safe key by users). */
static ms_status check_run_id(ms_store *s, const char *id)
{
	const unsigned char *p = (const unsigned char *)id, *end;
	size_t n;
	if (id == NULL)
		return ms__err_set(&s->err, MS_EINVAL, "no run id given");
	n = strlen(id);
	if (n == 0 || n > MS_RUN_ID_MAX)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid run id: must be 1-%d bytes",
		                   MS_RUN_ID_MAX);
	end = p + n;
	while (p < end) {
		size_t k = ms__utf8_len(p, end);
		if (k == 0 || *p < 0x20 || *p == 0x7f ||
		    (k == 2 && p[0] == 0xc2 && p[1] < 0xa0))
			return ms__err_set(&s->err, MS_EINVAL,
			                   "invalid run id: byte %zu is not printable "
			                   "UTF-8", (size_t)(p - (const unsigned char *)id));
		p += k;
	}
	return MS_OK;
}

static ms_status check_object(ms_store *s, const char *what, const char *json)
{
	if (json == NULL || ms__json_is_object(json))
		return MS_OK;
	return ms__err_set(&s->err, MS_EINVAL,
	                   "invalid %s JSON: must be an object", what);
}

ms_status ms_run_start(ms_buf *run_id_out, ms_store *s,
                       const ms_run_options *opts)
{
	ms_run_options def;
	const char *name, *p[5];
	char idbuf[MS_UUID_STRLEN], size[24];
	PGresult *res;
	ms_status st;

	MS__STORE_REQUIRE_CONN(s);
	if (opts == NULL) {
		ms_run_options_init(&def, MS_RUN_OPTIONS_VERSION);
		opts = &def;
	}
	if (opts->version != MS_RUN_OPTIONS_VERSION)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid ms_run_options version: %u",
		                   opts->version);
	name = opts->model_name;
	if ((st = ms__store_check_name(s, &name)) != MS_OK)
		return st;
	if (opts->run_id) {
		if ((st = check_run_id(s, opts->run_id)) != MS_OK)
			return st;
	} else {
		unsigned char u[16];
		ms__uuid7(u);
		ms__uuid_format(idbuf, u);
	}
	if ((st = check_object(s, "params", opts->params_json)) != MS_OK ||
	    (st = check_object(s, "tags", opts->tags_json)) != MS_OK)
		return st;
	snprintf(size, sizeof size, "%lld", (long long)opts->dataset_size);
	p[0] = opts->run_id ? opts->run_id : idbuf;
	p[1] = name;
	p[2] = opts->params_json ? opts->params_json : "{}";
	p[3] = opts->dataset_size >= 0 ? size : NULL;
	p[4] = opts->tags_json ? opts->tags_json : "{}";
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "run start",
	              "INSERT INTO model_runs (run_id, model_name, params,"
	              " dataset_size, tags, status, started_at)"
	              " VALUES ($1, $2, $3::jsonb, $4::bigint, $5::jsonb,"
	              " 'running', clock_timestamp())"
	              " ON CONFLICT (run_id) DO NOTHING RETURNING run_id", 5, p);
	if (st != MS_OK)
		return st;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ms__err_set(&s->err, MS_EEXISTS,
		                   "run start: run \"%s\" already exists", p[0]);
	}
	PQclear(res);
	if (ms__buf_set(run_id_out, p[0], strlen(p[0])) != MS_OK)
		return ms__err_set(&s->err, MS_ENOMEM, "run start: out of memory");
	return MS_OK;
}

/* Why nothing was written for @p run_id: it does not exist, or it is
 * not running.  Always returns a failure. */
static ms_status run_not_running(ms_store *s, const char *what,
                                 const char *run_id)
{
	const char *p[1] = { run_id };
	PGresult *res;
	ms_status st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, what,
	                        "SELECT status FROM model_runs WHERE run_id = $1",
	                        1, p);
	if (st != MS_OK)
		return st;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ms__err_set(&s->err, MS_ENOTFOUND, "%s: no run \"%s\"",
		                   what, run_id);
	}
	st = ms__err_set(&s->err, MS_EINVAL,
	                 "%s: run \"%s\" is %s, not running", what, run_id,
	                 PQgetvalue(res, 0, 0));
	PQclear(res);
	return st;
}

/* A growing text buffer for the array parameters. */
typedef struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *q;
		while (cap < b->len + n + 1)
			cap *= 2;
		q = ms__realloc(b->p, cap);
		if (q == NULL) {
			b->oom = true;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static ms_status check_point(ms_store *s, const ms_metric_point *pt, size_t i)
{
	if (ms_metric_name_check(pt->metric) != MS_OK)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "log metrics: point %zu: invalid metric name "
		                   "\"%.*s\" (1-%d of A-Z a-z 0-9 _ . - /, starting "
		                   "with a letter or _)", i, MS_METRIC_MAX + 8,
		                   pt->metric ? pt->metric : "", MS_METRIC_MAX);
	if (!isfinite(pt->value))
		return ms__err_set(&s->err, MS_EINVAL,
		                   "log metrics: point %zu (%s): value must be "
		                   "finite", i, pt->metric);
	if (pt->step < 0 && pt->step != MS_STEP_NONE)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "log metrics: point %zu (%s): negative step %lld",
		                   i, pt->metric, (long long)pt->step);
	if (pt->time_ms < 0)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "log metrics: point %zu (%s): negative time", i,
		                   pt->metric);
	return MS_OK;
}

/* The four array literals: {"name",...}, {v,...}, {step|NULL,...},
 * {ms|NULL,...}.  Names are quoted (a metric called NULL stays a name);
 * the metric alphabet has no quote or backslash. */
static ms_status build_arrays(ms_store *s, const ms_metric_point *pts,
                              size_t n, sbuf a[4])
{
	size_t i;
	for (i = 0; i < 4; i++)
		sb_add(&a[i], "{", 1);
	for (i = 0; i < n; i++) {
		char num[40];
		ms_status st = check_point(s, &pts[i], i);
		if (st != MS_OK)
			return st;
		if (i > 0)
			for (int k = 0; k < 4; k++)
				sb_add(&a[k], ",", 1);
		sb_add(&a[0], "\"", 1);
		sb_str(&a[0], pts[i].metric);
		sb_add(&a[0], "\"", 1);
		snprintf(num, sizeof num, "%.17g", pts[i].value);
		sb_str(&a[1], num);
		if (pts[i].step == MS_STEP_NONE)
			snprintf(num, sizeof num, "NULL");
		else
			snprintf(num, sizeof num, "%lld", (long long)pts[i].step);
		sb_str(&a[2], num);
		if (pts[i].time_ms == 0)
			snprintf(num, sizeof num, "NULL");
		else
			snprintf(num, sizeof num, "%lld", (long long)pts[i].time_ms);
		sb_str(&a[3], num);
	}
	for (i = 0; i < 4; i++)
		sb_add(&a[i], "}", 1);
	for (i = 0; i < 4; i++)
		if (a[i].oom)
			return ms__err_set(&s->err, MS_ENOMEM,
			                   "log metrics: out of memory");
	return MS_OK;
}

ms_status ms_run_log_metrics(ms_store *s, const char *run_id,
                             const ms_metric_point *pts, size_t n)
{
	sbuf a[4];
	const char *p[5];
	PGresult *res;
	ms_status st;
	int i;

	MS__STORE_REQUIRE_CONN(s);
	if (run_id == NULL)
		return ms__err_set(&s->err, MS_EINVAL, "log metrics: no run id");
	if (pts == NULL && n > 0)
		return ms__err_set(&s->err, MS_EINVAL, "log metrics: no points");
	if (n == 0) {
		/* nothing to write: say whether the run takes metrics */
		const char *q[1] = { run_id };
		st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK,
		              "log metrics", "SELECT 1 FROM model_runs WHERE"
		              " run_id = $1 AND status = 'running'", 1, q);
		if (st != MS_OK)
			return st;
		i = PQntuples(res);
		PQclear(res);
		return i == 1 ? MS_OK
		              : run_not_running(s, "log metrics", run_id);
	}
	memset(a, 0, sizeof a);
	st = build_arrays(s, pts, n, a);
	if (st == MS_OK) {
		p[0] = run_id;
		for (i = 0; i < 4; i++)
			p[i + 1] = a[i].p;
		/* One statement: the run's row gates every point, so a missing
		 * or finished run writes nothing. */
		st = ms__exec(s->conn, &s->err, &res, PGRES_COMMAND_OK,
		              "log metrics",
		              "INSERT INTO model_metrics (model_name, model_version,"
		              " run_id, metric, value, step, recorded_at)"
		              " SELECT r.model_name, NULL, r.run_id, u.metric,"
		              " u.value, u.step, coalesce(to_timestamp(u.ms /"
		              " 1000.0), clock_timestamp())"
		              " FROM model_runs r, unnest($2::text[], $3::float8[],"
		              " $4::int8[], $5::int8[]) AS u(metric, value, step, ms)"
		              " WHERE r.run_id = $1 AND r.status = 'running'", 5, p);
		if (st == MS_OK) {
			bool none = strcmp(PQcmdTuples(res), "0") == 0;
			PQclear(res);
			if (none)
				st = run_not_running(s, "log metrics", run_id);
		}
	}
	for (i = 0; i < 4; i++)
		ms__free(a[i].p);
	return st;
}

ms_status ms_run_log_metric(ms_store *s, const char *run_id,
                            const char *metric, double value, int64_t step)
{
	ms_metric_point pt = { metric, value, step, 0 };
	return ms_run_log_metrics(s, run_id, &pt, 1);
}

ms_status ms_run_finish(ms_store *s, const char *run_id, ms_run_status status)
{
	const char *p[2];
	PGresult *res;
	ms_status st;
	int n;

	MS__STORE_REQUIRE_CONN(s);
	if (run_id == NULL)
		return ms__err_set(&s->err, MS_EINVAL, "run finish: no run id");
	if (status != MS_RUN_FINISHED && status != MS_RUN_FAILED &&
	    status != MS_RUN_KILLED)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "run finish: invalid status \"%s\" (finished, "
		                   "failed or killed)", ms_run_status_str(status));
	p[0] = run_id;
	p[1] = ms_run_status_str(status);
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "run finish",
	              "UPDATE model_runs SET status = $2,"
	              " ended_at = greatest(clock_timestamp(), started_at)"
	              " WHERE run_id = $1 AND status = 'running' RETURNING 1",
	              2, p);
	if (st != MS_OK)
		return st;
	n = PQntuples(res);
	PQclear(res);
	return n == 1 ? MS_OK : run_not_running(s, "run finish", run_id);
}

/* The JSON of one run, over model_runs r; $MP is the metric filter's
 * parameter in the history form. */
#define RUN_DOC_HEAD                                                      \
	"json_build_object('run_id', r.run_id, 'model_name', r.model_name,"  \
	" 'status', r.status, 'started_at', r.started_at,"                   \
	" 'ended_at', r.ended_at, 'duration_seconds', extract(epoch FROM"    \
	" CASE WHEN r.ended_at IS NOT NULL THEN r.ended_at - r.started_at"   \
	" WHEN r.status = 'running' THEN clock_timestamp() - r.started_at"   \
	" END)::float8, 'dataset_size', r.dataset_size, 'params', r.params," \
	" 'tags', r.tags, "
#define RUN_DOC_VERSIONS                                                  \
	" 'versions', coalesce((SELECT json_agg(v.model_version ORDER BY"   \
	" v.created DESC, v.model_version DESC) FROM (SELECT"               \
	" a.model_version, max(a.created_at) AS created FROM"               \
	" model_artifacts a WHERE a.run_id = r.run_id AND a.artifact ="     \
	" 'model' GROUP BY a.model_version) v), '[]'::json))"

/* The server's answer of one row and one column, as the caller's buffer. */
static ms_status doc_out(ms_store *s, ms_buf *out, PGresult *res,
                         const char *what)
{
	const char *t = PQgetvalue(res, 0, 0);
	ms_status st = MS_OK;
	if (ms__buf_set(out, t, strlen(t)) != MS_OK)
		st = ms__err_set(&s->err, MS_ENOMEM, "%s: out of memory", what);
	PQclear(res);
	return st;
}

ms_status ms_run_list(ms_buf *out, ms_store *s, const char *name,
                      size_t limit)
{
	const char *p[2];
	char lim[24];
	PGresult *res;
	ms_status st;

	MS__STORE_REQUIRE_CONN(s);
	if (out == NULL)
		return ms__err_set(&s->err, MS_EINVAL, "runs list: no output");
	if (name && (st = ms__store_check_name(s, &name)) != MS_OK)
		return st;
	snprintf(lim, sizeof lim, "%zu", limit);
	p[0] = name;
	p[1] = limit ? lim : NULL;
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "runs list",
	              "SELECT coalesce(json_agg(x.doc ORDER BY x.started DESC,"
	              " x.run_id), '[]'::json)::text FROM (SELECT "
	              RUN_DOC_HEAD
	              " 'metrics', coalesce((SELECT json_object_agg(l.metric,"
	              " l.value ORDER BY l.metric) FROM (SELECT DISTINCT ON"
	              " (m.metric) m.metric, m.value FROM model_metrics m WHERE"
	              " m.run_id = r.run_id ORDER BY m.metric, m.recorded_at"
	              " DESC, m.id DESC) l), '{}'::json),"
	              RUN_DOC_VERSIONS " AS doc, r.started_at AS started,"
	              " r.run_id FROM model_runs r WHERE ($1::text IS NULL OR"
	              " r.model_name = $1) ORDER BY r.started_at DESC, r.run_id"
	              " LIMIT $2::bigint) x", 2, p);
	if (st != MS_OK)
		return st;
	return doc_out(s, out, res, "runs list");
}

ms_status ms_run_show(ms_buf *out, ms_store *s, const char *run_id,
                      const char *metric)
{
	const char *p[2] = { run_id, metric };
	PGresult *res;
	ms_status st;

	MS__STORE_REQUIRE_CONN(s);
	if (out == NULL || run_id == NULL)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "runs show: no %s", out ? "run id" : "output");
	if (metric && ms_metric_name_check(metric) != MS_OK)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "runs show: invalid metric name \"%.*s\"",
		                   MS_METRIC_MAX + 8, metric);
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "runs show",
	              "SELECT " RUN_DOC_HEAD
	              " 'metrics', coalesce((SELECT json_object_agg(h.metric,"
	              " json_build_object('last', h.last, 'count', h.cnt,"
	              " 'history', h.hist) ORDER BY h.metric) FROM (SELECT"
	              " m.metric, count(*) AS cnt, (array_agg(m.value ORDER BY"
	              " m.recorded_at DESC, m.id DESC))[1] AS last,"
	              " json_agg(json_build_object('step', m.step, 'value',"
	              " m.value, 'recorded_at', m.recorded_at) ORDER BY m.step"
	              " NULLS LAST, m.recorded_at, m.id) AS hist FROM"
	              " model_metrics m WHERE m.run_id = r.run_id AND ($2::text"
	              " IS NULL OR m.metric = $2) GROUP BY m.metric) h),"
	              " '{}'::json)," RUN_DOC_VERSIONS "::text"
	              " FROM model_runs r WHERE r.run_id = $1", 2, p);
	if (st != MS_OK)
		return st;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ms__err_set(&s->err, MS_ENOTFOUND, "runs show: no run \"%s\"",
		                   run_id);
	}
	return doc_out(s, out, res, "runs show");
}
