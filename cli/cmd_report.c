/*
 * cmd_report.c - `modelstore report`: per model name and version, the
 * stored metrics next to what the logged predictions say, plus recent
 * promotions.  Reads the views of sql/002_monitoring_views.sql.
 *
 * Output: a text table on stdout; with --json one JSON document; with
 * --html FILE a self-contained static page (inline CSS, no script, no
 * external asset) written atomically (temp file, fsync, rename).
 *
 * The public API has no query function, so this file opens its own libpq
 * connection through the library's internal ms__connect (same conninfo
 * handling and connect_timeout default as ms_store_open).  All SQL is
 * constant text with parameters.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "conn.h"
#include "errbuf.h"
#include "fallback.h"
#include "schema.h"

/* ------------------------------------------------------------------ */
/* queries                                                             */
/* ------------------------------------------------------------------ */

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
enum {
	V_NAME, V_VERSION, V_PROD, V_TYPE, V_SIZE, V_ACC, V_RMSE, V_R2,
	V_CREATED, V_COUNT, V_WITH_ACTUAL, V_MAE, V_OBS_RMSE, V_AVG_PRED,
	V_AVG_CONF, V_FIRST, V_LAST
};

#define TS(col) "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS')"

/* Registry columns of the view; the prediction columns follow. */
#define REGISTRY_SELECT                                                 \
	"SELECT v.model_name, v.model_version::text,"                   \
	" v.is_production::text, v.model_type::text,"                   \
	" v.model_size_bytes::text, v.accuracy_score::text,"            \
	" v.rmse_score::text, v.r2_score::text, " TS("v.created_at") ","

/* All time: every figure straight from the view. */
static const char VERSIONS_SQL[] =
	REGISTRY_SELECT
	" v.prediction_count::text, v.predictions_with_actual::text,"
	" v.mean_absolute_error::text, v.rmse::text,"
	" v.avg_prediction::text, v.avg_confidence::text, "
	TS("v.first_prediction_at") ", " TS("v.last_prediction_at")
	" FROM model_version_performance v"
	" ORDER BY v.model_name, v.created_at DESC, v.model_version DESC";

/* --since DAYS: the same figures over the window, per version through
 * the (model_version, prediction_time) index. */
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
	" ORDER BY v.model_name, v.created_at DESC, v.model_version DESC";

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
enum { P_AT, P_NAME, P_ACTION, P_FROM, P_TO, P_TYPE, P_REASON, P_BY };

static const char PROMOS_SQL[] =
	"SELECT " TS("promoted_at") ", model_name, action, from_version::text,"
	" to_version::text, to_model_type::text, reason, promoted_by"
	" FROM model_promotion_history"
	" WHERE $1::int IS NULL OR promoted_at >= now()"
	"       - make_interval(days => $1::int)"
	" ORDER BY id DESC LIMIT 20";

/* ------------------------------------------------------------------ */
/* formatting helpers                                                  */
/* ------------------------------------------------------------------ */

static const char *val(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static json_t *cell_json(const PGresult *r, int row, int col, int kind)
{
	const char *v = val(r, row, col);
	if (v == NULL)
		return json_null();
	switch (kind) {
	case K_BOOL: return json_boolean(v[0] == 't');
	case K_INT: return json_integer(strtoll(v, NULL, 10));
	case K_FLT: {
		double d = strtod(v, NULL);
		return isfinite(d) ? json_real(d) : json_null();
	}
	default: return json_string(v);
	}
}

static json_t *rows_json(const PGresult *r, const column *cols, int ncols)
{
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(r); i++) {
		json_t *o = json_object();
		for (int j = 0; j < ncols; j++)
			json_object_set_new(o, cols[j].name,
			                    cell_json(r, i, j, cols[j].kind));
		json_array_append_new(arr, o);
	}
	return arr;
}

/* "-" for an unknown (NULL) size */
static void fmt_size(char *buf, size_t n, const char *v)
{
	long long b = v ? strtoll(v, NULL, 10) : -1;
	if (b < 0)
		snprintf(buf, n, "-");
	else
		cli_fmt_size(buf, n, b);
}

static void fmt_num(char *buf, size_t n, const char *v)
{
	if (v == NULL)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.4g", strtod(v, NULL));
}

/* "2024-03-01T10:00:00" -> "2024-03-01 10:00"; NULL -> "-" */
static void fmt_time(char *buf, size_t n, const char *v)
{
	if (v == NULL)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.10s %.5s", v, strlen(v) > 11 ? v + 11 : "");
}

/* Copy for a terminal: control characters (escape sequences in a model
 * type, say) become '?'. */
static void fmt_plain(char *buf, size_t n, const char *v)
{
	size_t i = 0;
	if (v == NULL)
		v = "-";
	for (; *v && i + 1 < n; v++)
		buf[i++] = ((unsigned char)*v < 0x20 || *v == 0x7f) ? '?' : *v;
	buf[i] = '\0';
}

/* The display strings of one version row, shared by text and HTML. */
#define NCELLS 13
typedef struct vrow {
	char cell[NCELLS][160];
} vrow;

static const char *const VHEAD[NCELLS] = {
	"VERSION", "PROD", "TYPE", "SIZE", "ACCURACY", "RMSE", "R2",
	"PREDICTIONS", "ACTUALS", "MAE", "OBS RMSE", "AVG PRED", "LAST PREDICTION"
};

static void version_cells(vrow *out, const PGresult *r, int i)
{
	fmt_plain(out->cell[0], sizeof out->cell[0], val(r, i, V_VERSION));
	snprintf(out->cell[1], sizeof out->cell[1], "%s",
	         val(r, i, V_PROD) && val(r, i, V_PROD)[0] == 't' ? "yes" : "");
	fmt_plain(out->cell[2], sizeof out->cell[2], val(r, i, V_TYPE));
	fmt_size(out->cell[3], sizeof out->cell[3], val(r, i, V_SIZE));
	fmt_num(out->cell[4], sizeof out->cell[4], val(r, i, V_ACC));
	fmt_num(out->cell[5], sizeof out->cell[5], val(r, i, V_RMSE));
	fmt_num(out->cell[6], sizeof out->cell[6], val(r, i, V_R2));
	fmt_plain(out->cell[7], sizeof out->cell[7], val(r, i, V_COUNT));
	fmt_plain(out->cell[8], sizeof out->cell[8], val(r, i, V_WITH_ACTUAL));
	fmt_num(out->cell[9], sizeof out->cell[9], val(r, i, V_MAE));
	fmt_num(out->cell[10], sizeof out->cell[10], val(r, i, V_OBS_RMSE));
	fmt_num(out->cell[11], sizeof out->cell[11], val(r, i, V_AVG_PRED));
	fmt_time(out->cell[12], sizeof out->cell[12], val(r, i, V_LAST));
}

/* Numeric columns are right-aligned. */
static int cell_numeric(int j)
{
	return j >= 3 && j <= 11;
}

/* ------------------------------------------------------------------ */
/* text                                                                */
/* ------------------------------------------------------------------ */

static void print_text(const PGresult *vr, const PGresult *pr, long since,
                       const char *target)
{
	int n = PQntuples(vr), i = 0;
	printf("modelstore report: %s, predictions %s", target,
	       since < 0 ? "all time" : "over the last ");
	if (since >= 0)
		printf("%ld day%s", since, since == 1 ? "" : "s");
	putchar('\n');
	if (n == 0)
		puts("\nno model versions stored");
	while (i < n) {
		/* one table per model name */
		const char *name = val(vr, i, V_NAME);
		int start = i, end, w[NCELLS];
		vrow *rows;
		while (i < n && strcmp(val(vr, i, V_NAME), name) == 0)
			i++;
		end = i;
		rows = calloc((size_t)(end - start), sizeof *rows);
		if (rows == NULL)
			return;
		for (int j = 0; j < NCELLS; j++)
			w[j] = (int)strlen(VHEAD[j]);
		for (int k = start; k < end; k++) {
			version_cells(&rows[k - start], vr, k);
			for (int j = 0; j < NCELLS; j++) {
				int l = (int)strlen(rows[k - start].cell[j]);
				if (l > w[j])
					w[j] = l;
			}
		}
		printf("\n%s\n", name);
		w[NCELLS - 1] = 0; /* last column: no trailing blanks */
		for (int j = 0; j < NCELLS; j++)
			printf(j ? "  %*s" : "%*s", cell_numeric(j) ? w[j] : -w[j],
			       VHEAD[j]);
		putchar('\n');
		for (int k = 0; k < end - start; k++) {
			for (int j = 0; j < NCELLS; j++)
				printf(j ? "  %*s" : "%*s",
				       cell_numeric(j) ? w[j] : -w[j], rows[k].cell[j]);
			putchar('\n');
		}
		free(rows);
	}
	if (PQntuples(pr) > 0) {
		printf("\nrecent promotions\n");
		for (int k = 0; k < PQntuples(pr); k++) {
			char at[32], nm[160], from[64], to[64], why[256];
			fmt_time(at, sizeof at, val(pr, k, P_AT));
			fmt_plain(nm, sizeof nm, val(pr, k, P_NAME));
			fmt_plain(from, sizeof from, val(pr, k, P_FROM));
			fmt_plain(to, sizeof to, val(pr, k, P_TO));
			fmt_plain(why, sizeof why, val(pr, k, P_REASON));
			printf("%s  %-8s %s: %s -> %s%s%s\n", at, val(pr, k, P_ACTION), nm,
			       from, to, val(pr, k, P_REASON) ? "  " : "",
			       val(pr, k, P_REASON) ? why : "");
		}
	}
}

/* ------------------------------------------------------------------ */
/* HTML                                                                */
/* ------------------------------------------------------------------ */

/* Every value goes through here: & < > " ' are escaped, control
 * characters other than tab and newline are dropped. */
static void html_esc(FILE *f, const char *s)
{
	if (s == NULL)
		s = "-";
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n')
				fputc(*s, f);
		}
	}
}

static const char CSS[] =
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;"
	"margin:2em auto;max-width:1400px;padding:0 1em;color:#1d2430;"
	"background:#fff}"
	"h1{font-size:1.5em;margin:0 0 .2em}"
	"h2{font-size:1.15em;margin:1.8em 0 .5em;border-bottom:1px solid #d8dde6;"
	"padding-bottom:.2em}"
	".meta{color:#5b6576;margin:0 0 1em}"
	"table{border-collapse:collapse;width:100%;font-variant-numeric:"
	"tabular-nums}"
	"th,td{padding:.35em .5em;border-bottom:1px solid #e6e9ef;text-align:left;"
	"white-space:nowrap}"
	"th{background:#f3f5f8;font-weight:600;font-size:.85em;text-transform:"
	"uppercase;letter-spacing:.03em;color:#3c4657}"
	"td.n,th.n{text-align:right}"
	"tr.prod td{background:#eef7ee}"
	".badge{display:inline-block;padding:0 .45em;border-radius:.6em;"
	"background:#2f8f46;color:#fff;font-size:.8em;font-weight:600}"
	".muted{color:#8a93a3}"
	"td.wrap{white-space:normal;overflow-wrap:break-word;max-width:16em}"
	".scroll{overflow-x:auto}"
	"footer{margin-top:2em;color:#8a93a3;font-size:.85em}";

static void html_td_class(FILE *f, const char *text, const char *cls)
{
	if (cls)
		fprintf(f, "<td class=\"%s\">", cls);
	else
		fputs("<td>", f);
	if (text == NULL || strcmp(text, "-") == 0)
		fputs("<span class=\"muted\">&ndash;</span>", f);
	else
		html_esc(f, text);
	fputs("</td>", f);
}

static void html_td(FILE *f, const char *text, int numeric)
{
	html_td_class(f, text, numeric ? "n" : NULL);
}

static void write_html(FILE *f, const PGresult *vr, const PGresult *pr,
                       long since, const char *target, const char *generated)
{
	int n = PQntuples(vr), i = 0;
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	      "<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, "
	      "initial-scale=1\">\n<title>modelstore report</title>\n<style>", f);
	fputs(CSS, f);
	fputs("</style>\n</head>\n<body>\n<h1>modelstore report</h1>\n"
	      "<p class=\"meta\">Database ", f);
	html_esc(f, target);
	fputs(" &middot; generated ", f);
	html_esc(f, generated);
	fputs(" UTC &middot; prediction figures ", f);
	if (since < 0)
		fputs("over all time", f);
	else
		fprintf(f, "over the last %ld day%s", since, since == 1 ? "" : "s");
	fputs("</p>\n", f);
	if (n == 0)
		fputs("<p>No model versions stored.</p>\n", f);
	while (i < n) {
		const char *name = val(vr, i, V_NAME);
		fputs("<h2>", f);
		html_esc(f, name);
		fputs("</h2>\n<div class=\"scroll\"><table>\n<thead><tr>", f);
		for (int j = 0; j < NCELLS; j++) {
			fputs(cell_numeric(j) ? "<th class=\"n\">" : "<th>", f);
			html_esc(f, VHEAD[j]);
			fputs("</th>", f);
		}
		fputs("</tr></thead>\n<tbody>\n", f);
		for (; i < n && strcmp(val(vr, i, V_NAME), name) == 0; i++) {
			vrow row;
			int prod = val(vr, i, V_PROD) && val(vr, i, V_PROD)[0] == 't';
			version_cells(&row, vr, i);
			/* HTML escapes itself: use the raw type, not the
			 * terminal-sanitised copy */
			fputs(prod ? "<tr class=\"prod\">" : "<tr>", f);
			for (int j = 0; j < NCELLS; j++) {
				if (j == 1) {
					fputs(prod ? "<td><span class=\"badge\">production"
					             "</span></td>" : "<td></td>", f);
					continue;
				}
				if (j == 2)
					html_td_class(f, val(vr, i, V_TYPE), "wrap");
				else
					html_td(f, row.cell[j], cell_numeric(j));
			}
			fputs("</tr>\n", f);
		}
		fputs("</tbody>\n</table></div>\n", f);
	}
	fputs("<h2>Recent promotions</h2>\n", f);
	if (PQntuples(pr) == 0) {
		fputs("<p class=\"muted\">None", f);
		if (since >= 0)
			fprintf(f, " in the last %ld day%s", since, since == 1 ? "" : "s");
		fputs(".</p>\n", f);
	} else {
		static const char *const ph[] = { "When", "Model", "Action", "From",
		                                  "To", "Type", "Reason", "By" };
		fputs("<table>\n<thead><tr>", f);
		for (int j = 0; j < NPCOLS; j++) {
			fputs("<th>", f);
			html_esc(f, ph[j]);
			fputs("</th>", f);
		}
		fputs("</tr></thead>\n<tbody>\n", f);
		for (int k = 0; k < PQntuples(pr); k++) {
			char at[32];
			fmt_time(at, sizeof at, val(pr, k, P_AT));
			fputs("<tr>", f);
			html_td(f, at, 0);
			for (int j = P_NAME; j < NPCOLS; j++) {
				if (j == P_REASON) {
					fputs("<td class=\"wrap\">", f);
					html_esc(f, val(pr, k, j) ? val(pr, k, j) : "");
					fputs("</td>", f);
				} else {
					html_td(f, val(pr, k, j), 0);
				}
			}
			fputs("</tr>\n", f);
		}
		fputs("</tbody>\n</table>\n", f);
	}
	fputs("<footer>MAE and OBS RMSE compare predictions with the actual "
	      "values recorded so far (ACTUALS of PREDICTIONS); ACCURACY, RMSE "
	      "and R2 are the figures stored at push time. Generated by "
	      "modelstore ", f);
	html_esc(f, ms_version());
	fputs(".</footer>\n</body>\n</html>\n", f);
}

/* Build the page in memory, then temp file + fsync + rename. */
static ms_status save_html(ms_err *e, const char *path, const PGresult *vr,
                           const PGresult *pr, long since, const char *target,
                           const char *generated)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	ms_atomic_file *af = NULL;
	ms_status st;

	if (mem == NULL)
		return ms__err_set(e, MS_ENOMEM, "out of memory");
	write_html(mem, vr, pr, since, target, generated);
	if (fclose(mem) != 0) {
		free(buf);
		return ms__err_set(e, MS_ENOMEM, "out of memory");
	}
	st = ms__atomic_open(&af, e, path, 1);
	if (st == MS_OK)
		st = ms__atomic_write(af, buf, len);
	if (st == MS_OK)
		st = ms__atomic_commit(af, e);
	else
		ms__atomic_abort(af);
	free(buf);
	return st;
}

/* ------------------------------------------------------------------ */
/* the command                                                         */
/* ------------------------------------------------------------------ */

static const char REPORT_HELP[] =
	"usage: modelstore report [--since DAYS] [--html FILE]\n"
	"\n"
	"Per model name and version: production flag, type, size, the metrics\n"
	"stored at push time, prediction volume, and once actual values have\n"
	"been recorded the observed MAE and RMSE; then the recent promotions.\n"
	"Reads the views of migration 002 (model_version_performance,\n"
	"model_promotion_history).  Covers every model name.\n"
	"\n"
	"  --since DAYS   prediction figures and promotions of the last DAYS\n"
	"                 days only (default: all time)\n"
	"  --html FILE    also write a self-contained HTML page to FILE\n"
	"                 (atomically: temp file, fsync, rename)\n"
	"\n"
	"Text on stdout; with the global --json one JSON document\n"
	"{\"generated_at\", \"database\", \"since_days\", \"versions\": [...],\n"
	"\"promotions\": [...]} keyed by the views' column names.\n"
	"Exit codes: 0 ok, 2 usage, 4 database unreachable, 1 anything else.\n";

int cmd_report(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "html", required_argument, NULL, 'H' },
		{ "since", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *html = NULL;
	long since = -1;
	char sincebuf[32], target[256], generated[32];
	const char *params[1] = { NULL };
	PGconn *conn = NULL;
	PGresult *vr = NULL, *pr = NULL;
	ms_err e;
	ms_status st;
	int opt, rc = 0;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'H':
			if (optarg[0] == '\0')
				return cli_usage(c, "invalid --html value: \"\"");
			html = optarg;
			break;
		case 's': {
			char *end;
			errno = 0;
			since = strtol(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' ||
			    errno != 0 || since > 36500)
				return cli_usage(c, "invalid --since value: \"%s\" "
				                 "(days, 0 to 36500)", optarg);
			break;
		}
		case 'h':
			fputs(REPORT_HELP, stdout);
			return 0;
		default:
			return cli_usage(c, "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage(c, "unexpected argument \"%s\"", argv[optind]);

	ms__err_clear(&e);
	st = ms__connect(&conn, &e, c->db, 0);
	if (st == MS_OK)
		st = ms__schema_check(conn, &e);
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s", e.msg);
		PQfinish(conn);
		return rc;
	}
	ms__conn_target(conn, target, sizeof target);
	if (since >= 0) {
		snprintf(sincebuf, sizeof sincebuf, "%ld", since);
		params[0] = sincebuf;
	}
	st = ms__exec(conn, &e, &vr, PGRES_TUPLES_OK, "report",
	              since >= 0 ? VERSIONS_SINCE_SQL : VERSIONS_SQL,
	              since >= 0 ? 1 : 0, params);
	if (st == MS_OK)
		st = ms__exec(conn, &e, &pr, PGRES_TUPLES_OK, "report", PROMOS_SQL,
		              1, params);
	if (st != MS_OK) {
		/* a usage-class status from the server is not the user's fault */
		rc = cli_fail(c, st == MS_EINVAL ? MS_ERROR : st, "%s", e.msg);
		goto out;
	}
	{
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(generated, sizeof generated, "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	if (html) {
		st = save_html(&e, html, vr, pr, since, target, generated);
		if (st != MS_OK) {
			rc = cli_fail(c, st == MS_EUNREACHABLE ? MS_ERROR :
			              st == MS_ENOMEM ? MS_ENOMEM : MS_EIO, "%s",
			              e.msg);
			goto out;
		}
	}
	if (c->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "generated_at", json_string(generated));
		json_object_set_new(doc, "database", json_string(target));
		json_object_set_new(doc, "since_days",
		                    since >= 0 ? json_integer(since) : json_null());
		json_object_set_new(doc, "versions",
		                    rows_json(vr, VERSION_COLS, NVCOLS));
		json_object_set_new(doc, "promotions",
		                    rows_json(pr, PROMO_COLS, NPCOLS));
		if (html)
			json_object_set_new(doc, "html_file", json_string(html));
		cli_print_json(doc);
	} else if (html) {
		printf("wrote %s (%d version%s, %d promotion%s)\n", html,
		       PQntuples(vr), PQntuples(vr) == 1 ? "" : "s", PQntuples(pr),
		       PQntuples(pr) == 1 ? "" : "s");
	} else {
		print_text(vr, pr, since, target);
	}
out:
	PQclear(vr);
	PQclear(pr);
	PQfinish(conn);
	return rc;
}
