/*
 * report.c - ms_store_report: per model name and version, the stored
 * metrics next to what the logged predictions say, plus the recent
 * promotions, as one JSON document.  Reads the views of
 * sql/002_monitoring_views.sql.  All SQL is constant text with
 * parameters.
 */
#define _GNU_SOURCE
#include "alloc.h"
#include "conn.h"
#include "errbuf.h"
#include "names.h"
#include "store.h"
#include "util.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The longest --since window, in days (100 years). */
#define REPORT_SINCE_MAX 36500

/* Column kinds, for JSON typing: string, bool, integer, float. */
enum { K_STR, K_BOOL, K_INT, K_FLT };

typedef struct column {
	const char *name; /* the view's column name: the JSON key */
	int kind;
} column;

static const column VERSION_COLS[] = {
	{ "model_name", K_STR },
	{ "model_version", K_STR },
	{ "is_production", K_BOOL },
	{ "model_type", K_STR },
	{ "model_size_bytes", K_INT },
	{ "accuracy_score", K_FLT },
	{ "rmse_score", K_FLT },
	{ "r2_score", K_FLT },
	{ "created_at", K_STR },
	{ "prediction_count", K_INT },
	{ "predictions_with_actual", K_INT },
	{ "mean_absolute_error", K_FLT },
	{ "rmse", K_FLT },
	{ "avg_prediction", K_FLT },
	{ "avg_confidence", K_FLT },
	{ "first_prediction_at", K_STR },
	{ "last_prediction_at", K_STR },
};
#define NVCOLS ((int)(sizeof VERSION_COLS / sizeof *VERSION_COLS))

/* A time as UTC with its zone, "2026-11-23T07:38:30Z".  The seed's
 * TIMESTAMP columns hold the writer's clock in the server's TimeZone:
 * ::timestamptz reads them in the session's, which is the server's
 * unless the client set PGTZ. */
#define TS(col) "to_char((" col ")::timestamptz AT TIME ZONE 'UTC'," \
	" 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Registry columns of the view; the prediction columns follow. */
#define REGISTRY_SELECT                                                 \
	"SELECT v.model_name, v.model_version::text,"                   \
	" v.is_production::text, v.model_type::text,"                   \
	" v.model_size_bytes::text, v.accuracy_score::text,"            \
	" v.rmse_score::text, v.r2_score::text, " TS("v.created_at") ","

#define VERSIONS_ORDER \
	" ORDER BY v.model_name, v.created_at DESC, v.model_version DESC"

/* All time: every figure straight from the view.  $1: model name or
 * NULL for every name. */
static const char VERSIONS_SQL[] =
	REGISTRY_SELECT
	" v.prediction_count::text, v.predictions_with_actual::text,"
	" v.mean_absolute_error::text, v.rmse::text,"
	" v.avg_prediction::text, v.avg_confidence::text, "
	TS("v.first_prediction_at") ", " TS("v.last_prediction_at")
	" FROM model_version_performance v"
	" WHERE $1::text IS NULL OR v.model_name = $1::text"
	VERSIONS_ORDER;

/* A window of $1 days: the same figures over the window, per version
 * through the (model_version, prediction_time) index.  $2: model name or
 * NULL. */
static const char VERSIONS_SINCE_SQL[] =
	REGISTRY_SELECT
	" w.n::text, w.na::text, w.mae::text, w.rmse::text, w.ap::text,"
	" w.ac::text, " TS("w.f") ", " TS("w.l")
	" FROM model_version_performance v LEFT JOIN LATERAL ("
	"  SELECT count(*) AS n,"
	"   count(*) FILTER (WHERE mp.actual_value IS NOT NULL) AS na,"
	"   avg(abs(mp.predicted_value - mp.actual_value)) AS mae,"
	"   sqrt(avg((mp.predicted_value - mp.actual_value)"
	"     * (mp.predicted_value - mp.actual_value))) AS rmse,"
	"   avg(mp.predicted_value) AS ap, avg(mp.confidence_score) AS ac,"
	"   min(mp.prediction_time) AS f, max(mp.prediction_time) AS l"
	"  FROM model_predictions mp"
	"  WHERE mp.model_version = v.model_version"
	"   AND mp.model_name = v.model_name"
	"   AND mp.prediction_time >= localtimestamp"
	"       - make_interval(days => $1::int)) w ON true"
	" WHERE $2::text IS NULL OR v.model_name = $2::text"
	VERSIONS_ORDER;

static const column PROMO_COLS[] = {
	{ "promoted_at", K_STR },
	{ "model_name", K_STR },
	{ "action", K_STR },
	{ "from_version", K_STR },
	{ "to_version", K_STR },
	{ "to_model_type", K_STR },
	{ "reason", K_STR },
	{ "promoted_by", K_STR },
};
#define NPCOLS ((int)(sizeof PROMO_COLS / sizeof *PROMO_COLS))

/* The last 20 promotions; $1: days or NULL, $2: model name or NULL. */
static const char PROMOS_SQL[] =
	"SELECT " TS("promoted_at") ", model_name, action, from_version::text,"
	" to_version::text, to_model_type::text, reason, promoted_by"
	" FROM model_promotion_history"
	" WHERE ($1::int IS NULL OR promoted_at >= now()"
	"        - make_interval(days => $1::int))"
	"  AND ($2::text IS NULL OR model_name = $2::text)"
	" ORDER BY id DESC LIMIT 20";

/* ------------------------------------------------------------------ */
/* time series for the charts                                          */
/* ------------------------------------------------------------------ */

static const column DAILY_COLS[] = {
	{ "model_name", K_STR },
	{ "model_version", K_STR },
	{ "day", K_STR },
	{ "prediction_count", K_INT },
	{ "predictions_with_actual", K_INT },
	{ "mean_absolute_error", K_FLT },
	{ "rmse", K_FLT },
};
#define NDCOLS ((int)(sizeof DAILY_COLS / sizeof *DAILY_COLS))

/* Per name, version and day: volume and MAE from the view
 * model_prediction_volume_daily, RMSE (which the view does not carry)
 * from the same rows with an actual value.  The filters are on the
 * view's grouping columns, so they are applied below its aggregate.  $1:
 * days or NULL (the window is whole days: from current_date - $1 on),
 * $2: name or NULL. */
static const char DAILY_SQL[] =
	"SELECT v.model_name, v.model_version::text, to_char(v.day, 'YYYY-MM-DD'),"
	" v.prediction_count::text, v.predictions_with_actual::text,"
	" v.mean_absolute_error::text, r.rmse::text"
	" FROM model_prediction_volume_daily v"
	" LEFT JOIN (SELECT mp.model_name, mp.model_version,"
	"             mp.prediction_time::date AS day,"
	"             sqrt(avg((mp.predicted_value - mp.actual_value)"
	"                      * (mp.predicted_value - mp.actual_value))) AS rmse"
	"        FROM model_predictions mp"
	"       WHERE mp.actual_value IS NOT NULL"
	"         AND ($1::int IS NULL OR mp.prediction_time::date"
	"              >= current_date - $1::int)"
	"         AND ($2::text IS NULL OR mp.model_name = $2::text)"
	"       GROUP BY 1, 2, 3) r"
	"   ON r.model_name = v.model_name AND r.model_version = v.model_version"
	"  AND r.day = v.day"
	" WHERE ($1::int IS NULL OR v.day >= current_date - $1::int)"
	"   AND ($2::text IS NULL OR v.model_name = $2::text)"
	" ORDER BY v.model_name, v.day, v.model_version";

static const column EVENT_COLS[] = {
	{ "promoted_at", K_STR },
	{ "model_name", K_STR },
	{ "action", K_STR },
	{ "from_version", K_STR },
	{ "to_version", K_STR },
};
#define NECOLS ((int)(sizeof EVENT_COLS / sizeof *EVENT_COLS))

/* Every promotion and rollback of the window, oldest first, with the
 * day it falls on (server time, as the daily view's days). */
static const char EVENTS_SQL[] =
	"SELECT " TS("promoted_at") ", model_name, action, from_version::text,"
	" to_version::text, to_char(promoted_at::timestamp, 'YYYY-MM-DD')"
	" FROM model_promotion_history"
	" WHERE ($1::int IS NULL OR promoted_at::date >= current_date - $1::int)"
	"  AND ($2::text IS NULL OR model_name = $2::text)"
	" ORDER BY id";

/* A value of JSON type @kind for one cell; SQL NULL (and a non-finite
 * number, or text that is not UTF-8) becomes null.  NULL only when out of
 * memory. */
static json_t *cell_json(const PGresult *r, int row, int col, int kind)
{
	const char *v = PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
	json_t *s;
	if (v == NULL)
		return json_null();
	switch (kind) {
	case K_BOOL: return json_boolean(v[0] == 't');
	case K_INT: return json_integer(strtoll(v, NULL, 10));
	case K_FLT: {
		double d = strtod(v, NULL);
		return isfinite(d) ? json_real(d) : json_null();
	}
	default:
		s = json_string(v);
		return s ? s : json_null();
	}
}

/* An array of objects keyed by @cols; NULL when out of memory. */
static json_t *rows_json(const PGresult *r, const column *cols, int ncols)
{
	json_t *arr = json_array();
	for (int i = 0; arr && i < PQntuples(r); i++) {
		json_t *o = json_object();
		for (int j = 0; o && j < ncols; j++) {
			if (json_object_set_new(o, cols[j].name,
			                        cell_json(r, i, j, cols[j].kind)) != 0) {
				json_decref(o);
				o = NULL;
			}
		}
		if (json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return arr;
}

/* The events, each with its "day" (the extra last column). */
static json_t *events_json(const PGresult *r)
{
	json_t *arr = rows_json(r, EVENT_COLS, NECOLS);
	for (int i = 0; arr && i < PQntuples(r); i++)
		if (json_object_set_new(json_array_get(arr, (size_t)i), "day",
		                        cell_json(r, i, NECOLS, K_STR)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	return arr;
}

/* NULL, or the decimal text of 0..REPORT_SINCE_MAX. */
static bool since_ok(const char *since)
{
	size_t n = since ? strspn(since, "0123456789") : 0;
	if (since == NULL)
		return true;
	return n > 0 && n <= 5 && since[n] == '\0' &&
	       atol(since) <= REPORT_SINCE_MAX;
}

/* {"versions": [...], "promotions": [...]} into @out. */
static ms_status report_doc(ms_buf *out, ms_err *e, const PGresult *vr,
                            const PGresult *pr)
{
	json_t *doc = json_object();
	char *text = NULL;
	ms_status st = MS_ENOMEM;
	if (doc &&
	    json_object_set_new(doc, "versions",
	                        rows_json(vr, VERSION_COLS, NVCOLS)) == 0 &&
	    json_object_set_new(doc, "promotions",
	                        rows_json(pr, PROMO_COLS, NPCOLS)) == 0 &&
	    (text = ms__json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER)) != NULL)
		st = ms__buf_set(out, text, strlen(text));
	ms__free(text);
	json_decref(doc);
	if (st != MS_OK)
		return ms__err_set(e, MS_ENOMEM, "report: out of memory");
	return MS_OK;
}

ms_status ms_store_report(ms_buf *out, ms_store *store,
                          const char *model_name, const char *since)
{
	const char *params[2] = { since, model_name };
	PGresult *vr = NULL, *pr = NULL;
	PGconn *conn;
	ms_err *e;
	ms_status st;

	MS__STORE_REQUIRE_CONN(store);
	conn = store->conn;
	e = &store->err;
	if (out == NULL)
		return ms__err_set(e, MS_EINVAL, "report: no output buffer");
	if (model_name && (st = ms__name_arg(e, "model name", model_name)) != MS_OK)
		return st;
	if (!since_ok(since))
		return ms__err_set(e, MS_EINVAL, "invalid since value: \"%.16s\" "
		                   "(days, 0 to %d)", since, REPORT_SINCE_MAX);
	if (since)
		st = ms__exec(conn, e, &vr, PGRES_TUPLES_OK, "report",
		              VERSIONS_SINCE_SQL, 2, params);
	else
		st = ms__exec(conn, e, &vr, PGRES_TUPLES_OK, "report",
		              VERSIONS_SQL, 1, params + 1);
	if (st == MS_OK)
		st = ms__exec(conn, e, &pr, PGRES_TUPLES_OK, "report", PROMOS_SQL,
		              2, params);
	if (st == MS_OK)
		st = report_doc(out, e, vr, pr);
	PQclear(vr);
	PQclear(pr);
	return st;
}

ms_status ms_store_report_series(ms_buf *out, ms_store *store,
                                 const char *model_name, const char *since)
{
	const char *params[2] = { since, model_name };
	PGresult *dr = NULL, *er = NULL;
	ms_err *e;
	ms_status st;
	json_t *doc = NULL;
	char *text = NULL;

	MS__STORE_REQUIRE_CONN(store);
	e = &store->err;
	if (out == NULL)
		return ms__err_set(e, MS_EINVAL, "report: no output buffer");
	if (model_name && (st = ms__name_arg(e, "model name", model_name)) != MS_OK)
		return st;
	if (!since_ok(since))
		return ms__err_set(e, MS_EINVAL, "invalid since value: \"%.16s\" "
		                   "(days, 0 to %d)", since, REPORT_SINCE_MAX);
	st = ms__exec(store->conn, e, &dr, PGRES_TUPLES_OK, "report", DAILY_SQL,
	              2, params);
	if (st == MS_OK)
		st = ms__exec(store->conn, e, &er, PGRES_TUPLES_OK, "report",
		              EVENTS_SQL, 2, params);
	if (st == MS_OK) {
		st = MS_ENOMEM;
		doc = json_object();
		if (doc &&
		    json_object_set_new(doc, "bucket", json_string("day")) == 0 &&
		    json_object_set_new(doc, "daily",
		                        rows_json(dr, DAILY_COLS, NDCOLS)) == 0 &&
		    json_object_set_new(doc, "events", events_json(er)) == 0 &&
		    (text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER)))
			st = ms__buf_set(out, text, strlen(text));
		if (st != MS_OK)
			ms__err_set(e, MS_ENOMEM, "report: out of memory");
	}
	free(text); /* jansson's */
	json_decref(doc);
	PQclear(dr);
	PQclear(er);
	return st;
}
